import functools

import torch


@functools.lru_cache(maxsize=None)
def _padded(shape, n):
    return (1,) * (n - len(shape)) + tuple(shape)


@functools.lru_cache(maxsize=None)
def broadcast_shape(shape_a, shape_b):
    n = max(len(shape_a), len(shape_b))
    out = []
    for x, y in zip(_padded(tuple(shape_a), n), _padded(tuple(shape_b), n)):
        if x != y and 1 not in (x, y):
            raise ValueError(f"{shape_a} and {shape_b} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


class _Ops:
    @staticmethod
    def outer(u, v):
        return u.unsqueeze(1) + v.unsqueeze(0)


outer_sum = _Ops.outer


def center_rows(x):
    x = x.clone()
    x -= x.mean(dim=1, keepdim=True)
    return x


@torch.no_grad()
def pairwise_sq_dists(a, b):
    return torch.cdist(a, b) ** 2
