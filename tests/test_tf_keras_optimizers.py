"""Keras 2 (``tf_keras``) models and optimizers in a watched custom loop: the optimizer (v2 and
``tf_keras.optimizers.legacy``, whose fused update writes no ``tf.Variable`` method) is seen,
its learning rate and update are the evidence, and its layers give the phases.

tf_keras is an optional test dependency (the ``test`` extra installs it)."""

import numpy as np
import pytest
import tensorflow as tf

import nantrace

tf_keras = pytest.importorskip("tf_keras")


def make_model(seed=0):
    tf_keras.utils.set_random_seed(seed)
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(4, activation="relu", input_shape=(3,)),
            tf_keras.layers.Dense(1),
        ]
    )


def batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32") * 10
    return tf.constant(x), tf.ones((8, 1))


def squared_error_step(model, optimizer):
    @nantrace.watch(verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def snapshot(model, optimizer):
    variables = list(model.variables) + list(
        optimizer.variables() if callable(optimizer.variables) else optimizer.variables
    )
    return {v.name: v.numpy().copy() for v in variables}


@pytest.mark.parametrize(
    "make_optimizer",
    [
        pytest.param(lambda: tf_keras.optimizers.SGD(learning_rate=1e38), id="v2-SGD"),
        pytest.param(lambda: tf_keras.optimizers.legacy.SGD(learning_rate=1e38), id="legacy-SGD"),
    ],
)
def test_update_overflow_names_the_learning_rate_and_variable(make_optimizer):
    model = make_model()
    optimizer = make_optimizer()
    step = squared_error_step(model, optimizer)
    x, y = batch()
    before = snapshot(model, optimizer)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(x, y)
    after = snapshot(model, optimizer)  # the optimizer's own variables appear at its first apply
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    report = caught.value.report
    assert report.trip.step == 0
    assert report.origin.kind == "optimizer_update"
    assert report.origin.variable is not None and "kernel" in report.origin.variable
    assert report.cause.id == "learning_rate_too_high"
    assert report.cause.evidence["learning_rate"] == pytest.approx(1e38, rel=1e-6)
    assert report.cause.evidence["variable"] == report.origin.variable
    assert "None" not in report.cause.summary
    assert "SGD" in report.cause.summary


@pytest.mark.parametrize("anchor_every", [0, 50], ids=["copy-mode", "host-restore"])
def test_legacy_adam_fused_update_is_restored(anchor_every):
    """Legacy Adam's fused ResourceApplyAdam writes the weights and both slots with no
    tf.Variable method. A NaN batch after a healthy step: in copy mode the update runs and
    writes NaN everywhere, and all of it (slots included) is put back, from the copies or (host
    restore) from the anchor re-run."""
    model = make_model()
    optimizer = tf_keras.optimizers.legacy.Adam(learning_rate=1e-3)

    @nantrace.watch(verify=False, anchor_every=anchor_every)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    x, y = batch()
    step(x, y)
    before = snapshot(model, optimizer)
    assert any("/m:" in name for name in before) and any("/v:" in name for name in before)
    bad = x.numpy()
    bad[2, 1] = np.nan
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(tf.constant(bad), y)
    assert caught.value.report.origin.kind == "input_data"
    after = snapshot(model, optimizer)
    assert after.keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


def test_legacy_fused_update_is_a_write():
    """The legacy SGD's ResourceApplyGradientDescent is the step's update: the step is guarded
    (not refused as "never updated a trainable variable") and healthy steps train."""
    model = make_model()
    optimizer = tf_keras.optimizers.legacy.SGD(learning_rate=1e-3)
    step = squared_error_step(model, optimizer)
    x, y = batch()
    first = float(step(x, y))
    for _ in range(5):
        last = float(step(x, y))
    assert last < first
    assert step.trips == 0


def test_loss_op_of_a_tf_keras_model_is_a_loss_origin():
    """log(0) in the loss, after a tf_keras model: the layer hooks see the model return, so the
    Log is in the loss phase (not a forward activation)."""
    model = make_model()
    optimizer = tf_keras.optimizers.Adam(1e-3)

    @nantrace.watch(verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = -tf.reduce_mean(tf.math.log(tf.nn.relu(out) * 0.0))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*batch())
    report = caught.value.report
    assert report.origin.kind == "loss"
    assert report.origin.op_type == "Log"
    assert report.origin.layer is None


def test_tf_keras_fit_is_refused_in_one_line():
    """The callback and watch(model) are Keras 3's: with a tf_keras model they refuse with a
    NantraceError that points to the custom loop, instead of failing inside tf_keras."""
    from nantrace.errors import NantraceError
    from nantrace.keras import NanTraceCallback

    model = make_model()
    model.compile(optimizer="adam", loss="mse")
    x, y = batch()
    with pytest.raises(NantraceError, match="tf_keras .* not supported.*@nantrace.watch"):
        model.fit(x, y, callbacks=[NanTraceCallback()], verbose=0)
    with pytest.raises(NantraceError, match="tf_keras .* not supported"):
        nantrace.watch(model)
