"""The sandbox: student code runs only in a worker process under limits and isolation.

``runner`` is the trusted parent side (launch, watch, kill, restart); ``worker`` is the
process tree that enters the sandbox (``isolation``) and runs the student's code
(``student``); ``channel`` frames the plain-JSON messages between them.
"""

from grader.sandbox.limits import Limits
from grader.sandbox.runner import RunOutcome, run_in_sandbox

__all__ = ["Limits", "RunOutcome", "run_in_sandbox"]
