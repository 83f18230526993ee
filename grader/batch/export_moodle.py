"""Exporter plugin: ``moodle_grading_worksheet.csv``, for Moodle's "Upload grading worksheet".

Written when the submissions came in Moodle's layout (whose folder names carry each
participant id). The columns are those of the worksheet Moodle offers for download;
``Identifier`` is ``Participant <id>``, which is what Moodle matches on. Rows without a
score (``grader_error``, ``not_graded``) are left out. ``Feedback comments`` holds a
one-line summary per exercise (Moodle shows it when feedback comments are enabled), and
the instructor's adjustments and the late penalty with their reasons. ``Grade`` is the
final score; ``Raw score``, ``Late penalty``, ``Adjustment`` and ``Lateness`` follow
(Moodle's upload leaves columns it does not map alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grader
from grader.batch.export_grades import number, write_csv

FILENAME = "moodle_grading_worksheet.csv"
HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
          "Last modified (submission)", "Last modified (grade)", "Feedback comments",
          "Raw score", "Late penalty", "Adjustment", "Lateness"]


def _comment(r: dict[str, Any]) -> str:
    parts = [f"{e['id']}: {number(e['score'])}/{number(e['max_score'])}" for e in r.get("exercises", [])]
    text = "; ".join(parts)
    info = r.get("assignment") or {}
    for a in info.get("adjustments", []):
        text += f". {a['exercise']} {a['points']} by the instructor: {a['reason']}"
    if info.get("penalty"):
        text += f". Late penalty: -{number(info['penalty'])} ({(info.get('lateness') or {}).get('message', '')})"
    if r["batch"]["status"] != "graded" and r["batch"]["message"]:
        text += f". {r['batch']['status']}: {r['batch']['message'][:300]}"
    return text


def _extra(record: dict[str, Any]) -> list[str]:
    from grader.batch.course import course_columns, plain_number

    c = course_columns(record)
    return [plain_number(c["raw_score"]), plain_number(c["penalty"]), plain_number(c["adjustment"]), c["lateness"]]


@grader.hookimpl
def grader_export_batch(results: Sequence[dict[str, Any]], out_dir: Path):
    rows = [r for r in results if r["batch"]["layout"] == "moodle" and r["batch"]["lms_id"]]
    if not rows:
        return []
    lines = [[f"Participant {r['batch']['lms_id']}", r["batch"]["name"], r["batch"]["email"], "", number(r["score"]),
              number(r["max_score"]), "Yes", "", "", _comment(r), *_extra(r)] for r in rows if r["batch"]["has_score"]]
    return [write_csv(Path(out_dir) / FILENAME, HEADER, lines)]
