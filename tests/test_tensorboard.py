"""TensorBoard events from the guard's history and reports, read back from the event files."""

from __future__ import annotations

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.keras import NanTraceCallback
from nantrace.live.tensorboard import TensorBoardWriter


def events(log_dir):
    """{tag: [(step, value)]} of every event file under log_dir, in file order."""
    found: dict[str, list] = {}
    for path in sorted(glob.glob(os.path.join(str(log_dir), "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                data = tf.make_ndarray(value.tensor)
                plugin = value.metadata.plugin_data.plugin_name
                if plugin:  # the first event of a tag carries its plugin
                    found.setdefault(("plugin", value.tag), plugin)
                item = data.item() if data.shape == () else data
                found.setdefault(value.tag, []).append((event.step, item))
    return found


def model_and_data(nan_row=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, name="hidden"), keras.layers.Dense(1, name="out")]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    if nan_row is not None:
        x[nan_row, 1] = np.nan
    return model, x, x.sum(axis=1, keepdims=True)


def test_fit_writes_history_scalars(tmp_path):
    model, x, y = model_and_data()
    callback = NanTraceCallback(log_dir=str(tmp_path))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False, callbacks=[callback])
    found = events(tmp_path)
    loss = found["nantrace/loss"]
    assert [step for step, _ in loss] == list(range(12))  # 3 epochs x 4 batches, each once
    assert found[("plugin", "nantrace/loss")] == "scalars"
    history = callback._function.watched.history
    record = history.read()
    assert np.allclose([v for _, v in loss], record.loss)  # the ring buffer, exactly
    assert np.allclose([v for _, v in found["nantrace/grad_norm"]], record.grad_norm)
    weight_tags = sorted(t for t in found if isinstance(t, str) and "weight_norm/" in t)
    assert len(weight_tags) == len(history.names) >= 4  # kernels and biases of both layers
    assert all(len(found[t]) == 12 for t in weight_tags)
    assert "nantrace/report" not in found  # a healthy run has no report


def test_warn_mode_writes_the_report_at_its_step(tmp_path):
    model, x, y = model_and_data(nan_row=40)  # batch 2 of each epoch
    callback = NanTraceCallback(on_nan="warn", log_dir=str(tmp_path))
    with pytest.warns(nantrace.NonFiniteWarning):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[callback])
    found = events(tmp_path)
    reports = found["nantrace/report"]
    assert [step for step, _ in reports] == [2, 6]
    assert found[("plugin", "nantrace/report")] == "text"
    first = reports[0][1].decode()
    assert first.startswith(f"**{callback.reports[0].headline()}**")
    assert "    WHERE" in first and "input_data" in first
    grad = dict(found["nantrace/grad_norm"])
    assert not np.isfinite(grad[2]) and np.isfinite(grad[1]) and np.isfinite(grad[3])


def test_raise_mode_writes_history_and_report_before_the_error(tmp_path):
    model, x, y = model_and_data(nan_row=40)
    callback = NanTraceCallback(log_dir=str(tmp_path))
    with pytest.raises(nantrace.NonFiniteError):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[callback])
    found = events(tmp_path)
    assert [step for step, _ in found["nantrace/loss"]] == [0, 1, 2]
    assert [step for step, _ in found["nantrace/report"]] == [2]


def test_writer_on_a_custom_loop_writes_each_row_once(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.01)

    @nantrace.watch
    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    writer = TensorBoardWriter(str(tmp_path))
    x = np.ones((4, 3), "float32")
    losses = []
    for _ in range(3):
        for _ in range(5):
            losses.append(float(train_step(x)))
        assert writer.flush(train_step) == 5
    writer.close()
    found = events(tmp_path)
    assert [step for step, _ in found["nantrace/loss"]] == list(range(15))
    assert np.allclose([v for _, v in found["nantrace/loss"]], losses)
    assert writer.rows_lost == 0


def test_fit_flushes_in_chunks_while_training(tmp_path, monkeypatch):
    import nantrace.live.tensorboard

    monkeypatch.setattr(nantrace.live.tensorboard, "FLUSH_EVERY", 4)
    seen = []

    class Peek(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(len(events(tmp_path).get("nantrace/loss", [])))

    model, x, y = model_and_data()
    callbacks = [NanTraceCallback(log_dir=str(tmp_path)), Peek()]
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False, callbacks=callbacks)
    assert seen == [4, 8, 12]  # written every 4 steps, not only at the end of fit


def test_watch_log_dir_writes_history_and_the_trip_report(tmp_path):
    """``nantrace.watch(log_dir=...)`` on a custom loop: every 128 steps, after the trip (before
    NonFiniteError is raised) and on ``flush_log()``."""
    model, x, y = model_and_data()
    optimizer = keras.optimizers.SGD(0.01)

    @nantrace.watch(log_dir=str(tmp_path), verify=False)
    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(xb) - yb))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    xb, yb = tf.constant(x[:16]), tf.constant(y[:16])
    for _ in range(130):
        train_step(xb, yb)
    assert [s for s, _ in events(tmp_path)["nantrace/loss"]] == list(range(128))  # one chunk
    assert train_step.flush_log() == 2
    bad = x[:16].copy()
    bad[3, 0] = np.nan
    with pytest.raises(nantrace.NonFiniteError):
        train_step(tf.constant(bad), yb)
    found = events(tmp_path)
    assert [s for s, _ in found["nantrace/loss"]] == list(range(131))
    assert not np.isfinite(found["nantrace/loss"][-1][1])  # the tripping step, as recorded
    assert [s for s, _ in found["nantrace/report"]] == [130]


def test_watch_model_with_log_dir_says_to_use_the_callback():
    model, _, _ = model_and_data()
    with pytest.raises(nantrace.NantraceError, match="NanTraceCallback"):
        nantrace.watch(model, log_dir="runs")
