# mutant: count_parameters counts frozen parameters too
# expect-fail: count_parameters.frozen
# expect-hint: requires_grad
def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
