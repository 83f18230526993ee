# mutant: to_device fills the caller's dict and list in place instead of building new ones
# expect-fail: to_device.structure
# expect-hint: leave the caller's as they were
import torch


def to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        for key in obj:
            obj[key] = to_device(obj[key], device)
        return obj
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            obj[i] = to_device(value, device)
        return obj
    if isinstance(obj, tuple):
        return type(obj)(to_device(v, device) for v in obj)
    return obj
