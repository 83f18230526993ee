"""Stop training when the validation loss stops improving, and keep the best weights.

| name | what it must do |
| --- | --- |
| `EarlyStopping(patience=5, min_delta=0.0)` | a class with a method `step(val_loss) -> bool` and an attribute `best_loss`. A call **improves** when `val_loss < best_loss - min_delta` (strictly: by more than `min_delta`); an improvement sets `best_loss = val_loss` and resets the count of calls without improvement. `step` returns `True` once the loss has not improved for `patience` consecutive calls. `best_loss` starts at `float("inf")`. |
| `train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience)` | for each epoch (at most `max_epochs`): `train_step(model)` trains one epoch, `val_loss_fn(model)` returns its validation loss (a float); stop as soon as an `EarlyStopping(patience)` says so. Return the **number of epochs run** (an `int`) and leave `model` with the weights of its **best epoch** (lowest validation loss), buffers included. |

The epoch whose loss triggers the stop counts as run. `train_step` changes the model's
tensors in place, as an optimizer does, so the best state must be a **deep copy**
(`copy.deepcopy(model.state_dict())`), loaded back with `model.load_state_dict(...)`.
"""

import copy
import math

import torch


class EarlyStopping:
    """Early stopping on a validation loss: step(val_loss) is True once the loss has not improved
    by more than min_delta for `patience` consecutive calls; best_loss is the best loss so far."""

    def __init__(self, patience=5, min_delta=0.0):
        # TODO: your code here
        raise NotImplementedError

    def step(self, val_loss):
        """Record one validation loss; return True when training should stop."""
        # TODO: your code here
        raise NotImplementedError


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    """Train with train_step(model) and validate with val_loss_fn(model) once per epoch until an
    EarlyStopping(patience) says stop (or max_epochs); restore the best epoch's weights into model;
    return the number of epochs run."""
    # TODO: your code here
    raise NotImplementedError
