# mutant: predict forgets model.eval(), so Dropout stays active while predicting
# expect-fail: predict.eval_mode
# expect-hint: model.eval()
import torch


def predict(model, X):
    with torch.no_grad():
        return torch.argmax(model(X), dim=1)
