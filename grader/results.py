"""The result objects of grading, and their plain-JSON form (docs/interfaces.md).

Renderers, exporters and ``grader batch`` read only the plain form (:meth:`GradeResult.to_dict`);
statuses are :mod:`grader.states` enums, written as their string values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import grader
from grader.states import CheckStatus, ExerciseStatus, StopKind


@dataclass
class CheckResult:
    id: str
    name: str
    status: CheckStatus
    points: float
    max_points: float
    message: str = ""
    hint: str | None = None


@dataclass
class ExerciseResult:
    id: str
    title: str
    status: ExerciseStatus
    score: float
    max_score: float
    message: str = ""
    checks: list[CheckResult] = field(default_factory=list)


@dataclass
class Stop:
    """Something the sandbox stopped: a cell, a probe or the whole run (``where``)."""

    kind: StopKind
    where: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "where": self.where, "message": self.message}


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
    stops: list[Stop] = field(default_factory=list)
    grader_version: str = grader.__version__

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_score for e in self.exercises), 4)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``grader check --format json`` (fields are added, never renamed)."""
        return {"grader_version": self.grader_version, "submission": self.submission, "device": self.device,
                "score": _number(self.score), "max_score": _number(self.max_score),
                "exercises": [_exercise_dict(e) for e in self.exercises],
                "notes": self.notes, "cells": self.cells, "sandbox": self.sandbox, "output": self.output,
                "seconds": round(self.seconds, 3), "resources": self.resources,
                "stops": [s.to_dict() for s in self.stops]}


def _number(x: float) -> float | int:
    x = round(x, 4)
    return int(x) if float(x).is_integer() else x


def _exercise_dict(e: ExerciseResult) -> dict[str, Any]:
    data = asdict(e)
    data["status"] = e.status.value
    data["score"], data["max_score"] = _number(e.score), _number(e.max_score)
    for check, result in zip(data["checks"], e.checks):
        check["status"] = result.status.value
        check["points"], check["max_points"] = _number(check["points"]), _number(check["max_points"])
    return data
