"""Inside the sandbox: run the student's units, then the probes, and send observations.

Everything sent is plain data (see :mod:`grader.codec`); no verdict is formed here.
References to the functions used to encode and send are taken before any student code
runs, so monkeypatching torch, json or os later does not change what this code does.
"""

from __future__ import annotations

import ast
import builtins
import importlib.abc
import importlib.machinery
import linecache
import random
import signal
import sys
import time
import traceback
import types
from typing import Any

from grader.codec import encode
from grader.sandbox.channel import write_frame

_perf_counter = time.perf_counter
_setitimer = signal.setitimer
_signal = signal.signal
MAX_MESSAGE = 2000

# Display-only libraries: when one is not installed, importing it gives a harmless stub,
# so a plot or a progress bar never costs points.
DISPLAY_ONLY = {"matplotlib", "seaborn", "plotly", "IPython", "ipywidgets", "tqdm", "bokeh", "altair",
                "graphviz", "torchviz", "torchsummary", "torchinfo", "wandb", "tensorboard", "livelossplot",
                "google.colab"}  # drive.mount() and files.upload() in notebooks written on Colab


def _display_only(fullname: str) -> bool:
    """A display-only module, one inside it, or a parent package it needs (``google``)."""
    parts = fullname.split(".")
    if any(".".join(parts[:i]) in DISPLAY_ONLY for i in range(1, len(parts) + 1)):
        return True
    return any(name.startswith(fullname + ".") for name in DISPLAY_ONLY)


class CallTimeout(BaseException):
    """Raised inside student code when a call passes its time limit (BaseException, so a
    student's ``except Exception`` does not swallow it)."""


class ForbiddenCall(Exception):
    """Raised when student code calls a function the exercise forbids."""


class _Stub:
    """Stands in for any object of a display-only library that is not installed."""

    def __init__(self, name: str = "stub") -> None:
        self._name = name

    def __getattr__(self, item: str) -> "_Stub":
        if item.startswith("__"):
            raise AttributeError(item)
        return _Stub(f"{self._name}.{item}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._name.endswith("subplots"):
            return _Stub("figure"), _Stub("axes")
        return _Stub(f"{self._name}()")

    def __getitem__(self, item: Any) -> "_Stub":
        return _Stub(f"{self._name}[]")

    def __iter__(self):
        return iter(())

    def __enter__(self) -> "_Stub":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<display stub {self._name}>"


def _tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
    return iterable if iterable is not None else _Stub("tqdm")


class _StubModule(types.ModuleType):
    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        if item in ("tqdm", "tqdm_notebook"):
            return _tqdm
        if item == "trange":
            return lambda *a, **k: range(*a)
        return _Stub(f"{self.__name__}.{item}")


class _DisplayStubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: only consulted when the real library is missing."""

    def find_spec(self, fullname, path, target=None):
        if _display_only(fullname):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        return None


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


# ---------------------------------------------------------------- tracebacks
class Trimmer:
    """Formats exceptions with only the student's own frames, named by cell and line."""

    def __init__(self, student_files: dict[str, str]) -> None:
        self.files = student_files

    def label(self, filename: str, lineno: int) -> str:
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
        bases = [c.__name__ for c in type(exc).__mro__[1:] if isinstance(c, type)]
        return {"$": "raised", "type": type(exc).__name__, "message": message[:MAX_MESSAGE],
                "traceback": self.format(exc), "bases": bases, **extra}


# ---------------------------------------------------------------- student namespace
class Student:
    """The probes' view of the submission: its top-level names."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def has(self, name: str) -> bool:
        return name in self.namespace

    def get(self, name: str) -> Any:
        return self.namespace[name]


class Recorder:
    """Collects a probe's observations: values returned, exceptions raised, timings."""

    def __init__(self, student: Student, trimmer: Trimmer, torch: Any, device: str, deadline: float,
                 inputs: dict[str, Any] | None = None) -> None:
        self.student = student
        self._inputs = inputs or {}
        self.trimmer = trimmer
        self.torch = torch
        self.device = device
        self.deadline = deadline
        self.observations: dict[str, Any] = {}

    def input(self, name: str) -> Any:
        """Data the exercise prepared on the trusted side (NumPy arrays come back as
        writable NumPy arrays; convert with torch.from_numpy)."""
        from grader.codec import TensorValue, decode

        value = decode(self._inputs[name])
        return value.data if isinstance(value, TensorValue) else value

    # -- time limits
    def remaining(self) -> float:
        return max(0.001, self.deadline - _perf_counter())

    def _arm(self, seconds: float) -> None:
        def expired(signum, frame):
            raise CallTimeout(f"time limit of {seconds:.3g} s exceeded")

        _signal(signal.SIGALRM, expired)
        _setitimer(signal.ITIMER_REAL, max(0.001, seconds))

    @staticmethod
    def _disarm() -> None:
        _setitimer(signal.ITIMER_REAL, 0)

    # -- recording
    def record(self, key: str, value: Any) -> None:
        """Record any value (encoded to plain data; a failure to encode is recorded too)."""
        self._arm(self.remaining())
        try:
            self.observations[key] = encode(value, self.torch)
        except BaseException as exc:  # noqa: BLE001 - hostile objects may raise anything
            self.observations[key] = self.trimmer.describe(exc)
        finally:
            self._disarm()

    def call(self, key: str, function: Any, *args: Any, timeout: float | None = None,
             forbid: tuple[str, ...] = (), record: bool = True, **kwargs: Any) -> Any:
        """Call a student function (by name or object) and record what happened under
        ``key``; ``key + ".seconds"`` gets the wall time. Returns the value, or
        :data:`FAILED` when it raised, timed out or is not defined."""
        if isinstance(function, str):
            if not self.student.has(function):
                self.observations[key] = {"$": "missing", "name": function}
                return FAILED
            function = self.student.get(function)
        limit = min(timeout, self.remaining()) if timeout is not None else self.remaining()
        restore = self._forbid(forbid)
        self._arm(limit)
        start = _perf_counter()
        try:
            value = function(*args, **kwargs)
        except CallTimeout:
            self._disarm()
            self.observations[key] = {"$": "raised", "type": "TimeoutError", "timed_out": True,
                                      "message": f"time limit of {limit:.3g} s exceeded", "traceback": ""}
            return FAILED
        except ForbiddenCall as exc:
            self._disarm()
            self.observations[key] = self.trimmer.describe(exc, forbidden=str(exc))
            return FAILED
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            self._disarm()
            self.observations[key] = self.trimmer.describe(exc)
            return FAILED
        finally:
            self._disarm()
            seconds = _perf_counter() - start
            restore()
        self.observations[key + ".seconds"] = seconds
        if record:
            self.record(key, value)
        return value

    def _forbid(self, names: tuple[str, ...]):
        """Replace each dotted name (a module function such as ``torch.broadcast_shapes`` or
        a class attribute such as ``torch.Tensor.backward``) by a refusal for one call."""
        patched = []
        for dotted in dict.fromkeys(names):
            owner = _resolve_owner(dotted)
            attr = dotted.rsplit(".", 1)[1]
            if owner is None or not hasattr(owner, attr):
                continue
            original = getattr(owner, attr)

            def refuse(*args, _name=dotted, **kwargs):
                raise ForbiddenCall(_name)

            try:
                setattr(owner, attr, refuse)
            except (AttributeError, TypeError):
                continue
            patched.append((owner, attr, original))

        def restore() -> None:
            for owner, attr, original in reversed(patched):
                setattr(owner, attr, original)

        return restore


def _resolve_owner(dotted: str) -> Any:
    """The object holding the last attribute of ``dotted``: a module or a class."""
    parts = dotted.split(".")[:-1]
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        owner = module
        for name in parts[cut:]:
            owner = getattr(owner, name, None)
            if owner is None:
                return None
        return owner
    return None


FAILED = object()


# ---------------------------------------------------------------- the job
def _reset_state(torch: Any, seed: int) -> None:
    """Global state a previous cell or probe may have changed."""
    random.seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except Exception:  # noqa: BLE001
        pass
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    torch.set_num_threads(1)


def run_job(request: dict[str, Any], channel_fd: int, torch: Any, probes: dict[tuple[str, str], Any]) -> None:
    send = write_frame
    submission = request["submission"]
    files: dict[str, str] = submission["files"]
    for filename, text in files.items():
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    trimmer = Trimmer(files)
    sys.meta_path.append(_DisplayStubFinder())
    builtins.display = _noop  # what Jupyter provides without an import
    builtins.get_ipython = lambda: _Stub("get_ipython()")
    builtins.input = _eof_input
    namespace: dict[str, Any] = {"__name__": submission["module_name"], "__builtins__": builtins}
    skip = {int(k): v for k, v in request.get("skip_units", {}).items()}
    seed = int(request.get("seed", 0))

    _reset_state(torch, seed)
    for index, unit in enumerate(submission["units"]):
        if index in skip:
            continue
        send(channel_fd, {"type": "unit_start", "index": index})
        error = None
        try:
            tree = ast.parse(unit["source"], filename=unit["filename"])
            ast.increment_lineno(tree, unit["first_line"] - 1)
            code = compile(tree, unit["filename"], "exec")
            exec(code, namespace)  # noqa: S102 - this is the sandbox
        except SyntaxError as exc:
            exc.lineno = (exc.lineno or 1) + unit["first_line"] - 1
            exc.filename = unit["filename"]
            error = trimmer.describe(exc)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            error = trimmer.describe(exc)
        send(channel_fd, {"type": "unit_done", "index": index, "error": error})

    wanted = request.get("names", [])
    send(channel_fd, {"type": "loaded", "defined": [n for n in wanted if n in namespace]})
    student = Student(namespace)
    for spec in request["probes"]:
        key = (spec["exercise"], spec["probe"])
        if not any(name in namespace for name in spec.get("names", ())):
            send(channel_fd, {"type": "probe_done", "exercise": key[0], "probe": key[1], "observations": {},
                              "failure": None})
            continue
        send(channel_fd, {"type": "probe_start", "exercise": key[0], "probe": key[1]})
        _reset_state(torch, seed)
        recorder = Recorder(student, trimmer, torch, request["device"], _perf_counter() + spec["timeout"],
                            spec.get("inputs"))
        failure = None
        try:
            probes[key](student, recorder)
        except CallTimeout:
            failure = {"$": "raised", "type": "TimeoutError", "timed_out": True, "traceback": "",
                       "message": f"time limit of {spec['timeout']:.3g} s exceeded"}
        except BaseException as exc:  # noqa: BLE001
            failure = trimmer.describe(exc)
        finally:
            Recorder._disarm()
        send(channel_fd, {"type": "probe_done", "exercise": key[0], "probe": key[1],
                          "observations": recorder.observations, "failure": failure})
    send(channel_fd, {"type": "done"})


def _eof_input(prompt: str = "") -> str:
    raise EOFError("input() is not available while grading (no keyboard)")
