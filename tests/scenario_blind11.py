"""An eleventh set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step`` and ``_with_policy``), the format of
``scenario_blind10.py``, the taxonomy section of the design notes and the list of names and
one-line stories of the existing scenarios), and without importing or running nantrace: each
expectation comes from the bug pattern itself (where a careful ML engineer would say the first
non-finite value appears, why, and the first fix to try), and all of them but the Box-Cox
replacement (see below) were written into this file before anything was run. Fix ids are only those
of the design notes' taxonomy; where none of them is the first fix a careful engineer would try
(the hand-written Adam, whose fix is to count steps from 1), the fix set is left empty. The only
thing checked while writing them is that plain TensorFlow, unwatched, really goes non-finite on
their batches (and at which step), and (with tf.debugging.enable_check_numerics, plain TF) which op
first produces the non-finite value, in a throwaway script outside the repository that stands in
plain-TF versions of the loop helpers and asserts that nantrace was never imported. One candidate
pattern was dropped after that check, because plain TF did not go non-finite on it: a prototypical
network (Snell et al. 2017) under mixed_float16 whose negative squared query-prototype distances
over 256 float16 dimensions were to pass 65504 (expected: loss / Sum / float16_range /
float32_layer or rescale_input); on its batches the largest distance was about 38800, finite. It
had been written into this file with its expectations and was removed; its replacement, the
learnable Box-Cox layer, was written (expectations included) after that first check run of the
other nine, and only then run itself. No expectation was changed by the check. Two things the check
showed, recorded here without changing any field: in the Normalization scenario Keras already casts
the adapted mean to float16 when adapt() finishes (the income mean, ~80000, is inf there, before
training), and inside the training step TF names the first non-finite op ``price_mlp_1/Cast`` (the
autocast of the layer's input, at the model's name scope, not under ``feature_norm``); in the
CoordConv scenario the NaN coordinate channel is hidden from the loss by the ReLU of the next
convolution (the loss of step 0 is finite) and shows in that convolution's kernel after the first
update (so does the Box-Cox layer's NaN, behind the next ReLU). Plain TF goes non-finite at step 0
(the first batch) in all ten. The only edit before any run was cosmetic (a sign written ``* -1`` in
the bike-rental data). None repeats a pattern on the list of existing scenarios, though several
share a mechanism with one: the LN-LSTM cell is a normalization without an epsilon (as
``layernorm_epsilon_zero`` is, by its name), here tripped by the recurrent zero initial state; the
CoordConv layer divides by an exact 0 like many, and the Box-Cox layer is a formula undefined at
its initial parameter value (as ``snake_activation_with_zero_alpha`` and
``adaptive_robust_loss_alpha_started_at_two`` are); the Tobit and sparsemax losses take log(0) of a
probability like the hand-written cross-entropies; the PCM and ICU scenarios put NaN into the batch
like the other input_data scenarios. This set favours situations ordinary Keras users meet: a raw
PCM corpus read with the wrong dtype, GRU-D-style masking of NaN vitals by multiplication, a
Normalization layer under mixed_float16, CoordConv on a 1x1 feature map, a sparsemax head, a Tobit
loss for stock-out-censored sales, Karpathy's 'initialize the final bias to the mean' on an
exponential head, Adam written by hand with its step counter from 0, a learnable Box-Cox input
layer and a layer-normalized LSTM cell. Each story cites the public report(s) the pattern comes
from. Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step, _with_policy


# ---------------------------------------------------------------------------------------------
# 1. a 16-bit PCM corpus read back as float32 samples
# ---------------------------------------------------------------------------------------------
def pcm_int16_clips_decoded_as_float32():
    """Keyword-spotting CNN on raw waveforms. The clips were exported as headerless 16-bit PCM
    (as most recorders and the Speech Commands tooling write them) and read back with the loader
    of another corpus that stores float32 samples, np.frombuffer(raw, dtype=np.float32) (the same
    as tf.io.decode_raw(raw, tf.float32)): every pair of int16 samples becomes one float32 bit
    pattern, and a pair whose second sample is small and negative (-128..-1, i.e. quiet audio) has
    an all-ones exponent: NaN (or +-inf) in the waveform batch, next to values of 1e30 and
    denormals (read the PCM as int16 and divide by 32768)."""
    rng = seeded(1300)
    n, samples, classes, rate = 192, 2048, 4, 8000.0
    labels = rng.integers(0, classes, size=n)
    freqs = np.array([300.0, 600.0, 1200.0, 2400.0])
    t = np.arange(samples // 2) / rate
    clips = np.empty((n, samples))
    for i in range(n):
        start = rng.integers(0, samples // 2)
        burst = np.zeros(samples)
        burst[start : start + samples // 2] = np.sin(
            2 * np.pi * freqs[labels[i]] * t + rng.uniform(0, 2 * np.pi)
        )
        clips[i] = rng.uniform(1500.0, 6000.0) * burst + rng.normal(0.0, 200.0, size=samples)
    pcm = np.clip(np.round(clips), -32768, 32767).astype("<i2")
    waves = np.stack([np.frombuffer(clip.tobytes(), dtype="<f4") for clip in pcm])
    x = waves[..., None].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((samples // 2, 1)),
            keras.layers.Conv1D(16, 9, strides=4, activation="relu", name="wave_conv0"),
            keras.layers.Conv1D(32, 9, strides=4, activation="relu", name="wave_conv1"),
            keras.layers.GlobalAveragePooling1D(name="gap"),
            keras.layers.Dense(classes, name="keyword_logits"),
        ],
        name="kws_cnn",
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
# 2. GRU-D-style masking: NaN vitals "zeroed" by multiplying with the observation mask
# ---------------------------------------------------------------------------------------------
def icu_vitals_nan_times_observation_mask():
    """In-hospital mortality GRU on hourly ICU vitals and labs in the style of GRU-D (PhysioNet
    2012 / MIMIC-Extract): unmeasured values are NaN in the export and the model gets them with
    the observation mask, multiplying values * mask in its first layer 'to zero the missing ones'
    before the GRU. NaN * 0 is NaN, not 0: the NaN is already in the value batch and goes straight
    through the multiplication (fill the missing values, e.g. with 0 or the last observation,
    before they reach the model)."""
    rng = seeded(1301)
    n, hours, vitals = 256, 24, 6
    rates = np.array([0.95, 0.9, 0.6, 0.3, 0.15, 0.1])  # heart rate, SpO2 ... rare labs
    base = rng.normal(size=(n, 1, vitals))
    values = base + np.cumsum(0.2 * rng.normal(size=(n, hours, vitals)), axis=1)
    observed = rng.random((n, hours, vitals)) < rates
    values = np.where(observed, values, np.nan)
    values = (values - np.nanmean(values, axis=(0, 1))) / np.nanstd(values, axis=(0, 1))
    label = (base[:, 0, 0] + base[:, 0, 3] > 0.5).astype("float32")
    values_in = keras.Input((hours, vitals), name="values")
    mask_in = keras.Input((hours, vitals), name="observed")
    zeroed = keras.layers.Multiply(name="mask_values")([values_in, mask_in])
    sequence = keras.layers.Concatenate(name="with_mask")([zeroed, mask_in])
    state = keras.layers.GRU(32, name="gru")(sequence)
    logit = keras.layers.Dense(1, name="mortality_logit")(state)
    model = keras.Model([values_in, mask_in], logit, name="icu_gru")

    def mortality_loss(model, value_batch, mask_batch, label_batch):
        logits = model([value_batch, mask_batch], training=True)[:, 0]
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=label_batch, logits=logits)
        )

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(values[i : i + 32].astype("float32")),
            tf.constant(observed[i : i + 32].astype("float32")),
            tf.constant(label[i : i + 32]),
        )
        for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, mortality_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 3. a Normalization layer under mixed_float16, fed raw dollar and square-foot amounts
# ---------------------------------------------------------------------------------------------
def normalization_layer_autocast_to_float16_on_raw_amounts():
    """House-price regression on raw tabular features (lot area in square feet, household income
    in dollars, rooms, year built), standardized by a keras.layers.Normalization layer adapted on
    the training table and put first in the model, as the Keras tutorials do; the model is then
    switched to mixed_float16 for speed, with the output layer kept in float32 as the mixed
    precision guide says. Under the policy Keras casts the Normalization layer's input to float16
    before the layer runs: incomes and lot areas above 65504 are inf before they can be
    standardized (keep the Normalization layer in float32, dtype='float32')."""

    def build():
        rng = seeded(1302)
        n = 1024
        lot_area = rng.lognormal(np.log(9000.0), 0.6, size=n)
        income = rng.lognormal(np.log(70000.0), 0.5, size=n)
        rooms = rng.integers(2, 10, size=n).astype(float)
        year = rng.integers(1900, 2020, size=n).astype(float)
        x = np.stack([lot_area, income, rooms, year], axis=1).astype("float32")
        log_price = (
            0.3 * np.log(lot_area)
            + 0.6 * np.log(income)
            + 0.05 * rooms
            + 0.004 * (year - 1960)
            + 0.1 * rng.normal(size=n)
        )
        y = ((log_price - log_price.mean()) / log_price.std()).reshape(-1, 1).astype("float32")
        norm = keras.layers.Normalization(name="feature_norm")
        norm.adapt(x)
        model = keras.Sequential(
            [
                keras.Input((4,)),
                norm,
                keras.layers.Dense(64, activation="relu", name="hidden0"),
                keras.layers.Dense(32, activation="relu", name="hidden1"),
                keras.layers.Dense(1, dtype="float32", name="price"),
            ],
            name="price_mlp",
        )
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
            batches(x, y),
        )

    return _with_policy("mixed_float16", build)


# ---------------------------------------------------------------------------------------------
# 4. CoordConv's AddCoords on a 1x1 feature map
# ---------------------------------------------------------------------------------------------
class AddCoords(keras.layers.Layer):
    """CoordConv's AddCoords as in the reference code: the pixel indices divided by (dim - 1)
    and mapped to [-1, 1], appended as two channels."""

    def call(self, x):
        shape = tf.shape(x)
        b, h, w = shape[0], shape[1], shape[2]
        xx = tf.cast(tf.range(w), x.dtype) / tf.cast(w - 1, x.dtype)
        yy = tf.cast(tf.range(h), x.dtype) / tf.cast(h - 1, x.dtype)
        xx = tf.tile(tf.reshape(xx * 2.0 - 1.0, [1, 1, -1, 1]), [b, h, 1, 1])
        yy = tf.tile(tf.reshape(yy * 2.0 - 1.0, [1, -1, 1, 1]), [b, 1, w, 1])
        return tf.concat([x, xx, yy], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)


def coordconv_on_a_one_by_one_feature_map():
    """CoordConv's own toy task, regressing the position of a bright square in a 16x16 image,
    with an AddCoords layer before every convolution ('CoordConv everywhere') of a CNN that
    halves the resolution four times. The last AddCoords sees the 1x1 map left after the fourth
    pooling: the reference code's normalization index / (dim - 1) is 0 / 0 = NaN there, inside
    the layer (guard the division, e.g. max(dim - 1, 1))."""
    rng = seeded(1303)
    n, size = 384, 16
    images = 0.05 * rng.random((n, size, size, 1))
    corners = rng.integers(0, size - 2, size=(n, 2))
    for i, (r, c) in enumerate(corners):
        images[i, r : r + 2, c : c + 2, 0] = 1.0
    y = ((corners + 0.5) / (size - 1)).astype("float32")
    layers = [keras.Input((size, size, 1))]
    for stage, filters in enumerate([8, 16, 16, 32]):
        layers += [
            AddCoords(name=f"coords{stage}"),
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{stage}"),
            keras.layers.MaxPooling2D(name=f"pool{stage}"),
        ]
    layers += [
        AddCoords(name="coords4"),
        keras.layers.Conv2D(32, 1, activation="relu", name="conv4"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(2, name="position"),
    ]
    model = keras.Sequential(layers, name="coord_regressor")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(images.astype("float32"), y),
    )


# ---------------------------------------------------------------------------------------------
# 5. a sparsemax output layer trained with a hand-written cross-entropy
# ---------------------------------------------------------------------------------------------
def sparsemax_head_with_cross_entropy_by_hand():
    """Intent classifier whose output layer uses sparsemax (Martins & Astudillo 2016) instead of
    softmax, for sparse, readable class probabilities, trained with the usual cross-entropy
    written by hand, -sum(y * log(p)). Sparsemax gives exactly 0 to every class below its
    threshold, so for a sample whose true class is outside the support log(p) = log(0) = -inf (and
    0 * log(0) = NaN for the other zeros) in the loss at the first step; the sparsemax loss (or a
    softmax cross-entropy from the logits) is the right objective."""
    rng = seeded(1304)
    n, dim, classes = 768, 20, 8
    x = rng.normal(size=(n, dim))
    w = rng.normal(size=(dim, classes))
    labels = np.argmax(x @ w + 0.5 * rng.normal(size=(n, classes)), axis=1)
    y = np.eye(classes)[labels].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(classes, activation="sparsemax", name="intent_probs"),
        ],
        name="intent_classifier",
    )

    def cross_entropy(target, probs):
        return -tf.reduce_mean(tf.reduce_sum(target * tf.math.log(probs), axis=-1))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), cross_entropy),
        batches(x.astype("float32"), y),
    )


# ---------------------------------------------------------------------------------------------
# 6. a Tobit likelihood for stock-out-censored sales, log(1 - Phi(z)) written directly
# ---------------------------------------------------------------------------------------------
class TobitRegressor(keras.Model):
    """An MLP for the mean demand with the Tobit model's log-sigma as a trainable weight."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden0 = keras.layers.Dense(64, activation="relu", name="hidden0")
        self.hidden1 = keras.layers.Dense(32, activation="relu", name="hidden1")
        self.mean_demand = keras.layers.Dense(1, name="mean_demand")
        self.log_sigma = self.add_weight(shape=(), initializer="zeros", name="log_sigma")

    def call(self, x, training=False):
        return self.mean_demand(self.hidden1(self.hidden0(x)))


def tobit_loss_on_stockout_censored_sales():
    """Daily demand forecaster for a retailer whose sales are capped by the stock on hand: on
    stock-out days the sale is a lower bound of the demand, so the model is fitted with the Tobit
    (right-censored Gaussian) likelihood, its censored term -log(1 - Phi((stock - mu) / sigma))
    written with erf, in units sold. At the start mu ~ 0 and sigma = 1, the stock levels are 30 to
    120 sigmas above the mean, Phi rounds to exactly 1 in float32 and log(1 - 1) = log(0) = -inf
    in the loss (a log-survival computed in log space, as R's pnorm(log.p=TRUE) and
    scipy's log_ndtr do, is the stable form)."""
    rng = seeded(1305)
    n, dim = 1024, 10
    x = rng.normal(size=(n, dim))
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    demand = np.maximum(0.0, 70.0 + 25.0 * (x @ w) + 10.0 * rng.normal(size=n))
    stock = rng.integers(30, 120, size=n).astype(float)
    sales = np.minimum(demand, stock)
    censored = (demand >= stock).astype("float32")
    model = TobitRegressor(name="tobit_demand")
    model.build((None, dim))

    def tobit_nll(model, features, sold, stock_out):
        mu = model(features, training=True)[:, 0]
        sigma = tf.exp(model.log_sigma)
        z = (sold - mu) / sigma
        observed = 0.5 * tf.square(z) + tf.math.log(sigma)
        cdf = 0.5 * (1.0 + tf.math.erf(z / math.sqrt(2.0)))
        censored_term = -tf.math.log(1.0 - cdf)
        return tf.reduce_mean(tf.where(stock_out > 0, censored_term, observed))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(x[i : i + 32].astype("float32")),
            tf.constant(sales[i : i + 32].astype("float32")),
            tf.constant(censored[i : i + 32]),
        )
        for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, tobit_nll), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 7. 'initialize the final bias to the mean' on an exponential (log-link) output
# ---------------------------------------------------------------------------------------------
def poisson_head_bias_initialized_to_the_mean_count():
    """Hourly bike-rental counts (mean ~190 an hour, as in the UCI bike-sharing data) modelled
    with a Poisson loss and Dense(1, activation='exponential') as the output, the log link of a
    Poisson GLM. Following the advice 'if you are regressing values with a mean of 50, initialize
    the final bias to 50', the output bias is initialized to the mean count, forgetting that the
    output goes through exp: exp(190) overflows float32 (> exp(88.7)) in the output layer at the
    first forward pass (initialize it to log(mean) instead)."""
    rng = seeded(1306)
    n = 1024
    hour = rng.integers(0, 24, size=n)
    temp = rng.normal(size=n)
    humidity = rng.normal(size=n)
    workday = rng.integers(0, 2, size=n).astype(float)
    x = np.stack(
        [
            np.sin(2 * np.pi * hour / 24),
            np.cos(2 * np.pi * hour / 24),
            temp,
            humidity,
            workday,
            rng.normal(size=n),
            rng.normal(size=n),
            rng.normal(size=n),
        ],
        axis=1,
    ).astype("float32")
    log_rate = np.log(150.0) - 0.7 * x[:, 1] + 0.3 * temp - 0.2 * humidity + 0.2 * workday
    y = rng.poisson(np.exp(log_rate)).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(
                1,
                activation="exponential",
                bias_initializer=keras.initializers.Constant(float(y.mean())),
                name="rentals",
            ),
        ],
        name="rentals_glm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.Poisson()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 8. Adam written by hand in a custom loop, its step counter starting at 0
# ---------------------------------------------------------------------------------------------
def adam_by_hand_with_its_step_counter_from_zero():
    """A custom training loop with Adam written from the paper (for a course, or to add a
    tweak): m and v as variables, the bias corrections m / (1 - beta1^t) and v / (1 - beta2^t),
    and a step counter t that starts at 0 and is incremented after the update, while the paper's
    t starts at 1. At the first update 1 - beta^0 = 0: m / 0 = +-inf and v / 0 = inf, and the
    update m_hat / sqrt(v_hat) = inf / inf writes NaN into every weight (count steps from 1)."""
    rng = seeded(1307)
    n, dim = 1024, 8
    x = rng.normal(size=(n, dim)).astype("float32")
    y = (np.tanh(x @ rng.normal(size=(dim, 1))) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="adam_mlp",
    )
    variables = model.trainable_variables
    first = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    second = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    t = tf.Variable(0.0, trainable=False)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-7
    loss_fn = keras.losses.MeanSquaredError()

    def train_step(features, target):
        with tf.GradientTape() as tape:
            loss = loss_fn(target, model(features, training=True))
        grads = tape.gradient(loss, variables)
        for var, grad, m, v in zip(variables, grads, first, second, strict=True):
            m.assign(beta1 * m + (1.0 - beta1) * grad)
            v.assign(beta2 * v + (1.0 - beta2) * tf.square(grad))
            m_hat = m / (1.0 - tf.pow(beta1, t))
            v_hat = v / (1.0 - tf.pow(beta2, t))
            var.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))
        t.assign_add(1.0)
        return loss

    return run_loop(train_step, batches(x, y), model=model)


# ---------------------------------------------------------------------------------------------
# 9. a learnable Box-Cox input layer with lambda started at 0
# ---------------------------------------------------------------------------------------------
class BoxCox(keras.layers.Layer):
    """A learnable Box-Cox transform per feature, (x^lambda - 1) / lambda, written from the
    textbook formula for lambda != 0."""

    def build(self, input_shape):
        self.lmbda = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="lmbda")

    def call(self, x):
        return (tf.pow(x, self.lmbda) - 1.0) / self.lmbda


def box_cox_layer_with_lambda_started_at_zero():
    """Insurance claim-severity regression on strictly positive, right-skewed features (sums
    insured, vehicle values, past claim amounts) fed through a learnable Box-Cox layer, so that
    the network learns the power transform of each feature instead of a fixed log. Its lambda is
    initialized to 0 'so that it starts as the log transform', which is exactly where the formula
    (x^lambda - 1) / lambda has no value: x^0 - 1 = 0 and the layer outputs 0 / 0 = NaN for every
    feature at the first forward pass (Box-Cox is defined as log(x) at lambda = 0; scipy and
    scikit-learn switch to the log branch near 0)."""
    rng = seeded(1308)
    n, dim = 1024, 6
    x = rng.lognormal(mean=rng.uniform(2.0, 9.0, size=dim), sigma=0.8, size=(n, dim))
    y = np.log(x) @ rng.normal(scale=0.3, size=(dim, 1)) + 0.1 * rng.normal(size=(n, 1))
    y = ((y - y.mean()) / y.std()).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            BoxCox(name="box_cox"),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="severity"),
        ],
        name="severity_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x.astype("float32"), y),
    )


# ---------------------------------------------------------------------------------------------
# 10. a layer-normalized LSTM cell without an epsilon, on the zero initial state
# ---------------------------------------------------------------------------------------------
class LayerNormLSTMCell(keras.layers.Layer):
    """LSTM cell with layer normalization of the input and recurrent pre-activations (Ba et al.
    2016): gates = LN(W_x x) + LN(W_h h) + b, LN(z) = gamma (z - mean) / std."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        dim, units = input_shape[-1], self.units
        self.kernel = self.add_weight(shape=(dim, 4 * units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(units, 4 * units), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(4 * units,), initializer="zeros", name="bias")
        self.gamma_x = self.add_weight(shape=(4 * units,), initializer="ones", name="gamma_x")
        self.gamma_h = self.add_weight(shape=(4 * units,), initializer="ones", name="gamma_h")

    @staticmethod
    def _norm(z, gamma):
        mean, variance = tf.nn.moments(z, axes=[-1], keepdims=True)
        return gamma * (z - mean) / tf.sqrt(variance)

    def call(self, inputs, states):
        h, c = states[0], states[1]
        gates = (
            self._norm(tf.matmul(inputs, self.kernel), self.gamma_x)
            + self._norm(tf.matmul(h, self.recurrent_kernel), self.gamma_h)
            + self.bias
        )
        i, f, g, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, [h, c]


def layer_norm_lstm_cell_on_the_zero_initial_state():
    """Activity recognition from accelerometer windows with a hand-written layer-normalized LSTM
    cell in keras.layers.RNN, its layer norm written (z - mean) / sqrt(var) without the epsilon.
    At the first time step the recurrent state is the zero initial state, W_h h = 0 for every
    unit, its variance is 0 and the normalization is 0 / 0 = NaN inside the RNN layer, on every
    sequence (sqrt(var + eps), as every library layer norm has)."""
    rng = seeded(1309)
    n, steps, channels = 256, 20, 6
    label = rng.integers(0, 2, size=n)
    t = np.arange(steps) / 10.0
    freq = np.where(label == 1, 2.5, 1.0)[:, None, None]
    x = np.sin(2 * np.pi * freq * t[None, :, None] + rng.uniform(0, 6.3, size=(n, 1, channels)))
    x = (x + 0.3 * rng.normal(size=(n, steps, channels))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((steps, channels)),
            keras.layers.RNN(LayerNormLSTMCell(32), name="ln_lstm"),
            keras.layers.Dense(1, name="activity_logit"),
        ],
        name="har_lstm",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, label.reshape(-1, 1).astype("float32")),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND11_SCENARIOS: list[Scenario] = [
    Scenario(
        "pcm_int16_clips_decoded_as_float32",
        pcm_int16_clips_decoded_as_float32,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="16-bit PCM clips read back with np.frombuffer(..., dtype=float32) / "
        "tf.io.decode_raw(..., tf.float32): pairs of int16 samples become float32 bit patterns "
        "and quiet (small negative) samples make an all-ones exponent, NaN / inf in the "
        "waveform batch; read as int16 and divide by 32768 "
        "(https://github.com/tensorflow/tensorflow/issues/12234, "
        "https://github.com/NVIDIA/DALI/issues/836, "
        "https://stackoverflow.com/questions/42544661/convert-numpy-int16-audio-array-to-float32)",
        blind=True,
    ),
    Scenario(
        "icu_vitals_nan_times_observation_mask",
        icu_vitals_nan_times_observation_mask,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="GRU-D-style ICU model that zeroes unmeasured vitals by values * mask inside the "
        "model, while the export leaves them NaN: NaN * 0 = NaN, the NaN is in the value batch "
        "already; fill the missing values before the model "
        "(https://github.com/MLforHealth/MIMIC_Extract/issues/56, "
        "https://github.com/INRIA/geoarches/pull/88, "
        "https://github.com/ecmwf/WeatherGenerator/issues/2723, "
        "https://github.com/pytorch/pytorch/issues/64305)",
        blind=True,
    ),
    Scenario(
        "normalization_layer_autocast_to_float16_on_raw_amounts",
        normalization_layer_autocast_to_float16_on_raw_amounts,
        "activation",
        frozenset({"Cast"}),
        "price_mlp/feature_norm",
        "float16_range",
        frozenset({"float32_layer"}),
        story="a keras Normalization layer standardizing raw incomes and lot areas inside a "
        "mixed_float16 model: Keras casts its input to float16 before it runs and values above "
        "65504 are inf before they are standardized; keep the Normalization layer in float32 "
        "(https://github.com/keras-team/keras/issues/22586, "
        "https://github.com/keras-team/keras/pull/22666, "
        "https://github.com/keras-team/keras-core/pull/412, "
        "https://github.com/tensorflow/tensorflow/issues/47156)",
        blind=True,
    ),
    Scenario(
        "coordconv_on_a_one_by_one_feature_map",
        coordconv_on_a_one_by_one_feature_map,
        "activation",
        frozenset({"RealDiv"}),
        "coord_regressor/coords4",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="CoordConv's AddCoords (index / (dim - 1), as the reference code) before every "
        "convolution of a CNN that pools 16x16 inputs down to 1x1: on the 1x1 map the "
        "coordinate channel is 0 / 0 inside the layer; guard the division "
        "(https://github.com/uber-research/CoordConv/issues/5, "
        "https://github.com/open-edge-platform/geti/pull/2148, "
        "https://github.com/digantamisra98/EvoNorm/issues/4, "
        "https://github.com/mkocabas/CoordConv-pytorch/issues/1)",
        blind=True,
    ),
    Scenario(
        "sparsemax_head_with_cross_entropy_by_hand",
        sparsemax_head_with_cross_entropy_by_hand,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits", "add_epsilon"}),
        story="a sparsemax output layer trained with a hand-written -sum(y log p): sparsemax "
        "gives exactly 0 outside its support, a true class outside it has log(0) = -inf in the "
        "loss; use the sparsemax loss or a cross-entropy from the logits "
        "(https://github.com/tensorflow/tensorflow/issues/15564, "
        "https://github.com/tensorflow/tensorflow/pull/21183, "
        "https://github.com/anirbanl/sparsegen/issues/1, "
        "https://github.com/gokceneraslan/SparseMax.torch/issues/2, "
        "https://github.com/HealthML/active-segmentation/pull/78)",
        blind=True,
    ),
    Scenario(
        "tobit_loss_on_stockout_censored_sales",
        tobit_loss_on_stockout_censored_sales,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits", "add_epsilon"}),
        story="a Tobit likelihood for stock-out-censored sales with -log(1 - Phi(z)) written "
        "with erf, in units sold: stock levels tens of sigmas above the initial mean make Phi "
        "exactly 1 and log(0) = -inf in the loss; compute the log-survival in log space "
        "(https://github.com/stan-dev/stan/issues/1424, "
        "https://github.com/jmbejara/comp-econ-sp18/issues/57, "
        "https://github.com/brendanjmeade/celeri/pull/343)",
        blind=True,
    ),
    Scenario(
        "poisson_head_bias_initialized_to_the_mean_count",
        poisson_head_bias_initialized_to_the_mean_count,
        "activation",
        frozenset({"Exp"}),
        "rentals_glm/rentals",
        "initializer_scale",
        frozenset({"change_initializer"}),
        story="'initialize the final bias to the mean' applied to an exponential (log-link) "
        "Poisson output on counts with mean ~190: exp(190) overflows float32 in the output "
        "layer at the first forward pass; initialize the bias to log(mean) "
        "(https://stats.stackexchange.com/questions/408811/"
        "setting-bias-of-output-layer-for-imbalanced-datasets, "
        "https://karpathy.github.io/2019/04/25/recipe/, "
        "https://www.alexmolas.com/2023/02/24/bias-initialization.html)",
        blind=True,
    ),
    Scenario(
        "adam_by_hand_with_its_step_counter_from_zero",
        adam_by_hand_with_its_step_counter_from_zero,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="Adam written by hand in a custom loop with the bias corrections m / (1 - "
        "beta1^t), v / (1 - beta2^t) and t counted from 0: 1 - beta^0 = 0, the corrected "
        "moments are inf and the first update writes inf / inf = NaN into the weights; count "
        "steps from 1 "
        "(https://github.com/keras-team/keras/pull/10129, "
        "https://github.com/deeplearning4j/nd4j/pull/1227, "
        "https://github.com/tracel-ai/burn/issues/834, "
        "https://github.com/cs231n/cs231n.github.io/issues/179)",
        blind=True,
    ),
    Scenario(
        "box_cox_layer_with_lambda_started_at_zero",
        box_cox_layer_with_lambda_started_at_zero,
        "activation",
        frozenset({"RealDiv"}),
        "severity_mlp/box_cox",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a learnable Box-Cox input layer (x^lambda - 1) / lambda with lambda initialized "
        "to 0 'to start as the log transform': the formula is 0 / 0 there and the layer outputs "
        "NaN at the first forward pass; keep lambda away from 0 (or use the log branch) "
        "(https://github.com/r-lib/scales/pull/414, "
        "https://github.com/jamovi/jamovi/pull/1341, "
        "https://github.com/scikit-learn/scikit-learn/pull/10210, "
        "https://github.com/scipy/scipy/pull/9271)",
        blind=True,
    ),
    Scenario(
        "layer_norm_lstm_cell_on_the_zero_initial_state",
        layer_norm_lstm_cell_on_the_zero_initial_state,
        "activation",
        frozenset({"RealDiv"}),
        "har_lstm/ln_lstm",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a hand-written layer-normalized LSTM cell (LN(W_x x) + LN(W_h h)) whose layer "
        "norm has no epsilon: on the zero initial state W_h h = 0 has variance 0 and the "
        "normalization is 0 / 0 inside the RNN layer at the first time step "
        "(https://github.com/tensorflow/tensorflow/issues/21929, "
        "https://github.com/jihunchoi/recurrent-batch-normalization-pytorch/issues/5, "
        "https://arxiv.org/abs/1607.06450)",
        blind=True,
    ),
]
