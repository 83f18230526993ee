"""Length-prefixed JSON frames: the only way observations leave the sandbox."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from grader.codec import MAX_DEPTH, Raised, _NUMPY_DTYPES, decode

HEADER = struct.Struct(">I")
MAX_FRAME = 512 * 1024 * 1024
#: values (commas and brackets) in one frame: parsed, each costs the trusted side tens of
#: bytes, so a frame of tiny values would take gigabytes (tensors travel as one string)
MAX_JSON_VALUES = 4_000_000


def write_frame(fd: int, message: dict, _dumps=json.dumps, _write=os.write, _pack=HEADER.pack) -> None:
    data = _dumps(message).encode()
    buf = memoryview(_pack(len(data)) + data)
    while buf:
        n = _write(fd, buf)
        buf = buf[n:]


class FrameError(Exception):
    """The byte stream is not a sequence of well-formed frames (tampering or a bug)."""


class FrameTooLarge(FrameError):
    """A well-formed frame too costly to parse (a huge list returned, say)."""


class FrameReader:
    """Incremental decoder for the trusted side: feed bytes, take whole frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> list[dict]:
        self._buffer += data
        self.total += len(data)
        frames = []
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise FrameError("frame too large")
            if len(self._buffer) < HEADER.size + length:
                break
            payload = bytes(self._buffer[HEADER.size : HEADER.size + length])
            del self._buffer[: HEADER.size + length]
            if payload.count(b",") + payload.count(b"[") + payload.count(b"{") > MAX_JSON_VALUES:
                raise FrameTooLarge(f"a single message of more than {MAX_JSON_VALUES:,} values")
            try:
                message = json.loads(payload)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting bombs included
                raise FrameError(f"malformed frame: {str(exc)[:200]}") from None
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise FrameError("frame is not a message")
            frames.append(message)
        return frames

    @property
    def pending(self) -> int:
        return len(self._buffer)


_WIRES = frozenset(_NUMPY_DTYPES.values())
MAX_NESTING = 4 * MAX_DEPTH + 16  # what grader.codec.encode can produce, with room to spare


def plain_data(value: Any, what: str) -> Any:
    """Decode what the worker sent as :func:`grader.codec.decode` would later, refusing
    anything that ``encode`` cannot have produced (too deep, unknown wire types, bytes that
    do not fit the shape): a forged frame must not crash or mislead the trusted side."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise FrameError(f"{what} is nested too deeply")
        if isinstance(item, dict):
            if item.get("$") == "tensor" and item.get("data") is not None and item.get("wire") not in _WIRES:
                raise FrameError(f"{what} has an unknown tensor encoding")
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    try:
        return decode(value)
    except Exception as exc:  # noqa: BLE001 - anything decode chokes on is malformed
        raise FrameError(f"{what} cannot be decoded ({type(exc).__name__})") from None


def raised_or_none(value: Any, what: str) -> Any:
    if value is not None and not isinstance(plain_data(value, what), Raised):
        raise FrameError(f"{what} is not an exception record")
    return value
