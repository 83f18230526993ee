# mutant: the L1 penalty is a Python float (.item()), so backward() is impossible
# expect-fail: l1_penalty.gradient
# expect-hint: cut the autograd graph
def l1_penalty(model, include_bias=False):
    return sum(p.abs().sum().item() for name, p in model.named_parameters() if include_bias or "bias" not in name)
