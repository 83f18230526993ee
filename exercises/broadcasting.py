"""Exercise 2, broadcasting: shapes without loops."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from grader import commitment
from grader.codec import Raised, TensorValue
from grader.integrity import UNVERIFIED
from grader.exercise import Exercise, Verdict
from grader.judging import (as_int, compare_arrays, compare_cases, compare_tensors, describe, judge_inputs_unchanged,
                            matches)
from grader.states import CheckStatus

#: tensor and array factories: broadcast_shape works the shape out by hand, so it makes no tensor or
#: array for the library to broadcast (torch.Size, a tuple, is fine); the names first (also refused
#: at run time), then the patterns (read in the source)
CREATION = ("torch.empty", "torch.zeros", "torch.ones", "torch.full", "torch.rand", "torch.randn", "torch.tensor",
            "torch.as_tensor", "torch.asarray", "torch.from_numpy", "torch.Tensor", "torch.empty_strided",
            "torch.arange", "numpy.empty", "numpy.zeros", "numpy.ones", "numpy.full", "numpy.array",
            "numpy.asarray", "numpy.ndarray", "numpy.resize", "numpy.tile",
            "torch.empty*", "torch.zeros*", "torch.ones*", "torch.full*", "torch.rand*", "torch.*tensor*",
            "torch.*Tensor", "torch.as_*", "torch.from_*", "torch.frombuffer", "torch.*_like", "torch.linspace",
            "torch.logspace", "torch.eye", "torch.normal", "torch.distributions.*", "*.new_empty", "*.new_zeros",
            "*.new_ones", "*.new_full", "*.new_tensor", "numpy.empty*", "numpy.zeros*", "numpy.ones*",
            "numpy.full*", "numpy.*array*", "numpy.from*", "numpy.*_like", "numpy.arange",
            "numpy.linspace", "numpy.eye", "numpy.identity", "numpy.random.*", "numpy.lib.*", "numpy.indices",
            "numpy.mgrid", "numpy.ogrid", "numpy.meshgrid", "numpy.tile", "numpy.resize", "numpy.ndarray")
FORBIDDEN = ("torch.broadcast_shapes", "numpy.broadcast_shapes", "torch.broadcast_tensors",
             "numpy.broadcast_arrays", "numpy.broadcast", "torch.broadcast_to", "numpy.broadcast_to",
             "torch.functional.broadcast_shapes", "torch._refs._broadcast_shapes",
             "torch._C._VariableFunctions.broadcast_tensors", "torch._C._VariableFunctions.broadcast_to",
             # tensors or arrays made to let the library broadcast them ((torch.empty(a) + torch.empty(b)).shape)
             *CREATION,
             "torch.*broadcast*", "numpy.*broadcast*",  # the patterns: any library helper, read in the source
             # read in the source, the allow-list: no torch or NumPy name at all but torch.Size (no list of
             # factories is ever complete: torch.hann_window, torch._C._infer_size, np.atleast_1d ...)
             "torch.*", "numpy.*", "!torch.Size")

exercise = Exercise(
    id="broadcasting",
    title="Broadcasting: shapes without loops",
    names=("broadcast_shape", "outer_sum", "center_rows", "pairwise_sq_dists"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "broadcasting.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "broadcasting",
    forbidden=FORBIDDEN,
    description="broadcast_shape, outer_sum, center_rows, pairwise_sq_dists",
)

#: the speed check's limit, in CPU time against a matrix-product version measured in the same
#: sandbox before the student's code ran: vectorised styles take 1-100x it, a double Python
#: loop thousands of times it (docs/exercises.md)
SPEED_FACTOR = 500.0
HINT_COLUMN_ROW = ("(n,) vs (n, 1): a 1-D tensor broadcasts as a row. Make u a column, u[:, None] (or "
                   "u.unsqueeze(1)), and v a row, v[None, :], so the result has shape (n, m).")
HINT_PRODUCT = ("torch.outer(u, v) (like u[:, None] * v[None, :]) multiplies: out[i, j] = u[i] * v[j]. The sum "
                "is u[:, None] + v[None, :], a column plus a row, which broadcasts to shape (n, m).")
HINT_SWAPPED = ("(n,) vs (n, 1): the result is transposed, out[j, i] = u[i] + v[j] of shape (m, n): v became the "
                "column. Make u the column and v the row: u[:, None] + v[None, :].")
HINT_PAIRWISE_SHAPES = ("(n,) vs (n, 1): the row norms (a**2).sum(1) have shape (n,), which broadcasts as a row, and "
                        "a - b pairs row i of a with row i of b only. Make a's terms a column and b's a row: "
                        "(a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, or "
                        "((a[:, None, :] - b[None, :, :])**2).sum(-1), so the result has shape (n, m).")
SIZE_MISMATCH = "must match the size of tensor"  #: torch's message when two shapes do not broadcast
HINT_KEEPDIM = ("x.mean(dim=1) has shape (n,), which broadcasts along the wrong axis; use "
                "x.mean(dim=1, keepdim=True), shape (n, 1), so each row's mean is subtracted from that row.")
HINT_BY_HAND = ("the exercise is to compute the shape by hand: no torch or NumPy function at all (no "
                "broadcast_shapes, no tensors or arrays made for the library to broadcast), only the tuples and "
                "plain Python (returning torch.Size(...) is fine). Align the shapes from "
                "the right (pad the shorter with 1s) and compare dimension by dimension: equal sizes stay, a 1 takes "
                "the other size, anything else is an error.")
HINT_LOOP = ("a loop where broadcasting was due: compute all distances at once, e.g. with "
             "(a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, or torch.cdist(a, b)**2.")


def _shape_pairs(seed: int = 0):
    """Deterministic compatible and incompatible shape pairs (empty shapes and 0-size dims included)."""
    rng = random.Random(seed)
    good = [((), ()), ((), (3,)), ((4,), ()), ((0,), (1,)), ((1, 0), (5, 1)), ((2, 3), (3,)), ((5, 1, 4), (3, 1)),
            ((1,), (0,)), ((2, 1, 3), (1, 4, 1)), ((1, 1, 1), (7,)), ((0, 1), (1, 0))]
    bad = [((2,), (3,)), ((2, 3), (4,)), ((0,), (2,)), ((5, 4), (5,)), ((3, 1, 2), (4, 2, 2)), ((2, 0), (3,))]
    sizes = [0, 1, 1, 2, 3, 5]
    while len(good) < 120:
        out = [rng.choice(sizes) for _ in range(rng.randint(0, 4))]
        a = [d if rng.random() < 0.6 else 1 for d in out][rng.randint(0, len(out)) if out else 0:]
        b = [d if rng.random() < 0.6 else 1 for d in out][rng.randint(0, len(out)) if out else 0:]
        good.append((tuple(a), tuple(b)))
    while len(bad) < 30:
        a = [rng.choice([2, 3, 4]) for _ in range(rng.randint(1, 3))]
        b = list(a)
        i = rng.randrange(len(b))
        b[i] = b[i] + rng.choice([1, 2])
        b = b[rng.randint(0, i):]
        bad.append((tuple(a), tuple(b)) if rng.random() < 0.5 else (tuple(b), tuple(a)))
    return good, bad


GOOD_PAIRS, BAD_PAIRS = _shape_pairs()


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("broadcast_shape")
def _probe_shape(student, rec):
    for i, (a, b) in enumerate(GOOD_PAIRS):
        rec.call(f"good{i}", "broadcast_shape", a, b, forbid=FORBIDDEN)
    for i, (a, b) in enumerate(BAD_PAIRS):
        rec.call(f"bad{i}", "broadcast_shape", a, b, forbid=FORBIDDEN)


@exercise.probe("outer_sum")
def _probe_outer(student, rec):
    import torch

    g = torch.Generator().manual_seed(20)  # the student's code may draw from torch's own generator
    for key, (n, m) in {"rect": (5, 3), "square": (4, 4), "single": (1, 6)}.items():
        u, v = torch.randn(n, generator=g), torch.randn(m, generator=g)
        rec.record(key + ".inputs", [u.clone(), v.clone()])
        rec.call(key, "outer_sum", u, v)


@exercise.probe("center_rows")
def _probe_center(student, rec):
    import torch

    g = torch.Generator().manual_seed(21)
    for key, shape in {"rect": (4, 6), "square": (5, 5), "tall": (7, 2)}.items():
        x = torch.randn(shape, generator=g) + torch.arange(shape[0], dtype=torch.float32)[:, None]
        rec.record(key + ".input", x.clone())
        rec.call(key, "center_rows", x)


@exercise.probe("pairwise_sq_dists")
def _probe_pairwise(student, rec):
    import torch

    g = torch.Generator().manual_seed(22)
    for key, (n, m, d) in {"rect": (7, 5, 3), "one_row": (1, 6, 4), "square": (6, 6, 2)}.items():
        rec.call(key, "pairwise_sq_dists", torch.randn(n, d, generator=g), torch.randn(m, d, generator=g))
    a = torch.randn(6, 3, generator=g)
    rec.call("same_points", "pairwise_sq_dists", a, a.clone())


SPEED_N, SPEED_M, SPEED_D = 1000, 1000, 32
BASELINE_RUNS, STUDENT_RUNS = 5, 3
_baseline: dict[str, float] = {}  # the best baseline the runner measured, for this worker's own time limit


def _speed_arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The timed call's inputs, made from the seed the runner draws when it starts the
    clock; the trusted side makes the same arrays to check the result."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((SPEED_N, SPEED_D), dtype=np.float32),
            rng.standard_normal((SPEED_M, SPEED_D), dtype=np.float32))


def _speed_inputs(seed: int):
    import torch

    a, b = _speed_arrays(seed)
    return torch.from_numpy(a), torch.from_numpy(b)


def _matrix_product(a, b):
    return (a * a).sum(dim=1)[:, None] + (b * b).sum(dim=1)[None, :] - 2 * a @ b.T


@exercise.probe("pairwise_baseline", timeout=30, prelude=True)
def _probe_baseline(student, rec):
    """Before any student code: the grader's own matrix-product version, timed by the runner."""
    rec.call("warm_up", _matrix_product, *_speed_inputs(0), record=False)
    best = float("inf")
    for run in range(BASELINE_RUNS):
        _, seconds = rec.timed_call(f"run{run}", _matrix_product, _speed_inputs, commit=True)
        best = min(best, seconds if seconds is not None else best)
    _baseline["seconds"] = best


@exercise.probe("pairwise_speed", timeout=60)
def _probe_speed(student, rec):
    """The student's function, timed by the runner on fresh inputs each run; stopped here
    once past the limit (the verdict uses the runner's measurements, not this limit)."""
    from grader.api import FAILED

    known = _baseline.get("seconds")
    limit = min(10.0, max(0.25, SPEED_FACTOR * known)) if known and known != float("inf") else 10.0
    for run in range(STUDENT_RUNS):
        value, seconds = rec.timed_call(f"run{run}", "pairwise_sq_dists", _speed_inputs, timeout=limit, commit=True)
        if value is FAILED or (seconds is not None and seconds <= limit):
            break


# ------------------------------------------------------------------ checks (trusted side)
def _fmt_shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


@exercise.check("broadcast_shape.values", points=2.5, probe="broadcast_shape", requires=("broadcast_shape",))
def _check_shape(ctx):
    """broadcast_shape gives the broadcast shape, as a tuple, for compatible shapes"""
    wrong = []
    for i, (a, b) in enumerate(GOOD_PAIRS):
        call = f"broadcast_shape({_fmt_shape(a)}, {_fmt_shape(b)})"
        value = ctx.raw(f"good{i}")
        if isinstance(value, Raised):
            verdict = ctx.raised_verdict(value)
            if not value.is_a(UNVERIFIED):  # that message names the function already
                verdict.message = f"{call} {verdict.message}"
            verdict.hint = HINT_BY_HAND if value.forbidden and not value.is_a(UNVERIFIED) else verdict.hint
            return verdict
        expected = ctx.expected(f"good{i}")
        if not isinstance(value, tuple):
            return Verdict(False, f"{call} returned {value!r}; return a tuple such as {_fmt_shape(expected)}")
        numbers = [as_int(x) for x in value]  # an int or a NumPy integer, as everywhere
        if numbers != list(expected):
            shown = _fmt_shape(numbers) if None not in numbers else describe(value)
            wrong.append(f"{call} should be {_fmt_shape(expected)}, got {shown}")
    if wrong:
        return Verdict(False, f"{len(wrong)} of {len(GOOD_PAIRS)} shape pairs are wrong; first: {wrong[0]}")
    return Verdict(True, f"all {len(GOOD_PAIRS)} shape pairs match torch.broadcast_shapes")


@exercise.check("broadcast_shape.incompatible", points=1.0, probe="broadcast_shape", requires=("broadcast_shape",))
def _check_incompatible(ctx):
    """broadcast_shape raises ValueError for incompatible shapes"""
    refused = _refused(ctx, "good")
    if refused:  # the library's errors are not the student's: the one mistake is charged in values
        return Verdict(False, f"skipped: {refused[0]}, which is charged in broadcast_shape.values",
                       status=CheckStatus.SKIPPED)
    if not _some_right(ctx):
        return _not_judged()
    for i, (a, b) in enumerate(BAD_PAIRS):
        call = f"broadcast_shape({_fmt_shape(a)}, {_fmt_shape(b)})"
        value = ctx.raw(f"bad{i}")
        if not isinstance(value, Raised):
            return Verdict(False, f"{call} returned {value!r}; these shapes are incompatible, "
                                  f"so it must raise ValueError")
        if value.timed_out or value.forbidden or value.is_a("NotImplementedError"):
            verdict = ctx.raised_verdict(value)
            verdict.hint = HINT_BY_HAND if value.forbidden and not value.is_a(UNVERIFIED) else verdict.hint
            if not value.is_a(UNVERIFIED):  # that message names the function already
                verdict.message = f"{call} {verdict.message}"
            return verdict
        if not value.is_a("ValueError"):
            return Verdict(False, f"{call} raised {value.type}: {value.message}; raise ValueError instead")
    return Verdict(True, f"all {len(BAD_PAIRS)} incompatible pairs raise ValueError")


@exercise.check("broadcast_shape.by_hand", points=1.0, probe="broadcast_shape", requires=("broadcast_shape",))
def _check_by_hand(ctx):
    """broadcast_shape is implemented by hand (no torch or NumPy function; torch.Size to return it is fine)"""
    keys = [f"good{i}" for i in range(len(GOOD_PAIRS))] + [f"bad{i}" for i in range(len(BAD_PAIRS))]
    stub = next((v for v in map(ctx.raw, keys) if isinstance(v, Raised) and v.is_a("NotImplementedError")), None)
    if stub is not None and all(isinstance(v, Raised) and v.is_a("NotImplementedError") for v in map(ctx.raw, keys)):
        return ctx.raised_verdict(stub)
    refused = _refused(ctx, "good") + _refused(ctx, "bad")
    if refused:  # the one mistake is charged where the refused call was judged
        return Verdict(False, f"skipped: {refused[0]}, which is charged in broadcast_shape."
                              f"{'values' if _refused(ctx, 'good') else 'incompatible'}", status=CheckStatus.SKIPPED)
    found = ctx.source.find_forbidden("broadcast_shape", set(FORBIDDEN))
    if found:
        return Verdict(False, f"broadcast_shape uses {', '.join(found)}", hint=HINT_BY_HAND)
    if not _some_right(ctx):
        return _not_judged()
    return Verdict(True, "no torch or NumPy function is used (the shape is worked out by hand)")


def _some_right(ctx) -> bool:
    """Whether broadcast_shape gets at least one compatible pair right: what it does with the
    others (raise, compute by hand) is judged only then, not for a function that does nothing."""
    return any(isinstance(value := ctx.raw(f"good{i}"), tuple)
               and [as_int(x) for x in value] == list(ctx.expected(f"good{i}")) for i in range(len(GOOD_PAIRS)))


def _not_judged() -> Verdict:
    return Verdict(False, "could not be judged: broadcast_shape gets no compatible pair right (see "
                          "broadcast_shape.values)", status=CheckStatus.SKIPPED)


def _refused(ctx, kind: str) -> list[str]:
    """What was refused in the ``good`` or ``bad`` calls, as the start of a sentence: a
    library helper called, or a call that could not be verified."""
    pairs = GOOD_PAIRS if kind == "good" else BAD_PAIRS
    raws = [r for r in (ctx.raw(f"{kind}{i}") for i in range(len(pairs))) if isinstance(r, Raised) and r.forbidden]
    return sorted({"broadcast_shape could not be verified" if r.is_a(UNVERIFIED) else
                   f"broadcast_shape called {r.forbidden}" for r in raws})


OUTER_CASES = {"rect": "for u of shape (5,) and v of shape (3,)", "square": "for u and v of shape (4,)",
               "single": "for u of shape (1,) and v of shape (6,)"}


@exercise.check("outer_sum.values", points=1.5, probe="outer_sum", requires=("outer_sum",),
                hints={SIZE_MISMATCH: HINT_COLUMN_ROW})
def _check_outer(ctx):
    """outer_sum returns out[i, j] = u[i] + v[j] with shape (n, m)"""
    verdict = compare_cases(ctx, OUTER_CASES)
    if not verdict.passed:
        verdict.hint = next(filter(None, (_outer_hint(ctx.raw(key), ctx.expected(key + ".inputs"))
                                          for key in OUTER_CASES)), None)
    return verdict


def _outer_hint(got, inputs) -> str | None:
    """The hint for the first known mistake ``got`` shows: a product, the transpose, a
    1-D tensor broadcast as a row."""
    if not isinstance(got, TensorValue) or got.data is None:
        return None
    u, v = (t.data.astype(np.float64) for t in inputs)
    right = u[:, None] + v[None, :]
    if matches(got, right):
        return None
    if matches(got, u[:, None] * v[None, :]):
        return HINT_PRODUCT
    return HINT_SWAPPED if matches(got, right.T) else HINT_COLUMN_ROW


@exercise.check("center_rows.input_unchanged", points=0.5, probe="center_rows", requires=("center_rows",))
def _check_center_unchanged(ctx):
    """center_rows leaves its argument unchanged"""
    return judge_inputs_unchanged(ctx, ("rect", "square", "tall"), "center_rows")


@exercise.check("center_rows.values", points=1.0, probe="center_rows", requires=("center_rows",),
                hints={"must match the size": HINT_KEEPDIM})
def _check_center(ctx):
    """center_rows subtracts each row's own mean"""
    cases = {"rect": "on a (4, 6) input", "square": "on a (5, 5) input", "tall": "on a (7, 2) input"}
    for key, label in cases.items():
        got = ctx.got(key)
        verdict = compare_tensors(got, ctx.expected(key), what=label)
        if not verdict.passed:
            x = ctx.expected(key + ".input").data.astype(np.float64)
            if x.shape[0] == x.shape[1] and matches(got, x - x.mean(1)[None, :]):
                verdict.hint = HINT_KEEPDIM
            elif matches(got, x - x.mean(0, keepdims=True)):
                verdict.hint = "that subtracts each column's mean; rows are dim=1: x.mean(dim=1, keepdim=True)."
            return verdict
    return Verdict(True, f"all {len(cases)} cases match")


@exercise.check("pairwise_sq_dists.values", points=1.5, probe="pairwise_sq_dists", requires=("pairwise_sq_dists",),
                hints={SIZE_MISMATCH: HINT_PAIRWISE_SHAPES})
def _check_pairwise(ctx):
    """pairwise_sq_dists returns the (n, m) squared Euclidean distances"""
    verdict = compare_cases(ctx, {"rect": "for a (7, 3) and b (5, 3)", "one_row": "for a (1, 4) and b (6, 4)",
                                  "square": "for a (6, 2) and b (6, 2)", "same_points": "for a and b the same points"})
    if not verdict.passed and "shape" in verdict.message:
        verdict.hint = HINT_PAIRWISE_SHAPES
    return verdict


def _speed_result_verdict(ctx, key: str, timing) -> Verdict | None:
    """The timed run's result: the rows the runner opened after the clock stopped must be
    rows of the result committed to when it stopped (grader.commitment), and right."""
    what = f"at n = m = {SPEED_N}, d = {SPEED_D}"
    raw = ctx.raw(key)
    if isinstance(raw, Raised):
        return Verdict(False, f"{what}: {raw.message}")
    opened = ctx.got(key)
    if not isinstance(opened, dict) or tuple(opened.get("shape", ())) != (SPEED_N, SPEED_M):
        shape = opened.get("shape") if isinstance(opened, dict) else describe(opened)
        return Verdict(False, f"{what} it returned shape {shape}, not ({SPEED_N}, {SPEED_M})")
    a, b = (x.astype(np.float64) for x in _speed_arrays(timing.seed))
    rows, paths = opened.get("rows") or {}, opened.get("paths") or {}
    for index in timing.opened:
        row, path = rows.get(index), paths.get(index)
        if not isinstance(row, bytes) or not isinstance(path, list) or len(row) != 4 * SPEED_M \
                or not commitment.verify(timing.root or "", index, row, list(path)):
            return Verdict(False, f"{what}: the rows it showed after the clock stopped are not those of the result "
                                  "it had when the clock stopped")
        verdict = compare_arrays(np.frombuffer(row, dtype="<f4"), ((a[index] - b) ** 2).sum(axis=1),
                                 what=f"{what}, row {index}", dtype="float32")
        if not verdict.passed:
            return verdict
    return None


@exercise.check("pairwise_sq_dists.speed", points=1.0, probe="pairwise_speed", requires=("pairwise_sq_dists",),
                depends=("pairwise_sq_dists.values",), timeout_hint=HINT_LOOP)
def _check_speed(ctx):
    """pairwise_sq_dists is vectorised: n = m = 1000, d = 32 within 500x the CPU time of a matrix-product version"""
    baselines = [t.cpu_seconds for i in range(BASELINE_RUNS)
                 if (t := ctx.measured(f"run{i}", probe="pairwise_baseline")) is not None]
    if not baselines:
        return Verdict(False, "the grader could not time its own matrix-product version", status=CheckStatus.ERROR)
    baseline = max(min(baselines), 1e-4)
    limit = SPEED_FACTOR * baseline
    best = None
    for run in range(STUDENT_RUNS):
        timing = ctx.measured(f"run{run}")
        raw = ctx.raw(f"run{run}")
        if timing is None:
            continue
        if isinstance(raw, Raised) and raw.timed_out:
            continue
        wrong = _speed_result_verdict(ctx, f"run{run}", timing)
        if wrong is not None:
            return wrong
        best = timing.cpu_seconds if best is None else min(best, timing.cpu_seconds)
    if best is None or best > limit:
        took = (f"took {best * 1000:.0f} ms of CPU time" if best is not None
                else f"did not finish within {limit * 1000:.0f} ms of CPU time")
        return Verdict(False, f"at n = m = {SPEED_N}, d = {SPEED_D} it {took}: more than {SPEED_FACTOR:g}x the "
                              f"{baseline * 1000:.1f} ms of a matrix-product version", hint=HINT_LOOP)
    return Verdict(True, f"{best * 1000:.1f} ms of CPU time at n = m = {SPEED_N}, d = {SPEED_D} "
                         f"({best / baseline:.0f}x a matrix-product version; the limit is {SPEED_FACTOR:g}x)")

