"""A thirty-second set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

A thirty-second set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules: only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios were read; no git log or diff output of other files, no other blind suite,
and nantrace was never imported or run: each expectation comes from the bug pattern itself
(where a careful ML engineer would say the first non-finite value appears, why, and the first
fix to try), and all ten were written into this file before anything was run. The patterns
come from public reports found with a search over GitHub issues and pull requests and stored
web pages (Q&A threads, library code, tutorials); each story cites them.

Theme: recommendation, ranking, metric learning and reinforcement learning as ordinary users
write them in custom tf.GradientTape loops, one slip each: BPR matrix factorisation with the
loss typed -log(sigmoid(x)); a batch-all triplet loss divided by its count of positive
triplets without the 1e-16; AdaCos' adaptive scale without its min(pi / 4, theta_med) cap; DQN
with illegal actions masked by q + log(mask) (no float32.min clamp) meeting terminal states
without a legal move, (1 - done) * -inf; a REINFORCE Gaussian policy whose std is a raw
trainable variable; an AFN click-through-rate model whose logarithmic feature-cross layer
takes log of signed embeddings (abs / clamp left out); linear Q-learning on tile codes at the
tabular step size (alpha not divided by the number of tilings); a batched WARP loss with
log(rank) and no max(1, rank); unbiased learning-to-rank with inverse-propensity weights for
positions a randomisation experiment never covered (numpy 0 / 0); and an off-policy REINFORCE
recommender with log(softmax) and rewards of -1. Where the pattern does not determine a field
it is None (the tile-coding run's kind, the AdaCos and DQN causes); fix ids are only those of
the design notes' taxonomy, and the set is empty where none of them is the first fix a careful
engineer would try (restore the AdaCos cap, clamp or mask the DQN target, learn log_std, abs
and clamp before AFN's log).

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights, and at which step) and, with
tf.debugging.enable_check_numerics (plain TF, the step compiled as the scenario runs it),
which op first produces a non-finite value, in a throwaway script outside the repository that
stands in plain-TF versions of the loop helpers and asserts that nantrace was never imported.
No expectation field (kind, op types, layer, cause, fixes) was changed after that check, and
no pattern was dropped. What the check showed: BPR (after the change below) loss 0.69 to ~1.4,
inf at step 311 with the gradients and weights non-finite; first op the loss's Log (sigmoid
underflowed to 0). Batch-all triplet: loss 0.12 at step 0, NaN at step 8; first op the
truediv (RealDiv, 0 / 0). AdaCos: loss 116 at step 0 (the scale jumped), NaN at step 1; first
op the head's Exp in B_avg at step 1. DQN: NaN at step 0; first op the Log of the action mask
(-inf, as the pattern intends), the Mul 0 * -inf giving the NaN after it. Raw-std Gaussian
policy: loss -0.68 to -0.96, NaN at step 83 while the gradients and weights were still finite;
first op the Log of the std at step 83. AFN: at step 0 the loss is finite (0.693: the ReLU
after the crosses maps the NaN to 0) while the gradients and then the weights are NaN; first
op the logarithmic layer's Log at step 0. Tile coding: loss 1, 7e9 at step 50, 1e21 at step
150, inf at step 183 while that step's gradients and weights were finite; with check_numerics
the first flagged op is the backward Mul of the q * one_hot product at step 182. WARP: loss 67
falling to 32, NaN at step 101 (gradients and weights finite); first op the Log of the rank
at step 101. IPS: the first batch's sample weights hold NaN, loss NaN at step 0
(check_numerics, which does not check inputs, flags the binary cross-entropy's Mul with the
weights). REINFORCE recommender: loss -2.4 at step 0, -inf at step 40 with gradients and
weights non-finite; first op the Log of the softmax probability at step 40.
Constructions changed after the first check (expectation fields untouched): the BPR model
first used Embedding(32), Adam(0.01) and 12 passes (then also two-layer towers with
Adam(0.01) and Adam(0.05)), all of which stayed finite over ~550 steps (the most negative
score difference reached about -2 to -40); it now uses Embedding(64), Adam(0.1) (the NGCF
thread's reports were cured by a lower rate) and 30 passes, and trips at step 311. The AFN
layer's final reshape was fixed (it first used a dynamic size Keras could not build the next
Dense from), not its log.
Caveats: the DQN scenario accepts both the Log that makes the mask's -inf and the Mul where
the NaN appears (the -inf is intended by the pattern, the NaN is the failure); the tile-coding
scenario leaves kind and op open (the loss, the backward and the weights overflow within one
or two steps of each other); the BPR trip needs a high learning rate on top of the unstable
loss, so a lower rate postpones it; the IPS scenario's NaN is computed with numpy's 0 / 0
under np.errstate(invalid='ignore') (numpy would otherwise only warn).

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    run_loop,
    seeded,
)
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. BPR matrix factorisation with the loss written -log(sigmoid(x_uij))
# ---------------------------------------------------------------------------------------------
def bpr_loss_written_as_log_of_sigmoid():
    """Implicit-feedback matrix factorisation (user and item Embedding(64), score = dot
    product, no regularisation) trained with BPR on (user, positive, sampled negative)
    triples, the negatives drawn uniformly from the whole catalogue (so some are items the
    user likes), and one positive in ten a stray click outside the user's tastes, at a high
    rate, Adam(0.1) (the NGCF thread's advice was a lower rate). The loss is the paper's
    formula typed as -mean(log(sigmoid(s_ui - s_uj))). Without regularisation the
    embeddings keep growing; a stray positive scored against a liked 'negative' soon has
    s_ui - s_uj below about -88, sigmoid underflows to exactly 0 and log(0) = -inf in the
    loss (log_sigmoid / softplus(-x) is the stable form). Construction changed after the
    check: first Embedding(32), Adam(0.01) and 12 passes, which stayed finite."""
    rng = seeded(3200)
    n_users, n_items, n_genres, dim = 400, 800, 12, 64
    item_genre = rng.integers(0, n_genres, size=n_items)
    users, positives = [], []
    for u in range(n_users):
        tastes = rng.choice(n_genres, size=2, replace=False)
        liked = np.flatnonzero(np.isin(item_genre, tastes))
        picks = rng.choice(liked, size=27, replace=False)
        strays = rng.integers(0, n_items, size=3)
        for i in np.concatenate([picks, strays]):
            users.append(u)
            positives.append(i)
    users = np.array(users, dtype="int32")
    positives = np.array(positives, dtype="int32")

    user_in = keras.Input((), dtype="int32", name="user")
    pos_in = keras.Input((), dtype="int32", name="pos_item")
    neg_in = keras.Input((), dtype="int32", name="neg_item")
    user_emb = keras.layers.Embedding(n_users, dim, name="user_embedding")(user_in)
    item_table = keras.layers.Embedding(n_items, dim, name="item_embedding")
    pos_score = keras.ops.sum(user_emb * item_table(pos_in), axis=-1)
    neg_score = keras.ops.sum(user_emb * item_table(neg_in), axis=-1)
    model = keras.Model([user_in, pos_in, neg_in], pos_score - neg_score, name="bpr_mf")

    def bpr_loss(model, u, i, j):
        x_uij = model([u, i, j], training=True)
        return -tf.reduce_mean(tf.math.log(tf.sigmoid(x_uij)))

    data = []
    for _ in range(30):
        order = rng.permutation(len(users))
        negatives = rng.integers(0, n_items, size=len(users)).astype("int32")
        for start in range(0, len(order) - 255, 256):
            idx = order[start : start + 256]
            data.append(
                (tf.constant(users[idx]), tf.constant(positives[idx]), tf.constant(negatives[idx]))
            )
    optimizer = keras.optimizers.Adam(0.1)
    return run_loop(
        _custom_step(model, optimizer, bpr_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 2. batch-all triplet loss averaged over the positive triplets, without the 1e-16
# ---------------------------------------------------------------------------------------------
def batch_all_triplet_loss_averaged_over_no_positive_triplets():
    """Product-embedding model (an MLP on 24 catalogue features -> 32-d, L2-normalised with
    tf.math.l2_normalize) for 'similar items', trained with the batch-all triplet loss of the
    popular TensorFlow write-up: every valid (anchor, positive, negative) in the batch,
    relu(d_ap - d_an + 0.2) on squared distances, averaged over the triplets that are still
    positive. The port divides by num_positive_triplets without the reference's + 1e-16. The
    eight product categories separate cleanly; once every triplet of a batch satisfies the
    margin, the sum is 0 and so is the count: 0 / 0 = NaN in the loss (an epsilon in the
    count, or divide_no_nan)."""
    rng = seeded(3201)
    n, dim, classes = 6144, 24, 8
    centres = rng.normal(scale=3.0, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(64, activation="relu", name="hidden0")(inputs)
    h = keras.layers.Dense(32, name="projection")(h)
    outputs = keras.layers.Lambda(lambda t: tf.math.l2_normalize(t, axis=1), name="l2_norm")(h)
    model = keras.Model(inputs, outputs, name="product_embedder")

    def batch_all_triplet_loss(model, x, y):
        e = model(x, training=True)
        dot = tf.matmul(e, e, transpose_b=True)
        sq = tf.linalg.diag_part(dot)
        d = tf.maximum(sq[:, None] - 2.0 * dot + sq[None, :], 0.0)
        same = tf.equal(y[:, None], y[None, :])
        not_self = tf.logical_not(tf.eye(tf.shape(y)[0], dtype=tf.bool))
        pos_pair = tf.logical_and(same, not_self)
        neg_pair = tf.logical_not(same)
        valid = tf.logical_and(pos_pair[:, :, None], neg_pair[:, None, :])
        triplet = d[:, :, None] - d[:, None, :] + 0.2
        triplet = tf.maximum(triplet * tf.cast(valid, tf.float32), 0.0)
        num_positive = tf.reduce_sum(tf.cast(triplet > 1e-16, tf.float32))
        return tf.reduce_sum(triplet) / num_positive  # reference: / (num_positive + 1e-16)

    data = []
    for _ in range(4):
        order = rng.permutation(n)
        for start in range(0, n, 64):
            idx = order[start : start + 64]
            data.append((tf.constant(x[idx]), tf.constant(labels[idx].astype("int32"))))
    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, batch_all_triplet_loss),
        data,
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 3. AdaCos' dynamic scale ported without its min(pi / 4, theta_med) cap
# ---------------------------------------------------------------------------------------------
class AdaCos(keras.layers.Layer):
    """AdaCos head: cosine logits times an adaptive scale s, updated in the forward pass as
    s = log(B_avg) / cos(theta_med), with B_avg the batch's mean sum of exp(s cos) over the
    non-target classes and theta_med the median target angle. The reference caps the angle,
    cos(min(pi / 4, theta_med)); this port left the cap out."""

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def build(self, input_shape):
        dim = input_shape[0][-1]
        self.w = self.add_weight(shape=(dim, self.num_classes), name="class_weights")
        self.scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(
                math.sqrt(2.0) * math.log(self.num_classes - 1)
            ),
            trainable=False,
            name="scale",
        )

    def call(self, inputs):
        x, y = inputs
        cos = tf.matmul(tf.math.l2_normalize(x, axis=1), tf.math.l2_normalize(self.w, axis=0))
        theta = tf.acos(tf.clip_by_value(cos, -1.0 + 1e-7, 1.0 - 1e-7))
        one_hot = tf.one_hot(tf.cast(y, tf.int32), self.num_classes)
        b_avg = tf.where(one_hot < 1.0, tf.exp(self.scale * cos), tf.zeros_like(cos))
        b_avg = tf.reduce_sum(b_avg) / tf.cast(tf.shape(x)[0], tf.float32)
        theta_true = tf.sort(tf.reduce_sum(theta * one_hot, axis=1))
        theta_med = theta_true[tf.shape(theta_true)[0] // 2]
        new_scale = tf.stop_gradient(tf.math.log(b_avg) / tf.cos(theta_med))
        self.scale.assign(new_scale)
        return new_scale * cos


def adacos_dynamic_scale_without_its_quarter_pi_cap():
    """Item-image retrieval embeddings (an MLP on 48 image-descriptor features -> 64-d)
    trained as a 100-class classifier through an AdaCos head, whose scale is not a
    hyperparameter but recomputed in every forward pass as s = log(B_avg) / cos(theta_med).
    The Keras port dropped the reference's min(pi / 4, theta_med): at initialization the
    embeddings are nearly orthogonal to the class weights, the median target angle is within
    a hair of pi / 2, cos(theta_med) is ~0.01 and s jumps from 6.5 to hundreds (either
    sign); at the next step exp(s * cos) in B_avg overflows to inf inside the head and the
    logits follow (restore the cap on the angle)."""
    rng = seeded(3202)
    n, dim, classes = 8192, 48, 100
    centres = rng.normal(size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    features = keras.Input((dim,), name="descriptor")
    label_in = keras.Input((), dtype="int32", name="label")
    h = keras.layers.Dense(128, activation="relu", name="hidden0")(features)
    e = keras.layers.Dense(64, name="embedding")(h)
    logits = AdaCos(classes, name="adacos")([e, label_in])
    model = keras.Model([features, label_in], logits, name="adacos_retrieval")
    sce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def adacos_loss(model, x, y):
        return sce(y, model([x, y], training=True))

    data = [
        (tf.constant(x[s : s + 128]), tf.constant(labels[s : s + 128].astype("int32")))
        for s in range(0, n, 128)
    ]
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    return run_loop(
        _custom_step(model, optimizer, adacos_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 4. DQN with illegal actions masked by log(mask), terminal next states without legal moves
# ---------------------------------------------------------------------------------------------
def dqn_log_action_mask_on_terminal_next_states():
    """DQN (MLP Q-network, a target network, Huber loss, Adam) for a 12-slot picking game:
    each step the agent takes one free slot and scores its value; the episode ends when every
    slot is taken. Illegal actions are masked as in RLlib's action-masking example,
    q + log(mask), but without its tf.maximum(..., tf.float32.min) clamp, also in the TD
    target: max_a' (q_target(s') + log(mask')). A terminal next state has no legal move,
    every entry of its row is -inf and the max is -inf; the done flag was meant to drop it,
    r + gamma * (1 - done) * max, but 0 * -inf = NaN in the target of every terminal
    transition, at the first batch (a finite mask value, or tf.where(done, r, ...))."""
    rng = seeded(3203)
    slots, episodes = 12, 600
    states, actions, rewards, next_states, next_masks, dones = [], [], [], [], [], []
    for _ in range(episodes):
        values = rng.uniform(0.0, 1.0, size=slots)
        free = np.ones(slots)
        for _t in range(slots):
            state = np.concatenate([values * free, free])
            a = rng.choice(np.flatnonzero(free))
            free_next = free.copy()
            free_next[a] = 0.0
            states.append(state)
            actions.append(a)
            rewards.append(values[a])
            next_states.append(np.concatenate([values * free_next, free_next]))
            next_masks.append(free_next)
            dones.append(float(free_next.sum() == 0))
            free = free_next
    arrays = [
        np.array(states, dtype="float32"),
        np.array(actions, dtype="int32"),
        np.array(rewards, dtype="float32"),
        np.array(next_states, dtype="float32"),
        np.array(next_masks, dtype="float32"),
        np.array(dones, dtype="float32"),
    ]

    def q_network(name):
        return keras.Sequential(
            [
                keras.Input((2 * slots,)),
                keras.layers.Dense(64, activation="relu", name="hidden0"),
                keras.layers.Dense(64, activation="relu", name="hidden1"),
                keras.layers.Dense(slots, name="q_values"),
            ],
            name=name,
        )

    model = q_network("q_net")
    target = q_network("target_q_net")
    target.set_weights(model.get_weights())  # synced every 1000 steps, not within this run
    huber = keras.losses.Huber()
    gamma = 0.99

    def td_loss(model, s, a, r, s_next, mask_next, done):
        q_sa = tf.reduce_sum(model(s, training=True) * tf.one_hot(a, slots), axis=1)
        q_next = target(s_next) + tf.math.log(mask_next)  # RLlib clamps at tf.float32.min
        max_next = tf.reduce_max(q_next, axis=1)
        y = r + gamma * (1.0 - done) * max_next
        return huber(tf.stop_gradient(y), q_sa)

    data = []
    for _ in range(200):
        idx = rng.integers(0, len(arrays[0]), size=64)
        data.append(tuple(tf.constant(arr[idx]) for arr in arrays))
    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(_custom_step(model, optimizer, td_loss), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 5. a Gaussian policy whose standard deviation is a raw trainable variable
# ---------------------------------------------------------------------------------------------
class GaussianHead(keras.layers.Layer):
    """Mean from a Dense layer; the standard deviation a free trainable vector started at 1.0
    (rsl_rl's std_type='scalar', nn.Parameter(init_std * torch.ones(n))), not log_std."""

    def __init__(self, action_dim, **kwargs):
        super().__init__(**kwargs)
        self.action_dim = action_dim

    def build(self, input_shape):
        self.mean_layer = keras.layers.Dense(self.action_dim, name="mean")
        self.mean_layer.build(input_shape)
        self.std = self.add_weight(
            shape=(self.action_dim,), initializer=keras.initializers.Constant(1.0), name="std"
        )

    def call(self, h):
        mu = self.mean_layer(h)
        return mu, tf.broadcast_to(self.std, tf.shape(mu))


def gaussian_policy_with_its_std_as_a_raw_variable():
    """A bid-shading policy (contextual bandit: 10 auction features -> a 2-d continuous
    action, reward -(a - a*)^2 for an unknown best action a*) trained by REINFORCE with a
    batch-mean baseline and normalised advantages, Adam(0.01) as in the keras.io actor-critic
    example. The Gaussian policy keeps its standard deviation as a raw trainable vector
    started at 1.0 instead of a log-std. Once the mean is close to a*, the gradient shrinks
    the spread at every step, Adam's steps keep their size while the std approaches 0, and
    one update pushes it below 0: the log-probability's log(std) is the log of a negative
    number, NaN in the loss (learn log_std and exponentiate it, or softplus)."""
    rng = seeded(3204)
    n, dim, act = 32768, 10, 2
    w_star = rng.normal(size=(dim, act)) / np.sqrt(dim)
    states = rng.normal(size=(n, dim)).astype("float32")
    a_star = np.tanh(states @ w_star).astype("float32")
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(64, activation="tanh", name="hidden0")(inputs)
    h = keras.layers.Dense(64, activation="tanh", name="hidden1")(h)
    mu, std = GaussianHead(act, name="gaussian_head")(h)
    model = keras.Model(inputs, [mu, std], name="bid_policy")

    def reinforce_loss(model, s, best):
        mu, std = model(s, training=True)
        action = tf.stop_gradient(mu + std * tf.random.normal(tf.shape(mu)))
        reward = -tf.reduce_sum(tf.square(action - best), axis=1)
        advantage = (reward - tf.reduce_mean(reward)) / (tf.math.reduce_std(reward) + 1e-8)
        z = (action - mu) / std
        log_prob = tf.reduce_sum(
            -0.5 * tf.square(z) - tf.math.log(std) - 0.5 * math.log(2.0 * math.pi), axis=1
        )
        return -tf.reduce_mean(tf.stop_gradient(advantage) * log_prob)

    data = []
    for _ in range(5):
        order = rng.permutation(n)
        for start in range(0, n, 256):
            idx = order[start : start + 256]
            data.append((tf.constant(states[idx]), tf.constant(a_star[idx])))
    optimizer = keras.optimizers.Adam(0.01)
    return run_loop(
        _custom_step(model, optimizer, reinforce_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 6. AFN's logarithmic transformation layer ported without abs / clamp
# ---------------------------------------------------------------------------------------------
class LogarithmicTransformation(keras.layers.Layer):
    """AFN's logarithmic neurons: exp(W^T log(e)) over the fields, which learns feature
    crosses of arbitrary order. The reference implementations take clamp(abs(e), min=1e-7)
    first; this port typed the paper's formula, log of the raw embeddings."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[1], self.units),
            initializer=keras.initializers.RandomNormal(stddev=0.1),
            name="log_neurons",
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, e):
        log_e = tf.math.log(tf.transpose(e, [0, 2, 1]))  # (batch, dim, fields)
        crosses = tf.exp(tf.matmul(log_e, self.w) + self.b)  # (batch, dim, units)
        return tf.reshape(crosses, [-1, e.shape[2] * self.units])


def afn_logarithmic_crosses_of_signed_embeddings():
    """A click-through-rate model in the style of AFN (Adaptive Factorization Network): ten
    categorical ad / user fields, each an Embedding(8), stacked to (batch, 10, 8), a
    logarithmic transformation layer that learns multiplicative feature crosses as
    exp(W^T log(e)), an MLP and a logit, BCE from logits. The port typed log(e) from the
    paper, which assumes positive inputs, and dropped the clamp(abs(e), min=1e-7) of the
    public implementations: Keras' embeddings start uniform in [-0.05, 0.05], half of them
    negative, and log of a negative number is NaN inside the layer at the first step (abs and
    a clamp before the log)."""
    rng = seeded(3205)
    n, fields, vocab = 8192, 10, 50
    ids = rng.integers(0, vocab, size=(n, fields)).astype("int32")
    effects = rng.normal(scale=0.5, size=(fields, vocab))
    logit = effects[np.arange(fields), ids].sum(axis=1) - 1.5
    clicks = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    inputs = keras.Input((fields,), dtype="int32")
    e = keras.layers.Embedding(vocab, 8, name="field_embedding")(inputs)
    h = LogarithmicTransformation(16, name="logarithmic_transformation")(e)
    h = keras.layers.Dense(64, activation="relu", name="hidden0")(h)
    outputs = keras.layers.Dense(1, name="click_logit")(h)
    model = keras.Model(inputs, outputs, name="afn_ctr")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def ctr_loss(model, x, y):
        return bce(y, model(x, training=True))

    data = [
        (tf.constant(ids[s : s + 256]), tf.constant(clicks[s : s + 256])) for s in range(0, n, 256)
    ]
    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, ctr_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 7. linear Q-learning on tile codes at the tabular step size (alpha not divided by tilings)
# ---------------------------------------------------------------------------------------------
def _mountain_car_tiles(position, velocity, tilings=8, tiles=8):
    p = (position + 1.2) / 1.7 * tiles
    v = (velocity + 0.07) / 0.14 * tiles
    active = []
    for t in range(tilings):
        offset = t / tilings
        ip = min(int(np.floor(p + offset)), tiles)
        iv = min(int(np.floor(v + offset)), tiles)
        active.append(t * (tiles + 1) ** 2 + ip * (tiles + 1) + iv)
    return active


def tile_coded_q_learning_at_the_tabular_step_size():
    """Mountain-car Q-learning with a linear Q-function on tile codes (8 tilings of 8 x 8
    tiles, 648 binary features, Dense(3, use_bias=False) started at zero), updated online
    one transition at a time from an exploratory behaviour's trajectory, squared TD error
    against r + max_a' Q(s', a') (gamma = 1), as in Sutton & Barto's example. Their step
    size is 0.5 / 8, per tiling; the Keras port used SGD(learning_rate=0.5): with 8 active
    features (and the factor 2 of the squared error) each update moves Q(s, a) by about
    eight times the TD error instead of half of it, every update overshoots, the errors grow
    geometrically and the weights, Q-values and loss reach inf / NaN within a few dozen
    updates (alpha / number of tilings: a much lower learning rate)."""
    rng = seeded(3206)
    n_features, n_actions = 8 * 9 * 9, 3
    position, velocity = rng.uniform(-0.6, -0.4), 0.0
    action = 1
    data = []
    for _ in range(400):
        if rng.random() < 0.2:
            action = int(rng.integers(0, n_actions))
        phi = np.zeros(n_features, dtype="float32")
        phi[_mountain_car_tiles(position, velocity)] = 1.0
        velocity = float(
            np.clip(velocity + 0.001 * (action - 1) - 0.0025 * np.cos(3 * position), -0.07, 0.07)
        )
        position = float(np.clip(position + velocity, -1.2, 0.5))
        if position <= -1.2:
            velocity = 0.0
        done = float(position >= 0.5)
        phi_next = np.zeros(n_features, dtype="float32")
        phi_next[_mountain_car_tiles(position, velocity)] = 1.0
        data.append(
            (
                tf.constant(phi[None]),
                tf.constant([action], dtype=tf.int32),
                tf.constant([-1.0]),
                tf.constant(phi_next[None]),
                tf.constant([done]),
            )
        )
        if done:
            position, velocity = rng.uniform(-0.6, -0.4), 0.0
    model = keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(
                n_actions, use_bias=False, kernel_initializer="zeros", name="q_values"
            ),
        ],
        name="tile_coded_q",
    )
    mse = keras.losses.MeanSquaredError()

    def q_learning_loss(model, phi, a, r, phi_next, done):
        q_sa = tf.reduce_sum(model(phi, training=True) * tf.one_hot(a, n_actions), axis=1)
        target = r + (1.0 - done) * tf.reduce_max(model(phi_next), axis=1)
        return mse(tf.stop_gradient(target), q_sa)

    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    return run_loop(
        _custom_step(model, optimizer, q_learning_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 8. a batched WARP loss whose rank weight is log(rank), rank 0 when nothing violates
# ---------------------------------------------------------------------------------------------
def warp_rank_weight_log_of_zero_violators():
    """Implicit-feedback MF (user / item Embedding(32), dot-product scores) trained with a
    batched WARP loss: for each (user, positive) ten sampled negatives, the margin
    violations 1 - s_pos + s_neg, the rank estimated as floor((n_items - 1) * violators / 10)
    and the WSABIE weight Phi(rank) ~ log(rank) times the summed hinge. LightFM guards it,
    log(max(1, rank)); the port did not. At first every negative violates the margin, but as
    positives move a margin above their sampled negatives some rows have no violator: rank
    0, log(0) = -inf in the loss's weight, times a hinge of 0 = NaN (log(1 + rank) or the
    max(1, .) guard)."""
    rng = seeded(3207)
    n_users, n_items, n_genres, dim, k = 400, 800, 16, 32, 10
    item_genre = rng.integers(0, n_genres, size=n_items)
    users, positives = [], []
    for u in range(n_users):
        tastes = rng.choice(n_genres, size=2, replace=False)
        liked = np.flatnonzero(np.isin(item_genre, tastes))
        for i in rng.choice(liked, size=25, replace=False):
            users.append(u)
            positives.append(i)
    users = np.array(users, dtype="int32")
    positives = np.array(positives, dtype="int32")
    user_in = keras.Input((), dtype="int32")
    item_in = keras.Input((None,), dtype="int32")
    user_emb = keras.layers.Embedding(n_users, dim, name="user_embedding")(user_in)
    item_emb = keras.layers.Embedding(n_items, dim, name="item_embedding")(item_in)
    scores = keras.ops.einsum("bd,bkd->bk", user_emb, item_emb)
    model = keras.Model([user_in, item_in], scores, name="warp_mf")

    def warp_loss(model, u, items):
        s = model([u, items], training=True)
        hinge = tf.maximum(1.0 - s[:, :1] + s[:, 1:], 0.0)
        violators = tf.reduce_sum(tf.cast(hinge > 0.0, tf.float32), axis=1)
        rank = tf.floor((n_items - 1) * violators / k)
        weight = tf.stop_gradient(tf.math.log(rank))  # LightFM: log(max(1.0, rank))
        return tf.reduce_mean(weight * tf.reduce_sum(hinge, axis=1))

    data = []
    for _ in range(15):
        order = rng.permutation(len(users))
        for start in range(0, len(order) - 255, 256):
            idx = order[start : start + 256]
            negatives = rng.integers(0, n_items, size=(len(idx), k))
            items = np.concatenate([positives[idx, None], negatives], axis=1).astype("int32")
            data.append((tf.constant(users[idx]), tf.constant(items)))
    optimizer = keras.optimizers.Adam(5e-3)
    return run_loop(
        _custom_step(model, optimizer, warp_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 9. inverse-propensity weights for positions the randomisation experiment never covered
# ---------------------------------------------------------------------------------------------
def ips_weights_for_positions_outside_the_randomized_top_ten():
    """Unbiased learning-to-rank from clicks: a pointwise ranker (an MLP on 16 query-document
    features, BCE from logits) trained on a click log of 20-result pages, each clicked row
    weighted by the inverse of its position's examination propensity. The propensities
    were estimated, per position, as click-through rate / click-through rate at position 1
    from a result-randomisation experiment that swapped only the top 10 results; the
    estimate was computed with numpy over all 20 positions, where positions 11-20 had no
    impression in the experiment: 0 / 0 = NaN propensity, NaN weight on every click logged
    at positions 11-20, in the batches' sample weights before any op runs (drop those rows,
    or extrapolate the propensity curve)."""
    rng = seeded(3208)
    n_pages, per_page, dim = 600, 20, 16
    w = rng.normal(size=dim) / np.sqrt(dim)
    x = rng.normal(size=(n_pages * per_page, dim)).astype("float32")
    relevance = 1.0 / (1.0 + np.exp(-3.0 * (x @ w)))
    position = np.tile(np.arange(per_page), n_pages)
    examined = rng.random(len(x)) < 1.0 / (1.0 + position)
    clicks = (examined & (rng.random(len(x)) < relevance)).astype("float32")
    # result-randomisation experiment: only positions 1-10 were swapped and logged
    exp_impressions = np.zeros(per_page)
    exp_clicks = np.zeros(per_page)
    exp_impressions[:10] = 5000
    exp_clicks[:10] = rng.binomial(5000, 0.5 / (1.0 + np.arange(10)))
    with np.errstate(invalid="ignore"):
        ctr = exp_clicks / exp_impressions
    propensity = ctr / ctr[0]
    weights = np.where(clicks > 0, 1.0 / propensity[position], 1.0).astype("float32")
    order = rng.permutation(len(x))
    x, clicks, weights = x[order], clicks[order].reshape(-1, 1), weights[order]
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="score"),
        ],
        name="ips_ranker",
    )
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def ips_loss(model, x, y, sample_weight):
        return bce(y, model(x, training=True), sample_weight=sample_weight)

    data = [
        (
            tf.constant(x[s : s + 256]),
            tf.constant(clicks[s : s + 256]),
            tf.constant(weights[s : s + 256]),
        )
        for s in range(0, len(x), 256)
    ]
    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, ips_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 10. an off-policy REINFORCE recommender with log(softmax) and negative logged rewards
# ---------------------------------------------------------------------------------------------
def reinforce_recommender_log_of_softmax_with_negative_rewards():
    """A REINFORCE recommender (YouTube-style softmax policy over 300 items: an MLP on 16
    user-context features -> 300 logits) trained on logged recommendations of the
    production system with rewards +1 (watched) and -1 (skipped / disliked), the loss
    -mean(reward * log(softmax(logits)[item])) written as in many policy-gradient tutorials,
    Adam(0.01). For a logged item with reward -1 the loss keeps falling as its probability
    goes to 0 (the loss is unbounded below), the items skipped everywhere are pushed down
    without limit, their softmax probability underflows to exactly 0 and log(0) = -inf in
    the loss within some hundred steps (log_softmax / sparse cross-entropy from logits with
    the reward as sample weight)."""
    rng = seeded(3209)
    n, dim, items = 32768, 16, 300
    context = rng.normal(size=(n, dim)).astype("float32")
    taste = rng.normal(size=(dim, items)) / np.sqrt(dim)
    clickbait = rng.random(items) < 0.15
    logging_scores = rng.normal(size=items) + 1.5 * clickbait
    logging_p = np.exp(logging_scores) / np.exp(logging_scores).sum()
    logged = rng.choice(items, size=n, p=logging_p).astype("int32")
    affinity = np.einsum("nd,dn->n", context, taste[:, logged])
    watched = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * affinity))) & ~clickbait[logged]
    reward = np.where(watched, 1.0, -1.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(items, name="item_logits"),
        ],
        name="reinforce_recommender",
    )

    def reinforce_loss(model, s, a, r):
        probs = tf.nn.softmax(model(s, training=True))
        log_prob = tf.math.log(tf.reduce_sum(probs * tf.one_hot(a, items), axis=1))
        return -tf.reduce_mean(r * log_prob)

    data = []
    for _ in range(3):
        order = rng.permutation(n)
        for start in range(0, n, 256):
            idx = order[start : start + 256]
            data.append(
                (tf.constant(context[idx]), tf.constant(logged[idx]), tf.constant(reward[idx]))
            )
    optimizer = keras.optimizers.Adam(0.01)
    return run_loop(
        _custom_step(model, optimizer, reinforce_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND32_SCENARIOS: list[Scenario] = [
    Scenario(
        "bpr_loss_written_as_log_of_sigmoid",
        bpr_loss_written_as_log_of_sigmoid,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits"}),
        story="implicit-feedback matrix factorisation trained with BPR written "
        "-log(sigmoid(s_ui - s_uj)) and no regularisation: the embeddings grow, a badly ranked "
        "triple's sigmoid underflows to 0 and log(0) = -inf; tf.nn.softplus(-x) / log_sigmoid "
        "is the stable form "
        "(https://github.com/xiangwang1223/neural_graph_collaborative_filtering/issues/17, "
        "https://github.com/xiangwang1223/neural_graph_collaborative_filtering/issues/43, "
        "https://github.com/maciejkula/triplet_recommendations_keras/issues/1, "
        "https://github.com/tanatosuu/GDE/pull/2)",
        blind=True,
    ),
    Scenario(
        "batch_all_triplet_loss_averaged_over_no_positive_triplets",
        batch_all_triplet_loss_averaged_over_no_positive_triplets,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a batch-all triplet loss averaged over the positive triplets, divided by their "
        "count without the reference's + 1e-16: a batch whose triplets all satisfy the margin "
        "gives 0 / 0 = NaN (https://github.com/tensorflow/addons/issues/2447, "
        "https://github.com/AdrianUng/keras-triplet-loss-mnist/issues/2, "
        "https://github.com/KevinMusgrave/pytorch-metric-learning/issues/107, "
        "https://github.com/omoindrot/tensorflow-triplet-loss/issues/51)",
        blind=True,
    ),
    Scenario(
        "adacos_dynamic_scale_without_its_quarter_pi_cap",
        adacos_dynamic_scale_without_its_quarter_pi_cap,
        "activation",
        frozenset({"Exp"}),
        "adacos_retrieval/adacos",
        None,
        frozenset(),
        story="AdaCos' dynamic scale s = log(B_avg) / cos(theta_med) ported without the "
        "min(pi / 4, theta_med) cap: at initialization theta_med ~ pi / 2, s jumps to hundreds "
        "and exp(s cos) in B_avg overflows inside the head at the next step "
        "(https://github.com/4uiiurz1/pytorch-adacos/issues/6, "
        "https://github.com/4uiiurz1/pytorch-adacos/issues/13, "
        "https://github.com/pyannote/pyannote-audio/pull/366)",
        blind=True,
    ),
    Scenario(
        "dqn_log_action_mask_on_terminal_next_states",
        dqn_log_action_mask_on_terminal_next_states,
        "loss",
        frozenset({"Log", "Mul"}),
        None,
        None,
        frozenset(),
        story="DQN with illegal actions masked by q + log(mask) (RLlib's example without its "
        "tf.float32.min clamp) in the TD target: a terminal next state has no legal move, its "
        "max is -inf and (1 - done) * max = 0 * -inf = NaN "
        "(https://github.com/ray-project/ray/issues/47537, "
        "https://github.com/thu-ml/tianshou/issues/309, "
        "https://github.com/thu-ml/tianshou/issues/222, "
        "https://github.com/anthonytorlucci/rlevo/issues/357, "
        "https://github.com/anthonytorlucci/rlevo/pull/1074)",
        blind=True,
    ),
    Scenario(
        "gaussian_policy_with_its_std_as_a_raw_variable",
        gaussian_policy_with_its_std_as_a_raw_variable,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="a REINFORCE Gaussian policy whose standard deviation is a raw trainable "
        "variable (not log_std): as the policy converges Adam pushes it below 0 and log(std) "
        "in the log-probability is NaN "
        "(https://github.com/leggedrobotics/rsl_rl/pull/190, "
        "https://github.com/amazon-far/holosoma/issues/25, "
        "https://github.com/anthonytorlucci/rlevo/issues/173, "
        "https://github.com/leggedrobotics/rsl_rl/issues/33)",
        blind=True,
    ),
    Scenario(
        "afn_logarithmic_crosses_of_signed_embeddings",
        afn_logarithmic_crosses_of_signed_embeddings,
        "activation",
        frozenset({"Log"}),
        "afn_ctr/logarithmic_transformation",
        "domain_error",
        frozenset(),
        story="an AFN-style CTR model whose logarithmic transformation layer takes log of the "
        "raw (signed) field embeddings, the reference's clamp(abs(e), min=1e-7) left out: NaN "
        "inside the layer at the first step "
        "(https://github.com/shenweichen/DeepCTR-Torch/pull/166, "
        "https://github.com/shenweichen/DeepCTR/pull/519, "
        "https://github.com/BVLC/caffe/issues/6415)",
        blind=True,
    ),
    Scenario(
        "tile_coded_q_learning_at_the_tabular_step_size",
        tile_coded_q_learning_at_the_tabular_step_size,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="linear Q-learning on 8-tiling tile codes with SGD at the tabular step size 0.5 "
        "instead of 0.5 / 8: each online update moves Q(s, a) by several times the TD error "
        "and the run diverges within some dozens of updates "
        "(https://ai.stackexchange.com/questions/35060/unclear-paragraph-in-sutton-barto-on-"
        "tile-coding, "
        "https://onlearn.app/ds/tutor/representation-learning-advanced-theory-and-"
        "miscellaneous/614)",
        blind=True,
    ),
    Scenario(
        "warp_rank_weight_log_of_zero_violators",
        warp_rank_weight_log_of_zero_violators,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a batched WARP loss with the rank weight log(rank) and no max(1, rank) guard: a "
        "row whose sampled negatives all respect the margin has rank 0 and log(0) = -inf "
        "times a zero hinge (https://github.com/lyst/lightfm/pull/4, "
        "https://github.com/etlundquist/rankfm/pull/15, "
        "https://github.com/NTMC-Community/MatchZoo/pull/779, "
        "https://github.com/maciejkula/spotlight/issues/11)",
        blind=True,
    ),
    Scenario(
        "ips_weights_for_positions_outside_the_randomized_top_ten",
        ips_weights_for_positions_outside_the_randomized_top_ten,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="unbiased learning-to-rank with inverse-propensity weights from a result-"
        "randomisation experiment that covered only the top 10 positions: numpy's 0 / 0 "
        "gives NaN propensities and NaN sample weights for clicks at positions 11-20 "
        "(https://github.com/tensorflow/ranking/issues/9, "
        "https://github.com/tensorflow/ranking/issues/12, "
        "https://github.com/tensorflow/ranking/issues/190, "
        "https://github.com/usaito/CFML-papers/issues/2)",
        blind=True,
    ),
    Scenario(
        "reinforce_recommender_log_of_softmax_with_negative_rewards",
        reinforce_recommender_log_of_softmax_with_negative_rewards,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits"}),
        story="an off-policy REINFORCE recommender with -reward * log(softmax(logits)[item]) "
        "on logged rewards of +1 / -1: the loss is unbounded below for skipped items, their "
        "probability underflows to 0 and log(0) = -inf "
        "(https://github.com/maxpumperla/deep_learning_and_the_game_of_go/issues/90, "
        "https://github.com/MorvanZhou/Reinforcement-learning-with-tensorflow/issues/99, "
        "https://github.com/hunkim/ReinforcementZeroToAll/pull/16, "
        "https://github.com/awjuliani/DeepRL-Agents/issues/34)",
        blind=True,
    ),
]
