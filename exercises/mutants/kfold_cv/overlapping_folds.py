# mutant: draws the fold indices with replacement, so some repeat and others are missing
# expect-fail: kfold_indices.partition
# expect-hint: every index in exactly one fold
import torch


def kfold_indices(n, k, seed):
    g = torch.Generator().manual_seed(seed)
    return list(torch.tensor_split(torch.randint(0, n, (n,), generator=g), k))
