"""A scripted edit session on a FastAPI + SQLModel app served by ``hotmod.asgi`` under uvicorn.

    python benchmarks/sqlmodel_session.py                 # 200 edits (make bench-sqlmodel)
    python benchmarks/sqlmodel_session.py --edits 20 --json out.json

The app (written to a temporary folder) keeps an in-memory SQLite database in ``app/db.py``,
two SQLModel tables with a relationship in ``app/models.py``, queries in ``app/services.py``
and an ``APIRouter`` in ``app/routes.py``. Each edit changes a marker in one of models,
services or routes (in turn) and saves the file as editors do; the script then requests
``/teams/1`` on 127.0.0.1 until the answering process has applied a reload
(``X-Hotmod-Version``) and checks the whole answer: every marker current and the rows (one
of them added through the API at start) still there.

Counted: *errors* (a failed request, a wrong status, an ERROR line of the server, an edit
never applied), *warnings* (any warning the server printed: Python warnings such as
SQLAlchemy's SAWarning are shown, ``-W default``), *stale responses* (a response after the
reload with an old marker or lost rows). Reload times are hotmod's own ("reloaded ... in X
ms"). Exit status 1 if any error, warning or stale response was counted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

FILES = {
    "app/__init__.py": "",
    "app/db.py": """
        from sqlalchemy.pool import StaticPool
        from sqlmodel import Session, create_engine

        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )


        def session() -> Session:
            return Session(engine)
        """,
    "app/models.py": """
        from typing import Optional

        from sqlmodel import Field, Relationship, SQLModel


        class Team(SQLModel, table=True):
            id: Optional[int] = Field(default=None, primary_key=True)
            name: str
            heroes: list["Hero"] = Relationship(back_populates="team")

            def label(self) -> str:
                return "models-0 " + self.name


        class Hero(SQLModel, table=True):
            id: Optional[int] = Field(default=None, primary_key=True)
            name: str
            team_id: Optional[int] = Field(default=None, foreign_key="team.id")
            team: Optional[Team] = Relationship(back_populates="heroes")
        """,
    "app/services.py": """
        from sqlmodel import select

        from app.db import session
        from app.models import Hero, Team

        MARK = "services-0"


        def team_report(team_id: int) -> dict:
            with session() as s:
                team = s.get(Team, team_id)
                heroes = s.exec(select(Hero).where(Hero.team_id == team_id)).all()
                assert all(hero.team is team for hero in heroes)
                return {
                    "team": team.label(),
                    "heroes": sorted(hero.name for hero in team.heroes),
                    "services": MARK,
                }


        def add_hero(team_id: int, name: str) -> None:
            with session() as s:
                s.add(Hero(name=name, team_id=team_id))
                s.commit()
        """,
    "app/routes.py": """
        from fastapi import APIRouter

        from app import services

        router = APIRouter()
        MARK = "routes-0"


        @router.get("/teams/{team_id}")
        def team(team_id: int) -> dict:
            return {**services.team_report(team_id), "routes": MARK}


        @router.post("/teams/{team_id}/heroes")
        def add_hero(team_id: int, name: str) -> dict:
            services.add_hero(team_id, name)
            return {"added": name}
        """,
    "app/main.py": """
        from contextlib import asynccontextmanager

        from fastapi import FastAPI
        from sqlmodel import SQLModel, select

        from app.db import engine, session
        from app.models import Hero, Team
        from app.routes import router


        def create_db_and_tables() -> None:
            SQLModel.metadata.create_all(engine)
            with session() as s:
                if s.exec(select(Team)).first() is None:
                    team = Team(name="Avengers")
                    s.add_all([team, Hero(name="Thor", team=team)])
                    s.commit()


        @asynccontextmanager
        async def lifespan(app: FastAPI):
            create_db_and_tables()
            yield


        app = FastAPI(lifespan=lifespan)
        app.include_router(router)
        """,
    "serve.py": """
        import logging

        import hotmod

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        api = hotmod.asgi("app.main:app")
        """,
}

# The same app with the tables created and the first rows added by ``main.py``'s top-level code
# (``--layout import``): every models edit re-executes that too (``create_all`` and a query).
IMPORT_TIME_MAIN = """
from fastapi import FastAPI
from sqlmodel import SQLModel, select

from app.db import engine, session
from app.models import Hero, Team
from app.routes import router

SQLModel.metadata.create_all(engine)
with session() as _s:
    if _s.exec(select(Team)).first() is None:
        _team = Team(name="Avengers")
        _s.add_all([_team, Hero(name="Thor", team=_team)])
        _s.commit()

app = FastAPI()
app.include_router(router)
"""
LAYOUTS = {
    "lifespan": "tables created in the lifespan handler (SQLModel's FastAPI tutorial)",
    "import": "tables created and rows added by main.py's top-level code",
}

# (file, marker prefix) edited in turn
TARGETS = [
    ("app/models.py", "models"),
    ("app/services.py", "services"),
    ("app/routes.py", "routes"),
]
RELOADED = re.compile(r"INFO hotmod: reloaded (.*) in ([0-9.]+) ms \(changed: ([^)]*)\)")

# The floor of one edit, without any reloader: in a fresh interpreter with the app imported and
# warm, the modules the reload re-executed are taken out of sys.modules (for a models edit also
# SQLAlchemy's mappers and the tables of the shared MetaData, which is what lets them be
# defined again) and imported again from their up-to-date .pyc, dependencies first; new models
# are then configured (``configure_mappers()``: the app's first query would do it, and hotmod
# does it inside the reload, so that a broken relationship fails the reload). The median of
# FLOOR_ROUNDS such rounds is printed next to hotmod's reload time, twice: rounds back to back
# (warm), and rounds after the pause that preceded each save of the session (the median time
# from one save to the next, minus the reload). A process that waited that long runs the same
# code much slower on this kind of machine (its caches went cold: 1.5-2 x here), and every
# reload of the session comes after such a wait, so the paused floor is the like-for-like one.
FLOOR_ROUNDS = 15
FLOOR_SCRIPT = """
import statistics, sys, time
import app.main
from sqlalchemy.orm import clear_mappers, configure_mappers
from sqlmodel import SQLModel

names = sys.argv[1].split(",")
pause = float(sys.argv[2])
times = []
for _ in range(%(rounds)d + 3):
    if "app.models" in names:
        clear_mappers()
        SQLModel.metadata.clear()
    for name in names:
        del sys.modules[name]
    if pause:
        time.sleep(pause)
    started = time.perf_counter()
    for name in names:
        __import__(name)
    if "app.models" in names:
        configure_mappers()
    times.append(time.perf_counter() - started)
print(statistics.median(times[3:]) * 1000)
"""


def _floor_ms(root: Path, env: dict[str, str], names: list[str], pause: float = 0.0) -> float:
    """Median time to import ``names`` again (see FLOOR_SCRIPT), in a fresh interpreter, each
    round after ``pause`` seconds of sleep."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            FLOOR_SCRIPT % {"rounds": FLOOR_ROUNDS},
            ",".join(names),
            f"{pause:.4f}",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.split()[-1])


def _rss_mb(pid: int) -> float | None:
    """Resident set size of process ``pid`` (Linux ``/proc``), None where unavailable."""
    try:
        resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _save(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text.replace(old, new, 1))
    os.replace(tmp, path)


def _request(url: str, method: str = "GET") -> tuple[int, int, dict[str, object] | None]:
    """(status, X-Hotmod-Version, JSON body); status 0 when the request failed."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
            version = int(r.headers.get("X-Hotmod-Version", "-1"))
            return r.status, version, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, int(exc.headers.get("X-Hotmod-Version", "-1")), None
    except OSError:
        return 0, -1, None


def run_session(edits: int, root: Path, layout: str = "lifespan") -> dict[str, object]:
    files = dict(FILES)
    if layout == "import":
        files["app/main.py"] = IMPORT_TIME_MAIN
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip())
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(SRC)])
    server = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "default",
            "-m",
            "uvicorn",
            "serve:api",
            "--no-access-log",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(server.stdout.readline, "")))  # type: ignore[union-attr]
    reader.daemon = True
    reader.start()
    base = f"http://127.0.0.1:{port}"
    errors = stale = 0
    try:
        deadline = time.monotonic() + 30
        while _request(f"{base}/teams/1")[0] != 200:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start:\n" + "".join(lines))
            time.sleep(0.05)
        status, _, _ = _request(f"{base}/teams/1/heroes?name=Loki", "POST")
        errors += status != 200
        rss_start = _rss_mb(server.pid)
        markers = {prefix: 0 for _, prefix in TARGETS}
        saves: list[float] = []  # when each edit was saved
        for number in range(1, edits + 1):
            rel, prefix = TARGETS[(number - 1) % len(TARGETS)]
            _, before, _ = _request(f"{base}/teams/1")
            old = f"{prefix}-{markers[prefix]}"
            markers[prefix] = number
            _save(root / rel, f'"{old}', f'"{prefix}-{number}')
            saves.append(time.monotonic())
            expected = {
                "team": f"models-{markers['models']} Avengers",
                "heroes": ["Loki", "Thor"],
                "services": f"services-{markers['services']}",
                "routes": f"routes-{markers['routes']}",
            }
            deadline = time.monotonic() + 20
            while True:
                status, version, body = _request(f"{base}/teams/1")
                if status != 200:
                    errors += 1
                    break
                if version > before:
                    stale += body != expected
                    break
                if time.monotonic() > deadline:
                    errors += 1  # never applied
                    break
                time.sleep(0.005)
        rss_end = _rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        reader.join(5)
    errors += sum(line.startswith(("ERROR", "Traceback")) for line in lines)
    warnings = [line for line in lines if "Warning" in line or line.startswith("WARNING")]
    reloads = [
        (m.group(1).split(", "), float(m.group(2)), m.group(3))
        for line in lines
        if (m := RELOADED.search(line))
    ]
    times = [ms for _, ms, _ in reloads]
    by_file = {
        rel: [ms for _, ms, changed in reloads if changed.endswith(rel)] for rel, _ in TARGETS
    }
    # the server's wait before each reload: from one save to the next, less the reload
    between = [later - earlier for earlier, later in itertools.pairwise(saves)]
    pause = (
        max(0.0, statistics.median(between) - statistics.median(times) / 1000)
        if (between and times)
        else 0.0
    )
    floors: dict[str, float | None] = {}
    paused: dict[str, float | None] = {}
    for rel, _ in TARGETS:
        sets = [names for names, _, changed in reloads if changed.endswith(rel)]
        # the modules one edit of ``rel`` re-executed (the most frequent set: they are the same)
        names = max(sets, key=sets.count) if sets else None
        floors[rel] = _floor_ms(root, env, names) if names else None
        paused[rel] = _floor_ms(root, env, names, pause) if names else None
    return {
        "edits": edits,
        "reloads": len(times),
        "errors": errors,
        "warnings": len(warnings),
        "stale": stale,
        "median_ms": statistics.median(times) if times else None,
        "pause_ms": pause * 1000,
        "p95_ms": _p95(times),
        "layout": layout,
        "by_file": {
            rel: {
                "median_ms": statistics.median(ms) if ms else None,
                "p95_ms": _p95(ms),
                "max_ms": max(ms) if ms else None,
                "floor_ms": floors[rel],
                "floor_paused_ms": paused[rel],
            }
            for rel, ms in by_file.items()
        },
        "rss_mb": [rss_start, rss_end],
        "log_tail": [line.rstrip() for line in lines[-20:]] if errors or warnings else [],
    }


def _p95(values: list[float]) -> float | None:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) >= 2 else None


def _mb(value: object) -> str:
    return f"{value:.0f} MB" if isinstance(value, float) else "-"


def _ms(value: object) -> str:
    return f"{value:.1f} ms" if isinstance(value, float) else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument(
        "--layout", choices=[*LAYOUTS, "all"], default="all", help="which app (default: both)"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, object]] = {}
    for layout in LAYOUTS if args.layout == "all" else [args.layout]:
        with tempfile.TemporaryDirectory(prefix="hotmod-sqlmodel-") as tmp:
            results[layout] = run_session(args.edits, Path(tmp), layout)
    print(
        "| app (`--layout`) | edits | reloads | errors | warnings | stale responses "
        "| median reload | p95 | server RSS after the first request -> after the last edit |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for layout, result in results.items():
        rss = result["rss_mb"]
        print(
            f"| FastAPI + SQLModel, uvicorn (`{layout}`: {LAYOUTS[layout]}) | "
            f"{result['edits']} | {result['reloads']} | "
            f"{result['errors']} | {result['warnings']} | {result['stale']} | "
            f"{_ms(result['median_ms'])} | {_ms(result['p95_ms'])} | "
            f"{_mb(rss[0])} -> {_mb(rss[1])} |"  # type: ignore[index]
        )
    print()
    print(
        "floor: the same modules imported again in a fresh interpreter without any reloader "
        "(see FLOOR_SCRIPT), rounds back to back (warm) and each after the pause that came "
        "before each reload of the session (paused: the like-for-like one)"
    )
    print()
    print(
        "| `--layout` | file edited | median reload | p95 | max | floor, warm | floor, paused "
        "| median / paused floor | pause |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for layout, result in results.items():
        for rel, entry in result["by_file"].items():  # type: ignore[attr-defined]
            median, floor = entry["median_ms"], entry["floor_paused_ms"]
            ratio = f"{median / floor:.2f}" if median and floor else "-"
            print(
                f"| {layout} | {rel} | {_ms(median)} | {_ms(entry['p95_ms'])} | "
                f"{_ms(entry['max_ms'])} | {_ms(entry['floor_ms'])} | {_ms(floor)} | {ratio} "
                f"| {result['pause_ms']:.0f} ms |"
            )
        for line in result["log_tail"]:  # type: ignore[attr-defined]
            print("    " + line)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    failed = any(r["errors"] or r["warnings"] or r["stale"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
