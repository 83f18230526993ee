# mutant: an improvement of exactly min_delta (or an equal loss with min_delta=0) counts (>= instead of >)
# expect-fail: EarlyStopping.min_delta
# expect-hint: use >, not >=
import math


class EarlyStopping:
    def __init__(self, patience=5, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.counter = math.inf, 0

    def step(self, val_loss):
        if self.best_loss - val_loss >= self.min_delta:
            self.best_loss, self.counter = val_loss, 0
        else:
            self.counter += 1
        return self.counter >= self.patience
