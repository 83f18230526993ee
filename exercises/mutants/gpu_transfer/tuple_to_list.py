# mutant: to_device rebuilds every sequence as a list, so tuples become lists
# expect-fail: to_device.structure
# expect-hint: rebuild a tuple as a tuple
import torch


def to_device(obj, device):
    if torch.is_tensor(obj):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_device(v, device) for v in obj]
    return obj
