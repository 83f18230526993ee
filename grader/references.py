"""The reference solutions' observations: computed in the sandbox like a student's,
once per grading-code fingerprint, torch version and device, then read from the cache.

A reference run that fails, times out or misses a probe is an error of the grader (never
cached): the exercise's reference must work wherever the grader is installed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from grader import cache
from grader.codec import Malformed, Raised, decode
from grader.errors import GraderError
from grader.results import Stop
from grader.exercise import Exercise
from grader.sandbox import Limits, RunOutcome, run_in_sandbox
from grader.sandbox.launch import WorkerPool
from grader.submission import Submission, load_module

_lock = threading.Lock()


def torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_path(exercise: Exercise, device: str) -> Path:
    key = f"{exercise.id}-{exercise.fingerprint()}-torch{torch_version()}-{device}"
    return cache.cache_dir() / "reference" / f"{re.sub(r'[^A-Za-z0-9_.+-]', '_', key)}.json"


def _decoded(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    try:
        return {probe: {k: decode(v) for k, v in values.items()} for probe, values in raw.items()}
    except (Malformed, AttributeError, RecursionError):
        return None


def _why(stop: Stop | None, raised: Raised | None) -> str:
    """What went wrong: the stop's message, else what was raised."""
    if stop:
        return stop.message
    return raised.describe() if raised else ""


def _problems(outcome: RunOutcome, expected: int) -> str | None:
    problems = [f"{k[0]}.{k[1]}: {_why(p.stop, p.failure)}" for k, p in outcome.probes.items() if p.stop or p.failure]
    problems += [f"unit {i}: {_why(u.stop, u.error)}" for i, u in outcome.units.items() if u.stop or u.error]
    problems += [f"{k[0]}.{k[1]}: {key}: {value.message}" for k, p in outcome.probes.items()
                 for key, value in p.observations.items() if isinstance(value, Raised) and value.timed_out]
    if outcome.fatal:
        return outcome.fatal.message
    if problems:
        return "; ".join(problems)
    if len(outcome.probes) != expected:
        return "probes missing"
    return None


def _run(missing: Sequence[Exercise], device: str, limits: Limits, view: dict, pool: WorkerPool | None,
         specs_for) -> dict[str, dict[str, dict[str, Any]]]:
    """Run the missing references (and their inspectors): exercise -> probe -> raw observations."""
    from grader.engine import inspect_outcome

    units, files = [], {}
    for exercise in missing:
        reference = load_module(exercise.reference)
        if reference.syntax_error:
            raise GraderError(f"the reference solution of {exercise.id} does not parse: {reference.syntax_error}")
        units.extend(reference.units)
        files.update(reference.files)
    combined = Submission(path=Path("reference.py"), kind="module", units=units, files=files).to_request()
    ref_limits = Limits(**{**limits.to_dict(), "probe_seconds": None, "exercise_probe_seconds": {}})
    specs = specs_for(missing, ref_limits, device)
    outcome = run_in_sandbox(combined, specs, device=device, limits=ref_limits, view=view, pool=pool,
                             names=sorted({n for e in missing for n in e.names}))
    problem = _problems(outcome, len(specs))
    if problem is None:
        problem = inspect_outcome(missing, outcome, device, ref_limits, view, pool)
    if problem is not None:
        raise GraderError(f"a reference solution failed in the sandbox: {problem}")
    return {e.id: {k[1]: p.raw for k, p in outcome.probes.items() if k[0] == e.id} for e in missing}


def reference_observations(exercises: Sequence[Exercise], device: str, limits: Limits, view: dict,
                           pool: WorkerPool | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """exercise id -> probe -> decoded observations of its reference, from the cache or
    computed (all the missing ones in one sandboxed run)."""
    from grader.engine import probe_specs

    found: dict[str, dict[str, dict[str, Any]]] = {}
    missing: list[Exercise] = []
    for exercise in exercises:
        cached = cache.read_json(cache_path(exercise, device))
        decoded = _decoded(cached) if isinstance(cached, dict) else None
        if decoded is None:
            missing.append(exercise)
        else:
            found[exercise.id] = decoded
    if not missing:
        return found
    for exercise_id, raw in _run(missing, device, limits, view, pool, probe_specs).items():
        with _lock:
            cache.write_json_atomic(cache_path(next(e for e in missing if e.id == exercise_id), device), raw)
        found[exercise_id] = _decoded(raw) or {}
    return found
