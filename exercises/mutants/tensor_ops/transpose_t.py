# mutant: x.t() works only up to 2 dims, so the batched case raises
# expect-fail: batched_transpose.values
# expect-hint: transpose(-2, -1)
def batched_transpose(a):
    return a.t()
