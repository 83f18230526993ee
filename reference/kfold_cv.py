"""Reference solution: kfold_cv (K-fold cross-validation and choosing a hidden size)."""

import torch
from torch import nn


def kfold_indices(n, k, seed):
    """k disjoint index tensors covering 0..n-1 once, sizes differing by at most one, shuffled by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return list(torch.tensor_split(torch.randperm(n, generator=generator), k))


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    """(fold_scores, mean_score): a fresh model per fold, trained on the other folds and standardised
    with their statistics, scored on its own fold."""
    folds = kfold_indices(len(X), k, seed)
    scores = []
    for i, val_idx in enumerate(folds):
        train_idx = torch.cat([fold for j, fold in enumerate(folds) if j != i])
        X_train, X_val = X[train_idx], X[val_idx]
        mean = X_train.mean(dim=0)
        std = X_train.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        model = make_model()
        train_fn(model, (X_train - mean) / std, y[train_idx])
        scores.append(float(metric_fn(model, (X_val - mean) / std, y[val_idx])))
    return scores, sum(scores) / len(scores)


def select_hidden_size(sizes, X, y, k, seed):
    """The hidden size whose one-hidden-layer MLP has the best (highest) mean cross-validated accuracy."""
    n_classes = int(y.max()) + 1

    def train(model, X_train, y_train):
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(100):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X_train), y_train).backward()
            optimizer.step()

    def accuracy(model, X_val, y_val):
        with torch.no_grad():
            return (model(X_val).argmax(dim=1) == y_val).float().mean().item()

    best_size, best_score = None, float("-inf")
    for size in sizes:
        def make_model(size=size):
            return nn.Sequential(nn.Linear(X.shape[1], size), nn.ReLU(), nn.Linear(size, n_classes)).to(X.device)

        _, mean_score = cross_validate(make_model, X, y, k, train, accuracy, seed)
        if mean_score > best_score:
            best_size, best_score = size, mean_score
    return best_size
