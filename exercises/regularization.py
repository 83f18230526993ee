"""Exercise 10, regularization: L1/L2 penalties and weight decay.

The penalties are computed on small models whose weights the probe sets, then
``backward()`` is called on them: the values are compared with the reference, and the
gradients each parameter received show whether the penalty is differentiable (a penalty
built from ``p.data`` or ``.item()`` gives none) and whether biases were left out. Known
wrong formulas (the norm not squared, squared twice, biases included) are recomputed on
the trusted side from the recorded weights to give their hints.

While ``regularized_loss`` runs, ``l1_penalty`` and ``l2_penalty`` are the grader's own
(correct) versions, so a mistake in a penalty is charged once, where it is made.
``sgd_weight_decay_equivalent`` is judged by stepping two copies of a model with plain
SGD: one with the explicit ``l2 * ||w||^2`` term, one with the student's ``weight_decay``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from grader.api import (Exercise, StudentFailed, TensorValue, Verdict, compare_arrays, compare_tensors,
                        describe)

exercise = Exercise(
    id="regularization",
    title="Regularization and weight decay",
    names=("l2_penalty", "l1_penalty", "regularized_loss", "sgd_weight_decay_equivalent"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "regularization.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "regularization",
    description="l2_penalty, l1_penalty, regularized_loss, sgd_weight_decay_equivalent",
)

HINT_NO_GRADIENT = ("no gradient flows from the penalty to the weights: it was built from p.data, p.detach(), "
                    ".item(), float() or NumPy, which cut the autograd graph. Use the parameters themselves: "
                    "sum(p.pow(2).sum() for p in weights) for L2, sum(p.abs().sum() for p in weights) for L1.")
HINT_SQUARED = ("the L2 penalty is the sum of the squared weights, ||w||^2 = (w ** 2).sum(): {found} Square each "
                "weight once (w.pow(2).sum(), or w.norm() ** 2), and add the layers' sums.")
HINT_BIAS = ("with include_bias=False the biases must not be penalised: skip the parameters whose name ends in "
             "'bias' (model.named_parameters() gives the names).")
HINT_BIAS_TRUE = "with include_bias=True the biases must be penalised too: sum over all of model.parameters()."
HINT_FACTOR_2 = ("the factor 2: the gradient of l2 * ||w||^2 is 2 * l2 * w, while SGD's weight_decay adds "
                 "weight_decay * w to the gradient, so the same step needs weight_decay = 2 * l2.")
HINT_NUMBER = "return the weight decay as a Python float (e.g. 2 * l2), not a tensor."

#: raised-exception hints of the gradient checks (the raising forms of a non-differentiable penalty)
GRADIENT_HINTS = {"does not require grad": HINT_NO_GRADIENT, "has no attribute 'backward'": HINT_NO_GRADIENT,
                  "Can't call numpy() on Tensor that requires grad": HINT_NO_GRADIENT}

# key -> (model, positional args after the model, keyword args)
PENALTY_CASES = {
    "default": ("mlp", (), {}),
    "with_bias": ("mlp", (), {"include_bias": True}),
    "bias_free": ("bias_free_first", (False,), {}),
}
# key -> (positional args after (model, loss), keyword args)
LOSS_CASES = {
    "both": ((), {"l1": 0.01, "l2": 0.1}),
    "defaults": ((), {}),
    "positional": ((0.0, 0.5), {}),
}
WEIGHT_DECAY_L2 = (0.05, 0.3)
SGD_LR, SGD_STEPS = 0.1, 3


def _penalty_text(function: str, key: str) -> str:
    kind, args, kwargs = PENALTY_CASES[key]
    model = ("nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))" if kind == "mlp"
             else "nn.Sequential(nn.Linear(5, 3, bias=False), nn.ReLU(), nn.Linear(3, 1))")
    extra = "".join([*(f", {a!r}" for a in args), *(f", {k}={v!r}" for k, v in kwargs.items())])
    return f"{function}(model{extra}) on {model}"


def _loss_text(key: str) -> str:
    args, kwargs = LOSS_CASES[key]
    extra = "".join([*(f", {a!r}" for a in args), *(f", {k}={v!r}" for k, v in kwargs.items())])
    return f"regularized_loss(model, loss{extra})"


# ------------------------------------------------------------------ probe helpers (sandbox side)
def _penalty_model(kind: str, device: str, seed: int):
    import torch
    from torch import nn

    if kind == "mlp":
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    else:
        model = nn.Sequential(nn.Linear(5, 3, bias=False), nn.ReLU(), nn.Linear(3, 1))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.8 + 0.1)
    return model.to(device)


def _backward(value) -> None:
    value.backward()


def _grads(model) -> dict:
    return {name: None if p.grad is None else p.grad.detach().clone() for name, p in model.named_parameters()}


def _grader_penalty(model, include_bias, power):
    chosen = [p for name, p in model.named_parameters() if include_bias or name.rsplit(".", 1)[-1] != "bias"]
    return sum((p.pow(2) if power == 2 else p.abs()).sum() for p in chosen)


def _grader_l1(model, include_bias=False):
    return _grader_penalty(model, include_bias, 1)


def _grader_l2(model, include_bias=False):
    return _grader_penalty(model, include_bias, 2)


def _with_grader_penalties(student, name: str):
    """The student's ``name``, wrapped so that while it runs l1_penalty and l2_penalty are the
    grader's own (its own name and signature are kept for the report)."""
    import functools

    function = student.get(name)
    replaced = {"l1_penalty": _grader_l1, "l2_penalty": _grader_l2}

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


def _two_copies(weight_decay, l2, device: str) -> dict:
    """Plain SGD on two copies of one model: the explicit l2 * ||w||^2 term against weight_decay."""
    import copy

    import torch
    from torch import nn

    g = torch.Generator().manual_seed(int(l2 * 1000))
    base = nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        base.weight.copy_(torch.randn(3, 4, generator=g))
    x, target = torch.randn(8, 4, generator=g).to(device), torch.randn(8, 3, generator=g).to(device)
    explicit, decayed = copy.deepcopy(base).to(device), copy.deepcopy(base).to(device)
    opt_explicit = torch.optim.SGD(explicit.parameters(), lr=SGD_LR)
    opt_decayed = torch.optim.SGD(decayed.parameters(), lr=SGD_LR, weight_decay=weight_decay)
    for _ in range(SGD_STEPS):
        opt_explicit.zero_grad()
        loss = nn.functional.mse_loss(explicit(x), target) + l2 * explicit.weight.pow(2).sum()
        loss.backward()
        opt_explicit.step()
        opt_decayed.zero_grad()
        nn.functional.mse_loss(decayed(x), target).backward()
        opt_decayed.step()
    return {"explicit": explicit.weight.detach().clone(), "weight_decay": decayed.weight.detach().clone()}


def _probe_penalty(student, rec, function: str, seed: int) -> None:
    from grader.api import FAILED

    for index, (key, (kind, args, kwargs)) in enumerate(PENALTY_CASES.items()):
        model = _penalty_model(kind, rec.device, seed + index)
        rec.record(key + ".params", {name: p.detach().clone() for name, p in model.named_parameters()})
        value = rec.call(key, function, model, *args, **kwargs)
        if value is FAILED:
            continue
        rec.call(key + ".backward", _backward, value)
        rec.record(key + ".grads", _grads(model))


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("l2_penalty")
def _probe_l2(student, rec):
    _probe_penalty(student, rec, "l2_penalty", 1000)


@exercise.probe("l1_penalty")
def _probe_l1(student, rec):
    _probe_penalty(student, rec, "l1_penalty", 1100)


@exercise.probe("regularized_loss")
def _probe_regularized(student, rec):
    import torch

    from grader.api import FAILED

    if not student.has("regularized_loss"):
        return
    for index, (key, (args, kwargs)) in enumerate(LOSS_CASES.items()):
        model = _penalty_model("mlp", rec.device, 1200 + index)
        g = torch.Generator().manual_seed(1300 + index)
        x, target = torch.randn(6, 3, generator=g).to(rec.device), torch.randn(6, 2, generator=g).to(rec.device)
        loss = torch.nn.functional.mse_loss(model(x), target)
        value = rec.call(key, _with_grader_penalties(student, "regularized_loss"), model, loss, *args, **kwargs)
        if value is FAILED:
            continue
        rec.call(key + ".backward", _backward, value)
        rec.record(key + ".grads", _grads(model))


@exercise.probe("sgd_weight_decay_equivalent")
def _probe_weight_decay(student, rec):
    from grader.api import FAILED

    for index, l2 in enumerate(WEIGHT_DECAY_L2):
        weight_decay = rec.call(f"l2_{index}", "sgd_weight_decay_equivalent", l2)
        if weight_decay is FAILED:
            continue
        rec.call(f"l2_{index}.steps", _two_copies, weight_decay, l2, rec.device)


# ------------------------------------------------------------------ helpers (trusted side)
def _scalar(value: Any) -> float | None:
    """The number in a one-element tensor or a Python / NumPy number; None for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, TensorValue) and value.data is not None and value.data.size == 1 and value.dtype != "bool":
        return float(value.data.reshape(-1)[0])
    return None


def _what(value: Any) -> str:
    """describe(), with containers by type and size (their items' reprs are not for students)."""
    if isinstance(value, (list, tuple, dict)):
        kind = getattr(value, "type_name", type(value).__name__)
        return f"a {kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return describe(value)


def _close(a: float, b: float, rtol: float = 1e-4) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-3)


def _weights(params: dict, include_bias: bool) -> list[np.ndarray]:
    return [v.data.astype(np.float64) for name, v in params.items()
            if include_bias or name.rsplit(".", 1)[-1] != "bias"]


def _include_bias(key: str) -> bool:
    _, args, kwargs = PENALTY_CASES[key]
    return bool(kwargs.get("include_bias", args[0] if args else False))


def _value_verdict(ctx, function: str, candidates) -> Verdict:
    """Compare the penalty's value on every case; ``candidates(params, include_bias)`` lists
    (wrong value, hint) pairs recognised when the value is wrong."""
    for key in PENALTY_CASES:
        call = _penalty_text(function, key)
        got = ctx.got(key)
        value, expected = _scalar(got), _scalar(ctx.expected(key))
        assert expected is not None  # the reference's penalty is a 0-dim tensor
        if value is None:
            return Verdict(False, f"{call}: expected a 0-dim tensor ({expected:.6g}); got {_what(got)}")
        if _close(value, expected):
            continue
        verdict = Verdict(False, f"{call}: expected {expected:.6g}; got {value:.6g}")
        for wrong, hint in candidates(ctx.expected(key + ".params"), _include_bias(key)):
            if not _close(wrong, expected) and _close(value, wrong):
                verdict.hint = hint
                break
        return verdict
    return Verdict(True, f"the right value in all {len(PENALTY_CASES)} cases (include_bias False and True)")


def _gradient_verdict(ctx, function: str, keys, describe_expected: str) -> Verdict:
    for key in keys:
        call = _penalty_text(function, key) if function != "regularized_loss" else _loss_text(key)
        try:
            ctx.got(key + ".backward")
        except StudentFailed as failure:
            failure.verdict.message = f"{call}, then .backward() on the result: {failure.verdict.message}"
            raise
        got, expected = ctx.got(key + ".grads"), ctx.expected(key + ".grads")
        for name, want in expected.items():
            grad = got.get(name)
            if want is None:  # not part of the penalty: no gradient, or zeros
                if grad is not None and grad.data is not None and np.any(grad.data != 0):
                    return Verdict(False, f"{call}: {name} received a gradient, but it must not be penalised",
                                   hint=HINT_BIAS)
                continue
            if grad is None:
                return Verdict(False, f"{call}: after .backward(), {name}.grad is None: no gradient reached the "
                                      f"weights ({describe_expected})", hint=HINT_NO_GRADIENT)
            verdict = compare_tensors(grad, want, what=f"{call}: the gradient of {name}")
            if not verdict.passed:
                return verdict
    return Verdict(True, f"differentiable: the weights receive {describe_expected}")


def _l2_candidates(params: dict, include_bias: bool):
    weights = _weights(params, include_bias)
    squares = [float((w ** 2).sum()) for w in weights]
    yield sum(math.sqrt(s) for s in squares), HINT_SQUARED.format(found="you added the norms ||w|| without "
                                                                        "squaring them.")
    yield math.sqrt(sum(squares)), HINT_SQUARED.format(found="you returned the norm itself, not its square.")
    yield sum(s ** 2 for s in squares), HINT_SQUARED.format(found="you squared ||w||^2 a second time.")
    yield sum(squares) ** 2, HINT_SQUARED.format(found="you squared the sum of squares a second time.")
    others = sum(float((w ** 2).sum()) for w in _weights(params, not include_bias))
    yield others, HINT_BIAS_TRUE if include_bias else HINT_BIAS


def _l1_candidates(params: dict, include_bias: bool):
    others = sum(float(np.abs(w).sum()) for w in _weights(params, not include_bias))
    yield others, HINT_BIAS_TRUE if include_bias else HINT_BIAS
    yield sum(float((w ** 2).sum()) for w in _weights(params, include_bias)), \
        "the L1 penalty is the sum of the absolute values of the weights (p.abs().sum()), not of their squares."


# ------------------------------------------------------------------ checks
@exercise.check("l2_penalty.value", points=2.0, probe="l2_penalty", requires=("l2_penalty",),
                hints=GRADIENT_HINTS)
def _check_l2_value(ctx):
    """l2_penalty is the sum of the squared weights (biases only with include_bias=True)"""
    return _value_verdict(ctx, "l2_penalty", _l2_candidates)


@exercise.check("l2_penalty.gradient", points=1.5, probe="l2_penalty", requires=("l2_penalty",),
                depends=("l2_penalty.value",), hints=GRADIENT_HINTS)
def _check_l2_gradient(ctx):
    """l2_penalty is differentiable: backward() gives each penalised weight the gradient 2 w"""
    return _gradient_verdict(ctx, "l2_penalty", PENALTY_CASES, "the gradient 2 w")


@exercise.check("l1_penalty.value", points=1.5, probe="l1_penalty", requires=("l1_penalty",),
                hints=GRADIENT_HINTS)
def _check_l1_value(ctx):
    """l1_penalty is the sum of the absolute weights (biases only with include_bias=True)"""
    return _value_verdict(ctx, "l1_penalty", _l1_candidates)


@exercise.check("l1_penalty.gradient", points=1.0, probe="l1_penalty", requires=("l1_penalty",),
                depends=("l1_penalty.value",), hints=GRADIENT_HINTS)
def _check_l1_gradient(ctx):
    """l1_penalty is differentiable: backward() gives each penalised weight the gradient sign(w)"""
    return _gradient_verdict(ctx, "l1_penalty", PENALTY_CASES, "the gradient sign(w)")


@exercise.check("regularized_loss.values", points=1.5, probe="regularized_loss", requires=("regularized_loss",),
                hints=GRADIENT_HINTS)
def _check_regularized(ctx):
    """regularized_loss is loss + l1 * l1_penalty + l2 * l2_penalty, differentiable, with l1 = l2 = 0 by default"""
    for key in LOSS_CASES:
        got, expected = ctx.got(key), ctx.expected(key)
        value = _scalar(got)
        if value is None or not isinstance(got, TensorValue):
            return Verdict(False, f"{_loss_text(key)}: expected a 0-dim tensor ({_scalar(expected):.6g}); got "
                                  f"{_what(got)}", hint=HINT_NO_GRADIENT if value is not None else None)
        expected_value = _scalar(expected)
        if expected_value is None:
            raise RuntimeError(f"the reference's {key} is not a number")  # a grader error, never the student's
        if not _close(value, expected_value):
            return Verdict(False, f"{_loss_text(key)}: expected {_scalar(expected):.6g} (the loss plus the weighted "
                                  f"penalties); got {value:.6g}")
    return _gradient_verdict(ctx, "regularized_loss", LOSS_CASES,
                             "the gradient of the loss plus the weighted penalties")


@exercise.check("sgd_weight_decay_equivalent.same_step", points=2.5, probe="sgd_weight_decay_equivalent",
                requires=("sgd_weight_decay_equivalent",))
def _check_weight_decay(ctx):
    """plain SGD with weight_decay=sgd_weight_decay_equivalent(l2) steps like the explicit l2 * ||w||^2 term"""
    for index, l2 in enumerate(WEIGHT_DECAY_L2):
        call = f"sgd_weight_decay_equivalent({l2})"
        got, expected = ctx.got(f"l2_{index}"), ctx.expected(f"l2_{index}")
        value = _scalar(got)
        if value is None or isinstance(got, TensorValue) and got.kind == "tensor":
            return Verdict(False, f"{call}: expected a Python float ({expected:g}); got {_what(got)}",
                           hint=HINT_NUMBER if value is not None else None)
        steps = ctx.got(f"l2_{index}.steps")
        verdict = compare_tensors(steps["weight_decay"], steps["explicit"],
                                  what=f"after {SGD_STEPS} SGD steps (lr={SGD_LR}) with weight_decay={value:g}, the "
                                       f"weights compared with {SGD_STEPS} steps on loss + {l2} * ||w||^2")
        if verdict.passed:
            verdict = compare_arrays(np.array([value]), np.array([float(expected)]), dtype="float64", what=call)
        if not verdict.passed:
            verdict.message = f"{call} returned {value:g}; {verdict.message}"
            if _close(value, l2) or _close(value, l2 / 2):
                verdict.hint = HINT_FACTOR_2
            return verdict
    return Verdict(True, f"weight_decay = {float(ctx.expected('l2_0')):g} for l2 = {WEIGHT_DECAY_L2[0]}: SGD takes "
                         "the same steps as with the explicit penalty")

