"""An eighteenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind17.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (Q&A threads,
library docs, tutorials); each story cites them. This set favours what ordinary practitioners
hit: data loading and preprocessing (brain MRI slices, pitch contours, one-hot columns),
activations and Keras losses used wrongly, hand-written losses, a custom layer, a regularizer
and mixed precision. Fix ids are only those of the design notes' taxonomy; where none of them is
the first fix a careful engineer would try (swap the loss's arguments back; convert the degrees
to radians), the fix set is left empty.

While choosing the patterns, and before writing, one grep of the installed Keras (3.15.1)
sources was run: ``Layer.__call__`` computes an activity regularizer's penalty on the layer's
output in the output's dtype and divides it by the batch size, and ``L1.__call__`` is
``l1 * ops.sum(ops.absolute(x))`` in that dtype (so the regularizer scenario below leaves it to
Keras); it touched neither nantrace nor this file. pandas and librosa are not installed here,
so the reindex scenario reproduces ``pd.get_dummies`` / ``DataFrame.reindex`` with numpy
(columns absent from the frame come back all-NaN, as pandas does without ``fill_value``) and the
pitch scenario writes the contours as ``librosa.pyin`` returns them (``fill_na=np.nan`` on
unvoiced frames).

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights and optimizer variables, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, prints from inside each
compiled step whether its gradients are finite, and asserts that nantrace was never imported.
No expectation field (kind, op types, layer, cause, fixes) was changed after that check, and no
pattern was dropped; two constructions were changed, as told below. What the check showed,
recorded without changing any field, all at step 0: the one-unit softmax (loss NaN, gradients
NaN, then every weight and Adam slot; first op the Log of 1 - p, -inf), the swapped loss
arguments (loss inf, gradients NaN; first op the Log of the one-hot labels, -inf), the MRI
slices (the batch holds all-NaN slices; the compiled loss is finite, 0.696, while the gradients
are not and the weights and Adam slots become NaN; first op conv0's Conv2D on the NaN slices),
the pitch contours (loss NaN; first op the GRU cell's input MatMul inside the RNN's while
body), the reindexed one-hot columns (the compiled loss is finite, 0.694, the gradients are not,
the weights become NaN; first op hidden0's MatMul), NT-Xent (loss NaN; first op the Exp, +inf),
GloVe and the haversine after the changes below (loss NaN; first ops the Log, -inf, and the
Sqrt, NaN), RevIN (the compiled loss is finite, 159.3, the gradients are NaN and so are the
weights after the update; first op the RealDiv inside revin_norm) and the activity regularizer
(loss inf, but the gradients, weights and Adam slots stay finite, the penalty's gradient
l1 * sign(x) / batch being finite; first op enc0's Sum, +inf).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): the haversine loss first took sin / cos of every angle in degrees
and stayed finite for all 32 steps: whatever the unit, as long as all angles share it,
a = sin^2(dlat / 2) + cos(lat1) cos(lat2) sin^2(dlon / 2) equals (1 - u . v) / 2 for two unit
vectors u, v and stays in [0, 1] (the distances are wrong, not NaN); the loss now converts the
differences to radians but leaves the latitudes inside the cosines in degrees, the other form
of the slip, where that identity no longer holds, and the output bias starts at the mean
position (48 N 10 E), so that the latitude differences are a few degrees. GloVe first trained
with Keras' Adagrad, as the reference code does, and the first step raised an
InvalidArgumentError instead of writing NaN: Keras' sparse (IndexedSlices) Adagrad update
gathers out of range when the embedding gradients are NaN (a two-line probe outside the
repository showed Adagrad raising and Adam / SGD not); it now trains with Adam(0.01).
Slips: the haversine scenario's first construction rested on a belief (degrees make the
haversine leave its domain) that the formula's own identity rules out (found by the check).
Caveats a reader should know: three scenarios are input_data with clean_input, the taxonomy's
data fix, while the first fix an engineer makes is in the loader (nan_to_num / nanmean,
fill the unvoiced frames, reindex with fill_value=0); two are unstable_loss for a log in a
hand-written loss whose zero comes from a misuse (a softmax over one unit, swapped arguments),
the second with no fix id since none of them is 'swap the arguments'; GloVe is given
missing_epsilon with add_epsilon and clean_input (drop the zero pairs, as the paper's
sparse formulation does); the activity regularizer's overflow is placed in the loss (the
penalty is a term of the loss) while its op runs under enc0's name scope, so the layer names
enc0; no learning-rate, optimizer-setting, initializer or recurrent-explosion pattern is in
this set (the existing scenarios cover those closely; the pitch scenario's model is a GRU).

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
    mlp,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


def _shuffled(rng, *arrays):
    order = rng.permutation(len(arrays[0]))
    return tuple(a[order] for a in arrays)


# ---------------------------------------------------------------------------------------------
# 1. a one-unit softmax output layer for a binary label, with a hand-written cross-entropy
# ---------------------------------------------------------------------------------------------
def single_unit_softmax_head_with_a_hand_written_binary_cross_entropy():
    """Churn classifier (an MLP on 12 standardized account features) whose output layer is
    Dense(1, activation='softmax'), the multi-class recipe copied onto a binary label, trained
    with the binary cross-entropy written by hand, -mean(y log p + (1 - y) log(1 - p)). A
    softmax over a single unit is exp(z - z) / exp(z - z) = exactly 1.0 for every row, whatever
    the weights: log(p) is 0 but 1 - p is exactly 0 and log(1 - p) = -inf in the loss at the
    first step, and for y = 1 rows (1 - y) * -inf = 0 * -inf = NaN (a sigmoid head, or better
    a linear head with the cross-entropy from logits)."""
    rng = seeded(1800)
    n, dim = 2048, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    logit = x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] - 0.3
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    model = mlp([32, 16], name="churn_mlp", input_dim=dim, out=1, out_activation="softmax")

    def binary_cross_entropy(y_true, p):
        return -tf.reduce_mean(y_true * tf.math.log(p) + (1.0 - y_true) * tf.math.log(1.0 - p))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), binary_cross_entropy),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. a custom loss written with its arguments in the order (y_pred, y_true)
# ---------------------------------------------------------------------------------------------
def custom_loss_defined_with_y_pred_before_y_true():
    """Support-ticket router (an MLP over 16 text-statistics features, 5 queues, a softmax
    output) trained with a class-weighted categorical cross-entropy written by hand as
    ``def weighted_cce(y_pred, y_true)``, the argument order of the tutorial it was copied from,
    while Keras and the training loop call every loss as loss(y_true, y_pred). The one-hot
    labels land in the ``y_pred`` slot and go through the log: log(0) = -inf for every class
    but the true one, multiplied by the softmax probabilities (never 0) it stays -inf and the
    loss is +inf at the first step, its gradient NaN (swap the arguments back)."""
    rng = seeded(1801)
    n, dim, classes = 3072, 16, 5
    centres = rng.normal(scale=1.2, size=(classes, dim))
    labels = rng.choice(classes, size=n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    y = np.eye(classes, dtype="float32")[labels]
    counts = np.bincount(labels, minlength=classes)
    class_weights = tf.constant((n / (classes * counts)).astype("float32"))
    model = mlp(
        [64, 32], name="ticket_router", input_dim=dim, out=classes, out_activation="softmax"
    )

    def weighted_cce(y_pred, y_true):
        return tf.reduce_mean(-tf.reduce_sum(class_weights * y_true * tf.math.log(y_pred), axis=-1))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), weighted_cce),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 3. brain MRI slices whose background is NaN (SPM / FSL output), z-scored with mean() / std()
# ---------------------------------------------------------------------------------------------
def _brain_slices(rng, n, side, atrophy, nan_background):
    """Axial slices: an elliptic brain with a radial intensity gradient and dark ventricles
    whose size grows with ``atrophy``; outside the brain 0, or NaN where ``nan_background``."""
    yy, xx = np.mgrid[:side, :side].astype("float64")
    centre = (side - 1) / 2.0
    slices = np.empty((n, side, side))
    for i in range(n):
        ry, rx = rng.uniform(0.36, 0.45, size=2) * side
        cy, cx = centre + rng.normal(0.0, 0.6, size=2)
        radius2 = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        brain = radius2 <= 1.0
        vent = (0.07 + 0.08 * atrophy[i]) * side
        ventricles = ((yy - cy) / (1.4 * vent)) ** 2 + ((xx - cx) / vent) ** 2 <= 1.0
        image = 0.55 + 0.25 * radius2 + 0.05 * rng.normal(size=(side, side))
        image[ventricles] = 0.15 + 0.03 * rng.normal(size=int(ventricles.sum()))
        image[~brain] = np.nan if nan_background[i] else 0.0
        slices[i] = image
    return slices


def mri_slices_with_nan_background_zscored_per_scan():
    """Dementia classifier (a small CNN on 32 x 32 axial brain slices, AD vs control, binary
    cross-entropy from logits) on scans pooled from two sites. One site's volumes went through
    SPM normalization and masking, which writes NaN outside the brain instead of 0 (the NIfTI
    files open fine in a viewer); the loader z-scores each scan with (v - v.mean()) / v.std(),
    and numpy's mean of a slice with any NaN voxel is NaN: every slice of that site becomes
    NaN in every pixel. About 30 % of the shuffled samples are all-NaN images, so the batches
    hold NaN before any op runs (np.nan_to_num on load, or z-score within the brain mask with
    nanmean / nanstd)."""
    rng = seeded(1802)
    n, side = 768, 32
    atrophy = rng.random(n)
    labels = (atrophy + 0.15 * rng.normal(size=n) > 0.5).astype("float32").reshape(-1, 1)
    site_b = rng.random(n) < 0.3
    slices = _brain_slices(rng, n, side, atrophy, site_b)
    with np.errstate(invalid="ignore"):
        means = slices.mean(axis=(1, 2), keepdims=True)
        stds = slices.std(axis=(1, 2), keepdims=True)
        images = ((slices - means) / stds).astype("float32")[..., None]
    model = keras.Sequential(
        [
            keras.Input((side, side, 1)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(1, name="ad_logit"),
        ],
        name="mri_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(images, labels, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 4. pitch contours from librosa.pyin, whose unvoiced frames are NaN, into a GRU
# ---------------------------------------------------------------------------------------------
def pitch_contours_from_pyin_with_nan_on_unvoiced_frames():
    """Speaker-group classifier (a GRU over 64 frames of prosodic features: pitch in octaves
    relative to 100 Hz, voicing probability, log energy) whose pitch track comes from
    librosa.pyin, which by default (fill_na=np.nan) returns NaN for every unvoiced frame:
    pauses, plosives and fricatives. The feature code takes np.log2(f0 / 100) as it would of a
    number, and NaN stays NaN; every clip has unvoiced frames, so every sequence of every
    batch carries NaN in its pitch column before any op runs (use the voiced flag to fill the
    gaps: fill_na=0 / interpolation plus a mask)."""
    rng = seeded(1803)
    n, frames, classes = 1024, 64, 4
    labels = rng.integers(0, classes, size=n)
    base = np.array([105.0, 130.0, 190.0, 235.0])[labels] * rng.uniform(0.92, 1.08, size=n)
    t = np.arange(frames) / 86.0
    vibrato = np.sin(2 * np.pi * rng.uniform(2.0, 5.0, size=(n, 1)) * t + rng.uniform(0, 6, (n, 1)))
    f0 = base[:, None] * (1.0 + 0.06 * vibrato) * (1.0 + 0.01 * rng.normal(size=(n, frames)))
    centres = rng.uniform(0.0, frames, size=(n, 3))
    widths = rng.uniform(4.0, 9.0, size=(n, 3))
    frame_index = np.arange(frames)[None, :, None]
    envelope = np.exp(-0.5 * ((frame_index - centres[:, None, :]) / widths[:, None, :]) ** 2)
    envelope = envelope.max(axis=-1)
    voiced = envelope > 0.35
    f0[~voiced] = np.nan
    voiced_prob = np.where(
        voiced, rng.uniform(0.6, 1.0, (n, frames)), rng.uniform(0.0, 0.3, (n, frames))
    )
    rms = envelope * rng.uniform(0.05, 0.3, size=(n, 1)) + 1e-4
    x = np.stack([np.log2(f0 / 100.0), voiced_prob, np.log(rms) / 5.0], axis=-1).astype("float32")
    y = labels.astype("int32")
    model = keras.Sequential(
        [
            keras.Input((frames, 3)),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(classes, name="group_logits"),
        ],
        name="prosody_gru",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 5. a month's one-hot columns aligned with DataFrame.reindex(columns=...) without fill_value=0
# ---------------------------------------------------------------------------------------------
def _get_dummies(codes, names, prefix):
    """pd.get_dummies of one column: a 0 / 1 column per category present, in sorted order."""
    present = sorted({int(c) for c in codes}, key=lambda c: names[c])
    columns = [f"{prefix}_{names[c]}" for c in present]
    values = (codes[:, None] == np.array(present)[None, :]).astype("float64")
    return columns, values


def _reindex(values, columns, target_columns):
    """DataFrame.reindex(columns=target_columns) without fill_value: a column the frame lacks
    comes back all-NaN."""
    position = {c: i for i, c in enumerate(columns)}
    out = np.full((values.shape[0], len(target_columns)), np.nan)
    for j, column in enumerate(target_columns):
        if column in position:
            out[:, j] = values[:, position[column]]
    return out


def one_hot_columns_aligned_with_reindex_without_fill_value():
    """Conversion model (an MLP, binary cross-entropy from logits) retrained each month on the
    sessions so far: three standardized numeric columns plus the sales channel and the device
    one-hot encoded with pd.get_dummies. January's dummies fix the column list; February's
    file is encoded on its own and aligned with df.reindex(columns=train_columns), the usual
    recipe, but without fill_value=0. Two channels (fax, kiosk) were retired in February and
    the legacy tablet app has no session there, so those three columns are NaN (not 0) in
    every February row; the months are concatenated and shuffled, and the batches hold NaN
    before any op runs (reindex with fill_value=0, or encode with a fitted OneHotEncoder)."""
    rng = seeded(1804)
    channels = np.array(["web", "app", "phone", "partner", "fax", "kiosk"])
    devices = np.array(["desktop", "mobile", "tablet_legacy", "tablet"])
    months = []
    for n, p_channel, p_device in (
        (2048, [0.4, 0.3, 0.12, 0.1, 0.03, 0.05], [0.4, 0.4, 0.05, 0.15]),
        (2048, [0.45, 0.33, 0.12, 0.1, 0.0, 0.0], [0.42, 0.43, 0.0, 0.15]),
    ):
        numeric = rng.normal(size=(n, 3))
        channel = rng.choice(len(channels), size=n, p=p_channel)
        device = rng.choice(len(devices), size=n, p=p_device)
        logit = (
            0.9 * numeric[:, 0] - 0.5 * numeric[:, 1] + 0.4 * (channel == 1) - 0.6 * (device == 1)
        )
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32")
        channel_columns, channel_values = _get_dummies(channel, channels, "channel")
        device_columns, device_values = _get_dummies(device, devices, "device")
        columns = ["basket", "minutes", "pages", *channel_columns, *device_columns]
        months.append((columns, np.hstack([numeric, channel_values, device_values]), y))
    train_columns = months[0][0]
    x = np.vstack([_reindex(values, columns, train_columns) for columns, values, _ in months])
    y = np.concatenate([month[2] for month in months]).reshape(-1, 1)
    x, y = _shuffled(rng, x.astype("float32"), y)
    model = mlp([32, 16], name="conversion_mlp", input_dim=x.shape[1])
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. SimCLR's NT-Xent written by hand with exp(sim / 0.07) on a float16 projection head
# ---------------------------------------------------------------------------------------------
def nt_xent_by_hand_under_mixed_float16():
    """Self-supervised pretraining of a sensor-window encoder (an MLP on 64-sample windows; two
    views per window by random scaling / shifting plus jitter) with SimCLR's NT-Xent loss
    written from the paper: cosine similarities of the L2-normalized projections divided by
    tau = 0.07, exp of them, the positive's exp over the sum of the others', -log. The model
    runs under mixed_float16 and its projection head is left in the policy's float16, so the
    loss is computed in float16: a self-similarity of 1 gives exp(1 / 0.07) = exp(14.3) =
    1.6e6, far past float16's 65504 (exp overflows it for x > 11.09), so Exp is inf in the
    loss at the first step, and inf / inf = NaN follows (keep the head / the loss in float32,
    or use the log-softmax form of a library cross-entropy from logits)."""

    def build():
        rng = seeded(1805)
        n, length, temperature = 1024, 64, 0.07
        t = np.linspace(0.0, 1.0, length)
        freq = rng.uniform(1.0, 8.0, size=(n, 2))
        phase = rng.uniform(0.0, 2 * np.pi, size=(n, 2))
        amp = rng.uniform(0.3, 1.0, size=(n, 2))
        signal = np.sum(
            amp[:, None, :]
            * np.sin(2 * np.pi * freq[:, None, :] * t[None, :, None] + phase[:, None, :]),
            axis=-1,
        )
        signal = (signal - signal.mean(axis=1, keepdims=True)) / signal.std(axis=1, keepdims=True)
        view_a = signal * rng.uniform(0.8, 1.2, size=(n, 1)) + 0.05 * rng.normal(size=(n, length))
        shifts = rng.integers(-4, 5, size=n)
        view_b = np.stack([np.roll(s, k) for s, k in zip(signal, shifts, strict=True)])
        view_b = view_b + 0.05 * rng.normal(size=(n, length))
        view_a, view_b = view_a.astype("float32"), view_b.astype("float32")
        model = keras.Sequential(
            [
                keras.Input((length,)),
                keras.layers.Dense(128, activation="relu", name="encoder0"),
                keras.layers.Dense(64, activation="relu", name="encoder1"),
                keras.layers.Dense(32, name="projection"),
            ],
            name="simclr_encoder",
        )

        def nt_xent(model, a, b):
            z = model(tf.concat([a, b], axis=0), training=True)
            z = tf.math.l2_normalize(z, axis=1)
            sim = tf.matmul(z, z, transpose_b=True) / temperature
            exp_sim = tf.exp(sim)
            size = tf.shape(a)[0]
            not_self = 1.0 - tf.eye(2 * size, dtype=sim.dtype)
            denominator = tf.reduce_sum(exp_sim * not_self, axis=1)
            positives = tf.concat(
                [tf.linalg.diag_part(sim[:size, size:]), tf.linalg.diag_part(sim[size:, :size])],
                axis=0,
            )
            return -tf.reduce_mean(tf.math.log(tf.exp(positives) / denominator))

        optimizer = keras.optimizers.Adam(1e-3)
        data = [
            (tf.constant(view_a[i : i + 64]), tf.constant(view_b[i : i + 64]))
            for i in range(0, n, 64)
        ]
        return run_loop(
            _custom_step(model, optimizer, nt_xent), data, model=model, optimizer=optimizer
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 7. a haversine loss fed coordinates in degrees, never converted to radians
# ---------------------------------------------------------------------------------------------
def haversine_loss_on_degrees_never_converted_to_radians():
    """Photo geolocation over Europe (an MLP on 16 image-embedding features predicting latitude
    and longitude in degrees, the targets' unit, its output bias started at the mean position,
    48 N 10 E) trained on the great-circle distance in km, the haversine formula written by
    hand, 2 R asin(sqrt(a)) with a = sin^2(dlat / 2) + cos(lat1) cos(lat2) sin^2(dlon / 2):
    the differences go through the degrees-to-radians factor, but the latitudes inside the two
    cosines are left in degrees. Only with every angle in radians is a a squared half-chord in
    [0, 1]; read as radians, the latitudes 36-60 wrap around the circle several times,
    cos(lat1) cos(lat2) takes either sign, and for part of every batch a falls below 0 (sqrt
    NaN) or rises above 1 (asin NaN), in the loss at the first step (convert the latitudes to
    radians too)."""
    rng = seeded(1806)
    n, dim, radius = 2048, 16, 6371.0
    x = rng.normal(size=(n, dim)).astype("float32")
    w_lat, w_lon = rng.normal(size=(3,)) / np.sqrt(3.0), rng.normal(size=(3,)) / np.sqrt(3.0)
    lat = 48.0 + 12.0 * np.tanh(x[:, :3] @ w_lat) + 0.3 * rng.normal(size=n)
    lon = 10.0 + 20.0 * np.tanh(x[:, 3:6] @ w_lon) + 0.3 * rng.normal(size=n)
    y = np.stack([lat, lon], axis=1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(
                2, bias_initializer=keras.initializers.Constant([48.0, 10.0]), name="head"
            ),
        ],
        name="geolocator",
    )
    to_radians = np.pi / 180.0

    def haversine_km(y_true, y_pred):
        lat1, lon1 = y_true[:, 0], y_true[:, 1]
        lat2, lon2 = y_pred[:, 0], y_pred[:, 1]
        dlat, dlon = (lat2 - lat1) * to_radians, (lon2 - lon1) * to_radians
        a = tf.sin(dlat / 2.0) ** 2 + tf.cos(lat1) * tf.cos(lat2) * tf.sin(dlon / 2.0) ** 2
        return tf.reduce_mean(2.0 * radius * tf.asin(tf.sqrt(a)))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), haversine_km),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 8. GloVe trained over a dense co-occurrence matrix, trusting f(0) = 0 to cancel log(0)
# ---------------------------------------------------------------------------------------------
def glove_loss_on_a_dense_cooccurrence_matrix():
    """GloVe word vectors trained in Keras (word / context Embeddings and biases, Adam) on a
    corpus's co-occurrence counts X (window 5, 1 / distance weighting), iterating over all
    word pairs of the dense matrix, with the paper's weighted least squares
    f(X) (w_i . c_j + b_i + b_j - log X)^2, f(x) = min(1, (x / 100)^0.75). The paper's f(0) = 0
    is read as making the zero pairs harmless, but log(0) = -inf comes first: the squared
    error is inf and f(0) * inf = 0 * inf = NaN, in the loss at the first step, since most
    pairs of a 300-word vocabulary never co-occur (iterate over the non-zero pairs only, as
    the reference code does, or take log(X + 1))."""
    rng = seeded(1807)
    vocab, topics, sentences, length, dim = 300, 8, 3000, 16, 32
    zipf = 1.0 / np.arange(1, vocab + 1)
    topic_words = np.stack([rng.dirichlet(0.05 * np.ones(vocab)) for _ in range(topics)])
    word_probs = 0.5 * topic_words + 0.5 * (zipf / zipf.sum())[None, :]
    topic_of = rng.integers(0, topics, size=sentences)
    corpus = np.stack([rng.choice(vocab, size=length, p=word_probs[k]) for k in topic_of])
    counts = np.zeros((vocab, vocab))
    for distance in range(1, 6):
        np.add.at(
            counts, (corpus[:, :-distance].ravel(), corpus[:, distance:].ravel()), 1.0 / distance
        )
    counts = counts + counts.T
    ii, jj = np.meshgrid(np.arange(vocab), np.arange(vocab), indexing="ij")
    pairs = np.stack([ii.ravel(), jj.ravel()], axis=1).astype("int32")
    targets = counts[ii.ravel(), jj.ravel()].astype("float32").reshape(-1, 1)
    pairs, targets = _shuffled(rng, pairs, targets)

    pair = keras.Input((2,), dtype="int32", name="pair")
    word = keras.layers.Embedding(vocab, dim, name="word_vectors")(pair[:, 0])
    context = keras.layers.Embedding(vocab, dim, name="context_vectors")(pair[:, 1])
    word_bias = keras.layers.Embedding(vocab, 1, name="word_bias")(pair[:, 0])
    context_bias = keras.layers.Embedding(vocab, 1, name="context_bias")(pair[:, 1])
    dot = keras.layers.Dot(axes=1, name="dot")([word, context])
    score = keras.layers.Add(name="score")([dot, word_bias, context_bias])
    model = keras.Model(pair, score, name="glove")

    def glove_loss(x_ij, score):
        weight = tf.minimum(1.0, (x_ij / 100.0) ** 0.75)
        return tf.reduce_mean(weight * tf.square(score - tf.math.log(x_ij)))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(0.01), glove_loss),
        batches(pairs, targets, size=1024),
    )


# ---------------------------------------------------------------------------------------------
# 9. RevIN written without its epsilon, on the windows of stores closed for weeks
# ---------------------------------------------------------------------------------------------
class RevINNorm(keras.layers.Layer):
    """Reversible instance normalization's first half, (x - mean) / std per window with a
    learned affine, written WITHOUT the epsilon of the reference code (sqrt(var + 1e-5));
    returns the normalized window and the statistics for the denormalization."""

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(), initializer="zeros", name="beta")

    def call(self, x):
        mean = tf.reduce_mean(x, axis=1, keepdims=True)
        std = tf.math.reduce_std(x, axis=1, keepdims=True)
        return (x - mean) / std * self.gamma + self.beta, mean, std


class RevINDenorm(keras.layers.Layer):
    """RevIN's second half: the forecast mapped back to the window's scale."""

    def call(self, inputs):
        forecast, mean, std = inputs
        return forecast * std + mean


def revin_without_epsilon_on_windows_of_closed_stores():
    """Daily-sales forecaster (28 days of history -> the next 7 days, an MLP, MSE on the raw
    sales) wrapped in RevIN, as PatchTST / DLinear ports do, with the normalization written
    (x - mean) / std and the reference's + 1e-5 under the square root left out. A fifth of the
    stores were closed for 150 days (a lockdown, a refit) and sold exactly 0 on each of them:
    a window inside the closure has mean 0 and std 0, and (0 - 0) / 0 = NaN inside the RevIN
    layer at the first forward pass of a batch holding such a window (put the epsilon back)."""
    rng = seeded(1808)
    stores, days, history, horizon = 240, 400, 28, 7
    level = rng.lognormal(3.5, 0.6, size=stores)
    weekly = 1.0 + 0.3 * np.sin(
        2 * np.pi * np.arange(days)[None, :] / 7.0 + rng.uniform(0, 6, (stores, 1))
    )
    sales = rng.poisson(level[:, None] * weekly).astype("float64")
    closed = rng.random(stores) < 0.2
    starts = rng.integers(0, days - 150, size=stores)
    for s in np.flatnonzero(closed):
        sales[s, starts[s] : starts[s] + 150] = 0.0
    windows, targets = [], []
    for s in range(stores):
        for start in range(0, days - history - horizon, 7):
            windows.append(sales[s, start : start + history])
            targets.append(sales[s, start + history : start + history + horizon])
    x, y = _shuffled(rng, np.array(windows, dtype="float32"), np.array(targets, dtype="float32"))

    window = keras.Input((history,), name="history")
    normalized, mean, std = RevINNorm(name="revin_norm")(window)
    h = keras.layers.Dense(64, activation="relu", name="hidden0")(normalized)
    h = keras.layers.Dense(64, activation="relu", name="hidden1")(h)
    forecast = keras.layers.Dense(horizon, name="forecast")(h)
    outputs = RevINDenorm(name="revin_denorm")([forecast, mean, std])
    model = keras.Model(window, outputs, name="sales_forecaster")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 10. an L1 activity regularizer on a full-resolution feature map under mixed_float16
# ---------------------------------------------------------------------------------------------
def _textures(rng, n, side):
    """Smooth colour textures in [0, 1]: a few random plane waves per channel."""
    yy, xx = np.mgrid[:side, :side] / side
    images = np.zeros((n, side, side, 3))
    for k in range(4):
        fy, fx = rng.uniform(-6, 6, size=(2, n, 1, 1, 3))
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1, 3))
        images += np.sin(
            2 * np.pi * (fy * yy[None, :, :, None] + fx * xx[None, :, :, None]) + phase
        ) / (k + 1)
    low = images.min(axis=(1, 2), keepdims=True)
    high = images.max(axis=(1, 2), keepdims=True)
    return (images - low) / (high - low)


def l1_activity_regularizer_on_a_float16_feature_map():
    """Sparse denoising autoencoder for 64 x 64 colour patches (the Keras blog's
    activity_regularizer=regularizers.l1(1e-5) 'for sparse codes', here on the first
    convolution's 32 feature maps) trained under mixed_float16 with the reconstruction layer
    in float32, as the mixed-precision guide says, in a custom loop whose loss is the MSE plus
    sum(model.losses) (each cast to float32 to be added). Keras computes the activity penalty
    l1 * sum(|x|) on the layer's output in the output's dtype, float16, and only then divides
    by the batch size: the sum over 32 x 64 x 64 x 32 = 4.2 M ReLU activations is in the
    hundreds of thousands, past float16's 65504, so the Sum is inf in the regularization term
    of enc0 at the first step and the loss is inf (keep that layer in float32)."""

    def build():
        rng = seeded(1809)
        n, side = 256, 64
        clean = _textures(rng, n, side)
        noisy = np.clip(clean + 0.1 * rng.normal(size=clean.shape), 0.0, 1.0)
        clean, noisy = clean.astype("float32"), noisy.astype("float32")
        inputs = keras.Input((side, side, 3))
        h = keras.layers.Conv2D(
            32,
            3,
            padding="same",
            activation="relu",
            activity_regularizer=keras.regularizers.L1(1e-5),
            name="enc0",
        )(inputs)
        h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc1")(h)
        h = keras.layers.UpSampling2D(name="up")(h)
        h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="dec0")(h)
        outputs = keras.layers.Conv2D(
            3, 3, padding="same", activation="sigmoid", dtype="float32", name="reconstruction"
        )(h)
        model = keras.Model(inputs, outputs, name="sparse_dae")
        mse = keras.losses.MeanSquaredError()

        def loss_of(model, x, y):
            reconstruction = model(x, training=True)
            penalty = tf.add_n([tf.cast(loss, "float32") for loss in model.losses])
            return mse(y, reconstruction) + penalty

        optimizer = keras.optimizers.Adam(1e-3)
        data = [
            (tf.constant(noisy[i : i + 32]), tf.constant(clean[i : i + 32]))
            for i in range(0, n, 32)
        ]
        return run_loop(
            _custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND18_SCENARIOS: list[Scenario] = [
    Scenario(
        "single_unit_softmax_head_with_a_hand_written_binary_cross_entropy",
        single_unit_softmax_head_with_a_hand_written_binary_cross_entropy,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits"}),
        story="Dense(1, activation='softmax') on a binary label: a softmax over one unit is "
        "exactly 1.0, so a hand-written BCE takes log(1 - 1) = -inf (and 0 * -inf = NaN) in "
        "the loss at the first step; a sigmoid / linear head with BCE from logits "
        "(https://github.com/microsoft/CNTK/issues/607, "
        "https://github.com/SCdoesCODE/neural_network/issues/2, "
        "https://github.com/dnouri/nolearn/issues/178, "
        "https://geek-tips.imtqy.com/articles/557592/index.html)",
        blind=True,
    ),
    Scenario(
        "custom_loss_defined_with_y_pred_before_y_true",
        custom_loss_defined_with_y_pred_before_y_true,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset(),
        story="a weighted categorical cross-entropy written def loss(y_pred, y_true) while "
        "Keras and the loop call loss(y_true, y_pred): the one-hot labels go through the log, "
        "log(0) = -inf and the loss is inf at the first step; swap the arguments back "
        "(https://github.com/tensorflow/tensorflow/issues/38067, "
        "https://github.com/tensorflow/docs/pull/1528, "
        "https://github.com/keras-team/keras/issues/5733, "
        "https://github.com/keras-team/keras/issues/8993, "
        "https://github.com/bolunwang/backdoor/issues/11)",
        blind=True,
    ),
    Scenario(
        "mri_slices_with_nan_background_zscored_per_scan",
        mri_slices_with_nan_background_zscored_per_scan,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="brain MRI from a site whose SPM-processed volumes are NaN outside the brain, "
        "z-scored per scan with mean() / std(): the statistics are NaN and every slice of that "
        "site is all-NaN in the batch; nan_to_num on load or nanmean / nanstd in the mask "
        "(https://github.com/nilearn/nilearn/issues/1105, "
        "https://github.com/nilearn/nilearn/issues/2187, "
        "https://github.com/nilearn/nilearn/issues/1249, "
        "https://github.com/daducci/AMICO/pull/149, "
        "https://github.com/MIC-DKFZ/BraTS2017/issues/9)",
        blind=True,
    ),
    Scenario(
        "pitch_contours_from_pyin_with_nan_on_unvoiced_frames",
        pitch_contours_from_pyin_with_nan_on_unvoiced_frames,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="librosa.pyin's f0 (fill_na=np.nan) used as a GRU feature: every unvoiced frame "
        "is NaN, log2(f0 / 100) keeps it, and every sequence of the batch carries NaN; fill "
        "the unvoiced frames and pass the voiced flag "
        "(https://librosa.org/doc/0.10.2/generated/librosa.pyin.html, "
        "https://github.com/mir-evaluation/mir_eval/issues/332, "
        "https://github.com/mir-evaluation/mir_eval/pull/379, "
        "https://github.com/fishaudio/fish-diffusion/pull/49)",
        blind=True,
    ),
    Scenario(
        "one_hot_columns_aligned_with_reindex_without_fill_value",
        one_hot_columns_aligned_with_reindex_without_fill_value,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a later month's pd.get_dummies aligned to the training columns with "
        "df.reindex(columns=...) without fill_value=0: categories absent that month come back "
        "as all-NaN columns in every one of its rows "
        "(https://github.com/alteryx/evalml/issues/1074, "
        "https://fastml.com/how-to-use-pd-dot-get-dummies-with-the-test-set/, "
        "https://stackoverflow.com/questions/37635582, "
        "https://vmstutorials.com/tutorials/machine-learning/get-dummies-and-reindex)",
        blind=True,
    ),
    Scenario(
        "nt_xent_by_hand_under_mixed_float16",
        nt_xent_by_hand_under_mixed_float16,
        "loss",
        frozenset({"Exp"}),
        None,
        "float16_range",
        frozenset({"float32_layer", "use_from_logits"}),
        story="SimCLR's NT-Xent written with exp(sim / 0.07) on a projection head left in "
        "float16 under mixed_float16: exp(1 / 0.07) = 1.6e6 overflows float16 (65504) in the "
        "loss and inf / inf = NaN; compute it in float32 or as a log-softmax cross-entropy "
        "(https://github.com/Lightning-Universe/lightning-bolts/issues/811, "
        "https://github.com/HobbitLong/SupContrast/issues/104, "
        "https://github.com/lightly-ai/lightly/issues/1633, "
        "https://github.com/chainer/chainer/pull/7745)",
        blind=True,
    ),
    Scenario(
        "haversine_loss_on_degrees_never_converted_to_radians",
        haversine_loss_on_degrees_never_converted_to_radians,
        "loss",
        frozenset({"Sqrt", "Asin"}),
        None,
        "domain_error",
        frozenset(),
        story="a haversine (great-circle) loss written with sin / cos of coordinates in "
        "degrees: read as radians the latitudes wrap around, a = sin^2 + cos cos sin^2 leaves "
        "[0, 1], and sqrt(a < 0) / asin(sqrt(a) > 1) is NaN in the loss; convert to radians "
        "(https://github.com/jlmelville/rnndescent/issues/17, "
        "https://github.com/scikit-learn/scikit-learn/pull/12568, "
        "https://github.com/hammad93/hurricane-net/issues/13, "
        "https://github.com/eigenvivek/xvr/pull/129)",
        blind=True,
    ),
    Scenario(
        "glove_loss_on_a_dense_cooccurrence_matrix",
        glove_loss_on_a_dense_cooccurrence_matrix,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "clean_input"}),
        story="GloVe's weighted least squares over every pair of a dense co-occurrence matrix, "
        "trusting f(0) = 0: log(0) = -inf comes first and f(0) * inf = NaN in the loss; "
        "iterate over the non-zero pairs or take log(X + 1) "
        "(https://github.com/erwtokritos/keras-glove/issues/2, "
        "https://github.com/mbadry1/DeepLearning.ai-Summary/issues/24, "
        "https://nlp.stanford.edu/pubs/glove.pdf)",
        blind=True,
    ),
    Scenario(
        "revin_without_epsilon_on_windows_of_closed_stores",
        revin_without_epsilon_on_windows_of_closed_stores,
        "activation",
        frozenset({"RealDiv"}),
        "sales_forecaster/revin_norm",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="reversible instance normalization (x - mean) / std written without the "
        "reference's sqrt(var + 1e-5): a window of a store closed for weeks is all 0, its std "
        "is 0 and 0 / 0 = NaN inside the RevIN layer "
        "(https://github.com/google-research/timesfm/issues/522, "
        "https://github.com/lucidrains/iTransformer/issues/15, "
        "https://github.com/ts-kim/RevIN/issues/17, "
        "https://github.com/Nixtla/neuralforecast/issues/956)",
        blind=True,
    ),
    Scenario(
        "l1_activity_regularizer_on_a_float16_feature_map",
        l1_activity_regularizer_on_a_float16_feature_map,
        "loss",
        frozenset({"Sum"}),
        "sparse_dae/enc0",
        "float16_range",
        frozenset({"float32_layer"}),
        story="an L1 activity regularizer on a full-resolution conv feature map under "
        "mixed_float16: Keras sums |x| over the batch in the output's float16 before dividing "
        "by the batch size, and 4 M activations sum past 65504, inf in the regularization "
        "term; keep that layer in float32 "
        "(https://github.com/keisen/tf-keras-vis/pull/60, "
        "https://github.com/tensorflow/tensorflow/issues/47156, "
        "https://github.com/keras-team/keras/issues/11832, "
        "https://github.com/tensorflow/tensorflow/issues/43978, "
        "https://github.com/pytorch/pytorch/pull/21319)",
        blind=True,
    ),
]
