"""A NaN that a max pooling turns into the dtype's lowest value (finite) still started where it
started: the overflow it causes downstream is not the origin."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace


@pytest.mark.parametrize("pool", ["max", "average"])
def test_a_nan_laundered_by_max_pooling_is_traced_to_its_op(pool):
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(16, 8, 8, 1)).astype("float32")
    y = np.zeros((16,), "int32")
    pooling = keras.layers.MaxPooling2D(2) if pool == "max" else keras.layers.AveragePooling2D(2)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Lambda(lambda t: tf.math.log(t), name="log"),
            pooling,
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, name="head"),
        ]
    )
    optimizer = keras.optimizers.SGD(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @nantrace.watch(verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(x, y)
    origin = caught.value.report.origin
    # max pooling launders NaN into -3.4e38 (the conv then overflows); an average pooling
    # passes the NaN on: either way the Log started it
    assert origin.op_type == "Log" and origin.kind == "activation"
