# mutant: two_layer_backward returns per-example bias gradients (no sum over the batch)
# expect-fail: two_layer_backward.shapes
# expect-hint: sum the per-example terms over the batch
import torch


def two_layer_backward(x, W1, b1, W2, b2, y):
    h = torch.sigmoid(x @ W1.T + b1)
    yhat = h @ W2.T + b2
    dyhat = 2 * (yhat - y) / yhat.numel()
    dz = (dyhat @ W2) * h * (1 - h)
    return {"W1": dz.T @ x, "b1": dz, "W2": dyhat.T @ h, "b2": dyhat}
