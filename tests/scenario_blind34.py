"""A thirty-fourth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, without looking at any
other blind suite, and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears,
why, and the first fix to try), and all ten were written into this file before anything was
run. The patterns come from public reports found with a search over GitHub issues and pull
requests; each story cites them. The theme is hand-written training machinery in custom
tf.GradientTape loops, one ordinary slip each: a spectrally normalized Dense whose power
iteration never re-normalizes u and v, Filter Response Normalization with its learned epsilon
left without the absolute value, dynamic loss scaling by hand that tests the scaled loss
instead of the gradients, Muon without the Frobenius normalization before Newton-Schulz,
Dynamic Weight Average started from a zero loss history, Scalable-Softmax (s log n) attention
over sessions without events, Adaptive SAM per variable without the eta term, a learned
temperature 'kept positive' by keras.constraints.NonNeg, a TRPO natural-gradient step without
the zero-gradient guard, and PyTorch GradScaler's init_scale 2**16 cast to a float16 loss.
Where the pattern does not determine a field it is None (the Muon run's op, the loss scaling
run's op and layer, two causes); fix ids are only those of the design notes' taxonomy, and
where none of them is the first fix a careful engineer would try, the fix set is empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, weights and optimizer variables after each step, and at
which step), and, with tf.debugging.enable_check_numerics (plain TF, the step compiled as the
scenario runs it), which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers and asserts that nantrace
was never imported. No expectation field (kind, op types, layer, cause, fixes) was changed
after that check, and no pattern was dropped; one construction was changed, as told below.
What the check showed: the spectral norm (the loss stays at ~1.10; with check_numerics the
sigma MatMul of sn_hidden, MatMul_3, is +inf at step 42; in the plain run sigma = inf only
zeroes W / sigma, and the weights turn NaN at step 85 when u itself overflows, the loss still
finite), the FRN (loss 1.67 at step 0, NaN at step 1; first op the layer's Rsqrt), the dynamic
loss scale (finite losses ~0.2 while the scale doubles; the weights and Adam's slots are
non-finite after step 227, the loss of that step finite; compiled, check_numerics first flags
the inf gradients where they enter the cond's apply branch, and the same step run eagerly
with check_numerics names a float16 MatMul of the backward pass, hidden0's kernel gradient,
20 x 128), Muon (loss 1.32 and the weights non-finite after step 0; first op a Newton-Schulz
MatMul, MatMul_27), DWA (NaN loss at step 0; first op the RealDiv L(t-1) / L(t-2)), SSMax
(NaN at step 0; first op the layer's Log), ASAM (loss 1.02 at step 0 and the weights NaN after
it; first op the RealDiv of the first bias' ascent step), the temperature (after the change
below: the held-out loss reaches exactly 0, tau is clipped to 0 at step 21 and the loss is
NaN at step 22; first op the layer's RealDiv, +-inf), TRPO (the first batch has a conversion
and trains; the second has none, its loss is -0.0 and the weights NaN after it; first op the
conjugate gradient's alpha RealDiv, at step 1) and the GradScaler (loss 1.17 at step 0, the
weights NaN after it; first op the Cast of the scale to float16, +inf).
Construction changed after the first check (expectation fields untouched, the docstring and
story rewritten to match): the temperature was first trained jointly with the network by
Adam(0.01); tau rose to 1.10 while the network was still wrong and then fell by ~3e-5 a step
(Adam's second moment remembered the early gradients), finite over 320 steps. It is now the
usual post-hoc temperature scaling: the network trained with fit() (Adam(1e-3), 5 epochs),
frozen, and tau fitted alone on held-out batches by Adam(0.1); a first try with the network
trained harder (Adam(1e-2), 3 epochs) left a held-out loss of exactly 0 from the first step,
so tau never moved.
Caveats a reader should know: the Muon scenario leaves its op None because a Mul could
overflow before the MatMul (the check showed a MatMul), and its cause None (no id of the
taxonomy names a missing normalization before Newton-Schulz); the spectral norm's cause is
None for the same reason; the loss scaling scenario's op is left empty (the check showed a
MatMul of the backward pass, and compiled check_numerics did not flag it at its source); the
TRPO and Muon scenarios train with no Keras optimizer (run_loop gets the model only).

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
)


def _smooth_regression(rng, n, dim, noise=0.1):
    """Standardized features and a smooth, standardized-scale target."""
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = 1.5 * np.tanh(x @ w) + 0.5 * np.sin(2.0 * (x @ v)) + 0.3 * x[:, 0] * x[:, 1]
    y = y + noise * rng.normal(size=n)
    return x, y.astype("float32").reshape(-1, 1)


def _blobs(rng, n, dim, classes, spread):
    """Gaussian class blobs, ``spread`` standard deviations apart (integer labels)."""
    centres = rng.normal(scale=spread, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    return x, labels.astype("int32")


def _flat(tensors):
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


# ---------------------------------------------------------------------------------------------
# 1. spectral normalization by hand whose power iteration never re-normalizes u and v
# ---------------------------------------------------------------------------------------------
class SpectralNormDense(keras.layers.Layer):
    """Dense with W / sigma, sigma by one power iteration per call on a persistent u (SN-GAN)."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.u = self.add_weight(
            shape=(1, self.units),
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
            trainable=False,
            name="sn_u",
        )

    def call(self, x, training=None):
        w = self.kernel
        u = tf.stop_gradient(tf.convert_to_tensor(self.u))
        # the reference wraps both lines in tf.nn.l2_normalize; the port keeps the raw products
        v = tf.stop_gradient(tf.matmul(u, w, transpose_b=True))
        u_new = tf.stop_gradient(tf.matmul(v, w))
        sigma = tf.matmul(tf.matmul(v, w), u_new, transpose_b=True)
        if training:
            self.u.assign(u_new)
        return self.activation(tf.matmul(x, w / sigma) + self.bias)


def spectral_norm_power_iteration_without_renormalizing_u_and_v():
    """A defect classifier (16 standardized sensor features, 3 classes) whose hidden layer is
    a spectrally normalized Dense written by hand after the SN-GAN TensorFlow code: one power
    iteration per call, v = u W^T, u = v W, sigma = v W u^T, kernel / sigma, u kept in a
    non-trainable weight between steps. The port dropped the two tf.nn.l2_normalize calls
    ('sigma divides W anyway'): u is multiplied by about sigma_max(W)^2 (~3 for this Glorot
    kernel) at every step, the estimate sigma = |u|^2 grows some 10x a step and the MatMul
    that computes it overflows float32 within a few dozen steps, while W, the inputs and the
    loss are ordinary (normalize u and v at every iteration)."""
    rng = seeded(3400)
    x, labels = _blobs(rng, 4096, 16, 3, 1.0)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            SpectralNormDense(128, activation="relu", name="sn_hidden"),
            keras.layers.Dense(3, name="head"),
        ],
        name="sn_classifier",
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, labels, size=64, epochs=3))


# ---------------------------------------------------------------------------------------------
# 2. Filter Response Normalization with its learned epsilon left unconstrained
# ---------------------------------------------------------------------------------------------
class FilterResponseNorm(keras.layers.Layer):
    """FRN + TLU from the paper, x * rsqrt(nu2 + eps), eps a learned per-channel weight."""

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")
        self.tau = self.add_weight(shape=(channels,), initializer="zeros", name="tau")
        self.eps = self.add_weight(
            shape=(channels,), initializer=keras.initializers.Constant(1e-6), name="eps"
        )

    def call(self, x):
        # a (batch, channels) activation has a 1 x 1 'map': nu2 is x^2 itself
        nu2 = tf.square(x)
        x = x * tf.math.rsqrt(nu2 + self.eps)  # the paper: eps_min + |eps_learned|
        return tf.maximum(self.gamma * x + self.beta, self.tau)


def filter_response_norm_with_an_unconstrained_learned_epsilon():
    """A tabular regressor (12 standardized features, MSE) using Filter Response
    Normalization + TLU written from the paper after its linear hidden Dense, 'to avoid
    batch dependence'. On a (batch, channels) activation the map is 1 x 1, so nu2 = x^2 and
    the paper makes eps learnable for exactly this case; the port made eps a plain trainable
    weight started at 1e-6 and dropped the absolute value (and the floor) around it. The
    first Adam step moves each channel's eps by about the learning rate, 1e-3, in the
    direction of its gradient's sign: about half of them become ~-1e-3, and every
    activation with x^2 below 1e-3 (|x| < 0.03, a few percent of them) takes rsqrt of a
    negative number inside the layer at the second step (eps = eps_min + |eps_learned|, or a
    softplus)."""
    rng = seeded(3401)
    x, y = _smooth_regression(rng, 4096, 12)
    inputs = keras.Input((12,))
    h = keras.layers.Dense(64, name="hidden0")(inputs)
    h = FilterResponseNorm(name="frn")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="frn_mlp")
    loss_fn = keras.losses.MeanSquaredError()
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=64))


# ---------------------------------------------------------------------------------------------
# 3. dynamic loss scaling by hand whose overflow check looks at the scaled loss
# ---------------------------------------------------------------------------------------------
def _dynamic_loss_scale_run():
    rng = seeded(3402)
    x, y = _smooth_regression(rng, 8192, 20)
    inputs = keras.Input((20,))
    h = keras.layers.Dense(128, activation="relu", name="hidden0")(inputs)
    h = keras.layers.Dense(128, activation="relu", name="hidden1")(h)
    outputs = keras.layers.Dense(1, dtype="float32", name="head")(h)
    model = keras.Model(inputs, outputs, name="fp16_mlp")
    optimizer = keras.optimizers.Adam(1e-3)
    scale = tf.Variable(2.0**10, trainable=False, dtype=tf.float32)
    good_steps = tf.Variable(0, trainable=False, dtype=tf.int64)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = tf.reduce_mean(tf.square(y - tf.cast(pred, tf.float32)))
            scaled_loss = loss * scale
        grads = tape.gradient(scaled_loss, model.trainable_variables)
        grads = [g / scale for g in grads]
        finite = tf.math.is_finite(scaled_loss)  # meant: all(is_finite(g) for g in grads)

        def apply():
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            good_steps.assign_add(1)
            grow = tf.equal(good_steps % 25, 0)
            scale.assign(tf.where(grow, scale * 2.0, scale))
            return tf.constant(True)

        def skip():
            scale.assign(scale / 2.0)
            good_steps.assign(0)
            return tf.constant(False)

        tf.cond(finite, apply, skip)
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=32))


def dynamic_loss_scale_by_hand_checked_on_the_scaled_loss():
    """A regression MLP (20 standardized features, a standardized target) under
    mixed_float16 with its head kept in float32, trained in a custom loop with dynamic loss
    scaling written by hand after apex / fastai: start at 2^10, double the scale after 25
    good steps, halve it and skip the update on an overflow. The overflow test was written
    on the scaled LOSS, tf.math.is_finite(scaled_loss), instead of on the gradients: the
    float32 loss times the scale never overflows, so the scale keeps doubling (2^16 after
    150 steps, 2^20 after 250), and once scale x the backward's float16 tensors passes
    65504 the float16 gradients of the hidden layers overflow in the backward pass; the
    'guard' sees a finite loss and applies the inf / NaN gradients (check the gradients:
    keras' LossScaleOptimizer does it)."""
    with dtype_policy("mixed_float16"):
        return _dynamic_loss_scale_run()


# ---------------------------------------------------------------------------------------------
# 4. Muon by hand without the Frobenius normalization before Newton-Schulz
# ---------------------------------------------------------------------------------------------
def _newton_schulz5(g, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g  # the reference first does x = g / (||g||_F + 1e-7)
    for _ in range(steps):
        s = tf.matmul(x, x, transpose_b=True)
        t = b * s + c * tf.matmul(s, s)
        x = a * x + tf.matmul(t, x)
    return x


def muon_by_hand_without_the_newton_schulz_normalization():
    """A regression MLP (16 standardized features, 3 x 64 ReLU, MSE) trained with Muon
    written by hand from the blog post: the hidden 64 x 64 kernels get SGD-Nesterov momentum
    (0.95) orthogonalized by five quintic Newton-Schulz steps, lr 0.02, everything else
    Adam. The port left out the first line of the iteration, X = G / ||G||_F ('the
    iteration orthogonalizes anyway'): the quintic coefficients (3.4445, -4.775, 2.0315)
    only converge for singular values up to about 1.2, and the momentum-mixed gradient has a
    larger top singular value as soon as the momentum builds up; above it each step raises
    it to about its fifth power and the Newton-Schulz products overflow float32 inside the
    update while the loss and the gradients are finite (restore X = G / (||G||_F + eps))."""
    rng = seeded(3403)
    x, y = _smooth_regression(rng, 4096, 16)
    model = mlp([64, 64, 64], name="muon_mlp", input_dim=16)
    muon_vars = [model.get_layer("hidden1").kernel, model.get_layer("hidden2").kernel]
    muon_ids = {id(v) for v in muon_vars}
    other_vars = [v for v in model.trainable_variables if id(v) not in muon_ids]
    adam = keras.optimizers.Adam(1e-3)
    adam.build(other_vars)
    buffers = [tf.Variable(tf.zeros_like(v), trainable=False) for v in muon_vars]
    mse = keras.losses.MeanSquaredError()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, muon_vars + other_vars)
        for v, buf, g in zip(muon_vars, buffers, grads[: len(muon_vars)], strict=True):
            buf.assign(0.95 * buf + g)
            update = _newton_schulz5(g + 0.95 * buf)
            v.assign_sub(0.02 * update)
        adam.apply_gradients(zip(grads[len(muon_vars) :], other_vars, strict=True))
        return loss

    return run_loop(train_step, batches(x, y, size=64, epochs=2), model=model)


# ---------------------------------------------------------------------------------------------
# 5. Dynamic Weight Average with its loss history started at zero
# ---------------------------------------------------------------------------------------------
def dynamic_weight_average_from_a_zero_loss_history():
    """A two-task customer model (shared 2 x 64 ReLU trunk on 16 features, a spend
    regression head (MSE) and a churn head (BCE from logits)) balanced with Dynamic Weight
    Average by hand, per step: lambda_k = K softmax(w_k / T), w_k = L_k(t-1) / L_k(t-2),
    T = 2, with the two previous losses kept in tf.Variables started at zeros. The reference
    (MTAN) sets lambda_k = 1 for the first two epochs, while there is no history; the port
    dropped that branch, so the first step computes w_k = 0 / 0 = NaN, the task weights
    are NaN and so is the weighted loss (start the history at the first losses, or keep
    weight 1 until two losses exist)."""
    rng = seeded(3404)
    x, spend = _smooth_regression(rng, 4096, 16)
    w = rng.normal(size=(16,)) / 4.0
    churn = (rng.random(4096) < 1.0 / (1.0 + np.exp(-2.0 * (x @ w)))).astype("float32")
    inputs = keras.Input((16,))
    h = keras.layers.Dense(64, activation="relu", name="trunk0")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="trunk1")(h)
    spend_out = keras.layers.Dense(1, name="spend_head")(h)
    churn_out = keras.layers.Dense(1, name="churn_head")(h)
    model = keras.Model(inputs, [spend_out, churn_out], name="multitask_mlp")
    mse = keras.losses.MeanSquaredError()
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(1e-3)
    previous = tf.Variable(tf.zeros(2), trainable=False)
    before_previous = tf.Variable(tf.zeros(2), trainable=False)

    def train_step(x, y_spend, y_churn):
        with tf.GradientTape() as tape:
            p_spend, p_churn = model(x, training=True)
            losses = tf.stack([mse(y_spend, p_spend), bce(y_churn, p_churn)])
            ratios = previous / before_previous
            weights = 2.0 * tf.nn.softmax(ratios / 2.0)
            loss = tf.reduce_sum(tf.stop_gradient(weights) * losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        before_previous.assign(previous)
        previous.assign(tf.stop_gradient(losses))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    data = [
        (
            tf.constant(x[s : s + 64]),
            tf.constant(spend[s : s + 64]),
            tf.constant(churn[s : s + 64].reshape(-1, 1)),
        )
        for s in range(0, 4096, 64)
    ]
    return run_loop(train_step, data)


# ---------------------------------------------------------------------------------------------
# 6. Scalable-Softmax attention pooling, s log(n) q.k, on sessions without any event
# ---------------------------------------------------------------------------------------------
class ScalableSoftmaxPooling(keras.layers.Layer):
    """Attention pooling with a learned query and SSMax logits s * log(n) * q.k / sqrt(d),
    n the number of real (non-padding) events of the session."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.keys = keras.layers.Dense(dim, name="keys")
        self.values = keras.layers.Dense(dim, name="values")

    def build(self, input_shape):
        self.keys.build(input_shape)
        self.values.build(input_shape)
        self.query = self.add_weight(shape=(self.dim,), initializer="glorot_uniform", name="q")
        self.s = self.add_weight(shape=(), initializer="ones", name="s")

    def call(self, events):
        mask = tf.cast(tf.reduce_any(tf.not_equal(events, 0.0), axis=-1), events.dtype)
        n = tf.reduce_sum(mask, axis=-1, keepdims=True)
        scores = tf.einsum("btd,d->bt", self.keys(events), self.query) / np.sqrt(self.dim)
        scores = self.s * tf.math.log(n) * scores + (1.0 - mask) * -1e9
        weights = tf.nn.softmax(scores, axis=-1)
        return tf.einsum("bt,btd->bd", weights, self.values(events))


def scalable_softmax_log_length_on_empty_sessions():
    """A conversion model over user sessions (up to 20 events of 8 features, zero-padded):
    an attention pooling layer with Scalable-Softmax (SSMax) logits s log(n) q.k / sqrt(d)
    written from the paper, n the number of real events of each session, padding masked
    with an additive -1e9, then a Dense logit (BCE). About 3 % of the sessions have no event
    at all (users who only opened the app): for them n = 0 and log(n) = -inf inside the
    layer, the scaled scores are +-inf and their softmax is NaN at the first step, in the
    batches that hold one (log(max(n, 1)), or an epsilon under the log)."""
    rng = seeded(3405)
    n_sessions, steps, dim = 2048, 20, 8
    lengths = rng.integers(1, steps + 1, size=n_sessions)
    lengths[rng.random(n_sessions) < 0.03] = 0
    events = rng.normal(size=(n_sessions, steps, dim)).astype("float32")
    events[np.arange(steps)[None, :] >= lengths[:, None]] = 0.0
    drive = events[:, :, 0].sum(axis=1) / np.sqrt(np.maximum(lengths, 1))
    labels = (rng.random(n_sessions) < 1.0 / (1.0 + np.exp(-drive))).astype("float32")
    inputs = keras.Input((steps, dim))
    pooled = ScalableSoftmaxPooling(16, name="ssmax_attention")(inputs)
    outputs = keras.layers.Dense(1, name="head")(pooled)
    model = keras.Model(inputs, outputs, name="session_model")
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(events, labels.reshape(-1, 1), size=64))


# ---------------------------------------------------------------------------------------------
# 7. ASAM by hand, per variable, without the eta that covers zero-initialized biases
# ---------------------------------------------------------------------------------------------
def asam_by_hand_without_eta_on_zero_initialized_biases():
    """A regression MLP (12 standardized features, MSE) trained with Adaptive SAM written by
    hand from the paper's element-wise operator T_w = |w|: for each variable, the ascent
    step e = rho T_w^2 g / ||T_w g|| (rho = 0.5), a second gradient at w + e, w - e, then the
    SGD(momentum) update with the second gradient. The loop normalizes variable by variable
    and left out the paper's eta (T_w = |w| + eta, the term there for weights at zero): the
    Dense biases start at exactly 0, so for them T_w g = 0 and e = 0 / 0 = NaN in the ascent
    step at the first update, while the loss and the first gradients are finite (T_w = |w| +
    eta with eta = 0.01, or an epsilon in the norm)."""
    rng = seeded(3406)
    x, y = _smooth_regression(rng, 4096, 12)
    model = mlp([64, 64], name="asam_mlp", input_dim=12)
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    mse = keras.losses.MeanSquaredError()
    rho = 0.5

    def train_step(x, y):
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, variables)
        perturbations = []
        for v, g in zip(variables, grads, strict=True):
            t = tf.abs(v)
            e = rho * t * t * g / tf.norm(t * g)
            v.assign_add(e)
            perturbations.append(e)
        with tf.GradientTape() as tape:
            sharp_loss = mse(y, model(x, training=True))
        sharp_grads = tape.gradient(sharp_loss, variables)
        for v, e in zip(variables, perturbations, strict=True):
            v.assign_sub(e)
        optimizer.apply_gradients(zip(sharp_grads, variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=64))


# ---------------------------------------------------------------------------------------------
# 8. a learned temperature kept positive with keras.constraints.NonNeg()
# ---------------------------------------------------------------------------------------------
class Temperature(keras.layers.Layer):
    """logits / tau, tau a trainable scalar kept 'positive' by a NonNeg constraint."""

    def build(self, input_shape):
        self.tau = self.add_weight(
            shape=(),
            initializer="ones",
            constraint=keras.constraints.NonNeg(),
            name="tau",
        )

    def call(self, logits):
        return logits / self.tau


def temperature_layer_kept_positive_with_nonneg():
    """A 4-class sensor-fault classifier (10 features, well-separated classes, a 32-unit
    ReLU layer and a logits Dense) trained with fit(), then calibrated by temperature
    scaling in a custom loop: the network frozen, a learned temperature layer logits / tau
    appended and tau fitted alone on held-out batches by Adam(0.1) (the reference uses
    L-BFGS) on sparse cross-entropy from logits. To keep tau positive the author gave its
    weight keras.constraints.NonNeg(), which clips at zero rather than keeping it above it.
    The held-out classes are separated, so a sharper softmax always lowers the loss: Adam
    walks tau down, its momentum carries it past 0 as the gradient fades, the constraint sets
    it to exactly 0.0 and the next forward pass divides the logits by zero inside the layer
    (learn log tau, or a softplus with a floor)."""
    rng = seeded(3407)
    x, labels = _blobs(rng, 4096, 10, 4, 3.0)
    base = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(4, name="logits"),
        ],
        name="classifier",
    )
    base.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    base.fit(x[:3072], labels[:3072], batch_size=64, epochs=5, verbose=0)
    base.trainable = False
    model = keras.Sequential(
        [keras.Input((10,)), base, Temperature(name="temperature")],
        name="calibrated_classifier",
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(0.1)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=False))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x[3072:], labels[3072:], size=64, epochs=10))


# ---------------------------------------------------------------------------------------------
# 9. TRPO's conjugate gradient on a batch whose advantages are all zero
# ---------------------------------------------------------------------------------------------
def trpo_conjugate_gradient_on_a_batch_without_reward():
    """A TRPO-style natural-gradient update by hand for a softmax policy over 4 offers (a
    linear Dense on 8 context features), trained on logged bandit data with sparse rewards
    (a conversion, about 3 %): surrogate mean(ratio * (r - mean r)), the step F^-1 g by 10
    conjugate-gradient iterations on Fisher-vector products of the mean KL (damping 0.1),
    scaled to a KL of 0.01. The port left out baselines' 'if np.allclose(g, 0): not
    updating' guard: a batch of 32 without any conversion has advantages exactly 0, g = 0,
    and the first CG step is alpha = (r.r) / (p.Fp) = 0 / 0 = NaN, so the step and the
    policy weights are NaN while the loss and the gradient are finite (skip the update when
    g is zero, or guard the divisions)."""
    rng = seeded(3408)
    n, dim, arms = 4096, 8, 4
    x = rng.normal(size=(n, dim)).astype("float32")
    actions = rng.integers(0, arms, size=n).astype("int32")
    pref = rng.normal(size=(dim, arms)) / np.sqrt(dim)
    rate = 0.03 * np.exp((x @ pref)[np.arange(n), actions]) / np.exp(0.5)
    rewards = (rng.random(n) < rate).astype("float32")
    model = keras.Sequential(
        [keras.Input((dim,)), keras.layers.Dense(arms, name="logits")], name="bandit_policy"
    )
    variables = model.trainable_variables

    def fisher_vector_product(x, old_probs, vec):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                probs = tf.nn.softmax(model(x, training=True))
                kl = tf.reduce_mean(
                    tf.reduce_sum(old_probs * (tf.math.log(old_probs) - tf.math.log(probs)), 1)
                )
            kl_grad = _flat(inner.gradient(kl, variables))
            grad_vec = tf.reduce_sum(kl_grad * vec)
        return _flat(outer.gradient(grad_vec, variables)) + 0.1 * vec

    def train_step(x, a, r):
        old_probs = tf.stop_gradient(tf.nn.softmax(model(x, training=True)))
        advantages = r - tf.reduce_mean(r)
        with tf.GradientTape() as tape:
            probs = tf.nn.softmax(model(x, training=True))
            taken = tf.gather(probs, a, batch_dims=1)
            old_taken = tf.gather(old_probs, a, batch_dims=1)
            surrogate = tf.reduce_mean(taken / old_taken * advantages)
        g = _flat(tape.gradient(surrogate, variables))
        # (baselines: if np.allclose(g, 0): 'Got zero gradient. not updating')
        step = tf.zeros_like(g)
        residual, direction = g, g
        rdotr = tf.reduce_sum(residual * residual)
        for _ in range(10):
            fp = fisher_vector_product(x, old_probs, direction)
            alpha = rdotr / tf.reduce_sum(direction * fp)
            step = step + alpha * direction
            residual = residual - alpha * fp
            new_rdotr = tf.reduce_sum(residual * residual)
            direction = residual + (new_rdotr / rdotr) * direction
            rdotr = new_rdotr
        shs = 0.5 * tf.reduce_sum(step * fisher_vector_product(x, old_probs, step))
        full_step = step / tf.sqrt(shs / 0.01)
        offset = 0
        for v in variables:
            size = int(np.prod(v.shape))
            v.assign_add(tf.reshape(full_step[offset : offset + size], v.shape))
            offset += size
        return -surrogate

    data = [
        (
            tf.constant(x[s : s + 32]),
            tf.constant(actions[s : s + 32]),
            tf.constant(rewards[s : s + 32]),
        )
        for s in range(0, n, 32)
    ]
    return run_loop(train_step, data, model=model)


# ---------------------------------------------------------------------------------------------
# 10. PyTorch GradScaler's init_scale 2**16 multiplied into a float16 loss
# ---------------------------------------------------------------------------------------------
def _gradscaler_run():
    rng = seeded(3409)
    x, y = _smooth_regression(rng, 4096, 10)
    model = mlp([64, 64], name="fp16_regressor", input_dim=10)
    optimizer = keras.optimizers.Adam(1e-3)
    loss_scale = tf.Variable(2.0**16, trainable=False, dtype=tf.float32)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = tf.reduce_mean(tf.square(tf.cast(y, pred.dtype) - pred))
            scaled_loss = loss * tf.cast(loss_scale, loss.dtype)
        grads = tape.gradient(scaled_loss, model.trainable_variables)
        grads = [g / loss_scale for g in grads]
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=64))


def gradscaler_init_scale_multiplied_into_a_float16_loss():
    """A regression MLP (10 standardized features) moved to mixed_float16 in a custom loop,
    its head left in float16 and the MSE written by hand on the float16 predictions (so the
    loss is float16 too), with a static loss scale copied from PyTorch's GradScaler default,
    init_scale = 2**16 = 65536, kept in a float32 variable and cast to the loss dtype before
    the multiplication. 65536 is just above float16's largest value, 65504: the cast gives
    inf, the scaled loss is inf at the first step and the gradients inf / NaN, whatever the
    data (compute the loss in float32 with a float32 head, and let keras'
    LossScaleOptimizer keep its scale in float32)."""
    with dtype_policy("mixed_float16"):
        return _gradscaler_run()


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND34_SCENARIOS: list[Scenario] = [
    Scenario(
        "spectral_norm_power_iteration_without_renormalizing_u_and_v",
        spectral_norm_power_iteration_without_renormalizing_u_and_v,
        "matmul_overflow",
        frozenset({"MatMul"}),
        "sn_classifier/sn_hidden",
        None,
        frozenset(),
        story="a spectrally normalized Dense by hand (SN-GAN's TF power iteration) with the "
        "tf.nn.l2_normalize of u and v left out: the persistent u grows by sigma_max^2 a step "
        "and the MatMul computing sigma = v W u^T overflows after a few dozen steps "
        "(https://github.com/IShengFang/SpectralNormalizationKeras/issues/1, "
        "https://github.com/pytorch/pytorch/pull/6929, "
        "https://github.com/google-deepmind/dm-haiku/issues/71, "
        "https://github.com/deel-ai/deel-lip/pull/70)",
        blind=True,
    ),
    Scenario(
        "filter_response_norm_with_an_unconstrained_learned_epsilon",
        filter_response_norm_with_an_unconstrained_learned_epsilon,
        "activation",
        frozenset({"Rsqrt"}),
        "frn_mlp/frn",
        "domain_error",
        frozenset(),
        story="Filter Response Normalization by hand on a dense (1 x 1) activation with the "
        "learned epsilon a plain weight, without the paper's absolute value: the first Adam "
        "step makes it ~-1e-3 and rsqrt(x^2 + eps) of small activations is NaN "
        "(https://github.com/tensorflow/addons/pull/765, "
        "https://github.com/ml-explore/mlx/pull/4312, "
        "https://github.com/probml/pml-book/issues/251)",
        blind=True,
    ),
    Scenario(
        "dynamic_loss_scale_by_hand_checked_on_the_scaled_loss",
        dynamic_loss_scale_by_hand_checked_on_the_scaled_loss,
        "gradient",
        frozenset(),
        None,
        "float16_range",
        frozenset({"loss_scaling"}),
        story="dynamic loss scaling by hand under mixed_float16 whose overflow check tests "
        "the finite float32 scaled loss instead of the gradients: the scale doubles every "
        "25 steps without limit until the float16 backward overflows, and the inf gradients "
        "are applied (https://github.com/fastai/fastai/pull/1608, "
        "https://github.com/google/flax/issues/2547, "
        "https://github.com/speechbrain/speechbrain/pull/2281, "
        "https://github.com/NVIDIA/DeepLearningExamples/issues/139)",
        blind=True,
    ),
    Scenario(
        "muon_by_hand_without_the_newton_schulz_normalization",
        muon_by_hand_without_the_newton_schulz_normalization,
        "optimizer_update",
        frozenset(),
        None,
        None,
        frozenset(),
        story="Muon by hand with the X = G / ||G||_F line before the quintic Newton-Schulz "
        "iteration left out: the momentum-mixed gradient's top singular value passes the "
        "iteration's ~1.2 limit, it is raised to about its fifth power per step and the "
        "update overflows (https://github.com/NVIDIA-NeMo/Emerging-Optimizers/issues/229, "
        "https://github.com/openvpi/DiffSinger/pull/301, "
        "https://github.com/MoonshotAI/Moonlight/issues/22, "
        "https://github.com/pytorch/pytorch/pull/179273)",
        blind=True,
    ),
    Scenario(
        "dynamic_weight_average_from_a_zero_loss_history",
        dynamic_weight_average_from_a_zero_loss_history,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="Dynamic Weight Average by hand with the loss history started at zeros and the "
        "reference's 'weight 1 for the first two epochs' branch dropped: L(t-1) / L(t-2) = "
        "0 / 0 makes the task weights and the loss NaN at the first step "
        "(https://github.com/lorenmt/mtan/issues/58, "
        "https://github.com/rickgroen/cov-weighting/issues/3, "
        "https://github.com/SimplexLab/TorchJD/pull/731, "
        "https://github.com/median-research-group/LibMTL/issues/74)",
        blind=True,
    ),
    Scenario(
        "scalable_softmax_log_length_on_empty_sessions",
        scalable_softmax_log_length_on_empty_sessions,
        "activation",
        frozenset({"Log"}),
        "session_model/ssmax_attention",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Scalable-Softmax attention pooling by hand, s log(n) q.k, over sessions of "
        "which some have no event: n = 0, log(0) = -inf and the scaled scores' softmax is "
        "NaN inside the layer (https://github.com/takara-ai/go-attention/pull/4, "
        "https://github.com/AkihikoWatanabe/paper_notes/issues/1866, "
        "https://github.com/d2l-ai/d2l-en/pull/2423)",
        blind=True,
    ),
    Scenario(
        "asam_by_hand_without_eta_on_zero_initialized_biases",
        asam_by_hand_without_eta_on_zero_initialized_biases,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Adaptive SAM by hand, per variable, with T_w = |w| and without the eta term: "
        "the zero-initialized biases give T_w g = 0 and the ascent step rho T^2 g / ||T g|| "
        "is 0 / 0 = NaN at the first update (https://github.com/davda54/sam/issues/22, "
        "https://github.com/davda54/sam/issues/81, "
        "https://github.com/davda54/sam/issues/37)",
        blind=True,
    ),
    Scenario(
        "temperature_layer_kept_positive_with_nonneg",
        temperature_layer_kept_positive_with_nonneg,
        "activation",
        frozenset({"RealDiv"}),
        "calibrated_classifier/temperature",
        "missing_epsilon",
        frozenset(),
        story="temperature scaling, logits / tau, with keras.constraints.NonNeg() on tau: "
        "on separated held-out classes Adam walks tau down, the constraint clips it to "
        "exactly 0 and the logits are divided by zero "
        "(https://github.com/gpleiss/temperature_scaling/issues/31, "
        "https://github.com/google-research/tabfm/issues/93, "
        "https://github.com/PrimeIntellect-ai/prime-rl/pull/3090, "
        "https://github.com/tensorflow/addons/pull/765)",
        blind=True,
    ),
    Scenario(
        "trpo_conjugate_gradient_on_a_batch_without_reward",
        trpo_conjugate_gradient_on_a_batch_without_reward,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="a TRPO / natural-gradient step by hand without baselines' zero-gradient "
        "guard: a logged batch without any reward has all-zero advantages, g = 0 and the "
        "conjugate gradient's first alpha = (r.r) / (p.Fp) = 0 / 0 makes the policy NaN "
        "(https://github.com/openai/baselines/issues/415, "
        "https://github.com/boyu-ai/Hands-on-RL/issues/108, "
        "https://github.com/tensorforce/tensorforce/issues/26, "
        "https://github.com/rll/rllab/issues/24)",
        blind=True,
    ),
    Scenario(
        "gradscaler_init_scale_multiplied_into_a_float16_loss",
        gradscaler_init_scale_multiplied_into_a_float16_loss,
        "loss",
        frozenset({"Cast"}),
        None,
        "float16_range",
        frozenset({"float32_layer", "loss_scaling"}),
        story="a static loss scale copied from PyTorch GradScaler's init_scale 2**16 and "
        "cast to the dtype of a float16 loss (mixed_float16, float16 head, MSE by hand): "
        "65536 is above float16's 65504, the cast is inf and so is the scaled loss "
        "(https://github.com/graphcore-research/jax-scalify/pull/81, "
        "https://github.com/meta-pytorch/float8_experimental/pull/61, "
        "https://github.com/huggingface/transformers/issues/552, "
        "https://github.com/tensorflow/tensorflow/issues/38357)",
        blind=True,
    ),
]
