"""Grades a generated class of notebooks with `grader batch --jobs N` and, in the same
run on the same machine, executes the same notebooks with nbclient (a fresh Jupyter
kernel per notebook, N at a time, execution only: no checks), and prints submissions per
minute for both.

The class: 100 notebooks (by default) answering tensor_ops and broadcasting, a mix of
correct ones and ones with the bugs students make (unbiased std, .T instead of swapping
the last two dims, mean of a bool tensor, a transposed outer sum, centring the wrong
dimension, an exercise left out), each ending with a cell that tries the functions.

nbclient and ipykernel are not grader dependencies: the script runs them with the
Python given by --nbclient-python (or $BENCH_NBCLIENT_PYTHON; default: this Python when
it has nbclient), e.g. a venv made with
``pip install -c constraints.txt torch==2.13.0 numpy nbclient ipykernel``.

Usage: python bench/bench_batch.py [--students 100] [--jobs 2] [--nbclient-python PY]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TENSOR_OPS = (REPO / "reference" / "tensor_ops.py").read_text()
BROADCASTING = (REPO / "reference" / "broadcasting.py").read_text()

#: (name, exercise, old, new): the bugs a generated notebook may carry.
BUGS = [
    ("unbiased_std", "tensor_ops", "correction=0", "correction=1"),
    ("dot_T", "tensor_ops", "return a.transpose(-2, -1)", "return a.T"),
    ("bool_mean", "tensor_ops", "return mask.to(torch.float32).mean()", "return mask.mean()"),
    ("outer_swapped", "broadcasting", "return u[:, None] + v[None, :]", "return u[None, :] + v[:, None]"),
    ("center_cols", "broadcasting", "x.mean(dim=1, keepdim=True)", "x.mean(dim=0, keepdim=True)"),
    ("no_broadcasting", "broadcasting", None, None),  # the exercise left out
]
DEMO = textwrap.dedent("""
    x = torch.randn(5, 3)
    print(to_float_tensor([[1, 2], [3, 4]]).dtype, column_standardize(x).std(dim=0, correction=0))
    print(mask_mean(torch.tensor([True, False, True])), batched_transpose(torch.zeros(2, 3, 4)).shape)
    print(broadcast_shape((3, 1), (1, 4)), outer_sum(torch.arange(3.0), torch.arange(2.0)).shape)
    print(center_rows(x).mean(dim=1), pairwise_sq_dists(x, x).diagonal())
""").strip()

NBCLIENT_RUNNER = r"""
import sys, time, json
from concurrent.futures import ProcessPoolExecutor
import nbformat
from nbclient import NotebookClient

def run(path):
    for attempt in range(3):  # a kernel that does not come up (a port taken meanwhile) is started again
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=300, startup_timeout=300, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": sys.argv[2]}})
        try:
            client.execute()
            break
        except RuntimeError as exc:
            if attempt == 2 or "didn't respond" not in str(exc):
                raise
            print(f"retrying {path}: {exc}", file=sys.stderr)
    errors = sum(1 for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []) if o.get("output_type") == "error")
    return errors

if __name__ == "__main__":
    jobs, workdir, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    with ProcessPoolExecutor(jobs) as pool:
        errors = list(pool.map(run, paths))
    print(json.dumps({"notebooks": len(errors), "with_errors": sum(1 for e in errors if e)}))
"""


def make_notebook(tensor_ops: str, broadcasting: str | None) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Homework 1: tensors and broadcasting"),
                nbformat.v4.new_code_cell("import numpy as np\nimport torch"),
                nbformat.v4.new_code_cell(tensor_ops.split('"""', 2)[2].strip())]
    if broadcasting is not None:
        nb.cells.append(nbformat.v4.new_code_cell(broadcasting.split('"""', 2)[2].strip()))
    demo = DEMO if broadcasting is not None else "\n".join(line for line in DEMO.splitlines()[:3])
    nb.cells.append(nbformat.v4.new_code_cell(demo))
    return nbformat.writes(nb)


def generate_class(folder: Path, students: int, seed: int = 0) -> dict[str, list[str]]:
    """One notebook per student; returns each student's bugs (empty: correct)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    plan = {}
    for n in range(students):
        bugs = [] if rng.random() < 0.4 else rng.sample(BUGS, rng.choice([1, 1, 2]))
        tensor_ops, broadcasting = TENSOR_OPS, BROADCASTING
        for _, exercise, old, new in bugs:
            if old is None:
                broadcasting = None
            elif exercise == "tensor_ops":
                assert old in tensor_ops, old
                tensor_ops = tensor_ops.replace(old, new)
            elif broadcasting is not None:
                assert old in broadcasting, old
                broadcasting = broadcasting.replace(old, new)
        name = f"student{n:03d}"
        (folder / f"{name}.ipynb").write_text(make_notebook(tensor_ops, broadcasting))
        plan[name] = [b[0] for b in bugs]
    return plan


def find_nbclient_python(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("BENCH_NBCLIENT_PYTHON"), sys.executable):
        if candidate and subprocess.run([candidate, "-c", "import nbclient, ipykernel, torch"],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--nbclient-python", help="a Python with nbclient, ipykernel and torch")
    parser.add_argument("--keep", action="store_true", help="keep the generated class and the output folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="grader-bench-batch-"))
    env = dict(os.environ, GRADER_CACHE_DIR=str(work / "cache"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    try:
        plan = generate_class(work / "class", args.students)
        correct = sum(1 for bugs in plan.values() if not bugs)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"{args.students} generated notebooks (tensor_ops + broadcasting): {correct} correct, "
              f"{args.students - correct} with bugs; --jobs {args.jobs}; {cpus} CPUs")

        command = [sys.executable, "-m", "grader", "batch", str(work / "class"), "--out", str(work / "out"),
                   "-e", "tensor_ops", "-e", "broadcasting", "--jobs", str(args.jobs), "--progress", "none"]
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        batch_s = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"grader batch failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        with open(work / "out" / "grades.csv", newline="") as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
        wrong = [s for s, bugs in plan.items() if (float(rows[s]["score"]) == 20) != (not bugs)]
        if len(rows) != args.students or wrong:
            raise SystemExit(f"unexpected grades: {len(rows)} rows; mis-graded: {wrong[:10]}")

        start = time.perf_counter()
        again = subprocess.run(command, capture_output=True, text=True, env=env)
        rerun_s = time.perf_counter() - start
        if again.returncode != 0 or "graded 0 now" not in again.stderr:
            raise SystemExit(f"the re-run graded something:\n{again.stderr[-2000:]}")

        results = [("grader batch (sandboxed, graded; cold cache)", batch_s, args.students)]
        print(f"grader batch --jobs {args.jobs}: {batch_s:.1f} s, {60 * args.students / batch_s:.1f} submissions/min "
              f"(re-run with nothing changed: {rerun_s:.1f} s)", flush=True)
        nb_python = find_nbclient_python(args.nbclient_python)
        nb_note = ""
        if nb_python is None:
            nb_note = "nbclient: skipped (no Python with nbclient, ipykernel and torch; see --nbclient-python)"
        else:
            runner = work / "nbclient_runner.py"
            runner.write_text(NBCLIENT_RUNNER)
            (work / "nbwork").mkdir()
            notebooks = sorted(str(p) for p in (work / "class").glob("*.ipynb"))
            start = time.perf_counter()
            nb = subprocess.run([nb_python, str(runner), str(args.jobs), str(work / "nbwork"), *notebooks],
                                capture_output=True, text=True, env=env)
            nb_s = time.perf_counter() - start
            if nb.returncode != 0:
                raise SystemExit(f"nbclient failed:\n{nb.stderr[-3000:]}")
            info = json.loads(nb.stdout.strip().splitlines()[-1])
            results.append(("nbclient, kernel per notebook (execute only)", nb_s, info["notebooks"]))
            nb_note = f"nbclient: {info['with_errors']} notebook(s) raised in some cell (allowed)"

        width = max(len(r[0]) for r in results)
        print(f"{'':{width}}  {'seconds':>8}  {'submissions/min':>15}")
        for label, seconds, count in results:
            print(f"{label:{width}}  {seconds:8.1f}  {60 * count / seconds:15.1f}")
        print(f"{'grader batch re-run (nothing changed)':{width}}  {rerun_s:8.1f}")
        if nb_note:
            print(nb_note)
        print("grades checked: every correct notebook 20/20, every buggy one below")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
