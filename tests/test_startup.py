"""Start-up: the index and the graph are built in a thread, off the start-up path.

``Reloader()`` stats the watched files and returns; a thread builds the index and the graph
holding the reloader's lock, so whatever needs them waits for it. Each test holds that thread
at the start of its build (``HOLD``) to make "the build has not run yet" certain, not likely.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Project

pytestmark = pytest.mark.timeout(90)

SIZE = 40  # above the size from which the index is built in a thread

PKG = {
    "pkg/__init__.py": "",
    "pkg/base.py": "VALUE = 1\n",
    **{f"pkg/m{i:02d}.py": f"from pkg.base import VALUE\nM = {i}\n" for i in range(SIZE)},
}

# The build thread waits at its start until the test releases it; `order` notes what happened.
HOLD = """
import threading
import hotmod._reloader as _r
assert len(PKG_NAMES) >= _r._BUILD_IN_THREAD_FROM
entered, release, order = threading.Event(), threading.Event(), []
_build = _r.Reloader._build_index
def _held_build(self, stats):
    entered.set()
    assert release.wait(20), "never released"
    _build(self, stats)
    order.append("built")
_r.Reloader._build_index = _held_build
import importlib
for _name in PKG_NAMES:
    importlib.import_module(_name)
"""


def held(code: str) -> str:
    """``code`` run with the package imported and the build thread held (see ``HOLD``)."""
    listed = ["pkg.base", *(f"pkg.m{i:02d}" for i in range(SIZE))]
    return f"PKG_NAMES = {listed!r}\n" + HOLD + textwrap.dedent(code)


def test_reloader_returns_before_its_index_is_built_and_the_graph_waits_for_it(
    project: Project,
) -> None:
    project.write(PKG, record=False)
    out = project.result(
        held(
            """
        r = hotmod.Reloader("pkg")
        returned_while_held = entered.wait(10) and not release.is_set() and order == []
        shown = repr(r)
        threading.Timer(0.2, release.set).start()
        dependents = r.graph.dependents("pkg.base")  # waits for the build
        emit(
            returned_while_held=returned_while_held,
            shown=shown,
            order=order,
            dependents=len(dependents),
            after=repr(r),
        )
        """
        )
    )
    assert out == {
        "returned_while_held": True,
        "shown": "<hotmod.Reloader('pkg') created, indexing>",
        "order": ["built"],
        "dependents": SIZE,
        "after": f"<hotmod.Reloader('pkg') created, {SIZE + 2} modules>",
    }


def test_the_adapters_are_imported_with_the_index_off_the_start_up_path(
    project: Project,
) -> None:
    # The built-in adapters (logging handlers, atexit functions: a module each) are imported by
    # the index thread, not by Reloader() on the start-up path, and before any reload runs.
    project.write(PKG, record=False)
    out = project.result(
        held(
            """
        adapters = lambda: sorted(n for n in sys.modules if n.startswith("hotmod.adapters._"))
        r = hotmod.Reloader("pkg", background=False)
        entered.wait(10)
        at_return = adapters()
        threading.Timer(0.2, release.set).start()
        r.graph  # waits for the build
        built = adapters()
        edit("pkg/base.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.base")
        emit(at_return=at_return, built=built, ok=result.ok, after_reload=adapters())
        """
        )
    )
    loaded = ["hotmod.adapters._base", "hotmod.adapters._caches", "hotmod.adapters._side_effects"]
    assert out == {
        "at_return": ["hotmod.adapters._base"],
        "built": loaded,
        "ok": True,
        "after_reload": loaded,
    }


def test_reload_and_check_wait_for_the_index(project: Project) -> None:
    project.write(PKG, record=False)
    out = project.result(
        held(
            """
        r = hotmod.Reloader("pkg", background=False)
        threading.Timer(0.2, release.set).start()
        edit("pkg/base.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.base")
        emit(
            order=order,
            ok=result.ok,
            reloaded=len(result.reloaded),
            value=sys.modules["pkg.m07"].VALUE,
        )
        """
        )
    )
    assert out == {"order": ["built"], "ok": True, "reloaded": SIZE + 1, "value": 2}


def test_an_edit_saved_before_the_index_is_built_is_applied(project: Project) -> None:
    """The file changed after Reloader() returned and before the thread looked at it: it is
    never taken for what the module runs."""
    project.write(PKG, record=False)
    out = project.result(
        held(
            """
        r = hotmod.Reloader("pkg", background=False)
        save("pkg/m05.py", "M = 5", "M = 55")
        release.set()
        r.start()
        deadline = time.monotonic() + 10
        while sys.modules["pkg.m05"].M != 55 and time.monotonic() < deadline:
            r.check()
            time.sleep(0.01)
        r.stop()
        emit(value=sys.modules["pkg.m05"].M, order=order)
        """
        )
    )
    assert out == {"value": 55, "order": ["built"]}


def test_a_file_touched_before_the_index_is_built_is_not_taken_for_an_edit(
    project: Project,
) -> None:
    """What each module runs is judged by its file as it was when Reloader() was called: the
    same content saved again before the thread looked at it (a new mtime) reloads nothing,
    as it would have before that call. (Judged by the file when the thread reads it, the new
    mtime would make the module's version unknown, and it would be re-executed at start.)"""
    project.write(PKG, record=False)
    warm = project.result(
        held('release.set(); r = hotmod.Reloader("pkg"); r.graph; emit(ok=True)')
    )  # the import cache now knows every file
    assert warm == {"ok": True}
    out = project.result(
        held(
            """
        import builtins
        r = hotmod.Reloader("pkg", background=False)
        path = Path("pkg/m05.py")
        st = path.stat()
        path.write_text(path.read_text())  # same content
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        release.set()
        token = sys.modules["pkg.m05"]
        r.start()
        results = [r.check() for _ in range(3)]
        r.stop()
        emit(
            reloaded=[list(x.reloaded) for x in results if x is not None],
            same_module=sys.modules["pkg.m05"] is token,
        )
        """
        )
    )
    assert out == {"reloaded": [], "same_module": True}


def test_a_fork_waits_for_the_index_and_the_child_has_a_complete_one(project: Project) -> None:
    project.write(PKG, record=False)
    out = project.result(
        held(
            """
        r = hotmod.Reloader("pkg", background=False)
        assert entered.wait(10)
        threading.Timer(0.2, release.set).start()
        pid = os.fork()  # waits for the build (the child would inherit its held lock)
        if pid == 0:
            ok = len(r.graph.dependents("pkg.base")) == len(PKG_NAMES) - 1
            os._exit(0 if ok else 3)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        emit(
            order_at_fork=order,
            child=os.waitstatus_to_exitcode(status) if done else "hung",
        )
        """
        )
    )
    assert out == {"order_at_fork": ["built"], "child": 0}


def test_watch_says_how_many_modules_once_the_index_is_built(project: Project) -> None:
    project.write(PKG, record=False)
    out = project.result(
        held(
            """
        records = _Records()
        logging.getLogger("hotmod").addHandler(records)
        r = hotmod.watch("pkg")  # started while the index is still being built
        said_at_start = [x.getMessage() for x in records.records if "watching" in x.getMessage()]
        release.set()
        r.graph
        for thread in threading.enumerate():
            if thread.name.startswith("hotmod-index"):
                thread.join(10)
        said = [x.getMessage() for x in records.records if "watching" in x.getMessage()]
        r.stop()
        emit(said_at_start=said_at_start, said=said)
        """
        )
    )
    assert out["said_at_start"] == []
    [line] = out["said"]  # type: ignore[misc]
    assert line.startswith(f"watching pkg ({SIZE + 2} modules, "), line


def test_few_modules_are_indexed_by_reloader_itself(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/a.py": "A = 1\n"}, record=False)
    out = project.result(
        """
        import threading
        import pkg.a
        before = {t.name for t in threading.enumerate()}
        r = hotmod.Reloader("pkg")
        started = {t.name for t in threading.enumerate()} - before
        emit(started=sorted(started), shown=repr(r))
        """
    )
    assert out == {"started": [], "shown": "<hotmod.Reloader('pkg') created, 2 modules>"}


def test_the_index_thread_makes_the_common_forwarding_templates_a_first_reload_needs(
    project: Project,
) -> None:
    # Upgrading an old function in place runs its new version through a trampoline compiled
    # once per signature shape: the index thread compiles the common shapes, so the first
    # reload after start-up (here one function of one argument, a method, a zero-argument
    # function) compiles only the edited module.
    project.write(
        {
            **PKG,
            "pkg/leaf.py": "def f(x):\n    return x\ndef g():\n    return 1\n"
            "class C:\n    def m(self, a):\n        return a\nV = 1\n",
        },
        record=False,
    )
    out = project.result(
        f"SIZE_ = {SIZE}\n"
        + textwrap.dedent(
            """
        import importlib, threading, time
        import pkg.leaf
        for i in range(SIZE_):  # enough modules for the thread
            importlib.import_module(f"pkg.m{i:02d}")
        import hotmod._patch as patch
        import hotmod._reloader as _r
        r = hotmod.Reloader("pkg")
        threaded = any(t.name.startswith("hotmod-index") for t in threading.enumerate())
        r.graph
        for _ in range(200):  # (the graph waits for them too: the thread holds the lock)
            if not any(t.name.startswith("hotmod-index") for t in threading.enumerate()):
                break
            time.sleep(0.05)
        compiled = []
        def counting(source, filename, *args, **kwargs):
            compiled.append(filename)
            return compile(source, filename, *args, **kwargs)
        patch.compile = counting  # the module's global shadows the builtin
        edit("pkg/leaf.py", "V = 1", "V = 2")
        result = r.reload("pkg.leaf")
        emit(threaded=threaded, ok=result.ok, patched=sorted(result.patched), compiled=compiled)
        """
        )
    )
    assert out == {
        "threaded": True,
        "ok": True,
        "patched": ["pkg.leaf.C", "pkg.leaf.C.m", "pkg.leaf.f", "pkg.leaf.g"],
        "compiled": [],
    }


def test_import_hotmod_leaves_the_heavy_standard_modules_to_those_who_use_them() -> None:
    # `import hotmod` is on every start-up path of a dev server: asyncio (with ssl, socket and
    # subprocess), uuid, tempfile, typing_extensions (annotations only) and hashlib's OpenSSL
    # backend are imported by the parts that use them, when they do (a fresh interpreter, so
    # nothing imported them before; what stays is hotmod's and what it runs on).
    heavy = ["asyncio", "hashlib", "ssl", "subprocess", "tempfile", "typing_extensions", "uuid"]
    code = f"import sys, hotmod; print(sorted(set({heavy!r}) & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
