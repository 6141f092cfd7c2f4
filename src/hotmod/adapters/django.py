"""The Django adapter: the app registry, the admin, signals, template libraries and the URL
resolver follow reloads of a project's modules.

What Django keeps outside the modules, and what a reload does with it:

- **models** (``apps.all_models``, each ``AppConfig.models``): the classes a replaced module
  defines leave the registry before it re-executes, so the new classes register without
  "Model ... was already registered"; on rollback the registry holds the old classes again.
- **admin** (``AdminSite._registry`` of every site): registrations of the replaced modules'
  models, or with their ``ModelAdmin`` classes, or made by a replaced ``<app>.admin`` module,
  leave the registry; the re-executed admin modules register the new classes.
- **signals** (every ``Signal`` held by a loaded module): receivers defined in a replaced
  module are disconnected before it re-executes (with or without ``dispatch_uid``).
- **template libraries** (each Django template engine's ``template_libraries`` and
  builtins): re-read from the re-executed ``templatetags`` modules; compiled templates are
  dropped from the cached loaders.
- **URLs**: ``include()`` and ``admin.site.urls`` put module objects and pattern lists into
  resolvers made when the including module ran. After a reload, every resolver in the tree of
  ``ROOT_URLCONF`` that holds a replaced module (or the URLs of an admin site whose registry
  changed) is replaced by a fresh one, so the resolver sees the new urlconf even when the
  including module was not re-executed; then ``clear_url_caches()`` and ``apps.clear_cache()``.

``project_packages()`` names the packages of a Django project: what ``hotmod.django`` and
``hotmod.wsgi``/``hotmod.asgi`` watch for a Django application. ``TemplateFiles`` is how they
show an edited template: Django's cached template loader keeps every template it compiled,
and only Django's own autoreloader (off under hotmod) resets it.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.dispatch import Signal

from hotmod._module_dict import live_modules
from hotmod._system_paths import HOTMOD_DIR, system_dirs
from hotmod.adapters._base import Adapter

__all__ = ["DjangoRegistries", "TemplateFiles", "project_packages"]

logger = logging.getLogger(__name__)

_ADMIN_SITES = "django.contrib.admin.sites"


def _namespace(module: object) -> dict[str, Any]:
    """A module's globals, read without any hook of its class (never evaluates lazy objects)."""
    if not issubclass(type(module), ModuleType):
        return {}
    found: dict[str, Any] = object.__getattribute__(module, "__dict__")
    return found


def _module_of(obj: object) -> str | None:
    """The module that defines a function, method or class (None for anything else)."""
    func = getattr(obj, "__func__", obj)  # a bound method: its function
    if not callable(func):
        return None
    name = getattr(func, "__module__", None)
    return name if isinstance(name, str) else None


def project_packages(*also: str) -> tuple[str, ...]:
    """The top-level packages of the running Django project, plus ``also``.

    They are the packages of ``INSTALLED_APPS`` whose code is not in the standard library or
    site-packages (your apps), and the packages of ``settings.SETTINGS_MODULE``,
    ``ROOT_URLCONF`` and ``WSGI_APPLICATION`` (the project package made by
    ``startproject``), each reduced to its top-level package. Empty when Django's app registry
    is not ready (``django.setup()`` has not run).
    """
    found: list[str] = [name for name in also if name]
    if settings.configured and apps.ready:
        skip = (*system_dirs(), HOTMOD_DIR)
        for config in apps.get_app_configs():
            path = os.path.realpath(config.path)
            if not path.startswith(skip):
                found.append(config.name)
        for setting in ("SETTINGS_MODULE", "ROOT_URLCONF", "WSGI_APPLICATION"):
            value = getattr(settings, setting, None)
            if isinstance(value, str) and value:
                found.append(value)
    tops: list[str] = []
    for name in found:
        top = name.partition(".")[0]
        if top not in tops:
            tops.append(top)
    return tuple(tops)


@dataclass
class _State:
    # (registry dict, its items before detach): app models, admin registries
    registries: list[tuple[dict[Any, Any], list[tuple[Any, Any]]]] = field(default_factory=list)
    signals: list[tuple[Signal, list[Any]]] = field(default_factory=list)
    models: bool = False  # models left the app registry: its caches are cleared
    sites: list[Any] = field(default_factory=list)  # admin sites whose registry changed
    # resolvers replaced at commit: (list of patterns, index, the resolver that was there)
    replaced: list[tuple[list[Any], int, Any]] = field(default_factory=list)
    loaded: int = 0  # how many modules the module dict held at detach


class DjangoRegistries(Adapter[_State]):
    """Keeps Django's registries in step with the modules of a reload (see the module doc)."""

    name = "django"
    requires = "django"

    def __init__(self) -> None:
        # module name -> module object already scanned for signals; the signals found
        self._scanned: dict[str, object] = {}
        self._signals: weakref.WeakSet[Signal] = weakref.WeakSet()
        # the module dict's size and last entry when every module in it had been scanned: the
        # same again, no module was added or replaced since (a module enters the dict at its
        # end), and the walk is not needed
        self._walked: tuple[int, str, int] | None = None
        # The first scan walks the globals of every loaded module (a few ms): done now, when
        # the first Reloader selects this adapter, not by the first reload. Later ones look
        # only at modules imported (or replaced) since.
        self._all_signals()

    # -- the three phases ------------------------------------------------------------------

    def detach(self, modules: Mapping[str, ModuleType]) -> _State:
        state = _State(loaded=len(live_modules()))
        if not (settings.configured and apps.ready):
            return state
        names = frozenset(modules)
        try:
            self._detach_models(names, state)
            self._detach_admin(names, modules, state)
            self._detach_signals(names, state)
        except BaseException:
            self._put_back(state)
            raise
        if state.models:
            apps.clear_cache()
        return state

    def commit(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        if not (settings.configured and apps.ready):
            return
        if state.models:  # (new models clear the caches as they register)
            apps.clear_cache()
        if not modules:  # lazy mode: the modules re-execute at their next import
            _clear_url_caches()
            return
        names = frozenset(modules)
        _refresh_template_libraries(names)
        self._fresh_resolvers(names, state)
        _clear_url_caches()
        self._scan_reloaded(modules, state)
        settings_module = getattr(settings, "SETTINGS_MODULE", None)
        if settings_module in names:
            logger.warning(
                "%s was re-executed, but Django read its settings when the process started: "
                "restart the server for changed settings to take effect",
                settings_module,
            )

    def restore(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        self._put_back(state)
        if settings.configured and apps.ready:
            apps.clear_cache()
            _refresh_template_libraries(frozenset(modules))
            _clear_url_caches()

    # -- models, admin, signals ------------------------------------------------------------

    @staticmethod
    def _detach_models(names: frozenset[str], state: _State) -> None:
        seen: set[int] = set()
        registries = [*apps.all_models.values()]
        registries += [config.models for config in apps.get_app_configs()]
        for registry in registries:
            if id(registry) in seen:  # an AppConfig's models is its all_models entry
                continue
            seen.add(id(registry))
            gone = [key for key, model in registry.items() if model.__module__ in names]
            if gone:
                state.registries.append((registry, list(registry.items())))
                state.models = True
                for key in gone:
                    del registry[key]

    @staticmethod
    def _detach_admin(
        names: frozenset[str], modules: Mapping[str, ModuleType], state: _State
    ) -> None:
        sites_module = live_modules().get(_ADMIN_SITES)
        if sites_module is None:
            return
        # models an admin module (``<app>.admin``) holds: registered there with the default
        # ModelAdmin, so they leave with it
        held = {
            id(value)
            for name, module in modules.items()
            if name == "admin" or name.endswith(".admin")
            for value in list(_namespace(module).values())
            if isinstance(value, type)
        }
        for site in list(getattr(sites_module, "all_sites", ())):
            registry = site._registry
            gone = [
                model
                for model, model_admin in registry.items()
                if model.__module__ in names
                or type(model_admin).__module__ in names
                or id(model) in held
            ]
            if gone:
                state.registries.append((registry, list(registry.items())))
                state.sites.append(site)
                for model in gone:
                    del registry[model]

    def _detach_signals(self, names: frozenset[str], state: _State) -> None:
        for signal in self._all_signals():
            if not signal.receivers:  # (most of Django's own: no lock, no copy)
                continue
            with signal.lock:
                receivers = list(signal.receivers)
                kept = [entry for entry in receivers if _receiver_module(entry) not in names]
                if len(kept) != len(receivers):
                    state.signals.append((signal, receivers))
                    signal.receivers = kept
                    signal.sender_receivers_cache.clear()

    def _all_signals(self) -> list[Signal]:
        """The signals held in the globals of loaded modules (each module scanned once per
        module object; the module dict is walked only when a module may have been added or
        replaced since the last walk, see ``_walked``)."""
        live = live_modules()
        if self._walked is None or self._walked != _last_entry(live):
            for name, module in list(live.items()):
                self._scan(name, module)
            self._walked = _last_entry(live)
        return list(self._signals)

    def _scan(self, name: str, module: object) -> None:
        if self._scanned.get(name) is module:
            return
        self._scanned[name] = module
        for value in list(_namespace(module).values()):
            if issubclass(type(value), Signal):
                self._signals.add(value)

    def _scan_reloaded(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        """After a reload that added no module to the module dict and took none out: its new
        module objects are the only ones not scanned, and the next reload need not walk the
        dict (each reload moved its modules to the dict's end)."""
        live = live_modules()
        if self._walked is None or len(live) != state.loaded:
            return  # (the next look walks the dict)
        for name, module in modules.items():
            self._scan(name, module)
        self._walked = _last_entry(live)

    @staticmethod
    def _put_back(state: _State) -> None:
        """Every registry, signal and urlconf list back as it was before ``detach``."""
        for patterns, index, resolver in reversed(state.replaced):
            patterns[index] = resolver
        state.replaced.clear()
        for registry, items in reversed(state.registries):
            registry.clear()
            registry.update(items)
        for signal, receivers in reversed(state.signals):
            with signal.lock:
                signal.receivers = receivers
                signal.sender_receivers_cache.clear()

    # -- URL resolvers ---------------------------------------------------------------------

    def _fresh_resolvers(self, names: frozenset[str], state: _State) -> None:
        urlconf = getattr(settings, "ROOT_URLCONF", None)
        live = live_modules()
        root = live.get(urlconf) if isinstance(urlconf, str) else None
        if root is None:
            return  # not loaded yet: its first use builds everything from the new modules
        admin_urls = {site.name: site for site in state.sites}
        patterns = _namespace(root).get("urlpatterns")
        if isinstance(patterns, list):
            _refresh_patterns(patterns, names, live, admin_urls, state.replaced)


def _last_entry(modules: dict[str, Any]) -> tuple[int, str, int] | None:
    """The module dict's size and last entry (name, id of the object), None when empty or
    changed while read."""
    try:
        name = next(reversed(modules))
        return len(modules), name, id(modules[name])
    except (StopIteration, KeyError, RuntimeError):
        return None


def _receiver_module(entry: Any) -> str | None:
    receiver = entry[1]
    if isinstance(receiver, weakref.ReferenceType):
        receiver = receiver()
    return _module_of(receiver)


def _refresh_patterns(
    patterns: list[Any],
    names: frozenset[str],
    live: Mapping[str, ModuleType],
    admin_urls: Mapping[str, Any],
    replaced: list[tuple[list[Any], int, Any]],
    *,
    depth: int = 0,
) -> bool:
    """Replace the resolvers in ``patterns`` that hold a replaced urlconf module (or the URLs
    of an admin site whose registry changed), and those above a replaced one. True if any
    was replaced."""
    from django.urls import URLResolver

    if depth > 50:  # a urlconf including itself; Django fails on it anyway
        return False
    changed = False
    for index, entry in enumerate(patterns):
        if not isinstance(entry, URLResolver):
            continue
        source = entry.urlconf_name
        new_source = source
        if isinstance(source, ModuleType):
            current = live.get(source.__name__)
            if source.__name__ in names and current is not None and current is not source:
                new_source = current
        elif entry.app_name == "admin" and entry.namespace in admin_urls:
            new_source = admin_urls[entry.namespace].get_urls()
        children = (
            _namespace(new_source).get("urlpatterns")
            if isinstance(new_source, ModuleType)
            else new_source
        )
        below = isinstance(children, list) and _refresh_patterns(
            children, names, live, admin_urls, replaced, depth=depth + 1
        )
        if new_source is not source or below:
            patterns[index] = URLResolver(
                entry.pattern, new_source, entry.default_kwargs, entry.app_name, entry.namespace
            )
            replaced.append((patterns, index, entry))
            changed = True
    return changed


def _clear_url_caches() -> None:
    from django.urls import clear_url_caches

    clear_url_caches()


def _engines() -> Iterable[Any]:
    """The Django template engines created so far: of ``TEMPLATES``, and the form renderer's.

    One not created yet has read no library: it reads those running when it is created. So
    none is created here (Django creates them on first use, importing every installed
    ``templatetags`` module: that was most of the first reload's time).
    """
    from django.template import engines
    from django.template.backends.django import DjangoTemplates

    created = list(getattr(engines, "_engines", {}).values())
    found = [backend for backend in created if isinstance(backend, DjangoTemplates)]
    from django.forms.renderers import get_default_renderer

    if get_default_renderer.cache_info().currsize:  # the renderer exists
        renderer = get_default_renderer()
        renderer_backend = vars(renderer).get("engine")  # a cached_property, if computed
        if isinstance(renderer_backend, DjangoTemplates) and renderer_backend not in found:
            found.append(renderer_backend)
    return [backend.engine for backend in found]


def _refresh_template_libraries(names: frozenset[str]) -> None:
    """Template libraries (``{% load %}`` names, builtins) of the modules ``names`` are read
    again from the modules running now; compiled templates are dropped when one changed."""
    if not any(".templatetags." in name for name in names) and not _has_library(names):
        return
    for engine in _engines():
        changed = False
        for library, path in engine.libraries.items():
            if path in names:
                engine.template_libraries[library] = _library(path)
                changed = True
        for index, path in enumerate(engine.builtins):
            if path in names:
                engine.template_builtins[index] = _library(path)
                changed = True
        if changed:
            for loader in engine.template_loaders:
                reset = getattr(loader, "reset", None)
                if reset is not None:
                    reset()


def _has_library(names: frozenset[str]) -> bool:
    return any(
        path in names
        for engine in _engines()
        for path in (*engine.libraries.values(), *engine.builtins)
    )


def _library(path: str) -> Any:
    from django.template.library import import_library

    return import_library(path)


class TemplateFiles:
    """The files of the project's template folders (Django's own are not among them), checked
    before each request: when any was added, removed or changed since the last check, the
    template loaders are reset, as Django's autoreloader does (``reset_loaders``), so the
    request renders the edited template. Costs a walk of those folders and a ``stat`` of each
    file per request."""

    def __init__(self) -> None:
        self._signature = self._now()

    @staticmethod
    def _now() -> tuple[tuple[str, int], ...]:
        from django.template.autoreload import get_template_directories

        found: list[tuple[str, int]] = []
        for folder in get_template_directories():
            for root, _dirs, files in os.walk(folder):
                for name in files:
                    path = os.path.join(root, name)
                    try:
                        found.append((path, os.stat(path).st_mtime_ns))
                    except OSError:
                        continue
        found.sort()
        return tuple(found)

    def check(self) -> None:
        """Reset the template loaders if a template file changed since the last check."""
        signature = self._now()
        if signature != self._signature:
            self._signature = signature
            from django.template.autoreload import reset_loaders

            reset_loaders()
