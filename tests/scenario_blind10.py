"""A tenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` (lines 1-120) / ``scenario_patterns.py`` (the
``_custom_step`` helper), the format of ``scenario_blind9.py``, the taxonomy of the design notes
and the list of names and one-line stories of the existing scenarios), and without running nantrace
on them: each expectation comes from the bug pattern itself (where a careful ML engineer would say
the first non-finite value appears, why, and the first fix to try), written down before any of them
was run. The only thing checked while writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (and at which step), and (with tf.debugging.enable_check_numerics,
plain TF) which op first produces the non-finite value, in a throwaway script outside the
repository that stands in plain-TF versions of the loop helpers and asserts that nantrace was never
imported. Two candidate patterns were dropped before being written into this file, because plain TF
does not go non-finite on them: a MixUp whose Beta(alpha, alpha) mixing weight is the keras.io
ratio of two tf.random.gamma draws, run with alpha = 0 'to switch MixUp off' (TF's gamma sampler
never returns 0, it floors at the smallest normal float32, so the ratio stays 0.5), and a CTC OCR
model whose labels are longer than its downsampled frame axis (TF's dense CTC loss returns a large
finite value, not inf). No expectation was changed by the check. None repeats a pattern on the list
of existing scenarios, though two share a mechanism with one: the SGDR scenario is a learning-rate
schedule that divides by zero (as ``schedule_divides_by_zero`` is, by its name; its story was not
on the list) and the DenseDepth scenario puts a division by zero into the labels (as
``labels_divided_by_zero`` does, for a rate). This set favours situations ordinary Keras users
meet: box regression with an IoU loss, a sequence likelihood taken as a product, per-group
standardization done in pandas, a spectral index inside a remote-sensing CNN, an OKS keypoint loss,
a time-aware LSTM on visit records, SGDR warm restarts written in closed form, DenseDepth's
inverse-depth labels, log returns of min-max-scaled prices and the general adaptive robust loss.
Each story cites the public report(s) the pattern comes from. Layer names are set explicitly only
so the expectations can name them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, mlp, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. UnitBox's -log(IoU) box loss on boxes that do not overlap their target
# ---------------------------------------------------------------------------------------------
def unitbox_iou_loss_of_disjoint_boxes():
    """Single-object localizer (a small CNN predicting centre offsets and log-sizes of one box per
    image, decoded as sigmoid centres and anchor * exp sizes) trained on UnitBox's IoU loss,
    -log(IoU), written by hand. The intersection is clipped at 0 as it must be, so for an image
    whose object lies away from the image centre the predicted box starts disjoint from its
    target: IoU = 0 / union = 0 exactly and -log(0) = inf in the loss (mmdetection clamps the IoU
    at eps before the log)."""
    rng = seeded(1200)
    n, size = 256, 24
    images = 0.05 * rng.random((n, size, size, 1))
    boxes = np.zeros((n, 4))
    for i in range(n):
        w, h = rng.integers(3, 7, size=2)
        y0, x0 = rng.integers(0, size - h), rng.integers(0, size - w)
        images[i, y0 : y0 + h, x0 : x0 + w, 0] = rng.uniform(0.6, 1.0)
        boxes[i] = np.array([x0, y0, x0 + w, y0 + h]) / size
    x, y = images.astype("float32"), boxes.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(32, activation="relu", name="box_hidden"),
            keras.layers.Dense(4, name="box_deltas"),
        ],
        name="box_regressor",
    )
    anchor = 0.2

    def iou_loss(target, deltas):
        centre = tf.sigmoid(deltas[:, :2])
        half = 0.5 * anchor * tf.exp(deltas[:, 2:])
        pred = tf.concat([centre - half, centre + half], axis=1)
        iw = tf.maximum(
            0.0, tf.minimum(pred[:, 2], target[:, 2]) - tf.maximum(pred[:, 0], target[:, 0])
        )
        ih = tf.maximum(
            0.0, tf.minimum(pred[:, 3], target[:, 3]) - tf.maximum(pred[:, 1], target[:, 1])
        )
        intersection = iw * ih
        area_pred = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
        area_target = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
        iou = intersection / (area_pred + area_target - intersection)
        return tf.reduce_mean(-tf.math.log(iou))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), iou_loss),
        batches(x, y, size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 2. a sequence likelihood taken as the product of its token probabilities
# ---------------------------------------------------------------------------------------------
def sequence_likelihood_as_product_of_token_probabilities():
    """Next-token model over product-event logs (an embedding and two causal convolutions with a
    softmax over 120 event types), trained to maximize the likelihood of each whole session,
    written as the textbook product: P(session) = prod_t p(token_t | past), then -log of it. With
    47 predicted tokens at p ~ 1 / 120 each the product is ~1e-98, far below float32's smallest
    number: it underflows to 0 at the first step and log(0) = -inf (the sum of the per-token log
    probabilities, i.e. a cross-entropy from the logits, is the stable form)."""
    rng = seeded(1201)
    n, length, vocab = 384, 48, 120
    tokens = np.zeros((n, length), dtype="int64")
    tokens[:, 0] = rng.integers(0, vocab, size=n)
    for t in range(1, length):
        step = rng.choice([1, 2, 7], size=n, p=[0.6, 0.3, 0.1])
        tokens[:, t] = (tokens[:, t - 1] + step) % vocab
    x, y = tokens[:, :-1].astype("int32"), tokens[:, 1:].astype("int32")
    model = keras.Sequential(
        [
            keras.Input((length - 1,), dtype="int32"),
            keras.layers.Embedding(vocab, 32, name="event_embedding"),
            keras.layers.Conv1D(64, 3, padding="causal", activation="relu", name="causal0"),
            keras.layers.Conv1D(64, 3, padding="causal", activation="relu", name="causal1"),
            keras.layers.Dense(vocab, activation="softmax", name="next_event_probs"),
        ],
        name="session_model",
    )

    def session_nll(target, probs):
        p_true = tf.reduce_sum(probs * tf.one_hot(target, vocab), axis=-1)
        session_prob = tf.reduce_prod(p_true, axis=1)
        return -tf.reduce_mean(tf.math.log(session_prob))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), session_nll),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 3. per-store standardization with pandas' sample std: stores with a single row
# ---------------------------------------------------------------------------------------------
def per_store_standardization_of_single_row_stores():
    """Next-day demand regression for a retail chain on a daily table. The sales lags are
    standardized per store, df.groupby('store')[col].transform(lambda s: (s - s.mean()) /
    s.std()), so that big and small stores are comparable. pandas' std() is the sample std
    (ddof = 1): for the stores opened yesterday, which have one row, it is 0 / 0 = NaN, and so
    are their standardized lags in the feature batch (here written in numpy with pandas'
    semantics)."""
    rng = seeded(1202)
    stores = 90
    rows_per_store = rng.integers(20, 40, size=stores)
    rows_per_store[rng.choice(stores, size=6, replace=False)] = 1  # opened yesterday
    level = rng.lognormal(3.0, 0.8, size=stores)
    feats, targets = [], []
    for s in range(stores):
        m = rows_per_store[s]
        sales = level[s] * rng.lognormal(0.0, 0.3, size=(m, 3))  # lags 1, 7, 28
        promo = (rng.random((m, 1)) < 0.2).astype(float)
        dow = rng.integers(0, 7, size=(m, 1))
        mean = sales.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(((sales - mean) ** 2).sum(axis=0) / (m - 1))  # pandas: ddof = 1
            z = (sales - mean) / std
        calendar = np.concatenate([np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)], 1)
        feats.append(np.concatenate([z, promo, calendar, np.full((m, 2), np.log(level[s]))], 1))
        targets.append(0.5 * z[:, :1] + 0.8 * promo + 0.1 * rng.normal(size=(m, 1)))
    x = np.concatenate(feats).astype("float32")
    y = np.nan_to_num(np.concatenate(targets)).astype("float32")
    order = rng.permutation(len(x))
    model = mlp([64, 32], name="demand_mlp", input_dim=x.shape[1])
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x[order], y[order], size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 4. an NDVI layer inside a crop-type CNN: the no-data border of the satellite swath
# ---------------------------------------------------------------------------------------------
class SpectralIndex(keras.layers.Layer):
    """Appends NDVI = (NIR - red) / (NIR + red) to the bands, as a channel of its own."""

    def call(self, bands):
        red, nir = bands[..., 2:3], bands[..., 3:4]
        return tf.concat([bands, (nir - red) / (nir + red)], axis=-1)


def ndvi_layer_on_nodata_swath_border():
    """Crop-type classifier on 4-band (B, G, R, NIR) Sentinel-2-like tiles with NDVI computed in
    the model by a custom layer. Tiles cut at the edge of the satellite swath carry a no-data
    strip, which the export writes as 0 in every band (the GeoTIFF nodata value): there NIR + red
    = 0 and NDVI is 0 / 0 = NaN inside the model (satpy, SNAP and eo-learn mask or clip these
    pixels)."""
    rng = seeded(1203)
    n, size, classes = 192, 16, 3
    labels = rng.integers(0, classes, size=n)
    vigour = np.array([0.15, 0.35, 0.55])[labels]  # bare soil, grassland, crop
    red = rng.uniform(0.04, 0.08, size=(n, size, size)) * (1.2 - vigour[:, None, None])
    nir = red * (1 + vigour[:, None, None]) / (1 - vigour[:, None, None])
    blue = 0.6 * red + 0.01 * rng.random((n, size, size))
    green = 0.8 * red + 0.02 * rng.random((n, size, size))
    tiles = np.stack([blue, green, red, nir], axis=-1)
    at_edge = rng.random(n) < 0.2
    for i in np.flatnonzero(at_edge):
        tiles[i, :, : rng.integers(2, 6)] = 0.0  # nodata strip
    x = tiles.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 4)),
            SpectralIndex(name="ndvi"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="crop_logits"),
        ],
        name="crop_cnn",
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
# 5. an OKS keypoint loss on instances whose annotated area is 0
# ---------------------------------------------------------------------------------------------
def oks_keypoint_loss_with_zero_area_instances():
    """Single-person keypoint regressor (an MLP from a crop's descriptor to 5 keypoints) trained
    on 1 - OKS, OKS = mean_k exp(-d_k^2 / (2 s^2 kappa_k^2)) with s^2 the instance's annotated
    area, as in COCO's evaluation. Part of the data was annotated with keypoints only, and the
    converter wrote their 'area' as 0: for those instances d^2 / 0 = inf inside the loss. exp(-inf)
    = 0 keeps the loss finite, but the gradient through the division is 0 / 0 = NaN and the head
    is NaN after the update (Ultralytics divides by area + 1e-9)."""
    rng = seeded(1204)
    n, dim, k = 512, 16, 5
    x = rng.normal(size=(n, dim))
    mixing = rng.normal(scale=0.1, size=(dim, 2 * k))
    keypoints = 1.0 / (1.0 + np.exp(-(x @ mixing))) + 0.01 * rng.normal(size=(n, 2 * k))
    keypoints = keypoints.reshape(n, k, 2)
    area = rng.uniform(0.02, 0.2, size=n)
    area[rng.random(n) < 0.05] = 0.0  # keypoint-only annotations
    kappa = 2.0 * np.array([0.026, 0.025, 0.025, 0.035, 0.035], dtype="float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="pose_hidden0"),
            keras.layers.Dense(64, activation="relu", name="pose_hidden1"),
            keras.layers.Dense(2 * k, name="keypoint_head"),
            keras.layers.Reshape((k, 2), name="keypoints"),
        ],
        name="pose_regressor",
    )

    def oks_loss(model, features, target, instance_area):
        pred = model(features, training=True)
        d2 = tf.reduce_sum(tf.square(pred - target), axis=-1)
        e = d2 / (2.0 * instance_area[:, None] * kappa**2)
        oks = tf.reduce_mean(tf.exp(-e), axis=1)
        return tf.reduce_mean(1.0 - oks)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(x[i : i + 32].astype("float32")),
            tf.constant(keypoints[i : i + 32].astype("float32")),
            tf.constant(area[i : i + 32].astype("float32")),
        )
        for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, oks_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 6. a time-aware LSTM's elapsed-time decay fed negative gaps
# ---------------------------------------------------------------------------------------------
class ElapsedTimeDecay(keras.layers.Layer):
    """T-LSTM's decay of the elapsed time, g(dt) = 1 / log(e + dt), applied to the visit."""

    def call(self, inputs):
        visits, elapsed = inputs
        return visits / tf.math.log(math.e + elapsed)


def time_aware_lstm_with_negative_elapsed_times():
    """Readmission model on hospital visit sequences in the style of T-LSTM: each visit's
    features are discounted by g(dt) = 1 / log(e + dt) of the days elapsed since the previous
    visit, then an LSTM reads the sequence. The gaps are computed as timestamp.diff() on the
    export, which lists a patient's visits by record id, not by date: back-dated records
    (late-entered discharge summaries) give negative gaps of days to weeks, e + dt < 0 and the
    log is NaN inside the decay layer (sort by date, or clamp dt at 0)."""
    rng = seeded(1205)
    n, steps, dim = 384, 12, 10
    visits = rng.normal(size=(n, steps, dim))
    gaps = rng.gamma(1.5, 20.0, size=(n, steps, 1)).round()
    back_dated = rng.random((n, steps, 1)) < 0.02
    gaps[back_dated] = -rng.integers(1, 40, size=int(back_dated.sum()))
    gaps[:, 0] = 0.0
    risk = visits[:, -3:, :3].sum(axis=(1, 2)) - 0.01 * gaps[:, -1, 0]
    label = (risk > 0).astype("float32")
    visits_in = keras.Input((steps, dim), name="visits")
    gaps_in = keras.Input((steps, 1), name="elapsed_days")
    decayed = ElapsedTimeDecay(name="elapsed_time_decay")([visits_in, gaps_in])
    state = keras.layers.LSTM(32, name="visit_lstm")(decayed)
    logit = keras.layers.Dense(1, name="readmission_logit")(state)
    model = keras.Model([visits_in, gaps_in], logit, name="tlstm")

    def readmission_loss(model, visit_batch, gap_batch, label_batch):
        logits = model([visit_batch, gap_batch], training=True)[:, 0]
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=label_batch, logits=logits)
        )

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(visits[i : i + 32].astype("float32")),
            tf.constant(gaps[i : i + 32].astype("float32")),
            tf.constant(label[i : i + 32]),
        )
        for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, readmission_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 7. SGDR warm restarts in closed form, with restarts of equal length (t_mul = 1)
# ---------------------------------------------------------------------------------------------
class CosineWarmRestarts(keras.optimizers.schedules.LearningRateSchedule):
    """SGDR by hand, the cycle index in closed form from the geometric series of cycle lengths,
    i = floor(log(1 - t (1 - t_mul)) / log(t_mul)), t in units of the first cycle."""

    def __init__(self, base_lr, first_cycle_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
        self.base_lr, self.first_cycle_steps = base_lr, first_cycle_steps
        self.t_mul, self.m_mul, self.alpha = t_mul, m_mul, alpha

    def __call__(self, step):
        t = tf.cast(step, tf.float32) / self.first_cycle_steps
        t_mul = tf.constant(self.t_mul, tf.float32)
        i = tf.floor(tf.math.log(1.0 - t * (1.0 - t_mul)) / tf.math.log(t_mul))
        start = (1.0 - t_mul**i) / (1.0 - t_mul)
        fraction = (t - start) / t_mul**i
        cosine = 0.5 * self.m_mul**i * (1.0 + tf.cos(math.pi * fraction))
        return self.base_lr * ((1.0 - self.alpha) * cosine + self.alpha)


def sgdr_closed_form_restart_index_with_equal_cycles():
    """Tabular regressor (house features, standardized, log price) trained with SGD + momentum
    under SGDR written by hand from the TF 1.x cosine_decay_restarts formula, which finds the
    current cycle in closed form, log(1 - t (1 - t_mul)) / log(t_mul). The run uses restarts of
    equal length, t_mul = 1 (PyTorch's default T_mult), where that formula is 0 / 0 at every step:
    the learning rate is NaN from step 0 and SGD writes NaN into every weight (Keras' and PyTorch's
    own schedules special-case t_mul == 1)."""
    rng = seeded(1206)
    n, dim = 1024, 8
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim, 1))
    y = (x @ w * 0.3 + 12.0 + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    model = mlp([64, 32], name="price_mlp")
    schedule = CosineWarmRestarts(0.01, first_cycle_steps=32, t_mul=1.0)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(schedule, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 8. DenseDepth's inverse-depth labels on depth maps with holes
# ---------------------------------------------------------------------------------------------
def densedepth_inverse_depth_of_missing_pixels():
    """Monocular depth estimation in the DenseDepth style: the depth labels (centimetres, from a
    structured-light sensor) are turned into DepthNorm(d) = max_depth / d in the data loader, as
    the reference code does. The sensor writes 0 where it got no return (windows, glossy
    furniture, beyond range), so frames with holes get max_depth / 0 = inf in the label batch;
    the L1 depth loss is inf (fill the holes first, or mask them out of the loss)."""
    rng = seeded(1207)
    n, size, max_depth = 160, 16, 1000.0
    depth = np.empty((n, size, size, 1))
    images = np.empty((n, size, size, 3))
    rows = np.linspace(0.0, 1.0, size)[None, :, None, None]
    for i in range(n):
        far = rng.uniform(300.0, 900.0)
        depth[i] = far - (far - 50.0) * rows[0] ** rng.uniform(0.8, 1.5)
        shade = 1.0 - depth[i] / 1000.0
        images[i] = shade * rng.uniform(0.5, 1.0, size=3) + 0.03 * rng.normal(size=(size, size, 3))
    with_hole = rng.random(n) < 0.3
    for i in np.flatnonzero(with_hole):
        y0, x0 = rng.integers(0, size - 4, size=2)
        depth[i, y0 : y0 + 4, x0 : x0 + 4] = 0.0  # no return
    with np.errstate(divide="ignore"):
        labels = (max_depth / depth).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="enc0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="enc1"),
            keras.layers.Conv2D(1, 3, padding="same", name="depth_out"),
        ],
        name="depth_net",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-4), keras.losses.MeanAbsoluteError()),
        batches(images.astype("float32"), labels, size=16),
    )


# ---------------------------------------------------------------------------------------------
# 9. log returns computed inside the model on min-max-scaled prices
# ---------------------------------------------------------------------------------------------
class LogReturns(keras.layers.Layer):
    """log(p_t / p_{t-1}) along a window of prices."""

    def call(self, prices):
        return tf.math.log(prices[:, 1:] / prices[:, :-1])[..., None]


def log_returns_of_min_max_scaled_prices():
    """Daily price forecaster: 30-day windows of closing prices go through a LogReturns layer
    and an LSTM that predicts the next day's log return. The windows were cut from the series
    after the usual MinMaxScaler of the LSTM stock tutorials, fitted on the training period, which
    maps the period's lowest close to exactly 0: every window that holds that day divides by 0
    (p / 0 = inf) or takes log(0 / p) = -inf inside the LogReturns layer (compute returns on the
    raw prices, or scale into a range that stays positive)."""
    rng = seeded(1208)
    days, window = 1500, 30
    log_price = np.log(40.0) + np.cumsum(0.015 * rng.standard_normal(days))
    price = np.exp(log_price)
    scaled = (price - price.min()) / (price.max() - price.min())
    starts = rng.permutation(days - window - 1)
    x = np.stack([scaled[s : s + window] for s in starts]).astype("float32")
    y = np.array([log_price[s + window] - log_price[s + window - 1] for s in starts])
    y = (100.0 * y).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window,)),
            LogReturns(name="log_returns"),
            keras.layers.LSTM(16, name="lstm"),
            keras.layers.Dense(1, name="next_return"),
        ],
        name="price_forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 10. the general adaptive robust loss with its shape parameter started at alpha = 2
# ---------------------------------------------------------------------------------------------
class RobustRegressor(keras.Model):
    """An MLP with the robust loss' shape alpha and log-scale as trainable weights."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.net = mlp([64, 32], name="net", input_dim=8)
        self.alpha = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(2.0), name="alpha"
        )
        self.log_scale = self.add_weight(shape=(), initializer="zeros", name="log_scale")

    def call(self, x, training=False):
        return self.net(x, training=training)


def adaptive_robust_loss_alpha_started_at_two():
    """Sensor-calibration regression with outliers, trained on Barron's general robust loss
    f(x, alpha, c) = |alpha - 2| / alpha * (((x / c)^2 / |alpha - 2| + 1)^(alpha / 2) - 1),
    written from the paper's formula with alpha and c learned, and alpha started at 2 'so that
    training begins as plain L2'. The formula is undefined at alpha = 2 (and 0): (x / c)^2 /
    |alpha - 2| = x^2 / 0 = inf and 0 x inf = NaN in the loss at the first step (the reference
    code nudges alpha away from 0 and 2 with an epsilon)."""
    rng = seeded(1209)
    n = 1024
    x = rng.normal(size=(n, 8)).astype("float32")
    y = x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(n, 1))
    outliers = rng.random(n) < 0.05
    y[outliers] += rng.normal(0.0, 10.0, size=(int(outliers.sum()), 1))
    model = RobustRegressor(name="robust_regressor")
    model.build((None, 8))

    def general_loss(model, features, target):
        residual = target - model(features, training=True)
        alpha, scale = model.alpha, tf.exp(model.log_scale)
        b = tf.abs(alpha - 2.0)
        loss = b / alpha * (tf.pow(tf.square(residual / scale) / b + 1.0, alpha / 2.0) - 1.0)
        return tf.reduce_mean(loss)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, general_loss),
        list(batches(x, y.astype("float32"))),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND10_SCENARIOS: list[Scenario] = [
    Scenario(
        "unitbox_iou_loss_of_disjoint_boxes",
        unitbox_iou_loss_of_disjoint_boxes,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"missing_epsilon", "unstable_loss"}),
        frozenset({"add_epsilon", "clamp_argument"}),
        story="UnitBox's -log(IoU) box loss by hand: a predicted box that does not overlap its "
        "target has a clipped intersection of exactly 0, IoU = 0 and -log(0) = inf in the loss; "
        "clamp the IoU at eps before the log "
        "(https://github.com/zhimingluo/UnitBox_TF/issues/6, "
        "https://github.com/meituan/YOLOv6/issues/481, "
        "https://github.com/meituan/YOLOv6/issues/319, "
        "https://github.com/YunYang1994/tensorflow-yolov3/issues/529)",
        blind=True,
    ),
    Scenario(
        "sequence_likelihood_as_product_of_token_probabilities",
        sequence_likelihood_as_product_of_token_probabilities,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits"}),
        story="a whole sequence's likelihood taken as the product of its token probabilities "
        "and then logged: 47 tokens at p ~ 1 / 120 underflow float32 to 0 and log(0) = -inf; "
        "sum the per-token log-probabilities (cross-entropy from the logits) instead "
        "(https://github.com/githubharald/CTCWordBeamSearch/issues/23, "
        "https://github.com/QuanEstimation/QuanEstimation.jl/pull/140, "
        "https://github.com/deeplearning4j/nd4j/pull/458, "
        "https://github.com/cdipaolo/goml/issues/19)",
        blind=True,
    ),
    Scenario(
        "per_store_standardization_of_single_row_stores",
        per_store_standardization_of_single_row_stores,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="sales lags standardized per store with pandas' groupby std, which is the sample "
        "std (ddof = 1): a store with a single row has std 0 / 0 = NaN and its standardized "
        "features are NaN in the batch "
        "(https://github.com/pandas-dev/pandas/issues/19690, "
        "https://github.com/askap-vast/vast-pipeline/issues/80, "
        "https://github.com/llnl/thicket/issues/231, "
        "https://github.com/pola-rs/polars/issues/5963)",
        blind=True,
    ),
    Scenario(
        "ndvi_layer_on_nodata_swath_border",
        ndvi_layer_on_nodata_swath_border,
        "activation",
        frozenset({"RealDiv"}),
        "crop_cnn/ndvi",
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="NDVI = (NIR - red) / (NIR + red) computed by a layer inside a crop-type CNN: "
        "tiles at the swath edge carry a no-data strip exported as 0 in every band, where NDVI "
        "is 0 / 0 "
        "(https://github.com/pytroll/satpy/pull/3368, "
        "https://github.com/sentinel-hub/eo-learn/issues/227, "
        "https://github.com/senbox-org/snap-engine/pull/94, "
        "https://github.com/digitalearthafrica/deafrica-sandbox-notebooks/pull/323)",
        blind=True,
    ),
    Scenario(
        "oks_keypoint_loss_with_zero_area_instances",
        oks_keypoint_loss_with_zero_area_instances,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="1 - OKS as a keypoint loss, d^2 / (2 area kappa^2) with the annotated area: "
        "keypoint-only annotations were converted with area 0, the division is inf in the loss "
        "and its gradient 0 / 0 (the forward stays finite through exp(-inf) = 0); area + eps "
        "(https://github.com/talmolab/sleap-nn/pull/734, "
        "https://github.com/ultralytics/ultralytics/pull/8970, "
        "https://github.com/TexasInstruments/edgeai-yolov5/issues/10, "
        "https://github.com/cocodataset/cocoapi/issues/447)",
        blind=True,
    ),
    Scenario(
        "time_aware_lstm_with_negative_elapsed_times",
        time_aware_lstm_with_negative_elapsed_times,
        "activation",
        frozenset({"Log"}),
        "tlstm/elapsed_time_decay",
        "domain_error",
        frozenset({"clamp_argument", "clean_input"}),
        story="T-LSTM-style elapsed-time decay 1 / log(e + dt) on visit gaps taken as diff() of "
        "timestamps in record order: back-dated records give negative gaps below -e and the log "
        "of a negative number is NaN in the decay layer; sort by date or clamp dt at 0 "
        "(https://github.com/illidanlab/T-LSTM/issues/8, "
        "https://github.com/riiid/ednet/issues/5, "
        "https://github.com/WenjieDu/PyPOTS/pull/298)",
        blind=True,
    ),
    Scenario(
        "sgdr_closed_form_restart_index_with_equal_cycles",
        sgdr_closed_form_restart_index_with_equal_cycles,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"divide_no_nan", "add_epsilon"}),
        story="SGDR by hand with the closed-form cycle index log(1 - t (1 - t_mul)) / "
        "log(t_mul) of TF 1.x's cosine_decay_restarts, run with equal cycles (t_mul = 1): the "
        "index is 0 / 0 at every step, the learning rate NaN and SGD writes NaN into the "
        "weights; Keras and PyTorch special-case t_mul == 1 "
        "(https://github.com/tensorflow/tensorflow/pull/11749, "
        "https://github.com/pytorch/pytorch/pull/11104, "
        "https://github.com/pytorch/pytorch/pull/6130, "
        "https://github.com/keras-team/keras/pull/15288)",
        blind=True,
    ),
    Scenario(
        "densedepth_inverse_depth_of_missing_pixels",
        densedepth_inverse_depth_of_missing_pixels,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="DenseDepth's DepthNorm, max_depth / depth, applied to sensor depth maps whose "
        "holes (no return) are stored as 0: those pixels are inf in the label batch; fill or "
        "mask the holes first "
        "(https://github.com/ialhashim/DenseDepth/issues/65, "
        "https://github.com/ialhashim/DenseDepth/issues/114, "
        "https://github.com/cytomining/DeepProfiler/issues/298)",
        blind=True,
    ),
    Scenario(
        "log_returns_of_min_max_scaled_prices",
        log_returns_of_min_max_scaled_prices,
        "activation",
        frozenset({"RealDiv", "Log"}),
        "price_forecaster/log_returns",
        "missing_epsilon",
        frozenset({"add_epsilon", "rescale_input"}),
        story="log returns log(p_t / p_{t-1}) taken inside the model on prices min-max scaled "
        "to [0, 1]: the scaler maps the period's lowest close to exactly 0, and every window "
        "holding that day divides by 0 or logs 0 in the LogReturns layer "
        "(https://github.com/jaungiers/LSTM-Neural-Network-for-Time-Series-Prediction/issues/66, "
        "https://github.com/scikit-learn/scikit-learn/issues/27987, "
        "https://github.com/IBM/lale/pull/1104)",
        blind=True,
    ),
    Scenario(
        "adaptive_robust_loss_alpha_started_at_two",
        adaptive_robust_loss_alpha_started_at_two,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Barron's general robust loss written from the paper's formula with a learned "
        "shape alpha started at 2 'to begin as L2': the formula is undefined there, (x / c)^2 / "
        "|alpha - 2| = x^2 / 0 and 0 x inf = NaN in the loss; the reference code keeps alpha "
        "an epsilon away from 0 and 2 "
        "(https://arxiv.org/abs/1701.03077, "
        "https://github.com/jonbarron/robust_loss_pytorch/issues/19, "
        "https://github.com/jonbarron/robust_loss_pytorch/issues/2)",
        blind=True,
    ),
]
