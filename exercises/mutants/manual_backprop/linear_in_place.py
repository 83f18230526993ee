# mutant: linear_mse_grads computes the residual in the caller's y (y -= ...), changing it in place
# expect-fail: linear_mse_grads.values
# expect-hint: in-place
def linear_mse_grads(a, b, x, y):
    y -= a + b * x
    return -2 * y.mean(), -2 * (y * x).mean()
