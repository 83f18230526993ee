# mutant: returns the 0-based index of the last epoch, one less than the number of epochs run
# expect-fail: train_with_early_stopping.epochs
# expect-hint: epoch + 1, not epoch
import copy
import math


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    best, counter, best_state = math.inf, 0, copy.deepcopy(model.state_dict())
    for epoch in range(max_epochs):
        train_step(model)
        loss = val_loss_fn(model)
        if loss < best:
            best, counter, best_state = loss, 0, copy.deepcopy(model.state_dict())
        else:
            counter += 1
        if counter >= patience:
            break
    model.load_state_dict(best_state)
    return epoch
