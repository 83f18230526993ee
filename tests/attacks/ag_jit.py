import torch

_cu = torch.jit.CompilationUnit('''
def two_layer(x, W1, b1, W2, b2, y):
    ps = [W1, b1, W2, b2]
    loss = ((torch.sigmoid(x @ W1.t() + b1) @ W2.t() + b2 - y) ** 2).mean()
    return torch.autograd.grad([loss], ps)
''')

def two_layer_backward(x, W1, b1, W2, b2, y):
    ps = [t.detach().requires_grad_(True) for t in (W1, b1, W2, b2)]
    with torch.enable_grad():
        g = _cu.two_layer(x, *ps, y)
    return dict(zip(("W1", "b1", "W2", "b2"), g))
