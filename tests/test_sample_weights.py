"""Sample weights told apart from labels, and the two ways they break a run: on a raw scale
(the updates that many times larger) and negative (a loss unbounded below)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import tensorflow as tf
from op_records import op_record

from nantrace.diagnosis.causes import infer_cause
from nantrace.diagnosis.evidence import Evidence
from nantrace.diagnosis.fixes import rank_fixes
from nantrace.diagnosis.sample_weights import SampleWeights, weight_range
from nantrace.live.history import HistoryRecord
from nantrace.replay.failing_path import FEATURES, TARGETS, WEIGHTS, batch_roles
from nantrace.replay.graph import build_graph
from nantrace.report.records import Health, Origin

FINE = Health(size=64, dtype="float32", max_abs=1.0, min_value=-1.0, max_value=1.0)
INF = Health(pos_inf=64, size=64, dtype="float32")


def _op(index, op_type, phase, producers, batch=None, layer=None):
    inputs = [FINE] * len(producers)
    return op_record(index, op_type, phase, producers, inputs, [FINE], layer=layer, batch=batch)


def _roles(records):
    return batch_roles(SimpleNamespace(records=records), build_graph(records))


def test_a_weight_multiplies_the_loss_a_label_is_subtracted_or_multiplies_a_log():
    """``mean(w * (y - f(x))^2)``: x a feature, y a label, w a weight (its backward-pass
    product with an upstream gradient does not count). ``-sum(y * log(softmax(f(x))))``: y
    multiplies a log-probability, so it is a label."""
    squared = [
        _op(0, "MatMul", "forward", [None], ["x"], layer="net/dense"),
        _op(1, "Sub", "loss", [None, 0], ["y", None]),
        _op(2, "Square", "loss", [1]),
        _op(3, "Cast", "loss", [None], ["w"]),
        _op(4, "ExpandDims", "loss", [3]),
        _op(5, "Mul", "loss", [4, 2]),
        _op(6, "Mean", "loss", [5]),
        _op(7, "Mul", "backward", [None, 3]),  # the gradient of w * L reads w too
    ]
    assert _roles(squared) == {"x": FEATURES, "y": TARGETS, "w": WEIGHTS}
    cross_entropy = [
        _op(0, "MatMul", "forward", [None], ["x"], layer="net/dense"),
        _op(1, "Softmax", "loss", [0]),
        _op(2, "Log", "loss", [1]),
        _op(3, "Mul", "loss", [None, 2], ["y", None]),
        _op(4, "Sum", "loss", [3]),
    ]
    assert _roles(cross_entropy) == {"x": FEATURES, "y": TARGETS}
    # a product with a constant or with the raw predictions (a hinge's y * f(x)) is no weight
    hinge = [
        _op(0, "MatMul", "forward", [None], ["x"], layer="net/dense"),
        _op(1, "Mul", "loss", [None, 0], ["y", None]),
        _op(2, "Mean", "loss", [1]),
    ]
    assert _roles(hinge)["y"] == TARGETS


def test_a_factor_of_the_log_probability_an_index_picked_is_a_weight():
    """``-mean(adv * log(gather(softmax(f(x)), a)))`` and the one-hot form: the label is the
    index ``a``; the advantages that multiply its log-probability are weights."""
    gathered = [
        _op(0, "MatMul", "forward", [None], ["x"], layer="net/logits"),
        _op(1, "Softmax", "loss", [0]),
        _op(2, "GatherV2", "loss", [1, None], [None, "a"]),
        _op(3, "Log", "loss", [2]),
        _op(4, "Mul", "loss", [None, 3], ["adv", None]),
        _op(5, "Mean", "loss", [4]),
    ]
    assert _roles(gathered) == {"x": FEATURES, "a": TARGETS, "adv": WEIGHTS}
    one_hot = [
        _op(0, "MatMul", "forward", [None], ["x"], layer="net/logits"),
        _op(1, "Softmax", "loss", [0]),
        _op(2, "OneHot", "loss", [None], ["a"]),
        _op(3, "Mul", "loss", [1, 2]),
        _op(4, "Sum", "loss", [3]),
        _op(5, "Log", "loss", [4]),
        _op(6, "Mul", "loss", [None, 5], ["adv", None]),
    ]
    assert _roles(one_hot) == {"x": FEATURES, "a": TARGETS, "adv": WEIGHTS}


def test_the_weights_range_is_read_over_every_batch_held():
    """A rare row with a huge weight sits in one batch of many: the range covers them all."""
    batches = [
        ((tf.zeros([4, 2]), tf.zeros([4, 1]), tf.constant([1.0, 2.0, 1.0, 2.0])), {}),
        ((tf.zeros([4, 2]), tf.zeros([4, 1]), tf.constant([1.0, 4000.0, -1.0, np.nan])), {}),
    ]
    found = weight_range(["x", "y", "w"], batches, "w")
    assert found is not None and found.tensor == "w" and found.batches == 2
    assert (found.low, found.high) == (-1.0, 4000.0)
    assert found.mean == np.mean([1, 2, 1, 2, 1, 4000, -1]) and found.negative == 1 / 7
    assert weight_range(["x", "y", "w"], batches, "z") is None


def test_per_pixel_weights_are_read_up_to_a_bound(monkeypatch):
    """Millions of weights a batch: the tripping batch whole, then batches while they fit."""
    import nantrace.diagnosis.sample_weights as module

    monkeypatch.setattr(module, "MAX_ENTRIES", 10)
    batches = [((tf.fill([2, 3], float(i)),), {}) for i in range(1, 6)]
    found = weight_range(["w"], batches, "w")
    assert found is not None and found.batches == 1 and found.high == 1.0


def _history(losses):
    n = len(losses)
    return HistoryRecord(
        steps=np.arange(n),
        loss=np.asarray(losses, np.float32),
        grad_norm=np.ones(n, np.float32),
        weight_norm=np.geomspace(1.0, 1e6, n, dtype=np.float32)[:, None],
        names=("dense/kernel:0",),
    )


def _overflow(phase="forward"):
    return op_record(9, "MatMul", phase, [None, None], [FINE, FINE], [INF], layer="net/head")


def _diagnose(evidence):
    record = _overflow()
    origin = Origin(kind="matmul_overflow", phase="forward", step=evidence.step, op_type="MatMul")
    cause = infer_cause(origin, record, evidence)
    return cause, rank_fixes(origin, cause, evidence)


def test_weights_on_a_raw_scale_are_rescaled_by_their_mean():
    weights = SampleWeights("w", 1.0, 4096.0, 50.0, 0.0, 20)
    evidence = Evidence(step=70, input_abs_max=3.0, feature="x", sample_weights=weights)
    evidence.learning_rate = 0.01
    cause, fixes = _diagnose(evidence)
    assert cause.id == "unscaled_input" and cause.evidence["tensor"] == "w", cause
    assert [f.id for f in fixes[:2]] == ["rescale_input", "lower_learning_rate"]
    assert fixes[0].params["tensor"] == "w" and fixes[0].params["scale"] == 0.02
    assert fixes[0].snippet.startswith("w = w * 0.02  # sample weights averaging ~1")
    # weights within 1e3 (class weights of 50) are no cause of their own
    modest = SampleWeights("w", 1.0, 50.0, 3.0, 0.0, 20)
    evidence = Evidence(step=70, input_abs_max=3.0, feature="x", sample_weights=modest)
    assert _diagnose(evidence)[0].id != "unscaled_input"


def test_negative_weights_under_a_loss_unbounded_below_are_clipped_at_zero():
    falling = np.linspace(-1.0, -1e4, 40)  # down every step
    weights = SampleWeights("data[2]", -12.0, 20.0, 1.0, 0.16, 40)
    evidence = Evidence(step=40, input_abs_max=3.0, history=_history(falling))
    evidence.sample_weights, evidence.arguments = weights, ["data"]
    cause, fixes = _diagnose(evidence)
    assert cause.id == "negative_sample_weight" and cause.evidence["weight_min"] == -12.0
    assert [f.id for f in fixes] == ["clean_input"]
    assert fixes[0].params == {"tensor": "data[2]", "mode": "clip_negative", "weight_min": -12.0}
    assert fixes[0].snippet.startswith("sample_weight = tf.maximum(sample_weight, 0.0)")
    # weights >= 0: the objective's descent stays unknown
    evidence.sample_weights = SampleWeights("data[2]", 0.0, 20.0, 1.0, 0.0, 40)
    assert _diagnose(evidence)[0].id == "unknown"
