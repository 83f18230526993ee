# mutant: count_parameters counts the state_dict, buffers included
# expect-fail: count_parameters.all_trainable
# expect-hint: buffers
def count_parameters(model):
    return sum(t.numel() for t in model.state_dict().values())
