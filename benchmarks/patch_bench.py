"""Patch time per changed class and function, against the number of live instances.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/patch_bench.py            # 10^3 .. 10^6
    PYTHONPATH=src .venv/bin/python benchmarks/patch_bench.py --quick    # 10^3 .. 10^5

For each count N, a fresh interpreter imports a module of 20 classes (5 methods each) and 20
functions, creates N instances of one class, reloads the module once to warm up, then reloads
it ``--repeats`` times with patching on and off. The table shows the fastest reload of each,
their difference (the patch time) and that difference per patched class and function. Patching
touches the changed definitions only, never the instances (no heap scan): the per-object cost
stays flat as N grows. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

MODULE = "\n".join(
    [f"V = {0}"]
    + [
        f"class C{i}:\n"
        + "".join(f"    def m{j}(self, x=1):\n        return x + V + {j}\n" for j in range(5))
        for i in range(20)
    ]
    + [f"def f{i}(x=1):\n    return x + V\n" for i in range(20)]
)

WORKER = textwrap.dedent(
    """
    import gc, json, sys, time
    from pathlib import Path
    import hotmod, patchbench.m as m
    n, repeats = int(sys.argv[1]), int(sys.argv[2])
    keep = [m.C0() for _ in range(n)]
    path = Path(m.__file__)
    result = {}
    for patch in (True, False, True, False):
        r = hotmod.Reloader("patchbench", patch=patch)
        times, patched = [], 0
        for i in range(repeats + 1):
            path.write_text(path.read_text().replace(f"V = {i}\\n", f"V = {i + 1}\\n", 1))
            gc.collect()
            t0 = time.perf_counter()
            res = r.reload("patchbench.m")
            elapsed = time.perf_counter() - t0
            assert res.ok, res
            if i:
                times.append(elapsed)
            patched = len(res.patched)
            path.write_text(path.read_text().replace(f"V = {i + 1}\\n", f"V = {i}\\n", 1))
        result[str(patch)] = {"times": times, "patched": patched}
    assert keep[0].m0(0) == 0, "an old instance runs the newest method"
    print(json.dumps(result))
    """
)


def run_cell(root: Path, n: int, repeats: int) -> dict[str, dict[str, object]]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(SRC)])
    script = root / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.run(
        [sys.executable, str(script), str(n), str(repeats)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, dict[str, object]] = json.loads(proc.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^3 to 10^5 instances")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    sizes = (10**3, 10**4, 10**5) if args.quick else (10**3, 10**4, 10**5, 10**6)
    print("| live instances | reload, patch on | reload, patch=False | patch time | "
          "objects patched | per object |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        package = root / "patchbench"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for n in sizes:
            (package / "m.py").write_text(MODULE)
            cell = run_cell(root, n, args.repeats)
            on_times = cell["True"]["times"]
            off_times = cell["False"]["times"]
            assert isinstance(on_times, list)
            assert isinstance(off_times, list)
            on, off = min(on_times), min(off_times)  # the least noisy figure on a shared machine
            patched = cell["True"]["patched"]
            assert isinstance(patched, int)
            per = (on - off) / patched if patched else 0.0
            print(
                f"| {n:,} | {on * 1e3:.2f} ms | {off * 1e3:.2f} ms | {(on - off) * 1e3:.2f} ms "
                f"| {patched} | {per * 1e6:.1f} µs |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
