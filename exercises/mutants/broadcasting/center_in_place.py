# mutant: center_rows subtracts the row means in place, changing the caller's tensor
# expect-fail: center_rows.input_unchanged
# expect-hint: in-place
def center_rows(x):
    x -= x.mean(dim=1, keepdim=True)
    return x
