# mutant: TwoLayerNet returns probabilities (softmax) instead of logits
# expect-fail: TwoLayerNet.forward
# expect-hint: log-softmax
import torch
from torch import nn


class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return torch.softmax(self.layer2(torch.sigmoid(self.layer1(x))), dim=1)
