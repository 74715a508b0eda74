"""A thirteenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind12.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears, why,
and the first fix to try), and each was written into this file before that scenario was run
(the first ten before anything was run; six of them were dropped and replaced, see below).
Fix ids are only those of the design notes' taxonomy; where none of them is the first fix a
careful engineer would try, the fix set is left empty, and where none of the taxonomy's cause ids
describes the cause (a CTC target that no alignment of the model's frames can produce) the cause
is left unset (not checked). The only thing checked while writing them is that plain TensorFlow,
unwatched, really goes non-finite on their batches (and at which step), and (with
tf.debugging.enable_check_numerics, plain TF) which op first produces the non-finite value, in a
throwaway script outside the repository that stands in plain-TF versions of the loop helpers and
asserts that nantrace was never imported.
Dropped after the plain-TF check (each written, expectations set, then run; none went
non-finite, so each was removed and replaced by a new pattern whose expectations were again
written before it was run): Keras' keras.losses.CTC on plates with doubled characters (the TF
backend's dense CTC gives a large finite loss, ~300, for a label without a valid alignment; the
replacement is the same pattern through tf.nn.ctc_loss with SparseTensor labels, the CTCLoss op
of the cited CRNN reports); a hand-written entropy-minimization term -sum(p log p) on
unlabelled batches (finite over 640 steps, the entropy settling near 1e-7 without a softmax
entry reaching 0); Keras' mnist_irnn recipe with RMSprop raised to 1e-3 (finite over 64 steps);
a bilinear CNN's signed square root without epsilon (finite over 8 steps: no ReLU channel was
dead on a whole image); Kendall-style multi-task weights learned as raw sigmas (finite over 640
steps); and an evidential head with exp evidence on raw 0-255 pixels (finite over 8 steps: the
evidence logits stayed below exp's overflow).
What the check showed for the ten kept, recorded without changing any field: plain TF goes
non-finite at step 32 (the last batch) for the shifted day-ahead target, step 0 for the float64
raster, step 0 for CTC (loss +inf), step 19 for the negative oil price, step 0 for L2 pooling
(the loss of step 0 is finite, its update leaves NaN weights), step 4 for the large-batch
learning rate (in the plain run the loss of step 4 is still finite and its update leaves
non-finite weights), step 0 for the Gaussian NLL, step 0 for IDW, step 172 for centered RMSprop
(loss finite, the update writes NaN into the weights, the optimizer's slots finite), and step 0
for the log after the Normalization layer (the loss of step 0 prints finite, log 2, because the
ReLU after the NaN features outputs 0, and the update writes NaN into the weights). The first op
check_numerics names: Sub of the MSE (the first op to read the NaN labels) for the shifted
target and for the oil returns; the first Conv2D of the model (the first op to read the -inf
pixels) for the raster; CTCLoss for CTC; SqrtGrad inside l2_pool's backward for L2 pooling;
the Conv2D of conv1 (forward) for the large-batch learning rate; Log in the loss for the
Gaussian NLL; RealDiv (truediv) inside the idw layer for IDW; Log inside log_skewed for the log
after normalization; and for centered RMSprop nothing: with check_numerics on, the 400 steps
stay finite (the trip depends on float32 cancellation noise, which the instrumented graph
changes), so that scenario's trip is sensitive to the exact order of float operations.
Slips: the first version of this file held five of the dropped patterns and was run before
their replacements were written; the evidential one was itself a first replacement, dropped and
replaced by the Gaussian NLL (every replacement's expectations were set before it was run);
the story citations of the log-after-normalization and Gaussian-NLL scenarios are reports of
the same failure (log of a negative scale / variance) rather than of that exact setup.
Considered and rejected before writing anything (no run involved): a haversine loss on
coordinates left in degrees (the haversine term stays inside [0, 1] whatever the units, so it is
no reliable NaN), and mixup with lambda drawn as a ratio of two tf.random.gamma samples (NaN only
for an alpha far below the usual 0.2).
This set favours situations ordinary Keras users meet: a day-ahead target made with a negative
shift that leaves NaN labels in the last windows of the series, a float64 raster whose nodata
value turns into -inf when the patches are cast to float32, a CTC text recognizer whose plates
with doubled characters need more frames than its CNN leaves, log returns of an oil price that
went negative, L2-norm pooling by hand on digits with blank borders, a large-batch recipe's
linearly scaled learning rate used on one machine without warm-up, a Deep-Ensembles Gaussian
NLL whose variance head lost its softplus, inverse-distance weighting inside the model trained
on the stations themselves, centered RMSprop on a full-batch regression of raw prices, and a
log transform placed after the Normalization layer. Each story cites the public report(s) the
pattern comes from. Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. a day-ahead target made with a negative shift: NaN labels in the series' last windows
# ---------------------------------------------------------------------------------------------
def day_ahead_target_shifted_past_the_end_of_the_series():
    """Hourly electricity-load forecaster (a GRU over the last 48 hours) whose label is the load
    24 hours after the window, made the usual way with df['load'].shift(-24). The shift leaves
    NaN in the last 24 rows, the windows are cut over the whole frame without a dropna(), and
    the batches run in time order (no shuffle for a series): the last batch of the epoch holds
    NaN labels before any op runs (drop the rows whose target is NaN)."""
    rng = seeded(1500)
    hours, window, horizon = 24 * 90, 48, 24
    t = np.arange(hours)
    load = (
        600.0
        + 150.0 * np.sin(2 * np.pi * t / 24.0)
        + 60.0 * np.sin(2 * np.pi * t / (24.0 * 7))
        + 20.0 * rng.normal(size=hours)
    )
    load = (load - load.mean()) / load.std()
    target = np.concatenate([load[horizon:], np.full(horizon, np.nan)])
    starts = np.arange(0, hours - window + 1)
    x = np.stack([load[s : s + window] for s in starts])[..., None].astype("float32")
    y = target[starts + window - 1].reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window, 1)),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(1, name="load_ahead"),
        ],
        name="load_forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. a float64 raster's nodata value cast to float32 (-inf) and missed by the nodata mask
# ---------------------------------------------------------------------------------------------
def float64_raster_nodata_cast_to_float32_patches():
    """Runoff regressor on patches of a rainfall raster (a small CNN per 16x16 patch). The raster
    was exported as Float64 with nodata = numpy.finfo(float64).min outside the sensor's swath;
    the statistics are computed on the float64 array, but the patches are cast to float32 for
    training (the nodata value becomes -inf) and the nodata mask, which compares the float32
    patches with the float64 nodata value, matches nothing. The border patches reach the model
    with -inf pixels before any op runs (mask the nodata before the cast, or drop those
    patches)."""
    rng = seeded(1501)
    size, patch = 256, 16
    yy, xx = np.mgrid[0:size, 0:size] / size
    rain = 20.0 + 15.0 * np.sin(3 * np.pi * xx) * np.cos(2 * np.pi * yy)
    rain = rain + 3.0 * rng.normal(size=(size, size))
    nodata = np.finfo(np.float64).min
    outside = yy > 0.85 + 0.25 * xx - 0.2 * xx**2
    raster = np.where(outside, nodata, rain)
    valid = raster != nodata
    mean, std = raster[valid].mean(), raster[valid].std()
    tiles, runoff = [], []
    for r in range(0, size, patch):
        for c in range(0, size, patch):
            block = raster[r : r + patch, c : c + patch]
            ok = block != nodata
            runoff.append(0.3 * np.clip(block[ok] - 18.0, 0.0, None).mean() if ok.any() else 0.0)
            tiles.append(block)
    with np.errstate(over="ignore"):
        tiles = np.stack(tiles).astype("float32")
    tiles = np.where(tiles == nodata, 0.0, (tiles - mean) / std).astype("float32")
    order = rng.permutation(len(tiles))
    x = tiles[order][..., None]
    y = np.asarray(runoff, dtype="float32")[order].reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((patch, patch, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(1, name="runoff"),
        ],
        name="runoff_cnn",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 3. CTC (sparse labels, the CTCLoss op) on plates whose doubled characters need more frames
# ---------------------------------------------------------------------------------------------
def ctc_sparse_labels_with_doubled_characters_beyond_the_frames():
    """Licence-plate reader in the style of the TF CRNN repositories (a CNN whose width is pooled
    into time steps, a bidirectional GRU, per-frame logits) trained with tf.nn.ctc_loss on
    SparseTensor labels, the classic CTC op. Three 2x2 poolings leave 8 frames from the
    64-pixel-wide crops; plates have 5 to 8 characters, and CTC needs a blank between two equal
    neighbours, so a plate like 4 4 7 1 1 9 0 needs 9 frames: no alignment exists ('No valid
    path found'), the label's probability is exactly 0 and its CTC loss is +inf at the first step
    (less width pooling / wider crops, or drop the infeasible labels)."""
    rng = seeded(1512)
    n, height, width, frames, max_len, symbols = 256, 32, 64, 8, 8, 10
    labels = np.zeros((n, max_len), dtype="int32")
    images = 0.1 * rng.random((n, height, width, 1))
    for i in range(n):
        length = rng.integers(5, max_len + 1)
        chars = [int(rng.integers(1, symbols + 1))]
        while len(chars) < length:
            chars.append(chars[-1] if rng.random() < 0.3 else int(rng.integers(1, symbols + 1)))
        labels[i, :length] = chars
        cell = width // length
        for k, ch in enumerate(chars):
            rows = slice(4 + (ch % 5) * 4, 8 + (ch % 5) * 4)
            images[i, rows, k * cell + 1 : (k + 1) * cell - 1, 0] = 0.5 + 0.05 * ch
    images = images.astype("float32")
    inputs = keras.Input((height, width, 1), name="crop")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0")(inputs)
    h = keras.layers.MaxPooling2D(name="pool0")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.MaxPooling2D(name="pool1")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.MaxPooling2D(name="pool2")(h)
    h = keras.layers.Permute((2, 1, 3), name="width_first")(h)
    h = keras.layers.Reshape((frames, (height // 8) * 32), name="frames")(h)
    h = keras.layers.Bidirectional(keras.layers.GRU(32, return_sequences=True), name="bigru")(h)
    logits = keras.layers.Dense(symbols + 1, name="char_logits")(h)
    model = keras.Model(inputs, logits, name="plate_reader")

    def ctc_loss(model, crops, dense_labels):
        out = model(crops, training=True)
        losses = tf.nn.ctc_loss(
            labels=tf.sparse.from_dense(dense_labels),
            logits=out,
            label_length=None,
            logit_length=tf.fill([tf.shape(out)[0]], frames),
            logits_time_major=False,
            blank_index=0,
        )
        return tf.reduce_mean(losses)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (tf.constant(images[i : i + 32]), tf.constant(labels[i : i + 32])) for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, ctc_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 4. log returns of an oil price series that went negative (WTI, 20 April 2020)
# ---------------------------------------------------------------------------------------------
def log_returns_of_an_oil_price_that_went_negative():
    """Next-day return forecaster (an LSTM over 20 days of log returns) for a crude-oil front-month
    series. The log returns are computed in numpy, np.log(p[t] / p[t - 1]), which assumes prices
    are positive; the series includes the WTI contract of 20 April 2020 that settled at -37.63
    dollars, so the ratio is negative on that day and the next and np.log gives NaN (numpy only
    warns). The windows around those days carry NaN features and labels into their batch before
    any op runs (drop or repair those days; a shifted or plain difference for such a series)."""
    rng = seeded(1513)
    days = 1500
    steps = 0.02 * rng.normal(size=days)
    price = 60.0 * np.exp(np.cumsum(steps))
    crash = 1300
    price[crash - 10 : crash] = np.linspace(price[crash - 11], 18.0, 10)
    price[crash] = -37.63
    price[crash + 1 : crash + 6] = [10.0, 13.8, 11.6, 12.5, 14.0]
    with np.errstate(invalid="ignore"):
        returns = np.log(price[1:] / price[:-1])
    window = 20
    starts = np.arange(0, len(returns) - window)
    x = np.stack([returns[s : s + window] for s in starts])[..., None].astype("float32")
    y = returns[starts + window].reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window, 1)),
            keras.layers.LSTM(32, name="lstm"),
            keras.layers.Dense(1, name="next_return"),
        ],
        name="oil_return_forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. L2-norm pooling written sqrt(avg_pool(x^2)) on digits with blank borders
# ---------------------------------------------------------------------------------------------
class L2Pooling2D(keras.layers.Layer):
    """L2-norm pooling (LP pooling with p = 2, as in Sermanet et al. 2012 and the FaceNet
    inception variants), sqrt(mean(x^2)) over 2x2 windows, without an epsilon."""

    def call(self, x):
        return tf.sqrt(tf.nn.avg_pool2d(tf.square(x), 2, 2, "VALID"))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // 2, input_shape[2] // 2, input_shape[3])


def _stroke_digits(rng, n, size=28, classes=10):
    """Digit-like images: each class a stroke at its own angle through the centre, the border of
    the frame blank in every image (as in MNIST)."""
    images = np.zeros((n, size, size, 1), dtype="float32")
    labels = rng.integers(0, classes, size=n)
    centre = (size - 1) / 2.0
    for i in range(n):
        angle = np.pi * labels[i] / classes + 0.1 * rng.normal()
        for s in np.linspace(-7.0, 7.0, 29):
            r = int(round(centre + s * np.sin(angle)))
            c = int(round(centre + s * np.cos(angle)))
            images[i, r : r + 2, c : c + 2, 0] = 1.0
    return images, labels


def l2_pooling_by_hand_on_blank_digit_borders():
    """Digit classifier whose first pooling is L2-norm pooling written sqrt(avg_pool(x^2)) in a
    custom layer after a linear convolution with zero-initialized biases. Over the blank border
    of the digits the convolution's output is exactly 0, so are the pooled squares: the forward
    value sqrt(0) = 0 is fine, but sqrt's derivative at 0 is infinite and times the zero of
    d(x^2)/dx gives NaN in the backward at the first step (sqrt(mean(x^2) + eps))."""
    rng = seeded(1514)
    images, labels = _stroke_digits(rng, 512)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, padding="same", name="conv0"),
            L2Pooling2D(name="l2_pool"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="l2pool_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images, labels.astype("int32"), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. a large-batch recipe's linearly scaled learning rate on one machine, no warm-up
# ---------------------------------------------------------------------------------------------
def large_batch_scaled_learning_rate_without_warmup():
    """Image classifier (a plain CNN without normalization) trained with the hyper-parameters of
    a large-batch recipe: SGD with momentum 0.9 and the linear scaling rule of Goyal et al.,
    0.1 x 8192 / 256 = 3.2, copied into a single-machine run with batches of 64 and without the
    recipe's gradual warm-up. The first updates multiply the kernels' scale, and within a few
    steps the convolutions' and dense layers' outputs overflow float32 (scale the learning rate
    to the batch actually used, 0.1 x 64 / 256, and warm up)."""
    rng = seeded(1505)
    n, classes = 1024, 10
    labels = rng.integers(0, classes, size=n)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    images = 0.3 * rng.normal(size=(n, 32, 32, 3))
    for i in range(n):
        k = labels[i]
        images[i, ..., k % 3] += np.sin((k + 1) * np.pi * xx) * np.cos((k // 3 + 1) * np.pi * yy)
    images = ((images - images.mean()) / images.std()).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="small_convnet",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=3.2, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images, labels.astype("int32"), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 7. a Deep-Ensembles Gaussian NLL whose variance head lost its softplus
# ---------------------------------------------------------------------------------------------
def gaussian_nll_on_a_variance_head_without_softplus():
    """Regression with predictive uncertainty in the style of Deep Ensembles (Lakshminarayanan et
    al. 2017): the network outputs a mean and a variance and is trained on the Gaussian negative
    log-likelihood 0.5 log(var) + (y - mu)^2 / (2 var). The paper passes the variance output
    through softplus (+ 1e-6); the port's variance column is the raw Dense output, about half of
    which is negative at initialization, so log(var) is NaN in the loss at the first step
    (softplus on the variance, or predict the log-variance)."""
    rng = seeded(1516)
    n, dim = 1024, 8
    x = rng.normal(size=(n, dim)).astype("float32")
    noise = 0.2 + 0.5 * np.abs(x[:, 0])
    y = (np.sin(x[:, 1]) + x[:, 2] + noise * rng.normal(size=n)).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(2, name="mean_and_var"),
        ],
        name="ensemble_member",
    )

    def gaussian_nll(target, out):
        mu, var = out[:, :1], out[:, 1:]
        return tf.reduce_mean(0.5 * tf.math.log(var) + tf.square(target - mu) / (2.0 * var))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), gaussian_nll),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 8. inverse-distance weighting inside the model, trained on the stations themselves
# ---------------------------------------------------------------------------------------------
class InverseDistanceWeighting(keras.layers.Layer):
    """IDW interpolation of the day's station readings at a query point, weights 1 / d^2."""

    def __init__(self, stations, **kwargs):
        super().__init__(**kwargs)
        self.stations = tf.constant(stations, dtype="float32")

    def call(self, inputs):
        query, readings = inputs
        d2 = tf.reduce_sum(tf.square(query[:, None, :] - self.stations[None, :, :]), axis=-1)
        weights = 1.0 / d2
        weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)
        return tf.reduce_sum(weights * readings, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)


def idw_layer_trained_on_the_stations_themselves():
    """Daily temperature mapping: a model interpolates the day's station readings at a location
    by inverse-distance weighting inside a custom layer (weights 1 / d^2, normalized) and a small
    MLP corrects the estimate with elevation and season. It is trained on the stations' own
    records, so every training query sits exactly on a station: d^2 = 0 and 1 / 0 = inf inside
    the IDW layer at the first step, then inf / inf = NaN (an epsilon in the distance, or leave
    the query's own station out)."""
    rng = seeded(1507)
    n_stations, days = 60, 120
    stations = rng.random((n_stations, 2)).astype("float32")
    elevation = 1.5 * rng.random(n_stations)
    season = np.sin(2 * np.pi * np.arange(days) / 365.0)
    readings = (
        12.0
        + 10.0 * season[:, None]
        - 6.5 * elevation[None, :]
        + 2.0 * np.sin(3 * stations[None, :, 0])
        + rng.normal(size=(days, n_stations))
    )
    day_idx = np.repeat(np.arange(days), n_stations)
    station_idx = np.tile(np.arange(n_stations), days)
    order = rng.permutation(len(day_idx))
    day_idx, station_idx = day_idx[order], station_idx[order]
    query = stations[station_idx]
    covariates = np.stack([elevation[station_idx], season[day_idx]], axis=1).astype("float32")
    day_readings = readings[day_idx].astype("float32")
    target = readings[day_idx, station_idx].reshape(-1, 1).astype("float32")
    q_in = keras.Input((2,), name="query")
    r_in = keras.Input((n_stations,), name="readings")
    c_in = keras.Input((2,), name="covariates")
    estimate = InverseDistanceWeighting(stations, name="idw")([q_in, r_in])
    h = keras.layers.Concatenate(name="concat")([estimate, c_in])
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    correction = keras.layers.Dense(1, name="correction")(h)
    out = keras.layers.Add(name="temperature")([estimate, correction])
    model = keras.Model([q_in, r_in, c_in], out, name="station_idw")
    mse = keras.losses.MeanSquaredError()

    def idw_loss(model, q, r, c, y):
        return mse(y, model([q, r, c], training=True))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(query[i : i + 64]),
            tf.constant(day_readings[i : i + 64]),
            tf.constant(covariates[i : i + 64]),
            tf.constant(target[i : i + 64]),
        )
        for i in range(0, 1024, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, idw_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 9. centered RMSprop on a full-batch regression of raw prices
# ---------------------------------------------------------------------------------------------
def centered_rmsprop_on_a_full_batch_raw_price_regression():
    """House-price regression on a small table (400 rows, standardized features) trained full
    batch, one batch per epoch, with the price left in dollars, and RMSprop(centered=True) as in
    the DQN recipe. Centered RMSprop divides by sqrt(E[g^2] - E[g]^2 + eps); with full-batch
    gradients of ~1e5 that barely change from step to step, the true variance vanishes and the
    difference of the two moving averages is float32 cancellation noise of order 1e-7 * g^2,
    far larger than eps, and negative half the time: sqrt of a negative number inside the
    optimizer's update writes NaN into the weights from finite gradients (scale the target so
    the gradients are of order 1; or the uncentered RMSprop)."""
    rng = seeded(1508)
    n, dim = 400, 8
    x = rng.normal(size=(n, dim)).astype("float32")
    price = 250_000.0 + x @ rng.uniform(5_000.0, 30_000.0, size=dim) + 8_000.0 * rng.normal(size=n)
    y = price.reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="price"),
        ],
        name="price_regressor",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.RMSprop(learning_rate=1e-3, centered=True),
            keras.losses.MeanSquaredError(),
        ),
        batches(x, y, size=n, epochs=400),
    )


# ---------------------------------------------------------------------------------------------
# 10. a log transform placed after the Normalization layer
# ---------------------------------------------------------------------------------------------
class LogTransform(keras.layers.Layer):
    """A log transform for right-skewed features, meant to run on the raw amounts."""

    def call(self, x):
        return tf.math.log(x)


def log_transform_after_the_normalization_layer():
    """Loan-default classifier on right-skewed amounts (income, loan amount, balance, ...) whose
    preprocessing lives in the model, Keras-tutorial style: an adapted Normalization layer and
    then a custom log transform 'for the skew'. The order is swapped: the log runs on the
    standardized features, about half of which are negative, and log of a negative number is
    NaN inside the log layer at the first forward pass (take the log of the raw amounts, then
    standardize)."""
    rng = seeded(1519)
    n, dim = 2048, 6
    amounts = rng.lognormal(mean=rng.uniform(6.0, 11.0, size=dim), sigma=1.0, size=(n, dim))
    logit = (np.log(amounts) - np.log(amounts).mean(0)) @ rng.normal(size=dim) / 2.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    x = amounts.astype("float32")
    norm = keras.layers.Normalization(name="standardize")
    norm.adapt(x)
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            norm,
            LogTransform(name="log_skewed"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="default_logit"),
        ],
        name="default_model",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND13_SCENARIOS: list[Scenario] = [
    Scenario(
        "day_ahead_target_shifted_past_the_end_of_the_series",
        day_ahead_target_shifted_past_the_end_of_the_series,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a day-ahead label made with df['load'].shift(-24): the last 24 rows are NaN, the "
        "windows are cut without dropna() and the series is batched in time order, so the last "
        "batch holds NaN labels; drop the rows whose target is NaN "
        "(https://machinelearningmastery.com/convert-time-series-supervised-learning-problem-python/, "
        "https://github.com/timothyyu/python-practice, "
        "https://techutils.in/blog/2018/09/26/stackbounty-python-machine-learning-keras-deep-learning-forecasting-how-to-handle-shift-in-forecasted-value/)",
        blind=True,
    ),
    Scenario(
        "float64_raster_nodata_cast_to_float32_patches",
        float64_raster_nodata_cast_to_float32_patches,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a Float64 raster with nodata = finfo(float64).min cast to float32 for training: "
        "the nodata pixels become -inf and the mask compared with the float64 nodata value "
        "matches none of them, so border patches carry -inf; mask before the cast or drop them "
        "(https://github.com/natcap/invest/issues/76, "
        "https://github.com/natcap/invest/pull/343, "
        "https://github.com/csiro-hydrogeology/pyela/issues/2)",
        blind=True,
    ),
    Scenario(
        "ctc_sparse_labels_with_doubled_characters_beyond_the_frames",
        ctc_sparse_labels_with_doubled_characters_beyond_the_frames,
        "loss",
        frozenset(),
        None,
        None,
        frozenset(),
        story="tf.nn.ctc_loss with SparseTensor labels on a CRNN that pools 64-pixel crops "
        "into 8 frames: plates of 7-8 characters with doubled characters need a blank between "
        "the repeats and more frames than exist ('No valid path found'), so the CTC loss is +inf "
        "(https://github.com/MaybeShewill-CV/CRNN_Tensorflow/issues/122, "
        "https://github.com/FLming/CRNN.tf2/issues/2, "
        "https://github.com/open-mmlab/mmocr/issues/149, "
        "https://github.com/nl8590687/ASRT_SpeechRecognition/issues/173)",
        blind=True,
    ),
    Scenario(
        "log_returns_of_an_oil_price_that_went_negative",
        log_returns_of_an_oil_price_that_went_negative,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="log returns np.log(p[t] / p[t-1]) of a crude-oil series that includes WTI's "
        "-37.63 settlement of 20 April 2020: the ratio is negative, numpy's log gives NaN with "
        "a warning, and the windows around that day carry NaN features and labels; drop or "
        "repair those days "
        "(https://github.com/greyblake/ta-rs/pull/61, "
        "https://github.com/cmdty/storage/issues/17, "
        "https://github.com/humanponcho/Vanguard-ETF-Portfolio-Simulator/issues/15)",
        blind=True,
    ),
    Scenario(
        "l2_pooling_by_hand_on_blank_digit_borders",
        l2_pooling_by_hand_on_blank_digit_borders,
        "gradient",
        frozenset(),
        "l2pool_cnn/l2_pool",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="L2-norm pooling sqrt(avg_pool(x^2)) by hand after a linear convolution on digits "
        "with blank borders: the pooled squares are exactly 0 there and sqrt's infinite "
        "derivative at 0 makes the backward NaN; sqrt(mean(x^2) + eps) "
        "(https://github.com/davidsandberg/facenet/issues/5, "
        "https://github.com/pytorch/pytorch/issues/6765, "
        "https://github.com/pytorch/pytorch/pull/6766, "
        "https://github.com/torch/DEPRECEATED-torch7-distro/issues/62)",
        blind=True,
    ),
    Scenario(
        "large_batch_scaled_learning_rate_without_warmup",
        large_batch_scaled_learning_rate_without_warmup,
        "matmul_overflow",
        frozenset(),
        None,
        "learning_rate_too_high",
        frozenset({"lower_learning_rate"}),
        story="SGD momentum 0.9 with a large-batch recipe's linearly scaled rate, 0.1 x 8192 / "
        "256 = 3.2, used with batches of 64 and no warm-up on a plain CNN: the kernels blow up "
        "and the layer outputs overflow within a few steps; scale the rate to the batch used "
        "(https://github.com/open-mmlab/mmdetection/issues/1710, "
        "https://github.com/huggingface/pytorch-image-models/issues/814, "
        "https://github.com/mlcommons/training/issues/94, "
        "https://arxiv.org/abs/1706.02677)",
        blind=True,
    ),
    Scenario(
        "gaussian_nll_on_a_variance_head_without_softplus",
        gaussian_nll_on_a_variance_head_without_softplus,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="a Deep-Ensembles Gaussian NLL 0.5 log(var) + (y - mu)^2 / (2 var) whose variance "
        "column is the raw Dense output (the paper's softplus left out): about half of it is "
        "negative at initialization and log(var) is NaN in the loss; softplus the variance or "
        "predict its log "
        "(https://arxiv.org/abs/1612.01474, "
        "https://github.com/mattpoggi/mono-uncertainty/issues/13, "
        "https://github.com/ShellingFord221/My-implementation-of-What-Uncertainties-Do-We-Need-in-Bayesian-Deep-Learning-for-Computer-Vision/issues/2)",
        blind=True,
    ),
    Scenario(
        "idw_layer_trained_on_the_stations_themselves",
        idw_layer_trained_on_the_stations_themselves,
        "activation",
        frozenset({"RealDiv"}),
        "station_idw/idw",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="inverse-distance weighting 1 / d^2 of station readings inside a custom layer, "
        "trained on the stations' own records: every query sits on a station, d^2 = 0 and the "
        "weight is 1 / 0 = inf inside the layer; an epsilon in the distance (or leave the "
        "station out) "
        "(https://github.com/locationtech/geotrellis/pull/1454, "
        "https://github.com/Fusion4Energy/F4Enix/pull/205, "
        "https://github.com/GispoCoding/eis_toolkit/pull/471)",
        blind=True,
    ),
    Scenario(
        "centered_rmsprop_on_a_full_batch_raw_price_regression",
        centered_rmsprop_on_a_full_batch_raw_price_regression,
        "optimizer_update",
        frozenset({"Sqrt"}),
        None,
        frozenset({"domain_error", "unscaled_input"}),
        frozenset({"rescale_input"}),
        story="RMSprop(centered=True) on a full-batch regression of prices in dollars: the "
        "gradients are ~1e5 and nearly constant, E[g^2] - E[g]^2 is cancellation noise far "
        "above eps and goes negative, and sqrt of it writes NaN into the weights; scale the "
        "target "
        "(https://github.com/apache/mxnet/pull/6235, "
        "https://github.com/CanReader/FastNN/issues/12, "
        "https://github.com/google/flax/pull/662)",
        blind=True,
    ),
    Scenario(
        "log_transform_after_the_normalization_layer",
        log_transform_after_the_normalization_layer,
        "activation",
        frozenset({"Log"}),
        "default_model/log_skewed",
        "domain_error",
        frozenset(),
        story="an in-model log transform for skewed amounts placed after the adapted "
        "Normalization layer instead of before it: about half the standardized values are "
        "negative and log is NaN inside the log layer at the first forward pass; log the raw "
        "amounts, then standardize "
        "(https://github.com/mattpoggi/mono-uncertainty/issues/13, "
        "https://github.com/pytorch/pytorch/issues/1416, "
        "https://www.tensorflow.org/tutorials/structured_data/preprocessing_layers)",
        blind=True,
    ),
]
