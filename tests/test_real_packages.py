"""Real code: hotmod on well-known pure-Python packages (idna, packaging, click, jinja2 with
markupsafe's pure fallback, attrs, urllib3, pygments), copied out of site-packages into the
test's project folder so that they count as the user's own code.

For each package, in a fresh interpreter: import every module (modules whose optional
dependencies are missing, and ``__main__`` modules, are skipped), create the Reloader, then
for each module append a harmless edit (``_HOTMOD_EDIT = n``) and ``reload()`` it. Every reload
must succeed, the edit must be visible in ``sys.modules[name]`` and no watched module may be
left holding a stale object (``STALE`` below says exactly what that means).

The fast tests sweep every module of the small packages and a sample of pygments; the full
sweep (``-m slow``, run by default: it takes about 10 s) does every module of every package in
one interpreter.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Project
from test_broken_edits import HELPERS

# Top-level import names, by the distribution that provides them (for the error message).
DISTRIBUTIONS = {
    "idna": "idna",
    "packaging": "packaging",
    "click": "click",
    "jinja2": "jinja2",
    "markupsafe": "markupsafe",
    "attr": "attrs",
    "attrs": "attrs",
    "urllib3": "urllib3",
    "pygments": "pygments",
}

NO_HANG = "import faulthandler\nfaulthandler.dump_traceback_later(100, exit=True)\n"

# The stale-object detector, run in the subprocess. Only namespace dicts are read (``vars``),
# never attributes, so no module ``__getattr__`` or property runs.
STALE = '''
_CLASS_DICT = vars(type)["__dict__"]
_CLASS_QUALNAME = vars(type)["__qualname__"]  # not in the class's __dict__
_MISSING = object()

def defined_in(value):
    """(module, qualname) a function or class says it was defined as, else (None, None)."""
    if type(value) is types.FunctionType:
        return value.__module__, value.__qualname__
    if issubclass(type(value), type):  # not isinstance: list[int] passes it on 3.10
        return _CLASS_DICT.__get__(value).get("__module__"), _CLASS_QUALNAME.__get__(value)
    return None, None

def stale_objects(prefixes):
    """Every global of a watched module that holds a stale object, as (holder, name, what).

    A watched module's global is stale when it holds
    (a) a module object whose ``__name__`` names a watched module whose ``sys.modules`` entry is
        a different object (an old version of that module), or
    (b) a function or class whose ``__module__`` names another watched module M and whose
        ``__qualname__`` is a top-level name (no ``.``, no ``<locals>``), while
        ``vars(sys.modules[M])[qualname]`` exists and is a different object (an old version of
        that definition).
    Not flagged: nested qualnames (methods, closures), objects M no longer (or never) defines
    under their qualname, and a module's own definitions. A finding already present right after
    the fresh import is a deliberate alias (one definition bound under another's qualname), not
    staleness: the sweep takes it as the baseline and excludes it.
    """
    live = sys.modules
    starts = tuple(p + "." for p in prefixes)
    names = {n for n in list(live) if n in prefixes or n.startswith(starts)}
    found = []
    for holder in sorted(names):
        module = live.get(holder)
        if not isinstance(module, types.ModuleType):
            continue
        for key, value in list(vars(module).items()):
            if isinstance(value, types.ModuleType):
                name = vars(value).get("__name__")
                if name in names and live.get(name) is not value:
                    found.append((holder, key, f"module {name}"))
                continue
            owner, qualname = defined_in(value)
            if owner not in names or owner == holder or not isinstance(qualname, str):
                continue
            if "." in qualname or "<" in qualname:
                continue
            current = vars(live[owner]).get(qualname, _MISSING)
            if current is not _MISSING and current is not value:
                found.append((holder, key, f"{owner}.{qualname}"))
    return found
'''

SWEEP = (
    NO_HANG
    + HELPERS
    + STALE
    + '''
import importlib, pkgutil
logging.getLogger("hotmod").setLevel(logging.WARNING)

def import_all(package):
    """Import every module of ``package``; returns (imported names, {skipped: reason})."""
    root = importlib.import_module(package)
    names, skipped = [package], {}
    for info in pkgutil.walk_packages(vars(root)["__path__"], package + "."):
        if info.name.rpartition(".")[2] == "__main__":
            continue  # runs the package's command line when imported
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # an optional dependency or another platform
            skipped[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        names.append(info.name)
    return names, skipped

def sweep(packages, keep=lambda i, name: True):
    modules, skipped = [], {}
    for package in packages:
        found, missed = import_all(package)
        modules += found
        skipped.update(missed)
    here = os.path.join(os.getcwd(), "")
    outside = [n for n in modules if not vars(sys.modules[n]).get("__file__", "").startswith(here)]
    r = hotmod.Reloader(*packages)
    baseline = set(stale_objects(packages))
    targets = [name for i, name in enumerate(modules) if keep(i, name)]
    failures, invisible, stale, reloaded = [], [], [], 0
    for n, name in enumerate(targets, 1):
        module = sys.modules[name]
        path = Path(vars(module)["__file__"])
        if type(module) is types.ModuleType:
            line = f"_HOTMOD_EDIT = {n}"
        else:
            # a module that replaced itself in sys.modules (pygments.lexers): its code runs in
            # the dict of the module it replaced, so set the mark on the one it put there
            line = f"vars(__import__('sys').modules[__name__])['_HOTMOD_EDIT'] = {n}"
        with path.open("a") as file:
            file.write(f"\\n{line}\\n")
        result = r.reload(name)
        reloaded += len(result.reloaded)
        if not result.ok or name not in result.reloaded:
            failures.append(f"{name}: {result}")
            continue
        if vars(sys.modules[name]).get("_HOTMOD_EDIT") != n:
            invisible.append(name)
        stale.extend([name, *finding] for finding in stale_objects(packages)
                     if finding not in baseline)
    return dict(modules=len(modules), targets=len(targets), skipped=sorted(skipped),
                outside=outside, failures=failures, invisible=invisible, stale=stale,
                errors=errors(), reexecuted=reloaded)
'''
)


def copy_packages(root: Path, names: tuple[str, ...]) -> None:
    """Copy installed packages into ``root`` as plain source: no bytecode, no C extensions
    (markupsafe then uses its pure-Python fallback)."""
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            pytest.fail(
                f"{name} is not installed: it is in the dev extra "
                f"(pip install -e '.[dev]', or pip install {DISTRIBUTIONS[name]})"
            )
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(
            source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd")
        )


def _sweep(
    project: Project, packages: tuple[str, ...], keep: str = "lambda i, name: True"
) -> dict[str, Any]:
    copy_packages(project.root, packages)
    out = project.result(SWEEP + f"emit(**sweep({list(packages)!r}, keep={keep}))\n", timeout=150)
    return out


def _assert_clean(out: dict[str, Any], *, at_least: int) -> None:
    assert out["outside"] == [], "a module was imported from site-packages, not the copy"
    assert out["failures"] == []
    assert out["invisible"] == []
    assert out["stale"] == []
    assert out["errors"] == []
    assert out["targets"] >= at_least, out
    # most modules could be imported (the rest need optional dependencies)
    assert len(out["skipped"]) * 5 <= out["modules"], out["skipped"]


@pytest.mark.parametrize(
    ("packages", "at_least"),
    [
        pytest.param(("idna",), 8, id="idna"),
        pytest.param(("packaging",), 15, id="packaging"),
        pytest.param(("click",), 14, id="click"),
        pytest.param(("jinja2", "markupsafe"), 25, id="jinja2-markupsafe"),
        pytest.param(("attr", "attrs"), 15, id="attrs"),
        pytest.param(("urllib3",), 25, id="urllib3"),
    ],
)
def test_every_module_reloads_cleanly(
    project: Project, packages: tuple[str, ...], at_least: int
) -> None:
    _assert_clean(_sweep(project, packages), at_least=at_least)


# The modules pygments' other modules build on, plus every 20th module.
PYGMENTS_CORE = (
    "pygments",
    "pygments.lexer",
    "pygments.lexers",
    "pygments.lexers._mapping",
    "pygments.formatters",
    "pygments.styles",
    "pygments.token",
    "pygments.util",
    "pygments.lexers.python",
)


def test_pygments_sample_reloads_cleanly(project: Project) -> None:
    """Every pygments module imported (about 340), a sample of them edited: the core modules
    (an edit of ``pygments.token`` re-executes nearly every module) and the self-replacing,
    lazily loading ``pygments.lexers``/``pygments.formatters`` packages."""
    out = _sweep(
        project, ("pygments",), keep=f"lambda i, name: i % 20 == 0 or name in {PYGMENTS_CORE!r}"
    )
    _assert_clean(out, at_least=20)
    assert out["reexecuted"] > 600, out  # dependents were re-executed, not just the module


PYGMENTS_LAZY = """
import pygments, pygments.lexers, pygments.formatters
from pygments import highlight
r = hotmod.Reloader("pygments")
# module __getattr__ imports the lexer module and caches the class on pygments.lexers
lexer_class = pygments.lexers.PythonLexer
formatter_class = pygments.formatters.HtmlFormatter
before = highlight("x = 1", lexer_class(), formatter_class())
cached = ["PythonLexer" in vars(sys.modules["pygments.lexers"]),
          "HtmlFormatter" in vars(sys.modules["pygments.formatters"])]
results = []
for n, path in enumerate(["pygments/lexers/python.py", "pygments/formatters/html.py"], 1):
    with open(path, "a") as file:
        file.write(f"\\n_HOTMOD_EDIT = {n}\\n")
    results.append(r.reload(path.removesuffix(".py").replace("/", ".")))
lexers, formatters = sys.modules["pygments.lexers"], sys.modules["pygments.formatters"]
current_lexer = sys.modules["pygments.lexers.python"].PythonLexer
current_formatter = sys.modules["pygments.formatters.html"].HtmlFormatter
emit(cached=cached, ok=[x.ok for x in results], stale=stale_objects(["pygments"]),
     attribute=[lexers.PythonLexer is current_lexer, formatters.HtmlFormatter is current_formatter],
     by_name=[type(lexers.get_lexer_by_name("python")) is current_lexer,
              type(formatters.get_formatter_by_name("html")) is current_formatter],
     same_output=highlight("x = 1", lexers.PythonLexer(), formatters.HtmlFormatter()) == before)
"""


def test_pygments_lazily_loaded_classes_are_not_left_stale(project: Project) -> None:
    """``pygments.lexers.PythonLexer`` is loaded on first access by the package's module
    ``__getattr__``, which caches it in the package's globals; after an edit of
    ``pygments/lexers/python.py`` the package must not hand out the old class (attribute or
    ``get_lexer_by_name``), and likewise for formatters."""
    copy_packages(project.root, ("pygments",))
    out = project.result(NO_HANG + HELPERS + STALE + PYGMENTS_LAZY)
    assert out == {
        "cached": [True, True],
        "ok": [True, True],
        "stale": [],
        "attribute": [True, True],
        "by_name": [True, True],
        "same_output": True,
    }


def test_stale_detector_flags_old_objects_and_nothing_else(project: Project) -> None:
    """The detector the sweeps rely on can fail: it flags an old module object and an old
    function and class, and does not flag aliases, methods or a module's own definitions."""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "def f():\n    return 1\nclass C:\n    def m(self):\n        pass\n",
            "pkg/user.py": (
                "from pkg import base\nfrom pkg.base import f, C\n"
                "g = f\nmethod = C.m\ndef own():\n    pass\nalias = own\n"
            ),
        },
        record=False,
    )
    out = project.result(
        HELPERS
        + STALE
        + """
import pkg.user
r = hotmod.Reloader("pkg", patch=False)  # patching keeps the old class: it is not stale
fresh = stale_objects(["pkg"])
old = sys.modules["pkg.base"]
edit("pkg/base.py", "return 1", "return 2")
r.reload("pkg.base")
after_reload = stale_objects(["pkg"])
user = vars(sys.modules["pkg.user"])
user["base"], user["f"], user["C"] = old, vars(old)["f"], vars(old)["C"]
emit(fresh=fresh, after_reload=after_reload, planted=stale_objects(["pkg"]))
"""
    )
    assert out == {
        "fresh": [],
        "after_reload": [],
        "planted": [
            ["pkg.user", "base", "module pkg.base"],
            ["pkg.user", "f", "pkg.base.f"],
            ["pkg.user", "C", "pkg.base.C"],
        ],
    }


ALL_PACKAGES = ("idna", "packaging", "click", "jinja2", "markupsafe", "attr", "attrs", "urllib3")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_full_sweep(project: Project) -> None:
    """Every module of every package, all watched by one Reloader in one interpreter, then
    every module of pygments (about 340 edits; an edit of a core module re-executes nearly
    all of them)."""
    small = _sweep(project, ALL_PACKAGES)
    _assert_clean(small, at_least=110)
    big = Project(project.root / "pygments_sweep")
    big.root.mkdir()
    out = _sweep(big, ("pygments",))
    _assert_clean(out, at_least=300)
