"""Save -> new text visible in headless Chromium, through the dev servers' live reload.

Serves the Flask example (werkzeug, threaded) and the Starlette example (uvicorn) from a copy,
opens their ``/page`` in Chromium (Debian's ``chromium``), then saves N edits of the page's
title and measures, for each, the time from the save (the rename into place) to the new text
in the open page's DOM, read over the DevTools protocol. Prints a markdown table::

    PYTHONPATH=src .venv/bin/python benchmarks/browser.py [--edits 30]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from common import percentile  # noqa: E402

from chromium import Chromium  # noqa: E402

TITLE = "document.getElementById('title') && document.getElementById('title').textContent"
SERVERS = {
    "flask (werkzeug)": ("flask_app", "flask_demo", "Flask page"),
    "starlette (uvicorn)": ("starlette_app", "starlette_demo", "Starlette page"),
}


def measure(chromium: Chromium, folder: str, package: str, title: str, edits: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="hotmod-bench-browser-"))
    root = work / folder
    shutil.copytree(ROOT / "examples" / folder, root)
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT / 'src'}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    server = subprocess.Popen(
        [sys.executable, "serve.py", "--port", "0"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    page = None
    try:
        assert server.stdout is not None
        found = re.search(r"http://[\d.]+:\d+", server.stdout.readline())
        assert found is not None
        page = chromium.page()
        deadline = time.monotonic() + 15
        while True:  # the server printed its address before listening
            try:
                page.goto(found.group(0) + "/page")
                page.wait(f"{TITLE} === {title!r} && window.__hotmod__.boot", timeout=5)
                break
            except (AssertionError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
        views = root / package / "views.py"
        current = title
        times = []
        for number in range(edits):
            new = f"Edit {number}"
            text = views.read_text().replace(current, new, 1)
            tmp = views.with_name(".views.py.tmp")
            tmp.write_text(text)
            started = time.perf_counter()
            os.replace(tmp, views)
            page.wait(f"{TITLE} === {new!r}", poll=0.001)
            times.append(time.perf_counter() - started)
            page.wait("window.__hotmod__ && window.__hotmod__.boot")  # listening again
            current = new
        return times
    finally:
        if page is not None:
            page.close()
        server.kill()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    chromium = Chromium()
    try:
        rows = [(name, measure(chromium, *spec, args.edits)) for name, spec in SERVERS.items()]
    finally:
        chromium.close()
    print("| server | edits | p50 ms | p90 ms | max ms | goal p50 < 100 ms |")
    print("|---|---|---|---|---|---|")
    for name, times in rows:
        ms = [t * 1000 for t in times]
        p50 = percentile(ms, 50)
        print(
            f"| {name} | {len(ms)} | {p50:.1f} | {percentile(ms, 90):.1f} | {max(ms):.1f} "
            f"| {'met' if p50 < 100 else 'missed'} |"
        )


if __name__ == "__main__":
    main()
