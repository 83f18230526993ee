# mutant: fit_cubic adds the gradient instead of subtracting it (gradient ascent)
# expect-fail: fit_cubic.one_step
# expect-hint: gradient ascent
import torch


def fit_cubic(x, y, lr, steps):
    params = [torch.zeros((), requires_grad=True) for _ in range(4)]
    a, b, c, d = params
    for _ in range(steps):
        loss = ((a + b * x + c * x ** 2 + d * x ** 3 - y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p += lr * p.grad
                p.grad.zero_()
    return torch.tensor([p.item() for p in params])
