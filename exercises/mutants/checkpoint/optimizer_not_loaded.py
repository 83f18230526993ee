# mutant: the optimizer state_dict is saved but load_checkpoint never restores it
# expect-fail: checkpoint.optimizer_round_trip
# expect-hint: does not restore it into the optimizer
import torch
def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, path)
def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    return ckpt["epoch"]
