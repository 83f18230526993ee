# mutant: step() waits for patience + 1 calls without improvement (counter > patience)
# expect-fail: EarlyStopping.patience
# expect-hint: one call late
import math


class EarlyStopping:
    def __init__(self, patience=5, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.counter = math.inf, 0

    def step(self, val_loss):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.counter = val_loss, 0
        else:
            self.counter += 1
        return self.counter > self.patience
