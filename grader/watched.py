"""Trusted side: what the watched calls of a probe did, from the runner's records.

A watched call (:mod:`grader.sandbox.watching`) sends its evidence to the runner as it
happens: digests of its arguments before, after and at the end of the probe, the first
forbidden function it ran, a thread of the submission running beside it. Here that
evidence becomes the observations the checks read, whatever the student's own frames
said: a call that ran a forbidden function raised ``ForbiddenCall``; a call whose
argument's digest changed has ``<call>.inputs_changed``. A call the reference's run
watched (its ``.watched`` record) whose function names a forbidden function in its source
(:meth:`grader.static.StudentSource.find_forbidden`, patterns included) ran it; one whose
function :class:`grader.integrity.Integrity` cannot verify, or that had something seen
beside it, counts as caught.
"""

from __future__ import annotations

from typing import Any

from grader.codec import Raised
from grader.integrity import SEEN_WHILE_RUNNING, UNVERIFIED, WATCHED, Finding, Integrity

CHANGED = ".inputs_changed"


def apply_watching(got: dict[str, Any], expected: dict[str, Any], integrity: Integrity, run: Any = None) -> dict:
    """The student's observations of one probe (``got``), with what the runner's records
    (``run``: a :class:`grader.sandbox.runner.ProbeRun`) and the reading of the source say
    the watched calls did. ``expected``: the reference's observations of the probe."""
    result = dict(got)
    if run is not None:
        _forbidden_hits(result, run.forbidden)
        _changed_arguments(result, run.watched)
    for key, watch in expected.items():
        if key.endswith(WATCHED) and isinstance(watch, dict):
            _unverified(result, key[: -len(WATCHED)], watch, integrity, run)
    return result


def _forbidden_hits(result: dict[str, Any], hits: dict[str, str]) -> None:
    for call, name in hits.items():
        if call in result and not (isinstance(result[call], Raised) and result[call].forbidden):
            result[call] = Raised("ForbiddenCall", name, forbidden=name)


def _changed_arguments(result: dict[str, Any], watched: dict[str, dict[str, Any]]) -> None:
    for call, record in watched.items():
        labels, before = record.get("labels", []), record.get("before", [])
        later: list[list[Any]] = [record[stage] for stage in ("after", "end") if record.get(stage) is not None]
        changed = [label for i, label in enumerate(labels)
                   if any(i >= len(digests) or digests[i] != before[i] for digests in later)]
        if changed:
            result[call + CHANGED] = {"function": record.get("function") or "the function", "arguments": changed}


def _unverified(result: dict[str, Any], call: str, watch: dict[str, Any], integrity: Integrity, run: Any) -> None:
    function = str(watch.get("function", ""))
    named = integrity.source.find_forbidden(function, set(watch.get("forbid") or ())) if watch.get("forbid") else []
    if named and call in result and not (isinstance(result[call], Raised) and result[call].forbidden):
        result[call] = Raised("ForbiddenCall", named[0], forbidden=named[0])  # named in the source: no need to run
        return
    seen = list(run.notices) + list(run.call_notices.get(call, [])) if run is not None else []
    finding = integrity.unverified(function, seen)
    if finding is None and run is not None and watch.get("inputs") and call in result \
            and not isinstance(result[call], Raised) and call not in run.watched:
        finding = Finding("a watched call whose record did not reach the grader", SEEN_WHILE_RUNNING, True)
    if finding is None or call not in result:
        return
    if watch.get("forbid"):
        if not (isinstance(result[call], Raised) and result[call].forbidden):
            result[call] = Raised(UNVERIFIED, f"{function} could not be verified: {reason(finding)}",
                                  forbidden=finding.construct)
    elif watch.get("inputs") and not isinstance(result.get(call + CHANGED), dict):
        result[call + CHANGED] = {"function": function, "arguments": list(watch["inputs"]),
                                  "unverified": reason(finding)}


def reason(finding: Finding) -> str:
    """Why a watched call could not be verified, as the end of a sentence."""
    if finding.observed:  # the sandbox's notice, not the source
        return f"while it ran, the grader saw {finding.construct}"
    return f"the submission uses {finding.describe()}"
