"""Finding students in LMS exports (no grading): layouts, identity, strays, zips."""

from __future__ import annotations

import stat
import warnings
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader.batch import layouts
from grader.batch.layouts import discover, parse_gradescope_metadata, pick_primary, safe_key, stray_reason
from grader.errors import GraderError


def make_folder(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def make_zip(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def by_key(inventory):
    return {s.key: s for s in inventory.submissions}


def test_canvas_names_late_marks_ids_and_several_files(tmp_path):
    inv = discover(make_folder(tmp_path / "in", {
        "doejane_101_9001_hw1.ipynb": "{}",
        "smithbob_late_102_9002_hw1.py": "x = 1",
        "smithbob_late_102_9002_hw1-1.ipynb": "{}",
        "smithbob_late_102_9002_data.csv": "1,2",
        "LEEANN_LATE_103_9003_Homework 1.ipynb": "{}",
        "README.txt": "instructions",
    }), tmp_path / "staging")
    assert inv.layout == "canvas"
    subs = by_key(inv)
    assert set(subs) == {"doejane", "smithbob", "LEEANN", "README"}
    bob = subs["smithbob"]
    assert bob.lms_id == "102" and bob.late and bob.extra["canvas_submission_id"] == "9002"
    assert bob.primary.rel == "smithbob_late_102_9002_hw1-1.ipynb"  # a notebook before a module
    assert any("not graded: smithbob_late_102_9002_hw1.py" in n for n in bob.notes)
    assert any("data.csv" in n for n in bob.notes)
    assert subs["LEEANN"].late and subs["LEEANN"].lms_id == "103"
    assert not subs["doejane"].late and subs["doejane"].notes == []
    # a file that does not follow the naming is still a row, flagged
    assert any("does not follow the canvas export's naming" in n for n in subs["README"].notes)


def test_moodle_folders_flat_files_and_duplicate_names(tmp_path):
    inv = discover(make_folder(tmp_path / "in", {
        "Jane Doe_201_assignsubmission_file_/hw1.ipynb": "{}",
        "Jane Doe_201_assignsubmission_onlinetext_/onlinetext.html": "<p>hi</p>",
        "Jane Doe_202_assignsubmission_file_/deep/er/hw1.ipynb": "{}",
        "Ann Lee_203_assignsubmission_file_hw1.ipynb": "{}",  # "download in folders" turned off
    }), tmp_path / "staging")
    assert inv.layout == "moodle"
    subs = by_key(inv)
    assert set(subs) == {"Jane_Doe_201", "Jane_Doe_202", "Ann_Lee"}
    assert subs["Jane_Doe_201"].name == "Jane Doe" and subs["Jane_Doe_201"].lms_id == "201"
    assert [f.rel for f in subs["Jane_Doe_201"].files] == [
        "Jane Doe_201_assignsubmission_file_/hw1.ipynb", "Jane Doe_201_assignsubmission_onlinetext_/onlinetext.html"]
    assert subs["Jane_Doe_202"].primary.rel.endswith("deep/er/hw1.ipynb")
    assert any("share the name 'Jane_Doe'" in n for n in subs["Jane_Doe_202"].notes)
    assert subs["Ann_Lee"].lms_id == "203"


def test_gradescope_export_with_metadata_and_groups(tmp_path):
    metadata = """---
submission_111:
  :submitters:
  - :name: Jane Doe
    :sid: 'S001'
    :email: jane@example.edu
  :created_at: 2024-01-01 12:00:00.000000000 -08:00
  :score:\x20
submission_222:
  :submitters:
  - :name: Bob Smith
    :sid: ''
    :email: bob@example.edu
  - :name: Ann Lee
    :sid: S003
    :email: ann@example.edu
  :status: processed
"""
    parsed = parse_gradescope_metadata(metadata)
    assert parsed["submission_111"] == [{"name": "Jane Doe", "sid": "S001", "email": "jane@example.edu"}]
    assert [p["name"] for p in parsed["submission_222"]] == ["Bob Smith", "Ann Lee"]
    source = make_zip(tmp_path / "export.zip", {
        "assignment_42_export/submission_metadata.yml": metadata,
        "assignment_42_export/submission_111/hw1.ipynb": "{}",
        "assignment_42_export/submission_222/hw1.py": "x = 1",
        "assignment_42_export/submission_333/hw1.py": "x = 1",
    })
    inv = discover(source, tmp_path / "staging")
    assert inv.layout == "gradescope" and inv.metadata == ["submission_metadata.yml"]
    subs = by_key(inv)
    assert set(subs) == {"S001", "S003", "submission_333"}
    assert subs["S001"].name == "Jane Doe" and subs["S001"].email == "jane@example.edu"
    assert subs["S003"].name == "Bob Smith; Ann Lee" and subs["S003"].lms_id == "222"
    assert any("group submission" in n for n in subs["S003"].notes)
    assert any("not in submission_metadata.yml" in n for n in subs["submission_333"].notes)


def test_flat_folder_one_file_per_student_and_case_clashes(tmp_path):
    inv = discover(make_folder(tmp_path / "in", {
        "alice.ipynb": "{}", "alice.py": "x = 1", "Bob.ipynb": "{}", "bob.py": "x = 1", "carol/hw1.ipynb": "{}",
    }), tmp_path / "staging")
    assert inv.layout == "flat"
    subs = by_key(inv)
    assert subs["alice"].primary.rel == "alice.ipynb" and len(subs["alice"].files) == 2
    assert subs["carol"].primary.rel == "carol/hw1.ipynb"
    # "Bob" and "bob" are two students, but one file name on a case-insensitive disk
    assert {k for k in subs if k.lower().startswith("bob")} == {"Bob~1", "bob~2"}


def test_forced_layout_and_unknown_layout(tmp_path):
    source = make_folder(tmp_path / "in", {"doejane_101_9001_hw1.ipynb": "{}"})
    assert discover(source, tmp_path / "s", layout="flat").submissions[0].key == "doejane_101_9001_hw1"
    with pytest.raises(GraderError, match="unknown layout"):
        discover(source, tmp_path / "s", layout="blackboard")
    with pytest.raises(GraderError, match="not a folder or a .zip"):
        discover(make_folder(tmp_path / "x", {"a.txt": "x"}) / "a.txt", tmp_path / "s")


def test_strays_are_listed_not_graded(tmp_path):
    assert stray_reason("__MACOSX/._a.ipynb") and stray_reason("x/.DS_Store") and stray_reason("._hw.ipynb")
    assert stray_reason("a/.ipynb_checkpoints/hw-checkpoint.ipynb") and stray_reason("__pycache__/m.cpython-311.pyc")
    assert stray_reason("Thumbs.db") and stray_reason("hw.ipynb~") and stray_reason("a/.git/config")
    assert stray_reason("hw1.ipynb") is None and stray_reason("my.notes/hw1.py") is None
    inv = discover(make_folder(tmp_path / "in", {
        "ann.ipynb": "{}", ".DS_Store": b"\0", "__MACOSX/._ann.ipynb": b"\0",
        ".ipynb_checkpoints/ann-checkpoint.ipynb": "{}",
    }), tmp_path / "staging")
    assert [s.key for s in inv.submissions] == ["ann"]
    assert sorted(r for r, _ in inv.strays) == [".DS_Store", ".ipynb_checkpoints/ann-checkpoint.ipynb",
                                               "__MACOSX/._ann.ipynb"]


def test_zip_names_unicode_and_unsafe_members(tmp_path):
    path = tmp_path / "class.zip"
    chinese = "李雷_112_9012_hw1.ipynb".encode()
    placeholder = b"X" * (len(chinese) - len(b"_112_9012_hw1.ipynb")) + b"_112_9012_hw1.ipynb"
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the duplicate name is the point
        zf.writestr(unicodedata.normalize("NFD", "zoë_111_9011_übung.ipynb"), "{}")
        zf.writestr(placeholder.decode(), "{}")
        zf.writestr("../../evil_113_9013_hw1.py", "x = 1")
        link = zipfile.ZipInfo("linky_114_9014_hw1.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("dup_115_9015_hw1.ipynb", "{}")
        zf.writestr("dup_115_9015_hw1.ipynb", '{"cells": []}')
    # UTF-8 bytes stored without the UTF-8 flag, as many zip tools do
    path.write_bytes(path.read_bytes().replace(placeholder, chinese))
    staging = tmp_path / "staging"
    inv = discover(path, staging)
    subs = by_key(inv)
    assert "zoë" in subs and subs["zoë"].primary.rel == "zoë_111_9011_übung.ipynb"
    assert "李雷" in subs
    evil = subs["evil"].primary
    assert evil.rel == "evil_113_9013_hw1.py" and staging in evil.path.parents
    assert any("unsafe path" in n for n in inv.notes)
    assert "linky" not in subs and any("symbolic link" in why for _, why in inv.strays)
    assert any("several entries named dup_115_9015_hw1.ipynb" in n for n in subs["dup"].notes)
    for s in inv.submissions:
        for f in s.files:
            assert staging in f.path.resolve().parents


def test_oversized_zip_member_becomes_an_unreadable_file(tmp_path, monkeypatch):
    monkeypatch.setattr(layouts, "MAX_MEMBER_BYTES", 100)
    inv = discover(make_zip(tmp_path / "c.zip", {"big_1_2_hw.ipynb": "x" * 1000, "ok_3_4_hw.ipynb": "{}"}),
                   tmp_path / "staging")
    subs = by_key(inv)
    assert "not extracted" in subs["big"].primary.problem and subs["ok"].primary.problem is None


def test_pick_primary_and_safe_keys():
    f = layouts.FoundFile
    primary, rest = pick_primary([f("a/notes.txt", Path("x")), f("a/hw.py", Path("y")), f("a/hw.ipynb", Path("z"))])
    assert primary.rel == "a/hw.ipynb" and [r.rel for r in rest] == ["a/hw.py", "a/notes.txt"]
    assert pick_primary([]) == (None, [])
    assert safe_key("Jane Doe") == "Jane_Doe" and safe_key("../../etc") == "etc" and safe_key("...") == "student"
    assert safe_key("Zoë Ångström") == "Zoë_Ångström" and "/" not in safe_key("a/b\\c")
