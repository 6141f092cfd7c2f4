"""``@hotmod.reloading`` and ``hotmod.loop``: safe points for long-running workers.

Every test runs in a fresh interpreter (``project.run``). Edits are saved atomically (temporary
file renamed over the module), as editors do, and every wait has a deadline.
"""

from __future__ import annotations

import textwrap

from conftest import Project

# Helpers prepended to the test scripts (after conftest's PRELUDE).
HELPERS = """
import threading


def until(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out: " + what
        time.sleep(0.002)

def wait_pending(reloader):
    # The watcher has recorded the last save (background=False: nothing applies it yet).
    wait_seen(reloader)
"""


def script(code: str) -> str:
    """A test script: the helpers above, then ``code``."""
    return HELPERS + textwrap.dedent(code)


WORK = {
    "pkg/__init__.py": "",
    "pkg/dep.py": "FACTOR = 1\n",
    "pkg/work.py": """\
        import hotmod
        from pkg import dep

        VERSION = 0

        @hotmod.reloading("pkg")
        def handle(x):
            return (VERSION, dep.FACTOR * x)
        """,
}


def test_200_calls_while_the_source_changes_10_times(project: Project) -> None:
    project.write(WORK)
    out = project.result(
        script(
            """
        import pkg.work
        handle = pkg.work.handle            # the original wrapper: must still see new code
        assert handle(2) == (0, 2)
        threads = {threading.active_count()}
        reloader = handle.__hotmod_shared__.reloader
        calls, errors, seen = 0, [], []

        def call():
            global calls
            calls += 1
            try:
                result = handle(2)
            except Exception as exc:
                errors.append(repr(exc))
                return None
            threads.add(threading.active_count())
            return result

        for step in range(1, 11):
            if step % 2:   # odd steps change the function's own module, even ones a dependency
                version = sys.modules["pkg.work"].VERSION
                save("pkg/work.py", f"VERSION = {version}", f"VERSION = {step}")
                until(lambda: (r := call()) is not None and r[0] == step, f"version {step}")
            else:
                factor = sys.modules["pkg.dep"].FACTOR
                save("pkg/dep.py", f"FACTOR = {factor}", f"FACTOR = {factor + 1}")
                until(lambda: (r := call()) is not None and r[1] == 2 * (factor + 1),
                      f"factor {factor + 1}")
            seen.append(handle(2))
        while calls < 200:
            call()
        emit(calls=calls, errors=errors, threads=sorted(threads), seen=seen,
             same=sys.modules["pkg.work"].handle.__hotmod_shared__.reloader is reloader,
             running=reloader.running, background=reloader.background)
        """
        )
    )
    assert out["errors"] == []
    assert out["calls"] >= 200
    assert len(out["threads"]) == 1, out["threads"]  # no thread per reload or per module run
    assert out["seen"] == [
        [1, 2], [1, 4], [3, 4], [3, 6], [5, 6], [5, 8], [7, 8], [7, 10], [9, 10], [9, 12]
    ]  # fmt: skip
    assert out["same"] is True
    assert out["running"] is True
    assert out["background"] is False


def test_broken_edits_keep_the_last_good_version_and_log_once(project: Project) -> None:
    project.write(WORK)
    proc = project.run(
        script(
            """
        import pkg.work
        handle = pkg.work.handle
        reloader = handle.__hotmod_shared__.reloader
        assert handle(1) == (0, 1)
        save("pkg/work.py", "VERSION = 0", "VERSION = (")          # syntax error
        wait_pending(reloader)
        results = {handle(1) for _ in range(20)}
        save("pkg/work.py", "VERSION = (", "VERSION = 1 / 0")      # exception at import
        wait_pending(reloader)
        results |= {handle(1) for _ in range(20)}
        save("pkg/dep.py", "FACTOR = 1", "FACTOR = undefined_name")  # broken dependency
        wait_pending(reloader)
        results |= {handle(1) for _ in range(20)}
        emit(results=sorted(results))
        save("pkg/work.py", "VERSION = 1 / 0", "VERSION = 2")
        save("pkg/dep.py", "FACTOR = undefined_name", "FACTOR = 3")
        until(lambda: handle(1) == (2, 3), "the fixed version")
        print("FIXED", flush=True)
        """
        )
    )
    assert "RESULT " + '{"results": [[0, 1]]}' in proc.stdout
    assert "FIXED" in proc.stdout
    failures = [line for line in proc.stderr.splitlines() if "reload failed" in line]
    assert len(failures) == 3, proc.stderr
    assert "SyntaxError" in failures[0]
    assert "ZeroDivisionError" in failures[1]
    assert "NameError" in failures[2]


def test_methods_async_functions_and_generators(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/kinds.py": """\
                import hotmod

                V = 1

                class Service:
                    @hotmod.reloading("pkg")
                    def method(self, x):
                        return ("method", V, x)

                    @staticmethod
                    @hotmod.reloading("pkg")
                    def static(x):
                        return ("static", V, x)

                    @classmethod
                    @hotmod.reloading("pkg")
                    def klass(cls, x):
                        return ("klass", V, cls.__name__)

                @hotmod.reloading("pkg")
                async def coroutine(x):
                    return ("coroutine", V, x)

                @hotmod.reloading("pkg")
                def generator(n):
                    for i in range(n):
                        yield ("generator", V, i)

                @hotmod.reloading("pkg")
                async def agenerator(n):
                    for i in range(n):
                        yield ("agenerator", V, i)
                """,
        }
    )
    out = project.result(
        script(
            """
        import asyncio, inspect
        import pkg.kinds as kinds
        service = kinds.Service()            # an instance of the old class
        reloader = kinds.coroutine.__hotmod_shared__.reloader

        async def collect(agen):
            return [item async for item in agen]

        def all_calls():
            return [
                service.method(1), kinds.Service.static(2), kinds.Service.klass(3),
                asyncio.run(kinds.coroutine(4)), list(kinds.generator(2)),
                asyncio.run(collect(kinds.agenerator(2))),
            ]

        before = all_calls()
        running = kinds.generator(3)
        first = next(running)                # started with V = 1
        save("pkg/kinds.py", "V = 1", "V = 2")
        wait_pending(reloader)
        after = all_calls()                  # each call is a safe point: the newest code runs
        rest = list(running)                 # the generator already running keeps its code
        emit(before=before, after=after, first=first, rest=rest,
             kinds=[inspect.iscoroutinefunction(kinds.coroutine),
                    inspect.isgeneratorfunction(kinds.generator),
                    inspect.isasyncgenfunction(kinds.agenerator)],
             name=kinds.Service.method.__qualname__)
        """
        )
    )
    assert out["before"] == [
        ["method", 1, 1], ["static", 1, 2], ["klass", 1, "Service"], ["coroutine", 1, 4],
        [["generator", 1, 0], ["generator", 1, 1]], [["agenerator", 1, 0], ["agenerator", 1, 1]],
    ]  # fmt: skip
    assert out["after"] == [
        ["method", 2, 1], ["static", 2, 2], ["klass", 2, "Service"], ["coroutine", 2, 4],
        [["generator", 2, 0], ["generator", 2, 1]], [["agenerator", 2, 0], ["agenerator", 2, 1]],
    ]  # fmt: skip
    assert out["first"] == ["generator", 1, 0]
    assert out["rest"] == [["generator", 1, 1], ["generator", 1, 2]]
    assert out["kinds"] == [True, True, True]
    assert out["name"] == "Service.method"


def test_a_nested_decorated_call_is_not_a_safe_point(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/steps.py": """\
                import hotmod

                V = 1

                @hotmod.reloading("pkg")
                def inner():
                    return V

                @hotmod.reloading("pkg")
                def outer(during):
                    first = inner()
                    during()
                    return (first, inner(), V)
                """,
        }
    )
    out = project.result(
        script(
            """
        import pkg.steps as steps
        reloader = steps.outer.__hotmod_shared__.reloader

        def during():
            save("pkg/steps.py", "V = 1", "V = 2")
            wait_pending(reloader)

        emit(during=steps.outer(during), after=steps.outer(lambda: None))
        """
        )
    )
    assert out == {"during": [1, 1, 1], "after": [2, 2, 2]}


def test_loop_applies_changes_between_items_and_rebinds_the_caller(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/jobs.py": "RATE = 1\n\ndef process(x):\n    return x * RATE\n",
        }
    )
    out = project.result(
        script(
            """
        from pkg.jobs import process
        seen = []
        threads = set()
        for item in hotmod.loop(range(6), "pkg"):
            reloader = hotmod.watch("pkg", background=False)   # the loop's (shared) Reloader
            threads.add(threading.active_count())
            first = process(item)
            if item in (1, 3):
                save("pkg/jobs.py", f"RATE = {item}", f"RATE = {item + 2}")
                wait_pending(reloader)
            seen.append([first, process(item)])    # no change in the middle of an item
        emit(seen=seen, threads=len(threads), pending=bool(reloader._pending))
        """
        )
    )
    assert out["seen"] == [[0, 0], [1, 1], [6, 6], [9, 9], [20, 20], [25, 25]]
    assert out["threads"] == 1
    assert out["pending"] is False


def test_one_reloader_and_no_new_thread_when_modules_re_execute(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import hotmod\n\n@hotmod.reloading('pkg')\ndef f():\n    return 'a'\n",
            "pkg/b.py": "import hotmod\n\n@hotmod.reloading\ndef g():\n    return 'b'\n",
        }
    )
    out = project.result(
        """
        import threading
        import pkg.a, pkg.b
        r = pkg.a.f.__hotmod_shared__.reloader
        count = threading.active_count()
        for _ in range(5):
            assert r.reload("pkg.a", "pkg.b").ok     # re-executes both decorators
        emit(same_ab=pkg.b.g.__hotmod_shared__.reloader is r,
             same_after_reload=sys.modules["pkg.a"].f.__hotmod_shared__.reloader is r,
             same_watch=hotmod.watch("pkg", background=False) is r,
             packages=list(r.packages),
             threads=threading.active_count() - count,
             values=[pkg.a.f(), pkg.b.g()])
        """
    )
    assert out == {
        "same_ab": True,
        "same_after_reload": True,
        "same_watch": True,
        "packages": ["pkg"],
        "threads": 0,
        "values": ["a", "b"],
    }


def test_decorators_follow_a_watch_call_that_replaced_their_reloader(project: Project) -> None:
    project.write(WORK)
    out = project.result(
        script(
            """
            import pkg.work
            handle = pkg.work.handle
            first = handle.__hotmod_shared__.reloader
            # Same packages, other options: watch() stops the decorator's Reloader.
            other = hotmod.watch("pkg", background=False, debounce=0.01)
            replaced = not first.running
            save("pkg/work.py", "VERSION = 0", "VERSION = 1")
            until(lambda: handle(1) == (1, 1), "the edit, through the new Reloader")
            threads = threading.active_count()
            for _ in range(20):
                handle(1)
            now = handle.__hotmod_shared__.reloader
            emit(replaced=replaced, running=now.running,
                 registered=now is hotmod._worker._registered(("pkg",)),
                 threads=threading.active_count() - threads)
            """
        )
    )
    # (The reload re-executed the decorator, whose watch() call replaced `other` in turn: the
    # last call wins, and every wrapper follows the Reloader watch() holds.)
    assert out == {"replaced": True, "running": True, "registered": True, "threads": 0}


def test_removed_function_keeps_its_last_definition(project: Project) -> None:
    project.write(WORK)
    proc = project.run(
        script(
            """
        import pkg.work
        handle = pkg.work.handle
        save("pkg/work.py", "VERSION = 0", "VERSION = 1")
        until(lambda: handle(1) == (1, 1), "version 1")
        save("pkg/work.py", "def handle(x):", "def renamed(x):")
        wait_pending(handle.__hotmod_shared__.reloader)
        emit(values=[handle(1) for _ in range(5)])
        """
        )
    )
    assert '"values": [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1]]' in proc.stdout
    assert proc.stderr.count("is no longer defined") == 1, proc.stderr


def test_script_function_sees_dependency_changes_and_lazy_imports(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/dep.py": "def helper():\n    return 'old'\n",
            "pkg/lazy.py": "VALUE = 'lazy-old'\n",
        }
    )
    out = project.result(
        script(
            """
        from pkg.dep import helper

        @hotmod.reloading("pkg")
        def job():
            import pkg.lazy              # imported after the Reloader was created
            return helper(), pkg.lazy.VALUE

        reloader = job.__hotmod_shared__.reloader
        first = job()
        save("pkg/dep.py", "'old'", "'new'")
        save("pkg/lazy.py", "'lazy-old'", "'lazy-new'")
        until(lambda: job() == ("new", "lazy-new"), "both edits")
        emit(first=first, last=job())
        """
        )
    )
    assert out == {"first": ["old", "lazy-old"], "last": ["new", "lazy-new"]}


def test_bad_arguments(project: Project) -> None:
    out = project.result(
        """
        errors = []
        for make in (
            lambda: hotmod.reloading(123),
            lambda: hotmod.reloading()(lambda: 1),      # defined in a script: no package
            lambda: hotmod.loop([1]),
            lambda: hotmod.loop([1], 3),
            lambda: hotmod.reloading("pkg")(staticmethod(lambda: 1)),
        ):
            try:
                make()
            except hotmod.ArgumentTypeError as exc:
                errors.append(str(exc))
        emit(errors=errors)
        """
    )
    errors = out["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 5, errors
    assert "package names" in errors[0]
    assert "name the packages" in errors[1]
    assert "hotmod.loop(..., 'myapp')" in errors[2]
