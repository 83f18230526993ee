"""Exercise 11, kfold_cv: the reference scores full marks, correct solutions in other styles
(NumPy folds, boolean masks and the population std; a notebook with strided folds,
scikit-learn's StandardScaler and deep copies of one untrained model) get full marks,
every mutant loses points on its check with its hint, near-misses get their messages, and
the untouched starter scores 0."""

from __future__ import annotations

import pytest
import torch
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade, grade_jobs, notebook,
                      write_submission)

from grader.starter import builtin_starters
from grader.verify import read_mutants

EXERCISE = "kfold_cv"

# NumPy's generator and array_split, boolean masks, the population std, statistics.fmean,
# SGD training and max() over a dict
ALT_NUMPY = '''
import statistics

import numpy as np
import torch
from torch import nn


def kfold_indices(n, k, seed):
    perm = np.random.default_rng(seed).permutation(n)
    return [torch.as_tensor(fold, dtype=torch.int64) for fold in np.array_split(perm, k)]


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    fold_scores = []
    for fold in kfold_indices(X.shape[0], k, seed):
        held_out = torch.zeros(X.shape[0], dtype=torch.bool, device=X.device)
        held_out[fold.to(X.device)] = True
        X_tr, y_tr, X_va, y_va = X[~held_out], y[~held_out], X[held_out], y[held_out]
        mu, sigma = X_tr.mean(dim=0, keepdim=True), X_tr.std(dim=0, unbiased=False, keepdim=True)
        model = make_model()
        model = train_fn(model, (X_tr - mu) / sigma, y_tr) or model
        fold_scores.append(float(metric_fn(model, (X_va - mu) / sigma, y_va)))
    return fold_scores, statistics.fmean(fold_scores)


def select_hidden_size(sizes, X, y, k, seed):
    classes = len(torch.unique(y))

    def fit(model, X_train, y_train):
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(50):
            opt.zero_grad()
            nn.CrossEntropyLoss()(model(X_train), y_train).backward()
            opt.step()
        return model

    def acc(model, X_val, y_val):
        return (model(X_val).argmax(-1) == y_val).double().mean().item()

    mean_scores = {}
    for hidden in sizes:
        make = lambda h=hidden: nn.Sequential(nn.Linear(X.shape[1], h), nn.ReLU(), nn.Linear(h, classes))
        mean_scores[hidden] = cross_validate(make, X, y, k, fit, acc, seed)[1]
    return max(mean_scores, key=mean_scores.get)
'''

# a notebook: torch seeded globally, strided folds perm[i::k], scikit-learn's StandardScaler,
# one untrained model deep-copied for each fold, the scores through a tensor
ALT_NOTEBOOK_CELLS = [
    "import copy\nimport torch\nfrom torch import nn\nfrom sklearn.preprocessing import StandardScaler",
    '''
def kfold_indices(n, k, seed):
    torch.manual_seed(seed)
    perm = torch.randperm(n)
    return [perm[i::k] for i in range(k)]
''',
    '''
def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    folds = kfold_indices(len(X), k, seed)
    untrained = make_model()
    results = []
    for i in range(k):
        val_idx = folds[i]
        train_idx = torch.cat(folds[:i] + folds[i + 1:])
        scaler = StandardScaler().fit(X[train_idx].cpu().numpy())
        to_tensor = lambda a: torch.tensor(scaler.transform(a.cpu().numpy()), dtype=X.dtype, device=X.device)
        model = copy.deepcopy(untrained)
        train_fn(model, to_tensor(X[train_idx]), y[train_idx])
        results.append(metric_fn(model, to_tensor(X[val_idx]), y[val_idx]))
    scores = torch.tensor(results, dtype=torch.float64)
    return scores.tolist(), scores.mean().item()
''',
    '''
def select_hidden_size(sizes, X, y, k, seed):
    n_out = int(y.max()) + 1
    def train(model, X_train, y_train):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(200):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X_train), y_train).backward()
            opt.step()
    def accuracy(model, X_val, y_val):
        with torch.no_grad():
            return (model(X_val).argmax(1) == y_val).float().mean().item()
    results = {}
    for h in sizes:
        results[h] = cross_validate(lambda: nn.Sequential(nn.Linear(X.shape[1], h), nn.ReLU(), nn.Linear(h, n_out)),
                                    X, y, k, train, accuracy, seed)[1]
    return sorted(results.items(), key=lambda item: -item[1])[0][0]
''',
]

# a trained model is deep-copied into the next fold: it carries the earlier folds' training
COPIES_TRAINED = '''
import copy

import torch


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    folds = kfold_indices(len(X), k, seed)
    model, scores = make_model(), []
    for i in range(k):
        train_idx = torch.cat([f for j, f in enumerate(folds) if j != i])
        mean, std = X[train_idx].mean(0), X[train_idx].std(0)
        model = copy.deepcopy(model)
        train_fn(model, (X[train_idx] - mean) / std, y[train_idx])
        scores.append(metric_fn(model, (X[folds[i]] - mean) / std, y[folds[i]]))
    return scores, sum(scores) / k
'''

# every fold standardised with its own statistics: the validation fold with its own mean and std
OWN_VAL_STATS = '''
import torch


def _standardize(a):
    return (a - a.mean(0)) / a.std(0)


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    folds = kfold_indices(len(X), k, seed)
    scores = []
    for i in range(k):
        train_idx = torch.cat([f for j, f in enumerate(folds) if j != i])
        model = make_model()
        train_fn(model, _standardize(X[train_idx]), y[train_idx])
        scores.append(metric_fn(model, _standardize(X[folds[i]]), y[folds[i]]))
    return scores, sum(scores) / k
'''

# select_hidden_size with its own loop, never calling cross_validate
OWN_LOOP_SELECT = '''
def select_hidden_size(sizes, X, y, k, seed):
    return sizes[0]
'''


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above, every mutant and the starter, graded once for the module."""
    directory = tmp_path_factory.mktemp("kfold_cv")
    jobs = {"alt_numpy": write_submission(directory, ALT_NUMPY, "alt_numpy.py"),
            "alt_notebook": write_submission(directory, notebook(*ALT_NOTEBOOK_CELLS), "alt_notebook.ipynb"),
            "copies_trained": write_submission(directory, COPIES_TRAINED, "copies_trained.py"),
            "own_val_stats": write_submission(directory, OWN_VAL_STATS, "own_val_stats.py"),
            "own_loop_select": write_submission(directory, OWN_LOOP_SELECT, "own_loop_select.py"),
            "starter": builtin_starters() / f"{EXERCISE}.py"}
    jobs.update({m.path.name: m.path for m in read_mutants(builtin_exercise(EXERCISE))})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    assert all(c["status"] == "passed" for c in ex["checks"])


@pytest.mark.parametrize("name", ["alt_numpy", "alt_notebook"])
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
    for owed in ("every index in exactly one fold", "none left out", "held-out fold", "fresh model",
                 "whole data set"):
        assert owed in hints, owed


def test_the_starter_scores_zero_without_an_error(results):
    ex = exercise_result(results["starter"], EXERCISE)
    assert ex["status"] == "graded" and ex["score"] == 0
    assert all(c["status"] == "failed" and "not implemented" in c["message"] for c in ex["checks"]), \
        dump(results["starter"])


def test_a_deep_copy_of_a_trained_model_is_a_reused_model(results):
    check = checks_by_id(results["copies_trained"], EXERCISE)["cross_validate.fresh_models"]
    assert check["points"] == 0 and "fresh model" in check["hint"], dump(results["copies_trained"])
    assert checks_by_id(results["copies_trained"], EXERCISE)["cross_validate.folds"]["status"] == "passed"


def test_a_validation_fold_standardised_with_its_own_statistics_is_named(results):
    check = checks_by_id(results["own_val_stats"], EXERCISE)["cross_validate.normalisation"]
    assert "validation inputs are not standardised with the training folds'" in check["message"], \
        dump(results["own_val_stats"])


def test_select_hidden_size_must_go_through_cross_validate(results):
    check = checks_by_id(results["own_loop_select"], EXERCISE)["select_hidden_size.best"]
    assert check["points"] == 0 and "never called cross_validate" in check["message"]


def test_a_raising_split_is_charged_once_with_its_hint(results):
    checks = checks_by_id(results["view_split.py"], EXERCISE)
    assert "is invalid for input of size 23" in checks["kfold_indices.partition"]["message"]
    assert "tensor_split" in checks["kfold_indices.partition"]["hint"]
    assert checks["kfold_indices.sizes"]["status"] == checks["kfold_indices.seeded"]["status"] == "passed"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_cuda_machine_the_reference_and_another_style_score_full_marks(tmp_path):
    for path in (builtin_exercise(EXERCISE).reference, write_submission(tmp_path, ALT_NUMPY, "alt.py")):
        result = grade(path, EXERCISE, device="cuda")
        assert exercise_result(result, EXERCISE)["score"] == 10, dump(result)
