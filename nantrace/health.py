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
    """NaN/Inf counts, largest finite |x|, zeros and smallest non-zero |x|, in few passes and
    without widening float16/float32 data."""
    flat = np.asarray(array).reshape(-1)
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    finite = np.isfinite(flat)
    all_finite = bool(finite.all())
    if all_finite:
        nan = pos_inf = neg_inf = 0
        magnitudes = np.abs(flat)
    else:
        nan_mask = np.isnan(flat)
        nan = int(nan_mask.sum())
        pos_inf = int(np.count_nonzero(flat[~nan_mask & ~finite] > 0))
        neg_inf = int(flat.size - nan - pos_inf - int(finite.sum()))
        magnitudes = np.abs(flat[finite])
    nonzero = magnitudes[magnitudes > 0]
    values = flat if all_finite else flat[finite]
    return Health(
        nan=nan,
        pos_inf=pos_inf,
        neg_inf=neg_inf,
        max_abs=float(magnitudes.max()) if magnitudes.size else 0.0,
        size=int(flat.size),
        dtype=dtype_name or str(array.dtype),
        shape=tuple(int(d) for d in np.shape(array)),
        min_abs_nonzero=float(nonzero.min()) if nonzero.size else None,
        zeros=int(magnitudes.size - nonzero.size),
        min_value=float(values.min()) if values.size else None,
        max_value=float(values.max()) if values.size else None,
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
