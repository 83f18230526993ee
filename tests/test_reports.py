"""Renderers read only the result dict; HTML escapes everything the student controls."""

from grader.report import render

RESULT = {
    "grader_version": "0.1.0", "submission": "s<1>.ipynb", "device": "cpu", "score": 1.5, "max_score": 10,
    "exercises": [{"id": "tensor_ops", "title": "Tensors", "status": "graded", "score": 1.5, "max_score": 10,
                   "message": "", "checks": [
                       {"id": "a", "name": "first", "status": "passed", "points": 1.5, "max_points": 1.5,
                        "message": "ok", "hint": None},
                       {"id": "b", "name": "second", "status": "failed", "points": 0, "max_points": 8.5,
                        "message": "raised ValueError: <script>alert('x')</script>", "hint": "use <b>keepdim</b>"},
                   ]}],
    "notes": ["cell 2, line 1: skipped `%matplotlib inline`"], "cells": [
        {"label": "cell 3", "status": "error", "message": "NameError: name '<img>' is not defined"}],
    "sandbox": [], "output": "", "seconds": 1.0,
}


def test_html_is_self_contained_and_escapes_student_text():
    html = render(RESULT, "html")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "&lt;img&gt;" in html and "use &lt;b&gt;keepdim&lt;/b&gt;" in html
    assert "<link" not in html and "http" not in html.replace("http-equiv", "")


def test_text_uses_colour_only_when_asked():
    plain = render(RESULT, "text", color=False)
    assert "\033[" not in plain
    assert "✗ second" in plain and "hint: use <b>keepdim</b>" in plain and "Total: 1.5 / 10" in plain
    assert "cell 3" in plain and "%matplotlib" in plain
    assert "\033[32m" in render(RESULT, "text", color=True)


def test_markdown_has_a_table_and_the_hint():
    md = render(RESULT, "md")
    assert "| ✓ | first | 1.5 / 1.5 |" in md
    assert "> **Hint:** use \\<b\\>keepdim\\</b\\>" in md  # shown as written, not as HTML
