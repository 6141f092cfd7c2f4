"""Import cycles reload the way a fresh import runs them, and packages come back as a fresh import
makes them (``__path__`` included).

A cycle that uses ``from … import`` works only when it is entered through the right member: the
one the program entered it through. Each test checks what a fresh import would do (the order the
modules execute in, the values they end up with) and that the new code runs afterwards.
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import Project

# The reproduction: works when entered through a (`import pkg.a`), not through b.
TWO_CYCLE = {
    "pkg/__init__.py": "",
    "pkg/a.py": "one = 1\nfrom pkg.b import two\nthree = two + 1\n",
    "pkg/b.py": "from pkg.a import one\ntwo = one + 1\n",
    "pkg/user.py": "from pkg.a import three\ndef get():\n    return three\n",
}


@pytest.mark.parametrize(
    ("target", "old", "new", "values"),
    [
        ("pkg.a", "one = 1", "one = 10", [10, 11, 12, 12]),
        ("pkg.b", "two = one + 1", "two = one + 100", [1, 101, 102, 102]),
    ],
)
def test_two_cycle_with_from_imports_reloads_from_either_member(
    project: Project, target: str, old: str, new: str, values: list[int]
) -> None:
    project.write(TWO_CYCLE)
    out = project.result(
        f"""
        import pkg.a, pkg.user
        fresh = executed()
        r = hotmod.Reloader("pkg")
        old = {{n: sys.modules[n] for n in ("pkg.a", "pkg.b", "pkg.user")}}
        reset()
        edit("{target.replace(".", "/")}.py", "{old}", "{new}")
        result = r.reload("{target}")
        a, b, user = (sys.modules[n] for n in ("pkg.a", "pkg.b", "pkg.user"))
        first = dict(ok=result.ok, error=repr(result.error), executed=executed(),
                     values=[a.one, b.two, a.three, user.get()],
                     all_new=all(sys.modules[n] is not m for n, m in old.items()),
                     attrs=[sys.modules["pkg"].a is a, sys.modules["pkg"].b is b])
        # and again: the cycle stays reloadable, and its order held (the plan is reused)
        version = r.graph.version
        reset()
        again = r.reload("pkg.b")
        emit(fresh=fresh, first=first, again=[again.ok, executed()],
             still=sys.modules["pkg.user"].get(), same_graph=r.graph.version == version)
        """
    )
    assert out == {
        "fresh": ["pkg", "pkg.a", "pkg.b", "pkg.user"],
        "first": {
            "ok": True,
            "error": "None",
            # as the fresh import: a first, b nested inside a's `from pkg.b import two`
            "executed": ["pkg.a", "pkg.b", "pkg.user"],
            "values": values,
            "all_new": True,
            "attrs": [True, True],
        },
        "again": [True, ["pkg.a", "pkg.b", "pkg.user"]],
        "still": values[3],
        "same_graph": True,
    }


def test_three_cycle_entered_through_its_entry_when_another_member_changed(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "A = 1\nfrom pkg.b import B\nTOTAL = A + B\n",
            "pkg/b.py": "from pkg.c import C\nB = C + 1\n",
            "pkg/c.py": "from pkg.a import A\nC = A + 1\n",
            "pkg/user.py": "import pkg.a\ndef total():\n    return pkg.a.TOTAL\n",
        }
    )
    out = project.result(
        """
        import pkg.user
        fresh = executed()
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/c.py", "C = A + 1", "C = A + 10")
        result = r.reload("pkg.c")
        emit(fresh=fresh, ok=result.ok, executed=executed(), reloaded=list(result.reloaded),
             values=[sys.modules["pkg.c"].C, sys.modules["pkg.b"].B, pkg.user.total()])
        """
    )
    assert out == {
        "fresh": ["pkg", "pkg.user", "pkg.a", "pkg.b", "pkg.c"],
        "ok": True,
        "executed": ["pkg.a", "pkg.b", "pkg.c", "pkg.user"],
        "reloaded": ["pkg.a", "pkg.b", "pkg.c", "pkg.user"],
        "values": [11, 12, 13],
    }


def test_cycle_entered_from_outside_through_the_other_member(project: Project) -> None:
    # pkg.app reaches the cycle through b: b is the entry, whichever member changes.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/app.py": "from pkg.b import B\nfrom pkg.a import A\ndef get():\n    return A\n",
            "pkg/b.py": "B = 1\nfrom pkg.a import A\n",
            "pkg/a.py": "from pkg.b import B\nA = B + 1\n",
        }
    )
    out = project.result(
        """
        import pkg.app
        fresh = executed()
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/a.py", "A = B + 1", "A = B + 5")
        first = r.reload("pkg.a")
        first = [first.ok, executed(), pkg.app.get()]
        reset()
        edit("pkg/b.py", "B = 1", "B = 10")
        second = r.reload("pkg.b")
        emit(fresh=fresh, first=first,
             second=[second.ok, executed(), sys.modules["pkg.app"].get()])
        """
    )
    assert out == {
        "fresh": ["pkg", "pkg.app", "pkg.b", "pkg.a"],
        "first": [True, ["pkg.b", "pkg.a", "pkg.app"], 6],
        "second": [True, ["pkg.b", "pkg.a", "pkg.app"], 15],
    }


def test_cycle_through_the_package_init(project: Project) -> None:
    # pkg/__init__ defines helper, then imports pkg.sub, which imports helper back.
    project.write(
        {
            "pkg/__init__.py": "def helper():\n    return 1\nfrom pkg.sub import X\n",
            "pkg/sub.py": "from pkg import helper\nX = helper() + 1\n",
            "pkg/user.py": "from pkg import X\n",
        }
    )
    out = project.result(
        """
        import pkg.user
        fresh = executed()
        r = hotmod.Reloader("pkg")
        results = []
        for path, old, new in [("pkg/sub.py", "+ 1", "+ 2"), ("pkg/__init__.py", "1", "10")]:
            reset()
            edit(path, old, new)
            result = r.reload(Path(path))
            pkg = sys.modules["pkg"]
            results.append([result.ok, executed(), pkg.X, sys.modules["pkg.user"].X,
                            pkg.sub is sys.modules["pkg.sub"]])
        emit(fresh=fresh, results=results)
        """
    )
    assert out == {
        "fresh": ["pkg", "pkg.sub", "pkg.user"],
        "results": [
            [True, ["pkg", "pkg.sub", "pkg.user"], 3, 3, True],
            [True, ["pkg", "pkg.sub", "pkg.user"], 12, 12, True],
        ],
    }


def test_cycle_through_a_subpackage_init_entered_from_a_module(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "one = 1\nfrom pkg.sub import two\nthree = two + 1\n",
            "pkg/sub/__init__.py": "from pkg.a import one\ntwo = one + 1\n",
        }
    )
    out = project.result(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/sub/__init__.py", "one + 1", "one + 2")
        result = r.reload("pkg.sub")
        emit(ok=result.ok, executed=executed(), three=sys.modules["pkg.a"].three,
             attr=sys.modules["pkg"].sub is sys.modules["pkg.sub"])
        """
    )
    assert out == {"ok": True, "executed": ["pkg.a", "pkg.sub"], "three": 4, "attr": True}


def test_broken_cycle_edit_rolls_back_exactly_then_the_fix_applies(project: Project) -> None:
    project.write(TWO_CYCLE)
    out = project.result(
        """
        import pkg.user
        r = hotmod.Reloader("pkg")
        names = ("pkg.a", "pkg.b", "pkg.user")
        old = {n: sys.modules[n] for n in names}
        pkg = sys.modules["pkg"]
        # defining `one` after the import breaks the cycle: b cannot import it
        Path("pkg/a.py").write_text(
            Path("pkg/a.py").read_text().replace(
                "one = 1\\nfrom pkg.b import two\\n", "from pkg.b import two\\none = 5\\n"))
        reset()
        broken = r.reload("pkg.a")
        after_broken = dict(
            ok=broken.ok, rolled_back=broken.rolled_back,
            error=isinstance(broken.error, ImportError) and "cannot import name 'one' from "
            "partially initialized module 'pkg.a'" in str(broken.error),
            executed=executed(),
            same=[sys.modules[n] is m for n, m in old.items()],
            attrs=[pkg.a is old["pkg.a"], pkg.b is old["pkg.b"]],
            linked=[old["pkg.a"].two, old["pkg.b"].one],
            served=[pkg.user.get(), sys.modules["pkg.a"].three])
        Path("pkg/a.py").write_text(
            Path("pkg/a.py").read_text().replace(
                "from pkg.b import two\\none = 5\\n", "one = 5\\nfrom pkg.b import two\\n"))
        reset()
        fixed = r.reload("pkg.a")
        emit(broken=after_broken, fixed=[fixed.ok, executed(), sys.modules["pkg.user"].get()],
             replaced=[sys.modules[n] is not m for n, m in old.items()])
        """
    )
    assert out == {
        "broken": {
            "ok": False,
            "rolled_back": True,
            "error": True,
            "executed": ["pkg.a", "pkg.b"],
            "same": [True, True, True],
            "attrs": [True, True],
            "linked": [2, 1],
            "served": [3, 3],
        },
        "fixed": [True, ["pkg.a", "pkg.b", "pkg.user"], 7],
        "replaced": [True, True, True],
    }


def test_new_member_joining_a_cycle_keeps_the_entry(project: Project) -> None:
    # The new code of a imports a new module c that imports a back: c completes inside a, so
    # later reloads must still enter the cycle through a, not through the newest module.
    project.write(TWO_CYCLE)
    out = project.result(
        """
        import pkg.user
        r = hotmod.Reloader("pkg")
        Path("pkg/c.py").write_text(
            "import builtins; builtins.__dict__.setdefault('EXECUTED', []).append(__name__)\\n"
            "from pkg.a import one\\nfour = one + 3\\n")
        edit("pkg/a.py", "three = two + 1", "from pkg.c import four\\nthree = two + four")
        reset()
        first = r.reload("pkg.a")
        runs = [[first.ok, executed(), sys.modules["pkg.user"].get()]]
        for value in (10, 20, 30):  # the new member changes, three times
            Path("pkg/c.py").write_text(Path("pkg/c.py").read_text().replace(
                f"four = one + {3 if value == 10 else value - 10}", f"four = one + {value}"))
            reset()
            result = r.reload("pkg.c")
            runs.append([result.ok, executed(), sys.modules["pkg.user"].get()])
        emit(runs=runs)
        """
    )
    assert out == {
        "runs": [
            [True, ["pkg.a", "pkg.b", "pkg.c", "pkg.user"], 2 + 4],
            [True, ["pkg.a", "pkg.b", "pkg.c", "pkg.user"], 2 + 11],
            [True, ["pkg.a", "pkg.b", "pkg.c", "pkg.user"], 2 + 21],
            [True, ["pkg.a", "pkg.b", "pkg.c", "pkg.user"], 2 + 31],
        ]
    }


def test_lazy_mode_evicts_the_cycle_and_the_next_import_runs_it_fresh(project: Project) -> None:
    project.write(TWO_CYCLE)
    out = project.result(
        """
        import pkg.user
        old_a = sys.modules["pkg.a"]
        r = hotmod.Reloader("pkg", eager=False)
        edit("pkg/b.py", "one + 1", "one + 7")
        reset()
        result = r.reload("pkg.b")
        gone = [n in sys.modules for n in ("pkg.a", "pkg.b", "pkg.user")]
        stale_attrs = [hasattr(sys.modules["pkg"], n) for n in ("a", "b", "user")]
        import pkg.user
        emit(ok=result.ok, gone=gone, stale_attrs=stale_attrs, executed=executed(),
             value=sys.modules["pkg.user"].get(), new=sys.modules["pkg.a"] is not old_a)
        """
    )
    assert out == {
        "ok": True,
        "gone": [False, False, False],
        "stale_attrs": [False, False, False],
        "executed": ["pkg.user", "pkg.a", "pkg.b"],
        "value": 9,
        "new": True,
    }


def test_cycle_edit_through_the_watcher(project: Project) -> None:
    project.write(TWO_CYCLE)
    out = project.result(
        """
        import pkg.user
        results = []
        r = hotmod.watch("pkg", debounce=0.02, on_reload=results.append)
        save("pkg/b.py", "two = one + 1", "two = one + 40")
        deadline = time.monotonic() + 20
        while not any(x.reloaded or x.error for x in results) and time.monotonic() < deadline:
            time.sleep(0.01)
        r.stop()
        emit(results=[[x.ok, list(x.reloaded)] for x in results if x.reloaded or x.error],
             value=sys.modules["pkg.user"].get())
        """
    )
    assert out == {
        "results": [[True, ["pkg.a", "pkg.b", "pkg.user"]]],
        "value": 42,
    }


# -- packages that extend their own __path__ ---------------------------------------------------

APPENDING_INIT = "import os\n__path__.append(os.path.join(os.path.dirname(__file__), 'more'))\n"
EXTEND_PATH_INIT = "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n"

# A meta path finder that gives pkg a second search location (as some import hooks do).
FINDER = """
import importlib.util
class Finder:
    def find_spec(self, name, path, target=None):
        if name != "pkg":
            return None
        places = [os.path.abspath("pkg"), os.path.abspath("second")]
        return importlib.util.spec_from_file_location(
            name, os.path.abspath("pkg/__init__.py"), submodule_search_locations=places)
sys.meta_path.insert(0, Finder())
"""

PATH_LAYOUTS = {
    # re-executed directly: `__path__.append(...)` in the package's own __init__
    "top_level": (
        {"pkg/__init__.py": APPENDING_INIT + "VALUE = 1\n", "pkg/more/plugin.py": "P = 'found'\n"},
        "pkg",
        "",
    ),
    # re-executed through the import system, nested inside its parent (they form a cycle)
    "subpackage_in_a_cycle": (
        {
            "pkg/__init__.py": "X = 1\nfrom pkg import sub\n",
            "pkg/sub/__init__.py": "from pkg import X\n" + APPENDING_INIT,
            "pkg/sub/more/plugin.py": "P = 'found'\n",
        },
        "pkg.sub",
        "",
    ),
    # pkgutil.extend_path rebinds __path__ to a new list: one portion per sys.path entry
    "extend_path": (
        {
            "pkg/__init__.py": EXTEND_PATH_INIT + "VALUE = 1\n",
            "other/pkg/__init__.py": EXTEND_PATH_INIT,
            "other/pkg/plugin.py": "P = 'found'\n",
        },
        "pkg",
        "sys.path.insert(1, os.path.abspath('other'))\n",
    ),
    # a finder gave the package two locations, and its __init__ appends a third
    "finder_with_two_locations": (
        {"pkg/__init__.py": APPENDING_INIT + "VALUE = 1\n", "second/plugin.py": "P = 'found'\n"},
        "pkg",
        FINDER,
    ),
}


@pytest.mark.parametrize("layout", list(PATH_LAYOUTS))
def test_package_extending_its_path_matches_a_fresh_import_after_reloads(
    project: Project, layout: str
) -> None:
    files, name, setup = PATH_LAYOUTS[layout]
    project.write(files)
    out = project.result(
        setup
        + textwrap.dedent(
            f"""
        import importlib
        import {name}
        package = sys.modules["{name}"]
        fresh = list(package.__path__)
        fresh_spec = list(package.__spec__.submodule_search_locations)
        r = hotmod.Reloader("pkg")
        paths = []
        for n in range(3):
            Path("pkg/__init__.py").write_text(Path("pkg/__init__.py").read_text() + "# edit\\n")
            result = r.reload("pkg")
            assert result.ok, result
            package = sys.modules["{name}"]
            paths.append([package.__path__ == fresh,
                          package.__spec__.submodule_search_locations == fresh_spec])
        emit(fresh=len(fresh), paths=paths, plugin=importlib.import_module("{name}.plugin").P)
        """
        )
    )
    assert out == {
        "fresh": 3 if layout == "finder_with_two_locations" else 2,
        "paths": [[True, True]] * 3,
        "plugin": "found",
    }


def test_a_member_imported_by_another_runs_from_memory_at_every_reload(project: Project) -> None:
    """A cycle member the import system re-imports inside another member's import (pkg.b,
    inside pkg.a's ``from pkg.b import two``) runs under a new spec: the code kept in memory
    must follow it, or every later reload reads that module's bytecode from disk again."""
    project.write(TWO_CYCLE)
    out = project.result(
        """
        import importlib.machinery
        import pkg.a, pkg.user
        loaded = []
        get_code = importlib.machinery.SourceFileLoader.get_code
        def counting(self, fullname):
            loaded.append(fullname)
            return get_code(self, fullname)
        importlib.machinery.SourceFileLoader.get_code = counting
        r = hotmod.Reloader("pkg")
        rounds = []
        for value in (10, 20, 30):
            edit("pkg/a.py", f"one = {value // 10 if value == 10 else value - 10}",
                 f"one = {value}")
            del loaded[:]
            result = r.reload("pkg.a")
            rounds.append([result.ok, list(result.reloaded), sys.modules["pkg.user"].get(),
                           sorted(loaded)])
        emit(rounds=rounds)
        """
    )
    assert out["rounds"] == [
        # the first reload reads what was never kept: the modules imported before hotmod
        [True, ["pkg.a", "pkg.b", "pkg.user"], 12, ["pkg.b", "pkg.user"]],
        [True, ["pkg.a", "pkg.b", "pkg.user"], 22, []],
        [True, ["pkg.a", "pkg.b", "pkg.user"], 32, []],
    ]
