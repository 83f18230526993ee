import torch

def broadcast_shape(a, b):
    try:
        return tuple(torch.broadcast_shapes(tuple(a), tuple(b)))
    except RuntimeError as e:
        raise ValueError(str(e))
