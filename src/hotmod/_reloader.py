"""The Reloader: composes the index, graph, sources, transaction and watcher, and owns the
lifecycle (created -> running -> stopped), the background thread and the debounce."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
from types import CodeType, ModuleType, TracebackType
from typing import TYPE_CHECKING

from typing_extensions import Self

from hotmod._binding_scan import scan_bindings
from hotmod._code_cache import CodeCache, StatKey
from hotmod._exceptions import ArgumentTypeError, NotWatchedError, ReloaderStateError
from hotmod._import_graph import ImportGraph
from hotmod._import_parser import ImportParseError, parse_import_scopes
from hotmod._module_dict import live_modules
from hotmod._module_index import ModuleIndex, ModuleRecord, find_spec_quietly
from hotmod._result import ReloadResult
from hotmod._sources import SourceStore, SourceVersion, read_source
from hotmod._transaction import Transaction

if TYPE_CHECKING:
    from hotmod._watcher import FileEvent, Watcher

__all__ = ["Reloader"]

logger = logging.getLogger("hotmod")

OnReload = Callable[[ReloadResult], object]

# A key of Reloader._pending standing for every watched file (after an event queue overflow).
_RESCAN_ALL = ""
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


def _max_delay(debounce: float) -> float:
    """Longest wait for a quiet moment: a file written without pause still reloads."""
    return max(10 * debounce, 0.5)


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
        for flag, value in (("eager", eager), ("polling", polling), ("background", background)):
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
        self.debounce = float(debounce)
        self.polling = _default_polling(polling)
        self.background = background
        self.on_reload = on_reload
        self._live = live_modules()
        self._index = ModuleIndex(packages, paths, self._live)
        self.packages = self._index.packages
        self.paths = self._index.paths
        self._graph = ImportGraph()
        # module with a module-level __getattr__ -> size of its globals at its last binding
        # scan: one whose globals grew since (a lazily imported attribute cached by its
        # __getattr__) is scanned again before the next plan.
        self._lazy_modules: dict[str, int] = {}
        # Changed sources whose imports are parsed when the graph is next consulted, so the
        # parse is not on the path from save to new code running.
        self._unparsed: dict[str, bytes] = {}
        self._last_plan: tuple[frozenset[str], int, list[tuple[str, ...]], list[str]] | None = None
        self._sources = SourceStore()
        self._codes = CodeCache()
        self._lock = threading.RLock()  # one reload at a time; guards graph/index/sources
        self._reloading = False
        self._state = State.CREATED
        self._state_lock = threading.Lock()
        self._watcher: Watcher | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: dict[str, None] = {}  # real paths the watcher reported, insertion order
        self._first_event = 0.0
        self._last_event = 0.0
        self._missing: set[str] = set()  # deleted module files already warned about
        self._stopping = False
        with self._lock:
            self._refresh_index(force=True, initial=True)

    # -- public API ------------------------------------------------------------------------

    @property
    def graph(self) -> ImportGraph:
        """The import graph of the watched modules (``dependencies()``, ``dependents()``)."""
        if self._unparsed:
            with self._lock:
                self._parse_pending()
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
        return f"<hotmod.Reloader({names}) {self._state.value}, {len(self._index)} modules>"

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
                name = self._resolve_target(target)
                if name is not None:
                    record = self._index.get(name)
                    assert record is not None
                    names[name] = Path(record.path)
            sources: dict[str, tuple[bytes, SourceVersion]] = {}
            for name, path in names.items():
                try:
                    sources[name] = read_source(str(path))
                except OSError as exc:
                    return self._finish(ReloadResult(changed=tuple(names.values()), error=exc))
            return self._reload(sources, tuple(names.values()), raise_interrupt=True)

    def check(self) -> ReloadResult | None:
        """Apply, in the caller's thread, every change the watcher has seen and not applied.

        Does not wait for the debounce. Returns None when nothing is pending (or every pending
        change turned out to be a no-op save), else the ``ReloadResult``.
        """
        if not self._pending:
            return None
        return self._apply_pending(raise_interrupt=True)

    def start(self) -> Self:
        """Start watching (and, with ``background=True``, reloading in a background thread).

        Raises:
            ReloaderStateError: the reloader is already running.
        """
        from hotmod._watcher import Watcher

        with self._state_lock:
            if self._state is State.RUNNING:
                raise ReloaderStateError(
                    f"{self!r} is already running; call stop() before starting it again"
                )
            watcher = Watcher(
                self._index.roots,
                self._on_events,
                polling=self.polling,
                on_overflow=self._on_overflow,
            )
            watcher.start()
            self._watcher = watcher
            self.polling = watcher.polling
            self._stopping = False
            if self.background:
                self._thread = threading.Thread(
                    target=self._apply_loop, name=f"hotmod-reloader-{'-'.join(self.packages)}"
                )
                self._thread.daemon = True
                self._thread.start()
            self._state = State.RUNNING
        logger.info(
            "watching %s (%d modules, %s%s)",
            ", ".join(self.packages) or ", ".join(map(str, self.paths)),
            len(self._index),
            "polling" if self.polling else "native events",
            "" if self.background else ", applied at check()",
        )
        return self

    def stop(self) -> None:
        """Stop watching and join the background thread; idempotent.

        No background reload starts after it returns (one already running finishes first).
        """
        with self._state_lock:
            if self._state is not State.RUNNING:
                return
            self._state = State.STOPPED
            watcher, self._watcher = self._watcher, None
            thread, self._thread = self._thread, None
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if watcher is not None:
            watcher.stop()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
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

    # -- targets ---------------------------------------------------------------------------

    def _resolve_target(self, target: object) -> str | None:
        if isinstance(target, str):
            if target in self._index:
                return target
            if not self._index.covers_name(target):
                raise self._not_watched_name(target)
            module = self._live.get(target)
            if module is not None:
                # Imported since the index last looked, with the dict's size unchanged?
                self._refresh_index(force=True)
                if target in self._index:
                    return target
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
            return None
        if isinstance(target, os.PathLike):
            path = os.fspath(target)
            if not isinstance(path, str):
                raise ArgumentTypeError(f"paths must be text paths, not {path!r}")
            name = self._index.module_for_path(path)
            if name is not None:
                return name
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
            name = self._index.module_for_path(path)
            if name is None:
                if not os.path.exists(path):
                    raise NotWatchedError(
                        path,
                        f"{path} does not exist; check the path, or pass the module's name",
                    )
                logger.info("%s was never imported: nothing to reload", path)
            return name
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
                self._log_skipped(name, sources)
            transaction = Transaction(
                plan,
                changed={name: data for name, (data, _) in sources.items()},
                code_cache=self._codes,
                version_of=self._loaded_version,
                eager=self.eager,
                is_watched=lambda name, module: self._index.record_for(name, module) is not None,
            )
            try:
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
                    for name in sources:
                        self._codes.forget(name)
                else:
                    self._commit(
                        sources,
                        transaction.compiled,
                        outcome.imported,
                        transaction.newer_files,
                        () if self.eager else outcome.evicted,
                    )
                result = ReloadResult(
                    changed=changed,
                    evicted=outcome.evicted,
                    reloaded=outcome.reloaded,
                    error=outcome.error,
                    rolled_back=outcome.rolled_back,
                    duration=time.perf_counter() - started,
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
        compiled: dict[str, CodeType],
        imported: tuple[str, ...],
        newer_files: dict[str, CodeType],
        evicted: tuple[str, ...],
    ) -> None:
        """Bring index, graph, sources and code cache in step with the modules now running.

        Only changed and newly imported modules are parsed and scanned again: a dependent
        re-executed from unchanged source binds the same modules as before.
        """
        for name, (data, version) in sources.items():
            record = self._index.get(name)
            if record is None:
                continue
            self._sources.set_loaded(record.path, version)
            code = compiled.get(name)
            if code is None:
                self._codes.forget(name)
            else:
                self._codes.put(name, code)
            self._unparsed[name] = data
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
            self._codes.put(name, code)
            self._unparsed[name] = data
        # Only what this reload imported for the first time, or (lazy) evicted, changed the
        # index: look at those names, not at every loaded module.
        self._refresh_index(names=(*imported, *evicted))
        for name in (*sources, *imported, *newer_files):
            module = self._live.get(name)
            if module is not None and name in self._graph:
                self._scan(name, module)

    def _loaded_version(self, name: str) -> StatKey | None:
        record = self._index.get(name)
        version = self._sources.loaded(record.path) if record is not None else None
        return version.key if version is not None else None

    def _plan(self, changed: frozenset[str]) -> tuple[list[tuple[str, ...]], list[str]]:
        """The graph's reload plan, reused while the graph and the skip marks are unchanged
        (saving the same file again is the common case)."""
        self._parse_pending()
        self._rescan_grown()
        cached = self._last_plan
        if cached is not None and cached[0] == changed and cached[1] == self._graph.version:
            live = self._live
            marks = [
                module.__dict__.get("__hotmod_skip__") is True
                for component in cached[2]
                for name in component
                if (module := live.get(name)) is not None
            ]
            if not any(marks) and all(self._is_skipped(name) for name in cached[3]):
                return cached[2], cached[3]
        plan, skipped = self._graph.reload_plan(changed, stop=self._is_skipped)
        self._last_plan = (changed, self._graph.version, plan, skipped)
        return plan, skipped

    def _is_skipped(self, name: str) -> bool:
        module = self._live.get(name)
        return module is not None and module.__dict__.get("__hotmod_skip__") is True

    def _log_skipped(self, name: str, sources: Iterable[str]) -> None:
        if name in sources:
            logger.info("%s is marked __hotmod_skip__: its change is not applied", name)
        else:
            logger.info(
                "%s is marked __hotmod_skip__ and is not reloaded, but it depends on reloaded "
                "modules: its references to them stay old",
                name,
            )

    def _finish(self, result: ReloadResult) -> ReloadResult:
        if result.error is None:
            if result.reloaded or result.evicted:
                logger.info("%s", result)
            else:
                logger.debug("%s", result)
        else:
            logger.error("%s", result, exc_info=result.error)
        callback = self.on_reload
        if callback is not None:
            try:
                callback(result)
            except (Exception, SystemExit):
                logger.exception("on_reload callback %r raised; ignored", callback)
        return result

    # -- index -----------------------------------------------------------------------------

    def _refresh_index(
        self, *, force: bool = False, names: Iterable[str] | None = None, initial: bool = False
    ) -> None:
        added, removed = self._index.sync(self._live, force=force, names=names)
        for name in removed:
            self._graph.remove_module(name)
            self._codes.forget(name)
            self._lazy_modules.pop(name, None)
        if not added:
            return
        self._graph.add_modules({record.name: record.seq for record in added})
        for record in added:
            try:
                data, version = read_source(record.path)
            except OSError:
                continue
            # The version a module was loaded from is only known for modules loaded before
            # the Reloader was created. One imported later may have been edited between its
            # import and now, and an edit must never be taken for what is running: its loaded
            # version stays unknown until its first change is applied (at worst one extra
            # reload, for a save that changed nothing).
            if initial:
                self._sources.set_loaded(record.path, version)
            self._parse_into_graph(record, data)
        for record in added:
            module = self._live.get(record.name)
            if module is not None:
                self._scan(record.name, module)

    def _scan(self, name: str, module: ModuleType) -> None:
        namespace = module.__dict__
        # PEP 562's module __getattr__, or a module object of a ModuleType subclass (the
        # older way to load attributes lazily, e.g. pygments.lexers)
        if "__getattr__" in namespace or type(module) is not ModuleType:
            self._lazy_modules[name] = len(namespace)
        else:
            self._lazy_modules.pop(name, None)
        self._graph.set_bindings(name, scan_bindings(namespace, name, self._graph))

    def _rescan_grown(self) -> None:
        """Scan again the lazy-loading modules (module ``__getattr__``, PEP 562) whose globals
        gained names since their last scan: what they import and cache on first access is a
        dependency too. Only those modules are looked at, so planning stays O(changed)."""
        live = self._live
        for name, size in list(self._lazy_modules.items()):
            module = live.get(name)
            if module is not None and len(module.__dict__) != size:
                self._scan(name, module)

    def _parse_pending(self) -> None:
        unparsed, self._unparsed = self._unparsed, {}
        for name, data in unparsed.items():
            record = self._index.get(name)
            if record is not None:
                self._parse_into_graph(record, data)

    def _parse_into_graph(self, record: ModuleRecord, data: bytes) -> None:
        try:
            refs, at_call = parse_import_scopes(data, record.name, is_package=record.is_package)
        except ImportParseError as exc:
            logger.debug("%s; keeping its previous imports", exc)
            return
        self._graph.set_references(record.name, refs, at_call=at_call)

    # -- watching --------------------------------------------------------------------------

    def _on_events(self, events: Sequence[FileEvent]) -> None:
        """Called from the watcher thread."""
        if not events:
            return
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            for event in events:
                self._pending[str(event.path)] = None
            self._last_event = now
            self._cond.notify_all()

    def _on_overflow(self) -> None:
        """The event queue overflowed: any watched file may have changed. Compare them all."""
        logger.info(
            "file event queue overflowed; comparing %d watched files with what was loaded",
            len(self._index),
        )
        # Expanded by _apply_pending under the lock: this runs on the watcher thread, where
        # iterating the index would race with a reload adding or forgetting modules.
        self._on_events_paths([_RESCAN_ALL])

    def _on_events_paths(self, paths: Iterable[str]) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            self._pending.update(dict.fromkeys(paths))
            self._last_event = now
            self._cond.notify_all()

    def _apply_loop(self) -> None:
        """Background thread: wait for events, let them settle, apply them."""
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                while not self._stopping:
                    now = time.monotonic()
                    wait = min(
                        self._last_event + self.debounce,
                        self._first_event + _max_delay(self.debounce),
                    )
                    if now >= wait:
                        break
                    self._cond.wait(wait - now)
                if self._stopping:
                    return
            if not self._lock_unless_stopping():
                return
            try:
                self._apply_pending(raise_interrupt=False)
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
            if self._stopping:
                return False
        if self._stopping:
            self._lock.release()
            return False
        return True

    def _apply_pending(self, *, raise_interrupt: bool) -> ReloadResult | None:
        with self._lock:
            with self._cond:
                paths, self._pending = list(self._pending), {}
            if not paths:
                return None
            return self._apply_paths(paths, raise_interrupt=raise_interrupt)

    def _apply_paths(self, paths: list[str], *, raise_interrupt: bool) -> ReloadResult | None:
        """Turn reported paths into changed sources (real edits of imported watched modules)
        and reload them."""
        self._refresh_index()
        if _RESCAN_ALL in paths:
            paths.remove(_RESCAN_ALL)
            paths = list(dict.fromkeys([*paths, *(record.path for record in self._index)]))
        sources: dict[str, tuple[bytes, SourceVersion]] = {}
        changed: list[Path] = []
        rescanned = False
        for path in paths:
            name = self._index.module_for_path(path)
            if name is None and not rescanned and self._index.covers_path(path):
                # A module imported since the last look: find it before concluding the
                # file was never imported.
                self._refresh_index(force=True)
                rescanned = True
                name = self._index.module_for_path(path)
            if name is None:
                logger.debug("%s changed but was never imported: ignored", path)
                continue
            record = self._index.get(name)
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
                logger.debug("%s saved without a change: nothing to reload", path)
                continue
            sources[name] = found
            changed.append(Path(record.path))
        if not sources:
            return None
        if self._reloading:
            # Asked by module code during a reload: _reload refuses; keep the changes.
            self._on_events_paths(paths)
        return self._reload(sources, tuple(changed), raise_interrupt=raise_interrupt)

    def _warn_deleted(self, record: ModuleRecord) -> None:
        if record.path in self._missing:
            return
        self._missing.add(record.path)
        importers = sorted(self._graph.importers(record.name))
        logger.warning(
            "%s was deleted; %s is kept loaded as it was%s",
            record.path,
            record.name,
            f" and still imported by {', '.join(importers)}" if importers else "",
        )
