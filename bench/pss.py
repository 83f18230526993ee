"""Peak memory of a command and of every process it starts, as the sum of their PSS
(proportional set size, from /proc/PID/smaps_rollup: a page shared by n processes counts
1/n in each, so the sum is what the whole tree costs the machine), sampled every 50 ms,
with the share of each kind of process at the peak.

``FLOOR`` is the bare warm-fork loop the batch executors are measured against: one
trusted process, one warm zygote per job, the references computed once by a fork of a
zygote, and ``jobs`` threads grading the notebooks with the engine; no cache, no files,
no reports.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter

FLOOR = r"""
import queue, sys, threading
from pathlib import Path
from grader.engine import exercise_registry, grade_submission, sandbox_view, select_exercises
from grader.plugins import get_plugin_manager
from grader.references import reference_observations
from grader.sandbox import Limits
from grader.sandbox.launch import WorkerPool
from grader.submission import load_submission

source, jobs, ids = Path(sys.argv[1]), int(sys.argv[2]), [i for i in sys.argv[3:] if i]
pm = get_plugin_manager()
exercises = select_exercises(exercise_registry(pm), ids or None)
with WorkerPool(jobs, preload=sorted({e.module for e in exercises}), warm=True) as pool:
    reference_observations(exercises, "cpu", Limits(), sandbox_view(exercises), pool)
    todo = queue.SimpleQueue()
    for path in sorted(source.glob("*.ipynb")):
        todo.put(path)

    def work():
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            grade_submission(load_submission(path, pm), exercises, limits=Limits(), pool=pool)

    threads = [threading.Thread(target=work) for _ in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found.setdefault(parent, []).append(int(name))
    return found


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kinds(root: int) -> dict[int, str]:
    """Every process of the tree below ``root``, by what it is."""
    children = _children()
    kinds = {root: "trusted process"}
    own = _cmdline(root)
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid in children.get(parent, ()):
            line, above = _cmdline(pid), kinds[parent]
            if above in ("zygote", "sandbox (forked)"):
                kinds[pid] = "sandbox (forked)"
            elif "--zygote" in line:
                kinds[pid] = "zygote"
            elif "grader.sandbox.worker" in line or above == "sandbox (fresh interpreter)":
                kinds[pid] = "sandbox (fresh interpreter)"
            elif "resource_tracker" in line:
                kinds[pid] = "multiprocessing helpers"
            elif "forkserver" in line:
                kinds[pid] = "dask worker" if above == "multiprocessing helpers" else "multiprocessing helpers"
            elif "spawn_main" in line or (line == own and above == "trusted process"):  # spawned, or forked
                kinds[pid] = "dask worker"
            else:
                kinds[pid] = "other"
            todo.append(pid)
    return kinds


def peak_pss(command: list[str], env: dict[str, str], interval: float = 0.05):
    """Run ``command``; return (peak bytes, {kind: bytes at the peak}, seconds, the
    finished process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, at_peak = 0, Counter()
    import threading

    output: dict[str, str] = {}
    reader = threading.Thread(target=lambda: output.update(zip(("stdout", "stderr"), proc.communicate())))
    reader.start()
    while proc.poll() is None:
        sizes = Counter()
        for pid, kind in _kinds(proc.pid).items():
            sizes[kind] += _pss(pid)
        total = sum(sizes.values())
        if total > peak:
            peak, at_peak = total, sizes
        time.sleep(interval)
    reader.join()
    proc.stdout_text, proc.stderr_text = output.get("stdout", ""), output.get("stderr", "")
    return peak, dict(at_peak), time.perf_counter() - started, proc
