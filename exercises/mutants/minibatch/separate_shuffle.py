# mutant: make_loader shuffles X and y with two different permutations, so labels leave their inputs
# expect-fail: make_loader.shuffled
# expect-hint: shuffled separately
import torch
from torch.utils.data import DataLoader, TensorDataset


def make_loader(X, y, batch_size, shuffle, seed):
    if shuffle:
        g = torch.Generator().manual_seed(seed)
        X = X[torch.randperm(len(X), generator=g)]
        y = y[torch.randperm(len(y), generator=g)]
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)
