"""Exercise 11, kfold_cv: K-fold cross-validation and choosing a hidden size.

``kfold_indices`` is judged as a partition, whatever folds the student's shuffle picks.
``cross_validate`` runs with spies for ``make_model``, ``train_fn`` and ``metric_fn``: the
labels are the sample ids (``y[i] == i``), so every call tells which samples it was given;
``train_fn`` writes a training history onto the model it trains (a deep copy keeps it), and
``metric_fn`` records the history of the model it scores. The checks rebuild each fold
from these records, so any valid fold assignment passes, and a model trained on its
validation fold, reused from another fold, or fed inputs standardised with statistics of
the whole data set is named. While ``cross_validate`` runs, ``kfold_indices`` is the
grader's own, so a mistake there is charged once, in ``kfold_indices.*``.

``select_hidden_size`` is checked through the student's call of ``cross_validate``, which
the probe replaces by a spy returning scripted scores for each hidden size (read from the
model ``make_model()`` builds): the best size is then known, and no model is trained.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from grader.api import Exercise, Raised, TensorValue, Verdict, as_int, compare_arrays, describe

exercise = Exercise(
    id="kfold_cv",
    title="K-fold cross-validation",
    names=("kfold_indices", "cross_validate", "select_hidden_size"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "kfold_cv.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "kfold_cv",
    description="kfold_indices, cross_validate, select_hidden_size",
)

HINT_PARTITION = ("the folds must split the indices 0..n-1: every index in exactly one fold (no repeats, none left "
                  "out). Shuffle once without replacement and cut the permutation into k pieces: "
                  "torch.tensor_split(torch.randperm(n, generator=torch.Generator().manual_seed(seed)), k).")
HINT_SPLIT = ("when k does not divide n the folds cannot all have the same size (view/reshape(k, -1) and np.split "
              "need equal pieces, torch.chunk gives fewer or more unequal ones): torch.tensor_split(perm, k) gives "
              "k folds whose sizes differ by at most one.")
HINT_SEED = ("the folds must be shuffled reproducibly from `seed`: permute the indices with "
             "torch.randperm(n, generator=torch.Generator().manual_seed(seed)) before cutting them into folds.")
HINT_TENSORS = "return the folds as a list of index tensors (torch.int64), e.g. list(torch.tensor_split(perm, k))."
HINT_VALIDATE_ON_TRAIN = ("each fold's model must be trained on the other k - 1 folds only and scored on the "
                          "held-out fold, which it has never seen: train_fn(model, X[train_idx], y[train_idx]), then "
                          "metric_fn(model, X[val_idx], y[val_idx]).")
HINT_REUSED = ("one model object was trained fold after fold, so each fold's model had already seen the other folds' "
               "data (including this fold's validation samples). Call make_model() inside the loop: a fresh model "
               "for every fold.")
HINT_WHOLE_STATS = ("the inputs were standardised with the mean and std of the whole data set, validation fold "
                    "included, which leaks information about it into training. Compute the statistics on the "
                    "training folds only (X_train.mean(0), X_train.std(0)) and apply those to both X_train and X_val.")
HINT_NOT_STANDARDISED = ("standardise the inputs of each fold with the training folds' statistics: "
                         "mean, std = X_train.mean(0), X_train.std(0); then (X_train - mean) / std and "
                         "(X_val - mean) / std.")
HINT_MAX = ("the best hidden size is the one with the HIGHEST mean validation score (the scores are accuracies: "
            "higher is better), e.g. max(sizes, key=...) rather than min.")

KFOLD_HINTS = {"is invalid for input of size": HINT_SPLIT, "does not result in an equal division": HINT_SPLIT}

# key -> (n, k, seed)
KFOLD_CASES = {"n23_k5": (23, 5, 0), "n20_k4": (20, 4, 1), "n7_k7": (7, 7, 2), "n10_k3": (10, 3, 3)}
SEED_CASES = {"same_seed": (20, 4, 1), "other_seed": (20, 4, 12)}  # against n20_k4 (k divides n)
# key -> (n, k, seed)
CV_CASES = {"k4": (20, 4, 0), "k3": (13, 3, 5)}
FEATURE_SCALE, FEATURE_SHIFT = (2.0, 0.5, 4.0), (5.0, -3.0, 10.0)
# key -> (sizes, {size: scripted fold scores}); the best mean is neither the first, last, largest nor
# smallest size, and neither the best first fold, last fold nor single fold
SELECT_CASES = {
    "grid": ([2, 4, 8, 16], {2: [0.70, 0.72, 0.68], 4: [0.86, 0.84, 0.85], 8: [0.93, 0.94, 0.89],
                             16: [0.99, 0.75, 0.90]}),
    "unsorted": ([16, 3, 5], {16: [0.80, 0.82, 0.78], 3: [0.88, 0.95, 0.87], 5: [0.97, 0.70, 0.72]}),
}
SELECT_K, SELECT_SEED = 3, 0


def _folds_text(n: int, k: int, seed: int) -> str:
    return f"kfold_indices({n}, {k}, seed={seed})"


def _cv_text(key: str) -> str:
    n, k, seed = CV_CASES[key]
    return f"cross_validate(make_model, X, y, k={k}, train_fn, metric_fn, seed={seed}) on {n} samples"


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _grader_kfold(n, k, seed):
    import torch

    return list(torch.tensor_split(torch.randperm(int(n), generator=torch.Generator().manual_seed(int(seed))), int(k)))


def _with_names(student, replaced: dict, name: str):
    """The student's ``name``, wrapped so that while it runs the top-level names in
    ``replaced`` are the grader's (its own name and signature are kept for the report)."""
    import functools

    function = student.get(name)

    @functools.wraps(function)
    def call(*args, **kwargs):
        saved = {k: student.namespace[k] for k in replaced if k in student.namespace}
        student.namespace.update(replaced)
        try:
            return function(*args, **kwargs)
        finally:
            for k in replaced:
                if k in saved:
                    student.namespace[k] = saved[k]
                else:
                    student.namespace.pop(k, None)

    return call


def _ids(y) -> list | None:
    import torch

    try:
        return [int(v) for v in torch.as_tensor(y).reshape(-1).tolist()]
    except Exception:  # noqa: BLE001 - recorded as unreadable
        return None


def _inputs(X):
    import torch

    try:
        return torch.as_tensor(X).detach().to("cpu").clone()
    except Exception:  # noqa: BLE001 - recorded as unreadable
        return None


def _cv_spies(n_features: int) -> dict:
    """make_model, train_fn and metric_fn that record what they are given, in order."""
    from torch import nn

    events: list = []

    class SpyModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(n_features, 1)

        def forward(self, x):
            return self.linear(x)

    def history_of(model) -> list:
        history = getattr(model, "_grader_history", [])
        return list(history) if isinstance(history, list) else []

    def make_model():
        events.append({"event": "make"})
        return SpyModel()

    def train_fn(model, X_train, y_train):
        call = sum(1 for e in events if e["event"] == "train")
        history = history_of(model)
        events.append({"event": "train", "call": call, "history": history, "ids": _ids(y_train),
                       "X": _inputs(X_train)})
        try:
            model._grader_history = history + [call]  # a deep copy of the model keeps it
        except Exception:  # noqa: BLE001 - not a model of make_model's: its history stays empty
            pass
        return model

    def metric_fn(model, X_val, y_val):
        ids = _ids(y_val)
        score = round(0.5 + (sum(ids) % 41) / 100, 6) if ids else 0.5
        events.append({"event": "metric", "history": history_of(model), "ids": ids, "X": _inputs(X_val),
                       "score": score})
        return score

    return {"make_model": make_model, "train_fn": train_fn, "metric_fn": metric_fn, "events": events}


def _hidden_size(model) -> int | None:
    from torch import nn

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return int(linears[0].out_features) if linears else None


def _cross_validate_spy(table: dict, calls: list):
    """Stands in for the student's cross_validate inside select_hidden_size: scripted scores per hidden size."""

    def cross_validate(make_model=None, X=None, y=None, k=None, train_fn=None, metric_fn=None, seed=None):
        try:
            size = _hidden_size(make_model())
        except Exception:  # noqa: BLE001 - recorded: the size could not be read
            size = None
        folds = int(k) if isinstance(k, int) and k > 0 else SELECT_K
        pattern = table.get(size, [0.0])
        scores = [float(pattern[i % len(pattern)]) for i in range(folds)]
        calls.append({"size": size, "k": k if isinstance(k, int) else None})
        return scores, sum(scores) / len(scores)

    return cross_validate


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("kfold_indices")
def _probe_kfold(student, rec):
    import torch

    for key, (n, k, seed) in {**KFOLD_CASES, **SEED_CASES}.items():
        if key == "same_seed":
            torch.rand(3)  # the global random state moves on: seeded folds do not care
        rec.call(key, "kfold_indices", n, k, seed)


@exercise.probe("cross_validate")
def _probe_cross_validate(student, rec):
    import torch

    if not student.has("cross_validate"):
        return
    for key, (n, k, seed) in CV_CASES.items():
        g = torch.Generator().manual_seed(1500 + n)
        X = torch.randn(n, 3, generator=g) * torch.tensor(FEATURE_SCALE) + torch.tensor(FEATURE_SHIFT)
        X, y = X.to(rec.device), torch.arange(n).to(rec.device)
        rec.record(key + ".X", X)
        spies = _cv_spies(3)
        cross_validate = _with_names(student, {"kfold_indices": _grader_kfold}, "cross_validate")
        rec.call(key, cross_validate, spies["make_model"], X, y, k, spies["train_fn"], spies["metric_fn"], seed)
        rec.record(key + ".events", list(spies["events"]))


@exercise.probe("select_hidden_size")
def _probe_select(student, rec):
    import torch

    if not student.has("select_hidden_size"):
        return
    g = torch.Generator().manual_seed(1600)
    X, y = torch.randn(30, 4, generator=g).to(rec.device), torch.randint(0, 3, (30,), generator=g).to(rec.device)
    for key, (sizes, table) in SELECT_CASES.items():
        calls: list = []
        select = _with_names(student, {"cross_validate": _cross_validate_spy(table, calls)}, "select_hidden_size")
        rec.call(key, select, list(sizes), X, y, SELECT_K, SELECT_SEED)
        rec.record(key + ".calls", calls)


# ------------------------------------------------------------------ helpers (trusted side)
def _what(value: Any) -> str:
    """describe(), with containers by type and size (their items' reprs are not for students)."""
    if isinstance(value, (list, tuple, dict)):
        kind = getattr(value, "type_name", type(value).__name__)
        return f"a {kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return describe(value)


def _folds(value: Any) -> tuple[list[np.ndarray] | None, bool, str]:
    """(the folds as int arrays, whether they are all tensors, what is wrong) from kfold_indices' result."""
    stacked = isinstance(value, TensorValue) and value.data is not None and value.data.ndim == 2
    if stacked:  # one (k, n / k) tensor: the folds are its rows
        value = [TensorValue(value.kind, value.dtype, value.shape[1:], data=row) for row in value.data]
    if not isinstance(value, (list, tuple)):
        return None, False, f"expected a list of k index tensors; got {_what(value)}"
    folds, tensors = [], not stacked
    for number, fold in enumerate(value, 1):
        if isinstance(fold, TensorValue) and fold.data is not None:
            data = fold.data
            tensors = tensors and fold.kind == "tensor"
        elif isinstance(fold, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in fold):
            data, tensors = np.array(fold, dtype=np.int64), False
        else:
            return None, False, f"fold {number} should be a tensor of indices; got {_what(fold)}"
        if data.ndim != 1 or data.dtype.kind not in "iu":
            return None, False, (f"fold {number} should be a 1-D tensor of integer indices; got "
                                 f"{_what(fold)}")
        folds.append(data.astype(np.int64))
    return folds, tensors, ""


def _scores(value: Any) -> list[float] | None:
    if isinstance(value, TensorValue) and value.data is not None and value.data.ndim == 1:
        return [float(v) for v in value.data]
    if isinstance(value, (list, tuple)):
        out = [_number(v) for v in value]
        numbers = [v for v in out if v is not None]
        return numbers if len(numbers) == len(out) else None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, TensorValue) and value.data is not None and value.data.size == 1 and value.dtype != "bool":
        return float(value.data.reshape(-1)[0])
    return None


def _fold_runs(events: list) -> tuple[list[dict], list[dict]]:
    """The validation calls (metric_fn on data the model was not trained on in this fold) and
    the calls that scored a model on its own training data; each with this fold's training
    calls and the model's earlier history."""
    trains = {e["call"]: e for e in events if isinstance(e, dict) and e.get("event") == "train"}
    validations, on_training = [], []
    done: set[int] = set()  # train calls already consumed by an earlier validation
    for e in events:
        if not isinstance(e, dict) or e.get("event") != "metric":
            continue
        history = [c for c in e.get("history") or [] if c in trains]
        fold_calls = [c for c in history if c not in done]
        trained = set()
        for c in fold_calls:
            trained |= set(trains[c].get("ids") or [])
        ids = e.get("ids") or []
        run = {"metric": e, "fold_calls": [trains[c] for c in fold_calls],
               "earlier": [trains[c] for c in history if c in done], "trained": trained}
        if trained & set(ids):
            on_training.append(run)
        else:
            validations.append(run)
            done |= set(fold_calls)
    return validations, on_training


def _cv_events(ctx, key: str) -> list:
    ctx.got(key)  # a raise in cross_validate fails the check here
    events = ctx.got(key + ".events")
    return events if isinstance(events, list) else []


def _scored_runs(ctx, key: str) -> list[dict]:
    """The folds' runs: the validation calls, or, when every call scored training data (charged
    in cross_validate.folds), those calls, so that the other checks still judge their own part."""
    validations, on_training = _fold_runs(_cv_events(ctx, key))
    return validations or on_training


def _standardised(raw: np.ndarray, rows: np.ndarray, shift: np.ndarray | float, scale: np.ndarray | float,
                  got: Any) -> bool:
    if not isinstance(got, TensorValue) or got.data is None or got.data.shape != rows.shape:
        return False
    return compare_arrays(got.data, (rows - shift) / scale).passed


def _statistics(rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (shift, scale) pairs of the standardisations accepted: mean and std (population or
    unbiased), or min and range."""
    out = [(rows.mean(0), rows.std(0, ddof=ddof)) for ddof in (0, 1) if len(rows) > ddof]
    out.append((rows.min(0), rows.max(0) - rows.min(0)))
    return [(a, np.where(b > 0, b, 1.0)) for a, b in out]


# ------------------------------------------------------------------ checks: kfold_indices
@exercise.check("kfold_indices.partition", points=2.0, probe="kfold_indices", requires=("kfold_indices",),
                hints=KFOLD_HINTS)
def _check_partition(ctx):
    """kfold_indices returns k index tensors that together hold every index 0..n-1 exactly once"""
    all_tensors = True
    for key, (n, k, seed) in KFOLD_CASES.items():
        call = _folds_text(n, k, seed)
        folds, tensors, problem = _folds(ctx.got(key))
        if folds is None:
            return Verdict(False, f"{call}: {problem}", hint=HINT_TENSORS)
        if len(folds) != k:
            return Verdict(False, f"{call}: expected {k} folds; got {len(folds)} (of sizes "
                                  f"{[len(f) for f in folds]})", hint=HINT_SPLIT)
        indices = np.concatenate(folds) if folds else np.array([], dtype=np.int64)
        counts = np.bincount(indices[(indices >= 0) & (indices < n)], minlength=n)
        outside = sorted(set(indices[(indices < 0) | (indices >= n)].tolist()))
        if outside:
            return Verdict(False, f"{call}: the folds hold {outside[:5]}, outside 0..{n - 1}", hint=HINT_PARTITION)
        repeated, missing = np.flatnonzero(counts > 1).tolist(), np.flatnonzero(counts == 0).tolist()
        if repeated or missing:
            parts = []
            if repeated:
                parts.append(f"{len(repeated)} index(es) appear more than once (e.g. {repeated[0]}, "
                             f"{counts[repeated[0]]} times)")
            if missing:
                parts.append(f"{len(missing)} never appear (e.g. {missing[:5]})")
            return Verdict(False, f"{call}: each index 0..{n - 1} must be in exactly one fold; {' and '.join(parts)}",
                           hint=HINT_PARTITION)
        all_tensors = all_tensors and tensors
    if not all_tensors:
        return Verdict(False, "the folds are a right partition, but not index tensors", hint=HINT_TENSORS,
                       fraction=0.5)
    return Verdict(True, f"k disjoint folds covering 0..n-1 in all {len(KFOLD_CASES)} cases")


@exercise.check("kfold_indices.sizes", points=1.0, probe="kfold_indices", requires=("kfold_indices",),
                hints=KFOLD_HINTS)
def _check_sizes(ctx):
    """the fold sizes differ by at most one"""
    returned = [key for key in KFOLD_CASES if not isinstance(ctx.raw(key), Raised)] or list(KFOLD_CASES)
    for key in returned:  # a raise is charged in kfold_indices.partition (unless every case raised)
        n, k, seed = KFOLD_CASES[key]
        folds, _, problem = _folds(ctx.got(key))
        if folds is None:
            return Verdict(False, f"{_folds_text(n, k, seed)}: {problem}")
        sizes = [len(f) for f in folds]
        if sizes and max(sizes) - min(sizes) > 1:
            return Verdict(False, f"{_folds_text(n, k, seed)}: the fold sizes {sizes} differ by "
                                  f"{max(sizes) - min(sizes)}; they may differ by at most one", hint=HINT_SPLIT)
    return Verdict(True, "the fold sizes differ by at most one")


@exercise.check("kfold_indices.seeded", points=0.5, probe="kfold_indices", requires=("kfold_indices",),
                hints=KFOLD_HINTS)
def _check_seeded(ctx):
    """the folds are shuffled reproducibly from `seed`"""
    folds = {}
    for key in ("n20_k4", *SEED_CASES):
        found, _, problem = _folds(ctx.got(key))
        if found is None:
            return Verdict(False, f"{_folds_text(*(KFOLD_CASES | SEED_CASES)[key])}: {problem}")
        folds[key] = [f.tolist() for f in found]
    if folds["same_seed"] != folds["n20_k4"]:
        return Verdict(False, "kfold_indices(20, 4, seed=1) gave different folds when called twice (torch's global "
                              "random state had moved on in between)", hint=HINT_SEED)
    if folds["other_seed"] == folds["n20_k4"]:
        return Verdict(False, "kfold_indices(20, 4, seed=1) and kfold_indices(20, 4, seed=12) gave the same folds "
                              f"({folds['n20_k4'][0]}, ...): the seed must shuffle them", hint=HINT_SEED)
    return Verdict(True, "the same seed gives the same folds; another seed other folds")


# ------------------------------------------------------------------ checks: cross_validate
@exercise.check("cross_validate.folds", points=1.5, probe="cross_validate", requires=("cross_validate",))
def _check_cv_folds(ctx):
    """each fold's model is trained on all the other folds and scored on the held-out fold only"""
    for key, (n, k, _) in CV_CASES.items():
        call = _cv_text(key)
        validations, on_training = _fold_runs(_cv_events(ctx, key))
        if not validations and on_training:
            run = on_training[0]
            seen = len(set(run["metric"].get("ids") or []) & run["trained"])
            return Verdict(False, f"{call}: metric_fn scored a model on {len(run['metric'].get('ids') or [])} samples, "
                                  f"{seen} of which it was trained on", hint=HINT_VALIDATE_ON_TRAIN)
        if len(validations) != k:
            extra = f" (and {len(on_training)} time(s) on training data)" if on_training else ""
            return Verdict(False, f"{call}: expected metric_fn to score {k} models on their held-out folds; it did "
                                  f"{len(validations)} time(s){extra}",
                           hint=HINT_VALIDATE_ON_TRAIN if on_training else None)
        held_out = [set(run["metric"].get("ids") or []) for run in validations]
        if sorted(i for fold in held_out for i in fold) != list(range(n)):
            return Verdict(False, f"{call}: the {k} validation folds must together hold every sample exactly once; "
                                  f"their sizes are {[len(f) for f in held_out]}")
        for number, (run, fold) in enumerate(zip(validations, held_out), 1):
            others = set(range(n)) - fold
            if not run["fold_calls"]:
                return Verdict(False, f"{call}: the model scored on fold {number} was never passed to train_fn")
            if run["trained"] != others:
                return Verdict(False, f"{call}: the model of fold {number} was trained on {len(run['trained'])} "
                                      f"samples; expected the {len(others)} samples of the other folds",
                               hint=HINT_VALIDATE_ON_TRAIN)
    return Verdict(True, "every fold: trained on the other folds, scored on the held-out one")


@exercise.check("cross_validate.fresh_models", points=1.5, probe="cross_validate", requires=("cross_validate",))
def _check_cv_fresh(ctx):
    """every fold trains a fresh model from make_model()"""
    for key, (_n, k, _) in CV_CASES.items():
        call = _cv_text(key)
        events = _cv_events(ctx, key)
        runs = _scored_runs(ctx, key)
        made = sum(1 for e in events if isinstance(e, dict) and e.get("event") == "make")
        if not runs:
            return Verdict(False, f"{call}: metric_fn was never called")
        for number, run in enumerate(runs, 1):
            if run["earlier"]:
                return Verdict(False, f"{call}: the model scored on fold {number} had already been trained on "
                                      f"another fold's data before (make_model() was called {made} time(s) for {k} "
                                      f"folds)", hint=HINT_REUSED)
    return Verdict(True, "a fresh model for every fold")


@exercise.check("cross_validate.normalisation", points=1.5, probe="cross_validate", requires=("cross_validate",))
def _check_cv_normalisation(ctx):
    """each fold's inputs are standardised with the statistics of its training folds only"""
    for key, (n, _k, _) in CV_CASES.items():
        call = _cv_text(key)
        raw = ctx.expected(key + ".X").data.astype(np.float64)
        runs = _scored_runs(ctx, key)
        if not runs:
            return Verdict(False, f"{call}: metric_fn was never called")
        for number, run in enumerate(runs, 1):
            if not run["fold_calls"]:
                return Verdict(False, f"{call}: the model scored on fold {number} was never passed to train_fn")
            train, metric = run["fold_calls"][-1], run["metric"]
            train_ids, val_ids = train.get("ids") or [], metric.get("ids") or []
            if not all(0 <= i < n for i in [*train_ids, *val_ids]):
                return Verdict(False, f"{call}: the labels passed to train_fn or metric_fn are not those of the "
                                      "samples (y was changed)")
            rows_train, rows_val = raw[train_ids], raw[val_ids]
            X_train, X_val = train.get("X"), metric.get("X")
            if any(_standardised(raw, rows_train, a, b, X_train) and _standardised(raw, rows_val, a, b, X_val)
                   for a, b in _statistics(rows_train)):
                continue
            message = f"{call}, fold {number}: "
            if any(_standardised(raw, rows_train, a, b, X_train) and _standardised(raw, rows_val, a, b, X_val)
                   for a, b in _statistics(raw)):
                return Verdict(False, message + "the inputs were standardised with the statistics of all the "
                                                f"{n} samples, not of the {len(train_ids)} training samples",
                               hint=HINT_WHOLE_STATS)
            if _standardised(raw, rows_train, 0.0, 1.0, X_train):
                return Verdict(False, message + "train_fn received the raw inputs, not standardised ones",
                               hint=HINT_NOT_STANDARDISED)
            if any(_standardised(raw, rows_train, a, b, X_train) for a, b in _statistics(rows_train)):
                return Verdict(False, message + "the training inputs are standardised right, but the validation "
                                                "inputs are not standardised with the training folds' mean and std",
                               hint=HINT_NOT_STANDARDISED)
            return Verdict(False, message + f"train_fn received {describe(X_train)}, which is not the training rows "
                                            "standardised with their own mean and std", hint=HINT_NOT_STANDARDISED)
    return Verdict(True, "every fold is standardised with its training folds' statistics")


@exercise.check("cross_validate.scores", points=1.0, probe="cross_validate", requires=("cross_validate",))
def _check_cv_scores(ctx):
    """cross_validate returns (fold_scores, mean_score): metric_fn's validation scores in fold order, and their mean"""
    for key in CV_CASES:
        call = _cv_text(key)
        got = ctx.got(key)
        wanted = [float(run["metric"]["score"]) for run in _scored_runs(ctx, key)]
        if not isinstance(got, (list, tuple)) or len(got) != 2:
            return Verdict(False, f"{call}: expected a pair (fold_scores, mean_score); got {_what(got)}")
        scores, mean = _scores(got[0]), _number(got[1])
        if scores is None or mean is None:
            return Verdict(False, f"{call}: expected (a list of {len(wanted)} numbers, a number); got "
                                  f"({_what(got[0])}, {_what(got[1])})")
        if len(scores) != len(wanted) or not compare_arrays(np.array(scores), np.array(wanted)).passed:
            return Verdict(False, f"{call}: expected fold_scores = {wanted}, the scores metric_fn returned on the "
                                  f"held-out folds, in order; got {[round(s, 6) for s in scores]}")
        if not wanted or not math.isclose(mean, sum(wanted) / len(wanted), rel_tol=1e-4):
            return Verdict(False, f"{call}: expected mean_score = {sum(wanted) / max(1, len(wanted)):.6g}, the mean "
                                  f"of the fold scores; got {mean:.6g}")
    return Verdict(True, "the fold scores in order and their mean")


# ------------------------------------------------------------------ checks: select_hidden_size
@exercise.check("select_hidden_size.best", points=1.0, probe="select_hidden_size", requires=("select_hidden_size",))
def _check_select(ctx):
    """select_hidden_size cross-validates every size and returns the one with the best mean score"""
    for key, (sizes, table) in SELECT_CASES.items():
        call = f"select_hidden_size({sizes}, X, y, k={SELECT_K}, seed={SELECT_SEED})"
        got = ctx.got(key)
        calls = [c for c in ctx.got(key + ".calls") if isinstance(c, dict)]
        means = {size: sum(s) / len(s) for size, s in table.items()}
        if not calls:
            return Verdict(False, f"{call} never called cross_validate: the grader checks it through your "
                                  "cross_validate, called once per size with a make_model that builds a "
                                  "one-hidden-layer MLP of that size")
        seen = [c.get("size") for c in calls]
        if None in seen or any(s not in table for s in seen):
            odd = next(s for s in seen if s not in table)
            return Verdict(False, f"{call}: a model built by make_model() has "
                                  f"{'no nn.Linear' if odd is None else f'a first nn.Linear with {odd} outputs'}; "
                                  "expected its first nn.Linear to have the hidden size as out_features")
        missing = [s for s in sizes if s not in seen]
        if missing:
            tried = sorted({s for s in seen if s is not None})
            return Verdict(False, f"{call}: cross-validated the sizes {tried} only; "
                                  f"{missing} were never tried")
        expected = ctx.expected(key)
        number = as_int(got)
        if number is None:
            return Verdict(False, f"{call}: expected the size {expected} (an int from sizes); got {_what(got)}")
        if number != expected:
            verdict = Verdict(False, f"{call}: expected {expected}, whose mean score {means[expected]:.4g} is the "
                                     f"highest; got {number}"
                                     + (f" (mean score {means[number]:.4g})" if number in means else ""))
            if number == min(means, key=lambda size: means[size]):
                verdict.hint = HINT_MAX
            return verdict
    return Verdict(True, "every size cross-validated, the best mean score chosen")

