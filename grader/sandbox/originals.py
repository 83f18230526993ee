"""The grader's own view of torch, NumPy and the standard library, taken before any
student code runs, and put back before every probe.

A submission may replace ``torch.allclose``, ``torch.is_grad_enabled``,
``time.perf_counter``, ``torch.nn.Linear.forward`` or a function of the grader's own
worker modules; nothing it gains that way may reach a probe. :func:`snapshot` records
the functions and classes of those modules and classes; :func:`restore` puts back every
one that was replaced (added names are left alone) and says which; :func:`original`
resolves a dotted name against the snapshot, so a probe or the forbidden-call watch uses
the real object even while the student's function runs. (Python has no private memory:
a submission can still reach these objects themselves; what it computes that way is
still judged against the reference on the trusted side, and every time and limit is
measured outside the sandbox.)
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

MODULES = ("builtins", "time", "os", "os.path", "random", "math", "io", "json", "pickle", "copy", "functools",
           "itertools", "collections", "signal", "gc", "numpy", "numpy.random", "numpy.linalg", "numpy.testing",
           "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.autograd", "torch.autograd.grad_mode",
           "torch.cuda", "torch.serialization", "torch.optim", "torch.func", "torch.linalg", "torch.random",
           "torch.utils.data", "grader.codec", "grader.sandbox.channel", "grader.sandbox.student",
           "grader.sandbox.recorder", "grader.sandbox.stubs", "grader.sandbox.originals", "grader.sandbox.watching",
           "grader.sandbox.audit")
_resolved: dict[str, Any] = {}
_saved: list[tuple[Any, str, dict[str, Any]]] = []  # (owner, its dotted name, {attribute: original})


def _callable_entries(namespace: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in namespace.items()
            if callable(value) or inspect.ismodule(value) or isinstance(value, (staticmethod, classmethod, property))}


def _classes(modules: list[Any]) -> list[tuple[str, type]]:
    """torch.Tensor, nn.Module and every module, optimizer and data class of torch."""
    import torch

    found: list[tuple[str, type]] = [("torch.Tensor", torch.Tensor)]
    for module in modules:
        if not getattr(module, "__name__", "").startswith(("torch.nn", "torch.optim", "torch.utils.data")):
            continue
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__.startswith("torch") and "__dict__" in dir(value):
                found.append((f"{module.__name__}.{name}", value))
    return found


def snapshot(extra_modules: tuple[str, ...] = (), names: tuple[str, ...] = ()) -> None:
    """Record the originals (call once per worker, before the student's first line);
    ``names``: dotted names to resolve now as well (what the exercises' probes may forbid:
    ``torch._refs._broadcast_shapes`` lives in no module the snapshot keeps)."""
    _saved.clear()
    _resolved.clear()
    modules = []
    for name in MODULES + tuple(extra_modules):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = importlib.import_module(name)
            except Exception:  # noqa: BLE001 - an optional module
                continue
        modules.append(module)
        _saved.append((module, name, _callable_entries(vars(module))))
    for dotted in names:
        found = _resolve(dotted)
        if found is not None:
            _resolved[dotted] = found
    seen: set[int] = set()
    for dotted, cls in _classes(modules):
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        _saved.append((cls, dotted, _callable_entries(dict(vars(cls)))))


def _library_folders() -> tuple[str, ...]:
    folders = []
    for name in ("torch", "numpy"):
        module = sys.modules.get(name)
        if module is not None and (file := getattr(module, "__file__", None)):
            folders.append(os.path.dirname(os.path.realpath(file)) + os.sep)
    return tuple(folders)


def _library_wrapper(new: Any, original: Any) -> bool:
    """torch wraps some of its own functions the first time they are used (an optimizer's
    ``step`` when its class is first built, functions dynamo disables): a wrapper written
    in torch or NumPy whose ``__wrapped__`` chain leads back to the original is theirs."""
    folders = _library_folders()
    for _ in range(6):
        code = getattr(new, "__code__", None)
        if code is None or not os.path.realpath(code.co_filename).startswith(folders):
            return False
        new = getattr(new, "__wrapped__", None)
        if new is original:
            return True
    return False


def restore() -> list[str]:
    """Put back every recorded function or class that was replaced; the names restored.
    torch's own lazy wrappers of a function are kept (they become the new original)."""
    restored = []
    for owner, dotted, entries in _saved:
        current = vars(owner)
        for name, value in list(entries.items()):
            now = current.get(name, value)
            if now is value:
                continue
            if _library_wrapper(now, value):
                entries[name] = now
                continue
            try:
                setattr(owner, name, value)
                restored.append(f"{dotted}.{name}")
            except (AttributeError, TypeError):
                continue
    return restored


def _resolve(dotted: str) -> Any:
    """``dotted`` looked up now: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module (or not importable): try a shorter prefix
            continue
        for rest in parts[cut:]:
            obj = inspect.getattr_static(obj, rest, None)
            if obj is None:
                return None
        return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj
    return None


def original(dotted: str) -> Any:
    """The object ``dotted`` named before student code ran (None when unknown)."""
    if dotted in _resolved:
        return _resolved[dotted]
    owner_name, _, attribute = dotted.rpartition(".")
    for _owner, name, entries in _saved:
        if name == owner_name and attribute in entries:
            return entries[attribute]
    obj: Any = None
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        for _owner, name, entries in _saved:
            if name == ".".join(parts[:cut]) and parts[cut] in entries:
                obj = entries[parts[cut]]
                for rest in parts[cut + 1:]:
                    obj = inspect.getattr_static(obj, rest, None)
                    if obj is None:
                        return None
                return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj
    return None
