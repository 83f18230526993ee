"""``grader batch``: grade a class from an LMS export into an output folder.

The steps: find the submissions (:mod:`grader.batch.layouts`); take every unchanged one
from the cache; grade the others with an executor (:mod:`grader.batch.executor`),
saving each result the moment it arrives (cache entry, ``results/<student>.json``,
``feedback/<student>.html``, all atomic); then write the exports (``grades.csv`` and the
LMS imports, through the ``grader_export_batch`` hook), ``summary.html`` and
``batch.json``. An interrupted run (Ctrl-C, SIGTERM) still writes the exports, with the
submissions it did not reach marked ``not_graded``; a killed one loses nothing already
graded: the next run takes it from the cache.

The cache lives in ``DIR/.grader-batch/cache``, keyed by the graded file's bytes and name
and by everything that can change a result: the grader and torch versions, the device,
the limits, and each exercise's id and fingerprint (its code and reference solution).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import grader
from grader.batch.executor import GradeTask, TaskOutcome
from grader.batch.layouts import Inventory, StudentSubmission, discover
from grader.batch.progress import Progress
from grader.cache import write_text_atomic
from grader.cache import read_json, write_json_atomic
from grader.errors import GraderError
from grader.states import RowStatus, StopKind

STATE_DIR = ".grader-batch"
RESULTS_DIR = "results"
FEEDBACK_DIR = "feedback"
#: Row statuses (:class:`grader.states.RowStatus`). ``graded``, ``error``, ``timeout`` and
#: ``unreadable`` rows have a result (and files); ``grader_error`` (the grader failed,
#: retried next run) and ``not_graded`` (the run was interrupted first) have none and an
#: empty score. Only ``graded``, ``error`` and ``unreadable`` rows are cached.
STATUSES = tuple(RowStatus)


@dataclass
class BatchOptions:
    source: Path
    out: Path
    exercises: Sequence[str] | None = None
    jobs: int | None = None
    timeout: float | None = None
    layout: str = "auto"
    device: str = "cpu"
    executor: str = "local"
    assignment: str | None = None  # the column title of LMS gradebook imports
    force: bool = False  # grade everything again, ignoring the cache
    progress: str = "auto"  # auto, bar, lines or none


@dataclass
class Row:
    sub: StudentSubmission
    status: RowStatus
    message: str = ""
    result: dict[str, Any] | None = None
    cached: bool = False


@dataclass
class BatchReport:
    out: Path
    layout: str
    total: int
    graded: int  # graded in this run
    unchanged: int  # not graded in this run: taken from the cache (or nothing to grade)
    counts: dict[str, int] = field(default_factory=dict)  # rows per status
    interrupted: bool = False
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)
    strays: int = 0


# ------------------------------------------------------------------ rows
def classify(result: dict[str, Any]) -> tuple[RowStatus, str]:
    """A result's row status and message, from what the sandbox stopped (``stops``, by
    kind: never from the wording of a message) and the cells that raised."""
    stops = [s for s in result.get("stops", []) if isinstance(s, dict)]
    kinds = []
    for stop in stops:
        try:
            kinds.append(StopKind(stop.get("kind")))
        except ValueError:
            kinds.append(StopKind.CRASH)
    first = next(iter(stops), None)
    if any(k.is_infrastructure for k in kinds):
        return RowStatus.GRADER_ERROR, next(s["message"] for s, k in zip(stops, kinds) if k.is_infrastructure)
    if any(k.is_time for k in kinds):
        stop = next(s for s, k in zip(stops, kinds) if k.is_time)
        return RowStatus.TIMEOUT, f"{stop.get('where', '')}: {stop.get('message', '')}".strip(": ")
    if first is not None:
        return RowStatus.ERROR, str(first.get("message", ""))
    raised = [f"{c['label']}: {_last_line(c.get('message', ''))}" for c in result.get("cells", [])
              if c.get("status") == "error"]
    return RowStatus.GRADED, ("; ".join(raised))[:500]


def _last_line(message: str) -> str:
    """The exception line of a cell's error (its first line: ``Type: message``)."""
    lines = str(message).strip().splitlines()
    return lines[0] if lines else "error"


def placeholder_result(exercises, display: str, device: str, reason: str) -> dict[str, Any]:
    """A result object of the usual shape for a submission that could not be graded."""
    from grader.results import ExerciseResult, GradeResult
    from grader.states import ExerciseStatus

    return GradeResult(submission=display, device=device, notes=[reason],
                       exercises=[ExerciseResult(id=e.id, title=e.title, status=ExerciseStatus.ERROR, score=0.0,
                                                 max_score=e.points, message=reason) for e in exercises]).to_dict()


def export_record(row: Row, layout: str, assignment: str, exercises) -> dict[str, Any]:
    """What the ``grader_export_batch`` hook receives for one row."""
    sub = row.sub
    display = sub.primary.rel if sub.primary else ""
    result = row.result or placeholder_result(exercises, display, "", row.message)
    record = dict(result)
    record["student"] = sub.key
    record["batch"] = {
        "status": row.status, "message": row.message, "name": sub.name, "lms_id": sub.lms_id, "email": sub.email,
        "late": sub.late, "layout": layout, "files": [f.rel for f in sub.files], "notes": list(sub.notes),
        "feedback": f"{FEEDBACK_DIR}/{sub.key}.html" if row.status.has_result else None,
        "result_file": f"{RESULTS_DIR}/{sub.key}.json" if row.status.has_result else None,
        "cached": row.cached, "has_score": row.status.has_result, "assignment": assignment,
        "extra": dict(sub.extra),
    }
    return record


# ------------------------------------------------------------------ helpers
def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_text_atomic(path, text)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _clean_temporaries(folder: Path) -> None:
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp"):
            _remove(leftover)


def _config_key(exercises, device: str, limits) -> str:
    from grader.references import torch_version

    config = {"grader": grader.__version__, "torch": torch_version(), "device": device,
              "exercises": [[e.id, e.fingerprint()] for e in exercises], "limits": limits.to_dict()}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _content_key(config_key: str, sub: StudentSubmission) -> str | None:
    primary = sub.primary
    if primary is None or primary.problem:
        return None
    digest = hashlib.sha256(config_key.encode())
    digest.update(b"\0" + primary.path.name.encode("utf-8", "surrogateescape") + b"\0")
    try:
        with open(primary.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


class _Lock:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.close()
            raise GraderError(f"another `grader batch` is writing to {path.parent.parent}; "
                              f"wait for it to end") from None

    def release(self) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def default_jobs(memory_per_job: int | None = None) -> int:
    """The CPUs this process may use, but no more jobs than the machine's memory holds
    at each sandbox's memory limit."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    if memory_per_job and memory:
        cpus = min(cpus, memory // memory_per_job)
    return max(1, cpus)


def find_executor(pm, name: str):
    executors = {e.name: e for found in pm.hook.grader_executors() for e in (found or ())}
    if name not in executors:
        raise GraderError(f"unknown executor {name!r} (available: {', '.join(sorted(executors)) or 'none'})")
    return executors[name]


# ------------------------------------------------------------------ the run
def run_batch(options: BatchOptions, pm=None) -> BatchReport:
    from grader.engine import exercise_registry, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.sandbox import Limits

    started = time.monotonic()
    pm = pm or get_plugin_manager()
    exercises = select_exercises(exercise_registry(pm), options.exercises)
    device = pm.hook.grader_select_device(requested=options.device)
    if device is None:
        raise GraderError(f"unknown device {options.device!r} (choose cpu, cuda or auto)")
    executor = find_executor(pm, options.executor)
    if options.jobs is not None and options.jobs < 1:
        raise GraderError("--jobs must be at least 1")
    limits = Limits()
    if options.timeout is not None:
        if options.timeout <= 0:
            raise GraderError("--timeout must be positive")
        limits.limit_total(options.timeout)
    jobs = options.jobs or default_jobs(limits.memory_bytes)
    source = Path(options.source).expanduser()
    if not source.exists():
        raise GraderError(f"{source}: no such file or folder")
    source_abs = source.resolve()
    out = Path(options.out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise GraderError(f"{options.out}: exists and is not a folder")
    state = out / STATE_DIR
    if source_abs == out or source_abs == state or state in source_abs.parents:
        raise GraderError("the output folder must not be the submissions folder")
    lock = _Lock(state / "lock")
    try:
        return _run_locked(options, pm, exercises, device, executor, jobs, limits, source, source_abs, out, state,
                           started)
    finally:
        lock.release()


def _run_locked(options, pm, exercises, device, executor, jobs, limits, source, source_abs, out, state,
                started) -> BatchReport:
    inventory = discover(source, state / "staging", options.layout, exclude=[out])
    if not inventory.submissions:
        strays = f" ({len(inventory.strays)} stray file(s) ignored)" if inventory.strays else ""
        raise GraderError(f"{source}: no submissions found{strays}")
    results_dir, feedback_dir, cache_root = out / RESULTS_DIR, out / FEEDBACK_DIR, state / "cache"
    for folder in (results_dir, feedback_dir):
        folder.mkdir(parents=True, exist_ok=True)
        _clean_temporaries(folder)
    _clean_temporaries(out)
    assignment = options.assignment or "grader: " + ", ".join(e.id for e in exercises)
    config_key = _config_key(exercises, device, limits)
    hidden = tuple(sorted({str(source_abs), str(out)}))

    rows: dict[str, Row] = {}
    keys: dict[str, str] = {}
    tasks: list[GradeTask] = []
    by_id = {s.key: s for s in inventory.submissions}
    for sub in inventory.submissions:
        display = sub.primary.rel if sub.primary else ""
        problem = ("no file was handed in" if sub.primary is None else
                   f"{display}: {sub.primary.problem}" if sub.primary.problem else None)
        key = _content_key(config_key, sub) if problem is None else None
        if problem is None and key is None:
            problem = f"{display}: cannot read the file"
        if problem is not None:
            rows[sub.key] = Row(sub, RowStatus.UNREADABLE, problem,
                                placeholder_result(exercises, display, device, problem))
            continue
        keys[sub.key] = key
        entry = None if options.force else read_json(cache_root / key[:2] / f"{key}.json")
        if isinstance(entry, dict) and entry.get("kind") in ("result", "unreadable"):
            rows[sub.key] = _row_from_cache(sub, entry, exercises, device)
            continue
        tasks.append(GradeTask(id=sub.key, path=str(sub.primary.path), display=display,
                               exercises=tuple(e.id for e in exercises), device=device, limits=limits.to_dict(),
                               hidden=hidden))

    progress = Progress(len(inventory.submissions), len(tasks), mode=options.progress)
    progress.message(f"{len(inventory.submissions)} submission(s) found ({inventory.layout} layout"
                     f"{', %d stray file(s) ignored' % len(inventory.strays) if inventory.strays else ''}); "
                     f"{len(tasks)} to grade" + (f" with {min(jobs, len(tasks))} job(s)" if tasks else ""))
    progress.reused(len(inventory.submissions) - len(tasks))
    for row in rows.values():
        if row.status.has_result:
            _write_student_files(pm, out, row)

    interrupted = False
    graded = 0
    restore = _sigterm_as_interrupt()
    outcomes = executor.run(tasks, jobs)
    try:
        for outcome in outcomes:
            sub = by_id.get(outcome.id)
            if sub is None:
                progress.message(f"grader: warning: the {options.executor} executor returned an unknown task "
                                 f"{outcome.id!r}; ignored")
                continue
            row = _row_from_outcome(sub, outcome, exercises, device)
            rows[sub.key] = row
            if row.status.has_result:
                _write_student_files(pm, out, row)
            if row.status.cacheable and sub.key in keys:
                entry = ({"kind": "unreadable", "message": row.message} if row.status is RowStatus.UNREADABLE
                         else {"kind": "result", "result": row.result})
                write_json_atomic(cache_root / keys[sub.key][:2] / f"{keys[sub.key]}.json", entry)
            graded += 1
            score = f"{row.result['score']}/{row.result['max_score']}" if row.result else ""
            progress.advance(sub.key, row.status, score)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        restore()
    progress.finish()
    for sub in inventory.submissions:
        if sub.key not in rows:
            rows[sub.key] = Row(sub, RowStatus.NOT_GRADED, "the run was interrupted before this submission was graded; "
                                                   "run the same command again to grade it")

    ordered = [rows[s.key] for s in inventory.submissions]
    written = _finish(pm, out, state, inventory, ordered, exercises, assignment, options, interrupted,
                      time.monotonic() - started, graded)
    counts = {s: sum(1 for r in ordered if r.status == s) for s in STATUSES}
    return BatchReport(out=out, layout=inventory.layout, total=len(ordered), graded=graded,
                       unchanged=len(ordered) - graded - counts[RowStatus.NOT_GRADED],
                       counts={k: v for k, v in counts.items() if v},
                       interrupted=interrupted, seconds=time.monotonic() - started, written=written,
                       strays=len(inventory.strays))


def _sigterm_as_interrupt():
    """While grading, SIGTERM stops the run like Ctrl-C (the exports are still written)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def _row_from_cache(sub: StudentSubmission, entry: dict[str, Any], exercises, device: str) -> Row:
    display = sub.primary.rel if sub.primary else ""
    if entry["kind"] == "unreadable":
        message = str(entry.get("message", ""))
        return Row(sub, RowStatus.UNREADABLE, message, placeholder_result(exercises, display, device, message),
                   cached=True)
    result = dict(entry["result"])
    result["submission"] = display  # the same bytes may come from another student or path
    status, message = classify(result)
    return Row(sub, status, message, result, cached=True)


def _row_from_outcome(sub: StudentSubmission, outcome: TaskOutcome, exercises, device: str) -> Row:
    display = sub.primary.rel if sub.primary else ""
    if outcome.failure is not None:
        return Row(sub, RowStatus.GRADER_ERROR, f"the grader failed on this submission (it is tried again on the "
                                                f"next run): {outcome.failure}")
    if outcome.unreadable is not None:
        return Row(sub, RowStatus.UNREADABLE, outcome.unreadable,
                   placeholder_result(exercises, display, device, outcome.unreadable))
    if outcome.result is None:
        return Row(sub, RowStatus.GRADER_ERROR, "the executor returned no result")
    status, message = classify(outcome.result)
    if status is RowStatus.GRADER_ERROR:
        return Row(sub, status, message)
    return Row(sub, status, message, outcome.result)


def _write_student_files(pm, out: Path, row: Row) -> None:
    result = row.result
    _write_if_changed(out / RESULTS_DIR / f"{row.sub.key}.json", pm.hook.grader_render_report(
        result=result, fmt="json", color=False))
    _write_if_changed(out / FEEDBACK_DIR / f"{row.sub.key}.html", pm.hook.grader_render_report(
        result=result, fmt="html", color=False))


def _finish(pm, out: Path, state: Path, inventory: Inventory, rows: list[Row], exercises, assignment: str,
            options: BatchOptions, interrupted: bool, seconds: float, graded: int) -> list[Path]:
    from grader.batch.summary import write_summary

    records = [export_record(r, inventory.layout, assignment, exercises) for r in rows]
    written: list[Path] = []
    for paths in pm.hook.grader_export_batch(results=records, out_dir=out):
        written.extend(Path(p) for p in paths or ())
    written.append(write_summary(out, records, inventory, exercises, interrupted=interrupted))
    # Files exist exactly for the rows that have a result; drop what a former run left for
    # students who are gone or whose new submission has no result yet.
    with_files = {r.sub.key for r in rows if r.status.has_result}
    manifest = read_json(state / "manifest.json") or {}
    for key in set(manifest.get("students_with_files", [])) | {r.sub.key for r in rows}:
        if key not in with_files:
            _remove(out / RESULTS_DIR / f"{key}.json")
            _remove(out / FEEDBACK_DIR / f"{key}.html")
    write_json_atomic(state / "manifest.json", {"students_with_files": sorted(with_files)})
    info = {"grader_version": grader.__version__, "source": str(options.source), "layout": inventory.layout,
            "exercises": [e.id for e in exercises], "interrupted": interrupted, "seconds": round(seconds, 2),
            "counts": {s: sum(1 for r in rows if r.status == s) for s in STATUSES},
            "graded_now": graded,
            "unchanged": len(rows) - graded - sum(1 for r in rows if r.status is RowStatus.NOT_GRADED),
            "inventory": inventory.to_dict()}
    path = out / "batch.json"
    write_text_atomic(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    written.append(path)
    return written
