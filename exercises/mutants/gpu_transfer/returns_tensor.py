# mutant: train_step returns the loss tensor instead of a Python float
# expect-fail: train_step.loss
# expect-hint: loss.item()
def train_step(model, batch, loss_fn, optimizer, device):
    model.to(device)
    x, y = batch[0].to(device), batch[1].to(device)
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss
