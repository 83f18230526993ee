"""Reference solution: early_stopping (validation-based early stopping)."""

import copy
import math


class EarlyStopping:
    """step(val_loss) is True once the loss has not improved by more than min_delta for `patience` calls."""

    def __init__(self, patience=5, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.counter = 0

    def step(self, val_loss):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.counter = 0
        else:
            self.counter += 1
        return self.counter >= self.patience


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    """Train until early stopping (or max_epochs); restore the best epoch's weights; return the epochs run."""
    stopper = EarlyStopping(patience)
    best_state = copy.deepcopy(model.state_dict())
    epochs = 0
    for epoch in range(1, max_epochs + 1):
        train_step(model)
        val_loss = val_loss_fn(model)
        epochs = epoch
        stop = stopper.step(val_loss)
        if stopper.counter == 0:  # this epoch improved on the best so far
            best_state = copy.deepcopy(model.state_dict())
        if stop:
            break
    model.load_state_dict(best_state)
    return epochs
