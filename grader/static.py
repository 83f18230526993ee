"""Trusted-side reading of the student's source: which functions call what.

Used for rules such as "implement ``broadcast_shape`` by hand" or "no autograd inside
``linear_mse_grads``". Aliases (``import torch as T``, ``from torch import
broadcast_shapes as bs``) and calls through the student's own helper functions are
followed, so renaming a forbidden call does not hide it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class StudentSource:
    functions: dict[str, ast.AST] = field(default_factory=dict)  # top-level def name -> node
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> dotted origin
    where: dict[str, str] = field(default_factory=dict)  # def name -> "cell 3"

    @classmethod
    def from_units(cls, units) -> "StudentSource":
        source = cls()
        for unit in units:
            try:
                tree = ast.parse(unit.source)
            except (SyntaxError, RecursionError, MemoryError):
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    source.functions[node.name] = node
                    source.where[node.name] = unit.label
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        source.aliases[alias.asname or alias.name.split(".")[0]] = (
                            alias.name if alias.asname else alias.name.split(".")[0])
                elif isinstance(node, ast.ImportFrom) and node.module:
                    for alias in node.names:
                        source.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return source

    def _dotted(self, node: ast.AST, local_aliases: dict[str, str]) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = local_aliases.get(node.id) or self.aliases.get(node.id, node.id)
        return ".".join([head] + list(reversed(parts)))

    def names_used(self, function: str, _seen: set[str] | None = None) -> set[str]:
        """Every dotted name referenced inside ``function`` (and the student's helpers it
        calls), with import aliases resolved: ``{"torch.broadcast_shapes", "len", ...}``."""
        seen = _seen if _seen is not None else set()
        if function in seen or function not in self.functions:
            return set()
        seen.add(function)
        node = self.functions[function]
        local_aliases: dict[str, str] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                for alias in sub.names:
                    local_aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0])
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                for alias in sub.names:
                    local_aliases[alias.asname or alias.name] = f"{sub.module}.{alias.name}"
        used: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Attribute, ast.Name)):
                dotted = self._dotted(sub, local_aliases)
                if dotted:
                    used.add(dotted)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                used.add(f"str:{sub.value}")  # getattr(torch, "broadcast_shapes")
        for name in list(used):
            if name in self.functions and name != function:
                used |= self.names_used(name, seen)
        return used

    def find_forbidden(self, function: str, forbidden: set[str]) -> list[str]:
        """The forbidden dotted names (e.g. ``torch.broadcast_shapes``) ``function`` uses.
        ``numpy``/``np`` spellings are treated alike; a bare attribute name given as a
        string (``getattr(torch, "broadcast_shapes")``) counts too."""
        used = {u.replace("np.", "numpy.", 1) if u.startswith("np.") else u for u in self.names_used(function)}
        found = []
        for name in sorted(forbidden):
            attr = name.rsplit(".", 1)[-1]
            if name in used or f"str:{attr}" in used or any(u.endswith("." + attr) and u.split(".")[0] in ("torch", "numpy") for u in used):
                found.append(name)
        return found
