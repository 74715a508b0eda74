"""docs/surfaces/distribution.md and the README say ``model.fit`` under a tf.distribute
strategy is refused with a clear error (custom loops under a strategy are supported and tested
in test_distribution.py / test_multiworker.py); this holds them to it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.keras import NanTraceCallback


def _model_under(strategy):
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, name="head")])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_fit_under_a_mirrored_strategy_is_refused_in_one_line():
    model = _model_under(tf.distribute.MirroredStrategy(["/cpu:0"]))
    x = np.ones((8, 4), "float32")
    with pytest.raises(nantrace.NantraceError) as caught:
        model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[NanTraceCallback()])
    message = str(caught.value)
    assert "not supported yet" in message and "\n" not in message
    assert "@nantrace.watch" in message  # says what to do instead
