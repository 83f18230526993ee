"""Write four small functions that create and transform tensors.

| function | what it must do |
| --- | --- |
| `to_float_tensor(data)` | a list, nested list or `np.ndarray` of any numeric or bool dtype → a `torch.float32` tensor of the same shape; it must **not share memory** with a NumPy input. |
| `column_standardize(x)` | an `(n, d)` float tensor → each column minus its mean, divided by its **population** std (ddof=0, like `np.std`); constant columns become all zeros, not NaN; `x` itself is left unchanged. |
| `mask_mean(mask)` | a bool tensor of any shape → a 0-dim `float32` tensor: the fraction of `True`. |
| `batched_transpose(a)` | a tensor with ≥ 2 dims → the same tensor with only the **last two** dims swapped. |

A float64 input to `column_standardize` gives a float64 result. None of these functions may change
what it is given: the caller's tensor or NumPy array must be the same after the call (no in-place
operations such as `x -= ...` on an argument).
"""

import numpy as np
import torch


def to_float_tensor(data):
    """Return `data` (list, nested list or NumPy array of any numeric or bool dtype) as a new
    torch.float32 tensor of the same shape that does not share memory with a NumPy input."""
    # TODO: your code here
    raise NotImplementedError


def column_standardize(x):
    """Return (x - column mean) / column population std (ddof=0) for an (n, d) float tensor.

    Constant columns become all zeros (not NaN); x itself must not be modified.
    """
    # TODO: your code here
    raise NotImplementedError


def mask_mean(mask):
    """Return the fraction of True values of a bool tensor, as a 0-dim float32 tensor."""
    # TODO: your code here
    raise NotImplementedError


def batched_transpose(a):
    """Return `a` (at least 2 dims) with its last two dimensions swapped."""
    # TODO: your code here
    raise NotImplementedError
