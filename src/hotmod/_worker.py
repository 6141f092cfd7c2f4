"""Safe points for long-running workers: the ``reloading`` decorator and ``loop``.

A worker has natural moments at which no job is half done: the start of a call to its job
handler, or the step between two items of its job queue. Both APIs apply pending changes there,
in the caller's thread, using a Reloader started with ``background=False`` (its watcher only
records changes). Running code never changes under a call: a call in flight keeps the function
object, and so the module globals, it started with; the next call runs the newest definition.

``rebind`` (shared with the IPython extension) points names in a namespace that does not get
re-executed itself (``__main__``, a notebook) at the new objects after a reload.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import sys
import threading
from collections.abc import (
    AsyncGenerator,
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
)
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any, TypeVar, cast, overload

from hotmod import _api
from hotmod._api import watch
from hotmod._exceptions import ArgumentTypeError
from hotmod._reloader import Reloader
from hotmod._result import ReloadResult

__all__ = [
    "SharedReloader",
    "apply_pending",
    "default_package",
    "loop",
    "rebind",
    "reloading",
]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_MISSING: Any = object()

# > 0 while a @reloading call runs in this context: nested calls are not safe points.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("hotmod_reloading_depth", default=0)

# The attribute that marks a @reloading wrapper and holds the function it wraps.
WRAPPED_ATTR = "__hotmod_wrapped__"


# -- shared helpers ----------------------------------------------------------------------------


def default_package(module_name: str, what: str) -> str:
    """The top-level package of ``module_name``, resolving ``__main__`` through its spec.

    Args:
        module_name: a module's ``__name__``.
        what: the API asking, for the error message (e.g. ``"hotmod.loop()"``).

    Returns:
        The first component of the module's real name (``myapp`` for ``myapp.worker``).

    Raises:
        ArgumentTypeError: the module is a script (``__main__`` without a package), so there is
            no package to default to.
    """
    name = module_name
    if name == "__main__":
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        spec_name = getattr(spec, "name", None)
        if not isinstance(spec_name, str) or spec_name == "__main__":
            raise ArgumentTypeError(
                f"{what} is used in a script, which hotmod does not re-execute: name the "
                f"packages to watch, e.g. {what.removesuffix('()')}(..., 'myapp')"
            )
        name = spec_name
    return name.partition(".")[0]


def apply_pending(reloader: Reloader) -> ReloadResult | None:
    """``reloader.check()`` that never lets an unexpected hotmod error escape into user code.

    Errors of the reloaded code are already in the result (and logged by the reloader); only
    ``KeyboardInterrupt`` is re-raised, after the reload was rolled back.

    Args:
        reloader: a started Reloader, usually with ``background=False``.

    Returns:
        The ``ReloadResult`` of the reload attempt, or None when nothing was pending.
    """
    try:
        return reloader.check()
    except Exception:
        logger.exception("unexpected error while applying pending changes; still running")
        return None


class SharedReloader:
    """The Reloader of an adapter (decorator, loop, WSGI/ASGI app), kept current.

    It is obtained with ``watch(*packages, background=False, **options)``, so equal arguments
    share one Reloader and one watcher. ``watch()`` called later for the same packages with other
    options replaces (stops) that Reloader; the adapter then uses the Reloader ``watch()`` holds
    for those packages now, whatever its options, or obtains a new one if none is running: it
    never keeps watching with a stopped Reloader, and never ping-pongs between two.

    Args:
        packages: the package names to watch.
        options: keyword arguments of ``Reloader``; ``background`` is set to False.
    """

    def __init__(self, packages: tuple[str, ...], options: dict[str, Any]) -> None:
        self.packages = packages
        self.options = {**options, "background": False}
        self._reloader = self._obtain(fresh=True)

    def _obtain(self, *, fresh: bool) -> Reloader:
        if not fresh:
            current = _registered(self.packages)
            if current is not None:
                return current
        return watch(*self.packages, **self.options)

    @property
    def reloader(self) -> Reloader:
        """The running Reloader to use now."""
        reloader = self._reloader
        if not reloader.running:
            reloader = self._reloader = self._obtain(fresh=False)
            logger.debug("%s: using the Reloader started since (%r)", self.packages, reloader)
        return reloader

    def stop(self) -> None:
        """Stop the Reloader in use, unless it was replaced already (then it is someone
        else's to stop)."""
        self._reloader.stop()


def _registered(packages: tuple[str, ...]) -> Reloader | None:
    """The running Reloader ``watch()`` holds for ``packages``, whatever its options.

    Reads ``hotmod._api._registry`` (packages -> (Reloader, options key)); any other shape
    gives None, and the caller then calls ``watch()`` itself.
    """
    entry: object = getattr(_api, "_registry", {}).get(packages)
    if isinstance(entry, tuple) and entry:
        entry = entry[0]
    return entry if isinstance(entry, Reloader) and entry.running else None


def _lookup(module: object, qualname: str) -> Any:
    """Follow ``qualname`` through namespace dicts (no attribute hooks run), or ``_MISSING``."""
    if "<locals>" in qualname or _module_dict(module) is None:
        return _MISSING
    current: Any = module
    for part in qualname.split("."):
        namespace = getattr(current, "__dict__", None)
        if not isinstance(namespace, Mapping):
            return _MISSING
        current = namespace.get(part, _MISSING)
        if current is _MISSING:
            return _MISSING
    return current


# Read through the descriptors of ``type`` and ``ModuleType`` themselves: no attribute hook of
# a user object (a lazy object's ``__getattribute__``, a metaclass property) ever runs.
_MODULE_DICT: Any = vars(ModuleType)["__dict__"]
_CLASS_MODULE: Any = vars(type)["__module__"]
_CLASS_QUALNAME: Any = vars(type)["__qualname__"]

# Values of these types are constants that unrelated names share by accident: None, True,
# small ints, interned strings, the empty tuple, builtin functions. Only a name that held the
# very object under the same name in the old module (``from m import LIMIT``) follows them.
_SHARED_VALUE_TYPES: frozenset[type] = frozenset(
    {
        type(None),
        type(Ellipsis),
        type(NotImplemented),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        tuple,
        frozenset,
        range,
        BuiltinFunctionType,
    }
)


def _module_dict(value: object) -> dict[str, Any] | None:
    """The namespace of a real module object, else None (never touches other objects)."""
    if not issubclass(type(value), ModuleType):
        return None
    namespace = _MODULE_DICT.__get__(value)
    return namespace if type(namespace) is dict else None


def _defined_in(value: object) -> tuple[str, str] | None:
    """``(module, qualname)`` of a function or class, read without running user code."""
    kind = type(value)
    if kind is FunctionType:
        func = cast(FunctionType, value)
        owner, qualname = func.__module__, func.__qualname__
    elif issubclass(kind, type):
        owner, qualname = _CLASS_MODULE.__get__(value), _CLASS_QUALNAME.__get__(value)
    else:
        return None
    if type(owner) is str and type(qualname) is str:
        return owner, qualname
    return None


class _OldGlobals:
    """The globals of the old versions of the reloaded modules, looked up by identity.

    Built on first use, once per ``rebind`` call: ``find(value)`` is the new module's value
    for a name under which an old module held ``value`` (an alias: ``from m import n as foo``),
    for objects whose identity means something (see ``_SHARED_VALUE_TYPES``).
    """

    def __init__(self, reloaded: Collection[str], before: Mapping[str, object]) -> None:
        self._pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        live = sys.modules
        for name in reloaded:
            old, new = _module_dict(before.get(name)), _module_dict(live.get(name))
            if old is not None and new is not None and old is not new:
                self._pairs.append((old, new))
        self._by_id: dict[int, tuple[str, dict[str, Any]]] | None = None

    def same_name(self, key: str, value: object) -> Any:
        """The new value of ``key`` when an old module held ``value`` under ``key``."""
        for old, new in self._pairs:
            if old.get(key, _MISSING) is value:
                return new.get(key, _MISSING)
        return _MISSING

    def alias(self, value: object, reloaded: Collection[str]) -> Any:
        """The new value of the name under which an old module held ``value``."""
        if type(value) in _SHARED_VALUE_TYPES or _module_dict(value) is not None:
            return _MISSING
        defined = _defined_in(value)
        if defined is not None and defined[0] not in reloaded:
            return _MISSING  # a function or class of another module, reachable from here too
        if self._by_id is None:
            self._by_id = {}
            for old, new in self._pairs:
                for name, obj in old.items():
                    if not (name.startswith("__") and name.endswith("__")):
                        self._by_id.setdefault(id(obj), (name, new))
        found = self._by_id.get(id(value))
        if found is None:
            return _MISSING
        name, new = found
        return new.get(name, _MISSING)


def _replacement(
    key: str,
    value: object,
    reloaded: Collection[str],
    old_globals: _OldGlobals | None,
) -> Any:
    live = sys.modules
    namespace = _module_dict(value)
    if namespace is not None:
        name = namespace.get("__name__")
        if type(name) is str and name in reloaded:
            current = live.get(name)
            if current is not None:
                return current
        return _MISSING
    defined = _defined_in(value)
    if defined is not None and defined[0] in reloaded:
        found = _lookup(live.get(defined[0]), defined[1])
        if found is not _MISSING:
            return found
    if old_globals is not None:
        # ``from myapp.config import LIMIT``: same name, same object as in the old module;
        # ``from myapp.config import app as application``: same object, under another name.
        found = old_globals.same_name(key, value)
        if found is _MISSING:
            found = old_globals.alias(value, reloaded)
        return found
    return _MISSING


def rebind(
    namespace: MutableMapping[str, Any],
    reloaded: Collection[str],
    before: Mapping[str, ModuleType] | None = None,
) -> list[str]:
    """Point the names of ``namespace`` that hold objects of reloaded modules at the new ones.

    A name is re-bound when it holds

    - a reloaded module;
    - a function or class defined in a reloaded module, looked up again by ``__qualname__``
      (so ``from m import f as g`` works);
    - given ``before``: the very object the old module held under the same name (constants:
      ``from m import LIMIT``), or under another name (``from m import app as application``).
      The second rule never applies to values that unrelated names share by accident (None,
      booleans, numbers, strings, bytes, tuples, frozensets, builtin functions), nor to a
      function or class defined outside the reloaded modules.

    Objects the new module no longer defines keep their old value. Values are matched by type
    and identity only: no attribute of a user object is read, so lazy objects (Django's
    ``settings``) are never evaluated, and a name that cannot be handled is skipped without
    stopping the others.

    Args:
        namespace: the dict to update, e.g. ``globals()`` of ``__main__`` or a notebook's
            namespace.
        reloaded: names of the modules that were re-executed.
        before: the module dict as it was before the reload (``dict(sys.modules)``).

    Returns:
        The names that were re-bound, in namespace order.

    Example:
        >>> before = dict(sys.modules)                        # doctest: +SKIP
        >>> result = reloader.check()                         # doctest: +SKIP
        >>> rebind(globals(), result.reloaded, before)        # doctest: +SKIP
        ['handle']
    """
    if not reloaded:
        return []
    names = frozenset(reloaded)
    old_globals = None if before is None else _OldGlobals(names, before)
    changed: list[str] = []
    for key, value in list(namespace.items()):
        if type(key) is not str or (key.startswith("__") and key.endswith("__")):
            continue
        try:
            new = _replacement(key, value, names, old_globals)
            if new is not _MISSING and new is not value:
                namespace[key] = new
                changed.append(key)
        except Exception:  # one odd name must not keep the others stale
            logger.debug("cannot re-bind %r; it keeps its value", key, exc_info=True)
    return changed


def _apply_and_rebind(reloader: Reloader, namespace: MutableMapping[str, Any]) -> None:
    """Apply pending changes, then re-bind ``namespace``, unless it belongs to a reloaded
    module (the old copy of a reloaded module: its new copy already has the new names)."""
    if not reloader._pending:
        return  # (a change seen from now on waits for the next safe point)
    before = dict(sys.modules)  # the old modules, for constants and aliases
    result = apply_pending(reloader)
    if result is None or not result.ok or not result.reloaded:
        return
    if namespace.get("__name__") in result.reloaded:
        return
    names = rebind(namespace, result.reloaded, before)
    if names:
        logger.debug("re-bound %s in %s", ", ".join(names), namespace.get("__name__"))


# -- @reloading -------------------------------------------------------------------------------


class _Target:
    """The function a @reloading wrapper stands for, and its last good definition."""

    def __init__(self, func: Callable[..., Any], shared: SharedReloader) -> None:
        self.shared = shared
        self.module = func.__module__
        self.qualname = func.__qualname__
        self.last: Callable[..., Any] = func
        self._warned: object = None
        self._lock = threading.Lock()

    def safe_point(self) -> None:
        """Apply pending changes, unless a @reloading call is already running here."""
        if _depth.get():
            return
        globals_: Any = getattr(self.last, "__globals__", None)
        if isinstance(globals_, dict):
            _apply_and_rebind(self.shared.reloader, globals_)
        else:
            apply_pending(self.shared.reloader)

    def newest(self) -> Callable[..., Any]:
        """The function's current definition, unwrapped; the last good one if it vanished."""
        module = sys.modules.get(self.module)
        func = _unwrap(_lookup(module, self.qualname))
        if func is None:
            if module is not self._warned and "<locals>" not in self.qualname:
                self._warned = module
                logger.warning(
                    "%s.%s is no longer defined in the running %s; calls keep running its "
                    "last definition",
                    self.module,
                    self.qualname,
                    self.module,
                )
            return self.last
        if func is not self.last:
            with self._lock:
                self.last = func
        return func


def _unwrap(found: object) -> Callable[..., Any] | None:
    """The function behind a @reloading wrapper, whatever decorators sit above it.

    Follows ``__wrapped__`` (set by ``functools.wraps``; also on ``classmethod`` and
    ``staticmethod``) and ``__func__`` until a hotmod wrapper is found, so a call never runs the
    wrapper again (which would recurse). An object without a hotmod wrapper inside is returned
    as it is: the decorator was removed in the new source.
    """
    if found is _MISSING:
        return None
    current: object = found
    for _ in range(100):  # a __wrapped__ cycle must not hang the worker
        inner = getattr(current, WRAPPED_ATTR, None)
        if inner is not None:
            return inner if callable(inner) else None
        nxt = getattr(current, "__wrapped__", None) or getattr(current, "__func__", None)
        if nxt is None:
            break
        current = nxt
    if isinstance(found, (classmethod, staticmethod)):
        found = found.__func__
    return found if callable(found) else None


def _wrap(func: Callable[..., Any], target: _Target) -> Callable[..., Any]:
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(func):

        async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            target.safe_point()
            agen = target.newest()(*args, **kwargs)
            try:
                value = await agen.__anext__()
                while True:
                    try:
                        sent = yield value
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as exc:
                        value = await agen.athrow(exc)
                    else:
                        value = await agen.asend(sent)
            except StopAsyncIteration:
                return

        wrapper = agen_wrapper
    elif inspect.iscoroutinefunction(func):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            target.safe_point()
            token = _depth.set(_depth.get() + 1)
            try:
                return await target.newest()(*args, **kwargs)
            finally:
                _depth.reset(token)

        wrapper = async_wrapper
    elif inspect.isgeneratorfunction(func):

        def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            target.safe_point()
            return (yield from target.newest()(*args, **kwargs))

        wrapper = gen_wrapper
    else:

        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            target.safe_point()
            token = _depth.set(_depth.get() + 1)
            try:
                return target.newest()(*args, **kwargs)
            finally:
                _depth.reset(token)

        wrapper = sync_wrapper
    functools.update_wrapper(wrapper, func)
    setattr(wrapper, WRAPPED_ATTR, func)
    vars(wrapper)["__hotmod_shared__"] = target.shared
    return wrapper


@overload
def reloading(func: F, /) -> F: ...


@overload
def reloading(*packages: str, **options: Any) -> Callable[[F], F]: ...


def reloading(*packages: Any, **options: Any) -> Any:
    """Decorate a worker's function so that every call runs its newest code.

    Each call is a safe point: first the changes the watcher has seen are applied, in the
    caller's thread, then the function's current definition runs. It is looked up again by
    ``__qualname__`` in its (possibly re-executed) module, so a change to the function, or to
    any watched module it depends on, is seen by the next call. Plain functions, methods,
    ``async def`` functions and (async) generator functions are supported; a generator already
    running finishes with the code it started with.

    A broken edit (syntax error, exception at import time) is rolled back and logged once;
    calls keep running the last good definition. A call made from inside another decorated
    call is not a safe point (the outer call's code must not change under it). All functions
    decorated with equal arguments share one Reloader and one watcher thread, also when their
    module is re-executed.

    Args:
        *packages: names of the packages to watch; default: the top-level package of the
            decorated function's module. ``@hotmod.reloading`` without parentheses is the
            default form.
        **options: keyword arguments of ``Reloader`` (``paths``, ``eager``, ``polling``,
            ``on_reload``); ``background`` is always False.

    Returns:
        A decorator; the decorated function keeps its name, signature and kind (an
        ``async def`` function stays a coroutine function).

    Raises:
        ArgumentTypeError: no packages are given and the function is defined in a script.
        PackageNotFoundError: a package cannot be found.
        NotWatchedError: a package cannot be watched (standard library, site-packages).

    Example:
        >>> import hotmod                                     # doctest: +SKIP
        >>> @hotmod.reloading("myapp")                         # doctest: +SKIP
        ... def handle(job):
        ...     return myapp.jobs.process(job)
    """
    if len(packages) == 1 and callable(packages[0]) and not options:
        return reloading()(packages[0])
    for package in packages:
        if not isinstance(package, str):
            raise ArgumentTypeError(
                f"reloading() takes package names (str), not {type(package).__name__}: "
                f"{package!r}; use @hotmod.reloading('myapp') or @hotmod.reloading"
            )

    def decorate(func: F) -> F:
        if not callable(func):
            raise ArgumentTypeError(f"@reloading decorates functions, not {func!r}")
        if isinstance(func, (classmethod, staticmethod)):
            raise ArgumentTypeError(
                "put @hotmod.reloading below @classmethod/@staticmethod, directly on the function"
            )
        module_name: str = getattr(func, "__module__", None) or "__main__"
        watched = packages or (default_package(module_name, "hotmod.reloading()"),)
        shared = SharedReloader(tuple(watched), options)
        return _wrap(func, _Target(func, shared))  # type: ignore[return-value]

    return decorate


# -- loop ------------------------------------------------------------------------------------


def loop(iterable: Iterable[T], *packages: str, **options: Any) -> Iterator[T]:
    """Iterate over ``iterable``, applying pending changes before each item is handed out.

    For workers written as ``for job in queue:``. The changes are applied after the next item
    arrived (so a change saved while the worker waited is in place for that item) and before the
    loop body runs, in the loop's thread. Afterwards the names of the calling namespace that hold
    objects of reloaded modules are re-bound to the new ones (the rules of ``rebind``, with the
    modules as they were before the reload), so ``from myapp.jobs import handle`` or
    ``from myapp.config import LIMIT`` at the top of a worker script keeps working.

    Args:
        iterable: the items to process, e.g. ``iter(queue.get, None)`` or ``sys.stdin``.
        *packages: names of the packages to watch; default: the top-level package of the
            calling module.
        **options: keyword arguments of ``Reloader``; ``background`` is always False.

    Returns:
        An iterator over the items of ``iterable``.

    Raises:
        ArgumentTypeError: no packages are given and the caller is a script.
        PackageNotFoundError: a package cannot be found.
        NotWatchedError: a package cannot be watched.

    Example:
        >>> import hotmod                                     # doctest: +SKIP
        >>> for job in hotmod.loop(iter(jobs.get, None), "myapp"):  # doctest: +SKIP
        ...     handle(job)
    """
    for package in packages:
        if not isinstance(package, str):
            raise ArgumentTypeError(
                f"loop(iterable, *packages): packages are names (str), not {package!r}"
            )
    caller = sys._getframe(1).f_globals
    if not packages:
        packages = (default_package(str(caller.get("__name__", "__main__")), "hotmod.loop()"),)
    shared = SharedReloader(packages, options)
    return _loop(iter(iterable), shared, caller)


def _loop(items: Iterator[T], shared: SharedReloader, caller: dict[str, Any]) -> Iterator[T]:
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        _apply_and_rebind(shared.reloader, caller)
        yield item
