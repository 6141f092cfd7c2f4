"""The class statements a transaction executes, and the registries their bases' hooks fill.

While a transaction re-executes modules, ``builtins.__build_class__`` is a hook for the thread
that runs it (other threads' class statements are untouched): before a class is built, the
registries a base's ``__init_subclass__`` may fill are copied (``SubclassRegistries``), and after
it is built, the Patcher may make the statement evaluate to the surviving class (``_patch``).

A base's ``__init_subclass__`` runs inside the class statement, so a re-executed module's
classes register themselves again (``REGISTRY[cls.__name__] = cls``, ``ALL.append(cls)``) in a
registry that outlives the module when the base's module is not re-executed. If the reload then
fails, the modules are put back, and so must these registries be: else a class only the failed
version defined, or the failed version's class, stays registered while the module that defined
it is the old one again. Where a hook registers is not known; the places looked at (the dicts,
lists and sets of the hook's module globals and of the base's namespace, one level down too) are
those ``_patch`` puts the surviving class in.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import FunctionType
from typing import Any

__all__ = ["SubclassRegistries", "class_statements", "hook_registries"]

logger = logging.getLogger("hotmod")

Before = Callable[[tuple[Any, ...]], None]
Adopt = Callable[[Any, type], type]

# thread -> what that thread's transaction does around each class statement it executes
_hooks: dict[int, tuple[Before, Adopt | None]] = {}
_hook_lock = threading.Lock()
_saved_build_class: Any = None

# A registry bigger than this is not copied (the copy would cost more than the reload), and a
# rollback does not put it back: said at DEBUG level.
_LARGEST = 100_000


def _build_class(
    _hotmod_body: Any, _hotmod_name: str, /, *_hotmod_bases: Any, **_hotmod_keywords: Any
) -> Any:
    """``builtins.__build_class__`` while a transaction re-executes modules.

    Its only locals while the class is built are its arguments, under names no annotation
    uses: a metaclass may keep the locals of the frame that called it (pydantic resolves a
    model's annotations in them, since this frame is not a module's), and a reference to the
    transaction there would keep every old version of the modules alive."""
    if _hotmod_bases:
        _before(_hotmod_bases)
    cls = _saved_build_class(_hotmod_body, _hotmod_name, *_hotmod_bases, **_hotmod_keywords)
    hooks = _hooks.get(threading.get_ident())
    if hooks is None or hooks[1] is None or not issubclass(type(cls), type):
        return cls
    return hooks[1](_hotmod_body, cls)


def _before(bases: tuple[Any, ...]) -> None:
    hooks = _hooks.get(threading.get_ident())
    if hooks is not None:
        hooks[0](bases)


@contextlib.contextmanager
def class_statements(before: Before, adopt: Adopt | None) -> Iterator[None]:
    """While the block runs, each class statement this thread executes calls ``before`` with
    its bases (when it has any) before the class is built, and evaluates to what ``adopt``
    returns for the class built (the class itself without ``adopt``)."""
    global _saved_build_class
    ident = threading.get_ident()
    with _hook_lock:
        if not _hooks:
            _saved_build_class = builtins.__build_class__
            builtins.__build_class__ = _build_class
        _hooks[ident] = (before, adopt)
    try:
        yield
    finally:
        with _hook_lock:
            del _hooks[ident]
            current: object = builtins.__build_class__
            if not _hooks and current is _build_class:
                builtins.__build_class__ = _saved_build_class


def hook_registries(base: type) -> list[object]:
    """What the ``__init_subclass__`` that ``base`` defines itself may register subclasses in:
    the values of the base's namespace and of the hook's module globals (dunder names, such
    as a module's ``__builtins__``, left out); none for a base of the standard library or
    without its own hook."""
    hook = base.__dict__.get("__init_subclass__")
    if hook is None or base.__module__.partition(".")[0] in sys.stdlib_module_names:
        return []
    places: list[Mapping[str, Any]] = [base.__dict__]
    func = getattr(hook, "__func__", hook)
    if type(func) is FunctionType:
        places.append(func.__globals__)
    return [
        value
        for place in places
        for key, value in list(place.items())
        if not (key[:2] == "__" == key[-2:])
    ]


class SubclassRegistries:
    """The registries the bases of this transaction's class statements may fill, as they were
    before the first such statement: ``restore()`` (the rollback) puts them back."""

    def __init__(self) -> None:
        self._bases: dict[int, type] = {}  # looked at already (held: ids stay unique)
        self._saved: dict[int, tuple[Any, Any]] = {}  # id -> (container, its copy)

    def before(self, bases: tuple[Any, ...]) -> None:
        """Copy what the hooks of ``bases`` (and of their bases) may fill, once each."""
        seen = self._bases
        for first in bases:
            if not issubclass(type(first), type):
                continue
            for base in first.__mro__[:-1]:
                if id(base) in seen:
                    continue
                seen[id(base)] = base
                for value in hook_registries(base):
                    self._save(value, depth=1)

    def _save(self, container: object, depth: int) -> None:
        kind = type(container)
        if not issubclass(kind, (dict, list, set)) or id(container) in self._saved:
            return
        if container is sys.modules or container is builtins.__dict__:
            return
        assert isinstance(container, (dict, list, set))
        if len(container) > _LARGEST:
            logger.debug("not copied, a rollback does not put it back: a registry of %d "
                         "entries", len(container))  # fmt: skip
            return
        if isinstance(container, dict):
            self._saved[id(container)] = (container, dict(container))
            if depth:
                for value in list(container.values()):
                    self._save(value, depth - 1)
        elif isinstance(container, list):
            self._saved[id(container)] = (container, list(container))
        else:
            self._saved[id(container)] = (container, set(container))

    def restore(self) -> None:
        """Put every copied registry back as it was (the transaction's rollback)."""
        saved, self._saved = self._saved, {}
        self._bases.clear()
        for container, copy in saved.values():
            try:
                if isinstance(container, list):
                    container[:] = copy
                else:
                    container.clear()
                    container.update(copy)
            except Exception:  # a container type of its own making: say it, go on
                logger.warning("could not put back a registry of %s after the rollback",
                               type(container).__name__, exc_info=True)  # fmt: skip

    def release(self) -> None:
        """Drop the copies (the transaction applied)."""
        self._saved.clear()
        self._bases.clear()
