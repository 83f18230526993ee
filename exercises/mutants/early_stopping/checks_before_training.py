# mutant: the stop is decided on the previous epoch's loss before training the next, so training stops one epoch late
# expect-fail: train_with_early_stopping.epochs
# expect-hint: one epoch late
import copy
import math


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    best, counter, best_state, stop = math.inf, 0, copy.deepcopy(model.state_dict()), False
    epochs = 0
    while epochs < max_epochs and not stop:
        train_step(model)
        epochs += 1
        stop = counter >= patience
        loss = val_loss_fn(model)
        if loss < best:
            best, counter, best_state = loss, 0, copy.deepcopy(model.state_dict())
        else:
            counter += 1
    model.load_state_dict(best_state)
    return epochs
