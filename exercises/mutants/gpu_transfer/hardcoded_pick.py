# mutant: pick_device always answers "cuda", whatever the machine has
# expect-fail: pick_device.cpu_only
# expect-hint: hard-coded "cuda"
import torch


def pick_device():
    return torch.device("cuda")
