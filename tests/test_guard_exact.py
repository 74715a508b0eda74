"""The guard's finite check is exact: finite values whose sums of squares overflow never trip.

The guard reduces each loss, gradient and written variable to half its sum of squares (one
kernel per tensor, shared with the history's norms); that sum overflows for finite values
(float32 |x| > ~1.3e19). Only when a sum is +Inf is the element-wise check run, so such a step
must neither trip nor be skipped. Float16 tensors are summed in float32 (in float16
the sum of two values of 300 already overflows): the float16 case checks that they never trip
and that their norms are recorded as they are.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import standard_step

import nantrace

#: the checks after the step as separate ops (the default, with and without the detectors) and
#: as one XLA cluster with the detectors (``Watched.fuse_tail``, the exact check an XLA
#: conditional): the exact check must hold in each
TAILS = [("warn", False), ("warn", True), ("off", False)]
TAIL_IDS = ["warn", "warn-one-xla-cluster", "off"]


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
@pytest.mark.parametrize("early_warning,fuse_tail", TAILS, ids=TAIL_IDS)
def test_finite_values_whose_squares_overflow_do_not_trip(
    dtype, scale, lr, jit, early_warning, fuse_tail
):
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

    step = nantrace.watch(train_step, verify=False, early_warning=early_warning)
    step.fuse_tail = fuse_tail
    for _ in range(4):
        loss = step(x)
    assert step.trips == 0 and not step.reports
    assert np.isfinite(float(loss))
    # the steps ran: the small weight moved, the big one is intact and finite
    small, big = (v.numpy().astype("float64") for v in (layer.small, layer.big))
    assert np.all(small < 1e-3) and np.all(np.isfinite(big))
    assert np.allclose(big, scale, rtol=1e-3)


@pytest.mark.parametrize("early_warning,fuse_tail", TAILS, ids=TAIL_IDS)
def test_an_optimizer_state_made_infinite_by_finite_gradients_trips(early_warning, fuse_tail):
    """The same finite gradient of 3e19 under RMSprop: its square is Inf in the velocity,
    every later update is g / sqrt(Inf) = 0, the weights stay finite and frozen. No NaN would
    ever show; the state the step wrote is non-finite, so the step trips (variables). Not
    under XLA, where the guard reads no gradient (docs/how-it-works.md): the trigger of this
    check, the gradients' sum of squares overflowing, is not there."""
    jit = False
    layer = Pair(3e19, "float32")
    layer.build(None)
    optimizer = keras.optimizers.RMSprop(1e-3)
    x = tf.ones(())

    @tf.function(jit_compile=jit)
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = layer(x)
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(
        train_step, verify=False, early_warning=early_warning, on_nan="warn", optimizer=optimizer
    )
    step.fuse_tail = fuse_tail
    before = layer.small.numpy().copy()
    with pytest.warns(nantrace.NonFiniteWarning):
        step(x)
    assert step.trips == 1 and step.reports[0].origin.kind == "optimizer_update"
    assert np.array_equal(layer.small.numpy(), before)  # restored, the velocity too
    assert all(np.isfinite(v.numpy()).all() for v in optimizer.variables if v.dtype != "int64")


def _mlp_run(fuse_tail, jit):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-2)
    train_step = standard_step(model, optimizer, keras.losses.MeanSquaredError())
    step = nantrace.watch(tf.function(train_step, jit_compile=jit), on_nan="warn", verify=False)
    step.fuse_tail = fuse_tail
    rng = np.random.default_rng(0)
    with pytest.warns(nantrace.NonFiniteWarning):
        for i in range(40):
            x = rng.normal(size=(8, 6)).astype("float32")
            if i in (12, 30):
                x[2, 1] = np.nan  # a bad batch: the step trips and is undone
            step(tf.constant(x), tf.constant(rng.normal(size=(8, 1)).astype("float32")))
    return step, [v.numpy() for v in model.variables]


@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
def test_the_fused_checks_record_and_trip_as_the_separate_ops_do(jit):
    """The checks after the step as one XLA cluster (``fuse_tail``, with the detectors) give
    the same trips, history rows and weights as the same checks run as separate ops."""
    fused, fused_weights = _mlp_run(True, jit)
    separate, separate_weights = _mlp_run(False, jit)
    assert fused.trips == separate.trips == 2
    assert [r.trip.step for r in fused.reports] == [r.trip.step for r in separate.reports]
    a, b = fused.history.read(), separate.history.read()
    for field in ("loss", "grad_norm", "weight_norm"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for x, y in zip(fused_weights, separate_weights, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
@pytest.mark.parametrize("early_warning,fuse_tail", TAILS, ids=TAIL_IDS)
def test_an_update_that_overflows_to_inf_trips_and_is_undone(jit, early_warning, fuse_tail):
    """The other side of the exact check: a weight the update takes to -Inf (finite loss and
    gradient: only the update overflows; a sum of squares of +Inf, not NaN) trips as an
    optimizer_update and the pre-step weight is restored."""
    weight = tf.Variable([1.0, 2.0])
    optimizer = keras.optimizers.SGD(1e36)  # 1e3 x 1e36 = 1e39: -Inf in float32

    @tf.function(jit_compile=jit)
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(1e3 * weight * x)
        grads = tape.gradient(loss, [weight])
        optimizer.apply_gradients(zip(grads, [weight], strict=True))
        return loss

    step = nantrace.watch(train_step, verify=False, early_warning=early_warning, on_nan="warn")
    step.fuse_tail = fuse_tail
    x = tf.ones((2,))
    with pytest.warns(nantrace.NonFiniteWarning):
        step(x)
    assert step.trips == 1
    report = step.reports[0]
    assert report.trip.variables and not report.trip.loss and not report.trip.gradients
    assert report.origin.kind == "optimizer_update"
    np.testing.assert_array_equal(weight.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("early_warning", ["warn", "off"])
def test_float16_norms_past_65504_are_recorded_as_they_are(early_warning):
    """A float16 tensor's sum of squares passes float16's largest value long before any element
    comes near it (a 64x64 kernel of 6.0: 147456): the history records the kernel's norm (384)
    and the gradient's, not inf, so the reports' and detectors' weight norms stay usable in a
    pure float16 model."""
    layer = keras.layers.Dense(
        64, use_bias=False, dtype="float16", kernel_initializer=keras.initializers.Constant(6.0)
    )
    layer.build((None, 64))
    optimizer = keras.optimizers.SGD(1e-6)
    x = tf.fill((4, 64), tf.constant(0.01, tf.float16))

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(layer(x))  # 64 x 6.0 x 0.01 = 3.84
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply_gradients(zip(grads, layer.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(train_step, verify=False, early_warning=early_warning)
    for _ in range(3):
        step(x)
    assert step.trips == 0
    record = step.history.read()
    kernel = layer.kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(record.weight_norm[-1], [np.linalg.norm(kernel)], rtol=1e-3)
    # d loss / d kernel = 4 x 0.01 / (4 x 64) per element, 64 x 64 of them
    np.testing.assert_allclose(record.grad_norm[-1], 64 * 0.04 / 256, rtol=1e-2)


def test_small_vectors_are_summed_together_and_the_total_is_the_same():
    """Where only a total is needed (the gradients' norm), the small float32 vectors (biases,
    normalization scales) are one concat and one reduction, not one op each; kernels, scalars,
    float16 tensors and large vectors keep their own reduction."""
    from nantrace.live.sentinel import SMALL_VECTOR, grouped_half_squares

    rng = np.random.default_rng(0)
    tensors = [
        tf.constant(rng.normal(size=(8, 4)), tf.float32),
        tf.constant(rng.normal(size=(4,)), tf.float32),
        tf.constant(rng.normal(size=(3,)), tf.float32),
        tf.constant(rng.normal(size=(5,)), tf.float32),
        tf.constant(2.0, tf.float32),
        tf.constant(rng.normal(size=(6,)), tf.float16),
        tf.constant(rng.normal(size=(SMALL_VECTOR + 1,)), tf.float32),
    ]
    halves = grouped_half_squares(tensors)
    # the kernel, the scalar, the float16 vector, the large vector, and ONE for the 3 small ones
    assert len(halves) == 5
    expected = sum(0.5 * float(np.sum(np.square(t.numpy().astype(np.float64)))) for t in tensors)
    np.testing.assert_allclose(float(tf.add_n(halves)), expected, rtol=1e-5)


def test_the_recorded_gradient_norm_is_the_global_norm_with_many_biases():
    """A 6-layer MLP (6 bias gradients summed together): the history's gradient norm is
    tf.linalg.global_norm of the same gradients."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((5,))]
        + [keras.layers.Dense(7, activation="tanh") for _ in range(5)]
        + [keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.SGD(0.0)  # the weights stay put: the norms can be recomputed
    x = tf.constant(np.random.default_rng(3).normal(size=(16, 5)), tf.float32)
    y = tf.ones((16, 1))
    loss_fn = keras.losses.MeanSquaredError()
    train_step = tf.function(standard_step(model, optimizer, loss_fn))

    def gradients() -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, model.trainable_variables)

    step = nantrace.watch(train_step, verify=False)
    step(x, y)
    record = step.history.read()
    np.testing.assert_allclose(
        record.grad_norm[-1], float(tf.linalg.global_norm(gradients())), rtol=1e-5
    )
