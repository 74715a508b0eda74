"""The gated guard: a trip after a finite update is undone from the anchor, exactly.

A compiled step with a host anchor runs its optimizer update inside ``tf.cond`` on "loss and
gradients finite" (nothing copied per step). When the update itself makes the state non-finite
(``optimizer_update``), the host restores the anchor and re-runs the batches since it; these
tests check that the result is the exact pre-step state, that the report says how it was
checked, and that a step with a stateful random op falls back to copying the state.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    return model, keras.optimizers.Adam(1e-2)


def step_for(model, optimizer, noise=False):
    def train_step(x, y):
        if noise:  # an op-seeded random op: its state is in the kernel, not in a variable
            x = x + tf.random.normal(tf.shape(x), stddev=0.01)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step


def state(model, optimizer):
    return [v.numpy().copy() for v in model.variables + optimizer.variables]


def batch(i):
    rng = np.random.default_rng(i)
    x = rng.normal(size=(16, 4)).astype("float32")
    return tf.constant(x), tf.constant(rng.normal(size=(16, 1)).astype("float32"))


def trip_by_update(noise):
    """Five healthy steps, then a learning rate that makes the next update overflow."""
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer, noise)), verify=False)
    for i in range(5):
        step(*batch(i))
    optimizer.learning_rate.assign(1e40)  # inf in float32
    before = state(model, optimizer)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*batch(5))
    return step, before, state(model, optimizer), caught.value.report


def test_update_trip_is_undone_exactly_from_the_anchor():
    step, before, after, report = trip_by_update(noise=False)
    assert step.gated  # the update ran under the gate: nothing was copied per step
    assert report.origin.kind == "optimizer_update"
    assert report.trip.variables and not report.trip.loss and not report.trip.gradients
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    note = next(n for n in report.notes if n.startswith("optimizer update undone"))
    assert "re-running them" in note and "bit-identical to the original run" in note
    assert "NOT" not in note


def test_step_with_a_stateful_random_op_copies_the_state_instead():
    step, before, after, report = trip_by_update(noise=True)
    assert not step.gated  # the trace saw RandomStandardNormal: copy mode
    assert report.origin.kind == "optimizer_update"
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not any(n.startswith("optimizer update undone") for n in report.notes)


def test_gradient_trip_skips_the_gated_update():
    """A non-finite gradient never reaches the weights or Adam's slots (no restore needed)."""
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), on_nan="warn", verify=False)
    for i in range(3):
        step(*batch(i))
    before = state(model, optimizer)
    x, y = batch(3)
    y = tf.tensor_scatter_nd_update(y, [[2, 0]], [np.inf])
    with pytest.warns(nantrace.NonFiniteWarning):
        step(x, y)
    assert step.gated and step.trips == 1
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    step(*batch(4))
    assert step.trips == 1 and int(optimizer.iterations.numpy()) == 4


def test_state_over_the_anchor_budget_is_guarded_by_copy(monkeypatch):
    """No host anchor for a state over ANCHOR_MAX_BYTES: copy mode, still exact."""
    from nantrace.live import guard

    monkeypatch.setattr(guard, "ANCHOR_MAX_BYTES", 1)
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    for i in range(3):
        step(*batch(i))
    assert step.anchor is None and not step.gated and not step.since_anchor
    optimizer.learning_rate.assign(1e40)
    before = state(model, optimizer)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*batch(3))
    assert caught.value.report.origin.kind == "optimizer_update"
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("holder", ["numpy", "variable"])
def test_kept_batches_survive_a_loader_that_reuses_its_buffer(holder):
    """A loader that refills one numpy array (or tf.Variable) every step: the batches kept
    for replay are the ones each step saw, and a trip replays the tripping one."""
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    batches = [batch(i) for i in range(4)]
    x_buffer = np.zeros((16, 4), "float32")
    y_buffer = np.zeros((16, 1), "float32")
    x_var = tf.Variable(x_buffer)
    for x, y in batches:
        x_buffer[...] = x.numpy()
        y_buffer[...] = y.numpy()
        if holder == "numpy":
            step(x_buffer, y_buffer)
        else:
            x_var.assign(x)
            step(x_var, y)
    kept = list(step.since_anchor)
    assert len(kept) == 4 and len(step.recent) == 4
    for (args, _), (x, y) in zip(kept, batches, strict=True):
        np.testing.assert_array_equal(np.asarray(args[0]), x.numpy())
        np.testing.assert_array_equal(np.asarray(args[1]), y.numpy())
    assert kept[-1][0] is step.recent[-1][0]  # one copy per step, shared by both lists
    x_buffer[5, 2] = np.nan
    with pytest.raises(nantrace.NonFiniteError) as caught:
        # (tensors: the replay finds an input NaN of a numpy argument as a later op's NaN)
        step(tf.constant(x_buffer), tf.constant(y_buffer))
    assert caught.value.report.origin.kind == "input_data"
    assert caught.value.report.origin.rows == (5,)
