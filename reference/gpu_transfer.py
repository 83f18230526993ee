"""Reference solution: gpu_transfer (device-agnostic code)."""

import torch


def pick_device():
    """CUDA when available, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def to_device(obj, device):
    """Tensors anywhere inside nested dicts, lists and tuples moved to `device`; the rest kept."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((key, to_device(value, device)) for key, value in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple
        return type(obj)(*(to_device(value, device) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(value, device) for value in obj)
    return obj


def train_step(model, batch, loss_fn, optimizer, device):
    """Move the model and the (x, y) batch to `device`, take one step, return the loss."""
    model.to(device)
    x, y = batch
    x, y = x.to(device), y.to(device)
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
