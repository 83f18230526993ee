import torch


def sigmoid(z, mode="forward", out=None):
    """cs231n-style: one helper for both directions."""
    if mode == "forward":
        return torch.sigmoid(z)
    return z * out * (1 - out)          # mode == "backward": upstream * s * (1 - s)


def linear_mse_grads(a, b, x, y):
    residual = y - a - b * x
    return -2 * residual.mean(), -2 * (residual * x).mean()


def two_layer_backward(x, W1, b1, W2, b2, y):
    h = sigmoid(x @ W1.T + b1)
    yhat = h @ W2.T + b2
    d_yhat = 2 * (yhat - y) / yhat.numel()
    d_z = sigmoid(d_yhat @ W2, "backward", out=h)
    return {"W1": d_z.T @ x, "b1": d_z.sum(dim=0), "W2": d_yhat.T @ h, "b2": d_yhat.sum(dim=0)}


def fit_cubic(x, y, lr, steps):
    """Fit y ~ a + b x + c x^2 + d x^3 by plain gradient descent on the sum of squared errors."""
    a, b, c, d = (torch.zeros((), dtype=x.dtype, device=x.device, requires_grad=True) for _ in range(4))
    params = (a, b, c, d)
    for _ in range(steps):
        yhat = a + b * x + c * x ** 2 + d * x ** 3
        loss = ((yhat - y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    return torch.stack([p.detach() for p in params])
