"""Exercise 4, mlp: building networks.

The student's models are never compared by their own random initialisation: the probe
writes deterministic, seeded weights into their Linear layers (for TwoLayerNet through
``load_state_dict``, as the reference's weights would be loaded), runs a fixed batch
through them and records the outputs; the reference run records the same.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from grader.codec import Raised, TensorValue
from grader.exercise import Exercise, Verdict
from grader.judging import as_int, compare_plain, compare_tensors, describe

exercise = Exercise(
    id="mlp",
    title="Building networks",
    names=("build_mlp", "TwoLayerNet", "count_parameters"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "mlp.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "mlp",
    description="build_mlp, TwoLayerNet, count_parameters",
)

HINT_PLAIN_LIST = ("the layers are kept in a plain Python list, so PyTorch does not register them: the model's "
                   "parameters() is empty (an optimizer would train nothing, .to(device) would move nothing). "
                   "Use nn.ModuleList(layers) or nn.Sequential(*layers).")
HINT_SOFTMAX = ("the outputs are probabilities (rows summing to 1) or log-probabilities: a (log-)softmax at the "
                "end. Return logits: nn.CrossEntropyLoss applies log-softmax itself, so a softmax before it "
                "squashes the gradients (and training goes wrong).")
HINT_SUPER = ("call super().__init__() first thing in __init__: nn.Module sets up the registries for layers and "
              "parameters there, and assigning a layer before it raises \"cannot assign module before "
              "Module.__init__() call\".")
HINT_FINAL_RELU = ("the output looks like it went through a ReLU (no negative values): the final Linear must have "
                   "no activation after it (it returns logits).")
HINT_REQUIRES_GRAD = ("frozen parameters (requires_grad=False) are not trainable: count only those with "
                      "p.requires_grad, e.g. sum(p.numel() for p in model.parameters() if p.requires_grad).")
HINT_BUFFERS = ("state_dict() also holds buffers (e.g. BatchNorm's running_mean, running_var, num_batches_tracked), "
                "which are not parameters: count model.parameters() with requires_grad instead.")
HINT_NUMEL = ("that is the number of parameter tensors, not of parameters: add up p.numel() for each tensor.")
HINT_INT = "return a Python int: sum(p.numel() ...) is one (use int(...) or .item() on a tensor)."
HINT_CALL_PARAMETERS = ("model.parameters is a method: call it, model.parameters(), to get the parameters "
                        "(and count p.numel() of those with p.requires_grad).")
COUNT_HINTS = {"'method' object is not iterable": HINT_CALL_PARAMETERS}
HINT_SEQUENTIAL_STAR = ("nn.Sequential takes the layers as separate arguments, not one list: "
                        "nn.Sequential(*layers) unpacks the list (or keep them in an nn.ModuleList).")
BUILD_HINTS = {"list is not a Module subclass": HINT_SEQUENTIAL_STAR}

# in_features, hidden_sizes, out_features, batch
BUILD_CASES = {
    "two_hidden": (4, [8, 6], 3, 5),
    "no_hidden": (10, [], 2, 4),
    "one_hidden_tuple": (5, (7,), 1, 3),
    "deep": (3, [16, 16, 16], 4, 6),
}
# input_size, hidden_size, output_size, batch
NET_CASES = {
    "small": (5, 7, 3, 4),
    "tiny": (2, 3, 1, 6),
}
COUNT_ALL = {"plain": "on an MLP with every layer trainable",
             "batchnorm": "on a model with a BatchNorm1d layer (it has buffers)"}
COUNT_FROZEN = {"frozen_first": "on an MLP whose first Linear is frozen",
                "frozen_bias": "on a Linear whose bias is frozen",
                "frozen_batchnorm": "on a model with a frozen Linear and a BatchNorm1d layer",
                "frozen_nested": "on a custom module with a frozen embedding and a ModuleList",
                "all_frozen": "on a model with every parameter frozen"}


def _fmt_case(i, hidden, o) -> str:
    return f"build_mlp({i}, {list(hidden) if isinstance(hidden, list) else tuple(hidden)}, {o})"


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _summary(model):
    """Plain facts about a model: registered Linear layers, leaf modules, parameter count."""
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        return {"is_module": False, "type": type(model).__name__}
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    plain_lists = [name for name, value in vars(model).items()
                   if not name.startswith("_") and isinstance(value, (list, tuple, dict))
                   and any(isinstance(v, nn.Module) for v in (value.values() if isinstance(value, dict) else value))]
    attributes = {}
    for name in ("layer1", "layer2"):
        layer = model._modules.get(name) if isinstance(getattr(model, "_modules", None), dict) else None
        attributes[name] = ([type(layer).__name__, int(layer.in_features), int(layer.out_features),
                             layer.bias is not None]
                            if isinstance(layer, nn.Linear) else (type(layer).__name__ if layer is not None else None))
    return {
        "is_module": True,
        "type": type(model).__name__,
        "linears": [[int(m.in_features), int(m.out_features), m.bias is not None] for m in linears],
        "leaves": [type(m).__name__ for m in model.modules() if not m._modules],
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "plain_lists": plain_lists,
        "attributes": attributes,
    }


def _seeded_linear_weights(model, seed):
    """Overwrite every registered Linear with seeded weights of its own shape."""
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound * 2)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * bound)


def _forward(model, x):
    import torch

    model.eval()
    with torch.no_grad():
        return model(x)


def _load_state(model, state):
    """load_state_dict, lenient only about extra entries of the model (e.g. the same layers
    registered a second time inside a Sequential); a missing layer1/layer2 key is recorded."""
    return sorted(model.load_state_dict(state, strict=False).unexpected_keys)


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("build_mlp")
def _probe_build(student, rec):
    import torch
    import torch.nn as nn

    from grader.sandbox.student import FAILED

    for index, (key, (i, hidden, o, batch)) in enumerate(BUILD_CASES.items()):
        g = torch.Generator().manual_seed(300 + index)
        x = torch.randn(batch, i, generator=g) * 2
        model = rec.call(key + ".model", "build_mlp", i, hidden, o)
        if model is FAILED:
            continue
        rec.call(key + ".summary", _summary, model)
        if isinstance(model, nn.Module):
            rec.call(key + ".seed", _seeded_linear_weights, model, 400 + index, record=False)
            rec.call(key + ".output", _forward, model, x)


@exercise.probe("TwoLayerNet")
def _probe_net(student, rec):
    import torch
    import torch.nn as nn

    from grader.sandbox.student import FAILED

    for index, (key, (i, h, o, batch)) in enumerate(NET_CASES.items()):
        g = torch.Generator().manual_seed(500 + index)
        state = {"layer1.weight": torch.randn(h, i, generator=g) / math.sqrt(i) * 2,
                 "layer1.bias": torch.randn(h, generator=g),
                 "layer2.weight": torch.randn(o, h, generator=g) / math.sqrt(h) * 2,
                 "layer2.bias": torch.randn(o, generator=g)}
        x = torch.randn(batch, i, generator=g) * 2
        rec.record(key + ".state", state)
        rec.record(key + ".x", x)
        model = rec.call(key + ".model", "TwoLayerNet", i, h, o)
        if model is FAILED:
            continue
        rec.call(key + ".summary", _summary, model)
        if not isinstance(model, nn.Module):
            continue
        unexpected = rec.call(key + ".load", _load_state, model, {k: v.clone() for k, v in state.items()})
        if unexpected is FAILED or unexpected:
            continue
        rec.call(key + ".output", _forward, model, x)


@exercise.probe("count_parameters")
def _probe_count(student, rec):
    import torch
    import torch.nn as nn

    class Nested(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(20, 6)
            self.blocks = nn.ModuleList([nn.Linear(6, 6), nn.Linear(6, 6, bias=False)])
            self.head = nn.Linear(6, 2)
            self.register_buffer("scale", torch.ones(6))

    def mlp():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def with_batchnorm():
        return nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))

    models = {"plain": mlp(), "batchnorm": with_batchnorm()}
    models["frozen_first"] = mlp()
    models["frozen_first"][0].requires_grad_(False)
    models["frozen_bias"] = nn.Linear(10, 5)
    models["frozen_bias"].bias.requires_grad_(False)
    models["frozen_batchnorm"] = with_batchnorm()
    models["frozen_batchnorm"][0].requires_grad_(False)
    models["frozen_nested"] = Nested()
    models["frozen_nested"].embedding.requires_grad_(False)
    models["frozen_nested"].blocks[0].bias.requires_grad_(False)
    models["all_frozen"] = mlp().requires_grad_(False)
    for key, model in models.items():
        rec.record(key + ".total", sum(p.numel() for p in model.parameters()))
        rec.record(key + ".state_numel", sum(v.numel() for v in model.state_dict().values()))
        rec.record(key + ".tensors", sum(1 for p in model.parameters() if p.requires_grad))
        rec.call(key, "count_parameters", model, timeout=5)


# ------------------------------------------------------------------ checks: build_mlp
def _summary_or_failure(ctx, key, call):
    """The model's summary; a raise while building or inspecting it fails the check."""
    ctx.got(key + ".model")
    summary = ctx.got(key + ".summary")
    if not summary.get("is_module"):
        return None, Verdict(False, f"{call} should return an nn.Module (e.g. nn.Sequential); "
                                    f"got a {summary.get('type')}")
    return summary, None


def _plain_list_hint(summary) -> str | None:
    return HINT_PLAIN_LIST if summary.get("plain_lists") or (summary.get("n_params") == 0) else None


def _fmt_linears(linears) -> str:
    return "[" + ", ".join(f"Linear({i}, {o})" for i, o, *_ in linears) + "]"


@exercise.check("build_mlp.layers", points=1.0, probe="build_mlp", requires=("build_mlp",), hints=BUILD_HINTS)
def _check_layers(ctx):
    """build_mlp registers the Linear layers with the right sizes, in order"""
    for key, (i, hidden, o, _) in BUILD_CASES.items():
        call = _fmt_case(i, hidden, o)
        summary, failure = _summary_or_failure(ctx, key, call)
        if failure:
            return failure
        expected = ctx.expected(key + ".summary")["linears"]
        got = summary["linears"]
        if [tuple(x[:2]) for x in got] != [tuple(x[:2]) for x in expected]:
            verdict = Verdict(False, f"{call}: expected the Linear layers {_fmt_linears(expected)} in this order; "
                                     f"the model registers {_fmt_linears(got) if got else 'none'}")
            if not got:
                verdict.hint = _plain_list_hint(summary)
            return verdict
        missing_bias = [n for n, (g, e) in enumerate(zip(got, expected)) if g[2] != e[2]]
        if missing_bias:
            return Verdict(False, f"{call}: Linear layer {missing_bias[0]} should have a bias (bias=True)")
    return Verdict(True, f"the Linear layers are right in all {len(BUILD_CASES)} configurations")


@exercise.check("build_mlp.parameter_count", points=1.0, probe="build_mlp", requires=("build_mlp",),
                hints=BUILD_HINTS)
def _check_build_params(ctx):
    """build_mlp's model has the right number of (registered) parameters"""
    for key, (i, hidden, o, _) in BUILD_CASES.items():
        call = _fmt_case(i, hidden, o)
        summary, failure = _summary_or_failure(ctx, key, call)
        if failure:
            return failure
        expected = ctx.expected(key + ".summary")["n_params"]
        if summary["n_params"] != expected:
            verdict = Verdict(False, f"{call}: expected {expected} parameters in model.parameters(); "
                                     f"got {summary['n_params']}")
            verdict.hint = _plain_list_hint(summary)
            return verdict
    return Verdict(True, f"the parameter counts are right in all {len(BUILD_CASES)} configurations")


@exercise.check("build_mlp.output_shape", points=0.5, probe="build_mlp", requires=("build_mlp",), hints=BUILD_HINTS)
def _check_build_shape(ctx):
    """build_mlp's model maps (B, in_features) to (B, out_features)"""
    for key, (i, hidden, o, batch) in BUILD_CASES.items():
        call = _fmt_case(i, hidden, o)
        _, failure = _summary_or_failure(ctx, key, call)
        if failure:
            return failure
        got = ctx.got(key + ".output")
        expected = ctx.expected(key + ".output")
        if not isinstance(got, TensorValue) or tuple(got.shape) != tuple(expected.shape):
            return Verdict(False, f"{call} on a ({batch}, {i}) batch: expected an output of shape "
                                  f"{list(expected.shape)}; got {describe(got)}")
    return Verdict(True, f"the output shapes are right in all {len(BUILD_CASES)} configurations")


def _softmax_like(got: TensorValue, expected: TensorValue) -> bool:
    if got.data is None or got.data.ndim != 2 or got.data.shape[1] < 2:
        return False
    assert expected.data is not None  # the reference's output has values
    g = got.data.astype(np.float64)
    e = expected.data.astype(np.float64)
    if np.allclose(e.sum(axis=1), 1.0, atol=1e-3) or not np.all(np.isfinite(g)):
        return False
    probabilities = (g >= 0).all() and (np.allclose(g.sum(axis=1), 1.0, atol=1e-4)
                                        or np.allclose(g.sum(axis=0), 1.0, atol=1e-4))
    log_probabilities = (g <= 1e-6).all() and np.allclose(np.log(np.exp(g).sum(axis=1)), 0.0, atol=1e-4)
    return bool(probabilities or log_probabilities)


def _output_hint(got, expected: TensorValue, relu_variant: np.ndarray | None = None) -> str | None:
    if not isinstance(got, TensorValue) or got.data is None or tuple(got.shape) != tuple(expected.shape):
        return None
    if _softmax_like(got, expected):
        return HINT_SOFTMAX
    assert expected.data is not None  # the reference's output has values
    g, e = got.data.astype(np.float64), expected.data.astype(np.float64)
    if (e < 0).any() and np.allclose(g, np.maximum(e, 0), rtol=1e-4, atol=1e-5):
        return HINT_FINAL_RELU
    if relu_variant is not None and np.allclose(g, relu_variant, rtol=1e-4, atol=1e-5):
        return ("the hidden activation is a ReLU; TwoLayerNet uses the sigmoid: "
                "forward(x) = layer2(torch.sigmoid(layer1(x))).")
    return None


@exercise.check("build_mlp.forward", points=1.5, probe="build_mlp", requires=("build_mlp",),
                depends=("build_mlp.layers",))
def _check_build_forward(ctx):
    """build_mlp applies ReLU between the layers and no activation at the end (with seeded weights)"""
    for key, (i, hidden, o, batch) in BUILD_CASES.items():
        call = _fmt_case(i, hidden, o)
        got = ctx.got(key + ".output")
        expected = ctx.expected(key + ".output")
        verdict = compare_tensors(got, expected, what=f"{call} with the grader's weights, on a ({batch}, {i}) batch")
        if not verdict.passed:
            verdict.hint = _output_hint(got, expected)
            if verdict.hint is None and hidden:
                verdict.hint = ("with the same weights as the reference, the outputs differ: use nn.ReLU() after "
                                "every hidden Linear (and nothing else), and no activation after the last one.")
            return verdict
    return Verdict(True, f"the outputs match in all {len(BUILD_CASES)} configurations")


# ------------------------------------------------------------------ checks: TwoLayerNet
@exercise.check("TwoLayerNet.structure", points=1.5, probe="TwoLayerNet", requires=("TwoLayerNet",),
                hints={"cannot assign module before Module.__init__() call": HINT_SUPER,
                       "cannot assign parameters before Module.__init__() call": HINT_SUPER,
                       "object has no attribute '_modules'": HINT_SUPER,
                       "object has no attribute '_parameters'": HINT_SUPER})
def _check_net_structure(ctx):
    """TwoLayerNet is an nn.Module with Linear attributes layer1 and layer2 of the right sizes"""
    for key, (i, h, o, _) in NET_CASES.items():
        call = f"TwoLayerNet({i}, {h}, {o})"
        model = ctx.got(key + ".model")
        summary = ctx.got(key + ".summary")
        if not summary.get("is_module"):
            return Verdict(False, f"{call} should create an nn.Module; got {describe(model)}")
        expected = ctx.expected(key + ".summary")["attributes"]
        for name, (_, e_in, e_out, _) in expected.items():
            got = summary["attributes"].get(name)
            want = f"nn.Linear({e_in}, {e_out})"
            if got is None:
                return Verdict(False, f"{call}: no layer `{name}` registered; expected self.{name} = {want}",
                               hint=HINT_PLAIN_LIST if summary.get("plain_lists") else None)
            if not isinstance(got, list):
                return Verdict(False, f"{call}: self.{name} should be {want}; it is a {got}")
            if list(got[1:3]) != [e_in, e_out]:
                return Verdict(False, f"{call}: self.{name} should be {want}; it is nn.Linear({got[1]}, {got[2]})")
            if not got[3]:
                return Verdict(False, f"{call}: self.{name} should be {want}, with a bias; it has bias=False")
    return Verdict(True, "TwoLayerNet has layer1 and layer2 of the right sizes")


@exercise.check("TwoLayerNet.forward", points=2.0, probe="TwoLayerNet", requires=("TwoLayerNet",),
                depends=("TwoLayerNet.structure",))
def _check_net_forward(ctx):
    """TwoLayerNet's forward, with the reference's weights loaded, matches layer2(sigmoid(layer1(x)))"""
    for key, (i, h, o, batch) in NET_CASES.items():
        call = f"TwoLayerNet({i}, {h}, {o})"
        loaded = ctx.raw(key + ".load")
        if isinstance(loaded, Raised):
            verdict = ctx.raised_verdict(loaded)
            verdict.message = f"{call}: loading the weights (load_state_dict) {verdict.message}"
            return verdict
        if loaded:
            return Verdict(False, f"{call}: load_state_dict found no parameter(s) {', '.join(map(str, loaded))} "
                                  "in the model; the weights must be those of self.layer1 and self.layer2")
        got = ctx.got(key + ".output")
        expected = ctx.expected(key + ".output")
        verdict = compare_tensors(got, expected, what=f"{call} with the reference's weights, on a ({batch}, {i}) batch")
        if not verdict.passed:
            state = ctx.expected(key + ".state")
            x = ctx.expected(key + ".x").data.astype(np.float64)
            w1, b1, w2, b2 = (state[k].data.astype(np.float64) for k in
                              ("layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"))
            relu = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
            verdict.hint = _output_hint(got, expected, relu)
            return verdict
    return Verdict(True, f"the outputs match in all {len(NET_CASES)} cases")


# ------------------------------------------------------------------ checks: count_parameters
def _count_verdict(ctx, cases) -> Verdict:
    for key, label in cases.items():
        got = ctx.got(key)
        expected = ctx.expected(key)
        verdict = compare_plain(got, expected, what=f"count_parameters {label}")
        if verdict.passed:
            continue
        total, in_state, tensors = (ctx.expected(key + s) for s in (".total", ".state_numel", ".tensors"))
        got = as_int(got)  # an int or a NumPy integer; None for anything else
        if got is None:
            if isinstance(ctx.got(key), (TensorValue, float)):
                verdict.hint = HINT_INT
        else:
            if got == in_state and in_state != total:
                verdict.hint = HINT_BUFFERS
            elif got in (total, in_state):
                verdict.hint = HINT_REQUIRES_GRAD
            elif got == tensors:
                verdict.hint = HINT_NUMEL
        return verdict
    return Verdict(True, f"all {len(cases)} models counted right")


@exercise.check("count_parameters.all_trainable", points=1.0, probe="count_parameters",
                requires=("count_parameters",), hints=COUNT_HINTS)
def _check_count_all(ctx):
    """count_parameters counts every parameter of a fully trainable model, as an int"""
    return _count_verdict(ctx, COUNT_ALL)


@exercise.check("count_parameters.frozen", points=1.5, probe="count_parameters", requires=("count_parameters",),
                hints=COUNT_HINTS)
def _check_count_frozen(ctx):
    """count_parameters counts only trainable (requires_grad) parameters when layers are frozen"""
    return _count_verdict(ctx, COUNT_FROZEN)

