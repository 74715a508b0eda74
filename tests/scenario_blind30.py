"""A thirtieth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
455 existing scenarios, whose patterns are not repeated), without git log or diff output of
other files, without looking at any other blind suite, and without importing or running
nantrace: each expectation comes from the bug pattern itself (where a careful ML engineer
would say the first non-finite value appears, why, and the first fix to try), and all ten
were written into this file before anything was run. The theme is computer vision as
ordinary users write it from Keras examples and tutorials: inpainting autoencoders,
detection and keypoint (centre-point) losses, box augmentation, denoising and
super-resolution losses, depth estimation, transfer learning, a VAE likelihood and image
normalization. The patterns come from public reports found with a search over GitHub issues
and pull requests and stored web pages; each story cites them. The ten slips: a partial
convolution whose mask ratio lost the reference's + 1e-8 (holes wider than its window), FCOS
centerness targets computed for every location and masked afterwards, a box flip that does
not swap x1 and x2 before a (cx, cy, log w, log h) encoding, CenterNet heatmaps drawn with
sigma = radius / 3 of the integer radius (0 for small objects), the pure-Poisson Anscombe
transform on dark-subtracted frames with read noise, a berHu depth loss whose per-image
threshold is 0 on sensor-dropout frames, an LPIPS-style channel normalization without its
eps on black fundus borders, an L2-SP penalty written with tf.norm instead of its square, a
continuous Bernoulli likelihood without the Taylor branch at lambda = 1/2 behind a
zero-initialized decoder output, and CSBDeep-style percentile normalization without its eps
on empty fields of view. Fix ids are only those of the design notes' taxonomy; where none of
them is the first fix a careful engineer would try (compute or clamp targets on the valid
locations, swap the corners, the reference sigma, the generalized Anscombe transform, the
Taylor branch, a percentile fallback), the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (the batch, loss, gradients and weights, and at which step), and
(with tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs
it) which op first produces the non-finite value, in a throwaway script outside the
repository that stands in plain-TF versions of the loop helpers (steps that also return
whether their gradients are finite) and asserts that nantrace was never imported. No
expectation field (kind, op types, layer, cause, fixes) was changed after that check, no
construction was changed and no pattern was dropped. What the check showed, every one at
step 0 (the first batch): the partial convolution (loss NaN, gradients and weights NaN;
first op pconv1's RealDiv 9 / sum(M), inf), the FCOS centerness (loss NaN; first op the
loss's Sqrt), the box flip (loss NaN; first op the loss's Log of x2 - x1), the CenterNet
heatmaps (the label batch holds NaN; with check_numerics the first op flagged is the
focal loss's Sub 1 - heat that reads it), the Anscombe layer (loss NaN; first op
vst_denoiser/anscombe's Sqrt), the berHu loss (loss finite, 8.74, gradients and then
weights NaN; first op the discarded branch's RealDiv (r^2 + c^2) / (2 c) in the forward
pass), the LPIPS-style loss (loss NaN; first op the RealDiv f / ||f|| of the frozen net's
first features), the L2-SP penalty (loss finite, 1.13, gradients NaN; first op the backward
SqrtGrad of tf.norm, inf), the continuous Bernoulli VAE (loss NaN; first op the RealDiv of
C(lambda), 0 / 0) and the percentile normalization (the feature batch holds NaN and inf;
the first op flagged is conv0's Conv2D that reads it; the loss value stays finite, 1.61,
while the gradients and weights are NaN).
Caveats a reader should know: all ten trip at the first step, by construction (none is a
training-dynamics pattern); the berHu scenario's kind is 'loss' because the first
non-finite value is the 0 / 0 of tf.where's discarded branch in the loss's forward pass,
although the loss value is finite and the damage shows in the gradients; the continuous
Bernoulli scenario accepts missing_epsilon or domain_error (a removable 0 / 0 that an
epsilon alone does not fix); the two input_data scenarios leave op types and layer None;
the L2-SP scenario leaves op types None (the backward of the norm's sqrt).

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


def _smooth_images(rng, n, size, channels=3):
    """Smooth colour images in [0, 1]: a base colour, a linear ramp and two soft blobs each."""
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / (size - 1)
    base = rng.uniform(0.2, 0.8, size=(n, 1, 1, channels))
    ramp = rng.uniform(-0.3, 0.3, size=(n, 1, 1, channels)) * (
        xx[None, :, :, None] * rng.uniform(-1, 1, size=(n, 1, 1, 1))
        + yy[None, :, :, None] * rng.uniform(-1, 1, size=(n, 1, 1, 1))
    )
    images = base + ramp
    for _ in range(2):
        cx, cy = rng.uniform(0, 1, size=(2, n, 1, 1, 1))
        radius = rng.uniform(0.1, 0.3, size=(n, 1, 1, 1))
        tint = rng.uniform(-0.4, 0.4, size=(n, 1, 1, channels))
        blob = np.exp(
            -((xx[None, :, :, None] - cx) ** 2 + (yy[None, :, :, None] - cy) ** 2) / radius**2
        )
        images = images + tint * blob
    return np.clip(images, 0.0, 1.0).astype("float32")


def _boxes_on_noise(rng, n, size, min_side, max_side):
    """Images of one coloured rectangle on a noisy background, and its box (x1, y1, x2, y2) in
    pixels."""
    images = rng.normal(0.3, 0.08, size=(n, size, size, 3))
    boxes = np.zeros((n, 4), dtype="float32")
    for i in range(n):
        w, h = rng.integers(min_side, max_side + 1, size=2)
        x1, y1 = rng.integers(0, size - w + 1), rng.integers(0, size - h + 1)
        images[i, y1 : y1 + h, x1 : x1 + w] = rng.uniform(0.5, 1.0, size=3)
        boxes[i] = (x1, y1, x1 + w, y1 + h)
    return np.clip(images, 0.0, 1.0).astype("float32"), boxes


# ---------------------------------------------------------------------------------------------
# 1. a partial convolution (inpainting) ported without the epsilon of its mask ratio
# ---------------------------------------------------------------------------------------------
class PartialConv2D(keras.layers.Layer):
    """Liu et al.'s partial convolution written from the paper's formula: the features of the
    known pixels, rescaled by window / sum(mask) over each window, and the updated mask."""

    def __init__(self, filters, kernel_size=3, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides

    def build(self, input_shape):
        image_shape, _ = input_shape
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, image_shape[-1], self.filters), initializer="he_normal", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, inputs):
        x, mask = inputs
        k = self.kernel_size
        features = tf.nn.conv2d(x * mask, self.kernel, self.strides, "SAME")
        known = tf.nn.conv2d(mask, tf.ones((k, k, 1, 1)), self.strides, "SAME")
        ratio = float(k * k) / known  # NVIDIA's partialconv2d: window / (known + 1e-8)
        new_mask = tf.clip_by_value(known, 0.0, 1.0)
        out = (features * ratio + self.bias) * new_mask
        return tf.nn.relu(out), new_mask


def partial_convolution_mask_ratio_without_its_epsilon():
    """An image-inpainting autoencoder (three partial convolutions, an upsampling, a skip from
    the masked image and a sigmoid output) trained on 32 x 32 photos with a 10-14 pixel square
    hole each, with the L1 losses of the paper (hole x 6 + valid). The partial convolution was
    ported from the paper's formula, sum(1) / sum(M): the reference code divides by
    (sum(M) + 1e-8) and then zeroes the ratio where the updated mask is 0. Every 3 x 3 window
    lying wholly inside a hole has sum(M) = 0, so the ratio is 9 / 0 = inf there, and
    inf x 0 (the zeroed features, the new mask) is NaN: pconv1's output is NaN at the hole's
    interior at the first step (the epsilon of the reference, window / (sum(M) + 1e-8))."""
    rng = seeded(3000)
    n, size = 512, 32
    images = _smooth_images(rng, n, size)
    masks = np.ones((n, size, size, 1), dtype="float32")
    for i in range(n):
        side = rng.integers(10, 15)
        x0, y0 = rng.integers(0, size - side + 1, size=2)
        masks[i, y0 : y0 + side, x0 : x0 + side] = 0.0
    image_in = keras.Input((size, size, 3), name="masked_image")
    mask_in = keras.Input((size, size, 1), name="mask")
    h, m = PartialConv2D(16, name="pconv1")([image_in, mask_in])
    h, m = PartialConv2D(32, strides=2, name="pconv2")([h, m])
    h, m = PartialConv2D(32, name="pconv3")([h, m])
    h = keras.layers.UpSampling2D(2, name="up")(h)
    h = keras.layers.Concatenate(name="skip")([h, image_in])
    out = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="decoder_out")(h)
    model = keras.Model([image_in, mask_in], out, name="pconv_inpainter")

    def inpainting_loss(model, masked, mask, target):
        error = tf.abs(model([masked, mask], training=True) - target)
        return 6.0 * tf.reduce_mean((1.0 - mask) * error) + tf.reduce_mean(mask * error)

    optimizer = keras.optimizers.Adam(2e-4)
    data = [
        (
            tf.constant(images[s : s + 16] * masks[s : s + 16]),
            tf.constant(masks[s : s + 16]),
            tf.constant(images[s : s + 16]),
        )
        for s in range(0, n, 16)
    ]
    return run_loop(
        _custom_step(model, optimizer, inpainting_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 2. FCOS centerness targets computed for every location, then masked by the positives
# ---------------------------------------------------------------------------------------------
def fcos_centerness_targets_outside_their_boxes():
    """A one-level FCOS detector (stride 4, an 8 x 8 grid on 32 x 32 images with one object
    each): a small CNN whose head gives a class logit, exp-encoded (l, t, r, b) distances and
    a centerness logit per location. The loss builds its targets from the ground-truth box:
    the focal-free classification BCE over all locations, an IoU loss on the positive
    locations (boolean_mask), and the centerness target
    sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)) computed for EVERY location 'to keep
    the shapes static', its BCE multiplied by the positive mask afterwards. FCOS computes it
    for the positives only: at a location left or right of the box (but level with it) one of
    l, r is negative, the product under the root is negative and sqrt gives NaN, which the
    multiplication by 0 keeps (NaN x 0 = NaN): the loss is NaN at the first step (compute
    the target on the positive locations only, or clamp the distances at 0)."""
    rng = seeded(3001)
    n, size, stride = 512, 32, 4
    images, boxes = _boxes_on_noise(rng, n, size, 8, 20)
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="stem"),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c2"),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="c3"),
            keras.layers.Conv2D(6, 3, padding="same", name="fcos_head"),
        ],
        name="tiny_fcos",
    )
    centres = (np.arange(size // stride, dtype="float32") + 0.5) * stride
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    xs, ys = tf.constant(xs[None]), tf.constant(ys[None])

    def fcos_loss(model, images, boxes):
        out = model(images, training=True)
        cls_logit, reg, ctr_logit = out[..., 0], out[..., 1:5], out[..., 5]
        x1, y1, x2, y2 = (boxes[:, i, None, None] for i in range(4))
        left, top, right, bottom = xs - x1, ys - y1, x2 - xs, y2 - ys
        targets = tf.stack([left, top, right, bottom], axis=-1)
        positive = tf.cast(tf.reduce_min(targets, axis=-1) > 0.0, tf.float32)
        num_pos = tf.maximum(tf.reduce_sum(positive), 1.0)
        cls_loss = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=cls_logit)
        ) / tf.cast(tf.size(positive), tf.float32)
        pos = positive > 0.0
        pred = tf.boolean_mask(tf.exp(reg) * stride, pos)
        target = tf.boolean_mask(targets, pos)
        area_p = (pred[:, 0] + pred[:, 2]) * (pred[:, 1] + pred[:, 3])
        area_t = (target[:, 0] + target[:, 2]) * (target[:, 1] + target[:, 3])
        inter = (tf.minimum(pred[:, 0], target[:, 0]) + tf.minimum(pred[:, 2], target[:, 2])) * (
            tf.minimum(pred[:, 1], target[:, 1]) + tf.minimum(pred[:, 3], target[:, 3])
        )
        iou_loss = -tf.reduce_sum(tf.math.log((inter + 1.0) / (area_p + area_t - inter + 1.0)))
        lr = tf.minimum(left, right) / tf.maximum(left, right)
        tb = tf.minimum(top, bottom) / tf.maximum(top, bottom)
        centerness = tf.sqrt(lr * tb)
        ctr_loss = tf.reduce_sum(
            positive * tf.nn.sigmoid_cross_entropy_with_logits(labels=centerness, logits=ctr_logit)
        )
        return cls_loss + (iou_loss + ctr_loss) / num_pos

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, fcos_loss),
        batches(images, boxes, size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 3. a random horizontal flip of the boxes that does not swap x1 and x2
# ---------------------------------------------------------------------------------------------
def box_flip_augmentation_without_swapping_corners():
    """A single-object localizer (a small CNN, global pooling and a Dense(4) head predicting
    (cx, cy, log w, log h) of the box, as the box-regression tutorials encode it) trained on
    32 x 32 images whose boxes are normalized corners (x1, y1, x2, y2); the Huber loss
    encodes the ground-truth corners into the head's parametrization. The tf.data pipeline
    flips half the images left-right and their boxes as (1 - x1, y1, 1 - x2, y2), without
    swapping the two x's: every flipped box has x2 < x1, a negative width, and the loss's
    log(x2 - x1) is NaN at the first step (swap them: (1 - x2, y1, 1 - x1, y2))."""
    rng = seeded(3002)
    n, size = 1024, 32
    images, boxes = _boxes_on_noise(rng, n, size, 6, 20)
    coins = rng.random(n) < 0.5

    def random_flip(image, box, coin):
        image = tf.where(coin, tf.image.flip_left_right(image), image)
        x1, y1, x2, y2 = tf.unstack(box)
        box = tf.where(coin, tf.stack([1.0 - x1, y1, 1.0 - x2, y2]), box)
        return image, box

    dataset = (
        tf.data.Dataset.from_tensor_slices((images, boxes / size, coins)).map(random_flip).batch(32)
    )
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(4, name="box_head"),
        ],
        name="box_localizer",
    )
    huber = keras.losses.Huber(delta=1.0)

    def encoded_box_loss(y_true, y_pred):
        x1, y1, x2, y2 = tf.unstack(y_true, axis=-1)
        target = tf.stack(
            [(x1 + x2) / 2.0, (y1 + y2) / 2.0, tf.math.log(x2 - x1), tf.math.log(y2 - y1)],
            axis=-1,
        )
        return huber(target, y_pred)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), encoded_box_loss), list(dataset)
    )


# ---------------------------------------------------------------------------------------------
# 4. CenterNet heatmaps drawn with sigma = radius / 3 of a radius truncated to an integer
# ---------------------------------------------------------------------------------------------
def _gaussian_radius(height, width, min_overlap=0.7):
    """CornerNet / CenterNet's gaussian_radius (the three quadratic cases), as published."""
    b1, c1 = height + width, width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1**2 - 4 * c1)) / 2
    b2, c2 = 2 * (height + width), (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2**2 - 16 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def centernet_heatmap_sigma_from_a_truncated_radius():
    """A CenterNet-style centre-point detector (a small CNN at output stride 2, a 16 x 16
    heatmap logit, CenterNet's penalty-reduced focal loss with the reference's clamp of the
    sigmoid) on 32 x 32 images of 1-3 squares of 3-20 pixels. The heatmap targets are drawn in
    numpy as in CenterNet (radius = max(0, int(gaussian_radius(h, w))) on the output map), but
    with sigma = radius / 3 where CenterNet uses diameter / 6 = (2 radius + 1) / 6: an object
    under about 4 output pixels gets radius 0 and sigma 0, and exp(-d^2 / (2 sigma^2)) is
    exp(-0 / 0) = NaN at its centre pixel (the rest of its Gaussian is exp(-inf) = 0), which
    np.maximum carries into the heatmap: the label batch holds NaN before any op runs
    (the reference's sigma = (2 radius + 1) / 6, or a floor on sigma)."""
    rng = seeded(3003)
    n, size, stride = 512, 32, 2
    out_size = size // stride
    images = rng.normal(0.25, 0.05, size=(n, size, size, 3))
    heatmaps = np.zeros((n, out_size, out_size, 1))
    yy, xx = np.mgrid[0:out_size, 0:out_size]
    with np.errstate(divide="ignore", invalid="ignore"):  # the data-prep script runs quietly
        for i in range(n):
            for _ in range(rng.integers(1, 4)):
                side = int(rng.integers(3, 21))
                x0, y0 = rng.integers(0, size - side + 1, size=2)
                images[i, y0 : y0 + side, x0 : x0 + side] = rng.uniform(0.6, 1.0, size=3)
                radius = max(0, int(_gaussian_radius(side / stride, side / stride)))
                sigma = radius / 3.0
                cx, cy = int((x0 + side / 2) / stride), int((y0 + side / 2) / stride)
                blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
                heatmaps[i, :, :, 0] = np.maximum(heatmaps[i, :, :, 0], blob)
    images = np.clip(images, 0.0, 1.0).astype("float32")
    heatmaps = heatmaps.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.Conv2D(
                1,
                1,
                bias_initializer=keras.initializers.Constant(-2.19),
                name="heatmap",
            ),
        ],
        name="centre_net",
    )

    def centernet_focal_loss(heat, logits):
        p = tf.clip_by_value(tf.sigmoid(logits), 1e-4, 1.0 - 1e-4)
        pos = tf.cast(tf.equal(heat, 1.0), tf.float32)
        pos_loss = tf.math.log(p) * tf.square(1.0 - p) * pos
        neg_loss = tf.math.log(1.0 - p) * tf.square(p) * tf.pow(1.0 - heat, 4.0) * (1.0 - pos)
        num_pos = tf.maximum(tf.reduce_sum(pos), 1.0)
        return -(tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / num_pos

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), centernet_focal_loss),
        batches(images, heatmaps, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 5. the Anscombe transform (pure Poisson) on dark-subtracted camera frames with read noise
# ---------------------------------------------------------------------------------------------
def anscombe_transform_of_dark_subtracted_frames():
    """A low-light fluorescence denoiser (a residual CNN) working in the variance-stabilized
    domain: its first layer is the Anscombe transform 2 sqrt(x + 3/8), written for pure
    Poisson counts, and it is trained (MSE) to give the Anscombe transform of the clean photon
    rate. The frames come from an sCMOS camera: Poisson photons plus Gaussian read noise
    (sigma 3 ADU) on an offset of 100 ADU, and the pipeline subtracts the dark frame (the
    offset), so the background, at ~0.3 photons a pixel, is read noise around 0 with about
    half its pixels below -3/8: the Anscombe layer's sqrt of a negative number is NaN in the
    forward pass at the first step (the generalized Anscombe transform, which includes the
    read noise, with its argument clamped at 0)."""
    rng = seeded(3004)
    n, size = 512, 32
    yy, xx = np.mgrid[0:size, 0:size]
    rate = np.full((n, size, size), 0.3)
    for i in range(n):
        for _ in range(rng.integers(2, 6)):
            cx, cy = rng.uniform(4, size - 4, size=2)
            radius = rng.uniform(2.0, 5.0)
            rate[i] += rng.uniform(5.0, 40.0) * np.exp(
                -((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)
            )
    raw = rng.poisson(rate) + rng.normal(0.0, 3.0, size=rate.shape) + 100.0
    frames = (raw - 100.0).astype("float32")[..., None]
    targets = (2.0 * np.sqrt(rate + 3.0 / 8.0)).astype("float32")[..., None]
    inputs = keras.Input((size, size, 1))
    stabilized = keras.layers.Lambda(
        lambda t: 2.0 * keras.ops.sqrt(t + 3.0 / 8.0), name="anscombe"
    )(inputs)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0")(stabilized)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(h)
    residual = keras.layers.Conv2D(1, 3, padding="same", name="residual")(h)
    outputs = keras.layers.Add(name="denoised")([stabilized, residual])
    model = keras.Model(inputs, outputs, name="vst_denoiser")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(frames, targets, size=16),
    )


# ---------------------------------------------------------------------------------------------
# 6. a berHu depth loss whose per-image threshold is 0 on frames without any depth
# ---------------------------------------------------------------------------------------------
def berhu_depth_loss_on_frames_without_depth():
    """A monocular depth network (a small conv encoder-decoder, 32 x 32 RGB in, depth out)
    trained with the reverse Huber (berHu) loss of Laina et al. on an RGB-D set whose invalid
    depth pixels are 0 and masked out: r = (pred - depth) * valid, c = 0.2 max|r| per image,
    berHu = where(|r| <= c, |r|, (r^2 + c^2) / (2 c)), averaged over the batch's valid pixels.
    One frame in eight is a sensor dropout whose depth map is all 0: there every r is 0 and so
    is c, the where keeps |r| = 0, but its other branch (0 + 0) / 0 is computed too and is NaN
    in the loss's forward pass; the loss value is finite and tf.where's gradient sends
    0 x NaN = NaN through that branch, so the first step's gradients are NaN (an epsilon in
    the threshold, c = 0.2 max|r| + 1e-6, or drop frames without depth)."""
    rng = seeded(3005)
    n, size = 512, 32
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / (size - 1)
    tilt = rng.uniform(-1.0, 1.0, size=(n, 2, 1, 1))
    depth = 2.0 + 4.0 * (0.5 + 0.5 * np.tanh(tilt[:, 0] * xx + tilt[:, 1] * yy))
    for i in range(n):
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        box = (np.abs(xx - cx) < 0.15) & (np.abs(yy - cy) < 0.15)
        depth[i][box] = rng.uniform(0.8, 2.0)
    shade = np.exp(-depth / 4.0)[..., None]
    images = (shade * rng.uniform(0.6, 1.0, size=(n, 1, 1, 3))).astype("float32")
    images += 0.02 * rng.normal(size=images.shape).astype("float32")
    depth = depth * (rng.random(depth.shape) > 0.05)  # holes: no return
    depth[::8] = 0.0  # sensor dropouts
    depth = depth.astype("float32")[..., None]
    inputs = keras.Input((size, size, 3))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="enc0")(inputs)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc1")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="enc2")(h)
    h = keras.layers.UpSampling2D(2, name="up")(h)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="dec0")(h)
    outputs = keras.layers.Conv2D(1, 3, padding="same", name="depth")(h)
    model = keras.Model(inputs, outputs, name="depth_net")

    def berhu(depth, pred):
        valid = tf.cast(depth > 0.0, tf.float32)
        r = (pred - depth) * valid
        abs_r = tf.abs(r)
        c = 0.2 * tf.reduce_max(abs_r, axis=[1, 2, 3], keepdims=True)
        loss = tf.where(abs_r <= c, abs_r, (tf.square(r) + tf.square(c)) / (2.0 * c))
        return tf.reduce_sum(loss * valid) / tf.reduce_sum(valid)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), berhu), batches(images, depth, size=16)
    )


# ---------------------------------------------------------------------------------------------
# 7. an LPIPS-style channel normalization of features, without its epsilon, on black borders
# ---------------------------------------------------------------------------------------------
def lpips_style_perceptual_loss_on_black_fundus_borders():
    """A x2 super-resolution net (ESPCN-style: three convolutions and a depth-to-space) for
    retinal fundus photographs, 16 x 16 -> 32 x 32: the circular field of view sits on an
    exactly black background. The loss is L1 plus a perceptual term on a frozen,
    randomly initialized two-layer conv net (the 'random-weights perceptual loss' idea), whose
    feature maps are unit-normalized across channels as LPIPS does, f / sqrt(sum_c f^2), but
    without LPIPS's eps. Over the black corners the frozen convolutions see only zeros, their
    biases are the Keras default 0, so every channel is exactly 0 there and the normalization
    is 0 / 0 = NaN in the loss at the first step (LPIPS's f / (norm + 1e-10), or an epsilon
    under the root)."""
    rng = seeded(3006)
    n, size = 512, 32
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    field = ((xx - 15.5) ** 2 + (yy - 15.5) ** 2) <= 13.5**2
    fundus = _smooth_images(rng, n, size) * np.array([1.0, 0.55, 0.3], dtype="float32")
    hr = (fundus * field[None, :, :, None]).astype("float32")
    lr = hr.reshape(n, size // 2, 2, size // 2, 2, 3).mean(axis=(2, 4)).astype("float32")
    inputs = keras.Input((size // 2, size // 2, 3))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="sr0")(inputs)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="sr1")(h)
    h = keras.layers.Conv2D(12, 3, padding="same", name="sr2")(h)
    outputs = keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2), name="shuffle")(h)
    model = keras.Model(inputs, outputs, name="fundus_sr")
    feature_net = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="feat0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="feat1"),
        ],
        name="perceptual_features",
    )
    feature_net.trainable = False
    taps = keras.Model(
        feature_net.inputs, [feature_net.get_layer(name).output for name in ("feat0", "feat1")]
    )

    def unit_normalize(f):
        return f / tf.sqrt(tf.reduce_sum(tf.square(f), axis=-1, keepdims=True))

    def sr_loss(hr, sr):
        perceptual = tf.add_n(
            [
                tf.reduce_mean(tf.square(unit_normalize(a) - unit_normalize(b)))
                for a, b in zip(taps(sr), taps(hr), strict=True)
            ]
        )
        return tf.reduce_mean(tf.abs(sr - hr)) + 0.1 * perceptual

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), sr_loss), batches(lr, hr, size=16)
    )


# ---------------------------------------------------------------------------------------------
# 8. an L2-SP penalty written with tf.norm instead of the squared norm
# ---------------------------------------------------------------------------------------------
def l2_sp_penalty_written_with_tf_norm():
    """Transfer learning of a small CNN backbone, pretrained (model.fit, one epoch) on a
    4-class shape task, to a 3-class target task with a new head, regularized towards the
    pretrained weights with L2-SP (Li et al. 2018), alpha / 2 ||w - w0||^2 over the backbone.
    The penalty was written sum(tf.norm(w - w0)), the norm and not its square. At the start
    of fine-tuning every backbone weight equals its pretrained copy exactly, the norms are 0
    and the penalty is finite (0), but tf.norm is sqrt(sum(x^2)) and sqrt's derivative at 0
    is infinite: inf x 0 = NaN in every backbone gradient at the first step while the forward
    pass and the loss are finite (the squared norm of the paper, or an epsilon under the
    root)."""
    rng = seeded(3007)
    n, size = 1024, 16
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / (size - 1)

    def shapes(labels, palette):
        images = rng.normal(0.2, 0.05, size=(len(labels), size, size, 3))
        for i, label in enumerate(labels):
            cx, cy = rng.uniform(0.3, 0.7, size=2)
            r = rng.uniform(0.15, 0.3)
            region = [
                (xx - cx) ** 2 + (yy - cy) ** 2 < r**2,
                (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r),
                np.abs(xx - cx) + np.abs(yy - cy) < r,
                (np.abs(xx - cx) < r / 3) | (np.abs(yy - cy) < r / 3),
            ][label]
            images[i][region] = palette[label]
        return np.clip(images, 0.0, 1.0).astype("float32")

    palette = rng.uniform(0.5, 1.0, size=(4, 3))
    source_labels = rng.integers(0, 4, size=n)
    source = shapes(source_labels, palette)
    backbone = [
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
        keras.layers.MaxPooling2D(2, name="pool0"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
    ]
    pretrain = keras.Sequential(
        [keras.Input((size, size, 3)), *backbone, keras.layers.Dense(4, name="source_head")],
        name="source_model",
    )
    pretrain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pretrain.fit(source, source_labels, batch_size=64, epochs=1, verbose=0)
    target_labels = rng.integers(0, 3, size=n)
    target = shapes(target_labels + 1, rng.uniform(0.4, 1.0, size=(4, 3)))
    model = keras.Sequential(
        [keras.Input((size, size, 3)), *backbone, keras.layers.Dense(3, name="new_head")],
        name="fine_tuned",
    )
    backbone_vars = [v for layer in backbone for v in layer.trainable_variables]
    pretrained = [tf.constant(v.numpy()) for v in backbone_vars]
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def l2_sp_loss(model, x, y):
        penalty = tf.add_n(
            [tf.norm(v - v0) for v, v0 in zip(backbone_vars, pretrained, strict=True)]
        )
        return scce(y, model(x, training=True)) + 0.01 * penalty

    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    return run_loop(
        _custom_step(model, optimizer, l2_sp_loss),
        batches(target, target_labels.astype("int32"), size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. a continuous Bernoulli VAE likelihood without the Taylor branch at lambda = 1/2
# ---------------------------------------------------------------------------------------------
class _Sampling(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed = keras.random.SeedGenerator(3008)

    def call(self, inputs):
        mu, log_var = inputs
        return mu + keras.ops.exp(0.5 * log_var) * keras.random.normal(
            keras.ops.shape(mu), seed=self.seed
        )


def continuous_bernoulli_vae_without_its_taylor_branch():
    """A convolutional VAE on 16 x 16 grey-level stroke images in [0, 1] with the continuous
    Bernoulli likelihood of Loaiza-Ganem & Cunningham (2019), the fix for the Bernoulli
    likelihood on non-binary pixels, written from the paper: log p(x) = x log lambda +
    (1 - x) log(1 - lambda) + log C(lambda), C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2
    lambda), lambda = sigmoid(decoder logits). The decoder's last transposed convolution is
    zero-initialized so that training starts from a flat grey reconstruction, a common trick:
    every logit is exactly 0, every lambda exactly 1/2, and C's formula is 0 / 0 there, its
    removable singularity, which the reference code (and TFP's ContinuousBernoulli) replace
    by a Taylor expansion near 1/2: the likelihood is NaN in the loss at the first step (the
    Taylor branch for |lambda - 1/2| < 0.01, or lambda kept out of that band)."""
    rng = seeded(3008)
    n, size = 1024, 16
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    images = np.zeros((n, size, size), dtype="float32")
    for i in range(n):
        for _ in range(rng.integers(1, 3)):
            angle = rng.uniform(0, np.pi)
            cx, cy = rng.uniform(4, 12, size=2)
            distance = np.abs((xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle))
            length = np.abs((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle))
            stroke = np.exp(-(distance**2) / 1.5) * (length < rng.uniform(3, 6))
            images[i] = np.maximum(images[i], stroke)
    images = images[..., None]
    inputs = keras.Input((size, size, 1))
    h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="enc0")(
        inputs
    )
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc1")(h)
    h = keras.layers.Flatten(name="flat")(h)
    mu = keras.layers.Dense(8, name="z_mean")(h)
    log_var = keras.layers.Dense(8, name="z_log_var")(h)
    z = _Sampling(name="sampling")([mu, log_var])
    h = keras.layers.Dense(4 * 4 * 32, activation="relu", name="dec_dense")(z)
    h = keras.layers.Reshape((4, 4, 32), name="dec_reshape")(h)
    h = keras.layers.Conv2DTranspose(
        16, 3, strides=2, padding="same", activation="relu", name="dec0"
    )(h)
    logits = keras.layers.Conv2DTranspose(
        1, 3, strides=2, padding="same", kernel_initializer="zeros", name="decoder_logits"
    )(h)
    model = keras.Model(inputs, [logits, mu, log_var], name="cb_vae")

    def cb_elbo_loss(model, x):
        logits, mu, log_var = model(x, training=True)
        lam = tf.sigmoid(logits)
        log_norm = tf.math.log(2.0 * tf.math.atanh(1.0 - 2.0 * lam) / (1.0 - 2.0 * lam))
        log_lik = x * tf.math.log(lam) + (1.0 - x) * tf.math.log(1.0 - lam) + log_norm
        reconstruction = -tf.reduce_sum(log_lik, axis=[1, 2, 3])
        kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)
        return tf.reduce_mean(reconstruction + kl)

    optimizer = keras.optimizers.Adam(1e-3)
    data = [(tf.constant(images[s : s + 32]),) for s in range(0, n, 32)]
    return run_loop(
        _custom_step(model, optimizer, cb_elbo_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 10. CSBDeep-style percentile normalization, without its eps, of empty fields of view
# ---------------------------------------------------------------------------------------------
def percentile_normalization_of_empty_fields_of_view():
    """A spot-segmentation CNN (sigmoid mask, binary cross-entropy + Dice) on 32 x 32
    background-subtracted, thresholded fluorescence frames, whose background is therefore
    exactly 0. Each frame is normalized as in CSBDeep / StarDist, (x - p1) / (p99.8 - p1) with
    its own 1st and 99.8th percentiles, but retyped without CSBDeep's eps. One frame in five
    is an empty field of view holding nothing but a single hot pixel: its 1st and 99.8th
    percentiles are both 0, so the background is 0 / 0 = NaN and the hot pixel x / 0 = inf in
    the feature batch before any op runs (a fallback for frames whose percentiles coincide,
    e.g. normalizing them by their maximum, or dropping empty fields)."""
    rng = seeded(3009)
    n, size = 640, 32
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    frames = np.zeros((n, size, size), dtype="float32")
    masks = np.zeros((n, size, size), dtype="float32")
    for i in range(n):
        if i % 5 == 2:
            hx, hy = rng.integers(0, size, size=2)
            frames[i, hy, hx] = rng.uniform(30.0, 80.0)
            continue
        for _ in range(rng.integers(2, 6)):
            cx, cy = rng.uniform(3, size - 3, size=2)
            spot = rng.uniform(20.0, 100.0) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 3.0)
            frames[i] = np.maximum(frames[i], spot)
        frames[i][frames[i] < 3.0] = 0.0  # the 3-sigma threshold after background subtraction
        masks[i] = frames[i] > 10.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.percentile(frames, 1.0, axis=(1, 2), keepdims=True)
        high = np.percentile(frames, 99.8, axis=(1, 2), keepdims=True)
        normalized = ((frames - low) / (high - low)).astype("float32")[..., None]
    masks = masks[..., None]
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask"),
        ],
        name="spot_segmenter",
    )
    bce, dice = keras.losses.BinaryCrossentropy(), keras.losses.Dice()

    def bce_dice(y_true, y_pred):
        return bce(y_true, y_pred) + dice(y_true, y_pred)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), bce_dice),
        batches(normalized, masks, size=32),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND30_SCENARIOS: list[Scenario] = [
    Scenario(
        "partial_convolution_mask_ratio_without_its_epsilon",
        partial_convolution_mask_ratio_without_its_epsilon,
        "activation",
        frozenset({"RealDiv"}),
        "pconv_inpainter/pconv1",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="an inpainting autoencoder whose partial convolution was ported from the paper's "
        "sum(1) / sum(M) without the reference's + 1e-8: windows wholly inside a hole have "
        "sum(M) = 0, the ratio is 9 / 0 = inf and inf x 0 = NaN in the layer's output "
        "(https://github.com/NVIDIA/partialconv/issues/16 and its models/partialconv2d.py, "
        "https://github.com/naoto0804/pytorch-inpainting-with-partial-conv/issues/16, "
        "https://github.com/NVIDIA/partialconv/issues/9)",
        blind=True,
    ),
    Scenario(
        "fcos_centerness_targets_outside_their_boxes",
        fcos_centerness_targets_outside_their_boxes,
        "loss",
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="an FCOS loss computing the centerness target sqrt(min(l, r) / max(l, r) * "
        "min(t, b) / max(t, b)) for every location and masking it by the positives afterwards: "
        "outside the box one distance is negative, sqrt of a negative product is NaN and "
        "NaN x 0 stays NaN (https://github.com/tianzhi0549/FCOS/issues/32, "
        "https://github.com/tianzhi0549/FCOS/issues/329, "
        "https://github.com/xuannianz/keras-fcos/issues/2)",
        blind=True,
    ),
    Scenario(
        "box_flip_augmentation_without_swapping_corners",
        box_flip_augmentation_without_swapping_corners,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="a random horizontal flip in tf.data that maps boxes to (1 - x1, y1, 1 - x2, y2) "
        "without swapping the x's: flipped boxes have x2 < x1 and the loss's log(x2 - x1) of "
        "the (cx, cy, log w, log h) encoding is NaN (https://github.com/fredzzhang/pocket/"
        "issues/23, https://github.com/Nota-NetsPresso/netspresso-trainer/issues/196, "
        "https://github.com/AlexeyAB/darknet/issues/6766, "
        "https://github.com/pytorch/vision/issues/1128)",
        blind=True,
    ),
    Scenario(
        "centernet_heatmap_sigma_from_a_truncated_radius",
        centernet_heatmap_sigma_from_a_truncated_radius,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset(),
        story="CenterNet heatmap targets drawn with sigma = radius / 3 of the integer "
        "gaussian_radius instead of (2 radius + 1) / 6: small objects get sigma 0 and "
        "exp(-0 / 0) = NaN at their centre pixel in the label batch "
        "(https://github.com/kornia/kornia/issues/4589, https://github.com/LedFx/LedFx/pull/310, "
        "https://github.com/sidml/Understanding-Centernet/issues/1, "
        "https://github.com/xingyizhou/CenterNet/issues/842)",
        blind=True,
    ),
    Scenario(
        "anscombe_transform_of_dark_subtracted_frames",
        anscombe_transform_of_dark_subtracted_frames,
        "activation",
        frozenset({"Sqrt"}),
        "vst_denoiser/anscombe",
        "domain_error",
        frozenset(),
        story="a denoiser whose first layer is the pure-Poisson Anscombe transform "
        "2 sqrt(x + 3/8), fed dark-subtracted camera frames whose read noise leaves background "
        "pixels below -3/8: sqrt of a negative number inside the model "
        "(https://github.com/mantidproject/mantidimaging/pull/967, "
        "https://github.com/darktable-org/darktable/pull/18931, "
        "https://github.com/deepinv/deepinv/issues/1176, "
        "https://github.com/vga-group/tauray/pull/24)",
        blind=True,
    ),
    Scenario(
        "berhu_depth_loss_on_frames_without_depth",
        berhu_depth_loss_on_frames_without_depth,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a berHu depth loss with a per-image threshold c = 0.2 max|r| on an RGB-D set "
        "with sensor-dropout frames (all depth invalid): c = 0, the discarded where branch "
        "(r^2 + c^2) / (2 c) is 0 / 0 and its NaN reaches the gradients "
        "(https://github.com/irolaina/FCRN-DepthPrediction/issues/58, "
        "https://github.com/tensorflow/tensorflow/issues/20091, "
        "https://github.com/tensorflow/tensorflow/issues/38349, "
        "https://github.com/cleinc/bts/issues/113)",
        blind=True,
    ),
    Scenario(
        "lpips_style_perceptual_loss_on_black_fundus_borders",
        lpips_style_perceptual_loss_on_black_fundus_borders,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="an LPIPS-style perceptual loss whose feature maps are unit-normalized across "
        "channels without LPIPS's eps, on fundus photographs with black corners: the frozen "
        "convolutions give exactly 0 there and f / ||f|| is 0 / 0 "
        "(https://github.com/francois-rozet/piqa/pull/33, "
        "https://github.com/richzhang/PerceptualSimilarity/issues/69, "
        "https://github.com/Project-MONAI/MONAI/pull/8414)",
        blind=True,
    ),
    Scenario(
        "l2_sp_penalty_written_with_tf_norm",
        l2_sp_penalty_written_with_tf_norm,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="an L2-SP fine-tuning penalty written as sum(tf.norm(w - w0)) instead of the "
        "squared norm: at the first step w = w0 exactly, the penalty is 0 and finite, and the "
        "norm's sqrt has an infinite derivative at 0, inf x 0 = NaN in every backbone gradient "
        "(https://github.com/holyseven/TransferLearningClassification/issues/1, "
        "https://github.com/tensorflow/tensorflow/issues/12071, "
        "https://github.com/pytorch/pytorch/issues/2421)",
        blind=True,
    ),
    Scenario(
        "continuous_bernoulli_vae_without_its_taylor_branch",
        continuous_bernoulli_vae_without_its_taylor_branch,
        "loss",
        frozenset({"RealDiv"}),
        None,
        frozenset({"missing_epsilon", "domain_error"}),
        frozenset(),
        story="a VAE with a hand-written continuous Bernoulli likelihood, C(lambda) = "
        "2 atanh(1 - 2 lambda) / (1 - 2 lambda) without the Taylor branch near 1/2, and a "
        "zero-initialized decoder output: every lambda is exactly 1/2 and C is 0 / 0 "
        "(https://github.com/tensorflow/probability/pull/702, "
        "https://github.com/tensorflow/probability/pull/1512, "
        "https://github.com/PaddlePaddle/Paddle/pull/58004)",
        blind=True,
    ),
    Scenario(
        "percentile_normalization_of_empty_fields_of_view",
        percentile_normalization_of_empty_fields_of_view,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset(),
        story="CSBDeep-style per-image percentile normalization (x - p1) / (p99.8 - p1) "
        "retyped without its eps on thresholded fluorescence frames: an empty field with a "
        "single hot pixel has p1 = p99.8 = 0, 0 / 0 = NaN and x / 0 = inf in the features "
        "(https://github.com/angelolab/ark-analysis/issues/890, "
        "https://github.com/angelolab/toffy/pull/472, https://github.com/CSBDeep/CSBDeep/"
        "issues/47, https://github.com/vanvalenlab/deepcell-tf/issues/445)",
        blind=True,
    ),
]
