"""Exercise 8, minibatch: the reference scores full marks, correct solutions in other styles
(an explicit sampler with a tensor accumulator; a notebook that seeds torch globally and
averages with NumPy weights) get full marks, every mutant loses points on its check with its
hint, chosen near-misses get their messages, and the untouched starter scores 0."""

from __future__ import annotations

import pytest
import torch
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade, grade_jobs, notebook,
                      write_submission)

from grader.starter import builtin_starters
from grader.verify import read_mutants

EXERCISE = "minibatch"

# an explicit RandomSampler / SequentialSampler; the loss summed in a tensor and divided by
# len(loader.dataset); gradients cleared with model.zero_grad(set_to_none=True)
ALT_SAMPLER = '''
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, TensorDataset


def make_loader(X, y, batch_size, shuffle, seed):
    dataset = TensorDataset(X, y)
    if shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)


def train_epoch(model, loader, loss_fn, optimizer):
    total = torch.zeros(())
    for inputs, targets in loader:
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total = total + loss.detach().cpu() * inputs.shape[0]
    return float(total / len(loader.dataset))
'''

# a notebook: torch seeded globally inside make_loader, a training loop that keeps every
# batch loss and size and returns NumPy's weighted average (a np.float64, which is a float)
ALT_NOTEBOOK_CELLS = [
    "import numpy as np\nimport torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset",
    '''
def make_loader(X, y, batch_size, shuffle, seed):
    torch.manual_seed(seed)
    return DataLoader(TensorDataset(X, y), batch_size, shuffle=shuffle)
''',
    '''
def train_epoch(model, loader, loss_fn, optimizer):
    model.train()
    losses, sizes = [], []
    for step, (xb, yb) in enumerate(loader):
        optimizer.zero_grad()
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        sizes.append(len(yb))
    return np.average(losses, weights=sizes)
''',
    '''
X, y = torch.randn(50, 3), torch.randn(50, 1)
net = nn.Linear(3, 1)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(3):
    print(epoch, train_epoch(net, make_loader(X, y, 16, True, epoch), nn.MSELoss(), opt))
''',
]

# the loss returned as a tensor (the right value)
TENSOR_LOSS = '''
def train_epoch(model, loader, loss_fn, optimizer):
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total = total + loss.detach() * len(xb)
        count += len(xb)
    return total / count
'''

# gradients cleared after each step: the stale gradients present on entry reach the first step
ZERO_GRAD_AFTER = '''
def train_epoch(model, loader, loss_fn, optimizer):
    total, count = 0.0, 0
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
'''


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above, every mutant and the starter, graded once for the module."""
    directory = tmp_path_factory.mktemp("minibatch")
    exercise = builtin_exercise(EXERCISE)
    jobs = {"alt_sampler": write_submission(directory, ALT_SAMPLER, "alt_sampler.py"),
            "alt_notebook": write_submission(directory, notebook(*ALT_NOTEBOOK_CELLS), "alt_notebook.ipynb"),
            "tensor_loss": write_submission(directory, TENSOR_LOSS, "tensor_loss.py"),
            "zero_grad_after": write_submission(directory, ZERO_GRAD_AFTER, "zero_grad_after.py"),
            "starter": builtin_starters() / f"{EXERCISE}.py"}
    jobs.update({m.path.name: m.path for m in read_mutants(exercise)})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    assert all(c["status"] == "passed" for c in ex["checks"])


@pytest.mark.parametrize("name", ["alt_sampler", "alt_notebook"])
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
    for owed in ("weighted", "zero_grad", "generator=torch.Generator().manual_seed(seed)", "drop_last",
                 "shuffled separately"):
        assert owed in hints, owed


def test_the_starter_scores_zero_without_an_error(results):
    ex = exercise_result(results["starter"], EXERCISE)
    assert ex["status"] == "graded" and ex["score"] == 0
    assert all(c["status"] == "failed" and "not implemented" in c["message"] for c in ex["checks"]), \
        dump(results["starter"])


def test_lost_samples_are_counted_and_charged_once(results):
    checks = checks_by_id(results["drop_last.py"], EXERCISE)
    assert "got 2 batches of sizes [4, 4] (8 samples, 2 of the 10 never yielded)" in checks["make_loader.batches"][
        "message"]
    assert checks["make_loader.shuffled"]["status"] == "passed"


def test_a_broken_pair_names_the_sample_and_its_label(results):
    message = checks_by_id(results["separate_shuffle.py"], EXERCISE)["make_loader.shuffled"]["message"]
    assert "comes with the label" in message and "its own label is" in message


def test_the_mean_loss_is_judged_on_the_batches_the_loop_computed(results):
    # without zero_grad the batch losses differ from the reference's, but their weighted mean is right
    checks = checks_by_id(results["no_zero_grad.py"], EXERCISE)
    assert checks["train_epoch.mean_loss"]["status"] == "passed"
    message = checks_by_id(results["batch_mean_loss.py"], EXERCISE)["train_epoch.mean_loss"]["message"]
    assert "expected 10.8433" in message and "got 14.0858" in message


def test_a_tensor_loss_gets_half_the_points_and_the_item_hint(results):
    check = checks_by_id(results["tensor_loss"], EXERCISE)["train_epoch.mean_loss"]
    assert check["points"] == pytest.approx(1.0), dump(results["tensor_loss"])
    assert ".item()" in check["hint"]


def test_clearing_after_the_step_leaves_the_stale_gradients_for_the_first_step(results):
    check = checks_by_id(results["zero_grad_after"], EXERCISE)["train_epoch.steps"]
    assert check["points"] == 0 and "stale gradients" in check["hint"], dump(results["zero_grad_after"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_cuda_machine_the_reference_and_another_style_score_full_marks(tmp_path):
    for path in (builtin_exercise(EXERCISE).reference, write_submission(tmp_path, ALT_SAMPLER, "alt.py")):
        result = grade(path, EXERCISE, device="cuda")
        assert exercise_result(result, EXERCISE)["score"] == 10, dump(result)
