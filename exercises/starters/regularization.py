"""Penalise large weights: L1 and L2 regularisation, and SGD's weight decay.

| function | what it must do |
| --- | --- |
| `l2_penalty(model, include_bias=False)` | the sum of the **squared** weights of all the model's parameters, as a differentiable 0-dim tensor (`backward()` must reach the weights). Biases (parameters named `...bias`) count only with `include_bias=True`. |
| `l1_penalty(model, include_bias=False)` | the same with the sum of the **absolute** weights. |
| `regularized_loss(model, loss, l1=0.0, l2=0.0)` | `loss + l1 * l1_penalty(model) + l2 * l2_penalty(model)` (a differentiable tensor). |
| `sgd_weight_decay_equivalent(l2)` | the `weight_decay` that makes plain `torch.optim.SGD` take the same step as adding the explicit term `l2 * ||w||^2` to the loss (a Python float). |

Build the penalties from the parameters themselves: `p.data`, `.detach()`, `.item()` or
NumPy cut the autograd graph, and then no gradient reaches the weights. The grader checks
`sgd_weight_decay_equivalent` by stepping two copies of a model, one with each form.
"""

import torch


def l2_penalty(model, include_bias=False):
    """Return the sum of the squared weights of model (biases only if include_bias) as a differentiable tensor."""
    # TODO: your code here
    raise NotImplementedError


def l1_penalty(model, include_bias=False):
    """Return the sum of the absolute weights of model (biases only if include_bias) as a differentiable tensor."""
    # TODO: your code here
    raise NotImplementedError


def regularized_loss(model, loss, l1=0.0, l2=0.0):
    """Return loss + l1 * l1_penalty(model) + l2 * l2_penalty(model)."""
    # TODO: your code here
    raise NotImplementedError


def sgd_weight_decay_equivalent(l2):
    """Return the SGD weight_decay equivalent to adding l2 * ||w||^2 to the loss."""
    # TODO: your code here
    raise NotImplementedError
