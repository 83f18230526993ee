# mutant: the L2 penalty is built from p.data, so no gradient flows back to the weights
# expect-fail: l2_penalty.gradient
# expect-hint: p.data
import torch


def l2_penalty(model, include_bias=False):
    total = torch.tensor(0.0, requires_grad=True)
    for name, p in model.named_parameters():
        if include_bias or "bias" not in name:
            total = total + (p.data ** 2).sum()
    return total
