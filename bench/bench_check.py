"""Prints the wall time of `grader check` on a notebook next to the floor it is measured
against, all in the same run on the same machine:

- `python -c "import torch, sklearn"`: the start-up every torch process pays;
- `python` + torch + scikit-learn + the notebook's code run by plain `exec` (no grading,
  no sandbox, none of the grader's calls of the student's functions).

It also prints where `grader check`'s time goes (from the result's ``resources``).

Usage: python bench/bench_check.py [NOTEBOOK] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN_EXEC = r"""
import sys, torch, sklearn, nbformat
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
        'python -c "import torch, sklearn"': [py, "-c", "import torch, sklearn"],
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
    torch_only = statistics.median(results['python -c "import torch, sklearn"'])
    print(f"grader check / import torch, sklearn: {check / torch_only:.2f}x; "
          f"grader check / plain exec: {check / floor:.2f}x (target <= 1.3x)")
    proc = subprocess.run(grader_cmd, capture_output=True, text=True, env=env)
    result = json.loads(proc.stdout)
    res = result.get("resources", {})
    print(f"one grader check: score {result['score']}/{result['max_score']}; inside the sandbox: worker start "
          f"{res.get('startup_seconds')} s, the notebook's cells {res.get('loading_seconds')} s, the grader's calls "
          f"of the student's functions {res.get('checking_seconds')} s; peak memory of the worker tree "
          f"{res.get('peak_memory_bytes', 0) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
