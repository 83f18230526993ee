# mutant: torch.chunk makes folds of ceil(n / k), so the last fold is much smaller (or folds are missing)
# expect-fail: kfold_indices.sizes
# expect-hint: tensor_split
import torch


def kfold_indices(n, k, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return list(torch.chunk(perm, k))
