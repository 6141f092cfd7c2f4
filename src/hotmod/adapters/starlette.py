"""Built-in adapter for Starlette and FastAPI: routes of replaced modules leave the app (or
router) they were added to, when that app is not re-created by the reload.

In the usual layout the app module includes its routers (``app.include_router(users.router)``)
and so depends on them: a change of a router, a dependency or a pydantic model re-executes it
and a new app (with no cached OpenAPI schema) serves the next connection; nothing is left to
do here. When the app lives in a module that the change does not re-execute
(``@app.get(...)`` in ``views.py`` on the app of ``core.py``), re-executing the views would
add each route a second time, and the first match is the old route: stale without a word.
Before the modules are evicted, each Starlette app and router their globals hold drops the
routes whose endpoint is defined in one of the modules, and the routers one of them holds
(FastAPI's included routers); after the reload FastAPI's cached ``openapi_schema`` is
cleared, and so are FastAPI's caches keyed by endpoints and models (which would keep the old
modules alive). Each router gets a filtered copy of its list; on rollback it gets back the very
list (and schema) it had.

This module imports Starlette only when a reload needs it (see ``hotmod.adapters.pluggy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from hotmod.adapters._base import Adapter
from hotmod.adapters._caches import clear_lru_caches
from hotmod.adapters._scan import defined_in, held

__all__ = ["StarletteRoutes"]


@dataclass
class _Router:
    router: Any  # starlette.routing.Router
    routes: list[Any]
    apps: list[tuple[Any, Any]]  # (FastAPI app, its openapi_schema) of this router


def _bump(router: Any) -> None:
    """FastAPI caches what it derives from a router's routes by a version number that each
    change of the routes increments: changed here too (never set back, so no cache built
    from the filtered routes is mistaken for one of the restored routes)."""
    version = getattr(router, "_routes_version", None)
    if isinstance(version, int):
        router._routes_version = version + 1


class StarletteRoutes(Adapter[list[_Router]]):
    """Routes of replaced modules are taken out of the Starlette/FastAPI apps and routers
    their globals hold; each router's list is put back on rollback."""

    name = "starlette"
    requires = "starlette"

    def detach(self, modules: Mapping[str, ModuleType]) -> list[_Router]:
        from starlette.applications import Starlette  # imported already: ``requires``
        from starlette.routing import Router

        apps = list(held(modules, Starlette))
        routers = {id(r): r for r in held(modules, Router)}
        for app in apps:
            routers.setdefault(id(app.router), app.router)
        held_ids = set(routers)
        state: list[_Router] = []
        for router in routers.values():
            old: list[Any] = router.routes
            kept = [route for route in old if not self._replaced(route, modules, held_ids)]
            if len(kept) == len(old):
                continue
            owners = [(app, getattr(app, "openapi_schema", None)) for app in apps]
            state.append(_Router(router, old, [(a, s) for a, s in owners if a.router is router]))
            router.routes = kept
            _bump(router)
        return state

    @staticmethod
    def _replaced(route: Any, modules: Mapping[str, ModuleType], held_ids: set[int]) -> bool:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None and defined_in(endpoint, modules):
            return True
        included = getattr(route, "original_router", None)  # FastAPI's included router
        return included is not None and id(included) in held_ids

    def commit(self, modules: Mapping[str, ModuleType], state: list[_Router]) -> None:
        for entry in state:
            for app, _ in entry.apps:
                app.openapi_schema = None  # built from the old routes
            _bump(entry.router)
        # FastAPI caches what it learns of an endpoint or a model by the object (whether it is
        # a coroutine function, a model's fields): entries of the old ones would keep the old
        # version of their modules alive for good
        clear_lru_caches("fastapi")

    def restore(self, modules: Mapping[str, ModuleType], state: list[_Router]) -> None:
        for entry in reversed(state):
            entry.router.routes = entry.routes
            for app, schema in entry.apps:
                if hasattr(app, "openapi_schema"):
                    app.openapi_schema = schema
            _bump(entry.router)
