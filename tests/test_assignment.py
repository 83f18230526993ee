"""assignment.toml: loading, errors that name the line, the assignment's score from a raw
result (weights, adjustments, the late penalty), adjustments.csv, and the commands that
take --assignment (check, starter)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, notebook
from grader.adjustments import assign_to_rows, parse_points, read_adjustments
from grader.assignment import load_assignment, select_for
from grader.cli import main
from grader.engine import exercise_registry
from grader.errors import GraderError
from grader.plugins import make_plugin_manager
from grader.scoring import SCORE_MEANING, apply_assignment
from grader.states import LateStatus
from datetime import UTC

REFERENCE = (REPO / "reference" / "tensor_ops.py").read_text()
FULL = """\
title = "Homework 1"
lms_column = "Homework 1 (777)"
device = "cpu"
timeout = "5 minutes"
deadline = "2025-03-01 23:59"
timezone = "Europe/Berlin"
extensions = "extensions.csv"

[late]
policy = "per_day"
penalty = "10%"
grace = "15 minutes"
cap = "30%"
no_credit_after = "7 days"

[exercises.tensor_ops]
points = 20
timeout = 12

[exercises.broadcasting.checks]
"broadcast_shape.values" = 4
"""


@pytest.fixture(scope="module")
def registry():
    return exercise_registry(make_plugin_manager(autoload=False))


def write(folder: Path, text: str, name: str = "assignment.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_full_assignment(tmp_path, registry):
    write(tmp_path, "student,deadline,reason\nbob,2025-03-04 12:00,illness\n101,2025-03-03T12:00:00Z,\n",
          "extensions.csv")
    a = load_assignment(write(tmp_path, FULL), registry)
    assert (a.title, a.column, a.device, a.timeout) == ("Homework 1", "Homework 1 (777)", "cpu", 300.0)
    assert a.ids == ["tensor_ops", "broadcasting"]
    tensor_ops, broadcasting = a.exercises
    assert tensor_ops.points == 20 and tensor_ops.probe_seconds == 12
    assert sum(tensor_ops.checks.values()) == pytest.approx(20)  # each check scaled by 2
    catalogue = {c.id: c.points for c in registry["tensor_ops"].checks}
    assert all(tensor_ops.checks[k] == pytest.approx(2 * v) for k, v in catalogue.items())
    # points per check: the one named is worth 4, the others keep their own points
    assert broadcasting.checks["broadcast_shape.values"] == 4
    assert broadcasting.points == pytest.approx(10 - registry["broadcasting"].checks[0].points + 4)
    assert a.deadline.isoformat() == "2025-03-01T23:59:00+01:00" and a.timezone == "Europe/Berlin"
    assert a.late == {"policy": "per_day", "penalty": pytest.approx(0.1), "grace": 900.0, "cap": pytest.approx(0.3),
                      "of": "score", "no_credit_after": None, "no_credit_delay": 7 * 86400.0}
    assert a.extension_for({"BOB"}).deadline.isoformat() == "2025-03-04T12:00:00+01:00"
    assert a.extension_for({"101", "alice"}).deadline.isoformat() == "2025-03-03T12:00:00+00:00"
    assert a.extension_for({"carol"}) is None
    limits = __import__("grader.assignment", fromlist=["limits_for"]).limits_for(a)
    assert limits.total_seconds == 300 and limits.exercise_probe_seconds == {"tensor_ops": 12}
    assert limits.to_dict()["exercise_probe_seconds"] == {"tensor_ops": 12}  # part of the batch cache key
    from grader.engine import probe_specs

    specs = probe_specs(select_for(a, registry, None), limits)
    assert {s["timeout"] for s in specs if s["exercise"] == "tensor_ops"} == {12}  # the probes get it
    assert any(s["timeout"] != 12 for s in specs if s["exercise"] == "broadcasting")


@pytest.mark.parametrize("text, line, message", [
    ('title = "x"\ndedline = "2025-03-01 23:59"\n[exercises.tensor_ops]\n', 2, "did you mean 'deadline'"),
    ('title = "x"\n[exercises.tensor_op]\n', 2, "did you mean 'tensor_ops'"),
    ('title = "x"\n[exercises.tensor_ops]\npoints = "twenty"\n', 3, "positive number of points"),
    ('title = "x"\n[exercises.tensor_ops.checks]\n"mask_mean.value" = 2\n', 3, "did you mean 'mask_mean.values'"),
    ('title = "x"\ndeadline = "2025-03-01 23:59"\n[exercises.tensor_ops]\n', 2, "time zone"),
    ('title = "x"\ndeadline = "2025-03-01 23:59"\ntimezone = "Europe/Berln"\n[exercises.tensor_ops]\n', 3,
     "unknown time zone"),
    ('title = "x"\ndeadline = "2025-03-01 23:59 UTC"\n[late]\npolicy = "per_day"\n[exercises.tensor_ops]\n', 4,
     "needs a penalty"),
    ('title = "x"\ndeadline = "2025-03-01 23:59 UTC"\n[late]\npolicy = "per_week"\n[exercises.tensor_ops]\n', 4,
     "must be one of"),
    ('title = "x"\ndeadline = "2025-03-01 23:59 UTC"\n[late]\npolicy = "per_day"\npenalty = 10\n'
     '[exercises.tensor_ops]\n', 5, '"10%"'),
    ('title = "x"\ndeadline = "2025-03-01 23:59 UTC"\n[late]\npolicy = "per_day"\npenalty = "5%"\ngrace = 15\n'
     '[exercises.tensor_ops]\n', 6, "duration"),
    ('title = "x"\n[late]\npolicy = "per_day"\npenalty = "5%"\n[exercises.tensor_ops]\n', 2, "needs a deadline"),
    ('title = "x"\n\n[exercises.tensor_ops]\npoints = 10\n[exercises\n', 5, "not valid TOML"),
    ('[exercises.tensor_ops]\n', None, "needs a title"),
    ('title = "x"\n', None, "name the exercises"),
])
def test_errors_name_the_line(tmp_path, registry, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(GraderError) as caught:
        load_assignment(path, registry)
    where = f"{path}, line {line}:" if line else f"{path}:"
    assert str(caught.value).startswith(where), str(caught.value)
    assert message in str(caught.value)


def test_a_bad_extensions_line_is_named(tmp_path, registry):
    write(tmp_path, "student,deadline\nbob,2025-03-04 12:00\nann,next tuesday\n", "ext.csv")
    path = write(tmp_path, 'title = "x"\ndeadline = "2025-03-01 23:59 UTC"\nextensions = "ext.csv"\n'
                           '[exercises.tensor_ops]\n')
    with pytest.raises(GraderError, match=r"ext\.csv, line 3: deadline: expected a date and time"):
        load_assignment(path, registry)


def raw_result() -> dict:
    """What the engine gives for a tensor_ops submission that fails its 2-point population-std check."""
    registry = exercise_registry(make_plugin_manager(autoload=False))
    checks = [{"id": c.id, "name": c.name, "status": "failed" if c.id.endswith("population_std") else "passed",
               "points": 0 if c.id.endswith("population_std") else c.points, "max_points": c.points,
               "message": "", "hint": None} for c in registry["tensor_ops"].checks]
    assert sum(c["points"] for c in checks) == 8
    return {"grader_version": "x", "submission": "s.ipynb", "device": "cpu", "score": 8, "max_score": 10,
            "exercises": [{"id": "tensor_ops", "title": "t", "status": "graded", "score": 8, "max_score": 10,
                           "message": "", "checks": checks}],
            "notes": ["a note"], "cells": [], "sandbox": [], "output": "", "seconds": 1, "resources": {}, "stops": []}


def test_the_assignment_score_weights_adjusts_and_penalises(tmp_path, registry):
    a = load_assignment(write(tmp_path, 'title = "HW"\ndeadline = "2025-03-01 23:59 UTC"\n[late]\n'
                                        'policy = "per_day"\npenalty = "10%"\n[exercises.tensor_ops]\npoints = 20\n'),
                        registry)
    raw = raw_result()
    plain = apply_assignment(raw, a)
    assert raw == raw_result()  # the raw result (what is cached) is not touched
    assert (plain["score"], plain["max_score"], plain["raw_score"], plain["raw_max_score"]) == (16, 20, 8, 10)
    assert set(raw) <= set(plain)  # fields are added, never removed
    ex = plain["exercises"][0]
    assert (ex["score"], ex["max_score"], ex["raw_score"], ex["raw_max_score"]) == (16, 20, 8, 10)
    std = next(c for c in ex["checks"] if c["id"] == "column_standardize.population_std")
    assert (std["points"], std["max_points"], std["raw_points"], std["raw_max_points"]) == (0, 4, 0, 2)
    assert sum(c["max_points"] for c in ex["checks"]) == 20
    assert plain["assignment"]["scores"] == SCORE_MEANING
    assert plain["assignment"]["lateness"]["status"] == LateStatus.NOT_ASSESSED
    from datetime import datetime

    from grader.adjustments import Adjustment
    from grader.lateness import assess

    two_days = assess(datetime(2025, 3, 3, 12, tzinfo=UTC), a.deadline, a.late)
    bonus = Adjustment("bob", "tensor_ops", 2.0, "add", "regrade: the tolerance was too tight", 2)
    final = apply_assignment(raw, a, lateness=two_days, adjustments=[bonus])
    info = final["assignment"]
    assert (info["weighted_score"], info["adjusted_score"], info["penalty"], info["final_score"]) == (16, 18, 3.6,
                                                                                                      14.4)
    assert final["score"] == 14.4 and final["exercises"][0]["score"] == 18
    assert final["exercises"][0]["adjustments"][0]["reason"] == "regrade: the tolerance was too tight"
    notes = "\n".join(final["notes"])  # what the student's feedback shows
    assert "tensor_ops: +2 points by your instructor: regrade: the tolerance was too tight" in notes
    assert "3 days late × 10 % = 30 % off" not in notes and "2 days late × 10 % = 20 % off: −3.6 points" in notes
    assert final["notes"][-1] == "a note"
    override = Adjustment("bob", "tensor_ops", 7.0, "set", "oral exam", 3)
    assert apply_assignment(raw, a, adjustments=[override])["score"] == 7
    never_negative = Adjustment("bob", "tensor_ops", -50.0, "add", "plagiarism", 4)
    assert apply_assignment(raw, a, adjustments=[never_negative])["score"] == 0
    of_max = load_assignment(write(tmp_path, 'title = "HW"\ndeadline = "2025-03-01 23:59 UTC"\n[late]\n'
                                             'policy = "per_day"\npenalty = "10%"\nof = "max_score"\n'
                                             '[exercises.tensor_ops]\npoints = 20\n', "max.toml"), registry)
    assert apply_assignment(raw, of_max, lateness=dict(two_days, fraction=0.2))["score"] == 12  # 16 - 20 %·20


def test_adjustments_csv(tmp_path):
    assert parse_points("+2") == (2, "add") and parse_points("-1.5") == (-1.5, "add")
    assert parse_points("7") == (7, "set")
    with pytest.raises(ValueError):
        parse_points("two")
    path = tmp_path / "adjustments.csv"
    assert read_adjustments(path, ["tensor_ops"]) == []  # none yet
    path.write_text("student,exercise,points,reason\nbob,tensor_ops,+2,regrade\n\nAnn@x.edu,tensor_ops,5,oral\n")
    found = read_adjustments(path, ["tensor_ops"])
    assert [(a.student, a.points, a.mode, a.line) for a in found] == [("bob", 2, "add", 2), ("Ann@x.edu", 5, "set", 4)]
    for text, message in [("student,exercise,points,reason\nbob,mlp,+2,x\n", "line 2: 'mlp' is not an exercise"),
                          ("student,exercise,points,reason\nbob,tensor_ops,+2,\n", "line 2: the reason is missing"),
                          ("student,exercise,points\n", "line 1: the adjustments need the columns"),
                          ("student,exercise,points,reason\nbob,tensor_ops,lots,x\n", "line 2: points must be")]:
        path.write_text(text)
        with pytest.raises(GraderError, match=message):
            read_adjustments(path, ["tensor_ops"])

    class Sub:
        def __init__(self, key, name, lms_id="", email=""):
            self.key, self.name, self.lms_id, self.email, self.extra = key, name, lms_id, email, {}

    subs = [Sub("bob", "bob", "102"), Sub("twin_1", "twin", "1"), Sub("twin_2", "twin", "2"), Sub("ann", "Ann", "3",
                                                                                                    "ann@x.edu")]
    adjustments = found + [__import__("grader.adjustments", fromlist=["Adjustment"]).Adjustment(
        "zed", "tensor_ops", 1, "add", "gone", 9)]
    by_key, unmatched = assign_to_rows(adjustments, subs, path)
    assert set(by_key) == {"bob", "ann"} and [a.student for a in unmatched] == ["zed"]
    ambiguous = found[:1] + [type(found[0])("twin", "tensor_ops", 1, "add", "x", 5)]
    with pytest.raises(GraderError, match="line 5: 'twin' names 2 students"):
        assign_to_rows(ambiguous, subs, path)


def test_exercises_must_belong_to_the_assignment(tmp_path, registry):
    a = load_assignment(write(tmp_path, 'title = "HW"\n[exercises.broadcasting]\n[exercises.tensor_ops]\n'), registry)
    assert [e.id for e in select_for(a, registry, None)] == ["broadcasting", "tensor_ops"]  # the assignment's order
    assert [e.id for e in select_for(a, registry, ["tensor_ops"])] == ["tensor_ops"]
    with pytest.raises(GraderError, match="mlp: not an exercise of the assignment 'HW'"):
        select_for(a, registry, ["mlp"])


def test_grader_check_with_an_assignment_and_a_submission_time(tmp_path, capsys):
    submission = tmp_path / "hw.ipynb"
    submission.write_text(notebook(REFERENCE.replace("correction=0", "correction=1")))  # 8 / 10
    toml = write(tmp_path, 'title = "HW 1"\ndeadline = "2025-03-01 23:59"\ntimezone = "Europe/Berlin"\n'
                           'extensions = "ext.csv"\n[late]\npolicy = "per_day"\npenalty = "10%"\n'
                           '[exercises.tensor_ops]\npoints = 20\n')
    write(tmp_path, "student,deadline\nbob,2025-03-05 12:00\n", "ext.csv")
    args = ["check", str(submission), "--assignment", str(toml), "--format", "json", "--submitted-at",
            "2025-03-03 10:00"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["score"], result["max_score"], result["raw_score"], result["raw_max_score"]) == (12.8, 20, 8, 10)
    assert result["assignment"]["title"] == "HW 1" and result["assignment"]["penalty"] == 3.2
    assert result["assignment"]["lateness"]["status"] == "late" and result["exercises"][0]["score"] == 16
    assert main(args + ["--student", "bob"]) == 0  # bob has an extension
    assert json.loads(capsys.readouterr().out)["score"] == 16
    assert main(["check", str(submission), "--assignment", str(toml), "-e", "mlp"]) == 2
    assert "not an exercise of the assignment" in capsys.readouterr().err
    assert main(["check", str(submission), "--submitted-at", "2025-03-03"]) == 2
    assert "need --assignment" in capsys.readouterr().err


def test_starter_with_an_assignment(tmp_path, capsys):
    toml = write(tmp_path, 'title = "Week 3: tensors"\n[exercises.tensor_ops]\npoints = 25\n')
    out = tmp_path / "week3.ipynb"
    assert main(["starter", "--assignment", str(toml), "-o", str(out)]) == 0
    nb = nbformat.read(out, as_version=4)
    assert nb.cells[0].source.startswith("# Week 3: tensors") and "25 points in all" in nb.cells[0].source
    assert "*Exercise `tensor_ops`, 25 points.*" in nb.cells[2].source
    assert nb.cells[-1].source == 'import grader\n\ngrader.check("tensor_ops")'
    assert "grader check week3.ipynb --assignment assignment.toml" in nb.cells[-2].source
    assert len([c for c in nb.cells if c.cell_type == "code"]) == 3  # setup, tensor_ops, the check
