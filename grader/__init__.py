"""grader: a sandboxed, plugin-based autograder for PyTorch exercises."""

import pluggy

__version__ = "0.2.0"

#: Decorator for plugin hook implementations: ``@grader.hookimpl``.
hookimpl = pluggy.HookimplMarker("grader")

from grader.errors import GraderError  # noqa: E402

__all__ = ["GraderError", "__version__", "hookimpl"]
