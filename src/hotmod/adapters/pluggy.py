"""Built-in adapter for pluggy: plugins of replaced modules leave their plugin manager.

A plugin module that registers itself (``pm.register(sys.modules[__name__])``, or an object
of a class it defines, under a name) would fail every reload with "Plugin name already
registered": the old module object still holds the name. Before the modules are evicted, each
``PluginManager`` their globals hold unregisters the plugins that are one of the modules, or
a class or an instance of a class defined in one; the new code registers its own. On rollback
the failed attempt's registrations are unregistered and the old plugins registered again, in
their order (the order hooks are called in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from hotmod.adapters._base import Adapter
from hotmod.adapters._scan import defined_in, held

if TYPE_CHECKING:  # pluggy itself is imported when a reload needs it (see detach)
    from pluggy import PluginManager

__all__ = ["PluggyPlugins"]


@dataclass
class _Manager:
    manager: PluginManager
    before: list[tuple[str, object]]  # every (name, plugin) registered, in order
    removed: set[int]  # ids of the plugins unregistered by detach


def _replaced(plugin: object, modules: Mapping[str, ModuleType]) -> bool:
    if isinstance(plugin, ModuleType):
        return any(plugin is module for module in modules.values())
    return defined_in(plugin, modules)


class PluggyPlugins(Adapter[list[_Manager]]):
    """Plugins that a replaced module is, defines or instantiates are unregistered from the
    plugin managers its globals hold, and registered again on rollback."""

    name = "pluggy"
    requires = "pluggy"

    def detach(self, modules: Mapping[str, ModuleType]) -> list[_Manager]:
        from pluggy import PluginManager  # imported already: ``requires``

        state: list[_Manager] = []
        try:
            for manager in held(modules, PluginManager):
                before = [(n, p) for n, p in manager.list_name_plugin() if p is not None]
                entry = _Manager(manager, before, set())
                state.append(entry)
                for name, plugin in before:
                    if _replaced(plugin, modules):
                        manager.unregister(plugin, name)
                        entry.removed.add(id(plugin))
        except BaseException:
            self.restore(modules, state)
            raise
        return state

    def restore(self, modules: Mapping[str, ModuleType], state: list[_Manager]) -> None:
        for entry in reversed(state):
            manager, before = entry.manager, entry.before
            kept = {(name, id(plugin)) for name, plugin in before}
            for name, plugin in manager.list_name_plugin():
                if plugin is not None and (name, id(plugin)) not in kept:
                    manager.unregister(plugin, name)  # the failed attempt registered it
            if not entry.removed:
                continue
            # Hooks run in registration order: every plugin from the first one taken out on
            # is registered again, in the order it had.
            first = next(i for i, (_, plugin) in enumerate(before) if id(plugin) in entry.removed)
            for name, plugin in before[first:]:
                if id(plugin) not in entry.removed and manager.is_registered(plugin):
                    manager.unregister(plugin, name)
            for name, plugin in before[first:]:
                manager.register(plugin, name)
