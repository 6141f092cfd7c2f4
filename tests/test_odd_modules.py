"""Odd modules and odd situations: self-replacing modules, module ``__getattr__``, star imports,
very long import chains, huge files, modules without ``__file__``, namespace packages, modules the
user removed from ``sys.modules``, reloads requested during a reload, overlapping reloaders and
``stop()`` during a reload.

Every subprocess arms ``faulthandler.dump_traceback_later``: a deadlock fails the test within
seconds, with every thread's stack in the output, instead of hanging until the pytest timeout.
"""

from __future__ import annotations

import pytest

from conftest import Project
from test_broken_edits import HEAD, HELPERS

# A deadlock dumps every thread's stack and exits the subprocess with status 1.
NO_HANG = "import faulthandler\nfaulthandler.dump_traceback_later(20, exit=True)\n"
SCRIPT = NO_HANG + HELPERS


# -- modules that replace themselves in the module dict ----------------------------------------

SELF_REPLACING = {
    "pkg/__init__.py": "",
    "pkg/lazy.py": (
        "import sys, types\n"
        "VALUE = 1\n"
        "class _Module(types.ModuleType):\n"
        "    def __getattr__(self, name):\n"
        "        import builtins\n"
        "        builtins.__dict__.setdefault('LOOKUPS', []).append(name)\n"
        "        if name == 'dynamic':\n"
        "            return VALUE * 10\n"
        "        raise AttributeError(name)\n"
        "_old = sys.modules[__name__]\n"
        "_new = _Module(__name__)\n"
        "_new.__dict__.update(_old.__dict__)\n"
        "sys.modules[__name__] = _new\n"
    ),
    "pkg/user.py": "from pkg import lazy\ndef get():\n    return (lazy.VALUE, lazy.dynamic)\n",
}


def test_self_replacing_module_reloads_and_rolls_back(project: Project) -> None:
    project.write(SELF_REPLACING)
    out = project.result(
        SCRIPT
        + """
import pkg.user
r = hotmod.Reloader("pkg")
first = sys.modules["pkg.lazy"]
edit("pkg/lazy.py", "VALUE = 1", "VALUE = 2")
reset()
ok = r.reload("pkg.lazy")
second = sys.modules["pkg.lazy"]
good = dict(ok=ok.ok, executed=executed(), value=pkg.user.get(),
            replaced=second is not first, cls=type(second).__name__,
            on_parent=vars(sys.modules["pkg"])["lazy"] is second,
            user_holds_live=vars(sys.modules["pkg.user"])["lazy"] is second)
before = snapshot()
edit("pkg/lazy.py", "VALUE = 2", "VALUE = 3\\nraise RuntimeError('late')")
bad = r.reload("pkg.lazy")
emit(good=good, bad=type(bad.error).__name__, restored=differences(before),
     value=pkg.user.get(), lookups=sorted(set(builtins.__dict__.get("LOOKUPS", []))))
"""
    )
    assert out == {
        "good": {
            "ok": True,
            "executed": ["pkg.lazy", "pkg.user"],
            "value": [2, 20],
            "replaced": True,
            "cls": "_Module",
            "on_parent": True,
            "user_holds_live": True,
        },
        "bad": "RuntimeError",
        "restored": [],
        "value": [2, 20],
        # only the user's own code asked for `dynamic`; hotmod never called __getattr__
        "lookups": ["dynamic"],
    }


# -- module-level __getattr__ ------------------------------------------------------------------

GETATTR = {
    "pkg/__init__.py": (
        "import builtins, importlib\n"
        "def __getattr__(name):\n"
        "    builtins.__dict__.setdefault('LOOKUPS', []).append((__name__, name))\n"
        "    if name == 'heavy':\n"
        "        return importlib.import_module('pkg.heavy')\n"
        "    raise AttributeError(name)\n"
    ),
    "pkg/heavy.py": "raise RuntimeError('pkg.heavy must only load on demand')\n",
    "pkg/config.py": (
        "import builtins\nVALUE = 1\n"
        "def __getattr__(name):\n"
        "    builtins.__dict__.setdefault('LOOKUPS', []).append((__name__, name))\n"
        "    return 'anything'\n"
    ),
    "pkg/service.py": "from pkg.config import VALUE\nimport pkg.config\nimport pkg\n",
}


def test_module_getattr_is_never_triggered(project: Project) -> None:
    """Building the graph, scanning bindings and reloading read namespaces only: a module
    ``__getattr__`` (lazy loading, a catch-all that answers every name) is never called for an
    ordinary name. (The import statement itself asks a module for ``__path__`` on every
    ``from m import x``, reload or not: dunder lookups are not counted.)"""
    project.write(GETATTR)
    out = project.result(
        SCRIPT
        + """
import pkg.service
builtins.LOOKUPS = []
r = hotmod.Reloader("pkg")
after_init = list(builtins.LOOKUPS)
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.config")
ok = r.reload("pkg")
ordinary = lambda found: [x for x in found if not x[1].startswith("__")]
emit(after_init=ordinary(after_init), ok=[result.ok, ok.ok], executed=executed(),
     lookups=ordinary(builtins.LOOKUPS), heavy="pkg.heavy" in sys.modules,
     deps=sorted(r.graph.dependencies("pkg.service")),
     value=sys.modules["pkg.service"].VALUE)
"""
    )
    assert out == {
        "after_init": [],
        "ok": [True, True],
        "executed": ["pkg.config", "pkg.service", "pkg", "pkg.service"],
        "lookups": [],
        "heavy": False,
        "deps": ["pkg", "pkg.config"],
        "value": 2,
    }


# -- from x import * ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_all", [False, True])
def test_star_import_sees_added_and_loses_removed_names(project: Project, with_all: bool) -> None:
    all_line = "__all__ = ['A', 'B', 'helper']\n" if with_all else ""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": f"{all_line}A = 1\nB = 2\ndef helper():\n    return A\n",
            "pkg/user.py": "from pkg.base import *\ndef names():\n"
            "    return sorted(n for n in ('A', 'B', 'C', 'helper') if n in globals())\n",
        }
    )
    new_all = "__all__ = ['A', 'C', 'helper']\n" if with_all else ""
    out = project.result(
        SCRIPT
        + f"""
import pkg.user
r = hotmod.Reloader("pkg")
deps = sorted(r.graph.dependencies("pkg.user"))
Path("pkg/base.py").write_text({HEAD!r} + {new_all!r} + "A = 10\\nC = 3\\ndef helper():\\n"
                                "    return A\\n")
reset()
result = r.reload("pkg.base")
emit(deps=deps, ok=result.ok, executed=executed(), names=pkg.user.names(),
     helper=pkg.user.helper(), a=pkg.user.A)
"""
    )
    assert out == {
        "deps": ["pkg.base"],
        "ok": True,
        "executed": ["pkg.base", "pkg.user"],
        "names": ["A", "C", "helper"],
        "helper": 10,
        "a": 10,
    }


def test_star_import_of_a_removed_name_in_all_rolls_back(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "__all__ = ['A']\nA = 1\n",
            "pkg/user.py": "from pkg.base import *\n",
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.user
r = hotmod.Reloader("pkg")
before = snapshot()
edit("pkg/base.py", "A = 1", "B = 1")
result = r.reload("pkg.base")
emit(error=type(result.error).__name__, restored=differences(before), n_errors=len(errors()))
"""
    )
    assert out == {"error": "AttributeError", "restored": [], "n_errors": 1}


# -- long chains -------------------------------------------------------------------------------

CHAIN = 500


def _chain() -> dict[str, str]:
    files = {"chain/__init__.py": "", "chain/m0.py": "VALUE = 0\n"}
    for i in range(1, CHAIN + 1):
        files[f"chain/m{i}.py"] = f"from chain.m{i - 1} import VALUE\n"
    # imported in order, so that the program's own first import is flat
    files["chain/top.py"] = "".join(f"import chain.m{i}\n" for i in range(CHAIN + 1))
    return files


def test_chain_of_500_modules_reloads_without_deep_recursion(project: Project) -> None:
    project.write(_chain())
    out = project.result(
        SCRIPT
        + f"""
import chain.top
sys.setrecursionlimit(400)  # hotmod must not need a stack as deep as the chain
r = hotmod.Reloader("chain")
dependents = len(r.graph.dependents("chain.m0"))
edit("chain/m0.py", "VALUE = 0", "VALUE = 7")
reset()
result = r.reload("chain.m0")
order_ok = executed() == ["chain.m%d" % i for i in range({CHAIN + 1})] + ["chain.top"]
value = sys.modules["chain.m{CHAIN}"].VALUE
edit("chain/m0.py", "VALUE = 7", "VALUE = (")
bad = r.reload("chain.m0")
emit(dependents=dependents, ok=result.ok, order_ok=order_ok, value=value,
     bad=type(bad.error).__name__, n=len(result.reloaded))
"""
    )
    assert out == {
        "dependents": CHAIN + 1,
        "ok": True,
        "order_ok": True,
        "value": 7,
        "bad": "SyntaxError",
        "n": CHAIN + 2,
    }


def test_chain_runtime_failure_at_the_end_restores_all_500(project: Project) -> None:
    files = _chain()
    files["chain/top.py"] += "from chain.m500 import VALUE\nassert VALUE != 9, 'top rejects 9'\n"
    project.write(files)
    out = project.result(
        SCRIPT
        + """
import chain.top
sys.setrecursionlimit(400)
r = hotmod.Reloader("chain")
before = snapshot("chain")
edit("chain/m0.py", "VALUE = 0", "VALUE = 9")
result = r.reload("chain.m0")
emit(error=type(result.error).__name__, restored=differences(before, "chain"))
"""
    )
    assert out == {"error": "AssertionError", "restored": []}


def test_lazy_chain_of_500_reimports_in_program_order(project: Project) -> None:
    """eager=False evicts the whole chain; the program's next import of its entry point imports
    them again one by one, in its own order (no 500 nested imports)."""
    project.write(_chain())
    out = project.result(
        SCRIPT
        + """
import chain.top
r = hotmod.Reloader("chain", eager=False)
edit("chain/m0.py", "VALUE = 0", "VALUE = 7")
result = r.reload("chain.m0")
evicted = len(result.evicted)
import chain.top
emit(ok=result.ok, evicted=evicted, value=sys.modules["chain.m500"].VALUE)
"""
    )
    assert out == {"ok": True, "evicted": CHAIN + 2, "value": 7}


# -- very large files --------------------------------------------------------------------------


def test_very_large_module_reloads(project: Project) -> None:
    lines = "".join(f"V{i} = {i} * 2  # {'x' * 40}\n" for i in range(100_000))
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/big.py": "VALUE = 1\n" + lines,
            "pkg/user.py": "from pkg.big import VALUE, V99999\n",
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.user
r = hotmod.Reloader("pkg")
edit("pkg/big.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.big")
edit("pkg/big.py", "V99999 = 99999 * 2", "V99999 = (")
before = snapshot()
bad = r.reload("pkg.big")
emit(ok=result.ok, executed=executed(), value=[pkg.user.VALUE, pkg.user.V99999],
     bad=type(bad.error).__name__, restored=differences(before),
     place=where("pkg/big.py", 100_002) in str(bad))
""",
        timeout=60,
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.big", "pkg.user"],
        "value": [2, 199998],
        "bad": "SyntaxError",
        "restored": [],
        "place": True,
    }


# -- modules without a file, namespace packages --------------------------------------------------


def test_module_without_file_is_left_alone(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": (
                "import sys, types\n"
                "virtual = types.ModuleType('pkg.virtual')\n"
                "virtual.VALUE = 'virtual'\n"
                "sys.modules['pkg.virtual'] = virtual\n"
            ),
            "pkg/config.py": "VALUE = 1\n",
            "pkg/user.py": "from pkg.virtual import VALUE as V\nfrom pkg.config import VALUE\n",
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.user
virtual = sys.modules["pkg.virtual"]
r = hotmod.Reloader("pkg")
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.config")
try:
    r.reload("pkg.virtual")
    refused = None
except ValueError as exc:
    refused = str(exc)
emit(ok=result.ok, executed=executed(), same=sys.modules["pkg.virtual"] is virtual,
     values=[pkg.user.V, pkg.user.VALUE], watched="pkg.virtual" in r.graph,
     refused=refused)
"""
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.config", "pkg.user"],
        "same": True,
        "values": ["virtual", 2],
        "watched": False,
        "refused": "'pkg.virtual' is not Python source hotmod can re-execute (a namespace "
        "package, C extension or module without a file); reload a .py module",
    }


def test_namespace_package_across_two_folders(project: Project) -> None:
    project.write(
        {
            "one/ns/config.py": "VALUE = 1\n",
            "two/ns/user.py": "from ns.config import VALUE\n",
            "two/ns/sub/deep.py": "import ns.user\ndef get():\n    return ns.user.VALUE\n",
        }
    )
    out = project.result(
        SCRIPT
        + """
sys.path[:0] = ["one", "two"]
import ns.sub.deep
r = hotmod.Reloader("ns")
edit("one/ns/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload(Path("one/ns/config.py"))
edit("one/ns/config.py", "VALUE = 2", "VALUE = (")
before = snapshot("ns")
bad = r.reload("ns.config")
emit(ok=result.ok, executed=executed(), value=sys.modules["ns.sub.deep"].get(),
     roots=len(r.roots), bad=type(bad.error).__name__, restored=differences(before, "ns"))
"""
    )
    assert out == {
        "ok": True,
        "executed": ["ns.config", "ns.user", "ns.sub.deep"],
        "value": 2,
        "roots": 2,
        "bad": "SyntaxError",
        "restored": [],
    }


# -- modules the user removed from sys.modules ---------------------------------------------------

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/config.py": "VALUE = 1\n",
    "pkg/service.py": "from pkg.config import VALUE\n",
    "pkg/api.py": "import pkg.service\ndef call():\n    return pkg.service.VALUE\n",
}


def test_lazy_reload_of_module_with_dependents(project: Project) -> None:
    """eager=False: evict the module and its dependents; they re-execute at the next import."""
    project.write(PACKAGE)
    out = project.result(
        SCRIPT
        + """
import pkg.api
r = hotmod.Reloader("pkg", eager=False)
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.config")
gone = [n for n in ("pkg.config", "pkg.service", "pkg.api") if n not in sys.modules]
import pkg.api
value = sys.modules["pkg.api"].call()
first_executed = executed()
edit("pkg/config.py", "VALUE = 2", "VALUE = 3")
again = r.reload("pkg.config")
import pkg.api
emit(ok=[result.ok, again.ok], evicted=list(result.evicted), gone=gone,
     executed=first_executed, value=value, again=list(again.evicted),
     value2=sys.modules["pkg.api"].call())
"""
    )
    assert out == {
        "ok": [True, True],
        "evicted": ["pkg.api", "pkg.service", "pkg.config"],
        "gone": ["pkg.config", "pkg.service", "pkg.api"],
        "executed": ["pkg.api", "pkg.service", "pkg.config"],
        "value": 2,
        # the modules imported again are known again: the next change evicts them all
        "again": ["pkg.api", "pkg.service", "pkg.config"],
        "value2": 3,
    }


def test_module_deleted_from_sys_modules_by_the_user(project: Project) -> None:
    """The user deletes pkg.config from sys.modules (pkg.service still holds the old one).
    Reloading its dependent imports it afresh; nothing crashes."""
    project.write(PACKAGE)
    out = project.result(
        SCRIPT
        + """
import pkg.api
r = hotmod.Reloader("pkg")
del sys.modules["pkg.config"]
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.service")
again = r.reload("pkg.config")
emit(ok=[result.ok, again.ok], executed=executed(), value=pkg.api.call(),
     deps=sorted(r.graph.dependents("pkg.config")))
"""
    )
    assert out == {
        "ok": [True, True],
        "executed": [
            "pkg.service",
            "pkg.config",
            "pkg.api",
            "pkg.config",
            "pkg.service",
            "pkg.api",
        ],
        "value": 2,
        "deps": ["pkg.api", "pkg.service"],
    }


def test_module_replaced_by_the_user_while_size_stays_the_same(project: Project) -> None:
    """One module deleted and another first imported between two calls: the module dict has the
    same size as before, and hotmod must still know the new module."""
    project.write({**PACKAGE, "pkg/other.py": "X = 1\n"})
    out = project.result(
        SCRIPT
        + """
import pkg.api
r = hotmod.Reloader("pkg")
del sys.modules["pkg.api"]
import pkg.other
edit("pkg/other.py", "X = 1", "X = 2")
reset()
try:
    result = r.reload("pkg.other")
    outcome = [result.ok, executed(), sys.modules["pkg.other"].X]
except Exception as exc:
    outcome = repr(exc)
emit(outcome=outcome)
"""
    )
    assert out == {"outcome": [True, ["pkg.other"], 2]}


# -- reloads requested while a reload runs --------------------------------------------------------


def test_reload_requested_from_module_code_during_a_reload(project: Project) -> None:
    project.write(
        {
            **PACKAGE,
            "pkg/service.py": (
                "from pkg.config import VALUE\n"
                "import builtins\n"
                "if hasattr(builtins, 'RELOADER'):\n"
                "    builtins.INNER = builtins.RELOADER.reload('pkg.config')\n"
            ),
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.api
r = hotmod.Reloader("pkg")
builtins.RELOADER = r
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.config")
inner = builtins.INNER
emit(ok=result.ok, executed=executed(), value=pkg.api.call(), inner_ok=inner.ok,
     inner=type(inner.error).__name__, says="after the current reload returns" in str(inner))
"""
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.config", "pkg.service", "pkg.api"],
        "value": 2,
        "inner_ok": False,
        "inner": "ReloaderStateError",
        "says": True,
    }


def test_check_from_module_code_during_a_reload_keeps_pending_changes(project: Project) -> None:
    """Module code calls check() (e.g. through a @reloading function) while hotmod reloads it:
    it cannot apply the pending change now, and must not lose it either."""
    project.write(
        {
            **PACKAGE,
            "pkg/other.py": "X = 1\n",
            "pkg/service.py": (
                "from pkg.config import VALUE\n"
                "import builtins\n"
                "if hasattr(builtins, 'RELOADER'):\n"
                "    builtins.INNER = builtins.RELOADER.check()\n"
            ),
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.api, pkg.other
r = hotmod.Reloader("pkg", background=False).start()
edit("pkg/other.py", "X = 1", "X = 2")
wait_seen(r)  # the watcher saw the edit, written: check() would apply it now
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
# seen written too: while its events are still arriving, check() would leave every pending
# change pending (a file being written), and the later check() could come before its close
wait_seen(r)
builtins.RELOADER = r
result = r.reload("pkg.config")
del builtins.RELOADER
later = r.check()
r.stop()
emit(ok=result.ok, inner=type(getattr(builtins.INNER, "error", None)).__name__,
     later=later is not None and later.ok, x=sys.modules["pkg.other"].X)
"""
    )
    assert out == {"ok": True, "inner": "ReloaderStateError", "later": True, "x": 2}


def test_reload_from_another_thread_waits_for_the_running_one(project: Project) -> None:
    """Module code hands a reload to another thread and waits for it with a timeout: the other
    thread's reload runs after the current one (no deadlock, nothing lost)."""
    project.write(
        {
            **PACKAGE,
            "pkg/other.py": "X = 1\n",
            "pkg/service.py": (
                "from pkg.config import VALUE\n"
                "import builtins, threading\n"
                "if hasattr(builtins, 'RELOADER'):\n"
                "    r = builtins.RELOADER\n"
                "    work = lambda: builtins.OUT.append(r.reload('pkg.other'))\n"
                "    t = threading.Thread(target=work)\n"
                "    t.start()\n"
                "    t.join(0.2)\n"
                "    builtins.JOINED = not t.is_alive()\n"
                "    builtins.THREAD = t\n"
            ),
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.api, pkg.other
r = hotmod.Reloader("pkg")
builtins.RELOADER, builtins.OUT = r, []
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
edit("pkg/other.py", "X = 1", "X = 2")
result = r.reload("pkg.config")
del builtins.RELOADER
builtins.THREAD.join(10)
emit(ok=result.ok, joined_early=builtins.JOINED, other=[x.ok for x in builtins.OUT],
     x=sys.modules["pkg.other"].X)
"""
    )
    assert out == {"ok": True, "joined_early": False, "other": [True], "x": 2}


# -- several reloaders, stop() -------------------------------------------------------------------

OVERLAP = {
    "pkg/__init__.py": "",
    "pkg/sub/__init__.py": "",
    "pkg/sub/x.py": "VALUE = 1\n",
    "pkg/sub/y.py": "from pkg.sub.x import VALUE\n",
    "pkg/top.py": "from pkg.sub.y import VALUE\n",
}


def test_two_reloaders_over_overlapping_packages(project: Project) -> None:
    """Reloader("pkg") and Reloader("pkg.sub") both watch pkg/sub/x.py. Behaviour: each applies
    the change on its own, so a module both watch re-executes once per reloader, and the one
    watching "pkg.sub" does not know pkg.top; the end state is the new code everywhere. Reloads
    from two threads at once never deadlock (both take the import lock, one at a time)."""
    project.write(OVERLAP)
    out = project.result(
        SCRIPT
        + """
import pkg.top
outer_results, inner_results = [], []
outer = hotmod.Reloader("pkg", debounce=0.02, on_reload=outer_results.append).start()
inner = hotmod.Reloader("pkg.sub", debounce=0.02, on_reload=inner_results.append).start()
reset()
edit("pkg/sub/x.py", "VALUE = 1", "VALUE = 2")
wait_for(lambda: outer_results and inner_results, "both reloaders")
outer.stop(); inner.stop()
watched_ok = [x.ok for x in outer_results + inner_results]
executions = sorted(executed())
values = [sys.modules[n].VALUE for n in ("pkg.sub.x", "pkg.sub.y", "pkg.top")]
stale = vars(sys.modules["pkg.top"])["VALUE"]
# now hammer both from two threads
errors_seen = []
def hammer(r, target):
    for _ in range(40):
        res = r.reload(target)
        if not res.ok:
            errors_seen.append(str(res))
threads = [threading.Thread(target=hammer, args=(outer, "pkg.sub.x")),
           threading.Thread(target=hammer, args=(inner, "pkg.sub.x"))]
for t in threads: t.start()
for t in threads: t.join(20)
emit(watched_ok=watched_ok, executions=executions, values=values, stale=stale,
     alive=[t.is_alive() for t in threads], errors=errors_seen,
     final=[sys.modules["pkg.top"].VALUE, sys.modules["pkg.sub.y"].VALUE],
     same=sys.modules["pkg.sub.y"].__dict__["VALUE"] == 2)
"""
    )
    assert out["watched_ok"] == [True, True]
    # each reloader re-executed x and y; only the one watching "pkg" re-executed pkg.top
    assert out["executions"] == ["pkg.sub.x", "pkg.sub.x", "pkg.sub.y", "pkg.sub.y", "pkg.top"]
    assert out["values"] == [2, 2, 2]
    assert out["alive"] == [False, False]
    assert out["errors"] == []
    assert out["final"] == [2, 2]


def test_stop_while_a_background_reload_runs(project: Project) -> None:
    """stop() from another thread while the background thread executes module code: it waits
    for that reload to finish, then returns; nothing is left half-done."""
    project.write(
        {
            **PACKAGE,
            "pkg/service.py": (
                "from pkg.config import VALUE\n"
                "import builtins\n"
                "if VALUE == 2:\n"
                "    builtins.STARTED.set()\n"
                "    assert builtins.RELEASE.wait(10), 'never released'\n"
            ),
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.api
builtins.STARTED, builtins.RELEASE = threading.Event(), threading.Event()
results = []
r = hotmod.Reloader("pkg", debounce=0.01, on_reload=results.append).start()
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
assert builtins.STARTED.wait(10), "the reload never started"
stopper = threading.Thread(target=r.stop)
stopper.start()
stopper.join(0.3)
waited = stopper.is_alive()
builtins.RELEASE.set()
stopper.join(10)
emit(waited=waited, stopped=not stopper.is_alive(), running=r.running,
     results=[x.ok for x in results], value=pkg.api.call(),
     threads=sorted(t.name for t in threading.enumerate() if t.name.startswith("hotmod")))
"""
    )
    assert out == {
        "waited": True,
        "stopped": True,
        "running": False,
        "results": [True],
        "value": 2,
        "threads": [],
    }


def test_stop_from_module_code_and_from_callback(project: Project) -> None:
    """stop() called by module code during a background reload, and by an on_reload callback of
    a reload in the caller's thread while the background thread waits to apply a change."""
    project.write(
        {
            **PACKAGE,
            "pkg/other.py": "X = 1\n",
            "pkg/service.py": (
                "from pkg.config import VALUE\n"
                "import builtins\n"
                "if VALUE == 2:\n"
                "    builtins.RELOADER.stop()\n"
            ),
        }
    )
    out = project.result(
        SCRIPT
        + """
import pkg.api, pkg.other
results = []
r = hotmod.Reloader("pkg", debounce=0.01, on_reload=results.append).start()
builtins.RELOADER = r
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
wait_for(lambda: results, "background reload")
first = [results[0].ok, r.running, pkg.api.call()]

# second reloader: stop() from the callback of a reload in the caller's thread, while the
# background thread has a change to apply and waits for the reloader's lock
def background_waiting():
    # r2's thread left its wait for file events: it has the change and wants the lock
    frame = sys._current_frames().get(r2._thread.ident)  # test-only peek
    stack = "".join(traceback.format_stack(frame)) if frame else ""
    return "self.lock.wait" not in stack and "_apply_" in stack
calls = []
def callback(result):
    calls.append(result.ok)
    if len(calls) == 1:
        edit("pkg/other.py", "X = 1", "X = 2")
        wait_for(background_waiting, "the background thread to wait for the lock")
        r2.stop()
edit("pkg/config.py", "VALUE = 2", "VALUE = 3")  # before start(): no event for it
r2 = hotmod.Reloader("pkg", debounce=0.01, on_reload=callback).start()
result = r2.reload("pkg.config")
emit(first=first, second=result.ok, running=r2.running, calls=calls[:1],
     threads=sorted(t.name for t in threading.enumerate() if t.name.startswith("hotmod")))
"""
    )
    assert out == {
        "first": [True, False, 2],
        "second": True,
        "running": False,
        "calls": [True],
        "threads": [],
    }
