"""A ninth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` / ``scenario_patterns.py``, the format of
``scenario_blind8.py``, the taxonomy of the design notes and the list of names and one-line stories
of the existing scenarios), and without running nantrace on them: each expectation comes from the
bug pattern itself (what a careful ML engineer would name as where the first non-finite value
appears, why, and the first fix to try), decided before any of them was run. The only things
checked while writing them are that plain TensorFlow, unwatched, really goes non-finite on their
batches, and (with tf.debugging.enable_check_numerics, plain TF) which op first produces the
non-finite value; both in a throwaway script outside the repository that stands in plain-TF
versions of the loop helpers, so that nantrace is never imported. That check changed the Deep &
Cross scenario (first written with four cross layers and counts up to 1e5, its forward pass stayed
finite and Adam's moments overflowed instead; it now has the paper's six cross layers, counts up to
1e6, and its layer expectation names the last cross layer) and dropped a multi-task
uncertainty-weighting scenario that did not go non-finite. None repeats a pattern on the list of
existing scenarios; this set favours situations outside plain regression and classification:
supervised contrastive and listwise-ranking losses, a capsule network, a keyword-spotting
front-end, a colour loss, Gauss-rank preprocessing, a GARCH volatility filter, a Deep & Cross
recommender and a poly learning-rate schedule. Each story cites the public report(s) the pattern
comes from. Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. supervised contrastive loss with one view: an anchor whose class is alone in the batch
# ---------------------------------------------------------------------------------------------
def supcon_loss_anchor_without_positive():
    """Product-embedding encoder trained with the SupCon loss of Khosla et al. (the reference
    losses.py, ported to TF) on a single view per sample, without the paper's two augmented
    crops. Each anchor's loss is the mean log-probability of its positives, sum(pos * log_prob) /
    sum(pos); the catalogue is long-tailed, and an anchor of a rare category that is the only one
    of its class in the batch has no positive at all: 0 / 0 = NaN."""
    rng = seeded(1100)
    n, dim = 512, 24
    frequent, rare = 6, 14
    probs = np.concatenate([np.full(frequent, 0.9 / frequent), np.full(rare, 0.1 / rare)])
    labels = rng.choice(frequent + rare, size=n, p=probs)
    centres = 2.0 * rng.normal(size=(frequent + rare, dim))
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="encoder0"),
            keras.layers.Dense(64, activation="relu", name="encoder1"),
            keras.layers.Dense(32, name="projection"),
            keras.layers.UnitNormalization(name="l2_normalize"),
        ],
        name="supcon_encoder",
    )
    temperature = 0.1

    def supcon(model, features, label):
        z = model(features, training=True)
        sim = tf.matmul(z, z, transpose_b=True) / temperature
        logits = sim - tf.stop_gradient(tf.reduce_max(sim, axis=1, keepdims=True))
        not_self = 1.0 - tf.eye(tf.shape(z)[0])
        exp_logits = tf.exp(logits) * not_self
        log_prob = logits - tf.math.log(tf.reduce_sum(exp_logits, axis=1, keepdims=True))
        same = tf.cast(tf.equal(label[:, None], label[None, :]), tf.float32)
        positives = same * not_self
        mean_log_prob_pos = tf.reduce_sum(positives * log_prob, axis=1) / tf.reduce_sum(
            positives, axis=1
        )
        return -tf.reduce_mean(mean_log_prob_pos)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, supcon),
        list(batches(x, labels.astype("int32"))),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 2. ApproxNDCG by hand: queries whose documents are all irrelevant have an ideal DCG of 0
# ---------------------------------------------------------------------------------------------
def approx_ndcg_loss_on_queries_without_relevant_documents():
    """Listwise learning-to-rank for a shop's search: a per-document scoring MLP trained on the
    ApproxNDCG loss written by hand (approximate ranks from pairwise sigmoids, DCG of the
    approximate ranking divided by the ideal DCG of the labels). Sessions where the user clicked
    nothing are kept as queries; all their relevance labels are 0, so the ideal DCG is 0 and the
    query's NDCG is 0 / 0 (TF-Ranking divides with divide_no_nan; LightGBM and allRank give such
    queries a filler value)."""
    rng = seeded(1101)
    queries, docs, dim = 320, 10, 12
    x = rng.normal(size=(queries, docs, dim))
    w = rng.normal(size=dim)
    quality = x @ w + 0.5 * rng.normal(size=(queries, docs))
    relevance = np.digitize(quality, [1.5, 3.0, 4.5]).astype("float32")  # grades 0..3
    no_click = rng.random(queries) < 0.05
    relevance[no_click] = 0.0
    relevance[~no_click & (relevance.max(axis=1) == 0), 0] = 1.0
    x = x.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((docs, dim)),
            keras.layers.Dense(32, activation="relu", name="doc_hidden0"),
            keras.layers.Dense(16, activation="relu", name="doc_hidden1"),
            keras.layers.Dense(1, name="doc_score"),
        ],
        name="listwise_ranker",
    )
    discounts = 1.0 / np.log2(np.arange(docs) + 2.0).astype("float32")

    def approx_ndcg(model, features, labels):
        scores = model(features, training=True)[..., 0]
        pairwise = scores[:, None, :] - scores[:, :, None]  # s_j - s_i
        others = 1.0 - tf.eye(docs)
        approx_rank = 1.0 + tf.reduce_sum(tf.sigmoid(pairwise / 0.1) * others, axis=-1)
        gains = tf.pow(2.0, labels) - 1.0
        dcg = tf.reduce_sum(gains / (tf.math.log(1.0 + approx_rank) / np.log(2.0)), axis=-1)
        ideal_gains = tf.sort(gains, axis=-1, direction="DESCENDING")
        ideal_dcg = tf.reduce_sum(ideal_gains * discounts, axis=-1)
        return -tf.reduce_mean(dcg / ideal_dcg)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, approx_ndcg),
        list(batches(x, relevance, size=16)),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 3. a capsule network's squash written as in the paper: all-zero primary capsules
# ---------------------------------------------------------------------------------------------
class Squash(keras.layers.Layer):
    """The squash non-linearity, |s|^2 / (1 + |s|^2) * s / |s|, exactly as the paper writes it."""

    def call(self, s):
        squared_norm = tf.reduce_sum(tf.square(s), axis=-1, keepdims=True)
        return squared_norm / (1.0 + squared_norm) * s / tf.sqrt(squared_norm)


def capsule_squash_of_blank_border_patches():
    """Small CapsNet on 28 x 28 scanned glyphs (a ReLU conv, a primary-capsule conv reshaped to
    8-D capsules, squash). The squash follows the paper's formula literally, s / |s| with no
    epsilon. The glyphs sit in the middle of a black canvas: the primary capsules whose receptive
    field lies in the empty border see only zeros, the convolutions' biases start at 0, so those
    capsule vectors are exactly 0 and s / |s| = 0 / 0 = NaN."""
    rng = seeded(1102)
    n, size, classes = 192, 28, 3
    labels = rng.integers(0, classes, size=n)
    images = np.zeros((n, size, size, 1))
    strokes = rng.random((classes, 12, 12)) < 0.35
    for i in range(n):
        glyph = strokes[labels[i]] * rng.uniform(0.6, 1.0, size=(12, 12))
        dy, dx = rng.integers(6, 10, size=2)
        images[i, dy : dy + 12, dx : dx + 12, 0] = glyph
    x = images.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 5, activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 5, strides=2, name="primary_conv"),
            keras.layers.Reshape((-1, 8), name="primary_capsules"),
            Squash(name="primary_squash"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(classes, name="class_logits"),
        ],
        name="capsnet",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 4. focal loss with gamma < 1 on examples the model gets exactly right
# ---------------------------------------------------------------------------------------------
def focal_loss_gamma_below_one_on_confident_examples():
    """Churn classifier with a sigmoid output and a hand-written binary focal loss,
    -alpha_t (1 - p_t) ** gamma log(p_t), with gamma = 0.5 'for a milder focusing than 2'. One
    feature (days since the last login) nearly gives the answer away, the logits pass +-17 and
    the float32 sigmoid rounds p_t to exactly 1. The loss is finite (0 ** 0.5 = 0), but the
    derivative of (1 - p_t) ** 0.5 at 0 is infinite: 0 x inf = NaN in the backward pass (clip
    p into [eps, 1 - eps] first)."""
    rng = seeded(1103)
    n = 2048
    churn = rng.random(n) < 0.2
    days_idle = np.where(churn, rng.normal(3.0, 0.4, n), rng.normal(-1.0, 0.4, n))
    other = rng.normal(size=(n, 7))
    x = np.concatenate([days_idle[:, None], other], axis=1).astype("float32")
    y = churn.reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, activation="sigmoid", name="churn_prob"),
        ],
        name="churn_model",
    )
    alpha, gamma = 0.25, 0.5

    def focal(y_true, p):
        p_t = y_true * p + (1.0 - y_true) * (1.0 - p)
        alpha_t = y_true * alpha + (1.0 - y_true) * (1.0 - alpha)
        return tf.reduce_mean(-alpha_t * tf.pow(1.0 - p_t, gamma) * tf.math.log(p_t))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), focal),
        batches(x, y, size=64, epochs=6),
    )


# ---------------------------------------------------------------------------------------------
# 5. a log-mel front-end with more mel bands than the FFT can fill
# ---------------------------------------------------------------------------------------------
class LogMel(keras.layers.Layer):
    """STFT -> power -> mel filterbank -> log, inside the model (no floor under the log)."""

    def __init__(self, sample_rate, frame_length, frame_step, num_mel_bins, **kwargs):
        super().__init__(**kwargs)
        self.frame_length, self.frame_step = frame_length, frame_step
        self.mel = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins, frame_length // 2 + 1, sample_rate, 20.0, sample_rate / 2
        )

    def call(self, wave):
        stft = tf.signal.stft(wave, self.frame_length, self.frame_step)
        power = tf.square(tf.abs(stft))
        mel = tf.tensordot(power, self.mel, 1)
        return tf.math.log(mel)[..., None]


def log_mel_with_empty_filters():
    """Keyword spotting on 8 kHz telephone audio with the log-mel front-end in the model, its
    settings copied from a music model: 64 mel bands, but 16 ms frames (a 128-point FFT, 65
    bins of 62.5 Hz). The low mel bands are narrower than one FFT bin and several triangles fall
    between two bin centres: those filters are all zero (librosa warns 'Empty filters detected in
    mel frequency basis'), their band energy is exactly 0 in every clip, and log(0) = -inf."""
    rng = seeded(1104)
    n, rate, length = 192, 8000, 4000
    labels = rng.integers(0, 2, size=n)
    t = np.arange(length) / rate
    pitch = np.where(labels == 1, 700.0, 1500.0)[:, None] * rng.uniform(0.9, 1.1, size=(n, 1))
    envelope = np.exp(-(((t - 0.25) / 0.08) ** 2))[None, :]
    wave = 0.3 * np.sin(2 * np.pi * pitch * t) * envelope + 0.02 * rng.normal(size=(n, length))
    x = wave.astype("float32")
    y = labels.reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((length,)),
            LogMel(rate, 128, 64, 64, name="log_mel"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(1, name="keyword_logit"),
        ],
        name="kws_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 6. a hue term in an image-enhancement loss: achromatic pixels of the target
# ---------------------------------------------------------------------------------------------
def _hue(rgb):
    """Hue in [0, 1) by the textbook formula (the one in darknet's rgb_to_hsv)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    maxc = tf.reduce_max(rgb, axis=-1)
    delta = maxc - tf.reduce_min(rgb, axis=-1)
    hue = tf.where(
        tf.equal(maxc, r),
        (g - b) / delta,
        tf.where(tf.equal(maxc, g), 2.0 + (b - r) / delta, 4.0 + (r - g) / delta),
    )
    return tf.math.floormod(hue / 6.0, 1.0)


def hsv_hue_loss_on_achromatic_target_pixels():
    """Low-light enhancement CNN for product photos trained on MSE plus a hand-written hue term
    (the hue of the output against the hue of the well-lit target, computed in the loss) 'to keep
    colours faithful'. Hue divides by max(r, g, b) - min(r, g, b); the product shots have pure
    white backgrounds and black borders, whose pixels are achromatic: r = g = b, and their hue
    is 0 / 0 = NaN in the loss (darknet's and kornia's rgb_to_hsv guard this)."""
    rng = seeded(1105)
    n, size = 96, 16
    targets = np.ones((n, size, size, 3))  # white studio background
    colours = rng.uniform(0.1, 0.9, size=(n, 3))
    for i in range(n):
        y0, x0 = rng.integers(2, 7, size=2)
        targets[i, y0 : y0 + 8, x0 : x0 + 8] = colours[i] * rng.uniform(0.8, 1.0, size=(8, 8, 1))
    targets[:, :, :1] = 0.0  # a black border on the left
    dark = targets * rng.uniform(0.05, 0.2, size=(n, 1, 1, 1)) + 0.01 * rng.random(
        (n, size, size, 3)
    )
    x, y = dark.astype("float32"), targets.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="enhanced"),
        ],
        name="enhancer",
    )

    def enhancement_loss(target, output):
        mse = tf.reduce_mean(tf.square(target - output))
        hue_error = tf.reduce_mean(tf.abs(_hue(target) - _hue(output)))
        return mse + 0.1 * hue_error

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), enhancement_loss),
        batches(x, y, size=16),
    )


# ---------------------------------------------------------------------------------------------
# 7. Gauss-rank (RankGauss) scaling without clipping before erfinv
# ---------------------------------------------------------------------------------------------
def rankgauss_features_without_clipping():
    """Tabular MLP on assay features preprocessed with RankGauss (the Porto Seguro / MoA trick):
    each column's ranks are mapped linearly onto [-1, 1] and through erfinv. Without the usual
    clip into (-1 + eps, 1 - eps), the lowest and highest row of every column land on exactly -1
    and 1 and erfinv gives -inf and +inf: the feature batch holds infinities."""
    rng = seeded(1106)
    n, dim = 512, 16
    raw = rng.lognormal(0.0, 1.2, size=(n, dim))
    ranks = raw.argsort(axis=0).argsort(axis=0).astype("float64")
    scaled = ranks / (n - 1) * 2.0 - 1.0
    x = tf.math.erfinv(tf.constant(scaled)).numpy().astype("float32")
    y = (np.log(raw[:, :4]).sum(axis=1, keepdims=True) > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dropout(0.2, name="dropout0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="active_logit"),
        ],
        name="assay_mlp",
    )
    order = rng.permutation(n)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x[order], y[order]),
    )


# ---------------------------------------------------------------------------------------------
# 8. a GARCH(1, 1) filter with unconstrained parameters initialised for returns in percent
# ---------------------------------------------------------------------------------------------
class Garch11(keras.layers.Layer):
    """sigma2_t = omega + alpha r_{t-1}^2 + beta sigma2_{t-1} over a window of returns, with
    omega, alpha and beta free trainable scalars (no positivity constraint)."""

    def build(self, input_shape):
        self.omega = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.05))
        self.alpha = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.1))
        self.beta = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.85))

    def call(self, returns):
        steps = returns.shape[1]
        sigma2 = tf.ones_like(returns[:, 0]) * self.omega / (1.0 - self.alpha - self.beta)
        out = []
        for t in range(steps):
            out.append(sigma2)
            sigma2 = self.omega + self.alpha * tf.square(returns[:, t]) + self.beta * sigma2
        return tf.stack(out, axis=1)


def garch_variance_with_unconstrained_parameters():
    """Volatility model fitted by gradient descent on the Gaussian log-likelihood,
    0.5 (log sigma2_t + r_t^2 / sigma2_t), of a GARCH(1, 1) recursion written as a Keras layer.
    omega, alpha and beta are plain trainable scalars, started at the textbook values for
    returns in percent (omega = 0.05), while the data are daily returns as fractions (~0.01).
    The likelihood pushes omega and beta down hard, Adam carries omega below 0, the filtered
    variance of calm days turns negative and log(sigma2) is NaN (keep the parameters positive:
    softplus / exp)."""
    rng = seeded(1107)
    days, window = 6000, 40
    omega, alpha, beta = 2e-6, 0.08, 0.9
    r = np.zeros(days)
    s2 = omega / (1 - alpha - beta)
    for t in range(days):
        r[t] = np.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    starts = rng.permutation(days - window)[:1024]
    x = np.stack([r[s : s + window] for s in starts]).astype("float32")
    inputs = keras.Input((window,))
    model = keras.Model(inputs, Garch11(name="garch_filter")(inputs), name="garch")

    def garch_nll(model, returns):
        sigma2 = model(returns, training=True)
        return tf.reduce_mean(0.5 * (tf.math.log(sigma2) + tf.square(returns) / sigma2))

    optimizer = keras.optimizers.Adam(1e-2)
    return run_loop(
        _custom_step(model, optimizer, garch_nll),
        [(tf.constant(x[i : i + 32]),) for i in range(0, len(x), 32)] * 2,
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. a Deep & Cross network fed raw count features
# ---------------------------------------------------------------------------------------------
class Cross(keras.layers.Layer):
    """DCN-v2 cross layer: x_{l+1} = x0 * (W x_l + b) + x_l."""

    def build(self, input_shape):
        self.dense = keras.layers.Dense(input_shape[0][-1], name="w")

    def call(self, inputs):
        x0, x = inputs
        return x0 * self.dense(x) + x


def dcn_cross_layers_on_raw_count_features():
    """Click-through model in the Deep & Cross style on Criteo-like data: 13 integer count
    features (impressions, clicks, dwell milliseconds, ...) fed raw, next to an advertiser
    embedding, into six cross layers (the paper's Criteo setting) and a deep tower. The DCN
    paper log-transforms those counts; here they go in as they are, up to ~1e6. Each cross layer
    multiplies by x0 once more, so the cross tower is a degree-7 polynomial of the raw counts and
    its product x0 * (W x + b) passes float32's 3.4e38 in the last cross layer at the first
    step."""
    rng = seeded(1108)
    n, n_dense, advertisers = 512, 13, 50
    scales = np.array([1, 3, 10, 30, 100, 300, 1e3, 3e3, 1e4, 1e5, 1e6, 30, 300])
    counts = np.floor(rng.lognormal(0.0, 1.0, size=(n, n_dense)) * scales)
    advertiser = rng.integers(0, advertisers, size=(n, 1))
    clicked = (rng.random(n) < 1 / (1 + np.exp(-(np.log1p(counts[:, 1]) - 2.0)))).astype("float32")
    dense_in = keras.Input((n_dense,), name="counts")
    cat_in = keras.Input((1,), dtype="int32", name="advertiser")
    emb = keras.layers.Flatten(name="advertiser_flat")(
        keras.layers.Embedding(advertisers, 8, name="advertiser_embedding")(cat_in)
    )
    x0 = keras.layers.Concatenate(name="stack")([dense_in, emb])
    x = x0
    for i in range(6):
        x = Cross(name=f"cross{i}")([x0, x])
    deep = keras.layers.Dense(64, activation="relu", name="deep0")(x0)
    deep = keras.layers.Dense(32, activation="relu", name="deep1")(deep)
    both = keras.layers.Concatenate(name="cross_and_deep")([x, deep])
    logit = keras.layers.Dense(1, name="click_logit")(both)
    model = keras.Model([dense_in, cat_in], logit, name="dcn")

    def ctr_loss(model, counts_batch, advertiser_batch, label):
        logits = model([counts_batch, advertiser_batch], training=True)
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=label, logits=logits[:, 0])
        )

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(counts[i : i + 64].astype("float32")),
            tf.constant(advertiser[i : i + 64].astype("int32")),
            tf.constant(clicked[i : i + 64]),
        )
        for i in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, ctr_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 10. the 'poly' learning-rate policy run past its max_iter
# ---------------------------------------------------------------------------------------------
class PolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """DeepLab's 'poly' policy, base_lr * (1 - iter / max_iter) ** power, written by hand."""

    def __init__(self, base_lr, max_iter, power=0.9):
        self.base_lr, self.max_iter, self.power = base_lr, max_iter, power

    def __call__(self, step):
        progress = tf.cast(step, tf.float32) / self.max_iter
        return self.base_lr * tf.pow(1.0 - progress, self.power)


def poly_lr_schedule_past_max_iter():
    """Defect-segmentation CNN with SGD + momentum and DeepLab's 'poly' schedule
    base_lr (1 - iter / max_iter) ** 0.9, written by hand with max_iter = epochs * (n //
    batch_size). The loader keeps the last partial batch, so an epoch has one step more than
    that: from the step after max_iter on, 1 - iter / max_iter is negative, its 0.9th power is
    NaN, the learning rate is NaN and SGD writes NaN into every weight (Keras' own
    PolynomialDecay clamps the step at decay_steps)."""
    rng = seeded(1109)
    n, size, batch, epochs = 300, 16, 32, 12
    images = rng.normal(0.5, 0.1, size=(n, size, size, 1))
    masks = np.zeros((n, size, size, 1))
    for i in range(n):
        if rng.random() < 0.6:
            y0, x0 = rng.integers(0, size - 4, size=2)
            images[i, y0 : y0 + 4, x0 : x0 + 4] -= 0.3  # a dark scratch
            masks[i, y0 : y0 + 4, x0 : x0 + 4] = 1.0
    x, y = images.astype("float32"), masks.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(1, 1, name="defect_logits"),
        ],
        name="defect_segmenter",
    )
    max_iter = epochs * (n // batch)
    optimizer = keras.optimizers.SGD(PolyDecay(0.01, max_iter), momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.BinaryCrossentropy(from_logits=True)),
        batches(x, y, size=batch, epochs=epochs),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND9_SCENARIOS: list[Scenario] = [
    Scenario(
        "supcon_loss_anchor_without_positive",
        supcon_loss_anchor_without_positive,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"divide_no_nan", "add_epsilon"}),
        story="SupCon loss with a single view per sample on a long-tailed catalogue: an anchor "
        "whose class is alone in the batch has no positive and its mean log-probability over "
        "positives is sum(pos * log_prob) / sum(pos) = 0 / 0; guard the positive count "
        "(https://github.com/HobbitLong/SupContrast/issues/50, "
        "https://github.com/HobbitLong/SupContrast/issues/141, "
        "https://github.com/HobbitLong/SupContrast/pull/142, "
        "https://github.com/HobbitLong/SupContrast/issues/20)",
        blind=True,
    ),
    Scenario(
        "approx_ndcg_loss_on_queries_without_relevant_documents",
        approx_ndcg_loss_on_queries_without_relevant_documents,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"divide_no_nan", "add_epsilon"}),
        story="ApproxNDCG by hand, DCG / ideal DCG per query: a query whose documents are all "
        "irrelevant (a session with no click) has an ideal DCG of 0 and its NDCG is 0 / 0; "
        "divide_no_nan or a filler value for such queries "
        "(https://github.com/allegro/allRank/pull/25, "
        "https://github.com/scikit-learn/scikit-learn/issues/29521, "
        "https://github.com/joaopalotti/trectools/pull/25, "
        "https://github.com/o19s/search-metrics/pull/1)",
        blind=True,
    ),
    Scenario(
        "capsule_squash_of_blank_border_patches",
        capsule_squash_of_blank_border_patches,
        "activation",
        frozenset({"RealDiv"}),
        "capsnet/primary_squash",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="CapsNet squash written as the paper's |s|^2 / (1 + |s|^2) * s / |s| without an "
        "epsilon: primary capsules over the empty black border of the images are exactly 0 "
        "(zero biases) and s / |s| = 0 / 0 in the squash layer; sqrt(|s|^2 + eps) "
        "(https://github.com/ageron/handson-ml/issues/173, "
        "https://github.com/jindongwang/Pytorch-CapsuleNet/issues/7, "
        "https://github.com/jindongwang/Pytorch-CapsuleNet/issues/13, "
        "https://github.com/XifengGuo/CapsNet-Keras/issues/18)",
        blind=True,
    ),
    Scenario(
        "focal_loss_gamma_below_one_on_confident_examples",
        focal_loss_gamma_below_one_on_confident_examples,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon", "clamp_argument"}),
        story="hand-written binary focal loss with gamma = 0.5 on a sigmoid output: once the "
        "model is sure of an example, p_t rounds to exactly 1 and (1 - p_t) ** 0.5 has an "
        "infinite derivative at 0: the loss is finite, the backward pass is 0 x inf = NaN; clip "
        "p into [eps, 1 - eps] (https://github.com/kornia/kornia/issues/918, "
        "https://github.com/fizyr/keras-retinanet/issues/706, "
        "https://github.com/liuyuisanai/Focal-Loss/issues/11, "
        "https://github.com/mkocabas/focal-loss-keras/issues/5, "
        "https://github.com/google-deepmind/optax/issues/1267)",
        blind=True,
    ),
    Scenario(
        "log_mel_with_empty_filters",
        log_mel_with_empty_filters,
        "activation",
        frozenset({"Log"}),
        "kws_cnn/log_mel",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="log-mel front-end inside a keyword-spotting model with 64 mel bands on a "
        "128-point FFT at 8 kHz: the narrow low bands fall between FFT bins, their filters are "
        "all zero ('Empty filters detected in mel frequency basis'), the band energy is exactly "
        "0 and log(0) = -inf; a floor under the log (or fewer bands / a larger FFT) "
        "(https://github.com/librosa/librosa/issues/478, "
        "https://github.com/librosa/librosa/pull/482, "
        "https://github.com/pytorch/audio/pull/914, "
        "https://github.com/jameslyons/python_speech_features/issues/12, "
        "https://github.com/jameslyons/python_speech_features/issues/83)",
        blind=True,
    ),
    Scenario(
        "hsv_hue_loss_on_achromatic_target_pixels",
        hsv_hue_loss_on_achromatic_target_pixels,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="a hue term in an image-enhancement loss, hue by the textbook formula that divides "
        "by max(r, g, b) - min(r, g, b): the white background and black border pixels of the "
        "target are achromatic (r = g = b) and their hue is 0 / 0 in the loss "
        "(https://github.com/pjreddie/darknet/pull/1236, "
        "https://github.com/kornia/kornia/pull/131, "
        "https://github.com/kornia/kornia/issues/932, "
        "https://github.com/g-truc/glm/pull/1454)",
        blind=True,
    ),
    Scenario(
        "rankgauss_features_without_clipping",
        rankgauss_features_without_clipping,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="RankGauss preprocessing, erfinv of the ranks mapped onto [-1, 1], without the "
        "clip into (-1 + eps, 1 - eps): every column's lowest and highest row become -inf and "
        "+inf in the feature batch "
        "(https://github.com/bits-bytes-nn/gauss-rank-scaler/issues/1, "
        "https://github.com/microbiome/mia/pull/766)",
        blind=True,
    ),
    Scenario(
        "garch_variance_with_unconstrained_parameters",
        garch_variance_with_unconstrained_parameters,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset({"clamp_argument"}),
        story="GARCH(1, 1) fitted by Adam on the Gaussian NLL with omega, alpha, beta as free "
        "scalars started at the values for percent returns on fractional returns: omega is "
        "driven below 0, the filtered variance goes negative and log(sigma2) is NaN in the "
        "loss; keep the parameters positive (softplus / exp) "
        "(https://github.com/bashtage/arch/issues/150, "
        "https://github.com/RJT1990/pyflux/issues/44, "
        "https://github.com/FriedmanJP/MacroEconometricModels.jl/issues/567)",
        blind=True,
    ),
    Scenario(
        "dcn_cross_layers_on_raw_count_features",
        dcn_cross_layers_on_raw_count_features,
        "activation",
        frozenset({"Mul"}),
        "dcn/cross5",
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="Deep & Cross network fed Criteo-style integer counts raw (up to ~1e6): each cross "
        "layer x0 * (W x + b) + x multiplies by the raw counts once more and the last cross "
        "layer's product passes float32's range at the first step; log-transform or scale the "
        "counts (https://github.com/shenweichen/DeepCTR/issues/284, "
        "https://github.com/chenxijun1029/DeepFM_with_PyTorch/pull/5, "
        "https://github.com/PaddlePaddle/models/pull/1378)",
        blind=True,
    ),
    Scenario(
        "poly_lr_schedule_past_max_iter",
        poly_lr_schedule_past_max_iter,
        "optimizer_update",
        frozenset({"Pow"}),
        None,
        "domain_error",
        frozenset({"clamp_argument"}),
        story="DeepLab's 'poly' schedule base_lr (1 - iter / max_iter) ** 0.9 by hand, with "
        "max_iter = epochs * (n // batch) while the loader keeps the last partial batch: past "
        "max_iter the base is negative, its 0.9th power NaN, and SGD writes NaN into the "
        "weights; clamp iter at max_iter "
        "(https://github.com/VainF/DeepLabV3Plus-Pytorch/issues/59, "
        "https://github.com/meetps/pytorch-semseg/issues/151, "
        "https://github.com/nathanhubens/Learning-Rate/pull/7)",
        blind=True,
    ),
]
