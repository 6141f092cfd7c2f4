"""``reloading``: a decorator that keeps a long-running worker's function current.

Each call is a safe point: pending changes are applied in the caller's thread first, then the
newest definition of the function runs (looked up again by ``__qualname__`` in its module).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hotmod._api import watch
from hotmod._reloader import Reloader

__all__ = ["reloading"]

F = TypeVar("F", bound=Callable[..., Any])


def _newest(func: Callable[..., Any]) -> Callable[..., Any]:
    """The current definition of ``func`` in its (possibly re-executed) module."""
    module = sys.modules.get(func.__module__)
    if module is None:
        return func
    current: Any = module
    for part in func.__qualname__.split("."):
        if part == "<locals>":
            return func
        current = current.__dict__.get(part) if hasattr(current, "__dict__") else None
        if current is None:
            return func
    unwrapped = getattr(current, "__hotmod_wrapped__", current)
    return unwrapped if callable(unwrapped) else func


def reloading(*packages: str, **options: Any) -> Callable[[F], F]:
    """Decorate a worker function so every call runs its newest code.

    Args:
        *packages: packages to watch; default: the top-level package of the decorated
            function's module.
        **options: keyword arguments of ``Reloader``; ``background`` is always False here,
            because changes are applied only at the start of a call.

    Example:
        >>> import hotmod                                     # doctest: +SKIP
        >>> @hotmod.reloading("myapp")                         # doctest: +SKIP
        ... def handle(job): ...
    """
    options["background"] = False

    def decorate(func: F) -> F:
        watched = packages or (func.__module__.partition(".")[0],)
        reloader: Reloader = watch(*watched, **options)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            reloader.check()
            return _newest(func)(*args, **kwargs)

        wrapper.__hotmod_wrapped__ = func  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
