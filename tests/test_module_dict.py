"""The interpreter's live module dict, and what other threads see of it during a reload."""

from __future__ import annotations

from conftest import Project


def test_reading_the_live_dict_afresh_many_times_is_safe(project: Project) -> None:
    # A wrong reference count on the borrowed dict would free the interpreter's module dict
    # after enough calls: crash, or a different object.
    out = project.result(
        """
        import gc
        import hotmod._module_dict as md
        real = sys.modules
        same = all(md._read_live_modules_afresh() is real for _ in range(100000))
        gc.collect()
        import decimal  # the import system still works with the same dict
        emit(same=same, live=md.live_modules() is real, rebound=md.rebound_modules(),
             count_ok=sys.getrefcount(real) >= 2, has_decimal="decimal" in real)
        """
    )
    assert out == {
        "same": True,
        "live": True,
        "rebound": None,
        "count_ok": True,
        "has_decimal": True,
    }


def test_rebinding_sys_modules_is_detected(project: Project) -> None:
    out = project.result(
        """
        import hotmod._module_dict as md
        real = sys.modules
        sys.modules = dict(real)
        emit(live=md.live_modules() is real, afresh=md._read_live_modules_afresh() is real,
             rebound=md.rebound_modules() is sys.modules)
        sys.modules = real
        """
    )
    assert out == {"live": True, "afresh": True, "rebound": True}


def test_threads_importing_during_reload_wait_for_a_consistent_package(project: Project) -> None:
    # pkg/__init__ imports base and x, so changing base evicts the whole package. base's new
    # code announces the reload, waits until both reader threads are inside an import, and lets
    # them reach the import lock; they must block there until the reload is complete and then
    # get the new modules: never an ImportError, AttributeError or a half-evicted package.
    project.write(
        {
            "pkg/__init__.py": "from . import base, x\n",
            "pkg/base.py": (
                "import builtins, hotmod, time\n"
                "V = 1\n"
                "if hotmod.previous(__name__) is not None:\n"
                "    builtins.RELOADING.set()\n"
                "    with builtins.COND:\n"
                "        builtins.COND.wait_for(lambda: all(builtins.INSIDE.values()), 10)\n"
                "    time.sleep(0.05)  # let the readers reach the import lock\n"
            ),
            "pkg/x.py": "from . import base\nvalue = base.V\n",
        }
    )
    out = project.result(
        """
        import builtins, threading
        builtins.RELOADING = threading.Event()
        builtins.COND = threading.Condition()
        builtins.INSIDE = {"plain": False, "from": False}  # reader is inside an import
        stop = threading.Event()
        import pkg
        old_x = sys.modules["pkg.x"]
        r = hotmod.Reloader("pkg")
        errors, seen = [], {"plain": [], "from": []}
        observed = {"plain": threading.Event(), "from": threading.Event()}
        warm = {"plain": threading.Event(), "from": threading.Event()}

        def read_plain():
            import pkg.x
            return pkg.x.value, pkg.x

        def read_from():
            from pkg import x
            return x.value, x

        def reader(kind, read):
            while not stop.is_set():
                during = builtins.RELOADING.is_set()  # the old package is already evicted
                with builtins.COND:
                    builtins.INSIDE[kind] = True
                    builtins.COND.notify_all()
                try:
                    value, module = read()
                except Exception as exc:
                    errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                    observed[kind].set()
                    return
                finally:
                    with builtins.COND:
                        builtins.INSIDE[kind] = False
                seen[kind].append((during, value, module))
                warm[kind].set()
                if during:
                    observed[kind].set()

        threads = [threading.Thread(target=reader, args=(kind, read))
                   for kind, read in (("plain", read_plain), ("from", read_from))]
        for t in threads:
            t.start()
        for event in warm.values():
            event.wait(10)  # both readers have read the old package
        edit("pkg/base.py", "V = 1", "V = 2")
        reset()
        result = r.reload("pkg.base")
        new_x = sys.modules["pkg.x"]
        for event in observed.values():
            event.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
        first_during = {k: [(v, m is new_x) for d, v, m in s if d][:1] for k, s in seen.items()}
        pairs = {k: sorted({(v, "old" if m is old_x else "new" if m is new_x else "other")
                            for _, v, m in s}) for k, s in seen.items()}
        ordered = {k: [v for _, v, _ in s] == sorted(v for _, v, _ in s) for k, s in seen.items()}
        emit(ok=result.ok, executed=executed(), reloaded=list(result.reloaded), errors=errors,
             first_during=first_during, pairs=pairs, ordered=ordered,
             alive=[t.is_alive() for t in threads])
        """,
        timeout=60,
    )
    assert out == {
        "ok": True,
        "executed": ["pkg", "pkg.base", "pkg.x"],
        "reloaded": ["pkg.base", "pkg.x", "pkg"],
        "errors": [],
        "first_during": {"plain": [[2, True]], "from": [[2, True]]},
        "pairs": {"plain": [[1, "old"], [2, "new"]], "from": [[1, "old"], [2, "new"]]},
        "ordered": {"plain": True, "from": True},
        "alive": [False, False],
    }


def test_thread_importing_an_evicted_sibling_waits_for_the_reload(project: Project) -> None:
    # The package stays; base changed, so x and y are evicted and wait their turn while base's
    # new code runs. A thread importing pkg.y in that window must wait for the reload (held
    # import lock) rather than import y itself, half-way through the transaction.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": (
                "import builtins, hotmod, time\n"
                "V = 1\n"
                "if hotmod.previous(__name__) is not None:\n"
                "    builtins.RELOADING.set()\n"
                "    builtins.INSIDE.wait(10)\n"
                "    time.sleep(0.05)  # let the reader reach the import lock\n"
            ),
            "pkg/x.py": "from . import base\n",
            "pkg/y.py": (
                "import builtins, threading\nfrom . import base\nvalue = base.V\n"
                "builtins.Y_THREADS.append(threading.current_thread().name)\n"
            ),
        }
    )
    out = project.result(
        """
        import builtins, threading
        builtins.RELOADING = threading.Event()
        builtins.INSIDE = threading.Event()
        builtins.Y_THREADS = []
        import pkg.x, pkg.y
        r = hotmod.Reloader("pkg")
        got = []

        def reader():
            builtins.RELOADING.wait(10)
            builtins.INSIDE.set()
            try:
                import pkg.y
                got.append((pkg.y.value, pkg.y is sys.modules["pkg.y"]))
            except Exception as exc:
                got.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=reader, name="reader")
        thread.start()
        edit("pkg/base.py", "V = 1", "V = 2")
        reset()
        builtins.Y_THREADS.clear()
        result = r.reload("pkg.base")
        thread.join(10)
        emit(ok=result.ok, executed=executed(), reloaded=list(result.reloaded), got=got,
             y_threads=builtins.Y_THREADS)
        """,
        timeout=60,
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.base", "pkg.x", "pkg.y"],
        "reloaded": ["pkg.base", "pkg.x", "pkg.y"],
        "got": [[2, True]],
        "y_threads": ["MainThread"],
    }
