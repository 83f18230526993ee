"""The probes' tools inside the sandbox: call the student's functions and record what
happened, as plain data (see :mod:`grader.codec`). No verdict is formed here.

- :meth:`Recorder.call` calls a student function under a CPU-time limit and records its
  value or its exception (with the student's own traceback lines). What the call did to
  its tensor arguments, and (``forbid=``) whether it ran a forbidden function however it
  reached it, goes to the runner as it happens (:mod:`grader.sandbox.watching`).
- :meth:`Recorder.timed_call` is measured by the runner, outside the sandbox, in CPU
  time, with inputs made from a seed the runner releases when the measurement starts.
- :meth:`Recorder.record` records any value.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

from grader import commitment
from grader.codec import encode
from grader.integrity import WATCHED
from grader.sandbox import originals
from grader.sandbox.channel import read_message, write_frame
from grader.sandbox.watching import (ForbiddenWatch, Reporter, others_running, processes_running, torch_functions_off,
                                     watched_arguments)
from grader.states import Frame

_process_time = time.process_time
_setitimer = signal.setitimer
_signal = signal.signal
MAX_MESSAGE = 2000
FAILED = object()  #: what :meth:`Recorder.call` returns when the student's call did not return a value


class CallTimeout(BaseException):
    """Raised inside student code when a call passes its time limit (BaseException, so a
    student's ``except Exception`` does not swallow it)."""


# ---------------------------------------------------------------- tracebacks
class Trimmer:
    """Formats exceptions with only the student's own frames, named by cell and line."""

    def __init__(self, student_files: dict[str, str]) -> None:
        self.files = student_files

    def label(self, filename: str, lineno: int | None) -> str:
        if filename.startswith("<cell ") and filename.endswith(">"):
            return f"{filename[1:-1]}, line {lineno}"
        return f"{filename}, line {lineno}"

    def format(self, exc: BaseException) -> str:
        lines = []
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename in self.files:
                lines.append(f"  {self.label(frame.filename, frame.lineno)}, in {frame.name}")
                if frame.line:
                    lines.append(f"    {frame.line.strip()}")
        if isinstance(exc, SyntaxError) and exc.filename in self.files:
            lines.append(f"  {self.label(exc.filename, exc.lineno or 0)}")
            if exc.text:
                lines.append(f"    {exc.text.strip()}")
        return "\n".join(lines)[-4 * MAX_MESSAGE:]

    def describe(self, exc: BaseException, **extra: Any) -> dict[str, Any]:
        try:
            message = str(exc.msg if isinstance(exc, SyntaxError) else exc)
        except BaseException:  # noqa: BLE001 - a hostile __str__
            message = "<the exception's message could not be shown>"
        if not isinstance(message, str):
            message = "<the exception's message is not text>"
        bases = [c.__name__ for c in type(exc).__mro__[1:] if isinstance(c, type)]
        record = {"$": "raised", "type": type(exc).__name__, "message": message[:MAX_MESSAGE],
                  "traceback": self.format(exc), "bases": bases, **extra}
        filename = getattr(exc, "filename", None) if isinstance(exc, OSError) else None
        if isinstance(filename, str):
            record["filename"] = filename[:4096]
        return record


# ---------------------------------------------------------------- the student's namespace
class Student:
    """The probes' view of the submission: its top-level names."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def has(self, name: str) -> bool:
        return name in self.namespace

    def get(self, name: str) -> Any:
        return self.namespace[name]


# ---------------------------------------------------------------- the recorder
class Recorder:
    """Collects a probe's observations: values returned, exceptions raised."""

    def __init__(self, student: Student, trimmer: Trimmer, torch: Any, device: str, cpu_budget: float,
                 inputs: dict[str, Any] | None = None, channel: Channel | None = None) -> None:
        self.student = student
        self._inputs = inputs or {}
        self.trimmer = trimmer
        self.torch = torch
        self.device = device
        self.deadline = _process_time() + cpu_budget
        self.channel = channel
        self.reporter = Reporter(channel.frames if channel is not None else None, os.getpid())
        self.observations: dict[str, Any] = {}

    def input(self, name: str) -> Any:
        """Data the exercise prepared on the trusted side (NumPy arrays come back as
        writable NumPy arrays; convert with torch.from_numpy)."""
        from grader.codec import TensorValue, decode

        value = decode(self._inputs[name])
        return value.data if isinstance(value, TensorValue) else value

    def original(self, dotted: str) -> Any:
        """The function ``dotted`` named before any student code ran (``torch.is_grad_enabled``...)."""
        return originals.original(dotted)

    # -- time limits (CPU time of this process; the runner watches the whole sandbox)
    def remaining(self) -> float:
        return max(0.001, self.deadline - _process_time())

    def _arm(self, seconds: float) -> None:
        def expired(signum, frame):
            raise CallTimeout(f"time limit of {seconds:.3g} s exceeded")

        _signal(signal.SIGPROF, expired)
        _setitimer(signal.ITIMER_PROF, max(0.001, seconds))

    @staticmethod
    def disarm() -> None:
        _setitimer(signal.ITIMER_PROF, 0)

    # -- outcomes
    def failed(self, key: str) -> bool:
        """True when ``key`` holds no value: the call raised, timed out or was missing."""
        value = self.observations.get(key)
        return isinstance(value, dict) and value.get("$") in ("raised", "missing")

    def timed_out(self) -> dict | None:
        """The first call of this probe that ran out of time (its record), or None."""
        return next((v for v in self.observations.values() if isinstance(v, dict) and v.get("timed_out")), None)

    def fail_like(self, key: str, record: dict) -> None:
        """Record under ``key`` the same failure as ``record`` (a call not made because an
        earlier one of the probe already ran out of time, say)."""
        self.observations[key] = dict(record)

    # -- recording
    def record(self, key: str, value: Any) -> None:
        """Record any value (encoded to plain data; one that cannot be read is recorded as
        an object that says so; one that takes too long to read, as a time-out)."""
        self._arm(self.remaining())
        try:
            self.observations[key] = self._encoded(value)
        except CallTimeout:
            self.observations[key] = {"$": "raised", "type": "TimeoutError", "timed_out": True,
                                      "message": "time limit exceeded while its result was read", "traceback": ""}
        finally:
            self.disarm()

    def call(self, key: str, function: Any, *args: Any, timeout: float | None = None, forbid: tuple[str, ...] = (),
             record: bool = True, mutates: bool = False, **kwargs: Any) -> Any:
        """Call a student function (by name or object) and record what happened under
        ``key``. Unless ``mutates``, the runner gets digests of its tensor and NumPy
        arguments before and after (the trusted side charges an in-place change once);
        ``forbid``: dotted names the call must not run (:mod:`grader.sandbox.watching`).
        Returns the value, or :data:`FAILED` when it raised, timed out, ran a forbidden
        function or is not defined."""
        if isinstance(function, str):
            if not self.student.has(function):
                self.observations[key] = {"$": "missing", "name": function}
                return FAILED
            name, function = function, self.student.get(function)
        else:
            name = getattr(function, "__name__", "the function")
        limit = min(timeout, self.remaining()) if timeout is not None else self.remaining()
        arguments = () if mutates else watched_arguments(function, args, kwargs, self.torch)
        if forbid or arguments:  # what the trusted side reads from the reference's run (grader.integrity)
            self.observations[key + WATCHED] = encode(
                {"function": name, "forbid": list(forbid), "inputs": [label for label, _ in arguments]})
            if others_running():
                self.reporter.notice("a thread of the submission running when the call started", call=key)
            if processes_running():
                self.reporter.notice("a process of the submission running when the call started", call=key)
        if arguments:
            self.reporter.before(key, name, arguments)
        watch = ForbiddenWatch(forbid, lambda hit: self.reporter.notice("a forbidden function", call=key,
                                                                        forbidden=hit))
        encoded: Any = None
        self._arm(limit)
        self.reporter.enter(key)
        try:
            with watch:
                value = function(*args, **kwargs)
                if record:  # inside the watch and the time limit: a result that works when read is watched too
                    encoded = self._encoded(value)
        except CallTimeout:
            self.disarm()
            self.observations[key] = {"$": "raised", "type": "TimeoutError", "timed_out": True,
                                      "message": f"time limit of {limit:.3g} s exceeded", "traceback": ""}
            return FAILED
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            self.disarm()
            self.observations[key] = self.trimmer.describe(exc)
            return FAILED
        finally:
            self.disarm()
            self.reporter.leave()
            if arguments:
                self.reporter.after(key, arguments)
        if watch.hit:
            self.observations[key] = {"$": "raised", "type": "ForbiddenCall", "message": watch.hit,
                                      "forbidden": watch.hit, "traceback": ""}
            return FAILED
        if record:
            self.observations[key] = encoded
        return value

    def _encoded(self, value: Any) -> Any:
        """``value`` as plain data, read with every ``__torch_function__`` switched off; one
        that cannot be read (its code raised while it was read) is an object that says so,
        never an exception of the call (:class:`CallTimeout` goes on)."""
        try:
            with torch_functions_off():
                return encode(value, self.torch)
        except CallTimeout:
            raise
        except BaseException as exc:  # noqa: BLE001 - hostile objects may raise anything
            return {"$": "object", "type": _type_name(value),
                    "repr": f"<a result that could not be read: reading it raised {type(exc).__name__}>"}

    def release(self, key: str) -> None:
        """Say that the probe itself will now change the arguments it passed to call ``key``
        (to see whether the result shares their memory, say): their last check against an
        in-place change by the student's code is made now, not at the end of the probe."""
        self.reporter.release(key)

    def observe_files(self, key: str) -> None:
        """Ask the runner to list, itself, every file of the sandbox's writable places
        (/tmp and /dev/shm): ``ctx.measured(key)`` is a :class:`grader.sandbox.observe.Listing`."""
        if self.channel is not None:
            self.channel.ask(Frame.OBSERVE, key, what="files")

    def observe_file(self, key: str, path: str) -> None:
        """Ask the runner to read, itself, the file at ``path`` (under /tmp or /dev/shm):
        ``ctx.measured(key)`` is a :class:`grader.sandbox.observe.FileRead`; an inspector
        reads its bytes as ``rec.input("measured." + key)``."""
        if self.channel is not None:
            self.channel.ask(Frame.OBSERVE, key, what="file", path=path)

    def timed_call(self, key: str, function: Any, make_args: Callable[[int], tuple], *,
                   timeout: float | None = None, commit: bool = False) -> tuple[Any, float | None]:
        """Call ``function(*make_args(seed))`` under the runner's clock: the runner draws
        ``seed`` when the measurement starts (so no input can be known ahead) and measures
        the sandbox's CPU time until the call's end frame arrives (``ctx.measured(key)`` on
        the trusted side). With ``commit``, the value must be a plain 2-D ``torch.Tensor``:
        inside the measured window its rows are hashed into a Merkle tree whose root ends
        the measurement (:mod:`grader.commitment`), and afterwards the rows the runner then
        draws are recorded under ``key`` with their paths, so the trusted side can check
        that the whole result existed when the clock stopped. Returns (the value or
        :data:`FAILED`, the CPU seconds measured, or None without a runner)."""
        if self.channel is None:
            return self.call(key, function, *make_args(0), timeout=timeout, record=not commit), None
        challenge = self.channel.ask(Frame.TIMING_READY, key)
        seed = int(challenge.get("seed", 0))
        value = self.call(key, function, *make_args(seed), timeout=timeout, record=False)
        rows, refused = (None, None)
        if commit and value is not FAILED:
            rows, refused = _rows(value, self.torch)
        tree: commitment.Tree | None = None
        fields: dict[str, Any] = {}
        if rows is not None:
            tree = commitment.Tree.of_rows(rows)
            fields = {"root": tree.root, "rows": len(rows)}
        answer = self.channel.ask(Frame.TIMING_DONE, key, **fields)
        if value is not FAILED:
            if not commit:
                self.record(key, value)
            elif tree is None:
                self.observations[key] = {"$": "raised", "type": "TypeError", "message": refused, "traceback": ""}
            else:
                assert rows is not None  # the tree was built from them
                opened = [i for i in answer.get("open", []) if isinstance(i, int) and 0 <= i < len(rows)]
                self.record(key, {"shape": tuple(int(n) for n in value.shape), "rows": {i: rows[i] for i in opened},
                                  "paths": {i: tree.path(i) for i in opened}})
        seconds = answer.get("cpu_seconds")
        return value, float(seconds) if isinstance(seconds, (int, float)) else None


def _rows(value: Any, torch: Any) -> tuple[list[bytes] | None, str | None]:
    """The rows of a timed call's result as float32 bytes, or why there are none (only a
    plain tensor: a subclass could compute its values only when they are read)."""
    if type(value) is not torch.Tensor:
        return None, f"a timed call must return a plain torch.Tensor; it returned a {type(value).__name__}"
    with torch._C.DisableTorchFunction():
        plain = torch.Tensor.contiguous(torch.Tensor.to(torch.Tensor.detach(value), "cpu", torch.float32))
        if plain.dim() != 2:
            return None, f"a timed call must return a 2-D tensor; it returned {plain.dim()} dimension(s)"
        array = plain.numpy()
    return [array[i].tobytes() for i in range(array.shape[0])], None


class Channel:
    """The worker's two descriptors: frames out to the runner, its answers back."""

    def __init__(self, frames: int, control: int) -> None:
        self.frames, self.control = frames, control
        self.pid = os.getpid()

    def forked(self) -> bool:
        """True in a child the student's code forked (it must never write a frame)."""
        return os.getpid() != self.pid

    def send(self, message: dict[str, Any]) -> None:
        if self.forked():  # a child back in the worker's code, after a fork inside a student call
            os._exit(0)
        write_frame(self.frames, message)

    def ask(self, frame: Frame, key: str, **fields: Any) -> dict[str, Any]:
        self.send({"type": frame.value, "key": key, **fields})
        return read_message(self.control)


def _type_name(value: Any) -> str:
    """The name of ``value``'s type, read from the type itself (a hostile class cannot lie here)."""
    name = type.__getattribute__(type(value), "__name__")
    return name if isinstance(name, str) else "object"
