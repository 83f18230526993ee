# mutant: select_hidden_size picks the size with the lowest mean score
# expect-fail: select_hidden_size.best
# expect-hint: HIGHEST mean
from torch import nn


def select_hidden_size(sizes, X, y, k, seed):
    def train(model, X_train, y_train):
        pass

    def accuracy(model, X_val, y_val):
        return (model(X_val).argmax(1) == y_val).float().mean().item()

    means = {}  # cross_validate: the submission's own (the grader's spy while this runs)
    for h in sizes:
        means[h] = cross_validate(lambda: nn.Sequential(nn.Linear(X.shape[1], h), nn.ReLU(), nn.Linear(h, 3)),
                                  X, y, k, train, accuracy, seed)[1]
    return min(means, key=means.get)
