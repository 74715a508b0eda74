"""The guard's memory budget: the anchor (one copy of the state) plus kept batches bounded by
max(ANCHOR_BATCH_BYTES, ANCHOR_STATE_FACTOR x the state); see docs/how-it-works.md, Memory."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import nantrace
from nantrace.live import guard


def test_kept_batches_stay_within_a_quarter_of_the_state(monkeypatch):
    monkeypatch.setattr(guard, "ANCHOR_BATCH_BYTES", 0)  # only the state-relative bound
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(64)])
    optimizer = keras.optimizers.Adam(1e-3)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(tf.function(train_step))
    rng = np.random.default_rng(0)
    # state: 1088 weights x (1 + Adam's 2 slots) floats ~ 13 KB; a batch 8 x (16 + 64) floats
    # = 2.5 KB: a quarter of the state holds one batch (4x the state would hold 20)
    anchors = []
    for _ in range(6):
        x = tf.constant(rng.normal(size=(8, 16)).astype("float32"))
        y = tf.constant(rng.normal(size=(8, 64)).astype("float32"))
        step(x, y)
        assert step._since_anchor_bytes <= step._anchor_bytes / 4
        anchors.append(id(step.anchor))
    assert step._anchor_bytes > 12_000
    assert len(set(anchors)) >= 3  # re-anchored early, not after 50 steps
