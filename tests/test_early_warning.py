"""Early warning: the detectors' math, the API, and small real runs that diverge or stay healthy.

The runs here are the developers' own (the blind divergence suite lives elsewhere): a linear
regression whose SGD step is just past the stability limit (the loss grows geometrically until
it overflows), an MLP whose learning-rate schedule grows, and healthy runs that must not warn.
"""

from __future__ import annotations

import math
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import standard_step

import nantrace
from nantrace.diagnosis.evidence import Evidence, LayerScale
from nantrace.diagnosis.warning import infer_warning_cause
from nantrace.keras import NanTraceCallback
from nantrace.live.early_warning import (
    _FULL,
    _OVER,
    QUIET_EVERY,
    REARM,
    WARMUP,
    EarlyWarning,
    signals_in,
)
from nantrace.live.history import HistoryRecord
from nantrace.report.warning_records import Signal

NAMES = ("dense/kernel:0", "dense/bias:0")
KERNELS = (True, False)


def feed(detector, grad_norm, loss=1.0, kernel_norm=1.0, healthy=True, half=None, compiled=False):
    """One step of synthetic numbers through the in-graph update (eagerly); the bit mask."""
    bits = detector.update(
        tf.constant(loss, tf.float32),
        tf.constant(grad_norm**2, tf.float32),
        tf.constant([kernel_norm**2, 0.01], tf.float32),
        NAMES,
        KERNELS,
        None if half is None else tf.constant(half, tf.float32),
        tf.constant(healthy),
        compiled=compiled,
    )
    return int(bits.numpy())


def noisy(rng, level=1.0):
    return level * float(np.exp(rng.normal(0, 0.3)))


# -- the detectors' math ------------------------------------------------------------------------
def test_growth_fires_once_after_it_is_sustained_and_not_during_warmup():
    rng = np.random.default_rng(0)
    detector = EarlyWarning()
    fired = []
    for step in range(80):
        grows = step >= 40
        g = noisy(rng) * (1.5 ** (step - 40) if grows else 1.0)
        loss = 1.0 + (0.2 * (step - 40) if grows else 0.0)
        bits = feed(detector, g, loss=loss, kernel_norm=1.0 + 0.001 * step)
        if bits:
            fired.append((step, signals_in(bits)))
    assert len(fired) == 1, fired
    step, ids = fired[0]
    # 10x over the baseline takes ~6 steps of 1.5x growth (the loss is 2x its level after 5),
    # then 4-6 sustained steps that keep climbing
    assert 48 <= step <= 54 and {"grad_norm_growth", "loss_spike"} & set(ids)


def test_warmup_never_fires():
    detector = EarlyWarning()
    assert all(feed(detector, 10.0**step) == 0 for step in range(WARMUP))


def test_stable_noise_and_a_short_spike_do_not_fire():
    rng = np.random.default_rng(1)
    detector = EarlyWarning()
    for step in range(300):
        spike = 50.0 if step in (150, 151) else 1.0
        assert feed(detector, noisy(rng) * spike, loss=noisy(rng) * spike) == 0, step


def test_a_jump_that_stays_up_for_ten_steps_then_recovers_does_not_fire():
    """Over the threshold but not climbing (a bad stretch of data): no warning."""
    rng = np.random.default_rng(4)
    detector = EarlyWarning()
    for step in range(200):
        bad = 100 <= step < 110
        g = noisy(rng) * (50.0 if bad else 1.0)
        assert feed(detector, g, loss=noisy(rng) * (30.0 if bad else 1.0)) == 0, step


def test_growth_without_a_worse_loss_does_not_fire():
    """A gradient norm that grows 30x while the loss falls is not divergence."""
    detector = EarlyWarning()
    rng = np.random.default_rng(2)
    for step in range(120):
        g = noisy(rng) * (30.0 if step >= 60 else 1.0)
        assert feed(detector, g, loss=10.0 / (1 + step)) == 0, step


def test_updates_that_stay_large_while_the_loss_recovers_do_not_fire():
    """One outlier batch: the loss spikes 1000x and comes back within ~10 steps, while the
    kernel's per-step change stays ~100x its healthy size and decays slowly (momentum carrying
    the outlier's update back and forth). The update ratio is over for ~30 steps, far over
    (past the loss-gate bypass): no warning while the loss recovers."""
    rng = np.random.default_rng(5)
    detector = EarlyWarning()
    norm = 1.0
    for step in range(260):
        after = step - 150
        change = 1e-3 * noisy(rng) * (100.0 * 0.97**after if after >= 0 else 1.0)
        norm *= 1.0 + (change if step % 2 else -change)  # swings back and forth
        spike = 1.0 + (1000.0 * 0.5**after if after >= 0 else 0.0)
        assert feed(detector, noisy(rng) * min(spike, 30.0), spike * noisy(rng), norm) == 0, step


def test_a_kernel_left_at_a_higher_level_by_an_outlier_does_not_fire():
    """An outlier update leaves a kernel's norm 8x higher for good (not growing), the loss back
    at its level: over for 150 steps, no warning. The same kernel with the loss stuck 5x above
    its level does warn (a run stuck far above its healthy level)."""
    for stuck_loss, expected in ((1.0, 0), (5.0, 1)):
        rng = np.random.default_rng(6)
        detector = EarlyWarning()
        fired = []
        for step in range(300):
            after = step - 150
            norm = 1.0 if after < 0 else (3.0 if after == 0 else 8.0)
            norm *= 1.0 + 1e-4 * step
            level = 1.0 if after < 0 else stuck_loss
            loss = (100.0 if after in (0, 1) else level) * noisy(rng)
            if feed(detector, noisy(rng), loss, norm):
                fired.append(step)
        assert len(fired) == expected, (stuck_loss, fired)


@pytest.mark.parametrize("scale, fires", [(1e-6, False), (1e-4, True)])
def test_the_update_ratio_warns_only_above_its_absolute_floor(scale, fires):
    """A kernel whose per-step norm change jumps ~500x over its baseline while the loss falls
    (past the loss gate's 100x bypass). From a near-zero baseline (1e-6 to ~5e-4 a step: a net
    that starts to learn, under ``UPDATE_FLOOR``) it does not warn; the same climb from 1e-4
    (to ~5e-2 a step) does."""
    rng = np.random.default_rng(7)
    detector = EarlyWarning()
    norm, fired = 1.0, []
    for step in range(80):
        norm *= 1.0 + scale * noisy(rng) * 2.0 ** min(max(step - 30, 0), 9)
        bits = feed(detector, noisy(rng), loss=2.0 - 0.005 * step, kernel_norm=norm)
        fired += signals_in(bits)
    assert ("update_ratio" in fired) == fires, fired


def test_one_episode_warns_once_and_rearms_after_quiet_steps():
    detector = EarlyWarning()
    rng = np.random.default_rng(3)
    warned = []
    for step in range(40 + 30 + REARM + 40):
        episode = 40 <= step < 70 or step >= 70 + REARM + 15
        g = noisy(rng) * (100.0 if episode else 1.0)
        if feed(detector, g, loss=5.0 if episode else 1.0):
            warned.append(step)
    assert len(warned) == 2, warned
    assert warned[0] < 70 and warned[1] >= 70 + REARM + 15


def test_quiet_steps_skip_the_full_update_and_an_over_step_runs_it():
    """After the warm-up a step with nothing over its threshold runs only the cheap part: the
    baselines move on one such step in QUIET_EVERY. A step with a channel over runs the full
    update on that very step (its over count starts there, so sustain counts stay exact)."""
    rng = np.random.default_rng(5)
    detector = EarlyWarning()
    full = 0
    for _ in range(100):
        before = detector.state()[1][_FULL] if detector.state() is not None else -1.0
        feed(detector, noisy(rng, 1.0), loss=noisy(rng, 1.0))
        full += detector.state()[1][_FULL] != before
    expected = WARMUP + (100 - WARMUP) // QUIET_EVERY
    assert expected - 1 <= full <= expected + 6, full  # (+ the rare noisy step over)
    feed(detector, 1e3, loss=noisy(rng, 1.0))
    channels, scalars = detector.state()
    assert channels[_OVER][0] == 1.0 and scalars[_FULL] == 100.0


def test_tripped_steps_leave_no_trace():
    detector = EarlyWarning()
    for _ in range(20):
        feed(detector, 1.0)
    before = detector.state()
    assert feed(detector, float("inf"), loss=float("nan"), healthy=False) == 0
    after = detector.state()
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_float16_values_nearing_the_limit_fire():
    detector = EarlyWarning()
    fired = []
    for step in range(60):
        half = 100.0 if step < 30 else min(100.0 * 1.4 ** (step - 30), 60000.0)
        bits = feed(detector, 1.0, half=half)
        if bits:
            fired.append((step, signals_in(bits), half))
    assert len(fired) == 1 and fired[0][1] == ["float16_range"], fired
    fired_signal, _ = detector.signals(1 << 4)
    assert fired_signal[0].value < 65504 and "float16 limit" in fired_signal[0].summary


@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16-channel"])
def test_the_compiled_update_fires_as_the_separate_ops_do(half):
    """The update compiled as one XLA cluster (``compiled=True``, outside tf.distribute) must
    fire on the same steps as the separate ops (the default, and what a strategy's replicas
    run): growth, loss spikes, tripped steps."""
    rng = np.random.default_rng(3)
    compiled, separate = EarlyWarning(), EarlyWarning()
    separate._create(NAMES, KERNELS)
    separate_update = tf.function(separate._update)
    fired = []
    for step in range(300):
        phase, t = divmod(step, 60)
        grows = phase % 3 == 1
        g = noisy(rng) * (1.3**t if grows else 1.0)
        loss = noisy(rng, 0.7) * ((1.0 + 0.3 * t) if grows else (50.0 if t in (10, 11) else 1.0))
        kernel = float(np.exp(rng.normal(0, 0.01))) * (1.05**t if grows else 1.0)
        args = (
            tf.constant(loss, tf.float32),
            tf.constant(g * g, tf.float32),
            tf.constant([kernel**2, 0.01], tf.float32),
            NAMES,
            KERNELS,
            tf.constant(100.0 * (1.2**t if grows else 1.0), tf.float32) if half else None,
            tf.constant(bool(rng.random() > 0.03)),
        )
        bits = int(compiled.update(*args, compiled=True).numpy())
        assert bits == int(separate_update(*args).numpy()), step
        fired += [step] if bits else []
    assert len(fired) >= 2, fired  # the sequence does exercise the firing logic
    assert compiled._compiled  # the XLA function was used
    # XLA's log and fused arithmetic round differently in the last bits
    for a, b in zip(compiled.state(), separate.state(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_without_xla_the_compiled_update_runs_as_separate_ops(monkeypatch):
    from nantrace.compat import tf as compat

    monkeypatch.setattr(compat, "xla_compiles", lambda: False)
    rng = np.random.default_rng(0)
    detector = EarlyWarning()
    fired = [
        step
        for step in range(80)
        if feed(
            detector,
            noisy(rng) * (1.5 ** (step - 40) if step >= 40 else 1.0),
            loss=1.0 + (0.2 * (step - 40) if step >= 40 else 0.0),
            compiled=True,
        )
    ]
    assert len(fired) == 1 and 48 <= fired[0] <= 54, fired
    assert not detector._compiled  # no XLA function was made


def test_a_default_watch_never_asks_for_xla(monkeypatch):
    """By default the checks and the detectors are separate ops: a watched step (early warning
    on) never probes or compiles XLA, so XLA's runtime (~110 MB resident) stays out of a
    process that does not use it."""
    from nantrace.compat import tf as compat

    def no_xla():
        raise AssertionError("the default watch asked whether XLA compiles")

    monkeypatch.setattr(compat, "xla_compiles", no_xla)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(1e-3)
    train_step = standard_step(model, optimizer, keras.losses.MeanSquaredError())
    step = nantrace.watch(tf.function(train_step), verify=False)
    assert step.early_warning == "warn" and not step.fuse_tail
    for _ in range(3):
        step(tf.ones([8, 4]), tf.zeros([8, 1]))
    assert step.detector is not None and not step.detector._compiled


def test_a_watched_xla_step_runs_its_checks_as_one_cluster():
    """A step the user compiles with XLA has XLA's runtime loaded already: the checks and the
    detectors after it run as one more XLA cluster (``fuse_tail``), and that step still warns
    and trips as the separate ops do (``test_guard_exact.py``)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(1e-3)
    train_step = standard_step(model, optimizer, keras.losses.MeanSquaredError())
    xla = nantrace.watch(tf.function(train_step, jit_compile=True), verify=False)
    plain = nantrace.watch(tf.function(train_step), verify=False)
    assert xla.fuse_tail and not plain.fuse_tail
    for _ in range(3):
        xla(tf.ones([8, 4]), tf.zeros([8, 1]))
    ops = {
        op.type
        for op in xla._step_fn.get_concrete_function(
            tf.ones([8, 4]), tf.zeros([8, 1])
        ).graph.get_operations()
    }
    # the detectors' update is inside the tail's cluster, not separate ops in the step's graph
    assert "AssignVariableOp" not in ops and xla.history.read().loss.shape[0] == 3


# -- the cause rules ----------------------------------------------------------------------------
def _signal(signal_id, variable=None):
    return Signal(signal_id, f"{signal_id} summary", 20.0, 10.0, 1.0, 4, variable)


def test_cause_rules():
    plain = Evidence(step=50, input_abs_max=1.0, learning_rate=0.1, optimizer_name="SGD")
    grad = (_signal("grad_norm_growth"),)
    assert infer_warning_cause(grad, grad, plain).id == "gradient_explosion"
    weight = (_signal("weight_norm_growth", "dense/kernel:0"),)
    assert infer_warning_cause(weight, weight, plain).id == "learning_rate_too_high"
    loss = (_signal("loss_spike"),)
    unknown = infer_warning_cause(loss, loss, plain)
    assert unknown.id == "unknown" and unknown.evidence["signals"] == ["loss_spike"]
    rnn = Evidence(step=50, input_abs_max=1.0, recurrent_layers=["model/rnn (SimpleRNN)"])
    assert infer_warning_cause(grad, grad, rnn).id == "recurrent_explosion"
    scales = [LayerScale(f"d{i}", 1.0, 0.18, 64, "random_normal", "relu", 1.0) for i in range(4)]
    deep = Evidence(step=50, input_abs_max=1.0, layer_scales=scales)
    cause = infer_warning_cause(grad, grad, deep)
    assert cause.id == "initializer_scale" and cause.evidence["compound_ratio"] > 100
    half = (_signal("float16_range"),)
    assert infer_warning_cause(half, half, plain).id == "float16_range"


def _history(losses):
    n = len(losses)
    return HistoryRecord(
        steps=np.arange(n),
        loss=np.asarray(losses, np.float32),
        grad_norm=np.ones(n, np.float32),
        weight_norm=np.geomspace(1.0, 50.0, n, dtype=np.float32)[:, None],
        names=("dense/kernel:0",),
    )


def test_an_objective_unbounded_below_is_not_called_a_learning_rate():
    """Weights that grow while the loss falls steadily far below zero: the objective rewards
    the growth (a penalty with the wrong sign), so the cause is ``unknown`` with the descent,
    not ``learning_rate_too_high``; a loss that stays at or above zero, or only dips below it,
    keeps the learning-rate cause."""
    weight = (_signal("weight_norm_growth", "dense/kernel:0"),)
    falling = -np.geomspace(10.0, 1e5, 40)  # -10 to -1e5, down every step
    blown_up = [*falling, 7e4]  # a squared-error term blows the last value back up
    for losses in (falling, blown_up):
        evidence = Evidence(step=40, input_abs_max=1.0, history=_history(losses))
        cause = infer_warning_cause(weight, weight, evidence)
        assert cause.id == "unknown", cause
        assert cause.evidence["loss_lowest"] == pytest.approx(-1e5, rel=1e-3)
    for losses in (np.geomspace(1.0, 1e3, 40), np.linspace(1.0, -5.0, 40)):
        evidence = Evidence(step=40, input_abs_max=1.0, history=_history(losses))
        assert infer_warning_cause(weight, weight, evidence).id == "learning_rate_too_high"


def test_a_noisy_descent_far_below_zero_is_an_unbounded_objective_a_single_jump_is_not():
    """A minibatch loss falls by noisy steps (down on only about half of them) far below zero:
    still an objective unbounded below, read from block medians. A loss level until one step
    jumps far below zero (one bad step) is not."""
    weight = (_signal("weight_norm_growth", "dense/kernel:0"),)
    rng = np.random.default_rng(0)
    trend = -np.geomspace(1.0, 300.0, 40)
    noisy = trend + rng.normal(scale=0.5, size=40) * np.abs(trend)
    noisy[-1] = trend[-1] * 2.0  # the lowest comes last
    assert np.mean(np.diff(noisy[-21:]) < 0) < 0.75  # the step-to-step rule alone misses it
    cause = infer_warning_cause(
        weight, weight, Evidence(step=40, input_abs_max=1.0, history=_history(noisy))
    )
    assert cause.id == "unknown", cause
    level = -1.0 + rng.normal(scale=0.3, size=40)
    level[-1] = -1e3
    cause = infer_warning_cause(
        weight, weight, Evidence(step=40, input_abs_max=1.0, history=_history(level))
    )
    assert cause.id == "learning_rate_too_high", cause


def test_unscaled_data_rules_need_the_tensors_role():
    weight = (_signal("weight_norm_growth", "dense/kernel:0"),)
    features = Evidence(step=50, input_abs_max=2e3, feature="x", target="y", target_abs_max=3.0)
    cause = infer_warning_cause(weight, weight, features)
    assert cause.id == "unscaled_input" and cause.evidence["tensor"] == "x"
    targets = Evidence(step=50, input_abs_max=3.0, feature="x", target="y", target_abs_max=4e3)
    cause = infer_warning_cause(weight, weight, targets)
    assert cause.id == "unscaled_target" and cause.evidence["target_abs_max"] == 4e3
    # without a replay nothing says which tensor is large: no data cause is guessed
    unknown_role = Evidence(step=50, input_abs_max=2e3, learning_rate=0.1)
    assert infer_warning_cause(weight, weight, unknown_role).id == "learning_rate_too_high"


# -- the API ------------------------------------------------------------------------------------
def test_bad_mode_is_one_line():
    with pytest.raises(nantrace.NantraceError, match="early_warning must be one of") as info:
        nantrace.watch(lambda: None, early_warning="loud")
    assert "\n" not in str(info.value)
    with pytest.raises(nantrace.NantraceError, match="early_warning must be one of"):
        NanTraceCallback(early_warning=True)


def linear_run(early_warning="warn", steps=400, lr=1.05, bundle_dir=None, x_scale=1.0):
    """SGD just past the stability limit of a linear regression: the loss grows ~1.07x per
    step from its start, and overflows after ~190 steps. ``x_scale`` multiplies the features
    (and divides ``lr`` by its square: the same limit in raw units)."""
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(1024, 1))).astype("float32")
    x, lr = x * np.float32(x_scale), lr / x_scale**2
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(lr)
    loss_fn = keras.losses.MeanSquaredError()

    @nantrace.watch(early_warning=early_warning, verify=False, bundle_dir=bundle_dir)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    def batches():
        for i in range(steps):
            j = (i * 64) % (1024 - 63)
            yield x[j : j + 64], y[j : j + 64]

    return step, model, batches()


def test_diverging_run_warns_once_before_the_nan_with_cause_and_fixes():
    step, _, batches = linear_run()
    nan_at = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for batch in batches:
                step(*batch)
        except nantrace.NonFiniteError as error:
            nan_at = error.report.trip.step
    divergence = [w for w in caught if issubclass(w.category, nantrace.DivergenceWarning)]
    assert nan_at is not None and len(divergence) == 1
    report = divergence[0].message.report
    assert step.early_warnings == [report]
    assert report.step < nan_at - 5
    assert report.cause.id == "learning_rate_too_high"
    assert report.fixes[0].id == "lower_learning_rate"
    assert report.fixes[0].params["suggested"] == pytest.approx(0.105)
    assert str(divergence[0].message).startswith("nantrace: divergence warning at step")
    assert any(note.startswith("fix not checked") for note in report.notes)


def test_a_warning_on_raw_unit_features_blames_them_not_the_learning_rate():
    step, _, batches = linear_run(x_scale=1000.0)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            for batch in batches:
                step(*batch)
        except nantrace.NonFiniteError:
            pass
    assert step.early_warnings
    report = step.early_warnings[0]
    assert report.cause.id == "unscaled_input" and report.cause.evidence["tensor"] == "x"
    assert report.fixes[0].id == "rescale_input"


def test_raise_keeps_the_warning_steps_state():
    step, model, batches = linear_run(early_warning="raise")
    with pytest.raises(nantrace.DivergenceError) as info:
        for batch in batches:
            step(*batch)
    report = info.value.report
    assert step.step == report.step + 1 and step.early_warnings == [report]
    after = [v.numpy() for v in model.trainable_variables]
    # the same run, unwatched by the detectors, up to the same step: identical weights
    plain, plain_model, plain_batches = linear_run(early_warning="off")
    for _ in range(report.step + 1):
        plain(*next(plain_batches))
    assert plain.detector is None
    for a, b in zip(after, [v.numpy() for v in plain_model.trainable_variables], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_warning_writes_its_bundle_to_bundle_dir(tmp_path):
    step, _, batches = linear_run(early_warning="raise", bundle_dir=str(tmp_path))
    with pytest.raises(nantrace.DivergenceError) as info:
        for batch in batches:
            step(*batch)
    report = info.value.report
    assert report.bundle and os.path.basename(report.bundle).startswith("warning-")
    loaded = nantrace.load_bundle(report.bundle)
    assert loaded.report.step == report.step and loaded.report.signal == report.signal


def test_user_filters_decide_but_the_report_is_kept():
    step, _, batches = linear_run(steps=120)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", nantrace.DivergenceWarning)
        for batch in batches:
            step(*batch)
    assert not [w for w in caught if issubclass(w.category, nantrace.DivergenceWarning)]
    assert len(step.early_warnings) == 1


def healthy_mlp(seed, batch=32, steps=300, optimizer=None, noise=0.1, spike_at=None):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) + noise * rng.normal(size=(1024, 1))).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = optimizer or keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.MeanSquaredError()

    @nantrace.watch(early_warning="raise", verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    for i in range(steps):
        j = (i * batch) % (1024 - batch + 1)
        scale = 8.0 if spike_at is not None and spike_at <= i < spike_at + 2 else 1.0
        step(x[j : j + batch] * scale, y[j : j + batch])
    return step


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"batch": 2, "noise": 2.0, "optimizer": "sgd"},
        {"spike_at": 150},
    ],
    ids=["adam", "noisy_small_batch", "spike_that_recovers"],
)
def test_healthy_runs_do_not_warn(kwargs):
    if kwargs.get("optimizer") == "sgd":
        kwargs = {**kwargs, "optimizer": keras.optimizers.SGD(0.02)}
    step = healthy_mlp(20, **kwargs)  # early_warning="raise": a warning fails the test
    assert step.early_warnings == []


def test_off_keeps_the_detectors_out_and_the_status_layout():
    step, _, batches = linear_run(early_warning="off", steps=3)
    for batch in batches:
        step(*batch)
    assert step.detector is None and step.early_warnings == []
    runner = step.fresh_runner(early_warning="warn")
    _, tripped = runner.run_checked(*next(linear_run(steps=1)[2]))
    assert not tripped and runner.last_warning == 0 and runner.detector is not None


def test_fit_callback_exposes_warnings():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1.05), loss="mse")
    callback = NanTraceCallback(on_nan="stop", early_warning="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=64, epochs=4, shuffle=False, verbose=0, callbacks=[callback])
    assert len(callback.early_warnings) == 1
    assert [w for w in caught if issubclass(w.category, nantrace.DivergenceWarning)]
    assert math.isfinite(callback.early_warnings[0].signal.value)


def test_float16_policy_feeds_the_float16_channel():
    """Under mixed_float16 the float16 channel reads the largest |kernel| (cast to float16 in
    the forward pass); under float32 it stays empty."""
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01))

        @nantrace.watch(verify=False)
        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        x, y = np.ones((4, 4), "float32"), np.ones((4, 1), "float32")
        for _ in range(3):
            step(x, y)
    finally:
        keras.config.set_dtype_policy("float32")
    channels, _ = step.detector.state()
    largest = max(
        float(np.abs(v.numpy()).max()) for v in model.trainable_variables if len(v.shape) == 2
    )
    assert channels[3, -1] == pytest.approx(math.log(largest), rel=1e-5)
    plain, _, batches = linear_run(steps=3)
    for batch in batches:
        plain(*batch)
    assert np.isnan(plain.detector.state()[0][3, -1])


def test_a_failing_diagnosis_still_warns(monkeypatch):
    import nantrace.diagnosis.warning

    def broken(*args, **kwargs):
        raise RuntimeError("rule crashed")

    monkeypatch.setattr(nantrace.diagnosis.warning, "diagnose_warning", broken)
    step, _, batches = linear_run(steps=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in batches:
            step(*batch)
    (report,) = step.early_warnings
    assert report.cause is None and report.signal.id in ("loss_spike", "grad_norm_growth")
    assert "the diagnosis failed (RuntimeError: rule crashed)" in report.notes[0]
    assert [w for w in caught if issubclass(w.category, nantrace.DivergenceWarning)]


def test_watch_model_raise_leaves_fit_with_the_report():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1.05), loss="mse")
    nantrace.watch(model, early_warning="raise")

    class NoReplay(keras.callbacks.Callback):
        """Fix replay is tested in test_verify_warning; here it only cost time (~70 s in CI)."""

        def on_train_begin(self, logs=None):
            self.model.train_function.watched.verify = False

    with pytest.raises(nantrace.DivergenceError) as info:
        model.fit(x, y, batch_size=64, epochs=4, shuffle=False, verbose=0, callbacks=[NoReplay()])
    assert model.train_function.watched.early_warnings == [info.value.report]
    assert "fix not checked: verify=False" in info.value.report.notes
    with pytest.raises(nantrace.NantraceError, match="early_warning must be one of"):
        nantrace.watch(model, early_warning="sometimes")
