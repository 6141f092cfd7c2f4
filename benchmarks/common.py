"""Helpers shared by the benchmark runner and its workers: statistics, edits, machine facts."""

from __future__ import annotations

import gc
import importlib.util
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from generate import BASE_VALUE, VALUE_RE, PackageSpec

__all__ = [
    "bump_mtime",
    "highest_value",
    "hotmod_version",
    "linear_slope",
    "machine_info",
    "percentile",
    "pyc_source_mtime",
    "repeat",
    "rss_bytes",
    "set_value",
    "summarize",
]


def percentile(data: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``data``, linearly interpolated."""
    if not data:
        raise ValueError("percentile of no data")
    xs = sorted(data)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(samples_ns: Sequence[int | float], scale: float = 1e-6) -> dict[str, Any]:
    """Median, p10, p90 and count of ``samples_ns`` converted by ``scale`` (ns -> ms)."""
    xs = [s * scale for s in samples_ns]
    return {
        "median": percentile(xs, 50),
        "p10": percentile(xs, 10),
        "p90": percentile(xs, 90),
        "n": len(xs),
    }


def repeat(
    action: Callable[[bool], None],
    warmup: int,
    repeats: int,
    budget_s: float = 60.0,
    min_repeats: int = 3,
) -> int:
    """Call ``action(False)`` ``warmup`` times, then ``action(True)`` up to ``repeats`` times.

    The flag tells ``action`` whether to keep what it measured. Stops early, after
    ``min_repeats`` kept runs, once ``budget_s`` of wall time has been spent. Returns how many
    kept runs were made.
    """
    start = time.perf_counter()
    for _ in range(warmup):
        action(False)
    kept = 0
    while kept < repeats:
        action(True)
        kept += 1
        if kept >= min_repeats and time.perf_counter() - start > budget_s:
            break
    return kept


def highest_value(spec: PackageSpec) -> int:
    """The highest ``VALUE`` in any file of the package (so the next edit can exceed it)."""
    best = BASE_VALUE
    for name in spec.probes():
        match = VALUE_RE.search(spec.file_of(name).read_text())
        if match:
            best = max(best, int(match.group(1)))
    return best


def set_value(path: Path, value: int, style: str = "in_place") -> None:
    """Rewrite ``VALUE = ...`` in ``path``, saved the way an editor of ``style`` saves."""
    text = path.read_text()
    new, count = VALUE_RE.subn(f"VALUE = {value}", text, count=1)
    if count != 1:
        raise ValueError(f"no VALUE line in {path}")
    SAVE_STYLES[style](path, new)


def _save_in_place(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _save_truncate_then_write(path: Path, text: str) -> None:
    with open(path, "r+", encoding="utf-8") as fh:
        fh.truncate(0)
        fh.flush()
        fh.write(text)


def _save_replace_temp(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _save_vim(path: Path, text: str) -> None:
    backup = path.with_name(path.name + "~")
    os.rename(path, backup)  # backupcopy=no: the original becomes the backup
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.unlink(backup)


def _save_jetbrains(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    tmp.write_text(text, encoding="utf-8")
    os.rename(path, old)
    os.rename(tmp, path)
    os.unlink(old)


# The editor save styles the watcher handles (tests/test_watching.py has the same five).
SAVE_STYLES = {
    "in_place": _save_in_place,
    "truncate_then_write": _save_truncate_then_write,
    "replace_temp": _save_replace_temp,
    "vim": _save_vim,
    "jetbrains": _save_jetbrains,
}


def pyc_source_mtime(path: Path) -> int:
    """The source mtime recorded in ``path``'s cached ``.pyc`` (0 when there is none)."""
    try:
        with open(importlib.util.cache_from_source(str(path)), "rb") as fh:
            header = fh.read(16)
    except OSError:
        return 0
    if len(header) < 16 or int.from_bytes(header[4:8], "little") != 0:
        return 0  # hash-based pyc: no mtime
    return int.from_bytes(header[8:12], "little")


def bump_mtime(path: Path, previous_s: int) -> int:
    """Move ``path``'s mtime to a whole second no earlier edit or ``.pyc`` has used.

    CPython reuses a ``.pyc`` whose recorded mtime (whole seconds) and size match the source,
    so an edit within the same second that keeps the size would otherwise load stale code;
    mtime-based reloaders (IPython's autoreload) also need the mtime to increase. The new
    mtime is one second past ``previous_s``, the current mtime and the ``.pyc``'s record.
    Returns it, to pass as ``previous_s`` next time.
    """
    later = max(previous_s, int(os.stat(path).st_mtime), pyc_source_mtime(path)) + 1
    os.utime(path, (later, later))
    return later


def settle(reloader: Any, timeout: float = 30.0) -> None:
    """Wait until a started Reloader is idle before the first timed edit: its index built (a
    thread, from 16 modules), the comparison of every file with what was loaded that
    ``start()`` queues applied, and a reload it caused finished. (A file a previous cell left
    with an mtime in the future is reloaded by that comparison: a first edit made meanwhile
    would take that reload's callback for its own.)"""
    _ = reloader.graph  # reading the graph waits for the index
    deadline = time.monotonic() + timeout
    while reloader._scheduler:  # the reloader's queue of pending changes
        if not reloader.background:
            reloader.check()  # nothing applies them but check()
        if time.monotonic() > deadline:
            raise RuntimeError("the reloader never became idle after start()")
        time.sleep(0.01)
    with reloader._lock:  # a reload in progress holds it
        pass
    time.sleep(0.3)


def rss_bytes() -> int:
    """Current resident set size of this process (psutil, else /proc, else peak RSS)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs`` (0 with fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def _cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hotmod_version() -> str | None:
    """hotmod's version, or None when hotmod (or its reload engine) cannot be imported."""
    try:
        import hotmod
    except ImportError:
        return None
    version = getattr(hotmod, "__version__", None)
    if version is None:
        from hotmod._version import __version__ as version
    return str(version)


def machine_info() -> dict[str, Any]:
    """Date, machine, Python and hotmod facts for the report header."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "hotmod": hotmod_version(),
        "gc_enabled": gc.isenabled(),
    }
