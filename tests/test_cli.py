"""`grader check` as docs/interfaces.md specifies it: exit codes, JSON on stdout, formats."""

import json
import time

import jsonschema
import pytest

from conftest import REPO, run_cli, write_submission

CHECK_SCHEMA = {
    "type": "object",
    "required": ["status", "points", "max_points", "message", "hint", "id", "name"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "status": {"enum": ["passed", "failed", "error", "skipped"]},
        "points": {"type": "number"}, "max_points": {"type": "number"},
        "message": {"type": "string"}, "hint": {"type": ["string", "null"]},
    },
}
RESULT_SCHEMA = {
    "type": "object",
    "required": ["grader_version", "submission", "device", "score", "max_score", "exercises"],
    "properties": {
        "grader_version": {"type": "string"}, "submission": {"type": "string"}, "device": {"type": "string"},
        "score": {"type": "number"}, "max_score": {"type": "number"},
        "exercises": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "status", "score", "max_score", "checks"],
            "properties": {
                "id": {"type": "string"}, "status": {"enum": ["graded", "not_attempted", "error"]},
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "checks": {"type": "array", "items": CHECK_SCHEMA},
            },
        }},
    },
}

EXAMPLE = "examples/submission.ipynb"


@pytest.fixture(scope="module")
def example_json():
    proc = run_cli("check", EXAMPLE, "--format", "json", "-e", "tensor_ops", "-e", "broadcasting", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # nothing else on stdout


def test_json_output_follows_the_interface(example_json):
    jsonschema.validate(example_json, RESULT_SCHEMA)
    assert example_json["submission"] == EXAMPLE
    assert example_json["device"] == "cpu"
    assert [e["id"] for e in example_json["exercises"]] == ["tensor_ops", "broadcasting"]
    assert example_json["score"] == example_json["max_score"] == 20
    for exercise in example_json["exercises"]:
        assert sum(c["points"] for c in exercise["checks"]) == exercise["score"]


def test_fail_under_exits_1_only_when_below(tmp_path):
    path = write_submission(tmp_path, "def mask_mean(mask):\n    return mask.mean()\n")
    low = run_cli("check", str(path), "-e", "tensor_ops", "--fail-under", "5", "--format", "json")
    assert low.returncode == 1 and json.loads(low.stdout)["score"] == 0
    ok = run_cli("check", str(path), "-e", "tensor_ops", "--fail-under", "0")
    assert ok.returncode == 0


@pytest.mark.parametrize("args, content, message", [
    (["check", "{dir}/missing.ipynb"], None, "no such file"),
    (["check", "{dir}/paper.ipynb"], b"%PDF-1.5\n%\xb5\xb5\xb5\xb5\n", "not a Jupyter notebook"),
    (["check", "{dir}/empty.ipynb"], b"", "empty"),
    (["check", "{dir}/notes.txt"], b"hello", "not a submission the grader can read"),
    (["check", "{dir}/s.py", "-e", "no_such_exercise"], b"x = 1", "unknown exercise"),
    (["check", "{dir}/s.py", "--format", "pdf"], b"x = 1", "unknown format"),
    (["check", "{dir}/s.py", "--device", "tpu"], b"x = 1", "unknown device"),
    (["check"], None, "required"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, args, content, message):
    if content is not None:
        (tmp_path / args[1].split("/")[-1]).write_bytes(content)
    proc = run_cli(*[a.format(dir=tmp_path) for a in args])
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grader: error:") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt, marker", [("html", "<!DOCTYPE html>"), ("md", "# Grading report"),
                                         ("text", "Total: 10 / 10")])
def test_reports_can_be_written_to_a_file(tmp_path, fmt, marker):
    out = tmp_path / f"report.{fmt}"
    proc = run_cli("check", str(REPO / "reference" / "tensor_ops.py"), "-e", "tensor_ops", "--format", fmt,
                   "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert marker in out.read_text()
    assert "\033[" not in out.read_text()  # no colour codes in files


def test_list_names_every_builtin_exercise():
    proc = run_cli("list")
    assert proc.returncode == 0
    assert "tensor_ops" in proc.stdout and "broadcasting" in proc.stdout and "builtin" in proc.stdout


@pytest.mark.parametrize("command", ["check", "batch"])
def test_cell_timeout_is_documented_in_help(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    assert "--cell-timeout S" in proc.stdout
    assert "CPU-time limit for each top-level statement" in " ".join(proc.stdout.split())


def test_cell_timeout_stops_one_statement_and_the_rest_is_graded(tmp_path):
    from conftest import notebook

    path = tmp_path / "nb.ipynb"
    path.write_text(notebook("import torch\nwhile True:\n    pass\n"
                             "def mask_mean(mask):\n    return mask.float().mean()"))
    started = time.monotonic()
    proc = run_cli("check", str(path), "-e", "tensor_ops", "--cell-timeout", "1", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 25  # the default (30 s of CPU) would not have stopped it yet
    result = json.loads(proc.stdout)
    assert [(c["label"], c["line"], c.get("stop")) for c in result["cells"]] == [("cell 1", 2, "time_limit")]
    assert "time limit of 1 s" in result["cells"][0]["message"]
    mask_mean = [c for c in result["exercises"][0]["checks"] if c["id"].startswith("mask_mean.")]
    assert mask_mean and all(c["status"] == "passed" for c in mask_mean)
    bad = run_cli("check", str(path), "--cell-timeout", "0")
    assert bad.returncode == 2 and "--cell-timeout must be a positive number" in bad.stderr


def test_grader_sandbox_reports_what_the_sandbox_does():
    proc = run_cli("sandbox", "--format", "json")
    report = json.loads(proc.stdout)
    from grader.sandbox.diagnose import missing_protections

    assert proc.returncode == (1 if missing_protections(report) or report.get("problem") else 0), proc.stderr
    assert report["grader"] and report["fingerprints"]["tensor_ops"]
    text = run_cli("sandbox")
    assert "seccomp filter" in text.stdout and "exercise fingerprints:" in text.stdout
