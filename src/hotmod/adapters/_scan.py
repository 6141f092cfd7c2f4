"""What the framework adapters share: finding a framework's registries through the globals
of the modules being replaced, without running any hook of a lazy object."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any, TypeVar

__all__ = ["defined_in", "held"]

T = TypeVar("T")


def held(modules: Mapping[str, ModuleType], cls: type[T]) -> Iterator[T]:
    """The instances of ``cls`` held in the globals of ``modules`` (each once, in order).

    A module that registers into a registry holds it: ``from myapp import app``,
    ``from myapp.hooks import pm``. Only ``type()`` and the module's ``__dict__`` are read,
    so a lazy object (Django's ``settings``) or a module's ``__getattr__`` is never evaluated.
    """
    seen: set[int] = set()
    for module in modules.values():
        if not issubclass(type(module), ModuleType):
            continue
        namespace: dict[str, Any] = object.__getattribute__(module, "__dict__")
        for value in list(namespace.values()):
            if issubclass(type(value), cls) and id(value) not in seen:
                seen.add(id(value))
                yield value


def defined_in(value: object, modules: Mapping[str, ModuleType]) -> bool:
    """Whether ``value`` (a function, class or instance) comes from one of ``modules``: its
    ``__module__`` (a function's, through ``functools.wraps`` the wrapped function's; an
    instance's, its class's) names one of them."""
    name = getattr(value, "__module__", None) if callable(value) else type(value).__module__
    return isinstance(name, str) and name in modules
