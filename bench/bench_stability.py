"""Grades the same class of honest and buggy submissions several times with
`grader batch --jobs 2` beside a CPU hog (processes that keep every core busy), and
prints how many verdicts changed between the runs (the target is none) and how long each
run took.

The class: the seven original exercises' reference solutions, the example notebook, two
honest styles the issues named (an explicit (n, m, d) broadcasting pairwise_sq_dists, a
GPU-name-printing pick_device) and one buggy submission per exercise or more (the shipped
mutants: an unbiased std, a double loop, an in-place center_rows, a sign error, a count of
the state_dict, training without zero_grad, predict in training mode, a TorchVersion in
the checkpoint, train_step without zero_grad). Each run writes to a fresh output folder, so
nothing comes from the batch cache; the reference observations are computed in the first
run (beside the hog too) and then read from a private cache.

A verdict is one check's (status, points) for one submission; a changed verdict is one
whose value is not the same in every run.

Usage: python bench/bench_stability.py [--runs 5] [--jobs 2] [--hogs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MUTANTS = REPO / "exercises" / "mutants"
EXERCISES = ("tensor_ops", "broadcasting", "manual_backprop", "mlp", "digits_classifier", "checkpoint",
             "gpu_transfer")
BUGGY = ("tensor_ops/unbiased_std.py", "broadcasting/double_loop.py", "broadcasting/center_in_place.py",
         "manual_backprop/linear_sign_error.py", "mlp/count_state_dict.py", "digits_classifier/no_zero_grad.py",
         "digits_classifier/predict_train_mode.py", "checkpoint/torch_version.py", "gpu_transfer/no_zero_grad.py")
#: honest styles that lost points on a busy machine or under the CUDA simulation (issue 9)
HONEST_STYLES = {
    "explicit_broadcasting.py": '''
import torch

def pairwise_sq_dists(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(dim=-1)
''',
    "prints_gpu_name.py": '''
import torch

def pick_device():
    if torch.cuda.is_available():
        print("training on", torch.cuda.get_device_name(0))
        return torch.device("cuda")
    return torch.device("cpu")
''',
}


def make_class(folder: Path) -> list[str]:
    """One file per student in ``folder``; returns the student keys (the file stems)."""
    folder.mkdir(parents=True)
    for exercise in EXERCISES:
        shutil.copy(REPO / "reference" / f"{exercise}.py", folder / f"honest_{exercise}.py")
    shutil.copy(REPO / "examples" / "submission.ipynb", folder / "honest_example.ipynb")
    for name, source in HONEST_STYLES.items():
        (folder / f"honest_{name}").write_text(source.lstrip())
    for relative in BUGGY:
        exercise, name = relative.split("/")
        shutil.copy(MUTANTS / relative, folder / f"buggy_{exercise}_{name}")
    return sorted(p.stem for p in folder.iterdir())


def start_hogs(count: int) -> list[subprocess.Popen]:
    """``count`` processes that each keep one core busy until they are stopped."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def grade_once(submissions: Path, out: Path, jobs: int, env: dict[str, str]) -> float:
    command = [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out), "--jobs", str(jobs),
               "--progress", "none"] + [arg for e in EXERCISES for arg in ("-e", e)]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"grader batch failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def verdicts(out: Path) -> dict[tuple[str, str], tuple[str, float]]:
    """(student, check id) -> (status, points), from ``out/results/*.json``."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        result = json.loads(path.read_text())
        for exercise in result["exercises"]:
            found[(path.stem, f"{exercise['id']}.(exercise)")] = (exercise["status"], float(exercise["score"]))
            for check in exercise.get("checks", []):
                found[(path.stem, check["id"])] = (check["status"], float(check["points"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="busy processes (default: one a core)")
    parser.add_argument("--keep", type=Path, help="keep the class and the runs' output folders here")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-stability-"))
    students = make_class(work / "class")
    env = {**os.environ, "GRADER_CACHE_DIR": str(work / "cache"), "GRADER_DISABLE_PLUGIN_AUTOLOAD": "1"}
    print(f"{len(students)} submissions ({sum(s.startswith('honest') for s in students)} honest), "
          f"{len(EXERCISES)} exercises, {args.runs} runs of grader batch --jobs {args.jobs} beside {args.hogs} "
          f"CPU hog(s) on {os.cpu_count()} core(s)")
    runs, times = [], []
    hogs = start_hogs(args.hogs)
    try:
        for run in range(args.runs):
            out = work / f"run{run + 1}"
            times.append(grade_once(work / "class", out, args.jobs, env))
            runs.append(verdicts(out))
            print(f"run {run + 1}: {times[-1]:.1f} s, {len(runs[-1])} verdicts", flush=True)
    finally:
        stop(hogs)
    report(runs, times, students)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


def report(runs: list[dict], times: list[float], students: list[str]) -> None:
    keys = sorted(set().union(*runs))
    changed = [k for k in keys if len({run.get(k) for run in runs}) > 1]
    totals = defaultdict(set)
    for run in runs:
        for student in students:
            totals[student].add(sum(v[1] for (s, c), v in run.items() if s == student and c.endswith("(exercise)")))
    moved = {s: sorted(t) for s, t in totals.items() if len(t) > 1}
    print(f"\nverdicts per run: {len(keys)}; changed between runs: {len(changed)} (target: 0)")
    for student, check in changed[:20]:
        print(f"  {student} {check}: " + ", ".join(str(run.get((student, check))) for run in runs))
    print(f"submissions whose total changed: {len(moved)}" + "".join(f"\n  {s}: {t}" for s, t in moved.items()))
    print("run times (s): " + ", ".join(f"{t:.1f}" for t in times) + f"; mean {sum(times) / len(times):.1f}")


if __name__ == "__main__":
    main()
