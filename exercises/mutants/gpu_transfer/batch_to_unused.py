# mutant: train_step calls x.to(device) and y.to(device) without keeping the results
# expect-fail: train_step.placement
# expect-hint: returns a new tensor
def train_step(model, batch, loss_fn, optimizer, device):
    model.to(device)
    x, y = batch
    x.to(device)
    y.to(device)
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
