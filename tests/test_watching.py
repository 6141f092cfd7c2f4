"""End-to-end tests of watching (issue 3): real watchdog, real files, a Reloader in a subprocess.

Every test runs a script in a fresh interpreter (``project.results``) with ``WATCH_HELPERS``
prepended. Synchronisation is "poll a condition until a deadline" (``wait_until``), never a
fixed sleep. To assert that something did NOT happen (a second reload, a reload of an ignored
file, a reload after ``stop()``) the script first waits for what did happen, then holds the
condition for a bounded quiet period (``stays``):

* ``QUIET`` = 0.5 s for native events: 10x the default debounce (0.05 s) and equal to the
  longest coalescing window (``max(10 * debounce, 0.5)``), so a reload caused by a late event
  of the same save, or by the reload's own .pyc writes, would have started well within it.
* ``POLL_QUIET`` = 1.0 s in polling mode: 4 polling intervals (0.25 s) plus the debounce.
"""

from __future__ import annotations

import sys
import textwrap
import time
from typing import Any

import pytest

from conftest import Project

pytestmark = pytest.mark.timeout(60)

WATCH_HELPERS = '''\
import importlib
import threading

DEADLINE = 10.0
QUIET = 0.5
POLL_QUIET = 1.0

_results = []
_results_lock = threading.Lock()

def on_reload(result):
    with _results_lock:
        _results.append((result, threading.current_thread().name))

def results():
    with _results_lock:
        return [r for r, _ in _results]

def reload_threads():
    with _results_lock:
        return [name for _, name in _results]

def count():
    with _results_lock:
        return len(_results)

def wait_until(condition, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while not condition():
        crashed = logs(logging.ERROR, "unexpected error")  # the background thread failed
        if crashed:
            raise AssertionError(f"while waiting for {what}: {LOG.format(crashed[0])}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)

def wait_reloads(n, timeout=DEADLINE):
    wait_until(lambda: count() >= n, f"{n} reload(s), got {count()}", timeout)

def stays(condition, what, period=QUIET):
    """Assert condition() holds during the whole period."""
    deadline = time.monotonic() + period
    while time.monotonic() < deadline:
        if not condition():
            raise AssertionError(what() if callable(what) else what)
        time.sleep(0.01)

def no_more_reloads(n, period=QUIET):
    stays(lambda: count() == n, lambda: f"expected {n} reload(s), got {results()}", period)


LOG = _Records()
logging.getLogger("hotmod").addHandler(LOG)
logging.getLogger("hotmod").setLevel(logging.DEBUG)

def logs(level=logging.DEBUG, contains=""):
    return [r for r in list(LOG.records) if r.levelno == level and contains in r.getMessage()]

def messages(level=logging.DEBUG, contains=""):
    return [r.getMessage() for r in logs(level, contains)]

def hotmod_threads():
    return [t.name for t in threading.enumerate() if "hotmod" in t.name]

def module(name):
    """The module, waiting (like an import) while another thread is executing it."""
    return importlib.import_module(name)

def value(name="pkg.mod"):
    return module(name).VALUE

# -- save styles: each writes new content to path ----------------------------------------

def save_in_place(path, text):
    with open(path, "w") as f:
        f.write(text)

def save_truncate_then_write(path, text):
    with open(path, "r+") as f:
        f.truncate(0)
        f.flush()
        time.sleep(0.02)  # an editor's pause between the two steps, well under the debounce
        f.write(text)

def save_replace_temp(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)

def save_vim(path, text):
    folder, name = os.path.split(path)
    probe = os.path.join(folder, "4913")  # vim checks that the folder is writable
    open(probe, "w").close()
    os.unlink(probe)
    os.rename(path, path + "~")  # backupcopy=no: the original becomes the backup
    with open(path, "w") as f:
        f.write(text)
    os.unlink(path + "~")

def save_jetbrains(path, text):
    tmp, old = path + "___jb_tmp___", path + "___jb_old___"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(path, old)
    os.rename(tmp, path)
    os.unlink(old)

SAVE_STYLES = {
    "in_place": save_in_place,
    "truncate_then_write": save_truncate_then_write,
    "replace_temp": save_replace_temp,
    "vim": save_vim,
    "jetbrains": save_jetbrains,
}

def bump(path, save=save_in_place):
    """Save path with its VALUE incremented; return the new value."""
    text = Path(path).read_text()
    old = int(text.split("VALUE = ")[1].split()[0])
    save(path, text.replace(f"VALUE = {old}", f"VALUE = {old + 1}", 1))
    return old + 1
'''

# A package: pkg.user imports pkg.mod, pkg.other imports it too.
PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "VALUE = 1\ndef f():\n    return VALUE\n",
    "pkg/user.py": "from pkg import mod\ndef g():\n    return mod.f()\n",
}


def run(project: Project, code: str, **kwargs: float) -> list[dict[str, Any]]:
    """Run ``WATCH_HELPERS + code`` in a fresh interpreter; return what it emitted."""
    return project.results(WATCH_HELPERS + textwrap.dedent(code), **kwargs)


def run_one(project: Project, code: str, **kwargs: float) -> dict[str, Any]:
    found = run(project, code, **kwargs)
    assert len(found) == 1, found
    return found[0]


# -- save styles ---------------------------------------------------------------------------


def test_each_save_style_reloads_exactly_once_with_the_new_code(project: Project) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        seen = {}
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            assert not r.polling
            for style, save in SAVE_STYLES.items():
                before = count()
                reset()
                new = bump("pkg/mod.py", save)
                wait_reloads(before + 1)
                no_more_reloads(before + 1)
                last = results()[-1]
                seen[style] = {
                    "reloads": count() - before,
                    "value": module("pkg.user").g(),
                    "expected": new,
                    "executed": executed(),
                    "reloaded": list(last.reloaded),
                    "changed": [p.name for p in last.changed],
                    "ok": last.ok,
                }
        emit(seen=seen, warnings=messages(logging.WARNING), errors=messages(logging.ERROR))
        """,
    )
    for style, got in out["seen"].items():
        assert got == {
            "reloads": 1,
            "value": got["expected"],
            "expected": got["expected"],
            "executed": ["pkg.mod", "pkg.user"],
            "reloaded": ["pkg.mod", "pkg.user"],
            "changed": ["mod.py"],
            "ok": True,
        }, style
    assert list(out["seen"]) == [
        "in_place",
        "truncate_then_write",
        "replace_temp",
        "vim",
        "jetbrains",
    ]
    assert out["warnings"] == []
    assert out["errors"] == []


def test_complete_saves_apply_without_waiting_for_the_debounce(project: Project) -> None:
    """With a 30 s debounce only a save known complete (a writer's close, a rename into place)
    can be applied within the deadline: every editor save style is, exactly once."""
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        seen = {}
        with hotmod.Reloader("pkg", on_reload=on_reload, debounce=30.0) as r:
            for style, save in SAVE_STYLES.items():
                before = count()
                new = bump("pkg/mod.py", save)
                wait_reloads(before + 1)
                no_more_reloads(before + 1)
                seen[style] = [count() - before, module("pkg.user").g() == new, results()[-1].ok]
        emit(seen=seen, errors=messages(logging.ERROR))
        """,
    )
    assert out["seen"] == {style: [1, True, True] for style in out["seen"]}
    assert len(out["seen"]) == 5
    assert out["errors"] == []


def test_an_emptied_file_between_two_writes_is_never_executed(project: Project) -> None:
    """An editor that truncates and closes, then writes: the empty file is not a complete
    save, so the one reload runs the final text (pkg.user's import of VALUE would fail)."""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "VALUE = 1\n",
            "pkg/user.py": "from pkg.mod import VALUE\n",
        }
    )
    out = run_one(
        project,
        """
        import pkg.user
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            open("pkg/mod.py", "w").close()
            time.sleep(0.02)  # the editor's pause, under the debounce
            with open("pkg/mod.py", "w") as f:
                f.write("VALUE = 2\\n")
            wait_reloads(1)
            no_more_reloads(1)
        emit(ok=[res.ok for res in results()], value=module("pkg.user").VALUE)
        """,
    )
    assert out == {"ok": [True], "value": 2}


def test_a_writer_stalled_between_truncating_and_writing_never_runs_an_empty_module(
    project: Project,
) -> None:
    """An in-place save whose writer stalls after truncating the file, several debounces
    long (a loaded machine: it failed in CI that way): the empty file is not executed, the
    one reload runs the text written after the stall."""
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        seen = []
        def record(result):
            on_reload(result)
            seen.append(getattr(module("pkg.mod"), "VALUE", "no VALUE"))
        with hotmod.Reloader("pkg", on_reload=record, debounce=0.05) as r:
            with open("pkg/mod.py", "w") as f:  # truncated
                time.sleep(0.3)                  # six debounces, under max_delay (0.5 s)
                f.write("VALUE = 2\\ndef f():\\n    return VALUE\\n")
            wait_reloads(1)
            no_more_reloads(1)
        emit(ok=[res.ok for res in results()], seen=seen, value=module("pkg.user").g())
        """,
    )
    assert out == {"ok": [True], "seen": [2], "value": 2}


def test_burst_of_200_changed_files_reloads_at_most_twice(project: Project) -> None:
    n = 200
    files = {"pkg/__init__.py": ""}
    files.update({f"pkg/m{i:03}.py": "VALUE = 1\n" for i in range(n)})
    project.write(files)
    out = run_one(
        project,
        f"""
        import importlib
        N = {n}
        names = [f"pkg.m{{i:03}}" for i in range(N)]
        for name in names:
            importlib.import_module(name)
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            reset()
            paths = [name.replace(".", "/") + ".py" for name in names]
            texts = [Path(p).read_text().replace("VALUE = 1", "VALUE = 2") for p in paths]
            for path, text in zip(paths, texts):  # as fast as possible, like a checkout
                with open(path, "w") as f:
                    f.write(text)
            wait_until(
                lambda: {{n for res in results() for n in res.reloaded}} == set(names),
                "all 200 modules reloaded",
            )
            settled = count()
            no_more_reloads(settled)
        reloaded = [name for res in results() for name in res.reloaded]
        emit(
            reloads=count(),
            ok=[res.ok for res in results()],
            reloaded=sorted(reloaded),
            executed=sorted(executed()),
            info=len(logs(logging.INFO, "reloaded")),
        )
        """,
    )
    names = [f"pkg.m{i:03}" for i in range(n)]
    assert 1 <= out["reloads"] <= 2, out["reloads"]
    assert all(out["ok"])
    assert out["reloaded"] == names  # each module reloaded once, none twice
    assert out["executed"] == names
    assert out["info"] == out["reloads"]


def test_ignored_files_never_reload(project: Project) -> None:
    project.write(PACKAGE)
    ignored = [
        "pkg/.mod.py.swp",
        "pkg/mod.py.swx",
        "pkg/mod.py~",
        "pkg/.#mod.py",
        "pkg/#mod.py#",
        "pkg/4913",
        "pkg/mod.py.tmp",
        "pkg/mod.pyc",
        "pkg/__pycache__/mod.py",
        "pkg/__pycache__/mod.cpython-399.pyc",
        "pkg/.git/mod.py",
        "pkg/.hidden/mod.py",
        "pkg/.hidden/deeper/mod.py",
        "pkg/mod.py___jb_tmp___",
    ]
    out = run_one(
        project,
        f"""
        import pkg.user
        IGNORED = {ignored!r}
        code = "import builtins; builtins.__dict__.setdefault('EXECUTED', []).append('bad')\\n"
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            reset()
            for rel in IGNORED:
                Path(rel).parent.mkdir(parents=True, exist_ok=True)
                Path(rel).write_text(code)
                Path(rel).write_text(code + "VALUE = 99\\n")
            for rel in IGNORED:
                os.unlink(rel)
            no_more_reloads(0)
            # The watcher is alive and the ignored files were never queued: the next real
            # edit reloads once, for mod.py alone.
            bump("pkg/mod.py")
            wait_reloads(1)
            no_more_reloads(1)
        seen = [m for m in messages() if any(os.path.basename(p) in m for p in IGNORED)]
        emit(reloads=count(), executed=executed(), changed=[p.name for p in results()[0].changed],
             value=value(), seen=seen)
        """,
    )
    assert out == {
        "reloads": 1,
        "executed": ["pkg.mod", "pkg.user"],
        "changed": ["mod.py"],
        "value": 2,
        "seen": [],  # no log line even mentions them: dropped by the watcher
    }


NO_LOOP = """
    import compileall, importlib
    import pkg.user
    with hotmod.Reloader("pkg", on_reload=on_reload, eager=EAGER) as r:
        bump("pkg/mod.py")
        wait_reloads(1)
        if not EAGER:  # evicted only: the import system re-imports, writing .pyc files
            importlib.import_module("pkg.user")
        compileall.compile_dir("pkg", quiet=1, force=True)  # tooling writes bytecode
        for path in Path("pkg").glob("*.py"):
            path.read_bytes()
        no_more_reloads(1, period=2 * QUIET)
    emit(reloads=count(), ok=[res.ok for res in results()], value=module("pkg.user").g())
    """


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "lazy"])
def test_no_reload_loop_after_a_reload(project: Project, eager: bool) -> None:
    """A reload writes and removes .pyc files and reads sources; none of that reloads again."""
    project.write(PACKAGE)
    out = run_one(project, f"EAGER = {eager}\n" + textwrap.dedent(NO_LOOP))
    assert out == {"reloads": 1, "ok": [True], "value": 2}


def test_no_op_saves_reload_nothing(project: Project) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        path = "pkg/mod.py"
        text = Path(path).read_text()
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            reset()
            os.utime(path)  # touch
            os.chmod(path, 0o644)
            for style, save in SAVE_STYLES.items():  # the same bytes, saved every way
                save(path, text)
            # The saves were seen and judged unchanged, not missed:
            wait_until(lambda: messages(contains="saved without a change"), "no-op judgement")
            no_more_reloads(0)
            first = r.check()
            bump(path)
            wait_reloads(1)
            no_more_reloads(1)
        emit(reloads=count(), executed=executed(), first=repr(first), value=value())
        """,
    )
    assert out == {
        "reloads": 1,
        "executed": ["pkg.mod", "pkg.user"],
        "first": "None",
        "value": 2,
    }


# -- deleted and new files -----------------------------------------------------------------


def test_deleted_module_is_kept_warned_about_and_picked_up_again(project: Project) -> None:
    project.write({**PACKAGE, "pkg/other.py": "import pkg.mod\n"})
    out = run_one(
        project,
        """
        import pkg.user, pkg.other
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            reset()
            text = Path("pkg/mod.py").read_text()
            os.unlink("pkg/mod.py")
            wait_until(lambda: logs(logging.WARNING, "deleted"), "the deletion warning")
            no_more_reloads(0)
            kept = "pkg.mod" in sys.modules and module("pkg.user").g() == 1
            # The watcher keeps working: another module's edit reloads it (mod stays loaded).
            Path("pkg/other.py").write_text("import pkg.mod\\nVALUE = 5\\n")
            wait_reloads(1)
            # A re-created file, with new content, is picked up again.
            Path("pkg/mod.py").write_text(text.replace("VALUE = 1", "VALUE = 2"))
            wait_reloads(2)
            no_more_reloads(2)
        emit(
            kept=kept,
            warnings=messages(logging.WARNING),
            reloaded=[list(res.reloaded) for res in results()],
            ok=[res.ok for res in results()],
            value=module("pkg.user").g(),
        )
        """,
    )
    assert out["kept"] is True
    assert len(out["warnings"]) == 1, out["warnings"]
    warning = out["warnings"][0]
    assert "mod.py was deleted" in warning
    assert "pkg.mod is kept loaded" in warning
    assert "still imported by pkg.other, pkg.user" in warning
    first, second = out["reloaded"]
    assert first == ["pkg.other"]
    assert second[0] == "pkg.mod"
    assert sorted(second[1:]) == ["pkg.other", "pkg.user"]
    assert out["ok"] == [True, True]
    assert out["value"] == 2


def test_new_never_imported_file_is_never_executed(project: Project) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import importlib
        import pkg.user
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            reset()
            for i in range(4):  # created, then edited repeatedly
                Path("pkg/new.py").write_text(
                    "import builtins; builtins.__dict__.setdefault('EXECUTED', [])"
                    f".append(__name__)\\nVALUE = {i}\\n"
                )
                wait_until(
                    lambda: len(messages(contains="never imported")) > i, f"event {i} judged"
                )
            no_more_reloads(0)
            never = executed()
            # Once imported it is watched like any other module.
            importlib.import_module("pkg.new")
            bump("pkg/new.py")
            wait_reloads(1)
        emit(never=never, executed=executed(), reloaded=list(results()[0].reloaded),
             value=value("pkg.new"))
        """,
    )
    assert out == {
        "never": [],
        "executed": ["pkg.new", "pkg.new"],
        "reloaded": ["pkg.new"],
        "value": 4,
    }


def test_first_edit_of_a_module_imported_after_start_reloads(project: Project) -> None:
    """Regression: hotmod learnt of a lazily imported module only when its file's event was
    applied, recorded the edited file as the loaded version and dropped the edit as a no-op."""
    project.write({**PACKAGE, "pkg/views.py": "from pkg import mod\nVALUE = 1\n"})
    out = run_one(
        project,
        """
        import pkg.user
        with hotmod.Reloader("pkg", on_reload=on_reload) as r:
            import pkg.views  # lazily, e.g. on the first request
            reset()
            bump("pkg/views.py")
            wait_reloads(1)
            no_more_reloads(1)
        emit(executed=executed(), value=value("pkg.views"))
        """,
    )
    assert out == {"executed": ["pkg.views"], "value": 2}


def test_event_queue_overflow_rescans_every_watched_file(project: Project) -> None:
    """Lost events (inotify overflow): every watched file is compared with what was loaded.

    The Reloader is not started, so the edits produce no events at all; ``_on_overflow`` is
    what the watcher calls when the kernel reports lost events.
    """
    project.write({**PACKAGE, "pkg/late.py": "VALUE = 1\n"})
    out = run_one(
        project,
        """
        import pkg.user
        r = hotmod.Reloader("pkg", on_reload=on_reload, background=False)
        bump("pkg/mod.py")
        import pkg.late  # imported after the Reloader looked, then edited: not lost either
        bump("pkg/late.py")
        r._on_overflow()
        res = r.check()
        emit(reloaded=sorted(res.reloaded), changed=sorted(p.name for p in res.changed),
             again=repr(r.check()), value=value(), late=value("pkg.late"))
        """,
    )
    assert out == {
        "reloaded": ["pkg.late", "pkg.mod", "pkg.user"],
        "changed": ["late.py", "mod.py"],
        "again": "None",
        "value": 2,
        "late": 2,
    }


def test_a_save_begun_while_the_background_thread_waited_for_the_lock_waits_for_its_close(
    project: Project,
) -> None:
    """The background thread found a change due, then waited for the reloader's lock (held by
    a reload, or by the thread building the index at start-up); an in-place save begun
    meanwhile is not executed half-written when it gets the lock: it waits for its close."""
    project.write({**PACKAGE, "pkg/late.py": "VALUE = 1\n"})
    out = run_one(
        project,
        """
        import pkg.mod, pkg.late
        r = hotmod.Reloader("pkg", debounce=0.5).start()  # applies in its own thread
        deadline = time.monotonic() + 10
        while r._scheduler and time.monotonic() < deadline:  # the comparison at start
            time.sleep(0.01)
        time.sleep(0.05)
        with r._lock:  # a reload (or the build of the index) holds the lock
            save("pkg/mod.py", "VALUE = 1", "VALUE = 5")  # complete: due after 5 ms
            wait_seen(r)
            time.sleep(0.05)  # the thread found it due: it waits for the lock
            writer = open("pkg/late.py", "w")  # an in-place save, stalled after its first part
            writer.write("VALUE = 2")
            writer.flush()
            _SAVED[:] = [os.path.realpath("pkg/late.py")]
            deadline = time.monotonic() + 10
            while True:
                with r._scheduler.lock:  # the watcher's thread adds to it
                    pending = {os.path.realpath(p) for p in r._scheduler._pending}
                if os.path.realpath("pkg/late.py") in pending:
                    break
                assert time.monotonic() < deadline, "the watcher never saw the write"
                time.sleep(0.002)
        time.sleep(0.05)  # the thread has the lock: nothing is due before the close
        values = [sys.modules["pkg.late"].VALUE, sys.modules["pkg.mod"].VALUE]
        writer.write("00\\n")  # the save completes: VALUE = 200
        writer.close()
        deadline = time.monotonic() + 10
        while sys.modules["pkg.late"].VALUE != 200 and time.monotonic() < deadline:
            time.sleep(0.005)
        values += [sys.modules["pkg.late"].VALUE, sys.modules["pkg.mod"].VALUE]
        r.stop()
        emit(values=values)
        """,
    )
    assert out == {"values": [1, 1, 200, 5]}


# -- lifecycle: stop, context managers, check ---------------------------------------------


def test_stop_and_context_exit_end_the_threads_and_all_reloading(project: Project) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        baseline = threading.active_count()
        seen = {}

        def scenario(name, enter, exit):
            before = count()
            r = enter()
            assert r.running and hotmod_threads(), name
            bump("pkg/mod.py")
            wait_reloads(before + 1)
            exit(r)
            # Threads are gone once stop()/exit returns, not eventually.
            threads, alive = threading.active_count(), hotmod_threads()
            old = value()
            bump("pkg/mod.py")  # edited after stop: nothing happens
            no_more_reloads(before + 1)
            seen[name] = {"threads": threads - baseline, "alive": alive,
                          "value_kept": value() == old, "running": r.running}

        def stop(r):
            r.stop()
            r.stop()  # idempotent

        scenario("stop", lambda: hotmod.Reloader("pkg", on_reload=on_reload).start(), stop)
        cm = hotmod.Reloader("pkg", on_reload=on_reload)
        scenario("with Reloader", cm.__enter__, lambda r: r.__exit__(None, None, None))
        cm = hotmod.watching("pkg", on_reload=on_reload)
        scenario("watching", cm.__enter__, lambda r: cm.__exit__(None, None, None))
        scenario("polling", lambda: hotmod.Reloader(
            "pkg", on_reload=on_reload, polling=True).start(), stop)

        # An edit still inside the debounce window when stop() is called: whatever happened
        # before stop() returned, nothing happens after. The file stays open for writing, so
        # the save is not known complete and waits for the debounce.
        r = hotmod.Reloader("pkg", on_reload=on_reload, debounce=1.0).start()
        writing = open("pkg/mod.py", "a")
        writing.write("EXTRA = 1\\n")
        writing.flush()
        time.sleep(0.05)  # let the event arrive; the debounce (1 s) is still running
        r.stop()
        writing.close()
        after_stop = count()
        no_more_reloads(after_stop, period=1.0 + QUIET)
        emit(seen=seen, threads=threading.active_count() - baseline, alive=hotmod_threads(),
             pending_applied=after_stop - 4)
        """,
    )
    for name, got in out["seen"].items():
        assert got == {"threads": 0, "alive": [], "value_kept": True, "running": False}, name
    assert len(out["seen"]) == 4
    assert out["threads"] == 0
    assert out["alive"] == []
    assert out["pending_applied"] == 0  # the debounced edit was dropped, not applied late


@pytest.mark.parametrize("how", ["complete save", "rescan"])
def test_a_file_found_empty_after_a_complete_save_waits_for_the_debounce(
    project: Project, how: str
) -> None:
    """The watcher said a save was complete (or a rescan after start() or an event overflow
    compares every file), but the file is empty when read: an in-place save truncated it
    meanwhile (its events not handled yet). Executing it would run an empty module; it is
    looked at again after each debounce, and applied once it has stayed empty for
    max_delay(debounce), 2 s here. (What the watcher reports is injected: the race with its
    own thread cannot be timed in a test.)"""
    project.write(PACKAGE)
    out = run_one(
        project,
        f"""
        import pkg.user
        r = hotmod.Reloader("pkg", on_reload=on_reload, background=False, debounce=0.2)
        path = os.path.realpath("pkg/mod.py")
        open(path, "w").close()                  # truncated by the next save, not written yet
        if {how!r} == "rescan":
            r._on_overflow()                     # every watched file is compared
        else:
            r._scheduler.add([(path, True)])     # the last event handled said "complete"
        first = repr(r.check())
        kept = value()
        wait_until(lambda: r.check() is not None, "the emptied file after the debounce")
        emit(first=first, kept=kept, emptied="VALUE" not in vars(module("pkg.mod")),
             ok=[res.ok for res in results()])
        """,
    )
    assert out == {"first": "None", "kept": 1, "emptied": True, "ok": [True]}


@pytest.mark.skipif(sys.platform != "linux", reason="Linux's file leases tell a file being written")
def test_a_save_under_way_when_start_compares_the_files_is_applied_once_closed(
    project: Project,
) -> None:
    """start() compares every watched file with what its module was loaded from. A file an
    editor is writing at that moment (truncated, half written, still open) differs, and its
    first half compiles: it must not be executed. The watcher runs by then, so the save's close
    event applies the whole file, in one reload."""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "import builtins\nbuiltins.SEEN = ['v0']\n",
        },
        record=False,
    )
    out = run_one(
        project,
        """
        import builtins
        import pkg.mod
        r = hotmod.Reloader("pkg", on_reload=on_reload, background=False, debounce=30)
        f = open("pkg/mod.py", "w")                   # an in-place save, under way
        f.write("import builtins\\nbuiltins.SEEN.append('half')\\n")
        f.flush()
        r.start()
        first = repr(r.check())                      # compares every file: one is half written
        f.write("builtins.SEEN.append('whole')\\n")
        f.close()
        _SAVED[:] = [os.path.realpath("pkg/mod.py")]
        wait_seen(r)
        second = r.check()
        r.stop()
        emit(first=first, seen=builtins.SEEN, reloaded=list(second.reloaded),
             reloads=len(results()))
        """,
    )
    assert out == {
        "first": "None",
        "seen": ["v0", "half", "whole"],
        "reloaded": ["pkg.mod"],
        "reloads": 1,
    }


def test_check_applies_at_once_in_the_callers_thread(project: Project) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        got = {}
        # background=False: changes wait for check().
        with hotmod.Reloader("pkg", on_reload=on_reload, background=False) as r:
            got["idle"] = repr(r.check())
            new = bump("pkg/mod.py")
            stays(lambda: value() == 1, "a background reload happened", period=QUIET)
            got["before_check"] = count()
            res = None
            def applied():
                global res
                res = r.check()
                return res is not None
            wait_until(applied, "check() to apply the change")
            got["after_check"] = value() == new
            got["reloaded"] = list(res.reloaded)
            got["again"] = repr(r.check())
        # A long debounce: check() does not wait for it once the file is written. While the
        # editor still has it open for writing (truncated, part written), check() leaves it
        # pending: executing it would run a partial module.
        open_files = []
        def save_and_keep_open(path, text):
            f = open(path, "w")
            f.write(text[: len(text) // 2])
            f.flush()
            open_files.append((f, text[len(text) // 2 :]))
        with hotmod.Reloader("pkg", on_reload=on_reload, background=False, debounce=30) as r:
            before = value()
            new = bump("pkg/mod.py", save_and_keep_open)
            mod = os.path.realpath("pkg/mod.py")
            wait_until(  # the write itself, not only the rescan that start() queues
                lambda: mod in {os.path.realpath(p) for p in list(r._scheduler._pending)},
                "the watcher to see the write",
            )
            got["while_open"] = [repr(r.check()) for _ in range(3)]
            got["value_while_open"] = value() == before
            f, rest = open_files.pop()
            f.write(rest)
            f.close()
            started = time.monotonic()
            wait_until(lambda: r.check() is not None, "check() to apply the written file")
            got["took"] = time.monotonic() - started
            got["debounced_value"] = value() == new
            got["again_written"] = repr(r.check())
        emit(got=got, threads=reload_threads())
        """,
    )
    got = out["got"]
    assert got == {
        "idle": "None",
        "before_check": 0,
        "after_check": True,
        "reloaded": ["pkg.mod", "pkg.user"],
        "again": "None",
        "while_open": ["None", "None", "None"],
        "value_while_open": True,
        "took": got["took"],
        "debounced_value": True,
        "again_written": "None",
    }
    assert got["took"] < 5  # far below the 30 s debounce
    assert out["threads"] == ["MainThread", "MainThread"]


# -- callbacks and logging -----------------------------------------------------------------


def test_on_reload_and_logging_for_success_rollback_and_failing_callback(
    project: Project,
) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        calls = []
        def callback(result):
            calls.append(result)
            on_reload(result)
            if len(calls) == 3:
                raise RuntimeError("callback bug")
        with hotmod.Reloader("pkg", on_reload=callback) as r:
            reset()
            bump("pkg/mod.py")  # 1: success
            wait_reloads(1)
            Path("pkg/mod.py").write_text("VALUE = 3\\nraise ValueError('boom')\\n")  # 2: fails
            wait_reloads(2)
            rolled_back_value = module("pkg.user").g()
            Path("pkg/mod.py").write_text("VALUE = 4\\ndef f():\\n    return VALUE\\n")  # 3
            wait_reloads(3)
            Path("pkg/mod.py").write_text("VALUE = 5\\ndef f():\\n    return VALUE\\n")  # 4
            wait_reloads(4)
            no_more_reloads(4)
        info = [r for r in logs(logging.INFO) if not r.getMessage().startswith("watching")]
        errors = logs(logging.ERROR)
        emit(
            ok=[res.ok for res in results()],
            rolled_back=[res.rolled_back for res in results()],
            rolled_back_value=rolled_back_value,
            value=module("pkg.user").g(),
            info=[r.getMessage() for r in info],
            errors=[(r.getMessage(), r.exc_info is not None) for r in errors],
            error_text=[LOG.format(r) for r in errors],
        )
        """,
    )
    assert out["ok"] == [True, False, True, True]
    assert out["rolled_back"] == [False, True, False, False]
    assert out["rolled_back_value"] == 2
    assert out["value"] == 5
    # One INFO line per successful reload: what was reloaded, in order, how long, what changed.
    assert len(out["info"]) == 3, out["info"]
    for line in out["info"]:
        assert line.startswith("reloaded pkg.mod, pkg.user in "), line
        assert " ms (changed: " in line
        # (and how many old functions and classes were upgraded in place: pkg.mod.f, pkg.user.g)
        assert line.endswith("/pkg/mod.py); patched 2 in place"), line
    # The failed reload: an error with the traceback, saying the old code still runs; the
    # callback's exception: logged with its traceback, and watching went on (reload 4).
    (failed, failed_tb), (callback, callback_tb) = out["errors"]
    assert "ValueError: boom" in failed
    assert "the previous code is still running" in failed
    assert failed_tb
    assert "on_reload callback" in callback
    assert callback_tb
    assert "Traceback" in out["error_text"][0]
    assert "RuntimeError: callback bug" in out["error_text"][1]


# -- hotmod.watch from a reloaded module; concurrent callers --------------------------------


def test_watch_called_from_a_reloaded_module_is_idempotent(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "VALUE = 1\n",
            "pkg/app.py": """\
                import builtins
                import hotmod
                from pkg import mod

                def on_reload(result):
                    builtins.__dict__.setdefault("APP_RESULTS", []).append(result)

                RELOADER = hotmod.watch("pkg", on_reload=on_reload)
                COUNTER = 0
                """,
        }
    )
    out = run_one(
        project,
        """
        import pkg.app
        baseline = threading.active_count()
        first = id(pkg.app.RELOADER)
        ids, threads = set(), set()
        for i in range(1, 21):
            edit("pkg/app.py", f"COUNTER = {i - 1}", f"COUNTER = {i}")
            wait_until(
                lambda: module("pkg.app").COUNTER == i
                and len(builtins.__dict__.get("APP_RESULTS", ())) == i,
                f"reload {i} and its on_reload call",
            )
            ids.add(id(module("pkg.app").RELOADER))
            threads.add(threading.active_count())
        results_seen = len(builtins.APP_RESULTS)
        pkg.app.RELOADER.stop()
        emit(same=ids == {first}, threads=sorted(threads), baseline=baseline,
             results=results_seen, hotmod_threads=hotmod_threads(),
             watching_lines=len(messages(logging.INFO, "watching pkg")))
        """,
    )
    assert out["same"] is True
    assert out["threads"] == [out["baseline"]]
    assert out["results"] == 20
    assert out["hotmod_threads"] == []
    assert out["watching_lines"] == 1


def test_watch_with_changed_options_replaces_the_running_reloader(project: Project) -> None:
    """Editing the options of a ``hotmod.watch`` call in a reloaded module must not leave two
    watchers on the package (each change would then run twice) nor leak their threads."""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "VALUE = 1\n",
            "pkg/app.py": """\
                import builtins
                import hotmod
                from pkg import mod

                def on_reload(result):
                    builtins.__dict__.setdefault("APP_RESULTS", []).append(result)

                RELOADER = hotmod.watch("pkg", on_reload=on_reload, debounce=0.05)
                """,
        }
    )
    out = run_one(
        project,
        """
        import pkg.app
        def app_results():
            return len(builtins.__dict__.get("APP_RESULTS", ()))
        first = pkg.app.RELOADER
        threads = threading.active_count()
        edit("pkg/app.py", "debounce=0.05", "debounce=0.06")
        wait_until(lambda: module("pkg.app").RELOADER is not first, "a new reloader")
        wait_until(lambda: app_results() == 1, "the reload's on_reload call")
        wait_until(lambda: not first.running, "the first reloader to stop")
        second = module("pkg.app").RELOADER
        reset()
        bump("pkg/mod.py")
        wait_until(lambda: app_results() == 2, "a reload of pkg.mod")
        stays(lambda: app_results() == 2, lambda: f"reloaded twice: {executed()}")
        after = threading.active_count()
        second.stop()
        emit(first_running=first.running, second_running=second.running, executed=executed(),
             threads=after - threads, hotmod_threads=hotmod_threads())
        """,
    )
    assert out == {
        "first_running": False,
        "second_running": False,
        "executed": ["pkg.mod", "pkg.app"],
        "threads": 0,
        "hotmod_threads": [],
    }


def test_callers_in_a_tight_loop_never_see_import_or_attribute_errors(project: Project) -> None:
    project.write({**PACKAGE, "pkg/__init__.py": "VALUE = 1\n"})
    out = run_one(
        project,
        """
        import pkg.user
        errors, calls = [], [0]
        done = threading.Event()

        def hammer():
            while not done.is_set():
                try:
                    from pkg import mod
                    mod.f()
                    import pkg.mod
                    pkg.mod.f()
                    import pkg.user
                    pkg.user.g()
                except (ImportError, AttributeError) as exc:
                    errors.append(repr(exc))
                calls[0] += 1

        caller = threading.Thread(target=hammer)
        caller.start()
        try:
            with hotmod.Reloader("pkg", on_reload=on_reload) as r:
                for i in range(20):  # the module, and every other time the package too
                    # (two saves a moment apart: one reload, or two when the first one was
                    # complete and applied before the second save arrived)
                    before = count()
                    mod = bump("pkg/mod.py")
                    package = bump("pkg/__init__.py") if i % 2 else value("pkg")
                    wait_until(
                        lambda: value() == mod and value("pkg") == package and count() > before,
                        "both saves",
                    )
        finally:
            done.set()
            caller.join()
        emit(errors=errors[:5], calls=calls[0] > 0, reloads=count(),
             ok=all(res.ok for res in results()), value=value(), pkg=value("pkg"))
        """,
    )
    reloads = out.pop("reloads")
    assert out == {"errors": [], "calls": True, "ok": True, "value": 21, "pkg": 11}
    assert 20 <= reloads <= 30, reloads  # one per single save, one or two per pair


# -- polling -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_polling_mode(project: Project, how: str) -> None:
    project.write(PACKAGE)
    out = run_one(
        project,
        f"""
        import pkg.user
        baseline = threading.active_count()
        if {how!r} == "environment":
            os.environ["HOTMOD_POLLING"] = "1"
            r = hotmod.Reloader("pkg", on_reload=on_reload)
        else:
            r = hotmod.Reloader("pkg", on_reload=on_reload, polling=True)
        with r:
            polling = r.polling
            for n, style in enumerate(["in_place", "replace_temp", "jetbrains"], 1):
                bump("pkg/mod.py", SAVE_STYLES[style])
                wait_reloads(n)
                no_more_reloads(n, period=POLL_QUIET)
        emit(polling=polling, reloads=count(), value=module("pkg.user").g(),
             threads=threading.active_count() - baseline,
             watching=messages(logging.INFO, "watching"))
        """,
    )
    assert out == {
        "polling": True,
        "reloads": 3,
        "value": 4,
        "threads": 0,
        "watching": ["watching pkg (3 modules, polling)"],
    }


def test_a_failed_version_is_reported_once_however_many_events_it_gets(
    project: Project,
) -> None:
    """An editor that saves the same broken text twice, or a second event of one save: the
    failure is logged once; the next real change applies."""
    project.write(PACKAGE)
    out = run_one(
        project,
        """
        import pkg.user
        with hotmod.Reloader("pkg", on_reload=on_reload, background=False) as r:
            broken = Path("pkg/mod.py").read_text().replace("VALUE = 1", "VALUE = (")
            for _ in range(3):  # the same broken content, saved again and again
                save_in_place("pkg/mod.py", broken)
                _SAVED[:] = [os.path.realpath("pkg/mod.py")]
                wait_seen(r)  # seen, and written: check() applies it
                r.check()
            fixed = broken.replace("VALUE = (", "VALUE = 2")
            save_in_place("pkg/mod.py", fixed)
            wait_until(lambda: r.check() is not None, "the fix")
        emit(errors=len(messages(logging.ERROR)), results=[res.ok for res in results()],
             value=value())
        """,
    )
    assert out == {"errors": 1, "results": [False, True], "value": 2}


def test_changes_right_after_a_reload_wait_for_a_longer_pause() -> None:
    """A burst (a checkout writing hundreds of files, with the writer stalling now and then):
    the first complete save is applied after a 5 ms pause, but changes that begin within 50 ms
    of that reload taking its changes wait for a 50 ms pause, so the burst's stalls do not
    split it into many reloads ("a 200-file branch switch in at most 2 reloads"). A save made
    later is applied after the short pause again. (Pure scheduler: no watcher involved.)"""
    from hotmod._scheduler import Scheduler

    scheduler = Scheduler(0.05, forward=lambda batch: None)
    scheduler.add([("a.py", True)])
    alone = scheduler._due() - scheduler._last
    scheduler.take()
    scheduler.applied()  # (a reload that took no time)
    scheduler.add([("b.py", True)])  # at once: the burst goes on
    in_burst = scheduler._due() - scheduler._last
    scheduler.take()
    scheduler.applied()
    time.sleep(0.06)  # longer than the burst window (a slower machine only waits longer)
    scheduler.add([("c.py", True)])
    later = scheduler._due() - scheduler._last
    assert alone == pytest.approx(0.005)
    assert in_burst == pytest.approx(0.05)
    assert later == pytest.approx(0.005)
    long_debounce = Scheduler(30.0, forward=lambda batch: None)
    long_debounce.take()
    long_debounce.add([("d.py", True)])
    assert long_debounce._due() - long_debounce._last == pytest.approx(0.05)  # not the 30 s


def test_a_burst_goes_on_after_a_reload_longer_than_its_pause() -> None:
    """A reload that takes longer than the burst's 50 ms pause starves the writer (a checkout)
    and the watcher's thread of the GIL and the CPU: the changes seen while it ran, and those
    first seen within 50 ms of its end, wait for 50 ms after the later of their last event and
    its end, instead of being due at once (which split a 200-file burst into three reloads on a
    loaded machine). (Pure scheduler: no watcher involved.)"""
    from hotmod._scheduler import Scheduler

    during = Scheduler(0.05, forward=lambda batch: None)
    during.add([("a.py", True)])
    assert during.take() == ["a.py"]  # the reload begins
    during.add([("b.py", True)])  # the checkout goes on meanwhile
    time.sleep(0.08)  # a reload longer than the pause
    during.applied()
    # (differences of monotonic times: pytest.approx is relative, and a clock at 10^5 s
    # would hide a 80 ms error)
    assert during._due() - during._applied == pytest.approx(0.05, abs=0.001)

    after = Scheduler(0.05, forward=lambda batch: None)
    after.add([("a.py", True)])
    after.take()
    time.sleep(0.08)
    after.applied()
    after.add([("c.py", True)])  # just after the long reload ended: the burst goes on
    assert after._due() - after._last == pytest.approx(0.05, abs=0.005)
