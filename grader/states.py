"""Every state the grader names, as enums: statuses in results, why the sandbox stopped
something, the frames of the result channel, and the command line's exit codes.

The string enums are ``str`` subclasses, so they are written to JSON and CSV as their
plain values (``"passed"``, ``"time_limit"``...) and compare equal to those strings;
nothing anywhere matches messages with regular expressions to find a state.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class CheckStatus(StrEnum):
    """The outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"  # the student's answer is wrong (partial credit possible)
    ERROR = "error"  # the student's code raised or was stopped
    SKIPPED = "skipped"  # it needs an earlier check to pass, and cannot be judged otherwise


class ExerciseStatus(StrEnum):
    """The outcome of one exercise."""

    GRADED = "graded"
    NOT_ATTEMPTED = "not_attempted"  # none of its names is defined
    ERROR = "error"  # the submission could not run at all


class CellStatus(StrEnum):
    """What happened to a cell (or top-level statement) the report lists (``cells[].status``)."""

    ERROR = "error"  # it raised; the cells after it still ran
    STOPPED = "stopped"  # the sandbox stopped it (a limit, a crash); it was skipped when the rest ran again


class StopKind(StrEnum):
    """Why the sandbox stopped a cell, a probe or the whole run."""

    TIME_LIMIT = "time_limit"  # a cell, statement or probe ran past its limit
    TOTAL_TIME = "total_time"  # the submission's whole time limit ran out
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"  # printed too much
    CHANNEL_LIMIT = "channel_limit"  # sent too much data back
    CRASH = "crash"  # the Python process died of a signal
    EXIT = "exit"  # the Python process exited (os._exit)
    TAMPERED = "tampered"  # the result channel carried something the worker never writes
    GAVE_UP = "gave_up"  # too many restarts
    WORKER_START = "worker_start"  # the sandbox itself could not start: the grader's problem

    @property
    def is_time(self) -> bool:
        """A time limit: the verdict may depend on the machine's load, so it is never cached."""
        return self in (StopKind.TIME_LIMIT, StopKind.TOTAL_TIME)

    @property
    def is_infrastructure(self) -> bool:
        """The grader's failure, not the student's: retried on the next run."""
        return self is StopKind.WORKER_START


class RowStatus(StrEnum):
    """The status of one submission in ``grader batch`` (the ``status`` column)."""

    GRADED = "graded"
    ERROR = "error"  # graded, but something of the submission crashed or was stopped
    TIMEOUT = "timeout"  # graded, but a time limit stopped part of it (graded again next run)
    UNREADABLE = "unreadable"  # the file cannot be read as a submission
    GRADER_ERROR = "grader_error"  # the grader failed: no result, retried next run
    NOT_GRADED = "not_graded"  # the run was interrupted before this submission

    @property
    def has_result(self) -> bool:
        """Rows with a result object (and feedback files) and a score."""
        return self not in (RowStatus.GRADER_ERROR, RowStatus.NOT_GRADED)

    @property
    def cacheable(self) -> bool:
        """Rows whose result is final for the same bytes and grader: taken from the cache
        on a re-run. A time-out or an infrastructure failure is graded again."""
        return self in (RowStatus.GRADED, RowStatus.ERROR, RowStatus.UNREADABLE)


class LateStatus(StrEnum):
    """How a submission stands against its deadline (an assignment's ``lateness.status``)."""

    ON_TIME = "on_time"  # handed in by the (student's) deadline, or within the grace period
    LATE = "late"  # after it: the late policy's penalty applies
    NO_CREDIT = "no_credit"  # after the no-credit date: the final score is 0
    UNKNOWN = "unknown"  # the submission time is not known: no penalty, and the row says so
    NO_DEADLINE = "no_deadline"  # the assignment has no deadline
    NOT_ASSESSED = "not_assessed"  # nothing was handed in yet: grader check without --submitted-at, a live check


class Frame(StrEnum):
    """The messages of the result channel, in the order the worker writes them:
    ``hello``, (``unit_start``, ``unit_done``) per unit, ``loaded``, (``probe_start``,
    [``timing_ready``, ``timing_done`` | ``observe`` | ``watch``]..., ``probe_done``) per probe,
    ``done``; a ``notice`` may come at any point after ``hello``."""

    HELLO = "hello"
    UNIT_START = "unit_start"
    UNIT_DONE = "unit_done"
    LOADED = "loaded"
    PROBE_START = "probe_start"
    TIMING_READY = "timing_ready"
    TIMING_DONE = "timing_done"
    OBSERVE = "observe"  # a probe asks the runner to look at the sandbox's files itself
    NOTICE = "notice"  # at any point after hello: the student's code reached the machinery, ran a forbidden function
    WATCH = "watch"  # in a probe: digests of a watched call's arguments (before, after, at the end)
    PROBE_DONE = "probe_done"
    DONE = "done"


class ExitCode(IntEnum):
    """Exit statuses of the ``grader`` command."""

    OK = 0  # graded, whatever the score
    BELOW_THRESHOLD = 1  # graded, and below --fail-under (batch: some rows are grader errors)
    USAGE = 2  # a usage error or a file that cannot be read at all: one line on stderr
    INTERNAL = 3  # a bug in the grader: one line on stderr (the traceback with GRADER_DEBUG=1)
    INTERRUPTED = 130  # Ctrl-C
