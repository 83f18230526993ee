"""Exporter plugin: ``grades.csv``, one row per submission (columns in INTERFACES.md).

Columns: ``student``, ``submission``, ``score``, ``max_score``, one per exercise id,
``status``, ``message``, then (added) ``name``, ``lms_id``, ``late``, ``notes``. Rows
without a result (``grader_error``, ``not_graded``) leave the score columns empty.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable, Sequence

import grader
from grader.cache import write_text_atomic

FILENAME = "grades.csv"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (a student's file or exception text
    can be anything) is prefixed with an apostrophe; numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def number(value: Any) -> str:
    if value is None or value == "":
        return ""
    x = round(float(value), 4)
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


@grader.hookimpl
def grader_export_batch(results: Sequence[dict[str, Any]], out_dir: Path):
    ids = exercise_ids(results)
    header = ["student", "submission", "score", "max_score", *ids, "status", "message", "name", "lms_id", "late",
              "notes"]
    rows = []
    for r in results:
        batch = r["batch"]
        scored = batch["has_score"]
        per_exercise = {e["id"]: e for e in r.get("exercises", [])}
        rows.append([r["student"], r.get("submission", ""), number(r["score"]) if scored else "",
                     number(r["max_score"]),
                     *[number(per_exercise[i]["score"]) if scored and i in per_exercise else "" for i in ids],
                     batch["status"], batch["message"], batch["name"], batch["lms_id"],
                     "yes" if batch["late"] else "", "; ".join(batch["notes"])])
    return [write_csv(Path(out_dir) / FILENAME, header, rows)]
