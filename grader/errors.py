"""The one error type a user of the grader sees.

Everything that is the user's fault (a missing file, an unreadable notebook, an unknown
exercise id, an impossible device) raises :class:`GraderError`; the CLI catches it once,
prints one line on stderr and exits with status 2. Anything else is a bug in the grader.
"""


class GraderError(Exception):
    """A user-facing error: bad input or bad options, never a crash of the grader."""
