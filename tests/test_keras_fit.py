"""model.fit surface: NanTraceCallback / watch(model) give the same answers as the decorator."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import LogFeatures, SqrtActivation

import nantrace
from nantrace.keras import NanTraceCallback


def regression_data(seed=0, n=128, nan_row=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    if nan_row is not None:
        x[nan_row, 2] = np.nan
    return x, y


def sequential(*middle, name="net"):
    return keras.Sequential(
        [keras.Input((8,)), *middle, keras.layers.Dense(1, name="head")], name=name
    )


def fit_report(model, x, y, **fit_kwargs):
    try:
        model.fit(
            x,
            y,
            batch_size=32,
            epochs=2,
            verbose=0,
            shuffle=False,
            callbacks=[NanTraceCallback()],
            **fit_kwargs,
        )
    except nantrace.NonFiniteError as error:
        return error.report
    return None


def test_input_data_row_in_fit():
    keras.utils.set_random_seed(0)
    model = sequential(keras.layers.Dense(8, activation="relu"))
    model.compile(optimizer="adam", loss="mse")
    report = fit_report(model, *regression_data(nan_row=70))
    assert report.origin.kind == "input_data"
    assert report.origin.rows == (70 - 64,) and report.trip.step == 2
    assert report.fixes[0].id == "clean_input"


def test_activation_in_functional_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    out = keras.layers.Dense(1, name="head")(LogFeatures(name="logfeat")(hidden))
    model = keras.Model(inputs, out, name="functional")
    model.compile(optimizer="adam", loss="mse")
    report = fit_report(model, *regression_data(1))
    assert (report.origin.kind, report.origin.op_type) == ("activation", "Log")
    assert report.origin.layer == "functional/logfeat"
    assert report.fixes[0].id == "add_epsilon"


def test_loss_in_compiled_custom_loss_with_jit():
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(64, 8)) * 40).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=64)]
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])

    def hand_written_cross_entropy(y_true, p):
        return -tf.reduce_sum(y_true * tf.math.log(p), axis=-1)

    model.compile(optimizer="adam", loss=hand_written_cross_entropy, jit_compile=True)
    report = fit_report(model, x, y)
    assert (report.origin.kind, report.origin.op_type) == ("loss", "Log")
    assert report.cause.id == "unstable_loss"
    assert report.fixes[0].id in {"use_from_logits", "add_epsilon"}


def test_gradient_in_subclassed_model_with_tf_data_and_steps_per_execution():
    keras.utils.set_random_seed(3)

    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed")
            self.hidden = keras.layers.Dense(16, activation="relu", name="hidden")
            self.root = SqrtActivation(name="sqrt_act")
            self.head = keras.layers.Dense(1, name="head")

        def call(self, x):
            return self.head(self.root(self.hidden(x)))

    model = Net()
    model.compile(optimizer="adam", loss="mse", steps_per_execution=3)
    x, y = regression_data(3)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    try:
        model.fit(dataset, epochs=1, verbose=0, callbacks=[NanTraceCallback()])
    except nantrace.NonFiniteError as error:
        report = error.report
    assert (report.origin.kind, report.origin.op_type) == ("gradient", "SqrtGrad")
    assert report.origin.layer == "subclassed/sqrt_act"


def test_matmul_overflow_from_initializer():
    keras.utils.set_random_seed(4)
    init = keras.initializers.RandomNormal(stddev=3000.0)
    model = sequential(
        *[keras.layers.Dense(64, activation="relu", kernel_initializer=init) for _ in range(10)]
    )
    model.compile(optimizer="adam", loss="mse")
    report = fit_report(model, *regression_data(4))
    assert report.origin.kind == "matmul_overflow"
    assert report.cause.id == "initializer_scale"
    assert report.fixes[0].id == "change_initializer"


def test_optimizer_update_epsilon_zero():
    keras.utils.set_random_seed(5)
    model = sequential(
        keras.layers.Dense(
            16,
            activation="relu",
            name="hidden",
            bias_initializer=keras.initializers.Constant(-100.0),
        )
    )
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3, epsilon=0.0), loss="mse")
    report = fit_report(model, *regression_data(5))
    assert report.origin.kind == "optimizer_update"
    assert report.cause.id == "missing_epsilon" and report.fixes[0].id == "add_epsilon"


def test_stop_mode_stops_fit_cleanly(capsys):
    keras.utils.set_random_seed(6)
    model = sequential(keras.layers.Dense(8, activation="relu"))
    model.compile(optimizer="adam", loss="mse")
    callback = NanTraceCallback(on_nan="stop")
    history = model.fit(
        *regression_data(6, nan_row=40),
        batch_size=32,
        epochs=3,
        verbose=0,
        shuffle=False,
        callbacks=[callback],
    )
    assert len(history.history["loss"]) == 1
    assert len(callback.reports) == 1 and callback.reports[0].origin.kind == "input_data"
    assert "input_data" in capsys.readouterr().err


def test_watch_model_guards_fit_and_stays_transparent_when_healthy():
    def train(watched):
        keras.utils.set_random_seed(7)
        model = sequential(keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.2))
        if watched:
            model = nantrace.watch(model)
        model.compile(optimizer="adam", loss="mse")
        history = model.fit(*regression_data(7), batch_size=32, epochs=2, verbose=0, shuffle=False)
        return history.history["loss"], [v.numpy() for v in model.variables]

    plain_losses, plain_weights = train(False)
    watched_losses, watched_weights = train(True)
    assert plain_losses == watched_losses
    for a, b in zip(plain_weights, watched_weights, strict=True):
        np.testing.assert_array_equal(a, b)


class TraceCounting(keras.Sequential):
    """Counts its train_step's traces: Python code in a traced step runs once per trace."""

    traces = 0

    def train_step(self, data):
        TraceCounting.traces += 1
        return super().train_step(data)


def test_a_new_callback_per_fit_reuses_the_traced_step():
    keras.utils.set_random_seed(0)
    x, y = regression_data()
    model = TraceCounting([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    TraceCounting.traces = 0
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[NanTraceCallback()])
    first = TraceCounting.traces
    assert first > 0
    for _ in range(2):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[NanTraceCallback()])
    assert TraceCounting.traces == first
    assert len(model._nantrace_callback_functions) == 1


def test_bad_on_nan():
    with pytest.raises(nantrace.NantraceError, match="on_nan must be one of"):
        NanTraceCallback(on_nan="panic")


@pytest.mark.parametrize("budget", [0.0, 1e9], ids=["gated", "host-restore"])
def test_fit_step_gated_after_its_first_steps(monkeypatch, budget):
    """model.fit's step, re-traced gated after its first healthy steps when its re-run would be
    too slow (forced here through RERUN_BUDGET_S), still names the NaN row; gated, the loss
    trip needs no re-run from the anchor, restored from the anchor it says so."""
    from nantrace.live import guard

    monkeypatch.setattr(guard, "RERUN_BUDGET_S", budget)
    keras.utils.set_random_seed(0)
    model = sequential(keras.layers.Dense(8, activation="relu"))
    model.compile(optimizer="adam", loss="mse")
    report = fit_report(model, *regression_data(n=256, nan_row=200))
    assert report.origin.kind == "input_data"
    assert report.origin.rows == (200 - 192,) and report.trip.step == 6
    undone = [n for n in report.notes if n.startswith("optimizer update undone")]
    assert len(undone) == (budget > 0)


def test_a_compiled_metric_that_divides_by_a_zero_target_is_the_metrics_not_the_updates():
    """A metric passed to compile() runs after the update in Keras' train_step; its x / 0 on
    a zero target makes its state (and the returned logs) +Inf while the loss, gradients and
    weights stay finite: the origin is the metric's division, not an optimizer update."""

    def relative_error(y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_true - y_pred) / tf.abs(y_true))

    keras.utils.set_random_seed(0)
    x, y = regression_data()
    y[5, 0] = 0.0
    model = sequential(keras.layers.Dense(16, activation="relu"))
    model.compile(keras.optimizers.Adam(1e-3), "mse", metrics=[relative_error])
    report = fit_report(model, x, y)
    assert report is not None and not (report.trip.loss or report.trip.gradients)
    assert report.origin.op_type == "RealDiv" and report.origin.kind == "loss"
    assert report.cause.id == "missing_epsilon"


def test_sample_weights_on_a_raw_scale_are_named_and_rescaled_by_their_mean():
    """fit(..., sample_weight=w) with a rare weight of 5000: the third element of fit's data
    is a weight, not a label; it is rescaled by its mean (named as fit's sample_weight)."""
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = x[:, :2].sum(axis=1, keepdims=True).astype("float32")
    w = rng.choice([1.0, 5000.0], p=[0.98, 0.02], size=512).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    with pytest.raises(nantrace.NonFiniteError) as error:
        model.fit(
            x,
            y,
            sample_weight=w,
            batch_size=32,
            epochs=5,
            verbose=0,
            callbacks=[NanTraceCallback()],
        )
    report = error.value.report
    assert report.cause.id == "unscaled_input" and report.cause.evidence["sample_weights"]
    first = report.fixes[0]
    assert first.id == "rescale_input" and first.params["tensor"].endswith("[2]")
    assert first.snippet.startswith("sample_weight = sample_weight * ")


def _scheduled_regression(learning_rate: float):
    """An MLP regression whose LearningRateScheduler, meant to divide the rate by 10 each
    epoch, multiplies it: the rate is written between steps by the callback."""
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(512, 1))).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(learning_rate, momentum=0.9), "mse")
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr * 10.0 if epoch > 0 else lr
    )
    return model, x, y, schedule


def test_a_rate_a_callback_sets_is_not_verified_by_assigning_it():
    """`optimizer.learning_rate = X` typed before fit is overwritten by the callback that sets
    the rate every epoch, so training diverges as before: the fix is not simulated (verified
    None) and says where the rate is set, where assigning X from the anchor would 'train'."""
    model, x, y, schedule = _scheduled_regression(1e-3)
    callback = NanTraceCallback(on_nan="stop", early_warning="off")
    model.fit(
        x, y, batch_size=32, epochs=8, verbose=0, shuffle=False, callbacks=[schedule, callback]
    )
    report = callback.reports[0]
    assert report.cause.id == "learning_rate_too_high"
    lower = next(f for f in report.fixes + report.tried if f.id == "lower_learning_rate")
    assert lower.verified is None, lower.params.get("verification")
    assert "between steps" in str(lower.params.get("verification")), lower.params
    # typed as the snippet says, the callback raises the rate again and the run goes NaN
    model, x, y, schedule = _scheduled_regression(1e-3)
    model.optimizer.learning_rate = float(lower.params["suggested"])
    history = model.fit(
        x, y, batch_size=32, epochs=8, verbose=0, shuffle=False, callbacks=[schedule]
    )
    assert not np.isfinite(history.history["loss"][-1])
