"""Plain-data encoding of what student code returned: the only thing that crosses the
sandbox boundary besides JSON frames.

The worker side (:func:`encode`) turns tensors, arrays, containers and exceptions into
JSON-able data; tensors travel as raw little-endian bytes (base64) with dtype, shape and
device, never as pickle. The trusted side (:func:`decode`) rebuilds them with NumPy only,
so the grader never imports torch to judge and never runs anything the student made.
"""

from __future__ import annotations

import base64
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.text import clean

MAX_DEPTH = 12
MAX_ITEMS = 10_000
MAX_REPR = 300

# dtype names (torch spelling) whose bytes NumPy reads directly; the rest travel as float32
_NUMPY_DTYPES = {
    "float64": "<f8", "float32": "<f4", "float16": "<f2", "int64": "<i8", "int32": "<i4",
    "int16": "<i2", "int8": "i1", "uint8": "u1", "bool": "?", "complex64": "<c8",
    "complex128": "<c16", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8",
}


# ---------------------------------------------------------------- trusted-side values
@dataclass
class TensorValue:
    """A tensor or array the student returned, rebuilt on the trusted side."""

    kind: str  # "tensor" or "ndarray"
    dtype: str  # torch spelling: "float32", "int64", "bool", "bfloat16", ...
    shape: tuple[int, ...]
    device: str = "cpu"
    requires_grad: bool = False
    type_name: str = "Tensor"
    data: np.ndarray | None = None  # None for meta tensors (no data)

    def describe(self) -> str:
        dims = "(" + ", ".join(map(str, self.shape)) + ("," if len(self.shape) == 1 else "") + ")"
        what = "tensor" if self.kind == "tensor" else "NumPy array"
        extra = f", device {self.device}" if self.kind == "tensor" else ""
        return f"a {what} of shape {dims}, dtype {self.dtype}{extra}"


@dataclass
class Raised:
    """The student's code raised instead of returning."""

    type: str
    message: str
    traceback: str = ""
    bases: list[str] = field(default_factory=list)  # names in the exception's MRO
    timed_out: bool = False
    forbidden: str | None = None
    filename: str | None = None  # an OSError's file name (a path the sandbox does not show, say)

    def is_a(self, name: str) -> bool:
        return name == self.type or name in self.bases

    def describe(self) -> str:
        head = f"{self.type}: {self.message}" if self.message else self.type
        return head + (f"\n{self.traceback}" if self.traceback else "")


@dataclass
class Missing:
    """A name the probe needed is not defined by the submission."""

    name: str


@dataclass
class OpaqueObject:
    """Any other object: only its type and a short repr come back."""

    type_name: str
    repr: str
    attributes: dict[str, Any] = field(default_factory=dict)


class TypedDict_(dict):
    """A mapping that was not a plain ``dict`` in the sandbox (``OrderedDict``...)."""

    type_name = "dict"


class TypedTuple(tuple):
    """A tuple subclass in the sandbox (``namedtuple``, ``torch.Size``...)."""

    type_name = "tuple"


class TypedList(list):
    type_name = "list"


def _typed(cls, type_name: str, items):
    obj = cls(items)
    obj.type_name = type_name
    return obj


class Malformed(ValueError):
    """A value that :func:`encode` cannot have produced: forged or corrupted data."""


#: dtypes that travel as themselves, and those (torch-only) that travel as float32/complex64
_OTHER_DTYPES = frozenset({"bfloat16", "complex32", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                           "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "quint8", "qint32",
                           "quint4x2", "quint2x4", "bits8", "bits16", "uint1", "uint2", "uint3", "uint4", "uint5",
                           "uint6", "uint7", "int1", "int2", "int3", "int4", "int5", "int6", "int7"})
_KINDS = frozenset({"tensor", "ndarray", "numpy_scalar"})
MAX_DIMS = 32
MAX_NAME = 200


MAX_MESSAGE = 4000  # an exception's message, as the trusted side keeps it (characters)
MAX_TRACEBACK = 12000
MAX_STRING = 1 << 20  # any other text value


def _text(value: Any, what: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{what} is not text")
    if limit is not None and len(value) > limit:
        raise Malformed(f"{what} is too long")
    return clean(value)


def _cut(value: Any, what: str, limit: int) -> str:
    """Text the sandbox may send at any length (messages, tracebacks): kept to ``limit``
    characters here, whatever the sandbox claims to have cut, before anything reads it."""
    if not isinstance(value, str):
        raise Malformed(f"{what} is not text")
    return clean(value[:limit] + (" [...]" if len(value) > limit else ""))


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise Malformed(f"{what} is not true or false")
    return value


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_DIMS or not all(
            type(d) is int and 0 <= d < 2**53 for d in value):
        raise Malformed("a tensor's shape is not a list of sizes")
    return tuple(value)


def _tensor(obj: dict[str, Any]) -> TensorValue:
    kind = obj.get("kind")
    if kind not in _KINDS:
        raise Malformed("a tensor of an unknown kind")
    dtype = _text(obj.get("dtype"), "a tensor's dtype", MAX_NAME)
    shape = _shape(obj.get("shape"))
    device = _text(obj.get("device", "cpu"), "a tensor's device", MAX_NAME)
    type_name = _text(obj.get("type", "Tensor"), "a tensor's type", MAX_NAME)
    requires_grad = _flag(obj.get("requires_grad", False), "requires_grad")
    raw = obj.get("data")
    if raw is None:  # only a meta tensor has no data
        if kind != "tensor" or device.split(":")[0] != "meta":
            raise Malformed(f"a {device} tensor without its data")
        return TensorValue(kind, dtype, shape, device, requires_grad, type_name, None)
    if dtype in _NUMPY_DTYPES:
        wire = _NUMPY_DTYPES[dtype]
    elif dtype in _OTHER_DTYPES and kind == "tensor":
        wire = "<c8" if dtype.startswith("complex") else "<f4"
    else:
        raise Malformed(f"a tensor of unknown dtype {dtype[:40]!r}")
    if obj.get("wire") != wire:
        raise Malformed("a tensor's bytes are not in the encoding of its dtype")
    if not isinstance(raw, str):
        raise Malformed("a tensor's data is not text")
    count = int(np.prod(shape, dtype=np.float64))
    itemsize = np.dtype(wire).itemsize
    if len(raw) != 4 * ((count * itemsize + 2) // 3):
        raise Malformed("a tensor's data does not fit its shape")
    try:
        data = np.frombuffer(base64.b64decode(raw, validate=True), dtype=np.dtype(wire))
    except (ValueError, TypeError):
        raise Malformed("a tensor's data is not base64") from None
    if data.size != count:
        raise Malformed("a tensor's data does not fit its shape")
    return TensorValue(kind, dtype, shape, device, requires_grad, type_name, data.reshape(shape).copy())


def _items(obj: dict[str, Any], depth: int) -> list[Any]:
    items = obj.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise Malformed("a container without its items")
    return [decode(x, depth + 1) for x in items]


def _raised(obj: dict[str, Any]) -> Raised:
    bases = obj.get("bases", [])
    if not isinstance(bases, list) or len(bases) > 64:
        raise Malformed("an exception's bases are not a list")
    forbidden = obj.get("forbidden")
    filename = obj.get("filename")
    return Raised(type=_text(obj.get("type"), "an exception's type", MAX_NAME),
                  message=_cut(obj.get("message", ""), "an exception's message", MAX_MESSAGE),
                  traceback=_cut(obj.get("traceback", ""), "a traceback", MAX_TRACEBACK),
                  bases=[_text(b, "an exception's base", MAX_NAME) for b in bases],
                  timed_out=_flag(obj.get("timed_out", False), "timed_out"),
                  forbidden=None if forbidden is None else _text(forbidden, "a forbidden name", MAX_NAME),
                  filename=None if filename is None else _text(filename, "a file name", 4096))


def _number(obj: dict[str, Any], kind: type) -> Any:
    value = obj.get("value")
    if not isinstance(value, str) or len(value) > 5000:
        raise Malformed(f"a {kind.__name__} without its value")
    try:
        return kind(value)
    except ValueError:
        raise Malformed(f"a {kind.__name__} that does not parse") from None


def decode(obj: Any, depth: int = 0) -> Any:
    """Rebuild, with NumPy only, a value that :func:`encode` produced, validating every
    field on the way: anything ``encode`` cannot have produced (a tensor whose bytes do
    not fit its shape, a message that is not text, an unknown tag, nesting deeper than
    ``encode`` goes) raises :class:`Malformed`. All text comes back through
    :func:`grader.text.clean`."""
    if depth > 4 * MAX_DEPTH + 8:
        raise Malformed("nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    if isinstance(obj, str):
        return _text(obj, "a text value", MAX_STRING)
    if not isinstance(obj, dict):
        raise Malformed("a bare list")  # encode tags every container
    tag = obj.get("$")
    if tag == "tensor":
        return _tensor(obj)
    if tag in ("tuple", "list"):
        return _sequence(obj, tag, depth)
    if tag == "dict":
        return _mapping(obj, depth)
    if tag == "float":
        return _number(obj, float)
    if tag == "int":
        return _number(obj, int)
    if tag == "raised":
        return _raised(obj)
    if tag == "missing":
        return Missing(_text(obj.get("name"), "a missing name", MAX_NAME))
    if tag == "bytes":
        return _bytes(obj)
    if tag == "object":
        return _object(obj, depth)
    raise Malformed(f"an unknown kind of value {str(tag)[:20]!r}")


def _sequence(obj: dict, tag: str, depth: int) -> Any:
    """A tuple or list (or one of a subclass, by name) of decoded items."""
    type_name = _text(obj.get("type", tag), "a container's type", MAX_NAME)
    items = _items(obj, depth)
    if tag == "list":
        return _typed(TypedList, type_name, items)
    return _typed(TypedTuple, type_name, items) if type_name != "tuple" else tuple(items)


def _mapping(obj: dict, depth: int) -> Any:
    """A dict (or one of a mapping type, by name) of decoded keys and values."""
    type_name = _text(obj.get("type", "dict"), "a mapping's type", MAX_NAME)
    pairs = obj.get("items")
    if not isinstance(pairs, list) or len(pairs) > MAX_ITEMS or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs):
        raise Malformed("a mapping's items are not pairs")
    items = [(_hashable(decode(k, depth + 1)), decode(v, depth + 1)) for k, v in pairs]
    return _typed(TypedDict_, type_name, items) if type_name != "dict" else dict(items)


def _bytes(obj: dict) -> bytes:
    data = obj.get("data")
    if not isinstance(data, str):
        raise Malformed("bytes without their data")
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise Malformed("bytes that are not base64") from None


def _object(obj: dict, depth: int) -> OpaqueObject:
    """An object encode could only describe: its type, repr and (decoded) attributes."""
    attributes = obj.get("attributes", {})
    if not isinstance(attributes, dict):
        raise Malformed("an object's attributes are not a mapping")
    return OpaqueObject(_text(obj.get("type"), "an object's type", MAX_NAME),
                        _cut(obj.get("repr", ""), "an object's repr", MAX_REPR),
                        {_text(k, "an attribute name", MAX_NAME): decode(v, depth + 1)
                         for k, v in attributes.items()})


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, tuple)):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, TensorValue):
        return ("tensor", key.shape)
    try:
        hash(key)
        return key
    except TypeError:
        return repr(key)


# ------------------------------------------------------------------- worker side
def _tensor_payload(t: Any, torch: Any) -> dict[str, Any]:
    """Encode a tensor, bypassing any ``__torch_function__`` override of a subclass."""
    with torch._C.DisableTorchFunction():
        # a plain tensor first: a subclass may override shape, dtype, device... with Python
        # properties that lie, and the metadata must describe the bytes actually sent
        base = torch.Tensor.detach(t)
        dtype = str(base.dtype).replace("torch.", "")
        shape = [int(s) for s in base.shape]
        device = str(base.device)
        requires_grad = torch._C.TensorBase.requires_grad.__get__(t) if hasattr(torch._C, "TensorBase") \
            else t.requires_grad
        payload = {"$": "tensor", "kind": "tensor", "dtype": dtype, "shape": shape, "device": device,
                   "requires_grad": bool(requires_grad), "type": type(t).__name__}
        if base.device.type == "meta":
            payload["data"] = None
            return payload
        plain = base
        if plain.layout != torch.strided:
            plain = plain.to_dense()
        plain = plain.cpu().contiguous()
        if dtype not in _NUMPY_DTYPES:
            plain = plain.to(torch.complex64 if plain.is_complex() else torch.float32)
            wire = "<c8" if plain.is_complex() else "<f4"
        else:
            wire = _NUMPY_DTYPES[dtype]
        array = plain.resolve_conj().resolve_neg().numpy()
        payload["wire"] = wire
        payload["data"] = base64.b64encode(np.ascontiguousarray(array).astype(np.dtype(wire)).tobytes()).decode()
        return payload


def encode(value: Any, torch: Any = None, depth: int = 0) -> Any:
    """Encode a value from student code as JSON-able data (runs inside the sandbox)."""
    if depth > MAX_DEPTH:
        return {"$": "object", "type": type(value).__name__, "repr": "<nested too deeply>"}
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value if abs(value) < 2**53 else {"$": "int", "value": str(value)}
    if type(value) is float:
        return value if math.isfinite(value) else {"$": "float", "value": repr(value)}
    if torch is not None and issubclass(type(value), torch.Tensor):
        return _tensor_payload(value, torch)
    if issubclass(type(value), (np.ndarray, np.generic)):
        array = np.asarray(value)
        dtype = array.dtype.name
        wire = _NUMPY_DTYPES.get(dtype)
        if wire is None:
            return {"$": "object", "type": f"numpy.{type(value).__name__}", "repr": _safe_repr(value)}
        kind = "ndarray" if isinstance(value, np.ndarray) else "numpy_scalar"
        return {"$": "tensor", "kind": kind, "dtype": dtype, "shape": list(array.shape), "device": "cpu",
                "type": type(value).__name__, "wire": wire,
                "data": base64.b64encode(np.ascontiguousarray(array).astype(np.dtype(wire)).tobytes()).decode()}
    if type(value) is bytes:
        return {"$": "bytes", "data": base64.b64encode(value).decode()}
    # Containers and numbers are read through their base type's own methods: what a
    # subclass overrides (__getitem__, items, __int__...) never runs while a result is read.
    value_type = type(value)
    if issubclass(value_type, tuple):
        type_name = "Size" if torch is not None and issubclass(value_type, torch.Size) else value_type.__name__
        first = tuple.__getitem__(value, slice(0, MAX_ITEMS))
        return {"$": "tuple", "type": type_name, "items": [encode(v, torch, depth + 1) for v in first]}
    if issubclass(value_type, list):
        return {"$": "list", "type": value_type.__name__,
                "items": [encode(v, torch, depth + 1) for v in list.__getitem__(value, slice(0, MAX_ITEMS))]}
    if issubclass(value_type, dict):
        pairs = list(itertools.islice(dict.items(value), MAX_ITEMS))
        items = [[encode(k, torch, depth + 1), encode(v, torch, depth + 1)] for k, v in pairs]
        return {"$": "dict", "type": value_type.__name__, "items": items}
    if issubclass(value_type, bool):  # bool subclasses cannot exist, kept for completeness
        return bool(value)
    if issubclass(value_type, int):
        return {"$": "int", "value": str(int.__int__(value))}
    if issubclass(value_type, float):
        return {"$": "float", "value": float.__repr__(float.__float__(value))}
    return {"$": "object", "type": type(value).__name__, "repr": _safe_repr(value)}


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException as exc:  # noqa: BLE001 - student objects may raise anything
        text = f"<repr raised {type(exc).__name__}>"
    if not isinstance(text, str):
        text = "<repr returned a non-string>"
    return text[:MAX_REPR]
