"""Hook specifications: every way a plugin can extend the grader.

Plugins implement these with ``@grader.hookimpl`` and are found through the entry-point
group ``grader`` (the built-in exercises, loaders, devices and reports are registered
the same way). Results passed between hooks are plain, serialisable data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from grader.batch.executor import Executor
    from grader.exercise import Exercise
    from grader.submission import Submission

hookspec = pluggy.HookspecMarker("grader")


@hookspec
def grader_exercises() -> Sequence[Exercise]:
    """Return the exercises this plugin provides.

    Each :class:`grader.exercise.Exercise` has a unique ``id``; a clash between two
    plugins is a user error reported by ``grader list`` and ``grader check``.
    """


@hookspec(firstresult=True)
def grader_load_submission(path: Path) -> Submission | None:
    """Read the student's file at ``path`` into a :class:`grader.submission.Submission`.

    Return ``None`` when this loader does not handle that kind of file (decide by the
    suffix or by content); the first non-``None`` result wins. Raise
    :class:`grader.GraderError` when the file is of your kind but cannot be read.
    Loading only parses: student code never runs here.
    """


@hookspec(firstresult=True)
def grader_select_device(requested: str) -> str | None:
    """Turn the ``--device`` option (``cpu``, ``cuda``, ``auto`` or a plugin's own name)
    into the torch device string student code is graded on, or ``None`` to pass.

    Raise :class:`grader.GraderError` when the device was asked for and cannot be had.
    """


@hookspec
def grader_report_formats() -> Sequence[str]:
    """Return the names of the report formats this plugin can render (``text``...)."""


@hookspec(firstresult=True)
def grader_render_report(result: dict[str, Any], fmt: str, color: bool) -> str | None:
    """Render one grading result (the JSON object of docs/interfaces.md) in format ``fmt``.

    Return ``None`` for formats this plugin does not render. ``color`` is true when the
    output goes to a terminal that shows ANSI colours.
    """


@hookspec
def grader_export_batch(results: Sequence[dict[str, Any]], out_dir: Path) -> Sequence[Path] | None:
    """Write this plugin's export of a graded batch (one result object per submission,
    each with ``student`` added) into ``out_dir`` and return the paths written.

    Used by ``grader batch``; an exporter writes atomically (temporary file + rename).
    Each result also carries ``batch``: the row's ``status`` (graded, error, timeout,
    unreadable, grader_error, not_graded), ``message``, ``name``, ``lms_id``, ``email``,
    ``late``, ``layout``, ``files``, ``notes``, ``feedback`` (path relative to
    ``out_dir``), ``extra`` (layout ids such as ``canvas_submission_id``),
    ``submitted_at`` and ``time_source`` (when the LMS says it was handed in) and
    ``lateness``. With an assignment (``grader batch --assignment``), ``score`` is the
    assignment's final score and the result has ``raw_score`` and ``assignment``
    (docs/assignments.md). Rows that could not be graded carry a result object of the
    same shape, every exercise in status ``error`` with the reason as its message.
    """


@hookspec
def grader_executors() -> Sequence[Executor]:
    """Return the executors this plugin provides for ``grader batch --executor NAME``.

    An executor (:class:`grader.batch.executor.Executor`) has a unique ``name``, a
    one-line ``description`` and ``run(tasks, jobs)``, which grades every
    :class:`~grader.batch.executor.GradeTask` and yields one
    :class:`~grader.batch.executor.TaskOutcome` per task as each finishes (any order);
    closing the iterator early must stop handing out work. Optional: ``configure(scheduler)``
    (called with ``--scheduler``; without it, ``--scheduler`` is refused), a ``notify``
    attribute (set to a function that prints a line in the progress display) and a
    ``plugins`` attribute (set to the batch's plugin manager: grade in this process with
    it). The built-in ``local`` executor runs ``jobs`` sandboxed workers on this machine
    through the batch's plugin manager; a distributed one ships tasks elsewhere and calls
    :func:`grader.batch.executor.grade_task` there (with the plugins installed there).
    """


@hookspec
def grader_late_policies() -> Sequence[str]:
    """Return the names of the late policies this plugin implements: the values of
    ``policy`` in an ``assignment.toml``'s ``[late]`` table (docs/assignments.md). The
    built-ins are ``none``, ``per_day``, ``per_hour`` and ``cutoff``."""


@hookspec(firstresult=True)
def grader_late_penalty(policy: dict[str, Any], lateness: dict[str, Any]) -> dict[str, Any] | None:
    """The penalty for one submission handed in after its deadline, or ``None`` when
    ``policy["policy"]`` is not one of this plugin's policies.

    ``policy`` is the ``[late]`` table as plain data (durations in seconds, fractions
    between 0 and 1, dates as ISO 8601 strings; a policy's own keys are passed as
    written). ``lateness`` holds ``seconds_late`` (past the grace period: always more
    than 0), ``submitted_at`` and ``deadline`` (ISO 8601, the student's own deadline)
    and ``extended`` (whether that deadline is an extension). Return
    ``{"fraction": F, "message": TEXT}``: the share of the score taken off (0 to 1) and
    the explanation the student reads ("2 days late: 20 % off"). The grace period, the
    cap and the no-credit date of the ``[late]`` table are applied around this hook by
    the grader, for every policy alike. Called on every run: a penalty is never cached.
    """
