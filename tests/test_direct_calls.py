"""A watched step calls its traced concrete function directly (``compat.tf.DirectCalls``):
tf.function's per-call dispatch is skipped only where the call is exactly what it would run."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import standard_step

import nantrace
from nantrace.compat.tf import DirectCalls

pytestmark = pytest.mark.fast


class Spy:
    """A tf.function whose dispatch counts its calls."""

    def __init__(self, function):
        self.function = function
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)

    def get_concrete_function(self, *args, **kwargs):
        return self.function.get_concrete_function(*args, **kwargs)

    def experimental_get_tracing_count(self):
        return self.function.experimental_get_tracing_count()


def scaled_sum(x, y):
    return {"out": x * 2.0 + y, "total": tf.reduce_sum(x)}


def test_a_repeated_signature_skips_the_dispatch_and_returns_the_same_values():
    spy = Spy(tf.function(scaled_sum))
    direct = DirectCalls(spy)
    x, y = tf.constant([[1.0, 2.0]]), tf.constant([[3.0, 4.0]])
    results = [direct(x * float(i), y) for i in range(5)]
    assert spy.calls == 1  # the first call traces through tf.function; the rest go direct
    for i, result in enumerate(results):
        expected = scaled_sum(x * float(i), y)
        assert set(result) == {"out", "total"}
        np.testing.assert_array_equal(result["out"].numpy(), expected["out"].numpy())
        np.testing.assert_array_equal(result["total"].numpy(), expected["total"].numpy())


def test_each_new_shape_or_dtype_goes_through_tf_function_once():
    spy = Spy(tf.function(lambda x: x + 1))
    direct = DirectCalls(spy)
    for _ in range(3):
        direct(tf.ones([2]))
        direct(tf.ones([3]))
        direct(tf.ones([3], tf.float64))
    assert spy.calls == 3
    assert direct(tf.ones([3], tf.float64)).dtype == tf.float64


def test_a_batch_tuple_goes_direct_after_its_first_call():
    spy = Spy(tf.function(lambda data: data[0] * 10.0 + data[1]))
    direct = DirectCalls(spy)
    results = [float(direct((tf.constant(float(i)), tf.constant(1.0)))) for i in range(4)]
    assert results == [1.0, 11.0, 21.0, 31.0]
    assert spy.calls == 1
    assert float(direct([tf.constant(2.0), tf.constant(1.0)])) == 21.0  # a list: its own key
    assert spy.calls == 2


def test_keyword_python_and_deeper_arguments_keep_tf_functions_dispatch():
    spy = Spy(tf.function(lambda x, scale=1.0: x * scale))
    direct = DirectCalls(spy)
    nested = Spy(tf.function(lambda xs: xs[0][0] + xs[1]))
    direct_nested = DirectCalls(nested)
    keyed = Spy(tf.function(lambda d: d["x"] + 1.0))
    direct_keyed = DirectCalls(keyed)
    pair = Spy(tf.function(lambda xs: xs[0] + xs[1]))
    direct_pair = DirectCalls(pair)
    for _ in range(3):
        assert float(direct(tf.constant(2.0), scale=3.0)) == 6.0
        assert float(direct(tf.constant(2.0), 4.0)) == 8.0  # a Python number
        assert float(direct_pair((tf.constant(2.0), 5.0))) == 7.0  # a number in a tuple
        assert float(direct_nested(((tf.constant(1.0),), tf.constant(2.0)))) == 3.0
        assert float(direct_keyed({"x": tf.constant(1.0)})) == 2.0
    assert spy.calls == 6 and nested.calls == 3 and keyed.calls == 3 and pair.calls == 3


def test_a_tensor_default_argument_is_not_dropped():
    default = tf.constant(5.0)
    spy = Spy(tf.function(lambda x, shift=default: x + shift))
    direct = DirectCalls(spy)
    assert [float(direct(tf.constant(1.0))) for _ in range(3)] == [6.0, 6.0, 6.0]


def test_run_functions_eagerly_runs_the_python_every_call():
    runs = []

    def step(x):
        runs.append(1)
        return x + 1

    direct = DirectCalls(tf.function(step))
    direct(tf.constant(1.0))
    traced = len(runs)
    tf.config.run_functions_eagerly(True)
    try:
        direct(tf.constant(1.0))
        direct(tf.constant(1.0))
    finally:
        tf.config.run_functions_eagerly(False)
    assert len(runs) == traced + 2


def _model_and_step():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(1)])
    step = standard_step(model, keras.optimizers.Adam(1e-2), keras.losses.MeanSquaredError())
    return model, step


def test_a_watched_step_trains_bit_for_bit_as_the_plain_one_across_batch_sizes():
    rng = np.random.default_rng(0)
    batches = [
        (tf.constant(rng.normal(size=(n, 6)), tf.float32), tf.constant(rng.normal(size=(n, 1))))
        for n in (8, 8, 4, 8, 4, 3, 8)
    ]
    plain_model, plain_step = _model_and_step()
    watched_model, watched_step = _model_and_step()
    plain = tf.function(plain_step)
    watched = nantrace.watch(tf.function(watched_step))
    for x, y in batches:
        y = tf.cast(y, tf.float32)
        assert float(plain(x, y)) == float(watched(x, y))
    for a, b in zip(plain_model.get_weights(), watched_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert watched.step == len(batches)
