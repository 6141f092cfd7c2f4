"""Broken edits: whatever is wrong with the new code, the process keeps its last good modules.

For every kind of failure the test checks, in a fresh interpreter:

- the reload returns ``ok=False, rolled_back=True`` with the exception (never raises it, except
  ``KeyboardInterrupt`` in the caller's thread, which is re-raised after the rollback);
- every module object is the one that was running before, with every global identical and the
  parent-package attribute pointing at it, and no module of the failed attempt is left behind;
- the old code still runs;
- exactly one ERROR record is logged, and the one-line summary names the user's file and line;
- a later good edit reloads normally (exact list of executed modules).
"""

from __future__ import annotations

import pytest

from conftest import Project

# Shared by the reliability test files: helpers defined in the subprocess.
HELPERS = """
import signal, threading, types, traceback


LOG = _Records()
logging.getLogger("hotmod").addHandler(LOG)

def errors():
    '''Messages of ERROR (and worse) records logged by hotmod so far.'''
    return [r.getMessage() for r in LOG.records if r.levelno >= logging.ERROR]

def error_texts():
    '''ERROR records with their formatted traceback, as one text each.'''
    out = []
    for r in LOG.records:
        if r.levelno >= logging.ERROR:
            text = r.getMessage()
            if r.exc_info:
                text += "\\n" + "".join(traceback.format_exception(*r.exc_info))
            out.append(text)
    return out

def watched(prefix="pkg"):
    return sorted(n for n in sys.modules if n == prefix or n.startswith(prefix + "."))

def snapshot(prefix="pkg"):
    return {n: (sys.modules[n], dict(vars(sys.modules[n]))) for n in watched(prefix)}

def differences(snap, prefix="pkg"):
    '''What is not exactly as in ``snap``: [] when every module was restored as it was.'''
    bad = []
    extra = sorted(set(watched(prefix)) - set(snap))
    if extra:
        bad.append(f"left in sys.modules: {extra}")
    for name, (module, namespace) in snap.items():
        current = sys.modules.get(name)
        if current is not module:
            bad.append(f"{name}: module object replaced ({current!r})")
            continue
        now = vars(current)
        if now.keys() != namespace.keys():
            bad.append(f"{name}: globals differ in {sorted(now.keys() ^ namespace.keys())}")
        bad.extend(
            f"{name}.{key}: value replaced"
            for key, value in namespace.items()
            if key in now and now[key] is not value
        )
        parent, _, child = name.rpartition(".")
        if parent and vars(sys.modules[parent]).get(child) is not module:
            bad.append(f"{name}: attribute on {parent} is not the module")
    return bad

def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)

def where(path, line):
    '''How the one-line summary names a place: ``.../pkg/config.py, line 3)``.'''
    return f"{os.sep}{os.path.normpath(path)}, line {line})"
"""

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/config.py": "VALUE = 1\ndef get():\n    return VALUE\n",
    "pkg/service.py": (
        "from pkg.config import VALUE, get\ndef value():\n    return (VALUE, get())\n"
    ),
    "pkg/api.py": "import pkg.service\ndef call():\n    return pkg.service.value()\n",
}

# The RECORD line the fixture prepends is line 1 of every written module.
HEAD = "import builtins; builtins.__dict__.setdefault('EXECUTED', []).append(__name__)\n"

# pkg/config.py after a good edit, as the subprocess writes it.
GOOD_CONFIG = HEAD + "VALUE = 2\ndef get():\n    return VALUE\n"


def _broken_reload_script(setup: str, breaking: str, target: str) -> str:
    """The common scenario; ``breaking`` writes the broken file(s)."""
    return (
        HELPERS
        + f"""
import pkg.api
r = hotmod.Reloader("pkg")
{setup}
before = snapshot()
reset()
{breaking}
result = r.reload({target!r})
restored = differences(before)
still_runs = pkg.api.call()
logged = errors()
summary = str(result)
# a later good edit reloads normally
Path("pkg/config.py").write_text({HEAD!r} + "VALUE = 2\\ndef get():\\n    return VALUE\\n")
Path("pkg/service.py").write_text({HEAD + PACKAGE["pkg/service.py"]!r})
reset()
good = r.reload("pkg.config", "pkg.service")
emit(ok=result.ok, rolled_back=result.rolled_back, error=type(result.error).__name__,
     reloaded=list(result.reloaded), restored=restored, still_runs=still_runs, logged=logged,
     summary=summary, good_ok=good.ok, good_executed=executed(),
     after=sys.modules["pkg.api"].call(), good_errors=errors()[len(logged):])
"""
    )


def _assert_rolled_back(out: dict[str, object], error: str | tuple[str, ...], place: str) -> None:
    errors = (error,) if isinstance(error, str) else error
    assert out["error"] in errors, out
    assert out["ok"] is False
    assert out["rolled_back"] is True
    assert out["reloaded"] == []
    assert out["restored"] == []
    assert out["still_runs"] == [1, 1]
    logged = out["logged"]
    assert isinstance(logged, list)
    assert len(logged) == 1, logged
    assert place in logged[0], (place, logged[0])
    assert place in str(out["summary"]), (place, out["summary"])
    assert "rolled back, the previous code is still running" in logged[0]
    assert out["good_ok"] is True, out
    assert out["good_executed"] == ["pkg.config", "pkg.service", "pkg.api"]
    assert out["after"] == [2, 2]
    assert out["good_errors"] == []


# (id, new source of pkg/config.py without the RECORD line, error types, line of the error)
SYNTAX_ERRORS = [
    ("unclosed-paren", "VALUE = (1,\n", "SyntaxError", 2),
    ("invalid-syntax", "VALUE = 1\nVALUE 2\n", "SyntaxError", 3),
    ("bad-fstring", "VALUE = 1\nNAME = f'{VALUE'\n", "SyntaxError", 3),
    ("return-outside-function", "VALUE = 1\nreturn VALUE\n", "SyntaxError", 3),
    ("assign-to-keyword", "None = 1\n", "SyntaxError", 2),
    ("nonlocal-at-module-level", "VALUE = 1\nnonlocal VALUE\n", "SyntaxError", 3),
    ("unexpected-indent", "VALUE = 1\n    OTHER = 2\n", "IndentationError", 3),
    ("missing-indent", "def get():\nreturn 1\n", "IndentationError", 3),
    ("unindent-mismatch", "if True:\n    VALUE = 1\n  OTHER = 2\n", "IndentationError", 4),
    ("tabs-and-spaces", "if True:\n        VALUE = 1\n\tOTHER = 2\n", ("TabError",), 4),
    ("too-deeply-nested", "VALUE = " + "(" * 250 + "1" + ")" * 250 + "\n", "SyntaxError", 2),
]


@pytest.mark.parametrize(
    ("source", "error", "line"),
    [pytest.param(source, error, line, id=case) for case, source, error, line in SYNTAX_ERRORS],
)
def test_syntax_error_rolls_back(
    project: Project, source: str, error: str | tuple[str, ...], line: int
) -> None:
    project.write(PACKAGE)
    out = project.result(
        _broken_reload_script(
            "",
            f"Path('pkg/config.py').write_text({HEAD + source!r})",
            "pkg.config",
        )
    )
    _assert_rolled_back(out, error, f"pkg/config.py, line {line})")


# Bytes that are not valid source at all. The compiler reports some of these without a file name
# (null bytes) or as a plain RecursionError/MemoryError: the summary must still name the file.
UNREADABLE = [
    ("invalid-utf8", b"VALUE = '\xff\xfe'\n", ("SyntaxError",), 2),
    ("latin1-without-coding-line", "VALUE = 'café'\n".encode("latin-1"), ("SyntaxError",), 2),
    ("unknown-coding", b"# -*- coding: no-such-codec -*-\nVALUE = 1\n", ("SyntaxError",), None),
    ("null-byte", b"VALUE = 1\n\x00\n", ("SyntaxError", "ValueError"), 3),
    (
        "compiler-recursion",
        b"VALUE = 1\nX = " + b"+".join([b"VALUE"] * 60000) + b"\n",
        ("RecursionError", "SyntaxError", "MemoryError"),
        None,
    ),
]


@pytest.mark.parametrize(
    ("data", "error", "line"),
    [pytest.param(data, error, line, id=case) for case, data, error, line in UNREADABLE],
)
def test_unreadable_source_rolls_back_and_names_the_file(
    project: Project, data: bytes, error: tuple[str, ...], line: int | None
) -> None:
    project.write(PACKAGE)
    # a coding declaration counts only on the first two lines: no RECORD line before it
    full = data if data.startswith(b"# -*-") else HEAD.encode() + data
    out = project.result(
        _broken_reload_script(
            "",
            f"Path('pkg/config.py').write_bytes({full!r})",
            "pkg.config",
        )
    )
    # The summary must point at the user's file, not at hotmod's own source.
    place = "pkg/config.py, line " + ("" if line is None else f"{line})")
    _assert_rolled_back(out, error, place)
    assert "hotmod" not in str(out["summary"]).split(": ", 1)[1].split("(")[-1], out["summary"]


# (id, new source of pkg/config.py without the RECORD line, error type, line of the raise)
IMPORT_TIME_ERRORS = [
    ("name-error", "VALUE = 1\nOTHER = UNDEFINED + 1\n", "NameError", 3),
    ("missing-module", "import pkg.no_such_module\nVALUE = 1\n", "ModuleNotFoundError", 2),
    ("missing-external-module", "import no_such_dist_xyz\nVALUE = 1\n", "ModuleNotFoundError", 2),
    ("missing-name", "from pkg import nothing_here\nVALUE = 1\n", "ImportError", 2),
    ("missing-name-stdlib", "from os import no_such_name\nVALUE = 1\n", "ImportError", 2),
    (
        "recursion",
        "def down(n):\n    return down(n + 1)\nVALUE = down(0)\n",
        "RecursionError",
        3,
    ),
    ("system-exit", "import sys\nVALUE = 1\nsys.exit(3)\n", "SystemExit", 4),
    ("raise-system-exit", "VALUE = 1\nraise SystemExit('bye')\n", "SystemExit", 3),
    ("assertion", "VALUE = 1\nassert VALUE == 2, 'not yet'\n", "AssertionError", 3),
    ("generator-exit", "VALUE = 1\nraise GeneratorExit\n", "GeneratorExit", 3),
    (
        "error-inside-library-call",
        "import json\nVALUE = 1\nCONF = json.loads('{broken')\n",
        "JSONDecodeError",
        4,
    ),
]


@pytest.mark.parametrize(
    ("source", "error", "line"),
    [pytest.param(s, e, n, id=case) for case, s, e, n in IMPORT_TIME_ERRORS],
)
def test_import_time_error_rolls_back(project: Project, source: str, error: str, line: int) -> None:
    """Execution errors: the changed module and its dependents were evicted and re-executing
    when it failed; everything comes back, and the summary names the line in the user's file
    (for an error raised inside a library call too, not the library's line)."""
    project.write(PACKAGE)
    out = project.result(
        _broken_reload_script(
            "",
            f"Path('pkg/config.py').write_text({HEAD + source!r})",
            "pkg.config",
        )
    )
    _assert_rolled_back(out, error, f"pkg/config.py, line {line})")


def test_error_in_dependent_rolls_back_the_changed_module_too(project: Project) -> None:
    """The changed module is fine; its dependent fails with the new value."""
    project.write(
        {
            **PACKAGE,
            "pkg/service.py": (
                "from pkg.config import VALUE, get\n"
                "if VALUE == 3:\n"
                "    raise RuntimeError('service cannot handle 3')\n"
                "def value():\n    return (VALUE, get())\n"
            ),
        }
    )
    out = project.result(
        _broken_reload_script(
            "",
            f"Path('pkg/config.py').write_text({HEAD!r} + 'VALUE = 3\\ndef get():\\n"
            "    return VALUE\\n')",
            "pkg.config",
        )
    )
    _assert_rolled_back(out, "RuntimeError", "pkg/service.py, line 4)")


def test_failed_first_time_import_is_removed_again(project: Project) -> None:
    """New code imports a new watched module that imports fine, then a dependent fails: the new
    module is removed from sys.modules and from its package, as if never imported."""
    project.write({**PACKAGE, "pkg/extra.py": "EXTRA = 1\n"})
    out = project.result(
        HELPERS
        + f"""
import pkg.api
r = hotmod.Reloader("pkg")
before = snapshot()
Path("pkg/config.py").write_text({HEAD!r} + "from pkg.extra import EXTRA\\nVALUE = 1\\n"
                                   "def get():\\n    return VALUE\\n")
Path("pkg/api.py").write_text({HEAD!r} + "import pkg.service\\nimport pkg.missing_one\\n")
reset()
result = r.reload("pkg.config", "pkg.api")
emit(error=type(result.error).__name__, restored=differences(before),
     executed=executed(), has_extra=hasattr(sys.modules["pkg"], "extra"),
     n_errors=len(errors()))
"""
    )
    assert out == {
        "error": "ModuleNotFoundError",
        "restored": [],
        "executed": ["pkg.config", "pkg.extra", "pkg.service", "pkg.api"],
        "has_extra": False,
        "n_errors": 1,
    }


def test_failed_edit_of_dependent_is_applied_when_its_dependency_is_fixed(
    project: Project,
) -> None:
    """service.py is edited to import a name config.py does not have yet: rolled back. Then
    config.py gets the name. Reloading config re-executes service: it must run service.py as it
    is on disk now (the edit), not the code of the version that was rolled back to."""
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
r = hotmod.Reloader("pkg")
# one successful reload first, so hotmod holds the code of service's current version
edit("pkg/config.py", "VALUE = 1", "VALUE = 1  # touched")
assert r.reload("pkg.config").ok
Path("pkg/service.py").write_text({HEAD!r} + "from pkg.config import VALUE, get, NEW\\n"
                                    "def value():\\n    return (VALUE, NEW)\\n")
first = r.reload("pkg.service")
edit("pkg/config.py", "VALUE = 1  # touched", "VALUE = 1\\nNEW = 5")
reset()
second = r.reload("pkg.config")
emit(first=type(first.error).__name__, second_ok=second.ok, executed=executed(),
     value=sys.modules["pkg.service"].value(), api=sys.modules["pkg.api"].call())
"""
    )
    assert out == {
        "first": "ImportError",
        "second_ok": True,
        "executed": ["pkg.config", "pkg.service", "pkg.api"],
        "value": [1, 5],
        "api": [1, 5],
    }


def test_failed_edit_via_watcher_is_retried_with_its_fixed_dependency(project: Project) -> None:
    """The same, as a user sees it: save service.py (fails), then save config.py."""
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
results = []
r = hotmod.Reloader("pkg", debounce=0.02, on_reload=results.append).start()
edit("pkg/config.py", "VALUE = 1", "VALUE = 1  # touched")
wait_for(lambda: len(results) == 1, "first reload")
Path("pkg/service.py").write_text({HEAD!r} + "from pkg.config import VALUE, get, NEW\\n"
                                    "def value():\\n    return (VALUE, NEW)\\n")
wait_for(lambda: len(results) == 2, "failed reload")
edit("pkg/config.py", "VALUE = 1  # touched", "VALUE = 1\\nNEW = 5")
wait_for(lambda: len(results) == 3, "third reload")
r.stop()
emit(ok=[x.ok for x in results], value=sys.modules["pkg.service"].value())
"""
    )
    assert out == {"ok": [True, False, True], "value": [1, 5]}


def test_lazy_mode_keeps_modules_on_syntax_error(project: Project) -> None:
    """eager=False only evicts; a change that does not even compile must not evict anything
    (else the next import raises the SyntaxError in the user's code and the app breaks)."""
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
r = hotmod.Reloader("pkg", eager=False)
before = snapshot()
Path("pkg/config.py").write_text({HEAD!r} + "VALUE = (\\n")
result = r.reload("pkg.config")
restored = differences(before)
try:
    import pkg.api
    import_error = None
except BaseException as exc:
    import_error = type(exc).__name__
emit(ok=result.ok, rolled_back=result.rolled_back, evicted=list(result.evicted),
     restored=restored, import_error=import_error, n_errors=len(errors()))
"""
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "evicted": [],
        "restored": [],
        "import_error": None,
        "n_errors": 1,
    }


# -- KeyboardInterrupt -------------------------------------------------------------------------


def test_keyboard_interrupt_in_module_code_rolls_back_then_reraises(project: Project) -> None:
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
GOOD = {GOOD_CONFIG!r}
import pkg.api
seen = []
r = hotmod.Reloader("pkg", on_reload=seen.append)
before = snapshot()
Path("pkg/config.py").write_text({HEAD!r} + "VALUE = 1\\nraise KeyboardInterrupt\\n")
try:
    r.reload("pkg.config")
    raised = None
except KeyboardInterrupt:
    raised = "KeyboardInterrupt"
restored = differences(before)
logged = errors()
Path("pkg/config.py").write_text(GOOD)
reset()
good = r.reload("pkg.config")
emit(raised=raised, restored=restored, n_errors=len(logged),
     place=where("pkg/config.py", 3) in logged[0],
     callback=[(type(x.error).__name__, x.rolled_back) for x in seen],
     good=good.ok, executed=executed(), after=pkg.api.call())
"""
    )
    assert out == {
        "raised": "KeyboardInterrupt",
        "restored": [],
        "n_errors": 1,
        "place": True,
        "callback": [["KeyboardInterrupt", True], ["NoneType", False]],
        "good": True,
        "executed": ["pkg.config", "pkg.service", "pkg.api"],
        "after": [2, 2],
    }


def test_real_sigint_during_reload_rolls_back_then_reraises(project: Project) -> None:
    """A real Ctrl-C (SIGINT) arriving while a dependent executes."""
    project.write(
        {
            **PACKAGE,
            "pkg/service.py": (
                "from pkg.config import VALUE, get\n"
                "import os, signal, time\n"
                "if VALUE == 2:\n"
                "    os.kill(os.getpid(), signal.SIGINT)\n"
                "    deadline = time.monotonic() + 10\n"
                "    while time.monotonic() < deadline:\n"
                "        time.sleep(0.001)\n"
                "    raise RuntimeError('no SIGINT arrived')\n"
                "def value():\n    return (VALUE, get())\n"
            ),
        }
    )
    out = project.result(
        HELPERS
        + """
# A background job of a non-interactive shell starts with SIGINT ignored: Ctrl-C's handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
import pkg.api
r = hotmod.Reloader("pkg")
before = snapshot()
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
try:
    r.reload("pkg.config")
    raised = None
except KeyboardInterrupt:
    raised = "KeyboardInterrupt"
emit(raised=raised, restored=differences(before), still=pkg.api.call(), n_errors=len(errors()))
"""
    )
    assert out == {"raised": "KeyboardInterrupt", "restored": [], "still": [1, 1], "n_errors": 1}


def test_keyboard_interrupt_in_background_reload_is_not_fatal(project: Project) -> None:
    """In the background thread there is no caller to re-raise to: roll back, report, and keep
    watching."""
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
GOOD = {GOOD_CONFIG!r}
import pkg.api
results = []
r = hotmod.Reloader("pkg", debounce=0.02, on_reload=results.append).start()
before = snapshot()
Path("pkg/config.py").write_text({HEAD!r} + "VALUE = 1\\nraise KeyboardInterrupt\\n")
wait_for(lambda: len(results) == 1, "the interrupted reload")
restored = differences(before)
Path("pkg/config.py").write_text(GOOD)
wait_for(lambda: len(results) == 2, "the next reload")
r.stop()
emit(first=type(results[0].error).__name__, restored=restored, second=results[1].ok,
     after=pkg.api.call(), n_errors=len(errors()))
"""
    )
    assert out == {
        "first": "KeyboardInterrupt",
        "restored": [],
        "second": True,
        "after": [2, 2],
        "n_errors": 1,
    }


# -- dispose hooks and callbacks -------------------------------------------------------------

DISPOSING = {
    **PACKAGE,
    "pkg/service.py": (
        "from pkg.config import VALUE, get\n"
        "import builtins\n"
        "def value():\n    return (VALUE, get())\n"
        "def __hotmod_dispose__():\n"
        "    builtins.__dict__.setdefault('DISPOSED', []).append(VALUE)\n"
        "    raise builtins.DISPOSE_ERROR\n"
    ),
}


@pytest.mark.parametrize("raised", ["ValueError('dispose failed')", "SystemExit(4)"])
def test_dispose_hook_error_is_logged_and_reload_goes_on(project: Project, raised: str) -> None:
    project.write(DISPOSING)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
builtins.DISPOSE_ERROR = {raised}
r = hotmod.Reloader("pkg")
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
reset()
result = r.reload("pkg.config")
texts = error_texts()
emit(ok=result.ok, executed=executed(), after=pkg.api.call(), disposed=builtins.DISPOSED,
     n_errors=len(texts), names_hook="__hotmod_dispose__ of pkg.service" in texts[0],
     place=('service.py", line 8' in texts[0]))
"""
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.config", "pkg.service", "pkg.api"],
        "after": [2, 2],
        "disposed": [1],
        "n_errors": 1,
        "names_hook": True,
        "place": True,
    }


@pytest.mark.parametrize(
    "raised", ["ValueError('dispose failed')", "SystemExit(4)", "KeyboardInterrupt()"]
)
def test_dispose_hook_error_in_background_thread_keeps_watching(
    project: Project, raised: str
) -> None:
    project.write(DISPOSING)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
builtins.DISPOSE_ERROR = {raised}
results = []
r = hotmod.Reloader("pkg", debounce=0.02, on_reload=results.append).start()
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
wait_for(lambda: len(results) == 1, "first reload")
builtins.DISPOSE_ERROR = ValueError("again")
edit("pkg/config.py", "VALUE = 2", "VALUE = 3")
wait_for(lambda: len(results) == 2, "second reload")
alive = any(t.name.startswith("hotmod-reloader") for t in threading.enumerate())
r.stop()
emit(after=pkg.api.call(), alive=alive, disposed=builtins.DISPOSED)
"""
    )
    assert out == {
        "after": [3, 3],
        "alive": True,
        # a KeyboardInterrupt in the hook stops that reload before anything was evicted
        "disposed": [1, 1] if raised == "KeyboardInterrupt()" else [1, 2],
    }


@pytest.mark.parametrize("raised", ["ValueError('callback')", "SystemExit(5)"])
def test_on_reload_callback_error_in_caller_thread(project: Project, raised: str) -> None:
    """A failing callback does not change the reload (done and committed) and is logged once."""
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
calls = []
def callback(result):
    calls.append(result.ok)
    raise {raised}
r = hotmod.Reloader("pkg", on_reload=callback)
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
try:
    result = r.reload("pkg.config")
    outcome = result.ok
except BaseException as exc:
    outcome = type(exc).__name__
edit("pkg/config.py", "VALUE = 2", "VALUE = 3")
again = r.reload("pkg.config").ok
texts = error_texts()
emit(outcome=outcome, again=again, calls=calls, after=pkg.api.call(), n_errors=len(texts),
     names_callback=all("on_reload callback" in t for t in texts))
"""
    )
    assert out == {
        "outcome": True,
        "again": True,
        "calls": [True, True],
        "after": [3, 3],
        "n_errors": 2,
        "names_callback": True,
    }


@pytest.mark.parametrize("raised", ["ValueError('callback')", "SystemExit(5)", "KeyboardInterrupt"])
def test_on_reload_callback_error_in_background_thread_keeps_watching(
    project: Project, raised: str
) -> None:
    project.write(PACKAGE)
    out = project.result(
        HELPERS
        + f"""
import pkg.api
calls = []
def callback(result):
    calls.append(result.ok)
    raise {raised}
r = hotmod.Reloader("pkg", debounce=0.02, on_reload=callback).start()
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
wait_for(lambda: len(calls) == 1, "first reload")
edit("pkg/config.py", "VALUE = 2", "VALUE = 3")
wait_for(lambda: len(calls) == 2, "second reload")
alive = any(t.name.startswith("hotmod-reloader") for t in threading.enumerate())
r.stop()
emit(calls=calls, after=pkg.api.call(), alive=alive)
"""
    )
    assert out == {"calls": [True, True], "after": [3, 3], "alive": True}


# -- reporting ---------------------------------------------------------------------------------


def test_broken_save_via_watcher_is_reported_once(project: Project) -> None:
    """One broken save, seen by the watcher: one failed reload, one ERROR record; the app keeps
    running and the next good save reloads. A later save of another module shows that nothing
    else was pending."""
    project.write({**PACKAGE, "pkg/other.py": "X = 1\n"})
    out = project.result(
        HELPERS
        + f"""
import pkg.api, pkg.other
results = []
r = hotmod.Reloader("pkg", debounce=0.02, on_reload=results.append).start()
before = snapshot()
Path("pkg/config.py").write_text({HEAD!r} + "VALUE = (1,\\n")
wait_for(lambda: len(results) == 1, "failed reload")
restored = differences(before)
edit("pkg/other.py", "X = 1", "X = 2")
wait_for(lambda: len(results) == 2, "sentinel reload")
edit("pkg/config.py", "VALUE = (1,", "VALUE = 2\\ndef get():\\n    return VALUE")
wait_for(lambda: len(results) == 3, "good reload")
r.stop()
emit(ok=[x.ok for x in results], restored=restored, n_errors=len(errors()),
     place=where("pkg/config.py", 2) in errors()[0], after=pkg.api.call())
"""
    )
    assert out == {
        "ok": [False, True, True],
        "restored": [],
        "n_errors": 1,
        "place": True,
        "after": [2, 2],
    }


def test_reload_near_the_recursion_limit_never_half_rolls_back(project: Project) -> None:
    """A reload started deep in the stack, whose module code then overflows it: at any depth,
    either nothing was touched or everything was restored."""
    project.write(
        {
            **PACKAGE,
            "pkg/service.py": (
                "from pkg.config import VALUE, get\n"
                "def deep(n):\n    return deep(n + 1)\n"
                "if VALUE == 2:\n    deep(0)\n"
                "def value():\n    return (VALUE, get())\n"
            ),
        }
    )
    out = project.result(
        HELPERS
        + """
import pkg.api
r = hotmod.Reloader("pkg")
before = snapshot()
edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
problems = []
def at_depth(n, margin):
    if n > 0:
        return at_depth(n - 1, margin)
    try:
        return r.reload("pkg.config")
    except RecursionError:
        return None
limit = sys.getrecursionlimit()
for margin in range(5, 120, 3):
    depth = limit - margin - len(traceback.extract_stack())
    try:
        at_depth(depth, margin)
    except RecursionError:
        pass
    problems.extend(f"margin {margin}: {p}" for p in differences(before))
    if problems:
        break
emit(problems=problems, still=pkg.api.call())
"""
    )
    assert out == {"problems": [], "still": [1, 1]}
