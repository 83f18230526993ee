"""Exercise 7, gpu_transfer: the reference scores full marks on a CPU-only machine (device
logic checked with a simulated torch.cuda.is_available() and the meta device), correct
solutions in unusual styles get full marks, chosen mutants get their messages, and on a
CUDA machine every check also runs on the real GPU. That every mutant loses points with
its hint is tests/test_verify.py's check."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade,
                      grade_jobs, mutant_path, notebook, write_submission)

from grader.verify import read_mutants

EXERCISE = "gpu_transfer"
REPO = Path(__file__).resolve().parent.parent

# device_count() instead of is_available(), "cuda:0", functools.singledispatch, float(loss)
ALT_DISPATCH = '''
from functools import singledispatch

import torch


def pick_device():
    return torch.device("cuda:0") if torch.cuda.device_count() > 0 else torch.device("cpu")


@singledispatch
def _move(obj, device):
    return obj


@_move.register
def _(obj: torch.Tensor, device):
    return obj.to(device, non_blocking=True)


@_move.register
def _(obj: dict, device):
    return obj.__class__((k, _move(v, device)) for k, v in obj.items())


@_move.register
def _(obj: list, device):
    return [_move(v, device) for v in obj]


@_move.register
def _(obj: tuple, device):
    items = [_move(v, device) for v in obj]
    return obj.__class__(*items) if hasattr(obj, "_fields") else obj.__class__(items)


def to_device(obj, device):
    return _move(obj, device)


def train_step(model, batch, loss_fn, optimizer, device):
    model = model.to(device=device)
    inputs, targets = to_device(tuple(batch), device)
    model.train()
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
'''

# a notebook: is_available imported by name, torch's pytree, map over the batch
ALT_NOTEBOOK_CELLS = [
    "import torch\nfrom torch.cuda import is_available\nfrom torch.utils import _pytree as pytree",
    '''
def pick_device():
    if is_available():
        return torch.device("cuda")
    return torch.device("cpu")

DEVICE = pick_device()
print("training on", DEVICE)
''',
    '''
def to_device(obj, device):
    return pytree.tree_map(lambda t: t.to(device) if isinstance(t, torch.Tensor) else t, obj)
''',
    '''
def train_step(model, batch, loss_fn, optimizer, device):
    model.to(device)
    x, y = map(lambda t: t.to(device), batch)
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
''',
]

# asks the GPU for its name and more when CUDA is "available", through names imported before
# the probe too: harmless queries work under the simulation
PROBING_PICK = '''
import torch
import torch.cuda as tc
from torch.cuda import get_device_name as gpu_name, is_available as cuda_ok

def pick_device():
    if cuda_ok():
        props = torch.cuda.get_device_properties(0)
        print("using", gpu_name(0), props.total_memory // 2**20, "MiB", tc.get_device_capability(),
              torch.cuda.current_device(), torch.cuda.device_count(), torch.cuda.is_initialized())
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.manual_seed(0)
        print(torch.cuda.memory_allocated(), torch.cuda.mem_get_info())
        return torch.device("cuda")
    return torch.device("cpu")
'''

# allocates on the GPU when CUDA is "available": raises under the simulation, and the
# simulation must still be undone for the other calls
ALLOCATING_PICK = '''
import torch

def pick_device():
    if torch.cuda.is_available():
        torch.zeros(1).cuda()
        return torch.device("cuda")
    return torch.device("cpu")
'''

# fills the caller's dict and list in place (the tensors are moved right)
IN_PLACE_TO_DEVICE = '''
import torch

def to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (dict, list)):
        for key in (obj if isinstance(obj, dict) else range(len(obj))):
            obj[key] = to_device(obj[key], device)
        return obj
    if isinstance(obj, tuple):
        items = [to_device(v, device) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    return obj
'''

# a string instead of a torch.device
STRING_PICK = '''
import torch

def pick_device():
    return "cuda" if torch.cuda.is_available() else "cpu"
'''


# the mutants the tests below read by name
MUTANTS = ("hardcoded_train_step.py", "tuple_to_list.py", "no_zero_grad.py")


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above and MUTANTS, graded once for the module."""
    directory = tmp_path_factory.mktemp("gpu_transfer")
    jobs = {"alt_dispatch": write_submission(directory, ALT_DISPATCH, "alt_dispatch.py"),
            "alt_notebook": write_submission(directory, notebook(*ALT_NOTEBOOK_CELLS), "alt_notebook.ipynb"),
            "probing_pick": write_submission(directory, PROBING_PICK, "probing_pick.py"),
            "allocating_pick": write_submission(directory, ALLOCATING_PICK, "allocating_pick.py"),
            "in_place_to_device": write_submission(directory, IN_PLACE_TO_DEVICE, "in_place_to_device.py"),
            "string_pick": write_submission(directory, STRING_PICK, "string_pick.py")}
    jobs.update({name: mutant_path(EXERCISE, name) for name in MUTANTS})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    checks = checks_by_id(results["reference"], EXERCISE)
    assert "meta" in checks["to_device.moves_tensors"]["message"]


@pytest.mark.parametrize("name", ["alt_dispatch", "alt_notebook"])
def test_correct_solutions_in_other_styles_get_full_marks(results, name):
    ex = exercise_result(results[name], EXERCISE)
    assert ex["score"] == 10, dump(results[name])


# every mutant losing points on its check with its hint: tests/test_verify.py::test_verify_passes


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ('hard-coded "cuda"', "returns a new tensor", "same device"):
        assert owed in hints, owed


def test_a_hard_coded_cuda_fails_clearly_on_a_cpu_only_machine(results):
    if torch.cuda.is_available():
        pytest.skip("on a CUDA machine .cuda() works; the meta placement check catches it instead")
    check = checks_by_id(results["hardcoded_train_step.py"], EXERCISE)["train_step.placement"]
    assert "Torch not compiled with CUDA enabled" in check["message"] or "NVIDIA" in check["message"]
    assert "hardcoded_train_step.py, line" in check["message"]


def test_harmless_cuda_queries_work_under_the_simulation(results):
    checks = checks_by_id(results["probing_pick"], EXERCISE)
    for check_id in ("pick_device.cuda_available", "pick_device.cpu_only"):
        assert checks[check_id]["status"] == "passed", dump(results["probing_pick"])


def test_the_simulation_is_undone_when_pick_device_raises(results):
    checks = checks_by_id(results["allocating_pick"], EXERCISE)
    assert checks["pick_device.cuda_available"]["points"] == 0
    assert checks["pick_device.cpu_only"]["status"] == "passed", dump(results["allocating_pick"])


def test_train_step_without_zero_grad_loses_points(results):
    checks = checks_by_id(results["no_zero_grad.py"], EXERCISE)
    assert checks["train_step.zero_grad"]["points"] == 0 and "zero_grad" in checks["train_step.zero_grad"]["hint"]
    for check_id in ("train_step.placement", "train_step.loss", "train_step.update"):
        assert checks[check_id]["status"] == "passed", dump(results["no_zero_grad.py"])


def test_a_to_device_that_fills_the_callers_containers_loses_the_structure_check(results):
    checks = checks_by_id(results["in_place_to_device"], EXERCISE)
    structure = checks["to_device.structure"]
    assert structure["points"] == 0 and "in place" in structure["message"], dump(results["in_place_to_device"])
    assert checks["to_device.moves_tensors"]["status"] == "passed"
    assert checks["to_device.subclasses"]["status"] == "passed"


def test_a_device_string_gets_half_the_points(results):
    checks = checks_by_id(results["string_pick"], EXERCISE)
    for check_id in ("pick_device.cuda_available", "pick_device.cpu_only"):
        assert checks[check_id]["points"] == pytest.approx(0.75), dump(results["string_pick"])
        assert "torch.device object" in checks[check_id]["hint"]


def test_subclasses_are_only_a_small_bonus(results):
    checks = checks_by_id(results["tuple_to_list.py"], EXERCISE)
    assert checks["to_device.subclasses"]["max_points"] == 0.5
    assert checks["to_device.moves_tensors"]["status"] == "passed"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_cuda_machine_every_check_also_runs_on_the_gpu(tmp_path):
    result = grade(REPO / "reference" / "gpu_transfer.py", EXERCISE, device="cuda")
    assert exercise_result(result, EXERCISE)["score"] == 10, dump(result)
    checks = checks_by_id(result, EXERCISE)
    assert "real GPU" in checks["pick_device.cuda_available"]["message"]
    assert "cuda" in checks["to_device.moves_tensors"]["message"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_cuda_machine_a_hard_coded_cuda_is_still_caught(tmp_path):
    path = mutant_path(EXERCISE, "hardcoded_train_step.py")
    check = checks_by_id(grade(path, EXERCISE, device="cuda"), EXERCISE)["train_step.placement"]
    assert check["points"] == 0 and 'hard-coded "cuda"' in check["hint"]
