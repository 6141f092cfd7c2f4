"""Find dependencies that parsing cannot see, from what a module's globals hold.

A module whose globals hold a watched module object, or a function or class defined in another
watched module, depends on that module however the binding got there (``exec``, ``setattr``,
decorators, plugin registries). Only the namespace dict is read: no attribute access that could
run user code (module ``__getattr__``, properties, lazy proxies).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from types import FunctionType, ModuleType
from typing import Any

__all__ = ["scan_bindings"]

# The raw ``__dict__`` descriptors: reading through them bypasses any ``__getattribute__`` or
# ``__getattr__`` a module or class defines.
_MODULE_DICT: Any = vars(ModuleType)["__dict__"]
_CLASS_DICT: Any = vars(type)["__dict__"]


def scan_bindings(
    namespace: Mapping[str, object], own_name: str, watched: Container[str]
) -> frozenset[str]:
    """Names of the watched modules whose objects ``namespace`` holds, other than its own.

    A package's own submodules, bound on it by the import system under their names, do not
    count: a package does not depend on its submodules unless its source imports them.

    Example:
        >>> import json
        >>> sorted(scan_bindings({"j": json, "dumps": json.dumps}, "pkg.a", {"json"}))
        ['json']
    """
    found: set[str] = set()
    own_prefix = f"{own_name}."
    for key, value in namespace.items():
        kind = type(value)
        owner: object
        if kind is FunctionType:
            owner = value.__module__
        elif kind is type or issubclass(kind, type):  # identity first: the common cases
            owner = _CLASS_DICT.__get__(value).get("__module__")
        elif kind is ModuleType or issubclass(kind, ModuleType):
            owner = _MODULE_DICT.__get__(value).get("__name__")
        else:
            continue
        if not isinstance(owner, str) or owner == own_name or owner not in watched:
            continue
        if owner == own_prefix + key and issubclass(kind, ModuleType):
            continue  # the import system binds each submodule on its package: not a dependency
        found.add(owner)
    return frozenset(found)
