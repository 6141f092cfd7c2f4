"""Access to the interpreter's live module dict.

``sys.modules`` is only the Python-visible *reference* to the dict the interpreter consults on
every ``import``. Code may rebind ``sys.modules`` to another dict; the ``import`` statement keeps
looking in the original one, so deleting from the rebound dict would evict nothing. hotmod
therefore finds the real dict through the C API, and treats a rebound ``sys.modules`` as a second
dict to keep in step.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from types import ModuleType

__all__ = ["all_modules", "get_module", "live_modules", "rebound_modules"]

logger = logging.getLogger(__name__)


def _find_live_modules() -> dict[str, ModuleType]:
    if sys.implementation.name != "cpython":  # pragma: no cover - other interpreters
        logger.debug("not CPython: using sys.modules as the live module dict")
        return sys.modules
    get_module_dict = ctypes.pythonapi.PyImport_GetModuleDict
    get_module_dict.argtypes = []
    # PyImport_GetModuleDict returns a *borrowed* reference. Declaring restype=py_object would
    # make ctypes take ownership of a reference it was never given and decref it later, which
    # frees the interpreter's module dict after enough calls. Read the raw address instead and
    # let py_object's getter add the one reference we hold.
    get_module_dict.restype = ctypes.c_void_p
    address = get_module_dict()
    if not address:  # pragma: no cover - only during interpreter finalisation
        return sys.modules
    modules = ctypes.cast(address, ctypes.py_object).value
    if not isinstance(modules, dict):  # pragma: no cover - defensive
        return sys.modules
    return modules


_LIVE: dict[str, ModuleType] = _find_live_modules()


def live_modules() -> dict[str, ModuleType]:
    """The interpreter's own module dict, whatever ``sys.modules`` is bound to now."""
    return _LIVE


def rebound_modules() -> dict[str, ModuleType] | None:
    """``sys.modules`` when user code has rebound it to a dict other than the live one."""
    visible = sys.modules
    return None if visible is _LIVE else visible


def get_module(name: str) -> ModuleType | None:
    """What the module dict holds under ``name``: the live dict's entry, else (``sys.modules``
    rebound) the rebound dict's, where importlib stores what is imported after the rebind."""
    module = _LIVE.get(name)
    if module is None:
        visible = sys.modules
        if visible is not _LIVE:
            module = visible.get(name)
    return module


def all_modules() -> dict[str, ModuleType]:
    """The live dict; with ``sys.modules`` rebound, a merged copy: the live dict's entries, then
    those only the rebound dict holds (imported since the rebind), in import order."""
    visible = sys.modules
    if visible is _LIVE:
        return _LIVE
    merged = dict(_LIVE)
    for name, module in list(visible.items()):
        merged.setdefault(name, module)
    return merged


def _read_live_modules_afresh() -> dict[str, ModuleType]:
    """Call the C API again (tests use this to show repeated calls are safe)."""
    return _find_live_modules()
