"""Shared fixtures.

Anything that touches the module dict runs in a fresh interpreter: ``project.run(code)`` executes
``code`` in a subprocess whose working folder is a temporary project (``project.write`` puts a
package there) with hotmod importable, bytecode writing on (the machine sets
PYTHONDONTWRITEBYTECODE, which would hide bytecode-cache bugs) and logging of "hotmod" shown.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# hotmod's import cache (parsed imports kept across processes) goes to a folder of this test
# run, never to the user's cache folder; subprocesses inherit it. Tests of the cache itself set
# their own. The folder is removed when the test run ends.
os.environ["HOTMOD_CACHE_DIR"] = _CACHE_DIR = tempfile.mkdtemp(prefix="hotmod-test-cache-")
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)

# Put at the top of a test module's source: every execution appends the module's name to
# builtins.EXECUTED, so a test can assert exactly which modules re-executed, in which order.
RECORD = "import builtins; builtins.__dict__.setdefault('EXECUTED', []).append(__name__)\n"

PRELUDE = """\
import builtins, json, logging, os, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
import hotmod

def executed():
    return list(builtins.__dict__.get("EXECUTED", []))

def reset():
    builtins.__dict__["EXECUTED"] = []

def edit(path, old, new):
    p = Path(path)
    text = p.read_text()
    assert old in text, (old, text)
    p.write_text(text.replace(old, new, 1))
    _SAVED[:] = [os.path.realpath(p)]

def emit(**values):
    print("RESULT " + json.dumps(values), flush=True)

# save an edit the way most editors do: write a temporary file, rename it over the original
def save(path, old, new):
    p = Path(path)
    text = p.read_text()
    assert old in text, (old, text)
    tmp = p.with_name("." + p.name + ".tmp")
    tmp.write_text(text.replace(old, new, 1))
    os.replace(tmp, p)
    _SAVED[:] = [os.path.realpath(p)]

_SAVED = []  # the file the last save() or edit() wrote

def wait_seen(reloader, timeout=10):
    # The watcher has reported the file last written by save()/edit() to ``reloader`` (which
    # applies nothing by itself: background=False), and its write as finished, so the next
    # check() applies it. Not merely "something is pending": a late second event of an
    # earlier, applied save would satisfy that before this one arrived.
    assert _SAVED, "nothing was saved"
    deadline = time.monotonic() + timeout
    while True:
        reloader._pending  # in a forked child, takes what the parent sent
        scheduler = reloader._scheduler
        with scheduler.lock:  # seen, and known written (check() leaves a file being written)
            pending = {os.path.realpath(path) for path in scheduler._pending}
            writing = {os.path.realpath(path) for path in scheduler._incomplete}
        if _SAVED[0] in pending and _SAVED[0] not in writing:
            return
        assert time.monotonic() < deadline, f"the watcher never saw the edit of {_SAVED[0]}"
        time.sleep(0.002)

# collects log records: attach an instance to the "hotmod" logger
class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []
    def emit(self, record):
        self.records.append(record)
"""


@dataclass
class Project:
    """A temporary project folder and a way to run code against it in a fresh interpreter."""

    root: Path

    def write(self, files: dict[str, str], *, record: bool = True) -> None:
        """Write ``{"pkg/a.py": source}``; ``record`` prefixes each ``.py`` with ``RECORD``."""
        for rel, source in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            body = textwrap.dedent(source)
            if record and rel.endswith(".py"):
                body = RECORD + body
            path.write_text(body)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("HOTMOD_POLLING", None)
        env["PYTHONPATH"] = os.pathsep.join([str(self.root), str(SRC)])
        return env

    def run(
        self, code: str, *, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``PRELUDE + code`` in a fresh interpreter; fail the test if it exits non-zero."""
        script = self.root / "_test_script.py"
        script.write_text(PRELUDE + textwrap.dedent(code))
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"subprocess exited {proc.returncode}\n--- stdout\n{proc.stdout}"
                f"\n--- stderr\n{proc.stderr}"
            )
        return proc

    def results(self, code: str, **kwargs: float) -> list[dict[str, object]]:
        """Run ``code`` and return every ``emit(...)`` it printed, in order."""
        proc = self.run(code, **kwargs)  # type: ignore[arg-type]
        return [
            json.loads(line[len("RESULT ") :])
            for line in proc.stdout.splitlines()
            if line.startswith("RESULT ")
        ]

    def result(self, code: str, **kwargs: float) -> dict[str, object]:
        """Run ``code``, which must ``emit(...)`` exactly once, and return what it emitted."""
        found = self.results(code, **kwargs)
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture(autouse=True)
def _restore_interpreter_state() -> Iterator[None]:
    """In-process tests must leave sys.path, sys.modules and logging as they found them."""
    path = list(sys.path)
    modules = dict(sys.modules)
    logger = logging.getLogger("hotmod")
    level, handlers, propagate = logger.level, list(logger.handlers), logger.propagate
    yield
    sys.path[:] = path
    for name in [n for n in sys.modules if n not in modules]:
        del sys.modules[name]
    sys.modules.update(modules)
    logger.setLevel(level)
    logger.handlers[:] = handlers
    logger.propagate = propagate
