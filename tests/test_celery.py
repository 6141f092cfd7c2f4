"""hotmod.celery: a real Celery worker (prefork pool, concurrency 2) runs each edit of a task
module, task after task, with no restart.

The broker is kombu's filesystem transport and the results go to a ``file://`` backend, both in
the test's temporary folder: no network service. The test sends tasks like any client; each
task answers with its module's value and the pid of the pool process that ran it.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from test_examples import DEADLINE, LiveProcess, live, subprocess_env, write_atomic

__all__ = ["live"]  # the fixture, imported for pytest

CONFIG = """\
    def configure(app, root):
        app.conf.update(
            broker_url="filesystem://",
            broker_transport_options={
                "data_folder_in": f"{root}/queue",
                "data_folder_out": f"{root}/queue",
                "processed_folder": f"{root}/processed",
                "store_processed": False,
                "control_folder": f"{root}/control",  # not the current folder
            },
            result_backend=f"file://{root}/results",
            worker_enable_remote_control=False,
            worker_hijack_root_logger=False,
            broker_connection_retry_on_startup=True,
        )
    """

TASKS = """\
    import os
    import time

    from proj.celery_app import app


    @app.task
    def answer(delay=0.0):
        time.sleep(delay)
        return ["{value}", os.getpid()]
    """

PROJECT = {
    "proj/__init__.py": "",
    "proj/config.py": CONFIG,
    "proj/celery_app.py": """\
        import logging
        import os

        from celery import Celery

        import hotmod.celery
        from proj.config import configure

        logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s: %(message)s")
        app = Celery("proj", include=["proj.tasks"])
        configure(app, os.environ["CELERY_TEST_ROOT"])
        hotmod.celery.install(app)
        """,
    "proj/tasks.py": TASKS.format(value="v0"),
}


def write_project(root: Path) -> None:
    for rel, text in PROJECT.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in ("queue", "processed", "results"):
        (root / folder).mkdir()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Celery]:
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(CONFIG), namespace)
    app = Celery("client", set_as_current=False)
    namespace["configure"](app, str(tmp_path))  # type: ignore[operator]
    yield app
    app.close()


def answers(client: Celery, count: int) -> list[tuple[str, int]]:
    """Send ``count`` tasks at once (each takes a moment, so both pool processes get some)."""
    sent = [client.send_task("proj.tasks.answer", args=(0.2,)) for _ in range(count)]
    return [tuple(result.get(timeout=DEADLINE, interval=0.05)) for result in sent]


def hotmod_lines(worker: LiveProcess) -> str:
    lines = [line for line in worker.text["stderr"].splitlines() if "hotmod" in line]
    return "hotmod's lines:\n" + "\n".join(lines)


def wait_for(
    client: Celery, worker: LiveProcess, expected: str, pids: set[int] | None = None
) -> set[int]:
    """Send tasks until two pool processes (``pids`` if given) answered ``expected``."""
    answered: set[int] = set()
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + DEADLINE
    while len(answered) < 2 or (pids is not None and answered != pids):
        if time.monotonic() > deadline:
            pytest.fail(
                f"no two pool processes answered {expected!r}: {seen[-8:]}\n"
                f"{worker.text['stderr'][-3000:]}\n{hotmod_lines(worker)}"
            )
        try:
            got = answers(client, 4)
        except Exception as exc:
            pytest.fail(f"a task failed: {exc!r}\n{hotmod_lines(worker)}")
        for value, pid in got:
            seen.append((value, pid))
            if value == expected:
                answered.add(pid)
    return answered


def test_prefork_worker_runs_each_edit_of_a_task_module(
    tmp_path: Path, live: Callable[..., LiveProcess], client: Celery
) -> None:
    write_project(tmp_path)
    env = {**subprocess_env(tmp_path), "CELERY_TEST_ROOT": str(tmp_path)}
    args = [sys.executable, "-m", "celery", "-A", "proj.celery_app", "worker"]
    args += ["--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO"]
    args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    worker = live(args, cwd=tmp_path, env=env)
    tasks = tmp_path / "proj/tasks.py"

    pids = wait_for(client, worker, "v0")
    assert os.getpid() not in pids
    write_atomic(tasks, textwrap.dedent(TASKS.format(value="v1")))
    assert wait_for(client, worker, "v1", pids) == pids  # the same processes: no restart

    # a broken edit: the old task keeps answering, in every pool process, until the fix
    write_atomic(tasks, textwrap.dedent(TASKS.format(value="v2")) + "def broken(:\n")
    deadline = time.monotonic() + DEADLINE
    while worker.text["stderr"].count("SyntaxError") < 2:  # each pool process rolled back
        assert time.monotonic() < deadline, worker.text["stderr"][-3000:]
        assert {value for value, _ in answers(client, 4)} == {"v1"}
    assert wait_for(client, worker, "v1", pids) == pids
    write_atomic(tasks, textwrap.dedent(TASKS.format(value="v3")))
    assert wait_for(client, worker, "v3", pids) == pids


def test_install_names_a_bad_argument() -> None:
    import hotmod.celery

    with pytest.raises(TypeError, match=r"takes a celery\.Celery application, not str"):
        hotmod.celery.install("proj")
    with pytest.raises(TypeError, match="packages are package names"):
        hotmod.celery.install(Celery("bad", set_as_current=False), "")
