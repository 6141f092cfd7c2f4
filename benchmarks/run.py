"""Run the hotmod benchmarks and print a markdown report.

Usage::

    python benchmarks/run.py            # full run, about 5-10 minutes on 2 cores
    python benchmarks/run.py --quick    # N = 100 (+ N = 1000 for scaling), pygments, < 1 min
    python benchmarks/run.py --smoke    # every cell once at N = 10, under ~20 s
    python benchmarks/run.py --json results.json --profile prof.out

Generates the synthetic packages (``generate.py``) and copies the real ones (``real.py``:
pygments, rich, a Django project; quick: pygments; smoke: one pygments reload) into a
temporary folder, runs each cell in a fresh interpreter (``worker.py``), writes every figure
as JSON (default
``benchmarks/results/latest.json``, plus ``latest.md``) and prints the tables with the goals
marked. Workers put ``src`` first on ``PYTHONPATH``. Goals are reported, never asserted.

Exit status: 0; 1 when a cell failed to run; 2 when a hotmod cell left a stale module,
re-executed a module outside the closure, reported a failed reload or missed a save.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import SAVE_STYLES, machine_info
from generate import APP_SIZE, GENERIC_SHAPES, MIN_APP_SIZE, SIZES, generate
from real import REAL, available, prepare
from report import evaluate_goals, render

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
WORKER = HERE / "worker.py"
DEFAULT_JSON = HERE / "results" / "latest.json"
CACHE_DIR = Path(tempfile.gettempdir()) / f"hotmod-bench-cache-{os.getpid()}"
HOTMOD_KINDS = ("reload", "watch", "build", "startup", "check", "rss", "real_reload", "real_watch")
REAL_KINDS = ("real_reload", "real_watch", "real_startup")


@dataclass
class Mode:
    """How much to run."""

    name: str
    sizes: tuple[int, ...]
    app_size: int
    warmup: int
    repeats: int
    budget_s: float
    watch_sizes: tuple[int, ...]
    watch_repeats: int
    fast_repeats: int  # cells whose runs take milliseconds: reload, importlib, ipython
    rss: tuple[str, int, int, int, int]  # shape, n, warm-up reloads, sampled reloads, every
    check_calls: int
    scaling_sizes: tuple[int, ...] = ()  # extra sizes for leaf/fan10 reload, build and check
    real: tuple[str, ...] = ()  # real workloads (benchmarks/real.py): copied packages, Django
    real_all: bool = True  # every real cell; False: only the reload of each one's first file
    debounce: float = 0.05
    # fresh processes measuring start-up (the first reload is one sample per process)
    startup_runs: int = 1

    def all_sizes(self) -> tuple[int, ...]:
        """Every generic size this mode generates."""
        return tuple(sorted(set(self.sizes) | set(self.scaling_sizes) | {self.rss[1]}))


MODES = {
    "full": Mode(
        "full",
        sizes=SIZES,
        app_size=APP_SIZE,
        warmup=2,
        repeats=15,
        fast_repeats=31,
        budget_s=15.0,
        watch_sizes=(100, 1000, 3000),
        watch_repeats=11,
        rss=("fan10", 1000, 300, 1000, 100),
        check_calls=5000,
        real=("pygments", "rich", "django"),
        startup_runs=5,
    ),
    "quick": Mode(
        "quick",
        sizes=(100,),
        app_size=APP_SIZE,
        warmup=1,
        repeats=7,
        fast_repeats=21,
        budget_s=3.0,
        watch_sizes=(100,),
        watch_repeats=5,
        rss=("fan10", 100, 200, 1000, 100),
        check_calls=2000,
        scaling_sizes=(1000,),
        real=("pygments",),
        startup_runs=2,
    ),
    "smoke": Mode(
        "smoke",
        sizes=(10,),
        app_size=MIN_APP_SIZE,
        warmup=0,
        repeats=1,
        fast_repeats=1,
        budget_s=1.0,
        watch_sizes=(10,),
        watch_repeats=1,
        rss=("fan10", 10, 5, 20, 10),
        check_calls=100,
        real=("pygments",),
        real_all=False,
    ),
}


@dataclass
class Job:
    """One worker invocation."""

    kind: str
    shape: str
    n: int
    config: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        """Short description for progress lines."""
        if self.kind in REAL_KINDS:
            return f"{self.kind} {self.shape}"
        extra = " flask" if self.config.get("flask") else ""
        style = f" ({self.config['style']})" if self.config.get("style") else ""
        return f"{self.kind}{extra} {self.shape} N={self.n}{style}"


def plan(mode: Mode) -> list[Job]:
    """Every cell of ``mode``, grouped by package."""
    jobs: list[Job] = []
    workloads = [(s, n) for n in mode.sizes for s in GENERIC_SHAPES] + [("app", mode.app_size)]
    workloads += [(s, n) for n in mode.scaling_sizes for s in ("leaf", "fan10")]
    fast = {"repeats": mode.fast_repeats}
    for shape, n in workloads:
        jobs.append(Job("reload", shape, n, fast))
        if n in mode.scaling_sizes:
            continue
        jobs += [
            Job("restart", shape, n, {"flask": False}),
            Job("restart", shape, n, {"flask": True}),
            Job("importlib", shape, n, fast),
            Job("ipython", shape, n, fast),
        ]
        if n in mode.watch_sizes or shape == "app":
            watch = {"repeats": mode.watch_repeats, "debounce": mode.debounce}
            jobs.append(Job("watch", shape, n, watch))
            if shape == "leaf":  # every editor save style, single-file saves
                jobs += [
                    Job("watch", shape, n, {**watch, "style": style})
                    for style in SAVE_STYLES
                    if style != "in_place"
                ]
    for n in (*mode.sizes, *mode.scaling_sizes):
        jobs += [Job("build", "fan10", n), Job("check", "fan10", n, {"calls": mode.check_calls})]
        jobs += [Job("startup", "fan10", n) for _ in range(mode.startup_runs - 1)]
    jobs += [Job("build", "app", mode.app_size)]
    shape, n, warm, cycles, every = mode.rss
    traced = min(warm, cycles)
    rss = {"warm": warm, "cycles": cycles, "every": every, "traced": traced}
    jobs.append(Job("rss", shape, n, rss))
    for name in mode.real:  # start-up last: hotmod's import cache is warm by then
        targets = REAL[name]["targets"]
        for target in targets if mode.real_all else targets[:1]:
            real = {"package": name, "target": target}
            jobs.append(Job("real_reload", target, 0, {**real, **fast}))
            if mode.real_all:
                watch = {**real, "repeats": mode.watch_repeats}
                jobs.append(Job("real_watch", target, 0, watch))
        if mode.real_all:
            start = {"package": name, "target": targets[0]}
            jobs += [Job("real_startup", targets[0], 0, start) for _ in range(mode.startup_runs)]
    return jobs


def worker_env() -> dict[str, str]:
    """Workers write bytecode (as users' processes do) and find hotmod's source tree; hotmod's
    import cache goes to a folder of this run (warm after the first cell of a package, as for
    a developer who starts the server again)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["HOTMOD_CACHE_DIR"] = str(CACHE_DIR)
    paths = [str(SRC), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_job(job: Job, spec: Path, mode: Mode, profile: Path | None) -> dict[str, Any]:
    """Run one worker and return its JSON merged with the job's description."""
    config = {
        "kind": job.kind,
        "spec": str(spec),
        "shape": job.shape,
        "warmup": mode.warmup,
        "repeats": mode.repeats,
        "budget_s": mode.budget_s,
        **job.config,
    }
    if profile is not None:
        config["profile"] = str(profile)
    cmd = [sys.executable, str(WORKER), json.dumps(config)]
    try:
        proc = subprocess.run(
            cmd, env=worker_env(), capture_output=True, text=True, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        return {**config, "n": job.n, "error": "worker timed out after 600 s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"error": f"worker exit {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    if "error" in result:
        result["stderr_tail"] = proc.stderr.strip()[-1500:]
    return {**config, "n": job.n, **result}


def generate_all(
    mode: Mode, root: Path, real: set[str], skipped: dict[str, str]
) -> dict[tuple[str, int], Path]:
    """Generate every package of ``mode`` and copy the ``real`` workloads; map (layout, n) to
    its spec file (("real:<name>", 0) for a real one; a real one that cannot run goes into
    ``skipped`` with the reason)."""
    specs: dict[tuple[str, int], Path] = {}
    for name in sorted(real):
        reason = available(name)
        if reason is None:
            specs[(f"real:{name}", 0)] = prepare(root, name)
        else:
            skipped[name] = reason
    for n in mode.all_sizes():
        spec = generate(root, "fan10", n)
        specs[("generic", n)] = Path(spec.root) / f"{spec.package}.spec.json"
    spec = generate(root, "app", mode.app_size)
    specs[("app", mode.app_size)] = Path(spec.root) / f"{spec.package}.spec.json"
    # warm .pyc caches, as in a project that has been run before (edits recompile their file)
    compileall.compile_dir(root, quiet=1)
    return specs


def notes_for(results: list[dict[str, Any]]) -> list[str]:
    """Skipped and failed cells, as report notes."""
    notes = []
    for c in results:
        label = f"{c['kind']}{' flask' if c.get('flask') else ''} {c['shape']} N={c['n']}"
        if c["kind"] in REAL_KINDS:
            label = f"{c['kind']} {c['shape']}"
        if c.get("style"):
            label += f" ({c['style']})"
        if "skipped" in c:
            notes.append(f"{label}: skipped ({c['skipped']})")
        if "error" in c:
            notes.append(f"{label}: ERROR {c['error']}")
        if c.get("not_ok"):
            notes.append(f"{label}: ReloadResult not ok: {c['not_ok'][0]}")
        if c.get("failures") and c["kind"] in HOTMOD_KINDS:
            notes.append(f"{label}: {c['failures'][0]}")
    return notes


def load_average() -> str:
    """The 1-minute load average (a noisy machine shows here), or n/a."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def hotmod_incorrect(results: list[dict[str, Any]]) -> list[str]:
    """hotmod cells that left stale modules, re-executed extra ones or reported a failure."""
    bad = []
    for c in results:
        if c["kind"] not in HOTMOD_KINDS:
            continue
        stale = (c.get("stale_max") or 0) + (c.get("stale_at_samples") or 0)
        if stale or c.get("extra_max") or c.get("not_ok") or c.get("timeouts"):
            bad.append(f"{c['kind']} {c['shape']} N={c['n']}")
    return bad


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description="Run the hotmod benchmarks.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="N = 100 (+1000), under a minute")
    group.add_argument("--smoke", action="store_true", help="every cell once at N = 10")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--only", default="", help="comma-separated kinds to run (e.g. reload)")
    parser.add_argument("--shape", default="", help="comma-separated shapes to run")
    parser.add_argument("--profile", type=Path, help="cProfile the reload cells into PATH.<cell>")
    parser.add_argument("--keep", action="store_true", help="keep the generated packages")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate, run every cell, print and save the report."""
    args = parse_args(argv)
    sys.path.insert(0, str(SRC))  # as in the workers: the source tree's hotmod first
    mode = MODES["quick" if args.quick else "smoke" if args.smoke else "full"]
    jobs = plan(mode)
    if args.only:
        jobs = [j for j in jobs if j.kind in args.only.split(",")]
    if args.shape:
        jobs = [j for j in jobs if j.shape in args.shape.split(",")]
    root = Path(tempfile.mkdtemp(prefix="hotmod-bench-"))
    started = time.perf_counter()
    load_start = load_average()
    results: list[dict[str, Any]] = []
    try:
        real = {str(j.config["package"]) for j in jobs if j.kind in REAL_KINDS}
        skipped: dict[str, str] = {}
        specs = generate_all(mode, root, real, skipped)
        for i, job in enumerate(jobs, 1):
            layout = "app" if job.shape == "app" else "generic"
            if job.kind in REAL_KINDS:
                layout = f"real:{job.config['package']}"
                if job.config["package"] in skipped:
                    reason = skipped[job.config["package"]]
                    results.append({"kind": job.kind, "shape": job.shape, "n": 0, **job.config})
                    results[-1]["skipped"] = reason
                    continue
            profile = None
            if args.profile and job.kind == "reload":
                profile = args.profile.with_name(f"{args.profile.name}.{job.shape}-{job.n}")
                profile.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            results.append(run_job(job, specs[(layout, job.n)], mode, profile))
            status = "error" if "error" in results[-1] else "ok"
            elapsed = time.perf_counter() - t0
            print(f"[{i}/{len(jobs)}] {job.label()}: {status} {elapsed:.1f}s", file=sys.stderr)
    finally:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
        if args.keep:
            print(f"generated packages kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    report: dict[str, Any] = {
        "mode": mode.name,
        "machine": machine_info(),
        "warmup": mode.warmup,
        "repeats": mode.repeats,
        "fast_repeats": mode.fast_repeats,
        "debounce_s": mode.debounce,
        "wall_s": time.perf_counter() - started,
        "load_start": load_start,
        "load_end": load_average(),
        "cells": results,
        "notes": notes_for(results),
    }
    report["goals"] = [g.as_dict() for g in evaluate_goals(report)]
    text = render(report)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    args.json.with_suffix(".md").write_text(text)
    print(f"wrote {args.json} in {report['wall_s']:.0f} s", file=sys.stderr)
    if any("error" in c for c in results):
        return 1
    incorrect = hotmod_incorrect(results)
    if incorrect:
        print("hotmod stale/extra/failed in: " + ", ".join(incorrect), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
