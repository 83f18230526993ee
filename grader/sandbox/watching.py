"""Inside the sandbox: what a watched call did, sent to the runner as it happens.

A probe's call of a student function is *watched* when it forbids some functions
(``forbid=``) or has tensor or NumPy arguments (which it must leave as it found them). The
evidence never stays in this process, where the student's code runs too:

- **in-place changes**: a digest of each argument's bytes (SHA-256 of dtype, shape,
  strides and memory, read straight from the tensor's storage, so no torch kernel, mode
  or override the submission installed takes part) goes to the runner in a ``watch``
  frame before the call, after it, and again at the end of the probe (after a garbage
  collection, for a change made late by a finalizer); the trusted side compares them;
- **forbidden functions**: a profile hook whose table of forbidden code objects is built
  before the call; the first hit is sent at once in a ``notice`` frame naming the call;
- **threads**: a Python thread of the submission alive when a watched call starts or a
  probe ends could act beside the watch (the profile hook covers only the threads it is
  set in): that is a ``notice`` for the call, or the probe, too.

All primitives are captured by :func:`capture` before any student code runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import itertools
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from grader.sandbox import originals
from grader.sandbox.channel import write_frame
from grader.states import Frame

MAX_ARGUMENTS = 64  # tensors watched per call
#: the modules whose names the watching relies on: any of them rebound while the submission
#: runs makes what the watching reports unverifiable (see :func:`capture`)
GUARDED = ("grader.codec", "grader.sandbox.watching", "grader.sandbox.recorder", "grader.sandbox.channel",
           "grader.sandbox.audit", "grader.sandbox.originals", "grader.sandbox.student")
_sha256 = hashlib.sha256
_current_frames = sys._current_frames
_setprofile, _getprofile, _thread_setprofile = sys.setprofile, sys.getprofile, threading.setprofile
_found: dict[str, Any] = {}


def capture(torch: Any) -> None:
    """Take the primitives the digests use, before any student code runs."""
    import ctypes

    import numpy

    base = torch._C.TensorBase
    _found.update(
        string_at=ctypes.string_at, ndarray=numpy.ndarray, tobytes=numpy.ndarray.tobytes,
        tensor=base, storage=base.untyped_storage, offset=base.storage_offset, stride=base.stride,
        size=base.size, element_size=base.element_size, is_contiguous=base.is_contiguous, numel=base.numel,
        data_ptr=torch._C.StorageBase.data_ptr, dtype=base.__dict__["dtype"].__get__,
        device=base.__dict__["device"].__get__, exclude=torch._C._ExcludeDispatchKeyGuard,
        python_keys=torch._C.DispatchKeySet(torch._C.DispatchKey.Python)
        | torch._C.DispatchKeySet(torch._C.DispatchKey.PythonTLSSnapshot),
        cpu=base.cpu, contiguous=base.contiguous, is_conj=base.is_conj, is_neg=base.is_neg,
        no_torch_function=torch._C.DisableTorchFunction, count=itertools.count(), codec_file=_codec_file())
    _found["pids"] = _pids() if _in_own_pid_namespace() else None
    push_call, pop_call, current_call = _call_stack()
    _found.update(push_call=push_call, pop_call=pop_call, current_call=current_call)
    _guard()  # last: binds `untouched`, then copies every name above, that one included


def _codec_file() -> str:
    from grader import codec

    return str(codec.__file__)


def _guard() -> Callable[[], bool]:
    """A check, kept in its closure, that every name of the :data:`GUARDED` modules and
    every primitive taken here is still what it was when the check was made (the check
    itself included: it is copied after it is bound as :data:`untouched`)."""
    frozen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def check() -> bool:
        return all(namespace.get(key) is value for namespace, copy in frozen for key, value in copy.items())

    this = sys.modules[__name__]
    this.untouched = check  # type: ignore[attr-defined]
    modules = [sys.modules[name] for name in GUARDED if name in sys.modules]
    frozen.extend([(vars(module), dict(vars(module))) for module in modules] + [(_found, dict(_found))])
    return check


def untouched() -> bool:
    """Whether the watching's own names are as :func:`capture` left them (True before it)."""
    return True


def _call_stack() -> tuple[Callable[[str], None], Callable[[], None], Callable[[], str | None]]:
    """The watched call in progress (its key), kept in a closure: what a thread started now
    is charged to."""
    stack: list[str] = []

    def current() -> str | None:
        return stack[-1] if stack else None

    def pop() -> None:
        if stack:
            stack.pop()

    return stack.append, pop, current


def torch_functions_off() -> Any:
    """A context in which no ``__torch_function__`` (a mode the submission entered, a
    subclass it made) takes part in what torch is asked: reading the watched arguments,
    encoding a result."""
    return _found["no_torch_function"]() if _found else contextlib.nullcontext()


def digest(value: Any) -> str:
    """SHA-256 of what a tensor or array is (its exact type, dtype, shape, strides and
    bytes), read with every ``__torch_function__`` switched off. One that cannot be read
    gets a text no other digest equals: an argument the grader cannot read after the call
    is not known to be unchanged."""
    try:
        with torch_functions_off():
            return _digest(value)
    except Exception as exc:  # noqa: BLE001 - hostile tensors may raise anything
        return f"unreadable {type(exc).__name__} #{next(_found['count']) if _found else 0}"


def _digest(value: Any) -> str:
    f = _found
    kind = type(value)
    exact = f"{kind.__module__}.{kind.__qualname__}@{id(kind)}"  # a class swapped in the call changes it
    if isinstance(value, f["ndarray"]):
        head = f"{exact}|{value.dtype.str}|{value.shape}|{value.strides}".encode()
        return _sha256(head + f["tobytes"](value)).hexdigest()
    shape, dtype = tuple(f["size"](value)), f"{f['dtype'](value)}|{f['is_conj'](value)}|{f['is_neg'](value)}"
    if f["device"](value).type != "cpu":  # a GPU's memory is not ours to read: copy it, no Python dispatch
        with f["exclude"](f["python_keys"]):
            value = f["contiguous"](f["cpu"](value))
    size = f["element_size"](value)
    start = f["data_ptr"](f["storage"](value)) + f["offset"](value) * size
    strides = tuple(f["stride"](value))
    extent = 1 + sum((n - 1) * s for n, s in zip(shape, strides) if n > 0) if f["numel"](value) else 0
    head = f"{exact}|{dtype}|{shape}|{strides}".encode()
    return _sha256(head + f["string_at"](start, extent * size)).hexdigest()


def watched_arguments(function: Any, args: tuple, kwargs: dict, torch: Any) -> tuple[tuple[str, Any], ...]:
    """(label, tensor or array) for every tensor or NumPy array passed, also one level inside
    a list, tuple or dict argument: what a call must leave as it found it."""
    if torch is None or not _found:
        return ()
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        names = []
    labelled = [(names[i] if i < len(names) else f"argument {i + 1}", a) for i, a in enumerate(args)]
    labelled += list(kwargs.items())
    found = []
    for label, value in labelled:
        inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) \
            else [(None, value)]
        for index, item in list(inner)[:MAX_ARGUMENTS]:
            plain = type(item) is _found["ndarray"] or (isinstance(item, torch.Tensor) and item.device.type != "meta")
            if plain:
                found.append((label if index is None else f"{label}[{index!r}]", item))
    return tuple(found[:MAX_ARGUMENTS])


def _ignore(*args: Any) -> None:
    return None


def others_running() -> bool:
    """Whether a Python thread besides this one is alive (the submission started it)."""
    return len(_current_frames()) > 1


def processes_running() -> bool:
    """Whether a process the submission started is alive (a program left running by a cell
    could do a call's work): in the sandbox's own PID namespace every process is listed in
    /proc, and those there before the student's code ran are the grader's."""
    import os

    before = _found.get("pids")
    if before is None:
        return False
    for pid in _pids() - before - {os.getpid()}:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue  # ended in between
        if state != b"Z":
            return True
    return False


def _pids() -> set[int]:
    import os

    try:
        return {int(name) for name in os.listdir("/proc") if name.isdigit()}
    except OSError:
        return set()


def _in_own_pid_namespace() -> bool:
    """Whether this process has a PID namespace of its own (the sandbox's worker is its
    first process, PID 1, with its own /proc): /proc then lists only the sandbox's
    processes."""
    import os

    return os.getpid() == 1


class Reporter:
    """Writes ``watch`` and ``notice`` frames for one probe (nothing in a forked child)."""

    def __init__(self, frames: int | None, pid: int) -> None:
        self.frames, self.pid = frames, pid
        self.calls: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
        # taken now, after the probe's restore of the grader's modules: what the student's
        # code rebinds later does not reach these
        self._untouched = untouched
        self._enter, self._leave = _found.get("push_call", _ignore), _found.get("pop_call", _ignore)
        self._changed_seen = False

    def enter(self, key: str) -> None:
        """A watched call starts: a thread started now is charged to it."""
        self._enter(key)

    def leave(self) -> None:
        self._leave()

    def check_untouched(self) -> None:
        """A notice for the whole probe (once) when the watching's own modules were rebound
        since :func:`capture`: nothing it reports from then on can be trusted."""
        if not self._changed_seen and not self._untouched():
            self._changed_seen = True
            self.notice("the grader's own code changed while the submission ran")

    def _send(self, message: dict[str, Any]) -> None:
        import os

        if self.frames is not None and os.getpid() == self.pid:
            write_frame(self.frames, message)

    def notice(self, event: str, call: str | None = None, forbidden: str | None = None) -> None:
        self._send({"type": Frame.NOTICE.value, "event": event[:200], "call": call, "forbidden": forbidden})

    def before(self, key: str, function: str, arguments: tuple[tuple[str, Any], ...]) -> None:
        self.check_untouched()
        self.calls.append((key, arguments))
        self._send({"type": Frame.WATCH.value, "key": key, "stage": "before", "function": function,
                    "labels": [label for label, _ in arguments], "digests": [digest(v) for _, v in arguments]})

    def after(self, key: str, arguments: tuple[tuple[str, Any], ...], stage: str = "after") -> None:
        self.check_untouched()
        self._send({"type": Frame.WATCH.value, "key": key, "stage": stage,
                    "digests": [digest(v) for _, v in arguments]})

    def release(self, key: str) -> None:
        """The probe is about to change the arguments of call ``key`` itself: take their
        last digests now, and not at the end of the probe."""
        import gc

        gc.collect()
        for call, arguments in [c for c in self.calls if c[0] == key]:
            self.after(call, arguments, stage="end")
        self.calls = [c for c in self.calls if c[0] != key]

    def finish(self) -> None:
        """The end of the probe: every watched argument once more, after a collection (a
        finalizer may change one late), and any thread the submission left running."""
        import gc

        gc.collect()
        self.check_untouched()
        for key, arguments in self.calls:
            self.after(key, arguments, stage="end")
        if others_running():
            self.notice("a thread of the submission still running at the end of the probe")


class ForbiddenWatch:
    """Notices when a call runs one of the forbidden functions (by the identity of their
    code, as resolved before any student code ran), however the student reached it, and
    reports the first hit at once through ``on_hit``."""

    def __init__(self, names: tuple[str, ...], on_hit: Callable[[str], None]) -> None:
        codes: dict[Any, str] = {}
        builtins: dict[int, str] = {}
        methods: dict[str, str] = {}  # a C method's qualified name (its bound objects differ per instance)
        for name in names:
            obj = originals.original(name)
            code = getattr(obj, "__code__", None)
            if code is not None:
                codes.setdefault(code, name)  # the first name given (the public one) is the one reported
            elif type(obj).__name__ in ("method_descriptor", "builtin_function_or_method") \
                    and not isinstance(getattr(obj, "__self__", None), types.ModuleType):
                methods.setdefault(obj.__qualname__, name)  # a C method: any instance's (another engine's)
            elif obj is not None and callable(obj):
                builtins.setdefault(id(obj), name)
        self.active = bool(codes or builtins or methods)
        self._on_hit = on_hit
        self.hit: str | None = None
        hits: list[str] = []

        codec_file = _found.get("codec_file")

        def profile(frame, event, arg):
            if event == "call":
                name = codes.get(frame.f_code)
                caller = frame.f_back
            elif event == "c_call":
                name = builtins.get(id(arg)) or methods.get(getattr(arg, "__qualname__", ""))
                caller = frame
            else:
                return
            if name is not None and caller is not None and caller.f_code.co_filename == codec_file:
                return  # the grader reading the result (grader.codec), not the student's code
            if name is not None and not hits:
                hits.append(name)
                self.hit = name
                on_hit(name)

        self.profiler = profile

    def __enter__(self) -> ForbiddenWatch:
        if self.active:
            _thread_setprofile(self.profiler)
            _setprofile(self.profiler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.active:
            return
        if _getprofile() is not self.profiler and self.hit is None:
            self.hit = "sys.setprofile"  # the call switched the watch off
            self._on_hit(self.hit)
        _setprofile(None)
        _thread_setprofile(None)
