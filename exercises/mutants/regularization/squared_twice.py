# mutant: squares the squared norm of each layer again (||w||^4)
# expect-fail: l2_penalty.value
# expect-hint: a second time
def l2_penalty(model, include_bias=False):
    return sum((p ** 2).sum() ** 2 for name, p in model.named_parameters() if include_bias or not name.endswith("bias"))
