# mutant: count_parameters returns a tensor instead of an int
# expect-fail: count_parameters.all_trainable
# expect-hint: Python int
import torch


def count_parameters(model):
    return torch.stack([torch.tensor(p.numel()) for p in model.parameters() if p.requires_grad]).sum()
