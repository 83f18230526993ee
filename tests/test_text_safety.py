"""The trusted side never breaks on hostile text, and its reports never lie: lone
surrogates, control characters, Markdown and HTML in anything the student controls
(messages, output, cells, notes, file names), notebooks whose cells are not cells, and a
batch in which one row's feedback or one exporter fails."""

from __future__ import annotations

import csv
import json
import os
import re

import pytest

from grader.judging import compare_plain, describe
from grader.report import markdown_fence, markdown_text, render
from grader.text import article, display_name, printable
from conftest import REPO, run_cli

FAKE_TOTAL = "\x1b[2J\x1b[H\rTotal: 10 / 10"  # clear the screen, go home, print a fake total
MARKDOWN = ("````\n# Injected heading\n[click me](https://evil.example/a)\n![pixel](https://evil.example/p.png)\n"
            "<img src=https://evil.example/q.png>\nwww.evil.example $\\huge{10/10}$\n````")
ATTACK = f"raised ValueError: {FAKE_TOTAL}\n{MARKDOWN}\n\ud800 <script>alert(1)</script>"


def hostile_result() -> dict:
    """A result whose every student-controlled field carries the attacks."""
    checks = [{"id": "a", "name": "first", "status": "passed", "points": 1, "max_points": 1, "message": "ok",
               "hint": None},
              {"id": "b", "name": "second", "status": "error", "points": 0, "max_points": 9, "message": ATTACK,
               "hint": "mind the shape " + FAKE_TOTAL}]
    return {"grader_version": "1.0", "submission": "evil\x1b[2J\ud800.ipynb", "device": "cpu", "score": 1,
            "max_score": 20,
            "exercises": [{"id": "ex", "title": "Exercise", "status": "graded", "score": 1, "max_score": 10,
                           "message": "not defined: " + FAKE_TOTAL, "checks": checks},
                          {"id": "ex2", "title": "Other", "status": "error", "score": 0, "max_score": 10,
                           "message": "cell 2 raised " + ATTACK, "checks": []}],
            "notes": ["cell 1, line 1: skipped `" + FAKE_TOTAL + "`", "# " + MARKDOWN],
            "cells": [{"label": "cell 2", "line": 5, "status": "error", "message": ATTACK, "error": "ValueError"}],
            "sandbox": [], "output": FAKE_TOTAL * 3, "seconds": 1.0, "stops": []}


# ------------------------------------------------------------------ reports
def test_the_text_report_shows_escape_sequences_escaped_and_the_real_total_last():
    text = render(hostile_result(), "text", color=False)
    assert "\x1b" not in text and "\r" not in text
    assert "\\x1b[2J\\x1b[H\\rTotal: 10 / 10" in text  # shown, escaped
    lines = text.rstrip("\n").split("\n")
    assert lines[-1] == "Total: 1 / 20"
    unindented = [line for line in lines if line and not line.startswith(" ")]
    assert unindented == ["grader 1.0: evil\\x1b[2J\ufffd.ipynb (device cpu)", "Exercise [ex]  1 / 10",
                          "Other [ex2]  0 / 10", "Cells that did not run cleanly", "Notes", "Total: 1 / 20"]
    coloured = render(hostile_result(), "text", color=True)
    assert "\x1b" not in re.sub(r"\x1b\[\d+m", "", coloured)  # the only escapes are the grader's colours


def _outside_fences(md: str) -> list[str]:
    """The Markdown lines outside fenced code blocks (a fence closes only with a run of
    backticks at least as long as the one that opened it)."""
    outside, fence = [], None
    for line in md.split("\n"):
        run = re.match(r"^(`{3,})\s*$", line)
        if fence is None and run:
            fence = run.group(1)
        elif fence is not None and run and len(run.group(1)) >= len(fence):
            fence = None
        elif fence is None:
            outside.append(line)
    assert fence is None, "a fence was left open"
    return outside


def test_markdown_cannot_close_its_fences_or_inject_headings_links_or_images():
    md = render(hostile_result(), "md")
    outside = _outside_fences(md)
    assert [line for line in outside if line.startswith("#")] == [
        "# Grading report: evil\\\\x1b\\[2J\ufffd.ipynb", "## Exercise (ex): 1 / 10", "## Other (ex2): 0 / 10",
        "## Cells that did not run cleanly", "## Notes"]
    rest = "\n".join(outside)
    for syntax in (r"(?<!\\)!\[", r"(?<!\\)\]\(", r"(?<!\\)<(?!br>)", r"https?:(?!\\)//", r"(?<!\\)\$",
                   r"www\.evil"):
        assert not re.search(syntax, rest), (syntax, rest)
    assert "\x1b" not in md and "Injected heading" in md
    assert "**cell 2, line 5** (error):" in rest


def test_markdown_helpers_escape_inline_text_and_outgrow_backtick_runs():
    assert markdown_fence("a ````` b").startswith("``````\n")
    assert markdown_fence("plain") == "```\nplain\n```"
    assert markdown_text("1. *x* [a](b) <i> | https://e.x", starts_line=True) == \
        "1\\. \\*x\\* \\[a\\](b) \\<i\\> \\| https\\://e.x"


def test_html_stays_autoescaped():
    html = render(hostile_result(), "html")
    assert "<script" not in html and "<img" not in html and "&lt;img src=https://evil.example/q.png&gt;" in html
    assert "\x1b" not in html and "cell 2, line 5" in html


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json"])
def test_every_format_writes_lone_surrogates_as_replacement_characters(fmt):
    out = render(hostile_result(), fmt)
    out.encode("utf-8")  # no lone surrogate survives
    assert "\ufffd" in out


def test_a_note_that_repeats_a_cell_error_is_shown_once():
    result = hostile_result()
    result["cells"] = [{"label": "cell 3", "line": 2, "status": "stopped", "stop": "time_limit",
                        "message": "time limit of 2 s exceeded while running cell 3"}]
    result["notes"] = ["time limit of 2 s exceeded while running cell 3", "a note", "a note"]
    text = render(result, "text")
    assert text.count("time limit of 2 s exceeded") == 1 and text.count("a note") == 1
    assert "cell 3, line 2: stopped" in text


def test_printable_display_names_and_articles():
    assert printable("a\x1b[31mb\r\nc\u202ed\x85") == "a\\x1b[31mb\nc\\u202ed\\x85"
    assert printable("tab\tnew\nline", keep="") == "tab\\tnew\\nline"
    assert display_name(b"bad\xff\n.py") == "bad\ufffd\\n.py"
    assert display_name("lone\ud800.py") == "lone\ufffd.py"
    assert [f"{article(w)} {w}" for w in ("int", "ndarray", "uint8", "list", "OrderedDict", "float")] == [
        "an int", "an ndarray", "a uint8", "a list", "an OrderedDict", "a float"]
    assert describe(3) == "an int 3" and describe((1,)) == "a tuple (1,)"
    assert "expected an int 2; got a float 2.0" in compare_plain(2.0, 2).message


# ------------------------------------------------------------------ grader check on hostile notebooks
def hostile_notebook() -> str:
    """Cells that are no cells or whose source is no text, a lone surrogate in a source,
    and a function whose error message carries a fake total and a lone surrogate."""
    code = lambda source: {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": source}
    cells = [code(5), code([1, 2]), 3, "text", {"cell_type": "markdown", "metadata": {}, "source": "# hi"},
             code("# a lone surrogate: \ud800\nimport torch\n"),
             code("def mask_mean(mask):\n    raise ValueError('\\ud800 \\x1b[2J\\x1b[H\\r' + 'Total: 10 / 10\\x07')\n"),
             code("def batched_transpose(a):\n    return a.transpose(-2, -1)\n")]
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells})


def test_grader_check_grades_a_hostile_notebook_without_a_traceback(tmp_path):
    path = tmp_path / "hostile.ipynb"
    path.write_text(hostile_notebook())
    proc = run_cli("check", str(path), "-e", "tensor_ops")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stdout and proc.stdout.rstrip().split("\n")[-1] == "Total: 1.5 / 10"
    assert "✓ batched_transpose" in proc.stdout
    assert "raised ValueError: \ufffd \\rTotal: 10 / 10\\x07\n" in proc.stdout  # escape sequences removed
    for note in ("cell 1: its source is a number, not text; skipped",
                 "cell 2: its source is a list holding a number, not text; skipped",
                 "cell 3 is not a notebook cell (it is a number); skipped",
                 "cell 4 is not a notebook cell (it is text); skipped"):
        assert note in proc.stdout


def test_an_unexpected_error_is_one_line_and_exit_3(monkeypatch, capsys):
    from grader import cli
    from grader.states import ExitCode

    def broken(args):
        raise RuntimeError("boom \x1b[2J")

    monkeypatch.setattr(cli, "cmd_list", broken)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.main(["list"]) == ExitCode.INTERNAL == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "\x1b" not in err
    assert err.startswith("grader: internal error: RuntimeError: boom \\x1b[2J") and "GRADER_DEBUG=1" in err
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.main(["list"]) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


# ------------------------------------------------------------------ grader batch
def test_a_batch_never_dies_of_one_row(tmp_path):
    """Odd file names (not UTF-8, escape sequences, a formula), a hostile notebook, a
    notebook past the limits, a row whose feedback cannot be rendered and an exporter
    that fails: every submission gets a row, grades.csv and summary.html are written."""
    import grader
    from grader.batch.core import BatchOptions, run_batch
    from grader.plugins import make_plugin_manager

    class Breaks:
        @grader.hookimpl(tryfirst=True)
        def grader_render_report(self, result, fmt, color):
            if fmt == "html" and "explodes" in result["submission"]:
                raise RuntimeError("the feedback template broke")

        @grader.hookimpl
        def grader_export_batch(self, results, out_dir):
            raise RuntimeError("this exporter is broken")

    source = tmp_path / "class"
    source.mkdir()
    reference = (REPO / "reference" / "tensor_ops.py").read_bytes()
    (source / "hostile.ipynb").write_text(hostile_notebook())
    (source / "explodes.py").write_bytes(reference)
    (source / os.fsdecode(b"not-utf8-\xff.py")).write_bytes(reference)  # a file name that is not UTF-8
    (source / "esc\x1b[2J.py").write_bytes(reference)
    (source / "=cmd.py").write_bytes(reference)
    (source / "tiny.ipynb").write_text('{"cells": [' + "0," * 2_100_000 + "0]}")
    pm = make_plugin_manager(autoload=False)
    pm.register(Breaks(), name="breaks")
    out = tmp_path / "out"
    report = run_batch(BatchOptions(source=source, out=out, exercises=["tensor_ops"], jobs=2, progress="none"),
                       pm=pm)
    assert report.total == 6
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert len(rows) == 6
    assert rows["explodes"]["status"] == "grader_error" and "the feedback template broke" in rows["explodes"][
        "message"]
    assert rows["not-utf8"]["submission"] == "not-utf8-\ufffd.py" and rows["not-utf8"]["score"] == "10"
    assert rows["esc_x1b_2J"]["submission"] == "esc\\x1b[2J.py" and rows["esc_x1b_2J"]["score"] == "10"
    assert rows["cmd"]["submission"] == "'=cmd.py"
    assert rows["hostile"]["status"] == "graded" and rows["hostile"]["score"] == "1.5"
    assert rows["tiny"]["status"] == "unreadable" and "JSON values" in rows["tiny"]["message"]
    summary = (out / "summary.html").read_text(encoding="utf-8")
    assert "this exporter is broken" in summary and "explodes" in summary
    assert json.loads((out / "batch.json").read_text(encoding="utf-8"))["counts"]["graded"] == 4
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(
        f"{key}.html" for key in rows if key != "explodes")
