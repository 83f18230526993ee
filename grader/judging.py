"""Trusted-side comparisons that explain themselves: expected vs got, first mismatch.

Tolerances accept honest float32 differences: ``atol`` scales with the magnitude of the
expected values, so ``|a|² + |b|² - 2ab`` (catastrophic cancellation) passes where the
reference used another formula, while a real mistake still fails by orders of magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.codec import OpaqueObject, Raised, TensorValue
from grader.exercise import Verdict
from grader.text import with_article

# (rtol, atol relative to max(1, max|expected|)) per dtype
TOLERANCES = {
    "float64": (1e-7, 1e-9),
    "float32": (1e-4, 1e-5),
    "float16": (1e-2, 1e-3),
    "bfloat16": (2e-2, 1e-2),
}


def tolerance(dtype: str) -> tuple[float, float]:
    return TOLERANCES.get(dtype, TOLERANCES["float32"])


def describe(value: Any) -> str:
    """A short, student-facing description of any observed value."""
    if isinstance(value, TensorValue):
        return value.describe()
    if isinstance(value, Raised):
        return f"an exception ({value.type})"
    if isinstance(value, OpaqueObject):
        return f"an object of type {value.type_name} ({value.repr[:80]})"
    if isinstance(value, (tuple, list)):
        kind = getattr(value, "type_name", type(value).__name__)
        return f"{with_article(kind)} {_short(value)}"
    if value is None:
        return "None"
    return f"{with_article(type(value).__name__)} {_short(value)}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.6g}"
    return repr(x.item() if hasattr(x, "item") else x)


def _index(flat: int, shape: tuple[int, ...]) -> str:
    if not shape:
        return "()"
    idx = np.unravel_index(flat, shape)
    return "(" + ", ".join(str(int(i)) for i in idx) + ("," if len(idx) == 1 else "") + ")"


def compare_tensors(got: Any, expected: TensorValue, *, what: str = "the result", rtol: float | None = None,
                    atol: float | None = None, check_dtype: bool = True, check_device: bool = True,
                    allow_ndarray: bool = False, values: bool = True) -> Verdict:
    """Compare a returned tensor with the expected one: kind, shape, dtype, device and
    (unless ``values=False``, e.g. for meta tensors) values; a comparison of values
    passes only when both sides have them."""
    exp_text = expected.describe()
    if not isinstance(got, TensorValue) or (got.kind != "tensor" and not allow_ndarray):
        return Verdict(False, f"{what}: expected {exp_text}; got {describe(got)}")
    if got.type_name not in ("Tensor", "Parameter") and got.kind == "tensor":
        return Verdict(False, f"{what}: expected a plain torch.Tensor; got {with_article(got.type_name)} "
                              "(tensor subclass)")
    if tuple(got.shape) != tuple(expected.shape):
        return Verdict(False, f"{what}: expected shape {list(expected.shape)}; got shape {list(got.shape)} "
                              f"(expected {exp_text}; got {got.describe()})")
    if check_dtype and got.dtype != expected.dtype:
        return Verdict(False, f"{what}: expected dtype {expected.dtype}; got dtype {got.dtype}")
    if check_device and got.device.split(":")[0] != expected.device.split(":")[0]:
        return Verdict(False, f"{what}: expected device {expected.device}; got device {got.device}")
    if not values:
        return Verdict(True, f"{what}: {got.describe()} as expected")
    if expected.data is None or got.data is None:
        return Verdict(False, f"{what}: {got.describe()} has no values to compare")
    return compare_arrays(got.data, expected.data, what=what, dtype=expected.dtype, rtol=rtol, atol=atol)


def compare_arrays(got: np.ndarray, expected: np.ndarray, *, what: str = "the result", dtype: str = "float32",
                   rtol: float | None = None, atol: float | None = None) -> Verdict:
    """Element-wise comparison with NaN positions, first mismatch and max abs error."""
    if got.shape != expected.shape:
        return Verdict(False, f"{what}: expected shape {list(expected.shape)}; got shape {list(got.shape)}")
    if expected.dtype.kind in "biu" and got.dtype.kind in "biu":
        bad: np.ndarray | list[int] = np.flatnonzero(got.astype(np.int64) != expected.astype(np.int64)) \
            if got.size else []
        if len(bad) == 0:
            return Verdict(True, f"{what}: all {got.size} values match")
        i = int(bad[0])
        return Verdict(False, f"{what}: {len(bad)} of {got.size} values differ; first at index "
                              f"{_index(i, got.shape)}: expected {_fmt(expected.flat[i])}, got {_fmt(got.flat[i])}")
    base_rtol, base_atol = tolerance(dtype)
    rtol = base_rtol if rtol is None else rtol
    g = got.astype(np.complex128 if np.iscomplexobj(got) else np.float64)
    e = expected.astype(np.complex128 if np.iscomplexobj(expected) else np.float64)
    finite = np.isfinite(e)
    scale = max(1.0, float(np.max(np.abs(e[finite]))) if finite.any() else 1.0)
    atol = base_atol * scale if atol is None else atol
    with np.errstate(invalid="ignore"):
        close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return Verdict(True, f"{what}: all {got.size} values match (rtol {rtol:g}, atol {atol:.2g})")
    bad = np.flatnonzero(~close)
    i = int(bad[0])
    with np.errstate(invalid="ignore"):
        err = np.abs(g - e)
    finite_err = err[np.isfinite(err)]
    max_err = float(finite_err.max()) if finite_err.size else float("nan")
    nan_note = ""
    if np.isnan(g).any() and not np.isnan(e).any():
        nan_note = f"; {int(np.isnan(g).sum())} value(s) are NaN"
    return Verdict(False, f"{what}: {len(bad)} of {got.size} values differ; first at index {_index(i, got.shape)}: "
                          f"expected {_fmt(e.flat[i])}, got {_fmt(g.flat[i])}; max abs error {max_err:.3g} "
                          f"(tolerance: rtol {rtol:g}, atol {atol:.2g}){nan_note}")


def matches(got: Any, candidate: np.ndarray | TensorValue, dtype: str = "float32") -> bool:
    """True when ``got`` equals ``candidate`` within tolerance: used to recognise a known
    mistake (e.g. the unbiased std) and give its hint."""
    array = candidate.data if isinstance(candidate, TensorValue) else candidate
    if not isinstance(got, TensorValue) or got.data is None or array is None:
        return False
    if got.data.shape != np.shape(array):
        return False
    return compare_arrays(got.data, np.asarray(array), dtype=dtype).passed


def as_int(value: Any) -> int | None:
    """``value`` as a Python int when the contract's "an integer" accepts it: an ``int``
    (not a ``bool``) or a NumPy integer scalar such as ``np.int64``; ``None`` otherwise
    (a tensor, a float, a string...)."""
    if type(value) is int:
        return value
    if (isinstance(value, TensorValue) and value.kind == "numpy_scalar" and value.shape == ()
            and value.dtype.startswith(("int", "uint")) and value.data is not None):
        return int(value.data.reshape(-1)[0])
    return None


def compare_plain(got: Any, expected: Any, *, what: str = "the result") -> Verdict:
    """Exact comparison of plain values (ints, tuples, strings...). Where an int is
    expected, a NumPy integer scalar counts as one (see :func:`as_int`)."""
    if type(expected) is int and as_int(got) is not None:
        got = as_int(got)
    if got == expected and type(got) is type(expected):
        return Verdict(True, f"{what}: {_short(got)} as expected")
    if got == expected:
        return Verdict(False, f"{what}: expected {with_article(type(expected).__name__)} {_short(expected)}; "
                              f"got {describe(got)}")
    return Verdict(False, f"{what}: expected {_short(expected)}; got {describe(got)}")


def compare_cases(ctx: Any, cases: dict[str, str], **options: Any) -> Verdict:
    """Compare several recorded calls (``{key: "on a (5, 3) input"}``); the first failure
    is reported with its case, a raise included."""
    from grader.exercise import StudentFailed

    for key, label in cases.items():
        try:
            got = ctx.got(key)
        except StudentFailed as failure:
            failure.verdict.message = f"{label}: {failure.verdict.message}"
            raise
        verdict = compare_tensors(got, ctx.expected(key), what=label, **options)
        if not verdict.passed:
            return verdict
    return Verdict(True, f"all {len(cases)} cases match")


def judge_inputs_unchanged(ctx: Any, keys: Sequence[str], function: str) -> Verdict:
    """A check that ``function`` leaves its arguments as it found them, read from the calls
    ``keys``: an in-place change fails here (charged once per exercise, with the in-place
    hint, see :meth:`CheckContext.got`). Only calls that returned a result of the expected
    kind and shape count: one that raised, was stopped or returned something else is judged
    by the checks of its values, not here again (with none left, the check is skipped,
    unless the function is still the starter's stub)."""
    from grader.codec import Missing
    from grader.states import CheckStatus

    def like_expected(key: str) -> bool:
        got, expected = ctx.raw(key), ctx.expected_observations.get(key)
        if isinstance(got, (Raised, Missing)) or key not in ctx.got_observations:
            return False
        return not isinstance(expected, TensorValue) or (
            isinstance(got, TensorValue) and tuple(got.shape) == tuple(expected.shape))

    judged = [k for k in keys if like_expected(k)]
    if not judged:
        first = ctx.raw(keys[0])
        if not (isinstance(first, Raised) and first.is_a("NotImplementedError")):
            return Verdict(False, f"could not be judged: {function} returned no result of the expected shape (see "
                                  "its other checks)", status=CheckStatus.SKIPPED)
        ctx.got(keys[0])  # the starter's stub: fails here
    for key in judged:
        ctx.got(key)
    return Verdict(True, f"{function} left its arguments unchanged ({len(judged)} of {len(keys)} calls judged)"
                   if len(judged) < len(keys) else f"{function} left its arguments unchanged")
