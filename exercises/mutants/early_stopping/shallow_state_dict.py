# mutant: keeps model.state_dict() itself as the best state: its tensors are the live ones, so it ends as the last
# expect-fail: train_with_early_stopping.best_weights
# expect-hint: deep copy
import math


def train_with_early_stopping(model, train_step, val_loss_fn, max_epochs, patience):
    best, counter, best_state, epochs = math.inf, 0, None, 0
    for epoch in range(1, max_epochs + 1):
        train_step(model)
        epochs = epoch
        loss = val_loss_fn(model)
        if loss < best:
            best, counter, best_state = loss, 0, model.state_dict()
        else:
            counter += 1
            if counter >= patience:
                break
    model.load_state_dict(best_state)
    return epochs
