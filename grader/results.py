"""The result objects of grading, and their plain-JSON form (see INTERFACES.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import grader

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
GRADED, NOT_ATTEMPTED = "graded", "not_attempted"


@dataclass
class CheckResult:
    id: str
    name: str
    status: str
    points: float
    max_points: float
    message: str = ""
    hint: str | None = None


@dataclass
class ExerciseResult:
    id: str
    title: str
    status: str
    score: float
    max_score: float
    message: str = ""
    checks: list[CheckResult] = field(default_factory=list)


@dataclass
class GradeResult:
    submission: str
    device: str
    exercises: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    sandbox: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0
    resources: dict[str, Any] = field(default_factory=dict)
    grader_version: str = grader.__version__

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_score for e in self.exercises), 4)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of INTERFACES.md (fields may be added, never renamed)."""
        data = {"grader_version": self.grader_version, "submission": self.submission, "device": self.device,
                "score": _number(self.score), "max_score": _number(self.max_score),
                "exercises": [_exercise_dict(e) for e in self.exercises],
                "notes": self.notes, "cells": self.cells, "sandbox": self.sandbox, "output": self.output,
                "seconds": round(self.seconds, 3), "resources": self.resources}
        return data


def _number(x: float) -> float | int:
    x = round(x, 4)
    return int(x) if float(x).is_integer() else x


def _exercise_dict(e: ExerciseResult) -> dict[str, Any]:
    data = asdict(e)
    data["score"], data["max_score"] = _number(e.score), _number(e.max_score)
    for check in data["checks"]:
        check["points"], check["max_points"] = _number(check["points"]), _number(check["max_points"])
    return data
