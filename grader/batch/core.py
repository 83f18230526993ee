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
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grader
from grader.batch.executor import GradeTask, TaskOutcome
from grader.batch.layouts import Inventory, StudentSubmission, discover
from grader.batch.progress import Progress
from grader.cache import read_json, write_json_atomic, write_text_atomic
from grader.errors import GraderError
from grader.options import resolve_device
from grader.states import CellStatus, RowStatus, StopKind
from grader.text import display_name, printable

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
    cell_timeout: float | None = None  # CPU seconds for each top-level statement (--cell-timeout)
    layout: str = "auto"
    device: str | None = None  # default: the assignment's, else cpu
    executor: str = "local"
    scheduler: str | None = None  # the Dask scheduler's address (--executor dask)
    assignment: str | None = None  # the assignment.toml (docs/assignments.md): exercises, points, deadline...
    force: bool = False  # grade everything again, ignoring the cache
    progress: str = "auto"  # auto, bar, lines or none


@dataclass
class Row:
    sub: StudentSubmission
    status: RowStatus
    message: str = ""
    result: dict[str, Any] | None = None  # the raw result: what is cached
    final: dict[str, Any] | None = None  # the result under the course's rules, made fresh on every run
    cached: bool = False
    worker: str = ""  # what graded it in this run (the executor's name for it)


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
            kinds.append(StopKind(stop.get("kind", "")))  # missing or unknown: ValueError
        except ValueError:
            kinds.append(StopKind.CRASH)
    first = next(iter(stops), None)
    if any(k.is_infrastructure for k in kinds):
        return RowStatus.GRADER_ERROR, next(s["message"] for s, k in zip(stops, kinds) if k.is_infrastructure)
    if any(k.is_time for k in kinds):
        stop = next(s for s, k in zip(stops, kinds) if k.is_time)
        where, message = str(stop.get("where", "")), str(stop.get("message", ""))
        return RowStatus.TIMEOUT, message if where in message else f"{where}: {message}".strip(": ")
    if first is not None:
        return RowStatus.ERROR, str(first.get("message", ""))
    raised = [f"{c['label']}: {_last_line(c.get('message', ''))}" for c in result.get("cells", [])
              if c.get("status") == CellStatus.ERROR]
    return RowStatus.GRADED, ("; ".join(raised))[:500]


def _last_line(message: str) -> str:
    """The exception line of a cell's error (its first line: ``Type: message``)."""
    lines = str(message).strip().splitlines()
    return lines[0] if lines else "error"


def placeholder_result(exercises, display: str, device: str, reason: str,
                       points: dict[str, float] | None = None) -> dict[str, Any]:
    """A result object of the usual shape for a submission that could not be graded
    (``points``: each exercise's points in the assignment, when there is one)."""
    from grader.results import ExerciseResult, GradeResult
    from grader.states import ExerciseStatus

    points = points or {}
    return GradeResult(submission=display, device=device, notes=[reason],
                       exercises=[ExerciseResult(id=e.id, title=e.title, status=ExerciseStatus.ERROR, score=0.0,
                                                 max_score=points.get(e.id, e.points), message=reason)
                                  for e in exercises]).to_dict()


def export_record(row: Row, layout: str, assignment: str, exercises,
                  points: dict[str, float] | None = None) -> dict[str, Any]:
    """What the ``grader_export_batch`` hook receives for one row."""
    sub = row.sub
    display = sub.primary.rel if sub.primary else ""
    result = row.final or row.result or placeholder_result(exercises, display, "", row.message, points)
    record = dict(result)
    record["student"] = sub.key
    record["batch"] = {
        "status": row.status, "message": row.message, "name": sub.name, "lms_id": sub.lms_id, "email": sub.email,
        "late": sub.late, "layout": layout, "files": [f.rel for f in sub.files], "notes": list(sub.notes),
        "feedback": f"{FEEDBACK_DIR}/{sub.key}.html" if row.status.has_result else None,
        "result_file": f"{RESULTS_DIR}/{sub.key}.json" if row.status.has_result else None,
        "cached": row.cached, "has_score": row.status.has_result, "assignment": assignment, "worker": row.worker,
        "extra": dict(sub.extra), "submitted_at": sub.submitted_at or None, "time_source": sub.time_source,
        "lateness": (result.get("assignment") or {}).get("lateness"),
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


def _content_key(config_key: str, sub: StudentSubmission, data: bytes | None = None) -> str | None:
    """The cache key of the submission's file (of ``data``, its bytes, when given)."""
    primary = sub.primary
    if primary is None or primary.problem:
        return None
    digest = hashlib.sha256(config_key.encode())
    digest.update(b"\0" + primary.path.name.encode("utf-8", "surrogateescape") + b"\0")
    if data is not None:
        digest.update(data)
        return digest.hexdigest()
    try:
        with open(primary.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


class _Tasks(Sequence[GradeTask]):
    """The submissions to grade, as tasks that carry their file's bytes; each file is read
    when an executor takes its task, so a class's files are never all in memory at once.
    The cache key is the one of the bytes actually read (``keys`` is updated)."""

    def __init__(self, subs: list[StudentSubmission], keys: dict[str, str], config_key: str, common: dict):
        self.subs, self.keys, self.config_key, self.common = subs, keys, config_key, common

    def __len__(self) -> int:
        return len(self.subs)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        sub = self.subs[index]
        try:
            data = sub.primary.path.read_bytes()
        except OSError:
            data = b""  # graded as an empty file, and not cached
            self.keys.pop(sub.key, None)
        else:
            key = _content_key(self.config_key, sub, data)
            if key is not None:
                self.keys[sub.key] = key
        return GradeTask(id=sub.key, name=sub.primary.path.name, data=data, display=sub.primary.rel, **self.common)


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
    from grader.assignment import limits_for, open_assignment, select_for
    from grader.engine import exercise_registry
    from grader.plugins import get_plugin_manager

    started = time.monotonic()
    pm = pm or get_plugin_manager()
    course = open_assignment(options.assignment, pm)
    exercises = select_for(course, exercise_registry(pm), options.exercises)
    requested = options.device or (course.device if course else None) or "cpu"
    device = resolve_device(pm, requested)
    executor = find_executor(pm, options.executor)
    if hasattr(executor, "plugins"):
        executor.plugins = pm  # grade with the exercises and loaders of this batch's plugins
    configure = getattr(executor, "configure", None)
    if configure is not None:
        configure(scheduler=options.scheduler)
    elif options.scheduler:
        raise GraderError(f"the {options.executor} executor takes no --scheduler")
    if options.jobs is not None and options.jobs < 1:
        raise GraderError("--jobs must be at least 1")
    limits = limits_for(course, options.timeout, options.cell_timeout)
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
                           started, course)
    finally:
        lock.release()


def _run_locked(options, pm, exercises, device, executor, jobs, limits, source, source_abs, out, state,
                started, course=None) -> BatchReport:
    from grader.batch.course import CourseRules

    inventory = discover(source, state / "staging", options.layout, exclude=[out])
    if not inventory.submissions:
        strays = f" ({len(inventory.strays)} stray file(s) ignored)" if inventory.strays else ""
        raise GraderError(f"{source}: no submissions found{strays}")
    cache_root = state / "cache"
    _prepare_folders(out)
    assignment = course.column if course else "grader: " + ", ".join(e.id for e in exercises)
    rules = CourseRules(course, exercises, out, inventory.submissions, pm)  # read afresh on every run
    inventory.notes.extend(rules.notes())
    config_key = _config_key(exercises, device, limits)

    rows, keys, to_grade = _rows_before_grading(inventory.submissions, config_key, cache_root, exercises, device,
                                                options.force)
    tasks = _Tasks(to_grade, keys, config_key, {"exercises": tuple(e.id for e in exercises), "device": device,
                                                "limits": limits.to_dict()})
    progress = _start_progress(inventory, tasks, jobs, executor, options.progress, rules)
    for key, row in rows.items():
        rows[key] = _with_files(pm, out, row, rules)

    run = _Grading(pm, out, rules, exercises, device, cache_root, progress)
    graded, interrupted = _grade_all(run, executor, options.executor, tasks, jobs, inventory.submissions, rows, keys)
    progress.finish()
    for sub in inventory.submissions:
        if sub.key not in rows:
            rows[sub.key] = Row(sub, RowStatus.NOT_GRADED, "the run was interrupted before this submission was graded; "
                                                   "run the same command again to grade it")

    ordered = [rows[s.key] for s in inventory.submissions]
    points = {e.id: e.points for e in rules.assignment.exercises}
    written = _finish(pm, out, state, inventory, ordered, exercises, assignment, options, interrupted,
                      time.monotonic() - started, graded, points)
    counts = {s: sum(1 for r in ordered if r.status == s) for s in STATUSES}
    return BatchReport(out=out, layout=inventory.layout, total=len(ordered), graded=graded,
                       unchanged=len(ordered) - graded - counts[RowStatus.NOT_GRADED],
                       counts={k: v for k, v in counts.items() if v},
                       interrupted=interrupted, seconds=time.monotonic() - started, written=written,
                       strays=len(inventory.strays))


def _prepare_folders(out: Path) -> None:
    """The results and feedback folders, made, without the temporary files an earlier run
    that was killed left behind (in them and in ``out``)."""
    for folder in (out / RESULTS_DIR, out / FEEDBACK_DIR):
        folder.mkdir(parents=True, exist_ok=True)
        _clean_temporaries(folder)
    _clean_temporaries(out)


def _rows_before_grading(subs: list[StudentSubmission], config_key: str, cache_root: Path, exercises, device: str,
                         force: bool) -> tuple[dict[str, Row], dict[str, str], list[StudentSubmission]]:
    """The rows known without grading (the submissions that cannot be read, and the unchanged
    ones, from the cache unless ``force``), the cache key of every other submission, and
    the submissions to grade."""
    rows: dict[str, Row] = {}
    keys: dict[str, str] = {}
    to_grade: list[StudentSubmission] = []
    for sub in subs:
        display = sub.primary.rel if sub.primary else ""
        problem = ("no file was handed in" if sub.primary is None else
                   f"{display}: {sub.primary.problem}" if sub.primary.problem else None)
        key = _content_key(config_key, sub) if problem is None else None
        if key is None:
            if problem is None:
                problem = f"{display}: cannot read the file"
            rows[sub.key] = Row(sub, RowStatus.UNREADABLE, problem,
                                placeholder_result(exercises, display, device, problem))
            continue
        keys[sub.key] = key
        entry = None if force else read_json(cache_root / key[:2] / f"{key}.json")
        cached = _row_from_cache(sub, entry, exercises, device) if isinstance(entry, dict) else None
        if cached is not None:
            rows[sub.key] = cached
            continue
        to_grade.append(sub)
    return rows, keys, to_grade


def _start_progress(inventory: Inventory, tasks: _Tasks, jobs: int, executor, mode: str, rules) -> Progress:
    """The progress display, told what was found and what is to be graded (and the
    executor told to write its messages there)."""
    progress = Progress(len(inventory.submissions), len(tasks), mode=mode)
    if hasattr(executor, "notify"):
        executor.notify = progress.message
    progress.message(f"{len(inventory.submissions)} submission(s) found ({inventory.layout} layout"
                     f"{f', {len(inventory.strays)} stray file(s) ignored' if inventory.strays else ''}); "
                     f"{len(tasks)} to grade" + (f" with {min(jobs, len(tasks))} job(s)" if tasks else ""))
    progress.reused(len(inventory.submissions) - len(tasks))
    for note in rules.notes():
        progress.message(f"grader: warning: {note}")
    return progress


@dataclass
class _Grading:
    """What taking a graded submission in needs, during one run."""

    pm: Any
    out: Path
    rules: Any  # grader.batch.course.CourseRules
    exercises: Sequence
    device: str
    cache_root: Path
    progress: Progress


def _grade_all(run: _Grading, executor, executor_name: str, tasks: _Tasks, jobs: int,
               subs: list[StudentSubmission], rows: dict[str, Row], keys: dict[str, str]) -> tuple[int, bool]:
    """Grade ``tasks`` with the executor, each row taken into ``rows`` (and its files and
    cache entry written) the moment it arrives. Returns how many were graded, and whether
    the run was interrupted (Ctrl-C or SIGTERM)."""
    by_id = {s.key: s for s in subs}
    interrupted = False
    graded = 0
    restore = _sigterm_as_interrupt()
    outcomes = executor.run(tasks, jobs)
    try:
        for outcome in outcomes:
            sub = by_id.get(outcome.id)
            if sub is None:
                run.progress.message(f"grader: warning: the {executor_name} executor returned an unknown task "
                                     f"{outcome.id!r}; ignored")
                continue
            row = _take_outcome(run, sub, outcome, rows, keys)
            graded += 1
            score = f"{row.result['score']}/{row.result['max_score']}" if row.result else ""
            run.progress.advance(f"{sub.key} ({row.worker})" if row.worker else sub.key, row.status, score)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        restore()
    return graded, interrupted


def _take_outcome(run: _Grading, sub: StudentSubmission, outcome: TaskOutcome, rows: dict[str, Row],
                  keys: dict[str, str]) -> Row:
    """The row of a graded submission, in ``rows``, its files written and cached (when it may be)."""
    row = _with_files(run.pm, run.out, _row_from_outcome(sub, outcome, run.exercises, run.device), run.rules)
    rows[sub.key] = row
    if row.status.cacheable and keys.get(sub.key):
        _save_to_cache(run.cache_root / keys[sub.key][:2] / f"{keys[sub.key]}.json", row, run.progress)
    return row


def _sigterm_as_interrupt():
    """While grading, SIGTERM stops the run like Ctrl-C (the exports are still written)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def _row_from_cache(sub: StudentSubmission, entry: dict[str, Any], exercises, device: str) -> Row | None:
    """The row of a cache entry; None when the entry cannot be used (graded again)."""
    try:
        return _cached_row(sub, entry, exercises, device)
    except Exception:  # noqa: BLE001 - an entry of another shape (an older grader, a damaged disk)
        return None


def _cached_row(sub: StudentSubmission, entry: dict[str, Any], exercises, device: str) -> Row | None:
    display = sub.primary.rel if sub.primary else ""
    if entry.get("kind") not in ("result", "unreadable"):
        return None
    if entry["kind"] == "unreadable":
        message = str(entry.get("message", ""))
        return Row(sub, RowStatus.UNREADABLE, message, placeholder_result(exercises, display, device, message),
                   cached=True)
    result = dict(entry["result"])
    result["submission"] = display  # the same bytes may come from another student or path
    status, message = classify(result)
    return Row(sub, status, message, result, cached=True)


def _row_from_outcome(sub: StudentSubmission, outcome: TaskOutcome, exercises, device: str) -> Row:
    row = _outcome_row(sub, outcome, exercises, device)
    row.worker = outcome.worker
    return row


def _outcome_row(sub: StudentSubmission, outcome: TaskOutcome, exercises, device: str) -> Row:
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


def _failed_row(sub: StudentSubmission, step: str, exc: Exception) -> Row:
    """The row of a submission whose handling failed on the grader's side: the batch goes
    on, the row says why, and it is graded again on the next run (a grader error)."""
    reason = printable(f"{type(exc).__name__}: {exc}", keep="")[:300]
    return Row(sub, RowStatus.GRADER_ERROR, f"the grader failed while {step} ({reason}); it is tried again on the "
                                            f"next run")


def _with_files(pm, out: Path, row: Row, rules=None) -> Row:
    """The row, once its result and feedback files are written (when it has a result),
    under the course's rules (the assignment, lateness, adjustments: never cached)."""
    if not row.status.has_result:
        return row
    try:
        row.final = rules.final(row.sub, row.result) if rules is not None else None
        _write_student_files(pm, out, row)
    except Exception as exc:  # noqa: BLE001 - one row's odd text must not end the batch
        return _failed_row(row.sub, "writing its result and feedback files", exc)
    return row


def _save_to_cache(path: Path, row: Row, progress: Progress) -> None:
    entry = ({"kind": "unreadable", "message": row.message} if row.status is RowStatus.UNREADABLE
             else {"kind": "result", "result": row.result})
    try:
        write_json_atomic(path, entry)
    except (OSError, ValueError, TypeError) as exc:  # not cached: graded again next time, nothing lost
        progress.message(f"grader: warning: could not cache {row.sub.key}'s result ({exc})")


def _records(rows: list[Row], layout: str, assignment: str, exercises,
             points: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """What the exporters receive, one record per row: a row whose record cannot be made
    is exported as a grader error that says why."""
    records = []
    for row in rows:
        try:
            records.append(export_record(row, layout, assignment, exercises, points))
        except Exception as exc:  # noqa: BLE001
            records.append(export_record(_failed_row(row.sub, "exporting its row", exc), layout, assignment,
                                         exercises, points))
    return records


def _export(pm, records: list[dict[str, Any]], out: Path) -> tuple[list[Path], list[str]]:
    """Run every exporter on its own: one that fails is named in the summary's notes, and
    the others (grades.csv among them) are still written."""
    written: list[Path] = []
    problems: list[str] = []
    arguments = {"results": records, "out_dir": out}
    for impl in reversed(pm.hook.grader_export_batch.get_hookimpls()):  # pluggy's own calling order
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue  # wrappers wrap a hook call: there is none here
        try:
            paths = impl.function(*[arguments[name] for name in impl.argnames])
            written.extend(Path(p) for p in paths or ())
        except Exception as exc:  # noqa: BLE001 - a plugin's bug costs its own file only
            problems.append(f"the {impl.plugin_name} exporter failed: "
                            f"{printable(f'{type(exc).__name__}: {exc}', keep='')[:300]}")
    return written, problems


def _plain_summary(out: Path, records: list[dict[str, Any]], exc: Exception) -> Path:
    """A bare ``summary.html`` (every row and its status) for when the real one fails."""
    from html import escape

    from grader.batch.summary import FILENAME

    rows = "".join(f"<tr><td>{escape(str(r.get('student')))}</td><td>{escape(str(r['batch'].get('status')))}</td>"
                   f"<td>{escape(str(r.get('score')))}</td><td>{escape(str(r['batch'].get('message')))}</td></tr>"
                   for r in records)
    page = (f"<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>grader batch</title><body>"
            f"<p>The summary could not be drawn ({escape(printable(f'{type(exc).__name__}: {exc}'))}); grades.csv "
            f"has every row.</p><table><tr><th>student</th><th>status</th><th>score</th><th>message</th></tr>"
            f"{rows}</table></body></html>\n")
    return write_text_atomic(Path(out) / FILENAME, page)


def _write_student_files(pm, out: Path, row: Row) -> None:
    result = row.final or row.result
    _write_if_changed(out / RESULTS_DIR / f"{row.sub.key}.json", pm.hook.grader_render_report(
        result=result, fmt="json", color=False))
    _write_if_changed(out / FEEDBACK_DIR / f"{row.sub.key}.html", pm.hook.grader_render_report(
        result=result, fmt="html", color=False))


def _finish(pm, out: Path, state: Path, inventory: Inventory, rows: list[Row], exercises, assignment: str,
            options: BatchOptions, interrupted: bool, seconds: float, graded: int,
            points: dict[str, float] | None = None) -> list[Path]:
    from grader.batch.summary import write_summary

    records = _records(rows, inventory.layout, assignment, exercises, points)
    written, problems = _export(pm, records, out)
    inventory.notes.extend(problems)
    try:
        written.append(write_summary(out, records, inventory, exercises, interrupted=interrupted))
    except Exception as exc:  # noqa: BLE001 - the summary is always written, if only as a list
        written.append(_plain_summary(out, records, exc))
    # Files exist exactly for the rows that have a result; drop what a former run left for
    # students who are gone or whose new submission has no result yet.
    with_files = {r.sub.key for r in rows if r.status.has_result}
    manifest = read_json(state / "manifest.json") or {}
    for key in set(manifest.get("students_with_files", [])) | {r.sub.key for r in rows}:
        if key not in with_files:
            _remove(out / RESULTS_DIR / f"{key}.json")
            _remove(out / FEEDBACK_DIR / f"{key}.html")
    write_json_atomic(state / "manifest.json", {"students_with_files": sorted(with_files)})
    info = {"grader_version": grader.__version__, "source": display_name(options.source), "layout": inventory.layout,
            "exercises": [e.id for e in exercises], "assignment": assignment, "interrupted": interrupted,
            "seconds": round(seconds, 2),
            "counts": {s: sum(1 for r in rows if r.status == s) for s in STATUSES},
            "graded_now": graded,
            "unchanged": len(rows) - graded - sum(1 for r in rows if r.status is RowStatus.NOT_GRADED),
            "inventory": inventory.to_dict()}
    path = out / "batch.json"
    write_text_atomic(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    written.append(path)
    return written
