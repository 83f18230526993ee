# mutant: linear_mse_grads uses autograd (.backward) instead of the analytic formula
# expect-fail: linear_mse_grads.values
# expect-hint: by hand
def linear_mse_grads(a, b, x, y):
    a = a.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    loss = ((y - a - b * x) ** 2).mean()
    loss.backward()
    return a.grad, b.grad
