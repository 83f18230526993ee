"""Work with shapes, not loops: broadcasting does the repetition for you.

| function | what it must do |
| --- | --- |
| `broadcast_shape(shape_a, shape_b)` | two tuples of ints → their broadcast shape as a tuple, computed **by hand**: no torch or NumPy functions (`torch.Size` to return the shape is fine), so no `torch.broadcast_shapes`, `np.broadcast_shapes`, `broadcast_tensors`, and no tensors or arrays made for the library to broadcast, such as `torch.empty(shape_a) + torch.empty(shape_b)`; raises `ValueError` when the shapes are incompatible. Empty shapes and zero-size dims included. |
| `outer_sum(u, v)` | `(n,)` and `(m,)` → `(n, m)` with `out[i, j] = u[i] + v[j]`. |
| `center_rows(x)` | `(n, d)` → each row minus its own mean (think `keepdim`). |
| `pairwise_sq_dists(a, b)` | `(n, d)` and `(m, d)` → `(n, m)` squared Euclidean distances, **vectorised**: at n = m = 1000, d = 32 it must run within 500× the CPU time of a matrix-product implementation (a double Python loop is far too slow). |

None of these functions may change the tensors it is given (`u`, `v`, `x`, `a`, `b` are the same after
the call): no in-place operations such as `x -= ...` on an argument.
"""

import torch


def broadcast_shape(shape_a, shape_b):
    """Return the broadcast shape of two shapes (tuples of ints) as a tuple, computed by hand.

    Raise ValueError when the shapes cannot be broadcast together.
    """
    # TODO: your code here
    raise NotImplementedError


def outer_sum(u, v):
    """Return the (n, m) tensor out[i, j] = u[i] + v[j] for u of shape (n,) and v of shape (m,)."""
    # TODO: your code here
    raise NotImplementedError


def center_rows(x):
    """Return x (shape (n, d)) with each row's own mean subtracted from that row."""
    # TODO: your code here
    raise NotImplementedError


def pairwise_sq_dists(a, b):
    """Return the (n, m) squared Euclidean distances between the rows of a (n, d) and b (m, d), without loops."""
    # TODO: your code here
    raise NotImplementedError
