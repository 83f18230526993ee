# mutant: build_mlp puts a ReLU after the last Linear too
# expect-fail: build_mlp.forward
# expect-hint: no activation after it
from torch import nn


def build_mlp(in_features, hidden_sizes, out_features):
    sizes = [in_features, *hidden_sizes, out_features]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)
