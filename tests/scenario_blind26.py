"""A twenty-sixth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks, its test
modules or any other blind suite but one: only the scenario helpers of ``scenario_cases.py``
(lines 1-120) and ``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of
``scenario_blind20.py``, the taxonomy section of the design notes and the list of names and
one-line stories of the 393 existing scenarios were read; no git log or diff output of other
files was looked at, and nantrace was neither imported nor run. Each expectation comes from
the bug pattern itself (where a careful ML engineer would say the first non-finite value
appears, why, and the first fix to try), and all ten were written into this file before
anything was run. The patterns come from public reports found with a search over GitHub
issues and pull requests (each story cites them). Theme: custom training loops with
tf.GradientTape and custom layers / losses / metrics as people adapt them from tutorials and
reference code: a VQ-VAE whose codebook perplexity lost its 1e-10, a Matthews-correlation
metric without K.epsilon() on a classifier whose output bias starts at the log prior,
Keras' plain 'float16' policy with tf.clip_by_global_norm as the safety net, the GAN paper's
log losses written by hand on the TensorFlow tutorial's logit discriminator, an
inverse-square-root learning-rate schedule evaluated at Keras' iteration 0, an LSTM language
model's perplexity taken as exp of the SUMMED token loss, an instance normalization by hand
moved after the global pooling (a 1 x 1 map), a RealNVP whose coupling log-scale lost its
tanh on a table with a constant channel, a Linear Recurrent Unit port whose decay
exp(-exp(nu)) lost its minus sign, and a TF1 keep_prob passed to TF2's tf.nn.dropout (whose
second argument is the drop rate) under curriculum dropout starting at keep_prob 1.0. Fix
ids are only those of the taxonomy; where none is the first fix a careful engineer would
try (restore a sign, move a layer, use the right argument, bound a scale, floor a step
count, compute a norm in float32), the fix set is left empty, and where no cause id names
the pattern (the summed perplexity, the unbounded flow likelihood, the dropout argument)
the cause is None.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (the step's returned loss / metrics, the gradients passed to
apply_gradients and the model's weights, and at which step), and with
tf.debugging.enable_check_numerics (plain TF, the step compiled as the scenario runs it)
which op first produces the non-finite value, in a throwaway script outside the repository
that stands in plain-TF versions of the loop helpers and asserts that nantrace was never
imported. No expectation field (kind, op types, layer, cause, fixes) was changed after that
check, and no pattern was dropped; one construction was changed, as told below. What the
check showed (all on CPU): the VQ-VAE (loss 0.25, gradients and weights finite, the returned
perplexity NaN at step 0; first op the quantizer's Log, -inf), the Matthews correlation
(loss 0.12, the metric NaN at step 0; first op its RealDiv, 0 / 0), the float16 policy
(after the change below: loss 5251 at step 0, the clipped gradients and then every weight
NaN after step 0; first op clip_by_global_norm's global_norm/Sum, +inf, at step 0, the raw
gradients and L2Losses before it finite), the GAN (both losses NaN at step 0 while their
gradients, 1 / D, are finite; first op the Log of D(x), NaN), the inverse-square-root
schedule (loss 0.74 and gradients finite at step 0, the weights inf / NaN after the first
update; first op the schedule's Rsqrt inside Adam's apply_gradients, +inf), the summed
perplexity (loss 5.30, the perplexity inf at step 0; first op the Exp of the summed
cross-entropy), the instance norm (loss, gradients and weights NaN at step 0; first op the
norm's RealDiv), the RealNVP (the NLL falls steadily, -47 at step 600, then loss, gradients
and weights NaN at step 606; first op coupling0's Exp, +inf, at step 606), the LRU (loss NaN
at step 0; first op the Mul lambda * h inside the scan of the lru layer) and the ported
dropout (the loss is finite, log 2, because TensorFlow's dropout selects 0 for the dropped
units, while the gradients and then the weights are NaN at step 0; first op dropout0's
RealDiv x / (1 - rate), +inf).
Construction changed after the first check (expectation fields untouched, the docstring and
story rewritten to match): the float16 scenario first predicted degrees C with 2 x 64 units,
a hand-written float16 mean square and Adam; there the global norm at step 0 stayed below
float16's range (no clipping NaN), Adam's float16 second moment of the clipped gradients
underflowed to 0, the first update divided by the float16 epsilon and threw the weights
out, and the first non-finite op was the float16 Square of the loss (first check) or the
head's backward MatMul (second check, with Keras' float32 MSE and 128 units) at step 1,
another float16 trap than the one this scenario is about; it now predicts degrees F with
2 x 128 units, Keras' MSE and SGD(0.01, momentum 0.9), and the clipping's norm overflows at
step 0.
Caveats a reader should know: three scenarios go non-finite only in a returned metric while
the loss and the weights stay finite (the VQ-VAE perplexity, the Matthews correlation, the
summed perplexity); they are meant to test that the report names the metric's op, not the
model; their kind is 'loss' for the two computed after the model output and 'activation'
for the perplexity computed inside the quantizer layer. The GAN's step updates two models
and passes neither to run_loop. The RealNVP needs ~600 steps (twelve passes over 64
batches); the others trip at step 0. The float16 scenario runs under keras' 'float16'
dtype policy through dtype_policy, reset to float32 afterwards.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    dtype_policy,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. a VQ-VAE codebook perplexity written without the reference's + 1e-10
# ---------------------------------------------------------------------------------------------
class VectorQuantizer(keras.layers.Layer):
    """Sonnet-style vector quantizer: nearest code, straight-through estimator, codebook and
    commitment losses (add_loss) and the codebook-usage perplexity, returned beside the
    quantized map as the reference returns it."""

    def __init__(self, num_embeddings, embedding_dim, beta=0.25, **kwargs):
        super().__init__(**kwargs)
        self.num_embeddings, self.embedding_dim, self.beta = num_embeddings, embedding_dim, beta

    def build(self, input_shape):
        self.codebook = self.add_weight(
            shape=(self.embedding_dim, self.num_embeddings),
            initializer=keras.initializers.RandomUniform(-1.0, 1.0),
            name="codebook",
        )

    def call(self, x):
        flat = tf.reshape(x, [-1, self.embedding_dim])
        distances = (
            tf.reduce_sum(flat**2, axis=1, keepdims=True)
            - 2.0 * tf.matmul(flat, self.codebook)
            + tf.reduce_sum(self.codebook**2, axis=0, keepdims=True)
        )
        encodings = tf.one_hot(tf.argmin(distances, axis=1), self.num_embeddings)
        quantized = tf.reshape(tf.matmul(encodings, self.codebook, transpose_b=True), tf.shape(x))
        self.add_loss(
            tf.reduce_mean((tf.stop_gradient(quantized) - x) ** 2) * self.beta
            + tf.reduce_mean((quantized - tf.stop_gradient(x)) ** 2)
        )
        avg_probs = tf.reduce_mean(encodings, axis=0)
        # the reference: exp(-sum(p * log(p + 1e-10)))
        perplexity = tf.exp(-tf.reduce_sum(avg_probs * tf.math.log(avg_probs)))
        return x + tf.stop_gradient(quantized - x), perplexity


def vq_vae_codebook_perplexity_without_its_epsilon():
    """A VQ-VAE on 16 x 16 sensor heat-map tiles (two strided Conv2D encoders to a 4 x 4 x 16
    latent map, a 128-code vector quantizer, a Conv2DTranspose decoder, MSE reconstruction
    plus the codebook / commitment losses), trained in a custom loop that logs the codebook
    perplexity as Sonnet's VectorQuantizer does. The port retyped the perplexity as
    exp(-sum(p * log(p))), dropping the reference's log(p + 1e-10): p is the fraction of the
    batch's latent vectors assigned to each code, and with 128 codes and 512 vectors a batch
    most codes are unused (p exactly 0), so 0 * log(0) = 0 * -inf = NaN inside the quantizer
    at the first step (the loss itself is finite; the epsilon inside the log is the fix)."""
    rng = seeded(2600)
    n = 1024
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    centres = rng.uniform(0.2, 0.8, size=(n, 2))
    widths = rng.uniform(0.05, 0.2, size=(n, 1, 1))
    tiles = np.exp(
        -((xx[None] - centres[:, 0, None, None]) ** 2 + (yy[None] - centres[:, 1, None, None]) ** 2)
        / (2.0 * widths**2)
    )
    tiles = (tiles + 0.05 * rng.normal(size=tiles.shape)).astype("float32")[..., None]
    inputs = keras.Input((16, 16, 1))
    h = keras.layers.Conv2D(32, 4, strides=2, padding="same", activation="relu", name="enc0")(
        inputs
    )
    h = keras.layers.Conv2D(16, 4, strides=2, padding="same", name="enc1")(h)
    quantized, perplexity = VectorQuantizer(128, 16, name="vector_quantizer")(h)
    d = keras.layers.Conv2DTranspose(
        32, 4, strides=2, padding="same", activation="relu", name="dec0"
    )(quantized)
    recon = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", name="dec1")(d)
    model = keras.Model(inputs, [recon, perplexity], name="vqvae")
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x):
        with tf.GradientTape() as tape:
            recon, perplexity = model(x, training=True)
            loss = tf.reduce_mean((recon - x) ** 2) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, perplexity

    data = [(tf.constant(tiles[i : i + 32]),) for i in range(0, n, 32)]
    return run_loop(train_step, data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 2. a Matthews-correlation metric by hand without K.epsilon(), on a prior-biased classifier
# ---------------------------------------------------------------------------------------------
def matthews_correlation_by_hand_on_a_prior_biased_classifier():
    """A card-fraud classifier (an MLP on 20 standardized transaction features, about 2 %
    positives, binary cross-entropy from logits) with its output bias initialized to
    log(pos / neg) as the imbalanced-data tutorial recommends, trained in a custom loop that
    also returns the Matthews correlation, the competition's metric, copied from the old
    Keras 1 metric without its K.epsilon(): (tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)
    (tn + fn)) on rounded predictions. With the prior bias every prediction is below 0.5, so
    tp + fp = 0, the square root is 0 and the metric is 0 / 0 = NaN at the first step
    while the loss is finite (an epsilon in the denominator, as the Keras metric had)."""
    rng = seeded(2601)
    n, dim = 4096, 20
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    logit = 2.5 * (x @ w) - 5.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    prior = float(np.log(y.mean() / (1.0 - y.mean())))
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(prior), name="head"),
        ],
        name="fraud_mlp",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def matthews_correlation(y_true, y_prob):
        y_pred = tf.round(tf.clip_by_value(y_prob, 0.0, 1.0))
        tp = tf.reduce_sum(y_true * y_pred)
        tn = tf.reduce_sum((1.0 - y_true) * (1.0 - y_pred))
        fp = tf.reduce_sum((1.0 - y_true) * y_pred)
        fn = tf.reduce_sum(y_true * (1.0 - y_pred))
        numerator = tp * tn - fp * fn
        denominator = tf.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return numerator / denominator

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = bce(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, matthews_correlation(y, tf.sigmoid(logits))

    return run_loop(train_step, batches(x, y, size=256), model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 3. a pure float16 policy with tf.clip_by_global_norm as the safety net
# ---------------------------------------------------------------------------------------------
def float16_policy_with_clip_by_global_norm():
    """To halve memory a greenhouse-climate regressor (a 2 x 128 MLP on 16 standardized
    sensor features predicting the next-hour temperature in degrees F, Keras' MSE,
    SGD(0.01, momentum 0.9)) is run under Keras' plain 'float16' dtype policy instead of
    'mixed_float16', so the variables and the gradients are float16 too, and
    tf.clip_by_global_norm(grads, 1.0) was added to the custom loop 'against NaN'. At the
    start the errors are ~70 degrees and the global gradient norm is in the hundreds or
    more: its sum of squares passes 65504, the largest float16,
    and is inf although every gradient and the forward pass are finite; clip_by_global_norm
    then returns NaN for every gradient (TensorFlow's documented signal for an infinite
    norm) and the update writes NaN into every weight at the first step (mixed_float16,
    float32 variables, or the norm computed in float32)."""

    def build():
        rng = seeded(2602)
        n, dim = 4096, 16
        x = rng.normal(size=(n, dim)).astype("float32")
        w = rng.normal(size=(dim,)) / np.sqrt(dim)
        y = (72.0 + 11.0 * np.tanh(x @ w) + 1.0 * rng.normal(size=n)).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((dim,)),
                keras.layers.Dense(128, activation="relu", name="hidden0"),
                keras.layers.Dense(128, activation="relu", name="hidden1"),
                keras.layers.Dense(1, name="head"),
            ],
            name="greenhouse_mlp",
        )
        optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        mse = keras.losses.MeanSquaredError()

        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = mse(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            grads, _ = tf.clip_by_global_norm(grads, 1.0)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        return run_loop(
            train_step,
            batches(x, y.reshape(-1, 1), size=64),
            model=model,
            optimizer=optimizer,
        )

    with dtype_policy("float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 4. the paper's GAN log losses written by hand on the tutorial's logit discriminator
# ---------------------------------------------------------------------------------------------
def gan_log_losses_by_hand_on_a_logit_discriminator():
    """A tabular GAN for synthetic sensor records (8 features), built from the TensorFlow
    DCGAN tutorial: the discriminator ends in Dense(1) with no activation because the
    tutorial's BinaryCrossentropy(from_logits=True) expects logits. The author replaced the
    tutorial's losses by the paper's formulas copied from a GAN repository,
    -mean(log(D(x) + 1e-10) + log(1 - D(G(z)) + 1e-10)) and -mean(log(D(G(z)) + 1e-10)),
    which expect D to output probabilities (a sigmoid head): on the logits about half of
    D(x) and D(G(z)) are negative and a third are above 1, so log of a negative number is
    NaN in the loss at the first step, and the 1e-10 cannot help (use the from-logits
    cross-entropy, or put the sigmoid back)."""
    rng = seeded(2603)
    n, dim, latent = 4096, 8, 4
    mix = rng.normal(size=(latent, dim))
    records = np.tanh(rng.normal(size=(n, latent)) @ mix) + 0.1 * rng.normal(size=(n, dim))
    records = records.astype("float32")
    generator = keras.Sequential(
        [
            keras.Input((latent,)),
            keras.layers.Dense(32, activation="relu", name="g_hidden0"),
            keras.layers.Dense(32, activation="relu", name="g_hidden1"),
            keras.layers.Dense(dim, name="g_out"),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(32, activation="relu", name="d_hidden0"),
            keras.layers.Dense(32, activation="relu", name="d_hidden1"),
            keras.layers.Dense(1, name="d_out"),
        ],
        name="discriminator",
    )
    g_opt = keras.optimizers.Adam(1e-4)
    d_opt = keras.optimizers.Adam(1e-4)

    def train_step(real):
        z = tf.random.normal([tf.shape(real)[0], latent], seed=7)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(z, training=True)
            d_real = discriminator(real, training=True)
            d_fake = discriminator(fake, training=True)
            d_loss = -tf.reduce_mean(
                tf.math.log(d_real + 1e-10) + tf.math.log(1.0 - d_fake + 1e-10)
            )
            g_loss = -tf.reduce_mean(tf.math.log(d_fake + 1e-10))
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
        d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))
        return d_loss, g_loss

    data = [(tf.constant(records[i : i + 64]),) for i in range(0, n, 64)]
    return run_loop(train_step, data)


# ---------------------------------------------------------------------------------------------
# 5. an inverse-square-root learning-rate schedule evaluated at iteration 0
# ---------------------------------------------------------------------------------------------
class InverseSqrtDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr = base / sqrt(step), 'as in the paper', with no warm-up and no max(step, 1)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, step):
        return self.base * tf.math.rsqrt(tf.cast(step, tf.float32))

    def get_config(self):
        return {"base": self.base}


def inverse_sqrt_schedule_from_iteration_zero():
    """A churn-propensity MLP (24 standardized features, binary cross-entropy from logits)
    trained with Adam on a hand-written inverse-square-root schedule lr = 0.01 / sqrt(step),
    the warm-up left out (fairseq's inverse_sqrt with warmup_updates = 0). The schedule is
    called with optimizer.iterations, which Keras counts from 0 (fairseq and the paper
    count updates from 1): the first learning rate is rsqrt(0) = inf, the first Adam update
    is inf x m (and inf x 0 = NaN for the weights whose first moment is exactly 0), so every
    weight is inf or NaN after the first step although the forward pass, the loss and the
    gradients of that step are finite (start the count at 1 or floor it: max(step, 1), or a
    warm-up)."""
    rng = seeded(2604)
    n, dim = 4096, 24
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * np.tanh(x @ w)))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="churn_mlp",
    )
    optimizer = keras.optimizers.Adam(learning_rate=InverseSqrtDecay(0.01))
    return run_loop(
        standard_step(model, optimizer, keras.losses.BinaryCrossentropy(from_logits=True)),
        batches(x, y.reshape(-1, 1), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. an LSTM language model's perplexity taken as exp of the summed token loss
# ---------------------------------------------------------------------------------------------
def lstm_language_model_perplexity_of_the_summed_loss():
    """A word-level LSTM language model (vocabulary 200, 40-token windows, Embedding(64) ->
    LSTM(128) -> Dense(200) logits, mean sparse cross-entropy from logits, Adam) whose
    custom loop also returns the batch perplexity for the progress bar. The perplexity was
    written as tf.exp of the batch NLL from a second SparseCategoricalCrossentropy made
    with reduction='sum' (to count tokens exactly): the exponent is the SUM over 32 x 40
    tokens, ~1280 x ln(200) = 6800 at the start, and exp overflows to inf at the first step
    while the training loss (the mean) is finite (exp of the mean per-token NLL)."""
    rng = seeded(2605)
    vocab, length, n = 200, 40, 2048
    transition = rng.dirichlet(np.full(vocab, 0.05), size=vocab)
    tokens = np.zeros((n, length + 1), dtype="int32")
    tokens[:, 0] = rng.integers(0, vocab, size=n)
    for t in range(1, length + 1):
        cumulative = transition[tokens[:, t - 1]].cumsum(axis=1)
        draws = rng.random((n, 1))
        tokens[:, t] = np.minimum((cumulative < draws).sum(axis=1), vocab - 1)
    model = keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(vocab, 64, name="embedding"),
            keras.layers.LSTM(128, return_sequences=True, name="lstm"),
            keras.layers.Dense(vocab, name="logits"),
        ],
        name="word_lm",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    mean_nll = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    summed_nll = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = mean_nll(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        perplexity = tf.exp(summed_nll(y, logits))
        return loss, perplexity

    return run_loop(
        train_step,
        batches(tokens[:, :-1], tokens[:, 1:], size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. an instance normalization by hand placed after the global pooling (a 1 x 1 map)
# ---------------------------------------------------------------------------------------------
class InstanceNorm(keras.layers.Layer):
    """(x - mean) / std over the spatial axes of each sample and channel, by hand."""

    def call(self, x):
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        return (x - mean) / tf.sqrt(variance)


def instance_norm_by_hand_after_global_pooling():
    """A defect classifier for 24 x 24 wafer-map crops (three Conv2D blocks, then a custom
    instance normalization, then a Dense head), whose instance norm was meant to follow the
    last convolution, 'as in style-transfer networks'. A refactor moved the global pooling
    up (GlobalAveragePooling2D(keepdims=True) before the norm, to save compute): the map
    the norm sees is 1 x 1, the mean over one pixel is the pixel itself and the variance
    over one pixel is exactly 0, so (x - mean) / sqrt(0) = 0 / 0 = NaN inside the norm for
    every sample at the first step (PyTorch refuses this with 'Expected more than 1 spatial
    element when training'; with an epsilon the layer would output zeros, so the norm
    belongs before the pooling)."""
    rng = seeded(2606)
    n, classes = 1024, 4
    labels = rng.integers(0, classes, size=n)
    yy, xx = np.mgrid[0:24, 0:24] / 23.0
    patterns = np.stack(
        [
            np.sin(6.0 * xx),
            np.sin(6.0 * yy),
            np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05),
            (xx + yy > 1.0).astype(float),
        ]
    )
    maps = patterns[labels] + 0.5 * rng.normal(size=(n, 24, 24))
    maps = maps.astype("float32")[..., None]
    layers = [keras.Input((24, 24, 1))]
    for i, filters in enumerate([16, 32, 32]):
        layers.append(
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")
        )
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    layers.append(keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_pool"))
    layers.append(InstanceNorm(name="instance_norm"))
    layers.append(keras.layers.Flatten(name="flatten"))
    layers.append(keras.layers.Dense(classes, name="head"))
    model = keras.Sequential(layers, name="wafer_cnn")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(maps, labels.astype("int32"), size=32),
    )


# ---------------------------------------------------------------------------------------------
# 8. a RealNVP whose coupling log-scale has no tanh, on a table with a constant column
# ---------------------------------------------------------------------------------------------
class AffineCoupling(keras.layers.Layer):
    """z_b = x_b * exp(s(x_a)) + t(x_a), log|det| = sum(s), s and t from one small MLP whose
    log-scale output is linear (RealNVP's tanh left out)."""

    def __init__(self, mask, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.mask = np.asarray(mask, dtype="float32")
        self.hidden = hidden

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.net = [
            keras.layers.Dense(self.hidden, activation="relu"),
            keras.layers.Dense(self.hidden, activation="relu"),
        ]
        self.s_head = keras.layers.Dense(dim)
        self.t_head = keras.layers.Dense(dim)
        h_shape = input_shape
        for layer in self.net:
            layer.build(h_shape)
            h_shape = (*input_shape[:-1], self.hidden)
        self.s_head.build(h_shape)
        self.t_head.build(h_shape)

    def call(self, x):
        x_a = x * self.mask
        h = x_a
        for layer in self.net:
            h = layer(h)
        s = self.s_head(h) * (1.0 - self.mask)
        t = self.t_head(h) * (1.0 - self.mask)
        z = x_a + (1.0 - self.mask) * (x * tf.exp(s) + t)
        return z, tf.reduce_sum(s, axis=-1)


def realnvp_coupling_scale_without_tanh_on_a_constant_column():
    """A RealNVP density model for anomaly detection on 6 sensor channels (four affine
    couplings with alternating masks, negative log-likelihood under a standard normal,
    Adam 1e-3) whose coupling networks output the log-scale s linearly: RealNVP's tanh on s
    was left out as 'only for stability'. One channel, a spare input, is exactly 0 in the
    whole training month. In the first coupling that channel is transformed as
    0 * exp(s) + t: the Gaussian term does not depend on s there, while the log-det term
    -s rewards a larger s at every step with nothing opposing it, so the log-scale grows
    without bound, exp(s) overflows to inf after some steps and inf * 0 = NaN inside the
    coupling (a bounded scale, tanh or sigmoid as in RealNVP / Glow, and dropping or
    dequantizing the constant channel)."""
    rng = seeded(2607)
    n, dim = 4096, 6
    latent = rng.normal(size=(n, 3))
    mix = rng.normal(size=(3, dim - 1))
    readings = np.tanh(latent @ mix) + 0.1 * rng.normal(size=(n, dim - 1))
    table = np.concatenate([readings, np.zeros((n, 1))], axis=1).astype("float32")
    even = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    odd = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    inputs = keras.Input((dim,))
    z, log_det = inputs, None
    for i, mask in enumerate([even, odd, even, odd]):
        z, ld = AffineCoupling(mask, name=f"coupling{i}")(z)
        log_det = ld if log_det is None else log_det + ld
    model = keras.Model(inputs, [z, log_det], name="realnvp")

    def nll(model, x):
        z, log_det = model(x, training=True)
        log_prob = -0.5 * tf.reduce_sum(z**2, axis=-1) - 0.5 * dim * np.log(2.0 * np.pi)
        return -tf.reduce_mean(log_prob + log_det)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [(tf.constant(table[i : i + 64]),) for i in range(0, n, 64)] * 12
    return run_loop(_custom_step(model, optimizer, nll), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 9. a Linear Recurrent Unit port whose decay lost the minus sign of exp(-exp(nu))
# ---------------------------------------------------------------------------------------------
class LinearRecurrentUnit(keras.layers.Layer):
    """A real-valued diagonal LRU: h_t = lambda * h_{t-1} + gamma * (B x_t), y_t = C h_t.
    The paper's |lambda| = exp(-exp(nu_log)) was typed tf.exp(tf.exp(nu_log)); the init
    (nu_log and gamma_log) is the reference's, copied as it is."""

    def __init__(self, state_dim, r_min=0.9, r_max=0.999, **kwargs):
        super().__init__(**kwargs)
        self.state_dim, self.r_min, self.r_max = state_dim, r_min, r_max

    def build(self, input_shape):
        features = int(input_shape[-1])
        u = np.random.default_rng(26).uniform(size=self.state_dim)
        nu_log = np.log(-0.5 * np.log(u * (self.r_max**2 - self.r_min**2) + self.r_min**2))
        gamma_log = np.log(np.sqrt(1.0 - np.exp(-np.exp(nu_log)) ** 2))
        self.nu_log = self.add_weight(
            shape=(self.state_dim,),
            initializer=keras.initializers.Constant(nu_log.astype("float32")),
            name="nu_log",
        )
        self.gamma_log = self.add_weight(
            shape=(self.state_dim,),
            initializer=keras.initializers.Constant(gamma_log.astype("float32")),
            name="gamma_log",
        )
        self.B = self.add_weight(
            shape=(features, self.state_dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(2 * features)),
            name="B",
        )
        self.C = self.add_weight(
            shape=(self.state_dim, features),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(self.state_dim)),
            name="C",
        )

    def call(self, x):
        lam = tf.exp(tf.exp(self.nu_log))  # the paper: exp(-exp(nu_log))
        bu = tf.exp(self.gamma_log) * tf.einsum("btf,fn->btn", x, self.B)
        bu_time_major = tf.transpose(bu, [1, 0, 2])
        h0 = tf.zeros_like(bu_time_major[0])
        states = tf.scan(lambda h, b: lam * h + b, bu_time_major, initializer=h0)
        return tf.einsum("tbn,nf->btf", states, self.C)


def lru_decay_parametrization_missing_its_minus_sign():
    """A sequence classifier on 1024-step accelerometer windows (Dense(16) encoder, one
    Linear Recurrent Unit with 32 real diagonal states, mean pooling over time, Dense(4)
    head, sparse cross-entropy from logits) ported from the LRU paper's reference code,
    where the stable decay is |lambda| = exp(-exp(nu_log)) with nu_log initialized so that
    |lambda| lies in [0.9, 0.999]. The port typed tf.exp(tf.exp(nu_log)): the same init now
    gives lambda in [1.001, 1.11], the recurrence multiplies the state by up to 1.11 per
    step, and over 1024 steps 1.11 ** 1024 ~ e^107 overflows float32 inside the LRU layer in
    the forward pass of the first step (restore the minus sign, |lambda| < 1)."""
    rng = seeded(2608)
    n, length, classes = 256, 1024, 4
    labels = rng.integers(0, classes, size=n)
    t = np.arange(length) / 50.0
    freqs = np.array([0.5, 1.0, 2.0, 4.0])[labels]
    signal = np.sin(2 * np.pi * freqs[:, None] * t[None] + rng.uniform(0, 6.3, size=(n, 1)))
    windows = np.stack([signal, 0.5 * rng.normal(size=(n, length))], axis=-1).astype("float32")
    inputs = keras.Input((length, 2))
    h = keras.layers.Dense(16, name="encoder")(inputs)
    h = LinearRecurrentUnit(32, name="lru")(h)
    h = keras.layers.GlobalAveragePooling1D(name="mean_pool")(h)
    outputs = keras.layers.Dense(classes, name="head")(h)
    model = keras.Model(inputs, outputs, name="lru_classifier")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(windows, labels.astype("int32"), size=16),
    )


# ---------------------------------------------------------------------------------------------
# 10. a TF1 keep_prob passed to TF2's tf.nn.dropout, whose second argument is the drop rate
# ---------------------------------------------------------------------------------------------
class PortedDropout(keras.layers.Layer):
    """The TF1 model's dropout, tf.nn.dropout(x, keep_prob), kept as it was: in TF2 the
    second positional argument is the DROP rate. keep_prob is a non-trainable variable the
    loop anneals (curriculum dropout: from 1.0, no dropout, down to 0.5)."""

    def build(self, input_shape):
        self.keep_prob = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(1.0),
            trainable=False,
            name="keep_prob",
        )

    def call(self, x, training=False):
        if training:
            return tf.nn.dropout(x, tf.cast(self.keep_prob, x.dtype), seed=26)
        return x


def tf1_keep_prob_passed_as_the_tf2_dropout_rate():
    """A TF1 credit-scoring MLP (30 standardized features, two hidden layers with dropout,
    binary cross-entropy from logits) ported to TF2 / Keras 3 with its dropout calls kept
    as tf.nn.dropout(h, keep_prob). Its training follows curriculum dropout (Morerio et
    al.): keep_prob(t) = (1 - 0.5) exp(-0.01 t) + 0.5, from 1.0 (no dropout) down to 0.5.
    TF2's tf.nn.dropout takes the DROP rate as its second argument, so the first step runs
    with rate = 1.0: TensorFlow scales the kept units by 1 / (1 - rate) = 1 / 0, the
    activations are inf (0 / 0 = NaN for the ReLU zeros) and the all-dropped mask multiplies
    them by 0, NaN inside the first dropout layer at step 0 (pass rate = 1 - keep_prob, or
    use keras.layers.Dropout)."""
    rng = seeded(2609)
    n, dim = 4096, 30
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * (x @ w)))).astype("float32").reshape(-1, 1)
    drop0, drop1 = PortedDropout(name="dropout0"), PortedDropout(name="dropout1")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(128, activation="relu", name="hidden0"),
            drop0,
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            drop1,
            keras.layers.Dense(1, name="head"),
        ],
        name="credit_mlp",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(x, y):
        step = tf.cast(optimizer.iterations, tf.float32)
        keep_prob = 0.5 * tf.exp(-0.01 * step) + 0.5
        drop0.keep_prob.assign(keep_prob)
        drop1.keep_prob.assign(keep_prob)
        with tf.GradientTape() as tape:
            loss = bce(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=64))


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND26_SCENARIOS: list[Scenario] = [
    Scenario(
        "vq_vae_codebook_perplexity_without_its_epsilon",
        vq_vae_codebook_perplexity_without_its_epsilon,
        "activation",
        frozenset({"Log"}),
        "vqvae/vector_quantizer",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a VQ-VAE's codebook perplexity exp(-sum(p log p)) retyped without the "
        "reference's log(p + 1e-10): the codes no latent vector of the batch uses have p = 0 "
        "and 0 * log(0) is NaN inside the quantizer at the first step "
        "(https://github.com/google-deepmind/sonnet/issues/257, "
        "https://github.com/MishaLaskin/vqvae/issues/16, "
        "https://github.com/lucidrains/vector-quantize-pytorch/issues/63, "
        "https://github.com/bshall/VectorQuantizedVAE/issues/3)",
        blind=True,
    ),
    Scenario(
        "matthews_correlation_by_hand_on_a_prior_biased_classifier",
        matthews_correlation_by_hand_on_a_prior_biased_classifier,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a Matthews-correlation metric by hand without K.epsilon() on a fraud classifier "
        "whose output bias starts at the log prior: no prediction rounds to 1, tp + fp = 0 and "
        "the metric is 0 / 0 at the first step while the loss is finite "
        "(https://github.com/keras-team/keras/pull/3689, "
        "https://github.com/keras-team/keras/pull/4666, "
        "https://github.com/Lightning-AI/torchmetrics/issues/779, "
        "https://github.com/tensorflow/addons/issues/2417)",
        blind=True,
    ),
    Scenario(
        "float16_policy_with_clip_by_global_norm",
        float16_policy_with_clip_by_global_norm,
        "optimizer_update",
        frozenset({"L2Loss", "Sum", "Mul"}),
        None,
        "float16_range",
        frozenset(),
        story="Keras' plain 'float16' policy (float16 variables and gradients) with "
        "tf.clip_by_global_norm in the custom loop: a gradient norm in the hundreds has a sum "
        "of squares past 65504, the float16 norm is inf and clip_by_global_norm returns NaN "
        "for every gradient, written into the weights at the first update "
        "(https://github.com/tensorflow/tensorflow/issues/21363, "
        "https://github.com/tensorflow/tensorflow/pull/27733, "
        "https://github.com/facebookresearch/fairscale/pull/263, "
        "https://github.com/NVIDIA/OpenSeq2Seq/issues/184, "
        "https://github.com/NVIDIA-NeMo/Automodel/pull/825)",
        blind=True,
    ),
    Scenario(
        "gan_log_losses_by_hand_on_a_logit_discriminator",
        gan_log_losses_by_hand_on_a_logit_discriminator,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset({"use_from_logits"}),
        story="the GAN paper's log(D(x)) / log(1 - D(G(z))) losses (with + 1e-10) written by "
        "hand on the TensorFlow DCGAN tutorial's discriminator, which outputs logits for "
        "BinaryCrossentropy(from_logits=True): log of the negative logits is NaN in the loss "
        "at the first step (https://github.com/tensorflow/docs/pull/1810, "
        "https://github.com/archsyscall/GANs-TensorFlow2/issues/3, "
        "https://github.com/carpedm20/DCGAN-tensorflow/issues/15, "
        "https://github.com/hwalsuklee/tensorflow-generative-model-collections/issues/28)",
        blind=True,
    ),
    Scenario(
        "inverse_sqrt_schedule_from_iteration_zero",
        inverse_sqrt_schedule_from_iteration_zero,
        "optimizer_update",
        frozenset({"Rsqrt"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="a hand-written inverse-square-root learning-rate schedule base * rsqrt(step) "
        "without warm-up, called with Keras' optimizer.iterations, which starts at 0: the "
        "first learning rate is inf and the first Adam update writes inf / NaN into the "
        "weights (https://github.com/facebookresearch/fairseq/issues/1341, "
        "https://github.com/huggingface/transformers/issues/28835, "
        "https://github.com/facebookresearch/pytext/pull/1150, "
        "https://github.com/OpenNMT/OpenNMT-py/issues/1666)",
        blind=True,
    ),
    Scenario(
        "lstm_language_model_perplexity_of_the_summed_loss",
        lstm_language_model_perplexity_of_the_summed_loss,
        "loss",
        frozenset({"Exp"}),
        None,
        None,
        frozenset(),
        story="an LSTM language model's logged perplexity written as exp of the batch NLL "
        "summed over all tokens (a reduction='sum' cross-entropy) instead of the mean per "
        "token: exp(~6800) overflows at the first step while the training loss is finite "
        "(https://github.com/keras-team/keras/issues/2317, "
        "https://github.com/keras-team/keras/issues/13537, "
        "https://github.com/ysmiao/nvdm/issues/8, "
        "https://github.com/magenta/magenta/pull/239)",
        blind=True,
    ),
    Scenario(
        "instance_norm_by_hand_after_global_pooling",
        instance_norm_by_hand_after_global_pooling,
        "activation",
        frozenset({"RealDiv"}),
        "wafer_cnn/instance_norm",
        "missing_epsilon",
        frozenset(),
        story="a hand-written instance normalization (x - mean) / sqrt(var) moved after a "
        "GlobalAveragePooling2D(keepdims=True): over a 1 x 1 map the variance is exactly 0 and "
        "the norm is 0 / 0 for every sample at the first step; the norm belongs before the "
        "pooling (https://github.com/liufeng2915/CFSM/issues/4, "
        "https://github.com/pytorch/pytorch/issues/45687, "
        "https://github.com/pytorch/pytorch/issues/19250, "
        "https://github.com/zhanghang1989/ResNeSt/issues/46)",
        blind=True,
    ),
    Scenario(
        "realnvp_coupling_scale_without_tanh_on_a_constant_column",
        realnvp_coupling_scale_without_tanh_on_a_constant_column,
        "activation",
        frozenset({"Exp"}),
        "realnvp/coupling0",
        None,
        frozenset(),
        story="a RealNVP whose coupling log-scale s is linear (the paper's tanh dropped) on "
        "a table with a channel that is always 0: the log-det term rewards s without bound "
        "on that channel, exp(s) overflows after some steps and inf * 0 = NaN in the coupling "
        "(https://github.com/ELIFE-ASU/INNLab/issues/7, "
        "https://github.com/VincentStimper/normalizing-flows/issues/47, "
        "https://github.com/openai/glow/issues/62, "
        "https://github.com/chaiyujin/glow-pytorch/issues/3, "
        "https://github.com/rosinality/glow-pytorch/issues/25)",
        blind=True,
    ),
    Scenario(
        "lru_decay_parametrization_missing_its_minus_sign",
        lru_decay_parametrization_missing_its_minus_sign,
        "activation",
        frozenset({"Mul", "AddV2"}),
        "lru_classifier/lru",
        "recurrent_explosion",
        frozenset(),
        story="a Linear Recurrent Unit port with |lambda| = exp(exp(nu_log)) instead of the "
        "paper's exp(-exp(nu_log)): the reference init gives lambda in [1.001, 1.11] and the "
        "state overflows within the 1024 time steps of the first forward pass "
        "(https://github.com/NicolasZucchet/minimal-LRU/issues/3, "
        "https://github.com/patrick-kidger/equinox/issues/489, "
        "https://github.com/Benjamin-Walker/log-neural-cdes/pull/49)",
        blind=True,
    ),
    Scenario(
        "tf1_keep_prob_passed_as_the_tf2_dropout_rate",
        tf1_keep_prob_passed_as_the_tf2_dropout_rate,
        "activation",
        frozenset({"RealDiv"}),
        "credit_mlp/dropout0",
        None,
        frozenset(),
        story="a TF1 model's tf.nn.dropout(x, keep_prob) kept in a TF2 port, where the "
        "second argument is the drop rate, with curriculum dropout starting at keep_prob = "
        "1.0: rate 1.0 scales by 1 / 0 and drops everything, NaN in the first dropout layer "
        "at the first step (https://github.com/wsjeon92/FP2VEC/issues/2, "
        "https://github.com/google-research/google-research/pull/369, "
        "https://github.com/google-research/bert/pull/1089, "
        "https://github.com/tensorflow/tensorflow/pull/30422)",
        blind=True,
    ),
]
