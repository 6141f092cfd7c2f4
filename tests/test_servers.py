"""``hotmod.wsgi`` and ``hotmod.asgi`` with plain WSGI/ASGI applications (no framework needed).

Requests are made by calling the adapters directly in a fresh interpreter; the real servers
(werkzeug, uvicorn) are exercised by the examples in test_examples.py.
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import Project
from hotmod._exceptions import ArgumentTypeError
from hotmod._servers import AppTarget, parse_target

CLIENT = """
import asyncio, builtins, threading


def wait_pending(reloader):
    wait_seen(reloader)  # the watcher has recorded the last save

def get(app, path="/"):
    # One WSGI request: (status, body).
    from wsgiref.util import setup_testing_defaults
    environ = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body.decode()

def until(fetch, expected, what):
    deadline = time.monotonic() + 10
    seen = []
    while True:
        seen.append(fetch())
        if seen[-1] == expected:
            return seen
        assert time.monotonic() < deadline, f"{what}: never {expected!r}, saw {seen[-3:]}"
        time.sleep(0.005)
"""

WEB = {
    "pkg/__init__.py": "",
    "pkg/msg.py": "TEXT = 'one'\n",
    "pkg/other.py": "X = 1\n",
    "pkg/web.py": """\
        import builtins
        from pkg.msg import TEXT

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [TEXT.encode()]

        def create_app():
            builtins.FACTORY_CALLS = getattr(builtins, "FACTORY_CALLS", 0) + 1
            return app

        NOT_AN_APP = 42
        """,
    "pkg/api.py": """\
        import builtins
        from pkg.msg import TEXT

        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    builtins.__dict__.setdefault("LIFESPAN", []).append(message["type"])
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    else:
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": TEXT.encode()})
        """,
}


def run(project: Project, code: str, **kwargs: float) -> dict[str, object]:
    project.write(WEB, record=False)
    return project.result(CLIENT + textwrap.dedent(code), **kwargs)


def test_wsgi_serves_the_newest_code_of_every_request(project: Project) -> None:
    out = run(
        project,
        """
        app = hotmod.wsgi("pkg.web:app")
        first = get(app)
        threads = threading.active_count()
        save("pkg/msg.py", "'one'", "'two'")
        seen = until(lambda: get(app), ("200 OK", "two"), "edited text")
        emit(first=first, seen=sorted(set(seen)), repr=repr(app),
             background=app.reloader.background, threads=threading.active_count() - threads,
             packages=list(app.reloader.packages))
        """,
    )
    assert out["first"] == ["200 OK", "one"]
    seen = out["seen"]
    assert isinstance(seen, list)
    assert seen[-1] == ["200 OK", "two"]
    assert seen[:-1] in ([], [["200 OK", "one"]])
    assert out["repr"] == "<hotmod.wsgi pkg.web:app>"
    assert out["background"] is False  # applied in the request's thread, before the request
    assert out["threads"] == 0
    assert out["packages"] == ["pkg"]


def test_wsgi_factory_is_called_again_only_after_a_reload_of_its_module(
    project: Project,
) -> None:
    out = run(
        project,
        """
        import pkg.other
        app = hotmod.wsgi("pkg.web:create_app()")
        calls = [builtins.FACTORY_CALLS]
        for _ in range(5):
            get(app)
        calls.append(builtins.FACTORY_CALLS)
        save("pkg/msg.py", "'one'", "'two'")           # pkg.web imports it: reloaded
        until(lambda: get(app), ("200 OK", "two"), "edited text")
        calls.append(builtins.FACTORY_CALLS)
        save("pkg/other.py", "X = 1", "X = 2")         # unrelated to pkg.web
        wait_pending(app.reloader)
        get(app)
        for _ in range(5):
            get(app)
        calls.append(builtins.FACTORY_CALLS)
        emit(calls=calls, other=sys.modules["pkg.other"].X)
        """,
    )
    assert out == {"calls": [1, 1, 2, 2], "other": 2}


def test_wsgi_broken_edits_keep_serving_the_last_good_app(project: Project) -> None:
    project.write(WEB, record=False)
    proc = project.run(
        CLIENT
        + textwrap.dedent(
            """
            app = hotmod.wsgi("pkg.web:app")
            save("pkg/msg.py", "'one'", "'two'")
            until(lambda: get(app), ("200 OK", "two"), "edited text")
            save("pkg/msg.py", "TEXT = 'two'", "TEXT = 'three' +")   # syntax error
            wait_pending(app.reloader)
            broken = {get(app)[1] for _ in range(5)}
            save("pkg/msg.py", "TEXT = 'three' +", "TEXT = 'three'")
            until(lambda: get(app), ("200 OK", "three"), "fixed text")
            save("pkg/web.py", "def app(", "def renamed_app(")      # reloads fine, but no app
            wait_pending(app.reloader)
            missing = {get(app)[1] for _ in range(5)}
            save("pkg/web.py", "def renamed_app(", "def app(")
            save("pkg/msg.py", "TEXT = 'three'", "TEXT = 'four'")
            until(lambda: get(app), ("200 OK", "four"), "app back")
            emit(broken=sorted(broken), missing=sorted(missing))
            """
        )
    )
    assert 'RESULT {"broken": ["two"], "missing": ["three"]}' in proc.stdout
    assert proc.stderr.count("reload failed") == 1, proc.stderr
    assert proc.stderr.count("getting the application pkg.web:app failed") == 1, proc.stderr


def test_asgi_applies_changes_per_connection_and_passes_lifespan_through(
    project: Project,
) -> None:
    out = run(
        project,
        """
        app = hotmod.asgi("pkg.api:app")

        async def request():
            sent = []
            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}
            async def send(message):
                sent.append(message)
            await app({"type": "http", "method": "GET", "path": "/"}, receive, send)
            return sent[0]["status"], sent[1]["body"].decode()

        async def lifespan():
            messages = asyncio.Queue()
            for kind in ("lifespan.startup", "lifespan.shutdown"):
                messages.put_nowait({"type": kind})
            replies = []
            async def send(message):
                replies.append(message["type"])
            await app({"type": "lifespan"}, messages.get, send)
            return replies

        first = asyncio.run(request())
        save("pkg/msg.py", "'one'", "'two'")
        wait_pending(app.reloader)
        replies = asyncio.run(lifespan())            # not a safe point: nothing applied
        still_pending = bool(app.reloader._pending)
        seen = until(lambda: asyncio.run(request()), (200, "two"), "edited text")
        emit(first=first, replies=replies, lifespan=builtins.LIFESPAN,
             still_pending=still_pending, seen=seen[-1], repr=repr(app),
             shared=hotmod.wsgi("pkg.web:app").reloader is app.reloader)
        """,
    )
    assert out == {
        "first": [200, "one"],
        "replies": ["lifespan.startup.complete", "lifespan.shutdown.complete"],
        "lifespan": ["lifespan.startup", "lifespan.shutdown"],
        "still_pending": True,
        "seen": [200, "two"],
        "repr": "<hotmod.asgi pkg.api:app>",
        "shared": True,
    }


def test_bad_targets_fail_at_once(project: Project) -> None:
    out = run(
        project,
        """
        errors = []
        for target in ("pkg.nowhere:app", "pkg.web:nope", "pkg.web:NOT_AN_APP", "nopkg.x:app"):
            try:
                hotmod.wsgi(target)
            except Exception as exc:
                errors.append(type(exc).__name__)
        emit(errors=errors)
        """,
    )
    assert out["errors"] == [
        "ModuleNotFoundError",
        "AttributeError",
        "ArgumentTypeError",
        "ModuleNotFoundError",
    ]


def test_parse_target() -> None:
    assert parse_target("a.b:app") == AppTarget("a.b", "app", factory=False)
    assert parse_target(" a:make_app() ") == AppTarget("a", "make_app", factory=True)
    assert parse_target("a:api.app") == AppTarget("a", "api.app", factory=False)
    assert str(parse_target("a:make()")) == "a:make()"
    for bad in ("a.b", "a:", ":app", "a b:app", "a:app(x)", "a:1app", "a::app"):
        with pytest.raises(ValueError, match=r"must look like 'package\.module:app'"):
            parse_target(bad)
    with pytest.raises(ArgumentTypeError):
        parse_target(42)
