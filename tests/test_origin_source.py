"""A backward-pass origin points at the user's forward line (the one to change), the
``tape.gradient`` line second; a NaN the loss masks out does not hide the real origin."""

from __future__ import annotations

import linecache

import keras
import numpy as np
import tensorflow as tf

import nantrace


class SqrtFeatures(keras.layers.Layer):
    def call(self, x):
        return tf.sqrt(x)  # singular gradient at the ReLU's exact zeros


def _line(source: str) -> str:
    path, line = source.rsplit(":", 1)
    return linecache.getline(path, int(line))


def _train(step, batches):
    watched = nantrace.watch(tf.function(step))
    try:
        for batch in batches:
            watched(*batch)
    except nantrace.NonFiniteError as error:
        return error.report
    return None


def test_backward_origin_source_is_the_forward_line():
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            SqrtFeatures(),
            keras.layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.SGD(0.01)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    report = _train(step, [(tf.constant(x), tf.constant(y))] * 3)
    assert report is not None and report.origin.kind == "gradient"
    assert "tf.sqrt(x)" in _line(report.origin.source)
    assert report.origin.tape_source and "tape.gradient" in _line(report.origin.tape_source)
    assert report.cause.id == "missing_epsilon"


def test_masked_nan_labels_do_not_hide_the_real_origin():
    keras.utils.set_random_seed(8)
    rng = np.random.default_rng(8)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="relu")])
    optimizer = keras.optimizers.SGD(0.01)

    def step(x, y):
        with tf.GradientTape() as tape:
            known = tf.math.is_finite(y)
            target = tf.where(known, y, 0.0)  # missing labels masked out correctly
            rate = model(x, training=True)
            loss = tf.reduce_mean(rate - target * tf.math.log(rate))  # log(0) at dead units
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.uniform(1, 3, size=(32, 1)).astype("float32")
    y[[2, 9]] = np.nan
    report = _train(step, [(tf.constant(x), tf.constant(y))] * 3)
    assert report is not None
    assert report.origin.kind != "input_data"
    assert report.origin.op_type in {"Log", "Mul"}
    assert any("do not reach" in note for note in report.notes)


def _masked_scores_step(reduce):
    """A step that masks scores with a constant -inf, as attention code does, then reduces
    each row with ``reduce``."""
    weights = tf.Variable(tf.ones([3, 5]) * 0.1)
    optimizer = keras.optimizers.SGD(0.01)

    def step(x, mask):
        with tf.GradientTape() as tape:
            scores = tf.where(mask, tf.matmul(x, weights), float("-inf"))
            loss = tf.reduce_mean(reduce(scores))
        grads = tape.gradient(loss, [weights])
        optimizer.apply_gradients(zip(grads, [weights], strict=True))
        return loss

    return step


def _masked_batches():
    x = np.ones([4, 3], "float32")
    partly = np.array([[True, True, False, False, False]] * 4)
    empty_row = partly.copy()
    empty_row[2] = False
    return [(x, partly), (x, partly), (x, empty_row)]


def test_an_intended_inf_mask_is_not_the_origin_where_it_becomes_nan_is():
    step = _masked_scores_step(lambda s: tf.reduce_sum(tf.nn.softmax(s) * tf.range(5.0), -1))
    report = _train(step, _masked_batches())
    assert report is not None and report.trip.step == 2
    assert report.origin.op_type == "Softmax"
    assert report.cause.id == "domain_error"


def test_an_inf_mask_that_reaches_the_loss_as_inf_stays_the_origin():
    report = _train(_masked_scores_step(lambda s: tf.reduce_max(s, axis=-1)), _masked_batches())
    assert report is not None and report.trip.step == 2
    assert report.origin.op_type == "SelectV2"


def test_a_gradient_penalty_is_part_of_the_loss_not_of_the_update():
    """WGAN-GP: ``inner.gradient`` taken under the outer tape feeds the loss (``tf.norm`` of a
    critic gradient that is exactly zero: sqrt's derivative at 0 is infinite in the
    second-order backward pass). The norm is the loss's, not an update's, and the origin
    points at its line."""
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    critic = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, kernel_initializer="zeros")]
    )
    optimizer = keras.optimizers.Adam(1e-3)

    def step(x):
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = critic(x, training=True)
            slopes = tf.norm(inner.gradient(score, x), axis=1)  # zero kernel: zero gradient
            loss = tf.reduce_mean(score) + tf.reduce_mean(tf.square(slopes - 1.0))
        grads = tape.gradient(loss, critic.trainable_variables)
        optimizer.apply_gradients(zip(grads, critic.trainable_variables, strict=True))
        return loss

    x = tf.constant(rng.normal(size=(8, 4)).astype("float32"))
    report = _train(step, [(x,)])
    assert report is not None and report.origin.kind == "gradient"
    assert report.cause.id == "missing_epsilon"
    assert "in loss" in report.cause.summary and "update" not in report.cause.summary
    assert "tf.norm(" in _line(report.origin.source)
