"""Manual adjustments: an instructor adds or sets points for one student and exercise,
with a reason, in ``DIR/adjustments.csv`` beside the output of ``grader batch``.

Columns (a header line; any order): ``student`` (the ``student`` column of
``grades.csv``, or the LMS id, SID, e-mail or name), ``exercise`` (an exercise id of the
assignment), ``points`` (``+2`` or ``-1.5`` changes the exercise's points, ``7`` sets
them) and ``reason`` (required: the student reads it). Points are the assignment's.
The file is read on every run and never cached, so editing it and running again changes
the grades, the feedback and every export at once; an adjustment no student matches is
reported, never dropped in silence.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Sequence

from grader.errors import GraderError

FILENAME = "adjustments.csv"
COLUMNS = ("student", "exercise", "points", "reason")
_POINTS = re.compile(r"^([+-]?)\s*(\d+(?:\.\d+)?|\.\d+)$")


@dataclass(frozen=True)
class Adjustment:
    student: str
    exercise: str
    points: float  # the change (mode "add") or the new points (mode "set")
    mode: str  # "add" or "set"
    reason: str
    line: int

    @property
    def written(self) -> str:
        """The points as the instructor wrote them: ``+2``, ``-1.5``, ``7``."""
        return f"{self.points:+g}" if self.mode == "add" else f"{self.points:g}"

    def to_dict(self) -> dict:
        return {"student": self.student, "exercise": self.exercise, "points": self.written, "mode": self.mode,
                "reason": self.reason, "line": self.line}


def parse_points(text: str) -> tuple[float, str]:
    """``"+2"`` -> (2, "add"), ``"-1.5"`` -> (-1.5, "add"), ``"7"`` -> (7, "set")."""
    m = _POINTS.match(text.strip())
    if not m:
        raise ValueError(f"points must be a number (7 sets the points) or a change (+2, -1.5), not {text!r}")
    value = float(m.group(2))
    if m.group(1):
        return (value if m.group(1) == "+" else -value), "add"
    return value, "set"


def read_adjustments(path: Path, exercise_ids: Sequence[str]) -> list[Adjustment]:
    """The adjustments in ``path`` (none when it does not exist); a bad line is a
    :class:`GraderError` that names it."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _rows(csv.DictReader(f), path, exercise_ids)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GraderError(f"{path}: cannot read the adjustments ({exc})") from None


def _rows(reader: csv.DictReader, path: Path, exercise_ids: Sequence[str]) -> list[Adjustment]:
    columns = [(c or "").strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise GraderError(f"{path}, line 1: the adjustments need the columns {', '.join(COLUMNS)}; missing: "
                          f"{', '.join(missing)}")
    found = []
    for raw in reader:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        where = f"{path}, line {reader.line_num}"
        for column in COLUMNS:
            if not row.get(column):
                raise GraderError(f"{where}: the {column} is missing" + (
                    " (the student reads why their points changed)" if column == "reason" else ""))
        if row["exercise"] not in exercise_ids:
            raise GraderError(f"{where}: {row['exercise']!r} is not an exercise of this assignment "
                              f"({', '.join(exercise_ids)})")
        try:
            points, mode = parse_points(row["points"])
        except ValueError as exc:
            raise GraderError(f"{where}: {exc}") from None
        found.append(Adjustment(row["student"], row["exercise"], points, mode, row["reason"], reader.line_num))
    return found


def student_ids(sub) -> set[str]:
    """Every id a batch row's student may be named by in a CSV: the row's key, the LMS id,
    the SID, the e-mail and the name."""
    extra = getattr(sub, "extra", {}) or {}
    return {i for i in (sub.key, sub.lms_id, sub.email, sub.name, extra.get("gradescope_sid", "")) if i}


def matches(student: str, ids: Iterable[str]) -> bool:
    return student.casefold() in {i.casefold() for i in ids}


def assign_to_rows(adjustments: Sequence[Adjustment], subs: Sequence, path: Path) -> tuple[dict[str, list], list]:
    """Adjustments by row key, and those that match no row. One that matches several rows
    (two students of the same name) is a :class:`GraderError`."""
    by_key: dict[str, list[Adjustment]] = {}
    unmatched = []
    for adjustment in adjustments:
        hits = [s.key for s in subs if matches(adjustment.student, student_ids(s))]
        if len(hits) > 1:
            raise GraderError(f"{path}, line {adjustment.line}: {adjustment.student!r} names {len(hits)} students "
                              f"({', '.join(hits)}): use the student column of grades.csv")
        if hits:
            by_key.setdefault(hits[0], []).append(adjustment)
        else:
            unmatched.append(adjustment)
    return by_key, unmatched
