"""Estimate how well a model generalises with K-fold cross-validation, and use it to choose a hidden size.

| function | what it must do |
| --- | --- |
| `kfold_indices(n, k, seed)` | a list of `k` index tensors (int64) that are disjoint and together hold every index `0..n-1` exactly once; their sizes differ by at most one; the indices are shuffled reproducibly from `seed`. |
| `cross_validate(make_model, X, y, k, train_fn, metric_fn, seed)` | for each of the `k` folds of `kfold_indices(len(X), k, seed)`: a **fresh** model `make_model()`, trained with `train_fn(model, X_train, y_train)` on the **other** folds only, then scored with `metric_fn(model, X_val, y_val)` on the held-out fold. Standardise the inputs of each fold with the **training folds'** mean and std (`(X_train - mean) / std` and `(X_val - mean) / std`; `y` as it is). Return `(fold_scores, mean_score)`: the list of the `k` scores in fold order, and their mean. |
| `select_hidden_size(sizes, X, y, k, seed)` | `X`: float `(N, D)`, `y`: int64 class labels. For each hidden size `h` in `sizes`, call your `cross_validate` with a `make_model` that builds `nn.Sequential(nn.Linear(D, h), nn.ReLU(), nn.Linear(h, n_classes))`, your own `train_fn` and an accuracy `metric_fn`; return the size whose mean score is the **highest**. |

`train_fn` trains the model it is given in place (it also returns it); `metric_fn` returns a
score as a number, higher is better. The grader checks `cross_validate` with spies that
record what each function receives, and `select_hidden_size` through its calls of your
`cross_validate`.
"""

import torch
from torch import nn


def kfold_indices(n, k, seed):
    """Return k disjoint int64 index tensors covering 0..n-1 once (sizes differing by at most one), shuffled by seed."""
    # TODO: your code here
    raise NotImplementedError


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    """Return (fold_scores, mean_score): a fresh model per fold, trained on the other folds and scored on
    the held-out one, with the inputs standardised by the training folds' statistics."""
    # TODO: your code here
    raise NotImplementedError


def select_hidden_size(sizes, X, y, k, seed):
    """Return the hidden size in `sizes` whose one-hidden-layer MLP has the best mean cross-validated accuracy."""
    # TODO: your code here
    raise NotImplementedError
