"""Exercise 1, tensor_ops: creating and transforming tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import grader
from grader.exercise import Exercise, Verdict
from grader.judging import compare_cases, compare_tensors, matches

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
HINT_TRANSPOSE = ("x.T (or permute with all dims reversed) reverses every dimension; only the last two must be "
                  "swapped: x.transpose(-2, -1).")


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
    for key, data in cases.items():
        rec.call(key, "to_float_tensor", data)
    array = rng.normal(size=(3, 4)).astype(np.float32)
    result = rec.call("float32_array", "to_float_tensor", array)
    array[...] = -7.0
    rec.record("float32_array.after_change", result)


@exercise.probe("column_standardize")
def _probe_standardize(student, rec):
    import torch

    x = torch.randn(50, 4) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + torch.tensor([0.0, 5.0, -2.0, 100.0])
    rec.record("random.input", x.clone())
    rec.call("random", "column_standardize", x)
    x64 = torch.randn(20, 3, dtype=torch.float64) * 2 + 1
    rec.record("float64.input", x64.clone())
    rec.call("float64", "column_standardize", x64)
    constant = torch.tensor([[2.0, 1.0, -0.5], [2.0, 3.0, -0.5], [2.0, 5.0, -0.5], [2.0, -1.0, -0.5]])
    rec.call("constant", "column_standardize", constant)


@exercise.probe("mask_mean")
def _probe_mask_mean(student, rec):
    import torch

    rec.call("random", "mask_mean", torch.rand(6, 7) > 0.3)
    rec.call("all_false", "mask_mean", torch.zeros(5, dtype=torch.bool))
    rec.call("three_dims", "mask_mean", torch.rand(2, 3, 4) > 0.5)
    rec.call("scalar", "mask_mean", torch.tensor(True))


@exercise.probe("batched_transpose")
def _probe_transpose(student, rec):
    import torch

    for key, shape in {"two_dims": (3, 5), "three_dims": (2, 3, 4), "four_dims": (2, 3, 4, 5)}.items():
        rec.call(key, "batched_transpose", torch.randn(shape))
    rec.call("int64", "batched_transpose", torch.arange(24).reshape(2, 3, 4))


# ------------------------------------------------------------------ checks (trusted side)
TO_FLOAT_CASES = {
    "list": "on [1, 2, 3]", "nested_list": "on a nested list", "nested_3d": "on a 3-level nested list",
    "bool_list": "on a list of bools", "int_array": "on an int64 NumPy array",
    "uint8_array": "on a uint8 NumPy array", "bool_array": "on a bool NumPy array",
    "float64_array": "on a float64 NumPy array", "float32_array": "on a float32 NumPy array",
}


@exercise.check("to_float_tensor.values", points=1.5, probe="to_float_tensor", requires=("to_float_tensor",))
def _check_to_float(ctx):
    """to_float_tensor returns a float32 tensor with the same shape and values"""
    verdict = compare_cases(ctx, TO_FLOAT_CASES)
    if not verdict.passed and "dtype" in verdict.message:
        verdict.hint = ("the result must be float32 whatever the input's dtype: pass dtype=torch.float32 "
                        "(torch.tensor keeps float64 and int64 from NumPy and Python).")
    return verdict


@exercise.check("to_float_tensor.copies_numpy", points=1.0, probe="to_float_tensor",
                requires=("to_float_tensor",), depends=("to_float_tensor.values",))
def _check_copies(ctx):
    """to_float_tensor does not share memory with a NumPy input"""
    verdict = compare_tensors(ctx.got("float32_array.after_change"), ctx.expected("float32_array.after_change"),
                              what="after the NumPy array was changed, the tensor")
    if not verdict.passed:
        verdict.message = "the tensor changed when the NumPy array it came from was changed (shared memory)"
        verdict.hint = HINT_FROM_NUMPY
    return verdict


@exercise.check("column_standardize.input_unchanged", points=1.0, probe="column_standardize",
                requires=("column_standardize",))
def _check_unchanged(ctx):
    """column_standardize leaves its argument unchanged"""
    ctx.got("random")  # a call that changed its tensor argument in place fails here, once, with the hint
    return Verdict(True, "the argument is the same after the call")


@exercise.check("column_standardize.population_std", points=2.0, probe="column_standardize",
                requires=("column_standardize",))
def _check_standardize(ctx):
    """column_standardize divides by the population std (ddof=0)"""
    got = ctx.got("random")
    verdict = compare_tensors(got, ctx.expected("random"), what="on a (50, 4) float32 input")
    if not verdict.passed:
        x = ctx.expected("random.input").data.astype(np.float64)
        if matches(got, (x - x.mean(0)) / x.std(0, ddof=1)):
            verdict.hint = HINT_UNBIASED
    return verdict


@exercise.check("column_standardize.float64", points=0.5, probe="column_standardize",
                requires=("column_standardize",), depends=("column_standardize.population_std",))
def _check_standardize64(ctx):
    """column_standardize keeps float64 inputs in float64"""
    return compare_tensors(ctx.got("float64"), ctx.expected("float64"), what="on a (20, 3) float64 input")


@exercise.check("column_standardize.constant_columns", points=1.0, probe="column_standardize",
                requires=("column_standardize",), depends=("column_standardize.population_std",))
def _check_constant(ctx):
    """a constant column becomes all zeros, not NaN"""
    got = ctx.got("constant")
    verdict = compare_tensors(got, ctx.expected("constant"), what="on an input with constant columns")
    if not verdict.passed and got.data is not None and np.isnan(got.data.astype(np.float64)).any():
        verdict.hint = HINT_CONSTANT
    return verdict


@exercise.check("mask_mean.values", points=1.5, probe="mask_mean", requires=("mask_mean",),
                hints={"could not infer output dtype": HINT_BOOL_MEAN, "mean(): input dtype": HINT_BOOL_MEAN})
def _check_mask_mean(ctx):
    """mask_mean returns the fraction of True as a 0-dim float32 tensor"""
    verdict = compare_cases(ctx, {"random": "on a (6, 7) mask", "all_false": "on an all-False mask",
                                  "three_dims": "on a (2, 3, 4) mask", "scalar": "on a 0-dim mask"})
    if not verdict.passed and "got a float" in verdict.message:
        verdict.hint = "return a tensor, not a Python number: drop the .item()."
    return verdict


@exercise.check("batched_transpose.values", points=1.5, probe="batched_transpose", requires=("batched_transpose",))
def _check_transpose(ctx):
    """batched_transpose swaps only the last two dimensions"""
    cases = {"two_dims": "on a (3, 5) tensor", "three_dims": "on a (2, 3, 4) tensor",
             "four_dims": "on a (2, 3, 4, 5) tensor", "int64": "on a (2, 3, 4) int64 tensor"}
    verdict = compare_cases(ctx, cases)
    if not verdict.passed and ("(4, 3, 2)" in verdict.message or "[4, 3, 2]" in verdict.message
                               or "[5, 4, 3, 2]" in verdict.message):
        verdict.hint = HINT_TRANSPOSE
    return verdict


@grader.hookimpl
def grader_exercises():
    return [exercise]
