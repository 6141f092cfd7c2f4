"""Binding scan: dependencies a module's globals reveal that its source does not.

Unit tests call ``scan_bindings`` on hand-made namespaces (no module dict involved); the
end-to-end tests run a Reloader in a subprocess.
"""

from __future__ import annotations

import json
import types
from typing import Any

from conftest import Project
from hotmod._binding_scan import scan_bindings

WATCHED = {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.deep"}


def module(name: str, **attrs: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    return mod


def function_of(module_name: str) -> types.FunctionType:
    namespace: dict[str, Any] = {"__name__": module_name}
    exec("def f():\n    return 1\n", namespace)
    func: types.FunctionType = namespace["f"]
    return func


def class_of(module_name: str) -> type:
    return type("K", (), {"__module__": module_name})


def test_module_function_and_class_from_watched_modules_are_found() -> None:
    namespace = {
        "a": module("pkg.a"),
        "helper": function_of("pkg.b"),
        "Model": class_of("pkg.sub"),
    }
    assert scan_bindings(namespace, "pkg.x", WATCHED) == {"pkg.a", "pkg.b", "pkg.sub"}


def test_own_objects_and_unwatched_objects_are_not_dependencies() -> None:
    namespace = {
        "json": json,
        "dumps": json.dumps,
        "JSONDecoder": json.JSONDecoder,
        "local": function_of("pkg.x"),
        "LocalClass": class_of("pkg.x"),
        "number": 3,
        "len": len,  # builtin function: not a FunctionType
        "instance": class_of("pkg.a")(),  # instances are not followed
    }
    assert scan_bindings(namespace, "pkg.x", WATCHED) == set()


def test_package_does_not_depend_on_submodules_bound_by_the_import_system() -> None:
    namespace = {"a": module("pkg.a"), "sub": module("pkg.sub")}
    assert scan_bindings(namespace, "pkg", WATCHED) == set()
    assert scan_bindings({"deep": module("pkg.sub.deep")}, "pkg.sub", WATCHED) == set()


def test_package_depends_on_submodule_bound_under_another_name() -> None:
    assert scan_bindings({"alias": module("pkg.a")}, "pkg", WATCHED) == {"pkg.a"}
    # A grandchild bound on the grandparent under its last name is not the import system's
    # binding either.
    assert scan_bindings({"deep": module("pkg.sub.deep")}, "pkg", WATCHED) == {"pkg.sub.deep"}


def test_package_depends_on_submodule_functions_it_holds() -> None:
    assert scan_bindings({"a": function_of("pkg.a")}, "pkg", WATCHED) == {"pkg.a"}


def test_non_package_module_holding_a_sibling_under_its_name_depends_on_it() -> None:
    assert scan_bindings({"b": module("pkg.b")}, "pkg.a", WATCHED) == {"pkg.b"}


def test_scan_reads_only_the_namespace_dicts_never_user_attribute_hooks() -> None:
    class Exploding(types.ModuleType):
        def __getattribute__(self, name: str) -> Any:
            raise AssertionError(f"attribute {name} read through user code")

    class Meta(type):
        def __getattribute__(cls, name: str) -> Any:
            raise AssertionError(f"class attribute {name} read through user code")

    exploding = Exploding("pkg.a")
    klass = Meta("K", (), {"__module__": "pkg.b"})
    assert scan_bindings({"m": exploding, "K": klass}, "pkg.x", WATCHED) == {"pkg.a", "pkg.b"}


def test_objects_with_odd_owner_values_are_ignored() -> None:
    nameless = types.ModuleType("placeholder")
    del nameless.__dict__["__name__"]
    odd = function_of("pkg.a")
    odd.__module__ = None  # type: ignore[assignment]
    klass = class_of("pkg.a")
    klass.__module__ = 42  # type: ignore[assignment]
    assert scan_bindings({"m": nameless, "f": odd, "K": klass}, "pkg.x", WATCHED) == set()


# -- end to end --------------------------------------------------------------------------------


def test_function_injected_by_a_third_module_makes_an_edge(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def make():\n    return 'a1'\nclass Model:\n    VERSION = 1\n",
            "pkg/b.py": "def use():\n    return make(), Model.VERSION\n",
            "pkg/c.py": (
                "import pkg.a, pkg.b\n"
                "setattr(pkg.b, 'make', pkg.a.make)\n"
                "setattr(pkg.b, 'Model', pkg.a.Model)\n"
            ),
            "pkg/d.py": "import pkg.a as target\nimport pkg.b\npkg.b.injected_module = target\n",
        }
    )
    out = project.result(
        """
        import pkg.b, pkg.c, pkg.d
        r = hotmod.Reloader("pkg")
        deps_before = sorted(r.graph.dependencies("pkg.b"))
        reset()
        edit("pkg/a.py", "'a1'", "'a2'")
        edit("pkg/a.py", "VERSION = 1", "VERSION = 2")
        result = r.reload("pkg.a")
        b = sys.modules["pkg.b"]
        emit(deps_before=deps_before, executed=executed(), evicted=list(result.evicted),
             reloaded=list(result.reloaded), use=list(b.use()),
             module_is_new=b.injected_module is sys.modules["pkg.a"],
             deps_after=sorted(r.graph.dependencies("pkg.b")),
             dependents=sorted(r.graph.dependents("pkg.a")))
        """
    )
    assert out == {
        "deps_before": ["pkg.a"],
        "executed": ["pkg.a", "pkg.b", "pkg.c", "pkg.d"],
        "evicted": ["pkg.d", "pkg.c", "pkg.b", "pkg.a"],
        "reloaded": ["pkg.a", "pkg.b", "pkg.c", "pkg.d"],
        "use": ["a2", 2],
        "module_is_new": True,
        "deps_after": ["pkg.a"],
        "dependents": ["pkg.b", "pkg.c", "pkg.d"],
    }


def test_package_is_not_reloaded_for_a_submodule_it_does_not_import(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "X = 1\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "from pkg.a import X\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.sub.deep
        r = hotmod.Reloader("pkg")
        deps = {n: sorted(r.graph.dependencies(n)) for n in ("pkg", "pkg.sub", "pkg.sub.deep")}
        reset()
        edit("pkg/a.py", "X = 1", "X = 2")
        first = r.reload("pkg.a")
        executed_first = executed()
        reset()
        edit("pkg/sub/deep.py", "import X", "import X\\nY = 1")
        second = r.reload("pkg.sub.deep")
        emit(deps=deps, executed_first=executed_first, reloaded_first=list(first.reloaded),
             executed_second=executed(), reloaded_second=list(second.reloaded),
             package_attr_new=sys.modules["pkg"].a is sys.modules["pkg.a"],
             sub_attr_new=sys.modules["pkg.sub"].deep is sys.modules["pkg.sub.deep"])
        """
    )
    assert out == {
        "deps": {"pkg": [], "pkg.sub": [], "pkg.sub.deep": ["pkg.a"]},
        "executed_first": ["pkg.a", "pkg.sub.deep"],
        "reloaded_first": ["pkg.a", "pkg.sub.deep"],
        "executed_second": ["pkg.sub.deep"],
        "reloaded_second": ["pkg.sub.deep"],
        "package_attr_new": True,
        "sub_attr_new": True,
    }


def test_binding_edges_are_rescanned_after_a_reload(project: Project) -> None:
    # b's new code no longer holds anything of a: the edge found by the scan must go away.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    return 1\n",
            # A computed name, and no import at run time (pkg.a is loaded first): the parser
            # and the observed imports cannot see this dependency, only the binding scan can.
            "pkg/b.py": "import sys\nf = getattr(sys.modules['pkg.' + 'a'], 'f')\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.b
        r = hotmod.Reloader("pkg")
        before = sorted(r.graph.dependencies("pkg.b"))
        edit("pkg/b.py", "f = getattr", "g = getattr")
        edit("pkg/b.py", "'f')", "'__name__')")
        result = r.reload("pkg.b")
        reset()
        second = r.reload("pkg.a")
        emit(before=before, ok=result.ok, after=sorted(r.graph.dependencies("pkg.b")),
             executed=executed(), reloaded=list(second.reloaded))
        """
    )
    assert out == {
        "before": ["pkg.a"],
        "ok": True,
        "after": [],
        "executed": ["pkg.a"],
        "reloaded": ["pkg.a"],
    }
