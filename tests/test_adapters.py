"""Registries outside the module dict: imports observed at run time, the adapter interface,
and the built-in logging and atexit adapters. Each test runs a real package in a fresh
interpreter."""

from __future__ import annotations

import pytest

from conftest import Project

PLUGINS = {
    "pkg/__init__.py": "",
    "pkg/plugins/__init__.py": "",
    "pkg/plugins/alpha.py": "class Plugin:\n    value = 1\n",
    "pkg/plugins/beta.py": "class Plugin:\n    value = 10\n",
    # Names computed at run time: the parser cannot see these imports.
    "pkg/registry.py": (
        "import importlib\n"
        "PLUGINS = {}\n"
        "for _name in ('alpha', 'beta'):\n"
        "    PLUGINS[_name] = importlib.import_module(f'pkg.plugins.{_name}').Plugin\n"
    ),
}


def test_plugin_loaded_with_import_module_reloads_its_registry(project: Project) -> None:
    project.write(PLUGINS)
    out = project.result(
        """
        import pkg.registry
        r = hotmod.Reloader("pkg")
        deps = sorted(r.graph.dependencies("pkg.registry"))
        observed = sorted(r.graph.observed("pkg.registry"))
        edit("pkg/plugins/alpha.py", "value = 1", "value = 2")
        reset()
        result = r.reload("pkg.plugins.alpha")
        registry = sys.modules["pkg.registry"]
        emit(deps=deps, observed=observed, reloaded=list(result.reloaded), executed=executed(),
             value=registry.PLUGINS["alpha"].value,
             same=registry.PLUGINS["alpha"] is sys.modules["pkg.plugins.alpha"].Plugin)
        """
    )
    assert out == {
        # the package too: importing pkg.plugins.alpha imported pkg.plugins first
        "deps": ["pkg.plugins", "pkg.plugins.alpha", "pkg.plugins.beta"],
        "observed": ["pkg.plugins", "pkg.plugins.alpha", "pkg.plugins.beta"],
        "reloaded": ["pkg.plugins.alpha", "pkg.registry"],
        "executed": ["pkg.plugins.alpha", "pkg.registry"],
        "value": 2,
        "same": True,
    }


def test_plugin_added_by_an_edit_and_dunder_import_are_observed(project: Project) -> None:
    files = dict(PLUGINS)
    files["pkg/plugins/gamma.py"] = "class Plugin:\n    value = 100\n"
    files["pkg/loader.py"] = "mod = __import__('pkg.plugins.' + 'beta', fromlist=['x'])\n"
    project.write(files)
    out = project.result(
        """
        import pkg.registry, pkg.loader
        r = hotmod.watch("pkg", debounce=0.01)
        save("pkg/registry.py", "('alpha', 'beta')", "('alpha', 'beta', 'gamma')")
        deadline = time.monotonic() + 20
        while "gamma" not in sys.modules["pkg.registry"].PLUGINS:
            assert time.monotonic() < deadline, "the registry edit was never applied"
            time.sleep(0.01)
        reset()
        save("pkg/plugins/gamma.py", "value = 100", "value = 101")
        while sys.modules["pkg.registry"].PLUGINS["gamma"].value != 101:
            assert time.monotonic() < deadline, "the new plugin's edit never reached the registry"
            time.sleep(0.01)
        gamma_executed = executed()
        result = r.reload("pkg.plugins.beta")
        r.stop()
        emit(gamma_executed=gamma_executed, beta=list(result.reloaded))
        """
    )
    assert out["gamma_executed"] == ["pkg.plugins.gamma", "pkg.registry"]
    # the plugin first, then its two importers (independent of each other: either order)
    assert out["beta"][0] == "pkg.plugins.beta"
    assert sorted(out["beta"][1:]) == ["pkg.loader", "pkg.registry"]


def test_why_labels_imports_seen_at_run_time(project: Project) -> None:
    project.write(PLUGINS)
    proc = project.run(
        """
        import subprocess
        out = subprocess.run([sys.executable, "-m", "hotmod", "why", "pkg/plugins/alpha.py"],
                             capture_output=True, text=True, check=True).stdout
        print(out)
        """
    )
    assert "pkg.registry       imports pkg.plugins.alpha (imported at run time)" in proc.stdout


NOISY = {
    "pkg/__init__.py": "",
    "pkg/noisy.py": """\
        import atexit, logging
        log = logging.getLogger("pkg.noisy")
        handler = logging.StreamHandler()
        log.addHandler(handler)

        class Mine(logging.Handler):
            def emit(self, record):
                pass

        logging.getLogger("pkg.other").addHandler(Mine())  # held by no global

        def goodbye():
            print("GOODBYE 0", flush=True)

        atexit.register(goodbye)
        atexit.register(print, "BYE-ARGS 0", flush=True)  # a function of another module
        """,
}


def _count(stdout: str, prefix: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(prefix)]


def test_handlers_and_atexit_functions_stay_single_after_reloads(project: Project) -> None:
    project.write(NOISY)
    proc = project.run(
        """
        import logging, pkg.noisy
        r = hotmod.Reloader("pkg")
        for n in (1, 2, 3):
            edit("pkg/noisy.py", f"GOODBYE {n - 1}", f"GOODBYE {n}")
            edit("pkg/noisy.py", f"BYE-ARGS {n - 1}", f"BYE-ARGS {n}")
            assert r.reload("pkg.noisy").ok
        noisy = sys.modules["pkg.noisy"]
        emit(handlers=len(logging.getLogger("pkg.noisy").handlers),
             current=logging.getLogger("pkg.noisy").handlers == [noisy.handler],
             other=[type(h).__name__ for h in logging.getLogger("pkg.other").handlers],
             other_current=type(logging.getLogger("pkg.other").handlers[0]) is noisy.Mine)
        """
    )
    assert 'RESULT {"handlers": 1, "current": true, "other": ["Mine"], "other_current": true}' in (
        proc.stdout
    )
    assert _count(proc.stdout, "GOODBYE") == ["GOODBYE 3"]
    assert _count(proc.stdout, "BYE-ARGS") == ["BYE-ARGS 3"]


def test_rolled_back_edit_keeps_the_old_handlers_and_atexit_functions(project: Project) -> None:
    project.write(NOISY)
    proc = project.run(
        """
        import logging, pkg.noisy
        r = hotmod.Reloader("pkg")
        edit("pkg/noisy.py", "GOODBYE 0", "GOODBYE 1")
        assert r.reload("pkg.noisy").ok
        running = sys.modules["pkg.noisy"]
        edit("pkg/noisy.py", "GOODBYE 1", "GOODBYE 2")
        edit("pkg/noisy.py", "BYE-ARGS 0", "BYE-ARGS 2")
        Path("pkg/noisy.py").write_text(Path("pkg/noisy.py").read_text() + "1 / 0\\n")
        result = r.reload("pkg.noisy")
        emit(ok=result.ok, rolled_back=result.rolled_back,
             same_module=sys.modules["pkg.noisy"] is running,
             handlers=logging.getLogger("pkg.noisy").handlers == [running.handler],
             other=[type(h) is running.Mine for h in logging.getLogger("pkg.other").handlers])
        """
    )
    assert (
        'RESULT {"ok": false, "rolled_back": true, "same_module": true, "handlers": true, '
        '"other": [true]}'
    ) in proc.stdout
    assert _count(proc.stdout, "GOODBYE") == ["GOODBYE 1"]
    assert _count(proc.stdout, "BYE-ARGS") == ["BYE-ARGS 0"]


def test_adapters_none_turns_the_builtins_off(project: Project) -> None:
    project.write(NOISY)
    proc = project.run(
        """
        import logging, pkg.noisy
        r = hotmod.Reloader("pkg", adapters=())
        assert r.reload("pkg.noisy").ok
        emit(handlers=len(logging.getLogger("pkg.noisy").handlers))
        """
    )
    assert 'RESULT {"handlers": 2}' in proc.stdout
    assert len(_count(proc.stdout, "GOODBYE")) == 2


REGISTRY = {
    "pkg/__init__.py": "",
    "pkg/registry.py": "PLUGINS = {}\n",
    "pkg/plug.py": """\
        from pkg.registry import PLUGINS

        class Plugin:
            version = 1

        PLUGINS["plug"] = Plugin
        """,
}

ADAPTER = """
import hotmod.adapters
from pkg.registry import PLUGINS
calls = []

class Plugins(hotmod.adapters.Adapter):
    name = "plugins"
    def detach(self, modules):
        calls.append(("detach", list(modules)))
        taken = {k: v for k, v in PLUGINS.items() if v.__module__ in modules}
        for key in taken:
            del PLUGINS[key]
        return taken
    def commit(self, modules, state):
        calls.append(("commit", list(modules)))
    def restore(self, modules, state):
        calls.append(("restore", list(modules)))
        for key in [k for k, v in PLUGINS.items() if v.__module__ in modules]:
            del PLUGINS[key]
        PLUGINS.update(state)

class Failing(hotmod.adapters.Adapter):
    def __init__(self, phase):
        self.phase = phase
    def detach(self, modules):
        calls.append(("failing detach", list(modules)))
        if self.phase == "detach":
            raise RuntimeError("detach broke")
    def commit(self, modules, state):
        calls.append(("failing commit", list(modules)))
        if self.phase == "commit":
            raise RuntimeError("commit broke")
    def restore(self, modules, state):
        calls.append(("failing restore", list(modules)))
"""


def test_user_adapter_phases_run_in_order_with_the_planned_modules(project: Project) -> None:
    project.write(REGISTRY)
    out = project.result(
        ADAPTER
        + """
import pkg.plug
hotmod.adapters.register(Plugins())
r = hotmod.Reloader("pkg")
edit("pkg/plug.py", "version = 1", "version = 2")
result = r.reload("pkg.plug")
emit(ok=result.ok, calls=calls, version=PLUGINS["plug"].version,
     current=PLUGINS["plug"] is sys.modules["pkg.plug"].Plugin, keys=sorted(PLUGINS))
"""
    )
    assert out == {
        "ok": True,
        "calls": [["detach", ["pkg.plug"]], ["commit", ["pkg.plug"]]],
        "version": 2,
        "current": True,
        "keys": ["plug"],
    }


@pytest.mark.parametrize("phase", ["detach", "commit"])
def test_failing_adapter_rolls_the_reload_back(project: Project, phase: str) -> None:
    project.write(REGISTRY)
    out = project.result(
        ADAPTER
        + f"""
import pkg.plug
old_module, old_plugin = sys.modules["pkg.plug"], PLUGINS["plug"]
r = hotmod.Reloader("pkg", adapters=[Plugins(), Failing({phase!r})])
edit("pkg/plug.py", "version = 1", "version = 2")
records = _Records()
logging.getLogger("hotmod").addHandler(records)
result = r.reload("pkg.plug")
emit(ok=result.ok, rolled_back=result.rolled_back, error=str(result.error),
     kind=type(result.error).__name__, cause=type(result.error.__cause__).__name__,
     calls=calls, module_kept=sys.modules["pkg.plug"] is old_module,
     plugin_kept=PLUGINS == {{"plug": old_plugin}},
     logged=any(r.levelname == "ERROR" and "commit broke" in r.getMessage()
                or "detach broke" in r.getMessage() for r in records.records))
"""
    )
    expected_calls = [["detach", ["pkg.plug"]], ["failing detach", ["pkg.plug"]]]
    if phase == "commit":
        expected_calls += [
            ["commit", ["pkg.plug"]],
            ["failing commit", ["pkg.plug"]],
            ["failing restore", ["pkg.plug"]],
        ]
    expected_calls.append(["restore", ["pkg.plug"]])
    assert out == {
        "ok": False,
        "rolled_back": True,
        "error": (
            f"adapter Failing failed in {phase}: RuntimeError: {phase} broke; every adapter's "
            "registry was put back as it was (fix the adapter, or leave it out with "
            "Reloader(adapters=[...]))"
        ),
        "kind": "AdapterError",
        "cause": "RuntimeError",
        "calls": expected_calls,
        "module_kept": True,
        "plugin_kept": True,
        "logged": True,
    }


def test_adapter_requiring_a_framework_that_is_not_imported_is_left_out(
    project: Project,
) -> None:
    project.write(REGISTRY)
    out = project.result(
        ADAPTER
        + """
import pkg.plug
class NeedsFramework(Failing):
    requires = "no_such_framework"
r = hotmod.Reloader("pkg", adapters=[NeedsFramework("detach")])
result = r.reload("pkg.plug")
emit(ok=result.ok, calls=calls, framework_imported="no_such_framework" in sys.modules)
"""
    )
    assert out == {"ok": True, "calls": [], "framework_imported": False}


def test_adapters_argument_is_checked() -> None:
    import hotmod
    import hotmod.adapters

    with pytest.raises(hotmod.ArgumentTypeError, match="adapters must be None"):
        hotmod.Reloader("hotmod_no_such_pkg", adapters="logging")  # type: ignore[arg-type]
    with pytest.raises(hotmod.ArgumentTypeError, match="Adapter instances, not str"):
        hotmod.Reloader("hotmod_no_such_pkg", adapters=["logging"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no built-in adapter named 'no_such_framework'"):
        hotmod.adapters.builtin("no_such_framework")
    assert hotmod.adapters.builtin("logging") is hotmod.adapters.builtin("logging")


THREADS = {
    "pkg/__init__.py": "",
    "pkg/poller.py": """\
        import threading, time

        MARK = 0
        STOP = threading.Event()

        def poll():
            while not STOP.is_set():
                time.sleep(0.005)

        threading.Thread(target=poll, name="poller", daemon=True).start()
        """,
    "pkg/waiter.py": """\
        import threading

        WAKE = threading.Event()
        threading.Thread(target=WAKE.wait, name="waiter", daemon=True).start()
        """,
    "pkg/plain.py": "VALUE = None\n",
    # every execution starts a Reloader's threads (from hotmod's code)
    "pkg/dev.py": "import hotmod\nWATCHER = hotmod.Reloader('pkg.plain', debounce=60).start()\n",
    "pkg/tidy.py": """\
        import threading

        STOP = threading.Event()
        worker = threading.Thread(target=STOP.wait, name="tidy", daemon=True)
        worker.start()
        done = threading.Thread(target=lambda: None, name="done")
        done.start()
        done.join()

        def __hotmod_dispose__():
            STOP.set()
            worker.join()
        """,
}

# (indented as the test code that follows it, which is dedented with it)
WARNINGS = """
        records = _Records()
        logging.getLogger("hotmod").addHandler(records)

        def warnings():
            found = [rec.getMessage() for rec in records.records if rec.levelno == logging.WARNING]
            records.records.clear()
            return found
"""

ADVICE = (
    "hotmod cannot stop a thread: stop and join it in {0}'s __hotmod_dispose__(), or set "
    "__hotmod_restart__ = True there to restart instead"
)


def test_a_thread_still_running_replaced_code_is_warned_about(project: Project) -> None:
    project.write(THREADS)
    out = project.results(
        WARNINGS
        + """
        import threading, pkg.poller, pkg.waiter, pkg.tidy
        r = hotmod.Reloader("pkg")
        for n in (1, 2):
            edit("pkg/poller.py", f"MARK = {n - 1}", f"MARK = {n}")
            ok = r.reload("pkg.poller").ok
            emit(ok=ok, warnings=warnings(),
                 pollers=sum(t.name == "poller" for t in threading.enumerate()))
        for name in ("pkg.waiter", "pkg.waiter", "pkg.tidy", "pkg.tidy"):
            emit(ok=r.reload(name).ok, warnings=warnings())
        """
    )
    advice = ADVICE.format("pkg.poller")
    waiter = ADVICE.format("pkg.waiter")
    assert out == [
        # imported before hotmod: found by its target, a function of the replaced version
        {
            "ok": True,
            "pollers": 2,
            "warnings": [
                "thread 'poller', which runs pkg.poller.poll (a function of that version), "
                "still runs the replaced version of pkg.poller; the new version started "
                f"another. {advice}"
            ],
        },
        # executed by hotmod: recorded when its top-level code started it; the first one,
        # warned about already, is not warned about again
        {
            "ok": True,
            "pollers": 3,
            "warnings": [
                "thread 'poller', which runs pkg.poller.poll (started by its top-level code), "
                "still runs the replaced version of pkg.poller; the new version started "
                f"another. {advice}"
            ],
        },
        # a method of another module's object: found through the old globals, then recorded
        {
            "ok": True,
            "warnings": [
                "thread 'waiter', which runs threading.Event.wait (held in that version's "
                "globals), still runs the replaced version of pkg.waiter; the new version "
                f"started another. {waiter}"
            ],
        },
        {
            "ok": True,
            "warnings": [
                "thread 'waiter', which runs threading.Event.wait (started by its top-level "
                "code), still runs the replaced version of pkg.waiter; the new version "
                f"started another. {waiter}"
            ],
        },
        # a module whose dispose hook stops its thread, and a thread that ended: nothing to say
        {"ok": True, "warnings": []},
        {"ok": True, "warnings": []},
    ]


def test_a_thread_started_by_a_rolled_back_edit_is_warned_about(project: Project) -> None:
    project.write(THREADS)
    out = project.result(
        WARNINGS
        + """
        import threading, pkg.poller
        r = hotmod.Reloader("pkg")
        edit("pkg/poller.py", "MARK = 0", "MARK = 1")
        Path("pkg/poller.py").write_text(Path("pkg/poller.py").read_text() + "1 / 0\\n")
        result = r.reload("pkg.poller")
        emit(rolled_back=result.rolled_back, mark=sys.modules["pkg.poller"].MARK,
             warnings=warnings())
        """
    )
    assert out == {
        "rolled_back": True,
        "mark": 0,
        "warnings": [
            "thread 'poller' (runs pkg.poller.poll), started by the new code of pkg.poller "
            "before the reload failed, keeps running that code: hotmod cannot stop a thread"
        ],
    }


def test_threads_of_other_code_and_adapters_off_are_not_warned_about(project: Project) -> None:
    project.write(THREADS)
    out = project.results(
        WARNINGS
        + """
        import threading, pkg.poller, pkg.plain
        other = threading.Event()
        threading.Thread(target=other.wait, name="main's", daemon=True).start()
        for adapters in (None, ()):
            r = hotmod.Reloader("pkg", adapters=adapters)
            emit(ok=r.reload("pkg.plain").ok, warnings=warnings())
        edit("pkg/poller.py", "MARK = 0", "MARK = 1")
        emit(ok=r.reload("pkg.poller").ok, warnings=warnings())
        import pkg.dev
        r = hotmod.Reloader("pkg")
        for _ in range(2):
            emit(ok=r.reload("pkg.dev").ok, warnings=warnings(),
                 reloaders=sum(t.name.startswith("hotmod-") for t in threading.enumerate()))
        """
    )
    # the poller runs on while another module is replaced (a function's missing __self__ is
    # no object pkg.plain holds); main's thread is of __main__; with adapters=() nothing is
    # looked at, not even the poller of a replaced version; hotmod's own threads (each
    # execution of pkg.dev starts a Reloader, with a watchdog observer) are never warned about
    assert out == [{"ok": True, "warnings": []}] * 3 + [
        {"ok": True, "warnings": [], "reloaders": 2},
        {"ok": True, "warnings": [], "reloaders": 3},
    ]
