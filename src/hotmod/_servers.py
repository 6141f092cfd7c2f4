"""WSGI and ASGI adapters that serve the newest code of an application without a restart.

``wsgi("myapp.web:app")`` and ``asgi("myapp.api:app")`` return an application for any server
(werkzeug's development server without its reloader, uvicorn without ``--reload``, gunicorn with
one worker). Before each request (ASGI: each connection scope) the changes the watcher has seen
are applied in the serving thread, and ``module:attribute`` is resolved again; a
``module:factory()`` target calls the factory again after each reload that re-executed its
module. A broken edit is rolled back and logged, and the last good application keeps serving.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from hotmod._browser import BrowserReload
from hotmod._exceptions import ArgumentTypeError
from hotmod._reloader import Reloader, applied_reloads
from hotmod._web_types import (
    ASGIApplication,
    ExcInfo,
    Receive,
    Scope,
    Send,
    StartResponse,
    WSGIApplication,
)
from hotmod._worker import SharedReloader, apply_pending

__all__ = ["VERSION_HEADER", "ASGIApp", "AppTarget", "WSGIApp", "asgi", "parse_target", "wsgi"]

logger = logging.getLogger(__name__)

# On every response: how many reloads the answering process had applied (grows with each one),
# so a client can tell which version of the code answered, even across worker processes.
VERSION_HEADER = "X-Hotmod-Version"
_VERSION_HEADER_BYTES = VERSION_HEADER.lower().encode("latin-1")


@dataclass(frozen=True)
class AppTarget:
    """A parsed ``module:attribute`` or ``module:factory()`` target."""

    module: str
    attribute: str
    factory: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.attribute}{'()' if self.factory else ''}"


def parse_target(target: object, what: str = "target") -> AppTarget:
    """Parse ``"package.module:attribute"``, optionally ending in ``()`` for a factory.

    Args:
        target: the text to parse; the attribute may be dotted (``module:api.app``).
        what: the name of the argument, for error messages.

    Returns:
        The ``AppTarget``.

    Raises:
        ArgumentTypeError: ``target`` is not a string.
        ValueError: the text is not of the form ``module:attribute``.

    Example:
        >>> parse_target("myapp.web:create_app()")
        AppTarget(module='myapp.web', attribute='create_app', factory=True)
    """
    if not isinstance(target, str):
        raise ArgumentTypeError(
            f"{what} is a 'module:attribute' string, not {type(target).__name__}: {target!r}"
        )
    module, sep, attribute = target.strip().partition(":")
    factory = attribute.endswith("()")
    if factory:
        attribute = attribute[:-2]
    if (
        not sep
        or not all(part.isidentifier() for part in module.split("."))
        or not all(part.isidentifier() for part in attribute.split("."))
    ):
        raise ValueError(
            f"{what} must look like 'package.module:app' or 'package.module:create_app()', "
            f"not {target!r}"
        )
    return AppTarget(module, attribute, factory)


class _Resolver:
    """Finds the current application object of a target, keeping the last good one.

    The first resolution happens at construction (a bad target fails at once, and the target's
    modules are imported before the Reloader indexes them).
    """

    def __init__(self, target: AppTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._module: ModuleType | None = None
        self._app: Any = None
        self._failed: object = None  # module object whose resolution failed
        self._logged: tuple[str, str] | None = None  # the last error logged (logged once)
        self.resolve()

    def _load(self) -> ModuleType:
        module = sys.modules.get(self.target.module)
        if module is None:
            module = importlib.import_module(self.target.module)
        return module

    def resolve(self) -> Any:
        """The application for the module as it is loaded now (no pending change applied)."""
        with self._lock:
            try:
                module = self._load()
            except Exception:  # eager=False: the evicted module fails to import again
                return self._keep_last("importing")
            if module is self._failed or (module is self._module and self.target.factory):
                return self._app
            try:
                app: Any = module
                for part in self.target.attribute.split("."):
                    app = getattr(app, part)
                if self.target.factory:
                    app = app()
                if not callable(app):
                    raise ArgumentTypeError(
                        f"{self.target} is {type(app).__name__}, not a callable application"
                    )
            except Exception:
                self._failed = module
                return self._keep_last("getting")
            if app is not self._app and "flask" in sys.modules:
                from hotmod.adapters.flask import follow_template_edits

                follow_template_edits(app)
            self._module, self._app, self._failed, self._logged = module, app, None, None
            return app

    def _keep_last(self, doing: str) -> Any:
        """Called in an ``except`` block: re-raise if there is no good application yet, else
        log the error (once per module version) and return the last good application."""
        if self._module is None:
            raise  # noqa: PLE0704 - always called from an except block
        error = sys.exc_info()[1]
        key = (doing, repr(error))
        if key != self._logged:
            self._logged = key
            logger.exception(
                "%s the application %s failed; still serving the last good one",
                doing,
                self.target,
            )
        return self._app


def _make(
    target: str, packages: tuple[str, ...], options: dict[str, Any]
) -> tuple[AppTarget, _Resolver, SharedReloader, bool]:
    browser_reload = options.pop("browser_reload", True)
    if not isinstance(browser_reload, bool):
        raise ArgumentTypeError(f"browser_reload must be True or False, not {browser_reload!r}")
    parsed = parse_target(target)
    for package in packages:
        if not isinstance(package, str):
            raise ArgumentTypeError(f"packages are names (str), not {package!r}")
    resolver = _Resolver(parsed)
    shared = SharedReloader(packages or _default_packages(parsed), options)
    return parsed, resolver, shared, browser_reload


def _default_packages(target: AppTarget) -> tuple[str, ...]:
    """The target's top-level package; for a Django application (its module set Django up),
    the project's packages too: its apps and its project package."""
    top = target.module.partition(".")[0]
    if "django" in sys.modules:
        from hotmod.adapters.django import project_packages

        return project_packages(top)
    return (top,)


def _template_files() -> Callable[[], None] | None:
    """For a Django application, the check that resets Django's template loaders when a
    template file changed (``hotmod.adapters.django.TemplateFiles``), made before each request;
    None otherwise."""
    if "django" not in sys.modules:
        return None
    from django.apps import apps
    from django.conf import settings

    if not settings.configured or not apps.ready:
        return None
    from hotmod.adapters.django import TemplateFiles

    return TemplateFiles().check


class _Adapter:
    """What the WSGI and ASGI adapters share: the target, its resolver and the Reloader."""

    _kind = ""

    def __init__(
        self,
        target: AppTarget,
        resolver: _Resolver,
        shared: SharedReloader,
        browser_reload: bool = True,
    ) -> None:
        self.target = target
        self._shared = shared
        self._resolver = resolver
        # Live reload and the error overlay for the browser pages (hotmod._browser).
        self._browser = BrowserReload(lambda: shared.reloader) if browser_reload else None
        # before each request: edited template files are shown (Django's cached loader)
        self._templates = _template_files()

    @property
    def reloader(self) -> Reloader:
        """The Reloader whose pending changes are applied before each request."""
        return self._shared.reloader

    def __repr__(self) -> str:
        return f"<hotmod.{self._kind} {self.target}>"

    @property
    def app(self) -> Any:
        """The application the next request would be served by (pending changes not applied)."""
        return self._resolver.resolve()


class WSGIApp(_Adapter):
    """A WSGI application that applies pending reloads and re-resolves its target per request.

    Made by ``hotmod.wsgi()``; ``reloader`` is the Reloader it shares with other adapters and
    decorators watching the same packages, ``target`` what it serves.
    """

    _kind = "wsgi"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        browser = self._browser
        if browser is not None and browser.handles(environ.get("PATH_INFO", "")):
            return browser.wsgi_endpoint(environ, start_response)
        if browser is not None:
            browser.apply()  # as below, and the open pages hear of the outcome
        else:
            apply_pending(self._shared.reloader)  # the request's thread: a safe point
        if self._templates is not None:
            self._templates()
        app: WSGIApplication = self._resolver.resolve()
        version = (VERSION_HEADER, str(applied_reloads()))

        def start_with_version(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            headers = [*headers, version]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        if browser is not None:
            return browser.wsgi_inject(app, environ, start_with_version)
        return app(environ, start_with_version)


class ASGIApp(_Adapter):
    """An ASGI application that applies pending reloads and re-resolves its target for each
    connection scope (``http``, ``websocket``); ``lifespan`` goes to the application current at
    startup. Made by ``hotmod.asgi()``."""

    _kind = "asgi"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "lifespan":
            lifespan_app: ASGIApplication = self._resolver.resolve()
            await lifespan_app(scope, receive, send)
            return
        browser = self._browser
        if browser is not None and browser.handles(scope.get("path", "")):
            await browser.asgi_endpoint(scope, receive, send)
            return
        if browser is not None:
            browser.apply()  # as below, and the open pages hear of the outcome
        else:
            apply_pending(self._shared.reloader)  # the event loop's thread, before the connection
        if self._templates is not None:
            self._templates()
        app: ASGIApplication = self._resolver.resolve()
        version = (_VERSION_HEADER_BYTES, str(applied_reloads()).encode("latin-1"))

        async def send_with_version(message: MutableMapping[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), version]}
            await send(message)

        if browser is not None:
            await browser.asgi_inject(app, scope, receive, send_with_version)
            return
        await app(scope, receive, send_with_version)


def wsgi(target: str, *packages: str, **options: Any) -> WSGIApp:
    """A WSGI application that always serves the newest code of ``target``.

    Before each request the changes the watcher has seen are applied in the request's thread,
    and ``module:attribute`` is looked up again; for ``module:factory()`` the factory is called
    again after each reload that re-executed its module. A request already running finishes with
    the code it started with. A broken edit is rolled back and logged once, and the last good
    application keeps serving. Run it with any WSGI server, without that server's own reloader.

    Args:
        target: ``"package.module:app"`` or ``"package.module:create_app()"``; the module is
            imported now.
        *packages: names of the packages to watch; default: the target's top-level package
            (for a Django project, also the packages of its apps that are not installed in
            site-packages, see ``hotmod.django``).
        **options: keyword arguments of ``Reloader`` (``paths``, ``polling``, ``on_reload``,
            ...); ``background`` is always False: changes are applied at requests.

    Returns:
        The ``WSGIApp``, a WSGI callable.

    Raises:
        ValueError: ``target`` is not of the form ``module:attribute``.
        ImportError: the target module cannot be imported.
        AttributeError: the module has no such attribute.
        PackageNotFoundError: a package to watch cannot be found.
        NotWatchedError: a package cannot be watched (standard library, site-packages).

    Example:
        >>> from werkzeug.serving import run_simple                 # doctest: +SKIP
        >>> run_simple("127.0.0.1", 5000, hotmod.wsgi("myapp.web:create_app()"))  # doctest: +SKIP
    """
    return WSGIApp(*_make(target, packages, options))


def asgi(target: str, *packages: str, **options: Any) -> ASGIApp:
    """An ASGI application that always serves the newest code of ``target``.

    For each ``http`` or ``websocket`` connection the changes the watcher has seen are applied
    (in the event loop's thread, before the connection is handed on) and ``module:attribute`` is
    looked up again; for ``module:factory()`` the factory is called again after each reload that
    re-executed its module. ``lifespan`` events go to the application current when the server
    starts (a factory's new applications do not get a new startup event). A broken edit is
    rolled back and logged once, and the last good application keeps serving.

    Args:
        target: ``"package.module:app"`` or ``"package.module:create_app()"``; the module is
            imported now.
        *packages: names of the packages to watch; default: the target's top-level package.
        **options: keyword arguments of ``Reloader``; ``background`` is always False.

    Returns:
        The ``ASGIApp``, an ASGI 3 callable.

    Raises:
        ValueError: ``target`` is not of the form ``module:attribute``.
        ImportError: the target module cannot be imported.
        AttributeError: the module has no such attribute.
        PackageNotFoundError: a package to watch cannot be found.
        NotWatchedError: a package cannot be watched (standard library, site-packages).

    Example:
        >>> import uvicorn                                            # doctest: +SKIP
        >>> uvicorn.run(hotmod.asgi("myapp.api:app"), port=8000)      # doctest: +SKIP
    """
    return ASGIApp(*_make(target, packages, options))
