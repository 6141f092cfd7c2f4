"""The old version of a reloaded module is freed, also where a library cached its objects.

A library cache keyed by a class or a function (``typing``'s cache of ``Optional[C]``,
SQLAlchemy's compiled statements keyed by mappers, FastAPI's caches of endpoints and models)
holds the old object after a reload, and through it the whole old version of its module. Each
test keeps a weak reference to a ``Token`` that only the old module's globals hold, makes
several edits, and checks that no old version is alive after a collection: without the cache
clearing each edit kept one more version (a FastAPI + SQLModel app grew by ~20 MB per 100
models edits).
"""

from __future__ import annotations

import pytest

from conftest import Project

TOKEN = """
class Token:  # an instance in a module's globals marks that version of the module
    pass
"""

# The check: ``versions(name)`` counts the versions of module ``name`` still alive.
TRACK = """
import gc, weakref
_tokens = {}
def track(name):
    _tokens.setdefault(name, []).append(weakref.ref(sys.modules[name].TOKEN))
def versions(name):
    gc.collect()
    return sum(ref() is not None for ref in _tokens[name])
"""


@pytest.mark.parametrize("patch", [True, False])
def test_typing_cache_of_an_old_class_does_not_keep_its_module(
    project: Project, patch: bool
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/token.py": TOKEN
            + """
class Meta(type):  # a metaclass hotmod does not patch: the new class replaces the old
    pass
""",
            "pkg/m.py": """
from typing import Optional
from pkg.token import Meta, Token
TOKEN = Token()
class Model(metaclass=Meta):
    def label(self):
        return "v0"
FIELD = Optional[Model]  # typing caches it, with the class
""",
        }
    )
    out = project.result(
        TRACK
        + f"""
import pkg.m
r = hotmod.Reloader("pkg", background=False, patch={patch})
track("pkg.m")
for i in range(1, 4):
    edit("pkg/m.py", f'"v{{i - 1}}"', f'"v{{i}}"')
    assert r.reload("pkg.m").ok
    track("pkg.m")
emit(label=pkg.m.Model().label(), alive=versions("pkg.m"))
"""
    )
    assert out == {"label": "v3", "alive": 1}


def test_a_wrapper_held_for_good_keeps_no_later_version_alive(project: Project) -> None:
    """A ``functools.wraps`` wrapper that outlives its module (here held by ``pkg.holder``,
    never re-executed, as a server holds the lifespan handler of the app it started) keeps its
    own version alive, and no other: every version's wrapper shares one ``__dict__``, whose
    ``__wrapped__`` is the newest original. (Each version's wrapper took the dict of the
    version after it, whose ``__wrapped__`` held that version's module, and so on: every old
    version stayed alive.)"""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/token.py": TOKEN,
            "pkg/deco.py": """
import functools
def wrap(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper
""",
            "pkg/m.py": """
from pkg.deco import wrap
from pkg.token import Token
TOKEN = Token()
@wrap
def handler():
    return "v0"
""",
            "pkg/holder.py": "HELD = []\n",
        }
    )
    out = project.result(
        TRACK
        + """
import pkg.m, pkg.holder
pkg.holder.HELD.append(pkg.m.handler)  # the first version's wrapper, held for good
r = hotmod.Reloader("pkg", background=False)
track("pkg.m")
for i in range(1, 6):
    edit("pkg/m.py", f'"v{i - 1}"', f'"v{i}"')
    assert r.reload("pkg.m").ok
    track("pkg.m")
held = pkg.holder.HELD[0]
emit(held=held(), wrapped=held.__wrapped__ is pkg.m.handler.__wrapped__, alive=versions("pkg.m"))
"""
    )
    # the first version (its wrapper is held) and the current one
    assert out == {"held": "v5", "wrapped": True, "alive": 2}


SQLA = {
    "app/__init__.py": "",
    "app/token.py": TOKEN,
    "app/db.py": """
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import StaticPool

class Base(DeclarativeBase):
    pass

engine = create_engine("sqlite://", poolclass=StaticPool)
Session = sessionmaker(engine)
""",
    "app/models.py": """
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column
from app.db import Base, Session, engine
from app.token import Token

TOKEN = Token()

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))

    def label(self):
        return "v0 " + self.name

Base.metadata.create_all(engine)

def names():
    with Session() as session:  # a compiled statement, cached by the engine with the mapper
        return [user.label() for user in session.scalars(select(User).order_by(User.id))]
""",
}


def test_sqlalchemy_statement_cache_does_not_keep_old_models(project: Project) -> None:
    project.write(SQLA)
    out = project.result(
        TRACK
        + """
import app.models
from app.db import Session
with Session() as s:
    s.add(app.models.User(name="ann"))
    s.commit()
r = hotmod.Reloader("app", background=False)
track("app.models")
seen = [app.models.names()]
for i in range(1, 5):
    edit("app/models.py", f'"v{i - 1} "', f'"v{i} "')
    assert r.reload("app.models").ok
    track("app.models")
    seen.append(app.models.names())
emit(seen=seen, alive=versions("app.models"))
"""
    )
    assert out == {
        "seen": [["v0 ann"], ["v1 ann"], ["v2 ann"], ["v3 ann"], ["v4 ann"]],
        "alive": 1,
    }


FASTAPI = {
    "api/__init__.py": "",
    "api/token.py": TOKEN,
    "api/models.py": """
from pydantic import BaseModel
from api.token import Token

TOKEN = Token()

class Item(BaseModel):
    name: str
    version: str = "v0"
""",
    "api/routes.py": """
from fastapi import APIRouter
from api.models import Item
from api.token import Token

TOKEN = Token()
router = APIRouter()

@router.get("/items/{name}")
async def item(name: str) -> Item:
    return Item(name=name)
""",
    "api/main.py": """
from fastapi import FastAPI
from api.routes import router

app = FastAPI()
app.include_router(router)
""",
}


def test_fastapi_caches_do_not_keep_old_endpoints_and_models(project: Project) -> None:
    project.write(FASTAPI)
    out = project.result(
        TRACK
        + """
import asyncio
import api.main

def get(path):  # one request through the ASGI app, no server needed
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [], "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    asyncio.run(api.main.app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return json.loads(body)

r = hotmod.Reloader("api", background=False)
track("api.models"); track("api.routes")
seen = [get("/items/ann")["version"]]
for i in range(1, 5):
    edit("api/models.py", f'"v{i - 1}"', f'"v{i}"')
    assert r.reload("api.models").ok
    track("api.models"); track("api.routes")
    seen.append(get("/items/ann")["version"])
emit(seen=seen, models=versions("api.models"), routes=versions("api.routes"))
"""
    )
    assert out == {"seen": ["v0", "v1", "v2", "v3", "v4"], "models": 1, "routes": 1}


def test_old_versions_are_freed_by_the_collectors_own_collections(project: Project) -> None:
    # A dev server reloads between every few requests and nobody calls gc.collect(): the old
    # versions (cycles: a module's functions hold its globals) must go in the collections the
    # interpreter makes by itself. A reload used to gc.freeze() the heap, which resets the
    # collector's counts of collections: with less than ten young collections between two
    # reloads no full collection ever ran again, and under uvicorn each edit kept its version
    # (a FastAPI + SQLModel app: 71 -> 183 MB over 1,200 edits).
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/token.py": TOKEN,
            "pkg/m.py": """
from pkg.token import Token
TOKEN = Token()
def label():
    return "v0"
""",
        }
    )
    out = project.result(
        """
import gc, weakref
gc.set_threshold(700, 10, 10)  # CPython's defaults
import pkg.m
r = hotmod.Reloader("pkg", background=False)
refs = [weakref.ref(pkg.m.TOKEN)]
kept = []
for i in range(1, 91):
    edit("pkg/m.py", f'"v{i - 1}"', f'"v{i}"')
    assert r.reload("pkg.m").ok
    refs.append(weakref.ref(pkg.m.TOKEN))
    kept.append([[] for _ in range(2000)])  # what the app keeps between two edits
early = sum(ref() is not None for ref in refs[:30])  # full collections have run since
enabled = gc.isenabled()
gc.disable()  # the application's own choice stays
edit("pkg/m.py", '"v90"', '"v91"')
assert r.reload("pkg.m").ok
emit(label=pkg.m.label(), early_alive=early, enabled=enabled, still_disabled=not gc.isenabled())
"""
    )
    assert out == {"label": "v91", "early_alive": 0, "enabled": True, "still_disabled": True}


def test_framework_lru_caches_are_cleared_in_modules_imported_or_replaced_later(
    project: Project,
) -> None:
    # clear_lru_caches remembers which modules belong to the package: one imported after the
    # first call, and a module object replaced in place, are looked at too.
    cache = "import functools\n@functools.lru_cache\ndef look(x):\n    return object()\n"
    project.write({"fw/__init__.py": "", "fw/a.py": cache, "fw/late.py": cache}, record=False)
    out = project.result(
        """
        import importlib
        from hotmod.adapters._caches import clear_lru_caches
        import fw.a
        fw.a.look(1)
        first = clear_lru_caches("fw"), fw.a.look.cache_info().currsize
        import fw.late
        fw.late.look(1); fw.a.look(1)
        second = clear_lru_caches("fw"), fw.late.look.cache_info().currsize
        del sys.modules["fw.a"]
        fresh = importlib.import_module("fw.a")  # the same size, another module object
        fresh.look(1)
        third = clear_lru_caches("fw"), fresh.look.cache_info().currsize
        emit(calls=[first, second, third])
        """
    )
    assert out == {"calls": [[1, 0], [2, 0], [2, 0]]}
