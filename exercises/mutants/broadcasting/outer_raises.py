# mutant: u + v of two 1-D tensors: shapes (n,) and (m,) do not broadcast (raises for n != m)
# expect-fail: outer_sum.values
# expect-hint: (n,) vs (n, 1)
def outer_sum(u, v):
    return u + v
