# mutant: the optimizer state goes to a second file in /dev/shm, outside the working folder
# expect-fail: checkpoint.only_path
# expect-hint: one file at `path`
import torch
def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "epoch": epoch}, path)
    torch.save(optimizer.state_dict(), "/dev/shm/opt.pt")
def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(torch.load("/dev/shm/opt.pt", weights_only=True))
    return ckpt["epoch"]
