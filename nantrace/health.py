"""Numeric health (NaN/Inf counts, magnitude) of tensors and arrays, computed on the host."""

from __future__ import annotations

from typing import Any

import numpy as np

from nantrace.records import Health


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
    flat = (
        np.asarray(array, dtype=np.float64).reshape(-1)
        if array.dtype != np.float64
        else array.reshape(-1)
    )
    nan = np.isnan(flat)
    pos_inf = np.isposinf(flat)
    neg_inf = np.isneginf(flat)
    finite = ~(nan | pos_inf | neg_inf)
    finite_abs = np.abs(flat[finite])
    nonzero = finite_abs[finite_abs > 0]
    return Health(
        nan=int(nan.sum()),
        pos_inf=int(pos_inf.sum()),
        neg_inf=int(neg_inf.sum()),
        max_abs=float(finite_abs.max()) if finite_abs.size else 0.0,
        size=int(flat.size),
        dtype=dtype_name or str(array.dtype),
        shape=tuple(int(d) for d in array.shape),
        min_abs_nonzero=float(nonzero.min()) if nonzero.size else None,
        zeros=int((finite_abs == 0).sum()),
    )


def health_of(value: Any) -> Health | None:
    """Health of a float tensor/array, or None when the value is not floating point."""
    array = to_numpy(value)
    if array is None:
        return None
    dtype = getattr(value, "dtype", None)
    name = getattr(dtype, "name", None) or str(array.dtype)
    return health_of_array(array, name)


def non_finite_rows(array: np.ndarray) -> list[int]:
    """Sample indices (axis 0) that hold a NaN/Inf anywhere."""
    if array.ndim == 0:
        return [] if np.isfinite(array) else [0]
    bad = ~np.isfinite(np.asarray(array, dtype=np.float64))
    return [int(i) for i in np.nonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0]]
