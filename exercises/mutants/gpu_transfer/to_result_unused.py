# mutant: tensor.to(device) is called but its result is thrown away (tensors are not moved in place)
# expect-fail: to_device.moves_tensors
# expect-hint: returns a new tensor
import torch


def to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        obj.to(device)
        return obj
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_device(v, device) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_device(v, device) for v in obj)
    return obj
