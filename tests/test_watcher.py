"""Tests for hotmod._watcher against real watchdog observers and real files.

Synchronisation is always "poll a condition until a deadline", never a fixed sleep. To
show that *nothing* was reported for some file, the test then writes a sentinel ``.py``
file under the same root and waits for it: the native observer delivers one watch's
events in kernel order, so anything the first write produced would have arrived before.
"""

from __future__ import annotations

import errno
import inspect
import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import watchdog.observers
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from hotmod import _watcher
from hotmod._watcher import FileEvent, Watcher

DEADLINE = 5.0

_sentinels = itertools.count()


class Collector:
    """Thread-safe sink for on_events, with deadline-based waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[FileEvent] = []
        self.batches = 0

    def __call__(self, batch: Sequence[FileEvent]) -> None:
        assert batch, "on_events must never receive an empty batch"
        with self._lock:
            self._events.extend(batch)
            self.batches += 1

    def events(self) -> list[FileEvent]:
        with self._lock:
            return list(self._events)

    def wait_for(
        self, predicate: Callable[[list[FileEvent]], bool], what: str, timeout: float = DEADLINE
    ) -> list[FileEvent]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; got {events}")
            time.sleep(0.01)

    def wait_for_event(self, event: FileEvent) -> list[FileEvent]:
        return self.wait_for(lambda events: event in events, repr(event))


def settle(collector: Collector, directory: Path) -> list[FileEvent]:
    """Write a sentinel under *directory*, wait for it, return the events before it."""
    sentinel = directory / f"sentinel_{next(_sentinels)}.py"
    sentinel.write_text("")
    events = collector.wait_for(
        lambda evs: any(e.path == sentinel for e in evs), f"sentinel {sentinel.name}"
    )
    return events[: next(i for i, e in enumerate(events) if e.path == sentinel)]


def hotmod_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name.startswith("hotmod") and r.levelno >= logging.WARNING
    ]


@pytest.fixture(autouse=True)
def _no_polling_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTMOD_POLLING", raising=False)


@pytest.fixture
def watch() -> Iterator[Callable[..., tuple[Watcher, Collector]]]:
    """Factory: start a Watcher on some roots; every watcher is stopped at teardown."""
    started: list[Watcher] = []

    def factory(roots: Sequence[Path], **kwargs: Any) -> tuple[Watcher, Collector]:
        collector = Collector()
        watcher = Watcher(roots, collector, **kwargs)
        started.append(watcher)
        watcher.start()
        return watcher, collector

    yield factory
    for watcher in started:
        watcher.stop()


# -- save styles ----------------------------------------------------------------------


def save_in_place(path: Path, text: str) -> None:
    path.write_text(text)


def save_truncate_then_write(path: Path, text: str) -> None:
    with open(path, "w"):
        pass  # step 1: truncate and close
    with open(path, "a") as f:
        f.write(text)  # step 2: write the content


def save_replace_temp(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_vim(path: Path, text: str) -> None:
    swap = path.with_name(f".{path.name}.swp")
    swap.write_text("swap")
    probe = path.with_name("4913")  # vim checks the directory is writable
    probe.write_text("")
    probe.unlink()
    backup = path.with_name(path.name + "~")
    os.replace(path, backup)
    path.write_text(text)
    backup.unlink()
    swap.unlink()


def save_jetbrains(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    tmp.write_text(text)
    os.replace(path, old)
    os.replace(tmp, path)
    old.unlink()


SAVE_STYLES = [
    save_in_place,
    save_truncate_then_write,
    save_replace_temp,
    save_vim,
    save_jetbrains,
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("save", SAVE_STYLES, ids=lambda f: f.__name__)
def test_save_styles_report_exactly_the_saved_file(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]], save: Callable[..., None]
) -> None:
    target = tmp_path / "x.py"
    target.write_text("value = 1\n")
    watcher, collector = watch([tmp_path])
    assert not watcher.polling

    save(target, "value = 2\n")
    before = settle(collector, tmp_path)

    assert target.read_text() == "value = 2\n"
    assert {e.path for e in before} == {target}, before
    assert {e.path for e in before if not e.deleted} == {target}
    assert before[-1] == FileEvent(target, deleted=False), "file must end up changed, not gone"


@pytest.mark.timeout(30)
def test_delete_then_recreate(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    target = tmp_path / "x.py"
    target.write_text("a = 1\n")
    _, collector = watch([tmp_path])

    target.unlink()
    collector.wait_for_event(FileEvent(target, deleted=True))

    target.write_text("a = 2\n")
    events = collector.wait_for(
        lambda evs: FileEvent(target, deleted=False) in evs[evs.index(FileEvent(target, True)) :],
        "changed event after the deletion",
    )
    assert {e.path for e in events} == {target}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "rel",
    [
        "__pycache__/x.cpython-311.pyc",
        "__pycache__/stale.py",
        ".x.py.swp",
        "x.py~",
        "x.py.tmp",
        ".git/HEAD",
        ".git/hooks/post_commit.py",
        ".venv/lib/site.py",
        "notes.txt",
    ],
)
def test_ignored_files_report_nothing(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]], rel: str
) -> None:
    (tmp_path / ".git").mkdir()
    _, collector = watch([tmp_path])

    ignored = tmp_path / rel
    ignored.parent.mkdir(parents=True, exist_ok=True)
    ignored.write_text("ignored")
    ignored.write_text("ignored again")
    ignored.unlink()

    assert settle(collector, tmp_path) == []


@pytest.mark.timeout(30)
def test_reading_a_source_file_reports_nothing(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    # watchdog >= 5 emits "opened" and "closed_no_write" for plain reads (imports, linters);
    # they must never look like a change.
    target = tmp_path / "x.py"
    target.write_text("a = 1\n")
    _, collector = watch([tmp_path])
    for _ in range(3):
        assert target.read_text() == "a = 1\n"
    assert settle(collector, tmp_path) == []


def test_schedule_uses_event_filter_when_supported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    native: Any = watchdog.observers.Observer
    seen: list[dict[str, Any]] = []

    class RecordingObserver(native):  # type: ignore[misc]
        def schedule(self, *args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return super().schedule(*args, **kwargs)

    monkeypatch.setattr(_watcher, "Observer", RecordingObserver)
    watcher = Watcher([tmp_path], Collector())
    watcher.start()
    watcher.stop()

    assert len(seen) == 1
    supported = "event_filter" in inspect.signature(BaseObserver.schedule).parameters
    assert ("event_filter" in seen[0]) == supported
    if supported:
        names = {cls.__name__ for cls in seen[0]["event_filter"]}
        assert names == {
            "FileClosedEvent",  # a writer's close: the save is complete
            "FileCreatedEvent",
            "FileModifiedEvent",
            "FileDeletedEvent",
            "FileMovedEvent",
        }


@pytest.mark.timeout(30)
def test_directories_created_moved_and_deleted(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    root = tmp_path / "root"
    (root / "leaving").mkdir(parents=True)
    (root / "leaving" / "gone.py").write_text("")
    outside = tmp_path / "outside"
    _, collector = watch([root])

    # A package created after start() is watched, including a file written straight away.
    sub = root / "sub"
    sub.mkdir()
    (sub / "mod.py").write_text("x = 1\n")
    collector.wait_for_event(FileEvent(sub / "mod.py", deleted=False))

    # Renaming the package reports each file at both ends.
    renamed = root / "renamed"
    os.rename(sub, renamed)
    collector.wait_for_event(FileEvent(sub / "mod.py", deleted=True))
    collector.wait_for_event(FileEvent(renamed / "mod.py", deleted=False))

    # Deleting it reports its files as deleted.
    shutil.rmtree(renamed)
    collector.wait_for_event(FileEvent(renamed / "mod.py", deleted=True))

    # Moving a directory out of the root must not break anything (watchdog only reports
    # the directory itself here, which the watcher ignores).
    os.rename(root / "leaving", outside)
    settle(collector, root)


@pytest.mark.timeout(30)
def test_nested_directories_created_at_once(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    # `mkdir -p` races watchdog 7's recursive watch registration; it can warn from the
    # reader thread (an exception under this project's filterwarnings=error). Watching
    # must survive either way.
    _, collector = watch([tmp_path])
    for i in range(5):
        deep = tmp_path / f"top{i}" / "mid" / "leaf"
        deep.mkdir(parents=True)
        (deep / "mod.py").write_text("x = 1\n")
        collector.wait_for_event(FileEvent(deep / "mod.py", deleted=False))
    settle(collector, tmp_path)


@pytest.mark.timeout(30)
def test_error_in_watchdog_reader_requests_rescan_and_keeps_watching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hotmod")
    inotify_module = pytest.importorskip("watchdog.observers.inotify")
    group_cls: Any = getattr(inotify_module, "InotifyWatchGroup", None)
    if group_cls is None:
        pytest.skip("watchdog < 7: no InotifyFD reader to guard")
    original_on_event = group_cls.on_event
    failures: list[Any] = []

    def flaky_on_event(self: Any, event: Any) -> None:
        if not failures and event.name == b"boom.txt":
            failures.append(event)
            raise RuntimeError("simulated watchdog bug")
        original_on_event(self, event)

    monkeypatch.setattr(group_cls, "on_event", flaky_on_event)
    rescans = threading.Event()
    collector = Collector()
    watcher = Watcher([tmp_path], collector, on_overflow=rescans.set)
    watcher.start()
    try:
        if getattr(watcher._observer, "_inotify_fd", None) is None:
            pytest.skip("native observer is not watchdog 7's inotify observer")
        (tmp_path / "boom.txt").write_text("")
        assert rescans.wait(DEADLINE), "on_overflow not called after a reader error"
        (tmp_path / "after.py").write_text("")
        collector.wait_for_event(FileEvent(tmp_path / "after.py", deleted=False))
    finally:
        watcher.stop()
    assert failures
    errors = [r for r in caplog.records if r.name == "hotmod._watcher" and r.exc_info]
    assert any("simulated watchdog bug" in str(r.exc_info[1]) for r in errors if r.exc_info)


@pytest.mark.timeout(30)
def test_file_root_reports_only_that_file(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    script = tmp_path / "main.py"
    script.write_text("")
    other = tmp_path / "other.py"
    other.write_text("")
    sentinel = tmp_path / "sentinel.py"
    sentinel.write_text("")
    _, collector = watch([script, sentinel])

    other.write_text("not watched")
    save_replace_temp(script, "print('hi')\n")
    sentinel.write_text("done")
    events = collector.wait_for(lambda evs: any(e.path == sentinel for e in evs), "sentinel")
    before = events[: next(i for i, e in enumerate(events) if e.path == sentinel)]
    assert before == [FileEvent(script, deleted=False)]


@pytest.mark.timeout(30)
def test_symlinked_root_reports_paths_under_the_given_root(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    try:
        link.symlink_to(real, target_is_directory=True)
    except OSError as exc:  # pragma: no cover - e.g. Windows without privilege
        pytest.skip(f"cannot create symlinks: {exc}")
    _, collector = watch([link])

    (real / "x.py").write_text("x = 1\n")
    collector.wait_for_event(FileEvent(link / "x.py", deleted=False))
    assert all(e.path.parent == link for e in collector.events())


@pytest.mark.timeout(30)
def test_relative_root_reports_absolute_paths(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    monkeypatch.chdir(tmp_path)
    _, collector = watch([Path("pkg")])
    (tmp_path / "pkg" / "x.py").write_text("")
    collector.wait_for_event(FileEvent(tmp_path / "pkg" / "x.py", deleted=False))


@pytest.mark.timeout(30)
def test_overlapping_roots_report_each_event_once(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    script = pkg / "main.py"
    script.write_text("")
    _, collector = watch([tmp_path, pkg, script, tmp_path])

    # An atomic replace is a single rename: exactly one FileEvent per watch that sees it.
    save_replace_temp(pkg / "x.py", "x = 1\n")
    before = settle(collector, pkg)
    assert before == [FileEvent(pkg / "x.py", deleted=False)]


def test_plan_routes_deduplicates(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    pkg = tree / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "main.py").write_text("")
    lone_dir = tmp_path / "lone"
    lone_dir.mkdir()
    (lone_dir / "a.py").write_text("")
    (lone_dir / "b.py").write_text("")
    roots = [tree, pkg, pkg / "main.py", lone_dir / "a.py", lone_dir / "b.py", tree]
    routes = Watcher(roots, Collector())._plan_routes()
    planned = sorted((r.watch_dir, r.recursive) for r in routes)
    assert planned == sorted([(str(tree), True), (str(lone_dir), False)])


def test_missing_root_raises(tmp_path: Path) -> None:
    watcher = Watcher([tmp_path / "missing"], Collector())
    with pytest.raises(FileNotFoundError, match="missing"):
        watcher.start()
    assert not watcher.running


def test_start_twice_raises(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    watcher, _ = watch([tmp_path])
    with pytest.raises(RuntimeError):
        watcher.start()
    watcher.stop()
    with pytest.raises(RuntimeError):
        watcher.start()


def test_invalid_polling_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="polling_interval"):
        Watcher([tmp_path], Collector(), polling_interval=0)


# -- polling and fallback ------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_polling_mode_sees_in_place_write(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    target = tmp_path / "x.py"
    target.write_text("a = 1\n")
    watcher, collector = watch([tmp_path], polling=True, polling_interval=0.05)
    assert watcher.polling
    assert isinstance(watcher._observer, PollingObserver)

    target.write_text("a = 22222\n")  # a size change, so mtime granularity cannot hide it
    collector.wait_for_event(FileEvent(target, deleted=False))
    assert {e.path for e in collector.events()} == {target}


class _MustNotBeUsed:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the native observer must not be constructed")


@pytest.mark.timeout(30)
def test_polling_requested_never_touches_native_observer(
    tmp_path: Path,
    watch: Callable[..., tuple[Watcher, Collector]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hotmod")
    monkeypatch.setattr(_watcher, "Observer", _MustNotBeUsed)
    watcher, collector = watch([tmp_path], polling=True, polling_interval=0.05)
    (tmp_path / "x.py").write_text("")
    collector.wait_for_event(FileEvent(tmp_path / "x.py", deleted=False))
    assert watcher.polling
    assert hotmod_warnings(caplog) == []


def _failing_native_observer(where: str) -> type[Any]:
    native: Any = watchdog.observers.Observer

    class FailingObserver(native):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if where == "init":
                raise OSError(errno.EMFILE, "inotify instance limit reached")
            super().__init__(*args, **kwargs)

        def schedule(self, *args: Any, **kwargs: Any) -> Any:
            if where == "schedule":
                raise OSError(errno.ENOSPC, "inotify watch limit reached")
            return super().schedule(*args, **kwargs)

        def start(self) -> None:
            if where == "start":
                raise OSError(errno.ENOSPC, "inotify watch limit reached")
            super().start()
            if where == "after-start":  # threads are already running: must be cleaned up
                raise OSError(errno.ENOSPC, "inotify watch limit reached")

    return FailingObserver


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["init", "schedule", "start", "after-start"])
def test_native_failure_falls_back_to_polling(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(_watcher, "Observer", _failing_native_observer(where))
    threads_before = set(threading.enumerate())
    collector = Collector()
    watcher = Watcher([tmp_path], collector, polling_interval=0.05)
    watcher.start()
    try:
        assert watcher.polling
        assert isinstance(watcher._observer, PollingObserver)
        (tmp_path / "x.py").write_text("x = 1\n")
        collector.wait_for_event(FileEvent(tmp_path / "x.py", deleted=False))
    finally:
        watcher.stop()

    warnings = hotmod_warnings(caplog)
    assert len(warnings) == 1, warnings
    message = warnings[0].getMessage()
    assert warnings[0].name == "hotmod._watcher"
    assert "max_user_watches" in message
    assert "max_user_instances" in message
    assert "HOTMOD_POLLING=1" in message
    assert "polling=True" in message
    # The failed native observer left no thread behind.
    assert set(threading.enumerate()) <= threads_before


# -- lifecycle ----------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("polling", [False, True], ids=["native", "polling"])
def test_stop_is_idempotent_and_joins_threads(tmp_path: Path, polling: bool) -> None:
    threads_before = set(threading.enumerate())
    watcher = Watcher([tmp_path], Collector(), polling=polling, polling_interval=0.05)
    assert not watcher.running
    watcher.start()
    assert watcher.running
    assert set(threading.enumerate()) - threads_before, "watchdog threads should be running"

    watcher.stop()
    assert not watcher.running
    assert set(threading.enumerate()) <= threads_before
    watcher.stop()
    assert not watcher.running


def test_stop_before_start_is_harmless(tmp_path: Path) -> None:
    watcher = Watcher([tmp_path], Collector())
    watcher.stop()
    watcher.stop()
    assert not watcher.running


@pytest.mark.timeout(30)
def test_no_callback_after_stop_returns(
    tmp_path: Path, watch: Callable[..., tuple[Watcher, Collector]]
) -> None:
    entered = threading.Event()
    release = threading.Event()
    calls: list[Sequence[FileEvent]] = []

    def blocking(batch: Sequence[FileEvent]) -> None:
        calls.append(batch)
        entered.set()
        release.wait(DEADLINE)

    watcher = Watcher([tmp_path], blocking)
    watcher.start()
    try:
        (tmp_path / "first.py").write_text("")
        assert entered.wait(DEADLINE), "first callback never arrived"
        # More events queue up inside watchdog while the callback is blocked.
        for i in range(5):
            (tmp_path / f"queued_{i}.py").write_text("")

        stopper = threading.Thread(target=watcher.stop)
        stopper.start()
        stopper.join(0.3)
        assert stopper.is_alive(), "stop() must wait for the in-flight callback"
        release.set()
        stopper.join(DEADLINE)
        assert not stopper.is_alive()
    finally:
        release.set()
        watcher.stop()

    delivered = len(calls)
    # A second, independent watcher proves the kernel did report the next write.
    _, witness = watch([tmp_path])
    (tmp_path / "after_stop.py").write_text("")
    witness.wait_for_event(FileEvent(tmp_path / "after_stop.py", deleted=False))
    assert len(calls) == delivered


@pytest.mark.timeout(30)
def test_stop_from_inside_callback(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    stopped = threading.Event()
    holder: list[Watcher] = []

    def stop_self(batch: Sequence[FileEvent]) -> None:
        holder[0].stop()
        stopped.set()

    watcher = Watcher([tmp_path], stop_self)
    holder.append(watcher)
    watcher.start()
    (tmp_path / "x.py").write_text("")
    assert stopped.wait(DEADLINE)
    assert not watcher.running
    # The dispatcher thread cannot join itself; it exits once the callback has returned.
    assert _eventually(lambda: set(threading.enumerate()) <= threads_before)


def _eventually(condition: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.timeout(30)
def test_raising_callback_does_not_stop_delivery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hotmod")
    collector = Collector()
    raised = threading.Event()

    def flaky(batch: Sequence[FileEvent]) -> None:
        collector(batch)
        if not raised.is_set():
            raised.set()
            raise RuntimeError("boom from on_events")

    watcher = Watcher([tmp_path], flaky)
    watcher.start()
    try:
        (tmp_path / "a.py").write_text("")
        assert raised.wait(DEADLINE)
        (tmp_path / "b.py").write_text("")
        collector.wait_for_event(FileEvent(tmp_path / "b.py", deleted=False))
        assert watcher.running
    finally:
        watcher.stop()

    errors = [r for r in caplog.records if r.name == "hotmod._watcher" and r.exc_info]
    assert len(errors) == 1
    assert errors[0].levelno == logging.ERROR
    exc_info = errors[0].exc_info
    assert exc_info is not None
    assert isinstance(exc_info[1], RuntimeError)


# -- inotify queue overflow ------------------------------------------------------------


@pytest.mark.timeout(60)
def test_real_inotify_queue_overflow_calls_on_overflow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Make the kernel drop events for real and check on_overflow fires.

    watchdog's inotify reader thread is held before its next read() while more events
    than fs.inotify.max_queued_events are generated; the kernel then appends
    IN_Q_OVERFLOW to the queue.
    """
    limit_file = Path("/proc/sys/fs/inotify/max_queued_events")
    if not limit_file.exists():
        pytest.skip("not Linux inotify")
    limit = int(limit_file.read_text())
    if limit > 200_000:
        pytest.skip(f"max_queued_events={limit} is too large to overflow quickly")
    caplog.set_level(logging.DEBUG, logger="hotmod")

    overflowed = threading.Event()
    collector = Collector()
    watcher = Watcher([tmp_path], collector, on_overflow=overflowed.set)
    watcher.start()
    try:
        inotify_fd: Any = getattr(watcher._observer, "_inotify_fd", None)
        if inotify_fd is None or not hasattr(inotify_fd, "handle_event"):
            pytest.skip("this watchdog (< 7) discards IN_Q_OVERFLOW; on_overflow cannot fire")

        entered = threading.Event()
        gate = threading.Event()
        # What the reader thread calls for each read: watchdog 7.1.1 reads raw buffers there
        # (and parses them in a dispatcher thread), 7.0 parsed events in read_events.
        raw = hasattr(inotify_fd, "_read_event_buffer")
        reader = "_read_event_buffer" if raw else "read_events"
        original_read = getattr(inotify_fd, reader)

        def gated_read(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            gate.wait(30)
            return original_read(*args, **kwargs)

        setattr(inotify_fd, reader, gated_read)
        # The reader is parked in its current read(); one event wakes it so that its
        # next read goes through the gate.
        (tmp_path / "wake.txt").write_text("")
        assert entered.wait(DEADLINE)

        # Alternate two files so the kernel cannot coalesce consecutive events.
        fds = [os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT) for name in ("a.txt", "b.txt")]
        try:
            for i in range(limit + 1000):
                os.write(fds[i % 2], b"x")
        finally:
            for fd in fds:
                os.close(fd)
        gate.set()

        assert overflowed.wait(30), "on_overflow was not called"
        assert any("overflow" in r.getMessage() for r in hotmod_warnings(caplog))
        # Watching still works afterwards.
        settle(collector, tmp_path)
    finally:
        watcher.stop()


# -- completion: the watcher says when a save is known complete ------------------------------


def _write_in_place(path: Path) -> None:
    with open(path, "w") as f:
        f.write("A = 2\n")


def _rename_into_place(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("A = 2\n")
    os.replace(tmp, path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("save", [_write_in_place, _rename_into_place], ids=["close", "rename"])
def test_a_completed_save_is_reported_complete(
    tmp_path: Path, save: Callable[[Path], None]
) -> None:
    target = tmp_path / "m.py"
    target.write_text("A = 1\n")
    collector = Collector()
    watcher = Watcher([tmp_path], collector)
    watcher.start()
    try:
        save(target)
        events = collector.wait_for(
            lambda evs: any(e.path == target and e.complete for e in evs), "a complete event"
        )
        last = events.index(next(e for e in events if e.path == target and e.complete))
        # nothing before the completion said it was complete
        assert not any(e.complete for e in events[:last])
    finally:
        watcher.stop()


@pytest.mark.timeout(30)
def test_writes_still_open_and_emptied_files_are_never_complete(tmp_path: Path) -> None:
    """A file still open for writing may get more; one closed empty is most likely mid-save
    (truncate, close, write again): neither is complete, so both wait for the debounce."""
    target = tmp_path / "m.py"
    target.write_text("A = 1\n")
    collector = Collector()
    watcher = Watcher([tmp_path], collector)
    watcher.start()
    try:
        with open(target, "a") as writing:
            writing.write("B = 2\n")
            writing.flush()
            collector.wait_for(lambda evs: any(e.path == target for e in evs), "the write")
            before_close = settle(collector, tmp_path)
        assert [e for e in before_close if e.path == target]
        assert not any(e.complete for e in before_close), before_close
        seen = len(settle(collector, tmp_path))  # the close of that write, and a sentinel
        open(target, "w").close()  # emptied and closed
        emptied = [e for e in settle(collector, tmp_path)[seen:] if e.path == target]
        assert emptied
        assert not any(e.complete for e in emptied), emptied
    finally:
        watcher.stop()


@pytest.mark.timeout(30)
def test_the_polling_observer_never_reports_complete(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text("A = 1\n")
    collector = Collector()
    watcher = Watcher([tmp_path], collector, polling=True, polling_interval=0.05)
    watcher.start()
    try:
        _write_in_place(target)
        _rename_into_place(target)
        events = settle(collector, tmp_path)
        assert [e for e in events if e.path == target]
        assert not any(e.complete for e in events)
    finally:
        watcher.stop()
