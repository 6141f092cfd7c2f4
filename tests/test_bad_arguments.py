"""Bad arguments: every hotmod entry point refuses them with the right exception and a message
that names the offending value and says what to do instead, and touches nothing.

The contract (issue 6): a wrong type raises ``TypeError`` (``ArgumentTypeError``); an unknown
package raises ``ModuleNotFoundError`` naming it; a path outside the watched roots, a folder, a
non-``.py`` file or a standard-library / site-packages / hotmod / ``__main__`` module raises
``ValueError`` (``NotWatchedError``) naming it. A refused call, and a query about a module that
was never imported, executes no module, imports nothing and starts no thread.

Each group of cases runs once in a fresh interpreter (one subprocess per API, shared by the
parametrized tests of that API); each case records what it raised, which modules executed, which
modules of the project were imported and how many threads were started.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from conftest import Project
from test_broken_edits import HELPERS

PROJECT = {
    "pkg/__init__.py": "",
    "pkg/a.py": "X = 1\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/never.py": "X = 1\n",
    "pkg/bad/__init__.py": "raise RuntimeError('pkg.bad must never run')\n",
    "pkg/bad/mod.py": "X = 1\n",
    "broken/__init__.py": "raise RuntimeError('broken must never run')\n",
    "broken/sub.py": "X = 1\n",
}

# Runs each (case, expression) pair and emits one dict of outcomes.
RUNNER = (
    HELPERS
    + """
import importlib, json as json_module, math
json_file = Path(json_module.__file__)
class BytesPath(os.PathLike):
    def __fspath__(self):
        return b"pkg/a.py"
def enter(manager):
    with manager:
        pass
def attempt(expression):
    reset()
    modules = set(sys.modules)
    threads = threading.active_count()
    try:
        value = eval(expression)
    except BaseException as exc:
        out = dict(raised=type(exc).__name__, bases=[c.__name__ for c in type(exc).__mro__],
                   message=str(exc), name=getattr(exc, "name", None))
    else:
        out = dict(raised=None, value=str(value))
    new = sorted(set(sys.modules) - modules)
    ours = [n for n in new if n.split(".")[0] in ("pkg", "broken")]
    out.update(executed=executed(), imported=ours, threads=threading.active_count() - threads)
    return out
"""
)

# (id, expression, exception class, builtin base, substrings of the message). The substrings
# name the offending value and the advice; the advice is required in every message.
Case = tuple[str, str, str, str, tuple[str, ...]]

RELOADER_CASES: list[Case] = [
    ("no-package", "hotmod.Reloader()", "ArgumentTypeError", "TypeError", ("Reloader('myapp')",)),
    ("package-int", "hotmod.Reloader(3)", "ArgumentTypeError", "TypeError", ("int: 3", "paths=")),
    (
        "package-bytes",
        "hotmod.Reloader(b'pkg')",
        "ArgumentTypeError",
        "TypeError",
        ("b'pkg'", "importable names (str)"),
    ),
    (
        "package-path",
        "hotmod.Reloader(Path('pkg'))",
        "ArgumentTypeError",
        "TypeError",
        ("Path('pkg')", "pass paths=[...]"),
    ),
    ("package-list", "hotmod.Reloader(['pkg'])", "ArgumentTypeError", "TypeError", ("['pkg']",)),
    (
        "package-empty",
        "hotmod.Reloader('')",
        "NotWatchedError",
        "ValueError",
        ("''", "pass a dotted name"),
    ),
    (
        "package-file-name",
        "hotmod.Reloader('pkg/a.py')",
        "NotWatchedError",
        "ValueError",
        ("'pkg/a.py'", "pass a dotted name"),
    ),
    (
        "unknown-package",
        "hotmod.Reloader('no_such_pkg')",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'no_such_pkg'", "Check the spelling", "sys.path"),
    ),
    (
        "unknown-subpackage",
        "hotmod.Reloader('pkg.nosuch')",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'pkg.nosuch'", "Check the spelling"),
    ),
    (
        "subpackage-of-broken-package",
        "hotmod.Reloader('broken.nosuch')",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'broken.nosuch'", "Check the spelling"),
    ),
    (
        "stdlib-package",
        "hotmod.Reloader('json')",
        "NotWatchedError",
        "ValueError",
        ("'json'", "standard library", "watch your package"),
    ),
    (
        "site-packages-package",
        "hotmod.Reloader('watchdog')",
        "NotWatchedError",
        "ValueError",
        ("'watchdog'", "site-packages", "watch your package"),
    ),
    (
        "builtin-module",
        "hotmod.Reloader('sys')",
        "NotWatchedError",
        "ValueError",
        ("'sys'", "built-in", "watch your own package"),
    ),
    (
        "package-hotmod",
        "hotmod.Reloader('hotmod')",
        "NotWatchedError",
        "ValueError",
        ("'hotmod'", "watch your own package"),
    ),
    (
        "package-main",
        "hotmod.Reloader('__main__')",
        "NotWatchedError",
        "ValueError",
        ("'__main__'", "watch your own package"),
    ),
    (
        "paths-int",
        "hotmod.Reloader('pkg', paths=5)",
        "ArgumentTypeError",
        "TypeError",
        ("int: 5", "paths=['"),
    ),
    (
        "paths-none",
        "hotmod.Reloader('pkg', paths=None)",
        "ArgumentTypeError",
        "TypeError",
        ("None", "paths=['"),
    ),
    (
        "paths-bytes",
        "hotmod.Reloader('pkg', paths=b'pkg')",
        "ArgumentTypeError",
        "TypeError",
        ("bytes: b'pkg'", "paths=['"),
    ),
    (
        "paths-bytes-item",
        "hotmod.Reloader('pkg', paths=[b'pkg'])",
        "ArgumentTypeError",
        "TypeError",
        ("bytes: b'pkg'", "str or os.PathLike"),
    ),
    (
        "paths-missing",
        "hotmod.Reloader('pkg', paths=['no_such_folder'])",
        "NotWatchedError",
        "ValueError",
        ("'no_such_folder'", "pass an existing folder"),
    ),
    (
        "paths-stdlib-folder",
        "hotmod.Reloader('pkg', paths=[json_file.parent])",
        "NotWatchedError",
        "ValueError",
        ("json'", "standard library", "your project's folder"),
    ),
    (
        "paths-stdlib-file",
        "hotmod.Reloader('pkg', paths=[json_file])",
        "NotWatchedError",
        "ValueError",
        ("__init__.py'", "standard library", "your project's folder"),
    ),
    *[
        (
            f"{flag}-{label}",
            f"hotmod.Reloader('pkg', {flag}={value})",
            "ArgumentTypeError",
            "TypeError",
            (f"{flag} must be True or False", f"not {value}"),
        )
        for flag in ("eager", "polling", "background")
        for label, value in (("int", "1"), ("str", "'yes'"), ("none", "None"))
    ],
    *[
        (
            f"debounce-{label}",
            f"hotmod.Reloader('pkg', debounce={value})",
            "ArgumentTypeError",
            "TypeError",
            ("debounce must be a number of seconds", f"not {value}"),
        )
        for label, value in (("str", "'0.1'"), ("bool", "True"), ("none", "None"))
    ],
    *[
        (
            f"debounce-{label}",
            f"hotmod.Reloader('pkg', debounce={value})",
            "NotWatchedError",
            "ValueError",
            ("debounce must be between 0 and 60 seconds", f"not {shown}"),
        )
        for label, value, shown in (
            ("negative", "-1", "-1"),
            ("nan", "math.nan", "nan"),
            ("inf", "math.inf", "inf"),
            ("too-long", "61", "61"),
        )
    ],
    (
        "on-reload-int",
        "hotmod.Reloader('pkg', on_reload=3)",
        "ArgumentTypeError",
        "TypeError",
        ("on_reload must be callable or None", "not 3"),
    ),
    (
        "on-reload-str",
        "hotmod.Reloader('pkg', on_reload='print')",
        "ArgumentTypeError",
        "TypeError",
        ("on_reload must be callable or None", "not 'print'"),
    ),
    (
        "unknown-keyword",
        "hotmod.Reloader('pkg', debouce=0.1)",
        "TypeError",
        "TypeError",
        ("unexpected keyword argument 'debouce'",),
    ),
]

# reload() targets, on a Reloader("pkg") after `import pkg.a` (pkg.sub, pkg.bad never imported).
RELOAD_CASES: list[Case] = [
    ("int", "r.reload(3)", "ArgumentTypeError", "TypeError", ("int: 3", "module names (str)")),
    (
        "bytes",
        "r.reload(b'pkg.a')",
        "ArgumentTypeError",
        "TypeError",
        ("bytes: b'pkg.a'", "module names (str)"),
    ),
    (
        "none",
        "r.reload(None)",
        "ArgumentTypeError",
        "TypeError",
        ("NoneType: None", "module names (str)"),
    ),
    (
        "module-object",
        "r.reload(sys.modules['pkg.a'])",
        "ArgumentTypeError",
        "TypeError",
        ("module 'pkg.a'", "module names (str)"),
    ),
    (
        "bytes-pathlike",
        "r.reload(BytesPath())",
        "ArgumentTypeError",
        "TypeError",
        ("b'pkg/a.py'", "text paths"),
    ),
    (
        "unknown-module",
        "r.reload('pkg.nosuch')",
        "ModuleNotFoundError",
        "ModuleNotFoundError",
        ("'pkg.nosuch'", "check the name"),
    ),
    (
        "unknown-module-in-unimported-package",
        "r.reload('pkg.sub.nosuch')",
        "ModuleNotFoundError",
        "ModuleNotFoundError",
        ("'pkg.sub.nosuch'", "check the name"),
    ),
    (
        "stdlib-module",
        "r.reload('json')",
        "NotWatchedError",
        "ValueError",
        ("'json'", "standard library", "restart the process"),
    ),
    (
        "site-packages-module",
        "r.reload('typing_extensions')",
        "NotWatchedError",
        "ValueError",
        ("'typing_extensions'", "site-packages", "restart the process"),
    ),
    (
        "hotmod-itself",
        "r.reload('hotmod')",
        "NotWatchedError",
        "ValueError",
        ("'hotmod'", "move the code to reload into a module of the watched packages"),
    ),
    (
        "main-module",
        "r.reload('__main__')",
        "NotWatchedError",
        "ValueError",
        ("'__main__'", "move the code to reload into a module of the watched packages"),
    ),
    (
        "unwatched-module",
        "r.reload('broken.sub')",
        "NotWatchedError",
        "ValueError",
        ("'broken.sub'", "watch its package too"),
    ),
    (
        "path-given-as-str",
        "r.reload('pkg/a.py')",
        "NotWatchedError",
        "ValueError",
        ("'pkg/a.py'", "dotted name", "pathlib.Path"),
    ),
    (
        "directory",
        "r.reload(Path('pkg'))",
        "NotWatchedError",
        "ValueError",
        ("pkg is a folder", "pass the path of a module's .py file"),
    ),
    (
        "subpackage-directory",
        "r.reload(Path('pkg/sub'))",
        "NotWatchedError",
        "ValueError",
        ("pkg/sub is a folder", "__init__.py"),
    ),
    (
        "non-python-file",
        "r.reload(Path('pkg/data.txt'))",
        "NotWatchedError",
        "ValueError",
        ("pkg/data.txt is not a Python source file", "pass the path of a module's .py file"),
    ),
    (
        "missing-file",
        "r.reload(Path('pkg/missing.py'))",
        "NotWatchedError",
        "ValueError",
        ("pkg/missing.py does not exist", "check the path"),
    ),
    (
        "path-outside-the-roots",
        "r.reload(Path('broken/sub.py'))",
        "NotWatchedError",
        "ValueError",
        ("broken/sub.py is outside the watched", "paths=[...]"),
    ),
    (
        "stdlib-file",
        "r.reload(json_file)",
        "NotWatchedError",
        "ValueError",
        ("json/__init__.py", "standard library", "restart the process"),
    ),
]

# watch / watching / reloading pass their options to Reloader: the same errors, nothing started.
WRAPPER_CASES: list[Case] = [
    (
        "watch-no-package",
        "hotmod.watch()",
        "ArgumentTypeError",
        "TypeError",
        ("Reloader('myapp')",),
    ),
    ("watch-package-int", "hotmod.watch(3)", "ArgumentTypeError", "TypeError", ("int: 3",)),
    (
        "watch-eager-str",
        "hotmod.watch('pkg', eager='yes')",
        "ArgumentTypeError",
        "TypeError",
        ("eager must be True or False",),
    ),
    (
        "watch-paths-int",
        "hotmod.watch('pkg', paths=5)",
        "ArgumentTypeError",
        "TypeError",
        ("int: 5", "paths=['"),
    ),
    (
        "watch-unknown-keyword",
        "hotmod.watch('pkg', debouce=0.1)",
        "TypeError",
        "TypeError",
        ("'debouce'",),
    ),
    (
        "watch-unknown-package",
        "hotmod.watch('no_such_pkg')",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'no_such_pkg'",),
    ),
    (
        "watch-unknown-subpackage",
        "hotmod.watch('broken.nosuch')",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'broken.nosuch'",),
    ),
    (
        "watch-stdlib",
        "hotmod.watch('json')",
        "NotWatchedError",
        "ValueError",
        ("'json'", "standard library"),
    ),
    (
        "watching-polling-int",
        "enter(hotmod.watching('pkg', polling=3))",
        "ArgumentTypeError",
        "TypeError",
        ("polling must be True or False",),
    ),
    (
        "watching-debounce-negative",
        "enter(hotmod.watching('pkg', debounce=-1))",
        "NotWatchedError",
        "ValueError",
        ("debounce must be between 0 and 60",),
    ),
    (
        "watching-paths-none",
        "enter(hotmod.watching('pkg', paths=None))",
        "ArgumentTypeError",
        "TypeError",
        ("None", "paths=['"),
    ),
    (
        "watching-unknown-package",
        "enter(hotmod.watching('no_such_pkg'))",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'no_such_pkg'",),
    ),
    (
        "reloading-package-int",
        "hotmod.reloading(3)",
        "ArgumentTypeError",
        "TypeError",
        ("int: 3", "@hotmod.reloading('myapp')"),
    ),
    (
        "reloading-not-a-function",
        "hotmod.reloading('pkg')(3)",
        "ArgumentTypeError",
        "TypeError",
        ("decorates functions, not 3",),
    ),
    (
        "reloading-in-a-script",
        "hotmod.reloading(enter)",
        "ArgumentTypeError",
        "TypeError",
        ("used in a script", "name the packages to watch"),
    ),
    (
        "reloading-on-reload-int",
        "hotmod.reloading('pkg', on_reload=3)(enter)",
        "ArgumentTypeError",
        "TypeError",
        ("on_reload must be callable or None",),
    ),
    (
        "reloading-unknown-keyword",
        "hotmod.reloading('pkg', debouce=0.1)(enter)",
        "TypeError",
        "TypeError",
        ("'debouce'",),
    ),
    (
        "reloading-unknown-package",
        "hotmod.reloading('no_such_pkg')(enter)",
        "PackageNotFoundError",
        "ModuleNotFoundError",
        ("'no_such_pkg'",),
    ),
    (
        "reloading-site-packages",
        "hotmod.reloading('watchdog')(enter)",
        "NotWatchedError",
        "ValueError",
        ("'watchdog'", "site-packages"),
    ),
]

# Cases that fail on the current engine; see the report of issue 6 part 2.
KNOWN_BUGS: dict[str, str] = {}  # case -> reason, for strict xfails of open bugs

# Message quality, for every case: the value is named (above) and some advice is given, except
# in Python's own message for an unknown keyword argument (it names the keyword).
ADVICE = re.compile(
    r"\b(pass|use|check|watch|move|install|restart|must be|must hold|name the|takes|decorates)\b"
    r"|e\.g\.",
    re.I,
)
PYTHONS_OWN = {"unknown-keyword", "watch-unknown-keyword", "reloading-unknown-keyword"}


def _params(cases: list[Case]) -> list[object]:
    params = []
    for case, _expression, raised, base, fragments in cases:
        marks = []
        if case in KNOWN_BUGS:
            marks.append(pytest.mark.xfail(reason=KNOWN_BUGS[case], strict=True))
        params.append(pytest.param(case, raised, base, fragments, id=case, marks=marks))
    return params


def _run_cases(project: Project, setup: str, cases: list[Case]) -> dict[str, dict[str, object]]:
    project.write(PROJECT)
    (project.root / "pkg" / "data.txt").write_text("not python\n")
    pairs = [(case, expression) for case, expression, *_ in cases]
    out = project.result(
        RUNNER + setup + f"\nemit(**{{case: attempt(expr) for case, expr in {pairs!r}}})\n"
    )
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, object]]:
    """Runs each group's subprocess once, on first use; returns the outcome of a case."""
    groups = {
        "reloader": ("", RELOADER_CASES),
        "reload": ("import pkg.a\nr = hotmod.Reloader('pkg')\n", RELOAD_CASES),
        "wrappers": ("", WRAPPER_CASES),
    }
    which = {case[0]: group for group, (_, cases) in groups.items() for case in cases}
    done: dict[str, dict[str, dict[str, object]]] = {}

    def outcome(case: str) -> dict[str, object]:
        group = which[case]
        if group not in done:
            setup, cases = groups[group]
            done[group] = _run_cases(Project(tmp_path_factory.mktemp(group)), setup, cases)
        return done[group][case]

    return outcome


def _check(
    case: str, out: dict[str, object], raised: str, base: str, fragments: tuple[str, ...]
) -> None:
    assert out["raised"] == raised, out
    assert base in out["bases"], out  # type: ignore[operator]
    message = str(out["message"])
    missing = [fragment for fragment in fragments if fragment not in message]
    assert missing == [], (missing, message)
    assert case in PYTHONS_OWN or ADVICE.search(message), f"no advice in: {message}"
    # refused without side effects
    assert out["executed"] == [], out
    assert out["imported"] == [], out
    assert out["threads"] == 0, out


@pytest.mark.parametrize(("case", "raised", "base", "fragments"), _params(RELOADER_CASES))
def test_reloader_refuses_bad_arguments(
    outcomes: Callable[[str], dict[str, object]],
    case: str,
    raised: str,
    base: str,
    fragments: tuple[str, ...],
) -> None:
    _check(case, outcomes(case), raised, base, fragments)


@pytest.mark.parametrize(("case", "raised", "base", "fragments"), _params(RELOAD_CASES))
def test_reload_refuses_bad_targets(
    outcomes: Callable[[str], dict[str, object]],
    case: str,
    raised: str,
    base: str,
    fragments: tuple[str, ...],
) -> None:
    _check(case, outcomes(case), raised, base, fragments)


@pytest.mark.parametrize(("case", "raised", "base", "fragments"), _params(WRAPPER_CASES))
def test_watch_watching_and_reloading_refuse_bad_arguments(
    outcomes: Callable[[str], dict[str, object]],
    case: str,
    raised: str,
    base: str,
    fragments: tuple[str, ...],
) -> None:
    _check(case, outcomes(case), raised, base, fragments)


def test_package_error_names_the_package(project: Project) -> None:
    """``ModuleNotFoundError.name`` is the package asked for, so ``except ImportError as e:
    e.name`` code works; the NotWatchedError carries the offending target."""
    project.write(PROJECT)
    out = project.result(
        RUNNER
        + """
import pkg.a
r = hotmod.Reloader("pkg")
names = {}
for label, call in [("unknown", lambda: hotmod.Reloader("no_such_pkg")),
                    ("unknown-module", lambda: r.reload("pkg.nosuch")),
                    ("stdlib", lambda: hotmod.Reloader("json")),
                    ("outside", lambda: r.reload(Path("broken/sub.py")))]:
    try:
        call()
    except (ImportError, ValueError) as exc:
        names[label] = getattr(exc, "name", None) or getattr(exc, "target", None)
emit(names=names)
"""
    )
    assert out == {
        "names": {
            "unknown": "no_such_pkg",
            "unknown-module": "pkg.nosuch",
            "stdlib": "json",
            "outside": "broken/sub.py",
        }
    }


def test_reload_of_a_never_imported_module_executes_nothing(project: Project) -> None:
    """``reload("pkg.sub.never")`` answers "never imported, nothing to reload"; finding that
    out must not import (execute) ``pkg.sub``, nor raise an error of a broken parent package's
    code. Here the engine's ``importlib.util.find_spec`` runs ``pkg/sub/__init__.py`` and
    ``pkg/bad/__init__.py``."""
    project.write(PROJECT)
    out = project.result(
        RUNNER
        + """
import pkg.a
r = hotmod.Reloader("pkg")
reset()
result = r.reload("pkg.sub.never")
try:
    bad = str(r.reload("pkg.bad.mod"))
except BaseException as exc:
    bad = f"raised {type(exc).__name__}: {exc}"
emit(ok=result.ok, reloaded=list(result.reloaded), executed=executed(), bad=bad,
     loaded=watched())
"""
    )
    assert out == {
        "ok": True,
        "reloaded": [],
        "executed": [],
        "bad": "nothing to reload (changed: nothing)",
        "loaded": ["pkg", "pkg.a"],
    }


def test_reloader_for_a_subpackage_does_not_import_its_parent(project: Project) -> None:
    """``Reloader("pkg.sub")`` before anything was imported watches the folder of ``pkg.sub``
    without executing ``pkg/__init__.py``; a later import is then indexed normally."""
    project.write(PROJECT)
    out = project.result(
        RUNNER
        + """
r = hotmod.Reloader("pkg.sub")
before = (executed(), watched())
import pkg.sub.never
edit("pkg/sub/never.py", "X = 1", "X = 2")
reset()
result = r.reload("pkg.sub.never")
emit(before=before, roots=[os.path.relpath(p) for p in r.roots], ok=result.ok,
     executed=executed(), x=pkg.sub.never.X)
"""
    )
    assert out == {
        "before": [[], []],
        "roots": ["pkg/sub"],
        "ok": True,
        "executed": ["pkg.sub.never"],
        "x": 2,
    }


def test_good_options_pass_through_watch_watching_and_reloading(project: Project) -> None:
    """The options of the wrappers reach the Reloader, and a refused call leaves the registry
    usable: the next good ``watch()`` starts one Reloader, and stopping it stops every thread."""
    project.write(PROJECT)
    out = project.result(
        RUNNER
        + """
import pkg.a
baseline = threading.active_count()
for bad in (dict(eager="yes"), dict(paths=[b"pkg"]), dict(debounce=-1)):
    try:
        hotmod.watch("pkg", **bad)
    except (TypeError, ValueError):
        pass
calls = []
w = hotmod.watch("pkg", debounce=0.2, eager=False, polling=True, on_reload=calls.append)
same = hotmod.watch("pkg", debounce=0.2, eager=False, polling=True, on_reload=calls.append)
seen = dict(watch=[w.debounce, w.eager, w.polling, w.background, w.running, same is w])
w.stop()
with hotmod.watching("pkg", debounce=0.3, background=False, paths=["pkg"]) as v:
    seen["watching"] = [v.debounce, v.background, [os.path.relpath(p) for p in v.paths],
                        v.running]
seen["watching_stopped"] = not v.running
def job():
    return 1
wrapped = hotmod.reloading("pkg", debounce=0.4, eager=False)(job)
shared = hotmod.watch("pkg", debounce=0.4, eager=False, background=False)
seen["reloading"] = [wrapped(), shared.debounce, shared.eager, shared.background]
shared.stop()
wait_for(lambda: threading.active_count() == baseline, "every thread to stop")
emit(**seen)
"""
    )
    assert out == {
        "watch": [0.2, False, True, True, True, True],
        "watching": [0.3, False, ["pkg"], True],
        "watching_stopped": True,
        "reloading": [1, 0.4, False, False],
    }
