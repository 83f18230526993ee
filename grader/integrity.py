"""Trusted-side reading of what in a submission could change the grader's own watching.

Some of what a check relies on is noticed inside the sandbox, in the same interpreter as
the student's code: which functions a call ran (``forbid=``) and whether it changed its
tensor arguments in place (:mod:`grader.sandbox.watching` sends that evidence out at
once). Code that reaches the interpreter's machinery (profile hooks, frames, the garbage
collector, ``ctypes``, torch's dispatcher, the grader's own modules) or that computes
which names it uses at run time could still get in the watching's way, so this module
finds such code in the source (which the student's code cannot rewrite) and the judge
treats every watched call of the functions concerned as caught
(:func:`grader.watched.apply_watching`): the trick gains nothing.

Two kinds of findings:

- *machinery* (:data:`MACHINERY`, :data:`MACHINERY_ATTRIBUTES`): anywhere in the
  submission, since a thread or a hook set up anywhere can act during any call. No
  solution of an exercise needs them.
- *computed names* (``getattr(x, name)`` on an object not known to be harmless, ``eval``,
  ``exec``, ``__import__``, ``importlib``, ``vars(x)``, ``__dict__`` ...): in the watched
  function, the student's helpers it reaches, and the code that runs at the top level
  (statements, class bodies, decorators, default values) and what that reaches, where they
  could hide a machinery name.

Uses that cannot reach anything are not findings: ``"google.colab" in sys.modules``,
``globals()``, ``self.__dict__``, ``getattr(nn, name)()``, ``timeit.timeit(lambda: f(x))``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.static import StudentSource

UNVERIFIED = "Unverifiable"  #: the Raised type of a watched call the grader could not verify
WATCHED = ".watched"  #: the reference's record of what a call's watch covered (grader.sandbox.recorder)
HINT_UNVERIFIED = ("the grader watches these calls from inside the sandbox, so code that reaches the "
                   "interpreter's machinery (profile hooks, frames, gc, ctypes, torch's dispatcher, the grader's "
                   "modules, threads) or picks names at run time (getattr with a computed name, eval, exec, "
                   "__import__) cannot be verified. Write the computation with plain operations and name what you call "
                   "directly.")

#: dotted names (or prefixes, ending in ".") that reach the interpreter's machinery
MACHINERY = (
    "sys.setprofile", "sys.settrace", "sys.getprofile", "sys.gettrace", "sys._getframe", "sys._current_frames",
    "sys.modules", "sys.addaudithook", "sys.meta_path", "sys.path_hooks", "threading.setprofile",
    "threading.settrace", "threading._profile_hook", "threading._trace_hook", "inspect.currentframe",
    "inspect.stack", "inspect.trace", "inspect.getouterframes", "inspect.getinnerframes", "inspect.getclosurevars",
    "inspect.getargvalues", "inspect.getframeinfo", "traceback.walk_stack", "traceback.walk_tb",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "gc.callbacks", "gc.garbage", "ctypes.", "_ctypes.",
    "os.dup", "os.dup2", "torch.library.", "torch.utils._python_dispatch.", "torch._C._dispatch",
    "_thread.",  # raw threads: threading's profile hook is never set in them
    "threading._start_new_thread", "threading._start_joinable_thread", "threading._allocate_lock",
    "torch.overrides.",  # TorchFunctionMode, enable_reentrant_dispatch: every torch call, the grader's included
    "torch._C.DisableTorchFunction", "torch._C._disabled_torch_function_impl", "torch._C._EnableTorchFunction",
    "grader.",  # the grader's own modules (a live check's grader.check and grader.init excepted)
    # a copy of this process, forked before (or during) a probe, runs unwatched and can serve a call
    "os.register_at_fork", "os.forkpty", "multiprocessing.", "_multiprocessing.", "torch.multiprocessing.",
    "concurrent.futures.ProcessPoolExecutor", "concurrent.futures.process.", "pty.",
)
#: another program run (subprocess, os.system): it could do a watched call's work, so it
#: counts where a watched function reaches it, as a name computed at run time does; at the
#: top level (a cell that runs `nvidia-smi`) it is not the grader's business
COMPUTED_PREFIXES = ("subprocess.", "_posixsubprocess.", "os.system", "os.popen", "os.exec", "os._exec", "os.spawn",
                     "os._spawn", "os.posix_spawn")
#: raw prefixes (not whole dotted parts): any private name of threading, torch's torch-function switches
MACHINERY_PREFIXES = ("threading._", "torch._C._dispatch", "torch._C.DisableTorchFunction", "torch._C._TorchFunction",
                      "torch._C._push_on_torch_function", "torch._C._pop_torch_function",
                      "torch._C._set_torch_function", "torch._C._is_torch_function", "os.fork")
#: attribute names (and identifiers inside string constants) that reach frames, hooks, a
#: function's globals or the dispatcher: ``e.__traceback__.tb_frame.f_back.f_locals``
MACHINERY_ATTRIBUTES = frozenset({
    "setprofile", "settrace", "getprofile", "gettrace", "_getframe", "_current_frames", "addaudithook",
    "f_locals", "f_globals", "f_back", "f_builtins", "f_trace", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
    "__globals__", "__subclasses__", "__closure__", "__code__", "__builtins__", "get_referrers", "get_referents",
    "get_objects", "currentframe", "_profile_hook", "_trace_hook", "walk_stack", "walk_tb", "getargvalues",
    "TorchDispatchMode", "_python_dispatch", "start_new_thread", "_start_new_thread", "start_joinable_thread",
    "_start_joinable_thread", "TorchFunctionMode", "BaseTorchFunctionMode", "__torch_function__",
    "__torch_dispatch__", "DisableTorchFunction", "DisableTorchFunctionSubclass", "_disabled_torch_function_impl",
    "_disabled_torch_dispatch_impl", "enable_reentrant_dispatch", "_push_on_torch_function_stack",
    "_pop_torch_function_stack", "_set_torch_function_state", "_EnableTorchFunction",
})
_ALTERNATIVES = "|".join(sorted(map(re.escape, MACHINERY_ATTRIBUTES)))
_WORDS = re.compile(r"(?<![A-Za-z0-9_])(" + _ALTERNATIVES + r")(?![A-Za-z0-9_])")
_MACHINERY_MODULES = frozenset({"ctypes", "_ctypes", "_thread"})  # from these, importing any name counts
#: modules whose object, passed around as a value or reached through torch, leads to the machinery
_GATEWAY_MODULES = frozenset({"sys", "inspect", "threading", "builtins", "importlib", "os", "gc", "ctypes",
                              "_thread"})
#: attribute names that turn text into names or code, whatever they are called on
_COMPUTED_ATTRIBUTES = frozenset({"import_module", "attrgetter", "methodcaller", "__getattribute__", "locate",
                                  "resolve_name", "__import__", "__dict__"})
#: calls that turn text into names or code
COMPUTED = frozenset({
    "eval", "exec", "compile", "__import__", "breakpoint", "importlib.import_module", "importlib.__import__",
    "operator.attrgetter", "operator.methodcaller", "pydoc.locate", "pkgutil.resolve_name", "runpy.run_path",
    "runpy.run_module", "pickle.loads", "pickle.load", "marshal.loads", "types.FunctionType", "types.CodeType",
    "unittest.mock.patch", "code.interact", "object.__getattribute__", "type.__getattribute__", "builtins.getattr",
    "builtins.eval", "builtins.exec",
})
_TEXT_RUNNERS = ("timeit.",)  # run code given as text: a finding only when given text
_NAME_LOOKUPS = frozenset({"getattr", "setattr", "delattr", "vars"})
#: functions that look names up: handed to another function as a value (``functools.reduce(getattr,
#: names, obj)``, ``map(getattr, ...)``), they look up names nobody can read
_LOOKUP_VALUES = frozenset({"getattr", "setattr", "delattr", "vars", "hasattr", "builtins.getattr",
                            "builtins.setattr", "builtins.delattr", "builtins.vars", "builtins.hasattr",
                            "operator.attrgetter", "operator.methodcaller", "operator.getitem"})
#: what a notebook may name of the grader: its live checks (``import grader``, ``grader.check(...)``)
LIVE_NAMES = frozenset({"grader.check", "grader.init", "grader.live.check", "grader.live.init"})
#: a computed attribute of these cannot be the machinery (``torch`` itself can: ``torch.sys``)
_SAFE_OWNERS = ("torch.nn", "torch.optim", "numpy", "math", "self", "cls")


#: the ``where`` of a finding that the sandbox saw while the probes ran (a notice), not the source
SEEN_WHILE_RUNNING = "seen while it ran"


@dataclass(frozen=True)
class Finding:
    """One construct that could change the grader's watching, and where it is."""

    construct: str  # what the student sees: "sys.setprofile", "getattr with a computed name"
    where: str  # "cell 3, line 4"
    machinery: bool  # True: anywhere counts; False: only where a watched call reaches it

    def describe(self) -> str:
        return f"{self.construct} ({self.where})"

    @property
    def observed(self) -> bool:
        """Seen by the sandbox while the probes ran, not read in the source."""
        return self.where == SEEN_WHILE_RUNNING


class Integrity:
    """The findings of one submission, asked per watched function."""

    def __init__(self, source: StudentSource) -> None:
        """``source``: the units that ran (a unit that was stopped is skipped when the rest
        runs again, so what it does cannot reach the probes)."""
        self.source = source
        self.machinery: list[Finding] = []
        self.computed_in: dict[str, list[Finding]] = {}  # top-level function or class -> findings inside it
        self.top_level: list[Finding] = []  # in code that runs at the top level
        self.top_level_names: set[str] = set()  # the names that code refers to (decorators included)
        self._reach: dict[str, frozenset[str]] = {}  # function -> what it and the top level reach, once
        for unit, tree in source.trees:
            self._read_unit(unit, tree)

    def unverified(self, function: str, notices: list[str] | tuple[str, ...] = ()) -> Finding | None:
        """The first finding that makes the watched calls of ``function`` unverifiable.
        ``notices``: what the sandbox saw while the probe ran (:mod:`grader.sandbox.audit`,
        :mod:`grader.sandbox.watching`); each counts as machinery."""
        if notices:
            return Finding(str(notices[0]), SEEN_WHILE_RUNNING, True)
        if self.machinery:
            return self.machinery[0]
        if function not in self._reach:
            self._reach[function] = frozenset(self._reached(function) | self._reached_from_top_level())
        names = self._reach[function]
        for name in sorted(names):
            if self.computed_in.get(name):
                return self.computed_in[name][0]
        return self.top_level[0] if self.top_level else None

    # -- reading
    def _read_unit(self, unit, tree: ast.Module) -> None:
        for statement in tree.body:
            local = self.source.local_aliases(statement)
            parents = {id(child): node for node in ast.walk(statement) for child in ast.iter_child_nodes(node)}
            for node in ast.walk(statement):  # a __torch_function__ of the student's own sees every torch call
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                        and node.name in MACHINERY_ATTRIBUTES:
                    self._add(Finding(f"def {node.name}", _where(unit, node), True), None)
            for part, owner in _parts(statement):
                if owner is None:
                    self.top_level_names |= {n.id for n in ast.walk(part) if isinstance(n, ast.Name)}
                for node in ast.walk(part):
                    found = self._construct(node, local, parents)
                    if found is not None:
                        self._add(Finding(found[0], _where(unit, node), found[1]), owner)

    def _add(self, finding: Finding, owner: str | None) -> None:
        if finding.machinery:
            self.machinery.append(finding)
        elif owner is None:
            if finding.construct.startswith(COMPUTED_PREFIXES):
                return  # a program run by a cell; one left running when a call starts is seen then, at run time
            self.top_level.append(finding)
        else:
            self.computed_in.setdefault(owner, []).append(finding)

    def _construct(self, node: ast.AST, local: dict[str, str], parents: dict[int, ast.AST]) -> tuple[str, bool] | None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return _imported(node)
        if isinstance(node, ast.Attribute) and node.attr == "__class__" and isinstance(node.ctx, (ast.Store, ast.Del)):
            return "an assignment to __class__", True  # an object (the caller's tensor) turned into another kind
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):  # b"grader.sandbox" too
            return _text(node.value if isinstance(node.value, str) else node.value[:4096].decode("latin-1"))
        if isinstance(node, (ast.Attribute, ast.Name)):
            return self._named(node, local, parents)
        if isinstance(node, ast.Call):
            construct = self._computed_call(node, local, parents)
            return (construct, construct.endswith("__class__")) if construct else None
        return None

    def _named(self, node: ast.Attribute | ast.Name, local: dict[str, str],
               parents: dict[int, ast.AST]) -> tuple[str, bool] | None:
        dotted = self.source.dotted(node, local)
        parent = parents.get(id(node))
        if dotted == "sys.modules" and _reads_one_entry(node, parent, parents):
            return None
        is_base = isinstance(parent, ast.Attribute) and parent.value is node
        if dotted and dotted.split(".")[0] == "grader":  # the grader's modules: only its live checks
            return None if is_base or dotted in LIVE_NAMES else (
                "the module grader used as a value" if dotted == "grader" else dotted, True)
        if dotted and (_is_machinery(dotted) or dotted.rsplit(".", 1)[-1] in MACHINERY_ATTRIBUTES
                       or _through_torch(dotted)):
            return dotted, True
        if isinstance(node, ast.Attribute) and node.attr in MACHINERY_ATTRIBUTES:
            return f".{node.attr}", True
        if isinstance(node, ast.Attribute) and node.attr in _COMPUTED_ATTRIBUTES:
            owner = self.source.dotted(node.value, local)
            return None if node.attr == "__dict__" and owner in ("self", "cls") else (f".{node.attr}", False)
        called = isinstance(parent, ast.Call) and parent.func is node
        if dotted in _LOOKUP_VALUES and not called:
            return f"{dotted} used as a value (it looks up names computed at run time)", False
        if dotted in _GATEWAY_MODULES and not is_base:
            return f"the module {dotted} used as a value", True
        if dotted and (dotted.replace("np.", "numpy.", 1) in COMPUTED or dotted.startswith(COMPUTED_PREFIXES)):
            return dotted, False
        return None

    def _computed_call(self, node: ast.Call, local: dict[str, str], parents: dict[int, ast.AST]) -> str | None:
        function = self.source.dotted(node.func, local) or ""
        if function.rsplit(".", 1)[-1] in ("setattr", "__setattr__") and any(
                isinstance(a, ast.Constant) and a.value == "__class__" for a in node.args):
            return "an assignment to __class__"
        if function.startswith(_TEXT_RUNNERS):
            return f"{function} of a text" if any(_is_text(a) for a in [*node.args, *(k.value for k in
                                                                                         node.keywords)]) else None
        if function not in _NAME_LOOKUPS or not node.args:
            return None
        if function == "vars" and len(node.args) == 0:
            return None
        name = node.args[1] if len(node.args) >= 2 else None
        if function != "vars" and isinstance(name, ast.Constant) and isinstance(name.value, str):
            return None
        owner = self.source.dotted(node.args[0], local) or ""
        safe = any(owner == o or owner.startswith(o + ".") for o in _SAFE_OWNERS)
        parent = parents.get(id(node))
        called = isinstance(parent, ast.Call) and parent.func is node
        if function == "getattr" and (safe or (called and owner.split(".")[0] in ("torch", "numpy", "np"))):
            return None  # getattr(nn, name)(), getattr(torch, name)(x): an attribute used, not kept
        if function in ("setattr", "delattr", "vars") and owner in ("self", "cls"):
            return None
        return f"{function} with a name computed at run time"

    # -- reach
    def _reached(self, function: str) -> set[str]:
        return {function} | {n for n in self.source.names_used(function) if n in self.source.functions}

    def _reached_from_top_level(self) -> set[str]:
        reached: set[str] = set()
        for name in self.top_level_names:
            if name in self.source.functions:
                reached |= self._reached(name)
        return reached


def _parts(statement: ast.stmt) -> list[tuple[ast.AST, str | None]]:
    """(subtree, the top-level function or class it runs in): what runs when the statement
    itself runs (decorators, default values, class bodies) belongs to the top level (None)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [(n, None) for n in _definition_time(statement)] + [(n, statement.name) for n in statement.body]
    if isinstance(statement, ast.ClassDef):
        parts: list[tuple[ast.AST, str | None]] = [
            (n, None) for n in [*statement.decorator_list, *statement.bases, *(k.value for k in statement.keywords)]]
        for item in statement.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                parts += [(n, None) for n in _definition_time(item)] + [(n, statement.name) for n in item.body]
            else:
                parts.append((item, None))
        return parts
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and isinstance(statement.value, ast.Lambda):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        owner = next((t.id for t in targets if isinstance(t, ast.Name)), None)
        return [(statement, owner)]
    return [(statement, None)]


def _definition_time(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    args = function.args
    annotations = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation]
    return [*function.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None),
            *annotations, *([function.returns] if function.returns else [])]


def _where(unit, node: ast.AST) -> str:
    line = unit.first_line - 1 + getattr(node, "lineno", 1)
    return f"{unit.label}, line {line}" if unit.label.startswith("cell") else f"line {line}"


def _text(value: str) -> tuple[str, bool] | None:
    """A string constant naming the machinery (a whole identifier) or a grader module."""
    match = _WORDS.search(value)
    if match:
        return f"the text {match.group(1)!r}", True
    if value.startswith("grader.") and not _is_live_check(value):
        return f"the text {value[:60]!r}", True
    return None


def _is_text(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, (ast.JoinedStr, ast.BinOp))


def _reads_one_entry(node: ast.AST, parent: ast.AST | None, parents: dict[int, ast.AST]) -> bool:
    """``"name" in sys.modules``, ``sys.modules.get("name")``, ``sys.modules["name"]``: a
    look at one module by a constant name (a grader module's name is a finding by itself)."""
    if isinstance(parent, ast.Compare) and node in parent.comparators and all(
            isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops):
        return True
    if isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant):
        return True
    call = parents.get(id(parent)) if isinstance(parent, ast.Attribute) else None
    return isinstance(parent, ast.Attribute) and parent.attr == "get" and isinstance(call, ast.Call) and bool(
        call.args) and all(isinstance(a, ast.Constant) for a in call.args)


def _through_torch(dotted: str) -> bool:
    """``torch.sys.modules``, ``np.ctypeslib``: a library's own reference to the machinery."""
    parts = dotted.replace("np.", "numpy.", 1).split(".")
    return parts[0] in ("torch", "numpy") and any(p in _GATEWAY_MODULES or p == "ctypeslib" for p in parts[1:])


def _imported(node: ast.Import | ast.ImportFrom) -> tuple[str, bool] | None:
    """``from ctypes import memmove`` and ``import grader.sandbox.recorder`` count; a plain
    ``import ctypes`` does not (what is used from it does)."""
    if isinstance(node, ast.Import):  # a plain `import grader` (a notebook's live check) is not
        dotted = [a.name for a in node.names if a.name.split(".")[0] not in _MACHINERY_MODULES and a.name != "grader"]
    elif node.module == "grader" and all(f"grader.{a.name}" in LIVE_NAMES for a in node.names):
        return None  # from grader import check
    else:
        dotted = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        if any(a.name in MACHINERY_ATTRIBUTES for a in node.names):
            return f"from {node.module} import {', '.join(a.name for a in node.names)}", True
    for name in dotted:
        if _is_machinery(name) or name.split(".")[0] in _MACHINERY_MODULES:
            return f"import {name}", True
    return None


def _is_live_check(text: str) -> bool:
    return text.strip() in LIVE_NAMES


def _is_machinery(dotted: str) -> bool:
    """Whether a dotted name reaches the machinery; of the grader, only its live checks
    (:data:`LIVE_NAMES`) do not (the bare module does: ``_inner(grader).sandbox``)."""
    if dotted in LIVE_NAMES:
        return False
    return dotted.startswith(MACHINERY_PREFIXES) or any(
        dotted == m or dotted.startswith(m if m.endswith(".") else m + ".") or (m.endswith(".") and dotted == m[:-1])
        for m in MACHINERY)
