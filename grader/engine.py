"""Grading one submission: load, run in the sandbox, judge every check on the trusted side.

The steps, each its own module: the plugins give the exercises (:func:`exercise_registry`);
a loader reads the file into units (:mod:`grader.submission`); the sandbox runs the units
and the exercises' probes (:mod:`grader.sandbox`) while the references' observations are
read from the cache or computed (:mod:`grader.references`); inspectors look at what the
student's code wrote, in a fresh worker; :mod:`grader.judge` judges every check.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.codec import encode
from grader.errors import GraderError
from grader.exercise import Exercise
from grader.judge import Context, cell_report, judge_exercise, notes_for
from grader.references import reference_observations
from grader.results import GradeResult, Stop
from grader.sandbox import Limits, RunOutcome, run_in_sandbox
from grader.sandbox.launch import WorkerPool
from grader.sandbox.runner import ProbeRun
from grader.integrity import SEEN_WHILE_RUNNING, Finding, Integrity
from grader.static import StudentSource
from grader.submission import Submission, load_submission

__all__ = ["exercise_registry", "grade_path", "grade_submission", "probe_specs", "sandbox_view", "select_exercises"]


def exercise_registry(pm=None) -> dict[str, Exercise]:
    """Every exercise the plugins provide, by id: the built-ins first, in the order of the
    course (the built-in catalogue's own order), then the others by id."""
    from grader.plugins import exercises_by_plugin, get_plugin_manager, plugin_origin

    pm = pm or get_plugin_manager()
    registry: dict[str, Exercise] = {}
    origin: dict[str, str] = {}
    builtin: list[str] = []
    for plugin, exercises in exercises_by_plugin(pm):
        for exercise in exercises:
            where = f"{pm.get_name(plugin)} ({plugin_origin(pm, plugin)})"
            if exercise.id in registry:
                raise GraderError(f"two plugins define the exercise id {exercise.id!r}: {origin[exercise.id]} and "
                                  f"{where}; block one with -p no:NAME")
            registry[exercise.id], origin[exercise.id] = exercise, where
            if plugin_origin(pm, plugin) == "builtin":
                builtin.append(exercise.id)
    rank = {exercise_id: i for i, exercise_id in enumerate(builtin)}
    return dict(sorted(registry.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def select_exercises(registry: dict[str, Exercise], ids: Sequence[str] | None) -> list[Exercise]:
    if not ids:
        return list(registry.values())
    unknown = [i for i in ids if i not in registry]
    if unknown:
        raise GraderError(f"unknown exercise id(s): {', '.join(unknown)} (known: {', '.join(registry)})")
    return [registry[i] for i in dict.fromkeys(ids)]


def probe_specs(exercises: Sequence[Exercise], limits: Limits, device: str = "cpu") -> list[dict[str, Any]]:
    """The probes the sandbox runs for these exercises (inspectors run later, apart)."""
    specs = []
    for e in exercises:
        inputs = {k: encode(v) for k, v in e.make_inputs(device).items()}
        own = limits.exercise_probe_seconds.get(e.id) or limits.probe_seconds  # an assignment's, or verify's
        specs += [{"exercise": e.id, "probe": p.name, "module": e.module, "names": list(e.names),
                   "timeout": own or p.timeout, "prelude": p.prelude, "inputs": inputs,
                   "forbidden": [n for n in e.forbidden if "*" not in n]}
                  for p in e.probes.values() if p.inspects is None]
    return specs


def sandbox_view(exercises: Sequence[Exercise]) -> dict[str, Any]:
    """What the sandbox's filesystem shows besides Python and its core libraries (see
    :mod:`grader.sandbox.view`): the exercises' packages, files and hidden paths."""
    overrides: dict[str, str] = {}
    for e in exercises:
        if e.sandbox_files is not None:
            overrides.update({str(k): str(v) for k, v in e.sandbox_files().items()})
    return {"packages": sorted({p for e in exercises for p in e.packages}), "overrides": overrides,
            "hide": sorted({str(p) for e in exercises for p in e.hidden_paths})}


def inspect_outcome(exercises: Sequence[Exercise], outcome: RunOutcome, device: str, limits: Limits, view: dict,
                    pool: WorkerPool | None) -> str | None:
    """Run the exercises' inspectors in a fresh worker on what their probes recorded and
    add what they record to those probes' observations (``inspected.<key>``). Returns a
    problem description when an inspector itself failed (None when all went well)."""
    from grader.sandbox.observe import FileRead

    specs: list[dict[str, Any]] = []
    for e in exercises:
        for probe in e.probes.values():
            run = outcome.probes.get((e.id, probe.inspects or ""))
            if not probe.inspects or run is None or run.stop is not None:
                continue
            files = {f"measured.{k}": encode(v.data) for k, v in run.measured.items()
                     if isinstance(v, FileRead) and v.data is not None}
            if run.raw or files:  # the sandbox never sends inspected.* keys (the protocol refuses them)
                specs.append({"exercise": e.id, "probe": probe.name, "module": e.module, "names": [],
                              "timeout": probe.timeout, "prelude": True, "inputs": {**run.raw, **files}})
    if not specs:
        return None
    empty = Submission(path=Path("inspection.py"), kind="module", units=[], files={}).to_request()
    inspection = run_in_sandbox(empty, specs, names=[], device=device, limits=limits, view=view, pool=pool)
    problems = []
    for spec in specs:
        key = (spec["exercise"], spec["probe"])
        result = inspection.probes.get(key)
        target = outcome.probes[(spec["exercise"], spec["probe"][len("inspect."):])]
        if result is None or result.stop is not None:
            stop = result.stop if result is not None else inspection.fatal
            target.observations["inspected.__stopped__"] = stop.message if stop else "the inspection did not run"
            problems.append(f"{key[1]}: {target.observations['inspected.__stopped__']}")
            continue
        target.observations.update({f"inspected.{k}": v for k, v in result.observations.items()})
        target.raw.update({f"inspected.{k}": v for k, v in result.raw.items()})
    return "; ".join(problems) or None


def grade_submission(submission: Submission, exercises: Sequence[Exercise], *, device: str = "cpu",
                     limits: Limits | None = None, display_path: str | None = None,
                     pool: WorkerPool | None = None) -> GradeResult:
    limits = limits or Limits()
    display = display_path or str(submission.path)
    if submission.syntax_error:
        return _syntax_error_result(submission, submission.syntax_error, exercises, device, display)
    view = sandbox_view(exercises)
    expected: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def fetch_references() -> None:
        try:
            expected.update(reference_observations(exercises, device, limits, view, pool))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    fetcher = threading.Thread(target=fetch_references)
    fetcher.start()
    names = sorted({n for e in exercises for n in e.names})
    outcome = run_in_sandbox(submission.to_request(), probe_specs(exercises, limits, device), names=names,
                             device=device, limits=limits, view=view, pool=pool)
    inspect_outcome(exercises, outcome, device, limits, view, pool)
    fetcher.join()
    if errors:
        raise errors[0]
    return _result(submission, exercises, outcome, expected, device, display)


def _result(submission: Submission, exercises: Sequence[Exercise], outcome: RunOutcome,
            expected: dict[str, dict[str, Any]], device: str, display: str) -> GradeResult:
    cells, failed = cell_report(submission, outcome)
    ran = [u for i, u in enumerate(submission.units) if not (i in outcome.units and outcome.units[i].stop)]
    context = Context(outcome, StudentSource.from_units(submission.units), device, failed,
                      integrity=Integrity(StudentSource.from_units(ran)))
    results = [judge_exercise(e, context, expected.get(e.id, {})) for e in exercises]
    notes = list(submission.notes) + notes_for(submission, outcome, list(exercises), cells)
    seen = [Finding(n, SEEN_WHILE_RUNNING, True) for n in sorted({n for r in outcome.probes.values()
                                                                      for n in r.notices})]
    if context.integrity is not None and (context.integrity.machinery or seen):
        found = ", ".join(f.describe() for f in (context.integrity.machinery + seen)[:3])
        notes.append(f"the submission reaches the interpreter's machinery the grader watches with ({found}): "
                     "every call the grader watches for forbidden functions or in-place changes counts as "
                     "not verified")
    if outcome.fatal is not None and outcome.defined is not None:
        notes.append(outcome.fatal.message)
    stops = [s for s in outcome.stops]
    return GradeResult(submission=display, device=device, exercises=results, notes=notes, cells=cells,
                       sandbox=outcome.sandbox, output=outcome.output[:4000], seconds=outcome.seconds, stops=stops,
                       resources={"attempts": outcome.attempts, "startup_seconds": round(outcome.startup_seconds, 3),
                                  "loading_seconds": round(outcome.loading_seconds, 3),
                                  "checking_seconds": round(outcome.checking_seconds, 3),
                                  "cpu_seconds": round(outcome.cpu_seconds, 3),
                                  "peak_memory_bytes": outcome.peak_memory_bytes})


def _syntax_error_result(submission: Submission, syntax_error: str, exercises: Sequence[Exercise], device: str,
                         display: str) -> GradeResult:
    """A module that does not parse runs nothing: each exercise it mentions is an error."""
    import re

    from grader.results import ExerciseResult
    from grader.states import ExerciseStatus

    text = "\n".join(submission.files.values())
    results = []
    for e in exercises:
        attempted = any(re.search(rf"\b{re.escape(n)}\b", text) for n in e.names)
        message = (f"{syntax_error}, so nothing in the file could run" if attempted
                   else f"none of {', '.join(e.names)} is defined")
        results.append(ExerciseResult(id=e.id, title=e.title, score=0.0, max_score=e.points, message=message,
                                      status=ExerciseStatus.ERROR if attempted else ExerciseStatus.NOT_ATTEMPTED))
    return GradeResult(submission=display, device=device, exercises=results, notes=[syntax_error])


def grade_path(path: str | os.PathLike, exercise_ids: Sequence[str] | None = None, *, device: str = "cpu",
               limits: Limits | None = None, pm=None, pool: WorkerPool | None = None) -> GradeResult:
    """Grade the submission file at ``path`` (what ``grader check`` does)."""
    from grader.options import resolve_device
    from grader.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    exercises = select_exercises(exercise_registry(pm), exercise_ids)
    chosen = resolve_device(pm, device)
    submission = load_submission(Path(path), pm)
    return grade_submission(submission, exercises, device=chosen, limits=limits, display_path=str(path), pool=pool)


__all__ += ["ProbeRun", "Stop"]
