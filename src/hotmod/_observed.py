"""Imports observed at run time, and which module's top-level code is executing.

One finder, first on ``sys.meta_path`` from ``import hotmod`` on, finds nothing and notes two
things on each import miss: who imports what (below), and when each module not loaded yet was
looked for (``looked_up``: a time before its file was read, the evidence of what a module hotmod
never loaded was imported from).

Static parsing sees ``import x`` and ``from x import y``; it cannot see
``importlib.import_module(f"pkg.plugins.{name}")``, ``__import__(name)`` or a framework's
``include("polls.urls")``. While a module's top-level code runs (including the functions it
calls), every import it causes is a dependency of it just as much. A finder on
``sys.meta_path`` that never finds anything notes, on each import miss, the pair
``(module executing, module imported)``; reloaders read the pairs into their graphs.

The module executing is the innermost frame running module-level code (``<module>``) whose
globals are the namespace of the module of that name: no bookkeeping on the happy path of an
import, only a short walk up the importing thread's stack when the import system consults the
finders anyway (a module not loaded yet), or when ``importlib.import_module`` is called for a
loaded one. An ``import`` statement or ``__import__`` call for a module already loaded is not
seen (statements are parsed; the first importer's pair stays recorded).

With PEP 810 lazy imports, a lazily imported module loads at its first use: the pair then
names the module whose top-level code first used it (static ``lazy import`` statements are
still parsed as edges of the module that wrote them).
"""

from __future__ import annotations

import functools
import importlib
import opcode
import sys
import time
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import FrameType, ModuleType
from typing import Any

from hotmod._module_dict import live_modules
from hotmod._system_paths import HOTMOD_DIR, system_dirs

__all__ = [
    "executing_module",
    "install",
    "looked_up",
    "note_import",
    "observed_count",
    "observed_since",
]

_MODULE_CODE = "<module>"
_IMPORT_NAME = opcode.opmap["IMPORT_NAME"]  # the instruction an `import` statement runs

# (importer, imported) pairs, append-only: each Reloader reads from its own position. Only
# importers outside the standard library, site-packages and hotmod are kept (those are never
# reloaded), so it holds a few entries per module of the application.
_pairs: list[tuple[str, str]] = []
_noted: set[tuple[str, str]] = set()
_looked_up: dict[str, float] = {}  # module name -> when it was last looked for, not loaded
_LIVE = live_modules()


def looked_up(name: str) -> float | None:
    """When the import system last looked for module ``name`` while it was not loaded (the
    module was imported at or after that time), or None if not seen since ``import hotmod``."""
    return _looked_up.get(name)


def executing_module(frame: FrameType | None) -> str | None:
    """The name of the module whose top-level code runs ``frame`` or one of its callers.

    Frames of code ``exec``'d in some other namespace (``namedtuple``, ``dataclasses``) are
    passed over: only a frame whose globals are the namespace of the loaded module of that
    name counts.
    """
    found = _module_frame(frame)
    return None if found is None else found.f_globals["__name__"]


def _module_frame(frame: FrameType | None) -> FrameType | None:
    live = live_modules()
    while frame is not None:
        if frame.f_code.co_name == _MODULE_CODE:
            namespace = frame.f_globals
            name = namespace.get("__name__")
            if isinstance(name, str):
                module = live.get(name)
                if module is not None and module.__dict__ is namespace:
                    return frame
        frame = frame.f_back
    return None


class _ObservedImports:
    """Meta path finder that finds nothing and notes who imports what (see the module doc)."""

    def __init__(self) -> None:
        self._skip = (*system_dirs(), HOTMOD_DIR)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _LIVE and fullname not in sys.modules:  # not importlib.reload()
            _looked_up[fullname] = time.time()
        self.note(fullname, sys._getframe(1))
        return None

    def note(self, fullname: str, frame: FrameType | None) -> None:
        """Note the import of ``fullname`` by the module executing ``frame`` (or a caller).

        An ``import`` statement of the module's own top-level code is left out: the parser
        sees it, and follows it when an edit removes it. What is noted is what the parser
        cannot see: imports made by calls (``import_module``, ``__import__``, a framework)."""
        frame = _module_frame(frame)
        if frame is None or frame.f_code.co_code[frame.f_lasti] == _IMPORT_NAME:
            return
        if not frame.f_code.co_filename.startswith(self._skip):
            pair = (frame.f_globals["__name__"], fullname)
            if pair[0] != fullname and pair not in _noted:
                _noted.add(pair)
                _pairs.append(pair)

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


_finder: _ObservedImports | None = None


def note_import(fullname: str) -> None:
    """For another finder that serves ``fullname`` before this one is asked (the
    transaction's): note the import as this finder would have."""
    if _finder is not None:
        _finder.note(fullname, sys._getframe(2))


def install() -> None:
    """Put the observing finder first on ``sys.meta_path`` (once per process), and note the
    ``importlib.import_module`` calls of modules already loaded, which no finder sees."""
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        return
    finder = _finder = _ObservedImports()
    sys.meta_path.insert(0, finder)
    bootstrap: Any = importlib.import_module("importlib._bootstrap")
    gcd_import = bootstrap._gcd_import
    if getattr(gcd_import, "__wrapped__", None) is not None:
        return  # wrapped by an earlier install
    live = live_modules()

    # import_module() looks this up at each call: code that bound import_module before hotmod
    # was imported (a framework's `from importlib import import_module`) is seen too.
    @functools.wraps(gcd_import)
    def _gcd_import(name: str, package: str | None = None, level: int = 0) -> ModuleType:
        if level == 0 and name in live:
            finder.note(name, sys._getframe(1))
        return gcd_import(name, package, level)  # type: ignore[no-any-return]

    bootstrap._gcd_import = _gcd_import


def observed_count() -> int:
    """How many pairs were noted so far (the position after the last one)."""
    return len(_pairs)


def observed_since(position: int) -> tuple[list[tuple[str, str]], int]:
    """The pairs noted from ``position`` on, and the position to read from next time."""
    end = len(_pairs)
    return _pairs[position:end], end
