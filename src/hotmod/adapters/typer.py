"""Built-in adapter for typer: commands and sub-apps of replaced modules leave the ``Typer``
app they were added to.

``@app.command()`` appends to ``app.registered_commands`` (and ``app.add_typer(sub)`` to
``app.registered_groups``): re-executing a command module whose app lives in a module that is
not re-executed would add each command a second time, and keep a renamed or removed one.
Before the modules are evicted, each ``typer.Typer`` their globals hold drops the commands
whose callback is defined in one of the modules and the sub-apps one of them holds; the new
code adds its own. typer builds its click command from these lists at each call, so the next
call runs the new code. On rollback each app gets back the very lists it had.

This module imports typer only when a reload needs it (see ``hotmod.adapters.pluggy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from hotmod.adapters._base import Adapter
from hotmod.adapters._scan import defined_in, held

if TYPE_CHECKING:
    from typer import Typer
    from typer.models import CommandInfo, TyperInfo

__all__ = ["TyperCommands"]


@dataclass
class _App:
    app: Typer
    commands: list[CommandInfo]
    groups: list[TyperInfo]


class TyperCommands(Adapter[list[_App]]):
    """Commands and sub-apps of replaced modules are taken out of the typer apps their
    globals hold; each app's lists are put back on rollback."""

    name = "typer"
    requires = "typer"

    def detach(self, modules: Mapping[str, ModuleType]) -> list[_App]:
        from typer import Typer  # imported already: ``requires``

        apps = list(held(modules, Typer))
        subapps = {id(app) for app in apps}
        state: list[_App] = []
        for app in apps:
            commands = [c for c in app.registered_commands if not defined_in(c.callback, modules)]
            groups = [g for g in app.registered_groups if id(g.typer_instance) not in subapps]
            if len(commands) != len(app.registered_commands) or len(groups) != len(
                app.registered_groups
            ):
                state.append(_App(app, app.registered_commands, app.registered_groups))
                app.registered_commands, app.registered_groups = commands, groups
        return state

    def restore(self, modules: Mapping[str, ModuleType], state: list[_App]) -> None:
        for entry in reversed(state):
            entry.app.registered_commands = entry.commands
            entry.app.registered_groups = entry.groups
