"""Shared test helpers: grade a submission written on the fly, with an isolated cache.

What a plugin author would need too lives in :mod:`grader.testing` (the warm worker
pool, grading, notebooks, reading results); the helpers here use it, so the grader's own
suite exercises it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# re-exported for the test files (``from conftest import notebook``...)
from grader.testing import checks_by_id as checks_by_id, exercise_result as exercise_result, notebook as notebook

os.environ.setdefault("GRADER_DISABLE_PLUGIN_AUTOLOAD", "1")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """One reference cache for the whole session, never the user's own."""
    path = tmp_path_factory.mktemp("grader-cache")
    old = os.environ.get("GRADER_CACHE_DIR")
    os.environ["GRADER_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GRADER_CACHE_DIR", None)
    else:
        os.environ["GRADER_CACHE_DIR"] = old


def write_submission(directory: Path, source: str, name: str = "submission.py") -> Path:
    path = Path(directory) / name
    path.write_text(textwrap.dedent(source) if name.endswith(".py") else source)
    return path


@pytest.fixture(scope="session", autouse=True)
def _close_worker_pool():
    yield
    from grader.testing import close_shared_pool

    close_shared_pool()


def worker_pool():
    """Two warm zygotes for the whole session (grade_jobs grades two at a time): grader.testing's
    shared pool, preloaded with every exercise's module, as `grader check` and `grader batch` are."""
    from grader.testing import shared_pool

    return shared_pool(2)


def grade(path: Path, *exercises: str, timeout: float | None = None, device: str = "cpu", limits=None,
          fresh: bool = False) -> dict:
    """Grade in-process through the engine (what `grader check` does) and return the JSON object
    (grader.testing.grade_file, with ``timeout`` for the whole submission). ``fresh`` starts a
    new interpreter for the worker instead of forking the warm zygote."""
    from grader.sandbox import Limits
    from grader.testing import grade_file

    limits = limits or Limits()
    if timeout is not None:
        limits.total_seconds = timeout
    return grade_file(path, *exercises, device=device, limits=limits, fresh=fresh)


def builtin_exercise(exercise_id: str):
    """The built-in Exercise ``exercise_id``, without loading third-party plugins."""
    from grader.engine import exercise_registry
    from grader.plugins import make_plugin_manager

    return exercise_registry(make_plugin_manager(autoload=False))[exercise_id]


def mutant_path(exercise_id: str, file_name: str) -> Path:
    """The path of one shipped mutant of a built-in exercise."""
    path = builtin_exercise(exercise_id).mutants / file_name
    assert path.is_file(), f"no mutant {file_name} for {exercise_id}"
    return path


def grade_jobs(jobs: dict[str, Path], exercise_id: str) -> dict[str, dict]:
    """Grade the exercise's reference first under "reference" (it fills the reference cache), then
    ``jobs`` two at a time; returns name -> result. A shipped mutant is graded with its own
    ``# probe-seconds:`` limit, as ``grader verify`` grades it."""
    from grader.sandbox import Limits
    from grader.verify import read_mutants

    exercise = builtin_exercise(exercise_id)
    probe_seconds = {m.path.resolve(): m.probe_seconds for m in read_mutants(exercise)}

    def run(path: Path) -> dict:
        return grade(path, exercise_id, limits=Limits(probe_seconds=probe_seconds.get(Path(path).resolve())))

    out = {"reference": grade(exercise.reference, exercise_id)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        out.update(zip(jobs, pool.map(run, jobs.values())))
    return out


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m grader ARGS` as a user would, capturing output."""
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def score_beside_machinery(result: dict, exercise: str) -> float:
    """The score of ``exercise`` in a submission whose other cells reach the interpreter's
    machinery (ctypes, say): the report says so, and the only points lost are those of the
    watched calls that could not be verified (grader.integrity). Returns the score with
    those points counted, what the functions themselves earn."""
    assert any("interpreter's machinery" in n for n in result["notes"]), result["notes"]
    found = exercise_result(result, exercise)
    unverified = [c for c in found["checks"] if "could not be verified" in c["message"]]
    lost = [c for c in found["checks"] if c["points"] < c["max_points"] and c not in unverified]
    assert lost == [], lost
    return found["score"] + sum(c["max_points"] - c["points"] for c in unverified)


def dump(result: dict) -> str:
    return json.dumps(result, indent=1)[:6000]
