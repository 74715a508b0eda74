"""Healthy training must never alarm (and a NaN that the step itself discards is healthy)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import batches, mlp, run_loop, seeded, standard_step


def mlp_adam():
    rng = seeded(100)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    model = mlp([32, 32])
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, epochs=4),
    )


def cnn_batchnorm_dropout():
    rng = seeded(101)
    x = rng.uniform(0, 1, size=(128, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, size=(128,)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.3),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.SGD(0.01, momentum=0.9), loss),
        batches(x, y, epochs=2),
    )


def lstm_eager():
    rng = seeded(102)
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((12, 3)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
        compiled=False,
    )


def embedding_sparse_gradients():
    rng = seeded(103)
    tokens = rng.integers(0, 100, size=(128, 10)).astype("int32")
    y = rng.integers(0, 2, size=(128, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((10,), dtype="int32"),
            keras.layers.Embedding(100, 8),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy()),
        batches(tokens, y, epochs=2),
    )


def safe_log_double_where():
    rng = seeded(104)
    x = rng.normal(size=(128, 8)).astype("float32")
    y = rng.normal(size=(128, 1)).astype("float32")
    model = mlp([16])

    def loss_fn(y_true, pred):
        positive = pred > 0
        safe = tf.where(positive, pred, tf.ones_like(pred))  # the double-where idiom
        log_term = tf.where(positive, tf.math.log(safe), tf.zeros_like(pred))
        return tf.reduce_mean(tf.square(pred - y_true)) + 0.01 * tf.reduce_mean(log_term)

    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss_fn), batches(x, y))


def keras_crossentropy_on_saturated_probabilities():
    rng = seeded(105)
    x = (rng.normal(size=(128, 20)) * 30.0).astype("float32")
    y = np.eye(5, dtype="float32")[rng.integers(0, 5, size=128)]
    model = mlp([32], input_dim=20, out=5, out_activation="softmax")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), keras.losses.CategoricalCrossentropy()),
        batches(x, y, epochs=3),
    )


def clipped_sgd_high_lr():
    rng = seeded(106)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    model = mlp([32])
    return run_loop(
        standard_step(
            model, keras.optimizers.SGD(0.05, global_clipnorm=1.0), keras.losses.MeanSquaredError()
        ),
        batches(x, y, epochs=5),
    )


def mixed_precision_with_loss_scaling():
    rng = seeded(107)
    keras.config.set_dtype_policy("mixed_float16")
    try:
        x = rng.normal(size=(128, 16)).astype("float32")
        y = (rng.normal(size=(128, 1)) * 100.0).astype("float32")
        model = mlp([32], input_dim=16)
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3))

        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        report = run_loop(train_step, batches(x, y, epochs=3))
        return report
    finally:
        keras.config.set_dtype_policy("float32")


HEALTHY = [
    mlp_adam,
    cnn_batchnorm_dropout,
    lstm_eager,
    embedding_sparse_gradients,
    safe_log_double_where,
    keras_crossentropy_on_saturated_probabilities,
    clipped_sgd_high_lr,
    mixed_precision_with_loss_scaling,
]


@pytest.mark.parametrize("run", HEALTHY, ids=[f.__name__ for f in HEALTHY])
def test_healthy_run_does_not_alarm(run):
    assert run() is None
