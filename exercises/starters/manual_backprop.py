"""Compute gradients by hand, then let autograd do it for you.

| function | what it must do |
| --- | --- |
| `linear_mse_grads(a, b, x, y)` | scalars `a`, `b` (0-dim tensors), 1-D `x`, `y` → `(da, db)`: the gradient of `mean((y - a - b*x)**2)` by the analytic formula, **without autograd** (no `.backward`, no `torch.autograd`, no `.grad_fn`, no `requires_grad`). |
| `two_layer_backward(x, W1, b1, W2, b2, y)` | `h = sigmoid(x @ W1.T + b1)`, `yhat = h @ W2.T + b2`, `loss = mean((yhat - y)**2)` over all elements → a dict with keys `"W1"`, `"b1"`, `"W2"`, `"b2"`, each the gradient of `loss`, same shape as its parameter, **by hand** (no autograd: no `.backward`, no `torch.autograd`, forward-mode dual numbers included, no `.grad_fn` graph walking, no `requires_grad`). |
| `fit_cubic(x, y, lr, steps)` | fit `yhat = a + b x + c x² + d x³` by plain gradient descent **with autograd**: parameters start at 0, the loss is the **sum** of squared errors, each step `θ ← θ - lr * ∂L/∂θ` under `torch.no_grad()`, gradients cleared every step. Returns the tensor `[a, b, c, d]`. |

None of these functions may change the tensors it is given (`a`, `b`, `x`, `y`, the weights): compute new
tensors (`r = y - a - b * x`), not in place (`y -= ...`).
"""

import torch


def linear_mse_grads(a, b, x, y):
    """Return (da, db), the gradient of mean((y - a - b*x)**2) with respect to the scalars a and b,
    by the analytic formula (no autograd)."""
    # TODO: your code here
    raise NotImplementedError


def two_layer_backward(x, W1, b1, W2, b2, y):
    """Return {"W1": ..., "b1": ..., "W2": ..., "b2": ...}: the gradients, by hand (no autograd), of
    loss = mean((yhat - y)**2) where h = sigmoid(x @ W1.T + b1) and yhat = h @ W2.T + b2.

    Each gradient has the same shape as its parameter.
    """
    # TODO: your code here
    raise NotImplementedError


def fit_cubic(x, y, lr, steps):
    """Fit yhat = a + b*x + c*x**2 + d*x**3 to (x, y) by `steps` steps of plain gradient descent with
    autograd (parameters start at 0, loss = sum of squared errors, update under torch.no_grad(),
    gradients cleared every step) and return the tensor [a, b, c, d]."""
    # TODO: your code here
    raise NotImplementedError
