"""Writes between steps to the small variables a step uses but never writes.

A trip is undone by restoring the last anchor and re-running the batches since it. A write the
step does not make — a learning rate set by hand between steps, by a Keras
``LearningRateScheduler`` or ``ReduceLROnPlateau`` — is invisible to that re-run: the steps
after the write would be re-run with the old value and the state put back would not be the
pre-step state. So each step also returns the bits of those variables (the learning rate, a
frozen scalar), a few int32 more in the status vector the host reads anyway, and the host
anchors after any step that saw them change. Large variables (weights) are not watched this way
(reading them every step would cost a pass over the model): their eager writes are reported by
nantrace.replay.hooks (``Watched.written_outside``), and ``Watched.reanchor()`` is there for
writes inside another ``tf.function``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

#: Variables of at most this many elements are watched; more in total than MAX_WATCHED are not.
MAX_ELEMENTS = 16
MAX_WATCHED = 256

_AS_INT32 = {
    tf.float32: lambda x: tf.bitcast(x, tf.int32),
    tf.float16: lambda x: tf.bitcast(tf.cast(x, tf.float32), tf.int32),
    tf.bfloat16: lambda x: tf.bitcast(tf.cast(x, tf.float32), tf.int32),
    tf.float64: lambda x: tf.bitcast(x, tf.int32),
    tf.int64: lambda x: tf.bitcast(x, tf.int32),
    tf.int32: lambda x: x,
    tf.bool: lambda x: tf.cast(x, tf.int32),
}


def unwritten(candidates: list[Any], written: set[int]) -> list[tf.Variable]:
    """The small variables among ``candidates`` (tf.Variables) that no trace of the step writes
    (``written``: their ids), in a stable order, without duplicates."""
    chosen: list[tf.Variable] = []
    seen: set[int] = set()
    total = 0
    for variable in candidates:
        key = id(variable)
        if key in seen or key in written or variable.dtype.base_dtype not in _AS_INT32:
            continue
        seen.add(key)
        size = variable.shape.num_elements()
        if size is None or size > MAX_ELEMENTS or total + size > MAX_WATCHED:
            continue
        chosen.append(variable)
        total += size
    return chosen


def bits(variables: list[tf.Variable]) -> tf.Tensor:
    """The variables' values as one int32 vector, bit for bit (equal bits, equal values)."""
    if not variables:
        return tf.zeros([0], tf.int32)
    parts = [tf.reshape(_AS_INT32[v.dtype.base_dtype](v.value()), [-1]) for v in variables]
    return parts[0] if len(parts) == 1 else tf.concat(parts, 0)


@dataclass(frozen=True)
class WritesBetween:
    """How often one such variable changed between two steps of a run, its value before the
    first change and after the latest: a learning rate a callback or the user's loop sets,
    which a fix assigning it once would not survive."""

    count: int
    first: np.ndarray
    last: np.ndarray


def _width(variable: tf.Variable) -> int:
    """How many int32 entries of :func:`bits` hold ``variable``."""
    count = variable.shape.num_elements() or 0
    return 2 * count if variable.dtype.base_dtype in (tf.float64, tf.int64) else count


def changed(variables: list[tf.Variable], before: np.ndarray, after: np.ndarray) -> list[Any]:
    """The variables whose bits differ between two of their :func:`bits` vectors (as two
    steps saw them); empty when the two are not both theirs (another trace's)."""
    if before.shape != after.shape or sum(_width(v) for v in variables) != after.size:
        return []
    moved, at = [], 0
    for variable in variables:
        width = _width(variable)
        if not np.array_equal(before[at : at + width], after[at : at + width]):
            moved.append(variable)
        at += width
    return moved


def values(variables: list[tf.Variable], vector: np.ndarray) -> list[np.ndarray] | None:
    """The variables' values decoded from their :func:`bits` (as the host read them with the
    status, instead of an eager read of each variable); None if ``vector`` is not their bits
    (another trace's)."""
    decoded = []
    at = 0
    for variable in variables:
        dtype = variable.dtype.base_dtype
        width = _width(variable)
        part = vector[at : at + width]
        if part.size != width:
            return None
        if dtype in (tf.float64, tf.int64):
            value = part.view(dtype.as_numpy_dtype)
        elif dtype == tf.bool:
            value = part.astype(bool)
        elif dtype == tf.int32:
            value = part.copy()
        else:
            value = part.view(np.float32).astype(dtype.as_numpy_dtype)
        decoded.append(value.reshape(variable.shape.as_list()))
        at += width
    return decoded if at == vector.size else None
