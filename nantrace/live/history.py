"""Cheap history: in-graph ring buffers of per-step health, read only when the guard trips.

Every guarded step writes the loss, the global gradient norm and each checked variable's norm
into a ``tf.Variable`` ring buffer (one row scatter, no host round-trip). The norms come
free with the guard's finite check, which reduces each tensor to its sum of squares anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

#: Steps of history kept.
CAPACITY = 256

#: The columns of a history row: loss, gradient norm, then the weight norms from FIRST_WEIGHT.
_LOSS, _GRAD_NORM, FIRST_WEIGHT = 0, 1, 2


@dataclass(frozen=True)
class HistoryRecord:
    """The recorded steps, oldest first (the last one is the tripping step).

    Attributes:
        steps: the step index of each row.
        loss: mean of the loss tensor(s) per step.
        grad_norm: global gradient norm per step.
        weight_norm: per step and variable, the variable's norm after the step.
        names: the variable names of ``weight_norm``'s columns.
    """

    steps: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    weight_norm: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.steps.size)

    def healthy_grad_norms(self) -> np.ndarray:
        """Gradient norms of the healthy steps (the tripping step excluded)."""
        norms = self.grad_norm[:-1]
        return norms[np.isfinite(norms)]

    def finite_losses(self) -> np.ndarray:
        """The window's finite losses, oldest first (a tripping step's non-finite one left out)."""
        return self.loss[np.isfinite(self.loss)]

    def weight_growth(self) -> list[tuple[str, float, int]]:
        """(variable, last/first norm, steps) over the healthy part of the window."""
        if len(self) < 3:
            return []
        healthy = self.weight_norm[:-1]
        first, last = healthy[0], healthy[-1]
        span = int(self.steps[-2] - self.steps[0])
        out = []
        for name, a, b in zip(self.names, first, last, strict=True):
            if np.isfinite(a) and np.isfinite(b) and a > 0:
                out.append((name, float(b / a), span))
        return sorted(out, key=lambda item: -item[1])


class History:
    """Owns the ring buffers of one watched step function."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.names: tuple[str, ...] = ()
        self._count: tf.Variable | None = None
        #: one row per step: loss, gradient norm, then each name's weight norm. One buffer,
        #: not three: each variable a compiled step's XLA cluster reads or writes adds to
        #: the fixed cost of its every call (``python -m bench.parts launch``).
        self._rows: tf.Variable | None = None

    def _create(self, names: tuple[str, ...]) -> None:
        with tf.init_scope():
            self._count = tf.Variable(0, dtype=tf.int64, trainable=False, name="nantrace_steps")
            self._rows = tf.Variable(
                tf.fill([self.capacity, FIRST_WEIGHT + len(names)], float("nan")),
                trainable=False,
                name="nantrace_history",
            )
        self.names = names

    def prepare(self, names: tuple[str, ...]) -> None:
        """Create the ring buffers (once): before a caller's own compiled function records
        into them, since a variable cannot be created inside that function's trace."""
        if self._count is None:
            self._create(names)

    def record(
        self,
        loss: tf.Tensor,
        grad_sq: tf.Tensor,
        weight_sq: tf.Tensor,
        names: tuple[str, ...],
    ) -> None:
        """Write one step (in-graph), as one row. Squared norms in (``weight_sq``: a vector,
        one per name), norms stored; a trace whose names are not the buffer's (a re-trace that
        checks other variables) records NaN weight norms rather than mislabelled ones."""
        self.prepare(names)
        index = tf.reshape(self._count % self.capacity, [1, 1])
        head = tf.stack([tf.cast(loss, tf.float32), tf.sqrt(grad_sq)])
        if names == self.names:
            weights = tf.sqrt(weight_sq)
        else:
            weights = tf.fill([len(self.names)], float("nan"))
        row = tf.concat([head, weights], 0) if self.names else head
        self._rows.scatter_nd_update(index, tf.reshape(row, [1, -1]))
        self._count.assign_add(1)

    def state(self) -> tuple[np.ndarray, ...] | None:
        """Host copies of the ring buffers (a few KB), to undo a re-run's rows."""
        if self._count is None:
            return None
        return tuple(v.numpy() for v in self._buffers())

    def set_state(self, state: tuple[np.ndarray, ...]) -> None:
        for variable, value in zip(self._buffers(), state, strict=True):
            variable.assign(value, read_value=False)

    def _buffers(self) -> list[tf.Variable]:
        return [self._count, self._rows]  # type: ignore[list-item]

    def read(self) -> HistoryRecord | None:
        if self._count is None:
            return None
        count = int(self._count.numpy())
        size = min(count, self.capacity)
        order = [(count - size + i) % self.capacity for i in range(size)]
        rows = self._rows.numpy()[order]  # type: ignore[union-attr]
        return HistoryRecord(
            steps=np.arange(count - size, count),
            loss=rows[:, _LOSS].copy(),
            grad_norm=rows[:, _GRAD_NORM].copy(),
            weight_norm=rows[:, FIRST_WEIGHT:].copy(),
            names=self.names,
        )
