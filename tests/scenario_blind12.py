"""A twelfth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind11.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears, why,
and the first fix to try), and all of them were written into this file before anything was run.
Fix ids are only those of the design notes' taxonomy; where none of them is the first fix a
careful engineer would try, the fix set is left empty, and where none of the taxonomy's cause ids
describes the cause (the empty-segment sentinel of a max aggregation; a beta_1 of 0 in an
optimizer that divides by beta_1) the cause is left unset (not checked). The only thing checked
while writing them is that plain TensorFlow, unwatched, really goes non-finite on their batches
(and at which step), and (with tf.debugging.enable_check_numerics, plain TF) which op first
produces the non-finite value, in a throwaway script outside the repository that stands in
plain-TF versions of the loop helpers and asserts that nantrace was never imported.
No candidate pattern was dropped: plain TF goes non-finite at step 0 (the first batch) in all ten,
and no expectation was changed by the check. What the check showed, recorded here without changing
any field: the loss of step 0 is itself inf / NaN in seven of them; in the minibatch-stddev and
the schedule-free scenarios the loss of step 0 is finite and the first update leaves NaN / inf in
the discriminator's weights (as expected: backward and update origins), and in the intrusion
scenario the loss of step 0 also printed finite while the first update wrote NaN into the weights
(the NaN rows are in the batch all the same). The first op check_numerics names: Log in the
tf.data map's encoding (-inf) for the box targets; the first MatMul of the model, the first op to
read the batch, for the flow features; RealDiv in the loss for Min-SNR; Log in the loss for the
log_softmax head; SqrtGrad (+inf) in the discriminator's gradient for the minibatch-stddev layer
(which is why its op type is left unchecked); MatMul of citation_gnn/update (+inf and -inf) for
the max aggregation; RealDiv inside the discriminator optimizer's apply_gradients for
schedule-free; RealDiv of kernel / sigma inside critic_out for the spectral norm; Exp inside
lse_pool; Sqrt inside the sampling layer for the VAE. Slip, before any run: two citations of the
VAE story written from memory were replaced by ones found by search (no field touched); the
check script's own first version tripped on the VAE's int64 seed-generator variable and was
fixed there (nothing in this file).
This set favours situations ordinary Keras users meet: a zero-width box annotation turned into a
log-size regression target in a tf.data map, intrusion-detection flow features with CICFlowMeter's
Infinity / NaN rates of zero-duration flows, Min-SNR loss weighting on a zero-terminal-SNR
diffusion schedule, a model ported from PyTorch that ends in log_softmax and gets a cross-entropy
that takes the log again, a GAN discriminator's minibatch-stddev layer without its epsilon, a
GNN's max aggregation over nodes without neighbours, ScheduleFreeAdamW run with the GAN recipe's
beta_1 = 0, a hand-written spectral normalization on a zero-initialized output kernel,
log-sum-exp pooling of class maps computed from raw 0-255 X-ray pixels, and a VAE whose variance
head is linear and square-rooted in the sampling layer. Each story cites the public report(s) the
pattern comes from. Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. a zero-width box annotation encoded as a log-size regression target in tf.data
# ---------------------------------------------------------------------------------------------
def zero_width_box_annotation_log_encoded_target():
    """Single-object localizer (a small CNN regressing the box deltas of one object per image
    against one anchor, SSD / Faster R-CNN style: centre offsets and log(w / w_anchor),
    log(h / h_anchor)). The targets are encoded in the tf.data pipeline, as the Keras RetinaNet
    example does, with tf.math.log and no epsilon. Three annotations of the dataset were saved
    from a click instead of a drag in the labelling tool: x2 == x1, a zero-width box, and
    log(0 / 8) = -inf is in the label batch before the model runs (drop or repair the degenerate
    annotations)."""
    rng = seeded(1400)
    n, size = 256, 32
    images = 0.05 * rng.random((n, size, size, 1))
    x1 = rng.integers(2, 18, size=n)
    y1 = rng.integers(2, 18, size=n)
    w = rng.integers(4, 12, size=n)
    h = rng.integers(4, 12, size=n)
    for i in range(n):
        images[i, y1[i] : y1[i] + h[i], x1[i] : x1[i] + w[i], 0] = 1.0
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype("float32")
    for i in (9, 100, 201):
        boxes[i, 2] = boxes[i, 0]
    anchor = tf.constant([16.0, 16.0, 8.0, 8.0])

    def encode(image, box):
        cx = 0.5 * (box[0] + box[2])
        cy = 0.5 * (box[1] + box[3])
        target = tf.stack(
            [
                (cx - anchor[0]) / anchor[2],
                (cy - anchor[1]) / anchor[3],
                tf.math.log((box[2] - box[0]) / anchor[2]),
                tf.math.log((box[3] - box[1]) / anchor[3]),
            ]
        )
        return image, target

    dataset = (
        tf.data.Dataset.from_tensor_slices((images.astype("float32"), boxes)).map(encode).batch(32)
    )
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(4, name="box_deltas"),
        ],
        name="box_regressor",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.Huber()),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 2. CICFlowMeter rate features of zero-duration flows (Infinity / NaN in the CSV)
# ---------------------------------------------------------------------------------------------
def intrusion_flow_rates_of_zero_duration_flows():
    """Network intrusion detector (an MLP on CICIDS2017-style flow features). CICFlowMeter writes
    Flow Bytes/s and Flow Packets/s as bytes / duration and the mean inter-arrival time as
    duration / (packets - 1): a single-packet flow has a duration of 0 and gets Infinity for the
    rates and NaN for the mean IAT in the CSV, which pandas reads as inf and nan. The features go
    through np.log1p for their heavy tails (log1p(inf) = inf) and the batch holds inf and NaN
    before any op runs (replace the infinities and drop or impute those rows)."""
    rng = seeded(1401)
    n = 2048
    attack = rng.random(n) < 0.3
    duration_us = rng.lognormal(np.where(attack, 8.0, 11.0), 1.5)
    fwd_packets = 1 + rng.poisson(np.where(attack, 2.0, 12.0))
    bwd_packets = rng.poisson(np.where(attack, 1.0, 10.0))
    fwd_bytes = fwd_packets * rng.uniform(40.0, np.where(attack, 80.0, 1400.0))
    bwd_bytes = bwd_packets * rng.uniform(40.0, 1400.0, size=n)
    single = np.arange(n) % 53 == 7
    duration_us[single] = 0.0
    fwd_packets[single] = 1
    bwd_packets[single] = 0
    bwd_bytes[single] = 0.0
    packets = fwd_packets + bwd_packets
    with np.errstate(divide="ignore", invalid="ignore"):
        flow_bytes_s = (fwd_bytes + bwd_bytes) / (duration_us / 1e6)
        flow_packets_s = packets / (duration_us / 1e6)
        mean_iat = duration_us / (packets - 1)
    table = np.stack(
        [
            duration_us,
            fwd_packets,
            bwd_packets,
            fwd_bytes,
            bwd_bytes,
            flow_bytes_s,
            flow_packets_s,
            mean_iat,
        ],
        axis=1,
    )
    x = np.log1p(table).astype("float32")
    y = attack.astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="attack_logit"),
        ],
        name="flow_ids",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 3. Min-SNR-gamma loss weights on a zero-terminal-SNR diffusion schedule
# ---------------------------------------------------------------------------------------------
def min_snr_weight_on_a_zero_terminal_snr_schedule():
    """A small v-prediction diffusion model (an MLP denoiser on 2-D swiss-roll points) whose
    noise schedule is rescaled to zero terminal SNR (Lin et al. 2024, 'Common diffusion noise
    schedules and sample steps are flawed': alpha_bar_T = 0 exactly), trained with Min-SNR-gamma
    loss weighting written in two steps as several training scripts did, min(SNR, gamma) / SNR
    and then * SNR / (SNR + 1) 'to scale the v-prediction loss like noise prediction'. For the
    samples drawn at t = T the SNR is exactly 0 and the first weight is 0 / 0 = NaN in the loss
    (min(SNR, gamma) / (SNR + 1) in one step, as the reference implementation, or a floor on
    the SNR)."""
    rng = seeded(1402)
    n, steps, gamma = 4096, 100, 5.0
    theta = rng.uniform(1.5 * np.pi, 4.5 * np.pi, size=n)
    x0 = np.stack([theta * np.cos(theta), theta * np.sin(theta)], axis=1) / 10.0
    x0 = (x0 + 0.02 * rng.normal(size=(n, 2))).astype("float32")
    noise = rng.normal(size=(n, 2)).astype("float32")
    t = rng.integers(0, steps, size=n).astype("int32")
    betas = np.linspace(1e-4, 0.2, steps)
    sqrt_bar = np.sqrt(np.cumprod(1.0 - betas))
    first, last = sqrt_bar[0], sqrt_bar[-1]
    sqrt_bar = (sqrt_bar - last) * first / (first - last)
    alpha_bar = tf.constant((sqrt_bar**2).astype("float32"))
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(128, activation="silu", name="hidden0"),
            keras.layers.Dense(128, activation="silu", name="hidden1"),
            keras.layers.Dense(2, name="v_pred"),
        ],
        name="swissroll_denoiser",
    )

    def v_loss(model, clean, eps, step):
        ab = tf.gather(alpha_bar, step)[:, None]
        noisy = tf.sqrt(ab) * clean + tf.sqrt(1.0 - ab) * eps
        velocity = tf.sqrt(ab) * eps - tf.sqrt(1.0 - ab) * clean
        time = tf.cast(step, tf.float32)[:, None] / steps
        pred = model(tf.concat([noisy, time], axis=-1), training=True)
        snr = ab[:, 0] / (1.0 - ab[:, 0])
        weight = tf.minimum(snr, gamma) / snr
        weight = weight * snr / (snr + 1.0)
        return tf.reduce_mean(weight * tf.reduce_mean(tf.square(pred - velocity), axis=-1))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (tf.constant(x0[i : i + 256]), tf.constant(noise[i : i + 256]), tf.constant(t[i : i + 256]))
        for i in range(0, n, 256)
    ]
    return run_loop(_custom_step(model, optimizer, v_loss), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 4. a log_softmax head (ported from PyTorch's NLLLoss setup) with a cross-entropy that logs again
# ---------------------------------------------------------------------------------------------
def cross_entropy_by_hand_on_a_log_softmax_head():
    """News-topic classifier ported from PyTorch, where the model ends in nn.LogSoftmax for
    nn.NLLLoss: the Keras port keeps Dense(activation='log_softmax') as the output layer and
    reuses the project's hand-written cross-entropy -sum(y * log(p)), which expects
    probabilities. The outputs are log-probabilities, all negative, and log of a negative number
    is NaN in the loss at the first step (use the log-probabilities directly, -sum(y * log_p), or
    a cross-entropy from the logits)."""
    rng = seeded(1403)
    n, dim, classes = 1024, 30, 5
    x = rng.normal(size=(n, dim))
    w = rng.normal(size=(dim, classes))
    labels = np.argmax(x @ w + 0.5 * rng.normal(size=(n, classes)), axis=1)
    y = np.eye(classes)[labels].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(classes, activation="log_softmax", name="log_probs"),
        ],
        name="topic_classifier",
    )

    def cross_entropy(target, probs):
        return -tf.reduce_mean(tf.reduce_sum(target * tf.math.log(probs), axis=-1))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), cross_entropy),
        batches(x.astype("float32"), y),
    )


# ---------------------------------------------------------------------------------------------
# 5. ProGAN's minibatch-stddev layer without its epsilon, on digits with blank borders
# ---------------------------------------------------------------------------------------------
class MinibatchStdDev(keras.layers.Layer):
    """ProGAN's minibatch standard deviation (Karras et al. 2018) over the whole batch, written
    as sqrt(mean((x - mean)^2)) without the paper's + 1e-8 under the square root."""

    def call(self, x):
        mean = tf.reduce_mean(x, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=0))
        stat = tf.reduce_mean(std)
        return tf.concat([x, tf.ones_like(x[..., :1]) * stat], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def _digit_strokes(rng, n, size=28, radius=8.0):
    """MNIST-like stroke images: two or three line segments inside a disk around the centre, the
    corners of the 28x28 frame blank in every image (as in MNIST)."""
    images = np.zeros((n, size, size, 1), dtype="float32")
    centre = (size - 1) / 2.0
    for i in range(n):
        for _ in range(rng.integers(2, 4)):
            angles = rng.uniform(0, 2 * np.pi, size=2)
            radii = radius * np.sqrt(rng.uniform(0, 1, size=2))
            ends = centre + np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
            for s in np.linspace(0.0, 1.0, 24):
                r, c = np.round(ends[0] + s * (ends[1] - ends[0])).astype(int)
                images[i, r : r + 2, c : c + 2, 0] = 1.0
    return images


def minibatch_stddev_without_epsilon_on_blank_borders():
    """DCGAN on MNIST-like digits whose discriminator has ProGAN's minibatch-stddev layer before
    its head, written without the epsilon under the square root. The digits leave the corners of
    the frame blank, the convolutions' biases start at 0, so the features over the corners are
    exactly 0 for every real image: their batch variance is 0, the forward value sqrt(0) = 0 is
    fine, but the derivative of sqrt at 0 is infinite and times the zero deviations gives NaN in
    the discriminator's gradient at the first step (sqrt(var + 1e-8), as the paper and StyleGAN
    code write it)."""
    rng = seeded(1404)
    n, latent = 512, 32
    real = _digit_strokes(rng, n)
    z = rng.normal(size=(n, latent)).astype("float32")
    generator = keras.Sequential(
        [
            keras.Input((latent,)),
            keras.layers.Dense(7 * 7 * 32, activation="relu", name="project"),
            keras.layers.Reshape((7, 7, 32), name="reshape"),
            keras.layers.Conv2DTranspose(
                16, 3, strides=2, padding="same", activation="relu", name="up0"
            ),
            keras.layers.Conv2DTranspose(
                1, 3, strides=2, padding="same", activation="sigmoid", name="up1"
            ),
        ],
        name="digit_generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", name="down0"),
            keras.layers.LeakyReLU(0.2, name="leaky0"),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", name="down1"),
            keras.layers.LeakyReLU(0.2, name="leaky1"),
            MinibatchStdDev(name="minibatch_stddev"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(1, name="real_logit"),
        ],
        name="digit_discriminator",
    )
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(images, noise):
        with tf.GradientTape() as tape:
            fake = generator(noise, training=True)
            real_logits = discriminator(images, training=True)
            fake_logits = discriminator(fake, training=True)
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(
                tf.zeros_like(fake_logits), fake_logits
            )
        grads = tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(grads, discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            fake_logits = discriminator(generator(noise, training=True), training=True)
            g_loss = bce(tf.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(grads, generator.trainable_variables, strict=True))
        return d_loss

    return run_loop(train_step, batches(real, z, size=64), model=discriminator, optimizer=d_opt)


# ---------------------------------------------------------------------------------------------
# 6. a GNN's max aggregation over nodes without neighbours
# ---------------------------------------------------------------------------------------------
class MaxAggregate(keras.layers.Layer):
    """Max aggregation of the neighbours' messages, as the Keras GNN node-classification example
    writes it: tf.math.unsorted_segment_max over the edge targets."""

    def __init__(self, sources, targets, **kwargs):
        super().__init__(**kwargs)
        self.sources = tf.constant(sources, dtype=tf.int32)
        self.targets = tf.constant(targets, dtype=tf.int32)

    def call(self, h):
        messages = tf.gather(h, self.sources)
        return tf.math.unsorted_segment_max(messages, self.targets, num_segments=tf.shape(h)[0])

    def compute_output_shape(self, input_shape):
        return input_shape


def graph_max_aggregation_of_isolated_nodes():
    """Paper-topic classification on a CiteSeer-like citation graph (bag-of-words node features)
    with a message-passing layer whose aggregation is switched from 'sum' to 'max', as the Keras
    GNN example allows (tf.math.unsorted_segment_max). CiteSeer has papers that cite and are cited
    by no other paper: for a node without incoming edges the segment is empty, and TF's segment
    max returns the lowest float32, -3.4e38, as its 'maximum'. That finite sentinel goes into the
    next Dense layer with the node's own message, and its matrix product overflows to inf / NaN
    at the first forward pass (replace the empty segments' value by 0, or add self-loops)."""
    rng = seeded(1405)
    nodes, features, classes = 600, 50, 6
    label = rng.integers(0, classes, size=nodes)
    topic_words = rng.random((classes, features)) < 0.15
    x = (rng.random((nodes, features)) < np.where(topic_words[label], 0.5, 0.05)).astype("float32")
    isolated = np.arange(nodes) % 37 == 5
    sources, targets = [], []
    for node in np.flatnonzero(~isolated):
        same = np.flatnonzero((label == label[node]) & ~isolated)
        for other in rng.choice(same, size=3):
            if other != node:
                sources += [node, other]
                targets += [other, node]
    features_in = keras.Input((features,), name="bag_of_words")
    message = keras.layers.Dense(32, activation="relu", name="message")(features_in)
    aggregated = MaxAggregate(sources, targets, name="max_aggregate")(message)
    combined = keras.layers.Concatenate(name="combine")([message, aggregated])
    hidden = keras.layers.Dense(32, activation="relu", name="update")(combined)
    logits = keras.layers.Dense(classes, name="logits")(hidden)
    model = keras.Model(features_in, logits, name="citation_gnn")
    graph = (tf.constant(x), tf.constant(label.astype("int32")))
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        [graph] * 5,
    )


# ---------------------------------------------------------------------------------------------
# 7. ScheduleFreeAdamW with the GAN recipe's beta_1 = 0
# ---------------------------------------------------------------------------------------------
def schedule_free_adamw_with_the_gan_beta_1_of_zero():
    """A GAN on a 2-D ring of Gaussians whose optimizers are switched from the SAGAN / StyleGAN
    recipe Adam(learning_rate=2e-4, beta_1=0.0, beta_2=0.99) to Keras' ScheduleFreeAdamW with the
    same betas. Schedule-free stores y = (1 - beta_1) z + beta_1 x and recovers
    x = (y - (1 - beta_1) z) / beta_1 at every update: with beta_1 = 0 that division is by 0 and
    the first update writes inf / NaN into every discriminator weight, from finite gradients
    (keep beta_1 > 0 with schedule-free: its beta_1 is an interpolation weight, not Adam's
    momentum)."""
    rng = seeded(1406)
    n, latent = 2048, 8
    angle = 2 * np.pi * rng.integers(0, 8, size=n) / 8
    real = np.stack([np.cos(angle), np.sin(angle)], axis=1) * 2.0
    real = (real + 0.05 * rng.normal(size=(n, 2))).astype("float32")
    z = rng.normal(size=(n, latent)).astype("float32")
    generator = keras.Sequential(
        [
            keras.Input((latent,)),
            keras.layers.Dense(64, activation="relu", name="g_hidden0"),
            keras.layers.Dense(64, activation="relu", name="g_hidden1"),
            keras.layers.Dense(2, name="g_out"),
        ],
        name="ring_generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(64, activation="relu", name="d_hidden0"),
            keras.layers.Dense(64, activation="relu", name="d_hidden1"),
            keras.layers.Dense(1, name="d_logit"),
        ],
        name="ring_discriminator",
    )
    d_opt = keras.optimizers.ScheduleFreeAdamW(2e-4, beta_1=0.0, beta_2=0.99)
    g_opt = keras.optimizers.ScheduleFreeAdamW(2e-4, beta_1=0.0, beta_2=0.99)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(points, noise):
        with tf.GradientTape() as tape:
            real_logits = discriminator(points, training=True)
            fake_logits = discriminator(generator(noise, training=True), training=True)
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(
                tf.zeros_like(fake_logits), fake_logits
            )
        grads = tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(grads, discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            fake_logits = discriminator(generator(noise, training=True), training=True)
            g_loss = bce(tf.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(grads, generator.trainable_variables, strict=True))
        return d_loss

    return run_loop(train_step, batches(real, z, size=128), model=discriminator, optimizer=d_opt)


# ---------------------------------------------------------------------------------------------
# 8. a hand-written spectral normalization on a zero-initialized output kernel
# ---------------------------------------------------------------------------------------------
def _l2_normalize(v, eps=1e-12):
    return v / (tf.sqrt(tf.reduce_sum(tf.square(v))) + eps)


class SpectralDense(keras.layers.Layer):
    """Dense with spectral normalization by one power iteration (Miyato et al. 2018), as the
    pre-2023 Keras GAN repositories write it: W / sigma with sigma = v W u^T."""

    def __init__(self, units, activation=None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.u = self.add_weight(
            shape=(1, self.units),
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
            trainable=False,
            name="sn_u",
        )

    def call(self, x, training=False):
        v = tf.stop_gradient(_l2_normalize(tf.matmul(self.u, self.kernel, transpose_b=True)))
        u = tf.stop_gradient(_l2_normalize(tf.matmul(v, self.kernel)))
        sigma = tf.matmul(tf.matmul(v, self.kernel), u, transpose_b=True)
        kernel = self.kernel / sigma
        if training:
            self.u.assign(u)
        return self.activation(tf.matmul(x, kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


def spectral_norm_by_hand_on_a_zero_initialized_output_kernel():
    """SNGAN-style critic for synthetic tabular data (a CTGAN-like generator of 8 numeric
    columns), every Dense spectrally normalized by a hand-written layer, and the critic's output
    layer zero-initialized ('zero-init the last layer', as in ReZero / Fixup / diffusion code).
    For a zero kernel the power iteration gives v = u = 0 and sigma = v W u^T = 0, and the
    normalized kernel W / sigma is 0 / 0 = NaN inside the output layer at the first forward pass
    (don't zero-initialize a spectrally normalized kernel, or guard sigma)."""
    rng = seeded(1407)
    n, dim, latent = 2048, 8, 16
    mix = rng.normal(size=(4, dim))
    real = (np.tanh(rng.normal(size=(n, 4)) @ mix) + 0.1 * rng.normal(size=(n, dim))).astype(
        "float32"
    )
    z = rng.normal(size=(n, latent)).astype("float32")
    generator = keras.Sequential(
        [
            keras.Input((latent,)),
            keras.layers.Dense(64, activation="relu", name="g_hidden0"),
            keras.layers.Dense(64, activation="relu", name="g_hidden1"),
            keras.layers.Dense(dim, name="g_out"),
        ],
        name="table_generator",
    )
    critic = keras.Sequential(
        [
            keras.Input((dim,)),
            SpectralDense(64, activation="leaky_relu", name="critic_hidden0"),
            SpectralDense(64, activation="leaky_relu", name="critic_hidden1"),
            SpectralDense(1, kernel_initializer="zeros", name="critic_out"),
        ],
        name="sn_critic",
    )
    c_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def train_step(rows, noise):
        with tf.GradientTape() as tape:
            real_score = critic(rows, training=True)
            fake_score = critic(generator(noise, training=True), training=True)
            c_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_score)) + tf.reduce_mean(
                tf.nn.relu(1.0 + fake_score)
            )
        grads = tape.gradient(c_loss, critic.trainable_variables)
        c_opt.apply_gradients(zip(grads, critic.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(critic(generator(noise, training=True), training=True))
        grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(grads, generator.trainable_variables, strict=True))
        return c_loss

    return run_loop(train_step, batches(real, z, size=128), model=critic, optimizer=c_opt)


# ---------------------------------------------------------------------------------------------
# 9. log-sum-exp pooling by hand on class maps of raw 0-255 X-ray pixels
# ---------------------------------------------------------------------------------------------
class LogSumExpPooling(keras.layers.Layer):
    """LSE pooling of class activation maps, (1 / r) log(mean(exp(r x))), as in ChestX-ray8
    (Wang et al. 2017) and Pinheiro & Collobert (2015), written directly from the formula."""

    def __init__(self, r=10.0, **kwargs):
        super().__init__(**kwargs)
        self.r = r

    def call(self, x):
        return tf.math.log(tf.reduce_mean(tf.exp(self.r * x), axis=[1, 2])) / self.r

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def lse_pooling_by_hand_on_raw_xray_pixels():
    """Weakly supervised multi-label X-ray classifier in the ChestX-ray8 style: a CNN produces one
    activation map per finding and log-sum-exp pooling with r = 10 turns each map into an image
    score. The PNGs are decoded to 0-255 and the Rescaling(1/255) step was left out, so the class
    maps reach the hundreds and exp(r x) overflows float32 (x > 8.9) inside the pooling layer at
    the first forward pass (scale the pixels; the max-subtracted LSE is the stable form)."""
    rng = seeded(1408)
    n, size, findings = 128, 48, 3
    yy, xx = np.mgrid[0:size, 0:size]
    images = rng.uniform(60.0, 120.0, size=(n, 1, 1)) + 20.0 * rng.normal(size=(n, size, size))
    labels = (rng.random((n, findings)) < 0.3).astype("float32")
    for i in range(n):
        for k in np.flatnonzero(labels[i]):
            cy, cx = rng.uniform(8, size - 8, size=2)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (2.0 + 2.0 * k) ** 2))
            images[i] += 90.0 * blob
    images = np.clip(np.round(images), 0, 255)[..., None].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(findings, 1, name="class_maps"),
            LogSumExpPooling(10.0, name="lse_pool"),
        ],
        name="xray_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(images, labels),
    )


# ---------------------------------------------------------------------------------------------
# 10. a VAE whose variance head is linear and square-rooted in the sampling layer
# ---------------------------------------------------------------------------------------------
class VarianceSampling(keras.layers.Layer):
    """The reparameterization z = mu + sqrt(var) * eps, the encoder's second head read as the
    variance itself."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1409)

    def call(self, inputs):
        z_mean, z_var = inputs
        eps = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
        return z_mean + tf.sqrt(z_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def vae_sampling_with_sqrt_of_a_linear_variance_head():
    """Anomaly-detection VAE on machine sensor vectors, adapted from the Keras VAE example, whose
    encoder's second head was renamed z_var and read as the variance: the sampling layer
    computes z_mean + sqrt(z_var) * eps and the KL term uses log(z_var), while the head is still
    a linear Dense. About half of its outputs are negative at initialization and sqrt of a
    negative number is NaN inside the sampling layer at the first forward pass (predict the
    log-variance and use exp(0.5 * z_log_var), as the example does, or a softplus head)."""
    rng = seeded(1409)
    n, dim, latent = 1024, 24, 2
    factors = rng.normal(size=(n, 3))
    x = (np.tanh(factors @ rng.normal(size=(3, dim))) + 0.1 * rng.normal(size=(n, dim))).astype(
        "float32"
    )
    inputs = keras.Input((dim,), name="sensors")
    hidden = keras.layers.Dense(64, activation="relu", name="enc_hidden")(inputs)
    z_mean = keras.layers.Dense(latent, name="z_mean")(hidden)
    z_var = keras.layers.Dense(latent, name="z_var")(hidden)
    z = VarianceSampling(name="sampling")([z_mean, z_var])
    decoded = keras.layers.Dense(64, activation="relu", name="dec_hidden")(z)
    recon = keras.layers.Dense(dim, name="recon")(decoded)
    model = keras.Model(inputs, [recon, z_mean, z_var], name="sensor_vae")

    def vae_loss(model, batch):
        recon, mean, var = model(batch, training=True)
        rec = tf.reduce_mean(tf.reduce_sum(tf.square(batch - recon), axis=-1))
        kl = -0.5 * tf.reduce_mean(
            tf.reduce_sum(1.0 + tf.math.log(var) - tf.square(mean) - var, axis=-1)
        )
        return rec + kl

    optimizer = keras.optimizers.Adam(1e-3)
    data = [(tf.constant(x[i : i + 64]),) for i in range(0, n, 64)]
    return run_loop(
        _custom_step(model, optimizer, vae_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND12_SCENARIOS: list[Scenario] = [
    Scenario(
        "zero_width_box_annotation_log_encoded_target",
        zero_width_box_annotation_log_encoded_target,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="box regression targets log(w / w_anchor) encoded in a tf.data map without an "
        "epsilon; annotations with x2 == x1 (a click instead of a drag) give log(0) = -inf in "
        "the label batch; drop or repair the degenerate boxes "
        "(https://github.com/amdegroot/ssd.pytorch/pull/116, "
        "https://github.com/thsant/wgisd/pull/2, "
        "https://github.com/keras-team/keras-io/issues/586, "
        "https://github.com/keras-team/keras-cv/issues/845)",
        blind=True,
    ),
    Scenario(
        "intrusion_flow_rates_of_zero_duration_flows",
        intrusion_flow_rates_of_zero_duration_flows,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="CICIDS2017-style flow features: CICFlowMeter's Flow Bytes/s and Flow Packets/s "
        "are Infinity and the mean IAT NaN for single-packet (zero-duration) flows; log1p keeps "
        "them, and the batch holds inf / NaN; replace and drop or impute those rows "
        "(https://github.com/GintsEngelen/CICFlowMeter/pull/16, "
        "https://github.com/ahlashkari/CICFlowMeter/issues/38, "
        "https://github.com/GintsEngelen/CICFlowMeter/pull/12)",
        blind=True,
    ),
    Scenario(
        "min_snr_weight_on_a_zero_terminal_snr_schedule",
        min_snr_weight_on_a_zero_terminal_snr_schedule,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Min-SNR-gamma weights written min(SNR, gamma) / SNR (then * SNR / (SNR + 1) for "
        "v-prediction) on a noise schedule rescaled to zero terminal SNR: at t = T the SNR is "
        "exactly 0 and the weight is 0 / 0 in the loss; divide by SNR + 1 in one step "
        "(https://github.com/kohya-ss/sd-scripts/pull/934, "
        "https://github.com/kohya-ss/sd-scripts/issues/673, "
        "https://github.com/huggingface/diffusers/pull/5096, "
        "https://github.com/huggingface/diffusers/pull/5238, "
        "https://github.com/TiankaiHang/Min-SNR-Diffusion-Training/pull/4, "
        "https://github.com/bghira/SimpleTuner/pull/187)",
        blind=True,
    ),
    Scenario(
        "cross_entropy_by_hand_on_a_log_softmax_head",
        cross_entropy_by_hand_on_a_log_softmax_head,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset({"use_from_logits"}),
        story="a model ported from PyTorch ends in log_softmax (for NLLLoss) and gets a "
        "hand-written -sum(y log p): the log is applied to log-probabilities, all negative, and "
        "is NaN in the loss; use the log-probabilities directly or a cross-entropy from logits "
        "(https://runebook.dev/en/docs/pytorch/generated/torch.nn.logsoftmax/torch.nn.LogSoftmax, "
        "https://stats.stackexchange.com/questions/436766/cross-entropy-with-log-softmax-activation, "
        "https://github.com/skorch-dev/skorch/issues/519, "
        "https://github.com/pandeykartikey/Hierarchical-Attention-Network/issues/3)",
        blind=True,
    ),
    Scenario(
        "minibatch_stddev_without_epsilon_on_blank_borders",
        minibatch_stddev_without_epsilon_on_blank_borders,
        "gradient",
        frozenset(),
        "digit_discriminator/minibatch_stddev",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="ProGAN's minibatch-stddev layer written without + 1e-8 under the square root in a "
        "DCGAN discriminator on digits with blank borders: the corner features are 0 for every "
        "real image, the batch variance is 0 and sqrt's derivative at 0 makes the "
        "discriminator's gradient NaN at the first step "
        "(https://github.com/GANs-in-Action/gans-in-action/issues/8, "
        "https://github.com/AYLIEN/gan-intro/issues/1, "
        "https://github.com/NVlabs/stylegan2/blob/master/training/networks_stylegan2.py, "
        "https://arxiv.org/abs/1710.10196)",
        blind=True,
    ),
    Scenario(
        "graph_max_aggregation_of_isolated_nodes",
        graph_max_aggregation_of_isolated_nodes,
        "matmul_overflow",
        frozenset({"MatMul"}),
        "citation_gnn/update",
        None,
        frozenset(),
        story="a message-passing layer with tf.math.unsorted_segment_max aggregation on a "
        "citation graph with isolated papers (CiteSeer): the empty segments come back as the "
        "lowest float32, -3.4e38, and the next Dense's matrix product overflows; replace the "
        "empty segments by 0 or add self-loops "
        "(https://keras.io/examples/graph/gnn_citations/, "
        "https://github.com/rusty1s/pytorch_scatter/issues/78, "
        "https://www.tensorflow.org/api_docs/python/tf/math/unsorted_segment_max)",
        blind=True,
    ),
    Scenario(
        "schedule_free_adamw_with_the_gan_beta_1_of_zero",
        schedule_free_adamw_with_the_gan_beta_1_of_zero,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        None,
        frozenset(),
        story="a GAN's Adam(beta_1=0.0, beta_2=0.99) swapped for ScheduleFreeAdamW with the "
        "same betas: schedule-free recovers x = (y - (1 - beta_1) z) / beta_1, a division by 0, "
        "and the first update writes inf / NaN into the weights from finite gradients "
        "(https://github.com/facebookresearch/schedule_free/issues/5, "
        "https://arxiv.org/abs/2405.15682, "
        "https://github.com/tracel-ai/burn/issues/834)",
        blind=True,
    ),
    Scenario(
        "spectral_norm_by_hand_on_a_zero_initialized_output_kernel",
        spectral_norm_by_hand_on_a_zero_initialized_output_kernel,
        "activation",
        frozenset({"RealDiv"}),
        "sn_critic/critic_out",
        "missing_epsilon",
        frozenset({"change_initializer", "add_epsilon"}),
        story="a hand-written spectrally normalized Dense, W / sigma with sigma = v W u^T, as "
        "the critic's zero-initialized output layer: for W = 0 the power iteration gives "
        "sigma = 0 and the kernel is 0 / 0 inside the layer; don't zero-init it (or guard sigma) "
        "(https://github.com/pytorch/pytorch/issues/20192, "
        "https://github.com/tensorflow/addons/pull/2763, "
        "https://github.com/IShengFang/SpectralNormalizationKeras/issues/1)",
        blind=True,
    ),
    Scenario(
        "lse_pooling_by_hand_on_raw_xray_pixels",
        lse_pooling_by_hand_on_raw_xray_pixels,
        "activation",
        frozenset({"Exp"}),
        "xray_cnn/lse_pool",
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="log-sum-exp pooling (1/r) log(mean(exp(r x))) with r = 10 over class maps of a "
        "CNN fed 0-255 X-ray pixels (the Rescaling step left out): the maps reach the hundreds "
        "and exp overflows inside the pooling layer; scale the pixels "
        "(https://arxiv.org/abs/1705.02315, "
        "https://github.com/yiskw713/paper_summary/issues/47, "
        "https://github.com/lzx1413/PytorchSSD/issues/22)",
        blind=True,
    ),
    Scenario(
        "vae_sampling_with_sqrt_of_a_linear_variance_head",
        vae_sampling_with_sqrt_of_a_linear_variance_head,
        "activation",
        frozenset({"Sqrt"}),
        "sensor_vae/sampling",
        "domain_error",
        frozenset(),
        story="a VAE whose second encoder head is read as the variance, z = mu + sqrt(z_var) * "
        "eps, while the head is a linear Dense: its negative outputs make sqrt NaN inside the "
        "sampling layer; predict the log-variance (exp(0.5 * z_log_var)) or use a softplus head "
        "(https://keras.io/examples/generative/vae/, "
        "https://github.com/alecGraves/BVAE-tf/issues/7, "
        "https://github.com/keras-team/keras/pull/9972, "
        "https://github.com/y0ast/VAE-Torch/issues/3)",
        blind=True,
    ),
]
