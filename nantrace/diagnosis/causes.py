"""WHY: infer ``cause.id`` from the origin op, its input values and the failing path's evidence.

Each rule states what it needs to see (an argument outside an op's domain, an exact zero, an
exponent past the dtype's limit, features or targets far outside ~[-10, 10], weights far from
the He/Glorot scale, growth in the history) and decides only on that. When nothing fits, the
cause is ``unknown`` with the evidence shown: a confident wrong cause is worse than an honest
"unknown". Rules read values any model has; none looks at names chosen by the user.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from nantrace.diagnosis.call_site import SOFTMAX_OPS, overflowing_literals, writes_infinity
from nantrace.diagnosis.evidence import (  # noqa: F401  (re-exported for older imports)
    BESSEL_OPS,
    DIVISION_OPS,
    HALF_DTYPES,
    HALF_SPACING,
    PROBABILITY_OPS,
    RELU_FAMILY,
    SELECT_OPS,
    Evidence,
    LayerScale,
    _as_float,
    expected_std,
    gather_evidence,
    initializer_std,
    kernel_of,
    layer_scales,
    raw_columns,
    user_name,
)
from nantrace.report.records import Cause, Health, Origin

if (
    TYPE_CHECKING
):  # keep `import nantrace.diagnosis.causes` free of TensorFlow (the scan CLI uses it)
    from nantrace.replay.capture import OpRecord

#: Ops that fail on 0 or negative inputs (domain errors) or divide.
DOMAIN_OPS = frozenset(
    {
        "Log",
        "Log1p",
        "Sqrt",
        "Rsqrt",
        "RealDiv",
        "Div",
        "DivNoNan",
        "Reciprocal",
        "Inv",
        "Pow",
        "Xlogy",
        "Xdivy",
        "FloorDiv",
        "Acos",
        "Asin",
        "Atanh",
        "Acosh",
        "Lgamma",
        "Digamma",
        "EuclideanNorm",
    }
)
#: Backward ops whose local gradient is singular at 0 (sqrt, rsqrt, 1/x, log, norm).
SINGULAR_GRAD_OPS = frozenset(
    {
        "SqrtGrad",
        "RsqrtGrad",
        "ReciprocalGrad",
        "InvGrad",
        "RealDiv",
        "Div",
        "Reciprocal",
        "Xdivy",
        "Rsqrt",
        "Pow",
    }
)
#: Ops whose result grows exponentially with their argument.
EXP_OPS = frozenset({"Exp", "Expm1", "Softplus", "Cosh", "Sinh", "Pow"}) | BESSEL_OPS
#: Output activations that make probabilities (sparsemax's are exactly 0 off its support).
PROBABILITY_ACTIVATIONS = frozenset({"softmax", "sigmoid", "sparsemax"})
#: An unrolled recursion: this many earlier ops of the origin's type (or
#: products, before a log) in the loss.
RECURSION_OPS = 16
#: A tensor whose every value is at least this large got there by repeated multiplication.
RUNNING_PRODUCT_MIN = 1e30
#: Finite values above this (and below its inverse) in one tensor: bytes decoded as float.
MISREAD_ABS_MAX = 1e30
#: Producers of a denominator that make it a count (a sum of a mask, a size).
COUNT_PRODUCERS = frozenset({"Sum", "Cast", "Size", "Prod", "Count"})
#: Producers of a denominator that make it a norm or a spread (an epsilon belongs inside).
NORM_OPS = frozenset({"Sqrt", "Rsqrt", "EuclideanNorm", "Pow", "Square", "Abs"})
FLOAT16_MAX = 65504.0
#: The smallest positive (subnormal) value per half dtype: an epsilon below it rounds to 0.
SMALLEST_HALF = {"float16": 5.96e-8, "bfloat16": 9.2e-41}
#: Largest finite value per dtype (bfloat16 has float32's exponent range).
DTYPE_MAX = {"float16": 65504.0, "bfloat16": 3.39e38, "float32": 3.4028e38, "float64": 1.797e308}
#: A batch tensor is "unscaled" when its magnitude is far outside the ~[-10, 10] networks expect.
UNSCALED_INPUT_ABS = 1e3
#: Features above this are worth rescaling when something else overflows downstream.
LOOSE_INPUT_ABS = 10.0
#: Features above this (8-bit pixels, counts in the hundreds) are named when weights blew up.
RAW_INPUT_ABS = 100.0
#: A kernel is "badly initialized" when its std exceeds the He/Glorot std by this factor.
INIT_SCALE_FACTOR = 10.0
#: A recurrent layer whose output exceeds its input by this factor is exploding.
RECURRENT_GROWTH = 1e3
#: Growth of a weight's norm over the healthy history that says "the updates are too large".
WEIGHT_GROWTH = 3.0
#: Growth of the global gradient norm (last healthy / early median) that says "exploding".
GRAD_NORM_GROWTH = 10.0
#: The last healthy steps read for a run that was diverging fast just before the trip, and the
#: growth over them (of |loss| or of the gradient norm) that says the updates threw it there.
RAPID_STEPS = 8
RAPID_GROWTH = 10.0
#: exponents up to this are a polynomial's powers (``x ** 5``), not an exponential's argument
MAX_POLYNOMIAL_POWER = 16.0
#: optimizers that square the gradient into their state (a second moment or an accumulator)
SQUARING_OPTIMIZERS = frozenset(
    {"Adam", "AdamW", "Nadam", "RMSprop", "Adagrad", "Adadelta", "Ftrl", "Lamb", "Adafactor"}
)
#: a kernel above this multiple of He/Glorot's scale adds to a growth compounded over depth
OVER_SCALE = 1.5


def infer_cause(origin: Origin, record: OpRecord | None, evidence: Evidence) -> Cause | None:
    """The cause for ``origin`` given ``evidence``; ``unknown`` when no rule fits, None when
    there is nothing to explain (the replay did not reproduce the trip)."""
    if origin.kind == "input_data":
        return _non_finite_input(origin, evidence)
    if origin.kind == "unknown" or record is None:
        return None
    for rule in RULES:
        cause = rule(origin, record, evidence)
        if cause is not None:
            return cause
    return unknown(origin, record, evidence)


# ---------------------------------------------------------------------------------------------
# input data and state
# ---------------------------------------------------------------------------------------------
def _non_finite_input(origin: Origin, evidence: Evidence) -> Cause:
    health = origin.output
    size = health.shape[0] if health is not None and health.shape else None
    every_row = size is not None and len(origin.rows) >= size
    misread = _misread_bytes(health)
    return Cause(
        "non_finite_input",
        f"the batch tensor {origin.tensor} already holds NaN/Inf in {len(origin.rows)} "
        f"sample(s)"
        + (" — every row of the batch" if every_row else "")
        + " before any op runs"
        + "".join(f"; so does {t}" for t in evidence.non_finite_tensors if t != origin.tensor)
        + (
            f", and its finite values span {health.min_abs_nonzero:.2g} to {health.max_abs:.2g} "
            "in magnitude: no data looks like that — these are bytes written as another type "
            "(uint8 pixels, int16 samples) and decoded as float, not missing values"
            if misread and health is not None
            else ""
        ),
        {
            **({"misread_bytes": True} if misread else {}),
            "tensor": origin.tensor,
            "rows": list(origin.rows[:100]),
            **(
                {"tensors": [origin.tensor, *others]}
                if (others := [t for t in evidence.non_finite_tensors if t != origin.tensor])
                else {}
            ),
            **(
                {"row_tensors": list(evidence.row_tensors)} if len(evidence.row_tensors) > 1 else {}
            ),
            "every_row": every_row,
            "batch_size": size,
            "nan": health.nan if health else None,
            "inf": health.inf if health else None,
        },
        confidence=0.95,
    )


def _misread_bytes(health: Health | None) -> bool:
    """Finite values from below 1e-30 to above 1e30 beside NaN/Inf: random bit patterns, what
    bytes of another type (uint8, int16) decoded as float32 look like; no measured quantity
    spans 60 orders of magnitude."""
    if health is None or health.min_abs_nonzero is None:
        return False
    return health.max_abs >= MISREAD_ABS_MAX and health.min_abs_nonzero <= 1.0 / MISREAD_ABS_MAX


def _stale_state(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """A variable was already NaN/Inf when the step read it: no op of this step made it."""
    if record.phase == "update":
        # an update that wrote a variable non-finite because it already was (x - 0 = -inf):
        # the loss masked it (an exp of -inf is 0), the write is only where the guard saw it
        if (
            not record.variable
            or record.variable not in evidence.stale_variables
            or record.variable_after is None  # a read (the rate itself): the update's rules
            or record.variable_trainable is False
        ):
            return None
    elif record.op_type != "ReadVariableOp":
        return _captured_nan(record, evidence)
    names = evidence.stale_variables or ([record.variable] if record.variable else [])
    if record.variable in names:  # the origin's own variable first
        names = [record.variable] + [n for n in names if n != record.variable]
    if not names:
        return None
    frozen = all(name in evidence.untrained_variables for name in names)
    set_before = frozen or evidence.iterations == 0  # None: no optimizer seen, not known
    when = (
        f" (the optimizer had run {evidence.iterations} steps: resumed from a checkpoint saved "
        "after the values went non-finite?)"
        if evidence.iterations and not frozen
        else ""
    )
    if set_before and not frozen and record.layer_object is not None:
        from nantrace.compat.tf import non_finite_initializer

        constant = non_finite_initializer(record.layer_object, names[0])
        if constant is not None:  # the layer's own initializer made it: Constant(-inf)
            attribute, value = constant
            return Cause(
                "initializer_scale",
                f"{names[0]} was already {value} before step {evidence.step} ran: "
                f"{record.layer}'s {attribute} is a Constant of {value}, a value computed from "
                "statistics with a 0 in them (log(pos / neg) with no positives, 1 / std of a "
                "constant column); no op of this step produced it",
                {
                    "layer": record.layer,
                    "variable": names[0],
                    "initializer_attribute": attribute,
                    "initializer_value": value,
                    "non_finite_initializer": True,
                    "step": evidence.step,
                },
                confidence=0.9,
            )
    if set_before:
        when = (
            " and it is not trainable (frozen: no step changes it)"
            if frozen
            else " and the optimizer has not run yet"
        ) + ": it was set that way (an initializer, set_weights, a loaded array)"
    return Cause(
        "non_finite_state",
        f"{names[0]} was already NaN/Inf before step {evidence.step} ran{when}; no op of this "
        "step produced it",
        {
            "variables": names[:20],
            "iterations": evidence.iterations,
            "step": evidence.step,
            "set_before_training": set_before,
            "frozen": frozen,
        },
        confidence=0.95,
    )


def _captured_inputs(record: OpRecord) -> list[Health]:
    """The health of each float input that no op of the step made and no batch tensor is: a
    tensor the step captured when it was traced (or a constant written in its code)."""
    batch = record.batch_inputs or [None] * len(record.inputs)
    return [
        health
        for producer, health, tensor in zip(record.producers, record.inputs, batch, strict=False)
        if producer is None and tensor is None and health is not None
    ]


def _captured_nan(record: OpRecord, evidence: Evidence) -> Cause | None:
    """The op reads a NaN that no op of this step made and that is not in the batch: a tensor
    the step captured when it was traced, such as the mean and variance a ``Normalization``
    layer computed in ``adapt()`` from data holding NaN."""
    captured = [health for health in _captured_inputs(record) if health.nan]
    if not captured:
        return None
    layer_object = record.layer_object
    adapted = layer_object is not None and callable(getattr(layer_object, "adapt", None))
    owner = f"{type(layer_object).__name__} {record.layer}" if layer_object else record.layer
    summary = (
        f"{record.op_type} in {record.layer or record.phase} reads a tensor that was already "
        f"NaN ({captured[0].nan} of {captured[0].size}) before step {evidence.step} ran: no op of this "
        "step and no batch tensor produced it"
    )
    if adapted:
        summary = (
            f"{owner} holds NaN statistics ({captured[0].nan} of {captured[0].size} values): "
            "adapt() was given data with NaN; no op of this step and no batch tensor produced "
            "it"
        )
    return Cause(
        "non_finite_state",
        summary,
        {
            "captured": True,
            "layer": record.layer,
            "layer_class": _class_name(layer_object),
            "adapted": adapted,
            "inputs": [_health_summary(h) for h in record.float_inputs],
        },
        confidence=0.9,
    )


# ---------------------------------------------------------------------------------------------
# the optimizer update
# ---------------------------------------------------------------------------------------------
_ROUNDING_ADVICE = (
    "eigenvalues of a singular (or nearly singular) covariance or Gram matrix, >= 0 in exact "
    "arithmetic, came out below 0 by rounding only, against values up to {:.3g}: damping, an "
    "epsilon larger than the rounding (C + epsilon I), keeps them positive"
)


def _line_of(record: OpRecord) -> str:
    """The file:line an op was written at, as a report names it."""
    return os.path.basename(record.source) if record.source else "an unknown line"


def _update_domain_error(
    origin: Origin, record: OpRecord, evidence: Evidence, problem: str
) -> Cause:
    """An op of the update with finite arguments outside its domain: in a learning-rate
    schedule (the rate is then NaN) a formula taken past its end, e.g. the remaining fraction
    of a decay gone negative under a power or a square root. No learning rate is too high
    there: the argument needs clamping into the domain, as Keras' own schedules clamp the
    step at their end."""
    lr = evidence.learning_rate
    schedule = lr is not None and not math.isfinite(lr)
    where = _line_of(record)
    subject = f"the learning-rate schedule ({where})" if schedule else f"the update ({where})"
    rounding = None if schedule else _negative_by_rounding(record, evidence)
    return Cause(
        "domain_error",
        f"{record.op_type} in {subject} receives {problem}: "
        + (
            f"the learning rate is NaN and so is every weight it updates ({origin.variable} "
            "first); no lower rate helps: clamp the argument into the domain (a schedule's "
            "remaining fraction at 0 past its end)"
            if schedule
            else _ROUNDING_ADVICE.format(record.float_inputs[0].max_abs)
            if rounding is not None
            else "outside its domain, so no epsilon can help; clamp the argument into the domain"
        ),
        {
            "op_type": record.op_type,
            "layer": None,
            "problem": problem,
            "min_value": _min_value(record),
            "schedule": schedule,
            "variable": origin.variable,
            **({"rounding_negative": rounding} if rounding is not None else {}),
            "inputs": [_health_summary(h) for h in record.float_inputs],
        },
        confidence=0.9,
    )


def _update_zero_over_zero(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause:
    """0 / 0 of finite values that made the learning rate NaN: a schedule's division whose
    quantity and divisor are both 0 (a warm-up over 0 steps, a closed-form cycle index with
    equal cycles). No rate is too high: the division needs a guard."""
    where = _line_of(record)
    return Cause(
        "missing_epsilon",
        f"{record.op_type} in the learning-rate schedule ({where}) divides 0 by 0: the "
        f"learning rate is NaN and so is every weight it updates ({origin.variable} first); "
        "no lower rate helps: the division needs a guard",
        {
            "op_type": record.op_type,
            "layer": None,
            "zero_over_zero": True,
            "empty_count": True,
            "schedule": True,
            "variable": origin.variable,
            "zeros": sum(h.zeros for h in record.float_inputs),
        },
        confidence=0.85,
    )


def _divides_by_zero(record: OpRecord) -> bool:
    """x / 0 of finite values in any form: a division by a zero, the reciprocal or inverse
    square root of 0, 0 to a negative power."""
    inputs = record.float_inputs
    op = record.op_type
    if not inputs or not record.inputs_finite:
        return False
    if op in DIVISION_OPS:
        return _denominator_has_zero(record) or (len(inputs) == 1 and inputs[0].zeros > 0)
    if op == "Rsqrt":
        return inputs[0].zeros > 0
    if op == "Pow" and len(inputs) > 1:
        low = inputs[1].min_value
        return inputs[0].zeros > 0 and low is not None and low < 0
    return False


def _update_division_by_zero(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause:
    """An infinite learning rate from a schedule's x / 0: a formula in the step count written
    for steps counted from 1 (t ** -0.5, 1 / t) that Keras evaluates at its first iteration,
    0. No rate is too high: the count needs clamping at 1."""
    where = _line_of(record)
    return Cause(
        "missing_epsilon",
        f"{record.op_type} in the learning-rate schedule ({where}) divides by 0 (a power, "
        "root or quotient of a quantity that is 0 at this step, e.g. a step count that is 0 "
        f"at Keras' first iteration): the learning rate is inf and every weight it updates is "
        f"non-finite ({origin.variable} first); no lower rate helps: the division needs a "
        "guard (a count clamped at 1)",
        {
            "op_type": record.op_type,
            "layer": None,
            "zero_over_zero": False,
            "empty_count": True,
            "schedule": True,
            "variable": origin.variable,
            "zeros": sum(h.zeros for h in record.float_inputs),
        },
        confidence=0.85,
    )


def _half_statistic(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """A scalar of the update computed in float16 (a global norm's sum of squares before a
    clip, a mean of the gradients) that overflows from finite inputs: float16's range, not a
    step too large (the step itself is an op the size of the variable), told as a statistic
    of the gradients. ``_float16_overflow`` still rules out what is non-finite in every
    precision. None for any other op."""
    out = record.result_health
    if not (
        _dtype_of(record) == "float16"
        and record.inputs_finite
        and out is not None
        and out.size == 1
        and out.pos_inf + out.neg_inf > 0
    ):
        return None
    cause = _float16_overflow(origin, record, evidence)
    if cause is None:
        return None
    return dataclasses.replace(
        cause,
        summary=(
            f"{record.op_type} in the update ({_line_of(record)}) computes a statistic of the "
            f"gradients in float16 (e.g. a global norm before a clip) and it exceeds ±"
            f"{FLOAT16_MAX:.0f} from finite inputs (up to |x| = {_inputs_max(record):.3g}); "
            "float32 holds it: keep the variables and gradients in float32 (the "
            "'mixed_float16' policy, not 'float16') or cast the gradients to float32 first"
        ),
        evidence={**cause.evidence, "update_statistic": True},
    )


def _optimizer_update(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    if origin.kind != "optimizer_update":
        return None
    op = record.op_type
    lr = evidence.learning_rate
    eps = evidence.optimizer_epsilon
    dtype = _dtype_of(record)
    zero_denominator = _denominator_has_zero(record) or any(h.zeros for h in record.float_inputs)
    problem = _outside_domain(record)
    if problem is not None:
        return _update_domain_error(origin, record, evidence, problem)
    nan_rate = lr is not None and math.isnan(lr)  # a schedule's value, not an optimizer's own
    if nan_rate and op in DIVISION_OPS and record.inputs_finite and _zero_over_zero(record):
        return _update_zero_over_zero(origin, record, evidence)
    if lr is not None and math.isinf(lr) and _divides_by_zero(record):
        return _update_division_by_zero(origin, record, evidence)
    if not record.in_optimizer and _divides_by_zero(record):
        # the user's own x / 0 between the gradients and the update (a loss weight from
        # gradient norms): the zero, not the step size (the zero-argument rule names it)
        return None
    statistic = _half_statistic(origin, record, evidence)
    if statistic is not None:
        return statistic
    if (lr is not None and not math.isfinite(lr)) or not record.inputs_finite:
        return Cause(
            "learning_rate_too_high",
            f"the update of {origin.variable or 'a variable'} multiplies the gradient by a "
            f"non-finite step size (learning rate = {lr if lr is not None else 'Inf/NaN'}), "
            "e.g. a schedule or a constant that overflows float32",
            {"learning_rate": lr, "variable": origin.variable, "op_type": op},
            confidence=0.9,
        )
    if dtype in HALF_DTYPES and eps is not None and eps > 0 and zero_denominator:
        as_half = float(np.asarray(eps, dtype=np.float16)) if dtype == "float16" else eps
        if as_half == 0.0:  # the epsilon itself is 0 in this dtype
            return Cause(
                "float16_range",
                f"the {evidence.optimizer_name or 'optimizer'} update of {origin.variable} runs "
                f"in {dtype}: epsilon = {eps:g} becomes {as_half:g} there, so sqrt(v) + epsilon "
                "is 0 for a variable whose gradient history is 0",
                {
                    "dtype": dtype,
                    "epsilon": eps,
                    "epsilon_in_dtype": as_half,
                    "variable": origin.variable,
                    "underflow": True,
                },
                confidence=0.85,
            )
    if eps is not None and eps <= 1e-12 and (op in DOMAIN_OPS or zero_denominator):
        return Cause(
            "missing_epsilon",
            f"the {evidence.optimizer_name} update divides by sqrt(v) + epsilon with "
            f"epsilon = {eps:g}; a variable with zero gradient history gives 0/0",
            {"optimizer": evidence.optimizer_name, "epsilon": eps, "variable": origin.variable},
            confidence=0.9,
        )
    zeroed = [floor for floor in evidence.optimizer_zeroed_floors if floor[0] != "epsilon"]
    if zeroed and zero_denominator:
        setting, value, default = zeroed[0]
        return Cause(
            "missing_epsilon",
            f"the {evidence.optimizer_name} update divides by a term that {setting} = {value:g} "
            f"(default {default:g}) no longer keeps above 0; a variable with zero gradient "
            "history gives 0/0",
            {
                "optimizer": evidence.optimizer_name,
                "setting": setting,
                "current": value,
                "default": default,
                "variable": origin.variable,
            },
            confidence=0.85,
        )
    if eps is None and op in DIVISION_OPS and _denominator_has_zero(record):
        return None  # a hand-written update dividing by an exact 0: the zero, not the step size
    squared = _squared_gradient_overflow(origin, evidence, dtype)
    if squared is not None:
        return squared
    inputs_max = _inputs_max(record)
    if inputs_max > 1e30 or (record.result_health is not None and record.result_health.inf):
        return Cause(
            "learning_rate_too_high",
            f"gradients were finite but the {evidence.optimizer_name or 'optimizer'} update "
            f"with {_step_size_text(evidence)} made {origin.variable or 'a variable'} overflow"
            # a variable read (the origin op) records no update terms: nothing to quote
            + (f" (update terms reach |x| = {inputs_max:.3g})" if inputs_max > 0 else ""),
            {
                "learning_rate": lr,
                "variable": origin.variable,
                "update_abs_max": inputs_max if inputs_max > 0 else None,
            },
            confidence=0.7,
        )
    return None


def _squared_gradient_overflow(origin: Origin, evidence: Evidence, dtype: str) -> Cause | None:
    """An adaptive optimizer squares each gradient into its second moment (Adam's v, RMSprop's
    and Adagrad's accumulators); a gradient beyond sqrt(dtype max) makes that square Inf. Its
    step is about the learning rate whatever the gradient's size, so the rate is not the cause:
    the gradient's size is — kernels that start too large for their fan-in and compound over
    depth, or gradients that grew."""
    limit = math.sqrt(DTYPE_MAX.get(dtype, DTYPE_MAX["float32"]))
    name = evidence.optimizer_name
    if name not in SQUARING_OPTIMIZERS or evidence.gradient_abs_max <= limit:
        return None
    grower = evidence.fastest_growing_weight()
    squared = (
        f"{name} squares them into its second moment and g² overflows {dtype} (|g| > "
        f"{limit:.2g}), so its state for {origin.variable or 'a variable'} became non-finite"
    )
    unbounded = _unbounded_growth(evidence)
    if unbounded is not None:  # whatever the weights did: the cell lets its state grow
        layer, growth = unbounded
        return _recurrent_cause(
            f"the gradients reach |g| = {evidence.gradient_abs_max:.3g}; {squared}. The "
            f"recurrent layer {layer} amplifies its input {growth:.3g}x over the time steps of "
            "the sequence, and the gradients compound back through the same steps",
            layer,
            growth,
            evidence,
        )
    if any(s.grew for s in evidence.model_layer_scales) or (grower and grower[1] > WEIGHT_GROWTH):
        return None  # weights that grew over the run: the updates were too large after all
    unscaled = unscaled_data_cause(
        evidence, f"until {squared}", f"the gradients grow with the error until {squared}"
    )
    if unscaled is not None:  # gradients as large as the data: scale the data
        return unscaled
    found = (
        f"the gradients reach |g| = {evidence.gradient_abs_max:.3g}; {squared}. {name}'s step "
        "is about the learning rate whatever the gradient's size: a lower rate cannot help"
    )
    # a state that grows over the time steps: its gradients compound back through them
    grown = _recurrent_growth(evidence) or _gated_growth(evidence)
    if grown is not None:
        layer, growth = grown
        return _recurrent_cause(
            f"{found}. The recurrent layer {layer} amplifies its input {growth:.3g}x over the "
            "time steps of the sequence, and the gradients compound back through the same steps",
            layer,
            growth,
            evidence,
        )
    scales = [s for s in evidence.model_layer_scales if math.isfinite(s.ratio)]
    # only kernels clearly above their scale compound: over ~80 layers, draws a few percent
    # above He's scale would multiply past any threshold by sampling noise alone
    over_scaled = [s for s in scales if s.ratio > OVER_SCALE]
    compounded = float(np.prod([s.ratio for s in over_scaled])) if over_scaled else 1.0
    if compounded > INIT_SCALE_FACTOR:
        worst = max(scales, key=lambda s: s.ratio)
        over = [s.layer for s in over_scaled]
        return Cause(
            "initializer_scale",
            f"{found}. The kernels are still at their initial scale and {len(over)} of "
            f"{len(scales)} start above the {'He' if worst.activation in RELU_FAMILY else 'Glorot'} "
            f"scale for their fan-in (up to {worst.ratio:.3g}x in {worst.layer}, "
            f"{compounded:.3g}x compounded over depth): activations and gradients grow layer "
            "by layer",
            {
                **_scale_evidence(worst, evidence),
                "layers": over,
                "compounded_ratio": compounded,
                "gradient_abs_max": evidence.gradient_abs_max,
                "optimizer": name,
            },
            confidence=0.75,
        )
    return Cause(
        "gradient_explosion",
        found,
        {
            "gradient_abs_max": evidence.gradient_abs_max,
            "optimizer": name,
            "grad_norm_growth": evidence.grad_norm_growth(),
            "variable": origin.variable,
        },
        confidence=0.7,
    )


def _step_size_text(evidence: Evidence) -> str:
    lr = evidence.learning_rate
    if lr is None:
        return "a step size nantrace could not read (no optimizer object, no lr * g in the update)"
    if evidence.learning_rate_source == "update":
        return f"step size {lr:.3g} (read from the hand-written update)"
    return f"learning rate {lr:.3g}"


# ---------------------------------------------------------------------------------------------
# precision
# ---------------------------------------------------------------------------------------------
def _float16_overflow(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """A float16 result past ±65504 that float32 would have held (bfloat16 has float32's range,
    so a bfloat16 overflow is an overflow in any precision, decided by the other rules)."""
    dtype = _dtype_of(record)
    out = record.result_health
    if dtype != "float16" or out is None or not out.inf:
        return None
    if (
        _singular(record)
        or _outside_domain(record)
        or _infinite_at_edge(record)
        or _inf_arithmetic(record, evidence)
    ):
        return None  # 1/0, log(-1), atanh(1) and 0 x inf are non-finite in every precision
    subject = _exp_subject(record, evidence)
    if subject is not None:
        argument = _argument_max(subject)
        if argument is not None and argument > math.log(DTYPE_MAX["float32"]):
            return None  # exp(100) overflows float32 too: an exp overflow, not a float16 one
    inputs_max = _inputs_max(record)
    return Cause(
        "float16_range",
        f"{record.op_type} in {record.layer or record.phase} runs in float16 and its result "
        f"exceeds ±{FLOAT16_MAX:.0f} (inputs reach |x| = {inputs_max:.3g}); float32 holds it",
        {
            "dtype": "float16",
            "input_abs_max": inputs_max,
            "loss_scaling": evidence.loss_scaling,
            "phase": record.phase,
            "target": evidence.target if evidence.target_abs_max > UNSCALED_INPUT_ABS else None,
            "target_abs_max": evidence.target_abs_max,
            "feature": evidence.feature if evidence.input_abs_max > UNSCALED_INPUT_ABS else None,
            "feature_abs_max": evidence.input_abs_max,
        },
        confidence=0.9,
    )


def _half_constant(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """A number the code writes (a mask value such as -1e9) beyond float16's range: it is +-inf
    in float16, and arithmetic on it (0 x -inf, -inf - -inf) is NaN; float32 holds it."""
    subject = evidence.forward_op if origin.phase == "backward" and evidence.forward_op else record
    mask = evidence.inf_constant_op
    problem = _inf_arithmetic(subject, evidence)
    if problem is None or mask is None or _dtype_of(mask) != "float16" or not mask.source:
        return None
    written = overflowing_literals(mask.source, FLOAT16_MAX)
    if not written:
        return None
    inf = _mask_evidence(mask)["mask_value"]
    return Cause(
        "float16_range",
        f"{mask.op_type} in {mask.layer or mask.phase} runs in float16, where the constant "
        f"{written[0]} written at {os.path.basename(mask.source)} is {inf} (float16 ends at "
        f"±{FLOAT16_MAX:.0f}); {subject.op_type} then computes "
        f"{problem.split(':')[0]}, which is NaN. float32 holds {written[0]}",
        {
            "op_type": subject.op_type,
            "layer": subject.layer or mask.layer,
            "problem": problem,
            "written": written[0],
            "overflow": True,
            "loss_scaling": evidence.loss_scaling,
            "phase": subject.phase,
            **_mask_evidence(mask),
        },
        confidence=0.9,
    )


# ---------------------------------------------------------------------------------------------
# domain, zeros and the tf.where trap
# ---------------------------------------------------------------------------------------------
def _where_trap(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """tf.where(cond, f(x), other): the forward value is fine, but f's gradient at the
    unselected elements is NaN/Inf, and 0 * NaN = NaN flows into the weights."""
    forward = evidence.forward_op
    if origin.phase == "forward" and evidence.loss_finite and evidence.discarded_by_where:
        # the op's Inf/NaN went only into the branch a tf.where dropped (the loss is finite)
        # and reached the gradients through its own backward (exp's gradient is its output)
        forward = record
    elif origin.phase != "backward" or forward is None:
        return None
    discarded = evidence.discarded_by_where
    if discarded is None:
        if not (evidence.forward_consumers & SELECT_OPS):
            return None
        if forward.op_type not in DOMAIN_OPS | EXP_OPS and not _singular(forward):
            return None
    return Cause(
        "where_gradient_trap",
        f"{forward.op_type} feeds a tf.where: the forward value is finite, but the gradient of "
        f"{forward.op_type} at the elements tf.where does not select is NaN/Inf, and the "
        "where's zero gradient times NaN is still NaN",
        {
            "forward_op": forward.op_type,
            "discarded_op": discarded,
            "forward_source": forward.source,
            "backward_op": record.op_type,
            "inputs": [_health_summary(h) for h in forward.float_inputs],
        },
        confidence=0.9,
    )


#: Factorizations defined only for a positive definite matrix, which TensorFlow fills with NaN
#: (on CPU and GPU alike) when the matrix it gets is not.
POSITIVE_DEFINITE_OPS = frozenset({"Cholesky"})


def _not_positive_definite(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """A Cholesky factorization of a finite matrix came out NaN: the matrix is not positive
    definite -- singular (repeated inputs of a kernel, a low-rank covariance) or so close to
    it that its smallest eigenvalues round below 0 in its dtype. Its diagonal needs a jitter."""
    if record.op_type not in POSITIVE_DEFINITE_OPS or not record.inputs_finite:
        return None
    if not record.float_inputs or not record.produced_non_finite:
        return None
    matrix = record.float_inputs[0]
    size = matrix.shape[-1] if matrix.shape else None
    return Cause(
        "missing_epsilon",
        f"{record.op_type} in {record.layer or record.phase} gets a finite "
        f"{size}x{size} {matrix.dtype} matrix that is not positive definite (singular, or "
        f"nearly so in {matrix.dtype}: repeated or very close inputs of a kernel, a low-rank "
        "covariance), and TensorFlow fills the factor with NaN: a jitter on its diagonal "
        "(K + eps * I) makes it positive definite",
        {
            "op_type": record.op_type,
            "layer": record.layer,
            "not_positive_definite": True,
            "matrix_size": size,
            "dtype": matrix.dtype,
            "inputs": [_health_summary(h) for h in record.float_inputs],
        },
        confidence=0.85,
    )


def _domain_error(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    subject = evidence.forward_op if origin.phase == "backward" and evidence.forward_op else record
    problem = _outside_domain(subject)
    advice = (
        ": outside its domain, so no epsilon can help; clamp the argument into the domain or "
        "use a form that is defined there"
    )
    if problem is None and subject is not record:
        problem = _at_domain_edge(subject)
        advice = "; clamp the argument strictly inside the domain"
    if problem is None:
        problem = _infinite_at_edge(subject)
        advice = "; clamp the argument strictly inside the domain"
    if problem is None:
        problem = _inf_arithmetic(subject, evidence)
        advice = (
            ": outside its domain, so no epsilon can help; mask with a large finite value "
            "instead of inf"
        )
    if problem is None:
        return None
    mask = evidence.inf_constant_op
    twice = _log_of_log_probabilities(subject, evidence)
    if twice:
        advice = (
            ": they are log-probabilities already (a log_softmax gives values <= 0), so the "
            "log is taken twice; drop this log"
        )
    logits = _logits_into_probability_loss(origin, evidence)
    if logits is not None and not twice:
        advice = (
            f": the output layer {evidence.output_layer} is linear, so it gives logits, but "
            f"{logits} was built with from_logits=False and treats them as probabilities; "
            "tell the loss it gets logits"
        )
    damped = _negative_by_rounding(subject, evidence) if not twice and mask is None else None
    if damped is not None and logits is None:
        advice = ": " + _ROUNDING_ADVICE.format(subject.float_inputs[0].max_abs)
    rounding = evidence.half_cancellation
    if rounding is not None and not twice and mask is None:
        dtype, largest = rounding
        advice = (
            f": its argument is a difference of {dtype} values up to {largest:.3g}, which "
            f"{dtype} rounds by ~{largest * HALF_SPACING[dtype]:.3g} — more than the "
            "difference itself (a one-pass variance mean(x^2) - mean(x)^2 of raw-unit data): "
            "in float32 it keeps its sign"
        )
    return Cause(
        "domain_error",
        f"{subject.op_type} in {subject.layer or subject.phase} receives {problem}{advice}",
        {
            "op_type": subject.op_type,
            "layer": subject.layer,
            "problem": problem,
            "min_value": _min_value(subject),
            "inputs": [_health_summary(h) for h in subject.float_inputs],
            **(_mask_evidence(mask) if mask is not None else {}),
            **({"log_probabilities": True} if twice else {}),
            **({"rounding_negative": damped} if damped is not None and logits is None else {}),
            **(
                {"logits_into": logits, "output_layer": evidence.output_layer}
                if logits is not None and not twice
                else {}
            ),
            **(
                {
                    "half_cancellation": True,
                    "dtype": rounding[0],
                    "difference_of": rounding[1],
                    "layer_class": _class_name(subject.layer_object),
                }
                if rounding is not None and not twice and mask is None
                else {}
            ),
        },
        confidence=0.9,
    )


def _logits_into_probability_loss(origin: Origin, evidence: Evidence) -> str | None:
    """The Keras loss (class name) that got a linear output layer's logits as probabilities:
    an origin in the loss, a loss of the step built with from_logits=False, and an output
    layer with no activation."""
    if origin.kind != "loss" or evidence.probability_loss is None:
        return None
    if evidence.output_layer is None or evidence.output_activation not in (None, "linear"):
        return None
    return evidence.probability_loss


def _log_of_log_probabilities(subject: OpRecord, evidence: Evidence) -> bool:
    """A log of values that are all <= 0 and come from a log-softmax (within three ops, or the
    model's output activation): log-probabilities, whose log is being taken a second time."""
    if subject.op_type != "Log" or not subject.float_inputs:
        return False
    high = subject.float_inputs[0].max_value
    if high is None or high > 0:
        return False
    return "LogSoftmax" in evidence.upstream_ops or evidence.output_activation == "log_softmax"


def _mask_evidence(mask: OpRecord) -> dict[str, Any]:
    """Where the constant +-inf comes in: the op, its line and the value's sign."""
    negative = any(
        h is not None and h.neg_inf and p is None
        for p, h in zip(mask.producers, mask.inputs, strict=False)
    )
    return {
        "dtype": _dtype_of(mask),
        "mask_op": mask.op_type,
        "mask_source": mask.source,
        "mask_value": "-inf" if negative else "inf",
    }


def _padding_evidence(evidence: Evidence) -> dict[str, Any]:
    """The batch rows that are padding only, with the tensor, value and masking layer."""
    if evidence.padded is None or not evidence.empty_rows:
        return {}
    tensor, value, layer = evidence.padded
    return {
        "empty_rows": list(evidence.empty_rows),
        "padded_tensor": tensor,
        "padding_value": value,
        "padding_layer": layer,
    }


def _inf_arithmetic(record: OpRecord, evidence: Evidence) -> str | None:
    """NaN made by arithmetic on a constant +-inf the code wrote (a mask value): 0 x inf, or
    inf - inf. Both are undefined, so the only fix is a finite mask value."""
    mask, out = evidence.inf_constant_op, record.result_health
    if mask is None or out is None or not out.nan:
        return None
    inputs = record.float_inputs
    infinite = [h for h in inputs if h.inf]
    value = _mask_evidence(mask)["mask_value"]
    place = os.path.basename(mask.source) if mask.source else "an unknown line"
    where = f" (the constant {value} that {mask.op_type} at {place} takes)"
    if mask is record:
        where = f" (the constant {value} written in this op's own line, {place})"
    if record.op_type == "Mul" and infinite and any(h.zeros for h in inputs):
        return f"0 x inf: exact zeros times the mask value{where}, which is NaN"
    if record.op_type in {"Sub", "AddV2", "Add"} and len(infinite) >= 2:
        return (
            f"inf - inf: infinities on both sides{where}, which is NaN (x - max(x) over a "
            "row whose every entry is masked is -inf - (-inf))"
        )
    if record.op_type in SOFTMAX_OPS or any(h.nan for h in inputs):
        return None
    if infinite and (any(h.zeros for h in inputs) or len(infinite) >= 2):
        # inside a fused op (a cross-entropy's labels x log-probabilities, a matmul)
        return (
            f"the mask value{where} together with exact zeros or other infinities; inside "
            f"{record.op_type}, 0 x inf or inf - inf is NaN"
        )
    return None


def _labels_outside_unit(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """A cross-entropy whose labels leave [0, 1] (masks left at 0 / 255, classes coded 1 / 2,
    targets in {-1, 1}): the loss has no lower bound, so training drives the probabilities to
    0 or 1 until the log of one of them is log(0). An epsilon keeps it finite while the loss
    still runs away; the labels need mapping onto [0, 1]."""
    labels = evidence.labels_outside_unit
    if labels is None or origin.kind not in ("loss", "gradient"):
        return None
    subject = evidence.forward_op if origin.phase == "backward" else record
    if subject is None or not _looks_like_probability(subject):
        return None
    if not _of_probabilities(
        evidence
    ):  # a count times the log of a rate (Poisson's y * log(lambda)) is no cross-entropy
        return None
    name, low, high = labels
    fell = evidence.loss_fell_without_bound()
    losses = evidence.history.finite_losses() if evidence.history is not None else np.zeros(0)
    lowest = float(losses.min()) if losses.size else None
    went_negative = (
        f"; the loss fell to {float(lowest):.3g}, below any cross-entropy's 0"
        if lowest is not None and lowest < 0
        else ""
    )
    return Cause(
        "unscaled_target",
        f"the labels {name} span [{low:.3g}, {high:.3g}], outside a cross-entropy's [0, 1]: "
        f"y * log(p) then has no lower bound, so training drives the probabilities to 0 or 1 "
        f"until the log of one of them is log(0){went_negative}",
        {
            "tensor": name,
            "label_min": low,
            "label_max": high,
            "op_type": subject.op_type,
            "loss_lowest": lowest,
            "fell_without_bound": fell is not None,
        },
        confidence=0.9,
    )


def _captured_infinity(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """The origin reads a constant +inf that no op of the step made, no batch tensor holds and
    its own line does not write: a weight or scale computed before the step as n / 0 of a
    statistic that was 0 there (a loss weight 1 / var of a constant target, a pos_weight of
    negatives / positives with no positive; numpy only warns). A mask the code writes is -inf
    or written on the line (the mask rules name it)."""
    if record.phase == "update" or not record.source:
        return None
    captured = [health for health in _captured_inputs(record) if health.pos_inf]
    if not captured or any(h.nan or h.neg_inf for h in captured):
        return None
    if writes_infinity(record.source) is not False:
        return None
    where = _line_of(record)
    return Cause(
        "missing_epsilon",
        f"{record.op_type} in {record.layer or record.phase} ({where}) reads a constant that "
        f"is already +inf before step {evidence.step} ran and that its line does not write: a "
        "weight or scale computed before the step, typically n / 0 of a statistic that is 0 "
        "there (1 / variance of a constant target, negatives / positives with no positive); "
        "floor that statistic where it is computed",
        {
            "op_type": record.op_type,
            "layer": record.layer,
            "captured_inf": True,
            "inputs": [_health_summary(h) for h in record.float_inputs],
        },
        confidence=0.6,
    )


def _zero_argument(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """log/sqrt/rsqrt/division of an exact zero, forward or in the backward pass."""
    backward = origin.phase == "backward"
    subject = evidence.forward_op if backward and evidence.forward_op is not None else record
    rounded = evidence.half_cancellation
    if rounded is not None and subject is record and _has_zero_argument(subject):
        dtype, largest = rounded
        return Cause(
            "float16_range",
            f"{subject.op_type} in {subject.layer or subject.phase} gets an exact 0 that is a "
            f"difference of {dtype} values up to {largest:.3g}, which {dtype} holds only "
            f"{largest * HALF_SPACING[dtype]:.3g} apart: smaller differences (durations, "
            "steps between timestamps) round to exactly 0. An epsilon hides it; in float32 the "
            "difference is kept",
            {
                "op_type": subject.op_type,
                "layer": subject.layer,
                "half_cancellation": True,
                "dtype": dtype,
                "difference_of": largest,
                "layer_class": _class_name(subject.layer_object),
            },
            confidence=0.85,
        )
    if _mean_of_empty(subject):
        return Cause(
            "missing_epsilon",
            f"{subject.op_type} in {subject.layer or subject.phase} averages an empty tensor: "
            "0/0 (a mask or boolean_mask selected nothing in this batch)",
            {"op_type": subject.op_type, "layer": subject.layer, "empty_count": True, "zeros": 0},
            confidence=0.85,
        )
    if subject.op_type not in DOMAIN_OPS and not (backward and record.op_type in SINGULAR_GRAD_OPS):
        return None
    if not _has_zero_argument(subject, backward=backward):
        return None
    op = subject.op_type
    zeros = sum(h.zeros for h in subject.float_inputs)
    if origin.kind == "loss" and op in {"Log", "Xlogy", "Log1p"} and evidence.exp_underflow:
        return Cause(
            "unstable_loss",
            f"the loss takes {op} of a sum of exponentials (a likelihood or a normalizer "
            "computed in probability space) whose every term underflowed to exactly 0; in log "
            "space (tf.reduce_logsumexp) it stays finite",
            {"op_type": op, "zeros": zeros, "exp_underflow": True},
            confidence=0.85,
        )
    underflowed = sum(h.zeros for h in subject.float_inputs[:1])
    if (
        origin.kind == "loss"
        and op == "Log"
        and evidence.products_before >= RECURSION_OPS
        and _looks_like_probability(subject)
        and subject.float_inputs
        and underflowed * 2 >= subject.float_inputs[0].size
    ):
        return Cause(
            "unstable_loss",
            f"the loss takes {op} of values of which {underflowed} of "
            f"{subject.float_inputs[0].size} are exactly 0 after {evidence.products_before} "
            "products in the loss (a recursion unrolled in the step): a product over a "
            "sequence (a forward algorithm, a likelihood of many terms) computed in "
            "probability space underflowed; in log space (tf.reduce_logsumexp) it stays finite",
            {
                "op_type": op,
                "zeros": zeros,
                "repeated": evidence.products_before,
                "recursion": True,
                "underflow": True,
            },
            confidence=0.8,
        )
    if (
        origin.kind == "loss"
        and op in {"Log", "Xlogy", "Log1p"}
        and _looks_like_probability(subject)
        and _of_probabilities(evidence)
        # a log of a counter or a metric's value: no probability of the model reached 0
        and not evidence.argument_from_state
    ):
        mixture = _mixture_only(evidence)
        return Cause(
            "unstable_loss",
            (
                "the loss takes log1p(-p) of a probability p that rounded to 1 (log1p(-1) = -inf) "
                if op == "Log1p"
                else f"the loss takes {op} of a probability that reached 0 "
            )
            + (
                "(a mixture of probabilities, summed in probability space rather than in log space)"
                if mixture
                else "(hand-written cross-entropy on probabilities instead of logits)"
            ),
            {
                "op_type": op,
                "zeros": zeros,
                "output_activation": evidence.output_activation,
                **({"mixture": True} if mixture else {}),
            },
            confidence=0.9,
        )
    layer_object = subject.layer_object
    layer_epsilon = _as_float(getattr(layer_object, "epsilon", None))
    lost = evidence.epsilon_lost_in
    # a tiny epsilon that the layer's half dtype rounds to 0: float16_range, below
    if layer_epsilon is not None and layer_epsilon <= 1e-12 and lost is None:
        return Cause(
            "missing_epsilon",
            f"{type(layer_object).__name__} {subject.layer} is built with "
            f"epsilon={layer_epsilon:g}: {op} of a variance that reached 0",
            {
                "op_type": op,
                "layer": subject.layer,
                "layer_epsilon": layer_epsilon,
                "layer_class": type(layer_object).__name__,
            },
            confidence=0.9,
        )
    if lost is not None and not backward:
        return Cause(
            "float16_range",
            f"{op} in {subject.layer or subject.phase} meets exact zeros although the code adds "
            f"an epsilon to its argument: in {lost} that epsilon is 0 ({lost}'s smallest "
            f"positive value is {SMALLEST_HALF[lost]:.2g}; anything below half of it rounds to "
            "0)",
            {
                "op_type": op,
                "layer": subject.layer,
                "dtype": lost,
                "epsilon_in_dtype": 0.0,
                "underflow": True,
                "in_call": True,
                "zeros": zeros,
            },
            confidence=0.85,
        )
    zero_over_zero = op in DIVISION_OPS and _zero_over_zero(subject)
    producers = evidence.argument_producers
    denominator = producers[1] if len(producers) > 1 else None
    outputs = evidence.output_layer
    if (
        origin.kind == "loss"
        and zero_over_zero
        and denominator == "Sum"
        and outputs is not None
        and evidence.argument_layer == outputs
        and _zero_capable_output(evidence)
    ):
        # a probability loss (from_logits=False) divides the model's outputs by their sum
        return Cause(
            "unstable_loss",
            f"the loss divides the model's outputs by their sum, as a loss on probabilities "
            f"does (from_logits=False), but the output layer {outputs} "
            f"({evidence.output_activation or evidence.output_layer_class}) gives rows of exact "
            "zeros, not probabilities: 0/0",
            {
                "op_type": op,
                "zeros": zeros,
                "output_layer": outputs,
                "output_activation": evidence.output_activation,
                "not_probabilities": True,
            },
            confidence=0.85,
        )
    # a norm, a variance, or a product of them (a correlation's std_a * std_b) that is 0
    factors = evidence.divisor_factors
    spread = denominator in NORM_OPS or (
        denominator == "Mul" and bool(factors) and all(f in NORM_OPS for f in factors)
    )
    # a sum of exponentials that all underflowed: in log space (a softmax) it never is 0
    underflow = op in DIVISION_OPS and evidence.denominator_exp_underflow
    # a count (a sum of a mask) of 0, not a norm, variance or sum of exponentials:
    # divide_no_nan is the fix
    # a learned divisor (a temperature, a frequency) read straight from a weight that is 0
    learned = evidence.divisor_variable if op in DIVISION_OPS else None
    empty_count = zero_over_zero and not spread and not underflow and learned is None
    # 1 / count of something absent from the batch (a class's inverse-frequency weight)
    inverse = op in DIVISION_OPS and not zero_over_zero and not backward
    counted = evidence.counted_tensor if inverse else None
    tiny = _tiny_divisor(subject) if op in DIVISION_OPS and not backward else None
    where = "the backward pass of " if backward else ""
    what = f"{op} of an exact 0"
    padding = _padding_evidence(evidence) if zero_over_zero else {}
    # a 0/0 whose divisor is computed from trainable weights (a sum of ReLU gates, a
    # gradient's squared norm), not a count: an epsilon in it, as such normalizers are written
    normalizer = evidence.divisor_weight if empty_count and not padding else None
    if underflow:
        what = (
            f"{'0/0' if zero_over_zero else 'a division by 0'}: the denominator sums "
            "exponentials that every one underflowed to 0 (normalized weights computed in "
            "probability space)"
        )
    elif normalizer is not None:
        what = (
            "0/0: the divisor is a normalizer the model computes (it moves with the weight "
            f"{normalizer}), exactly 0 where the dividend is 0 too; on other batches it is "
            "tiny rather than 0"
        )
    elif empty_count:
        what = (
            "0/0: a sum over an empty selection divided by its count of 0"
            if denominator in COUNT_PRODUCERS or padding
            else "0/0: the divisor is exactly 0 where the dividend is 0 too (a quantity divided "
            "by its own normalizer, both 0)"
        )
        if padding:
            what += (
                f" (rows {list(evidence.empty_rows[:10])} of {padding['padded_tensor']} hold "
                f"only padding, which {padding['padding_layer']} masks out: empty sequences)"
            )
    elif tiny is not None:
        what = (
            f"a divisor of {tiny:.3g}: not 0, but so small that the quotient overflows as a "
            "division by 0 would (a temperature or scale annealed toward 0 without a floor)"
        )
    elif counted is not None:
        what = (
            f"a division by a count of 0: the sum of {counted} over the batch is 0 for some "
            "entry (a class absent from this batch), and its inverse, a weight, is infinite"
        )
    elif learned is not None:
        what = (
            f"{'0/0' if zero_over_zero else 'a division by 0'}: the divisor is the trainable "
            f"weight {learned}, which is 0 (a learned scale or temperature that starts at 0)"
        )
    elif zero_over_zero:
        what = "0/0: a norm or spread (standard deviation, variance) of 0 divides a value that is 0 too"
    return Cause(
        "missing_epsilon",
        f"{where}{op} in {subject.layer or subject.phase} hits {what} "
        + ("(the local gradient is infinite there)" if backward else "with no epsilon"),
        {
            "op_type": op,
            "layer": subject.layer,
            "zeros": zeros,
            "zero_over_zero": zero_over_zero,
            "empty_count": empty_count,
            "denominator_op": denominator,
            **({"exp_underflow": True} if underflow else {}),
            **({"divisor_variable": learned} if learned else {}),
            **({"learned_normalizer": normalizer} if normalizer is not None else {}),
            **({"inverse_count": counted} if counted is not None else {}),
            **({"tiny_divisor": tiny} if tiny is not None else {}),
            "backward": backward,
            **padding,
            "min_abs_nonzero": min(
                (h.min_abs_nonzero for h in subject.float_inputs if h.min_abs_nonzero is not None),
                default=None,
            ),
        },
        confidence=0.85,
    )


# ---------------------------------------------------------------------------------------------
# overflow
# ---------------------------------------------------------------------------------------------
def _exp_overflow(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    subject = _exp_subject(record, evidence)
    if subject is None:
        return None
    argument, dtype, limit = _exp_argument(subject)
    if argument is None or argument < 0.9 * limit:
        return None
    if _fixed_power(subject) and evidence.input_abs_max > UNSCALED_INPUT_ABS:
        return None  # x ** 5 of an unscaled feature: the data's scale, not an exponential
    ev: dict[str, Any] = {
        "op_type": subject.op_type,
        "layer": subject.layer,
        "argument_max": argument,
        "dtype": dtype,
        "limit": limit,
        "normalized": evidence.exp_normalized,
    }
    if evidence.input_abs_max > LOOSE_INPUT_ABS:
        ev.update(feature=evidence.feature, input_abs_max=evidence.input_abs_max)
    if origin.kind == "loss" and evidence.exp_into_log and "feature" not in ev:
        # the loss exponentiates and then takes the log back: its log-space form (logsumexp,
        # a cross-entropy on logits, softplus) never holds the exponential, so cannot overflow.
        # Not when the features are out of range: the argument is large because the data is
        # (rescaling them comes first; the exp_overflow cause below says so)
        written = (
            "a log of a modified Bessel function computed before its log; in log space "
            "(its exponentially scaled form) it stays finite"
            if subject.op_type in BESSEL_OPS
            else "a log-sum-exp, softmax cross-entropy or softplus written by hand in "
            "probability space; in log space it stays finite"
        )
        return Cause(
            "unstable_loss",
            f"the loss takes the log of {subject.op_type} of arguments up to {argument:.3g}, "
            f"which overflows {dtype} above {limit:.3g}: {written}",
            {**ev, "normalized": True, "exp_overflow": True},
            confidence=0.85,
        )
    rapid = _rapid_divergence(evidence)
    if rapid is not None and "feature" not in ev:
        # the argument was thrown there by the last updates: the loss or the gradient norm
        # grew by an order of magnitude or more within a few steps before the trip (a log
        # link's exp(eta) at too high a rate), so the step size, not the formula, is at fault
        return Cause(
            "learning_rate_too_high",
            f"{subject.op_type} in {subject.layer or subject.phase} gets an argument up to "
            f"{argument:.3g} at step {evidence.step}, after {rapid['text']} over the last "
            f"{rapid['steps']} steps: the updates threw it there; exp overflows {dtype} above "
            f"{limit:.3g}",
            {
                **ev,
                **{k: v for k, v in rapid.items() if k != "text"},
                "learning_rate": evidence.learning_rate,
            },
            confidence=0.7,
        )
    return Cause(
        "exp_overflow",
        f"{subject.op_type} in {subject.layer or subject.phase} gets an argument up to "
        f"{argument:.3g}; exp overflows {dtype} above {limit:.3g}"
        + (
            f" (the features {evidence.feature} reach |x| = {evidence.input_abs_max:.3g})"
            if "feature" in ev
            else ""
        ),
        ev,
        confidence=0.85,
    )


def _rapid_divergence(evidence: Evidence) -> dict[str, Any] | None:
    """What grew by RAPID_GROWTH or more over the last RAPID_STEPS healthy steps: |loss| (from
    max(|first|, 1)) or the global gradient norm (an Inf norm of finite gradients counts);
    None for a trip at the first step, or when nothing did."""
    history = evidence.history
    if history is None or len(history) < 3 or evidence.step == 0:
        return None
    losses = np.asarray(history.loss[:-1], dtype=np.float64)[-RAPID_STEPS:]
    norms = np.asarray(history.grad_norm[:-1], dtype=np.float64)[-RAPID_STEPS:]
    found: dict[str, Any] = {"steps": int(losses.size)}
    said = []
    if losses.size >= 2 and np.isfinite(losses[0]) and np.isfinite(losses[-1]):
        growth = abs(float(losses[-1])) / max(abs(float(losses[0])), 1.0)
        if growth >= RAPID_GROWTH:
            found.update(loss_first=float(losses[0]), loss_last=float(losses[-1]))
            said.append(f"the loss went from {losses[0]:.3g} to {losses[-1]:.3g}")
    first = float(norms[0]) if norms.size >= 2 else math.nan
    if math.isfinite(first) and first > 0 and not math.isnan(norms[-1]):
        growth = float(norms[-1]) / first
        if growth >= RAPID_GROWTH:
            found.update(grad_norm_first=first, grad_norm_last=float(norms[-1]))
            said.append(f"the gradient norm from {first:.3g} to {float(norms[-1]):.3g}")
    if not said:
        return None
    found["text"] = " and ".join(said)
    return found


def _missing_value_code(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """Overflow where a feature column's few extreme entries are one repeated number (-999,
    9999): a missing-value code the data kept as a number. Its rows' gradients are hundreds of
    times the others'; ``unscaled_input``, whose fix here is to treat the code as missing, not
    to rescale every input (which would crush the real values)."""
    code = evidence.missing_code
    if code is None or not _overflowed(record):
        return None
    here = f", rows {list(code.rows[:10])} of this batch" if code.rows else ""
    if evidence.missing_code_role == "targets":
        cause_id, where, of = "unscaled_target", "the target", "values"
        what = "unlabelled rows marked with a code (or entry errors); their errors and gradients"
    else:
        cause_id, where, of = "unscaled_input", f"column {code.column} of", "rows"
        what = "a missing-value code (or an entry error) kept as a number; those rows' gradients"
    return Cause(
        cause_id,
        f"{where} {code.tensor} holds {code.value:g} in {code.share:.0%} of its {of}{here}, "
        f"while its other values stay within {code.median:.3g} +- {code.spread:.3g}: {what} "
        "are far larger than the others' and the updates overflow",
        {
            "tensor": code.tensor,
            "column": code.column,
            "missing_code": code.value,
            "rows": list(code.rows),
            "share": code.share,
            "column_median": code.median,
            "column_spread": code.spread,
            "input_abs_max": evidence.input_abs_max,
        },
        confidence=0.85,
    )


def _unscaled_data(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """Overflow of finite-but-huge values that came from the batch."""
    if not _overflowed(record):
        return None
    return unscaled_data_cause(evidence, "until they overflow", "the updates overflow")


def unscaled_data_cause(evidence: Evidence, until: str, then: str) -> Cause | None:
    """``unscaled_input`` / ``unscaled_target`` when a batch tensor of that role is far outside
    the ~[-10, 10] range networks are built for, else None. Shared by trips and early warnings;
    only the consequence differs: what the gradients grow ``until`` (features), and what
    happens ``then`` (targets)."""
    features, targets = evidence.input_abs_max, evidence.target_abs_max
    degenerate = evidence.degenerate_normalization
    if degenerate is not None:
        layer, columns, tensor = degenerate
        what = (
            f"holds a variance of 0 for column(s) {list(columns)[:10]} of {tensor} (adapted on "
            "data where they never varied): it divides their centred values by its epsilon, "
            "and the network receives them ~1e7 times larger"
            if columns
            else f"has statistics that do not fit {tensor}: it puts out values over 100 of its "
            "standard deviations (a mean and variance of other data or units, or a standard "
            "deviation given as the variance), and the network receives them that large"
        )
        return Cause(
            "unscaled_input",
            f"the Normalization layer {layer} {what}; pre-activations and gradients grow with "
            f"them {until}",
            {
                "tensor": tensor,
                "input_abs_max": features,
                "target": None,
                "target_abs_max": targets,
                "degenerate_normalization": layer,
                "zero_variance_columns": list(columns),
            },
            confidence=0.85,
        )
    if features > UNSCALED_INPUT_ABS:
        also = (
            f"; the target {evidence.target} reaches |y| = {targets:.3g} too"
            if targets > UNSCALED_INPUT_ABS
            else ""
        )
        inverted = evidence.inverted_input_normalization
        if inverted is not None:
            also += (
                f"; the layer {inverted} is a Normalization built with invert=True: it computes "
                "mean + x * std, so the network sees them multiplied by their spread"
            )
        return Cause(
            "unscaled_input",
            f"the features {evidence.feature or 'of the batch'} reach |x| = {features:.3g}, far "
            "outside the ~[-10, 10] range networks are built for; pre-activations and "
            f"gradients grow with them {until}{also}",
            {
                "tensor": evidence.feature,
                "input_abs_max": features,
                "target": evidence.target if targets > UNSCALED_INPUT_ABS else None,
                "target_abs_max": targets,
                **({"inverted_normalization": inverted} if inverted is not None else {}),
            },
            confidence=0.85,
        )
    weights = evidence.sample_weights
    if weights is not None and weights.high > UNSCALED_INPUT_ABS:
        return Cause(
            "unscaled_input",
            f"the sample weights {_weights_name(weights.tensor, evidence)} reach "
            f"{weights.high:.3g} (mean "
            f"{weights.mean:.3g} over the last {weights.batches} batches) instead of ~1: each "
            "row's loss and gradient is multiplied by its weight, so the loss and the updates are "
            f"up to that many times what the learning rate was tuned for, and {then}",
            {
                "tensor": weights.tensor,
                "sample_weights": True,
                "weight_max": weights.high,
                "weight_mean": weights.mean,
                "input_abs_max": features,
                "target_abs_max": targets,
            },
            confidence=0.85,
        )
    if targets > UNSCALED_INPUT_ABS:
        return Cause(
            "unscaled_target",
            f"the target {evidence.target or 'of the batch'} reaches |y| = {targets:.3g} while "
            f"the features stay within |x| = {features:.3g}: the error and its gradient are as "
            f"large as the target, and {then}",
            {"tensor": evidence.target, "target_abs_max": targets, "input_abs_max": features},
            confidence=0.85,
        )
    raw = raw_columns(evidence.feature_columns_abs_max)
    if raw:
        columns = evidence.feature_columns_abs_max
        shown = ", ".join(f"{i} (|x| <= {columns[i]:.3g})" for i in raw[:5])
        return Cause(
            "unscaled_input",
            f"column(s) {shown} of the features {evidence.feature or 'of the batch'} were left "
            f"in raw units among columns scaled to ~1 (median largest |x| "
            f"{float(np.median(columns)):.3g}): their gradients are as many times larger, and "
            f"a step that suits the other columns makes their weights grow {until}",
            {
                "tensor": evidence.feature,
                "input_abs_max": features,
                "raw_columns": list(raw),
                "target": None,
                "target_abs_max": targets,
            },
            confidence=0.75,
        )
    return None


def _recurrent(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    if not _overflowed(record) or not evidence.recurrent_hosts:
        return None
    grown = _recurrent_growth(evidence) or _gated_growth(evidence)
    in_recurrent = _in_recurrent_layer(record, evidence)
    if grown is None and not (origin.phase == "backward" and in_recurrent):
        return None
    if grown is not None:
        layer, growth = grown
        summary = (
            f"the recurrent layer {layer} amplifies its input {growth:.3g}x over the time "
            "steps of the sequence; its state grows until the values overflow"
        )
    else:
        layer, growth = in_recurrent, None
        summary = f"gradients compound over the time steps of {in_recurrent} until they overflow"
    return _recurrent_cause(summary, layer, growth, evidence)


def _recurrent_cause(
    summary: str, layer: str | None, growth: float | None, evidence: Evidence
) -> Cause:
    ungated = {entry.split(" (")[0] for entry in evidence.recurrent_layers}
    activation = evidence.unbounded_recurrent.get(layer) if layer else None
    if layer in ungated:
        why = ""
    elif activation is not None:
        why = (
            f" (the cell is gated, but activation={activation!r} does not bound its state: "
            "keep the default activation='tanh')"
        )
    else:
        why = (
            " (the cell is gated: something the layer does outside the gates, between the "
            "time steps, multiplies the state)"
        )
    return Cause(
        "recurrent_explosion",
        summary + why,
        {
            "layer": layer,
            "growth": growth,
            "recurrent_layers": evidence.recurrent_layers,
            **({} if layer in ungated else {"gated": True}),
            **({"unbounded_activation": activation} if activation is not None else {}),
        },
        confidence=0.8,
    )


def _unbounded_objective(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """An overflow after the loss fell far below zero, step after step: the objective itself
    rewards the growth (a penalty or likelihood term with the wrong sign). A smaller step only
    slows that, so no cause of the taxonomy fits: ``unknown``, with the descent as evidence,
    instead of the learning rate the growth would otherwise be blamed on."""
    if evidence.step == 0 or not _overflowed(record):
        return None
    fell = evidence.loss_fell_without_bound()
    if fell is None:
        return None
    weights = evidence.sample_weights
    if weights is not None and weights.low < 0:
        return Cause(
            "negative_sample_weight",
            f"the loss fell steadily from {fell[0]:.3g} to {fell[1]:.3g} while values grew to "
            f"overflow, and {weights.negative:.0%} of the sample weights "
            f"{_weights_name(weights.tensor, evidence)} are "
            f"negative (down to {weights.low:.3g}): a row with a negative weight adds -|w| x "
            "its loss, which is unbounded below, so descent pushes its prediction away from its "
            "target ever faster",
            {
                **unbounded_evidence(fell, evidence),
                "tensor": weights.tensor,
                "weight_min": weights.low,
                "negative_share": weights.negative,
            },
            confidence=0.85,
        )
    return Cause(
        "unknown",
        f"the loss fell steadily from {fell[0]:.3g} to {fell[1]:.3g} while values grew to "
        f"overflow: {UNBOUNDED_OBJECTIVE}",
        unbounded_evidence(fell, evidence),
        0.0,
    )


def _weights_name(tensor: str, evidence: Evidence) -> str:
    """The weights as the user passed them (fit's ``sample_weight``), with the step's name."""
    shown = user_name(tensor, evidence.arguments)
    return tensor if shown == tensor else f"{shown} ({tensor})"


#: What an objective unbounded below means for the user (trips and early warnings).
UNBOUNDED_OBJECTIVE = (
    "the objective rewards the growth (a loss term with the wrong sign, or one unbounded "
    "below), which a smaller step would only slow; check the loss's terms"
)


def unbounded_evidence(fell: tuple[float, float], evidence: Evidence) -> dict[str, Any]:
    """The evidence of an objective unbounded below: the descent and what grew with it."""
    grower = evidence.fastest_growing_weight()
    return {
        "loss_first": fell[0],
        "loss_lowest": fell[1],
        "fastest_growing_weight": list(grower) if grower else None,
        "grad_norm_growth": evidence.grad_norm_growth(),
        "learning_rate": evidence.learning_rate,
    }


def _weight_scale(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    if not _overflowed(record):
        return None
    worst = max(evidence.layer_scales, key=lambda s: s.ratio, default=None)
    if worst is None or worst.ratio <= INIT_SCALE_FACTOR:
        return None
    started_large = (worst.initial_ratio or 0.0) > INIT_SCALE_FACTOR
    grew = evidence.step > 0 and (worst.grew if worst.initial_std is not None else True)
    if started_large or not grew:
        return Cause(
            "initializer_scale",
            f"layer {worst.layer} has weight scale {worst.std:.3g}, {worst.ratio:.0f}x the "
            f"{'He' if worst.activation in RELU_FAMILY else 'Glorot'} scale "
            f"{worst.expected_std:.3g} for fan-in {worst.fan_in} (initializer "
            f"{worst.initializer}); activations grow layer by layer until they overflow",
            _scale_evidence(worst, evidence),
            confidence=0.85 if started_large else 0.7,
        )
    return Cause(
        "learning_rate_too_high",
        f"layer {worst.layer} weights grew to scale {worst.std:.3g}, "
        f"{worst.std / max(worst.initial_std or worst.expected_std, 1e-12):.3g}x their initial "
        f"scale, within {evidence.step} steps: the updates are too large",
        _scale_evidence(worst, evidence),
        confidence=0.8,
    )


def _raw_range_features(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """Features in the hundreds (8-bit pixels never divided by 255, counts) are ten times past
    the ~[-10, 10] range networks and their learning rates are tuned for, and the gradients of
    the first layers are as many times larger: an overflow after the weights grew, or after a
    first gradient that was already huge, is theirs before the initializer's or the rate's.
    (Beyond ``UNSCALED_INPUT_ABS`` the unscaled-data rule has already named them.)"""
    features = evidence.input_abs_max
    if not _overflowed(record) or not RAW_INPUT_ABS < features <= UNSCALED_INPUT_ABS:
        return None
    grower = evidence.fastest_growing_weight()
    grew = any(s.grew for s in evidence.layer_scales) or bool(grower and grower[1] > WEIGHT_GROWTH)
    if not grew and evidence.explosive_start() is None:
        return None
    return Cause(
        "unscaled_input",
        f"the features {evidence.feature or 'of the batch'} reach |x| = {features:.3g} (raw "
        "8-bit pixels or counts?), ten times past the ~[-10, 10] range networks and their "
        "learning rates are tuned for: the first layers' gradients are as many times larger, "
        "and the first updates blew the weights up until the values overflowed",
        {
            "tensor": evidence.feature,
            "input_abs_max": features,
            "target": None,
            "target_abs_max": evidence.target_abs_max,
        },
        confidence=0.7,
    )


def _explosive_start(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """The gradient was already huge at the initial weights, before any update (the history's
    step 0), with the data in range: the network amplifies over its depth as initialized — a
    residual stack without normalization, say — and the first updates blow the weights up.
    Not the learning rate: no rate makes a first step of that size small."""
    initial = evidence.explosive_start()
    if initial is None or not _overflowed(record):
        return None
    if any((s.initial_ratio or 0.0) > INIT_SCALE_FACTOR for s in evidence.layer_scales):
        return None  # a kernel drawn far above its scale: the initializer rule names it
    # kernels each a few times above their scale compound over depth (as rule 2's squared
    # gradient does): the initializer, not the architecture, made the first step that size
    over = [s for s in evidence.layer_scales if (s.initial_ratio or 0.0) > OVER_SCALE]
    compounded = float(np.prod([s.initial_ratio for s in over])) if over else 1.0
    if compounded > INIT_SCALE_FACTOR:
        worst = max(over, key=lambda s: s.initial_ratio or 0.0)
        return Cause(
            "initializer_scale",
            f"at the initial weights, before any update (step 0), the global gradient norm was "
            f"already {initial:.3g}: {len(over)} of {len(evidence.layer_scales)} kernels start "
            f"above the {'He' if worst.activation in RELU_FAMILY else 'Glorot'} scale for "
            f"their fan-in (up to {worst.initial_ratio:.3g}x in {worst.layer}, initializer "
            f"{worst.initializer}; {compounded:.3g}x compounded over depth): activations and "
            f"gradients grow layer by layer, and the first updates blew the weights up until "
            f"step {evidence.step} overflowed",
            {
                **_scale_evidence(worst, evidence),
                # the kernel as initialized, not as the first updates left it
                "weight_std": worst.initial_std,
                "ratio": worst.initial_ratio,
                "layers": [s.layer for s in over],
                "compounded_ratio": compounded,
                "initial_grad_norm": initial,
                "at_init": True,
            },
            confidence=0.75,
        )
    return Cause(
        "gradient_explosion",
        f"at the initial weights, before any update (step 0), the global gradient norm was "
        f"already {initial:.3g}: the network amplifies over its depth as it is initialized"
        + (
            f" ({len(evidence.residual_branch_ends)} residual branches added without normalization)"
            if evidence.residual_branch_ends and not evidence.normalized
            else ""
        )
        + f", and the first updates blew the weights up until step {evidence.step} overflowed",
        {
            "initial_grad_norm": initial,
            "residual_branch_ends": list(evidence.residual_branch_ends),
            "normalized": evidence.normalized,
            "at_init": True,
            "learning_rate": evidence.learning_rate,
        },
        confidence=0.75,
    )


def _dynamics(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """Growth seen in the history before the trip: weights (update size) or gradients."""
    if evidence.step == 0 or not _overflowed(record):
        return None
    grower = evidence.fastest_growing_weight()
    if grower is not None and grower[1] > WEIGHT_GROWTH:
        name, factor, span = grower
        return Cause(
            "learning_rate_too_high",
            f"{name} grew {factor:.3g}x in norm over the last {span} healthy steps before "
            f"the overflow at step {evidence.step}: the updates are too large",
            {
                "variable": name,
                "norm_growth": factor,
                "steps": span,
                "learning_rate": evidence.learning_rate,
            },
            confidence=0.75,
        )
    growth = evidence.grad_norm_growth()
    if growth is not None and growth > GRAD_NORM_GROWTH:
        return Cause(
            "gradient_explosion",
            f"the global gradient norm grew {growth:.3g}x over the healthy steps before the "
            f"overflow at step {evidence.step}, while the weights stayed near their scale",
            {"grad_norm_growth": growth, "learning_rate": evidence.learning_rate},
            confidence=0.7,
        )
    return None


def _depth_growth(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """The backward pass itself grows: each layer multiplies the gradient until it overflows
    (forward finite, no growth over steps needed)."""
    if origin.phase != "backward" or not _overflowed(record):
        return None
    layers = [(name, value) for name, value in evidence.backward_layers if value > 0]
    if len(layers) < 3:
        return None
    first, last = layers[0][1], max(value for _, value in layers)
    steps = [b / a for (_, a), (_, b) in zip(layers, layers[1:], strict=False) if a > 0]
    amplifying = sum(1 for factor in steps if factor > 10.0)
    if last / first < 1e6 or amplifying < 2:
        return None
    gain_layer, gain = max(
        ((layers[i + 1][0], factor) for i, factor in enumerate(steps)), key=lambda t: t[1]
    )
    return Cause(
        "gradient_explosion",
        f"the forward pass is finite, but the gradient grows {last / first:.3g}x over "
        f"{len(layers)} layers of the backward pass (up to {gain:.3g}x in {gain_layer}) until "
        "it overflows",
        {
            "growth": last / first,
            "layers": len(layers),
            "amplifying_layers": amplifying,
            "largest_gain_layer": gain_layer,
            "largest_gain": gain,
            "backward_layers": [(n, float(f"{v:.3g}")) for n, v in layers[:12]],
        },
        confidence=0.75,
    )


def _exp_of_its_initial_bias(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause | None:
    """exp() in a layer whose bias alone overflows it and is still the constant it was
    initialized with: an output bias started at the target's mean on a log link (an
    ``exponential`` activation), where the first prediction is exp(bias)."""
    from nantrace.compat.tf import initial_bias_constant  # TensorFlow: only once a step ran

    subject = _exp_subject(record, evidence)
    if subject is None or subject.op_type != "Exp" or subject.layer_object is None:
        return None
    argument, dtype, limit = _exp_argument(subject)
    found = initial_bias_constant(subject.layer_object)
    if argument is None or argument < 0.9 * limit or found is None:
        return None
    bias, initial = found
    try:
        values = np.asarray(bias, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if not values.size or not np.allclose(values, initial, rtol=1e-3, atol=1e-6):
        return None  # moved since it was initialized: not the initializer's doing
    if initial < 0.5 * limit or initial < 0.5 * argument:
        return None  # the bias alone does not overflow it
    suggested = math.log(initial)
    return Cause(
        "initializer_scale",
        f"{subject.op_type} in {subject.layer} gets an argument up to {argument:.3g} and the "
        f"layer's bias alone is {initial:.3g}, the constant it was initialized with: exp "
        f"overflows {dtype} above {limit:.3g}. Its first prediction is exp(bias): a bias meant "
        f"to start the output at {initial:.3g} belongs at log({initial:.3g}) = {suggested:.3g}",
        {
            "op_type": subject.op_type,
            "layer": subject.layer,
            "argument_max": argument,
            "limit": limit,
            "initial_bias": initial,
            "variable": str(getattr(bias, "path", getattr(bias, "name", ""))).split(":")[0],
            "suggested_bias": suggested,
        },
        confidence=0.85,
    )


def _recursion_in_probability_space(
    origin: Origin, record: OpRecord, evidence: Evidence
) -> Cause | None:
    """A product or matmul in the loss, run after many of its kind (a forward algorithm, a
    running product over a sequence), overflows with every value of one input already near
    float's limit: a recursion computed in probability space, whose log-space form
    (logsumexp) cannot overflow."""
    if origin.kind != "loss" or record.op_type not in {"Mul", "MatMul", "BatchMatMulV2"}:
        return None
    if evidence.repeated_before < RECURSION_OPS or not _overflowed(record):
        return None
    if not record.inputs_finite or evidence.input_abs_max > LOOSE_INPUT_ABS:
        return None
    lows = [
        min(abs(h.min_value), abs(h.max_value))
        for h in record.float_inputs
        if h.min_value is not None and h.max_value is not None and h.min_value * h.max_value > 0
    ]
    if not lows or max(lows) < RUNNING_PRODUCT_MIN:
        return None
    return Cause(
        "unstable_loss",
        f"{record.op_type} in the loss, after {evidence.repeated_before} more of its kind (a "
        f"recursion unrolled in the step), overflows with every value of an input already at "
        f"|x| >= {max(lows):.3g}: a product over a sequence (a forward algorithm, a likelihood "
        "of many terms) computed in probability space; in log space (tf.reduce_logsumexp) it "
        "stays finite",
        {
            "op_type": record.op_type,
            "repeated": evidence.repeated_before,
            "running_min": max(lows),
            "recursion": True,
        },
        confidence=0.8,
    )


#: The rules, most specific first. Each returns a Cause or None ("does not apply").
RULES = (
    _stale_state,
    _optimizer_update,
    _captured_infinity,
    _half_constant,
    _float16_overflow,
    _where_trap,
    _domain_error,
    _not_positive_definite,
    _labels_outside_unit,
    _zero_argument,
    _exp_of_its_initial_bias,
    _exp_overflow,
    _recursion_in_probability_space,
    _missing_value_code,
    _unscaled_data,
    _recurrent,
    _unbounded_objective,
    _raw_range_features,
    _explosive_start,
    _weight_scale,
    _depth_growth,
    _dynamics,
)


def unknown(origin: Origin, record: OpRecord, evidence: Evidence) -> Cause:
    """No rule's evidence fits: say so, with what was seen."""
    growth = evidence.fastest_growing_weight()
    seen = _inf_inputs_text(record) or (
        "inputs in range, weights near their initial scale, no zero or out-of-domain argument, "
        "no growth in the history"
    )
    return Cause(
        "unknown",
        f"{record.op_type} in {record.layer or record.phase} went non-finite, but no rule's "
        f"evidence fits ({seen}); see the evidence",
        {
            "op_type": record.op_type,
            "phase": record.phase,
            "inputs": [_health_summary(h) for h in record.float_inputs],
            "input_abs_max": evidence.input_abs_max,
            "target_abs_max": evidence.target_abs_max,
            "largest_weight_ratio": max((s.ratio for s in evidence.layer_scales), default=None),
            "weight_growth": growth[1] if growth else None,
            "grad_norm_growth": evidence.grad_norm_growth(),
            "backward_layers": [(n, float(f"{v:.3g}")) for n, v in evidence.backward_layers[:12]],
            "learning_rate": evidence.learning_rate,
            "step": evidence.step,
        },
        confidence=0.0,
    )


def _inf_inputs_text(record: OpRecord) -> str | None:
    """What an origin that already read Inf (a constant, or an intended mask value) was given,
    as facts: which inputs hold how many +-Inf and exact zeros (0 x Inf and Inf - Inf are NaN).
    None when no input holds Inf."""
    if not any(h is not None and h.inf for h in record.inputs):
        return None
    parts = []
    for i, health in enumerate(record.inputs):
        if health is None:
            continue
        counts = [
            f"{n} {label}"
            for n, label in (
                (health.pos_inf, "+inf"),
                (health.neg_inf, "-inf"),
                (health.zeros, "exact zeros"),
            )
            if n
        ]
        if counts:
            parts.append(f"input {i} holds {', '.join(counts)}")
    return "; ".join(parts) + " (0 x inf and inf - inf are NaN)"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _dtype_of(record: OpRecord) -> str | None:
    out = record.result_health
    if out is not None and out.dtype:
        return out.dtype
    inputs = record.float_inputs
    return inputs[0].dtype if inputs else None


def _inputs_max(record: OpRecord) -> float:
    return max((h.max_abs for h in record.float_inputs), default=0.0)


def _min_value(record: OpRecord) -> float | None:
    values = [h.min_value for h in record.float_inputs if h.min_value is not None]
    return min(values) if values else None


def _argument_max(record: OpRecord) -> float | None:
    """The largest signed argument of an exp-family op (base for Pow: its log)."""
    inputs = record.float_inputs
    if not inputs:
        return None
    if record.op_type == "Pow":
        base = inputs[0]
        exponent = inputs[1] if len(inputs) > 1 else None
        if base.max_abs <= 1 or exponent is None or exponent.max_value is None:
            return None
        return math.log(base.max_abs) * exponent.max_value
    value = inputs[0].max_value
    if record.op_type in {"Cosh", "Sinh"}:
        return inputs[0].max_abs
    return value


def _zero_capable_output(evidence: Evidence) -> bool:
    """The model's output layer can give exact zeros: a ReLU-family activation, or a ReLU
    layer."""
    return evidence.output_activation in {"relu", "relu6"} or evidence.output_layer_class in {
        "ReLU"
    }


def _fixed_power(record: OpRecord) -> bool:
    """A ``Pow`` whose exponents are small (a polynomial's powers, ``x ** 3``): it grows like
    its base, not like an exponential of its argument."""
    inputs = record.float_inputs
    if record.op_type != "Pow" or len(inputs) < 2:
        return False
    return inputs[1].finite and inputs[1].max_abs <= MAX_POLYNOMIAL_POWER


def _exp_subject(record: OpRecord, evidence: Evidence) -> OpRecord | None:
    """The exp-family op that overflowed: the origin itself, or the forward op whose gradient
    overflowed."""
    for candidate in (record, evidence.forward_op):
        if candidate is not None and candidate.op_type in EXP_OPS and candidate.inputs_finite:
            return candidate
    return None


def _exp_argument(subject: OpRecord) -> tuple[float | None, str, float]:
    """The exp-family op's largest argument, its dtype and ln(dtype max): where exp overflows."""
    dtype = _dtype_of(subject) or "float32"
    limit = math.log(DTYPE_MAX.get(dtype, DTYPE_MAX["float32"]))
    if subject.op_type in BESSEL_OPS:  # I(z) ~ e^z / sqrt(2 pi z): overflows a little later
        limit += 0.5 * math.log(2.0 * math.pi * limit)
    return _argument_max(subject), dtype, limit


def _overflowed(record: OpRecord) -> bool:
    """The op's result is Inf (or NaN from Inf arithmetic) with finite but non-trivial inputs."""
    out = record.result_health
    if out is None or out.finite:
        return False
    return bool(out.inf) or _inputs_max(record) > 1e3 or not _has_zero_argument(record)


#: A negative argument no further below 0 than this share of its largest magnitude: rounding
#: of a quantity that is >= 0 in exact arithmetic (~100 float32 spacings).
ROUNDING_NEGATIVE = 1e-5
#: Ops whose argument such a rounding negative leaves their domain at 0.
ROOT_LIKE_OPS = frozenset({"Log", "Sqrt", "Rsqrt", "Pow"})


def _negative_by_rounding(record: OpRecord, evidence: Evidence) -> float | None:
    """The minimum of float32 / float64 eigenvalues (or singular values) that are negative by
    rounding only: those of a singular covariance or Gram matrix from eigh, below 0 by at most
    ``ROUNDING_NEGATIVE`` of their largest magnitude. A matrix root is damped: an epsilon
    larger than the rounding keeps them positive. None otherwise: an element-wise rounding
    negative (an expanded squared distance) is clamped at 0, as usual; half precision has its
    own rule (``half_cancellation``)."""
    inputs = record.float_inputs
    if record.op_type not in ROOT_LIKE_OPS or not inputs or inputs[0].dtype in HALF_DTYPES:
        return None
    if not evidence.eigenvalues:
        return None
    first = inputs[0]
    low, high = first.min_value, first.max_value
    if low is None or high is None or low >= 0 or high <= 0:
        return None
    return low if -low <= ROUNDING_NEGATIVE * first.max_abs else None


def _outside_domain(record: OpRecord) -> str | None:
    """What puts the op's argument outside its domain, or None."""
    op = record.op_type
    inputs = record.float_inputs
    if op in SOFTMAX_OPS and inputs and _all_masked_row(record):
        return (
            f"a row whose every value is -inf ({inputs[0].neg_inf} -inf of {inputs[0].size}): "
            "a row the mask leaves empty; its exp is 0 everywhere and the normalization is 0/0"
        )
    if not inputs or not record.inputs_finite:
        return None
    first = inputs[0]
    low = first.min_value
    if op in {"Log", "Sqrt", "Rsqrt", "Lgamma", "Digamma"} and low is not None and low < 0:
        return f"negative values (min {low:.3g})"
    if op == "Xlogy" and len(inputs) > 1 and inputs[1].min_value is not None:
        if inputs[1].min_value < 0:
            return f"negative values (min {inputs[1].min_value:.3g})"
    if op == "Log1p" and low is not None and low < -1:
        return f"values below -1 (min {low:.3g})"
    if op == "Pow" and low is not None and low < 0 and len(inputs) > 1:
        exponent = inputs[1]
        fractional = exponent.max_value is not None and (
            exponent.max_value != round(exponent.max_value)
            or (exponent.min_value is not None and exponent.min_value != round(exponent.min_value))
        )
        out = record.result_health
        if fractional or (out is not None and out.nan):
            return f"a negative base (min {low:.3g}) with a fractional exponent"
    if op in {"Acos", "Asin", "Atanh"} and first.max_abs > 1:
        return f"|x| up to {first.max_abs:.3g} (domain |x| <= 1)"
    if op == "Acosh" and low is not None and low < 1:
        return f"values below 1 (min {low:.3g})"
    return None


def _at_domain_edge(record: OpRecord) -> str | None:
    """A forward value exactly on the edge of the op's domain, where its derivative is
    infinite (acos/asin at |x| = 1, acosh at 1): finite forward, non-finite backward."""
    inputs = record.float_inputs
    if not inputs or not record.inputs_finite:
        return None
    first = inputs[0]
    if record.op_type in {"Acos", "Asin"} and first.max_abs == 1.0:
        return (
            "|x| = 1 exactly, the edge of its domain [-1, 1], where its derivative is "
            "infinite (a clip to [-1, 1] keeps the value, not the gradient, defined)"
        )
    if record.op_type == "Acosh" and first.min_value == 1.0:
        return "x = 1 exactly, the edge of its domain, where its derivative is infinite"
    return None


def _infinite_at_edge(record: OpRecord) -> str | None:
    """An argument exactly on the edge of the op's domain where the op itself is infinite
    (atanh at +-1), with finite inputs and an infinite result: no epsilon on the outside
    helps, a clamp strictly inside the domain does."""
    inputs = record.float_inputs
    out = record.result_health
    if not inputs or not record.inputs_finite or out is None or not out.inf:
        return None
    if record.op_type == "Atanh" and inputs[0].max_abs == 1.0:
        return "|x| = 1 exactly, the edge of its domain (-1, 1), where atanh is infinite"
    return None


def _all_masked_row(record: OpRecord) -> bool:
    """A softmax of logits holding -inf, but no NaN or +inf, that gives NaN: only a row of
    nothing but -inf does that (one finite value in a row keeps the row finite)."""
    logits, result = record.float_inputs[0], record.result_health
    return (
        logits.neg_inf > 0
        and not logits.nan
        and not logits.pos_inf
        and result is not None
        and result.nan > 0
    )


def _singular(record: OpRecord) -> bool:
    return (record.op_type in SINGULAR_GRAD_OPS or record.op_type in DOMAIN_OPS) and (
        _has_zero_argument(record)
    )


def _has_zero_argument(record: OpRecord, backward: bool = False) -> bool:
    """An exact zero where the op (or, ``backward``, its derivative) is singular: the
    denominator of a division, the argument of log/sqrt/rsqrt, the base of x**p with p < 0
    (p < 1 for the derivative), both arguments of atan2 (singular only at (0, 0): the health
    counts zeros per input, so both holding one is what the evidence can show); for ops of
    unknown arity any zero input."""
    inputs = record.float_inputs
    if not inputs:
        return False
    if record.op_type == "Atan2" and len(inputs) > 1:
        return inputs[0].zeros > 0 and inputs[1].zeros > 0
    if record.op_type in {"RealDiv", "Div", "FloorDiv", "Xdivy"} and len(inputs) > 1:
        return (
            inputs[1].zeros > 0
            or _tiny_divisor(record) is not None
            or (
                backward
                and inputs[1].min_abs_nonzero is not None
                and inputs[1].min_abs_nonzero < TINY_DIVISOR
            )
        )
    if record.op_type == "Pow" and len(inputs) > 1:
        low = inputs[1].min_value
        singular_exponent = low is not None and low < (1.0 if backward else 0.0)
        return inputs[0].zeros > 0 and singular_exponent
    if record.op_type == "Log1p":  # singular at -1: log1p(-p) of a p that rounded to 1
        return inputs[0].min_value is not None and inputs[0].min_value == -1.0
    return any(h.zeros > 0 for h in inputs)


#: A divisor this small is as good as 0: any numerator of ordinary size divided by it
#: overflows float32 (a temperature or scale annealed toward 0 without a floor).
TINY_DIVISOR = 1e-30


def _tiny_divisor(record: OpRecord) -> float | None:
    """The smallest |divisor| of a forward division that overflowed by dividing by numbers
    none of which is 0, one below ``TINY_DIVISOR``; None otherwise."""
    inputs = record.float_inputs
    out = record.result_health
    if len(inputs) < 2 or inputs[1].zeros or out is None or not out.inf or not record.inputs_finite:
        return None
    smallest = inputs[1].min_abs_nonzero
    return smallest if smallest is not None and smallest < TINY_DIVISOR else None


def _mean_of_empty(record: OpRecord) -> bool:
    out = record.result_health
    inputs = record.float_inputs
    return (
        record.op_type == "Mean"
        and bool(inputs)
        and inputs[0].size == 0
        and out is not None
        and out.nan > 0
    )


def _denominator_has_zero(record: OpRecord) -> bool:
    inputs = record.float_inputs
    return len(inputs) > 1 and inputs[1].zeros > 0 and record.op_type in DIVISION_OPS


def _zero_over_zero(record: OpRecord) -> bool:
    """A division whose NaN comes from 0/0 (x/0 with x != 0 is Inf, not NaN)."""
    out = record.result_health
    return out is not None and out.nan > 0 and out.inf == 0


def _of_probabilities(evidence: Evidence) -> bool:
    """The origin's argument is made of a probability op's outputs: near it, through mixing
    ops however far up, or from a model whose output activation makes probabilities."""
    return bool(
        evidence.upstream_ops & PROBABILITY_OPS
        or evidence.probability_source is not None
        or evidence.output_activation in PROBABILITY_ACTIVATIONS
    )


def _mixture_only(evidence: Evidence) -> bool:
    """The probabilities are a mixture of a probability op's outputs (summed far up) with no
    softmax / sigmoid next to the log and no probability output layer: no logits to take."""
    return (
        evidence.probability_mixture
        and not evidence.upstream_ops & PROBABILITY_OPS
        and evidence.output_activation not in PROBABILITY_ACTIVATIONS
    )


def _class_name(obj: Any) -> str | None:
    return type(obj).__name__ if obj is not None else None


def _looks_like_probability(record: OpRecord) -> bool:
    inputs = record.float_inputs
    arguments = inputs[1:] if record.op_type == "Xlogy" else inputs[:1]
    # log1p(-p): the argument is a negated probability
    low, high = (-1.0, 0.0) if record.op_type == "Log1p" else (0.0, 1.0)
    return all(
        h.min_value is not None
        and h.min_value >= low
        and h.max_value is not None
        and h.max_value <= high
        for h in arguments
    )


def _in_recurrent_layer(record: OpRecord, evidence: Evidence) -> str | None:
    recurrent = [entry.split(" (")[0] for entry in evidence.recurrent_layers]
    for candidate in (record, evidence.forward_op):
        layer = getattr(candidate, "layer", None)
        if layer is None:
            continue
        for name in recurrent:
            if layer == name or layer.startswith(name + "/"):
                return name
    return None


def _gated_growth(evidence: Evidence) -> tuple[str, float] | None:
    """Growth past ``RECURRENT_GROWTH`` in a layer whose cell is gated, while the weights are
    still near their initial scale: the layer itself multiplies its state (weights that grew
    over the run make any cell amplify: that is the learning rate's doing) — or, whatever the
    weights, in a gated cell whose activation does not bound the state (relu)."""
    unbounded = _unbounded_growth(evidence)
    if unbounded is not None:
        return unbounded
    grower = evidence.fastest_growing_weight()
    scales = evidence.layer_scales + evidence.model_layer_scales
    if any(s.grew for s in scales) or (grower and grower[1] > WEIGHT_GROWTH):
        return None
    return _recurrent_growth(evidence, gated=True)


def _unbounded_growth(evidence: Evidence) -> tuple[str, float] | None:
    """Growth past ``RECURRENT_GROWTH`` in a gated layer whose cell activation is unbounded."""
    grown = [
        (layer, growth)
        for layer, growth in evidence.layer_growth.items()
        if layer in evidence.unbounded_recurrent and growth > RECURRENT_GROWTH
    ]
    return max(grown, key=lambda item: item[1]) if grown else None


def _recurrent_growth(evidence: Evidence, gated: bool = False) -> tuple[str, float] | None:
    """The recurrent layer that amplifies its input most over the sequence, past
    ``RECURRENT_GROWTH``: among the ungated ones, or (``gated``) among every layer that steps a
    cell, whose gates alone keep a healthy state bounded."""
    listed = evidence.recurrent_hosts if gated else evidence.recurrent_layers
    recurrent = {entry.split(" (")[0] for entry in listed}
    worst = None
    for layer, growth in evidence.layer_growth.items():
        if (
            layer in recurrent
            and growth > RECURRENT_GROWTH
            and (worst is None or growth > worst[1])
        ):
            worst = (layer, growth)
    return worst


def _scale_evidence(scale: LayerScale, evidence: Evidence) -> dict[str, Any]:
    grower = evidence.fastest_growing_weight()
    history = (
        {"norm_growth": grower[1], "growth_variable": grower[0], "growth_steps": grower[2]}
        if grower
        else {}
    )
    return {
        **history,
        "layer": scale.layer,
        "weight_std": scale.std,
        "expected_std": scale.expected_std,
        "ratio": scale.ratio,
        "fan_in": scale.fan_in,
        "initializer": scale.initializer,
        "initial_std": scale.initial_std,
        "step": evidence.step,
    }


def _health_summary(health: Health) -> dict[str, Any]:
    return {
        "dtype": health.dtype,
        "min": health.min_value,
        "max": health.max_value,
        "zeros": health.zeros,
        "nan": health.nan,
        "inf": health.inf,
    }
