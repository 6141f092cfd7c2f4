"""The browser follows the code: the dev servers' live reload and error overlay, end to end.

The Flask and Starlette examples (and a FastAPI app) are served for real on 127.0.0.1 and
opened in headless Chromium (Debian's ``chromium``, driven over the DevTools protocol by
``chromium.py``): a saved view shows in the open page with no user action, a broken edit shows
the overlay (file, line, the lines around it) over the still-working page, and the fix removes
it. The HTTP-level tests (no browser) check that other responses are byte for byte what they
are without the feature, and that streams never hold up a server.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chromium import Chromium, Page
from conftest import Project
from test_examples import (
    DEADLINE,
    LiveProcess,
    copy_example,
    edit,
    http_get,
    live,
    python,
    subprocess_env,
    write_atomic,
)

__all__ = ["live"]  # the fixture, imported for pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
TITLE = "document.getElementById('title') && document.getElementById('title').textContent"
OVERLAY = "document.getElementById('__hotmod_overlay__')"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    browser = Chromium()  # fails (never skips) with the command that installs it
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Chromium) -> Iterator[Page]:
    tab = chromium.page()
    yield tab
    tab.close()


def serve(live: Callable[..., LiveProcess], args: list[str], cwd: Path) -> str:
    server = live(args, cwd=cwd)
    port = re.search(r"serving http://127\.0\.0\.1:(\d+)", server.line())
    assert port is not None, server.text
    return f"http://127.0.0.1:{port.group(1)}"


FASTAPI_APP = {
    "fastapi_demo/__init__.py": "",
    "fastapi_demo/main.py": """\
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse

        app = FastAPI()


        @app.get("/page", response_class=HTMLResponse)
        def page() -> str:
            return (
                "<!doctype html><html><body><h1 id='title'>FastAPI page</h1>"
                "<button id='button' onclick=\\"this.textContent='clicked'\\">click me</button>"
                "</body></html>"
            )


        @app.get("/items")
        def items() -> dict[str, list[int]]:
            return {"items": [1, 2, 3]}
        """,
    "serve.py": """\
        import logging, socket, sys
        import uvicorn
        import hotmod

        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        print(f"serving http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        config = uvicorn.Config(hotmod.asgi("fastapi_demo.main:app"), log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
        """,
}


def prepare(tmp_path: Path, framework: str) -> tuple[Path, list[str], Path, str]:
    """(server folder, command, the views file, the page's title) of one framework."""
    if framework == "fastapi":
        for name, text in FASTAPI_APP.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(textwrap.dedent(text))
        return tmp_path, python("serve.py"), tmp_path / "fastapi_demo/main.py", "FastAPI page"
    folder = f"{framework}_app"
    root = copy_example(tmp_path, folder) / folder
    views = root / f"{framework}_demo" / "views.py"
    return root, python("serve.py", "--port", "0"), views, f"{framework.capitalize()} page"


@pytest.mark.browser
@pytest.mark.parametrize("framework", ["flask", "starlette", "fastapi"])
def test_open_page_follows_edits_and_shows_the_overlay(
    tmp_path: Path, live: Callable[..., LiveProcess], page: Page, framework: str
) -> None:
    root, command, views, title = prepare(tmp_path, framework)
    base = serve(live, command, root)
    page.goto(f"{base}/page")
    assert page.wait(TITLE) == title
    page.wait("window.__hotmod__ && window.__hotmod__.boot")  # the stream said hello

    # Save a view: the open page shows the new text, nobody touches the browser.
    edit(views, title, "Edited page")
    page.wait(f"{TITLE} === 'Edited page'")

    # A broken edit: the overlay names the file and line; the old page still works.
    text = views.read_text()
    broken_line = text.splitlines().index(next(ln for ln in text.splitlines() if "Edited" in ln))
    write_atomic(views, text.replace("Edited page", 'Broken page" +* ('))
    overlay = page.wait(f"{OVERLAY} && {OVERLAY}.textContent")
    assert "SyntaxError" in overlay, overlay
    assert f"{views.name}, line {broken_line + 1}" in overlay, overlay
    assert "Broken page" in overlay  # the failing line itself
    assert "site-packages" not in overlay
    if framework == "flask":
        # Every run saves the screenshot; HOTMOD_UPDATE_SCREENSHOT=1 also replaces the one in
        # docs/ that README links to (so a test run leaves the tracked file alone).
        shot = tmp_path / "overlay.png"
        page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("HOTMOD_UPDATE_SCREENSHOT") == "1":
            DOCS.mkdir(exist_ok=True)
            shutil.copyfile(shot, DOCS / "overlay.png")
    assert page.eval(TITLE) == "Edited page"
    page.eval("document.getElementById('button').click()")
    assert page.eval("document.getElementById('button').textContent") == "clicked"

    # Fix it: the overlay goes, the new content shows.
    write_atomic(views, text.replace("Edited page", "Fixed page"))
    page.wait(f"{TITLE} === 'Fixed page' && !{OVERLAY}")


@pytest.mark.browser
def test_error_at_import_shows_the_failing_line_and_a_new_tab_sees_it(
    tmp_path: Path, live: Callable[..., LiveProcess], chromium: Chromium, page: Page
) -> None:
    root, command, views, title = prepare(tmp_path, "starlette")
    base = serve(live, command, root)
    page.goto(f"{base}/page")
    page.wait("window.__hotmod__ && window.__hotmod__.boot")
    edit(views, "async def page(", "1 / 0\n\n\nasync def page(")
    overlay = page.wait(f"{OVERLAY} && {OVERLAY}.textContent")
    assert "ZeroDivisionError" in overlay, overlay
    assert "1 / 0" in overlay
    line = views.read_text().splitlines().index("1 / 0") + 1
    assert f"views.py, line {line}" in overlay, overlay
    other = chromium.page()  # a tab opened after the failure shows it at once
    try:
        other.goto(f"{base}/page")
        assert "ZeroDivisionError" in other.wait(f"{OVERLAY} && {OVERLAY}.textContent")
        assert other.eval(TITLE) == title  # the last good code serves the page
    finally:
        other.close()


@pytest.mark.browser
def test_page_reloads_once_after_the_server_restarted(
    tmp_path: Path, live: Callable[..., LiveProcess], page: Page
) -> None:
    root, _, views, _ = prepare(tmp_path, "flask")
    server = live(python("serve.py", "--port", "0"), cwd=root)
    port = re.search(r"http://127\.0\.0\.1:(\d+)", server.line())
    assert port is not None
    base = f"http://127.0.0.1:{port.group(1)}"
    page.goto(f"{base}/page")
    first = page.wait("window.__hotmod__ && window.__hotmod__.boot")
    page.eval("window.__marker__ = 1")
    server.kill()
    edit(views, "Flask page", "After restart")  # changed while no server ran
    live(python("serve.py", "--port", port.group(1)), cwd=root).line()  # new process, same port
    page.wait(f"{TITLE} === 'After restart'", timeout=40)  # reloaded by itself
    assert page.eval("window.__marker__") is None
    assert page.wait("window.__hotmod__ && window.__hotmod__.boot") != first


@pytest.mark.browser
def test_page_served_just_before_a_restart_reloads_at_the_new_servers_first_hello(
    tmp_path: Path, live: Callable[..., LiveProcess], page: Page
) -> None:
    """The server restarts before the page's event stream first connected (it is blocked
    here, as a loaded machine can delay it): the page never heard the old server, and its
    first hello comes from a boot made after the page was served, so it reloads."""
    root, _, views, _ = prepare(tmp_path, "flask")
    server = live(python("serve.py", "--port", "0"), cwd=root)
    port = re.search(r"http://127\.0\.0\.1:(\d+)", server.line())
    assert port is not None
    base = f"http://127.0.0.1:{port.group(1)}"
    page.send("Network.enable")
    page.send("Network.setBlockedURLs", urls=["*/__hotmod__/events*"])
    page.goto(f"{base}/page")
    page.wait("window.__hotmod__ && window.__hotmod__.boot")
    page.eval("window.__marker__ = 1")
    server.kill()
    edit(views, "Flask page", "After restart")
    live(python("serve.py", "--port", port.group(1)), cwd=root).line()
    page.send("Network.setBlockedURLs", urls=[])
    page.wait(f"{TITLE} === 'After restart'", timeout=40)
    assert page.eval("window.__marker__") is None


# -- HTTP level (no browser) -------------------------------------------------------------------

COMPARE = """
import hashlib, json, httpx, hotmod, asyncio
from werkzeug.test import Client

ASKS = [
    {{}},
    {{"accept": "text/html,application/xhtml+xml,*/*;q=0.8", "sec-fetch-dest": "document"}},
    {{"accept": "text/html"}},
]

def stable(items):
    # Date is the clock when the answer was made: two answers a second apart differ in it.
    return sorted((k, "<clock>" if k.lower() == "date" else v) for k, v in items)

def answers(flag):
    out = []
    wsgi = Client(hotmod.wsgi("mysite.web:app", browser_reload=flag))
    for path in {paths!r}:
        for headers in ASKS:
            response = wsgi.get(path, headers=headers)
            data = response.get_data()
            out.append([path, headers, response.status, stable(response.headers.items()),
                        hashlib.sha256(data).hexdigest(), b"</body>" in data])
    app = hotmod.asgi("mysite.api:app", browser_reload=flag)

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in {paths!r}:
                for headers in ASKS:
                    response = await client.get(path, headers=headers)
                    out.append([path, headers, response.status_code,
                                stable(response.headers.items()),
                                hashlib.sha256(response.content).hexdigest()])
    asyncio.run(run())
    return out

emit(on=answers(True), off=answers(False))
"""

SITE = {
    "mysite/__init__.py": "",
    "mysite/data.bin": "",
    "mysite/web.py": """\
        import pathlib
        from flask import Flask, Response, send_file, stream_with_context

        app = Flask(__name__)
        HERE = pathlib.Path(__file__).parent

        @app.get("/json")
        def json_view():
            return {"a": [1, 2, 3], "html": "</body>"}

        @app.get("/file")
        def file_view():
            return send_file(HERE / "data.bin", mimetype="application/octet-stream")

        @app.get("/stream")
        def stream_view():
            return Response((f"<p>{i}</p></body>" for i in range(3)), mimetype="text/html")

        @app.get("/page")
        def page():
            return "<html><body><p>hi</p></body></html>"
        """,
    "mysite/api.py": """\
        import pathlib
        from starlette.applications import Starlette
        from starlette.responses import (FileResponse, HTMLResponse, JSONResponse,
                                         StreamingResponse)
        from starlette.routing import Route

        HERE = pathlib.Path(__file__).parent

        async def json_view(request):
            return JSONResponse({"a": [1, 2, 3], "html": "</body>"})

        async def file_view(request):
            return FileResponse(HERE / "data.bin", media_type="application/octet-stream")

        async def chunks():
            for i in range(3):
                yield f"<p>{i}</p></body>"

        async def stream_view(request):
            return StreamingResponse(chunks(), media_type="text/html")

        async def page(request):
            return HTMLResponse("<html><body><p>hi</p></body></html>")

        app = Starlette(routes=[Route("/json", json_view), Route("/file", file_view),
                                Route("/stream", stream_view), Route("/page", page)])
        """,
}


def test_other_responses_are_byte_identical_with_and_without_the_feature(
    project: Project,
) -> None:
    project.write({name: textwrap.dedent(text) for name, text in SITE.items()})
    (project.root / "mysite" / "data.bin").write_bytes(bytes(range(256)) * 40)
    result = project.result(COMPARE.format(paths=["/json", "/file", "/stream", "/page"]))
    on, off = result["on"], result["off"]
    assert isinstance(on, list)
    assert isinstance(off, list)
    for with_feature, without in zip(on, off, strict=True):
        path, headers = with_feature[0], with_feature[1]
        if path == "/page" and headers:  # a browser asking for an HTML page: injected
            assert with_feature != without
            continue
        assert with_feature == without, (path, headers)
    # The page asked by a browser got the script, Content-Length fixed (werkzeug checks it).
    pages = [a for a in on if a[0] == "/page" and a[1] and len(a) == 6]
    assert pages
    assert all(dict(a[3])["Content-Length"] != "35" for a in pages)


def _raw_get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_reserved_paths_answer_only_get_and_a_single_request_server_is_not_held(
    tmp_path: Path, live: Callable[..., LiveProcess]
) -> None:
    # werkzeug unthreaded handles one request at a time: the stream answers at once.
    root, _, _, _ = prepare(tmp_path, "flask")
    script = root / "single.py"
    script.write_text(
        textwrap.dedent("""\
            import hotmod
            from werkzeug.serving import make_server
            server = make_server("127.0.0.1", 0, hotmod.wsgi("flask_demo:create_app()"))
            print(f"serving http://127.0.0.1:{server.port}", flush=True)
            server.serve_forever()
            """)
    )
    base = serve(live, python("single.py"), root)
    port = int(base.rsplit(":", 1)[1])
    started = time.monotonic()
    status, headers, body = _raw_get(port, "/__hotmod__/events")
    assert time.monotonic() - started < 5
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert b"retry: " in body
    assert b'"kind": "hello"' in body
    assert b'"kind": "bye"' in body
    assert _raw_get(port, "/__hotmod__/client.js")[0] == 200
    assert _raw_get(port, "/__hotmod__/events", "POST")[0] == 405
    assert _raw_get(port, "/__hotmod__/client.js", "DELETE")[0] == 405
    assert http_get(f"{base}/")[1] == "Hello from Flask!"


def _connect(port: int) -> socket.socket:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        except ConnectionRefusedError:  # printed its port, not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_open_stream_never_holds_up_uvicorns_shutdown(
    tmp_path: Path, live: Callable[..., LiveProcess]
) -> None:
    root, command, _, _ = prepare(tmp_path, "starlette")
    server = live(command, cwd=root)
    port = re.search(r"127\.0\.0\.1:(\d+)", server.line())
    assert port is not None
    stream = _connect(int(port.group(1)))
    try:
        stream.sendall(b"GET /__hotmod__/events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b'"kind": "hello"' not in received:
            chunk = stream.recv(65536)
            assert chunk, received
            received += chunk
        started = time.monotonic()
        assert server.interrupt() == 0  # Ctrl-C with a stream open
        assert time.monotonic() - started < 5  # not the stream's 20 s, not forever
    finally:
        stream.close()


def test_events_report_each_reload_applied_by_the_stream_itself(
    tmp_path: Path, live: Callable[..., LiveProcess]
) -> None:
    # No request but the stream: the stream is the safe point that applies the change.
    root, command, views, _ = prepare(tmp_path, "flask")
    base = serve(live, command, root)
    port = int(base.rsplit(":", 1)[1])
    stream = _connect(port)
    try:
        stream.sendall(b"GET /__hotmod__/events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""

        def until(text: bytes) -> None:
            nonlocal received
            deadline = time.monotonic() + DEADLINE
            while text not in received:
                assert time.monotonic() < deadline, received
                chunk = stream.recv(65536)
                assert chunk, received
                received += chunk

        until(b'"kind": "hello"')
        edit(views, "Hello from Flask!", "Edited")
        until(b'"kind": "reload"')
        edit(views, '"Edited"', '"Edited" +')
        until(b'"kind": "error"')
        assert b'"SyntaxError"' in received
        assert b"views.py" in received
    finally:
        stream.close()
    assert http_get(f"{base}/")[1] == "Edited"  # the change applied by the stream serves


GUNICORN_APP = """\
import logging
import hotmod
logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s: %(message)s")
app = hotmod.wsgi("flask_demo:create_app()")
"""


@pytest.mark.parametrize(
    "workers",
    [["-w", "2", "--preload", "-k", "gthread", "--threads", "4"], ["-w", "2"]],
    ids=["gthread-2-workers-preload", "sync-2-workers"],
)
def test_the_event_stream_under_gunicorn(
    tmp_path: Path, live: Callable[..., LiveProcess], workers: list[str]
) -> None:
    """Threaded workers (forked from a --preload master: the change reaches the worker
    through its parent's pipe, and the stream applies it) keep the stream open and announce
    the reload; a sync worker answers the stream at once and is never held by it."""
    from test_processes import gunicorn_args

    root, _, views, _ = prepare(tmp_path, "flask")
    (root / "wsgi_app.py").write_text(GUNICORN_APP)
    args = [arg for arg in gunicorn_args(tmp_path) if arg not in ("-w", "2")]
    server = live([*args, *workers, "wsgi_app:app"], cwd=root, env=subprocess_env(root))
    server.expect_match("*Listening at: http://127.0.0.1:*", "stderr")
    found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", server.text["stderr"])
    assert found is not None
    port = int(found.group(1))
    base = f"http://127.0.0.1:{port}"
    if "gthread" not in workers:
        started = time.monotonic()
        status, headers, body = _raw_get(port, "/__hotmod__/events")
        assert time.monotonic() - started < 5  # answered, not held
        assert (status, headers["Content-Type"]) == (200, "text/event-stream")
        assert b'"kind": "hello"' in body
        assert b'"kind": "bye"' in body
        assert b"retry: " in body
        edit(views, "Hello from Flask!", "Edited")
        deadline = time.monotonic() + DEADLINE
        while http_get(f"{base}/")[1] != "Edited":
            assert time.monotonic() < deadline
        return
    stream = _connect(port)
    try:
        stream.sendall(b"GET /__hotmod__/events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        deadline = time.monotonic() + DEADLINE
        while b'"kind": "hello"' not in received:
            assert time.monotonic() < deadline, received
            received += stream.recv(65536)
        edit(views, "Hello from Flask!", "Edited")
        while b'"kind": "reload"' not in received:
            assert time.monotonic() < deadline, received
            chunk = stream.recv(65536)
            assert chunk, received
            received += chunk
    finally:
        stream.close()
    # every worker serves the new code (the master watches; its workers apply it)
    for _ in range(10):
        assert http_get(f"{base}/")[1] == "Edited"
