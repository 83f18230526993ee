"""The trusted parent side of the sandbox: launch the worker, watch it, kill it, retry.

A unit (cell or statement) or probe that hangs, crashes, floods output or exhausts memory
is charged to itself: the worker is killed, that unit or probe is marked with the reason,
and a fresh worker runs everything that is left. Nothing the worker says is trusted
beyond being data: frames are parsed as JSON and checked against what was asked for.
"""

from __future__ import annotations

import itertools
import json
import os
import selectors
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from grader.sandbox.cgroup import MemoryCgroup
from grader.sandbox.channel import FrameError, FrameReader, FrameTooLarge, plain_data, raised_or_none
from grader.sandbox.processes import descendants, memfd_bytes, resident_bytes, sandboxed_processes
from grader.sandbox.launch import FreshLauncher, WorkerPool, python_path
from grader.sandbox.limits import Limits, human_bytes

_uid_counter = itertools.count()
_uid_lock = threading.Lock()
SANDBOX_UID_BASE = 3_000_000_000  # far above the ids of real users, also on AD/sssd hosts
SIGNAL_NAMES = {signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "abort", signal.SIGBUS: "bus error",
                signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction",
                signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGXCPU: "CPU limit"}


@dataclass
class RunOutcome:
    """What the sandbox observed, as plain data; verdicts are formed by the engine."""

    sandbox: list[str] = field(default_factory=list)
    torch_version: str | None = None
    cuda_available: bool = False
    units: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> {"error"| "stopped"}
    defined: list[str] | None = None
    probes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fatal: str | None = None
    output: str = ""
    attempts: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0  # until the sandboxed worker said hello (all attempts)
    loading_seconds: float = 0.0  # running the student's units
    checking_seconds: float = 0.0  # running the probes (the student's functions on the grader's inputs)
    peak_memory_bytes: int = 0  # resident memory of the whole worker tree, sampled


class _Attempt:
    """One worker process tree, watched until it ends or is killed."""

    def __init__(self, request: dict[str, Any], limits: Limits, deadline_total: float, outcome: RunOutcome):
        self.request = request
        self.limits = limits
        self.deadline_total = deadline_total
        self.outcome = outcome
        self.culprit: tuple | None = ("startup",)
        self.phase_deadline = time.monotonic() + limits.startup_seconds
        self.phase_name = "starting the sandbox"
        self.done = False
        self.stop_reason: str | None = None
        self.output = bytearray()
        self.output_total = 0
        self.reader = FrameReader()
        self.expected_probes = {(p["exercise"], p["probe"]): p for p in request["probes"]}
        self.probe_grace = 5.0
        # the worker sends frames in exactly this order (grader.sandbox.student.run_job):
        # hello, (unit_start, unit_done) per unit not skipped, loaded, ([probe_start,]
        # probe_done) per probe, done. Anything else was written by the submission.
        skip = {int(k) for k in request.get("skip_units", {})}
        self.units_due = [i for i in range(len(request["submission"]["units"])) if i not in skip]
        self.probes_due = list(self.expected_probes)
        self.state = "hello"
        self.tampered = False
        self.cgroup: MemoryCgroup | None = None

    # -- frames
    def _label(self, index: int) -> str:
        return self.request["submission"]["units"][index]["label"]

    def _expected(self) -> tuple[str, ...]:
        if self.state == "units":
            return ("unit_start",) if self.units_due else ("loaded",)
        if self.state == "probes":
            return ("probe_start", "probe_done") if self.probes_due else ("done",)
        return {"hello": ("hello",), "unit": ("unit_done",), "probe": ("probe_done",)}.get(self.state, ())

    def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        expected = self._expected()
        if kind not in expected:
            raise FrameError(f"unexpected {kind[:40]!r} frame" + (f" (expected {' or '.join(expected)})"
                                                                  if expected else " after 'done'"))
        try:
            self._handle(frame)
        except FrameError:
            raise
        except Exception as exc:  # noqa: BLE001 - missing or mistyped fields
            raise FrameError(f"malformed {kind!r} frame ({type(exc).__name__})") from None

    def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        now = time.monotonic()
        if kind in ("unit_done", "probe_done") and self.phase_started is not None:
            spent = now - self.phase_started
            if kind == "unit_done":
                self.outcome.loading_seconds += spent
            else:
                self.outcome.checking_seconds += spent
        if kind in ("unit_start", "probe_start"):
            self.phase_started = now
        if kind == "hello":
            self.outcome.startup_seconds += now - self.launched_at
            self.state = "units"
            self.outcome.sandbox = [str(x) for x in frame.get("sandbox", [])][:20]
            if self.cgroup is not None:
                self.outcome.sandbox.append("memory cgroup")
            self.outcome.torch_version = str(frame.get("torch"))
            self.outcome.cuda_available = bool(frame.get("cuda"))
            self.culprit, self.phase_name = None, "loading the submission"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "unit_start":
            index = frame["index"]
            if index != self.units_due[0] or type(index) is not int:
                raise FrameError(f"unexpected start of unit {str(index)[:20]}")
            self.state = "unit"
            self.culprit = ("unit", index)
            self.phase_name = f"running {self._label(index)}"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "unit_done":
            index = frame["index"]
            if index != self.units_due[0] or type(index) is not int:
                raise FrameError(f"unexpected end of unit {str(index)[:20]}")
            self.units_due.pop(0)
            self.state = "units"
            self.outcome.units[index] = {"error": raised_or_none(frame.get("error"), "a unit's error")}
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "loaded":
            names = set(self.request["names"])
            self.outcome.defined = [n for n in frame.get("defined", []) if isinstance(n, str) and n in names]
            self.state = "probes"
            self.culprit, self.phase_name = None, "after loading"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "probe_start":
            key = (str(frame["exercise"]), str(frame["probe"]))
            if key != self.probes_due[0]:
                raise FrameError(f"unexpected probe {str(key)[:120]}")
            self.state = "probe"
            self.culprit = ("probe", key)
            self.phase_name = f"checking {key[1]} ({key[0]})"
            self.phase_deadline = now + self.expected_probes[key]["timeout"] + self.probe_grace
        elif kind == "probe_done":
            key = (str(frame["exercise"]), str(frame["probe"]))
            if key != self.probes_due[0] or key in self.outcome.probes:
                raise FrameError(f"unexpected result for {str(key)[:120]}")
            observations = frame.get("observations") or {}
            if not isinstance(observations, dict) or not all(isinstance(k, str) for k in observations):
                raise FrameError("observations are not a mapping of names")
            for name, value in observations.items():
                plain_data(value, f"observation {name[:40]!r}")
            failure = raised_or_none(frame.get("failure"), "a probe's failure")
            self.probes_due.pop(0)
            self.state = "probes"
            self.outcome.probes[key] = {"observations": observations, "failure": failure}
            self.culprit, self.phase_name = None, "between checks"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "done":
            self.state = "done"
            self.done = True
            self.culprit, self.phase_name = None, "finishing"
            self.phase_deadline = now + 10
        else:
            raise FrameError(f"unknown frame type {kind!r}")

    # -- the watch loop
    def run(self, launcher) -> None:
        if self.request.get("sandbox", True):
            # tmpfs pages are charged to the cgroup too: the private /tmp and /dev/shm have their own limit
            self.cgroup = MemoryCgroup.create(self.limits.memory_bytes + 2 * self.limits.tmp_bytes)
        try:
            launched = launcher.launch(lambda fd: json.dumps(dict(self.request, channel_fd=fd)).encode())
        except BaseException:
            if self.cgroup is not None:
                self.cgroup.remove()
            raise
        self.launched = launched
        self.launched_at = time.monotonic()
        self.phase_started: float | None = None
        if self.cgroup is not None:  # at once (what forks before is added at the first memory check)
            self.cgroup.add([launched.pid, *descendants(launched.pid)])
        selector = selectors.DefaultSelector()
        selector.register(launched.channel, selectors.EVENT_READ, "channel")
        selector.register(launched.stdout, selectors.EVENT_READ, "output")
        selector.register(launched.stderr, selectors.EVENT_READ, "output")
        open_streams = 3
        next_memory_check = 0.0
        try:
            while open_streams:
                now = time.monotonic()
                if now > self.deadline_total:
                    self.stop(f"the submission's total time limit of {self.limits.total_seconds:g} s was exceeded "
                              f"while {self.phase_name}")
                    break
                if now > self.phase_deadline:
                    self.stop(self._time_message())
                    break
                if now >= next_memory_check:
                    next_memory_check = now + 0.25
                    pids, students = sandboxed_processes(launched.pid)
                    if self.cgroup is not None:
                        self.cgroup.add(sorted(set(pids) - set(self.cgroup.members())))
                    used = resident_bytes(students) + memfd_bytes(pids)
                    self.outcome.peak_memory_bytes = max(self.outcome.peak_memory_bytes, used)
                    if used > self.limits.memory_bytes:
                        self.stop(f"memory limit of {human_bytes(self.limits.memory_bytes)} exceeded while {self.phase_name}")
                        break
                timeout = max(0.01, min(self.phase_deadline, self.deadline_total, next_memory_check) - now)
                for key, _ in selector.select(timeout):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        selector.unregister(key.fd)
                        open_streams -= 1
                        continue
                    if key.data == "channel":
                        if self.done:  # the worker writes nothing after 'done': this is the submission's
                            raise FrameError("data after 'done'")
                        if self.reader.total + len(data) > self.limits.channel_bytes:
                            self.stop("the submission sent too much data back to the grader")
                            break
                        for frame in self.reader.feed(data):
                            self.handle(frame)
                        if self.done and self.reader.pending:
                            raise FrameError("data after 'done'")
                    else:
                        self.output_total += len(data)
                        if len(self.output) < 8192:
                            self.output += data[: 8192 - len(self.output)]
                        if self.output_total > self.limits.output_bytes:
                            self.stop(f"output limit of {human_bytes(self.limits.output_bytes)} exceeded "
                                      f"while {self.phase_name} (the code printed too much)")
                            break
                if self.stop_reason:
                    break
        except FrameTooLarge as exc:
            self.stop(f"the submission sent too much data back to the grader while {self.phase_name} ({exc})")
        except FrameError as exc:
            # frames the submission wrote itself: nothing received in this attempt is kept
            self.tampered, self.done = True, False
            self.stop(f"the grader's result channel was tampered with while {self.phase_name} ({exc})")
        finally:
            selector.close()
            for fd in (launched.channel, launched.stdout, launched.stderr):
                os.close(fd)
            self.kill()
            status = launched.wait()
            if self.cgroup is not None:
                if self.stop_reason is None and not self.done and self.cgroup.oom_kills():
                    self.stop_reason = (f"memory limit of {human_bytes(self.limits.memory_bytes)} exceeded "
                                        f"while {self.phase_name}")
                self.cgroup.remove()
            if self.stop_reason is None and not self.done:
                self.stop_reason = self._death_message(status)
            self.outcome.output = self.output.decode("utf-8", "replace")

    def _time_message(self) -> str:
        if self.culprit and self.culprit[0] == "unit":
            return f"time limit of {self.limits.unit_seconds:g} s exceeded while {self.phase_name}"
        if self.culprit and self.culprit[0] == "probe":
            limit = self.expected_probes[self.culprit[1]]["timeout"]
            return f"time limit of {limit:g} s exceeded while {self.phase_name}"
        return f"time limit exceeded while {self.phase_name}"

    def _death_message(self, status: int) -> str:
        if status < 0 or status >= 128:
            signum = -status if status < 0 else status - 128
            name = SIGNAL_NAMES.get(signum, f"signal {signum}")
            return f"the Python process crashed ({name}) while {self.phase_name}"
        return f"the Python process exited (status {status}: os._exit or a crash) while {self.phase_name}"

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.kill()

    def kill(self) -> None:
        launched = getattr(self, "launched", None)
        if launched is None:
            return
        pids = descendants(launched.pid)  # the worker is not reaped yet: its pid cannot be reused
        if self.cgroup is not None:  # members that left the tree (their parent died first) included
            self.cgroup.kill_all()
        try:
            os.killpg(launched.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _own_installation(modules: list[str] = ()) -> list[str]:
    """The grader's own files, whoever calls: its package folder and, when it (or the
    module of an exercise) runs from a source checkout (an editable install), the whole
    checkout: a build/ copy or the Git history holds the reference solutions too."""
    import sys

    import grader

    package = os.path.dirname(os.path.realpath(grader.__file__))
    found = [package]
    folders = [package] + [os.path.dirname(os.path.realpath(m.__file__)) for m in map(sys.modules.get, modules)
                           if getattr(m, "__file__", None)]
    for folder in folders:  # src/package/module.py or package/module.py
        for root in (os.path.dirname(folder), os.path.dirname(os.path.dirname(folder))):
            if root != "/" and any(os.path.exists(os.path.join(root, m)) for m in ("pyproject.toml", "setup.py",
                                                                                  ".git")):
                found.append(root)
                break
    return found


def _sandbox_uid() -> int:
    with _uid_lock:
        return SANDBOX_UID_BASE + (os.getpid() * 64 + next(_uid_counter)) % 1_000_000


def run_in_sandbox(submission: dict[str, Any], probes: list[dict[str, Any]], *, names: list[str], device: str,
                   limits: Limits, hide: list[str], seed: int = 0, sandbox: bool = True,
                   pool: WorkerPool | None = None) -> RunOutcome:
    """Run a submission's units and the given probes in the sandbox, retrying around
    whatever hangs or crashes. ``probes``: dicts with exercise, probe, module, timeout."""
    outcome = RunOutcome()
    started = time.monotonic()
    deadline_total = started + limits.total_seconds
    skip_units: dict[int, str] = {}
    pending = list(probes)
    hide = sorted({*hide, *_own_installation([p["module"] for p in probes])})
    while True:
        outcome.attempts += 1
        request = {
            "submission": submission, "names": names, "probes": pending, "device": device, "seed": seed,
            "limits": limits.to_dict(), "hide": hide, "skip_units": skip_units, "sandbox": sandbox,
            "sandbox_uid": _sandbox_uid(), "python_path": python_path(),
        }
        attempt = _Attempt(request, limits, deadline_total, outcome)
        before = (dict(outcome.units), dict(outcome.probes), outcome.defined)
        if pool is None:
            attempt.run(FreshLauncher())
        else:
            with pool.launcher() as launcher:
                attempt.run(launcher)
        if attempt.tampered:  # what came in may be forged: forget it, retry without the culprit
            outcome.units, outcome.probes, outcome.defined = before
        pending = [p for p in pending if (p["exercise"], p["probe"]) not in outcome.probes]
        if attempt.done or attempt.stop_reason is None:
            break
        reason = attempt.stop_reason
        culprit = attempt.culprit
        if culprit and culprit[0] == "unit":
            skip_units[culprit[1]] = reason
            outcome.units[culprit[1]] = {"stopped": reason}
        elif culprit and culprit[0] == "probe":
            outcome.probes[culprit[1]] = {"observations": {}, "failure": None, "stopped": reason}
            pending = [p for p in pending if (p["exercise"], p["probe"]) != culprit[1]]
        else:
            outcome.fatal = reason if culprit != ("startup",) else (
                f"the grading worker could not start: {reason}. {outcome.output[-800:]}".strip())
            break
        if time.monotonic() > deadline_total:
            outcome.fatal = reason if "total time limit" in reason else (
                f"the submission's total time limit of {limits.total_seconds:g} s ran out; the last problem: {reason}")
            break
        if outcome.attempts > limits.max_restarts:
            outcome.fatal = f"gave up after {outcome.attempts} attempts; the last: {reason}"
            break
    outcome.seconds = time.monotonic() - started
    return outcome
