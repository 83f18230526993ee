# mutant: the row means are not kept as a column (no keepdim)
# expect-fail: center_rows.values
# expect-hint: keepdim=True
def center_rows(x):
    return x - x.mean(dim=1)
