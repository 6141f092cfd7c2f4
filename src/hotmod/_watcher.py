"""File-system watching for hotmod: turns watchdog events into :class:`FileEvent` batches.

This is the only hotmod module that imports watchdog. It knows nothing about modules or
reloading: it reports "this ``.py`` file changed / disappeared" and, when the kernel lost
events, "rescan everything". Debouncing and content hashing are the consumer's job.

Threading model: watchdog runs one dispatcher thread per observer (plus emitter/reader
threads). Every callback -- ``on_events`` and ``on_overflow`` -- runs on that dispatcher
thread, one at a time, in the order watchdog queued the underlying events.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from hotmod._source_filter import SourceFilter

__all__ = ["FileEvent", "Watcher"]

logger = logging.getLogger(__name__)


# How long stop() waits for each watchdog thread. watchdog's threads are daemons, so a
# thread that fails to stop in time (a watchdog bug, or a callback that never returns)
# does not keep the interpreter alive; stop() logs it rather than hanging the caller.
_JOIN_TIMEOUT: Final = 10.0

# The event types we turn into FileEvents; everything else is dropped in the handler.
#
# Deliberately absent:
# * "opened" / "closed_no_write": watchdog >= 5 emits them for every read (imports,
#   linters, `git status`, IDE indexing); on a big tree they flood the inotify queue
#   and can overflow it. They never mean "content changed".
# * "attrib" (watchdog >= 7; chmod, chown, touch): metadata only, never new source.
#
# Present on purpose: "closed" (IN_CLOSE_WRITE, a file opened for writing was closed). It says
# a save is complete, so the consumer can apply it at once instead of waiting for the
# debounce; only writers' closes produce it, never reads. The polling observer never reports
# it: there every change waits for the debounce.
_HANDLED_EVENT_TYPES: Final = frozenset(
    {
        EVENT_TYPE_CREATED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_CLOSED,
    }
)

# Passed as `event_filter=` to observer.schedule() when the installed watchdog has that
# parameter: emitters then drop other event types before queueing them, and the
# inotify emitter narrows its kernel mask (no IN_OPEN / IN_CLOSE_NOWRITE at all). Directory
# events are not needed: watchdog keeps recursive watches up to date regardless of the
# filter, and a directory moved within a root is reported as FileMovedEvents for the files
# inside it.
_EVENT_FILTER: Final[tuple[type[FileSystemEvent], ...]] = (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
)
# Older watchdog releases lack `event_filter`; check the installed API rather than a version
# number. Every observer class inherits BaseObserver.schedule, and asking the base class
# (not the instance) is not fooled by a subclass that wraps schedule(*args, **kwargs).
_SCHEDULE_TAKES_EVENT_FILTER: Final = (
    "event_filter" in inspect.signature(BaseObserver.schedule).parameters
)


@dataclass(frozen=True, slots=True)
class FileEvent:
    """One change to a watched Python source file.

    ``path`` is absolute and spelled under the root it was found in, as that root was
    given to :class:`Watcher` (symlinks in the root are not resolved). ``deleted`` is True
    when the file is gone: it was deleted, or it was the source end of a rename.
    ``complete`` is True when the event says the new content is all there: a writer closed
    the file (and it is not empty: an editor that truncates first, then writes, closes an
    empty file in between), or a file was renamed into place (an atomic save).
    """

    path: Path
    deleted: bool
    complete: bool = field(default=False, compare=False)  # a hint, not what changed


class _RescanEvent(FileSystemEvent):
    """Marker put on the observer's event queue when events were lost; ``src_path`` says why.

    Routing it through the observer's own queue means ``on_overflow`` runs on the
    dispatcher thread like ``on_events`` (never concurrently with it) instead of on
    watchdog's inotify reader thread, which must keep draining the kernel queue.
    """

    event_type = "hotmod_rescan"


_OVERFLOW_REASON: Final = "the inotify event queue overflowed and file changes were lost"
_READER_ERROR_REASON: Final = "watchdog failed while handling an inotify event"


@dataclass(frozen=True)
class _Route:
    """One scheduled watch: the directory watchdog watches and how to spell its paths.

    Watches are scheduled on resolved directories because watchdog 7 adds IN_DONT_FOLLOW
    to the inotify mask, so a root that is itself a symlink would silently report nothing.
    Paths coming back are translated to the spelling of the root the caller gave.
    """

    watch_dir: str  # resolved directory handed to watchdog
    recursive: bool
    given_dir: str  # same directory as the caller spelled it (== watch_dir if no symlink)
    files: dict[str, str] = field(default_factory=dict)  # file roots: resolved -> given

    def translate(self, path: str) -> str:
        given = self.files.get(path)
        if given is not None:
            return given
        if self.watch_dir != self.given_dir and path.startswith(self.watch_dir + os.sep):
            return self.given_dir + path[len(self.watch_dir) :]
        return path


class _Handler(FileSystemEventHandler):
    """Forwards every event of one watch to its :class:`Watcher`."""

    def __init__(self, watcher: Watcher, route: _Route) -> None:
        super().__init__()
        self._watcher = watcher
        self._route = route

    def dispatch(self, event: FileSystemEvent) -> None:
        # Overrides the on_<type> fan-out: we need every event, including the marker type
        # watchdog's own dispatch() would try (and fail) to route to an on_* method.
        self._watcher._handle(event, self._route)


class Watcher:
    """Watch source roots and report changes to ``.py`` files.

    *roots* are directories (watched recursively) or single files (their parent directory
    is watched non-recursively and events are filtered to that file). Every reported path
    passes :func:`hotmod._source_filter.is_source_path` for *roots*.

    *on_events* receives a non-empty list of :class:`FileEvent` per underlying watchdog
    event (a rename yields two). *on_overflow* is called when the native observer reports
    that the kernel dropped events (inotify ``IN_Q_OVERFLOW``, watchdog >= 7 only); the
    consumer should then rescan every watched file. Both run on watchdog's dispatcher
    thread, one at a time; exceptions they raise are logged and swallowed so the thread
    survives.

    The native observer is used unless *polling* is true (the Reloader resolves the
    ``HOTMOD_POLLING`` environment variable into it). If the native observer cannot start (for
    example, the inotify watch or instance limit is exhausted), the watcher falls back to
    polling every *polling_interval* seconds and logs one warning explaining how to raise
    the limit.
    """

    def __init__(
        self,
        roots: Iterable[Path],
        on_events: Callable[[Sequence[FileEvent]], None],
        *,
        polling: bool = False,
        on_overflow: Callable[[], None] | None = None,
        polling_interval: float = 0.25,
    ) -> None:
        if polling_interval <= 0:
            raise ValueError(f"polling_interval must be positive, got {polling_interval!r}")
        self._roots: tuple[Path, ...] = tuple(Path(r) for r in roots)
        self._on_events = on_events
        self._on_overflow = on_overflow
        self._polling = polling
        self._polling_interval = polling_interval
        self._filter = SourceFilter(self._roots)

        # _lifecycle_lock serialises start()/stop(); _delivery_lock is held around every
        # callback. The only nesting is delivery -> lifecycle (a callback calling stop(),
        # which is why _delivery_lock is re-entrant); start()/stop() never take
        # _delivery_lock while holding _lifecycle_lock, so the two cannot deadlock.
        self._lifecycle_lock = threading.Lock()
        self._delivery_lock = threading.RLock()
        self._observer: BaseObserver | None = None
        self._started = False
        self._closed = False  # guarded by _delivery_lock; once True no callback starts

    @property
    def polling(self) -> bool:
        """True when the polling observer is (or will be) used: requested, or fallen back to."""
        return self._polling

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        observer = self._observer
        return observer is not None and observer.is_alive()

    def start(self) -> None:
        """Schedule every root and start watchdog's threads.

        Raises ``FileNotFoundError`` if a root does not exist and ``RuntimeError`` if the
        watcher was already started or stopped. An ``OSError`` from the native observer
        triggers the polling fallback; one from the polling observer propagates.
        """
        with self._lifecycle_lock:
            if self._started or self._closed:
                raise RuntimeError("a Watcher can only be started once")
            routes = self._plan_routes()
            observer: BaseObserver | None = None
            if not self._polling:
                try:
                    observer = self._launch(routes, native=True)
                except OSError as exc:
                    self._polling = True
                    logger.warning(
                        "hotmod: native file watching failed (%s); falling back to polling "
                        "every %gs, which costs more CPU on large trees. On Linux this "
                        "usually means the inotify limits are exhausted; raise them with "
                        "`sudo sysctl fs.inotify.max_user_watches=524288` (and "
                        "`sudo sysctl fs.inotify.max_user_instances=512`), made permanent "
                        "in /etc/sysctl.d/. To poll without trying native watching, pass "
                        "polling=True or set HOTMOD_POLLING=1.",
                        exc,
                        self._polling_interval,
                    )
            if observer is None:
                observer = self._launch(routes, native=False)
            self._observer = observer
            self._started = True

    def stop(self) -> None:
        """Stop watching and join watchdog's threads. Idempotent.

        Once this returns, neither callback is called again; a callback already running
        on another thread is waited for. Do not call this while holding a lock that a
        callback needs. It may be called from inside a callback (the dispatcher thread
        then finishes on its own once the callback returns).
        """
        # First close the gate: waits for an in-flight callback and keeps any event
        # still queued inside watchdog from being delivered while it shuts down.
        with self._delivery_lock:
            self._closed = True
        with self._lifecycle_lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            self._shutdown(observer)

    # -- setup -----------------------------------------------------------------------

    def _plan_routes(self) -> list[_Route]:
        """Work out the minimal set of watches that covers every root exactly once.

        Overlapping watches would deliver each event twice, so directory roots nested in
        another directory root, and file roots inside a directory root, get no watch of
        their own. File roots sharing a parent directory share one non-recursive watch.
        """
        dirs: dict[str, str] = {}  # resolved dir -> given (absolute) spelling
        files: list[tuple[str, str]] = []  # (resolved file, given file)
        for root in self._roots:
            given = os.path.abspath(root)
            resolved = os.path.realpath(root)
            if os.path.isdir(resolved):
                dirs.setdefault(resolved, given)
            elif os.path.exists(resolved):
                files.append((resolved, given))
            else:
                raise FileNotFoundError(f"hotmod: watch root does not exist: {os.fspath(root)!r}")

        def covered(path: str, by: Iterable[str]) -> bool:
            return any(path.startswith(d if d.endswith(os.sep) else d + os.sep) for d in by)

        top_dirs = [d for d in dirs if not covered(d, (o for o in dirs if o != d))]
        routes = [_Route(d, recursive=True, given_dir=dirs[d]) for d in top_dirs]
        parents: dict[str, dict[str, str]] = {}
        for resolved, given in files:
            if not covered(resolved, top_dirs):
                parents.setdefault(os.path.dirname(resolved), {})[resolved] = given
        routes.extend(
            _Route(parent, recursive=False, given_dir=parent, files=members)
            for parent, members in parents.items()
        )
        return routes

    def _launch(self, routes: Sequence[_Route], *, native: bool) -> BaseObserver:
        """Build, schedule and start one observer; on failure leave no thread behind."""
        observer = Observer() if native else PollingObserver(timeout=self._polling_interval)
        try:
            kwargs: dict[str, Any] = {}
            if _SCHEDULE_TAKES_EVENT_FILTER:
                kwargs["event_filter"] = list(_EVENT_FILTER)
            watches = [
                observer.schedule(
                    _Handler(self, route), route.watch_dir, recursive=route.recursive, **kwargs
                )
                for route in routes
            ]
            if native and watches:
                self._hook_inotify_reader(observer, watches[0])
            # Native observers register their kernel watches here (emitter.start() runs
            # on_thread_start synchronously), which is where ENOSPC/EMFILE surface.
            observer.start()
        except BaseException:
            try:
                self._shutdown(observer)
            except Exception:
                logger.debug("error while discarding a failed observer", exc_info=True)
            raise
        return observer

    def _hook_inotify_reader(self, observer: BaseObserver, watch: ObservedWatch) -> None:
        """Make an inotify ``IN_Q_OVERFLOW`` reach ``on_overflow``; keep the reader alive.

        What watchdog does with the kernel's overflow record (wd == -1, IN_Q_OVERFLOW):

        * watchdog 6.x: ``Inotify.read_events`` skips every record with ``wd == -1``,
          so the overflow is discarded silently -- no event, no log, no hook. Nothing
          short of re-implementing the reader can see it; ``on_overflow`` never fires.
        * watchdog 7.x: ``InotifyFD.read_events`` keeps it and ``InotifyFD.handle_event``
          logs "Inotify queue overflowed; filesystem events were lost" (logger
          ``watchdog.observers.inotify_c``) and calls ``on_queue_overflow()`` on each
          watch group, which drops half-paired move events and rebuilds recursive
          watches. No FileSystemEvent reaches handlers. (From 7.1.1 the reader thread only
          reads raw buffers; a dispatcher thread parses them and calls ``handle_event``,
          which keeps the overflow record the same way.)

        So for watchdog 7 we wrap the observer's ``InotifyFD.handle_event`` (reached
        through the private ``InotifyObserver._inotify_fd``; its thread is already running
        but no watch exists yet, so it cannot be handling an event while we swap it) and,
        after watchdog's own recovery, queue a marker that the dispatcher delivers. If
        the attributes are missing (watchdog 6, non-Linux observers) nothing is hooked.

        The same wrapper also stops an exception in watchdog's event handling from
        killing the reader thread, which would end all watching without a trace. One
        seen in practice (watchdog 7.1): creating nested directories at once (``mkdir
        -p a/b``) can make watchdog re-register a watch it already has and emit
        ``RuntimeWarning("Callback with id ... already exists ...")`` on the reader
        thread; under ``-W error`` (or pytest's ``filterwarnings = error``) that warning
        is an exception. The event being handled is then only partly processed, so the
        consumer is asked to rescan as after an overflow.
        """
        inotify_fd: Any = getattr(observer, "_inotify_fd", None)
        original: Callable[[Any], None] | None = getattr(inotify_fd, "handle_event", None)
        if original is None:
            logger.debug(
                "%s does not report event-queue overflows; on_overflow will not be called",
                type(observer).__name__,
            )
            return
        event_queue = observer.event_queue

        def handle_event(event: Any) -> None:
            reason: str | None = None
            try:
                original(event)
            except Exception:
                logger.exception("hotmod: %s %r", _READER_ERROR_REASON, event)
                reason = _READER_ERROR_REASON
            # Queued after watchdog's own recovery, so watches are whole again by the time
            # the consumer rescans; changes made after that still produce events.
            if getattr(event, "is_queue_overflow", False):
                reason = _OVERFLOW_REASON
            if reason is not None:
                event_queue.put((_RescanEvent(reason), watch))

        inotify_fd.handle_event = handle_event

    def _shutdown(self, observer: BaseObserver) -> None:
        # BaseObserver.stop() also stops and joins the emitters (and, for inotify on
        # watchdog 7, the reader thread); it is safe on an observer that never started.
        observer.stop()
        if observer.is_alive() and observer is not threading.current_thread():
            observer.join(_JOIN_TIMEOUT)
            if observer.is_alive():
                logger.warning(
                    "hotmod: watchdog observer thread did not stop within %gs", _JOIN_TIMEOUT
                )

    # -- event path (dispatcher thread) -------------------------------------------------

    def _handle(self, event: FileSystemEvent, route: _Route) -> None:
        # Runs on watchdog's dispatcher thread: an exception escaping here would kill it
        # and silently end all watching, so nothing may escape.
        try:
            if isinstance(event, _RescanEvent):
                self._request_rescan(os.fsdecode(event.src_path))
                return
            event_type = event.event_type
            if event_type not in _HANDLED_EVENT_TYPES or event.is_directory:
                # Directory events carry nothing we use: creations/moves/deletions of
                # files inside them arrive as file events (inotify and polling alike).
                return
            batch: list[FileEvent] = []
            src = route.translate(os.fsdecode(event.src_path))
            if event_type == EVENT_TYPE_MOVED:
                # Both ends matter: an atomic save renames a temp file (ignored) onto x.py
                # (changed); vim renames x.py (deleted) to x.py~ (ignored).
                if self._filter(src):
                    batch.append(FileEvent(Path(src), deleted=True))
                dest = route.translate(os.fsdecode(event.dest_path))
                if dest and self._filter(dest):
                    batch.append(FileEvent(Path(dest), deleted=False, complete=True))
            elif event_type == EVENT_TYPE_CLOSED:
                if self._filter(src):
                    batch.append(FileEvent(Path(src), deleted=False, complete=_has_content(src)))
            elif self._filter(src):
                batch.append(FileEvent(Path(src), deleted=event_type == EVENT_TYPE_DELETED))
            if batch:
                self._deliver_events(batch)
        except Exception:
            logger.exception("hotmod: error while handling file-system event %r", event)

    def _deliver_events(self, batch: list[FileEvent]) -> None:
        with self._delivery_lock:
            if self._closed:
                return
            try:
                self._on_events(batch)
            except Exception:
                logger.exception("hotmod: on_events callback raised")

    def _request_rescan(self, reason: str) -> None:
        with self._delivery_lock:
            if self._closed:
                return
            if self._on_overflow is None:
                logger.warning("hotmod: %s; changes made just now may go unnoticed", reason)
                return
            logger.warning("hotmod: %s; asking for a rescan of watched files", reason)
            try:
                self._on_overflow()
            except Exception:
                logger.exception("hotmod: on_overflow callback raised")


def _has_content(path: str) -> bool:
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False
