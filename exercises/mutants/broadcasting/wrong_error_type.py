# mutant: incompatible shapes raise AssertionError instead of ValueError
# expect-fail: broadcast_shape.incompatible
def broadcast_shape(shape_a, shape_b):
    a, b = list(shape_a), list(shape_b)
    n = max(len(a), len(b))
    a = [1] * (n - len(a)) + a
    b = [1] * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        assert x == y or x == 1 or y == 1, "incompatible"
        out.append(y if x == 1 else x)
    return tuple(out)
