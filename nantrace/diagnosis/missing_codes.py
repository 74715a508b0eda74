"""Missing-value codes: a feature column whose few extreme entries are one repeated number.

Exported tables often write a missing value as a number (-999, 9999, -1e9) instead of NaN. The
batch is then finite and nothing flags it, but those rows' gradients are hundreds of times the
others' and the run blows up. Rescaling every input would crush the real values; the fix is
to treat the code as missing. Read from the batch's arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from nantrace.replay.capture import batch_array

#: The code stands this many times farther from the column's median than any other entry.
CODE_FACTOR = 20.0
#: ...and its magnitude is at least this (codes are large numbers: -999, 9999; a 5 among
#: values of 0.1 is an outlier, not a code the rules should act on).
CODE_MIN_ABS = 50.0
#: At most this share of a column's rows hold the code (more is the column's real range).
CODE_MAX_SHARE = 0.5
#: Real entries needed in the column to know its range.
MIN_REAL = 4


@dataclass(frozen=True)
class MissingCode:
    """One column of a batch tensor whose extreme entries are one repeated number."""

    tensor: str
    column: int
    value: float
    #: rows of the tripping batch holding it (empty when found in an earlier batch only).
    rows: tuple[int, ...]
    #: the median and the largest distance from it of the column's other entries.
    median: float
    spread: float
    share: float


def find_missing_code(
    names: list[str], batches: list[tuple[tuple, dict]], tensors: list[str]
) -> MissingCode | None:
    """The first missing-value code in ``tensors`` (batch paths, most suspect first) over
    ``batches`` (the tripping batch first, then earlier ones), or None."""
    for tensor in tensors:
        for args, kwargs in batches:
            array = _named_array(names, args, kwargs, tensor)
            if array is None:
                continue
            code = _code_in(array, tensor)
            if code is not None:  # the tripping batch's own rows that hold it, if any
                args0, kwargs0 = batches[0]
                return dataclasses.replace(code, rows=_rows_with(names, args0, kwargs0, code))
    return None


def _named_array(names: list[str], args: tuple, kwargs: dict, tensor: str) -> np.ndarray | None:
    """The tensor as (entries, columns): a table's rows (a vector is one column), or a sequence
    batch's rows x steps (columns are its last axis, the features); None for anything else
    (images: a pixel is no column a table writes codes into)."""
    array = batch_array(names, args, kwargs, tensor)
    if array is None or array.ndim not in (1, 2, 3) or array.shape[0] == 0:
        return None
    if array.dtype.kind != "f":
        return None
    return array.reshape(-1, 1) if array.ndim == 1 else array.reshape(-1, array.shape[-1])


def _code_in(array: np.ndarray, tensor: str) -> MissingCode | None:
    best: MissingCode | None = None
    for column in range(array.shape[1]):
        values = array[:, column].astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size < MIN_REAL + 1:
            continue
        middle = float(np.median(values))
        candidate = float(values[np.argmax(np.abs(values - middle))])
        real = values[values != candidate]
        share = 1.0 - real.size / values.size
        if real.size < MIN_REAL or share > CODE_MAX_SHARE or abs(candidate) < CODE_MIN_ABS:
            continue
        median = float(np.median(real))
        spread = float(np.max(np.abs(real - median)))
        distance = abs(candidate - median)
        if distance <= CODE_FACTOR * max(spread, 1e-6 * max(1.0, abs(median))):
            continue
        found = MissingCode(tensor, column, candidate, (), median, spread, share)
        if best is None or distance / max(spread, 1e-12) > abs(best.value - best.median) / max(
            best.spread, 1e-12
        ):
            best = found
    return best


def _rows_with(names: list[str], args: tuple, kwargs: dict, code: MissingCode) -> tuple[int, ...]:
    """The batch rows (samples) whose ``code.column`` holds the code, at any step."""
    array = batch_array(names, args, kwargs, code.tensor)
    if array is None:
        return ()
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim not in (2, 3) or code.column >= array.shape[-1]:
        return ()
    hits = (array[..., code.column] == code.value).reshape(array.shape[0], -1).any(axis=1)
    return tuple(int(i) for i in np.flatnonzero(hits))
