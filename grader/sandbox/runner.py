"""The trusted parent side of the sandbox: run a submission's units and probes, retrying
around whatever hangs or crashes.

A unit (a cell's statement, or a module's) or a probe that hangs, crashes, floods output
or exhausts memory is charged to itself: the worker is killed, that unit or probe is
marked with the reason (a :class:`grader.results.Stop`), and a fresh worker runs
everything that is left. Nothing the worker says is trusted beyond being data: frames
are parsed and validated by :mod:`grader.sandbox.protocol`; an attempt whose stream was
tampered with is forgotten entirely.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from grader.codec import Raised
from grader.results import Stop
from grader.sandbox.attempt import WALL_FACTOR, WALL_SLACK, Attempt, Timing
from grader.sandbox.launch import FreshLauncher, WorkerPool, python_path
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import ProbeKey
from grader.states import StopKind

_uid_counter = itertools.count()
_uid_lock = threading.Lock()
SANDBOX_UID_BASE = 3_000_000_000  # far above the ids of real users, also on AD/sssd hosts


@dataclass
class UnitRun:
    """What happened to one unit: the exception it raised, or why it was stopped."""

    error: Raised | None = None
    stop: Stop | None = None


@dataclass
class ProbeRun:
    """One probe's observations (decoded), as sent (``raw``, for the reference cache),
    what stopped it, and the runner's own measurements of its timed calls."""

    observations: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    failure: Raised | None = None
    stop: Stop | None = None
    measured: dict[str, Timing] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)  # functions the worker put back before the probe
    inspected: dict[str, Any] = field(default_factory=dict)  # what an inspector recorded (a fresh worker)
    notices: list[str] = field(default_factory=list)  # what the audit hook saw in the attempt that ran it
    call_notices: dict[str, list[str]] = field(default_factory=dict)  # call key -> what was seen during it
    forbidden: dict[str, str] = field(default_factory=dict)  # call key -> the forbidden function it ran
    watched: dict[str, dict[str, Any]] = field(default_factory=dict)  # call key -> function, labels, digests


@dataclass
class RunOutcome:
    """What the sandbox observed, as plain data; verdicts are formed by the engine."""

    sandbox: list[str] = field(default_factory=list)
    torch_version: str | None = None
    cuda_available: bool = False
    units: dict[int, UnitRun] = field(default_factory=dict)
    defined: list[str] | None = None
    stand_ins: list[str] = field(default_factory=list)  # missing libraries the student's imports got stand-ins for
    probes: dict[ProbeKey, ProbeRun] = field(default_factory=dict)
    fatal: Stop | None = None
    output: str = ""
    attempts: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0  # until the sandboxed worker said hello (all attempts)
    loading_seconds: float = 0.0  # running the student's units
    checking_seconds: float = 0.0  # running the probes (the student's functions on the grader's inputs)
    cpu_seconds: float = 0.0  # CPU time of the sandboxes (all attempts)
    peak_memory_bytes: int = 0  # resident memory of the student's processes, sampled

    @property
    def stops(self) -> list[Stop]:
        found = [u.stop for u in self.units.values() if u.stop] + [p.stop for p in self.probes.values() if p.stop]
        return found + ([self.fatal] if self.fatal else [])


def _sandbox_uid() -> int:
    with _uid_lock:
        return SANDBOX_UID_BASE + (os.getpid() * 64 + next(_uid_counter)) % 1_000_000


def _keep(attempt: Attempt, outcome: RunOutcome) -> None:
    """Take what an attempt received into the outcome (an attempt that was tampered with
    keeps nothing: what came in may be forged)."""
    if attempt.tampered:
        return
    received = attempt.received
    for index, error in received["units"].items():
        outcome.units[index] = UnitRun(error=error)
    if received["defined"] is not None:
        outcome.defined = received["defined"]
        outcome.stand_ins = received["stand_ins"]
    for key, entry in received["probes"].items():
        if "observations" in entry:
            outcome.probes[key] = ProbeRun(entry["observations"], entry["raw"], entry["failure"],
                                           measured=entry["measured"], restored=entry["restored"],
                                           notices=list(received["notices"]),
                                           call_notices=entry.get("call_notices", {}),
                                           forbidden=entry.get("forbidden", {}), watched=entry.get("watched", {}))


def _charge(attempt: Attempt, outcome: RunOutcome, skip_units: dict[int, str]) -> bool:
    """Charge the attempt's stop to its culprit; True when the rest can be run again."""
    stop, culprit = attempt.stop_reason, attempt.culprit
    assert stop is not None  # only a stopped attempt is charged
    if culprit and culprit[0] == "unit":
        skip_units[culprit[1]] = stop.message
        outcome.units[culprit[1]] = UnitRun(stop=stop)
        return True
    if culprit and culprit[0] == "probe":
        outcome.probes[culprit[1]] = ProbeRun(stop=stop, measured=attempt.received["probes"].get(
            culprit[1], {}).get("measured", {}) if not attempt.tampered else {})
        return True
    if stop.kind is StopKind.WORKER_START:
        outcome.fatal = Stop(stop.kind, stop.where, f"the grading worker could not start: {stop.message}. "
                                                    f"{outcome.output[-800:]}".strip())
    else:
        outcome.fatal = stop
    return False


def run_in_sandbox(submission: dict[str, Any], probes: list[dict[str, Any]], *, names: list[str], device: str,
                   limits: Limits, view: dict[str, Any] | None = None, seed: int = 0, sandbox: bool = True,
                   pool: WorkerPool | None = None) -> RunOutcome:
    """Run a submission's units and the given probes in the sandbox, retrying around
    whatever hangs or crashes. ``probes``: dicts with exercise, probe, module, timeout,
    prelude (run before the student's code), inputs. ``view``: what the sandbox's
    filesystem shows (:func:`grader.sandbox.view.describe`)."""
    outcome = RunOutcome()
    started = time.monotonic()
    deadline_total = started + WALL_FACTOR * limits.total_seconds + WALL_SLACK  # the CPU total is watched too
    skip_units: dict[int, str] = {}
    pending = list(probes)
    while True:
        outcome.attempts += 1
        preludes = [p for p in pending if p.get("prelude")]
        later = [p for p in pending if not p.get("prelude")]
        request = {
            "submission": submission, "names": names, "probes": preludes + later, "device": device, "seed": seed,
            "limits": limits.to_dict(), "view": view or {}, "skip_units": skip_units, "sandbox": sandbox,
            "sandbox_uid": _sandbox_uid(), "python_path": python_path(),
        }
        attempt = Attempt(request, limits, deadline_total, outcome, preludes, later)
        if pool is None:
            attempt.run(FreshLauncher())
        else:
            with pool.launcher() as launcher:
                attempt.run(launcher)
        _keep(attempt, outcome)
        pending = [p for p in pending if (p["exercise"], p["probe"]) not in outcome.probes]
        if attempt.done or attempt.stop_reason is None:
            break
        if not _charge(attempt, outcome, skip_units):
            break
        pending = [p for p in pending if (p["exercise"], p["probe"]) not in outcome.probes]
        reason = attempt.stop_reason
        if time.monotonic() > deadline_total or outcome.cpu_seconds > limits.total_seconds:
            outcome.fatal = reason if reason.kind is StopKind.TOTAL_TIME else Stop(
                StopKind.TOTAL_TIME, reason.where, f"the submission's total time limit of {limits.total_seconds:g} s "
                                                   f"ran out; the last problem: {reason.message}")
            break
        if outcome.attempts > limits.max_restarts:
            outcome.fatal = Stop(StopKind.GAVE_UP, reason.where,
                                 f"gave up after {outcome.attempts} attempts; the last: {reason.message}")
            break
    outcome.seconds = time.monotonic() - started
    return outcome
