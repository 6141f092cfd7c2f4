"""`benchmarks/run.py --smoke` runs every benchmark cell once at N=10 and exits non-zero when a
cell fails to run (1) or hotmod leaves a stale or extra module (2): the benchmark cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(180)
def test_bench_smoke_runs_every_cell_with_no_stale_module(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--smoke",
            "--json",
            str(tmp_path / "smoke.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "smoke.json").stat().st_size > 0
    assert "| leaf" in proc.stdout or "leaf" in proc.stdout
    # the real-code table: a copy of pygments, one file edited and reloaded against the floor
    assert "| pygments | `pygments.lexers.python` |" in proc.stdout, proc.stdout[-3000:]


@pytest.mark.timeout(180)
def test_bench_workers_smoke_prints_the_table() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "workers.py"), "--smoke"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "| 2 |" in proc.stdout, proc.stdout
