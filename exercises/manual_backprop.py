"""Exercise 3, manual_backprop: gradients by hand (and gradient descent with autograd).

The hand-written gradients are compared with autograd in float64: the probe records
autograd's gradients next to the student's, and the checks compare the student's with
those of the reference run. Known mistakes (a sign error, a sum where a mean was due,
a missing sum over the batch, gradients that accumulate) are recognised from the values.
"""

from __future__ import annotations

import ast
import fnmatch
import math
from pathlib import Path

import numpy as np

from grader.codec import Raised, TensorValue
from grader.integrity import UNVERIFIED
from grader.exercise import Exercise, StudentFailed, Verdict
from grader.judging import compare_tensors, describe
from grader.states import CheckStatus

FORBID = ("torch.autograd.backward", "torch.autograd.grad", "torch.autograd.functional.jacobian",
          "torch.autograd.functional.vjp", "torch.autograd.functional.jvp", "torch.func.grad",
          "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jacrev", "torch.func.jacfwd",
          "torch.autograd.Variable._execution_engine.run_backward",  # the C++ engine, however it is reached
          # forward-mode AD (dual numbers) and the graph's nodes called by hand
          "torch._make_dual", "torch._unpack_dual", "torch._C._enter_dual_level", "torch._C._exit_dual_level",
          "torch.autograd.forward_ad.make_dual", "torch.autograd.forward_ad.unpack_dual", "torch.enable_grad",
          "torch.autograd.*", "torch.func.*", "functorch.*", "torch.jit.*", "torch._C._ImperativeEngine*",
          "torch.*_dual*", "torch.*dual_level*", "*.grad_fn", "*.next_functions",  # not *dual*: "residual"
          # a leaf that requires grad (what loss.backward() fills): hand-written backprop never needs one
          "torch.nn.Parameter", "torch.nn.UninitializedParameter", "torch.nn.parameter.*")

exercise = Exercise(
    id="manual_backprop",
    title="Gradients by hand",
    names=("linear_mse_grads", "two_layer_backward", "fit_cubic"),
    reference=Path(__file__).resolve().parent.parent / "reference" / "manual_backprop.py",
    mutants=Path(__file__).resolve().parent / "mutants" / "manual_backprop",
    forbidden=FORBID,
    description="linear_mse_grads, two_layer_backward, fit_cubic",
)

#: what the source of a hand-written function must not use (prefixes / attribute names)
AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch", "torch.jit", "torch._C._ImperativeEngine",
                    "torch._make_dual", "torch._unpack_dual", "torch._C._enter_dual_level",
                    "torch._C._exit_dual_level", "torch.enable_grad", "torch.nn.Parameter",
                    "torch.nn.UninitializedParameter", "torch.nn.parameter")
AUTOGRAD_PATTERNS = ("torch.*_dual*", "torch.*dual_level*")
#: attributes of autograd: the gradient, its graph's nodes, asking for a graph
AUTOGRAD_ATTRS = ("backward", "grad", "grad_fn", "next_functions", "requires_grad_", "register_hook",
                  "retain_grad")
#: of those, the names a student's own layer classes may define and call (cs231n-style ``layer.backward(d)``)
OWN_ATTRS = ("backward", "grad")

HINT_NO_AUTOGRAD = ("this function must compute the gradient by hand, from the analytic formula: no .backward(), "
                    "no torch.autograd (forward-mode dual numbers included), no .grad, no .grad_fn graph walking, "
                    "no requires_grad or nn.Parameter. Differentiate the loss on paper (chain rule) and write the "
                    "result with tensor operations.")
HINT_SIGN_LINEAR = ("sign error: your gradient is the negative of the correct one (following it would be gradient "
                    "ascent). d/da (y - a - b*x)**2 = -2 (y - a - b*x): mind the minus sign from the inner derivative.")
HINT_SIGN_TWO_LAYER = ("sign error: your gradient is the negative of the correct one (following it would be gradient "
                       "ascent). The loss mean((yhat - y)**2) has d loss/d yhat = 2 (yhat - y) / yhat.numel().")
HINT_MEAN_LINEAR = ("mean vs sum: the loss is the mean over the n points, so every gradient carries a factor 1/n. "
                    "Your gradient is n times too large: use .mean() where you used .sum().")
HINT_MEAN_TWO_LAYER = ("mean vs sum: the loss is the mean over all N * out_features elements of yhat, so "
                       "d loss/d yhat = 2 (yhat - y) / yhat.numel(). Your gradient is {factor} times too large "
                       "({what}).")
HINT_TWICE = ("your gradient is exactly twice the correct one: a factor 2 counted twice, or the same gradient added "
              "twice (accumulated). The derivative of r**2 is 2 r, once.")
HINT_HALF = "your gradient is half the correct one: the derivative of r**2 is 2 r (the factor 2 is missing)."
HINT_BATCH_SUM = ("a gradient of the wrong shape: each gradient has the shape of its parameter. A parameter is "
                  "shared by every example of the batch, so sum the per-example terms over the batch dimension "
                  "(e.g. d_z.sum(dim=0) for b1, or .mean() / .sum() for a scalar).")
HINT_TRANSPOSED = ("this gradient is transposed: it must have the shape of its parameter, (out, in) for a weight "
                   "used as x @ W.T; d_W = d_out.T @ input, not input.T @ d_out.")
HINT_ACCUMULATE = ("the gradients are not cleared: backward() adds into .grad, so without zeroing, every step uses "
                   "the sum of all the gradients so far (they accumulate). Clear them every step: p.grad.zero_(), "
                   "p.grad = None, or optimizer.zero_grad().")
HINT_ASCENT = ("sign error: you moved the parameters along +gradient, which is gradient ascent. The update is "
               "theta <- theta - lr * dL/dtheta (p -= lr * p.grad).")
HINT_FIT_MEAN = ("mean vs sum: fit_cubic's loss is the SUM of squared errors, not the mean; with .mean() each step "
                 "is n times smaller. Use ((yhat - y)**2).sum().")
HINT_NO_GRAD_UPDATE = ("update the parameters in place under torch.no_grad(): "
                       "`with torch.no_grad(): p -= lr * p.grad`. "
                       "Outside no_grad, PyTorch refuses to change a leaf tensor that requires grad in place.")
HINT_MATMUL = ("the shapes do not fit a matrix product: follow the shapes backwards. With z = x @ W1.T + b1 and "
               "yhat = h @ W2.T + b2: d_h = d_yhat @ W2 (N, H), d_W2 = d_yhat.T @ h (O, H), d_W1 = d_z.T @ x "
               "(H, D); each gradient has the shape of its parameter.")
MATMUL_HINTS = {"shapes cannot be multiplied": HINT_MATMUL, "must match the size of tensor": HINT_MATMUL,
                "size mismatch": HINT_MATMUL}
HINT_GRAD_NONE = ("p.grad is None before the first backward(): zero the gradients after the update (or use "
                  "p.grad = None / an optimizer's zero_grad()), and keep p a leaf tensor (update it in place, "
                  "p -= ..., rather than p = p - ...).")

# ------------------------------------------------------------------ inputs
LINEAR_CASES = {  # key -> (n, dtype, label)
    "small": (10, "float64", "on 10 float64 points"),
    "large": (200, "float64", "on 200 float64 points"),
    "shifted": (37, "float64", "on 37 float64 points far from 0"),
    "float32": (50, "float32", "on 50 float32 points"),
    "single": (1, "float64", "on a single float64 point"),
}
TWO_LAYER_CASES = {  # key -> (N, D, H, O)
    "small": (8, 3, 5, 3),
    "wide": (16, 6, 10, 4),
    "one_output": (12, 4, 3, 1),
    "single": (1, 4, 3, 2),
}
PARAMS = ("W1", "b1", "W2", "b2")
FIT_CASES = {  # key -> (data, lr, steps, label)
    "one_step": ("cos", 1e-7, 1, "after 1 step on y = cos(x)"),
    "few_steps": ("cos", 1e-7, 5, "after 5 steps on y = cos(x)"),
    "cos": ("cos", 1e-7, 300, "after 300 steps on y = cos(x), x = linspace(-pi/2, 3pi/2, 2000), lr = 1e-7"),
    "poly": ("poly", 1e-4, 200, "after 200 steps on a noisy cubic, x = linspace(-1, 2, 500), lr = 1e-4"),
}
FIT_VARIANTS = ("accumulate", "ascent", "mean")
FIT_VARIANT_CASES = ("one_step", "few_steps")  # known mistakes are recognised on the short runs


def _fit_data(name):
    import torch

    if name == "cos":
        x = torch.linspace(-math.pi / 2, 3 * math.pi / 2, 2000)
        return x, torch.cos(x)
    g = torch.Generator().manual_seed(7)
    x = torch.linspace(-1.0, 2.0, 500)
    return x, 0.5 - x + 0.8 * x ** 3 + 0.1 * torch.randn(500, generator=g)


def _fit_variant(x, y, lr, steps, mode):
    """Gradient descent as the reference does it, with one known mistake (hint detection)."""
    import torch

    params = [torch.zeros((), dtype=x.dtype, requires_grad=True) for _ in range(4)]
    a, b, c, d = params
    for _ in range(steps):
        errors = (a + b * x + c * x ** 2 + d * x ** 3 - y) ** 2
        loss = errors.mean() if mode == "mean" else errors.sum()
        loss.backward()
        with torch.no_grad():
            for p in params:
                if mode == "ascent":
                    p += lr * p.grad
                else:
                    p -= lr * p.grad
                if mode != "accumulate":
                    p.grad = None
    return torch.stack([p.detach() for p in params])


# ------------------------------------------------------------------ probes (sandbox side)
@exercise.probe("linear_mse_grads")
def _probe_linear(student, rec):
    import torch

    for i, (key, (n, dtype, _)) in enumerate(LINEAR_CASES.items()):
        g = torch.Generator().manual_seed(100 + i)
        dt = getattr(torch, dtype)
        a = torch.randn((), generator=g, dtype=dt)
        b = torch.randn((), generator=g, dtype=dt)
        x = torch.randn(n, generator=g, dtype=dt) * 2 + (5.0 if key == "shifted" else 0.0)
        y = 3 * x - 1 + torch.randn(n, generator=g, dtype=dt)
        a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()
        loss = ((y - a_ - b_ * x) ** 2).mean()
        rec.record(key + ".autograd", tuple(torch.autograd.grad(loss, (a_, b_))))
        rec.record(key + ".n", n)
        rec.call(key, "linear_mse_grads", a.clone(), b.clone(), x.clone(), y.clone(), forbid=FORBID, timeout=5)


@exercise.probe("two_layer_backward")
def _probe_two_layer(student, rec):
    import torch

    for i, (key, (n, d, h, o)) in enumerate(TWO_LAYER_CASES.items()):
        g = torch.Generator().manual_seed(200 + i)
        f64 = torch.float64
        x = torch.randn(n, d, generator=g, dtype=f64)
        W1 = torch.randn(h, d, generator=g, dtype=f64) / math.sqrt(d)
        b1 = torch.randn(h, generator=g, dtype=f64) * 0.5
        W2 = torch.randn(o, h, generator=g, dtype=f64) / math.sqrt(h)
        b2 = torch.randn(o, generator=g, dtype=f64) * 0.5
        y = torch.randn(n, o, generator=g, dtype=f64)
        params = [p.clone().requires_grad_() for p in (W1, b1, W2, b2)]
        hidden = torch.sigmoid(x @ params[0].T + params[1])
        loss = ((hidden @ params[2].T + params[3] - y) ** 2).mean()
        rec.record(key + ".autograd", dict(zip(PARAMS, torch.autograd.grad(loss, params))))
        rec.record(key + ".dims", [n, d, h, o])
        rec.call(key, "two_layer_backward", x.clone(), W1.clone(), b1.clone(), W2.clone(), b2.clone(), y.clone(),
                 forbid=FORBID, timeout=5)


@exercise.probe("fit_cubic", timeout=60)
def _probe_fit(student, rec):
    data = {name: _fit_data(name) for name in ("cos", "poly")}
    for key, (name, lr, steps, _) in FIT_CASES.items():
        x, y = data[name]
        for mode in FIT_VARIANTS if key in FIT_VARIANT_CASES else ():
            rec.record(f"{key}.{mode}", _fit_variant(x, y, lr, steps, mode))
        timed_out = rec.timed_out()
        if timed_out is not None:  # one run past its limit: the longer ones would be too
            rec.fail_like(key, timed_out)
            continue
        rec.call(key, "fit_cubic", x.clone(), y.clone(), lr, steps, timeout=10)


# ------------------------------------------------------------------ helpers (trusted side)
def _got(ctx, key):
    """The student's observation; a refused autograd call gets the no-autograd hint."""
    raw = ctx.raw(key)
    try:
        return ctx.got(key)
    except StudentFailed as failure:
        if isinstance(raw, Raised) and raw.forbidden and not raw.is_a(UNVERIFIED):
            failure.verdict.hint = HINT_NO_AUTOGRAD
        raise


def _what(value) -> str:
    """describe(), spelling out the items of a container (their reprs are not for students)."""
    if isinstance(value, (tuple, list)):
        kind = getattr(value, "type_name", type(value).__name__)
        items = "; ".join(describe(v) for v in value[:4]) + ("; ..." if len(value) > 4 else "")
        return f"a {kind} of {len(value)} item{'s' if len(value) != 1 else ''} ({items})"
    if isinstance(value, dict):
        return f"a dict with keys {', '.join(map(repr, list(value)[:8]))}"
    return describe(value)


def _scaled(expected: TensorValue, factor: float) -> np.ndarray | None:
    return None if expected.data is None else expected.data.astype(np.float64) * factor


def _close(got, candidate, rtol: float = 1e-4) -> bool:
    """``got`` equals ``candidate`` up to ``rtol`` relative to the candidate's own magnitude
    (used to recognise a known mistake, so tiny values are not matched by an absolute floor)."""
    if isinstance(candidate, TensorValue):
        candidate = candidate.data
    if not isinstance(got, TensorValue) or got.data is None or candidate is None:
        return False
    g, c = got.data.astype(np.float64), np.asarray(candidate, dtype=np.float64)
    if g.shape != c.shape or not np.all(np.isfinite(g)) or not np.all(np.isfinite(c)):
        return False
    scale = float(np.max(np.abs(c))) if c.size else 0.0
    return bool(np.allclose(g, c, rtol=rtol, atol=rtol * scale))


def _factor_hint(got, expected: TensorValue, hints: list[tuple[float, str]]) -> str | None:
    """The hint of the first known factor (e.g. -1: a sign error) that turns the expected
    value into the student's."""
    if expected.data is None or not np.any(np.abs(expected.data) > 1e-12):
        return None
    for factor, hint in hints:
        if factor != 1 and _close(got, _scaled(expected, factor)):
            return hint
    return None


def _autograd_uses(ctx, function: str) -> list[str]:
    """Autograd spellings in the source of ``function`` (and the helpers it calls). A
    ``.backward``/``.grad`` the submission defines itself (a method of its own layer class,
    an attribute it sets on its own objects) is not autograd's (torch's own Tensor.backward
    is caught at run time, by identity)."""
    found = set()
    own = ctx.source.defined_attributes() & set(OWN_ATTRS)
    for name in ctx.source.names_used(function):
        if name.startswith(("str:", "code:", "name:")):  # a name looked up: getattr(t, "backward")
            if name.startswith("name:") and name[5:] in AUTOGRAD_ATTRS and name[5:] not in own:
                found.add(f"getattr(..., {name[5:]!r})")
            continue
        attr = name.rsplit(".", 1)[-1]
        if any(name == m or name.startswith(m + ".") for m in AUTOGRAD_MODULES) or any(
                fnmatch.fnmatchcase(name, p) for p in AUTOGRAD_PATTERNS):
            found.add(name)
        elif "." in name and attr in AUTOGRAD_ATTRS and attr not in own:
            found.add("." + attr + ("()" if attr in ("backward", "requires_grad_") else ""))
    for node in ctx.source.nodes_reached(function):
        for sub in ast.walk(node):
            if isinstance(sub, ast.keyword) and sub.arg == "requires_grad" and not _false(sub.value):
                found.add("requires_grad=True")
            elif isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and not _false(sub.value) and any(
                    isinstance(t, ast.Attribute) and t.attr == "requires_grad"
                    for t in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])):
                found.add(".requires_grad = True")
    # keep the most specific spelling: torch.autograd.grad rather than torch.autograd
    return sorted(f for f in found if not any(o != f and o.startswith(f + ".") for o in found))


def _false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, None, 0)


def _static_verdict(ctx, function: str, cases) -> Verdict:
    """Judged from the source, whatever the values (a wrong gradient is charged in the
    values check only). A call in which autograd was refused at run time already failed
    the values check: then this one is skipped. The starter's stub fails here."""
    raws = [ctx.raw(key) for key in cases]
    if all(isinstance(r, Raised) and r.is_a("NotImplementedError") for r in raws):
        ctx.got(next(iter(cases)))
    if not any(isinstance(r, (tuple, list, dict)) and len(r) for r in raws) and not any(
            isinstance(r, Raised) and r.forbidden for r in raws):
        return Verdict(False, f"could not be judged: {function} returned no gradients (see its values check)",
                       status=CheckStatus.SKIPPED)
    refused = sorted({r.forbidden for r in raws if isinstance(r, Raised) and r.forbidden})
    if refused:  # the one mistake is charged where the refused call was: in the values check
        return Verdict(False, f"skipped: {function} called {', '.join(refused)}, which is charged in its values "
                              "check", status=CheckStatus.SKIPPED)
    found = _autograd_uses(ctx, function)
    if found:
        return Verdict(False, f"{function} uses {', '.join(found)}; it must compute the gradient by hand",
                       hint=HINT_NO_AUTOGRAD)
    return Verdict(True, f"{function} computes its gradients without autograd")


# ------------------------------------------------------------------ checks: linear_mse_grads
@exercise.check("linear_mse_grads.values", points=2.5, probe="linear_mse_grads", requires=("linear_mse_grads",))
def _check_linear(ctx):
    """linear_mse_grads returns (da, db) equal to autograd's gradient of the mean squared error"""
    for key, (n, _dtype, label) in LINEAR_CASES.items():
        got = _got(ctx, key)
        expected = ctx.expected(key + ".autograd")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return Verdict(False, f"{label}: expected a tuple (da, db) of two 0-dim tensors; got {_what(got)}")
        for name, g, e in zip(("da", "db"), got, expected):
            what = f"{label}, {name}"
            verdict = compare_tensors(g, e, what=what)
            if verdict.passed:
                continue
            if isinstance(g, (int, float)):
                verdict.hint = "return tensors, not Python numbers: drop the .item() / float()."
            elif isinstance(g, TensorValue) and tuple(g.shape) == (n,) and n > 1:
                verdict.hint = HINT_BATCH_SUM
            else:
                other = expected[1 if name == "da" else 0]
                verdict.hint = _factor_hint(g, e, [(-1.0, HINT_SIGN_LINEAR), (float(n), HINT_MEAN_LINEAR),
                                                   (2.0, HINT_TWICE), (0.5, HINT_HALF)])
                if verdict.hint is None and _close(g, other) and not _close(g, e):
                    verdict.hint = "da and db are swapped: return (da, db) in that order."
            return verdict
    return Verdict(True, f"all {len(LINEAR_CASES)} cases match autograd")


@exercise.check("linear_mse_grads.no_autograd", points=0.5, probe="linear_mse_grads", requires=("linear_mse_grads",))
def _check_linear_static(ctx):
    """linear_mse_grads does not use autograd (.backward, torch.autograd, .grad, .grad_fn, requires_grad, Parameter)"""
    return _static_verdict(ctx, "linear_mse_grads", LINEAR_CASES)


# ------------------------------------------------------------------ checks: two_layer_backward
def _two_layer_label(dims) -> str:
    n, d, h, o = dims
    return f"for x of shape ({n}, {d}), {h} hidden units, {o} output{'s' if o != 1 else ''}"


@exercise.check("two_layer_backward.shapes", points=0.5, probe="two_layer_backward",
                requires=("two_layer_backward",), hints=MATMUL_HINTS)
def _check_two_layer_shapes(ctx):
    """two_layer_backward returns a dict with W1, b1, W2, b2, each shaped like its parameter"""
    for key in TWO_LAYER_CASES:
        got = _got(ctx, key)
        expected = ctx.expected(key + ".autograd")
        dims = ctx.expected(key + ".dims")
        label = _two_layer_label(dims)
        if not isinstance(got, dict):
            verdict = Verdict(False, f"{label}: expected a dict with keys 'W1', 'b1', 'W2', 'b2'; got {_what(got)}")
            if isinstance(got, (tuple, list)):
                verdict.hint = 'return a dict keyed by parameter name: {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}.'
            return verdict
        missing = [k for k in PARAMS if k not in got]
        if missing:
            return Verdict(False, f"{label}: the dict lacks the key(s) {', '.join(map(repr, missing))} "
                                  f"(it has {', '.join(map(repr, list(got)[:8]))})")
        for name in PARAMS:
            g, e = got[name], expected[name]
            if not isinstance(g, TensorValue):
                return Verdict(False, f"{label}: {name} should be a tensor of shape {list(e.shape)}; got {_what(g)}")
            if tuple(g.shape) != tuple(e.shape):
                verdict = Verdict(False, f"{label}: the gradient {name} should have the shape of {name}, "
                                         f"{list(e.shape)}; got shape {list(g.shape)}")
                per_sample = tuple(g.shape) == (dims[0],) + tuple(e.shape)
                if per_sample or (len(e.shape) == 1 and g.shape == (dims[0], e.shape[0])):
                    verdict.hint = HINT_BATCH_SUM
                elif len(e.shape) == 2 and tuple(g.shape) == tuple(reversed(e.shape)):
                    verdict.hint = HINT_TRANSPOSED
                return verdict
    return Verdict(True, f"all {len(TWO_LAYER_CASES)} cases have the right keys and shapes")


def _shaped_like(got, expected) -> list[str]:
    """The parameters whose gradient in ``got`` is a tensor of its parameter's shape."""
    if not isinstance(got, dict):
        return []
    return [p for p in PARAMS
            if isinstance(got.get(p), TensorValue) and tuple(got[p].shape) == tuple(expected[p].shape)]


@exercise.check("two_layer_backward.values", points=2.5, probe="two_layer_backward",
                requires=("two_layer_backward",), hints=MATMUL_HINTS)
def _check_two_layer_values(ctx):
    """two_layer_backward's gradients equal autograd's (float64)"""
    unjudged: set[str] = set()
    for key in TWO_LAYER_CASES:
        got = _got(ctx, key)
        expected = ctx.expected(key + ".autograd")
        n, d, h, o = dims = ctx.expected(key + ".dims")
        judged = _shaped_like(got, expected)  # a missing or misshapen gradient is charged in .shapes, once
        unjudged |= set(PARAMS) - set(judged)
        for name in judged:
            verdict = compare_tensors(got[name], expected[name], what=f"{_two_layer_label(dims)}, the gradient {name}")
            if verdict.passed:
                continue
            factors = [(-1.0, HINT_SIGN_TWO_LAYER)]
            if n * o > 1:
                factors.append((float(n * o), HINT_MEAN_TWO_LAYER.format(
                    factor=n * o, what="the loss was summed instead of averaged")))
            if o > 1:
                factors.append((float(o), HINT_MEAN_TWO_LAYER.format(
                    factor=o, what="you divided by the batch size N only, not by N * out_features")))
            if n > 1:
                factors.append((float(n), HINT_MEAN_TWO_LAYER.format(
                    factor=n, what="you divided by out_features only, not by N * out_features")))
            factors += [(2.0, HINT_TWICE), (0.5, HINT_HALF)]
            verdict.hint = _factor_hint(got[name], expected[name], factors)
            if verdict.hint is None and name in ("W1", "b1") and {"W2", "b2"} <= set(judged) and all(
                    compare_tensors(got[p], expected[p]).passed for p in ("W2", "b2")):
                verdict.hint = ("W2 and b2 are right, so the error is in the step through the hidden layer: "
                                "d_h = d_yhat @ W2, then d_z = d_h * h * (1 - h) (the sigmoid's derivative, "
                                "with h = sigmoid(z)).")
            return verdict
    if unjudged == set(PARAMS):
        return Verdict(False, "could not be judged: no gradient has the shape of its parameter (see "
                              "two_layer_backward.shapes)", status=CheckStatus.SKIPPED)
    left_out = f" ({', '.join(p for p in PARAMS if p in unjudged)}: judged in two_layer_backward.shapes)" \
        if unjudged else ""
    return Verdict(True, f"all gradients match autograd in {len(TWO_LAYER_CASES)} cases{left_out}")


@exercise.check("two_layer_backward.no_autograd", points=0.5, probe="two_layer_backward",
                requires=("two_layer_backward",))
def _check_two_layer_static(ctx):
    """two_layer_backward uses no autograd (.backward, torch.autograd, .grad, .grad_fn, requires_grad, Parameter)"""
    return _static_verdict(ctx, "two_layer_backward", TWO_LAYER_CASES)


# ------------------------------------------------------------------ checks: fit_cubic
FIT_HINTS = {
    "a leaf Variable that requires grad": HINT_NO_GRAD_UPDATE,
    "'NoneType' object has no attribute": HINT_GRAD_NONE,
    "unsupported operand type(s) for *: 'float' and 'NoneType'": HINT_GRAD_NONE,
    "unsupported operand type(s) for *: 'NoneType'": HINT_GRAD_NONE,
}
FIT_TOLERANCE = 1e-3  # plain float32 gradient descent: any formula agrees far better than this


def _fit_compare(ctx, key):
    label = FIT_CASES[key][3]
    got = ctx.got(key)
    expected = ctx.expected(key)
    scale = float(np.max(np.abs(expected.data))) if expected.data is not None and expected.data.size else 1.0
    verdict = compare_tensors(got, expected, what=f"{label}, [a, b, c, d]", rtol=FIT_TOLERANCE,
                              atol=FIT_TOLERANCE * 0.1 * scale)
    if verdict.passed:
        return verdict
    if isinstance(got, (list, tuple)):
        verdict.hint = "return one tensor [a, b, c, d], e.g. torch.stack([a, b, c, d]).detach(), not a Python sequence."
        return verdict
    hints = {"accumulate": HINT_ACCUMULATE, "ascent": HINT_ASCENT, "mean": HINT_FIT_MEAN}
    for mode, hint in hints.items() if key in FIT_VARIANT_CASES else ():
        variant = ctx.expected(f"{key}.{mode}")
        if variant.data is None or not np.all(np.isfinite(variant.data)):
            continue
        if _close(got, variant, rtol=1e-2) and not _close(got, expected, rtol=1e-2):
            verdict.hint = hint
            return verdict
    if isinstance(got, TensorValue) and got.data is not None and not np.all(np.isfinite(got.data.astype(np.float64))):
        verdict.hint = ("the parameters blew up (inf/NaN): check the update's sign (theta -= lr * grad) and that "
                        "the gradients are cleared every step.")
    return verdict


@exercise.check("fit_cubic.one_step", points=1.0, probe="fit_cubic", requires=("fit_cubic",), hints=FIT_HINTS)
def _check_fit_one(ctx):
    """fit_cubic's first gradient-descent step (from zeros, on the summed squared error) is right"""
    return _fit_compare(ctx, "one_step")


@exercise.check("fit_cubic.values", points=2.5, probe="fit_cubic", requires=("fit_cubic",), hints=FIT_HINTS)
def _check_fit(ctx):
    """fit_cubic matches the reference after many gradient-descent steps"""
    for key in ("few_steps", "cos", "poly"):
        verdict = _fit_compare(ctx, key)
        if not verdict.passed:
            return verdict
    return Verdict(True, "the coefficients match the reference after 5, 300 and 200 steps")

