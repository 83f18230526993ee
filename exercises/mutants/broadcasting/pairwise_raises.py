# mutant: a - b pairs row i with row i only (raises for n != m)
# expect-fail: pairwise_sq_dists.values
# expect-hint: (n,) vs (n, 1)
def pairwise_sq_dists(a, b):
    return ((a - b) ** 2).sum(dim=-1)
