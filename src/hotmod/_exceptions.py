"""Exceptions raised by hotmod.

The tree, with the builtin each class also derives from where the API promises one::

    HotmodError
     ├── PackageNotFoundError (ModuleNotFoundError)  a watched package name cannot be imported
     ├── NotWatchedError (ValueError)                a reload target lies outside what is watched
     ├── ArgumentTypeError (TypeError)               an argument of the wrong type
     ├── ReloaderStateError (RuntimeError)           an illegal lifecycle step, e.g. start() twice
     └── AdapterError                                an adapter failed: the reload rolled back

Errors raised by *user code* while a module re-executes (SyntaxError, NameError, ...) are never
wrapped: they are returned in ``ReloadResult.error`` exactly as raised.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "ArgumentTypeError",
    "HotmodError",
    "NotWatchedError",
    "PackageNotFoundError",
    "ReloaderStateError",
]


class HotmodError(Exception):
    """Base class of every exception hotmod raises itself."""


class PackageNotFoundError(HotmodError, ModuleNotFoundError):
    """A package given to ``Reloader``/``watch`` cannot be found by the import system.

    ``name`` is the package name, as for ``ModuleNotFoundError``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(
            f"No module named {name!r}: hotmod watches importable packages. Check the spelling, "
            "and that the folder holding it is on sys.path (install it with `pip install -e .` "
            "or run from the project root).",
            name=name,
        )


class NotWatchedError(HotmodError, ValueError):
    """A module, file or package that hotmod will not reload (outside the watched packages,
    or part of the standard library, site-packages, ``__main__`` or hotmod itself).

    ``target`` is the offending name or path.
    """

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        super().__init__(reason)


class ArgumentTypeError(HotmodError, TypeError):
    """An argument of the wrong type was passed to a hotmod API."""


class ReloaderStateError(HotmodError, RuntimeError):
    """A lifecycle method was called in a state that does not allow it."""


class AdapterError(HotmodError):
    """An adapter (``hotmod.adapters``) raised during a reload, which was rolled back.

    Returned in ``ReloadResult.error``, never raised to the caller. ``adapter`` is the
    adapter's name, ``phase`` is ``"detach"`` or ``"commit"`` and ``error`` (also the
    ``__cause__``) is the exception it raised.
    """

    def __init__(self, adapter: str, phase: str, error: BaseException) -> None:
        self.adapter = adapter
        self.phase = phase
        self.error = error
        super().__init__(
            f"adapter {adapter} failed in {phase}: {type(error).__name__}: {error}; every "
            "adapter's registry was put back as it was (fix the adapter, or leave it out "
            "with Reloader(adapters=[...]))"
        )
