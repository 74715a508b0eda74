"""The in-graph sentinel: what a watched step checks and how it undoes itself, traced once.

While the user's step is traced, :class:`StepSentinel` learns (through :mod:`nantrace.hooks`)
the loss (the tape's target), the gradients, the optimizer and every variable the step writes.
Before a variable's first write it keeps a reference to the variable's current value; TensorFlow
then copies the buffer on write, so the pre-step value survives at the cost of one copy of the
state that the step writes. After the step, one fused check decides whether anything is
non-finite; if so, every written variable is assigned its pre-step value inside the same graph.
So the state after a tripped step is exactly the state before it, and healthy steps are untouched:
the user's ops run as written, the sentinel only reads.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from nantrace import _tf_compat, hooks
from nantrace.errors import NantraceError

#: A LossScaleOptimizer whose scale fell below this has stopped training: even unscaled
#: gradients overflow every step (the scale only halves on overflow).
LOSS_SCALE_FLOOR = 1.0

#: Status vector layout returned by a guarded step.
STATUS_TRIPPED, STATUS_LOSS, STATUS_GRADIENTS, STATUS_VARIABLES = range(4)


def _flat_float_tensors(values: Any) -> list[tf.Tensor]:
    tensors = []
    for value in tf.nest.flatten(values, expand_composites=False):
        if value is None:
            continue
        if isinstance(value, tf.IndexedSlices):
            value = value.values
        if isinstance(value, (tf.Tensor, tf.Variable)) or hasattr(value, "dtype"):
            dtype = tf.as_dtype(value.dtype)
            if dtype.is_floating:
                tensors.append(tf.convert_to_tensor(value))
    return tensors


def squared_norms(tensors: list[tf.Tensor]) -> list[tf.Tensor]:
    """Each tensor's sum of squares as a float32 scalar (one fused kernel: ``l2_loss``)."""
    return [tf.cast(tf.nn.l2_loss(t), tf.float32) * 2.0 for t in tensors]


def all_finite(tensors: list[tf.Tensor], squares: list[tf.Tensor] | None = None) -> tf.Tensor:
    """One fused reduction per tensor: is every element of every tensor finite?

    A sum of squares is non-finite iff an element is NaN/Inf *or* finite values overflow it
    (|x| > ~1e19); the exact element-wise check runs only in that rare second case, so a
    healthy step pays one reduction per tensor and never a false alarm. The squares double as
    the norms the history records.
    """
    if not tensors:
        return tf.constant(True)
    squares = squared_norms(tensors) if squares is None else squares
    cheap = tf.math.is_finite(tf.add_n(squares) if len(squares) > 1 else squares[0])

    def exact() -> tf.Tensor:
        return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in tensors]))

    return tf.cond(cheap, lambda: tf.constant(True), exact)


class StepSentinel(hooks.StepObserver):
    """Observes one trace (or one eager run) of the user's step and adds the guard to it."""

    def __init__(
        self,
        known_variables: dict[int, tf.Variable],
        expect_optimizer: bool,
        history: Any = None,
    ) -> None:
        self.history = history
        self.outer_graph = _tf_compat.current_graph() if _tf_compat.inside_graph() else None
        self.known_variables = known_variables
        self.expect_optimizer = expect_optimizer
        self.targets: list[Any] = []
        self.gradients: list[Any] = []
        self.optimizers: list[Any] = []
        self.saved: dict[int, tuple[tf.Variable, tf.Tensor]] = {}
        self.wrote_trainable = False
        self.uses_loss_scaling = False

    # -- events -------------------------------------------------------------------------
    def gradient_end(self, tape: Any, target: Any, sources: Any, result: Any) -> None:
        self.targets.append(target)
        self.gradients.append(result)

    def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None:
        if all(optimizer is not o for o in self.optimizers):
            self.optimizers.append(optimizer)
        if type(optimizer).__name__ == "LossScaleOptimizer":
            self.uses_loss_scaling = True

    def before_write(self, variable: tf.Variable) -> None:
        if self.outer_graph is not None and tf.executing_eagerly():
            return  # an init_scope write (e.g. a slot being created), not part of the step
        if variable.trainable:
            self.wrote_trainable = True
        self._save(variable)

    # -- building the guard ---------------------------------------------------------------
    def _save(self, variable: tf.Variable) -> None:
        key = id(variable)
        if key in self.saved:
            return
        with hooks.suspended(self), _tf_compat.in_graph(self.outer_graph):
            self.saved[key] = (variable, tf.identity(variable.read_value()))
        self.known_variables.setdefault(key, variable)

    def save_known(self) -> None:
        """Keep pre-step values of variables earlier traces saw written (inner cached graphs)."""
        for variable in list(self.known_variables.values()):
            self._save(variable)

    def _checked_variables(self) -> list[tf.Variable]:
        optimizer_owned = set()
        for optimizer in self.optimizers:
            for v in getattr(optimizer, "variables", []):
                inner = _tf_compat.as_tf_variable(v)
                optimizer_owned.add(id(inner if inner is not None else v))
        return [
            v
            for key, (v, _) in self.saved.items()
            if key not in optimizer_owned and v.dtype.is_floating
        ]

    def check_usage(self, fn_name: str) -> None:
        if not self.gradients:
            raise NantraceError(
                f"nantrace.watch: `{fn_name}` computed no gradients (no tf.GradientTape.gradient "
                "call was seen); watch a training step that calls tape.gradient(loss, variables) "
                "and optimizer.apply_gradients(...), or use nantrace.keras.NanTraceCallback() "
                "with model.fit"
            )
        if not self.optimizers and not self.wrote_trainable and self.expect_optimizer:
            raise NantraceError(
                f"nantrace.watch: `{fn_name}` computed gradients but never updated a trainable "
                "variable (no Keras optimizer apply_gradients/apply call was seen); apply the "
                "update inside the watched step, or pass optimizer=... to nantrace.watch if it "
                "is applied elsewhere"
            )

    def _loss_scale_ok(self) -> tf.Tensor:
        """Loss scaling hides overflowing gradients by skipping steps; a scale that collapsed
        below LOSS_SCALE_FLOOR means every step is being skipped — that is an alarm."""
        scales = [
            tf.cast(optimizer.dynamic_scale, tf.float32)
            for optimizer in self.optimizers
            if getattr(optimizer, "dynamic_scale", None) is not None
        ]
        if not scales:
            return tf.constant(True)
        return tf.reduce_all(tf.stack([scale >= LOSS_SCALE_FLOOR for scale in scales]))

    def finalize(self) -> tf.Tensor:
        """Check the step and roll it back if anything is non-finite; returns the status."""
        with hooks.suspended(self):
            losses = _flat_float_tensors(self.targets)
            loss_ok = all_finite(losses)
            # A LossScaleOptimizer skips steps whose scaled gradients overflow, by design:
            # those gradients are not an alarm; the loss and the variables still are.
            gradient_tensors = [] if self.uses_loss_scaling else _flat_float_tensors(self.gradients)
            grad_squares = squared_norms(gradient_tensors)
            grads_ok = all_finite(gradient_tensors, grad_squares)
            if self.uses_loss_scaling:
                grads_ok = tf.logical_and(grads_ok, self._loss_scale_ok())
            checked = self._checked_variables()
            values = [v.read_value() for v in checked]
            weight_squares = squared_norms(values)
            vars_ok = all_finite(values, weight_squares)
            if self.history is not None:
                self.history.record(
                    tf.add_n([tf.reduce_mean(tf.cast(t, tf.float32)) for t in losses])
                    if losses
                    else tf.constant(float("nan")),
                    tf.add_n(grad_squares) if grad_squares else tf.constant(float("nan")),
                    weight_squares,
                    tuple(v.name for v in checked),
                )
            tripped = tf.logical_not(tf.logical_and(loss_ok, tf.logical_and(grads_ok, vars_ok)))
            saved = list(self.saved.values())

            def restore() -> tf.Tensor:
                for variable, old in saved:
                    variable.assign(old, read_value=False)
                return tf.constant(True)

            tf.cond(tripped, restore, lambda: tf.constant(False))
            return tf.cast(
                tf.stack(
                    [
                        tripped,
                        tf.logical_not(loss_ok),
                        tf.logical_not(grads_ok),
                        tf.logical_not(vars_ok),
                    ]
                ),
                tf.int32,
            )
