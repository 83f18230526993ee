"""Exporter plugin: ``grades.csv``, one row per submission (columns in docs/interfaces.md).

Columns: ``student``, ``submission``, ``score``, ``max_score``, one per exercise id,
``status``, ``message``, then (added) ``name``, ``lms_id``, ``late``, ``notes``, and the
course columns ``raw_score``, ``raw_max_score``, ``adjustment``, ``penalty``,
``final_score``, ``submitted_at``, ``lateness`` (docs/assignments.md: with an assignment,
``score`` is its final score, the one to import). Rows without a result
(``grader_error``, ``not_graded``) leave the score columns empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import grader
from grader.cache import write_text_atomic
from grader.text import printable

FILENAME = "grades.csv"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell as a spreadsheet (or a terminal showing the file) should get it: a student's
    file name or exception text can be anything, so text is cleaned (lone surrogates as
    U+FFFD), its control characters are shown escaped (tab and newline kept: the CSV
    quoting holds them) and text that a spreadsheet would run as a formula is prefixed
    with an apostrophe. Numbers are left alone; anything else is written as text."""
    if value is None or isinstance(value, (int, float)):
        return value
    value = printable(str(value))
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def number(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        x = round(float(value), 4)
    except (TypeError, ValueError, OverflowError):
        return ""
    return str(int(x)) if x.is_integer() else repr(x)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    write_text_atomic(path, buffer.getvalue())
    return path


def exercise_ids(results: Sequence[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for r in results:
        for e in r.get("exercises", []):
            if e["id"] not in ids:
                ids.append(e["id"])
    return ids


def _cell(value: Any) -> Any:
    from grader.batch.course import plain_number

    return plain_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


@grader.hookimpl
def grader_export_batch(results: Sequence[dict[str, Any]], out_dir: Path):
    ids = exercise_ids(results)
    from grader.batch.course import COLUMNS, course_columns

    header = ["student", "submission", "score", "max_score", *ids, "status", "message", "name", "lms_id", "late",
              "notes", *COLUMNS]
    rows = []
    for r in results:
        batch = r["batch"]
        scored = batch["has_score"]
        per_exercise = {e["id"]: e for e in r.get("exercises", [])}
        rows.append([r["student"], r.get("submission", ""), number(r["score"]) if scored else "",
                     number(r["max_score"]),
                     *[number(per_exercise[i]["score"]) if scored and i in per_exercise else "" for i in ids],
                     batch["status"], batch["message"], batch["name"], batch["lms_id"],
                     "yes" if batch["late"] else "", "; ".join(batch["notes"]),
                     *[_cell(course_columns(r)[c]) for c in COLUMNS]])
    return [write_csv(Path(out_dir) / FILENAME, header, rows)]
