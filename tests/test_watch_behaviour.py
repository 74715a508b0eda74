"""watch(): exact restore on a trip, on_nan modes, bad usage, report JSON round trip."""

import io
import json
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.report.records import Report


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    return model, keras.optimizers.Adam(1e-2)


def step_for(model, optimizer, epsilon_free_log=False):
    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = tf.reduce_mean(tf.square(pred - y))
            if epsilon_free_log:
                loss = loss + tf.reduce_mean(tf.math.log(tf.abs(pred) * 0.0))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def state(model, optimizer):
    values = [v.numpy().copy() for v in model.variables]  # incl. BN moving stats, seed state
    values += [v.numpy().copy() for v in optimizer.variables]
    return values


def data(bad=False):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    if bad:
        x[3, 1] = np.nan
    return tf.constant(x), tf.constant(rng.normal(size=(16, 1)).astype("float32"))


@pytest.mark.parametrize("compiled", [True, False])
def test_trip_restores_exact_pre_step_state(compiled):
    model, optimizer = make_model()
    step = nantrace.watch(
        tf.function(step_for(model, optimizer)) if compiled else step_for(model, optimizer)
    )
    for _ in range(3):
        step(*data())  # healthy steps: slots, BN stats and seed state all move
    before = state(model, optimizer)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*data(bad=True))
    after = state(model, optimizer)
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert caught.value.report.origin.kind == "input_data"
    assert caught.value.report.origin.rows == (3,)
    assert caught.value.report.trip.step == 3


def test_optimizer_update_trip_is_rolled_back():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(learning_rate=10.0**40)
    optimizer.build(model.trainable_variables)
    before = state(model, optimizer)
    step = nantrace.watch(tf.function(step_for(model, optimizer)))
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*data())
    assert caught.value.report.origin.kind == "optimizer_update"
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)


def test_warn_mode_skips_the_step_and_continues():
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), on_nan="warn")
    step(*data())
    before = state(model, optimizer)
    with pytest.warns(nantrace.NonFiniteWarning, match="input_data"):
        step(*data(bad=True))
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    step(*data())  # training goes on
    assert step.step == 3 and len(step.reports) == 1 and step.trips == 1
    out = io.StringIO()
    assert step.summarize(file=out) and not step.summarize(file=out)  # once, not again at exit
    assert out.getvalue().startswith("nantrace: 1 step was non-finite and skipped")


def test_stop_mode_prints_and_stops(capsys):
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), on_nan="stop")
    assert step(*data(bad=True)) is None or step.stopped
    assert step.stopped
    assert "input_data" in capsys.readouterr().err
    assert step(*data()) is None


def test_bundle_dir_gets_the_report(tmp_path):
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), bundle_dir=str(tmp_path))
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*data(bad=True))
    bundle = caught.value.report.bundle
    assert bundle and os.path.isdir(bundle)
    saved = Report.from_json(open(os.path.join(bundle, "report.json")).read())
    assert saved.origin.kind == "input_data"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no staging left


def test_report_json_round_trip():
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer, epsilon_free_log=True)))
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*data())
    report = caught.value.report
    text = report.to_json()
    assert Report.from_json(text) == report
    data_dict = json.loads(text)
    assert data_dict["origin"]["kind"] == "loss" and data_dict["origin"]["op_type"] == "Log"
    assert data_dict["fixes"][0]["id"] in {"use_from_logits", "add_epsilon"}
    assert str(report).startswith("nantrace: non-finite at step 0")


def test_unknown_schema_version_is_a_clear_error():
    with pytest.raises(ValueError, match="schema_version 99"):
        Report.from_dict({"schema_version": 99})


def test_no_gradients_is_a_clear_error():
    v = tf.Variable(1.0)

    @nantrace.watch
    @tf.function
    def not_a_train_step(x):
        return v * x

    with pytest.raises(nantrace.NantraceError, match="computed no gradients"):
        not_a_train_step(tf.constant(2.0))


def test_no_update_is_a_clear_error():
    v = tf.Variable(1.0)

    @nantrace.watch
    def grads_only(x):
        with tf.GradientTape() as tape:
            loss = v * x
        return tape.gradient(loss, v)

    with pytest.raises(nantrace.NantraceError, match="never updated a trainable variable"):
        grads_only(tf.constant(2.0))


def test_optimizer_hint_allows_update_elsewhere():
    v = tf.Variable(1.0)
    optimizer = keras.optimizers.SGD(0.1)

    @nantrace.watch(optimizer=optimizer)
    def grads_only(x):
        with tf.GradientTape() as tape:
            loss = v * x
        return tape.gradient(loss, v)

    assert float(grads_only(tf.constant(2.0))) == 2.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"on_nan": "explode"}, "on_nan must be one of"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(nantrace.NantraceError, match=message):
        nantrace.watch(lambda x: x, **kwargs)


def test_healthy_watched_run_matches_unwatched():
    def run(watched):
        model, optimizer = make_model(seed=7)
        step = tf.function(step_for(model, optimizer))
        if watched:
            step = nantrace.watch(step)
        losses = [float(step(*data())) for _ in range(5)]
        return losses, state(model, optimizer)

    plain_losses, plain_state = run(False)
    watched_losses, watched_state = run(True)
    assert plain_losses == watched_losses
    for a, b in zip(plain_state, watched_state, strict=True):
        np.testing.assert_array_equal(a, b)


def test_warnings_are_not_raised_on_healthy_steps():
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), on_nan="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error", nantrace.NonFiniteWarning)
        for _ in range(3):
            step(*data())


def test_large_batches_re_anchor_early(monkeypatch):
    """Kept batches are bounded in bytes, not only in count."""
    from nantrace.live import guard

    monkeypatch.setattr(guard, "ANCHOR_BATCH_BYTES", 1000)
    monkeypatch.setattr(guard, "ANCHOR_STATE_FACTOR", 0)
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)))
    for _ in range(7):
        step(*data())  # each batch holds 16 x (4 + 1) floats = 320 bytes
        assert step._since_anchor_bytes <= 1000
        assert len(step.since_anchor) <= 3


def metric_step(model, optimizer):
    """A step that returns, beside its finite loss, a percentage error that is +Inf where a
    target is 0, and an integer count (never checked)."""

    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = tf.reduce_mean(tf.square(pred - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        percentage = 100.0 * tf.reduce_mean(tf.abs(pred - y) / tf.abs(y))
        return loss, percentage, tf.size(y)

    return train_step


@pytest.mark.parametrize("compiled", [True, False])
def test_a_non_finite_returned_metric_trips_and_is_located(compiled):
    model, optimizer = make_model()
    step = metric_step(model, optimizer)
    watched = nantrace.watch(tf.function(step) if compiled else step, verify=False)
    x, y = data()
    watched(x, y)  # no zero target: finite
    before = state(model, optimizer)
    y_zero = tf.tensor_scatter_nd_update(y, [[2, 0]], [0.0])
    with pytest.raises(nantrace.NonFiniteError) as caught:
        watched(x, y_zero)
    report = caught.value.report
    assert report.trip.outputs and not (report.trip.loss or report.trip.gradients)
    assert report.origin.op_type == "RealDiv" and report.origin.kind == "loss"
    assert report.cause.id == "missing_epsilon"
    assert any("a metric it logs" in note for note in report.notes)
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)


def test_check_outputs_false_leaves_returned_values_unchecked():
    model, optimizer = make_model()
    watched = nantrace.watch(tf.function(metric_step(model, optimizer)), check_outputs=False)
    x, y = data()
    _, percentage, _ = watched(x, tf.tensor_scatter_nd_update(y, [[2, 0]], [0.0]))
    assert not np.isfinite(percentage.numpy()) and watched.trips == 0


def test_a_loss_scaled_steps_returned_gradient_norm_is_not_checked():
    # the scaled gradients' norm a loop logs is +inf by design on a loss-scaling optimizer's
    # overflowing steps (here: its sum of squares, at a scale of 2**120), as the gradients
    # themselves are not checked there
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(1e-3), initial_scale=2.0**120
    )

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, tf.linalg.global_norm(grads)

    watched = nantrace.watch(train_step)
    x, y = data()
    _, norm = watched(x, y)
    assert not np.isfinite(norm.numpy()) and watched.trips == 0
