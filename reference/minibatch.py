"""Reference solution: minibatch (mini-batch training with TensorDataset and DataLoader)."""

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_loader(X, y, batch_size, shuffle, seed):
    """A DataLoader over TensorDataset(X, y) whose shuffling is reproducible from `seed`; keeps every sample."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, generator=generator)


def train_epoch(model, loader, loss_fn, optimizer):
    """One pass of mini-batch steps; returns the mean loss over samples as a Python float."""
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
