# mutant: the labels are passed to CrossEntropyLoss as floats
# expect-fail: train_digits_classifier.returns_model
# expect-hint: int64 (torch.long) labels
import torch
from torch import nn


def train_digits_classifier(X_train, y_train, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    y = y_train.float()
    for epoch in range(10):
        for i in range(0, len(X_train), 64):
            optimizer.zero_grad()
            loss = loss_fn(model(X_train[i:i + 64]), y[i:i + 64])
            loss.backward()
            optimizer.step()
    return model


def predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(dim=1)
