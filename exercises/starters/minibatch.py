"""Train in mini-batches with `TensorDataset` and `DataLoader`.

| function | what it must do |
| --- | --- |
| `make_loader(X, y, batch_size, shuffle, seed)` | a `torch.utils.data.DataLoader` over a `TensorDataset` of `(X, y)` with that `batch_size`; with `shuffle=True` its order is random but **reproducible from `seed`** (the same seed gives the same order whatever else used torch's random numbers); it keeps **every** sample (no `drop_last`: the last batch may be shorter). |
| `train_epoch(model, loader, loss_fn, optimizer)` | one pass over `loader`: for each `(xb, yb)` batch clear the gradients, compute `loss_fn(model(xb), yb)`, backpropagate and take one optimizer step. Return the **mean loss over samples** as a Python `float`: each batch's loss weighted by its size, so a short last batch counts right. |

`loss_fn` returns the mean loss of a batch (like `nn.MSELoss()` or `nn.CrossEntropyLoss()`);
the loss of a batch is the one computed before its step. The model may come with stale
gradients from earlier work: clear them before each `backward()`.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_loader(X, y, batch_size, shuffle, seed):
    """Return a DataLoader over TensorDataset(X, y) with this batch_size, shuffled when `shuffle`
    (reproducibly from `seed`), keeping every sample."""
    # TODO: your code here
    raise NotImplementedError


def train_epoch(model, loader, loss_fn, optimizer):
    """Do one epoch of mini-batch steps over `loader` and return the mean loss over samples as a float."""
    # TODO: your code here
    raise NotImplementedError
