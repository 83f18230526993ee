# mutant: torch.std is unbiased by default (n - 1)
# expect-fail: column_standardize.population_std
# expect-hint: unbiased
import torch


def column_standardize(x):
    return (x - x.mean(dim=0)) / x.std(dim=0)
