"""The IPython/Jupyter extension, driven through a real ``InteractiveShell`` in a subprocess."""

from __future__ import annotations

import textwrap

import pytest

from conftest import Project

pytest.importorskip(
    "IPython", reason="IPython is an optional dependency; install hotmod's examples extra"
)

SHELL = """
import contextlib, io, threading
os.environ["IPYTHONDIR"] = os.path.abspath(".ipython")
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
config = Config()
config.HistoryAccessor.enabled = False
ip = InteractiveShell.instance(config=config, colors="nocolor")

def cell(code):
    # Run one cell; return (printed output, value of its last expression, error or None).
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = ip.run_cell(textwrap.dedent(code), store_history=True)
    error = result.error_in_exec or result.error_before_exec
    return out.getvalue(), result.result, None if error is None else type(error).__name__


def wait_pending():
    # The extension's watcher has recorded the change; the next cell will apply it.
    wait_seen(hotmod._ipython._extensions[id(ip)].reloader)

ip.user_ns.update(save=save, wait_pending=wait_pending)  # cells may edit and wait too
"""

PKG = {
    "pkg/__init__.py": "",
    "pkg/x.py": """\
        LIMIT = 10

        def f():
            return "old"

        class Thing:
            kind = "old"
        """,
    "pkg/y.py": "from pkg.x import f\n\ndef g():\n    return 'g:' + f()\n",
}


def run(project: Project, code: str) -> dict[str, object]:
    project.write(PKG)
    return project.result("import textwrap\n" + SHELL + textwrap.dedent(code))


def test_load_ext_watch_rebind_report_status_and_off(project: Project) -> None:
    out = run(
        project,
        """
        steps = {}
        steps["load"] = cell("%load_ext hotmod")
        steps["status_idle"] = cell("%hotmod")
        steps["start"] = cell("%hotmod pkg")
        cell("from pkg.x import f, LIMIT, Thing as T\\nimport pkg.x as px\\nfrom pkg.y import g")
        keep = cell("mine = f")  # a name of the user's own, also holding the function
        before = cell("(f(), LIMIT, T.kind, px.f(), g(), mine())")
        save("pkg/x.py", "LIMIT = 10", "LIMIT = 11")
        save("pkg/x.py", 'return "old"', 'return "new"')
        save("pkg/x.py", 'kind = "old"', 'kind = "new"')
        wait_pending()
        after = cell("(f(), LIMIT, T.kind, px.f(), g(), mine())")
        steps["status"] = cell("%hotmod")
        steps["off"] = cell("%hotmod off")
        save("pkg/x.py", 'return "new"', 'return "newer"')
        time.sleep(0.3)  # give a (wrongly) still running watcher every chance to apply it
        steps["stopped"] = cell("f()")
        steps["off_again"] = cell("%hotmod off")
        emit(steps={k: [v[0], v[2]] for k, v in steps.items()}, before=before[1],
             after=after[1], report=after[0], stopped=steps["stopped"][1],
             ipython_threads=threading.active_count())
        """,
    )
    steps = out["steps"]
    assert isinstance(steps, dict)
    assert steps["load"] == ["", None]
    assert steps["status_idle"] == [
        "hotmod: not watching anything; start with %hotmod PACKAGE\n",
        None,
    ]
    assert steps["start"] == [
        "hotmod: watching pkg; changes are applied before each cell runs\n",
        None,
    ]
    assert out["before"] == ["old", 10, "old", "old", "g:old", "old"]
    # Names imported from the reloaded modules are re-bound; a module alias too; `mine` also
    # held the function object (by identity), so it follows it.
    assert out["after"] == ["new", 11, "new", "new", "g:new", "new"]
    report = str(out["report"]).splitlines()
    assert len(report) == 2, report  # the report line, then the cell's Out[...]
    assert report[0].startswith("hotmod: reloaded pkg.x, pkg.y in "), report
    # T is not re-bound: the class object survived the reload (upgraded in place, issue 11)
    assert report[0].endswith("; patched 3 in place; re-bound f, LIMIT, px, g, mine"), report
    status = steps["status"][0]
    assert status.startswith("hotmod: watching pkg (3 modules loaded, native events); 1 reload")
    assert "\nlast: reloaded pkg.x, pkg.y in " in status
    assert steps["off"] == ["hotmod: stopped watching\n", None]
    assert out["stopped"] == "new"
    assert steps["off_again"] == ["hotmod: was not watching\n", None]


def test_reloads_happen_before_a_cell_never_during_one(project: Project) -> None:
    out = run(
        project,
        """
        cell("%load_ext hotmod")
        cell("%hotmod pkg")
        cell("import pkg.x")
        during = cell('''
            first = pkg.x.f()
            save("pkg/x.py", 'return "old"', 'return "new"')
            wait_pending()
            import time as _t
            _t.sleep(0.2)     # a background reloader would apply the change now
            (first, pkg.x.f())
        ''')
        next_cell = cell("pkg.x.f()")
        emit(during=during[1], error=during[2], next=next_cell[1], report=next_cell[0])
        """,
    )
    assert out["during"] == ["old", "old"]
    assert out["error"] is None
    assert out["next"] == "new"
    assert str(out["report"]).startswith("hotmod: reloaded pkg.x in ")


def test_broken_edit_reports_and_keeps_the_last_good_code(project: Project) -> None:
    out = run(
        project,
        """
        cell("%load_ext hotmod")
        cell("%hotmod pkg")
        cell("from pkg.x import f")
        save("pkg/x.py", 'return "old"', 'return (')
        wait_pending()
        broken = cell("f()")
        again = cell("f()")
        save("pkg/x.py", 'return (', 'return "fixed"')
        wait_pending()
        fixed = cell("f()")
        emit(broken=broken[:2], again=again[:2], fixed=fixed[1])
        """,
    )
    broken = out["broken"]
    assert isinstance(broken, list)
    printed, value = broken
    assert value == "old"
    assert "hotmod: reload failed after " in printed
    assert "SyntaxError" in printed
    assert "rolled back, the previous code is still running" in printed
    assert printed.count("hotmod: reload failed after") == 1  # (the engine logs it to stderr)
    assert out["again"] == ["Out[5]: 'old'\n", "old"]  # no second report
    assert out["fixed"] == "fixed"


def test_usage_errors_do_not_break_the_session(project: Project) -> None:
    out = run(
        project,
        """
        cell("%load_ext hotmod")
        cell("%load_ext hotmod")          # loading twice is harmless
        results = [cell(line) for line in (
            "%hotmod no_such_package", "%hotmod --bad", "%hotmod 'unclosed", "%hotmod json",
        )]
        ok = cell("%hotmod pkg")
        watching = cell("%hotmod")
        unload = cell("%unload_ext hotmod")
        emit(results=[r[0] for r in results], ok=ok[0], watching=watching[0], unload=unload[2],
             extensions=len(hotmod._ipython._extensions))
        """,
    )
    results = out["results"]
    assert isinstance(results, list)
    assert len(results) == 4
    assert all(text.startswith("UsageError: ") for text in results), results
    assert all(text.count("\n") == 1 for text in results), results  # one line, no traceback
    assert "No module named 'no_such_package'" in results[0]
    assert "usage: %hotmod" in results[1]
    assert "'json' lives in the standard library" in results[3]
    assert out["ok"] == "hotmod: watching pkg; changes are applied before each cell runs\n"
    assert str(out["watching"]).startswith("hotmod: watching pkg (")
    assert out["unload"] is None
    assert out["extensions"] == 0


def test_hotmod_does_not_import_ipython(project: Project) -> None:
    out = project.result(
        """
        import hotmod._ipython
        emit(loaded="IPython" in sys.modules,
             has_hook=callable(getattr(hotmod, "load_ipython_extension", None)))
        """
    )
    assert out == {"loaded": False, "has_hook": True}
