"""Reference solution: mlp (building networks)."""

import torch
from torch import nn


def build_mlp(in_features, hidden_sizes, out_features):
    """Linear -> ReLU for each hidden size, then a final Linear (logits, no activation)."""
    layers = []
    previous = in_features
    for size in hidden_sizes:
        layers += [nn.Linear(previous, size), nn.ReLU()]
        previous = size
    layers.append(nn.Linear(previous, out_features))
    return nn.Sequential(*layers)


class TwoLayerNet(nn.Module):
    """layer2(sigmoid(layer1(x))), returning logits."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.layer2(torch.sigmoid(self.layer1(x)))


def count_parameters(model):
    """Number of trainable (requires_grad) parameters, as an int."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
