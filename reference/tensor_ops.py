"""Reference solution: tensor_ops (creating and transforming tensors)."""

import numpy as np
import torch


def to_float_tensor(data):
    """List, nested list or NumPy array -> a new float32 tensor of the same shape."""
    return torch.tensor(np.array(data), dtype=torch.float32)


def column_standardize(x):
    """Each column minus its mean, divided by its population std; constant columns -> 0."""
    mean = x.mean(dim=0, keepdim=True)
    std = x.std(dim=0, correction=0, keepdim=True)
    centered = x - mean
    return torch.where(std == 0, torch.zeros_like(centered),
                       centered / torch.where(std == 0, torch.ones_like(std), std))


def mask_mean(mask):
    """Fraction of True values, as a 0-dim float32 tensor."""
    return mask.to(torch.float32).mean()


def batched_transpose(a):
    """Swap the last two dimensions."""
    return a.transpose(-2, -1)
