# mutant: one example at a time for hundreds of epochs: training runs out of time
# expect-fail: train_digits_classifier.returns_model
# expect-hint: training ran out of time
# probe-seconds: 8
import torch
from torch import nn


def train_digits_classifier(X_train, y_train, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(500):
        for i in range(len(X_train)):
            optimizer.zero_grad()
            loss = loss_fn(model(X_train[i:i + 1]), y_train[i:i + 1])
            loss.backward()
            optimizer.step()
    return model


def predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(dim=1)
