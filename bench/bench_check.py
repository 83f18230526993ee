"""Prints the wall time of `grader check` on a notebook next to the floor it is measured
against, all in the same run on the same machine:

- `python -c "import torch"`: the start-up every torch process pays;
- `python` + torch + the notebook's code run by plain `exec` (no grading, no sandbox).

Usage: python bench/bench_check.py [NOTEBOOK] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN_EXEC = r"""
import sys, torch, nbformat
from grader.submission import neutralise_magics
nb = nbformat.read(sys.argv[1], as_version=4)
ns = {"__name__": "__main__"}
for i, cell in enumerate(nb.cells, 1):
    if cell.cell_type != "code":
        continue
    source, _ = neutralise_magics(cell.source, f"cell {i}")
    if source:
        try:
            exec(compile(source, f"<cell {i}>", "exec"), ns)
        except Exception:
            pass
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook", nargs="?", default=str(REPO / "examples" / "submission.ipynb"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ, GRADER_CACHE_DIR=tempfile.mkdtemp(prefix="grader-bench-cache-"),
               MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    py = sys.executable
    grader_cmd = [py, "-m", "grader", "check", args.notebook, "--format", "json"]
    cold = timed(grader_cmd, env)  # fills the reference cache
    rows = {
        'python -c "import torch"': [py, "-c", "import torch"],
        "python + torch + notebook by plain exec": [py, "-c", PLAIN_EXEC, args.notebook],
        "grader check (reference cache warm)": grader_cmd,
    }
    results = {}
    for label, cmd in rows.items():
        timed(cmd, env)  # warm the OS file cache
        results[label] = [timed(cmd, env) for _ in range(args.repeat)]
    print(f"notebook: {args.notebook}")
    print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}; repeats: {args.repeat} (median, min)")
    for label, times in results.items():
        print(f"  {label:<42} median {statistics.median(times):6.2f} s   min {min(times):6.2f} s")
    print(f"  {'grader check (first run, cache cold)':<42} {cold:6.2f} s")
    floor = statistics.median(results["python + torch + notebook by plain exec"])
    check = statistics.median(results["grader check (reference cache warm)"])
    torch_only = statistics.median(results['python -c "import torch"'])
    print(f"grader check / import torch: {check / torch_only:.2f}x; grader check / plain exec: {check / floor:.2f}x")


if __name__ == "__main__":
    main()
