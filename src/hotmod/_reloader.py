"""The Reloader: composes the index, graph, sources, transaction and watcher, and owns the
lifecycle (created -> running -> stopped), the background thread and the debounce."""

from __future__ import annotations

import itertools
import logging
import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

from hotmod._binding_scan import scan_bindings
from hotmod._code_cache import CodeCache, StatKey, stat_key
from hotmod._exceptions import ArgumentTypeError, NotWatchedError, ReloaderStateError
from hotmod._fork import ParentPipe, Pipes, track, untrack
from hotmod._import_cache import ImportCache, default_cache_dir
from hotmod._import_graph import ImportGraph
from hotmod._import_parser import ImportParseError, parse_import_scopes, same_imports
from hotmod._module_dict import all_modules, get_module, live_modules
from hotmod._module_index import ModuleIndex, ModuleRecord, find_spec_quietly, origin_namespace
from hotmod._observed import install as observe_imports
from hotmod._observed import observed_count, observed_since
from hotmod._patch import prepare_templates
from hotmod._result import ReloadResult, user_traceback
from hotmod._scheduler import RESCAN_ALL, Scheduler, max_delay
from hotmod._sources import (
    LOADED,
    SourceStore,
    SourceVersion,
    open_for_writing,
    read_source,
    runs_current_file,
)
from hotmod._transaction import Outcome, Transaction
from hotmod.adapters._base import Adapter, AdapterRun, check_adapters
from hotmod.adapters._base import select as select_adapters

if TYPE_CHECKING:
    from typing_extensions import Self  # annotations only: not imported at run time

    from hotmod._watcher import FileEvent, Watcher

__all__ = ["Reloader", "applied_reloads"]

logger = logging.getLogger("hotmod")

# Fewer files than this to index: indexed by Reloader() itself (a thread costs more than it
# saves). Tests set it to 0 or to a large number.
_BUILD_IN_THREAD_FROM = 16
# The threads building an index now: a fork waits for them (the child would inherit a lock
# held by a thread it does not have).
_builders: set[threading.Thread] = set()
_builders_lock = threading.Lock()


def _finish_builds() -> None:
    with _builders_lock:
        building = list(_builders)
    for thread in building:
        if thread is not threading.current_thread():
            thread.join()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_builds)


def _pending_flusher(reloader: Reloader) -> Callable[[], None]:
    """``reloader._flush_pending``, without keeping the Reloader alive (its import cache
    holds it)."""
    method = weakref.WeakMethod(reloader._flush_pending)

    def flush() -> None:
        bound = method()
        if bound is not None:
            bound()

    return flush


_applied = 0  # reloads applied in this process (a forked child starts from its parent's count)
_applied_lock = threading.Lock()


_supervised = False  # a supervisor restarts this process when a file only a restart applies changes


def restarted_by_supervisor() -> None:
    """Say that a supervisor (``hotmod run``, ``runserver`` with ``hotmod.django``) restarts
    this process for the changes only a restart applies: they are told at INFO level, not as
    a warning that asks the user to restart."""
    global _supervised
    _supervised = True


def is_restarted_by_supervisor() -> bool:
    """Whether ``restarted_by_supervisor()`` was called in this process."""
    return _supervised


def applied_reloads() -> int:
    """How many reloads that re-executed modules this process has applied, by any Reloader: a
    number that grows with each one (the ``X-Hotmod-Version`` header of the dev servers)."""
    return _applied


OnReload = Callable[[ReloadResult], object]

_AUTORELOAD = "IPython.extensions.autoreload"

# How many edited files' last parsed sources are kept (``Reloader._parsed``).
_PARSED_KEPT = 16
Target = str | os.PathLike[str]
_SYSTEM_CODE = (
    "is part of the standard library or site-packages (or built in); hotmod reloads only your "
    "own code: restart the process to run a new version of it"
)


class State(Enum):
    """Lifecycle of a Reloader."""

    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"


def _default_polling(polling: bool) -> bool:
    """``polling=True``, or the environment variable ``HOTMOD_POLLING`` set to 1/true/yes."""
    if polling:
        return True
    return os.environ.get("HOTMOD_POLLING", "").strip().lower() in ("1", "true", "yes", "on")


class Reloader:
    """Keeps the modules of some packages current in a running process.

    Args:
        *packages: importable names of the packages (or modules) to watch, e.g. ``"myapp"``.
        paths: extra files or folders; every imported module whose source lies below one of
            them is watched too.
        eager: re-import evicted modules right away, dependencies first (default). With
            ``False`` they are only evicted and re-execute at their next ``import``.
        debounce: seconds of quiet after a file event before the background thread reloads;
            events within it coalesce into one reload.
        polling: use watchdog's polling observer (network drives, container bind mounts). Also
            selected by the environment variable ``HOTMOD_POLLING=1``.
        on_reload: called with the ``ReloadResult`` after every reload attempt, successful or
            not; exceptions it raises are logged.
        background: with ``True`` (default) ``start()`` applies changes in a background thread;
            with ``False`` it only watches, and changes wait for ``check()`` (safe points).
        adapters: the registries that take part in reloads (``hotmod.adapters``). None
            (default): the built-in adapters (logging handlers, atexit functions, and each
            framework's once it is imported) and those given to ``hotmod.adapters.register``,
            as they are at each reload. A sequence of ``Adapter`` instances: exactly those, in
            that order (``hotmod.adapters.builtin("logging")`` names a built-in one). ``()``:
            none.
        patch: after each module re-executes, upgrade its old version's functions and
            classes in place (default), so old instances, stored callbacks and ``from m
            import f`` elsewhere run the new code; ``False`` keeps pure re-execution. A module
            opts out with ``__hotmod_patch__ = False``.

    Raises:
        PackageNotFoundError: a package cannot be found (a ``ModuleNotFoundError``).
        NotWatchedError: a package or path is in the standard library or site-packages, or is
            ``__main__`` or hotmod (a ``ValueError``).
        ArgumentTypeError: an argument has the wrong type (a ``TypeError``).

    Example:
        >>> import hotmod, json_helpers                        # doctest: +SKIP
        >>> r = hotmod.Reloader("json_helpers")                # doctest: +SKIP
        >>> print(r.reload("json_helpers"))                    # doctest: +SKIP
        reloaded json_helpers in 0.4 ms (changed: .../json_helpers.py)
    """

    def __init__(
        self,
        *packages: str,
        paths: Iterable[str | os.PathLike[str]] = (),
        eager: bool = True,
        debounce: float = 0.05,
        polling: bool = False,
        on_reload: OnReload | None = None,
        background: bool = True,
        adapters: Sequence[Adapter[Any]] | None = None,
        patch: bool = True,
    ) -> None:
        given: object = paths  # checked at run time: callers pass anything
        if isinstance(paths, (str, os.PathLike)):
            paths = (paths,)
        elif isinstance(given, (bytes, bytearray)) or not isinstance(given, Iterable):
            raise ArgumentTypeError(
                "paths must be a list of folders or files (str or os.PathLike), not "
                f"{type(given).__name__}: {given!r}; e.g. paths=['src/myapp']"
            )
        if not packages and not paths:
            raise ArgumentTypeError(
                "Reloader() needs at least one package name, e.g. Reloader('myapp'), "
                "or paths=[folder]"
            )
        flags = (
            ("eager", eager),
            ("polling", polling),
            ("background", background),
            ("patch", patch),
        )
        for flag, value in flags:
            if not isinstance(value, bool):
                raise ArgumentTypeError(f"{flag} must be True or False, not {value!r}")
        if isinstance(debounce, bool) or not isinstance(debounce, (int, float)):
            raise ArgumentTypeError(f"debounce must be a number of seconds, not {debounce!r}")
        if not 0 <= debounce <= 60:
            raise NotWatchedError(
                str(debounce), f"debounce must be between 0 and 60 seconds, not {debounce!r}"
            )
        if on_reload is not None and not callable(on_reload):
            raise ArgumentTypeError(f"on_reload must be callable or None, not {on_reload!r}")
        self.eager = eager
        self.polling = _default_polling(polling)
        self.background = background
        self.patch = patch
        self.on_reload = on_reload
        self._adapters = check_adapters(adapters)
        self._live = live_modules()
        self._index = ModuleIndex(packages, paths, self._live)
        self.packages = self._index.packages
        self.paths = self._index.paths
        self._graph = ImportGraph()
        observe_imports()
        self._observed_at = 0  # position in the imports observed at run time (all, at first)
        # module with a module-level __getattr__ -> size of its globals at its last binding
        # scan: one whose globals grew since (a lazily imported attribute cached by its
        # __getattr__) is scanned again before the next plan.
        self._lazy_modules: dict[str, int] = {}
        # Changed sources whose imports are parsed when the graph is next consulted, so the
        # parse is not on the path from save to new code running.
        self._unparsed: dict[str, bytes] = {}
        # Modules re-executed whose globals are scanned for bound modules at the same time
        # (their module objects then: a later scan sees at least as much).
        self._unscanned: dict[str, None] = {}
        # The last few sources parsed that way, with what they import: the next edit of such a
        # file that leaves its imports alone (``same_imports``) is not parsed again.
        self._parsed: dict[str, tuple[bytes, bool, frozenset[str], frozenset[str]]] = {}
        self._last_plan: tuple[frozenset[str], int, list[tuple[str, ...]], list[str]] | None = None
        self._sources = SourceStore()
        self._imports: ImportCache  # loaded by _build_index
        self._codes = CodeCache()
        self._lock = threading.RLock()  # one reload at a time; guards graph/index/sources
        self._reloading = False
        self._state = State.CREATED
        self._state_lock = threading.Lock()
        self._watcher: Watcher | None = None
        self._thread: threading.Thread | None = None
        self._missing: set[str] = set()  # deleted (or renamed) module files, warned about
        self._twins_warned: set[str] = set()  # unwatched modules run from a watched file
        self._failed: dict[str, bytes] = {}  # path -> digest of the content that failed
        # watched files found empty -> when first found so: deferred (see _apply_paths)
        self._emptied: dict[str, float] = {}
        # Processes forked while running: the pipes the watcher's paths are copied into. In a
        # forked child, the pipe from the parent (its watcher's paths), read at check() or by
        # a reader thread (background=True), with a pipe to wake that thread at stop().
        self._children = Pipes()
        self._parent: ParentPipe | None = None
        self._parent_reader: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        # The paths the watcher (or the parent process) reported and when they are due.
        self._scheduler = Scheduler(float(debounce), self._children.send)
        # The index and the graph are built in a thread of their own, off the start-up path:
        # it holds the reloader's lock from before this returns until they are complete, so
        # whatever needs them (a reload, check(), the graph, a fork) waits for it, and only
        # then. What each module runs is judged by its file as stat here, however late the
        # thread gets to it. Built here when a reload is executing (hotmod.watch() called by
        # re-executed code judges by what that reload runs) or few modules are loaded.
        self._builder: threading.Thread | None = None
        stats = self._index.stat_files(self._live)
        if len(stats) < _BUILD_IN_THREAD_FROM or LOADED.busy:
            with self._lock:
                self._build_index(stats)
        else:
            held = threading.Event()
            self._builder = threading.Thread(
                target=self._build_in_thread,
                args=(stats, held),
                name=f"hotmod-index-{'-'.join(self.packages)}",
                daemon=True,
            )
            with _builders_lock:
                _builders.add(self._builder)
            self._builder.start()
            held.wait()

    def _build_index(self, stats: dict[str, tuple[object, os.stat_result]]) -> None:
        started = time.perf_counter()
        # Import the adapters a reload would select now (with the index, off the start-up
        # path), not in the first reload: the first reload after start-up costs what a warm
        # one does. Before the index: it knows these imports, and does not look at all the
        # modules again at that reload.
        select_adapters(self._adapters)
        self._imports = ImportCache(self._index.roots, default_cache_dir())
        self._imports.before_save = _pending_flusher(self)
        self._refresh_index(force=True, stats=stats)
        self._imports.save()
        # What was imported meanwhile (the app goes on importing while the thread builds):
        # looked at now, not by the first reload.
        self._refresh_index()
        logger.debug(
            "indexed %d modules of %s in %.1f ms",
            len(self._index),
            ", ".join(self.packages) or ", ".join(map(str, self.paths)),
            (time.perf_counter() - started) * 1000,
        )

    def _build_in_thread(
        self, stats: dict[str, tuple[object, os.stat_result]], held: threading.Event
    ) -> None:
        try:
            with self._lock:
                held.set()
                # Let the thread that waits in Reloader() take the GIL and return now: else
                # it waits for the interpreter's switch interval (5 ms) or this build's I/O.
                time.sleep(0)
                try:
                    self._build_index(stats)
                    if self.patch:  # so a first reload compiles none for common signatures
                        prepare_templates()  # (under the lock: no reload competes with it)
                except Exception:  # a bug of hotmod: said, as the reloads may miss modules
                    logger.exception(
                        "building the index of %s failed: reloads may miss modules; restart, "
                        "and please report this",
                        ", ".join(self.packages) or ", ".join(map(str, self.paths)),
                    )
        finally:
            held.set()
            with self._state_lock:
                self._builder = None
                announce = self._state is State.RUNNING
            with _builders_lock:
                _builders.discard(threading.current_thread())
            if announce:
                self._log_watching()

    def _wait_built(self) -> None:
        """Wait for the index (see __init__): the thread building it holds the lock."""
        if self._builder is not None:
            with self._lock:
                pass

    # -- public API ------------------------------------------------------------------------

    @property
    def debounce(self) -> float:
        """Seconds without file events before an incomplete save is applied (a save known
        complete, by a close after writing or a rename into place, is applied at once)."""
        return self._scheduler.debounce

    @debounce.setter
    def debounce(self, value: float) -> None:
        self._scheduler.debounce = float(value)

    @property
    def _pending(self) -> bool:
        """Changes are waiting to be applied (safe points ask before they prepare for one).

        In a process forked from a watching one, first takes what the parent sent."""
        parent = self._parent
        if parent is not None and self._parent_reader is None:
            self._receive_from(parent)
        return bool(self._scheduler)

    @property
    def graph(self) -> ImportGraph:
        """The import graph of the watched modules (``dependencies()``, ``dependents()``)."""
        self._wait_built()
        if self._unparsed or self._unscanned or observed_count() != self._observed_at:
            with self._lock:
                self._parse_pending()
                self._add_observed()
        return self._graph

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._state is State.RUNNING

    @property
    def roots(self) -> tuple[Path, ...]:
        """The folders (and single files) the watcher observes."""
        return self._index.roots

    def __repr__(self) -> str:
        names = ", ".join(repr(p) for p in self.packages)
        size = "indexing" if self._builder is not None else f"{len(self._index)} modules"
        return f"<hotmod.Reloader({names}) {self._state.value}, {size}>"

    def reload(self, *targets: Target) -> ReloadResult:
        """Reload modules now, in the caller's thread, whether or not their files changed.

        Args:
            *targets: module names (``str``) or source file paths (``os.PathLike``) of watched
                modules. Their dependents among the watched modules are reloaded too.

        Returns:
            The ``ReloadResult``; a failure is reported in it (``error``, ``rolled_back``), not
            raised. A path that was never imported reloads nothing.

        Raises:
            NotWatchedError: a target is not a watched module (a ``ValueError``).
            ModuleNotFoundError: a name below a watched package names no module at all.
            ArgumentTypeError: a target is neither ``str`` nor ``os.PathLike``.
            KeyboardInterrupt: raised during the reload, after rolling it back.
        """
        with self._lock:
            self._refresh_index()
            names: dict[str, Path] = {}
            for target in targets:
                for name in self._resolve_target(target):
                    record = self._index.get(name)
                    assert record is not None
                    names[name] = Path(record.path)
            sources: dict[str, tuple[bytes, SourceVersion]] = {}
            read: dict[Path, tuple[bytes, SourceVersion]] = {}  # a file of two modules: once
            changed = tuple(dict.fromkeys(names.values()))
            for name, path in names.items():
                try:
                    found = read.get(path) or read_source(str(path))
                except OSError as exc:
                    return self._finish(ReloadResult(changed=changed, error=exc))
                sources[name] = read[path] = found
                self._missing.discard(str(path))
            return self._reload(sources, changed, raise_interrupt=True)

    def check(self) -> ReloadResult | None:
        """Apply, in the caller's thread, every change the watcher has seen and not applied.

        Does not wait for the debounce, except while a file is still being written (an
        in-place save truncated it and has not closed it yet: executing it would run a partial
        or empty module): such changes stay pending until the file is closed, or the debounce
        passed since its last event. Returns None when nothing is pending or ready (or every
        pending change turned out to be a no-op save), else the ``ReloadResult``.
        """
        if not self._pending:
            return None
        return self._apply_pending(raise_interrupt=True, written=True)

    def _wait_due(self, timeout: float | None = None) -> bool:
        """Block until pending changes are due (True: call ``check()`` now), or until ``stop()``
        or ``timeout`` seconds (False). Applies nothing itself.

        For a safe point that has nothing else to wait for (the dev servers' browser event
        stream, which runs no user code). In a process forked from a watching one it waits for
        the parent's pipe. Never hot: every wait blocks.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            parent = self._parent
            if parent is None or self._parent_reader is not None or self._scheduler:
                return self._scheduler.wait_due(remaining)
            try:  # a forked child without a reader thread: the parent's paths come from here
                ready, _, _ = select.select([parent.fd], [], [], remaining)
            except (OSError, ValueError):  # closed meanwhile: the parent is gone
                ready = [parent.fd]
            if not ready:
                return False
            if self._parent is parent:
                self._receive_from(parent)
        return False

    def start(self) -> Self:
        """Start watching (and, with ``background=True``, reloading in a background thread).

        Raises:
            ReloaderStateError: the reloader is already running.
        """
        with self._state_lock:
            if self._state is State.RUNNING:
                raise ReloaderStateError(
                    f"{self!r} is already running; call stop() before starting it again"
                )
            self._start_watcher()
            self._scheduler.restart()
            # Files may have changed while nothing watched them (before this start, or since a
            # stop()): compare each with the version its module was loaded from, as after an
            # event queue overflow. Read when applied, so nothing falls between it and the
            # watcher's first event. Due at once (no save is known to be under way).
            self._scheduler.add([(RESCAN_ALL, True)])
            if self.background:
                self._thread = self._start_thread(self._apply_loop, "reloader")
            self._state = State.RUNNING
            track(self)
            announce = self._builder is None  # else the thread building the index says it
        if announce:
            self._log_watching()
        return self

    def _log_watching(self) -> None:
        logger.info(
            "watching %s (%d modules, %s%s)",
            ", ".join(self.packages) or ", ".join(map(str, self.paths)),
            len(self._index),
            "polling" if self.polling else "native events",
            "" if self.background else ", applied at check()",
        )

    def stop(self) -> None:
        """Stop watching and join the background thread; idempotent.

        No background reload starts after it returns (one already running finishes first).
        """
        with self._state_lock:
            if self._state is not State.RUNNING:
                return
            self._state = State.STOPPED
            untrack(self)
            watcher, self._watcher = self._watcher, None
            threads = [self._thread, self._parent_reader]
            self._thread = self._parent_reader = None
        self._scheduler.stop()
        with self._scheduler.lock:
            self._children.close()  # forked children see the end and watch for themselves
        if self._wake is not None:
            os.write(self._wake[1], b"x")
        if watcher is not None:
            watcher.stop()
        for thread in threads:
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        if self._parent is not None:
            self._parent.close()
            self._parent = None
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        logger.debug("stopped watching %s", ", ".join(self.packages))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_watcher(self) -> None:
        from hotmod._watcher import Watcher

        watcher = Watcher(
            self._index.roots,
            self._on_events,
            polling=self.polling,
            on_overflow=self._on_overflow,
        )
        watcher.start()
        self._watcher = watcher
        self.polling = watcher.polling

    def _start_thread(self, target: Callable[[], None], role: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"hotmod-{role}-{'-'.join(self.packages)}")
        thread.daemon = True
        thread.start()
        return thread

    # -- processes forked while running (hotmod._fork calls these around os.fork()) ---------

    def _before_fork(self) -> None:
        # No reload half-applied and no event half-delivered in the child's copy of memory.
        self._lock.acquire()
        self._scheduler.lock.acquire()
        self._children.open()

    def _after_fork_in_parent(self) -> None:
        self._children.forked_parent()
        self._scheduler.lock.release()
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        """The watcher's and the reloader's threads exist only in the parent: this process
        gets the parent's paths through a pipe instead, and applies them at check() or, with
        ``background=True``, in threads of its own."""
        self._parent = self._children.forked_child()
        self._state_lock = threading.Lock()  # may have been held by another thread
        self._watcher = None  # the parent's: never stopped from here
        self._thread = self._parent_reader = None
        self._wake = None
        self._scheduler.lock.release()
        self._lock.release()
        if self._parent is None:  # not forked by the hook's fork: watch for ourselves
            self._start_watcher()
        if self.background:
            if self._parent is not None:
                self._wake = os.pipe()
                self._parent_reader = self._start_thread(self._read_parent, "fork-reader")
            self._thread = self._start_thread(self._apply_loop, "reloader")
        logger.debug("forked (pid %d): changes come from the parent process", os.getpid())

    def _receive_from(self, parent: ParentPipe) -> None:
        paths = parent.receive()
        if paths is None:
            self._parent_gone()
        elif paths:
            self._scheduler.add(paths)

    def _parent_gone(self) -> None:
        """The parent stopped watching or exited: this process watches the files itself, and
        compares them all (a change may have been in flight)."""
        with self._state_lock:
            self._parent = None
            if self._state is not State.RUNNING or self._scheduler.stopping:
                return
            logger.info(
                "the process this one was forked from stopped watching; watching %s here",
                ", ".join(self.packages) or ", ".join(map(str, self.paths)),
            )
            self._start_watcher()
        self._scheduler.add([(RESCAN_ALL, False)])

    def _read_parent(self) -> None:
        """Thread of a forked child with ``background=True``: hand the parent's paths on."""
        parent, wake = self._parent, self._wake
        assert parent is not None
        assert wake is not None
        while not self._scheduler.stopping:
            ready, _, _ = select.select([parent.fd, wake[0]], [], [])
            if wake[0] in ready or self._scheduler.stopping:
                return
            self._receive_from(parent)
            if self._parent is None:
                return

    # -- targets ---------------------------------------------------------------------------

    def _resolve_target(self, target: object) -> tuple[str, ...]:
        """The watched modules ``target`` names (a path: every module loaded from it)."""
        if isinstance(target, str):
            if target in self._index:
                return (target,)
            if not self._index.covers_name(target):
                raise self._not_watched_name(target)
            module = get_module(target)
            if module is not None:
                # Imported since the index last looked, with the dict's size unchanged?
                self._refresh_index(force=True)
                if target in self._index:
                    return (target,)
                if not issubclass(type(module), ModuleType):
                    raise NotWatchedError(
                        target,
                        f"{target!r} is a {type(module).__name__} object, not a module: its "
                        "module put it in its own place (sys.modules[__name__] = ...) and "
                        "hotmod cannot tell which file created it; define the object's class "
                        "in that module, or keep the module in sys.modules and give it the "
                        "object as an attribute (a module __getattr__, PEP 562, for lazy ones)",
                    )
                raise NotWatchedError(
                    target,
                    f"{target!r} is not Python source hotmod can re-execute (a namespace "
                    "package, C extension or module without a file); reload a .py module",
                )
            try:
                # Never importlib.util.find_spec: it imports (runs) the parent packages.
                spec = find_spec_quietly(target, self._live)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                raise ModuleNotFoundError(
                    f"No module named {target!r}: check the name of the module to reload",
                    name=target,
                )
            logger.info("%s was never imported: nothing to reload", target)
            return ()
        if isinstance(target, os.PathLike):
            path = os.fspath(target)
            if not isinstance(path, str):
                raise ArgumentTypeError(f"paths must be text paths, not {path!r}")
            found = self._index.modules_for_path(path)
            if found:
                return found
            if not self._index.covers_path(path):
                if self._index.is_system_path(self._index.real_path(path)):
                    raise NotWatchedError(path, f"{path} {_SYSTEM_CODE}")
                raise NotWatchedError(
                    path,
                    f"{path} is outside the watched packages and paths "
                    f"({', '.join(map(str, self.roots))}); watch its folder with paths=[...]",
                )
            if os.path.isdir(path):
                raise NotWatchedError(
                    path,
                    f"{path} is a folder; pass the path of a module's .py file (a package's is "
                    "its __init__.py) or the module's name",
                )
            if not path.endswith(".py"):
                raise NotWatchedError(
                    path,
                    f"{path} is not a Python source file (.py); pass the path of a module's "
                    ".py file or the module's name",
                )
            self._refresh_index(force=True)
            found = self._index.modules_for_path(path)
            if not found:
                if not os.path.exists(path):
                    raise NotWatchedError(
                        path,
                        f"{path} does not exist; check the path, or pass the module's name",
                    )
                logger.info("%s was never imported: nothing to reload", path)
            return found
        raise ArgumentTypeError(
            "reload() takes module names (str) or file paths (os.PathLike), "
            f"not {type(target).__name__}: {target!r}"
        )

    def _not_watched_name(self, target: str) -> NotWatchedError:
        """The error for a name outside the watched packages, with advice that can work."""
        if target in {"__main__", "hotmod"} or target.startswith("hotmod."):
            return NotWatchedError(
                target,
                f"{target!r} is never reloaded (hotmod re-executes neither the running script "
                "nor itself); move the code to reload into a module of the watched packages",
            )
        if target.endswith(".py") or "/" in target or os.sep in target:
            return NotWatchedError(
                target,
                f"{target!r} is not a module name; pass the module's dotted name (e.g. "
                f"'myapp.views'), or a file path as a pathlib.Path",
            )
        try:
            spec = find_spec_quietly(target, self._live)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            origin = spec.origin if spec.has_location else None
            if not isinstance(origin, str) or self._index.is_system_path(
                self._index.real_path(origin)
            ):
                return NotWatchedError(target, f"{target!r} {_SYSTEM_CODE}")
        return NotWatchedError(
            target,
            f"{target!r} is not in the watched packages ({', '.join(self.packages)}); "
            "pass a module of those packages, or watch its package too",
        )

    # -- reloading -------------------------------------------------------------------------

    def _reload(
        self,
        sources: dict[str, tuple[bytes, SourceVersion]],
        changed: tuple[Path, ...],
        *,
        raise_interrupt: bool,
    ) -> ReloadResult:
        started = time.perf_counter()
        if self._reloading:
            return self._finish(
                ReloadResult(
                    changed=changed,
                    error=ReloaderStateError(
                        "a reload was requested from code that runs during a reload "
                        f"(of {', '.join(sources) or 'nothing'}); it was not applied: request "
                        "it after the current reload returns"
                    ),
                )
            )
        if not sources:
            return self._finish(ReloadResult(changed=changed))
        self._reloading = True
        interrupt: KeyboardInterrupt | None = None
        try:
            plan, skipped = self._plan(frozenset(sources))
            for name in skipped:
                if self._is_skipped(name):  # the others lost their file: warned about
                    self._log_skipped(name, sources)
            adapters = select_adapters(self._adapters)
            transaction = Transaction(
                plan,
                changed={name: data for name, (data, _) in sources.items()},
                code_cache=self._codes,
                version_of=self._loaded_version,
                eager=self.eager,
                is_watched=lambda name, module: self._index.record_for(name, module) is not None,
                adapters=AdapterRun(adapters) if adapters else None,
                # IPython's %autoreload patches modules in place from edited files: with it
                # loaded, an unchanged dependent's file is checked before its code is reused
                verify_files=_AUTORELOAD in self._live,
                patch=self.patch,
            )
            executing = {
                name: (record.path, version)
                for name, (_, version) in sources.items()
                if (record := self._index.get(name)) is not None
            }
            try:
                with LOADED.executing(executing):
                    outcome = transaction.run()
            except KeyboardInterrupt as exc:
                interrupt = exc
                result = ReloadResult(
                    changed=changed,
                    error=exc,
                    rolled_back=True,
                    duration=time.perf_counter() - started,
                )
            else:
                if outcome.error is not None:
                    # The failed edits stay on disk: a later reload that re-executes these
                    # modules as dependents must compile their files as they are now, not
                    # run the cached code of the version they were rolled back to.
                    for name, (_, version) in sources.items():
                        self._codes.forget(name)
                        record = self._index.get(name)
                        if record is not None:
                            self._failed[record.path] = version.digest
                else:
                    for name in (*sources, *transaction.newer_files):
                        record = self._index.get(name)
                        if record is not None:
                            self._failed.pop(record.path, None)
                    self._commit(sources, transaction, outcome)
                    self._resequence(outcome.completed)
                result = ReloadResult(
                    changed=changed,
                    evicted=outcome.evicted,
                    reloaded=outcome.reloaded,
                    error=outcome.error,
                    rolled_back=outcome.rolled_back,
                    duration=time.perf_counter() - started,
                    patched=outcome.patched,
                )
        finally:
            self._reloading = False
        self._finish(result)
        if interrupt is not None and raise_interrupt:
            raise interrupt
        return result

    def _commit(
        self,
        sources: dict[str, tuple[bytes, SourceVersion]],
        transaction: Transaction,
        outcome: Outcome,
    ) -> None:
        """Bring index, graph, sources and code cache in step with the modules now running.

        Only changed and newly imported modules are parsed and scanned again: a dependent
        re-executed from unchanged source binds the same modules as before.
        """
        compiled, newer_files = transaction.compiled, transaction.newer_files
        imported = outcome.imported
        evicted = () if self.eager else outcome.evicted
        for name, (data, version) in sources.items():
            record = self._index.get(name)
            if record is None:
                continue
            self._warn_twins(record)
            self._sources.set_loaded(record.path, version)
            module = self._live.get(name)
            LOADED.record(name, module, record.path, version)
            code = compiled.get(name)
            if code is None:
                self._codes.forget(name)
            else:
                self._codes.put(name, code, module)
            self._unparsed[name] = data
        for name, code in transaction.served.items():
            # Re-imported by the import system under a new spec (another module's import of it
            # ran first): the same code and file version, which the caches must know by it.
            record = self._index.get(name)
            if name in sources or name in newer_files or record is None:
                continue
            module = self._live.get(name)
            self._codes.put(name, code, module)
            kept = self._sources.loaded(record.path)
            if kept is not None:
                LOADED.record(name, module, record.path, kept)
        for name, code in newer_files.items():
            # A dependent ran its file as it is now (an edit not applied yet): that is the
            # version loaded from now on.
            record = self._index.get(name)
            if record is None:
                continue
            try:
                data, version = read_source(record.path)
            except OSError:
                continue
            self._sources.set_loaded(record.path, version)
            module = self._live.get(name)
            LOADED.record(name, module, record.path, version)
            self._codes.put(name, code, module)
            self._unparsed[name] = data
        # Only what this reload imported for the first time, or (lazy) evicted, changed the
        # index: look at those names, not at every loaded module.
        self._refresh_index(names=(*imported, *evicted))
        self._unscanned.update(dict.fromkeys((*sources, *imported, *newer_files)))

    def _resequence(self, completed: tuple[str, ...]) -> None:
        """Keep the graph's module order the order in which imports completed: when this
        reload's imports completed in another order than the modules had (a module the new
        code imported for the first time completed inside an older one, e.g. as a new member
        of a cycle), they are renumbered, so the next reload enters each cycle the way this
        one did. Nothing changes (the graph version included) when the order held."""
        index = self._index
        seqs = [record.seq for name in completed if (record := index.get(name)) is not None]
        if any(later <= earlier for earlier, later in itertools.pairwise(seqs)):
            self._graph.renumber(index.resequence(completed))

    def _loaded_version(self, name: str) -> StatKey | None:
        record = self._index.get(name)
        version = self._sources.loaded(record.path) if record is not None else None
        return version.key if version is not None else None

    def _plan(self, changed: frozenset[str]) -> tuple[list[tuple[str, ...]], list[str]]:
        """The graph's reload plan, reused while the graph and the skip marks are unchanged
        (saving the same file again is the common case)."""
        if (self._unparsed or self._unscanned) and not self._only_own_imports_pending(changed):
            self._parse_pending()
        self._add_observed()
        self._rescan_grown()
        cached = self._last_plan
        if (
            cached is not None
            and cached[0] == changed
            and cached[1] == self._graph.version
            and self._plan_still_holds(cached[2])
            and all(map(self._is_left_out, cached[3]))
        ):
            return cached[2], cached[3]
        self._parse_pending()  # (left pending above, when the cached plan is not reused)
        plan, skipped = self._graph.reload_plan(changed, stop=self._is_left_out)
        self._last_plan = (changed, self._graph.version, plan, skipped)
        return plan, skipped

    def _only_own_imports_pending(self, changed: frozenset[str]) -> bool:
        """Whether the modules whose imports are not parsed (or bindings not scanned) yet
        cannot change the plan for ``changed``: the cached plan is the one module edited again
        (a module nothing imports), and it is the only one pending. What a module imports or
        binds decides what it depends on, never who depends on it, so its plan stays itself;
        its new imports are looked at when another plan or the graph needs them (``graph``),
        not at each save of that file."""
        cached = self._last_plan
        if cached is None or cached[0] != changed or cached[1] != self._graph.version:
            return False
        plan = cached[2]
        return (
            len(plan) == 1
            and len(plan[0]) == 1
            and self._unparsed.keys() <= changed
            and self._unscanned.keys() <= changed
            and observed_count() == self._observed_at  # no import seen that a parse explains
        )

    def _plan_still_holds(self, plan: list[tuple[str, ...]]) -> bool:
        """No module of a reused plan was marked ``__hotmod_skip__`` or lost its file since."""
        live, missing, code_of = self._live, self._missing, self._codes.cached
        for component in plan:
            for name in component:
                module = live.get(name)
                if type(module) is ModuleType:
                    namespace = module.__dict__
                    if namespace.get("__hotmod_skip__") is True or (
                        namespace.get("__hotmod_restart__") is True
                    ):
                        return False
                elif self._is_skipped(name):  # another object, or only in sys.modules
                    return False
                if (missing or code_of(name, module) is None) and self._is_gone(name):
                    return False
        return True

    def _is_left_out(self, name: str) -> bool:
        """Never re-executed: marked ``__hotmod_skip__``, or its file is gone. The modules that
        depend on a change only through it are left out too: it keeps what it imported."""
        return self._is_skipped(name) or self._is_gone(name)

    def _is_skipped(self, name: str) -> bool:
        """Marked ``__hotmod_skip__``, or ``__hotmod_restart__`` (only a restart applies its
        changes: ``hotmod run`` restarts, see ``_supervisor``)."""
        module = get_module(name)
        if module is None:
            return False
        namespace = self._globals(name, module)
        return namespace.get("__hotmod_skip__") is True or (
            namespace.get("__hotmod_restart__") is True
        )

    def _is_gone(self, name: str) -> bool:
        """Whether the file of a loaded watched module is gone (deleted, or renamed away).

        Costs no file access for a module whose code is in memory and whose file the watcher
        did not report deleted (re-executing it needs no file: it runs that code). Otherwise
        one ``stat``; a missing file is warned about once, a file that is back is forgotten.
        """
        record = self._index.get(name)
        if record is None:
            return False
        path = record.path
        if path not in self._missing and self._codes.cached(name, get_module(name)) is not None:
            return False
        if os.path.exists(path):
            self._missing.discard(path)
            return False
        self._warn_deleted(record)
        return True

    def _globals(self, name: str, module: object) -> dict[str, Any]:
        """A module's ``__dict__``; for an object that a module put in its own place, the
        globals of that module (what its ``__hotmod_*__`` hooks and imports are in)."""
        if issubclass(type(module), ModuleType):
            return module.__dict__
        return origin_namespace(name, module, all_modules()) or {}

    def _log_skipped(self, name: str, sources: Iterable[str]) -> None:
        module = get_module(name)
        if module is not None and self._globals(name, module).get("__hotmod_restart__") is True:
            (logger.info if _supervised else logger.warning)(
                "%s declares __hotmod_restart__ = True: %s in this process; only a restart "
                "applies it (%s)",
                name,
                "its change is not applied"
                if name in sources
                else "it is not re-executed for the reloaded modules it depends on",
                "the supervisor restarts the program"
                if _supervised
                else "`hotmod run` restarts by itself",
            )
            return
        if name in sources:
            logger.info("%s is marked __hotmod_skip__: its change is not applied", name)
        else:
            logger.info(
                "%s is marked __hotmod_skip__ and is not reloaded, but it depends on reloaded "
                "modules: its references to them stay old",
                name,
            )

    def _finish(self, result: ReloadResult) -> ReloadResult:
        global _applied
        if result.error is None:
            if result.reloaded or result.evicted:
                with _applied_lock:
                    _applied += 1
                logger.info("%s", result)
            else:
                logger.debug("%s", result)
        else:
            error = result.error  # logged from the user's first frame; the error is untouched
            logger.error("%s", result, exc_info=(type(error), error, user_traceback(error)))
        callback = self.on_reload
        if callback is not None:
            try:
                callback(result)
            except (Exception, SystemExit):
                logger.exception("on_reload callback %r raised; ignored", callback)
        return result

    # -- index -----------------------------------------------------------------------------

    def _refresh_index(
        self,
        *,
        force: bool = False,
        names: Iterable[str] | None = None,
        stats: dict[str, tuple[object, os.stat_result]] | None = None,
    ) -> None:
        """Index the modules imported since the last look (``stats``: their files' stat taken
        earlier, by ``ModuleIndex.stat_files``, for the module objects it names)."""
        modules = all_modules()  # with sys.modules rebound, what only it holds too
        added, removed = self._index.sync(modules, force=force, names=names)
        for name in removed:
            self._graph.remove_module(name)
            self._codes.forget(name)
            self._lazy_modules.pop(name, None)
            self._parsed.pop(name, None)
            LOADED.forget(name)
        if not added:
            return
        self._graph.add_modules({record.name: record.seq for record in added})
        cache = self._imports
        for record in added:
            # A file whose version the import cache knows is neither read nor parsed.
            module = modules.get(record.name)
            st: os.stat_result | None
            taken = stats.get(record.name) if stats is not None else None
            if taken is not None and taken[0] is module:
                st = taken[1]
            else:
                try:
                    st = os.stat(record.path)
                except OSError:
                    continue
            key = stat_key(st)
            entry = cache.get(record.path, key, record.name, record.is_package)
            data: bytes | None = None
            changed_since = False
            if entry is not None:
                version = SourceVersion(key, entry[2])
            else:
                try:
                    data, version = read_source(record.path)
                except OSError:
                    continue
                # read_source took its own stat (the version's). Not the one taken earlier:
                # the file changed since, so the module is not known to run what was read.
                changed_since = version.key != key
                st = None
            # An edit must never be taken for what is running: the loaded version is the one
            # recorded when hotmod (any Reloader) last loaded or saw this module, else the file
            # as it is now only when the evidence shows the module was imported from it. Else
            # it stays unknown, and the module reloads at start() or at its next event (at
            # worst once for nothing).
            loaded = LOADED.get(record.name, module, record.path)
            if (
                loaded is None
                and not changed_since
                and runs_current_file(record.name, module, record.path, data, st)
            ):
                loaded = version
                LOADED.record(record.name, module, record.path, version)
            if loaded is not None:
                self._sources.set_loaded(record.path, loaded)
            if entry is not None:
                self._graph.set_references(record.name, entry[3], at_call=entry[4], resolve=False)
            else:
                assert data is not None
                self._parse_into_graph(record, data, version)
        for record in added:
            module = modules.get(record.name)
            if module is not None:
                self._scan(record.name, module, resolve=False)
        # Each added module's edges once, from its references and bindings both.
        self._graph.resolve(record.name for record in added)

    def _scan(self, name: str, module: ModuleType, *, resolve: bool = True) -> None:
        namespace = self._globals(name, module)
        # PEP 562's module __getattr__, or a module object of a ModuleType subclass (the
        # older way to load attributes lazily, e.g. pygments.lexers)
        if "__getattr__" in namespace or type(module) is not ModuleType:
            self._lazy_modules[name] = len(namespace)
        else:
            self._lazy_modules.pop(name, None)
        self._graph.set_bindings(
            name, scan_bindings(namespace, name, self._graph.module_names), resolve=resolve
        )

    def _rescan_grown(self) -> None:
        """Scan again the lazy-loading modules (module ``__getattr__``, PEP 562) whose globals
        gained names since their last scan: what they import and cache on first access is a
        dependency too. Only those modules are looked at, so planning stays O(changed)."""
        live = self._live
        for name, size in list(self._lazy_modules.items()):
            module = live.get(name)
            if module is not None and len(self._globals(name, module)) != size:
                self._scan(name, module)

    def _add_observed(self) -> None:
        """Add to the graph the imports observed at run time since the last look."""
        pairs, self._observed_at = observed_since(self._observed_at)
        graph, index = self._graph, self._index
        for importer, imported in pairs:
            if (importer in graph or index.covers_name(importer)) and (
                imported in graph or index.covers_name(imported)
            ):
                graph.add_observed(importer, imported)

    def _flush_pending(self) -> None:
        """``_parse_pending`` unless a reload runs now (the import cache's save at exit: what
        is still pending is parsed at the next start instead)."""
        if (self._unparsed or self._unscanned) and self._lock.acquire(blocking=False):
            try:
                self._parse_pending()
            finally:
                self._lock.release()

    def _parse_pending(self) -> None:
        """Bring the graph in step with the modules the last reloads re-executed: the imports
        of their edited sources (``_unparsed``), the modules bound in their globals."""
        unparsed, self._unparsed = self._unparsed, {}
        for name, data in unparsed.items():
            record = self._index.get(name)
            if record is not None:
                version = self._sources.loaded(record.path)
                self._parse_into_graph(record, data, version, remember=True)
        unscanned, self._unscanned = self._unscanned, {}
        for name in unscanned:
            module = self._live.get(name)
            if module is not None and name in self._graph:
                self._scan(name, module)

    def _parse_into_graph(
        self,
        record: ModuleRecord,
        data: bytes,
        version: SourceVersion | None,
        *,
        remember: bool = False,
    ) -> None:
        """Parse ``data`` (the file's ``version``, kept in the import cache when known).

        ``remember``: an edited file's, kept with its imports in ``_parsed`` (the last few):
        the next version is parsed only when its edit may have changed them."""
        name, is_package = record.name, record.is_package
        last = self._parsed.pop(name, None) if remember else None
        if last is not None and last[1] == is_package and same_imports(last[0], data):
            refs, at_call = last[2], last[3]
        else:
            try:
                refs, at_call = parse_import_scopes(data, name, is_package=is_package)
            except ImportParseError as exc:
                logger.debug("%s; keeping its previous imports", exc)
                return
        if remember:
            self._parsed[name] = (data, is_package, refs, at_call)
            if len(self._parsed) > _PARSED_KEPT:
                del self._parsed[next(iter(self._parsed))]  # the least recently edited
        self._graph.set_references(name, refs, at_call=at_call)
        if version is not None:
            entry = (record.name, record.is_package, version.digest, tuple(refs), tuple(at_call))
            self._imports.put(record.path, version.key, entry)

    # -- watching --------------------------------------------------------------------------

    def _on_events(self, events: Sequence[FileEvent]) -> None:
        """Called from the watcher thread."""
        self._scheduler.add((str(event.path), event.complete) for event in events)

    def _on_overflow(self) -> None:
        """The event queue overflowed: any watched file may have changed. Compare them all."""
        logger.info(
            "file event queue overflowed; comparing %d watched files with what was loaded",
            len(self._index),
        )
        # Expanded by _apply_pending under the lock: this runs on the watcher thread, where
        # iterating the index would race with a reload adding or forgetting modules.
        self._scheduler.add([(RESCAN_ALL, False)])

    def _apply_loop(self) -> None:
        """Background thread: wait until the pending changes are due, apply them."""
        while self._scheduler.wait_due():
            if not self._lock_unless_stopping():
                return
            try:
                # written=True: due when wait_due() returned, but a save may have begun while
                # this thread waited for the lock (another reload, the index being built): a
                # file being written waits for its close or the debounce, as for check()
                self._apply_pending(raise_interrupt=False, written=True)
            except BaseException:  # the watcher thread must survive anything
                logger.exception("unexpected error while applying changes; still watching")
            finally:
                self._lock.release()

    def _lock_unless_stopping(self) -> bool:
        """Take the lock for the background thread; False (not taken) once stop() was called.

        Never waits for the lock unconditionally: stop() joins this thread and may be called by
        code holding the lock (module code or an on_reload callback of a reload in another
        thread).
        """
        while not self._lock.acquire(timeout=0.05):
            if self._scheduler.stopping:
                return False
        if self._scheduler.stopping:
            self._lock.release()
            return False
        return True

    def _apply_pending(
        self, *, raise_interrupt: bool, written: bool = False
    ) -> ReloadResult | None:
        with self._lock:
            paths = self._scheduler.take(written=written)
            if not paths:
                return None
            try:
                return self._apply_paths(paths, raise_interrupt=raise_interrupt)
            finally:
                self._scheduler.applied()

    def _apply_paths(self, paths: list[str], *, raise_interrupt: bool) -> ReloadResult | None:
        """Turn reported paths into changed sources (real edits of imported watched modules)
        and reload them."""
        self._refresh_index()
        reported = frozenset(paths)  # a rescan's unchanged files go unmentioned
        if RESCAN_ALL in paths:
            paths.remove(RESCAN_ALL)
            paths = list(dict.fromkeys([*paths, *(record.path for record in self._index)]))
        sources: dict[str, tuple[bytes, SourceVersion]] = {}
        changed: list[Path] = []
        rescanned = False
        for path in paths:
            names = self._index.modules_for_path(path)
            if not names and not rescanned and self._index.covers_path(path):
                # A module imported since the last look: find it before concluding the
                # file was never imported.
                self._refresh_index(force=True)
                rescanned = True
                names = self._index.modules_for_path(path)
            if not names:
                twins = self._index.unwatched_twins(self._index.real_path(path))
                if twins:
                    self._warn_unwatched(path, twins)
                else:
                    logger.debug("%s changed but was never imported: ignored", path)
                continue
            record = self._index.get(names[0])
            assert record is not None
            try:
                found = self._sources.changed(record.path)
            except FileNotFoundError:
                self._warn_deleted(record)
                continue
            except OSError as exc:
                logger.warning("cannot read %s (%s); not reloaded", record.path, exc)
                continue
            self._missing.discard(record.path)
            if found is None:
                if path in reported:
                    logger.debug("%s saved without a change: nothing to reload", path)
                continue
            if path not in reported and open_for_writing(record.path):
                # Found changed by a comparison of every file (at start(), after an overflow)
                # while a process has it open for writing: a save under way, perhaps half
                # written. Its close event (the watcher runs already) or the debounce applies it.
                self._scheduler.add([(record.path, False)], forward=False)
                logger.debug("%s is being written: applied once it is closed", path)
                continue
            if not found[0]:
                # An in-place save truncates the file, then writes it: read in between (the
                # debounce ran out while the writer stalled, or the last event handled was
                # an earlier save's close), it would run an empty module. The watcher never
                # calls an empty file complete, so nothing says when a file is emptied for
                # good: it is applied once it has stayed empty for max_delay(debounce), and
                # looked at again after each debounce until then.
                now = time.monotonic()
                since = self._emptied.setdefault(record.path, now)
                if now - since < max_delay(self._scheduler.debounce):
                    self._scheduler.add([(record.path, False)], forward=False)
                    if since == now:
                        logger.debug("%s is empty: applied if it stays so", path)
                    continue
            self._emptied.pop(record.path, None)
            if self._failed.get(record.path) == found[1].digest:
                # Another event for the content whose reload just failed (it was reported
                # once): tried again when it changes, or when a change re-executes it.
                logger.debug("%s is still the version that failed to reload", path)
                continue
            for name in names:  # a file imported under two names: both modules run it
                sources[name] = found
            changed.append(Path(record.path))
        if not sources:
            return None
        if self._reloading:
            # Asked by module code during a reload: _reload refuses; keep the changes.
            self._scheduler.add(((path, True) for path in paths), forward=False)
        return self._reload(sources, tuple(changed), raise_interrupt=raise_interrupt)

    def _warn_twins(self, record: ModuleRecord) -> None:
        """Modules loaded from ``record``'s file under a name that is not watched keep the old
        code, which a success message must not hide."""
        for twin in self._index.unwatched_twins(record.path):
            self._warn_unwatched_once(
                twin,
                "%s is also loaded as module %s, which is not watched: %s was reloaded, %s "
                "keeps running the old code; import the file under one name, or watch %s too",
                record.path, twin, record.name, twin, twin,
            )  # fmt: skip

    def _warn_unwatched(self, path: str, names: tuple[str, ...]) -> None:
        """A changed file below the watched folders runs only as modules that are not watched
        (loaded under a name outside the packages, e.g. by ``spec_from_file_location``):
        nothing reloads them."""
        for name in names:
            self._warn_unwatched_once(
                name,
                "%s changed, but it is loaded as module %s, which is not watched: %s keeps "
                "running the old code; watch %s too (Reloader(..., %r)), or restart",
                path, name, name, name, name,
            )  # fmt: skip

    def _warn_unwatched_once(self, name: str, message: str, *args: object) -> None:
        """One WARNING per unwatched module left running old code, for the Reloader's life."""
        if name not in self._twins_warned:
            self._twins_warned.add(name)
            logger.warning(message, *args)

    def _warn_deleted(self, record: ModuleRecord) -> None:
        if record.path in self._missing:
            return
        self._missing.add(record.path)
        importers = sorted(self._graph.importers(record.name))
        logger.warning(
            "%s was deleted or renamed; %s is kept loaded as it was%s, and is not re-executed "
            "until the file is back: its references to reloaded modules stay old",
            record.path,
            record.name,
            f" and still imported by {', '.join(importers)}" if importers else "",
        )
