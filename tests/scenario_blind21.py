"""A twenty-first set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (Q&A threads,
library docs, tutorials); each story cites them. This set favours ordinary Keras / TensorFlow
training code with one subtle slip: a CSV read back with np.genfromtxt without skip_header, a
soft-DTW forecasting loss whose soft-min drops the log-sum-exp shift, a stochastic Polyak
step size without its epsilon on a hinge loss, tf.nn.log_poisson_loss(compute_full_loss=True)
under mixed_float16 with the targets cast to the head's float16, a GRU-D cell whose hidden
decay lost its max(0, .), a ListMLE loss masked only after its cumulative normalizer, a
zero-inflated lognormal (ZILN) loss without its safe labels, a Box-Muller noise layer fed
tf.random.uniform's [0, 1), an RBF layer whose bandwidth comes from the median heuristic on
duplicate-heavy rows, and the debiased contrastive loss (DCL) with its 'optional' clamp left
out. Fix ids are only those of the design notes' taxonomy; where none of them is the first fix
a careful engineer would try, the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it) which
op first produces the non-finite value, in a throwaway script outside the repository that
stands in plain-TF versions of the loop helpers, records from inside each compiled step (a
patched apply_gradients) whether its gradients are finite, and asserts that nantrace was
never imported. No expectation field (kind, op types, layer, cause, fixes) was changed after
that check, no pattern was dropped, and no construction had to be changed: all ten went
non-finite as first written. What the check showed: the genfromtxt table (steps 0-2 finite,
the fourth batch holds the all-NaN header row, whose loss, gradients and weights are NaN at
step 3; check_numerics, which does not look at the batch, first flags hidden0's MatMul
there), soft-DTW (loss inf at step 0; first op the soft-min's Log, -inf), the Polyak step
(hinge loss 1.09, 0.16, ... 0.0024, then exactly 0 at step 13, where the weights become NaN
while the loss is finite; first op the step's RealDiv, 0 / 0, at step 13), the float16
Poisson loss (loss inf at step 0 while the gradients and weights stay finite, the Stirling
term depending on the targets only; first op the float16 Mul targets * log(targets) inside
tf.nn.log_poisson_loss), GRU-D (NaN loss, gradients and weights at step 0; first op the
decay's Mul gamma * h inside grud, at the ninth visit), ListMLE (NaN at step 0; first op the
Log of the zero normalizer), ZILN (NaN at step 0; first op the Log of the zero labels), the
Box-Muller layer (losses 0.54 down to 0.03, then NaN at step 83; first op the layer's Log of
an exact 0 at step 83), the RBF layer (NaN at step 0, the median bandwidth being exactly 0;
first op the layer's RealDiv) and DCL (loss NaN at step 0 while the gradients and weights
stay finite, the derivative of log at a negative number being finite; first op the Log).
Caveats a reader should know: the fix sets are empty where no taxonomy id is the first fix
(the log-sum-exp shift, restoring GRU-D's max(0, .), ZILN's safe labels, a uniform draw from
(0, 1], DCL's clamp); in the Poisson and DCL scenarios only the loss is non-finite at the
first step (the gradients and weights are finite), and the Polyak step's NaN first reaches
the weights, with the loss finite.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import io

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
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. np.genfromtxt without skip_header: the CSV header becomes a row of NaN
# ---------------------------------------------------------------------------------------------
def genfromtxt_header_row_parsed_as_a_nan_sample():
    """Vibration-severity regressor (an MLP on 10 already standardized sensor features, MSE)
    whose training table is a CSV exported with a header line (np.savetxt(header=...,
    comments='')) and read back with np.genfromtxt(path, delimiter=','), without
    skip_header=1 (np.loadtxt would have raised on the header; genfromtxt does not). The
    header's column names do not parse as floats and genfromtxt fills them with NaN: the
    first row of the array is all NaN, features and target, and after the shuffle it sits in
    one training batch, where it is NaN before any op runs (skip the header line, or drop
    the all-NaN row)."""
    rng = seeded(2100)
    n, dim = 4096, 10
    x = rng.normal(size=(n, dim))
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = np.tanh(x @ w) + 0.1 * rng.normal(size=n)
    table = np.concatenate([x, y[:, None]], axis=1)
    buffer = io.StringIO()
    header = ",".join([f"sensor_{i}" for i in range(dim)] + ["severity"])
    np.savetxt(buffer, table, fmt="%.5f", delimiter=",", header=header, comments="")
    data = np.genfromtxt(io.StringIO(buffer.getvalue()), delimiter=",")
    data = data[rng.permutation(len(data))].astype("float32")
    features, target = data[:, :dim], data[:, dim:]
    model = mlp([64, 64], name="vibration_mlp", input_dim=dim)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(features, target, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. a soft-DTW loss whose soft-min is written without the log-sum-exp shift
# ---------------------------------------------------------------------------------------------
def soft_dtw_loss_without_the_log_sum_exp_shift():
    """A 12-step load forecaster (an MLP on the last 24 standardized readings) trained with
    soft-DTW (Cuturi & Blondel) as the loss, as DILATE's shape term does, with a small
    smoothing gamma = 0.01 'to stay close to DTW'. The recursion R[i, j] = D[i, j] +
    softmin(R[i-1, j-1], R[i-1, j], R[i, j-1]) is written from the paper's formula,
    softmin = -gamma log(sum(exp(-r / gamma))), without subtracting the smallest r first
    (the reference implementations' rmax shift). Once the three accumulated costs all exceed
    about 87 gamma = 0.87 (one squared error of a standardized series does), every
    exp(-r / gamma) underflows to 0 and log(0) = -inf: the loss is inf at the first step
    (compute the soft-min with the max shift / reduce_logsumexp)."""
    rng = seeded(2101)
    n, history, horizon = 2048, 24, 12
    t = np.arange(n + history + horizon)
    series = (
        np.sin(2 * np.pi * t / 24)
        + 0.5 * np.sin(2 * np.pi * t / 168)
        + 0.3 * rng.normal(size=len(t))
    )
    series = (series - series.mean()) / series.std()
    windows = np.stack([series[i : i + history + horizon] for i in range(n)]).astype("float32")
    x, y = windows[:, :history], windows[:, history:]
    model = mlp([64], name="dtw_forecaster", input_dim=history, out=horizon)
    gamma, boundary = 0.01, 1e8

    def soft_dtw(y_true, y_pred):
        cost = tf.square(y_pred[:, :, None] - y_true[:, None, :])
        zero = tf.zeros_like(y_pred[:, 0])
        r = [[zero + boundary] * (horizon + 1) for _ in range(horizon + 1)]
        r[0][0] = zero
        for i in range(1, horizon + 1):
            for j in range(1, horizon + 1):
                total = (
                    tf.exp(-r[i - 1][j - 1] / gamma)
                    + tf.exp(-r[i - 1][j] / gamma)
                    + tf.exp(-r[i][j - 1] / gamma)
                )
                r[i][j] = cost[:, i - 1, j - 1] - gamma * tf.math.log(total)
        return tf.reduce_mean(r[horizon][horizon])

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), soft_dtw), batches(x, y, size=64)
    )


# ---------------------------------------------------------------------------------------------
# 3. a stochastic Polyak step size written without its epsilon, on a hinge loss
# ---------------------------------------------------------------------------------------------
def stochastic_polyak_step_on_a_separated_hinge_batch():
    """A linear SVM (Dense(1) on 10 standardized features, mean hinge loss on labels +-1)
    trained with a stochastic Polyak step size written by hand in the loop (SPS, Loizou et
    al.: step = f_i(w) / (c ||g_i||^2) with f_i* = 0 and c = 0.5, then w -= step * g), to
    avoid tuning a learning rate; the eps the reference code adds to the denominator was left
    out. The data are linearly separable with a margin, and SPS separates them within a
    few epochs: as soon as a batch has every margin above 1, its hinge loss is exactly 0 and
    so is its gradient, and the step is 0 / 0 = NaN; the update writes NaN into the kernel
    and bias while the loss and the gradients are finite (an epsilon in the step's
    denominator, or skip batches with a zero gradient)."""
    rng = seeded(2102)
    dim = 10
    x = rng.normal(size=(12000, dim))
    w = rng.normal(size=(dim,))
    w /= np.linalg.norm(w)
    x = x[np.abs(x @ w) > 0.3][:4096].astype("float32")
    y = np.sign(x @ w).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [keras.Input((dim,)), keras.layers.Dense(1, name="svm_head")], name="linear_svm"
    )

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.relu(1.0 - y * model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        grad_sq = tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads])
        step = loss / (0.5 * grad_sq)
        for v, g in zip(model.trainable_variables, grads, strict=True):
            v.assign_sub(step * g)
        return loss

    return run_loop(train_step, batches(x, y, size=64, epochs=5), model=model)


# ---------------------------------------------------------------------------------------------
# 4. tf.nn.log_poisson_loss(compute_full_loss=True) under mixed_float16, targets cast to float16
# ---------------------------------------------------------------------------------------------
def full_log_poisson_loss_with_targets_cast_to_float16():
    """Daily page views (1,500-17,000 a day) modelled as Poisson counts by an MLP on 10
    standardized features whose linear head predicts the log-rate, trained with
    tf.nn.log_poisson_loss(targets, log_rate, compute_full_loss=True). The model was moved to
    mixed_float16 for speed with the head left in the policy (float16), and log_poisson_loss
    then refused to multiply float16 log-rates by float32 targets, so the targets were cast to
    the head's dtype. The counts themselves fit float16, but the full loss adds the Stirling
    term targets * log(targets) - targets + 0.5 log(2 pi targets), and for counts above about
    8,100 targets * log(targets) passes 65504: inf in the loss at the first step (keep the
    head, and so the loss, in float32, as the mixed-precision guide advises)."""

    def build():
        rng = seeded(2103)
        n, dim = 4096, 10
        x = rng.normal(size=(n, dim)).astype("float32")
        w = rng.normal(size=(dim,)) / np.sqrt(dim)
        views = rng.poisson(np.exp(8.5 + 1.2 * np.tanh(x @ w))).astype("float32").reshape(-1, 1)
        model = mlp([64, 32], name="pageview_mlp", input_dim=dim)

        def full_poisson(y_true, log_rate):
            targets = tf.cast(y_true, log_rate.dtype)
            return tf.reduce_mean(tf.nn.log_poisson_loss(targets, log_rate, compute_full_loss=True))

        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), full_poisson),
            batches(x, views, size=64),
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 5. a GRU-D cell whose hidden-state decay lost its max(0, .)
# ---------------------------------------------------------------------------------------------
class DecayedGRU(keras.layers.Layer):
    """GRU-D's hidden-state decay before each GRU step: h <- gamma * h with
    gamma = exp(-(W delta + b)), where the paper has exp(-max(0, W delta + b))."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.decay = keras.layers.Dense(units, name="hidden_decay")
        self.cell = keras.layers.GRUCell(units, name="gru_cell")

    def build(self, input_shape):
        values_shape, delta_shape = input_shape
        self.decay.build((None, delta_shape[-1]))
        self.cell.build((None, values_shape[-1]))

    def call(self, inputs):
        values, delta = inputs
        h = tf.zeros((tf.shape(values)[0], self.units), dtype=values.dtype)
        for t in range(values.shape[1]):
            gamma = tf.exp(-self.decay(delta[:, t]))
            h = gamma * h
            h, _ = self.cell(values[:, t], [h])
        return h


def gru_d_hidden_decay_without_its_relu():
    """An ICU mortality classifier in the GRU-D style (Che et al.): 48 irregular visits of 6
    standardized vitals, with the elapsed time since the previous visit (1-72 hours) driving
    a learned decay of the hidden state before each GRU step. The port wrote the decay as
    gamma = exp(-(W delta + b)) and dropped the paper's max(0, .), which is what keeps gamma
    in (0, 1]: every hidden unit whose decay weight is negative (about half of them at
    initialization) is MULTIPLIED by exp(|w| delta), up to e^30 after a three-day gap, and the
    GRU's update gate carries it over to the next visit, where it is multiplied again: the
    hidden state grows over the visits until it overflows inside the recurrent layer in the
    first forward pass (restore the max(0, .), so that the decay cannot exceed 1)."""
    rng = seeded(2104)
    n, steps, dim = 1024, 48, 6
    values = rng.normal(size=(n, steps, dim)).astype("float32")
    delta = np.clip(rng.exponential(12.0, size=(n, steps, 1)), 1.0, 72.0).astype("float32")
    risk = values[:, -8:, :2].mean(axis=(1, 2)) - 0.02 * delta[:, -8:, 0].mean(axis=1)
    died = (rng.random(n) < 1.0 / (1.0 + np.exp(-3.0 * risk))).astype("float32").reshape(-1, 1)
    values_in = keras.Input((steps, dim))
    delta_in = keras.Input((steps, 1))
    h = DecayedGRU(32, name="grud")([values_in, delta_in])
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model([values_in, delta_in], outputs, name="grud_model")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_of(model, values, delta, died):
        return bce(died, model([values, delta], training=True))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(values[s : s + 64]),
            tf.constant(delta[s : s + 64]),
            tf.constant(died[s : s + 64]),
        )
        for s in range(0, n, 64)
    ]
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 6. a ListMLE loss whose padding mask is applied after the cumulative normalizer
# ---------------------------------------------------------------------------------------------
def listmle_normalizer_of_a_padded_tail():
    """A learning-to-rank scorer (a per-document MLP on 8 features) trained with ListMLE on
    queries of 5-20 documents, padded to 20 and sorted by relevance (padding last). The
    Plackett-Luce loss sum_i [log sum_{j >= i} exp(s_j) - s_i] is written with a reverse
    cumulative sum of exp(s) * mask, and the mask is applied again to the per-position terms
    'to drop the padding'. At a padded position every document from there on is padding, the
    reverse cumsum is exactly 0 and log(0) = -inf; the mask then multiplies -inf by 0 = NaN,
    so every batch holding a short query has a NaN loss at the first step (the
    log(cumsums + eps) of allRank's listMLE, or mask before the log)."""
    rng = seeded(2105)
    queries, slate, dim = 2048, 20, 8
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    features = np.zeros((queries, slate, dim), dtype="float32")
    mask = np.zeros((queries, slate), dtype="float32")
    for q in range(queries):
        length = rng.integers(5, slate + 1)
        docs = rng.normal(size=(length, dim))
        relevance = np.clip(np.round(1.5 * (docs @ w) + 2 + 0.5 * rng.normal(size=length)), 0, 4)
        order = np.lexsort((rng.random(length), -relevance))
        features[q, :length] = docs[order]
        mask[q, :length] = 1.0
    model = keras.Sequential(
        [
            keras.Input((slate, dim)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(1, name="score"),
        ],
        name="listmle_ranker",
    )

    def listmle(model, x, mask):
        scores = tf.squeeze(model(x, training=True), axis=-1)
        cumsums = tf.math.cumsum(tf.exp(scores) * mask, axis=1, reverse=True)
        per_position = (tf.math.log(cumsums) - scores) * mask
        return tf.reduce_sum(per_position) / tf.reduce_sum(mask)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, listmle),
        batches(features, mask, size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. a zero-inflated lognormal (ZILN) loss written without its safe labels
# ---------------------------------------------------------------------------------------------
def zero_inflated_lognormal_loss_without_safe_labels():
    """Customer lifetime value (Google's zero-inflated lognormal model: an MLP on 12
    standardized features with three outputs, the logit of a repeat purchase, the lognormal's
    loc and a softplus scale) where about 60 % of customers never come back (value 0). The
    loss is the ZILN loss, a cross-entropy on value > 0 plus -mean(positive * log p(value))
    with the lognormal log-density written out, but it is evaluated at the labels themselves:
    the reference code evaluates it at safe_labels = positive * labels + (1 - positive) * 1
    precisely because log(0) = -inf at the zero values, and the mask does not help, since
    0 * (-inf) and inf - inf are NaN: NaN in the loss at the first step (the reference's safe
    labels: give the zero rows a harmless label before the log-density)."""
    rng = seeded(2106)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    returns = rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ w) + 0.4))
    spend = np.exp(3.5 + 0.6 * np.tanh(x @ v) + 0.5 * rng.normal(size=n))
    value = np.where(returns, spend, 0.0).astype("float32").reshape(-1, 1)
    model = mlp([64, 32], name="ltv_mlp", input_dim=dim, out=3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def ziln_loss(labels, logits):
        positive = tf.cast(labels > 0, labels.dtype)
        loc = logits[:, 1:2]
        scale = tf.maximum(tf.nn.softplus(logits[:, 2:3]), tf.sqrt(keras.config.epsilon()))
        log_density = (
            -tf.math.log(labels)
            - tf.math.log(scale)
            - 0.5 * np.log(2.0 * np.pi)
            - tf.square(tf.math.log(labels) - loc) / (2.0 * tf.square(scale))
        )
        return bce(positive, logits[:, :1]) - tf.reduce_mean(positive * log_density)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), ziln_loss), batches(x, value, size=64)
    )


# ---------------------------------------------------------------------------------------------
# 8. a Box-Muller noise layer fed tf.random.uniform, whose range includes 0
# ---------------------------------------------------------------------------------------------
class BoxMullerNoise(keras.layers.Layer):
    """Additive Gaussian noise during training, sampled with the Box-Muller transform
    sqrt(-2 log u1) cos(2 pi u2) from two tf.random.uniform draws in [0, 1)."""

    def __init__(self, stddev, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev

    def call(self, x, training=False):
        if not training:
            return x
        u1 = tf.random.uniform(tf.shape(x))
        u2 = tf.random.uniform(tf.shape(x))
        z = tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * np.pi * u2)
        return x + self.stddev * z


def box_muller_noise_layer_drawing_an_exact_zero():
    """A tabular regressor (32 standardized features -> Dense(1024) -> noise -> Dense(64) ->
    head, MSE) regularized by a noise-injection layer ported from a numpy code base that drew
    its Gaussian noise with the Box-Muller transform, z = sqrt(-2 log u1) cos(2 pi u2), the
    uniforms now coming from tf.random.uniform. tf.random.uniform samples [0, 1): 0 itself
    comes out about once in 2^23 draws, and the layer draws 262,144 per step, so within a few
    dozen steps some u1 is exactly 0, log(0) = -inf and that activation becomes +-inf inside
    the noise layer; the next layer turns it into inf / NaN (draw u1 from (0, 1], e.g.
    1 - uniform, or use tf.random.normal)."""
    rng = seeded(2107)
    n, dim = 8192, 32
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = (np.tanh(x @ w) + 0.1 * rng.normal(size=n)).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(1024, activation="relu", name="hidden0"),
            BoxMullerNoise(0.1, name="box_muller_noise"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="noisy_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=256, epochs=10),
    )


# ---------------------------------------------------------------------------------------------
# 9. an RBF layer whose bandwidth is the median heuristic over duplicate-heavy rows
# ---------------------------------------------------------------------------------------------
class RBFFeatures(keras.layers.Layer):
    """exp(-||x - c_k||^2 / (2 h^2)) for trainable centres c_k and a trainable bandwidth h."""

    def __init__(self, centres, bandwidth, **kwargs):
        super().__init__(**kwargs)
        self.initial_centres = np.asarray(centres, dtype="float32")
        self.initial_bandwidth = float(bandwidth)

    def build(self, input_shape):
        self.centres = self.add_weight(
            shape=self.initial_centres.shape,
            initializer=keras.initializers.Constant(self.initial_centres),
            name="centres",
        )
        self.bandwidth = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_bandwidth),
            name="bandwidth",
        )

    def call(self, x):
        d2 = tf.reduce_sum(tf.square(x[:, None, :] - self.centres[None, :, :]), axis=-1)
        return tf.exp(-d2 / (2.0 * tf.square(self.bandwidth)))


def rbf_bandwidth_from_a_median_heuristic_on_duplicate_rows():
    """A return-rate model for a configurable product: 8 binary options per order -> an RBF
    layer (16 centres taken from training rows) -> Dense head, MSE. The RBF bandwidth is
    initialized with the median heuristic, the median pairwise distance of 400 training
    rows, as in kernel two-sample tests. But four orders in five are the standard
    configuration, so more than half of the pairs are identical rows and the median distance
    is exactly 0: h = 0, and inside the RBF layer ||x - c||^2 / (2 h^2) is x / 0 = inf for
    every other centre and 0 / 0 = NaN where the order equals the centre, at the first
    forward pass (take the median of the non-zero distances, or floor the bandwidth)."""
    rng = seeded(2108)
    n, options = 4096, 8
    standard = (rng.random(options) < 0.5).astype("float32")
    custom = (rng.random((n, options)) < 0.5).astype("float32")
    x = np.where(rng.random((n, 1)) < 0.8, standard[None, :], custom).astype("float32")
    w = rng.normal(size=(options,))
    y = (0.1 + 0.05 * np.tanh(x @ w) + 0.02 * rng.normal(size=n)).astype("float32").reshape(-1, 1)
    sample = x[:400]
    distances = np.sqrt(((sample[:, None, :] - sample[None, :, :]) ** 2).sum(axis=-1))
    bandwidth = np.median(distances[np.triu_indices(len(sample), k=1)])
    centres = x[rng.choice(n, size=16, replace=False)]
    model = keras.Sequential(
        [
            keras.Input((options,)),
            RBFFeatures(centres, bandwidth, name="rbf_features"),
            keras.layers.Dense(1, name="head"),
        ],
        name="rbf_net",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 10. the debiased contrastive loss (DCL) with its 'optional' clamp on Ng left out
# ---------------------------------------------------------------------------------------------
def debiased_contrastive_loss_without_its_clamp():
    """SimCLR-style pretraining of a tabular encoder (an MLP on 32 features, a 16-d
    projection, l2-normalized; two views by Gaussian jitter; batches of 64, so N = 126
    negatives per anchor) with the debiased contrastive loss of Chuang et al.: the negative
    term is estimated as Ng = (-tau+ N pos + sum(neg)) / (1 - tau+) with tau+ = 0.1, and
    the loss is -log(pos / (pos + Ng)). The reference code then clamps Ng at
    N exp(-1 / t), a line commented '# constrain (optional)', which this port left out,
    while using SimCLR's temperature t = 0.1. With t = 0.1 a positive pair (cosine near 1)
    scores e^10 and the negatives far less, so -tau+ N pos outweighs sum(neg): Ng is negative
    and larger than pos, pos / (pos + Ng) is negative and the log of it is NaN in the loss at
    the first step (keep the clamp)."""
    rng = seeded(2109)
    n, dim, batch = 4096, 32, 64
    x = rng.normal(size=(n, dim)).astype("float32")
    view1 = (x + 0.05 * rng.normal(size=x.shape)).astype("float32")
    view2 = (x + 0.05 * rng.normal(size=x.shape)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(128, activation="relu", name="hidden0"),
            keras.layers.Dense(16, name="projection"),
        ],
        name="simclr_encoder",
    )
    temperature, tau_plus, negatives = 0.1, 0.1, 2 * batch - 2
    keep = ~np.eye(2 * batch, dtype=bool)
    for i in range(batch):
        keep[i, i + batch] = keep[i + batch, i] = False

    def dcl_loss(model, v1, v2):
        z1 = tf.math.l2_normalize(model(v1, training=True), axis=1)
        z2 = tf.math.l2_normalize(model(v2, training=True), axis=1)
        out = tf.concat([z1, z2], axis=0)
        sim = tf.exp(tf.matmul(out, out, transpose_b=True) / temperature)
        neg = tf.reshape(tf.boolean_mask(sim, keep), (2 * batch, negatives))
        pos = tf.exp(tf.reduce_sum(z1 * z2, axis=1) / temperature)
        pos = tf.concat([pos, pos], axis=0)
        ng = (-tau_plus * negatives * pos + tf.reduce_sum(neg, axis=1)) / (1.0 - tau_plus)
        return tf.reduce_mean(-tf.math.log(pos / (pos + ng)))

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, dcl_loss),
        batches(view1, view2, size=batch),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND21_SCENARIOS: list[Scenario] = [
    Scenario(
        "genfromtxt_header_row_parsed_as_a_nan_sample",
        genfromtxt_header_row_parsed_as_a_nan_sample,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a CSV with a header line read back with np.genfromtxt(delimiter=',') without "
        "skip_header: the column names do not parse and genfromtxt fills them with NaN, so one "
        "shuffled training row is all NaN in its batch "
        "(https://github.com/RobRomijnders/tensorflow_basic/issues/1, "
        "https://github.com/SALib/SALib/issues/34, "
        "https://github.com/GenericMappingTools/gmt/pull/5427)",
        blind=True,
    ),
    Scenario(
        "soft_dtw_loss_without_the_log_sum_exp_shift",
        soft_dtw_loss_without_the_log_sum_exp_shift,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset(),
        story="a soft-DTW forecasting loss with gamma = 0.01 whose soft-min "
        "-gamma log(sum exp(-r / gamma)) is written without the max shift: the three "
        "accumulated costs all underflow exp to 0 and log(0) = -inf makes the loss inf "
        "(https://github.com/Maghoumi/pytorch-softdtw-cuda/issues/18, "
        "https://github.com/Maghoumi/pytorch-softdtw-cuda/issues/8, "
        "https://github.com/vincent-leguen/DILATE/issues/15)",
        blind=True,
    ),
    Scenario(
        "stochastic_polyak_step_on_a_separated_hinge_batch",
        stochastic_polyak_step_on_a_separated_hinge_batch,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a stochastic Polyak step f / (c ||g||^2) by hand without its eps on a linear "
        "SVM's hinge loss: a batch whose margins all exceed 1 has loss 0 and gradient 0, the "
        "step is 0 / 0 and the update writes NaN "
        "(https://github.com/kozistr/pytorch_optimizer/pull/431, "
        "https://github.com/google-deepmind/optax/pull/1743, "
        "https://github.com/WeiChengTseng/Pytorch-PCGrad/issues/7, "
        "https://github.com/shivram1987/AdaNorm/issues/1)",
        blind=True,
    ),
    Scenario(
        "full_log_poisson_loss_with_targets_cast_to_float16",
        full_log_poisson_loss_with_targets_cast_to_float16,
        "loss",
        frozenset({"Mul"}),
        None,
        "float16_range",
        frozenset({"float32_layer"}),
        story="tf.nn.log_poisson_loss(compute_full_loss=True) on page-view counts under "
        "mixed_float16 with the head left in float16 and the targets cast to it: the Stirling "
        "term targets * log(targets) passes 65504 for counts above ~8,100 "
        "(https://github.com/danijar/dreamer/issues/10, "
        "https://www.tensorflow.org/guide/mixed_precision, "
        "https://github.com/PaddlePaddle/docs/pull/5675)",
        blind=True,
    ),
    Scenario(
        "gru_d_hidden_decay_without_its_relu",
        gru_d_hidden_decay_without_its_relu,
        "activation",
        frozenset({"Mul"}),
        "grud_model/grud",
        "recurrent_explosion",
        frozenset(),
        story="a GRU-D port whose hidden decay exp(-max(0, W delta + b)) lost the max(0, .): "
        "units with a negative decay weight are multiplied by exp(|w| delta) before every GRU "
        "step and the hidden state overflows over the visits "
        "(https://github.com/zhiyongc/GRU-D/issues/6, "
        "https://github.com/caow13/BRITS/issues/8)",
        blind=True,
    ),
    Scenario(
        "listmle_normalizer_of_a_padded_tail",
        listmle_normalizer_of_a_padded_tail,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="ListMLE by hand with a reverse cumsum of exp(s) * mask over padded slates and "
        "the mask applied after the log: the normalizer of a padded tail position is exactly 0, "
        "log(0) = -inf and -inf * 0 = NaN; allRank's listMLE takes log(cumsums + eps) "
        "(https://github.com/allegro/allRank/blob/master/allrank/models/losses/listMLE.py, "
        "https://github.com/huggingface/sentence-transformers/pull/3827, "
        "https://github.com/wildltr/ptranking/issues/4)",
        blind=True,
    ),
    Scenario(
        "zero_inflated_lognormal_loss_without_safe_labels",
        zero_inflated_lognormal_loss_without_safe_labels,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="the zero-inflated lognormal LTV loss with the lognormal log-density evaluated at "
        "the labels instead of the reference's safe_labels: log(0) = -inf at the customers who "
        "never returned, and the positive mask gives 0 * NaN "
        "(https://github.com/google/lifetime_value/issues/15)",
        blind=True,
    ),
    Scenario(
        "box_muller_noise_layer_drawing_an_exact_zero",
        box_muller_noise_layer_drawing_an_exact_zero,
        "activation",
        frozenset({"Log"}),
        "noisy_mlp/box_muller_noise",
        "missing_epsilon",
        frozenset(),
        story="a Box-Muller noise layer sqrt(-2 log u1) cos(2 pi u2) on tf.random.uniform's "
        "[0, 1): with 262k draws a step, u1 is exactly 0 within some dozens of steps and "
        "log(0) = -inf in the layer (https://github.com/gpuocean/gpuocean/pull/37, "
        "https://github.com/VowpalWabbit/vowpal_wabbit/pull/1833, "
        "https://github.com/JuliaGPU/CUDA.jl/pull/1513, "
        "https://github.com/juniorrojas/algovivo/pull/51, "
        "https://github.com/arrayfire/arrayfire/issues/1610)",
        blind=True,
    ),
    Scenario(
        "rbf_bandwidth_from_a_median_heuristic_on_duplicate_rows",
        rbf_bandwidth_from_a_median_heuristic_on_duplicate_rows,
        "activation",
        frozenset({"RealDiv"}),
        "rbf_net/rbf_features",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="an RBF layer whose bandwidth is the median pairwise distance of training rows "
        "that are mostly one standard configuration: the median is 0 and d^2 / (2 h^2) is "
        "inf or 0 / 0 inside the layer at the first forward pass "
        "(https://github.com/neurodata/hyppo/issues/92, "
        "https://github.com/py-why/dodiscover/pull/160, "
        "https://github.com/statsmodels/statsmodels/issues/5419, "
        "https://github.com/vega/vega/issues/2085)",
        blind=True,
    ),
    Scenario(
        "debiased_contrastive_loss_without_its_clamp",
        debiased_contrastive_loss_without_its_clamp,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="the debiased contrastive loss with the reference's '# constrain (optional)' "
        "clamp of Ng left out, at SimCLR's temperature 0.1: Ng = (-tau+ N pos + sum neg) / "
        "(1 - tau+) is below -pos and log(pos / (pos + Ng)) is the log of a negative number "
        "(https://github.com/chingyaoc/DCL/issues/8, "
        "https://github.com/huggingface/sentence-transformers/pull/3148)",
        blind=True,
    ),
]
