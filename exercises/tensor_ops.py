"""Exercise 1, tensor_ops: creating and transforming tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.codec import TensorValue
from grader.exercise import Exercise, Verdict
from grader.judging import compare_arrays, compare_cases, compare_tensors, judge_inputs_unchanged, matches
from grader.states import CheckStatus

exercise = Exercise(
    id="tensor_ops",
    title="Creating and transforming tensors",
    names=("to_float_tensor", "column_standardize", "mask_mean", "batched_transpose"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "tensor_ops.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "tensor_ops",
    description="to_float_tensor, column_standardize, mask_mean, batched_transpose",
)

HINT_FROM_NUMPY = ("torch.from_numpy (and torch.as_tensor) share memory with the NumPy array: changing the array "
                   "changes your tensor. Make a copy: torch.tensor(data, dtype=torch.float32).")
HINT_UNBIASED = ("torch.std is unbiased by default (it divides by n - 1); the population std divides by n: "
                 "use x.std(dim=0, unbiased=False) or correction=0, like np.std.")
HINT_CONSTANT = ("a constant column has std 0, and 0 / 0 is NaN: replace a zero std before dividing, e.g. "
                 "torch.where(std == 0, torch.ones_like(std), std), so that column becomes all zeros.")
HINT_BOOL_MEAN = ("mean() of a bool (or int) tensor raises: cast first, e.g. mask.float().mean().")
HINT_TRANSPOSE = ("x.T and x.permute(...) with every dim reversed reverse all the dimensions, transpose(0, 1) swaps "
                  "the first two, and x.t() works only up to 2 dims; only the last two must be swapped, whatever "
                  "the number of dims: x.transpose(-2, -1) (or x.mT).")
HINT_FROM_NUMPY_LIST = ("torch.from_numpy takes only NumPy arrays (and shares their memory): "
                        "torch.tensor(data, dtype=torch.float32) takes lists and arrays alike, and copies.")


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("to_float_tensor")
def _probe_to_float(student, rec):
    rng = np.random.default_rng(0)
    cases = {
        "list": [1, 2, 3],
        "nested_list": [[1.5, 2], [3, 4], [-5, 6.25]],
        "nested_3d": [[[1, 0], [0, 1]], [[2, 3], [4, 5]]],
        "bool_list": [True, False, True],
        "int_array": np.arange(12, dtype=np.int64).reshape(3, 4),
        "uint8_array": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "bool_array": np.array([[True, False], [False, True]]),
        "float64_array": rng.normal(size=(4, 3)),
    }
    for key, data in cases.items():  # a NumPy argument changed in place is charged once, like a tensor
        rec.call(key, "to_float_tensor", data)
    array = rng.normal(size=(3, 4)).astype(np.float32)
    result = rec.call("float32_array", "to_float_tensor", array)
    rec.release("float32_array")  # the probe changes the array itself now
    array[...] = -7.0
    rec.record("float32_array.after_change", result)


@exercise.probe("column_standardize")
def _probe_standardize(student, rec):
    import torch

    # every input is drawn before the student's code runs (it may draw from torch's generator too)
    x = torch.randn(50, 4) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + torch.tensor([0.0, 5.0, -2.0, 100.0])
    x64 = torch.randn(20, 3, dtype=torch.float64) * 2 + 1
    rec.record("random.input", x.clone())
    rec.call("random", "column_standardize", x)
    rec.record("float64.input", x64.clone())
    rec.call("float64", "column_standardize", x64)
    constant = torch.tensor([[2.0, 1.0, -0.5], [2.0, 3.0, -0.5], [2.0, 5.0, -0.5], [2.0, -1.0, -0.5]])
    rec.record("constant.input", constant.clone())
    rec.call("constant", "column_standardize", constant)


@exercise.probe("mask_mean")
def _probe_mask_mean(student, rec):
    import torch

    masks = {"random": torch.rand(6, 7) > 0.3, "all_false": torch.zeros(5, dtype=torch.bool),
             "three_dims": torch.rand(2, 3, 4) > 0.5, "scalar": torch.tensor(True)}
    for key, mask in masks.items():
        rec.call(key, "mask_mean", mask)


@exercise.probe("batched_transpose")
def _probe_transpose(student, rec):
    import torch

    inputs = {key: torch.randn(shape) for key, shape in {"two_dims": (3, 5), "three_dims": (2, 3, 4),
                                                         "four_dims": (2, 3, 4, 5)}.items()}
    for key, tensor in inputs.items():
        rec.call(key, "batched_transpose", tensor)
    rec.call("int64", "batched_transpose", torch.arange(24).reshape(2, 3, 4))


# ------------------------------------------------------------------ checks (trusted side)
TO_FLOAT_CASES = {
    "list": "on [1, 2, 3]", "nested_list": "on a nested list", "nested_3d": "on a 3-level nested list",
    "bool_list": "on a list of bools", "int_array": "on an int64 NumPy array",
    "uint8_array": "on a uint8 NumPy array", "bool_array": "on a bool NumPy array",
    "float64_array": "on a float64 NumPy array", "float32_array": "on a float32 NumPy array",
}


@exercise.check("to_float_tensor.values", points=1.5, probe="to_float_tensor", requires=("to_float_tensor",),
                hints={"expected np.ndarray": HINT_FROM_NUMPY_LIST})
def _check_to_float(ctx):
    """to_float_tensor returns a float32 tensor with the same shape and values"""
    verdict = compare_cases(ctx, TO_FLOAT_CASES)
    if not verdict.passed and "dtype" in verdict.message:
        verdict.hint = ("the result must be float32 whatever the input's dtype: pass dtype=torch.float32 "
                        "(torch.tensor keeps float64 and int64 from NumPy and Python).")
    return verdict


@exercise.check("to_float_tensor.copies_numpy", points=1.0, probe="to_float_tensor",
                requires=("to_float_tensor",), hints={"expected np.ndarray": HINT_FROM_NUMPY_LIST})
def _check_copies(ctx):
    """to_float_tensor does not share memory with a NumPy input"""
    before, after = ctx.got("float32_array"), ctx.got("float32_array.after_change")
    array = ctx.expected("float32_array").data  # the array's values (the reference's result)
    readable = [v for v in (before, after) if isinstance(v, TensorValue) and v.data is not None]
    if len(readable) < 2 or before.data.shape != array.shape or not np.allclose(before.data, array, equal_nan=True):
        return Verdict(False, "could not be judged: to_float_tensor did not return the values of a float32 NumPy "
                              "array (see to_float_tensor.values)", status=CheckStatus.SKIPPED)
    if not np.array_equal(before.data, after.data, equal_nan=True):
        return Verdict(False, "the tensor changed when the NumPy array it came from was changed (shared memory)",
                       hint=HINT_FROM_NUMPY)
    return Verdict(True, "the tensor stayed the same when the NumPy array it came from was changed")


@exercise.check("column_standardize.input_unchanged", points=1.0, probe="column_standardize",
                requires=("column_standardize",))
def _check_unchanged(ctx):
    """column_standardize leaves its argument unchanged"""
    return judge_inputs_unchanged(ctx, ("random", "float64", "constant"), "column_standardize")


@exercise.check("column_standardize.population_std", points=2.0, probe="column_standardize",
                requires=("column_standardize",))
def _check_standardize(ctx):
    """column_standardize divides by the population std (ddof=0)"""
    got = ctx.got("random")
    verdict = compare_tensors(got, ctx.expected("random"), what="on a (50, 4) float32 input")
    if not verdict.passed and _student_ddof(ctx) == 1:
        verdict.hint = HINT_UNBIASED
    return verdict


def _standardized(x: np.ndarray, ddof: int) -> np.ndarray:
    """Each column minus its mean, divided by its std with ``ddof``; constant columns 0 (float64)."""
    centered = x - x.mean(axis=0)
    std = x.std(axis=0, ddof=ddof)
    return np.where(std == 0, 0.0, centered / np.where(std == 0, 1.0, std))


def _student_ddof(ctx) -> int | None:
    """The std the student divides by, read from its (50, 4) result: 0 (population, the
    contract), 1 (unbiased, torch's default), None (neither, or no result). The float64 and
    constant-column checks judge the student's own formula, so that a wrong std is charged
    once, in column_standardize.population_std."""
    got = ctx.raw("random")
    x = ctx.expected("random.input").data.astype(np.float64)
    return next((ddof for ddof in (0, 1) if matches(got, _standardized(x, ddof))), None)


def _unknown_formula() -> Verdict:
    return Verdict(False, "could not be judged: the (50, 4) result matches neither the population nor the unbiased "
                          "std, so there is no formula to judge this input by (see population_std)",
                   status=CheckStatus.SKIPPED)


_OWN_FORMULA = " (compared with your own formula, the unbiased std; the std itself is judged in population_std)"


@exercise.check("column_standardize.float64", points=0.5, probe="column_standardize",
                requires=("column_standardize",))
def _check_standardize64(ctx):
    """column_standardize keeps float64 inputs in float64"""
    got, expected, what = ctx.got("float64"), ctx.expected("float64"), "on a (20, 3) float64 input"
    ddof = _student_ddof(ctx)
    if ddof == 0:
        return compare_tensors(got, expected, what=what)
    verdict = compare_tensors(got, expected, what=what, values=False)  # kind, shape, dtype
    if verdict.passed and ddof is None:
        return _unknown_formula()
    if not verdict.passed:
        return verdict
    assert ddof is not None  # returned above otherwise
    x = ctx.expected("float64.input").data.astype(np.float64)
    verdict = compare_arrays(got.data, _standardized(x, ddof), what=what, dtype="float64")
    verdict.message += _OWN_FORMULA
    return verdict


@exercise.check("column_standardize.constant_columns", points=1.0, probe="column_standardize",
                requires=("column_standardize",))
def _check_constant(ctx):
    """a constant column becomes all zeros, not NaN"""
    got, what = ctx.got("constant"), "on an input with constant columns"
    verdict = compare_tensors(got, ctx.expected("constant"), what=what, values=False)
    if not verdict.passed:
        return verdict
    x = ctx.expected("constant.input").data.astype(np.float64)
    values = got.data.astype(np.float64)
    constant = x.std(axis=0) == 0
    columns = ", ".join(str(int(i)) for i in np.flatnonzero(constant))
    verdict = compare_arrays(values[:, constant], np.zeros((len(x), int(constant.sum()))),
                             what=f"{what}, the constant columns ({columns})")
    if not verdict.passed:
        verdict.message += "; they should be all zeros"
        verdict.hint = HINT_CONSTANT if np.isnan(values[:, constant]).any() else None
        return verdict
    ddof = _student_ddof(ctx)
    if ddof is None:
        return _unknown_formula()
    verdict = compare_arrays(values[:, ~constant], _standardized(x, ddof)[:, ~constant],
                             what=f"{what}, the other columns")
    if verdict.passed:
        verdict.message = f"the constant columns ({columns}) are all zeros and the other columns match"
    return Verdict(verdict.passed, verdict.message + (_OWN_FORMULA if ddof == 1 else ""))


@exercise.check("mask_mean.values", points=1.5, probe="mask_mean", requires=("mask_mean",),
                hints={"could not infer output dtype": HINT_BOOL_MEAN, "mean(): input dtype": HINT_BOOL_MEAN})
def _check_mask_mean(ctx):
    """mask_mean returns the fraction of True as a 0-dim float32 tensor"""
    verdict = compare_cases(ctx, {"random": "on a (6, 7) mask", "all_false": "on an all-False mask",
                                  "three_dims": "on a (2, 3, 4) mask", "scalar": "on a 0-dim mask"})
    if not verdict.passed and "got a float" in verdict.message:
        verdict.hint = "return a tensor, not a Python number: drop the .item()."
    return verdict


TRANSPOSE_SHAPES = {"two_dims": (3, 5), "three_dims": (2, 3, 4), "four_dims": (2, 3, 4, 5), "int64": (2, 3, 4)}


@exercise.check("batched_transpose.values", points=1.5, probe="batched_transpose", requires=("batched_transpose",),
                hints={"t() expects a tensor with <= 2 dimensions": HINT_TRANSPOSE,
                       "does not match the length of the desired ordering": HINT_TRANSPOSE})
def _check_transpose(ctx):
    """batched_transpose swaps only the last two dimensions"""
    cases = {"two_dims": "on a (3, 5) tensor", "three_dims": "on a (2, 3, 4) tensor",
             "four_dims": "on a (2, 3, 4, 5) tensor", "int64": "on a (2, 3, 4) int64 tensor"}
    verdict = compare_cases(ctx, cases)
    if not verdict.passed and any(_other_dims_swapped(ctx.raw(key), shape) for key, shape in TRANSPOSE_SHAPES.items()):
        verdict.hint = HINT_TRANSPOSE
    return verdict


def _other_dims_swapped(got, shape: tuple[int, ...]) -> bool:
    """The result's shape is a reordering of the input's, but not the last two swapped."""
    wanted = shape[:-2] + (shape[-1], shape[-2])
    return isinstance(got, TensorValue) and tuple(got.shape) != wanted and sorted(got.shape) == sorted(shape)

