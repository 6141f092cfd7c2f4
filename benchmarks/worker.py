"""One benchmark cell, run in a fresh interpreter by ``run.py``.

Usage: ``python benchmarks/worker.py '<json config>'``. The worker imports the generated
package (and hotmod, or a baseline), measures, and prints one JSON object on stdout (anything
else it or the code under test prints goes to stderr). Config keys: ``kind`` (see ``CELLS``),
``spec`` (path of a ``*.spec.json``), ``shape``, ``warmup``, ``repeats``, ``budget_s`` and
kind-specific ones (``debounce``, ``calls``, ``cycles``, ``flask``, ``profile``).

Every cell edits the changed module by writing ``VALUE = <v>`` with ``v`` above every value in
the package (same width, so the same file size), then counts *stale* modules: modules of the
closure (the changed module and its transitive dependents) whose ``SEEN`` -- or, for the app's
views, whose registered routes -- do not show ``v``. ``extra`` counts re-executed modules
outside the closure (their ``_TOKEN`` changed).
"""

from __future__ import annotations

import builtins
import cProfile
import gc
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    bump_mtime,
    highest_value,
    linear_slope,
    repeat,
    rss_bytes,
    set_value,
    settle,
    summarize,
)
from generate import PackageSpec, load_spec
from real import CELLS as REAL_CELLS

Config = dict[str, Any]
Result = dict[str, Any]

DUNDERS = ("__name__", "__file__", "__package__", "__spec__", "__loader__", "__cached__")


@dataclass
class Workload:
    """A generated package, imported, with the module that changes and its closure."""

    spec: PackageSpec
    shape: str
    target: str
    closure: list[str]
    path: Path
    next_value: int
    mtime_s: int = 0
    edits: int = 0
    executed_tokens: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, cfg: Config, do_import: bool = True) -> Workload:
        """Load the spec and, with ``do_import``, import every module of the package."""
        spec = load_spec(Path(cfg["spec"]))
        target = spec.targets[cfg["shape"]]
        work = cls(
            spec=spec,
            shape=cfg["shape"],
            target=target,
            closure=spec.closure(target),
            path=spec.file_of(target),
            next_value=highest_value(spec) + 1,
            mtime_s=int(time.time()),
        )
        if do_import:
            sys.path.insert(0, spec.root)
            for name in spec.names():
                importlib.import_module(name)
        return work

    def edit(self, bump: bool = False, style: str = "in_place") -> int:
        """Save the changed module with a new value; with ``bump`` also move its mtime on."""
        value = self.next_value
        self.next_value += 1
        self.edits += 1
        self.snapshot()
        set_value(self.path, value, style)
        if bump:
            self.mtime_s = bump_mtime(self.path, self.mtime_s)
        return value

    def snapshot(self) -> None:
        """Remember every module's ``_TOKEN`` so that re-executions can be counted."""
        self.executed_tokens = {
            name: getattr(sys.modules.get(name), "_TOKEN", None) for name in self.spec.probes()
        }

    def stale(self, value: int) -> list[str]:
        """Closure modules that do not show ``value`` (in ``SEEN`` or in their routes)."""
        registry = sys.modules.get(f"{self.spec.package}.registry")
        bad = []
        for name in self.closure:
            mod = sys.modules.get(name)
            ok = getattr(mod, "SEEN", None) == value
            for route in self.spec.routes.get(name, ()) if ok else ():
                func = getattr(registry, "ROUTES", {}).get(route)
                ok = ok and func is not None and func()["seen"] == value
            if not ok:
                bad.append(name)
        return bad

    def extra(self) -> list[str]:
        """Modules outside the closure that were re-executed since the last snapshot."""
        closure = set(self.closure)
        return [
            name
            for name, token in self.executed_tokens.items()
            if name not in closure and getattr(sys.modules.get(name), "_TOKEN", None) is not token
        ]


@dataclass
class Tally:
    """Samples (ns) and correctness counts gathered over the kept runs of a cell."""

    samples: dict[str, list[int]] = field(default_factory=dict)
    stale: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, key: str, ns: int) -> None:
        """Keep one timing sample under ``key``."""
        self.samples.setdefault(key, []).append(ns)

    def check(self, work: Workload, value: int) -> None:
        """Count stale and extra modules after an edit to ``value`` was applied."""
        stale = work.stale(value)
        self.stale.append(len(stale))
        self.extra.append(len(work.extra()))
        if stale and len(self.failures) < 5:
            self.failures.append(f"value {value}: stale {stale[:5]}")

    def result(self, scale: float = 1e-6) -> Result:
        """Summaries (ms by default) plus worst stale/extra counts."""
        out: Result = {key: summarize(xs, scale) for key, xs in self.samples.items()}
        out["stale_max"] = max(self.stale, default=None)
        out["extra_max"] = max(self.extra, default=None)
        if self.failures:
            out["failures"] = self.failures
        return out


def closure_info(work: Workload) -> Result:
    """What every cell reports about the workload itself."""
    return {
        "package": work.spec.package,
        "modules": len(work.spec.modules),
        "target": work.target,
        "closure": len(work.closure),
    }


# -- the floor ------------------------------------------------------------------------------


class Floor:
    """The least work any reloader must do: compile the changed file, execute the closure.

    Code objects of the closure are compiled beforehand from the files; :meth:`run` compiles
    the changed file once and executes it and the other closure modules' code objects, in
    dependency order, each into a fresh module object's dict carrying the old module's dunders.
    """

    def __init__(self, work: Workload) -> None:
        self.work = work
        self.entries: list[tuple[str, types.CodeType, dict[str, Any]]] = []
        for name in work.closure:
            mod = sys.modules[name]
            path = work.spec.file_of(name)
            code = compile(path.read_bytes(), str(path), "exec")
            dunders = {key: mod.__dict__[key] for key in DUNDERS if key in mod.__dict__}
            dunders["__builtins__"] = builtins
            self.entries.append((name, code, dunders))

    def run(self) -> int:
        """Compile the changed file and execute the closure once; return nanoseconds."""
        source = self.work.path.read_bytes()
        filename = str(self.work.path)
        target = self.work.target
        start = time.perf_counter_ns()
        changed = compile(source, filename, "exec")
        for name, code, dunders in self.entries:
            namespace = types.ModuleType(name).__dict__
            namespace.update(dunders)
            exec(changed if name == target else code, namespace)
        return time.perf_counter_ns() - start


# -- hotmod access --------------------------------------------------------------------------


def import_hotmod() -> Any:
    """The hotmod module, or None when its reload engine is not importable yet."""
    try:
        import hotmod
    except ImportError:
        return None
    return hotmod if hasattr(hotmod, "Reloader") else None


def make_reloader(work: Workload, **kwargs: Any) -> Any:
    """``hotmod.Reloader`` over the workload's package (already imported)."""
    hotmod = import_hotmod()
    if hotmod is None:
        raise RuntimeError("hotmod.Reloader is not available")
    return hotmod.Reloader(work.spec.package, **kwargs)


def hotmod_missing(work: Workload) -> Result:
    """The result of a hotmod cell when hotmod's engine is not there yet."""
    return {**closure_info(work), "skipped": "hotmod.Reloader not importable"}


# -- cells ----------------------------------------------------------------------------------


def cell_reload(cfg: Config) -> Result:
    """hotmod ``r.reload(path)`` after an edit, interleaved with the floor.

    Each kept run: edit, ``gc.collect()``, timed reload (``reload``), stale check;
    ``gc.collect()``, timed floor; then another edit and reload *without* the collection first
    (``reload_nocollect``: what a process whose collector is mid-cycle sees).
    """
    work = Workload.load(cfg)
    floor = Floor(work)
    hotmod = import_hotmod()
    reloader = make_reloader(work) if hotmod else None
    tally = Tally()
    profiler = cProfile.Profile() if cfg.get("profile") else None
    not_ok: list[str] = []

    def timed_reload(keep: bool, key: str) -> None:
        assert reloader is not None
        value = work.edit()
        if key == "reload":
            gc.collect()
        if profiler is not None and keep:
            profiler.enable()
        start = time.perf_counter_ns()
        res = reloader.reload(work.path)
        elapsed = time.perf_counter_ns() - start
        if profiler is not None and keep:
            profiler.disable()
        if keep:
            tally.add(key, elapsed)
            tally.add("reloaded_count", len(res.reloaded))
            tally.check(work, value)
            if not res.ok:
                not_ok.append(repr(res.error))

    def one(keep: bool) -> None:
        if reloader is not None:
            timed_reload(keep, "reload")
        gc.collect()
        floor_ns = floor.run()
        if keep:
            tally.add("floor", floor_ns)
        if reloader is not None:
            timed_reload(keep, "reload_nocollect")

    repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    out = {**closure_info(work), **tally.result()}
    out["reloaded_count"] = summarize(tally.samples.get("reloaded_count", [0]), 1)
    if hotmod is None:
        out["skipped"] = "hotmod.Reloader not importable: floor only"
    if not_ok:
        out["not_ok"] = not_ok[:3]
    if profiler is not None:
        profiler.dump_stats(cfg["profile"])
    return out


def cell_baseline_importlib(cfg: Config) -> Result:
    """``importlib.reload`` of the changed module alone."""
    work = Workload.load(cfg)
    tally = Tally()

    def one(keep: bool) -> None:
        value = work.edit(bump=True)
        module = sys.modules[work.target]
        gc.collect()
        start = time.perf_counter_ns()
        importlib.reload(module)
        elapsed = time.perf_counter_ns() - start
        if keep:
            tally.add("time", elapsed)
            tally.check(work, value)

    repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    return {**closure_info(work), **tally.result()}


def cell_baseline_ipython(cfg: Config) -> Result:
    """IPython's ``%autoreload 2`` machinery: ``ModuleReloader.check()`` after an edit."""
    work = Workload.load(cfg)
    try:
        from IPython.extensions.autoreload import ModuleReloader
    except ImportError:
        return {**closure_info(work), "skipped": "IPython not installed"}
    import IPython

    reloader = ModuleReloader()  # type: ignore[no-untyped-call]
    reloader.enabled = True
    reloader.check_all = True
    tally = Tally()

    def one(keep: bool) -> None:
        value = work.edit(bump=True)
        gc.collect()
        start = time.perf_counter_ns()
        reloader.check()  # type: ignore[no-untyped-call]
        elapsed = time.perf_counter_ns() - start
        if keep:
            tally.add("time", elapsed)
            tally.check(work, value)

    repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    return {**closure_info(work), **tally.result(), "ipython": IPython.__version__}


RESTART_MODULE = '''"""Restart entry point for {package} (generated by benchmarks/worker.py)."""
import importlib
import importlib.util
import sys

NAMES = {names!r}
CLOSURE = {closure!r}


def main(value: int, with_flask: bool) -> int:
    """Import flask (optionally) and the whole package; return the stale count."""
    if with_flask:
        import flask  # noqa: F401
    for name in NAMES:
        importlib.import_module(name)
    return sum(1 for name in CLOSURE if sys.modules[name].SEEN != value)
'''


def restart_env(root: str) -> dict[str, str]:
    """The environment of a restarted process: writes bytecode, finds the package."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = root
    return env


def cell_baseline_restart(cfg: Config) -> Result:
    """A fresh interpreter importing the package (optionally after ``import flask``)."""
    work = Workload.load(cfg, do_import=False)
    with_flask = bool(cfg.get("flask"))
    if with_flask and importlib.util.find_spec("flask") is None:
        return {**closure_info(work), "skipped": "flask not installed"}
    entry = f"hmb_restart_{work.spec.package}_{work.shape}"
    Path(work.spec.root, f"{entry}.py").write_text(
        RESTART_MODULE.format(
            package=work.spec.package, names=work.spec.names(), closure=work.closure
        )
    )
    code = f"import sys, {entry} as m; print(m.main(int(sys.argv[1]), sys.argv[2] == '1'))"
    env = restart_env(work.spec.root)
    tally = Tally()

    def restart(value: int) -> tuple[int, int]:
        argv = [sys.executable, "-c", code, str(value), "1" if with_flask else "0"]
        start = time.perf_counter_ns()
        proc = subprocess.run(
            argv, env=env, cwd=work.spec.root, capture_output=True, text=True, check=True
        )
        return time.perf_counter_ns() - start, int(proc.stdout.strip().splitlines()[-1])

    restart(work.next_value - 1)  # warm the pyc cache of the whole package
    restart(work.next_value - 1)

    def one(keep: bool) -> None:
        value = work.edit(bump=True)
        elapsed, stale = restart(value)
        if keep:
            tally.add("time", elapsed)
            tally.stale.append(stale)

    repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    return {**closure_info(work), **tally.result(), "flask": with_flask}


def cell_watch(cfg: Config) -> Result:
    """Save -> new code live through the watcher (``on_reload`` callback)."""
    work = Workload.load(cfg)
    if import_hotmod() is None:
        return hotmod_missing(work)
    debounce = float(cfg.get("debounce", 0.05))
    style = str(cfg.get("style", "in_place"))
    fired = threading.Event()
    stamps: list[int] = []
    results: list[Any] = []

    def on_reload(result: Any) -> None:
        stamps.append(time.perf_counter_ns())
        results.append(result)
        fired.set()

    tally = Tally()
    timeouts = 0
    reloader = make_reloader(work, debounce=debounce, on_reload=on_reload)
    reloader.start()
    settle(reloader)

    def one(keep: bool) -> None:
        nonlocal timeouts
        fired.clear()
        stamps.clear()
        results.clear()
        value = work.edit(style=style)
        saved = time.perf_counter_ns()
        if not fired.wait(5.0):
            timeouts += 1
            return
        time.sleep(debounce * 2 + 0.05)  # let any trailing event settle before the next edit
        if keep:
            tally.add("save_to_live", stamps[0] - saved)
            tally.add("reported", int(results[0].duration * 1e9))
            tally.add("callbacks", len(stamps))
            tally.check(work, value)

    try:
        repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    finally:
        reloader.stop()
    out = {**closure_info(work), **tally.result(), "debounce_ms": debounce * 1e3}
    out["style"] = style
    out["callbacks"] = summarize(tally.samples.get("callbacks", [0]), 1)
    out["timeouts"] = timeouts
    return out


def cell_build(cfg: Config) -> Result:
    """Start-up: the app's import, ``Reloader()`` (what blocks the start-up path), the graph
    ready (built off that path), the first reload against warm ones; the memory graph + index
    hold; construction + first graph query repeated."""
    started = time.perf_counter_ns()
    work = Workload.load(cfg)
    app_import = time.perf_counter_ns() - started
    fresh = "hotmod" not in sys.modules
    started = time.perf_counter_ns()
    hotmod = import_hotmod()
    hotmod_import = time.perf_counter_ns() - started
    if hotmod is None:
        return hotmod_missing(work)
    startup = _startup(work, hotmod) if work.shape != "app" else {}
    samples: list[int] = []
    first: list[int] = []

    def one(keep: bool) -> None:
        gc.collect()
        start = time.perf_counter_ns()
        reloader = make_reloader(work)
        reloader.graph.dependents(work.target)
        elapsed = time.perf_counter_ns() - start
        (samples if keep else first).append(elapsed)
        reloader.stop()

    repeat(one, max(1, cfg["warmup"]), cfg["repeats"], cfg["budget_s"])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    reloader = make_reloader(work)
    dependents = reloader.graph.dependents(work.target)
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    expected = set(work.closure) - {work.target}
    return {
        **closure_info(work),
        **startup,
        "app_import_ms": app_import * 1e-6,
        **({"hotmod_import_ms": hotmod_import * 1e-6} if fresh else {}),
        "build": summarize(samples),
        "first_build_ms": first[0] * 1e-6,
        "memory_bytes": retained - before,
        "memory_peak_bytes": peak - before,
        "graph_dependents_ok": dependents == expected,
        "graph_missing": sorted(expected - dependents)[:5],
        "graph_extra": sorted(dependents - expected)[:5],
    }


def cell_startup(cfg: Config) -> Result:
    """Start-up alone, in one more fresh process: the app's import, ``import hotmod``, then
    ``_startup`` (the first reload of a process is one sample per process: the report takes
    the median over the processes of this cell and of ``build``)."""
    started = time.perf_counter_ns()
    work = Workload.load(cfg)
    app_import = time.perf_counter_ns() - started
    started = time.perf_counter_ns()
    hotmod = import_hotmod()
    hotmod_import = time.perf_counter_ns() - started
    if hotmod is None:
        return hotmod_missing(work)
    return {
        **closure_info(work),
        **_startup(work, hotmod),
        "app_import_ms": app_import * 1e-6,
        "hotmod_import_ms": hotmod_import * 1e-6,
    }


def _startup(work: Workload, hotmod: Any) -> Result:
    """The first ``Reloader()`` of this process (its import cache warm from earlier runs, as
    when a developer starts the server again), and the first reload of a leaf after it."""
    gc.collect()
    start = time.perf_counter_ns()
    reloader = make_reloader(work)
    constructed = time.perf_counter_ns()
    reloader.graph.dependents(work.target)
    ready = time.perf_counter_ns()
    leaf = work.spec.file_of(work.spec.targets["leaf"])
    reloads: list[int] = []
    for _ in range(8):
        text = leaf.read_text()
        edited = text.replace("# edit", "# edit.", 1) if "# edit" in text else text + "# edit\n"
        leaf.write_text(edited)
        t0 = time.perf_counter_ns()
        result = reloader.reload(leaf)
        reloads.append(time.perf_counter_ns() - t0)
        if not result.ok:
            raise RuntimeError(str(result))
    reloader.stop()
    warm = sorted(reloads[1:])[len(reloads[1:]) // 2]
    return {
        "construct_ms": (constructed - start) * 1e-6,
        "ready_ms": (ready - start) * 1e-6,
        "first_reload_ms": reloads[0] * 1e-6,
        "warm_reload_ms": warm * 1e-6,
    }


def cell_check(cfg: Config) -> Result:
    """``check()`` with nothing pending, watcher running, per call over many calls."""
    work = Workload.load(cfg)
    if import_hotmod() is None:
        return hotmod_missing(work)
    calls = int(cfg.get("calls", 2000))
    reloader = make_reloader(work, background=False)
    reloader.start()
    settle(reloader)
    samples: list[float] = []
    non_none = 0

    def one(keep: bool) -> None:
        nonlocal non_none
        check = reloader.check
        start = time.perf_counter_ns()
        for _ in range(calls):
            if check() is not None:
                non_none += 1
        if keep:
            samples.append((time.perf_counter_ns() - start) / calls)

    try:
        repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    finally:
        reloader.stop()
    return {
        **closure_info(work),
        "check_us": summarize(samples, 1e-3),
        "calls": calls,
        "non_none": non_none,
    }


def cell_rss(cfg: Config) -> Result:
    """RSS and live objects sampled every ``every`` reloads, then the traced Python heap.

    ``warm`` reloads first (the allocator settles: RSS grows for a few hundred reloads, then
    stays flat), then ``cycles`` reloads sampled at the start and every ``every`` reloads
    (after ``gc.collect()``; ``garbage_max``: the most objects that collection freed, i.e. what
    the collector's own collections had left, old versions included). Last, tracemalloc over
    ``traced`` more reloads (after as many traced reloads, so that objects allocated before
    tracing began have been replaced): growth of the Python heap, which shows a leak of Python
    objects that RSS noise can hide.
    """
    work = Workload.load(cfg)
    if import_hotmod() is None:
        return hotmod_missing(work)
    cycles, every = int(cfg.get("cycles", 1000)), int(cfg.get("every", 100))
    warm, traced = int(cfg.get("warm", 200)), int(cfg.get("traced", 300))
    reloader = make_reloader(work)
    rss_bytes()  # import psutil before the first sample

    def cycle() -> int:
        value = work.edit()
        reloader.reload(work.path)
        return value

    for _ in range(warm):
        cycle()
    points: list[tuple[int, int, int]] = []
    garbage: list[int] = []  # objects that only the sample's gc.collect() freed
    stale_total = 0
    for i in range(cycles + 1):
        value = cycle() if i else 0
        if i % every == 0:
            if value:
                stale_total += len(work.stale(value))
            uncollected = len(gc.get_objects())  # what the collector's own runs left
            gc.collect()
            points.append((i, rss_bytes(), len(gc.get_objects())))
            garbage.append(uncollected - points[-1][2])
    xs = [float(p[0]) for p in points]
    tracemalloc.start()
    for _ in range(traced):  # first replace what was allocated before tracing began
        cycle()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(traced):
        cycle()
    gc.collect()
    heap_growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {
        **closure_info(work),
        "warm": warm,
        "cycles": cycles,
        "points": points,
        "rss_slope_kib_per_1000": linear_slope(xs, [p[1] / 1024 for p in points]) * 1000,
        "objects_slope_per_1000": linear_slope(xs, [float(p[2]) for p in points]) * 1000,
        "rss_growth_kib": (points[-1][1] - points[0][1]) / 1024,
        "garbage_max": max(garbage),
        "traced_cycles": traced,
        "heap_growth_kib": heap_growth / 1024,
        "stale_at_samples": stale_total,
    }


CELLS: dict[str, Callable[[Config], Result]] = {
    "reload": cell_reload,
    "importlib": cell_baseline_importlib,
    "ipython": cell_baseline_ipython,
    "restart": cell_baseline_restart,
    "watch": cell_watch,
    "build": cell_build,
    "startup": cell_startup,
    "check": cell_check,
    "rss": cell_rss,
    **REAL_CELLS,
}


def main(argv: list[str]) -> int:
    """Run the cell described by ``argv[1]`` (JSON) and print its result as JSON."""
    cfg: Config = json.loads(argv[1])
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    started = time.perf_counter()
    try:
        result = CELLS[cfg["kind"]](cfg)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["wall_s"] = time.perf_counter() - started
    real_stdout.write(json.dumps(result) + "\n")
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
