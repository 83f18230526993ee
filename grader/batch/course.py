"""The course's rules for a batch: the assignment, each student's lateness and the
instructor's adjustments, applied to every row on every run.

``grader batch`` caches only raw results (what the engine computed from the file's
bytes). :class:`CourseRules` turns a row's raw result into the one its feedback, its
``results/<student>.json`` and every export show (:func:`grader.scoring.apply_assignment`),
fresh on each run: changing the deadline, the policy, an extension or
``DIR/adjustments.csv`` and running again changes every grade it touches, without
grading any code again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Sequence

from grader.adjustments import FILENAME as ADJUSTMENTS, assign_to_rows, read_adjustments, student_ids
from grader.assignment import Assignment, catalogue_assignment
from grader.lateness import assess
from grader.scoring import apply_assignment
from grader.states import LateStatus
from grader.when import parse_when


class CourseRules:
    """``rules.final(sub, raw)``: the row's result under the assignment (``raw`` itself
    when there is no assignment file and no adjustment for the student)."""

    def __init__(self, assignment: Assignment | None, exercises, out: Path, subs: Sequence, pm=None):
        self.explicit = assignment is not None
        self.assignment = assignment or catalogue_assignment(exercises)
        self.pm = pm
        self.path = Path(out) / ADJUSTMENTS
        adjustments = read_adjustments(self.path, [e.id for e in exercises])
        self.by_key, self.unmatched = assign_to_rows(adjustments, subs, self.path)

    def applies(self, key: str) -> bool:
        return self.explicit or key in self.by_key

    def final(self, sub, raw: dict[str, Any] | None) -> dict[str, Any] | None:
        if raw is None or not self.applies(sub.key):
            return raw
        return apply_assignment(raw, self.assignment, lateness=self.lateness(sub) if self.explicit else None,
                                adjustments=self.by_key.get(sub.key, []))

    def lateness(self, sub) -> dict[str, Any]:
        a = self.assignment
        submitted = _time(sub, a)
        extension = a.extension_for(student_ids(sub))
        facts = assess(submitted, a.deadline, a.late, self.pm, extension=extension.deadline if extension else None,
                       time_source=getattr(sub, "time_source", ""), marked_late=sub.late)
        if sub.late and facts["status"] == LateStatus.ON_TIME and extension is None:
            facts["note"] = ("the LMS marks it late, but by the assignment's deadline it is on time: check the "
                             "deadline and lms_timezone")
        elif sub.late is False and facts["status"] == LateStatus.LATE and sub.extra.get("canvas_submission_id"):
            facts["note"] = "late by the assignment's deadline, though Canvas did not mark it late"
        return facts

    def notes(self) -> list[str]:
        """What the instructor must know about the rules themselves (summary and batch.json)."""
        return [f"{self.path.name}, line {a.line}: no student {a.student!r} in this batch; the adjustment "
                f"({a.exercise} {a.written}) was not applied" for a in self.unmatched]


def _time(sub, assignment: Assignment):
    text = getattr(sub, "submitted_at", "")
    if not text:
        return None
    try:
        return parse_when(text, assignment.lms_zone())
    except ValueError:
        return None


COLUMNS = ("raw_score", "raw_max_score", "adjustment", "penalty", "final_score", "submitted_at", "lateness")


def course_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The course columns of one export record: the grader's raw score, the sum of the
    adjustments, the late penalty and the final score (all numbers; "" for a row without
    a score), when it was handed in and its lateness (status: message)."""
    batch = record["batch"]
    info = record.get("assignment") or {}
    lateness = info.get("lateness") or batch.get("lateness") or {}
    status = lateness.get("status") or ""
    message = lateness.get("message") or ""
    shown = f"{status}: {message}" if status and message else status
    if lateness.get("note"):
        shown += f" ({lateness['note']})"
    row = {"submitted_at": batch.get("submitted_at") or "", "lateness": shown}
    if not batch["has_score"]:
        return {**row, "raw_score": "", "raw_max_score": "", "adjustment": "", "penalty": "", "final_score": ""}
    adjustment = sum(float(a.get("change", 0)) for a in info.get("adjustments", []))
    return {**row, "raw_score": record.get("raw_score", record["score"]),
            "raw_max_score": record.get("raw_max_score", record["max_score"]), "adjustment": adjustment,
            "penalty": info.get("penalty", 0), "final_score": record["score"]}


def plain_number(value: Any) -> Any:
    """A number for a CSV cell as a number (``-2``, ``1.5``), so that a negative one is
    not taken for a formula; "" stays ""."""
    if value == "" or value is None:
        return ""
    x = round(float(value), 4)
    return int(x) if x.is_integer() else x
