"""The exercise plugin API: probes run student code in the sandbox, checks judge outside.

An exercise is declared once and decorated::

    exercise = Exercise(id="tensor_ops", title="...", names=("to_float_tensor", ...),
                        reference=Path(__file__).with_name("ref.py"))

    @exercise.probe("standardize", timeout=10)
    def _(student, rec):             # runs in the sandbox, on student and reference alike
        import torch
        rec.call("random", "column_standardize", torch.randn(5, 3))

    @exercise.check("column_standardize.values", points=2, probe="standardize",
                    requires=("column_standardize",))
    def _(ctx):                      # runs on the trusted side, NumPy only
        return compare_tensors(ctx.got("random"), ctx.expected("random"))

Probes record observations; they never decide anything. The same probe runs on the
reference solution (cached) and the student's code with the same seeds, and every check
compares the two on the trusted side.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.codec import Missing, Raised
from grader.static import StudentSource

POINTS_PER_EXERCISE = 10.0


@dataclass
class Verdict:
    """What a check concluded. ``fraction`` gives partial credit (default: all or nothing)."""

    passed: bool
    message: str = ""
    hint: str | None = None
    fraction: float | None = None
    status: str | None = None  # force "error" when the student's code raised

    @property
    def credit(self) -> float:
        if self.fraction is not None:
            return max(0.0, min(1.0, self.fraction))
        return 1.0 if self.passed else 0.0


class StudentFailed(Exception):
    """Raised by :meth:`CheckContext.got` when the student's call did not return a value;
    the check becomes a failed (or error) check with a message built from it."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


@dataclass
class Probe:
    name: str
    function: Callable[..., None]
    timeout: float = 10.0


@dataclass
class Check:
    id: str
    name: str
    points: float
    probe: str | None
    judge: Callable[["CheckContext"], Verdict]
    requires: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    hints: dict[str, str] = field(default_factory=dict)  # raised-exception type -> hint


@dataclass
class CheckContext:
    """What a check's judge sees: the student's and the reference's observations of its
    probe (already decoded, NumPy only), the student's source, and the grading device."""

    got_observations: dict[str, Any]
    expected_observations: dict[str, Any]
    source: StudentSource
    device: str
    check: Check

    def got(self, key: str) -> Any:
        """The student's observation ``key``; a raise, a time-out or a missing name
        becomes the check's failure (with the traceback and any matching hint)."""
        if key not in self.got_observations:
            failure = self.got_observations.get("__probe_failure__")
            if isinstance(failure, Raised):  # the probe itself stopped, e.g. on an object it could not use
                raise StudentFailed(self.raised_verdict(failure))
            earlier = [v for v in self.got_observations.values() if isinstance(v, Raised)]
            if earlier:  # the probe returned early because an earlier student call failed: say which
                verdict = self.raised_verdict(earlier[-1])
                verdict.message = f"could not be checked because an earlier call failed: {verdict.message}"
                raise StudentFailed(verdict)
            raise StudentFailed(Verdict(False, f"the grader recorded nothing for {key!r} (the probe stopped early)",
                                        status="error"))
        value = self.got_observations[key]
        if isinstance(value, Missing):
            raise StudentFailed(Verdict(False, f"`{value.name}` is not defined at the top level of the submission"))
        if isinstance(value, Raised):
            raise StudentFailed(self.raised_verdict(value))
        return value

    def raw(self, key: str, default: Any = None) -> Any:
        """The student's observation ``key`` as recorded, a :class:`Raised` included."""
        return self.got_observations.get(key, default)

    def expected(self, key: str) -> Any:
        value = self.expected_observations[key]
        if isinstance(value, (Raised, Missing)):
            raise RuntimeError(f"the reference solution failed on {key!r}: {value}")
        return value

    def raised_verdict(self, raised: Raised) -> Verdict:
        if raised.timed_out:
            return Verdict(False, f"stopped: {raised.message}", status="error")
        if raised.forbidden:
            return Verdict(False, f"calls `{raised.forbidden}`, which this exercise does not allow")
        if raised.is_a("NotImplementedError"):  # a starter notebook's stub, left as it is: a plain failure
            return Verdict(False, f"not implemented yet: raised {raised.describe()}",
                           hint="this is still the starter's stub: replace `raise NotImplementedError` with your code")
        hint = next((h for name, h in self.check.hints.items() if raised.is_a(name) or name in raised.message), None)
        return Verdict(False, f"raised {raised.describe()}", hint=hint, status="error")


class Exercise:
    """A gradeable exercise: contract names, probes (sandbox side) and checks (trusted side)."""

    def __init__(self, id: str, title: str, names: tuple[str, ...], reference: Path | str,
                 version: str = "1", description: str = "", points: float = POINTS_PER_EXERCISE,
                 hidden_paths: tuple[Path, ...] = (), mutants: Path | str | None = None,
                 starter: Path | str | None = None):
        self.id = id
        self.title = title
        self.names = tuple(names)
        self.reference = Path(reference)
        self.version = version
        self.description = description
        self.points = points
        self.hidden_paths = tuple(Path(p) for p in hidden_paths)
        #: folder of known-wrong solutions that ``grader verify`` runs (see docs/authoring.md)
        self.mutants = Path(mutants) if mutants is not None else None
        #: ``.py`` file with the student's stubs for ``grader starter`` (its docstring: the contract, in Markdown)
        self.starter = Path(starter) if starter is not None else None
        self._inputs: Callable[[str], dict[str, Any]] | None = None
        self.probes: dict[str, Probe] = {}
        self.checks: list[Check] = []
        self.module = inspect.currentframe().f_back.f_globals.get("__name__", "")  # where probes are found

    def probe(self, name: str, timeout: float = 10.0) -> Callable:
        """Register a sandbox-side probe: ``fn(student, rec)`` records observations."""

        def register(fn: Callable) -> Callable:
            if name in self.probes:
                raise ValueError(f"{self.id}: probe {name!r} registered twice")
            self.probes[name] = Probe(name, fn, timeout)
            return fn

        return register

    def inputs(self, fn: Callable[[str], dict[str, Any]]) -> Callable:
        """Register a trusted-side function ``fn(device) -> {name: ndarray | plain data}``
        whose result is sent into the sandbox for the probes (``rec.input(name)``).
        Use it for data that must be prepared outside (e.g. a split whose test labels
        stay on the trusted side); keep what the student must not see out of it."""
        self._inputs = fn
        return fn

    def make_inputs(self, device: str) -> dict[str, Any]:
        return self._inputs(device) if self._inputs is not None else {}

    def check(self, id: str, points: float, probe: str | None = None, name: str | None = None,
              requires: tuple[str, ...] = (), depends: tuple[str, ...] = (),
              hints: dict[str, str] | None = None) -> Callable:
        """Register a trusted-side check: ``fn(ctx) -> Verdict``."""

        def register(fn: Callable) -> Callable:
            doc = (inspect.getdoc(fn) or "").strip().splitlines()
            self.checks.append(Check(id=id, name=name or (doc[0] if doc else id), points=float(points), probe=probe,
                                     judge=fn, requires=tuple(requires), depends=tuple(depends), hints=hints or {}))
            return fn

        return register

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)

    def fingerprint(self) -> str:
        """Changes whenever the exercise's code or its reference changes (cache key)."""
        digest = hashlib.sha256(f"{self.id}:{self.version}".encode())
        module_file = inspect.getsourcefile(next(iter(self.probes.values())).function) if self.probes else None
        for path in (module_file, self.reference):
            if path and Path(path).exists():
                digest.update(Path(path).read_bytes())
        return digest.hexdigest()[:16]

    def validate(self) -> list[str]:
        """Problems with the exercise's own definition (for ``grader verify`` and tests)."""
        problems = []
        ids = [c.id for c in self.checks]
        if len(set(ids)) != len(ids):
            problems.append("duplicate check ids")
        for c in self.checks:
            if c.probe is not None and c.probe not in self.probes:
                problems.append(f"check {c.id} uses unknown probe {c.probe!r}")
            for dep in c.depends:
                if dep not in ids[: ids.index(c.id)]:
                    problems.append(f"check {c.id} depends on {dep!r}, which is not an earlier check")
        if abs(self.max_points - self.points) > 1e-9:
            problems.append(f"checks add up to {self.max_points} points, not {self.points}")
        if not self.reference.exists():
            problems.append(f"reference {self.reference} does not exist")
        return problems
