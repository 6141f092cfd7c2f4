"""Built-in adapter for Flask: routes and handlers of replaced modules leave the app (or
blueprint) they were registered on, when that app is not re-created by the reload.

When the module that creates the app re-executes (an app factory, ``hotmod.wsgi(
"app:create_app()")``; the "larger applications" layout, whose ``app/__init__.py`` and
``app/views.py`` form an import cycle and re-execute together) a new app is built from the
new code and nothing is left to do. When it does not - ``app = Flask(__name__)`` in
``app/core.py`` and ``@app.route`` in ``app/views.py``, which a change of the views does not
re-execute - the views would be registered a second time on the running app: Flask refuses
("View function mapping is overwriting an existing endpoint function", or "The setup method
'route' can no longer be called on the application" once it served a request).

Before the modules are evicted, each ``Flask`` app and ``Blueprint`` their globals hold, and
that none of them creates (its ``import_name`` is not one of them), drops what they registered:
the view functions defined in them with their URL rules, the blueprints they define or hold
(``app.register_blueprint(bp)``) with their endpoints and handlers, the request, error and
template handlers defined in them; and accepts setup calls again until the reload ends.
Nothing is changed in place: each registry is replaced by a filtered copy, and on rollback
the app gets back the very objects it had. Uses werkzeug's ``Map`` internals (``_matcher``,
``_rules_by_endpoint``): there is no public way to remove a rule.

This module imports Flask only when a reload needs it (see ``hotmod.adapters.pluggy``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any

from hotmod.adapters._base import Adapter
from hotmod.adapters._scan import defined_in, held

if TYPE_CHECKING:
    from flask.sansio.scaffold import Scaffold

__all__ = ["FlaskRoutes", "follow_template_edits"]

# Scaffold (app and blueprint) registries: {None or blueprint name: [functions]}
_LIST_DICTS = (
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "template_context_processors",
    "url_value_preprocessors",
    "url_default_functions",
)
# App-only registries: [functions]
_LISTS = ("teardown_appcontext_funcs", "shell_context_processors", "url_build_error_handlers")


@dataclass
class _Saved:
    """The attributes of one app or blueprint as they were before ``detach``."""

    scaffold: Scaffold
    attributes: dict[str, Any] = field(default_factory=dict)  # name -> original object
    url_map: dict[str, Any] = field(default_factory=dict)  # Map attribute -> original
    flag: tuple[str, bool] | None = None  # the "set up finished" flag and its value


def _mentions(function: object, modules: Mapping[str, ModuleType], depth: int = 3) -> bool:
    """Whether a deferred setup function of a blueprint (Flask's own lambda, closing over the
    view function or handler it registers) registers something of ``modules``."""
    if isinstance(function, partial):
        return any(_mentions(v, modules, depth) for v in (function.func, *function.args))
    if type(function) is not FunctionType:
        return False
    if defined_in(function, modules):
        return True
    if depth == 0 or not function.__closure__:
        return False
    for cell in function.__closure__:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if _mentions(value, modules, depth - 1):
            return True
    return False


def _in_blueprints(key: object, names: set[str]) -> bool:
    """Whether a registry key (a blueprint name, or an endpoint ``bp.view``) belongs to one
    of the blueprints ``names`` (nested blueprints are ``parent.child``)."""
    if not isinstance(key, str):
        return False
    return any(key == name or key.startswith(name + ".") for name in names)


class FlaskRoutes(Adapter[list[_Saved]]):
    """Routes, blueprints and handlers of replaced modules are taken out of the Flask apps
    and blueprints their globals hold and do not create; put back on rollback."""

    name = "flask"
    requires = "flask"

    def detach(self, modules: Mapping[str, ModuleType]) -> list[_Saved]:
        from flask import Blueprint, Flask  # imported already: ``requires``

        state: list[_Saved] = []
        try:
            held_blueprints = [bp for bp in held(modules, Blueprint)]
            for blueprint in held_blueprints:
                if blueprint.import_name not in modules:
                    state.append(self._detach_blueprint(blueprint, modules))
            for app in held(modules, Flask):
                if app.import_name not in modules:
                    state.append(self._detach_app(app, modules, held_blueprints))
        except BaseException:
            self.restore(modules, state)
            raise
        return state

    def commit(self, modules: Mapping[str, ModuleType], state: list[_Saved]) -> None:
        for saved in state:
            if saved.flag is not None:
                name, value = saved.flag
                setattr(saved.scaffold, name, value)

    def restore(self, modules: Mapping[str, ModuleType], state: list[_Saved]) -> None:
        for saved in reversed(state):
            for name, value in saved.attributes.items():
                setattr(saved.scaffold, name, value)
            if saved.url_map:
                url_map = saved.scaffold.url_map  # type: ignore[attr-defined]
                for name, value in saved.url_map.items():
                    setattr(url_map, name, value)
            if saved.flag is not None:
                name, value = saved.flag
                setattr(saved.scaffold, name, value)

    # -- what is taken out -------------------------------------------------------------------

    @staticmethod
    def _replace(saved: _Saved, name: str, value: object) -> None:
        saved.attributes.setdefault(name, getattr(saved.scaffold, name))
        setattr(saved.scaffold, name, value)

    def _filter_scaffold(
        self, saved: _Saved, keep: Callable[[object], bool], blueprints: set[str]
    ) -> set[str]:
        """Filter the registries apps and blueprints share; returns the endpoints dropped."""
        scaffold = saved.scaffold
        dropped = {
            endpoint
            for endpoint, view in scaffold.view_functions.items()
            if not keep(view) or _in_blueprints(endpoint, blueprints)
        }
        if dropped:
            views = {e: v for e, v in scaffold.view_functions.items() if e not in dropped}
            self._replace(saved, "view_functions", views)
        for name in _LIST_DICTS:
            old: dict[Any, list[Any]] = getattr(scaffold, name)
            new = {
                key: [f for f in functions if keep(f)]
                for key, functions in old.items()
                if not _in_blueprints(key, blueprints)
            }
            if new != old:
                self._replace(saved, name, new)
        spec = scaffold.error_handler_spec
        new_spec = {
            key: {
                code: {exc: f for exc, f in handlers.items() if keep(f)}
                for code, handlers in codes.items()
            }
            for key, codes in spec.items()
            if not _in_blueprints(key, blueprints)
        }
        if new_spec != spec:
            self._replace(saved, "error_handler_spec", new_spec)
        return dropped

    def _detach_blueprint(self, blueprint: Any, modules: Mapping[str, ModuleType]) -> _Saved:
        saved = _Saved(blueprint, flag=("_got_registered_once", blueprint._got_registered_once))
        self._filter_scaffold(saved, lambda f: not defined_in(f, modules), set())
        deferred = [f for f in blueprint.deferred_functions if not _mentions(f, modules)]
        if len(deferred) != len(blueprint.deferred_functions):
            self._replace(saved, "deferred_functions", deferred)
        blueprint._got_registered_once = False  # setup calls are accepted until commit
        return saved

    def _detach_app(
        self, app: Any, modules: Mapping[str, ModuleType], held_blueprints: list[Any]
    ) -> _Saved:
        saved = _Saved(app, flag=("_got_first_request", app._got_first_request))
        held_ids = {id(bp) for bp in held_blueprints}
        # blueprints a replaced module defines (it makes a new one) or holds (it registers it)
        blueprints = {
            name
            for name, bp in app.blueprints.items()
            if bp.import_name in modules or id(bp) in held_ids
        }
        if blueprints:
            kept = {n: bp for n, bp in app.blueprints.items() if not _in_blueprints(n, blueprints)}
            self._replace(saved, "blueprints", kept)
        dropped = self._filter_scaffold(saved, lambda f: not defined_in(f, modules), blueprints)
        for name in _LISTS:
            old: list[Any] = getattr(app, name)
            new = [f for f in old if not defined_in(f, modules)]
            if len(new) != len(old):
                self._replace(saved, name, new)
        url_map = app.url_map
        by_endpoint: dict[Any, list[Any]] = url_map._rules_by_endpoint
        if any(endpoint in dropped for endpoint in by_endpoint):
            self._drop_rules(saved, url_map, dropped)
        app._got_first_request = False  # setup calls are accepted until commit
        return saved

    @staticmethod
    def _drop_rules(saved: _Saved, url_map: Any, dropped: set[str]) -> None:
        """Give the Map new rule containers without the rules of ``dropped`` endpoints."""
        from werkzeug.routing.matcher import StateMachineMatcher

        matcher = StateMachineMatcher(url_map.merge_slashes)
        by_endpoint: dict[Any, list[Any]] = {}
        for endpoint, rules in url_map._rules_by_endpoint.items():
            if endpoint in dropped:
                continue
            by_endpoint[endpoint] = list(rules)
            for rule in rules:
                if not rule.build_only:
                    matcher.add(rule)
        for name in ("_matcher", "_rules_by_endpoint", "_remap"):
            saved.url_map[name] = getattr(url_map, name)
        url_map._matcher, url_map._rules_by_endpoint, url_map._remap = matcher, by_endpoint, True


def follow_template_edits(app: object) -> None:
    """Make a Flask application that ``hotmod.wsgi`` serves render templates edited since they
    were loaded, as Flask does in debug mode: Jinja's ``auto_reload`` (a ``stat`` of the
    template's file each time it is looked up). Without it Jinja keeps every template it
    loaded, and outside debug mode an edited template was never shown. Left alone when the
    application chose for itself (``TEMPLATES_AUTO_RELOAD`` set, or ``auto_reload`` in
    ``jinja_options``); nothing for another kind of application."""
    from flask import Flask

    if not isinstance(app, Flask):
        return
    if app.config.get("TEMPLATES_AUTO_RELOAD") is not None or "auto_reload" in app.jinja_options:
        return
    app.config["TEMPLATES_AUTO_RELOAD"] = True
    if "jinja_env" in vars(app):  # created already (else it is created with the setting)
        app.jinja_env.auto_reload = True
