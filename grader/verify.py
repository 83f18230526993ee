"""``grader verify``: an exercise is trustworthy when its reference scores full marks and
each of its known-wrong solutions ("mutants") loses points on the intended check.

A mutant is a ``.py`` file in the exercise's ``mutants`` folder that begins with::

    # mutant: the mistake, in one line
    # expect-fail: <check id that must lose points>
    # expect-hint: <text the hint of that check must contain>   (optional)
    # probe-seconds: <N>   (optional: grade it with every probe limited to N s, e.g. a
    #                       mutant that must run out of time, so verify does not wait long)
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader.engine import grade_submission
from grader.exercise import Exercise
from grader.sandbox import Limits
from grader.sandbox.launch import WorkerPool
from grader.submission import load_module

_HEADER = re.compile(r"^#\s*(mutant|expect-fail|expect-hint|probe-seconds)\s*:\s*(.+?)\s*$")


@dataclass
class Mutant:
    path: Path
    description: str
    expect_fail: str
    expect_hint: str | None = None
    probe_seconds: float | None = None


@dataclass
class Finding:
    exercise: str
    subject: str  # "definition", "reference" or the mutant's file name
    ok: bool
    detail: str


def read_mutants(exercise: Exercise) -> list[Mutant]:
    if exercise.mutants is None or not exercise.mutants.is_dir():
        return []
    mutants = []
    for path in sorted(exercise.mutants.glob("*.py")):
        fields: dict[str, str] = {}
        for line in path.read_text().splitlines():
            match = _HEADER.match(line)
            if not match:
                break
            fields[match.group(1)] = match.group(2)
        seconds = fields.get("probe-seconds")
        mutants.append(Mutant(path, fields.get("mutant", ""), fields.get("expect-fail", ""), fields.get("expect-hint"),
                              float(seconds) if seconds else None))
    return mutants


def _grade(path: Path, exercise: Exercise, device: str, limits: Limits, pool: WorkerPool | None) -> dict:
    return grade_submission(load_module(path), [exercise], device=device, limits=limits,
                            pool=pool).to_dict()["exercises"][0]


def _judge_reference(exercise: Exercise, result: dict) -> Finding:
    lost = [f"{c['id']}: {c['message']}" for c in result["checks"] if c["status"] != "passed"]
    ok = result["status"] == "graded" and result["score"] == result["max_score"] and not lost
    detail = f"{result['score']}/{result['max_score']}" + (f"; {lost[0]}" if lost else "")
    if result["status"] != "graded":
        detail = f"{result['status']}: {result['message']}"
    return Finding(exercise.id, "reference", ok, detail)


def _judge_mutant(exercise: Exercise, mutant: Mutant, result: dict) -> Finding:
    name = mutant.path.name
    checks = {c["id"]: c for c in result["checks"]}
    target = checks.get(mutant.expect_fail)
    if target is None:
        return Finding(exercise.id, name, False, f"no check {mutant.expect_fail!r} in the result "
                                                 f"(status {result['status']}: {result['message']})")
    if target["points"] >= target["max_points"]:
        return Finding(exercise.id, name, False, f"{mutant.expect_fail} did not lose points: {target['message']}")
    if mutant.expect_hint and mutant.expect_hint not in (target["hint"] or ""):
        return Finding(exercise.id, name, False, f"{mutant.expect_fail} lost points but its hint lacks "
                                                 f"{mutant.expect_hint!r}: {target['hint']!r}")
    return Finding(exercise.id, name, True, f"loses {target['max_points'] - target['points']:g} on {mutant.expect_fail}"
                                            + (" with its hint" if mutant.expect_hint else ""))


def verify(exercises: Sequence[Exercise], *, device: str = "cpu", limits: Limits | None = None,
           jobs: int | None = None, pool: WorkerPool | None = None) -> list[Finding]:
    """Grade every reference and mutant of ``exercises`` (``jobs`` at a time, forked from
    warm workers: ``pool``, or one made for the run) and judge them."""
    limits = limits or Limits()
    jobs = jobs or os.cpu_count() or 1
    if pool is None:
        with WorkerPool(jobs, preload=sorted({e.module for e in exercises}), warm=True) as own:
            return verify(exercises, device=device, limits=limits, jobs=jobs, pool=own)
    findings: list[Finding] = []
    jobs_list: list[tuple[Exercise, Mutant | None]] = []  # (exercise, None): its reference
    for exercise in exercises:
        for problem in exercise.validate():
            findings.append(Finding(exercise.id, "definition", False, problem))
        jobs_list.append((exercise, None))
        mutants = read_mutants(exercise)
        if not mutants:
            findings.append(Finding(exercise.id, "mutants", False, "the exercise ships no mutants"))
        for mutant in mutants:
            if not mutant.expect_fail:
                findings.append(Finding(exercise.id, mutant.path.name, False, "no '# expect-fail:' header"))
                continue
            jobs_list.append((exercise, mutant))

    def run(job):
        exercise, mutant = job
        path = exercise.reference if mutant is None else mutant.path
        job_limits = limits
        if mutant is not None and mutant.probe_seconds:
            job_limits = Limits(**{**limits.to_dict(), "probe_seconds": mutant.probe_seconds})
        try:
            result = _grade(path, exercise, device, job_limits, pool)
        except Exception as exc:  # noqa: BLE001 - reported as a finding
            return Finding(exercise.id, "reference" if mutant is None else mutant.path.name, False,
                           f"{type(exc).__name__}: {exc}")
        return _judge_reference(exercise, result) if mutant is None else _judge_mutant(exercise, mutant, result)

    with ThreadPoolExecutor(max_workers=jobs) as threads:
        findings.extend(threads.map(run, jobs_list))
    return findings
