# mutant: torch.tensor keeps the NumPy dtype (float64, int64) instead of float32
# expect-fail: to_float_tensor.values
# expect-hint: float32
import torch


def to_float_tensor(data):
    return torch.tensor(data)
