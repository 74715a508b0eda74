"""``@nantrace.watch`` above ``@tf.function`` on a method (a Trainer class, a common layout):
each instance gets its own guard around its bound step, as tf.function gives each its own trace."""

import keras
import numpy as np
import tensorflow as tf

import nantrace


class Trainer:
    def __init__(self, offset: float) -> None:
        self.offset = offset
        self.model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        self.optimizer = keras.optimizers.SGD(0.01)

    @nantrace.watch(on_nan="warn", verify=False)
    @tf.function
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.math.log(tf.abs(self.model(x) - y) + self.offset))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return loss


def test_each_instance_has_its_own_guard_and_a_nan_is_diagnosed():
    keras.utils.set_random_seed(0)
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 1), "float32")
    healthy, broken = Trainer(1.0), Trainer(-1e9)
    assert healthy.train_step is healthy.train_step  # one guard per instance, kept
    assert healthy.train_step is not broken.train_step
    for _ in range(3):
        assert np.isfinite(float(healthy.train_step(x, y)))
        broken.train_step(x, y)
    assert healthy.train_step.trips == 0 and healthy.train_step.step == 3
    assert broken.train_step.trips == 3
    report = broken.train_step.reports[0]
    assert report.origin.kind == "loss" and report.origin.op_type == "Log"
    assert isinstance(Trainer.train_step, nantrace.Watched)  # the class attribute itself
