"""`grader batch --assignment`: weights, a deadline, 10 % a day capped at 30 %, an
extension and the instructor's adjustments give each student's raw score, penalty and
final score in grades.csv, the Canvas and Moodle imports and the feedback, for every
layout that carries a submission time (Canvas and Moodle zips, a Moodle grading
worksheet, Gradescope's metadata). A changed deadline or adjustment changes them on the
next run without grading anything again; a time that is not known is said, not guessed."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, notebook
from grader.batch.core import BatchOptions, run_batch

REFERENCE = (REPO / "reference" / "tensor_ops.py").read_text()
HONEST = notebook(REFERENCE)  # 10 / 10, 20 in the assignment
BUGGY = notebook(REFERENCE.replace("correction=0", "correction=1"))  # 8 / 10, 16 in the assignment
ASSIGNMENT = """\
title = "Homework 1"
lms_column = "Homework 1 (777)"
deadline = "{deadline}"
timezone = "Europe/Berlin"
extensions = "extensions.csv"

[late]
policy = "per_day"
penalty = "10%"
cap = "30%"

[exercises.tensor_ops]
points = 20
"""
#: who hands in what, when (Berlin time); the deadline is 2025-03-01 23:59
STUDENTS = {
    "ann": (101, HONEST, (2025, 3, 1, 20, 0, 0)),  # on time; the instructor takes 2 points off
    "bob": (102, HONEST, (2025, 3, 3, 10, 0, 0)),  # 1 day 10 h late: 2 days, 20 % off
    "cat": (103, BUGGY, (2025, 3, 3, 10, 0, 0)),  # late too, but her extension runs to 2025-03-04 12:00
    "dan": (104, HONEST, (2025, 3, 6, 10, 0, 0)),  # 5 days late: 50 %, capped at 30 %
}
#: student -> (raw, adjustment, penalty, final) in the assignment's points
EXPECTED = {"ann": (10, -2, 0, 18), "bob": (10, 0, 4, 16), "cat": (8, 1, 0, 17), "dan": (10, 0, 6, 14)}
ADJUSTMENTS = "student,exercise,points,reason\n101,tensor_ops,-2,part of mask_mean was copied\n" \
              "103,tensor_ops,+1,regrade: tolerance\n"


def canvas_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (uid, data, when) in STUDENTS.items():
            late = "_late" if when > (2025, 3, 2) else ""
            zf.writestr(zipfile.ZipInfo(f"{name}{late}_{uid}_{9000 + uid}_hw1.ipynb", date_time=when), data)
    return path


def moodle_zip(path: Path, worksheet: bool) -> Path:
    """Moodle's download: folders per participant; with ``worksheet``, the grading
    worksheet beside them gives the times (and the zip's own times are all wrong)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, (uid, data, when) in STUDENTS.items():
            member_time = (2025, 1, 1, 0, 0, 0) if worksheet else when
            zf.writestr(zipfile.ZipInfo(f"{name.title()} Doe_{uid}_assignsubmission_file_/hw1.ipynb",
                                        date_time=member_time), data)
        if worksheet:
            lines = ["Identifier,Full name,Email address,Status,Grade,Last modified (submission)"]
            for name, (uid, _, when) in STUDENTS.items():
                from datetime import datetime

                shown = datetime(*when).strftime("%A, %d %B %Y, %I:%M %p")
                lines.append(f'Participant {uid},{name.title()} Doe,{name}@x.edu,Submitted,,"{shown}"')
            zf.writestr("grading_worksheet.csv", "\n".join(lines) + "\n")
    return path


def gradescope_folder(root: Path) -> Path:
    metadata = ["---"]
    for name, (uid, data, when) in STUDENTS.items():
        folder = root / f"submission_{uid}"
        folder.mkdir(parents=True)
        (folder / "hw1.ipynb").write_text(data)
        y, mo, d, h, mi, s = when
        metadata += [f"submission_{uid}:", "  :submitters:", f"  - :name: {name.title()} Doe", f"    :sid: '{uid}'",
                     f"    :email: {name}@x.edu", f"  :created_at: {y}-{mo:02d}-{d:02d} {h - 1:02d}:{mi:02d}:{s:02d}"
                                                  f".000000000 +00:00"]  # Gradescope writes UTC here
    (root / "submission_metadata.yml").write_text("\n".join(metadata) + "\n")
    return root


def setup_course(folder: Path, deadline: str = "2025-03-01 23:59") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "extensions.csv").write_text("student,deadline,reason\n103,2025-03-04 12:00,illness\n")
    path = folder / "assignment.toml"
    path.write_text(ASSIGNMENT.format(deadline=deadline))
    return path


def run(source: Path, out: Path, toml: Path, adjustments: str = ADJUSTMENTS):
    out.mkdir(parents=True, exist_ok=True)
    (out / "adjustments.csv").write_text(adjustments)
    return run_batch(BatchOptions(source=source, out=out, exercises=["tensor_ops"], jobs=2, timeout=60,
                                  assignment=str(toml), progress="none"))


def rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def by_name(table: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Rows keyed by the first name, whatever the layout calls the student."""
    return {next(n for n in STUDENTS if n in (k + r.get("name", "")).lower()): r for k, r in table.items()}


def assert_grades(out: Path) -> None:
    got = by_name(rows(out))
    assert set(got) == set(STUDENTS)
    for name, (raw, adjustment, penalty, final) in EXPECTED.items():
        row = got[name]
        assert (float(row["raw_score"]), float(row["adjustment"]), float(row["penalty"]),
                float(row["final_score"])) == (raw, adjustment, penalty, final), (name, row)
        assert float(row["score"]) == final and row["max_score"] == "20" and row["raw_max_score"] == "10"
    assert got["bob"]["lateness"].startswith("late: handed in 1 day 10 h after the deadline")
    assert "20 % off" in got["bob"]["lateness"]
    assert got["cat"]["lateness"] == "on_time" and got["ann"]["lateness"] == "on_time"
    assert "capped at 30 %" in got["dan"]["lateness"]
    feedback = {n: (out / "feedback" / f"{k}.html").read_text() for n, k in
                ((n, k) for k, r in rows(out).items() for n in STUDENTS if n in (k + r["name"]).lower())}
    assert "part of mask_mean was copied" in feedback["ann"] and "Total: 18 / 20" in feedback["ann"]
    assert "2 days late × 10 % = 20 % off" in feedback["bob"] and "Total: 16 / 20" in feedback["bob"]
    summary = (out / "summary.html").read_text()
    assert "Late penalty" in summary and "capped at 30 %" in summary


@pytest.fixture(scope="module")
def canvas(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course-canvas")
    toml = setup_course(tmp / "course")
    source, out = canvas_zip(tmp / "canvas.zip"), tmp / "graded"
    report = run(source, out, toml)
    return {"tmp": tmp, "toml": toml, "source": source, "out": out, "report": report}


def test_canvas_grades_and_gradebook(canvas):
    assert canvas["report"].graded == 4
    out = canvas["out"]
    assert_grades(out)
    with open(out / "canvas_gradebook.csv", newline="", encoding="utf-8") as f:
        book = list(csv.reader(f))
    assert book[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1 (777)", "Raw score",
                       "Late penalty", "Adjustment", "Lateness"]
    assert book[1][5] == "20" and book[1][6:] == ["(read only)"] * 4
    final = {line[1]: (line[5], line[6], line[7], line[8]) for line in book[2:]}
    assert final == {"101": ("18", "10", "0", "-2"), "102": ("16", "10", "4", "0"), "103": ("17", "8", "0", "1"),
                     "104": ("14", "10", "6", "0")}
    result = json.loads((out / "results" / "bob.json").read_text())
    assert result["assignment"]["lateness"]["time_source"] == "the file time in the Canvas zip"
    assert result["assignment"]["lateness"]["submitted_at"] == "2025-03-03T10:00:00+01:00"


def test_a_changed_deadline_or_adjustment_recomputes_without_regrading(canvas):
    out, source = canvas["out"], canvas["source"]
    setup_course(canvas["toml"].parent, deadline="2025-03-02 23:59")  # one day more for everybody
    report = run(source, out, canvas["toml"], ADJUSTMENTS.replace("-2", "+1"))
    assert report.graded == 0  # taken from the cache: nothing is graded again
    got = by_name(rows(out))
    assert (got["bob"]["penalty"], got["bob"]["final_score"]) == ("2", "18")  # 1 day late now
    assert (got["dan"]["penalty"], got["dan"]["final_score"]) == ("6", "14")  # 4 days: still capped
    assert got["ann"]["final_score"] == "21" and got["ann"]["adjustment"] == "1"  # a bonus may pass the maximum
    assert json.loads((out / "results" / "bob.json").read_text())["score"] == 18
    # and back: no stale penalty survives either change
    setup_course(canvas["toml"].parent)
    assert run(source, out, canvas["toml"]).graded == 0
    assert_grades(out)


def test_moodle_zip_times_and_the_worksheet(tmp_path):
    toml = setup_course(tmp_path / "course")
    moodle_out = tmp_path / "moodle-zip"
    run(moodle_zip(tmp_path / "moodle.zip", worksheet=False), moodle_out, toml)
    assert_grades(moodle_out)
    with open(moodle_out / "moodle_grading_worksheet.csv", newline="", encoding="utf-8") as f:
        sheet = {r["Identifier"]: r for r in csv.DictReader(f)}
    got = {k: (r["Grade"], r["Raw score"], r["Late penalty"], r["Adjustment"]) for k, r in sheet.items()}
    assert got == {"Participant 101": ("18", "10", "0", "-2"), "Participant 102": ("16", "10", "4", "0"),
                   "Participant 103": ("17", "8", "0", "1"), "Participant 104": ("14", "10", "6", "0")}
    assert "part of mask_mean was copied" in sheet["Participant 101"]["Feedback comments"]
    assert "Late penalty: -4" in sheet["Participant 102"]["Feedback comments"]
    # the same files with Moodle's grading worksheet: its times win over the zip's (all wrong here)
    worksheet_out = tmp_path / "moodle-worksheet"
    worksheet_out.mkdir()
    shutil.copytree(moodle_out / ".grader-batch" / "cache", worksheet_out / ".grader-batch" / "cache")
    report = run(moodle_zip(tmp_path / "moodle2.zip", worksheet=True), worksheet_out, toml)
    assert report.graded == 0 and report.total == 4  # the worksheet is metadata, not a student
    assert_grades(worksheet_out)
    result = json.loads(next((worksheet_out / "results").glob("Bob*.json")).read_text())
    assert result["assignment"]["lateness"]["time_source"] == "the Moodle grading worksheet"

    # Gradescope: the same bytes under the same file name, so the cache is shared again
    gradescope_out = tmp_path / "gradescope"
    gradescope_out.mkdir()
    shutil.copytree(moodle_out / ".grader-batch" / "cache", gradescope_out / ".grader-batch" / "cache")
    report = run(gradescope_folder(tmp_path / "gs"), gradescope_out, toml)
    assert report.graded == 0 and report.layout == "gradescope"
    assert_grades(gradescope_out)
    bob = json.loads((gradescope_out / "results" / "102.json").read_text())["assignment"]["lateness"]
    assert bob["submitted_at"] == "2025-03-03T09:00:00+00:00" and "created_at" in bob["time_source"]


def test_no_time_known_is_said_not_guessed(tmp_path):
    """A Canvas export unzipped into a folder has no trustworthy times (copying changes
    them): no penalty, and the row and the summary say so. No grading needed: the rules
    are applied to a raw result directly."""
    from grader.batch.course import CourseRules
    from grader.batch.layouts import discover
    from grader.engine import exercise_registry
    from grader.assignment import load_assignment

    folder = tmp_path / "unzipped"
    folder.mkdir()
    (folder / "bob_late_102_9102_hw1.ipynb").write_text(HONEST)
    inventory = discover(folder, tmp_path / "staging")
    registry = exercise_registry()
    assignment = load_assignment(setup_course(tmp_path / "course"), registry)
    rules = CourseRules(assignment, [registry["tensor_ops"]], tmp_path / "out", inventory.submissions)
    bob = inventory.submissions[0]
    assert bob.submitted_at == "" and bob.late
    raw = {"score": 10, "max_score": 10, "notes": [], "exercises": [
        {"id": "tensor_ops", "title": "t", "status": "graded", "score": 10, "max_score": 10, "checks": []}]}
    final = rules.final(bob, raw)
    lateness = final["assignment"]["lateness"]
    assert lateness["status"] == "unknown" and final["score"] == 20 and final["assignment"]["penalty"] == 0
    assert "not known" in lateness["message"] and "marks it late" in lateness["message"]
    assert any("not known" in n for n in final["notes"])


def test_gradescope_autograder_applies_the_assignment(tmp_path):
    """`grader gradescope build --assignment`: the zip carries the assignment and its
    extensions; inside Gradescope the score is the final one, late by `created_at`."""
    from grader.batch.gradescope import build_autograder, run_autograder

    toml = setup_course(tmp_path / "course")
    zip_path = build_autograder(tmp_path / "autograder.zip", assignment=toml)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        assert {"assignment/assignment.toml", "assignment/extensions.csv"} <= set(zf.namelist())
        zf.extractall(root / "source")
    config = json.loads((root / "source" / "grader_config.json").read_text())
    assert config["exercises"] == ["tensor_ops"] and config["assignment"] == "assignment/assignment.toml"
    (root / "submission").mkdir()
    (root / "submission" / "hw1.ipynb").write_text(HONEST)
    (root / "submission_metadata.json").write_text(json.dumps({
        "created_at": "2025-03-03T10:00:00.000000+01:00", "users": [{"name": "Bob", "sid": "102", "email": "b@x"}]}))
    data = run_autograder(root)
    assert data["score"] == 16  # 20 points, 2 days late: 20 % off
    assert sum(t["max_score"] for t in data["tests"]) == 20
    assert "2 days late × 10 % = 20 % off" in data["output"]
    (root / "submission_metadata.json").write_text(json.dumps({
        "created_at": "2025-03-03T10:00:00+01:00", "users": [{"name": "Cat", "sid": "103"}]}))
    assert run_autograder(root)["score"] == 20  # 103 has an extension


def test_a_student_cannot_hand_in_the_worksheet(tmp_path):
    """Moodle without folders puts students' files at the top: a CSV a student hands in
    is their file, never the worksheet that gives everyone's submission time."""
    from grader.batch.layouts import discover

    forged = "Identifier,Last modified (submission)\nParticipant 201,\"Monday, 1 January 2024, 10:00 AM\"\n"
    folder = tmp_path / "moodle"
    folder.mkdir()
    (folder / "Jane Doe_201_assignsubmission_file_hw1.ipynb").write_text(HONEST)
    (folder / "Jane Doe_201_assignsubmission_file_times.csv").write_text(forged)
    (folder / "Bob Roe_202_assignsubmission_file_hw1.ipynb").write_text(HONEST)
    inventory = discover(folder, tmp_path / "staging")
    assert inventory.layout == "moodle" and inventory.metadata == []
    assert all(s.submitted_at == "" for s in inventory.submissions)
    (folder / "worksheet.csv").write_text(forged)  # the instructor's, at the top of the export
    inventory = discover(folder, tmp_path / "staging")
    assert inventory.metadata == ["worksheet.csv"]
    jane = next(s for s in inventory.submissions if s.lms_id == "201")
    assert (jane.submitted_at, jane.time_source) == ("2024-01-01T10:00:00", "the Moodle grading worksheet")


def test_a_row_without_a_result_has_the_assignment_points(tmp_path):
    """A grader error (here: its feedback could not be rendered) scores nothing, but its
    max_score is the assignment's, like every other row's."""
    import grader
    from grader.plugins import make_plugin_manager

    class Breaks:
        @grader.hookimpl
        def grader_render_report(self, result, fmt, color):
            if fmt == "html" and "broken" in result["submission"]:
                raise RuntimeError("the feedback template broke")

    source = tmp_path / "class"
    source.mkdir()
    (source / "honest.py").write_text(REFERENCE)
    (source / "broken.py").write_text(REFERENCE)
    (tmp_path / "assignment.toml").write_text('title = "HW"\n[exercises.tensor_ops]\npoints = 20\n')
    pm = make_plugin_manager(autoload=False)
    pm.register(Breaks(), name="breaks")
    out = tmp_path / "out"
    run_batch(BatchOptions(source=source, out=out, assignment=str(tmp_path / "assignment.toml"), jobs=1,
                           progress="none"), pm=pm)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["broken"]["status"] == "grader_error" and rows["broken"]["score"] == "", rows["broken"]
    assert rows["broken"]["max_score"] == rows["honest"]["max_score"] == "20"
