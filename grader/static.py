"""Trusted-side reading of the student's source: which functions use what.

Used for rules such as "implement ``broadcast_shape`` by hand" or "no autograd inside
``linear_mse_grads``" (the sandbox also notices a forbidden call at run time, by the
identity of the function's code). Every way of naming a function counts as using it:
imports under another name (``import torch as T``, ``from torch import broadcast_shapes
as bs``), names bound inside the function (``_g = torch.autograd.grad``,
``f = getattr(torch, "broadcast_shapes")``, ``vars(torch)["..."]``,
``torch.__dict__["..."]``), default arguments, lambdas, and the student's own helper
functions and classes it calls.

What a module-level name stands for is every value stored into it, wherever that happens
(:attr:`StudentSource.bound`): an assignment or an import at the top level, also inside an
``if``/``try``/``with``/``for``/``while`` block; a ``for``/``with ... as``/``:=`` target; a
``global`` name assigned inside a function; a store into it as a container or an object
(``TOOLS["b"] = np.broadcast``, ``ns.f = ...``, ``TOOLS.update(...)``, ``setattr(ns, ...)``,
``globals()[...] = ...``), from the top level or from a function (then that function, and
what its callers pass it, count too). A function that uses the name reaches all of it.
Names are read with Python's scoping: a function's own local ``a`` is not the top level's
``a``.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

_LOOKUPS = ("getattr", "vars", "__dict__")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_FUNCTIONS, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)
_NAMESPACES = ("globals", "vars", "locals")  # globals()[...] = ...: a store into the module's names
#: functions that look a name up (called, or handed to another: ``functools.reduce(getattr, names, obj)``)
NAME_LOOKUPS = frozenset({"getattr", "hasattr", "setattr", "delattr", "vars", "builtins.getattr",
                          "builtins.hasattr", "builtins.setattr", "builtins.delattr", "builtins.vars",
                          "operator.attrgetter", "operator.methodcaller", "object.__getattribute__",
                          "type.__getattribute__"})
LIBRARIES = ("torch", "numpy")  #: the libraries whose functions an allow-list (``torch.*``) refuses
ANYWHERE = "*"  #: the key of values stored into names computed at run time: every function reaches them


def _folded(node: ast.AST) -> str | None:
    """The text of ``"a" + "b"`` (constants only; a bytes constant read as Latin-1 text), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return node.value if isinstance(node.value, str) else node.value[:200].decode("latin-1")
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


def _outer_parts(scope: ast.AST) -> list[ast.AST]:
    """The parts of a nested scope evaluated in the scope around it (decorators, default
    values, annotations, bases, a comprehension's first iterable)."""
    if isinstance(scope, _FUNCTIONS):
        args = scope.args
        return [*scope.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None),
                *(a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                         *([args.vararg] if args.vararg else []),
                                         *([args.kwarg] if args.kwarg else [])] if a.annotation),
                *([scope.returns] if scope.returns else [])]
    if isinstance(scope, ast.Lambda):
        return [*scope.args.defaults, *(d for d in scope.args.kw_defaults if d is not None)]
    if isinstance(scope, ast.ClassDef):
        return [*scope.decorator_list, *scope.bases, *(k.value for k in scope.keywords)]
    if isinstance(scope, _COMPREHENSIONS):
        return [scope.generators[0].iter]
    return []


def _inner_parts(scope: ast.AST) -> list[ast.AST]:
    """The parts of a scope evaluated in the scope itself."""
    if isinstance(scope, (ast.Module, *_FUNCTIONS, ast.ClassDef)):
        return list(scope.body)
    if isinstance(scope, ast.Lambda):
        return [scope.body]
    if isinstance(scope, _COMPREHENSIONS):
        parts: list[ast.AST] = [scope.key, scope.value] if isinstance(scope, ast.DictComp) else [scope.elt]
        for i, generator in enumerate(scope.generators):
            parts += [generator.target, *generator.ifs] + ([generator.iter] if i else [])
        return parts
    return []


def _own(scope: ast.AST) -> tuple[list[ast.AST], list[ast.AST]]:
    """(the nodes evaluated in ``scope`` itself, the scopes nested in it)."""
    own: list[ast.AST] = []
    nested: list[ast.AST] = []
    stack = list(reversed(_inner_parts(scope)))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            nested.append(node)
            if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
                own.append(node)  # its name is bound here (its body is not walked here)
            stack.extend(reversed(_outer_parts(node)))
            continue
        own.append(node)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return own, nested


def _params(scope: ast.AST | None) -> set[str]:
    if not isinstance(scope, (*_FUNCTIONS, ast.Lambda)):
        return set()
    args = scope.args
    return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                            *([args.vararg] if args.vararg else []), *([args.kwarg] if args.kwarg else [])]}


def _binds(own: list[ast.AST]) -> set[str]:
    """The names the nodes of one scope bind (before ``global``/``nonlocal``)."""
    names: set[str] = set()
    for node in own:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= set(_import_aliases(node))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


@dataclass
class _Scope:
    node: ast.AST
    own: list[ast.AST]
    declared_global: set[str]
    function: ast.AST | None  # the innermost def or lambda it is in (None at the top level)
    unit: ast.AST | None  # the top-level def, class, lambda or comprehension it is in (None at the top level)

    @property
    def name(self) -> str | None:
        return self.function.name if isinstance(self.function, _FUNCTIONS) else None


def _root(node: ast.AST) -> ast.AST:
    """``TOOLS`` for ``TOOLS["a"].b[0]``."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return bool(names) and any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


@dataclass
class StudentSource:
    functions: dict[str, ast.AST] = field(default_factory=dict)  # top-level def/class/lambda name -> node
    aliases: dict[str, str] = field(default_factory=dict)  # top-level name -> dotted origin (the last one)
    where: dict[str, str] = field(default_factory=dict)  # def name -> "cell 3"
    trees: list[tuple[Any, ast.Module]] = field(default_factory=list)  # (unit, its parsed source)
    top_level_names: set[str] = field(default_factory=set)  # names the code outside any def refers to
    #: module-level name -> every expression stored into it, anywhere (see the module's docstring)
    bound: dict[str, list[ast.AST]] = field(default_factory=dict)
    origins: dict[str, set[str]] = field(default_factory=dict)  # module-level name -> every dotted origin
    _free: set[int] = field(default_factory=set, repr=False, compare=False)  # ids of Name nodes of module names
    _local: set[int] = field(default_factory=set, repr=False, compare=False)  # ids of Name nodes of local names
    _imported: set[str] = field(default_factory=set, repr=False, compare=False)  # names bound by an import
    _module_names: set[str] = field(default_factory=set, repr=False, compare=False)  # names the module binds
    _used: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)  # names_used, asked
    _reach: dict[str, tuple[ast.AST, ...]] = field(default_factory=dict, repr=False, compare=False)
    _unit_aliases: dict[int, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)
    _unit_assigned: dict[int, dict[str, list[ast.AST]]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_units(cls, units) -> StudentSource:
        source = cls()
        scopes: list[_Scope] = []
        for unit in units:
            try:
                tree = ast.parse(unit.source)
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                continue
            source.trees.append((unit, tree))
            for node in tree.body:
                if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
                    source.functions[node.name] = node
                    source.where[node.name] = unit.label
                else:
                    source.top_level_names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            scopes += source._read_scopes(tree, unit.label)
        pending: list[tuple[str, Any]] = []  # what needs every binding known first
        for scope in scopes:  # every cell's names known: a helper in cell 2 may fill a table made in cell 5
            source._read_bindings(scope, pending)
        source._resolve_pending(pending)
        return source

    def dotted(self, node: ast.AST, local_aliases: dict[str, str] | None = None) -> str | None:
        """The dotted name an expression stands for, top-level aliases resolved (None
        when it is not a name: a call's result, a subscript of a list...)."""
        return self._dotted(node, local_aliases or {})

    def local_aliases(self, node: ast.AST) -> dict[str, str]:
        """Names bound inside a function to a dotted name (``s = sys``, ``import sys as s``)."""
        return self._local_aliases(node)

    # -- reading the bindings
    def _read_scopes(self, tree: ast.Module, label: str) -> list[_Scope]:
        """Which name each Name node stands for (Python's scoping), then what each scope binds."""
        scopes: list[_Scope] = []
        stack: list[tuple[ast.AST, list[set[str]], ast.AST | None, ast.AST | None]] = [(tree, [], None, None)]
        while stack:
            node, chain, function, unit = stack.pop()
            own, nested = _own(node)
            declared = {n for o in own if isinstance(o, ast.Global) for n in o.names}
            nonlocal_ = {n for o in own if isinstance(o, ast.Nonlocal) for n in o.names}
            is_module = isinstance(node, ast.Module)
            local = set() if is_module else ((_binds(own) | _params(node) | nonlocal_) - declared)
            if isinstance(node, _COMPREHENSIONS):  # a := inside a comprehension binds outside it
                local -= {o.target.id for o in own if isinstance(o, ast.NamedExpr) and isinstance(o.target, ast.Name)}
            self._module_names |= _binds(own) if is_module else declared
            for sub in own:
                if isinstance(sub, ast.Name):
                    is_local = not is_module and sub.id not in declared and (
                        sub.id in local or any(sub.id in s for s in chain))
                    (self._local if is_local else self._free).add(id(sub))
            if is_module:
                for sub in own:  # defs inside blocks (if/try/...) at the top level are the student's too
                    if isinstance(sub, (*_FUNCTIONS, ast.ClassDef)) and sub not in tree.body:
                        self.functions.setdefault(sub.name, sub)
                        self.where.setdefault(sub.name, label)
                        self.bound.setdefault(sub.name, []).append(sub)
            scopes.append(_Scope(node, own, declared, function, unit))
            inner = chain if isinstance(node, (ast.ClassDef, ast.Module)) else chain + [local]
            for child in nested:
                child_function = child if isinstance(child, (*_FUNCTIONS, ast.Lambda)) else function
                stack.append((child, inner, child_function, unit if unit is not None else child))
        return scopes

    def _is_data(self, name: str) -> bool:
        """A name the module binds, not by an import (a container, an object, a function)."""
        return name in self._module_names and name not in self._imported

    def _is_global(self, scope: _Scope, name: ast.Name) -> bool:
        return isinstance(scope.node, ast.Module) or id(name) in self._free

    def _read_bindings(self, scope: _Scope, pending: list[tuple[str, Any]]) -> None:
        for node in scope.own:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._store(scope, target, node.value, pending)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                self._store(scope, node.target, node.value, pending)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                self._store(scope, node.target, node.iter, pending)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        self._store(scope, item.optional_vars, item.context_expr, pending)
            elif isinstance(node, ast.NamedExpr):
                self._store(scope, node.target, node.value, pending)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for name, origin in _import_aliases(node).items():
                    if isinstance(scope.node, ast.Module) or name in scope.declared_global:
                        self.aliases[name] = origin
                        self.origins.setdefault(name, set()).add(origin)
                        self._imported.add(name)
            elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)) and node.name in scope.declared_global:
                self.functions.setdefault(node.name, node)
                self.bound.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.Call):
                self._call(scope, node, pending)

    def _store(self, scope: _Scope, target: ast.AST, value: ast.AST, pending: list[tuple[str, Any]]) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else []
            pairs = len(values) == len(target.elts) and not any(isinstance(t, ast.Starred) for t in target.elts)
            for i, element in enumerate(target.elts):
                self._store(scope, element, values[i] if pairs else value, pending)
            return
        if isinstance(target, ast.Starred):
            self._store(scope, target.value, value, pending)
            return
        if isinstance(target, ast.Name):
            if not self._is_global(scope, target):
                return  # a local name: read with the function itself
            self._bind(scope, target.id, value, pending)
            if isinstance(value, ast.Lambda) and isinstance(scope.node, ast.Module):
                self.functions[target.id] = value
            elif (dotted := self._dotted(value, {})) is not None:
                self.aliases[target.id] = dotted
                self.origins.setdefault(target.id, set()).add(dotted)
            return
        root = _root(target)
        if isinstance(target, ast.Subscript) and target.value is root and _is_namespace(root):
            name = target.slice.value if isinstance(target.slice, ast.Constant) else None  # globals()["x"] = v
            self._bind(scope, name if isinstance(name, str) else ANYWHERE, value, pending)
            return
        self._keys(scope, root, [value, target], pending)

    def _bind(self, scope: _Scope, key: str, value: ast.AST, pending: list[tuple[str, Any]]) -> None:
        """``value`` stored into the module-level name ``key``; inside a function, that function
        counts as well (its locals and closures are what the value is made of), and so do its
        callers' arguments when the value is made of its parameters."""
        self.bound.setdefault(key, []).extend([value] if scope.unit is None else [value, scope.unit])
        if scope.name is not None and _mentions(value, _params(scope.function)):
            pending.append(("callers", (scope.name, key)))

    def _keys(self, scope: _Scope, root: ast.AST, values: Sequence[ast.AST], pending: list[tuple[str, Any]]) -> None:
        """Bind ``values`` to the module-level names ``root`` (what a store goes into) stands for."""
        if _is_namespace(root):
            keys = {ANYWHERE}
        elif not isinstance(root, ast.Name):  # f().x = v, get()["k"] = v: the names the object comes from
            keys = {n.id for n in ast.walk(root) if isinstance(n, ast.Name) and self._is_data(n.id)}
        elif self._is_global(scope, root):
            keys = {root.id} | {d.split(".")[0] for d in [self._dotted(root, {})] if d}
        else:
            dotted = self._aliases_of(scope.unit).get(root.id) if scope.unit is not None else None
            if dotted:
                keys = {dotted.split(".")[0]}
            elif scope.name is not None and root.id in _params(scope.function):
                pending.append(("parameter", (scope.name, values)))  # into what the callers pass
                return
            else:  # a local object (t = TOOLS or {}): the module-level names it is made from
                keys = self._made_from(scope, root.id)
        for key in keys:
            for value in values:
                self._bind(scope, key, value, pending)

    def _aliases_of(self, unit: ast.AST) -> dict[str, str]:
        if id(unit) not in self._unit_aliases:
            self._unit_aliases[id(unit)] = self._local_aliases(unit)
        return self._unit_aliases[id(unit)]

    def _made_from(self, scope: _Scope, name: str) -> set[str]:
        """The module-level names the values assigned to the local ``name`` are made from."""
        unit = scope.unit
        if unit is None:
            return set()
        if id(unit) not in self._unit_assigned:
            assigned: dict[str, list[ast.AST]] = {}
            for node in ast.walk(unit):
                for target, value in _assigned(node):
                    for t in ast.walk(target):
                        if isinstance(t, ast.Name):
                            assigned.setdefault(t.id, []).append(value)
            self._unit_assigned[id(unit)] = assigned
        assigned = self._unit_assigned[id(unit)]
        found: set[str] = set()
        todo, done = [name], {name}
        while todo:
            for value in assigned.get(todo.pop(), []):
                for n in ast.walk(value):
                    if not isinstance(n, ast.Name):
                        continue
                    if id(n) in self._local:
                        if n.id not in done:
                            done.add(n.id)
                            todo.append(n.id)
                    elif self._is_data(n.id):
                        found.add(n.id)
        return found

    def _call(self, scope: _Scope, node: ast.Call, pending: list[tuple[str, Any]]) -> None:
        arguments: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        pending.append(("call", (scope, node)))
        if not arguments:
            return
        function = self._dotted(node.func, {}) or ""
        if function.rsplit(".", 1)[-1] in ("setattr", "__setattr__", "setitem", "__setitem__") and node.args:
            self._keys(scope, _root(node.args[0]), arguments[1:], pending)  # setattr(ns, "f", torch.x)
        elif isinstance(node.func, ast.Attribute):  # TOOLS.update(b=...), L.append(...), globals().update(...)
            root = _root(node.func.value)
            if not (isinstance(root, ast.Name) and self._is_global(scope, root) and root.id in self._imported):
                self._keys(scope, root, arguments, pending)
        for argument in arguments:  # dict.update(TOOLS, ...), put(TOOLS, "f", torch.x): into each other
            root = _root(argument)
            if isinstance(root, ast.Name) and self._is_global(scope, root) and self._is_data(root.id) \
                    and root.id not in self.functions:  # compare(two_layer_backward, by_autograd): not a store
                for other in arguments:
                    if other is not argument:
                        self._bind(scope, root.id, other, pending)

    def _resolve_pending(self, pending: list[tuple[str, Any]]) -> None:
        callers: dict[str, list[tuple[_Scope, ast.Call]]] = {}  # a student function -> the calls handed it
        for kind, item in pending:
            if kind == "call":
                scope, call = item
                names = {self._dotted(call.func, {})} | {a.id for a in [*call.args, *(k.value for k in call.keywords)]
                                                         if isinstance(a, ast.Name)}
                for name in names:
                    if name:
                        callers.setdefault(name, []).append((scope, call))
        decorated: dict[str, list[ast.AST]] = {}
        for _, tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
                    for d in node.decorator_list:
                        name = self._dotted(d.func if isinstance(d, ast.Call) else d, {})
                        if name:
                            decorated.setdefault(name, []).append(node)
        later: list[tuple[str, Any]] = []
        for kind, item in pending:
            if kind == "callers":  # a function stores (a value made of) its parameters: its callers' arguments
                function, key = item
                for _, call in callers.get(function, []):
                    self.bound.setdefault(key, []).extend([*call.args, *(k.value for k in call.keywords)])
                self.bound.setdefault(key, []).extend(decorated.get(function, []))  # @register def helper(...)
            elif kind == "parameter":  # a store into a parameter: into what the callers pass
                function, values = item
                for scope, call in callers.get(function, []):
                    for argument in [*call.args, *(k.value for k in call.keywords)]:
                        self._keys(scope, _root(argument), values, later)

    # -- names
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
        if id(node) in self._local:
            head = local_aliases.get(node.id, node.id)
        elif id(node) in self._free:
            head = self.aliases.get(node.id, node.id)
        else:
            head = local_aliases.get(node.id) or self.aliases.get(node.id, node.id)
        return ".".join([head] + list(reversed(parts)))

    def _variants(self, node: ast.AST) -> set[str]:
        """The other dotted names an attribute chain stands for when its module-level head
        was bound to more than one (``try: import torch as T`` / ``except: import numpy as T``)."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or id(node) in self._local or len(self.origins.get(node.id, ())) < 2:
            return set()
        return {".".join([origin] + list(reversed(parts))) for origin in self.origins[node.id]}

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

    def _nodes(self, name: str) -> list[ast.AST]:
        nodes = [self.functions[name]] if name in self.functions else []
        return nodes + [n for n in self.bound.get(name, []) if n not in nodes]

    def _reachable(self, name: str) -> bool:
        return name in self.functions or name in self.bound

    def names_used(self, function: str, _seen: set[str] | None = None) -> set[str]:
        """Every dotted name referenced inside ``function`` (and the student's helpers and
        the module-level names it reaches), aliases resolved: ``{"torch.broadcast_shapes",
        "len", ...}``; an attribute of something that is not a name appears as ``.attr``;
        string constants appear as ``str:<text>``, and those handed to a torch function
        (which may compile them: TorchScript) also as ``code:<text>``. The source never
        changes: each answer is kept."""
        if _seen is None:
            if function not in self._used:
                seen: set[str] = set()
                self._used[function] = frozenset(self.names_used(function, seen))
                self._reach[function] = tuple(n for name in sorted(seen) for n in self._nodes(name))
            return set(self._used[function])
        seen = _seen
        if function in seen or not self._reachable(function):
            return set()
        seen.add(function)
        used: set[str] = set()
        helpers: set[str] = {ANYWHERE} if ANYWHERE in self.bound else set()
        for node in self._nodes(function):
            local_aliases = self._local_aliases(node)
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Attribute, ast.Name, ast.Call, ast.Subscript)):
                    dotted = self._dotted(sub, local_aliases)
                    if dotted:
                        used.add(dotted)
                        used |= self._variants(sub)
                        root = _root(sub.func if isinstance(sub, ast.Call) else sub)
                        if not (isinstance(root, ast.Name) and id(root) in self._local
                                and root.id not in local_aliases):
                            helpers.add(dotted.split(".")[0])  # a module-level name, or a local alias of one
                    elif isinstance(sub, ast.Attribute):
                        used.add("." + sub.attr)  # (x + y).backward, f().grad_fn
                if isinstance(sub, ast.Name) and id(sub) not in self._local:
                    helpers.add(sub.id)
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    used.add(f"str:{sub.value}")  # getattr(torch, "broadcast_shapes")
                folded = _folded(sub)
                if folded is not None:
                    used.add(f"str:{folded}")  # getattr(torch, "broadcast_" + "shapes")
                if isinstance(sub, ast.Call):
                    callee = _numpy(self._dotted(sub.func, local_aliases) or "")
                    if callee.startswith("torch."):
                        used |= {f"code:{text}" for text in self._texts(sub, node)}
                    if callee.startswith(tuple(f"{lib}." for lib in LIBRARIES)) or self._is_lookup(
                            sub, local_aliases):
                        used |= {f"name:{w}" for t in self._texts(sub, node) for w in t.strip().split(".")
                                 if w.isidentifier()}
                if isinstance(sub, ast.Subscript) and self._is_name_table(sub.value, local_aliases):
                    used |= {f"name:{t.strip()}" for t in self._strings(sub.slice, node, 0) if t.strip().isidentifier()}
        for helper in helpers:
            if self._reachable(helper) and helper != function:
                used |= self.names_used(helper, seen)
        return used

    def _is_lookup(self, call: ast.Call, local_aliases: dict[str, str]) -> bool:
        """A call that looks names up: ``getattr(x, name)``, ``operator.attrgetter(name)``, or
        one handed a lookup function (``functools.reduce(getattr, names, obj)``, ``map(getattr, ...)``)."""
        return any(self._dotted(f, local_aliases) in NAME_LOOKUPS
                   for f in [call.func, *call.args, *(k.value for k in call.keywords)])

    def _is_name_table(self, node: ast.AST, local_aliases: dict[str, str]) -> bool:
        """``vars(x)``, ``globals()``, ``x.__dict__``: a subscript of it looks a name up."""
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return True
        return isinstance(node, ast.Call) and self._dotted(node.func, local_aliases) in (
            "vars", "globals", "locals", "builtins.vars", "builtins.globals", "builtins.locals")

    def library_uses(self, function: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """What ``function`` (and what it reaches) uses of torch or NumPy, besides the
        ``allowed`` dotted names: any name that resolves into them (``torch.hann_window``,
        ``np.copy``, ``torch._C._infer_size``), and the module itself used as a value
        (``getattr(torch, name)``, ``[torch][0]``), which could reach any of it."""
        allowed = {_numpy(a) for a in allowed}
        prefixes = tuple(f"{lib}." for lib in LIBRARIES)
        found = {u for u in map(_numpy, self.names_used(function))
                 if u.startswith(prefixes) and u not in allowed and not any(u.startswith(a + ".") for a in allowed)}
        for node in self.nodes_reached(function):
            local_aliases = self._local_aliases(node)
            parents = {id(c): p for p in ast.walk(node) for c in ast.iter_child_nodes(p)}
            for sub in ast.walk(node):
                if not isinstance(sub, (ast.Name, ast.Attribute)):
                    continue
                parent = parents.get(id(sub))
                if isinstance(parent, ast.Attribute) and parent.value is sub:
                    continue  # the base of a longer name: that name is judged
                dotted = _numpy(self._dotted(sub, local_aliases) or "")
                if dotted in LIBRARIES:
                    found.add(f"{dotted} (the module used as a value)")
        return sorted(f for f in found if not any(o.startswith(f + ".") for o in found))  # the most specific

    def nodes_reached(self, function: str) -> tuple[ast.AST, ...]:
        """The definitions and stored expressions :meth:`names_used` read for ``function``."""
        self.names_used(function)
        return self._reach.get(function, ())

    def _texts(self, call: ast.Call, scope: ast.AST, depth: int = 0) -> set[str]:
        """The strings a call is handed: constants in its arguments, and the strings stored
        into a name it is handed (a local one in ``scope``, or a module-level one)."""
        texts: set[str] = set()
        for argument in [*call.args, *(k.value for k in call.keywords)]:
            texts |= self._strings(argument, scope, depth)
        return texts

    def _strings(self, node: ast.AST, scope: ast.AST, depth: int) -> set[str]:
        texts: set[str] = set()
        for sub in ast.walk(node):
            folded = _folded(sub)
            if folded is not None:
                texts.add(folded)
            if isinstance(sub, ast.Name) and depth < 4:
                if id(sub) in self._local:
                    for assign in ast.walk(scope):
                        if isinstance(assign, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and any(
                                isinstance(t, ast.Name) and t.id == sub.id for t in _targets(assign)) \
                                and assign.value is not None:
                            texts |= self._strings(assign.value, scope, depth + 1)
                else:
                    for value in self.bound.get(sub.id, []):
                        if not isinstance(value, (*_FUNCTIONS, ast.ClassDef, ast.Lambda)):
                            texts |= self._strings(value, scope, depth + 1)
        return texts

    def find_forbidden(self, function: str, forbidden: set[str]) -> list[str]:
        """The forbidden dotted names (e.g. ``torch.broadcast_shapes``) ``function`` uses.
        ``numpy``/``np`` spellings are treated alike; a bare attribute name given as a
        string to a name lookup (``getattr(torch, "broadcast_shapes")``, ``vars(m)[...]``)
        or to a torch or NumPy function counts too (not a dict key, a comparison or a
        message), and so does a name inside a string handed to a torch function (code
        that TorchScript compiles; not a docstring or a message). A name with ``*`` is a
        pattern (``torch.*broadcast*``: any helper of torch whose name says so); a name
        after ``!`` is an exception to the patterns (``torch.*`` and ``!torch.Size``: an
        allow-list, under which the module itself used as a value counts as well, see
        :meth:`library_uses`)."""
        allowed = {_numpy(n[1:]) for n in forbidden if n.startswith("!")}
        forbidden = {_numpy(n) for n in forbidden if not n.startswith("!")}
        used = {_numpy(u) for u in self.names_used(function)}
        names = {u for u in used if not u.startswith(("str:", "code:", "name:"))}
        words = {u[5:] for u in used if u.startswith("name:")}  # getattr(torch, "broadcast_shapes")
        dotted = {_numpy(t) for u in used if u.startswith("code:") for t in _TOKEN.findall(u[5:]) if "." in t}
        exact = sorted(n for n in forbidden if "*" not in n and n in names)
        if exact:
            return exact
        libraries = [lib for lib in LIBRARIES if f"{lib}.*" in forbidden]
        found = [u for u in self.library_uses(function, allowed)
                 if u.split(".")[0].split(" ")[0] in libraries] if libraries else []
        for name in sorted(forbidden):
            if name in (f"{lib}.*" for lib in libraries):
                continue  # the allow-list: the names themselves are given
            if "*" in name:
                tail = name.split(".")[-1]
                if any(fnmatch.fnmatchcase(u, name) and u not in allowed for u in names | dotted) or (
                        tail != "*" and any(fnmatch.fnmatchcase(w, tail) for w in words)):
                    found.append(name)
                continue
            attr = name.rsplit(".", 1)[-1]
            if name in dotted or attr in words or any(
                    u.endswith("." + attr) and u.split(".")[0] in LIBRARIES for u in names):
                found.append(name)
        return sorted(set(found), key=found.index)

    def defined_attributes(self) -> set[str]:
        """The attribute names the submission defines on its own classes: their methods and
        class attributes, and what their methods assign to ``self.<name>``/``cls.<name>``."""
        names: set[str] = set()
        for _, tree in self.trees:
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                for item in node.body:
                    if isinstance(item, (*_FUNCTIONS, ast.ClassDef)):
                        names.add(item.name)
                    elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                        names |= {t.id for t in _targets(item) if isinstance(t, ast.Name)}
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) \
                            and isinstance(sub.value, ast.Name) and sub.value.id in ("self", "cls"):
                        names.add(sub.attr)
        return names


def _targets(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield from ast.walk(target)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        yield from ast.walk(node.target)


def _assigned(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """(target, value) pairs a statement or expression assigns."""
    if isinstance(node, ast.Assign):
        return [(t, node.value) for t in node.targets]
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
        return [(node.target, node.value)]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [(node.target, node.iter)]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [(i.optional_vars, i.context_expr) for i in node.items if i.optional_vars is not None]
    return []


def _is_namespace(node: ast.AST) -> bool:
    """``globals()``, ``vars()``, ``locals()``: the module's own names."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NAMESPACES \
        and not node.args
