"""Grades a generated class of notebooks with `grader batch --jobs N` and, in the same
run on the same machine, executes the same notebooks with nbclient (a fresh Jupyter
kernel per notebook, N at a time, execution only: no checks), and prints submissions per
minute for both. With ``--executor dask`` it also grades the class on a local Dask
cluster of N workers (one thread each) and prints both executors' throughput.

The class: 100 notebooks (by default) answering tensor_ops and broadcasting, a mix of
correct ones and ones with the bugs students make (unbiased std, .T instead of swapping
the last two dims, mean of a bool tensor, a transposed outer sum, centring the wrong
dimension, an exercise left out), each ending with a cell that tries the functions.

Memory (``--memory-students``, 20 by default; 0 skips it): the peak of the summed PSS of
every process (bench/pss.py) while grading that many of the notebooks with every
exercise, for the bare warm-fork loop (the floor: bench/pss.py's FLOOR), the local
executor and, with ``--executor dask``, the Dask executor; each the median of
``--memory-repeat`` runs with cold caches, with the share of each kind of process.

nbclient and ipykernel are not grader dependencies: the script runs them with the
Python given by --nbclient-python (or $BENCH_NBCLIENT_PYTHON; default: this Python when
it has nbclient), e.g. a venv made with
``pip install -c constraints.txt torch==2.13.0 numpy nbclient ipykernel``.

Usage: python bench/bench_batch.py [--students 100] [--jobs 2] [--executor dask]
       [--memory-students 20] [--memory-repeat 3] [--nbclient-python PY]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pss import FLOOR, peak_pss  # noqa: E402
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


def grade_class(work: Path, name: str, args, env: dict, executor: str = "local") -> tuple[float, float, str]:
    """``grader batch`` on the class with a cold cache, then again (nothing changed):
    (seconds, re-run seconds, grades.csv)."""
    env = dict(env, GRADER_CACHE_DIR=str(work / f"cache-{name}"))
    command = [sys.executable, "-m", "grader", "batch", str(work / "class"), "--out", str(work / name),
               "-e", "tensor_ops", "-e", "broadcasting", "--jobs", str(args.jobs), "--progress", "none",
               "--executor", executor]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"grader batch --executor {executor} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    start = time.perf_counter()
    again = subprocess.run(command, capture_output=True, text=True, env=env)
    rerun = time.perf_counter() - start
    if again.returncode != 0 or "graded 0 now" not in again.stderr:
        raise SystemExit(f"the re-run graded something:\n{again.stderr[-2000:]}")
    return seconds, rerun, (work / name / "grades.csv").read_text()


def check_grades(text: str, plan: dict[str, list[str]], students: int) -> None:
    rows = {r["student"]: r for r in csv.DictReader(text.splitlines())}
    wrong = [s for s, bugs in plan.items() if (float(rows[s]["score"]) == 20) != (not bugs)]
    if len(rows) != students or wrong:
        raise SystemExit(f"unexpected grades: {len(rows)} rows; mis-graded: {wrong[:10]}")


def run_nbclient(work: Path, args, env: dict) -> tuple[tuple[str, float, int] | None, str]:
    nb_python = find_nbclient_python(args.nbclient_python)
    if nb_python is None:
        return None, "nbclient: skipped (no Python with nbclient, ipykernel and torch; see --nbclient-python)"
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
    return (("nbclient, kernel per notebook (execute only)", nb_s, info["notebooks"]),
            f"nbclient: {info['with_errors']} notebook(s) raised in some cell (allowed)")


def measure_memory(work: Path, args, env: dict, executors: list[str]) -> None:
    """The peak summed PSS of the floor and of each executor, on the same notebooks."""
    folder = work / "memory-class"
    folder.mkdir()
    for path in sorted((work / "class").glob("*.ipynb"))[: args.memory_students]:
        (folder / path.name).write_bytes(path.read_bytes())
    ids = [] if args.memory_exercises == "all" else args.memory_exercises.split(",")
    runs = {"floor (bare warm-fork loop)": lambda out: [sys.executable, "-c", FLOOR, str(folder), str(args.jobs), *ids]}
    for executor in executors:
        runs[f"{executor} executor"] = lambda out, executor=executor: [
            sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "--jobs", str(args.jobs),
            "--progress", "none", "--executor", executor, *[a for i in ids for a in ("-e", i)]]
    print(f"\npeak memory, summed PSS of every process: {args.memory_students} notebooks, --jobs {args.jobs}, "
          f"exercises: {args.memory_exercises}; median of {args.memory_repeat} run(s), cold caches")
    floor = None
    for label, command in runs.items():
        peaks, parts = [], []
        for n in range(args.memory_repeat):
            tag = f"{len(parts)}-{label.split()[0]}-{n}"
            peak, at_peak, seconds, proc = peak_pss(command(work / f"mem-out-{tag}"),
                                                    dict(env, GRADER_CACHE_DIR=str(work / f"mem-cache-{tag}")))
            if proc.returncode != 0:
                raise SystemExit(f"{label} failed ({proc.returncode}):\n{proc.stderr_text[-3000:]}")
            peaks.append(peak)
            parts.append((peak, at_peak, seconds))
        median = statistics.median(peaks)
        floor = floor or median
        peak, at_peak, seconds = min(parts, key=lambda p: abs(p[0] - median))
        share = ", ".join(f"{k} {v / 2**20:.0f}" for k, v in sorted(at_peak.items(), key=lambda kv: -kv[1]))
        print(f"  {label:30} {median / 2**20:6.0f} MB  {median / floor:5.2f}x the floor  "
              f"(runs: {', '.join(f'{p / 2**20:.0f}' for p in peaks)} MB; at the peak: {share})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="dask: grade the class on a local Dask cluster too, and compare")
    parser.add_argument("--memory-students", type=int, default=20, help="0: no memory measurement")
    parser.add_argument("--memory-repeat", type=int, default=3)
    parser.add_argument("--memory-exercises", default="all", help="'all', or ids separated by commas")
    parser.add_argument("--nbclient-python", help="a Python with nbclient, ipykernel and torch")
    parser.add_argument("--keep", action="store_true", help="keep the generated class and the output folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="grader-bench-batch-"))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    executors = ["local"] + (["dask"] if args.executor == "dask" else [])
    try:
        plan = generate_class(work / "class", args.students)
        correct = sum(1 for bugs in plan.values() if not bugs)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"{args.students} generated notebooks (tensor_ops + broadcasting): {correct} correct, "
              f"{args.students - correct} with bugs; --jobs {args.jobs}; {cpus} CPUs")
        results, reruns, grades = [], {}, {}
        for executor in executors:
            seconds, reruns[executor], grades[executor] = grade_class(work, f"out-{executor}", args, env, executor)
            check_grades(grades[executor], plan, args.students)
            label = ("grader batch (sandboxed, graded; cold cache)" if executor == "local"
                     else f"grader batch --executor dask ({args.jobs} workers)")
            results.append((label, seconds, args.students))
            print(f"grader batch --executor {executor} --jobs {args.jobs}: {seconds:.1f} s, "
                  f"{60 * args.students / seconds:.1f} submissions/min (re-run with nothing changed: "
                  f"{reruns[executor]:.1f} s)", flush=True)
        if "dask" in grades and grades["dask"] != grades["local"]:
            raise SystemExit("the Dask executor's grades.csv differs from the local executor's")
        nbclient, nb_note = run_nbclient(work, args, env)
        if nbclient:
            results.append(nbclient)

        width = max(len(r[0]) for r in results)
        print(f"{'':{width}}  {'seconds':>8}  {'submissions/min':>15}")
        for label, seconds, count in results:
            print(f"{label:{width}}  {seconds:8.1f}  {60 * count / seconds:15.1f}")
        print(f"{'grader batch re-run (nothing changed)':{width}}  {reruns['local']:8.1f}")
        if "dask" in grades:
            local_s, dask_s = results[0][1], results[1][1]
            print(f"Dask vs local throughput: {local_s / dask_s:.2f} (identical grades.csv)")
        print(nb_note)
        print("grades checked: every correct notebook 20/20, every buggy one below")
        if args.memory_students:
            measure_memory(work, args, env, executors)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
