# mutant: in-place operations modify the caller's tensor
# expect-fail: column_standardize.input_unchanged
# expect-hint: in-place
import torch


def column_standardize(x):
    std = x.std(dim=0, unbiased=False)
    std[std == 0] = 1
    x -= x.mean(dim=0)
    x /= std
    return x
