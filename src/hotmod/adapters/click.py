"""Built-in adapter for click: commands of replaced modules leave the groups they were added to.

``@cli.command()`` or ``cli.add_command(cmd)`` in a command module adds to a group that
usually lives in another module (``cli.py``), which a change of the command module does not
re-execute. Re-executing the command module replaces a command of the same name, but a
command the edit renamed or removed would stay, and run its old code. Before the modules are
evicted, each ``click.Group`` their globals hold (``from myapp.cli import cli``) drops the
commands that are held by one of the modules or whose callback is defined in one; the new
code adds its own. On rollback each group gets back the very ``commands`` dict it had.

This module imports click only when a reload needs it (see ``hotmod.adapters.pluggy``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from types import ModuleType
from typing import TYPE_CHECKING

from hotmod.adapters._base import Adapter
from hotmod.adapters._scan import defined_in, held

if TYPE_CHECKING:
    from click import Command, Group

__all__ = ["ClickCommands"]

_State = list[tuple["Group", MutableMapping[str, "Command"]]]


class ClickCommands(Adapter[_State]):
    """Commands defined or held by a replaced module are taken out of the click groups its
    globals hold; each group's ``commands`` dict is put back on rollback."""

    name = "click"
    requires = "click"

    def detach(self, modules: Mapping[str, ModuleType]) -> _State:
        from click import Command, Group  # imported already: ``requires``

        commands = {id(command) for command in held(modules, Command)}
        state: _State = []
        for group in held(modules, Group):
            old = group.commands
            kept = {
                name: command
                for name, command in old.items()
                if id(command) not in commands and not defined_in(command.callback, modules)
            }
            if len(kept) != len(old):
                state.append((group, old))
                group.commands = kept  # a new dict: the old one is put back on rollback
        return state

    def restore(self, modules: Mapping[str, ModuleType], state: _State) -> None:
        for group, old in reversed(state):
            group.commands = old
