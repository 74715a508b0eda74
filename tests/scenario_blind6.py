"""A sixth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` / ``scenario_patterns.py``, the format of
``scenario_blind5.py`` and the taxonomy of the design notes), and without running nantrace on
them: each expectation comes from the bug pattern itself (what a careful ML engineer would name
as where the first non-finite value appears, why, and the first fix to try). The only thing
checked while writing them is that plain TensorFlow, unwatched, really goes non-finite on their
batches (a throwaway script outside the repository, a plain ``tf.function`` step). None repeats
a pattern on the list of existing scenarios that came with the brief; each story cites the
public report(s) the pattern comes from. Layer names are set explicitly only so the
expectations can name them.

One slip, reported by the writer: a search of how existing scenarios set ``kind`` also showed
two expectation entries of ``scenario_blind3.py`` (``pretrained_embedding_with_nan_rows``,
``float16_exponential_head_page_views``) — scenario metadata, no rule, doc or nantrace code.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, dtype_policy, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. a memory-reduced (float16) table: a feature derived afterwards overflows to inf
# ---------------------------------------------------------------------------------------------
def float16_memory_reduced_lot_area():
    """House-price regression from a table that went through a Kaggle-style reduce_mem_usage():
    every float column whose min / max fit in float16 was downcast to save memory. Lot width and
    depth in feet fit, but the lot area computed afterwards on the downcast columns (width *
    depth, still float16) passes 65504 for the largest lots and is inf; log1p(inf) = inf reaches
    the batch. The other features are standardized as usual."""
    rng = seeded(800)
    n = 256
    width = rng.uniform(30, 260, size=n).astype(np.float16)
    depth = rng.uniform(60, 280, size=n).astype(np.float16)
    with np.errstate(over="ignore"):
        lot_area = width * depth  # float16 arithmetic: inf above 65504
    living = rng.uniform(600, 4500, size=n)
    bedrooms = rng.integers(1, 6, size=n).astype("float64")
    age = rng.uniform(0, 90, size=n)
    log_price = (
        11.0
        + 0.0004 * living
        + 0.05 * bedrooms
        - 0.004 * age
        + 0.15 * np.log1p(width.astype("float64") * depth.astype("float64")) / 10
        + 0.1 * rng.normal(size=n)
    )
    dense = np.stack([living, bedrooms, age], axis=1)
    dense = (dense - dense.mean(axis=0)) / dense.std(axis=0)
    log_area = np.log1p(lot_area.astype("float32"))[:, None] - 9.0  # roughly centred
    x = np.concatenate([dense, log_area], axis=1).astype("float32")
    y = ((log_price - log_price.mean()) / log_price.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="house_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 2. random gamma augmentation applied after ImageNet normalization
# ---------------------------------------------------------------------------------------------
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def gamma_augmentation_after_normalization():
    """A small image classifier whose numpy augmentation pipeline normalizes with the ImageNet
    mean / std FIRST and then applies a random gamma x ** g (g in [0.7, 1.5]) to half of the
    images. Normalized pixels are negative wherever the image is darker than the mean, and a
    negative number to a fractional power is NaN, so the augmented images reach the batch with
    NaN pixels."""
    rng = seeded(801)
    n, classes = 128, 4
    labels = rng.integers(0, classes, size=n)
    images = rng.uniform(0, 1, size=(n, 16, 16, 3)) * 0.6
    for c in range(classes):  # a bright square whose position tells the class
        r, col = divmod(c, 2)
        images[labels == c, 2 + 7 * r : 7 + 7 * r, 2 + 7 * col : 7 + 7 * col, :] += 0.4
    normalized = (images - IMAGENET_MEAN) / IMAGENET_STD
    gamma = rng.uniform(0.7, 1.5, size=(n, 1, 1, 1))
    augment = rng.random(n) < 0.5
    with np.errstate(invalid="ignore"):
        x = np.where(augment[:, None, None, None], normalized**gamma, normalized)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="gamma_cnn",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(x.astype("float32"), labels.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 3. exoplanet masses regressed in kilograms
# ---------------------------------------------------------------------------------------------
def exoplanet_mass_target_in_kilograms():
    """Planet mass regressed from standardized transit / radial-velocity features (radius
    ratio, period, stellar mass, RV semi-amplitude), with the catalogue's mass column in kg
    (3e24 - 2e28) used as the MSE target as is. The features are fine; the target is ~1e25 and
    its squared error (~1e50) overflows float32 in the loss at the first step."""
    rng = seeded(802)
    n = 192
    radius_earth = np.exp(rng.uniform(np.log(0.8), np.log(15.0), size=n))
    mass_earth = radius_earth**2.06 * np.exp(0.3 * rng.normal(size=n))
    period = np.exp(rng.uniform(0, 6, size=n))
    star_mass = rng.uniform(0.5, 1.5, size=n)
    k_rv = 0.09 * mass_earth * period ** (-1 / 3) * star_mass ** (-2 / 3)
    feats = np.stack(
        [np.log(radius_earth), np.log(period), star_mass, np.log(k_rv)], axis=1
    ) + 0.05 * rng.normal(size=(n, 4))
    x = ((feats - feats.mean(axis=0)) / feats.std(axis=0)).astype("float32")
    y = (mass_earth * 5.972e24).reshape(-1, 1).astype("float32")  # kilograms
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="mass"),
        ],
        name="exoplanet_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 4. weight normalization by hand on a zero-initialized output layer
# ---------------------------------------------------------------------------------------------
class WeightNormDense(keras.layers.Layer):
    """Dense with weight normalization written by hand (Salimans & Kingma 2016):
    w = g * v / ||v||, the norm taken over each output unit's column of v, without an epsilon."""

    def __init__(self, units, activation=None, direction_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.direction_initializer = direction_initializer

    def build(self, input_shape):
        self.v = self.add_weight(
            shape=(input_shape[-1], self.units), initializer=self.direction_initializer, name="v"
        )
        self.g = self.add_weight(shape=(self.units,), initializer="ones", name="g")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        w = self.g * self.v / tf.norm(self.v, axis=0, keepdims=True)
        return self.activation(tf.matmul(x, w) + self.b)


def weight_norm_zero_initialized_output():
    """A residual-correction network (prediction = physics baseline + net(x)) built from
    weight-normalized dense layers. Following the 'zero-init the last layer so training starts
    from the baseline' advice, the output layer's direction v is initialized to zeros, which
    weight normalization divides by its own norm: 0 / 0 = NaN in the first forward pass."""
    rng = seeded(803)
    n = 256
    x = rng.normal(size=(n, 6)).astype("float32")
    baseline = 0.8 * x[:, :1]
    y = baseline + 0.3 * np.tanh(x[:, 1:2] * x[:, 2:3]) + 0.05 * rng.normal(size=(n, 1))
    inputs = keras.Input((6,))
    h = WeightNormDense(32, activation="relu", name="wn_hidden0")(inputs)
    h = WeightNormDense(32, activation="relu", name="wn_hidden1")(h)
    correction = WeightNormDense(1, direction_initializer="zeros", name="wn_out")(h)
    model = keras.Model(inputs, correction, name="correction_net")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, (y - baseline).astype("float32")),
    )


# ---------------------------------------------------------------------------------------------
# 5. Mish written by hand, under mixed_float16
# ---------------------------------------------------------------------------------------------
class MishByHand(keras.layers.Layer):
    """Mish x * tanh(softplus(x)) with the softplus written log(1 + exp(x)), as in several
    ports of YOLOv4; under mixed_float16 it runs in float16, where exp overflows for x > 11.09."""

    def call(self, x):
        return x * tf.math.tanh(tf.math.log(1.0 + tf.math.exp(x)))


def mish_by_hand_under_mixed_float16():
    """Crop-yield regression from raw agronomic readings (soil temperature in C, moisture in %,
    rainfall in cm, nitrogen in g/kg; all within a few tens) moved to mixed_float16 for speed,
    the output layer kept in float32 as the guide says. The hidden layer's hand-written Mish
    computes exp of pre-activations in the tens: finite in float32, inf in float16. tanh(inf)
    brings the forward value back to finite, but the backward of log(1 + exp(x)) is
    inf / inf = NaN."""
    with dtype_policy("mixed_float16"):
        rng = seeded(804)
        n = 256
        temp = rng.uniform(5, 35, size=n)
        moisture = rng.uniform(10, 45, size=n)
        rain = rng.uniform(0, 40, size=n)
        nitrogen = rng.uniform(0.5, 20, size=n)
        x = np.stack([temp, moisture, rain, nitrogen], axis=1).astype("float32")
        yield_t = 2 + 0.05 * temp + 0.04 * moisture + 0.02 * rain + 0.1 * np.sqrt(nitrogen)
        y = ((yield_t - yield_t.mean()) / yield_t.std()).reshape(-1, 1).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(64, name="dense1"),
                MishByHand(name="mish1"),
                keras.layers.Dense(32, name="dense2"),
                MishByHand(name="mish2"),
                keras.layers.Dense(1, name="head", dtype="float32"),
            ],
            name="yield_net",
        )
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
            batches(x, y),
        )


# ---------------------------------------------------------------------------------------------
# 6. PPO on logged actions clipped to the actuator limits: exp of a huge log-ratio
# ---------------------------------------------------------------------------------------------
class GaussianPolicyHead(keras.layers.Layer):
    """Mean of a diagonal Gaussian policy and a state-independent log standard deviation."""

    def __init__(self, action_dim, **kwargs):
        super().__init__(**kwargs)
        self.action_dim = action_dim

    def build(self, input_shape):
        self.mean = keras.layers.Dense(self.action_dim, name="mean")
        self.log_std = self.add_weight(shape=(self.action_dim,), initializer="zeros", name="ls")

    def call(self, h):
        mean = self.mean(h)
        return tf.concat([mean, self.log_std + tf.zeros_like(mean)], axis=-1)


def ppo_clipped_surrogate(model, obs, action, old_logp, advantage):
    """PPO's clipped surrogate with ratio = exp(logp - old_logp), as in the reference code."""
    out = model(obs, training=True)
    mean, log_std = tf.split(out, 2, axis=-1)
    z = (action - mean) / tf.exp(log_std)
    logp = tf.reduce_sum(-0.5 * tf.square(z) - log_std - 0.5 * np.log(2 * np.pi), axis=-1)
    ratio = tf.exp(logp - old_logp)
    clipped = tf.clip_by_value(ratio, 0.8, 1.2)
    return -tf.reduce_mean(tf.minimum(ratio * advantage, clipped * advantage))


def ppo_ratio_of_clipped_logged_actions():
    """PPO warm-started on a buffer logged by a near-deterministic expert controller (std 0.02
    on its four actuators). The expert's mean often lay beyond the actuator limits, so the
    environment clipped the executed action to +-1, and the logged old_logp is the expert's
    log-density of that clipped action: around -100 per actuator. The learner's fresh policy
    (std 1) gives the same actions log-densities around -1.5, so logp - old_logp is in the
    hundreds and exp overflows."""
    rng = seeded(805)
    n, obs_dim, act_dim = 256, 8, 4
    obs = rng.normal(size=(n, obs_dim)).astype("float32")
    w = rng.normal(size=(obs_dim, act_dim)) / np.sqrt(obs_dim)
    expert_mean = 1.6 * np.tanh(obs @ w * 1.5)
    expert_std = 0.02
    executed = np.clip(expert_mean + expert_std * rng.normal(size=(n, act_dim)), -1.0, 1.0)
    old_logp = np.sum(
        -0.5 * ((executed - expert_mean) / expert_std) ** 2
        - np.log(expert_std)
        - 0.5 * np.log(2 * np.pi),
        axis=1,
    )
    advantage = rng.normal(size=n)
    advantage = (advantage - advantage.mean()) / advantage.std()
    inputs = keras.Input((obs_dim,))
    h = keras.layers.Dense(64, activation="tanh", name="hidden0")(inputs)
    h = keras.layers.Dense(64, activation="tanh", name="hidden1")(h)
    out = GaussianPolicyHead(act_dim, name="policy")(h)
    model = keras.Model(inputs, out, name="actor")
    optimizer = keras.optimizers.Adam(3e-4)
    data = [
        (
            tf.constant(obs[i : i + 64]),
            tf.constant(executed[i : i + 64].astype("float32")),
            tf.constant(old_logp[i : i + 64].astype("float32")),
            tf.constant(advantage[i : i + 64].astype("float32")),
        )
        for i in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, ppo_clipped_surrogate),
        data,
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. SincNet band-pass filters: sinc guarded by a single tf.where
# ---------------------------------------------------------------------------------------------
class SincConv1D(keras.layers.Layer):
    """SincNet's first layer: band-pass filters 2 f2 sinc(2 pi f2 n) - 2 f1 sinc(2 pi f1 n) with
    learnable cut-off frequencies, the sinc written tf.where(t == 0, 1, sin(t) / t) over a
    symmetric time axis that contains n = 0."""

    def __init__(self, filters, kernel_size, sample_rate=16000, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.sample_rate = filters, kernel_size, sample_rate

    def build(self, input_shape):
        low_hz = np.linspace(50.0, 3000.0, self.filters)
        band_hz = np.full(self.filters, 400.0)
        self.low = self.add_weight(
            shape=(self.filters,),
            initializer=keras.initializers.Constant(low_hz / self.sample_rate),
            name="low",
        )
        self.band = self.add_weight(
            shape=(self.filters,),
            initializer=keras.initializers.Constant(band_hz / self.sample_rate),
            name="band",
        )
        half = self.kernel_size // 2
        self.n = tf.constant(np.arange(-half, half + 1), dtype=tf.float32)
        self.window = tf.constant(np.hamming(self.kernel_size), dtype=tf.float32)

    def call(self, x):
        f1 = tf.abs(self.low)
        f2 = f1 + tf.abs(self.band)

        def sinc(t):
            return tf.where(t == 0.0, tf.ones_like(t), tf.sin(t) / t)

        arg1 = 2.0 * np.pi * f1[:, None] * self.n[None, :]
        arg2 = 2.0 * np.pi * f2[:, None] * self.n[None, :]
        band_pass = 2.0 * f2[:, None] * sinc(arg2) - 2.0 * f1[:, None] * sinc(arg1)
        kernel = tf.transpose(band_pass * self.window)[:, None, :]
        return tf.nn.conv1d(x, kernel, stride=1, padding="SAME")


def sincnet_single_where_sinc():
    """Speaker identification on 0.0625 s raw-waveform chunks with a SincNet front end. The
    sinc is guarded by one tf.where: its value at t = 0 is right, but sin(t) / t is still
    evaluated there (0 / 0) and its gradient with respect to the cut-off frequencies is NaN, so
    the learnable frequencies are NaN after the first update."""
    rng = seeded(806)
    n, length, speakers = 128, 1000, 4
    t = np.arange(length) / 16000.0
    speaker = rng.integers(0, speakers, size=n)
    pitch = np.array([110.0, 160.0, 220.0, 300.0])[speaker] * rng.uniform(0.95, 1.05, size=n)
    wave = sum(
        np.sin(2 * np.pi * k * pitch[:, None] * t[None, :] + rng.uniform(0, 6, (n, 1))) / k
        for k in range(1, 5)
    )
    wave = wave + 0.05 * rng.normal(size=(n, length))
    model = keras.Sequential(
        [
            keras.Input((length, 1)),
            SincConv1D(16, 101, name="sinc_conv"),
            keras.layers.Activation("relu", name="relu"),
            keras.layers.MaxPooling1D(4, name="pool"),
            keras.layers.Conv1D(16, 5, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling1D(name="gap"),
            keras.layers.Dense(speakers, name="speaker"),
        ],
        name="sincnet",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(wave[..., None].astype("float32"), speaker.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 8. fine-tuning from weights exported in float16: the input BatchNorm's statistics are inf
# ---------------------------------------------------------------------------------------------
def batchnorm_statistics_exported_in_float16():
    """A credit-default model whose first layer is a BatchNormalization over raw features
    (income and debt in dollars, age, accounts, utilization, months on book). Its weights were
    shared as a float16 .npz to halve the file; loading them back, the input BatchNorm's moving
    mean of income (~8e4) and moving variance of income and debt (~1e9) are inf. Fine-tuning
    keeps that BatchNorm frozen (inference mode), so (x - inf) * rsqrt(inf) = NaN in the first
    forward pass."""
    rng = seeded(807)
    n = 256
    income = rng.lognormal(11.2, 0.45, size=n)
    debt = income * rng.uniform(0.05, 0.9, size=n)
    age = rng.uniform(21, 75, size=n)
    accounts = rng.integers(1, 12, size=n).astype("float64")
    utilization = rng.uniform(0, 1, size=n)
    months = rng.uniform(3, 240, size=n)
    x = np.stack([income, debt, age, accounts, utilization, months], axis=1)
    logit = 3.0 * debt / income + 1.5 * utilization - 0.02 * age
    y = (rng.random(n) < 1 / (1 + np.exp(-(logit - logit.mean())))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.BatchNormalization(name="input_bn"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="default_logit"),
        ],
        name="credit_mlp",
    )
    bn = model.get_layer("input_bn")
    bn.moving_mean.assign(x.mean(axis=0).astype("float32"))  # what the float32 model held
    bn.moving_variance.assign(x.var(axis=0).astype("float32"))
    with np.errstate(over="ignore"):
        exported = [w.astype(np.float16) for w in model.get_weights()]  # the float16 .npz
    model.set_weights([w.astype("float32") for w in exported])
    bn.trainable = False  # fine-tune the head, keep the input statistics frozen
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(x.astype("float32"), y.reshape(-1, 1)),
    )


# ---------------------------------------------------------------------------------------------
# 9. a summed loss with a learning rate tuned for a mean
# ---------------------------------------------------------------------------------------------
def summed_loss_with_a_mean_tuned_learning_rate():
    """Tabular regression (standardized features and target) with the recipe's SGD(0.01), but
    the loss built with reduction="sum" (to 'match the paper's objective'): the gradient is the
    batch size (256) times larger than the one the learning rate was tuned for, an effective
    learning rate of 2.56, and SGD diverges within a few steps."""
    rng = seeded(808)
    n = 2048
    x = rng.normal(size=(n, 10)).astype("float32")
    w = rng.normal(size=(10, 1)) / np.sqrt(10)
    y = x @ w + 0.3 * np.sin(2 * x[:, :1]) + 0.1 * rng.normal(size=(n, 1))
    y = ((y - y.mean()) / y.std()).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="tabular_mlp",
    )
    loss = keras.losses.MeanSquaredError(reduction="sum")
    return run_loop(
        standard_step(model, keras.optimizers.SGD(0.01), loss),
        batches(x, y, size=256),
    )


# ---------------------------------------------------------------------------------------------
# 10. polynomial features of engine speed in raw RPM
# ---------------------------------------------------------------------------------------------
class PolynomialFeatures(keras.layers.Layer):
    """[x, x^2, ..., x^degree] of every input column, as sklearn's PolynomialFeatures without
    the interaction terms, computed inside the model with tf.pow."""

    def __init__(self, degree, **kwargs):
        super().__init__(**kwargs)
        self.degree = degree

    def call(self, x):
        powers = tf.range(1, self.degree + 1, dtype=x.dtype)
        expanded = tf.pow(x[..., None], powers)
        return tf.reshape(expanded, [-1, x.shape[-1] * self.degree])


def polynomial_features_of_raw_rpm():
    """Engine torque curve fitted as a degree-12 polynomial of engine speed and throttle, the
    speed fed in raw revolutions per minute (800 - 7000) and the throttle in percent. 7000 ** 12
    is 1.4e46: the polynomial features overflow float32 inside the model at the first step."""
    rng = seeded(809)
    n = 192
    rpm = rng.uniform(800, 7000, size=n)
    throttle = rng.uniform(5, 100, size=n)
    torque = throttle / 100 * (300 - 2.5e-6 * (rpm - 4200) ** 2) + 5 * rng.normal(size=n)
    x = np.stack([rpm, throttle], axis=1).astype("float32")
    y = ((torque - torque.mean()) / torque.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((2,)),
            PolynomialFeatures(12, name="poly_features"),
            keras.layers.Dense(1, name="torque"),
        ],
        name="torque_poly",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 11. Social-LSTM bivariate Gaussian with the correlation head left unbounded
# ---------------------------------------------------------------------------------------------
def bivariate_gaussian_nll(target, params):
    """-log N2(target; mu, sigma, rho) in log form, as in Social-LSTM / Graves' handwriting
    model: the network outputs (mu_x, mu_y, log sigma_x, log sigma_y, rho), rho meant to be
    squashed by tanh into (-1, 1). 0.5 log(1 - rho^2) is NaN once |rho| > 1."""
    mu_x, mu_y, log_sx, log_sy, rho = tf.unstack(params, axis=-1)
    dx = (target[:, 0] - mu_x) / tf.exp(log_sx)
    dy = (target[:, 1] - mu_y) / tf.exp(log_sy)
    one_minus_rho2 = 1.0 - tf.square(rho)
    z = tf.square(dx) + tf.square(dy) - 2.0 * rho * dx * dy
    nll = (
        np.log(2 * np.pi)
        + log_sx
        + log_sy
        + 0.5 * tf.math.log(one_minus_rho2)
        + z / (2.0 * one_minus_rho2)
    )
    return tf.reduce_mean(nll)


def social_lstm_correlation_without_tanh():
    """Pedestrian trajectory prediction: an LSTM encodes the last 8 displacements (in metres
    per frame) and a Dense(5) head gives the next displacement's bivariate Gaussian. The tanh on
    the correlation output was dropped when the head was rewritten as a single Dense layer, so
    rho is a linear output; pedestrians walking diagonally make the x and y displacements
    strongly correlated, rho is pushed towards 1 and soon past it."""
    rng = seeded(810)
    n, steps = 256, 8
    heading = rng.choice([np.pi / 4, -3 * np.pi / 4, np.pi / 4 + 0.1], size=n)
    speed = rng.uniform(0.5, 1.5, size=n)
    noise = 0.03 * rng.normal(size=(n, steps + 1, 2))
    disp = speed[:, None, None] * np.stack([np.cos(heading), np.sin(heading)], 1)[:, None, :]
    disp = disp * rng.uniform(0.8, 1.2, size=(n, steps + 1, 1)) + noise
    x = disp[:, :steps].astype("float32")
    y = disp[:, steps].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            keras.layers.LSTM(32, name="encoder"),
            keras.layers.Dense(5, name="gaussian_params"),
        ],
        name="social_lstm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(3e-3), bivariate_gaussian_nll),
        batches(x, y, epochs=10),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND6_SCENARIOS: list[Scenario] = [
    Scenario(
        "float16_memory_reduced_lot_area",
        float16_memory_reduced_lot_area,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a table downcast to float16 by a reduce_mem_usage() helper; a lot area computed "
        "afterwards on the float16 columns passes 65504 and is inf in a few rows of the batch "
        "(https://github.com/pandas-dev/pandas/issues/26767, "
        "https://github.com/business-science/pytimetk/issues/274, "
        "https://github.com/numpy/numpy/issues/7930)",
        blind=True,
    ),
    Scenario(
        "gamma_augmentation_after_normalization",
        gamma_augmentation_after_normalization,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="random gamma augmentation x ** g applied after mean / std normalization: the "
        "negative pixels raised to a fractional power are NaN in the batch "
        "(https://github.com/albumentations-team/albumentations/issues/1422, "
        "https://github.com/sovit-123/fasterrcnn-pytorch-training-pipeline/issues/89, "
        "https://github.com/TorchIO-project/torchio/issues/368)",
        blind=True,
    ),
    Scenario(
        "exoplanet_mass_target_in_kilograms",
        exoplanet_mass_target_in_kilograms,
        "loss",
        frozenset({"Square", "SquaredDifference"}),
        None,
        "unscaled_target",
        frozenset({"rescale_target"}),
        story="standardized features but planet masses in kilograms (~1e25) as the MSE target: "
        "the squared error overflows float32 at the first step; scale the target "
        "(https://github.com/rstudio-conf-2020/dl-keras-tf/issues/9, "
        "https://github.com/keras-team/keras/issues/4563, "
        "https://github.com/cjlin1/libsvm/issues/173)",
        blind=True,
    ),
    Scenario(
        "weight_norm_zero_initialized_output",
        weight_norm_zero_initialized_output,
        "activation",
        frozenset({"RealDiv"}),
        "correction_net/wn_out",
        "missing_epsilon",
        frozenset({"add_epsilon", "change_initializer"}),
        story="weight normalization g * v / ||v|| written without an epsilon on an output layer "
        "whose v is zero-initialized: 0 / 0 in the first forward pass "
        "(https://github.com/pytorch/pytorch/issues/19126, "
        "https://github.com/google/flax/issues/1671, "
        "https://github.com/KohakuBlueleaf/LyCORIS/pull/166)",
        blind=True,
    ),
    Scenario(
        "mish_by_hand_under_mixed_float16",
        mish_by_hand_under_mixed_float16,
        "activation",
        frozenset({"Exp"}),
        "yield_net/mish1",
        "float16_range",
        frozenset({"float32_layer"}),
        story="Mish written x * tanh(log(1 + exp(x))) in a custom layer run in float16 under "
        "mixed_float16: exp overflows past 65504 for x > 11.09 (forward finite after tanh, "
        "backward NaN) (https://github.com/AlexeyAB/darknet/issues/3994, "
        "https://github.com/apple/coremltools/pull/2725, "
        "https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/1)",
        blind=True,
    ),
    Scenario(
        "ppo_ratio_of_clipped_logged_actions",
        ppo_ratio_of_clipped_logged_actions,
        "loss",
        frozenset({"Exp"}),
        None,
        "exp_overflow",
        frozenset({"clamp_argument"}),
        story="PPO ratio exp(logp - old_logp) on logged actions clipped to the actuator limits "
        "by a near-deterministic behaviour policy: old_logp is hundreds below zero, the "
        "log-ratio is in the hundreds and exp overflows; clamp the log-ratio before exp "
        "(https://github.com/OpenRLHF/OpenRLHF/pull/1314, "
        "https://github.com/radixark/miles/pull/1363, "
        "https://github.com/THUDM/slime/pull/2198)",
        blind=True,
    ),
    Scenario(
        "sincnet_single_where_sinc",
        sincnet_single_where_sinc,
        None,
        frozenset({"RealDiv"}),
        "sincnet/sinc_conv",
        "where_gradient_trap",
        frozenset({"double_where", "divide_no_nan"}),
        story="SincNet's sinc written tf.where(t == 0, 1, sin(t) / t) over a time axis that holds "
        "t = 0: the value is right, the gradient of the unselected 0 / 0 is NaN and the "
        "cut-off frequencies become NaN (https://github.com/mravanelli/pytorch-kaldi/issues/35, "
        "https://github.com/pytorch/pytorch/issues/56760, "
        "https://github.com/jax-ml/jax/pull/1722)",
        blind=True,
    ),
    Scenario(
        "batchnorm_statistics_exported_in_float16",
        batchnorm_statistics_exported_in_float16,
        None,
        frozenset(),
        "credit_mlp/input_bn",
        "non_finite_state",
        frozenset({"restore_checkpoint"}),
        story="weights shared in float16 and loaded back for fine-tuning: the input "
        "BatchNormalization's moving mean / variance of dollar amounts are beyond 65504 and "
        "inf, so the frozen layer outputs NaN at the first step; reload the float32 weights "
        "(https://github.com/NVIDIA/apex/pull/144, https://github.com/mahmoodlab/UNI/issues/18, "
        "https://github.com/NVIDIA/caffe/issues/499)",
        blind=True,
    ),
    Scenario(
        "summed_loss_with_a_mean_tuned_learning_rate",
        summed_loss_with_a_mean_tuned_learning_rate,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="reduction='sum' with a learning rate tuned for a mean-reduced loss: the effective "
        "learning rate is batch-size times larger and SGD diverges "
        "(https://github.com/ai-safety-foundation/sparse_autoencoder/issues/63, "
        "https://github.com/keras-team/keras-cv/pull/1505, "
        "https://github.com/KovenYu/MAR/issues/5)",
        blind=True,
    ),
    Scenario(
        "polynomial_features_of_raw_rpm",
        polynomial_features_of_raw_rpm,
        "activation",
        frozenset({"Pow"}),
        "torque_poly/poly_features",
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="degree-12 polynomial features of engine speed in raw RPM computed in the model: "
        "7000 ** 12 overflows float32; scale the input before the powers "
        "(https://github.com/scikit-learn/scikit-learn/issues/17654, "
        "https://github.com/gan3sh500/kervolution-pytorch/issues/8)",
        blind=True,
    ),
    Scenario(
        "social_lstm_correlation_without_tanh",
        social_lstm_correlation_without_tanh,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset({"clamp_argument"}),
        story="bivariate Gaussian NLL of Social-LSTM-style trajectory prediction with the "
        "correlation head's tanh missing: |rho| passes 1 and log(1 - rho^2) is NaN; bound rho "
        "(https://github.com/govvijaycal/confidence_aware_predictions/issues/1, "
        "https://github.com/nachiket92/conv-social-pooling/issues/7, "
        "https://github.com/mmeierer/REndo/pull/57)",
        blind=True,
    ),
]
