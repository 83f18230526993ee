"""grader: a sandboxed, plugin-based autograder for PyTorch exercises."""

import pluggy

__version__ = "0.2.0"

#: Decorator for plugin hook implementations: ``@grader.hookimpl``.
hookimpl = pluggy.HookimplMarker("grader")

from grader.errors import GraderError  # noqa: E402

__all__ = ["GraderError", "__version__", "check", "hookimpl", "init"]
_LIVE = ("check", "init", "load_ipython_extension")  # from grader.live, imported on first use


def __getattr__(name: str):
    """``grader.check(...)``, ``grader.init(...)`` and ``%load_ext grader`` (grader.live), without
    importing anything heavy at ``import grader``."""
    if name in _LIVE:
        from grader import live

        return getattr(live, name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
