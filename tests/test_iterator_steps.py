"""Steps that pull their batch inside the tf.function (``x, y = next(it)``): the replay runs on
the very batch the tripping step consumed, and nantrace never advances the user's iterator."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace

BAD_BATCH, BAD_ROW = 2, 3


def batches(count=5):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count * 8, 3)).astype("float32")
    y = rng.normal(size=(count * 8, 1)).astype("float32")
    x[BAD_BATCH * 8 + BAD_ROW, 1] = np.nan
    return x, y


def iterator_step(on_nan, verify=True, anchor_every=50):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-2)

    @nantrace.watch(on_nan=on_nan, verify=verify, anchor_every=anchor_every)
    @tf.function
    def step(it):
        x, y = next(it)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step, model


def test_raise_replays_the_consumed_batch_and_leaves_the_iterator_alone():
    x, y = batches()
    it = iter(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    step, _ = iterator_step("raise")
    with pytest.raises(nantrace.NonFiniteError) as caught:
        for _ in range(5):
            step(it)
    report = caught.value.report
    assert report.trip.step == BAD_BATCH
    assert report.reproduced
    assert not any("did not reproduce" in note for note in report.notes)
    assert report.origin.kind == "input_data"
    assert BAD_ROW in report.origin.rows
    # the user's iterator: exactly the two batches after the bad one are left (verification
    # and the replay ran on the batches nantrace recorded, not on the iterator)
    left = [batch_x.numpy() for batch_x, _ in it]
    assert len(left) == 2
    np.testing.assert_array_equal(left[0], x[(BAD_BATCH + 1) * 8 : (BAD_BATCH + 2) * 8])


@pytest.mark.parametrize("anchor_every", [50, 0], ids=["host-restore", "copy-mode"])
def test_warn_skips_one_batch_and_the_user_sees_all_five(anchor_every):
    """Five batches, five calls: the fifth call still gets a batch (nantrace took none), the
    iterator is then exhausted, and the model trained on the four healthy batches exactly as an
    unwatched run that skipped the bad one."""
    x, y = batches()
    it = iter(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    step, model = iterator_step("warn", verify=False, anchor_every=anchor_every)
    with pytest.warns(nantrace.NonFiniteWarning):
        losses = [step(it) for _ in range(5)]
    assert all(loss is not None for loss in losses)
    with pytest.raises(StopIteration):
        next(it)
    assert step.trips == 1 and step.reports[0].reproduced
    assert step.reports[0].origin.kind == "input_data"

    keras.utils.set_random_seed(0)
    reference = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    reference_optimizer = keras.optimizers.Adam(1e-2)
    for index in range(5):
        if index == BAD_BATCH:
            continue
        bx, by = x[index * 8 : (index + 1) * 8], y[index * 8 : (index + 1) * 8]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(reference(bx, training=True) - by))
        grads = tape.gradient(loss, reference.trainable_variables)
        reference_optimizer.apply_gradients(zip(grads, reference.trainable_variables, strict=True))
    for a, b in zip(reference.variables, model.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_two_batches_per_call_are_both_kept_in_order():
    """A step that calls next() twice consumed two batches: the replay gets both, in order,
    and the bad one is named as the first of them."""
    x, y = batches()
    it = iter(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-2)

    @nantrace.watch(verify=False)
    @tf.function
    def step(it):
        x1, y1 = next(it)
        x2, y2 = it.get_next()
        with tf.GradientTape() as tape:
            pred = model(tf.concat([x1, x2], 0), training=True)
            loss = tf.reduce_mean(tf.square(pred - tf.concat([y1, y2], 0)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    with pytest.raises(nantrace.NonFiniteError) as caught:
        for _ in range(3):
            step(it)
    report = caught.value.report
    assert report.trip.step == 1  # batches 2 and 3; batch 2 is the bad one
    assert report.origin.kind == "input_data"
    assert report.origin.tensor == "next(it) #1[0]"
    assert report.origin.rows == (BAD_ROW,)
    assert len(list(it)) == 1


def test_healthy_iterator_steps_are_bit_identical_to_unwatched():
    """Recording the consumed batches changes nothing a healthy step computes."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    results = []
    for watched in (False, True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
        )
        optimizer = keras.optimizers.Adam(1e-2)

        def step(it, model=model, optimizer=optimizer):
            bx, by = next(it)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(bx, training=True) - by))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        compiled = tf.function(step)
        run = nantrace.watch(compiled) if watched else compiled
        it = iter(tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
        losses = [float(run(it)) for _ in range(5)]
        results.append((losses, [v.numpy() for v in model.variables]))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)
