"""A bug of nantrace's cause inference on an unusual model must not crash the user's
training: the report keeps the origin, says ``unknown`` with the internal error, and
``NANTRACE_DEBUG=1`` re-raises it for the developer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.diagnosis import pipeline


def _trip(verify: bool = False) -> nantrace.Report:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, name="head")])
    optimizer = keras.optimizers.SGD(0.01)
    x = np.ones((8, 4), "float32")
    x[3, 1] = np.nan

    @nantrace.watch
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step.verify = verify
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(tf.constant(x))
    return caught.value.report


def _broken(*args, **kwargs):
    raise TypeError("unsupported operand type(s) for /: 'dict' and 'int'")


def test_an_internal_error_in_cause_inference_keeps_the_origin_and_says_unknown(monkeypatch):
    monkeypatch.delenv("NANTRACE_DEBUG", raising=False)
    monkeypatch.setattr(pipeline, "infer_cause", _broken)
    report = _trip()
    assert report.origin.kind == "input_data"
    assert report.cause.id == "unknown" and "internal error (TypeError" in report.cause.summary
    assert report.cause.evidence["internal_error"].startswith("TypeError")


def test_nantrace_debug_re_raises_the_internal_error(monkeypatch):
    monkeypatch.setenv("NANTRACE_DEBUG", "1")
    monkeypatch.setattr(pipeline, "infer_cause", _broken)
    with pytest.raises(TypeError, match="dict"):
        _trip()


def test_an_internal_error_while_verifying_a_fix_leaves_it_unchecked(monkeypatch):
    from nantrace.diagnosis import verify

    monkeypatch.delenv("NANTRACE_DEBUG", raising=False)
    monkeypatch.setitem(verify._ATTEMPTS, "clean_input", _broken)
    report = _trip(verify=True)
    fix = report.fixes[0]
    assert fix.id == "clean_input" and fix.verified is None
    assert fix.params["verification"].startswith("not simulated: nantrace internal error")
