"""The live pipeline's diagnosis, fed from a checkpoint: ``nantrace scan`` and ``nantrace diff``
draw their cause from :func:`nantrace.diagnosis.causes.infer_cause` (the same ordered ``RULES``)
and their fixes from :func:`nantrace.diagnosis.fixes.rank_fixes`, so one state gets one cause id
whichever command looks at it.

A checkpoint holds no ops, only variables; this module turns what the variables show into the
``Origin``, the one op record and the ``Evidence`` the rules read. The one op a post-mortem can
rebuild is the optimizer's update of a variable, from its slots: SGD's momentum *is* the last
update, Adam's and AdamW's is ``lr * m_hat / (sqrt(v_hat) + epsilon)`` (for Nadam and Lamb, whose
updates differ in detail, the same formula is an approximation). Which state gives which origin:

* an update rebuilt from finite slots that is non-finite (0/0 with epsilon 0), whether its
  weight already went non-finite or not: the update's division, ``optimizer_update`` in phase
  ``update`` (as the live capture records it);
* a weight non-finite while its slots and its rebuilt update are finite: the update did not
  make it, so it was non-finite before: the step's read of it, ``ReadVariableOp`` (what the live
  report sees when training resumes from that state);
* a weight non-finite with non-finite slots (or no slots to rebuild the update from): its
  gradient was non-finite; which op made it is not in the file, so the record carries no inputs
  and only the state's evidence (weight scale, input scale, growth) decides;
* a non-trainable weight non-finite (a BatchNormalization statistic): its layer's forward op,
  again without inputs;
* nothing non-finite but a flag (weight scale, huge values, BatchNormalization statistics,
  growth between two checkpoints): *projected*, the overflow this state heads for in the flagged
  layer's forward op; ``projected`` says so and a note repeats it.

What the post-mortem cannot know (the batch, the loss, which op, the gradient-norm history) is
left empty, so the rules say ``unknown`` rather than guess.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from nantrace.diagnosis.evidence import Evidence, LayerScale, expected_std
from nantrace.postmortem.checkpoint import Checkpoint, Variable
from nantrace.postmortem.format_tf import tensorflow
from nantrace.postmortem.layout import NON_TRAINABLE_KINDS
from nantrace.replay.health import health_of_array
from nantrace.report.records import Cause, Fix, Health, Origin

if TYPE_CHECKING:
    from nantrace.postmortem.scan import VariableStats

#: Optimizers whose update is ``lr * m_hat / (sqrt(v_hat) + epsilon)`` (Adamax uses max, not sqrt).
ADAM_FAMILY = frozenset({"Adam", "AdamW", "Nadam", "Lamb", "Adamax"})
#: Keras's default epsilon, assumed when the file does not record one.
KERAS_EPSILON = 1e-7
#: Adam moves each weight by at most about ``(1 - beta_1) / sqrt(1 - beta_2) * lr`` per step
#: (3.16 x lr at the defaults): a lower bound on the initial scale of a weight.
ADAM_STEP_BOUND = 3.2
KERNEL_KINDS = frozenset({"kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel"})
#: The kernel the live evidence reads per layer (``evidence.kernel_of``), best first.
_MAIN_KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel")
PROJECTED_NOTE = (
    "nothing in this state is non-finite yet: the cause is what the rules say of the overflow it "
    "heads for, in the forward op of {layer} (the layer its statistics flag)"
)


@dataclass(frozen=True)
class Update:
    """The optimizer's update of one variable, rebuilt from its slots.

    Attributes:
        value: the update (what ``assign_sub`` / ``assign_add`` applies).
        numerator / denominator: for the Adam family, ``lr * m_hat`` and ``sqrt(v_hat) + eps``.
    """

    value: np.ndarray
    numerator: np.ndarray | None = None
    denominator: np.ndarray | None = None


@dataclass(frozen=True)
class StateDiagnosis:
    """What the rules say about one saved state.

    Attributes:
        origin: where the post-mortem locates the problem (None: nothing to explain).
        cause: the rules' cause (``unknown`` when none fits), None with no origin.
        fixes: ``rank_fixes`` for that cause (none for ``unknown``).
        projected: the origin is the overflow a finite state heads for, not a value seen.
        notes: what was inferred or assumed on the way.
    """

    origin: Origin | None = None
    cause: Cause | None = None
    fixes: tuple[Fix, ...] = ()
    projected: bool = False
    notes: tuple[str, ...] = ()


def rebuild_update(
    variable: Variable, checkpoint: Checkpoint, epsilon: float | None = None
) -> Update | None:
    """The last update of ``variable`` from its slots (SGD momentum, Adam family but Adamax);
    None for other optimizers or without the slots, step counter or learning rate needed."""
    state = checkpoint.optimizer
    if state is None:
        return None
    slots = {s.slot: s.values for s in checkpoint.slots_of(variable.name)}
    if state.class_name == "SGD" and "momentum" in slots:
        return Update(np.asarray(slots["momentum"], dtype=np.float64))
    if state.class_name in ADAM_FAMILY - {"Adamax"} and {"momentum", "velocity"} <= set(slots):
        lr, t = state.learning_rate, state.iterations
        if not lr or not t or not math.isfinite(lr):
            return None
        beta_1 = state.beta_1 if state.beta_1 is not None else 0.9
        beta_2 = state.beta_2 if state.beta_2 is not None else 0.999
        if epsilon is None:
            epsilon = state.epsilon if state.epsilon is not None else KERAS_EPSILON
        # the update runs in the variable's dtype: 1e-8 is 0 in float16
        epsilon = float(np.asarray(epsilon, dtype=variable.values.dtype))
        m = np.asarray(slots["momentum"], dtype=np.float64) / (1.0 - beta_1**t)
        v = np.asarray(slots["velocity"], dtype=np.float64) / (1.0 - beta_2**t)
        with np.errstate(all="ignore"):
            numerator = lr * m
            denominator = np.sqrt(v) + epsilon
            return Update(numerator / denominator, numerator, denominator)
    return None


def diagnose_state(
    checkpoint: Checkpoint,
    stats: list[VariableStats],
    *,
    history: Any = None,
    grown: tuple[str, ...] = (),
) -> StateDiagnosis:
    """Origin, cause and fixes for ``checkpoint`` from its variable statistics.

    ``history`` (a :class:`nantrace.live.history.HistoryRecord`) and ``grown`` (weights that grew
    abnormally) come from ``nantrace diff``: the earlier checkpoint's norms."""
    notes: list[str] = []
    epsilon = _epsilon(checkpoint, stats, notes)
    site = _locate(checkpoint, stats, epsilon, grown)
    if site is None:
        return StateDiagnosis()
    tensorflow()  # the record type lives beside the capture, which imports TensorFlow
    from nantrace.diagnosis.causes import infer_cause
    from nantrace.diagnosis.fixes import rank_fixes
    from nantrace.replay.capture import OpRecord

    producers = [None] * len(site.record["inputs"])  # no op of the step made its inputs
    record = OpRecord(index=0, source=None, producers=producers, **site.record)
    evidence = _evidence(checkpoint, stats, epsilon, history, list(site.stale), notes)
    cause = infer_cause(site.origin, record, evidence)
    fixes = rank_fixes(site.origin, cause, evidence)
    if site.projected:
        notes.append(PROJECTED_NOTE.format(layer=site.origin.layer or "the flagged layer"))
    return StateDiagnosis(site.origin, cause, tuple(fixes), site.projected, tuple(notes))


# ---------------------------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Site:
    """Where the rules are asked: the origin, the fields of the one op record, the variables
    already non-finite before the step (``evidence.stale_variables``), whether projected."""

    origin: Origin
    record: dict[str, Any]
    stale: tuple[str, ...] = ()
    projected: bool = False


def _locate(
    checkpoint: Checkpoint,
    stats: list[VariableStats],
    epsilon: float | None,
    grown: tuple[str, ...],
) -> _Site | None:
    """Where to ask the rules, or None when there is nothing to explain."""
    by_name = checkpoint.by_name()
    step = checkpoint.step or 0
    weights = [s for s in stats if s.role == "weight"]
    trainable = [s for s in weights if s.kind not in NON_TRAINABLE_KINDS]
    bad_slots = {
        s.name: [v for v in checkpoint.slots_of(s.name) if not np.isfinite(v.values).all()]
        for s in trainable
    }
    updates = {
        s.name: rebuild_update(by_name[s.name], checkpoint, epsilon)
        for s in trainable
        if not bad_slots[s.name]
    }
    bad = [s for s in trainable if s.non_finite]
    # 1. a non-finite update rebuilt from finite slots (0/0 with epsilon 0), applied or next
    for s in bad + [s for s in trainable if not s.non_finite]:
        update = updates.get(s.name)
        if update is None or update.denominator is None or np.isfinite(update.value).all():
            continue
        terms = [_health(update.numerator, s.dtype), _health(update.denominator, s.dtype)]
        result = _health(update.value, s.dtype)
        return _site("optimizer_update", "update", step, s, "RealDiv", terms, result)
    stale = [
        s.name
        for s in bad
        if updates.get(s.name) is not None and np.isfinite(updates[s.name].value).all()
    ]
    if bad and bad[0].name in stale:
        # 2. its update was finite: the value was already non-finite before that update
        read = _health(by_name[bad[0].name])
        site = _site("optimizer_update", "forward", step, bad[0], "ReadVariableOp", [], read)
        return dataclasses.replace(site, stale=tuple(stale))
    gradient = bad or [s for s in trainable if bad_slots[s.name]]
    if gradient:
        # 3. its slots are non-finite (the gradient was), or no update can be rebuilt
        first = gradient[0]
        source = bad_slots[first.name][0] if bad_slots[first.name] else by_name[first.name]
        return _site("gradient", "backward", step, first, "gradient", [], _health(source))
    statistics = [s for s in weights if s.non_finite]
    if statistics:
        # a non-trainable weight (BatchNormalization statistics) went non-finite in the forward
        # pass that updates it; which op is not in the file
        first = statistics[0]
        value = _health(by_name[first.name])
        return _site("activation", "forward", step, first, _forward_op(first), [], value)
    flagged = _flagged(weights, grown)
    if flagged is None:
        return None
    # 4. projected: the overflow a finite but abnormal state heads for
    kernel = _health(by_name[flagged.name])
    op_type = _forward_op(flagged)
    kind = "matmul_overflow" if op_type in ("MatMul", "Conv2D", "Conv3D") else "activation"
    overflow = Health(pos_inf=1, size=1, dtype=kernel.dtype)
    site = _site(kind, "forward", step, flagged, op_type, [kernel], overflow)
    # the overflow is expected, not seen: the origin names no value and no variable
    origin = dataclasses.replace(site.origin, output=None, variable=None)
    return dataclasses.replace(site, origin=origin, projected=True)


def _site(
    kind: str,
    phase: str,
    step: int,
    s: VariableStats,
    op_type: str,
    inputs: list[Health],
    output: Health,
) -> _Site:
    """The origin and the op record's fields for one op of ``s``'s layer."""
    op_name = {
        "ReadVariableOp": f"{s.name}/Read",
        "RealDiv": f"{s.name}/update",
        "gradient": f"gradient of {s.name}",
    }.get(op_type, "")
    origin = Origin(
        kind=kind,
        phase=phase,
        step=step,
        op_type=op_type if op_type != "gradient" else None,
        op_name=op_name or None,
        layer=s.layer,
        inputs=tuple(inputs),
        output=output,
        variable=s.name,
    )
    fields = {
        "op_type": op_type,
        "phase": phase,
        "layer": s.layer,
        "inputs": list(inputs),
        "outputs": [output],
        "op_name": op_name,
        # the live capture ties reads and updates to their variable
        "variable": s.name if op_type in ("ReadVariableOp", "RealDiv") else None,
        # the update a checkpoint's slots reconstruct is the optimizer's own
        "in_optimizer": phase == "update",
    }
    return _Site(origin, fields)


def _flagged(weights: list[VariableStats], grown: tuple[str, ...]) -> VariableStats | None:
    """The variable a finite state's trouble points at: the worst-scaled kernel, else the
    largest weight, a kernel whose update is unstable, a float16 one near its range, a
    BatchNormalization statistic, or (diff) the first of ``grown`` (fastest first)."""
    by_flag = [
        ("scale", lambda s: s.scale_ratio or 0.0),
        ("huge", lambda s: s.max_abs),
        ("unstable_update", lambda s: s.update_ratio or 0.0),
        ("float16_range", lambda s: s.max_abs),
    ]
    for flag, key in by_flag:
        hits = [s for s in weights if flag in s.flags]
        trainable = [s for s in hits if s.kind not in NON_TRAINABLE_KINDS]
        if trainable or hits:
            return max(trainable or hits, key=key)
    by_name = {s.name: s for s in weights}
    return next((by_name[name] for name in grown if name in by_name), None)


def _forward_op(s: VariableStats) -> str:
    if s.kind in ("moving_mean", "moving_variance", "gamma", "beta"):
        return "FusedBatchNormV3"
    if s.kind in ("embeddings",):
        return "ResourceGather"
    if len(s.shape) == 4 or s.kind == "depthwise_kernel":
        return "Conv2D"
    if len(s.shape) == 5:
        return "Conv3D"
    return "MatMul"


# ---------------------------------------------------------------------------------------------
# evidence
# ---------------------------------------------------------------------------------------------
def _epsilon(checkpoint: Checkpoint, stats: list[VariableStats], notes: list[str]) -> float | None:
    """The optimizer's epsilon: recorded, or inferred as 0 when a weight is NaN exactly where
    its Adam velocity is 0 (with any epsilon > 0 that update is 0 / epsilon = 0, finite)."""
    state = checkpoint.optimizer
    if state is None or state.class_name not in ADAM_FAMILY:
        return state.epsilon if state is not None else None
    if state.epsilon is not None:
        return state.epsilon
    by_name = checkpoint.by_name()
    for s in stats:
        if s.role != "weight" or not s.non_finite:
            continue
        values = by_name[s.name].values
        velocity = next(
            (v.values for v in checkpoint.slots_of(s.name) if v.slot == "velocity"), None
        )
        if velocity is None or velocity.shape != values.shape or not np.isfinite(velocity).all():
            continue
        bad = ~np.isfinite(values)
        if not bad.all() and (velocity[bad] == 0).all():
            half = (
                f" in {s.dtype} (an epsilon below "
                f"{float(np.finfo(s.dtype).smallest_subnormal) / 2:.2g}"
                f" is 0 there too: then the live report says float16_range)"
                if s.dtype == "float16"
                else ""
            )
            notes.append(
                f"the file does not record the optimizer's epsilon; {s.name} is NaN/Inf exactly "
                f"where its Adam velocity is 0, which only epsilon = 0{half} gives: taken as 0"
            )
            return 0.0
    return None


def _evidence(
    checkpoint: Checkpoint,
    stats: list[VariableStats],
    epsilon: float | None,
    history: Any,
    stale: list[str],
    notes: list[str],
) -> Evidence:
    state = checkpoint.optimizer
    lr = state.learning_rate if state is not None else None
    evidence = Evidence(
        step=checkpoint.step or 0,
        input_abs_max=_input_scale(stats),
        layer_scales=_layer_scales(checkpoint, stats),
        learning_rate=lr,
        optimizer_epsilon=epsilon,
        optimizer_name=state.class_name if state is not None else None,
        half_precision=any(s.dtype in ("float16", "bfloat16") for s in stats),
        history=history,
        iterations=state.iterations if state is not None else None,
        stale_variables=stale,
    )
    if checkpoint.layers:
        evidence.output_activation = list(checkpoint.layers.values())[-1].activation
    return evidence


def _input_scale(stats: list[VariableStats]) -> float:
    """The scale of what enters a BatchNormalization layer whose moving variance is flagged
    huge (std = sqrt(variance)), the only trace of the batch a checkpoint keeps; else 0."""
    variances = [
        s.max_abs for s in stats if s.kind == "moving_variance" and "huge" in s.flags and s.rms > 0
    ]
    return math.sqrt(max(variances)) if variances else 0.0


def _layer_scales(checkpoint: Checkpoint, stats: list[VariableStats]) -> list[LayerScale]:
    """Per layer, its main finite kernel against He/Glorot, as ``evidence.layer_scales`` reads a
    live model. An unknown activation gets Glorot (what the live evidence gives an activation
    outside the ReLU family); an unknown initial scale under Adam is bounded from below by how
    far Adam can move a weight: ``rms - 3.2 * lr * steps``."""
    state = checkpoint.optimizer
    drift = None
    if (
        state is not None
        and state.class_name in ADAM_FAMILY
        and state.learning_rate
        and math.isfinite(state.learning_rate)
        and checkpoint.step
    ):
        drift = ADAM_STEP_BOUND * state.learning_rate * checkpoint.step
    chosen: dict[str, VariableStats] = {}
    for s in stats:
        if s.role != "weight" or s.kind not in _MAIN_KERNELS or not s.layer or s.non_finite:
            continue
        if s.expected_rms is None or s.fan_in is None:
            continue
        current = chosen.get(s.layer)
        if current is None or _MAIN_KERNELS.index(s.kind) < _MAIN_KERNELS.index(current.kind):
            chosen[s.layer] = s
    scales = []
    for layer, s in chosen.items():
        activation = _activation(checkpoint, layer)
        reference = s.expected_rms
        if activation is None:
            reference, _ = expected_std(SimpleNamespace(activation=None), s.shape)
        initial = s.initial_rms
        if initial is None and drift is not None:
            initial = max(s.rms - drift, 0.0)
        scales.append(
            LayerScale(
                layer=layer,
                std=s.rms,
                expected_std=reference,
                fan_in=s.fan_in,
                initializer=s.initializer,
                activation=activation,
                initial_std=initial,
            )
        )
    return scales


def _activation(checkpoint: Checkpoint, layer: str) -> str | None:
    for name in reversed(layer.split("/")):
        if name in checkpoint.layers:
            return checkpoint.layers[name].activation
    return None


def _health(values: np.ndarray | Variable, dtype: str | None = None) -> Health:
    if isinstance(values, Variable):
        return health_of_array(values.values, values.dtype)
    return health_of_array(np.asarray(values), dtype)
