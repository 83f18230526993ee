import numpy as np

try:                                   # an import inside a block: not read as a top-level alias
    from numpy import broadcast as shape_of
except ImportError:
    shape_of = None


def broadcast_shape(a, b):
    return tuple(int(d) for d in shape_of(np.empty(tuple(a)), np.empty(tuple(b))).shape)
