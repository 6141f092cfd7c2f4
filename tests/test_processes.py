"""Many processes: forked children (pre-fork servers, fork pools) keep reloading.

The process that started watching observes the files; processes forked from it get the paths
its watcher reports through a pipe and apply them at their own safe points. Spawned children
import the package afresh and watch for themselves. Real servers (gunicorn sync workers with and
without ``--preload``, uvicorn ``--workers 2``) run on 127.0.0.1; every wait has a deadline.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Project
from test_examples import DEADLINE, LiveProcess, live, subprocess_env, write_atomic

__all__ = ["live"]  # the fixture, imported for pytest

APP = {
    "webapp/__init__.py": "",
    "webapp/text.py": 'VALUE = "v0"\n',
    "webapp/views.py": """\
        import os
        from webapp import text


        def app(environ, start_response):
            body = f"{text.VALUE} {os.getpid()}".encode()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]


        async def asgi_app(scope, receive, send):
            body = f"{text.VALUE} {os.getpid()}".encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": body})
        """,
    "dev_server.py": """\
        import logging
        import hotmod
        logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s: %(message)s")
        app = hotmod.wsgi("webapp.views:app")
        api = hotmod.asgi("webapp.views:asgi_app")
        """,
}


def write_app(root: Path) -> None:
    for rel, text in APP.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def get(url: str) -> tuple[int, str, str]:
    """(status, body, X-Hotmod-Version header)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode(), response.headers["X-Hotmod-Version"]


def serve_and_edit(base: str, root: Path, workers: set[int], server: LiveProcess) -> None:
    """50 reloads: after each save, every worker answers with the new value; no request fails.

    The version header grows with each applied reload, in every worker."""
    failures: list[str] = []
    versions: dict[int, int] = {}
    for generation in range(1, 51):
        write_atomic(root / "webapp/text.py", f'VALUE = "v{generation}"\n')
        answered: set[int] = set()
        deadline = time.monotonic() + DEADLINE
        while answered != workers:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"reload {generation}: workers {sorted(workers - answered)} never served "
                    f"the new code; failures {failures[-3:]}\n{server.text['stderr'][-3000:]}"
                )
            try:
                status, body, version = get(base)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                failures.append(repr(exc))
                continue
            if status != 200:
                failures.append(f"{status} {body}")
                continue
            value, pid = body.split()
            assert int(pid) in workers, (body, workers)
            assert int(version) >= versions.get(int(pid), 0), (body, version, versions)
            versions[int(pid)] = int(version)
            if value == f"v{generation}":
                answered.add(int(pid))
    assert failures == []
    # Each worker applied at least one reload per generation it served (some saves coalesce).
    assert all(version >= 25 for version in versions.values()), versions
    assert "Traceback" not in server.text["stderr"]


def shut_down(server: LiveProcess) -> None:
    """SIGTERM, as a developer's Ctrl-C or a process manager would: workers exit too."""
    server.proc.send_signal(signal.SIGTERM)
    assert server.finish() == 0, server.text["stderr"][-2000:]


def wait_for_pids(server: LiveProcess, pattern: str, count: int) -> set[int]:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        pids = {int(pid) for pid in re.findall(pattern, server.text["stderr"])}
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    pytest.fail(f"{count} workers never started:\n{server.text['stderr']}")


def gunicorn_args(tmp_path: Path) -> list[str]:
    args = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:0"]
    usage = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "--control-socket" in usage:  # gunicorn 25+: one per test, not one in ~/.gunicorn
        args += ["--control-socket", str(tmp_path / "gunicorn.ctl")]
    return args


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no-preload"])
def test_gunicorn_sync_workers_all_serve_each_edit(
    tmp_path: Path, live: Callable[..., LiveProcess], preload: bool
) -> None:
    write_app(tmp_path)
    args = gunicorn_args(tmp_path) + (["--preload"] if preload else []) + ["dev_server:app"]
    server = live(args, cwd=tmp_path, env=subprocess_env(tmp_path))
    server.expect_match("*Listening at: http://127.0.0.1:*")
    port = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", server.text["stderr"])
    assert port is not None
    workers = wait_for_pids(server, r"Booting worker with pid: (\d+)", 2)
    serve_and_edit(f"http://127.0.0.1:{port.group(1)}/", tmp_path, workers, server)
    watching = server.text["stderr"].count("hotmod: watching webapp")
    # --preload: one watcher, in the master, for the whole tree; otherwise one per worker.
    assert watching == (1 if preload else 2), server.text["stderr"]
    shut_down(server)


def test_uvicorn_workers_all_serve_each_edit(
    tmp_path: Path, live: Callable[..., LiveProcess]
) -> None:
    write_app(tmp_path)
    args = [sys.executable, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1"]
    server = live([*args, "--port", "0", "dev_server:api"], cwd=tmp_path, env=subprocess_env())
    server.expect_match("*Uvicorn running on http://127.0.0.1:*")
    port = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", server.text["stderr"])
    assert port is not None
    workers = wait_for_pids(server, r"Started server process \[(\d+)\]", 2)
    serve_and_edit(f"http://127.0.0.1:{port.group(1)}/", tmp_path, workers, server)
    shut_down(server)


POOL_TASKS = {
    "jobs/__init__.py": "",
    "jobs/rates.py": "RATE = 1\n",
    "jobs/tasks.py": """\
        import os
        import hotmod
        from jobs import rates


        @hotmod.reloading("jobs")
        def work(_):
            return rates.RATE, os.getpid()
        """,
}


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool_workers_run_edits_between_tasks(
    project: Project, method: str
) -> None:
    project.write(POOL_TASKS, record=False)
    # (spawn and forkserver children import the script again: its work is under the guard)
    found = project.result(
        f"""
        import multiprocessing
        from jobs.tasks import work

        def main():
            assert work(0)[0] == 1  # the parent watches (forked children get its changes)
            with multiprocessing.get_context({method!r}).Pool(2) as pool:
                pids = set()
                deadline = time.monotonic() + 15
                while len(pids) < 2 and time.monotonic() < deadline:
                    pids |= {{pid for _, pid in pool.map(work, range(8), chunksize=1)}}
                assert len(pids) == 2, pids
                Path("jobs/rates.py").write_text("RATE = 2\\n")
                new = set()
                while new != pids and time.monotonic() < deadline + 15:
                    batch = pool.map(work, range(8), chunksize=1)
                    new |= {{pid for rate, pid in batch if rate == 2}}
                    time.sleep(0.02)
                emit(pids=len(pids), new=len(new), parent=work(0)[0])

        if __name__ == "__main__":
            main()
        """,
        timeout=90,
    )
    assert found == {"pids": 2, "new": 2, "parent": 2}


def test_forked_child_applies_at_its_safe_points_without_threads(project: Project) -> None:
    """background=False in a fork child: no thread is started; check() reads the parent's
    paths. background=True: the child reloads by itself."""
    project.write({"pkg/__init__.py": "", "pkg/mod.py": "VALUE = 1\n"}, record=False)
    found = project.results(
        """
        import threading
        import pkg.mod

        quiet = hotmod.Reloader("pkg", background=False).start()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            threads = threading.active_count()
            os.write(w, b"ready")
            deadline = time.monotonic() + 15
            while sys.modules["pkg.mod"].VALUE != 2 and time.monotonic() < deadline:
                quiet.check()
                time.sleep(0.01)
            os.write(w, f" {threads} {sys.modules['pkg.mod'].VALUE}".encode())
            os._exit(0)
        os.close(w)
        assert os.read(r, 5) == b"ready"
        Path("pkg/mod.py").write_text("VALUE = 2\\n")
        os.waitpid(pid, 0)
        threads, value = os.read(r, 100).split()
        emit(child_threads=int(threads), child_value=int(value), parent=pkg.mod.VALUE)
        quiet.stop()
        """
    )
    # the parent (background=False) applies nothing until its own check()
    assert found == [{"child_threads": 1, "child_value": 2, "parent": 1}]


def test_forked_child_watches_itself_once_the_parent_stops(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/mod.py": "VALUE = 1\n"}, record=False)
    found = project.result(
        """
        import pkg.mod

        reloader = hotmod.Reloader("pkg").start()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, b"ready")
            deadline = time.monotonic() + 15
            while sys.modules["pkg.mod"].VALUE != 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.write(w, str(sys.modules["pkg.mod"].VALUE).encode())
            reloader.stop()
            os._exit(0)
        os.close(w)
        assert os.read(r, 5) == b"ready"
        reloader.stop()  # the child is told, and watches the files itself
        Path("pkg/mod.py").write_text("VALUE = 2\\n")
        os.waitpid(pid, 0)
        emit(child=int(os.read(r, 10)))
        """
    )
    assert found == {"child": 2}


def test_version_header_counts_applied_reloads_only(project: Project) -> None:
    project.write(APP, record=False)
    found = project.result(
        """
        import asyncio
        from dev_server import app, api

        def wsgi_version():
            seen = {}
            def start_response(status, headers, exc_info=None):
                seen.update(headers)
            body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response))
            return seen["X-Hotmod-Version"], body.decode().split()[0]

        def asgi_version():
            sent = []
            async def receive():
                return {"type": "http.request"}
            async def send(message):
                sent.append(message)
            asyncio.run(api({"type": "http", "path": "/", "headers": []}, receive, send))
            return dict(sent[0]["headers"])[b"x-hotmod-version"].decode()

        first = wsgi_version()
        app.reloader.reload("webapp.text")
        second = wsgi_version()
        Path("webapp/text.py").write_text("VALUE = (\\n")  # broken: rolled back
        app.reloader.reload("webapp.text")
        third = wsgi_version()
        emit(versions=[first, second, third], asgi=asgi_version())
        """
    )
    assert found == {"versions": [["0", "v0"], ["1", "v0"], ["1", "v0"]], "asgi": "1"}
