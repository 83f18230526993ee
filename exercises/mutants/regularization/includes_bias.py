# mutant: penalises the biases even with include_bias=False
# expect-fail: l2_penalty.value
# expect-hint: biases must not be penalised
def l2_penalty(model, include_bias=False):
    return sum((p ** 2).sum() for p in model.parameters())
