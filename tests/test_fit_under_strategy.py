"""model.fit under a tf.distribute strategy (in this process: a one-device MirroredStrategy;
2 replicas and every origin kind: test_distribution.py), and the one-line refusal of the
strategies nantrace does not guard (ParameterServer, TPU, CentralStorage...)."""

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


def test_fit_under_a_mirrored_strategy_is_guarded():
    keras.utils.set_random_seed(0)
    model = _model_under(tf.distribute.MirroredStrategy(["/cpu:0"]))
    x = np.ones((16, 4), "float32")
    x[11, 2] = np.nan  # batch 1 (rows 8..15), row 3
    before = {}

    class Before(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            before["state"] = [v.numpy().copy() for v in self.model.variables]

    with pytest.raises(nantrace.NonFiniteError) as caught:
        model.fit(
            x,
            x[:, :1],
            batch_size=8,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[Before(), NanTraceCallback()],
        )
    report = caught.value.report
    assert report.origin.kind == "input_data" and report.trip.step == 1
    assert report.origin.tensor == "data[0]" and report.origin.rows == (3,)  # one replica
    for old, new in zip(before["state"], model.variables, strict=True):
        np.testing.assert_array_equal(old, new.numpy())


def test_fit_under_an_unsupported_strategy_is_refused_in_one_line():
    model = _model_under(tf.distribute.experimental.CentralStorageStrategy())
    x = np.ones((8, 4), "float32")
    with pytest.raises(nantrace.NantraceError) as caught:
        model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[NanTraceCallback()])
    message = str(caught.value)
    assert "CentralStorageStrategy is not supported" in message and "\n" not in message
    assert "MirroredStrategy and MultiWorkerMirroredStrategy" in message  # what is


def test_custom_loop_under_an_unsupported_strategy_is_refused_in_one_line():
    strategy = tf.distribute.experimental.CentralStorageStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        optimizer = keras.optimizers.SGD(0.01)
        optimizer.build(model.trainable_variables)

    def replica_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(x))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @nantrace.watch
    @tf.function
    def step(x):
        return strategy.run(replica_step, args=(x,))

    with pytest.raises(nantrace.NantraceError) as caught:
        step(tf.ones((8, 4)))
    message = str(caught.value)
    assert message.startswith("nantrace.watch: CentralStorageStrategy is not supported")
    assert "\n" not in message
