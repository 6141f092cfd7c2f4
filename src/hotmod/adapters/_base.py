"""The adapter interface, the registry of adapters, and one reload's run through them.

A reload calls every adapter taking part in it at three points, inside the transaction:

1. ``detach`` - after the new code compiled, before the planned modules are evicted;
2. ``commit`` - after every planned module re-executed (lazy mode: after the eviction);
3. ``restore`` - when the reload fails after ``detach`` returned (the modules are already back).

An adapter that raises in ``detach`` or ``commit`` fails the reload: every adapter whose
``detach`` returned is restored, in reverse order, and the modules are rolled back.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar, cast

from hotmod._exceptions import AdapterError, ArgumentTypeError
from hotmod._module_dict import live_modules

__all__ = ["Adapter", "AdapterRun", "builtin", "register", "select", "unregister"]

logger = logging.getLogger(__name__)

S = TypeVar("S")

# name -> (module, class) of the built-in adapters, each imported only when first used. The
# adapter's ``requires`` says when it takes part; a framework adapter's module may import its
# framework at the top, as it is only imported once the framework is: the name of a framework's
# adapter is the framework's top-level module, and ``select`` imports the adapter only once
# that module is imported.
_BUILTINS: dict[str, tuple[str, str]] = {
    "logging": ("hotmod.adapters._side_effects", "LoggingHandlers"),
    "atexit": ("hotmod.adapters._side_effects", "AtexitCallbacks"),
    "threading": ("hotmod.adapters._side_effects", "StartedThreads"),
    "typing": ("hotmod.adapters._caches", "TypingCaches"),
    "django": ("hotmod.adapters.django", "DjangoRegistries"),
    "pluggy": ("hotmod.adapters.pluggy", "PluggyPlugins"),
    "click": ("hotmod.adapters.click", "ClickCommands"),
    "typer": ("hotmod.adapters.typer", "TyperCommands"),
    "flask": ("hotmod.adapters.flask", "FlaskRoutes"),
    "starlette": ("hotmod.adapters.starlette", "StarletteRoutes"),
    "sqlalchemy": ("hotmod.adapters.sqlalchemy", "DeclarativeModels"),
    "celery": ("hotmod.adapters.celery", "CeleryTasks"),
}
_builtins: dict[str, Adapter[Any]] = {}
_registered: list[Adapter[Any]] = []


class Adapter(Generic[S]):
    """A registry outside the module dict (a framework's, or your own) taking part in reloads.

    Subclass it and override the phases you need; each receives the modules of the reload
    by name, in eviction order (dependents first). ``detach`` returns the state that
    ``commit`` or ``restore`` then receive (typed by the parameter ``S``; ``None`` by default).
    An adapter is shared by every Reloader: keep per-reload data in that state, not on
    ``self``.

    Attributes:
        name: shown in logs and errors; defaults to the class name.
        requires: the top-level module of the framework the adapter is for, e.g.
            ``"django"``: the adapter takes part only in reloads that happen while that
            module is imported (and costs nothing otherwise). None: always.

    Example:
        >>> import hotmod.adapters
        >>> class Announce(hotmod.adapters.Adapter[None]):
        ...     def commit(self, modules, state):
        ...         print("now running", ", ".join(modules))
        >>> hotmod.adapters.register(Announce())               # doctest: +SKIP
    """

    name: ClassVar[str] = ""
    requires: ClassVar[str | None] = None

    def detach(self, modules: Mapping[str, ModuleType]) -> S:
        """Before ``modules`` (the objects running now) are evicted: take out of the registry
        what they registered, and return what ``restore`` needs to put it back."""
        return cast(S, None)

    def commit(self, modules: Mapping[str, ModuleType], state: S) -> None:
        """After a successful reload: ``modules`` are the new module objects, now running
        (empty in lazy mode, where they re-execute at their next import). Clear caches
        derived from the old code here."""

    def restore(self, modules: Mapping[str, ModuleType], state: S) -> None:
        """The reload failed: ``modules`` (the old objects) are running again. Put the
        registry back exactly as it was before ``detach``, dropping what the failed attempt
        registered. Called after ``detach`` returned, also if ``commit`` already ran (another
        adapter's ``commit`` failed). Should not raise: an exception is logged and ignored."""


def _label(adapter: Adapter[Any]) -> str:
    return adapter.name or type(adapter).__name__


def register(adapter: Adapter[Any]) -> Adapter[Any]:
    """Make ``adapter`` take part in the reloads of every Reloader created with the default
    ``adapters=None``, after the built-in ones; registering it again does nothing.

    Returns:
        ``adapter``, so that ``ADAPTER = hotmod.adapters.register(MyAdapter())`` reads well.

    Raises:
        ArgumentTypeError: ``adapter`` is not an ``Adapter`` instance (a ``TypeError``).
    """
    _check(adapter, "register()")
    if adapter not in _registered:
        _registered.append(adapter)
    return adapter


def unregister(adapter: Adapter[Any]) -> None:
    """Stop ``adapter`` from taking part in reloads; does nothing if it is not registered."""
    if adapter in _registered:
        _registered.remove(adapter)


def builtin(name: str) -> Adapter[Any]:
    """The built-in adapter ``name``: ``"logging"`` (handlers added by a module's top-level
    code), ``"atexit"`` (functions it registered), ``"threading"`` (warns about threads still
    running replaced code), ``"typing"`` (its caches of generics, which
    would keep old classes alive), or a framework's (``"flask"``,
    ``"starlette"``, ``"click"``, ``"typer"``, ``"pluggy"``: see the README), to list in
    ``Reloader(adapters=[...])``.

    Raises:
        ValueError: no built-in adapter has that name.
    """
    adapter = _builtins.get(name)
    if adapter is None:
        try:
            module_name, class_name = _BUILTINS[name]
        except KeyError:
            raise ValueError(
                f"no built-in adapter named {name!r}; the built-in ones are "
                f"{', '.join(map(repr, _BUILTINS))}"
            ) from None
        adapter = getattr(importlib.import_module(module_name), class_name)()
        _builtins[name] = adapter
    return adapter


def _check(adapter: object, where: str) -> None:
    if not isinstance(adapter, Adapter):
        raise ArgumentTypeError(
            f"{where} takes hotmod.adapters.Adapter instances, not {type(adapter).__name__}: "
            f"{adapter!r}; subclass hotmod.adapters.Adapter and pass an instance"
        )


def check_adapters(adapters: object) -> tuple[Adapter[Any], ...] | None:
    """Validate a ``Reloader(adapters=...)`` argument: None, or a sequence of adapters."""
    if adapters is None:
        return None
    if isinstance(adapters, (str, bytes, Adapter)) or not isinstance(adapters, Sequence):
        raise ArgumentTypeError(
            "adapters must be None (the built-in and registered adapters) or a list of "
            f"hotmod.adapters.Adapter instances (() for none), not {adapters!r}"
        )
    for adapter in adapters:
        _check(adapter, "Reloader(adapters=...)")
    return tuple(adapters)


def select(adapters: tuple[Adapter[Any], ...] | None) -> list[Adapter[Any]]:
    """The adapters taking part in a reload now: ``adapters``, or (None) the built-in ones,
    then the registered ones; each only while the module it ``requires`` is imported."""
    live = live_modules()
    if adapters is None:
        # registered first: the built-ins' commit runs last, after every other can fail; a
        # framework's adapter is not even imported while its framework is not
        adapters = (*_registered, *(builtin(name) for name in _BUILTINS if name in live))
    return [a for a in adapters if a.requires is None or a.requires in live]


class AdapterRun:
    """One reload's calls of its adapters (what the transaction calls at its three points)."""

    def __init__(self, adapters: Sequence[Adapter[Any]]) -> None:
        self._adapters = adapters
        self._applied: list[tuple[Adapter[Any], object]] = []
        self._old: Mapping[str, ModuleType] = {}

    def detach(self, modules: Mapping[str, ModuleType]) -> None:
        """Phase 1. Raises ``AdapterError`` after restoring the adapters already detached."""
        self._old = modules
        for adapter in self._adapters:
            try:
                state = adapter.detach(modules)
            except BaseException as exc:
                self.restore()
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise AdapterError(_label(adapter), "detach", exc) from exc
            self._applied.append((adapter, state))

    def commit(self, modules: Mapping[str, ModuleType]) -> None:
        """Phase 2. Raises ``AdapterError``; the caller rolls back and calls ``restore``."""
        for adapter, state in self._applied:
            try:
                adapter.commit(modules, state)
            except (Exception, SystemExit) as exc:
                raise AdapterError(_label(adapter), "commit", exc) from exc
        self._applied.clear()

    def restore(self) -> None:
        """Phase 3, for every adapter detached so far, in reverse order; never raises
        (except ``KeyboardInterrupt``)."""
        applied, self._applied = self._applied, []
        for adapter, state in reversed(applied):
            try:
                adapter.restore(self._old, state)
            except (Exception, SystemExit):
                logger.exception(
                    "adapter %s raised while restoring its registry after a failed reload; "
                    "it may not match the modules running now",
                    _label(adapter),
                )
