# mutant: fit_cubic never clears the gradients, so they accumulate from step to step
# expect-fail: fit_cubic.values
# expect-hint: accumulate
import torch


def fit_cubic(x, y, lr, steps):
    a = torch.zeros((), requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    c = torch.zeros((), requires_grad=True)
    d = torch.zeros((), requires_grad=True)
    for _ in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
            c -= lr * c.grad
            d -= lr * d.grad
    return torch.stack([a, b, c, d]).detach()
