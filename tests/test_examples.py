"""Every example in examples/ runs end to end, against a copy in a temporary folder.

The worker reads orders on stdin; the dev servers are started for real on 127.0.0.1 with an
ephemeral port; ``repl_session.md`` is replayed statement by statement in ``python -i`` and in an
IPython shell, edits included. Every wait is bounded by a deadline.

``LiveProcess`` (a subprocess whose output is read while it runs) is shared with test_cli.py.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from conftest import SRC

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEADLINE = 15.0  # seconds any single wait may take before the test fails


# -- helpers shared with other test modules ----------------------------------------------------


def subprocess_env(*paths: Path) -> dict[str, str]:
    """The environment of an example run: hotmod from src/, bytecode on, native events."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("HOTMOD_POLLING", None)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(SRC)])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def python(*args: str) -> list[str]:
    """The command ``python ARGS`` (a script or ``-m module``), with Ctrl-C working.

    A background job of a non-interactive shell starts with SIGINT ignored, and Python then
    leaves it ignored: the child restores Python's own handler before it runs the target.
    """
    if args[0] == "-m":
        argv, run = [args[1], *args[2:]], f"runpy.run_module({args[1]!r}, run_name='__main__')"
    else:
        argv, run = list(args), f"runpy.run_path({args[0]!r}, run_name='__main__')"
    code = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.argv = {argv!r}; {run}"
    )
    return [sys.executable, "-c", code]


def write_atomic(path: Path, text: str) -> None:
    """Save like most editors do: write a temporary file, rename it over the original."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    write_atomic(path, text.replace(old, new, 1))


class LiveProcess:
    """A subprocess whose stdout and stderr are collected while it runs."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self._cond = threading.Condition()
        self.text = {"stdout": "", "stderr": ""}
        self.pos = {"stdout": 0, "stderr": 0}
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: object) -> None:
        # The reader owns its pipe and closes it at the end of the output, never before: a
        # pipe closed while this read still waited (a grandchild holding it open) would free
        # its number for the next test's pipe, and this thread would read that process's
        # output (a "hotmod: reloaded" line lost from the next test's stderr, twice in CI).
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = stream.fileno()  # type: ignore[attr-defined]
        try:
            while True:
                chunk = os.read(fd, 65536)
                with self._cond:
                    self.text[name] += decoder.decode(chunk, final=not chunk)
                    self._cond.notify_all()
                if not chunk:
                    return
        finally:
            stream.close()  # type: ignore[attr-defined]

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def fail(self, message: str) -> None:
        pytest.fail(
            f"{message}\n--- stdout\n{self.text['stdout']}\n--- stderr\n{self.text['stderr']}"
        )

    def wait_for(
        self, predicate: Callable[[str], int | None], stream: str = "stdout", what: str = ""
    ) -> str:
        """Wait until ``predicate(unread text)`` returns an end offset; consume up to it."""
        end_time = time.monotonic() + DEADLINE
        with self._cond:
            while True:
                unread = self.text[stream][self.pos[stream] :]
                end = predicate(unread)
                if end is not None:
                    self.pos[stream] += end
                    return unread[:end]
                remaining = end_time - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._alive()):
                    self.fail(f"timed out waiting for {what or 'output'} on {stream}")
                self._cond.wait(min(remaining, 0.1))

    def _alive(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def expect(self, text: str, stream: str = "stdout") -> str:
        """Wait for ``text`` in the unread output; return what came before it."""

        def find(unread: str) -> int | None:
            index = unread.find(text)
            return None if index < 0 else index + len(text)

        return self.wait_for(find, stream, repr(text))[: -len(text)]

    def expect_match(self, pattern: str, stream: str = "stderr") -> str:
        """Wait for a line matching the fnmatch ``pattern``; return that line."""

        def find(unread: str) -> int | None:
            offset = 0
            for line in unread.splitlines(keepends=True):
                offset += len(line)
                if line.endswith("\n") and fnmatchcase(line.rstrip("\n"), pattern):
                    return offset
            return None

        return self.wait_for(find, stream, repr(pattern)).splitlines()[-1]

    def line(self) -> str:
        """The next complete line of stdout."""
        return self.expect("\n")

    def finish(self, timeout: float = DEADLINE) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail("the process did not exit")
        for reader in self._readers:
            reader.join(timeout)
        return code

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEADLINE)
        for reader in self._readers:
            reader.join(2)  # read to the end, unless a grandchild still holds the pipe
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # stdout and stderr: closed by their readers (_read)


@pytest.fixture
def live() -> Iterator[Callable[..., LiveProcess]]:
    """Start LiveProcesses; every one still running at the end of the test is killed."""
    started: list[LiveProcess] = []

    def start(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> LiveProcess:
        process = LiveProcess(args, cwd=cwd, env=env or subprocess_env())
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def test_a_killed_process_whose_grandchild_writes_on_takes_nothing_of_the_next_ones_output(
    tmp_path: Path,
) -> None:
    """The harness itself: every line a process writes reaches its own LiveProcess, even when
    the process before it was killed and left a child holding its pipes (a server's worker,
    a supervised target) that writes after the kill."""
    flag = tmp_path / "flag"
    grandchild = (
        "import pathlib, sys, time\n"
        f"while not pathlib.Path({str(flag)!r}).exists(): time.sleep(0.01)\n"
        "for i in range(50):\n"
        "    print('late', flush=True); print('late', file=sys.stderr, flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    parent = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); "
        "print('up', flush=True); time.sleep(60)"
    )
    first = LiveProcess([sys.executable, "-c", parent], cwd=tmp_path, env=subprocess_env())
    assert first.line() == "up"
    first.kill()  # the grandchild still holds the pipes: the readers wait on
    second = LiveProcess(
        [
            sys.executable,
            "-c",
            "import sys\nfor line in sys.stdin:\n    print(line, end='', "
            "flush=True); print(line, end='', file=sys.stderr, flush=True)\n",
        ],
        cwd=tmp_path,
        env=subprocess_env(),
    )
    flag.touch()  # the grandchild writes while the second process does
    for i in range(100):
        second.send(f"{i}\n")
        assert second.line() == str(i)
    second.close_stdin()
    assert second.finish() == 0
    assert second.text["stderr"].split() == [str(i) for i in range(100)]
    assert "late" not in second.text["stdout"] + second.text["stderr"]


def copy_example(tmp_path: Path, *names: str) -> Path:
    for name in names:
        source = EXAMPLES / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    return tmp_path


# -- the worker --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--no-loop"]], ids=["loop", "decorator"])
def test_worker_example_picks_up_edits_between_jobs(
    tmp_path: Path, live: Callable[..., LiveProcess], mode: list[str]
) -> None:
    root = copy_example(tmp_path, "worker.py", "bakery")
    worker = live([sys.executable, "worker.py", *mode], cwd=root)

    def ask(order: str = "3") -> str:
        worker.send(f"{order}\n")
        return worker.line()

    assert ask() == "3 loaves cost 6"
    edit(root / "bakery/prices.py", "PRICE_PER_LOAF = 2", "PRICE_PER_LOAF = 5")
    answers = [ask()]
    deadline = time.monotonic() + DEADLINE
    while answers[-1] != "3 loaves cost 15" and time.monotonic() < deadline:
        answers.append(ask())
    assert answers[-1] == "3 loaves cost 15", answers
    assert set(answers) <= {"3 loaves cost 6", "3 loaves cost 15"}

    # A broken edit: the worker keeps answering with the last good code; one error is logged.
    edit(root / "bakery/prices.py", "PRICE_PER_LOAF = 5", "PRICE_PER_LOAF = 5 +")
    deadline = time.monotonic() + DEADLINE
    while "reload failed" not in worker.text["stderr"] and time.monotonic() < deadline:
        assert ask() == "3 loaves cost 15"
    worker.expect_match("hotmod: reload failed * SyntaxError*")
    for _ in range(3):
        assert ask() == "3 loaves cost 15"
    assert worker.text["stderr"].count("reload failed") == 1

    # Fix it and change the handler itself: both are picked up by the next jobs.
    edit(root / "bakery/prices.py", "PRICE_PER_LOAF = 5 +", "PRICE_PER_LOAF = 7")
    edit(root / "bakery/orders.py", "loaves cost", "loaves now cost")
    deadline = time.monotonic() + DEADLINE
    answer = ask()
    while answer != "3 loaves now cost 21" and time.monotonic() < deadline:
        answer = ask()
    assert answer == "3 loaves now cost 21"
    assert ask("x") == "not a number of loaves: 'x'"
    worker.close_stdin()
    assert worker.finish() == 0
    assert "Traceback" not in worker.text["stderr"].split("reload failed")[0]


# -- the dev servers ---------------------------------------------------------------------------


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get_until(url: str, expected: str) -> list[str]:
    """GET ``url`` until the body is ``expected``; return every body seen (deadline)."""
    bodies: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            status, body = http_get(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)  # not accepting connections yet
            continue
        bodies.append(f"{status} {body}")
        if status == 200 and body == expected:
            return bodies
        time.sleep(0.02)
    pytest.fail(f"{url} never answered {expected!r}; saw {bodies[-5:]}")


@pytest.mark.parametrize(
    ("folder", "package", "hello"),
    [
        ("flask_app", "flask_demo", "Hello from Flask!"),
        ("starlette_app", "starlette_demo", "Hello from Starlette!"),
    ],
)
def test_dev_server_example_serves_edits_without_restart(
    tmp_path: Path, live: Callable[..., LiveProcess], folder: str, package: str, hello: str
) -> None:
    pytest.importorskip(folder.partition("_")[0], reason=f"{folder} needs the examples extra")
    if folder == "starlette_app":
        pytest.importorskip("uvicorn", reason="starlette_app needs uvicorn (examples extra)")
    root = copy_example(tmp_path, folder) / folder
    server = live(python("serve.py", "--port", "0"), cwd=root)
    port = re.search(r"serving http://127\.0\.0\.1:(\d+)", server.line())
    assert port is not None, server.text
    base = f"http://127.0.0.1:{port.group(1)}"
    pid = server.proc.pid

    get_until(f"{base}/", hello)
    status, body = http_get(f"{base}/add/2/3")
    assert (status, json.loads(body)) == (200, {"sum": 5})

    views = root / package / "views.py"
    edit(views, hello, "Edited while running")
    seen = get_until(f"{base}/", "Edited while running")
    assert set(seen) <= {f"200 {hello}", "200 Edited while running"}, seen

    # A broken edit keeps the last good app serving; the error is logged once.
    write_atomic(views, views.read_text().replace("Edited while running", "Broken (") + "(\n")
    deadline = time.monotonic() + DEADLINE
    while "reload failed" not in server.text["stderr"] and time.monotonic() < deadline:
        assert http_get(f"{base}/") == (200, "Edited while running")
        time.sleep(0.02)
    server.expect_match("hotmod: reload failed * SyntaxError*")
    for _ in range(3):
        assert http_get(f"{base}/") == (200, "Edited while running")
    assert server.text["stderr"].count("reload failed") == 1

    write_atomic(views, views.read_text().removesuffix("(\n").replace("Broken (", "Fixed"))
    get_until(f"{base}/", "Fixed")
    status, body = http_get(f"{base}/add/20/3")
    assert (status, json.loads(body)) == (200, {"sum": 23})
    assert server.proc.pid == pid
    assert server.proc.poll() is None
    assert server.interrupt() == 0


# -- repl_session.md ---------------------------------------------------------------------------

# The session document's conventions: `<!-- repl-test: session -->` / `<!-- ipython-test:
# session -->` start a fresh interpreter (and a fresh copy of bakery/); a ```diff block is an edit
# (`-old` / `+new` lines), applied at once, or, when the next ```pycon block calls input(), while
# that input() waits; in ```pycon blocks `>>> `/`... ` lines are typed (a compound statement is
# ended with an empty line) and the other lines are the expected output, `hotmod: ...` lines
# being log lines (stderr); in ```ipython blocks `In [n]: ` lines are cells. `...` inside an
# expected line matches anything.

SESSION_DOC = EXAMPLES / "repl_session.md"
FENCE = re.compile(
    r"(<!-- (repl|ipython)-test: session -->\n)?```(pycon|ipython|diff)\n(.*?)```", re.S
)


@dataclass
class Edit:
    file: str
    old: str
    new: str


@dataclass
class Block:
    kind: str  # pycon, ipython or diff
    body: str
    edit: Edit | None = None


@dataclass
class Session:
    kind: str  # repl or ipython
    blocks: list[Block] = field(default_factory=list)


def parse_sessions() -> list[Session]:
    sessions: list[Session] = []
    for match in FENCE.finditer(SESSION_DOC.read_text()):
        marker, session_kind, kind, body = match.groups()
        if marker:
            sessions.append(Session(session_kind))
        assert sessions, "a code block before the first session marker"
        block = Block(kind, body)
        if kind == "diff":
            file = re.search(r"^\+\+\+ b/(\S+)$", body, re.M)
            old = [
                line[1:] for line in body.splitlines() if line.startswith("-") and line[1:2] != "-"
            ]
            new = [
                line[1:] for line in body.splitlines() if line.startswith("+") and line[1:2] != "+"
            ]
            assert file is not None
            block.edit = Edit(file.group(1), "\n".join(old), "\n".join(new))
        sessions[-1].blocks.append(block)
    return sessions


def _glob(expected: str) -> str:
    """An fnmatch pattern for an expected line: ``...`` matches anything, the rest literally."""
    escape = str.maketrans({"[": "[[]", "*": "[*]", "?": "[?]"})
    return "*".join(part.translate(escape) for part in expected.split("..."))


def matches(expected: str, actual: str) -> bool:
    return fnmatchcase(actual.rstrip(), _glob(expected.rstrip()))


def statements(body: str) -> Iterator[tuple[str, list[str]]]:
    """``(source typed, expected output lines)`` for each statement of a pycon block; output
    lines before the first statement come with an empty source."""
    source: list[str] = []
    output: list[str] = []
    for line in body.splitlines():
        if line.startswith(">>> "):
            if source or output:
                yield "\n".join(source), output
            source, output = [line[4:]], []
        elif (line.startswith("... ") or line == "...") and source and not output:
            source.append(line[4:])
        else:
            output.append(line)
    if source or output:
        yield "\n".join(source), output


def _apply(root: Path, change: Edit) -> None:
    edit(root / change.file, change.old, change.new)


def replay_repl(session: Session, root: Path, live: Callable[..., LiveProcess]) -> None:
    repl = live([sys.executable, "-q", "-i"], cwd=root, env=subprocess_env())
    pending: Edit | None = None
    edited = False
    syncs = 0
    for block in session.blocks:
        if block.kind == "diff":
            assert block.edit is not None
            pending = block.edit
            continue
        wants_input = "input(" in block.body
        if pending is not None and not wants_input:
            _apply(root, pending)
            pending, edited = None, True
        for source, expected in statements(block.body):
            logs = [line for line in expected if line.startswith("hotmod: ")]
            stdout = [line for line in expected if not line.startswith("hotmod: ")]
            if not source:
                for line in logs:
                    repl.expect_match("*" + _glob(line))  # after the REPL's own prompts
                continue
            prompt = ""
            deadline = time.monotonic() + DEADLINE
            while True:
                # A compound statement ends with an empty line (`ruff format` drops the `...`
                # line that shows it in the document).
                compound = source.splitlines()[0].rstrip().endswith(":")
                repl.send(source.rstrip("\n") + ("\n\n" if compound else "\n"))
                if "input(" in source:
                    prompt = stdout.pop(0)
                    repl.expect(prompt.rstrip())
                    for line in logs[:-1]:
                        repl.expect_match("*" + _glob(line))
                    assert pending is not None
                    _apply(root, pending)
                    pending, edited = None, True
                    repl.expect_match("*" + _glob(logs[-1]))
                    logs = []
                    repl.send("\n")
                    for line in stdout:  # input() must have read its line before we type on
                        repl.expect(line + "\n")
                    stdout = []
                syncs += 1
                repl.send(f"print('@@sync {syncs}@@')\n")
                printed = repl.expect(f"@@sync {syncs}@@\n").lstrip(" ").splitlines()
                ok = len(printed) == len(stdout) and all(map(matches, stdout, printed))
                if ok or not edited or time.monotonic() > deadline:
                    break
                time.sleep(0.05)  # the background reload has not happened yet: ask again
            assert ok, (source, stdout, printed)
            for line in logs:
                repl.expect_match("*" + _glob(line))
    repl.close_stdin()
    assert repl.finish() == 0
    assert "Traceback" not in repl.text["stderr"], repl.text["stderr"]


IPYTHON_DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, os, sys
    sys.path.insert(0, os.getcwd())
    from traitlets.config import Config
    from IPython.core.interactiveshell import InteractiveShell
    config = Config()
    config.HistoryAccessor.enabled = False  # a retried cell reuses its number
    shell = InteractiveShell.instance(config=config, colors="nocolor")
    for request in sys.stdin:
        cell, count = json.loads(request)
        shell.execution_count = count  # a retried cell keeps its number
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            shell.run_cell(cell, store_history=True)
        print(json.dumps(out.getvalue()), flush=True)
    """
)


def replay_ipython(session: Session, root: Path, live: Callable[..., LiveProcess]) -> None:
    (root / "_driver.py").write_text(IPYTHON_DRIVER)
    env = subprocess_env()
    env["IPYTHONDIR"] = str(root / ".ipython")
    shell = live([sys.executable, "_driver.py"], cwd=root, env=env)
    edited = False
    for block in session.blocks:
        if block.kind == "diff":
            assert block.edit is not None
            _apply(root, block.edit)
            edited = True
            continue
        cells = re.split(r"^In \[(\d+)\]: ", block.body, flags=re.M)[1:]
        for number, text in zip(cells[::2], cells[1::2], strict=True):
            cell, *expected = text.strip("\n").split("\n")
            deadline = time.monotonic() + DEADLINE
            while True:
                shell.send(json.dumps([cell, int(number)]) + "\n")
                output = json.loads(shell.line()).splitlines()
                found = iter(output)  # every expected line, in order, among the output
                ok = all(any(matches(want, line) for line in found) for want in expected)
                if ok or not edited or time.monotonic() > deadline:
                    break
                time.sleep(0.05)  # the file event has not reached the watcher yet
            assert ok, (cell, expected, output)
            edited = False
    shell.close_stdin()
    assert shell.finish() == 0


def test_session_document_has_repl_and_ipython_sessions() -> None:
    kinds = [session.kind for session in parse_sessions()]
    assert kinds.count("repl") >= 2
    assert "ipython" in kinds


@pytest.mark.parametrize(
    "index", range(len(parse_sessions())), ids=[s.kind for s in parse_sessions()]
)
def test_repl_session_document(
    tmp_path: Path, live: Callable[..., LiveProcess], index: int
) -> None:
    session = parse_sessions()[index]
    root = copy_example(tmp_path, "bakery")
    if session.kind == "ipython":
        pytest.importorskip("IPython", reason="IPython is an optional dependency (examples extra)")
        replay_ipython(session, root, live)
    else:
        replay_repl(session, root, live)


def test_demo_shows_a_live_reload_through_a_dependent() -> None:
    """`make demo` runs examples/demo.py: it must show the eviction order, the re-import order,
    the time taken and the new value seen through a dependent, and exit 0."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "before the edit: cart.total([10.0]) = 12.0" in out
    assert "evicted:    shop.cart -> shop.pricing -> shop.config" in out
    assert "re-imported: shop.config -> shop.pricing -> shop.cart" in out
    assert re.search(r"took:\s+\d+\.\d+ ms", out)
    assert "after the edit:  cart.total([10.0]) = 12.5" in out
