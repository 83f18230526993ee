"""Per-submission overhead of the grader beyond the student's own code, and memory per
worker, measured the way `grader batch` runs: warm zygotes, references cached.

For N small submissions (tensor_ops, correct), it prints the median wall time of one
grading, the part spent running the student's cells and the grader's calls of the
student's functions (from the result's ``resources``), and the difference: the grader's
own overhead (fork, sandbox set-up, loading, judging, reporting). It also prints the peak
memory (proportional set size) of one worker tree while grading the 7-exercise example.

Usage: python bench/bench_overhead.py [--submissions 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--fresh", action="store_true",
                        help="start a new interpreter per submission instead of forking a warm zygote (the 'before')")
    args = parser.parse_args()
    os.environ.setdefault("GRADER_CACHE_DIR", tempfile.mkdtemp(prefix="grader-bench-cache-"))
    from grader.engine import exercise_registry, grade_submission, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.sandbox.launch import WorkerPool
    from grader.submission import load_module, load_notebook

    registry = exercise_registry(get_plugin_manager())
    tensor_ops = select_exercises(registry, ["tensor_ops"])
    everything = list(registry.values())
    small = load_module(REPO / "reference" / "tensor_ops.py")
    example = load_notebook(REPO / "examples" / "submission.ipynb")
    with WorkerPool(1, preload=sorted({e.module for e in everything}), warm=True) as pool:
        grade_submission(small, tensor_ops, pool=pool)  # references cached, zygote warm
        launch = None if args.fresh else pool
        walls, student = [], []
        for _ in range(args.submissions):
            start = time.perf_counter()
            result = grade_submission(small, tensor_ops, pool=launch).to_dict()
            walls.append(time.perf_counter() - start)
            res = result["resources"]
            student.append(res["loading_seconds"] + res["checking_seconds"])
            assert result["score"] == 10, result
        full = grade_submission(example, everything, pool=pool).to_dict()
    overhead = [w - s for w, s in zip(walls, student)]
    how = "a fresh interpreter each" if args.fresh else "one warm zygote"
    print(f"{args.submissions} gradings of a correct tensor_ops module, {how}, references cached:")
    print(f"  wall per submission          median {statistics.median(walls) * 1000:7.1f} ms")
    print(f"  the student's code in it     median {statistics.median(student) * 1000:7.1f} ms")
    print(f"  grader overhead (difference) median {statistics.median(overhead) * 1000:7.1f} ms   "
          f"max {max(overhead) * 1000:.1f} ms   (target <= 100 ms)")
    res = full["resources"]
    student_seconds = res['loading_seconds'] + res['checking_seconds']
    print(f"the 7-exercise example ({full['score']}/{full['max_score']}): peak memory of the worker tree "
          f"{res['peak_memory_bytes'] / 2**20:.0f} MiB (PSS); student code {student_seconds:.2f} s")


if __name__ == "__main__":
    main()
