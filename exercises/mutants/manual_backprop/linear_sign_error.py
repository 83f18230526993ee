# mutant: linear_mse_grads drops the minus sign of the inner derivative
# expect-fail: linear_mse_grads.values
# expect-hint: sign error
def linear_mse_grads(a, b, x, y):
    r = y - a - b * x
    return 2 * r.mean(), 2 * (r * x).mean()
