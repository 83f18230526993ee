# mutant: adds the layers' norms ||w|| without squaring them
# expect-fail: l2_penalty.value
# expect-hint: without squaring them
def l2_penalty(model, include_bias=False):
    return sum(p.norm() for name, p in model.named_parameters() if include_bias or not name.endswith("bias"))
