"""A failed reload is rolled back: the process keeps running exactly the modules it had."""

from __future__ import annotations

from conftest import Project

FILES = {
    "pkg/__init__.py": "",
    "pkg/config.py": "VALUE = 1\n",
    "pkg/service.py": "from pkg.config import VALUE\ndef get():\n    return VALUE\n",
    "pkg/api.py": "import pkg.service\ndef call():\n    return pkg.service.get()\n",
}

# Runs a failing reload, then checks identity, old behaviour and logging, then fixes the file
# and reloads again. {break_file}/{old}/{bad} describe the breaking edit, {target} what to
# reload, {fix} the text that repairs it.
FAIL_THEN_FIX = """
    import pkg.api
    r = hotmod.Reloader("pkg")
    names = ("pkg", "pkg.config", "pkg.service", "pkg.api")
    before = {{n: sys.modules[n] for n in names}}
    attrs = {{n: getattr(sys.modules["pkg"], n.split(".")[1]) for n in names[1:]}}
    old_call = sys.modules["pkg.api"].call
    records = []
    class Grab(logging.Handler):
        def emit(self, record):
            records.append(record)
    logging.getLogger("hotmod").addHandler(Grab())
    reset()
    edit("{break_file}", "{old}", "{bad}")
    result = r.reload("{target}")
    errors = [rec for rec in records if rec.levelno >= logging.ERROR]
    log_ok = (len(errors) == 1 and errors[0].name == "hotmod" and errors[0].exc_info is not None
              and errors[0].exc_info[1] is result.error
              and "Traceback" in logging.Formatter().format(errors[0]))
    emit(step="failed", ok=result.ok, rolled_back=result.rolled_back,
         error=type(result.error).__name__, executed=executed(),
         evicted=list(result.evicted), reloaded=list(result.reloaded),
         same_objects=[n for n in names if sys.modules[n] is not before[n]] == [],
         same_attrs=[n for n in names[1:]
                     if getattr(sys.modules["pkg"], n.split(".")[1]) is not attrs[n]] == [],
         leftovers=sorted(n for n in sys.modules if n.startswith("pkg.") and n not in names),
         old_call=old_call(), call=sys.modules["pkg.api"].call(), log_ok=log_ok)
    reset()
    edit("{break_file}", "{bad}", "{fix}")
    edit("pkg/config.py", "VALUE = 1", "VALUE = 7")
    result = r.reload("pkg.config", "{target}")
    emit(step="fixed", ok=result.ok, rolled_back=result.rolled_back, executed=executed(),
         reloaded=list(result.reloaded), call=sys.modules["pkg.api"].call(),
         replaced=[n for n in names[1:] if sys.modules[n] is before[n]] == [])
    """


def fixed(executed: list[str]) -> dict[str, object]:
    return {
        "step": "fixed",
        "ok": True,
        "rolled_back": False,
        "executed": executed,
        "reloaded": executed,
        "call": 7,
        "replaced": True,
    }


def test_syntax_error_in_changed_module_keeps_previous_modules(project: Project) -> None:
    project.write(FILES)
    out = project.results(
        FAIL_THEN_FIX.format(
            break_file="pkg/config.py",
            old="VALUE = 1",
            bad="VALUE = (",
            fix="VALUE = 1",
            target="pkg.config",
        )
    )
    assert out == [
        {
            "step": "failed",
            "ok": False,
            "rolled_back": True,
            "error": "SyntaxError",
            "executed": [],  # it failed to compile: nothing ran, nothing was evicted
            "evicted": [],
            "reloaded": [],
            "same_objects": True,
            "same_attrs": True,
            "leftovers": [],
            "old_call": 1,
            "call": 1,
            "log_ok": True,
        },
        fixed(["pkg.config", "pkg.service", "pkg.api"]),
    ]


def test_syntax_error_in_a_dependent_keeps_previous_modules(project: Project) -> None:
    project.write(FILES)
    out = project.results(
        FAIL_THEN_FIX.format(
            break_file="pkg/service.py",
            old="return VALUE",
            bad="return VALUE +",
            fix="return VALUE",
            target="pkg.config",
        )
    )
    assert out == [
        {
            "step": "failed",
            "ok": False,
            "rolled_back": True,
            "error": "SyntaxError",
            "executed": [],
            "evicted": [],
            "reloaded": [],
            "same_objects": True,
            "same_attrs": True,
            "leftovers": [],
            "old_call": 1,
            "call": 1,
            "log_ok": True,
        },
        fixed(["pkg.config", "pkg.service", "pkg.api"]),
    ]


def test_import_time_exception_in_changed_module_rolls_back(project: Project) -> None:
    project.write(FILES)
    out = project.results(
        FAIL_THEN_FIX.format(
            break_file="pkg/config.py",
            old="VALUE = 1",
            bad="VALUE = 1; raise RuntimeError('boom')",
            fix="VALUE = 1",
            target="pkg.config",
        )
    )
    assert out == [
        {
            "step": "failed",
            "ok": False,
            "rolled_back": True,
            "error": "RuntimeError",
            "executed": ["pkg.config"],
            "evicted": ["pkg.api", "pkg.service", "pkg.config"],
            "reloaded": [],
            "same_objects": True,
            "same_attrs": True,
            "leftovers": [],
            "old_call": 1,
            "call": 1,
            "log_ok": True,
        },
        fixed(["pkg.config", "pkg.service", "pkg.api"]),
    ]


def test_import_time_exception_in_a_dependent_restores_reimported_dependencies(
    project: Project,
) -> None:
    project.write({**FILES, "pkg/fresh.py": ""})
    out = project.results(
        FAIL_THEN_FIX.format(
            break_file="pkg/service.py",
            old="def get",
            bad="import pkg.fresh\\nVALUE.missing\\ndef get",
            fix="def get",
            target="pkg.service",
        )
    )
    assert out == [
        {
            "step": "failed",
            "ok": False,
            "rolled_back": True,
            "error": "AttributeError",
            # pkg.fresh is a first-time import of the failed attempt: it is removed again.
            "executed": ["pkg.service", "pkg.fresh"],
            "evicted": ["pkg.api", "pkg.service"],
            "reloaded": [],
            "same_objects": True,
            "same_attrs": True,
            "leftovers": [],
            "old_call": 1,
            "call": 1,
            "log_ok": True,
        },
        fixed(["pkg.config", "pkg.service", "pkg.api"]),
    ]


def test_failure_after_dependencies_reexecuted_restores_them(project: Project) -> None:
    # config and service re-execute fine; api then fails: their *old* objects come back too.
    project.write(FILES)
    out = project.results(
        FAIL_THEN_FIX.format(
            break_file="pkg/api.py",
            old="def call",
            bad="raise KeyError('late')\\ndef call",
            fix="def call",
            target="pkg.config",
        )
    )
    assert out == [
        {
            "step": "failed",
            "ok": False,
            "rolled_back": True,
            "error": "KeyError",
            "executed": ["pkg.config", "pkg.service", "pkg.api"],
            "evicted": ["pkg.api", "pkg.service", "pkg.config"],
            "reloaded": [],
            "same_objects": True,
            "same_attrs": True,
            "leftovers": [],
            "old_call": 1,
            "call": 1,
            "log_ok": True,
        },
        fixed(["pkg.config", "pkg.service", "pkg.api"]),
    ]


def test_failure_when_package_init_reexecutes_restores_package(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "from .impl import run\n",
            "pkg/impl.py": "def run():\n    return 1\n",
            "pkg/other.py": "",
        }
    )
    out = project.result(
        """
        import pkg, pkg.other
        r = hotmod.Reloader("pkg")
        before = {n: sys.modules[n] for n in ("pkg", "pkg.impl", "pkg.other")}
        edit("pkg/impl.py", "return 1", "return 2\\nraise ValueError")
        reset()
        result = r.reload("pkg.impl")
        pkg = sys.modules["pkg"]
        emit(ok=result.ok, rolled_back=result.rolled_back, executed=sorted(executed()),
             same=[sys.modules[n] is m for n, m in before.items()],
             attrs=[pkg.impl is before["pkg.impl"], pkg.other is before["pkg.other"]],
             run=pkg.run())
        """
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "executed": ["pkg", "pkg.impl"],
        "same": [True, True, True],
        "attrs": [True, True],
        "run": 1,
    }


def test_failure_inside_a_cycle_restores_both_members(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\nX = 1\n",
            "pkg/b.py": "from . import a\nY = 1\n",
        }
    )
    out = project.result(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        before = {n: sys.modules[n] for n in ("pkg.a", "pkg.b")}
        edit("pkg/a.py", "X = 1", "X = b.missing")
        reset()
        result = r.reload("pkg.a")
        pkg = sys.modules["pkg"]
        emit(ok=result.ok, rolled_back=result.rolled_back, executed=executed(),
             same=[sys.modules[n] is m for n, m in before.items()],
             attrs=[pkg.a is before["pkg.a"], pkg.b is before["pkg.b"]],
             linked=before["pkg.a"].b is before["pkg.b"] and before["pkg.b"].a is before["pkg.a"])
        """
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "executed": ["pkg.a", "pkg.b"],
        "same": [True, True],
        "attrs": [True, True],
        "linked": True,
    }


def test_lazy_reload_of_uncompilable_module_evicts_nothing(project: Project) -> None:
    # eager=False still compiles the changed file before evicting: a syntax error is refused
    # up front, so the next import keeps getting the last good modules.
    project.write(FILES)
    out = project.result(
        """
        import pkg.service
        before = {n: sys.modules[n] for n in ("pkg.config", "pkg.service")}
        r = hotmod.Reloader("pkg", eager=False)
        edit("pkg/config.py", "VALUE = 1", "VALUE = (")
        result = r.reload("pkg.config")
        import pkg.service
        emit(ok=result.ok, rolled_back=result.rolled_back, error=type(result.error).__name__,
             evicted=list(result.evicted), same=[sys.modules[n] is m for n, m in before.items()])
        """
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "error": "SyntaxError",
        "evicted": [],
        "same": [True, True],
    }


def test_lazy_reload_of_module_failing_at_import_fails_at_next_import(project: Project) -> None:
    # What only running the code can reveal surfaces at the next import, as with any import.
    project.write(FILES)
    out = project.result(
        """
        import pkg.service
        r = hotmod.Reloader("pkg", eager=False)
        edit("pkg/config.py", "VALUE = 1", "VALUE = 1 / 0")
        result = r.reload("pkg.config")
        try:
            import pkg.service
        except ZeroDivisionError:
            raised = True
        emit(ok=result.ok, rolled_back=result.rolled_back, raised=raised,
             present="pkg.config" in sys.modules)
        """
    )
    assert out == {"ok": True, "rolled_back": False, "raised": True, "present": False}


def test_keyboard_interrupt_rolls_back_then_propagates(project: Project) -> None:
    project.write(FILES)
    out = project.result(
        """
        import pkg.service
        r = hotmod.Reloader("pkg")
        results = []
        r.on_reload = results.append
        before = {n: sys.modules[n] for n in ("pkg.config", "pkg.service")}
        edit("pkg/service.py", "def get", "raise KeyboardInterrupt\\ndef get")
        try:
            r.reload("pkg.config")
        except KeyboardInterrupt:
            raised = True
        emit(raised=raised, same=[sys.modules[n] is m for n, m in before.items()],
             reported=[(type(x.error).__name__, x.rolled_back) for x in results])
        """
    )
    assert out == {
        "raised": True,
        "same": [True, True],
        "reported": [["KeyboardInterrupt", True]],
    }


def test_system_exit_from_module_code_rolls_back(project: Project) -> None:
    project.write(FILES)
    out = project.result(
        """
        import pkg.service
        r = hotmod.Reloader("pkg")
        before = {n: sys.modules[n] for n in ("pkg.config", "pkg.service")}
        edit("pkg/config.py", "VALUE = 1", "raise SystemExit(3)")
        result = r.reload("pkg.config")
        emit(ok=result.ok, rolled_back=result.rolled_back, error=type(result.error).__name__,
             same=[sys.modules[n] is m for n, m in before.items()])
        """
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "error": "SystemExit",
        "same": [True, True],
    }
