"""One attempt: a worker process tree, launched, watched until it ends, killed.

The runner (the trusted side) is the only judge of time, memory and output: every limit
is measured here, from outside the sandbox, with what the submission cannot change.
Time limits are CPU time of the whole sandbox (its cgroup's ``cpuacct``, or its
processes' clocks), so a busy machine or a busy neighbour never turns a correct cell
into a time-out; a wall-clock backstop (twice the limit plus a few seconds) stops code
that sleeps or blocks. The submission's total limit counts the CPU time of all its
attempts, with the same kind of backstop (``runner.run_in_sandbox``). Timed calls (speed
checks) are measured the same way, between two frames, with inputs the runner releases
only when the measurement starts.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grader.results import Stop
from grader.sandbox.cgroup import SandboxCgroup
from grader.sandbox.channel import HEADER, FrameError, FrameReader, FrameTooLarge
from grader.sandbox.limits import Limits, human_bytes
from grader.sandbox.observe import FileRead, Listing, list_files, read_file
from grader.sandbox.processes import (cpu_seconds, descendants, memfd_bytes, resident_bytes, sandbox_init,
                                      sandboxed_processes)
from grader.sandbox.protocol import Event, FrameProtocol, ProbeKey
from grader.states import Frame, StopKind

if TYPE_CHECKING:
    from grader.sandbox.launch import Launched

SIGNAL_NAMES: dict[int, str] = {
    signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "abort", signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction", signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated", signal.SIGXCPU: "CPU time limit", signal.SIGSYS: "a forbidden system call"}
WALL_FACTOR, WALL_SLACK = 2.0, 5.0  # the wall-clock backstop of a CPU-time limit
POLL_SECONDS = 0.25
STALL_SECONDS = 1.0  # a watch loop late by more than this was not running: see Attempt._forgive_stall
OUTPUT_KEPT = 8192
BETWEEN_SECONDS = 30.0  # the grader's own work between two units or probes (wall)
OPENED_ROWS = 8  # rows of a committed timed result the worker must show, drawn after the clock stopped


@dataclass
class Timing:
    """A timed call, measured by the runner: the sandbox's CPU time between its two
    frames, and the seed the runner drew for its inputs."""

    cpu_seconds: float
    seed: int
    root: str | None = None  # the Merkle root of the result, received when the clock stopped
    opened: list[int] = field(default_factory=list)  # the rows the runner then asked the worker to show


@dataclass
class _Phase:
    """What the worker is doing now, and how long it may take."""

    name: str  # "running cell 3", for messages
    culprit: tuple | None  # ("unit", index) / ("probe", key) / ("startup",) / None
    cpu_budget: float | None
    wall_budget: float
    cpu0: float
    wall0: float
    limit_text: str = ""  # the limit as the student reads it


class Attempt:
    """Launch one worker tree for ``request``, watch it, and record into ``outcome``."""

    def __init__(self, request: dict[str, Any], limits: Limits, deadline_total: float, outcome, preludes: list,
                 probes: list):
        self.request = request
        self.limits = limits
        self.deadline_total = deadline_total
        self.outcome = outcome
        self.timeouts = {(p["exercise"], p["probe"]): float(p["timeout"]) for p in preludes + probes}
        skip = {int(k) for k in request.get("skip_units", {})}
        units = [i for i in range(len(request["submission"]["units"])) if i not in skip]
        self.protocol = FrameProtocol(units, [(p["exercise"], p["probe"]) for p in preludes],
                                      [(p["exercise"], p["probe"]) for p in probes], request["names"])
        self.reader = FrameReader()
        self.output = bytearray()
        self.output_total = 0
        self.stop_reason: Stop | None = None
        self.done = False
        self.tampered = False
        self.cgroup: SandboxCgroup | None = None
        self.launched: Launched | None = None
        self.students: list[int] = []
        self.timing: tuple[str, int, float] | None = None  # (key, seed, cpu at the start)
        self.received: dict[str, Any] = {"units": {}, "probes": {}, "defined": None, "stand_ins": [],
                                         "notices": []}
        now = time.monotonic()
        self.phase = _Phase("starting the sandbox", ("startup",), None, limits.startup_seconds, 0.0, now)

    # ------------------------------------------------------------------ clocks
    def cpu_now(self) -> float:
        """CPU time used so far by everything in the sandbox."""
        if self.cgroup is not None:
            value = self.cgroup.cpu_seconds()
            if value is not None:
                return value
        return cpu_seconds(self.students)

    def _enter(self, name: str, culprit: tuple | None, cpu_budget: float | None, wall: float | None = None,
               limit_text: str = "") -> None:
        now = time.monotonic()
        wall_budget = wall if wall is not None else (
            WALL_FACTOR * cpu_budget + WALL_SLACK if cpu_budget is not None else BETWEEN_SECONDS)
        self.phase = _Phase(name, culprit, cpu_budget, wall_budget, self.cpu_now() if cpu_budget else 0.0, now,
                            limit_text)

    @property
    def _worker(self) -> Launched:
        """The worker tree :meth:`run` launched (every frame and watch comes after)."""
        assert self.launched is not None
        return self.launched

    # ------------------------------------------------------------------ frames
    def _label(self, index: int) -> str:
        return self.request["submission"]["units"][index]["label"]

    def handle(self, event: Event) -> None:
        now = time.monotonic()
        if event.frame in (Frame.UNIT_DONE, Frame.PROBE_DONE):
            spent = now - self.phase.wall0
            if event.frame is Frame.UNIT_DONE:
                self.outcome.loading_seconds += spent
            else:
                self.outcome.checking_seconds += spent
        getattr(self, f"_on_{event.frame.value}")(event)

    def _on_hello(self, event: Event) -> None:
        self.outcome.startup_seconds += time.monotonic() - self.launched_at
        features = list(event.hello["sandbox"])
        if self.cgroup is not None:
            features.append(f"cgroup ({', '.join(self.cgroup.controllers)})")
        self.outcome.sandbox = features
        self.outcome.torch_version = event.hello["torch"]
        self.outcome.cuda_available = event.hello["cuda"]
        self._enter("loading the submission", None, None)

    def _on_unit_start(self, event: Event) -> None:
        assert event.index is not None  # the protocol's unit frames carry their index
        seconds = self.limits.unit_seconds
        self._enter(f"running {self._label(event.index)}", ("unit", event.index), seconds,
                    limit_text=f"{seconds:g} s")

    def _on_unit_done(self, event: Event) -> None:
        self.received["units"][event.index] = event.error
        self._enter("between cells", None, None)

    def _on_loaded(self, event: Event) -> None:
        self.received["defined"] = event.defined
        self.received["stand_ins"] = event.stand_ins
        self._enter("after loading", None, None)

    def _on_probe_start(self, event: Event) -> None:
        assert event.probe is not None  # the protocol's probe frames carry their key
        seconds = self.timeouts[event.probe]
        self._enter(f"checking {event.probe[1]} ({event.probe[0]})", ("probe", event.probe), seconds,
                    limit_text=f"{seconds:g} s")
        self.received["probes"].setdefault(event.probe, {"measured": {}})

    def _on_timing_ready(self, event: Event) -> None:
        assert event.key is not None  # the protocol's timing frames carry their key
        seed = secrets.randbits(62)
        self.timing = (event.key, seed, self.cpu_now())
        self._control({"seed": seed})

    def _on_timing_done(self, event: Event) -> None:
        cpu = self.cpu_now()
        assert self.timing is not None  # the protocol lets timing_done follow only timing_ready
        key, seed, start = self.timing
        self.timing = None
        spent = max(0.0, cpu - start)
        opened = sorted(secrets.SystemRandom().sample(range(event.rows), min(OPENED_ROWS, event.rows))) \
            if event.root else []
        self.received["probes"][event.probe]["measured"][key] = Timing(spent, seed, event.root, opened)
        self._control({"cpu_seconds": spent, "open": opened})

    def _on_observe(self, event: Event) -> None:
        """Look at the sandbox's files from outside it (see grader.sandbox.observe)."""
        w2 = sandbox_init(self._worker.pid)
        if w2 is None or not any(f == "private mounts" for f in self.outcome.sandbox):
            found: Listing | FileRead = Listing(complete=False, problem="the sandbox has no filesystem of its own")
        elif event.what == "files":
            found = list_files(f"/proc/{w2}/root")
        else:
            found = read_file(f"/proc/{w2}/root", event.path or "")
        self.received["probes"][event.probe]["measured"][event.key] = found
        self._control({"ok": True})

    def _on_probe_done(self, event: Event) -> None:
        entry = self.received["probes"].setdefault(event.probe, {"measured": {}})
        entry.update(observations=event.observations, raw=event.raw, failure=event.failure,
                     restored=event.restored)
        self._enter("between checks", None, None)

    def _on_notice(self, event: Event) -> None:
        """The student's code reached the machinery (grader.sandbox.audit: it concerns every
        probe this attempt runs), or a watched call ``key`` ran a forbidden function or had
        a thread of the submission beside it (grader.sandbox.watching)."""
        if event.key is not None and event.probe is not None:
            entry = self.received["probes"].setdefault(event.probe, {"measured": {}})
            if event.forbidden is not None:
                entry.setdefault("forbidden", {}).setdefault(event.key, event.forbidden)
            else:
                entry.setdefault("call_notices", {}).setdefault(event.key, []).append(event.what)
        elif event.what and event.what not in self.received["notices"]:
            self.received["notices"].append(event.what)

    def _on_watch(self, event: Event) -> None:
        """Digests of a watched call's arguments, kept here: the trusted side compares them."""
        if event.probe is None or event.key is None:
            return
        entry = self.received["probes"].setdefault(event.probe, {"measured": {}})
        record = entry.setdefault("watched", {}).setdefault(event.key, {})
        if event.stage == "before":
            record.update(function=event.function, labels=event.labels)
        record[str(event.stage)] = event.digests

    def _on_done(self, event: Event) -> None:
        self.done = True
        self._enter("finishing", None, None, wall=10.0)

    def _control(self, message: dict[str, Any]) -> None:
        """Answer the worker on its control pipe, never blocking: the worker reads each
        answer before it writes its next frame, so a pipe that does not take an answer at
        once is not being read by the worker (a submission that closed it only stalls
        itself)."""
        body = json.dumps(message).encode()
        data = HEADER.pack(len(body)) + body
        try:
            written = os.write(self._worker.control, data)
        except BlockingIOError:
            written = 0
        except OSError:
            return
        if written != len(data):
            raise FrameError("the worker does not read the grader's answers")

    # ------------------------------------------------------------------ limits
    def _check_limits(self, now: float, poll: bool) -> None:
        if now > self.deadline_total or (
                poll and self.outcome.cpu_seconds + self.cpu_now() > self.limits.total_seconds):
            self.stop(StopKind.TOTAL_TIME, f"the submission's total time limit of {self.limits.total_seconds:g} s "
                                           f"was exceeded while {self.phase.name}")
            return
        phase = self.phase
        over_cpu = phase.cpu_budget is not None and self.cpu_now() - phase.cpu0 > phase.cpu_budget
        if over_cpu or now - phase.wall0 > phase.wall_budget:
            self.stop(StopKind.TIME_LIMIT if phase.culprit != ("startup",) else StopKind.WORKER_START,
                      self._time_message())
            return
        if poll:
            self._watch_memory()

    def _forgive_stall(self, gap: float) -> None:
        """This process was not running the watch for ``gap`` seconds (another grading's
        judge held the interpreter, the machine was swapping): that time is not the
        sandbox's, so the wall-clock budgets move on by it (CPU budgets never counted it)."""
        if gap > STALL_SECONDS:
            lost = gap - POLL_SECONDS
            self.phase.wall0 += lost
            self.deadline_total += lost

    def _watch_memory(self) -> None:
        pids, self.students = sandboxed_processes(self._worker.pid)
        if self.cgroup is not None:
            self.cgroup.add(pids)
        used = resident_bytes(self.students) + memfd_bytes(pids)
        self.outcome.peak_memory_bytes = max(self.outcome.peak_memory_bytes, used)
        if used > self.limits.memory_bytes:
            self.stop(StopKind.MEMORY_LIMIT, self._memory_message())

    def _memory_message(self) -> str:
        return f"memory limit of {human_bytes(self.limits.memory_bytes)} exceeded while {self.phase.name}"

    def _time_message(self) -> str:
        if self.phase.culprit == ("startup",):
            return f"the sandbox did not start within {self.limits.startup_seconds:g} s"
        if self.phase.limit_text:
            return f"time limit of {self.phase.limit_text} exceeded while {self.phase.name}"
        return f"time limit exceeded while {self.phase.name}"

    def _death_message(self, status: int) -> tuple[StopKind, str]:
        if self.phase.culprit == ("startup",):
            return StopKind.WORKER_START, f"the sandbox exited (status {status}) before it started"
        if status < 0 or status >= 128:
            signum = -status if status < 0 else status - 128
            name = SIGNAL_NAMES.get(signum, f"signal {signum}")
            return StopKind.CRASH, f"the Python process crashed ({name}) while {self.phase.name}"
        return StopKind.EXIT, (f"the Python process exited (status {status}: os._exit or a crash) "
                               f"while {self.phase.name}")

    def stop(self, kind: StopKind, message: str) -> None:
        if self.stop_reason is None:
            where = self.phase.name
            self.stop_reason = Stop(kind, where, message)
        self.kill()

    def kill(self) -> None:
        if self.launched is None:
            return
        pids = descendants(self.launched.pid)  # the worker is not reaped yet: its pid cannot be reused
        if self.cgroup is not None:  # members that left the tree (their parent died first) included
            self.cgroup.kill_all()
        try:
            os.killpg(self.launched.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    # ------------------------------------------------------------------ the watch
    def run(self, launcher) -> None:
        if self.request.get("sandbox", True):
            # tmpfs pages are charged to the cgroup too: the private /tmp and /dev/shm have their own limit
            self.cgroup = SandboxCgroup.create(self.limits.memory_bytes + 2 * self.limits.tmp_bytes,
                                               cpus=self.limits.cpus, tasks=self.limits.processes + 16)
        if self.cgroup is not None:  # the worker joins it itself, before it forks anything
            self.request["cgroup_procs"] = self.cgroup.procs_files()
        if self.cgroup is None or "cpu" not in self.cgroup.controllers:
            slot = getattr(launcher, "slot", None)
            if slot is not None:  # no CPU quota: pin the sandbox to a CPU of its own instead
                cpus = sorted(os.sched_getaffinity(0))
                self.request["cpu_affinity"] = [cpus[slot % len(cpus)]]
        try:
            self.launched = launcher.launch(lambda fd, control: json.dumps(
                dict(self.request, channel_fd=fd, control_fd=control)).encode())
        except BaseException:
            if self.cgroup is not None:
                self.cgroup.remove()
            raise
        self.launched_at = time.monotonic()
        self.phase.wall0 = self.launched_at
        os.set_blocking(self.launched.control, False)
        if self.cgroup is not None:  # at once (what forks before is added at the first memory check)
            self.cgroup.add([self.launched.pid, *descendants(self.launched.pid)])
        try:
            self._watch()
        except FrameTooLarge as exc:
            self.stop(StopKind.CHANNEL_LIMIT, f"the submission sent too much data back to the grader while "
                                              f"{self.phase.name} ({exc})")
        except FrameError as exc:
            # frames the submission wrote itself: nothing received in this attempt is kept
            self.tampered, self.done = True, False
            self.stop(StopKind.TAMPERED, f"the grader's result channel was tampered with while "
                                         f"{self.phase.name} ({exc})")
        finally:
            self._finish()

    def _watch(self) -> None:
        launched = self._worker
        selector = selectors.DefaultSelector()
        selector.register(launched.channel, selectors.EVENT_READ, "channel")
        selector.register(launched.stdout, selectors.EVENT_READ, "output")
        selector.register(launched.stderr, selectors.EVENT_READ, "output")
        open_streams, next_poll, last = 3, 0.0, time.monotonic()
        try:
            while open_streams and self.stop_reason is None:
                now = time.monotonic()
                self._forgive_stall(now - last)
                last = now
                poll = now >= next_poll
                if poll:
                    next_poll = now + POLL_SECONDS
                self._check_limits(now, poll)
                if self.stop_reason is not None:
                    break
                for key, _ in selector.select(max(0.01, min(next_poll, self.deadline_total) - now)):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        selector.unregister(key.fd)
                        open_streams -= 1
                    elif key.data == "channel":
                        self._channel(data)
                    else:
                        self._printed(data)
                    if self.stop_reason is not None:
                        break
        finally:
            selector.close()

    def _channel(self, data: bytes) -> None:
        if self.done:  # the worker writes nothing after 'done': this is the submission's
            raise FrameError("data after 'done'")
        if self.reader.total + len(data) > self.limits.channel_bytes:
            self.stop(StopKind.CHANNEL_LIMIT, f"the submission sent too much data back to the grader while "
                                              f"{self.phase.name}")
            return
        for message in self.reader.feed(data):
            self.handle(self.protocol.feed(message))
        if self.done and self.reader.pending:
            raise FrameError("data after 'done'")

    def _printed(self, data: bytes) -> None:
        self.output_total += len(data)
        if len(self.output) < OUTPUT_KEPT:
            self.output += data[: OUTPUT_KEPT - len(self.output)]
        if self.output_total > self.limits.output_bytes:
            self.stop(StopKind.OUTPUT_LIMIT, f"output limit of {human_bytes(self.limits.output_bytes)} exceeded "
                                             f"while {self.phase.name} (the code printed too much)")

    def _finish(self) -> None:
        launched = self._worker
        for fd in (launched.channel, launched.stdout, launched.stderr, launched.control):
            try:
                os.close(fd)
            except OSError:
                pass
        self.outcome.cpu_seconds += self.cpu_now()
        self.kill()
        status = launched.wait()
        if self.cgroup is not None:
            if self.stop_reason is None and not self.done and self.cgroup.oom_kills():
                self.stop_reason = Stop(StopKind.MEMORY_LIMIT, self.phase.name, self._memory_message())
            self.cgroup.remove()
        if self.stop_reason is None and not self.done:
            kind, message = self._death_message(status)
            self.stop_reason = Stop(kind, self.phase.name, message)
        self.outcome.output = self.output.decode("utf-8", "replace")

    @property
    def culprit(self) -> tuple | None:
        return self.phase.culprit


ProbeKey = ProbeKey  # re-exported for the runner
