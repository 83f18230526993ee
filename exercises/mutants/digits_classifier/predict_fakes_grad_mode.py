# mutant: predict builds a graph and replaces torch.is_grad_enabled to hide it
# expect-fail: predict.no_grad
# expect-hint: torch.no_grad()
import torch


def predict(model, X):
    model.eval()
    real = torch.is_grad_enabled
    torch.is_grad_enabled = lambda: False
    try:
        return model(X).argmax(dim=1)
    finally:
        torch.is_grad_enabled = real
