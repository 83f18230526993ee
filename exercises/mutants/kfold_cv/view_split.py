# mutant: reshapes the permutation to (k, -1), which raises when k does not divide n
# expect-fail: kfold_indices.partition
# expect-hint: tensor_split
import torch


def kfold_indices(n, k, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return list(perm.view(k, -1))
