"""Reading and writing the times of a course: deadlines, durations, shares of a score.

Everything an instructor writes in ``assignment.toml`` or a CSV goes through here, and a
value that cannot be read raises :class:`ValueError` with a message that says what is
expected (the caller adds the file and line). Times are always aware: a date or time
written without a zone is read in the assignment's time zone.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo, UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
          "w": 604800, "week": 604800, "weeks": 604800}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*,?", re.IGNORECASE)
_TRAILING_ZONE = re.compile(r"^(?P<when>.*\d)\s+(?P<zone>[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)$")
DURATION_HELP = 'a duration such as "15 minutes", "2h" or "1 day 12 hours"'
WHEN_HELP = ('a date and time such as "2025-03-01 23:59", "2025-03-01T23:59:00+01:00" or '
             '"2025-03-01 23:59 Europe/Berlin"')


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name such as ``Europe/Berlin``, or ``UTC``)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a time zone must be an IANA name such as \"Europe/Berlin\" or \"UTC\"")
    if name.strip().upper() in ("UTC", "Z"):
        return UTC
    offset = re.fullmatch(r"UTC([+-])(\d{2}):?(\d{2})", name.strip(), re.IGNORECASE)
    if offset:  # a fixed offset, as a deadline written with one gives
        minutes = int(offset[2]) * 60 + int(offset[3])
        return timezone(timedelta(minutes=minutes if offset[1] == "+" else -minutes))
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as \"Europe/Berlin\", "
                         f"\"America/New_York\" or \"UTC\")") from None


def parse_duration(value: object) -> float:
    """Seconds, from text such as ``"15 minutes"``, ``"2h"`` or ``"1 day 12 hours"``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected {DURATION_HELP}, not {value!r}")
    text, seconds, at = value.strip(), 0.0, 0
    while at < len(text):
        m = _DURATION_PART.match(text, at)
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(f"expected {DURATION_HELP}, not {value!r}")
        seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
        at = m.end()
    return seconds


def parse_fraction(value: object) -> float:
    """A share between 0 and 1, written ``"10%"`` or ``0.1``."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f'expected a percentage such as "10%", not {value!r}') from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        share = float(value)
        if share > 1:
            raise ValueError(f'{value} is more than the whole score: write a percentage ("{value:g}%") or a '
                             f'share between 0 and 1')
    else:
        raise ValueError(f'expected a percentage such as "10%" or a share such as 0.1, not {value!r}')
    if not 0 <= share <= 1 or math.isnan(share):
        raise ValueError(f"{value!r} is not between 0 % and 100 %")
    return share


def parse_when(value: object, default_zone: tzinfo) -> datetime:
    """An aware date and time. TOML dates and times are taken as they are; text is ISO 8601
    with an optional offset or a trailing zone name; a time without a zone is in
    ``default_zone``; a date alone means the end of that day (23:59:59)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=default_zone)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59), tzinfo=default_zone)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected {WHEN_HELP}, not {value!r}")
    text, where = value.strip(), default_zone
    m = _TRAILING_ZONE.match(text)
    if m and not re.fullmatch(r"[+-]\d{2}:?\d{2}|Z", m["zone"]):
        where, text = zone(m["zone"]), m["when"]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=where)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected {WHEN_HELP}, not {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=where)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with its offset, to the second (what the JSON and the CSV columns hold)."""
    return None if moment is None else moment.replace(microsecond=0).isoformat()


def show(moment: datetime) -> str:
    """A time as a person reads it: ``2025-03-01 23:59 CET``."""
    name = moment.tzname() or moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {name}".strip()


def percent(share: float) -> str:
    """``10 %``, ``12.5 %``: a share of a score as the student reads it."""
    return f"{round(share * 100, 2):g} %"


def describe_duration(seconds: float) -> str:
    """``1 day 3 h``, ``2 h 5 min``, ``40 s``: the two largest units."""
    seconds = max(0, int(round(seconds)))
    parts = []
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}")
    return " ".join(parts[:2]) or "0 s"


__all__ = ["DURATION_HELP", "WHEN_HELP", "describe_duration", "iso", "parse_duration", "parse_fraction",
           "parse_when", "percent", "show", "zone"]
