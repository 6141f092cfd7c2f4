"""Save -> every one of N gunicorn sync workers serving the new code: hotmod vs gunicorn --reload.

For N = 1, 2, 4, 8 the same small WSGI app runs under ``gunicorn -w N --preload`` with
``hotmod.wsgi`` (the master watches, the workers apply each change before their next request)
and under ``gunicorn -w N --reload`` (each worker restarts when a file changes), in the same
run. After each save, concurrent clients hit the server until N distinct worker pids have
answered with the new value (with ``--reload`` those are the new workers); the time from the
save to the last of them is one sample. The table shows medians over the edits and the ratio.

    PYTHONPATH=src .venv/bin/python benchmarks/workers.py           # ~1-2 min on 2 cores
    PYTHONPATH=src .venv/bin/python benchmarks/workers.py --smoke   # N = 1, 2; one edit each

Exit status 1: a server did not start, or its workers never all served an edit.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
DEADLINE = 30.0  # seconds one edit may take to reach every worker

FILES = {
    "webapp/__init__.py": "",
    "webapp/text.py": 'VALUE = "v0"\n',
    "webapp/views.py": """\
        import os
        from webapp import text


        def app(environ, start_response):
            body = f"{text.VALUE} {os.getpid()}".encode()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]
        """,
    "dev_server.py": """\
        import hotmod
        app = hotmod.wsgi("webapp.views:app")
        """,
}


class Failed(Exception):
    """A server did not start or did not serve an edit in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def save(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: str = response.read().decode()
            return body
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None  # a worker restarting (--reload), or the server not up yet


def wait_all(url: str, value: str, workers: int, started: float) -> float:
    """Seconds from ``started`` until ``workers`` distinct pids answered ``value``."""
    answered: set[str] = set()
    lock = threading.Lock()
    done = threading.Event()
    finished: list[float] = []

    def client() -> None:
        while not done.is_set() and time.perf_counter() - started < DEADLINE:
            body = get(url)
            if body is None:
                time.sleep(0.005)
                continue
            got, _, pid = body.partition(" ")
            if got == value:
                with lock:
                    answered.add(pid)
                    if len(answered) >= workers and not done.is_set():
                        finished.append(time.perf_counter())
                        done.set()

    threads = [threading.Thread(target=client) for _ in range(2 * workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not finished:
        raise Failed(f"{len(answered)} of {workers} workers served {value!r} in {DEADLINE} s")
    return finished[0] - started


def measure(mode: str, workers: int, edits: int, root: Path) -> list[float]:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    if (
        "--control-socket"
        in subprocess.run(
            [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=True
        ).stdout
    ):
        args += ["--control-socket", str(root / "gunicorn.ctl")]
    args += (
        ["--preload", "dev_server:app"] if mode == "hotmod" else ["--reload", "webapp.views:app"]
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(SRC)])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    log = (root / "server.log").open("w")
    server = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_all(url, "v0", workers, time.perf_counter())
        samples = []
        for generation in range(1, edits + 1):
            time.sleep(0.3)  # let the previous edit settle (gunicorn --reload restarts)
            started = time.perf_counter()
            # the size grows with each edit: a restarted worker never trusts a stale .pyc
            # (same size, same second), which would keep gunicorn --reload on old code
            save(root / "webapp/text.py", f'VALUE = "v{generation}"\n#{"." * generation}\n')
            samples.append(wait_all(url, f"v{generation}", workers, started))
        return samples
    except Failed as exc:
        log_tail = (root / "server.log").read_text()[-2000:]
        raise Failed(f"{mode} -w {workers}: {exc}\n{log_tail}") from None
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="N = 1, 2 and one edit each")
    parser.add_argument("--edits", type=int, default=7, help="edits per cell (default 7)")
    options = parser.parse_args()
    sizes, edits = ((1, 2), 1) if options.smoke else ((1, 2, 4, 8), options.edits)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hotmod-bench-workers-") as tmp:
        for workers in sizes:
            medians = {}
            for mode in ("hotmod", "reload"):
                root = Path(tmp) / f"{mode}-{workers}"
                try:
                    samples = measure(mode, workers, edits, root)
                except Failed as exc:
                    print(f"FAILED: {exc}", file=sys.stderr)
                    return 1
                medians[mode] = statistics.median(samples) * 1000
            rows.append((workers, medians["hotmod"], medians["reload"]))
    print(f"save -> all N gunicorn sync workers serve the new code (median of {edits} edits)\n")
    print("| N | hotmod.wsgi, --preload (ms) | gunicorn --reload (ms) | ratio |")
    print("|--:|--:|--:|--:|")
    for workers, hot, reload in rows:
        print(f"| {workers} | {hot:.0f} | {reload:.0f} | {reload / hot:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
