"""Exercise 8, minibatch: mini-batch training with TensorDataset and DataLoader.

``make_loader`` is judged by what its loader yields, not by how it was built: the probe
iterates it, and the checks identify every sample by its first feature (``X[i, 0] == i``)
and its label (``y[i] == 1000 + 3 i``). Any reproducible shuffle therefore passes, and a
lost sample or a broken (x, y) pair is named. ``train_epoch`` runs on the grader's own
loaders (the last batch is short) with stale gradients already in ``.grad`` when it is
called; its loss function is a spy that records every batch loss, so the mean it returns
is judged against the batches it actually computed, and a training mistake is charged
once, in ``train_epoch.steps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader.api import (Exercise, TensorValue, Verdict, as_int, compare_arrays, compare_tensors, describe,
                        matches)

exercise = Exercise(
    id="minibatch",
    title="Mini-batch training",
    names=("make_loader", "train_epoch"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "minibatch.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "minibatch",
    description="make_loader, train_epoch",
)

HINT_TENSOR_DATASET = ("build the loader from the tensors themselves: "
                       "DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, generator=...).")
HINT_DROP_LAST = ("samples were lost: the last, shorter batch is missing (drop_last=True, or a loop that only "
                  "takes full batches). Keep every sample: drop_last=False, the DataLoader's default.")
HINT_SEPARATE = ("the labels no longer belong to their inputs: X and y were shuffled separately (two different "
                 "permutations). Shuffle the pairs together: TensorDataset(X, y) keeps each x with its y, and "
                 "DataLoader(..., shuffle=True) shuffles the pairs.")
HINT_NOT_SHUFFLED = ("with shuffle=True the samples must come in a random order: pass shuffle=shuffle to the "
                     "DataLoader.")
HINT_ORDER = "with shuffle=False the samples must come in their original order: pass shuffle=shuffle to the DataLoader."
HINT_SEED = ("the shuffling is not reproducible from `seed`: the order depends on torch's global random state. "
             "Give the DataLoader its own generator: DataLoader(..., shuffle=shuffle, "
             "generator=torch.Generator().manual_seed(seed)).")
HINT_SEED_ARGUMENT = ("DataLoader has no `seed` argument and its `generator` must be a torch.Generator, not an int: "
                      "generator=torch.Generator().manual_seed(seed).")
HINT_BATCH_MEAN = ("you averaged the batch losses over the batches, but the last batch is shorter than the others: "
                   "each batch's mean loss must be weighted by its size, total += loss.item() * len(xb), and the "
                   "sum divided by the number of samples.")
HINT_ITEM = "return a Python float: accumulate loss.item() (a tensor keeps its graph and its device)."
HINT_ZERO_GRAD = ("the gradients were not cleared before each step: backward() adds into .grad, so without "
                  "optimizer.zero_grad() at the start of every iteration (before loss.backward()) a step also "
                  "uses the gradients of earlier batches, and the first one uses the stale gradients that were "
                  "already there when train_epoch was called.")
HINT_NO_STEP = "the parameters did not change: call optimizer.step() after loss.backward() for every batch."

#: raised-exception hints of every make_loader check
LOADER_HINTS = {"unexpected keyword argument 'seed'": HINT_SEED_ARGUMENT, "(generator=int": HINT_SEED_ARGUMENT}

# key -> (n, batch_size, shuffle, seed)
LOADER_CASES = {
    "ordered": (10, 4, False, 0),
    "one_batch": (7, 16, False, 0),
    "shuffled": (20, 6, True, 7),
    "same_seed": (20, 6, True, 7),    # built again after the global random state moved on
    "other_seed": (20, 6, True, 8),
}
# key -> (n, batch_size)
EPOCH_CASES = {"regression": (10, 4), "classifier": (13, 5)}
ZERO_GRAD_VARIANTS = ("never", "once", "after_step")


def _call_text(key: str) -> str:
    n, batch_size, shuffle, seed = LOADER_CASES[key]
    return f"make_loader(X, y, batch_size={batch_size}, shuffle={shuffle}, seed={seed}) on {n} samples"


def _epoch_text(key: str) -> str:
    n, batch_size = EPOCH_CASES[key]
    sizes = _expected_sizes(n, batch_size)
    model = ("a Linear model and MSELoss" if key == "regression"
             else "a small MLP, CrossEntropyLoss and SGD with momentum")
    return f"train_epoch on {n} samples in batches of {sizes} ({model})"


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _loader_data(n: int, device: str):
    """X[i] = (i, (7 i mod n) / 2 - 1) and y[i] = 1000 + 3 i: every sample and pair is recognisable."""
    import torch

    i = torch.arange(n)
    X = torch.stack([i.float(), (i * 7 % n).float() / 2 - 1], dim=1).to(device)
    return X, (1000 + 3 * i).to(device)


def _loader_facts(loader) -> dict:
    from torch.utils.data import DataLoader, TensorDataset

    dataset: Any = getattr(loader, "dataset", None)  # the student's: len() may fail
    facts = {"type": type(loader).__name__, "is_dataloader": isinstance(loader, DataLoader),
             "dataset": type(dataset).__name__, "tensor_dataset": isinstance(dataset, TensorDataset),
             "batch_size": getattr(loader, "batch_size", None),
             "sampler_batch_size": getattr(getattr(loader, "batch_sampler", None), "batch_size", None)}
    try:
        facts["length"] = len(dataset)
    except Exception:  # noqa: BLE001 - a dataset without a length
        facts["length"] = None
    return facts


def _batches(loader, limit: int = 60) -> list:
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) >= limit:
            break
    return batches


def _epoch_setup(key: str, device: str) -> dict:
    """The grader's model, loader, loss and optimizer for one train_epoch case, stale gradients included."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    n, batch_size = EPOCH_CASES[key]
    g = torch.Generator().manual_seed(800 + n)
    model: nn.Module
    base_loss: nn.Module
    if key == "regression":
        X = torch.randn(n, 3, generator=g)
        y = X @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3
        y[-(n % batch_size):] += 4.0  # the short last batch has a much larger loss than the others
        model, base_loss = nn.Linear(3, 1), nn.MSELoss()
    else:
        X = torch.randn(n, 4, generator=g)
        y = torch.randint(0, 3, (n,), generator=g)
        model, base_loss = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)), nn.CrossEntropyLoss()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    model.to(device)
    if key == "regression":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    for p in model.parameters():  # stale gradients, as after an earlier backward()
        p.grad = torch.full_like(p, 0.75)
    calls: list = []

    def loss_fn(prediction, target):
        loss = base_loss(prediction, target)
        try:
            calls.append([float(loss.detach()), int(target.shape[0])])
        except Exception:  # noqa: BLE001 - whatever the student passed, the loss is still returned
            calls.append(None)
        return loss

    loader = DataLoader(TensorDataset(X.to(device), y.to(device)), batch_size=batch_size, shuffle=False)
    return {"model": model, "loader": loader, "loss_fn": loss_fn, "optimizer": optimizer, "calls": calls}


def _params(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _train_variant(setup: dict, mode: str) -> dict:
    """One epoch with a known zero_grad mistake (for the hint): never cleared, cleared once
    before the loop, or cleared after each step (the stale gradients reach the first step)."""
    model, optimizer = setup["model"], setup["optimizer"]
    if mode == "once":
        optimizer.zero_grad()
    for xb, yb in setup["loader"]:
        loss = setup["loss_fn"](model(xb), yb)
        loss.backward()
        optimizer.step()
        if mode == "after_step":
            optimizer.zero_grad()
    return _params(model)


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("make_loader")
def _probe_make_loader(student, rec):
    import torch

    from grader.api import FAILED

    for key, (n, batch_size, shuffle, seed) in LOADER_CASES.items():
        X, y = _loader_data(n, rec.device)
        if key == "same_seed":
            torch.rand(5)  # the global random state moves on: a seeded loader does not care
        loader = rec.call(key, "make_loader", X, y, batch_size, shuffle, seed)
        if loader is FAILED:
            continue
        rec.call(key + ".facts", _loader_facts, loader)
        rec.call(key + ".batches", _batches, loader)


@exercise.probe("train_epoch")
def _probe_train_epoch(student, rec):
    for key in EPOCH_CASES:
        for mode in ZERO_GRAD_VARIANTS:
            rec.record(f"{key}.variant.{mode}", _train_variant(_epoch_setup(key, rec.device), mode))
        setup = _epoch_setup(key, rec.device)
        rec.record(key + ".initial", _params(setup["model"]))
        rec.call(key + ".loss", "train_epoch", setup["model"], setup["loader"], setup["loss_fn"], setup["optimizer"])
        rec.record(key + ".batch_losses", list(setup["calls"]))
        rec.record(key + ".params", _params(setup["model"]))


# ------------------------------------------------------------------ helpers (trusted side)
def _what(value: Any) -> str:
    """describe(), with containers by type and size (their items' reprs are not for students)."""
    if isinstance(value, (list, tuple, dict)):
        kind = getattr(value, "type_name", type(value).__name__)
        return f"a {kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return describe(value)


def _samples(ctx, key: str) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None, str]:
    """The loader's batches as (x, y) arrays, or None and what is wrong with them."""
    batches = ctx.got(key + ".batches")
    if not isinstance(batches, list):
        return None, f"iterating the loader gave {_what(batches)}"
    pairs = []
    for number, batch in enumerate(batches, 1):
        if not (isinstance(batch, (list, tuple)) and len(batch) == 2
                and all(isinstance(t, TensorValue) and t.data is not None for t in batch)):
            return None, (f"batch {number} should be a pair [x_batch, y_batch] of tensors (what a DataLoader over "
                          f"TensorDataset(X, y) yields); got {_what(batch)}")
        xb, yb = (t.data for t in batch)
        if not (np.all(np.isfinite(xb.astype(np.float64))) and np.all(np.isfinite(yb.astype(np.float64)))):
            return None, f"batch {number} holds NaN or inf"
        if xb.ndim != 2 or xb.shape[1] != 2 or yb.shape != (xb.shape[0],):
            return None, (f"batch {number}: expected x of shape (b, 2) and y of shape (b,); got x of shape "
                          f"{list(xb.shape)} and y of shape {list(yb.shape)}")
        pairs.append((xb.astype(np.float64), yb.astype(np.float64)))
    return pairs, ""


def _ids(pairs) -> list[int]:
    return [int(round(v)) for xb, _ in pairs for v in xb[:, 0]]


def _pair_problem(pairs, n: int) -> str | None:
    """A yielded sample whose x or y is not one of the data set's pairs (see _loader_data)."""
    for number, (xb, yb) in enumerate(pairs, 1):
        for row, (x, label) in enumerate(zip(xb, yb)):
            i = int(round(x[0])) if np.isfinite(x[0]) else -1
            if not 0 <= i < n or x[1] != (i * 7 % n) / 2 - 1:
                return f"batch {number}, row {row}: x = {x.tolist()} is not one of the inputs"
            if label != 1000 + 3 * i:
                j = (label - 1000) / 3
                owner = f" (the label of sample {int(j)})" if j == int(j) and 0 <= j < n else ""
                return (f"batch {number}, row {row}: the input of sample {i} comes with the label {label:g}{owner}; "
                        f"its own label is {1000 + 3 * i}")
    return None


def _lost_in_ordered(ctx) -> bool:
    """Whether the unshuffled loader already lost samples (charged in make_loader.batches)."""
    if not isinstance(ctx.raw("ordered.batches"), list):
        return False
    pairs, _ = _samples(ctx, "ordered")
    return pairs is not None and sorted(_ids(pairs)) != list(range(LOADER_CASES["ordered"][0]))


def _sizes_text(sizes: list[int]) -> str:
    return f"{len(sizes)} batch{'es' if len(sizes) != 1 else ''} of sizes {sizes}"


def _expected_sizes(n: int, batch_size: int) -> list[int]:
    return [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])


def _lost_verdict(call: str, pairs, n: int, batch_size: int) -> Verdict:
    sizes = [len(xb) for xb, _ in pairs]
    seen = len(set(_ids(pairs)))
    verdict = Verdict(False, f"{call}: expected {_sizes_text(_expected_sizes(n, batch_size))} ({n} samples); got "
                             f"{_sizes_text(sizes)} ({sum(sizes)} samples, {n - seen} of the {n} never yielded)")
    if all(s == batch_size for s in sizes) and n % batch_size:
        verdict.hint = HINT_DROP_LAST
    return verdict


def _as_float(value: Any) -> tuple[float | None, bool]:
    """(the number, whether it is a Python float as the contract asks); a NumPy float64 is a
    Python float (a subclass); a one-element tensor or other NumPy float gives its number."""
    if type(value) is float:
        return value, True
    if isinstance(value, TensorValue) and value.data is not None and value.data.size == 1 \
            and value.dtype.startswith(("float", "bfloat")):
        return float(value.data.reshape(-1)[0]), value.kind == "numpy_scalar" and value.dtype == "float64"
    return None, False


# ------------------------------------------------------------------ checks: make_loader
@exercise.check("make_loader.dataloader", points=1.0, probe="make_loader", requires=("make_loader",),
                hints=LOADER_HINTS)
def _check_dataloader(ctx):
    """make_loader returns a DataLoader over a TensorDataset with the batch size asked for"""
    for key in ("ordered", "shuffled"):
        n, batch_size, _, _ = LOADER_CASES[key]
        ctx.got(key)
        facts = ctx.got(key + ".facts")
        call = _call_text(key)
        if not facts.get("is_dataloader"):
            return Verdict(False, f"{call} should return a torch.utils.data.DataLoader; got a {facts.get('type')}",
                           hint=HINT_TENSOR_DATASET)
        if not facts.get("tensor_dataset"):
            return Verdict(False, f"{call}: the loader's dataset should be a TensorDataset of (X, y); it is a "
                                  f"{facts.get('dataset')}", hint=HINT_TENSOR_DATASET)
        if facts.get("length") != n:
            return Verdict(False, f"{call}: the dataset should hold the {n} samples; it holds {facts.get('length')}")
        if batch_size not in (as_int(facts.get("batch_size")), as_int(facts.get("sampler_batch_size"))):
            return Verdict(False, f"{call}: expected a loader with batch_size={batch_size}; it has batch_size="
                                  f"{describe(facts.get('batch_size'))}")
    return Verdict(True, "a DataLoader over a TensorDataset of all the samples, with the batch size asked for")


@exercise.check("make_loader.batches", points=2.0, probe="make_loader", requires=("make_loader",),
                hints=LOADER_HINTS)
def _check_batches(ctx):
    """with shuffle=False the loader yields every (x, y) pair once, in order, in batches of batch_size"""
    for key in ("ordered", "one_batch"):
        n, batch_size, _, _ = LOADER_CASES[key]
        call = _call_text(key)
        ctx.got(key)
        pairs, problem = _samples(ctx, key)
        if pairs is None:
            return Verdict(False, f"{call}: {problem}")
        ids = _ids(pairs)
        if sorted(ids) != list(range(n)):
            if len(set(ids)) < n and len(ids) == len(set(ids)):
                return _lost_verdict(call, pairs, n, batch_size)
            return Verdict(False, f"{call}: expected each of the {n} samples exactly once; got {len(ids)} samples, "
                                  f"{len(set(ids))} of them different")
        pair_problem = _pair_problem(pairs, n)
        if pair_problem:
            return Verdict(False, f"{call}: {pair_problem}", hint=HINT_SEPARATE)
        if ids != list(range(n)):
            return Verdict(False, f"{call}: expected the samples in their original order 0, 1, 2, ...; got them in "
                                  f"the order {ids[:12]}{'...' if len(ids) > 12 else ''}", hint=HINT_ORDER)
        sizes = [len(xb) for xb, _ in pairs]
        if sizes != _expected_sizes(n, batch_size):
            return Verdict(False, f"{call}: expected {_sizes_text(_expected_sizes(n, batch_size))}; got "
                                  f"{_sizes_text(sizes)}")
    return Verdict(True, "every sample, in order, in batches of batch_size (the last one shorter)")


@exercise.check("make_loader.shuffled", points=1.5, probe="make_loader", requires=("make_loader",),
                hints=LOADER_HINTS)
def _check_shuffled(ctx):
    """with shuffle=True the loader yields every (x, y) pair once, in a shuffled order"""
    n, batch_size, _, _ = LOADER_CASES["shuffled"]
    call = _call_text("shuffled")
    ctx.got("shuffled")
    pairs, problem = _samples(ctx, "shuffled")
    if pairs is None:
        return Verdict(False, f"{call}: {problem}")
    pair_problem = _pair_problem(pairs, n)
    if pair_problem:
        return Verdict(False, f"{call}: {pair_problem}", hint=HINT_SEPARATE)
    ids = _ids(pairs)
    if sorted(ids) != list(range(n)):
        if not (_lost_in_ordered(ctx) and len(ids) == len(set(ids))):  # lost samples: charged in make_loader.batches
            if len(ids) == len(set(ids)):
                return _lost_verdict(call, pairs, n, batch_size)
            return Verdict(False, f"{call}: expected each of the {n} samples exactly once; got {len(ids)} samples, "
                                  f"{len(set(ids))} of them different")
    if ids == sorted(ids):
        return Verdict(False, f"{call}: the samples came in their original order 0, 1, 2, ...: not shuffled",
                       hint=HINT_NOT_SHUFFLED)
    return Verdict(True, f"every sample once, with its label, in a shuffled order ({ids[:6]}...)")


@exercise.check("make_loader.reproducible", points=1.5, probe="make_loader", requires=("make_loader",),
                hints=LOADER_HINTS)
def _check_reproducible(ctx):
    """the shuffled order is reproducible from `seed` (and another seed gives another order)"""
    orders = {}
    for key in ("shuffled", "same_seed", "other_seed"):
        ctx.got(key)
        pairs, problem = _samples(ctx, key)
        if pairs is None:
            return Verdict(False, f"{_call_text(key)}: {problem}")
        orders[key] = _ids(pairs)
    if all(order == sorted(order) for order in orders.values()):
        return Verdict(True, "the loader does not shuffle, so its order is trivially reproducible (the missing "
                             "shuffle is charged in make_loader.shuffled)")
    if orders["same_seed"] != orders["shuffled"]:
        return Verdict(False, f"two loaders built with seed=7 gave different orders ({orders['shuffled'][:8]}... and "
                              f"{orders['same_seed'][:8]}...) once torch's global random state had moved on",
                       hint=HINT_SEED)
    if orders["other_seed"] == orders["shuffled"]:
        return Verdict(False, f"seed=7 and seed=8 gave the same order ({orders['shuffled'][:8]}...): the order must "
                              "depend on the seed", hint=HINT_SEED)
    return Verdict(True, "the same seed gives the same order, whatever torch's global random state; another seed "
                         "another order")


# ------------------------------------------------------------------ checks: train_epoch
@exercise.check("train_epoch.mean_loss", points=2.0, probe="train_epoch", requires=("train_epoch",))
def _check_mean_loss(ctx):
    """train_epoch returns the mean loss over samples (batches weighted by their size) as a Python float"""
    fraction = 1.0
    for key in EPOCH_CASES:
        call = _epoch_text(key)
        got = ctx.got(key + ".loss")
        value, plain = _as_float(got)
        if value is None:
            return Verdict(False, f"{call}: expected the mean loss as a Python float; got {_what(got)}",
                           hint=HINT_ITEM if isinstance(got, TensorValue) else None)
        calls = [c for c in ctx.got(key + ".batch_losses") if isinstance(c, list) and len(c) == 2]
        candidates = [("the reference's epoch", float(ctx.expected(key + ".loss")))]
        if calls and sum(b for _, b in calls) > 0:
            losses = np.array([v for v, _ in calls], dtype=np.float64)
            sizes = np.array([b for _, b in calls], dtype=np.float64)
            candidates.insert(0, ("the batches your loop computed", float((losses * sizes).sum() / sizes.sum())))
            batch_mean = float(losses.mean())
        else:
            batch_mean = None
        if not any(compare_arrays(np.array([value]), np.array([c])).passed for _, c in candidates):
            what, target = candidates[0]
            verdict = Verdict(False, f"{call}: expected {target:.6g}, the mean over the samples of the losses of "
                                     f"{what}; got {value:.6g}")
            if batch_mean is not None and compare_arrays(np.array([value]), np.array([batch_mean])).passed:
                verdict.hint = HINT_BATCH_MEAN
            return verdict
        if not plain:
            fraction = 0.5
            kind = describe(got)
    if fraction < 1:
        return Verdict(False, f"the mean losses are right, but returned as {kind}, not a Python float",
                       hint=HINT_ITEM, fraction=fraction)
    return Verdict(True, "the mean loss over the samples, as a Python float, in both cases")


@exercise.check("train_epoch.steps", points=2.0, probe="train_epoch", requires=("train_epoch",))
def _check_steps(ctx):
    """train_epoch takes one optimizer step per batch, clearing the gradients before each"""
    for key in EPOCH_CASES:
        call = _epoch_text(key)
        ctx.got(key + ".loss")
        got = ctx.got(key + ".params")
        expected = ctx.expected(key + ".params")
        initial = ctx.expected(key + ".initial")
        for name, value in expected.items():
            verdict = compare_tensors(got.get(name), value, what=f"{call}: the model's {name} after the epoch")
            if verdict.passed:
                continue
            if all(matches(got.get(k), v) for k, v in initial.items()):
                verdict.hint = HINT_NO_STEP
            elif any(all(matches(got.get(k), v) for k, v in ctx.expected(f"{key}.variant.{mode}").items())
                     for mode in ZERO_GRAD_VARIANTS):
                verdict.hint = HINT_ZERO_GRAD
            return verdict
    return Verdict(True, "the parameters after the epoch match one optimizer step per batch, in both cases")

