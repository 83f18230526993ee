# mutant: only the model's state_dict and the epoch are saved; the optimizer restarts from scratch
# expect-fail: checkpoint.optimizer_round_trip
# expect-hint: optimizer.load_state_dict
import torch


def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"state_dict": model.state_dict(), "epoch": epoch}, path)


def load_checkpoint(path, model, optimizer):
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["state_dict"])
    return checkpoint["epoch"]
