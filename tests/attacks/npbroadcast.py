import numpy as np

def broadcast_shape(a, b):
    try:
        return tuple(int(d) for d in np.broadcast(np.empty(tuple(a)), np.empty(tuple(b))).shape)
    except ValueError as e:
        raise ValueError(str(e))
