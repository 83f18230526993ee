# mutant: the labels reach CrossEntropyLoss with shape (N, 1) instead of (N,)
# expect-fail: train_digits_classifier.returns_model
# expect-hint: not (N, 1)
import torch
from torch import nn


def train_digits_classifier(X_train, y_train, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    targets = y_train.reshape(-1, 1)  # "one label per row"
    for epoch in range(20):
        optimizer.zero_grad()
        loss = criterion(model(X_train), targets)
        loss.backward()
        optimizer.step()
    return model


def predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(dim=1)
