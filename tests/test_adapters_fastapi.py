"""FastAPI apps: routers in submodules, dependencies and pydantic models edited, served by
uvicorn on 127.0.0.1 through ``hotmod.asgi``, edited through the watcher. No adapter: the app
module imports its routers, so it is re-executed and builds a new app (with no cached
OpenAPI schema) whenever a router, a dependency or a model changes."""

from __future__ import annotations

import pytest

from conftest import Project

API = {
    "api/__init__.py": "",
    "api/models.py": """\
        from pydantic import BaseModel

        class User(BaseModel):
            name: str
        """,
    "api/deps.py": """\
        def greeting() -> str:
            return "hello"
        """,
    "api/routers/__init__.py": "",
    "api/routers/users.py": """\
        from fastapi import APIRouter, Depends
        from api.deps import greeting
        from api.models import User

        router = APIRouter(prefix="/users")

        @router.get("/{name}", response_model=User)
        def read_user(name: str, word: str = Depends(greeting)) -> User:
            return User(name=f"{word} {name}")
        """,
    "api/main.py": """\
        from fastapi import FastAPI
        from api.routers import users

        app = FastAPI()
        app.include_router(users.router)
        """,
}

SERVE = """
import asyncio, threading, urllib.error, urllib.request
import uvicorn

results = []

def serve(app):
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}"

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return [response.status, json.loads(response.read())]
    except urllib.error.HTTPError as error:
        return [error.code, None]

def schema(base):  # what /openapi.json says of the user route and the User model
    spec = get(base + "/openapi.json")[1]
    return sorted(spec["paths"]), sorted(spec["components"]["schemas"]["User"]["properties"])

def until(check, base, what):  # each request is a safe point
    deadline = time.monotonic() + 20
    while not check(get(base + "/users/ann")):
        assert time.monotonic() < deadline, (what, get(base + "/users/ann"), results)
        time.sleep(0.01)
"""


@pytest.mark.parametrize("edited", ["api/routers/users.py", "api/models.py"])
def test_fastapi_router_and_model_edits_are_served(project: Project, edited: str) -> None:
    project.write(API)
    out = project.result(
        SERVE
        + f"""
edited = {edited!r}
asgi = hotmod.asgi("api.main:app", debounce=0.01, on_reload=results.append)
base = serve(asgi)
start = get(base + "/users/ann"), schema(base)  # the old app's schema is now cached

if edited == "api/models.py":  # a new field with a default: the route returns it
    save(edited, "    name: str\\n", "    name: str\\n    role: str = 'guest'\\n")
    new_body = {{"name": "hello ann", "role": "guest"}}
else:  # a new route on the router, and the old one's text changed
    role = '@router.get("/{{name}}/role")\\ndef role(name: str) -> dict:\\n'
    save(edited, 'name=f"{{word}} {{name}}")', 'name=f"{{word}}, {{name}}")\\n\\n' + role
         + '    return {{"role": "guest"}}')
    new_body = {{"name": "hello, ann"}}
until(lambda got: got == [200, new_body], base, "the edit")
edited_state = get(base + "/users/ann"), schema(base), get(base + "/users/ann/role")

# a dependency edit reaches the route through the reloaded router
save("api/deps.py", '"hello"', '"hi"')
until(lambda got: got[1]["name"].startswith("hi"), base, "the dependency edit")
dependency = get(base + "/users/ann")

# broken (a new field, or a new text, then an exception): the last good app keeps serving
attempts = len(results)
if edited == "api/models.py":
    save(edited, "'guest'\\n", "'guest'\\n    level: int = 1\\nraise RuntimeError('broken')\\n")
else:
    save(edited, '{{word}}, {{name}}', '{{word}}! {{name}}')
    edit(edited, "import User\\n", "import User\\nraise RuntimeError('broken')\\n")
until(lambda got: any(not r.ok for r in results[attempts:]), base, "the broken edit")
broken = get(base + "/users/ann"), schema(base)
edit(edited, "raise RuntimeError('broken')\\n", "")
until(lambda got: got != broken[0], base, "the fixed edit")
emit(start=start, edited=edited_state, dependency=dependency, broken=broken,
     fixed=[get(base + "/users/ann"), schema(base)],
     errors=sorted({{str(r.error) for r in results if not r.ok}}))
"""
    )
    route = ["/users/{name}"]
    assert out["start"] == [[200, {"name": "hello ann"}], [route, ["name"]]]
    if edited == "api/models.py":
        assert out["edited"] == [
            [200, {"name": "hello ann", "role": "guest"}],
            [route, ["name", "role"]],  # /openapi.json shows the new field
            [404, None],
        ]
        assert out["dependency"] == [200, {"name": "hi ann", "role": "guest"}]
        fixed = [[200, {"name": "hi ann", "role": "guest"}], [route, ["name", "role"]]]
    else:
        routes = ["/users/{name}", "/users/{name}/role"]
        assert out["edited"] == [
            [200, {"name": "hello, ann"}],
            [routes, ["name"]],  # /openapi.json shows the new route
            [200, {"role": "guest"}],
        ]
        assert out["dependency"] == [200, {"name": "hi, ann"}]
        fixed = [[200, {"name": "hi, ann"}], [routes, ["name"]]]
    assert out["broken"] == fixed
    if edited == "api/models.py":
        fixed = [
            [200, {"name": "hi ann", "role": "guest", "level": 1}],
            [route, ["level", "name", "role"]],
        ]
    else:
        fixed = [[200, {"name": "hi! ann"}], [routes, ["name"]]]
    assert out["fixed"] == fixed
    assert out["errors"] == ["broken"]


KEPT_APP = {
    "svc/__init__.py": "",
    "svc/core.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
    # routes added to the app of a module that a change of the views does not re-execute
    "svc/views.py": """\
        from svc.core import app

        @app.get("/ping")
        def ping() -> dict:
            return {"v": 1}
        """,
    "svc/main.py": "from svc.core import app\nimport svc.views  # noqa: F401\n",
}


def test_fastapi_routes_added_to_a_kept_app_are_replaced(project: Project) -> None:
    project.write(KEPT_APP)
    out = project.result(
        SERVE
        + """
asgi = hotmod.asgi("svc.main:app", debounce=0.01, on_reload=results.append)
base = serve(asgi)
def paths():
    return sorted(get(base + "/openapi.json")[1]["paths"])
start = get(base + "/ping"), paths()
save("svc/views.py", '"/ping"', '"/pong"')
edit("svc/views.py", '"v": 1', '"v": 2')
deadline = time.monotonic() + 20
while get(base + "/pong")[0] != 200:
    assert time.monotonic() < deadline, ("the edit", results)
    time.sleep(0.01)
edited = get(base + "/ping"), get(base + "/pong"), paths()
attempts = len(results)
edit("svc/views.py", '"v": 2}', '"v": 3}\\nraise RuntimeError("broken")')
while get(base + "/pong") and all(r.ok for r in results[attempts:]):
    assert time.monotonic() < deadline, ("the broken edit", results)
    time.sleep(0.01)
broken = get(base + "/pong"), paths()
edit("svc/views.py", '\\nraise RuntimeError("broken")', "")
while get(base + "/pong") != [200, {"v": 3}]:
    assert time.monotonic() < deadline, ("the fixed edit", results)
    time.sleep(0.01)
routes = [r.path for r in sys.modules["svc.core"].app.routes if r.path in ("/ping", "/pong")]
emit(start=start, edited=edited, broken=broken, fixed=paths(), routes=routes,
     errors=sorted({str(r.error) for r in results if not r.ok}))
"""
    )
    assert out["start"] == [[200, {"v": 1}], ["/ping"]]
    assert out["edited"] == [[404, None], [200, {"v": 2}], ["/pong"]]  # the old route is gone
    assert out["broken"] == [[200, {"v": 2}], ["/pong"]]
    assert out["fixed"] == ["/pong"]
    assert out["routes"] == ["/pong"]  # once
    assert out["errors"] == ["broken"]
