# mutant: train_step never clears the gradients, so those of an earlier batch change the step
# expect-fail: train_step.zero_grad
# expect-hint: optimizer.zero_grad()
def train_step(model, batch, loss_fn, optimizer, device):
    model.to(device)
    x, y = batch
    x, y = x.to(device), y.to(device)
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
