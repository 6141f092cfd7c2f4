"""The app configuration of ``hotmod.django``."""

from __future__ import annotations

import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)

# owners of the runserver command that hotmod's takes over (it extends theirs)
_EXTENDED = ("django.core", "django.contrib.staticfiles")


class HotmodConfig(AppConfig):  # type: ignore[misc]
    """Makes ``runserver`` hotmod's wherever ``hotmod.django`` is listed in INSTALLED_APPS.

    Django gives a command to the first app listing it, so ``django.contrib.staticfiles``
    (listed by ``startproject``) would keep ``runserver`` from an app appended after it.
    hotmod's command extends that one (static files are still served), so it takes over the
    name; another app's ``runserver`` (daphne's, for instance) is left alone, with a warning.
    """

    name = "hotmod.django"
    label = "hotmod"
    verbose_name = "hotmod"

    def ready(self) -> None:
        from django.core.management import get_commands

        commands = get_commands()  # cached by Django: the table every command is found in
        owner = commands.get("runserver")
        if owner in _EXTENDED:
            commands["runserver"] = self.name
        elif owner != self.name:
            logger.warning(
                "the runserver command of %s is used, not hotmod's; to reload in process, "
                "serve hotmod.wsgi(...) or hotmod.asgi(...) instead, or list hotmod.django "
                "before %s in INSTALLED_APPS",
                owner,
                owner,
            )
