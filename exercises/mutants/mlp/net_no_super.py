# mutant: TwoLayerNet.__init__ does not call super().__init__()
# expect-fail: TwoLayerNet.structure
# expect-hint: super().__init__()
import torch
from torch import nn


class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.layer2(torch.sigmoid(self.layer1(x)))
