"""Writes between steps (a learning-rate schedule set by hand or by a Keras callback, a weight
write at an epoch's end) must not make a restore put back the wrong state.

A trip is undone by restoring the last anchor and re-running the batches since it; a write the
step does not make is invisible to that re-run, so the state put back would lack it (and the
report would read "NOT bit-identical"). The guard must see such writes and anchor after them.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scenario_cases import standard_step

import nantrace
import nantrace.keras as ntk

pytestmark = pytest.mark.filterwarnings("ignore::nantrace.DivergenceWarning")


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    return model


def data(n=640, nan_rows=()):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x.sum(1, keepdims=True) > 0).astype("float32")
    x[list(nan_rows)] = np.nan
    return x, y


def epochs(nan_batch, batches_per_epoch=20, size=32):
    """A dataset whose every epoch (a new iterator, as fit makes one) brings new batches: the
    second epoch's ``nan_batch`` - ``batches_per_epoch``-th batch holds NaN rows, the first
    epoch none."""
    x, y = data(2 * batches_per_epoch * size, range(nan_batch * size, nan_batch * size + 3))
    passes = []

    def generate():
        start = len(passes) * batches_per_epoch * size
        passes.append(start)
        for i in range(start, start + batches_per_epoch * size, size):
            yield x[i : i + size], y[i : i + size]

    spec = (tf.TensorSpec((None, 8), tf.float32), tf.TensorSpec((None, 1), tf.float32))
    return tf.data.Dataset.from_generator(generate, output_signature=spec)


def step_for(model, optimizer):
    return standard_step(model, optimizer, keras.losses.MeanSquaredError())


def loop_batches():
    """40 batches of 16 for a custom loop; the 26th (step 25) holds NaN rows."""
    x, y = data(nan_rows=range(25 * 16, 25 * 16 + 3))
    return [(tf.constant(x[i : i + 16]), tf.constant(y[i : i + 16])) for i in range(0, 640, 16)]


def trip_at_25(step, batches):
    """Step 25 trips; the note on how its update was undone."""
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*batches[25])
    return restore_note(caught.value.report)


def assert_restored_exactly(note, model, reference):
    """The restore matched the original run bit for bit, and the state is the unwatched
    reference run's state before step 25."""
    assert "NOT bit-identical" not in note, note
    for mine, theirs in zip(model.variables, reference.variables, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def restore_note(report):
    notes = [n for n in report.notes if n.startswith("optimizer update undone")]
    assert notes, report.notes
    return notes[0]


def test_a_learning_rate_set_between_steps_is_anchored_and_the_restore_is_exact():
    """A custom loop lowers the learning rate at step 20 (outside the step); step 25 trips.
    The state after the trip must be exactly the unwatched run's state before step 25."""
    batches = loop_batches()

    reference = make_model()
    ref_optimizer = keras.optimizers.Adam(1e-2)
    plain = tf.function(step_for(reference, ref_optimizer))
    for i in range(25):
        if i == 20:
            ref_optimizer.learning_rate.assign(1e-4)
        plain(*batches[i])

    model = make_model()
    optimizer = keras.optimizers.Adam(1e-2)
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    for i in range(25):
        if i == 20:
            optimizer.learning_rate.assign(1e-4)
        step(*batches[i])
    assert_restored_exactly(trip_at_25(step, batches), model, reference)
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
    from nantrace.compat.tf import learning_rate_variable

    lr = learning_rate_variable(optimizer)
    assert list(step.writes_between) == [id(lr)] and step.writes_between[id(lr)].count == 1
    first, last = step.writes_between[id(lr)].first, step.writes_between[id(lr)].last
    assert float(first) == pytest.approx(1e-2) and float(last) == pytest.approx(1e-4)


def test_a_learning_rate_scheduler_callback_in_fit_keeps_the_restore_exact():
    """Keras' LearningRateScheduler writes the rate at each epoch's start; a NaN batch in the
    second epoch trips after the anchor of the first."""
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-2 if epoch == 0 else 1e-4)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        model.fit(epochs(25), epochs=2, verbose=0, callbacks=[schedule, ntk.NanTraceCallback()])
    note = restore_note(caught.value.report)
    assert "NOT bit-identical" not in note, note


class HalveKernelsAtEpochEnd(keras.callbacks.Callback):
    """A weight write between epochs (as a weight clip or a constraint might), made inside a
    tf.function, which the eager-write hook cannot see: fit resets its metrics eagerly at each
    epoch's start, after it, and that write anchors the epoch's first step."""

    def on_epoch_end(self, epoch, logs=None):
        kernels = [layer.kernel for layer in self.model.layers]
        tf.function(lambda: [k.assign(k * 0.5) for k in kernels] and None)()


@pytest.mark.parametrize("surface", ["callback", "watch_model"])
def test_a_weight_write_between_epochs_of_fit_keeps_the_restore_exact(surface):
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    callbacks = [HalveKernelsAtEpochEnd()]
    if surface == "callback":
        callbacks.append(ntk.NanTraceCallback())
    else:
        nantrace.watch(model)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        model.fit(epochs(25), epochs=2, verbose=0, callbacks=callbacks)
    note = restore_note(caught.value.report)
    assert "NOT bit-identical" not in note, note


def test_weights_loaded_between_two_fit_calls_are_anchored():
    """``model.set_weights`` between two ``fit`` calls of a watched model: a trip in the
    second fit must restore the loaded weights' run, not the first fit's."""
    x, y = data(nan_rows=range(5 * 32, 5 * 32 + 3))
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    nantrace.watch(model)
    model.fit(x[320:], y[320:], batch_size=32, epochs=1, shuffle=False, verbose=0)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    with pytest.raises(nantrace.NonFiniteError) as caught:
        model.fit(x[:320], y[:320], batch_size=32, epochs=1, shuffle=False, verbose=0)
    note = restore_note(caught.value.report)
    assert "NOT bit-identical" not in note, note


def test_a_learning_rate_written_before_every_step_is_replayed_per_step_not_re_anchored():
    """A warm-up written by hand before every step: anchoring after each of them would copy
    the state every step, so the guard keeps the values each step saw and the re-run writes
    them back in turn — the restore is still exact, from an anchor several steps back."""
    batches = loop_batches()

    def warm_up(optimizer, i):
        optimizer.learning_rate.assign(1e-2 * min(1.0, (i + 1) / 30))

    reference = make_model()
    ref_optimizer = keras.optimizers.Adam(1e-2)
    plain = tf.function(step_for(reference, ref_optimizer))
    for i in range(25):
        warm_up(ref_optimizer, i)
        plain(*batches[i])

    model = make_model()
    optimizer = keras.optimizers.Adam(1e-2)
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    for i in range(25):
        warm_up(optimizer, i)
        step(*batches[i])
    warm_up(optimizer, 25)
    note = trip_at_25(step, batches)
    assert_restored_exactly(note, model, reference)
    back = int(note.split("the anchor ")[1].split(" step")[0])
    assert back > 1, note  # not re-anchored after every step
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(1e-2 * 26 / 30)


def test_the_bits_of_every_watched_dtype_decode_to_the_values():
    from nantrace.live import outside_writes

    variables = [
        tf.Variable(np.float32(3.25e-4)),
        tf.Variable(np.array([1.5, -2.0], np.float16)),
        tf.Variable(tf.constant([0.1, 7.0], tf.bfloat16)),
        tf.Variable(np.array([[1e300, -3.0]], np.float64)),
        tf.Variable(np.int64(2**40 + 3)),
        tf.Variable(np.int32(-7)),
        tf.Variable([True, False, True]),
    ]
    bits = tf.function(lambda: outside_writes.bits(variables))().numpy()
    decoded = outside_writes.values(variables, bits)
    assert decoded is not None
    for variable, value in zip(variables, decoded, strict=True):
        np.testing.assert_array_equal(value, variable.numpy())
        assert value.dtype == variable.numpy().dtype
    assert outside_writes.values(variables, bits[:-1]) is None  # another trace's bits
    variables[1].assign(np.array([1.5, 4.0], np.float16))
    variables[4].assign(np.int64(5))
    after = tf.function(lambda: outside_writes.bits(variables))().numpy()
    moved = outside_writes.changed(variables, bits, after)
    assert [id(v) for v in moved] == [id(variables[1]), id(variables[4])]
    assert outside_writes.changed(variables, bits[:-1], after[:-1]) == []  # not theirs


def test_weights_set_between_steps_of_a_custom_loop_are_anchored():
    """``set_weights`` between two steps (a checkpoint loaded, a best model put back): a trip
    later must restore the run that went on from the loaded weights, not revert the load."""
    batches = loop_batches()

    def run(step, model):
        for i in range(25):
            if i == 20:
                model.set_weights([w * 0.5 for w in model.get_weights()])
            step(*batches[i])

    reference = make_model()
    run(tf.function(step_for(reference, keras.optimizers.Adam(1e-2))), reference)
    model = make_model()
    step = nantrace.watch(tf.function(step_for(model, keras.optimizers.Adam(1e-2))), verify=False)
    run(step, model)
    assert_restored_exactly(trip_at_25(step, batches), model, reference)


def test_weights_clipped_after_every_step_are_named_not_anchored_each_time():
    """A weight clip after every step, outside it (as in WGAN training): anchoring after each
    would copy the state every step; the restore cannot reproduce the clips, and says why."""
    batches = loop_batches()
    model = make_model()
    step = nantrace.watch(tf.function(step_for(model, keras.optimizers.Adam(1e-2))), verify=False)
    kernel = model.layers[0].kernel
    for i in range(25):
        step(*batches[i])
        kernel.assign(tf.clip_by_value(kernel, -0.05, 0.05))
    note = trip_at_25(step, batches)
    back = int(note.split("the anchor ")[1].split(" step")[0])
    assert back > 1, note
    assert "NOT bit-identical" in note and "written outside the step" in note, note


def test_a_checkpoint_restored_between_steps_is_anchored(tmp_path):
    """``tf.train.Checkpoint.read`` between steps writes the variables with restore ops (not
    their write methods): the guard must still anchor the restored state."""
    batches = loop_batches()

    def run(step, model, optimizer, path):
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        for i in range(25):
            if i == 5:
                saved = checkpoint.write(str(path / "ckpt"))
            if i == 20:
                checkpoint.read(saved).assert_consumed()  # back to step 5's state
            step(*batches[i])

    reference, ref_optimizer = make_model(), keras.optimizers.Adam(1e-2)
    (tmp_path / "ref").mkdir()
    run(tf.function(step_for(reference, ref_optimizer)), reference, ref_optimizer, tmp_path / "ref")
    model, optimizer = make_model(), keras.optimizers.Adam(1e-2)
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    (tmp_path / "mine").mkdir()
    run(step, model, optimizer, tmp_path / "mine")
    assert_restored_exactly(trip_at_25(step, batches), model, reference)


def test_a_restore_with_batches_of_unknown_steps_still_runs():
    """``nantrace report --replay`` hands the guard a bundle's anchor and batches since it,
    without their step numbers: the re-run must go on (no per-step values to write back)."""
    batches = loop_batches()
    model = make_model()
    step = nantrace.watch(tf.function(step_for(model, keras.optimizers.Adam(1e-2))), verify=False)
    for i in range(25):
        step(*batches[i])
    step._since_anchor_steps = []  # as bundle.replay sets since_anchor alone
    note = trip_at_25(step, batches)
    assert "restored from the anchor 25 step(s) back" in note, note
