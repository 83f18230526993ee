"""Validating the options every command shares, in one place: the device and the limits."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.sandbox import Limits

DEVICE_HELP = "cpu, cuda or auto (default: the assignment's, else cpu)"


def add_grading_options(parser: argparse.ArgumentParser, each: str, limits: bool = True) -> None:
    """The options every grading command shares: ``--exercise``, ``--device`` and (with
    ``limits``) ``--timeout`` and ``--cell-timeout``; ``each``: what ``--timeout`` limits
    ("the whole submission", "each submission")."""
    parser.add_argument("--exercise", "-e", action="append", metavar="ID", help="grade only this exercise (repeatable)")
    parser.add_argument("--device", help=DEVICE_HELP)
    if not limits:
        return
    parser.add_argument("--timeout", type=float, metavar="S",
                        help=f"CPU-time limit for {each}, in seconds (default 600)")
    parser.add_argument("--cell-timeout", type=float, metavar="S",
                        help="CPU-time limit for each top-level statement of a cell or module, in seconds "
                             "(default 30, at most half of --timeout; docs/limits.md)")


def resolve_device(pm, requested: str) -> str:
    """The torch device string to grade on, from ``--device`` (through the device plugins)."""
    chosen = pm.hook.grader_select_device(requested=requested)
    if chosen is None:
        raise GraderError(f"unknown device {requested!r} (choose cpu, cuda or auto)")
    return chosen


def check_device_name(pm, requested: str) -> None:
    """Refuse a device no plugin knows, without needing it here (``gradescope build`` on a
    laptop for a GPU machine): the built-in names pass, others go through the plugins."""
    if requested in ("cpu", "auto", "cuda") or (requested.startswith("cuda:") and requested[5:].isdigit()):
        return
    resolve_device(pm, requested)


def make_limits(timeout: float | None = None, cell_timeout: float | None = None) -> Limits:
    """The sandbox's limits for ``--timeout S`` (the whole submission, CPU time of the
    sandbox, with a wall-clock backstop of twice that plus 5 s) and
    ``--cell-timeout S`` (each top-level statement, CPU time; default 30 s, at most half
    of ``--timeout``)."""
    from grader.sandbox import Limits

    limits = Limits()
    if timeout is not None:
        if not timeout > 0:
            raise GraderError("--timeout must be a positive number of seconds")
        limits.limit_total(timeout)
    if cell_timeout is not None:
        if not cell_timeout > 0:
            raise GraderError("--cell-timeout must be a positive number of seconds")
        limits.unit_seconds = cell_timeout if timeout is None else min(cell_timeout, max(1.0, timeout / 2))
    return limits
