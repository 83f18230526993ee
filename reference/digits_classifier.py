"""Reference solution: digits_classifier (training a real classifier)."""

import torch
from torch import nn


def train_digits_classifier(X_train, y_train, seed=0):
    """A 64-100-100-10 MLP trained with mini-batch SGD (momentum) and cross-entropy."""
    torch.manual_seed(seed)
    X = torch.as_tensor(X_train, dtype=torch.float32)
    y = torch.as_tensor(y_train, dtype=torch.int64)
    model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(20):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 32):
            batch = order[start:start + 32]
            optimizer.zero_grad()
            loss = loss_fn(model(X[batch]), y[batch])
            loss.backward()
            optimizer.step()
    return model


def predict(model, X):
    """Predicted labels: argmax of the logits, in eval mode, without building a graph."""
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=torch.float32)).argmax(dim=1)
