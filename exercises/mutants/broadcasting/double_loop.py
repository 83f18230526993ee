# mutant: a double Python loop where broadcasting was due (correct but far too slow)
# expect-fail: pairwise_sq_dists.speed
# expect-hint: a loop where broadcasting was due
import torch


def pairwise_sq_dists(a, b):
    out = torch.empty(a.shape[0], b.shape[0])
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = ((a[i] - b[j]) ** 2).sum()
    return out
