"""A NaN in a batch passed as NumPy arrays (how many custom loops feed a ``tf.function``) is
traced to its rows like a tensor batch: the replay must see the ops read the batch."""

import keras
import numpy as np
import tensorflow as tf

import nantrace


def test_nan_in_a_numpy_batch_is_input_data_with_its_rows():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-3)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(train_step, on_nan="warn", verify=False)
    rng = np.random.default_rng(0)
    for i in range(4):
        x = rng.normal(size=(16, 4)).astype("float32")
        y = rng.normal(size=(16, 1)).astype("float32")
        if i == 3:
            x[5, 2] = np.nan
        step(x, y)
    report = step.reports[-1]
    assert report.origin.kind == "input_data"
    assert report.origin.tensor == "x"
    assert list(report.origin.rows) == [5]
    assert report.cause is not None and report.cause.id == "non_finite_input"
