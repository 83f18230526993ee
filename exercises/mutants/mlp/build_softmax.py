# mutant: build_mlp ends with a softmax (before CrossEntropyLoss)
# expect-fail: build_mlp.forward
# expect-hint: log-softmax
from torch import nn


def build_mlp(in_features, hidden_sizes, out_features):
    layers = []
    for size in hidden_sizes:
        layers += [nn.Linear(in_features, size), nn.ReLU()]
        in_features = size
    layers += [nn.Linear(in_features, out_features), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)
