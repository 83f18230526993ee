"""The result channel's grammar, checked frame by frame on the trusted side.

The worker writes frames in exactly one order (see :class:`grader.states.Frame`); a frame
out of that order, of an unknown type, or with a field of the wrong type or size was
written by the submission, and the whole attempt is treated as tampered with. Values are
decoded here, once, with :func:`grader.codec.decode`, which validates every field (a
tensor whose bytes do not fit its shape, say). This module does no I/O and reads no
clock: :class:`FrameProtocol` turns frames into :class:`Event` objects for the runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from grader.codec import Malformed, Raised, decode
from grader.sandbox.channel import FrameError
from grader.states import Frame

MAX_KEY = 200  # observation keys, probe and exercise names
MAX_LIST = 10_000
MAX_TIMED_CALLS = 32  # per probe: what exercises time is a handful of runs
MAX_NOTICES = 64  # notices not about one call, per attempt (the audit hook sends each kind once)
MAX_WATCHES = 4096  # watch records and notices about one call, per probe (a few per watched call)
RESERVED = ("__", "inspected.")  # observation keys the trusted side writes, never the sandbox
_LIBRARY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_HEX = re.compile(r"^[0-9a-f]+$")
ProbeKey = tuple[str, str]  # (exercise id, probe name)


@dataclass
class Event:
    """One frame, validated and decoded."""

    frame: Frame
    index: int | None = None  # units
    probe: ProbeKey | None = None  # probes
    key: str | None = None  # timed calls
    error: Raised | None = None  # unit_done: what the unit raised
    failure: Raised | None = None  # probe_done: what stopped the probe
    observations: dict[str, Any] = field(default_factory=dict)  # probe_done, decoded
    raw: dict[str, Any] = field(default_factory=dict)  # probe_done, as sent (the reference cache keeps it)
    defined: list[str] = field(default_factory=list)  # loaded
    stand_ins: list[str] = field(default_factory=list)  # loaded: libraries the student imported that are missing
    restored: list[str] = field(default_factory=list)  # probe_done: functions the worker put back before it
    what: str | None = None  # observe: "files" or "file"; notice: what the audit hook saw
    path: str | None = None  # observe: the file to read
    root: str | None = None  # timing_done: the Merkle root of the timed call's result (grader.commitment)
    rows: int = 0  # timing_done: how many rows that result has
    hello: dict[str, Any] = field(default_factory=dict)  # hello: sandbox features, versions
    forbidden: str | None = None  # notice: the forbidden function a watched call (``key``) ran
    stage: str | None = None  # watch: "before", "after" or "end"
    function: str | None = None  # watch (before): the student's function
    labels: list[str] = field(default_factory=list)  # watch (before): the watched arguments
    digests: list[str] = field(default_factory=list)  # watch: one per watched argument


def _text(value: Any, what: str, limit: int = MAX_KEY) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise FrameError(f"{what} is not a name")
    return value


def _decoded(value: Any, what: str) -> Any:
    try:
        return decode(value)
    except (Malformed, RecursionError) as exc:
        raise FrameError(f"{what} is malformed ({exc})") from None


def _raised(value: Any, what: str) -> Raised | None:
    if value is None:
        return None
    decoded = _decoded(value, what)
    if not isinstance(decoded, Raised):
        raise FrameError(f"{what} is not an exception record")
    return decoded


class FrameProtocol:
    """What the worker may send next, given the units and probes it was asked to run.

    Order: ``hello``; each *prelude* probe (run before any student code); each unit not
    skipped (``unit_start``, ``unit_done``); ``loaded``; each remaining probe
    (``probe_start``, timed calls as ``timing_ready``/``timing_done`` pairs,
    ``probe_done``; a probe whose names are all missing sends ``probe_done`` alone);
    ``done``. Nothing may follow ``done``.
    """

    def __init__(self, units: list[int], preludes: list[ProbeKey], probes: list[ProbeKey], names: list[str]):
        self.units_due = list(units)
        self.preludes_due = list(preludes)
        self.probes_due = list(probes)
        self.names = set(names)
        self.state = "hello"
        self.current: ProbeKey | None = None
        self.timing_key: str | None = None
        self.timed_keys: set[str] = set()
        self.notices = 0
        self.watches = 0
        self.watch_stages: dict[str, tuple[str, int]] = {}  # this probe's watched calls: (last stage, digests)

    # ------------------------------------------------------------------ grammar
    def expected(self) -> tuple[Frame, ...]:
        if self.state == "hello":
            return (Frame.HELLO,)
        if self.state == "preludes":
            return (Frame.PROBE_START,) if self.preludes_due else (
                (Frame.UNIT_START,) if self.units_due else (Frame.LOADED,))
        if self.state == "units":
            return (Frame.UNIT_START,) if self.units_due else (Frame.LOADED,)
        if self.state == "unit":
            return (Frame.UNIT_DONE,)
        if self.state == "probes":
            return (Frame.PROBE_START, Frame.PROBE_DONE) if self.probes_due else (Frame.DONE,)
        if self.state in ("probe", "prelude"):
            return (Frame.TIMING_READY, Frame.OBSERVE, Frame.WATCH, Frame.PROBE_DONE)
        if self.state in ("timing", "prelude_timing"):
            return (Frame.TIMING_DONE, Frame.WATCH)
        return ()

    def feed(self, message: dict[str, Any]) -> Event:
        try:
            frame = Frame(message["type"])
        except (KeyError, ValueError):
            raise FrameError(f"unknown frame type {str(message.get('type'))[:40]!r}") from None
        if frame is Frame.NOTICE and self.state not in ("hello", "done"):
            return self._on_notice(message)
        expected = self.expected()
        if frame not in expected:
            raise FrameError(f"unexpected {frame.value!r} frame" + (
                f" (expected {' or '.join(f.value for f in expected)})" if expected else " after 'done'"))
        handler = getattr(self, f"_on_{frame.value}")
        try:
            return handler(message)
        except FrameError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # missing or mistyped fields
            raise FrameError(f"malformed {frame.value!r} frame ({type(exc).__name__})") from None

    # ------------------------------------------------------------------ frames
    def _on_hello(self, message: dict[str, Any]) -> Event:
        features = message.get("sandbox", [])
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise FrameError("the sandbox features are not a list of text")
        self.state = "preludes"
        return Event(Frame.HELLO, hello={"sandbox": [f[:300] for f in features[:40]],
                                         "torch": str(message.get("torch"))[:40],
                                         "cuda": message.get("cuda") is True})

    def _on_unit_start(self, message: dict[str, Any]) -> Event:
        index = message["index"]
        if type(index) is not int or index != self.units_due[0]:
            raise FrameError(f"unexpected start of unit {str(index)[:20]}")
        self.state = "unit"
        return Event(Frame.UNIT_START, index=index)

    def _on_unit_done(self, message: dict[str, Any]) -> Event:
        index = message["index"]
        if type(index) is not int or index != self.units_due[0]:
            raise FrameError(f"unexpected end of unit {str(index)[:20]}")
        error = _raised(message.get("error"), "a unit's error")
        self.units_due.pop(0)
        self.state = "units"
        return Event(Frame.UNIT_DONE, index=index, error=error)

    def _on_loaded(self, message: dict[str, Any]) -> Event:
        defined = message.get("defined", [])
        if not isinstance(defined, list) or len(defined) > MAX_LIST:
            raise FrameError("the defined names are not a list")
        stand_ins = message.get("stand_ins", [])
        if not isinstance(stand_ins, list) or len(stand_ins) > 100:
            raise FrameError("the stand-ins are not a list")
        self.state = "probes"
        from grader.sandbox.stubs import STAND_INS

        known = {name.split(".")[0] for name in STAND_INS}
        if not all(isinstance(n, str) and _LIBRARY_NAME.match(n) and n in known for n in stand_ins):
            raise FrameError("the stand-ins are not names of display libraries")
        return Event(Frame.LOADED, defined=[n for n in defined if isinstance(n, str) and n in self.names],
                     stand_ins=list(stand_ins))

    def _probe_key(self, message: dict[str, Any]) -> ProbeKey:
        return _text(message["exercise"], "an exercise id"), _text(message["probe"], "a probe name")

    def _on_probe_start(self, message: dict[str, Any]) -> Event:
        key = self._probe_key(message)
        due = self.preludes_due if self.state == "preludes" else self.probes_due
        if not due or key != due[0]:
            raise FrameError(f"unexpected probe {str(key)[:120]}")
        self.state = "prelude" if self.state == "preludes" else "probe"
        self.current, self.timed_keys, self.watches, self.watch_stages = key, set(), 0, {}
        return Event(Frame.PROBE_START, probe=key)

    def _new_key(self, message: dict[str, Any], what: str) -> str:
        key = _text(message["key"], f"a {what}'s key")
        if key in self.timed_keys:
            raise FrameError(f"the {what} {key[:60]!r} twice")
        if len(self.timed_keys) >= MAX_TIMED_CALLS:
            raise FrameError(f"more than {MAX_TIMED_CALLS} timed calls and observations in one probe")
        self.timed_keys.add(key)
        return key

    def _on_observe(self, message: dict[str, Any]) -> Event:
        key = self._new_key(message, "observation")
        what, path = message.get("what"), message.get("path")
        if what not in ("files", "file") or (what == "file" and not isinstance(path, str)) or (
                isinstance(path, str) and len(path) > 4096):
            raise FrameError("an observation the runner does not make")
        return Event(Frame.OBSERVE, probe=self.current, key=key, what=what, path=path)

    def _on_timing_ready(self, message: dict[str, Any]) -> Event:
        key = self._new_key(message, "timed call")
        self.timing_key = key
        self.state = "prelude_timing" if self.state == "prelude" else "timing"
        return Event(Frame.TIMING_READY, probe=self.current, key=key)

    def _on_timing_done(self, message: dict[str, Any]) -> Event:
        if message.get("key") != self.timing_key:
            raise FrameError("the end of a timed call that was not started")
        root, rows = message.get("root"), message.get("rows", 0)
        if root is not None and not (isinstance(root, str) and len(root) == 32 and _HEX.match(root)):
            raise FrameError("a timed call's commitment is not a hash")
        if type(rows) is not int or not 0 <= rows <= 1_000_000:
            raise FrameError("a timed call's row count is not a count")
        key, self.timing_key = self.timing_key, None
        self.state = "prelude" if self.state == "prelude_timing" else "probe"
        return Event(Frame.TIMING_DONE, probe=self.current, key=key, root=root, rows=rows)

    def _on_probe_done(self, message: dict[str, Any]) -> Event:
        key = self._probe_key(message)
        if self.state in ("prelude", "probe"):
            if key != self.current:
                raise FrameError(f"unexpected result for {str(key)[:120]}")
        elif not self.probes_due or key != self.probes_due[0]:  # a probe with nothing to run
            raise FrameError(f"unexpected result for {str(key)[:120]}")
        raw = message.get("observations", {})
        if not isinstance(raw, dict) or len(raw) > MAX_LIST or not all(
                isinstance(k, str) and len(k) <= MAX_KEY and not k.startswith(RESERVED) for k in raw):
            raise FrameError("observations are not a mapping of names")
        observations = {k: _decoded(v, f"observation {k[:40]!r}") for k, v in raw.items()}
        failure = _raised(message.get("failure"), "a probe's failure")
        restored = message.get("restored", [])
        if not isinstance(restored, list) or len(restored) > 64 or not all(
                isinstance(n, str) and len(n) <= MAX_KEY for n in restored):
            raise FrameError("the restored functions are not a list of names")
        if self.state == "prelude":
            self.preludes_due.pop(0)
            self.state = "preludes"
        else:
            self.probes_due.pop(0)
            self.state = "probes"
        self.current = None
        return Event(Frame.PROBE_DONE, probe=key, observations=observations, raw=raw, failure=failure,
                     restored=restored)

    def _on_notice(self, message: dict[str, Any]) -> Event:
        call, forbidden = message.get("call"), message.get("forbidden")
        if call is not None and self.current is not None:  # about one watched call: the probe's budget
            self._count_watch()
        else:
            self.notices += 1
            if self.notices > MAX_NOTICES:
                raise FrameError(f"more than {MAX_NOTICES} notices")
        return Event(Frame.NOTICE, probe=self.current, what=_text(message["event"], "a notice"),
                     key=None if call is None else _text(call, "a call's key"),
                     forbidden=None if forbidden is None else _text(forbidden, "a forbidden name"))

    def _count_watch(self) -> None:
        self.watches += 1
        if self.watches > MAX_WATCHES:
            raise FrameError(f"more than {MAX_WATCHES} watch records in one probe")

    def _on_watch(self, message: dict[str, Any]) -> Event:
        self._count_watch()
        key, stage = _text(message["key"], "a call's key"), message.get("stage")
        digests = message.get("digests")
        if stage not in ("before", "after", "end") or not isinstance(digests, list) or len(digests) > 64 or not all(
                isinstance(d, str) and len(d) <= 200 for d in digests):
            raise FrameError("a watch record the recorder does not write")
        labels = message.get("labels", []) if stage == "before" else []
        if not isinstance(labels, list) or len(labels) != (len(digests) if stage == "before" else 0) or not all(
                isinstance(label, str) and len(label) <= MAX_KEY for label in labels):
            raise FrameError("a watch record's labels do not fit its digests")
        function = _text(message.get("function", ""), "a function's name") if stage == "before" else None
        self._watch_in_order(key, stage, len(digests))
        return Event(Frame.WATCH, probe=self.current, key=key, stage=stage, function=function,
                     labels=list(labels), digests=list(digests))

    def _watch_in_order(self, key: str, stage: str, count: int) -> None:
        """Each watched call's records come once each, in the recorder's order: ``before``
        (when the call starts), ``after`` (when it returns or raises), at most one ``end``
        (when the probe ends or lets go of the arguments), each with as many digests as
        ``before`` had. A record written by the student's code beside the recorder's
        (another ``before`` after a change, an early ``after``) breaks the order: tampering."""
        last = self.watch_stages.get(key)
        expected = {None: "before", "before": "after", "after": "end"}.get(last[0] if last else None)
        if stage != expected or (last is not None and count != last[1]):
            raise FrameError(f"the watch records of the call {key[:60]!r} are out of order")
        self.watch_stages[key] = (stage, count)

    def _on_done(self, message: dict[str, Any]) -> Event:
        self.state = "done"
        return Event(Frame.DONE)
