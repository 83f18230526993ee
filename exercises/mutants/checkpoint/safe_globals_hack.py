# mutant: pickles the whole model and extends torch.serialization's safe globals so its own weights_only load works
# expect-fail: checkpoint.weights_only
# expect-hint: pickles the whole Python object
import torch
from torch import nn

torch.serialization.add_safe_globals([nn.Sequential, nn.Linear, nn.BatchNorm1d, nn.Tanh, set])


def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def load_checkpoint(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"].state_dict())
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]
