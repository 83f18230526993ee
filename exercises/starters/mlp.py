"""Build networks from `torch.nn` building blocks.

| name | what it must do |
| --- | --- |
| `build_mlp(in_features, hidden_sizes, out_features)` | an `nn.Module` (e.g. `nn.Sequential`): `Linear → ReLU` for each hidden size, then a final `Linear` with **no activation** (it returns logits). |
| `TwoLayerNet(input_size, hidden_size, output_size)` | an `nn.Module` subclass with attributes `layer1`, `layer2` (both `nn.Linear`) and `forward(x) = layer2(sigmoid(layer1(x)))`, returning logits. |
| `count_parameters(model)` | the number of trainable (`requires_grad`) parameters of `model`, as an `int` (a NumPy integer such as `np.int64` counts as one; a tensor does not). |

`count_parameters` only reads the model: it must leave it (and its `requires_grad` flags) as it was.
"""

import torch
from torch import nn


def build_mlp(in_features, hidden_sizes, out_features):
    """Return an nn.Module: Linear -> ReLU for each size in hidden_sizes, then a final Linear
    to out_features with no activation (logits)."""
    # TODO: your code here
    raise NotImplementedError


class TwoLayerNet(nn.Module):
    """layer1 = nn.Linear(input_size, hidden_size), layer2 = nn.Linear(hidden_size, output_size);
    forward(x) = layer2(sigmoid(layer1(x))), returning logits."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        # TODO: create self.layer1 and self.layer2
        raise NotImplementedError

    def forward(self, x):
        """Return layer2(sigmoid(layer1(x)))."""
        # TODO: your code here
        raise NotImplementedError


def count_parameters(model):
    """Return the number of trainable (requires_grad) parameters of model, as an int."""
    # TODO: your code here
    raise NotImplementedError
