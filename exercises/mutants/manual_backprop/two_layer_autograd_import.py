# mutant: two_layer_backward calls autograd through a name imported before grading
# expect-fail: two_layer_backward.shapes
# expect-hint: by hand
import torch
from torch.autograd import grad


def two_layer_backward(x, W1, b1, W2, b2, y):
    params = [p.detach().clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    h = torch.sigmoid(x @ params[0].T + params[1])
    loss = ((h @ params[2].T + params[3] - y) ** 2).mean()
    return dict(zip(["W1", "b1", "W2", "b2"], grad(loss, params)))
