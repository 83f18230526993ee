import torch

def broadcast_shape(a, b):
    try:
        return tuple(torch._C._VariableFunctions.broadcast_tensors([torch.empty(tuple(a)), torch.empty(tuple(b))])[0].shape)
    except RuntimeError as e:
        raise ValueError(str(e))
