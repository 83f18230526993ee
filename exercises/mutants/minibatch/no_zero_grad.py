# mutant: train_epoch never clears the gradients, so each step also uses the earlier (and stale) ones
# expect-fail: train_epoch.steps
# expect-hint: zero_grad
def train_epoch(model, loader, loss_fn, optimizer):
    total, count = 0.0, 0
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
