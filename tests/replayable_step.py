"""A training step ``nantrace report --replay`` can rebuild: module level, importable, and its
model and optimizer are built when the module is imported (with fixed seeds and layer names).

A learning rate far too high for the data: the weights grow for a few steps, then the
forward pass overflows. The layers carry explicit names so that a fresh process names them
the same way; the Dropout layer makes the RNG (seed-generator) state part of the bundle.
"""

import keras
import numpy as np
import tensorflow as tf

keras.utils.set_random_seed(7)
model = keras.Sequential(
    [
        keras.Input((4,)),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dropout(0.1, name="drop"),
        keras.layers.Dense(1, name="head"),
    ],
    name="regressor",
)
optimizer = keras.optimizers.SGD(learning_rate=0.05)
loss_fn = keras.losses.MeanSquaredError()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss


def batches(count=60, size=32, seed=3):
    """Features in the hundreds: at this learning rate SGD diverges within a few steps."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        x = rng.normal(0.0, 30.0, size=(size, 4)).astype("float32")
        y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")
        yield tf.constant(x), tf.constant(y)
