"""One diagnosis engine: the same state gets the same cause id from ``nantrace scan``,
``nantrace diff`` (a before/after pair) and, where a live run can reach that state, the live
report of ``nantrace.watch``.

The shared states, each made by real training of a small Keras MLP (fixed seeds):

(a) SGD(momentum 0.9) at learning rate 0.05 on inputs of scale 3: the weights blow up within
    ~10 steps. The live guard trips on the loss at step 8 and restores the state before it
    (the last finite checkpoint); unguarded training goes on to non-finite weights.
(b) a healthy run with one NaN written by hand into a kernel (the issue's example, where scan
    once blamed the learning rate and diff gradient explosion); live: training resumed from it.
(c) a healthy run: nothing to explain anywhere.
(d) a first kernel drawn with stddev 1e20 (initializer scale): the live guard trips on the
    loss at step 0 and restores the initial state.
(e) float16 layers under Adam(epsilon=1e-8), which is 0 in float16, with an input feature that
    is always 0: that kernel row's update is 0/0 at the first step (saved as .keras, whose
    config records epsilon; a TF checkpoint does not, and the scan then takes epsilon as 0:
    ``missing_epsilon``, with a note).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import keras
import numpy as np
import postmortem_models as pm
import pytest
import tensorflow as tf

import nantrace


@dataclass
class State:
    """One shared state: the paths each command looks at, the live cause, the expected id."""

    expected: str | None
    scans: list[str] = field(default_factory=list)
    diffs: list[tuple[str, str]] = field(default_factory=list)
    live: object = None  # the live Report, or None when the guard never tripped


def _live(model, optimizer, x, y, steps: int):
    """Train under ``nantrace.watch`` (fix replay off: only the cause is compared)."""

    @nantrace.watch(verify=False)
    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.cast(model(x, training=True), tf.float32) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    try:
        for _ in range(steps):
            train_step(x, y)
    except nantrace.NonFiniteError as error:
        return error.report
    return None


def _write(model, optimizer, path: str) -> str:
    return tf.train.Checkpoint(model=model, optimizer=optimizer).write(path)


@pytest.fixture(scope="module")
def states(tmp_path_factory) -> dict[str, State]:
    directory = str(tmp_path_factory.mktemp("one_engine"))
    out: dict[str, State] = {}

    # (a) too high a learning rate
    diverged = pm.diverged(directory)
    model = pm.mlp(seed=2)
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    x, y = pm.regression_data(2, scale=3.0)
    report = _live(model, optimizer, x, y, steps=50)
    restored = _write(model, optimizer, os.path.join(directory, "a-after-trip"))
    first, last_good, non_finite = diverged.prefixes
    out["a_learning_rate"] = State(
        "learning_rate_too_high",
        scans=[last_good, non_finite, restored],
        diffs=[(first, last_good), (last_good, non_finite), (first, non_finite), (first, restored)],
        live=report,
    )

    # (b) a NaN written by hand into one kernel of a healthy run
    healthy = pm.healthy(directory)
    model = pm.mlp(seed=1)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=optimizer).read(
        healthy.prefixes[-1]
    ).assert_consumed()
    kernel = model.get_layer("hidden").kernel
    values = kernel.numpy()
    values[0, 0] = np.nan
    kernel.assign(values)
    injected = _write(model, optimizer, os.path.join(directory, "b-injected"))
    x, y = pm.regression_data(1)
    out["b_injected_nan"] = State(
        "non_finite_state",
        scans=[injected],
        diffs=[(healthy.prefixes[-1], injected)],
        live=_live(model, optimizer, x, y, steps=3),
    )

    # (c) healthy
    model = pm.mlp(seed=1)
    optimizer = keras.optimizers.Adam(1e-3)
    before = _write(model, optimizer, os.path.join(directory, "c-before"))
    report = _live(model, optimizer, x, y, steps=10)
    after = _write(model, optimizer, os.path.join(directory, "c-after"))
    out["c_healthy"] = State(
        None,
        scans=[before, after, healthy.keras],
        diffs=[(before, after), (healthy.prefixes[0], healthy.prefixes[1])],
        live=report,
    )

    # (d) initializer scale
    model = pm.mlp(seed=3, initializer=keras.initializers.RandomNormal(stddev=1e20))
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    initial = _write(model, optimizer, os.path.join(directory, "d-initial"))
    model.save(os.path.join(directory, "d-initial.keras"))
    x, y = pm.regression_data(3)
    report = _live(model, optimizer, x, y, steps=3)
    restored = _write(model, optimizer, os.path.join(directory, "d-after-trip"))
    out["d_initializer"] = State(
        "initializer_scale",
        scans=[initial, os.path.join(directory, "d-initial.keras"), restored],
        diffs=[(initial, restored)],
        live=report,
    )

    # (e) an epsilon that float16 rounds to 0
    x, y = pm.regression_data(9)
    x[:, 3] = 0.0
    half = {}
    for name in ("before", "after"):
        keras.utils.set_random_seed(9)
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, "relu", dtype="float16", name="hidden"),
                keras.layers.Dense(1, dtype="float16", name="out"),
            ],
            name="half",
        )
        optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
        model.compile(optimizer=optimizer, loss="mse")
        optimizer.build(model.trainable_variables)
        if name == "before":
            half[name] = os.path.join(directory, "e-before.keras")
            model.save(half[name])
            report = _live(model, optimizer, x, y, steps=3)
        else:
            with tf.GradientTape() as tape:
                prediction = tf.cast(model(x, training=True), tf.float32)
                loss = tf.reduce_mean(tf.square(prediction - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            half[name] = os.path.join(directory, "e-after.keras")
            model.save(half[name])
    out["e_float16_epsilon"] = State(
        "float16_range",
        scans=[half["after"]],
        diffs=[(half["before"], half["after"])],
        live=report,
    )
    return out


def _cli(*argv: str) -> dict:
    code, out, err = pm.run_cli(*argv, "--format", "json")
    assert err == "" and code in (0, 1), err
    return pm.strict_json(out)


def _cause_id(report: dict) -> str | None:
    return report["causes"][0]["id"] if report["causes"] else None


@pytest.mark.parametrize(
    "name",
    ["a_learning_rate", "b_injected_nan", "c_healthy", "d_initializer", "e_float16_epsilon"],
)
def test_scan_diff_and_live_agree(states, name):
    state = states[name]
    seen = {}
    for path in state.scans:
        seen[f"scan {os.path.basename(path)}"] = _cause_id(_cli("scan", path))
    for a, b in state.diffs:
        seen[f"diff {os.path.basename(a)} {os.path.basename(b)}"] = _cause_id(_cli("diff", a, b))
    live = state.live
    seen["live"] = live.cause.id if live is not None and live.cause is not None else None
    assert set(seen.values()) == {state.expected}, seen


def test_live_trips_where_the_states_say(states):
    """The live runs behind the shared states trip (or not) as described above."""
    assert states["a_learning_rate"].live.trip.step == 8
    assert states["b_injected_nan"].live.origin.kind == "optimizer_update"
    assert states["c_healthy"].live is None
    assert states["d_initializer"].live.trip.step == 0
    assert states["e_float16_epsilon"].live.origin.kind == "optimizer_update"


def test_fixes_are_the_live_fixes(states):
    """Same fix ids, snippets and values from scan and diff of one state, and the live report's
    first fix with the same concrete value; the clip norm differs only because a checkpoint
    holds no gradient-norm history (the live one is taken from it)."""
    state = states["a_learning_rate"]
    last_good = state.scans[0]
    scanned = _cli("scan", last_good)
    diffed = _cli("diff", state.diffs[0][0], last_good)
    assert scanned["fixes"] == diffed["fixes"]
    live = state.live.fixes
    assert [f["id"] for f in scanned["fixes"]] == [f.id for f in live]
    assert scanned["fixes"][0]["snippet"] == live[0].snippet == "optimizer.learning_rate = 0.005"
    clip = scanned["fixes"][1]
    assert clip["snippet"] == "SGD(..., global_clipnorm=1)" and "global_clipnorm" in live[1].snippet
    assert clip["params"]["basis"].startswith("default: only 0 healthy step(s)")
    half = states["e_float16_epsilon"]
    scanned = _cli("scan", half.scans[0])
    assert scanned["fixes"][0]["snippet"] == half.live.fixes[0].snippet == "Adam(..., epsilon=1e-4)"


def test_unknown_is_said_not_guessed(states, tmp_path):
    """A state no rule's evidence fits gets ``unknown`` and no fix, from both commands: a NaN
    in a kernel whose Adam update (rebuilt from finite slots) was itself NaN-free is explained
    (non_finite_state); the same NaN with the slots dropped leaves only the state's evidence,
    which shows nothing wrong."""
    injected = states["b_injected_nan"].scans[0]
    model = pm.mlp(seed=1)
    tf.train.Checkpoint(model=model).read(injected).expect_partial()
    bare = tf.train.Checkpoint(model=model).write(str(tmp_path / "no-optimizer"))
    scanned = _cli("scan", bare)
    assert scanned["verdict"] == "non_finite"
    assert _cause_id(scanned) == "unknown" and scanned["fixes"] == []
    assert scanned["origin"]["kind"] == "gradient"
