"""Real checkpoints for the post-mortem tests (scan, diff, bad files), made by real training.

Each builder trains a small Keras model with a real optimizer for a few real steps and saves it
the way users do: ``tf.train.Checkpoint(model=..., optimizer=...)``, ``model.save("x.keras")``
and ``model.save_weights("x.weights.h5")``. Nothing is written into the arrays by hand: the
non-finite checkpoints went non-finite in training.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


@dataclass
class Saved:
    """Paths of one model's saved state."""

    prefixes: list[str] = field(default_factory=list)  # TF checkpoint prefixes, oldest first
    keras: str | None = None
    weights: str | None = None
    steps: list[int] = field(default_factory=list)  # optimizer iterations at each prefix
    directory: str | None = None  # a directory of Checkpoint.save() checkpoints, if any


def mlp(seed: int, inputs: int = 8, units: int = 16, initializer="glorot_uniform") -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(units, "relu", kernel_initializer=initializer, name="hidden"),
            keras.layers.Dense(units, "relu", name="hidden2"),
            keras.layers.Dense(1, name="out"),
        ],
        name="mlp",
    )


def regression_data(seed: int, n: int = 64, inputs: int = 8, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, inputs)) * scale).astype("float32")
    y = (x @ rng.standard_normal((inputs, 1)) + 0.1).astype("float32")
    return x, y


def train(model, optimizer, x, y, steps: int) -> list[float]:
    """Plain custom loop, no guard: whatever the optimizer does to the weights, happens."""
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        losses.append(float(loss))
    return losses


def all_finite(model) -> bool:
    return all(bool(np.isfinite(np.asarray(v)).all()) for v in model.weights)


def save_all(model, optimizer, directory: str, name: str, saved: Saved) -> None:
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    saved.prefixes.append(
        checkpoint.write(os.path.join(directory, f"{name}-{len(saved.prefixes)}"))
    )
    saved.steps.append(int(optimizer.iterations.numpy()))
    saved.keras = os.path.join(directory, f"{name}.keras")
    saved.weights = os.path.join(directory, f"{name}.weights.h5")
    model.save(saved.keras)
    model.save_weights(saved.weights)


def healthy(directory: str) -> Saved:
    """Adam at 1e-3 on a well-scaled regression: two checkpoints, 5 steps apart; the same two
    also saved with ``Checkpoint.save`` into ``managed/`` (which keeps a ``checkpoint`` file
    naming the latest)."""
    model = mlp(seed=1)
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = regression_data(1)
    saved = Saved()
    managed = tf.train.Checkpoint(model=model, optimizer=optimizer)
    for _ in range(2):
        train(model, optimizer, x, y, 5)
        save_all(model, optimizer, directory, "healthy", saved)
        managed.save(os.path.join(directory, "managed", "ckpt"))
    saved.directory = os.path.join(directory, "managed")
    return saved


def diverged(directory: str, max_steps: int = 200) -> Saved:
    """SGD with momentum 0.9 at learning rate 0.05 on inputs of scale 3 (too large a step for
    that input scale): the loss explodes and the weights overflow to NaN/Inf within ~10 steps.
    Saves the first checkpoint (step 1), the last finite one and the first non-finite one."""
    model = mlp(seed=2)
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = regression_data(2, scale=3.0)
    saved = Saved()
    train(model, optimizer, x, y, 1)
    save_all(model, optimizer, directory, "diverged", saved)
    last_good = None
    for _ in range(max_steps):
        train(model, optimizer, x, y, 1)
        if not all_finite(model):
            break
        last_good = tf.train.Checkpoint(model=model, optimizer=optimizer).write(
            os.path.join(directory, "diverged-last-good")
        )
        last_good_step = int(optimizer.iterations.numpy())
    else:  # pragma: no cover - the scenario guarantees divergence
        raise AssertionError(f"training stayed finite for {max_steps} steps")
    saved.prefixes.append(last_good)
    saved.steps.append(last_good_step)
    save_all(model, optimizer, directory, "diverged", saved)
    return saved


def bad_initializer(directory: str) -> Saved:
    """The first layer's kernel drawn with stddev 20 (He for fan-in 8 is 0.5), trained two Adam
    steps at 1e-3: finite, but 40x too large."""
    model = mlp(seed=3, initializer=keras.initializers.RandomNormal(stddev=20.0))
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = regression_data(3)
    saved = Saved()
    train(model, optimizer, x, y, 2)
    save_all(model, optimizer, directory, "bad_init", saved)
    return saved


def zero_epsilon(directory: str) -> Saved:
    """Adam with epsilon=0 and one input feature that is always 0 (a dead column): that row of
    the first kernel never gets a gradient, so its update is 0/0 = NaN after the first step."""
    model = mlp(seed=4)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=0.0)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = regression_data(4)
    x[:, 3] = 0.0
    saved = Saved()
    train(model, optimizer, x, y, 1)
    assert not all_finite(model), "Adam(epsilon=0) on a dead feature must produce NaN"
    save_all(model, optimizer, directory, "zero_eps", saved)
    return saved


def with_lambda(directory: str) -> str:
    """A functional model with a Lambda layer (Python bytecode in config.json), trained and
    saved as .keras: Keras refuses to load it in safe mode."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, "relu", name="hidden")(inputs)
    hidden = keras.layers.Lambda(lambda t: t * 2.0, name="double")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(hidden))
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = regression_data(5, inputs=4)
    train(model, optimizer, x, y, 2)
    path = os.path.join(directory, "lambda.keras")
    model.save(path)
    return path


def npz_weights(directory: str) -> str:
    """A .keras whose weights Keras wrote as model.weights.npz (pickled object arrays)."""
    from keras.src.saving import saving_lib

    model = mlp(seed=6)
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = regression_data(6)
    train(model, optimizer, x, y, 2)
    path = os.path.join(directory, "npz.keras")
    saving_lib.save_model(model, path, weights_format="npz")
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``nantrace ARGV`` in this process: (exit code, stdout, stderr)."""
    from nantrace.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def strict_json(text: str):
    """json.loads that rejects NaN / Infinity tokens (the schema promises plain JSON)."""
    import json

    def reject(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def unscaled_batchnorm(directory: str) -> str:
    """Raw features of scale 1e4 into Dense + BatchNormalization, five Adam steps: the moving
    variance learns the input's scale. Saved as a TF checkpoint; returns its prefix."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.BatchNormalization(name="input_norm"),
            keras.layers.Dense(8, "relu", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ],
        name="bn",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    x, y = regression_data(7, scale=1e4)
    train(model, optimizer, x, y, 5)
    return tf.train.Checkpoint(model=model, optimizer=optimizer).write(
        os.path.join(directory, "unscaled")
    )


def tf1_name_based(directory: str) -> str:
    """A TF1-style name-based checkpoint (``tf.compat.v1.train.Saver``, AdamOptimizer slots
    ``dense/kernel/Adam`` and ``/Adam_1``, ``global_step``): no object graph."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, (None, 4))
        y = v1.placeholder(tf.float32, (None, 1))
        kernel = v1.get_variable("dense/kernel", (4, 1))
        bias = v1.get_variable("dense/bias", (1,), initializer=v1.zeros_initializer())
        loss = tf.reduce_mean(tf.square(tf.matmul(x, kernel) + bias - y))
        step = v1.train.get_or_create_global_step()
        train_op = v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=step)
        saver = v1.train.Saver()
        features, targets = regression_data(8, inputs=4)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            for _ in range(3):
                session.run(train_op, {x: features, y: targets})
            return saver.save(session, os.path.join(directory, "tf1", "model"))
