# mutant: every fold has n // k indices, so the n % k left over are in no fold
# expect-fail: kfold_indices.partition
# expect-hint: none left out
import torch


def kfold_indices(n, k, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    size = n // k
    return [perm[i * size:(i + 1) * size] for i in range(k)]
