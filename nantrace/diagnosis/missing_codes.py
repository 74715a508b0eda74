"""Missing-value codes: a batch column whose few extreme entries are one repeated number.

Exported tables often write a missing value as a number (-999, 9999, -1e9) instead of NaN. The
batch is then finite and nothing flags it, but those rows' gradients are hundreds of times the
others' and the run blows up. Rescaling every input would crush the real values; the fix is
to treat the code as missing (impute it in a feature; drop the rows of a target, which are
unlabelled). Read from the batch's arrays.
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
#: Batches searched: the tripping one and the two before it (a code in a few per cent of
#: the rows is in most batches of 32 or more). Columns below CODE_MIN_ABS are skipped at once:
#: 5 standardized 256 x 784 batches take ~1 ms; raw ones (0-255) ~110 ms.
MAX_BATCHES = 3


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
    #: the share of the column's finite entries that hold it.
    share: float


def find_missing_code(
    names: list[str], batches: list[tuple[tuple, dict]], tensors: list[str]
) -> MissingCode | None:
    """The first missing-value code in ``tensors`` (batch paths, most suspect first) over
    ``batches`` (the tripping batch first, then earlier ones), or None."""
    for tensor in tensors:
        for args, kwargs in batches[:MAX_BATCHES]:
            table = _table(names, args, kwargs, tensor)
            if table is None:
                continue
            code = _code_in(table[0], tensor)
            if code is not None:  # the tripping batch's own rows that hold it, if any
                return dataclasses.replace(code, rows=_rows_with(names, *batches[0], code))
    return None


def _table(
    names: list[str], args: tuple, kwargs: dict, tensor: str
) -> tuple[np.ndarray, int] | None:
    """The tensor as (entries x columns, samples): a table's rows (a vector is one column), or
    a sequence batch's rows x steps (columns are its last axis, the features), entries in
    sample order; None for anything else (images: a pixel is no column a table writes codes
    into)."""
    array = batch_array(names, args, kwargs, tensor)
    if array is None or array.ndim not in (1, 2, 3) or array.shape[0] == 0:
        return None
    if array.dtype.kind != "f":
        return None
    columns = 1 if array.ndim == 1 else array.shape[-1]
    return array.reshape(-1, columns), array.shape[0]


def _code_in(array: np.ndarray, tensor: str) -> MissingCode | None:
    """The most outstanding code among ``array``'s columns, vectorized over columns (a wide
    table, 784 pixels of a flattened image, is searched at every trip)."""
    # only columns that reach CODE_MIN_ABS can hold a code: most batches (standardized tables,
    # images in [0, 1]) are done here
    with np.errstate(all="ignore"):
        reach = np.max(np.where(np.isfinite(array), np.abs(array), 0.0), axis=0)
    columns = np.flatnonzero(reach >= CODE_MIN_ABS)
    if columns.size == 0:
        return None
    with np.errstate(invalid="ignore"):  # a signalling NaN (bytes read as float) warns
        widened = array[:, columns].astype(np.float64)
    code = _code_in_columns(widened, tensor)
    return None if code is None else dataclasses.replace(code, column=int(columns[code.column]))


def _code_in_columns(values: np.ndarray, tensor: str) -> MissingCode | None:
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    if not (counts >= MIN_REAL + 1).any():
        return None
    masked = np.where(finite, values, np.nan)
    with np.errstate(all="ignore"):
        middle = np.nanmedian(masked, axis=0)
        deviation = masked - middle
        far = np.where(np.isnan(deviation), -1.0, np.abs(deviation))
        candidate = masked[np.argmax(far, axis=0), np.arange(values.shape[1])]
        is_code = masked == candidate
        real = np.where(is_code, np.nan, masked)
        n_real = np.sum(~np.isnan(real), axis=0)
        share = 1.0 - n_real / np.maximum(counts, 1)
        median = np.nanmedian(np.where(n_real > 0, real, 0.0), axis=0)
        spread = np.nanmax(np.abs(real - median), axis=0, initial=0.0)
        distance = np.abs(candidate - median)
        floor = 1e-6 * np.maximum(1.0, np.abs(median))
        ratio = distance / np.maximum(spread, floor)
    ok = (
        (counts >= MIN_REAL + 1)
        & (n_real >= MIN_REAL)
        & (share <= CODE_MAX_SHARE)
        & (np.abs(candidate) >= CODE_MIN_ABS)
        & (ratio > CODE_FACTOR)
    )
    if not ok.any():
        return None
    column = int(np.argmax(np.where(ok, ratio, -np.inf)))
    return MissingCode(
        tensor,
        column,
        float(candidate[column]),
        (),
        float(median[column]),
        float(spread[column]),
        float(share[column]),
    )


def _rows_with(names: list[str], args: tuple, kwargs: dict, code: MissingCode) -> tuple[int, ...]:
    """The batch rows (samples) whose ``code.column`` holds the code, at any step."""
    table = _table(names, args, kwargs, code.tensor)
    if table is None or code.column >= table[0].shape[1]:
        return ()
    entries, samples = table
    hits = (entries[:, code.column] == code.value).reshape(samples, -1).any(axis=1)
    return tuple(int(i) for i in np.flatnonzero(hits))


#: a table wider than this keeps one scale for the whole tensor (a snippet of 784 numbers helps
#: nobody; images and embeddings are not columns of different units)
MAX_SCALED_COLUMNS = 64


def column_abs_max(
    names: list[str], batches: list[tuple[tuple, dict]], tensor: str
) -> tuple[float, ...]:
    """Largest finite |x| of each column of ``tensor`` over ``batches`` (the tripping batch
    first); () when it is not a table of at most ``MAX_SCALED_COLUMNS`` columns."""
    largest: np.ndarray | None = None
    for args, kwargs in batches[:MAX_BATCHES]:
        table = _table(names, args, kwargs, tensor)
        if table is None or table[0].shape[1] > MAX_SCALED_COLUMNS:
            return ()
        values = np.where(np.isfinite(table[0]), np.abs(table[0]), 0.0).max(axis=0, initial=0.0)
        if largest is not None and largest.shape != values.shape:
            return ()
        largest = values if largest is None else np.maximum(largest, values)
    return tuple(float(v) for v in largest) if largest is not None else ()
