"""``assignment.toml``: what an instructor grades (docs/assignments.md).

An assignment is a title, a chosen set of exercises with their own points (the
exercise's points scaled, or points per check), limits, a device, a deadline with its
time zone, a late policy and per-student extensions (a CSV). :func:`load_assignment`
reads and validates it against the exercises the plugins provide; everything wrong is a
:class:`GraderError` that names the file and the line ("assignment.toml, line 7:
exercises.tensor_ops.points: ..."). Nothing here grades: :mod:`grader.scoring` applies
an assignment to a result, :mod:`grader.lateness` judges a deadline.
"""

from __future__ import annotations

import csv
import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.toml_lines import KeyLines
from grader.when import iso, parse_duration, parse_fraction, parse_when, zone

FILENAME = "assignment.toml"
TOP_KEYS = ("title", "lms_column", "device", "timeout", "cell_timeout", "deadline", "timezone", "lms_timezone",
            "extensions", "late", "exercises")
EXERCISE_KEYS = ("points", "checks", "timeout")
LATE_KEYS = ("policy", "penalty", "grace", "cap", "no_credit_after", "of")
PENALTY_OF = ("score", "max_score")


@dataclass(frozen=True)
class ExercisePoints:
    """One exercise of the assignment: its points and each of its checks' points."""

    id: str
    points: float  # the exercise's points in this assignment
    checks: dict[str, float] = field(default_factory=dict)  # check id -> its points in this assignment
    probe_seconds: float | None = None  # CPU seconds for each of its probes (None: the exercise's own)


@dataclass(frozen=True)
class Extension:
    student: str  # the id as the CSV gives it (a student key, LMS id, SID, e-mail or name)
    deadline: datetime
    line: int  # in the CSV, for messages
    reason: str = ""


@dataclass(frozen=True)
class Assignment:
    title: str
    exercises: tuple[ExercisePoints, ...]
    path: Path | None = None
    lms_column: str = ""  # the Canvas gradebook column (default: the title)
    device: str | None = None
    timeout: float | None = None  # the whole submission, CPU seconds (grader.options.make_limits)
    cell_timeout: float | None = None
    deadline: datetime | None = None
    timezone: str = "UTC"
    lms_timezone: str = ""  # how to read times an LMS wrote without a zone (zip file times); default: timezone
    late: dict[str, Any] = field(default_factory=lambda: {"policy": "none"})
    extensions: tuple[Extension, ...] = ()

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.exercises]

    @property
    def column(self) -> str:
        return self.lms_column or self.title

    def exercise(self, exercise_id: str) -> ExercisePoints | None:
        return next((e for e in self.exercises if e.id == exercise_id), None)

    def zone(self) -> tzinfo:
        return zone(self.timezone)

    def lms_zone(self) -> tzinfo:
        return zone(self.lms_timezone or self.timezone)

    def extension_for(self, ids: set[str]) -> Extension | None:
        """The latest extension given to any of a student's ids (case does not matter)."""
        wanted = {i.casefold() for i in ids if i}
        found = [x for x in self.extensions if x.student.casefold() in wanted]
        return max(found, key=lambda x: x.deadline) if found else None

    def summary(self) -> dict[str, Any]:
        """What a result's ``assignment`` object says about the assignment itself."""
        return {"title": self.title, "file": str(self.path) if self.path else None, "deadline": iso(self.deadline),
                "timezone": self.timezone, "late_policy": dict(self.late),
                "points": {e.id: e.points for e in self.exercises}}


def catalogue_assignment(exercises, title: str = "") -> Assignment:
    """The assignment a run has without a file: every exercise at its own points."""
    return Assignment(title=title, exercises=tuple(
        ExercisePoints(e.id, float(e.points), {c.id: float(c.points) for c in e.checks}) for e in exercises))


# ------------------------------------------------------------------ reading
class _Reader:
    """Validation with the line of every value (``self.fail`` raises)."""

    def __init__(self, path: Path, text: str):
        self.path, self.lines = path, KeyLines(text)

    def fail(self, message: str, *keys: str) -> GraderError:
        line = self.lines.of(*keys) if keys else None
        where = f"{self.path}, line {line}" if line else str(self.path)
        name = ".".join(keys)
        return GraderError(f"{where}: {name + ': ' if name else ''}{message}")

    def known(self, table: dict, allowed: tuple[str, ...], *keys: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
                raise self.fail(f"unknown key{hint}", *keys, key)

    def text(self, table: dict, key: str, *keys: str) -> str | None:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail("must be a non-empty string", *keys, key)
        return value.strip() if value is not None else None

    def number(self, value: Any, *keys: str, zero: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not zero):
            raise self.fail(f"must be a {'' if zero else 'positive '}number of points, not {value!r}", *keys)
        return float(value)

    def seconds(self, value: Any, *keys: str) -> float | None:
        if value is None:
            return None
        try:
            seconds = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else \
                parse_duration(value)
        except ValueError as exc:
            raise self.fail(f"{exc} (or a number of seconds)", *keys) from None
        if not seconds > 0:
            raise self.fail("must be more than 0 seconds", *keys)
        return seconds

    def value(self, parse, value: Any, *keys: str):
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(str(exc), *keys) from None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraderError(f"{path}: no such file (the assignment file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"{path}: cannot read the assignment file ({exc})") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        line = getattr(exc, "lineno", None)
        if line is None and "(at line " in detail:
            line = detail.rsplit("(at line ", 1)[1].split(",", 1)[0]
            detail = detail.rsplit(" (at line ", 1)[0]
        raise GraderError(f"{path}{f', line {line}' if line else ''}: not valid TOML: {detail}") from None


def load_assignment(path: str | Path, registry: dict[str, Any], pm=None) -> Assignment:
    """Read and validate ``path`` against ``registry`` (exercise id -> Exercise) and the
    late policies of the plugins (``pm``; default: the process's)."""
    path = Path(path)
    data, text = read_toml(path)
    r = _Reader(path, text)
    r.known(data, TOP_KEYS)
    title = r.text(data, "title")
    if not title:
        raise r.fail('the assignment needs a title, e.g. title = "Homework 1"')
    tz_name = r.text(data, "timezone")
    default_zone = r.value(zone, tz_name, "timezone") if tz_name else None
    deadline = _deadline(r, data, default_zone)
    tz_name = tz_name or _offset_name(deadline)
    zone_for_csv = zone(tz_name)
    lms_tz = r.text(data, "lms_timezone") or ""
    if lms_tz:
        r.value(zone, lms_tz, "lms_timezone")
    device = r.text(data, "device")
    return Assignment(
        title=title, path=path, exercises=_exercises(r, data, registry), lms_column=r.text(data, "lms_column") or "",
        device=device, timeout=r.seconds(data.get("timeout"), "timeout"),
        cell_timeout=r.seconds(data.get("cell_timeout"), "cell_timeout"), deadline=deadline, timezone=tz_name,
        lms_timezone=lms_tz, late=_late(r, data, deadline, zone_for_csv, pm),
        extensions=_extensions(r, data, path, zone_for_csv, deadline))


def _offset_name(deadline: datetime | None) -> str:
    """A deadline written with a fixed offset and no ``timezone``: that offset is its zone."""
    offset = deadline.utcoffset() if deadline is not None else None
    if offset is None:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return "UTC" if minutes == 0 else f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _deadline(r: _Reader, data: dict, default_zone: tzinfo | None) -> datetime | None:
    value = data.get("deadline")
    if value is None:
        return None
    aware = isinstance(value, datetime) and value.tzinfo is not None
    if default_zone is None and not aware and not (isinstance(value, str) and _has_zone(value)):
        raise r.fail('give the deadline\'s time zone: timezone = "Europe/Berlin" (an IANA name), or an offset '
                     'in the deadline itself (2025-03-01T23:59:00+01:00)', "deadline")
    return r.value(lambda v: parse_when(v, default_zone or zone("UTC")), value, "deadline")


def _has_zone(text: str) -> bool:
    try:
        moment = parse_when(text, zone("UTC"))
        return parse_when(text, zone("Pacific/Kiritimati")) == moment
    except ValueError:
        return True  # parse_when itself will say what is wrong


def _exercises(r: _Reader, data: dict, registry: dict[str, Any]) -> tuple[ExercisePoints, ...]:
    table = data.get("exercises")
    if not isinstance(table, dict) or not table:
        raise r.fail("name the exercises to grade: one [exercises.ID] table each (ids: "
                     f"{', '.join(registry)})", "exercises")
    found = []
    for exercise_id, spec in table.items():
        if exercise_id not in registry:
            close = difflib.get_close_matches(exercise_id, list(registry), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(registry)})"
            raise r.fail(f"no exercise has this id{hint}", "exercises", exercise_id)
        if not isinstance(spec, dict):
            raise r.fail("must be a table ([exercises." + exercise_id + "], possibly empty)", "exercises", exercise_id)
        r.known(spec, EXERCISE_KEYS, "exercises", exercise_id)
        found.append(_exercise_points(r, registry[exercise_id], spec))
    return tuple(found)


def _exercise_points(r: _Reader, exercise, spec: dict) -> ExercisePoints:
    keys = ("exercises", exercise.id)
    weights = {c.id: float(c.points) for c in exercise.checks}
    given = spec.get("checks", {})
    if not isinstance(given, dict):
        raise r.fail("must be a table of check id = points", *keys, "checks")
    for check_id, points in given.items():
        if check_id not in weights:
            close = difflib.get_close_matches(check_id, list(weights), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (its checks: {', '.join(weights)})"
            raise r.fail(f"{exercise.id} has no such check{hint}", *keys, "checks", check_id)
        weights[check_id] = r.number(points, *keys, "checks", check_id, zero=True)
    total = sum(weights.values())
    if total <= 0:
        raise r.fail("the checks add up to 0 points", *keys, "checks")
    points = r.number(spec["points"], *keys, "points") if "points" in spec else total
    scale = points / total
    return ExercisePoints(exercise.id, points, {k: v * scale for k, v in weights.items()},
                          r.seconds(spec.get("timeout"), *keys, "timeout"))


def _late(r: _Reader, data: dict, deadline: datetime | None, default_zone: tzinfo, pm=None) -> dict[str, Any]:
    from grader.late_policies import POLICIES
    from grader.lateness import known_policies

    table = data.get("late", {})
    if not isinstance(table, dict):
        raise r.fail("must be a table: [late]", "late")
    policy = table.get("policy", "none" if not table else None)
    known = known_policies(pm)
    if policy not in known:
        raise r.fail(f"must be one of {', '.join(known)}, not {policy!r}", "late", "policy")
    if policy in POLICIES:
        r.known(table, LATE_KEYS, "late")
    if table and deadline is None:
        raise r.fail("a late policy needs a deadline (deadline = ...)", "late")
    late: dict[str, Any] = {k: v for k, v in table.items() if k not in LATE_KEYS}
    late["policy"] = policy
    if policy in ("per_day", "per_hour") and "penalty" not in table:
        raise r.fail(f'the {policy} policy needs a penalty, e.g. penalty = "10%"', "late", "policy")
    if "penalty" in table:
        late["penalty"] = r.value(parse_fraction, table["penalty"], "late", "penalty")
    late["grace"] = r.value(parse_duration, table["grace"], "late", "grace") if "grace" in table else 0.0
    late["cap"] = r.value(parse_fraction, table["cap"], "late", "cap") if "cap" in table else None
    late["of"] = table.get("of", "score")
    if late["of"] not in PENALTY_OF:
        raise r.fail(f"must be \"score\" (a share of the student's points) or \"max_score\" (of the points "
                     f"possible), not {late['of']!r}", "late", "of")
    late["no_credit_after"], late["no_credit_delay"] = _no_credit(r, table.get("no_credit_after"), deadline,
                                                                  default_zone)
    if policy == "cutoff" and late["no_credit_after"] is None and late["no_credit_delay"] is None:
        raise r.fail("the cutoff policy needs no_credit_after (a date, or a duration after the deadline)",
                     "late", "policy")
    return late


def _no_credit(r: _Reader, value: Any, deadline: datetime | None, default_zone: tzinfo):
    if value is None:
        return None, None
    try:
        return None, parse_duration(value)
    except ValueError:
        pass
    cutoff = r.value(lambda v: parse_when(v, default_zone), value, "late", "no_credit_after")
    if deadline is not None and cutoff < deadline:
        raise r.fail("is before the deadline", "late", "no_credit_after")
    return iso(cutoff), None


def _extensions(r: _Reader, data: dict, path: Path, default_zone: tzinfo,
                deadline: datetime | None) -> tuple[Extension, ...]:
    name = r.text(data, "extensions")
    if not name:
        return ()
    if deadline is None:
        raise r.fail("extensions need a deadline to extend (deadline = ...)", "extensions")
    return tuple(read_extensions((path.parent / name), default_zone))


def read_extensions(path: Path, default_zone: tzinfo) -> list[Extension]:
    """The extensions CSV: ``student,deadline[,reason]`` with a header line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "student" not in columns or "deadline" not in columns:
                raise GraderError(f"{path}, line 1: the extensions file needs the columns student and deadline "
                                  f"(and optionally reason); found: {', '.join(reader.fieldnames or []) or 'none'}")
            found = []
            for row in reader:
                row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
                if not any(row.values()):
                    continue
                if not row.get("student"):
                    raise GraderError(f"{path}, line {reader.line_num}: the student is missing")
                try:
                    moment = parse_when(row.get("deadline", ""), default_zone)
                except ValueError as exc:
                    raise GraderError(f"{path}, line {reader.line_num}: deadline: {exc}") from None
                found.append(Extension(row["student"], moment, reader.line_num, row.get("reason", "")))
            return found
    except FileNotFoundError:
        raise GraderError(f"{path}: no such file (the extensions file named in the assignment)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GraderError(f"{path}: cannot read the extensions file ({exc})") from None


def find_assignment(folder: Path) -> Path | None:
    """``assignment.toml`` in ``folder``, if there is one (a live check looks next to the notebook)."""
    candidate = Path(folder) / FILENAME
    return candidate if candidate.is_file() else None


# ------------------------------------------------------------------ what the commands share
def open_assignment(path: str | Path | None, pm=None) -> Assignment | None:
    """``--assignment FILE`` read against the plugins' exercises (None without a file)."""
    if path is None:
        return None
    from grader.engine import exercise_registry
    from grader.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    return load_assignment(path, exercise_registry(pm), pm)


def select_for(assignment: Assignment | None, registry: dict[str, Any], ids: Sequence[str] | None) -> list:
    """The exercises to grade: ``-e ID``s, which must belong to the assignment when there
    is one; else the assignment's exercises in its order; else every exercise."""
    from grader.engine import select_exercises

    if assignment is None:
        return select_exercises(registry, ids)
    outside = [i for i in ids or () if i not in assignment.ids]
    if outside:
        raise GraderError(f"{', '.join(outside)}: not an exercise of the assignment {assignment.title!r} "
                          f"({', '.join(assignment.ids)})")
    return select_exercises(registry, ids or assignment.ids)


def limits_for(assignment: Assignment | None, timeout: float | None = None, cell_timeout: float | None = None):
    """The sandbox's limits: the command line's, else the assignment's, plus each of the
    assignment's per-exercise time limits."""
    from grader.options import make_limits

    if assignment is None:
        return make_limits(timeout, cell_timeout)
    limits = make_limits(timeout if timeout is not None else assignment.timeout,
                         cell_timeout if cell_timeout is not None else assignment.cell_timeout)
    limits.exercise_probe_seconds = {e.id: e.probe_seconds for e in assignment.exercises if e.probe_seconds}
    return limits
