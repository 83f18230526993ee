# mutant: standardises with the mean and std of the whole data set before splitting it
# expect-fail: cross_validate.normalisation
# expect-hint: whole data set
import torch


def kfold_indices(n, k, seed):
    return list(torch.tensor_split(torch.randperm(n, generator=torch.Generator().manual_seed(seed)), k))


def cross_validate(make_model, X, y, k, train_fn, metric_fn, seed):
    X = (X - X.mean(0)) / X.std(0)
    folds = kfold_indices(len(X), k, seed)
    scores = []
    for i in range(k):
        train_idx = torch.cat([f for j, f in enumerate(folds) if j != i])
        model = make_model()
        train_fn(model, X[train_idx], y[train_idx])
        scores.append(metric_fn(model, X[folds[i]], y[folds[i]]))
    return scores, sum(scores) / k
