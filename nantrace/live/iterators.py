"""Steps that pull their batch with ``next(iterator)`` inside the watched function.

The guard records, in-graph, what each ``next()`` on a ``tf.data`` iterator argument returned
(the ``IteratorGetNext`` outputs become extra outputs of the guarded step). Everything nantrace
re-runs afterwards (the eager replay, verification, the anchor re-run) is handed a stand-in
that yields those very batches in place of the user's iterator, which nantrace never advances.

A healthy step keeps a :class:`ConsumedBatches` (a few references, no copy); only after a trip
are the kept ones turned into real ``tf.data`` iterators (about 17 ms each on the 2-core test
machine), so that a compiled re-run does not trace once per batch.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from nantrace.compat import tf as _tf_compat


class ConsumedBatches:
    """Stands in for a ``tf.data`` iterator: yields the batches one step consumed, in order,
    then again from the first (each re-run of the step consumes them once)."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = list(batches)
        self._position = 0

    def __iter__(self) -> ConsumedBatches:
        return self

    def __next__(self) -> Any:
        batch = self.batches[self._position % len(self.batches)]
        self._position += 1
        return batch

    def get_next(self) -> Any:
        return self.__next__()

    def as_iterator(self) -> Any:
        """A real ``tf.data`` iterator over the same batches (traced once per element spec)."""
        return _tf_compat.batches_iterator(self.batches)


def iterator_keys(args: tuple, kwargs: dict) -> dict[int, int]:
    """id of each ``tf.data`` iterator among the step's arguments -> its flat position."""
    flat = tf.nest.flatten((args, kwargs))
    return {id(leaf): i for i, leaf in enumerate(flat) if _tf_compat.is_dataset_iterator(leaf)}


def consumed_outputs(consumed: list[tuple[int | None, Any]]) -> dict[str, Any]:
    """The batches read from argument iterators, as an output structure of the step:
    ``"position/n"`` -> the n-th batch read from the argument at that flat position."""
    counts: dict[int, int] = {}
    out: dict[str, Any] = {}
    for position, value in consumed:
        if position is None:
            continue
        n = counts.get(position, 0)
        counts[position] = n + 1
        out[f"{position:04d}/{n:04d}"] = value
    return out


def substitute(args: tuple, kwargs: dict, consumed: dict[str, Any]) -> tuple[tuple, dict]:
    """``(args, kwargs)`` with each iterator the step read replaced by the batches it read."""
    if not consumed:
        return args, kwargs
    grouped: dict[int, list[Any]] = {}
    for key in sorted(consumed):
        grouped.setdefault(int(key.split("/")[0]), []).append(consumed[key])
    if not kwargs and not any(isinstance(a, (list, tuple, dict)) for a in args):
        # flat arguments (``step(it)``): positions are argument indices; skips tf.nest
        # (about 70 us a step on the test machine)
        out = list(args)
        for position, batches in grouped.items():
            if position < len(out):
                out[position] = ConsumedBatches(batches)
        return tuple(out), {}
    flat = tf.nest.flatten((args, kwargs))
    for position, batches in grouped.items():
        if position < len(flat):
            flat[position] = ConsumedBatches(batches)
    args, kwargs = tf.nest.pack_sequence_as((args, kwargs), flat)
    return tuple(args), dict(kwargs)


def has_stand_ins(batch: tuple[tuple, dict]) -> bool:
    return any(isinstance(leaf, ConsumedBatches) for leaf in tf.nest.flatten(batch))


def materialized(batch: tuple[tuple, dict]) -> tuple[tuple, dict]:
    """The kept batch with each :class:`ConsumedBatches` turned into a ``tf.data`` iterator."""
    if not has_stand_ins(batch):
        return batch

    def convert(leaf: Any) -> Any:
        return leaf.as_iterator() if isinstance(leaf, ConsumedBatches) else leaf

    flat = [convert(leaf) for leaf in tf.nest.flatten(batch)]
    args, kwargs = tf.nest.pack_sequence_as(batch, flat)
    return tuple(args), dict(kwargs)
