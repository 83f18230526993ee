"""summary.html as an instructor sees it: the hint table counts students, and the page is
laid out in a real headless Chromium at 1200 px (the whole per-student table, Status
column included, without scrolling) and at a phone's width (nothing wider than the
screen; the Status column in view). The layout tests skip where no Chromium is installed
(``apt-get install chromium``); they measure the layout, they do not compare pictures."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.batch.summary import build_context, write_summary

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")

#: the catalogue's ids, the longest column headers a class summary has
EXERCISE_IDS = ("tensor_ops", "broadcasting", "manual_backprop", "mlp", "digits_classifier", "checkpoint",
                "gpu_transfer", "minibatch", "early_stopping", "regularization", "kfold_cv")
STARTER_HINT = "this is still the starter's stub: replace `raise NotImplementedError` with your code"

#: injected into a copy of the page: what the layout is, written where --dump-dom shows it
MEASURE = """<script>
window.addEventListener("load", () => {
  const tables = [...document.querySelectorAll("table")];
  const students = tables.find(t => [...t.querySelectorAll("th")].some(th => th.textContent.trim() === "Score"));
  const status = [...students.querySelectorAll("th")].find(th => th.textContent.trim() === "Status");
  const box = students.parentElement;
  const rect = r => ({left: r.left, right: r.right});
  const m = {viewport: window.innerWidth, page: document.documentElement.scrollWidth,
             status: rect(status.getBoundingClientRect()), box: rect(box.getBoundingClientRect()),
             box_client: box.clientWidth, box_scroll: box.scrollWidth,
             svgs: [...document.querySelectorAll("svg")].map(s => rect(s.getBoundingClientRect()))};
  const text = JSON.stringify(m);
  if (window.parent !== window) { window.parent.postMessage(text, "*"); }
  document.body.setAttribute("data-measure", text);
});
</script>"""
#: a page that shows the summary in a frame of the given width (headless windows are at least 500 px wide)
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:900px;border:0"></iframe>
<script>window.addEventListener("message", e => document.body.setAttribute("data-measure", e.data));</script>
</body></html>"""


def _exercise_result(index: int, exercise_id: str, student: int) -> dict:
    untouched = student == 0  # the starter as it was handed out: every check fails with the stub's hint
    checks = []
    for c in range(4):
        failed = untouched or (student + c + index) % 5 == 0
        checks.append({"id": f"{exercise_id}.check{c}", "name": f"check {c} of {exercise_id}",
                       "status": "failed" if failed else "passed", "points": 0.0 if failed else 2.5,
                       "max_points": 2.5, "message": "", "hint": STARTER_HINT if untouched else None})
    score = sum(c["points"] for c in checks)
    return {"id": exercise_id, "title": exercise_id.replace("_", " "), "status": "graded", "score": score,
            "max_score": 10.0, "checks": checks}


def _records(count: int = 24) -> list[dict]:
    records = []
    for student in range(count):
        exercises = [_exercise_result(i, e, student) for i, e in enumerate(EXERCISE_IDS)]
        status = "timeout" if student == 5 else "graded"
        records.append({
            "student": f"student_with_a_long_login_{student:03d}", "score": sum(x["score"] for x in exercises),
            "max_score": 110.0, "exercises": exercises,
            "batch": {"status": status, "message": "stopped at the time limit" if status == "timeout" else "",
                      "name": f"Firstname Averylongfamilyname {student}", "late": student % 7 == 3, "notes": [],
                      "feedback": f"feedback/student_{student:03d}.html", "has_score": True},
        })
    return records


def _inventory() -> SimpleNamespace:
    return SimpleNamespace(layout="flat", source="/courses/deep-learning/2024/homework-3/submissions", strays=[],
                           notes=[])


def _exercises() -> list[SimpleNamespace]:
    return [SimpleNamespace(id=e, title=e.replace("_", " "), points=10.0) for e in EXERCISE_IDS]


def test_the_hint_table_counts_students_not_checks():
    context = build_context(_records(), _inventory(), _exercises())
    starter = [h for h in context["hints"] if h["hint"] == STARTER_HINT]
    assert starter, context["hints"]
    # one untouched starter got the stub's hint on 44 checks: it is one student per exercise
    assert {h["count"] for h in starter} == {1}


def _measure(tmp_path: Path, width: int) -> dict:
    out = tmp_path / f"class-{width}"
    out.mkdir()
    page = write_summary(out, _records(), _inventory(), _exercises())
    measured = out / "measured.html"
    measured.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    frame = out / "frame.html"
    frame.write_text(FRAME.format(src=measured.name, width=width), encoding="utf-8")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--allow-file-access-from-files", f"--user-data-dir={tmp_path / f'profile-{width}'}",
               f"--window-size={max(width, 500) + 40},1000", "--virtual-time-budget=10000", "--dump-dom",
               frame.as_uri()]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    match = re.search(r'<body[^>]*data-measure="([^"]*)"', proc.stdout)
    assert match, f"no measurement from Chromium (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


@needs_chromium
def test_at_1200_px_the_whole_student_table_fits(tmp_path):
    m = _measure(tmp_path, 1200)
    assert m["viewport"] == 1200, m
    assert m["page"] <= m["viewport"], m  # the page itself does not scroll sideways
    assert m["box_scroll"] <= m["box_client"], m  # nor does the table: every column is in view
    assert 0 <= m["status"]["left"] and m["status"]["right"] <= m["viewport"], m


@needs_chromium
def test_at_a_phone_width_nothing_is_wider_than_the_screen(tmp_path):
    m = _measure(tmp_path, 375)
    assert m["viewport"] == 375, m
    assert m["page"] <= m["viewport"], m  # wide tables scroll inside their box, the page does not
    assert m["box"]["right"] <= m["viewport"], m
    assert 0 <= m["status"]["left"] and m["status"]["right"] <= m["viewport"], m  # Status in view without scrolling
    assert all(s["right"] <= m["viewport"] for s in m["svgs"]), m  # the charts shrink to the screen
