# mutant: make_loader ignores the seed: the order depends on torch's global random state
# expect-fail: make_loader.reproducible
# expect-hint: generator=torch.Generator().manual_seed(seed)
from torch.utils.data import DataLoader, TensorDataset


def make_loader(X, y, batch_size, shuffle, seed):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle)
