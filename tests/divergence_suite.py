"""A blind divergence suite for nantrace's early warning (issue 12): runs that diverge slowly and
runs that must not warn.

Written blind: without reading the detectors (``nantrace/live/early_warning.py`` and the cause and
fix rules), so it is a held-out check of them, not a copy of their thresholds. Each scenario is
a real bug pattern; the comment above it names the public report it comes from.

A scenario's ``build()`` makes a fresh model, optimizer and batches from a fixed seed, so the
plain run and the watched run start from the same state and see the same data. Two code styles:
``loop`` (a ``tf.function`` train step called per batch; ``Run.step``) and ``fit``
(``model.fit`` over a dataset whose elements are the batches themselves; ``Run.step`` is None).
Steps are counted from 0, one per batch, as ``Watched.step`` counts them.

How a diverging run ends without nantrace (``end``):

* ``"nan"``: the first step whose loss, or any trainable variable after its update, is NaN/Inf.
* ``"loss_ratio"``: for runs that may stall at huge values instead, the first step after the
  first ``early`` steps whose loss exceeds ``ratio`` times the minimum loss of those ``early``
  steps (a NaN counts too).

Expected causes and fixes use the ids of ``docs/causes-and-fixes.md``.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SEED = 1234

#: expectation sets shared by several scenarios
LR_CAUSES = frozenset({"learning_rate_too_high"})
LR_FIXES = frozenset({"lower_learning_rate", "clip_gradients"})


@dataclass(frozen=True)
class Run:
    """What one scenario trains: a model, its batches, and for ``loop`` scenarios the step."""

    model: Any
    batches: list[tuple[np.ndarray, np.ndarray]]
    step: Any = None  # tf.function(x, y) -> loss for custom loops; None for model.fit
    optimizer: Any = None


@dataclass(frozen=True)
class Scenario:
    """One run of the suite and what it expects.

    Attributes:
        name: unique id (``--only NAME``).
        diverges: True for a run that diverges (the warning must come before ``end``), False
            for a healthy run (it must not warn at all).
        style: ``"loop"`` or ``"fit"``.
        steps: the step budget.
        build: makes a fresh ``Run`` from the fixed seed.
        source: the public report the pattern comes from.
        what: one line on the bug (or on why the run is healthy).
        end: how the plain run ends: ``"nan"`` or ``"loss_ratio"`` (module docstring).
        ratio, early: the ``loss_ratio`` criterion.
        causes: acceptable ``cause.id`` of the first warning (empty: not checked).
        fixes: acceptable ids of the first warning's first fix (empty: not checked).
        check: an extra property of a healthy run the suite's own tests check: ``"spike"``
            (a loss spike that recovers), ``"skips"`` (LossScaleOptimizer skipped steps),
            ``"large"`` (large values throughout).
        min_end: a slowly diverging run must not end before this step.
        slow: False for a diverging run that fails within a few steps (N(0, 1) init): no
            warning with a warm-up can precede it; scored apart from the slow ones.
    """

    name: str
    diverges: bool
    style: str
    steps: int
    build: Callable[[], Run]
    source: str
    what: str
    end: str = "nan"
    ratio: float = 1e3
    early: int = 20
    causes: frozenset[str] = field(default_factory=frozenset)
    fixes: frozenset[str] = field(default_factory=frozenset)
    check: str | None = None
    min_end: int = 20
    slow: bool = True


# ---------------------------------------------------------------------------------------------
# data and building blocks


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def _seed() -> None:
    keras.utils.set_random_seed(SEED)


def _regression(
    steps: int, batch: int, dim: int, *, scale: float = 1.0, noise: float = 0.1, offset: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of a smooth teacher function of standard-normal features, targets times scale."""
    rng = _rng(offset)
    w1 = rng.normal(size=(dim, 16)) / np.sqrt(dim)
    w2 = rng.normal(size=(16, 1)) / 4.0
    out = []
    for _ in range(steps):
        x = rng.normal(size=(batch, dim)).astype("float32")
        y = np.tanh(x @ w1) @ w2 + noise * rng.normal(size=(batch, 1))
        out.append((x, (scale * y).astype("float32")))
    return out


def _classes(
    steps: int, batch: int, shape: tuple[int, ...], classes: int, *, offset: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches labelled by a random linear teacher over the flattened features (int labels)."""
    rng = _rng(offset)
    dim = int(np.prod(shape))
    teacher = rng.normal(size=(dim, classes))
    out = []
    for _ in range(steps):
        x = rng.normal(size=(batch, *shape)).astype("float32")
        y = np.argmax(x.reshape(batch, dim) @ teacher, axis=1).astype("int32")
        out.append((x, y))
    return out


def _sequences(
    steps: int, batch: int, length: int, dim: int, *, offset: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of sequences; the target is the mean of the first feature over time."""
    rng = _rng(offset)
    out = []
    for _ in range(steps):
        x = rng.normal(size=(batch, length, dim)).astype("float32")
        y = x[:, :, :1].mean(axis=1) * 3.0
        out.append((x, y.astype("float32")))
    return out


def _separable(
    steps: int, batch: int, dim: int, *, batches: int = 8, margin: float = 0.1, offset: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A fixed, linearly separable set (0/1 labels of a random hyperplane through 0, points
    within ``margin`` of it dropped) of ``batches`` batches, cycled over ``steps`` steps."""
    rng = _rng(offset)
    normal = rng.normal(size=(dim,))
    normal /= np.linalg.norm(normal)
    x = rng.normal(size=(4 * batches * batch, dim))
    x = x[np.abs(x @ normal) > margin][: batches * batch].astype("float32")
    y = (x @ normal > 0).astype("float32")[:, None]
    fixed = [
        (x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]) for i in range(batches)
    ]
    return [fixed[i % batches] for i in range(steps)]


def _parity(steps: int, bits: int, *, repeats: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same full batch every step: each corner of the {-1, 1}^bits cube ``repeats`` times;
    the target is the product of its coordinates (+-1: XOR for two bits, parity for more).
    Deterministic: no random draw."""
    corners = np.array(list(itertools.product([-1.0, 1.0], repeat=bits)), dtype="float32")
    x = np.tile(corners, (repeats, 1))
    return [(x, np.prod(x, axis=1, keepdims=True))] * steps


def _loop_step(model: Any, optimizer: Any, loss_fn: Any) -> Any:
    """The custom training step of the TF guide: forward, tape.gradient, apply_gradients."""

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = loss_fn(y, tf.cast(pred, tf.float32))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def _lso_loop_step(model: Any, optimizer: Any, loss_fn: Any) -> Any:
    """Keras 3's custom-loop recipe for a LossScaleOptimizer: scale the loss, apply the
    scaled gradients (the optimizer unscales them and skips a step whose gradients overflow)."""

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = loss_fn(y, tf.cast(pred, tf.float32))
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def _mlp(
    dim: int,
    widths: tuple[int, ...],
    out: int = 1,
    *,
    activation: str = "relu",
    initializer: Any = "glorot_uniform",
    dtype: str | None = None,
) -> Any:
    layers: list[Any] = [keras.Input((dim,))]
    for i, width in enumerate(widths):
        layers.append(
            keras.layers.Dense(
                width,
                activation=activation,
                kernel_initializer=initializer,
                dtype=dtype,
                name=f"dense_{i}",
            )
        )
    layers.append(keras.layers.Dense(out, dtype="float32" if dtype else None, name="head"))
    return keras.Sequential(layers)


_MSE = keras.losses.MeanSquaredError()
_SCCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
_BCE = keras.losses.BinaryCrossentropy(from_logits=True)


def _fit_run(model: Any, optimizer: Any, loss: Any, batches: list) -> Run:
    model.compile(optimizer=optimizer, loss=loss)
    return Run(model=model, batches=batches, optimizer=optimizer)


def _loop_run(model: Any, optimizer: Any, loss: Any, batches: list) -> Run:
    return Run(model, batches, _loop_step(model, optimizer, loss), optimizer)


# ---------------------------------------------------------------------------------------------
# diverging builders (keyword arguments are the knobs the suite was tuned with)


def mlp_sgd(lr: float = 0.15, momentum: float = 0.9, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(lr, momentum=momentum)
    return _loop_run(model, opt, _MSE, _regression(steps, 32, 16))


def mlp_momentum_fit(lr: float = 0.13, steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(lr, momentum=0.9)
    return _fit_run(model, opt, _MSE, _regression(steps, 32, 20, offset=9))


def cnn_sgd_fit(lr: float = 0.03, momentum: float = 0.9, steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="tanh", name="conv_0"),
            keras.layers.Conv2D(8, 3, activation="tanh", name="conv_1"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, name="head"),
        ]
    )
    batches = []
    for x, _ in _classes(steps, 16, (12, 12, 1), 2, offset=3):
        y = np.tanh(x.reshape(len(x), -1)[:, :30].sum(axis=1, keepdims=True) / 5.0)
        batches.append((x, y.astype("float32")))
    opt = keras.optimizers.SGD(lr, momentum=momentum)
    return _fit_run(model, opt, _MSE, batches)


def gru_sgd(lr: float = 0.5, steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [keras.Input((20, 4)), keras.layers.GRU(16, name="gru"), keras.layers.Dense(1, name="head")]
    )
    return _loop_run(model, keras.optimizers.SGD(lr), _MSE, _sequences(steps, 16, 20, 4))


def simplernn_sgd_fit(lr: float = 0.4, steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [
            keras.Input((20, 4)),
            keras.layers.SimpleRNN(16, name="rnn"),
            keras.layers.Dense(1, name="head"),
        ]
    )
    return _fit_run(model, keras.optimizers.SGD(lr), _MSE, _sequences(steps, 16, 20, 4, offset=1))


def growing_schedule(rate: float = 1.03, lr: float = 0.005, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64))
    # decay_rate > 1: the "decay" multiplies the rate by `rate` every step
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=1, decay_rate=rate)
    return _loop_run(model, keras.optimizers.SGD(schedule), _MSE, _regression(steps, 32, 16))


class UncappedWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up written without its cap: ``peak * step / warmup`` keeps growing after
    ``warmup`` steps (the missing ``min(..., 1)``)."""

    def __init__(self, peak: float, warmup: int) -> None:
        self.peak = peak
        self.warmup = warmup

    def __call__(self, step: Any) -> Any:
        step = tf.cast(step, tf.float32) + 1.0
        return self.peak * step / float(self.warmup)  # BUG: no tf.minimum(..., 1.0)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "warmup": self.warmup}


class CappedWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """The same warm-up done right: linear to ``peak`` over ``warmup`` steps, then constant."""

    def __init__(self, peak: float, warmup: int) -> None:
        self.peak = peak
        self.warmup = warmup

    def __call__(self, step: Any) -> Any:
        step = tf.cast(step, tf.float32) + 1.0
        return self.peak * tf.minimum(step / float(self.warmup), 1.0)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "warmup": self.warmup}


def warmup_uncapped_fit(peak: float = 0.04, warmup: int = 20, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(UncappedWarmup(peak, warmup), momentum=0.9)
    return _fit_run(model, opt, _MSE, _regression(steps, 32, 16, offset=2))


def lstm_schedule_grows_fit(lr: float = 0.02, rate: float = 1.02, steps: int = 300) -> Run:
    _seed()
    model = keras.Sequential(
        [keras.Input((20, 4)), keras.layers.LSTM(16, name="lstm"), keras.layers.Dense(1)]
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=1, decay_rate=rate)
    batches = _sequences(steps, 16, 20, 4, offset=21)
    return _fit_run(model, keras.optimizers.SGD(schedule), _MSE, batches)


def cnn_warmup_uncapped(peak: float = 0.01, warmup: int = 20, steps: int = 300) -> Run:
    batches = cnn_sgd_fit(steps=steps).batches  # the CNN scenario's data
    _seed()
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="tanh", name="conv_0"),
            keras.layers.Conv2D(8, 3, activation="tanh", name="conv_1"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, name="head"),
        ]
    )
    opt = keras.optimizers.SGD(UncappedWarmup(peak, warmup), momentum=0.9)
    return _loop_run(model, opt, _MSE, batches)


def deep_normal_init(lr: float = 1e-3, depth: int = 4, steps: int = 100) -> Run:
    _seed()
    init = keras.initializers.RandomNormal(stddev=1.0, seed=SEED)
    model = _mlp(16, (32,) * depth, initializer=init)
    return _loop_run(model, keras.optimizers.SGD(lr), _MSE, _regression(steps, 32, 16, offset=4))


def irnn_long(peak: float = 0.05, length: int = 100, steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [
            keras.Input((length, 2)),
            keras.layers.SimpleRNN(
                16,
                activation="relu",
                recurrent_initializer=keras.initializers.Identity(),
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=SEED),
                name="irnn",
            ),
            keras.layers.Dense(1, name="head"),
        ]
    )
    opt = keras.optimizers.SGD(CappedWarmup(peak, steps))
    return _loop_run(model, opt, _MSE, _sequences(steps, 16, length, 2, offset=6))


def unscaled_target_fit(
    lr: float = 0.1, scale: float = 1000.0, momentum: float = 0.9, steps: int = 300
) -> Run:
    _seed()
    model = _mlp(8, (32, 32), activation="tanh")
    batches = _regression(steps, 32, 8, scale=scale, offset=7)
    return _fit_run(model, keras.optimizers.SGD(lr, momentum=momentum), _MSE, batches)


def float16_growth(lr: float = 0.15, scale: float = 1.0, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh", dtype="mixed_float16")
    opt = keras.optimizers.SGD(lr, momentum=0.9)
    batches = _regression(steps, 32, 16, scale=scale, offset=8)
    return _loop_run(model, opt, _MSE, batches)


def adam_schedule_grows_fit(lr: float = 1e-3, rate: float = 1.06, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64))
    # the rate multiplied by `rate` every step, under Adam (whose step is about the rate itself)
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=1, decay_rate=rate)
    batches = _regression(steps, 32, 16, offset=26)
    return _fit_run(model, keras.optimizers.Adam(schedule), _MSE, batches)


def adam_schedule_grows_tanh(lr: float = 1e-3, rate: float = 1.05, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=1, decay_rate=rate)
    batches = _regression(steps, 32, 16, offset=27)
    return _loop_run(model, keras.optimizers.Adam(schedule), _MSE, batches)


# ---------------------------------------------------------------------------------------------
# healthy builders


def healthy_mlp(steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), 5)
    return _loop_run(model, keras.optimizers.Adam(1e-3), _SCCE, _classes(steps, 32, (20,), 5))


def healthy_cnn_fit(steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_0"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_1"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="head"),
        ]
    )
    batches = _classes(steps, 16, (12, 12, 1), 3, offset=10)
    return _fit_run(model, keras.optimizers.Adam(1e-3), _SCCE, batches)


def healthy_lstm(steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [keras.Input((20, 4)), keras.layers.LSTM(16, name="lstm"), keras.layers.Dense(1)]
    )
    batches = _sequences(steps, 16, 20, 4, offset=11)
    return _loop_run(model, keras.optimizers.Adam(3e-3), _MSE, batches)


def healthy_attention_fit(steps: int = 200) -> Run:
    _seed()
    inputs = keras.Input((10, 8))
    attended = keras.layers.MultiHeadAttention(2, 8, name="mha")(inputs, inputs)
    x = keras.layers.LayerNormalization()(inputs + attended)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(1, name="head")(x)
    model = keras.Model(inputs, outputs)
    batches = _sequences(steps, 16, 10, 8, offset=12)
    return _fit_run(model, keras.optimizers.Adam(1e-3), _MSE, batches)


def spike_recovers(at: int = 150, factor: float = 30.0, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64))
    batches = _regression(steps, 32, 16, offset=13)
    x, y = batches[at]
    batches[at] = (x, y * factor)  # one batch of outlier targets
    return _loop_run(model, keras.optimizers.Adam(1e-3), _MSE, batches)


def lso_skips_fit(steps: int = 200) -> Run:
    _seed()
    model = _mlp(16, (64, 64), dtype="mixed_float16")
    opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3), initial_scale=2.0**20)
    return _fit_run(model, opt, _MSE, _regression(steps, 32, 16, scale=10.0, offset=14))


def large_stable(steps: int = 300) -> Run:
    _seed()
    model = _mlp(8, (32,))
    batches = _regression(steps, 32, 8, scale=1000.0, offset=15)
    return _loop_run(model, keras.optimizers.Adam(1e-2), _MSE, batches)


def noisy_small_batch(steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (32,))
    batches = _regression(steps, 2, 16, noise=1.0, offset=16)
    return _loop_run(model, keras.optimizers.SGD(0.02), _MSE, batches)


def warmup_capped_fit(steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(CappedWarmup(0.02, 50), momentum=0.9)
    return _fit_run(model, opt, _MSE, _regression(steps, 32, 16, offset=17))


def cosine_decay(steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        1e-4, decay_steps=steps - 30, warmup_target=3e-3, warmup_steps=30
    )
    batches = _classes(steps, 32, (20,), 5, offset=18)
    return _loop_run(model, keras.optimizers.Adam(schedule), _SCCE, batches)


def healthy_gru_fit(steps: int = 200) -> Run:
    _seed()
    model = keras.Sequential(
        [keras.Input((20, 4)), keras.layers.GRU(16, name="gru"), keras.layers.Dense(1)]
    )
    batches = _sequences(steps, 16, 20, 4, offset=19)
    return _fit_run(model, keras.optimizers.Adam(3e-3), _MSE, batches)


def deep_relu_mlp(depth: int = 24, width: int = 32, batches: int = 4, steps: int = 200) -> Run:
    _seed()
    model = _mlp(16, (width,) * depth)  # plain: Keras' default init, no normalization or skips
    fixed = _regression(batches, 32, 16, offset=22)
    cycled = [fixed[i % batches] for i in range(steps)]  # memorize a few batches
    return _loop_run(model, keras.optimizers.Adam(1e-3), _MSE, cycled)


def separable_logistic_fit(lr: float = 1.0, steps: int = 300) -> Run:
    _seed()
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1, name="logit")])
    batches = _separable(steps, 32, 10, offset=23)
    return _fit_run(model, keras.optimizers.SGD(lr), _BCE, batches)


def parity_plateau(
    bits: int = 3, hidden: int = 8, stddev: float = 0.05, lr: float = 0.1, steps: int = 300
) -> Run:
    _seed()
    init = keras.initializers.RandomNormal(stddev=stddev, seed=SEED)
    model = _mlp(bits, (hidden,), activation="tanh", initializer=init)
    batches = _parity(steps, bits)  # full-batch gradient descent, as in the XOR report
    return _loop_run(model, keras.optimizers.SGD(lr), _MSE, batches)


def batchnorm_high_rate_fit(lr: float = 0.3, momentum: float = 0.9, steps: int = 300) -> Run:
    _seed()
    layers: list[Any] = [keras.Input((20,))]
    for i in range(2):
        layers += [
            keras.layers.Dense(64, use_bias=False, name=f"dense_{i}"),
            keras.layers.BatchNormalization(name=f"bn_{i}"),
            keras.layers.Activation("relu"),
        ]
    layers.append(keras.layers.Dense(5, name="head"))
    batches = _classes(steps, 32, (20,), 5, offset=25)
    opt = keras.optimizers.SGD(lr, momentum=momentum)
    return _fit_run(keras.Sequential(layers), opt, _SCCE, batches)


# ---------------------------------------------------------------------------------------------
# the scenarios


def _diverging() -> list[Scenario]:
    return [
        # SGD with a too-high rate: "A high learning rate may cause a nan or an inf loss with
        # tf.keras.optimizers.SGD" https://github.com/tensorflow/tensorflow/issues/38796
        Scenario(
            "mlp_sgd_lr_high",
            True,
            "loop",
            300,
            partial(mlp_sgd),
            "https://github.com/tensorflow/tensorflow/issues/38796",
            "tanh MLP regression, SGD momentum 0.9 at a rate just above the stable one",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # training converges for epochs, then the loss jumps and never comes back:
        # https://github.com/keras-team/keras/issues/21 (closed with: lower the learning rate)
        Scenario(
            "mlp_momentum_lr_high_fit",
            True,
            "fit",
            300,
            partial(mlp_momentum_fit),
            "https://github.com/keras-team/keras/issues/21",
            "tanh MLP regression in model.fit, SGD momentum 0.9, rate too high: the loss "
            "climbs to huge values without a NaN",
            end="loss_ratio",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # "CNN outputs nan loss after first epoch": a too-high rate on a small conv net
        # https://taourl.com/read-2254961.html
        Scenario(
            "cnn_sgd_lr_high_fit",
            True,
            "fit",
            200,
            partial(cnn_sgd_fit),
            "https://taourl.com/read-2254961.html",
            "2-layer tanh CNN regression in model.fit, SGD momentum 0.9, rate too high",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # time-series nets whose learning stops with NaN weights at rates > 0.03
        # https://github.com/NLeSC/mcfly/issues/43
        Scenario(
            "gru_sgd_lr_high",
            True,
            "loop",
            200,
            partial(gru_sgd),
            "https://github.com/NLeSC/mcfly/issues/43",
            "GRU regression in a custom loop, SGD with a too-high rate",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # a simple RNN example whose loss goes to nan after a few epochs
        # https://github.com/zackchase/mxnet-the-straight-dope/issues/402
        Scenario(
            "simplernn_sgd_lr_high_fit",
            True,
            "fit",
            200,
            partial(simplernn_sgd_fit),
            "https://github.com/zackchase/mxnet-the-straight-dope/issues/402",
            "SimpleRNN (tanh) in model.fit, SGD with a too-high rate",
            causes=LR_CAUSES | {"recurrent_explosion"},
            fixes=LR_FIXES | {"use_gated_rnn"},
        ),
        # "There was a gradient explosion ... Why is the learning rate rising all the time"
        # https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138
        Scenario(
            "lr_schedule_grows",
            True,
            "loop",
            300,
            partial(growing_schedule),
            "https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138",
            "ExponentialDecay with decay_rate > 1: the rate grows 3 % a step",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # a warm-up that never ends ("warming up forever"):
        # https://github.com/facebookresearch/ParlAI/pull/4384 ; here the linear ramp lacks
        # its cap, so the rate keeps rising past the peak
        Scenario(
            "warmup_uncapped_fit",
            True,
            "fit",
            300,
            partial(warmup_uncapped_fit),
            "https://github.com/facebookresearch/ParlAI/pull/4384",
            "linear warm-up without min(step/warmup, 1) in model.fit: the rate never stops rising",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # the rising-rate report again, in model.fit with a gated LSTM: the rate grows 2 % a
        # step (ExponentialDecay with decay_rate 1.02)
        # https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138
        Scenario(
            "lstm_schedule_grows_fit",
            True,
            "fit",
            300,
            partial(lstm_schedule_grows_fit),
            "https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138",
            "LSTM regression in model.fit, SGD on ExponentialDecay(0.02, decay_rate=1.02)",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # the never-ending warm-up of https://github.com/facebookresearch/ParlAI/pull/4384 in a
        # custom loop, on a CNN
        Scenario(
            "cnn_warmup_uncapped",
            True,
            "loop",
            300,
            partial(cnn_warmup_uncapped),
            "https://github.com/facebookresearch/ParlAI/pull/4384",
            "tanh CNN in a custom loop, SGD momentum on a warm-up without its cap",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # "Initialization is the absolutely most important reason for exploding gradient"
        # https://github.com/ragulpr/wtte-rnn-examples/issues/2
        Scenario(
            "deep_normal_init",
            True,
            "loop",
            300,
            partial(deep_normal_init),
            "https://github.com/ragulpr/wtte-rnn-examples/issues/2",
            "4 ReLU layers drawn from N(0, 1) (not He/Glorot), SGD 1e-3: NaN within a few "
            "steps (fast: no slow N(0, 1) divergence was found in nets this small)",
            causes=frozenset({"initializer_scale"}),
            fixes=frozenset({"change_initializer"}),
            min_end=1,
            slow=False,
        ),
        # ReLU RNN with identity recurrent init (IRNN, https://github.com/keras-team/keras/pull/316)
        # whose loss explodes: https://github.com/chenxie95/deeplearning_course_sjtu/issues/31
        Scenario(
            "irnn_long_sequences",
            True,
            "loop",
            200,
            partial(irnn_long),
            "https://github.com/chenxie95/deeplearning_course_sjtu/issues/31",
            "ungated ReLU SimpleRNN (identity recurrent kernel, IRNN) on 100-step sequences, "
            "SGD ramped to 0.05 (an LSTM takes that rate)",
            causes=frozenset({"recurrent_explosion", "gradient_explosion"}),
            fixes=frozenset({"clip_gradients", "use_gated_rnn", "lower_learning_rate"}),
        ),
        # targets in the thousands and an MLP: "your input and output variables have too large
        # values" https://stackoverflow.com/questions/52800582
        Scenario(
            "unscaled_target_fit",
            True,
            "fit",
            300,
            partial(unscaled_target_fit),
            "https://stackoverflow.com/questions/52800582",
            "tanh MLP on targets ~1e3 (not scaled) in model.fit, SGD 0.1 momentum 0.9: the loss "
            "creeps up from ~1e5 to ~1e9 without a NaN",
            end="loss_ratio",
            causes=frozenset({"unscaled_target", "learning_rate_too_high"}),
            fixes=frozenset({"rescale_target", "lower_learning_rate", "clip_gradients"}),
        ),
        # float16 activations pass 65504 and become inf:
        # https://github.com/qubvel-org/segmentation_models.pytorch/issues/463 ,
        # https://github.com/tensorflow/tensorflow/issues/38357
        Scenario(
            "float16_growth",
            True,
            "loop",
            300,
            partial(float16_growth),
            "https://github.com/qubvel-org/segmentation_models.pytorch/issues/463",
            "mixed_float16 tanh MLP, SGD momentum 0.9 rate too high: float16 values grow past "
            "65504 long before float32 would overflow",
            causes=frozenset({"float16_range", "learning_rate_too_high"}),
            fixes=frozenset({"float32_layer", "lower_learning_rate", "clip_gradients"}),
        ),
        # The rising-rate report under the optimizer it trained with: its train.py uses Adam
        # and sets the rate each step ("the learning rate rising all the time", then NaN)
        # https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138 . Adam's step is
        # about the rate itself, so the weights move by a growing amount every step; the loss
        # then stalls at huge values (~1e4-1e6) for ~100 steps before a NaN, hence loss_ratio.
        # (That thread ended on other changes, a new mish activation and JPG for TIFF input: it
        # gives the pattern, a rate that keeps rising under Adam, not a confirmed cause.)
        # note: added 2026-12-03, written without reading the detectors
        Scenario(
            "adam_schedule_grows_fit",
            True,
            "fit",
            300,
            partial(adam_schedule_grows_fit),
            "https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138",
            "ReLU MLP regression in model.fit, Adam on ExponentialDecay(1e-3, decay_rate=1.06): "
            "trains for ~100 steps, then the loss climbs to huge values",
            end="loss_ratio",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        # Adam diverging past its stable rate: "increase your rate slowly and see if there is a
        # regime in which things train without diverging" (learning rate issues, and with Adam
        # the epsilon) https://github.com/tensorflow/tensorflow/issues/323 ; here the rate
        # itself rises 5 % a step and crosses that regime. A tanh net saturates, so the loss
        # climbs steadily (to ~1e8 by step 300) without a NaN. No *constant* Adam rate
        # (0.05-0.5; 2-8 layers, ReLU or tanh, regression or classification) diverged in nets
        # this small: the loss jumps, then recovers or plateaus.
        # note: added 2026-12-03, written without reading the detectors
        Scenario(
            "adam_schedule_grows_tanh",
            True,
            "loop",
            300,
            partial(adam_schedule_grows_tanh),
            "https://github.com/tensorflow/tensorflow/issues/323",
            "tanh MLP regression in a custom loop, Adam on ExponentialDecay(1e-3, "
            "decay_rate=1.05): the loss creeps up from step ~100 without a NaN",
            end="loss_ratio",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
    ]


def _healthy() -> list[Scenario]:
    return [
        # a plain Adam MLP over a few hundred steps (the TF guide's custom loop)
        Scenario(
            "healthy_mlp",
            False,
            "loop",
            300,
            partial(healthy_mlp),
            "https://www.tensorflow.org/guide/keras/writing_a_training_loop_from_scratch",
            "MLP classifier, Adam 1e-3",
        ),
        Scenario(
            "healthy_cnn_fit",
            False,
            "fit",
            200,
            partial(healthy_cnn_fit),
            "https://taourl.com/read-2254961.html",
            "small CNN classifier in model.fit, Adam 1e-3 (the fixed version of the CNN report)",
        ),
        # LSTM loss that fluctuates but trains: https://stats.stackexchange.com/questions/345990
        Scenario(
            "healthy_lstm",
            False,
            "loop",
            200,
            partial(healthy_lstm),
            "https://stats.stackexchange.com/questions/345990",
            "LSTM regression, Adam 3e-3",
        ),
        # noisy but healthy attention training: https://example-a.com/answer/49148639
        Scenario(
            "healthy_attention_fit",
            False,
            "fit",
            200,
            partial(healthy_attention_fit),
            "https://example-a.com/answer/49148639",
            "self-attention block + LayerNorm in model.fit, Adam 1e-3",
        ),
        # "If the loss recovers to its previous level within 2-3 steps, the training is likely
        # healthy" https://theneuralbase.com/sft/learn/beginner/loss-spike-during-training/
        Scenario(
            "spike_recovers",
            False,
            "loop",
            300,
            partial(spike_recovers),
            "https://theneuralbase.com/sft/learn/beginner/loss-spike-during-training/",
            "one batch of outlier targets (x30) at step 150, then the run recovers",
            check="spike",
        ),
        # "Gradient overflow. Skipping step ... is expected if you're training with mixed
        # precision" https://github.com/facebookresearch/swav/issues/47
        Scenario(
            "lso_skipped_steps_fit",
            False,
            "fit",
            200,
            partial(lso_skips_fit),
            "https://github.com/facebookresearch/swav/issues/47",
            "mixed_float16 + LossScaleOptimizer(initial_scale=2**20): its first steps overflow "
            "and are skipped while the scale comes down",
            check="skips",
        ),
        # "the cost is decreasing but HUGE in value" (targets not normalized)
        # https://community.deeplearning.ai/t/multiple-linear-regression-housing-prices-problem-cost-too-high/211759
        Scenario(
            "large_but_stable",
            False,
            "loop",
            300,
            partial(large_stable),
            "https://community.deeplearning.ai/t/multiple-linear-regression-housing-prices-problem-cost-too-high/211759",
            "targets ~1e3 with Adam: loss ~1e5..1e6, large but slowly falling",
            check="large",
        ),
        # "Smaller batch sizes can introduce more variance in the loss"
        # https://errorhandle.ai/what-causes-fluctuations-in-cross-entropy-loss
        Scenario(
            "noisy_small_batch",
            False,
            "loop",
            300,
            partial(noisy_small_batch),
            "https://errorhandle.ai/what-causes-fluctuations-in-cross-entropy-loss",
            "batch size 2, noisy targets, SGD 0.02: a jagged but flat loss",
        ),
        # the warm-up of warmup_uncapped_fit with its cap
        Scenario(
            "warmup_capped_fit",
            False,
            "fit",
            300,
            partial(warmup_capped_fit),
            "https://github.com/facebookresearch/ParlAI/pull/4384",
            "linear warm-up to 0.02 over 50 steps, then constant (SGD momentum, model.fit)",
        ),
        Scenario(
            "cosine_decay",
            False,
            "loop",
            300,
            partial(cosine_decay),
            "https://github.com/PaddlePaddle/PaddleDetection/pull/4611",
            "Keras CosineDecay with a 30-step warm-up to 3e-3, Adam",
        ),
        Scenario(
            "healthy_gru_fit",
            False,
            "fit",
            200,
            partial(healthy_gru_fit),
            "https://github.com/NLeSC/mcfly/issues/43",
            "GRU regression in model.fit, Adam 3e-3 (the stable setting of the GRU report)",
        ),
        # A deep plain ReLU MLP (24 Dense layers of 32, Keras' default Glorot init, no
        # normalization, no skips) memorizing 4 batches with Adam 1e-3. Gradients of deep
        # feedforward nets without skips "resemble white noise" (shattered gradients,
        # https://arxiv.org/abs/1702.08591), and a gradient norm that rises or jumps while the
        # loss converges is a known healthy pattern (https://github.com/allenai/OLMo/issues/596).
        # The loss sits near its start for ~50 steps, then falls ~40x with small bumps, while the
        # gradient norm (measured once, plain) rises irregularly from ~0.1 to 1-4.5.
        # note: added 2026-12-03, written without reading the detectors; category prompted by a
        # developer-seen false alarm on a deep ReLU MLP
        Scenario(
            "deep_relu_mlp",
            False,
            "loop",
            200,
            partial(deep_relu_mlp),
            "https://arxiv.org/abs/1702.08591",
            "24-layer plain ReLU MLP (width 32, default init) memorizing 4 batches, Adam 1e-3",
        ),
        # Unregularized logistic regression on linearly separable data: gradient descent drives
        # ||w|| to infinity (logarithmically) while the loss keeps falling toward 0, the
        # direction converging to the max-margin one (Soudry et al., "The Implicit Bias of
        # Gradient Descent on Separable Data", https://arxiv.org/abs/1710.10345). Here ||w||
        # goes ~1.3 -> 3.4 (step 30) -> 5.5 (100) -> 8.2 (300) with the loss ~1.3 -> ~0.05.
        # note: added 2026-12-03, written without reading the detectors; category prompted by a
        # developer-seen false alarm on a deep ReLU MLP
        Scenario(
            "separable_logistic_fit",
            False,
            "fit",
            300,
            partial(separable_logistic_fit),
            "https://arxiv.org/abs/1710.10345",
            "logistic regression (one Dense) on 8 cycled batches of separable data, SGD 1.0, "
            "no regularization: the weight norm grows without bound as the loss falls",
        ),
        # "Why it stays on the same cost value for so long?" an XOR net on a plateau that then
        # converges https://stats.stackexchange.com/questions/440558 ; small initial weights put
        # the run near a saddle: "long plateaus followed by rapid transitions to lower error"
        # (Saxe et al., https://arxiv.org/abs/1312.6120). Full-batch: the loss sits at ~1.0 (MSE
        # on +-1 targets) for ~130 steps, then falls to ~1e-6 by step 300; the gradient norm
        # (measured once, plain) grows ~70x (0.006 -> 0.45) as the run leaves the saddle and the
        # loss drops from 0.98 to 0.37, then shrinks again.
        # note: added 2026-12-03, written without reading the detectors; category prompted by a
        # developer-seen false alarm on a deep ReLU MLP
        Scenario(
            "parity_plateau",
            False,
            "loop",
            300,
            partial(parity_plateau),
            "https://stats.stackexchange.com/questions/440558",
            "3-bit parity (full batch), tanh net (8 hidden) drawn from N(0, 0.05^2), SGD 0.1: "
            "a plateau, then a fast drop with growing gradients",
        ),
        # BatchNorm lets a net train at a much higher rate (https://arxiv.org/abs/1502.03167),
        # and without weight decay the weights before a BN layer grow over time (the output is
        # invariant to their scale; "the norm of the weights tends to increase over time, and so
        # the effective learning rate decreases", https://arxiv.org/abs/1706.05350). Here the
        # hidden kernels' norms grow 2.4-4x (measured once, plain) while the median loss falls
        # from ~1.3 to ~0.5, with batch-to-batch noise.
        # note: added 2026-12-03, written without reading the detectors; category prompted by a
        # developer-seen false alarm on a deep ReLU MLP
        Scenario(
            "batchnorm_high_rate_fit",
            False,
            "fit",
            300,
            partial(batchnorm_high_rate_fit),
            "https://arxiv.org/abs/1706.05350",
            "Dense-BN-ReLU MLP classifier in model.fit, SGD 0.3 momentum 0.9, no weight decay: "
            "noisy but falling loss, growing kernel norms",
        ),
    ]


def all_scenarios() -> list[Scenario]:
    """Every scenario, diverging ones first; names are unique."""
    scenarios = _diverging() + _healthy()
    names = [s.name for s in scenarios]
    assert len(names) == len(set(names)), "scenario names must be unique"
    return scenarios


def diverging_scenarios() -> list[Scenario]:
    return [s for s in all_scenarios() if s.diverges]


def healthy_scenarios() -> list[Scenario]:
    return [s for s in all_scenarios() if not s.diverges]


def by_name(name: str) -> Scenario:
    for scenario in all_scenarios():
        if scenario.name == name:
            return scenario
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# running a scenario


@dataclass(frozen=True)
class Outcome:
    """A plain run (no nantrace): its per-step losses and how it ended.

    ``end_step`` is None when the run reached its budget without ending (always, for a
    healthy run that stays finite)."""

    losses: tuple[float, ...]
    end_step: int | None
    end_reason: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def _finite_variables(model: Any) -> bool:
    return all(bool(np.isfinite(v.numpy()).all()) for v in model.trainable_variables)


def _end_reason(scenario: Scenario, losses: list[float], model: Any) -> str | None:
    """Why the run ends at the step whose loss was just appended, or None."""
    loss = losses[-1]
    if not np.isfinite(loss):
        return "non-finite loss"
    if not _finite_variables(model):
        return "non-finite variable"
    if scenario.end == "loss_ratio" and len(losses) > scenario.early:
        base = min(losses[: scenario.early])
        if loss > scenario.ratio * base:
            return f"loss > {scenario.ratio:g} x early min {base:.3g}"
    return None


class _Recorder(keras.callbacks.Callback):
    """Per-batch loss of model.fit (metrics reset before each batch, so ``logs['loss']`` is
    this batch's loss, not the epoch's running mean) and the end check after each batch."""

    def __init__(self, scenario: Scenario, stop_at_end: bool = True) -> None:
        super().__init__()
        self.scenario = scenario
        self.stop_at_end = stop_at_end
        self.losses: list[float] = []
        self.end_step: int | None = None
        self.end_reason: str | None = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.model.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.losses.append(float((logs or {}).get("loss", float("nan"))))
        if self.end_step is None:
            reason = _end_reason(self.scenario, self.losses, self.model)
            if reason is not None:
                self.end_step, self.end_reason = len(self.losses) - 1, reason
                if self.stop_at_end:
                    self.model.stop_training = True


def _dataset(batches: list[tuple[np.ndarray, np.ndarray]]) -> Any:
    xs = np.stack([x for x, _ in batches])
    ys = np.stack([y for _, y in batches])
    return tf.data.Dataset.from_tensor_slices((xs, ys))


def run_plain(scenario: Scenario, stop_at_end: bool = True) -> Outcome:
    """Train the scenario without nantrace until it ends (or for its whole budget)."""
    run = scenario.build()
    batches = run.batches[: scenario.steps]
    if run.step is None:
        recorder = _Recorder(scenario, stop_at_end)
        run.model.fit(_dataset(batches), epochs=1, verbose=0, shuffle=False, callbacks=[recorder])
        losses, end_step, reason = recorder.losses, recorder.end_step, recorder.end_reason
    else:
        losses, end_step, reason = [], None, None
        for x, y in batches:
            losses.append(float(run.step(x, y)))
            if end_step is None:
                reason = _end_reason(scenario, losses, run.model)
                if reason is not None:
                    end_step = len(losses) - 1
                    if stop_at_end:
                        break
    extra: dict[str, Any] = {}
    if isinstance(run.optimizer, keras.optimizers.LossScaleOptimizer):
        extra["loss_scale"] = float(run.optimizer.dynamic_scale.numpy())
        extra["iterations"] = int(run.optimizer.iterations.numpy())
        extra["inner_iterations"] = int(run.optimizer.inner_optimizer.iterations.numpy())
    return Outcome(tuple(losses), end_step, reason, extra)


# ---------------------------------------------------------------------------------------------
# running a scenario under nantrace.watch(..., early_warning="warn")


class EarlyWarningUnavailable(RuntimeError):
    """``early_warning=`` is not accepted yet by nantrace.watch / NanTraceCallback."""


def early_warning_available() -> bool:
    """Whether nantrace.watch and NanTraceCallback take ``early_warning`` (signature only: no
    model is built and nothing runs)."""
    import inspect

    import nantrace

    try:
        watch = inspect.signature(nantrace.watch).parameters
        callback = inspect.signature(nantrace.NanTraceCallback.__init__).parameters
    except (TypeError, ValueError):
        return False
    return "early_warning" in watch and "early_warning" in callback


@dataclass(frozen=True)
class Watched:
    """A run under the early warning: every warning report, how far it ran, and whether the
    guard tripped (a NonFiniteError) before the run's limit."""

    warnings: tuple[Any, ...]
    steps_run: int
    tripped_at: int | None = None
    error: str | None = None


def _reports(caught: list[warnings.WarningMessage], kept: Any) -> tuple[Any, ...]:
    """The warnings' reports: the watched object's list when it has any, else the ones the
    ``warnings`` module delivered (``DivergenceWarning.report``)."""
    from nantrace import DivergenceWarning

    if kept:
        return tuple(kept)
    found = [w.message.report for w in caught if isinstance(w.message, DivergenceWarning)]
    return tuple(r for r in found if r is not None)


def _warned(caught: list[warnings.WarningMessage]) -> bool:
    from nantrace import DivergenceWarning

    return any(isinstance(w.message, DivergenceWarning) for w in caught)


class _Counter(keras.callbacks.Callback):
    """Counts model.fit batches; stops the fit at the first DivergenceWarning when asked."""

    def __init__(self, caught: list[warnings.WarningMessage], stop_at_first: bool) -> None:
        super().__init__()
        self.caught = caught
        self.stop_at_first = stop_at_first
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.batches += 1
        if self.stop_at_first and _warned(self.caught):
            self.model.stop_training = True


def run_watched(scenario: Scenario, limit: int, stop_at_first: bool) -> Watched:
    """Train the scenario for at most ``limit`` steps under ``early_warning="warn"``.

    ``stop_at_first`` ends the run after the first warning (a diverging run: only the first
    one is scored). A trip of the guard (NonFiniteError) ends the run. Raises
    EarlyWarningUnavailable when nantrace does not take ``early_warning=``.
    """
    import nantrace
    from nantrace import DivergenceWarning, NonFiniteError

    if not early_warning_available():
        raise EarlyWarningUnavailable("early warning not available")
    run = scenario.build()
    batches = run.batches[: min(limit, scenario.steps)]
    tripped_at: int | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        try:
            if run.step is None:
                callback = nantrace.NanTraceCallback(early_warning="warn")
                counter = _Counter(caught, stop_at_first)
                try:
                    run.model.fit(
                        _dataset(batches),
                        epochs=1,
                        verbose=0,
                        shuffle=False,
                        callbacks=[callback, counter],
                    )
                except NonFiniteError:
                    tripped_at = counter.batches
                steps_run = counter.batches + (tripped_at is not None)
                kept = getattr(callback, "early_warnings", None)
            else:
                watched = nantrace.watch(run.step, early_warning="warn")
                steps_run = 0
                for x, y in batches:
                    try:
                        watched(x, y)
                    except NonFiniteError:
                        tripped_at = steps_run
                        steps_run += 1
                        break
                    steps_run += 1
                    if stop_at_first and (watched.early_warnings or _warned(caught)):
                        break
                kept = watched.early_warnings
        except TypeError as exc:
            if "early_warning" in str(exc):
                raise EarlyWarningUnavailable("early warning not available") from exc
            raise
    return Watched(_reports(caught, kept), steps_run, tripped_at)
