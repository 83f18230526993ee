# mutant: a constant column divides 0 by 0 and becomes NaN
# expect-fail: column_standardize.constant_columns
# expect-hint: std 0
def column_standardize(x):
    return (x - x.mean(dim=0)) / x.std(dim=0, unbiased=False)
