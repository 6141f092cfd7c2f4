"""What each module was loaded from is known process-wide (issue 9, items 4 and 5).

An edit made while nothing watched (before a Reloader existed, or between ``stop()`` and
``start()``) is applied when watching starts; a module re-executed by someone else
(``importlib.reload``) is never reverted to code hotmod cached earlier. Every test runs in a
fresh interpreter; waits are deadlines, never fixed sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import PRELUDE, Project

pytestmark = pytest.mark.timeout(90)

PKG = {
    "pkg/__init__.py": "",
    "pkg/a.py": "VALUE = 1\n",
    "pkg/b.py": """\
        from pkg.a import VALUE

        OWN = "old"

        def both():
            return (OWN, VALUE)
        """,
    "pkg/c.py": "STILL = 'same'\n",  # imports nothing that changes: never re-executed
}

HELPERS = """
import importlib

def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)

def b_now():
    return list(sys.modules["pkg.b"].both())
"""


def run(project: Project, code: str) -> dict[str, object]:
    project.write(PKG)
    return project.result(HELPERS + textwrap.dedent(code))


def test_edit_while_stopped_is_applied_by_the_background_thread_at_restart(
    project: Project,
) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        results = []
        r = hotmod.Reloader("pkg", on_reload=results.append)
        r.start()
        r.stop()
        reset()
        save("pkg/a.py", "VALUE = 1", "VALUE = 2")  # nothing is watching
        r.start()
        wait_for(lambda: b_now() == ["old", 2], "the edit made while stopped")
        r.stop()
        emit(value=b_now(), executed=executed(), results=len(results))
        """,
    )
    assert out == {"value": ["old", 2], "executed": ["pkg.a", "pkg.b"], "results": 1}


def test_edit_while_stopped_is_applied_at_the_first_check_after_restart(
    project: Project,
) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        r = hotmod.Reloader("pkg", background=False).start()
        save("pkg/a.py", "VALUE = 1", "VALUE = 2")
        wait_seen(r)  # the watcher saw the first edit, written
        first = r.check()
        r.stop()
        save("pkg/a.py", "VALUE = 2", "VALUE = 3")  # nothing is watching
        reset()
        r.start()
        second = r.check()
        emit(first=list(first.reloaded), second=list(second.reloaded), value=b_now(),
             executed=executed(), again=r.check() is None)
        r.stop()
        """,
    )
    assert out == {
        "first": ["pkg.a", "pkg.b"],
        "second": ["pkg.a", "pkg.b"],
        "value": ["old", 3],
        "executed": ["pkg.a", "pkg.b"],
        "again": True,
    }


def test_a_new_reloader_applies_what_changed_after_the_old_one_stopped(
    project: Project,
) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        old = hotmod.Reloader("pkg")
        old.reload("pkg.a")  # hotmod loaded these versions itself
        old.start()
        old.stop()
        save("pkg/b.py", 'OWN = "old"', 'OWN = "new"')
        reset()
        new = hotmod.Reloader("pkg", background=False).start()
        result = new.check()
        steps = {"new reloader": [b_now(), executed()]}
        new.stop()
        # watch() after its Reloader was stopped starts a new one, which catches up too
        watched = hotmod.watch("pkg", background=False)
        watched.stop()
        save("pkg/a.py", "VALUE = 1", "VALUE = 5")
        reset()
        again = hotmod.watch("pkg", background=False)
        again.check()
        steps["watch() again"] = [b_now(), executed()]
        again.stop()
        emit(steps=steps, changed=[p.name for p in result.changed], same=again is watched)
        """,
    )
    assert out == {
        "steps": {
            "new reloader": [["new", 1], ["pkg.b"]],
            "watch() again": [["new", 5], ["pkg.a", "pkg.b"]],
        },
        "changed": ["b.py"],
        "same": False,
    }


@pytest.mark.skipif(os.name == "nt", reason="Windows has no inode change time (ctime)")
def test_module_imported_after_hotmod_and_edited_before_the_reloader_is_applied(
    project: Project,
) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        imported = time.time()
        while time.time() < imported + 0.05:  # a person edits later than a few ms after
            time.sleep(0.005)
        # a same-size edit that puts the old mtime back: the .pyc header still matches, only
        # the inode's change time (ctime) shows the edit
        st = os.stat("pkg/a.py")
        edit("pkg/a.py", "VALUE = 1", "VALUE = 7")
        os.utime("pkg/a.py", ns=(st.st_atime_ns, st.st_mtime_ns))
        reset()
        r = hotmod.Reloader("pkg", background=False).start()
        result = r.check()
        emit(value=b_now(), executed=executed(), changed=[p.name for p in result.changed],
             again=r.check())
        r.stop()
        """,
    )
    assert out == {
        "value": ["old", 7],
        "executed": ["pkg.a", "pkg.b"],
        "changed": ["a.py"],
        "again": None,
    }


def test_an_edit_saved_within_a_clock_tick_of_the_import_is_applied(project: Project) -> None:
    """Files are stamped with the kernel's clock as of its last tick (1-10 ms behind
    ``time.time()``): a same-size edit saved just after the import can carry a time before the
    import's, and the very time the ``.pyc`` was written. Simulated by noting the import 10 ms
    late (a tick of Linux at HZ=100): the edit must still not be taken for what the module
    runs. (Found when the index was first built in a thread: the edit of a module imported
    just before was kept as loaded.)"""
    out = run(
        project,
        """
        import importlib.util, types
        import hotmod._observed as observed
        real = time.time
        observed.time = types.SimpleNamespace(time=lambda: real() + 0.01)
        source = Path("pkg/a.py")
        pyc = Path(importlib.util.cache_from_source(str(source.resolve())))
        for attempt in range(5):  # the .pyc keeps seconds: save, import, .pyc in one second
            while real() % 1 > 0.7:
                time.sleep(0.01)
            os.utime(source)  # written now, as a file saved just before the import
            import pkg.b, pkg.c
            written = pyc.stat().st_mtime_ns
            if int.from_bytes(pyc.read_bytes()[8:12], "little") == written // 10**9:
                break
            for name in ("pkg.c", "pkg.b", "pkg.a", "pkg"):  # a second began between: again
                del sys.modules[name]
            pyc.unlink()
        edit("pkg/a.py", "VALUE = 1", "VALUE = 7")  # same size
        os.utime(source, ns=(written, written))  # stamped in the tick the .pyc was written in
        header = pyc.read_bytes()[8:16]
        same = (int.from_bytes(header[:4], "little"), int.from_bytes(header[4:], "little")) == (
            int(source.stat().st_mtime), source.stat().st_size)
        reset()
        r = hotmod.Reloader("pkg", background=False).start()
        result = r.check()
        r.stop()
        emit(header_matches=same, value=b_now(), executed=executed(),
             changed=[p.name for p in result.changed] if result else None)
        """,
    )
    assert out == {
        "header_matches": True,
        "value": ["old", 7],
        "executed": ["pkg.a", "pkg.b"],
        "changed": ["a.py"],
    }


def test_unchanged_modules_are_not_reexecuted_when_watching_starts(project: Project) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        results = []
        reset()
        first = hotmod.Reloader("pkg", on_reload=results.append).start()
        first.stop()
        second = hotmod.Reloader("pkg", background=False).start()
        nothing = second.check()
        second.stop()
        third = hotmod.Reloader("pkg", on_reload=results.append).start()
        deadline = time.monotonic() + 0.5  # 10x the debounce: a start-up reload would be done
        while time.monotonic() < deadline and not results:
            time.sleep(0.01)
        third.stop()
        emit(executed=executed(), results=len(results), nothing=nothing is None)
        """,
    )
    assert out == {"executed": [], "results": 0, "nothing": True}


def _wait_until_older(paths: list[Path], seconds: float) -> None:
    """Wait (deadline-bound) until every file's last change is ``seconds`` in the past."""
    newest = max(max(p.stat().st_mtime, p.stat().st_ctime) for p in paths)
    deadline = time.monotonic() + 10
    while time.time() < newest + seconds:
        assert time.monotonic() < deadline, "the clock does not advance"
        time.sleep(0.01)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process start time: Linux")
def test_module_imported_before_hotmod_and_edited_before_the_reloader_is_applied(
    project: Project,
) -> None:
    project.write(PKG)
    # the files predate the process, as a project's files do
    _wait_until_older(list((project.root / "pkg").glob("*.py")), 0.1)
    before, _, after = PRELUDE.partition("import hotmod\n")
    script = project.root / "_before_hotmod.py"
    script.write_text(
        before
        + textwrap.dedent(
            """
            import pkg.b, pkg.c
            imported = time.time()
            """
        )
        + after
        + HELPERS
        + textwrap.dedent(
            """
            # same size, and an mtime later than the import (an editor that keeps the time)
            edit("pkg/a.py", "VALUE = 1", "VALUE = 8")
            os.utime("pkg/a.py", (imported + 1, imported + 1))
            assert "hotmod" not in sys.modules
            import hotmod
            reset()
            r = hotmod.Reloader("pkg", background=False).start()
            result = r.check()
            emit(value=b_now(), executed=executed(), changed=[p.name for p in result.changed])
            r.stop()
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line[:7] == "RESULT "]
    assert found == [{"value": ["old", 8], "executed": ["pkg.a", "pkg.b"], "changed": ["a.py"]}]


def test_importlib_reload_is_not_reverted_by_a_later_reload_of_a_dependency(
    project: Project,
) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        r = hotmod.Reloader("pkg")
        r.reload("pkg.a")  # pkg.b re-executed by hotmod: its code is cached now
        # another size: a same-size edit in the same second would make importlib.reload run the
        # stale .pyc (CPython trusts its mtime in whole seconds and size)
        save("pkg/b.py", 'OWN = "old"', 'OWN = "newer"')
        importlib.reload(sys.modules["pkg.b"])  # someone else runs the new pkg.b
        steps = {"importlib.reload": b_now()}
        save("pkg/a.py", "VALUE = 1", "VALUE = 2")
        reset()
        r.reload("pkg.a")
        steps["hotmod reload of pkg.a"] = [b_now(), executed()]
        r.reload("pkg.a")  # and the code now cached for pkg.b is the new one
        steps["again"] = b_now()
        emit(steps=steps)
        """,
    )
    assert out == {
        "steps": {
            "importlib.reload": ["newer", 1],
            "hotmod reload of pkg.a": [["newer", 2], ["pkg.a", "pkg.b"]],
            "again": ["newer", 2],
        }
    }


def test_module_reimported_by_someone_else_is_not_reverted(project: Project) -> None:
    out = run(
        project,
        """
        import pkg.b, pkg.c
        r = hotmod.Reloader("pkg")
        r.reload("pkg.a")
        # (another size, so the re-import does not trust the stale .pyc)
        save("pkg/b.py", 'OWN = "old"', 'OWN = "newer"')
        del sys.modules["pkg.b"]
        import pkg.b
        save("pkg/a.py", "VALUE = 1", "VALUE = 2")
        r.reload("pkg.a")
        emit(value=b_now())
        """,
    )
    assert out == {"value": ["newer", 2]}


IPYTHON_SHELL = """
import contextlib, io, textwrap
os.environ["IPYTHONDIR"] = os.path.abspath(".ipython")
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
config = Config()
config.HistoryAccessor.enabled = False
ip = InteractiveShell.instance(config=config, colors="nocolor")

def cell(code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = ip.run_cell(textwrap.dedent(code), store_history=True)
    error = result.error_in_exec or result.error_before_exec
    assert error is None, (code, out.getvalue(), error)
    return out.getvalue(), result.result
"""


def test_ipython_edit_between_hotmod_off_and_hotmod_pkg_is_applied(project: Project) -> None:
    pytest.importorskip("IPython")
    out = run(
        project,
        IPYTHON_SHELL
        + textwrap.dedent(
            """
        cell("%load_ext hotmod")
        cell("%hotmod pkg")
        cell("from pkg.b import both")
        before = cell("both()")[1]
        cell("%hotmod off")
        save("pkg/a.py", "VALUE = 1", "VALUE = 2")
        save("pkg/b.py", 'OWN = "old"', 'OWN = "new"')
        cell("%hotmod pkg")
        report, after = cell("both()")
        emit(before=list(before), after=list(after), report=report.splitlines()[0])
        cell("%hotmod off")
        """
        ),
    )
    assert out["before"] == ["old", 1]
    assert out["after"] == ["new", 2]
    assert str(out["report"]).startswith("hotmod: reloaded pkg.a, pkg.b in "), out
    assert str(out["report"]).endswith("; re-bound both"), out


def test_ipython_autoreload_patch_in_place_is_not_reverted(project: Project) -> None:
    """IPython's default %autoreload patches a function in place from the edited file without
    executing the module again; re-executed later as a dependent, the module runs its file as
    it is now, not the code hotmod kept from before the edit."""
    pytest.importorskip("IPython")
    out = run(
        project,
        IPYTHON_SHELL
        + textwrap.dedent(
            """
        cell("%load_ext autoreload")
        cell("%autoreload 2")  # deduperreload: patches in place (not --full)
        cell("import pkg.b")
        reloader = hotmod.Reloader("pkg", background=False)
        assert reloader.reload("pkg.a").ok  # pkg.b re-executed: its code is kept in memory
        cell("pkg.b.both()")  # autoreload notes the file's version
        save("pkg/b.py", "return (OWN, VALUE)", "return ('patched', OWN, VALUE)")
        patched = cell("pkg.b.both()")[1]  # autoreload patched the function before the cell
        save("pkg/a.py", "VALUE = 1", "VALUE = 2")
        result = reloader.reload("pkg.a")
        emit(patched=list(patched), ok=result.ok, reloaded=list(result.reloaded),
             after=cell("pkg.b.both()")[1])
        """
        ),
    )
    assert out == {
        "patched": ["patched", "old", 1],
        "ok": True,
        "reloaded": ["pkg.a", "pkg.b"],
        "after": ["patched", "old", 2],
    }


def write_stale_pyc_project(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/mod.py": 'VALUE = "v0"\n'}, record=False)
    project.run("import pkg.mod")  # writes pkg/__pycache__/mod.*.pyc for v0


# pkg.mod imported from its stale .pyc: the .pyc written at the moment of the version it was
# compiled from; the edit, of the same size, a nanosecond later: the same second, written
# after the .pyc; imported well after the edit's last stamp (its ctime)
STALE_PYC_IMPORT = """
import importlib.util
source = Path("pkg/mod.py")
pyc = Path(importlib.util.cache_from_source(str(source.resolve())))
before = source.stat()
os.utime(pyc, ns=(before.st_atime_ns, before.st_mtime_ns))
source.write_text('VALUE = "v1"\\n')
os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
assert int(source.stat().st_mtime) == int(before.st_mtime)
time.sleep(0.05)
import pkg.mod
stale = pkg.mod.VALUE  # CPython ran the old bytecode
"""


def test_a_module_imported_from_a_stale_pyc_is_not_taken_for_its_file(project: Project) -> None:
    """An edit of the same size in the same second as the ``.pyc`` was written: CPython's check
    (whole seconds and size) accepts the stale ``.pyc``, and the module runs the old code. The
    file was written after the ``.pyc``, so hotmod does not take it for what is running, and
    applies it when watching starts (a gunicorn worker that imports the app just after an
    edit sees exactly this)."""
    write_stale_pyc_project(project)
    found = project.result(
        STALE_PYC_IMPORT
        + textwrap.dedent(
            """
        r = hotmod.Reloader("pkg", background=False).start()
        result = r.check()
        r.stop()
        emit(stale=stale, value=sys.modules["pkg.mod"].VALUE, ok=result is not None and result.ok)
        """
        )
    )
    assert found == {"stale": "v0", "value": "v1", "ok": True}


def test_a_stale_pyc_another_process_discarded_after_the_import_still_counts(
    project: Project,
) -> None:
    """Two gunicorn workers start while the app is edited: one imports the module from the
    stale ``.pyc`` (the same-size edit of the same second, as above), then the other reloads
    the edit and discards that ``.pyc`` before the first builds its index. The first must not
    take the missing evidence for a module running its file: the discarded ``.pyc`` says when it
    was discarded, after this import, and the edit is applied when watching starts."""
    write_stale_pyc_project(project)
    found = project.result(
        STALE_PYC_IMPORT
        + textwrap.dedent(
            """
        import subprocess
        sibling = subprocess.run(
            [sys.executable, "-c",
             "import hotmod, pkg.mod; print(hotmod.Reloader('pkg').reload('pkg.mod').ok)"],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        r = hotmod.Reloader("pkg", background=False).start()
        result = r.check()
        r.stop()
        emit(stale=stale, sibling=sibling, pyc=pyc.read_bytes()[:4].hex() if pyc.exists() else None,
             value=sys.modules["pkg.mod"].VALUE, ok=result is not None and result.ok)
        """
        )
    )
    # (the sibling's discard: the .pyc's magic number overwritten with zeros)
    assert found == {
        "stale": "v0",
        "sibling": ["True"],
        "pyc": "00000000",
        "value": "v1",
        "ok": True,
    }


def test_first_reload_imports_no_adapter_the_construction_did_not(project: Project) -> None:
    # The built-in adapters are imported with the index Reloader() builds (here by Reloader()
    # itself: few modules), not by the first reload after it (the first reload costs what a
    # warm one does); that reload runs the new code.
    out = run(
        project,
        """
        import logging
        import hotmod, pkg.a, pkg.b
        r = hotmod.Reloader("pkg")
        before = set(sys.modules)
        edit("pkg/a.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.a")
        assert result.ok, result
        emit(b=b_now(), imported=sorted(n for n in set(sys.modules) - before if "hotmod" in n))
        """,
    )
    assert out == {"b": ["old", 2], "imported": []}
