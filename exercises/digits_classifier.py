"""Exercise 5, digits_classifier: training a real classifier.

The trusted side loads scikit-learn's ``load_digits``, splits it with a fixed seed and
standardizes it. Only ``X_train``, ``y_train`` and ``X_test`` enter the sandbox (through
``@exercise.inputs``); the test labels stay here and the accuracy is computed here, from
the logits the probe recorded.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from grader.codec import Raised, TensorValue
from grader.exercise import Exercise, StudentFailed, Verdict
from grader.judging import compare_tensors, describe
from grader.states import CheckStatus


def _dataset_files() -> list[str]:
    """scikit-learn's copy of the digits (the sandbox shows the training split there)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")
    folders = (spec.submodule_search_locations or []) if spec else []
    return [path for f in folders if os.path.exists(path := os.path.join(f, "datasets", "data", "digits.csv.gz"))]


def _training_digits() -> dict[str, Path]:
    """What the sandbox shows as scikit-learn's digits: the training split only, raw
    pixels and labels, so a notebook's own load_digits() works while no test label is
    there to be looked up."""
    import gzip
    import io

    from grader.cache import cache_dir, write_bytes_atomic

    path = cache_dir() / "sandbox" / f"digits-train-{SPLIT_SEED}-{TEST_FRACTION}.csv.gz"
    if not path.exists():
        data, target = _load_digits()
        train_idx = _split_indices()[0]
        text = io.StringIO()
        np.savetxt(text, np.column_stack([data[train_idx], target[train_idx]]), fmt="%d", delimiter=",")
        write_bytes_atomic(path, gzip.compress(text.getvalue().encode(), mtime=0))
    return {shown: path for shown in _dataset_files()}


LOAD_DIGITS_NOTE = ("the notebook calls load_digits(): while grading, it returns the training digits only (three "
                    "quarters of the 1797; the held-out quarter is what your classifier is graded on), and "
                    "train_digits_classifier gets the same training digits, standardized")


exercise = Exercise(
    id="digits_classifier",
    title="Training a real classifier",
    names=("train_digits_classifier", "predict"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "digits_classifier.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "digits_classifier",
    description="train_digits_classifier, predict",
    sandbox_files=_training_digits,
    source_notes={"load_digits": LOAD_DIGITS_NOTE},
)

TRAIN_SECONDS = 60.0  # the student's training: CPU seconds (one thread), measured by the runner
TEST_FRACTION = 0.25
SPLIT_SEED = 0
#: (accuracy at least, fraction of the check's points), best first
THRESHOLDS = ((0.95, 1.0), (0.90, 0.7), (0.80, 0.4))

HINT_FLOAT_LABELS = ("CrossEntropyLoss wants class indices as int64 (torch.long) labels of shape (N,): "
                     "pass y as it is (or y.long()), not y.float().")
HINT_LABEL_SHAPE = ("CrossEntropyLoss wants labels of shape (N,) (one class index per row), not (N, 1): "
                    "drop the extra dimension (y.view(-1) or y.squeeze(1)); keep them int64.")
HINT_SOFTMAX = ("the model's outputs are probabilities (each row sums to 1): softmax before CrossEntropyLoss. "
                "CrossEntropyLoss applies log-softmax itself, so the model must return raw logits: remove the "
                "final Softmax layer (use softmax only when you need probabilities, outside the model).")
HINT_ZERO_GRAD = ("optimizer.zero_grad() is never called: .backward() adds to the gradients of the previous "
                  "steps, so every update uses the sum of all past gradients and training goes wrong. "
                  "Call optimizer.zero_grad() before each loss.backward().")
HINT_TIME = ("training ran out of time: the limit is {limit:.0f} s of CPU time on one thread (time the "
             "computation itself takes, whatever else runs on the machine), and the reference (a 64-100-100-10 "
             "MLP, SGD, mini-batches of 32, 20 epochs) takes about 2 s. Use mini-batches "
             "rather than one example at a time, fewer epochs or a smaller network, and no per-element Python "
             "loops.")
HINT_EVAL = ("call model.eval() in predict: in training mode, Dropout drops activations at random (and "
             "BatchNorm uses the batch's statistics), so predictions change from call to call.")
HINT_NO_GRAD = ("wrap the forward pass of predict in `with torch.no_grad():` (or torch.inference_mode()): "
                "predicting needs no gradients, and building the graph costs memory and time.")
HINT_PREDICT_DTYPE = "return the argmax itself, logits.argmax(dim=1): an int64 tensor of shape (B,)."

LABEL_HINTS = {
    "expected target dtype to be Long": HINT_FLOAT_LABELS,
    "expected scalar type Long": HINT_FLOAT_LABELS,
    "Expected floating point type for target with class probabilities": HINT_FLOAT_LABELS,
    "multi-target not supported": HINT_LABEL_SHAPE,
}


# ------------------------------------------------------------------ the data (trusted side only)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's load_digits (1797 8x8 images, labels 0-9). Its CSV is read directly
    when it is where scikit-learn keeps it: importing scikit-learn costs a second or more,
    and every `grader check` prepares this exercise's inputs."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            table = np.loadtxt(path, delimiter=",")
            if table.shape == (1797, 65):
                return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data, digits.target


@functools.lru_cache(maxsize=1)
def _split_indices() -> tuple[np.ndarray, np.ndarray]:
    """The training and test rows of load_digits: a fixed stratified split."""
    _, target = _load_digits()
    y = target.astype(np.int64)
    rng = np.random.RandomState(SPLIT_SEED)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        chosen = rng.permutation(members)[: int(round(TEST_FRACTION * len(members)))]
        test[chosen] = True
    return rng.permutation(np.flatnonzero(~test)), rng.permutation(np.flatnonzero(test))


@functools.lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, y_train, X_test, y_test: the fixed split, standardized with the training
    set's mean and std (constant pixels stay 0). Never called inside the sandbox: the
    test labels must not get there."""
    data, target = _load_digits()
    X, y = data.astype(np.float64), target.astype(np.int64)
    train_idx, test_idx = _split_indices()
    mean = X[train_idx].mean(axis=0)
    std = X[train_idx].std(axis=0)
    std[std == 0] = 1.0
    X_std = (X - mean) / std
    arrays = (X_std[train_idx].astype(np.float32), y[train_idx], X_std[test_idx].astype(np.float32), y[test_idx])
    for a in arrays:
        a.setflags(write=False)
    return arrays


@exercise.inputs
def _inputs(device: str) -> dict:
    X_train, y_train, X_test, _ = _split()  # the test labels stay here
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test}


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("train", timeout=TRAIN_SECONDS + 30)
def _probe_train(student, rec):
    import torch

    from grader.sandbox.student import FAILED

    X_train = torch.from_numpy(rec.input("X_train"))
    y_train = torch.from_numpy(rec.input("y_train"))
    X_test = torch.from_numpy(rec.input("X_test"))
    remaining = rec.remaining()
    limit = min(TRAIN_SECONDS, remaining - min(20.0, remaining / 4))  # keep time to record the logits
    rec.record("train_limit", limit)
    model = rec.call("model", "train_digits_classifier", X_train.clone(), y_train.clone(), seed=0,
                     timeout=limit, record=False)
    if model is FAILED:
        return
    rec.record("model", {"type": type(model).__name__, "is_module": isinstance(model, torch.nn.Module)})

    def test_logits():
        model.eval()
        with torch.no_grad():
            return model(X_test.clone())

    rec.call("logits", test_logits)


MODE_SHIFT = 1.0e4  #: added to class 0 by the mode probes when a mode is wrong: every label becomes 0


@exercise.probe("predict")
def _probe_predict(student, rec):
    """predict on three models. The mode a model ran in shows in the labels it gives, so no
    record the student's code could rewrite decides a check: ``eval`` adds MODE_SHIFT to
    class 0 while its module is in training mode; ``no_grad`` does when an in-place update
    of a leaf that requires grad is refused (it is refused exactly while autograd records,
    in torch's C++ core)."""
    import torch
    from torch import nn

    add_in_place = torch._C.TensorBase.add_  # the C function itself: not a name the submission can rebind

    class TrainingShift(nn.Module):
        def forward(self, x):
            training = self.__dict__.get("training", True)
            return x + MODE_SHIFT * torch.eye(1, x.shape[1]) if training else x

    class GradShift(nn.Module):
        def __init__(self):
            super().__init__()
            self.leaf = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            try:
                add_in_place(self.leaf, 0.0)  # refused while autograd records
            except RuntimeError:
                return x + MODE_SHIFT * torch.eye(1, x.shape[1])
            return x

    def net(*tail):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10), *tail).train()

    torch.manual_seed(0)
    X = torch.randn(300, 64)
    rec.call("labels", "predict", net(), X.clone())  # judged for its values only
    rec.call("eval.labels", "predict", net(TrainingShift()), X.clone())
    rec.call("no_grad.labels", "predict", net(GradShift()), X.clone())


# ------------------------------------------------------------------ checks (trusted side)
def _train_failed(ctx) -> Verdict | None:
    """The verdict when training raised, timed out or returned no module; else None."""
    raw = ctx.raw("model")
    if isinstance(raw, Raised) and raw.timed_out:
        limit = ctx.raw("train_limit") or TRAIN_SECONDS
        return Verdict(False, f"train_digits_classifier did not finish within its time limit of {limit:.0f} s of "
                              "CPU time",
                       hint=HINT_TIME.format(limit=limit), status=CheckStatus.ERROR)
    ctx.got("model")  # a raise or a missing name becomes the verdict (with the label hints)
    return None


def _logits(ctx) -> np.ndarray:
    """The logits' values (a check that reads them depends on returns_model, which
    fails a result without values)."""
    data = ctx.got("logits").data
    if data is None:
        raise StudentFailed(Verdict(False, "the model's output has no values to judge"))
    return data


def _probabilities(data: np.ndarray) -> bool:
    """Rows that look like softmax outputs: all in [0, 1] and each summing to 1."""
    x = data.astype(np.float64)
    return bool(x.size and np.all(np.isfinite(x)) and x.min() >= -1e-6 and x.max() <= 1 + 1e-6
                and np.allclose(x.sum(axis=1), 1.0, atol=1e-3))


def _clears_gradients(source, function: str = "train_digits_classifier") -> bool | None:
    """Whether the training code clears gradients (zero_grad, grad.zero_(), .grad = None);
    None when the function's source is not available."""
    import ast

    if function not in source.functions:
        return None
    used = source.names_used(function)
    if any(u.endswith("zero_grad") or u.endswith("grad.zero_") or u.endswith("grad.detach_") for u in used):
        return True
    reachable = [source.functions[f] for f in source.functions if f == function or f in used]
    for node in reachable:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Assign, ast.AnnAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                if any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in targets):
                    return True
            if isinstance(sub, ast.Constant) and sub.value == "zero_grad":
                return True
    return False


@exercise.check("train_digits_classifier.returns_model", points=1.0, probe="train",
                requires=("train_digits_classifier",), hints=LABEL_HINTS)
def _check_returns_model(ctx):
    """train_digits_classifier trains and returns an nn.Module mapping (B, 64) to (B, 10)"""
    failed = _train_failed(ctx)
    if failed is not None:
        return failed
    info = ctx.got("model")
    if not info.get("is_module"):
        return Verdict(False, f"train_digits_classifier returned a {info.get('type')}, not an nn.Module "
                              "(return the trained model itself)")
    logits = ctx.raw("logits")
    if isinstance(logits, Raised):
        verdict = ctx.raised_verdict(logits)
        verdict.message = f"the returned model, called on X_test of shape (450, 64), {verdict.message}"
        return verdict
    expected = ctx.expected("logits")
    if not isinstance(logits, TensorValue) or logits.kind != "tensor":
        return Verdict(False, f"the model should return a tensor of logits; it returned {describe(logits)}")
    if tuple(logits.shape) != tuple(expected.shape):
        return Verdict(False, f"on X_test of shape {list(expected.shape[:1]) + [64]} the model should return "
                              f"logits of shape {list(expected.shape)}; got {logits.describe()}")
    if not logits.dtype.startswith(("float", "bfloat")):
        return Verdict(False, f"the model should return float logits; got {logits.describe()}")
    return Verdict(True, f"the returned {info.get('type')} maps X_test to {logits.describe()}")


@exercise.check("train_digits_classifier.logits", points=1.0, probe="train", requires=("train_digits_classifier",),
                depends=("train_digits_classifier.returns_model",))
def _check_logits(ctx):
    """the model returns raw logits (no softmax at the end), all finite"""
    data = _logits(ctx).astype(np.float64)
    if not np.all(np.isfinite(data)):
        bad = int((~np.isfinite(data)).sum())
        return Verdict(False, f"{bad} of the {data.size} logits are NaN or infinite: training diverged "
                              "(a learning rate too large, or gradients that were never cleared)")
    if _probabilities(data):
        return Verdict(False, "every row of the model's output is between 0 and 1 and sums to 1: these are "
                              "probabilities, not logits", hint=HINT_SOFTMAX)
    return Verdict(True, "the model returns logits")


@exercise.check("train_digits_classifier.accuracy", points=5.0, probe="train", requires=("train_digits_classifier",),
                depends=("train_digits_classifier.returns_model",))
def _check_accuracy(ctx):
    """test accuracy: >= 0.95 full points, >= 0.90 70 %, >= 0.80 40 %"""
    data = _logits(ctx).astype(np.float64)
    y_test = _split()[3]
    predicted = np.argmax(np.nan_to_num(data, nan=-np.inf), axis=1)
    accuracy = float(np.mean(predicted == y_test))
    reference = float(np.mean(np.argmax(ctx.expected("logits").data, axis=1) == y_test))
    fraction = next((f for threshold, f in THRESHOLDS if accuracy >= threshold), 0.0)
    message = (f"test accuracy {accuracy:.3f} ({int(np.sum(predicted == y_test))} of {len(y_test)} held-out "
               f"digits); the reference reaches {reference:.3f}")
    if fraction >= 1.0:
        return Verdict(True, message + " (full points from 0.95)")
    needed = next((t for t, f in THRESHOLDS if f > fraction), THRESHOLDS[0][0])
    verdict = Verdict(False, f"{message}; {needed:.2f} earns more (0.95 full points, 0.90 70 %, 0.80 40 %)",
                      fraction=fraction)
    if _probabilities(data):
        verdict.hint = HINT_SOFTMAX
    elif _clears_gradients(ctx.source) is False:
        verdict.hint = HINT_ZERO_GRAD
    return verdict


@exercise.check("predict.labels", points=1.5, probe="predict", requires=("predict",))
def _check_predict_labels(ctx):
    """predict returns the int64 (B,) argmax of the model's logits"""
    got = ctx.got("labels")
    expected = ctx.expected("labels")
    verdict = compare_tensors(got, expected, what="predict(model, X) on a (300, 64) input")
    if verdict.passed:
        return verdict
    if isinstance(got, TensorValue) and tuple(got.shape) == tuple(expected.shape) and got.dtype != expected.dtype:
        verdict.hint = HINT_PREDICT_DTYPE
    elif isinstance(got, TensorValue) and tuple(got.shape) != tuple(expected.shape):
        verdict.hint = ("one label per row: take the argmax over the classes, dim=1 "
                        "(logits.argmax(dim=1)), not over the whole tensor or the rows.")
    return verdict


def _mode_verdict(ctx, key: str, good: str, bad: str, hint: str) -> Verdict:
    """The labels of a mode probe: those of the right mode, or (nearly) all 0 when the
    model ran in the wrong one (see _probe_predict); anything else is charged in predict.labels."""
    got = ctx.got(key)
    expected = ctx.expected(key)
    if not isinstance(got, TensorValue) or got.data is None or tuple(got.shape) != tuple(expected.shape):
        return Verdict(False, "could not be judged: predict does not return one label per row (see predict.labels)",
                       status=CheckStatus.SKIPPED)
    labels = got.data.reshape(-1).astype(np.int64)
    if np.array_equal(labels, expected.data.reshape(-1)):
        return Verdict(True, good)
    if np.mean(labels == 0) > 0.95 > np.mean(expected.data == 0):
        return Verdict(False, bad, hint=hint)
    return Verdict(False, "could not be judged: predict's labels are not the model's argmax (see predict.labels)",
                   status=CheckStatus.SKIPPED)


@exercise.check("predict.eval_mode", points=0.75, probe="predict", requires=("predict",))
def _check_predict_eval(ctx):
    """predict puts the model in eval mode"""
    return _mode_verdict(ctx, "eval.labels", "the model ran in eval mode",
                         "predict ran the model in training mode (a module of it was still training)", HINT_EVAL)


@exercise.check("predict.no_grad", points=0.75, probe="predict", requires=("predict",))
def _check_predict_no_grad(ctx):
    """predict runs the model without building a graph (no_grad or inference_mode)"""
    return _mode_verdict(ctx, "no_grad.labels", "the model ran without gradients",
                         "predict ran the model with gradients enabled (autograd recorded a graph)", HINT_NO_GRAD)

