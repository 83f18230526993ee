"""Exercise 6, checkpoint: saving and resuming training.

The student's file is written in the sandbox's working folder. The runner reads its bytes
itself, from outside the sandbox (``rec.observe_file``), and an inspector opens them in a
fresh sandboxed worker that never ran student code, with ``torch.load(...,
weights_only=True)`` (extending torch's safe globals in the submission gains nothing
there). What comes back to the trusted side is the plain-data encoding of what that load
returned, never the file. The checks find the model's and the optimizer's state and the
epoch by structure and compare them exactly. The runner also lists every writable place
of the sandbox (its private /tmp, the working folder in it, and /dev/shm) before and after
saving and loading (``rec.observe_files``: inode, size and both times), so a second file
anywhere is noticed, however its times were set.

When the student's own ``load_checkpoint`` fails only because ``weights_only`` refused a
global of their file (``torch.__version__`` stored as it is, say), it is run again with
those globals allowed, so that the round trip is still judged: the mistake is charged
once, in ``checkpoint.weights_only``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from grader.codec import Raised, TensorValue
from grader.sandbox.observe import FileRead, Listing
from grader.exercise import Exercise, StudentFailed, Verdict
from grader.judging import as_int, describe
from grader.states import CheckStatus

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
MAX_FILE_BYTES = 16 * 1024 * 1024  #: larger checkpoint files are not inspected (the model's is a few KiB)
MAX_RETRIES = 32  #: globals allowed one by one when retrying the student's own load
#: globals whose objects are plain values: the inspector reads a file that holds them (with
#: them allowed) so that its contents are still judged; a model or an optimizer object is
#: never loaded
HARMLESS_GLOBALS = ("torch.torch_version.TorchVersion", "numpy.dtype", "numpy.ndarray",
                    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                    "builtins.set", "builtins.frozenset", "builtins.complex", "builtins.slice", "builtins.range",
                    "pathlib.PosixPath", "pathlib.PurePosixPath", "pathlib.WindowsPath", "pathlib.PureWindowsPath",
                    "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta")
HARMLESS_PREFIXES = ("numpy.dtypes.",)
#: what torch says of a global it refused (to find it), or of a class it would not build with BUILD
_REFUSED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)"
                      r"|allowlisted via `add_safe_globals`, but got <class '([\w.]+)'>")

HINT_WHOLE_MODEL = ("torch.save(model) (or an optimizer object) pickles the whole Python object, which "
                    "torch.load(path, weights_only=True) refuses to load for safety. Save plain data instead: "
                    "{'model_state': model.state_dict(), 'optimizer_state': optimizer.state_dict(), "
                    "'epoch': epoch}, and restore it with model.load_state_dict(...) and "
                    "optimizer.load_state_dict(...).")
HINT_PLAIN_VALUES = ("weights_only loading accepts tensors, dicts, lists, tuples, strings and Python numbers only: "
                     "store plain values, e.g. int(epoch) and str(torch.__version__), not a NumPy number, a "
                     "TorchVersion or another object.")
HINT_CALL_STATE_DICT = ("model.state_dict (like optimizer.state_dict) is a method: call it, model.state_dict(), to "
                        "get the state dict. Saving the method itself pickles the object it belongs to, which "
                        "torch.load(path, weights_only=True) refuses.")
HINT_OPTIMIZER = ("save optimizer.state_dict() in the checkpoint and restore it with optimizer.load_state_dict(...): "
                  "Adam's moment estimates (exp_avg, exp_avg_sq) and step count are part of the training state, "
                  "and a fresh optimizer starts them from zero.")
HINT_OPTIMIZER_LOAD = ("the file holds the optimizer's state_dict, but load_checkpoint does not restore it into the "
                       "optimizer it is given: call optimizer.load_state_dict(checkpoint[...]) on that optimizer "
                       "(Adam's moments and step counts otherwise start again from zero).")
HINT_IN_PLACE = ("restore into the model passed as an argument: model.load_state_dict(checkpoint[...]). Creating "
                 "or assigning a new model inside load_checkpoint does not change the caller's model.")
HINT_BUFFERS = ("save model.state_dict(), not just the parameters: the state dict also holds buffers such as "
                "BatchNorm's running_mean, running_var and num_batches_tracked.")
HINT_EPOCH = "return the epoch as a Python int, e.g. int(checkpoint['epoch']) (not a tensor or a float)."
HINT_ONE_FILE = ("write everything into the one file at `path` (a dict holding both state dicts and the epoch); "
                 "no extra files next to it, in /tmp or in /dev/shm, and no fixed file names.")
HINT_PATH = "save to the path you are given: torch.save(checkpoint, path)."
LOAD_HINTS = {"got <class 'method'>": HINT_CALL_STATE_DICT, "Expected state_dict to be dict-like": HINT_WHOLE_MODEL,
              "running_mean": HINT_BUFFERS, "Read-only file system": HINT_PATH}


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _work_folder() -> str:
    """The sandbox's working folder (private); a fresh temporary folder where it is not writable."""
    import os
    import tempfile

    base = os.getcwd()
    if base == "/" or not os.access(base, os.W_OK):
        base = tempfile.mkdtemp(prefix="grader-checkpoint-")
    return base


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


def _refused_global(observation: Any) -> str | None:
    """The global a weights_only load refused, from a recorded exception."""
    if not isinstance(observation, dict) or observation.get("$") != "raised":
        return None
    match = _REFUSED.search(str(observation.get("message", "")))
    return (match.group(1) or match.group(2)) if match else None


def _resolve(name: str, namespace: dict) -> Any:
    """The object a pickle's GLOBAL ``name`` means, in the student's process."""
    import builtins
    import importlib
    import sys

    module, _, attribute = name.rpartition(".")
    if not module:
        return getattr(builtins, attribute, None)
    value = namespace.get(attribute)
    if value is not None and getattr(value, "__module__", None) == module:
        return value
    try:
        return getattr(sys.modules.get(module) or importlib.import_module(module), attribute, None)
    except Exception:  # noqa: BLE001 - a module the student's file names may not exist
        return None


def _load(rec, student, key: str, path: str, model, optimizer) -> Any:
    """The student's load_checkpoint; when it fails only because weights_only refused a
    global of the file, again with the refused globals allowed (``key + ".allowed"``)."""
    import torch

    from grader.sandbox.student import FAILED

    value = rec.call(key, "load_checkpoint", path, model, optimizer)
    allowed: list = []
    names: list[str] = []
    while value is FAILED and len(allowed) < MAX_RETRIES:
        name = _refused_global(rec.observations.get(key))
        found = _resolve(name, student.namespace) if name else None
        if not name or found is None or any(found is a for a in allowed):
            break
        allowed.append(found)
        names.append(name)
        with torch.serialization.safe_globals(list(allowed)):
            value = rec.call(key, "load_checkpoint", path, model, optimizer)
    if names:
        rec.record(key + ".allowed", names)
    return value


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("round_trip", timeout=30)
def _probe_round_trip(student, rec):
    import os

    import torch

    from grader.sandbox.student import FAILED

    base = _work_folder()
    path = os.path.join(base, *ROUND_TRIP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rec.record("path", path)

    torch.manual_seed(0)
    model = _make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    X, y = torch.randn(16, 5), torch.randn(16, 3)
    _train(model, optimizer, X, y, 3)
    rec.record("saved", {**_state(model, optimizer), "epoch": EPOCH})

    rec.observe_files("files.before")  # listed by the runner, from outside the sandbox
    saved = rec.call("save", "save_checkpoint", path, model, optimizer, EPOCH)
    rec.observe_files("files.after_save")
    rec.observe_file("file", path)  # read by the runner; opened by the inspector below
    if saved is FAILED or not os.path.isfile(path):
        return

    torch.manual_seed(1)
    fresh = _make_model()
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.5)  # load_state_dict restores lr too
    rec.record("fresh", _state(fresh))
    _load(rec, student, "epoch", path, fresh, fresh_optimizer)
    rec.record("restored", _state(fresh, fresh_optimizer))
    rec.observe_files("files.after_load")


@exercise.inspect("round_trip", timeout=20)
def _inspect_file(student, rec):
    """In a fresh worker: the file's bytes loaded by a torch no submission has touched."""
    import io

    import torch

    try:
        data = rec.input("measured.file")  # the bytes the runner read, not what the student's process said
    except KeyError:  # nothing was saved
        return
    if not isinstance(data, bytes):
        return
    rec.call("loaded", torch.load, io.BytesIO(data), map_location="cpu", weights_only=True)
    allowed: list = []
    key = "loaded"
    while rec.failed(key) and len(allowed) < MAX_RETRIES:
        name = _refused_global(rec.observations.get(key))
        if not name or not (name in HARMLESS_GLOBALS or name.startswith(HARMLESS_PREFIXES)):
            break
        found = _resolve(name, {})
        if found is None:
            break
        allowed.append(found)
        key = "loaded_allowing"
        with torch.serialization.safe_globals(list(allowed)):
            rec.call(key, torch.load, io.BytesIO(data), map_location="cpu", weights_only=True)
    if allowed:
        rec.record("allowed", [f"{getattr(a, '__module__', '')}.{getattr(a, '__qualname__', a)}" for a in allowed])


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
    if _load(rec, student, "load", path, model, optimizer) is FAILED:
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
    match = _REFUSED.search(raised.message)
    return (match.group(1) or match.group(2)) if match else None


def _new_files(before: Listing | None, after: Listing | None, path: str) -> list[str] | None:
    """Files created or changed between two of the runner's listings, ``path`` aside; None
    when either listing is missing or incomplete (then nothing can be said to be clean)."""
    if not isinstance(before, Listing) or not isinstance(after, Listing) or not (before.complete and after.complete):
        return None
    return sorted(p for p, stat in after.entries.items() if p != path and before.entries.get(p) != stat)


def _saved_file(ctx) -> FileRead:
    found = ctx.measured("file")
    return found if isinstance(found, FileRead) else FileRead(problem="the file was not read")


def _is_plain_value(name: str) -> bool:
    return name in HARMLESS_GLOBALS or name.startswith(HARMLESS_PREFIXES + ("numpy.",))


def _file_contents(observations: dict) -> tuple[Any, list[str]]:
    """What the file holds, as the inspector read it: with weights_only, or else with only
    plain-value globals allowed (and which); (None, []) when it could not be read."""
    for key in ("inspected.loaded", "inspected.loaded_allowing"):
        value = observations.get(key)
        if key in observations and not isinstance(value, Raised):
            allowed = observations.get("inspected.allowed") if key.endswith("allowing") else []
            return value, [str(a) for a in allowed or []]
    return None, []


def _found_states(loaded: Any, saved: dict) -> tuple[bool, bool]:
    """Whether the file holds the model's and the optimizer's state dicts, exactly."""
    found_model = found_optimizer = False
    for value in _walk(loaded):
        if isinstance(value, dict) and not found_model and _difference(value, saved["model"]) is None:
            found_model = True
        elif isinstance(value, dict) and not found_optimizer and "state" in value and "param_groups" in value \
                and _difference(value, saved["optimizer"]) is None:
            found_optimizer = True
    return found_model, found_optimizer


def _retried_note(ctx, key: str) -> str:
    allowed = ctx.raw(key + ".allowed")
    if not allowed:
        return ""
    return (f" (load_checkpoint was run again with {', '.join(map(str, allowed[:3]))} allowed, so that the round "
            f"trip could be judged; the file itself is judged in checkpoint.weights_only)")


def _got_load(ctx, key: str, observations: dict | None = None) -> Any:
    """The student's load_checkpoint result; a KeyError names the keys the file holds."""
    try:
        return ctx.got(key)
    except StudentFailed as failure:
        raw = ctx.raw(key)
        loaded, _ = _file_contents(observations if observations is not None else ctx.got_observations)
        if isinstance(raw, Raised) and raw.is_a("KeyError") and isinstance(loaded, dict):
            keys = ", ".join(repr(k) for k in list(loaded)[:8])
            failure.verdict.hint = (f"load_checkpoint looks up the key {raw.message} in the checkpoint, but "
                                    f"save_checkpoint wrote {keys}: read back the keys you saved.")
        raise


# ------------------------------------------------------------------ checks (trusted side)
@exercise.check("checkpoint.weights_only", points=2.0, probe="round_trip", requires=("save_checkpoint",),
                hints={"Read-only file system": HINT_PATH})
def _check_weights_only(ctx):
    """save_checkpoint writes a file that torch.load(path, weights_only=True) can read"""
    ctx.got("save")
    saved = _saved_file(ctx)
    if saved.data is None and saved.problem and "larger than" not in saved.problem:
        stray = _new_files(ctx.measured("files.before"), ctx.measured("files.after_save"), ctx.got("path"))
        where = f"; it wrote {', '.join(stray[:3])} instead" if stray else ""
        return Verdict(False, f"save_checkpoint(path, ...) created no file at path{where}", hint=HINT_PATH)
    if ctx.raw("inspected.__stopped__"):
        return Verdict(False, f"the grader could not open the file: {ctx.raw('inspected.__stopped__')}",
                       status=CheckStatus.ERROR)
    loaded = ctx.raw("inspected.loaded")
    if saved.data is None or len(saved.data) > MAX_FILE_BYTES:
        return Verdict(False, "the file is larger than the grader opens, where this model's state takes a few KiB: "
                              "save the state dicts and the epoch, nothing else", hint=HINT_WHOLE_MODEL)
    if loaded is None:
        return Verdict(False, "the grader could not open the file", status=CheckStatus.ERROR)
    if isinstance(loaded, Raised):
        return _refused_verdict(loaded)
    return Verdict(True, f"the file loads with weights_only=True: {_summary(loaded)[:200]}")


def _refused_verdict(loaded: Raised) -> Verdict:
    name = _unsupported_global(loaded)
    if name is None:
        return Verdict(False, f"torch.load(path, weights_only=True) failed: {loaded.type}: {loaded.message[:300]}")
    if name in ("getattr", "builtins.getattr"):
        return Verdict(False, "torch.load(path, weights_only=True) refused the file: it holds a method (a bound "
                              "method such as model.state_dict, saved without calling it)", hint=HINT_CALL_STATE_DICT)
    verdict = Verdict(False, f"torch.load(path, weights_only=True) refused the file: it holds a pickled {name} object")
    verdict.hint = HINT_PLAIN_VALUES if _is_plain_value(name) else HINT_WHOLE_MODEL
    return verdict


@exercise.check("checkpoint.contents", points=1.5, probe="round_trip", requires=("save_checkpoint",))
def _check_contents(ctx):
    """the file holds the model's state_dict, the optimizer's state_dict and the epoch"""
    ctx.got("save")
    loaded, allowed = _file_contents(ctx.got_observations)
    if _saved_file(ctx).data is None or loaded is None:
        return Verdict(False, "could not be judged: the file could not be read with weights_only=True (see "
                              "checkpoint.weights_only)", status=CheckStatus.SKIPPED)
    saved = ctx.expected("saved")
    found_model, found_optimizer = _found_states(loaded, saved)
    found_epoch = any(_is_epoch(v) for v in _walk(loaded, into_states=False))
    missing = [what for what, ok in (("the model's state_dict", found_model),
                                     ("the optimizer's state_dict", found_optimizer),
                                     (f"the epoch ({EPOCH})", found_epoch)) if not ok]
    note = (f" (read with {', '.join(allowed[:3])} allowed; that value is charged in checkpoint.weights_only)"
            if allowed else "")
    if not missing:
        return Verdict(True, "the model's state_dict, the optimizer's state_dict and the epoch are all in the "
                             "file" + note)
    fraction = (3 - len(missing)) / 3
    verdict = Verdict(False, f"the file does not hold {' or '.join(missing)} (with exactly the values at the "
                             f"time of saving); it holds {_summary(loaded)[:200]}{note}", fraction=fraction)
    if not found_optimizer:
        verdict.hint = HINT_OPTIMIZER
    elif not found_model:
        verdict.hint = HINT_BUFFERS
    return verdict


@exercise.check("checkpoint.model_round_trip", points=1.5, probe="round_trip", requires=("load_checkpoint",),
                hints=LOAD_HINTS)
def _check_model(ctx):
    """load_checkpoint restores the model's parameters and buffers exactly, in place"""
    _got_load(ctx, "epoch")
    restored = ctx.got("restored")["model"]
    saved = ctx.expected("saved")["model"]
    problem = _difference(restored, saved, "state_dict")
    if problem is None:
        return Verdict(True, f"all {len(saved)} entries of the state_dict are restored bit for bit"
                             + _retried_note(ctx, "epoch"))
    verdict = Verdict(False, f"after load_checkpoint, the model differs from the saved one: {problem}")
    if _difference(restored, ctx.got("fresh")["model"]) is None:
        verdict.message = "load_checkpoint left the model passed to it unchanged"
        verdict.hint = HINT_IN_PLACE
    elif any(k.endswith(("running_mean", "running_var", "num_batches_tracked")) and
             _difference(restored.get(k), saved[k]) is not None for k in saved):
        verdict.hint = HINT_BUFFERS
    return verdict


def _optimizer_hint(observations: dict, saved: dict) -> str:
    """Saving or loading: which half of the optimizer's round trip is missing."""
    loaded, _ = _file_contents(observations)
    return HINT_OPTIMIZER_LOAD if loaded is not None and _found_states(loaded, saved)[1] else HINT_OPTIMIZER


@exercise.check("checkpoint.optimizer_round_trip", points=1.5, probe="round_trip", requires=("load_checkpoint",),
                hints=LOAD_HINTS)
def _check_optimizer(ctx):
    """load_checkpoint restores the optimizer's state (Adam moments, step, lr) exactly"""
    _got_load(ctx, "epoch")
    restored = ctx.got("restored")["optimizer"]
    saved = ctx.expected("saved")
    problem = _difference(restored, saved["optimizer"], "optimizer.state_dict()")
    if problem is None:
        return Verdict(True, "Adam's moments, step counts and hyper-parameters are restored exactly"
                             + _retried_note(ctx, "epoch"))
    verdict = Verdict(False, f"after load_checkpoint, the optimizer differs from the saved one: {problem}")
    if isinstance(restored, dict) and not restored.get("state"):
        verdict.message = "after load_checkpoint, the optimizer has no state (no Adam moments): it was not restored"
        verdict.hint = _optimizer_hint(ctx.got_observations, saved)
    return verdict


@exercise.check("checkpoint.epoch", points=1.0, probe="round_trip", requires=("load_checkpoint",), hints=LOAD_HINTS)
def _check_epoch(ctx):
    """load_checkpoint returns the saved epoch as an int"""
    epoch = _got_load(ctx, "epoch")
    if as_int(epoch) == EPOCH:
        return Verdict(True, f"returns {EPOCH}")
    verdict = Verdict(False, f"save_checkpoint(..., epoch={EPOCH}) then load_checkpoint(...) returned "
                             f"{describe(epoch)}; expected the int {EPOCH}")
    if epoch is None:
        verdict.hint = "load_checkpoint must return the epoch it read from the file."
    elif _is_epoch(epoch):
        verdict.hint = HINT_EPOCH
    return verdict


@exercise.check("checkpoint.resume", points=2.0, probe="resume", requires=("save_checkpoint", "load_checkpoint"),
                hints=LOAD_HINTS)
def _check_resume(ctx):
    """5 steps, save, load into a fresh model and optimizer, 5 more == 10 uninterrupted steps, bit for bit"""
    round_trip = ctx.other("round_trip")
    ctx.got("save")
    _got_load(ctx, "load", round_trip)
    ctx.got("train_more")
    resumed = ctx.got("resumed")
    uninterrupted = ctx.expected("uninterrupted")
    problem = _difference(resumed, uninterrupted, "state_dict")
    if problem is None:
        return Verdict(True, "resuming from the checkpoint gives bit for bit the parameters of 10 uninterrupted "
                             "Adam steps" + _retried_note(ctx, "load"))
    verdict = Verdict(False, f"5 steps + save + load into a fresh model and optimizer + 5 steps differs from "
                             f"10 uninterrupted steps: {problem}")
    restored = round_trip.get("restored")
    optimizer_restored = isinstance(restored, dict) and isinstance(restored.get("optimizer"), dict) \
        and bool(restored["optimizer"].get("state"))
    saved = round_trip.get("saved")  # the same seeded state the reference saved
    which = _optimizer_hint(round_trip, saved) if isinstance(saved, dict) and not optimizer_restored \
        else HINT_OPTIMIZER
    verdict.hint = ("the model's state_dict (buffers included) and the optimizer's state_dict must both be "
                    "saved and restored: " + which)
    return verdict


@exercise.check("checkpoint.only_path", points=0.5, probe="round_trip", requires=("save_checkpoint",))
def _check_only_path(ctx):
    """nothing is written outside `path` (in /tmp, the working folder or /dev/shm)"""
    ctx.got("save")
    if _saved_file(ctx).data is None:
        return Verdict(False, "could not be judged: save_checkpoint created no file at path (see "
                              "checkpoint.weights_only)", status=CheckStatus.SKIPPED)
    path = ctx.got("path")
    before = ctx.measured("files.before")
    after_save = _new_files(before, ctx.measured("files.after_save"), path)
    after_load = _new_files(before, ctx.measured("files.after_load"), path)
    if after_save is None or after_load is None:
        return Verdict(False, "the grader could not list every file of the sandbox's /tmp and /dev/shm (too many "
                              "files, or no sandbox), so nothing else can be said to be clean", hint=HINT_ONE_FILE)
    stray = after_save + [p for p in after_load if p not in after_save]
    if stray:
        return Verdict(False, f"besides {path}, saving or loading wrote {len(stray)} other file(s): "
                              f"{', '.join(stray[:4])}", hint=HINT_ONE_FILE)
    return Verdict(True, f"only {path} was written (watched by the grader: /tmp and /dev/shm)")
