# mutant: TwoLayerNet uses a ReLU where the sigmoid was due
# expect-fail: TwoLayerNet.forward
# expect-hint: torch.sigmoid(layer1(x))
import torch
from torch import nn


class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.layer2(torch.relu(self.layer1(x)))
