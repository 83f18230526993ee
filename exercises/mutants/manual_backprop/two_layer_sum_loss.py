# mutant: two_layer_backward differentiates the summed squared error, not the mean
# expect-fail: two_layer_backward.values
# expect-hint: summed instead of averaged
import torch


def two_layer_backward(x, W1, b1, W2, b2, y):
    h = torch.sigmoid(x @ W1.T + b1)
    yhat = h @ W2.T + b2
    dyhat = 2 * (yhat - y)
    dz = (dyhat @ W2) * h * (1 - h)
    return {"W1": dz.T @ x, "b1": dz.sum(0), "W2": dyhat.T @ h, "b2": dyhat.sum(0)}
