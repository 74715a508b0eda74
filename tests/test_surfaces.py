"""XLA, nested tf.function and mixed precision: the same answers at the same guard."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import LogFeatures, SiameseDistance, SqrtActivation, Standardize, seeded

import nantrace


def xla_report(model, optimizer, loss_fn, x, y, steps=3):
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(tf.function(train_step, jit_compile=True))
    assert step.jit_compile
    try:
        for _ in range(steps):
            step(tf.constant(x), tf.constant(y))
    except nantrace.NonFiniteError as error:
        return error.report
    return None


def data(seed, n=32, nan_row=None):
    rng = seeded(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    if nan_row is not None:
        x[nan_row, 0] = np.nan
    return x, rng.normal(size=(n, 1)).astype("float32")


def net(*middle):
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            *middle,
            keras.layers.Dense(1, name="head"),
        ],
        name="net",
    )


mse = keras.losses.MeanSquaredError()


def test_xla_input_data():
    x, y = data(1, nan_row=5)
    report = xla_report(net(), keras.optimizers.Adam(1e-3), mse, x, y)
    assert (report.origin.kind, report.origin.rows) == ("input_data", (5,))


def test_xla_activation():
    x, y = data(2)
    report = xla_report(net(LogFeatures(name="logfeat")), keras.optimizers.Adam(1e-3), mse, x, y)
    assert (report.origin.kind, report.origin.op_type, report.origin.layer) == (
        "activation",
        "Log",
        "net/logfeat",
    )
    assert report.reproduced


def test_xla_loss():
    x, y = data(3)

    def log_loss(y_true, pred):
        return tf.reduce_mean(tf.math.log(pred - 1e6))

    report = xla_report(net(), keras.optimizers.Adam(1e-3), log_loss, x, y)
    assert (report.origin.kind, report.origin.op_type) == ("loss", "Log")


def test_xla_matmul_overflow():
    x, y = data(4)
    init = keras.initializers.RandomNormal(stddev=3000.0)
    model = keras.Sequential(
        [keras.Input((8,))]
        + [keras.layers.Dense(64, activation="relu", kernel_initializer=init) for _ in range(10)]
        + [keras.layers.Dense(1)]
    )
    report = xla_report(model, keras.optimizers.Adam(1e-3), mse, x, y)
    assert report.origin.kind == "matmul_overflow" and report.cause.id == "initializer_scale"


def test_xla_gradient():
    # sqrt(relu(x)) is NaN in eager backprop (ReluGrad: Inf * 0) but XLA selects 0 there, so
    # the compiled step stays finite; a norm of an exact zero vector is NaN in both.
    rng = seeded(5)
    half = rng.normal(size=(32, 4)).astype("float32")
    other = half.copy()
    x = np.concatenate([half, other], axis=1)
    y = rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), SiameseDistance(name="distance"), keras.layers.Dense(1, name="head")],
        name="siamese",
    )
    report = xla_report(model, keras.optimizers.Adam(1e-3), mse, x, y)
    assert (report.origin.kind, report.origin.layer) == ("gradient", "siamese/distance")
    assert report.cause.id == "missing_epsilon"


def test_xla_optimizer_update():
    x, y = data(6)
    report = xla_report(net(), keras.optimizers.SGD(learning_rate=10.0**40), mse, x, y)
    assert report.origin.kind == "optimizer_update"
    assert report.fixes[0].id == "lower_learning_rate"


def test_xla_healthy_run_does_not_alarm():
    x, y = data(7)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            Standardize(name="std"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    assert xla_report(model, keras.optimizers.Adam(1e-3), mse, x, y, steps=10) is None


def test_compiled_only_nan_is_reported_as_not_reproduced():
    """When the eager replay stays finite the report says so and does not guess."""
    x, y = data(8)
    model = net()
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
            if not tf.executing_eagerly():  # a value only the compiled graph gets wrong
                loss = loss + tf.math.log(tf.zeros_like(loss))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(tf.function(train_step, jit_compile=True))
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(tf.constant(x), tf.constant(y))
    report = caught.value.report
    assert not report.reproduced and report.origin.kind == "unknown"
    assert report.cause is None and not report.fixes
    assert any("did not reproduce" in note and "XLA" in note for note in report.notes)


def test_decorator_nested_in_outer_tf_function_rolls_back_in_graph():
    x, y = data(9)
    x[3, 2] = np.nan
    model = net()
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    inner = nantrace.watch(tf.function(train_step))

    @tf.function
    def three_steps(x, y):
        for _ in tf.range(3):
            inner(x, y)
        return tf.constant(0)

    before = [v.numpy().copy() for v in model.variables + optimizer.variables]
    three_steps(tf.constant(x), tf.constant(y))
    after = [v.numpy() for v in model.variables + optimizer.variables]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_loss_scale_collapse_alarms():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        x, y = data(10)
        model = net(SqrtActivation(name="root"))
        model.layers[-1].dtype_policy = keras.DTypePolicy("float32")
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3))

        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = mse(y, model(x, training=True))
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        step = nantrace.watch(tf.function(train_step))
        with pytest.raises(nantrace.NonFiniteError) as caught:
            for _ in range(40):
                step(tf.constant(x), tf.constant(y))
    finally:
        keras.config.set_dtype_policy("float32")
    report = caught.value.report
    assert report.trip.gradients and report.trip.step >= 10  # skipped steps first, by design
    assert (report.origin.kind, report.origin.layer) == ("gradient", "net/root")
    assert any("scale collapsed" in note for note in report.notes)
