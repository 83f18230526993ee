"""The built-in late policies, a plugin of the ``grader_late_penalty`` hook like any
other (docs/assignments.md): ``none``, ``per_day``, ``per_hour`` and ``cutoff``.

Each turns the time past the deadline into the share of the score taken off; the grace
period, the cap and the no-credit date are applied around them by :mod:`grader.lateness`.
A part of a day (of an hour) counts as a whole one: 1 minute late is 1 day late.
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence

import grader
from grader.when import percent

POLICIES = ("none", "per_day", "per_hour", "cutoff")
_UNIT = {"per_day": (86400, "day"), "per_hour": (3600, "hour")}


@grader.hookimpl
def grader_late_policies() -> Sequence[str]:
    return POLICIES


@grader.hookimpl
def grader_late_penalty(policy: dict[str, Any], lateness: dict[str, Any]) -> dict[str, Any] | None:
    name = policy.get("policy")
    if name == "none":
        return {"fraction": 0.0, "message": "no late penalty"}
    if name == "cutoff":
        return {"fraction": 0.0, "message": "accepted without penalty until the last date for credit"}
    if name not in _UNIT:
        return None
    size, unit = _UNIT[name]
    count = max(1, math.ceil(float(lateness["seconds_late"]) / size - 1e-9))
    rate = float(policy["penalty"])
    plural = "s" if count > 1 else ""
    return {"fraction": min(1.0, count * rate),
            "message": f"{count} {unit}{plural} late × {percent(rate)} = {percent(min(1.0, count * rate))} off"}
