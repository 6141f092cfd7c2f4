"""Module hooks (``__hotmod_skip__``, ``__hotmod_dispose__``, ``hotmod.previous``) and what
hotmod refuses to touch (stdlib, site-packages, ``__main__``, C extensions, hotmod itself)."""

from __future__ import annotations

import importlib.machinery
import shutil

import pytest

from conftest import Project

# Indented like the scripts it is prepended to (the runner dedents the whole script).
GRAB_LOGS = """
        records = []
        class Grab(logging.Handler):
            def emit(self, record):
                records.append(record)
        logging.getLogger("hotmod").addHandler(Grab())
        def logged(level):
            return [r.getMessage() for r in records if r.levelno == level]
"""


def test_skip_marked_module_is_never_evicted_nor_what_depends_only_on_it(
    project: Project,
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": "__hotmod_skip__ = True\nfrom pkg.config import VALUE\n",
            "pkg/api.py": "from pkg.service import VALUE\n",
            "pkg/direct.py": "from pkg.config import VALUE\n",
        }
    )
    out = project.results(
        GRAB_LOGS
        + """
        import pkg.api, pkg.direct
        r = hotmod.Reloader("pkg")
        kept = {n: sys.modules[n] for n in ("pkg.service", "pkg.api")}
        for target in ("pkg.config", "pkg.service"):
            reset()
            records.clear()
            result = r.reload(target)
            emit(executed=executed(), evicted=list(result.evicted),
                 reloaded=list(result.reloaded), ok=result.ok,
                 kept=[sys.modules[n] is m for n, m in kept.items()],
                 skip_logs=[m for m in logged(logging.INFO) if "__hotmod_skip__" in m])
        """
    )
    assert len(out) == 2
    first, second = out
    skip_logs = first.pop("skip_logs")
    assert first == {
        "executed": ["pkg.config", "pkg.direct"],
        "evicted": ["pkg.direct", "pkg.config"],
        "reloaded": ["pkg.config", "pkg.direct"],
        "ok": True,
        "kept": [True, True],
    }
    assert len(skip_logs) == 1  # type: ignore[arg-type]
    assert "pkg.service" in skip_logs[0]  # type: ignore[index]
    assert "depends on" in skip_logs[0]  # type: ignore[index]
    skip_logs = second.pop("skip_logs")
    assert second == {
        "executed": [],
        "evicted": [],
        "reloaded": [],
        "ok": True,
        "kept": [True, True],
    }
    assert len(skip_logs) == 1  # type: ignore[arg-type]
    assert "pkg.service" in skip_logs[0]  # type: ignore[index]


def test_dispose_hooks_run_before_eviction_dependents_first(project: Project) -> None:
    hook = (
        "def __hotmod_dispose__():\n"
        "    import builtins, sys\n"
        "    builtins.DISPOSED.append((__name__, sys.modules.get(__name__) is THIS, VERSION))\n"
        "import sys\nTHIS = sys.modules[__name__]\nVERSION = 1\n"
    )
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": hook,
            "pkg/service.py": "from pkg import config\n" + hook,
            "pkg/api.py": "from pkg import service\n" + hook,
            "pkg/other.py": hook,
        }
    )
    out = project.results(
        """
        import builtins
        builtins.DISPOSED = []
        import pkg.api, pkg.other
        r = hotmod.Reloader("pkg")
        for target in ("pkg.config", "pkg.service"):
            builtins.DISPOSED.clear()
            edit(target.replace(".", "/") + ".py", "VERSION = ", "VERSION = 1 + ")
            result = r.reload(target)
            emit(ok=result.ok, disposed=builtins.DISPOSED, evicted=list(result.evicted))
        """
    )
    assert out == [
        {
            "ok": True,
            "disposed": [["pkg.api", True, 1], ["pkg.service", True, 1], ["pkg.config", True, 1]],
            "evicted": ["pkg.api", "pkg.service", "pkg.config"],
        },
        {
            # The new modules' hooks run at the next reload (config's new VERSION is 2).
            "ok": True,
            "disposed": [["pkg.api", True, 1], ["pkg.service", True, 1]],
            "evicted": ["pkg.api", "pkg.service"],
        },
    ]


def test_dispose_hook_exception_is_logged_and_reload_proceeds(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": (
                "from pkg.config import VALUE\n"
                "def __hotmod_dispose__():\n    raise RuntimeError('dispose failed')\n"
            ),
        }
    )
    out = project.result(
        GRAB_LOGS
        + """
        import pkg.service
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.config")
        errors = [r for r in records if r.levelno >= logging.ERROR]
        emit(ok=result.ok, executed=executed(), value=sys.modules["pkg.service"].VALUE,
             errors=[(e.name.split(".")[0], "pkg.service" in e.getMessage(),
                      "__hotmod_dispose__" in e.getMessage(),
                      e.exc_info is not None and str(e.exc_info[1])) for e in errors])
        """
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.config", "pkg.service"],
        "value": 2,
        "errors": [["hotmod", True, True, "dispose failed"]],
    }


def test_previous_returns_the_replaced_module_during_reload_only(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/counter.py": (
                "import builtins, hotmod\n"
                "_old = hotmod.previous(__name__)\n"
                "builtins.PREVIOUS.append(_old)\n"
                "RELOADS = _old.RELOADS + 1 if _old is not None else 0\n"
                "CACHE = _old.CACHE if _old is not None else {}\n"
                "OTHER = hotmod.previous('pkg.unrelated')\n"
            ),
            "pkg/user.py": (
                "import builtins, hotmod\nfrom pkg import counter\n"
                "builtins.USER_SEES.append(hotmod.previous('pkg.counter'))\n"
            ),
            "pkg/unrelated.py": "",
        }
    )
    out = project.result(
        """
        import builtins
        builtins.PREVIOUS, builtins.USER_SEES = [], []
        import pkg.user, pkg.unrelated
        r = hotmod.Reloader("pkg")
        first = sys.modules["pkg.counter"]
        first.CACHE["kept"] = True
        r.reload("pkg.counter")
        second = sys.modules["pkg.counter"]
        r.reload("pkg.counter")
        third = sys.modules["pkg.counter"]
        expected = [None, first, second]
        emit(previous=[p is e for p, e in zip(builtins.PREVIOUS, expected)],
             count=len(builtins.PREVIOUS),
             user_sees=[u is e for u, e in zip(builtins.USER_SEES, expected)],
             reloads=third.RELOADS, cache=third.CACHE, other=third.OTHER,
             outside=[hotmod.previous(n) for n in ("pkg.counter", "pkg.user", "nope")])
        """
    )
    assert out == {
        "previous": [True, True, True],
        "count": 3,
        "user_sees": [True, True, True],
        "reloads": 2,
        "cache": {"kept": True},
        "other": None,
        "outside": [None, None, None],
    }


def test_previous_is_cleared_after_a_failed_reload(project: Project) -> None:
    project.write(
        {"pkg/__init__.py": "", "pkg/a.py": "import hotmod\nP = hotmod.previous(__name__)\n"}
    )
    out = project.result(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "P = ", "raise ValueError\\nP = ")
        result = r.reload("pkg.a")
        emit(ok=result.ok, after=hotmod.previous("pkg.a"))
        """
    )
    assert out == {"ok": False, "after": None}


# -- scope -------------------------------------------------------------------------------------


def test_stdlib_hotmod_and_main_are_never_reexecuted(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import json, json.decoder, hotmod, logging\nfrom hotmod import previous\n",
        }
    )
    out = project.result(
        """
        import builtins
        builtins.SCRIPT_RUNS = getattr(builtins, "SCRIPT_RUNS", 0) + 1
        import json, pkg.a
        r = hotmod.Reloader("pkg", paths=["."])
        kept = {n: sys.modules[n] for n in ("json", "json.decoder", "hotmod", "logging",
                                            "hotmod._reloader", "__main__")}
        reset()
        result = r.reload("pkg.a")
        by_path = r.reload(Path(__file__))
        refused = []
        for target in ("json", "json.decoder", "hotmod", "hotmod._reloader", "__main__", "os"):
            try:
                r.reload(target)
            except ValueError as exc:
                refused.append(target in str(exc))
        emit(executed=executed(), reloaded=list(result.reloaded),
             by_path=list(by_path.reloaded), kept=[sys.modules[n] is m for n, m in kept.items()],
             deps=sorted(r.graph.dependencies("pkg.a")), script_runs=builtins.SCRIPT_RUNS,
             watched_main="__main__" in r.graph, refused=refused)
        """
    )
    assert out == {
        "executed": ["pkg.a"],
        "reloaded": ["pkg.a"],
        "by_path": [],
        "kept": [True] * 6,
        "deps": [],
        "script_runs": 1,
        "watched_main": False,
        "refused": [True] * 6,
    }


def test_c_extension_in_a_watched_package_is_never_evicted(project: Project) -> None:
    import _bisect

    origin = getattr(_bisect, "__file__", None)
    if origin is None:  # pragma: no cover - a build with _bisect compiled in
        pytest.skip("_bisect is built into this interpreter")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    project.write({"pkg/__init__.py": "", "pkg/user.py": "from pkg import _bisect\n"})
    shutil.copy(origin, project.root / "pkg" / f"_bisect{suffix}")
    out = project.result(
        """
        import pkg.user
        r = hotmod.Reloader("pkg")
        ext = sys.modules["pkg._bisect"]
        reset()
        result = r.reload("pkg.user")
        try:
            r.reload("pkg._bisect")
        except ValueError as exc:
            refused = "pkg._bisect" in str(exc)
        emit(executed=executed(), reloaded=list(result.reloaded),
             kept=sys.modules["pkg._bisect"] is ext and sys.modules["pkg"]._bisect is ext,
             in_graph="pkg._bisect" in r.graph, refused=refused,
             user_sees=sys.modules["pkg.user"]._bisect is ext)
        """
    )
    assert out == {
        "executed": ["pkg.user"],
        "reloaded": ["pkg.user"],
        "kept": True,
        "in_graph": False,
        "refused": True,
        "user_sees": True,
    }


def test_module_outside_watched_packages_is_refused(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "other/__init__.py": "", "other/x.py": ""})
    out = project.result(
        """
        import pkg, other.x
        r = hotmod.Reloader("pkg")
        refusals = []
        for target in ("other.x", "pkgx", Path("other/x.py")):
            try:
                r.reload(target)
            except ValueError as exc:
                refusals.append((type(exc).__name__, str(target) in str(exc)))
        try:
            r.reload("pkg.no_such_module")
        except ModuleNotFoundError as exc:
            missing = exc.name
        try:
            r.reload(42)
        except TypeError as exc:
            wrong_type = type(exc).__name__
        emit(refusals=refusals, missing=missing, wrong_type=wrong_type)
        """
    )
    assert out == {
        "refusals": [["NotWatchedError", True]] * 3,
        "missing": "pkg.no_such_module",
        "wrong_type": "ArgumentTypeError",
    }
