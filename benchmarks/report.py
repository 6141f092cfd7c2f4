"""Markdown tables and goal checks for the results gathered by ``run.py``."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Goal", "evaluate_goals", "render"]

Results = dict[str, Any]
Cell = dict[str, Any]

PASS, MISS, NA = "✅", "❌", "n/a"
RELOAD_FACTOR, RELOAD_SLACK_MS = 1.25, 0.5
CHECK_IDLE_US = 20.0
SAVE_TO_LIVE_MS = 10.0  # p50, every save style, default settings
STARTUP_SHARE = 0.10  # Reloader() on the start-up path, against the app's own import
FIRST_RELOAD_RATIO = 2.0  # the first reload after start-up against a warm one
BUILD_MS_AT_1000 = 150.0
GRAPH_MB_AT_3000 = 5.0
RESTART_SPEEDUP = 20.0
RSS_SLOPE_KIB = 512.0  # per 1,000 reloads
OBJECTS_SLOPE = 1000.0  # live objects per 1,000 reloads


class Goal:
    """One goal: its text, a verdict (True, False or None when not measured) and a detail."""

    def __init__(self, text: str, verdict: bool | None, detail: str) -> None:
        self.text = text
        self.verdict = verdict
        self.detail = detail

    def mark(self) -> str:
        """✅, ❌ or - (not measured)."""
        return mark(self.verdict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"goal": self.text, "pass": self.verdict, "detail": self.detail}


def mark(verdict: bool | None) -> str:
    """The symbol of a verdict."""
    return NA if verdict is None else PASS if verdict else MISS


def fmt(summary: dict[str, Any] | None, digits: int = 2) -> str:
    """``median (p10-p90)`` of a summary, or - when missing."""
    if not summary:
        return NA
    m, lo, hi = summary["median"], summary["p10"], summary["p90"]
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def cells(results: Results, kind: str) -> list[Cell]:
    """Successful cells of ``kind`` (no error, not skipped)."""
    return [
        c for c in results["cells"] if c["kind"] == kind and "error" not in c and "skipped" not in c
    ]


def find(results: Results, kind: str, shape: str, n: int, **extra: Any) -> Cell | None:
    """The successful cell of ``kind`` for (shape, n) matching ``extra`` config keys."""
    for c in cells(results, kind):
        if c["shape"] == shape and c["n"] == n and all(c.get(k) == v for k, v in extra.items()):
            return c
    return None


def workloads(results: Results) -> list[tuple[str, int]]:
    """(shape, n) pairs in plan order."""
    seen: dict[tuple[str, int], None] = {}
    for c in results["cells"]:
        if c["kind"] == "reload":
            seen[(c["shape"], c["n"])] = None
    return list(seen)


def reload_bound(cell: Cell) -> float:
    """The goal for a reload: 1.25 x floor + 0.5 ms (medians)."""
    return RELOAD_FACTOR * float(cell["floor"]["median"]) + RELOAD_SLACK_MS


def reload_ok(cell: Cell | None) -> bool | None:
    """Whether a reload cell meets its floor-relative goal (None without hotmod data)."""
    if cell is None or "reload" not in cell:
        return None
    return bool(cell["reload"]["median"] <= reload_bound(cell))


def _stale(cell: Cell | None) -> str:
    """Worst stale count of a cell."""
    if cell is None or cell.get("stale_max") is None:
        return NA
    return str(cell["stale_max"])


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    """A markdown table."""
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return lines


def reload_table(results: Results) -> list[str]:
    """hotmod ``reload`` against the floor, per workload."""
    rows = []
    for shape, n in workloads(results):
        c = find(results, "reload", shape, n)
        if c is None:
            continue
        has = "reload" in c
        ratio = f"{c['reload']['median'] / c['floor']['median']:.2f}" if has else NA
        rows.append(
            [
                shape,
                n,
                c["closure"],
                fmt(c.get("reload"), 3),
                fmt(c.get("reload_nocollect"), 3),
                fmt(c["floor"], 3),
                ratio,
                f"{reload_bound(c):.3f} {mark(reload_ok(c))}",
                _stale(c),
                c.get("extra_max", NA) if has else NA,
            ]
        )
    head = ["shape", "N", "closure", "hotmod ms", "no pre-collect ms", "floor ms", "÷ floor"]
    head += ["goal ms", "stale"]
    return table([*head, "extra"], rows)


def _time_stale(cell: Cell | None) -> str:
    """``median ms [stale k]`` of a baseline cell."""
    if cell is None:
        return NA
    key = "reload" if "reload" in cell else "time"
    if key not in cell:
        return NA
    return f"{cell[key]['median']:.2f} [{_stale(cell)}]"


def speedup(results: Results, shape: str, n: int) -> tuple[float | None, bool | None]:
    """Restart time over hotmod reload time, and whether the 20x / zero-stale goal holds."""
    hot = find(results, "reload", shape, n)
    restart = find(results, "restart", shape, n, flask=False)
    if hot is None or "reload" not in hot or restart is None:
        return None, None
    ratio = restart["time"]["median"] / hot["reload"]["median"]
    if n < 100:
        return ratio, None
    return ratio, bool(ratio >= RESTART_SPEEDUP and hot["stale_max"] == 0)


def alternatives_table(results: Results) -> list[str]:
    """The same change through hotmod, a restart, importlib.reload and IPython autoreload."""
    rows = []
    for shape, n in workloads(results):
        if not any(find(results, kind, shape, n) for kind in ("restart", "importlib", "ipython")):
            continue  # a scaling-only workload (quick mode)
        ratio, ok = speedup(results, shape, n)
        rows.append(
            [
                shape,
                n,
                find(results, "reload", shape, n)["closure"],  # type: ignore[index]
                _time_stale(find(results, "reload", shape, n)),
                _time_stale(find(results, "restart", shape, n, flask=False)),
                _time_stale(find(results, "restart", shape, n, flask=True)),
                _time_stale(find(results, "importlib", shape, n)),
                _time_stale(find(results, "ipython", shape, n)),
                f"{ratio:.0f}x {mark(ok)}" if ratio is not None else NA,
                _floor_speedup(results, shape, n),
            ]
        )
    head = ["shape", "N", "closure", "hotmod", "restart", "restart + flask"]
    head += ["importlib.reload", "IPython autoreload", "restart ÷ hotmod", "restart ÷ floor"]
    return table(head, rows)


def _floor_speedup(results: Results, shape: str, n: int) -> str:
    """Restart time over the floor: the most any in-process reloader could gain."""
    hot = find(results, "reload", shape, n)
    restart = find(results, "restart", shape, n, flask=False)
    if hot is None or restart is None:
        return NA
    return f"{restart['time']['median'] / hot['floor']['median']:.0f}x"


def watch_table(results: Results) -> list[str]:
    """Save -> live through the watcher."""
    rows = []
    for c in cells(results, "watch"):
        if "save_to_live" not in c:
            continue
        median = c["save_to_live"]["median"]
        rest = median - c["reported"]["median"]
        overhead = f"{c['reported']['median']:.1f} / {rest:.1f}"
        rows.append(
            [
                c["shape"],
                c["n"],
                c["closure"],
                c.get("style", "in_place"),
                f"{c['debounce_ms']:.0f}",
                fmt(c["save_to_live"], 1),
                overhead,
                f"{median / SAVE_TO_LIVE_MS:.2f} {mark(median <= SAVE_TO_LIVE_MS)}",
                _stale(c),
                f"{c['callbacks']['median']:.0f}",
                c["timeouts"],
            ]
        )
    head = ["shape", "N", "closure", "save style", "debounce ms", "save → live ms"]
    head += ["reload / rest", f"÷ {SAVE_TO_LIVE_MS:.0f} ms", "stale"]
    return table([*head, "callbacks/edit", "timeouts"], rows)


def graph_update(results: Results, n: int) -> str:
    """Leaf reload minus leaf floor (medians): bookkeeping beyond executing the module."""
    c = find(results, "reload", "leaf", n)
    if c is None or "reload" not in c:
        return NA
    return f"{c['reload']['median'] - c['floor']['median']:.3f}"


def scaling_table(results: Results) -> list[str]:
    """Construction, graph update, idle check() and graph memory against N."""
    sizes = sorted(
        {c["n"] for c in results["cells"] if c["kind"] == "build" and c["shape"] != "app"}
    )
    rows = []
    for n in sizes:
        b = find(results, "build", "fan10", n)
        k = find(results, "check", "fan10", n)
        rows.append(
            [
                n,
                fmt(b["build"], 1) if b else NA,
                f"{b['first_build_ms']:.1f}" if b else NA,
                f"{b['memory_bytes'] / 2**20:.2f}" if b else NA,
                mark(b["graph_dependents_ok"]) if b else NA,
                graph_update(results, n),
                fmt(k["check_us"], 2) if k else NA,
            ]
        )
    head = ["N", "construct + graph ms", "first ms", "graph+index MB", "graph right"]
    return table([*head, "graph update ms", "check() idle µs"], rows)


_STARTUP_FIELDS = (
    "app_import_ms",
    "hotmod_import_ms",
    "construct_ms",
    "ready_ms",
    "first_reload_ms",
    "warm_reload_ms",
)


def startup_cells(results: Results) -> list[Cell]:
    """Start-up figures, one row per workload: synthetic ``build`` and ``startup`` cells, then
    the real packages' ``real_startup`` cells (their shape is the package, their N the modules
    it imported). Each is the median over the fresh processes that measured it (one sample of
    a first reload per process); ``first_ratios``: first ÷ warm in each process."""
    groups: dict[tuple[str, str, int], list[Cell]] = {}
    for c in [*cells(results, "build"), *cells(results, "startup")]:
        if "construct_ms" in c:
            groups.setdefault(("build", c["shape"], c["n"]), []).append(c)
    for c in cells(results, "real_startup"):
        if "construct_ms" in c:
            key = ("real_startup", c["package"], c["modules"])
            groups.setdefault(key, []).append(c)
    merged = []
    for (kind, shape, n), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1:])):
        row: Cell = {"kind": kind, "shape": shape, "n": n, "processes": len(group)}
        for key in _STARTUP_FIELDS:
            values = [c[key] for c in group if key in c]
            if values:
                row[key] = statistics.median(values)
        row["first_ratios"] = [c["first_reload_ms"] / c["warm_reload_ms"] for c in group]
        row["shares"] = [c["construct_ms"] / c["app_import_ms"] for c in group]
        merged.append(row)
    return merged


def _spread(values: list[float]) -> str:
    """Median, and the range when there are several."""
    text = f"{statistics.median(values):.2f}"
    return text if len(values) == 1 else f"{text} ({min(values):.2f}-{max(values):.2f})"


def startup_table(results: Results) -> list[str]:
    """What a Reloader costs the start-up path, against the app's own import."""
    rows = []
    for c in startup_cells(results):
        share = statistics.median(c["shares"])
        ratio = statistics.median(c["first_ratios"])
        rows.append(
            [
                c["shape"],
                c["n"],
                c["processes"],
                f"{c['app_import_ms']:.1f}",
                f"{c['hotmod_import_ms']:.1f}" if "hotmod_import_ms" in c else NA,
                f"{c['construct_ms']:.2f}",
                f"{share:.3f} = {share / STARTUP_SHARE:.2f} x limit {mark(share <= STARTUP_SHARE)}",
                f"{c['ready_ms']:.1f}",
                f"{c['first_reload_ms']:.2f} / {c['warm_reload_ms']:.2f}",
                f"{_spread(c['first_ratios'])} {mark(ratio <= FIRST_RELOAD_RATIO)}",
            ]
        )
    head = ["shape", "N", "processes", "app import ms", "import hotmod ms", "Reloader() ms"]
    head += ["÷ app import", "graph ready ms"]
    return table([*head, "first / warm reload ms", "first ÷ warm"], rows)


def real_table(results: Results) -> list[str]:
    """Real packages: one edited file, reload against the floor, save -> live."""
    rows = []
    for c in cells(results, "real_reload"):
        w = next((x for x in cells(results, "real_watch") if x["target"] == c["target"]), None)
        ratio = c["reload"]["median"] / c["floor"]["median"]
        live = w.get("save_to_live") if w else None
        rows.append(
            [
                c["package"],
                f"`{c['target']}`",
                c["modules"],
                c["closure"],
                f"{c['reloaded_count']['median']:.0f}",
                fmt(c["reload"], 2),
                fmt(c["floor"], 2),
                f"{ratio:.2f}",
                f"{reload_bound(c):.2f} {mark(reload_ok(c))}",
                fmt(live, 1) if live else NA,
                f"{live['median'] / SAVE_TO_LIVE_MS:.2f} {mark(live['median'] <= SAVE_TO_LIVE_MS)}"
                if live
                else NA,
                f"{_stale(c)} / {_stale(w)}",
                f"{c.get('extra_max', NA)} / {w.get('extra_max', NA) if w else NA}",
            ]
        )
    head = ["package", "changed module", "modules", "closure", "re-executed", "hotmod ms"]
    head += ["floor ms", "÷ floor", "goal ms", "save → live ms", f"÷ {SAVE_TO_LIVE_MS:.0f} ms"]
    return table([*head, "stale (reload / watch)", "extra"], rows)


def rss_table(results: Results) -> list[str]:
    """RSS and live objects over many reloads."""
    rows = []
    for c in cells(results, "rss"):
        pts = c["points"]
        rows.append(
            [
                f"{c['shape']} N={c['n']}",
                f"{c['warm']} + {c['cycles']}",
                f"{pts[0][1] / 2**20:.1f} → {pts[-1][1] / 2**20:.1f}",
                f"{c['rss_slope_kib_per_1000']:.0f}",
                f"{pts[0][2]} → {pts[-1][2]}",
                f"{c['objects_slope_per_1000']:.0f}",
                f"{c['heap_growth_kib']:.0f} / {c['traced_cycles']}",
                c.get("garbage_max", NA),
                c["stale_at_samples"],
            ]
        )
    head = ["cell", "warm + sampled reloads", "RSS MB", "RSS slope KiB/1000", "live objects"]
    head += ["objects slope /1000", "heap growth KiB / reloads", "uncollected max"]
    return table([*head, "stale"], rows)


def evaluate_goals(results: Results) -> list[Goal]:
    """Every goal with its verdict over this run."""
    goals = [_goal_reload(results), _goal_fixed_closure(results), _goal_check(results)]
    goals += [_goal_watch(results), _goal_build(results), _goal_memory(results)]
    goals += [_goal_startup(results), _goal_first_reload(results)]
    goals += [_goal_real(results), _goal_rss(results), _goal_restart(results)]
    return goals


def _goal_real(results: Results) -> Goal:
    """Real packages: reload <= 1.25 x floor + 0.5 ms, save -> live <= 10 ms, nothing stale."""
    verdicts, parts = [], []
    for c in cells(results, "real_reload"):
        ok = reload_ok(c)
        w = next((x for x in cells(results, "real_watch") if x["target"] == c["target"]), None)
        live = w["save_to_live"]["median"] if w and "save_to_live" in w else None
        stale = (c.get("stale_max") or 0) + ((w or {}).get("stale_max") or 0)
        verdicts.append(bool(ok and (live is None or live <= SAVE_TO_LIVE_MS) and not stale))
        ratio = c["reload"]["median"] / c["floor"]["median"]
        text = f"{c['target']}: {c['reload']['median']:.2f} ms = {ratio:.2f} x floor"
        if live is not None:
            text += f", live {live:.1f} ms"
        parts.append(text + (f", {stale} stale" if stale else ""))
    text = "real code: reload ≤ 1.25 x floor + 0.5 ms, save → live ≤ 10 ms, 0 stale"
    return Goal(text, _all(verdicts), "; ".join(parts) or "not run")


def _all(verdicts: Sequence[bool | None]) -> bool | None:
    """True when every measured verdict passes; None when nothing was measured."""
    known = [v for v in verdicts if v is not None]
    return all(known) if known else None


def _goal_reload(results: Results) -> Goal:
    """reload <= 1.25 x floor + 0.5 ms everywhere."""
    misses = []
    verdicts = []
    for c in cells(results, "reload"):
        ok = reload_ok(c)
        verdicts.append(ok)
        if ok is False:
            misses.append(f"{c['shape']}@{c['n']}: {c['reload']['median']:.2f} ms")
    detail = "misses " + ", ".join(misses) if misses else "every cell within bound"
    return Goal("reload ≤ 1.25 x floor + 0.5 ms at every shape and N", _all(verdicts), detail)


def _goal_fixed_closure(results: Results) -> Goal:
    """With a fixed closure (leaf, fan10) the reload time does not grow with N."""
    verdicts, parts = [], []
    for shape in ("leaf", "fan10"):
        pts = sorted(
            (c["n"], c["reload"]["median"])
            for c in cells(results, "reload")
            if c["shape"] == shape and c["n"] >= 100 and "reload" in c
        )
        if len(pts) < 2:
            continue
        (n0, t0), (n1, t1) = pts[0], pts[-1]
        ok = t1 <= RELOAD_FACTOR * t0 + RELOAD_SLACK_MS
        verdicts.append(ok)
        parts.append(f"{shape}: {t0:.2f} ms @{n0} → {t1:.2f} ms @{n1}")
    text = "fixed closure: reload at largest N ≤ 1.25 x at N=100 + 0.5 ms"
    return Goal(text, _all(verdicts), "; ".join(parts) or "needs two sizes ≥ 100")


def _goal_check(results: Results) -> Goal:
    """check() idle <= 20 us at every N."""
    worst = [(c["check_us"]["median"], c["n"]) for c in cells(results, "check")]
    if not worst:
        return Goal("check() idle ≤ 20 µs at any N", None, "not measured")
    t, n = max(worst)
    return Goal("check() idle ≤ 20 µs at any N", t <= CHECK_IDLE_US, f"worst {t:.2f} µs @{n}")


def _goal_watch(results: Results) -> Goal:
    """save -> live p50 <= 10 ms in every save style (default settings)."""
    verdicts, misses, worst = [], [], 0.0
    for c in cells(results, "watch"):
        where = f"{c['shape']}@{c['n']} {c.get('style', 'in_place')}"
        if "save_to_live" not in c:
            verdicts.append(False)
            misses.append(f"{where}: no reload seen")
            continue
        median = c["save_to_live"]["median"]
        worst = max(worst, median)
        verdicts.append(median <= SAVE_TO_LIVE_MS)
        if median > SAVE_TO_LIVE_MS:
            misses.append(f"{where}: {median:.1f} ms")
    detail = f"worst {worst:.1f} ms = {worst / SAVE_TO_LIVE_MS:.2f} of the limit"
    if misses:
        detail += "; misses " + ", ".join(misses)
    return Goal("save → live ≤ 10 ms (median, every save style)", _all(verdicts), detail)


def _goal_startup(results: Results) -> Goal:
    """Reloader() <= 10% of the app's import time at N = 1000 and 3000."""
    verdicts, parts = [], []
    for c in startup_cells(results):
        real = c["kind"] == "real_startup"
        if c["n"] < 1000 and not real:
            continue
        share = statistics.median(c["shares"])
        verdicts.append(share <= STARTUP_SHARE)
        where = c["shape"] if real else f"N={c['n']}"
        parts.append(f"{where}: {share:.3f} = {share / STARTUP_SHARE:.2f} of the limit")
    text = "start-up (Reloader()) ≤ 10% of the app's import at N ≥ 1000 and for real packages"
    return Goal(text, _all(verdicts), "; ".join(parts) or "N ≥ 1000 not run")


def _goal_first_reload(results: Results) -> Goal:
    """The first reload after start-up <= 2 x a warm one."""
    verdicts, parts = [], []
    for c in startup_cells(results):
        ratio = statistics.median(c["first_ratios"])
        verdicts.append(ratio <= FIRST_RELOAD_RATIO)
        where = c["shape"] if c["kind"] == "real_startup" else f"N={c['n']}"
        parts.append(f"{where}: {_spread(c['first_ratios'])} x")
    text = "first reload ≤ 2 x a warm one (median over fresh processes)"
    return Goal(text, _all(verdicts), "; ".join(parts) or "not run")


def _goal_build(results: Results) -> Goal:
    """Initial graph build <= 150 ms at N = 1000."""
    c = find(results, "build", "fan10", 1000)
    if c is None:
        return Goal("initial graph build ≤ 150 ms at N = 1000", None, "N = 1000 not run")
    t = c["build"]["median"]
    detail = f"{t:.1f} ms median, first {c['first_build_ms']:.1f} ms"
    return Goal("initial graph build ≤ 150 ms at N = 1000", t <= BUILD_MS_AT_1000, detail)


def _goal_memory(results: Results) -> Goal:
    """graph + index <= 5 MB at N = 3000."""
    c = find(results, "build", "fan10", 3000)
    if c is None:
        return Goal("graph + index ≤ 5 MB at N = 3000", None, "N = 3000 not run")
    mb = c["memory_bytes"] / 2**20
    return Goal("graph + index ≤ 5 MB at N = 3000", mb <= GRAPH_MB_AT_3000, f"{mb:.2f} MB")


def _goal_rss(results: Results) -> Goal:
    """No RSS growth trend over 1,000 reloads."""
    rss = cells(results, "rss")
    if not rss:
        return Goal("no RSS growth trend over 1,000 reloads", None, "not measured")
    c = rss[0]
    ok = (
        c["rss_slope_kib_per_1000"] <= RSS_SLOPE_KIB
        and c["objects_slope_per_1000"] <= OBJECTS_SLOPE
    )
    detail = (
        f"{c['cycles']} reloads after {c['warm']} warm-up: "
        f"RSS {c['rss_slope_kib_per_1000']:.0f} KiB/1000 "
        f"(≤ {RSS_SLOPE_KIB:.0f}), objects {c['objects_slope_per_1000']:.0f}/1000 "
        f"(≤ {OBJECTS_SLOPE:.0f})"
    )
    return Goal("no RSS growth trend over 1,000 reloads", ok, detail)


def _goal_restart(results: Results) -> Goal:
    """>= 20x faster than a restart at N >= 100 and zero stale in every hotmod cell."""
    verdicts, misses = [], []
    for shape, n in workloads(results):
        ratio, ok = speedup(results, shape, n)
        verdicts.append(ok)
        if ok is False:
            misses.append(f"{shape}@{n}: {ratio:.1f}x")
    stale = [
        c.get("stale_max") or c.get("stale_at_samples") or 0
        for kind in ("reload", "watch", "rss", "real_reload", "real_watch")
        for c in cells(results, kind)
    ]
    if any(stale):
        verdicts.append(False)
        misses.append(f"stale modules seen (worst {max(stale)})")
    detail = "misses " + ", ".join(misses) if misses else "all cells"
    text = "≥ 20 x faster than a process restart at N ≥ 100, zero stale in every hotmod cell"
    return Goal(text, _all(verdicts), detail)


SECTIONS = [
    (
        "In-process reload (`r.reload(path)` after a save) against the floor",
        "Timed: `r.reload(path)` right after the file was rewritten (same size, no mtime "
        "bump). Floor: compile the changed file once and exec every closure module's code "
        "(compiled beforehand) into a fresh module dict, in dependency order; measured in the "
        "same process, interleaved with the reloads. `gc.collect()` before each timing, both "
        "for hotmod and the floor; no pre-collect: more reloads without it, so the cyclic "
        "collector may run inside them, as in a real process (not used for the goal). "
        "stale: closure modules whose `SEEN` (or, for app views, registered routes) missed "
        "the new value, worst run; extra: re-executed modules outside the closure.",
        reload_table,
    ),
    (
        "The same change by other means: median ms [worst stale count]",
        "restart: `subprocess.run` of a fresh interpreter that imports every module of the "
        "package from a warm `.pyc` cache (the edited file recompiles), then counts stale "
        "modules; + flask: `import flask` first. importlib.reload: of the changed module "
        "only. IPython autoreload: `ModuleReloader.check()` as `%autoreload 2` runs it (IPython "
        "9 patches only the changed statements, so even the changed module's derived `SEEN` "
        "stays stale). Baseline edits move the mtime one second on so that no stale `.pyc` is "
        "trusted. restart ÷ floor: the most any in-process reloader could gain.",
        alternatives_table,
    ),
    (
        "Save → new code live through the watcher (`on_reload`)",
        "`Reloader(pkg, debounce=D, on_reload=cb).start()` (native events, background "
        "thread); timed from the end of the file write to the first `on_reload` call; stale "
        "checked after it. Default settings (debounce 50 ms): a save the watcher knows is "
        "complete (a writer closed the file, or it was renamed into place) is applied after a "
        "5 ms pause, others after the debounce. Save styles as in tests/test_watching.py. "
        "reload / rest: the `ReloadResult.duration` of those reloads and what is left of the "
        "save → live time after it (event delivery, the pause, scheduling), medians.",
        watch_table,
    ),
    (
        "Real code: one edited file of a copied package or a Django project",
        "pygments and rich copied out of site-packages into a temporary folder (source only) "
        "and imported as the user's code: the package plus what an app uses (pygments: a dozen "
        "lexers, the HTML and 256-colour formatters, the default style; rich: console, table, "
        "markdown, progress, syntax, traceback, pretty, panel, tree, logging, prompt); django: "
        "`django-admin startproject` + `startapp polls` (benchmarks/django_app.py) after "
        "`django.setup()`. The edit rewrites a `_HOTMOD_EDIT = <6 digits>` line at the end of "
        "the file (same size, mtime not moved). closure: the changed module and its "
        "dependents in hotmod's import graph (no generator to say otherwise: "
        "tests/test_real_packages.py checks that such reloads leave no stale object); "
        "re-executed: `len(ReloadResult.reloaded)`. Floor as above (what the closure's code "
        "registers globally -- `sys.modules` entries, Django's model and admin registries -- "
        "is put back after each floor run, outside its timing). save → live: "
        "`Reloader(...).start()` with the default settings, end of the write to the first "
        "`on_reload`. stale: the changed module does not show the new value, or a closure "
        "module was not re-executed; extra: a module outside the closure was. Start-up rows "
        "for these packages are in the next table (N = modules imported).",
        real_table,
    ),
    (
        "Start-up: what a Reloader costs the start-up path",
        "In a fresh process, after importing every module of the package (app import, warm "
        "`.pyc`): `Reloader(pkg)` (indexes every watched module; files whose stat signature "
        "the import cache kept across processes knows are neither read nor parsed), then "
        "`graph.dependents()` (graph ready), then 8 edit + reload cycles of `leaf`: the first "
        "one, and the median of the other seven (warm). Real packages (N = modules the app "
        "imported): the same after the app's imports of the real-code table, import cache warm "
        "(the earlier cells saved it), the first changed file reloaded. import hotmod: "
        "`import hotmod` just after the app's import, in the same process (what it adds to "
        "that app's start-up; timed apart, not part of the ÷ app import ratio). processes: "
        "how many fresh processes measured the row (a process has one first reload); every "
        "figure is the median over them, and first ÷ warm shows the range of the processes' "
        "own ratios too.",
        startup_table,
    ),
    (
        "Scaling with N",
        "construct + graph: `Reloader(pkg)` plus `r.graph.dependents(target)`, repeated in one "
        "process (first = the first construction). graph+index: tracemalloc, memory still "
        "allocated after construction. graph right: `dependents` equals the generator's "
        "closure. graph update: leaf reload minus leaf floor (medians) = everything hotmod "
        "does beyond compiling and executing one module. check() idle: watcher running with "
        "`background=False`, nothing pending, per call over many calls.",
        scaling_table,
    ),
    (
        "Memory over repeated reloads",
        "edit + `r.reload(path)` in a loop: warm-up reloads first (RSS settles over the first "
        "few hundred), then RSS and `len(gc.get_objects())` after `gc.collect()` at the start "
        "and every 100 reloads, slopes fitted by least squares; heap growth: tracemalloc's "
        "traced memory over further reloads (a leak of Python objects); uncollected max: the "
        "most objects a sample's `gc.collect()` freed, garbage (old versions) that the "
        "collector's own collections had left.",
        rss_table,
    ),
]


def render(results: Results) -> str:
    """The whole markdown report."""
    info = results["machine"]
    lines = [
        f"# hotmod benchmarks ({results['mode']})",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['cpu']}, {info['cores']} cores, {info['platform']}",
        f"- Python {info['python']} ({info['implementation']}), hotmod {info['hotmod']}",
        f"- load average (1 min) at start / end: {results.get('load_start', NA)} / "
        f"{results.get('load_end', NA)}; run took {results.get('wall_s', 0):.0f} s",
        f"- figures: median (p10-p90) over {results.get('fast_repeats', '?')} runs (reload, "
        f"importlib, IPython cells; fewer when a cell's time budget runs out) or "
        f"{results['repeats']} runs (the rest) after {results['warmup']} warm-up(s), each cell "
        "in a fresh interpreter; ms unless noted",
        "",
    ]
    for title, method, build in SECTIONS:
        lines += [f"## {title}", "", *build(results), "", method, ""]
    lines += ["## Goals", ""]
    lines += [f"- {g.mark()} {g.text} — {g.detail}" for g in evaluate_goals(results)]
    if results.get("notes"):
        lines += ["", "## Notes", "", *[f"- {note}" for note in results["notes"]]]
    return "\n".join(lines) + "\n"
