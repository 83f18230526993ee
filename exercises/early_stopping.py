"""Exercise 9, early_stopping: validation-based early stopping.

``EarlyStopping`` is fed fixed sequences of validation losses made of exactly
representable numbers (so ``val < best - min_delta`` and ``best - val > min_delta`` agree
to the bit), and ``step``'s answers are compared up to the call that must stop. The known
mistakes are recognised by simulating them on the trusted side, in plain Python.

``train_with_early_stopping`` gets spies: ``train_step`` moves every parameter by +0.5 and
every buffer by +1 per epoch (in place, like an optimizer does), ``val_loss_fn`` returns
a scripted loss for the epoch, and the model records each ``load_state_dict``. The model
it leaves therefore says which epoch its weights (and, separately, its buffers) come from,
and whether the "best" state was a live reference to the model's own tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grader.api import Exercise, TensorValue, Verdict, as_int, describe

exercise = Exercise(
    id="early_stopping",
    title="Early stopping",
    names=("EarlyStopping", "train_with_early_stopping"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "early_stopping.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "early_stopping",
    description="EarlyStopping, train_with_early_stopping",
)

HINT_LATE = ("step() returned True one call late: with patience=p, the p-th call in a row without improvement "
             "must already return True (counter >= patience, not counter > patience).")
HINT_EARLY = ("step() returned True one call early: it must take `patience` calls in a row without improvement, "
              "counted after the best loss (counter >= patience, with the counter at 0 after an improvement).")
HINT_NO_RESET = ("the counter of calls without improvement must go back to 0 whenever the loss improves: patience "
                 "counts consecutive calls without improvement, not all of them.")
HINT_GE = ("an improvement must be larger than min_delta: val_loss < best_loss - min_delta, strictly. A loss equal "
           "to the best one, or better by exactly min_delta, is not an improvement (use >, not >=).")
HINT_BEST_INIT = ("start best_loss at float('inf') (not None), so that the first loss always counts as an "
                  "improvement and comparisons never meet None.")
HINT_BEST_LOSS = "best_loss must hold the best (lowest) validation loss so far, updated on every improvement."
HINT_EPOCH_COUNT = ("return the number of epochs run, i.e. how many times train_step was called: with "
                    "`for epoch in range(max_epochs)` that is epoch + 1, not epoch.")
HINT_STOP_LATE = ("training stopped one epoch late: call step(val_loss) once per epoch, right after that epoch's "
                  "validation loss, and stop as soon as it returns True (the epoch that triggers the stop counts "
                  "as run).")
HINT_STOP_EARLY = ("training stopped one epoch early: train and validate the epoch first, then ask step(val_loss), "
                   "and stop only when it returns True.")
HINT_SHALLOW = ("model.state_dict() holds references to the model's live tensors, which keep changing as training "
                "goes on, so the \"best\" state you kept is the last one. Keep a deep copy: "
                "best_state = copy.deepcopy(model.state_dict()) (or {k: v.clone() for k, v in ...items()}).")
HINT_NOT_RESTORED = ("the best weights were never restored: after the loop, load them back into the model passed "
                     "in, model.load_state_dict(best_state) (assigning a copy to a local variable does not change "
                     "the caller's model).")
HINT_SAVE_BEST = ("keep a copy of the state only when the validation loss improves (the epoch whose loss is the "
                  "lowest), and load that copy back at the end.")
HINT_BUFFERS = ("the weights are restored but not the buffers (e.g. BatchNorm's running_mean): copy and restore "
                "the whole model.state_dict(), which holds both, not just the parameters.")
HINT_LOAD_MODULE = ("load_state_dict takes a state dict, not a model: model.load_state_dict(best_state) with "
                    "best_state = copy.deepcopy(model.state_dict()).")
HINT_DEEPCOPY = "a state dict has no .deepcopy() method: import copy and use copy.deepcopy(model.state_dict())."

STOPPER_HINTS = {"and 'NoneType'": HINT_BEST_INIT, "'NoneType' and": HINT_BEST_INIT}
TRAIN_HINTS = {**STOPPER_HINTS, "Expected state_dict to be dict-like": HINT_LOAD_MODULE,
               "object has no attribute 'deepcopy'": HINT_DEEPCOPY}

# key -> (positional args, keyword args, validation losses)
# key -> (positional args, keyword args, the losses fed to step())
STOPPER_CASES: dict[str, tuple[tuple[int, ...], dict[str, Any], list[float]]] = {
    "patience_3": ((), {"patience": 3}, [2.0, 2.5, 3.0, 2.25, 2.75]),
    "patience_1": ((1,), {}, [3.0, 3.5, 1.0]),
    "defaults": ((), {}, [1.0, 1.5, 1.25, 1.75, 1.5, 2.0, 1.0]),
    "keywords": ((), {"min_delta": 0.0, "patience": 2}, [0.5, 0.75, 0.625, 0.5]),
    "reset": ((), {"patience": 3}, [5.0, 4.0, 4.5, 4.25, 3.5, 3.75, 3.625, 4.0, 3.0]),
    "reset_twice": ((), {"patience": 2}, [1.0, 1.5, 0.75, 1.0, 0.5, 0.625, 0.875]),
    "plateau": ((), {"patience": 2}, [2.0, 1.0, 1.0, 1.0, 0.5]),
    "min_delta": ((), {"patience": 2, "min_delta": 0.25}, [1.0, 0.75, 0.75, 1.0]),
    "min_delta_reset": ((), {"patience": 2, "min_delta": 0.25}, [2.0, 1.5, 1.75, 1.25, 1.0, 1.0]),
}
PATIENCE_CASES = ("patience_3", "patience_1", "defaults", "keywords")
RESET_CASES = ("reset", "reset_twice")
MIN_DELTA_CASES = ("plateau", "min_delta", "min_delta_reset")
BEST_LOSS_CASES = ("patience_3", "reset", "reset_twice", "plateau")  # min_delta = 0: best_loss is the running min


def _tail(start: float, count: int) -> list[float]:
    """Losses that never improve on the best (what a late stop would see next)."""
    return [start + 0.125 * j for j in range(count)]


# key -> (max_epochs, patience, validation loss of each epoch)
TRAIN_CASES = {
    "stops": (20, 3, [4.0, 3.0, 2.0, 2.5, 2.25, 3.0] + _tail(2.75, 14)),
    "improves_late": (20, 2, [3.0, 2.0, 2.5, 1.0, 1.5, 1.25] + _tail(1.75, 14)),
    "best_first": (10, 2, [1.0, 2.0, 3.0] + _tail(2.5, 7)),
    "runs_out": (4, 3, [2.0, 1.75, 1.5, 1.25]),
}
PARAM_STEP, BUFFER_STEP = 0.5, 1.0  # what the spy train_step adds per epoch
PARAMS = ("linear.weight", "linear.bias", "norm.weight", "norm.bias")
BUFFERS = ("norm.running_mean", "norm.running_var", "norm.num_batches_tracked")


def _stopper_text(key: str) -> str:
    args, kwargs, losses = STOPPER_CASES[key]
    inside = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return f"EarlyStopping({inside}) fed the losses {losses}"


def _train_text(key: str) -> str:
    max_epochs, patience, losses = TRAIN_CASES[key]
    shown = losses[:8]
    return (f"train_with_early_stopping(model, train_step, val_loss_fn, max_epochs={max_epochs}, "
            f"patience={patience}) with validation losses {shown}{'...' if len(losses) > len(shown) else ''}")


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _run_stopper(cls, args, kwargs, losses) -> dict:
    stopper = cls(*args, **kwargs)
    stops, best = [], []
    for loss in losses:
        stops.append(stopper.step(loss))
        best.append(getattr(stopper, "best_loss", "<no attribute best_loss>"))
    return {"stops": stops, "best": best}


def _state(model) -> dict:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _load_facts(target, model, state_dict) -> dict:
    """What a load_state_dict call was given: into the caller's model? tensors shared with it?"""
    facts = {"into_model": target is model, "shares_storage": False}
    try:
        live = {t.data_ptr() for t in [*model.parameters(), *model.buffers()]}
        facts["shares_storage"] = any(hasattr(v, "data_ptr") and v.data_ptr() in live for v in state_dict.values())
    except Exception:  # noqa: BLE001 - whatever the student passed, load_state_dict judges it
        pass
    return facts


def _spy_training(key: str, device: str) -> dict:
    import torch
    from torch import nn

    max_epochs, _, losses = TRAIN_CASES[key]
    loads: list = []
    count = {"train": 0}

    class SpyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)
            self.norm = nn.BatchNorm1d(2)

        def forward(self, x):
            return self.norm(self.linear(x))

        def load_state_dict(self, state_dict, *args, **kwargs):
            loads.append(_load_facts(self, model, state_dict))
            return super().load_state_dict(state_dict, *args, **kwargs)

    g = torch.Generator().manual_seed(900 + len(key))
    model = SpyNet()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        running_mean = model.norm.running_mean
        assert running_mean is not None  # a BatchNorm1d that tracks its statistics
        running_mean.copy_(torch.randn(2, generator=g))
    model.to(device)

    def train_step(*args, **kwargs):
        count["train"] += 1
        if count["train"] > max_epochs + 5:
            raise RuntimeError(f"train_step was called more than max_epochs={max_epochs} times")
        with torch.no_grad():
            for p in model.parameters():
                p.add_(PARAM_STEP)
            for b in model.buffers():
                b.add_(int(BUFFER_STEP))

    def val_loss_fn(*args, **kwargs):
        epoch = count["train"]
        return losses[epoch - 1] if 1 <= epoch <= len(losses) else 100.0

    return {"model": model, "train_step": train_step, "val_loss_fn": val_loss_fn, "loads": loads, "count": count}


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("EarlyStopping")
def _probe_stopper(student, rec):
    if not student.has("EarlyStopping"):
        return
    for key, (args, kwargs, losses) in STOPPER_CASES.items():
        rec.call(key, _run_stopper, student.get("EarlyStopping"), args, kwargs, list(losses))


@exercise.probe("train_with_early_stopping")
def _probe_train(student, rec):
    for key, (max_epochs, patience, losses) in TRAIN_CASES.items():
        spy = _spy_training(key, rec.device)
        rec.record(key + ".initial", _state(spy["model"]))
        rec.call(key, "train_with_early_stopping", spy["model"], spy["train_step"], spy["val_loss_fn"], max_epochs,
                 patience)
        rec.record(key + ".train_calls", spy["count"]["train"])
        rec.record(key + ".final", _state(spy["model"]))
        rec.record(key + ".loads", list(spy["loads"]))
        if student.has("EarlyStopping"):  # how the student's own EarlyStopping would stop on these losses
            rec.call(key + ".own", _run_stopper, student.get("EarlyStopping"), (patience,), {}, list(losses))


# ------------------------------------------------------------------ helpers (trusted side)
def _simulate(losses, patience, min_delta=0.0, *, ge=False, reset=True, offset=0) -> list[bool]:
    """EarlyStopping as the contract says, or with a known mistake: `>=` for the min_delta
    comparison, no reset of the counter, or stopping `offset` calls late (early if negative)."""
    best, counter, stops = math.inf, 0, []
    for loss in losses:
        improved = (best - loss >= min_delta) if ge else (loss < best - min_delta)
        if improved:
            best = loss
            counter = 0 if reset else counter
        else:
            counter += 1
        stops.append(counter >= patience + offset)
    return stops


def _first_true(stops: Sequence[bool | None]) -> int | None:
    return next((i for i, s in enumerate(stops) if s), None)


def _as_bool(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if isinstance(value, TensorValue) and value.kind == "numpy_scalar" and value.dtype == "bool" \
            and value.data is not None:
        return bool(value.data.reshape(-1)[0])
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, TensorValue) and value.data is not None and value.data.size == 1 \
            and value.dtype != "bool":
        return float(value.data.reshape(-1)[0])
    return None


def _what(value: Any) -> str:
    """describe(), with containers by type and size (their items' reprs are not for students)."""
    if isinstance(value, (list, tuple, dict)):
        kind = getattr(value, "type_name", type(value).__name__)
        return f"a {kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return describe(value)


def _stops(ctx, key: str) -> tuple[list[bool], Verdict | None]:
    """step()'s answers for case ``key``, or (no answers) the verdict of why they cannot be used."""
    run = ctx.got(key)
    answers = run.get("stops") if isinstance(run, dict) else None
    if not isinstance(answers, list):
        return [], Verdict(False, f"{_stopper_text(key)}: the grader could not read step()'s answers")
    stops: list[bool] = []
    for number, answer in enumerate(answers, 1):
        value = _as_bool(answer)
        if value is None:
            return [], Verdict(False, f"{_stopper_text(key)}: step() should return a bool; call {number} "
                                        f"returned {_what(answer)}")
        stops.append(value)
    return stops, None


def _shown(stops: list[bool]) -> str:
    return "[" + ", ".join(map(str, stops)) + "]"


def _offset(ctx) -> int | None:
    """How many calls late (> 0) or early (< 0) the student's step() stops on the plain
    patience cases, when it is the same for all of them; None otherwise."""
    offsets = set()
    for key in PATIENCE_CASES:
        try:
            stops, problem = _stops(ctx, key)
        except Exception:  # noqa: BLE001 - a raise is judged by EarlyStopping.patience
            return None
        if problem:
            return None
        losses, patience, _ = _case(key)
        found = [o for o in (0, 1, -1) if _first_true(stops) == _first_true(_simulate(losses, patience, offset=o))]
        if not found:
            return None
        offsets.add(found[0])
    return offsets.pop() if len(offsets) == 1 else None


def _case(key: str) -> tuple[list[float], int, float]:
    args, kwargs, losses = STOPPER_CASES[key]
    return losses, kwargs.get("patience", args[0] if args else 5), kwargs.get("min_delta", 0.0)


def _judge_sequences(ctx, keys, mistakes: dict[str, tuple[dict, str]], allow_offset: bool) -> Verdict:
    """step()'s answers on ``keys`` up to the call that must stop; a mismatch gets the hint of
    the first known mistake (``{name: (simulation options, hint)}``) that explains every case."""
    answers = {}
    for key in keys:
        stops, problem = _stops(ctx, key)
        if problem:
            return problem
        answers[key] = stops
    offset = _offset(ctx) if allow_offset else 0
    offset = offset if offset in (1, -1) else 0
    for key in keys:
        stops = answers[key]
        expected = [bool(s) for s in ctx.expected(key)["stops"]]
        first = _first_true(expected)
        end = (first + 1) if first is not None else len(expected)
        losses, patience, min_delta = _case(key)
        if stops[:end] == expected[:end]:
            continue
        if offset and stops[:end] == _simulate(losses, patience, min_delta, offset=offset)[:end]:
            continue  # the same off-by-one as on the plain cases: charged once, in EarlyStopping.patience
        verdict = Verdict(False, f"{_stopper_text(key)}: expected step() to return {_shown(expected[:end])}; got "
                                 f"{_shown(stops[:end])}")
        for options, hint in mistakes.values():
            if all(_first_true(answers[k]) == _first_true(_simulate(*_case(k), **options)) for k in keys):
                verdict.hint = hint
                break
        return verdict
    return Verdict(True, f"step() answers right on all {len(keys)} sequences")


def _epoch_of(state: dict, initial: dict, names, step: float) -> int | None:
    """The epoch whose values ``state`` holds for ``names`` (the spy adds ``step`` per epoch), or None."""
    epochs = set()
    for name in names:
        got, start = state.get(name), initial[name]  # the reference's initial state has every name
        if not isinstance(got, TensorValue) or got.data is None or start.data is None or got.shape != start.shape:
            return None
        shift = (got.data.astype(np.float64) - start.data.astype(np.float64)) / step
        epoch = int(round(float(shift.mean()))) if np.all(np.isfinite(shift)) else None
        if epoch is None or not np.allclose(shift, epoch, atol=1e-3):
            return None
        epochs.add(epoch)
    return epochs.pop() if len(epochs) == 1 else None


def _own_epochs(ctx, key: str) -> int | None:
    """The epochs the student's own EarlyStopping would run on this case (None: unknown)."""
    run = ctx.raw(key + ".own")
    if not isinstance(run, dict) or not isinstance(run.get("stops"), list):
        return None
    stops = [_as_bool(s) for s in run["stops"]]
    if None in stops:
        return None
    first = _first_true(stops)
    return TRAIN_CASES[key][0] if first is None else min(first + 1, TRAIN_CASES[key][0])


# ------------------------------------------------------------------ checks: EarlyStopping
@exercise.check("EarlyStopping.patience", points=2.0, probe="EarlyStopping", requires=("EarlyStopping",),
                hints=STOPPER_HINTS)
def _check_patience(ctx):
    """step() returns True at the patience-th call in a row without improvement (defaults patience=5, min_delta=0)"""
    return _judge_sequences(ctx, PATIENCE_CASES, {"late": ({"offset": 1}, HINT_LATE),
                                                  "early": ({"offset": -1}, HINT_EARLY)}, allow_offset=False)


@exercise.check("EarlyStopping.reset", points=1.5, probe="EarlyStopping", requires=("EarlyStopping",),
                hints=STOPPER_HINTS)
def _check_reset(ctx):
    """an improvement resets the count of calls without improvement"""
    return _judge_sequences(ctx, RESET_CASES, {"no_reset": ({"reset": False}, HINT_NO_RESET)}, allow_offset=True)


@exercise.check("EarlyStopping.min_delta", points=1.5, probe="EarlyStopping", requires=("EarlyStopping",),
                hints=STOPPER_HINTS)
def _check_min_delta(ctx):
    """only an improvement by more than min_delta counts (an equal loss is no improvement)"""
    return _judge_sequences(ctx, MIN_DELTA_CASES, {"ge": ({"ge": True}, HINT_GE)}, allow_offset=True)


@exercise.check("EarlyStopping.best_loss", points=1.0, probe="EarlyStopping", requires=("EarlyStopping",),
                hints=STOPPER_HINTS)
def _check_best_loss(ctx):
    """best_loss holds the lowest validation loss so far"""
    for key in BEST_LOSS_CASES:
        run = ctx.got(key)
        got = run.get("best") if isinstance(run, dict) else None
        expected = ctx.expected(key)["best"]
        end = _first_true([bool(s) for s in ctx.expected(key)["stops"]])
        end = len(expected) if end is None else end + 1
        for number, (g, e) in enumerate(zip((got or [])[:end], expected[:end]), 1):
            value = _as_number(g)
            if value is None or not math.isclose(value, e, rel_tol=1e-6, abs_tol=1e-9):
                what = f"{g!r}" if isinstance(g, str) else (f"{value:g}" if value is not None else _what(g))
                return Verdict(False, f"{_stopper_text(key)}: after call {number}, expected best_loss = {e:g}; "
                                      f"got {what}", hint=HINT_BEST_LOSS)
    return Verdict(True, "best_loss follows the lowest loss so far")


# ------------------------------------------------------------------ checks: train_with_early_stopping
@exercise.check("train_with_early_stopping.epochs", points=2.0, probe="train_with_early_stopping",
                requires=("train_with_early_stopping",), hints=TRAIN_HINTS)
def _check_epochs(ctx):
    """train_with_early_stopping stops at the right epoch and returns the number of epochs run"""
    for key in TRAIN_CASES:
        call = _train_text(key)
        got = ctx.got(key)
        calls = ctx.got(key + ".train_calls")
        expected = ctx.expected(key)
        own = _own_epochs(ctx, key)
        if calls != expected and not (own is not None and own != expected and calls == own):
            verdict = Verdict(False, f"{call}: expected training to stop after epoch {expected} (train_step called "
                                     f"{expected} times); it ran {calls} epoch(s)")
            if calls == expected + 1:
                verdict.hint = HINT_STOP_LATE
            elif calls == expected - 1:
                verdict.hint = HINT_STOP_EARLY
            return verdict
        number = as_int(got)
        if number is None:
            return Verdict(False, f"{call}: expected the number of epochs run as an int ({calls}); got "
                                  f"{_what(got)}")
        if number != calls:
            verdict = Verdict(False, f"{call}: it ran {calls} epochs (train_step called {calls} times) but returned "
                                     f"{number}")
            if abs(number - calls) == 1:
                verdict.hint = HINT_EPOCH_COUNT
            return verdict
    return Verdict(True, f"stops at the right epoch and returns the number of epochs in all {len(TRAIN_CASES)} cases")


@exercise.check("train_with_early_stopping.best_weights", points=2.0, probe="train_with_early_stopping",
                requires=("train_with_early_stopping",), hints=TRAIN_HINTS)
def _check_best_weights(ctx):
    """the model ends with the weights and buffers of its best epoch (a deep copy restored)"""
    for key, (_max_epochs, _patience, losses) in TRAIN_CASES.items():
        call = _train_text(key)
        ctx.got(key)
        calls = ctx.got(key + ".train_calls")
        if not calls:
            return Verdict(False, f"{call}: train_step was never called")
        run = losses[:min(calls, len(losses))]
        best = 1 + int(np.argmin(run))
        final, initial = ctx.got(key + ".final"), ctx.expected(key + ".initial")
        weights = _epoch_of(final, initial, PARAMS, PARAM_STEP)
        buffers = _epoch_of(final, initial, BUFFERS, BUFFER_STEP)
        if weights == best and buffers == best:
            continue
        wanted = f"those of epoch {best}, whose validation loss {losses[best - 1]:g} is the lowest of the {calls} run"
        if weights == best:
            where = f"epoch {buffers}" if buffers is not None else "no single epoch"
            return Verdict(False, f"{call}: the weights are {wanted}, but the buffers (BatchNorm's running_mean, "
                                  f"running_var, num_batches_tracked) are from {where}", hint=HINT_BUFFERS,
                           fraction=0.5)
        holds = (f"the weights of epoch {weights}" + (" (the last one)" if weights == calls else "")
                 + (" (before training)" if weights == 0 else "")) if weights is not None \
            else "weights that are not those of any epoch"
        verdict = Verdict(False, f"{call}: the model ends with {holds}; expected {wanted}")
        if weights == calls:
            loads = [load for load in ctx.got(key + ".loads") if isinstance(load, dict) and load.get("into_model")]
            if any(load.get("shares_storage") for load in loads):
                verdict.hint = HINT_SHALLOW
            elif not loads:
                verdict.hint = HINT_NOT_RESTORED
            else:
                verdict.hint = HINT_SAVE_BEST
        return verdict
    return Verdict(True, f"the best epoch's weights and buffers are restored in all {len(TRAIN_CASES)} cases")

