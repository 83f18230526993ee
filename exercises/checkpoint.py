"""Exercise 6, checkpoint: saving and resuming training.

The student's file is written in the sandbox's working folder and opened only there,
with ``torch.load(path, weights_only=True)``: what comes back to the trusted side is the
plain-data encoding of what that load returned, never the file. The checks find the
model's and the optimizer's state and the epoch by structure and compare them exactly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

import grader
from grader.codec import Raised, TensorValue
from grader.exercise import Exercise, Verdict
from grader.judging import describe

exercise = Exercise(
    id="checkpoint",
    title="Saving and resuming training",
    names=("save_checkpoint", "load_checkpoint"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "checkpoint.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "checkpoint",
    description="save_checkpoint, load_checkpoint",
)

EPOCH = 7
ROUND_TRIP_FILE = ("checkpoints", "epoch_7.ckpt")
RESUME_FILE = ("resume", "step_5.ckpt")

HINT_WHOLE_MODEL = ("torch.save(model) (or an optimizer object) pickles the whole Python object, which "
                    "torch.load(path, weights_only=True) refuses to load for safety. Save plain data instead: "
                    "{'model_state': model.state_dict(), 'optimizer_state': optimizer.state_dict(), "
                    "'epoch': epoch}, and restore it with model.load_state_dict(...) and "
                    "optimizer.load_state_dict(...).")
HINT_PLAIN_VALUES = ("weights_only loading accepts tensors, dicts, lists, tuples, strings and Python numbers only: "
                     "store the epoch as int(epoch), not a NumPy number or another object.")
HINT_OPTIMIZER = ("save optimizer.state_dict() in the checkpoint and restore it with optimizer.load_state_dict(...): "
                  "Adam's moment estimates (exp_avg, exp_avg_sq) and step count are part of the training state, "
                  "and a fresh optimizer starts them from zero.")
HINT_IN_PLACE = ("restore into the model passed as an argument: model.load_state_dict(checkpoint[...]). Creating "
                 "or assigning a new model inside load_checkpoint does not change the caller's model.")
HINT_BUFFERS = ("save model.state_dict(), not just the parameters: the state dict also holds buffers such as "
                "BatchNorm's running_mean, running_var and num_batches_tracked.")
HINT_EPOCH = "return the epoch as a Python int, e.g. int(checkpoint['epoch']) (not a tensor or a float)."
HINT_ONE_FILE = ("write everything into the one file at `path` (a dict holding both state dicts and the epoch); "
                 "no extra files next to it, no fixed file names in the working folder.")


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _work_folder() -> str:
    """The sandbox's working folder (private); a fresh temporary folder where it is not writable."""
    import os
    import tempfile

    base = os.getcwd()
    if base == "/" or not os.access(base, os.W_OK):
        base = tempfile.mkdtemp(prefix="grader-checkpoint-")
    return base


def _watched_root(base: str) -> str:
    """In the sandbox, /tmp is private and the working folder lies in it: watch all of /tmp."""
    return "/tmp" if base == "/tmp/work" else base


def _listing(root: str) -> dict[str, list[int]]:
    import os

    files = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            files[os.path.relpath(full, root)] = [int(st.st_size), int(st.st_mtime_ns)]
    return files


def _make_model():
    from torch import nn

    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


def _train(model, optimizer, X, y, steps: int) -> None:
    import torch

    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), y)
        loss.backward()
        optimizer.step()


def _state(model, optimizer=None) -> dict:
    import copy

    state = {"model": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    if optimizer is not None:
        state["optimizer"] = copy.deepcopy(optimizer.state_dict())
    return state


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("round_trip", timeout=30)
def _probe_round_trip(student, rec):
    import os

    import torch

    from grader.sandbox.student import FAILED

    base = _work_folder()
    root = _watched_root(base)
    path = os.path.join(base, *ROUND_TRIP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rec.record("path", os.path.relpath(path, root))
    rec.record("root", root)

    torch.manual_seed(0)
    model = _make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    X, y = torch.randn(16, 5), torch.randn(16, 3)
    _train(model, optimizer, X, y, 3)
    rec.record("saved", {**_state(model, optimizer), "epoch": EPOCH})

    rec.record("files.before", _listing(root))
    saved = rec.call("save", "save_checkpoint", path, model, optimizer, EPOCH)
    rec.record("files.after_save", _listing(root))
    rec.record("file_exists", os.path.isfile(path))
    if saved is FAILED or not os.path.isfile(path):
        return
    rec.call("weights_only", torch.load, path, weights_only=True)

    torch.manual_seed(1)
    fresh = _make_model()
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.5)  # load_state_dict restores lr too
    rec.record("fresh", _state(fresh))
    rec.call("epoch", "load_checkpoint", path, fresh, fresh_optimizer)
    rec.record("restored", _state(fresh, fresh_optimizer))
    rec.record("files.after_load", _listing(root))


@exercise.probe("resume", timeout=30)
def _probe_resume(student, rec):
    import os

    import torch

    from grader.sandbox.student import FAILED

    path = os.path.join(_work_folder(), *RESUME_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.manual_seed(0)
    X, y = torch.randn(32, 5), torch.randn(32, 3)

    def fresh(seed):
        torch.manual_seed(seed)
        model = _make_model()
        return model, torch.optim.Adam(model.parameters(), lr=0.01)

    model, optimizer = fresh(10)
    _train(model, optimizer, X, y, 10)
    rec.record("uninterrupted", _state(model)["model"])

    model, optimizer = fresh(10)
    _train(model, optimizer, X, y, 5)
    if rec.call("save", "save_checkpoint", path, model, optimizer, 5) is FAILED:
        return
    del model, optimizer
    model, optimizer = fresh(20)
    if rec.call("load", "load_checkpoint", path, model, optimizer) is FAILED:
        return
    rec.call("train_more", _train, model, optimizer, X, y, 5)
    rec.record("resumed", _state(model)["model"])


# ------------------------------------------------------------------ comparing plain data (trusted side)
def _difference(got: Any, expected: Any, where: str = "") -> str | None:
    """Where ``got`` differs from ``expected`` (exactly: bit-for-bit tensors), or None."""
    if isinstance(expected, TensorValue):
        if not isinstance(got, TensorValue):
            return f"{where or 'the value'}: expected {expected.describe()}; got {describe(got)}"
        if tuple(got.shape) != tuple(expected.shape) or got.dtype != expected.dtype:
            return f"{where or 'the value'}: expected {expected.describe()}; got {got.describe()}"
        if got.data is None or expected.data is None:
            return None if got.data is None and expected.data is None else f"{where}: no data to compare"
        if not np.array_equal(got.data, expected.data, equal_nan=True):
            with np.errstate(invalid="ignore"):
                err = np.abs(got.data.astype(np.float64) - expected.data.astype(np.float64))
            return f"{where or 'the value'}: values differ (max abs difference {np.nanmax(err):.3g})"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where or 'the value'}: expected a dict; got {describe(got)}"
        missing = [k for k in expected if k not in got]
        if missing:
            return f"{where or 'the dict'}: key {missing[0]!r} is missing"
        extra = [k for k in got if k not in expected]
        if extra:
            return f"{where or 'the dict'}: unexpected key {extra[0]!r}"
        for key in expected:
            found = _difference(got[key], expected[key], f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{where or 'the value'}: expected {describe(expected)}; got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            found = _difference(g, e, f"{where}[{i}]")
            if found:
                return found
        return None
    if got != expected or type(got) is not type(expected):
        return f"{where or 'the value'}: expected {expected!r}; got {describe(got)}"
    return None


def _walk(obj: Any, depth: int = 0, into_states: bool = True):
    """Every value inside the loaded checkpoint, containers included (a few levels deep);
    with ``into_states=False``, not inside state dicts (all tensors, or state + param_groups)."""
    yield obj
    if depth >= 4:
        return
    if isinstance(obj, dict):
        if not into_states and obj and ({"state", "param_groups"} <= set(obj)
                                        or all(isinstance(v, TensorValue) for v in obj.values())):
            return
        for value in obj.values():
            yield from _walk(value, depth + 1, into_states)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _walk(value, depth + 1, into_states)


def _is_epoch(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == EPOCH
    if isinstance(value, TensorValue) and value.data is not None and value.data.size == 1:
        return float(value.data.reshape(-1)[0]) == EPOCH
    return False


def _summary(obj: Any, depth: int = 0) -> str:
    """A short picture of a loaded checkpoint: keys, containers, tensors counted."""
    if isinstance(obj, TensorValue):
        return "tensor" + ("(" + ", ".join(map(str, obj.shape)) + ")" if obj.shape else f"({_scalar(obj)})")
    if isinstance(obj, dict):
        if depth >= 1 and len(obj) > 3:
            tensors = sum(isinstance(v, TensorValue) for v in obj.values())
            return "{" + f"{len(obj)} entries" + (f", {tensors} tensors" if tensors else "") + "}"
        return "{" + ", ".join(f"{k!r}: {_summary(v, depth + 1)}" for k, v in list(obj.items())[:6]) + "}"
    if isinstance(obj, (list, tuple)):
        inner = ", ".join(_summary(v, depth + 1) for v in obj[:4]) + (", ..." if len(obj) > 4 else "")
        return f"[{inner}]" if isinstance(obj, list) else f"({inner})"
    return describe(obj) if not isinstance(obj, (int, float, str, type(None))) else repr(obj)


def _scalar(value: TensorValue) -> str:
    return repr(value.data.reshape(-1)[0].item()) if value.data is not None else "?"


def _unsupported_global(raised: Raised) -> str | None:
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", raised.message)
    return match.group(1) if match else None


def _new_files(before: dict, after: dict, path: str) -> list[str]:
    """Files created or changed between two listings, ``path`` aside (relative to the watched root)."""
    return sorted(p for p, stat in (after or {}).items() if p != path and (before or {}).get(p) != stat)


def _full(ctx, relative: str) -> str:
    root = ctx.raw("root")
    return f"{root.rstrip('/')}/{relative}" if isinstance(root, str) else relative


# ------------------------------------------------------------------ checks (trusted side)
@exercise.check("checkpoint.weights_only", points=2.0, probe="round_trip", requires=("save_checkpoint",))
def _check_weights_only(ctx):
    """save_checkpoint writes a file that torch.load(path, weights_only=True) can read"""
    ctx.got("save")
    if not ctx.got("file_exists"):
        stray = _new_files(ctx.got("files.before"), ctx.got("files.after_save"), ctx.got("path"))
        where = f"; it wrote {', '.join(_full(ctx, s) for s in stray[:3])} instead" if stray else ""
        return Verdict(False, f"save_checkpoint(path, ...) created no file at path{where}",
                       hint="save to the path you are given: torch.save(checkpoint, path).")
    loaded = ctx.raw("weights_only")
    if isinstance(loaded, Raised):
        name = _unsupported_global(loaded)
        if name is None:
            return Verdict(False, f"torch.load(path, weights_only=True) failed: {loaded.type}: "
                                  f"{loaded.message[:300]}")
        verdict = Verdict(False, f"torch.load(path, weights_only=True) refused the file: it holds a pickled "
                                 f"{name} object")
        if name.startswith(("torch.nn.", "torch.optim.", "__main__.")) or "." not in name:
            verdict.hint = HINT_WHOLE_MODEL
        else:
            verdict.hint = HINT_PLAIN_VALUES
        return verdict
    return Verdict(True, f"the file loads with weights_only=True: {_summary(loaded)[:200]}")


@exercise.check("checkpoint.contents", points=1.5, probe="round_trip", requires=("save_checkpoint",),
                depends=("checkpoint.weights_only",))
def _check_contents(ctx):
    """the file holds the model's state_dict, the optimizer's state_dict and the epoch"""
    loaded = ctx.got("weights_only")
    saved = ctx.expected("saved")
    found_model = found_optimizer = found_epoch = False
    for value in _walk(loaded):
        if isinstance(value, dict) and not found_model and _difference(value, saved["model"]) is None:
            found_model = True
        elif isinstance(value, dict) and not found_optimizer and "state" in value and "param_groups" in value \
                and _difference(value, saved["optimizer"]) is None:
            found_optimizer = True
    found_epoch = any(_is_epoch(v) for v in _walk(loaded, into_states=False))
    missing = [what for what, ok in (("the model's state_dict", found_model),
                                     ("the optimizer's state_dict", found_optimizer),
                                     (f"the epoch ({EPOCH})", found_epoch)) if not ok]
    if not missing:
        return Verdict(True, "the model's state_dict, the optimizer's state_dict and the epoch are all in the file")
    fraction = (3 - len(missing)) / 3
    verdict = Verdict(False, f"the file does not hold {' or '.join(missing)} (with exactly the values at the "
                             f"time of saving); it holds {_summary(loaded)[:200]}", fraction=fraction)
    if not found_optimizer:
        verdict.hint = HINT_OPTIMIZER
    elif not found_model:
        verdict.hint = HINT_BUFFERS
    return verdict


@exercise.check("checkpoint.model_round_trip", points=1.5, probe="round_trip", requires=("load_checkpoint",))
def _check_model(ctx):
    """load_checkpoint restores the model's parameters and buffers exactly, in place"""
    ctx.got("epoch")
    restored = ctx.got("restored")["model"]
    saved = ctx.expected("saved")["model"]
    problem = _difference(restored, saved, "state_dict")
    if problem is None:
        return Verdict(True, f"all {len(saved)} entries of the state_dict are restored bit for bit")
    verdict = Verdict(False, f"after load_checkpoint, the model differs from the saved one: {problem}")
    if _difference(restored, ctx.got("fresh")["model"]) is None:
        verdict.message = "load_checkpoint left the model passed to it unchanged"
        verdict.hint = HINT_IN_PLACE
    elif any(k.endswith(("running_mean", "running_var", "num_batches_tracked")) and
             _difference(restored.get(k), saved[k]) is not None for k in saved):
        verdict.hint = HINT_BUFFERS
    return verdict


@exercise.check("checkpoint.optimizer_round_trip", points=1.5, probe="round_trip", requires=("load_checkpoint",))
def _check_optimizer(ctx):
    """load_checkpoint restores the optimizer's state (Adam moments, step, lr) exactly"""
    ctx.got("epoch")
    restored = ctx.got("restored")["optimizer"]
    saved = ctx.expected("saved")["optimizer"]
    problem = _difference(restored, saved, "optimizer.state_dict()")
    if problem is None:
        return Verdict(True, "Adam's moments, step counts and hyper-parameters are restored exactly")
    verdict = Verdict(False, f"after load_checkpoint, the optimizer differs from the saved one: {problem}")
    if isinstance(restored, dict) and not restored.get("state"):
        verdict.message = "after load_checkpoint, the optimizer has no state (no Adam moments): it was not restored"
        verdict.hint = HINT_OPTIMIZER
    return verdict


@exercise.check("checkpoint.epoch", points=1.0, probe="round_trip", requires=("load_checkpoint",))
def _check_epoch(ctx):
    """load_checkpoint returns the saved epoch as an int"""
    epoch = ctx.got("epoch")
    if type(epoch) is int and epoch == EPOCH:
        return Verdict(True, f"returns {EPOCH}")
    verdict = Verdict(False, f"save_checkpoint(..., epoch={EPOCH}) then load_checkpoint(...) returned "
                             f"{describe(epoch)}; expected the int {EPOCH}")
    if epoch is None:
        verdict.hint = "load_checkpoint must return the epoch it read from the file."
    elif _is_epoch(epoch):
        verdict.hint = HINT_EPOCH
    return verdict


@exercise.check("checkpoint.resume", points=2.0, probe="resume", requires=("save_checkpoint", "load_checkpoint"))
def _check_resume(ctx):
    """5 steps, save, load into a fresh model and optimizer, 5 more == 10 uninterrupted steps, bit for bit"""
    ctx.got("save")
    ctx.got("load")
    ctx.got("train_more")
    resumed = ctx.got("resumed")
    uninterrupted = ctx.expected("uninterrupted")
    problem = _difference(resumed, uninterrupted, "state_dict")
    if problem is None:
        return Verdict(True, "resuming from the checkpoint gives bit for bit the parameters of 10 uninterrupted "
                             "Adam steps")
    verdict = Verdict(False, f"5 steps + save + load into a fresh model and optimizer + 5 steps differs from "
                             f"10 uninterrupted steps: {problem}")
    verdict.hint = ("the model's state_dict (buffers included) and the optimizer's state_dict must both be "
                    "saved and restored: " + HINT_OPTIMIZER)
    return verdict


@exercise.check("checkpoint.only_path", points=0.5, probe="round_trip", requires=("save_checkpoint",))
def _check_only_path(ctx):
    """nothing is written outside `path`"""
    ctx.got("save")
    if not ctx.got("file_exists"):
        return Verdict(False, "save_checkpoint created no file at path")
    path = ctx.got("path")
    shown = _full(ctx, path)
    before = ctx.got("files.before")
    stray = _new_files(before, ctx.got("files.after_save"), path)
    after_load = ctx.raw("files.after_load")
    if isinstance(after_load, dict):
        stray += [p for p in _new_files(before, after_load, path) if p not in stray]
    if stray:
        return Verdict(False, f"besides {shown}, saving or loading wrote {len(stray)} other file(s): "
                              f"{', '.join(_full(ctx, s) for s in stray[:4])}", hint=HINT_ONE_FILE)
    return Verdict(True, f"only {shown} was written")


@grader.hookimpl
def grader_exercises():
    return [exercise]
