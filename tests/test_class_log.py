"""A log of class probabilities taken on a linear head: the head's softmax is what is missing,
not a positive activation."""

from __future__ import annotations

from types import SimpleNamespace

from op_records import op_record

from nantrace.diagnosis.causes import infer_cause
from nantrace.diagnosis.evidence import Evidence, class_log_layers
from nantrace.diagnosis.fixes import rank_fixes
from nantrace.replay.capture import OpRecord
from nantrace.replay.graph import build_graph
from nantrace.report.records import Health, Origin


def _health(units: int, low: float = -2.0, high: float = 2.0) -> Health:
    return Health(
        size=32 * units,
        dtype="float32",
        shape=(32, units),
        max_abs=max(abs(low), abs(high)),
        min_value=low,
        max_value=high,
    )


EPSILON = Health(size=1, dtype="float32", shape=(), max_abs=1e-7, min_value=1e-7, max_value=1e-7)
NAN = Health(nan=10, size=320, dtype="float32", shape=(32, 10))


def _op(index, op_type, phase, producers, inputs, batch=None, layer=None, out=None):
    outputs = [out or inputs[0]]
    return op_record(index, op_type, phase, producers, inputs, outputs, layer=layer, batch=batch)


def _records(units: int, consumer: str) -> list[OpRecord]:
    """log(transpose(head(x)) + 1e-7) read by ``consumer`` (a Mul with the labels, or CTC)."""
    out = _health(units)
    reader = (
        _op(4, "Mul", "loss", [None, 3], [_health(units), NAN], batch=["y", None])
        if consumer == "Mul"
        else _op(4, "CTCLoss", "loss", [3, None], [NAN, None])
    )
    return [
        _op(0, "BiasAdd", "forward", [None, None], [out, out], layer="net/head"),
        _op(1, "Transpose", "loss", [0], [out]),
        _op(2, "AddV2", "loss", [1, None], [out, EPSILON]),
        _op(3, "Log", "loss", [2], [out], out=NAN),
        reader,
    ]


def test_a_log_of_a_multi_unit_head_read_as_class_probabilities_is_found():
    for consumer in ("Mul", "CTC"):
        records = _records(10, consumer)
        found = class_log_layers(SimpleNamespace(records=records), build_graph(records))
        assert found == {"net/head"}, consumer
    # one unit is no distribution over classes (a rate, a scale: a positive activation fits)
    records = _records(1, "Mul")
    assert class_log_layers(SimpleNamespace(records=records), build_graph(records)) == set()


def test_the_softmax_head_comes_first_and_no_softplus_is_offered():
    records = _records(10, "Mul")
    log = records[3]
    origin = Origin(kind="loss", phase="loss", step=0, op_type="Log", source="train.py:1")
    evidence = Evidence(step=0, input_abs_max=1.0, logits_as_class_probabilities="net/head")
    evidence.output_layer, evidence.output_activation = "net/head", "linear"
    cause = infer_cause(origin, log, evidence)
    assert cause.id == "domain_error", cause
    fixes = rank_fixes(origin, cause, evidence)
    assert fixes[0].id == "use_from_logits"
    assert fixes[0].params == {
        "layer": "net/head",
        "activation": "softmax",
        "mode": "softmax_output",
    }
    assert "positive_output" not in [f.id for f in fixes]
