"""The batch codec of a bundle: the step's nested ``(args, kwargs)`` as a JSON structure whose
array leaves point into one ``.npz``, and back.

Every array is stored so that ``np.load(allow_pickle=False)`` reads it (bfloat16 and the other
ml_dtypes as float32, strings as bytes) and cast back on load; what a bundle cannot hold (ragged
or sparse tensors, arbitrary objects) is recorded by type name, which keeps the bundle readable
but not replayable.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from nantrace.bundle.format import BundleError

#: numpy dtype kinds ``np.load(allow_pickle=False)`` reads back as they are; anything else
#: (bfloat16 and the other ml_dtypes, object arrays) is stored converted and cast back on load.
_PLAIN_KINDS = frozenset("biufc?")


def storable(value: Any) -> tuple[np.ndarray, str | None]:
    """An array ``np.load(allow_pickle=False)`` can read, and what it was converted to."""
    array = np.asarray(value)
    if array.dtype.kind in _PLAIN_KINDS:
        return array, None
    if array.dtype.kind == "O":  # tf.string: an object array of bytes
        return np.asarray(array.tolist(), dtype=np.bytes_).reshape(array.shape), "bytes"
    if array.dtype.kind in "SU":
        return array, None
    return array.astype(np.float32), "float32"  # bfloat16, float8, ... (ml_dtypes)


class BatchEncoder:
    """Nested args/kwargs → a JSON structure whose array leaves point into one npz.

    Leaves: ``{"t": "array", "key", "kind": "tensor"|"ndarray", "dtype", "stored_as"}`` for
    tensors, variables and arrays; ``{"t": "value", "value"}`` for JSON scalars and None;
    ``{"t": "unsupported", "type"}`` for what a bundle cannot hold (ragged or sparse tensors,
    arbitrary objects), which makes the bundle non-replayable but keeps it readable.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.unsupported: list[str] = []
        self._stored: dict[int, tuple[Any, dict[str, Any]]] = {}

    def encode(self, value: Any) -> dict[str, Any]:
        """The spec of ``value``; a tensor already stored (a batch both recent and since the
        anchor) is stored once and referenced twice."""
        known = self._stored.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        spec = self._encode(value)
        if spec["t"] == "array":
            self._stored[id(value)] = (value, spec)
        return spec

    def _encode(self, value: Any) -> dict[str, Any]:
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"t": "value", "value": value}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                return self._unsupported(value)
            return {"t": "dict", "items": {k: self.encode(v) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {"t": kind, "items": [self.encode(v) for v in value]}
        if isinstance(value, (np.ndarray, np.generic)):
            return self._array(np.asarray(value), "ndarray", str(np.asarray(value).dtype))
        type_name = type(value).__name__
        if type_name in ("RaggedTensor", "SparseTensor", "IndexedSlices"):
            return self._unsupported(value)
        numpy = getattr(value, "numpy", None)
        dtype = getattr(value, "dtype", None)
        if callable(numpy) and dtype is not None:  # tf.Tensor, tf.Variable, Keras variable
            return self._array(np.asarray(numpy()), "tensor", getattr(dtype, "name", str(dtype)))
        return self._unsupported(value)

    def _array(self, array: np.ndarray, kind: str, dtype: str) -> dict[str, Any]:
        key = f"b{len(self.arrays):05d}"
        stored, stored_as = storable(array)
        self.arrays[key] = stored
        return {"t": "array", "key": key, "kind": kind, "dtype": dtype, "stored_as": stored_as}

    def _unsupported(self, value: Any) -> dict[str, Any]:
        self.unsupported.append(type(value).__name__)
        return {"t": "unsupported", "type": type(value).__name__}


def decode_call(spec: dict[str, Any], data: Any, as_tensors: bool) -> tuple[tuple, dict]:
    """A stored call spec (``{"args", "kwargs"}``) back as ``(args, kwargs)``."""
    call = _decode(spec, data, as_tensors)
    return tuple(call["args"]), dict(call["kwargs"])


def _decode(spec: dict[str, Any], data: Any, as_tensors: bool) -> Any:
    kind = spec["t"]
    if kind == "value":
        return spec["value"]
    if kind == "list":
        return [_decode(s, data, as_tensors) for s in spec["items"]]
    if kind == "tuple":
        return tuple(_decode(s, data, as_tensors) for s in spec["items"])
    if kind == "dict":
        return {k: _decode(s, data, as_tensors) for k, s in spec["items"].items()}
    if kind == "array":
        array = data[spec["key"]]
        if spec.get("stored_as") == "bytes":
            array = array.astype(object)
        if as_tensors and spec.get("kind") == "tensor":
            import tensorflow as tf

            return tf.constant(array, dtype=tf.as_dtype(spec["dtype"]))
        if spec.get("stored_as") == "float32" and spec.get("kind") == "ndarray":
            with contextlib.suppress(TypeError):
                array = array.astype(spec["dtype"])
        return array
    raise BundleError(
        f"the bundle's batch holds a {spec.get('type', kind)}, which a bundle cannot store; "
        "it can be re-rendered but not replayed"
    )
