"""A nineteenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind18.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (Q&A threads,
library docs, tutorials); each story cites them. This set favours TRAINING DYNAMICS, what
ordinary practitioners hit after some healthy-looking steps: a momentum copied without its
learning rate, a warm-restart schedule whose multipliers are swapped, Caffe's per-layer
learning-rate multipliers ported to a fine-tuning loop, Q-learning that bootstraps on itself,
a GAN written with the paper's minimax loss, an actor-critic entropy bonus on a collapsing
policy, an IndRNN without its recurrent-weight bound, a deep MLP whose BatchNorm was removed
while its learning rate was kept, and a Gumbel-softmax temperature annealed per step without a
floor; nine of the ten are of that kind (the tenth is a data-loading slip: a memory-saving
float16 downcast). Where the pattern does not determine the first op (a run that diverges may
first overflow in the loss, a matmul or an update), kind / op / layer are left None. Fix ids
are only those of the design notes' taxonomy; where none of them is the first fix a careful
engineer would try, the fix set is left empty or holds only the acceptable ones.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights and optimizer variables, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, records from inside each
compiled step (a patched apply_gradients) whether its gradients are finite, and asserts that
nantrace was never imported. No expectation field (kind, op types, layer, cause, fixes) was
changed after that check, and no pattern was dropped; two constructions were changed, as told
below. What the check showed, recorded without changing any field: the Nesterov momentum
(after the change below: loss ~1 for 145 steps, then 160, 669, 5e10, and at step 151 the
loss is inf while that step's gradients, weights and SGD slots are still finite; first op the
Square of the MSE, +inf), the m_mul restarts (healthy through the first five cycles, inf at
step 133, eight steps after the restart at 0.64; first op the MSE's Square, then gradients,
weights and slots NaN), the lr_mult fine-tuning (the loss, in the thousands from the start on
the pretrained features, grows to 6e28 and is inf at step 8; first op features1's MatMul on
finite inputs, -inf), the DQN (TD loss 7e4 at the start, growing by orders of magnitude, inf
at step 21; first op the Square of the TD error), the minimax GAN (after the change below:
the generator's loss drifts from -0.70 to -7.3 over some 240 steps, NaN at step 246 in the
plain run, gradients, weights and Adam slots too; with check_numerics the first op is the Log
of 1 - D(G(z)) in the discriminator's loss, -inf, at step 203, the instrumented run drifting
apart from the plain one), the A2C entropy (losses of a few units for 120 steps, NaN at step
122; first op the entropy's Log of the softmax probabilities, -inf), the IndRNN (loss 508 at
step 0, inf at step 1: the first SGD update already throws the recurrent weights past 1, so
this is one step of growth, not the several the story describes; first op the cell's Mul
u * h_{t-1} inside the RNN's while body, +inf), the deep MLP without BatchNorm (loss 2.0 for
some 165 steps, then 4.7, 23, 254, 1e4, 1e22, NaN at step 173; first op hidden1's MatMul,
-inf), the Gumbel-softmax temperature (see the caveat below) and the float16 downcast (the
batch holds +-inf at step 0, in the order_value column; first op hidden0's MatMul on it).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): the Nesterov scenario first used learning_rate=0.05 and stayed
finite for 256 steps (and for 768: the loss jumped to 6e4 and back, a dying-ReLU net that
oscillates but never overflows); at 0.1, where the same net with momentum 0.9 trains to an
MSE of ~0.02 (a probe), momentum 0.99 diverges at step 151, so the scenario now tunes the
recipe at 0.1. The GAN first ran the discriminator at 1e-4 (the generator at 1e-3) over three
passes and stayed finite (loss ~-0.70: the discriminator kept up); probes showed 1e-4 finite
over ten passes and 1e-5 going NaN at step 246, so the discriminator's rate is now 1e-5 (a
typo'd exponent, a hundred times below the generator's) over five passes.
Caveats a reader should know: the Gumbel-softmax scenario's first non-finite value is not
where its expectation puts it (kind activation, RealDiv, in the gumbel_softmax layer): in the
plain run the loss is still finite (1.04) at step 124 while a trainable gradient is already
non-finite, so the forward RealDiv does not overflow first; with check_numerics the first
non-finite op is a RealDiv of the backward pass at step 62, the gradient of x / tau with
respect to the non-trainable temperature (-x / tau^2, -inf once tau^2 underflows), a branch
the update never uses; left as written (the expectation came from the pattern), so this
scenario is expected to disagree on kind. The IndRNN diverges at step 1, not after several
steps. Six scenarios leave kind None since a diverging run may first overflow in the loss,
a matmul or an update (the check showed the MSE's Square for three of them, a MatMul for two
and the IndRNN cell's Mul for one); the DQN's cause is a set (learning_rate_too_high / gradient_explosion) and its fixes
include rescale_input for the raw rewards; the IndRNN's fix set holds use_gated_rnn only,
the first fix (restoring the bound on the recurrent weights) having no id.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    mlp,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


def _smooth_regression(rng, n, dim, noise=0.1):
    """Standardized features and a smooth, standardized-scale target."""
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = 1.5 * np.tanh(x @ w) + 0.5 * np.sin(2.0 * (x @ v)) + 0.3 * x[:, 0] * x[:, 1]
    y = y + noise * rng.normal(size=n)
    return x, y.astype("float32").reshape(-1, 1)


# ---------------------------------------------------------------------------------------------
# 1. Nesterov momentum raised to 0.99 at the learning rate tuned for 0.9
# ---------------------------------------------------------------------------------------------
def nesterov_momentum_0_99_at_the_rate_tuned_for_0_9():
    """Building-energy regressor (an MLP on 20 standardized sensor features, MSE on a
    standardized target) whose SGD was tuned at learning_rate=0.1, momentum=0.9,
    nesterov=True (it trains to an MSE of ~0.02); momentum is then raised to 0.99 'for a
    smoother descent', as a paper's table suggested, and the learning rate is left where it
    was. The step along a consistent gradient direction grows as lr / (1 - momentum), from 1
    to 10, and for Nesterov momentum
    the largest stable lr x curvature shrinks as momentum grows: the weights oscillate with a
    growing amplitude over the first epochs and the run diverges to inf / NaN after a few
    hundred healthy-looking steps (lower the learning rate with the momentum)."""
    rng = seeded(1900)
    x, y = _smooth_regression(rng, 4096, 20)
    model = mlp([128, 128, 64], name="energy_mlp", input_dim=20)
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.99, nesterov=True)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()),
        batches(x, y, size=64, epochs=4),
    )


# ---------------------------------------------------------------------------------------------
# 2. CosineDecayRestarts with m_mul=2.0 where t_mul=2.0 was meant
# ---------------------------------------------------------------------------------------------
def cosine_decay_restarts_with_m_mul_where_t_mul_was_meant():
    """Demand regressor (an MLP on 16 standardized features, MSE) trained with SGD(momentum
    0.9) under keras.optimizers.schedules.CosineDecayRestarts(0.02, first_decay_steps=25,
    t_mul=1.0, m_mul=2.0): SGDR's 'each cycle twice as long' was meant (t_mul=2.0, m_mul=1.0),
    and the old docstring's wording ('m_mul times smaller initial learning rate', corrected in
    keras#15288) made m_mul read as a divisor. Every warm restart now starts at twice the
    previous peak: 0.02, 0.04, 0.08, 0.16, 0.32, 0.64; the first cycles train, and one of the
    later restarts throws the weights past the stable range and the run diverges to inf / NaN
    (the peak learning rate must not grow: m_mul <= 1, or a lower rate)."""
    rng = seeded(1901)
    x, y = _smooth_regression(rng, 4096, 16)
    model = mlp([64, 64], name="demand_mlp", input_dim=16)
    schedule = keras.optimizers.schedules.CosineDecayRestarts(
        0.02, first_decay_steps=25, t_mul=1.0, m_mul=2.0, alpha=0.0
    )
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()),
        batches(x, y, size=64, epochs=4),
    )


# ---------------------------------------------------------------------------------------------
# 3. Caffe's lr_mult (10 / 20 on the new layer) ported as gradient multipliers, at Keras' rate
# ---------------------------------------------------------------------------------------------
def caffe_lr_mult_ported_as_gradient_multipliers_when_fine_tuning():
    """Fine-tuning a pretrained feature extractor (a 2 x 256 ReLU MLP trained first on a
    10-class sensor task) for a new regression target with a fresh Dense(1) head, following
    a Caffe fine-tuning prototxt: base_lr 0.001 and lr_mult 10 / 20 on the new layer's weights
    / bias, 'so the new layer learns faster'. The port multiplies the head's gradients by 10
    and 20 in the custom loop but takes keras.optimizers.SGD's default learning rate (0.01)
    with momentum 0.9, so the head trains at 0.1 / 0.2 on the unnormalized pretrained ReLU
    features (hundreds of active units of order 1) and the backbone at ten times the
    recipe's rate: the head's weights overshoot and grow step after step until the run
    diverges to inf / NaN (lower the learning rate: base_lr 0.001 as in the recipe)."""
    rng = seeded(1902)
    n, dim, classes = 4096, 24, 10
    centres = rng.normal(scale=1.5, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    backbone = [
        keras.layers.Dense(256, activation="relu", name="features0"),
        keras.layers.Dense(256, activation="relu", name="features1"),
    ]
    pretrain = keras.Sequential(
        [keras.Input((dim,)), *backbone, keras.layers.Dense(classes, name="old_head")],
        name="pretrain",
    )
    pretrain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pretrain.fit(x, labels, batch_size=64, epochs=3, verbose=0)

    target = (np.tanh(x[:, :4].sum(axis=1) / 4.0) + 0.1 * rng.normal(size=n)).astype("float32")
    y = target.reshape(-1, 1)
    head = keras.layers.Dense(1, name="new_head")
    model = keras.Sequential([keras.Input((dim,)), *backbone, head], name="finetune")
    optimizer = keras.optimizers.SGD(momentum=0.9)
    mse = keras.losses.MeanSquaredError()
    multipliers = [
        10.0 if v is head.kernel else 20.0 if v is head.bias else 1.0
        for v in model.trainable_variables
    ]

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [g * m for g, m in zip(grads, multipliers, strict=True)]
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=64, epochs=2))


# ---------------------------------------------------------------------------------------------
# 4. Q-learning without a target network on raw game scores
# ---------------------------------------------------------------------------------------------
def dqn_without_a_target_network_on_raw_game_scores():
    """Deep Q-learning from a replay buffer (an MLP Q-network on 16 state features, 4
    actions, gamma = 0.99) written from a tutorial that left out the target network: the
    TD target r + gamma max_a' Q(s', a') is computed with the same network that is being
    updated (stop_gradient only), the squared TD error is the loss (no Huber), and the
    rewards are raw game scores (0 to 100 points, never clipped to [-1, 1] as DQN does),
    SGD with momentum. Each update raises the Q-values the next targets are read from; the
    max picks the overestimated ones, the TD errors grow with them instead of shrinking,
    and after some steps the Q-values, the loss and the gradients run away to inf / NaN (the
    deadly triad; Huber / clipped TD errors, scaled rewards, a lower rate, a target
    network)."""
    rng = seeded(1903)
    states, actions, dim, n = 256, 4, 16, 16384
    features = rng.normal(size=(states, dim)).astype("float32")
    next_state = rng.integers(0, states, size=(states, actions))
    scores = rng.choice([0.0, 0.0, 0.0, 10.0, 25.0, 100.0], size=(states, actions))
    s = rng.integers(0, states, size=n)
    a = rng.integers(0, actions, size=n)
    s2 = next_state[s, a]
    done = (rng.random(n) < 0.02).astype("float32")
    replay = (
        features[s],
        a.astype("int32"),
        scores[s, a].astype("float32"),
        features[s2],
        done,
    )
    model = mlp([64, 64], name="q_network", input_dim=dim, out=actions)
    optimizer = keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)
    gamma = 0.99

    def td_loss(model, s, a, r, s2, done):
        q = model(s, training=True)
        q_sa = tf.gather(q, a, batch_dims=1)
        q_next = tf.stop_gradient(tf.reduce_max(model(s2, training=True), axis=1))
        target = r + gamma * (1.0 - done) * q_next
        return tf.reduce_mean(tf.square(target - q_sa))

    data = [tuple(tf.constant(part[i : i + 64]) for part in replay) for i in range(0, n, 64)]
    return run_loop(_custom_step(model, optimizer, td_loss), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 5. a GAN written with the paper's minimax generator loss, min log(1 - D(G(z))), by hand
# ---------------------------------------------------------------------------------------------
def minimax_gan_generator_loss_log_one_minus_d_by_hand():
    """A 2-D GAN (points on a noisy ring; MLP generator and discriminator, the discriminator
    ending in a sigmoid) with both losses written from Goodfellow et al.'s value function,
    D: -mean(log D(x) + log(1 - D(G(z)))), G: minimize mean(log(1 - D(G(z)))), and the
    discriminator's learning rate typed a hundred times below the generator's (the generator
    at 1e-3, the discriminator at 1e-5).
    The generator's minimax objective is unbounded below and its gradient does not vanish as
    D(G(z)) -> 1; the slow discriminator falls behind, the generator drives the
    discriminator's logits on its samples up, and after some steps sigmoid(logit) rounds to
    exactly 1.0 in float32 (logit > ~17): log(1 - D(G(z))) = log(0) = -inf in the loss (a
    linear discriminator output with BCE from logits / softplus)."""
    rng = seeded(1904)
    n, latent = 8192, 4
    angle = rng.uniform(0.0, 2 * np.pi, size=n)
    ring = np.stack([2.0 * np.cos(angle), 2.0 * np.sin(angle)], axis=1)
    real = (ring + 0.1 * rng.normal(size=(n, 2))).astype("float32")
    noise = rng.normal(size=(n, latent)).astype("float32")
    generator = keras.Sequential(
        [
            keras.Input((latent,)),
            keras.layers.Dense(32, activation="relu", name="g0"),
            keras.layers.Dense(32, activation="relu", name="g1"),
            keras.layers.Dense(2, name="g_out"),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(32, activation="relu", name="d0"),
            keras.layers.Dense(32, activation="relu", name="d1"),
            keras.layers.Dense(1, activation="sigmoid", name="d_out"),
        ],
        name="discriminator",
    )
    g_opt = keras.optimizers.Adam(1e-3, beta_1=0.5)
    d_opt = keras.optimizers.Adam(1e-5, beta_1=0.5)

    def train_step(real, z):
        with tf.GradientTape() as d_tape:
            d_real = discriminator(real, training=True)
            d_fake = discriminator(generator(z, training=True), training=True)
            d_loss = -tf.reduce_mean(tf.math.log(d_real) + tf.math.log(1.0 - d_fake))
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as g_tape:
            d_fake = discriminator(generator(z, training=True), training=True)
            g_loss = tf.reduce_mean(tf.math.log(1.0 - d_fake))
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
        return g_loss

    data = [
        (tf.constant(real[i : i + 128]), tf.constant(noise[i : i + 128])) for i in range(0, n, 128)
    ]
    data = data * 5
    return run_loop(train_step, data, model=generator, optimizer=g_opt)


# ---------------------------------------------------------------------------------------------
# 6. an actor-critic entropy bonus -sum(p log p) by hand on a policy that collapses
# ---------------------------------------------------------------------------------------------
def a2c_entropy_bonus_by_hand_on_a_collapsing_policy():
    """Advantage actor-critic's policy loss on a contextual bandit (a softmax policy MLP over
    12 context features and 5 actions, actions sampled on-policy inside the step, advantage =
    reward - batch mean) with the usual entropy bonus written by hand from the softmax
    probabilities, entropy = -sum(p * log p), and the rewards left in raw points (0 to 200).
    The large advantages make big policy-gradient steps; a negatively rewarded action's logit
    keeps being pushed down and the policy collapses within some steps: softmax gives exactly
    0.0 to actions whose logit falls ~100 below the best, log(0) = -inf and 0 * -inf = NaN
    in the entropy term of the loss (the entropy from log_softmax of the logits, or p log p
    with an epsilon)."""
    rng = seeded(1905)
    n, dim, arms = 8192, 12, 5
    contexts = rng.normal(size=(n, dim)).astype("float32")
    payoff = rng.normal(size=(dim, arms))
    rewards = 200.0 / (1.0 + np.exp(-(contexts @ payoff)))
    rewards = rewards.astype("float32")
    uniforms = rng.random(n).astype("float32")
    model = mlp([64, 64], name="policy", input_dim=dim, out=arms, out_activation="softmax")
    optimizer = keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)

    def a2c_loss(model, x, reward_table, u):
        probs = model(x, training=True)
        cdf = tf.cumsum(tf.stop_gradient(probs), axis=1)
        actions = tf.reduce_sum(tf.cast(cdf < (u * cdf[:, -1])[:, None], tf.int32), axis=1)
        actions = tf.minimum(actions, arms - 1)
        reward = tf.gather(reward_table, actions, batch_dims=1)
        advantage = reward - tf.reduce_mean(reward)
        log_prob = tf.math.log(tf.gather(probs, actions, batch_dims=1))
        entropy = -tf.reduce_sum(probs * tf.math.log(probs), axis=1)
        return -tf.reduce_mean(advantage * log_prob) - 0.01 * tf.reduce_mean(entropy)

    data = [
        (
            tf.constant(contexts[i : i + 64]),
            tf.constant(rewards[i : i + 64]),
            tf.constant(uniforms[i : i + 64]),
        )
        for i in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, a2c_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 7. an IndRNN whose recurrent weights are left unconstrained, on long sequences
# ---------------------------------------------------------------------------------------------
class IndRNNCell(keras.layers.Layer):
    """Independently recurrent cell, h_t = relu(W x_t + u * h_{t-1} + b) with an element-wise
    recurrent weight u started at 1 (the IRNN-style default of public ports), WITHOUT the
    paper's bound |u| <= 2^(1 / T) (recurrent_max_abs left None)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer=keras.initializers.RandomNormal(stddev=0.1),
            name="input_kernel",
        )
        self.recurrent = self.add_weight(
            shape=(self.units,), initializer="ones", name="recurrent_weight"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h = tf.nn.relu(tf.matmul(inputs, self.kernel) + self.recurrent * states[0] + self.bias)
        return h, [h]


def indrnn_without_its_recurrent_weight_constraint():
    """The adding problem (sequences of 400 steps, a value channel and a marker channel; the
    target is the sum of the two marked values) on an IndRNN ported from a public
    implementation with its recurrent weights started at 1 and the constraint of the paper
    (|u| <= 2^(1 / T), recurrent_max_abs) left out, a Dense(1) read-out, MSE, SGD with
    momentum. A unit whose recurrent weight creeps above 1 multiplies its state by u at each
    of the 400 steps: u = 1.1 already gives 1.1^400 ~ 4e16, and once the updates push some
    u a little further the state, the read-out and the gradients through time run away to
    inf / NaN after some steps of growth (bound the recurrent weights, or a gated cell)."""
    rng = seeded(1906)
    n, steps = 2048, 400
    values = rng.random((n, steps))
    markers = np.zeros((n, steps))
    first = rng.integers(0, steps // 2, size=n)
    second = rng.integers(steps // 2, steps, size=n)
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values[np.arange(n), first] + values[np.arange(n), second]).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            keras.layers.RNN(IndRNNCell(32, name="indrnn_cell"), name="indrnn"),
            keras.layers.Dense(1, name="readout"),
        ],
        name="adding_indrnn",
    )
    optimizer = keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()),
        batches(x, y.reshape(-1, 1), size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 8. a deep MLP whose BatchNormalization layers were removed, at the recipe's learning rate
# ---------------------------------------------------------------------------------------------
def batchnorm_removed_but_the_recipe_learning_rate_kept():
    """A 12-layer ReLU MLP classifier (10 classes on 32 features, He initialization) from a
    recipe of Dense -> BatchNormalization -> ReLU blocks trained with SGD(0.1, momentum 0.9);
    the BatchNormalization layers were dropped for a faster, simpler export, and the
    learning rate that batch normalization made stable was kept. Without normalization the
    effective step on every layer is far larger, the weights and activations grow over the
    first steps, each layer multiplying the growth of the one below, and the run diverges to
    inf / NaN (a lower learning rate, or the normalization back)."""
    rng = seeded(1907)
    n, dim, classes = 8192, 32, 10
    centres = rng.normal(scale=1.0, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    model = mlp(
        [128] * 12,
        name="deep_plain_mlp",
        input_dim=dim,
        out=classes,
        kernel_initializer="he_normal",
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    return run_loop(
        standard_step(
            model, optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
        batches(x, labels.astype("int32"), size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 9. a Gumbel-softmax temperature annealed per step, with a per-epoch rate and no floor
# ---------------------------------------------------------------------------------------------
class GumbelSoftmax(keras.layers.Layer):
    """Gumbel-softmax relaxation softmax((logits + g) / tau) with tau a non-trainable variable
    the training loop anneals."""

    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.generator = tf.random.Generator.from_seed(seed)

    def build(self, input_shape):
        self.temperature = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="temperature"
        )

    def call(self, logits):
        u = self.generator.uniform(tf.shape(logits), minval=1e-6, maxval=1.0 - 1e-6)
        gumbel = -tf.math.log(-tf.math.log(u))
        return tf.nn.softmax((logits + gumbel) / self.temperature, axis=-1)


def gumbel_softmax_temperature_annealed_per_step_without_a_floor():
    """A categorical autoencoder (an MLP encoder to 8 ten-way categorical codes, a
    Gumbel-softmax layer, an MLP decoder, MSE reconstruction of 32 standardized features)
    whose temperature follows tau = exp(-0.7 t): a rate meant per epoch (Jang et al. anneal
    tau = max(0.5, exp(-r t)) slowly and never below 0.5) applied with t counted in
    optimizer steps and without the max(0.5, .) floor. The first ~100 steps train normally
    while tau shrinks; past step ~125 tau is below 1e-38, (logits + g) / tau overflows to
    inf inside the Gumbel-softmax layer and the softmax of inf - inf is NaN (floor the
    temperature)."""
    rng = seeded(1908)
    n, dim, codes, k = 8192, 32, 8, 10
    prototypes = rng.normal(size=(k, dim // 4))
    assignment = rng.integers(0, k, size=(n, 4))
    x = np.concatenate([prototypes[assignment[:, j]] for j in range(4)], axis=1)
    x = (x + 0.2 * rng.normal(size=x.shape)).astype("float32")
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(128, activation="relu", name="enc0")(inputs)
    logits = keras.layers.Reshape((codes, k), name="code_logits")(
        keras.layers.Dense(codes * k, name="enc1")(h)
    )
    gumbel = GumbelSoftmax(seed=1908, name="gumbel_softmax")
    z = keras.layers.Flatten(name="code")(gumbel(logits))
    h = keras.layers.Dense(128, activation="relu", name="dec0")(z)
    outputs = keras.layers.Dense(dim, name="reconstruction")(h)
    model = keras.Model(inputs, outputs, name="categorical_autoencoder")
    optimizer = keras.optimizers.Adam(1e-3)
    mse = keras.losses.MeanSquaredError()

    def train_step(x, y):
        step = tf.cast(optimizer.iterations, "float32")
        gumbel.temperature.assign(tf.exp(-0.7 * step))
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, x, size=64, epochs=2))


# ---------------------------------------------------------------------------------------------
# 10. a reduce_mem_usage float16 downcast, then a product feature computed in float16
# ---------------------------------------------------------------------------------------------
def reduce_mem_usage_float16_downcast_then_a_product_feature():
    """Order-value model (an MLP, binary cross-entropy from logits: will the order be
    returned) on a retail table loaded through the Kaggle 'reduce_mem_usage' helper, which
    downcasts every float column whose min and max fit float16's range to float16 (unit price
    up to 4,000, quantity up to 250: both fit). The feature code then adds order_value =
    unit_price * quantity on the downcast frame, computed in float16: every order worth more
    than 65,504 becomes inf, and log1p keeps it inf; the columns are cast to float32 for the
    model and about a tenth of the rows carry inf in the batch before any op runs (compute
    features before downcasting, or in float32 / float64)."""
    rng = seeded(1909)
    n = 4096
    unit_price = np.round(rng.lognormal(4.5, 1.3, size=n).clip(1.0, 4000.0), 2)
    quantity = rng.integers(1, 251, size=n).astype("float64")
    discount = rng.uniform(0.0, 0.4, size=n)
    days_to_ship = rng.integers(1, 15, size=n).astype("float64")
    frame = {
        "unit_price": unit_price,
        "quantity": quantity,
        "discount": discount,
        "days_to_ship": days_to_ship,
    }
    finfo = np.finfo(np.float16)
    for name, column in frame.items():
        if column.min() > finfo.min and column.max() < finfo.max:
            frame[name] = column.astype(np.float16)
    with np.errstate(over="ignore"):
        order_value = frame["unit_price"] * frame["quantity"]
    features = np.stack(
        [
            np.log1p(frame["unit_price"].astype("float32")),
            np.log1p(frame["quantity"].astype("float32")),
            frame["discount"].astype("float32"),
            frame["days_to_ship"].astype("float32") / 7.0,
            np.log1p(order_value.astype("float32")),
        ],
        axis=1,
    ).astype("float32")
    logit = 0.8 * frame["discount"].astype("float64") * 5 - 0.2 * days_to_ship / 7.0 - 1.0
    returned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    model = mlp([32, 16], name="returns_mlp", input_dim=features.shape[1])
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(features, returned, size=64),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND19_SCENARIOS: list[Scenario] = [
    Scenario(
        "nesterov_momentum_0_99_at_the_rate_tuned_for_0_9",
        nesterov_momentum_0_99_at_the_rate_tuned_for_0_9,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="SGD(0.1, nesterov=True) tuned at momentum 0.9, momentum then raised to 0.99 "
        "with the rate kept: the step along a steady direction grows from lr / 0.1 to "
        "lr / 0.01 and Nesterov's stable lr x curvature shrinks, the weights oscillate with "
        "growing amplitude and diverge after some steps; lower the rate with the momentum "
        "(https://github.com/Lasagne/Lasagne/issues/765, "
        "https://github.com/keras-team/keras/issues/18919, "
        "https://github.com/tensorflow/tensorflow/issues/38796, "
        "https://gokawiil.com/article/82224)",
        blind=True,
    ),
    Scenario(
        "cosine_decay_restarts_with_m_mul_where_t_mul_was_meant",
        cosine_decay_restarts_with_m_mul_where_t_mul_was_meant,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="CosineDecayRestarts(t_mul=1.0, m_mul=2.0) where SGDR's doubling cycle length "
        "(t_mul=2.0) was meant: each warm restart starts at twice the previous peak and a "
        "later restart diverges the run; the peak must not grow "
        "(https://github.com/keras-team/keras/pull/15288, "
        "https://github.com/tensorflow/tensorflow/pull/11749, "
        "https://github.com/pytorch/pytorch/pull/11104)",
        blind=True,
    ),
    Scenario(
        "caffe_lr_mult_ported_as_gradient_multipliers_when_fine_tuning",
        caffe_lr_mult_ported_as_gradient_multipliers_when_fine_tuning,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="a Caffe fine-tuning recipe's lr_mult 10 / 20 on the new layer ported as "
        "gradient multipliers with Keras SGD's default rate 0.01 instead of the recipe's "
        "base_lr 0.001: the new head trains at 0.1 / 0.2 with momentum on the pretrained "
        "features and the run diverges after some steps; the recipe's lower rate "
        "(https://github.com/BVLC/caffe/issues/2023, "
        "https://github.com/BVLC/caffe/issues/5080, "
        "https://github.com/facebookresearch/maskrcnn-benchmark/issues/721, "
        "https://github.com/kratzert/finetune_alexnet_with_tensorflow/issues/39)",
        blind=True,
    ),
    Scenario(
        "dqn_without_a_target_network_on_raw_game_scores",
        dqn_without_a_target_network_on_raw_game_scores,
        None,
        cause=frozenset({"learning_rate_too_high", "gradient_explosion"}),
        fixes=frozenset({"clip_gradients", "lower_learning_rate", "rescale_input"}),
        story="Q-learning with the TD target read from the network being trained (no target "
        "network), a squared TD error and raw 0-100 point rewards: the bootstrapped targets "
        "chase the overestimated Q-values, the TD errors grow instead of shrinking and the "
        "run diverges after some steps; Huber / clipped TD errors, scaled rewards, a lower "
        "rate (https://github.com/facebookresearch/ReAgent/issues/189, "
        "https://github.com/tensorflow/agents/issues/316, "
        "https://github.com/muupan/dqn-in-the-caffe/issues/6, "
        "https://github.com/keras-rl/keras-rl/issues/28, "
        "https://ai.stackexchange.com/questions/8348)",
        blind=True,
    ),
    Scenario(
        "minimax_gan_generator_loss_log_one_minus_d_by_hand",
        minimax_gan_generator_loss_log_one_minus_d_by_hand,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits"}),
        story="a GAN with the paper's minimax losses written by hand on a sigmoid "
        "discriminator trained at a hundredth of the generator's rate: the generator drives "
        "D(G(z)) to exactly 1.0 after some steps and log(1 - D(G(z))) = log(0) = -inf in "
        "the loss; logits with BCE from logits (softplus) "
        "(https://github.com/llSourcell/Generative_Adversarial_networks_LIVE/issues/5, "
        "https://github.com/LeeDoYup/DeblurGAN-tf/issues/11, "
        "https://github.com/whxbergkamp/RobustDL_GAN/issues/2, "
        "https://github.com/d2l-ai/d2l-en/pull/459, "
        "https://github.com/soumith/ganhacks/issues/36)",
        blind=True,
    ),
    Scenario(
        "a2c_entropy_bonus_by_hand_on_a_collapsing_policy",
        a2c_entropy_bonus_by_hand_on_a_collapsing_policy,
        "loss",
        frozenset({"Log", "Mul"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits", "add_epsilon"}),
        story="an actor-critic entropy bonus -sum(p log p) written on softmax probabilities "
        "with raw-point rewards: the large advantages collapse the policy within some steps, "
        "softmax gives exactly 0 and 0 * log(0) = NaN in the loss; the entropy from "
        "log_softmax of logits (or an epsilon) "
        "(https://github.com/awjuliani/DeepRL-Agents/issues/34, "
        "https://github.com/IntelLabs/coach/pull/451, "
        "https://github.com/huggingface/trl/pull/7264, "
        "https://github.com/maxpumperla/deep_learning_and_the_game_of_go/issues/90)",
        blind=True,
    ),
    Scenario(
        "indrnn_without_its_recurrent_weight_constraint",
        indrnn_without_its_recurrent_weight_constraint,
        None,
        cause="recurrent_explosion",
        fixes=frozenset({"use_gated_rnn"}),
        story="an IndRNN (relu, element-wise recurrent weights started at 1) ported without "
        "the paper's |u| <= 2^(1/T) constraint on 400-step adding-problem sequences: a "
        "recurrent weight a little above 1 is raised to the 400th power and the state runs "
        "away to inf after some steps of growth; bound the recurrent weights or use a gated "
        "cell (https://github.com/batzner/indrnn/issues/1, "
        "https://github.com/batzner/indrnn/issues/9, "
        "https://github.com/batzner/indrnn/issues/19, "
        "https://github.com/tensorflow/tensorflow/pull/17821)",
        blind=True,
    ),
    Scenario(
        "batchnorm_removed_but_the_recipe_learning_rate_kept",
        batchnorm_removed_but_the_recipe_learning_rate_kept,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate", "add_normalization"}),
        story="a 12-layer ReLU MLP whose BatchNormalization layers were removed while the "
        "recipe's SGD(0.1, momentum 0.9) was kept: the weights and activations grow over the "
        "first steps and the run diverges; a lower rate, or the normalization back "
        "(https://github.com/facebookresearch/maskrcnn-benchmark/issues/295, "
        "https://github.com/BobLiu20/FaceRecognition_PyTorch/issues/2, "
        "https://github.com/stevenpjg/ddpg-aigym/issues/7)",
        blind=True,
    ),
    Scenario(
        "gumbel_softmax_temperature_annealed_per_step_without_a_floor",
        gumbel_softmax_temperature_annealed_per_step_without_a_floor,
        "activation",
        frozenset({"RealDiv"}),
        "categorical_autoencoder/gumbel_softmax",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a Gumbel-softmax temperature exp(-r t) with a per-epoch rate applied per step "
        "and without the max(0.5, .) floor of Jang et al.: tau falls below 1e-38 after ~125 "
        "steps and (logits + g) / tau overflows inside the layer; floor the temperature "
        "(https://github.com/ericjang/gumbel-softmax/issues/2, "
        "https://github.com/EleutherAI/DALLE-mtf/issues/2, "
        "https://github.com/OHBA-analysis/osl-dynamics/pull/303, "
        "https://github.com/ethanfetaya/NRI/issues/14)",
        blind=True,
    ),
    Scenario(
        "reduce_mem_usage_float16_downcast_then_a_product_feature",
        reduce_mem_usage_float16_downcast_then_a_product_feature,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="the Kaggle reduce_mem_usage helper downcasts price and quantity to float16 "
        "(both fit its range), and order_value = price * quantity computed on the downcast "
        "frame overflows 65504 to inf for the large orders: the feature batch holds inf "
        "(https://github.com/fastai/fastai/pull/1973, "
        "http://pullrequest.ru/8992500/smuschennyi-pandami-dtype-preobrazovanie-float16-znachenie-2053-stanovitsya-2052, "
        "https://runebook.dev/en/docs/numpy/reference/arrays.scalars/numpy.float16, "
        "https://discourse.julialang.org/t/understanding-order-of-operations-and-overflow-problems/94580)",
        blind=True,
    ),
]
