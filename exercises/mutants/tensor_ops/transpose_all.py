# mutant: .T / permute reverses every dimension instead of the last two
# expect-fail: batched_transpose.values
# expect-hint: transpose(-2, -1)
def batched_transpose(a):
    return a.permute(*reversed(range(a.dim())))
