# mutant: linear_mse_grads sums over the points where the loss averages them
# expect-fail: linear_mse_grads.values
# expect-hint: mean vs sum
def linear_mse_grads(a, b, x, y):
    r = y - a - b * x
    da = -2 * r.sum()
    db = -2 * (r * x).sum()
    return da, db
