"""Lateness as a pure function: the submission time, the deadline, the extension and the
late policy give the status, the share taken off and the message; the policy is a hook."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

import grader
from grader.lateness import assess, known_policies
from grader.plugins import make_plugin_manager
from grader.states import LateStatus
from grader.when import describe_duration, parse_duration, parse_fraction, parse_when, percent, zone

BERLIN = ZoneInfo("Europe/Berlin")
DEADLINE = datetime(2025, 3, 1, 23, 59, tzinfo=BERLIN)
PER_DAY = {"policy": "per_day", "penalty": 0.1, "grace": 900.0, "cap": 0.3, "of": "score",
           "no_credit_after": None, "no_credit_delay": None}


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager(autoload=False)


def late_by(**delta) -> datetime:
    return DEADLINE + timedelta(**delta)


def test_reading_durations_shares_and_times():
    assert parse_duration("15 minutes") == 900 and parse_duration("2h") == 7200
    assert parse_duration("1 day 12 hours") == 129600 and parse_duration("1w, 2d") == 9 * 86400
    for bad in ("15", "ten minutes", "3 fortnights", 15, ""):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
    assert parse_fraction("10%") == pytest.approx(0.1) and parse_fraction(0.25) == 0.25
    with pytest.raises(ValueError, match="10%"):
        parse_fraction(10)  # ten what? a share above 1 is refused, not read as 1000 %
    with pytest.raises(ValueError):
        parse_fraction("120%")
    assert parse_when("2025-03-01 23:59", BERLIN) == DEADLINE
    assert parse_when("2025-03-01T22:59:00Z", BERLIN) == DEADLINE
    assert parse_when("2025-03-01 17:59 America/New_York", BERLIN) == DEADLINE
    assert parse_when("2025-03-01", BERLIN) == datetime(2025, 3, 1, 23, 59, 59, tzinfo=BERLIN)  # the whole day
    assert parse_when(datetime(2025, 3, 1, 23, 59), BERLIN) == DEADLINE  # a TOML local date-time
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_when("2025-03-01 23:59 Mars/Olympus", BERLIN)
    assert zone("UTC+01:30").utcoffset(None) == timedelta(hours=1, minutes=30)
    assert describe_duration(86400 + 3 * 3600 + 59) == "1 day 3 h" and describe_duration(40) == "40 s"
    assert percent(0.125) == "12.5 %"


def test_on_time_within_grace_and_late_per_day_with_a_cap(pm):
    on_time = assess(late_by(hours=-1), DEADLINE, PER_DAY, pm)
    assert on_time["status"] == LateStatus.ON_TIME and on_time["fraction"] == 0 and on_time["message"] == ""
    grace = assess(late_by(minutes=10), DEADLINE, PER_DAY, pm)
    assert grace["status"] == LateStatus.ON_TIME and "grace period" in grace["message"]
    one_minute_past_grace = assess(late_by(minutes=16), DEADLINE, PER_DAY, pm)
    assert one_minute_past_grace["status"] == LateStatus.LATE
    assert one_minute_past_grace["fraction"] == pytest.approx(0.1)  # a part of a day counts as a day
    two = assess(late_by(days=1, hours=10), DEADLINE, PER_DAY, pm)
    assert two["fraction"] == pytest.approx(0.2) and "2 days late × 10 % = 20 % off" in two["message"]
    assert "1 day 10 h after the deadline (2025-03-01 23:59 CET)" in two["message"]
    five = assess(late_by(days=4, hours=1), DEADLINE, PER_DAY, pm)
    assert five["fraction"] == pytest.approx(0.3) and "capped at 30 %" in five["message"]
    assert five["submitted_at"] == "2025-03-06T00:59:00+01:00" and five["deadline"] == "2025-03-01T23:59:00+01:00"


def test_per_hour_and_the_last_date_for_credit(pm):
    hourly = {"policy": "per_hour", "penalty": 0.05}
    assert assess(late_by(hours=2, minutes=1), DEADLINE, hourly, pm)["fraction"] == pytest.approx(0.15)
    cutoff = dict(PER_DAY, no_credit_after="2025-03-08T23:59:00+01:00")
    assert assess(late_by(days=6), DEADLINE, cutoff, pm)["status"] == LateStatus.LATE
    gone = assess(late_by(days=8), DEADLINE, cutoff, pm)
    assert gone["status"] == LateStatus.NO_CREDIT and gone["fraction"] == 1.0 and "no credit" in gone["message"]
    # the extension moves the last date for credit by as much as it moves the deadline
    extended = assess(late_by(days=8), DEADLINE, cutoff, pm, extension=late_by(days=7))
    assert extended["status"] == LateStatus.LATE and extended["fraction"] == pytest.approx(0.1)
    assert extended["extended"] and "your extension" in extended["message"]
    week = dict(PER_DAY, no_credit_delay=7 * 86400.0)
    assert assess(late_by(days=7, hours=1), DEADLINE, week, pm)["status"] == LateStatus.NO_CREDIT
    only_cutoff = {"policy": "cutoff", "no_credit_after": "2025-03-03T23:59:00+01:00"}
    assert assess(late_by(days=1), DEADLINE, only_cutoff, pm)["fraction"] == 0
    assert assess(late_by(days=3), DEADLINE, only_cutoff, pm)["status"] == LateStatus.NO_CREDIT


def test_an_unknown_time_is_never_guessed_and_no_deadline_is_no_lateness(pm):
    unknown = assess(None, DEADLINE, PER_DAY, pm, marked_late=True)
    assert unknown["status"] == LateStatus.UNKNOWN and unknown["fraction"] == 0
    assert "not known" in unknown["message"] and "marks it late" in unknown["message"]
    assert assess(late_by(days=3), None, PER_DAY, pm)["status"] == LateStatus.NO_DEADLINE


def test_a_changed_deadline_or_extension_changes_the_penalty(pm):
    """Nothing is remembered between calls: the stale-penalty bug of peers cannot happen here."""
    submitted = late_by(days=2, hours=1)
    assert assess(submitted, DEADLINE, PER_DAY, pm)["fraction"] == pytest.approx(0.3)
    assert assess(submitted, late_by(days=2), PER_DAY, pm)["fraction"] == pytest.approx(0.1)
    assert assess(submitted, DEADLINE, PER_DAY, pm, extension=late_by(days=3))["status"] == LateStatus.ON_TIME


class HalfAfterAWeek:
    """A course's own rule: nothing off for a week, then half."""

    @grader.hookimpl
    def grader_late_policies(self):
        return ["lenient"]

    @grader.hookimpl
    def grader_late_penalty(self, policy, lateness):
        if policy["policy"] != "lenient":
            return None
        week = lateness["seconds_late"] > 7 * 86400
        return {"fraction": 0.5 if week else 0.0, "message": "half off after a week" if week else "no penalty"}


def test_a_plugin_brings_its_own_policy_and_the_cap_still_applies(tmp_path):
    from grader.assignment import load_assignment
    from grader.engine import exercise_registry

    pm = make_plugin_manager(autoload=False)
    pm.register(HalfAfterAWeek(), name="lenient_policy")
    assert "lenient" in known_policies(pm) and "per_day" in known_policies(pm)
    policy = {"policy": "lenient", "cap": 0.4}
    assert assess(late_by(days=3), DEADLINE, policy, pm)["fraction"] == 0
    late = assess(late_by(days=8), DEADLINE, policy, pm)
    assert late["fraction"] == pytest.approx(0.4) and "half off after a week, capped at 40 %" in late["message"]
    toml = tmp_path / "assignment.toml"
    toml.write_text('title = "HW"\ndeadline = 2025-03-01T23:59:00+01:00\n[late]\npolicy = "lenient"\n'
                    'strictness = 3\n[exercises.tensor_ops]\n')
    assignment = load_assignment(toml, exercise_registry(pm), pm)
    assert assignment.late["policy"] == "lenient" and assignment.late["strictness"] == 3  # its own keys pass
    assert assignment.deadline.utcoffset() == timedelta(hours=1) and assignment.timezone == "UTC+01:00"
    assert assignment.deadline == datetime(2025, 3, 1, 22, 59, tzinfo=UTC)
