"""The one import for exercise-plugin authors: ``from grader.api import ...``.

Everything an exercise needs is here: the :class:`Exercise` declaration (probes run in
the sandbox, checks judge on the trusted side), the :class:`Verdict` a check returns,
the comparisons that explain themselves, the decoded value types a check reads, and the
``hookimpl`` marker for plugins that implement other hooks. See docs/authoring.md.
"""

from __future__ import annotations

from grader import hookimpl
from grader.codec import Missing, OpaqueObject, Raised, TensorValue
from grader.errors import GraderError
from grader.exercise import CheckContext, Exercise, StudentFailed, Verdict
from grader.judging import (as_int, compare_arrays, compare_cases, compare_plain, compare_tensors, describe,
                            matches)
from grader.sandbox.recorder import FAILED

__all__ = [
    "FAILED", "CheckContext", "Exercise", "GraderError", "Missing", "OpaqueObject", "Raised", "StudentFailed",
    "TensorValue", "Verdict", "as_int", "compare_arrays", "compare_cases", "compare_plain", "compare_tensors",
    "describe", "hookimpl", "matches",
]
