"""`grader batch` end to end, as docs/interfaces.md specifies it: a Canvas-style zip and a
Moodle-style folder of honest, buggy, broken and hostile submissions, graded with two
jobs through the CLI; every row, every file, the re-run that grades nothing new, the
re-run after one change, an interrupted and a killed run, and `grader check` agreeing."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
import unicodedata
import zipfile
from pathlib import Path

import jsonschema
import pytest

from conftest import REPO, notebook, run_cli
from test_cli import RESULT_SCHEMA

REFERENCE = (REPO / "reference" / "tensor_ops.py").read_text()
HONEST = notebook("import numpy as np\nimport torch", REFERENCE.split("import torch", 1)[1])
BUGGY = notebook(REFERENCE.replace("correction=0", "correction=1"))  # torch's default, unbiased std
FIXED = notebook(REFERENCE)
HANGS = notebook("while True:\n    pass", REFERENCE)
QUITS = notebook(REFERENCE, "import os\nos._exit(3)")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"


def hostile(spy: Path) -> str:
    """Graded normally, then tries to read and overwrite every file of the batch (its
    classmates' submissions and the grader's output) from inside the sandbox."""
    return notebook(REFERENCE, f"""
import pathlib
touched = []
for p in pathlib.Path({str(spy)!r}).rglob('*'):
    try:
        if p.is_file():
            p.read_bytes()
            p.write_text('HACKED')
            touched.append(str(p))
    except Exception:
        pass
print('touched', len(touched))
""")


TIMEOUT = "15"
EXERCISE = ("-e", "tensor_ops")


# ------------------------------------------------------------------ inputs
def canvas_zip(path: Path, buggy: str = BUGGY) -> Path:
    members = {
        "doejane_101_9001_hw1.ipynb": HONEST,
        "smithbob_late_102_9002_hw1.ipynb": buggy,
        "brokenjson_103_9003_hw1.ipynb": '{"cells": [ this is not json',
        "emptyfile_104_9004_hw1.ipynb": "",
        "pdfguy_105_9005_hw1.ipynb": PDF,
        "looper_106_9006_hw1.ipynb": HANGS,
        "quitter_107_9007_hw1.ipynb": QUITS,
        "multi_108_9008_hw1.ipynb": HONEST,
        "multi_108_9008_scratch.py": "print('scratch')\n",
        "multi_108_9008_notes.txt": "my notes\n",
        "twin_109_9009_hw1.ipynb": HONEST,
        "twin_110_9010_hw1.ipynb": BUGGY,
        unicodedata.normalize("NFD", "zoë_111_9011_übung.ipynb"): HONEST,  # as macOS stores it
        "__MACOSX/._doejane_101_9001_hw1.ipynb": b"\x00\x05\x16\x07",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def moodle_folder(root: Path) -> Path:
    def put(rel: str, data):
        target = root / "HW1-4711" / rel  # Moodle's download has no wrapper; some instructors add one
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode())

    put("Jane Doe_201_assignsubmission_file_/hw1.ipynb", HONEST)
    put("Jane Doe_201_assignsubmission_onlinetext_/onlinetext.html", "<p>done!</p>")
    put("Jane Doe_204_assignsubmission_file_/hw1.ipynb", BUGGY)
    put("Bob Smith_202_assignsubmission_file_/work/solutions/hw1.py", REFERENCE.replace("correction=0", "correction=1"))
    put("Zoë Ångström_203_assignsubmission_file_/Übung 1.ipynb", HONEST)
    put("Hostile Hal_205_assignsubmission_file_/hw1.ipynb", hostile(root.parent))
    put("Empty Emma_206_assignsubmission_file_/.DS_Store", b"\x00\x00\x00\x01Bud1")
    put("__MACOSX/Jane Doe_201_assignsubmission_file_/._hw1.ipynb", b"\x00\x05\x16\x07")
    return root


def batch(source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "batch", str(source), "--out", str(out), *EXERCISE,
                           "--jobs", "2", "--timeout", TIMEOUT, *extra], capture_output=True, text=True, timeout=600)


def read_rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len({r["student"] for r in rows}) == len(rows)
    return {r["student"]: r for r in rows}


def batch_info(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


def assert_files_match_rows(out: Path, rows: dict[str, dict[str, str]]) -> None:
    """results/ and feedback/ hold exactly one file per row that has a result, the JSON
    of `grader check`; summary.html links to each feedback page."""
    with_result = {k for k, r in rows.items() if r["status"] in ("graded", "error", "timeout", "unreadable")}
    assert {p.stem for p in (out / "results").glob("*.json")} == with_result
    assert {p.stem for p in (out / "feedback").glob("*.html")} == with_result
    summary = (out / "summary.html").read_text()
    from urllib.parse import quote

    for key in with_result:
        result = json.loads((out / "results" / f"{key}.json").read_text())
        jsonschema.validate(result, RESULT_SCHEMA)
        assert result["score"] == float(rows[key]["score"])
        assert [e["id"] for e in result["exercises"]] == ["tensor_ops"]
        assert result["exercises"][0]["score"] == float(rows[key]["tensor_ops"])
        html = (out / "feedback" / f"{key}.html").read_text()
        assert html.startswith("<!DOCTYPE html>") and "Grading report" in html
        assert f'href="feedback/{quote(key)}.html"' in summary, key
    assert not list(out.rglob(".*.tmp"))


# ------------------------------------------------------------------ Canvas zip
@pytest.fixture(scope="module")
def canvas(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("canvas")
    source = canvas_zip(tmp / "submissions.zip")
    out = tmp / "graded"
    toml = tmp / "hw1.toml"  # the Canvas column title is the assignment's (docs/assignments.md)
    toml.write_text('title = "Homework 1 (777)"\n\n[exercises.tensor_ops]\n')
    first = batch(source, out, "--assignment", str(toml))
    return {"tmp": tmp, "source": source, "out": out, "first": first, "toml": toml}


def test_canvas_every_submission_has_its_row(canvas):
    proc, out = canvas["first"], canvas["out"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # progress and counts go to stderr
    rows = read_rows(out)
    assert set(rows) == {"doejane", "smithbob", "brokenjson", "emptyfile", "pdfguy", "looper", "quitter", "multi",
                         "twin_109", "twin_110", "zoë"}
    expected_status = {"doejane": "graded", "smithbob": "graded", "brokenjson": "unreadable",
                       "emptyfile": "unreadable", "pdfguy": "unreadable", "looper": "timeout", "quitter": "error",
                       "multi": "graded", "twin_109": "graded", "twin_110": "graded", "zoë": "graded"}
    assert {k: r["status"] for k, r in rows.items()} == expected_status
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[:7] == ["student", "submission", "score", "max_score", "tensor_ops", "status", "message"]
    # looper's first cell hangs: it is stopped at half the --timeout and skipped, the rest is graded
    for key in ("doejane", "multi", "twin_109", "zoë", "looper"):
        assert (rows[key]["score"], rows[key]["max_score"]) == ("10", "10"), rows[key]
    for key in ("smithbob", "twin_110"):
        assert 0 < float(rows[key]["score"]) < 10
    for key in ("brokenjson", "emptyfile", "pdfguy"):
        assert rows[key]["score"] == "0", rows[key]
    assert "invalid JSON" in rows["brokenjson"]["message"]
    assert "empty" in rows["emptyfile"]["message"]
    assert "PDF" in rows["pdfguy"]["message"] or "not UTF-8" in rows["pdfguy"]["message"]
    assert "time limit" in rows["looper"]["message"] and "cell 1" in rows["looper"]["message"]
    assert "exited" in rows["quitter"]["message"] and "cell 2" in rows["quitter"]["message"]
    # identity from the Canvas names: user ids, the late mark, the file graded
    assert rows["smithbob"]["lms_id"] == "102" and rows["smithbob"]["late"] == "yes"
    assert rows["doejane"]["late"] == "" and rows["doejane"]["submission"] == "doejane_101_9001_hw1.ipynb"
    assert "not graded: multi_108_9008_scratch.py" in rows["multi"]["notes"]
    assert "multi_108_9008_notes.txt" in rows["multi"]["notes"]
    assert rows["twin_109"]["name"] == rows["twin_110"]["name"] == "twin"
    assert "share the name" in rows["twin_109"]["notes"]
    assert rows["zoë"]["submission"] == "zoë_111_9011_übung.ipynb"  # NFC again
    # the stray files are listed, not graded and not dropped silently
    info = batch_info(out)
    assert info["layout"] == "canvas" and info["graded_now"] == 11 and info["unchanged"] == 0
    assert sorted(r for r, _ in info["inventory"]["strays"]) == [".DS_Store", "__MACOSX/._doejane_101_9001_hw1.ipynb"]
    assert "2 stray file(s)" in proc.stderr
    assert "11 submission(s)" in proc.stderr


def test_canvas_files_and_exports(canvas):
    out = canvas["out"]
    rows = read_rows(out)
    assert_files_match_rows(out, rows)
    broken = json.loads((out / "results" / "brokenjson.json").read_text())
    assert broken["exercises"][0]["status"] == "error" and "invalid JSON" in broken["exercises"][0]["message"]
    with open(out / "canvas_gradebook.csv", newline="", encoding="utf-8") as f:
        gradebook = list(csv.reader(f))
    assert gradebook[0][:6] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1 (777)"]
    assert gradebook[1][0] == "Points Possible" and gradebook[1][5] == "10"
    ids = {line[1]: line[5] for line in gradebook[2:]}
    assert len(ids) == 11 and ids["101"] == "10" and ids["106"] == "10"
    assert not (out / "moodle_grading_worksheet.csv").exists()
    summary = (out / "summary.html").read_text()
    assert summary.count("<svg") == 2  # the total and tensor_ops
    assert "column_standardize divides by the population std" in summary  # the check most students failed
    assert "torch.std is unbiased by default" in summary  # the hint they got
    assert "looper" in summary and "time limit" in summary and "__MACOSX" in summary
    assert "<script" not in summary


def test_batch_and_check_give_the_same_result(canvas):
    """The same submission gets the same result from `grader batch` and `grader check`."""
    out = canvas["out"]
    with zipfile.ZipFile(canvas["source"]) as zf:
        path = canvas["tmp"] / "smithbob_late_102_9002_hw1.ipynb"
        path.write_bytes(zf.read("smithbob_late_102_9002_hw1.ipynb"))
    proc = run_cli("check", str(path), "--format", "json", *EXERCISE, "--timeout", TIMEOUT,
                   "--assignment", str(canvas["toml"]))
    assert proc.returncode == 0, proc.stderr
    checked = json.loads(proc.stdout)
    batched = json.loads((out / "results" / "smithbob.json").read_text())
    assert batched["submission"] == "smithbob_late_102_9002_hw1.ipynb"
    for field in ("grader_version", "device", "score", "max_score", "exercises", "notes", "cells"):
        assert batched[field] == checked[field], field


def test_rerun_grades_nothing_new_and_a_change_regrades_only_that_one(canvas):
    out, source = canvas["out"], canvas["source"]
    before = (out / "grades.csv").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    again = batch(source, out, "--assignment", str(canvas["toml"]))
    assert again.returncode == 0, again.stderr
    # looper timed out: a time-out is never a final grade, so it is graded again; the rest is not
    assert "graded 1 now, 10 unchanged" in again.stderr
    info = batch_info(out)
    assert info["graded_now"] == 1 and info["unchanged"] == 10
    assert (out / "grades.csv").read_text() == before
    assert {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.json") if p.stem != "looper"} == {
        p: t for p, t in mtimes.items() if p.stem != "looper"}

    canvas_zip(source, buggy=FIXED)  # smithbob hands in a fixed notebook
    changed = batch(source, out, "--assignment", str(canvas["toml"]))
    assert changed.returncode == 0, changed.stderr
    assert "graded 2 now, 9 unchanged" in changed.stderr
    rows = read_rows(out)
    assert rows["smithbob"]["score"] == "10" and rows["smithbob"]["status"] == "graded"
    assert rows["twin_110"]["score"] == read_rows_from_text(before)["twin_110"]["score"]
    assert json.loads((out / "results" / "smithbob.json").read_text())["score"] == 10
    assert_files_match_rows(out, rows)


def read_rows_from_text(text: str) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader(text.splitlines())}


# ------------------------------------------------------------------ Moodle folder
def test_moodle_folder(tmp_path):
    source = moodle_folder(tmp_path / "moodle")
    out = tmp_path / "graded"
    proc = batch(source, out)
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(out)
    assert set(rows) == {"Jane_Doe_201", "Jane_Doe_204", "Bob_Smith", "Zoë_Ångström", "Hostile_Hal", "Empty_Emma"}
    assert rows["Jane_Doe_201"]["score"] == "10" and rows["Jane_Doe_201"]["name"] == "Jane Doe"
    assert "onlinetext.html" in rows["Jane_Doe_201"]["notes"]
    assert 0 < float(rows["Jane_Doe_204"]["score"]) < 10
    assert rows["Bob_Smith"]["submission"] == "Bob Smith_202_assignsubmission_file_/work/solutions/hw1.py"  # nested
    assert 0 < float(rows["Bob_Smith"]["score"]) < 10
    assert rows["Zoë_Ångström"]["score"] == "10" and rows["Zoë_Ångström"]["lms_id"] == "203"
    # the hostile one is graded like anyone else and could touch nothing outside its sandbox
    assert rows["Hostile_Hal"]["status"] == "graded" and rows["Hostile_Hal"]["score"] == "10"
    assert (source / "HW1-4711" / "Jane Doe_201_assignsubmission_file_" / "hw1.ipynb").read_text() == HONEST
    assert rows["Empty_Emma"]["status"] == "unreadable" and rows["Empty_Emma"]["score"] == "0"
    assert ".DS_Store" in rows["Empty_Emma"]["notes"]
    assert_files_match_rows(out, rows)
    info = batch_info(out)
    assert info["layout"] == "moodle"
    assert "everything was inside HW1-4711/; read from there" in info["inventory"]["notes"]
    strays = [r for r, _ in info["inventory"]["strays"]]
    assert "HW1-4711/__MACOSX/Jane Doe_201_assignsubmission_file_/._hw1.ipynb" in strays
    assert "HW1-4711/Empty Emma_206_assignsubmission_file_/.DS_Store" in strays
    with open(out / "moodle_grading_worksheet.csv", newline="", encoding="utf-8") as f:
        sheet = {r["Identifier"]: r for r in csv.DictReader(f)}
    assert set(sheet) == {f"Participant {n}" for n in (201, 202, 203, 204, 205, 206)}
    assert sheet["Participant 201"]["Grade"] == "10" and sheet["Participant 201"]["Full name"] == "Jane Doe"
    assert sheet["Participant 201"]["Maximum Grade"] == "10"
    assert not (out / "canvas_gradebook.csv").exists()

    again = batch(source, out)
    assert again.returncode == 0 and "graded 0 now, 6 unchanged" in again.stderr, again.stderr
    assert read_rows(out) == rows


# ------------------------------------------------------------------ interrupted and killed runs
def _flat_class(root: Path) -> Path:
    root.mkdir()
    (root / "a_first.ipynb").write_text(HONEST)
    (root / "b_second.ipynb").write_text(BUGGY)
    (root / "c_hangs.ipynb").write_text(HANGS)
    return root


def _start(source: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "batch", str(source), "--out", str(out), *EXERCISE,
                             "--jobs", "1", "--timeout", "10", "--progress", "lines"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def _wait_for(proc: subprocess.Popen, marker: str, limit: float = 120) -> str:
    seen, deadline = "", time.monotonic() + limit
    while marker not in seen:
        line = proc.stderr.readline()
        assert line or proc.poll() is None, seen
        seen += line
        assert time.monotonic() < deadline, seen
    return seen


def test_ctrl_c_keeps_what_was_graded_and_the_next_run_resumes(tmp_path):
    source, out = _flat_class(tmp_path / "class"), tmp_path / "graded"
    proc = _start(source, out)
    _wait_for(proc, "[2/3]")
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, rest
    rows = read_rows(out)  # every submission has its row, also the one not reached
    assert rows["a_first"]["status"] == "graded" and rows["b_second"]["status"] == "graded"
    assert rows["c_hangs"]["status"] == "not_graded" and rows["c_hangs"]["score"] == ""
    assert "interrupted" in (out / "summary.html").read_text()
    assert_files_match_rows(out, rows)

    resumed = subprocess.run([sys.executable, "-m", "grader", "batch", str(source), "--out", str(out), *EXERCISE,
                              "--jobs", "2", "--timeout", "10"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "graded 1 now, 2 unchanged" in resumed.stderr
    assert read_rows(out)["c_hangs"]["status"] == "timeout"


def test_a_killed_run_loses_nothing_already_graded(tmp_path):
    source, out = _flat_class(tmp_path / "class"), tmp_path / "graded"
    proc = _start(source, out)
    _wait_for(proc, "[1/3]")
    proc.kill()
    proc.wait(timeout=60)
    assert (out / "results" / "a_first.json").exists()
    (source / "c_hangs.ipynb").write_text(FIXED)  # and keep the resumed run short
    resumed = subprocess.run([sys.executable, "-m", "grader", "batch", str(source), "--out", str(out), *EXERCISE,
                              "--jobs", "2", "--timeout", "10"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "graded 3 now" not in resumed.stderr and "graded 0 now" not in resumed.stderr
    assert {r["status"] for r in read_rows(out).values()} == {"graded"}


def test_usage_errors_exit_2_with_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"x")
    proc = run_cli("batch", str(empty), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "no submissions found" in proc.stderr and "1 stray" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("batch", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = run_cli("batch", str(empty), "--out", str(tmp_path / "o"), "-e", "nope")
    assert proc.returncode == 2 and "unknown exercise" in proc.stderr
    proc = run_cli("batch", str(empty), "--out", str(tmp_path / "o"), "--executor", "cluster")
    assert proc.returncode == 2 and "unknown executor" in proc.stderr and "local" in proc.stderr
