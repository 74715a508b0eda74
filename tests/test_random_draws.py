"""A step that draws from TensorFlow's hidden random state cannot be replayed with the same
numbers; the report says so when the replay does not reproduce. A tf.random.Generator keeps
its state in a variable the guard restores: its draws replay exactly."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import nantrace
from nantrace.diagnosis.pipeline import stateful_draws
from nantrace.replay.step import replay_step


def _watched(noise):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(1e-2)

    def step(x, y):
        with tf.GradientTape() as tape:
            u = noise()
            loss = tf.reduce_mean(tf.square(model(x) - y)) + tf.where(
                u < 0.2, tf.math.log(u - u), 0.0
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return nantrace.watch(tf.function(step), verify=False)


def _batch():
    return tf.constant(np.ones((8, 4), "float32")), tf.constant(np.zeros((8, 1), "float32"))


def test_the_replay_names_stateful_random_ops():
    watched = _watched(lambda: tf.random.uniform([], 0.5, 1.0))  # never below 0.2: healthy
    batch = _batch()
    watched(*batch)
    assert stateful_draws(replay_step(watched, batch, {})) == ["RandomUniform"]


def test_a_generators_draws_replay_exactly():
    generator = tf.random.Generator.from_seed(5)
    watched = _watched(lambda: generator.uniform([]))
    report = None
    for _ in range(50):
        try:
            watched(*_batch())
        except nantrace.NonFiniteError as error:
            report = error.report
            break
    assert report is not None, "one draw in five is below 0.2"
    assert report.reproduced and report.origin.op_type == "Log"
    assert stateful_draws(replay_step(watched, _batch(), {})) == []
