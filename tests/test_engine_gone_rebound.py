"""Modules the reload must find where they really are (issue 9, items 2, 3 and 6).

* A module whose file was deleted or renamed while it is loaded keeps running as it was and is
  left out of reloads (warned about once); the rest of the package reloads. A renamed file
  imported under its new name is a new module; a file that is back is reloadable again.
* With ``sys.modules`` rebound to another dict, modules importlib stored only there are found,
  evicted from both dicts and seen new by every import form.
* A module that puts a plain object in its place (``sys.modules[__name__] = _Settings()``) is
  reloaded from the file its module came from; one whose file cannot be told is refused with an
  error naming the pattern, never reported as reloaded.
"""

from __future__ import annotations

import pytest

from conftest import Project
from test_watching import PACKAGE, run_one

pytestmark = pytest.mark.timeout(90)

# -- deleted and renamed modules -------------------------------------------------------------

# pkg.extra imports pkg.models and is imported by pkg.report (which reaches pkg.models only
# through it); pkg.views imports pkg.models directly.
GONE = {
    "pkg/__init__.py": "",
    "pkg/models.py": "VALUE = 1\n",
    "pkg/extra.py": "from pkg import models\nSEEN = models.VALUE\n",
    "pkg/report.py": "from pkg import extra\ndef seen():\n    return extra.SEEN\n",
    "pkg/views.py": "from pkg import models\ndef value():\n    return models.VALUE\n",
}

GONE_HELPERS = """
LOG = _Records()
logging.getLogger("hotmod").addHandler(LOG)
def warnings():
    return [r.getMessage() for r in LOG.records if r.levelno == logging.WARNING]
def errors():
    return [r.getMessage() for r in LOG.records if r.levelno >= logging.ERROR]
def bump_models(value):
    Path("pkg/models.py").write_text(
        Path("pkg/models.py").read_text().replace(f"VALUE = {value - 1}", f"VALUE = {value}"))
import pkg.views, pkg.report
r = hotmod.Reloader("pkg")
old_extra = sys.modules["pkg.extra"]
"""


def test_deleted_module_is_left_out_and_the_rest_reloads(project: Project) -> None:
    project.write(GONE)
    out = project.result(
        GONE_HELPERS
        + """
os.unlink("pkg/extra.py")
runs = []
for value in (2, 3):  # every later edit reloads too, not only the first
    bump_models(value)
    reset()
    result = r.reload("pkg.models")
    runs.append(dict(ok=result.ok, executed=executed(), reloaded=list(result.reloaded),
                     value=pkg.views.value()))
emit(runs=runs, kept=sys.modules["pkg.extra"] is old_extra, seen=pkg.report.seen(),
     warnings=warnings(), errors=errors())
"""
    )
    step = {"ok": True, "executed": ["pkg.models", "pkg.views"]}
    assert out["runs"] == [
        {**step, "reloaded": ["pkg.models", "pkg.views"], "value": 2},
        {**step, "reloaded": ["pkg.models", "pkg.views"], "value": 3},
    ]
    assert out["kept"] is True
    assert out["seen"] == 1  # pkg.extra keeps running as it was, and pkg.report with it
    assert out["errors"] == []
    assert len(out["warnings"]) == 1, out["warnings"]
    warning = out["warnings"][0]
    assert "extra.py was deleted or renamed; pkg.extra is kept loaded as it was" in warning
    assert "still imported by pkg.report" in warning
    assert "references to reloaded modules stay old" in warning


def test_renamed_module_is_left_out_and_its_new_name_is_a_new_module(project: Project) -> None:
    project.write(GONE)
    out = project.result(
        GONE_HELPERS
        + """
os.rename("pkg/extra.py", "pkg/extra2.py")
bump_models(2)
first = r.reload("pkg.models")
import pkg.extra2
fresh = pkg.extra2.SEEN
bump_models(3)
reset()
second = r.reload("pkg.models")
second_ran = executed()
after = (pkg.extra2.SEEN, sys.modules["pkg.extra2"].SEEN, pkg.views.value())
edit("pkg/extra2.py", "SEEN = models.VALUE", "SEEN = models.VALUE * 10")
reset()
own = r.reload(Path("pkg/extra2.py"))
emit(first=[first.ok, list(first.reloaded)], fresh=fresh,
     second=[second.ok, second_ran], after=after,
     own=[own.ok, executed()], own_value=sys.modules["pkg.extra2"].SEEN,
     kept=sys.modules["pkg.extra"] is old_extra, warnings=len(warnings()), errors=errors())
"""
    )
    assert out == {
        "first": [True, ["pkg.models", "pkg.views"]],
        "fresh": 2,
        "second": [True, ["pkg.models", "pkg.views", "pkg.extra2"]],
        "after": [3, 3, 3],
        "own": [True, ["pkg.extra2"]],
        "own_value": 30,
        "kept": True,
        "warnings": 1,
        "errors": [],
    }


def test_restored_file_makes_the_module_reloadable_again(project: Project) -> None:
    project.write(GONE)
    out = project.result(
        GONE_HELPERS
        + """
text = Path("pkg/extra.py").read_text()
os.unlink("pkg/extra.py")
bump_models(2)
left_out = list(r.reload("pkg.models").reloaded)
direct = r.reload("pkg.extra")  # its file is gone: an error naming it, not "ok"
Path("pkg/extra.py").write_text(text.replace("SEEN = models.VALUE", "SEEN = models.VALUE + 100"))
bump_models(3)
reset()
back = r.reload("pkg.models")
emit(left_out=left_out, direct=[direct.ok, type(direct.error).__name__],
     back=[back.ok, executed()], seen=pkg.report.seen(),
     replaced=sys.modules["pkg.extra"] is not old_extra, errors=len(errors()))
"""
    )
    assert out == {
        "left_out": ["pkg.models", "pkg.views"],
        "direct": [False, "FileNotFoundError"],
        "back": [True, ["pkg.models", "pkg.views", "pkg.extra", "pkg.report"]],
        "seen": 103,
        "replaced": True,
        "errors": 1,
    }


def test_watcher_leaves_renamed_module_out_and_picks_up_new_and_restored_files(
    project: Project,
) -> None:
    project.write({**PACKAGE, "pkg/extra.py": "from pkg import mod\nSEEN = mod.VALUE\n"})
    out = run_one(
        project,
        """
        import pkg.user, pkg.extra
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            # reloaded once first: its code is in memory, only the rename event says it is gone
            Path("pkg/extra.py").write_text("from pkg import mod\\nSEEN = mod.VALUE * 2\\n")
            wait_reloads(1)
            old_extra = sys.modules["pkg.extra"]
            text = Path("pkg/extra.py").read_text()
            os.rename("pkg/extra.py", "pkg/extra2.py")
            wait_until(lambda: logs(logging.WARNING, "renamed"), "the warning")
            bump("pkg/mod.py")
            wait_reloads(2)
            renamed = dict(ok=results()[1].ok, reloaded=list(results()[1].reloaded),
                           value=module("pkg.user").g(), kept=sys.modules["pkg.extra"] is old_extra)
            import pkg.extra2
            bump("pkg/mod.py")
            wait_reloads(3)
            new_name = dict(ok=results()[2].ok, reloaded=sorted(results()[2].reloaded),
                            seen=module("pkg.extra2").SEEN)
            Path("pkg/extra.py").write_text(text)  # the file is back
            bump("pkg/mod.py")
            wait_until(lambda: any("pkg.extra" in res.reloaded for res in results()[3:]),
                       "a reload of pkg.extra")
        emit(renamed=renamed, new_name=new_name, ok=[res.ok for res in results()],
             restored=module("pkg.extra").SEEN, value=module("pkg.user").g(),
             warnings=len(logs(logging.WARNING, "renamed")))
        """,
    )
    assert out["renamed"] == {
        "ok": True,
        "reloaded": ["pkg.mod", "pkg.user"],
        "value": 2,
        "kept": True,
    }
    assert out["new_name"] == {
        "ok": True,
        "reloaded": ["pkg.extra2", "pkg.mod", "pkg.user"],
        "seen": 6,
    }
    assert all(out["ok"]), out["ok"]
    assert out["restored"] == 8
    assert out["value"] == 4
    assert out["warnings"] == 1


# -- sys.modules rebound -----------------------------------------------------------------------

REBOUND = {
    "pkg/__init__.py": "",
    "pkg/a.py": "V = 1\n",
    "pkg/c.py": "from pkg.a import V\nW = V\n",
}

# Import forms executed after the reload, in code compiled then (nothing holds old names).
IMPORT_FORMS = {
    "import": "import pkg.a\nout = pkg.a.V",
    "import_as": "import pkg.a as x\nout = x.V",
    "from_import": "from pkg.a import V as out",
    "import_module": "import importlib\nout = importlib.import_module('pkg.a').V",
    "from_package": "from pkg import c\nout = c.W",
}

REBIND = "sys.modules = dict(sys.modules)\n"
IMPORT = "import pkg.c\nold = {n: sys.modules[n] for n in ('pkg', 'pkg.a', 'pkg.c')}\n"
CREATE = "r = hotmod.Reloader('pkg')\n"


@pytest.mark.parametrize(
    "setup",
    [REBIND + IMPORT + CREATE, CREATE + REBIND + IMPORT, IMPORT + CREATE + REBIND],
    ids=["rebind-import-create", "create-rebind-import", "import-create-rebind"],
)
@pytest.mark.parametrize("target", ["'pkg.a'", "Path('pkg/a.py')"])
def test_rebound_sys_modules_every_import_form_sees_the_new_code(
    project: Project, setup: str, target: str
) -> None:
    project.write(REBOUND)
    out = project.result(
        f"""
import hotmod._module_dict as md
LOG = _Records()
logging.getLogger("hotmod").addHandler(LOG)
{setup}
edit("pkg/a.py", "V = 1", "V = 2")
reset()
result = r.reload({target})
forms = {{}}
for form, snippet in {IMPORT_FORMS!r}.items():
    scope = {{}}
    exec(snippet, scope)
    forms[form] = scope["out"]
live = md.live_modules()
names = ("pkg.a", "pkg.c")
emit(ok=result.ok, executed=executed(), reloaded=list(result.reloaded), forms=forms,
     same=[live.get(n) is sys.modules.get(n) is not None for n in names],
     stale=[n for n in names for d in (live, sys.modules) if any(m is old[n] for m in d.values())],
     warnings=[r.getMessage() for r in LOG.records if r.levelno == logging.WARNING])
"""
    )
    assert out["ok"] is True
    assert out["executed"] == ["pkg.a", "pkg.c"]
    assert out["reloaded"] == ["pkg.a", "pkg.c"]
    assert out["forms"] == dict.fromkeys(IMPORT_FORMS, 2)
    assert out["same"] == [True, True]
    assert out["stale"] == []
    assert len(out["warnings"]) == 1
    assert "rebound" in out["warnings"][0]


def test_rebound_sys_modules_broken_edit_restores_both_dicts(project: Project) -> None:
    project.write(REBOUND)
    out = project.result(
        REBIND
        + IMPORT
        + CREATE
        + """
import hotmod._module_dict as md
edit("pkg/c.py", "W = V", "W = V\\nraise RuntimeError('broken')")
edit("pkg/a.py", "V = 1", "V = 2")
result = r.reload("pkg.a")
live = md.live_modules()
emit(ok=result.ok, rolled_back=result.rolled_back,
     back=[sys.modules[n] is old[n] and live.get(n, old[n]) is old[n] for n in old],
     attrs=[vars(sys.modules["pkg"]).get(n) is old["pkg." + n] for n in ("a", "c")],
     value=sys.modules["pkg.c"].W)
"""
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "back": [True, True, True],
        "attrs": [True, True],
        "value": 1,
    }


# -- modules that put a plain object in their place -------------------------------------------

SETTINGS = {
    "pkg/__init__.py": "",
    "pkg/settings.py": (
        "import sys\n"
        "DEBUG = 1\n"
        "class _Settings:\n"
        "    debug = DEBUG\n"
        "    def describe(self):\n"
        "        return f'debug={DEBUG}'\n"
        "sys.modules[__name__] = _Settings()\n"
    ),
    "pkg/uses.py": (
        "from pkg.settings import debug\n"
        "from pkg import settings\n"
        "def get():\n"
        "    return [debug, settings.debug, settings.describe()]\n"
    ),
}


@pytest.mark.parametrize("target", ["'pkg.settings'", "Path('pkg/settings.py')"])
def test_module_replaced_by_an_object_reloads_and_rolls_back(project: Project, target: str) -> None:
    project.write(SETTINGS)
    out = project.result(
        f"""
import pkg.uses
r = hotmod.Reloader("pkg")
first = sys.modules["pkg.settings"]
edit("pkg/settings.py", "DEBUG = 1", "DEBUG = 2")
reset()
good = r.reload({target})
second = sys.modules["pkg.settings"]
import pkg.settings as fresh
good_state = dict(ok=good.ok, executed=executed(), reloaded=list(good.reloaded),
                  value=pkg.uses.get(), fresh=[fresh.debug, fresh.describe()],
                  replaced=second is not first, cls=type(second).__name__,
                  on_parent=vars(sys.modules["pkg"])["settings"] is second)
edit("pkg/settings.py", "DEBUG = 2", "DEBUG = 3\\nraise RuntimeError('broken')")
bad = r.reload({target})
emit(good=good_state, bad=[bad.ok, bad.rolled_back, type(bad.error).__name__],
     back=sys.modules["pkg.settings"] is second, value=pkg.uses.get())
"""
    )
    assert out == {
        "good": {
            "ok": True,
            "executed": ["pkg.settings", "pkg.uses"],
            "reloaded": ["pkg.settings", "pkg.uses"],
            "value": [2, 2, "debug=2"],
            "fresh": [2, "debug=2"],
            "replaced": True,
            "cls": "_Settings",
            "on_parent": True,
        },
        "bad": [False, True, "RuntimeError"],
        "back": True,
        "value": [2, 2, "debug=2"],
    }


def test_module_replaced_by_a_foreign_object_reloads_from_its_file(project: Project) -> None:
    # The object's class is not defined in the module: the file is the one its spec names.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/conf.py": (
                "import sys, types\nsys.modules[__name__] = types.SimpleNamespace(X=1)\n"
            ),
            "pkg/reader.py": "from pkg.conf import X\n",
        }
    )
    out = project.result(
        """
import pkg.reader
r = hotmod.Reloader("pkg")
edit("pkg/conf.py", "X=1", "X=2")
reset()
result = r.reload("pkg.conf")
emit(ok=result.ok, executed=executed(), x=sys.modules["pkg.conf"].X, reader=pkg.reader.X)
"""
    )
    assert out == {"ok": True, "executed": ["pkg.conf", "pkg.reader"], "x": 2, "reader": 2}


def test_module_replaced_by_an_object_of_unknown_origin_is_refused(project: Project) -> None:
    # Loaded under a name of the package from a file the package's folder does not hold, and
    # replaced by an object whose class says nothing: hotmod cannot tell what to re-execute.
    project.write(
        {
            "pkg/__init__.py": "",
            "elsewhere/odd.py": (
                "import sys, types\nsys.modules[__name__] = types.SimpleNamespace()\n"
            ),
        }
    )
    out = project.result(
        """
import importlib.util
import pkg
spec = importlib.util.spec_from_file_location("pkg.odd", "elsewhere/odd.py")
module = importlib.util.module_from_spec(spec)
sys.modules["pkg.odd"] = module
spec.loader.exec_module(module)
r = hotmod.Reloader("pkg")
try:
    r.reload("pkg.odd")
except ValueError as exc:
    emit(error=type(exc).__name__, message=str(exc))
"""
    )
    assert out["error"] == "NotWatchedError"
    assert "SimpleNamespace object, not a module" in out["message"]
    assert "sys.modules[__name__]" in out["message"]


def test_watcher_reloads_a_module_replaced_by_an_object(project: Project) -> None:
    project.write(SETTINGS)
    out = run_one(
        project,
        """
        import pkg.uses
        with hotmod.Reloader("pkg", on_reload=on_reload):
            text = Path("pkg/settings.py").read_text()
            save_replace_temp("pkg/settings.py", text.replace("DEBUG = 1", "DEBUG = 5"))
            wait_reloads(1)
            no_more_reloads(1)
        emit(ok=results()[0].ok, reloaded=list(results()[0].reloaded), value=pkg.uses.get())
        """,
    )
    assert out == {"ok": True, "reloaded": ["pkg.settings", "pkg.uses"], "value": [5, 5, "debug=5"]}
