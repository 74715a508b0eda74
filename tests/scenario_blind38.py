"""A thirty-eighth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules: only the scenario helpers of ``scenario_cases.py`` (lines 1-120) and
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the 545
existing scenarios (to avoid repeating their patterns); no git log or diff output of other
files, no other blind suite, and nantrace was neither imported nor run. Each expectation comes
from the bug pattern itself (where a careful ML engineer would say the first non-finite value
appears, why, and the first fix to try), and all ten were written into this file before
anything was run. The patterns come from public reports found with a search over GitHub issues
and pull requests; each story cites them.

Theme: segmentation, detection and dense prediction as ordinary TF / Keras users write them.
The patterns: a focal Tversky loss (1 - TI) ** 0.75 per image on a set with empty slices; a
hand-written GIoU loss in pixel units on a float16 box head under mixed_float16; anchor targets
log(w / w_anchor) encoded for every anchor (unmatched ones carry the zero box) and masked after;
CenterNet's focal loss on Gaussians drawn at float centres (no exact-1 peak, num_pos = 0); a
discriminative instance-embedding loss given raw non-contiguous instance ids as segment ids; a
ReLU disparity head turned into depth by 1 / disparity in the model; the optical-flow EPE via
tf.norm with a zero-initialized flow head on static pixels; keypoint heatmap targets normalized
to sum 1 in tf.data after a crop that leaves keypoints far outside; DeepLab's poly schedule by
hand with max_steps computed for a larger batch than the one used; and depth completion with
the sparse LiDAR input left in KITTI's PNG units (metres x 256).

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights, and at which step), and (with
tf.debugging.enable_check_numerics, the step compiled as the scenario runs it) which op first
produces the non-finite value, in a throwaway script outside the repository that stands in
plain-TF versions of the loop helpers and asserts that nantrace was never imported. No
expectation field (kind, op types, layer, cause, fixes) was changed after that check, and no
pattern was dropped. What the check showed (step = index of the training step): the focal
Tversky loss (after the change below) trains to a loss of 0.003 and at step 46 the gradients
and weights are non-finite while the loss is finite; first op the backward Pow inside PowGrad
(gradient_tape/Pow/Pow, +inf). The GIoU loss: NaN at step 0; first op a float16 Mul of the
loss (an area, +inf). The anchor targets: NaN at step 0; first op the loss's Log (-inf). The
CenterNet loss: inf at step 0; first op the loss's RealDiv by num_pos (+inf). The
discriminative loss: NaN at step 0; first op the RealDiv sums / counts (0 / 0, NaN). The
disparity head: loss inf at step 0; first op depth_net/to_depth's RealDiv (+inf). The EPE:
loss finite (0.21) at step 0 with NaN gradients and weights; first op the backward SqrtGrad of
the norm (+inf). The keypoint targets: the label batch holds NaN at step 0; first op the
RealDiv g / sum(g) inside the tf.data map. The poly schedule: finite up to step 40 (rate 0),
weights NaN after step 41 while loss and gradients are finite; first op the schedule's Pow in
the SGD update (NaN). The KITTI-units input (after the change below): loss 6e5 at step 0,
3e28 at step 1, inf at step 2; first op conv1's Conv2D (forward, +inf) at step 2.
Constructions changed after the first check (expectation fields untouched): the focal Tversky
scenario first trained with Adam(1e-3); after 900 steps the smallest 1 - TI of an empty slice
was still 6e-6 (finite throughout), so it now trains with Adam(1e-2), where the empty slices'
index rounds to exactly 1 at step 46. The depth-completion network first had a plain conv
stack: SGD's first update killed its ReLUs, the loss stayed at a finite ~1e24 with only the
head's bias moving; its head now also sees the raw input through a late-fusion Concatenate
(the sparse depth concatenated to the features before the head, as guided completion
networks do), and the run overflows at step 2.
Caveats a reader should know: the CenterNet and discriminative-loss scenarios leave cause
None and the fix set empty (the first fixes, drawing peaks at integer centres and relabelling
ids with tf.unique, are not taxonomy ids, and their divisions by a zero count are not a
missing epsilon); the poly-schedule fix set is empty (clamp the step); the KITTI-units
scenario leaves kind None (the check showed a Conv2D overflow after two diverging steps); the
focal Tversky scenario shares its mechanism (a power below one of an exact 0) with an
existing binary-focal scenario, the EPE scenario its mechanism (a norm of a zero vector) with
an existing keypoint-distance scenario, in other losses and stories.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    dtype_policy,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


def _conv_body(name, inputs, filters=(16, 16), pool=False):
    """A small ReLU conv body: Conv2D(3 x 3, same) blocks, an optional 2 x 2 pooling after the first."""
    h = inputs
    for i, f in enumerate(filters):
        h = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(h)
        if pool and i == 0:
            h = keras.layers.MaxPooling2D(2, name="pool0")(h)
    return h


# ---------------------------------------------------------------------------------------------
# 1. focal Tversky loss (gamma = 0.75) per image, on a set where half the slices are empty
# ---------------------------------------------------------------------------------------------
def focal_tversky_loss_on_empty_slices():
    """A lesion segmenter (three conv layers, sigmoid mask head) on 32 x 32 slices, half of
    which hold no lesion, trained with the focal Tversky loss as the paper and its Keras
    reference write it: TI = (TP + 1) / (TP + 0.7 FN + 0.3 FP + 1) per image and the loss
    (1 - TI) ** 0.75. On an empty slice TP = FN = 0 and TI = 1 / (1 + 0.3 FP): once the model
    is confident on the empty slices, FP (the sum of the background probabilities) falls
    below ~1e-7 and TI rounds to exactly 1.0 in float32. The loss value is 0, but the
    derivative of x ** 0.75 at 0 is 0.75 * 0 ** -0.25 = inf: the backward pass is non-finite
    while the forward is finite (keep 1 - TI off 0: clamp it at an epsilon)."""
    rng = seeded(3800)
    n, size = 512, 32
    images = 0.1 * rng.normal(size=(n, size, size, 1))
    masks = np.zeros((n, size, size, 1))
    yy, xx = np.mgrid[:size, :size]
    for i in range(0, n, 2):
        cy, cx = rng.integers(8, 24, size=2)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(3.0, 7.0) ** 2
        masks[i, blob, 0] = 1.0
        images[i, blob, 0] += 1.0
    inputs = keras.Input((size, size, 1))
    h = _conv_body("lesion", inputs)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask_head")(h)
    model = keras.Model(inputs, outputs, name="lesion_net")

    def focal_tversky(y_true, y_pred):
        tp = tf.reduce_sum(y_true * y_pred, axis=(1, 2, 3))
        fn = tf.reduce_sum(y_true * (1.0 - y_pred), axis=(1, 2, 3))
        fp = tf.reduce_sum((1.0 - y_true) * y_pred, axis=(1, 2, 3))
        tversky = (tp + 1.0) / (tp + 0.7 * fn + 0.3 * fp + 1.0)
        return tf.reduce_mean(tf.pow(1.0 - tversky, 0.75))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), focal_tversky),
        batches(images.astype("float32"), masks.astype("float32"), size=16, epochs=10),
    )


# ---------------------------------------------------------------------------------------------
# 2. a GIoU loss computed in pixel units on a float16 box head under mixed_float16
# ---------------------------------------------------------------------------------------------
def giou_loss_in_pixel_units_under_mixed_float16():
    """A single-object box regressor (a small CNN, GlobalAveragePooling, a sigmoid Dense(4)
    head giving (cx, cy, w, h) as fractions of the image) trained under mixed_float16 with
    the box head left in float16, and a GIoU loss written by hand 'in pixels, as the
    reference does it': the boxes are multiplied by the image size 512 and y_true is cast to
    y_pred's dtype (as Keras' own losses do). The coordinates fit float16, but the areas do
    not: a 256 x 256 box already has an area of 65536 > 65504, so the predicted and target
    areas (and the enclosing area) are inf in float16 at the first step and IoU = inf / inf
    is NaN in the loss (compute the loss in float32: a float32 output layer, or cast)."""

    def build():
        rng = seeded(3801)
        n, size = 512, 32
        centres = rng.uniform(0.3, 0.7, size=(n, 2))
        extents = rng.uniform(0.2, 0.9, size=(n, 2))
        images = 0.1 * rng.normal(size=(n, size, size, 3))
        for i in range(n):
            (cx, cy), (w, h) = centres[i], extents[i]
            x1, x2 = int(max(0, (cx - w / 2) * size)), int(min(size, (cx + w / 2) * size))
            y1, y2 = int(max(0, (cy - h / 2) * size)), int(min(size, (cy + h / 2) * size))
            images[i, y1:y2, x1:x2, :] += 1.0
        boxes = np.concatenate([centres, extents], axis=1).astype("float32")
        inputs = keras.Input((size, size, 3))
        h = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv0")(inputs)
        h = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="conv1")(h)
        h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
        h = keras.layers.Dense(32, activation="relu", name="fc")(h)
        outputs = keras.layers.Dense(4, activation="sigmoid", name="box_head")(h)
        model = keras.Model(inputs, outputs, name="box_regressor")

        def corners(b):
            cx, cy, w, h = tf.unstack(b * 512.0, axis=-1)
            return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2

        def giou_loss(y_true, y_pred):
            y_true = tf.cast(y_true, y_pred.dtype)
            px1, py1, px2, py2 = corners(y_pred)
            tx1, ty1, tx2, ty2 = corners(y_true)
            area_p = (px2 - px1) * (py2 - py1)
            area_t = (tx2 - tx1) * (ty2 - ty1)
            iw = tf.nn.relu(tf.minimum(px2, tx2) - tf.maximum(px1, tx1))
            ih = tf.nn.relu(tf.minimum(py2, ty2) - tf.maximum(py1, ty1))
            inter = iw * ih
            union = area_p + area_t - inter
            iou = inter / union
            enclose = (tf.maximum(px2, tx2) - tf.minimum(px1, tx1)) * (
                tf.maximum(py2, ty2) - tf.minimum(py1, ty1)
            )
            giou = iou - (enclose - union) / enclose
            return tf.reduce_mean(1.0 - giou)

        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), giou_loss),
            batches(images.astype("float32"), boxes, size=32),
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 3. anchor box targets log(w / w_anchor) encoded for every anchor, unmatched ones masked after
# ---------------------------------------------------------------------------------------------
def box_targets_encoded_for_unmatched_anchors_then_masked():
    """A one-stage detector's box branch (a small CNN giving an 8 x 8 grid of anchors, one
    8 x 8-pixel anchor per cell, a Conv2D(4) head reshaped to (64, 4)). The matcher (numpy)
    hands the loss, per anchor, the matched ground-truth box (cx, cy, w, h) and a positive
    flag; unmatched anchors get the box (0, 0, 0, 0). The loss encodes the targets for ALL
    anchors, vectorized, SSD / Faster R-CNN style (tx = (cx - cx_a) / w_a,
    tw = log(w / w_a)), then multiplies the smooth-L1 by the positive flag: for the
    unmatched anchors log(0 / w_a) = -inf, the smooth-L1 of an infinite error is inf and
    inf x 0 = NaN in the loss at the first step (the TF Object Detection API's box coder adds
    an EPSILON to w and h; or encode only the matched anchors)."""
    rng = seeded(3802)
    n, size, grid = 512, 32, 8
    stride = size // grid
    centres = (np.arange(grid) + 0.5) / grid
    acy, acx = np.meshgrid(centres, centres, indexing="ij")
    anchors = np.stack(
        [acx.ravel(), acy.ravel(), np.full(grid * grid, 0.25), np.full(grid * grid, 0.25)],
        axis=1,
    )
    images = 0.1 * rng.normal(size=(n, size, size, 1))
    targets = np.zeros((n, grid * grid, 5))

    def iou(a, b):
        ax1, ay1, ax2, ay2 = (
            a[:, 0] - a[:, 2] / 2,
            a[:, 1] - a[:, 3] / 2,
            a[:, 0] + a[:, 2] / 2,
            a[:, 1] + a[:, 3] / 2,
        )
        bx1, by1, bx2, by2 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
        iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
        ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
        inter = iw * ih
        return inter / (a[:, 2] * a[:, 3] + b[2] * b[3] - inter)

    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            w, h = rng.uniform(4, 14, size=2) / size
            cx, cy = rng.uniform(0.15, 0.85, size=2)
            x1, x2 = int((cx - w / 2) * size), int((cx + w / 2) * size)
            y1, y2 = int((cy - h / 2) * size), int((cy + h / 2) * size)
            images[i, y1:y2, x1:x2, 0] += 1.0
            overlaps = iou(anchors, np.array([cx, cy, w, h]))
            matched = overlaps >= 0.4
            matched[np.argmax(overlaps)] = True
            targets[i, matched, :4] = [cx, cy, w, h]
            targets[i, matched, 4] = 1.0
    inputs = keras.Input((size, size, 1))
    h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv0")(
        inputs
    )
    h = keras.layers.Conv2D(
        32, 3, strides=stride // 2, padding="same", activation="relu", name="conv1"
    )(h)
    h = keras.layers.Conv2D(4, 1, name="box_head")(h)
    outputs = keras.layers.Reshape((grid * grid, 4), name="per_anchor")(h)
    model = keras.Model(inputs, outputs, name="anchor_detector")
    anchor_t = tf.constant(anchors, tf.float32)

    def box_loss(y_true, y_pred):
        boxes, positive = y_true[..., :4], y_true[..., 4]
        tx = (boxes[..., 0] - anchor_t[:, 0]) / anchor_t[:, 2]
        ty = (boxes[..., 1] - anchor_t[:, 1]) / anchor_t[:, 3]
        tw = tf.math.log(boxes[..., 2] / anchor_t[:, 2])
        th = tf.math.log(boxes[..., 3] / anchor_t[:, 3])
        error = tf.abs(y_pred - tf.stack([tx, ty, tw, th], axis=-1))
        smooth_l1 = tf.where(error < 1.0, 0.5 * tf.square(error), error - 0.5)
        per_anchor = tf.reduce_sum(smooth_l1, axis=-1) * positive
        return tf.reduce_sum(per_anchor) / tf.maximum(tf.reduce_sum(positive), 1.0)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), box_loss),
        batches(images.astype("float32"), targets.astype("float32"), size=16),
    )


# ---------------------------------------------------------------------------------------------
# 4. CenterNet heatmap targets drawn at the float centres: no pixel is exactly 1, num_pos = 0
# ---------------------------------------------------------------------------------------------
def centernet_heatmap_peaks_drawn_at_float_centres():
    """A CenterNet-style centre-heatmap detector (a small CNN at stride 2, a 1 x 1 heatmap head
    with the paper's bias -2.19) trained with CornerNet / CenterNet's modified focal loss,
    ported faithfully (the sigmoid clamped to [1e-4, 1 - 1e-4], positives are the pixels
    where gt == 1, the sum divided by num_pos) except that the port draws each Gaussian at
    the object's float centre on the output grid, where the reference floors the centre to an
    integer pixel first. The centres fall between pixels, no target pixel is exactly 1.0, and
    num_pos = 0 for every batch: the loss is -(0 + neg_loss) / 0 = inf at the first step
    (draw the peaks at the integer centre, as the reference does)."""
    rng = seeded(3803)
    n, size, out = 512, 32, 16
    images = 0.1 * rng.normal(size=(n, size, size, 1))
    heatmaps = np.zeros((n, out, out, 1))
    gy, gx = np.mgrid[:out, :out]
    for i in range(n):
        for _ in range(rng.integers(1, 3)):
            extent = rng.uniform(4.0, 10.0)
            cx = rng.integers(3, out - 3) + rng.uniform(0.1, 0.9)
            cy = rng.integers(3, out - 3) + rng.uniform(0.1, 0.9)
            x1, x2 = int(2 * cx - extent / 2), int(2 * cx + extent / 2)
            y1, y2 = int(2 * cy - extent / 2), int(2 * cy + extent / 2)
            images[i, max(y1, 0) : y2, max(x1, 0) : x2, 0] += 1.0
            sigma = max(extent / 2 / 3.0, 0.7)
            peak = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
            heatmaps[i, :, :, 0] = np.maximum(heatmaps[i, :, :, 0], peak)
    inputs = keras.Input((size, size, 1))
    h = _conv_body("centre", inputs, pool=True)
    outputs = keras.layers.Conv2D(
        1, 1, bias_initializer=keras.initializers.Constant(-2.19), name="heatmap_head"
    )(h)
    model = keras.Model(inputs, outputs, name="centernet")

    def centernet_focal_loss(y_true, y_pred):
        pred = tf.clip_by_value(tf.sigmoid(y_pred), 1e-4, 1.0 - 1e-4)
        positive = tf.cast(tf.equal(y_true, 1.0), tf.float32)
        negative = 1.0 - positive
        neg_weights = tf.pow(1.0 - y_true, 4.0)
        pos_loss = tf.reduce_sum(tf.math.log(pred) * tf.square(1.0 - pred) * positive)
        neg_loss = tf.reduce_sum(tf.math.log(1.0 - pred) * tf.square(pred) * neg_weights * negative)
        num_pos = tf.reduce_sum(positive)
        return -(pos_loss + neg_loss) / num_pos

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), centernet_focal_loss),
        batches(images.astype("float32"), heatmaps.astype("float32"), size=16),
    )


# ---------------------------------------------------------------------------------------------
# 5. a discriminative (instance-embedding) loss given the raw, non-contiguous instance ids
# ---------------------------------------------------------------------------------------------
def discriminative_loss_with_raw_instance_ids_as_segment_ids():
    """An instance-embedding network (a small CNN, a 4-d pixel embedding head) trained with De
    Brabandere et al.'s discriminative loss written with segment ops: the cluster centres are
    unsorted_segment_sum(embedding, ids, K) / counts with K = max(id) + 1, as if the ids ran
    0..n-1. LaneNet's TF loss makes them contiguous with tf.unique_with_counts first; this
    port feeds the annotation tool's instance ids (background 0 and 2-4 objects with ids
    drawn from 1..15), so every id below the largest that is absent from the image has an
    empty segment: its centre is 0 / 0 = NaN and the pull, push and regularizer terms are
    NaN at the first step (relabel the ids with tf.unique first)."""
    rng = seeded(3804)
    n, size, batch = 256, 32, 8
    images = 0.1 * rng.normal(size=(n, size, size, 3))
    ids = np.zeros((n, size, size), dtype="int32")
    for i in range(n):
        chosen = rng.choice(np.arange(1, 16), size=rng.integers(2, 5), replace=False)
        for inst in chosen:
            w, h = rng.integers(5, 12, size=2)
            x1, y1 = rng.integers(0, size - w), rng.integers(0, size - h)
            ids[i, y1 : y1 + h, x1 : x1 + w] = inst
            images[i, y1 : y1 + h, x1 : x1 + w, :] += rng.uniform(-1.0, 1.0, size=3)
    inputs = keras.Input((size, size, 3))
    h = _conv_body("instance", inputs)
    outputs = keras.layers.Conv2D(4, 1, name="embedding")(h)
    model = keras.Model(inputs, outputs, name="instance_embedder")
    delta_v, delta_d = 0.5, 1.5

    def discriminative_loss(model, x, labels):
        embeddings = model(x, training=True)
        losses = []
        for b in range(batch):
            e = tf.reshape(embeddings[b], (-1, 4))
            lab = tf.reshape(labels[b], (-1,))
            k = tf.reduce_max(lab) + 1
            counts = tf.math.unsorted_segment_sum(tf.ones_like(lab, tf.float32), lab, k)
            mu = tf.math.unsorted_segment_sum(e, lab, k) / counts[:, None]
            pull = tf.square(tf.nn.relu(tf.norm(e - tf.gather(mu, lab), axis=1) - delta_v))
            l_var = tf.reduce_mean(tf.math.unsorted_segment_sum(pull, lab, k) / counts)
            row, col = tf.meshgrid(tf.range(k), tf.range(k), indexing="ij")
            upper = row < col
            gap = tf.norm(
                tf.gather(mu, tf.boolean_mask(row, upper))
                - tf.gather(mu, tf.boolean_mask(col, upper)),
                axis=1,
            )
            l_dist = tf.reduce_mean(tf.square(tf.nn.relu(2.0 * delta_d - gap)))
            l_reg = tf.reduce_mean(tf.norm(mu, axis=1))
            losses.append(l_var + l_dist + 0.001 * l_reg)
        return tf.add_n(losses) / batch

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, discriminative_loss),
        batches(images.astype("float32"), ids, size=batch),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 6. a ReLU disparity head turned into depth by 1 / disparity inside the model
# ---------------------------------------------------------------------------------------------
def relu_disparity_head_inverted_to_depth():
    """A monocular depth network that, like monodepth, predicts disparity (inverse depth) and
    converts it to depth inside the model for an L1 loss on metric depth (1-60 m), but with a
    Conv2D(activation='relu') disparity head 'because disparity is non-negative' (MiDaS keeps
    a ReLU) instead of monodepth's sigmoid scaled into [1 / max_depth, 1 / min_depth]. At
    initialization about half of the head's pre-activations are negative, the ReLU gives
    exactly 0 there and the Lambda's 1 / disparity is inf inside the model at the first step
    (bound the disparity away from 0: an epsilon / a minimum disparity)."""
    rng = seeded(3805)
    n, size = 256, 32
    yy, xx = np.mgrid[:size, :size] / size
    depth = np.zeros((n, size, size, 1))
    images = np.zeros((n, size, size, 3))
    for i in range(n):
        slope, tilt = rng.uniform(0.5, 2.0), rng.uniform(-0.5, 0.5)
        d = 1.0 + 59.0 * np.clip(1.0 - slope * yy + tilt * xx, 0.0, 1.0)
        depth[i, :, :, 0] = d
        images[i] = (1.0 / d)[:, :, None] * rng.uniform(0.5, 1.5, size=3) + 0.05 * rng.normal(
            size=(size, size, 3)
        )
    inputs = keras.Input((size, size, 3))
    h = _conv_body("depth", inputs)
    disparity = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="disparity")(h)
    outputs = keras.layers.Lambda(lambda d: 1.0 / d, name="to_depth")(disparity)
    model = keras.Model(inputs, outputs, name="depth_net")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-4), keras.losses.MeanAbsoluteError()),
        batches(images.astype("float32"), depth.astype("float32"), size=16),
    )


# ---------------------------------------------------------------------------------------------
# 7. end-point error written with tf.norm, a zero-initialized flow head and static background
# ---------------------------------------------------------------------------------------------
def flow_epe_with_a_zero_initialized_head_on_static_pixels():
    """A small optical-flow network (two stacked grey frames -> conv layers -> a Conv2D(2)
    flow head zero-initialized, 'so that training starts from zero flow' as RAFT-style
    residual updates do) trained on the end-point error as FlowNet / PWC-Net ports write it:
    mean(tf.norm(pred - gt, axis=-1)). The synthetic scenes move one textured square over a
    static textured background, so the ground-truth flow is exactly (0, 0) on most pixels.
    At the first step the prediction is exactly 0 too: the norm of a zero vector is 0 (the
    loss is finite), but its gradient x / |x| is 0 / 0: the backward pass is NaN (an
    epsilon inside the square root: sqrt(sum(d^2) + eps))."""
    rng = seeded(3806)
    n, size = 256, 24
    frames = np.zeros((n, size, size, 2))
    flow = np.zeros((n, size, size, 2))
    for i in range(n):
        background = rng.uniform(0.0, 1.0, size=(size, size))
        patch = rng.uniform(0.0, 1.0, size=(8, 8)) + 1.0
        dx, dy = rng.integers(-2, 3, size=2)
        x1, y1 = rng.integers(3, size - 11, size=2)
        first, second = background.copy(), background.copy()
        first[y1 : y1 + 8, x1 : x1 + 8] = patch
        second[y1 + dy : y1 + dy + 8, x1 + dx : x1 + dx + 8] = patch
        frames[i, :, :, 0], frames[i, :, :, 1] = first, second
        flow[i, y1 : y1 + 8, x1 : x1 + 8, :] = [dx, dy]
    inputs = keras.Input((size, size, 2))
    h = _conv_body("flow", inputs, filters=(16, 32))
    outputs = keras.layers.Conv2D(
        2, 3, padding="same", kernel_initializer="zeros", name="flow_head"
    )(h)
    model = keras.Model(inputs, outputs, name="flow_net")

    def end_point_error(y_true, y_pred):
        return tf.reduce_mean(tf.norm(y_pred - y_true, axis=-1))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-4), end_point_error),
        batches(frames.astype("float32"), flow.astype("float32"), size=16),
    )


# ---------------------------------------------------------------------------------------------
# 8. keypoint heatmap targets normalized to sum 1 for keypoints that the random crop left out
# ---------------------------------------------------------------------------------------------
def keypoint_heatmaps_normalized_after_cropping_the_keypoint_out():
    """A 4-keypoint detector trained with a softmax cross-entropy over each keypoint's heatmap
    (the target a Gaussian normalized to sum 1, as integral / distribution heatmap losses
    need), the targets drawn in the tf.data map after a random 32 x 32 crop of the 96 x 96
    image. A keypoint the crop leaves far outside (more than ~15 grid cells from the
    16 x 16 output grid) has a Gaussian that underflows to exactly 0 on every cell, and
    g / sum(g) is 0 / 0: NaN rows in the label batch before any op of the step runs (mark
    cropped-out keypoints invisible and drop them from the loss)."""
    rng = seeded(3807)
    n, full, crop, out, k = 512, 96, 32, 16, 4
    keypoints = rng.uniform(8.0, full - 8.0, size=(n, k, 2))
    images = 0.1 * rng.normal(size=(n, full, full, 1))
    for i in range(n):
        for y, x in keypoints[i].astype(int):
            images[i, y - 1 : y + 2, x - 1 : x + 2, 0] += 1.0
    offsets = rng.integers(0, full - crop + 1, size=(n, 2))

    def crop_and_target(image, points, offset):
        patch = tf.image.crop_to_bounding_box(image, offset[0], offset[1], crop, crop)
        grid_points = (points - tf.cast(offset, tf.float32)) / 2.0
        gy, gx = tf.meshgrid(
            tf.range(out, dtype=tf.float32), tf.range(out, dtype=tf.float32), indexing="ij"
        )
        d2 = tf.square(gy[None] - grid_points[:, 0, None, None]) + tf.square(
            gx[None] - grid_points[:, 1, None, None]
        )
        g = tf.exp(-d2 / 2.0)
        g = g / tf.reduce_sum(g, axis=(1, 2), keepdims=True)
        return patch, tf.transpose(g, (1, 2, 0))

    dataset = (
        tf.data.Dataset.from_tensor_slices(
            (images.astype("float32"), keypoints.astype("float32"), offsets.astype("int32"))
        )
        .map(crop_and_target)
        .batch(16)
    )
    inputs = keras.Input((crop, crop, 1))
    h = _conv_body("keypoint", inputs, pool=True)
    outputs = keras.layers.Conv2D(k, 1, name="heatmap_head")(h)
    model = keras.Model(inputs, outputs, name="keypoint_net")

    def heatmap_cross_entropy(y_true, y_pred):
        labels = tf.reshape(tf.transpose(y_true, (0, 3, 1, 2)), (-1, out * out))
        logits = tf.reshape(tf.transpose(y_pred, (0, 3, 1, 2)), (-1, out * out))
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), heatmap_cross_entropy),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 9. DeepLab's 'poly' schedule by hand, its max_steps computed for the paper's batch size
# ---------------------------------------------------------------------------------------------
class PolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """DeepLab / PSPNet's 'poly' policy, base * (1 - step / max_steps) ** power."""

    def __init__(self, base, max_steps, power=0.9):
        self.base, self.max_steps, self.power = base, float(max_steps), power

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return self.base * (1.0 - step / self.max_steps) ** self.power

    def get_config(self):
        return {"base": self.base, "max_steps": self.max_steps, "power": self.power}


def poly_learning_rate_schedule_run_past_its_max_steps():
    """A small semantic segmenter (3 classes, per-pixel sparse cross-entropy from logits) on
    SGD(momentum 0.9) with DeepLab's 'poly' learning-rate policy written as a Keras
    LearningRateSchedule, base * (1 - step / max_steps) ** 0.9, max_steps computed from the
    config as epochs * len(train) // 16 (the paper's batch size) while the loader, to fit
    memory, uses batches of 8: the run lasts twice max_steps. At step max_steps the rate is
    0; one step later 1 - step / max_steps < 0 and a negative base to the power 0.9 is NaN:
    the learning rate is NaN and the SGD update writes NaN into every weight while the
    forward pass and the gradients are finite (clamp the step at max_steps, or compute
    max_steps from the batch size actually used)."""
    rng = seeded(3808)
    n, size, classes, epochs = 320, 32, 3, 2
    images = 0.2 * rng.normal(size=(n, size, size, 3))
    labels = np.zeros((n, size, size), dtype="int32")
    for i in range(n):
        for c in (1, 2):
            w, h = rng.integers(6, 14, size=2)
            x1, y1 = rng.integers(0, size - w), rng.integers(0, size - h)
            labels[i, y1 : y1 + h, x1 : x1 + w] = c
            images[i, y1 : y1 + h, x1 : x1 + w, c] += 1.0
    inputs = keras.Input((size, size, 3))
    h = _conv_body("seg", inputs)
    outputs = keras.layers.Conv2D(classes, 1, name="classifier")(h)
    model = keras.Model(inputs, outputs, name="segmenter")
    max_steps = epochs * n // 16
    optimizer = keras.optimizers.SGD(learning_rate=PolyDecay(0.01, max_steps), momentum=0.9)
    return run_loop(
        standard_step(
            model, optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
        batches(images.astype("float32"), labels, size=8, epochs=epochs),
    )


# ---------------------------------------------------------------------------------------------
# 10. depth completion fed the sparse depth channel still in KITTI's PNG units (metres x 256)
# ---------------------------------------------------------------------------------------------
def sparse_depth_input_left_in_kitti_png_units():
    """A depth-completion network (Sparse-to-Dense style: RGB in [0, 1] plus a sparse LiDAR
    depth channel, a small CNN, MSE on dense depth in metres, SGD(0.01, momentum 0.9) as in
    that paper). KITTI stores depth as uint16 PNGs of metres x 256: the target loader
    divides by 256, but the input loader was written separately and does not, so the 5 % of
    pixels with a LiDAR return reach the network as 256-15000 next to RGB values below 1. The
    first layer's pre-activations are in the thousands, the squared errors ~1e7, and SGD's
    first updates throw the weights out until the run overflows within a few steps (divide
    the input depth by 256 too)."""
    rng = seeded(3809)
    n, size = 256, 32
    yy, xx = np.mgrid[:size, :size] / size
    inputs_np = np.zeros((n, size, size, 4))
    depth = np.zeros((n, size, size, 1))
    for i in range(n):
        slope, tilt = rng.uniform(0.5, 1.5), rng.uniform(-0.5, 0.5)
        d = 2.0 + 56.0 * np.clip(1.0 - slope * yy + tilt * xx, 0.0, 1.0)
        depth[i, :, :, 0] = d
        rgb = (2.0 / d)[:, :, None] * rng.uniform(0.5, 1.5, size=3) + 0.05 * rng.normal(
            size=(size, size, 3)
        )
        lidar = np.where(rng.random((size, size)) < 0.05, d * 256.0, 0.0)
        inputs_np[i] = np.concatenate([rgb, lidar[:, :, None]], axis=-1)
    inputs = keras.Input((size, size, 4))
    h = _conv_body("completion", inputs)
    h = keras.layers.Concatenate(name="late_fusion")([h, inputs])
    outputs = keras.layers.Conv2D(1, 3, padding="same", name="depth_head")(h)
    model = keras.Model(inputs, outputs, name="completion_net")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        batches(inputs_np.astype("float32"), depth.astype("float32"), size=8),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND38_SCENARIOS: list[Scenario] = [
    Scenario(
        "focal_tversky_loss_on_empty_slices",
        focal_tversky_loss_on_empty_slices,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="the focal Tversky loss (1 - TI) ** 0.75 per image on a set with empty slices: "
        "once the model is confident on an empty slice its Tversky index rounds to exactly 1, "
        "the loss is 0 but the derivative of x ** 0.75 at 0 is infinite and the backward pass "
        "is non-finite; keep 1 - TI above an epsilon "
        "(https://github.com/shruti-jadon/Semantic-Segmentation-Loss-Functions/issues/2, "
        "https://github.com/nabsabraham/focal-tversky-unet/issues/30, "
        "https://github.com/qubvel-org/segmentation_models.pytorch/pull/932, "
        "https://github.com/qubvel-org/segmentation_models.pytorch/issues/734)",
        blind=True,
    ),
    Scenario(
        "giou_loss_in_pixel_units_under_mixed_float16",
        giou_loss_in_pixel_units_under_mixed_float16,
        "loss",
        frozenset({"Mul"}),
        None,
        "float16_range",
        frozenset({"float32_layer"}),
        story="a hand-written GIoU loss in pixel units on a float16 box head under "
        "mixed_float16: box areas of 256 x 256 pixels pass 65504, the areas are inf and "
        "IoU = inf / inf is NaN; compute the loss in float32 "
        "(https://github.com/PeizeSun/SparseR-CNN/issues/72, "
        "https://github.com/facebookresearch/fvcore/pull/114, "
        "https://github.com/pytorch/vision/pull/3385, "
        "https://github.com/qubvel-org/segmentation_models.pytorch/issues/463, "
        "https://github.com/ultralytics/yolov5/issues/736)",
        blind=True,
    ),
    Scenario(
        "box_targets_encoded_for_unmatched_anchors_then_masked",
        box_targets_encoded_for_unmatched_anchors_then_masked,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="anchor box targets log(w / w_anchor) encoded for every anchor in the loss, "
        "the unmatched anchors carrying the zero box, the smooth-L1 masked by the positive "
        "flag afterwards: log(0) = -inf and inf x 0 = NaN "
        "(https://github.com/amdegroot/ssd.pytorch/pull/116, "
        "https://github.com/dmlc/gluon-cv/pull/518, "
        "https://github.com/pytorch/vision/issues/3169, "
        "https://github.com/endernewton/tf-faster-rcnn/issues/107)",
        blind=True,
    ),
    Scenario(
        "centernet_heatmap_peaks_drawn_at_float_centres",
        centernet_heatmap_peaks_drawn_at_float_centres,
        "loss",
        frozenset({"RealDiv"}),
        None,
        None,
        frozenset(),
        story="CenterNet's focal loss, positives gt == 1 and the sum divided by num_pos, on "
        "heatmaps whose Gaussians were drawn at the float centres instead of the floored "
        "integer centre: no pixel is exactly 1, num_pos = 0 and the loss is x / 0 "
        "(https://github.com/xingyizhou/CenterNet/issues/18, "
        "https://github.com/xingyizhou/CenterNet/issues/241, "
        "https://github.com/xggIoU/centernet_tensorflow_wilderface_voc/issues/18, "
        "https://github.com/xingyizhou/CenterNet/issues/841)",
        blind=True,
    ),
    Scenario(
        "discriminative_loss_with_raw_instance_ids_as_segment_ids",
        discriminative_loss_with_raw_instance_ids_as_segment_ids,
        "loss",
        frozenset({"RealDiv"}),
        None,
        None,
        frozenset(),
        story="a discriminative instance-embedding loss with cluster centres "
        "unsorted_segment_sum / counts over max(id) + 1 segments, fed the annotation tool's "
        "non-contiguous instance ids: absent ids have empty segments and 0 / 0 = NaN centres; "
        "relabel with tf.unique "
        "(https://github.com/hq-jiang/instance-segmentation-with-discriminative-loss-"
        "tensorflow/issues/15, "
        "https://github.com/MaybeShewill-CV/lanenet-lane-detection/issues/83, "
        "https://github.com/klintan/pytorch-lanenet/issues/22)",
        blind=True,
    ),
    Scenario(
        "relu_disparity_head_inverted_to_depth",
        relu_disparity_head_inverted_to_depth,
        "activation",
        frozenset({"RealDiv", "Reciprocal"}),
        "depth_net/to_depth",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a disparity head with a ReLU converted to depth by 1 / disparity inside the "
        "model instead of monodepth's sigmoid scaled into [1 / max_depth, 1 / min_depth]: the "
        "ReLU's exact zeros give inf depth at the first step "
        "(https://github.com/mrharicot/monodepth/issues/167, "
        "https://github.com/nianticlabs/monodepth2/issues/277, "
        "https://github.com/isl-org/MiDaS/issues/15, "
        "https://github.com/nianticlabs/monodepth2/issues/45)",
        blind=True,
    ),
    Scenario(
        "flow_epe_with_a_zero_initialized_head_on_static_pixels",
        flow_epe_with_a_zero_initialized_head_on_static_pixels,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="the optical-flow end-point error written mean(tf.norm(pred - gt, axis=-1)) "
        "with a zero-initialized flow head on scenes whose background flow is exactly 0: the "
        "norm of a zero vector has the gradient 0 / 0, NaN in the backward pass at the first "
        "step (https://github.com/tensorflow/tensorflow/issues/12071, "
        "https://github.com/pytorch/pytorch/issues/2421, "
        "https://github.com/ClementPinard/FlowNetPytorch/issues/17, "
        "https://github.com/ClementPinard/FlowNetTorch/issues/18)",
        blind=True,
    ),
    Scenario(
        "keypoint_heatmaps_normalized_after_cropping_the_keypoint_out",
        keypoint_heatmaps_normalized_after_cropping_the_keypoint_out,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="keypoint heatmap targets normalized to sum 1 in the tf.data map after a random "
        "crop: a keypoint far outside the crop has a Gaussian that underflows to 0 on every "
        "cell and 0 / 0 puts NaN in the label batch; mark it invisible and drop it "
        "(https://github.com/princeton-vl/pose-hg-train/issues/43, "
        "https://github.com/paninski-lab/lightning-pose/pull/66, "
        "https://github.com/raghakot/keras-vis/issues/35)",
        blind=True,
    ),
    Scenario(
        "poly_learning_rate_schedule_run_past_its_max_steps",
        poly_learning_rate_schedule_run_past_its_max_steps,
        "optimizer_update",
        frozenset({"Pow"}),
        None,
        "domain_error",
        frozenset(),
        story="DeepLab's poly policy base * (1 - step / max_steps) ** 0.9 by hand, max_steps "
        "computed for the paper's batch of 16 while training with batches of 8: past "
        "max_steps a negative base to the power 0.9 makes the learning rate NaN and the "
        "update writes NaN into the weights "
        "(https://github.com/meetps/pytorch-semseg/issues/9, "
        "https://github.com/pytorch/pytorch/issues/2854, "
        "https://github.com/LBANN/lbann/pull/239, "
        "https://github.com/tensorflow/tensorflow/pull/13271)",
        blind=True,
    ),
    Scenario(
        "sparse_depth_input_left_in_kitti_png_units",
        sparse_depth_input_left_in_kitti_png_units,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="depth completion with the sparse LiDAR input channel left in KITTI's PNG units "
        "(metres x 256) while the target was divided by 256: inputs in the thousands and "
        "SGD with momentum diverge within a few steps "
        "(https://github.com/cleinc/bts/issues/68, "
        "https://github.com/abdo-eldesokey/nconv/issues/2, "
        "https://github.com/xapharius/pytorch-nyuv2/issues/8)",
        blind=True,
    ),
]
