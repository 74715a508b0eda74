"""A thirty-fifth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages; each story
cites them. Theme: graphs, geometry and probabilistic models as ordinary users write them in
TF / Keras: a GraphSAGE-mean layer by hand whose degree is summed along the wrong axis
(in-degree) of a directed citation graph, PointNet's unit-sphere normalization in tf.data on
failed (collapsed) scans, a residual point-completion refiner trained on Chamfer-L1
(unsquared distances) from a zero-initialized offset head, a rotation loss converting
identity quaternions to axis-angle, deep kernel learning by hand with an exact GP marginal
likelihood through a float32 Cholesky and GPflow's float64 jitter as the noise, a Bayesian
Dense with the local reparameterization trick on all-zero indicator rows, log-domain
Sinkhorn with the dual objective on targets padded with zero-mass points, Glow's ActNorm
data-dependent initialization on a binary column constant in the first batch, a PointNet
fed LiDAR tiles in raw UTM coordinates, and PaiNN-style unit direction vectors on molecules
whose conformer embedding failed (every atom at the origin). One of them is training
dynamics (the UTM tiles), where kind is left None; fix ids are only those of the design
notes' taxonomy, and the fix set is left empty where none of them is the first fix a careful
engineer would try (the in-degree: sum along the other axis).

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (batch, loss, gradients recorded from inside each compiled step
by a patched apply_gradients, weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it)
which op first produces the non-finite value, in a throwaway script outside the repository
(/tmp/blind35_check) that stands in plain-TF versions of the loop helpers and asserts that
nantrace was never imported. No expectation field (kind, op types, layer, cause, fixes) was
changed after that check, and no pattern was dropped; two constructions were changed, as
told below. What the check showed: the in-degree layer (step 0: the loss is still finite,
0.53, gradients and weights non-finite; first op sage_1's RealDiv, inf), the collapsed
scans (after the change below: the third batch holds NaN from the tf.data map; with
check_numerics the map's RealDiv is flagged), Chamfer-L1 (step 0: loss finite, 0.17,
gradients NaN; first op the backward SqrtGrad), the identity quaternions (step 0: loss NaN;
first op the loss's RealDiv v / |v|), the deep kernel GP (step 0: loss NaN; first op the
Cholesky, NaN-filled, with TF's 'Cholesky decomposition was not successful' warning), the
local reparameterization (step 0 finite: TF's SqrtGrad returns 0 where the incoming gradient
is 0, and at step 0 the zero rows' pre-activations are exactly 0 with ReLU's gradient 0
there; step 1: loss finite, 1.57, gradients NaN; first op bayes_in's backward SqrtGrad), the
Sinkhorn dual (step 0: loss NaN while gradients and weights stay finite; first op the
loss's Log of the masses, -inf), the ActNorm (step 0: loss NaN; first op actnorm_0's
RealDiv 1 / std inside its init branch, inf), the UTM tiles (after the change below: loss
4.1e9 at step 0, inf at step 1 with gradients and weights non-finite; first op the head's
MatMul at step 1) and the failed conformers (step 0: loss NaN; first op vector_message's
RealDiv r / d).
Constructions changed after the first check (expectation fields untouched, the docstrings
and stories rewritten to match): the collapsed scans were first 128 copies of a random
sensor position; the centroid of 128 equal float32 values is not exactly that value, the
centred cloud was ~1e-7 instead of 0 and the division stayed finite, so the failed scans are
now copies of the sensor origin (0, 0, 0). The UTM tiles first fed a 4-class classifier
(cross-entropy): the first SGD updates were ~1e19 but finite, killed every ReLU and the run
sat at loss log 4, finite; the head is now a 1-output object-height regressor under MSE.
Caveats a reader should know: the UTM scenario leaves kind None (the check showed the head's
MatMul at step 1); the local-reparameterization scenario's first non-finite gradient is at
step 1, not 0 (see above); the Sinkhorn scenario's loss is NaN while its gradients stay
finite; the kernel layers of the deep kernel GP and the flow are in subclassed models
(built before training), the others functional or Sequential; the local reparameterization
layer draws its noise with tf.random.normal inside the step.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


def _shape_cloud(rng, kind, n):
    """n points on the surface of a unit sphere, cube, cylinder or cone (kind 0-3)."""
    if kind == 0:
        p = rng.normal(size=(n, 3))
        return p / np.linalg.norm(p, axis=1, keepdims=True)
    if kind == 1:
        p = rng.uniform(-1.0, 1.0, size=(n, 3))
        face = rng.integers(0, 3, size=n)
        p[np.arange(n), face] = np.sign(rng.normal(size=n))
        return p
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    height = rng.uniform(-1.0, 1.0, size=n)
    radius = np.ones(n) if kind == 2 else (1.0 - height) / 2.0
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), height], axis=1)


def _pointnet_lite(name, points, classes=4):
    """PointNet without its T-nets and batch norms: shared 1x1 convolutions, max pooling."""
    return keras.Sequential(
        [
            keras.Input((points, 3)),
            keras.layers.Conv1D(64, 1, activation="relu", name="point_mlp0"),
            keras.layers.Conv1D(128, 1, activation="relu", name="point_mlp1"),
            keras.layers.GlobalMaxPooling1D(name="global_max"),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(classes, name="head"),
        ],
        name=name,
    )


# ---------------------------------------------------------------------------------------------
# 1. a GraphSAGE-mean layer by hand whose degree is summed along the wrong axis (in-degree)
# ---------------------------------------------------------------------------------------------
class MeanNeighbourSage(keras.layers.Layer):
    """GraphSAGE-mean by hand: Dense(concat(h_i, mean of the h_j that paper i cites))."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units, activation="relu")

    def call(self, inputs):
        h, adjacency = inputs
        degree = tf.reduce_sum(adjacency, axis=0)  # copied from an undirected GCN: in-degree
        neighbours = tf.matmul(adjacency, h) / degree[:, None]
        return self.dense(tf.concat([h, neighbours], axis=-1))


def citation_graph_mean_aggregation_divided_by_in_degree():
    """Topic classifier on a directed citation graph (400 papers in publication order, each
    citing up to five earlier ones; A[i, j] = 1 when i cites j), two GraphSAGE-mean layers
    written by hand, full-batch, a quarter of the papers labelled. The layer averages over
    the papers a paper cites, A @ H / degree, but the degree line was copied from a GCN
    written for undirected graphs, where both axes agree: reduce_sum(A, axis=0) is the
    IN-degree (how often the paper is cited). The newest papers cite five others and are
    cited by nobody yet: their aggregate is a finite sum divided by 0 = inf (0 / 0 = NaN for
    a paper with neither) in the first layer's division at the first step (sum along
    axis=1, the out-degree; clamping the degree at 1 would also keep it finite)."""
    rng = seeded(3500)
    n, dim, topics = 400, 16, 4
    topic = rng.integers(0, topics, size=n)
    centres = rng.normal(scale=1.2, size=(topics, dim))
    x = (centres[topic] + rng.normal(size=(n, dim))).astype("float32")
    adjacency = np.zeros((n, n), dtype="float32")
    cited = np.ones(n)
    for i in range(1, n):
        same = (topic[:i] == topic[i]) * 3.0 + 1.0
        weights = cited[:i] * same
        picks = rng.choice(i, size=min(i, 5), replace=False, p=weights / weights.sum())
        adjacency[i, picks] = 1.0
        cited[picks] += 1.0
    labelled = (rng.random(n) < 0.25).astype("float32")
    feats = keras.Input((dim,))
    adj = keras.Input((n,))
    h = MeanNeighbourSage(32, name="sage_1")([feats, adj])
    h = MeanNeighbourSage(32, name="sage_2")([h, adj])
    out = keras.layers.Dense(topics, name="head")(h)
    model = keras.Model([feats, adj], out, name="citation_sage")
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def masked_loss(model, x, a, y, mask):
        return cross_entropy(y, model([x, a], training=True), sample_weight=mask)

    optimizer = keras.optimizers.Adam(1e-2)
    batch = (tf.constant(x), tf.constant(adjacency), tf.constant(topic), tf.constant(labelled))
    return run_loop(
        _custom_step(model, optimizer, masked_loss), [batch] * 50, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 2. PointNet's unit-sphere normalization in tf.data, on scans that collapsed to one point
# ---------------------------------------------------------------------------------------------
def point_cloud_unit_sphere_normalization_of_collapsed_scans():
    """Object classifier (PointNet without T-nets, 4 shapes, 128 points a cloud) fed by a
    tf.data pipeline that applies PointNet's pc_normalize in its map: subtract the centroid,
    divide by the largest distance to it. About 2 % of the scans failed and were exported
    as 128 copies of the sensor origin (0, 0, 0): centred, every point is exactly 0,
    the largest distance is 0 and the division gives 0 / 0 = NaN for the whole cloud, in
    the batch before any op of the step runs (drop the degenerate scans, or guard the
    division as PyG's NormalizeScale now does)."""
    rng = seeded(3501)
    n, points = 1024, 128
    labels = rng.integers(0, 4, size=n)
    clouds = np.zeros((n, points, 3), dtype="float32")
    for i in range(n):
        scale = rng.uniform(0.5, 3.0)
        clouds[i] = _shape_cloud(rng, labels[i], points) * scale + rng.normal(size=3) * 5.0
    collapsed = rng.random(n) < 0.02
    clouds[collapsed] = 0.0  # failed scans: every point at the sensor origin

    def pc_normalize(cloud, label):
        centred = cloud - tf.reduce_mean(cloud, axis=0, keepdims=True)
        furthest = tf.reduce_max(tf.norm(centred, axis=1))
        return centred / furthest, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((clouds, labels.astype("int32")))
        .map(pc_normalize)
        .batch(32)
    )
    model = _pointnet_lite("shape_pointnet", points)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 3. a residual point-completion decoder (offsets from a zero-initialized head) under Chamfer-L1
# ---------------------------------------------------------------------------------------------
def chamfer_l1(target, pred):
    """Chamfer-L1 as reported in completion papers: mean unsquared nearest-neighbour distance."""
    diff = pred[:, :, None, :] - target[:, None, :, :]
    d2 = tf.reduce_sum(tf.square(diff), axis=-1)
    to_target = tf.reduce_mean(tf.sqrt(tf.reduce_min(d2, axis=2)))
    to_pred = tf.reduce_mean(tf.sqrt(tf.reduce_min(d2, axis=1)))
    return 0.5 * (to_target + to_pred)


def residual_completion_decoder_under_chamfer_l1():
    """Point-cloud refinement / completion: the network sees the visible half of a shape
    (the 128 of its 256 points that face a random viewpoint) and predicts one offset per
    visible point, pred = partial + offset, with the offset head zero-initialized 'so that
    training starts from the identity', as residual refiners do. It is trained directly on
    the metric the papers report, Chamfer-L1: the mean of the UNSQUARED nearest-neighbour
    distances, sqrt(min d^2). The visible points are points of the complete cloud, so at
    the start every prediction coincides exactly with a target point: the forward value is
    finite, but the derivative of sqrt at 0 is infinite and meets the zero difference
    (inf x 0 = NaN) in the backward pass of the first step (train on the squared distance,
    or sqrt(d^2 + eps))."""
    rng = seeded(3502)
    n, full, half = 512, 256, 128
    partial = np.zeros((n, half, 3), dtype="float32")
    complete = np.zeros((n, full, 3), dtype="float32")
    for i in range(n):
        cloud = _shape_cloud(rng, rng.integers(0, 4), full) * rng.uniform(0.5, 1.5)
        view = rng.normal(size=3)
        visible = np.argsort(-(cloud @ view))[:half]
        complete[i] = cloud
        partial[i] = cloud[visible]
    inputs = keras.Input((half, 3))
    local = keras.layers.Conv1D(64, 1, activation="relu", name="local_mlp")(inputs)
    wide = keras.layers.Conv1D(128, 1, activation="relu", name="global_mlp")(local)
    code = keras.layers.GlobalMaxPooling1D(name="global_max")(wide)
    tiled = keras.layers.RepeatVector(half, name="tile_code")(code)
    h = keras.layers.Concatenate(name="concat")([local, tiled])
    h = keras.layers.Conv1D(64, 1, activation="relu", name="decoder_mlp")(h)
    offset = keras.layers.Conv1D(3, 1, kernel_initializer="zeros", name="offset_head")(h)
    refined = keras.layers.Add(name="refined")([inputs, offset])
    model = keras.Model(inputs, refined, name="completion_refiner")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), chamfer_l1),
        batches(partial, complete, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 4. a relocalization loss that converts ground-truth quaternions to axis-angle, identity frames
# ---------------------------------------------------------------------------------------------
def quaternion_rotvec_loss(q_true, rotvec_pred):
    """Squared error on axis-angle: the ground-truth (w, x, y, z) converted in the loss."""
    w, v = q_true[:, :1], q_true[:, 1:]
    norm_v = tf.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * tf.atan2(norm_v, w)
    rotvec_true = v / norm_v * angle
    return tf.reduce_mean(tf.reduce_sum(tf.square(rotvec_pred - rotvec_true), axis=-1))


def relocalization_loss_converting_identity_quaternions_to_axis_angle():
    """Relative camera-rotation regressor (an MLP on 32-d frame-pair descriptors) that
    predicts an axis-angle vector, trained against ground-truth quaternions converted in the
    loss by the textbook formula: axis = v / |v|, angle = 2 atan2(|v|, w). The poses are
    relative to the first frame of each 8-frame sequence, so every first frame is exactly
    the identity quaternion (1, 0, 0, 0): its vector part is 0, |v| = 0 and the axis is
    0 / 0 = NaN in the loss at the first batch (any batch holds first frames); an epsilon
    in the norm, or the small-angle branch (axis-angle = 2 v / w near 0), keeps it finite."""
    rng = seeded(3503)
    sequences, frames, dim = 512, 8, 32
    axes = rng.normal(size=(sequences, frames, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = rng.uniform(0.05, 0.5, size=(sequences, frames, 1)) * np.arange(frames)[None, :, None]
    rotvec = axes * angles
    quat = np.concatenate([np.cos(angles / 2.0), np.sin(angles / 2.0) * axes], axis=-1)
    quat[:, 0] = [1.0, 0.0, 0.0, 0.0]
    rotvec[:, 0] = 0.0
    mix = rng.normal(size=(3, dim))
    descriptors = np.tanh(rotvec @ mix) + 0.3 * np.sin(2.0 * rotvec @ mix)
    descriptors += 0.05 * rng.normal(size=descriptors.shape)
    x = descriptors.reshape(-1, dim).astype("float32")
    y = quat.reshape(-1, 4).astype("float32")
    order = rng.permutation(len(x))
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(128, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(3, name="rotvec_head"),
        ],
        name="relocalizer",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), quaternion_rotvec_loss),
        batches(x[order], y[order], size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. deep kernel learning by hand in float32 with GPflow's float64 jitter as the noise
# ---------------------------------------------------------------------------------------------
class RBFKernel(keras.layers.Layer):
    """The batch's RBF kernel matrix s^2 exp(-|h_i - h_j|^2 / (2 l^2)), l and s learned."""

    def build(self, input_shape):
        self.log_lengthscale = self.add_weight(shape=(), initializer="zeros", name="log_l")
        self.log_signal = self.add_weight(shape=(), initializer="zeros", name="log_s")

    def call(self, h):
        d2 = tf.reduce_sum(tf.square(h[:, None, :] - h[None, :, :]), axis=-1)
        lengthscale = tf.exp(self.log_lengthscale)
        return tf.exp(2.0 * self.log_signal) * tf.exp(-0.5 * d2 / lengthscale**2)


class DeepKernelGP(keras.Model):
    def __init__(self):
        super().__init__(name="deep_kernel_gp")
        self.features = keras.Sequential(
            [
                keras.layers.Dense(64, activation="tanh", name="feat0"),
                keras.layers.Dense(64, activation="tanh", name="feat1"),
                keras.layers.Dense(2, name="feat_out"),
            ],
            name="features",
        )
        self.kernel = RBFKernel(name="gp_kernel")

    def call(self, x):
        return self.kernel(self.features(x))


def deep_kernel_gp_with_a_float64_jitter_in_float32():
    """Deep kernel learning by hand for an emulator of a deterministic simulator (3 inputs,
    a smooth response): an MLP maps the inputs to 2 features, an RBF kernel with learned
    lengthscale and signal variance gives the batch's kernel matrix, and the loss is the
    exact GP negative marginal likelihood through tf.linalg.cholesky, on batches of 256.
    Because the simulator has no noise, the likelihood variance was fixed at 1e-6, GPflow's
    default jitter, but GPflow computes in float64 and this model in Keras' float32: 256
    points in a 2-d feature space under a unit lengthscale give a kernel matrix whose
    smallest eigenvalues are far below float32's rounding (~1e-7 x the largest x n), so the
    matrix plus 1e-6 I is not positive definite in float32 and the Cholesky fails; TF fills
    its output with NaN, in the loss at the first step (a jitter / noise floor that float32
    can hold, ~1e-3 to 1e-4, or float64)."""
    rng = seeded(3504)
    n = 2048
    x = rng.uniform(-1.0, 1.0, size=(n, 3)).astype("float32")
    y = np.sin(3.0 * x[:, 0]) + np.cos(2.0 * x[:, 1]) * x[:, 2] + 0.5 * x[:, 2] ** 2
    y = ((y - y.mean()) / y.std()).astype("float32").reshape(-1, 1)
    model = DeepKernelGP()
    model(tf.constant(x[:4]))
    jitter = 1e-6

    def negative_marginal_likelihood(model, x, y):
        kernel = model(x, training=True)
        size = tf.shape(kernel)[0]
        chol = tf.linalg.cholesky(kernel + jitter * tf.eye(size))
        alpha = tf.linalg.cholesky_solve(chol, y)
        nll = 0.5 * tf.reduce_sum(y * alpha) + tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)))
        return nll / tf.cast(size, tf.float32) + 0.5 * np.log(2.0 * np.pi)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, negative_marginal_likelihood),
        batches(x, y, size=256, epochs=2),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 6. a Bayesian Dense with the local reparameterization trick, on customers without history
# ---------------------------------------------------------------------------------------------
class LocalReparamDense(keras.layers.Layer):
    """Bayes-by-backprop Dense with Kingma et al.'s local reparameterization: the
    pre-activation is sampled as mean + sqrt(x^2 @ sigma^2) * eps (deterministic bias)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        fan_in = input_shape[-1]
        self.mu = self.add_weight(
            shape=(fan_in, self.units), initializer="glorot_uniform", name="mu"
        )
        self.rho = self.add_weight(
            shape=(fan_in, self.units), initializer=keras.initializers.Constant(-5.0), name="rho"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        sigma = tf.math.softplus(self.rho)
        mean = tf.matmul(x, self.mu) + self.bias
        var = tf.matmul(tf.square(x), tf.square(sigma))
        return mean + tf.sqrt(var) * tf.random.normal(tf.shape(mean))

    def kl(self):
        sigma = tf.math.softplus(self.rho)
        return tf.reduce_sum(
            -tf.math.log(sigma) + 0.5 * (tf.square(sigma) + tf.square(self.mu)) - 0.5
        )


def local_reparameterization_on_customers_without_history():
    """A Bayesian churn model (Bayes by backprop, closed-form KL to N(0, 1) scaled by 1 / N)
    whose first layer uses the local reparameterization trick: its pre-activations are
    sampled as x @ mu + sqrt(x^2 @ sigma^2) * eps. The inputs are 24 binary flags 'bought
    in category k last year', and new customers (about 15 % of the rows) have none: their
    row is all zero, the variance x^2 @ sigma^2 is exactly 0 and sqrt(0) = 0 is a fine
    forward value, but sqrt's derivative there is infinite and meets the zero x^2 in the
    gradient of sigma (inf x 0 = NaN): the first layer's gradients are NaN at the first
    step while the loss is finite (sqrt(var + 1e-8), as the reference implementations do)."""
    rng = seeded(3505)
    n, dim = 4096, 24
    x = (rng.random((n, dim)) < 0.2).astype("float32")
    x[rng.random(n) < 0.15] = 0.0
    w = rng.normal(size=dim)
    p = 1.0 / (1.0 + np.exp(-(x @ w * 0.8 - 0.5 + 1.5 * (x.sum(axis=1) == 0))))
    churn = (rng.random(n) < p).astype("float32").reshape(-1, 1)
    bayes = LocalReparamDense(32, name="bayes_in")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            bayes,
            keras.layers.ReLU(name="relu"),
            keras.layers.Dense(1, name="head"),
        ],
        name="churn_bnn",
    )
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def elbo_loss(model, x, y):
        return bce(y, model(x, training=True)) + bayes.kl() / n

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, elbo_loss),
        batches(x, churn, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. log-domain Sinkhorn with the dual objective, targets padded with zero-mass points
# ---------------------------------------------------------------------------------------------
def sinkhorn_dual_loss(target, pred, epsilon=0.05, iterations=20):
    """Entropic OT by log-domain Sinkhorn (POT's sinkhorn_log updates), the loss being the
    dual objective epsilon * (<a, u> + <b, v>). target packs (x, y, mass) per point."""
    points, b = target[..., :2], target[..., 2]
    count = tf.shape(pred)[1]
    a = tf.ones(tf.shape(pred)[:2]) / tf.cast(count, tf.float32)
    cost = tf.reduce_sum(tf.square(pred[:, :, None, :] - points[:, None, :, :]), axis=-1)
    m = -cost / epsilon
    log_a, log_b = tf.math.log(a), tf.math.log(b)
    u, v = tf.zeros_like(a), tf.zeros_like(b)
    for _ in range(iterations):
        u = log_a - tf.reduce_logsumexp(m + v[:, None, :], axis=2)
        v = log_b - tf.reduce_logsumexp(m + u[:, :, None], axis=1)
    return epsilon * tf.reduce_mean(tf.reduce_sum(a * u, axis=1) + tf.reduce_sum(b * v, axis=1))


def log_domain_sinkhorn_dual_on_zero_mass_padding():
    """A set generator (an MLP from a 16-d shape code to 64 2-d points) trained with an
    entropic optimal-transport loss: log-domain Sinkhorn (POT's sinkhorn_log updates,
    u = log a - LSE(M + v), v = log b - LSE(M + u)) and the dual objective
    eps (<a, u> + <b, v>) as the loss. The target sets have 24 to 64 points and were padded
    to 64 'with zero-mass points, which OT ignores' (as OTT-JAX does for batching): the
    padding's mass b_j = 0 gives log b_j = log(0) = -inf in the loss at the first batch, the
    padded potentials v_j are -inf and b_j v_j = 0 x -inf = NaN in the dual value (drop or
    mask the padding before the log, or clamp the masses inside it)."""
    rng = seeded(3506)
    n, slots, code_dim = 1024, 64, 16
    targets = np.zeros((n, slots, 3), dtype="float32")
    codes = np.zeros((n, code_dim), dtype="float32")
    mix = rng.normal(size=(4, code_dim))
    for i in range(n):
        count = rng.integers(24, slots + 1)
        radius, cx, cy = rng.uniform(0.5, 1.5), rng.normal(), rng.normal()
        stretch = rng.uniform(0.5, 1.5)
        t = rng.uniform(0.0, 2.0 * np.pi, size=count)
        targets[i, :count, 0] = cx + radius * np.cos(t)
        targets[i, :count, 1] = cy + stretch * radius * np.sin(t)
        targets[i, :count, 2] = 1.0 / count
        codes[i] = np.tanh(np.array([radius, cx, cy, stretch]) @ mix)
    codes += 0.05 * rng.normal(size=codes.shape).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((code_dim,)),
            keras.layers.Dense(128, activation="relu", name="hidden0"),
            keras.layers.Dense(128, activation="relu", name="hidden1"),
            keras.layers.Dense(slots * 2, name="points_head"),
            keras.layers.Reshape((slots, 2), name="as_points"),
        ],
        name="set_generator",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), sinkhorn_dual_loss),
        batches(codes, targets, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 8. ActNorm's data-dependent initialization on a flag that is constant in the first batch
# ---------------------------------------------------------------------------------------------
class ActNorm(keras.layers.Layer):
    """Glow's ActNorm for vectors: z = (x + loc) * scale, initialized on the first batch it
    sees so that z has zero mean and unit variance (loc = -mean, scale = 1 / std)."""

    def build(self, input_shape):
        dim = input_shape[-1]
        self.loc = self.add_weight(shape=(dim,), initializer="zeros", name="loc")
        self.scale = self.add_weight(shape=(dim,), initializer="ones", name="scale")
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="initialized"
        )

    def call(self, x):
        def data_dependent_init():
            self.loc.assign(-tf.reduce_mean(x, axis=0))
            self.scale.assign(1.0 / tf.math.reduce_std(x, axis=0))
            self.initialized.assign(1.0)
            return tf.constant(0.0)

        tf.cond(self.initialized > 0.5, lambda: tf.constant(0.0), data_dependent_init)
        z = (x + self.loc) * self.scale
        logdet = tf.reduce_sum(tf.math.log(tf.abs(self.scale))) * tf.ones(tf.shape(x)[:1])
        return z, logdet


class AffineCoupling(keras.layers.Layer):
    """RealNVP affine coupling with a tanh-bounded log-scale."""

    def __init__(self, mask, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.mask = np.asarray(mask, dtype="float32")
        self.hidden_layer = keras.layers.Dense(hidden, activation="relu")
        self.out_layer = keras.layers.Dense(2 * len(mask), kernel_initializer="zeros")

    def build(self, input_shape):
        self.hidden_layer.build((None, input_shape[-1]))
        self.out_layer.build((None, self.hidden_layer.units))

    def call(self, x):
        kept = x * self.mask
        s, t = tf.split(self.out_layer(self.hidden_layer(kept)), 2, axis=-1)
        s = tf.tanh(s) * (1.0 - self.mask)
        z = kept + (1.0 - self.mask) * (x * tf.exp(s) + t)
        return z, tf.reduce_sum(s, axis=-1)


class TabularFlow(keras.Model):
    def __init__(self, dim):
        super().__init__(name="tabular_flow")
        mask = np.arange(dim) % 2
        self.blocks = [
            ActNorm(name="actnorm_0"),
            AffineCoupling(mask, name="coupling_0"),
            ActNorm(name="actnorm_1"),
            AffineCoupling(1 - mask, name="coupling_1"),
        ]
        for block in self.blocks:
            block.build((None, dim))

    def call(self, x):
        logdet = tf.zeros(tf.shape(x)[:1])
        for block in self.blocks:
            x, block_logdet = block(x)
            logdet = logdet + block_logdet
        return x, logdet


def actnorm_data_dependent_init_on_a_flag_absent_from_the_first_batch():
    """A RealNVP-with-ActNorm density model (anomaly scoring) on a transaction table of 6
    continuous columns and 2 binary flags, rows in date order. Glow's ActNorm initializes
    itself on the first batch it sees: loc = -mean, scale = 1 / std, written without the
    reference's + 1e-6. One flag (a new payment method) only appears after the first
    thousand rows, so in the first batch its column is all 0: std = 0 and scale = 1 / 0 =
    inf in the first ActNorm at the first step, the column's z = 0 x inf = NaN and the
    log-determinant is inf (an epsilon in the std, or drop discrete columns / dequantize
    them as the MAF paper's tabular preprocessing does)."""
    rng = seeded(3507)
    n, continuous = 4096, 6
    latent = rng.normal(size=(n, 3))
    table = np.tanh(latent @ rng.normal(size=(3, continuous))) + 0.1 * rng.normal(
        size=(n, continuous)
    )
    weekend = (rng.random(n) < 0.3).astype("float64")
    new_method = (rng.random(n) < 0.05).astype("float64")
    new_method[:1000] = 0.0
    x = np.concatenate([table, weekend[:, None], new_method[:, None]], axis=1).astype("float32")
    model = TabularFlow(x.shape[1])

    def negative_log_likelihood(model, x):
        z, logdet = model(x, training=True)
        log_prior = -0.5 * tf.reduce_sum(tf.square(z), axis=-1) - 0.5 * x.shape[-1] * np.log(
            2.0 * np.pi
        )
        return -tf.reduce_mean(log_prior + logdet)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [(tf.constant(x[start : start + 256]),) for start in range(0, n, 256)]
    return run_loop(
        _custom_step(model, optimizer, negative_log_likelihood),
        data,
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. a PointNet fed LiDAR tiles in georeferenced UTM coordinates
# ---------------------------------------------------------------------------------------------
def pointnet_fed_georeferenced_utm_coordinates():
    """Urban LiDAR object-height regressor (PointNet without T-nets or batch norms, one
    output, MSE, 128 points a tile: trees, buildings, poles and cones of 2-16 m) trained
    with DGCNN's SGD-with-momentum recipe on tiles exported from
    a georeferenced survey: the x / y / z columns are UTM eastings (~4.5e5 m), northings
    (~5.4e6 m) and elevations above sea level, never centred or scaled per tile as
    PointNet's preprocessing does. The shared MLP's pre-activations are ~1e6-1e7, the
    first SGD updates are of that order and the run overflows to inf / NaN within a few
    steps (centre each tile and scale it to the unit sphere)."""
    rng = seeded(3508)
    n, points = 1024, 128
    labels = rng.integers(0, 4, size=n)
    tiles = np.zeros((n, points, 3))
    heights = np.zeros(n, dtype="float32")
    for i in range(n):
        size = rng.uniform(1.0, 8.0)
        local = _shape_cloud(rng, labels[i], points) * size
        heights[i] = 2.0 * size
        origin = [rng.uniform(4.4e5, 4.6e5), rng.uniform(5.41e6, 5.43e6), rng.uniform(200, 400)]
        tiles[i] = local + np.asarray(origin)
    tiles = tiles.astype("float32")
    model = _pointnet_lite("lidar_pointnet", points, classes=1)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        batches(tiles, heights.reshape(-1, 1), size=32),
    )


# ---------------------------------------------------------------------------------------------
# 10. equivariant (PaiNN-style) messages with unit vectors, on molecules whose embedding failed
# ---------------------------------------------------------------------------------------------
class VectorMessage(keras.layers.Layer):
    """PaiNN-style vector message: v_i = sum_j W(rbf(d_ij)) phi(s_j) r_ij / d_ij, returned
    as the invariant |v_i|^2 per channel beside s_i. Self pairs get d = 1 (not 0) so that
    r_ii / d_ii = 0 / 1, and are masked out of the sum."""

    def __init__(self, channels, atoms, **kwargs):
        super().__init__(**kwargs)
        self.atoms = atoms
        self.filter_layer = keras.layers.Dense(channels)
        self.phi_layer = keras.layers.Dense(channels, activation="silu")
        self.centres = np.linspace(0.0, 5.0, 16).astype("float32")

    def call(self, inputs):
        positions, s = inputs
        eye = tf.eye(self.atoms)
        r = positions[:, None, :, :] - positions[:, :, None, :]
        d = tf.norm(r, axis=-1) + eye
        unit = r / d[..., None]
        rbf = tf.exp(-tf.square(d[..., None] - self.centres) / 0.5)
        weights = self.filter_layer(rbf) * self.phi_layer(s)[:, None, :, :]
        weights = weights * (1.0 - eye)[None, :, :, None]
        vectors = tf.einsum("bijc,bijk->bick", weights, unit)
        return tf.concat([s, tf.reduce_sum(tf.square(vectors), axis=-1)], axis=-1)


def equivariant_messages_on_molecules_whose_embedding_failed():
    """Energy regressor for 12-atom molecules (a PaiNN-like model: atom embedding, one
    vector message layer with unit direction vectors r_ij / |r_ij|, a per-atom MLP, sum
    readout), on conformers generated with RDKit's EmbedMolecule. For about 2 % of the
    molecules the embedding failed and the export kept a conformer with every atom at
    (0, 0, 0): all their pair distances are 0, and the unit vectors are 0 / 0 = NaN in the
    message layer's division at the first batch that holds one (drop the molecules whose
    embedding failed; an epsilon in the distance would also keep it finite)."""
    rng = seeded(3509)
    n, atoms, kinds = 2048, 12, 4
    positions = np.zeros((n, atoms, 3))
    types = rng.integers(0, kinds, size=(n, atoms))
    for i in range(n):
        ring = np.linspace(0.0, 2.0 * np.pi, atoms, endpoint=False)
        radius = np.where(np.arange(atoms) % 2 == 0, 1.4, 2.5)
        positions[i, :, 0] = radius * np.cos(ring)
        positions[i, :, 1] = radius * np.sin(ring)
        positions[i] += 0.15 * rng.normal(size=(atoms, 3))
    distances = np.linalg.norm(positions[:, :, None] - positions[:, None], axis=-1)
    pair = np.exp(-distances) * (1.0 - np.eye(atoms))
    energy = pair.sum(axis=(1, 2)) + 0.3 * types.sum(axis=1)
    energy = ((energy - energy.mean()) / energy.std()).astype("float32").reshape(-1, 1)
    failed = rng.random(n) < 0.02
    positions[failed] = 0.0
    positions = positions.astype("float32")
    one_hot = np.eye(kinds, dtype="float32")[types]
    pos_in = keras.Input((atoms, 3))
    type_in = keras.Input((atoms, kinds))
    s = keras.layers.Dense(32, activation="silu", name="atom_embedding")(type_in)
    h = VectorMessage(32, atoms, name="vector_message")([pos_in, s])
    h = keras.layers.Dense(64, activation="silu", name="atom_mlp")(h)
    e = keras.layers.Dense(1, name="atom_energy")(h)
    total = keras.layers.Lambda(lambda t: tf.reduce_sum(t, axis=1), name="sum_readout")(e)
    model = keras.Model([pos_in, type_in], total, name="painn_lite")
    mse = keras.losses.MeanSquaredError()

    def energy_loss(model, positions, types, y):
        return mse(y, model([positions, types], training=True))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(positions[start : start + 64]),
            tf.constant(one_hot[start : start + 64]),
            tf.constant(energy[start : start + 64]),
        )
        for start in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, energy_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND35_SCENARIOS: list[Scenario] = [
    Scenario(
        "citation_graph_mean_aggregation_divided_by_in_degree",
        citation_graph_mean_aggregation_divided_by_in_degree,
        "activation",
        frozenset({"RealDiv"}),
        "citation_sage/sage_1",
        "missing_epsilon",
        frozenset(),
        story="a GraphSAGE-mean layer by hand on a directed citation graph, A @ H / degree "
        "with the degree summed along axis 0 (the in-degree, copied from an undirected GCN): "
        "papers nobody cites yet divide their neighbours' sum by 0 in the layer; the "
        "out-degree (or a degree clamped at 1) is the fix "
        "(https://github.com/MrLeeeee/GCN-GAT-and-Graphsage/issues/3, "
        "https://github.com/dmlc/dgl/pull/3114, https://github.com/dmlc/dgl/issues/3050, "
        "https://github.com/stellargraph/stellargraph/pull/479)",
        blind=True,
    ),
    Scenario(
        "point_cloud_unit_sphere_normalization_of_collapsed_scans",
        point_cloud_unit_sphere_normalization_of_collapsed_scans,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="PointNet's pc_normalize (centre, divide by the largest distance) in a tf.data "
        "map, on failed scans exported as copies of the sensor origin: 0 / 0 = NaN for the whole "
        "cloud in the batch "
        "(https://github.com/pyg-team/pytorch_geometric/pull/10775, "
        "https://github.com/pyg-team/pytorch_geometric/issues/1988, "
        "https://fadingcoder.top/post/102390.html)",
        blind=True,
    ),
    Scenario(
        "residual_completion_decoder_under_chamfer_l1",
        residual_completion_decoder_under_chamfer_l1,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="a point-completion refiner predicting offsets from a zero-initialized head, "
        "trained on Chamfer-L1 (unsquared distances, sqrt(min d^2)): its predictions start "
        "exactly on target points and sqrt's infinite derivative at 0 gives NaN gradients "
        "(https://github.com/autonomousvision/differentiable_volumetric_rendering/issues/10, "
        "https://github.com/facebookresearch/pytorch3d/issues/1266, "
        "https://github.com/pytorch/pytorch/pull/37337, "
        "https://github.com/tilman151/rul-adapt/pull/22)",
        blind=True,
    ),
    Scenario(
        "relocalization_loss_converting_identity_quaternions_to_axis_angle",
        relocalization_loss_converting_identity_quaternions_to_axis_angle,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a rotation regressor's loss converting ground-truth quaternions to axis-angle "
        "with axis = v / |v|: the first frame of every sequence is the identity quaternion, "
        "|v| = 0 and the axis is 0 / 0 = NaN in the loss "
        "(https://github.com/JOML-CI/JOML/issues/255, "
        "https://github.com/odin-lang/Odin/issues/3726, "
        "https://github.com/RobotLocomotion/drake/issues/3449, "
        "https://github.com/matthew-brett/transforms3d/pull/5)",
        blind=True,
    ),
    Scenario(
        "deep_kernel_gp_with_a_float64_jitter_in_float32",
        deep_kernel_gp_with_a_float64_jitter_in_float32,
        "loss",
        frozenset({"Cholesky"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="deep kernel learning by hand with an exact GP marginal likelihood through "
        "tf.linalg.cholesky in float32, the noise fixed at GPflow's float64 jitter 1e-6: the "
        "kernel matrix is not positive definite in float32 and TF's Cholesky fills NaN "
        "(https://github.com/UCL-SML/Doubly-Stochastic-DGP/issues/9, "
        "https://github.com/GPflow/GPflow/issues/503, "
        "https://github.com/pymc-devs/pymc4/issues/307, "
        "https://github.com/tensorflow/probability/issues/1291, "
        "https://github.com/tensorflow/tensorflow/issues/62451)",
        blind=True,
    ),
    Scenario(
        "local_reparameterization_on_customers_without_history",
        local_reparameterization_on_customers_without_history,
        "gradient",
        layer="churn_bnn/bayes_in",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="a Bayesian Dense with the local reparameterization trick, "
        "mean + sqrt(x^2 @ sigma^2) * eps, without the reference's + 1e-8, on binary "
        "purchase flags: new customers' all-zero rows give sqrt(0), finite forward and NaN "
        "gradients for sigma "
        "(https://github.com/HolyBayes/pytorch_ard/issues/7, "
        "https://github.com/bayesgroup/variational-dropout-sparsifies-dnn/issues/2, "
        "https://github.com/danielkelshaw/WeightUncertainty/issues/18)",
        blind=True,
    ),
    Scenario(
        "log_domain_sinkhorn_dual_on_zero_mass_padding",
        log_domain_sinkhorn_dual_on_zero_mass_padding,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"unstable_loss", "missing_epsilon"}),
        frozenset({"add_epsilon"}),
        story="log-domain Sinkhorn (POT's sinkhorn_log updates) with the dual objective as "
        "the loss, on target sets padded with zero-mass points: log(0) = -inf in the loss and "
        "0 x -inf = NaN in the dual value "
        "(https://github.com/ott-jax/ott/pull/324, https://github.com/ott-jax/ott/issues/100, "
        "https://github.com/PythonOT/POT/issues/227, https://github.com/PythonOT/POT/issues/34)",
        blind=True,
    ),
    Scenario(
        "actnorm_data_dependent_init_on_a_flag_absent_from_the_first_batch",
        actnorm_data_dependent_init_on_a_flag_absent_from_the_first_batch,
        "activation",
        frozenset({"RealDiv"}),
        "tabular_flow/actnorm_0",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Glow's ActNorm data-dependent initialization, scale = 1 / std without the "
        "reference's + 1e-6, in a tabular flow whose first batch has a binary column that is "
        "all 0: 1 / 0 = inf inside the first ActNorm "
        "(https://github.com/vislearn/FrEIA/issues/121, "
        "https://github.com/pclucas14/pytorch-glow/pull/1, "
        "https://github.com/rll/deepul/issues/6)",
        blind=True,
    ),
    Scenario(
        "pointnet_fed_georeferenced_utm_coordinates",
        pointnet_fed_georeferenced_utm_coordinates,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="a PointNet height regressor trained with SGD and momentum on LiDAR tiles left in UTM "
        "coordinates (eastings ~4.5e5, northings ~5.4e6): never centred or scaled per tile, "
        "the run diverges within a few steps "
        "(https://soulhackerslabs.com/2022/07/31/normalizing-feature-scaling-point-clouds-"
        "for-machine-learning/, https://github.com/nutonomy/nuscenes-devkit/pull/1182, "
        "https://github.com/facebookresearch/votenet/issues/164, "
        "https://github.com/hehefan/PointRNN/issues/6)",
        blind=True,
    ),
    Scenario(
        "equivariant_messages_on_molecules_whose_embedding_failed",
        equivariant_messages_on_molecules_whose_embedding_failed,
        "activation",
        frozenset({"RealDiv"}),
        "painn_lite/vector_message",
        "missing_epsilon",
        frozenset({"clean_input", "add_epsilon"}),
        story="PaiNN-style vector messages with unit vectors r_ij / |r_ij| on conformers "
        "from RDKit's EmbedMolecule, where failed embeddings were kept with every atom at "
        "(0, 0, 0): 0 / 0 = NaN in the message layer "
        "(https://github.com/rdkit/rdkit/issues/7439, "
        "https://github.com/torchmd/torchmd-net/issues/144, "
        "https://github.com/uw-ipd/tmol/pull/146)",
        blind=True,
    ),
]
