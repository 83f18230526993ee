# mutant: nn.Sequential is given the list of layers itself, which raises (the layers must be unpacked)
# expect-fail: build_mlp.layers
# expect-hint: nn.Sequential(*layers)
from torch import nn


def build_mlp(in_features, hidden_sizes, out_features):
    layers = []
    for size in hidden_sizes:
        layers += [nn.Linear(in_features, size), nn.ReLU()]
        in_features = size
    layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(layers)
