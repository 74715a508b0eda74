"""Small models that go non-finite in one known way each, for the tf.distribute drivers
(tests/distributed_run.py, tests/multiworker_run.py). Build them inside ``strategy.scope()``.

Each case: 64 rows of 8 features, a one-unit head, and one defect:

* activation: ``log`` of ReLU features (exact zeros give -Inf in the forward pass);
* loss: the loss adds ``log(y)``; one label is 0 (``BAD_ROW``), so only the replica (or
  worker) holding that row sees -Inf, and the term has no gradient (a loss-only value);
* matmul_overflow: ten wide Dense layers initialised with stddev 3000 overflow float32;
* gradient: ``sqrt`` of ReLU features (finite forward, infinite gradient at 0);
* optimizer_update: RMSprop with epsilon=0 and a dead ReLU layer (0/0 in the update);
* input_data: a NaN feature at ``BAD_ROW``; healthy: nothing.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

KINDS = ("activation", "loss", "matmul_overflow", "gradient", "optimizer_update")


class LogFeatures(keras.layers.Layer):
    def call(self, x):
        return tf.math.log(x)


class SqrtActivation(keras.layers.Layer):
    def call(self, x):
        return tf.sqrt(x)


def mse_plus_log_label(y_true, y_pred):
    """Squared error plus log of the (positive) label: -Inf where a label is 0."""
    return tf.reduce_mean(tf.square(y_pred - y_true), axis=-1) + tf.math.log(y_true[:, 0])


def mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_pred - y_true), axis=-1)


def data(kind: str, seed: int, bad_row: int | None, n: int = 64) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    if kind == "loss":
        y = np.abs(y) + 0.5
        if bad_row is not None:
            y[bad_row, 0] = 0.0
    if kind == "input_data" and bad_row is not None:
        x[bad_row, 1] = np.nan
    return x, y


def build(kind: str, seed: int = 0) -> tuple[Any, Any, Any]:
    """(model, optimizer, loss function) for ``kind``; call inside ``strategy.scope()``."""
    keras.utils.set_random_seed(seed)
    hidden: list[Any] = [keras.layers.Dense(16, activation="relu", name="hidden")]
    middle: list[Any] = []
    optimizer: Any = keras.optimizers.Adam(1e-3)
    loss = mse_plus_log_label if kind == "loss" else mse
    if kind == "activation":
        middle = [LogFeatures(name="logfeat")]
    elif kind == "gradient":
        middle = [SqrtActivation(name="sqrt_act")]
    elif kind == "matmul_overflow":
        init = keras.initializers.RandomNormal(stddev=3000.0)
        hidden = [
            keras.layers.Dense(64, activation="relu", kernel_initializer=init, name=f"wide{i}")
            for i in range(10)
        ]
    elif kind == "optimizer_update":
        bias = keras.initializers.Constant(-100.0)
        hidden = [keras.layers.Dense(16, activation="relu", name="hidden", bias_initializer=bias)]
        optimizer = keras.optimizers.RMSprop(1e-3, epsilon=0.0)
    model = keras.Sequential(
        [keras.Input((8,)), *hidden, *middle, keras.layers.Dense(1, name="head")], name="net"
    )
    return model, optimizer, loss


def custom_step(strategy: Any, model: Any, optimizer: Any, loss_fn: Any) -> Any:
    """The usual custom loop step: strategy.run of a replica step, mean loss."""
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(y, model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(x, y):
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce("mean", per_replica, axis=None)

    return step


def state(model: Any, optimizer: Any) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in list(model.variables) + list(optimizer.variables)]


def same(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    return len(before) == len(after) and all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after, strict=True)
    )


def summary(report: Any) -> dict:
    """The parts of a report the tests check (JSON-safe)."""
    origin = report.origin
    return {
        "kind": origin.kind,
        "op_type": origin.op_type,
        "layer": origin.layer,
        "tensor": origin.tensor,
        "rows": list(origin.rows),
        "device": origin.device,
        "step": report.trip.step,
        "trip": report.trip.to_dict(),
        "cause": report.cause.id if report.cause else None,
        "fixes": [f.id for f in report.fixes],
        "verified": [f.id for f in report.fixes if f.verified],
        "notes": list(report.notes),
        "bundle": report.bundle,
    }
