"""Executors: what runs the submissions of a batch, behind a small interface.

An executor is any object with a ``name``, a one-line ``description`` and::

    run(tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]

which grades every task and yields exactly one :class:`TaskOutcome` per task as it
finishes, in any order. Closing the iterator early (Ctrl-C, ``SIGTERM``) must stop
handing out work and end every process the executor started; whatever already came out
has been saved by the caller, so a later run resumes. Optional: ``configure(scheduler)``
(called before anything is read; raises :class:`GraderError` for settings it cannot
use) and a ``notify`` attribute (a function the caller sets to show a line of text).

Tasks and outcomes are plain, serialisable data. A task carries the submission's bytes
and file name, never a path: :func:`grade_task` writes the bytes to a private temporary
file wherever it runs, so nothing depends on a shared filesystem. A distributed executor
ships a task to another machine, calls :func:`grade_task` there and sends the outcome
back (``grader.batch.dask_executor``). Plugins provide executors through the
``grader_executors`` hook; ``grader batch --executor NAME`` picks one.

The built-in ``local`` executor runs ``jobs`` submissions at a time on this machine:
each in its own sandboxed worker, forked from one of ``jobs`` warm zygotes, supervised
by one long-lived thread of this process (a worker dies with the thread that started
it). The reference observations are computed first, once, by a fork of a zygote (not by
a fresh interpreter beside the zygotes: that was a third copy of torch in memory).
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import grader
from grader.errors import GraderError


@dataclass(frozen=True)
class GradeTask:
    """One submission to grade, as plain data."""

    id: str  # unique within the batch (the student key)
    name: str  # the file's name: its suffix picks the loader, a module's stem is its name
    data: bytes = field(repr=False)  # the file's bytes
    display: str = ""  # the result's ``submission`` field (the path inside the input)
    exercises: tuple[str, ...] = ()  # exercise ids, all of them when empty
    device: str = "cpu"
    limits: dict[str, Any] = field(default_factory=dict)  # grader.sandbox.Limits fields

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TaskOutcome:
    """What grading one task gave: a result, or why there is none."""

    id: str
    result: dict[str, Any] | None = None  # the JSON object of ``grader check --format json``
    unreadable: str | None = None  # the file cannot be read as a submission (the student's problem)
    failure: str | None = None  # the grader itself failed: not cached, tried again on the next run
    seconds: float = 0.0
    worker: str = ""  # what graded it: ``local/1``, a Dask worker's address

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> TaskOutcome:
        """An outcome sent back by another process, checked field by field."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("not a task outcome")
        result = data.get("result")
        texts = {k: data.get(k) for k in ("unreadable", "failure")}
        if result is not None and not isinstance(result, dict) or any(
                v is not None and not isinstance(v, str) for v in texts.values()):
            raise ValueError("a task outcome of the wrong shape")
        return cls(data["id"], result=result, seconds=float(data.get("seconds") or 0.0),
                   worker=str(data.get("worker") or ""), **texts)


@runtime_checkable
class Executor(Protocol):
    name: str
    description: str

    def run(self, tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]:
        ...


def _limits(task: GradeTask):
    from grader.sandbox import Limits

    return Limits(**task.limits)


def _exercises(task: GradeTask, pm=None):
    from grader.engine import exercise_registry, select_exercises
    from grader.plugins import get_plugin_manager

    return select_exercises(exercise_registry(pm or get_plugin_manager()), list(task.exercises) or None)


def safe_file_name(name: str) -> str:
    """The task's file name as one harmless path component (the suffix kept)."""
    base = os.path.basename(str(name).replace("\0", "").replace("\\", "/"))
    return base if base not in ("", ".", "..") else "submission" + Path(str(name)).suffix.replace("/", "")


def grade_task(task: GradeTask, pm=None, pool=None, worker: str = "") -> TaskOutcome:
    """Grade one task with the engine, exactly as ``grader check`` would: its bytes are
    written to a private temporary folder, loaded from there, and the folder removed."""
    from grader.engine import grade_submission
    from grader.plugins import get_plugin_manager
    from grader.submission import load_submission

    started = time.monotonic()

    def outcome(**fields) -> TaskOutcome:
        return TaskOutcome(task.id, seconds=time.monotonic() - started, worker=worker, **fields)

    pm = pm or get_plugin_manager()
    try:
        exercises = _exercises(task, pm)
        with tempfile.TemporaryDirectory(prefix="grader-task-") as folder:
            path = Path(folder) / safe_file_name(task.name)
            path.write_bytes(task.data)
            try:
                submission = load_submission(path, pm)
            except GraderError as exc:
                return outcome(unreadable=str(exc).replace(str(path), task.display or path.name))
        result = grade_submission(submission, exercises, device=task.device, limits=_limits(task),
                                  display_path=task.display or path.name, pool=pool).to_dict()
        if worker:
            result.setdefault("resources", {})["worker"] = worker
        return outcome(result=result)
    except GraderError as exc:
        return outcome(failure=str(exc))
    except Exception as exc:  # noqa: BLE001 - a grader bug must cost one row, not the batch
        tail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        return outcome(failure=f"internal error in the grader ({type(exc).__name__}: {exc}); {tail}")


def prepare_references(task: GradeTask, pm=None, pool=None) -> None:
    """Compute (or read from the cache) the reference observations a batch needs, once,
    before grading starts (otherwise every concurrent first submission would compute
    them); ``pool``: run them in a fork of its warm zygote."""
    from grader.engine import sandbox_view
    from grader.references import reference_observations

    exercises = _exercises(task, pm)
    reference_observations(exercises, task.device, _limits(task), sandbox_view(exercises), pool)


def failure_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, GraderError) else f"internal error in the grader ({type(exc).__name__}: {exc})"


class StoppablePool:
    """A worker pool that starts nothing once the batch stops: after an interruption,
    a sandbox that was running (and died with its zygote) is not started again."""

    def __init__(self, pool, stop: threading.Event):
        self.pool, self.stop = pool, stop

    @contextmanager
    def launcher(self):
        if self.stop.is_set():
            raise GraderError("the batch was interrupted")
        with self.pool.launcher() as launcher:
            yield launcher


class LocalExecutor:
    """``jobs`` submissions at a time on this machine (see the module's documentation)."""

    name = "local"
    description = "sandboxed workers on this machine (--jobs at a time)"
    notify: Callable[[str], None] | None = None
    plugins: Any = None  # the batch's plugin manager (set by grader batch): its exercises and loaders

    def configure(self, scheduler: str | None = None) -> None:
        if scheduler:
            raise GraderError("--scheduler is for a cluster: use it with --executor dask")

    def run(self, tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]:
        if not tasks:
            return
        from grader.sandbox.launch import WorkerPool

        size = max(1, min(jobs, len(tasks)))
        first = tasks[0]
        # warm zygotes, one per job, started in this (long-lived) thread; the first to be
        # ready forks the reference run
        pool = WorkerPool(size, preload=sorted({e.module for e in _exercises(first, self.plugins)}), warm=True)
        try:
            yield from self._run(tasks, first, size, pool)
        finally:
            pool.close()

    def _run(self, tasks: Sequence[GradeTask], first: GradeTask, size: int, pool) -> Iterator[TaskOutcome]:
        try:
            prepare_references(first, self.plugins, pool=pool)
        except Exception as exc:  # noqa: BLE001 - every row says why, and the next run tries again
            reason = failure_text(exc)
            for index in range(len(tasks)):
                yield TaskOutcome(tasks[index].id, failure=reason)
            return
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        done: queue.SimpleQueue[TaskOutcome] = queue.SimpleQueue()
        stop = threading.Event()
        for index in range(len(tasks)):
            todo.put(index)

        def work(label: str) -> None:
            # Each thread lives until the queue is empty: the sandbox workers it starts are
            # bound to it (parent-death signal), so it starts and waits on them itself. A
            # task's bytes are read only when the thread takes it.
            while not stop.is_set():
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    task = tasks[index]
                except Exception as exc:  # noqa: BLE001 - the row says why
                    done.put(TaskOutcome(getattr(exc, "task_id", str(index)), failure=failure_text(exc)))
                    continue
                done.put(grade_task(task, self.plugins, pool=StoppablePool(pool, stop), worker=label))

        threads = [threading.Thread(target=work, args=(f"local/{n + 1}",), name=f"grader-batch-{n + 1}",
                                    daemon=True) for n in range(size)]
        for t in threads:
            t.start()
        try:
            for _ in range(len(tasks)):
                yield _next_outcome(done, threads)
        finally:
            # Interrupted (or done): hand out nothing more, and wait for the threads, so
            # that no sandbox (nor a zygote a thread would start again) outlives the run:
            # closing the pool ends the zygotes, and with them every worker they forked.
            stop.set()
            pool.close()
            for t in threads:
                t.join(timeout=30)


def _next_outcome(done: queue.SimpleQueue[TaskOutcome], threads: list[threading.Thread]) -> TaskOutcome:
    """The next outcome a grading thread finishes (an error when they all stopped first)."""
    while True:
        try:
            return done.get(timeout=0.2)
        except queue.Empty:
            if not any(t.is_alive() for t in threads) and done.empty():
                raise RuntimeError("the grading threads stopped early") from None


@grader.hookimpl
def grader_executors():
    from grader.batch.dask_executor import DaskExecutor

    return [LocalExecutor(), DaskExecutor()]
