"""A twenty-second set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios; not the twenty-first set, written at the same time), without git log or
diff output of other files, and without importing or running nantrace: each expectation comes
from the bug pattern itself (where a careful ML engineer would say the first non-finite value
appears, why, and the first fix to try), and all ten were written into this file before
anything was run. The patterns come from public reports found with a search over GitHub issues
and pull requests, stored web pages (Q&A threads, tutorials) and public source files; each
story cites them. To know what the Keras / TensorFlow built-ins involved do, their installed
sources were read (keras.losses.dice / tversky, the learning-rate schedules, the
OrthogonalRegularizer and ops.normalize, the image preprocessing layers,
tf.clip_by_norm, the ComplexAbs gradient); nothing but a version print was run to learn it. This set favours
ordinary Keras / TensorFlow training code with one subtle slip: a per-tensor tf.clip_by_norm
configured with 0 'to disable clipping', Adam written by hand with the gradient left
unsquared in its second moment, ideal-amplitude-mask labels of zero-padded audio clips, a
RetinaNet loss normalized per image by its positive anchors on background-only images, an
SVD++ implicit-feedback term for users without history, a sinusoidal encoding of raw elapsed
seconds under mixed_float16, an IWAE bound by hand without logsumexp, an orthonormality
regularizer on a GloVe-initialized embedding with zero rows (first Keras' own
OrthogonalRegularizer, see the change below), KERPLE's logarithmic
position bias ported without its '1 +', and the focal frequency loss ported without its
NaN guard on letterboxed super-resolution crops. Fix ids are only those of the design notes'
taxonomy; where none of them is the first fix a careful engineer would try, the fix set is
left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss and weights after each step, and the batch itself), and
(with tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs
it) which op first produces the non-finite value, in a throwaway script outside the
repository that stands in plain-TF versions of the loop helpers and asserts that nantrace
was never imported. No expectation field (kind, op types, layer, cause, fixes) was changed
after that check, and no pattern was dropped; one construction was changed, as told below.
What the check showed (all on CPU, each run under 3 s): the clip_by_norm(g, 0) loop (loss
0.50 at step 0, finite; the hidden weights NaN after the first update; first op the
RealDiv of clip_by_norm, NaN, after every backward op was finite), the hand-written Adam
(loss 0.72, finite; weights NaN after the first update; first op the update's Sqrt, NaN),
the mask labels (the first label batch holds NaN; first op the RealDiv |S| / |Y| of the
tf.data map, NaN), the RetinaNet loss (loss NaN at step 0; first op the loss's RealDiv by
the per-image normalizer, +inf), SVD++ (loss NaN at step 0; first op
svdpp/implicit_feedback's Rsqrt, +inf), the time encoding (loss NaN at step 0; first op a
Cast of the elapsed seconds to float16, +inf: it is the cast Keras applies to the
time-encoding layer's input, and TensorFlow names it at the model's scope,
event_transformer/Cast_1, just outside the layer's own scope, its only consumer being the
layer), the IWAE bound (loss inf at step 0; first op the loss's Log, -inf), the
orthonormality regularizer (after the change below: loss 0.73 at step 0, finite, weights
NaN after the first update; first op the backward SqrtGrad of tf.norm, -inf), the KERPLE
port (loss NaN at step 0; first op kerple_lm/log_distance_attention's Log, -inf) and the
focal frequency loss (loss NaN at step 0; first op the weight matrix's RealDiv, NaN).
Construction changed after the first check (expectation fields untouched, the docstring
and story rewritten to match): the regularizer was first Keras' own
keras.regularizers.OrthogonalRegularizer(0.01), expected to give a NaN gradient through
the rsqrt of a zero row's squared norm; it trained finite for all 64 batches, because
TensorFlow's Sqrt / Rsqrt gradient kernels return 0 when the incoming gradient is 0, which
it is for a zero row of a cosine-only penalty. The regularizer is now a custom one: the same
off-diagonal |cosine| term (norms by tf.norm, an epsilon in the cosine's denominator) plus a
unit-norm term mean((|w_i| - 1)^2), whose gradient at a zero row's norm is -2, so the
norm's infinite derivative there gives -inf and then NaN.
Caveats a reader should know: the cause ids missing_epsilon for the clip_by_norm,
RetinaNet and focal-frequency scenarios name the division by an exact-zero norm / count /
maximum; the fix sets of the clip_by_norm, Adam, RetinaNet and IWAE scenarios are empty
(skip clipping at 0, square the gradient, max(1, n) or divide_no_nan where the numerator is
not 0, logsumexp); the orthonormality scenario's op types and layer are left None.

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


def _regression_table(rng, n, dim, noise=0.1):
    """Standardized features and a smooth target of unit scale."""
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = np.tanh(x @ w) + 0.5 * np.sin(2.0 * (x @ v)) + noise * rng.normal(size=n)
    return x, y.astype("float32").reshape(-1, 1)


# ---------------------------------------------------------------------------------------------
# 1. per-tensor tf.clip_by_norm with clip_norm = 0, meant as 'no clipping'
# ---------------------------------------------------------------------------------------------
def clip_by_norm_with_zero_meant_as_no_clipping():
    """A regression MLP (16 standardized features, MSE, Adam) whose output layer is
    zero-initialized so that training starts from a flat prediction. The custom loop clips
    every gradient tensor with tf.clip_by_norm(g, clip_norm), as in TensorFlow's own
    example, with clip_norm read from a config where, as in several trainers, 0 means
    'clipping off'. tf.clip_by_norm has no such convention: it returns g * 0 / max(|g|, 0).
    Behind the zero-initialized head the hidden layers' gradients are exactly 0 at the first
    step, and 0 * 0 / max(0, 0) = 0 / 0 = NaN: the clipped gradients and then the hidden
    weights are NaN after the first update, while the loss and the tape's gradients are
    finite (skip the clipping when the configured norm is 0, or a positive norm)."""
    rng = seeded(2200)
    x, y = _regression_table(rng, 4096, 16)
    inputs = keras.Input((16,))
    h = keras.layers.Dense(64, activation="relu", name="hidden0")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="hidden1")(h)
    outputs = keras.layers.Dense(1, kernel_initializer="zeros", name="head")(h)
    model = keras.Model(inputs, outputs, name="zero_head_mlp")
    optimizer = keras.optimizers.Adam(1e-3)
    mse = keras.losses.MeanSquaredError()
    config = {"clip_norm": 0.0}  # '0 disables gradient clipping'

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [tf.clip_by_norm(g, config["clip_norm"]) for g in grads]
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=64))


# ---------------------------------------------------------------------------------------------
# 2. Adam by hand whose second moment averages the gradient instead of its square
# ---------------------------------------------------------------------------------------------
def adam_by_hand_with_an_unsquared_second_moment():
    """Adam written by hand in a custom loop (to log the per-weight step sizes), with the
    bias corrections and the step counter right, but the second-moment line written
    v = beta2 v + (1 - beta2) g where g * g was meant. v then averages signed gradients:
    after the first step v_hat = g, negative for about half the weights, and
    sqrt(v_hat) is NaN in the update: every weight with a negative gradient becomes NaN in
    the first update while the forward pass, the loss and the gradients are finite (square
    the gradient)."""
    rng = seeded(2201)
    x, y = _regression_table(rng, 4096, 12)
    model = mlp([64, 32], name="hand_adam_mlp", input_dim=12)
    mse = keras.losses.MeanSquaredError()
    variables = model.trainable_variables
    first = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    second = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    step_count = tf.Variable(0.0, trainable=False)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-7

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, variables)
        step_count.assign_add(1.0)
        for var, g, m, v in zip(variables, grads, first, second, strict=True):
            m.assign(beta1 * m + (1.0 - beta1) * g)
            v.assign(beta2 * v + (1.0 - beta2) * g)  # g * g was meant
            m_hat = m / (1.0 - beta1**step_count)
            v_hat = v / (1.0 - beta2**step_count)
            var.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))
        return loss

    train_step.model = model
    return run_loop(train_step, batches(x, y, size=64), model=model)


# ---------------------------------------------------------------------------------------------
# 3. ideal amplitude mask labels |S| / |Y| of clips zero-padded to a fixed length
# ---------------------------------------------------------------------------------------------
def ideal_amplitude_mask_labels_of_zero_padded_clips():
    """A speech-enhancement mask estimator (a per-frame MLP on log |Y| of the noisy STFT,
    sigmoid mask, MSE) trained on the ideal amplitude mask |S| / |Y| computed in the tf.data
    map from the clean and noisy STFTs. Clips of 0.5-0.95 s are mixed with noise over their
    own length and then zero-padded to 1 s so that they batch; the frames that lie wholly in
    the padding have |S| = |Y| = 0 exactly, and the mask label there is 0 / 0 = NaN in every
    clip's label batch before any op of the model runs (the features take log(|Y| + 1e-6)
    and are finite). Drop or mask the padded frames (or define the mask there)."""
    rng = seeded(2202)
    n, rate, total = 192, 8000, 8000
    clean = np.zeros((n, total), dtype="float32")
    noisy = np.zeros((n, total), dtype="float32")
    t = np.arange(total) / rate
    for i in range(n):
        length = int(rng.uniform(0.5, 0.95) * rate)
        f0 = rng.uniform(90.0, 250.0)
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * t[:length]) ** 2
        voice = sum(
            np.sin(2 * np.pi * f0 * h * t[:length] + rng.uniform(0, 2 * np.pi)) / h
            for h in range(1, 6)
        )
        clean[i, :length] = 0.3 * envelope * voice
        noisy[i, :length] = clean[i, :length] + 0.05 * rng.normal(size=length)

    def features_and_mask(noisy_wave, clean_wave):
        y_mag = tf.abs(tf.signal.stft(noisy_wave, frame_length=256, frame_step=128))
        s_mag = tf.abs(tf.signal.stft(clean_wave, frame_length=256, frame_step=128))
        return tf.math.log(y_mag + 1e-6), s_mag / y_mag

    dataset = tf.data.Dataset.from_tensor_slices((noisy, clean)).map(features_and_mask).batch(16)
    frames, bins = 61, 129
    inputs = keras.Input((frames, bins))
    h = keras.layers.Dense(128, activation="relu", name="frame_hidden")(inputs)
    outputs = keras.layers.Dense(bins, activation="sigmoid", name="mask_head")(h)
    model = keras.Model(inputs, outputs, name="mask_estimator")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 4. a RetinaNet loss normalized per image by its positive anchors, on background-only images
# ---------------------------------------------------------------------------------------------
def retinanet_loss_normalized_by_positive_anchors_of_background_images():
    """A one-level RetinaNet-style detector (a small CNN to an 8 x 8 grid of 8-pixel
    anchors, a class head with the focal-loss prior bias and a box head) trained with the
    keras.io RetinaNet loss: sigmoid focal loss on all anchors plus smooth L1 on the positive
    ones, each summed per image and divided by that image's number of positive anchors. The
    port replaced the example's tf.math.divide_no_nan by '/'. A quarter of the training
    images are background-only negatives (no object): their normalizer is 0, the focal sum
    over their anchors divided by it is inf and the box sum 0 / 0 = NaN, in the loss at the
    first step (divide_no_nan, or max(1, number of positives), as detection libraries do)."""
    rng = seeded(2203)
    n, size, grid, classes = 512, 32, 8, 3
    images = (0.1 * rng.random((n, size, size, 3))).astype("float32")
    cls_target = np.zeros((n, grid * grid, classes), dtype="float32")
    box_target = np.zeros((n, grid * grid, 4), dtype="float32")
    positive = np.zeros((n, grid * grid), dtype="float32")
    colours = np.eye(3, dtype="float32")
    for i in range(n):
        if rng.random() < 0.25:
            continue  # a background-only image
        for _ in range(rng.integers(1, 3)):
            c = int(rng.integers(0, classes))
            w, h = rng.integers(6, 11, size=2)
            x0, y0 = rng.integers(0, size - w), rng.integers(0, size - h)
            images[i, y0 : y0 + h, x0 : x0 + w] = colours[c]
            cx, cy = x0 + w / 2.0, y0 + h / 2.0
            gx, gy = min(int(cx // 4), grid - 1), min(int(cy // 4), grid - 1)
            a = gy * grid + gx
            acx, acy = gx * 4 + 2.0, gy * 4 + 2.0
            positive[i, a] = 1.0
            cls_target[i, a] = 0.0
            cls_target[i, a, c] = 1.0
            box_target[i, a] = [
                (cx - acx) / 8.0,
                (cy - acy) / 8.0,
                np.log(w / 8.0),
                np.log(h / 8.0),
            ]
    prior = -np.log((1.0 - 0.01) / 0.01)
    inputs = keras.Input((size, size, 3))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv0")(inputs)
    h = keras.layers.MaxPooling2D(2, name="pool0")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.MaxPooling2D(2, name="pool1")(h)
    cls = keras.layers.Conv2D(
        classes,
        3,
        padding="same",
        bias_initializer=keras.initializers.Constant(prior),
        name="cls_head",
    )(h)
    box = keras.layers.Conv2D(4, 3, padding="same", name="box_head")(h)
    cls = keras.layers.Reshape((grid * grid, classes), name="cls_flat")(cls)
    box = keras.layers.Reshape((grid * grid, 4), name="box_flat")(box)
    model = keras.Model(inputs, [cls, box], name="tiny_retinanet")

    def retinanet_loss(model, x, cls_true, box_true, positive_mask):
        cls_logits, box_pred = model(x, training=True)
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=cls_true, logits=cls_logits)
        probs = tf.sigmoid(cls_logits)
        alpha = tf.where(tf.equal(cls_true, 1.0), 0.25, 0.75)
        pt = tf.where(tf.equal(cls_true, 1.0), probs, 1.0 - probs)
        focal = tf.reduce_sum(alpha * tf.pow(1.0 - pt, 2.0) * ce, axis=-1)
        diff = tf.abs(box_true - box_pred)
        smooth_l1 = tf.reduce_sum(tf.where(diff < 1.0, 0.5 * diff**2, diff - 0.5), axis=-1)
        smooth_l1 = tf.where(tf.equal(positive_mask, 1.0), smooth_l1, 0.0)
        normalizer = tf.reduce_sum(positive_mask, axis=-1)
        clf_loss = tf.reduce_sum(focal, axis=-1) / normalizer  # was tf.math.divide_no_nan
        box_loss = tf.reduce_sum(smooth_l1, axis=-1) / normalizer
        return tf.reduce_mean(clf_loss + box_loss)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        tuple(
            tf.constant(a[start : start + 16]) for a in (images, cls_target, box_target, positive)
        )
        for start in range(0, n, 16)
    ]
    return run_loop(
        _custom_step(model, optimizer, retinanet_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 5. SVD++'s |N(u)|^-1/2 implicit-feedback term for users without implicit feedback
# ---------------------------------------------------------------------------------------------
class ImplicitFeedback(keras.layers.Layer):
    """SVD++'s |N(u)|^-1/2 * sum_{j in N(u)} y_j over a zero-padded list of item ids."""

    def call(self, factors, item_ids):
        mask = tf.cast(item_ids > 0, factors.dtype)[..., None]
        count = tf.reduce_sum(mask, axis=1)
        return tf.math.rsqrt(count) * tf.reduce_sum(factors * mask, axis=1)


def svdpp_implicit_term_of_users_without_history():
    """A rating model ported from Koren's SVD++ to Keras: mu + b_u + b_i + q_i . (p_u +
    |N(u)|^-1/2 sum_{j in N(u)} y_j), where N(u) are the items the user viewed (a separate
    browsing log, up to 20 ids, zero-padded), written with tf.math.rsqrt(count) in a custom
    layer. Accounts opened after the browsing-log snapshot have no viewed item: their count
    is 0, rsqrt(0) = inf and inf * 0 (the empty sum) = NaN inside the implicit-feedback
    layer at the first step (an epsilon in the count, rsqrt(count + eps), which leaves
    their term at 0; or max(count, 1))."""
    rng = seeded(2204)
    n_users, n_items, dim, n, max_views = 400, 300, 16, 8192, 20
    user_taste = rng.normal(size=(n_users, 4))
    item_style = rng.normal(size=(n_items + 1, 4))
    views = np.zeros((n_users, max_views), dtype="int32")
    for u in range(n_users):
        if rng.random() < 0.1:
            continue  # a new account: nothing viewed yet
        k = int(rng.integers(3, max_views + 1))
        views[u, :k] = rng.choice(np.arange(1, n_items + 1), size=k, replace=False)
    users = rng.integers(0, n_users, size=n).astype("int32")
    items = rng.integers(1, n_items + 1, size=n).astype("int32")
    affinity = np.sum(user_taste[users] * item_style[items], axis=1)
    ratings = np.clip(np.round(3.5 + 0.6 * affinity + 0.5 * rng.normal(size=n)), 1, 5)
    ratings = ratings.astype("float32").reshape(-1, 1)

    user_in = keras.Input((), dtype="int32", name="user")
    item_in = keras.Input((), dtype="int32", name="item")
    views_in = keras.Input((max_views,), dtype="int32", name="viewed_items")
    p_u = keras.layers.Embedding(n_users, dim, name="user_factors")(user_in)
    q_i = keras.layers.Embedding(n_items + 1, dim, name="item_factors")(item_in)
    b_u = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros", name="user_bias")(
        user_in
    )
    b_i = keras.layers.Embedding(n_items + 1, 1, embeddings_initializer="zeros", name="item_bias")(
        item_in
    )
    y_j = keras.layers.Embedding(n_items + 1, dim, name="implicit_factors")(views_in)
    implicit = ImplicitFeedback(name="implicit_feedback")(y_j, views_in)
    user_vector = keras.layers.Add(name="user_vector")([p_u, implicit])
    dot = keras.layers.Dot(axes=1, name="interaction")([q_i, user_vector])
    outputs = keras.layers.Add(name="rating")([dot, b_u, b_i])
    model = keras.Model([user_in, item_in, views_in], outputs, name="svdpp")
    mse = keras.losses.MeanSquaredError()

    def rating_loss(model, u, i, v, r):
        return mse(r - 3.5, model([u, i, v], training=True))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(users[s : s + 128]),
            tf.constant(items[s : s + 128]),
            tf.constant(views[users[s : s + 128]]),
            tf.constant(ratings[s : s + 128]),
        )
        for s in range(0, n, 128)
    ]
    return run_loop(
        _custom_step(model, optimizer, rating_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 6. a sinusoidal encoding of raw elapsed seconds in a transformer under mixed_float16
# ---------------------------------------------------------------------------------------------
class TimeEncoding(keras.layers.Layer):
    """Transformer-style sin / cos features of continuous event times."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    def call(self, times):
        times = tf.cast(times, self.compute_dtype)
        i = np.arange(self.dim // 2, dtype="float32")
        freqs = tf.constant(1.0 / 10000.0 ** (2.0 * i / self.dim), dtype=self.compute_dtype)
        angles = times[..., None] * freqs
        return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)


def sinusoidal_time_encoding_of_elapsed_seconds_under_mixed_float16():
    """An event-sequence transformer (value projection + a sinusoidal encoding of each
    event's time, one MultiHeadAttention block, a float32 output layer as the mixed
    precision guide says) for irregularly sampled machine-sensor events, the times given
    as seconds elapsed since the start of a three-day log (up to ~2.6e5 s). Switching the
    model to mixed_float16 for speed puts the time-encoding layer in float16 too: the
    elapsed seconds beyond 65504 become inf when the layer casts them to its compute dtype,
    and sin / cos of inf are NaN, inside the time-encoding layer at the first step (in
    float32 the encoding is finite). Keep that layer in float32 (or encode times in days /
    relative to the sequence start)."""

    def build():
        rng = seeded(2205)
        n, steps, features = 1024, 32, 4
        times = np.sort(rng.uniform(0.0, 3 * 86400.0, size=(n, steps)), axis=1)
        values = rng.normal(size=(n, steps, features)).astype("float32")
        drift = np.sin(2 * np.pi * times / 86400.0)[..., None]
        values = (values + drift).astype("float32")
        target = (values[:, -8:, 0].mean(axis=1) + 0.1 * rng.normal(size=n)).astype("float32")
        values_in = keras.Input((steps, features), name="values")
        times_in = keras.Input((steps,), name="elapsed_seconds")
        h = keras.layers.Dense(32, name="value_projection")(values_in)
        te = TimeEncoding(32, name="time_encoding")(times_in)
        h = keras.layers.Add(name="add_time")([h, te])
        attended = keras.layers.MultiHeadAttention(2, 16, name="attention")(h, h)
        h = keras.layers.LayerNormalization(name="norm")(
            keras.layers.Add(name="residual")([h, attended])
        )
        pooled = keras.layers.GlobalAveragePooling1D(name="pool")(h)
        outputs = keras.layers.Dense(1, dtype="float32", name="head")(pooled)
        model = keras.Model([values_in, times_in], outputs, name="event_transformer")
        mse = keras.losses.MeanSquaredError()

        def loss_of(model, v, t, y):
            return mse(y, model([v, t], training=True))

        optimizer = keras.optimizers.Adam(1e-3)
        data = [
            (
                tf.constant(values[s : s + 32]),
                tf.constant(times[s : s + 32].astype("float32")),
                tf.constant(target[s : s + 32].reshape(-1, 1)),
            )
            for s in range(0, n, 32)
        ]
        return run_loop(
            _custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 7. an IWAE bound written log(mean(exp(log_w))) instead of with logsumexp
# ---------------------------------------------------------------------------------------------
class ImportanceWeightedAutoencoder(keras.Model):
    """A Bernoulli-decoder VAE whose step draws k latent samples per image."""

    def __init__(self, pixels, latent, **kwargs):
        super().__init__(**kwargs)
        self.latent = latent
        self.encoder_hidden = keras.layers.Dense(200, activation="tanh", name="enc_hidden")
        self.encoder_out = keras.layers.Dense(2 * latent, name="enc_out")
        self.decoder_hidden = keras.layers.Dense(200, activation="tanh", name="dec_hidden")
        self.decoder_out = keras.layers.Dense(pixels, name="dec_logits")

    def call(self, x, k=8):
        stats = self.encoder_out(self.encoder_hidden(x))
        mu, log_var = stats[:, : self.latent], stats[:, self.latent :]
        eps = tf.random.normal(tf.concat([tf.shape(mu)[:1], [k, self.latent]], axis=0))
        z = mu[:, None, :] + tf.exp(0.5 * log_var)[:, None, :] * eps
        logits = self.decoder_out(self.decoder_hidden(z))
        log_px_z = -tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.broadcast_to(x[:, None, :], tf.shape(logits)), logits=logits
            ),
            axis=-1,
        )
        log_pz = -0.5 * tf.reduce_sum(z**2 + np.log(2 * np.pi), axis=-1)
        log_qz_x = -0.5 * tf.reduce_sum(eps**2 + log_var[:, None, :] + np.log(2 * np.pi), axis=-1)
        return log_px_z + log_pz - log_qz_x


def iwae_bound_by_hand_without_logsumexp():
    """An importance-weighted autoencoder (Burda et al.; k = 8 samples, a Bernoulli decoder)
    on binarized 28 x 28 stroke images, the bound written from the paper's formula,
    log((1 / k) sum_i w_i), as tf.math.log(tf.reduce_mean(tf.exp(log_w), axis=1)). Over 784
    pixels the log weights are around -500 at initialization: exp underflows to exactly 0
    for every sample, the mean is 0 and its log is -inf, so the loss is inf at the first
    step (the reference implementations compute the bound with logsumexp(log_w) - log k)."""
    rng = seeded(2206)
    n, side = 2048, 28
    yy, xx = np.mgrid[0:side, 0:side]
    images = np.zeros((n, side * side), dtype="float32")
    for i in range(n):
        canvas = np.zeros((side, side))
        for _ in range(rng.integers(1, 4)):
            cx, cy = rng.uniform(6, 22, size=2)
            angle = rng.uniform(0, np.pi)
            d = np.abs((xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle))
            along = np.abs((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle))
            canvas = np.maximum(canvas, (d < 1.5) & (along < rng.uniform(4, 9)))
        images[i] = canvas.reshape(-1)
    model = ImportanceWeightedAutoencoder(side * side, 16, name="iwae")
    model(tf.constant(images[:2]))

    def iwae_loss(model, x):
        log_w = model(x, training=True)
        return -tf.reduce_mean(tf.math.log(tf.reduce_mean(tf.exp(log_w), axis=1)))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [(tf.constant(images[s : s + 64]),) for s in range(0, n, 64)]
    return run_loop(
        _custom_step(model, optimizer, iwae_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 8. an orthonormality regularizer on a GloVe-initialized embedding with zero rows
# ---------------------------------------------------------------------------------------------
class RowOrthonormality(keras.regularizers.Regularizer):
    """Keras' OrthogonalRegularizer term (mean |cosine| between rows) plus a unit-norm term
    mean((|w_i| - 1)^2), the rows' norms taken with tf.norm."""

    def __init__(self, factor=0.01):
        self.factor = factor

    def __call__(self, w):
        norms = tf.norm(w, axis=1, keepdims=True)
        cosine = tf.matmul(w, w, transpose_b=True) / (norms * tf.transpose(norms) + 1e-7)
        off_diagonal = cosine * (1.0 - tf.eye(tf.shape(w)[0]))
        unit = tf.reduce_mean(tf.square(norms - 1.0))
        return self.factor * (tf.reduce_mean(tf.abs(off_diagonal)) + unit)


def orthogonal_regularizer_on_an_embedding_with_zero_rows():
    """A review classifier (Embedding -> GlobalAveragePooling1D -> Dense logit, binary
    cross-entropy) whose embedding is initialized as in Keras' pretrained-embeddings guide:
    np.zeros((vocab, dim)), then the rows of words found in the GloVe file filled in; the
    padding row and the out-of-vocabulary words stay exactly 0. To keep the fine-tuned
    vectors 'orthonormal' the embedding gets a custom regularizer: Keras'
    OrthogonalRegularizer term (mean |cosine| between rows, with an epsilon in the cosine's
    denominator) plus a unit-norm term mean((|w_i| - 1)^2), the norms taken with tf.norm.
    The penalty's value is finite on a zero row ((0 - 1)^2 = 1, cosine 0 / eps = 0), but
    the unit-norm term pulls on the norm there with a gradient of -2, and the norm's
    derivative at 0 is infinite: 0.5 * (-2) / sqrt(0) = -inf, times 2 w = 0, NaN in the
    embedding's gradient at the first step while the loss is finite (an epsilon under the
    root, sqrt(|w|^2 + eps), or no exact-zero rows)."""
    rng = seeded(2207)
    vocab, dim, n, length = 2000, 50, 4096, 40
    matrix = np.zeros((vocab, dim), dtype="float32")
    found = rng.random(vocab) < 0.85
    found[0] = False  # the padding row
    matrix[found] = 0.4 * rng.normal(size=(int(found.sum()), dim))
    polarity = rng.normal(size=vocab)
    tokens = np.zeros((n, length), dtype="int32")
    labels = np.zeros((n, 1), dtype="float32")
    for i in range(n):
        k = int(rng.integers(10, length + 1))
        ids = rng.integers(1, vocab, size=k)
        tokens[i, :k] = ids
        labels[i] = float(polarity[ids].mean() + 0.2 * rng.normal() > 0)
    inputs = keras.Input((length,), dtype="int32")
    h = keras.layers.Embedding(
        vocab,
        dim,
        embeddings_initializer=keras.initializers.Constant(matrix),
        embeddings_regularizer=RowOrthonormality(0.01),
        name="word_embedding",
    )(inputs)
    h = keras.layers.GlobalAveragePooling1D(name="average")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="glove_classifier")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def regularized_loss(model, x, y):
        return bce(y, model(x, training=True)) + tf.add_n(model.losses)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, regularized_loss),
        batches(tokens, labels, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. KERPLE's logarithmic position bias ported as -p log(a |m - n|), without the '1 +'
# ---------------------------------------------------------------------------------------------
class LogDistanceAttention(keras.layers.Layer):
    """Causal single-head attention with a learned logarithmic distance bias."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.query = keras.layers.Dense(dim, name="query")
        self.key = keras.layers.Dense(dim, name="key")
        self.value = keras.layers.Dense(dim, name="value")

    def build(self, input_shape):
        self.bias_p = self.add_weight(shape=(), initializer="ones", name="bias_p")
        self.bias_a = self.add_weight(shape=(), initializer="ones", name="bias_a")

    def call(self, x):
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(self.dim)
        pos = tf.range(tf.shape(x)[1])
        diff = tf.cast(tf.abs(pos[:, None] - pos[None, :]), x.dtype)
        bias = -self.bias_p * tf.math.log(self.bias_a * diff)  # KERPLE: log(1 + a |m - n|)
        causal = pos[None, :] <= pos[:, None]
        scores = tf.where(causal, scores + bias, -1e9)
        return tf.matmul(tf.nn.softmax(scores, axis=-1), v)


def kerple_log_bias_without_the_one():
    """A small causal language model (token embedding, one attention layer with KERPLE's
    logarithmic relative-position bias instead of position embeddings, a softmax head)
    trained on next-token prediction over synthetic 24-token sequences. KERPLE's bias is
    -r1 log(1 + r2 |m - n|); the port wrote -p log(a |m - n|). On the diagonal, where every
    query attends to itself, |m - n| = 0 and log(0) = -inf, so the bias is +inf there and
    the softmax of each row (inf / inf) is NaN, inside the attention layer at the first
    forward pass (log(1 + a d) as in KERPLE, an epsilon in the log)."""
    rng = seeded(2208)
    n, length, vocab = 2048, 24, 40
    transition = rng.dirichlet(0.3 * np.ones(vocab), size=vocab)
    tokens = np.zeros((n, length + 1), dtype="int32")
    tokens[:, 0] = rng.integers(0, vocab, size=n)
    for t in range(length):
        cum = np.cumsum(transition[tokens[:, t]], axis=1)
        tokens[:, t + 1] = (rng.random((n, 1)) < cum).argmax(axis=1)
    inputs = keras.Input((length,), dtype="int32")
    h = keras.layers.Embedding(vocab, 32, name="token_embedding")(inputs)
    h = LogDistanceAttention(32, name="log_distance_attention")(h)
    outputs = keras.layers.Dense(vocab, name="lm_head")(h)
    model = keras.Model(inputs, outputs, name="kerple_lm")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(tokens[:, :-1], tokens[:, 1:], size=64),
    )


# ---------------------------------------------------------------------------------------------
# 10. the focal frequency loss ported without its NaN guard, on letterboxed SR crops
# ---------------------------------------------------------------------------------------------
def focal_frequency_loss_without_its_nan_guard_on_letterboxed_crops():
    """A x2 super-resolution network for film frames (three Conv2D layers, depth_to_space,
    a residual over the bilinear upsampling; L1 + focal frequency loss) trained on random
    crops of letterboxed frames, about a quarter of them inside the black bars. The focal
    frequency loss weights each frequency by its distance |F(pred) - F(target)| normalized
    by the largest one of the crop; the reference code then sets the NaN weights to 0, a
    line the port left out. A black crop is reproduced exactly (0 in, zero biases, 0 out),
    every distance is 0 and the weight matrix is 0 / 0 = NaN, so the loss is NaN at the
    first step (the reference's NaN-to-0, or an epsilon in the normalizing maximum: the
    weights are then 0)."""
    rng = seeded(2209)
    n, lr_side = 512, 16
    hr = np.zeros((n, 2 * lr_side, 2 * lr_side, 1), dtype="float32")
    yy, xx = np.mgrid[0 : 2 * lr_side, 0 : 2 * lr_side]
    for i in range(n):
        if rng.random() < 0.25:
            continue  # a crop inside the black letterbox bar
        fx, fy = rng.uniform(0.05, 0.4, size=2)
        hr[i, ..., 0] = 0.5 + 0.3 * np.sin(fx * xx + fy * yy + rng.uniform(0, 6.28))
        hr[i, ..., 0] += 0.1 * rng.random((2 * lr_side, 2 * lr_side))
    lr = tf.image.resize(hr, (lr_side, lr_side), method="area").numpy()
    inputs = keras.Input((lr_side, lr_side, 1))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv0")(inputs)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(h)
    residual = keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2), name="shuffle")(h)
    upsampled = keras.layers.UpSampling2D(2, interpolation="bilinear", name="upsample")(inputs)
    outputs = keras.layers.Add(name="reconstruction")([upsampled, residual])
    model = keras.Model(inputs, outputs, name="sr_net")

    def focal_frequency_loss(pred, target, alpha=1.0):
        pred_f = tf.signal.fft2d(tf.complex(pred[..., 0], 0.0))
        target_f = tf.signal.fft2d(tf.complex(target[..., 0], 0.0))
        diff = pred_f - target_f
        distance = tf.math.real(diff) ** 2 + tf.math.imag(diff) ** 2
        weight = tf.sqrt(distance) ** alpha
        weight = weight / tf.reduce_max(weight, axis=[1, 2], keepdims=True)
        # (the reference sets weight[isnan(weight)] = 0 here)
        weight = tf.stop_gradient(tf.clip_by_value(weight, 0.0, 1.0))
        return tf.reduce_mean(weight * distance)

    def sr_loss(y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_true - y_pred)) + focal_frequency_loss(y_pred, y_true)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), sr_loss), batches(lr, hr, size=16)
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND22_SCENARIOS: list[Scenario] = [
    Scenario(
        "clip_by_norm_with_zero_meant_as_no_clipping",
        clip_by_norm_with_zero_meant_as_no_clipping,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="per-tensor tf.clip_by_norm(g, clip_norm) with clip_norm = 0 from a config where "
        "0 means 'no clipping': clip_by_norm computes g * 0 / max(|g|, 0), and behind a "
        "zero-initialized head the hidden gradients are exactly 0, so the clipped gradients "
        "are 0 / 0 = NaN and the first update writes NaN "
        "(https://github.com/clab/dynet/pull/181, https://github.com/flairNLP/flair/pull/3240, "
        "https://github.com/magenta/magenta/pull/1025, "
        "https://github.com/keras-team/keras/issues/14075)",
        blind=True,
    ),
    Scenario(
        "adam_by_hand_with_an_unsquared_second_moment",
        adam_by_hand_with_an_unsquared_second_moment,
        "optimizer_update",
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="Adam by hand with the second moment written beta2 v + (1 - beta2) g instead of "
        "g * g: v_hat = g after the first step and sqrt of its negative entries is NaN in the "
        "update (https://github.com/yandexdataschool/Practical_DL/pull/70, "
        "https://github.com/mbadry1/DeepLearning.ai-Summary/pull/119, "
        "https://github.com/mbadry1/DeepLearning.ai-Summary/pull/121, "
        "https://gptteams.ai/developer/algorithm-understand-adam-optimizer-intuitively)",
        blind=True,
    ),
    Scenario(
        "ideal_amplitude_mask_labels_of_zero_padded_clips",
        ideal_amplitude_mask_labels_of_zero_padded_clips,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="speech-enhancement mask labels |S| / |Y| computed in the tf.data map on clips "
        "zero-padded to a fixed length: the frames wholly in the padding are 0 / 0 = NaN in "
        "the label batch (https://github.com/yxlu-0102/MP-SENet/issues/33, "
        "https://github.com/speechbrain/speechbrain/issues/169, "
        "https://github.com/librosa/librosa/issues/448)",
        blind=True,
    ),
    Scenario(
        "retinanet_loss_normalized_by_positive_anchors_of_background_images",
        retinanet_loss_normalized_by_positive_anchors_of_background_images,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="the keras.io RetinaNet loss, focal and box sums divided per image by the number "
        "of positive anchors, ported with '/' instead of divide_no_nan: a background-only "
        "image divides by 0 (inf, 0 / 0) in the loss "
        "(https://github.com/keras-team/keras-io/issues/586, "
        "https://github.com/keras-team/keras-hub/pull/2791, "
        "https://github.com/kuangliu/pytorch-retinanet/issues/14, "
        "https://github.com/yhenon/pytorch-retinanet/issues/196)",
        blind=True,
    ),
    Scenario(
        "svdpp_implicit_term_of_users_without_history",
        svdpp_implicit_term_of_users_without_history,
        "activation",
        frozenset({"Rsqrt"}),
        "svdpp/implicit_feedback",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="SVD++'s |N(u)|^-1/2 sum y_j written with tf.math.rsqrt(count) over a padded "
        "list of viewed items: users without any viewed item get rsqrt(0) * 0 = inf * 0 = NaN "
        "inside the layer (https://github.com/NicolasHug/Surprise/issues/123, "
        "https://github.com/muricoca/crab/issues/69, "
        "https://github.com/mlpack/mlpack/pull/1458, "
        "https://github.com/Coder-Yu/QRec/pull/76)",
        blind=True,
    ),
    Scenario(
        "sinusoidal_time_encoding_of_elapsed_seconds_under_mixed_float16",
        sinusoidal_time_encoding_of_elapsed_seconds_under_mixed_float16,
        "activation",
        frozenset({"Cast"}),
        "event_transformer/time_encoding",
        "float16_range",
        frozenset({"float32_layer"}),
        story="a sinusoidal encoding of event times in raw elapsed seconds (up to ~2.6e5) in a "
        "transformer switched to mixed_float16: the layer casts the times to float16, those "
        "beyond 65504 are inf and sin / cos of inf are NaN inside the time-encoding layer "
        "(https://github.com/wfondrie/depthcharge/pull/82, "
        "https://github.com/hpcaitech/Open-Sora/pull/523, "
        "https://github.com/modelscope/DiffSynth-Studio/pull/1025)",
        blind=True,
    ),
    Scenario(
        "iwae_bound_by_hand_without_logsumexp",
        iwae_bound_by_hand_without_logsumexp,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset(),
        story="an IWAE bound written log(mean(exp(log_w))) from the paper's formula: log "
        "weights around -500 over 784 pixels underflow exp to 0 and the log of the mean is "
        "-inf in the loss at the first step; the reference code uses logsumexp "
        "(https://github.com/xqding/Importance_Weighted_Autoencoders/issues/2, "
        "https://github.com/scverse/scvi-tools/issues/13, "
        "https://github.com/mlberkeley/scae-pytorch/pull/4)",
        blind=True,
    ),
    Scenario(
        "orthogonal_regularizer_on_an_embedding_with_zero_rows",
        orthogonal_regularizer_on_an_embedding_with_zero_rows,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="an orthonormality regularizer (Keras' OrthogonalRegularizer cosine term plus "
        "a unit-norm term (|w_i| - 1)^2 with tf.norm) on an embedding initialized from a "
        "zeros matrix filled with GloVe rows (padding and OOV rows exactly 0): finite "
        "forward, but the norm's infinite derivative at 0 times 2 w = 0 is NaN in the "
        "gradient at the first step (https://github.com/keras-team/keras/issues/16518, "
        "https://github.com/keras-team/keras/issues/16682, "
        "https://keras.io/examples/nlp/pretrained_word_embeddings/)",
        blind=True,
    ),
    Scenario(
        "kerple_log_bias_without_the_one",
        kerple_log_bias_without_the_one,
        "activation",
        frozenset({"Log"}),
        "kerple_lm/log_distance_attention",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="KERPLE's logarithmic relative-position bias -r1 log(1 + r2 |m - n|) ported as "
        "-p log(a |m - n|): on the diagonal log(0) = -inf, the bias is +inf and the attention "
        "softmax is NaN inside the layer at the first forward pass "
        "(https://github.com/chijames/KERPLE/issues/2, "
        "https://github.com/chijames/KERPLE/issues/1, "
        "https://github.com/NVIDIA-NeMo/Speech/pull/8896)",
        blind=True,
    ),
    Scenario(
        "focal_frequency_loss_without_its_nan_guard_on_letterboxed_crops",
        focal_frequency_loss_without_its_nan_guard_on_letterboxed_crops,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="the focal frequency loss ported without the reference's weight[isnan] = 0: a "
        "black letterbox crop reproduced exactly has all spectrum distances 0 and the "
        "weight matrix distance / max(distance) is 0 / 0 = NaN in the loss "
        "(https://github.com/EndlessSora/focal-frequency-loss, "
        "https://github.com/CoinCheung/MFM/issues/3, "
        "https://arxiv.org/abs/2012.12821)",
        blind=True,
    ),
]
