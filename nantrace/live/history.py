"""Cheap history: in-graph ring buffers of per-step health, read only when the guard trips.

Every guarded step writes the loss, the global gradient norm and each checked variable's norm
into ``tf.Variable`` ring buffers (a few scalar scatter ops, no host round-trip). The norms come
free with the guard's finite check, which reduces each tensor to its sum of squares anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

#: Steps of history kept.
CAPACITY = 256


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
        self._loss: tf.Variable | None = None
        self._grad: tf.Variable | None = None
        self._weights: tf.Variable | None = None

    def _create(self, names: tuple[str, ...]) -> None:
        with tf.init_scope():
            nan = float("nan")
            self._count = tf.Variable(0, dtype=tf.int64, trainable=False, name="nantrace_steps")
            self._loss = tf.Variable(
                tf.fill([self.capacity], nan), trainable=False, name="nantrace_loss"
            )
            self._grad = tf.Variable(
                tf.fill([self.capacity], nan), trainable=False, name="nantrace_grad_norm"
            )
            self._weights = tf.Variable(
                tf.fill([self.capacity, max(len(names), 1)], nan),
                trainable=False,
                name="nantrace_weight_norm",
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
        """Write one step (in-graph). Squared norms in (``weight_sq``: a vector, one per name),
        norms stored."""
        self.prepare(names)
        index = tf.reshape(self._count % self.capacity, [1, 1])
        self._loss.scatter_nd_update(index, tf.reshape(tf.cast(loss, tf.float32), [1]))
        self._grad.scatter_nd_update(index, tf.reshape(tf.sqrt(grad_sq), [1]))
        if names == self.names and names:
            self._weights.scatter_nd_update(index, tf.reshape(tf.sqrt(weight_sq), [1, -1]))
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
        return [self._count, self._loss, self._grad, self._weights]  # type: ignore[list-item]

    def read(self) -> HistoryRecord | None:
        if self._count is None:
            return None
        count = int(self._count.numpy())
        size = min(count, self.capacity)
        order = [(count - size + i) % self.capacity for i in range(size)]
        return HistoryRecord(
            steps=np.arange(count - size, count),
            loss=self._loss.numpy()[order],
            grad_norm=self._grad.numpy()[order],
            weight_norm=self._weights.numpy()[order][:, : len(self.names)],
            names=self.names,
        )
