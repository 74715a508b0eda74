"""A fourth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` / ``scenario_patterns.py`` and the format of
``scenario_blind3.py``), and without running nantrace on them: each expectation comes from the
bug pattern itself (what a careful ML engineer would name as where the first non-finite value
appears, why, and the first fix to try). The only thing checked while writing them is that plain
TensorFlow, unwatched, really goes non-finite on their batches (a throwaway script outside the
repository, a plain ``tf.function`` step). None repeats a pattern on the list of existing
scenarios that came with the brief; each story cites the public report(s) the pattern comes
from. Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. stock features from pct_change: a trading halt (volume 0) makes the next day's change +inf
# ---------------------------------------------------------------------------------------------
def stock_volume_pct_change_after_halt():
    """Next-day return forecast from 10-day windows of (return, volume change), both built with
    pandas-style ``pct_change``. One day the stock was halted and traded 0 shares; the day after,
    the volume change is (v - 0) / 0 = +inf (``dropna`` removes NaN, not inf), and every window
    holding that day carries it into the LSTM."""
    rng = seeded(600)
    days = 400
    close = 50.0 * np.exp(np.cumsum(0.01 * rng.normal(size=days)))
    volume = rng.lognormal(13.0, 0.3, size=days)
    volume[250] = 0.0  # trading halted: no shares changed hands
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(close) / close[:-1]
        volume_change = np.diff(volume) / volume[:-1]  # day 251: +inf
    features = np.stack([returns, volume_change], axis=1)
    window = 10
    x = np.stack([features[i : i + window] for i in range(len(features) - window)])
    y = returns[window:].reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((window, 2)),
            keras.layers.LSTM(16, name="lstm"),
            keras.layers.Dense(1, name="head"),
        ],
        name="stock_lstm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x.astype("float32"), y.astype("float32")),
    )


# ---------------------------------------------------------------------------------------------
# 2. WTTE-RNN: the continuous Weibull log-likelihood of a time-to-event of exactly 0
# ---------------------------------------------------------------------------------------------
class WeibullParams(keras.layers.Layer):
    """WTTE-RNN's output activation: alpha = init_alpha * exp(a), beta = max_beta * sigmoid(b)."""

    def __init__(self, init_alpha, max_beta=4.0, **kwargs):
        super().__init__(**kwargs)
        self.init_alpha, self.max_beta = init_alpha, max_beta

    def call(self, x):
        a, b = x[:, 0], x[:, 1]
        return tf.stack([self.init_alpha * tf.exp(a), self.max_beta * tf.sigmoid(b)], axis=-1)


def weibull_continuous_nll(tte_event, params):
    """-log L of a continuous Weibull, written as in WTTE-RNN without its epsilon:
    u * (log beta + beta * log(t / alpha)) - (t / alpha) ** beta."""
    tte, event = tte_event[:, 0], tte_event[:, 1]
    alpha, beta = params[:, 0], params[:, 1]
    scaled = tte / alpha
    loglik = event * (tf.math.log(beta) + beta * tf.math.log(scaled)) - tf.pow(scaled, beta)
    return -tf.reduce_mean(loglik)


def wtte_rnn_zero_time_to_event():
    """Days to the next failure of a machine, predicted from its last 24 daily sensor readings
    by a GRU with a Weibull head. Two machines failed on the day of their last reading: their
    time-to-event is 0, and log(0 / alpha) = -inf in the continuous log-likelihood."""
    rng = seeded(601)
    n = 128
    x = rng.normal(size=(n, 24, 4)).astype("float32")
    tte = np.ceil(rng.exponential(20.0, size=n))
    tte[[45, 83]] = 0.0  # failed on the day of the last reading
    event = (rng.random(n) < 0.8).astype("float64")
    event[[45, 83]] = 1.0
    tte_event = np.stack([tte, event], axis=1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((24, 4)),
            keras.layers.GRU(16, name="gru"),
            keras.layers.Dense(2, name="dense"),
            WeibullParams(float(tte.mean()), name="weibull"),
        ],
        name="wtte",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), weibull_continuous_nll),
        batches(x, tte_event),
    )


# ---------------------------------------------------------------------------------------------
# 3. Circle loss (gamma = 256) with exp and log written out instead of logsumexp
# ---------------------------------------------------------------------------------------------
def circle_loss(labels, embeddings, margin=0.25, gamma=256.0):
    """Circle loss (Sun et al. 2020) as log(1 + sum_n exp(l_n) * sum_p exp(l_p)); the paper's
    scale gamma = 256 puts the pair logits in the hundreds, past exp's float32 range (88.7)."""
    z = tf.math.l2_normalize(embeddings, axis=-1)
    sim = tf.matmul(z, z, transpose_b=True)
    same = tf.equal(labels[:, None], labels[None, :])
    eye = tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    positive = tf.cast(same & ~eye, tf.float32)
    negative = tf.cast(~same, tf.float32)
    alpha_p = tf.stop_gradient(tf.nn.relu(1.0 + margin - sim))
    alpha_n = tf.stop_gradient(tf.nn.relu(sim + margin))
    logit_p = -gamma * alpha_p * (sim - (1.0 - margin))
    logit_n = gamma * alpha_n * (sim - margin)
    pos_term = tf.reduce_sum(positive * tf.exp(logit_p), axis=1)
    neg_term = tf.reduce_sum(negative * tf.exp(logit_n), axis=1)
    return tf.reduce_mean(tf.math.log(1.0 + pos_term * neg_term))


def circle_loss_exp_without_logsumexp():
    """Metric learning of product photos' feature vectors (8 products, 4 views of each per
    batch) with a hand-written Circle loss at the paper's gamma = 256."""
    rng = seeded(602)
    centers = rng.normal(size=(8, 20))
    labels = np.tile(np.repeat(np.arange(8), 4), 4)
    x = (0.5 * centers[labels] + rng.normal(size=(128, 20))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(16, name="embedding"),
        ],
        name="metric_net",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), circle_loss),
        batches(x, labels.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 4. ordinal regression (cumulative logit) with free, unordered cutpoints
# ---------------------------------------------------------------------------------------------
class CumulativeLogit(keras.layers.Layer):
    """P(y <= k) = sigmoid(c_k - eta); the class probabilities are the differences of
    consecutive cumulative probabilities. The cutpoints c_k are free weights: nothing keeps them
    increasing, so a class between two crossed cutpoints gets a negative probability."""

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def build(self, input_shape):
        self.cutpoints = self.add_weight(
            shape=(self.num_classes - 1,),
            initializer=keras.initializers.RandomNormal(stddev=1.5),
            name="cutpoints",
        )

    def call(self, eta):
        cdf = tf.sigmoid(self.cutpoints - eta)
        cdf = tf.concat([tf.zeros_like(eta), cdf, tf.ones_like(eta)], axis=-1)
        return cdf[:, 1:] - cdf[:, :-1]


def ordinal_nll(y, probs):
    return -tf.reduce_mean(tf.math.log(tf.gather(probs, y, batch_dims=1)))


def ordinal_regression_unordered_cutpoints():
    """1-5 star ratings predicted from review features with a cumulative-logit (proportional
    odds) head whose cutpoints start from N(0, 1.5) draws, unsorted."""
    rng = seeded(603)
    x = rng.normal(size=(128, 10)).astype("float32")
    latent = x[:, :3].sum(axis=1) + 0.5 * rng.normal(size=128)
    stars = np.digitize(latent, [-2.0, -0.7, 0.7, 2.0]).astype("int32")  # classes 0..4
    inputs = keras.Input((10,))
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    eta = keras.layers.Dense(1, name="eta")(h)
    probs = CumulativeLogit(5, name="cumulative_logit")(eta)
    model = keras.Model(inputs, probs, name="ordinal")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), ordinal_nll), batches(x, stars)
    )


# ---------------------------------------------------------------------------------------------
# 5. MS-SSIM loss on an anti-correlated prediction: pow(0, w) in the backward pass
# ---------------------------------------------------------------------------------------------
def ms_ssim_loss(y_true, y_pred):
    """1 - MS-SSIM with three scales (the images are 32x32). tf.image.ssim_multiscale clips each
    scale's contrast-structure term at 0 with a ReLU and raises it to a power w < 1: the forward
    value is finite, but where a term is 0 the gradient of x ** w is w * 0 ** (w - 1) = Inf."""
    return 1.0 - tf.reduce_mean(
        tf.image.ssim_multiscale(
            y_true, y_pred, max_val=1.0, power_factors=(0.0448, 0.2856, 0.3001), filter_size=5
        )
    )


def ms_ssim_residual_net_inverted_contrast():
    """Label-free microscopy: a residual image-to-image net (output = input + correction)
    learns to turn a bright-field-like image into its fluorescence-like counterpart, whose
    contrast is inverted. At initialisation the output is the input, anti-correlated with the
    target at every scale, so every clipped contrast-structure term is 0."""
    rng = seeded(604)
    yy, xx = np.mgrid[0:32, 0:32]
    images = []
    for _ in range(64):
        img = np.zeros((32, 32))
        for _ in range(4):
            cy, cx = rng.uniform(4, 28, size=2)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(2, 5) ** 2))
        images.append(np.clip(0.2 + 0.6 * img + 0.05 * rng.normal(size=(32, 32)), 0, 1))
    x = np.stack(images)[..., None].astype("float32")
    y = (1.0 - x).astype("float32")  # inverted contrast
    inputs = keras.Input((32, 32, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    correction = keras.layers.Conv2D(1, 3, padding="same", name="correction")(h)
    outputs = keras.layers.Add(name="restore")([inputs, correction])
    model = keras.Model(inputs, outputs, name="restoration")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), ms_ssim_loss), batches(x, y, size=16)
    )


# ---------------------------------------------------------------------------------------------
# 6. a Glow-style flow whose invertible mixing takes log(det W) instead of log|det W|
# ---------------------------------------------------------------------------------------------
class InvertibleMixing(keras.layers.Layer):
    """Glow's invertible 1x1 convolution on feature vectors: z = x W, with W initialised as in
    Glow to the Q of a QR decomposition of a Gaussian matrix. The log-determinant is written
    log(det W) instead of log|det W|; LAPACK's Q of an even-sized matrix is a product of an odd
    number of Householder reflections, so det W = -1 and log(-1) is NaN."""

    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def build(self, input_shape):
        d = input_shape[-1]
        rotation = np.linalg.qr(np.random.default_rng(self.seed).normal(size=(d, d)))[0]
        self.w = self.add_weight(
            shape=(d, d), initializer=keras.initializers.Constant(rotation), name="w"
        )

    def call(self, x):
        logdet = tf.math.log(tf.linalg.det(self.w))
        return tf.matmul(x, self.w), logdet * tf.ones_like(x[:, :1])


class AffineCoupling(keras.layers.Layer):
    """RealNVP affine coupling: the second half is scaled by exp(tanh(s(x1))) and shifted."""

    def build(self, input_shape):
        self.half = input_shape[-1] // 2
        self.hidden = keras.layers.Dense(16, activation="tanh", name="hidden")
        self.scale = keras.layers.Dense(input_shape[-1] - self.half, name="scale")
        self.shift = keras.layers.Dense(input_shape[-1] - self.half, name="shift")

    def call(self, x):
        x1, x2 = x[:, : self.half], x[:, self.half :]
        h = self.hidden(x1)
        s = tf.tanh(self.scale(h))
        y2 = x2 * tf.exp(s) + self.shift(h)
        return tf.concat([x1, y2], axis=-1), tf.reduce_sum(s, axis=-1, keepdims=True)


def flow_nll(_, outputs):
    z, logdet = outputs[:, :-1], outputs[:, -1]
    log_pz = -0.5 * tf.reduce_sum(tf.square(z), axis=-1) - 0.5 * 6 * np.log(2 * np.pi)
    return -tf.reduce_mean(log_pz + logdet)


def glow_mixing_log_of_negative_determinant():
    """Density estimation of standardized 6-feature tabular data with a small Glow-like flow
    (mixing, coupling, mixing): both 6x6 mixing matrices start with det -1, and the first
    one's log-determinant is NaN on the very first forward pass."""
    rng = seeded(605)
    base = rng.normal(size=(128, 3))
    x = np.concatenate([base, base**2 - 1 + 0.3 * rng.normal(size=(128, 3))], axis=1)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    inputs = keras.Input((6,))
    z, ld1 = InvertibleMixing(seed=11, name="mix1")(inputs)
    z, ld2 = AffineCoupling(name="coupling")(z)
    z, ld3 = InvertibleMixing(seed=12, name="mix2")(z)
    logdet = keras.layers.Add(name="logdet")([ld1, ld2, ld3])
    model = keras.Model(inputs, keras.layers.Concatenate(name="out")([z, logdet]), name="flow")
    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), flow_nll), batches(x, x))


# ---------------------------------------------------------------------------------------------
# 7. Dice loss without a smoothing term on images with an empty mask
# ---------------------------------------------------------------------------------------------
def dice_loss(y_true, y_pred):
    """1 - mean per-image Dice, 2 |P . T| / (|P| + |T|), without the usual smooth / epsilon."""
    intersection = tf.reduce_sum(y_true * y_pred, axis=[1, 2, 3])
    total = tf.reduce_sum(y_true, axis=[1, 2, 3]) + tf.reduce_sum(y_pred, axis=[1, 2, 3])
    return 1.0 - tf.reduce_mean(2.0 * intersection / total)


def dice_loss_empty_mask_hard_sigmoid():
    """Cell segmentation with a mobile-style head (hard_sigmoid output, exactly 0 below -3).
    A quarter of the images contain no cell. As training pushes the background down, an empty
    image ends up with every prediction exactly 0, and its Dice is 0 / 0."""
    rng = seeded(606)
    yy, xx = np.mgrid[0:24, 0:24]
    n = 256
    x = 0.1 * rng.normal(size=(n, 24, 24))
    masks = np.zeros((n, 24, 24))
    for i in range(n):
        if i % 4 == 3:
            continue  # no cell in this field of view
        cy, cx, r = rng.uniform(6, 18), rng.uniform(6, 18), rng.uniform(3, 6)
        disk = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        masks[i][disk] = 1.0
        x[i][disk] += 1.0
    model = keras.Sequential(
        [
            keras.Input((24, 24, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
            keras.layers.Conv2D(1, 1, activation="hard_sigmoid", name="mask"),
        ],
        name="segmenter",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), dice_loss),
        batches(x[..., None].astype("float32"), masks[..., None].astype("float32"), epochs=16),
    )


# ---------------------------------------------------------------------------------------------
# 8. two-tower retrieval with logQ correction: items that are new have a sampling probability 0
# ---------------------------------------------------------------------------------------------
def two_tower_logq_zero_probability():
    """In-batch softmax of a two-tower recommender with the logQ sampling-bias correction
    logits - log(q(item)); q comes from a count table snapshot in which the newest items have
    count 0, so log(q) = -inf for them and the logits of their column are +inf."""
    rng = seeded(607)
    n_users, n_items = 60, 40
    counts = rng.integers(5, 200, size=n_items).astype("float64")
    counts[35:] = 0.0  # added to the catalog after the snapshot of the counts
    q = counts / counts.sum()
    popularity = (counts + 1.0) / (counts + 1.0).sum()
    users = rng.integers(0, n_users, size=96).astype("int32")
    items = rng.choice(n_items, size=96, p=popularity).astype("int32")
    items[70] = 37  # a new item in the third batch
    item_q = q[items].astype("float32")
    user_in = keras.Input((), dtype="int32")
    item_in = keras.Input((), dtype="int32")
    u = keras.layers.Embedding(n_users, 16, name="user_embed")(user_in)
    u = keras.layers.Dense(16, name="user_tower")(u)
    v = keras.layers.Embedding(n_items, 16, name="item_embed")(item_in)
    v = keras.layers.Dense(16, name="item_tower")(v)
    model = keras.Model([user_in, item_in], [u, v], name="two_tower")
    optimizer = keras.optimizers.Adam(1e-3)
    cce = keras.losses.CategoricalCrossentropy(from_logits=True)

    def loss_of(model, users, items, item_q):
        u, v = model([users, items], training=True)
        logits = tf.matmul(u, v, transpose_b=True) - tf.math.log(item_q)[None, :]
        return cce(tf.eye(tf.shape(users)[0]), logits)

    data = (
        tuple(tf.constant(a[i : i + 32]) for a in (users, items, item_q)) for i in range(0, 96, 32)
    )
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 9. log-cosh loss written as log(cosh(error)), on a target with a few gross outliers
# ---------------------------------------------------------------------------------------------
def log_cosh_by_hand(y_true, y_pred):
    return tf.reduce_mean(tf.math.log(tf.math.cosh(y_pred - y_true)))


def log_cosh_by_hand_with_outliers():
    """Delivery time in minutes (~35 +- 10) with a few multi-hour delays; log-cosh was chosen
    for its robustness to those outliers, but cosh(x) overflows float32 for |x| > 89.4."""
    rng = seeded(609)
    x = rng.normal(size=(128, 8)).astype("float32")
    minutes = 35.0 + 8.0 * x[:, 0] + 4.0 * x[:, 1] + 3.0 * rng.normal(size=128)
    minutes[[50, 77, 101]] = [240.0, 390.0, 610.0]  # stuck in a storm, lost parcels
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="head"),
        ],
        name="eta_model",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), log_cosh_by_hand),
        batches(x, minutes.reshape(-1, 1).astype("float32")),
    )


# ---------------------------------------------------------------------------------------------
# 10. Poincare embeddings trained with a Euclidean optimizer and no projection onto the ball
# ---------------------------------------------------------------------------------------------
class PoincareDistance(keras.layers.Layer):
    """d(u, v) = arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2) (1 - |v|^2))) of the anchor (first
    column) against its candidates; valid only while every point stays inside the unit ball."""

    def call(self, emb):
        u, v = emb[:, :1, :], emb[:, 1:, :]
        sq_u = tf.reduce_sum(tf.square(u), axis=-1)
        sq_v = tf.reduce_sum(tf.square(v), axis=-1)
        sq_dist = tf.reduce_sum(tf.square(u - v), axis=-1)
        return tf.math.acosh(1.0 + 2.0 * sq_dist / ((1.0 - sq_u) * (1.0 - sq_v)))


def poincare_embedding_leaves_the_ball():
    """A 3-level taxonomy (1 root, 8 categories, 48 leaves) embedded in the Poincare ball by
    the Nickel & Kiela ranking loss (each edge against 10 sampled non-neighbours), but with
    plain Adam and no projection back into the ball after each step."""
    rng = seeded(610)
    parent = np.array([-1] + [0] * 8 + [1 + i // 6 for i in range(48)])
    edges = np.array([(c, parent[c]) for c in range(1, 57)])
    neighbours = {c: {c, parent[c]} for c in range(57)}
    for c, p in edges:
        neighbours[p].add(c)
    rows = []
    for _ in range(6):
        for c, p in edges[rng.permutation(len(edges))]:
            candidates = [k for k in range(57) if k not in neighbours[c]]
            rows.append([c, p, *rng.choice(candidates, size=10, replace=False)])
    ids = np.array(rows, dtype="int32")
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            keras.layers.Embedding(
                57,
                5,
                embeddings_initializer=keras.initializers.RandomUniform(-1e-3, 1e-3),
                name="embed",
            ),
            PoincareDistance(name="distance"),
            keras.layers.Lambda(lambda d: -d, name="neg_distance"),
        ],
        name="poincare",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(0.05), loss),
        batches(ids, np.zeros(len(ids), dtype="int32"), epochs=3),
    )


# ---------------------------------------------------------------------------------------------
# 11. FTRL with initial_accumulator_value=0 on an embedding table: rows without gradient
# ---------------------------------------------------------------------------------------------
def ftrl_zero_accumulator_unseen_ids():
    """A click-through-rate model trained with FTRL-Proximal as in McMahan et al. (the paper
    starts the per-coordinate accumulator n at 0), without L2 and beta: a coordinate whose
    gradient is still 0 (the embedding row of an ad id not in the batch) has an update
    denominator sqrt(0) / lr = 0, and its new value is 0 / 0."""
    rng = seeded(611)
    n = 96
    ad_ids = rng.integers(0, 500, size=n).astype("int32")
    dense = rng.normal(size=(n, 6)).astype("float32")
    clicks = (rng.random(n) < 0.2).astype("float32").reshape(-1, 1)
    ad_in = keras.Input((), dtype="int32")
    dense_in = keras.Input((6,))
    e = keras.layers.Embedding(500, 8, name="ad_embed")(ad_in)
    h = keras.layers.Concatenate(name="concat")([e, dense_in])
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    out = keras.layers.Dense(1, name="logit")(h)
    model = keras.Model([ad_in, dense_in], out, name="ctr")
    optimizer = keras.optimizers.Ftrl(
        learning_rate=0.05, initial_accumulator_value=0.0, l1_regularization_strength=1e-3
    )
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_of(model, ads, feats, y):
        return bce(y, model([ads, feats], training=True))

    data = (
        tuple(tf.constant(a[i : i + 32]) for a in (ad_ids, dense, clicks)) for i in range(0, n, 32)
    )
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 12. behaviour cloning with a tanh-squashed Gaussian policy on expert actions at the bounds
# ---------------------------------------------------------------------------------------------
def tanh_gaussian_nll(actions, params):
    """-log pi(a | s) of a tanh-squashed Gaussian (SAC's policy), evaluated on recorded
    actions: u = atanh(a), log pi = log N(u; mu, sigma) - sum log(1 - a^2)."""
    mu, log_std = tf.split(params, 2, axis=-1)
    u = tf.math.atanh(actions)
    log_normal = -0.5 * tf.square((u - mu) / tf.exp(log_std)) - log_std - 0.5 * np.log(2 * np.pi)
    log_prob = tf.reduce_sum(log_normal - tf.math.log(1.0 - tf.square(actions)), axis=-1)
    return -tf.reduce_mean(log_prob)


def behaviour_cloning_tanh_policy_actions_at_bounds():
    """Offline pre-training of a SAC actor by behaviour cloning: the expert's torques were
    clipped to the action bounds [-1, 1] before they were logged, so many recorded actions are
    exactly +-1, where atanh is infinite and 1 - a^2 is 0."""
    rng = seeded(612)
    obs = rng.normal(size=(128, 11)).astype("float32")
    expert = np.tanh(obs[:, :3] @ rng.normal(size=(3, 3))) * 1.4
    actions = np.clip(expert, -1.0, 1.0).astype("float32")  # saturated torques logged as +-1
    model = keras.Sequential(
        [
            keras.Input((11,)),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(6, name="mu_log_std"),
        ],
        name="actor",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(3e-4), tanh_gaussian_nll),
        batches(obs, actions),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND4_SCENARIOS: list[Scenario] = [
    Scenario(
        "stock_volume_pct_change_after_halt",
        stock_volume_pct_change_after_halt,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="LSTM on pct_change features; a halted day with volume 0 makes the next day's "
        "volume change +inf, which dropna does not remove "
        "(https://github.com/tensorflow/tensorflow/issues/46145, "
        "https://github.com/TorchTrade/torchtrade/issues/398)",
        blind=True,
    ),
    Scenario(
        "wtte_rnn_zero_time_to_event",
        wtte_rnn_zero_time_to_event,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"missing_epsilon", "unstable_loss"}),
        frozenset({"add_epsilon", "clamp_argument"}),
        story="WTTE-RNN continuous Weibull log-likelihood without its epsilon; a time-to-event "
        "of 0 gives log(0 / alpha) = -inf (https://github.com/ragulpr/wtte-rnn/issues/33: "
        "'0s in TTE if using continuous loss function', "
        "https://github.com/ragulpr/wtte-rnn/issues/39)",
        blind=True,
    ),
    Scenario(
        "circle_loss_exp_without_logsumexp",
        circle_loss_exp_without_logsumexp,
        "loss",
        frozenset({"Exp"}),
        None,
        "unstable_loss",
        frozenset({"use_logsumexp", "clamp_argument"}),
        story="Circle loss written as log(1 + sum exp * sum exp) with the paper's gamma = 256: "
        "the pair logits reach the hundreds and exp overflows; the reference implementation "
        "uses softplus(logsumexp + logsumexp) (https://github.com/qianjinhao/circle-loss/issues/2, "
        "https://github.com/MegEngine/MegEngine/issues/501)",
        blind=True,
    ),
    Scenario(
        "ordinal_regression_unordered_cutpoints",
        ordinal_regression_unordered_cutpoints,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset({"positive_output", "clamp_argument"}),
        story="cumulative-logit ordinal head with free cutpoints drawn unsorted: the class "
        "between two crossed cutpoints has a negative probability and its log is NaN; the "
        "usual fix is ordered cutpoints c_1 + cumsum(softplus/exp(delta)) "
        "(https://github.com/rmcelreath/rethinking/issues/315, "
        "https://github.com/aramis-lab/leaspy/pull/506)",
        blind=True,
    ),
    Scenario(
        "ms_ssim_residual_net_inverted_contrast",
        ms_ssim_residual_net_inverted_contrast,
        "gradient",
        frozenset({"Pow"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "clamp_argument"}),
        story="1 - tf.image.ssim_multiscale as the loss of an image-to-image net whose output "
        "is anti-correlated with the target: the ReLU-clipped contrast-structure terms are 0, "
        "the forward is finite and the gradient of 0 ** w (w < 1) is Inf/NaN "
        "(https://github.com/tensorflow/tensorflow/issues/50400, "
        "https://github.com/mehta-lab/microDL/pull/102, "
        "https://github.com/VainF/pytorch-msssim/issues/7)",
        blind=True,
    ),
    Scenario(
        "glow_mixing_log_of_negative_determinant",
        glow_mixing_log_of_negative_determinant,
        "activation",
        frozenset({"Log"}),
        "flow/mix1",
        "domain_error",
        frozenset({"clamp_argument", "positive_output"}),
        story="Glow invertible 1x1 convolution with log(det W) instead of log|det W| "
        "(slogdet); W initialised from a QR decomposition has det -1 "
        "(https://github.com/chaiyujin/glow-pytorch/issues/7, "
        "https://github.com/jaywalnut310/glow-tts/issues/17)",
        blind=True,
    ),
    Scenario(
        "dice_loss_empty_mask_hard_sigmoid",
        dice_loss_empty_mask_hard_sigmoid,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="per-image Dice loss without the smooth term; once an image without foreground "
        "gets all-zero (hard_sigmoid) predictions its Dice is 0 / 0 "
        "(https://github.com/jocpae/clDice/issues/5, https://github.com/ivadomed/ivadomed/issues/183)",
        blind=True,
    ),
    Scenario(
        "two_tower_logq_zero_probability",
        two_tower_logq_zero_probability,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "clamp_argument"}),
        story="in-batch softmax of a two-tower recommender with the logQ correction "
        "logits - log(q); items newer than the count snapshot have q = 0, log(q) = -inf "
        "(https://github.com/tensorflow/tensorflow/issues/10284: expected count 0 -> log gives "
        "inf/NaN logits, 'adding/clipping log input by small epsilon'; "
        "https://github.com/tensorflow/recommenders/issues/257)",
        blind=True,
    ),
    Scenario(
        "log_cosh_by_hand_with_outliers",
        log_cosh_by_hand_with_outliers,
        "loss",
        frozenset({"Cosh"}),
        None,
        "unstable_loss",
        frozenset({"use_logsumexp", "clamp_argument"}),
        story="log-cosh loss written as log(cosh(error)): cosh overflows float32 for |error| > 89 "
        "(outliers of hours in a minutes target); Keras' LogCosh uses x + softplus(-2x) - log 2 "
        "(https://github.com/keras-team/keras/pull/8524, "
        "https://github.com/Lightning-AI/torchmetrics/issues/3488)",
        blind=True,
    ),
    Scenario(
        "poincare_embedding_leaves_the_ball",
        poincare_embedding_leaves_the_ball,
        "activation",
        frozenset({"Acosh"}),
        "poincare/distance",
        "domain_error",
        frozenset({"clamp_argument"}),
        story="Poincare embeddings updated by plain Adam without projecting back into the unit "
        "ball: a point crosses |u| = 1, the arcosh argument drops below 1 and arcosh is NaN "
        "(https://github.com/facebookresearch/poincare-embeddings/issues/41: 'we clip the norm "
        "to 1 - 1e-5'; https://github.com/facebookresearch/hgnn/issues/16)",
        blind=True,
    ),
    Scenario(
        "ftrl_zero_accumulator_unseen_ids",
        ftrl_zero_accumulator_unseen_ids,
        "optimizer_update",
        frozenset({"RealDiv"}),
        "ctr/ad_embed",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Keras Ftrl(initial_accumulator_value=0.0) with l2 = beta = 0 on an embedding "
        "table: rows with a zero gradient get (0 - 0) / 0 = NaN; the accumulator start (or beta) "
        "is the epsilon (https://github.com/NVIDIA/recsys-examples/pull/487 on keeping the "
        "accumulator at 0, https://github.com/tensorflow/tensorflow/issues/50118 on Keras FTRL's "
        "zero-gradient step)",
        blind=True,
    ),
    Scenario(
        "behaviour_cloning_tanh_policy_actions_at_bounds",
        behaviour_cloning_tanh_policy_actions_at_bounds,
        "loss",
        frozenset({"Atanh", "Log"}),
        None,
        frozenset({"domain_error", "missing_epsilon"}),
        frozenset({"clamp_argument"}),
        story="behaviour cloning of a tanh-squashed Gaussian (SAC) actor on logged actions "
        "clipped to exactly +-1: atanh(+-1) = +-inf and log(1 - a^2) = -inf; clip the actions "
        "into (-1 + eps, 1 - eps) (https://github.com/rlworkgroup/garage/pull/2129, "
        "https://github.com/ray-project/ray/issues/14878)",
        blind=True,
    ),
]
