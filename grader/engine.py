"""Grading one submission: load, run in the sandbox, judge every check on the trusted side."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import grader
from grader import cache
from grader.codec import decode, encode
from grader.errors import GraderError
from grader.exercise import CheckContext, Exercise, StudentFailed, Verdict
from grader.plugins import DEFAULT_PLUGINS, get_plugin_manager
from grader.results import (ERROR, FAILED, GRADED, NOT_ATTEMPTED, PASSED, SKIPPED, CheckResult, ExerciseResult,
                            GradeResult)
from grader.sandbox import Limits, RunOutcome, run_in_sandbox
from grader.sandbox.launch import WorkerPool
from grader.static import StudentSource
from grader.submission import Submission, load_module, load_submission


def exercise_registry(pm=None) -> dict[str, Exercise]:
    pm = pm or get_plugin_manager()
    registry: dict[str, Exercise] = {}
    for plugin_exercises in pm.hook.grader_exercises():
        for exercise in plugin_exercises or ():
            if exercise.id in registry:
                raise GraderError(f"two plugins define the exercise id {exercise.id!r}")
            registry[exercise.id] = exercise
    # the built-ins in catalogue order, then everyone else's by id (pluggy calls plugins
    # in reverse registration order, which is no order a reader expects)
    catalogue = {name: i for i, name in enumerate(DEFAULT_PLUGINS)}
    return dict(sorted(registry.items(), key=lambda item: (catalogue.get(item[0], len(catalogue)), item[0])))


def select_exercises(registry: dict[str, Exercise], ids: Sequence[str] | None) -> list[Exercise]:
    if not ids:
        return list(registry.values())
    unknown = [i for i in ids if i not in registry]
    if unknown:
        raise GraderError(f"unknown exercise id(s): {', '.join(unknown)} (known: {', '.join(registry)})")
    return [registry[i] for i in dict.fromkeys(ids)]


def probe_specs(exercises: Sequence[Exercise], limits: Limits, device: str = "cpu") -> list[dict[str, Any]]:
    specs = []
    for e in exercises:
        inputs = {k: encode(v) for k, v in e.make_inputs(device).items()}
        specs += [{"exercise": e.id, "probe": p.name, "module": e.module, "names": list(e.names),
                   "timeout": limits.probe_seconds or p.timeout, "inputs": inputs} for p in e.probes.values()]
    return specs


def hidden_paths(exercises: Sequence[Exercise], extra: Sequence[Path] = ()) -> list[str]:
    """What the sandbox must not see: the grader, exercises and references, the caches,
    the folder the submissions come from, the user's home and working folder."""
    paths = {Path(grader.__file__).resolve().parent, cache.cache_dir(), Path.cwd(), Path.home()}
    for e in exercises:
        paths.add(e.reference.resolve().parent)
        # the file itself too (and its bytecode): covered even where its folder must stay
        # visible (a folder on the worker's sys.path)
        paths.add(e.reference.resolve())
        paths.add(Path(importlib.util.cache_from_source(str(e.reference.resolve()))))
        module = sys.modules.get(e.module)
        if module is not None and getattr(module, "__file__", None):
            paths.add(Path(module.__file__).resolve().parent)
        paths.update(e.hidden_paths)
    paths.update(Path(p) for p in extra)
    return sorted(str(p) for p in paths)


# --------------------------------------------------------------------------- references
def torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "unknown"


_reference_lock = threading.Lock()


def _reference_cache_path(exercise: Exercise, device: str) -> Path:
    key = f"{exercise.id}-{exercise.fingerprint()}-g{grader.__version__}-torch{torch_version()}-{device}"
    return cache.cache_dir() / "reference" / f"{re.sub(r'[^A-Za-z0-9_.+-]', '_', key)}.json"


def reference_observations(exercises: Sequence[Exercise], device: str, limits: Limits,
                           hide: list[str], pool: WorkerPool | None = None) -> dict[str, dict[str, Any]]:
    """Each reference solution's observations for every probe of its exercise: computed
    once per grader version, torch version, device and exercise fingerprint (all the
    missing ones in one sandboxed run), then read from the cache."""
    found: dict[str, dict[str, Any]] = {}
    missing: list[Exercise] = []
    for exercise in exercises:
        cached = cache.read_json(_reference_cache_path(exercise, device))
        if isinstance(cached, dict):
            found[exercise.id] = cached
        else:
            missing.append(exercise)
    if not missing:
        return found
    units, files = [], {}
    for exercise in missing:
        reference = load_module(exercise.reference)
        if reference.syntax_error:
            raise GraderError(f"the reference solution of {exercise.id} does not parse: {reference.syntax_error}")
        units.extend(reference.units)
        files.update(reference.files)
    combined = Submission(path=Path("reference.py"), kind="module", units=units, files=files).to_request()
    ref_limits = Limits(**{**limits.to_dict(), "probe_seconds": None})
    outcome = run_in_sandbox(combined, probe_specs(missing, ref_limits, device), device=device, limits=ref_limits,
                             names=sorted({n for e in missing for n in e.names}), hide=hide, pool=pool)
    problems = [f"{k[0]}.{k[1]}: {v.get('stopped') or v.get('failure')}" for k, v in outcome.probes.items()
                if v.get("stopped") or v.get("failure")]
    problems += [f"{u}: {v.get('stopped') or v.get('error')}" for u, v in outcome.units.items()
                 if v.get("stopped") or v.get("error")]
    expected_count = sum(len(e.probes) for e in missing)
    if outcome.fatal or problems or len(outcome.probes) != expected_count:
        raise GraderError(f"a reference solution failed in the sandbox: "
                          f"{outcome.fatal or '; '.join(map(str, problems)) or 'probes missing'}")
    for exercise in missing:
        observations = {k[1]: v["observations"] for k, v in outcome.probes.items() if k[0] == exercise.id}
        with _reference_lock:
            cache.write_json_atomic(_reference_cache_path(exercise, device), observations)
        found[exercise.id] = observations
    return found


# --------------------------------------------------------------------------- judging
@dataclass
class _Judged:
    status: str
    verdict: Verdict


def _judge_check(check, exercise: Exercise, outcome: RunOutcome, expected: dict[str, Any],
                 source: StudentSource, device: str, defined: set[str], results: dict[str, CheckResult],
                 load_errors: list[str]) -> _Judged:
    failed_deps = [d for d in check.depends if results.get(d) is None or results[d].status != PASSED]
    if failed_deps:
        return _Judged(SKIPPED, Verdict(False, f"skipped: it needs {', '.join(failed_deps)} to pass first"))
    missing = [n for n in check.requires if n not in defined]
    if missing:
        where = f" ({'; '.join(load_errors)})" if load_errors else ""
        return _Judged(FAILED, Verdict(False, f"`{missing[0]}` is not defined at the top level of the "
                                              f"submission{where}"))
    got: dict[str, Any] = {}
    if check.probe is not None:
        run = outcome.probes.get((exercise.id, check.probe))
        if run is None:
            return _Judged(ERROR, Verdict(False, outcome.fatal or "the grader could not run this check"))
        if run.get("stopped"):
            return _Judged(ERROR, Verdict(False, f"stopped: {run['stopped']}"))
        got = {k: decode(v) for k, v in run["observations"].items()}
        if run.get("failure"):
            failure = decode(run["failure"])
            got.setdefault("__probe_failure__", failure)
    ctx = CheckContext(got_observations=got, expected_observations={k: decode(v) for k, v in
                                                                    expected.get(check.probe, {}).items()},
                       source=source, device=device, check=check)
    try:
        verdict = check.judge(ctx)
    except StudentFailed as failure:
        verdict = failure.verdict
    except Exception as exc:  # noqa: BLE001 - a judge must never take the whole report down
        probe_failure = got.get("__probe_failure__")
        if probe_failure is not None:
            verdict = ctx.raised_verdict(probe_failure)
        else:
            verdict = Verdict(False, f"the grader could not judge this check ({type(exc).__name__}: {exc})",
                              status=ERROR)
    if verdict.passed and verdict.fraction is None:
        return _Judged(PASSED, verdict)
    status = verdict.status or (PASSED if verdict.credit >= 1.0 else FAILED)
    return _Judged(status, verdict)


def judge_exercise(exercise: Exercise, outcome: RunOutcome, expected: dict[str, Any], source: StudentSource,
                   device: str, load_errors: list[str]) -> ExerciseResult:
    defined = set(outcome.defined or [])
    base = dict(id=exercise.id, title=exercise.title, max_score=exercise.points)
    if outcome.defined is None:
        return ExerciseResult(**base, status=ERROR, score=0.0,
                              message=outcome.fatal or "the submission could not be run")
    if not defined & set(exercise.names):
        return ExerciseResult(**base, status=NOT_ATTEMPTED, score=0.0,
                              message=f"none of {', '.join(exercise.names)} is defined")
    results: dict[str, CheckResult] = {}
    for check in exercise.checks:
        judged = _judge_check(check, exercise, outcome, expected, source, device, defined, results, load_errors)
        credit = judged.verdict.credit if judged.status in (PASSED, FAILED) else 0.0
        results[check.id] = CheckResult(id=check.id, name=check.name, status=judged.status,
                                        points=round(check.points * credit, 4), max_points=check.points,
                                        message=judged.verdict.message, hint=judged.verdict.hint)
    score = round(sum(r.points for r in results.values()), 4)
    missing = [n for n in exercise.names if n not in defined]
    message = f"not defined: {', '.join(missing)}" if missing else ""
    return ExerciseResult(**base, status=GRADED, score=score, message=message, checks=list(results.values()))


# --------------------------------------------------------------------------- the whole run
def _cell_report(submission: Submission, outcome: RunOutcome) -> tuple[list[dict[str, Any]], list[str]]:
    cells, errors = [], []
    for index, unit in enumerate(submission.units):
        state = outcome.units.get(index)
        if state is None:
            continue
        if state.get("stopped"):
            cells.append({"label": unit.label, "status": "stopped", "message": state["stopped"]})
            errors.append(f"{unit.label} was stopped and skipped: {state['stopped']}")
        elif state.get("error"):
            raised = decode(state["error"])
            cells.append({"label": unit.label, "status": "error", "message": raised.describe()})
            errors.append(f"{unit.label} raised {raised.type}: {raised.message[:200]}")
    return cells, errors


def _syntax_error_result(submission: Submission, exercises: Sequence[Exercise], device: str,
                         display: str) -> GradeResult:
    text = "\n".join(submission.files.values())
    results = []
    for e in exercises:
        attempted = any(re.search(rf"\b{re.escape(n)}\b", text) for n in e.names)
        results.append(ExerciseResult(id=e.id, title=e.title, status=ERROR if attempted else NOT_ATTEMPTED,
                                      score=0.0, max_score=e.points,
                                      message=submission.syntax_error if attempted else "not attempted"))
    return GradeResult(submission=display, device=device, exercises=results, notes=[submission.syntax_error])


def grade_submission(submission: Submission, exercises: Sequence[Exercise], *, device: str = "cpu",
                     limits: Limits | None = None, display_path: str | None = None,
                     extra_hidden: Sequence[Path] = (), pool: WorkerPool | None = None) -> GradeResult:
    limits = limits or Limits()
    display = display_path or str(submission.path)
    if submission.syntax_error:
        return _syntax_error_result(submission, exercises, device, display)
    hide = hidden_paths(exercises, [Path(submission.path).resolve().parent, *extra_hidden])
    expected: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def fetch_references() -> None:
        try:
            expected.update(reference_observations(exercises, device, limits, hide, pool))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    names = sorted({n for e in exercises for n in e.names})
    fetcher = threading.Thread(target=fetch_references)
    fetcher.start()
    outcome = run_in_sandbox(submission.to_request(), probe_specs(exercises, limits, device), names=names, device=device,
                             limits=limits, hide=hide, pool=pool)
    fetcher.join()
    if errors:
        raise errors[0]
    cells, load_errors = _cell_report(submission, outcome)
    source = StudentSource.from_units(submission.units)
    results = [judge_exercise(e, outcome, expected[e.id], source, device, load_errors) for e in exercises]
    notes = list(submission.notes) + load_errors
    if outcome.fatal and outcome.defined is not None:
        notes.append(outcome.fatal)
    return GradeResult(submission=display, device=device, exercises=results, notes=notes, cells=cells,
                       sandbox=outcome.sandbox, output=outcome.output[:4000], seconds=outcome.seconds,
                       resources={"attempts": outcome.attempts, "startup_seconds": round(outcome.startup_seconds, 3),
                                  "loading_seconds": round(outcome.loading_seconds, 3),
                                  "checking_seconds": round(outcome.checking_seconds, 3),
                                  "peak_memory_bytes": outcome.peak_memory_bytes})


def grade_path(path: str | os.PathLike, exercise_ids: Sequence[str] | None = None, *, device: str = "cpu",
               limits: Limits | None = None, pm=None, pool: WorkerPool | None = None) -> GradeResult:
    """Grade the submission file at ``path`` (what ``grader check`` does)."""
    pm = pm or get_plugin_manager()
    exercises = select_exercises(exercise_registry(pm), exercise_ids)
    chosen = pm.hook.grader_select_device(requested=device)
    if chosen is None:
        raise GraderError(f"unknown device {device!r} (choose cpu, cuda or auto)")
    submission = load_submission(Path(path), pm)
    return grade_submission(submission, exercises, device=chosen, limits=limits, display_path=str(path), pool=pool)
