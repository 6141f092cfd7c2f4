"""A scripted editing session on a Django project under ``manage.py runserver`` + hotmod.django.

    PYTHONPATH=src .venv/bin/python benchmarks/django_session.py [--edits 200] [--json PATH]

Makes the project of ``django_app.py`` (startproject/startapp, SQLite), starts runserver with
``hotmod.django`` installed, and saves ``--edits`` edits through the file system, cycling over
views, models (a method), forms, template tags, signals, admin and urls (a route renamed: the
new path is served, the old one is gone). After each save it requests the edited page until
the ``X-Hotmod-Version`` header shows the reload applied, then checks the page and Django's
registries (``apps.get_model``, the admin registry and its URLs, ``reverse``). Prints a table:

- errors: failed reloads, error responses, reloads that never arrived;
- warnings: server output lines with a framework warning ("already registered", any Warning);
- stale responses: a response from the new version that shows old code or old registries;
- reload: the reload time hotmod logged; save -> live: from the save to the first new response.

Exit status 1 unless errors, warnings and stale responses are all 0 (timings are reported only).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from django_app import Response, Server, make_project, save

RELOADED = re.compile(r"reloaded .* in ([0-9.]+) ms")


@dataclass
class Kind:
    """One kind of edit: the file, the text of version n, the page and what it shows then."""

    path: str
    text: Callable[[int], str]
    page: Callable[[int], str]
    expected: Callable[[int, Response], bool]


def _state_ok(state: dict[str, object]) -> bool:
    return all(
        state[key] is True
        for key in ("get_model_is_live", "app_config_is_live", "admin_is_live", "admin_url_is_live")
    )


KINDS = [
    Kind(
        "polls/views.py",
        lambda n: f'"views-v{n}"',
        lambda n: "/polls/",
        lambda n, r: r.body == f"views-v{n}",
    ),
    Kind(
        "polls/models.py",
        lambda n: f'"label-v{n}"',
        lambda n: "/polls/label/",
        lambda n, r: r.body == f"label-v{n}",
    ),
    Kind(
        "polls/forms.py",
        lambda n: f'"form-v{n}"',
        lambda n: "/polls/form/",
        lambda n, r: r.body == f"question_text:form-v{n}",
    ),
    Kind(
        "polls/templatetags/poll_extras.py",
        lambda n: f'"-tag-v{n}"',
        lambda n: "/polls/tag/",
        lambda n, r: r.body == f"HELLO-tag-v{n}",
    ),
    Kind(
        "polls/signals.py",
        lambda n: f'"signal-v{n}"',
        lambda n: "/polls/create/",
        lambda n, r: r.json()["signals"] == [f"signal-v{n}", f"signal-v{n}-uid"],
    ),
    Kind(
        "polls/admin.py",
        lambda n: f"list_per_page = {100 + n}",
        lambda n: "/state/",
        lambda n, r: r.json()["admin_list_per_page"] == 100 + n,
    ),
    Kind(
        "polls/urls.py",
        lambda n: f'"extra-v{n}/"',
        lambda n: f"/polls/extra-v{n}/",
        lambda n, r: r.status == 200 and r.body.startswith("views-v"),
    ),
]


def session(edits: int, root: Path) -> dict[str, object]:
    make_project(root)
    server = Server(root)
    errors = stale = 0
    live_times: list[float] = []
    versions = dict.fromkeys(range(len(KINDS)), 0)
    try:
        for edit in range(1, edits + 1):
            index = (edit - 1) % len(KINDS)
            kind = KINDS[index]
            before = server.get("/state/").version
            old, new = versions[index], edit
            save(root / kind.path, kind.text(old), kind.text(new))
            versions[index] = new
            saved = time.perf_counter()
            deadline = saved + 10
            reply = server.get(kind.page(new))
            while reply.version <= before and time.perf_counter() < deadline:
                time.sleep(0.005)
                reply = server.get(kind.page(new))
            if reply.version <= before:
                errors += 1
                print(f"edit {edit} ({kind.path}): the reload never arrived", file=sys.stderr)
                continue
            live_times.append(time.perf_counter() - saved)
            state = server.get("/state/")
            if state.status != 200 or reply.status not in (200,):
                errors += 1
                print(f"edit {edit} ({kind.path}): {reply!r} {state!r}", file=sys.stderr)
                continue
            if not kind.expected(new, reply) or not _state_ok(state.json()):
                stale += 1
                print(f"edit {edit} ({kind.path}): stale {reply!r} {state!r}", file=sys.stderr)
            if kind.path == "polls/urls.py" and server.get(f"/polls/extra-v{old}/").status != 404:
                stale += 1
                print(
                    f"edit {edit}: the removed route /polls/extra-v{old}/ still serves",
                    file=sys.stderr,
                )
    finally:
        server.stop()
    errors += server.count("reload failed")
    reload_ms = [float(m.group(1)) for line in server.lines if (m := RELOADED.search(line))]
    warnings = server.warnings()
    for line in warnings:
        print("warning:", line, file=sys.stderr)
    return {
        "edits": edits,
        "errors": errors,
        "warnings": len(warnings),
        "stale": stale,
        "reloads": len(reload_ms),
        "reload_median_ms": statistics.median(reload_ms) if reload_ms else None,
        "reload_p95_ms": _p95(reload_ms),
        "reload_max_ms": max(reload_ms) if reload_ms else None,
        "live_median_ms": statistics.median(live_times) * 1000 if live_times else None,
    }


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _ms(value: object) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    parser.add_argument("--keep", type=Path, default=None, help="make the project here, keep it")
    args = parser.parse_args(argv)
    if args.keep is not None:
        result = session(args.edits, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="hotmod-django-") as folder:
            result = session(args.edits, Path(folder) / "project")
    print(
        "| edits | errors | warnings | stale responses | reload median | reload p95 "
        "| reload max | save → live median |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {result['edits']} | {result['errors']} | {result['warnings']} | {result['stale']} "
        f"| {_ms(result['reload_median_ms'])} | {_ms(result['reload_p95_ms'])} "
        f"| {_ms(result['reload_max_ms'])} | {_ms(result['live_median_ms'])} |"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["errors"] == result["warnings"] == result["stale"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
