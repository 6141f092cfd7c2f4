"""hotmod for Celery: ``hotmod.celery.install(app)`` makes a worker of ``app`` run the newest code
of its task modules, task after task, with no worker restart.

Celery is imported only when ``install`` is called. The watching starts when the worker starts
(``worker_init``, in the main process, after it imported the task modules): every pool process
forked from it (the prefork pool's children) receives the changes from that one watcher, and a
pool process started afresh (billiard's spawn) watches itself. Pending changes are applied in
the process that runs a task, just before Celery looks the task up: the pool's trace functions
(``celery.app.trace.fast_trace_task`` and ``trace_task_ret``, which a prefork child receives by
name) are wrapped to do that, so the first task after a save already runs the new code. The
Celery adapter (``hotmod.adapters.celery``) replaces the re-executed modules' tasks in the
app's registry and gives the new tasks their tracers.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from hotmod._exceptions import ArgumentTypeError
from hotmod._system_paths import HOTMOD_DIR, system_dirs
from hotmod._worker import SharedReloader, apply_pending

__all__ = ["install"]

logger = logging.getLogger(__name__)

# the trace functions a worker hands to its pool, by name (pickled by reference for prefork)
_TRACE_FUNCTIONS = ("fast_trace_task", "trace_task_ret")
_WRAPPED = "__hotmod_wrapped__"


class _Installed:
    """One ``install()`` call: the app, what to watch, and the watching in this process."""

    def __init__(self, app: Any, packages: tuple[str, ...], options: dict[str, Any]) -> None:
        self.app = app
        self.packages = packages
        self.options = options
        self.shared: SharedReloader | None = None

    def start(self) -> None:
        """Start watching in this process, unless a process it was forked from does."""
        if self.shared is not None:
            return  # forked from the worker's main process: its watcher tells this one
        packages = self.packages or _default_packages(self.app)
        if not packages:
            logger.warning(
                "hotmod.celery: no task module of Celery app %r is in a package hotmod can "
                "reload; name the packages to watch: hotmod.celery.install(app, 'myapp')",
                self.app.main,
            )
            return
        self.shared = SharedReloader(packages, self.options)
        logger.info(
            "watching %s for Celery app %r; changes apply before each task",
            ", ".join(packages),
            self.app.main,
        )

    def apply(self) -> None:
        if self.shared is not None:
            apply_pending(self.shared.reloader)


_installed: list[_Installed] = []


def _default_packages(app: Any) -> tuple[str, ...]:
    """The top-level packages of the modules defining ``app``'s tasks, but for those in the
    standard library, site-packages and hotmod (Celery's own tasks among them)."""
    from hotmod.adapters.celery import _defined_in

    skip = (*system_dirs(), HOTMOD_DIR)
    found: list[str] = []
    for task in list(app._tasks.values()):
        name = _defined_in(task)
        module = sys.modules.get(name) if name else None
        path = getattr(module, "__file__", None)
        if name is None or not isinstance(path, str) or os.path.realpath(path).startswith(skip):
            continue
        top = name.partition(".")[0]
        if top not in found:
            found.append(top)
    return tuple(found)


def _before_task() -> None:
    """The safe point: no task of this process is running (its pool calls one at a time)."""
    for installed in _installed:
        installed.apply()


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)  # the same module and name: a prefork child finds it by name
    def trace_after_reload(*args: Any, **kwargs: Any) -> Any:
        _before_task()
        return original(*args, **kwargs)

    setattr(trace_after_reload, _WRAPPED, original)
    return trace_after_reload


def _patch_trace_functions() -> None:
    """Wrap the trace functions where the worker reads them; idempotent."""
    from celery.app import trace
    from celery.worker import request

    for name in _TRACE_FUNCTIONS:
        original = getattr(trace, name)
        if hasattr(original, _WRAPPED):
            continue
        wrapped = _wrap(original)
        setattr(trace, name, wrapped)
        if getattr(request, name, None) is original:
            setattr(request, name, wrapped)


def install(app: Any, *packages: str, **options: Any) -> None:
    """Make the workers of Celery ``app`` apply saved changes of its task modules before
    each task, with no worker restart (every pool: prefork, solo, threads).

    Call it where the app is created (``proj/celery.py``), after ``app = Celery(...)``. When
    a worker of ``app`` starts, hotmod watches ``packages`` (default: the top-level packages
    of the modules defining the app's tasks, the standard library and site-packages aside).
    Before each task, the process running it applies the changes saved since its last task:
    the task runs the new code, a broken edit is logged and rolled back (the old task keeps
    running) until the next save fixes it. Calling it again for the same app does nothing.

    Args:
        app: a ``celery.Celery`` application.
        *packages: the packages to watch; default: those of the app's task modules.
        **options: keyword arguments of ``Reloader`` (``debounce``, ``polling``, ...).

    Raises:
        ArgumentTypeError: ``app`` is not a Celery application (a ``TypeError``).

    Example:
        >>> app = Celery("proj", include=["proj.tasks"])    # doctest: +SKIP
        >>> hotmod.celery.install(app)                       # doctest: +SKIP
    """
    from celery import Celery, signals

    if not isinstance(app, Celery):
        raise ArgumentTypeError(
            f"hotmod.celery.install() takes a celery.Celery application, not "
            f"{type(app).__name__}: {app!r}; pass the app, e.g. install(app)"
        )
    for name in packages:
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(
                f"hotmod.celery.install(app, *packages): packages are package names, not {name!r}"
            )
    if any(installed.app.main == app.main for installed in _installed):
        return  # the same app, or the app created again by its re-executed module
    installed = _Installed(app, tuple(packages), options)
    _installed.append(installed)

    def on_worker_init(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is app:
            _patch_trace_functions()
            installed.start()

    def on_worker_process_init(**_: Any) -> None:
        # a pool process: forked ones already watch through their parent; one started
        # afresh (spawn) imported the app again and starts watching here
        _patch_trace_functions()
        installed.start()

    signals.worker_init.connect(on_worker_init, weak=False)
    signals.worker_process_init.connect(on_worker_process_init, weak=False)
