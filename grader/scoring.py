"""An assignment's score from a raw grading result: weights, then the instructor's
adjustments, then the late penalty.

The engine's result (``grader check --format json``) counts each exercise's own points
(10 each): the *raw* score. :func:`apply_assignment` returns a new result object in which
``score`` and ``max_score`` are the assignment's points (docs/assignments.md):

1. every check's points scaled to the assignment's points for its exercise (or for the
   check itself), and each exercise's score the sum of its checks;
2. each adjustment for the student (``+2``, ``-1``, or ``7`` to set the points) applied to
   its exercise, never below 0;
3. the late penalty (a share of the adjusted score, or of the points possible), and 0
   after the last date for credit.

The raw figures stay alongside (``raw_score``, ``raw_max_score``; ``raw_score`` and
``raw_points`` in each exercise and check) and the ``assignment`` object tells what was
applied. It is a pure function of plain data, recomputed on every run from the cached
raw result: nothing it computes is ever cached.
"""

from __future__ import annotations

import copy
from typing import Any
from collections.abc import Sequence

from grader.adjustments import Adjustment
from grader.assignment import Assignment, ExercisePoints
from grader.states import LateStatus
from grader.when import percent

SCORE_MEANING = ("score and max_score are the assignment's points: weighted, adjusted and after the late penalty "
                 "(what an LMS imports); raw_score and raw_max_score are the grader's own points (each exercise's "
                 "own, 10 per exercise) before any of it")


def _round(x: float) -> float | int:
    x = round(float(x), 4)
    return int(x) if x.is_integer() else x


def apply_assignment(result: dict[str, Any], assignment: Assignment, *, lateness: dict[str, Any] | None = None,
                     adjustments: Sequence[Adjustment] = ()) -> dict[str, Any]:
    """The result with the assignment applied (a new object; ``result`` is not changed)."""
    final = copy.deepcopy(result)
    final["raw_score"], final["raw_max_score"] = result.get("score", 0), result.get("max_score", 0)
    for exercise in final.get("exercises", []):
        points = assignment.exercise(exercise["id"])
        if points is not None:
            _weigh(exercise, points)
    weighted = sum(float(e["score"]) for e in final.get("exercises", []))
    applied = [_adjust(final, a) for a in adjustments]
    adjusted = sum(float(e["score"]) for e in final.get("exercises", []))
    maximum = sum(float(e["max_score"]) for e in final.get("exercises", []))
    lateness = lateness or {"status": LateStatus.NOT_ASSESSED if assignment.deadline else LateStatus.NO_DEADLINE,
                            "fraction": 0.0, "message": ""}
    base = maximum if assignment.late.get("of") == "max_score" else adjusted
    penalty = min(adjusted, float(lateness.get("fraction") or 0.0) * base)
    score = max(0.0, adjusted - penalty)
    final["score"], final["max_score"] = _round(score), _round(maximum)
    final["assignment"] = {**assignment.summary(), "scores": SCORE_MEANING, "weighted_score": _round(weighted),
                           "adjustments": applied, "adjusted_score": _round(adjusted), "penalty": _round(penalty),
                           "final_score": _round(score), "max_score": _round(maximum), "lateness": dict(lateness)}
    final["notes"] = _explain(final, assignment) + list(final.get("notes", []))
    return final


def _weigh(exercise: dict[str, Any], points: ExercisePoints) -> None:
    raw_score, raw_max = float(exercise.get("score", 0)), float(exercise.get("max_score", 0))
    exercise["raw_score"], exercise["raw_max_score"] = exercise.get("score", 0), exercise.get("max_score", 0)
    fallback = points.points / raw_max if raw_max else 0.0
    checks = exercise.get("checks", [])
    for check in checks:
        weight = points.checks.get(check["id"])
        maximum = float(check.get("max_points", 0))
        factor = (weight / maximum if maximum else 0.0) if weight is not None else fallback
        check["raw_points"], check["raw_max_points"] = check.get("points", 0), check.get("max_points", 0)
        check["points"] = _round(float(check.get("points", 0)) * factor)
        check["max_points"] = _round(weight if weight is not None else maximum * fallback)
    exercise["score"] = _round(sum(float(c["points"]) for c in checks) if checks else raw_score * fallback)
    exercise["max_score"] = _round(points.points)


def _adjust(result: dict[str, Any], adjustment: Adjustment) -> dict[str, Any]:
    exercise = next((e for e in result.get("exercises", []) if e["id"] == adjustment.exercise), None)
    record = adjustment.to_dict()
    if exercise is None:  # not graded in this run (-e): nothing to adjust
        record["change"] = 0
        return record
    before = float(exercise["score"])
    after = max(0.0, before + adjustment.points if adjustment.mode == "add" else adjustment.points)
    exercise["score"] = _round(after)
    record["change"] = _round(after - before)
    exercise.setdefault("adjustments", []).append(record)
    return record


def _explain(final: dict[str, Any], assignment: Assignment) -> list[str]:
    """What the student reads about the assignment, before the other notes."""
    info = final["assignment"]
    lines = [f"{assignment.title}: scored in the assignment's points ("
             + ", ".join(f"{e.id} {_round(e.points)}" for e in assignment.exercises)
             + f"); the grader's own score was {final['raw_score']} / {final['raw_max_score']}"]
    for a in info["adjustments"]:
        verb = f"set to {a['points']} points ({_round(a['change']):+g})" if a["mode"] == "set" else \
            f"{a['points']} points"
        lines.append(f"{a['exercise']}: {verb} by your instructor: {a['reason']}")
    lateness = info["lateness"]
    if lateness.get("message"):
        cost = f": −{info['penalty']} points" if info["penalty"] else ""
        lines.append(f"Lateness: {lateness['message']}{cost}")
    if info["penalty"] or info["adjustments"]:
        share = f" ({percent(info['penalty'] / info['adjusted_score'])} off)" if info["penalty"] and \
            info["adjusted_score"] else ""
        lines.append(f"Final score: {info['final_score']} / {info['max_score']}{share}")
    return lines


def assess_and_apply(result: dict[str, Any], assignment: Assignment, submitted_at: str | None = None,
                     student: str | None = None, pm=None) -> dict[str, Any]:
    """What ``grader check --assignment FILE [--submitted-at WHEN] [--student ID]`` prints:
    the assignment applied, and the late policy when the submission time is given."""
    from grader.errors import GraderError
    from grader.lateness import assess
    from grader.when import parse_when

    lateness = None
    if submitted_at:
        try:
            moment = parse_when(submitted_at, assignment.zone())
        except ValueError as exc:
            raise GraderError(f"--submitted-at: {exc}") from None
        extension = assignment.extension_for({student}) if student else None
        lateness = assess(moment, assignment.deadline, assignment.late, pm,
                          extension=extension.deadline if extension else None, time_source="--submitted-at")
    return apply_assignment(result, assignment, lateness=lateness)
