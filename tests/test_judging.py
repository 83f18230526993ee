"""The trusted side's comparisons (grader/judging.py) without a sandbox: what a student
reads when a tensor is wrong (shape, dtype, device, the first mismatch), the tolerances an
honest float32 formula needs, and the integers a contract accepts. Values go through the
codec as real observations do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import builtin_exercise
from grader.codec import Raised, decode, encode
from grader.judging import as_int, compare_plain, compare_tensors, matches
from grader.testing import judge


def observed(value):
    """``value`` as the trusted side receives it from the sandbox."""
    return decode(encode(value, torch))


EXPECTED = observed(torch.arange(6, dtype=torch.float32).reshape(2, 3))


def test_a_wrong_shape_names_both_shapes():
    verdict = compare_tensors(observed(torch.zeros(3, 2)), EXPECTED, what="on a (2, 3) input")
    assert not verdict.passed
    assert verdict.message.startswith("on a (2, 3) input: expected shape [2, 3]; got shape [3, 2]")


def test_a_wrong_dtype_or_kind_is_named():
    assert "expected dtype float32; got dtype float64" in compare_tensors(
        observed(torch.arange(6, dtype=torch.float64).reshape(2, 3)), EXPECTED).message
    assert not compare_tensors(observed(np.arange(6, dtype=np.float32).reshape(2, 3)), EXPECTED).passed
    assert compare_tensors(observed(np.arange(6, dtype=np.float32).reshape(2, 3)), EXPECTED, allow_ndarray=True).passed
    assert "got a list" in compare_tensors(observed([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), EXPECTED).message


def test_the_first_mismatch_is_shown_with_its_index_and_the_largest_error():
    wrong = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    wrong[1, 1] = 40.0
    message = compare_tensors(observed(wrong), EXPECTED).message
    assert "1 of 6 values differ; first at index (1, 1): expected 4, got 40; max abs error 36" in message


def test_nan_in_the_result_is_said():
    wrong = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    wrong[0, 2] = float("nan")
    message = compare_tensors(observed(wrong), EXPECTED).message
    assert "first at index (0, 2): expected 2, got nan" in message and "1 value(s) are NaN" in message


def test_a_float32_formula_passes_where_a_mistake_fails():
    """Squared distances of points away from the origin: ``|a|² + |b|² - 2ab`` in float32
    loses digits that ``((a - b) ** 2).sum()`` keeps; both are honest, a missing square is not."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 3, generator=g, dtype=torch.float64) * 3 + 5
    b = torch.randn(8, 3, generator=g, dtype=torch.float64) * 3 + 5
    exact = ((a[:, None] - b[None]) ** 2).sum(-1)
    a32, b32 = a.float(), b.float()
    expanded = (a32 ** 2).sum(1)[:, None] + (b32 ** 2).sum(1)[None] - 2 * a32 @ b32.T
    assert compare_tensors(observed(expanded), observed(exact.float())).passed
    no_square = (a32[:, None] - b32[None]).abs().sum(-1)
    assert not compare_tensors(observed(no_square), observed(exact.float())).passed


def test_a_tensor_without_values_never_matches():
    """A forged tensor record that has a shape and no data."""
    forged = observed(torch.zeros(2, 3))
    forged.data = None
    assert not compare_tensors(forged, EXPECTED).passed
    assert "has no values to compare" in compare_tensors(forged, EXPECTED).message
    assert not matches(forged, EXPECTED)


def test_a_tensor_subclass_is_not_a_plain_tensor():
    class Mine(torch.Tensor):
        pass

    value = torch.arange(6, dtype=torch.float32).reshape(2, 3).as_subclass(Mine)
    assert "(tensor subclass)" in compare_tensors(observed(value), EXPECTED).message


@pytest.mark.parametrize("value, expected", [(3, 3), (np.int64(3), 3), (np.uint8(3), 3), (True, None),
                                             (3.0, None), (torch.tensor(3), None), ("3", None)])
def test_what_counts_as_an_integer(value, expected):
    assert as_int(observed(value)) == expected


def test_plain_values_compare_by_type_too():
    assert compare_plain(observed(np.int64(4)), 4).passed
    tuple_for_list = compare_plain(observed([2, 3]), (2, 3), what="the shape")
    assert not tuple_for_list.passed and "expected (2, 3); got a list [2, 3]" in tuple_for_list.message
    assert "expected (2, 3); got a tuple (3, 2)" in compare_plain(observed((3, 2)), (2, 3)).message


def test_a_raised_call_in_hand_written_observations_is_judged_as_a_raise():
    """grader.testing.judge: a Raised in ``got`` is the student's exception, as in a real run."""
    exercise = builtin_exercise("tensor_ops")
    expected = {"random": torch.zeros(50, 4), "random.input": torch.randn(50, 4)}
    verdict = judge(exercise, "column_standardize.population_std",
                    got={"random": Raised("ValueError", "bad axis")}, expected=expected)
    assert not verdict.passed and verdict.message == "raised ValueError: bad axis"
