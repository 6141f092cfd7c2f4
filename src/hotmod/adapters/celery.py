"""The Celery adapter: an app's task registry follows reloads of the modules defining tasks.

Celery keeps its tasks outside the modules, in each app's registry (``app._tasks``, keyed by
name), and ``@app.task`` on a name already registered returns the task registered first: a
re-executed task module would get its old task back and the worker would keep running the old
code. And a worker process caches a tracer per task (``task.__trace__``, built from the
task's ``run`` function), which ``celery.app.trace.fast_trace_task`` calls directly.

- ``detach``: the tasks defined by the replaced modules leave the registry of every Celery app,
  and the callbacks ``@shared_task`` left for apps finalized later (``celery._state``) are
  taken out, so the re-executed modules register new task objects.
- ``commit``: every task now registered without a tracer (the new ones) gets one, built as the
  pool child builds them at start-up. When a re-executed module created its app again
  (``app = Celery("proj")`` next to the tasks), the running app (the worker's) takes that new
  app's tasks of the re-executed modules into its registry.
- ``restore``: each registry and the finalize callbacks are exactly as before ``detach``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from celery import _state
from celery.app import trace

from hotmod.adapters._base import Adapter

__all__ = ["CeleryTasks"]

logger = logging.getLogger(__name__)


@dataclass
class _State:
    # (an app's task registry, its items before detach)
    registries: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    finalizers: set[Any] = field(default_factory=set)  # the callbacks taken out


def _defined_in(task: object) -> str | None:
    """The module defining a task: its ``run`` function's (``@app.task``), else its class's."""
    run = getattr(type(task), "run", None)
    run = getattr(run, "__func__", run)
    for owner in (run, type(task)):
        name = getattr(owner, "__module__", None)
        if isinstance(name, str) and name not in ("celery.app.task", "celery.app.base"):
            return name
    return None


def _finalizer_module(callback: object) -> str | None:
    """The module of the function a ``@shared_task`` finalize callback registers."""
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        name = getattr(value, "__module__", None)
        if callable(value) and isinstance(name, str):
            return name
    return None


class CeleryTasks(Adapter[_State]):
    """Keeps every Celery app's task registry in step with a reload (see the module doc)."""

    name = "celery"
    requires = "celery"

    def detach(self, modules: Mapping[str, ModuleType]) -> _State:
        state = _State()
        for app in list(_state._get_active_apps()):
            registry = app._tasks
            before = dict(registry)
            # every app: a failed attempt may register tasks in any of them
            state.registries.append((app, before))
            for name, task in before.items():
                if _defined_in(task) in modules:
                    del registry[name]
        finalizers = _state._on_app_finalizers
        state.finalizers = {f for f in finalizers if _finalizer_module(f) in modules}
        finalizers.difference_update(state.finalizers)
        return state

    def commit(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        located = trace._localized  # [tasks, accept, hostname] in a worker process
        hostname = located[2] if len(located) == 3 else None
        old_apps = {id(app) for app, _ in state.registries}
        active = list(_state._get_active_apps())
        for app, before in state.registries:
            registry = app._tasks
            # A re-executed module created its Celery app again (``app = Celery("proj")``
            # next to the tasks), now or in an earlier reload: the app running (the
            # worker's) takes the tasks that the re-executed modules registered on an app of
            # the same name into its own registry.
            for peer in active:
                if peer is app or peer.main != app.main:
                    continue
                if id(peer) not in old_apps:
                    peer.finalize(auto=True)  # made by this reload: its tasks are pending
                for name, task in list(peer._tasks.items()):
                    if name not in registry and _defined_in(task) in modules:
                        registry[name] = task
            for name, task in registry.items():
                if before.get(name) is not task and getattr(task, "__trace__", None) is None:
                    owner = task.app
                    task.__trace__ = trace.build_tracer(
                        name, task, owner.loader, hostname, app=owner
                    )
            gone = sorted(set(before) - set(registry))
            if gone:
                logger.info("Celery tasks no longer defined: %s", ", ".join(gone))

    def restore(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        for app, before in state.registries:
            app._tasks.clear()
            app._tasks.update(before)
        _state._on_app_finalizers.update(state.finalizers)
