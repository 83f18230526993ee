"""Exercise 4, mlp: the reference scores full marks, correct solutions in unusual styles get
full marks and chosen mutants get their messages. That every mutant loses points with its
hint is tests/test_verify.py's check."""

from __future__ import annotations

import pytest
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade_jobs,
                      mutant_path, notebook, write_submission)

from grader.verify import read_mutants

EXERCISE = "mlp"

# nn.ModuleList + loop with F.relu; TwoLayerNet with nn.Module.__init__ and its layers also
# inside a Sequential (an alias); count_parameters through named_parameters
ALT_MODULELIST = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-2], sizes[1:-1]))
        self.out = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x):
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)

def build_mlp(in_features, hidden_sizes, out_features):
    return MLP([in_features, *hidden_sizes, out_features])

class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        nn.Module.__init__(self)
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)
        self.net = nn.Sequential(self.layer1, nn.Sigmoid(), self.layer2)

    def forward(self, x):
        return self.net(x)

def count_parameters(model):
    total = 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            total += p.numel()
    return total
'''

# a notebook: an OrderedDict Sequential with in-place ReLUs, super(Class, self), a method
# call sigmoid, a NumPy-based count
ALT_ORDERED_CELLS = [
    "from collections import OrderedDict\nimport numpy as np\nimport torch\nfrom torch import nn",
    '''
def build_mlp(in_features, hidden_sizes, out_features):
    sizes = [in_features] + list(hidden_sizes)
    layers = OrderedDict()
    for k, (i, o) in enumerate(zip(sizes, sizes[1:])):
        layers[f"fc{k}"] = nn.Linear(i, o)
        layers[f"act{k}"] = nn.ReLU(inplace=True)
    layers["logits"] = nn.Linear(sizes[-1], out_features)
    return nn.Sequential(layers)
''',
    '''
class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(TwoLayerNet, self).__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.layer2(self.layer1(x).sigmoid())
''',
    '''
def count_parameters(model):
    return int(np.sum([np.prod(p.shape) for p in model.parameters() if p.requires_grad]))

net = build_mlp(64, [100, 100], 10)
print(net, count_parameters(net))
''',
]

# build_mlp returns something that is not a module; TwoLayerNet forgets layer2's bias
NOT_A_MODULE = '''
import torch
from torch import nn

def build_mlp(in_features, hidden_sizes, out_features):
    return [nn.Linear(in_features, out_features)]

class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, output_size, bias=False)

    def forward(self, x):
        return self.layer2(torch.sigmoid(self.layer1(x)))
'''


# count_parameters returning a NumPy integer (the contract accepts one), right and wrong
NUMPY_COUNT = """
import numpy as np

def count_parameters(model):
    return np.sum([p.numel() for p in model.parameters() if p.requires_grad], dtype=np.int64)
"""
NUMPY_COUNT_ALL = """
import numpy as np

def count_parameters(model):
    return np.int64(sum(p.numel() for p in model.parameters()))
"""
# model.parameters without the call raises: the hint names it
PARAMETERS_NOT_CALLED = """
def count_parameters(model):
    return sum(p.numel() for p in model.parameters if p.requires_grad)
"""


# the mutants the tests below read by name
MUTANTS = ("build_plain_list.py", "net_no_super.py", "count_ignores_frozen.py", "count_state_dict.py")


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above and MUTANTS, graded once for the module."""
    directory = tmp_path_factory.mktemp("mlp")
    jobs = {"alt_modulelist": write_submission(directory, ALT_MODULELIST, "alt_modulelist.py"),
            "alt_ordered": write_submission(directory, notebook(*ALT_ORDERED_CELLS), "alt_ordered.ipynb"),
            "not_a_module": write_submission(directory, NOT_A_MODULE, "not_a_module.py"),
            "numpy_count": write_submission(directory, NUMPY_COUNT, "numpy_count.py"),
            "numpy_count_all": write_submission(directory, NUMPY_COUNT_ALL, "numpy_count_all.py"),
            "parameters_not_called": write_submission(directory, PARAMETERS_NOT_CALLED, "parameters_not_called.py")}
    jobs.update({name: mutant_path(EXERCISE, name) for name in MUTANTS})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    assert all(c["status"] == "passed" for c in ex["checks"])


@pytest.mark.parametrize("name", ["alt_modulelist", "alt_ordered"])
def test_correct_solutions_in_other_styles_get_full_marks(results, name):
    ex = exercise_result(results[name], EXERCISE)
    assert ex["score"] == 10, dump(results[name])


# every mutant losing points on its check with its hint: tests/test_verify.py::test_verify_passes


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ("nn.ModuleList", "log-softmax", "super().__init__()"):
        assert owed in hints, owed


def test_plain_list_model_still_has_the_right_output_shape(results):
    checks = checks_by_id(results["build_plain_list.py"], EXERCISE)
    assert checks["build_mlp.output_shape"]["status"] == "passed"
    assert "got 0" in checks["build_mlp.parameter_count"]["message"]
    assert "nn.ModuleList" in checks["build_mlp.layers"]["hint"]


def test_missing_super_shows_the_error_and_the_students_line(results):
    check = checks_by_id(results["net_no_super.py"], EXERCISE)["TwoLayerNet.structure"]
    assert "cannot assign module before Module.__init__() call" in check["message"]
    assert "self.layer1 = nn.Linear" in check["message"]


def test_frozen_layers_and_buffers(results):
    checks = checks_by_id(results["count_ignores_frozen.py"], EXERCISE)
    assert checks["count_parameters.all_trainable"]["status"] == "passed"
    assert "expected 27" in checks["count_parameters.frozen"]["message"]
    buffers = checks_by_id(results["count_state_dict.py"], EXERCISE)["count_parameters.all_trainable"]
    assert "expected 46" in buffers["message"] and "buffers" in buffers["hint"]


def test_wrong_kinds_of_models_are_explained(results):
    checks = checks_by_id(results["not_a_module"], EXERCISE)
    assert "should return an nn.Module" in checks["build_mlp.layers"]["message"]
    assert checks["build_mlp.forward"]["status"] == "skipped"
    assert "should return an nn.Module" in checks["build_mlp.output_shape"]["message"]
    structure = checks["TwoLayerNet.structure"]
    assert structure["points"] == 0 and "bias=False" in structure["message"], dump(results["not_a_module"])


def test_a_numpy_integer_count_is_an_integer(results):
    checks = checks_by_id(results["numpy_count"], EXERCISE)
    assert checks["count_parameters.all_trainable"]["status"] == "passed", dump(results["numpy_count"])
    assert checks["count_parameters.frozen"]["status"] == "passed"
    frozen = checks_by_id(results["numpy_count_all"], EXERCISE)["count_parameters.frozen"]
    assert frozen["points"] == 0 and "requires_grad" in frozen["hint"], dump(results["numpy_count_all"])


def test_parameters_without_the_call_gets_its_hint(results):
    check = checks_by_id(results["parameters_not_called"], EXERCISE)["count_parameters.all_trainable"]
    assert "not iterable" in check["message"] and "model.parameters()" in (check["hint"] or "")
