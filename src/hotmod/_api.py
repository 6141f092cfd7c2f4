"""The module-level entry points: ``watch`` (dev servers) and ``watching`` (REPL sessions,
script blocks). ``reloading`` (workers) lives in ``_worker``."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

from hotmod._reloader import Reloader

__all__ = ["watch", "watching"]

logger = logging.getLogger("hotmod")

_registry_lock = threading.Lock()
# packages -> (the Reloader watch() started for them, the key of the options it was given)
_registry: dict[tuple[str, ...], tuple[Reloader, Hashable]] = {}


def _option_key(value: object) -> Hashable:
    """Compare options so that re-executing the calling module gives an equal key: a callback
    defined in that module is a new function object each time, so callables compare by name."""
    if callable(value):
        module: object = getattr(value, "__module__", None)
        qualname: object = getattr(value, "__qualname__", None)
        return ("callable", str(module), str(qualname))
    if isinstance(value, (list, tuple)):
        return tuple(_option_key(v) for v in value)
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def watch(*packages: str, **options: Any) -> Reloader:
    """Start watching ``packages`` and return the running Reloader; idempotent.

    Calling it again with equal arguments, including from a module that hotmod is re-executing,
    returns the same running Reloader (a callback given again replaces the previous one): there
    is never a second watcher thread for the same arguments. Called with the same packages but
    other options (an edited call), it stops the running Reloader and starts a new one.

    Args:
        *packages: importable names of the packages to watch.
        **options: keyword arguments of ``Reloader`` (``paths``, ``eager``, ``debounce``,
            ``polling``, ``on_reload``, ``background``).

    Example:
        >>> import hotmod                                        # doctest: +SKIP
        >>> reloader = hotmod.watch("myapp")                    # doctest: +SKIP
    """
    key = tuple(packages)
    option_key = tuple(sorted((k, _option_key(v)) for k, v in options.items()))
    with _registry_lock:
        existing, existing_options = _registry.get(key, (None, None))
        if existing is not None and existing.running and existing_options == option_key:
            if "on_reload" in options:
                existing.on_reload = options["on_reload"]
            return existing
        reloader = Reloader(*packages, **options)
        reloader.start()
        _registry[key] = (reloader, option_key)
    if existing is not None and existing.running:
        # The same packages with other options (an edited watch() call in a reloaded
        # module): replace the watcher rather than run two. Stopped outside the lock, as
        # its thread may be running module code that calls watch().
        logger.info("hotmod.watch(%s): options changed, watcher restarted", ", ".join(key))
        existing.stop()
    return reloader


@contextmanager
def watching(*packages: str, **options: Any) -> Iterator[Reloader]:
    """Watch ``packages`` for the duration of a ``with`` block (a REPL session, a script).

    Yields the started Reloader and stops it on exit, even on error.

    Example:
        >>> import hotmod                                        # doctest: +SKIP
        >>> with hotmod.watching("myapp") as reloader:          # doctest: +SKIP
        ...     serve_forever()
    """
    reloader = Reloader(*packages, **options)
    reloader.start()
    try:
        yield reloader
    finally:
        reloader.stop()
