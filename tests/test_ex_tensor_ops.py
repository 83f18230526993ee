"""Exercise 1, tensor_ops: the reference scores full marks, one mistake is charged once
(an unbiased std costs population_std only; a float64 result keeps its copy check), the
in-place rule covers NumPy arguments too, and the hints fire for the raising form of their
mistake. That every mutant loses points with its hint is tests/test_verify.py's check."""

from __future__ import annotations

import pytest
from conftest import builtin_exercise, checks_by_id, dump, exercise_result, grade_jobs, write_submission

from grader.verify import read_mutants

EXERCISE = "tensor_ops"

# the unbiased std, with constant columns handled: one mistake
UNBIASED_GUARDED = '''
import torch

def column_standardize(x):
    std = x.std(dim=0, keepdim=True)
    return (x - x.mean(0, keepdim=True)) / torch.where(std == 0, torch.ones_like(std), std)
'''

# keeps the NumPy / Python dtype (a mistake of values) but copies: copies_numpy is judged
KEEPS_DTYPE_COPIES = '''
import torch

def to_float_tensor(data):
    return torch.tensor(data)
'''

# right values, but it empties the caller's NumPy array afterwards
NUMPY_IN_PLACE = '''
import numpy as np
import torch

def to_float_tensor(data):
    result = torch.tensor(np.array(data), dtype=torch.float32)
    if isinstance(data, np.ndarray):
        data.fill(0)
    return result
'''

# swaps the first two dims: the transpose hint names it
TRANSPOSE_FIRST_TWO = '''
def batched_transpose(a):
    return a.transpose(0, 1)
'''


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    directory = tmp_path_factory.mktemp(EXERCISE)
    sources = {"unbiased_guarded": UNBIASED_GUARDED, "keeps_dtype_copies": KEEPS_DTYPE_COPIES,
               "numpy_in_place": NUMPY_IN_PLACE, "transpose_first_two": TRANSPOSE_FIRST_TWO}
    jobs = {name: write_submission(directory, source, f"{name}.py") for name, source in sources.items()}
    jobs["transpose_t.py"] = builtin_exercise(EXERCISE).mutants / "transpose_t.py"
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])


def test_an_unbiased_std_is_charged_once(results):
    checks = checks_by_id(results["unbiased_guarded"], EXERCISE)
    assert checks["column_standardize.population_std"]["points"] == 0
    assert "unbiased" in checks["column_standardize.population_std"]["hint"]
    for other in ("input_unchanged", "float64", "constant_columns"):
        assert checks[f"column_standardize.{other}"]["status"] == "passed", dump(results["unbiased_guarded"])
    assert "your own formula" in checks["column_standardize.float64"]["message"]


def test_a_wrong_dtype_does_not_skip_the_copy_check(results):
    checks = checks_by_id(results["keeps_dtype_copies"], EXERCISE)
    assert checks["to_float_tensor.values"]["points"] == 0
    assert checks["to_float_tensor.copies_numpy"]["status"] == "passed", dump(results["keeps_dtype_copies"])


def test_a_numpy_argument_changed_in_place_gets_the_in_place_hint(results):
    check = checks_by_id(results["numpy_in_place"], EXERCISE)["to_float_tensor.values"]
    assert check["points"] == 0 and "in place" in check["message"], dump(results["numpy_in_place"])
    assert "in-place" in check["hint"]


@pytest.mark.parametrize("name", ["transpose_first_two", "transpose_t.py"])
def test_the_transpose_hint_fires_for_the_other_dims_and_for_t(results, name):
    check = checks_by_id(results[name], EXERCISE)["batched_transpose.values"]
    assert check["points"] == 0 and "transpose(-2, -1)" in (check["hint"] or ""), dump(results[name])


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ("unbiased", "cast first", "share memory", "in-place"):
        assert owed in hints, owed
