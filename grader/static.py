"""Trusted-side reading of the student's source: which functions use what.

Used for rules such as "implement ``broadcast_shape`` by hand" or "no autograd inside
``linear_mse_grads``" (the sandbox also notices a forbidden call at run time, by the
identity of the function's code). Every way of naming a function counts as using it:
imports under another name (``import torch as T``, ``from torch import broadcast_shapes
as bs``), names bound at the top level or inside the function (``_g = torch.autograd.grad``,
``f = getattr(torch, "broadcast_shapes")``, ``vars(torch)["..."]``,
``torch.__dict__["..."]``), default arguments, lambdas, and the student's own helper
functions and classes it calls.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_LOOKUPS = ("getattr", "vars", "__dict__")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _folded(node: ast.AST) -> str | None:
    """The text of ``"a" + "b"`` (constants only), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left), _folded(node.right)
        return None if left is None or right is None else (left + right)[:200]
    return None


def _numpy(name: str) -> str:
    return "numpy." + name[3:] if name.startswith("np.") else name


def _import_aliases(node: ast.AST) -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            found[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom) and node.module:
        for alias in node.names:
            found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


@dataclass
class StudentSource:
    functions: dict[str, ast.AST] = field(default_factory=dict)  # top-level def/class/lambda name -> node
    aliases: dict[str, str] = field(default_factory=dict)  # top-level name -> dotted origin
    where: dict[str, str] = field(default_factory=dict)  # def name -> "cell 3"
    trees: list[tuple[Any, ast.Module]] = field(default_factory=list)  # (unit, its parsed source)
    top_level_names: set[str] = field(default_factory=set)  # names the code outside any def refers to
    bound: dict[str, ast.AST] = field(default_factory=dict)  # top-level name -> the expression it was bound to
    _used: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)  # names_used, asked

    @classmethod
    def from_units(cls, units) -> StudentSource:
        source = cls()
        for unit in units:
            try:
                tree = ast.parse(unit.source)
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                continue
            source.trees.append((unit, tree))
            for node in tree.body:
                source._top_level(node, unit.label)
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    source.top_level_names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        return source

    def dotted(self, node: ast.AST, local_aliases: dict[str, str] | None = None) -> str | None:
        """The dotted name an expression stands for, top-level aliases resolved (None
        when it is not a name: a call's result, a subscript of a list...)."""
        return self._dotted(node, local_aliases or {})

    def local_aliases(self, node: ast.AST) -> dict[str, str]:
        """Names bound inside a function to a dotted name (``s = sys``, ``import sys as s``)."""
        return self._local_aliases(node)

    def _top_level(self, node: ast.AST, label: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.functions[node.name] = node
            self.where[node.name] = label
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.aliases.update(_import_aliases(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target, value in self._pairs(targets, node.value):
                if isinstance(value, ast.Lambda):
                    self.functions[target] = value
                    self.where[target] = label
                else:
                    dotted = self._dotted(value, {})
                    if dotted:
                        self.aliases[target] = dotted
                    else:  # _cu = torch.jit.CompilationUnit("..."): what the value is made of counts too
                        self.bound[target] = value

    @staticmethod
    def _pairs(targets: Sequence[ast.AST], value: ast.AST) -> list[tuple[str, ast.AST]]:
        """(name, expression) for ``a = x`` and ``a, b = x, y``."""
        pairs = []
        for target in targets:
            if isinstance(target, ast.Name):
                pairs.append((target.id, value))
            elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
                pairs += [(t.id, v) for t, v in zip(target.elts, value.elts) if isinstance(t, ast.Name)]
        return pairs

    def _dotted(self, node: ast.AST, local_aliases: dict[str, str]) -> str | None:
        """The dotted name an expression stands for: ``T.autograd.grad``, ``getattr(torch,
        "x")``, ``vars(torch)["x"]`` and ``torch.__dict__["x"]`` included."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            owner = self._dotted(node.args[0], local_aliases)
            return f"{owner}.{node.args[1].value}" if owner else None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):
            container = node.value
            if isinstance(container, ast.Call) and isinstance(container.func, ast.Name) \
                    and container.func.id == "vars" and container.args:
                base = self._dotted(container.args[0], local_aliases)
            elif isinstance(container, ast.Attribute) and container.attr == "__dict__":
                base = self._dotted(container.value, local_aliases)
            else:
                return None
            return f"{base}.{node.slice.value}" if base else None
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = local_aliases.get(node.id) or self.aliases.get(node.id, node.id)
        return ".".join([head] + list(reversed(parts)))

    def _local_aliases(self, node: ast.AST) -> dict[str, str]:
        found: dict[str, str] = {}
        for sub in ast.walk(node):
            found.update(_import_aliases(sub))
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target, value in self._pairs(sub.targets, sub.value):
                    dotted = self._dotted(value, found)
                    if dotted and not dotted.startswith(target + "."):
                        found[target] = dotted
        return found

    def names_used(self, function: str, _seen: set[str] | None = None) -> set[str]:
        """Every dotted name referenced inside ``function`` (and the student's helpers it
        calls), aliases resolved: ``{"torch.broadcast_shapes", "len", ...}``; string
        constants appear as ``str:<text>``. The source never changes: each answer is kept."""
        if _seen is None:
            if function not in self._used:
                self._used[function] = frozenset(self.names_used(function, set()))
            return set(self._used[function])
        seen = _seen
        if function in seen or (function not in self.functions and function not in self.bound):
            return set()
        seen.add(function)
        node = self.functions.get(function) or self.bound[function]
        local_aliases = self._local_aliases(node)
        used: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Attribute, ast.Name, ast.Call, ast.Subscript)):
                dotted = self._dotted(sub, local_aliases)
                if dotted:
                    used.add(dotted)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                used.add(f"str:{sub.value}")  # getattr(torch, "broadcast_shapes")
            folded = _folded(sub)
            if folded is not None:
                used.add(f"str:{folded}")  # getattr(torch, "broadcast_" + "shapes")
        for name in list(used):
            head = name.split(".")[0]
            for helper in {name, head}:
                if (helper in self.functions or helper in self.bound) and helper != function:
                    used |= self.names_used(helper, seen)
        return used

    def find_forbidden(self, function: str, forbidden: set[str]) -> list[str]:
        """The forbidden dotted names (e.g. ``torch.broadcast_shapes``) ``function`` uses.
        ``numpy``/``np`` spellings are treated alike; a bare attribute name given as a
        string (``getattr(torch, "broadcast_shapes")``) counts too, and so does a name
        inside a string (code that TorchScript compiles). A name with ``*`` is a pattern
        (``torch.*broadcast*``: any helper of torch whose name says so)."""
        used = {_numpy(u) for u in self.names_used(function)}
        names = {u for u in used if not u.startswith("str:")}
        strings = {u[4:].strip() for u in used if u.startswith("str:")}
        words = {s for s in strings if s.isidentifier()}  # getattr(torch, "broadcast_shapes")
        dotted = {_numpy(t) for s in strings for t in _TOKEN.findall(s) if "." in t}  # code in a string
        exact = sorted(n for n in forbidden if "*" not in n and n in names)
        if exact:
            return exact
        found = []
        for name in sorted(forbidden):
            if "*" in name:
                tail = name.split(".")[-1]
                if any(fnmatch.fnmatchcase(u, name) for u in names | dotted) or (
                        tail != "*" and any(fnmatch.fnmatchcase(w, tail) for w in words)):
                    found.append(name)
                continue
            attr = name.rsplit(".", 1)[-1]
            if name in dotted or attr in words or any(
                    u.endswith("." + attr) and u.split(".")[0] in ("torch", "numpy") for u in names):
                found.append(name)
        return found
