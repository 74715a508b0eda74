"""A similarity of embeddings that were never normalized: found up the origin, and its fix
(a UnitNormalization after the compared layers) ranked first."""

from __future__ import annotations

from types import SimpleNamespace

from op_records import op_record

from nantrace.diagnosis.causes import infer_cause
from nantrace.diagnosis.evidence import Evidence
from nantrace.diagnosis.fixes import rank_fixes
from nantrace.diagnosis.similarity import Similarity, unnormalized_similarity
from nantrace.replay.capture import OpRecord
from nantrace.report.records import Health, Origin


def _health(largest: float) -> Health:
    return Health(size=64, dtype="float32", max_abs=largest, min_value=-largest, max_value=largest)


INF = Health(pos_inf=4, size=64, dtype="float32")


def _op(index, op_type, phase, producers, largest=3.0, layer=None, out=None):
    inputs = [_health(largest)] * len(producers)
    outputs = [out or _health(largest)]
    name = f"loss/{op_type}_{index}"
    return op_record(index, op_type, phase, producers, inputs, outputs, layer=layer, op_name=name)


def _contrastive(largest: float) -> list[OpRecord]:
    """exp(a @ b.T / t) of two towers' outputs, b through a transpose."""
    return [
        _op(0, "BiasAdd", "forward", [None], largest, layer="clip/image_tower/image_projection"),
        _op(1, "BiasAdd", "forward", [None], largest, layer="clip/text_tower/text_projection"),
        _op(2, "Transpose", "loss", [1], largest),
        _op(3, "MatMul", "loss", [0, 2], largest),
        _op(4, "RealDiv", "loss", [3, None], largest, out=_health(500.0)),
        _op(5, "Exp", "loss", [4], 500.0, out=INF),
    ]


def test_dot_products_of_two_model_outputs_beyond_unit_length_are_found():
    records = _contrastive(3.0)
    found = unnormalized_similarity(SimpleNamespace(records=records), records[-1])
    assert found == Similarity(
        ("clip/image_tower/image_projection", "clip/text_tower/text_projection"),
        3.0,
        "loss/MatMul_3",
    )
    # unit vectors hold no value beyond 1: already normalized
    records = _contrastive(0.9)
    assert unnormalized_similarity(SimpleNamespace(records=records), records[-1]) is None


def test_the_product_is_found_through_a_gaussian_potentials_squared_distance():
    """log(mean(exp(-2 d^2))) with d^2 = |z_i|^2 + |z_j|^2 - 2 z_i.z_j: nine ops up."""
    records = [
        _op(0, "BiasAdd", "forward", [None], 4.0, layer="encoder/embedding"),
        _op(1, "Transpose", "loss", [0], 4.0),
        _op(2, "MatMul", "loss", [0, 1], 4.0),
        _op(3, "Mul", "loss", [None, 2], 4.0),
        _op(4, "Square", "loss", [0], 4.0),
        _op(5, "Sum", "loss", [4], 4.0),
        _op(6, "AddV2", "loss", [5, 5], 4.0),
        _op(7, "Sub", "loss", [6, 3], 4.0),
        _op(8, "Mul", "loss", [None, 7], 4.0),
        _op(9, "Exp", "loss", [8], 4.0),
        _op(10, "Mul", "loss", [9, None], 4.0),
        _op(11, "Sum", "loss", [10], 4.0),
        _op(12, "RealDiv", "loss", [11, None], 4.0),
        _op(13, "Log", "loss", [12], 4.0, out=INF),
    ]
    found = unnormalized_similarity(SimpleNamespace(records=records), records[-1])
    assert found is not None and found.layers == ("encoder/embedding",)


def test_a_product_inside_a_layer_is_a_layer_not_a_similarity():
    """A Dense layer's MatMul of its input and kernel (a classifier's logits) is no
    comparison of embeddings."""
    records = [
        _op(0, "Relu", "forward", [None], 5.0, layer="net/hidden"),
        _op(1, "MatMul", "forward", [0, None], 5.0, layer="net/logits"),
        _op(2, "Exp", "loss", [1], 5.0, out=INF),
    ]
    assert unnormalized_similarity(SimpleNamespace(records=records), records[-1]) is None


def test_the_unit_normalization_comes_first_for_an_exp_of_a_similarity():
    records = _contrastive(3.0)
    origin = Origin(kind="loss", phase="loss", step=0, op_type="Exp")
    similarity = unnormalized_similarity(SimpleNamespace(records=records), records[-1])
    evidence = Evidence(step=0, input_abs_max=1.0, unnormalized_similarity=similarity)
    cause = infer_cause(origin, records[-1], evidence)
    fixes = rank_fixes(origin, cause, evidence)
    assert fixes[0].id == "add_normalization", [f.id for f in fixes]
    assert fixes[0].params["mode"] == "unit_norm"
    assert fixes[0].params["after"] == list(similarity.layers)
    assert fixes[0].snippet.startswith("keras.layers.UnitNormalization(axis=-1)  # after clip/")
    assert len(fixes) > 1  # the cause's own fixes follow
