"""The browser follows the code: live reload and an error overlay for the dev servers.

``BrowserReload`` is the piece ``hotmod.wsgi``/``hotmod.asgi`` (and any other dev-server
integration) put around an application:

- it injects ``<script src=".../__hotmod__/client.js">`` before ``</body>`` of the HTML pages
  a browser asks for (``Sec-Fetch-Dest: document``, or without that header an ``Accept`` that
  names ``text/html``), when the response is ``text/html`` with a ``Content-Length``, not
  compressed and not streamed (Content-Length is fixed); every other response passes through
  byte for byte;
- it answers GET at ``/__hotmod__/client.js`` and ``/__hotmod__/events`` (Server-Sent Events,
  one connection per tab): ``reload`` after each applied reload, ``error`` with the failing
  file's lines after a rolled-back one, a ``hello`` with the process's boot id and version on
  each connection (the page reloads once when the server was restarted meanwhile).

The event stream runs no user code, so it is a safe point: it applies pending changes itself
(a process whose only open request is a stream still learns of a save). Streams block on a
condition, never poll: one thread per process (``_Announcer``) waits for the watcher (or the
parent's pipe, in a forked worker) while streams are open. A stream ends after
``STREAM_SECONDS`` (or at once in a server that handles one request at a time: it must not hold
a sync worker) and the page's EventSource reconnects after ``retry``; under uvicorn it also ends
when the process is asked to stop (SIGINT/SIGTERM), so it never holds up a shutdown or reload.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
import tokenize
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

from hotmod._reloader import Reloader, applied_reloads
from hotmod._result import ReloadResult, user_traceback
from hotmod._web_types import (
    ASGIApplication,
    ExcInfo,
    Receive,
    Scope,
    Send,
    StartResponse,
    WSGIApplication,
)
from hotmod._worker import apply_pending

__all__ = ["CLIENT_PATH", "EVENTS_PATH", "STREAM_SECONDS", "BrowserReload", "error_details"]

logger = logging.getLogger(__name__)

PREFIX = "/__hotmod__/"
EVENTS_PATH = PREFIX + "events"
CLIENT_PATH = PREFIX + "client.js"

# The longest a stream stays open; the page reconnects after ``_RETRY_MS`` (a bound on what a
# server waits for at shutdown, and on how long a threaded worker's thread is held).
STREAM_SECONDS = 20.0
_RETRY_MS = 300
# A server that handles one request at a time (gunicorn's sync worker, werkzeug unthreaded)
# gets an answer at once and the page asks again after this: a stream would hold the worker.
_SINGLE_RETRY_MS = 1000
# Bodies above this are passed through untouched (held in memory to be edited otherwise).
_MAX_BODY = 8 * 1024 * 1024
_CONTEXT_LINES = 3  # lines shown above and below the failing line

# The boot id of this server: kept by forked workers (``--preload``: one id for the tree), new
# in a restarted process. A page that reconnects to another boot id reloads once. With it, the
# wall-clock time it was made (ms): a page whose first stream answers from a boot made after
# the page was served reloads too (the server restarted before the page's stream connected).
BOOT_ID = os.urandom(6).hex()
BOOT_MS = int(time.time() * 1000)


_CLIENT_JS = (Path(__file__).with_name("_browser_client.js")).read_bytes()
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HTML_END = re.compile(rb"</html\s*>", re.IGNORECASE)


# -- what a page is told ------------------------------------------------------------------------


def error_details(result: ReloadResult, roots: Iterable[Path]) -> dict[str, Any]:
    """What the overlay shows for a failed reload: the exception, the file and line where the
    user's code failed, and the lines around it of that file only (only when the file is
    below one of ``roots``, the watched folders: nothing else of the source tree is read)."""
    error = result.error
    assert error is not None
    filename: str | None = None
    line: int | None = None
    message = str(error)
    if isinstance(error, SyntaxError) and error.filename:
        filename, line, message = error.filename, error.lineno, str(error.msg)
    else:
        tb = user_traceback(error)
        found: tuple[str, int] | None = None
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if found is None or _below(name, roots):
                found = (name, tb.tb_lineno)
            tb = tb.tb_next
        if found is not None:
            filename, line = found
    lines: list[tuple[int, str]] = []
    if filename and line and _below(filename, roots):
        lines = _lines_around(filename, line)
    return {
        "type": type(error).__name__,
        "message": message,
        "file": filename,
        "line": line,
        "lines": lines,
        "changed": [str(path) for path in result.changed],
    }


def _below(filename: str, roots: Iterable[Path]) -> bool:
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    for root in roots:
        with contextlib.suppress(OSError, ValueError):
            folder = root.resolve()
            if path == folder or folder in path.parents:
                return True
    return False


def _lines_around(filename: str, line: int) -> list[tuple[int, str]]:
    try:
        with tokenize.open(filename) as file:
            text = file.read().splitlines()
    except (OSError, SyntaxError, UnicodeDecodeError):
        try:  # a broken coding cookie: the bytes as UTF-8 with replacements
            text = Path(filename).read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            return []
    first = max(1, line - _CONTEXT_LINES)
    last = min(len(text), line + _CONTEXT_LINES)
    return [(number, text[number - 1]) for number in range(first, last + 1)]


def _event(data: dict[str, Any]) -> bytes:
    import json  # loaded by BrowserReload(), not by `import hotmod`

    return b"event: hotmod\ndata: " + json.dumps(data).encode() + b"\n\n"


# -- which requests and responses ---------------------------------------------------------------


def from_browser_page(get: Callable[[str], str | None]) -> bool:
    """A browser navigating to a page (not ``fetch()``, not an API client): Sec-Fetch-Dest
    says ``document`` or, from a client that does not send it, Accept names text/html."""
    dest = get("sec-fetch-dest")
    if dest:
        return dest.strip().lower() == "document"
    return "text/html" in (get("accept") or "").lower()


def editable_html(get: Callable[[str], str | None]) -> int | None:
    """The Content-Length of a response the script may be injected into, else None: HTML in
    an ASCII-compatible charset, not compressed, its length known (not streamed), not huge."""
    kind = (get("content-type") or "").lower()
    if not kind.startswith("text/html") or "utf-16" in kind or "utf-32" in kind:
        return None
    if (get("content-encoding") or "identity").strip().lower() != "identity":
        return None
    if "attachment" in (get("content-disposition") or "").lower():
        return None
    length = get("content-length")
    if length is None or not length.strip().isdigit():
        return None
    size = int(length)
    return size if size <= _MAX_BODY else None


def inject(body: bytes, tag: bytes) -> bytes:
    """``tag`` before the last ``</body>`` (else ``</html>``, else at the end)."""
    for pattern in (_BODY_END, _HTML_END):
        found = None
        for found in pattern.finditer(body):  # noqa: B007 - the last one
            pass
        if found is not None:
            return body[: found.start()] + tag + body[found.start() :]
    return body + tag


# -- the events of one process ------------------------------------------------------------------


class _Hub:
    """The last reload outcome of this process, and the streams waiting for the next one."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = 0  # grows with each published outcome and each due change
        self.outcome = 0  # grows with each published outcome
        self.error: dict[str, Any] | None = None
        self.event: bytes = b""  # the last outcome, as sent
        self.closing = False  # the process is asked to stop: streams end now
        self.waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.streams = 0

    def notify(self) -> None:
        """Wake every stream (call with ``cond`` held)."""
        self.seq += 1
        self.cond.notify_all()
        for loop, event in list(self.waiters):
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(event.set)


class BrowserReload:
    """Live reload and the error overlay, around one application (see the module docstring).

    A dev-server integration uses it in three steps per request:

    1. ``handles(path)``: the reserved paths are answered by ``wsgi_endpoint`` /
       ``asgi_endpoint`` (the stream is a safe point of its own);
    2. at its safe point it calls ``apply()`` instead of ``apply_pending(reloader)``, so that
       open pages hear of the outcome;
    3. it serves the request through ``wsgi_inject`` / ``asgi_inject``.

    Args:
        reloader: returns the Reloader in use (``SharedReloader.reloader``).
    """

    def __init__(self, reloader: Callable[[], Reloader]) -> None:
        import json  # noqa: F401  (now, with the feature: not in the first reload's time)

        self._reloader = reloader
        self._hub = _Hub()
        self._pid = os.getpid()
        self._announcer: _Announcer | None = None
        self._signals_hooked = False

    # -- the process's outcomes --

    @property
    def hub(self) -> _Hub:
        if self._pid != os.getpid():  # forked: the parent's streams and threads are not here
            self._pid = os.getpid()
            error = self._hub.error
            self._hub = _Hub()
            self._hub.error = error
            self._announcer = None
            self._signals_hooked = False
        return self._hub

    def apply(self) -> ReloadResult | None:
        """Apply pending changes (a safe point) and tell the open pages what happened."""
        reloader = self._reloader()
        result = apply_pending(reloader)
        self.publish(result, reloader)
        return result

    def publish(self, result: ReloadResult | None, reloader: Reloader | None = None) -> None:
        """Tell the open pages of the outcome of a reload applied elsewhere."""
        hub = self.hub
        with hub.cond:
            if result is None or not (result.reloaded or result.evicted or result.error):
                hub.cond.notify_all()  # the announcer: the pending changes were taken
                return
            if result.error is None:
                hub.error = None
                hub.event = _event({"kind": "reload", "version": applied_reloads()})
            else:
                roots = (reloader or self._reloader()).roots
                hub.error = error_details(result, roots)
                hub.event = _event({"kind": "error", "error": hub.error})
            hub.outcome += 1
            hub.notify()

    def _hello(self) -> bytes:
        return _event(
            {
                "kind": "hello",
                "boot": BOOT_ID,
                "booted": BOOT_MS,
                "pid": os.getpid(),
                "version": applied_reloads(),
                "error": self.hub.error,
            }
        )

    def tag(self, root: str) -> bytes:
        """The script tag for a page of the process (``root``: the app's mount point)."""
        return (
            f'<script src="{_attr(root + CLIENT_PATH)}" data-hotmod-boot="{BOOT_ID}" '
            f'data-hotmod-pid="{os.getpid()}" data-hotmod-version="{applied_reloads()}" '
            f'data-hotmod-served="{int(time.time() * 1000)}"></script>'
        ).encode()

    @staticmethod
    def handles(path: str) -> bool:
        """``path`` (without the mount point) is one of the reserved paths."""
        return path.startswith(PREFIX)

    # -- WSGI --

    def wsgi_endpoint(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer a request for a reserved path."""
        path = environ.get("PATH_INFO", "")
        if path not in (EVENTS_PATH, CLIENT_PATH):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such hotmod endpoint\n"]
        if environ.get("REQUEST_METHOD") != "GET":
            start_response(
                "405 Method Not Allowed", [("Allow", "GET"), ("Content-Type", "text/plain")]
            )
            return [b"only GET\n"]
        if path == CLIENT_PATH:
            start_response("200 OK", list(_CLIENT_HEADERS))
            return [_CLIENT_JS]
        start_response("200 OK", list(_STREAM_HEADERS))  # a copy: servers add to it
        if not environ.get("wsgi.multithread"):
            self.apply()  # one request at a time: answer at once, the page asks again
            retry = f"retry: {_SINGLE_RETRY_MS}\n\n".encode()
            return [retry + self._hello() + _event({"kind": "bye"})]
        return self._wsgi_stream()

    def _wsgi_stream(self) -> Iterator[bytes]:
        hub = self.hub
        self.apply()
        with hub.cond:
            seen, sent = hub.seq, hub.outcome
            hub.streams += 1
            self._announce(hub)
        deadline = time.monotonic() + STREAM_SECONDS
        try:
            yield f"retry: {_RETRY_MS}\n\n".encode() + self._hello()
            while True:
                with hub.cond:
                    while hub.seq == seen and not hub.closing:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or not hub.cond.wait(remaining):
                            break
                    woken, seen, closing = hub.seq != seen, hub.seq, hub.closing
                if closing:
                    return
                if not woken:
                    yield _event({"kind": "bye"})
                    return
                event = self._next(hub, sent)
                if event is not None:
                    sent, data = event
                    yield data
        finally:
            with hub.cond:
                hub.streams -= 1

    def _next(self, hub: _Hub, sent: int) -> tuple[int, bytes] | None:
        """After a wake-up: apply due changes (the stream is a safe point: no user code runs
        in it), then the outcome not sent yet, if any."""
        if self._reloader()._pending:
            self.apply()
        with hub.cond:
            if hub.outcome == sent:
                return None
            return hub.outcome, hub.event

    def wsgi_inject(
        self,
        app: WSGIApplication,
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """Call ``app``; into an HTML page for a browser, inject the script."""
        if environ.get("REQUEST_METHOD") != "GET" or not from_browser_page(
            lambda name: environ.get("HTTP_" + name.upper().replace("-", "_"))
        ):
            return app(environ, start_response)
        held: list[Any] = []

        def hold(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            lookup = {name.lower(): value for name, value in headers}
            if exc_info is None and editable_html(lookup.get) is not None:
                held[:] = [status, headers]
                return _no_write
            held.clear()
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        body = app(environ, hold)
        if not held:
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if not held:  # start_response was called again (with exc_info): passed on already
            return [data]
        status, headers = held
        data = inject(data, self.tag(environ.get("SCRIPT_NAME", "")))
        headers = [
            (name, str(len(data)) if name.lower() == "content-length" else value)
            for name, value in headers
        ]
        start_response(status, headers)
        return [data]

    # -- ASGI --

    async def asgi_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a connection to a reserved path."""
        path = scope.get("path", "")
        if scope.get("type") != "http" or path not in (EVENTS_PATH, CLIENT_PATH):
            if scope.get("type") == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _asgi_plain(send, 404, b"no such hotmod endpoint\n")
            return
        if scope.get("method") != "GET":
            await _asgi_plain(send, 405, b"only GET\n", ((b"allow", b"GET"),))
            return
        if path == CLIENT_PATH:
            await send(
                {"type": "http.response.start", "status": 200, "headers": _asgi(_CLIENT_HEADERS)}
            )
            await send({"type": "http.response.body", "body": _CLIENT_JS})
            return
        await self._asgi_stream(receive, send)

    async def _asgi_stream(self, receive: Receive, send: Send) -> None:
        import asyncio  # here, not at import: `import hotmod` stays light (the server has it)

        hub = self.hub
        self.apply()  # the event loop's thread, as the adapter's own safe point
        self._hook_signals()
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        waiter = (loop, wake)
        with hub.cond:
            seen, sent = hub.seq, hub.outcome
            hub.streams += 1
            hub.waiters.add(waiter)
            self._announce(hub)
        disconnected = asyncio.ensure_future(_wait_disconnect(receive))
        deadline = loop.time() + STREAM_SECONDS
        try:
            await send(
                {"type": "http.response.start", "status": 200, "headers": _asgi(_STREAM_HEADERS)}
            )
            await _asgi_chunk(send, f"retry: {_RETRY_MS}\n\n".encode() + self._hello())
            while True:
                waiting = asyncio.ensure_future(wake.wait())
                done, _ = await asyncio.wait(
                    {waiting, disconnected},
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiting.cancel()
                if disconnected in done:
                    return
                wake.clear()
                with hub.cond:
                    woken, closing = hub.seq != seen, hub.closing
                    seen = hub.seq
                if closing:
                    break
                if not woken:
                    await _asgi_chunk(send, _event({"kind": "bye"}))
                    break
                event = self._next(hub, sent)
                if event is not None:
                    sent, data = event
                    await _asgi_chunk(send, data)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            disconnected.cancel()
            with hub.cond:
                hub.streams -= 1
                hub.waiters.discard(waiter)

    async def asgi_inject(
        self, app: ASGIApplication, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Call ``app``; into an HTML page for a browser, inject the script."""
        if scope.get("type") != "http" or scope.get("method") != "GET":
            await app(scope, receive, send)
            return
        request = {
            bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        if not from_browser_page(request.get):
            await app(scope, receive, send)
            return
        held: list[MutableMapping[str, Any]] = []
        chunks: list[bytes] = []
        passing = False

        async def edit(message: MutableMapping[str, Any]) -> None:
            nonlocal passing
            kind = message.get("type")
            if passing or kind not in ("http.response.start", "http.response.body"):
                await send(message)
                return
            if kind == "http.response.start":
                headers = {
                    bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
                    for name, value in message.get("headers", ())
                }
                if editable_html(headers.get) is None:
                    passing = True
                    await send(message)
                else:
                    held.append(message)
                return
            chunks.append(bytes(message.get("body", b"")))
            if message.get("more_body", False):
                return
            start = held[0]
            data = inject(b"".join(chunks), self.tag(scope.get("root_path", "")))
            start = {
                **start,
                "headers": [
                    (
                        name,
                        str(len(data)).encode()
                        if bytes(name).lower() == b"content-length"
                        else value,
                    )
                    for name, value in start.get("headers", ())
                ],
            }
            passing = True
            await send(start)
            await send({"type": "http.response.body", "body": data, "more_body": False})

        await app(scope, receive, edit)

    # -- waiting for changes --

    def _announce(self, hub: _Hub) -> None:
        """Start this process's announcer if none runs (called with ``hub.cond`` held)."""
        announcer = self._announcer
        if announcer is None or not announcer.is_alive():
            self._announcer = _Announcer(self, hub)
            self._announcer.start()

    def _hook_signals(self) -> None:
        """Under a server that stops on SIGINT/SIGTERM in this (the main) thread, such as
        uvicorn: end the streams first, so its graceful shutdown (which waits for every open
        response) is not held up (sse-starlette issue 128). The server's handler still runs."""
        if self._signals_hooked or threading.current_thread() is not threading.main_thread():
            return
        self._signals_hooked = True
        hub = self.hub
        for number in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(number)
            if not callable(previous):
                continue  # the default action ends the process anyway

            def handler(
                signum: int,
                frame: FrameType | None,
                previous: Callable[[int, FrameType | None], Any] = previous,
            ) -> Any:
                with hub.cond:
                    hub.closing = True
                    hub.notify()
                return previous(signum, frame)

            with contextlib.suppress(ValueError, OSError):
                signal.signal(number, handler)


class _Announcer(threading.Thread):
    """While streams are open in this process: waits for the watcher (or the parent's pipe)
    to have due changes and wakes the streams, one of which applies them. Applies nothing."""

    def __init__(self, owner: BrowserReload, hub: _Hub) -> None:
        super().__init__(name="hotmod-browser-announcer", daemon=True)
        self._owner = owner
        self._hub = hub

    def run(self) -> None:
        hub = self._hub
        while True:
            with hub.cond:
                if hub.streams <= 0 or hub.closing:
                    return
            reloader = self._owner._reloader()
            if not reloader._wait_due(STREAM_SECONDS):
                continue
            with hub.cond:
                hub.notify()
                # Until a safe point took them (its publish wakes us); bounded, in case a
                # safe point outside this adapter (a @reloading call) took them silently.
                hub.cond.wait_for(lambda r=reloader: not r._pending, timeout=1.0)  # type: ignore[misc]


def _no_write(data: bytes) -> object:
    raise RuntimeError("hotmod: the write() callable is not supported for HTML pages")


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


_CLIENT_HEADERS = [
    ("Content-Type", "text/javascript; charset=utf-8"),
    ("Content-Length", str(len(_CLIENT_JS))),
    ("Cache-Control", "no-store"),
]
_STREAM_HEADERS = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-store"),
    ("X-Accel-Buffering", "no"),
]


def _asgi(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def _asgi_plain(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})


async def _asgi_chunk(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass
