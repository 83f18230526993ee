"""Gradescope: ``grader gradescope build`` writes an autograder zip; inside Gradescope,
``run_autograder`` calls ``grader gradescope run``, which grades the one submission in
``/autograder/submission`` with this grader and writes ``/autograder/results/results.json``.

The zip holds ``setup.sh`` (installs Python, the pinned dependencies and the grader when
Gradescope builds the image), ``run_autograder``, ``grader_config.json`` (exercises, time
limit, device, visibility), ``requirements.txt`` and a wheel of this grader made from the
files installed here (code, exercises, reference solutions, templates), so Gradescope
grades with the same grader and exercises as ``grader check``. ``run_autograder`` reads
the root from ``$GRADER_AUTOGRADER_ROOT`` (default ``/autograder``) and the interpreter
from ``$GRADER_PYTHON`` (default ``/opt/grader-venv/bin/python``), so that it can be
tried against a fake root.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grader
from grader.assignment import read_toml
from grader.batch.wheel import build_wheel, requirements
from grader.errors import GraderError

DEFAULT_ROOT = "/autograder"
ASSIGNMENT_DIR = "assignment"  # in the zip: the assignment.toml and its extensions file
CONFIG = "grader_config.json"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
PYTHON=""
for candidate in python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then
  apt-get update -qq
  apt-get install -y -qq python3.11 python3.11-venv
  PYTHON=python3.11
fi
"$PYTHON" -m venv /opt/grader-venv
/opt/grader-venv/bin/pip install -q --upgrade pip
/opt/grader-venv/bin/pip install -q --index-url https://download.pytorch.org/whl/cpu "{torch}"
/opt/grader-venv/bin/pip install -q -r requirements.txt
/opt/grader-venv/bin/pip install -q --no-deps ./{wheel}
/opt/grader-venv/bin/python -m grader list
"""

# What results/results.json says when the grader could not write it (a printf format: %s is the status).
_NO_RESULTS_JSON = ('{"score": 0, "output": "The autograder could not run (status %s). '
                    'Please tell your instructor.", "tests": []}')
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. It always leaves results/results.json
# behind, even when Python itself cannot start.
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-/opt/grader-venv/bin/python}"
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
cd "$ROOT/source"
"$PYTHON" -m grader gradescope run --root "$ROOT"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
  printf '""" + _NO_RESULTS_JSON + """\\n' "$status" > "$ROOT/results/results.json"
fi
exit 0
"""


# ------------------------------------------------------------------ build
def build_autograder(out: Path, exercise_ids: Sequence[str] | None = None, timeout: float | None = None,
                     device: str | None = None, visibility: str = "visible", extra_requirements: Sequence[str] = (),
                     pm=None, assignment: str | Path | None = None, cell_timeout: float | None = None) -> Path:
    """Write the autograder zip and return its path. With an ``assignment`` (an
    ``assignment.toml``), the zip carries it (and its extensions file), and Gradescope's
    score is the assignment's: weighted, and after the late policy by the submission's time."""
    import tempfile

    from grader.assignment import open_assignment, select_for
    from grader.engine import exercise_registry
    from grader.options import check_device_name, make_limits
    from grader.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    course = open_assignment(assignment, pm)
    exercises = select_for(course, exercise_registry(pm), list(exercise_ids) if exercise_ids else None)
    if visibility not in VISIBILITIES:
        raise GraderError(f"unknown visibility {visibility!r} (choose from {', '.join(VISIBILITIES)})")
    make_limits(timeout, cell_timeout)  # refuses a limit that is not a positive number of seconds
    device = device or (course.device if course else None) or "cpu"
    check_device_name(pm, device)
    outside = [e.id for e in exercises if not e.module.startswith("grader.")]
    if outside:
        raise GraderError(f"exercise(s) {', '.join(outside)} come from a plugin outside the grader package; the "
                          f"autograder zip would not carry them (add the plugin with --requirement)")
    config = {"grader_version": grader.__version__, "exercises": [e.id for e in exercises],
              "timeout": timeout, "cell_timeout": cell_timeout, "device": device, "visibility": visibility,
              "assignment": ASSIGNMENT_DIR + "/" + course.path.name if course and course.path else None}
    pinned = requirements()
    torch = next((r for r in pinned if r.startswith("torch==")), "torch")
    pinned = [r for r in pinned if not r.startswith("torch==")] + list(extra_requirements)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_wheel(Path(scratch))
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            _add(zf, "setup.sh", SETUP_SH.replace("{torch}", torch).replace("{wheel}", wheel.name),
                 executable=True)
            _add(zf, "run_autograder", RUN_AUTOGRADER, executable=True)
            _add(zf, CONFIG, json.dumps(config, indent=2) + "\n")
            _add(zf, "requirements.txt", "\n".join(pinned) + "\n")
            zf.write(wheel, wheel.name)
            for name, data in _assignment_files(course).items():
                _add(zf, f"{ASSIGNMENT_DIR}/{name}", data)
    os.replace(tmp, out)
    return out


def _assignment_files(course) -> dict[str, bytes]:
    """The assignment file and the extensions file it names, for the zip."""
    if course is None or course.path is None:
        return {}
    files = {course.path.name: course.path.read_bytes()}
    data, _ = read_toml(course.path)
    extensions = data.get("extensions")
    if extensions:
        if Path(extensions).is_absolute() or ".." in Path(extensions).parts:
            raise GraderError(f"{course.path}: for the Gradescope zip, put the extensions file beside the "
                              f"assignment (extensions = \"extensions.csv\"), not at {extensions}")
        files[str(extensions)] = (course.path.parent / extensions).read_bytes()
    return files


def _add(zf: zipfile.ZipFile, name: str, data: str | bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


# ------------------------------------------------------------------ run (inside Gradescope)
def results_json(result: dict[str, Any], visibility: str, report_md: str) -> dict[str, Any]:
    """Gradescope's results.json for one graded submission: one test per check (one per
    exercise when it could not run or was not attempted)."""
    tests = []
    for n, e in enumerate(result["exercises"], start=1):
        if e["status"] != "graded" or not e.get("checks"):
            tests.append({"name": f"{e['title']} ({e['id']})", "number": str(n), "score": e["score"],
                          "max_score": e["max_score"], "status": "failed" if e["score"] < e["max_score"] else "passed",
                          "output": e.get("message") or e["status"].replace("_", " "), "visibility": visibility})
            continue
        for m, c in enumerate(e["checks"], start=1):
            output = c.get("message") or ""
            if c.get("hint") and c["status"] != "passed":
                output += f"\n\nHint: {c['hint']}"
            tests.append({"name": f"{e['id']}: {c['name']}", "number": f"{n}.{m}", "score": c["points"],
                          "max_score": c["max_points"], "status": "passed" if c["status"] == "passed" else "failed",
                          "output": output, "visibility": visibility})
    return {"score": result["score"], "execution_time": round(result.get("seconds", 0)), "output": report_md,
            "output_format": "md", "visibility": visibility, "stdout_visibility": "hidden", "tests": tests}


def _failure_json(message: str, exercises, visibility: str) -> dict[str, Any]:
    return {"score": 0, "output": message, "visibility": visibility, "stdout_visibility": "hidden",
            "tests": [{"name": f"{e.title} ({e.id})", "number": str(n), "score": 0, "max_score": e.points,
                       "status": "failed", "output": message, "visibility": visibility}
                      for n, e in enumerate(exercises, start=1)]}


def run_autograder(root: Path, exercise_ids: Sequence[str] | None = None, timeout: float | None = None,
                   pm=None) -> dict[str, Any]:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns what it wrote."""
    from grader.batch.layouts import _read_folder, pick_primary, stray_reason
    from grader.cache import write_text_atomic
    from grader.assignment import limits_for, open_assignment, select_for
    from grader.engine import exercise_registry, grade_submission
    from grader.options import resolve_device
    from grader.plugins import get_plugin_manager
    from grader.scoring import apply_assignment
    from grader.submission import load_submission

    root = Path(root).resolve()
    config_path = root / "source" / CONFIG
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    pm = pm or get_plugin_manager()
    course = open_assignment(root / "source" / config["assignment"], pm) if config.get("assignment") else None
    exercises = select_for(course, exercise_registry(pm), list(exercise_ids or config.get("exercises") or []) or None)
    visibility = config.get("visibility", "visible")
    seconds = timeout or config.get("timeout")
    cell = config.get("cell_timeout")
    limits = limits_for(course, float(seconds) if seconds else None, float(cell) if cell else None)
    submission_dir = root / "submission"
    found, _, _ = _read_folder(submission_dir, []) if submission_dir.is_dir() else ([], [], [])
    candidates = [f for f in found if not stray_reason(f.rel)]
    primary, others = pick_primary(candidates)
    if primary is None:
        data = _failure_json("No file was submitted: upload your notebook (.ipynb) or module (.py).", exercises,
                             visibility)
    else:
        try:  # a device this machine does not have is said in the results, never replaced by another
            device = resolve_device(pm, str(config.get("device") or (course.device if course else None) or "cpu"))
            submission = load_submission(primary.path, pm)
            result = grade_submission(submission, exercises, device=device, limits=limits,
                                      display_path=primary.rel).to_dict()
            if others:
                result["notes"] = [f"graded {primary.rel}; also submitted: {', '.join(f.rel for f in others)}",
                                   *result["notes"]]
            if course is not None:
                result = apply_assignment(result, course, lateness=gradescope_lateness(root, course, pm))
            report = pm.hook.grader_render_report(result=result, fmt="md", color=False)
            data = results_json(result, visibility, report)
        except GraderError as exc:
            data = _failure_json(str(exc).replace(str(primary.path), primary.rel), exercises, visibility)
    write_text_atomic(root / "results" / "results.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data


def gradescope_lateness(root: Path, course, pm=None) -> dict[str, Any]:
    """The submission's lateness from Gradescope's ``submission_metadata.json`` (its
    ``created_at`` and the submitters' ids, for their extensions); ``unknown`` without it."""
    from grader.lateness import assess
    from grader.when import parse_when

    try:
        meta = json.loads((Path(root) / "submission_metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    try:
        submitted = parse_when(str(meta.get("created_at") or ""), course.zone()) if meta.get("created_at") else None
    except ValueError:
        submitted = None
    users = [u for u in meta.get("users") or [] if isinstance(u, dict)]
    ids = {str(u.get(k)) for u in users for k in ("sid", "email", "name") if u.get(k)}
    extension = course.extension_for(ids)
    return assess(submitted, course.deadline, course.late, pm, extension=extension.deadline if extension else None,
                  time_source="submission_metadata.json (created_at)" if submitted else "")
