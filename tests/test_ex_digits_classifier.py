"""Exercise 5, digits_classifier: the reference scores full marks, a correct solution in an
unusual style gets full marks, chosen mutants get their messages, the test labels stay on
the trusted side and the accuracy thresholds give the partial credit the exercise page (docs/exercises.md) lists.
That every mutant loses points with its hint is tests/test_verify.py's check."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (builtin_exercise, checks_by_id, dump, exercise_result, grade,
                      grade_jobs, mutant_path, notebook, write_submission)

from grader.sandbox import Limits
from grader.verify import read_mutants

EXERCISE = "digits_classifier"

# a notebook: a class with Dropout and log-softmax outputs (log-probabilities are logits
# too), full-batch Adam with NLLLoss, gradients cleared by `p.grad = None`, a predict
# through train(False), inference_mode and torch.max(...).indices
ALT_CELLS = [
    "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nfrom tqdm.auto import tqdm",
    '''
class DigitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return F.log_softmax(self.fc2(self.drop(torch.tanh(self.fc1(x)))), dim=-1)
''',
    '''
def train_digits_classifier(X_train, y_train, seed=0):
    torch.manual_seed(seed)
    net = DigitNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for step in tqdm(range(120)):
        for p in net.parameters():
            p.grad = None
        F.nll_loss(net(X_train), y_train).backward()
        opt.step()
    return net
''',
    '''
def predict(model, X):
    model.train(False)
    with torch.inference_mode():
        return torch.max(model(X), dim=1).indices
''',
]


# the mutants the tests below read by name
MUTANTS = ("float_labels.py", "too_slow.py", "softmax_output.py", "predict_fakes_grad_mode.py", "predict_train_mode.py")


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    """The reference, the submissions above and MUTANTS, graded once for the module."""
    directory = tmp_path_factory.mktemp("digits")
    jobs = {"alt_notebook": write_submission(directory, notebook(*ALT_CELLS), "alt.ipynb")}
    jobs.update({name: mutant_path(EXERCISE, name) for name in MUTANTS})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    ex = exercise_result(results["reference"], EXERCISE)
    assert ex["score"] == 10, dump(results["reference"])
    accuracy = checks_by_id(results["reference"], EXERCISE)["train_digits_classifier.accuracy"]
    assert "test accuracy 0.9" in accuracy["message"] and "held-out digits" in accuracy["message"]


def test_a_correct_solution_in_an_unusual_style_gets_full_marks(results):
    ex = exercise_result(results["alt_notebook"], EXERCISE)
    assert ex["score"] == 10, dump(results["alt_notebook"])


# every mutant losing points on its check with its hint: tests/test_verify.py::test_verify_passes


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ("int64 (torch.long)", "not (N, 1)", "softmax before CrossEntropyLoss", "zero_grad() is never called",
                 "ran out of time"):
        assert owed in hints, owed


def test_label_errors_show_the_students_line(results):
    check = checks_by_id(results["float_labels.py"], EXERCISE)["train_digits_classifier.returns_model"]
    assert "expected target dtype to be Long" in check["message"]
    assert "float_labels.py, line" in check["message"]
    assert checks_by_id(results["float_labels.py"], EXERCISE)["train_digits_classifier.accuracy"]["status"] == "skipped"


def test_training_that_runs_out_of_time_is_stopped_with_its_hint(results):
    check = checks_by_id(results["too_slow.py"], EXERCISE)["train_digits_classifier.returns_model"]
    assert check["status"] == "error" and "did not finish within its time limit" in check["message"]
    assert "CPU time" in check["message"] and "CPU time" in check["hint"]
    # predict is still graded on its own model
    assert checks_by_id(results["too_slow.py"], EXERCISE)["predict.labels"]["status"] == "passed"


def test_softmax_output_keeps_its_accuracy_but_not_the_logits_points(results):
    checks = checks_by_id(results["softmax_output.py"], EXERCISE)
    assert checks["train_digits_classifier.logits"]["points"] == 0
    assert checks["train_digits_classifier.returns_model"]["status"] == "passed"


def test_the_test_labels_never_enter_the_sandbox():
    from grader.engine import probe_specs

    exercise = builtin_exercise(EXERCISE)
    inputs = exercise.make_inputs("cpu")
    assert set(inputs) == {"X_train", "y_train", "X_test"}
    X_train, y_train, X_test = inputs["X_train"], inputs["y_train"], inputs["X_test"]
    assert X_train.dtype == np.float32 and X_train.shape[1] == 64 and X_test.shape[1] == 64
    assert y_train.dtype == np.int64 and len(y_train) == len(X_train) and set(np.unique(y_train)) == set(range(10))
    assert abs(float(X_train.mean())) < 1e-3  # standardized on the trusted side
    specs = probe_specs([exercise], Limits())
    assert all(set(spec["inputs"]) == {"X_train", "y_train", "X_test"} for spec in specs)
    assert {spec["probe"]: spec["timeout"] for spec in specs}["train"] >= 60


def _y_test() -> np.ndarray:
    """The held-out labels, as the trusted side keeps them."""
    import importlib

    return importlib.import_module(builtin_exercise(EXERCISE).module)._split()[3]


def _judge(check_id: str, logits: np.ndarray):
    """Run one train check on the trusted side with made-up observations (no sandbox): float32
    tensors of these logits and of a reference that is right on every test digit."""
    import torch

    from grader.testing import judge

    reference = np.eye(10, dtype=np.float32)[_y_test()] * 5
    return judge(builtin_exercise(EXERCISE), check_id,
                 got={"model": {"type": "Sequential", "is_module": True},
                      "logits": torch.from_numpy(logits.astype(np.float32))},
                 expected={"logits": torch.from_numpy(reference)})


@pytest.mark.parametrize("threshold, extra_wrong, credit", [(None, 0, 1.0), (0.95, 0, 1.0), (0.95, 1, 0.7),
                                                           (0.90, 0, 0.7), (0.90, 1, 0.4), (0.80, 0, 0.4),
                                                           (0.80, 1, 0.0)])
def test_accuracy_thresholds_give_partial_credit(threshold, extra_wrong, credit):
    """Exactly at a threshold earns its credit; one more wrong digit falls to the next."""
    y_test = _y_test()
    n = len(y_test)
    wrong = 0 if threshold is None else int(np.floor((1 - threshold) * n + 1e-9)) + extra_wrong
    predicted = y_test.copy()
    predicted[:wrong] = (predicted[:wrong] + 1) % 10
    verdict = _judge("train_digits_classifier.accuracy", np.eye(10)[predicted] * 3 - 1)
    assert verdict.credit == pytest.approx(credit), verdict.message
    if credit < 1:
        assert "0.95 full points, 0.90 70 %, 0.80 40 %" in verdict.message


def test_log_probabilities_count_as_logits_and_probabilities_do_not():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(450, 10))
    log_probs = raw - np.log(np.exp(raw).sum(axis=1, keepdims=True))
    assert _judge("train_digits_classifier.logits", log_probs).passed
    verdict = _judge("train_digits_classifier.logits", np.exp(log_probs))
    assert not verdict.passed and "softmax before CrossEntropyLoss" in verdict.hint
    nan = _judge("train_digits_classifier.logits", np.full((450, 10), np.nan))
    assert not nan.passed and "NaN" in nan.message


def test_the_data_read_directly_is_scikit_learns_load_digits():
    import importlib

    from sklearn.datasets import load_digits

    X, y = importlib.import_module(builtin_exercise(EXERCISE).module)._load_digits()
    digits = load_digits()
    assert np.array_equal(X, digits.data) and np.array_equal(y, digits.target)


def test_load_digits_in_the_sandbox_gives_the_training_split_only(tmp_path):
    """Looking the test images up in scikit-learn's copy of the digits would give their labels:
    inside the sandbox that copy holds the training digits only, so a notebook's own
    load_digits() still works."""
    import hashlib
    import importlib

    source = '''
    import hashlib
    from sklearn.datasets import load_digits

    data = load_digits()
    print("DIGITS", data.data.shape[0], hashlib.sha256(data.data.astype("float64").tobytes()).hexdigest(),
          hashlib.sha256(data.target.astype("int64").tobytes()).hexdigest())
    '''
    result = grade(write_submission(tmp_path, source, "lookup.py"), "digits_classifier")
    line = next(line for line in result["output"].splitlines() if line.startswith("DIGITS"))
    module = importlib.import_module(builtin_exercise(EXERCISE).module)
    X, y = module._load_digits()
    train = module._split_indices()[0]
    assert line.split()[1:] == [str(len(train)), hashlib.sha256(X[train].astype("float64").tobytes()).hexdigest(),
                                hashlib.sha256(y[train].astype("int64").tobytes()).hexdigest()]
    assert any("load_digits" in note for note in result["notes"])


def test_replacing_is_grad_enabled_does_not_fake_no_grad(results):
    check = checks_by_id(results["predict_fakes_grad_mode.py"], EXERCISE)["predict.no_grad"]
    assert check["points"] == 0 and "torch.no_grad()" in check["hint"], dump(results["predict_fakes_grad_mode.py"])


def test_a_forgotten_eval_is_charged_once(results):
    checks = checks_by_id(results["predict_train_mode.py"], EXERCISE)
    assert checks["predict.eval_mode"]["points"] == 0
    assert checks["predict.labels"]["status"] == "passed", dump(results["predict_train_mode.py"])
