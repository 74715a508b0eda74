"""Optimizers and loops as people write them: a hand-written optimizer (``assign_sub``), two
optimizers in one step (a GAN), gradient accumulation over several calls, and a
``LossScaleOptimizer`` under ``model.fit``. Real TensorFlow, tiny models, fixed seeds."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.keras import NanTraceCallback


def dense_model(seed, inputs=3, units=4, outputs=1, activation=None):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(outputs, activation=activation),
        ]
    )


def values(variables):
    return [np.array(v.numpy(), copy=True) for v in variables]


def assert_same(before, after):
    assert len(before) == len(after)
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"variable {index}")


class PlainSGD:
    """A hand-written optimizer: no Keras class, raw ``assign_sub``."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def apply(self, grads, variables):
        for grad, variable in zip(grads, variables, strict=True):
            variable.assign_sub(self.learning_rate * grad)


def test_hand_written_assign_sub_update_is_the_evidence():
    """The update's writes are the origin and its step size is read from the update itself."""
    model = dense_model(0)
    optimizer = PlainSGD(1e38)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(8, 3)).astype("float32") * 10)
    y = tf.ones((8, 1))

    @nantrace.watch(verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    before = values(model.variables)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(x, y)
    assert_same(before, values(model.variables))
    report = caught.value.report
    assert report.origin.kind == "optimizer_update"
    assert report.origin.variable is not None
    assert report.cause.id == "learning_rate_too_high"
    assert report.cause.evidence["learning_rate"] == pytest.approx(1e38, rel=1e-6)
    assert "step size 1e+38 (read from the hand-written update)" in report.cause.summary


def test_hand_written_update_without_a_step_size_says_so():
    """``v.assign(v - exp(g))`` has no scalar step size: the report says it was not found,
    never "learning rate None"."""
    model = dense_model(0)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(8, 3)).astype("float32") * 30)
    y = tf.ones((8, 1))

    @nantrace.watch(verify=False)
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        for grad, variable in zip(grads, model.trainable_variables, strict=True):
            variable.assign(variable - tf.exp(tf.abs(grad)))
        return loss

    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(x, y)
    report = caught.value.report
    assert report.origin.kind == "optimizer_update"
    assert "None" not in report.cause.summary
    print(report)
    assert report.cause.id == "learning_rate_too_high"
    assert "could not read" in report.cause.summary
    assert report.cause.evidence["learning_rate"] is None


def gan(seed=0):
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="discriminator",
    )
    return generator, discriminator, keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)


def gan_step(generator, discriminator, g_opt, d_opt):
    """The discriminator's step, then the generator's, in one function (two tapes, two
    optimizers); the losses take the log of unclamped probabilities."""

    @nantrace.watch(verify=False)
    @tf.function
    def step(real, noise):
        with tf.GradientTape() as tape:
            d_real = discriminator(real, training=True)
            d_fake = discriminator(generator(noise, training=True), training=True)
            d_loss = -tf.reduce_mean(tf.math.log(d_real) + tf.math.log(1.0 - d_fake))
        d_grads = tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            d_fake = discriminator(generator(noise, training=True), training=True)
            g_loss = -tf.reduce_mean(tf.math.log(d_fake))
        g_grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
        return d_loss, g_loss

    return step


@pytest.mark.parametrize("anchor_every", [50, 0], ids=["host-restore", "copy-mode"])
def test_gan_nan_in_discriminator_loss(anchor_every):
    """Real samples far out saturate the discriminator's sigmoid to exactly 0: log(0) in the
    discriminator's loss. The origin is that Log in the loss phase, both optimizers are seen,
    and both models and both optimizers are restored."""
    generator, discriminator, g_opt, d_opt = gan()
    step = gan_step(generator, discriminator, g_opt, d_opt)
    if anchor_every == 0:
        step = nantrace.watch(verify=False, anchor_every=0)(step.fn)
    rng = np.random.default_rng(0)
    noise = tf.constant(rng.normal(size=(16, 2)).astype("float32"))
    real = rng.normal(size=(16, 3)).astype("float32")
    step(tf.constant(real), noise)
    state = (
        list(generator.variables)
        + list(discriminator.variables)
        + list(g_opt.variables)
        + list(d_opt.variables)
    )
    before = values(state)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(tf.constant(real * 1e4), noise)
    assert_same(before, values(state))
    report = caught.value.report
    assert report.trip.step == 1
    assert (report.origin.kind, report.origin.op_type) == ("loss", "Log")
    assert report.origin.phase == "loss"
    assert len(step.optimizers) == 2


def test_gan_generator_loss_after_the_discriminator_update_is_a_loss():
    """The generator's loss runs after the discriminator's update in the same step: a log(0)
    there is still a loss origin (the replay's phase starts again at the next model call)."""
    generator, discriminator, g_opt, d_opt = gan()

    @nantrace.watch(verify=False)
    @tf.function
    def step(real, noise):
        with tf.GradientTape() as tape:
            d_real = discriminator(real, training=True)
            d_loss = -tf.reduce_mean(tf.math.log(d_real + 1e-7))
        d_grads = tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))
        with tf.GradientTape() as tape:
            d_fake = discriminator(generator(noise, training=True), training=True)
            g_loss = -tf.reduce_mean(tf.math.log(d_fake * 0.0))
        g_grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
        return d_loss, g_loss

    rng = np.random.default_rng(0)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(
            tf.constant(rng.normal(size=(16, 3)).astype("float32")),
            tf.constant(rng.normal(size=(16, 2)).astype("float32")),
        )
    origin = caught.value.report.origin
    assert (origin.kind, origin.phase, origin.op_type) == ("loss", "loss", "Log")


K = 4


def accumulating_step(model, optimizer, watched=True):
    """Gradient accumulation across calls: each call adds its gradients to accumulator
    variables; every K-th call applies their mean and zeroes them."""
    accumulators = [
        tf.Variable(tf.zeros_like(v), trainable=False) for v in model.trainable_variables
    ]
    calls = tf.Variable(0, dtype=tf.int64, trainable=False)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        for accumulator, grad in zip(accumulators, grads, strict=True):
            accumulator.assign_add(grad / K)
        calls.assign_add(1)
        if calls % K == 0:
            optimizer.apply_gradients(
                zip([a.read_value() for a in accumulators], model.trainable_variables, strict=True)
            )
            for accumulator in accumulators:
                accumulator.assign(tf.zeros_like(accumulator))
        return loss

    compiled = tf.function(step)
    return (nantrace.watch(on_nan="warn", verify=False)(compiled) if watched else compiled), [
        *accumulators,
        calls,
    ]


@pytest.mark.parametrize("bad_call", [5, 7], ids=["accumulating-call", "applying-call"])
def test_gradient_accumulation_skips_the_bad_call_exactly(bad_call):
    """A NaN batch at an accumulating call (5) or at an applying call (7, the 8th): the step is
    skipped with the accumulators, the call counter, the model and the optimizer as before it,
    so training continues exactly as an unwatched run that never saw that batch."""
    rng = np.random.default_rng(1)
    batches = [
        (
            tf.constant(rng.normal(size=(8, 3)).astype("float32")),
            tf.constant(rng.normal(size=(8, 1)).astype("float32")),
        )
        for _ in range(12)
    ]
    bad_x = batches[bad_call][0].numpy()
    bad_x[2, 0] = np.nan
    bad = (tf.constant(bad_x), batches[bad_call][1])

    model = dense_model(3)
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    step, state = accumulating_step(model, optimizer)
    with pytest.warns(nantrace.NonFiniteWarning):
        for index, batch in enumerate(batches):
            if index == bad_call:
                step(*bad)
            step(*batch)
    assert step.trips == 1
    report = step.reports[0]
    assert report.origin.kind == "input_data"
    assert report.trip.step == bad_call

    reference = dense_model(3)
    reference_optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    plain, reference_state = accumulating_step(reference, reference_optimizer, watched=False)
    for batch in batches:
        plain(*batch)
    assert int(state[-1].numpy()) == len(batches)
    np.testing.assert_array_equal(optimizer.iterations.numpy(), len(batches) // K)
    assert_same(values(reference.variables), values(model.variables))
    assert_same(values(reference_state), values(state))


def test_loss_scale_optimizer_under_fit():
    """mixed_float16 + LossScaleOptimizer under model.fit with the callback: the optimizer's own
    overflow-and-skip steps (a huge initial scale) are not trips; a NaN row in a later batch
    is, with its row named and the weights left finite."""
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((3,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1, dtype="float32"),
            ]
        )
        optimizer = keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam(1e-3), initial_scale=2.0**40
        )
        model.compile(optimizer=optimizer, loss="mse")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(8 * 30, 3)).astype("float32")
        y = rng.normal(size=(8 * 30, 1)).astype("float32")
        x[8 * 26 + 5, 1] = np.nan  # batch 26, row 5
        callback = NanTraceCallback(on_nan="stop")
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    finally:
        keras.config.set_dtype_policy("float32")
    assert callback.trips == 1
    report = callback.reports[0]
    assert report.trip.step == 26
    assert report.origin.kind == "input_data"
    assert 5 in report.origin.rows
    # the huge scale overflowed the first steps: the optimizer skipped them and lowered it
    assert float(optimizer.dynamic_scale.numpy()) < 2.0**40
    for variable in model.trainable_variables:
        assert np.isfinite(variable.numpy()).all()


def test_gan_update_overflow_reads_the_learning_rate_of_the_optimizer_that_wrote_it():
    """Two optimizers: the discriminator's Adam(1e-3) runs first, the generator's SGD(1e38)
    second and overflows a generator weight. The evidence is the generator's optimizer (its
    learning rate and name), not the first one seen."""
    generator, discriminator, _, d_opt = gan()
    g_opt = keras.optimizers.SGD(1e38)
    step = gan_step(generator, discriminator, g_opt, d_opt)
    rng = np.random.default_rng(0)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(
            tf.constant(rng.normal(size=(16, 3)).astype("float32")),
            tf.constant(rng.normal(size=(16, 2)).astype("float32") * 100),
        )
    report = caught.value.report
    assert report.origin.kind == "optimizer_update"
    assert report.origin.variable.startswith("generator/")
    assert report.cause.id == "learning_rate_too_high"
    assert report.cause.evidence["learning_rate"] == pytest.approx(1e38, rel=1e-6)
    assert "SGD" in report.cause.summary


def test_gan_fix_verification_changes_the_optimizer_that_wrote_the_origin(monkeypatch):
    """Verification gets the generator's optimizer (whose update overflowed), so a
    lower_learning_rate fix is tried on it, not on the discriminator's optimizer."""
    from nantrace.diagnosis import verify

    seen = []

    def record_context(context, fixes):
        seen.append(context.optimizer)
        return fixes, [], []

    monkeypatch.setattr(verify, "verify_fixes", record_context)
    generator, discriminator, _, d_opt = gan()
    g_opt = keras.optimizers.SGD(1e38)
    step = nantrace.watch(gan_step(generator, discriminator, g_opt, d_opt).fn)
    rng = np.random.default_rng(0)
    with pytest.raises(nantrace.NonFiniteError):
        step(
            tf.constant(rng.normal(size=(16, 3)).astype("float32")),
            tf.constant(rng.normal(size=(16, 2)).astype("float32") * 100),
        )
    assert seen and seen[0] is g_opt
