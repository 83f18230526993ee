"""Exercise 3, manual_backprop: the reference scores full marks, correct solutions in unusual
styles get full marks, chosen mutants get their messages, and the no-autograd rule is
enforced without penalising an unrelated autograd helper. That every mutant loses points
with its hint is tests/test_verify.py's check."""

from __future__ import annotations

import pytest
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade_jobs,
                      mutant_path, notebook, write_submission)

from grader.verify import read_mutants

EXERCISE = "manual_backprop"

# einsum / matmul, a list for the result, one parameter vector with Horner's scheme
ALT_VECTORISED = '''
import torch

def linear_mse_grads(a, b, x, y):
    n = x.shape[0]
    err = (a + b * x) - y
    return [2.0 / n * err.sum(), 2.0 / n * torch.dot(err, x)]

def two_layer_backward(x, W1, b1, W2, b2, y):
    z = torch.einsum("nd,hd->nh", x, W1) + b1
    h = 1 / (1 + torch.exp(-z))
    out = torch.einsum("nh,oh->no", h, W2) + b2
    g = (out - y) * (2.0 / out.numel())
    gz = torch.einsum("no,oh->nh", g, W2) * h * (1 - h)
    return {"W2": torch.einsum("no,nh->oh", g, h), "b2": torch.einsum("no->o", g),
            "W1": torch.einsum("nh,nd->hd", gz, x), "b1": gz.sum(0)}

def fit_cubic(x, y, lr, steps):
    w = torch.zeros(4, dtype=x.dtype, requires_grad=True)
    for step in range(steps):
        pred = w[0] + x * (w[1] + x * (w[2] + x * w[3]))
        loss = torch.sum((pred - y) ** 2)
        loss.backward()
        with torch.no_grad():
            w.sub_(lr * w.grad)
            w.grad.zero_()
    return w.detach().clone()
'''

# a notebook: per-example loops (a manual chain rule per sample), torch.optim.SGD, and an
# autograd cross-check the graded functions never call
ALT_LOOPS_CELLS = [
    "import torch\nfrom torch import optim\n\ndef _sig(z):\n    return torch.sigmoid(z)",
    '''
def linear_mse_grads(a, b, x, y):
    da, db = torch.zeros_like(a), torch.zeros_like(b)
    for xi, yi in zip(x, y):
        r = yi - (a + b * xi)
        da = da - 2 * r
        db = db - 2 * r * xi
    return da / len(x), db / len(x)
''',
    '''
def two_layer_backward(x, W1, b1, W2, b2, y):
    N, O = y.shape
    grads = {k: torch.zeros_like(v) for k, v in dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
    for i in range(N):
        xi, yi = x[i], y[i]
        hi = _sig(W1 @ xi + b1)
        go = 2 * (W2 @ hi + b2 - yi) / (N * O)
        grads["W2"] += torch.outer(go, hi)
        grads["b2"] += go
        gz = (W2.T @ go) * hi * (1 - hi)
        grads["W1"] += torch.outer(gz, xi)
        grads["b1"] += gz
    return grads
''',
    '''
def compare_with_autograd():
    a = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(-1.0, requires_grad=True)
    x, y = torch.randn(5), torch.randn(5)
    ((y - a - b * x) ** 2).mean().backward()
    return a.grad, b.grad

print(compare_with_autograd())
''',
    '''
def fit_cubic(x, y, lr, steps):
    coeffs = [torch.zeros((), requires_grad=True) for _ in range(4)]
    opt = optim.SGD(coeffs, lr=lr)
    powers = torch.stack([x ** k for k in range(4)])
    for _ in range(steps):
        opt.zero_grad()
        pred = sum(c * xk for c, xk in zip(coeffs, powers))
        loss = (pred - y).pow(2).sum()
        loss.backward()
        opt.step()
    return torch.stack(coeffs).detach()
''',
]

# autograd hidden behind a helper and getattr: the static rule follows the helper
HIDDEN_AUTOGRAD = '''
import torch
from torch.autograd import grad as g

def _helper(loss, params):
    return g(loss, params)

def linear_mse_grads(a, b, x, y):
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    return tuple(_helper(((y - a - b * x) ** 2).mean(), (a, b)))
'''


# the mutants the tests below read by name
MUTANTS = ("linear_uses_backward.py", "two_layer_sum_loss.py", "two_layer_no_batch_sum.py", "linear_sign_error.py",
           "linear_in_place.py", "two_layer_matmul_raises.py")


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above and MUTANTS, graded once for the module."""
    directory = tmp_path_factory.mktemp("manual_backprop")
    jobs = {"alt_vectorised": write_submission(directory, ALT_VECTORISED, "alt_vectorised.py"),
            "alt_loops": write_submission(directory, notebook(*ALT_LOOPS_CELLS), "alt_loops.ipynb"),
            "hidden_autograd": write_submission(directory, HIDDEN_AUTOGRAD, "hidden_autograd.py")}
    jobs.update({name: mutant_path(EXERCISE, name) for name in MUTANTS})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    assert all(c["status"] == "passed" for c in ex["checks"])


@pytest.mark.parametrize("name", ["alt_vectorised", "alt_loops"])
def test_correct_solutions_in_other_styles_get_full_marks(results, name):
    ex = exercise_result(results[name], EXERCISE)
    assert ex["score"] == 10, dump(results[name])


# every mutant losing points on its check with its hint: tests/test_verify.py::test_verify_passes


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ("accumulate", "gradient ascent", "mean vs sum", "sum the per-example terms over the batch"):
        assert owed in hints, owed


def test_autograd_is_refused_at_run_time_with_the_hint(results):
    check = checks_by_id(results["linear_uses_backward.py"], EXERCISE)["linear_mse_grads.values"]
    assert check["points"] == 0
    assert "torch.autograd.backward" in check["message"]
    assert "by hand" in check["hint"]


def test_autograd_through_an_alias_and_a_helper_is_refused_at_run_time(results):
    """`from torch.autograd import grad as g`, called from a helper: the reference taken
    before the probe is the original function, and running it counts as using it."""
    checks = checks_by_id(results["hidden_autograd"], EXERCISE)
    values = checks["linear_mse_grads.values"]
    assert values["points"] == 0, dump(results["hidden_autograd"])
    assert "torch.autograd.grad" in values["message"] and "by hand" in values["hint"]
    assert checks["linear_mse_grads.no_autograd"]["status"] == "skipped"  # the one mistake is charged once


def test_autograd_through_a_helper_is_found_in_the_source():
    from grader.testing import student_source

    source = student_source(HIDDEN_AUTOGRAD)
    assert "torch.autograd.grad" in source.names_used("linear_mse_grads")


def test_sum_loss_hint_names_the_factor(results):
    check = checks_by_id(results["two_layer_sum_loss.py"], EXERCISE)["two_layer_backward.values"]
    assert "24 times too large" in check["hint"]  # N * out_features = 8 * 3 in the first case
    assert "expected" in check["message"] and "max abs error" in check["message"]


def test_shape_mistake_names_the_parameter_and_shapes(results):
    check = checks_by_id(results["two_layer_no_batch_sum.py"], EXERCISE)["two_layer_backward.shapes"]
    assert "b1" in check["message"] and "[5]" in check["message"] and "[8, 5]" in check["message"]


def test_a_wrong_gradient_does_not_cost_the_no_autograd_check(results):
    checks = checks_by_id(results["linear_sign_error.py"], EXERCISE)
    assert checks["linear_mse_grads.values"]["points"] == 0
    assert checks["linear_mse_grads.no_autograd"]["status"] == "passed", dump(results["linear_sign_error.py"])


def test_a_misshapen_gradient_is_charged_in_shapes_only(results):
    checks = checks_by_id(results["two_layer_no_batch_sum.py"], EXERCISE)
    assert checks["two_layer_backward.shapes"]["points"] == 0
    values = checks["two_layer_backward.values"]
    assert values["status"] == "passed" and "b1" in values["message"], dump(results["two_layer_no_batch_sum.py"])
    assert checks["two_layer_backward.no_autograd"]["status"] == "passed"


def test_an_argument_changed_in_place_gets_the_in_place_hint(results):
    check = checks_by_id(results["linear_in_place.py"], EXERCISE)["linear_mse_grads.values"]
    assert check["points"] == 0 and "argument y in place" in check["message"]
    assert "in-place" in check["hint"]


def test_a_backward_matrix_product_that_raises_gets_the_shapes_hint(results):
    check = checks_by_id(results["two_layer_matmul_raises.py"], EXERCISE)["two_layer_backward.shapes"]
    assert "cannot be multiplied" in check["message"] and "follow the shapes" in (check["hint"] or "")
