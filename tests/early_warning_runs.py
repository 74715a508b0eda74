"""The early-warning developers' own runs: small models that diverge slowly, and healthy ones.

Not the blind divergence suite (``tests/divergence_suite.py``, written separately so the
detectors are not tuned on it). ``python tests/early_warning_runs.py`` trains each run under
``nantrace.watch(early_warning="warn", verify=False)`` and prints, per run, the step of the
first NaN (the guard's trip), the steps that warned, the lead (NaN step - warning step), the
signal and the cause. Each run takes a few seconds on a CPU.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import nantrace


@dataclass
class Outcome:
    name: str
    nan_at: int | None
    steps: int
    warnings: list[Any]

    @property
    def lead(self) -> int | None:
        if self.nan_at is None or not self.warnings:
            return None
        return self.nan_at - self.warnings[0].step


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

    @nantrace.watch(early_warning=early_warning, verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    nan_at = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
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
    reports = [
        w.message.report for w in caught if issubclass(w.category, nantrace.DivergenceWarning)
    ]
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


# -- runs that must not warn -------------------------------------------------------------------
def spike(kind: str, length: int, factor: float, sgd: bool = False):
    """A healthy MLP (Adam 1e-3, or SGD 0.01) with ``length`` bad steps at step 150: inputs
    x factor (``data``), labels + factor (``label``) or the learning rate x factor (``lr``)."""
    keras.utils.set_random_seed(12)
    x, y = regression(12)
    model = mlp(depth=1)
    optimizer = keras.optimizers.SGD(0.01) if sgd else keras.optimizers.Adam(1e-3)
    lr = float(optimizer.learning_rate.numpy())
    loss_fn = keras.losses.MeanSquaredError()

    @nantrace.watch(verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
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
    reports = [
        w.message.report for w in caught if issubclass(w.category, nantrace.DivergenceWarning)
    ]
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


DIVERGING: list[Callable[[], Any]] = [
    linear_sgd_past_the_limit,
    mlp_lr_schedule_grows,
    cnn_lr_schedule_grows,
    gru_lr_schedule_grows,
    relu_rnn_lr_schedule_grows,
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
#: healthy runs that warn today (measured, kept visible).
FALSE_ALARMS: list[Callable[[], Any]] = [sgd_lr_x20_for_5_steps]


def run(fn: Callable[[], Any]) -> Outcome:
    step, nan_at, reports = fn()
    return Outcome(fn.__name__, nan_at, step.step, reports)


def main(names: list[str]) -> None:
    every = DIVERGING + HEALTHY + FALSE_ALARMS
    chosen = [f for f in every if not names or f.__name__ in names]
    print("| run | steps | NaN at | warned at | lead | signal | cause |")
    print("|---|---|---|---|---|---|---|")
    for fn in chosen:
        outcome = run(fn)
        first = outcome.warnings[0] if outcome.warnings else None
        print(
            f"| {outcome.name} | {outcome.steps} | {outcome.nan_at} "
            f"| {[r.step for r in outcome.warnings]} | {outcome.lead} "
            f"| {first.signal.id if first else '-'} "
            f"| {first.cause.id if first and first.cause else '-'} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
