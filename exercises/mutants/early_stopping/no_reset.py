# mutant: the counter of calls without improvement is never reset when the loss improves
# expect-fail: EarlyStopping.reset
# expect-hint: go back to 0
import math


class EarlyStopping:
    def __init__(self, patience=5, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.counter = math.inf, 0

    def step(self, val_loss):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
        else:
            self.counter += 1
        return self.counter >= self.patience
