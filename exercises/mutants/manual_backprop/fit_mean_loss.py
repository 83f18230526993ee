# mutant: fit_cubic minimises the mean squared error where the sum was due
# expect-fail: fit_cubic.one_step
# expect-hint: SUM of squared errors
import torch


def fit_cubic(x, y, lr, steps):
    w = torch.zeros(4, requires_grad=True)
    for _ in range(steps):
        y_pred = w[0] + w[1] * x + w[2] * x ** 2 + w[3] * x ** 3
        loss = torch.mean((y_pred - y) ** 2)
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad = None
    return w.detach()
