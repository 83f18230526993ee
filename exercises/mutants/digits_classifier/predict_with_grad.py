# mutant: predict builds an autograd graph (no torch.no_grad())
# expect-fail: predict.no_grad
# expect-hint: torch.no_grad()
def predict(model, X):
    model.eval()
    return model(X).argmax(dim=1)
