"""Built-in adapters for what a module's top-level code leaves outside the module: logging
handlers and ``atexit`` functions. Without them each reload adds one more of each.

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
from types import FunctionType, ModuleType
from typing import Any

from hotmod._observed import executing_module
from hotmod.adapters._base import Adapter

__all__ = ["AtexitCallbacks", "LoggingHandlers"]

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
