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


#: elements per block: a block (256 KiB of float32) is read from memory once and stays in
#: cache for the block's few passes, and the scratch space is one block, not one tensor.
CHUNK = 1 << 16

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def health_of_array(array: np.ndarray, dtype_name: str | None = None, chunk: int = CHUNK) -> Health:
    """NaN/Inf counts, finite range, zeros and smallest non-zero |x|, block by block.

    A replay at tens of millions of parameters computes this for every op's output (Adam's
    update alone makes ~15 tensors of each kernel's size), so each pass counts: a finite block
    costs min, max and a count of non-zeros, plus, when it holds both signs, three passes over
    its bits for the smallest |x| (no float copy, no masked reduction). float16/float32 data is
    not widened."""
    flat = np.asarray(array).reshape(-1)
    if flat.dtype.kind != "f" or flat.dtype.itemsize not in _UINT:
        flat = flat.astype(np.float64)
    size = int(flat.size)
    shape = tuple(int(d) for d in np.shape(array))
    dtype = dtype_name or str(array.dtype)
    if size == 0:
        return Health(size=0, dtype=dtype, shape=shape)
    acc = _Totals(flat.dtype, min(size, chunk))
    for start in range(0, size, chunk):
        acc.add(flat[start : start + chunk])
    if not acc.finite:
        return Health(
            nan=acc.nan,
            pos_inf=acc.pos_inf,
            neg_inf=size - acc.nan - acc.pos_inf,
            size=size,
            dtype=dtype,
            shape=shape,
        )
    low, high = acc.low, acc.high
    return Health(
        nan=acc.nan,
        pos_inf=acc.pos_inf,
        neg_inf=size - acc.nan - acc.pos_inf - acc.finite,
        max_abs=max(-low, high),
        size=size,
        dtype=dtype,
        shape=shape,
        min_abs_nonzero=acc.min_abs_nonzero(),
        zeros=acc.finite - acc.nonzero,
        min_value=low,
        max_value=high,
    )


class _Totals:
    """Running counts and extremes over the blocks of one array."""

    def __init__(self, dtype: np.dtype, block: int) -> None:
        self.dtype = dtype
        self.uint = _UINT[dtype.itemsize]
        self.abs_mask = self.uint(np.iinfo(self.uint).max >> 1)  # every bit but the sign
        self.inf_bits = int(np.array(np.inf, dtype).view(self.uint))
        self.scratch = np.empty(block, self.uint)
        self.flags = np.empty(block, bool)
        self.nan = self.pos_inf = self.finite = self.nonzero = 0
        self.low, self.high = np.inf, -np.inf
        self.min_bits = np.iinfo(self.uint).max

    def add(self, block: np.ndarray) -> None:
        if np.isnan(block[0]):  # downstream of a NaN, blocks are often NaN through: one pass
            nan = int(np.count_nonzero(np.isnan(block)))
            if nan == block.size:
                self.nan += nan
                return
            self._add_non_finite(block, nan)
            return
        low = block.min()  # NaN and Inf propagate: min and max both finite iff all are
        high = block.max() if np.isfinite(low) else low
        if not np.isfinite(high):
            self._add_non_finite(block, int(np.count_nonzero(np.isnan(block))))
            return
        self._add_finite(block, low, high)

    def _add_non_finite(self, block: np.ndarray, nan: int) -> None:
        self.nan += nan
        self.pos_inf += int(np.count_nonzero(block == np.inf))
        block = block[np.isfinite(block)]  # at most one block
        if block.size:
            self._add_finite(block, block.min(), block.max())

    def _add_finite(self, block: np.ndarray, low: Any, high: Any) -> None:
        self.finite += int(block.size)
        # == 0 then a count of booleans: several times faster than a count of float non-zeros
        nonzero = int(
            block.size - np.count_nonzero(np.equal(block, 0, out=self.flags[: block.size]))
        )
        self.nonzero += nonzero
        self.low, self.high = min(self.low, float(low)), max(self.high, float(high))
        if not nonzero:
            return
        if low > 0:
            bits = int(np.array(low, self.dtype).view(self.uint))
        elif high < 0:
            bits = int(np.array(-high, self.dtype).view(self.uint))
        else:
            # |x| as bits (IEEE order is magnitude order for finite values); minus one with
            # wrap-around sends the zeros to the largest value, so the minimum is a non-zero.
            scratch = self.scratch[: block.size]
            np.bitwise_and(block.view(self.uint), self.abs_mask, out=scratch)
            np.subtract(scratch, self.uint(1), out=scratch)
            bits = int(scratch.min()) + 1
        self.min_bits = min(self.min_bits, bits)

    def min_abs_nonzero(self) -> float | None:
        if not self.nonzero or self.min_bits >= self.inf_bits:
            return None
        return float(np.array(self.min_bits, self.uint).view(self.dtype))


def health_of(value: Any) -> Health | None:
    """Health of a float tensor/array (of a complex one: of its magnitudes), or None when the
    value is neither.

    An immutable tensor seen before (one op's output is the next op's input) is not read
    again: its health is remembered while the tensor lives."""
    key = id(value)
    known = _KNOWN.get(key)
    if known is not None and known[0]() is value:
        return known[1]
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "is_complex", False):  # an FFT's values: NaN/Inf must not drop out of
        # the chain between the float ops around it; read as magnitudes (|inf + nan j| is not
        # finite either)
        try:
            array = np.abs(np.asarray(value))
        except Exception:
            return None
    else:
        array = to_numpy(value)
    if array is None:
        return None
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
    with np.errstate(invalid="ignore"):  # a signalling NaN (bytes read as float) warns
        bad = ~np.isfinite(np.asarray(array, dtype=np.float64))
    return [int(i) for i in np.nonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0]]
