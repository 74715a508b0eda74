"""The code-fix scenarios' bugs are real: plain TensorFlow, with no nantrace anywhere, goes
non-finite on each scenario's own batches, at the stage its expected origin kind says; the
healthy look-alikes stay finite. (Written for the blind scenarios of issue 16: this checks the
scenarios, not nantrace.)"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf
from scenario_codefix import CODEFIX_SCENARIOS, HEALTHY_SETUPS, SETUPS, Setup


def first_non_finite(setup: Setup) -> tuple[int, str] | None:
    """Train unwatched; (step, "loss") when a step's loss is non-finite, (step, "weights") when
    the loss is finite but the update left a non-finite weight (a backward-pass NaN), or None."""
    step = tf.function(setup.step) if setup.compiled else setup.step
    for i, batch in enumerate(setup.batches):
        loss = step(*batch)
        if not np.all(np.isfinite(np.asarray(loss))):
            return i, "loss"
        for var in setup.model.trainable_variables:
            if not np.all(np.isfinite(var.numpy())):
                return i, "weights"
    return None


def _stage(kind: str | None) -> str | None:
    """Where plain TF sees a scenario's NaN first: a forward origin makes the loss non-finite,
    a backward one only the gradients (so the updated weights)."""
    if kind is None:
        return None
    return "weights" if kind == "gradient" else "loss"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", CODEFIX_SCENARIOS, ids=[s.name for s in CODEFIX_SCENARIOS])
def test_bug_goes_non_finite_without_nantrace(scenario):
    hit = first_non_finite(SETUPS[scenario.name]())
    assert hit is not None, f"{scenario.name}: plain TF stayed finite on every batch"
    expected = _stage(scenario.kind)
    if expected is not None:
        assert hit[1] == expected, f"{scenario.name}: first non-finite {hit}, expected {expected}"


def first_checked_op(setup: Setup) -> str:
    """TensorFlow's own check_numerics message for the first op with a non-finite output."""
    step = tf.function(setup.step) if setup.compiled else setup.step
    tf.debugging.enable_check_numerics()
    try:
        for batch in setup.batches:
            step(*batch)
    except tf.errors.OpError as error:
        return str(error)
    finally:
        tf.debugging.disable_check_numerics()
    raise AssertionError("check_numerics saw no non-finite op")


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("NANTRACE_SCENARIO_CHECKS"),
    reason="checks the scenario data itself with tf.debugging.enable_check_numerics (about a "
    "minute); run with NANTRACE_SCENARIO_CHECKS=1",
)
@pytest.mark.parametrize(
    "scenario",
    [s for s in CODEFIX_SCENARIOS if s.op_types],
    ids=[s.name for s in CODEFIX_SCENARIOS if s.op_types],
)
def test_expected_op_is_the_first_non_finite_op_tf_reports(scenario):
    """The op (and the layer, when named) the scenario expects is the one TensorFlow's own
    tf.debugging.enable_check_numerics stops at first; nantrace plays no part."""
    message = first_checked_op(SETUPS[scenario.name]())
    match = re.search(
        r'Infinity or NaN in output \d+ of (?:graph|eagerly-executing) op "(\w+)"', message
    )
    assert match, message[:500]
    assert match.group(1) in scenario.op_types, f"{scenario.name}: TF stopped at {match.group(1)}"
    if scenario.layer is not None:
        assert scenario.layer.split("/")[-1] in message, message[:500]


@pytest.mark.slow
@pytest.mark.parametrize("make", HEALTHY_SETUPS, ids=[m.__name__ for m in HEALTHY_SETUPS])
def test_healthy_look_alike_stays_finite(make):
    assert first_non_finite(make()) is None


def test_every_scenario_is_blind_and_has_a_setup():
    assert len(CODEFIX_SCENARIOS) >= 12
    for scenario in CODEFIX_SCENARIOS:
        assert scenario.blind and scenario.fixes and scenario.causes, scenario.name
        assert scenario.name in SETUPS
