"""A thirty-seventh set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules: the only files read were the scenario helpers of ``scenario_cases.py`` (lines 1-120)
and ``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of
``scenario_blind20.py``, the taxonomy section of the design notes and the list of names and
one-line stories of the existing scenarios; no git log or diff output of other files was read,
no other blind suite was read, and nantrace was never imported or run. Each expectation comes
from the bug pattern itself (where a careful ML engineer would say the first non-finite value
appears, why, and the first fix to try), and all ten were written into this file before
anything was run. The patterns come from public reports found with a search over GitHub
issues and pull requests; each story cites them.

Theme: custom Keras layers written from papers by ordinary users, in their own build() /
call(), with one slip each: a weight-standardized conv (the paper's formula, no epsilon) used
for a 1 x 1 stem over one input channel (fan-in one, std 0); FiLM with gamma = exp(Dense(t))
fed the raw diffusion timestep; a GShard top-2 MoE layer renormalizing the kept gates without
the denominator clamp (tokens dropped by both experts); a Padé (rational) activation unit
whose x ** 5 runs in float16 under mixed_float16; stochastic pooling a_i / sum a_j over
windows a ReLU leaves all zero; a Poincaré-ball Möbius dense layer without the projection into
the ball (atanh of a norm rounded to 1); a VQ-VAE EMA codebook update m_i / N_i without the
Laplace smoothing; CapsNet's squash 'simplified' to |s| / (1 + |s|^2) * s without an epsilon
under the root; GeM pooling after a ReLU without the clamp; a neural-ODE block integrated
with fixed RK4 steps up to a horizon fed in raw seconds.

The only thing checked after writing them: that plain TensorFlow 2.21 / Keras 3.15, unwatched,
really goes non-finite on their batches (loss, gradients, weights, and at which step), and
(with tf.debugging.enable_check_numerics, the step compiled as the scenario runs it) which op
first produces the non-finite value, in a throwaway script outside the repository that stands
in plain-TF versions of the loop helpers, records from inside each compiled step whether its
gradients are finite, and asserts that nantrace was never imported. No expectation field
(kind, op types, layer, cause, fixes) was changed after that check, and no pattern was dropped.
What the check showed (step 0 is the first batch in every case):
- weight-standardized stem: step 0; loss finite (1.79 = log 6: the following ReLU turns the
  NaN activations into 0), gradients non-finite, weights non-finite after the update; first
  op the stem's RealDiv (kws_cnn/stem/truediv).
- FiLM: step 0, loss NaN; first op film0's Exp.
- top-2 MoE: step 0, loss NaN; first op the moe layer's RealDiv g / (g1 + g2) (truediv_1).
- rational activation (after the construction change below): step 0, loss NaN; first op a
  Mul inside the pau layer (pau/mul_2, a coefficient times x ** 3 in float16), not the Pow
  of x ** 5 that the expectation names.
- stochastic pooling: step 0; loss finite (2.08 = log 8, the next ReLU conv swallows the
  NaN), gradients non-finite; first op the pooling layer's RealDiv.
- Poincaré layer: step 0, loss NaN; first op mobius_dense's Atanh.
- VQ EMA: step 0; loss finite (0.66) and gradients finite, the codebook non-finite after the
  step (the update runs after the quantization); first op the vq layer's RealDiv.
- capsule squash (after the construction change below): step 0; loss finite (0.81),
  gradients non-finite; first op the backward SqrtGrad of primary_caps.
- GeM: step 0; loss finite (2.30), gradients non-finite; first op the backward Pow of the
  gem layer (m ** (1/p - 1) at m = 0).
- neural ODE: step 0, loss NaN; first op a Mul inside ode_block (mul_49, h * k inside an RK4
  stage).
Constructions changed after the first check (expectation fields untouched, docstrings
rewritten to match): the rational-activation model first took 30 standardized features;
its pre-activations stayed below ~4 (the network reached the ~300 targets through later
layers) and nothing overflowed in 192 steps, so the features are now in their own units (a
few to a few tens), as a listing export has them, and the first Dense's outputs pass 9.2 at
the first step. The capsule network first ran on 20 x 20 canvases whose primary capsules all
overlapped the object (no capsule saw only black), then, on 28 x 28 canvases, the simplified
squash still trained finite: TensorFlow 2.21's SqrtGrad returns 0 where the incoming gradient
is 0, and the squash's gradient with respect to |s| is multiplied by s = 0; the primary
capsule lengths |s| (already computed in the squash) now also feed a small activity penalty
1e-3 * mean(|s|) (model.add_loss, summed into the loss by a _custom_step), which gives the
root a non-zero incoming gradient at s = 0.
Caveats a reader should know: two scenarios leave kind None (the VQ update is a variable
assign inside the forward call, between an activation and an update; the ODE block's first
overflow can be a Mul, an Add or a MatMul), the ODE scenario leaves op types empty; the
check found a Mul, not the Pow named, first in the rational layer; four scenarios
(weight standardization, stochastic pooling, capsules, GeM) keep a finite loss at the first
step; the Poincaré scenario's fix set is empty (projection into the ball is no taxonomy id);
the rational and ODE scenarios could also be read as unscaled inputs (features of a few tens;
a horizon in seconds).

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


def _blobs_on_black(rng, n, size, classes, blob=8, channels=1):
    """Small images: a class-dependent bright blob in the centre of a black (exactly 0) canvas."""
    images = np.zeros((n, size, size, channels), dtype="float32")
    labels = rng.integers(0, classes, size=n)
    lo = (size - blob) // 2
    templates = rng.uniform(0.2, 1.0, size=(classes, blob, blob, channels))
    for i, label in enumerate(labels):
        patch = templates[label] + 0.1 * rng.normal(size=(blob, blob, channels))
        images[i, lo : lo + blob, lo : lo + blob, :] = np.clip(patch, 0.0, 1.0)
    return images, labels.astype("int32")


# ---------------------------------------------------------------------------------------------
# 1. weight standardization written from the paper (no epsilon) on a 1 x 1 stem over one channel
# ---------------------------------------------------------------------------------------------
class WeightStandardizedConv2D(keras.layers.Layer):
    """Conv2D whose kernel is standardized per output filter, (w - mean(w)) / std(w), as the
    Weight Standardization paper writes it (Qiao et al. 2019, eq. 5), over the fan-in axes."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, kernel_size

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, input_shape[-1], self.filters), initializer="he_normal", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        mean = tf.reduce_mean(self.kernel, axis=[0, 1, 2], keepdims=True)
        std = tf.math.reduce_std(self.kernel, axis=[0, 1, 2], keepdims=True)
        kernel = (self.kernel - mean) / std
        return tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + self.bias


def weight_standardized_stem_with_a_fan_in_of_one():
    """A keyword-spotting CNN on single-channel log-mel patches (32 x 32 x 1) in which every
    convolution is a hand-written weight-standardized Conv2D (the BiT / annotated-diffusion
    recipe, copied as the paper's formula without an epsilon), including the 1 x 1 'channel
    lift' stem that maps the one input channel to 16. Each stem filter has a fan-in of ONE
    weight: its mean is the weight itself, its standard deviation is exactly 0, and the
    standardized kernel is 0 / 0 = NaN at the first forward pass, inside the stem layer
    (an epsilon in the root, as the reference code has, or a plain conv for the stem)."""
    rng = seeded(3700)
    n, classes = 1024, 6
    labels = rng.integers(0, classes, size=n)
    freqs = rng.uniform(2.0, 12.0, size=classes)
    grid = np.linspace(0.0, 1.0, 32)
    base = np.sin(2 * np.pi * freqs[labels][:, None, None] * grid[None, :, None]) * np.ones(
        (1, 1, 32)
    )
    x = (base + 0.5 * rng.normal(size=(n, 32, 32)))[..., None].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            WeightStandardizedConv2D(16, 1, name="stem"),
            keras.layers.Activation("relu", name="stem_relu"),
            WeightStandardizedConv2D(32, 3, name="conv1"),
            keras.layers.Activation("relu", name="conv1_relu"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            WeightStandardizedConv2D(32, 3, name="conv2"),
            keras.layers.Activation("relu", name="conv2_relu"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="head"),
        ],
        name="kws_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 2. FiLM with an exponential scale, conditioned on the raw diffusion timestep
# ---------------------------------------------------------------------------------------------
class ExpFiLM(keras.layers.Layer):
    """FiLM, h * gamma(t) + beta(t), with gamma = exp(Dense(t)) 'so that the scale stays
    positive'."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.to_log_scale = keras.layers.Dense(units, name="to_log_scale")
        self.to_shift = keras.layers.Dense(units, name="to_shift")

    def build(self, input_shapes):
        h_shape, t_shape = input_shapes
        self.to_log_scale.build(t_shape)
        self.to_shift.build(t_shape)

    def call(self, inputs):
        h, t = inputs
        return h * tf.exp(self.to_log_scale(t)) + self.to_shift(t)


def film_exp_scale_on_raw_diffusion_timesteps():
    """A DDPM noise-prediction MLP for 16-dimensional tabular samples (1000 diffusion steps,
    linear beta schedule) whose hidden layers are modulated by FiLM layers written by hand:
    gamma = exp(Dense(t)), beta = Dense(t). The timestep t goes in as the raw integer step,
    0..999, as a float (the sinusoidal timestep embedding of the reference code was left out
    as 'just a fancy encoding'). With Glorot weights up to ~0.2 on a fan-in of one, Dense(t)
    reaches ~200 for late timesteps and exp overflows to inf in the first FiLM layer at the
    first step (scale t to [0, 1] or embed it; exp of a bounded scale)."""
    rng = seeded(3701)
    n, dim, steps = 4096, 16, 1000
    centres = rng.normal(scale=2.0, size=(4, dim))
    x0 = (centres[rng.integers(0, 4, size=n)] + 0.3 * rng.normal(size=(n, dim))).astype("float32")
    betas = np.linspace(1e-4, 0.02, steps)
    alpha_bar = np.cumprod(1.0 - betas)
    t = rng.integers(0, steps, size=n)
    noise = rng.normal(size=(n, dim))
    ab = alpha_bar[t][:, None]
    x_t = (np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * noise).astype("float32")
    x_in = np.concatenate([x_t, t[:, None].astype("float32")], axis=1)

    inputs = keras.Input((dim + 1,))
    xt = keras.layers.Lambda(lambda z: z[:, :dim], name="x_t")(inputs)
    tt = keras.layers.Lambda(lambda z: z[:, dim:], name="timestep")(inputs)
    h = keras.layers.Dense(128, activation="silu", name="in_proj")(xt)
    h = ExpFiLM(128, name="film0")([h, tt])
    h = keras.layers.Dense(128, activation="silu", name="hidden1")(h)
    h = ExpFiLM(128, name="film1")([h, tt])
    outputs = keras.layers.Dense(dim, name="eps_head")(h)
    model = keras.Model(inputs, outputs, name="denoiser")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(2e-4), keras.losses.MeanSquaredError()),
        batches(x_in, noise.astype("float32"), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 3. top-2 mixture of experts, gates renormalized after the capacity drop without a clamp
# ---------------------------------------------------------------------------------------------
class Top2MoE(keras.layers.Layer):
    """GShard-style top-2 MoE feed-forward layer written by hand: softmax router, top-2
    experts, a per-expert capacity (tokens over it are dropped in order), the two kept gates
    renormalized to sum to one, and the Switch load-balancing loss via add_loss."""

    def __init__(self, num_experts, units, capacity_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_experts, self.units, self.capacity_factor = num_experts, units, capacity_factor

    def build(self, input_shape):
        d = input_shape[-1]
        self.router = self.add_weight(
            shape=(d, self.num_experts), initializer="glorot_uniform", name="router"
        )
        self.w_in = self.add_weight(
            shape=(self.num_experts, d, self.units), initializer="glorot_uniform", name="w_in"
        )
        self.w_out = self.add_weight(
            shape=(self.num_experts, self.units, d), initializer="glorot_uniform", name="w_out"
        )

    def call(self, x):
        shape = tf.shape(x)
        tokens = tf.reshape(x, [-1, x.shape[-1]])
        num_tokens = tf.shape(tokens)[0]
        e = self.num_experts
        gates = tf.nn.softmax(tokens @ self.router, axis=-1)
        top = tf.math.top_k(gates, k=2).indices
        mask1 = tf.one_hot(top[:, 0], e)
        mask2 = tf.one_hot(top[:, 1], e)
        capacity = tf.cast(
            tf.math.ceil(2.0 * tf.cast(num_tokens, tf.float32) / e * self.capacity_factor),
            tf.float32,
        )
        loc1 = tf.cumsum(mask1, axis=0) - mask1
        mask1 = mask1 * tf.cast(loc1 < capacity, tf.float32)
        loc2 = tf.cumsum(mask2, axis=0) - mask2 + tf.reduce_sum(mask1, axis=0, keepdims=True)
        mask2 = mask2 * tf.cast(loc2 < capacity, tf.float32)
        g1 = tf.reduce_sum(gates * mask1, axis=-1)
        g2 = tf.reduce_sum(gates * mask2, axis=-1)
        denom = g1 + g2
        g1, g2 = g1 / denom, g2 / denom
        combine = g1[:, None] * mask1 + g2[:, None] * mask2
        hidden = tf.nn.gelu(tf.einsum("td,edu->teu", tokens, self.w_in))
        expert_out = tf.einsum("teu,eud->ted", hidden, self.w_out)
        out = tf.einsum("te,ted->td", combine, expert_out)
        density = tf.reduce_mean(tf.one_hot(top[:, 0], e), axis=0)
        self.add_loss(0.01 * e * tf.reduce_sum(density * tf.reduce_mean(gates, axis=0)))
        return tf.reshape(out, shape)


def moe_top2_gates_renormalized_after_the_capacity_drop():
    """A sequence tagger (32-step windows of 24 sensor channels, a Dense embedding, one top-2
    MoE feed-forward layer with 4 experts and a residual, a per-step classifier) with the MoE
    layer written from the GShard paper: capacity 2 T / E (factor 1.0), the tokens over an
    expert's capacity dropped in order, and the two kept gates renormalized as
    g / (g1 + g2). The reference code clamps the denominator to the dtype's epsilon; the port
    does not. At initialization the router sends most tokens to the same two experts (the
    embeddings share a common direction), both fill up half-way through the batch, and every
    later token is dropped by BOTH: g1 + g2 = 0 and its gates are 0 / 0 = NaN inside the MoE
    layer at the first step (clamp the denominator, as DeepSpeed / fairseq do)."""
    rng = seeded(3702)
    n, steps, channels, tags = 1024, 32, 24, 5
    x = (rng.normal(size=(n, steps, channels)) + 1.5).astype("float32")
    w = rng.normal(size=(channels, tags))
    y = np.argmax((x - 1.5) @ w + 0.5 * rng.normal(size=(n, steps, tags)), axis=-1)
    inputs = keras.Input((steps, channels))
    h = keras.layers.Dense(64, name="embed")(inputs)
    m = Top2MoE(4, 128, name="moe")(h)
    h = keras.layers.Add(name="residual")([h, m])
    outputs = keras.layers.Dense(tags, name="tagger_head")(h)
    model = keras.Model(inputs, outputs, name="moe_tagger")
    xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss_of(model, x, y):
        return xent(y, model(x, training=True)) + tf.add_n(model.losses)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, loss_of),
        batches(x, y.astype("int32"), size=16),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 4. a Padé (rational) activation unit under mixed_float16
# ---------------------------------------------------------------------------------------------
class RationalActivation(keras.layers.Layer):
    """A learnable rational activation P(x) / Q(x) of degrees (5, 4) in its 'safe' form
    (Molina et al., PAU): Q(x) = 1 + sum_k |b_k x^k|, coefficients started at a rough
    leaky-ReLU fit, the powers written x ** k."""

    def build(self, input_shape):
        self.numerator = self.add_weight(
            shape=(6,),
            initializer=keras.initializers.Constant([0.03, 0.62, 2.38, 3.06, 1.52, 0.25]),
            name="numerator",
        )
        self.denominator = self.add_weight(
            shape=(4,),
            initializer=keras.initializers.Constant([1.19, 4.41, 0.91, 0.35]),
            name="denominator",
        )

    def call(self, x):
        p = self.numerator[0] + tf.add_n([self.numerator[k] * x**k for k in range(1, 6)])
        q = 1.0 + tf.add_n([tf.abs(self.denominator[k - 1] * x**k) for k in range(1, 5)])
        return p / q


def rational_activation_powers_under_mixed_float16():
    """A house-price regressor (30 listing features in their own units, a few to a few tens,
    the price in thousands as the MSE target, mean ~300) with a learnable Padé activation unit after its first Dense(256),
    switched to keras.config.set_dtype_policy('mixed_float16') for speed, the head kept in
    float32 as the guide says. Keras runs the custom layer in float16: the numerator's x ** 5
    passes float16's 65504 as soon as a pre-activation exceeds ~9.2 in magnitude, which
    happens while the network scales its activations up to the targets; x ** 5 is inf (and
    inf / inf = NaN where x ** 4 overflows too, past 16) inside the rational layer (keep the
    rational layer in float32: dtype='float32' on that layer)."""

    def build():
        rng = seeded(3703)
        n, dim = 4096, 30
        x = rng.normal(size=(n, dim)).astype("float32")
        w = rng.normal(size=(dim,)) / np.sqrt(dim)
        price = 300.0 + 80.0 * np.tanh(x @ w) + 40.0 * np.sin(x[:, 0] * x[:, 1])
        y = (price + 10.0 * rng.normal(size=n)).astype("float32").reshape(-1, 1)
        # the columns in their own units (rooms, ages in years, areas in hundreds of square
        # feet, distances in km): a few to a few tens, as the listing export has them
        scale = rng.uniform(1.0, 12.0, size=dim)
        x = (np.abs(x) * scale + scale).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((dim,)),
                keras.layers.Dense(256, name="hidden0"),
                RationalActivation(name="pau"),
                keras.layers.Dense(128, activation="relu", name="hidden1"),
                keras.layers.Dense(1, dtype="float32", name="head"),
            ],
            name="price_mlp",
        )
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
            batches(x, y, size=64, epochs=3),
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 5. stochastic pooling over windows a ReLU leaves all zero
# ---------------------------------------------------------------------------------------------
class StochasticPooling2D(keras.layers.Layer):
    """Zeiler & Fergus' stochastic pooling over 2 x 2 windows, p_i = a_i / sum_j a_j, with the
    paper's 'probabilistic weighting' sum_i p_i a_i used in training too (a differentiable
    stand-in for the sampling)."""

    def call(self, x):
        b, h, w, c = tf.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
        windows = tf.reshape(x, [b, h // 2, 2, w // 2, 2, c])
        windows = tf.transpose(windows, [0, 1, 3, 5, 2, 4])
        windows = tf.reshape(windows, [b, h // 2, w // 2, c, 4])
        probs = windows / tf.reduce_sum(windows, axis=-1, keepdims=True)
        return tf.reduce_sum(probs * windows, axis=-1)


def stochastic_pooling_of_all_zero_relu_windows():
    """A small CNN on 24 x 24 grayscale images of a centred object on a black canvas
    (Conv2D(16, 3, relu, same) -> stochastic pooling -> Conv2D(32, 3, relu) -> global average
    -> Dense) with stochastic pooling written from the paper: each window's activations are
    normalized to probabilities a_i / sum_j a_j. The paper assumes ReLU activations with some
    positive entry; over the black border (and wherever a filter is negative on the whole
    window) the ReLU leaves all four activations exactly 0 and the probabilities are
    0 / 0 = NaN inside the pooling layer at the first step (an epsilon in the window sum)."""
    rng = seeded(3704)
    images, labels = _blobs_on_black(rng, 1024, 24, 8, blob=10)
    model = keras.Sequential(
        [
            keras.Input((24, 24, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            StochasticPooling2D(name="stochastic_pool"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(8, name="head"),
        ],
        name="stochastic_pool_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images, labels, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 6. a Poincaré-ball (hyperbolic) dense layer without the projection back into the ball
# ---------------------------------------------------------------------------------------------
def _expmap0(v):
    norm = tf.norm(v, axis=-1, keepdims=True)
    return tf.tanh(norm) * v / norm


def _logmap0(y):
    norm = tf.norm(y, axis=-1, keepdims=True)
    return tf.atanh(norm) * y / norm


class PoincareDense(keras.layers.Layer):
    """Ganea et al.'s Möbius matrix-vector layer on the Poincaré ball (curvature -1):
    expmap0(W logmap0(x)), written from the paper's formulas, without the reference code's
    projection of points into the ball of radius 1 - eps."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel"
        )

    def call(self, x):
        return _expmap0(_logmap0(x) @ self.kernel)


def poincare_dense_without_projection_into_the_ball():
    """A hyperbolic classifier for a hierarchy of product categories (24 log-count features, a
    Euclidean Dense(64) encoder, expmap0 onto the Poincaré ball, a Möbius dense layer, logmap0
    back and a Dense head). The expmap0 of an encoder vector with norm above ~9 is
    tanh(|v|) v / |v| with tanh(|v|) rounded to exactly 1.0 in float32: the point lands ON
    the boundary (|y| = 1, or a hair above it) and the Möbius layer's logmap0 takes
    atanh(|y|) = atanh(1) = inf (NaN above 1) inside the hyperbolic layer (project onto the
    ball of radius 1 - 1e-5 after every map, as geoopt / HGCN do, or clip the tangent norm)."""
    rng = seeded(3705)
    n, dim, classes = 4096, 24, 6
    counts = rng.poisson(np.exp(rng.normal(1.0, 1.2, size=(n, dim))))
    x = np.log1p(counts).astype("float32")
    w = rng.normal(size=(dim, classes))
    labels = np.argmax((x - x.mean(0)) @ w + rng.normal(size=(n, classes)), axis=1)
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, name="encoder"),
            keras.layers.Lambda(_expmap0, name="to_ball"),
            PoincareDense(32, name="mobius_dense"),
            keras.layers.Lambda(_logmap0, name="from_ball"),
            keras.layers.Dense(classes, name="head"),
        ],
        name="hyperbolic_classifier",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels.astype("int32"), size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 7. a VQ-VAE codebook updated by EMA without the Laplace smoothing of the cluster sizes
# ---------------------------------------------------------------------------------------------
class VectorQuantizerEMA(keras.layers.Layer):
    """van den Oord et al.'s vector quantizer with the EMA codebook update of the paper's
    appendix: N_i <- g N_i + (1 - g) n_i, m_i <- g m_i + (1 - g) sum z, e_i <- m_i / N_i,
    the cluster sizes N started at 0 and m at the codebook, as in Sonnet, but without
    Sonnet's Laplace smoothing of N; straight-through estimator and commitment loss."""

    def __init__(self, num_codes, decay=0.99, **kwargs):
        super().__init__(**kwargs)
        self.num_codes, self.decay = num_codes, decay

    def build(self, input_shape):
        d = input_shape[-1]
        init = keras.initializers.RandomUniform(-1.0, 1.0)
        self.codebook = self.add_weight(
            shape=(self.num_codes, d), initializer=init, trainable=False, name="codebook"
        )
        self.ema_count = self.add_weight(
            shape=(self.num_codes,), initializer="zeros", trainable=False, name="ema_count"
        )
        self.ema_sum = self.add_weight(
            shape=(self.num_codes, d), initializer="zeros", trainable=False, name="ema_sum"
        )
        self.ema_sum.assign(self.codebook)

    def call(self, z, training=False):
        flat = tf.reshape(z, [-1, z.shape[-1]])
        distances = (
            tf.reduce_sum(flat**2, axis=1, keepdims=True)
            - 2.0 * flat @ tf.transpose(self.codebook)
            + tf.reduce_sum(self.codebook**2, axis=1)[None, :]
        )
        onehot = tf.one_hot(tf.argmin(distances, axis=1), self.num_codes)
        quantized = tf.reshape(onehot @ self.codebook, tf.shape(z))
        if training:
            g = self.decay
            self.ema_count.assign(g * self.ema_count + (1.0 - g) * tf.reduce_sum(onehot, 0))
            self.ema_sum.assign(g * self.ema_sum + (1.0 - g) * tf.transpose(onehot) @ flat)
            self.codebook.assign(self.ema_sum / self.ema_count[:, None])
        self.add_loss(0.25 * tf.reduce_mean((z - tf.stop_gradient(quantized)) ** 2))
        return z + tf.stop_gradient(quantized - z)


def vq_ema_codebook_update_without_laplace_smoothing():
    """A VQ-VAE on 16-step windows of 8 vibration channels (a Conv1D encoder to 16-dimensional
    latents, a 128-entry codebook updated by EMA, a Conv1D decoder, MSE reconstruction plus
    the commitment loss). The EMA update was ported from the paper's appendix, e_i = m_i / N_i,
    without the Laplace smoothing (N_i + eps) / (n + K eps) * n of the reference code: a code
    that no latent of the first batch is assigned to keeps N_i = 0 (the sizes start at 0)
    and its entry becomes m_i / 0 = inf (0 / 0 = NaN where m_i is 0) in the quantizer's
    update at the first step; from the next step on the distances to it are non-finite and
    the loss is NaN (Laplace-smooth the cluster sizes: an epsilon in the count)."""
    rng = seeded(3706)
    n, steps, channels = 2048, 16, 8
    t = np.arange(steps)[None, :, None]
    freq = rng.uniform(0.1, 0.4, size=(n, 1, channels))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, channels))
    x = (np.sin(2 * np.pi * freq * t + phase) + 0.1 * rng.normal(size=(n, steps, channels))).astype(
        "float32"
    )
    inputs = keras.Input((steps, channels))
    h = keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="enc0")(inputs)
    z = keras.layers.Conv1D(16, 3, padding="same", name="enc1")(h)
    q = VectorQuantizerEMA(128, name="vq")(z)
    h = keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="dec0")(q)
    outputs = keras.layers.Conv1D(channels, 3, padding="same", name="dec1")(h)
    model = keras.Model(inputs, outputs, name="vq_vae")

    def loss_of(model, x, y):
        return tf.reduce_mean((model(x, training=True) - y) ** 2) + tf.add_n(model.losses)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, loss_of),
        batches(x, x, size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 8. the 'cleaner' capsule squash |s| / (1 + |s|^2) * s on capsules over a black border
# ---------------------------------------------------------------------------------------------
def _squash_simplified(s):
    squared_norm = tf.reduce_sum(tf.square(s), axis=-1, keepdims=True)
    norm = tf.sqrt(squared_norm)
    return norm / (1.0 + squared_norm) * s


class PrimaryCaps(keras.layers.Layer):
    """CapsNet's primary capsules: a strided Conv2D reshaped into capsules of `dim` and
    squashed, with the squash simplified algebraically to |s| / (1 + |s|^2) * s (no division,
    'so no epsilon is needed')."""

    def __init__(self, capsules, dim, **kwargs):
        super().__init__(**kwargs)
        self.capsules, self.dim = capsules, dim
        self.conv = keras.layers.Conv2D(capsules * dim, 5, strides=2, name="caps_conv")

    def build(self, input_shape):
        self.conv.build(input_shape)
        side = (input_shape[1] - 5) // 2 + 1
        self.num_capsules = side * side * self.capsules

    def call(self, x):
        s = self.conv(x)
        s = tf.reshape(s, [-1, self.num_capsules, self.dim])
        squared_norm = tf.reduce_sum(tf.square(s), axis=-1, keepdims=True)
        norm = tf.sqrt(squared_norm)
        # the capsule lengths (activation probabilities) also feed a small sparsity penalty
        self.add_loss(1e-3 * tf.reduce_mean(norm))
        return norm / (1.0 + squared_norm) * s

    def compute_output_shape(self, input_shape):
        side = (input_shape[1] - 5) // 2 + 1
        return (input_shape[0], side * side * self.capsules, self.dim)


class DigitCaps(keras.layers.Layer):
    """Class capsules with 3 iterations of routing by agreement (Sabour et al. 2017)."""

    def __init__(self, classes, dim, routings=3, **kwargs):
        super().__init__(**kwargs)
        self.classes, self.dim, self.routings = classes, dim, routings

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[1], self.classes, self.dim, input_shape[2]),
            initializer=keras.initializers.RandomNormal(stddev=0.1),
            name="w",
        )

    def call(self, u):
        u_hat = tf.einsum("icdk,bik->bicd", self.w, u)
        b = tf.zeros(tf.shape(u_hat)[:3])
        for i in range(self.routings):
            c = tf.nn.softmax(b, axis=2)
            v = _squash_simplified(tf.einsum("bic,bicd->bcd", c, u_hat))
            if i < self.routings - 1:
                b = b + tf.einsum("bicd,bcd->bic", u_hat, v)
        return v


def capsule_squash_simplified_without_a_root_epsilon():
    """A small CapsNet (Conv2D(32, 5, relu) -> primary capsules of dimension 4 -> 6 class
    capsules of dimension 8 with routing by agreement -> margin loss on the capsule lengths,
    computed safely as sqrt(|v|^2 + 1e-7)) on 28 x 28 images of a centred shape on a black
    canvas; the primary capsule lengths |s| also feed a small activity penalty
    1e-3 * mean(|s|) to keep few capsules active. The squash was 'simplified' to |s| / (1 + |s|^2) * s, with |s| = sqrt(sum s^2):
    no division any more, so the epsilon was dropped. The primary capsules over the black
    corners see only zeros (ReLU of 0 + a zero bias, then a zero-bias conv): s = 0 there, the
    forward value is a finite 0, but the square root's derivative at 0 is infinite: the
    penalty's gradient reaches the root and the backward pass of the primary capsule layer
    is inf / NaN at the first step (an epsilon
    under the root, sqrt(|s|^2 + eps), as CapsNet-Keras writes it)."""
    rng = seeded(3707)
    images, labels = _blobs_on_black(rng, 1024, 28, 6, blob=8)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(32, 5, activation="relu", name="conv1")(inputs)
    u = PrimaryCaps(8, 4, name="primary_caps")(h)
    v = DigitCaps(6, 8, name="digit_caps")(u)
    lengths = keras.layers.Lambda(
        lambda t: tf.sqrt(tf.reduce_sum(tf.square(t), axis=-1) + 1e-7), name="length"
    )(v)
    model = keras.Model(inputs, lengths, name="capsnet")

    def margin_loss(y_true, lengths):
        t = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), 6)
        loss = t * tf.nn.relu(0.9 - lengths) ** 2 + 0.5 * (1 - t) * tf.nn.relu(lengths - 0.1) ** 2
        return tf.reduce_mean(tf.reduce_sum(loss, axis=1))

    def loss_of(model, x, y):
        return margin_loss(y, model(x, training=True)) + tf.add_n(model.losses)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, loss_of),
        batches(images, labels, size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. GeM pooling after a ReLU, written without the clamp (channels a ReLU leaves all zero)
# ---------------------------------------------------------------------------------------------
class GeMPooling2D(keras.layers.Layer):
    """Generalized-mean pooling (mean(x ** p)) ** (1 / p) with a learnable p started at 3,
    written without the reference's x.clamp(min=eps) 'because the input comes after a ReLU
    and is never negative'."""

    def build(self, input_shape):
        self.p = self.add_weight(shape=(), initializer=keras.initializers.Constant(3.0), name="p")

    def call(self, x):
        return tf.pow(tf.reduce_mean(tf.pow(x, self.p), axis=[1, 2]), 1.0 / self.p)


def gem_pooling_after_relu_without_the_clamp():
    """An image-retrieval style classifier (three Conv2D + ReLU blocks on 32 x 32 RGB crops of
    tinted products on a white-ish background, GeM pooling, a Dense head). Since the features
    come out of a ReLU, the GeM layer was written without the clamp(min=eps) of the reference
    code. A channel that a ReLU leaves at exactly 0 over the whole 8 x 8 map of an image
    (common: a filter negative on the whole crop) pools to mean = 0 and 0 ** (1/3) = 0, a
    finite forward value, but the derivative of m ** (1/p) at m = 0 is infinite: the backward
    pass of the GeM layer is inf (and 0 x inf = NaN further back) at the first step (clamp the
    features at eps before the power, as the reference code does)."""
    rng = seeded(3708)
    n, classes = 1024, 10
    labels = rng.integers(0, classes, size=n)
    tints = rng.uniform(0.3, 1.0, size=(classes, 3))
    yy, xx = np.mgrid[0:32, 0:32]
    blob = (((yy - 16) ** 2 + (xx - 16) ** 2) < 100).astype("float32")[None, :, :, None]
    images = 0.9 * (1 - blob) + blob * tints[labels][:, None, None, :]
    images = (images + 0.05 * rng.normal(size=(n, 32, 32, 3))).clip(0, 1).astype("float32")
    layers = [keras.Input((32, 32, 3))]
    for i, filters in enumerate([16, 32, 64]):
        layers.append(
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")
        )
        if i < 2:
            layers.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    layers += [GeMPooling2D(name="gem"), keras.layers.Dense(classes, name="head")]
    model = keras.Sequential(layers, name="gem_retrieval_cnn")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images, labels.astype("int32"), size=32),
    )


# ---------------------------------------------------------------------------------------------
# 10. a neural-ODE block integrated with RK4 up to an observation time in raw seconds
# ---------------------------------------------------------------------------------------------
class ODEBlock(keras.layers.Layer):
    """dz/dt = f(z) with f a two-layer ELU MLP, integrated by hand with 8 fixed RK4 steps
    from 0 to each sample's observation time t (h = t / 8)."""

    def __init__(self, units, steps=8, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.f1 = keras.layers.Dense(units, activation="elu", name="f1")
        self.f2 = keras.layers.Dense(units, name="f2")

    def build(self, input_shapes):
        z_shape, _ = input_shapes
        self.f1.build(z_shape)
        self.f2.build((None, self.f1.units))

    def call(self, inputs):
        z, t = inputs
        h = t / self.steps

        def f(state):
            return self.f2(self.f1(state))

        for _ in range(self.steps):
            k1 = f(z)
            k2 = f(z + 0.5 * h * k1)
            k3 = f(z + 0.5 * h * k2)
            k4 = f(z + h * k3)
            z = z + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return z


def neural_ode_block_integrated_over_raw_seconds():
    """A latent-ODE forecaster for a process line: 12 standardized sensor readings are encoded
    to a 32-dimensional state, an ODE block integrates it with 8 RK4 steps from 0 to the
    horizon of each sample, and a Dense decoder predicts 4 readings at that horizon. The
    horizon is fed as the raw number of seconds (30 to 900) although the dynamics were meant
    for time in units of the sampling period: each RK4 step is h = t / 8 of up to ~110 time
    units with f's Lipschitz constant ~1, the state is multiplied by ~(h L)^4 / 24 per step
    and overflows float32 inside the ODE block at the first step (rescale the time input to
    the order of 1: minutes / 15, or t / t_max)."""
    rng = seeded(3709)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    horizon = rng.uniform(30.0, 900.0, size=(n, 1)).astype("float32")
    w = rng.normal(size=(dim, 4)) / np.sqrt(dim)
    decay = np.exp(-horizon / 600.0)
    y = (np.tanh(x @ w) * decay + 0.05 * rng.normal(size=(n, 4))).astype("float32")
    features = np.concatenate([x, horizon], axis=1)
    inputs = keras.Input((dim + 1,))
    readings = keras.layers.Lambda(lambda z: z[:, :dim], name="readings")(inputs)
    t = keras.layers.Lambda(lambda z: z[:, dim:], name="horizon_seconds")(inputs)
    z0 = keras.layers.Dense(32, name="encoder")(readings)
    zt = ODEBlock(32, name="ode_block")([z0, t])
    outputs = keras.layers.Dense(4, name="decoder")(zt)
    model = keras.Model(inputs, outputs, name="latent_ode")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(features, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND37_SCENARIOS: list[Scenario] = [
    Scenario(
        "weight_standardized_stem_with_a_fan_in_of_one",
        weight_standardized_stem_with_a_fan_in_of_one,
        "activation",
        frozenset({"RealDiv"}),
        "kws_cnn/stem",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="weight standardization (w - mean) / std written from the paper without an "
        "epsilon and applied to every conv, including a 1 x 1 stem over a single input channel: "
        "each filter has one weight, std 0, and the standardized kernel is 0 / 0 "
        "(https://github.com/joe-siyuan-qiao/WeightStandardization/issues/1, "
        "https://github.com/joe-siyuan-qiao/WeightStandardization/issues/16, "
        "https://github.com/joe-siyuan-qiao/WeightStandardization/issues/8, "
        "https://github.com/huggingface/blog/pull/2484, "
        "https://github.com/chainer/chainer/pull/6678)",
        blind=True,
    ),
    Scenario(
        "film_exp_scale_on_raw_diffusion_timesteps",
        film_exp_scale_on_raw_diffusion_timesteps,
        "activation",
        frozenset({"Exp"}),
        "denoiser/film0",
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="a DDPM denoiser with hand-written FiLM layers gamma = exp(Dense(t)) fed the raw "
        "timestep 0..999 instead of a timestep embedding: Dense(t) reaches the hundreds and exp "
        "overflows in the first FiLM layer "
        "(https://github.com/lucidrains/denoising-diffusion-pytorch/issues/77, "
        "https://github.com/Janspiry/Palette-Image-to-Image-Diffusion-Models/issues/4, "
        "https://github.com/Svito-zar/gesticulator/issues/5, "
        "https://github.com/NVIDIA-BioNeMo/nvSubquadratic/pull/65)",
        blind=True,
    ),
    Scenario(
        "moe_top2_gates_renormalized_after_the_capacity_drop",
        moe_top2_gates_renormalized_after_the_capacity_drop,
        "activation",
        frozenset({"RealDiv"}),
        "moe_tagger/moe",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a hand-written GShard top-2 MoE layer renormalizing the kept gates "
        "g / (g1 + g2) without the reference's clamp of the denominator: tokens over the "
        "capacity of both their experts keep no gate and get 0 / 0 "
        "(https://github.com/deepspeedai/DeepSpeed/pull/809, "
        "https://github.com/deepspeedai/DeepSpeed/pull/5156, "
        "https://github.com/sgl-project/sglang/pull/38320, "
        "https://github.com/deepspeedai/DeepSpeed/pull/8155)",
        blind=True,
    ),
    Scenario(
        "rational_activation_powers_under_mixed_float16",
        rational_activation_powers_under_mixed_float16,
        "activation",
        frozenset({"Pow"}),
        "price_mlp/pau",
        "float16_range",
        frozenset({"float32_layer"}),
        story="a learnable Padé activation unit (degree 5 / 4) in a model switched to "
        "mixed_float16: the custom layer computes x ** 5 in float16, which passes 65504 once a "
        "pre-activation exceeds ~9.2 "
        "(https://github.com/nntrainer/nntrainer/issues/3935, "
        "https://github.com/Blaizzy/mlx-vlm/pull/293, "
        "https://github.com/facebookresearch/xformers/issues/96, "
        "https://github.com/pytorch/pytorch/issues/40497)",
        blind=True,
    ),
    Scenario(
        "stochastic_pooling_of_all_zero_relu_windows",
        stochastic_pooling_of_all_zero_relu_windows,
        "activation",
        frozenset({"RealDiv"}),
        "stochastic_pool_cnn/stochastic_pool",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="stochastic pooling written from Zeiler & Fergus, p_i = a_i / sum_j a_j over "
        "2 x 2 windows of ReLU activations, without an epsilon: windows the ReLU leaves all zero "
        "(the black border) give 0 / 0 in the pooling layer "
        "(https://github.com/iesl/box-embeddings/issues/14, "
        "https://github.com/CanReader/FastNN/issues/5, "
        "https://github.com/vanvalenlab/deepcell-toolbox/pull/72)",
        blind=True,
    ),
    Scenario(
        "poincare_dense_without_projection_into_the_ball",
        poincare_dense_without_projection_into_the_ball,
        "activation",
        frozenset({"Atanh"}),
        "hyperbolic_classifier/mobius_dense",
        "domain_error",
        frozenset(),
        story="a Möbius (Poincaré-ball) dense layer written from the HNN paper without the "
        "projection into the ball of radius 1 - eps: expmap0 of a vector of norm > ~9 rounds "
        "tanh to 1, the point sits on the boundary and logmap0's atanh(|y|) is inf / NaN "
        "(https://github.com/ferrine/hyrnn/issues/14, "
        "https://github.com/dalab/hyperbolic_nn/issues/3, "
        "https://github.com/geoopt/geoopt/pull/45, "
        "https://github.com/HazyResearch/hgcn/issues/7)",
        blind=True,
    ),
    Scenario(
        "vq_ema_codebook_update_without_laplace_smoothing",
        vq_ema_codebook_update_without_laplace_smoothing,
        None,
        frozenset({"RealDiv"}),
        "vq_vae/vq",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a VQ-VAE whose EMA codebook update e_i = m_i / N_i was ported without the "
        "Laplace smoothing of the cluster sizes: codes unused by the first batch keep N_i = 0 "
        "and their entries become m_i / 0 in the quantizer "
        "(https://github.com/google-deepmind/sonnet/issues/272, "
        "https://github.com/nadavbh12/VQ-VAE/issues/11, "
        "https://github.com/zalandoresearch/pytorch-vq-vae/issues/5, "
        "https://github.com/lucidrains/vector-quantize-pytorch/issues/38)",
        blind=True,
    ),
    Scenario(
        "capsule_squash_simplified_without_a_root_epsilon",
        capsule_squash_simplified_without_a_root_epsilon,
        "gradient",
        frozenset({"SqrtGrad"}),
        "capsnet/primary_caps",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="CapsNet's squash simplified to |s| / (1 + |s|^2) * s with |s| = sqrt(sum s^2) "
        "and no epsilon: primary capsules over the black corners have s = 0, a finite forward "
        "value but an infinite square-root derivative, NaN in the backward pass "
        "(https://github.com/ageron/handson-ml/issues/173, "
        "https://github.com/jindongwang/Pytorch-CapsuleNet/issues/7, "
        "https://github.com/jindongwang/Pytorch-CapsuleNet/issues/13, "
        "https://github.com/XifengGuo/CapsNet-Keras/issues/18)",
        blind=True,
    ),
    Scenario(
        "gem_pooling_after_relu_without_the_clamp",
        gem_pooling_after_relu_without_the_clamp,
        "gradient",
        frozenset({"Pow"}),
        "gem_retrieval_cnn/gem",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="GeM pooling (mean(x ** p)) ** (1 / p) after a ReLU, written without the clamp "
        "'because the features are non-negative': a channel that is zero over a whole map "
        "pools to 0, finite, but the derivative of m ** (1/p) at 0 is infinite in the backward "
        "pass (https://github.com/keras-team/keras/issues/15600, "
        "https://github.com/filipradenovic/cnnimageretrieval-pytorch/issues/61, "
        "https://github.com/lyakaap/Landmark2019-1st-and-3rd-Place-Solution/issues/7)",
        blind=True,
    ),
    Scenario(
        "neural_ode_block_integrated_over_raw_seconds",
        neural_ode_block_integrated_over_raw_seconds,
        None,
        frozenset(),
        "latent_ode/ode_block",
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="a latent-ODE block integrated by hand with fixed RK4 steps up to an observation "
        "horizon fed in raw seconds (30-900) instead of units of the sampling period: each "
        "step multiplies the state by ~(h L)^4 / 24 and it overflows inside the ODE block "
        "(https://github.com/patrick-kidger/torchcde/issues/37, "
        "https://github.com/DassHydro/smash/issues/399, "
        "https://github.com/rtqichen/torchdiffeq/issues/27, "
        "https://github.com/flow123d/flow123d/issues/974)",
        blind=True,
    ),
]
