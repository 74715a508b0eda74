"""The guard's finite check is exact: finite values whose sums of squares overflow never trip.

The guard reduces each loss, gradient and written variable to half its sum of squares (one
kernel per tensor, shared with the history's norms); that sum overflows for finite values
(float32 |x| > ~1.3e19, float16 |x| > ~181 over two elements). Only when a sum is non-finite is
the element-wise check run, so such a step must neither trip nor be skipped.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace


class Pair(keras.layers.Layer):
    """Two weights: ``small`` gets a gradient of ``scale`` (finite, its square overflows),
    ``big`` holds ``scale`` itself and gets a zero gradient (written back unchanged)."""

    def __init__(self, scale, dtype):
        super().__init__(dtype=dtype)
        self.scale = scale

    def build(self, _):
        self.small = self.add_weight(
            shape=(2,), initializer=keras.initializers.Constant(1e-3), name="small"
        )
        self.big = self.add_weight(
            shape=(2,), initializer=keras.initializers.Constant(self.scale), name="big"
        )

    def call(self, x):
        c = tf.cast(self.scale, self.small.dtype)
        return tf.reduce_sum(c * self.small) * x + 0.0 * tf.reduce_sum(self.big)


@pytest.mark.parametrize(
    "dtype,scale,lr",
    [("float32", 3e19, 3e-24), ("float16", 300.0, 1e-7)],
    ids=["float32", "float16"],
)
@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
def test_finite_values_whose_squares_overflow_do_not_trip(dtype, scale, lr, jit):
    layer = Pair(scale, dtype)
    layer.build(None)
    optimizer = keras.optimizers.SGD(lr)
    x = tf.ones((), dtype)

    @tf.function(jit_compile=jit)
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = layer(x)
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(train_step, verify=False, early_warning="off")
    for _ in range(4):
        loss = step(x)
    assert step.trips == 0 and not step.reports
    assert np.isfinite(float(loss))
    # the steps ran: the small weight moved, the big one is intact and finite
    small, big = (v.numpy().astype("float64") for v in (layer.small, layer.big))
    assert np.all(small < 1e-3) and np.all(np.isfinite(big))
    assert np.allclose(big, scale, rtol=1e-3)
