"""The class statements a transaction executes: the hook they go through.

While a transaction re-executes modules, ``builtins.__build_class__`` is a hook for the thread
that runs it (other threads' class statements are untouched): before a class is built, the
hook is told its bases, and after it is built, the Patcher may make the statement evaluate to
the surviving class (``_patch``). ``hook_registries`` says where a base's ``__init_subclass__``
may register subclasses (``_patch`` puts the surviving class there).
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

__all__ = ["class_statements", "hook_registries"]

logger = logging.getLogger("hotmod")

Before = Callable[[tuple[Any, ...]], None]
Adopt = Callable[[Any, type], type]

# thread -> what that thread's transaction does around each class statement it executes
_hooks: dict[int, tuple[Before, Adopt | None]] = {}
_hook_lock = threading.Lock()
_saved_build_class: Any = None


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
