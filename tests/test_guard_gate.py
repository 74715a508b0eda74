"""The guard's restore: every trip is undone from the anchor, exactly.

A compiled step with a host anchor runs as written, with no gate and nothing copied per step:
when a step trips (a non-finite loss or gradient, or an update that makes the state
non-finite, ``optimizer_update``), the host restores the anchor and re-runs the batches since it.
These tests check that the result is the exact pre-step state for every origin kind, with and
without XLA, that the report says how it was checked, and that a step with a stateful random op
(which a re-run cannot reproduce) falls back to copying the state.

Under XLA (``jit_compile=True``) the step is also split: the user's computation is its own XLA
function and the guard's checks run after it.
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


def trip_on_an_inf_label_and_check_it_undone(step, model, optimizer, i):
    """Batch ``i`` with an Inf label trips the step (``on_nan="warn"``), and the weights and
    Adam's slots are exactly as before it."""
    before = state(model, optimizer)
    x, y = batch(i)
    y = tf.tensor_scatter_nd_update(y, [[2, 0]], [np.inf])
    with pytest.warns(nantrace.NonFiniteWarning):
        step(x, y)
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)


def batch(i):
    rng = np.random.default_rng(i)
    x = rng.normal(size=(16, 4)).astype("float32")
    return tf.constant(x), tf.constant(rng.normal(size=(16, 1)).astype("float32"))


def trip_by_update(noise, jit=False):
    """Five healthy steps, then a learning rate that makes the next update overflow."""
    model, optimizer = make_model()
    step = nantrace.watch(
        tf.function(step_for(model, optimizer, noise), jit_compile=jit), verify=False
    )
    for i in range(5):
        step(*batch(i))
    optimizer.learning_rate.assign(1e40)  # inf in float32
    before = state(model, optimizer)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*batch(5))
    return step, before, state(model, optimizer), caught.value.report


@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
def test_update_trip_is_undone_exactly_from_the_anchor(jit):
    step, before, after, report = trip_by_update(noise=False, jit=jit)
    assert step.gated  # undone from the anchor: nothing was copied per step
    assert report.origin.kind == "optimizer_update"
    assert report.trip.variables and not report.trip.loss and not report.trip.gradients
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    note = next(n for n in report.notes if n.startswith("optimizer update undone"))
    assert "re-running them" in note and "bit-identical to the original run" in note
    assert "NOT" not in note


@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
def test_step_with_a_stateful_random_op_copies_the_state_instead(jit):
    step, before, after, report = trip_by_update(noise=True, jit=jit)
    assert not step.gated  # the trace saw RandomStandardNormal: copy mode
    assert report.origin.kind == "optimizer_update"
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not any(n.startswith("optimizer update undone") for n in report.notes)


@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
def test_loss_trip_is_undone_from_the_anchor(jit):
    """A non-finite loss and gradient: the update ran (no gate) and the anchor re-run undoes
    it, the weights and Adam's slots exactly as before the step."""
    model, optimizer = make_model()
    step = nantrace.watch(
        tf.function(step_for(model, optimizer), jit_compile=jit), on_nan="warn", verify=False
    )
    for i in range(3):
        step(*batch(i))
    trip_on_an_inf_label_and_check_it_undone(step, model, optimizer, 3)
    assert step.gated and step.trips == 1
    report = step.reports[0]
    assert report.trip.loss and not report.trip.variables
    undone = [n for n in report.notes if n.startswith("optimizer update undone")]
    assert len(undone) == 1 and "bit-identical to the original run" in undone[0]
    step(*batch(4))
    assert step.trips == 1 and int(optimizer.iterations.numpy()) == 4


def test_a_caught_trip_then_more_steps_are_undone_and_checked_from_the_right_anchor():
    """A user who catches ``NonFiniteError`` (``on_nan="raise"``) and calls the step again:
    the state the first trip restored is the next anchor, so a second trip re-runs only the
    steps after it, and its check compares them with their own original rows (not with the
    first trip's, which would read as "NOT bit-identical")."""
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    for i in range(3):
        step(*batch(i))
    x, y = batch(3)
    y_inf = tf.tensor_scatter_nd_update(y, [[2, 0]], [np.inf])
    notes = []
    for healthy_between in (0, 0, 2):
        for i in range(healthy_between):
            step(*batch(10 + i))
        before = state(model, optimizer)
        with pytest.raises(nantrace.NonFiniteError) as caught:
            step(x, y_inf)
        for a, b in zip(before, state(model, optimizer), strict=True):
            np.testing.assert_array_equal(a, b)
        notes.append(
            next(n for n in caught.value.report.notes if n.startswith("optimizer update undone"))
        )
    assert "3 step(s) back" in notes[0] and "bit-identical to the original run" in notes[0]
    assert "just before the step" in notes[1]  # nothing ran since the first trip's state
    assert "2 step(s) back" in notes[2] and "bit-identical to the original run" in notes[2]
    assert not any("NOT" in note for note in notes), notes


@pytest.mark.parametrize("jit", [False, True], ids=["tf_function", "xla"])
def test_trips_of_every_origin_are_restored_exactly(jit):
    """A finite loss with a non-finite gradient (d sqrt(x)/dx at 0; under XLA not seen in the
    gradients, which are not read there, but in the weights the update wrote) and a NaN in the
    batch: each undone exactly, the first named in the backward pass, the second as the input
    rows."""
    model, optimizer = make_model()

    def train_step(x, y, root):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = tf.reduce_mean(tf.square(out - y))
            if root:  # sqrt(0) = 0, its gradient 0 * inf = NaN
                loss += tf.reduce_sum(tf.sqrt(out * 0.0))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(tf.function(train_step, jit_compile=jit), on_nan="warn", verify=False)
    for i in range(4):
        step(*batch(i), False)
    origins = []
    x_nan = tf.tensor_scatter_nd_update(batch(5)[0], [[3, 1]], [np.nan])
    for i, (x, y, root) in enumerate([(*batch(4), True), (x_nan, batch(5)[1], False)]):
        before = state(model, optimizer)
        with pytest.warns(nantrace.NonFiniteWarning):
            step(x, y, root)
        assert step.trips == i + 1
        for a, b in zip(before, state(model, optimizer), strict=True):
            np.testing.assert_array_equal(a, b)
        origins.append(step.reports[-1].origin)
    assert origins[0].phase == "backward", origins[0]
    assert origins[1].kind == "input_data" and origins[1].rows == (3,)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_the_anchor_keeps_its_values_while_the_steps_write_the_variables(jit):
    """The anchor's arrays share the variables' buffers when taken (no host copy): the steps'
    writes, plain updates and XLA's alike, must leave them as they were read."""
    from nantrace.compat.tf import as_tf_variable

    model, optimizer = make_model()
    before = {id(as_tf_variable(v)): v.numpy().copy() for v in model.variables}
    step = nantrace.watch(tf.function(step_for(model, optimizer), jit_compile=jit), verify=False)
    for i in range(4):
        step(*batch(i))
    assert len(step.since_anchor) == 4  # still the anchor taken before step 0
    kept = {id(variable): value for variable, value in step.anchor.values}
    assert before.keys() <= kept.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(kept[key], value)
        assert not kept[key].flags.writeable
    moved = [
        v
        for v in model.trainable_variables
        if not np.array_equal(v.numpy(), before[id(as_tf_variable(v))])
    ]
    assert len(moved) == len(model.trainable_variables)  # every weight did move since


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


def test_kept_tensor_batches_are_kept_by_reference_and_counted():
    """The per-step fast path (plain tensor arguments): no copy, and the bytes kept since the
    anchor (what bounds them) are the batches' sizes."""
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False)
    batches = [batch(i) for i in range(3)]
    for x, y in batches:
        step(x, y)
    kept = [args for args, _ in step.since_anchor]
    assert len(kept) == 3
    for args, pair in zip(kept, batches, strict=True):
        assert all(a is b for a, b in zip(args, pair, strict=True))
    assert step._since_anchor_bytes == 3 * (16 * 4 + 16 * 1) * 4


@pytest.mark.parametrize("budget", [0.0, 1e9], ids=["gated", "host-restore"])
def test_slow_steps_are_gated_and_fast_ones_restored_from_the_anchor(monkeypatch, budget):
    """After its first healthy steps, a step whose re-run from the anchor would take longer
    than RERUN_BUDGET_S is gated instead: a non-finite loss and gradient then never reach the
    weights or Adam's slots (no re-run, no note); a fast step is undone by the re-run. The
    same state either way, and training goes on."""
    from nantrace.live import guard

    monkeypatch.setattr(guard, "RERUN_BUDGET_S", budget)
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), on_nan="warn", verify=False)
    for i in range(guard.PACE_STEPS + 2):
        step(*batch(i))
    assert step.host_restore == (budget > 0)
    trip_on_an_inf_label_and_check_it_undone(step, model, optimizer, 9)
    report = step.reports[0]
    assert report.trip.loss and not report.trip.variables
    undone = [n for n in report.notes if n.startswith("optimizer update undone")]
    assert len(undone) == (budget > 0) and all("NOT" not in n for n in undone)
    step(*batch(10))
    assert step.trips == 1
    assert int(optimizer.iterations.numpy()) == guard.PACE_STEPS + 3


def paced_step(monkeypatch, budget, **options):
    """A watched step run past the guard's pace measurement with RERUN_BUDGET_S = ``budget``
    (0: gated; 1 s: host restore, re-anchored more often than ``anchor_every``)."""
    from nantrace.live import guard

    monkeypatch.setattr(guard, "RERUN_BUDGET_S", budget)
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), verify=False, **options)
    for i in range(guard.PACE_STEPS + 2):
        step(*batch(i))
    return step, model, optimizer


def test_a_step_too_slow_for_its_anchor_interval_is_anchored_more_often_not_gated(monkeypatch):
    """A step whose re-run of ``anchor_every`` steps would pass RERUN_BUDGET_S, but of which
    at least MIN_ANCHOR_EVERY fit in it, keeps host restore (the gate costs a large step more
    than a copy of the state every few seconds: ``python -m bench.parts restore``) and is
    re-anchored every budget / pace steps, so a trip still re-runs within the budget."""
    from nantrace.live import guard

    step, model, optimizer = paced_step(monkeypatch, 1.0, on_nan="warn", anchor_every=10**6)
    assert step.host_restore
    assert guard.MIN_ANCHOR_EVERY <= step.anchor_every < 10**6
    for i in range(3):
        step(*batch(i))
    trip_on_an_inf_label_and_check_it_undone(step, model, optimizer, 9)
    undone = [n for n in step.reports[0].notes if n.startswith("optimizer update undone")]
    assert len(undone) == 1 and "NOT" not in undone[0]


def test_gated_update_trip_is_undone_exactly_from_the_anchor(monkeypatch):
    """Gated, a trip after a finite update (optimizer_update) is still re-run from the anchor."""
    step, model, optimizer = paced_step(monkeypatch, 0.0)
    assert not step.host_restore
    optimizer.learning_rate.assign(1e40)
    before = state(model, optimizer)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(*batch(9))
    report = caught.value.report
    assert report.origin.kind == "optimizer_update"
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    note = next(n for n in report.notes if n.startswith("optimizer update undone"))
    assert "bit-identical to the original run" in note and "NOT" not in note


def test_a_gated_trip_between_the_re_run_steps_is_not_compared_with_them(monkeypatch):
    """Gated, a non-finite loss is skipped in-graph (nothing to restore, no new anchor) and
    training goes on; a later update trip re-runs the batches since the anchor and compares
    each with the row of its own step, not with the skipped step's row between them."""
    step, model, optimizer = paced_step(monkeypatch, 0.0, on_nan="warn", anchor_every=10**6)
    assert not step.host_restore
    trip_on_an_inf_label_and_check_it_undone(step, model, optimizer, 20)
    step(*batch(21))
    optimizer.learning_rate.assign(1e40)
    before = state(model, optimizer)
    with pytest.warns(nantrace.NonFiniteWarning):
        step(*batch(22))
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    note = next(n for n in step.reports[-1].notes if n.startswith("optimizer update undone"))
    assert "by re-running them" in note and "NOT" not in note, note


def test_training_goes_on_from_a_new_anchor_after_a_restored_trip():
    """Under warn, the state a host restore put back is anchored: the next trip re-runs only
    the steps since the first one, and is still restored exactly."""
    model, optimizer = make_model()
    step = nantrace.watch(tf.function(step_for(model, optimizer)), on_nan="warn", verify=False)
    for i in range(4):
        step(*batch(i))
    x, y = batch(4)
    bad_y = tf.tensor_scatter_nd_update(y, [[2, 0]], [np.inf])
    with pytest.warns(nantrace.NonFiniteWarning):
        step(x, bad_y)
    assert not step.since_anchor  # anchored at the restored pre-step state
    for i in range(5, 7):
        step(*batch(i))
    before = state(model, optimizer)
    with pytest.warns(nantrace.NonFiniteWarning):
        step(x, bad_y)
    for a, b in zip(before, state(model, optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    notes = [n for r in step.reports for n in r.notes if n.startswith("optimizer update undone")]
    assert "4 step(s) back" in notes[0] and "2 step(s) back" in notes[1]
    assert all("NOT" not in n for n in notes)


def test_a_rerun_is_checked_bit_for_bit_except_the_gradient_norms_last_bit():
    """The re-run from the anchor is compared with the original history rows: loss and weight
    norms bit for bit; the gradient norm, whose last bit a run of the same step does not
    always reproduce, within GRAD_NORM_RTOL (a 1-ulp difference there is not an inexact
    restore; a larger one is)."""
    from nantrace.live.guard import GRAD_NORM_RTOL, _rows_differ
    from nantrace.live.history import HistoryRecord

    def record(grad: float, weight: float, rerun: bool = True) -> HistoryRecord:
        """Three healthy rows (the middle one's numbers given) and, in the original, the
        tripping step's row after them; a re-run's history ends with the re-run rows."""
        loss = [1.0, 0.9, 0.8]
        grads = [2.0, grad, 1.5]
        weights = [[3.0], [weight], [3.2]]
        if not rerun:
            loss, grads, weights = loss + [np.nan], grads + [np.nan], weights + [[np.nan]]
        return HistoryRecord(
            steps=np.arange(len(loss)),
            loss=np.array(loss, np.float32),
            grad_norm=np.array(grads, np.float32),
            weight_norm=np.array(weights, np.float32),
            names=("dense/kernel:0",),
        )

    original = record(1.7, 3.1, rerun=False)
    one_ulp = float(np.nextafter(np.float32(1.7), np.float32(2.0)))
    assert _rows_differ(original, record(1.7, 3.1), [0, 1, 2]) == ""
    assert _rows_differ(original, record(one_ulp, 3.1), [0, 1, 2]) == ""
    assert _rows_differ(original, record(1.7 * (1 + 10 * GRAD_NORM_RTOL), 3.1), [0, 1, 2]) == (
        "grad norm differs"
    )
    weight_ulp = float(np.nextafter(np.float32(3.1), np.float32(4.0)))
    assert _rows_differ(original, record(1.7, weight_ulp), [0, 1, 2]) == "weight norm differs"
