"""Train a real classifier on scikit-learn's handwritten digits (8×8 images, 10 classes).

| function | what it must do |
| --- | --- |
| `train_digits_classifier(X_train, y_train, seed=0)` | `X_train`: float32 `(N, 64)`, already standardized; `y_train`: int64 `(N,)` labels 0–9. Train a model and return an `nn.Module` mapping `(B, 64)` to `(B, 10)` **logits**. |
| `predict(model, X)` | int64 `(B,)` predicted labels: the argmax of the logits, computed in **eval mode** without building a graph (`torch.no_grad()`). |

The grader splits the data itself, trains through your function under a time limit (60 s
of CPU time on one thread, whatever else runs on the machine; a 64-100-100-10 MLP with SGD
trains in about 2 s) and measures the accuracy on held-out digits: ≥ 0.95 earns full points
for that check, ≥ 0.90 70 %, ≥ 0.80 40 %. To try it yourself: `sklearn.datasets.load_digits()`.
Neither function may change the tensors it is given (`X_train`, `y_train`, `X`): compute new
tensors rather than changing those in place.
"""

import torch
from torch import nn


def train_digits_classifier(X_train, y_train, seed=0):
    """Train and return an nn.Module mapping (B, 64) float32 inputs to (B, 10) logits.

    X_train: float32 tensor (N, 64), standardized; y_train: int64 tensor (N,) of labels 0-9.
    Seed torch with `seed` so that training is reproducible.
    """
    # TODO: your code here
    raise NotImplementedError


def predict(model, X):
    """Return the int64 (B,) predicted labels of model on X: argmax of the logits, in eval mode, without a graph."""
    # TODO: your code here
    raise NotImplementedError
