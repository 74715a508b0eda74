"""Fast tier: the cause rules and fix builders on synthetic op records and evidence.

One test per cause and per misfire named in issue 10. No model runs here: each case states
the values an op saw (min/max, zeros, dtype), as the replay capture would record them.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np

from nantrace.diagnosis.causes import infer_cause
from nantrace.diagnosis.evidence import (
    Evidence,
    LayerScale,
    _on_path,
    epsilon_lost_in,
    exp_underflow,
    inf_constant_op,
)
from nantrace.diagnosis.fixes import clip_norm_from_history, rank_fixes
from nantrace.diagnosis.origin import padding_rows
from nantrace.replay.capture import OpRecord
from nantrace.report.records import Health, Origin


def health(
    low: float | None = -1.0,
    high: float | None = 1.0,
    *,
    dtype: str = "float32",
    zeros: int = 0,
    nan: int = 0,
    inf: int = 0,
    size: int = 32,
) -> Health:
    values = [abs(v) for v in (low, high) if v is not None]
    return Health(
        nan=nan,
        pos_inf=inf,
        max_abs=max(values, default=0.0),
        size=size,
        dtype=dtype,
        shape=(size,),
        zeros=zeros,
        min_value=low,
        max_value=high,
    )


BAD = health(None, None, nan=4)
INF = health(None, None, inf=4)


def record(op: str, inputs: list[Health], output: Health = BAD, phase: str = "forward", **kw):
    return OpRecord(
        index=kw.pop("index", 5),
        op_type=op,
        phase=phase,
        layer=kw.pop("layer", "net/layer"),
        source="train.py:42",
        inputs=list(inputs),
        outputs=[output],
        producers=kw.pop("producers", [None] * len(inputs)),
        **kw,
    )


def origin_for(rec: OpRecord, kind: str) -> Origin:
    return Origin(kind=kind, phase=rec.phase, step=0, op_type=rec.op_type, layer=rec.layer)


def evidence(**kw) -> Evidence:
    kw.setdefault("step", 0)
    kw.setdefault("input_abs_max", 1.0)
    return Evidence(**kw)


def diagnose(rec: OpRecord, kind: str, ev: Evidence | None = None):
    ev = ev or evidence()
    origin = origin_for(rec, kind)
    cause = infer_cause(origin, rec, ev)
    return cause, rank_fixes(origin, cause, ev)


# ---------------------------------------------------------------------------------------------
# domain errors are not missing epsilons
# ---------------------------------------------------------------------------------------------
def test_log_of_negative_is_a_domain_error_with_a_clamp_not_an_epsilon():
    cause, fixes = diagnose(record("Log", [health(-2.0, 3.0)], phase="loss"), "loss")
    assert cause.id == "domain_error"
    assert fixes[0].id == "clamp_argument"
    assert "add_epsilon" not in [f.id for f in fixes]


def test_a_log_of_log_probabilities_drops_the_second_log():
    rec = record("Log", [health(-4.3, -0.01)], phase="loss")
    cause, fixes = diagnose(rec, "loss", evidence(output_activation="log_softmax"))
    assert cause.id == "domain_error" and cause.evidence["log_probabilities"]
    assert fixes[0].id == "use_from_logits"
    # values of both signs are no log-probabilities: the clamp, as for any negative argument
    cause, fixes = diagnose(
        record("Log", [health(-2.0, 3.0)], phase="loss"),
        "loss",
        evidence(output_activation="log_softmax"),
    )
    assert "log_probabilities" not in cause.evidence and fixes[0].id == "clamp_argument"


def test_a_negative_model_output_in_a_log_also_gets_a_positive_output_activation():
    log = record("Log", [health(-2.0, 3.0)], phase="loss", layer=None)
    head = {
        "output_layer": "net/head",
        "output_layer_class": "Dense",
        "output_activation": "linear",
    }
    _, fixes = diagnose(log, "loss", evidence(argument_layer="net/head", **head))
    assert [f.id for f in fixes] == ["clamp_argument", "positive_output"]
    assert fixes[1].params["layer"] == "net/head"
    assert 'keras.layers.Dense(..., activation="softplus")' in fixes[1].snippet
    # the argument comes from another layer, or the head already has an activation: no such fix
    _, fixes = diagnose(log, "loss", evidence(argument_layer="net/hidden", **head))
    assert [f.id for f in fixes] == ["clamp_argument"]
    relu = {**head, "output_activation": "relu"}
    _, fixes = diagnose(log, "loss", evidence(argument_layer="net/head", **relu))
    assert [f.id for f in fixes] == ["clamp_argument"]


def test_exact_zeros_from_a_relu_head_in_the_loss_also_get_a_softplus_head():
    log = record("Log", [health(0.0, 3.0, zeros=5)], phase="loss", layer=None)
    head = {"argument_layer": "net/scale", "argument_layer_class": "Dense"}
    cause, fixes = diagnose(log, "loss", evidence(argument_activation="relu", **head))
    assert cause.id == "missing_epsilon"
    assert [f.id for f in fixes] == ["add_epsilon", "positive_output"]
    assert fixes[1].params == {"layer": "net/scale", "activation": "softplus", "current": "relu"}
    assert 'keras.layers.Dense(..., activation="softplus")' in fixes[1].snippet
    # a head that is not a ReLU, or a zero inside the network (not the loss): no such fix
    _, fixes = diagnose(log, "loss", evidence(argument_activation="linear", **head))
    assert [f.id for f in fixes] == ["add_epsilon"]
    inside = record("Log", [health(0.0, 3.0, zeros=5)], layer="net/logfeat")
    _, fixes = diagnose(inside, "activation", evidence(argument_activation="relu", **head))
    assert "positive_output" not in [f.id for f in fixes]


def test_sqrt_pow_log1p_acos_outside_their_domain():
    cases = [
        record("Sqrt", [health(-0.5, 2.0)]),
        record("Pow", [health(-3.0, 3.0), health(1 / 3, 1 / 3)]),
        record("Log1p", [health(-4.0, 1.0)]),
        record("Acos", [health(-1.7, 1.2)]),
    ]
    for rec in cases:
        cause, _ = diagnose(rec, "activation")
        assert cause.id == "domain_error", rec.op_type


def masked_logits(neg_inf: int = 12, pos_inf: int = 0, nan: int = 0) -> Health:
    return Health(
        nan=nan,
        pos_inf=pos_inf,
        neg_inf=neg_inf,
        max_abs=2.0,
        size=40,
        dtype="float32",
        shape=(4, 10),
        min_value=-2.0,
        max_value=2.0,
    )


def test_softmax_of_a_fully_masked_row_is_a_domain_error_clamped_at_a_finite_floor():
    softmax = record("Softmax", [masked_logits()], output=health(None, None, nan=10, size=40))
    cause, fixes = diagnose(softmax, "activation")
    assert cause.id == "domain_error" and "every value is -inf" in cause.summary
    assert fixes[0].id == "clamp_argument"
    assert "tf.maximum(logits, -1e9)" in fixes[0].snippet


def test_softmax_with_masked_entries_but_no_nan_or_with_plus_inf_is_not_a_masked_row():
    finite_out = record("Softmax", [masked_logits()], output=health(0.0, 1.0, size=40))
    assert diagnose(finite_out, "activation")[0].id != "domain_error"
    overflow = record("Softmax", [masked_logits(pos_inf=2)], output=health(None, None, nan=10))
    assert diagnose(overflow, "activation")[0].id != "domain_error"


def test_arithmetic_on_a_written_inf_mask_value_is_a_domain_error_with_a_finite_mask():
    # scores + (1 - mask) * -inf: the Mul takes the constant -inf (no producer) and the zeros
    # of (1 - mask) from the Sub at index 3
    minus_inf = masked_logits(neg_inf=1, nan=0)
    keep = health(0.0, 1.0, zeros=30, size=40)
    mul = record(
        "Mul", [keep, minus_inf], output=health(None, None, nan=30, size=40), producers=[3, None]
    )
    capture = SimpleNamespace(records=[None] * 5 + [mul])
    assert inf_constant_op(capture, mul) is mul
    cause, fixes = diagnose(mul, "activation", evidence(inf_constant_op=mul))
    assert cause.id == "domain_error" and "0 x inf" in cause.summary
    assert [f.id for f in fixes] == ["finite_mask_value"]
    assert fixes[0].params["value"] == -1e9 and fixes[0].params["edit"] == "finite_constant"
    # x - max(x) over a fully masked row: the Sub's -inf comes from a tf.where upstream
    select = record("SelectV2", [health(-1.0, 1.0), minus_inf], output=minus_inf, index=2)
    sub = record("Sub", [minus_inf, minus_inf], producers=[2, 2], index=3)
    capture = SimpleNamespace(records=[None, None, select, sub])
    assert inf_constant_op(capture, sub) is select
    cause, fixes = diagnose(sub, "activation", evidence(inf_constant_op=select))
    assert cause.id == "domain_error" and "inf - inf" in cause.summary
    assert fixes[0].id == "finite_mask_value" and fixes[0].params["op_type"] == "SelectV2"
    # a fused op (Keras' cross-entropy: one-hot zeros x the -inf log-probabilities)
    labels = health(0.0, 1.0, zeros=36, size=40)
    fused = record("SoftmaxCrossEntropyWithLogits", [minus_inf, labels], producers=[2, None])
    cause, fixes = diagnose(fused, "loss", evidence(inf_constant_op=select))
    assert cause.id == "domain_error" and fixes[0].id == "finite_mask_value"
    # the same NaN from an Inf the step computed (an exp that overflowed): no mask value
    overflowed = record("Exp", [health(90.0, 100.0)], output=INF, index=2)
    sub = record("Sub", [INF, INF], producers=[2, 2], index=3)
    assert inf_constant_op(SimpleNamespace(records=[None, None, overflowed, sub]), sub) is None
    assert diagnose(sub, "activation")[0].id != "domain_error"


def test_a_mask_value_written_beyond_float16s_range_is_float16_range(tmp_path):
    source = tmp_path / "layer.py"
    source.write_text("scores += (1.0 - mask) * -1e9\nscores += (1.0 - mask) * float('-inf')\n")
    minus_inf = dataclasses.replace(masked_logits(neg_inf=1), dtype="float16")
    keep = health(0.0, 1.0, zeros=30, size=40, dtype="float16")
    out = health(None, None, nan=30, size=40, dtype="float16")
    mul = dataclasses.replace(
        record("Mul", [keep, minus_inf], output=out, producers=[3, None]), source=f"{source}:1"
    )
    cause, fixes = diagnose(mul, "activation", evidence(inf_constant_op=mul))
    assert cause.id == "float16_range" and "-1e9" in cause.summary
    assert [f.id for f in fixes] == ["finite_mask_value", "float32_layer"]
    assert fixes[0].params["value"] == -3e4 and "* -3e4" in fixes[0].snippet
    # infinity written out is no float16 problem: every dtype makes 0 x -inf NaN
    written_inf = dataclasses.replace(mul, source=f"{source}:2")
    cause, fixes = diagnose(written_inf, "activation", evidence(inf_constant_op=written_inf))
    assert cause.id == "domain_error" and fixes[0].id == "finite_mask_value"


def test_a_float16_overflow_in_the_loss_keeps_the_output_layer_in_float32():
    big = health(0.0, 4.5e3, dtype="float16")
    total = record("Sum", [big], output=health(None, None, inf=1, size=1, dtype="float16"))
    total = dataclasses.replace(total, phase="loss", layer=None)
    head = {"output_layer": "net/head", "output_layer_class": "Dense"}
    cause, fixes = diagnose(total, "loss", evidence(**head))
    assert cause.id == "float16_range"
    # loss scaling multiplies the loss: it cannot help a loss that overflows
    assert [f.id for f in fixes] == ["float32_layer"]
    assert fixes[0].params["layer"] == "net/head"
    assert 'keras.layers.Dense(..., dtype="float32")' in fixes[0].snippet
    # a forward overflow keeps its own layer, and loss scaling stays as a lesser fix
    forward = record("MatMul", [big, big], output=health(None, None, inf=1, dtype="float16"))
    _, fixes = diagnose(forward, "matmul_overflow", evidence(**head))
    assert [f.id for f in fixes] == ["float32_layer", "loss_scaling"]
    assert fixes[0].params["layer"] == "net/layer"


def test_a_nan_the_step_captured_is_state_and_an_adapted_layer_is_adapted_again():
    class Normalization:
        def adapt(self, data):  # pragma: no cover - only its presence matters
            pass

    stats = health(None, None, nan=1, size=8)
    sub = record("Sub", [health(-3.0, 3.0), stats], layer="net/norm")
    cause, fixes = diagnose(
        dataclasses.replace(sub, layer_object=Normalization()), "activation", evidence(step=0)
    )
    assert cause.id == "non_finite_state" and "adapt()" in cause.summary
    assert [f.id for f in fixes] == ["clean_input"] and fixes[0].params["mode"] == "adapt"
    # a NaN constant of no adapted layer: the state is named, no fix is guessed
    cause, fixes = diagnose(dataclasses.replace(sub, layer_object=object()), "activation")
    assert cause.id == "non_finite_state" and fixes == []
    # the same NaN arriving from an op of the step, or as a batch tensor, is not captured state
    made = dataclasses.replace(sub, producers=[None, 2], layer_object=Normalization())
    assert diagnose(made, "activation")[0].id != "non_finite_state"
    batch = dataclasses.replace(sub, batch_inputs=[None, "x"], layer_object=Normalization())
    assert diagnose(batch, "activation")[0].id != "non_finite_state"


def test_acos_gradient_at_the_edge_of_its_domain_is_a_domain_error_clamped_inside():
    cosines = health(-0.3, 1.0)  # clipped to [-1, 1]: the self-pairs are exactly 1
    acos = record("Acos", [cosines], output=health(0.0, 1.9), index=2)
    grad = record("Reciprocal", [health(0.0, 1.0, zeros=3)], output=INF, phase="backward")
    cause, fixes = diagnose(grad, "gradient", evidence(forward_op=acos))
    assert cause.id == "domain_error" and "edge of its domain" in cause.summary
    assert fixes[0].id == "clamp_argument" and fixes[0].params["edit"] == "clamp_range"
    # inside the domain, the same backward op is no domain error
    inside = dataclasses.replace(acos, inputs=[health(-0.3, 0.9)])
    assert diagnose(grad, "gradient", evidence(forward_op=inside))[0].id != "domain_error"


def test_a_forward_overflow_that_a_where_drops_is_the_where_trap_when_the_loss_is_finite():
    exp = record("Exp", [health(-3.0, 287.0)], output=health(0.0, None, inf=5), layer="net/elu")
    dropped = evidence(discarded_by_where="Exp", loss_finite=True)
    cause, fixes = diagnose(exp, "activation", dropped)
    assert cause.id == "where_gradient_trap" and fixes[0].id == "double_where"
    # the same Inf also reaching the loss forward is an overflow, not a trap
    reached = evidence(discarded_by_where="Exp", loss_finite=False)
    assert diagnose(exp, "activation", reached)[0].id == "exp_overflow"


def test_log1p_above_minus_one_is_not_a_domain_error():
    cause, _ = diagnose(record("Log1p", [health(-0.5, 1.0)], output=INF), "activation")
    assert cause.id != "domain_error"


# ---------------------------------------------------------------------------------------------
# zeros: probabilities, counts, norms
# ---------------------------------------------------------------------------------------------
def test_log_of_softmax_zero_is_unstable_loss():
    rec = record("Log", [health(0.0, 1.0, zeros=3)], output=INF, phase="loss")
    cause, fixes = diagnose(rec, "loss", evidence(upstream_ops=frozenset({"Softmax"})))
    assert cause.id == "unstable_loss"
    assert fixes[0].id == "use_from_logits"


def test_a_probability_from_a_normal_cdf_or_a_sparsemax_output_is_unstable_loss():
    rec = record("Log", [health(0.0, 1.0, zeros=3)], output=INF, phase="loss")
    cause, _ = diagnose(rec, "loss", evidence(upstream_ops=frozenset({"Erf", "AddV2", "Mul"})))
    assert cause.id == "unstable_loss"
    cause, _ = diagnose(rec, "loss", evidence(output_activation="sparsemax"))
    assert cause.id == "unstable_loss"


def test_a_recursion_in_probability_space_is_unstable_loss_with_logsumexp():
    huge = health(9e36, 1.3e38)
    overflow = record("Mul", [huge, health(3.9, 8.0)], output=INF, phase="loss")
    cause, fixes = diagnose(overflow, "loss", evidence(repeated_before=43))
    assert cause.id == "unstable_loss" and cause.evidence["recursion"]
    assert fixes[0].id == "use_logsumexp"
    # a few products only: no recursion, no such cause
    cause, _ = diagnose(overflow, "loss", evidence(repeated_before=3))
    assert cause.id != "unstable_loss"
    # its underflow: the log of values of which most are exactly 0, after many products
    underflow = record("Log", [health(0.0, 0.0, zeros=32)], output=INF, phase="loss")
    cause, fixes = diagnose(underflow, "loss", evidence(products_before=598))
    assert cause.id == "unstable_loss" and cause.evidence["underflow"]
    assert fixes[0].id == "use_logsumexp"
    cause, _ = diagnose(underflow, "loss", evidence(products_before=2))
    assert cause.id == "missing_epsilon"


def test_exp_of_an_output_bias_started_at_the_target_mean_is_the_bias_initializer():
    import keras

    def head(initial, now):
        layer = SimpleNamespace(
            bias=np.full((1,), now, dtype="float32"),
            bias_initializer=keras.initializers.Constant(initial),
        )
        rec = record("Exp", [health(180.0, 196.0)], output=INF)
        return dataclasses.replace(rec, layer_object=layer)

    cause, fixes = diagnose(head(190.0, 190.0), "activation")
    assert cause.id == "initializer_scale"
    assert fixes[0].id == "change_initializer"
    assert fixes[0].params["constant"] == round(float(np.log(190.0)), 4)
    # a bias that moved since it was initialized, or one too small to overflow exp alone
    assert diagnose(head(190.0, 150.0), "activation")[0].id == "exp_overflow"
    assert diagnose(head(5.0, 5.0), "activation")[0].id == "exp_overflow"


def test_log_of_relu_zero_is_a_missing_epsilon_not_from_logits():
    rec = record("Log", [health(0.0, 0.9, zeros=3)], output=INF, phase="loss")
    cause, fixes = diagnose(
        rec, "loss", evidence(upstream_ops=frozenset({"Relu"}), output_activation="relu")
    )
    assert cause.id == "missing_epsilon"
    assert fixes[0].id == "add_epsilon"


def test_a_cholesky_of_a_finite_matrix_that_came_out_nan_needs_a_jitter():
    kernel = dataclasses.replace(health(0.0, 1.0, size=4096), shape=(64, 64))
    rec = record("Cholesky", [kernel], phase="loss", layer=None)
    cause, fixes = diagnose(rec, "loss")
    assert cause.id == "missing_epsilon" and cause.evidence["not_positive_definite"], cause
    assert cause.evidence["matrix_size"] == 64
    # no user line to edit here (train.py:42 is no file): the generic snippet
    assert fixes[0].id == "add_epsilon" and "K + 0.0001 * tf.eye(" in fixes[0].snippet
    # a non-finite matrix passed on is no factorization's fault
    cause, _ = diagnose(record("Cholesky", [BAD], phase="loss", layer=None), "loss")
    assert not cause.evidence.get("not_positive_definite")


def test_an_epsilon_that_is_zero_in_float16_is_float16_range_not_a_missing_epsilon():
    half = health(0.0, 0.9, zeros=3, dtype="float16")
    adder = record("AddV2", [half, health(0.0, 0.0, zeros=1, size=1, dtype="float16")], index=4)
    adder = dataclasses.replace(adder, outputs=[half])
    log = record("Log", [half], output=INF, index=5, producers=[4])
    capture = SimpleNamespace(records=[None, None, None, None, adder, log])
    assert epsilon_lost_in(capture, log) == "float16"
    cause, fixes = diagnose(log, "activation", evidence(epsilon_lost_in="float16"))
    assert cause.id == "float16_range" and cause.evidence["in_call"]
    assert [f.id for f in fixes] == ["add_epsilon", "float32_layer"]
    # a float32 zero constant, or a non-zero float16 one, is no lost epsilon
    kept = dataclasses.replace(adder, inputs=[half, health(1e-4, 1e-4, size=1, dtype="float16")])
    assert epsilon_lost_in(SimpleNamespace(records=[None] * 4 + [kept, log]), log) is None
    plain = dataclasses.replace(adder, inputs=[half, health(0.0, 0.0, zeros=1, size=1)])
    assert epsilon_lost_in(SimpleNamespace(records=[None] * 4 + [plain, log]), log) is None
    assert diagnose(log, "activation")[0].id == "missing_epsilon"


def test_log_of_a_sum_of_underflowed_exponentials_is_unstable_loss_in_log_space():
    # log(sum(w * exp(-z^2 / 2))) with every density 0: Exp (index 2) -> Mul -> Sum -> Log
    underflowed = record("Exp", [health(-900.0, -200.0)], output=health(0.0, 0.0, zeros=32))
    underflowed = dataclasses.replace(underflowed, index=2)
    mul = record(
        "Mul", [health(0.0, 1.0), health(0.0, 0.0, zeros=32)], index=3, producers=[None, 2]
    )
    total = record("Sum", [health(0.0, 0.0, zeros=32)], index=4, producers=[3])
    log = record("Log", [health(0.0, 0.0, zeros=4, size=4)], output=INF, index=5, producers=[4])
    capture = SimpleNamespace(records=[None, None, underflowed, mul, total, log])
    assert exp_underflow(capture, log)
    cause, fixes = diagnose(
        dataclasses.replace(log, phase="loss"), "loss", evidence(exp_underflow=True)
    )
    assert cause.id == "unstable_loss" and cause.evidence["exp_underflow"]
    assert [f.id for f in fixes] == ["use_logsumexp", "add_epsilon"]
    # an Exp with no zero in its result feeds nothing that underflowed
    finite = dataclasses.replace(underflowed, outputs=[health(0.1, 2.0)])
    assert not exp_underflow(SimpleNamespace(records=[None, None, finite, mul, total, log]), log)


def test_zero_over_zero_count_gets_an_epsilon_first_and_divide_no_nan_second():
    """0/0 of a count: the taxonomy's add_epsilon (an epsilon in the divisor: 0 / eps is 0, a
    count of 1 or more barely moves) first, divide_no_nan as the equivalent second; not a
    clamp at 1, which changes any divisor below 1 that is not a count."""
    rec = record("RealDiv", [health(0.0, 0.0, zeros=1, size=1), health(0.0, 0.0, zeros=1, size=1)])
    cause, fixes = diagnose(rec, "loss", evidence(argument_producers=("Sum", "Sum")))
    assert cause.id == "missing_epsilon" and cause.evidence["empty_count"]
    assert [f.id for f in fixes] == ["add_epsilon", "divide_no_nan"]
    assert "maximum" not in fixes[0].snippet


def test_zero_over_exponentials_that_underflowed_is_not_an_empty_count():
    rec = record("RealDiv", [health(0.0, 0.0, zeros=1, size=1), health(0.0, 0.0, zeros=1, size=1)])
    ev = evidence(argument_producers=("Sum", "Sum"), denominator_exp_underflow=True)
    cause, fixes = diagnose(rec, "activation", ev)
    assert cause.id == "missing_epsilon" and cause.evidence["exp_underflow"]
    assert not cause.evidence["empty_count"] and "underflowed" in cause.summary
    assert [f.id for f in fixes] == ["use_logsumexp", "add_epsilon"]


def test_an_underflowed_exp_is_found_up_the_argument_asked_for():
    def op(op_type: str, producers: list, result: Health | None = None) -> SimpleNamespace:
        return SimpleNamespace(
            op_type=op_type, producers=producers, result_health=result, inputs_finite=True
        )

    zeros = health(0.0, 0.5, zeros=3)
    records = [op("Exp", [None], zeros), op("Sum", [0]), op("Mul", [0]), op("Sum", [2])]
    records.append(op("RealDiv", [3, 1]))
    capture = SimpleNamespace(records=records)
    assert exp_underflow(capture, records[4], argument=1)
    records[0] = op("Exp", [None], health(0.1, 0.5))
    assert not exp_underflow(capture, records[4], argument=1)


def test_zero_over_a_product_of_standard_deviations_is_a_spread_not_an_empty_count():
    zero = health(0.0, 0.0, zeros=1, size=1)
    rec = record("RealDiv", [zero, zero], phase="loss")
    spread = evidence(argument_producers=("Mean", "Mul"), divisor_factors=("Sqrt", "Sqrt"))
    cause, fixes = diagnose(rec, "loss", spread)
    assert cause.id == "missing_epsilon" and not cause.evidence["empty_count"]
    assert "spread" in cause.summary and fixes[0].id == "add_epsilon"
    # a product with a count in it is still a count
    count = evidence(argument_producers=("Sum", "Mul"), divisor_factors=("Sum", "Cast"))
    cause, fixes = diagnose(rec, "loss", count)
    assert cause.evidence["empty_count"] and fixes[0].id == "add_epsilon"


def test_an_empty_count_from_padding_only_rows_offers_dropping_those_samples():
    zero = health(0.0, 0.0, zeros=1, size=1)
    rec = record("RealDiv", [zero, zero], layer="net/pool")
    padded = evidence(
        argument_producers=("Sum", "Sum"),
        padded=("x", 0.0, "net/embed"),
        empty_rows=(6,),
        arguments=["x", "y"],
    )
    cause, fixes = diagnose(rec, "activation", padded)
    assert cause.evidence["empty_rows"] == [6] and "padding" in cause.summary
    assert [f.id for f in fixes] == ["add_epsilon", "divide_no_nan", "clean_input"]
    assert fixes[2].params == {"tensor": "x", "rows": [6], "mode": "drop_padding", "value": 0.0}
    assert "tf.reduce_any(tf.not_equal(x, 0))" in fixes[2].snippet
    # no padding-only row: no such fix
    cause, fixes = diagnose(rec, "activation", evidence(argument_producers=("Sum", "Sum")))
    assert "clean_input" not in [f.id for f in fixes]


def test_padding_rows_are_the_samples_with_nothing_but_padding():
    tokens = np.array([[3, 4, 0], [0, 0, 0], [5, 0, 0]], dtype=np.int32)
    assert padding_rows(["x", "y"], (tokens, np.zeros((3, 1))), {}, "x", 0.0) == (1,)
    assert padding_rows(["x"], (np.zeros((3, 2)),), {}, "x", 0.0) == ()  # every row: no sample
    assert padding_rows(["x"], (tokens,), {}, "z", 0.0) == ()


def test_a_hand_written_update_dividing_by_a_zero_norm_misses_an_epsilon():
    # |w| / |g| with |g| = 0 (a LARS-like trust ratio in a hand-written update): Inf from a
    # zero divisor, not a step size too large
    ratio = record(
        "RealDiv",
        [health(0.5, 0.5, size=1), health(0.0, 0.0, zeros=1, size=1)],
        output=health(None, None, inf=1, size=1),
        phase="update",
    )
    ev = evidence(argument_producers=("Sqrt", "Sqrt"))
    cause, fixes = diagnose(ratio, "optimizer_update", ev)
    assert cause.id == "missing_epsilon" and fixes[0].id == "add_epsilon"
    assert fixes[0].params.get("target") != "optimizer.epsilon"  # no Keras optimizer here
    # beside a Keras optimizer (its epsilon known) the division is still the user's own: the
    # zero is named, not the step size
    keras_ev = evidence(argument_producers=("Sqrt", "Sqrt"), optimizer_epsilon=1e-7)
    assert diagnose(ratio, "optimizer_update", keras_ev)[0].id == "missing_epsilon"
    # the same division inside the optimizer's own update: its rules decide
    own = dataclasses.replace(ratio, in_optimizer=True)
    assert diagnose(own, "optimizer_update", keras_ev)[0].id == "learning_rate_too_high"


def test_zero_norm_denominator_gets_an_epsilon_first():
    rec = record("RealDiv", [health(0.0, 0.0, zeros=4), health(0.0, 1.0, zeros=1)])
    cause, fixes = diagnose(rec, "activation", evidence(argument_producers=("Relu", "Sqrt")))
    assert cause.id == "missing_epsilon"
    assert fixes[0].id == "add_epsilon"


def test_mean_of_an_empty_tensor_is_zero_over_zero():
    empty = Health(size=0, dtype="float32", shape=(0,))
    rec = record("Mean", [empty], output=health(None, None, nan=1, size=1), phase="loss")
    cause, fixes = diagnose(rec, "loss")
    assert cause.id == "missing_epsilon"
    assert fixes[0].id == "divide_no_nan"


def test_a_float16_loss_overflow_with_large_targets_keeps_the_output_layer_first():
    """Targets meet only the loss, which a float32 output layer computes in float32, however
    large they are (beyond 65504 they are Inf only once the float16 loss casts them):
    float32_layer first, rescale_target second."""
    for target_max in (5e3, 2e5):
        big = health(0.0, target_max, dtype="float16")
        square = record("Square", [big], output=health(None, None, inf=1, dtype="float16"))
        square = dataclasses.replace(square, phase="loss", layer=None)
        ev = evidence(
            output_layer="net/head",
            output_layer_class="Dense",
            target="y",
            target_abs_max=target_max,
        )
        cause, fixes = diagnose(square, "loss", ev)
        assert cause.id == "float16_range"
        assert [f.id for f in fixes] == ["float32_layer", "rescale_target"], target_max


def test_singular_gradient_of_sqrt_at_zero_points_at_the_forward_op():
    forward = record("Sqrt", [health(0.0, 4.0, zeros=2)], output=health(0.0, 2.0, zeros=2))
    backward = record("SqrtGrad", [health(0.0, 2.0, zeros=2), health(-1, 1)], phase="backward")
    cause, fixes = diagnose(backward, "gradient", evidence(forward_op=forward))
    assert cause.id == "missing_epsilon" and cause.evidence["backward"]
    assert fixes[0].id == "add_epsilon"


def test_atan2_is_singular_only_where_both_arguments_hold_zeros():
    def atan2(y_zeros: int, x_zeros: int) -> OpRecord:
        forward = record(
            "Atan2",
            [health(0.0, 1.0, zeros=y_zeros), health(0.0, 1.0, zeros=x_zeros)],
            output=health(0.0, 1.6),
        )
        return record(
            "RealDiv", [health(-1, 1), health(0.0, 2.0, zeros=2)], phase="backward"
        ), forward

    backward, forward = atan2(2, 2)
    cause, _ = diagnose(backward, "gradient", evidence(forward_op=forward))
    assert cause.id == "missing_epsilon"
    backward, forward = atan2(0, 2)  # atan2(y != 0, 0) = +-pi/2: a finite gradient
    cause, _ = diagnose(backward, "gradient", evidence(forward_op=forward))
    assert cause.id != "missing_epsilon"


# ---------------------------------------------------------------------------------------------
# the tf.where trap
# ---------------------------------------------------------------------------------------------
def test_nan_discarded_by_where_in_forward_is_a_where_trap():
    forward = record("RealDiv", [health(0.0, 5.0, zeros=3), health(0.1, 2.0)])
    backward = record("Reciprocal", [health(0.0, 12.0, zeros=6)], output=INF, phase="backward")
    ev = evidence(forward_op=forward, discarded_by_where="Log")
    cause, fixes = diagnose(backward, "gradient", ev)
    assert cause.id == "where_gradient_trap"
    assert fixes[0].id == "double_where"


def test_backward_zero_without_a_where_is_not_a_trap():
    forward = record("Log", [health(0.0, 5.0, zeros=3)], output=health(-9.0, 1.6))
    backward = record("Reciprocal", [health(0.0, 5.0, zeros=3)], output=INF, phase="backward")
    cause, _ = diagnose(backward, "gradient", evidence(forward_op=forward))
    assert cause.id == "missing_epsilon"


# ---------------------------------------------------------------------------------------------
# overflow: exp, float16, bfloat16, data scale, depth
# ---------------------------------------------------------------------------------------------
def test_exp_overflow_clamps_the_argument():
    cause, fixes = diagnose(record("Exp", [health(-3.0, 120.0)], output=INF), "activation")
    assert cause.id == "exp_overflow"
    assert fixes[0].id == "clamp_argument"


def test_hand_written_softmax_overflow_suggests_logsumexp():
    ev = evidence(exp_normalized=True)
    cause, fixes = diagnose(record("Exp", [health(-3.0, 900.0)], output=INF), "activation", ev)
    assert cause.id == "exp_overflow"
    assert fixes[0].id == "use_logsumexp"


def test_an_exp_overflow_the_loss_takes_the_log_of_is_an_unstable_loss():
    rec = record("Exp", [health(-3.0, 400.0)], output=INF, phase="loss")
    cause, fixes = diagnose(rec, "loss", evidence(exp_into_log=True))
    assert cause.id == "unstable_loss" and cause.evidence["exp_overflow"]
    assert [f.id for f in fixes[:2]] == ["use_logsumexp", "clamp_argument"]
    # no log after it, or a log in the model (not the loss): an exp overflow
    assert diagnose(rec, "loss", evidence())[0].id == "exp_overflow"
    forward = record("Exp", [health(-3.0, 400.0)], output=INF)
    assert diagnose(forward, "activation", evidence(exp_into_log=True))[0].id == "exp_overflow"
    # features far out of range: the argument is large because the data is
    unscaled = evidence(exp_into_log=True, input_abs_max=5e3, feature="x")
    assert diagnose(rec, "loss", unscaled)[0].id == "exp_overflow"


def test_a_log_anywhere_after_the_exp_in_forward_ops_is_found_backward_ops_are_not():
    import networkx as nx

    from nantrace.diagnosis.evidence import feeds_a_log

    phases = ["loss", "loss", "loss", "loss", "loss", "loss", "backward", "backward"]
    ops = ["Exp", "Mul", "Sum", "Mul", "AddV2", "Log", "Mul", "Log"]
    capture = SimpleNamespace(
        records=[SimpleNamespace(op_type=o, phase=p) for o, p in zip(ops, phases, strict=True)]
    )
    chain = nx.DiGraph([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)])
    assert feeds_a_log(chain, capture, 0)  # log(1 + sum(exp) * sum(exp)): five ops on
    backward_only = nx.DiGraph([(0, 1), (1, 2), (0, 6), (6, 7)])
    assert not feeds_a_log(backward_only, capture, 0)


def test_atanh_of_exactly_one_is_a_domain_edge_clamped_strictly_inside():
    rec = record("Atanh", [health(-1.0, 1.0)], output=INF, phase="loss")
    cause, fixes = diagnose(rec, "loss")
    assert cause.id == "domain_error" and "exactly" in cause.evidence["problem"]
    assert fixes[0].id == "clamp_argument"
    inside = record("Atanh", [health(-0.5, 0.9)], output=INF, phase="loss")
    assert diagnose(inside, "loss")[0].id != "domain_error"


def test_an_out_of_domain_batch_tensor_is_clamped_itself_before_the_call():
    rec = record("Atanh", [health(-1.0, 1.0)], output=INF, phase="loss")
    _, fixes = diagnose(rec, "loss", evidence(argument_tensor="y"))
    first = fixes[0]
    assert first.id == "clamp_argument" and first.params["mode"] == "clip_batch"
    assert first.params["tensor"] == "y" and -1.0 < first.params["min"] < first.params["max"] < 1.0
    assert first.snippet.startswith("y = tf.clip_by_value(y, ")
    assert [f.id for f in fixes[1:2]] == ["clamp_argument"]  # the call's clamp comes after
    negative_log = record("Log", [health(-2.0, 3.0)], phase="loss")
    _, fixes = diagnose(negative_log, "loss", evidence(argument_tensor="y"))
    assert fixes[0].params["max"] is None and fixes[0].snippet.startswith("y = tf.maximum(y, ")
    _, fixes = diagnose(rec, "loss")  # a computed argument: the call's clamp only
    assert fixes[0].id == "clamp_argument" and "mode" not in fixes[0].params


def test_the_argument_tensor_is_read_through_a_cast_not_through_arithmetic():
    from nantrace.diagnosis.evidence import argument_tensor

    def op(op_type: str, batch: str | None, producer: int | None) -> SimpleNamespace:
        return SimpleNamespace(op_type=op_type, batch_inputs=[batch], producers=[producer])

    records = [op("Cast", "y", None), op("Atanh", None, 0), op("Sub", None, None)]
    records.append(op("Atanh", None, 2))
    capture = SimpleNamespace(records=records)
    assert argument_tensor(capture, records[1]) == "y"
    assert argument_tensor(capture, records[3]) is None
    assert argument_tensor(capture, op("Atanh", "args[1]", None)) == "args[1]"


def test_float16_exp_that_float32_would_hold_is_float16_range():
    rec = record(
        "Exp",
        [health(-3.0, 20.0, dtype="float16")],
        output=health(None, None, inf=2, dtype="float16"),
    )
    cause, fixes = diagnose(rec, "activation")
    assert cause.id == "float16_range"
    assert fixes[0].id == "float32_layer"


def test_bfloat16_overflow_is_not_float16_range():
    rec = record(
        "MatMul",
        [health(-1e5, 1e5, dtype="bfloat16"), health(-1.0, 1.0, dtype="bfloat16")],
        output=health(None, None, inf=3, dtype="bfloat16"),
    )
    cause, _ = diagnose(rec, "matmul_overflow")
    assert cause.id != "float16_range"


def test_huge_target_with_normal_features_is_unscaled_target():
    rec = record("MatMul", [health(-1e20, 1e20), health(-1e19, 1e19)], output=INF)
    ev = evidence(step=3, input_abs_max=2.5, feature="x", target="y", target_abs_max=6.4e5)
    cause, fixes = diagnose(rec, "matmul_overflow", ev)
    assert cause.id == "unscaled_target"
    assert fixes[0].id == "rescale_target" and fixes[0].params["tensor"] == "y"
    assert fixes[0].snippet.startswith("y = y * ")


def test_huge_features_and_target_name_both_tensors():
    rec = record("MatMul", [health(-1e20, 1e20), health(-1.0, 1.0)], output=INF)
    ev = evidence(input_abs_max=9.97e4, feature="x", target="y", target_abs_max=6.41e5)
    cause, fixes = diagnose(rec, "matmul_overflow", ev)
    assert cause.id == "unscaled_input"
    assert "9.97e+04" in cause.summary and "6.41e+05" in cause.summary
    assert [f.params["tensor"] for f in fixes] == ["x", "y"]


def test_gradient_growing_with_depth_is_gradient_explosion():
    rec = record("Mul", [health(-1e34, 1e34), health(1e6, 1e6)], output=INF, phase="backward")
    layers = [("head", 0.45), ("sine7", 6.1e4), ("dense7", 1.5e5), ("sine6", 5.3e10)]
    cause, _ = diagnose(rec, "gradient", evidence(backward_layers=layers))
    assert cause.id == "gradient_explosion"


def test_backward_overflow_off_a_recurrent_path_is_not_recurrent_explosion():
    # The model has a SimpleRNN, but not on the failing path: evidence lists no recurrent layer.
    rec = record("MatMul", [health(-1e30, 1e30), health(-1e10, 1e10)], output=INF, phase="backward")
    cause, fixes = diagnose(rec, "gradient", evidence(recurrent_layers=[]))
    assert cause.id != "recurrent_explosion"


def test_nothing_fits_gives_unknown_with_evidence_and_no_fixes():
    rec = record("MatMul", [health(-1e30, 1e30), health(-1e10, 1e10)], output=INF)
    cause, fixes = diagnose(rec, "matmul_overflow", evidence(step=0, learning_rate=1e-3))
    assert cause.id == "unknown" and cause.confidence == 0.0
    assert cause.evidence["inputs"]
    assert fixes == []


def test_an_unknown_that_read_inf_says_what_it_read_instead_of_inputs_in_range():
    mul = record(
        "Mul", [health(0.0, 1.0, zeros=5), masked_logits(neg_inf=3)], output=BAD, phase="loss"
    )
    cause, _ = diagnose(mul, "loss")
    assert cause.id == "unknown"
    assert "input 0 holds 5 exact zeros; input 1 holds 3 -inf" in cause.summary
    assert "inputs in range" not in cause.summary


# ---------------------------------------------------------------------------------------------
# state, optimizer, input data
# ---------------------------------------------------------------------------------------------
def test_variable_already_non_finite_before_the_step_is_non_finite_state():
    rec = record("ReadVariableOp", [], output=BAD, variable="dense/kernel:0")
    ev = evidence(
        step=0,
        stale_variables=["dense/kernel:0"],
        iterations=1200,
    )
    cause, fixes = diagnose(rec, "optimizer_update", ev)
    assert cause.id == "non_finite_state"
    assert "dense/kernel:0" in cause.summary and cause.evidence["iterations"] == 1200
    assert fixes[0].id == "restore_checkpoint"
    # NaN before the optimizer ever ran, or in a variable no step writes (frozen): it was set
    # that way, no checkpoint to go back to
    for before in (
        dataclasses.replace(ev, iterations=0),
        dataclasses.replace(ev, untrained_variables=frozenset({"dense/kernel:0"})),
    ):
        cause, fixes = diagnose(rec, "optimizer_update", before)
        assert cause.evidence["set_before_training"] and "set that way" in cause.summary
        assert [f.id for f in fixes] == ["clean_input"] and fixes[0].params["mode"] == "state"
    # no optimizer seen (a hand-written update): how many steps ran is not known, nothing claimed
    cause, fixes = diagnose(rec, "optimizer_update", dataclasses.replace(ev, iterations=None))
    assert not cause.evidence["set_before_training"] and fixes[0].id == "restore_checkpoint"


def test_float16_adam_epsilon_that_underflows_is_float16_range():
    rec = record(
        "RealDiv",
        [health(0.0, 0.0, dtype="float16", zeros=8), health(0.0, 1.0, dtype="float16", zeros=8)],
        output=health(None, None, nan=8, dtype="float16"),
        phase="update",
        in_optimizer=True,
    )
    ev = evidence(optimizer_epsilon=1e-8, learning_rate=1e-3, optimizer_name="Adam")
    cause, fixes = diagnose(rec, "optimizer_update", ev)
    assert cause.id == "float16_range" and cause.evidence["underflow"]
    assert fixes[0].id == "add_epsilon" and fixes[0].params["epsilon"] == 1e-4


def test_every_row_non_finite_imputes_instead_of_dropping_rows():
    origin = Origin(
        kind="input_data",
        phase="input",
        step=0,
        tensor="x",
        rows=tuple(range(8)),
        output=Health(nan=8, size=32, dtype="float32", shape=(8, 4)),
    )
    ev = evidence(arguments=["x", "y"])
    cause = infer_cause(origin, None, ev)
    fixes = rank_fixes(origin, cause, ev)
    assert cause.evidence["every_row"]
    assert fixes[0].params["mode"] == "impute"


def test_bytes_decoded_as_the_wrong_dtype_are_decoded_not_imputed():
    def origin_with(max_abs, min_abs_nonzero):
        health = Health(
            nan=15,
            size=1024,
            dtype="float32",
            shape=(32, 32),
            max_abs=max_abs,
            min_abs_nonzero=min_abs_nonzero,
        )
        return Origin(
            kind="input_data", phase="input", step=0, tensor="x", rows=(1, 2, 6), output=health
        )

    ev = evidence(arguments=["x", "y"])
    misread = origin_with(3.4e38, 9.1e-41)
    cause = infer_cause(misread, None, ev)
    fixes = rank_fixes(misread, cause, ev)
    assert cause.evidence["misread_bytes"] and fixes[0].params["mode"] == "decode"
    assert fixes[1].params["mode"] == "drop_rows"  # still offered, checked by replay
    # real data with missing values: finite values of an ordinary range
    plain = origin_with(250.0, 0.01)
    fixes = rank_fixes(plain, infer_cause(plain, None, ev), ev)
    assert fixes[0].params["mode"] == "drop_rows"


def test_some_rows_non_finite_filters_on_the_named_tensor():
    origin = Origin(
        kind="input_data",
        phase="input",
        step=0,
        tensor="y",
        rows=(3,),
        output=Health(nan=1, size=8, dtype="float32", shape=(8, 1)),
    )
    ev = evidence(arguments=["x", "y"])
    fixes = rank_fixes(origin, infer_cause(origin, None, ev), ev)
    assert fixes[0].params["mode"] == "drop_rows"
    assert "lambda x, y:" in fixes[0].snippet and "is_finite(y)" in fixes[0].snippet


# ---------------------------------------------------------------------------------------------
# values: clip norm, evidence on the path
# ---------------------------------------------------------------------------------------------
def test_clip_norm_excludes_the_run_up_to_the_blow_up():
    norms = np.array([1.0, 1.2, 0.9, 1.1, 1.0, 0.95, 1.05, 1.0, 4.0, 40.0, 6.07e8])
    clip, basis = clip_norm_from_history(norms)
    assert 0.9 <= clip <= 1.2
    assert "run-up" in basis


def test_clip_norm_needs_history():
    assert clip_norm_from_history(np.array([1.0, 2.0])) is None


def test_only_layers_on_the_failing_path_are_evidence():
    layers = {"m": object(), "m/embedding": object(), "m/dense": object(), "m/rnn": object()}
    kept = _on_path(layers, ("m/dense",))
    assert set(kept) == {"m", "m/dense"}


def test_keras_train_step_data_tuple_filters_with_star_args():
    origin = Origin(
        kind="input_data",
        phase="input",
        step=0,
        tensor="data[0]",
        rows=(3,),
        output=Health(nan=1, size=8, dtype="float32", shape=(8, 1)),
    )
    ev = evidence(arguments=["data"])
    fixes = rank_fixes(origin, infer_cause(origin, None, ev), ev)
    assert "lambda *data:" in fixes[0].snippet and "is_finite(data[0])" in fixes[0].snippet


def test_float16_update_with_a_representable_epsilon_is_not_an_underflow():
    rec = record(
        "RealDiv",
        [health(0.0, 0.0, dtype="float16", zeros=8), health(0.0, 1.0, dtype="float16", zeros=8)],
        output=health(None, None, nan=8, dtype="float16"),
        phase="update",
    )
    ev = evidence(optimizer_epsilon=1e-4, learning_rate=1e-3, optimizer_name="Adam")
    cause, _ = diagnose(rec, "optimizer_update", ev)
    assert cause.id != "float16_range"


def test_keras_fit_tensors_are_named_as_model_fit_calls_them():
    rec = record("MatMul", [health(-1e20, 1e20), health(-1e19, 1e19)], output=INF)
    ev = evidence(
        step=3, input_abs_max=2.5, feature="data[0]", target="data[1]", target_abs_max=6.4e5
    )
    ev.arguments = ["data"]
    cause, fixes = diagnose(rec, "matmul_overflow", ev)
    assert cause.id == "unscaled_target"
    assert fixes[0].params["tensor"] == "data[1]"  # what replay resolves
    assert fixes[0].snippet.startswith("y = y * ")  # what the user writes


def test_a_missing_value_code_in_a_feature_column_is_found_and_real_tails_are_not():
    """-999 in a few rows of a standardized column is a missing-value code; a heavy-tailed
    column (log-normal), a small outlier, or a value most rows hold, is not."""
    from nantrace.diagnosis.missing_codes import find_missing_code

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    x[[3, 17, 20], 2] = -999.0
    names = ["x", "y"]
    y = np.zeros((32, 1), np.float32)
    code = find_missing_code(names, [((x, y), {})], ["x"])
    assert code is not None
    assert (code.tensor, code.column, code.value, code.rows) == ("x", 2, -999.0, (3, 17, 20))
    assert abs(code.median) < 1.0 and code.spread < 4.0

    heavy = rng.lognormal(0.0, 2.0, size=(256, 3)).astype("float32") * 100.0
    assert find_missing_code(names, [((heavy, y), {})], ["x"]) is None
    small = rng.normal(0.0, 0.1, size=(32, 3)).astype("float32")
    small[5, 0] = 5.0  # an outlier, but no number a table writes for "missing"
    assert find_missing_code(names, [((small, y), {})], ["x"]) is None
    mostly = x.copy()
    mostly[:20, 4] = 9999.0  # most rows: the column's real range, not a code
    mostly[[3, 17, 20], 2] = x[[0, 1, 4], 2]
    assert find_missing_code(names, [((mostly, y), {})], ["x"]) is None

    # a target vector (one column) with unlabelled rows scored -999
    scores = rng.normal(size=32).astype("float32")
    scores[[4, 30]] = -999.0
    code = find_missing_code(names, [((x[:, :2], scores), {})], ["y"])
    assert code is not None and (code.tensor, code.value, code.rows) == ("y", -999.0, (4, 30))

    # seen in an earlier batch only: the tripping batch has no row of it
    clean = rng.normal(size=(32, 5)).astype("float32")
    code = find_missing_code(names, [((clean, y), {}), ((x, y), {})], ["x"])
    assert code is not None and code.value == -999.0 and code.rows == ()


def test_a_missing_value_code_in_a_sequence_feature_names_its_samples_and_images_are_skipped():
    """Sensor sequences (samples x steps x features) with dropouts logged as -999 at some
    steps: the code is found in its feature and the samples holding it are named. A saturated
    pixel in images is no table's missing-value code: image batches are not searched."""
    from nantrace.diagnosis.missing_codes import find_missing_code

    rng = np.random.default_rng(1)
    seq = rng.normal(size=(16, 20, 3)).astype("float32")
    seq[[2, 9], [5, 11], 1] = -999.0
    y = np.zeros((16, 1), np.float32)
    code = find_missing_code(["x", "y"], [((seq, y), {})], ["x"])
    assert code is not None and (code.column, code.value, code.rows) == (1, -999.0, (2, 9))
    images = rng.uniform(0, 1, size=(8, 6, 6, 1)).astype("float32")
    images[[1, 4], 2, 3, 0] = 4095.0
    assert find_missing_code(["x", "y"], [((images, y), {})], ["x"]) is None


def test_an_adaptive_optimizers_squared_gradient_overflow_is_never_the_learning_rate():
    # Adam's v read Inf: its step is ~lr whatever the gradient, so the gradient's size is the
    # cause — kernels above their fan-in's scale compounding over depth, or plain growth
    read = record("ReadVariableOp", [], output=INF, phase="update")
    over = [
        LayerScale(f"net/d{i}", 0.5, 0.177, 64, "RandomNormal", "relu", initial_std=0.5)
        for i in range(12)
    ]
    huge = dict(optimizer_name="Adam", learning_rate=1e-3, optimizer_epsilon=1e-7)
    cause, fixes = diagnose(
        read, "optimizer_update", evidence(gradient_abs_max=1e21, model_layer_scales=over, **huge)
    )
    assert cause.id == "initializer_scale" and fixes[0].id == "change_initializer"
    assert fixes[0].params["layers"] == [s.layer for s in over]
    assert fixes[0].params["suggested"] == "he_normal"
    at_scale = [dataclasses.replace(s, std=0.18, initial_std=0.18) for s in over]
    grown = [dataclasses.replace(s, initial_std=0.05) for s in over]
    ev = evidence(gradient_abs_max=1e21, model_layer_scales=grown, **huge)
    assert diagnose(read, "optimizer_update", ev)[0].id == "learning_rate_too_high"
    ev = evidence(gradient_abs_max=1e21, model_layer_scales=at_scale, **huge)
    assert diagnose(read, "optimizer_update", ev)[0].id == "gradient_explosion"
    # gradients whose square fits float32, or an optimizer that does not square them
    ev = evidence(gradient_abs_max=1e18, model_layer_scales=over, **huge)
    assert diagnose(read, "optimizer_update", ev)[0].id == "learning_rate_too_high"
    ev = evidence(gradient_abs_max=1e21, **{**huge, "optimizer_name": "SGD"})
    assert diagnose(read, "optimizer_update", ev)[0].id == "learning_rate_too_high"


def test_a_fixed_power_of_an_unscaled_feature_is_the_datas_scale_not_an_exp_overflow():
    # x ** 5 with x ~ 1.7e9 from the batch: a polynomial of an unscaled input
    power = record("Pow", [health(1.6e9, 1.7e9), health(1.0, 5.0)], output=INF)
    ev = evidence(input_abs_max=1.7e9, feature="x")
    cause, fixes = diagnose(power, "activation", ev)
    assert cause.id == "unscaled_input" and fixes[0].id == "rescale_input"
    # 2 ** x with x up to 200 grows like an exponential of its argument
    exponential = record("Pow", [health(2.0, 2.0), health(1.0, 200.0)], output=INF)
    assert diagnose(exponential, "activation", ev)[0].id == "exp_overflow"


def test_rescaling_a_table_scales_only_its_columns_out_of_range():
    # a timestamp column ~1.7e9 beside standardized columns: one factor would crush them
    matmul = record("MatMul", [health(-3.0, 1.7e9), health(-0.5, 0.5)], output=INF)
    ev = evidence(input_abs_max=1.7e9, feature="x", feature_columns_abs_max=(1.7e9, 2.5, 3.1))
    cause, fixes = diagnose(matmul, "matmul_overflow", ev)
    assert cause.id == "unscaled_input" and fixes[0].id == "rescale_input"
    assert fixes[0].params["scale"] == [5.88e-10, 1.0, 1.0]
    # every column out of range alike: one factor
    ev = evidence(input_abs_max=2e4, feature="x", feature_columns_abs_max=(2e4, 1.5e4))
    assert diagnose(matmul, "matmul_overflow", ev)[1][0].params["scale"] == 5e-05
    # columns out of range by different orders of magnitude: one factor each
    ev = evidence(input_abs_max=1e9, feature="x", feature_columns_abs_max=(1e9, 2e3))
    assert diagnose(matmul, "matmul_overflow", ev)[1][0].params["scale"] == [1e-09, 0.0005]


def test_kernels_a_few_percent_above_their_scale_do_not_compound_into_an_initializer_cause():
    # 80 He-initialized kernels drawn 3 % above He's scale: 1.03 ** 80 ~ 10.6 by noise alone
    read = record("ReadVariableOp", [], output=INF, phase="update")
    near = [
        LayerScale(f"net/d{i}", 0.1821, 0.1768, 64, "HeNormal", "relu", initial_std=0.1768)
        for i in range(80)
    ]
    huge = dict(optimizer_name="Adam", learning_rate=1e-3, optimizer_epsilon=1e-7)
    ev = evidence(gradient_abs_max=1e21, model_layer_scales=near, **huge)
    assert diagnose(read, "optimizer_update", ev)[0].id == "gradient_explosion"


def test_a_schedule_dividing_0_by_0_is_a_missing_guard_not_a_high_rate():
    """0 / 0 in a learning-rate schedule (a warm-up over 0 steps): the rate is NaN, no rate is
    too high; nor for an Inf rate from x / 0 (a formula in a step count that starts at 0,
    since session 30: it was learning_rate_too_high); an Inf rate that no zero made (a
    product that overflows) stays learning_rate_too_high."""
    rec = record(
        "RealDiv",
        [health(0.0, 0.0, zeros=1, size=1), health(0.0, 0.0, zeros=1, size=1)],
        output=health(None, None, nan=1, size=1),
        phase="update",
    )
    cause, fixes = diagnose(rec, "optimizer_update", evidence(learning_rate=float("nan")))
    assert cause.id == "missing_epsilon" and cause.evidence["schedule"]
    assert "divide_no_nan" in [f.id for f in fixes]
    inf_rate = evidence(learning_rate=float("inf"))
    over = record(
        "RealDiv",
        [health(1.0, 1.0, size=1), health(0.0, 0.0, zeros=1, size=1)],
        output=INF,
        phase="update",
    )
    cause, fixes = diagnose(over, "optimizer_update", inf_rate)
    assert cause.id == "missing_epsilon" and cause.evidence["schedule"]
    power = record(
        "Pow",
        [health(0.0, 0.0, zeros=1, size=1), health(-0.5, -0.5, size=1)],
        output=INF,
        phase="update",
    )
    cause, fixes = diagnose(power, "optimizer_update", inf_rate)
    assert cause.id == "missing_epsilon" and [f.id for f in fixes] == ["add_epsilon"]
    assert "tf.maximum(step, 1.0)" in fixes[0].snippet  # no call site here: the generic form
    product = record(
        "Mul", [health(1e30, 1e30, size=1), health(1e30, 1e30, size=1)], output=INF, phase="update"
    )
    assert diagnose(product, "optimizer_update", inf_rate)[0].id == "learning_rate_too_high"


def test_a_division_by_a_divisor_far_below_any_numerator_is_a_zero_divisor():
    """A divisor that is not exactly 0 but tiny (a temperature annealed to 2e-38): the quotient
    overflows as a division by 0 would; no learning rate is behind it."""
    divisor = dataclasses.replace(health(2e-38, 2e-38, size=1), min_abs_nonzero=2e-38)
    rec = record("RealDiv", [health(-8.0, 8.0), divisor], output=INF)
    grown = evidence(learning_rate=1e-3)
    cause, fixes = diagnose(rec, "activation", grown)
    assert cause.id == "missing_epsilon" and cause.evidence["tiny_divisor"] == 2e-38
    assert fixes and fixes[0].id == "add_epsilon"


def test_a_clip_norm_is_never_taken_from_steps_with_zero_gradients():
    """Steps on batches the model fits exactly have a gradient norm of 0: a clip norm of 0
    would stop every update; the clip comes from the steps that had something to learn."""
    norms = np.array([589.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 612.0, 570.0])
    clip, _ = clip_norm_from_history(norms)
    assert clip > 100.0
    assert clip_norm_from_history(np.zeros(20)) is None


def test_a_float16_statistic_of_the_update_overflowing_is_float16s_range():
    """A global norm's sum of squares in float16 (Keras' plain float16 policy, a clip before
    the update) passes 65504 from finite gradients: float16's range, not a rate too high, and
    no layer or loss scaling holds it (no fix id); a variable-sized step keeps the rate rules."""
    half = dict(dtype="float16")
    norm = record(
        "Sum",
        [health(0.0, 3.68e4, size=6, **half)],
        output=health(None, None, inf=1, size=1, **half),
        phase="update",
    )
    ev = evidence(learning_rate=0.01, optimizer_name="SGD")
    cause, fixes = diagnose(norm, "optimizer_update", ev)
    assert cause.id == "float16_range" and cause.evidence["update_statistic"] and fixes == []
    step = record(
        "Sub",
        [health(-6e4, 6e4, size=64, **half), health(-6e4, 6e4, size=64, **half)],
        output=health(None, None, inf=3, size=64, **half),
        phase="update",
    )
    assert not diagnose(step, "optimizer_update", ev)[0].evidence.get("update_statistic")


def test_a_constant_inf_computed_before_the_step_is_a_missing_floor(tmp_path):
    # pos_weight = negatives / positives with no positive: +inf captured by the step; the
    # line that reads it writes no infinity, so it is no mask value
    source = tmp_path / "train.py"
    source.write_text(
        "loss = tf.nn.weighted_cross_entropy_with_logits(y, logits, pos_weight=pos_weight)\n"
        "scores = tf.where(mask, scores, float('inf'))\n"
    )
    inf = Health(pos_inf=1, size=1, dtype="float32")
    rec = record("Mul", [inf, health(0.0, 0.0, zeros=32, size=32)], phase="loss", layer=None)
    rec = dataclasses.replace(rec, source=f"{source}:1")
    cause, fixes = diagnose(rec, "loss", evidence())
    assert cause.id == "missing_epsilon" and cause.evidence["captured_inf"]
    assert fixes[0].id == "add_epsilon" and fixes[0].params["mode"] == "before_the_step"
    # the same constant written on the op's own line is a mask value, for the mask rules
    written = dataclasses.replace(rec, source=f"{source}:2")
    assert not diagnose(written, "loss", evidence())[0].evidence.get("captured_inf")
    # -inf is a mask's sign, not a weight's
    negative = dataclasses.replace(rec, inputs=[Health(neg_inf=1, size=1), rec.inputs[1]])
    assert not diagnose(negative, "loss", evidence())[0].evidence.get("captured_inf")
