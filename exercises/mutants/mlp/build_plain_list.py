# mutant: build_mlp keeps its layers in a plain Python list, so they are not registered
# expect-fail: build_mlp.parameter_count
# expect-hint: nn.ModuleList
import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


def build_mlp(in_features, hidden_sizes, out_features):
    return MLP([in_features, *hidden_sizes, out_features])
