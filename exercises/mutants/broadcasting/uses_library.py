# mutant: calls torch.broadcast_shapes instead of computing the shape by hand
# expect-fail: broadcast_shape.values
# expect-hint: by hand
import torch


def broadcast_shape(shape_a, shape_b):
    try:
        return tuple(torch.broadcast_shapes(shape_a, shape_b))
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
