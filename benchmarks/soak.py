"""Soak: many reload cycles through the real watcher, while threads call into the package.

Usage::

    python benchmarks/soak.py                  # 1,000 cycles (about 30-60 s), markdown table
    python benchmarks/soak.py --cycles 100 --sample-every 10 --json soak.json
    python benchmarks/soak.py --keep-previous  # the module keeps `_old = hotmod.previous(...)`

Writes a small package (a re-exporting ``__init__``, a config module that every cycle edits,
models with a dataclass, a decorator and ``functools.lru_cache``, a service with a
``__hotmod_dispose__`` hook, state carried over with ``hotmod.previous``, an import cycle and an
untouched leaf) to a temporary folder and starts ``Reloader(...).start()`` on it. Each cycle
saves a new ``config.py`` the way editors do (write a temporary file, rename it over the old
one) and waits, with a deadline, for the background reload to apply it. Caller threads import
and call the package the whole time and record any exception.

Measured: threads and open file descriptors (``/proc/self/fd``) at the start (after a warm-up of
10 cycles, everything running) and at the end (before stopping), and before anything started and
after everything stopped; RSS (``/proc/self/statm``, after ``gc.collect()``) every
``--sample-every`` cycles and its least-squares slope; how many of the module objects the
reloads replaced are still alive (weak references, after ``gc.collect()``, once everything
stopped). Nothing is asserted here; ``--json`` writes the figures for tests.

Exit status: 0; 1 when a cycle missed its deadline, a reload failed or a caller saw an error.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import hotmod  # noqa: E402

PACKAGE = "soakpkg"

FILES = {
    "__init__.py": "from soakpkg.api import handle as handle\n",
    "config.py": "VERSION = 0\nLIMITS = {'version': VERSION}\n",
    "models.py": (
        "import dataclasses, functools\n"
        "from soakpkg.config import VERSION\n"
        "@dataclasses.dataclass\n"
        "class Item:\n"
        "    value: int\n"
        "    def versioned(self):\n"
        "        return (VERSION, self.value)\n"
        "def traced(func):\n"
        "    @functools.wraps(func)\n"
        "    def wrapper(*args):\n"
        "        return func(*args)\n"
        "    return wrapper\n"
        "@functools.lru_cache(maxsize=32)\n"
        "def square(x):\n"
        "    return x * x\n"
    ),
    "state.py": (
        "import hotmod\n"
        "from soakpkg import config\n"
        "_old = hotmod.previous(__name__)\n"
        "generation = _old.generation + 1 if _old is not None else 0\n"
        "{keep}"
    ),
    "cycle_a.py": "from soakpkg import cycle_b, config\ndef a():\n    return config.VERSION\n",
    "cycle_b.py": "from soakpkg import cycle_a\ndef b():\n    return cycle_a.a()\n",
    "service.py": (
        "from soakpkg import config, state, cycle_b\n"
        "from soakpkg.models import Item, traced, square\n"
        "_cache = {}\n"
        "def __hotmod_dispose__():\n"
        "    _cache.clear()\n"
        "@traced\n"
        "def run(x):\n"
        "    _cache[x] = Item(square(x))\n"
        "    return (config.VERSION, cycle_b.b(), _cache[x].versioned()[0])\n"
    ),
    "api.py": "from soakpkg.service import run\ndef handle(x):\n    return run(x)\n",
    "leaf.py": "def constant():\n    return 42\n",
}

# Modules replaced by every cycle (everything but the leaf).
REPLACED = tuple(
    PACKAGE if name == "__init__.py" else f"{PACKAGE}.{name[:-3]}"
    for name in FILES
    if name != "leaf.py"
)


def write_package(root: Path, *, keep_previous: bool) -> None:
    folder = root / PACKAGE
    folder.mkdir()
    for name, text in FILES.items():
        keep = "" if keep_previous else "del _old\n"
        (folder / name).write_text(text.replace("{keep}", keep))


def save(path: Path, text: str) -> None:
    """Save the way editors do: a temporary file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.swp~")
    temporary.write_text(text)
    os.replace(temporary, path)


def open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def rss_kib() -> float | None:
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024
    except (OSError, ValueError):
        return None


def linear_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs`` (0 with fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def applied(cycle: int) -> bool:
    """Whether the running config module is the one saved in ``cycle``."""
    version = sys.modules[f"{PACKAGE}.config"].VERSION
    return bool(version == cycle)


class Results:
    """What the ``on_reload`` callback saw: a count, and the failures as text (no result is
    kept, so the harness itself does not grow with the number of cycles)."""

    def __init__(self) -> None:
        self.count = 0
        self.failed: list[str] = []

    def record(self, result: hotmod.ReloadResult) -> None:
        if not result.ok:
            self.failed.append(str(result))
        self.count += 1


class Callers:
    """Threads that import and call the package in a loop, recording any exception."""

    PATTERNS = ("from-import", "import-attribute", "import-module", "package-reexport")

    def __init__(self, count: int) -> None:
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.calls = [0] * count
        self.threads = [
            threading.Thread(target=self._loop, args=(i,), name=f"soak-caller-{i}", daemon=True)
            for i in range(count)
        ]

    def _call(self, pattern: str) -> object:
        if pattern == "from-import":
            from soakpkg import api  # type: ignore[import-not-found]

            return api.handle(1)
        if pattern == "import-attribute":
            import soakpkg.service  # type: ignore[import-not-found]

            return soakpkg.service.run(2)
        if pattern == "import-module":
            return importlib.import_module("soakpkg.cycle_b").b()
        import soakpkg

        return soakpkg.handle(3)

    def _loop(self, index: int) -> None:
        pattern = self.PATTERNS[index % len(self.PATTERNS)]
        while not self.stop.is_set():
            try:
                self._call(pattern)
            except Exception as exc:
                self.errors.append(f"{pattern}: {type(exc).__name__}: {exc}")
            self.calls[index] += 1
            time.sleep(0.0005)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def soak(
    cycles: int,
    sample_every: int,
    callers: int,
    deadline: float,
    keep_previous: bool,
    *,
    settle: float = 0.0,
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="hotmod-soak-"))
    write_package(root, keep_previous=keep_previous)
    sys.path.insert(0, str(root))
    config = root / PACKAGE / "config.py"
    threads_before, fds_before = threading.active_count(), open_fds()
    importlib.import_module(PACKAGE)
    results = Results()
    reloader = hotmod.Reloader(PACKAGE, debounce=0.01, on_reload=results.record).start()
    time.sleep(settle)  # (start()'s own reload then runs before the first save, never with it)
    group = Callers(callers)
    group.start()
    # weak references to the module objects each cycle replaces; each one removes itself when
    # its module dies, so the harness does not grow with the number of cycles
    alive: set[weakref.ref[Any]] = set()
    replaced = 0
    samples: list[tuple[int, float]] = []
    missed: list[int] = []
    start: dict[str, Any] = {}
    started = time.perf_counter()
    warmup = 10
    # Reloads counted from the end of the warm-up: the warm-up may hold one more than its saves
    # (start() applies files written just before their import: hotmod cannot prove the modules
    # run them, and reloads them once; that reload coalesces with the first save, or not).
    counted_from = 0
    for cycle in range(1, warmup + cycles + 1):
        for name in REPLACED:
            alive.add(weakref.ref(sys.modules[name], alive.discard))
        replaced += len(REPLACED)
        count = results.count
        save(config, f"VERSION = {cycle}\nLIMITS = {{'version': VERSION}}\n")
        limit = time.monotonic() + deadline
        while results.count == count or not applied(cycle):
            if time.monotonic() > limit:
                missed.append(cycle)
                break
            time.sleep(0.001)
        if missed:
            break
        done = cycle - warmup
        if done == 0:
            counted_from = results.count
            gc.collect()
            start = {"threads": threading.active_count(), "fds": open_fds(), "rss": rss_kib()}
            samples.append((0, start["rss"] or 0.0))
        elif done > 0 and done % sample_every == 0:
            gc.collect()
            samples.append((done, rss_kib() or 0.0))
    seconds = time.perf_counter() - started
    end = {"threads": threading.active_count(), "fds": open_fds()}
    group.join()
    reloader.stop()
    state = sys.modules[f"{PACKAGE}.state"].generation
    del reloader
    gc.collect()
    shutil.rmtree(root, ignore_errors=True)
    xs = [float(x) for x, _ in samples]
    ys = [y for _, y in samples]
    return {
        "cycles": cycles,
        "completed": results.count - counted_from,
        "seconds": round(seconds, 2),
        "missed": missed,
        "failed": results.failed,
        "caller_errors": group.errors[:20],
        "caller_error_count": len(group.errors),
        "calls": group.calls,
        "state_generation": state,
        "threads": {
            "before": threads_before,
            "start": start.get("threads"),
            "end": end["threads"],
            "after": threading.active_count(),
        },
        "fds": {
            "before": fds_before,
            "start": start.get("fds"),
            "end": end["fds"],
            "after": open_fds(),
        },
        "rss_kib": samples,
        "rss_slope_kib_per_cycle": round(linear_slope(xs, ys), 3),
        # the second half only: start-up growth (caches, allocator pools) has settled there
        "rss_slope_second_half": round(linear_slope(xs[len(xs) // 2 :], ys[len(ys) // 2 :]), 3),
        "replaced": replaced,
        "replaced_alive": len(alive),
        "keep_previous": keep_previous,
    }


def render(out: dict[str, Any]) -> str:
    threads, fds = out["threads"], out["fds"]
    rss = " ".join(f"{x}:{y / 1024:.1f}" for x, y in out["rss_kib"])
    rows = [
        ("cycles completed", f"{out['completed']} of {out['cycles']} in {out['seconds']} s"),
        ("failed reloads / missed deadlines", f"{len(out['failed'])} / {len(out['missed'])}"),
        ("caller threads: calls / errors", f"{sum(out['calls'])} / {out['caller_error_count']}"),
        ("threads start -> end", f"{threads['start']} -> {threads['end']}"),
        ("threads before start -> after stop", f"{threads['before']} -> {threads['after']}"),
        ("fds start -> end", f"{fds['start']} -> {fds['end']}"),
        ("fds before start -> after stop", f"{fds['before']} -> {fds['after']}"),
        ("RSS MiB (cycle:MiB)", rss),
        (
            "RSS slope (all samples / second half)",
            f"{out['rss_slope_kib_per_cycle']:.3f} / {out['rss_slope_second_half']:.3f} KiB/cycle",
        ),
        (
            "replaced module objects alive after gc",
            f"{out['replaced_alive']} of {out['replaced']}",
        ),
    ]
    lines = ["| measure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--sample-every", type=int, default=100, help="RSS sample interval")
    parser.add_argument("--callers", type=int, default=4, help="caller threads")
    parser.add_argument("--deadline", type=float, default=10.0, help="seconds per cycle")
    parser.add_argument(
        "--keep-previous",
        action="store_true",
        help="keep `_old = hotmod.previous(__name__)` as a module global (a leak by design)",
    )
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds between start() and the first save"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = soak(
        args.cycles,
        args.sample_every,
        args.callers,
        args.deadline,
        args.keep_previous,
        settle=args.settle,
    )
    print(render(out))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))
    bad = out["missed"] or out["failed"] or out["caller_error_count"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
