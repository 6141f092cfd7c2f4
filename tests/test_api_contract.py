"""The API promised by the issue: signatures, result fields, errors and graph queries."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from pathlib import Path

import pytest

import hotmod
from conftest import Project
from hotmod import ReloadResult


def test_reloader_signature() -> None:
    params = inspect.signature(hotmod.Reloader).parameters
    assert [(p.name, p.kind, p.default) for p in params.values()] == [
        ("packages", inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty),
        ("paths", inspect.Parameter.KEYWORD_ONLY, ()),
        ("eager", inspect.Parameter.KEYWORD_ONLY, True),
        ("debounce", inspect.Parameter.KEYWORD_ONLY, 0.05),
        ("polling", inspect.Parameter.KEYWORD_ONLY, False),
        ("on_reload", inspect.Parameter.KEYWORD_ONLY, None),
        ("background", inspect.Parameter.KEYWORD_ONLY, True),
        ("adapters", inspect.Parameter.KEYWORD_ONLY, None),
        ("patch", inspect.Parameter.KEYWORD_ONLY, True),
    ]
    reload_params = inspect.signature(hotmod.Reloader.reload).parameters
    assert [(p.name, p.kind) for p in reload_params.values()] == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("targets", inspect.Parameter.VAR_POSITIONAL),
    ]


def test_reload_result_fields_and_defaults() -> None:
    fields = [(f.name, f.default) for f in dataclasses.fields(ReloadResult)]
    assert fields == [
        ("changed", ()),
        ("evicted", ()),
        ("reloaded", ()),
        ("error", None),
        ("rolled_back", False),
        ("duration", 0.0),
        ("patched", ()),
    ]
    result = ReloadResult()
    assert result.ok
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.evicted = ("x",)  # type: ignore[misc]
    failed = ReloadResult(error=ValueError("x"), rolled_back=True)
    assert not failed.ok


def test_reload_result_text() -> None:
    ok = ReloadResult(
        changed=(Path("app/a.py"),),
        evicted=("app.b", "app.a"),
        reloaded=("app.a", "app.b"),
        duration=0.0021,
    )
    assert str(ok) == "reloaded app.a, app.b in 2.1 ms (changed: app/a.py)"
    patched = ReloadResult(
        changed=(Path("app/a.py"),),
        reloaded=("app.a",),
        duration=0.0021,
        patched=("app.a.f", "app.a.C"),
    )
    assert str(patched) == "reloaded app.a in 2.1 ms (changed: app/a.py); patched 2 in place"
    lazy = ReloadResult(changed=(Path("app/a.py"),), evicted=("app.b", "app.a"))
    assert str(lazy).startswith("evicted app.b, app.a in 0.0 ms (changed: app/a.py)")
    failed = ReloadResult(error=RuntimeError("boom"), rolled_back=True, duration=0.001)
    assert str(failed) == (
        "reload failed after 1.0 ms (changed: nothing): RuntimeError: boom; "
        "rolled back, the previous code is still running"
    )


def test_version_is_a_release_string() -> None:
    assert isinstance(hotmod.__version__, str)
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?((a|b|rc)\d+)?(\.dev\d+)?", hotmod.__version__)


def test_unknown_package_raises_module_not_found_error_naming_it() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_pkg") as info:
        hotmod.Reloader("no_such_pkg")
    assert info.value.name == "no_such_pkg"
    assert isinstance(info.value, hotmod.PackageNotFoundError)
    assert isinstance(info.value, hotmod.HotmodError)


@pytest.mark.parametrize(
    "package", ["json", "hotmod", "hotmod._reloader", "__main__", "typing_extensions", "sys"]
)
def test_unwatchable_package_raises_value_error_naming_it(package: str) -> None:
    with pytest.raises(ValueError, match=re.escape(package)) as info:
        hotmod.Reloader(package)
    assert isinstance(info.value, hotmod.NotWatchedError)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((b"pkg",), {}),
        (("json",), {"eager": "yes"}),
        (("json",), {"on_reload": 3}),
        (("json",), {"debounce": "fast"}),
        (("json",), {"background": 1}),
    ],
)
def test_wrong_argument_types_raise_type_error(args: tuple[object, ...], kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(TypeError) as info:
        hotmod.Reloader(*args, **kwargs)
    assert isinstance(info.value, hotmod.ArgumentTypeError)


def test_reload_result_and_graph_queries_end_to_end(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "",
            "pkg/mid.py": "from pkg import base\n",
            "pkg/top.py": "import pkg.mid\n",
            "pkg/side.py": "from pkg.base import *\n",
        }
    )
    out = project.result(
        """
        import pkg.top, pkg.side
        results = []
        r = hotmod.Reloader("pkg", on_reload=results.append)
        graph = r.graph
        queries = {n: [sorted(graph.dependencies(n)), sorted(graph.dependents(n))]
                   for n in ("pkg", "pkg.base", "pkg.mid", "pkg.top", "pkg.side")}
        result = r.reload("pkg.base")
        try:
            r.reload("json")
        except ValueError as exc:
            json_refused = (type(exc).__name__, "'json'" in str(exc))
        emit(queries=queries, graph_type=type(graph).__name__,
             is_graph=isinstance(graph, hotmod.ImportGraph),
             types=[type(result.changed).__name__, type(result.evicted).__name__,
                    type(result.reloaded).__name__],
             changed=[str(p) for p in result.changed],
             path_types=sorted({type(p).__name__ for p in result.changed}),
             evicted=list(result.evicted), reloaded=list(result.reloaded),
             error=result.error, rolled_back=result.rolled_back, ok=result.ok,
             duration_ok=isinstance(result.duration, float) and 0 < result.duration < 10,
             callback=[x is result for x in results], json_refused=json_refused,
             repr_ok=repr(r).startswith("<hotmod.Reloader('pkg')"))
        """
    )
    base = os.path.realpath(project.root / "pkg" / "base.py")
    assert out == {
        "queries": {
            "pkg": [[], ["pkg.top"]],  # `import pkg.mid` binds (and so imports) pkg
            "pkg.base": [[], ["pkg.mid", "pkg.side", "pkg.top"]],
            "pkg.mid": [["pkg.base"], ["pkg.top"]],
            "pkg.top": [["pkg", "pkg.mid"], []],
            "pkg.side": [["pkg.base"], []],
        },
        "graph_type": "ImportGraph",
        "is_graph": True,
        "types": ["tuple", "tuple", "tuple"],
        "changed": [base],
        "path_types": ["PosixPath"] if os.name == "posix" else ["WindowsPath"],
        "evicted": ["pkg.side", "pkg.top", "pkg.mid", "pkg.base"],
        "reloaded": ["pkg.base", "pkg.mid", "pkg.top", "pkg.side"],
        "error": None,
        "rolled_back": False,
        "ok": True,
        "duration_ok": True,
        "callback": [True],
        "json_refused": ["NotWatchedError", True],
        "repr_ok": True,
    }


def test_failed_reload_is_returned_not_raised_and_reported_once(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/a.py": "X = 1\n"})
    out = project.result(
        """
        import pkg.a
        results = []
        r = hotmod.Reloader("pkg", on_reload=results.append)
        edit("pkg/a.py", "X = 1", "X = 1 / 0")
        result = r.reload("pkg.a")
        emit(ok=result.ok, rolled_back=result.rolled_back, error=type(result.error).__name__,
             text=str(result), callback=[x is result for x in results],
             a=sys.modules["pkg.a"].X)
        """
    )
    text = out.pop("text")
    assert out == {
        "ok": False,
        "rolled_back": True,
        "error": "ZeroDivisionError",
        "callback": [True],
        "a": 1,
    }
    assert isinstance(text, str)
    assert text.startswith("reload failed after ")
    assert "ZeroDivisionError: division by zero" in text
    assert text.endswith("rolled back, the previous code is still running")
