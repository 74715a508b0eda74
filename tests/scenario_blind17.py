"""A seventeenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind16.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests; each story cites them. Fix ids are
only those of the design notes' taxonomy; where none of them is the first fix a careful engineer
would try (the pole collocation points: multiply the equation through by sin^2 or sample inside
the open interval; the drop-path rule: keep every rate below 1; the class-balanced weights: give
a class without samples weight 0 or a count of 1; the Mahalanobis layer: a pseudo-inverse or
one dummy column dropped), the fix set is left empty.

While choosing the patterns, and before writing, one grep of the installed Keras
GroupNormalization source was run (it upcasts float16 inputs to float32, so the float16 scenario
below writes its normalization by hand, as the ported code it stands for does), with the Keras
version printed; it touched neither nantrace nor this file. A first candidate (a Graves-style
handwriting MDN whose tanh correlation saturates) was dropped before writing, because its
trip depends on training dynamics that could not be argued to reach float32 saturation.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights and optimizer variables, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, records whether each
step's gradients are finite through a patched GradientTape.gradient, and asserts that nantrace
was never imported. No expectation field (kind, op types, layer, cause, fixes) was changed
after that check, and no pattern was dropped; two constructions were changed, as told below.
What the check showed, recorded without changing any field, all at step 0: Shampoo (loss 2.31,
gradients finite, every weight non-finite after the update; first op the Pow of the eigenvalues
of a 64 x 64 R), the noise mixing (loss NaN; the first op is the front end's Conv2D on the NaN
clips), the winsorized column (the compiled loss is finite, 0.693, while the gradients are not
and hidden0's kernel and Adam slots become NaN; first op hidden0's MatMul on the NaN column),
the PINN (loss NaN; RealDiv in the residual), the drop path (loss NaN; RealDiv), the NTM (loss
NaN; RealDiv inside the RNN's while body), the class-balanced loss (loss NaN; the RealDiv
(1 - beta) / E_n in the loss), the instance normalization (loss NaN; Rsqrt) and, after the
changes below, NeRF (loss finite, 0.201; gradients NaN, then every kernel and its Adam slots;
first op the RealDiv of the cumprod's backward) and the Mahalanobis layer (the compiled loss is
finite, 9.61, the gradients are not, hidden0's kernel becomes NaN; first op the layer's Sqrt).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): NeRF first used tf.math.cumprod's own gradient and stayed finite
for all 16 steps: TF 2.21's registered Cumprod gradient now divides with div_no_nan (read in
its source after the check, as was a one-line probe of it), so the 0 / 0 of the reports
(TF before 2.21, Theano, PyTensor) no longer occurs there; the renderer now calls a small
exclusive-cumprod helper that carries the division-based gradient. The Mahalanobis layer first
used raw one-hot columns and stayed finite for all 64 steps: with exact 0 / 1 dummies the
float32 quadratic form cancelled to exactly 0 on every row (a numpy probe outside the
repository printed the covariance's eigenvalues, the precision's size and the squared
distances); the whole table, dummies included, is now standardized, as a StandardScaler over
every column does, and 95 % of the squared distances come out negative.
Slips: the NeRF scenario's first construction rested on a belief about TF's Cumprod gradient
that TF 2.21 no longer holds (found by the check). Two scenarios have cause missing_epsilon for
a division by an exact zero that an epsilon would silence but not really fix (the pole of the
PINN, the drop rate of 1); their fix sets are empty.
Caveats a reader should know: five scenarios have cause missing_epsilon in five different
places (a cumprod's backward, a residual's coordinate singularity, a drop-path rescale, a
cosine of a zero memory, class weights of a class without samples); Shampoo is given both
missing_epsilon and domain_error, since its zero eigenvalues come back as exact zeros (inf) or
as roundoff negatives (NaN) and epsilon * I cures both; the instance normalization is given
float16_range for an epsilon that underflows to 0 in float16 (the taxonomy's own example of an
underflow), with float32_layer and add_epsilon both accepted; the two input_data scenarios
have clean_input, the taxonomy's data fix, while the first fix an engineer makes is in the
pipeline (drop silent noise files; np.nanpercentile).

This set favours situations ordinary Keras users meet: NeRF's volume rendering written without
the 1e-10 inside its cumprod, Shampoo with its statistics started at zero, SNR-controlled noise
mixing with a noise bank that holds digitally silent files, winsorizing with np.percentile on a
column with a few missing cells, a PINN for the Laplace-Beltrami equation sampled on a (theta,
phi) rectangle that includes the pole, stochastic depth's linear rule ported without its
(1 - p_L) factor, a Neural Turing Machine whose memory starts at Keras' zero initial state, the
class-balanced loss with a class that has no training sample, a Mahalanobis-distance feature
over one-hot columns inverted with np.linalg.inv, and an instance normalization copied with
BERT's 1e-12 epsilon into a mixed_float16 model. Layer names are set explicitly only so the
expectations can name them.
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


# ---------------------------------------------------------------------------------------------
# 1. NeRF volume rendering with the transmittance cumprod written without its + 1e-10
# ---------------------------------------------------------------------------------------------
def _positional_encoding(points, frequencies):
    """NeRF's gamma(p): p and sin / cos of 2^k pi p for k < frequencies, per coordinate."""
    features = [points]
    for k in range(frequencies):
        features.append(np.sin((2.0**k) * np.pi * points))
        features.append(np.cos((2.0**k) * np.pi * points))
    return np.concatenate(features, axis=-1).astype("float32")


@tf.custom_gradient
def _exclusive_cumprod(x):
    """tf.math.cumprod(x, exclusive=True) along the last axis with the division-based gradient
    cumsum(prod * dy, reverse) / x that TF registered for Cumprod before 2.21 and that Theano /
    PyTensor used (TF 2.21 divides with div_no_nan instead; see the module docstring)."""
    y = tf.math.cumprod(x, axis=-1, exclusive=True)

    def grad(dy):
        return tf.cumsum(y * dy, axis=-1, exclusive=True, reverse=True) / x

    return y, grad


class VolumeRender(keras.layers.Layer):
    """NeRF's quadrature along each ray: alpha_i = 1 - exp(-sigma_i delta_i), with the last
    interval 1e10 long as in the reference code, T_i = prod_{j<i} (1 - alpha_j) and the colour
    sum_i T_i alpha_i c_i; the transmittance is written tf.math.cumprod(1 - alpha, exclusive=True)
    WITHOUT the + 1e-10 the reference code adds inside the cumprod."""

    def __init__(self, t_vals, **kwargs):
        super().__init__(**kwargs)
        dists = np.concatenate([np.diff(t_vals), [1e10]]).astype("float32")
        self.dists = tf.constant(dists)

    def call(self, raw):
        rgb = tf.sigmoid(raw[..., :3])
        sigma = tf.nn.relu(raw[..., 3])
        alpha = 1.0 - tf.exp(-sigma * self.dists)
        transmittance = _exclusive_cumprod(1.0 - alpha)
        weights = alpha * transmittance
        return tf.reduce_sum(weights[..., None] * rgb, axis=-2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 3)


def nerf_transmittance_cumprod_without_its_offset():
    """A small NeRF for one object (a shaded sphere in front of a black background, 32 samples
    per ray between the near and far planes, positional encoding with 4 frequencies, an MLP
    applied to every sample that gives 3 colour logits and a ReLU density) trained on pixel
    colours with MSE. The renderer follows the reference code, last interval 1e10, but writes
    the transmittance as cumprod(1 - alpha, exclusive=True) without the + 1e-10 the reference
    adds inside it: wherever a sample's density is positive on the last interval (or large
    enough elsewhere), alpha is exactly 1 and 1 - alpha exactly 0. The forward pass is finite,
    but the Cumprod gradient divides by the input (cumsum(...) / x, the known TF / Theano
    limitation, kept here by the helper above since TF 2.21 changed it), so in the backward pass of the first step that entry's gradient is 0 / 0 = NaN, which reaches
    the density output and every kernel of the MLP (put the 1e-10 back)."""
    rng = seeded(1700)
    n_rays, samples, near, far = 1024, 32, 2.0, 6.0
    origins = np.tile(np.array([[0.0, 0.0, 4.0]]), (n_rays, 1))
    targets_on_plane = np.concatenate(
        [rng.uniform(-1.6, 1.6, size=(n_rays, 2)), np.zeros((n_rays, 1))], axis=1
    )
    directions = targets_on_plane - origins
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    t_vals = np.linspace(near, far, samples)
    points = origins[:, None, :] + t_vals[None, :, None] * directions[:, None, :]
    b = np.sum(origins * directions, axis=1)
    disc = b**2 - (np.sum(origins**2, axis=1) - 1.0)
    hit = disc > 0
    t_hit = np.where(hit, -b - np.sqrt(np.clip(disc, 0.0, None)), 0.0)
    normal = origins + t_hit[:, None] * directions
    shade = np.clip(normal @ np.array([0.4, 0.4, 0.8]), 0.0, 1.0)
    colours = np.where(hit[:, None], shade[:, None] * np.array([[0.9, 0.3, 0.2]]), 0.0)
    encoded = _positional_encoding(points / 4.0, 4)
    colours = colours.astype("float32")

    rays = keras.Input((samples, encoded.shape[-1]), name="encoded_samples")
    h = keras.layers.Dense(64, activation="relu", name="field0")(rays)
    h = keras.layers.Dense(64, activation="relu", name="field1")(h)
    raw = keras.layers.Dense(4, name="rgb_sigma")(h)
    rgb = VolumeRender(t_vals, name="volume_render")(raw)
    model = keras.Model(rays, rgb, name="tiny_nerf")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(5e-4), keras.losses.MeanSquaredError()),
        batches(encoded, colours, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. Shampoo written by hand with its statistics started at zero instead of epsilon * I
# ---------------------------------------------------------------------------------------------
def shampoo_statistics_started_at_zero_instead_of_epsilon_identity():
    """Tabular regressor (an MLP on 10 standardized features, MSE) trained in a custom loop by
    Shampoo written by hand from the paper: for each weight matrix G (biases as n x 1 columns)
    L += G G^T, R += G^T G and the update L^{-1/4} G R^{-1/4}, the inverse roots taken by
    eigendecomposition. The paper starts L and R at epsilon * I; this port starts them at zero.
    After the first step L and R are Gram matrices of rank at most min(m, n) (R of a 10 x 64
    kernel has rank <= 10; the bias columns give 1 x 1 matrices ||g||^2, exactly 0 for units
    that are dead on the batch): their zero eigenvalues come back from eigh as exact zeros or as
    roundoff-size negatives, and e ** -0.25 is inf or NaN in the update, which writes it into
    the weights at the first step while the forward pass and the gradients are finite (start
    the statistics at epsilon * I)."""
    rng = seeded(1701)
    n, dim = 2048, 10
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim, 1))
    y = (x @ w + 0.5 * np.tanh(x[:, :1] * x[:, 1:2]) + 0.1 * rng.normal(size=(n, 1))).astype(
        "float32"
    )
    model = mlp([64, 32], name="shampoo_mlp", input_dim=dim)
    lr = 0.05
    stats = [
        (
            tf.Variable(tf.zeros((v.shape[0], v.shape[0])), trainable=False),
            tf.Variable(
                tf.zeros((v.shape[1], v.shape[1]) if len(v.shape) == 2 else (1, 1)),
                trainable=False,
            ),
        )
        for v in model.trainable_variables
    ]
    mse = keras.losses.MeanSquaredError()

    def inverse_fourth_root(matrix):
        eigenvalues, eigenvectors = tf.linalg.eigh(matrix)
        scaled = eigenvectors * tf.pow(eigenvalues, -0.25)[None, :]
        return tf.matmul(scaled, eigenvectors, transpose_b=True)

    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = mse(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        for var, g, (left, right) in zip(model.trainable_variables, grads, stats, strict=True):
            g2 = tf.reshape(g, (g.shape[0], -1))
            left.assign_add(tf.matmul(g2, g2, transpose_b=True))
            right.assign_add(tf.matmul(g2, g2, transpose_a=True))
            update = inverse_fourth_root(left) @ g2 @ inverse_fourth_root(right)
            var.assign_sub(lr * tf.reshape(update, var.shape))
        return loss

    train_step.model = model
    return run_loop(train_step, batches(x, y, size=64), model=model)


# ---------------------------------------------------------------------------------------------
# 3. noise mixed at a target SNR from a noise bank that holds digitally silent files
# ---------------------------------------------------------------------------------------------
def snr_noise_mixing_with_digitally_silent_noise_files():
    """Keyword spotter on raw 8 kHz waveforms (half-second clips, a strided Conv1D front end)
    trained on clean keyword clips augmented offline with background noise mixed at a random
    SNR of 0-20 dB: gain = sqrt(P_speech / (P_noise 10^(SNR / 10))), mixture = speech + gain *
    noise, as in the usual AddNoise / AddBackgroundNoise code. The noise bank (as in the DNS
    challenge set) contains a few files that are all zeros: P_noise = 0, the gain is inf and
    inf * 0 = NaN in every sample of the mixture, numpy only warning. The batches hold NaN
    clips before any op runs (drop silent noise files, as the DNS script's activity threshold
    does, or guard the gain)."""
    rng = seeded(1702)
    n, length, classes, bank = 512, 4000, 4, 40
    t = np.arange(length) / 8000.0
    labels = rng.integers(0, classes, size=n)
    base = np.array([300.0, 520.0, 760.0, 1100.0])[labels]
    sweep = rng.uniform(0.8, 1.2, size=n)
    envelope = np.exp(-(((t[None, :] - rng.uniform(0.15, 0.35, size=(n, 1))) / 0.08) ** 2))
    speech = envelope * np.sin(2 * np.pi * base[:, None] * sweep[:, None] * t[None, :])
    noises = rng.normal(size=(bank, length)) * rng.uniform(0.05, 1.0, size=(bank, 1))
    noises[[7, 19, 31]] = 0.0
    choice = rng.integers(0, bank, size=n)
    snr_db = rng.uniform(0.0, 20.0, size=n)
    p_speech = np.mean(speech**2, axis=1)
    p_noise = np.mean(noises[choice] ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
        mixture = speech + gain[:, None] * noises[choice]
    x = mixture.astype("float32")[..., None]
    y = labels.astype("int32")
    model = keras.Sequential(
        [
            keras.Input((length, 1)),
            keras.layers.Conv1D(16, 64, strides=16, activation="relu", name="frontend"),
            keras.layers.Conv1D(32, 5, strides=2, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling1D(name="gap"),
            keras.layers.Dense(classes, name="keyword_logits"),
        ],
        name="kws_net",
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
# 4. winsorizing with np.percentile on a column that has a few missing cells
# ---------------------------------------------------------------------------------------------
def winsorized_column_with_a_few_missing_cells():
    """Loan-default classifier (an MLP, binary cross-entropy from logits) on standardized
    applicant features. The debt-to-income column has ~1 % missing cells (NaN from the export),
    and the pipeline winsorizes every column at its 1st / 99th percentiles with
    np.clip(x, np.percentile(x, 1), np.percentile(x, 99)) before standardizing. np.percentile
    of a column with any NaN is NaN, np.clip with NaN bounds returns NaN, and the WHOLE column
    becomes NaN, in every row of every batch, not only the missing ones: the batches carry NaN
    before any op runs (impute first, or use np.nanpercentile; dropping the NaN rows afterwards
    would drop every row)."""
    rng = seeded(1703)
    n = 4096
    income = rng.lognormal(np.log(55_000.0), 0.5, size=n)
    debt = income * rng.beta(2.0, 5.0, size=n) * rng.uniform(0.5, 2.0, size=n)
    dti = debt / income
    age = rng.uniform(21.0, 70.0, size=n)
    history = rng.poisson(6, size=n).astype("float64")
    utilisation = rng.beta(2.0, 3.0, size=n)
    logit = 3.0 * dti + 2.0 * utilisation - 0.03 * (age - 40.0) - 0.1 * history - 1.5
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    dti[rng.random(n) < 0.01] = np.nan
    columns = []
    for column in (np.log(income), dti, age, history, utilisation):
        clipped = np.clip(column, np.percentile(column, 1), np.percentile(column, 99))
        columns.append((clipped - np.nanmean(clipped)) / np.nanstd(clipped))
    x = np.stack(columns, axis=1).astype("float32")
    model = mlp([32, 16], name="default_mlp", input_dim=5)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. a PINN for the Laplace-Beltrami equation on the sphere, collocation points on the pole
# ---------------------------------------------------------------------------------------------
def pinn_laplace_beltrami_with_collocation_points_on_the_pole():
    """Physics-informed network for Poisson's equation on the unit sphere, Delta_S u = f with
    f = -6 P_2(cos theta) (so that u = P_2(cos theta) solves it), written in (theta, phi) as
    u_tt + (cos theta / sin theta) u_t + u_pp / sin^2 theta and with the derivatives taken by
    nested GradientTapes; as in the report, the collocation points are a grid on the rectangle
    [0, pi] x [0, 2 pi] that includes its edges, plus one Dirichlet anchor u(0, 0) = 1. On the
    rows with theta = 0 (the north pole) sin theta is exactly 0 and cos theta / sin theta and
    u_pp / sin^2 theta are x / 0 in the residual, so the loss is inf / NaN at the first step
    (multiply the equation through by sin^2 theta, or sample theta inside (0, pi))."""
    rng = seeded(1704)
    theta = np.linspace(0.0, np.pi, 32)
    phi = np.linspace(0.0, 2.0 * np.pi, 64)
    grid = np.stack(np.meshgrid(theta, phi, indexing="ij"), axis=-1).reshape(-1, 2)
    grid = grid[rng.permutation(len(grid))].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(32, activation="tanh", name="hidden0"),
            keras.layers.Dense(32, activation="tanh", name="hidden1"),
            keras.layers.Dense(1, name="u"),
        ],
        name="sphere_pinn",
    )
    anchor = tf.constant([[0.0, 0.0]])

    def pde_loss(model, points):
        t, p = points[:, 0:1], points[:, 1:2]
        with tf.GradientTape(persistent=True) as outer:
            outer.watch([t, p])
            with tf.GradientTape(persistent=True) as inner:
                inner.watch([t, p])
                u = model(tf.concat([t, p], axis=1), training=True)
            u_t = inner.gradient(u, t)
            u_p = inner.gradient(u, p)
        u_tt = outer.gradient(u_t, t)
        u_pp = outer.gradient(u_p, p)
        del inner, outer
        cos_t, sin_t = tf.cos(t), tf.sin(t)
        forcing = -6.0 * 0.5 * (3.0 * cos_t**2 - 1.0)
        residual = u_tt + (cos_t / sin_t) * u_t + u_pp / (sin_t**2) - forcing
        anchor_error = model(anchor, training=True) - 1.0
        return tf.reduce_mean(tf.square(residual)) + tf.reduce_mean(tf.square(anchor_error))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [(tf.constant(grid[i : i + 256]),) for _ in range(3) for i in range(0, len(grid), 256)]
    return run_loop(
        _custom_step(model, optimizer, pde_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 6. stochastic depth's linear rule ported without (1 - p_L): the last block's drop rate is 1
# ---------------------------------------------------------------------------------------------
class DropPath(keras.layers.Layer):
    """Stochastic depth per sample, as timm / the EfficientNet reference write it: during
    training, x / keep_prob * floor(keep_prob + U[0, 1))."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        keep_prob = 1.0 - self.rate
        noise = keras.random.uniform((tf.shape(x)[0], 1), seed=self.seed_generator)
        mask = tf.floor(keep_prob + noise)
        return x / keep_prob * mask


def stochastic_depth_linear_rule_reaching_a_drop_rate_of_one():
    """Residual MLP for a tabular regression (8 residual blocks of LayerNorm -> Dense(relu) ->
    Dense, each branch through a DropPath) with stochastic depth's linear decay rule
    p_l = 1 - (l / L)(1 - p_L) for the survival probabilities, ported as drop rates l / L with the
    (1 - p_L) factor left out: the last block's drop rate is exactly 1.0, its keep_prob 0, and
    its branch is divided by 0 (x / 0 = inf, 0 / 0 = NaN, then times the all-zero mask: NaN) in
    that DropPath layer at the first training forward pass (keep every rate below 1, e.g.
    l / L * p_drop with p_drop = 0.2)."""
    rng = seeded(1705)
    n, dim, depth, width = 2048, 12, 8, 48
    x = rng.normal(size=(n, dim)).astype("float32")
    y = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3] + 0.1 * rng.normal(size=(n, 1))).astype(
        "float32"
    )
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(width, name="stem")(inputs)
    for block in range(depth):
        branch = keras.layers.LayerNormalization(name=f"norm{block}")(h)
        branch = keras.layers.Dense(2 * width, activation="relu", name=f"expand{block}")(branch)
        branch = keras.layers.Dense(width, name=f"project{block}")(branch)
        branch = DropPath((block + 1) / depth, seed=1705 + block, name=f"drop_path{block}")(branch)
        h = keras.layers.Add(name=f"residual{block}")([h, branch])
    outputs = keras.layers.Dense(1, name="head")(keras.layers.LayerNormalization(name="final")(h))
    model = keras.Model(inputs, outputs, name="resmlp")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 7. a Neural Turing Machine whose memory starts at the RNN's zero initial state
# ---------------------------------------------------------------------------------------------
class NTMCell(keras.layers.Layer):
    """A one-head Neural Turing Machine cell (Graves et al.) with content-based addressing only:
    a tanh controller over [x, previous read, previous h]; key k and sharpness beta; weights
    w = softmax(beta * cos(k, M_i)) with cos = M k / (|M_i| |k|); erase / add writes and a read
    with the same weights. The memory is part of the RNN state, so it starts at Keras' zero
    initial state."""

    def __init__(self, units, slots, width, **kwargs):
        super().__init__(**kwargs)
        self.units, self.slots, self.width = units, slots, width
        self.state_size = [units, slots * width, width]
        self.output_size = units + width

    def build(self, input_shape):
        fan_in = input_shape[-1] + self.width + self.units
        self.kernel = self.add_weight(
            shape=(fan_in, self.units), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.head = self.add_weight(
            shape=(self.units, 3 * self.width + 1), initializer="glorot_uniform", name="head"
        )

    def call(self, inputs, states, training=False):
        h, memory_flat, read = states[0], states[1], states[2]
        h = tf.tanh(tf.matmul(tf.concat([inputs, read, h], axis=-1), self.kernel) + self.bias)
        memory = tf.reshape(memory_flat, (-1, self.slots, self.width))
        params = tf.matmul(h, self.head)
        key = tf.tanh(params[:, : self.width])
        erase = tf.sigmoid(params[:, self.width : 2 * self.width])
        add = tf.tanh(params[:, 2 * self.width : 3 * self.width])
        beta = tf.nn.softplus(params[:, -1:])
        dot = tf.einsum("bsw,bw->bs", memory, key)
        norms = tf.norm(memory, axis=-1) * tf.norm(key, axis=-1, keepdims=True)
        similarity = dot / norms
        weights = tf.nn.softmax(beta * similarity, axis=-1)
        memory = memory * (1.0 - weights[..., None] * erase[:, None, :])
        memory = memory + weights[..., None] * add[:, None, :]
        read = tf.einsum("bs,bsw->bw", weights, memory)
        return tf.concat([h, read], axis=-1), [
            h,
            tf.reshape(memory, (-1, self.slots * self.width)),
            read,
        ]


def ntm_content_addressing_on_a_zero_initialized_memory():
    """Neural Turing Machine on the copy task (8-bit random vectors, a sequence of 10, a
    delimiter, then the model must write the sequence back; sigmoid cross-entropy on the bits)
    with a hand-written NTM cell inside keras.layers.RNN. The memory is carried in the RNN
    state and left at Keras' default zero initial state, instead of the small constant / learned
    bias the reference implementations start it at: at the first time step every memory row is
    the zero vector and the content addressing's cosine M k / (|M_i| |k|) is 0 / 0 = NaN inside
    the recurrent layer at the first forward pass (start the memory at a small constant, or an
    epsilon in the cosine's denominator)."""
    rng = seeded(1706)
    n, length, bits = 1024, 10, 8
    seq = (rng.random((n, length, bits)) < 0.5).astype("float32")
    steps = 2 * length + 1
    x = np.zeros((n, steps, bits + 1), dtype="float32")
    x[:, :length, :bits] = seq
    x[:, length, bits] = 1.0
    y = np.zeros((n, steps, bits), dtype="float32")
    y[:, length + 1 :, :] = seq
    model = keras.Sequential(
        [
            keras.Input((steps, bits + 1)),
            keras.layers.RNN(
                NTMCell(64, 16, 12, name="ntm_cell"), return_sequences=True, name="ntm"
            ),
            keras.layers.Dense(bits, name="bit_logits"),
        ],
        name="copy_ntm",
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
# 8. the class-balanced loss with a class that has no training sample
# ---------------------------------------------------------------------------------------------
def class_balanced_loss_with_a_class_absent_from_the_training_set():
    """Leaf-disease classifier over 6 classes (an MLP on 24 image-statistics features) trained
    with Cui et al.'s class-balanced softmax cross-entropy as the public implementations write
    it: effective number E_n = 1 - beta^n per class from the training set's class counts,
    weights (1 - beta) / E_n normalized to sum to the number of classes, and each sample
    weighted by its class's weight through the one-hot labels. The label map has 6 classes but
    this training split holds no sample of class 4: E_0 = 1 - beta^0 = 0, its weight is
    (1 - beta) / 0 = inf, the normalization divides every weight by inf (0 for the others, NaN
    for that one), and the one-hot product gives NaN * 0 = NaN for every sample, in the loss at
    the first step (give a class without samples weight 0, or count it as 1)."""
    rng = seeded(1707)
    n, dim, classes, beta = 3072, 24, 6, 0.999
    centres = rng.normal(scale=1.5, size=(classes, dim))
    probs = np.array([0.42, 0.25, 0.15, 0.1, 0.0, 0.08])
    labels = rng.choice(classes, size=n, p=probs)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    y = labels.astype("int32")
    counts = tf.constant(np.bincount(labels, minlength=classes).astype("float32"))
    model = mlp([64, 32], name="leaf_mlp", input_dim=dim, out=classes)

    def class_balanced_ce(y_true, logits):
        effective_num = 1.0 - tf.pow(beta, counts)
        weights = (1.0 - beta) / effective_num
        weights = weights / tf.reduce_sum(weights) * classes
        one_hot = tf.one_hot(y_true, classes)
        sample_weights = tf.reduce_sum(weights[None, :] * one_hot, axis=1)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=logits)
        return tf.reduce_mean(sample_weights * ce)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), class_balanced_ce),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 9. a Mahalanobis-distance feature over one-hot columns, covariance inverted with np.linalg.inv
# ---------------------------------------------------------------------------------------------
class MahalanobisDistance(keras.layers.Layer):
    """sqrt((x - mu)^T P (x - mu)) with the training set's mean and precision matrix frozen in
    the layer, appended to the features as an 'unusualness' score."""

    def __init__(self, mean, precision, **kwargs):
        super().__init__(**kwargs)
        self.mean_value = np.asarray(mean, dtype="float32")
        self.precision_value = np.asarray(precision, dtype="float32")

    def build(self, input_shape):
        self.mean = self.add_weight(
            shape=self.mean_value.shape,
            initializer=keras.initializers.Constant(self.mean_value),
            trainable=False,
            name="mean",
        )
        self.precision = self.add_weight(
            shape=self.precision_value.shape,
            initializer=keras.initializers.Constant(self.precision_value),
            trainable=False,
            name="precision",
        )

    def call(self, x):
        centred = x - self.mean
        squared = tf.reduce_sum(tf.matmul(centred, self.precision) * centred, axis=-1)
        return tf.concat([x, tf.sqrt(squared)[:, None]], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] + 1)


def mahalanobis_feature_over_one_hot_columns_with_a_singular_covariance():
    """Card-fraud classifier (an MLP, binary cross-entropy from logits) on transaction features:
    log amount, hour and merchant risk plus the channel one-hot encoded in all four columns
    (pd.get_dummies without drop_first), every column standardized (a StandardScaler over the
    whole table, dummies included). A first layer appends the Mahalanobis distance
    of each transaction to the training mean, with the precision matrix from
    np.linalg.inv(np.cov(X.T)). The four one-hot columns sum to 1, so the covariance is
    singular; roundoff leaves a pivot that is tiny instead of zero, np.linalg.inv raises nothing
    and returns entries ~1e13-1e17, and in float32 the quadratic form cancels into garbage of
    either sign: for part of every batch the squared distance is negative and its sqrt is NaN
    inside that layer at the first forward pass (a pseudo-inverse, or drop one dummy column)."""
    rng = seeded(1708)
    n = 4096
    amount = rng.lognormal(3.5, 1.2, size=n)
    hour = rng.integers(0, 24, size=n).astype("float64")
    risk = rng.beta(2.0, 8.0, size=n)
    channel = rng.choice(4, size=n, p=[0.5, 0.3, 0.15, 0.05])
    one_hot = np.eye(4)[channel]
    logit = 0.8 * np.log(amount) - 3.0 + 6.0 * risk + 1.5 * (channel == 3) - 0.05 * hour
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)

    def standardize(column):
        return (column - column.mean()) / column.std()

    raw = np.column_stack([np.log(amount), hour, risk, one_hot])
    x = np.column_stack([standardize(column) for column in raw.T]).astype("float32")
    mean = x.mean(axis=0)
    precision = np.linalg.inv(np.cov(x.T.astype("float64")))
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            MahalanobisDistance(mean, precision, name="mahalanobis"),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="fraud_logit"),
        ],
        name="fraud_mlp",
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
# 10. an instance normalization with BERT's 1e-12 epsilon inside a mixed_float16 model
# ---------------------------------------------------------------------------------------------
class InstanceNorm(keras.layers.Layer):
    """Instance normalization by hand, (x - mean) * rsqrt(var + epsilon) per image and channel
    with a learned scale and offset, run in the policy's compute dtype."""

    def __init__(self, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        inv = tf.math.rsqrt(variance + self.epsilon)
        return (x - mean) * inv * tf.cast(self.gamma, x.dtype) + tf.cast(self.beta, x.dtype)


def _doodles(rng, n, side, classes, blank_rate):
    """Pen doodles: 1-3 strokes of 1s on a 0 canvas, the class sets the strokes' angle; a share
    ``blank_rate`` of the canvases were submitted empty (all 0) and keep a random label."""
    images = np.zeros((n, side, side), dtype="float32")
    labels = rng.integers(0, classes, size=n)
    centre = (side - 1) / 2.0
    for i in range(n):
        if rng.random() < blank_rate:
            continue
        for _ in range(int(rng.integers(1, 4))):
            angle = np.pi * labels[i] / classes + 0.1 * rng.normal()
            shift = rng.uniform(-side / 5, side / 5, size=2)
            for s in np.linspace(-side / 3, side / 3, 3 * side):
                r = int(round(centre + shift[0] + s * np.sin(angle)))
                c = int(round(centre + shift[1] + s * np.cos(angle)))
                if 0 <= r < side and 0 <= c < side:
                    images[i, r, c] = 1.0
    return images[..., None], labels.astype("int32")


def instance_norm_with_bert_epsilon_under_mixed_float16():
    """Doodle classifier (28 x 28 pen strokes, 6 classes) whose convolution blocks use an
    instance normalization written by hand with epsilon = 1e-12, the value copied from a BERT
    config, trained under mixed_float16 with the logits in float32 as the mixed-precision guide
    shows. The layer computes in float16, where 1e-12 rounds to exactly 0. About 5 % of the
    canvases were submitted empty: the first convolution of an empty canvas is exactly 0 (zero
    biases), its per-channel variance is 0, rsqrt(0 + 0) = inf and (x - mean) * inf = 0 * inf =
    NaN inside the first normalization layer at the first forward pass (keep the layer in
    float32, or an epsilon float16 can hold such as 1e-3)."""

    def build():
        rng = seeded(1709)
        images, labels = _doodles(rng, 1536, 28, 6, blank_rate=0.05)
        inputs = keras.Input((28, 28, 1))
        h = keras.layers.Conv2D(16, 3, padding="same", name="conv0")(inputs)
        h = keras.layers.ReLU(name="relu0")(InstanceNorm(1e-12, name="inorm0")(h))
        h = keras.layers.Conv2D(32, 3, strides=2, padding="same", name="conv1")(h)
        h = keras.layers.ReLU(name="relu1")(InstanceNorm(1e-12, name="inorm1")(h))
        h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
        logits = keras.layers.Dense(6, dtype="float32", name="doodle_logits")(h)
        model = keras.Model(inputs, logits, name="doodle_net")
        return run_loop(
            standard_step(
                model,
                keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            ),
            batches(images, labels, size=32),
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND17_SCENARIOS: list[Scenario] = [
    Scenario(
        "nerf_transmittance_cumprod_without_its_offset",
        nerf_transmittance_cumprod_without_its_offset,
        "gradient",
        frozenset({"RealDiv", "Cumprod"}),
        "tiny_nerf/volume_render",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="NeRF's transmittance written cumprod(1 - alpha, exclusive=True) without the "
        "+ 1e-10 of the reference code: with the last interval 1e10 long, alpha is exactly 1 "
        "where the density is positive, the forward is finite, and TF's Cumprod gradient "
        "divides by the input (TF before 2.21, Theano), 0 / 0 = NaN in the backward pass "
        "(https://github.com/tensorflow/tensorflow/issues/3862, "
        "https://github.com/tensorflow/tensorflow/issues/119430, "
        "https://github.com/Theano/Theano/issues/5197, "
        "https://github.com/volunt4s/TinyNeRF-pytorch/issues/1, "
        "https://arxiv.org/abs/2003.08934)",
        blind=True,
    ),
    Scenario(
        "shampoo_statistics_started_at_zero_instead_of_epsilon_identity",
        shampoo_statistics_started_at_zero_instead_of_epsilon_identity,
        "optimizer_update",
        frozenset({"Pow"}),
        None,
        frozenset({"missing_epsilon", "domain_error"}),
        frozenset({"add_epsilon"}),
        story="Shampoo by hand with L and R started at zero instead of epsilon * I: after one "
        "step they are rank-deficient Gram matrices, eigh returns zero or roundoff-negative "
        "eigenvalues and e ** -0.25 is inf / NaN in the update while forward and gradients are "
        "finite (https://github.com/NVIDIA-NeMo/Emerging-Optimizers/pull/267, "
        "https://github.com/rctn/sparsecoding/pull/58, "
        "https://github.com/HomericIntelligence/Odyssey/pull/5497, "
        "https://arxiv.org/abs/1802.09568)",
        blind=True,
    ),
    Scenario(
        "snr_noise_mixing_with_digitally_silent_noise_files",
        snr_noise_mixing_with_digitally_silent_noise_files,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="background noise mixed at a target SNR, gain = sqrt(P_s / (P_n 10^(snr/10))), "
        "with a noise bank holding all-zero files: P_n = 0, gain inf, inf * 0 = NaN in every "
        "sample of those mixtures before any op runs "
        "(https://github.com/speechbrain/speechbrain/issues/169, "
        "https://github.com/iver56/audiomentations/issues/64, "
        "https://github.com/iver56/audiomentations/pull/65, "
        "https://github.com/anicolson/DeepXi/issues/26)",
        blind=True,
    ),
    Scenario(
        "winsorized_column_with_a_few_missing_cells",
        winsorized_column_with_a_few_missing_cells,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="winsorizing with np.clip(x, np.percentile(x, 1), np.percentile(x, 99)) on a "
        "column with ~1 % NaN: the percentiles are NaN, np.clip with NaN bounds is NaN, and the "
        "whole column is NaN in every batch; impute first or use np.nanpercentile "
        "(https://github.com/scipy/scipy/issues/8327, "
        "https://github.com/scipy/scipy/pull/11619, "
        "https://github.com/numpy/numpy/pull/4734, "
        "https://github.com/quantopian/zipline/pull/2138)",
        blind=True,
    ),
    Scenario(
        "pinn_laplace_beltrami_with_collocation_points_on_the_pole",
        pinn_laplace_beltrami_with_collocation_points_on_the_pole,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="a PINN for the Laplace-Beltrami operator in (theta, phi), cot(theta) u_t + "
        "u_pp / sin^2(theta), with collocation points on a rectangle that includes theta = 0: "
        "sin(0) = 0 and the residual divides by it in the loss "
        "(https://github.com/lululxvi/deepxde/issues/373, "
        "https://github.com/Dengda98/PyGRT/issues/190, "
        "https://github.com/legolas-project/legolas/issues/13)",
        blind=True,
    ),
    Scenario(
        "stochastic_depth_linear_rule_reaching_a_drop_rate_of_one",
        stochastic_depth_linear_rule_reaching_a_drop_rate_of_one,
        "activation",
        frozenset({"RealDiv"}),
        "resmlp/drop_path7",
        "missing_epsilon",
        frozenset(),
        story="stochastic depth's linear rule ported as drop rates l / L without (1 - p_L): the "
        "last block's rate is 1.0 and DropPath's x / keep_prob divides by 0 (inf, 0 / 0, times "
        "the all-zero mask: NaN) in that layer; keep the rates below 1 "
        "(https://github.com/google/flax/pull/2055, "
        "https://github.com/elixir-nx/axon/issues/367, "
        "https://github.com/huggingface/pytorch-image-models/issues/887, "
        "https://arxiv.org/abs/1603.09382)",
        blind=True,
    ),
    Scenario(
        "ntm_content_addressing_on_a_zero_initialized_memory",
        ntm_content_addressing_on_a_zero_initialized_memory,
        "activation",
        frozenset({"RealDiv"}),
        "copy_ntm/ntm",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a Neural Turing Machine cell whose memory is left at the RNN's zero initial "
        "state: the content addressing's cosine M k / (|M_i| |k|) is 0 / 0 at the first time "
        "step inside the recurrent layer; the reference codes start the memory at a small "
        "constant (https://github.com/carpedm20/NTM-tensorflow/issues/2, "
        "https://github.com/EderSantana/seya/issues/50, "
        "https://github.com/loudinthecloud/pytorch-ntm/issues/9, "
        "https://arxiv.org/abs/1807.08518)",
        blind=True,
    ),
    Scenario(
        "class_balanced_loss_with_a_class_absent_from_the_training_set",
        class_balanced_loss_with_a_class_absent_from_the_training_set,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="Cui et al.'s class-balanced loss with a class that has no training sample: "
        "1 - beta^0 = 0, its weight (1 - beta) / 0 = inf, the normalization makes the weights "
        "0 and NaN and the one-hot product NaN for every sample in the loss "
        "(https://github.com/fcakyon/balanced-loss/pull/12, "
        "https://github.com/vandit15/Class-balanced-loss-pytorch/issues/5, "
        "https://github.com/richardaecn/class-balanced-loss/issues/10, "
        "https://arxiv.org/abs/1901.05555)",
        blind=True,
    ),
    Scenario(
        "mahalanobis_feature_over_one_hot_columns_with_a_singular_covariance",
        mahalanobis_feature_over_one_hot_columns_with_a_singular_covariance,
        "activation",
        frozenset({"Sqrt"}),
        "fraud_mlp/mahalanobis",
        "domain_error",
        frozenset(),
        story="a Mahalanobis-distance layer whose precision matrix is np.linalg.inv of the "
        "covariance of features that include a full one-hot encoding: the covariance is "
        "singular, the inverse is roundoff garbage ~1e15, the squared distance comes out "
        "negative and its sqrt is NaN in the layer; use a pseudo-inverse or drop a dummy "
        "(https://github.com/mosegui/mahalanobis/issues/1, "
        "https://github.com/dstl/Stone-Soup/issues/387, "
        "https://github.com/tidymodels/themis/pull/333, "
        "https://github.com/scikit-learn-contrib/metric-learn/issues/204)",
        blind=True,
    ),
    Scenario(
        "instance_norm_with_bert_epsilon_under_mixed_float16",
        instance_norm_with_bert_epsilon_under_mixed_float16,
        "activation",
        frozenset({"Rsqrt", "Mul"}),
        "doodle_net/inorm0",
        "float16_range",
        frozenset({"float32_layer", "add_epsilon"}),
        story="an instance normalization by hand with BERT's epsilon 1e-12 in a mixed_float16 "
        "model: 1e-12 is 0 in float16, an empty canvas has zero variance and rsqrt(0) = inf, "
        "0 * inf = NaN inside the layer; keep it in float32 or use an epsilon float16 holds "
        "(https://github.com/keras-team/keras/issues/22586, "
        "https://github.com/tensorflow/tensorflow/pull/24979, "
        "https://github.com/deepspeedai/DeepSpeed/issues/581, "
        "https://github.com/pytorch/pytorch/issues/41527, "
        "https://github.com/keras-team/keras-core/pull/412)",
        blind=True,
    ),
]
