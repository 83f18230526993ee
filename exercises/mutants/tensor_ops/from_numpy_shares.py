# mutant: torch.from_numpy shares memory with the caller's array
# expect-fail: to_float_tensor.copies_numpy
# expect-hint: share memory
import numpy as np
import torch


def to_float_tensor(data):
    array = np.asarray(data)
    if array.dtype == np.float32:
        return torch.from_numpy(array)
    return torch.from_numpy(array.astype(np.float32))
