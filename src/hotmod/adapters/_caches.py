"""Caches outside the module dict that keep the old version of reloaded code alive.

A cache keyed by a class or a function (``functools.lru_cache`` on a framework function,
``typing``'s cache of ``Optional[User]``) holds the old object after a reload, and through its
``__globals__``, methods and mapper the whole old version of its module: in a FastAPI +
SQLModel app each models edit kept about a thousand objects (some 200 KB) alive for good, RSS
rising without bound over a day of edits. The entries are never used again (the new code asks
with the new objects), so clearing them changes nothing but memory.

- ``TypingCaches`` (built-in adapter ``"typing"``, every reload): clears ``typing``'s caches of
  parametrized generics after a successful reload.
- ``clear_lru_caches(package)``: the framework adapters call it for the functools caches of a
  framework's modules (FastAPI's, see ``hotmod.adapters.starlette``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from hotmod.adapters._base import Adapter

__all__ = ["TypingCaches", "clear_lru_caches"]

_LruCache: Any = type(functools.lru_cache()(lambda: None))

# module name -> (the module, its lru caches): looked for once per module object (a framework's
# modules are not reloaded; a module object replaced since is looked at again)
_found: dict[str, tuple[ModuleType, list[Any]]] = {}
# package -> (the module dict's size, the names of the package's modules in it): the whole dict
# (a thousand names in a FastAPI app, some 0.1 ms) is searched again only when its size changed
_names: dict[str, tuple[int, tuple[str, ...]]] = {}


def clear_lru_caches(package: str) -> int:
    """Clear every ``functools.lru_cache`` defined at the top level of the imported modules of
    ``package`` (``"fastapi"``: ``fastapi`` and ``fastapi.*``). Returns how many.

    A module of ``package`` imported while another module left the module dict (its size
    unchanged) is found at the first call after the size changes: until then only memory is
    at stake (the entries of old objects are never used again)."""
    cleared = 0
    modules = sys.modules
    known = _names.get(package)
    if known is None or known[0] != len(modules):
        prefix = package + "."
        names = tuple(n for n in list(modules) if n == package or n.startswith(prefix))
        known = _names[package] = (len(modules), names)
    for name in known[1]:
        module = modules.get(name)
        if module is None:
            continue
        entry = _found.get(name)
        if entry is None or entry[0] is not module:
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            caches = [value for value in list(namespace.values()) if type(value) is _LruCache]
            entry = _found[name] = (module, caches)
        for cache in entry[1]:
            cache.cache_clear()
            cleared += 1
    return cleared


class TypingCaches(Adapter[None]):
    """``typing`` caches each parametrized generic (``Optional[Team]``, ``list[Hero]`` in a
    pydantic or SQLModel annotation) with its arguments: after a successful reload those of
    the old classes are dropped."""

    name = "typing"

    def commit(self, modules: Mapping[str, ModuleType], state: None) -> None:
        typing = sys.modules.get("typing")
        for clear in list(getattr(typing, "_cleanups", ())):  # typing's own "clear all"
            clear()
