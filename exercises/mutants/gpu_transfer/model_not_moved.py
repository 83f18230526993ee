# mutant: train_step moves the batch but forgets the model, so they end up on different devices
# expect-fail: train_step.placement
# expect-hint: same device
def train_step(model, batch, loss_fn, optimizer, device):
    x, y = (t.to(device) for t in batch)
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
