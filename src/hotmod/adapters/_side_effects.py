"""Built-in adapters for what a module's top-level code leaves outside the module: logging
handlers and ``atexit`` functions (without them each reload adds one more of each), and the
threads it started, which nothing can stop safely: the ones still running the replaced code
are warned about.

What a module registered is known exactly from its first execution by hotmod on: while a
reload runs, ``logging.Logger.addHandler`` and ``atexit.register`` are wrapped, and a call is
attributed to the module whose top-level code makes it (the innermost module-level frame of
the calling thread; calls from other threads pass through unrecorded). For a module imported
without hotmod (before its first reload), the registrations found are the handlers held in
its globals or of a class it defines, and the functions it defines that are registered with
``atexit``.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import FrameType, FunctionType, MethodType, ModuleType
from typing import Any

from hotmod._observed import executing_module
from hotmod.adapters._base import Adapter

__all__ = ["AtexitCallbacks", "LoggingHandlers", "StartedThreads"]

logger = logging.getLogger("hotmod")

_Call = tuple[Any, ...]


class _Recorder:
    """Wraps ``owner.attr`` while at least one thread records; ``note(args)`` says what a
    call registered (or None), and the recording thread keeps it under the executing module."""

    def __init__(
        self, owner: Any, attr: str, note: Callable[[tuple[Any, ...], dict[str, Any]], _Call | None]
    ) -> None:
        self._owner = owner
        self._attr = attr
        self._note = note
        self._lock = threading.Lock()
        self._active: dict[int, dict[str, list[_Call]]] = {}  # thread -> module -> calls
        self._original: Any = None
        self._wrapper: Any = None

    def start(self) -> dict[str, list[_Call]]:
        calls: dict[str, list[_Call]] = {}
        with self._lock:
            if not self._active:
                original = self._original = getattr(self._owner, self._attr)
                active, note = self._active, self._note

                def wrapper(*args: Any, **kwargs: Any) -> Any:
                    recording = active.get(threading.get_ident())
                    noted = note(args, kwargs) if recording is not None else None
                    result = original(*args, **kwargs)
                    if noted is not None and recording is not None:
                        name = executing_module(sys._getframe(1))
                        if name is not None:
                            recording.setdefault(name, []).append(noted)
                    return result

                self._wrapper = wrapper
                setattr(self._owner, self._attr, wrapper)
            self._active[threading.get_ident()] = calls
        return calls

    def stop(self, calls: dict[str, list[_Call]]) -> None:
        with self._lock:
            for thread, recorded in list(self._active.items()):
                if recorded is calls:
                    del self._active[thread]
            if not self._active and self._wrapper is not None:
                # someone else wrapped it since: leave theirs (ours then records nothing)
                if getattr(self._owner, self._attr) is self._wrapper:
                    setattr(self._owner, self._attr, self._original)
                self._wrapper = None


class _State:
    # (a plain class: a dataclass costs a millisecond at the first Reloader())
    __slots__ = ("calls", "committed", "known", "removed", "unseen")

    def __init__(self, calls: dict[str, list[_Call]], known: dict[str, tuple[_Call, ...]]) -> None:
        self.calls = calls  # what the new code registered, by module
        self.known = known  # what the replaced modules had registered
        # replaced modules that hotmod never executed: what they registered is looked for at
        # commit (see AtexitCallbacks.commit)
        self.unseen: dict[str, object] = {}
        self.removed: list[_Call] = []  # taken out, to put back on restore
        self.committed: dict[str, tuple[_Call, ...] | None] | None = None  # _known before commit


class _Registrations(Adapter[_State]):
    """What each module's last execution by hotmod registered, and the recording of it."""

    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder
        # module -> what its last execution by hotmod registered (absent: never executed)
        self._known: dict[str, tuple[_Call, ...]] = {}

    def _start(self, known: dict[str, tuple[_Call, ...]]) -> _State:
        return _State(self._recorder.start(), known)

    def commit(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        self._recorder.stop(state.calls)
        self._drop_old(state)
        names = {*state.known, *modules, *state.calls}
        state.committed = {name: self._known.get(name) for name in names}
        for name in state.known:
            self._known.pop(name, None)
        for name in modules:
            self._known[name] = ()
        for name, calls in state.calls.items():
            self._known[name] = tuple(calls)

    def restore(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        self._recorder.stop(state.calls)
        self._put_back(state)
        for name, entries in (state.committed or {}).items():
            if entries is None:
                self._known.pop(name, None)
            else:
                self._known[name] = entries

    def _drop_old(self, state: _State) -> None:
        """At commit: take out what is still to be taken out of the old registrations."""

    def _put_back(self, state: _State) -> None:
        """At restore: remove the failed attempt's registrations, put back ``removed``."""


def _note_handler(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    if len(args) != 2 or kwargs:
        return None
    logger_, handler = args
    if not isinstance(logger_, logging.Logger) or handler in logger_.handlers:
        return None  # addHandler of a handler already there does nothing
    return (logger_, handler)


def _globals(module: object) -> dict[str, Any]:
    """The namespace of a module object, read without running any hook of its class (a lazy
    module, or an object a module put in its own place, is never evaluated); {} for an object
    that is not a module."""
    if not issubclass(type(module), ModuleType):
        return {}
    namespace: dict[str, Any] = object.__getattribute__(module, "__dict__")
    return namespace


def _loggers() -> Iterator[logging.Logger]:
    yield logging.getLogger()
    for candidate in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(candidate, logging.Logger):
            yield candidate


class LoggingHandlers(_Registrations):
    """Handlers that a replaced module's top-level code added to a logger are taken off
    before it re-executes (so ``if not log.handlers:`` guards see them gone), and put back
    on rollback, at their place in the logger's list."""

    name = "logging"
    requires = "logging"

    def __init__(self) -> None:
        super().__init__(_Recorder(logging.Logger, "addHandler", _note_handler))

    def detach(self, modules: Mapping[str, ModuleType]) -> _State:
        known = {name: self._known.get(name, ()) for name in modules}
        guess = {name: module for name, module in modules.items() if name not in self._known}
        if guess:
            known.update(self._guess(guess))
        state = self._start(known)
        for entries in known.values():
            for logger_, handler in entries:
                handlers = logger_.handlers
                if handler in handlers:
                    state.removed.append((logger_, handler, handlers.index(handler)))
                    logger_.removeHandler(handler)
        return state

    def _put_back(self, state: _State) -> None:
        for calls in state.calls.values():
            for logger_, handler in calls:
                logger_.removeHandler(handler)
        for logger_, handler, index in reversed(state.removed):
            if handler not in logger_.handlers:
                logger_.handlers.insert(index, handler)

    @staticmethod
    def _guess(modules: Mapping[str, ModuleType]) -> dict[str, tuple[_Call, ...]]:
        """Handlers of modules hotmod never executed: held in their globals, or of a class
        they define."""
        held: dict[int, str] = {}
        for name, module in modules.items():
            for value in list(_globals(module).values()):
                if issubclass(type(value), logging.Handler):  # type(): no hook of a lazy object
                    held[id(value)] = name
        found: dict[str, list[_Call]] = {}
        for logger_ in _loggers():
            for handler in list(logger_.handlers):
                owner = held.get(id(handler))
                if owner is None:
                    defined_in = type(handler).__module__
                    owner = defined_in if defined_in in modules else None
                if owner is not None:
                    found.setdefault(owner, []).append((logger_, handler))
        return {name: tuple(entries) for name, entries in found.items()}


def _note_exit_function(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    if not args:
        return None
    return (args[0], args[1:], kwargs)


def _ncallbacks() -> int:
    count: Callable[[], int] | None = getattr(atexit, "_ncallbacks", None)
    return count() if count is not None else -1


class AtexitCallbacks(_Registrations):
    """Functions that a replaced module's top-level code registered with ``atexit`` are
    unregistered once the new code ran (it registered its own); on rollback the failed
    attempt's registrations are unregistered and the old ones stay."""

    name = "atexit"
    requires = None

    def __init__(self) -> None:
        super().__init__(_Recorder(atexit, "register", _note_exit_function))

    def detach(self, modules: Mapping[str, ModuleType]) -> _State:
        known = {name: self._known.get(name, ()) for name in modules}
        state = self._start(known)
        # Never executed by hotmod: the functions it defines, unregistered if registered. Taken
        # at commit, not now: held here, every one of them would look held by someone to the
        # upgrade of old functions (hotmod._patch), which leaves alone those nothing holds.
        state.unseen = {name: module for name, module in modules.items() if name not in self._known}
        return state

    def commit(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        for name, old in state.unseen.items():
            new = _globals(modules[name]) if name in modules else {}
            state.known[name] = tuple(
                (value, None, None)  # arguments unknown
                for key, value in list(_globals(old).items())
                # (an old function nothing held is bound to the new one in the old module's
                # globals: atexit did not hold it, and the new one is not unregistered)
                if type(value) is FunctionType and value.__module__ == name
                and new.get(key) is not value
            )  # fmt: skip
        super().commit(modules, state)

    def _drop_old(self, state: _State) -> None:
        new = [call for calls in state.calls.values() for call in calls]
        for entries in state.known.values():
            for call in entries:
                function = call[0]
                before = _ncallbacks()
                atexit.unregister(function)
                if before != _ncallbacks():
                    state.removed.append(call)
                for again in new:  # unregister() removed equal new registrations too
                    if again[0] == function:
                        atexit.register(again[0], *again[1], **again[2])

    def _put_back(self, state: _State) -> None:
        new = [call for calls in state.calls.values() for call in calls]
        for function, _, _ in new:
            atexit.unregister(function)
        if state.committed is None:
            # nothing was unregistered but what unregister() took along with the new ones
            kept = [
                call
                for entries in state.known.values()
                for call in entries
                if call[1] is not None and any(call[0] == again[0] for again in new)
            ]
        else:
            kept, state.removed = state.removed, []
        for function, args, kwargs in kept:
            atexit.register(function, *(args or ()), **(kwargs or {}))


def _note_thread(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    thread = args[0] if args else None
    if not isinstance(thread, threading.Thread):
        return None
    # Not a thread that hotmod's own code starts (``hotmod.watch()`` in a module's code starts
    # a watcher, and its file observer): from the caller of Thread.start (past the recorder's
    # wrapper) out to the module's top-level code.
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_name != "<module>":
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and (name == "hotmod" or name.startswith("hotmod.")):
            return None
        frame = frame.f_back
    return (thread,)


def _runs(thread: threading.Thread) -> object:
    """What ``thread`` runs: its target (a ``Timer``'s function), else its class's ``run``;
    None once it is done (``Thread.run`` drops its target when it returns)."""
    target = getattr(thread, "_target", None)
    if target is None:
        target = getattr(thread, "function", None)  # threading.Timer
    if target is None and type(thread).run is not threading.Thread.run:
        target = type(thread).run
    return target


def _describe(target: object) -> str:
    function = target.__func__ if type(target) is MethodType else target
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return repr(target)


class _Threads:
    __slots__ = ("modules", "started")

    def __init__(self, modules: Mapping[str, ModuleType], started: dict[str, list[_Call]]) -> None:
        self.modules = modules  # the replaced versions
        self.started = started  # threads the new code started, by module


class StartedThreads(Adapter[_Threads]):
    """Threads that a replaced module started and that still run when its new version is
    live: hotmod cannot stop a thread, so each is warned about (WARNING, once), naming the
    thread, what it runs, whether the new version started another, and what to do.

    A thread counts as the replaced module's when that module's top-level code started it
    while hotmod executed it, or when it runs a function of the replaced version (its globals
    are the old module's), or, for a module hotmod never executed, when the thread or the
    object whose method it runs is held in the old module's globals. A module with a
    ``__hotmod_dispose__`` hook handles its threads itself: its are not looked at.

    The cost is in the number of threads, not of modules: a reload looks only at the threads
    running, except the first reload of modules imported without hotmod, which looks through
    their globals once if a thread is running that nothing else attributes."""

    name = "threading"
    requires = "threading"

    def __init__(self) -> None:
        self._recorder = _Recorder(threading.Thread, "start", _note_thread)
        self._started: dict[int, tuple[threading.Thread, str]] = {}  # by hotmod's executions
        self._seen: set[str] = set()  # modules hotmod executed

    def detach(self, modules: Mapping[str, ModuleType]) -> _Threads:
        return _Threads(modules, self._recorder.start())

    def commit(self, modules: Mapping[str, ModuleType], state: _Threads) -> None:
        self._recorder.stop(state.started)
        unseen = state.modules.keys() - self._seen
        self._seen.update(modules)
        replaced = state.modules
        earlier: dict[int, tuple[threading.Thread, str]] = {}
        started: dict[int, tuple[threading.Thread, str]] = {}
        for key, entry in self._started.items():
            if entry[1] in replaced:
                earlier[key] = entry
            elif entry[0].is_alive():
                started[key] = entry  # (an ended thread is forgotten)
        self._started = started
        for name, calls in state.started.items():
            for (thread,) in calls:
                started[id(thread)] = (thread, name)
        self._warn(state, earlier, unseen)

    def restore(self, modules: Mapping[str, ModuleType], state: _Threads) -> None:
        self._recorder.stop(state.started)
        for name, calls in state.started.items():
            for (thread,) in calls:
                if thread.is_alive():
                    logger.warning(
                        "thread %r (runs %s), started by the new code of %s before the reload "
                        "failed, keeps running that code: hotmod cannot stop a thread",
                        thread.name,
                        _describe(_runs(thread)),
                        name,
                    )

    def _warn(
        self,
        state: _Threads,
        earlier: dict[int, tuple[threading.Thread, str]],
        unseen: set[str],
    ) -> None:
        now = {id(call[0]) for calls in state.started.values() for call in calls}
        current, main = threading.current_thread(), threading.main_thread()
        old = state.modules
        found: list[tuple[threading.Thread, object, str, str]] = []
        others: list[tuple[threading.Thread, object]] = []
        for thread in threading.enumerate():
            if id(thread) in now or thread is current or thread is main:
                continue
            target = _runs(thread)
            function = target.__func__ if type(target) is MethodType else target
            entry = earlier.get(id(thread))
            if entry is not None and entry[0] is thread:
                found.append((thread, target, entry[1], "started by its top-level code"))
                continue
            namespace = getattr(function, "__globals__", None)
            name = namespace.get("__name__") if isinstance(namespace, dict) else None
            module = old.get(name) if isinstance(name, str) else None
            if isinstance(name, str) and module is not None and _globals(module) is namespace:
                found.append((thread, target, name, "a function of that version"))
            elif unseen and not _describe(target).startswith("hotmod."):
                others.append((thread, target))
        if others:
            found.extend(self._held(others, {name: old[name] for name in unseen}))
        for thread, target, owner, how in found:
            if callable(_globals(old[owner]).get("__hotmod_dispose__")):
                continue  # the module stops its threads itself
            runs = _describe(target)
            again = any(
                started.is_alive() and _describe(_runs(started)) == runs
                for (started,) in state.started.get(owner, ())
            )
            logger.warning(
                "thread %r, which runs %s (%s), still runs the replaced version of %s; %s. "
                "hotmod cannot stop a thread: stop and join it in %s's __hotmod_dispose__(), "
                "or set __hotmod_restart__ = True there to restart instead",
                thread.name,
                runs,
                how,
                owner,
                "the new version started another"
                if again
                else "the new version did not start it again",
                owner,
            )

    @staticmethod
    def _held(
        threads: list[tuple[threading.Thread, object]], modules: Mapping[str, ModuleType]
    ) -> Iterator[tuple[threading.Thread, object, str, str]]:
        """Of modules hotmod never executed: the threads held in their globals, or whose
        target is a method of an object held there (``server.serve_forever``)."""
        wanted: dict[int, tuple[threading.Thread, object]] = {}
        for thread, target in threads:
            wanted[id(thread)] = (thread, target)
            bound = getattr(target, "__self__", None)
            if bound is not None and type(bound) is not ModuleType:  # (a builtin's: its module)
                wanted.setdefault(id(bound), (thread, target))
        claimed: set[int] = set()
        for name, module in modules.items():
            for value in list(_globals(module).values()):
                pair = wanted.get(id(value))
                if pair is not None and id(pair[0]) not in claimed:
                    claimed.add(id(pair[0]))
                    yield pair[0], pair[1], name, "held in that version's globals"
