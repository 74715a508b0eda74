"""The replay skips an optimizer update whose gradients are already non-finite (the gated
guard skipped it in the compiled step; it can never hold the origin) and runs one whose
gradients are finite (an update-made NaN is the origin); either way it puts every variable
back bit for bit, from the tensors it read before the step (no host copy)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import nantrace
from nantrace.replay.step import replay_step


class SqrtFeatures(keras.layers.Layer):
    def call(self, x):
        return tf.sqrt(x)  # infinite gradient at the ReLU's exact zeros


def _setup(model, optimizer):
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return nantrace.watch(tf.function(step), verify=False)


def _trip(watched, batch):
    try:
        watched(*batch)
    except nantrace.NonFiniteError as error:
        return error.report
    return None


def _state(model, optimizer) -> list[np.ndarray]:
    return [np.array(v.numpy(), copy=True) for v in model.variables + optimizer.variables]


def _batch(seed: int) -> tuple[tf.Tensor, tf.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    return tf.constant(x), tf.constant(y)


def _assert_same(before: list[np.ndarray], after: list[np.ndarray]) -> None:
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        assert a.tobytes() == b.tobytes()


def test_an_update_fed_non_finite_gradients_is_not_replayed():
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), SqrtFeatures()]
        + [keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-3)
    watched = _setup(model, optimizer)
    batch = _batch(7)
    report = _trip(watched, batch)
    assert report is not None and report.origin.kind == "gradient"
    before = _state(model, optimizer)
    capture = replay_step(watched, batch, {})
    _assert_same(before, _state(model, optimizer))
    assert capture.skipped_updates == [optimizer]
    assert not [r for r in capture.records if r.phase == "update"]
    assert capture.sinks()["gradients"], "the gradients are still the sinks the origin reaches"


def test_an_update_fed_finite_gradients_is_replayed_and_undone():
    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(learning_rate=10.0**40)
    watched = _setup(model, optimizer)
    batch = _batch(8)
    report = None
    for _ in range(3):
        report = report or _trip(watched, batch)
    assert report is not None and report.origin.kind == "optimizer_update"
    before = _state(model, optimizer)
    capture = replay_step(watched, batch, {})
    _assert_same(before, _state(model, optimizer))
    assert capture.skipped_updates == []
    writes = [r for r in capture.records if r.variable_after is not None]
    assert writes and any(not r.variable_after.finite for r in writes)


def test_the_capture_knows_a_frozen_layers_variables_are_not_trained():
    keras.utils.set_random_seed(7)
    frozen = keras.layers.Dense(8, name="frozen")
    model = keras.Sequential([keras.Input((6,)), frozen, keras.layers.Dense(1, name="head")])
    frozen.trainable = False  # after build: the tf.Variable's own `trainable` stays True
    watched = _setup(model, keras.optimizers.Adam(1e-3))
    x, y = _batch(3)
    watched(x, y)
    capture = replay_step(watched, (x, y), {})
    flags = {
        r.variable: r.variable_trainable
        for r in capture.records
        if r.op_type == "ReadVariableOp" and r.variable and r.phase == "forward"
    }
    assert {f for n, f in flags.items() if "frozen" in n} == {False}, flags
    assert {f for n, f in flags.items() if "head" in n} == {True}, flags


def test_gradients_made_non_finite_after_the_tape_still_reach_the_update():
    """Normalized gradient descent by hand, g / ||g||, behind a zero-initialized head: the
    tape's gradients of the hidden layer are exactly 0 (finite, so the guard's gate lets the
    update run) and the division makes them 0/0. The replay must run that update too: the
    variables it wrote are the sink the origin reaches."""
    keras.utils.set_random_seed(9)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(1, kernel_initializer="zeros", name="head"),
        ]
    )
    optimizer = keras.optimizers.SGD(1e-2)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [g / tf.norm(g) for g in grads]  # unit-norm steps, no epsilon
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    watched = nantrace.watch(tf.function(step), verify=False)
    report = _trip(watched, _batch(9))
    assert report is not None and report.reproduced
    assert report.origin.kind == "optimizer_update"
    assert report.origin.op_type == "RealDiv"
    assert report.origin.variable is not None and "hidden" in report.origin.variable
