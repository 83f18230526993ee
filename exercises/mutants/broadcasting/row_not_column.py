# mutant: (n,) vs (n, 1) confusion: u is not turned into a column
# expect-fail: outer_sum.values
# expect-hint: (n,) vs (n, 1)
def outer_sum(u, v):
    return u + v[:, None]
