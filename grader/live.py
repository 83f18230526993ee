"""Live checks from a notebook: ``import grader; grader.check("tensor_ops")`` (or
``%grader tensor_ops``) in a Jupyter cell grades the cells the student has run so far.

This module is the kernel's side, and it judges nothing: the student's kernel may have
patched torch, NumPy or the grader's own modules. It takes the kernel's input history
(IPython's raw ``In``: the cells as they were run, in order, re-runs included) and hands
it over a pipe to a helper process (``python -I -m grader.live_server``), a fresh
interpreter that never ran student code. The helper grades it exactly like ``grader
check`` (the same loader, the same sandbox, every verdict on its side) and sends back the
rendered report, which is displayed inline as HTML (text in a terminal IPython). The
helper is started once per kernel and keeps a warm sandbox worker, so a re-check is fast;
it ends when the kernel does (end of its input). Nothing here imports torch.

``grader.check()`` without ids checks every exercise of the assignment: the file given to
``grader.init(assignment=...)``, else ``assignment.toml`` next to the notebook (the
kernel's working folder), else every exercise the grader knows. When the grader grades
a saved notebook, it skips the cells' ``grader.check(...)`` lines (:func:`is_live_check`).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

SERVER_MODULE = "grader.live_server"
LIVE_CALLS = {"check", "init"}
_lock = threading.Lock()
_state: dict[str, Any] = {"helper": None, "assignment": None}


# ------------------------------------------------------------------ what the loader skips
def is_live_check(source: str) -> bool:
    """Whether one top-level statement is a live check (``grader.check(...)``,
    ``grader.init(...)``, ``r = grader.check(...)``): skipped when a notebook is graded."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Expr, ast.Assign)):
        return False
    call = tree.body[0].value
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    names: list[str] = []
    while isinstance(func, ast.Attribute):
        names.insert(0, func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return False
    names.insert(0, func.id)
    return names[0] == "grader" and names[-1] in LIVE_CALLS and len(names) in (2, 3)


# ------------------------------------------------------------------ the student's calls
def init(assignment: str | os.PathLike | None = None) -> None:
    """Name the assignment file for later checks (default: ``assignment.toml`` next to the
    notebook), register ``%grader`` and start the grading helper now, so that the first
    check does not wait for it."""
    if assignment is not None:
        path = Path(assignment).expanduser()
        if not path.is_file():
            print(f"grader: error: {path}: no such file (the assignment file)", file=sys.stderr)
            return
        _state["assignment"] = str(path.resolve())
    _register_magic()
    with _lock:
        _helper()


def check(*exercise_ids: str, assignment: str | os.PathLike | None = None) -> None:
    """Grade the cells run so far in this kernel and show the report (see the module)."""
    _register_magic()
    shell = _shell()
    if shell is None:
        print("grader: error: grader.check() grades the cells of a running Jupyter or IPython kernel; in a "
              "terminal, run `grader check FILE`", file=sys.stderr)
        return
    request = {"cells": history(shell), "exercises": [str(i) for i in exercise_ids],
               "assignment": _assignment_path(assignment)}
    reply = ask(request)
    if not reply.get("ok"):
        print(f"grader: error: {reply.get('error', 'the grading helper gave no answer')}", file=sys.stderr)
        return
    _show(shell, reply)


def load_ipython_extension(ipython) -> None:
    """``%load_ext grader``: registers the ``%grader`` magic."""
    _register_magic(ipython)


# ------------------------------------------------------------------ the kernel
def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def history(shell) -> list[list[Any]]:
    """``[[execution count, source], ...]``: the raw input of every cell run so far, this
    one included (its live-check line is skipped by the loader)."""
    raw = list(getattr(shell.history_manager, "input_hist_raw", []) or [])
    return [[number, source] for number, source in enumerate(raw) if number > 0 and isinstance(source, str)
            and source.strip()]


def _assignment_path(given: str | os.PathLike | None) -> str | None:
    if given is not None:
        return str(Path(given).expanduser().resolve())
    if _state["assignment"]:
        return _state["assignment"]
    from grader.assignment import find_assignment

    found = find_assignment(Path.cwd())
    return str(found.resolve()) if found else None


def _register_magic(shell=None) -> None:
    shell = shell or _shell()
    if shell is None or not hasattr(shell, "register_magic_function"):
        return
    if "grader" not in shell.magics_manager.magics.get("line", {}):
        shell.register_magic_function(lambda line: check(*line.split()), "line", "grader")


def _show(shell, reply: dict[str, Any]) -> None:
    if type(shell).__name__ == "TerminalInteractiveShell":
        print(reply["text"], end="")
        return
    from IPython.display import display

    display({"text/html": reply["html"], "text/plain": reply["text"]}, raw=True)


# ------------------------------------------------------------------ the helper process
def helper_command() -> list[str]:
    # -I: isolated (no PYTHON* variables, no user site, no working folder on sys.path), so a
    # torch.py beside the notebook or a PYTHONPATH set by the notebook reaches nothing
    return [sys.executable, "-I", "-m", SERVER_MODULE]


def _helper_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LD_PRELOAD", "LD_AUDIT"))}


def _helper() -> subprocess.Popen:
    helper = _state["helper"]
    if helper is None or helper.poll() is not None:
        helper = subprocess.Popen(helper_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=_helper_env(), cwd=tempfile.gettempdir(), close_fds=True)
        _state["helper"] = helper
    return helper


def ask(request: dict[str, Any]) -> dict[str, Any]:
    """One request to the helper and its answer (the helper is started, or started again
    once if it has died)."""
    line = (json.dumps(request) + "\n").encode()
    with _lock:
        for _attempt in range(2):
            helper = _helper()
            assert helper.stdin is not None and helper.stdout is not None  # both are pipes
            try:
                helper.stdin.write(line)
                helper.stdin.flush()
                answer = helper.stdout.readline()
            except (BrokenPipeError, OSError):
                answer = b""
            if answer:
                try:
                    return json.loads(answer)
                except ValueError:
                    return {"ok": False, "error": "the grading helper sent something that is not an answer"}
            helper.kill()
            helper.wait()
        return {"ok": False, "error": f"the grading helper stopped (status {helper.returncode}); "
                                      f"run `grader check FILE` in a terminal to see why"}


def stop() -> None:
    """End the helper (it also ends by itself with the kernel)."""
    with _lock:
        helper = _state["helper"]
        _state["helper"] = None
        if helper is not None and helper.poll() is None:
            helper.stdin.close()
            try:
                helper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()
