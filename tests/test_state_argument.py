"""A log of a value the step keeps itself (a counter, a metric's totals) is no log of the
model's probabilities: ``missing_epsilon``, not ``unstable_loss``, whatever the head."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from op_records import op_record

from nantrace.diagnosis.causes import infer_cause
from nantrace.diagnosis.evidence import Evidence, argument_from_state
from nantrace.report.records import Health, Origin

ZERO = Health(size=1, dtype="float32", shape=(), zeros=1, max_abs=0.0, min_value=0.0, max_value=0.0)
PROBS = Health(
    size=64, dtype="float32", shape=(32, 2), zeros=3, max_abs=1.0, min_value=0.0, max_value=1.0
)
NEG_INF = Health(neg_inf=1, size=1, dtype="float32", shape=())


def _op(index, op_type, phase, producers, inputs, *, layer=None, trainable=None, batch=None):
    out = [NEG_INF if op_type == "Log" else inputs[0]]
    return op_record(
        index, op_type, phase, producers, inputs, out, layer=layer, batch=batch, trainable=trainable
    )


def _counter_log() -> list:
    """log(cast(iterations) / T): a read of a non-trainable counter, a division, the log."""
    return [
        _op(0, "ReadVariableOp", "loss", [None], [None], trainable=False),
        _op(1, "Cast", "loss", [0], [ZERO]),
        _op(2, "RealDiv", "loss", [1, None], [ZERO, ZERO]),
        _op(3, "Log", "loss", [2], [ZERO]),
    ]


def _model_log(**upstream) -> list:
    """log(softmax(head(x))), the head's op given ``upstream`` (a layer, a trainable read)."""
    return [
        _op(0, "MatMul", "forward", [None, None], [PROBS, PROBS], **upstream),
        _op(1, "Softmax", "loss", [0], [PROBS]),
        _op(2, "Log", "loss", [1], [PROBS]),
    ]


def test_a_log_of_a_counter_is_from_state() -> None:
    records = _counter_log()
    assert argument_from_state(SimpleNamespace(records=records), records[-1])


@pytest.mark.parametrize(
    "upstream",
    [{"layer": "net/head"}, {"trainable": True}, {"batch": ["x", None]}],
    ids=["layer", "trainable variable", "batch tensor"],
)
def test_a_log_of_the_model_or_the_batch_is_not(upstream: dict) -> None:
    records = _model_log(**upstream)
    assert not argument_from_state(SimpleNamespace(records=records), records[-1])


def test_a_bare_argument_is_not_from_state() -> None:
    log = _op(0, "Log", "loss", [None], [ZERO], batch=["y"])
    assert not argument_from_state(SimpleNamespace(records=[log]), log)


def test_the_cause_of_a_log_of_state_is_a_missing_epsilon() -> None:
    records = _counter_log()
    origin = Origin(kind="loss", phase="loss", step=0, op_type="Log", op_name="loss/Log")
    evidence = Evidence(step=0, input_abs_max=1.0, output_activation="softmax")
    evidence.argument_from_state = True
    cause = infer_cause(origin, records[-1], evidence)
    assert cause.id == "missing_epsilon", cause
    evidence.argument_from_state = False
    assert infer_cause(origin, records[-1], evidence).id == "unstable_loss"
