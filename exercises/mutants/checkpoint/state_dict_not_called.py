# mutant: model.state_dict is saved without calling it (a bound method, which pickles the model)
# expect-fail: checkpoint.weights_only
# expect-hint: is a method: call it
import torch
def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict, "optimizer": optimizer.state_dict(), "epoch": epoch}, path)
def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path, weights_only=False)
    model.load_state_dict(ckpt["model"]())
    optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt["epoch"]
