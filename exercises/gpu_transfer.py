"""Exercise 7, gpu_transfer: device-agnostic code.

Graded on every machine. Without CUDA, device logic is still verified: ``pick_device``
runs with ``torch.cuda.is_available`` simulated True and False (patched inside the probe,
restored after), ``to_device`` and ``train_step`` move things to the ``meta`` device (which
has shapes but no data), and ``train_step`` also runs for real on the CPU. With
``grader check --device cuda`` on a CUDA machine, every check also runs on the real GPU.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np

from grader.codec import Raised, TensorValue
from grader.exercise import Exercise, StudentFailed, Verdict
from grader.judging import compare_arrays, describe
from grader.states import CheckStatus

exercise = Exercise(
    id="gpu_transfer",
    title="Device-agnostic code",
    names=("pick_device", "to_device", "train_step"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "gpu_transfer.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "gpu_transfer",
    description="pick_device, to_device, train_step",
)

HINT_HARDCODED = ('a hard-coded "cuda" (.cuda(), .to("cuda"), device="cuda") fails on machines without a GPU '
                  "and ignores the device that was asked for: choose with torch.cuda.is_available() in "
                  "pick_device, and everywhere else use the `device` argument.")
HINT_TO_UNUSED = ("tensor.to(device) returns a new tensor and leaves the original where it was (unlike "
                  "module.to(device), which moves the module in place): use the result, x = x.to(device).")
HINT_DIFFERENT = ("the model and the batch must be on the same device: move both, model.to(device) and "
                  "x, y = x.to(device), y.to(device), before the forward pass.")
HINT_ITEM = "return loss.item(), a Python float, not the loss tensor (which keeps its graph and its device)."
HINT_NEW_CONTAINERS = ("build new containers and leave the caller's as they were: {k: to_device(v, device) for k, v "
                       "in obj.items()} (or type(obj)(...)) rather than obj[k] = ..., the same for lists.")
HINT_ZERO_GRAD = ("clear the stale gradients before the backward pass: optimizer.zero_grad(). backward() adds to what "
                  ".grad already holds, so gradients left over from an earlier batch change this step.")
CUDA_HINTS = {
    "Torch not compiled with CUDA enabled": HINT_HARDCODED,
    "NVIDIA driver": HINT_HARDCODED,
    "no CUDA GPUs are available": HINT_HARDCODED,
    "CUDA driver": HINT_HARDCODED,
}
TRAIN_HINTS = {**CUDA_HINTS, "Expected all tensors to be on the same device": HINT_DIFFERENT,
               "is not on the expected device": HINT_DIFFERENT}
SIMULATED_NAME = "Simulated GPU (grader)"
SIMULATED_MEMORY = 16 * 1024 ** 3


class _SimulatedProperties:
    """What torch.cuda.get_device_properties returns, as far as code reads it."""

    name = SIMULATED_NAME
    total_memory = SIMULATED_MEMORY
    major, minor = 8, 0
    multi_processor_count = 108
    is_integrated = is_multi_gpu_board = False
    warp_size = 32
    L2_cache_size = 40 * 1024 ** 2
    uuid = "GPU-00000000-0000-0000-0000-000000000000"

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major=8, minor=0, total_memory=16384MB, "
                f"multi_processor_count=108)")


def _simulated_cuda(available: bool) -> dict[str, Any]:
    """Stand-ins for torch.cuda's functions while pick_device runs with CUDA simulated:
    availability, and every harmless query (name, properties, memory, seeds...) answered
    as a one-GPU machine would, so that printing the GPU's name costs nothing."""
    if not available:
        return {"is_available": lambda: False, "device_count": lambda: 0, "is_initialized": lambda: False}

    def nothing(*args, **kwargs):
        return None

    def zero(*args, **kwargs):
        return 0

    properties = _SimulatedProperties()
    fakes: dict[str, Any] = {name: nothing for name in (
        "init", "synchronize", "empty_cache", "set_device", "ipc_collect", "manual_seed", "manual_seed_all", "seed",
        "seed_all", "reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached",
        "reset_accumulated_memory_stats", "set_per_process_memory_fraction")}
    fakes.update({name: zero for name in ("memory_allocated", "max_memory_allocated", "memory_reserved",
                                          "max_memory_reserved", "memory_cached", "max_memory_cached",
                                          "utilization", "memory_usage", "temperature", "power_draw",
                                          "clock_rate", "initial_seed")})
    fakes.update(is_available=lambda: True, device_count=lambda: 1, current_device=lambda: 0,
                 is_initialized=lambda: True, get_device_name=lambda device=None: SIMULATED_NAME,
                 get_device_properties=lambda device=None: properties,
                 get_device_capability=lambda device=None: (8, 0), get_arch_list=lambda: ["sm_80"],
                 is_bf16_supported=lambda *args, **kwargs: True, memory_stats=lambda *args, **kwargs: {},
                 memory_summary=lambda *args, **kwargs: "|  simulated GPU: no memory in use  |",
                 mem_get_info=lambda device=None: (SIMULATED_MEMORY, SIMULATED_MEMORY),
                 list_gpu_processes=lambda *args, **kwargs: "GPU:0\nno processes are running")
    return fakes


def _devices(rec) -> list[tuple[str, str]]:
    """(observation prefix, device) pairs: meta always, the real GPU when grading on one."""
    devices = [("meta", "meta")]
    if rec.device.startswith("cuda"):
        devices.append(("cuda", rec.device))
    return devices


def _device_info(value: Any) -> dict:
    """What pick_device returned, as plain data."""
    import torch

    if isinstance(value, torch.device):
        return {"class": "device", "type": value.type, "index": value.index}
    if isinstance(value, str):
        return {"class": "str", "value": value[:40]}
    return {"class": type(value).__name__}


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("pick_device")
def _probe_pick_device(student, rec):
    import torch

    from grader.sandbox.student import FAILED

    def simulate(key: str, available: bool) -> None:
        fakes = _simulated_cuda(available)
        original = {name: getattr(torch.cuda, name) for name in fakes if hasattr(torch.cuda, name)}
        aliases = [(name, which) for name, value in list(student.namespace.items())
                   for which, function in original.items() if value is function]
        for which in original:
            setattr(torch.cuda, which, fakes[which])
        for name, which in aliases:  # from torch.cuda import is_available (as ...), taken before the probe
            student.namespace[name] = fakes[which]
        try:
            result = rec.call(key, "pick_device", record=False)
        finally:
            for which, function in original.items():
                setattr(torch.cuda, which, function)
            for name, which in aliases:
                student.namespace[name] = original[which]
        if result is not FAILED:
            rec.record(key, _device_info(result))

    simulate("simulated_available", True)
    simulate("simulated_unavailable", False)
    result = rec.call("this_machine", "pick_device", record=False)
    if result is not FAILED:
        rec.record("this_machine", _device_info(result))


@exercise.probe("to_device")
def _probe_to_device(student, rec):
    from collections import OrderedDict, namedtuple

    import torch

    Batch = namedtuple("Batch", ["inputs", "meta"])
    for prefix, name in _devices(rec):
        device = torch.device(name)
        torch.manual_seed(0)
        nested = {"inputs": torch.randn(2, 3), "pair": (torch.arange(4), "label", 3),
                  "items": [torch.ones(2, dtype=torch.bool), {"deep": torch.randn(1, 2, dtype=torch.float64),
                                                               "none": None}],
                  "scale": 2.5, 7: torch.zeros(0)}
        cases = {"nested": nested, "tensor": torch.randn(3), "leaf": 42,
                 "tuple": (torch.randn(2), [torch.randn(1)], "x"),
                 "subclasses": OrderedDict([("b", torch.randn(2)), ("a", Batch(torch.randn(1, 2), "tag"))])}
        for case, obj in cases.items():
            before = _layout(obj)
            rec.call(f"{prefix}.{case}", "to_device", obj, device)
            if not _same_layout(before, _layout(obj)):  # the caller's dict or list was filled in place
                rec.record(f"{prefix}.{case}.containers_changed", True)


def _layout(obj: Any, path: tuple = (), depth: int = 0) -> list[tuple]:
    """Which object sits where inside the containers of ``obj`` (the objects themselves, kept
    alive, compared by identity): what a to_device that fills the caller's dict in place changes."""
    if not isinstance(obj, (dict, list, tuple)) or depth > 6:
        return []
    items = list(obj.items() if isinstance(obj, dict) else enumerate(obj))[:64]
    found: list[tuple] = [("size", path, len(obj))]
    for key, value in items:
        found.append(("item", path + (repr(key),), value))
        found += _layout(value, path + (repr(key),), depth + 1)
    return found


def _same_layout(before: list[tuple], after: list[tuple]) -> bool:
    return len(before) == len(after) and all(
        a[0] == b[0] and a[1] == b[1] and (a[2] == b[2] if a[0] == "size" else a[2] is b[2])
        for a, b in zip(before, after))


@exercise.probe("train_step")
def _probe_train_step(student, rec):
    import torch
    from torch import nn

    class SpyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 3)
            self.seen = []

        def forward(self, x):
            self.seen.append({"x": str(x.device), "weight": str(self.linear.weight.device)})
            return self.linear(x)

    def recording_loss(cross_entropy, loss_inputs):
        """A loss_fn that records where its inputs live, then calls ``cross_entropy``."""
        def loss_fn(prediction, target):
            loss_inputs.append({"prediction": str(prediction.device), "target": str(target.device)})
            return cross_entropy(prediction, target)
        return loss_fn

    # meta: placement only (a meta tensor has no value, so .item() raises); cpu and cuda: everything
    runs = [("meta", "meta"), ("cpu", "cpu")] + [r for r in _devices(rec) if r[0] == "cuda"]
    for prefix, name in runs:
        device = torch.device(name)
        torch.manual_seed(0)
        model = SpyNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
        loss_inputs: list[dict[str, str]] = []
        loss_fn = recording_loss(nn.CrossEntropyLoss(), loss_inputs)
        rec.call(f"{prefix}.loss", "train_step", model, (x, y), loss_fn, optimizer, device)
        rec.record(f"{prefix}.forward", list(model.seen))
        rec.record(f"{prefix}.loss_inputs", list(loss_inputs))
        rec.record(f"{prefix}.param_devices", sorted({str(p.device) for p in model.parameters()}))
        if prefix != "meta":
            rec.record(f"{prefix}.params", {k: v.detach().to("cpu") for k, v in model.state_dict().items()})

    # the cpu run again, from a model that already holds gradients of an earlier batch
    torch.manual_seed(0)
    model = SpyNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    earlier = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    model.linear(earlier).pow(2).sum().backward()
    rec.record("stale.initial", {k: v.detach().clone() for k, v in model.state_dict().items()})
    rec.call("stale.loss", "train_step", model, (x, y), nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    rec.record("stale.params", {k: v.detach().to("cpu") for k, v in model.state_dict().items()})


# ------------------------------------------------------------------ checks (trusted side)
def _kind(device: str) -> str:
    return str(device).split(":")[0]


def _discarded_moves(source, function: str) -> list[str]:
    """`x.to(device)` / `x.cuda()` statements whose result is thrown away, in ``function``
    and the student's helpers it calls; calls on its first argument (the model, for
    train_step: Module.to moves in place) are left out."""
    found = []
    names = [function] + sorted(n for n in source.names_used(function) if n in source.functions and n != function)
    for name in names:
        node = source.functions.get(name)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = node.args.args[0].arg if node.args.args else None
        model_like = {first} if name == function and function == "train_step" else set()
        model_like |= {"model", "net", "module", "self"}
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Call)
                    and isinstance(sub.value.func, ast.Attribute) and sub.value.func.attr in ("to", "cuda", "cpu")):
                receiver = sub.value.func.value
                if isinstance(receiver, ast.Name) and receiver.id in model_like:
                    continue
                found.append(ast.unparse(sub.value))
    return found


def _info_text(info: Any) -> str:
    if not isinstance(info, dict):
        return describe(info)
    if info.get("class") == "device":
        index = f":{info['index']}" if info.get("index") is not None else ""
        return f"torch.device('{info.get('type')}{index}')"
    if info.get("class") == "str":
        return f"the string {info.get('value')!r}"
    return f"a {info.get('class')}"


def _judge_device(ctx, key: str, situation: str, wanted: str) -> Verdict:
    info = ctx.got(key)
    if info.get("class") == "device" and info.get("type") == wanted and info.get("index") in (None, 0):
        return Verdict(True, f"{situation}: {_info_text(info)}")
    verdict = Verdict(False, f"{situation}: expected torch.device('{wanted}'); got {_info_text(info)}")
    if info.get("class") == "str" and _kind(info.get("value", "")) == wanted:
        verdict.fraction = 0.5
        verdict.hint = f"return a torch.device object, torch.device('{wanted}'), not a string."
    elif wanted == "cpu" and (info.get("type") == "cuda" or _kind(info.get("value", "")) == "cuda"):
        verdict.hint = HINT_HARDCODED
    elif wanted == "cuda" and (info.get("type") == "cpu" or _kind(info.get("value", "")) == "cpu"):
        verdict.hint = ("pick_device must ask torch.cuda.is_available() each time it is called and return "
                        "torch.device('cuda') when it is True.")
    return verdict


@exercise.check("pick_device.cuda_available", points=1.5, probe="pick_device", requires=("pick_device",),
                hints=CUDA_HINTS)
def _check_pick_cuda(ctx):
    """pick_device returns torch.device('cuda') when CUDA is available"""
    verdict = _judge_device(ctx, "simulated_available", "with torch.cuda.is_available() returning True", "cuda")
    expected = ctx.expected("this_machine")
    if verdict.passed and expected.get("type") == "cuda":
        verdict = _judge_device(ctx, "this_machine", "on this machine's real GPU", "cuda")
    return verdict


@exercise.check("pick_device.cpu_only", points=1.5, probe="pick_device", requires=("pick_device",),
                hints=CUDA_HINTS)
def _check_pick_cpu(ctx):
    """pick_device returns torch.device('cpu') when CUDA is not available"""
    verdict = _judge_device(ctx, "simulated_unavailable", "with torch.cuda.is_available() returning False", "cpu")
    expected = ctx.expected("this_machine")
    if verdict.passed and expected.get("type") == "cpu":
        verdict = _judge_device(ctx, "this_machine", "on this machine (no CUDA)", "cpu")
    return verdict


TO_DEVICE_CASES = {"nested": "a nested dict of tensors, tuples, lists and plain values",
                   "tensor": "a bare tensor", "leaf": "the int 42", "tuple": "a tuple holding a list"}


def _tensors(value: Any) -> list[TensorValue]:
    """The tensors inside a (decoded) value, depth first, in order."""
    if isinstance(value, TensorValue):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _type_name(value: Any) -> str:
    return getattr(value, "type_name", type(value).__name__)


def _what(value: Any) -> str:
    """A short description: containers by type and size, tensors by shape and device."""
    if isinstance(value, TensorValue):
        return value.describe()
    if isinstance(value, (dict, list, tuple)):
        name = _type_name(value)
        article = "an" if name[:1].lower() in "aeiou" else "a"
        return f"{article} {name} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return describe(value)


def _structure_difference(got: Any, expected: Any, where: str) -> str | None:
    """Containers, keys and non-tensor leaves compared; tensors only as tensors."""
    if isinstance(expected, TensorValue):
        return None if isinstance(got, TensorValue) else f"{where}: expected a tensor; got {_what(got)}"
    if isinstance(expected, (dict, list, tuple)):
        if not isinstance(got, (dict, list, tuple)) or isinstance(got, dict) != isinstance(expected, dict) \
                or isinstance(got, tuple) != isinstance(expected, tuple) or _type_name(got) != _type_name(expected):
            return f"{where}: expected {_what(expected).rsplit(' of ', 1)[0]}; got {_what(got)}"
        if isinstance(expected, dict) and isinstance(got, dict):  # both or neither, from here on
            if list(got.keys()) != list(expected.keys()) and set(got.keys()) != set(expected.keys()):
                return f"{where}: expected the keys {list(expected.keys())}; got {list(got.keys())}"
            if _type_name(expected) != "dict" and list(got.keys()) != list(expected.keys()):
                return f"{where}: the keys' order changed: {list(got.keys())}, not {list(expected.keys())}"
            pairs = [(f"{where}[{k!r}]", got[k], v) for k, v in expected.items()]
        else:
            if len(got) != len(expected):
                return f"{where}: expected {len(expected)} items; got {len(got)}"
            pairs = [(f"{where}[{i}]", g, e) for i, (g, e) in enumerate(zip(got, expected))]
        for label, g, e in pairs:
            problem = _structure_difference(g, e, label)
            if problem:
                return problem
        return None
    if got != expected or type(got) is not type(expected):
        return f"{where}: expected {expected!r} to be kept as it was; got {_what(got)}"
    return None


def _tensor_difference(got: TensorValue, expected: TensorValue, where: str) -> str | None:
    if _kind(got.device) != _kind(expected.device):
        return f"{where} is on {got.device}, not on {expected.device}"
    if tuple(got.shape) != tuple(expected.shape) or got.dtype != expected.dtype:
        return f"{where}: expected {expected.describe()}; got {got.describe()}"
    if got.data is not None and expected.data is not None:
        verdict = compare_arrays(got.data, expected.data, what=where, dtype=expected.dtype)
        if not verdict.passed:
            return verdict.message
    return None


def _moved_hint(got: TensorValue, expected: TensorValue) -> str | None:
    if _kind(got.device) == "cuda" and _kind(expected.device) != "cuda":
        return HINT_HARDCODED
    if _kind(got.device) == "cpu" and _kind(expected.device) != "cpu":
        return HINT_TO_UNUSED
    return None


@exercise.check("to_device.moves_tensors", points=1.5, probe="to_device", requires=("to_device",), hints=CUDA_HINTS)
def _check_moves(ctx):
    """to_device moves every tensor, however deeply nested, to the device asked for"""
    prefixes = [p for p in ("meta", "cuda") if f"{p}.nested" in ctx.expected_observations]
    count = 0
    for prefix in prefixes:
        for case, label in TO_DEVICE_CASES.items():
            key = f"{prefix}.{case}"
            try:
                got = ctx.got(key)
            except StudentFailed as failure:
                failure.verdict.message = f"to_device({label}, {prefix!r}): {failure.verdict.message}"
                raise
            expected = _tensors(ctx.expected(key))
            found = _tensors(got)
            if len(found) != len(expected):
                return Verdict(False, f"to_device({label}, {prefix!r}) returned {len(found)} tensor(s) where "
                                      f"{len(expected)} were expected (it returned {_what(got)})")
            for i, (g, e) in enumerate(zip(found, expected)):
                problem = _tensor_difference(g, e, f"tensor {i + 1} of {len(expected)}")
                if problem:
                    return Verdict(False, f"to_device({label}, {prefix!r}): {problem}",
                                   hint=_moved_hint(g, e))
                count += 1
    return Verdict(True, f"all {count} tensors were moved ({', '.join(prefixes)}) with their shapes, dtypes "
                         f"and values")


@exercise.check("to_device.structure", points=1.5, probe="to_device", requires=("to_device",))
def _check_structure(ctx):
    """to_device keeps container types (a tuple stays a tuple), keys and plain values, in new containers"""
    for case, label in TO_DEVICE_CASES.items():
        key = f"meta.{case}"
        got = ctx.got(key)
        if ctx.raw(key + ".containers_changed") is True:
            return Verdict(False, f"to_device({label}, 'meta') changed the caller's containers in place: after the "
                                  "call, the dict (or list) it was given holds other objects", hint=HINT_NEW_CONTAINERS)
        problem = _structure_difference(got, ctx.expected(key), "the result")
        if problem:
            verdict = Verdict(False, f"to_device({label}, 'meta'): {problem}")
            if "expected a tuple" in problem:
                verdict.hint = ("rebuild a tuple as a tuple: tuple(to_device(v, device) for v in obj); a list "
                                "comprehension alone turns it into a list.")
            elif "to be kept" in problem:
                verdict.hint = "values that are not tensors (numbers, strings, None) must be returned as they are."
            return verdict
    return Verdict(True, "dicts, lists and tuples, their keys and their plain values are kept")


@exercise.check("to_device.subclasses", points=0.5, probe="to_device", requires=("to_device",))
def _check_subclasses(ctx):
    """bonus: an OrderedDict stays an OrderedDict and a namedtuple stays that namedtuple"""
    got = ctx.got("meta.subclasses")
    problem = _structure_difference(got, ctx.expected("meta.subclasses"), "the result")
    # tensors left where they were count here only when to_device moves a bare tensor (else: moves_tensors)
    moved = _tensors(ctx.raw("meta.tensor"))
    if not moved or any(_kind(t.device) != "meta" for t in moved):  # charged in moves_tensors
        return Verdict(False, "could not be judged: to_device does not move a bare tensor (see "
                              "to_device.moves_tensors)", status=CheckStatus.SKIPPED)
    if problem is None:
        if all(_kind(t.device) == "meta" for t in _tensors(got)):
            return Verdict(True, "OrderedDict and namedtuple types are kept")
        problem = "some tensors inside were not moved"
    return Verdict(False, f"to_device(OrderedDict(b=tensor, a=Batch(inputs=tensor, meta='tag')), 'meta'): {problem}",
                   hint=("keep the container's own type: type(obj)(...) for a dict subclass, and "
                         "type(obj)(*items) for a namedtuple (it takes its fields as separate arguments)."))


def _train_prefixes(ctx) -> list[str]:
    return [p for p in ("meta", "cpu", "cuda") if f"{p}.forward" in ctx.expected_observations]


@exercise.check("train_step.placement", points=1.5, probe="train_step", requires=("train_step",), hints=TRAIN_HINTS)
def _check_placement(ctx):
    """train_step moves the model and the (x, y) batch to the device asked for"""
    for prefix in [p for p in _train_prefixes(ctx) if p != "cpu"]:
        wanted = prefix
        forward = ctx.got(f"{prefix}.forward")
        loss_inputs = ctx.got(f"{prefix}.loss_inputs")
        params = ctx.got(f"{prefix}.param_devices")
        outcome = ctx.raw(f"{prefix}.loss")
        where = f"train_step(..., device={prefix!r})"
        if not forward:
            if isinstance(outcome, Raised):
                verdict = ctx.raised_verdict(outcome)
                verdict.message = f"{where} {verdict.message}"
                return verdict
            return Verdict(False, f"{where} never called the model")
        x_dev, w_dev = _kind(forward[0]["x"]), _kind(forward[0]["weight"])
        if "cuda" in (x_dev, w_dev) and wanted != "cuda":
            return Verdict(False, f"{where}: the model ran with its weights on {w_dev} and the batch on {x_dev}",
                           hint=HINT_HARDCODED)
        if x_dev != wanted or w_dev != wanted:
            message = (f"{where}: when the model was called, its weights were on {w_dev} and the batch x on "
                       f"{x_dev}; both should be on {wanted}")
            if x_dev != wanted and _discarded_moves(ctx.source, "train_step"):
                hint = HINT_TO_UNUSED
            else:
                hint = HINT_DIFFERENT
            return Verdict(False, message, hint=hint)
        if any(_kind(d) != wanted for d in params):
            return Verdict(False, f"{where}: after the step the model's parameters are on {', '.join(params)}",
                           hint=HINT_DIFFERENT)
        if not loss_inputs:
            return Verdict(False, f"{where} never called loss_fn")
        if _kind(loss_inputs[0]["target"]) != wanted:
            hint = HINT_TO_UNUSED if _discarded_moves(ctx.source, "train_step") else HINT_DIFFERENT
            return Verdict(False, f"{where}: the labels y reached loss_fn on {loss_inputs[0]['target']}, not on "
                                  f"{wanted}", hint=hint)
    return Verdict(True, "the model and both halves of the batch were moved to the device asked for")


@exercise.check("train_step.loss", points=1.0, probe="train_step", requires=("train_step",), hints=TRAIN_HINTS)
def _check_loss(ctx):
    """train_step returns the batch's loss as a Python float"""
    for prefix in [p for p in _train_prefixes(ctx) if p != "meta"]:
        where = f"train_step(..., device={prefix!r})"
        try:
            got = ctx.got(f"{prefix}.loss")
        except StudentFailed as failure:
            failure.verdict.message = f"{where} {failure.verdict.message}"
            raise
        expected = ctx.expected(f"{prefix}.loss")
        if isinstance(got, TensorValue):
            return Verdict(False, f"{where} returned {got.describe()}, not a Python float", hint=HINT_ITEM)
        if type(got) is not float:
            return Verdict(False, f"{where} returned {describe(got)}; expected a Python float")
        verdict = compare_arrays(np.array([got]), np.array([expected]), what=f"{where}: the loss")
        if not verdict.passed:
            verdict.message = (f"{where} returned {got:.6g}; the loss of the batch before the step is "
                               f"{expected:.6g}")
            return verdict
    return Verdict(True, "returns the loss as a Python float")


@exercise.check("train_step.update", points=0.5, probe="train_step", requires=("train_step",), hints=TRAIN_HINTS)
def _check_update(ctx):
    """train_step takes exactly one optimisation step"""
    for prefix in [p for p in _train_prefixes(ctx) if p != "meta"]:
        where = f"train_step(..., device={prefix!r})"
        ctx.got(f"{prefix}.loss")
        got = ctx.got(f"{prefix}.params")
        expected = ctx.expected(f"{prefix}.params")
        for name, value in expected.items():
            verdict = compare_arrays(got[name].data, value.data, what=f"{where}: the model's {name} after the step")
            if not verdict.passed:
                return verdict
    return Verdict(True, "the parameters after the step match one step of the optimizer")


@exercise.check("train_step.zero_grad", points=0.5, probe="train_step", requires=("train_step",), hints=TRAIN_HINTS)
def _check_zero_grad(ctx):
    """train_step clears stale gradients (optimizer.zero_grad()) before its step"""
    where = "train_step(..., device='cpu') on a model that already held gradients of an earlier batch"
    ctx.got("stale.loss")
    got = ctx.got("stale.params")
    own = ctx.raw("cpu.params")  # the student's own step from the same start, without stale gradients
    initial = ctx.raw("stale.initial")
    comparable = all(isinstance(v, dict) and set(v) == set(got) for v in (own, got, initial))
    if not comparable or all(compare_arrays(own[k].data, initial[k].data).passed for k in own):
        return Verdict(False, "could not be judged: train_step takes no step on the CPU to compare with (see "
                              "train_step.update)", status=CheckStatus.SKIPPED)
    for name, value in own.items():
        verdict = compare_arrays(got[name].data, value.data, what=f"{where}: the model's {name} after the step")
        if not verdict.passed:
            verdict.message += " (the same step from fresh gradients gives other values: the stale ones were used)"
            verdict.hint = HINT_ZERO_GRAD
            return verdict
    return Verdict(True, "stale gradients were cleared: the step is the same as from fresh gradients")

