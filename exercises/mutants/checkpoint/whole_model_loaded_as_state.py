# mutant: the whole model is saved, and load_checkpoint then hands that model object to load_state_dict (raises)
# expect-fail: checkpoint.model_round_trip
# expect-hint: pickles the whole Python object
import torch


def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def load_checkpoint(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=False)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]
