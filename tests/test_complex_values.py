"""NaN/Inf that passes through complex values (an FFT) keeps its chain: the origin is the float
op before the transform, not the first float op after it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.replay.health import health_of


def test_a_complex_tensors_health_is_that_of_its_magnitudes():
    values = tf.constant([3 + 4j, complex(np.inf, 0), complex(0, np.nan), 0j], tf.complex64)
    health = health_of(values)
    assert health is not None and health.dtype == "complex64"
    assert (health.pos_inf, health.nan, health.zeros, health.max_abs) == (1, 1, 1, 5.0)


def test_a_nan_before_an_fft_is_found_before_it():
    """log of a linear output (NaN for its negative values), then |rfft|: the origin is the
    Log, not the ComplexAbs that first puts the NaN back into a float tensor."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, name="synth")])
    optimizer = keras.optimizers.Adam(1e-3)

    @nantrace.watch
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            wave = tf.math.log(model(x))
            spectrum = tf.abs(tf.signal.rfft(wave))
            loss = tf.reduce_mean(tf.abs(spectrum - tf.abs(tf.signal.rfft(y))))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    x = np.random.default_rng(0).normal(size=(8, 64)).astype("float32")
    with pytest.raises(nantrace.NonFiniteError) as error:
        step(x, x)
    assert error.value.report.origin.op_type == "Log"
