# mutant: the optimizer's state goes to a second file next to `path`
# expect-fail: checkpoint.only_path
# expect-hint: one file at `path`
import torch


def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "epoch": epoch}, path)
    torch.save(optimizer.state_dict(), str(path) + ".optim")


def load_checkpoint(path, model, optimizer):
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(torch.load(str(path) + ".optim"))
    return checkpoint["epoch"]
