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

from grader.sandbox.channel import FrameError, FrameReader
from grader.sandbox.launch import FreshLauncher, WorkerPool
from grader.sandbox.limits import Limits, human_bytes

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_uid_counter = itertools.count()
_uid_lock = threading.Lock()
SANDBOX_UID_BASE = 1_000_000
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


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _resident_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


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

    # -- frames
    def _label(self, index: int) -> str:
        return self.request["submission"]["units"][index]["label"]

    def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        now = time.monotonic()
        if kind == "hello":
            self.outcome.sandbox = [str(x) for x in frame.get("sandbox", [])][:20]
            self.outcome.torch_version = str(frame.get("torch"))
            self.outcome.cuda_available = bool(frame.get("cuda"))
            self.culprit, self.phase_name = None, "loading the submission"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "unit_start":
            index = int(frame["index"])
            self.culprit = ("unit", index)
            self.phase_name = f"running {self._label(index)}"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "unit_done":
            index = int(frame["index"])
            self.outcome.units[index] = {"error": frame.get("error")}
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "loaded":
            self.outcome.defined = [str(n) for n in frame.get("defined", [])]
            self.culprit, self.phase_name = None, "after loading"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "probe_start":
            key = (str(frame["exercise"]), str(frame["probe"]))
            if key not in self.expected_probes:
                raise FrameError(f"unexpected probe {key}")
            self.culprit = ("probe", key)
            self.phase_name = f"checking {key[1]} ({key[0]})"
            self.phase_deadline = now + self.expected_probes[key]["timeout"] + self.probe_grace
        elif kind == "probe_done":
            key = (str(frame["exercise"]), str(frame["probe"]))
            if key not in self.expected_probes or key in self.outcome.probes:
                raise FrameError(f"unexpected result for {key}")
            self.outcome.probes[key] = {"observations": frame.get("observations") or {},
                                        "failure": frame.get("failure")}
            self.culprit, self.phase_name = None, "between checks"
            self.phase_deadline = now + self.limits.unit_seconds
        elif kind == "done":
            self.done = True
            self.culprit, self.phase_name = None, "finishing"
            self.phase_deadline = now + 10
        else:
            raise FrameError(f"unknown frame type {kind!r}")

    # -- the watch loop
    def run(self, launcher) -> None:
        launched = launcher.launch(lambda channel_fd: json.dumps(dict(self.request, channel_fd=channel_fd)).encode())
        self.launched = launched
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
                    used = _resident_bytes(_descendants(launched.pid))
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
                        if self.reader.total + len(data) > self.limits.channel_bytes:
                            self.stop("the submission sent too much data back to the grader")
                            break
                        for frame in self.reader.feed(data):
                            self.handle(frame)
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
        except FrameError as exc:
            self.stop(f"the grader's result channel was tampered with while {self.phase_name} ({exc})")
        finally:
            selector.close()
            for fd in (launched.channel, launched.stdout, launched.stderr):
                os.close(fd)
            self.kill()
            status = launched.wait()
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
        pids = _descendants(launched.pid)  # the worker is not reaped yet: its pid cannot be reused
        try:
            os.killpg(launched.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


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
    while True:
        outcome.attempts += 1
        request = {
            "submission": submission, "names": names, "probes": pending, "device": device, "seed": seed,
            "limits": limits.to_dict(), "hide": hide, "skip_units": skip_units, "sandbox": sandbox,
            "sandbox_uid": _sandbox_uid(),
        }
        attempt = _Attempt(request, limits, deadline_total, outcome)
        if pool is None:
            attempt.run(FreshLauncher())
        else:
            with pool.launcher() as launcher:
                attempt.run(launcher)
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
        if time.monotonic() > deadline_total or outcome.attempts > limits.max_restarts:
            outcome.fatal = f"gave up after {outcome.attempts} attempts; the last: {reason}"
            break
    outcome.seconds = time.monotonic() - started
    return outcome
