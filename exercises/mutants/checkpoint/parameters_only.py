# mutant: named_parameters() is saved instead of state_dict(), so BatchNorm's running statistics are lost
# expect-fail: checkpoint.model_round_trip
# expect-hint: buffers
import torch


def save_checkpoint(path, model, optimizer, epoch):
    weights = {name: p.detach() for name, p in model.named_parameters()}
    torch.save({"weights": weights, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def load_checkpoint(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["weights"], strict=False)
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]
