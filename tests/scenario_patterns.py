"""More NaN scenarios from real bug patterns, written BLIND (before the cause/fix rules for their
patterns were written, without reading those rules or tuning to their output).

Each scenario states what a CORRECT report says, from the bug pattern itself; the story names the
pattern and, where one was found, a public bug report or Q&A thread of it. Layer names are set
explicitly only so the expectations can name them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    dtype_policy,
    mlp,
    run_loop,
    seeded,
    standard_step,
)

from nantrace.report.records import Report


def _custom_step(model, optimizer, loss_of):
    """A train step whose loss is ``loss_of(model, *batch)``: an ordinary custom loop."""

    def train_step(*batch):
        with tf.GradientTape() as tape:
            loss = loss_of(model, *batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def _with_policy(policy: str, build: Callable[[], Report | None]) -> Report | None:
    with dtype_policy(policy):
        return build()


# ---------------------------------------------------------------------------------------------
# 1-2. exp overflow
# ---------------------------------------------------------------------------------------------
class Sampling(keras.layers.Layer):
    """The VAE reparameterization z = mean + exp(log_var / 2) * eps."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed = keras.random.SeedGenerator(101)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(tf.shape(mean), seed=self.seed)
        return mean + tf.exp(0.5 * log_var) * eps


def vae_raw_pixels_kl_overflow():
    rng = seeded(400)
    x = rng.integers(0, 256, size=(64, 36)).astype("float32")  # raw 0-255 6x6 pixels, never /255
    inputs = keras.Input((36,))
    h = keras.layers.Dense(16, activation="relu", name="encoder")(inputs)
    mean = keras.layers.Dense(4, name="z_mean")(h)
    log_var = keras.layers.Dense(4, name="z_log_var")(h)
    z = Sampling(name="sampling")([mean, log_var])
    d = keras.layers.Dense(16, activation="relu", name="decoder")(z)
    out = keras.layers.Dense(36, name="reconstruction")(d)
    model = keras.Model(inputs, [out, mean, log_var], name="vae")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, _):
        recon, mean, log_var = model(x, training=True)
        rec = tf.reduce_mean(tf.square(x - recon))
        kl = -0.5 * tf.reduce_mean(
            tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1)
        )
        return rec + kl

    return run_loop(
        _custom_step(model, optimizer, loss_of), batches(x, x), model=model, optimizer=optimizer
    )


class TemperedSoftmax(keras.layers.Layer):
    """A hand-written softmax with a temperature: exp(x / T) / sum(exp(x / T))."""

    def __init__(self, temperature, **kwargs):
        super().__init__(**kwargs)
        self.temperature = temperature

    def call(self, x):
        e = tf.exp(x / self.temperature)
        return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def tempered_softmax_tiny_temperature():
    rng = seeded(401)
    x = rng.normal(size=(96, 12)).astype("float32")
    y = rng.integers(0, 6, size=(96,)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(6, name="logits"),
            TemperedSoftmax(0.01, name="tempered_softmax"),  # "sharpen" with T = 0.01
        ],
        name="classifier",
    )
    return run_loop(
        standard_step(
            model, keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy()
        ),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 3. optimizer epsilon underflows to 0 in float16 variables
# ---------------------------------------------------------------------------------------------
def _float16_tabular(seed):
    rng = seeded(seed)
    numeric = rng.normal(size=(128, 6))
    category = np.eye(4)[rng.integers(0, 3, size=128)]  # one-hot; category 3 never occurs
    x = np.concatenate([numeric, category], axis=1).astype("float16")
    y = (numeric[:, :1] * 0.5 + rng.normal(size=(128, 1)) * 0.1).astype("float16")
    model = keras.Sequential(
        [
            keras.Input((10,), dtype="float16"),
            keras.layers.Dense(16, activation="tanh", dtype="float16", name="hidden"),
            keras.layers.Dense(1, dtype="float16", name="head"),
        ],
        name="half",
    )
    return x, y, model


def float16_adam_epsilon_underflow():
    x, y, model = _float16_tabular(402)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)  # 1e-8 is 0 in float16
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()), batches(x, y, epochs=2)
    )


# ---------------------------------------------------------------------------------------------
# 4. domain errors: log / sqrt / fractional pow / log1p / acos of a value outside the domain
# ---------------------------------------------------------------------------------------------
def log_error_on_linear_output():
    rng = seeded(403)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.uniform(1, 20, size=(96, 1)).astype("float32")  # positive, counts-like target
    model = mlp([16])  # linear head: about half the predictions are negative at the start

    def loss_fn(y_true, y_pred):
        return tf.reduce_mean(tf.square(tf.math.log(y_pred) - tf.math.log(y_true)))

    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss_fn), batches(x, y))


class Torricelli(keras.layers.Layer):
    """Outflow speed sqrt(2 g (h_in - h_out)) from two learned heads (a physics-informed layer)."""

    def call(self, inputs):
        h_in, h_out = inputs
        return tf.sqrt(2.0 * 9.81 * (h_in - h_out))


def sqrt_of_learned_difference():
    rng = seeded(404)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = rng.uniform(0, 5, size=(96, 1)).astype("float32")
    inputs = keras.Input((6,))
    h = keras.layers.Dense(16, activation="tanh", name="hidden")(inputs)
    h_in = keras.layers.Dense(1, name="level_in")(h)
    h_out = keras.layers.Dense(1, name="level_out")(h)
    speed = Torricelli(name="torricelli")([h_in, h_out])
    out = keras.layers.Dense(1, name="head")(speed)
    model = keras.Model(inputs, out, name="tank")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


class CubeRoot(keras.layers.Layer):
    """A 'cube-root compression' of skewed signed features written as pow(x, 1/3)."""

    def call(self, x):
        return tf.pow(x, 1.0 / 3.0)


def cube_root_of_signed_features():
    rng = seeded(405)
    x = rng.normal(size=(96, 8)).astype("float32")  # standardized: half the values negative
    y = rng.normal(size=(96, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            CubeRoot(name="cbrt"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="head"),
        ],
        name="net",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
        compiled=False,
    )


class Log1pCompress(keras.layers.Layer):
    def call(self, x):
        return tf.math.log1p(x)


def log1p_of_linear_features():
    rng = seeded(406)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.normal(size=(96, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, name="proj"),  # linear: values below -1 are common
            Log1pCompress(name="log1p_compress"),
            keras.layers.Dense(1, name="head"),
        ],
        name="net",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


def angular_loss_without_normalization():
    rng = seeded(407)
    x = rng.normal(size=(96, 10)).astype("float32")
    target = rng.normal(size=(96, 3)).astype("float32")
    target /= np.linalg.norm(target, axis=1, keepdims=True)  # unit target directions
    model = mlp([16], input_dim=10, out=3, name="direction")

    def loss_fn(t, p):
        cos = tf.reduce_sum(t * p, axis=-1)  # p was never normalized: |cos| > 1
        return tf.reduce_mean(tf.acos(cos))

    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss_fn), batches(x, target))


# ---------------------------------------------------------------------------------------------
# 5. the tf.where gradient trap
# ---------------------------------------------------------------------------------------------
def where_guarded_poisson_deviance():
    rng = seeded(408)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.poisson(1.5, size=(96, 1)).astype("float32")  # zero counts are common
    model = mlp([16], out_activation="softplus", name="claims")

    def loss_fn(counts, mu):
        # the textbook guard for y = 0 in the Poisson deviance: the value is finite, but the
        # backward of the unselected 0 * log(0 / mu) branch is 0 * Inf = NaN
        term = tf.where(counts > 0, counts * tf.math.log(counts / mu), tf.zeros_like(mu))
        return 2.0 * tf.reduce_mean(term - (counts - mu))

    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss_fn), batches(x, y))


def where_guarded_mape_with_zero_targets():
    rng = seeded(409)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.uniform(1, 10, size=(96, 1)).astype("float32")
    y[rng.random(size=(96, 1)) < 0.1] = 0.0  # zero-demand days
    model = mlp([16], name="demand")

    def loss_fn(y_true, y_pred):
        # "safe" percentage error: the forward value is finite, but d/dy_pred of the unselected
        # (y_pred - 0) / 0 is 0 / 0 = NaN in the backward pass
        ape = tf.where(y_true != 0, tf.abs(y_pred - y_true) / y_true, tf.zeros_like(y_true))
        return tf.reduce_mean(ape)

    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss_fn), batches(x, y))


# ---------------------------------------------------------------------------------------------
# 6. masked mean over an empty mask
# ---------------------------------------------------------------------------------------------
def token_loss_batch_without_labels():
    rng = seeded(410)
    tokens = rng.integers(1, 30, size=(96, 12)).astype("int32")
    labels = rng.integers(0, 5, size=(96, 12)).astype("int32")
    labels[rng.random(size=(96, 12)) < 0.3] = -1  # ignore_index
    labels[64:] = -1  # the last batch holds only unlabeled sequences
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            keras.layers.Embedding(30, 8, name="embed"),
            keras.layers.Dense(5, name="tagger"),
        ],
        name="tagger_model",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def loss_of(model, tokens, labels):
        mask = tf.cast(labels >= 0, tf.float32)
        per_token = ce(tf.maximum(labels, 0), model(tokens, training=True))
        return tf.reduce_sum(per_token * mask) / tf.reduce_sum(mask)

    return run_loop(
        _custom_step(model, optimizer, loss_of),
        batches(tokens, labels),
        model=model,
        optimizer=optimizer,
    )


def boolean_mask_mean_of_empty_batch():
    rng = seeded(411)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.normal(size=(96, 1)).astype("float32")
    valid = (rng.random(size=(96, 1)) < 0.5).astype("float32")
    valid[32:64] = 0.0  # a batch from a sensor that was offline: nothing valid
    model = mlp([16])
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y, valid):
        err = tf.square(model(x, training=True) - y)
        return tf.reduce_mean(tf.boolean_mask(err, valid > 0))

    data = (
        (tf.constant(x[i : i + 32]), tf.constant(y[i : i + 32]), tf.constant(valid[i : i + 32]))
        for i in range(0, 96, 32)
    )
    return run_loop(
        _custom_step(model, optimizer, loss_of),
        data,
        compiled=False,
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. bfloat16: values above 65504 are fine; the NaN is a log(0) in a hand-written loss
# ---------------------------------------------------------------------------------------------
def _bf16_income_data(seed):
    rng = seeded(seed)
    income = rng.uniform(5e4, 5e5, size=(96, 1))  # dollars: fine for bfloat16 (max ~3.4e38)
    other = rng.normal(size=(96, 5))
    x = np.concatenate([income, other], axis=1).astype("float32")
    target = rng.dirichlet(np.ones(4) * 0.3, size=96)
    target[target < 0.05] = 0.0  # sparse target distributions: exact zeros
    target /= target.sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(32, name="wide"),  # pre-activations reach ~1e5 (> 65504)
            keras.layers.LayerNormalization(name="norm"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(4, activation="softmax", name="head", dtype="float32"),
        ],
        name="bf16_net",
    )
    return x, target.astype("float32"), model


def bfloat16_kl_by_hand_zero_target():
    def build():
        x, target, model = _bf16_income_data(412)

        def loss_fn(p, q):
            return tf.reduce_mean(tf.reduce_sum(p * tf.math.log(p / q), axis=-1))

        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), loss_fn), batches(x, target)
        )

    return _with_policy("mixed_bfloat16", build)


# ---------------------------------------------------------------------------------------------
# 8. training resumed from an already-corrupted checkpoint
# ---------------------------------------------------------------------------------------------
def _resume_net():
    return mlp([16, 16], name="resumed")


def resumed_from_nan_checkpoint():
    rng = seeded(413)
    x = rng.normal(size=(160, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    loss = keras.losses.MeanSquaredError()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt")
        # The earlier run: trained a few steps, then wrote a checkpoint whose weights already
        # held a NaN (a bad host, a bit flip, a write during an unguarded NaN step).
        old_model, old_opt = _resume_net(), keras.optimizers.Adam(1e-3)
        old_step = tf.function(standard_step(old_model, old_opt, loss))
        for xb, yb in batches(x[:96], y[:96]):
            old_step(xb, yb)
        kernel = old_model.get_layer("hidden1").kernel
        value = kernel.numpy()
        value[3, 5] = np.nan
        kernel.assign(value)
        tf.train.Checkpoint(model=old_model, optimizer=old_opt).write(path)

        # The resumed run: a fresh process restores it and keeps training.
        model, optimizer = _resume_net(), keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)
        tf.train.Checkpoint(model=model, optimizer=optimizer).read(path).expect_partial()
        assert int(optimizer.iterations.numpy()) > 0
        return run_loop(standard_step(model, optimizer, loss), batches(x[96:], y[96:]))


# ---------------------------------------------------------------------------------------------
# 9. huge regression targets, standardized inputs
# ---------------------------------------------------------------------------------------------
def _house_prices(seed):
    rng = seeded(seed)
    x = rng.normal(size=(256, 8)).astype("float32")  # standardized features
    price = 4.5e5 + 1.5e5 * (x @ rng.normal(size=(8, 1)) / np.sqrt(8))
    y = np.clip(price, 1e5, 1e6).astype("float32")  # dollars, never rescaled
    return x, y


def house_prices_in_dollars_sgd():
    x, y = _house_prices(414)
    model = mlp([32])
    return run_loop(
        standard_step(model, keras.optimizers.SGD(0.01), keras.losses.MeanSquaredError()),
        batches(x, y, epochs=10),
    )


def house_prices_in_dollars_mixed_float16():
    def build():
        x, y = _house_prices(415)
        model = mlp([32])  # the head stays in the float16 policy (no dtype="float32")
        return run_loop(
            standard_step(model, keras.optimizers.SGD(0.01), keras.losses.MeanSquaredError()),
            batches(x, y, epochs=10),
            compiled=False,
        )

    return _with_policy("mixed_float16", build)


# ---------------------------------------------------------------------------------------------
# 10. an N(0, 1) embedding in one branch; the overflow is in another
# ---------------------------------------------------------------------------------------------
class RecencyWeight(keras.layers.Layer):
    """exp(age / tau) -- the sign of the exponent was lost: it should decay, exp(-age / tau)."""

    def call(self, inputs):
        features, age_days = inputs
        return features * tf.exp(age_days / 30.0)


def _two_branch_churn(numeric_dim):
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    numeric = keras.Input((numeric_dim,), name="numeric")
    age = keras.Input((1,), name="age_days")
    e = keras.layers.Embedding(
        50, 8, name="embed", embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)
    )(tokens)
    e = keras.layers.GlobalAveragePooling1D(name="pool")(e)
    n = keras.layers.Dense(8, activation="relu", name="numeric_dense")(numeric)
    return tokens, numeric, age, e, n


def embedding_branch_and_exp_overflow():
    rng = seeded(416)
    tok = rng.integers(0, 50, size=(96, 6)).astype("int32")
    num = rng.normal(size=(96, 4)).astype("float32")
    age = rng.uniform(0, 3650, size=(96, 1)).astype("float32")  # days since signup
    y = rng.integers(0, 2, size=(96, 1)).astype("float32")
    tokens, numeric, age_in, e, n = _two_branch_churn(4)
    n = RecencyWeight(name="recency")([n, age_in])
    h = keras.layers.Concatenate(name="concat")([e, n])
    out = keras.layers.Dense(1, name="head")(h)
    model = keras.Model([tokens, numeric, age_in], out, name="churn")
    optimizer = keras.optimizers.Adam(1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_of(model, t, n, a, y):
        return bce(y, model([t, n, a], training=True))

    data = (
        tuple(tf.constant(arr[i : i + 32]) for arr in (tok, num, age, y)) for i in range(0, 96, 32)
    )
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


def embedding_branch_and_log_of_zero_label():
    rng = seeded(417)
    tok = rng.integers(0, 50, size=(96, 6)).astype("int32")
    num = rng.normal(size=(96, 4)).astype("float32")
    sales = rng.poisson(3.0, size=(96, 1)).astype("float32")  # zero-sales days occur
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    numeric = keras.Input((4,), name="numeric")
    e = keras.layers.Embedding(
        50, 8, name="embed", embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)
    )(tokens)
    e = keras.layers.GlobalAveragePooling1D(name="pool")(e)
    n = keras.layers.Dense(8, activation="relu", name="numeric_dense")(numeric)
    h = keras.layers.Concatenate(name="concat")([e, n])
    out = keras.layers.Dense(1, activation="softplus", name="head")(h)
    model = keras.Model([tokens, numeric], out, name="sales")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, t, n, y):
        pred = model([t, n], training=True)
        return tf.reduce_mean(tf.square(tf.math.log(pred) - tf.math.log(y)))  # log-space error

    data = (
        tuple(tf.constant(arr[i : i + 32]) for arr in (tok, num, sales)) for i in range(0, 96, 32)
    )
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 11. an RNN branch is present; the backward NaN is a norm of a zero vector elsewhere
# ---------------------------------------------------------------------------------------------
class Magnitude(keras.layers.Layer):
    """Appends the L2 norm of a projected feature vector (no epsilon)."""

    def call(self, x):
        return tf.concat([x, tf.norm(x, axis=-1, keepdims=True)], axis=-1)


def rnn_and_norm_of_zero_vector():
    rng = seeded(418)
    seq = rng.normal(size=(96, 10, 3)).astype("float32")
    sensors = rng.normal(size=(96, 5)).astype("float32")
    sensors[[7, 40, 71]] = 0.0  # sensors offline: zero-filled rows
    y = rng.normal(size=(96, 1)).astype("float32")
    seq_in = keras.Input((10, 3), name="sequence")
    sens_in = keras.Input((5,), name="sensors")
    r = keras.layers.SimpleRNN(8, name="rnn")(seq_in)
    p = keras.layers.Dense(6, use_bias=False, name="sensor_proj")(sens_in)
    m = Magnitude(name="magnitude")(p)
    h = keras.layers.Concatenate(name="concat")([r, m])
    out = keras.layers.Dense(1, name="head")(h)
    model = keras.Model([seq_in, sens_in], out, name="hybrid")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, s, f, y):
        return tf.reduce_mean(tf.square(model([s, f], training=True) - y))

    data = (tuple(tf.constant(a[i : i + 32]) for a in (seq, sensors, y)) for i in range(0, 96, 32))
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 12. a NaN in the batch that never reaches the loss; the real trip is elsewhere
# ---------------------------------------------------------------------------------------------
def unused_nan_feature_and_relu_poisson():
    rng = seeded(419)
    x = rng.normal(size=(96, 8)).astype("float32")
    legacy = rng.normal(size=(96, 2)).astype("float32")
    legacy[::3, 1] = np.nan  # a deprecated column, still in the feature dict, never used
    y = rng.poisson(2.0, size=(96, 1)).astype("float32")
    model = mlp([16], out_activation="relu", name="rate_model")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, features, counts):
        rate = model(features["x"], training=True)
        return tf.reduce_mean(rate - counts * tf.math.log(rate))

    data = (
        (
            {"x": tf.constant(x[i : i + 32]), "legacy": tf.constant(legacy[i : i + 32])},
            tf.constant(y[i : i + 32]),
        )
        for i in range(0, 96, 32)
    )
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


def masked_nan_labels_and_relu_sigma_nll():
    rng = seeded(420)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.normal(size=(96, 1)).astype("float32")
    y[rng.random(size=(96, 1)) < 0.2] = np.nan  # missing labels, masked out correctly below
    inputs = keras.Input((8,))
    h = keras.layers.Dense(16, activation="tanh", name="hidden")(inputs)
    mu = keras.layers.Dense(1, name="mu")(h)
    sigma = keras.layers.Dense(1, activation="relu", name="sigma")(h)  # should be softplus
    model = keras.Model(inputs, [mu, sigma], name="gaussian")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y):
        mask = tf.logical_not(tf.math.is_nan(y))
        y_safe = tf.where(mask, y, tf.zeros_like(y))
        mu, sigma = model(x, training=True)
        nll = tf.math.log(sigma) + tf.square(y_safe - mu) / (2.0 * tf.square(sigma))
        nll = tf.where(mask, nll, tf.zeros_like(nll))
        return tf.reduce_sum(nll) / tf.maximum(tf.reduce_sum(tf.cast(mask, tf.float32)), 1.0)

    return run_loop(
        _custom_step(model, optimizer, loss_of), batches(x, y), model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 13. a feature column that is NaN in every row
# ---------------------------------------------------------------------------------------------
def all_nan_feature_column():
    rng = seeded(421)
    x = rng.normal(size=(96, 8)).astype("float32")
    x[:, 6] = np.nan  # the CSV column was empty (or failed to parse) for every row
    y = rng.normal(size=(96, 1)).astype("float32")
    model = mlp([16])
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 14. a plain learning-rate divergence that builds up over many steps
# ---------------------------------------------------------------------------------------------
def sgd_lr_slowly_diverging():
    rng = seeded(422)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(256, 1))).astype("float32")
    model = mlp([32, 32], activation="tanh")
    return run_loop(
        standard_step(model, keras.optimizers.SGD(0.35), keras.losses.MeanSquaredError()),
        batches(x, y, epochs=60),
    )


# ---------------------------------------------------------------------------------------------
# healthy runs that must not trip
# ---------------------------------------------------------------------------------------------
def healthy_masked_nan_labels():
    rng = seeded(430)
    x = rng.normal(size=(128, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    y[rng.random(size=(128, 1)) < 0.25] = np.nan  # missing labels
    model = mlp([16])
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y):
        mask = tf.logical_not(tf.math.is_nan(y))
        y_safe = tf.where(mask, y, tf.zeros_like(y))  # where on the label ...
        err = tf.where(mask, tf.square(model(x, training=True) - y_safe), tf.zeros_like(y))
        return tf.reduce_sum(err) / tf.maximum(tf.reduce_sum(tf.cast(mask, tf.float32)), 1.0)

    return run_loop(
        _custom_step(model, optimizer, loss_of),
        batches(x, y, epochs=3),
        model=model,
        optimizer=optimizer,
    )


def healthy_bfloat16_above_float16_range():
    def build():
        x, target, model = _bf16_income_data(431)
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.KLDivergence()),
            batches(x, target, epochs=3),
        )

    return _with_policy("mixed_bfloat16", build)


def healthy_large_finite_activations():
    rng = seeded(432)
    x = (rng.normal(size=(128, 8)) * 1e4).astype("float32")  # pre-activations ~1e5, finite
    y = rng.normal(size=(128, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="wide"),
            keras.layers.LayerNormalization(name="norm"),
            keras.layers.Dense(1, name="head"),
        ],
        name="big",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-4), keras.losses.MeanSquaredError()),
        batches(x, y, epochs=3),
    )


def healthy_masked_mean_divide_no_nan():
    rng = seeded(433)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.normal(size=(96, 1)).astype("float32")
    w = (rng.random(size=(96, 1)) < 0.5).astype("float32")
    w[32:64] = 0.0  # an empty-mask batch, handled
    model = mlp([16])
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y, w):
        err = tf.square(model(x, training=True) - y)
        return tf.math.divide_no_nan(tf.reduce_sum(w * err), tf.reduce_sum(w))

    data = (
        (tf.constant(x[i : i + 32]), tf.constant(y[i : i + 32]), tf.constant(w[i : i + 32]))
        for i in range(0, 96, 32)
    )
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


def healthy_float16_adam_safe_epsilon():
    x, y, model = _float16_tabular(434)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-4)  # representable in float16
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()), batches(x, y, epochs=2)
    )


PATTERN_HEALTHY: list[Callable[[], Report | None]] = [
    healthy_masked_nan_labels,
    healthy_bfloat16_above_float16_range,
    healthy_large_finite_activations,
    healthy_masked_mean_divide_no_nan,
    healthy_float16_adam_safe_epsilon,
]


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
DOMAIN = "domain_error"
CLAMP = frozenset({"clamp_argument"})
ZERO_DIV = frozenset({"divide_no_nan", "add_epsilon"})
LOG_ZERO_CAUSES = frozenset({"missing_epsilon", "unstable_loss"})
LOG_ZERO_FIXES = frozenset({"add_epsilon", "clamp_argument"})

PATTERN_SCENARIOS: list[Scenario] = [
    Scenario(
        "vae_raw_pixels_kl_overflow",
        vae_raw_pixels_kl_overflow,
        None,
        frozenset({"Exp"}),
        cause="exp_overflow",
        fixes=frozenset({"clamp_argument", "rescale_input"}),
        story="VAE fed raw 0-255 pixels: log_var is in the hundreds and exp(log_var) in the KL "
        "term / reparameterization overflows at step 0 "
        "(https://github.com/AppliedDataSciencePartners/WorldModels/issues/9, "
        "https://github.com/keras-team/keras/issues/12371)",
        blind=True,
    ),
    Scenario(
        "tempered_softmax_tiny_temperature",
        tempered_softmax_tiny_temperature,
        "activation",
        frozenset({"Exp"}),
        "classifier/tempered_softmax",
        "exp_overflow",
        frozenset({"use_logsumexp", "clamp_argument"}),
        story="hand-written softmax exp(x / T) with T = 0.01 overflows; the max-subtracted form "
        "is safe (https://github.com/Lightning-Universe/lightning-bolts/issues/811, "
        "https://github.com/yichen928/ActiveFT/issues/4)",
        blind=True,
    ),
    Scenario(
        "float16_adam_epsilon_underflow",
        float16_adam_epsilon_underflow,
        "optimizer_update",
        frozenset({"RealDiv", "AddV2", "Mul", "AssignSubVariableOp"}),
        "half/hidden",
        "float16_range",
        frozenset({"add_epsilon"}),
        story="float16 variables with Adam(epsilon=1e-8): the epsilon is 0 in float16, a one-hot "
        "column that never occurs has zero gradient, m / (sqrt(v) + eps) = 0 / 0 "
        "(https://github.com/keras-team/keras/issues/11860, "
        "https://github.com/google-deepmind/optax/issues/1754)",
        blind=True,
    ),
    Scenario(
        "log_error_on_linear_output",
        log_error_on_linear_output,
        "loss",
        frozenset({"Log"}),
        cause=DOMAIN,
        fixes=CLAMP,
        story="hand-written log-space error log(pred) - log(y) on a linear regression head "
        "that predicts negative values (https://github.com/timeseriesAI/tsai/issues/150, "
        "https://github.com/dmlc/xgboost/issues/11210)",
        blind=True,
    ),
    Scenario(
        "sqrt_of_learned_difference",
        sqrt_of_learned_difference,
        "activation",
        frozenset({"Sqrt"}),
        "tank/torricelli",
        DOMAIN,
        CLAMP,
        story="physics-informed layer sqrt(2 g (h_in - h_out)) of two learned levels: the "
        "difference is negative for half the samples (sqrt of a negative, not of ~0)",
        blind=True,
    ),
    Scenario(
        "cube_root_of_signed_features",
        cube_root_of_signed_features,
        "activation",
        frozenset({"Pow"}),
        "net/cbrt",
        DOMAIN,
        CLAMP,
        story="cube-root compression written pow(x, 1/3) on standardized (signed) features "
        "(https://github.com/tensorflow/tensorflow/issues/42379, "
        "https://github.com/tensorflow/tensorflow/issues/16271)",
        blind=True,
    ),
    Scenario(
        "log1p_of_linear_features",
        log1p_of_linear_features,
        "activation",
        frozenset({"Log1p"}),
        "net/log1p_compress",
        DOMAIN,
        CLAMP,
        story="log1p compression of a linear projection: log1p(x) with x < -1",
        blind=True,
    ),
    Scenario(
        "angular_loss_without_normalization",
        angular_loss_without_normalization,
        "loss",
        frozenset({"Acos"}),
        cause=DOMAIN,
        fixes=CLAMP,
        story="angular loss acos(cos) where the prediction was never L2-normalized, |cos| > 1 "
        "(https://github.com/yuanming-hu/fc4/issues/33)",
        blind=True,
    ),
    Scenario(
        "where_guarded_poisson_deviance",
        where_guarded_poisson_deviance,
        "gradient",
        cause="where_gradient_trap",
        fixes=frozenset({"double_where"}),
        story="Poisson deviance with the y = 0 term guarded as tf.where(y > 0, y * log(y / mu), 0):"
        " the loss is finite, the backward of the unselected log(0) is 0 * Inf "
        "(https://github.com/tensorflow/tensorflow/issues/38349, "
        "https://github.com/google-deepmind/optax/pull/1786)",
        blind=True,
    ),
    Scenario(
        "where_guarded_mape_with_zero_targets",
        where_guarded_mape_with_zero_targets,
        None,
        cause="where_gradient_trap",
        fixes=frozenset({"double_where", "divide_no_nan"}),
        story="MAPE guarded as tf.where(y != 0, |pred - y| / y, 0) with zero targets: the loss is "
        "finite, the gradient of the unselected x / 0 branch is 0 / 0 "
        "(https://github.com/tensorflow/tensorflow/issues/2540, "
        "https://github.com/pytorch/pytorch/issues/4132)",
        blind=True,
    ),
    Scenario(
        "token_loss_batch_without_labels",
        token_loss_batch_without_labels,
        "loss",
        frozenset({"RealDiv"}),
        cause="missing_epsilon",
        fixes=ZERO_DIV,
        story="token-level loss sum(mask * ce) / sum(mask) with ignore_index -1; one batch has "
        "no labeled token, 0 / 0 (https://github.com/keras-team/keras/pull/11643, "
        "https://github.com/NVIDIA-NeMo/Automodel/issues/3796)",
        blind=True,
    ),
    Scenario(
        "boolean_mask_mean_of_empty_batch",
        boolean_mask_mean_of_empty_batch,
        "loss",
        cause="missing_epsilon",
        fixes=ZERO_DIV,
        story="reduce_mean(boolean_mask(err, valid)) on a batch with no valid row: the mean of "
        "an empty tensor is 0 / 0 (https://github.com/NVIDIA-NeMo/RL/issues/158)",
        blind=True,
    ),
    Scenario(
        "bfloat16_kl_by_hand_zero_target",
        bfloat16_kl_by_hand_zero_target,
        "loss",
        frozenset({"Log"}),
        cause=LOG_ZERO_CAUSES,
        fixes=LOG_ZERO_FIXES,
        story="mixed_bfloat16 model whose first layer legitimately exceeds 65504 (income in "
        "dollars; bfloat16 holds it); the NaN is p * log(p / q) = 0 * log(0) in a hand-written "
        "KL on sparse targets, not a float16 range problem "
        "(https://github.com/Lightning-AI/torchmetrics/issues/1029)",
        blind=True,
    ),
    Scenario(
        "resumed_from_nan_checkpoint",
        resumed_from_nan_checkpoint,
        None,
        cause="non_finite_state",
        fixes=frozenset({"restore_checkpoint"}),
        story="training resumed (optimizer.iterations > 0) from a checkpoint whose kernel "
        "already held a NaN (https://github.com/Rikorose/DeepFilterNet/issues/30, "
        "https://github.com/NVlabs/neuralangelo/issues/21)",
        blind=True,
    ),
    Scenario(
        "house_prices_in_dollars_sgd",
        house_prices_in_dollars_sgd,
        None,
        cause="unscaled_target",
        fixes=frozenset({"rescale_target"}),
        story="standardized features, house prices 1e5-1e6 in dollars as the MSE target "
        "(https://stats.stackexchange.com/questions/409000/should-we-normalize-target-data-as"
        "-well-as-input-data)",
        blind=True,
    ),
    Scenario(
        "house_prices_in_dollars_mixed_float16",
        house_prices_in_dollars_mixed_float16,
        None,
        cause=frozenset({"float16_range", "unscaled_target"}),
        fixes=frozenset({"rescale_target", "float32_layer"}),
        story="mixed_float16 regression on prices in dollars with the output layer left in "
        "float16 and no loss scaling: predictions and their gradients must pass 65504 to fit "
        "the target",
        blind=True,
    ),
    Scenario(
        "embedding_branch_and_exp_overflow",
        embedding_branch_and_exp_overflow,
        "activation",
        frozenset({"Exp"}),
        "churn/recency",
        "exp_overflow",
        CLAMP,
        story="recency weight exp(age_days / 30) lost its minus sign (exp(121) = Inf); an "
        "N(0, 1)-initialized Embedding in another branch is not on the failing path",
        blind=True,
    ),
    Scenario(
        "embedding_branch_and_log_of_zero_label",
        embedding_branch_and_log_of_zero_label,
        "loss",
        frozenset({"Log"}),
        cause=LOG_ZERO_CAUSES,
        fixes=LOG_ZERO_FIXES,
        story="log-space error log(pred) - log(sales) with zero-sales days: log(0) of a label; "
        "the N(0, 1) Embedding branch is not the cause",
        blind=True,
    ),
    Scenario(
        "rnn_and_norm_of_zero_vector",
        rnn_and_norm_of_zero_vector,
        "gradient",
        layer="hybrid/magnitude",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon", "divide_no_nan"}),
        story="a SimpleRNN branch plus a dense branch that appends tf.norm of a zero-filled "
        "sensor row: the norm is 0, its gradient 0/0 "
        "(https://github.com/tensorflow/tensorflow/issues/12071)",
        blind=True,
    ),
    Scenario(
        "unused_nan_feature_and_relu_poisson",
        unused_nan_feature_and_relu_poisson,
        "loss",
        frozenset({"Log"}),
        cause=LOG_ZERO_CAUSES,
        fixes=LOG_ZERO_FIXES,
        story="the feature dict carries a NaN-filled legacy column that the step never reads; "
        "the trip is log(rate) of a ReLU rate that is exactly 0 in a hand-written Poisson NLL",
        blind=True,
    ),
    Scenario(
        "masked_nan_labels_and_relu_sigma_nll",
        masked_nan_labels_and_relu_sigma_nll,
        "loss",
        cause=LOG_ZERO_CAUSES,
        fixes=LOG_ZERO_FIXES,
        story="missing labels are NaN but masked with tf.where before use (correct); the trip is "
        "the Gaussian NLL log(sigma) + r^2 / (2 sigma^2) with a ReLU sigma that is exactly 0 "
        "(https://github.com/motokimura/PyTorch_Gaussian_YOLOv3/issues/23)",
        blind=True,
    ),
    Scenario(
        "all_nan_feature_column",
        all_nan_feature_column,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a CSV column that is empty for every row reads as all-NaN: dropping rows would "
        "drop everything; impute or drop the column",
        blind=True,
    ),
    Scenario(
        "sgd_lr_slowly_diverging",
        sgd_lr_slowly_diverging,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate", "clip_gradients"}),
        story="SGD with a learning rate somewhat above the stable range on an MLP regression: "
        "the loss and gradient norm grow for many steps before the first Inf",
        blind=True,
    ),
]
