# mutant: scores each fold's model on its own training data instead of the held-out fold
# expect-fail: cross_validate.folds
# expect-hint: held-out fold
import torch


def kfold_indices(n, k, seed):
    return list(torch.tensor_split(torch.randperm(n, generator=torch.Generator().manual_seed(seed)), k))


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    folds = kfold_indices(len(X), k, seed)
    scores = []
    for i in range(k):
        train_idx = torch.cat([f for j, f in enumerate(folds) if j != i])
        mean, std = X[train_idx].mean(0), X[train_idx].std(0)
        model = make_model()
        train_fn(model, (X[train_idx] - mean) / std, y[train_idx])
        scores.append(metric_fn(model, (X[train_idx] - mean) / std, y[train_idx]))
    return scores, sum(scores) / k
