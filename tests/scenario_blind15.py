"""A fifteenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind14.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears, why,
and the first fix to try), and all ten were written into this file before anything was run.
Fix ids are only those of the design notes' taxonomy; where none of them is the first fix a
careful engineer would try (the von Mises likelihood: compute log I0 in a scaled form; the
task weights: learn log sigma^2 instead of sigma), the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (and at which step), and (with tf.debugging.enable_check_numerics,
plain TF) which op first produces the non-finite value, in a throwaway script outside the
repository that stands in plain-TF versions of the loop helpers and asserts that nantrace was
never imported. No expectation field (kind, op types, layer, cause, fixes) was changed after
that check, and no pattern was dropped; three constructions were changed, as told below.
What the check showed, recorded without changing any field: at step 0, the raw byte counts
(loss ~1.8e21, finite; Adam's update leaves non-finite weights; first op: Square in Adam's
clip_by_global_norm), the CIoU loss (loss NaN; RealDiv of w / h in the aspect term), the GCN
(loss NaN; the float16 MatMul A @ (H W) of txn_gcn/gcn_out), the Euler CT-RNN (loss NaN; the Mul
(dt / tau) * (drive - h) in icu_ctrnn/ct_rnn/while/euler_cell), the bfloat16 layer norm (Rsqrt
in storm_net/station_norm: 19 of the first 64 rows NaN in eager mode; in the compiled step on
CPU grappler's fused MatMul+BiasAdd+ReLU maps those rows to 0, so the loss of step 0 is finite
(~2.1e5) while the gradients of gamma and of the hidden kernel are NaN and the update writes NaN)
and the uint8 statistics (every value of the batch NaN; check_numerics names conv0's Conv2D, the
first op on the batch; the compiled loss of step 0 is finite, log 4, by the same fused ReLU, and
the update writes NaN); at step 0 for the mixup batches too (images and labels NaN; Conv2D of
conv0 first; loss NaN), after the change below; at step 51 for the von Mises likelihood (loss
inf after falling to ~0.3; BesselI0 in the loss); at step 15 for the task sigmas, after the
change below (Log in the loss). The IRNN, after the change below, does NOT go non-finite where
its expectation says: the loss of step 1 is 4.2e28 and every gradient finite (up to 1.2e30), and
the first non-finite op is the Square of RMSprop's update, whose velocity slots for the RNN's
kernel, recurrent kernel and bias and the logits kernel become inf; the updates of those
entries are then 0, so the loss stays ~4.7e28 and the model's weights finite through all 192
steps. The expectation (kind gradient) is left as written.
Constructions changed after the first check, because the pattern as first built did not go
non-finite (expectation fields untouched, the docstrings and stories rewritten to match):
the IRNN first read 10x10 glyphs as 100-step sequences of [0, 1] pixels and stayed finite for
192 steps (and for 400-800 steps in variants: the recurrence settles at a spectral radius of
~1.0-1.2 and learns slowly); it now reads 28x28 glyphs as 784-step sequences, the length of
Keras' own example, with standardized pixels. The mixup pipeline first drew the gammas with
tf.random.gamma, as the keras.io example does: TF's gamma sampler (and keras.random.gamma /
keras.random.beta) clamps its samples at the smallest normal float, 1.18e-38, so alpha = 0
gives lambda = 0.5 for every row, a silent 50 / 50 mix and no NaN; it now uses the same sampler
in numpy (Generator.gamma(0) is exactly 0). The task sigmas were first trained by Adam(1e-2)
with the level three times larger: sigma_1 bounced between ~0.06 and ~0.3 for 256 steps (Adam's
normalized steps); they are now trained by SGD(1e-2, momentum 0.9) with the level scaled by 0.3
(at 0.5 or 1.0 under SGD sigma_1 is thrown upwards instead, so this one is sensitive).
Slips: before writing anything, `git log --oneline | head -5` was run in the work tree and
showed five commit subjects, one of which describes a nantrace rule (bytes of another type
decoded as float, clean_input's decode mode); no scenario here concerns decoded bytes. The
IRNN's construction was chosen with a probe whose 'gradient norm' was tf.linalg.global_norm,
which itself squares the gradients: its inf was read as overflowing gradients when they were
finite. One scenario has cause missing_epsilon (the CIoU loss). After the check, the module
was imported once through the real helpers (which import nantrace) only to confirm that it
loads and lists ten scenarios; no scenario was run under nantrace.
Caveats a reader should know: the von Mises likelihood is given cause unstable_loss (a
hand-written likelihood in an unstable form: the log of an overflowing normalizer, not of a
probability reaching 0); the bfloat16 layer norm is given two causes (a negative 'variance'
under sqrt, from bfloat16's precision rather than its range); the uint8 and bfloat16 scenarios
share the one-pass variance formula but fail for different reasons (integer wraparound in the
data pipeline, cancellation in the model); for the mixup and uint8 scenarios the fix id is
clean_input, the taxonomy's data fix, while the first fix an engineer makes is in the pipeline
(guard alpha > 0, cast before squaring), as blind14 did for decode_raw; the GCN shares a float16
matmul overflow with existing scenarios, through sums over hub neighbourhoods; the CT-RNN shares
elapsed times in raw units with the RMTPP / time-aware LSTM scenarios, through Euler's
instability.

This set favours situations ordinary Keras users meet: Adam's global_clipnorm on raw byte-count
features, the Keras IRNN example's identity recurrence at RMSprop's default rate, a hand-written
one-pass layer norm under mixed_bfloat16, a von Mises likelihood written with log(bessel_i0), the
CIoU box loss on a ReLU size head, mixup with alpha = 0 meant to switch it off, an unnormalized
GCN on a graph with hub nodes under mixed_float16, Kendall's uncertainty task weights learned as
sigma itself, per-channel image statistics accumulated in uint8, and a continuous-time RNN
stepped by explicit Euler over elapsed minutes. Each story cites the public report(s) the pattern
comes from. Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, dtype_policy, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


def _stroke_glyphs(rng, n, side, classes):
    """Dark images in [0, 1] with one bright stroke whose angle gives the class."""
    images = np.zeros((n, side, side), dtype="float32")
    labels = rng.integers(0, classes, size=n)
    centre = (side - 1) / 2.0
    for i in range(n):
        angle = np.pi * labels[i] / classes + 0.05 * rng.normal()
        for s in np.linspace(-side / 2.5, side / 2.5, 4 * side):
            r = int(round(centre + s * np.sin(angle)))
            c = int(round(centre + s * np.cos(angle)))
            images[i, r, c] = 1.0
    images += 0.05 * rng.random(images.shape).astype("float32")
    return np.clip(images, 0.0, 1.0), labels.astype("int32")


# ---------------------------------------------------------------------------------------------
# 1. Adam(global_clipnorm=1.0) on raw byte counts: a squared gradient overflows in the clipping
# ---------------------------------------------------------------------------------------------
def global_clipnorm_on_raw_byte_count_features():
    """Monthly-bill regressor for an ISP (a small ReLU MLP, MSE on the bill in dollars) fed the
    raw monthly byte counts (downloaded / uploaded bytes, ~1e10-1e11) next to a few small
    features. The loss was huge, so the author added Keras' usual safety net,
    Adam(global_clipnorm=1.0). The forward pass and the gradients are finite (the first
    kernel's gradient is ~1e20), but the clipping squares every gradient entry to get the
    global norm: (1e20)^2 overflows float32, the norm is inf, and Keras' clip_by_global_norm
    then scales every gradient by NaN on purpose (scale + (norm - norm)), so the update writes
    NaN into all weights at the first step (scale the byte counts)."""
    rng = seeded(1700)
    n = 2048
    bytes_down = rng.lognormal(np.log(6e10), 0.7, size=n)
    bytes_up = bytes_down * rng.uniform(0.05, 0.3, size=n)
    sessions = rng.poisson(800, size=n).astype("float64")
    plan = rng.integers(0, 3, size=n).astype("float64")
    tenure = rng.normal(size=n)
    region = rng.normal(size=n)
    bill = 15.0 + 10.0 * plan + 2e-10 * bytes_down + 6e-10 * bytes_up + 0.002 * sessions
    bill = bill + rng.normal(0.0, 3.0, size=n)
    x = np.stack([bytes_down, bytes_up, sessions, plan, tenure, region], axis=1).astype("float32")
    y = bill.reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="bill"),
        ],
        name="billing_mlp",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(learning_rate=1e-3, global_clipnorm=1.0),
            keras.losses.MeanSquaredError(),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. the IRNN of Le, Jaitly & Hinton (Keras' mnist_irnn example) at RMSprop's default rate
# ---------------------------------------------------------------------------------------------
def irnn_identity_recurrence_at_the_default_rmsprop_rate():
    """Pixel-by-pixel glyph classification (28x28 glyphs read as sequences of 784 standardized
    pixels, as in Keras' mnist_irnn example) with the example's IRNN: SimpleRNN(relu) with the
    recurrent kernel initialized to the identity and the input kernel to N(0, 0.001). The example
    trains it with RMSprop(1e-6); the author kept RMSprop's default 1e-3. The identity recurrence
    is exactly at the edge of stability: RMSprop's first updates move every recurrent weight by
    ~3e-3, the recurrence leaves the unit circle, and over 784 time steps the back-propagated
    gradients grow like rho^784 until the backward pass overflows while the forward values are
    still finite (the paper's own setting: a tiny learning rate and gradient clipping; or a
    gated RNN). The plain-TF check found otherwise: the gradients stay finite (~1e30) and the
    first inf is RMSprop's squared gradient; see the module docstring."""
    rng = seeded(1701)
    n, side, classes = 1024, 28, 10
    images, labels = _stroke_glyphs(rng, n, side, classes)
    x = images.reshape(n, side * side, 1)
    x = ((x - x.mean()) / x.std()).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((side * side, 1)),
            keras.layers.SimpleRNN(
                64,
                activation="relu",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                recurrent_initializer=keras.initializers.Identity(gain=1.0),
                name="irnn",
            ),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="pixel_irnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.RMSprop(learning_rate=1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels, size=32, epochs=6),
    )


# ---------------------------------------------------------------------------------------------
# 3. a hand-written one-pass layer norm, E[x^2] - E[x]^2, under mixed_bfloat16
# ---------------------------------------------------------------------------------------------
class OnePassLayerNorm(keras.layers.Layer):
    """Layer norm with the 'fast' one-pass variance E[x^2] - E[x]^2, as in several hand-written
    kernels; it runs in the policy's compute dtype."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        dim = input_shape[-1]
        self.gamma = self.add_weight(shape=(dim,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(dim,), initializer="zeros", name="beta")

    def call(self, x):
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        mean_sq = tf.reduce_mean(tf.square(x), axis=-1, keepdims=True)
        var = mean_sq - tf.square(mean)
        return (x - mean) * tf.math.rsqrt(var + self.epsilon) * self.gamma + self.beta


def one_pass_layer_norm_variance_under_mixed_bfloat16():
    """Gust forecaster on the barometric pressure of 24 stations in hPa (~1012, a few hPa
    apart), normalized per time step inside the model by a hand-written layer norm that uses the
    one-pass variance E[x^2] - E[x]^2, then trained under mixed_bfloat16 (TPU habits). In
    bfloat16 (8 significant bits) x ~ 1012 is held to a step of 4-8 and x^2 ~ 1e6 to a step of
    4096: E[x^2] and E[x]^2 cancel catastrophically, the 'variance' of a row whose true spread
    is ~10 hPa^2 comes out as -4096, 0 or 4096, and rsqrt of the negative ones is NaN inside the
    layer at the first forward pass (keep the normalization in float32, or the two-pass form)."""

    def build():
        rng = seeded(1702)
        n, stations = 2048, 24
        base = 1012.0 + 8.0 * rng.normal(size=(n, 1))
        offsets = 3.0 * rng.normal(size=(1, stations))
        front = np.linspace(-1.0, 1.0, stations)[None, :] * rng.normal(0.0, 2.0, size=(n, 1))
        pressure = base + offsets + front + 0.5 * rng.normal(size=(n, stations))
        gust = np.abs(pressure[:, :12].mean(1) - pressure[:, 12:].mean(1)) / 2.0
        x = pressure.astype("float32")
        y = gust.reshape(-1, 1).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((stations,)),
                OnePassLayerNorm(name="station_norm"),
                keras.layers.Dense(64, activation="relu", name="hidden"),
                keras.layers.Dense(1, dtype="float32", name="gust"),
            ],
            name="storm_net",
        )
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
            batches(x, y, size=64),
        )

    with dtype_policy("mixed_bfloat16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 4. a von Mises negative log-likelihood written with log(bessel_i0(kappa))
# ---------------------------------------------------------------------------------------------
def von_mises_nll_with_the_log_of_bessel_i0():
    """Wind-direction regressor (an MLP on standardized pressure-gradient features) trained with
    the von Mises negative log-likelihood -kappa cos(theta - mu) + log(2 pi I0(kappa)), written
    from the density with tf.math.bessel_i0; mu = atan2 of two outputs and kappa comes from an
    exponential head. The directions are nearly deterministic (about 1 degree of noise), so once
    mu is learned the likelihood keeps pushing kappa up (its optimum is ~1 / 0.02^2); I0(kappa)
    grows like e^kappa and overflows float32 for kappa > ~88, so log(I0) is inf in the loss
    after some steps of ordinary training (log I0(k) = log(i0e(k)) + k, as PyMC and Stan do)."""
    rng = seeded(1703)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    theta = np.arctan2(x[:, 0] + 0.5 * x[:, 2], x[:, 1] - 0.5 * x[:, 3])
    theta = theta + 0.02 * rng.normal(size=n)
    y = theta.reshape(-1, 1).astype("float32")
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(64, activation="relu", name="hidden0")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="hidden1")(h)
    direction = keras.layers.Dense(2, name="direction")(h)
    kappa = keras.layers.Dense(1, activation="exponential", name="concentration")(h)
    outputs = keras.layers.Concatenate(name="von_mises_params")([direction, kappa])
    model = keras.Model(inputs, outputs, name="wind_direction")

    def von_mises_nll(y_true, y_pred):
        mu = tf.atan2(y_pred[:, 1], y_pred[:, 0])
        k = y_pred[:, 2]
        log_norm = tf.math.log(2.0 * np.pi * tf.math.bessel_i0(k))
        return tf.reduce_mean(-k * tf.cos(y_true[:, 0] - mu) + log_norm)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(3e-3), von_mises_nll),
        batches(x, y, size=64, epochs=4),
    )


# ---------------------------------------------------------------------------------------------
# 5. CIoU's aspect-ratio term atan(w / h) on a ReLU box-size head
# ---------------------------------------------------------------------------------------------
def ciou_aspect_term_of_a_collapsed_relu_box():
    """Single-object localizer (a small CNN with a batch-normalized fully connected layer, a
    sigmoid head for the box centre and a ReLU head for its width and height, 'sizes are
    non-negative') trained in a custom loop with the CIoU loss of Zheng et al. written from the
    paper: 1 - IoU + rho^2 / c^2 + alpha v, v = 4 / pi^2 (atan(w_gt / h_gt) - atan(w / h))^2.
    For about half of the samples the ReLU size head outputs exactly 0 for h (and often for w):
    w / h is x / 0 = inf or 0 / 0 = NaN in the loss at the first step (YOLOv5 adds eps to h)."""
    rng = seeded(1704)
    n, size = 512, 32
    images = 0.1 * rng.random((n, size, size, 1))
    boxes = np.zeros((n, 4), dtype="float32")
    for i in range(n):
        w, h = rng.uniform(0.15, 0.6, size=2)
        cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
        r0, r1 = int((cy - h / 2) * size), int((cy + h / 2) * size)
        c0, c1 = int((cx - w / 2) * size), int((cx + w / 2) * size)
        images[i, r0:r1, c0:c1, 0] += 0.8
        boxes[i] = [cx, cy, w, h]
    images = images.astype("float32")
    inputs = keras.Input((size, size, 1))
    h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv0")(
        inputs
    )
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(64, activation="relu", name="fc")(h)
    h = keras.layers.BatchNormalization(name="fc_bn")(h)
    centre = keras.layers.Dense(2, activation="sigmoid", name="box_centre")(h)
    extent = keras.layers.Dense(2, activation="relu", name="box_size")(h)
    outputs = keras.layers.Concatenate(name="box")([centre, extent])
    model = keras.Model(inputs, outputs, name="box_regressor")

    def ciou_loss(model, x, y):
        p = model(x, training=True)
        pcx, pcy, pw, ph = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
        tcx, tcy, tw, th = y[:, 0], y[:, 1], y[:, 2], y[:, 3]
        px1, px2, py1, py2 = pcx - pw / 2, pcx + pw / 2, pcy - ph / 2, pcy + ph / 2
        tx1, tx2, ty1, ty2 = tcx - tw / 2, tcx + tw / 2, tcy - th / 2, tcy + th / 2
        inter_w = tf.maximum(tf.minimum(px2, tx2) - tf.maximum(px1, tx1), 0.0)
        inter_h = tf.maximum(tf.minimum(py2, ty2) - tf.maximum(py1, ty1), 0.0)
        inter = inter_w * inter_h
        union = pw * ph + tw * th - inter
        iou = inter / union
        cw = tf.maximum(px2, tx2) - tf.minimum(px1, tx1)
        ch = tf.maximum(py2, ty2) - tf.minimum(py1, ty1)
        rho2 = tf.square(pcx - tcx) + tf.square(pcy - tcy)
        v = (4.0 / np.pi**2) * tf.square(tf.atan(tw / th) - tf.atan(pw / ph))
        alpha = tf.stop_gradient(v / (1.0 - iou + v))
        return tf.reduce_mean(1.0 - iou + rho2 / (tf.square(cw) + tf.square(ch)) + alpha * v)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (tf.constant(images[i : i + 32]), tf.constant(boxes[i : i + 32])) for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, ciou_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 6. mixup's Beta(alpha, alpha) sampled as a ratio of gammas, with alpha = 0 to 'switch it off'
# ---------------------------------------------------------------------------------------------
def _sample_beta_distribution(rng, size, concentration_0, concentration_1):
    """The Beta sampler of the keras.io mixup example, a ratio of two gamma samples, ported to
    numpy for a Python-generator input pipeline."""
    gamma_1 = rng.gamma(concentration_1, size=size)
    gamma_2 = rng.gamma(concentration_0, size=size)
    with np.errstate(invalid="ignore"):
        return (gamma_1 / (gamma_1 + gamma_2)).astype("float32")


def mixup_alpha_zero_meant_to_switch_it_off():
    """Glyph classifier (a small CNN, soft-label cross-entropy from logits) whose Python-generator
    input pipeline mixes every batch with a shuffled copy of itself as in the keras.io mixup
    example, lambda ~ Beta(alpha, alpha) drawn as g1 / (g1 + g2) from two gamma samples (numpy's
    rng.gamma). The run config sets MIXUP_ALPHA = 0.0 meaning 'no mixup' (timm and fastai treat
    0 as off; the reference code guards with `if alpha > 0`), but this sampler has no guard:
    Gamma(0) samples are exactly 0, lambda is 0 / 0 = NaN for every row, and both the mixed
    images and the mixed labels of every batch hold NaN before any op of the model runs (skip
    mixup when alpha is 0)."""
    rng = seeded(1705)
    n, side, classes = 1024, 16, 8
    images, labels = _stroke_glyphs(rng, n, side, classes)
    images = images[..., None]
    onehot = np.eye(classes, dtype="float32")[labels]
    mixup_alpha = 0.0
    data = []
    for start in range(0, n, 64):
        xa, ya = images[start : start + 64], onehot[start : start + 64]
        perm = rng.permutation(len(xa))
        lam = _sample_beta_distribution(rng, len(xa), mixup_alpha, mixup_alpha)
        x_l = lam.reshape(-1, 1, 1, 1)
        y_l = lam.reshape(-1, 1)
        mixed_x = xa * x_l + xa[perm] * (1.0 - x_l)
        mixed_y = ya * y_l + ya[perm] * (1.0 - y_l)
        data.append((tf.constant(mixed_x), tf.constant(mixed_y)))
    model = keras.Sequential(
        [
            keras.Input((side, side, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="glyph_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.CategoricalCrossentropy(from_logits=True),
        ),
        data,
    )


# ---------------------------------------------------------------------------------------------
# 7. a GCN on the raw adjacency (no D^-1/2 A D^-1/2) of a graph with hubs, under mixed_float16
# ---------------------------------------------------------------------------------------------
class GraphConv(keras.layers.Layer):
    """Kipf & Welling's layer as support = H W, out = A support, with A passed as given."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        features = input_shape[0][-1]
        self.kernel = self.add_weight(
            shape=(features, self.units), initializer="glorot_uniform", name="kernel"
        )

    def call(self, inputs):
        h, adjacency = inputs
        support = tf.matmul(h, self.kernel)
        return self.activation(tf.matmul(adjacency, support))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)


def unnormalized_gcn_aggregation_at_hub_nodes_under_mixed_float16():
    """Fraud classifier on a transaction graph (1200 accounts, each with a few counterparties,
    plus two payment-processor hubs that touch ~900 accounts each), a 3-layer GCN written by
    hand, full-batch custom loop, under mixed_float16 with the logits cast to float32 at the end
    as the mixed-precision guide shows. The author fed the raw adjacency with self-loops, A + I,
    instead of the renormalized D^-1/2 (A + I) D^-1/2: every layer SUMS its neighbours, so a
    hub's row adds ~900 neighbour vectors that all carry the hub's own earlier sum. The values
    are finite in float32 (~1e5), but in float16 the last layer's aggregation A @ (H W) passes
    65504 for the hub rows: inf in that MatMul at the first forward pass (normalize the
    adjacency; in mixed precision, keep the aggregation in float32)."""

    def build():
        rng = seeded(1706)
        nodes, feats, classes = 1200, 16, 3
        adjacency = np.zeros((nodes, nodes), dtype="float32")
        for v in range(nodes):
            for u in rng.choice(nodes, size=3, replace=False):
                adjacency[v, u] = adjacency[u, v] = 1.0
        for hub in (0, 1):
            members = rng.choice(np.arange(2, nodes), size=900, replace=False)
            adjacency[hub, members] = adjacency[members, hub] = 1.0
        adjacency += np.eye(nodes, dtype="float32")
        adjacency = np.minimum(adjacency, 1.0)
        x = rng.random((nodes, feats)).astype("float32")
        degree = adjacency.sum(1, keepdims=True)
        smoothed = (adjacency @ x) / degree
        labels = np.argmax(x[:, :classes] + smoothed[:, :classes], axis=1).astype("int32")
        mask = (rng.random(nodes) < 0.3).astype("float32")
        x_in = keras.Input((feats,), name="features")
        a_in = keras.Input((nodes,), name="adjacency")
        h = GraphConv(32, activation="relu", name="gcn0")([x_in, a_in])
        h = GraphConv(32, activation="relu", name="gcn1")([h, a_in])
        h = GraphConv(classes, name="gcn_out")([h, a_in])
        logits = keras.layers.Activation("linear", dtype="float32", name="logits_f32")(h)
        model = keras.Model([x_in, a_in], logits, name="txn_gcn")
        optimizer = keras.optimizers.Adam(1e-2)

        def train_step(xb, ab, yb, mb):
            with tf.GradientTape() as tape:
                out = model([xb, ab], training=True)
                per_node = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=out)
                loss = tf.reduce_sum(per_node * mb) / tf.reduce_sum(mb)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        train_step.model, train_step.optimizer = model, optimizer
        batch = (tf.constant(x), tf.constant(adjacency), tf.constant(labels), tf.constant(mask))
        return run_loop(train_step, [batch] * 30, model=model, optimizer=optimizer)

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 8. Kendall et al.'s uncertainty task weights learned as sigma itself, not log sigma^2
# ---------------------------------------------------------------------------------------------
def uncertainty_task_weights_learning_sigma_directly():
    """Two-task sensor model (an LSTM trunk over 24-step windows of 6 channels; a regression head
    for the window's level, in units where its spread is ~0.06, and a 4-class event head) whose
    losses are balanced with Kendall, Gal & Cipolla's homoscedastic uncertainty,
    L_reg / (2 sigma_1^2) + log sigma_1 + L_cls / sigma_2^2 + log sigma_2, with the two sigmas
    trained directly as free variables started at 1 by the loop's SGD with momentum (the paper
    learns s = log sigma^2 'for numerical stability'). The level loss is small (~1e-2), so the
    gradient on sigma_1, ~1 / sigma_1, keeps pushing it down and grows as it shrinks; with
    momentum one update carries sigma_1 past 0, and log(sigma_1) of the negative sigma is NaN in
    the loss at the next step."""
    rng = seeded(1707)
    n, steps, channels = 2048, 24, 6
    x = rng.normal(size=(n, steps, channels)).astype("float32")
    level = (0.3 * x[:, :, 0].mean(1, keepdims=True)).astype("float32")
    score = x[:, -6:, 1].mean(1) + 0.5 * x[:, :, 2].mean(1) + 0.3 * rng.normal(size=n)
    event = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75])).astype("int32")
    inputs = keras.Input((steps, channels), name="window")
    h = keras.layers.LSTM(32, name="trunk")(inputs)
    level_out = keras.layers.Dense(1, name="level")(h)
    event_out = keras.layers.Dense(4, name="event")(h)
    model = keras.Model(inputs, [level_out, event_out], name="multitask_lstm")
    sigmas = keras.Variable(np.ones(2, dtype="float32"), name="task_sigmas")
    optimizer = keras.optimizers.SGD(learning_rate=1e-2, momentum=0.9)
    cce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(xb, level_b, event_b):
        variables = model.trainable_variables + [sigmas]
        with tf.GradientTape() as tape:
            level_pred, event_logits = model(xb, training=True)
            loss_reg = tf.reduce_mean(tf.square(level_b - level_pred))
            loss_cls = cce(event_b, event_logits)
            s_reg, s_cls = sigmas[0], sigmas[1]
            loss = (
                loss_reg / (2.0 * tf.square(s_reg))
                + tf.math.log(s_reg)
                + loss_cls / tf.square(s_cls)
                + tf.math.log(s_cls)
            )
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    data = [
        (tf.constant(x[i : i + 64]), tf.constant(level[i : i + 64]), tf.constant(event[i : i + 64]))
        for _ in range(8)
        for i in range(0, n, 64)
    ]
    return run_loop(train_step, data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 9. per-channel image std accumulated chunk by chunk with uint8 ** 2 (wraps modulo 256)
# ---------------------------------------------------------------------------------------------
def uint8_squares_wrap_in_a_streaming_channel_std():
    """Land-cover tile classifier (a small CNN on 16x16 RGB tiles stored as uint8). The dataset is
    streamed, so the per-channel mean and std for standardization are accumulated chunk by
    chunk as sum(x) and sum(x ** 2), then std = sqrt(E[x^2] - E[x]^2). numpy keeps uint8 ** 2 in
    uint8, so every square wraps modulo 256: E[x^2] comes out below 256 while E[x]^2 is ~1e4,
    the 'variance' of every channel is negative, its sqrt is NaN (numpy only warns), and every
    standardized tile is NaN before any op runs (cast to float before squaring)."""
    rng = seeded(1708)
    n, size, classes = 1024, 16, 4
    palette = np.array([[70, 110, 60], [150, 140, 110], [60, 80, 140], [180, 180, 175]])
    labels = rng.integers(0, classes, size=n)
    tiles = palette[labels][:, None, None, :] + rng.normal(0.0, 25.0, size=(n, size, size, 3))
    tiles = np.clip(tiles, 0, 255).astype(np.uint8)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    for start in range(0, n, 128):
        chunk = tiles[start : start + 128]
        total += chunk.sum(axis=(0, 1, 2))
        total_sq += (chunk**2).sum(axis=(0, 1, 2))
        count += chunk.shape[0] * size * size
    mean = total / count
    with np.errstate(invalid="ignore"):
        std = np.sqrt(total_sq / count - mean**2)
        x = ((tiles - mean) / std).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="landcover_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels.astype("int32"), size=32),
    )


# ---------------------------------------------------------------------------------------------
# 10. a continuous-time RNN stepped by explicit Euler over the elapsed minutes
# ---------------------------------------------------------------------------------------------
class EulerCTRNNCell(keras.layers.Layer):
    """dh/dt = (-h + tanh(W x + U h + b)) / tau, one explicit Euler step per observation over the
    elapsed time dt, which is the input's last column."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        features = input_shape[-1] - 1
        self.kernel = self.add_weight(
            shape=(features, self.units), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.tau = self.add_weight(shape=(self.units,), initializer="ones", name="tau")

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x, dt = inputs[:, :-1], inputs[:, -1:]
        drive = tf.tanh(tf.matmul(x, self.kernel) + tf.matmul(h, self.recurrent_kernel) + self.bias)
        h = h + (dt / self.tau) * (drive - h)
        return h, [h] if isinstance(states, (list, tuple)) else h


def ct_rnn_euler_step_over_elapsed_minutes():
    """In-hospital deterioration model on irregularly sampled vitals (48 observations per stay, 4
    standardized vitals plus the minutes elapsed since the previous observation, ~1 hour on
    average): a continuous-time RNN, tau dh/dt = -h + tanh(W x + U h + b), integrated by one
    explicit Euler step per observation, h += (dt / tau) (drive - h), with tau started at 1.
    Explicit Euler is stable only for dt / tau < 2; with dt in raw minutes each step multiplies
    h by (1 - dt / tau) ~ -60, so the hidden state grows by ~30x per observation and the
    product (dt / tau) * (drive - h) overflows inside the recurrent layer about 25 observations
    into the first forward pass (give dt in units of tau, e.g. hours or standardized; or a
    stable / fused solver as the LTC networks use)."""
    rng = seeded(1709)
    n, steps, vitals = 512, 48, 4
    values = rng.normal(size=(n, steps, vitals))
    elapsed = rng.exponential(60.0, size=(n, steps, 1))
    elapsed[:, 0, 0] = 0.0
    x = np.concatenate([values, elapsed], axis=-1).astype("float32")
    risk = values[:, -8:, 0].mean(1) - values[:, -8:, 1].mean(1) + 0.5 * rng.normal(size=n)
    y = (risk > 0.3).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((steps, vitals + 1)),
            keras.layers.RNN(EulerCTRNNCell(32, name="euler_cell"), name="ct_rnn"),
            keras.layers.Dense(1, name="risk_logit"),
        ],
        name="icu_ctrnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND15_SCENARIOS: list[Scenario] = [
    Scenario(
        "global_clipnorm_on_raw_byte_count_features",
        global_clipnorm_on_raw_byte_count_features,
        "optimizer_update",
        frozenset({"Square", "Sum", "L2Loss"}),
        None,
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="Adam(global_clipnorm=1.0) added as a safety net to an MLP fed raw monthly byte "
        "counts (~1e11): forward and gradients finite (~1e20), but squaring them for the global "
        "norm overflows, the norm is inf and clip_by_global_norm scales every gradient by NaN on "
        "purpose; scale the byte counts "
        "(https://github.com/tensorflow/tensorflow/issues/21363, "
        "https://github.com/tensorflow/tensorflow/pull/27733, "
        "https://github.com/keras-team/keras/issues/14075, "
        "https://github.com/google-research/bert/issues/250)",
        blind=True,
    ),
    Scenario(
        "irnn_identity_recurrence_at_the_default_rmsprop_rate",
        irnn_identity_recurrence_at_the_default_rmsprop_rate,
        "gradient",
        frozenset(),
        None,
        frozenset({"recurrent_explosion", "learning_rate_too_high"}),
        frozenset({"lower_learning_rate", "clip_gradients", "use_gated_rnn"}),
        story="the IRNN of Keras' mnist_irnn example (SimpleRNN(relu), identity recurrent "
        "kernel) on 784-step standardized pixel sequences at RMSprop's default 1e-3 instead of the example's "
        "1e-6: the recurrence leaves the edge of stability and the gradients through time "
        "overflow in the backward pass; a small rate with clipping, or a gated RNN "
        "(https://github.com/keras-team/keras/pull/316, "
        "https://github.com/keras-team/keras/pull/275, "
        "https://github.com/batzner/indrnn/issues/19, "
        "https://arxiv.org/abs/1504.00941)",
        blind=True,
    ),
    Scenario(
        "one_pass_layer_norm_variance_under_mixed_bfloat16",
        one_pass_layer_norm_variance_under_mixed_bfloat16,
        "activation",
        frozenset({"Rsqrt"}),
        "storm_net/station_norm",
        frozenset({"domain_error", "float16_range"}),
        frozenset({"float32_layer"}),
        story="a hand-written layer norm with the one-pass variance E[x^2] - E[x]^2 on pressures "
        "in hPa (~1012) under mixed_bfloat16: bfloat16 holds x^2 ~ 1e6 to a step of 4096, the "
        "'variance' cancels to -4096 / 0 / 4096 and rsqrt of the negative rows is NaN inside the "
        "layer; keep the norm in float32 (or two-pass) "
        "(https://github.com/tenstorrent/tt-metal/issues/45968, "
        "https://github.com/patrick-kidger/equinox/pull/314, "
        "https://github.com/anthonymlortiz/lcn/issues/4, "
        "https://github.com/microsoft/onnxruntime/issues/28463, "
        "https://github.com/dingo-actual/om/issues/11)",
        blind=True,
    ),
    Scenario(
        "von_mises_nll_with_the_log_of_bessel_i0",
        von_mises_nll_with_the_log_of_bessel_i0,
        "loss",
        frozenset({"BesselI0"}),
        None,
        "unstable_loss",
        frozenset(),
        story="a von Mises NLL written from the density, log(2 pi I0(kappa)) with "
        "tf.math.bessel_i0, on nearly noise-free wind directions: the likelihood drives kappa "
        "past ~88 and I0 overflows float32 in the loss; log I0 as log(i0e(k)) + k "
        "(https://github.com/pymc-devs/pymc/pull/2832, "
        "https://github.com/stan-dev/math/issues/1076, "
        "https://github.com/stan-dev/math/issues/3035, "
        "https://github.com/chrschy/mvmdist/pull/3)",
        blind=True,
    ),
    Scenario(
        "ciou_aspect_term_of_a_collapsed_relu_box",
        ciou_aspect_term_of_a_collapsed_relu_box,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="the CIoU loss written from the paper, v = 4 / pi^2 (atan(w_gt / h_gt) - "
        "atan(w / h))^2, on a ReLU width/height head: boxes whose height is exactly 0 give "
        "w / 0 = inf or 0 / 0 = NaN in the loss; eps in h as YOLOv5 does "
        "(https://github.com/pythonlessons/TensorFlow-2.x-YOLOv3/issues/144, "
        "https://github.com/tensorflow/addons/pull/914, "
        "https://github.com/Megvii-BaseDetection/YOLOX/issues/1565, "
        "https://github.com/ultralytics/yolov5/pull/10051, "
        "https://arxiv.org/abs/1911.08287)",
        blind=True,
    ),
    Scenario(
        "mixup_alpha_zero_meant_to_switch_it_off",
        mixup_alpha_zero_meant_to_switch_it_off,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="mixup with the keras.io example's Beta sampler g1 / (g1 + g2) ported to numpy's "
        "rng.gamma and MIXUP_ALPHA = 0.0 meant as 'off': Gamma(0) samples are 0, lambda is "
        "0 / 0 = NaN and every mixed image and label of every batch is NaN; guard alpha > 0 "
        "(https://keras.io/examples/vision/mixup/, "
        "https://github.com/NVIDIA/DALI/pull/5550, "
        "https://github.com/tensorflow/models/issues/13490, "
        "https://github.com/hongyi-zhang/Fixup/issues/5, "
        "https://arxiv.org/abs/1710.09412)",
        blind=True,
    ),
    Scenario(
        "unnormalized_gcn_aggregation_at_hub_nodes_under_mixed_float16",
        unnormalized_gcn_aggregation_at_hub_nodes_under_mixed_float16,
        "matmul_overflow",
        frozenset({"MatMul"}),
        "txn_gcn/gcn_out",
        "float16_range",
        frozenset({"float32_layer"}),
        story="a 3-layer GCN by hand on the raw adjacency A + I (no D^-1/2 A D^-1/2) of a "
        "transaction graph with two ~900-neighbour hubs, under mixed_float16: sums of sums reach "
        "~1e5 at the hubs and the last layer's float16 aggregation A @ (H W) overflows 65504; "
        "normalize the adjacency / keep the aggregation in float32 "
        "(https://arxiv.org/abs/1609.02907, "
        "https://github.com/pyg-team/pytorch_geometric/issues/1400, "
        "https://github.com/datamol-io/graphium/issues/406)",
        blind=True,
    ),
    Scenario(
        "uncertainty_task_weights_learning_sigma_directly",
        uncertainty_task_weights_learning_sigma_directly,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="Kendall et al.'s uncertainty weighting L / (2 sigma^2) + log sigma with sigma "
        "itself a free variable (not s = log sigma^2): on a task with a small loss sigma is "
        "driven towards 0, an SGD-momentum step carries it below 0 and log(sigma) is NaN in the "
        "loss; learn "
        "log sigma^2 "
        "(https://github.com/QunBB/DeepLearning/issues/1, "
        "https://github.com/Mikoto10032/AutomaticWeightedLoss/issues/2, "
        "https://github.com/yaringal/multi-task-learning-example/issues/6, "
        "https://arxiv.org/abs/1705.07115)",
        blind=True,
    ),
    Scenario(
        "uint8_squares_wrap_in_a_streaming_channel_std",
        uint8_squares_wrap_in_a_streaming_channel_std,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="per-channel std of uint8 tiles accumulated as sum(x ** 2) chunk by chunk: numpy "
        "keeps uint8 ** 2 in uint8 (mod 256), E[x^2] - E[x]^2 is negative, the std NaN and every "
        "standardized tile NaN; cast before squaring "
        "(https://github.com/huggingface/lerobot/pull/3697, "
        "https://github.com/numpy/numpy/issues/22305, "
        "https://github.com/open-mmlab/mmagic/issues/288)",
        blind=True,
    ),
    Scenario(
        "ct_rnn_euler_step_over_elapsed_minutes",
        ct_rnn_euler_step_over_elapsed_minutes,
        "activation",
        frozenset({"Mul"}),
        None,
        frozenset({"unscaled_input", "recurrent_explosion"}),
        frozenset({"rescale_input"}),
        story="a continuous-time RNN by hand, h += (dt / tau) (tanh(W x + U h + b) - h), one "
        "explicit Euler step per observation with the elapsed time in raw minutes (~60, tau = 1): "
        "each step multiplies h by ~(1 - dt / tau) and the Euler product overflows inside the "
        "recurrent layer; give dt in units of tau "
        "(https://github.com/YuliaRubanova/latent_ode/issues/12, "
        "https://github.com/rtqichen/torchdiffeq/issues/105, "
        "https://arxiv.org/abs/2006.04439)",
        blind=True,
    ),
]
