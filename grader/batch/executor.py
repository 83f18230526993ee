"""Executors: what runs the submissions of a batch, behind a small interface.

An executor is any object with a ``name``, a one-line ``description`` and::

    run(tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]

which grades every task and yields exactly one :class:`TaskOutcome` per task as it
finishes, in any order. Closing the iterator early (Ctrl-C, ``SIGTERM``) must stop
handing out work; whatever already came out has been saved by the caller, so a later
run resumes. Tasks and outcomes are plain, serialisable data: a distributed executor
ships a task (and the file's bytes) to another machine, calls :func:`grade_task` there
and sends the outcome back. Plugins provide executors through the
``grader_executors`` hook; ``grader batch --executor NAME`` picks one.

The built-in ``local`` executor runs ``jobs`` submissions at a time on this machine:
each in its own sandboxed worker process (one torch thread each), supervised by one
long-lived thread of this process (a worker dies with the thread that started it).
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

import grader
from grader.errors import GraderError


@dataclass(frozen=True)
class GradeTask:
    """One submission to grade, as plain data."""

    id: str  # unique within the batch (the student key)
    path: str  # the file to grade, on the machine that grades it
    display: str  # the result's ``submission`` field (the path inside the input)
    exercises: tuple[str, ...]  # exercise ids, all of them when empty
    device: str = "cpu"
    limits: dict[str, Any] = field(default_factory=dict)  # grader.sandbox.Limits fields
    hidden: tuple[str, ...] = ()  # more paths the sandbox must not see (the batch's input and output)

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Executor(Protocol):
    name: str
    description: str

    def run(self, tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]:
        ...


def _limits(task: GradeTask):
    from grader.sandbox import Limits

    return Limits(**task.limits)


def grade_task(task: GradeTask, pm=None, pool=None) -> TaskOutcome:
    """Grade one task with the engine, exactly as ``grader check`` would."""
    from grader.engine import exercise_registry, grade_submission, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.submission import load_submission

    started = time.monotonic()
    pm = pm or get_plugin_manager()
    try:
        exercises = select_exercises(exercise_registry(pm), list(task.exercises) or None)
        try:
            submission = load_submission(Path(task.path), pm)
        except GraderError as exc:
            return TaskOutcome(task.id, unreadable=_relabel(str(exc), task), seconds=time.monotonic() - started)
        result = grade_submission(submission, exercises, device=task.device, limits=_limits(task),
                                  display_path=task.display, pool=pool)
        return TaskOutcome(task.id, result=result.to_dict(), seconds=time.monotonic() - started)
    except GraderError as exc:
        return TaskOutcome(task.id, failure=str(exc), seconds=time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - a grader bug must cost one row, not the batch
        tail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        return TaskOutcome(task.id, failure=f"internal error in the grader ({type(exc).__name__}: {exc}); {tail}",
                           seconds=time.monotonic() - started)


def _relabel(message: str, task: GradeTask) -> str:
    """Loader messages start with the path they read; show the path inside the input."""
    return message.replace(task.path, task.display) if task.path != task.display else message


def prepare_references(task: GradeTask, pm=None) -> None:
    """Compute the reference observations a batch needs once, before the workers start
    (otherwise every concurrent first submission would compute them)."""
    from grader.engine import exercise_registry, sandbox_view, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.references import reference_observations

    pm = pm or get_plugin_manager()
    exercises = select_exercises(exercise_registry(pm), list(task.exercises) or None)
    reference_observations(exercises, task.device, _limits(task), sandbox_view(exercises))


class LocalExecutor:
    """``jobs`` submissions at a time on this machine (see the module's documentation)."""

    name = "local"
    description = "worker processes on this machine (--jobs at a time)"

    def run(self, tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]:
        if not tasks:
            return
        from grader.engine import exercise_registry, select_exercises
        from grader.plugins import get_plugin_manager
        from grader.sandbox.launch import WorkerPool

        # warm zygotes, one per job, started in this (long-lived) thread: they import torch
        # and warm its lazy imports while the references are prepared
        exercises = select_exercises(exercise_registry(get_plugin_manager()), list(tasks[0].exercises) or None)
        pool = WorkerPool(max(1, min(jobs, len(tasks))), preload=sorted({e.module for e in exercises}), warm=True)
        try:
            yield from self._run(tasks, jobs, pool)
        finally:
            pool.close()

    def _run(self, tasks: Sequence[GradeTask], jobs: int, pool) -> Iterator[TaskOutcome]:
        try:
            prepare_references(tasks[0])
        except Exception as exc:  # noqa: BLE001 - every row says why, and the next run tries again
            reason = (str(exc) if isinstance(exc, GraderError)
                      else f"internal error in the grader ({type(exc).__name__}: {exc})")
            for task in tasks:
                yield TaskOutcome(task.id, failure=reason)
            return
        todo: queue.SimpleQueue[GradeTask | None] = queue.SimpleQueue()
        done: queue.SimpleQueue[TaskOutcome] = queue.SimpleQueue()
        stop = threading.Event()
        for task in tasks:
            todo.put(task)

        def work() -> None:
            # Each thread lives until the queue is empty: the sandbox workers it starts are
            # bound to it (parent-death signal), so it starts and waits on them itself.
            while not stop.is_set():
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                done.put(grade_task(task, pool=pool))

        threads = [threading.Thread(target=work, name=f"grader-batch-{n}", daemon=True)
                   for n in range(max(1, min(jobs, len(tasks))))]
        for t in threads:
            t.start()
        try:
            for _ in range(len(tasks)):
                while True:
                    try:
                        outcome = done.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if not any(t.is_alive() for t in threads) and done.empty():
                            raise RuntimeError("the grading threads stopped early") from None
                yield outcome
        finally:
            # Interrupted (or done): hand out nothing more. Running workers end with this
            # process (daemon threads, parent-death signal) or finish their one submission.
            stop.set()


@grader.hookimpl
def grader_executors():
    return [LocalExecutor()]
