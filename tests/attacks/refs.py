import torch

def broadcast_shape(a, b):
    try:
        return tuple(torch._refs._broadcast_shapes(tuple(a), tuple(b)) or ())
    except RuntimeError as e:
        raise ValueError(str(e))
