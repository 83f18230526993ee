# mutant: two_layer_backward multiplies by W2.T on the way back, so the shapes do not fit (raises)
# expect-fail: two_layer_backward.shapes
# expect-hint: follow the shapes backwards
import torch


def two_layer_backward(x, W1, b1, W2, b2, y):
    h = torch.sigmoid(x @ W1.T + b1)
    yhat = h @ W2.T + b2
    d_yhat = 2 * (yhat - y) / yhat.numel()
    d_h = d_yhat @ W2.T
    d_z = d_h * h * (1 - h)
    return {"W1": d_z.T @ x, "b1": d_z.sum(0), "W2": d_yhat.T @ h, "b2": d_yhat.sum(0)}
