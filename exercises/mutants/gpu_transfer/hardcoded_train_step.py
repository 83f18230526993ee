# mutant: train_step moves everything to a hard-coded "cuda" instead of `device`
# expect-fail: train_step.placement
# expect-hint: hard-coded "cuda"
def train_step(model, batch, loss_fn, optimizer, device):
    model = model.cuda()
    x, y = batch
    x, y = x.to("cuda"), y.to("cuda")
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
