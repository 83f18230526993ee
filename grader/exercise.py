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

import functools
import hashlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from grader.codec import Missing, Raised
from grader.states import CheckStatus
from grader.integrity import HINT_UNVERIFIED, UNVERIFIED
from grader.static import StudentSource

POINTS_PER_EXERCISE = 10.0
hookimpl = pluggy.HookimplMarker("grader")
HINT_IN_PLACE = ("your function changed the tensor it was given: in-place operations (x -= ..., x /= ..., "
                 "x.add_(), x[...] = ...) modify the caller's tensor. Compute a new tensor instead "
                 "(y = x - mean), or work on a copy (x = x.clone()).")


@dataclass
class Verdict:
    """What a check concluded. ``fraction`` gives partial credit (default: all or nothing)."""

    passed: bool
    message: str = ""
    hint: str | None = None
    fraction: float | None = None
    status: CheckStatus | None = None  # CheckStatus.ERROR when the student's code raised or was stopped

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
    timeout: float = 10.0  # CPU seconds
    prelude: bool = False  # run before any student code (baselines for timed calls)
    inspects: str | None = None  # an inspector: runs in a fresh worker on what this probe recorded


@dataclass
class Check:
    id: str
    name: str
    points: float
    probe: str | None
    judge: Callable[[CheckContext], Verdict]
    requires: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    hints: dict[str, str] = field(default_factory=dict)  # raised-exception type or message text -> hint
    timeout_hint: str | None = None  # shown when the check's probe was stopped by its time limit


@dataclass
class CheckContext:
    """What a check's judge sees: the student's and the reference's observations of its
    probe (decoded, NumPy only), the runner's measurements of its timed calls, the
    student's source, and the grading device."""

    got_observations: dict[str, Any]
    expected_observations: dict[str, Any]
    source: StudentSource
    device: str
    check: Check
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe -> key -> Timing
    charged: set[str] = field(default_factory=set)  # mistakes already charged in this exercise
    exercise_observations: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe -> observations

    def got(self, key: str) -> Any:
        """The student's observation ``key``; a raise, a time-out, a missing name or an
        in-place change of the call's tensor arguments (charged once per exercise)
        becomes the check's failure, with the traceback and any matching hint."""
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
                                        status=CheckStatus.ERROR))
        value = self.got_observations[key]
        if isinstance(value, Missing):
            raise StudentFailed(Verdict(False, f"`{value.name}` is not defined at the top level of the submission"))
        if isinstance(value, Raised):
            raise StudentFailed(self.raised_verdict(value))
        self._charge_in_place(key)
        return value

    def _charge_in_place(self, key: str) -> None:
        changed = self.got_observations.get(key + ".inputs_changed")
        if not isinstance(changed, dict):
            return
        function = str(changed.get("function", "the function"))
        mistake = f"in_place:{function}"
        if mistake in self.charged:
            return
        self.charged.add(mistake)
        arguments = ", ".join(map(str, changed.get("arguments", []))) or "an argument"
        if changed.get("unverified"):
            raise StudentFailed(Verdict(False, f"whether {function} leaves its argument {arguments} unchanged "
                                               f"could not be verified: {changed['unverified']}",
                                        hint=HINT_UNVERIFIED))
        raise StudentFailed(Verdict(False, f"{function} changed its argument {arguments} in place (the caller's "
                                           f"tensor is not the same after the call)", hint=HINT_IN_PLACE))

    def raw(self, key: str, default: Any = None) -> Any:
        """The student's observation ``key`` as recorded, a :class:`Raised` included."""
        return self.got_observations.get(key, default)

    def expected(self, key: str) -> Any:
        value = self.expected_observations[key]
        if isinstance(value, (Raised, Missing)):
            raise RuntimeError(f"the reference solution failed on {key!r}: {value}")
        return value

    def measured(self, key: str, probe: str | None = None) -> Any:
        """The runner's measurement (:class:`grader.sandbox.attempt.Timing`: CPU seconds
        and the inputs' seed) of the timed call ``key`` of ``probe`` (default: this
        check's probe), or None when it was not measured."""
        return self.measurements.get(probe or self.check.probe or "", {}).get(key)

    def other(self, probe: str) -> dict[str, Any]:
        """The student's observations of another probe of the same exercise."""
        return self.exercise_observations.get(probe, {})

    def raised_verdict(self, raised: Raised) -> Verdict:
        if raised.timed_out:
            return Verdict(False, f"stopped: {raised.message}", status=CheckStatus.ERROR)
        if raised.is_a(UNVERIFIED):
            return Verdict(False, raised.message, hint=HINT_UNVERIFIED)
        if raised.forbidden:
            return Verdict(False, f"calls `{raised.forbidden}`, which this exercise does not allow")
        if raised.is_a("NotImplementedError"):  # a starter notebook's stub, left as it is: a plain failure
            return Verdict(False, f"not implemented yet: raised {raised.describe()}",
                           hint="this is still the starter's stub: replace `raise NotImplementedError` with your code")
        hint = next((h for name, h in self.check.hints.items() if raised.is_a(name) or name in raised.message), None)
        return Verdict(False, f"raised {raised.describe()}", hint=hint, status=CheckStatus.ERROR)


class Exercise:
    """A gradeable exercise: contract names, probes (sandbox side) and checks (trusted side).

    An ``Exercise`` is itself a plugin: an entry point may name it directly
    (``my_exercise = "my_package.exercise:exercise"``). The sandbox finds it again by
    importing ``module`` (default: the module of its first probe function) and looking
    for it there: bind it to a module-level name or return it from that module's
    ``grader_exercises`` hook.
    """

    def __init__(self, id: str, title: str, names: tuple[str, ...], reference: Path | str,
                 version: str = "1", description: str = "", points: float = POINTS_PER_EXERCISE,
                 hidden_paths: tuple[Path, ...] = (), mutants: Path | str | None = None,
                 starter: Path | str | None = None, module: str | None = None, packages: tuple[str, ...] = (),
                 sandbox_files: Callable[[], dict[str, Path]] | None = None,
                 source_notes: dict[str, str] | None = None, forbidden: tuple[str, ...] = ()):
        self.id = id
        self.title = title
        self.names = tuple(names)
        self.reference = Path(reference)
        self.version = version
        self.description = description
        self.points = points
        #: paths inside the sandbox's view to show empty
        self.hidden_paths = tuple(Path(p) for p in hidden_paths)
        #: folder of known-wrong solutions that ``grader verify`` runs (see docs/authoring.md)
        self.mutants = Path(mutants) if mutants is not None else None
        #: ``.py`` file with the student's stubs for ``grader starter`` (its docstring: the contract, in Markdown)
        self.starter = Path(starter) if starter is not None else None
        #: distributions the sandbox must show besides torch, NumPy, scikit-learn and what they need
        self.packages = tuple(packages)
        #: ``() -> {path in the sandbox: file shown there instead}`` (called on the trusted side)
        self.sandbox_files = sandbox_files
        #: {function name: note}: shown when the submission calls that function (what the sandbox does with it)
        self.source_notes = dict(source_notes or {})
        #: every dotted name its probes pass to ``rec.call(..., forbid=)``: the sandbox resolves
        #: them before any student code runs (a name with ``*`` is a pattern for the source only)
        self.forbidden = tuple(forbidden)
        self._module = module
        self._inputs: Callable[[str], dict[str, Any]] | None = None
        self.probes: dict[str, Probe] = {}
        self.checks: list[Check] = []

    @property
    def module(self) -> str:
        """The module the sandbox imports to find this exercise and its probes."""
        if self._module:
            return self._module
        first = next(iter(self.probes.values()), None)
        return first.function.__module__ if first is not None else ""

    @hookimpl
    def grader_exercises(self) -> list[Exercise]:
        return [self]

    def probe(self, name: str, timeout: float = 10.0, prelude: bool = False) -> Callable:
        """Register a sandbox-side probe: ``fn(student, rec)`` records observations.
        ``timeout``: CPU seconds. ``prelude``: run it before any student code (e.g. to time
        a baseline the student cannot have slowed down)."""

        def register(fn: Callable) -> Callable:
            self._add_probe(Probe(name, fn, timeout, prelude=prelude))
            return fn

        return register

    def inspect(self, probe: str, timeout: float = 10.0) -> Callable:
        """Register an inspector: ``fn(student, rec)`` runs in a fresh sandboxed worker that
        never ran student code (``student`` defines nothing), on what ``probe`` recorded:
        ``rec.input(key)`` gives each recorded value (bytes as bytes, tensors as NumPy
        arrays) and ``rec.input("measured.<key>")`` the bytes of a file the runner read for
        it; what it records joins that probe's observations as ``inspected.<key>``. Use it
        to look at files the student's code wrote (a checkpoint loaded by an untouched
        torch, say)."""

        def register(fn: Callable) -> Callable:
            self._add_probe(Probe(f"inspect.{probe}", fn, timeout, inspects=probe))
            return fn

        return register

    def _add_probe(self, probe: Probe) -> None:
        if probe.name in self.probes:
            raise ValueError(f"{self.id}: probe {probe.name!r} registered twice")
        self.probes[probe.name] = probe

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
              hints: dict[str, str] | None = None, timeout_hint: str | None = None) -> Callable:
        """Register a trusted-side check: ``fn(ctx) -> Verdict``. ``requires``: names the
        submission must define; ``depends``: earlier checks that must pass (only when this
        one cannot be judged otherwise); ``hints``: exception type or message text -> hint
        for a student call that raised; ``timeout_hint``: the hint when the probe ran out
        of time."""

        def register(fn: Callable) -> Callable:
            doc = (inspect.getdoc(fn) or "").strip().splitlines()
            self.checks.append(Check(id=id, name=name or (doc[0] if doc else id), points=float(points), probe=probe,
                                     judge=fn, requires=tuple(requires), depends=tuple(depends), hints=hints or {},
                                     timeout_hint=timeout_hint))
            return fn

        return register

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)

    def fingerprint(self) -> str:
        """Changes whenever anything that can change a grade changes: the grading code
        itself (:func:`grading_code_fingerprint`), this exercise's module (probes, checks,
        hints) and its reference solution (cache key of results and references)."""
        digest = hashlib.sha256(f"{self.id}:{self.version}:{grading_code_fingerprint()}".encode())
        module = sys.modules.get(self.module)
        files = {getattr(module, "__file__", None)} | {inspect.getsourcefile(p.function) for p in self.probes.values()}
        for path in sorted(str(f) for f in files if f) + [str(self.reference)]:
            if Path(path).exists():
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


#: the modules whose code decides verdicts: a change to any of them invalidates cached grades
GRADING_MODULES = ("grader.codec", "grader.judging", "grader.exercise", "grader.engine", "grader.static",
                   "grader.judge", "grader.integrity", "grader.commitment", "grader.sandbox.originals",
                   "grader.sandbox.observe",
                   "grader.results", "grader.states", "grader.sandbox.recorder", "grader.sandbox.student",
                   "grader.sandbox.stubs", "grader.sandbox.protocol", "grader.sandbox.attempt",
                   "grader.sandbox.runner", "grader.sandbox.limits")


@functools.lru_cache(maxsize=1)
def grading_code_fingerprint() -> str:
    """A digest of the grader's version and of the source of :data:`GRADING_MODULES`."""
    import importlib.util

    import grader

    digest = hashlib.sha256(grader.__version__.encode())
    for name in GRADING_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and Path(spec.origin).exists():
            digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]
