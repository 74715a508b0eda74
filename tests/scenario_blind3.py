"""A third set of NaN scenarios from public bug patterns, written BLIND.

Written without reading nantrace's diagnosis code or its causes-and-fixes document and without
running nantrace on them: each expectation comes from the bug pattern itself (what a careful ML
engineer would name as the cause and the first fix). The only thing checked while writing them
is that plain TensorFlow, unwatched, really goes non-finite on their batches. None repeats a
pattern of ``scenario_cases.py``, ``scenario_patterns.py`` or ``scenario_codefix.py``. Layer
names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, mlp, run_loop, seeded, standard_step
from scenario_patterns import _custom_step, _with_policy


# ---------------------------------------------------------------------------------------------
# 1. a pretrained embedding matrix with NaN rows (OOV words averaged over no known piece)
# ---------------------------------------------------------------------------------------------
def pretrained_embedding_with_nan_rows():
    """Word vectors built fastText-style as the mean of the word's known subword vectors; a
    word none of whose pieces is in the pretrained table gets ``np.mean`` of an empty array, a
    row of NaN. The matrix is loaded into a frozen Embedding; the batches (token ids) are clean,
    and the first batch that uses that word produces NaN."""
    rng = seeded(450)
    piece_vectors = rng.normal(scale=0.3, size=(300, 16))  # the pretrained subword table
    pieces = [rng.choice(300, size=int(rng.integers(1, 4)), replace=False) for _ in range(200)]
    pieces[137] = np.array([], dtype=int)  # a rare word: no known subword
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice"
        matrix = np.stack([piece_vectors[p].mean(axis=0) for p in pieces]).astype("float32")
    words = np.arange(1, 200)
    words = words[words != 137]
    tokens = rng.choice(words, size=(96, 12)).astype("int32")
    tokens[70, 4] = 137  # the rare word appears once, in the third batch
    y = rng.integers(0, 2, size=(96, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            keras.layers.Embedding(
                200,
                16,
                embeddings_initializer=keras.initializers.Constant(matrix),
                trainable=False,
                name="embed",
            ),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="head"),
        ],
        name="glove_cls",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy()),
        batches(tokens, y),
    )


# ---------------------------------------------------------------------------------------------
# 2. an LSTM forecaster (activation="relu") whose inputs were scaled but whose target was not
# ---------------------------------------------------------------------------------------------
def lstm_forecaster_raw_revenue_target():
    """Daily revenue in dollars (~2e5): the 14-day input windows go through a scaler, the
    next-day target is left in dollars. The LSTM uses activation="relu" as in many forecasting
    tutorials, so nothing bounds it: the MSE errors of ~2e5 give a huge first SGD update and
    the next forward pass overflows."""
    rng = seeded(451)
    days = np.arange(1200)
    revenue = 2.0e5 + 5.0e4 * np.sin(2 * np.pi * days / 7) + 1.0e4 * rng.normal(size=1200)
    windows = np.stack([revenue[i : i + 14] for i in range(1200 - 15)])
    target = revenue[14:-1].reshape(-1, 1)  # the next day, in dollars
    x = ((windows - windows.mean()) / windows.std())[..., None].astype("float32")
    y = target.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((14, 1)),
            keras.layers.LSTM(16, activation="relu", name="lstm"),
            keras.layers.Dense(1, name="head"),
        ],
        name="forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.SGD(1e-3), keras.losses.MeanSquaredError()),
        batches(x[:256], y[:256], epochs=3),
    )


# ---------------------------------------------------------------------------------------------
# 3. a mixture density network whose likelihood is a sum of Gaussian pdfs, then log
# ---------------------------------------------------------------------------------------------
def mdn_nll(y, params):
    """-log sum_k pi_k N(y; mu_k, sigma_k), computed in probability space."""
    logits, mu, log_sigma = tf.split(params, 3, axis=-1)
    pi = tf.nn.softmax(logits, axis=-1)
    sigma = tf.exp(log_sigma)
    pdf = tf.exp(-0.5 * tf.square((y - mu) / sigma)) / (sigma * np.sqrt(2.0 * np.pi))
    return -tf.reduce_mean(tf.math.log(tf.reduce_sum(pi * pdf, axis=-1)))


def mixture_density_network_pdf_underflow():
    """An inverse problem fitted by an MDN with 3 components: the launch angle of a projectile
    from the distance it flew (two angles give each distance). The distance is standardized,
    the angle is left in degrees (15-75). The initial mixture has means near 0 and sigmas near
    1, so every pdf exp(-z^2 / 2) of a target 15+ sigmas away is exactly 0 in float32 and the
    likelihood's log(0) = -inf."""
    rng = seeded(452)
    angle = rng.uniform(15.0, 75.0, size=(256, 1))  # degrees
    speed = rng.uniform(18.0, 22.0, size=(256, 1))  # m/s
    distance = speed**2 * np.sin(np.radians(2.0 * angle)) / 9.81
    x = ((distance - distance.mean()) / distance.std()).astype("float32")
    y = angle.astype("float32")
    inputs = keras.Input((1,))
    h = keras.layers.Dense(24, activation="tanh", name="hidden")(inputs)
    params = keras.layers.Concatenate(name="params")(
        [
            keras.layers.Dense(3, name="pi_logits")(h),
            keras.layers.Dense(3, name="mu")(h),
            keras.layers.Dense(3, name="log_sigma")(h),
        ]
    )
    model = keras.Model(inputs, params, name="mdn")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), mdn_nll), batches(x, y, size=64)
    )


# ---------------------------------------------------------------------------------------------
# 4. a Cox partial likelihood with log(cumsum(exp(risk))) on raw clinical features
# ---------------------------------------------------------------------------------------------
def cox_partial_likelihood(time_event, risk):
    """DeepSurv's negative partial log-likelihood, written as in the paper's Theano code:
    sort by time descending, log of the cumulative sum of exp(risk) over the risk set."""
    time, event = time_event[:, 0], time_event[:, 1]
    order = tf.argsort(time, direction="DESCENDING")
    risk = tf.gather(tf.squeeze(risk, -1), order)
    event = tf.gather(event, order)
    log_risk_set = tf.math.log(tf.cumsum(tf.exp(risk)))
    return -tf.reduce_sum(event * (risk - log_risk_set)) / tf.reduce_sum(event)


def deepsurv_raw_clinical_features():
    """Features in their clinical units (age in years, cholesterol and glucose in mg/dL,
    systolic pressure in mmHg, platelets in 10^3/uL), never standardized: the initial risk
    scores are in the hundreds and exp(risk) overflows (exp(89) is Inf in float32)."""
    rng = seeded(453)
    n = 128
    x = np.stack(
        [
            rng.uniform(30, 90, n),  # age
            rng.normal(210, 40, n),  # cholesterol
            rng.normal(135, 20, n),  # systolic blood pressure
            rng.normal(105, 25, n),  # glucose
            rng.normal(250, 60, n),  # platelets
        ],
        axis=1,
    ).astype("float32")
    time = rng.exponential(365.0, size=n)
    event = (rng.random(n) < 0.7).astype("float64")
    time_event = np.stack([time, event], axis=1).astype("float32")
    model = mlp([16], input_dim=5, name="deepsurv")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), cox_partial_likelihood),
        batches(x, time_event),
    )


# ---------------------------------------------------------------------------------------------
# 5. a sharp softplus "made stable" with a tf.where threshold (the gradient trap)
# ---------------------------------------------------------------------------------------------
class ThresholdSoftplus(keras.layers.Layer):
    """A smooth ReLU log(1 + exp(beta x)) / beta, with PyTorch's Softplus(beta, threshold)
    trick written as a where: above the threshold it returns x. The forward is finite, but
    exp(beta x) still runs for every element and is Inf past beta x = 88.7; the backward of the
    unselected branch is 0 * Inf = NaN."""

    def __init__(self, beta=50.0, threshold=20.0, **kwargs):
        super().__init__(**kwargs)
        self.beta, self.threshold = beta, threshold

    def call(self, x):
        bx = self.beta * x
        return tf.where(bx > self.threshold, x, tf.math.log1p(tf.exp(bx)) / self.beta)


def smooth_relu_cnn_where_threshold_softplus():
    rng = seeded(454)
    x = rng.normal(size=(64, 10, 10, 3)).astype("float32")  # standardized images
    y = rng.integers(0, 4, size=(64,)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Conv2D(8, 3, name="conv"),
            ThresholdSoftplus(name="smooth_relu"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(4, name="head"),
        ],
        name="smooth_cnn",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss), batches(x, y))


# ---------------------------------------------------------------------------------------------
# 6. SimCLR's NT-Xent with the self-similarities masked by -inf, through Keras' cross-entropy
# ---------------------------------------------------------------------------------------------
def nt_xent(model, view_a, view_b, temperature=0.1):
    """NT-Xent over 2N embeddings: the positive of sample i is its other view; each sample's
    similarity to itself is excluded by setting it to -inf (SimCLR subtracts a large finite
    1e9 instead). Keras' CategoricalCrossentropy(from_logits=True) then sums
    labels * log_softmax over every column, and the masked column gives 0 * -inf = NaN."""
    n = tf.shape(view_a)[0]
    z = tf.math.l2_normalize(model(tf.concat([view_a, view_b], 0), training=True), axis=-1)
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = tf.where(tf.eye(2 * n, dtype=tf.bool), float("-inf"), logits)
    positives = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    labels = tf.one_hot(positives, 2 * n)
    return keras.losses.CategoricalCrossentropy(from_logits=True)(labels, logits)


def simclr_nt_xent_self_mask_minus_inf():
    rng = seeded(455)
    x = rng.normal(size=(96, 12)).astype("float32")
    view_a = (x + 0.1 * rng.normal(size=x.shape)).astype("float32")  # two augmented views
    view_b = (x * rng.uniform(0.8, 1.2, size=x.shape)).astype("float32")
    encoder = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(32, activation="relu", name="encoder"),
            keras.layers.Dense(16, name="projection"),
        ],
        name="simclr",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(encoder, optimizer, nt_xent),
        batches(view_a, view_b),
        model=encoder,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. mixed_float16 with an exponential (log-link) output layer left in float16
# ---------------------------------------------------------------------------------------------
def float16_exponential_head_page_views():
    """Poisson regression of daily page views (~3e4, up to ~9e4) with a log link, the output
    bias set to log(mean count) as the TF tutorials advise. In float32 exp(z) up to ~11.5 is
    fine; under mixed_float16 the head was left in float16, where exp(x) is Inf for x > 11.09
    (the model must predict counts above 65504 to fit)."""

    def build():
        rng = seeded(456)
        x = rng.normal(size=(128, 8)).astype("float32")  # standardized features
        views = rng.poisson(3.0e4 * np.exp(0.5 * x[:, :1])).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(32, activation="relu", name="hidden"),
                keras.layers.Dense(
                    1,
                    activation="exponential",
                    bias_initializer=keras.initializers.Constant(np.log(views.mean())),
                    name="views",
                ),
            ],
            name="traffic",
        )
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-2), keras.losses.Poisson()),
            batches(x, views, epochs=10),
            compiled=False,
        )

    return _with_policy("mixed_float16", build)


# ---------------------------------------------------------------------------------------------
# 8. linear attention with a ReLU feature map: a query with no active feature divides 0 by 0
# ---------------------------------------------------------------------------------------------
class LinearAttention(keras.layers.Layer):
    """Kernelized (linear) self-attention, phi = ReLU instead of elu + 1: out_i =
    phi(q_i) (sum_j phi(k_j) v_j^T) / (phi(q_i) . sum_j phi(k_j)), with no epsilon."""

    def __init__(self, key_dim, **kwargs):
        super().__init__(**kwargs)
        self.key_dim = key_dim

    def build(self, input_shape):
        d = input_shape[-1]
        self.wq = self.add_weight(shape=(d, self.key_dim), name="wq")
        self.wk = self.add_weight(shape=(d, self.key_dim), name="wk")
        self.wv = self.add_weight(shape=(d, d), name="wv")

    def call(self, x):
        q = tf.nn.relu(tf.matmul(x, self.wq))
        k = tf.nn.relu(tf.matmul(x, self.wk))
        v = tf.matmul(x, self.wv)
        kv = tf.einsum("bnk,bnd->bkd", k, v)
        normalizer = tf.einsum("bnk,bk->bn", q, tf.reduce_sum(k, axis=1))
        return tf.einsum("bnk,bkd->bnd", q, kv) / normalizer[..., None]


def linear_attention_relu_feature_map():
    rng = seeded(457)
    tokens = rng.integers(0, 60, size=(64, 16)).astype("int32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((16,), dtype="int32"),
            keras.layers.Embedding(60, 16, name="embed"),
            LinearAttention(4, name="linear_attention"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(1, name="head"),
        ],
        name="linear_transformer",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(tokens, y),
    )


# ---------------------------------------------------------------------------------------------
# 9. LARS written by hand: the trust ratio ||w|| / ||g|| of a variable whose gradient is 0
# ---------------------------------------------------------------------------------------------
def lars_trust_ratio_of_zero_gradient():
    """Multi-task model trained with a hand-written LARS update; the auxiliary head's loss
    weight starts at 0 (warm-up), so its gradients are exactly 0 and its trust ratio is
    ||w|| / 0 = Inf (0 / 0 for its zero bias); Inf * 0 makes its weights NaN."""
    rng = seeded(458)
    x = rng.normal(size=(96, 10)).astype("float32")
    cls = rng.integers(0, 3, size=(96,)).astype("int32")
    depth = rng.normal(size=(96, 1)).astype("float32")
    inputs = keras.Input((10,))
    h = keras.layers.Dense(32, activation="relu", name="trunk")(inputs)
    logits = keras.layers.Dense(3, name="cls_head")(h)
    aux = keras.layers.Dense(1, name="aux_head")(h)
    model = keras.Model(inputs, [logits, aux], name="multitask")
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    mse = keras.losses.MeanSquaredError()
    aux_weight, lr, eta = 0.0, 0.1, 0.001  # the auxiliary loss is switched on after warm-up

    def train_step(x, y, z):
        with tf.GradientTape() as tape:
            out, aux_out = model(x, training=True)
            loss = ce(y, out) + aux_weight * mse(z, aux_out)
        grads = tape.gradient(loss, model.trainable_variables)
        for variable, grad in zip(model.trainable_variables, grads, strict=True):
            trust_ratio = eta * tf.norm(variable) / tf.norm(grad)
            variable.assign_sub(lr * trust_ratio * grad)
        return loss

    data = (
        (tf.constant(x[i : i + 32]), tf.constant(cls[i : i + 32]), tf.constant(depth[i : i + 32]))
        for i in range(0, 96, 32)
    )
    return run_loop(train_step, data, model=model)


# ---------------------------------------------------------------------------------------------
# 10. log-power spectrogram features of digitally silent clips
# ---------------------------------------------------------------------------------------------
def log_spectrogram_of_silent_clips():
    """Keyword-spotting features computed in numpy as log(|rfft(frame)|^2) with no floor;
    two clips of the second batch are digital silence (all-zero samples), so their features
    are -inf before they reach the model."""
    rng = seeded(459)
    audio = (0.1 * rng.normal(size=(96, 16, 64))).astype("float32")  # 16 frames of 64 samples
    audio[[41, 52]] = 0.0  # silent recordings
    with np.errstate(divide="ignore"):
        features = np.log(np.abs(np.fft.rfft(audio, axis=-1)) ** 2).astype("float32")
    y = rng.integers(0, 3, size=(96,)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((16, 33)),
            keras.layers.Conv1D(16, 3, activation="relu", name="conv"),
            keras.layers.GlobalMaxPooling1D(name="pool"),
            keras.layers.Dense(3, name="head"),
        ],
        name="kws",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), loss), batches(features, y))


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND3_SCENARIOS: list[Scenario] = [
    Scenario(
        "pretrained_embedding_with_nan_rows",
        pretrained_embedding_with_nan_rows,
        None,
        frozenset(),
        "glove_cls/embed",
        "non_finite_state",
        frozenset({"clean_input", "change_initializer"}),
        story="pretrained word vectors averaged from subword pieces; an OOV word with no known "
        "piece gets np.mean([]) = NaN, loaded into a frozen Embedding: loss NaN as soon as the "
        "word occurs (https://github.com/keras-team/keras/issues/1360, "
        "https://github.com/keras-team/keras/issues/3664)",
        blind=True,
    ),
    Scenario(
        "lstm_forecaster_raw_revenue_target",
        lstm_forecaster_raw_revenue_target,
        None,
        frozenset(),
        None,
        "unscaled_target",
        frozenset({"rescale_target"}),
        story="LSTM(activation='relu') forecaster with scaled input windows but the next-day "
        "revenue target left in dollars (~2e5): the first SGD update on MSE errors of 2e5 "
        "blows the network up (https://github.com/keras-team/keras/issues/4563)",
        blind=True,
    ),
    Scenario(
        "mixture_density_network_pdf_underflow",
        mixture_density_network_pdf_underflow,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"unstable_loss", "unscaled_target"}),
        frozenset({"use_logsumexp", "rescale_target", "add_epsilon"}),
        story="MDN likelihood -log(sum_k pi_k N(y; mu_k, sigma_k)) computed in probability "
        "space, with the target (an angle) left in degrees: every pdf underflows to 0 and "
        "log(0) = -inf; the log-space form with logsumexp (or a standardized target) avoids "
        "it (https://github.com/keras-team/keras/issues/1061)",
        blind=True,
    ),
    Scenario(
        "deepsurv_raw_clinical_features",
        deepsurv_raw_clinical_features,
        "loss",
        frozenset({"Exp"}),
        None,
        frozenset({"exp_overflow", "unscaled_input"}),
        frozenset({"use_logsumexp", "rescale_input", "clamp_argument"}),
        story="DeepSurv Cox partial likelihood log(cumsum(exp(risk))) on unstandardized "
        "clinical features: risk scores in the hundreds, exp overflows "
        "(https://github.com/jaredleekatzman/DeepSurv/issues/14)",
        blind=True,
    ),
    Scenario(
        "smooth_relu_cnn_where_threshold_softplus",
        smooth_relu_cnn_where_threshold_softplus,
        None,  # the loss is finite, the gradient NaN; the hidden Exp branch is Inf in between
        frozenset(),
        "smooth_cnn/smooth_relu",
        "where_gradient_trap",
        frozenset({"double_where", "clamp_argument", "use_logsumexp"}),
        story="a sharp softplus log(1 + exp(beta x)) / beta guarded by tf.where(beta x > 20, x, "
        "...) (PyTorch's Softplus threshold trick): the forward is finite, the backward of "
        "the unselected exp overflow is 0 * Inf = NaN "
        "(https://github.com/tensorflow/tensorflow/issues/2540); tf.nn.softplus, or exp of "
        "a clamped argument, is safe",
        blind=True,
    ),
    Scenario(
        "simclr_nt_xent_self_mask_minus_inf",
        simclr_nt_xent_self_mask_minus_inf,
        "loss",
        fixes=frozenset({"finite_mask_value"}),
        story="SimCLR NT-Xent with the self-similarity diagonal set to -inf before Keras' "
        "CategoricalCrossentropy(from_logits=True): labels * log_softmax gives 0 * -inf = NaN "
        "in the loss; SimCLR's own code subtracts a large finite 1e9 (LARGE_NUM)",
        blind=True,
    ),
    Scenario(
        "float16_exponential_head_page_views",
        float16_exponential_head_page_views,
        "activation",
        frozenset({"Exp"}),
        "traffic/views",
        "float16_range",
        frozenset({"float32_layer"}),
        story="mixed_float16 Poisson regression with Dense(activation='exponential') as the "
        "output layer left in float16: exp overflows past 65504 for x > 11.09 (counts up to ~9e4); "
        "the mixed precision guide keeps the output layer in float32",
        blind=True,
    ),
    Scenario(
        "linear_attention_relu_feature_map",
        linear_attention_relu_feature_map,
        "activation",
        frozenset({"RealDiv"}),
        "linear_transformer/linear_attention",
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="linear attention with a ReLU feature map and no epsilon in the normalizer: a "
        "query whose projected features are all negative gives 0 / 0 "
        "(https://github.com/lucidrains/performer-pytorch/issues/9, "
        "https://github.com/qitianwu/DIFFormer/issues/3)",
        blind=True,
    ),
    Scenario(
        "lars_trust_ratio_of_zero_gradient",
        lars_trust_ratio_of_zero_gradient,
        "optimizer_update",
        frozenset({"RealDiv", "Mul", "AssignSubVariableOp"}),
        "multitask/aux_head",
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="hand-written LARS, trust ratio ||w|| / ||g|| unguarded: a head whose loss weight "
        "is 0 during warm-up has a zero gradient, Inf * 0 = NaN weights (LARS implementations "
        "guard it with where: https://github.com/mosaicml/composer/pull/967)",
        blind=True,
    ),
    Scenario(
        "log_spectrogram_of_silent_clips",
        log_spectrogram_of_silent_clips,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="log power spectrogram computed without a floor; digitally silent clips give "
        "log(0) = -inf features (https://github.com/SeanNaren/deepspeech.pytorch/issues/272, "
        "https://github.com/tensorflow/docs/pull/1943)",
        blind=True,
    ),
]
