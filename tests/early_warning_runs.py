"""The early-warning developers' own runs: small models that diverge slowly, and healthy ones.

Not the blind divergence suite (``tests/divergence_suite.py``, written separately so the
detectors are not tuned on it). ``python tests/early_warning_runs.py`` trains each run under
``nantrace.watch(early_warning="warn", verify=False)`` and prints, per run, the step of the
first NaN (the guard's trip), the steps that warned, the lead (NaN step - warning step), the
signal, the cause and, for the outlier runs in a custom loop, whether the loss came back
(``RECOVERED``). ``python tests/early_warning_runs.py NAME ...`` runs only those. Each run takes
a few seconds on a CPU (the whole list ~10 minutes on the shared 2-core machine).
"""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import standard_step

import nantrace


@dataclass
class Outcome:
    name: str
    nan_at: int | None
    steps: int
    warnings: list[Any]
    recovered: bool | str = "-"

    @property
    def lead(self) -> int | None:
        if self.nan_at is None or not self.warnings:
            return None
        return self.nan_at - self.warnings[0].step


def watched_step(model: Any, optimizer: Any, loss_fn: Any, early_warning: str = "warn") -> Any:
    """The scenarios' plain custom-loop train step, compiled and watched (no fix verification:
    the runs measure when the detectors warn, not what the fixes do)."""
    step = tf.function(standard_step(model, optimizer, loss_fn))
    return nantrace.watch(step, early_warning=early_warning, verify=False)


def divergence_reports(caught: list[Any]) -> list[Any]:
    """The reports of the DivergenceWarnings among recorded warnings, in order."""
    return [w.message.report for w in caught if issubclass(w.category, nantrace.DivergenceWarning)]


@contextlib.contextmanager
def recorded_divergence() -> Iterator[list[Any]]:
    """Record every warning raised inside; the list it yields holds, on exit, the reports of
    the DivergenceWarnings among them, in order."""
    reports: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield reports
    reports.extend(divergence_reports(caught))


def train(
    model: Any,
    optimizer: Any,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    batch: int,
    loss_fn: Any = None,
    lr_growth: float | None = None,
    spike_at: int | None = None,
    early_warning: str = "warn",
) -> tuple[Any, int | None, list[Any]]:
    """Train under nantrace.watch; (watched step, NaN step or None, warning reports)."""
    loss_fn = loss_fn or keras.losses.MeanSquaredError()
    step = watched_step(model, optimizer, loss_fn, early_warning)

    nan_at = None
    with recorded_divergence() as reports:
        try:
            for i in range(steps):
                j = (i * batch) % (len(x) - batch + 1)
                xb, yb = x[j : j + batch], y[j : j + batch]
                if spike_at is not None and spike_at <= i < spike_at + 2:
                    xb = xb * 8.0  # two bad batches: the loss and gradients spike, then recover
                if lr_growth:
                    optimizer.learning_rate.assign(optimizer.learning_rate * lr_growth)
                step(xb, yb)
        except nantrace.NonFiniteError as error:
            nan_at = error.report.trip.step
    return step, nan_at, reports


def regression(seed: int, n: int = 1024, d: int = 8, scale: float = 1.0, noise: float = 0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) * scale + noise * rng.normal(size=(n, 1))).astype("float32")
    return x, y


def sequences(seed: int, steps: int = 40):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, steps, 4)).astype("float32")
    return x, rng.normal(size=(256, 1)).astype("float32")


def mlp(width: int = 32, depth: int = 2, activation: str = "relu") -> Any:
    layers = [keras.Input((8,))]
    layers += [keras.layers.Dense(width, activation=activation) for _ in range(depth)]
    return keras.Sequential([*layers, keras.layers.Dense(1)])


# -- runs that diverge slowly ------------------------------------------------------------------
def linear_sgd_past_the_limit():
    """SGD at 1.05 on a linear regression (stable below ~1): the loss grows ~1.07x a step."""
    keras.utils.set_random_seed(1)
    x, y = regression(1)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    return train(model, keras.optimizers.SGD(1.05), x, y, 400, 64)


def weight_decay_with_the_wrong_sign():
    """A hand-written L2 penalty added with the wrong sign (``loss - 0.5 * sum(w**2)``, a typo
    in a custom loss), SGD 0.05 on an MLP: the penalty pays the weights to grow, ~1.05x a step,
    and the loss falls toward -inf while they do (written 2026-12-04 before any detector or
    cause change for it; at 1e-2 the weights grew only ~1.8x in 600 steps, no NaN, no
    warning: too slow to be a divergence within a run)."""
    keras.utils.set_random_seed(20)
    x, y = regression(20)
    model = mlp(depth=2)
    mse = keras.losses.MeanSquaredError()

    def loss_fn(y_true, y_pred):
        penalty = tf.add_n([tf.reduce_sum(tf.square(w)) for w in model.trainable_weights])
        return mse(y_true, y_pred) - 0.5 * penalty

    return train(model, keras.optimizers.SGD(0.05), x, y, 600, 32, loss_fn=loss_fn)


def logit_penalty_with_the_wrong_sign():
    """A classifier whose logit penalty has the wrong sign (``ce - 0.1 * mean(logits**2)``,
    meant as ``+``), Adam 1e-2: the loss rewards ever larger logits and falls without bound
    (about -2.7e7 by step 600, never a NaN). Written 2026-12-04 before any rule for the
    pattern, as the check for one (``weight_decay_with_the_wrong_sign`` is the other run of
    it): a rule for "the objective rewards growth" must not be tuned on this run."""
    keras.utils.set_random_seed(21)
    rng = np.random.default_rng(21)
    x = rng.normal(size=(256, 16)).astype("float32")
    y = rng.integers(0, 4, size=(256,)).astype("int64")
    model = keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)]
    )
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss_fn(y_true, logits):
        return ce(y_true, logits) - 0.1 * tf.reduce_mean(tf.square(logits))

    return train(model, keras.optimizers.Adam(1e-2), x, y, 600, 32, loss_fn=loss_fn)


def gaussian_likelihood_maximized_with_the_wrong_sign():
    """A regression written as a Gaussian log-likelihood whose minus was forgotten (the loss is
    ``mean(-0.5 * (y - mu)**2)``, minimized: the fit is pushed *away* from the targets), noisy
    targets (std 1), minibatches of 16, SGD 1e-2 on an MLP: the loss falls without bound, by
    noisy minibatch steps. Written 2026-12-04 (session 21) before any change to the rule of
    an objective unbounded below, as a second run to tune it on (``logit_penalty_with_the_
    wrong_sign`` stays its check)."""
    keras.utils.set_random_seed(22)
    x, y = regression(22, noise=1.0)
    model = mlp(depth=2)

    def loss_fn(y_true, mu):
        return tf.reduce_mean(-0.5 * tf.square(y_true - mu) - 0.5 * math.log(2.0 * math.pi))

    return train(model, keras.optimizers.SGD(1e-2), x, y, 600, 16, loss_fn=loss_fn)


def mlp_lr_schedule_grows():
    keras.utils.set_random_seed(2)
    x, y = regression(2)
    model = mlp(depth=1, activation="tanh")
    return train(model, keras.optimizers.SGD(0.01), x, y, 400, 32, lr_growth=1.03)


def cnn_lr_schedule_grows():
    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, size=(512, 12, 12, 1)).astype("float32")
    y = rng.normal(size=(512, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    return train(model, keras.optimizers.SGD(0.01), x, y, 300, 32, lr_growth=1.04)


def gru_lr_schedule_grows():
    keras.utils.set_random_seed(4)
    x, y = sequences(4)
    model = keras.Sequential([keras.Input((40, 4)), keras.layers.GRU(16), keras.layers.Dense(1)])
    return train(model, keras.optimizers.SGD(0.01), x, y, 300, 32, lr_growth=1.04)


def relu_rnn_lr_schedule_grows():
    keras.utils.set_random_seed(4)
    x, y = sequences(4)
    model = keras.Sequential(
        [
            keras.Input((40, 4)),
            keras.layers.SimpleRNN(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    return train(model, keras.optimizers.SGD(0.001), x, y, 300, 32, lr_growth=1.04)


def raw_unit_targets(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal features, regression targets in raw units (2000 +- 1000); seeds Keras."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1024, 8)).astype("float32")
    signal = np.tanh(x @ rng.normal(size=(8, 1)) / 2) + 0.1 * rng.normal(size=(1024, 1))
    return x, (2000.0 + 1000.0 * signal).astype("float32")


def unscaled_targets_sgd_abrupt():
    """Regression targets in raw units (2000 +- 1000, never standardized), a 2-layer ReLU MLP,
    plain SGD at 1e-4: the loss hovers near 4e6 (one step at ~1e9 that recovers) for ~24 steps,
    then goes from ~3x its start to inf in two steps. A known limit (docs/early-warning.md): too
    abrupt to warn."""
    x, y = raw_unit_targets(21)
    return train(mlp(), keras.optimizers.SGD(1e-4), x, y, 400, 32)


def unscaled_targets_sgd_stalls():
    """The same raw-unit targets (2000 +- 1000) at SGD 3e-5: the loss stays near 4e6 while the
    first kernel's norm keeps growing; the targets' scale, not the step size, is what to fix."""
    x, y = raw_unit_targets(21)
    return train(mlp(), keras.optimizers.SGD(3e-5), x, y, 400, 32)


def unscaled_features_linear_sgd():
    """Features in raw units (0-2000, never normalized; a housing-style table), a linear model,
    SGD 5 % above the stability limit those features set (2 / the largest eigenvalue of the
    MSE's curvature, ~1e-7): the loss grows a few percent a step until it overflows."""
    keras.utils.set_random_seed(22)
    rng = np.random.default_rng(22)
    x = rng.uniform(0.0, 2000.0, size=(1024, 8)).astype("float32")
    y = (x / 1000.0 @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(1024, 1))).astype("float32")
    curvature = (
        2.0
        * np.linalg.eigvalsh(np.c_[x, np.ones(len(x))].T @ np.c_[x, np.ones(len(x))] / len(x)).max()
    )
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    return train(model, keras.optimizers.SGD(1.05 * 2.0 / curvature), x, y, 400, 64)


#: runs that diverge too abruptly to warn (measured, kept visible).
ABRUPT: list[Callable[[], Any]] = [unscaled_targets_sgd_abrupt]


# -- runs that must not warn -------------------------------------------------------------------
def spike(kind: str, length: int, factor: float, sgd: bool = False):
    """A healthy MLP (Adam 1e-3, or SGD 0.01) with ``length`` bad steps at step 150: inputs
    x factor (``data``), labels + factor (``label``) or the learning rate x factor (``lr``)."""
    keras.utils.set_random_seed(12)
    x, y = regression(12)
    model = mlp(depth=1)
    optimizer = keras.optimizers.SGD(0.01) if sgd else keras.optimizers.Adam(1e-3)
    lr = float(optimizer.learning_rate.numpy())
    step = watched_step(model, optimizer, keras.losses.MeanSquaredError())

    with recorded_divergence() as reports:
        for i in range(300):
            j = (i * 32) % (1024 - 31)
            xb, yb = x[j : j + 32], y[j : j + 32]
            inside = 150 <= i < 150 + length
            if kind == "data" and inside:
                xb = xb * factor
            if kind == "label" and inside:
                yb = yb + factor
            if kind == "lr":
                optimizer.learning_rate.assign(lr * factor if inside else lr)
            step(xb, yb)
    return step, None, reports


def healthy_inputs_x5_for_10_steps():
    return spike("data", 10, 5.0)


def healthy_labels_plus_20_for_8_steps():
    return spike("label", 8, 20.0)


def healthy_adam_lr_x50_for_5_steps():
    return spike("lr", 5, 50.0)


def sgd_lr_x20_for_5_steps():
    """Recovers, but warns (update_ratio): a known false alarm (docs/early-warning.md)."""
    return spike("lr", 5, 20.0, sgd=True)


def outlier(
    model_kind: str = "mlp",
    optimizer: str = "adam",
    what: str = "targets",
    factor: float = 30.0,
    count: int = 1,
    style: str = "loop",
    at: int = 150,
    steps: int = 300,
    seed: int = 12,
):
    """A healthy run (MLP, small CNN or GRU; SGD 0.01, momentum SGD 0.01/0.9 or Adam 1e-3)
    that meets ``count`` outlier batches from step ``at``: targets x factor (``targets``),
    inputs x factor (``inputs``) or, on a 4-class task, random labels with inputs x factor
    (``labels``). The loss spikes, then comes back; ``style="fit"`` trains through model.fit
    under ``nantrace.watch(model)`` on the same batches."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    n, classes = 1024, 4 if what == "labels" else None
    if model_kind == "mlp":
        x = rng.normal(size=(n, 8)).astype("float32")
        t = x @ rng.normal(size=(8, 1))
        body = [keras.Input((8,)), keras.layers.Dense(32, activation="relu")]
    elif model_kind == "cnn":
        x = rng.uniform(0, 1, size=(n, 8, 8, 1)).astype("float32")
        t = x.reshape(n, -1) @ rng.normal(size=(64, 1)) / 4
        body = [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Flatten(),
        ]
    else:
        x = rng.normal(size=(n, 10, 4)).astype("float32")
        t = x[:, :, :1].mean(axis=1) * 3
        body = [keras.Input((10, 4)), keras.layers.GRU(16)]
    if classes:
        edges = np.quantile(t[:, 0], np.linspace(0, 1, classes + 1)[1:-1])
        y = np.digitize(t[:, 0], edges).astype("int32")
        loss_fn: Any = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        y = (t + 0.1 * rng.normal(size=t.shape)).astype("float32")
        loss_fn = keras.losses.MeanSquaredError()
    model = keras.Sequential([*body, keras.layers.Dense(classes or 1)])
    opt = {
        "sgd": lambda: keras.optimizers.SGD(0.01),
        "momentum": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
        "adam": lambda: keras.optimizers.Adam(1e-3),
    }[optimizer]()
    xs, ys = [], []
    for i in range(steps):
        j = (i * 32) % (n - 31)
        xb, yb = x[j : j + 32], y[j : j + 32]
        if at <= i < at + count:
            if what == "targets":
                yb = yb * factor
            elif what == "inputs":
                xb = xb * factor
            else:
                yb = rng.integers(0, classes, size=yb.shape).astype("int32")
                xb = xb * factor
        xs.append(xb)
        ys.append(yb)
    with recorded_divergence() as reports:
        if style == "fit":
            model.compile(optimizer=opt, loss=loss_fn)
            nantrace.watch(model)

            class NoVerify(keras.callbacks.Callback):
                def on_train_begin(self, logs=None):
                    self.model.train_function.watched.verify = False

            data = tf.data.Dataset.from_tensor_slices((np.concatenate(xs), np.concatenate(ys)))
            model.fit(data.batch(32), epochs=1, verbose=0, callbacks=[NoVerify()])
            step = model.train_function.watched
        else:
            step = watched_step(model, opt, loss_fn)

            losses = [float(step(xb, yb)) for xb, yb in zip(xs, ys, strict=True)]
            before, after = np.median(losses[at - 20 : at]), np.median(losses[-50:])
            RECOVERED[step] = bool(np.isfinite(losses).all() and after <= 2.0 * before)
    return step, None, reports


#: loop outlier runs: whether the loss over the last 50 steps was back within 2x of its median
#: over the 20 steps before the outliers (the run recovered: it must not warn).
RECOVERED: dict[Any, bool] = {}


def _outlier_run(name: str, **kwargs: Any) -> Callable[[], Any]:
    def fn():
        return outlier(**kwargs)

    fn.__name__ = name
    return fn


#: one to three outlier batches at step 150; the loss spikes, then comes back (the table's
#: last column says whether it did, see RECOVERED).
OUTLIERS: list[Callable[[], Any]] = [
    _outlier_run(f"outlier_{m}_{o}_{w}_x{f:g}" + (f"_{c}_in_a_row" if c > 1 else ""), **kw)
    for m, o, w, f, c in [
        ("mlp", "adam", "targets", 30.0, 1),
        ("mlp", "adam", "targets", 100.0, 1),
        ("mlp", "adam", "inputs", 10.0, 1),
        ("mlp", "adam", "labels", 10.0, 1),
        ("mlp", "adam", "targets", 30.0, 3),
        ("mlp", "sgd", "targets", 30.0, 1),
        ("cnn", "sgd", "inputs", 10.0, 1),
        ("cnn", "adam", "inputs", 10.0, 1),
        ("cnn", "adam", "targets", 100.0, 1),
        ("gru", "adam", "targets", 30.0, 2),
        ("gru", "sgd", "targets", 100.0, 1),
        ("gru", "momentum", "inputs", 10.0, 1),
    ]
    for kw in [{"model_kind": m, "optimizer": o, "what": w, "factor": f, "count": c}]
] + [
    _outlier_run("outlier_mlp_adam_targets_x30_fit", style="fit"),
    _outlier_run(
        "outlier_gru_sgd_targets_x100_fit",
        model_kind="gru",
        optimizer="sgd",
        factor=100.0,
        style="fit",
    ),
]
#: outlier runs whose loss is not back within 2x by the end (the outlier did lasting harm): a
#: warning there is neither a false alarm nor a hit, the table shows what happens.
DAMAGED: list[Callable[[], Any]] = [
    _outlier_run("outlier_mlp_sgd_inputs_x10", optimizer="sgd", what="inputs", factor=10.0),
    _outlier_run("outlier_mlp_momentum_targets_x30", optimizer="momentum"),
    _outlier_run("outlier_gru_momentum_targets_x30", model_kind="gru", optimizer="momentum"),
]


def warmup(optimizer: str, peak: float, length: int = 100):
    """A linear learning-rate warm-up from peak/length to ``peak`` over ``length`` steps, then
    flat: the updates grow ~100x while the loss falls (healthy)."""
    keras.utils.set_random_seed(16)
    x, y = regression(16)
    model = mlp(depth=2)
    opt = keras.optimizers.Adam(peak) if optimizer == "adam" else keras.optimizers.SGD(peak)
    lr = [peak * min(1.0, (i + 1) / length) for i in range(300)]
    return _scheduled(model, opt, x, y, lr)


def _scheduled(model: Any, optimizer: Any, x: np.ndarray, y: np.ndarray, lr: list[float]):
    step = watched_step(model, optimizer, keras.losses.MeanSquaredError())

    with recorded_divergence() as reports:
        for i, rate in enumerate(lr):
            optimizer.learning_rate.assign(rate)
            j = (i * 32) % (len(x) - 31)
            step(x[j : j + 32], y[j : j + 32])
    return step, None, reports


def healthy_sgd_warmup_100_steps():
    return warmup("sgd", 0.05)


def healthy_adam_warmup_100_steps():
    return warmup("adam", 1e-2)


def cosine_restarts(optimizer: str, peak: float, cycle: int = 50, steps: int = 300):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter): the rate falls from
    ``peak`` to ~0 over each ``cycle`` steps, then jumps back to ``peak``; every restart makes
    the updates ~1000x larger at once and the loss rises for a few steps. Healthy: a common
    schedule (written 2026-12-04 before any detector change for it)."""
    keras.utils.set_random_seed(18)
    x, y = regression(18)
    model = mlp(depth=2)
    opt = keras.optimizers.Adam(peak) if optimizer == "adam" else keras.optimizers.SGD(peak)
    lr = [0.5 * peak * (1.0 + math.cos(math.pi * (i % cycle) / cycle)) for i in range(steps)]
    return _scheduled(model, opt, x, y, lr)


def healthy_sgd_cosine_restarts():
    return cosine_restarts("sgd", 0.05)


def healthy_adam_cosine_restarts():
    return cosine_restarts("adam", 1e-2)


def healthy_sgd_keras_cosine_decay_restarts():
    """The same pattern through Keras' own schedule (computed in the step from the optimizer's
    iteration count, no write between steps): SGD 0.05, restarts every 50 steps."""
    keras.utils.set_random_seed(18)
    x, y = regression(18)
    schedule = keras.optimizers.schedules.CosineDecayRestarts(0.05, 50, t_mul=1.0, m_mul=1.0)
    return train(mlp(depth=2), keras.optimizers.SGD(schedule), x, y, 300, 32)


def healthy_gan_1d():
    """A small GAN learning a 1-D Gaussian (mean 3, std 0.5): a generator and a discriminator
    (MLPs of 16), Adam 1e-3 each, one step per batch updating both in one watched step. The
    two losses pull against each other and oscillate; after the 400 steps the generator's
    samples have mean 4.6 and std 1.2 (the data's: 3 and 0.5), still circling the data, finite
    and bounded: adversarial dynamics, not divergence (written 2026-12-04 before any detector
    change)."""
    keras.utils.set_random_seed(19)
    rng = np.random.default_rng(19)
    gen = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    disc = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    g_opt, d_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(real, noise):
        with tf.GradientTape() as d_tape:
            fake = gen(noise)
            real_logits, fake_logits = disc(real), disc(fake)
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(
                tf.zeros_like(fake_logits), fake_logits
            )
        d_grads = d_tape.gradient(d_loss, disc.trainable_variables)
        d_opt.apply_gradients(zip(d_grads, disc.trainable_variables, strict=True))
        with tf.GradientTape() as g_tape:
            fake_logits = disc(gen(noise))
            g_loss = bce(tf.ones_like(fake_logits), fake_logits)
        g_grads = g_tape.gradient(g_loss, gen.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, gen.trainable_variables, strict=True))
        return d_loss + g_loss

    step = nantrace.watch(train_step, verify=False)
    with recorded_divergence() as reports:
        for _ in range(400):
            real = (3.0 + 0.5 * rng.normal(size=(64, 1))).astype("float32")
            step(real, rng.normal(size=(64, 4)).astype("float32"))
    return step, None, reports


def healthy_plateau_then_drop():
    """A deep linear net (3 hidden layers) from a small initialization (std 0.05), SGD 0.01:
    the loss sits on a plateau for ~270 steps while the gradient norm grows ~100x (0.1 to
    ~12), then drops ~500x as the net escapes the saddle (measured without nantrace)."""
    keras.utils.set_random_seed(17)
    x, y = regression(17)
    init = keras.initializers.RandomNormal(stddev=0.05)
    model = keras.Sequential(
        [keras.Input((8,))]
        + [keras.layers.Dense(16, use_bias=False, kernel_initializer=init) for _ in range(3)]
        + [keras.layers.Dense(1, use_bias=False, kernel_initializer=init)]
    )
    return _scheduled(model, keras.optimizers.SGD(0.01), x, y, [0.01] * 400)


def healthy_mlp_adam():
    keras.utils.set_random_seed(10)
    x, y = regression(10)
    return train(mlp(), keras.optimizers.Adam(1e-3), x, y, 300, 32)


def healthy_noisy_small_batch():
    keras.utils.set_random_seed(11)
    x, y = regression(11, noise=2.0)
    return train(mlp(depth=1), keras.optimizers.SGD(0.02), x, y, 300, 2)


def healthy_spike_that_recovers():
    keras.utils.set_random_seed(12)
    x, y = regression(12)
    return train(mlp(depth=1), keras.optimizers.Adam(1e-3), x, y, 300, 32, spike_at=150)


def healthy_large_stable_targets():
    keras.utils.set_random_seed(13)
    x, y = regression(13, scale=1000.0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32), keras.layers.Dense(1)])
    return train(model, keras.optimizers.Adam(1e-2), x, y, 300, 32)


def healthy_lstm():
    keras.utils.set_random_seed(14)
    rng = np.random.default_rng(14)
    x = rng.normal(size=(256, 20, 4)).astype("float32")
    y = x[:, :, :1].mean(axis=1).astype("float32")
    model = keras.Sequential([keras.Input((20, 4)), keras.layers.LSTM(16), keras.layers.Dense(1)])
    return train(model, keras.optimizers.Adam(3e-3), x, y, 200, 32)


def healthy_embedding_adam():
    keras.utils.set_random_seed(15)
    rng = np.random.default_rng(15)
    x = rng.integers(0, 50, size=(1024, 10)).astype("int32")
    y = (x.mean(axis=1, keepdims=True) / 50 > 0.5).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((10,), dtype="int32"),
            keras.layers.Embedding(50, 8),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    loss = keras.losses.BinaryCrossentropy()
    return train(model, keras.optimizers.Adam(1e-2), x, y, 300, 32, loss_fn=loss)


def healthy_deep_relu_memorizes():
    """A plain 40-layer ReLU MLP (width 64, default init, no normalization) memorizing 4 fixed
    batches of 32 random points with random labels (10 classes), cycled, Adam 1e-3: its
    gradient norm is spiky and climbs ~10-40x (0.2 to 4-27) while the loss falls, and the
    first kernel's per-step norm change climbs from ~3e-7 (Adam's first steps barely change a
    norm) to ~5e-5 as the net starts to learn. Seen by a developer while benchmarking (session
    14: ``update_ratio`` warned at step 36)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    batches = [
        (rng.normal(size=(32, 64)).astype("float32"), rng.integers(0, 10, 32).astype("int32"))
        for _ in range(4)
    ]
    model = keras.Sequential(
        [keras.Input((64,))]
        + [keras.layers.Dense(64, activation="relu") for _ in range(40)]
        + [keras.layers.Dense(10)]
    )
    optimizer = keras.optimizers.Adam(1e-3)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    step = watched_step(model, optimizer, loss)
    with recorded_divergence() as reports:
        for i in range(300):
            step(*batches[i % 4])
    return step, None, reports


def healthy_batchnorm_sgd_momentum():
    """An MLP with BatchNormalization after each hidden Dense, SGD 0.1 with momentum 0.9 and
    no weight decay, classifying 4 classes for 400 steps. Batch normalization makes each
    kernel before it scale-invariant, and under SGD such a kernel's norm only grows (the
    gradient is orthogonal to it): weights that grow steadily while the loss falls, a healthy
    run. Written 2026-12-04 (session 22) before any detector change for it."""
    keras.utils.set_random_seed(20)
    rng = np.random.default_rng(20)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = np.argmax(x[:, :4] + 0.3 * rng.normal(size=(1024, 4)), axis=1).astype("int32")
    model = keras.Sequential(
        [keras.Input((8,))]
        + [
            layer
            for _ in range(3)
            for layer in (
                keras.layers.Dense(64, use_bias=False),
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
            )
        ]
        + [keras.layers.Dense(4)]
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    return train(model, opt, x, y, 400, 32, loss_fn=loss)


def healthy_backbone_unfrozen_midway():
    """Transfer learning: a "backbone" (two Dense layers) frozen while the head trains for 150
    steps, then unfrozen (``trainable = True``) and the whole net fine-tuned at Adam 1e-4 for
    150 more: the step is traced again with more variables, the gradient norm jumps once and
    the loss keeps falling. Written 2026-12-04 (session 22) before any detector change for
    it."""
    keras.utils.set_random_seed(21)
    x, y = regression(21)
    backbone = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(32)]
    )
    model = keras.Sequential([backbone, keras.layers.ReLU(), keras.layers.Dense(1)])
    backbone.trainable = False
    optimizer = keras.optimizers.Adam(1e-3)
    step = watched_step(model, optimizer, keras.losses.MeanSquaredError())
    with recorded_divergence() as reports:
        for i in range(300):
            if i == 150:
                backbone.trainable = True
                optimizer.learning_rate.assign(1e-4)
            j = (i * 32) % (len(x) - 31)
            step(x[j : j + 32], y[j : j + 32])
    return step, None, reports


def healthy_noisier_data_midway():
    """Unshuffled data whose second half is noisier: a regression whose targets carry noise of
    std 0.1 for the first 300 steps (Adam 3e-3: the loss falls to ~0.02, the median of steps
    250-299) and of std 1.0 for the 150 after (another source, or a shard recorded with a worse
    sensor). The loss jumps ~40x at the switch (median 0.96 over steps 310-359) and stays there, as it must (the noise cannot be learned); the
    weights do not grow and nothing diverges. Written 2026-12-04 (session 22) before any
    detector change for it."""
    keras.utils.set_random_seed(22)
    rng = np.random.default_rng(22)
    x = rng.normal(size=(1024, 8)).astype("float32")
    clean = x @ rng.normal(size=(8, 1))
    y = np.concatenate(
        [clean[:512] + 0.1 * rng.normal(size=(512, 1)), clean[512:] + rng.normal(size=(512, 1))]
    ).astype("float32")
    model = mlp()
    optimizer = keras.optimizers.Adam(3e-3)
    step = watched_step(model, optimizer, keras.losses.MeanSquaredError())
    with recorded_divergence() as reports:
        for i in range(450):
            j = (i * 32) % 512 + (512 if i >= 300 else 0)
            step(x[j : j + 32], y[j : j + 32])
    return step, None, reports


DIVERGING: list[Callable[[], Any]] = [
    linear_sgd_past_the_limit,
    mlp_lr_schedule_grows,
    cnn_lr_schedule_grows,
    gru_lr_schedule_grows,
    relu_rnn_lr_schedule_grows,
    unscaled_targets_sgd_stalls,
    unscaled_features_linear_sgd,
    weight_decay_with_the_wrong_sign,
    logit_penalty_with_the_wrong_sign,
    gaussian_likelihood_maximized_with_the_wrong_sign,
]
HEALTHY: list[Callable[[], Any]] = [
    healthy_mlp_adam,
    healthy_noisy_small_batch,
    healthy_spike_that_recovers,
    healthy_large_stable_targets,
    healthy_lstm,
    healthy_embedding_adam,
    healthy_inputs_x5_for_10_steps,
    healthy_labels_plus_20_for_8_steps,
    healthy_adam_lr_x50_for_5_steps,
]
HEALTHY += [
    healthy_sgd_warmup_100_steps,
    healthy_adam_warmup_100_steps,
    healthy_plateau_then_drop,
    healthy_deep_relu_memorizes,
    healthy_sgd_cosine_restarts,
    healthy_adam_cosine_restarts,
    healthy_sgd_keras_cosine_decay_restarts,
    healthy_gan_1d,
    healthy_batchnorm_sgd_momentum,
    healthy_backbone_unfrozen_midway,
    healthy_noisier_data_midway,
    *OUTLIERS,
]
#: healthy runs that warn today (measured, kept visible).
FALSE_ALARMS: list[Callable[[], Any]] = [sgd_lr_x20_for_5_steps]


def run(fn: Callable[[], Any]) -> Outcome:
    step, nan_at, reports = fn()
    recovered = RECOVERED.get(step, "-")
    return Outcome(fn.__name__, nan_at, step.step, reports, recovered)


def main(names: list[str]) -> None:
    every = DIVERGING + ABRUPT + HEALTHY + FALSE_ALARMS + DAMAGED
    chosen = [f for f in every if not names or f.__name__ in names]
    print("| run | steps | NaN at | warned at | lead | signal | cause | loss recovered |")
    print("|---|---|---|---|---|---|---|---|")
    for fn in chosen:
        outcome = run(fn)
        first = outcome.warnings[0] if outcome.warnings else None
        print(
            f"| {outcome.name} | {outcome.steps} | {outcome.nan_at} "
            f"| {[r.step for r in outcome.warnings]} | {outcome.lead} "
            f"| {first.signal.id if first else '-'} "
            f"| {first.cause.id if first and first.cause else '-'} "
            f"| {outcome.recovered} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
