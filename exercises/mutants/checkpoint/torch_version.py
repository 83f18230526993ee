# mutant: torch.__version__ (a TorchVersion object) is stored as it is, which weights_only loading refuses
# expect-fail: checkpoint.weights_only
# expect-hint: TorchVersion
import torch
def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                "torch_version": torch.__version__}, path)
def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt["epoch"]
