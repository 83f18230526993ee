"""Plain-data encoding of what student code returned: the only thing that crosses the
sandbox boundary besides JSON frames.

The worker side (:func:`encode`) turns tensors, arrays, containers and exceptions into
JSON-able data; tensors travel as raw little-endian bytes (base64) with dtype, shape and
device, never as pickle. The trusted side (:func:`decode`) rebuilds them with NumPy only,
so the grader never imports torch to judge and never runs anything the student made.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


def decode(obj: Any) -> Any:
    """Rebuild a value that :func:`encode` produced, with NumPy only."""
    if isinstance(obj, list):
        return [decode(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    tag = obj.get("$")
    if tag == "tensor":
        data = None
        if obj.get("data") is not None:
            raw = base64.b64decode(obj["data"])
            wire = obj["wire"]
            data = np.frombuffer(raw, dtype=np.dtype(wire)).reshape(obj["shape"]).copy()
        return TensorValue(
            kind=obj["kind"], dtype=obj["dtype"], shape=tuple(obj["shape"]),
            device=obj.get("device", "cpu"), requires_grad=bool(obj.get("requires_grad")),
            type_name=obj.get("type", "Tensor"), data=data,
        )
    if tag == "tuple":
        items = tuple(decode(x) for x in obj["items"])
        return _typed(TypedTuple, obj["type"], items) if obj.get("type", "tuple") != "tuple" else items
    if tag == "list":
        return _typed(TypedList, obj["type"], [decode(x) for x in obj["items"]])
    if tag == "dict":
        items = [(_hashable(decode(k)), decode(v)) for k, v in obj["items"]]
        if obj.get("type", "dict") != "dict":
            return _typed(TypedDict_, obj["type"], items)
        return dict(items)
    if tag == "float":
        return float(obj["value"])
    if tag == "int":
        return int(obj["value"])
    if tag == "raised":
        return Raised(type=obj["type"], message=obj["message"], traceback=obj.get("traceback", ""),
                      bases=list(obj.get("bases", [])), timed_out=bool(obj.get("timed_out")),
                      forbidden=obj.get("forbidden"))
    if tag == "missing":
        return Missing(obj["name"])
    if tag == "object":
        return OpaqueObject(obj["type"], obj.get("repr", ""),
                            {k: decode(v) for k, v in obj.get("attributes", {}).items()})
    return {k: decode(v) for k, v in obj.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
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
    if isinstance(value, tuple):
        type_name = "Size" if torch is not None and isinstance(value, torch.Size) else type(value).__name__
        return {"$": "tuple", "type": type_name, "items": [encode(v, torch, depth + 1) for v in value[:MAX_ITEMS]]}
    if isinstance(value, list):
        return {"$": "list", "type": type(value).__name__, "items": [encode(v, torch, depth + 1) for v in value[:MAX_ITEMS]]}
    if isinstance(value, dict):
        items = [[encode(k, torch, depth + 1), encode(v, torch, depth + 1)] for k, v in list(value.items())[:MAX_ITEMS]]
        return {"$": "dict", "type": type(value).__name__, "items": items}
    if isinstance(value, bool):  # bool subclasses cannot exist, kept for completeness
        return bool(value)
    if isinstance(value, int):
        return {"$": "int", "value": str(int(value))}
    if isinstance(value, float):
        return {"$": "float", "value": repr(float(value))}
    return {"$": "object", "type": type(value).__name__, "repr": _safe_repr(value)}


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException as exc:  # noqa: BLE001 - student objects may raise anything
        text = f"<repr raised {type(exc).__name__}>"
    if not isinstance(text, str):
        text = "<repr returned a non-string>"
    return text[:MAX_REPR]
