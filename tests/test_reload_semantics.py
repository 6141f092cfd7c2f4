"""What a reload re-executes, in which order, and what the process sees afterwards.

Every test runs a fresh interpreter on a package written to a temporary folder; each module
records its executions in ``builtins.EXECUTED`` (see conftest), so the assertions name exactly
the modules that ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import Project


def test_chain_reloads_changed_module_and_dependents_in_order(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "VALUE = 1\n",
            "pkg/b.py": "from pkg import a\ndef get():\n    return a.VALUE\n",
            "pkg/c.py": "from pkg.b import get\ndef twice():\n    return 2 * get()\n",
            "pkg/unrelated.py": "X = 1\n",
        }
    )
    out = project.results(
        """
        import pkg.c, pkg.unrelated
        r = hotmod.Reloader("pkg")
        for target, old, new in [("pkg.a", "VALUE = 1", "VALUE = 2"),
                                 ("pkg.b", "a.VALUE\\n", "a.VALUE + 10\\n"),
                                 ("pkg.c", "2 * get()", "3 * get()")]:
            reset()
            edit(target.replace(".", "/") + ".py", old, new)
            result = r.reload(target)
            emit(executed=executed(), evicted=list(result.evicted),
                 reloaded=list(result.reloaded), value=sys.modules["pkg.c"].twice())
        """
    )
    assert out == [
        {
            "executed": ["pkg.a", "pkg.b", "pkg.c"],
            "evicted": ["pkg.c", "pkg.b", "pkg.a"],
            "reloaded": ["pkg.a", "pkg.b", "pkg.c"],
            "value": 4,
        },
        {
            "executed": ["pkg.b", "pkg.c"],
            "evicted": ["pkg.c", "pkg.b"],
            "reloaded": ["pkg.b", "pkg.c"],
            "value": 24,
        },
        {
            "executed": ["pkg.c"],
            "evicted": ["pkg.c"],
            "reloaded": ["pkg.c"],
            "value": 36,
        },
    ]


def test_diamond_reloads_the_join_exactly_once(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "N = 1\n",
            "pkg/left.py": "from pkg.base import N\nL = N\n",
            "pkg/right.py": "from . import base\nR = base.N\n",
            "pkg/top.py": "from pkg import left, right\nTOTAL = left.L + right.R\n",
        }
    )
    out = project.result(
        """
        import pkg.top
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/base.py", "N = 1", "N = 5")
        result = r.reload("pkg.base")
        emit(executed=executed(), evicted=list(result.evicted), reloaded=list(result.reloaded),
             total=sys.modules["pkg.top"].TOTAL)
        """
    )
    assert out == {
        "executed": ["pkg.base", "pkg.left", "pkg.right", "pkg.top"],
        "evicted": ["pkg.top", "pkg.right", "pkg.left", "pkg.base"],
        "reloaded": ["pkg.base", "pkg.left", "pkg.right", "pkg.top"],
        "total": 10,
    }


def wide_graph() -> dict[str, list[int]]:
    """m0..m14, each importing a few lower-numbered modules, in varied import forms."""
    return {
        f"m{i}": [j for j in range(i) if (i * 7 + j * 3) % 4 == 0 or j == i // 2] for i in range(15)
    }


def test_wide_graph_reload_order_respects_every_edge(project: Project) -> None:
    edges = wide_graph()
    forms = [
        "import pkg.{0}\n",
        "from pkg import {0}\n",
        "from . import {0}\n",
        "from .{0} import X\n",
        "def f_{0}():\n    import pkg.{0}\n",
    ]
    files = {"pkg/__init__.py": ""}
    for name, deps in edges.items():
        body = "".join(forms[(int(name[1:]) + j) % len(forms)].format(f"m{j}") for j in deps)
        files[f"pkg/{name}.py"] = body + "X = 1\n"
    project.write(files)
    out = project.result(
        """
        import importlib
        for i in reversed(range(15)):
            importlib.import_module(f"pkg.m{i}")
        r = hotmod.Reloader("pkg")
        reset()
        result = r.reload("pkg.m0")
        emit(executed=executed(), evicted=list(result.evicted), reloaded=list(result.reloaded),
             deps={n: sorted(r.graph.dependencies(n)) for n in sys.modules
                   if n.startswith("pkg.")})
        """
    )
    users: dict[str, set[str]] = {name: set() for name in edges}
    for name, deps in edges.items():
        for j in deps:
            users[f"m{j}"].add(name)
    reached, frontier = {"m0"}, ["m0"]
    while frontier:
        for user in users[frontier.pop()]:
            if user not in reached:
                reached.add(user)
                frontier.append(user)
    expected = {f"pkg.{n}" for n in reached}
    deps_found = out["deps"]
    assert isinstance(deps_found, dict)
    assert {name: [d for d in deps if d != "pkg"] for name, deps in deps_found.items()} == {
        f"pkg.{name}": sorted(f"pkg.m{j}" for j in deps) for name, deps in edges.items()
    }  # (`import pkg.mJ` also imports and binds pkg: an edge to it as well)
    reloaded, evicted = out["reloaded"], out["evicted"]
    assert isinstance(reloaded, list)
    assert isinstance(evicted, list)
    assert len(reloaded) == len(set(reloaded)) == len(expected) > 8
    assert set(reloaded) == set(evicted) == expected
    assert out["executed"] == reloaded
    for name, deps in edges.items():
        for j in deps:
            a, b = f"pkg.{name}", f"pkg.m{j}"
            if a in expected and b in expected:
                assert reloaded.index(b) < reloaded.index(a), (b, a)
                assert evicted.index(a) < evicted.index(b), (a, b)


def test_several_targets_reload_each_module_once(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "",
            "pkg/b.py": "import pkg.a\n",
            "pkg/c.py": "import pkg.b\n",
            "pkg/d.py": "",
        }
    )
    out = project.result(
        """
        import pkg.c, pkg.d
        r = hotmod.Reloader("pkg")
        reset()
        result = r.reload("pkg.c", "pkg.a", "pkg.b", "pkg.a")
        emit(executed=executed(), evicted=list(result.evicted), reloaded=list(result.reloaded),
             changed=[p.name for p in result.changed])
        """
    )
    assert out == {
        "executed": ["pkg.a", "pkg.b", "pkg.c"],
        "evicted": ["pkg.c", "pkg.b", "pkg.a"],
        "reloaded": ["pkg.a", "pkg.b", "pkg.c"],
        "changed": ["c.py", "a.py", "b.py"],
    }


def test_cycle_is_reimported_as_one_unit_seeing_new_versions(project: Project) -> None:
    # a <-> b through `from . import x`: when b's new code runs, the package attribute pkg.a
    # must not hand it the old a.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\nVERSION = 1\ndef other():\n    return b.VERSION\n",
            "pkg/b.py": "from . import a\nVERSION = 1\ndef other():\n    return a.VERSION\n",
            "pkg/user.py": "from pkg.b import other\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.user
        r = hotmod.Reloader("pkg")
        deps = {n: sorted(r.graph.dependencies(n)) for n in ("pkg.a", "pkg.b", "pkg.user")}
        old_a, old_b = sys.modules["pkg.a"], sys.modules["pkg.b"]
        reset()
        edit("pkg/a.py", "VERSION = 1", "VERSION = 2")
        result = r.reload("pkg.a")
        a, b, pkg = sys.modules["pkg.a"], sys.modules["pkg.b"], sys.modules["pkg"]
        emit(deps=deps, executed=executed(), evicted=list(result.evicted),
             reloaded=list(result.reloaded), a_sees_new_b=a.b is b, b_sees_new_a=b.a is a,
             both_new=a is not old_a and b is not old_b,
             attrs=pkg.a is a and pkg.b is b, via_b=b.other(),
             user_new=sys.modules["pkg.user"].other is b.other)
        """
    )
    assert out == {
        "deps": {"pkg.a": ["pkg.b"], "pkg.b": ["pkg.a"], "pkg.user": ["pkg.b"]},
        # `import pkg.a` entered the cycle (b completed nested inside a, so a completed last):
        # as in a fresh import, a runs first and b runs nested inside a's `from . import b`.
        "executed": ["pkg.a", "pkg.b", "pkg.user"],
        "evicted": ["pkg.user", "pkg.b", "pkg.a"],
        "reloaded": ["pkg.a", "pkg.b", "pkg.user"],
        "a_sees_new_b": True,
        "b_sees_new_a": True,
        "both_new": True,
        "attrs": True,
        "via_b": 2,
        "user_new": True,
    }


def test_cycle_through_from_package_import_names(project: Project) -> None:
    # `from pkg.x import name` cycles resolve through functions: both sides must end up new.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/x.py": "import pkg.y\nX = 1\ndef y_value():\n    return pkg.y.Y\n",
            "pkg/y.py": "import pkg.x\nY = 1\ndef x_value():\n    return pkg.x.X\n",
        }
    )
    out = project.result(
        """
        import pkg.x
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/y.py", "Y = 1", "Y = 2")
        edit("pkg/x.py", "X = 1", "X = 30")  # another size: the .pyc cannot match
        result = r.reload(Path("pkg/y.py"))
        x, y = sys.modules["pkg.x"], sys.modules["pkg.y"]
        emit(executed=executed(), reloaded=list(result.reloaded),
             values=[x.y_value(), y.x_value()])
        """
    )
    # x was not a target, but it is in the cycle: re-executed, and from its current source;
    # first, as `import pkg.x` entered the cycle.
    assert out == {
        "executed": ["pkg.x", "pkg.y"],
        "reloaded": ["pkg.x", "pkg.y"],
        "values": [2, 30],
    }


def test_every_import_form_is_an_edge(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "NAME = 'in init'\n",
            "pkg/target.py": "VALUE = 1\n",
            "pkg/f_import.py": "import pkg.target\n",
            "pkg/f_import_as.py": "import pkg.target as t\n",
            "pkg/f_from_pkg.py": "from pkg import target\n",
            "pkg/f_from_dot.py": "from . import target\n",
            "pkg/f_from_name.py": "from pkg.target import VALUE\n",
            "pkg/f_from_dot_name.py": "from .target import VALUE\n",
            "pkg/f_star.py": "from pkg.target import *\n",
            "pkg/f_function.py": "def f():\n    import pkg.target\n",
            "pkg/f_class.py": "class C:\n    from pkg import target\n",
            "pkg/f_if.py": "import sys\nif sys:\n    from pkg import target\n",
            "pkg/f_try.py": "try:\n    from pkg import target\nexcept ImportError:\n    pass\n",
            "pkg/f_import_module.py": "import importlib\nimportlib.import_module('pkg.target')\n",
            "pkg/f_import_module_rel.py": (
                "import importlib\nm = importlib.import_module('.target', __package__)\n"
            ),
            "pkg/f_dunder_import.py": "__import__('pkg.target')\n",
            "pkg/n_type_checking.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.target\n"
            ),
            "pkg/n_from_pkg_name.py": "from pkg import NAME\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/f_from_dotdot.py": "from .. import target\n",
            "pkg/sub/f_from_dotdot_name.py": "from ..target import VALUE\n",
        }
    )
    out = project.result(
        """
        import pkgutil
        import pkg, pkg.sub
        names = sorted(m.name for m in pkgutil.walk_packages(pkg.__path__, "pkg."))
        for name in names:
            __import__(name)
        r = hotmod.Reloader("pkg")
        dependents = sorted(r.graph.dependents("pkg.target"))
        reset()
        result = r.reload("pkg.target")
        emit(dependents=dependents, executed=sorted(executed()),
             reloaded=sorted(result.reloaded), first=result.reloaded[0],
             evicted_last=result.evicted[-1],
             deps_of_pkg_name=sorted(r.graph.dependencies("pkg.n_from_pkg_name")))
        """
    )
    forms = [
        "pkg.f_class",
        "pkg.f_dunder_import",
        "pkg.f_from_dot",
        "pkg.f_from_dot_name",
        "pkg.f_from_name",
        "pkg.f_from_pkg",
        "pkg.f_function",
        "pkg.f_if",
        "pkg.f_import",
        "pkg.f_import_as",
        "pkg.f_import_module",
        "pkg.f_import_module_rel",
        "pkg.f_star",
        "pkg.f_try",
        "pkg.sub.f_from_dotdot",
        "pkg.sub.f_from_dotdot_name",
    ]
    assert out == {
        "dependents": forms,
        "executed": sorted([*forms, "pkg.target"]),
        "reloaded": sorted([*forms, "pkg.target"]),
        "first": "pkg.target",
        "evicted_last": "pkg.target",
        "deps_of_pkg_name": ["pkg"],
    }


def test_imports_under_the_main_guard_are_not_dependencies(project: Project) -> None:
    # Code under `if __name__ == "__main__":` never runs when the module is imported, so a
    # change to what it imports must not re-execute it; an import inside a function does.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/x.py": "VALUE = 1\n",
            "pkg/tool.py": """\
                import sys
                TOOL = 'tool'
                if __name__ == "__main__":
                    from pkg import x
                    print(x.VALUE)
                """,
            "pkg/tool_reversed.py": """\
                if "__main__" == __name__:
                    import pkg.x
                """,
            "pkg/lazy.py": "def get():\n    from pkg.x import VALUE\n    return VALUE\n",
            "pkg/user.py": "from pkg.x import VALUE\n",
        }
    )
    out = project.result(
        """
        import pkg.tool, pkg.tool_reversed, pkg.lazy, pkg.user
        r = hotmod.Reloader("pkg")
        dependents = sorted(r.graph.dependents("pkg.x"))
        reset()
        edit("pkg/x.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.x")
        emit(ok=result.ok, dependents=dependents, executed=sorted(executed()),
             user=sys.modules["pkg.user"].VALUE, lazy=sys.modules["pkg.lazy"].get(),
             tool_is_old=sys.modules["pkg.tool"] is pkg.tool)
        """
    )
    assert out == {
        "ok": True,
        "dependents": ["pkg.lazy", "pkg.user"],
        "executed": ["pkg.lazy", "pkg.user", "pkg.x"],
        "user": 2,
        "lazy": 2,
        "tool_is_old": True,
    }


def test_relative_imports_at_several_depths(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/core.py": "N = 1\n",
            "pkg/sub/__init__.py": "from ..core import N as SUB_N\n",
            "pkg/sub/mid.py": "from .. import core\nfrom . import leafless\n",
            "pkg/sub/leafless.py": "",
            "pkg/sub/deep/__init__.py": "",
            "pkg/sub/deep/leaf.py": (
                "from ...core import N\nfrom ..mid import core as c\nfrom . import sibling\n"
            ),
            "pkg/sub/deep/sibling.py": "from ... import core\n",
        }
    )
    out = project.result(
        """
        import pkg.sub.deep.leaf
        r = hotmod.Reloader("pkg")
        deps = {n: sorted(r.graph.dependencies(n)) for n in
                ("pkg.sub", "pkg.sub.mid", "pkg.sub.deep", "pkg.sub.deep.leaf",
                 "pkg.sub.deep.sibling")}
        reset()
        edit("pkg/core.py", "N = 1", "N = 2")
        result = r.reload("pkg.core")
        emit(deps=deps, executed=executed(), evicted=list(result.evicted),
             reloaded=list(result.reloaded), n=sys.modules["pkg.sub.deep.leaf"].N,
             sub_n=sys.modules["pkg.sub"].SUB_N,
             kept_attrs=[sys.modules["pkg.sub"].deep is sys.modules["pkg.sub.deep"],
                         sys.modules["pkg.sub"].mid is sys.modules["pkg.sub.mid"],
                         sys.modules["pkg"].sub is sys.modules["pkg.sub"]])
        """
    )
    assert out == {
        "deps": {
            "pkg.sub": ["pkg.core"],
            "pkg.sub.mid": ["pkg.core", "pkg.sub.leafless"],
            "pkg.sub.deep": [],
            "pkg.sub.deep.leaf": ["pkg.core", "pkg.sub.deep.sibling", "pkg.sub.mid"],
            "pkg.sub.deep.sibling": ["pkg.core"],
        },
        "executed": [
            "pkg.core",
            "pkg.sub",
            "pkg.sub.mid",
            "pkg.sub.deep.sibling",
            "pkg.sub.deep.leaf",
        ],
        "evicted": [
            "pkg.sub.deep.leaf",
            "pkg.sub.deep.sibling",
            "pkg.sub.mid",
            "pkg.sub",
            "pkg.core",
        ],
        "reloaded": [
            "pkg.core",
            "pkg.sub",
            "pkg.sub.mid",
            "pkg.sub.deep.sibling",
            "pkg.sub.deep.leaf",
        ],
        "n": 2,
        "sub_n": 2,
        "kept_attrs": [True, True, True],
    }


def test_namespace_package_modules_reload(project: Project) -> None:
    project.write(
        {
            "ns/mod.py": "VALUE = 1\n",
            "ns/user.py": "from ns import mod\nfrom . import mod as again\n",
            "ns/inner/leaf.py": "from ..mod import VALUE\n",
        }
    )
    out = project.result(
        """
        import ns.user, ns.inner.leaf
        r = hotmod.Reloader("ns")
        reset()
        edit("ns/mod.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("ns.mod")
        try:
            r.reload("ns")
        except ValueError as exc:
            refused = "ns" in str(exc)
        emit(executed=executed(), evicted=list(result.evicted), reloaded=list(result.reloaded),
             value=sys.modules["ns.inner.leaf"].VALUE, attr=sys.modules["ns"].mod.VALUE,
             refused=refused, roots=[str(p) for p in r.roots])
        """
    )
    assert out == {
        "executed": ["ns.mod", "ns.user", "ns.inner.leaf"],
        "evicted": ["ns.inner.leaf", "ns.user", "ns.mod"],
        "reloaded": ["ns.mod", "ns.user", "ns.inner.leaf"],
        "value": 2,
        "attr": 2,
        "refused": True,
        "roots": [os.path.realpath(project.root / "ns")],
    }


def test_package_init_change_keeps_submodules_as_attributes(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "GREETING = 'hi'\n",
            "pkg/a.py": "X = 1\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "from pkg import GREETING\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.sub.b
        r = hotmod.Reloader("pkg")
        old_pkg, a, sub = sys.modules["pkg"], sys.modules["pkg.a"], sys.modules["pkg.sub"]
        reset()
        edit("pkg/__init__.py", "'hi'", "'hello'")
        result = r.reload(Path("pkg/__init__.py"))
        pkg = sys.modules["pkg"]
        emit(executed=executed(), evicted=list(result.evicted), reloaded=list(result.reloaded),
             new_package=pkg is not old_pkg, a_kept=sys.modules["pkg.a"] is a and pkg.a is a,
             sub_kept=pkg.sub is sub, b_new=pkg.sub.b is sys.modules["pkg.sub.b"],
             greeting=sys.modules["pkg.sub.b"].GREETING)
        """
    )
    assert out == {
        "executed": ["pkg", "pkg.sub.b"],
        "evicted": ["pkg.sub.b", "pkg"],
        "reloaded": ["pkg", "pkg.sub.b"],
        "new_package": True,
        "a_kept": True,
        "sub_kept": True,
        "b_new": True,
        "greeting": "hello",
    }


def test_package_that_imports_its_changed_submodule(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "from .impl import run\nfrom . import other\n",
            "pkg/impl.py": "def run():\n    return 1\n",
            "pkg/other.py": "",
        }
    )
    out = project.result(
        """
        import pkg
        r = hotmod.Reloader("pkg")
        other = sys.modules["pkg.other"]
        reset()
        edit("pkg/impl.py", "return 1", "return 2")
        result = r.reload("pkg.impl")
        pkg = sys.modules["pkg"]
        emit(executed=sorted(executed()), evicted=list(result.evicted),
             reloaded=list(result.reloaded), run=pkg.run(),
             impl_attr=pkg.impl is sys.modules["pkg.impl"],
             other_kept=pkg.other is other and sys.modules["pkg.other"] is other)
        """
    )
    assert out == {
        "executed": ["pkg", "pkg.impl"],
        "evicted": ["pkg", "pkg.impl"],
        "reloaded": ["pkg.impl", "pkg"],
        "run": 2,
        "impl_attr": True,
        "other_kept": True,
    }


def test_reload_by_path_any_spelling(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/a.py": "", "pkg/b.py": "from . import a\n"})
    out = project.results(
        """
        import pkg.b
        r = hotmod.Reloader("pkg")
        here = Path.cwd()
        for target in [Path("pkg/a.py"), here / "pkg" / "a.py",
                       here / "pkg" / ".." / "pkg" / "a.py", Path("pkg/__init__.py")]:
            reset()
            result = r.reload(target)
            emit(executed=executed(), reloaded=list(result.reloaded),
                 changed=[str(p) for p in result.changed])
        """
    )
    a = os.path.realpath(project.root / "pkg" / "a.py")
    init = os.path.realpath(project.root / "pkg" / "__init__.py")
    assert out == [
        {"executed": ["pkg.a", "pkg.b"], "reloaded": ["pkg.a", "pkg.b"], "changed": [a]},
        {"executed": ["pkg.a", "pkg.b"], "reloaded": ["pkg.a", "pkg.b"], "changed": [a]},
        {"executed": ["pkg.a", "pkg.b"], "reloaded": ["pkg.a", "pkg.b"], "changed": [a]},
        {"executed": ["pkg"], "reloaded": ["pkg"], "changed": [init]},
    ]


def test_reload_through_a_symlinked_package_folder(project: Project) -> None:
    project.write({"real/pkg/__init__.py": "", "real/pkg/a.py": "X = 1\n"})
    (project.root / "pkg").symlink_to(project.root / "real" / "pkg", target_is_directory=True)
    out = project.results(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        for target in [Path("pkg/a.py"), Path("real/pkg/a.py")]:
            reset()
            edit(target, "X = ", "X = 1 + ")
            result = r.reload(target)
            emit(executed=executed(), reloaded=list(result.reloaded), x=sys.modules["pkg.a"].X)
        """
    )
    assert out == [
        {"executed": ["pkg.a"], "reloaded": ["pkg.a"], "x": 2},
        {"executed": ["pkg.a"], "reloaded": ["pkg.a"], "x": 3},
    ]


def test_a_file_imported_under_two_names_reloads_both_modules(project: Project) -> None:
    # The double-import trap: the package folder is on sys.path too, so pkg/mod.py runs as
    # `pkg.mod` and as `mod`, two modules. An edit must reach both, by path and from the
    # watcher: the one not reloaded would keep serving the old code without a word.
    project.write({"pkg/__init__.py": "", "pkg/mod.py": "X = 1\n", "pkg/user.py": "import mod\n"})
    out = project.results(
        """
        sys.path.insert(0, str(Path("pkg").resolve()))
        import pkg.mod, user
        r = hotmod.Reloader("pkg", "mod", "user", background=False)
        reset()
        edit("pkg/mod.py", "X = 1", "X = 2")
        result = r.reload(Path("pkg/mod.py"))
        emit(executed=executed(), reloaded=sorted(result.reloaded),
             changed=[Path(p).name for p in result.changed],
             x=[sys.modules["pkg.mod"].X, sys.modules["mod"].X, sys.modules["user"].mod.X])
        r.start()
        reset()
        save("pkg/mod.py", "X = 2", "X = 3")
        wait_seen(r)
        result = r.check()
        emit(executed=executed(), reloaded=sorted(result.reloaded),
             x=[sys.modules["pkg.mod"].X, sys.modules["mod"].X, sys.modules["user"].mod.X])
        r.stop()
        """
    )
    assert out == [
        {
            "executed": ["pkg.mod", "mod", "user"],
            "reloaded": ["mod", "pkg.mod", "user"],
            "changed": ["mod.py"],
            "x": [2, 2, 2],
        },
        {"executed": ["pkg.mod", "mod", "user"], "reloaded": ["mod", "pkg.mod", "user"],
         "x": [3, 3, 3]},
    ]  # fmt: skip


def test_a_twin_module_outside_the_watched_packages_is_warned_about(project: Project) -> None:
    # The same trap with only `pkg` watched: `mod` cannot be reloaded, and says so (once), in
    # whichever order the two names were imported.
    project.write({"pkg/__init__.py": "", "pkg/mod.py": "X = 1\n"})
    out = project.results(
        """
        records = _Records()
        logging.getLogger("hotmod").addHandler(records)
        sys.path.insert(0, str(Path("pkg").resolve()))
        import mod, pkg.mod
        r = hotmod.Reloader("pkg")
        for n in (2, 3):
            edit("pkg/mod.py", f"X = {n - 1}", f"X = {n}")
            result = r.reload(Path("pkg/mod.py"))
            emit(reloaded=list(result.reloaded), x=[sys.modules["pkg.mod"].X, mod.X],
                 warnings=[rec.getMessage() for rec in records.records
                           if rec.levelno == logging.WARNING])
        """
    )
    path = os.path.realpath(project.root / "pkg" / "mod.py")
    warning = (
        f"{path} is also loaded as module mod, which is not watched: pkg.mod was reloaded, mod "
        "keeps running the old code; import the file under one name, or watch mod too"
    )
    assert out == [
        {"reloaded": ["pkg.mod"], "x": [2, 1], "warnings": [warning]},
        {"reloaded": ["pkg.mod"], "x": [3, 1], "warnings": [warning]},
    ]


def test_a_watched_file_run_only_as_an_unwatched_module_is_warned_about(project: Project) -> None:
    # A plugin file of the package folder loaded under a name of its own: its edits reach no
    # watched module, and the watcher says so (once) instead of ignoring them without a word.
    project.write({"pkg/__init__.py": "", "pkg/plugin.py": "X = 1\n"})
    out = project.results(
        """
        import importlib.util
        records = _Records()
        logging.getLogger("hotmod").addHandler(records)
        spec = importlib.util.spec_from_file_location("plugin_x", "pkg/plugin.py")
        plugin = sys.modules["plugin_x"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plugin)
        import pkg
        r = hotmod.Reloader("pkg", background=False).start()
        for n in (2, 3):
            save("pkg/plugin.py", f"X = {n - 1}", f"X = {n}")
            wait_seen(r)
            emit(result=str(r.check()), x=sys.modules["plugin_x"].X,
                 warnings=[rec.getMessage() for rec in records.records
                           if rec.levelno == logging.WARNING])
        r.stop()
        """
    )
    path = os.path.realpath(project.root / "pkg" / "plugin.py")
    warning = (
        f"{path} changed, but it is loaded as module plugin_x, which is not watched: plugin_x "
        "keeps running the old code; watch plugin_x too (Reloader(..., 'plugin_x')), or restart"
    )
    assert out == [
        {"result": "None", "x": 1, "warnings": [warning]},
        {"result": "None", "x": 1, "warnings": [warning]},
    ]


def test_never_imported_file_in_symlinked_package_reloads_nothing(project: Project) -> None:
    project.write({"real/pkg/__init__.py": "", "real/pkg/unused.py": ""})
    (project.root / "pkg").symlink_to(project.root / "real" / "pkg", target_is_directory=True)
    out = project.result(
        """
        import pkg
        r = hotmod.Reloader("pkg")
        reset()
        result = r.reload(Path("pkg/unused.py"))
        emit(executed=executed(), reloaded=list(result.reloaded), ok=result.ok)
        """
    )
    assert out == {"executed": [], "reloaded": [], "ok": True}


def test_src_layout_package_reloads_by_name_and_path(project: Project) -> None:
    project.write({"src/app/__init__.py": "", "src/app/core.py": "X = 1\n"})
    out = project.results(
        """
        sys.path.insert(0, str(Path("src").resolve()))
        import app.core
        r = hotmod.Reloader("app")
        for target in ["app.core", Path("src/app/core.py")]:
            reset()
            result = r.reload(target)
            emit(executed=executed(), reloaded=list(result.reloaded))
        """
    )
    assert out == [{"executed": ["app.core"], "reloaded": ["app.core"]}] * 2


def test_never_imported_file_reloads_nothing_and_is_never_executed(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/used.py": "", "pkg/unused.py": ""})
    out = project.results(
        """
        import pkg.used
        r = hotmod.Reloader("pkg")
        for target in [Path("pkg/unused.py"), "pkg.unused"]:
            reset()
            result = r.reload(target)
            emit(executed=executed(), evicted=list(result.evicted),
                 reloaded=list(result.reloaded), ok=result.ok, rolled_back=result.rolled_back,
                 loaded="pkg.unused" in sys.modules, attr=hasattr(sys.modules["pkg"], "unused"))
        """
    )
    nothing = {
        "executed": [],
        "evicted": [],
        "reloaded": [],
        "ok": True,
        "rolled_back": False,
        "loaded": False,
        "attr": False,
    }
    assert out == [nothing, nothing]


def test_module_imported_after_the_reloader_was_created_is_reloadable(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/early.py": "", "pkg/late.py": "import pkg.early\n"})
    out = project.results(
        """
        import pkg.early
        r = hotmod.Reloader("pkg")
        import pkg.late
        for target in ["pkg.late", Path("pkg/late.py"), "pkg.early"]:
            reset()
            result = r.reload(target)
            emit(executed=executed(), reloaded=list(result.reloaded))
        """
    )
    assert out == [
        {"executed": ["pkg.late"], "reloaded": ["pkg.late"]},
        {"executed": ["pkg.late"], "reloaded": ["pkg.late"]},
        {"executed": ["pkg.early", "pkg.late"], "reloaded": ["pkg.early", "pkg.late"]},
    ]


def test_module_imported_while_another_was_removed_is_reloadable(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/gone.py": "", "pkg/late.py": ""})
    out = project.result(
        """
        import pkg.gone
        r = hotmod.Reloader("pkg")
        del sys.modules["pkg.gone"]
        import pkg.late
        reset()
        result = r.reload("pkg.late")
        emit(executed=executed(), reloaded=list(result.reloaded))
        """
    )
    assert out == {"executed": ["pkg.late"], "reloaded": ["pkg.late"]}


def test_lazy_reload_only_evicts_and_next_import_runs_new_code(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": "from pkg.config import VALUE\n",
            "pkg/other.py": "",
        }
    )
    out = project.result(
        """
        import pkg.service, pkg.other
        r = hotmod.Reloader("pkg", eager=False)
        old_config = sys.modules["pkg.config"]
        reset()
        edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.config")
        after_reload = executed()
        gone = [n for n in ("pkg.config", "pkg.service") if n not in sys.modules]
        attrs_gone = [n for n in ("config", "service") if n not in vars(sys.modules["pkg"])]
        from pkg import config
        after_from = executed()
        import pkg.service
        emit(ok=result.ok, evicted=list(result.evicted), reloaded=list(result.reloaded),
             after_reload=after_reload, gone=gone, attrs_gone=attrs_gone,
             after_from=after_from, executed=executed(), from_is_new=config is not old_config,
             value=config.VALUE, service=pkg.service.VALUE,
             same=sys.modules["pkg.config"] is config is sys.modules["pkg"].config)
        """
    )
    assert out == {
        "ok": True,
        "evicted": ["pkg.service", "pkg.config"],
        "reloaded": [],
        "after_reload": [],
        "gone": ["pkg.config", "pkg.service"],
        "attrs_gone": ["config", "service"],
        "after_from": ["pkg.config"],
        "executed": ["pkg.config", "pkg.service"],
        "from_is_new": True,
        "value": 2,
        "service": 2,
        "same": True,
    }


def test_lazy_reload_twice_before_reimport(project: Project) -> None:
    project.write(
        {"pkg/__init__.py": "", "pkg/a.py": "", "pkg/b.py": "import pkg.a\n", "pkg/c.py": ""}
    )
    out = project.results(
        """
        import pkg.b, pkg.c
        r = hotmod.Reloader("pkg", eager=False)
        first = r.reload("pkg.a")
        second = r.reload("pkg.c")
        import pkg.b
        reset()
        third = r.reload("pkg.a")
        for result in (first, second, third):
            emit(ok=result.ok, evicted=list(result.evicted), reloaded=list(result.reloaded))
        emit(executed=executed())
        """
    )
    assert out == [
        {"ok": True, "evicted": ["pkg.b", "pkg.a"], "reloaded": []},
        {"ok": True, "evicted": ["pkg.c"], "reloaded": []},
        {"ok": True, "evicted": ["pkg.b", "pkg.a"], "reloaded": []},
        {"executed": []},
    ]


def test_rebound_sys_modules_evicts_from_both_dicts_and_warns(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": "from pkg.config import VALUE\n",
        }
    )
    out = project.result(
        """
        import hotmod._module_dict as md
        import pkg.service
        r = hotmod.Reloader("pkg")
        records = []
        class Grab(logging.Handler):
            def emit(self, record):
                records.append((record.levelname, record.getMessage()))
        logging.getLogger("hotmod").addHandler(Grab())
        live = md.live_modules()
        old = live["pkg.config"]
        sys.modules = dict(sys.modules)
        reset()
        edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.config")
        new = {n: (n in live, n in sys.modules, live.get(n) is sys.modules.get(n))
               for n in ("pkg.config", "pkg.service")}
        warnings = [m for level, m in records if level == "WARNING"]
        emit(executed=executed(), reloaded=list(result.reloaded), new=new,
             old_gone=old not in live.values() and old not in sys.modules.values(),
             value=live["pkg.service"].VALUE, live_is_real=live is md._read_live_modules_afresh(),
             warned=len(warnings) == 1 and "rebound" in warnings[0])
        """
    )
    assert out == {
        "executed": ["pkg.config", "pkg.service"],
        "reloaded": ["pkg.config", "pkg.service"],
        "new": {"pkg.config": [True, True, True], "pkg.service": [True, True, True]},
        "old_gone": True,
        "value": 2,
        "live_is_real": True,
        "warned": True,
    }


def test_rebound_sys_modules_cycle_runs_each_member_once(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "from . import a\n",
        }
    )
    out = project.result(
        """
        import hotmod._module_dict as md
        import pkg.a
        r = hotmod.Reloader("pkg")
        sys.modules = dict(sys.modules)
        reset()
        result = r.reload("pkg.a")
        live = md.live_modules()
        a, b = live["pkg.a"], live["pkg.b"]
        emit(executed=executed(), reloaded=list(result.reloaded), b_sees_a=b.a is a,
             a_sees_b=a.b is b, visible=[sys.modules[n] is live[n] for n in ("pkg.a", "pkg.b")])
        """
    )
    assert out == {
        "executed": ["pkg.a", "pkg.b"],
        "reloaded": ["pkg.a", "pkg.b"],
        "b_sees_a": True,
        "a_sees_b": True,
        "visible": [True, True],
    }


SAME_SIZE_EDIT = """
    import importlib.util
    import pkg.service
    r = hotmod.Reloader("pkg", eager={eager})
    path = Path("pkg/config.py")
    had_pyc = Path(importlib.util.cache_from_source(str(path))).exists()
    st = path.stat()
    edit(path, "VALUE = 1", "VALUE = 2")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the .pyc header still matches
    same_size = path.stat().st_size == st.st_size
    result = r.reload("pkg.config")
    import pkg.service
    emit(had_pyc=had_pyc, same_size=same_size, ok=result.ok,
         value=sys.modules["pkg.service"].VALUE)
    """

FRESH_IMPORT = """
    import importlib.util
    import pkg.service
    pyc = Path(importlib.util.cache_from_source(os.path.abspath("pkg/config.py")))
    emit(value=pkg.service.VALUE, pyc_valid=pyc.read_bytes()[:4] == importlib.util.MAGIC_NUMBER)
    """


@pytest.mark.parametrize(
    "eager",
    [True, False],
)
def test_same_size_edit_in_the_same_second_runs_new_source(project: Project, eager: bool) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": "from pkg.config import VALUE\n",
        }
    )
    assert project.result(SAME_SIZE_EDIT.format(eager=eager)) == {
        "had_pyc": True,
        "same_size": True,
        "ok": True,
        "value": 2,
    }
    # a later process must not trust the discarded .pyc; its import writes a valid one again
    assert project.result(FRESH_IMPORT) == {"value": 2, "pyc_valid": True}


def test_reload_with_no_targets_or_nothing_imported(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/a.py": ""})
    out = project.result(
        """
        import pkg
        r = hotmod.Reloader("pkg")
        reset()
        result = r.reload()
        emit(executed=executed(), ok=result.ok, changed=list(result.changed),
             evicted=list(result.evicted), reloaded=list(result.reloaded),
             rolled_back=result.rolled_back, text=str(result))
        """
    )
    assert out == {
        "executed": [],
        "ok": True,
        "changed": [],
        "evicted": [],
        "reloaded": [],
        "rolled_back": False,
        "text": "nothing to reload (changed: nothing)",
    }


def test_old_modules_are_garbage_collected_after_reload(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\nclass Thing:\n    pass\n",
            "pkg/service.py": "from pkg.config import VALUE, Thing\ndef get():\n    return VALUE\n",
        }
    )
    out = project.result(
        """
        import gc, weakref
        import pkg.service
        r = hotmod.Reloader("pkg")
        refs = {n: weakref.ref(sys.modules[n]) for n in ("pkg.config", "pkg.service")}
        result = r.reload("pkg.config")
        gc.collect()
        emit(ok=result.ok, alive=sorted(n for n, ref in refs.items() if ref()))
        """
    )
    assert out == {"ok": True, "alive": []}


def test_module_reloaded_from_a_file_in_a_path_outside_any_package(project: Project) -> None:
    project.write({"tools/helper.py": "X = 1\n", "tools/uses.py": "import helper\n"})
    out = project.result(
        """
        sys.path.insert(0, str(Path("tools").resolve()))
        import uses
        r = hotmod.Reloader(paths=["tools"])
        reset()
        result = r.reload(Path("tools/helper.py"))
        emit(executed=executed(), reloaded=list(result.reloaded),
             roots=[str(p) for p in r.roots])
        """
    )
    assert out == {
        "executed": ["helper", "uses"],
        "reloaded": ["helper", "uses"],
        "roots": [str(Path(os.path.realpath(project.root / "tools")))],
    }


def test_graph_follows_imports_added_and_removed_by_edits(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": "from pkg.config import VALUE\n",
            "pkg/extra.py": "EXTRA = 1\n",  # not imported by anyone yet
        }
    )
    out = project.results(
        """
        import pkg.service
        r = hotmod.Reloader("pkg")
        def step(target):
            reset()
            result = r.reload(target)
            emit(ok=result.ok, executed=executed(), reloaded=list(result.reloaded),
                 deps=sorted(r.graph.dependencies("pkg.service")))
        edit("pkg/service.py", "from pkg.config import VALUE", "from pkg.extra import EXTRA")
        step("pkg.service")   # service now imports extra (first time) and not config
        step("pkg.config")    # config has no dependents any more
        step("pkg.extra")     # the new module is known, and service depends on it
        """
    )
    assert out == [
        {
            "ok": True,
            "executed": ["pkg.service", "pkg.extra"],
            "reloaded": ["pkg.service"],
            "deps": ["pkg.extra"],
        },
        {"ok": True, "executed": ["pkg.config"], "reloaded": ["pkg.config"], "deps": ["pkg.extra"]},
        {
            "ok": True,
            "executed": ["pkg.extra", "pkg.service"],
            "reloaded": ["pkg.extra", "pkg.service"],
            "deps": ["pkg.extra"],
        },
    ]


def test_package_and_submodule_in_a_cycle(project: Project) -> None:
    # pkg/__init__ defines NAME then imports .a; a imports NAME back from the package.
    project.write(
        {
            "pkg/__init__.py": "NAME = 'one'\nfrom . import a\n",
            "pkg/a.py": "from pkg import NAME\ndef name():\n    return NAME\n",
            "pkg/b.py": "from pkg.a import name\n",
        }
    )
    out = project.result(
        """
        import pkg.b
        r = hotmod.Reloader("pkg")
        deps = {n: sorted(r.graph.dependencies(n)) for n in ("pkg", "pkg.a", "pkg.b")}
        reset()
        edit("pkg/__init__.py", "'one'", "'two'")
        result = r.reload("pkg")
        pkg = sys.modules["pkg"]
        emit(deps=deps, ok=result.ok, executed=executed(), evicted=list(result.evicted),
             reloaded=list(result.reloaded), name=sys.modules["pkg.b"].name(),
             attrs=[pkg.a is sys.modules["pkg.a"], pkg.b is sys.modules["pkg.b"]])
        """
    )
    assert out == {
        "deps": {"pkg": ["pkg.a"], "pkg.a": ["pkg"], "pkg.b": ["pkg.a"]},
        "ok": True,
        "executed": ["pkg", "pkg.a", "pkg.b"],
        "evicted": ["pkg.b", "pkg.a", "pkg"],
        "reloaded": ["pkg", "pkg.a", "pkg.b"],
        "name": "two",
        "attrs": [True, True],
    }


def test_two_watched_packages_share_one_graph(project: Project) -> None:
    project.write(
        {
            "lib/__init__.py": "",
            "lib/core.py": "V = 1\n",
            "app/__init__.py": "",
            "app/main.py": "from lib.core import V\n",
        }
    )
    out = project.result(
        """
        import app.main
        r = hotmod.Reloader("app", "lib")
        reset()
        result = r.reload(Path("lib/core.py"))
        emit(executed=executed(), reloaded=list(result.reloaded), packages=list(r.packages))
        """
    )
    assert out == {
        "executed": ["lib.core", "app.main"],
        "reloaded": ["lib.core", "app.main"],
        "packages": ["app", "lib"],
    }


def test_rebound_sys_modules_package_reimported_once(project: Project) -> None:
    # The package imports the changed module, so both are evicted and the import system (which
    # stores new modules in the rebound dict) brings them back: each must run once, be in both
    # dicts, and be linked to the other.
    project.write({"pkg/__init__.py": "from . import impl\n", "pkg/impl.py": "X = 1\n"})
    out = project.result(
        """
        import hotmod._module_dict as md
        import pkg
        r = hotmod.Reloader("pkg")
        sys.modules = dict(sys.modules)
        reset()
        result = r.reload("pkg.impl")
        live = md.live_modules()
        emit(executed=sorted(executed()), reloaded=list(result.reloaded),
             both=[n in live and live.get(n) is sys.modules.get(n) for n in ("pkg", "pkg.impl")],
             linked=live["pkg"].impl is live["pkg.impl"])
        """
    )
    assert out == {
        "executed": ["pkg", "pkg.impl"],
        "reloaded": ["pkg.impl", "pkg"],
        "both": [True, True],
        "linked": True,
    }


def test_edits_that_keep_the_imports_then_one_that_adds_an_import(project: Project) -> None:
    # Edits that leave a file's imports alone are not parsed again; the edit after them that
    # adds an import (and the one that removes it) must still reach the graph.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "VALUE = 1\n",
            "pkg/b.py": "import os\nX = 1\ndef get():\n    return X\n",
        }
    )
    out = project.results(
        """
        import pkg.a, pkg.b
        r = hotmod.Reloader("pkg")
        for old, new in [("X = 1", "X = 2"), ("X = 2", "X = 3"),
                         ("X = 3", "from pkg.a import VALUE as X"),
                         ("from pkg.a import VALUE as X", "X = 4")]:
            edit("pkg/b.py", old, new)
            assert r.reload("pkg.b").ok
            deps = sorted(r.graph.dependencies("pkg.b"))
            edit("pkg/a.py", "VALUE = ", "VALUE = 1")  # 1, 11, 111, ...
            reset()
            result = r.reload("pkg.a")
            emit(deps=deps, reloaded=list(result.reloaded), value=sys.modules["pkg.b"].get())
        """
    )
    assert out == [
        {"deps": [], "reloaded": ["pkg.a"], "value": 2},
        {"deps": [], "reloaded": ["pkg.a"], "value": 3},
        {"deps": ["pkg.a"], "reloaded": ["pkg.a", "pkg.b"], "value": 1111},
        {"deps": [], "reloaded": ["pkg.a"], "value": 4},
    ]
