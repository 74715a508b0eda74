"""Transparency: a watched healthy run is bit-identical to the unwatched run.

Both runs are built from the same seed with fresh models; the watched one must give exactly the
same losses, weights, optimizer slots and random streams (Dropout's SeedGenerator, the global
Keras SeedGenerator, TF's op-seeded random ops), for a tf.function step and for an eager step.
Everything is compared with ``np.array_equal``: a one-ulp difference fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import nantrace  # noqa: E402

SEED = 1234
STEPS = 20
BATCH = 16


def _data() -> list[tuple[Any, Any]]:
    """Fixed batches (independent of the framework seeds); the last one is smaller, as the
    last batch of an epoch often is, so a tf.function step is traced twice."""
    rng = np.random.default_rng(7)
    batches = []
    for i in range(STEPS):
        n = BATCH if i < STEPS - 1 else BATCH // 2
        x = rng.standard_normal((n, 12)).astype("float32")
        y = rng.integers(0, 3, size=(n,)).astype("int32")
        batches.append((tf.constant(x), tf.constant(y)))
    return batches


def _run(
    compiled: bool, watched: bool, *, seed: int = SEED, extra_draw: bool = False
) -> dict[str, Any]:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.GaussianNoise(0.1),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3),
        ]
    )
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if extra_draw:  # shift Dropout's RNG stream by one draw: the comparison must notice
        model.layers[1].seed_generator.next()

    def train_step(x, y):
        x = x + tf.random.normal(tf.shape(x), stddev=0.05)  # op-seeded TF RNG (augmentation)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step: Any = tf.function(train_step) if compiled else train_step
    if watched:
        step = nantrace.watch(step)
    losses = [np.asarray(step(x, y)) for x, y in _data()]
    probe = tf.ones((4, 32))
    return {
        "losses": losses,
        "model_variables": [np.asarray(v.numpy()) for v in model.variables],
        "optimizer_variables": [np.asarray(v.numpy()) for v in optimizer.variables],
        # random streams after the run: each draw depends on the generator's state
        "dropout_draw": np.asarray(model.layers[1](probe, training=True)),
        "keras_global_draw": np.asarray(keras.random.normal((5,))),
        "tf_global_draw": np.asarray(tf.random.uniform((5,))),
        "watched_steps": getattr(step, "step", None),
    }


def _assert_identical(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in (
        "losses",
        "model_variables",
        "optimizer_variables",
        "dropout_draw",
        "keras_global_draw",
        "tf_global_draw",
    ):
        left, right = a[key], b[key]
        if isinstance(left, list):
            assert len(left) == len(right), key
            for i, (u, w) in enumerate(zip(left, right, strict=True)):
                assert u.dtype == w.dtype and u.shape == w.shape, f"{key}[{i}]"
                assert np.array_equal(u, w), f"{key}[{i}] differs"
        else:
            assert np.array_equal(left, right), f"{key} differs"


@pytest.mark.parametrize("compiled", [True, False], ids=["tf_function", "eager"])
def test_watched_healthy_run_is_bit_identical(compiled: bool) -> None:
    plain = _run(compiled, watched=False)
    watched = _run(compiled, watched=True)
    assert watched["watched_steps"] == STEPS
    assert all(np.isfinite(loss) for loss in plain["losses"])
    # Dropout and noise make the run RNG-dependent (so the comparison has teeth)
    assert len({float(loss) for loss in plain["losses"]}) == STEPS
    _assert_identical(plain, watched)


@pytest.mark.parametrize("compiled", [True, False], ids=["tf_function", "eager"])
def test_comparison_detects_a_shifted_rng_stream(compiled: bool) -> None:
    """The check is strict enough to see one extra Dropout draw (no allclose slack)."""
    plain = _run(compiled, watched=False)
    shifted = _run(compiled, watched=False, extra_draw=True)
    with pytest.raises(AssertionError):
        _assert_identical(plain, shifted)


def test_unwatched_runs_are_reproducible() -> None:
    """Sanity for the method: two unwatched runs from the same seed are bit-identical."""
    _assert_identical(_run(True, watched=False), _run(True, watched=False))


# -- XLA (jit_compile=True) ------------------------------------------------------------------
XLA_STEPS = 6


def _xla_model(kind: str) -> tuple[Any, tuple[int, ...]]:
    layers = keras.layers
    if kind == "mlp":
        shape = (196,)
        stack = [layers.Dense(128, activation="relu"), layers.Dense(64, activation="relu")]
    else:  # the bench's CNN: its gradients are where XLA's fusion shows any extra reader
        shape = (28, 28, 1)
        stack = [
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
        ]
    return keras.Sequential([keras.Input(shape), *stack, layers.Dense(10)]), shape


def _run_xla(kind: str, watched: bool, read_gradients: bool = False) -> dict[str, Any]:
    """``read_gradients``: a plain step that also returns the gradients' sum of squares."""
    keras.utils.set_random_seed(SEED)
    model, shape = _xla_model(kind)
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        if read_gradients:
            return loss, tf.add_n([tf.nn.l2_loss(g) for g in grads])
        return loss

    step: Any = tf.function(train_step, jit_compile=True)
    if watched:
        step = nantrace.watch(step)
    rng = np.random.default_rng(5)
    losses = []
    for _ in range(XLA_STEPS):
        x = tf.constant(rng.standard_normal((64, *shape)).astype("float32"))
        y = tf.constant(rng.integers(0, 10, size=(64,)).astype("int32"))
        out = step(x, y)
        losses.append(np.asarray(out[0] if read_gradients else out))
    return {
        "losses": losses,
        "model_variables": [np.asarray(v.numpy()) for v in model.variables],
        "optimizer_variables": [np.asarray(v.numpy()) for v in optimizer.variables],
        "gated": getattr(step, "gated", None),
    }


def _assert_state_identical(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("losses", "model_variables", "optimizer_variables"):
        for i, (u, w) in enumerate(zip(a[key], b[key], strict=True)):
            assert np.array_equal(u, w), f"{key}[{i}] differs by {np.max(np.abs(u - w)):.3g}"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_xla_watched_run_is_bit_identical(kind: str) -> None:
    """Under XLA the guard reads no gradient (see the next test) and gates the update."""
    watched = _run_xla(kind, watched=True)
    assert watched["gated"] is True
    _assert_state_identical(_run_xla(kind, watched=False), watched)


@pytest.mark.slow
def test_xla_comparison_sees_a_gradient_reader() -> None:
    """Why the guard checks no gradient under XLA: one more reader of the gradients (their sum
    of squares, as a global norm needs) changes XLA's fusion of the update, and the weights."""
    plain = _run_xla("cnn", watched=False)
    with pytest.raises(AssertionError, match="differs by"):
        _assert_state_identical(plain, _run_xla("cnn", watched=False, read_gradients=True))
