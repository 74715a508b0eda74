"""Keras ``model.fit`` surface: the same guard, restore, replay and report as ``watch``.

``NanTraceCallback`` replaces the model's train function for the duration of ``fit`` with one that
runs the model's own ``train_step`` under :class:`nantrace.live.guard.Watched` (compiled with the
model's ``jit_compile`` setting). It does not merely read ``logs["loss"]``: the loss, gradients and
updated variables are checked inside the step, a tripped step is rolled back in-graph, and the step
is replayed on the exact batch that tripped.

Batches are fetched from fit's iterator on the host, one step per call; with
``steps_per_execution > 1`` the steps of one execution run one after another from the host.
"""

from __future__ import annotations

import sys
from typing import Any

import keras
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.errors import NantraceError
from nantrace.live import distributed
from nantrace.live.early_warning import check_mode
from nantrace.live.guard import ON_NAN_MODES, Watched, summary_line


def _guarded_train_function(
    model: Any, on_nan: str, bundle_dir: str | None, early_warning: str = "warn"
) -> Any:
    strategy = None
    if not _tf_compat.is_default_strategy(model.distribute_strategy):
        strategy = model.distribute_strategy
        distributed.check_supported(strategy, "nantrace.keras: model.fit")
    step = model.train_step
    if strategy is not None:
        # what Keras' own train function runs: train_step on every replica, outputs reduced
        def distributed_step(data: Any) -> Any:
            outputs = strategy.run(model.train_step, args=(data,))
            return distributed.reduce_outputs(strategy, outputs)

        step = distributed_step
    compiled = not model.run_eagerly
    if compiled:
        step = tf.function(step, jit_compile=bool(model.jit_compile), reduce_retracing=True)
    watched = Watched(
        step,
        model=model,
        optimizer=model.optimizer,
        on_nan=on_nan,
        bundle_dir=bundle_dir,
        early_warning=early_warning,
    )
    # watch(model): no callback sees the end of fit, so the warn-mode count prints at exit.
    watched._tally.reports_at = "model.train_function.watched.reports"

    def train_function(iterator: Any) -> Any:
        logs = None
        for _ in range(max(1, int(model.steps_per_execution))):
            try:
                data = next(iterator)
            except (StopIteration, tf.errors.OutOfRangeError):
                if logs is None:
                    raise StopIteration from None
                break
            if _tf_compat.eager_leaves(data) is None:
                data = tf.nest.map_structure(
                    lambda item: None if isinstance(item, tf.experimental.Optional) else item,
                    data,
                )
            logs = watched(data)
            if watched.stopped:
                model.stop_training = True
                break
        return logs

    train_function.watched = watched  # type: ignore[attr-defined]
    return train_function


def _refuse_legacy_keras(model: Any, what: str) -> None:
    if _tf_compat.is_legacy_keras_model(model):
        raise NantraceError(
            f"{what}: a tf_keras (Keras 2) model's fit is not supported (its callbacks and "
            "train function are Keras 2's); watch its custom training loop with @nantrace.watch "
            "instead (tf_keras layers and optimizers are observed there)"
        )


class NanTraceCallback(keras.callbacks.Callback):
    """Guard every ``model.fit`` step; diagnose the first non-finite one.

    Args:
        on_nan: ``"raise"`` (NonFiniteError out of fit), ``"stop"`` (print the report and stop
            training cleanly via ``model.stop_training``) or ``"warn"`` (skip the step: the
            first trip warns with the full report, later ones with one line each, and
            ``on_train_end`` prints the count of skipped steps once, to stderr).
        bundle_dir: where to write the report of a tripped step.
        log_dir: write the guard's history (loss, gradient norm, weight norms) as TensorBoard
            scalars and each report as a text summary there, read from the in-graph history
            in chunks (:mod:`nantrace.live.tensorboard`); no ``tensorboard`` package needed.
        early_warning: ``"warn"`` (a :class:`~nantrace.DivergenceWarning` once per episode of
            divergence, before any NaN), ``"raise"`` (:class:`~nantrace.DivergenceError` out of
            fit after the step) or ``"off"``; see :func:`nantrace.watch`.

    Attributes:
        reports: the reports of tripped steps (set at the end of fit). Under ``"warn"`` only
            the first trip's fixes are verified; see :class:`nantrace.live.guard.Watched`.
        trips: how many steps tripped the guard, over every fit of this model with these
            settings (the guarded function is reused between fits).
        early_warnings: the early warnings' reports (``DivergenceReport``), over every fit of
            this model with these settings, oldest first.
    """

    def __init__(
        self,
        on_nan: str = "raise",
        bundle_dir: str | None = None,
        log_dir: str | None = None,
        early_warning: str = "warn",
    ) -> None:
        super().__init__()
        self.early_warning = check_mode(early_warning, "nantrace.keras.NanTraceCallback")
        if on_nan not in ON_NAN_MODES:
            raise NantraceError(
                f"nantrace.keras.NanTraceCallback: on_nan must be one of "
                f"{', '.join(ON_NAN_MODES)}; received on_nan={on_nan!r}"
            )
        self.on_nan = on_nan
        self.bundle_dir = bundle_dir
        self.log_dir = log_dir
        self._tensorboard: Any = None
        self.reports: list = []
        self._original_train_function: Any = None
        self._function: Any = None
        self._trips_at_begin = 0

    @property
    def trips(self) -> int:
        return self._function.watched.trips if self._function is not None else 0

    @property
    def early_warnings(self) -> list:
        return list(self._function.watched.early_warnings) if self._function is not None else []

    def set_model(self, model: Any) -> None:
        _refuse_legacy_keras(model, "nantrace.keras.NanTraceCallback")
        super().set_model(model)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._original_train_function = self.model.train_function
        # One guarded function per model and settings, reused by later fit() calls: a new
        # one would retrace the train step on every fit.
        cache = self.model.__dict__.setdefault("_nantrace_callback_functions", {})
        key = (
            self.on_nan,
            self.bundle_dir,
            self.model.jit_compile,
            self.model.run_eagerly,
            self.early_warning,
        )
        if key not in cache:
            cache[key] = _guarded_train_function(
                self.model, self.on_nan, self.bundle_dir, self.early_warning
            )
        self._function = cache[key]
        self._function.watched.stopped = False
        self._trips_at_begin = self._function.watched.trips
        self.model.train_function = self._function
        if self.log_dir is not None:
            self.model.train_function = self._logged(self._function)

    def _logged(self, function: Any) -> Any:
        """``function`` writing to TensorBoard every FLUSH_EVERY steps and after each trip."""
        from nantrace.errors import NonFiniteError
        from nantrace.live.tensorboard import FLUSH_EVERY, TensorBoardWriter

        if self._tensorboard is None:
            self._tensorboard = TensorBoardWriter(self.log_dir)
        writer, watched = self._tensorboard, function.watched
        state = {"chunk": watched.step // FLUSH_EVERY, "reports": len(watched.reports)}

        def train_function(iterator: Any) -> Any:
            try:
                logs = function(iterator)
            except NonFiniteError:
                writer.flush(watched)
                raise
            chunk = watched.step // FLUSH_EVERY
            if chunk != state["chunk"] or len(watched.reports) != state["reports"]:
                writer.flush(watched)
                state["chunk"], state["reports"] = chunk, len(watched.reports)
            return logs

        train_function.watched = watched  # type: ignore[attr-defined]
        return train_function

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._function is not None:
            watched = self._function.watched
            self.reports = list(watched.reports)
            skipped = watched.trips - self._trips_at_begin
            if self.on_nan == "warn" and skipped > 0:
                line = summary_line(skipped, "callback.reports", where=" in this fit")
                print(line, file=sys.stderr, flush=True)
            watched._tally.summarized = watched.trips  # nothing left for the exit summary
            if self._tensorboard is not None:
                self._tensorboard.flush(watched)
        self.model.train_function = self._original_train_function


def watch_model(
    model: Any, on_nan: str = "raise", bundle_dir: str | None = None, early_warning: str = "warn"
) -> Any:
    """``nantrace.watch(model)``: every later ``model.fit`` runs guarded. Returns the model."""
    _refuse_legacy_keras(model, "nantrace.watch(model)")
    check_mode(early_warning, "nantrace.watch")
    if on_nan not in ON_NAN_MODES:
        raise NantraceError(
            f"nantrace.watch: on_nan must be one of {', '.join(ON_NAN_MODES)}; "
            f"received on_nan={on_nan!r}"
        )

    def make_train_function(force: bool = False) -> Any:
        if getattr(model, "_nantrace_function", None) is None or force:
            model._nantrace_function = _guarded_train_function(
                model, on_nan, bundle_dir, early_warning
            )
        model.train_function = model._nantrace_function
        return model.train_function

    model.make_train_function = make_train_function
    model.train_function = None
    return model
