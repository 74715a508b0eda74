"""A fourteenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind13.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears, why,
and the first fix to try), and all ten were written into this file before anything was run.
Fix ids are only those of the design notes' taxonomy; where none of them is the first fix a
careful engineer would try (the YOLOv1 and ArcFace domain errors: predict the square root /
normalize the right axis), the fix set is left empty. The only thing checked while writing them
is that plain TensorFlow, unwatched, really goes non-finite on their batches (and at which
step), and (with tf.debugging.enable_check_numerics, plain TF) which op first produces the
non-finite value, in a throwaway script outside the repository that stands in plain-TF versions
of the loop helpers and asserts that nantrace was never imported. No field was changed after
that check, and no pattern was dropped: all ten went non-finite in plain TF.
What the check showed, recorded without changing any field: the batch itself holds NaN at step
0 for the decode_raw pages and for the pdays column; plain TF goes non-finite at step 0 for the
generalized Dice loss (loss NaN), YOLOv1 (loss NaN), ArcFace (loss NaN), the fixed loss scale
(the loss of step 0 is finite, ~637; its update leaves non-finite weights), the isotropic TV
(loss finite, its update writes NaN into the weights) and the negative binomial (loss NaN); at
step 67 for the 0/255 masks (loss -inf, after a loss that kept going more negative); and at step
24 for the un-averaged micro-batch gradients (the loss is inf with weights still finite). The
first op check_numerics names: RealDiv (the 1 / volume^2 weights) for the generalized Dice loss;
Sqrt in the loss for YOLOv1; Sqrt inside the arcface layer for ArcFace; the float16
BiasAddGrad of hidden1 (backward) for the fixed loss scale; Log in the loss for the 0/255
masks; the MatMul of the logits layer for the micro-batch sum; SqrtGrad (backward) for the
isotropic TV; and Lgamma in the loss for the negative binomial.
Slips: none in the procedure; three scenarios have cause missing_epsilon (the most allowed).
Caveats a reader should know: the micro-batch sum has the same mechanism (an effective learning
rate k times the tuned one) as the existing reduction='sum' scenario, through a different and
common piece of user code (gradient accumulation); the negative-binomial one shares 'a ReLU
head exactly 0 feeds a likelihood' with existing Gaussian / Laplace / Poisson scenarios, through
lgamma, a different op; the isotropic TV one shares sqrt's infinite derivative at 0 with several
existing scenarios; the 0/255-mask one is given two causes (unscaled labels, and a hand-written
log of a probability that rounds to 1), the fix being to rescale the masks; and the citations of
the isotropic TV scenario are reports about TV regularizers by hand, not of this exact NaN.
This set favours situations ordinary Keras users meet: uint8 pixels decoded as float32 by
tf.io.decode_raw, log1p of a -1 'never contacted' sentinel in the Bank Marketing table, the
generalized Dice loss on a batch without the rare class, YOLOv1's sqrt of predicted widths, an
ArcFace head normalized along the wrong axis, a fixed loss scale in a mixed_float16 custom loop,
segmentation masks left at 0/255, gradient accumulation without averaging, an isotropic total
variation by hand, and a DCA-style negative-binomial loss without its epsilon. Each story cites
the public report(s) the pattern comes from. Layer names are set explicitly only so the
expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, dtype_policy, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. uint8 pixels written with tobytes() and read back with tf.io.decode_raw(..., tf.float32)
# ---------------------------------------------------------------------------------------------
def _glyph_images(rng, n, size=16, classes=8):
    """White pages (255) with a dark stroke whose angle gives the class, as uint8 RGB."""
    images = np.full((n, size, size, 3), 255, dtype=np.uint8)
    labels = rng.integers(0, classes, size=n)
    centre = (size - 1) / 2.0
    for i in range(n):
        angle = np.pi * labels[i] / classes + 0.05 * rng.normal()
        for s in np.linspace(-6.0, 6.0, 25):
            r = int(round(centre + s * np.sin(angle)))
            c = int(round(centre + s * np.cos(angle)))
            images[i, r, c, :] = rng.integers(0, 60)
    return images, labels


def raw_uint8_pixels_decoded_as_float32():
    """Glyph classifier fed from a TFRecord-style store: each page was serialized with
    image.tobytes() from a uint8 array, and the input pipeline decodes it with
    tf.io.decode_raw(record, tf.float32) (the model wants floats), then divides by 255. Every
    four bytes of pixels become one float32 bit pattern: the white background, bytes
    FF FF FF FF, is a NaN, and light-grey runs are ~1e35. The flattened vectors (768 values per
    16x16x3 page) reach the MLP with NaN in every row before any op runs (decode as tf.uint8,
    then cast)."""
    rng = seeded(1600)
    images, labels = _glyph_images(rng, 512)
    records = tf.constant([img.tobytes() for img in images])
    x = (tf.io.decode_raw(records, tf.float32) / 255.0).numpy()
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(8, name="logits"),
        ],
        name="glyph_mlp",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels.astype("int32"), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. log1p of the bank-marketing 'pdays' column, whose -1 means 'never contacted'
# ---------------------------------------------------------------------------------------------
def log1p_of_the_pdays_never_contacted_sentinel():
    """Term-deposit classifier on the UCI Bank Marketing table (bank-full.csv): the skewed count
    columns (duration, campaign, pdays, previous) get np.log1p, then are standardized with their
    numpy mean and std. In bank-full.csv pdays is -1 for the ~82 % of clients never contacted
    before, and log1p(-1) = -inf (numpy only warns); the column's mean and std are then -inf /
    NaN and the standardized column is NaN in every row: every batch holds NaN features before
    any op runs (treat -1 as 'never contacted': a flag column and a neutral value)."""
    rng = seeded(1601)
    n = 2048
    age = rng.integers(18, 90, size=n).astype("float64")
    balance = rng.normal(1400.0, 3000.0, size=n)
    duration = rng.gamma(2.0, 130.0, size=n)
    campaign = rng.geometric(0.4, size=n).astype("float64")
    contacted = rng.random(n) < 0.18
    pdays = np.where(contacted, rng.integers(1, 400, size=n), -1).astype("float64")
    previous = np.where(contacted, rng.geometric(0.4, size=n), 0).astype("float64")
    logit = -2.5 + duration / 300.0 + 1.2 * contacted - 0.15 * campaign
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        skewed = np.log1p(np.stack([duration, campaign, pdays, previous], axis=1))
        table = np.concatenate([np.stack([age, balance], axis=1), skewed], axis=1)
        x = ((table - table.mean(0)) / table.std(0)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="subscribe_logit"),
        ],
        name="term_deposit",
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
# 3. generalized Dice loss: the class weight 1 / (reference volume)^2 of a class absent
# ---------------------------------------------------------------------------------------------
def _lesion_tiles(rng, n, size=32, classes=4):
    """Tiles with background, a common tissue class, a less common one and a rare one."""
    images = 0.1 * rng.normal(size=(n, size, size, 1))
    masks = np.zeros((n, size, size), dtype="int64")
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        for cls, prob, radius in ((1, 0.9, 7), (2, 0.5, 4), (3, 0.04, 3)):
            if rng.random() < prob:
                cy, cx = rng.integers(radius, size - radius, size=2)
                blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
                masks[i][blob] = cls
                images[i, blob, 0] += 0.4 * cls
    onehot = np.eye(classes, dtype="float32")[masks]
    return images.astype("float32"), onehot


def generalized_dice_loss_with_a_class_absent_from_the_batch():
    """Lesion segmentation (a small fully convolutional net with a softmax over 4 classes)
    trained with the generalized Dice loss of Sudre et al. 2017, written as in the paper and the
    popular Keras snippets: per-class weights w_l = 1 / (sum of the reference mask of class l)^2
    over the batch, without an epsilon. The rarest class (a lesion type in ~4 % of the tiles) is
    absent from most batches of 8: its reference volume is 0 and its weight 1 / 0 = inf in the
    loss at the first step, then inf * 0 = NaN in the weighted sums (an epsilon in the weight's
    denominator, or a weight of 0 for absent classes)."""
    rng = seeded(1602)
    images, onehot = _lesion_tiles(rng, 256)
    inputs = keras.Input((32, 32, 1))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0")(inputs)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(h)
    probs = keras.layers.Conv2D(4, 1, activation="softmax", name="class_probs")(h)
    model = keras.Model(inputs, probs, name="lesion_fcn")

    def generalized_dice_loss(y_true, y_pred):
        ref_vol = tf.reduce_sum(y_true, axis=(0, 1, 2))
        weights = 1.0 / tf.square(ref_vol)
        intersect = tf.reduce_sum(y_true * y_pred, axis=(0, 1, 2))
        seg_vol = tf.reduce_sum(y_pred, axis=(0, 1, 2))
        numerator = 2.0 * tf.reduce_sum(weights * intersect)
        denominator = tf.reduce_sum(weights * (ref_vol + seg_vol))
        return 1.0 - numerator / denominator

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), generalized_dice_loss),
        batches(images, onehot, size=8),
    )


# ---------------------------------------------------------------------------------------------
# 4. YOLOv1's sqrt of the predicted box width and height on a linear head
# ---------------------------------------------------------------------------------------------
def yolo_v1_sqrt_of_predicted_widths_on_a_linear_head():
    """Single-class YOLOv1-style detector on a 4x4 grid (a small CNN whose last layer is linear,
    as in the paper: each cell predicts x, y, w, h and a confidence). The coordinate term is
    the paper's (sqrt(w) - sqrt(w_hat))^2 + (sqrt(h) - sqrt(h_hat))^2 on the raw outputs; the
    linear head predicts negative widths and heights for about half of the cells at
    initialization, and sqrt of a negative number is NaN in the loss at the first step
    (darknet's own layer squares a predicted sqrt instead; or constrain w, h to be positive)."""
    rng = seeded(1603)
    n, size, grid = 512, 32, 4
    images = 0.05 * rng.normal(size=(n, size, size, 1))
    target = np.zeros((n, grid, grid, 5), dtype="float32")
    for i in range(n):
        w, h = rng.uniform(0.15, 0.5, size=2)
        cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
        r0, r1 = int((cy - h / 2) * size), int((cy + h / 2) * size)
        c0, c1 = int((cx - w / 2) * size), int((cx + w / 2) * size)
        images[i, r0:r1, c0:c1, 0] += 1.0
        gi, gj = min(int(cy * grid), grid - 1), min(int(cx * grid), grid - 1)
        target[i, gi, gj] = [cx * grid - gj, cy * grid - gi, w, h, 1.0]
    images = images.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(grid * grid * 5, name="detections"),
            keras.layers.Reshape((grid, grid, 5), name="grid_out"),
        ],
        name="yolo_v1_tiny",
    )

    def yolo_v1_loss(y_true, y_pred):
        obj = y_true[..., 4]
        xy = tf.reduce_sum(tf.square(y_true[..., 0:2] - y_pred[..., 0:2]), axis=-1)
        wh = tf.reduce_sum(
            tf.square(tf.sqrt(y_true[..., 2:4]) - tf.sqrt(y_pred[..., 2:4])), axis=-1
        )
        conf = tf.square(y_true[..., 4] - y_pred[..., 4])
        per_cell = 5.0 * obj * (xy + wh) + obj * conf + 0.5 * (1.0 - obj) * conf
        return tf.reduce_mean(tf.reduce_sum(per_cell, axis=(1, 2)))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-4), yolo_v1_loss),
        batches(images, target, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 5. an ArcFace head whose class weights are L2-normalized along the wrong axis
# ---------------------------------------------------------------------------------------------
class ArcFaceHead(keras.layers.Layer):
    """Additive angular margin logits (ArcFace), cos(theta + m) = cos m cos - sin m sin with
    sin = sqrt(1 - cos^2), as in the InsightFace TF ports; the class-weight matrix (dim,
    classes) is normalized with axis=1 (across classes) where each class column should be."""

    def __init__(self, classes, scale=30.0, margin=0.5, **kwargs):
        super().__init__(**kwargs)
        self.classes, self.scale, self.margin = classes, scale, margin

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[0][-1], self.classes), initializer="glorot_uniform", name="w"
        )

    def call(self, inputs):
        embedding, labels = inputs
        e = tf.nn.l2_normalize(embedding, axis=1)
        w = tf.nn.l2_normalize(self.w, axis=1)
        cos_t = tf.matmul(e, w)
        sin_t = tf.sqrt(1.0 - tf.square(cos_t))
        cos_mt = cos_t * np.cos(self.margin) - sin_t * np.sin(self.margin)
        onehot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.classes)
        return self.scale * (onehot * cos_mt + (1.0 - onehot) * cos_t)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.classes)


def arcface_class_weights_normalized_along_the_wrong_axis():
    """Speaker-identification embedding (an MLP over 40 averaged log-mel features, 5 enrolled
    speakers) trained with an ArcFace head written by hand. The head normalizes its (128, 5)
    class-weight matrix with tf.nn.l2_normalize(W, axis=1), across the classes, instead of
    axis=0 per class column: the columns have norm ~sqrt(128 / 5) ~ 5, so the 'cosines' are not
    bounded by 1, and sqrt(1 - cos^2) of the entries with |cos| > 1 is NaN inside the head at
    the first forward pass (normalize each class column, axis=0)."""
    rng = seeded(1604)
    n, dim, speakers = 1024, 40, 5
    centres = rng.normal(size=(speakers, dim))
    labels = rng.integers(0, speakers, size=n)
    feats = (centres[labels] + 0.8 * rng.normal(size=(n, dim))).astype("float32")
    x_in = keras.Input((dim,), name="features")
    y_in = keras.Input((1,), name="speaker", dtype="int32")
    h = keras.layers.Dense(128, activation="relu", name="hidden")(x_in)
    emb = keras.layers.Dense(128, name="embedding")(h)
    logits = ArcFaceHead(speakers, name="arcface")([emb, y_in])
    model = keras.Model([x_in, y_in], logits, name="speaker_arcface")
    cce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def arcface_loss(model, x, y):
        return cce(y, model([x, y], training=True))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (tf.constant(feats[i : i + 64]), tf.constant(labels[i : i + 64, None].astype("int32")))
        for i in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, arcface_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 6. a fixed loss scale of 2**15 in a mixed_float16 custom loop
# ---------------------------------------------------------------------------------------------
def fixed_loss_scale_in_a_mixed_float16_custom_loop():
    """Indoor-temperature regressor (standardized sensor features, the target in degrees C,
    ~15-35) trained under mixed_float16 in a custom loop that scales the loss by hand with a
    FIXED scale of 2**15 (the starting value of Keras' dynamic loss scale, copied as a constant)
    and divides the gradients by it afterwards, instead of using a LossScaleOptimizer. The
    hidden layers compute in float16; with errors of ~20 degrees the scaled output gradient is
    ~1e4 per sample and the float16 kernel gradients of the hidden layers pass 65504: inf in the
    backward pass at the first step (a dynamic loss scale: keras.optimizers.LossScaleOptimizer)."""

    def build():
        rng = seeded(1605)
        n, dim = 1024, 12
        x = rng.normal(size=(n, dim)).astype("float32")
        y = 24.0 + 3.0 * x[:, :3].sum(1) + 0.5 * rng.normal(size=n)
        y = y.reshape(-1, 1).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((dim,)),
                keras.layers.Dense(256, activation="relu", name="hidden0"),
                keras.layers.Dense(256, activation="relu", name="hidden1"),
                keras.layers.Dense(1, dtype="float32", name="temperature"),
            ],
            name="room_temperature",
        )
        optimizer = keras.optimizers.Adam(1e-3)
        loss_scale = 2.0**15

        def train_step(xb, yb):
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = tf.reduce_mean(tf.square(yb - tf.cast(pred, tf.float32)))
                scaled = loss * loss_scale
            grads = tape.gradient(scaled, model.trainable_variables)
            grads = [g / loss_scale for g in grads]
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        train_step.model, train_step.optimizer = model, optimizer
        return run_loop(train_step, batches(x, y, size=64), model=model, optimizer=optimizer)

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 7. segmentation masks loaded as 0/255 into a hand-written binary cross-entropy
# ---------------------------------------------------------------------------------------------
def segmentation_masks_left_at_255_in_a_hand_written_bce():
    """Cell segmentation (a small fully convolutional net ending in a sigmoid) trained with a
    binary cross-entropy written by hand, -(y log p + (1 - y) log(1 - p)). The images are
    divided by 255 but the masks, read from PNGs, are left at 0 / 255: for a foreground pixel
    the loss is -255 log p + 254 log(1 - p), unbounded below, and the gradient drives p towards
    1 until it rounds to exactly 1.0 in float32 and log(1 - p) = log(0) = -inf in the loss,
    after some steps of a loss that goes ever more negative (divide the masks by 255)."""
    rng = seeded(1606)
    n, size = 256, 32
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n, size, size, 1), dtype="float32")
    masks = np.zeros((n, size, size, 1), dtype="float32")
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.integers(5, size - 5, size=2)
            cell = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.integers(3, 6) ** 2
            masks[i, cell, 0] = 255.0
            images[i, cell, 0] = rng.uniform(120.0, 220.0)
    images = (images + rng.uniform(0.0, 40.0, size=images.shape)) / 255.0
    images = images.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask_prob"),
        ],
        name="cell_fcn",
    )

    def bce_by_hand(y_true, y_pred):
        return -tf.reduce_mean(
            y_true * tf.math.log(y_pred) + (1.0 - y_true) * tf.math.log(1.0 - y_pred)
        )

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), bce_by_hand),
        batches(images, masks, size=16, epochs=40),
    )


# ---------------------------------------------------------------------------------------------
# 8. micro-batch gradient accumulation that sums without dividing by the number of slices
# ---------------------------------------------------------------------------------------------
def micro_batch_gradient_sum_without_averaging():
    """Tabular classifier (a 4-layer ReLU MLP on standardized features) trained with SGD +
    momentum at the learning rate tuned for the mean loss of a 256-row batch, 0.2. To fit memory
    the custom step splits each batch into 16 micro-batches, takes each one's mean-loss
    gradient and SUMS them before apply_gradients, without dividing by 16 (the classic
    gradient-accumulation slip): the effective learning rate is 3.2, the weights grow step after
    step and the layers' outputs overflow float32 within a few steps (divide the accumulated
    gradients by the number of micro-batches, i.e. the learning rate back to 0.2)."""
    rng = seeded(1607)
    n, dim, classes, slices = 4096, 32, 6, 16
    x = rng.normal(size=(n, dim)).astype("float32")
    proj = rng.normal(size=(dim, classes))
    labels = np.argmax(x @ proj + 0.5 * np.sin(3.0 * x[:, :classes]), axis=1).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(128, activation="relu", name="hidden0"),
            keras.layers.Dense(128, activation="relu", name="hidden1"),
            keras.layers.Dense(128, activation="relu", name="hidden2"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="tabular_mlp",
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.2, momentum=0.9)
    cce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(xb, yb):
        total = [tf.zeros_like(v) for v in model.trainable_variables]
        losses = []
        for xs, ys in zip(tf.split(xb, slices), tf.split(yb, slices), strict=True):
            with tf.GradientTape() as tape:
                loss = cce(ys, model(xs, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            total = [t + g for t, g in zip(total, grads, strict=True)]
            losses.append(loss)
        optimizer.apply_gradients(zip(total, model.trainable_variables, strict=True))
        return tf.add_n(losses) / slices

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(
        train_step, batches(x, labels, size=256, epochs=4), model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 9. isotropic total variation sqrt(dx^2 + dy^2) on a ReLU output over a dark background
# ---------------------------------------------------------------------------------------------
def isotropic_total_variation_on_a_flat_dark_background():
    """Fluorescence-microscopy denoiser (a small CNN whose output layer is a ReLU, intensities
    being non-negative) trained on MSE plus an isotropic total-variation regularizer written by
    hand, sum(sqrt(dx^2 + dy^2)), instead of tf.image.total_variation's absolute differences.
    Over the dark background the ReLU output is exactly 0 on neighbouring pixels, so dx = dy =
    0: the forward value sqrt(0) = 0 is fine, but sqrt's derivative at 0 is infinite and times
    the zero of d(dx^2) gives NaN in the backward pass at the first step
    (sqrt(dx^2 + dy^2 + eps))."""
    rng = seeded(1608)
    n, size = 256, 32
    yy, xx = np.mgrid[0:size, 0:size]
    clean = np.zeros((n, size, size, 1), dtype="float32")
    for i in range(n):
        for _ in range(rng.integers(2, 6)):
            cy, cx = rng.uniform(4, size - 4, size=2)
            clean[i, ..., 0] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
    noisy = (clean + 0.1 * rng.normal(size=clean.shape)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="denoised"),
        ],
        name="denoiser",
    )

    def mse_plus_isotropic_tv(y_true, y_pred):
        dx = y_pred[:, :-1, 1:, :] - y_pred[:, :-1, :-1, :]
        dy = y_pred[:, 1:, :-1, :] - y_pred[:, :-1, :-1, :]
        tv = tf.reduce_mean(tf.reduce_sum(tf.sqrt(tf.square(dx) + tf.square(dy)), axis=(1, 2, 3)))
        return tf.reduce_mean(tf.square(y_true - y_pred)) + 1e-3 * tv

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), mse_plus_isotropic_tv),
        batches(noisy, clean, size=16),
    )


# ---------------------------------------------------------------------------------------------
# 10. a DCA-style negative-binomial autoencoder whose dispersion head is a ReLU
# ---------------------------------------------------------------------------------------------
def negative_binomial_loss_on_a_relu_dispersion_head():
    """Single-cell count autoencoder in the style of DCA (Eraslan et al. 2019): the decoder
    outputs a mean (exp) and a dispersion theta per gene, trained on the negative-binomial
    negative log-likelihood lgamma(theta) + lgamma(y + 1) - lgamma(y + theta)
    + (theta + y) log(1 + mu / theta) + y (log theta - log mu). DCA passes theta through a
    clipped softplus and adds eps = 1e-10 inside every lgamma and log; the port uses a ReLU
    dispersion layer and drops the eps, so the genes whose dispersion pre-activation is negative
    have theta exactly 0: lgamma(0) = inf and log(0) = -inf in the loss at the first step
    (an epsilon in theta, or a softplus dispersion)."""
    rng = seeded(1609)
    cells, genes = 1024, 64
    rate = rng.gamma(0.6, 4.0, size=genes)
    libsize = rng.lognormal(0.0, 0.3, size=(cells, 1))
    counts = rng.negative_binomial(2.0, 2.0 / (2.0 + rate * libsize)).astype("float32")
    x = np.log1p(counts).astype("float32")
    inputs = keras.Input((genes,), name="log_counts")
    h = keras.layers.Dense(32, activation="relu", name="encoder")(inputs)
    h = keras.layers.Dense(16, activation="relu", name="bottleneck")(h)
    h = keras.layers.Dense(32, activation="relu", name="decoder")(h)
    mean = keras.layers.Dense(genes, activation="exponential", name="nb_mean")(h)
    theta = keras.layers.Dense(genes, activation="relu", name="nb_dispersion")(h)
    model = keras.Model(inputs, [mean, theta], name="dca_autoencoder")

    def nb_nll(model, xb, yb):
        mu, th = model(xb, training=True)
        t1 = tf.math.lgamma(th) + tf.math.lgamma(yb + 1.0) - tf.math.lgamma(yb + th)
        t2 = (th + yb) * tf.math.log(1.0 + mu / th) + yb * (tf.math.log(th) - tf.math.log(mu))
        return tf.reduce_mean(t1 + t2)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (tf.constant(x[i : i + 64]), tf.constant(counts[i : i + 64])) for i in range(0, cells, 64)
    ]
    return run_loop(_custom_step(model, optimizer, nb_nll), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND14_SCENARIOS: list[Scenario] = [
    Scenario(
        "raw_uint8_pixels_decoded_as_float32",
        raw_uint8_pixels_decoded_as_float32,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="uint8 pages serialized with tobytes() and read back with tf.io.decode_raw(record, "
        "tf.float32): every four pixel bytes become one float32 bit pattern, white FF FF FF FF "
        "is NaN and light grey ~1e35, so every row of the batch holds NaN; decode as uint8 and "
        "cast "
        "(https://github.com/tensorflow/tensorflow/issues/12234, "
        "https://github.com/kalaspuffar/tensorflow-data/issues/5, "
        "https://github.com/NVIDIA/DALI/issues/836)",
        blind=True,
    ),
    Scenario(
        "log1p_of_the_pdays_never_contacted_sentinel",
        log1p_of_the_pdays_never_contacted_sentinel,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="np.log1p on the UCI Bank Marketing count columns, pdays included, whose -1 means "
        "'never contacted' for ~82 % of clients: log1p(-1) = -inf, the column's mean and std "
        "are -inf / NaN and the standardized column is NaN in every row; flag the sentinel "
        "instead "
        "(https://archive.ics.uci.edu/dataset/222/bank+marketing, "
        "https://github.com/akka-ben/bank-marketing-eda, "
        "https://github.com/mp-jahan/SDS-CP038-banktermpredict)",
        blind=True,
    ),
    Scenario(
        "generalized_dice_loss_with_a_class_absent_from_the_batch",
        generalized_dice_loss_with_a_class_absent_from_the_batch,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="generalized Dice loss (Sudre et al. 2017) with weights 1 / (reference volume)^2 "
        "and no epsilon: a rare class absent from a batch of 8 tiles has volume 0 and weight "
        "1 / 0 = inf, then inf * 0 = NaN; an epsilon in the weight "
        "(https://github.com/keras-team/keras/issues/9395, "
        "https://github.com/NifTK/NiftyNet/issues/218, "
        "https://github.com/cwerner/deadtrees/issues/84, "
        "https://github.com/LIVIAETS/boundary-loss/issues/34, "
        "https://arxiv.org/abs/1707.03237)",
        blind=True,
    ),
    Scenario(
        "yolo_v1_sqrt_of_predicted_widths_on_a_linear_head",
        yolo_v1_sqrt_of_predicted_widths_on_a_linear_head,
        "loss",
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="YOLOv1's coordinate loss (sqrt(w) - sqrt(w_hat))^2 on a linear output layer: "
        "about half the predicted widths and heights are negative at initialization and their "
        "sqrt is NaN in the loss; predict the square root (darknet) or keep w, h positive "
        "(https://github.com/DeepBaksuVision/You_Only_Look_Once/issues/7, "
        "https://github.com/pjreddie/darknet/issues/1824, "
        "https://github.com/leeyoshinari/YOLO_v2/issues/18)",
        blind=True,
    ),
    Scenario(
        "arcface_class_weights_normalized_along_the_wrong_axis",
        arcface_class_weights_normalized_along_the_wrong_axis,
        "activation",
        frozenset({"Sqrt"}),
        "speaker_arcface/arcface",
        "domain_error",
        frozenset(),
        story="a hand-written ArcFace head, sin = sqrt(1 - cos^2), whose (dim, classes) weight "
        "matrix is l2-normalized with axis=1 instead of per class column: the 'cosines' exceed "
        "1 and the sqrt is NaN inside the head at the first forward pass; normalize axis=0 "
        "(https://github.com/ktjonsson/keras-ArcFace/issues/2, "
        "https://github.com/MccreeZhao/FR-Loss-on-Mnist/issues/2, "
        "https://github.com/TreB1eN/InsightFace_Pytorch/issues/93, "
        "https://github.com/ronghuaiyang/arcface-pytorch/issues/32)",
        blind=True,
    ),
    Scenario(
        "fixed_loss_scale_in_a_mixed_float16_custom_loop",
        fixed_loss_scale_in_a_mixed_float16_custom_loop,
        "gradient",
        frozenset(),
        None,
        "float16_range",
        frozenset({"loss_scaling"}),
        story="a mixed_float16 custom loop that multiplies the loss by a fixed 2**15 and divides "
        "the gradients afterwards, with a target in degrees C: the float16 kernel gradients of "
        "the hidden layers pass 65504 in the backward pass; a dynamic loss scale "
        "(LossScaleOptimizer) "
        "(https://github.com/keras-team/keras/issues/16552, "
        "https://github.com/tensorflow/tensorflow/issues/38357, "
        "https://github.com/NVIDIA/apex/issues/318, "
        "https://www.tensorflow.org/guide/mixed_precision)",
        blind=True,
    ),
    Scenario(
        "segmentation_masks_left_at_255_in_a_hand_written_bce",
        segmentation_masks_left_at_255_in_a_hand_written_bce,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"unscaled_input", "unstable_loss"}),
        frozenset({"rescale_input"}),
        story="masks read from PNGs as 0 / 255 into a hand-written BCE: the loss is unbounded "
        "below ('negative loss'), p is driven to exactly 1.0 and log(1 - p) = -inf; divide the "
        "masks by 255 "
        "(https://github.com/hlamba28/UNET-TGS/issues/8, "
        "https://github.com/milesial/Pytorch-UNet/issues/78, "
        "https://github.com/divamgupta/image-segmentation-keras/issues/30, "
        "https://github.com/qubvel/segmentation_models/issues/95)",
        blind=True,
    ),
    Scenario(
        "micro_batch_gradient_sum_without_averaging",
        micro_batch_gradient_sum_without_averaging,
        "matmul_overflow",
        frozenset(),
        None,
        "learning_rate_too_high",
        frozenset({"lower_learning_rate"}),
        story="gradient accumulation over 16 micro-batches summed without dividing by 16, with "
        "SGD momentum at the rate tuned for the mean loss (0.2): an effective rate of 3.2, the "
        "weights grow and the layer outputs overflow; average the accumulated gradients "
        "(https://github.com/karpathy/nanoGPT/issues/168, "
        "https://github.com/hirofumi0810/neural_sp/issues/168, "
        "https://github.com/fastai/fastai2/pull/194)",
        blind=True,
    ),
    Scenario(
        "isotropic_total_variation_on_a_flat_dark_background",
        isotropic_total_variation_on_a_flat_dark_background,
        "gradient",
        frozenset(),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="isotropic total variation sum(sqrt(dx^2 + dy^2)) by hand on a denoiser's ReLU "
        "output: over the dark background neighbouring outputs are exactly 0, sqrt's "
        "derivative at 0 is infinite and the backward is NaN; sqrt(dx^2 + dy^2 + eps) "
        "(https://github.com/pkmital/CADL/pull/93, "
        "https://github.com/Kautenja/a-neural-algorithm-of-artistic-style/pull/6, "
        "https://github.com/JuheonYi/WESPE-TensorFlow/issues/2)",
        blind=True,
    ),
    Scenario(
        "negative_binomial_loss_on_a_relu_dispersion_head",
        negative_binomial_loss_on_a_relu_dispersion_head,
        "loss",
        frozenset({"Lgamma", "Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a DCA-style negative-binomial NLL without DCA's eps = 1e-10 on a ReLU "
        "dispersion head: dispersions exactly 0 give lgamma(0) = inf and log(0) = -inf in the "
        "loss; an epsilon in theta (DCA also clips a softplus) "
        "(https://github.com/theislab/dca, "
        "https://www.nature.com/articles/s41467-018-07931-2)",
        blind=True,
    ),
]
