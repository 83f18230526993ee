"""The result channel without a sandbox: the frame grammar and the strict decoder."""

from __future__ import annotations

import base64
import os
import struct

import numpy as np
import pytest

from grader.codec import Malformed, Raised, TensorValue, decode, encode
from grader.sandbox.channel import FrameError, FrameReader, FrameTooLarge, HEADER
from grader.sandbox.protocol import FrameProtocol
from grader.states import Frame


def protocol(units=(0, 1), preludes=(), probes=(("ex", "p"),), names=("f",)) -> FrameProtocol:
    return FrameProtocol(list(units), list(preludes), list(probes), list(names))


def tensor(values, dtype="float32", **changes) -> dict:
    array = np.asarray(values, dtype=dtype)
    payload = {"$": "tensor", "kind": "tensor", "dtype": dtype, "shape": list(array.shape), "device": "cpu",
               "requires_grad": False, "type": "Tensor", "wire": array.dtype.str,
               "data": base64.b64encode(array.tobytes()).decode()}
    payload.update(changes)
    return payload


HAPPY = [{"type": "hello", "sandbox": ["x"], "torch": "2", "cuda": False},
         {"type": "unit_start", "index": 0}, {"type": "unit_done", "index": 0, "error": None},
         {"type": "unit_start", "index": 1},
         {"type": "unit_done", "index": 1, "error": {"$": "raised", "type": "NameError", "message": "x"}},
         {"type": "loaded", "defined": ["f", "not_asked_for"], "stand_ins": ["seaborn"]},
         {"type": "probe_start", "exercise": "ex", "probe": "p"},
         {"type": "timing_ready", "key": "run0"}, {"type": "timing_done", "key": "run0"},
         {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {"a": tensor([1, 2])},
          "failure": None},
         {"type": "done"}]


def test_the_worker_order_is_accepted_and_decoded():
    p = protocol()
    events = [p.feed(m) for m in HAPPY]
    assert [e.frame for e in events] == [Frame(m["type"]) for m in HAPPY]
    assert isinstance(events[4].error, Raised) and events[4].error.type == "NameError"
    assert events[5].defined == ["f"] and events[5].stand_ins == ["seaborn"]
    assert events[8].key == "run0"
    observed = events[9].observations["a"]
    assert isinstance(observed, TensorValue) and observed.data.tolist() == [1, 2]
    assert p.expected() == ()


@pytest.mark.parametrize("position, replacement", [
    (1, {"type": "unit_start", "index": 1}),  # out of order
    (1, {"type": "unit_start", "index": True}),  # not an int
    (5, {"type": "probe_start", "exercise": "ex", "probe": "p"}),  # before 'loaded'
    (7, {"type": "timing_done", "key": "run0"}),  # the end of a timed call never started
    (9, {"type": "probe_done", "exercise": "ex", "probe": "other", "observations": {}, "failure": None}),
    (9, {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": [], "failure": None}),
    (9, {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {"a": tensor([1], data=None)},
         "failure": None}),  # a cpu tensor without its data
    (9, {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {},
         "failure": {"$": "raised", "type": "X", "message": 5}}),  # a message that is not text
    (9, {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {},
         "failure": {"$": "tensor"}}),  # a failure that is not an exception record
    (9, {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {"inspected.loaded": 1},
         "failure": None}),  # a key only the inspector (a fresh worker) writes
    (9, {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {"__stopped__": "x"},
         "failure": None}),  # a key only the trusted side writes
    (10, {"type": "hello"}),
    (10, {"type": "no such frame"}),
])
def test_anything_else_is_tampering(position, replacement):
    p = protocol()
    frames = HAPPY[:position] + [replacement]
    with pytest.raises(FrameError):
        for message in frames:
            p.feed(message)


def test_nothing_may_follow_done():
    p = protocol()
    for message in HAPPY:
        p.feed(message)
    with pytest.raises(FrameError, match="after 'done'"):
        p.feed({"type": "done"})


def test_preludes_run_before_the_units_and_a_skipped_probe_sends_only_its_result():
    p = protocol(units=(0,), preludes=(("ex", "base"),), probes=(("ex", "p"), ("ex", "q")))
    for message in [HAPPY[0], {"type": "probe_start", "exercise": "ex", "probe": "base"},
                    {"type": "probe_done", "exercise": "ex", "probe": "base", "observations": {}, "failure": None},
                    {"type": "unit_start", "index": 0}, {"type": "unit_done", "index": 0, "error": None},
                    {"type": "loaded", "defined": []},
                    {"type": "probe_done", "exercise": "ex", "probe": "p", "observations": {}, "failure": None},
                    {"type": "probe_start", "exercise": "ex", "probe": "q"}]:
        p.feed(message)
    with pytest.raises(FrameError):  # a timed call may not start twice under one key
        p.feed({"type": "timing_ready", "key": "k"})
        p.feed({"type": "timing_done", "key": "k"})
        p.feed({"type": "timing_ready", "key": "k"})


# ------------------------------------------------------------------ the decoder
@pytest.mark.parametrize("bad", [
    tensor([1, 2], data="AAAA"),  # bytes that do not fit the shape
    tensor([1, 2], wire="<f8"),  # an encoding that is not the dtype's
    tensor([1, 2], dtype="float32", shape=[-1]),
    tensor([1, 2], dtype="float32", kind="weird"),
    tensor([1, 2], dtype="float32", device=7),
    tensor([1.0], data=None, device="cuda:0"),
    {"$": "tensor", "kind": "tensor", "dtype": "no_such_dtype", "shape": [1], "wire": "<f4", "data": "AAAAAA=="},
    {"$": "list", "type": "list", "items": "not a list"},
    {"$": "dict", "type": "dict", "items": [[1]]},
    {"$": "raised", "type": 1, "message": "x"},
    {"$": "int", "value": "twelve"},
    {"$": "mystery"},
    [1, 2, 3],  # encode never sends a bare list
])
def test_the_decoder_refuses_what_encode_cannot_have_produced(bad):
    with pytest.raises(Malformed):
        decode(bad)


def test_what_encode_produces_decodes_and_text_is_made_safe():
    torch = pytest.importorskip("torch")
    value = {"t": torch.arange(6.0).reshape(2, 3), "meta": torch.zeros(2, device="meta"), "n": np.int64(3),
             "nested": ((1, 2.5), [None, "x"]), "big": 2**70, "inf": float("inf"), "b": b"\x00\xff"}
    decoded = decode(encode(value, torch))
    assert decoded["t"].data.tolist() == [[0, 1, 2], [3, 4, 5]] and decoded["meta"].data is None
    assert decoded["big"] == 2**70 and decoded["inf"] == float("inf") and decoded["b"] == b"\x00\xff"
    assert decode({"$": "raised", "type": "X", "message": "\ud800 and \udcff"}).message == "\ufffd and \ufffd"


def test_a_frame_reader_refuses_oversized_and_broken_frames():
    reader = FrameReader()
    with pytest.raises(FrameError):
        reader.feed(struct.pack(">I", 0xFFFFFFFF))
    values = b"[" + b"0," * 4_000_001 + b"0]"  # tiny values: each costs the trusted side far more than a byte
    with pytest.raises(FrameTooLarge):
        FrameReader().feed(HEADER.pack(len(values)) + values)
    with pytest.raises(FrameError):
        FrameReader().feed(HEADER.pack(3) + b"[1]")  # not a message


def test_the_listing_of_a_writable_place_stays_on_its_own_filesystem(tmp_path):
    """What lies below a writable place on another filesystem (a read-only bind of the
    allow-list, when the grader's virtual environment is under /tmp) is not the student's
    file: the runner's listing stops at the mount, and still lists the place itself."""
    import uuid

    from grader.sandbox.observe import list_files

    if os.stat("/dev").st_dev == os.stat("/dev/shm").st_dev:
        pytest.skip("/dev/shm is not a filesystem of its own here")
    name = f"/dev/shm/grader-test-{uuid.uuid4().hex}"
    with open(name, "w") as f:
        f.write("x")
    try:
        assert name in list_files("", ("/dev/shm",)).entries
        below = list_files("", ("/dev",))
        assert below.complete and not any(path.startswith("/dev/shm/") for path in below.entries)
    finally:
        os.unlink(name)


def test_watch_records_come_once_each_in_the_recorders_order():
    """A second ``before`` written after an in-place change (to make the digests agree), an
    early ``after``, or digests of another count are tampering."""
    def watch(p, stage, digests=("d1",)):
        message = {"type": "watch", "key": "k", "stage": stage, "digests": list(digests)}
        if stage == "before":
            message.update(function="f", labels=[f"x{i}" for i in range(len(digests))])
        return p.feed(message)

    def started():
        p = protocol()
        for message in HAPPY[:7]:  # hello, the units, loaded, probe_start
            p.feed(message)
        return p

    p = started()
    for stage in ("before", "after", "end"):
        watch(p, stage)
    for bad in (("before", "before"), ("after",), ("before", "end"), ("before", "after", "after")):
        p = started()
        with pytest.raises(FrameError, match="out of order"):
            for stage in bad:
                watch(p, stage)
    p = started()
    watch(p, "before")
    with pytest.raises(FrameError, match="out of order"):
        watch(p, "after", ("d1", "d2"))


def test_reading_a_result_runs_none_of_its_subclass_code():
    """A returned tuple, list, dict, int or float of a class of the student's is read
    through the base type's own methods: work hidden in ``__getitem__``, ``items`` or
    ``__int__`` (to run after the call, outside its watch) never runs."""
    ran = []

    class Lazy(tuple):
        def __getitem__(self, index):
            ran.append("tuple")
            return (9, 9)

        def __iter__(self):
            ran.append("iter")
            return iter((9, 9))

    class Table(dict):
        def items(self):
            ran.append("dict")
            return [("W1", 9)]

    class Count(int):
        def __int__(self):
            ran.append("int")
            return 9

    class Crowd(list):
        def __getitem__(self, index):
            ran.append("list")
            return [9]

    big = Count(2**60)
    encoded = [decode(encode(v)) for v in (Lazy((2, 3)), Table(W1=1), big, Crowd([1, 2]))]
    assert ran == []
    assert tuple(encoded[0]) == (2, 3) and encoded[0].type_name == "Lazy"
    assert dict(encoded[1]) == {"W1": 1} and encoded[2] == 2**60 and list(encoded[3]) == [1, 2]
