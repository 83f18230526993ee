# mutant: the model ends with Softmax, and CrossEntropyLoss applies log-softmax again
# expect-fail: train_digits_classifier.logits
# expect-hint: softmax before CrossEntropyLoss
import torch
from torch import nn


def train_digits_classifier(X_train, y_train, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                          nn.Linear(100, 10), nn.Softmax(dim=1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(10):
        perm = torch.randperm(len(X_train))
        for i in range(0, len(X_train), 32):
            idx = perm[i:i + 32]
            optimizer.zero_grad()
            loss_fn(model(X_train[idx]), y_train[idx]).backward()
            optimizer.step()
    return model


def predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(dim=1)
