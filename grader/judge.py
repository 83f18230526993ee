"""Judging on the trusted side: every check of an exercise against the sandbox's
observations, and what the report says about the cells.

Checks run in the exercise's order. A check is skipped only when one it depends on did
not pass; a mistake the framework recognises (a call that changed its tensor arguments
in place) is charged once, at the first check that reads it; an exception shown in full
once is named, not repeated, in later checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from grader.codec import Raised
from grader.integrity import Integrity
from grader.watched import apply_watching
from grader.exercise import Check, CheckContext, Exercise, StudentFailed, Verdict
from grader.results import CheckResult, ExerciseResult
from grader.sandbox import RunOutcome
from grader.states import CellStatus, CheckStatus, ExerciseStatus
from grader.static import StudentSource
from grader.submission import Submission
from grader.text import student_message


@dataclass
class Context:
    """What every check of one submission can use."""

    outcome: RunOutcome
    source: StudentSource
    device: str
    failed_units: list[tuple[str, Raised | None, str]] = field(default_factory=list)  # (label, error, source)
    integrity: Integrity | None = None  # what in the source could change the sandbox's watching
    _watched: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.integrity is None:
            self.integrity = Integrity(self.source)

    def watched_probes(self, exercise: str, expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every probe's observations of ``exercise``, with what its watched calls did
        (:func:`grader.watched.apply_watching`), worked out once for all its checks."""
        if exercise not in self._watched:
            assert self.integrity is not None
            self._watched[exercise] = {
                name: apply_watching(run.observations, expected.get(name, {}), self.integrity, run)
                for (ex, name), run in self.outcome.probes.items() if ex == exercise}
        return self._watched[exercise]


def _clean(raised: Raised) -> Raised:
    raised.message = student_message(raised.message)
    return raised


def _not_defined(name: str, context: Context) -> str:
    """Why ``name`` is missing, when a cell that meant to define it failed."""
    pattern = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b|^\s*{re.escape(name)}\s*[:=]",
                         re.MULTILINE)
    for label, error, source in context.failed_units:
        if not pattern.search(source):
            continue
        if error is not None and error.is_a("SyntaxError"):
            line = re.search(r"line (\d+)", error.traceback or "")
            where = f" at line {line.group(1)}" if line else ""
            return f"{label} has a syntax error{where}, so {name} was never defined ({error.message})"
        if error is not None:
            return f"{label} raised {error.type} before defining {name} ({error.message[:200]})"
        return f"{label} was stopped before it defined {name}"
    return f"`{name}` is not defined at the top level of the submission"


def _judge_check(check: Check, exercise: Exercise, context: Context, expected: dict[str, Any],
                 results: dict[str, CheckResult], charged: set[str],
                 shown: dict[str, str]) -> tuple[CheckStatus, Verdict]:
    failed_deps = [d for d in check.depends if results.get(d) is None or results[d].status != CheckStatus.PASSED]
    if failed_deps:
        return CheckStatus.SKIPPED, Verdict(False, f"skipped: it needs {', '.join(failed_deps)} to pass first")
    defined = set(context.outcome.defined or [])
    missing = [n for n in check.requires if n not in defined]
    if missing:
        return CheckStatus.FAILED, Verdict(False, _not_defined(missing[0], context))
    got: dict[str, Any] = {}
    outcome, integrity = context.outcome, context.integrity
    assert integrity is not None  # Context.__post_init__ sets it
    if check.probe is not None:
        run = outcome.probes.get((exercise.id, check.probe))
        if run is None:
            message = outcome.fatal.message if outcome.fatal else "the grader could not run this check"
            return CheckStatus.ERROR, Verdict(False, message)
        if run.stop is not None:
            hint = check.timeout_hint if run.stop.kind.is_time else None
            return CheckStatus.ERROR, Verdict(False, f"stopped: {run.stop.message}", hint=hint)
        got = {k: _clean(v) if isinstance(v, Raised) else v for k, v in run.observations.items()}
        if run.failure is not None:
            got.setdefault("__probe_failure__", _clean(run.failure))
        got = apply_watching(got, expected.get(check.probe, {}), integrity, run)
    measurements = {name: run.measured for (ex, name), run in outcome.probes.items() if ex == exercise.id}
    others = context.watched_probes(exercise.id, expected)
    ctx = CheckContext(got_observations=got, expected_observations=expected.get(check.probe or "", {}),
                       source=context.source, device=context.device, check=check, measurements=measurements,
                       charged=charged, exercise_observations=others)
    try:
        verdict = check.judge(ctx)
    except StudentFailed as failure:
        verdict = failure.verdict
    except Exception as exc:  # noqa: BLE001 - a judge must never take the whole report down
        probe_failure = got.get("__probe_failure__")
        verdict = ctx.raised_verdict(probe_failure) if isinstance(probe_failure, Raised) else Verdict(
            False, f"the grader could not judge this check ({type(exc).__name__}: {exc})", status=CheckStatus.ERROR)
    verdict.message = _once(verdict.message, check.id, shown)
    if verdict.passed and verdict.fraction is None:
        return CheckStatus.PASSED, verdict
    status = verdict.status or (CheckStatus.PASSED if verdict.credit >= 1.0 else CheckStatus.FAILED)
    return CheckStatus(status), verdict


def _once(message: str, check_id: str, shown: dict[str, str]) -> str:
    """A long error text shown in an earlier check is named, not repeated."""
    head, _, rest = message.partition("raised ")
    if len(rest) < 160:
        return message
    first = shown.setdefault(rest, check_id)
    if first == check_id:
        return message
    kind = rest.split(":", 1)[0]
    return f"{head}raised the same {kind} as shown in {first}"


def judge_exercise(exercise: Exercise, context: Context, expected: dict[str, Any]) -> ExerciseResult:
    outcome = context.outcome
    defined = set(outcome.defined or [])
    base: dict[str, Any] = dict(id=exercise.id, title=exercise.title, max_score=exercise.points)
    if outcome.defined is None:
        message = outcome.fatal.message if outcome.fatal else "the submission could not be run"
        return ExerciseResult(**base, status=ExerciseStatus.ERROR, score=0.0, message=message)
    if not defined & set(exercise.names):
        reasons = [r for r in (_not_defined(n, context) for n in exercise.names) if not r.startswith("`")]
        if reasons:
            return ExerciseResult(**base, status=ExerciseStatus.ERROR, score=0.0, message=reasons[0])
        return ExerciseResult(**base, status=ExerciseStatus.NOT_ATTEMPTED, score=0.0,
                              message=f"none of {', '.join(exercise.names)} is defined")
    results: dict[str, CheckResult] = {}
    charged: set[str] = set()
    shown: dict[str, str] = {}
    for check in exercise.checks:
        status, verdict = _judge_check(check, exercise, context, expected, results, charged, shown)
        credit = verdict.credit if status in (CheckStatus.PASSED, CheckStatus.FAILED) else 0.0
        results[check.id] = CheckResult(id=check.id, name=check.name, status=status,
                                        points=round(check.points * credit, 4), max_points=check.points,
                                        message=verdict.message, hint=verdict.hint)
    score = round(sum(r.points for r in results.values()), 4)
    missing = [n for n in exercise.names if n not in defined]
    message = f"not defined: {', '.join(missing)}" if missing else ""
    return ExerciseResult(**base, status=ExerciseStatus.GRADED, score=score, message=message,
                          checks=list(results.values()))


# ------------------------------------------------------------------ the cells
def cell_report(submission: Submission, outcome: RunOutcome) -> tuple[list[dict[str, Any]], list[tuple]]:
    """The report's ``cells`` (each unit that raised or was stopped, by cell and line)
    and the failed units for :class:`Context`."""
    cells, failed = [], []
    for index, unit in enumerate(submission.units):
        state = outcome.units.get(index)
        if state is None or not (state.stop or state.error):
            continue
        entry = {"label": unit.label, "line": _line_of(unit, state.error)}
        if state.stop is not None:
            entry.update(status=CellStatus.STOPPED.value, message=state.stop.message, stop=state.stop.kind.value)
        else:
            assert state.error is not None  # a unit without a stop that is reported raised
            error = _clean(state.error)
            entry.update(status=CellStatus.ERROR.value, message=error.describe(), error=error.type)
        cells.append(entry)
        failed.append((unit.label, state.error, unit.source))
    return cells, failed


def _line_of(unit, error: Raised | None) -> int:
    """The line a cell entry names: the line of the cell that was running when it raised
    (its top-level frame, or where the syntax error is: a cell that does not parse runs
    as one unit), else the statement's first line."""
    if error is not None:
        prefix = f"{unit.label}, line "
        for line in (error.traceback or "").split("\n"):
            head = line.strip()
            if head.startswith(prefix):
                number = head[len(prefix):].removesuffix(", in <module>")
                if number.isdigit():
                    return int(number)
    return unit.first_line


def notes_for(submission: Submission, outcome: RunOutcome, exercises: list[Exercise],
              cells: list[dict[str, Any]]) -> list[str]:
    """What the student should know beyond the checks: stand-ins for missing libraries,
    functions of torch the submission replaced, files the sandbox does not show, and
    what the exercises say about functions the notebook calls (``Exercise.source_notes``)."""
    notes = []
    if outcome.stand_ins:
        notes.append(f"{', '.join(outcome.stand_ins)} {'is' if len(outcome.stand_ins) == 1 else 'are'} not "
                     "installed where this was graded: the notebook's imports got a stand-in that does nothing "
                     "(plots and progress bars are skipped; no points depend on them)")
    restored = sorted({name for run in outcome.probes.values() for name in run.restored})
    if restored:
        notes.append(f"the submission replaced {', '.join(restored[:6])}{', ...' if len(restored) > 6 else ''}; "
                     "the grader put the originals back before checking")
    for index, unit in enumerate(submission.units):
        state = outcome.units.get(index)
        error = state.error if state else None
        if error is not None and error.filename and error.is_a("OSError"):
            notes.append(f"{unit.label} tried to open {error.filename}, which the sandbox does not show: while "
                         "grading, only Python, its libraries and a private /tmp exist; work on the data your "
                         "functions are given")
    calls = {name for unit in submission.units for name in re.findall(r"\b(\w+)\s*\(", unit.source)}
    for exercise in exercises:
        for name, note in getattr(exercise, "source_notes", {}).items():
            if name in calls:
                notes.append(note)
    return notes
