"""How late a submission is, and what the late policy takes off: a pure function of the
submission time, the deadline, the student's extension and the ``[late]`` table.

The grace period, the cap and the no-credit date are the grader's, the same for every
policy; the rate itself (so much per day, per hour...) comes from the policy's plugin
through the ``grader_late_penalty`` hook (the built-ins are in
:mod:`grader.late_policies`). Nothing here is cached: ``grader batch`` calls it for every
row on every run, so a changed deadline, policy or extension changes every penalty at
once, without grading any code again. A submission whose time is not known is never
guessed late or on time: its status is ``unknown`` and it says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from grader.errors import GraderError
from grader.states import LateStatus
from grader.when import describe_duration, iso, percent, show


def assess(submitted_at: datetime | None, deadline: datetime | None, policy: dict[str, Any], pm=None, *,
           extension: datetime | None = None, time_source: str = "", marked_late: bool = False) -> dict[str, Any]:
    """The ``lateness`` object of a result (docs/assignments.md): its status, the times
    it was judged by, the share of the score taken off (``fraction``) and the message."""
    own = extension if extension is not None else deadline
    facts: dict[str, Any] = {"status": LateStatus.NO_DEADLINE, "submitted_at": iso(submitted_at),
                             "time_source": time_source, "deadline": iso(own), "extended": extension is not None,
                             "seconds_late": 0, "policy": policy.get("policy", "none"), "fraction": 0.0,
                             "message": "", "marked_late": marked_late}
    if own is None:
        return facts
    if submitted_at is None:
        facts["status"] = LateStatus.UNKNOWN
        facts["message"] = ("the submission time is not known, so no late penalty was applied"
                            + (" (the LMS marks it late: check it by hand)" if marked_late else ""))
        return facts
    late = (submitted_at - own).total_seconds()
    facts["seconds_late"] = max(0, round(late))
    when = f"the deadline ({show(own)}{', your extension' if extension is not None else ''})"
    cutoff = no_credit_date(policy, deadline, own)
    if cutoff is not None and submitted_at > cutoff:
        facts.update(status=LateStatus.NO_CREDIT, fraction=1.0,
                     message=f"handed in {describe_duration(late)} after {when}, after the last date for credit "
                             f"({show(cutoff)}): no credit")
        return facts
    if late <= float(policy.get("grace") or 0):
        facts["status"] = LateStatus.ON_TIME
        if late > 0:
            facts["message"] = f"handed in {describe_duration(late)} after {when}, within the grace period"
        return facts
    facts.update(status=LateStatus.LATE, **_penalty(policy, facts, late, pm))
    facts["message"] = f"handed in {describe_duration(late)} after {when}: {facts['message']}"
    return facts


def no_credit_date(policy: dict[str, Any], deadline: datetime | None, own: datetime) -> datetime | None:
    """After this moment a submission gets no credit: ``no_credit_after`` (moved by as
    much as the student's extension moves the deadline), or ``no_credit_delay`` seconds
    after the student's deadline."""
    if policy.get("no_credit_delay") is not None:
        return own + timedelta(seconds=float(policy["no_credit_delay"]))
    if policy.get("no_credit_after"):
        cutoff = datetime.fromisoformat(policy["no_credit_after"]).astimezone(own.tzinfo)
        return cutoff + max(own - deadline, timedelta(0)) if deadline is not None else cutoff
    return None


def _penalty(policy: dict[str, Any], facts: dict[str, Any], late: float, pm) -> dict[str, Any]:
    from grader.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    answer = pm.hook.grader_late_penalty(policy=dict(policy), lateness={
        "seconds_late": late, "submitted_at": facts["submitted_at"], "deadline": facts["deadline"],
        "extended": facts["extended"]})
    if not isinstance(answer, dict):
        raise GraderError(f"no late policy named {policy.get('policy')!r} (known: {', '.join(known_policies(pm))})")
    try:
        fraction = min(1.0, max(0.0, float(answer.get("fraction", 0.0))))
    except (TypeError, ValueError):
        raise GraderError(f"the late policy {policy.get('policy')!r} returned a fraction that is not a number: "
                          f"{answer.get('fraction')!r}") from None
    message = str(answer.get("message") or f"{percent(fraction)} off")
    cap = policy.get("cap")
    if cap is not None and fraction > float(cap):
        fraction, message = float(cap), f"{message}, capped at {percent(float(cap))}"
    return {"fraction": fraction, "message": message}


def known_policies(pm=None) -> list[str]:
    from grader.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    return sorted({name for names in pm.hook.grader_late_policies() for name in names or ()})
