"""Every hostile submission of the suite, and every broken file, in one `grader batch`:
the batch finishes, with one row per submission, grades.csv and summary.html written,
no traceback, and an honest classmate in the same batch keeps full marks."""

from __future__ import annotations

import csv
import json
import os

import pytest

import test_hostile as hostile
import test_trust as trust
from conftest import REPO, notebook, run_cli
from grader.states import RowStatus

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="the sandbox needs Linux")]


def hostile_sources() -> dict[str, str]:
    """Each hostile submission of tests/test_hostile.py and tests/test_trust.py, by a name."""
    found = {f"crash_{i}": source for i, (source, _) in enumerate(hostile.CRASHES.values())}
    for name in ("MEMORY_BOMB", "MEMFD_BOMB", "SYSV_BOMB", "MONKEYPATCHES", "SUBCLASS", "FAKE_FRAMES", "FORGER",
                 "SLEEPER", "CACHE_SNOOPER", "NETWORK", "HANGING_PROBES"):
        found[name.lower()] = getattr(hostile, name)
    found["spawner"] = hostile.SPAWNER.replace("{marker}", "hbatchmarker")
    found["writer"] = hostile.WRITER.replace("{targets!r}", repr(["/tmp/work/x.txt", "/etc/x", "/x"]))
    found["reader"] = hostile.READER.replace("{paths!r}", repr([str(REPO / "reference" / "tensor_ops.py")])).replace(
        "{folders!r}", repr([str(REPO)]))
    for name in ("FORGE_EMPTY_TENSORS", "CLOCK_TRICKS", "HOG"):
        found[name.lower()] = getattr(trust, name)
    found.update({f"watch_off_{i}": source for i, (_, source, _) in enumerate(trust.WATCH_OFF.values())})
    found.update({f"alias_{i}": source for i, source in enumerate(trust.ALIASES.values())})
    return found


BROKEN = {  # file name -> bytes: what an LMS export also holds
    "empty.ipynb": b"",
    "paper.ipynb": b"%PDF-1.5\n%\xb5\xb5\n",
    "numbers.ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [3]}).encode(),
    "latin1.py": "x = 'caf\xe9'\n".encode("latin-1"),
    os.fsdecode(b"name-\xff.py"): b"def mask_mean(mask):\n    return mask.float().mean()\n",
    "tiny.ipynb": ('{"cells": [' + "0," * 2_100_000 + "0]}").encode(),
    "syntax.py": b"def f(:\n",
}


def test_a_batch_of_every_hostile_and_broken_submission_finishes_with_a_row_each(tmp_path):
    source = tmp_path / "class"
    source.mkdir()
    for name, text in hostile_sources().items():
        (source / f"{name}.ipynb").write_text(notebook(text, hostile.CORRECT_TENSOR_OPS))
    for name, data in BROKEN.items():
        (source / name).write_bytes(data)
    (source / "honest.py").write_text((REPO / "reference" / "tensor_ops.py").read_text())
    out = tmp_path / "out"
    proc = run_cli("batch", str(source), "--out", str(out), "-e", "tensor_ops", "--jobs", "2", "--timeout", "40",
                   "--cell-timeout", "3", "--progress", "none")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(list(source.iterdir())), [r["student"] for r in rows]
    statuses = {r["student"]: r["status"] for r in rows}
    assert set(statuses.values()) <= {s.value for s in RowStatus} - {"not_graded"}, statuses
    assert [s for s, v in statuses.items() if v == "grader_error"] == [], rows
    assert statuses["empty"] == statuses["paper"] == "unreadable"
    assert next(r for r in rows if r["student"] == "honest")["score"] == "10"
    assert (out / "summary.html").stat().st_size > 0
    assert hostile.wait_until_gone("hbatchmarker") == []
