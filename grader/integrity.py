"""Trusted-side reading of what in a submission could change the grader's own watching.

Some of what a check relies on is noticed inside the sandbox, in the same interpreter as
the student's code: which functions a call ran (``forbid=``) and whether it changed its
tensor arguments in place. Code that reaches the interpreter's machinery (profile
hooks, frames, the garbage collector, ``ctypes``, the grader's own modules) or that
computes which names it uses at run time could switch that watching off, so this module
finds such code in the source (which the student's code cannot rewrite) and the engine
treats every watched call of the functions concerned as not verified
(:func:`grader.engine` → ``apply_unverified``): exactly what a watched call that was
caught looks like, so the trick gains nothing.

Two kinds of findings:

- *machinery* (:data:`MACHINERY`, :data:`MACHINERY_ATTRIBUTES`): anywhere in the
  submission, since a thread or a hook set up anywhere can act during any call. No
  solution of an exercise needs them.
- *computed names* (``getattr(x, name)`` on an object not known to be torch or NumPy,
  ``eval``, ``exec``, ``__import__``, ``importlib``, ``vars()``, ``__dict__`` ...): in
  the watched function, the student's helpers it reaches, and the top-level code (and
  what that reaches), where they could hide a machinery name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from typing import Any

from grader.codec import Raised
from grader.static import StudentSource

UNVERIFIED = "Unverifiable"  #: the Raised type of a watched call the grader could not verify
WATCHED = ".watched"  #: the reference's record of what a call's watch covered (grader.sandbox.recorder)
HINT_UNVERIFIED = ("the grader watches these calls from inside the sandbox, so code that reaches the "
                   "interpreter's machinery (profile hooks, frames, gc, ctypes, the grader's modules) or picks "
                   "names at run time (getattr with a computed name, eval, exec, vars, __import__) cannot be "
                   "verified. Write the computation with plain operations and name what you call directly.")

#: dotted names (or prefixes, ending in ".") that reach the interpreter's machinery
MACHINERY = (
    "sys.setprofile", "sys.settrace", "sys.getprofile", "sys.gettrace", "sys._getframe", "sys._current_frames",
    "sys.modules", "sys.addaudithook", "sys.meta_path", "sys.path_hooks", "threading.setprofile",
    "threading.settrace", "inspect.currentframe", "inspect.stack", "inspect.trace", "inspect.getouterframes",
    "inspect.getinnerframes", "inspect.getclosurevars", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "gc.callbacks", "gc.garbage", "ctypes.", "_ctypes.", "os.dup", "os.dup2",
    "grader.",  # the grader's own modules (a live check's grader.check and grader.init excepted)
)
#: attribute names (and identifiers inside string constants) that reach frames, hooks or
#: a function's globals: ``e.__traceback__.tb_frame.f_back.f_locals``, ``"{0.f_back}".format``
MACHINERY_ATTRIBUTES = frozenset({
    "setprofile", "settrace", "getprofile", "gettrace", "_getframe", "_current_frames", "addaudithook",
    "f_locals", "f_globals", "f_back", "f_builtins", "f_trace", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
    "__globals__", "__subclasses__", "__closure__", "__code__", "__builtins__", "get_referrers", "get_referents",
    "get_objects", "currentframe",
})
_MACHINERY_MODULES = frozenset({"ctypes", "_ctypes"})  # from these, importing any name counts
#: modules whose object, passed around as a value, leads to the machinery
_GATEWAY_MODULES = frozenset({"sys", "inspect", "threading", "builtins", "importlib", "os", "gc", "ctypes"})
#: attribute names that turn text into names or code, whatever they are called on
_COMPUTED_ATTRIBUTES = frozenset({"import_module", "attrgetter", "methodcaller", "__getattribute__", "locate",
                                  "resolve_name", "__import__", "__dict__"})
#: calls that turn text into names or code
COMPUTED = frozenset({
    "eval", "exec", "compile", "__import__", "vars", "globals", "breakpoint", "importlib.import_module",
    "importlib.__import__", "operator.attrgetter", "operator.methodcaller", "pydoc.locate", "pkgutil.resolve_name",
    "runpy.run_path", "runpy.run_module", "pickle.loads", "pickle.load", "marshal.loads", "types.FunctionType",
    "types.CodeType", "string.Formatter", "unittest.mock.patch", "code.interact", "timeit.timeit",
    "timeit.repeat", "timeit.Timer", "object.__getattribute__", "type.__getattribute__", "builtins.getattr",
})
_NAME_LOOKUPS = frozenset({"getattr", "setattr", "delattr"})
#: a computed attribute of these cannot be the machinery (``torch`` itself can: ``torch.sys``)
_SAFE_OWNERS = ("torch.nn", "torch.optim", "numpy", "math", "self", "cls")


@dataclass(frozen=True)
class Finding:
    """One construct that could change the grader's watching, and where it is."""

    construct: str  # what the student sees: "sys.setprofile", "getattr with a computed name"
    where: str  # "cell 3, line 4"
    machinery: bool  # True: anywhere counts; False: only where a watched call reaches it

    def describe(self) -> str:
        return f"{self.construct} ({self.where})"


class Integrity:
    """The findings of one submission, asked per watched function."""

    def __init__(self, source: StudentSource) -> None:
        """``source``: the units that ran (a unit that was stopped is skipped when the rest
        runs again, so what it does cannot reach the probes)."""
        self.source = source
        self.machinery: list[Finding] = []
        self.computed_in: dict[str, list[Finding]] = {}  # top-level function -> findings inside it
        self.top_level: list[Finding] = []  # in statements outside any function
        for unit, tree in source.trees:
            self._read_unit(unit, tree)

    def unverified(self, function: str, notices: list[str] | tuple[str, ...] = ()) -> Finding | None:
        """The first finding that makes the watched calls of ``function`` unverifiable.
        ``notices``: what the sandbox's audit hook saw the code reach while the probe ran
        (:mod:`grader.sandbox.audit`); each counts as machinery."""
        if notices:
            return Finding(str(notices[0]), "seen while it ran", True)
        if self.machinery:
            return self.machinery[0]
        names = self._reached(function) | self._reached_from_top_level()
        for name in sorted(names):
            if self.computed_in.get(name):
                return self.computed_in[name][0]
        return self.top_level[0] if self.top_level else None

    # -- reading
    def _read_unit(self, unit, tree: ast.Module) -> None:
        for statement in tree.body:
            owner = statement.name if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                              ast.ClassDef)) else None
            if owner is None and isinstance(statement, (ast.Assign, ast.AnnAssign)) \
                    and isinstance(statement.value, ast.Lambda):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                owner = next((t.id for t in targets if isinstance(t, ast.Name)), None)
            local = self.source.local_aliases(statement) if owner else {}
            bases = {id(n.value) for n in ast.walk(statement) if isinstance(n, ast.Attribute)}
            for node in ast.walk(statement):
                found = self._construct(node, local, id(node) in bases)
                if found is None:
                    continue
                construct, machinery = found
                line = unit.first_line - 1 + getattr(node, "lineno", 1)
                where = f"{unit.label}, line {line}" if unit.label.startswith("cell") else f"line {line}"
                finding = Finding(construct, where, machinery)
                if machinery:
                    self.machinery.append(finding)
                elif owner is None:
                    self.top_level.append(finding)
                else:
                    self.computed_in.setdefault(owner, []).append(finding)

    def _construct(self, node: ast.AST, local: dict[str, str], is_base: bool) -> tuple[str, bool] | None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return _imported(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            word = next((w for w in sorted(MACHINERY_ATTRIBUTES) if w in node.value), None)
            if word is None and node.value.startswith("grader.") and not _is_live_check(node.value):
                word = node.value
            return (f"the text {word!r}", True) if word else None
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = self.source.dotted(node, local)
            if dotted and (_is_machinery(dotted) or dotted.rsplit(".", 1)[-1] in MACHINERY_ATTRIBUTES):
                return dotted, True
            if isinstance(node, ast.Attribute) and node.attr in MACHINERY_ATTRIBUTES:
                return f".{node.attr}", True
            if isinstance(node, ast.Attribute) and node.attr in _COMPUTED_ATTRIBUTES:
                return f".{node.attr}", False
            if dotted in _GATEWAY_MODULES and not is_base:
                return f"the module {dotted} used as a value", True
            if dotted and dotted.replace("np.", "numpy.", 1) in COMPUTED:
                return dotted, False
        if isinstance(node, ast.Call):
            construct = self._computed_call(node, local)
            return (construct, False) if construct else None
        return None

    def _computed_call(self, node: ast.Call, local: dict[str, str]) -> str | None:
        function = self.source.dotted(node.func, local)
        if function in _NAME_LOOKUPS:
            name = node.args[1] if len(node.args) >= 2 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                return None
            owner = self.source.dotted(node.args[0], local) or "" if node.args else ""
            safe = any(owner == o or owner.startswith(o + ".") for o in _SAFE_OWNERS)
            if safe and (function == "getattr" or owner in ("self", "cls")):
                return None
            return f"{function} with a name computed at run time"
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map") \
                and not isinstance(node.func.value, ast.Constant):
            return "a format string computed at run time"
        return None

    # -- reach
    def _reached(self, function: str) -> set[str]:
        return {function} | {n for n in self.source.names_used(function) if n in self.source.functions}

    def _reached_from_top_level(self) -> set[str]:
        reached: set[str] = set()
        for name in self.source.top_level_names:
            if name in self.source.functions:
                reached |= self._reached(name)
        return reached


def apply_unverified(got: dict[str, Any], expected: dict[str, Any], integrity: Integrity,
                     notices: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The student's observations of one probe, with every watched call (as the reference's
    run records it) of a function :meth:`Integrity.unverified` names turned into what a
    caught call looks like: a call that forbade names raised :data:`UNVERIFIED` (with
    ``forbidden`` set, so it is charged where a forbidden call is); a call watched for
    in-place changes changed its tensors (``unverified`` says why)."""
    result = dict(got)
    for key, watch in expected.items():
        if not (key.endswith(WATCHED) and isinstance(watch, dict)):
            continue
        call, function = key[: -len(WATCHED)], str(watch.get("function", ""))
        finding = integrity.unverified(function, notices)
        if finding is None or call not in result:
            continue
        if watch.get("forbid"):
            if not (isinstance(result[call], Raised) and result[call].forbidden):
                result[call] = Raised(UNVERIFIED, f"{function} could not be verified: the submission uses "
                                                  f"{finding.describe()}", forbidden=finding.construct)
        elif watch.get("inputs") and not isinstance(result.get(call + ".inputs_changed"), dict):
            result[call + ".inputs_changed"] = {"function": function, "arguments": list(watch["inputs"]),
                                                "unverified": finding.describe()}
    return result


def _imported(node: ast.Import | ast.ImportFrom) -> tuple[str, bool] | None:
    """``from ctypes import memmove`` and ``import grader.sandbox.recorder`` count; a plain
    ``import ctypes`` does not (what is used from it does)."""
    if isinstance(node, ast.Import):
        dotted = [a.name for a in node.names if a.name.split(".")[0] not in _MACHINERY_MODULES]
    else:
        dotted = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        if any(a.name in MACHINERY_ATTRIBUTES for a in node.names):
            return f"from {node.module} import {', '.join(a.name for a in node.names)}", True
    for name in dotted:
        if _is_machinery(name) or name.split(".")[0] in _MACHINERY_MODULES:
            return f"import {name}", True
    return None


def _is_live_check(text: str) -> bool:
    return text.split(".")[:2] in (["grader", "check"], ["grader", "init"], ["grader", "live"])


def _is_machinery(dotted: str) -> bool:
    if dotted == "grader" or (dotted.startswith("grader.") and _is_live_check(dotted)):
        return False
    return any(dotted == m or dotted.startswith(m if m.endswith(".") else m + ".") or
               (m.endswith(".") and dotted == m[:-1]) for m in MACHINERY)
