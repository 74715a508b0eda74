"""Per-sample weights: their range over the batches the guard kept.

A sample weight reaches only the loss, like a label, but it is no target: it multiplies each
row's loss and its gradient. Weights on a raw scale (counts, 1 / a rare share, revenue) make
the loss and every update that many times larger than the learning rate was tuned for; a
negative weight makes that row's loss unbounded below. The rows that carry the extreme weights
may be rare, so the range is read over every batch kept since the anchor, not the tripping one
alone. Which batch tensor is a weight is told by how it enters the loss
(:func:`nantrace.replay.failing_path.sample_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nantrace.replay.capture import batch_array

#: Batches read (the tripping one first): a weight vector is small, a few hundred cost ~1 ms.
MAX_BATCHES = 256
#: ...and no more entries than this in all (per-pixel weights of a segmentation batch are
#: millions a batch): the tripping batch is always read whole.
MAX_ENTRIES = 4_000_000


@dataclass(frozen=True)
class SampleWeights:
    """The range of one weight tensor over the kept batches.

    Attributes:
        tensor: the batch tensor's name (``w``, ``data[2]``).
        low / high: its smallest and largest finite value.
        mean: its mean over every finite entry seen.
        negative: the share of its entries below 0.
        batches: how many batches were read.
    """

    tensor: str
    low: float
    high: float
    mean: float
    negative: float
    batches: int


def weight_range(
    names: list[str], batches: list[tuple[tuple, dict]], tensor: str
) -> SampleWeights | None:
    """The range of ``tensor`` over ``batches``; None when no batch holds a finite entry."""
    total, count, negative, low, high, seen = 0.0, 0, 0, np.inf, -np.inf, 0
    for args, kwargs in batches[:MAX_BATCHES]:
        array = batch_array(names, args, kwargs, tensor)
        if array is None or array.dtype.kind != "f":
            continue
        values = np.asarray(array, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        if seen and count + values.size > MAX_ENTRIES:
            break
        seen += 1
        total += float(values.sum())
        count += values.size
        negative += int(np.count_nonzero(values < 0))
        low, high = min(low, float(values.min())), max(high, float(values.max()))
    if count == 0:
        return None
    return SampleWeights(tensor, low, high, total / count, negative / count, seen)
