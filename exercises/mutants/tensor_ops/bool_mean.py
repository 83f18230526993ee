# mutant: mean() of a bool tensor raises; it must be cast first
# expect-fail: mask_mean.values
# expect-hint: cast first
def mask_mean(mask):
    return mask.mean()
