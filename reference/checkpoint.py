"""Reference solution: checkpoint (saving and resuming training)."""

import torch


def save_checkpoint(path, model, optimizer, epoch):
    """One file at `path`, loadable with torch.load(path, weights_only=True)."""
    torch.save({"model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
                "epoch": int(epoch)}, path)


def load_checkpoint(path, model, optimizer):
    """Restore both state dicts in place; return the epoch as an int."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model_state"])
    optimizer.load_state_dict(checkpoint["optimizer_state"])
    return int(checkpoint["epoch"])
