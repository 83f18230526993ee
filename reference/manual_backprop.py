"""Reference solution: manual_backprop (gradients by hand)."""

import torch


def linear_mse_grads(a, b, x, y):
    """Gradient of mean((y - a - b*x)**2) with respect to a and b, by the analytic formula."""
    residual = y - a - b * x
    da = -2 * residual.mean()
    db = -2 * (residual * x).mean()
    return da, db


def two_layer_backward(x, W1, b1, W2, b2, y):
    """Gradients of mean((sigmoid(x @ W1.T + b1) @ W2.T + b2 - y)**2), by hand."""
    h = torch.sigmoid(x @ W1.T + b1)
    yhat = h @ W2.T + b2
    d_yhat = 2 * (yhat - y) / yhat.numel()
    d_W2 = d_yhat.T @ h
    d_b2 = d_yhat.sum(dim=0)
    d_h = d_yhat @ W2
    d_z = d_h * h * (1 - h)
    d_W1 = d_z.T @ x
    d_b1 = d_z.sum(dim=0)
    return {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2}


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
