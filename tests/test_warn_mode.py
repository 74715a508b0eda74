"""on_nan="warn": the full report once, one line per later trip, a count printed at the end."""

import io
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.keras import NanTraceCallback

BAD_STEPS = (2, 4, 5, 8, 11)  # steps whose batch holds a NaN: five trips


def make_step(seed=0, **watch_kwargs):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-2)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return nantrace.watch(train_step, on_nan="warn", **watch_kwargs), model, optimizer


def batch(step, bad):
    rng = np.random.default_rng(100 + step)
    x = rng.normal(size=(16, 4)).astype("float32")
    if bad:
        x[step % 16, 1] = np.nan
    return tf.constant(x), tf.constant(rng.normal(size=(16, 1)).astype("float32"))


def state(model, optimizer):
    return [v.numpy().copy() for v in [*model.variables, *optimizer.variables]]


def quiet(step):
    """Print the count to nowhere, so it is not printed to the test output at exit."""
    step.summarize(file=io.StringIO())


def run_loop(step, model, optimizer, n=14):
    """Run n steps; check each tripped step left the state exactly as before it."""
    losses = []
    for i in range(n):
        before = state(model, optimizer)
        loss = step(*batch(i, bad=i in BAD_STEPS))
        if i in BAD_STEPS:
            for a, b in zip(before, state(model, optimizer), strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            losses.append(float(loss))
    return losses


def test_first_trip_full_report_then_one_line_each():
    step, model, optimizer = make_step()
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")  # Python's own: each message/location shown once
        losses = run_loop(step, model, optimizer)
    messages = [str(w.message) for w in caught if issubclass(w.category, nantrace.NonFiniteWarning)]
    assert len(messages) == len(BAD_STEPS) == step.trips == len(step.reports) == 5
    full, *later = messages
    assert full.startswith("nantrace: non-finite at step 2") and len(full.splitlines()) > 5
    assert "WHERE" in full and "later non-finite steps of train_step warn with one line" in full
    for number, (message, bad) in enumerate(zip(later, BAD_STEPS[1:], strict=True), start=2):
        assert "\n" not in message
        assert message.startswith(f"nantrace: step skipped (trip {number} of train_step): ")
        assert message.endswith(step.reports[number - 1].headline())
        assert f"non-finite at step {bad} " in message
    assert caught[0].message.report is step.reports[0]
    # training went on from the restored state, and moved on the healthy steps
    assert step.step == 14 and len(losses) == 14 - 5 and np.all(np.isfinite(losses))
    assert all(np.all(np.isfinite(v)) for v in state(model, optimizer))
    assert losses[-1] < losses[0]
    quiet(step)


def test_later_trips_are_diagnosed_without_fix_verification(monkeypatch):
    from nantrace.diagnosis import verify

    verified_steps = []
    original = verify.verify_fixes

    def counting(context, fixes):
        verified_steps.append(context.report.trip.step)
        return original(context, fixes)

    monkeypatch.setattr(verify, "verify_fixes", counting)
    step, model, optimizer = make_step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nantrace.NonFiniteWarning)
        run_loop(step, model, optimizer, n=6)
    first, *later = step.reports
    assert [r.trip.step for r in step.reports] == [2, 4, 5]
    assert verified_steps == [2]  # fixes replayed for the first trip only
    assert not any("fixes not verified" in n for n in first.notes)
    for report in later:
        assert report.origin.kind == "input_data" and report.fixes
        assert not any(f.verified for f in report.fixes)
        assert any("fixes not verified" in n for n in report.notes)
    assert not hasattr(step, "verify") or step.verify is not False  # flag restored
    quiet(step)


def test_repeated_one_liner_text_is_still_shown():
    """Two watched steps tripping at the same steps give identical one-liners from one line
    of code; the default filter would show that text once, nantrace shows both."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for _ in range(2):
            step, model, optimizer = make_step()
            for _ in range(2):
                step(*batch(2, bad=True))  # trips at step 0 and 1, same batch
            quiet(step)
    messages = [str(w.message) for w in caught if issubclass(w.category, nantrace.NonFiniteWarning)]
    assert len(messages) == 4
    assert messages[1] == messages[3] and "trip 2 of train_step" in messages[1]


def test_user_filters_still_apply():
    step, model, optimizer = make_step()
    with warnings.catch_warnings():
        warnings.simplefilter("error", nantrace.NonFiniteWarning)
        step(*batch(0, bad=False))
        with pytest.raises(nantrace.NonFiniteWarning):
            step(*batch(1, bad=True))
        with pytest.raises(nantrace.NonFiniteWarning, match="trip 2 of train_step"):
            step(*batch(2, bad=True))
    assert step.trips == 2
    quiet(step)


def test_summary_is_printed_once(capsys):
    step, model, optimizer = make_step()
    step.verify = False  # the diagnosis is not under test here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nantrace.NonFiniteWarning)
        assert not step.summarize()  # nothing tripped yet
        run_loop(step, model, optimizer, n=6)
    assert step.summarize() and not step.summarize()
    err = capsys.readouterr().err
    assert err.count("nantrace: 3 steps were non-finite and skipped") == 1
    assert "train_step.reports holds all" in err


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_warn_mode import BAD_STEPS, make_step, run_loop
step, model, optimizer = make_step()
run_loop(step, model, optimizer)
print("loop done", step.trips, file=sys.stderr, flush=True)
"""


def test_exit_summary_in_a_subprocess(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=os.path.dirname(__file__))))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": ""}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    err = result.stderr
    assert err.count("NonFiniteWarning: ") == 5  # default filters, one warning per trip
    assert err.count("WHERE") == 1
    assert err.count("NonFiniteWarning: nantrace: step skipped (trip ") == 4
    summary = (
        "nantrace: 5 steps were non-finite and skipped (on_nan='warn'); first report above; "
        "train_step.reports holds all"
    )
    assert err.count(summary) == 1
    lines = err.rstrip().splitlines()
    assert lines[-1] == summary and "loop done 5" in lines[-2]


def fit_data(n=128, bad_batches=(1, 3, 6)):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    for b in bad_batches:
        x[16 * b + 3, 2] = np.nan
    return x, y


def fit_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def test_keras_fit_callback_warn(capsys):
    model = fit_model()
    callback = NanTraceCallback(on_nan="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        history = model.fit(
            *fit_data(), batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[callback]
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, nantrace.NonFiniteWarning)]
    assert len(messages) == 3 == callback.trips == len(callback.reports)
    assert "WHERE" in messages[0]
    assert all("\n" not in m and "skipped (trip" in m for m in messages[1:])
    assert [r.trip.step for r in callback.reports] == [1, 3, 6]
    assert np.isfinite(history.history["loss"][-1])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    err = capsys.readouterr().err
    assert err.count("nantrace: 3 steps were non-finite and skipped in this fit") == 1
    assert "callback.reports holds all" in err
    watched = next(iter(model._nantrace_callback_functions.values())).watched
    assert not watched.summarize()  # printed at on_train_end; nothing left for exit


def test_keras_watch_model_warn_counts_trips():
    model = nantrace.watch(fit_model(), on_nan="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*fit_data(bad_batches=(2, 5)), batch_size=16, epochs=1, shuffle=False, verbose=0)
    watched = model.train_function.watched
    assert watched.trips == 2 and len(watched.reports) == 2
    assert sum(issubclass(w.category, nantrace.NonFiniteWarning) for w in caught) == 2
    out = io.StringIO()
    assert watched.summarize(file=out)
    assert out.getvalue() == (
        "nantrace: 2 steps were non-finite and skipped (on_nan='warn'); first report above; "
        "model.train_function.watched.reports holds all\n"
    )


@pytest.mark.parametrize("stuck_on", ["state", "data"])
def test_a_run_of_trips_that_never_trains_warns_once_then_only_counts(stuck_on):
    """Every step trips from the same restored state (weights that overflow the loss on any
    batch, or every batch holding a NaN): after STUCK_AFTER trips in a row one warning says
    training is not moving and what to do; later trips of that run are restored and counted
    but not diagnosed or warned one by one (a flood of identical reports, each a replay). A
    step that trains ends the run: the next trip warns with its one line again."""
    from nantrace.live.guard import STUCK_AFTER

    step, model, optimizer = make_step(verify=False)
    kernel = model.layers[-1].kernel
    sane = kernel.numpy()
    if stuck_on == "state":  # before the first call, so the guard's anchor holds it too
        kernel.assign(np.full_like(sane, 1e30))  # the loss overflows to inf on every batch
    before = [v.numpy().copy() for v in model.variables]  # Adam's slots come at the 1st call
    calls = STUCK_AFTER + 15
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(calls):
            step(*batch(i, bad=stuck_on == "data"))
    messages = [str(w.message) for w in caught if issubclass(w.category, nantrace.NonFiniteWarning)]
    for a, b in zip(before, model.variables, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    assert int(optimizer.iterations.numpy()) == 0
    assert step.trips == calls and len(step.reports) == STUCK_AFTER
    assert len(messages) == STUCK_AFTER  # the full report, one-liners, then the stuck line
    stuck = messages[-1]
    assert f"{STUCK_AFTER} steps of train_step in a row" in stuck and "steps 0-9" in stuck
    if stuck_on == "state":
        assert "the state itself trips on every batch" in stuck
    else:
        assert "every batch since step 0 holds non-finite values" in stuck
    kernel.assign(sane)
    step.reanchor()  # a write outside the step: the guard's anchor must hold it
    step(*batch(99, bad=False))  # trains: the run of trips is over
    before = state(model, optimizer)
    with pytest.warns(nantrace.NonFiniteWarning, match=r"step skipped \(trip 26 of"):
        step(*batch(100, bad=True))
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)  # re-run from the anchor reanchor() took
    assert len(step.reports) == STUCK_AFTER + 1
    quiet(step)
