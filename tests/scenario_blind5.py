"""A fifth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` / ``scenario_patterns.py``, the format of
``scenario_blind4.py`` and the taxonomy of the design notes), and without running nantrace on
them: each expectation comes from the bug pattern itself (what a careful ML engineer would name
as where the first non-finite value appears, why, and the first fix to try). The only thing
checked while writing them is that plain TensorFlow, unwatched, really goes non-finite on their
batches (a throwaway script outside the repository, a plain ``tf.function`` step). None repeats
a pattern on the list of existing scenarios that came with the brief; each story cites the
public report(s) the pattern comes from. Layer names are set explicitly only so the
expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, dtype_policy, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. GCN symmetric normalization D^-1/2 A D^-1/2 on a graph with isolated nodes, no self-loops
# ---------------------------------------------------------------------------------------------
class GraphConv(keras.layers.Layer):
    """Kipf & Welling graph convolution written by hand: H' = D^-1/2 A D^-1/2 H W, with the degree
    taken from A itself (the renormalization trick's self-loops A + I were left out)."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, keras.activations.get(activation)

    def build(self, input_shapes):
        self.kernel = self.add_weight(
            shape=(input_shapes[0][-1], self.units), initializer="glorot_uniform", name="kernel"
        )

    def call(self, inputs):
        h, adjacency = inputs
        degree = tf.reduce_sum(adjacency, axis=-1)
        d_inv_sqrt = tf.pow(degree, -0.5)  # an isolated node: 0 ** -0.5 = inf
        norm_adj = d_inv_sqrt[:, :, None] * adjacency * d_inv_sqrt[:, None, :]
        return self.activation(tf.matmul(norm_adj, tf.matmul(h, self.kernel)))


def gcn_isolated_nodes_without_self_loops():
    """Paper-topic classification on a citation graph of 80 papers, full-batch training of a
    2-layer GCN. Six papers cite nothing and are cited by nobody: their degree is 0, the
    inverse square root of it is inf, and inf * 0 fills their row of the normalized adjacency
    with NaN."""
    rng = seeded(700)
    n, classes = 80, 4
    topic = rng.integers(0, classes, size=n)
    adjacency = np.zeros((n, n), dtype="float32")
    for _ in range(220):
        i, j = rng.integers(6, n, size=2)  # papers 0-5 stay isolated
        if i != j and (topic[i] == topic[j] or rng.random() < 0.2):
            adjacency[i, j] = adjacency[j, i] = 1.0
    features = (np.eye(classes)[topic] @ rng.normal(size=(classes, 16))).astype("float32")
    features += rng.normal(size=(n, 16)).astype("float32")
    x_in = keras.Input((n, 16))
    a_in = keras.Input((n, n))
    h = GraphConv(16, activation="relu", name="gcn1")([x_in, a_in])
    out = GraphConv(classes, name="gcn2")([h, a_in])
    model = keras.Model([x_in, a_in], out, name="gcn")
    optimizer = keras.optimizers.Adam(1e-2)
    cce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss_of(model, x, a, y):
        return cce(y, model([x, a], training=True))

    graph = (
        tf.constant(features[None]),
        tf.constant(adjacency[None]),
        tf.constant(topic[None].astype("int32")),
    )
    return run_loop(
        _custom_step(model, optimizer, loss_of), [graph] * 20, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 2. SI-SDR loss of a speech separation net on clips whose target source is silent
# ---------------------------------------------------------------------------------------------
def neg_si_sdr(target, estimate):
    """-SI-SDR in dB, written as in the paper without its epsilons: the optimal scaling
    alpha = <est, s> / <s, s> is 0 / 0 for a silent target s."""
    target = target - tf.reduce_mean(target, axis=1, keepdims=True)
    estimate = estimate - tf.reduce_mean(estimate, axis=1, keepdims=True)
    alpha = tf.reduce_sum(estimate * target, axis=[1, 2]) / tf.reduce_sum(
        tf.square(target), axis=[1, 2]
    )
    projection = alpha[:, None, None] * target
    noise = estimate - projection
    ratio = tf.reduce_sum(tf.square(projection), axis=[1, 2]) / tf.reduce_sum(
        tf.square(noise), axis=[1, 2]
    )
    return -tf.reduce_mean(10.0 * tf.math.log(ratio) / np.log(10.0))


def si_sdr_loss_silent_target_source():
    """Speech enhancement with a small Conv1D mask network trained on -SI-SDR. The clips are
    random 0.25 s crops of (speech + noise); a crop that falls in a pause between sentences has
    an all-zero speech target."""
    rng = seeded(701)
    n, length = 96, 256
    t = np.arange(length) / 1000.0
    speech = np.stack(
        [np.sin(2 * np.pi * rng.uniform(80, 300) * t) * rng.uniform(0.2, 0.8) for _ in range(n)]
    )
    speech[[40, 41, 75]] = 0.0  # crops that fell in a pause: the target is silent
    mixture = speech + 0.1 * rng.normal(size=(n, length))
    inputs = keras.Input((length, 1))
    h = keras.layers.Conv1D(16, 9, padding="same", activation="relu", name="encoder")(inputs)
    mask = keras.layers.Conv1D(1, 9, padding="same", activation="sigmoid", name="mask")(h)
    outputs = keras.layers.Multiply(name="apply_mask")([inputs, mask])
    model = keras.Model(inputs, outputs, name="enhancer")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), neg_si_sdr),
        batches(mixture[..., None].astype("float32"), speech[..., None].astype("float32")),
    )


# ---------------------------------------------------------------------------------------------
# 3. per-window min-max scaling of accelerometer windows; a stuck sensor gives a flat window
# ---------------------------------------------------------------------------------------------
def har_minmax_scaled_flat_window():
    """Human activity recognition from 2.56 s accelerometer windows, each scaled to [0, 1] per
    window and channel by (x - min) / (max - min) before training. While the phone lay on a
    table the sensor reported one constant value, so max - min = 0 and those windows are
    0 / 0 = NaN."""
    rng = seeded(702)
    n, steps = 160, 64
    activity = rng.integers(0, 3, size=n)
    freq = np.array([0.5, 2.0, 3.5])[activity]
    t = np.arange(steps) / 25.0
    raw = np.sin(2 * np.pi * freq[:, None, None] * t[None, :, None] + rng.uniform(0, 6, (n, 1, 3)))
    raw = raw * rng.uniform(0.5, 2.0, (n, 1, 3)) + 0.1 * rng.normal(size=(n, steps, 3))
    raw[[97, 98, 99]] = np.array([0.02, -0.01, 9.81])  # phone lying still: constant readings
    lo, hi = raw.min(axis=1, keepdims=True), raw.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = ((raw - lo) / (hi - lo)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((steps, 3)),
            keras.layers.Conv1D(16, 5, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(3, name="head"),
        ],
        name="har_cnn",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(x, activity.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 4. GeM pooling with a learnable p, without the clamp(min=eps), after a linear conv
# ---------------------------------------------------------------------------------------------
class GeMPooling(keras.layers.Layer):
    """Generalized-mean pooling (mean(x ** p)) ** (1 / p) with a learnable p = 3, written
    without the reference's x.clamp(min=eps): defined only for non-negative features."""

    def build(self, input_shape):
        self.p = self.add_weight(shape=(), initializer=keras.initializers.Constant(3.0), name="p")

    def call(self, x):
        pooled = tf.reduce_mean(tf.pow(x, self.p), axis=[1, 2])
        return tf.pow(pooled, 1.0 / self.p)


def gem_pooling_negative_features():
    """Landmark retrieval: a small CNN whose last convolution is linear (its ReLU was removed
    to keep 'more information' in the descriptor) feeds GeM pooling; the negative features
    raised to the fractional powers p and 1 / p are NaN."""
    rng = seeded(703)
    n = 96
    labels = rng.integers(0, 6, size=n)
    x = rng.normal(size=(n, 16, 16, 3)).astype("float32") * 0.5
    x[:, 4:12, 4:12, :] += labels[:, None, None, None] / 3.0
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 3, name="conv2"),  # linear: features of either sign
            GeMPooling(name="gem"),
            keras.layers.Dense(6, name="classifier"),
        ],
        name="retrieval",
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(x, labels.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 5. BiLSTM-CRF whose partition function is computed in probability space, not log space
# ---------------------------------------------------------------------------------------------
class CRFTransitions(keras.layers.Layer):
    """Holds the CRF's tag-transition scores; passes the emission scores through."""

    def build(self, input_shape):
        self.transitions = self.add_weight(
            shape=(input_shape[-1], input_shape[-1]), initializer="zeros", name="transitions"
        )

    def call(self, emissions):
        return emissions


def crf_nll_probability_space(model, tokens, tags):
    """-log p(tags | x) of a linear-chain CRF. The forward algorithm multiplies potentials,
    alpha_t = (alpha_{t-1} @ exp(T)) * exp(e_t), instead of adding log-potentials with
    logsumexp: alpha grows by about the number of tags per token and overflows."""
    emissions = model(tokens, training=True)
    transitions = model.get_layer("crf").transitions
    exp_trans = tf.exp(transitions)
    alpha = tf.exp(emissions[:, 0])
    for t in range(1, emissions.shape[1]):
        alpha = tf.matmul(alpha, exp_trans) * tf.exp(emissions[:, t])
    log_z = tf.math.log(tf.reduce_sum(alpha, axis=-1))
    emit = tf.reduce_sum(tf.gather(emissions, tags, batch_dims=2), axis=1)
    trans = tf.reduce_sum(tf.gather_nd(transitions, tf.stack([tags[:, :-1], tags[:, 1:]], -1)), 1)
    return tf.reduce_mean(log_z - emit - trans)


def bilstm_crf_forward_algorithm_without_logsumexp():
    """Named-entity tagging (9 BIO tags) of 60-token sentences by an Embedding-BiLSTM-CRF."""
    rng = seeded(704)
    n, steps, vocab, n_tags = 96, 60, 300, 9
    tokens = rng.integers(1, vocab, size=(n, steps)).astype("int32")
    tags = (tokens % n_tags).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((steps,), dtype="int32"),
            keras.layers.Embedding(vocab, 16, name="embed"),
            keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True), name="bilstm"),
            keras.layers.Dense(n_tags, name="emissions"),
            CRFTransitions(name="crf"),
        ],
        name="ner",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, crf_nll_probability_space),
        batches(tokens, tags),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 6. Sinkhorn loss in the kernel domain with a small entropic regularization
# ---------------------------------------------------------------------------------------------
def sinkhorn_loss(target, generated, reg=0.01, iterations=20):
    """Entropic OT between two point clouds by plain Sinkhorn iterations u = a / (K v),
    v = b / (K^T u) with K = exp(-C / reg): for a small reg every entry of a row of K
    underflows to 0 and the division is a / 0."""
    cost = tf.reduce_sum(tf.square(generated[:, None, :] - target[None, :, :]), axis=-1)
    kernel = tf.exp(-cost / reg)
    n = tf.cast(tf.shape(generated)[0], tf.float32)
    a = tf.ones_like(kernel[:, 0]) / n
    b = tf.ones_like(kernel[0, :]) / n
    v = tf.ones_like(b)
    for _ in range(iterations):
        u = a / tf.linalg.matvec(kernel, v)
        v = b / tf.linalg.matvec(kernel, u, transpose_a=True)
    plan = u[:, None] * kernel * v[None, :]
    return tf.reduce_sum(plan * cost)


def sinkhorn_generator_small_regularization():
    """A generator mapping Gaussian noise to 2-D points, trained to match samples of a ring of
    radius 2 with a Sinkhorn loss at reg = 0.01 (sharper transport plans), written in the
    kernel domain. At initialisation the generated points sit near the origin, more than one
    unit away from every target point: exp(-C / 0.01) is 0 for their whole row."""
    rng = seeded(705)
    n = 128
    angle = rng.uniform(0, 2 * np.pi, size=n)
    ring = np.stack([2 * np.cos(angle), 2 * np.sin(angle)], axis=1)
    ring = (ring + 0.05 * rng.normal(size=(n, 2))).astype("float32")
    noise = rng.normal(size=(n, 4)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(2, name="points"),
        ],
        name="ot_generator",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), sinkhorn_loss), batches(noise, ring)
    )


# ---------------------------------------------------------------------------------------------
# 7. Gram-matrix style features under mixed_float16: the sum over positions overflows
# ---------------------------------------------------------------------------------------------
class GramMatrix(keras.layers.Layer):
    """G = F^T F / (H W) of a feature map, computed in the layer's compute dtype."""

    def call(self, features):
        shape = tf.shape(features)
        flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
        gram = tf.matmul(flat, flat, transpose_a=True)
        return gram / tf.cast(shape[1] * shape[2], gram.dtype)


def style_gram_matrix_mixed_float16():
    """A fast-style-transfer style loss (match the Gram matrices of conv features to those of
    the style image) moved to mixed_float16 for speed, on images in the Caffe/VGG convention
    (0-255 minus the channel mean). The Gram matrix sums 1024 products of features in the
    hundreds before the division, far beyond float16's 65504."""
    with dtype_policy("mixed_float16"):
        rng = seeded(706)
        n = 64
        images = rng.uniform(0, 255, size=(n, 32, 32, 3)) - np.array([103.9, 116.8, 123.7])
        target_gram = np.abs(rng.normal(size=(n, 16, 16))).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
                GramMatrix(name="gram"),
            ],
            name="style_net",
        )

        def style_loss(y_true, gram):
            return tf.reduce_mean(tf.square(tf.cast(gram, tf.float32) - y_true))

        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), style_loss),
            batches(images.astype("float32"), target_gram, size=16),
        )


# ---------------------------------------------------------------------------------------------
# 8. a deep residual MLP without normalization: every block adds a He-initialised branch
# ---------------------------------------------------------------------------------------------
def deep_residual_mlp_without_normalization():
    """A 40-block residual MLP for tabular regression with the BatchNorm layers removed (to
    'speed it up') but the He initialisation kept. Each block h + W2 relu(W1 h) roughly
    triples the activations' variance, so the output at initialisation is ~1e10 and the loss
    ~1e20; the first updates blow up (the imbalance Fixup / zero-init residual branches fix)."""
    rng = seeded(711)
    n = 256
    x = rng.normal(size=(n, 16)).astype("float32")
    y = (2.0 * x[:, :1] + np.sin(x[:, 1:2])).astype("float32")
    inputs = keras.Input((16,))
    h = keras.layers.Dense(32, kernel_initializer="he_normal", name="stem")(inputs)
    for i in range(40):
        r = keras.layers.Dense(
            32, activation="relu", kernel_initializer="he_normal", name=f"block{i}_dense1"
        )(h)
        r = keras.layers.Dense(32, kernel_initializer="he_normal", name=f"block{i}_dense2")(r)
        h = keras.layers.Add(name=f"block{i}_add")([h, r])
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="resmlp")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 9. stellar parameters in CGS units fed raw to an MLP
# ---------------------------------------------------------------------------------------------
def stellar_features_in_cgs_units():
    """Stellar age (log10 years, standardized) regressed from mass in grams (~1e33),
    luminosity in erg/s (~1e33-1e37), radius in cm (~1e11), effective temperature in K and
    metallicity, straight from the catalogue in CGS units without any scaling."""
    rng = seeded(708)
    n = 128
    mass_sun = rng.uniform(0.5, 8.0, size=n)
    mass = mass_sun * 1.989e33
    luminosity = 3.828e33 * mass_sun**3.5 * rng.uniform(0.8, 1.2, size=n)
    radius = 6.957e10 * mass_sun**0.8
    teff = 5772.0 * mass_sun**0.5
    metallicity = rng.uniform(0.001, 0.03, size=n)
    x = np.stack([mass, luminosity, radius, teff, metallicity], axis=1).astype("float32")
    log_age = 10.0 - 2.5 * np.log10(mass_sun) + 0.1 * rng.normal(size=n)
    y = ((log_age - log_age.mean()) / log_age.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="stellar_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 10. RMTPP event-sequence model with inter-event times in raw seconds
# ---------------------------------------------------------------------------------------------
class RMTPPHead(keras.layers.Layer):
    """RMTPP's intensity lambda(t) = exp(v . h_j + w (t - t_j) + b): the past influence
    v . h_j + b from the GRU state, and the scalar w of the current influence."""

    def build(self, input_shape):
        self.past = keras.layers.Dense(1, name="past_influence")
        self.w = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.1), name="w")

    def call(self, h):
        return tf.concat([self.past(h), self.w * tf.ones_like(h[:, :1])], axis=-1)


def rmtpp_nll(dt_next, params):
    """-log f(dt) of RMTPP in closed form: log f = c + w dt + exp(c) / w - exp(c + w dt) / w."""
    c, w = params[:, 0], params[:, 1]
    dt = dt_next[:, 0]
    log_f = c + w * dt + tf.exp(c) / w - tf.exp(c + w * dt) / w
    return -tf.reduce_mean(log_f)


def rmtpp_inter_event_times_in_seconds():
    """Next-purchase-time prediction on customers' event histories (GRU over the last 20
    inter-event gaps). The gaps are in raw seconds (minutes to hours, up to ~10^4), so the
    intensity's current-influence term w * dt reaches the thousands and exp(c + w dt)
    overflows."""
    rng = seeded(709)
    n, steps = 128, 20
    gaps = rng.exponential(1800.0, size=(n, steps + 1))
    x = gaps[:, :steps, None].astype("float32")
    y = gaps[:, steps:].astype("float32")
    inputs = keras.Input((steps, 1))
    h = keras.layers.GRU(16, name="gru")(inputs)
    params = RMTPPHead(name="intensity")(h)
    model = keras.Model(inputs, params, name="rmtpp")
    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), rmtpp_nll), batches(x, y))


# ---------------------------------------------------------------------------------------------
# 11. a linear warmup that never stops warming up
# ---------------------------------------------------------------------------------------------
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """lr = peak * step / warmup_steps, meant to be capped at peak after warmup_steps and then
    decayed; the min(1, ...) was forgotten, so the learning rate keeps rising."""

    def __init__(self, peak, warmup_steps):
        self.peak, self.warmup_steps = peak, warmup_steps

    def __call__(self, step):
        return self.peak * tf.cast(step + 1, tf.float32) / self.warmup_steps


def warmup_schedule_never_capped():
    """Tabular regression (standardized features and target) with SGD + momentum and a 10-step
    warmup to 0.05 that is never capped: by step 200 the learning rate is 1.0 and rising."""
    rng = seeded(710)
    n = 640
    x = rng.normal(size=(n, 12)).astype("float32")
    w = rng.normal(size=(12, 1))
    y = (x @ w + 0.3 * np.sin(x[:, :1] * 2) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    y = (y - y.mean()) / y.std()
    model = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="tabular_mlp",
    )
    optimizer = keras.optimizers.SGD(LinearWarmup(0.05, 10), momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()),
        batches(x, y, epochs=15),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND5_SCENARIOS: list[Scenario] = [
    Scenario(
        "gcn_isolated_nodes_without_self_loops",
        gcn_isolated_nodes_without_self_loops,
        "activation",
        frozenset({"Pow"}),
        "gcn/gcn1",
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="hand-written GCN normalization D^-1/2 A D^-1/2 without the self-loops of the "
        "renormalization trick; an isolated node has degree 0, 0 ** -0.5 = inf and inf * 0 = NaN "
        "(https://github.com/pyg-team/pytorch_geometric/issues/61, "
        "https://github.com/wujcan/SGL-TensorFlow/issues/19, "
        "https://github.com/mlx-graphs/mlx-graphs/pull/18)",
        blind=True,
    ),
    Scenario(
        "si_sdr_loss_silent_target_source",
        si_sdr_loss_silent_target_source,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="-SI-SDR loss without epsilons on speech crops whose target source is silent: the "
        "scaling <est, s> / <s, s> is 0 / 0 (https://github.com/csteinmetz1/auraloss/issues/25, "
        "https://github.com/csteinmetz1/auraloss/pull/26)",
        blind=True,
    ),
    Scenario(
        "har_minmax_scaled_flat_window",
        har_minmax_scaled_flat_window,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="per-window min-max scaling (x - min) / (max - min) of accelerometer windows; a "
        "window recorded while the phone lay still is constant and becomes 0 / 0 = NaN in the "
        "batch (https://github.com/tslearn-team/tslearn/issues/314, "
        "https://github.com/jaungiers/LSTM-Neural-Network-for-Time-Series-Prediction/issues/66)",
        blind=True,
    ),
    Scenario(
        "gem_pooling_negative_features",
        gem_pooling_negative_features,
        "activation",
        frozenset({"Pow"}),
        "retrieval/gem",
        "domain_error",
        frozenset({"clamp_argument", "positive_output"}),
        story="GeM pooling (mean(x ** p)) ** (1 / p) written without x.clamp(min=eps), after a "
        "linear convolution: negative features raised to a fractional power are NaN "
        "(https://github.com/filipradenovic/cnnimageretrieval-pytorch/issues/73, "
        "https://github.com/facebookresearch/dino/issues/211, "
        "https://github.com/open-mmlab/mmpretrain/pull/677)",
        blind=True,
    ),
    Scenario(
        "bilstm_crf_forward_algorithm_without_logsumexp",
        bilstm_crf_forward_algorithm_without_logsumexp,
        "loss",
        frozenset({"MatMul", "Mul"}),
        None,
        "unstable_loss",
        frozenset({"use_logsumexp"}),
        story="BiLSTM-CRF whose partition function runs the forward algorithm on exp(potentials) "
        "instead of logsumexp of log-potentials; over 60 tokens alpha grows ~9x per token and "
        "overflows (https://github.com/apache/mxnet/issues/13329, "
        "https://github.com/candle-org/MindAct/issues/171, "
        "https://github.com/allenai/allennlp/issues/4478)",
        blind=True,
    ),
    Scenario(
        "sinkhorn_generator_small_regularization",
        sinkhorn_generator_small_regularization,
        "loss",
        frozenset({"RealDiv"}),
        None,
        frozenset({"missing_epsilon", "unstable_loss"}),
        frozenset({"use_logsumexp", "add_epsilon"}),
        story="Sinkhorn OT loss in the kernel domain with reg = 0.01: exp(-C / reg) underflows "
        "to 0 for whole rows and u = a / (K v) divides by 0; the usual fix is log-domain "
        "Sinkhorn (https://github.com/PythonOT/POT/issues/54, "
        "https://github.com/rajewsky-lab/novosparc/issues/50, "
        "https://github.com/PythonOT/POT/pull/336)",
        blind=True,
    ),
    Scenario(
        "style_gram_matrix_mixed_float16",
        style_gram_matrix_mixed_float16,
        "matmul_overflow",
        frozenset({"BatchMatMulV2", "Einsum"}),
        "style_net/gram",
        "float16_range",
        frozenset({"float32_layer"}),
        story="Gram-matrix style features under mixed_float16 on VGG/Caffe-range images: "
        "F^T F sums over all positions before dividing by H W and overflows 65504; keep the "
        "Gram computation in float32 (https://github.com/NVIDIA/apex/issues/402, "
        "https://github.com/ProGamerGov/neural-style-pt/issues/97, "
        "https://github.com/NVIDIA/apex/issues/973)",
        blind=True,
    ),
    Scenario(
        "deep_residual_mlp_without_normalization",
        deep_residual_mlp_without_normalization,
        None,
        cause=frozenset({"initializer_scale", "gradient_explosion"}),
        fixes=frozenset({"add_normalization", "change_initializer"}),
        story="40-block residual MLP with normalization removed and He-initialised residual "
        "branches: variance grows ~3x per block, loss ~1e20 at step 0, the first updates "
        "overflow; Fixup-style scaled / zero-initialised branches or BatchNorm fix it "
        "(https://github.com/huangleiBuaa/ONI/issues/1, https://github.com/cvignac/SMP/issues/3, "
        "https://github.com/wvabrinskas/Neuron/pull/124)",
        blind=True,
    ),
    Scenario(
        "stellar_features_in_cgs_units",
        stellar_features_in_cgs_units,
        "loss",
        frozenset({"Square", "SquaredDifference"}),
        None,
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="MLP fed stellar mass / luminosity / radius in raw CGS units (1e10-1e37); the "
        "predictions are ~1e37 and the squared error overflows at the first step "
        "(https://github.com/zhouhaoyi/Informer2020/issues/251: NaN loss when the input is not "
        "normalized, https://github.com/jaredleekatzman/DeepSurv/issues/14, "
        "https://github.com/py-why/EconML/issues/60)",
        blind=True,
    ),
    Scenario(
        "rmtpp_inter_event_times_in_seconds",
        rmtpp_inter_event_times_in_seconds,
        "loss",
        frozenset({"Exp"}),
        None,
        frozenset({"exp_overflow", "unscaled_input"}),
        frozenset({"rescale_input", "clamp_argument"}),
        story="RMTPP closed-form log-likelihood with inter-event times in raw seconds: "
        "exp(c + w dt) overflows once w * dt exceeds ~88; the times must be rescaled "
        "(https://github.com/musically-ut/tf_rmtpp/issues/10, "
        "https://github.com/shchur/ifl-tpp/issues/5, "
        "https://github.com/woshiyyya/ERPP-RMTPP/issues/6)",
        blind=True,
    ),
    Scenario(
        "warmup_schedule_never_capped",
        warmup_schedule_never_capped,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="linear learning-rate warmup that is never capped at its peak, so the learning "
        "rate keeps rising until SGD with momentum diverges "
        "(https://github.com/YunYang1994/TensorFlow2.0-Examples/issues/8: 'the learning rate "
        "kept rising, causing NaN', https://github.com/facebookresearch/ParlAI/pull/4384)",
        blind=True,
    ),
]
