"""The demo training runs. Each returns the report of the first tripped step (or None)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nantrace.report.records import Report


@dataclass
class Outcome:
    report: Report | None
    steps: int


def train(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    batches: Iterable[tuple[Any, Any]],
    compiled: bool = True,
) -> Outcome:
    """A plain custom training loop under ``@nantrace.watch``, as a user would write it."""
    import tensorflow as tf

    import nantrace

    def train_step(x, y):
        with tf.GradientTape() as tape:
            prediction = model(x, training=True)
            loss = loss_fn(y, prediction)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(tf.function(train_step) if compiled else train_step)
    steps = 0
    try:
        for x, y in batches:
            step(x, y)
            steps += 1
    except nantrace.NonFiniteError as error:
        return Outcome(error.report, steps)
    return Outcome(None, steps)


def _batches(x: np.ndarray, y: np.ndarray, batch: int, epochs: int):
    import tensorflow as tf

    for _ in range(epochs):
        for start in range(0, len(x), batch):
            yield tf.constant(x[start : start + batch]), tf.constant(y[start : start + batch])


def unscaled_input() -> Outcome:
    import keras

    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    area = rng.uniform(500, 5000, size=(512, 1))
    rooms = rng.integers(1, 8, size=(512, 1)).astype(float)
    price = 120.0 * area + 9000.0 * rooms + rng.normal(0, 1e4, size=(512, 1))
    x = np.concatenate([area, rooms * 1e4, area * 20], axis=1).astype("float32")
    y = price.astype("float32")
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.01)
    return train(model, optimizer, keras.losses.MeanSquaredError(), _batches(x, y, 64, 20))


def log_zero_loss() -> Outcome:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, size=(256, 20)).astype("float32") * 30.0
    labels = rng.integers(0, 5, size=256)
    y = np.eye(5, dtype="float32")[labels]
    model = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )

    def cross_entropy(y_true, probabilities):
        return -tf.reduce_mean(tf.reduce_sum(y_true * tf.math.log(probabilities), axis=-1))

    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    return train(model, optimizer, cross_entropy, _batches(x, y, 64, 20))


def exploding_rnn() -> Outcome:
    import keras

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, size=(64, 120, 4)).astype("float32")
    y = x[:, -10:, 0].sum(axis=1, keepdims=True).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((120, 4)),
            keras.layers.SimpleRNN(
                32,
                activation="relu",
                recurrent_initializer=keras.initializers.Orthogonal(gain=1.3),
            ),
            keras.layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    return train(model, optimizer, keras.losses.MeanSquaredError(), _batches(x, y, 32, 20))


def bad_initializer() -> Outcome:
    import keras

    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, size=(128, 32)).astype("float32")
    y = rng.integers(0, 10, size=(128,)).astype("int32")
    init = keras.initializers.RandomNormal(stddev=3000.0)
    layers = [keras.Input((32,))]
    layers += [
        keras.layers.Dense(64, activation="relu", kernel_initializer=init) for _ in range(10)
    ]
    layers += [keras.layers.Dense(10)]
    model = keras.Sequential(layers)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return train(model, optimizer, loss, _batches(x, y, 32, 5))


def huge_learning_rate() -> Outcome:
    import keras

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, size=(512, 8)).astype("float32")
    y = (x @ rng.normal(0, 1, size=(8, 1))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.SGD(learning_rate=5.0)
    return train(model, optimizer, keras.losses.MeanSquaredError(), _batches(x, y, 64, 50))


def nan_in_data() -> Outcome:
    import keras

    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    x = rng.normal(0, 1, size=(512, 6)).astype("float32")
    missing = rng.choice(512, size=5, replace=False)
    x[missing, rng.integers(0, 6, size=5)] = np.nan  # empty CSV cells parsed as NaN
    y = rng.integers(0, 2, size=(512, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    return train(model, optimizer, keras.losses.BinaryCrossentropy(), _batches(x, y, 64, 2))
