# mutant: one model object is created once and trained fold after fold
# expect-fail: cross_validate.fresh_models
# expect-hint: fresh model
import torch


def kfold_indices(n, k, seed):
    return list(torch.tensor_split(torch.randperm(n, generator=torch.Generator().manual_seed(seed)), k))


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    folds = kfold_indices(len(X), k, seed)
    model = make_model()
    scores = []
    for i in range(k):
        train_idx = torch.cat([f for j, f in enumerate(folds) if j != i])
        mean, std = X[train_idx].mean(0), X[train_idx].std(0)
        train_fn(model, (X[train_idx] - mean) / std, y[train_idx])
        scores.append(metric_fn(model, (X[folds[i]] - mean) / std, y[folds[i]]))
    return scores, sum(scores) / k
