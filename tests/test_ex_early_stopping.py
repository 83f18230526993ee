"""Exercise 9, early_stopping: the reference scores full marks, correct solutions in other styles
(best_loss starting at None with a `wait` counter and cloned tensors; a notebook with a
dataclass and a deep copy of the whole model) get full marks, every mutant loses points on
its check with its hint, a mistake in EarlyStopping is not charged again in
train_with_early_stopping, and the untouched starter scores 0."""

from __future__ import annotations

import pytest
import torch
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade, grade_jobs, notebook,
                      write_submission)

from grader.starter import builtin_starters
from grader.verify import read_mutants

EXERCISE = "early_stopping"

# best_loss = None until the first call, `improvement > min_delta`, a while loop, the best
# state cloned tensor by tensor
ALT_NONE_START = '''
class EarlyStopping:
    def __init__(self, patience=5, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = None
        self.wait = 0
        self.should_stop = False

    def step(self, val_loss):
        if self.best_loss is None or self.best_loss - val_loss > self.min_delta:
            self.best_loss = val_loss
            self.wait = 0
        else:
            self.wait += 1
        self.should_stop = self.wait >= self.patience
        return self.should_stop


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    stopper = EarlyStopping(patience=patience, min_delta=0.0)
    best_val, best_state = float("inf"), None
    epoch = 0
    while epoch < max_epochs:
        train_step(model)
        epoch += 1
        val = val_loss_fn(model)
        if val < best_val:
            best_val = val
            best_state = {name: t.detach().clone() for name, t in model.state_dict().items()}
        if stopper.step(val):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return epoch
'''

# a notebook: a dataclass, a deep copy of the whole model, epochs counted from 0
ALT_NOTEBOOK_CELLS = [
    "import copy\nfrom dataclasses import dataclass\n\nimport torch\nfrom torch import nn",
    '''
@dataclass
class EarlyStopping:
    patience: int = 5
    min_delta: float = 0.0
    best_loss: float = float("inf")
    counter: int = 0

    def step(self, val_loss: float) -> bool:
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.counter = val_loss, 0
        else:
            self.counter += 1
        return self.counter >= self.patience
''',
    '''
def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    stopper = EarlyStopping(patience)
    best_model = copy.deepcopy(model)
    for epoch in range(max_epochs):
        train_step(model)
        loss = val_loss_fn(model)
        before = stopper.best_loss
        stop = stopper.step(loss)
        if stopper.best_loss < before:
            best_model = copy.deepcopy(model)
        if stop:
            break
    model.load_state_dict(best_model.state_dict())
    return epoch + 1
''',
    '''
stopper = EarlyStopping(patience=2)
print([stopper.step(v) for v in [1.0, 0.9, 0.95, 0.97]], stopper.best_loss)
''',
]

# EarlyStopping stops one call late, and train_with_early_stopping relies on it: one mistake
LATE_CLASS_USED = '''
import copy
import math


class EarlyStopping:
    def __init__(self, patience=5, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.counter = math.inf, 0

    def step(self, val_loss):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.counter = val_loss, 0
        else:
            self.counter += 1
        return self.counter > self.patience


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    stopper, best_state, epochs = EarlyStopping(patience), None, 0
    for epoch in range(1, max_epochs + 1):
        train_step(model)
        epochs = epoch
        loss = val_loss_fn(model)
        if loss < stopper.best_loss:
            best_state = copy.deepcopy(model.state_dict())
        if stopper.step(loss):
            break
    model.load_state_dict(best_state)
    return epochs
'''

# only the parameters are copied and restored: the buffers stay those of the last epoch
PARAMETERS_ONLY = '''
import math

import torch


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    best, counter, best_params, epochs = math.inf, 0, None, 0
    for epochs in range(1, max_epochs + 1):
        train_step(model)
        loss = val_loss_fn(model)
        if loss < best:
            best, counter = loss, 0
            best_params = [p.detach().clone() for p in model.parameters()]
        else:
            counter += 1
            if counter >= patience:
                break
    with torch.no_grad():
        for p, saved in zip(model.parameters(), best_params):
            p.copy_(saved)
    return epochs
'''


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above, every mutant and the starter, graded once for the module."""
    directory = tmp_path_factory.mktemp("early_stopping")
    jobs = {"alt_none_start": write_submission(directory, ALT_NONE_START, "alt_none_start.py"),
            "alt_notebook": write_submission(directory, notebook(*ALT_NOTEBOOK_CELLS), "alt_notebook.ipynb"),
            "late_class_used": write_submission(directory, LATE_CLASS_USED, "late_class_used.py"),
            "parameters_only": write_submission(directory, PARAMETERS_ONLY, "parameters_only.py"),
            "starter": builtin_starters() / f"{EXERCISE}.py"}
    jobs.update({m.path.name: m.path for m in read_mutants(builtin_exercise(EXERCISE))})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    assert all(c["status"] == "passed" for c in ex["checks"])


@pytest.mark.parametrize("name", ["alt_none_start", "alt_notebook"])
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
    for owed in ("use >, not >=", "go back to 0", "one call late", "one epoch late", "epoch + 1", "deep copy",
                 "never restored"):
        assert owed in hints, owed


def test_the_starter_scores_zero_without_an_error(results):
    ex = exercise_result(results["starter"], EXERCISE)
    assert ex["status"] == "graded" and ex["score"] == 0
    assert all(c["status"] == "failed" and "not implemented" in c["message"] for c in ex["checks"]), \
        dump(results["starter"])


def test_a_late_early_stopping_class_is_charged_once(results):
    ex = exercise_result(results["late_class_used"], EXERCISE)
    checks = checks_by_id(results["late_class_used"], EXERCISE)
    patience = checks["EarlyStopping.patience"]
    assert patience["points"] == 0 and "one call late" in patience["hint"]
    assert ex["score"] == 8, dump(results["late_class_used"])  # reset, min_delta and the training loop all pass


def test_the_message_names_the_epoch_the_weights_come_from(results):
    message = checks_by_id(results["shallow_state_dict.py"], EXERCISE)["train_with_early_stopping.best_weights"][
        "message"]
    assert "the weights of epoch 6 (the last one); expected those of epoch 3" in message


def test_buffers_left_behind_get_half_the_points_and_their_hint(results):
    check = checks_by_id(results["parameters_only"], EXERCISE)["train_with_early_stopping.best_weights"]
    assert check["points"] == pytest.approx(1.0), dump(results["parameters_only"])
    assert "buffers" in check["message"] and "state_dict()" in check["hint"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_cuda_machine_the_reference_and_another_style_score_full_marks(tmp_path):
    for path in (builtin_exercise(EXERCISE).reference, write_submission(tmp_path, ALT_NONE_START, "alt.py")):
        result = grade(path, EXERCISE, device="cuda")
        assert exercise_result(result, EXERCISE)["score"] == 10, dump(result)
