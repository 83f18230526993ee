# mutant: torch.outer multiplies (u[i] * v[j]) where the sum was due
# expect-fail: outer_sum.values
# expect-hint: multiplies
import torch


def outer_sum(u, v):
    return torch.outer(u, v)
