"""Reference solution: regularization (L1/L2 penalties and weight decay)."""


def _penalised_parameters(model, include_bias):
    """The parameters a penalty sums over: every weight, and the biases only when asked."""
    return [p for name, p in model.named_parameters() if include_bias or name.rsplit(".", 1)[-1] != "bias"]


def l2_penalty(model, include_bias=False):
    """Sum of the squared weights (a differentiable 0-dim tensor)."""
    return sum(p.pow(2).sum() for p in _penalised_parameters(model, include_bias))


def l1_penalty(model, include_bias=False):
    """Sum of the absolute weights (a differentiable 0-dim tensor)."""
    return sum(p.abs().sum() for p in _penalised_parameters(model, include_bias))


def regularized_loss(model, loss, l1=0.0, l2=0.0):
    """loss + l1 * l1_penalty(model) + l2 * l2_penalty(model)."""
    return loss + l1 * l1_penalty(model) + l2 * l2_penalty(model)


def sgd_weight_decay_equivalent(l2):
    """The weight_decay for plain SGD that takes the same step as the explicit l2 * ||w||^2 term."""
    return 2 * l2
