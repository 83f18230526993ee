"""Exercise 10, regularization: the reference scores full marks, correct solutions in other styles
(layer by layer over nn.Linear modules with norms; a notebook that tells biases by their
shape and stacks the sums) get full marks, every mutant loses points on its check with its
hint, a penalty's mistake is not charged again in regularized_loss, and the untouched
starter scores 0."""

from __future__ import annotations

import pytest
import torch
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade, grade_jobs, notebook,
                      write_submission)

from grader.starter import builtin_starters
from grader.verify import read_mutants

EXERCISE = "regularization"

# over the Linear modules, torch.linalg.vector_norm squared, the L1 norm by p.norm(p=1),
# terms added only when their coefficient is non-zero, 2.0 * l2
ALT_MODULES = '''
import torch
from torch import nn


def _linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def l2_penalty(model, include_bias=False):
    total = torch.tensor(0.0)
    for layer in _linears(model):
        total = total + torch.linalg.vector_norm(layer.weight) ** 2
        if include_bias and layer.bias is not None:
            total = total + torch.linalg.vector_norm(layer.bias) ** 2
    return total


def l1_penalty(model, include_bias=False):
    total = torch.tensor(0.0)
    for layer in _linears(model):
        total = total + layer.weight.norm(p=1)
        if include_bias and layer.bias is not None:
            total = total + layer.bias.norm(p=1)
    return total


def regularized_loss(model, loss, l1=0.0, l2=0.0):
    if l1:
        loss = loss + l1 * l1_penalty(model)
    if l2:
        loss = loss + l2 * l2_penalty(model)
    return loss


def sgd_weight_decay_equivalent(l2):
    return l2 * 2.0
'''

# a notebook: biases told by their shape (1-D), the sums stacked, the penalties in one helper
ALT_NOTEBOOK_CELLS = [
    "import torch\nimport torch.nn as nn",
    '''
def _chosen(model, include_bias):
    return [p for p in model.parameters() if include_bias or p.dim() > 1]

def l2_penalty(model, include_bias=False):
    return torch.stack([(p * p).sum() for p in _chosen(model, include_bias)]).sum()

def l1_penalty(model, include_bias=False):
    return torch.cat([p.flatten() for p in _chosen(model, include_bias)]).abs().sum()
''',
    '''
def regularized_loss(model, loss, l1=0.0, l2=0.0):
    return loss + sum(c * f(model) for c, f in ((l1, l1_penalty), (l2, l2_penalty)))

def sgd_weight_decay_equivalent(l2):
    # d/dw (l2 * w**2) = 2 * l2 * w, and SGD adds weight_decay * w to the gradient
    return float(2 * l2)
''',
    '''
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
print(l2_penalty(net), l1_penalty(net, include_bias=True))
''',
]

# l2_penalty not squared, but regularized_loss itself right: regularized_loss is not charged
WRONG_L2_RIGHT_LOSS = '''
def l2_penalty(model, include_bias=False):
    return sum(p.norm() for n, p in model.named_parameters() if include_bias or "bias" not in n)

def l1_penalty(model, include_bias=False):
    return sum(p.abs().sum() for n, p in model.named_parameters() if include_bias or "bias" not in n)

def regularized_loss(model, loss, l1=0.0, l2=0.0):
    return loss + l1 * l1_penalty(model) + l2 * l2_penalty(model)
'''

# a penalty computed with NumPy: calling .numpy() on a parameter raises
NUMPY_PENALTY = '''
import numpy as np

def l2_penalty(model, include_bias=False):
    return sum(float(np.sum(p.numpy() ** 2)) for n, p in model.named_parameters() if include_bias or "bias" not in n)
'''


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above, every mutant and the starter, graded once for the module."""
    directory = tmp_path_factory.mktemp("regularization")
    jobs = {"alt_modules": write_submission(directory, ALT_MODULES, "alt_modules.py"),
            "alt_notebook": write_submission(directory, notebook(*ALT_NOTEBOOK_CELLS), "alt_notebook.ipynb"),
            "wrong_l2_right_loss": write_submission(directory, WRONG_L2_RIGHT_LOSS, "wrong_l2_right_loss.py"),
            "numpy_penalty": write_submission(directory, NUMPY_PENALTY, "numpy_penalty.py"),
            "starter": builtin_starters() / f"{EXERCISE}.py"}
    jobs.update({m.path.name: m.path for m in read_mutants(builtin_exercise(EXERCISE))})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    assert all(c["status"] == "passed" for c in ex["checks"])


@pytest.mark.parametrize("name", ["alt_modules", "alt_notebook"])
def test_correct_solutions_in_other_styles_get_full_marks(results, name):
    ex = exercise_result(results[name], EXERCISE)
    assert ex["score"] == 10, dump(results[name])


@pytest.mark.parametrize("mutant", read_mutants(builtin_exercise(EXERCISE)), ids=lambda m: m.path.name)
def test_each_mutant_loses_points_on_its_check_with_its_hint(results, mutant):
    checks = checks_by_id(results[mutant.path.name], EXERCISE)
    target = checks[mutant.expect_fail]
    assert target["points"] < target["max_points"], dump(results[mutant.path.name])
    assert mutant.expect_hint in (target["hint"] or "")
    judged = [c for c in checks.values() if c["status"] != "skipped" and "is not defined" not in c["message"]]
    assert [c["id"] for c in judged if c["points"] < c["max_points"]] == [mutant.expect_fail]  # charged once


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ("p.data", "without squaring them", "a second time", "biases must not be penalised", "the factor 2"):
        assert owed in hints, owed


def test_the_starter_scores_zero_without_an_error(results):
    ex = exercise_result(results["starter"], EXERCISE)
    assert ex["status"] == "graded" and ex["score"] == 0
    assert all(c["status"] in ("failed", "skipped") for c in ex["checks"]), dump(results["starter"])
    assert all("not implemented" in c["message"] for c in ex["checks"] if c["status"] == "failed")


def test_a_penalty_mistake_is_not_charged_again_in_regularized_loss(results):
    checks = checks_by_id(results["wrong_l2_right_loss"], EXERCISE)
    assert checks["l2_penalty.value"]["points"] == 0
    assert checks["regularized_loss.values"]["status"] == "passed", dump(results["wrong_l2_right_loss"])


def test_a_raising_penalty_gets_the_no_gradient_hint(results):
    check = checks_by_id(results["numpy_penalty"], EXERCISE)["l2_penalty.value"]
    assert "Can't call numpy() on Tensor that requires grad" in check["message"]
    assert "cut the autograd graph" in check["hint"]
    check = checks_by_id(results["l1_item.py"], EXERCISE)["l1_penalty.gradient"]
    assert "'float' object has no attribute 'backward'" in check["message"]
    assert "cut the autograd graph" in check["hint"]


def test_the_factor_2_is_shown_by_stepping_two_models(results):
    check = checks_by_id(results["weight_decay_no_factor.py"], EXERCISE)["sgd_weight_decay_equivalent.same_step"]
    assert "returned 0.05" in check["message"] and "3 SGD steps" in check["message"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_cuda_machine_the_reference_and_another_style_score_full_marks(tmp_path):
    for path in (builtin_exercise(EXERCISE).reference, write_submission(tmp_path, ALT_MODULES, "alt.py")):
        result = grade(path, EXERCISE, device="cuda")
        assert exercise_result(result, EXERCISE)["score"] == 10, dump(result)
