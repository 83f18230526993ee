"""Exercise 6, checkpoint: the reference scores full marks, correct solutions in unusual
styles (a tuple written atomically through a temporary file, a nested dict in a notebook)
get full marks, chosen mutants get their messages, and files written outside `path` are
noticed. That every mutant loses points with its hint is tests/test_verify.py's check."""

from __future__ import annotations

import pytest
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade_jobs,
                      mutant_path, notebook, write_submission)


EXERCISE = "checkpoint"

# a tuple, serialised into memory and written atomically (a temporary file next to `path`,
# then os.replace: nothing else is left behind); loaded from an open file object
ALT_ATOMIC_TUPLE = '''
import io
import os
import pathlib
import tempfile

import torch


def save_checkpoint(path, model, optimizer, epoch):
    buffer = io.BytesIO()
    torch.save((model.state_dict(), optimizer.state_dict(), epoch), buffer)
    target = pathlib.Path(path)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    with os.fdopen(fd, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(partial, target)


def load_checkpoint(path, model, optimizer):
    with open(path, "rb") as f:
        model_state, optimizer_state, epoch = torch.load(f, map_location="cpu", weights_only=True)
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)
    return epoch
'''

# a notebook: nested dicts with the epoch one level down, the default torch.load (weights_only
# is the default since PyTorch 2.6), a training loop that calls both functions
ALT_NESTED_CELLS = [
    "import torch\nfrom torch import nn",
    '''
def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"states": {"net": model.state_dict(), "opt": optimizer.state_dict()},
                "info": {"epoch": epoch, "note": "after epoch %d" % epoch}}, path)

def load_checkpoint(path, model, optimizer):
    ckpt = torch.load(path)
    model.load_state_dict(ckpt["states"]["net"])
    optimizer.load_state_dict(ckpt["states"]["opt"])
    return ckpt["info"]["epoch"]
''',
    '''
net = nn.Linear(3, 1)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
save_checkpoint("demo.pt", net, opt, 1)
print(load_checkpoint("demo.pt", net, opt))
''',
]

# writes a fixed file name in the working folder on top of `path`
STRAY_FILE = '''
import torch

def save_checkpoint(path, model, optimizer, epoch):
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(state, path)
    torch.save(state, "last_checkpoint.pt")

def load_checkpoint(path, model, optimizer):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["epoch"]
'''

# the epoch saved as a NumPy integer: weights_only refuses it
NUMPY_EPOCH = '''
import numpy as np
import torch

def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": np.int64(epoch)}, path)

def load_checkpoint(path, model, optimizer):
    state = torch.load(path, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"])
'''


# correct, but load_checkpoint returns the epoch as a NumPy integer (the contract accepts one)
NUMPY_RETURN = '''
import numpy as np
import torch

def save_checkpoint(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": int(epoch)}, path)

def load_checkpoint(path, model, optimizer):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return np.int64(state["epoch"])
'''


# the mutants the tests below read by name
MUTANTS = ("whole_model.py", "model_only.py", "torch_version.py", "safe_globals_hack.py", "shm_second_file.py",
           "state_dict_not_called.py", "optimizer_not_loaded.py")


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above and MUTANTS, graded once for the module."""
    directory = tmp_path_factory.mktemp("checkpoint")
    jobs = {"alt_atomic_tuple": write_submission(directory, ALT_ATOMIC_TUPLE, "alt_atomic_tuple.py"),
            "alt_nested": write_submission(directory, notebook(*ALT_NESTED_CELLS), "alt_nested.ipynb"),
            "stray_file": write_submission(directory, STRAY_FILE, "stray_file.py"),
            "numpy_epoch": write_submission(directory, NUMPY_EPOCH, "numpy_epoch.py"),
            "numpy_return": write_submission(directory, NUMPY_RETURN, "numpy_return.py")}
    jobs.update({name: mutant_path(EXERCISE, name) for name in MUTANTS})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    checks = checks_by_id(results["reference"], EXERCISE)
    assert "bit for bit" in checks["checkpoint.resume"]["message"]


@pytest.mark.parametrize("name", ["alt_atomic_tuple", "alt_nested"])
def test_correct_solutions_in_other_styles_get_full_marks(results, name):
    ex = exercise_result(results[name], EXERCISE)
    assert ex["score"] == 10, dump(results[name])


# every mutant losing points on its check with its hint: tests/test_verify.py::test_verify_passes


def test_saving_the_whole_model_gets_its_hint_and_keeps_the_round_trip_points(results):
    checks = checks_by_id(results["whole_model.py"], EXERCISE)
    weights_only = checks["checkpoint.weights_only"]
    assert "torch.nn.modules.container.Sequential" in weights_only["message"]
    assert "state_dict()" in weights_only["hint"]
    # load_checkpoint runs in the sandbox, where its own torch.load may unpickle: the round trip works
    assert checks["checkpoint.model_round_trip"]["status"] == "passed"
    assert checks["checkpoint.resume"]["status"] == "passed"
    assert checks["checkpoint.contents"]["status"] == "skipped"


def test_an_extra_file_in_the_working_folder_is_noticed(results):
    checks = checks_by_id(results["stray_file"], EXERCISE)
    only_path = checks["checkpoint.only_path"]
    assert only_path["points"] == 0 and "last_checkpoint.pt" in only_path["message"], dump(results["stray_file"])
    assert exercise_result(results["stray_file"], EXERCISE)["score"] == 9.5


def test_a_numpy_epoch_is_refused_by_weights_only_with_a_hint(results):
    check = checks_by_id(results["numpy_epoch"], EXERCISE)["checkpoint.weights_only"]
    assert check["points"] == 0 and "int(epoch)" in check["hint"], dump(results["numpy_epoch"])


def test_optimizer_state_missing_fails_the_resume_too(results):
    checks = checks_by_id(results["model_only.py"], EXERCISE)
    assert checks["checkpoint.resume"]["points"] == 0
    assert "differs from 10 uninterrupted steps" in checks["checkpoint.resume"]["message"]
    assert checks["checkpoint.model_round_trip"]["status"] == "passed"
    assert checks["checkpoint.contents"]["points"] == pytest.approx(1.0)  # 2 of the 3 parts


@pytest.mark.parametrize("name", ["torch_version.py", "numpy_epoch"])
def test_a_plain_value_object_in_the_file_costs_the_weights_only_check_only(results, name):
    """The student's own load is run again with the refused globals allowed, and the
    inspector reads plain-value globals, so the round trip and the contents are judged."""
    ex = exercise_result(results[name], EXERCISE)
    checks = checks_by_id(results[name], EXERCISE)
    assert checks["checkpoint.weights_only"]["points"] == 0
    assert ex["score"] == 8, dump(results[name])


def test_the_file_is_opened_where_no_student_code_ran(results):
    """Extending torch.serialization's safe globals in the submission gains nothing."""
    checks = checks_by_id(results["safe_globals_hack.py"], EXERCISE)
    weights_only = checks["checkpoint.weights_only"]
    assert weights_only["points"] == 0, dump(results["safe_globals_hack.py"])
    assert "Sequential" in weights_only["message"]


def test_a_second_file_in_dev_shm_is_noticed(results):
    only_path = checks_by_id(results["shm_second_file.py"], EXERCISE)["checkpoint.only_path"]
    assert only_path["points"] == 0 and "/dev/shm/opt.pt" in only_path["message"], dump(results["shm_second_file.py"])


def test_state_dict_without_the_call_is_named(results):
    check = checks_by_id(results["state_dict_not_called.py"], EXERCISE)["checkpoint.weights_only"]
    assert "model.state_dict()" in check["hint"] and "torch.save(model)" not in check["hint"]


def test_a_right_save_with_a_wrong_load_gets_the_loading_hint(results):
    check = checks_by_id(results["optimizer_not_loaded.py"], EXERCISE)["checkpoint.optimizer_round_trip"]
    assert check["points"] == 0 and "does not restore it into the optimizer" in check["hint"]
    assert checks_by_id(results["optimizer_not_loaded.py"], EXERCISE)["checkpoint.contents"]["status"] == "passed"


def test_a_numpy_integer_epoch_is_an_int(results):
    assert exercise_result(results["numpy_return"], EXERCISE)["score"] == 10, dump(results["numpy_return"])


def test_what_the_inspector_records_stays_apart_from_the_probes_record():
    """The inspector (a worker that never ran student code) writes `inspected.*`; the
    sandbox's own frames may not use that prefix (tests/test_protocol.py), and a probe
    that recorded no file gets no inspection at all."""
    from grader.engine import inspect_outcome
    from grader.sandbox import Limits
    from grader.sandbox.runner import ProbeRun, RunOutcome

    run = ProbeRun(observations={"epoch": 3}, raw={})  # no file recorded: nothing to open
    outcome = RunOutcome(probes={(EXERCISE, "round_trip"): run})
    assert inspect_outcome([builtin_exercise(EXERCISE)], outcome, "cpu", Limits(), {}, None) is None
    assert run.observations == {"epoch": 3}
