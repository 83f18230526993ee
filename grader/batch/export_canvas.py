"""Exporter plugin: ``canvas_gradebook.csv``, for Canvas's Grades > Import.

Written when the submissions came in Canvas's layout (which carries each student's Canvas
user id). Columns: ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section`` and
one assignment column titled by the assignment's ``lms_column`` (default: its title; use
the title Canvas shows, e.g. ``Homework 1 (12345)``, to update that assignment) holding
the final score; the second line gives the points possible. Then ``Raw score``, ``Late
penalty``, ``Adjustment`` and ``Lateness``, marked ``(read only)`` on the points-possible
line as Canvas marks its own computed columns, so that an import does not make them
assignments. Rows without a score (``grader_error``, ``not_graded``) are left out so that
Canvas keeps what it has for those students.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grader
from grader.batch.export_grades import number, write_csv

FILENAME = "canvas_gradebook.csv"
EXTRA = ["Raw score", "Late penalty", "Adjustment", "Lateness"]
READ_ONLY = "(read only)"


@grader.hookimpl
def grader_export_batch(results: Sequence[dict[str, Any]], out_dir: Path):
    rows = [r for r in results if r["batch"]["layout"] == "canvas" and r["batch"]["lms_id"]]
    if not rows:
        return []
    assignment = rows[0]["batch"]["assignment"]
    max_score = number(max(float(r["max_score"]) for r in rows))
    lines = [["Points Possible", "", "", "", "", max_score, *[READ_ONLY] * len(EXTRA)]]
    lines += [[r["batch"]["name"], r["batch"]["lms_id"], "", "", "", number(r["score"]), *_extra(r)]
              for r in rows if r["batch"]["has_score"]]
    return [write_csv(Path(out_dir) / FILENAME, ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                                                  assignment, *EXTRA], lines)]


def _extra(record: dict[str, Any]) -> list[str]:
    from grader.batch.course import course_columns, plain_number

    c = course_columns(record)
    return [plain_number(c["raw_score"]), plain_number(c["penalty"]), plain_number(c["adjustment"]), c["lateness"]]
