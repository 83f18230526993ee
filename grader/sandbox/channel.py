"""Length-prefixed JSON frames: the only way observations leave the sandbox."""

from __future__ import annotations

import json
import os
import struct
import threading


HEADER = struct.Struct(">I")
MAX_FRAME = 512 * 1024 * 1024
#: values (commas and brackets) in one frame: parsed, each costs the trusted side tens of
#: bytes, so a frame of tiny values would take gigabytes (tensors travel as one string)
MAX_JSON_VALUES = 4_000_000


_WRITING = threading.Lock()


def write_frame(fd: int, message: dict, _dumps=json.dumps, _write=os.write, _pack=HEADER.pack,
                _lock=_WRITING) -> None:
    """Write one frame whole: frames from two threads (a notice from a thread the student
    started) never interleave, whatever their size."""
    data = _dumps(message).encode()
    buf = memoryview(_pack(len(data)) + data)
    with _lock:
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


def read_message(fd: int, _read=os.read, _loads=json.loads, _unpack=HEADER.unpack) -> dict:
    """Block until one whole frame arrives on ``fd`` (the worker reads the runner's
    control messages this way); ``{}`` at end of stream."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = _read(fd, n - len(data))
            if not chunk:
                return b""
            data += chunk
        return data

    head = exactly(HEADER.size)
    if not head:
        return {}
    (length,) = _unpack(head)
    if length > 1 << 20:
        return {}
    body = exactly(length)
    try:
        message = _loads(body) if body else {}
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
