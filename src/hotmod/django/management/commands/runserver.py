"""``manage.py runserver`` that reloads changed modules in process instead of restarting.

The command Django's ``runserver`` (``django.contrib.staticfiles``' when it is installed), with
these differences: the autoreloader is always off (what ``--noreload`` does), the project's
packages are watched by a hotmod Reloader, and every request first applies the changes saved
since the last request, in its own thread. Template files changed since the last request are
re-read too (Django's cached template loader is otherwise reset by the autoreloader). Open pages
follow the code as with ``hotmod.wsgi`` (live reload, the error overlay of a failed reload);
the setting ``HOTMOD_BROWSER_RELOAD = False`` turns that off.

Changes that only a restart applies restart the server, as Django's autoreloader would, through
the supervisor of ``hotmod run`` (``hotmod._supervisor``): the command runs itself again as a
supervised child. Those are the settings module and the project modules it imports (Django
reads the settings once, at start-up), the project apps' ``AppConfig`` modules (``ready()``
ran once), ``manage.py`` and the project's other files outside the watched packages. A file
that does not compile does not restart, and a child that fails to start is started again at
the next change. ``--noreload`` turns restarts off (changes are still applied in process).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.conf import settings

from hotmod._browser import BrowserReload
from hotmod._reloader import Reloader, applied_reloads
from hotmod._servers import VERSION_HEADER
from hotmod._supervisor import Reporter, declare_restart, supervise_command, supervised
from hotmod._worker import SharedReloader, apply_pending
from hotmod.adapters.django import TemplateFiles, project_packages

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as BaseCommand,
    )
else:
    from django.core.management.commands.runserver import (
        Command as BaseCommand,
    )


class SafePoints:
    """A WSGI application that applies pending changes before handing each request on."""

    def __init__(self, application: Callable[..., Iterable[bytes]], packages: tuple[str, ...]):
        self.application = application
        self.packages = packages
        self._shared = SharedReloader(packages, {})
        self._templates = TemplateFiles()
        enabled = getattr(settings, "HOTMOD_BROWSER_RELOAD", True)
        if not isinstance(enabled, bool):
            raise TypeError(
                f"settings.HOTMOD_BROWSER_RELOAD must be True or False, not {enabled!r}"
            )
        shared = self._shared
        self._browser = BrowserReload(lambda: shared.reloader) if enabled else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        browser = self._browser
        if browser is not None and browser.handles(environ.get("PATH_INFO", "")):
            return browser.wsgi_endpoint(environ, start_response)
        if browser is not None:
            browser.apply()  # the request's thread, before the request; pages hear of it
        else:
            apply_pending(self._shared.reloader)  # the request's thread, before the request
        self._templates.check()
        version = (VERSION_HEADER, str(applied_reloads()))

        def start_with_version(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, version], *exc)

        if browser is not None:
            return browser.wsgi_inject(self.application, environ, start_with_version)
        return self.application(environ, start_with_version)


class Command(BaseCommand):  # type: ignore[misc]
    help = (
        "Starts a lightweight web server for development that applies code changes in "
        "process (hotmod) instead of restarting."
    )

    def run(self, **options: Any) -> None:
        """Serve without Django's autoreloader: hotmod applies changes at each request. Unless
        ``--noreload`` is given, this process only supervises: it runs the command again as
        its child and restarts it when a change cannot be applied in process."""
        restarts = options["use_reloader"]
        options["use_reloader"] = False
        if restarts and not supervised():
            sys.exit(supervise_command([sys.executable, *sys.orig_argv[1:]], "runserver"))
        super().run(**options)

    def get_handler(self, *args: Any, **options: Any) -> SafePoints:
        handler = super().get_handler(*args, **options)
        packages = project_packages()
        safe_points = SafePoints(handler, packages)
        reloader = safe_points._shared.reloader
        index = reloader._index
        reporter = Reporter.from_environ(
            lambda name, module: index.record_for(name, module) is not None, ()
        )
        if reporter is not None:
            _declare_restarts(reloader)
            reporter.start()
        self.stdout.write(
            f"hotmod: watching {', '.join(packages)}; changes are applied before each "
            "request (Django's autoreloader is off"
            + ("; settings, AppConfig and manage.py changes restart" if reporter else "")
            + ")\n"
        )
        return safe_points


_SETTINGS_REASON = "Django read its settings when the server started"
_APP_CONFIG_REASON = "Django ran its AppConfig (ready()) when the server started"


def _declare_restarts(reloader: Reloader) -> None:
    """Mark the modules whose changes only a restart applies: the settings module and the
    watched modules it imports (directly or not), and the project apps' AppConfig modules."""
    graph = reloader.graph
    marked: dict[str, str] = {}
    settings_module = getattr(settings, "SETTINGS_MODULE", None)
    pending = [settings_module] if isinstance(settings_module, str) else []
    while pending:
        name = pending.pop()
        if name in marked or name not in graph:
            continue
        marked[name] = _SETTINGS_REASON
        pending.extend(graph.dependencies(name))
    for config in apps.get_app_configs():
        name = type(config).__module__
        if name in graph:
            marked.setdefault(name, _APP_CONFIG_REASON)
    for name, reason in marked.items():
        module = sys.modules.get(name)
        if module is not None:
            declare_restart(module, reason)
