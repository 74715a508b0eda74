"""Numeric health (NaN/Inf counts, magnitude) of tensors and arrays, computed on the host."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from nantrace.report.records import Health


def to_numpy(value: Any) -> np.ndarray | None:
    """A host array for a float tensor-like value; None for non-float or non-array values."""
    values = getattr(value, "values", None)  # tf.IndexedSlices
    if values is not None and hasattr(value, "indices"):
        value = values
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not getattr(dtype, "is_floating", True):
        return None
    try:
        array = np.asarray(value)
    except Exception:
        return None
    if array.dtype.kind not in "fc" and str(array.dtype) != "bfloat16":
        return None
    return array


def health_of_array(array: np.ndarray, dtype_name: str | None = None) -> Health:
    """NaN/Inf counts, largest finite |x|, zeros and smallest non-zero |x|, without widening
    float16/float32 data and without copying the finite values out: a replay at tens of
    millions of parameters computes this for every op's inputs and outputs, so each pass counts.
    Finite data (the common case) costs min, max, |x|, one mask and two reductions."""
    flat = np.asarray(array).reshape(-1)
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    size = int(flat.size)
    shape = tuple(int(d) for d in np.shape(array))
    dtype = dtype_name or str(array.dtype)
    if size == 0:
        return Health(size=0, dtype=dtype, shape=shape)
    low, high = flat.min(), flat.max()  # NaN and Inf propagate: both finite iff all are
    if np.isfinite(low) and np.isfinite(high):
        nan = pos_inf = neg_inf = 0
        finite_count = size
        where = None
    else:
        nan_mask = np.isnan(flat)
        nan = int(np.count_nonzero(nan_mask))
        finite = np.isfinite(flat)
        finite_count = int(np.count_nonzero(finite))
        pos_inf = int(np.count_nonzero(flat == np.inf))
        neg_inf = size - nan - finite_count - pos_inf
        where = finite
        if finite_count:
            low = flat.min(where=finite, initial=np.inf)
            high = flat.max(where=finite, initial=-np.inf)
    if not finite_count:
        return Health(
            nan=nan, pos_inf=pos_inf, neg_inf=neg_inf, size=size, dtype=dtype, shape=shape
        )
    nonzero = flat != 0 if where is None else (flat != 0) & where
    nonzero_count = int(np.count_nonzero(nonzero))
    if not nonzero_count:
        min_abs_nonzero = None
    elif low > 0:  # one sign: the smallest magnitude is an end of the range
        min_abs_nonzero = float(low)
    elif high < 0:
        min_abs_nonzero = float(-high)
    else:
        min_abs_nonzero = float(np.abs(flat).min(where=nonzero, initial=np.inf))
    return Health(
        nan=nan,
        pos_inf=pos_inf,
        neg_inf=neg_inf,
        max_abs=float(max(-low, high)),
        size=size,
        dtype=dtype,
        shape=shape,
        min_abs_nonzero=min_abs_nonzero,
        zeros=finite_count - nonzero_count,
        min_value=float(low),
        max_value=float(high),
    )


def health_of(value: Any) -> Health | None:
    """Health of a float tensor/array, or None when the value is not floating point.

    An immutable tensor seen before (one op's output is the next op's input) is not read
    again: its health is remembered while the tensor lives."""
    key = id(value)
    known = _KNOWN.get(key)
    if known is not None and known[0]() is value:
        return known[1]
    array = to_numpy(value)
    if array is None:
        return None
    dtype = getattr(value, "dtype", None)
    name = getattr(dtype, "name", None) or str(array.dtype)
    health = health_of_array(array, name)
    if _immutable(value):
        try:
            ref = weakref.ref(value, lambda _, key=key: _KNOWN.pop(key, None))
        except TypeError:
            return health
        _KNOWN[key] = (ref, health)
    return health


#: health of live immutable tensors by id (each entry dies with its tensor).
_KNOWN: dict[int, tuple[weakref.ref, Health]] = {}


def _immutable(value: Any) -> bool:
    """An eager tensor (never a variable, a NumPy array or anything else written in place)."""
    return type(value).__name__ == "EagerTensor"


def non_finite_rows(array: np.ndarray) -> list[int]:
    """Sample indices (axis 0) that hold a NaN/Inf anywhere."""
    if array.ndim == 0:
        return [] if np.isfinite(array) else [0]
    bad = ~np.isfinite(np.asarray(array, dtype=np.float64))
    return [int(i) for i in np.nonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0]]
