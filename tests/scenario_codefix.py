"""NaN scenarios whose fix is a change to the user's OWN code, written BLIND (issue 16).

A held-out set for the code-change fixes (an epsilon inside a log, a clamp before exp / acos /
a square root, computing a loss from logits, ``divide_no_nan``, the double-where pattern). They
were written without reading nantrace's cause, fix, evidence, verification or call-site code, and
without running nantrace on them: each expectation comes from the bug pattern itself. The only
thing checked while writing them is that plain TensorFlow, unwatched, really goes non-finite on
their batches (and that the healthy look-alikes stay finite): ``tests/test_codefix_scenarios_nan.py``.

The code is written the way users write it: hand-written losses in custom ``tf.GradientTape``
loops (compiled, with autograph control flow, with helpers, eager), custom layers, ``keras.ops``
instead of ``tf``, operators instead of functions, calls split over several lines and two calls
of the same op on one line. Each scenario is a ``Setup`` factory (so the plain check can run the
very same step unwatched) wrapped by ``run_loop``. Layer names are set only so the expectations
can name them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from scenario_cases import Scenario, mlp, run_loop, seeded, standard_step

from nantrace.report.records import Report


@dataclass(frozen=True)
class Setup:
    """One training run, before it starts: the step as the user wrote it and what it trains."""

    step: Callable
    batches: list[tuple]
    compiled: bool
    model: keras.Model
    optimizer: keras.optimizers.Optimizer


def _watched(make: Callable[[], Setup]) -> Callable[[], Report | None]:
    """The scenario's build: the setup trained under ``nantrace.watch`` by ``run_loop``."""

    def build() -> Report | None:
        s = make()
        return run_loop(s.step, s.batches, s.compiled, model=s.model, optimizer=s.optimizer)

    build.__name__ = make.__name__
    build.setup = make  # type: ignore[attr-defined]
    return build


def _split(*arrays: np.ndarray, size: int = 32, epochs: int = 1) -> list[tuple]:
    """Batches of several aligned arrays (features, targets, masks ...) as constants."""
    n = len(arrays[0])
    return [
        tuple(tf.constant(a[i : i + size]) for a in arrays)
        for _ in range(epochs)
        for i in range(0, n, size)
    ]


def _tape_step(model, optimizer, loss_of):
    """The ordinary custom loop: ``loss_of(model, *batch)`` under a tape, then apply."""

    def train_step(*batch):
        with tf.GradientTape() as tape:
            loss = loss_of(model, *batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def _noisy_separable(rng, n, dim, classes, flip=0.1):
    """Linearly separable labels with a fraction flipped: a confident model is confidently
    wrong on the flipped ones."""
    x = rng.normal(size=(n, dim)).astype("float32")
    y = np.argmax(x @ rng.normal(size=(dim, classes)), axis=1)
    flipped = rng.random(n) < flip
    y[flipped] = rng.integers(0, classes, size=int(flipped.sum()))
    return x, y


# ---------------------------------------------------------------------------------------------
# 1. focal loss in keras.ops on a sigmoid output, operator ** (compiled)
# ---------------------------------------------------------------------------------------------
def focal_loss(y_true, p, gamma=2.0, alpha=0.25):
    pt = ops.where(y_true == 1.0, p, 1.0 - p)
    return ops.mean(-alpha * (1.0 - pt) ** gamma * ops.log(pt))


def focal_loss_on_sigmoid_output() -> Setup:
    rng = seeded(1600)
    x, y = _noisy_separable(rng, 192, 10, 2, flip=0.1)
    x = x * 25.0  # features left in raw units (counts, amounts), never standardized
    y = y.astype("float32")[:, None]
    model = mlp([32], input_dim=10, out_activation="sigmoid", name="detector")
    optimizer = keras.optimizers.Adam(0.05)

    def loss_of(model, x, y):
        return focal_loss(y, model(x, training=True))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 2. acos of a hand-written cosine similarity (identical pairs), helper over several lines
# ---------------------------------------------------------------------------------------------
def angle_between(a, b):
    cos = tf.math.divide(
        tf.reduce_sum(a * b, axis=-1),
        tf.norm(a, axis=-1) * tf.norm(b, axis=-1),
    )
    return tf.acos(cos)


def acos_of_cosine_similarity_identical_pairs() -> Setup:
    rng = seeded(1601)
    left = rng.normal(size=(96, 12)).astype("float32")
    right = rng.normal(size=(96, 12)).astype("float32")
    same = rng.random(96) < 0.3  # duplicate pairs: the same item on both sides
    right[same] = left[same]
    target = np.where(same, 0.0, np.pi / 2).astype("float32")
    tower = mlp([16], input_dim=12, out=8, name="tower")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(tower, a, b, t):
        theta = angle_between(tower(a, training=True), tower(b, training=True))
        return tf.reduce_mean(tf.square(theta - t))

    step = _tape_step(tower, optimizer, loss_of)
    return Setup(step, _split(left, right, target), True, tower, optimizer)


# ---------------------------------------------------------------------------------------------
# 3. exp of a log-variance (heteroscedastic NLL) after an autograph-converted warm-up `if`
# ---------------------------------------------------------------------------------------------
def heteroscedastic_nll_exp_log_variance() -> Setup:
    rng = seeded(1642)
    area = rng.uniform(40, 300, size=(192, 1))  # m^2, never standardized
    year = rng.uniform(1900, 2020, size=(192, 1))
    rooms = rng.integers(1, 8, size=(192, 1))
    x = np.concatenate([area, year, rooms], axis=1).astype("float32")
    y = (area / 100 + rng.normal(size=(192, 1)) * 0.3).astype("float32")
    inputs = keras.Input((3,))
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    mu = keras.layers.Dense(1, name="mu")(h)
    log_var = keras.layers.Dense(1, name="log_var")(h)
    model = keras.Model(inputs, [mu, log_var], name="regressor")
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            mu, log_var = model(x, training=True)
            if optimizer.iterations < 4:  # warm up the mean with plain MSE first
                loss = ops.mean((y - mu) ** 2)
            else:
                nll = (
                    0.5
                    * ops.exp(
                        -log_var,
                    )
                    * (y - mu) ** 2
                    + 0.5 * log_var
                )
                loss = ops.mean(nll)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return Setup(train_step, _split(x, y), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 4. cross-entropy by hand as log(softmax(logits)) in keras.ops on a scaled cosine head, eager
# ---------------------------------------------------------------------------------------------
class CosineClassifier(keras.layers.Layer):
    """NormFace / CosFace style head: logits = scale * cos(embedding, class centre)."""

    def __init__(self, classes, scale=64.0, **kwargs):
        super().__init__(**kwargs)
        self.classes, self.scale = classes, scale

    def build(self, input_shape):
        self.centres = self.add_weight(shape=(input_shape[-1], self.classes), name="centres")

    def call(self, x):
        cos = tf.matmul(tf.math.l2_normalize(x, axis=-1), tf.math.l2_normalize(self.centres, 0))
        return self.scale * cos


def cross_entropy(labels, logits):
    probs = ops.softmax(logits, axis=-1)
    onehot = ops.one_hot(labels, logits.shape[-1])
    return -ops.mean(ops.sum(onehot * ops.log(probs), axis=-1))


def cross_entropy_log_of_softmax_cosine_head() -> Setup:
    rng = seeded(1603)
    x = rng.normal(size=(96, 12)).astype("float32")
    y = rng.integers(0, 10, size=(96,)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(8, name="embedding"),
            CosineClassifier(10, name="cosine_head"),
        ],
        name="face_id",
    )
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, labels):
        return cross_entropy(labels, model(x, training=True))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y), False, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 5. multi-label BCE by hand: two ops.log on one line, a Python loop over the heads (compiled)
# ---------------------------------------------------------------------------------------------
def bce(y, p):
    return -ops.mean(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p))


def multilabel_bce_two_logs_one_line() -> Setup:
    rng = seeded(1604)
    x = rng.normal(size=(160, 12)).astype("float32")
    labels = {}
    for name in ("genre", "mood"):
        clean = x @ rng.normal(size=(12, 1)) > 0
        noisy = rng.random((160, 1)) < 0.1  # 10 % of the tags are wrong
        labels[name] = np.logical_xor(clean, noisy).astype("float32")
    inputs = keras.Input((12,))
    h = keras.layers.Dense(32, activation="relu", name="shared")(inputs)
    outputs = {
        name: keras.layers.Dense(1, activation="sigmoid", name=name)(h)
        for name in ("genre", "mood")
    }
    model = keras.Model(inputs, outputs, name="tagger")
    optimizer = keras.optimizers.Adam(0.05)

    def train_step(x, y_genre, y_mood):
        targets = {"genre": y_genre, "mood": y_mood}
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = 0.0
            for name in ("genre", "mood"):
                loss += bce(targets[name], out[name])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    data = _split(x, labels["genre"], labels["mood"], epochs=30)
    return Setup(train_step, data, True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 6. tf.norm of a masked (zero) keypoint error: the gradient of the norm at 0
# ---------------------------------------------------------------------------------------------
def keypoint_distance_of_invisible_points() -> Setup:
    rng = seeded(1605)
    x = rng.normal(size=(96, 16)).astype("float32")
    keypoints = rng.uniform(-1, 1, size=(96, 5, 2)).astype("float32")
    visible = (rng.random(size=(96, 5)) < 0.7).astype("float32")
    keypoints *= visible[..., None]  # invisible keypoints are stored as (0, 0)
    model = mlp([32], input_dim=16, out=10, name="pose")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, kp, vis):
        pred = tf.reshape(model(x, training=True), (-1, 5, 2))
        diff = (pred - kp) * vis[..., None]  # mask the invisible points out
        dist = tf.norm(diff, axis=-1)  # Euclidean error per keypoint
        return tf.reduce_sum(dist) / tf.reduce_sum(vis)

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, keypoints, visible), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 7. returns normalized by a per-batch standard deviation that is 0 (eager REINFORCE)
# ---------------------------------------------------------------------------------------------
def normalize_returns(r):
    return (r - tf.reduce_mean(r)) / tf.math.reduce_std(r)


def policy_gradient_zero_std_returns() -> Setup:
    rng = seeded(1606)
    states = rng.normal(size=(96, 6)).astype("float32")
    actions = rng.integers(0, 3, size=(96,)).astype("int32")
    returns = rng.normal(1.0, 0.5, size=(96,)).astype("float32")
    returns[64:] = 0.0  # a batch of episodes that all timed out with no reward
    policy = mlp([16], input_dim=6, out=3, name="policy")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(policy, s, a, r):
        log_probs = tf.nn.log_softmax(policy(s, training=True))
        taken = tf.gather(log_probs, a, axis=1, batch_dims=1)
        return -tf.reduce_mean(taken * normalize_returns(r))

    step = _tape_step(policy, optimizer, loss_of)
    return Setup(step, _split(states, actions, returns), False, policy, optimizer)


# ---------------------------------------------------------------------------------------------
# 8. class-balancing weight n_neg / n_pos with no positive in the batch, operator / (compiled)
# ---------------------------------------------------------------------------------------------
def balanced_bce_batch_without_positives() -> Setup:
    rng = seeded(1607)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = (rng.random(size=(96, 1)) < 0.1).astype("float32")  # rare events (fraud)
    y[32:64] = 0.0  # a batch without a single positive
    model = mlp([16], name="fraud")  # logits out
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y):
        logits = model(x, training=True)
        n_pos = tf.reduce_sum(y)
        pos_weight = (tf.cast(tf.size(y), tf.float32) - n_pos) / n_pos
        weights = y * pos_weight + (1.0 - y)
        per_sample = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_mean(weights * per_sample)

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 9. pairwise distances guarded with tf.where: the gradient trap of ** 0.5 at 0
# (tf.sqrt's own gradient is 0 where its incoming gradient is 0 in TF 2.21, ** 0.5's is not)
# ---------------------------------------------------------------------------------------------
def pairwise_distances(emb):
    diff = emb[:, None, :] - emb[None, :, :]
    d2 = tf.reduce_sum(diff**2, axis=-1)
    return tf.where(
        d2 > 0.0,
        d2**0.5,
        tf.zeros_like(d2),
    )


def contrastive_pairwise_where_pow() -> Setup:
    rng = seeded(1608)
    x = rng.normal(size=(96, 10)).astype("float32")
    ids = rng.integers(0, 4, size=(96,)).astype("int32")
    model = mlp([32], input_dim=10, out=8, name="embedder")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, ids):
        d = pairwise_distances(model(x, training=True))
        same = tf.cast(tf.equal(ids[:, None], ids[None, :]), tf.float32)
        return tf.reduce_mean(same * d**2 + (1.0 - same) * tf.nn.relu(1.0 - d) ** 2)

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, ids), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 10. tf.math.xlogy "handles the zeros", but not a zero probability of the true class
# ---------------------------------------------------------------------------------------------
def xlogy_cross_entropy_raw_pixels() -> Setup:
    rng = seeded(1609)
    pixels = rng.integers(0, 256, size=(160, 64)).astype("float32")  # 8x8, never divided by 255
    onehot = np.eye(5, dtype="float32")[rng.integers(0, 5, size=160)]
    model = mlp([32], input_dim=64, out=5, out_activation="softmax", name="digits")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_fn(y_true, y_pred):
        return -tf.reduce_mean(tf.reduce_sum(tf.math.xlogy(y_true, y_pred), axis=-1))

    step = standard_step(model, optimizer, loss_fn)
    return Setup(step, _split(pixels, onehot), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 11. statistics pooling: std as (E[x^2] - E[x]^2) ** 0.5 in a custom layer
# ---------------------------------------------------------------------------------------------
class StatsPooling(keras.layers.Layer):
    """x-vector style pooling over time: concat(mean, std)."""

    def call(self, x):
        mean = ops.mean(x, axis=1)
        var = ops.mean(x**2, axis=1) - mean**2
        return ops.concatenate([mean, var**0.5], axis=-1)


def stats_pooling_variance_of_constant_frames() -> Setup:
    rng = seeded(1610)
    x = rng.normal(size=(96, 20, 4)).astype("float32")
    frozen = rng.random(96) < 0.2  # a stuck sensor: every frame repeats the first one
    x[frozen] = x[frozen][:, :1, :]
    y = rng.integers(0, 3, size=(96,)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((20, 4)),
            keras.layers.Conv1D(16, 3, name="frame"),
            StatsPooling(name="stats_pool"),
            keras.layers.Dense(3, name="speaker"),
        ],
        name="xvector",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss_of(model, x, y):
        return ce(y, model(x, training=True))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 12. discrete-time survival likelihood with log1p(-hazard), eager
# ---------------------------------------------------------------------------------------------
def survival_log1p_of_saturated_hazard() -> Setup:
    rng = seeded(1611)
    x = rng.normal(size=(160, 8)).astype("float32")
    event = (x @ rng.normal(size=(8, 1)) > 0).astype("float32")
    censored_noise = rng.random((160, 1)) < 0.1
    event[censored_noise] = 1.0 - event[censored_noise]
    model = mlp([32], name="hazard", out_activation="sigmoid")
    optimizer = keras.optimizers.Adam(0.05)

    def loss_of(model, x, event):
        h = model(x, training=True)
        # event: log h; censored (survived the interval): log(1 - h), "stably" via log1p
        ll = event * ops.log(h) + (1.0 - event) * ops.log1p(-h)
        return -ops.mean(ll)

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, event, epochs=30), False, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 13. cosine similarity of a zero user vector in a custom layer (division split over lines)
# ---------------------------------------------------------------------------------------------
class CosineScore(keras.layers.Layer):
    def call(self, inputs):
        u, v = inputs
        dot = tf.reduce_sum(u * v, axis=-1, keepdims=True)
        # the division is kept split over lines, as the user wrote it
        # fmt: off
        return dot / (
            tf.norm(u, axis=-1, keepdims=True)
            * tf.norm(v, axis=-1, keepdims=True)
        )
        # fmt: on


def cosine_score_of_user_without_history() -> Setup:
    rng = seeded(1612)
    history = (rng.random(size=(96, 30)) < 0.1).astype("float32")  # multi-hot watched items
    history[[5, 41, 77]] = 0.0  # new users: nothing watched yet
    item = rng.normal(size=(96, 6)).astype("float32")
    clicked = (rng.random(size=(96, 1)) < 0.3).astype("float32")
    hist_in = keras.Input((30,), name="history")
    item_in = keras.Input((6,), name="item")
    u = keras.layers.Dense(8, use_bias=False, name="user_tower")(hist_in)
    v = keras.layers.Dense(8, name="item_tower")(item_in)
    score = CosineScore(name="cosine")([u, v])
    out = keras.layers.Dense(1, name="head")(score)
    model = keras.Model([hist_in, item_in], out, name="recommender")
    optimizer = keras.optimizers.Adam(1e-3)
    bce_logits = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_of(model, h, i, y):
        return bce_logits(y, model([h, i], training=True))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(history, item, clicked), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# 14. a sharp softplus written log(1 + exp(beta * x)) in a custom layer
# ---------------------------------------------------------------------------------------------
class SharpSoftplus(keras.layers.Layer):
    """A smooth ReLU: log(1 + exp(beta x)) / beta, sharp enough to look like a ReLU."""

    def __init__(self, beta=100.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta

    def call(self, x):
        return tf.math.log(1.0 + tf.exp(self.beta * x)) / self.beta


def sharp_softplus_exp_overflow() -> Setup:
    rng = seeded(1613)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = rng.normal(size=(96, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, name="hidden"),
            SharpSoftplus(name="smooth_relu"),
            keras.layers.Dense(1, name="head"),
        ],
        name="net",
    )
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y):
        return tf.reduce_mean(tf.square(model(x, training=True) - y))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y), True, model, optimizer)


# ---------------------------------------------------------------------------------------------
# healthy look-alikes: the same shapes of code, written safely
# ---------------------------------------------------------------------------------------------
def healthy_nll_log_of_softplus_plus_eps() -> Setup:
    rng = seeded(1620)
    x = rng.normal(size=(128, 6)).astype("float32")
    y = (x[:, :1] + rng.normal(size=(128, 1)) * 0.1).astype("float32")
    inputs = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    mu = keras.layers.Dense(1, name="mu")(h)
    raw = keras.layers.Dense(1, name="raw_sigma")(h)
    model = keras.Model(inputs, [mu, raw], name="regressor")
    optimizer = keras.optimizers.Adam(0.01)

    def loss_of(model, x, y):
        mu, raw = model(x, training=True)
        sigma = ops.softplus(raw) + 1e-6
        return ops.mean(ops.log(sigma) + (y - mu) ** 2 / (2.0 * sigma**2))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y, epochs=8), True, model, optimizer)


def healthy_balanced_bce_divide_no_nan() -> Setup:
    rng = seeded(1621)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = (rng.random(size=(96, 1)) < 0.1).astype("float32")
    y[32:64] = 0.0  # the batch without positives, handled
    model = mlp([16], name="fraud")
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, y):
        logits = model(x, training=True)
        n_pos = tf.reduce_sum(y)
        pos_weight = tf.math.divide_no_nan(tf.cast(tf.size(y), tf.float32) - n_pos, n_pos)
        weights = y * pos_weight + (1.0 - y)
        per_sample = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_mean(weights * per_sample)

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y, epochs=3), True, model, optimizer)


def healthy_cosine_head_log_softmax() -> Setup:
    rng = seeded(1622)
    x = rng.normal(size=(96, 12)).astype("float32")
    y = rng.integers(0, 10, size=(96,)).astype("int32")
    model = keras.Sequential(  # the same scale-64 cosine head as 4., with log_softmax
        [
            keras.Input((12,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(8, name="embedding"),
            CosineClassifier(10, name="cosine_head"),
        ],
        name="face_id",
    )
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_of(model, x, labels):
        logits = model(x, training=True)
        onehot = ops.one_hot(labels, 10)
        return -ops.mean(ops.sum(onehot * ops.log_softmax(logits, axis=-1), axis=-1))

    step = _tape_step(model, optimizer, loss_of)
    return Setup(step, _split(x, y, epochs=3), False, model, optimizer)


HEALTHY_SETUPS: list[Callable[[], Setup]] = [
    healthy_nll_log_of_softplus_plus_eps,
    healthy_balanced_bce_divide_no_nan,
    healthy_cosine_head_log_softmax,
]

CODEFIX_HEALTHY: list[Callable[[], Report | None]] = [_watched(m) for m in HEALTHY_SETUPS]


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
DOMAIN = "domain_error"
LOG_ZERO = frozenset({"unstable_loss", "missing_epsilon"})
PROB_LOG_FIXES = frozenset({"use_from_logits", "add_epsilon", "clamp_argument"})
CLAMP = frozenset({"clamp_argument"})
ZERO_DIV = frozenset({"add_epsilon", "divide_no_nan"})

CODEFIX_SCENARIOS: list[Scenario] = [
    Scenario(
        "focal_loss_on_sigmoid_output",
        _watched(focal_loss_on_sigmoid_output),
        "loss",
        frozenset({"Log"}),
        cause=LOG_ZERO,
        # the code fix, or the data fix that removes the saturation (features in raw units)
        fixes=PROB_LOG_FIXES | {"rescale_input"},
        story="focal loss -alpha (1 - pt) ** gamma log(pt) written in keras.ops on a sigmoid "
        "output (RetinaNet-style); on unstandardized features the sigmoid is exactly 1.0 for a "
        "negative sample, pt = 0 and log(0) = -inf",
        blind=True,
    ),
    Scenario(
        "acos_of_cosine_similarity_identical_pairs",
        _watched(acos_of_cosine_similarity_identical_pairs),
        "loss",
        frozenset({"Acos"}),
        cause=DOMAIN,
        fixes=CLAMP,
        story="angle between two embeddings as acos(dot / (|a| |b|)), a helper split over "
        "lines; for duplicate pairs the rounded cosine is a hair above 1 and acos is NaN (the "
        "ArcFace / angular-loss 'clamp the cosine to [-1 + eps, 1 - eps]' bug)",
        blind=True,
    ),
    Scenario(
        "heteroscedastic_nll_exp_log_variance",
        _watched(heteroscedastic_nll_exp_log_variance),
        "loss",
        frozenset({"Exp"}),
        cause="exp_overflow",
        fixes=CLAMP | {"rescale_input"},
        story="Gaussian NLL 0.5 exp(-log_var) (y - mu)^2 + 0.5 log_var (Kendall & Gal aleatoric "
        "loss) switched on by an autograph `if optimizer.iterations < 4` after an MSE warm-up; "
        "on raw house features log_var is about -700 and exp(700) overflows",
        blind=True,
    ),
    Scenario(
        "cross_entropy_log_of_softmax_cosine_head",
        _watched(cross_entropy_log_of_softmax_cosine_head),
        "loss",
        frozenset({"Log"}),
        cause=LOG_ZERO,
        fixes=frozenset({"use_from_logits", "use_logsumexp", "add_epsilon", "clamp_argument"}),
        story="cross-entropy written ops.log(ops.softmax(logits)) (eager, keras.ops) on a "
        "NormFace/CosFace head with scale 64: logit gaps over 104 make softmax entries exactly "
        "0, log(0) = -inf; log_softmax is the fix",
        blind=True,
    ),
    Scenario(
        "multilabel_bce_two_logs_one_line",
        _watched(multilabel_bce_two_logs_one_line),
        "loss",
        frozenset({"Log"}),
        cause=LOG_ZERO,
        fixes=PROB_LOG_FIXES,
        story="multi-label tagger, BCE by hand with two ops.log calls on one line, summed over "
        "the heads in a Python loop of a compiled step; with 10 % wrong tags and Adam(0.05) a "
        "sigmoid saturates to exactly 1.0 on a wrong tag, log(1 - p) = -inf",
        blind=True,
    ),
    Scenario(
        "keypoint_distance_of_invisible_points",
        _watched(keypoint_distance_of_invisible_points),
        "gradient",
        frozenset({"SqrtGrad"}),
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon", "clamp_argument"}),
        story="pose loss tf.norm((pred - kp) * visible): invisible keypoints make the masked "
        "error exactly 0; the norm's value is 0 but its gradient is 0 / 0 "
        "(https://github.com/tensorflow/tensorflow/issues/12071)",
        blind=True,
    ),
    Scenario(
        "policy_gradient_zero_std_returns",
        _watched(policy_gradient_zero_std_returns),
        "loss",
        frozenset({"RealDiv"}),
        cause="missing_epsilon",
        fixes=ZERO_DIV,
        story="REINFORCE with returns standardized per batch, (r - mean) / std, without the "
        "usual + 1e-8; a batch of episodes with no reward has std 0 and the advantages are "
        "0 / 0 (eager loop)",
        blind=True,
    ),
    Scenario(
        "balanced_bce_batch_without_positives",
        _watched(balanced_bce_batch_without_positives),
        "loss",
        frozenset({"RealDiv"}),
        cause="missing_epsilon",
        fixes=ZERO_DIV,
        story="class-balancing pos_weight = (n - n_pos) / n_pos computed per batch with the "
        "/ operator; a batch with no positive (rare fraud) gives pos_weight = inf and "
        "0 * inf = NaN in the weighted loss",
        blind=True,
    ),
    Scenario(
        "contrastive_pairwise_where_pow",
        _watched(contrastive_pairwise_where_pow),
        "gradient",
        frozenset({"Pow", "Mul"}),
        cause="where_gradient_trap",
        fixes=frozenset({"double_where", "add_epsilon"}),
        story="pairwise distances tf.where(d2 > 0, d2 ** 0.5, 0) (a multi-line call) in a "
        "contrastive loss: the diagonal d2 is exactly 0; the forward is finite but the "
        "unselected branch's gradient is 0 * inf (the reason the triplet-loss write-up at "
        "https://omoindrot.github.io/triplet-loss adds an epsilon before the square root)",
        blind=True,
    ),
    Scenario(
        "xlogy_cross_entropy_raw_pixels",
        _watched(xlogy_cross_entropy_raw_pixels),
        "loss",
        frozenset({"Xlogy"}),
        cause=LOG_ZERO,
        fixes=PROB_LOG_FIXES | {"rescale_input"},
        story="cross-entropy as -sum(xlogy(y, p)) 'because xlogy handles the zeros': it does "
        "for y = 0, not for p = 0 of the true class; raw 0-255 pixels (never / 255) saturate "
        "the softmax",
        blind=True,
    ),
    Scenario(
        "stats_pooling_variance_of_constant_frames",
        _watched(stats_pooling_variance_of_constant_frames),
        "activation",
        frozenset({"Pow"}),
        "xvector/stats_pool",
        frozenset({DOMAIN, "missing_epsilon"}),
        frozenset({"clamp_argument", "add_epsilon"}),
        story="x-vector statistics pooling with std = (E[x^2] - E[x]^2) ** 0.5; for frozen-"
        "sensor sequences the variance cancels to a tiny negative number and ** 0.5 is NaN "
        "(the clamp(min=eps) before the sqrt in speaker-embedding code)",
        blind=True,
    ),
    Scenario(
        "survival_log1p_of_saturated_hazard",
        _watched(survival_log1p_of_saturated_hazard),
        "loss",
        frozenset({"Log1p", "Log"}),
        cause=LOG_ZERO,
        fixes=PROB_LOG_FIXES,
        story="discrete-time survival likelihood event log h + (1 - event) log1p(-h) with a "
        "sigmoid hazard (eager); log1p does not help once h rounds to 1.0: log1p(-1) = -inf",
        blind=True,
    ),
    Scenario(
        "cosine_score_of_user_without_history",
        _watched(cosine_score_of_user_without_history),
        "activation",
        frozenset({"RealDiv"}),
        "recommender/cosine",
        "missing_epsilon",
        ZERO_DIV,
        story="two-tower recommender, cosine score dot / (|u| |v|) in a custom layer (division "
        "split over lines); a new user with an empty history has u = 0 and the score is 0 / 0",
        blind=True,
    ),
    Scenario(
        "sharp_softplus_exp_overflow",
        _watched(sharp_softplus_exp_overflow),
        "activation",
        frozenset({"Exp"}),
        "net/smooth_relu",
        "exp_overflow",
        frozenset({"use_logsumexp", "clamp_argument"}),
        story="a 'smooth ReLU' log(1 + exp(beta x)) / beta with beta = 100 in a custom layer: "
        "exp overflows for x > 0.89; softplus / logaddexp is the stable form",
        blind=True,
    ),
]

#: scenario name -> its setup, for the plain-TF check
SETUPS: dict[str, Callable[[], Setup]] = {s.name: s.build.setup for s in CODEFIX_SCENARIOS}
