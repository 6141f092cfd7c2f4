"""``hotmod run`` restarts its target when a change cannot be applied in process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import test_examples
from conftest import SRC, Project
from hotmod._supervisor import (
    DECLARED_REASON,
    EXTENSION_REASON,
    MAIN_REASON,
    OUTSIDE_REASON,
    PTH_REASON,
    restart_reasons,
)
from test_examples import DEADLINE, LiveProcess, edit, python, write_atomic

live = test_examples.live  # the fixture

# main() prints "ready <pid> <ppid>" once, then one line per line of input: what it sees now.
APP = {
    "app/__init__.py": "",
    "app/text.py": "TEXT = 'one'\n",
    "app/settings.py": "__hotmod_restart__ = True\nNAME = 'first'\n",
    "app/main.py": """\
        import os
        import sys

        import util
        from app import settings, text

        def main():
            print("ready", os.getpid(), os.getppid(), flush=True)
            for line in sys.stdin:
                if line.startswith("exit"):
                    raise SystemExit(int(line.split()[1]))
                extra = __import__(line.split()[1]).VALUE if len(line.split()) > 1 else ""
                print(text.TEXT, util.VALUE, settings.NAME, extra, os.getpid(), flush=True)
        """,
    "util.py": "VALUE = 1\n",
}


def start(
    project: Project,
    live: Callable[..., LiveProcess],
    *options: str,
    env: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> tuple[LiveProcess, int]:
    """Start ``hotmod run -v OPTIONS app.main:main``; return it and the target's first pid."""
    project.write({**APP, **(files or {})}, record=False)
    process = live(
        python("-m", "hotmod", "run", "-v", *options, "app.main:main"),
        cwd=project.root,
        env=env or project.env(),
    )
    return process, ready(process)


def ready(process: LiveProcess) -> int:
    """Wait for the target's ``ready`` line; return its pid."""
    line = process.expect_match("ready *", "stdout")
    return int(line.split()[1])


def ask(process: LiveProcess, extra: str = "") -> list[str]:
    process.send(f"x {extra}\n" if extra else "x\n")
    return process.line().split()


def ask_until(process: LiveProcess, expected: list[str]) -> None:
    """Ask until the answer is ``expected`` (an in-place reload is logged, then names are
    re-bound)."""
    seen: list[list[str]] = []
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        seen.append(ask(process))
        if seen[-1] == expected:
            return
        time.sleep(0.01)
    pytest.fail(f"never saw {expected}: {seen[-3:]}")


def known(process: LiveProcess, name: str) -> None:
    """Wait until the supervisor knows that a change to ``name`` restarts."""
    process.expect_match(f"hotmod: a change to any of these files restarts the program: *{name}*")


def restarted(process: LiveProcess, path: str, reason: str) -> int:
    """Wait for the one restart line; return the new target's pid."""
    line = process.expect_match("hotmod: restarting *")
    assert line == (
        f"hotmod: restarting app.main:main: {path} changed ({reason}); the program's state is lost"
    )
    return ready(process)


# -- the triggers ------------------------------------------------------------------------------


def test_a_project_file_outside_the_watched_packages_restarts(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    process, pid = start(project, live)
    assert ask(process) == ["one", "1", "first", str(pid)]
    known(process, "util.py")
    edit(project.root / "util.py", "VALUE = 1", "VALUE = 2")
    new_pid = restarted(process, "util.py", OUTSIDE_REASON)
    assert new_pid != pid
    assert ask(process) == ["one", "2", "first", str(new_pid)]
    # A watched module is still reloaded in place, by the new process.
    edit(project.root / "app/text.py", "'one'", "'two'")
    process.expect_match("hotmod: reloaded app.text*")
    ask_until(process, ["two", "2", "first", str(new_pid)])
    assert process.interrupt() == 130
    assert process.text["stderr"].count("hotmod: restarting") == 1


def test_a_file_matching_restart_on_restarts(
    project: Project, live: Callable[..., LiveProcess], tmp_path_factory: pytest.TempPathFactory
) -> None:
    site = tmp_path_factory.mktemp("elsewhere") / "site-packages"
    (site / "extlib").mkdir(parents=True)
    (site / "extlib/__init__.py").write_text("VALUE = 'ext-one'\n")
    env = project.env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(site)])
    process, pid = start(project, live, "--restart-on", "*/site-packages/extlib/*", env=env)
    assert ask(process, "extlib") == ["one", "1", "first", "ext-one", str(pid)]
    known(process, "extlib/__init__.py")
    edit(site / "extlib/__init__.py", "ext-one", "ext-two")
    path = str((site / "extlib/__init__.py").resolve())
    new_pid = restarted(process, path, "it matches --restart-on */site-packages/extlib/*")
    assert ask(process, "extlib") == ["one", "1", "first", "ext-two", str(new_pid)]


def _build_extension(folder: Path, value: int) -> Path:
    """Build the C extension ``fastmath`` whose ``VALUE`` is ``value``; replace it atomically
    (the running process has the old one mapped)."""
    source = folder / "fastmath.c"
    source.write_text(
        textwrap.dedent(
            f"""\
            #include <Python.h>
            static struct PyModuleDef def = {{PyModuleDef_HEAD_INIT, "fastmath", NULL, -1, NULL}};
            PyMODINIT_FUNC PyInit_fastmath(void) {{
                PyObject *m = PyModule_Create(&def);
                if (m != NULL) PyModule_AddIntConstant(m, "VALUE", {value});
                return m;
            }}
            """
        )
    )
    target = folder / f"fastmath{sysconfig.get_config_var('EXT_SUFFIX')}"
    tmp = folder / ".fastmath.so.tmp"
    include = f"-I{sysconfig.get_paths()['include']}"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", include, str(source), "-o", str(tmp)],
        check=True,
        timeout=60,
    )
    os.replace(tmp, target)
    return target


def test_a_changed_c_extension_restarts(project: Project, live: Callable[..., LiveProcess]) -> None:
    built = _build_extension(project.root, 1)
    process, pid = start(project, live)
    assert ask(process, "fastmath") == ["one", "1", "first", "1", str(pid)]
    known(process, built.name)
    _build_extension(project.root, 2)
    new_pid = restarted(process, built.name, EXTENSION_REASON)
    assert ask(process, "fastmath") == ["one", "1", "first", "2", str(new_pid)]


def test_a_changed_pth_file_restarts(project: Project, live: Callable[..., LiveProcess]) -> None:
    files = {
        "sitedir/extra.pth": "../lib_a\n",
        "lib_a/where.py": "VALUE = 'a'\n",
        "lib_b/where.py": "VALUE = 'b'\n",
        # Like a sitecustomize: a site folder whose .pth files are read at start-up.
        "util.py": "import os, site\nsite.addsitedir(os.path.abspath('sitedir'))\nVALUE = 1\n",
    }
    process, pid = start(project, live, files=files)
    assert ask(process, "where") == ["one", "1", "first", "a", str(pid)]
    known(process, "extra.pth")
    write_atomic(project.root / "sitedir/extra.pth", "../lib_b\n")
    new_pid = restarted(process, "sitedir/extra.pth", PTH_REASON)
    assert ask(process, "where") == ["one", "1", "first", "b", str(new_pid)]


def test_a_change_saved_as_soon_as_the_program_runs_restarts(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    # The supervisor takes each file's signature from the child's first report, made before
    # the target runs: a change saved right after the target started is a change. (It took
    # the signature when it read the report, up to a tenth of a second later: an edit in
    # between was never seen, and the program kept the old file until a restart by hand.)
    process, pid = start(project, live)
    edit(project.root / "util.py", "VALUE = 1", "VALUE = 2")  # no wait for the supervisor
    new_pid = restarted(process, "util.py", OUTSIDE_REASON)
    assert new_pid != pid
    assert ask(process) == ["one", "2", "first", str(new_pid)]


def test_a_module_declaring_hotmod_restart_restarts_and_is_never_reloaded_in_place(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    process, pid = start(project, live)
    known(process, "app/settings.py")
    edit(project.root / "app/settings.py", "'first'", "'second'")
    new_pid = restarted(process, "app/settings.py", DECLARED_REASON)
    assert new_pid != pid
    assert ask(process) == ["one", "1", "second", str(new_pid)]
    # The old process never ran the new module: its reloader left it out, and said so.
    stderr = process.text["stderr"]
    assert "hotmod: reloaded app.settings" not in stderr
    assert "app.settings declares __hotmod_restart__ = True: its change is not applied" in stderr


# -- what does not restart ---------------------------------------------------------------------


def test_a_broken_edit_keeps_the_old_code_running_until_the_fix(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    process, pid = start(project, live)
    known(process, "util.py")
    edit(project.root / "util.py", "VALUE = 1", "VALUE = (")
    line = process.expect_match("hotmod: not restarting: *")
    assert line == (
        "hotmod: not restarting: util.py has a SyntaxError at line 1: '(' was never closed; the "
        "running program keeps its code until the file is fixed"
    )
    edit(project.root / "app/text.py", "TEXT = 'one'", "TEXT = ")  # a watched module
    process.expect_match("hotmod: reload failed*")
    assert ask(process) == ["one", "1", "first", str(pid)]
    edit(project.root / "app/text.py", "TEXT = ", "TEXT = 'two'")
    process.expect_match("hotmod: reloaded app.text*")
    ask_until(process, ["two", "1", "first", str(pid)])
    edit(project.root / "util.py", "VALUE = (", "VALUE = 3")
    new_pid = restarted(process, "util.py", OUTSIDE_REASON)
    assert ask(process) == ["two", "3", "first", str(new_pid)]
    assert process.text["stderr"].count("hotmod: restarting") == 1


def test_a_target_failing_right_after_a_restart_waits_for_the_next_change(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    process, _ = start(project, live)
    known(process, "util.py")
    edit(project.root / "util.py", "VALUE = 1", "raise RuntimeError('boom')")
    process.expect_match("hotmod: restarting app.main:main: util.py changed*")
    process.expect_match(
        "hotmod: app.main:main exited with code 1 right after the restart; not restarting it "
        "until the next change"
    )
    assert process.proc.poll() is None  # the supervisor waits
    edit(project.root / "util.py", "raise RuntimeError('boom')", "VALUE = 4")
    line = process.expect_match("hotmod: starting app.main:main again: *")
    assert line == (f"hotmod: starting app.main:main again: util.py changed ({OUTSIDE_REASON})")
    new_pid = ready(process)
    assert ask(process) == ["one", "4", "first", str(new_pid)]
    stderr = process.text["stderr"]
    assert stderr.count("RuntimeError: boom") == 1, stderr  # one failed start, no loop
    assert process.interrupt() == 130


# -- the process ---------------------------------------------------------------------------------


def test_exit_code_and_signals_reach_the_target(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    handler = """\
        import signal, sys
        def on_term(signum, frame):
            print("got SIGTERM", flush=True)
            sys.exit(7)
        signal.signal(signal.SIGTERM, on_term)
        VALUE = 'installed'
        """
    process, pid = start(project, live, files={"handler.py": handler})
    # The target runs in the supervisor's child, in the same folder with the same environment.
    assert process.text["stdout"].split()[:3] == ["ready", str(pid), str(process.proc.pid)]
    assert ask(process, "handler") == ["one", "1", "first", "installed", str(pid)]
    process.proc.send_signal(signal.SIGTERM)
    process.expect("got SIGTERM\n")
    assert process.finish() == 7

    process, pid = start(project, live)
    known(process, "util.py")
    edit(project.root / "util.py", "VALUE = 1", "VALUE = 2")
    restarted(process, "util.py", OUTSIDE_REASON)
    assert process.interrupt() == 130  # SIGINT reaches the restarted target
    assert process.text["stderr"].rstrip().endswith("hotmod: interrupted")

    process, pid = start(project, live)
    process.send("exit 5\n")
    assert process.finish() == 5


def test_no_restart_runs_the_target_in_process(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    process, pid = start(project, live, "--no-restart")
    assert pid == process.proc.pid  # no supervisor: nothing could restart it
    edit(project.root / "app/text.py", "'one'", "'two'")
    process.expect_match("hotmod: reloaded app.text*")
    ask_until(process, ["two", "1", "first", str(pid)])
    assert "restarts the program" not in process.text["stderr"]


def test_help_lists_the_restart_options(project: Project) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hotmod", "run", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
        check=True,
    )
    assert "--restart-on GLOB" in proc.stdout
    assert "--no-restart" in proc.stdout


# -- which files restart (no process) ------------------------------------------------------------


def _module(name: str, file: Path, **attrs: object) -> ModuleType:
    module = ModuleType(name)
    module.__file__ = str(file)
    vars(module).update(attrs)
    return module


def test_restart_reasons_classify_the_loaded_files(tmp_path: Path) -> None:
    root = tmp_path / "project"
    files = {
        "watched": root / "app/views.py",
        "declared": root / "app/settings.py",
        "outside": root / "tools/util.py",
        "hidden": root / ".venv/lib/thing.py",
        "main": root / "serve.py",
        "ext": root / "fast.so",
        "elsewhere": tmp_path / "other/lib.py",
        "globbed": tmp_path / "other/site-packages/dep/__init__.py",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (root / "extra.pth").write_text("")
    modules = {
        "app.views": _module("app.views", files["watched"]),
        "app.settings": _module("app.settings", files["declared"], __hotmod_restart__=True),
        "util": _module("util", files["outside"]),
        "thing": _module("thing", files["hidden"]),
        "__main__": _module("__main__", files["main"]),
        "fast": _module("fast", files["ext"]),
        "lib": _module("lib", files["elsewhere"]),
        "dep": _module("dep", files["globbed"]),
        "os": os,
    }
    found = restart_reasons(
        modules,
        lambda name, module: name.startswith("app."),
        root=str(root.resolve()),
        restart_on=["*/site-packages/dep/*"],
        path_entries=[str(root)],
    )
    real = {key: str(path.resolve()) for key, path in files.items()}
    assert found == {
        real["watched"]: None,
        real["declared"]: DECLARED_REASON,
        real["outside"]: OUTSIDE_REASON,
        real["main"]: MAIN_REASON,
        real["ext"]: EXTENSION_REASON,
        real["globbed"]: "it matches --restart-on */site-packages/dep/*",
        str((root / "extra.pth").resolve()): PTH_REASON,
    }
