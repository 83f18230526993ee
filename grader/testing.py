"""Helpers for testing exercise plugins (and the grader's own exercises).

Grade a submission written on the fly, exactly as ``grader check`` would::

    from grader.testing import grade_source, check

    result = grade_source("def norm(x):\\n    return x.norm()\\n", "vector_norm")
    assert check(result, "vector_norm", "norm.values")["status"] == "passed"

Judge one check on observations you write by hand, without a sandbox (fast unit tests
of a check's logic, its messages and hints)::

    verdict = judge(exercise, "norm.values", got={"random": value}, expected={"random": value})
    assert verdict.passed

Read code the way a check reads ``ctx.source`` with :func:`student_source`, and look at
several checks of one grading with :func:`checks_by_id`.

Builds of the grader share one warm worker pool per process (:func:`shared_pool`), so a
test file pays torch's import once.
"""

from __future__ import annotations

import atexit
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from grader.codec import Missing, Raised, decode, encode
from grader.exercise import CheckContext, Exercise, StudentFailed, Verdict
from grader.sandbox import Limits
from grader.sandbox.launch import WorkerPool
from grader.integrity import Integrity
from grader.watched import apply_watching
from grader.static import StudentSource

__all__ = ["check", "checks_by_id", "exercise_result", "grade_file", "grade_source", "judge", "make_context",
           "notebook", "shared_pool", "student_source"]

_pools: list[WorkerPool] = []


def shared_pool(size: int = 2) -> WorkerPool:
    """One warm worker pool for the whole process (closed at exit), preloaded with every
    registered exercise's module."""
    if not _pools:
        from grader.engine import exercise_registry
        from grader.plugins import get_plugin_manager

        modules = sorted({e.module for e in exercise_registry(get_plugin_manager()).values()})
        _pools.append(WorkerPool(size, preload=modules, warm=True))
        atexit.register(_pools[0].close)
    return _pools[0]


def close_shared_pool() -> None:
    while _pools:
        _pools.pop().close()


def notebook(*cells: str) -> str:
    """A minimal valid nbformat-4 notebook (as text) with these code cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    return nbformat.writes(nb)


def grade_file(path: str | Path, *exercise_ids: str, limits: Limits | None = None, device: str = "cpu",
               fresh: bool = False) -> dict[str, Any]:
    """Grade the file at ``path`` (what ``grader check --format json`` prints), through
    the shared warm pool (``fresh``: a new interpreter for the worker instead)."""
    from grader.engine import grade_path

    return grade_path(path, list(exercise_ids) or None, device=device, limits=limits or Limits(),
                      pool=None if fresh else shared_pool()).to_dict()


def grade_source(source: str, *exercise_ids: str, name: str = "submission.py", limits: Limits | None = None,
                 device: str = "cpu") -> dict[str, Any]:
    """Grade ``source`` (a module's text, dedented; or a notebook's JSON with a ``.ipynb`` name)."""
    with tempfile.TemporaryDirectory(prefix="grader-test-") as folder:
        path = Path(folder) / name
        path.write_text(textwrap.dedent(source) if name.endswith(".py") else source, encoding="utf-8")
        return grade_file(path, *exercise_ids, limits=limits, device=device)


def exercise_result(result: dict[str, Any], exercise_id: str) -> dict[str, Any]:
    return next(e for e in result["exercises"] if e["id"] == exercise_id)


def check(result: dict[str, Any], exercise_id: str, check_id: str) -> dict[str, Any]:
    """One check's entry of a result."""
    return next(c for c in exercise_result(result, exercise_id)["checks"] if c["id"] == check_id)


def checks_by_id(result: dict[str, Any], exercise_id: str) -> dict[str, dict[str, Any]]:
    """Every check's entry of one exercise of a result, by check id (in the exercise's
    order), for tests that look at several checks of one grading::

        checks = checks_by_id(result, "vector_norm")
        assert checks["norm.values"]["status"] == "passed" and checks["norm.shape"]["points"] == 1
    """
    return {c["id"]: c for c in exercise_result(result, exercise_id)["checks"]}


def student_source(*cells: str) -> StudentSource:
    """The student's source as a check reads it (``ctx.source``), for a notebook with these
    code cells: each dedented and labelled ``cell 1``, ``cell 2``... as in a real grading.
    Test what a check or an integrity rule finds in the code without grading anything::

        assert "torch.autograd.grad" in student_source(code).names_used("linear_grads")

    No cells: a submission with no code."""
    from grader.submission import Unit

    units = [Unit(f"cell {i}", f"<cell {i}>", textwrap.dedent(c)) for i, c in enumerate(cells, 1)]
    return StudentSource.from_units(units)


def _observed(values: dict[str, Any]) -> dict[str, Any]:
    """Observations as the judge sees them: values from torch or NumPy go through the
    codec (encoded in the sandbox, decoded on the trusted side); a :class:`Raised` or a
    :class:`Missing` (a call that failed, a name not defined) is kept as it is."""
    try:
        import torch as torch_module  # optional in a check's unit test
    except ImportError:
        torch_module = None  # type: ignore[assignment]
    return {k: v if isinstance(v, (Raised, Missing)) else decode(encode(v, torch_module)) for k, v in values.items()}


def make_context(exercise: Exercise, check_id: str, got: dict[str, Any], expected: dict[str, Any],
                 source: str = "", device: str = "cpu") -> CheckContext:
    """A :class:`CheckContext` for ``check_id`` over observations written by hand (tensors,
    arrays and plain values; they are encoded and decoded like real ones)."""
    chosen = next(c for c in exercise.checks if c.id == check_id)
    student = student_source(source) if source else student_source()
    expected = _observed(expected)
    return CheckContext(got_observations=apply_watching(_observed(got), expected, Integrity(student)),
                        expected_observations=expected, source=student, device=device, check=chosen)


def judge(exercise: Exercise, check_id: str, got: dict[str, Any], expected: dict[str, Any], source: str = "",
          device: str = "cpu") -> Verdict:
    """Run one check's judge on hand-written observations and return its verdict (a
    student call that failed becomes the verdict, as in a real grading)."""
    ctx = make_context(exercise, check_id, got, expected, source, device)
    try:
        return ctx.check.judge(ctx)
    except StudentFailed as failure:
        return failure.verdict
