# mutant: train_epoch averages the batch losses over the batches, so the short last batch counts too much
# expect-fail: train_epoch.mean_loss
# expect-hint: weighted
def train_epoch(model, loader, loss_fn, optimizer):
    losses = []
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)
