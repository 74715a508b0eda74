"""WHY a run is diverging and WHAT to change, from an early warning (nothing is non-finite yet).

A warning has no origin op to start from: the evidence is the signal that fired, the guard's
history (gradient and weight norms over the last steps), the model's layers (their weight scale
against their initializer's, ungated recurrent cells, float16 compute) and the optimizer. The
rules below map that to the same cause ids as trips; the fixes come from the trip's own builders
(:mod:`nantrace.diagnosis.fixes`), so a warning and a later trip recommend the same values. When
no rule's evidence fits, the cause is ``unknown`` with the evidence, and no fix is guessed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from nantrace.compat import tf as _tf_compat
from nantrace.diagnosis.causes import (
    INIT_SCALE_FACTOR,
    UNBOUNDED_OBJECTIVE,
    UNSCALED_INPUT_ABS,
    _scale_evidence,
    unbounded_evidence,
    unscaled_data_cause,
)
from nantrace.diagnosis.evidence import Evidence, gather_evidence
from nantrace.diagnosis.fixes import rank_fixes
from nantrace.live.early_warning import FLOAT16_MAX, signals_in
from nantrace.replay import hooks
from nantrace.report.records import Cause, Origin
from nantrace.report.warning_records import DivergenceReport, Signal

#: a kernel that grew this much (last / first norm over the history) counts as "weights grew".
WEIGHT_GROWTH = 1.5
#: weights that start this many times above their He/Glorot scale in several layers compound
#: layer by layer: their product over the layers past this is an initializer problem.
COMPOUND_INIT = INIT_SCALE_FACTOR**2


class _LayerObserver(hooks.StepObserver):
    """Collects the Keras layers a step calls (by path), nothing else: a cheap re-run."""

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.seen: dict[str, Any] = {}

    def layer_enter(self, layer: Any) -> None:
        self.stack.append(layer)
        self.seen.setdefault("/".join(item.name for item in self.stack), layer)

    def layer_exit(self, layer: Any) -> None:
        if self.stack and self.stack[-1] is layer:
            self.stack.pop()


def step_layers(watched: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The layers the step calls, found by running it once eagerly with every variable put
    back afterwards (the warning step's state stays exactly as the step left it)."""
    from nantrace.replay.step import StateSnapshot, _numpy_as_tensors, step_variables

    observer = _LayerObserver()
    snapshot = StateSnapshot.take(step_variables(watched))
    args, kwargs = _numpy_as_tensors(args, kwargs)
    try:
        with _tf_compat.functions_run_eagerly(), hooks.observing(observer):
            watched.python_fn(*args, **kwargs)
    except Exception:  # the layers seen before a failure are still evidence
        pass
    finally:
        snapshot.restore()
    return observer.seen


def diagnose_warning(
    watched: Any, step: int, bits: int, args: tuple, kwargs: dict
) -> DivergenceReport:
    """The report of one early warning: signals, cause, ranked fixes (not yet verified)."""
    from nantrace.diagnosis.origin import input_range
    from nantrace.diagnosis.pipeline import history_summary

    fired, over = watched.detector.signals(bits)
    notes: list[str] = []
    if not fired:  # the state moved on (cannot happen on the host path): say what fired
        ids = ", ".join(signals_in(bits)) or "none"
        fired = (Signal(signals_in(bits)[0] if bits else "grad_norm_growth", ids, 0.0, 0.0),)
        over = fired
    history = watched.history.read() if watched.history is not None else None
    evidence = _evidence(watched, step, args, kwargs, history, input_range, notes)
    cause = infer_warning_cause(fired, over, evidence)
    origin = _origin(step, cause, over)
    fixes = rank_fixes(origin, cause, evidence) if cause is not None else []
    if cause is not None and cause.id == "float16_range":
        # the trip's wording says the values overflow; here they are only nearing the limit
        fixes = [
            dataclasses.replace(f, rationale=f.rationale.replace("overflows", "nears"))
            for f in fixes
        ]
    return DivergenceReport(
        step=step,
        signal=fired[0],
        signals=over,
        cause=cause,
        fixes=tuple(fixes),
        history=history_summary(history),
        notes=tuple(notes),
    )


def _evidence(
    watched: Any,
    step: int,
    args: tuple,
    kwargs: dict,
    history: Any,
    input_range: Any,
    notes: list[str],
) -> Evidence:
    batch_max = input_range(args, kwargs)
    if batch_max > UNSCALED_INPUT_ABS:
        # Whether the large tensor is a feature or a target decides the cause: only a full
        # replay knows which batch tensors reach a layer. Rare (a large batch), so paid then.
        try:
            return _replayed_evidence(watched, step, args, kwargs, history, batch_max)
        except Exception as error:  # evidence is best effort; the warning itself stands
            notes.append(
                f"the batch tensors' roles are unknown, so no data cause is named "
                f"({type(error).__name__}: {error})"
            )
    layers: dict[str, Any] = {}
    try:
        layers = step_layers(watched, args, kwargs)
    except Exception as error:
        notes.append(f"the step's layers could not be listed ({type(error).__name__})")
    if not layers and watched.model is not None:
        layers = {layer.name: layer for layer in getattr(watched.model, "layers", [])}

    evidence = gather_evidence(step, batch_max, None, list(watched.optimizers), history)
    if layers:
        from nantrace.diagnosis.evidence import (
            _activation_name,
            _is_ungated_recurrent,
            layer_scales,
        )

        evidence.layer_scales = layer_scales(layers)
        evidence.recurrent_layers = [
            f"{path} ({type(layer).__name__})"
            for path, layer in layers.items()
            if _is_ungated_recurrent(layer)
        ]
        evidence.output_activation = _activation_name(layers[list(layers)[-1]])
        for layer in layers.values():
            compute = getattr(getattr(layer, "dtype_policy", None), "compute_dtype", None)
            if compute in ("float16", "bfloat16"):
                evidence.half_precision = True
    evidence.arguments = watched.argument_names(args, kwargs)
    return evidence


def _replayed_evidence(
    watched: Any, step: int, args: tuple, kwargs: dict, history: Any, batch_max: float
) -> Evidence:
    """Evidence from one recorded eager re-run of the warning step (state put back after it):
    the layers it called and each batch tensor's role (feature or target), as trips read them."""
    from nantrace.replay.failing_path import failing_path
    from nantrace.replay.graph import build_graph
    from nantrace.replay.step import replay_step

    capture = replay_step(watched, args, kwargs)
    if not capture.layers_seen:
        raise LookupError("the replay saw no layer")
    graph = build_graph(capture.records)
    path = failing_path(capture, graph, None)
    evidence = gather_evidence(
        step, batch_max, capture, list(watched.optimizers), history, path=path, graph=graph
    )
    evidence.arguments = watched.argument_names(args, kwargs)
    return evidence


def infer_warning_cause(
    fired: tuple[Signal, ...], over: tuple[Signal, ...], evidence: Evidence
) -> Cause:
    """The first rule whose evidence fits (float16 range, initializer scale, unscaled data,
    recurrent explosion, learning rate, gradient explosion), else ``unknown`` with the
    evidence."""
    ids = {s.id for s in over}
    for rule in (
        _float16,
        _initializer,
        _unscaled_data,
        _recurrent,
        _unbounded_objective,
        _learning_rate,
        _gradient_explosion,
    ):
        cause = rule(ids, over, evidence)
        if cause is not None:
            return cause
    grower = evidence.fastest_growing_weight()
    return Cause(
        "unknown",
        f"{fired[0].summary}; no rule's evidence fits (weights, initializers, recurrent "
        "layers and float16 ranges look ordinary), so no cause is guessed",
        {
            "signals": [s.id for s in over],
            "learning_rate": evidence.learning_rate,
            "grad_norm_growth": evidence.grad_norm_growth(),
            "fastest_growing_weight": list(grower) if grower else None,
        },
        confidence=0.0,
    )


def _float16(ids: set[str], over: tuple[Signal, ...], evidence: Evidence) -> Cause | None:
    signal = next((s for s in over if s.id == "float16_range"), None)
    if signal is None:
        return None
    return Cause(
        "float16_range",
        f"float16 values reach |x| = {signal.value:.4g}, {signal.value / FLOAT16_MAX:.0%} of "
        f"float16's limit {FLOAT16_MAX:g}; a little more growth and they overflow to inf",
        {
            "abs_max": signal.value,
            "limit": FLOAT16_MAX,
            "dtype": "float16",
            "variable": signal.variable,
            "loss_scaling": evidence.loss_scaling,
        },
        confidence=0.8,
    )


def _initializer(ids: set[str], over: tuple[Signal, ...], evidence: Evidence) -> Cause | None:
    scales = [s for s in evidence.layer_scales if s.initial_ratio is not None]
    if not scales:
        return None
    worst = max(scales, key=lambda s: s.initial_ratio or 0.0)
    compound = math.prod(max(s.initial_ratio or 1.0, 1.0) for s in scales)
    if (worst.initial_ratio or 0.0) <= INIT_SCALE_FACTOR and compound <= COMPOUND_INIT:
        return None
    large = [s.layer for s in scales if (s.initial_ratio or 0.0) > 2.0]
    return Cause(
        "initializer_scale",
        f"layer {worst.layer} starts with weight scale {worst.initial_std:.3g}, "
        f"{worst.initial_ratio:.0f}x the scale {worst.expected_std:.3g} its fan-in "
        f"{worst.fan_in} calls for ({worst.initializer}); over {len(large)} such layer(s) the "
        f"activations and gradients grow {compound:.3g}x and the run diverges",
        {
            **_scale_evidence(worst, evidence),
            "ratio": worst.initial_ratio,
            "weight_std": worst.initial_std,
            "compound_ratio": compound,
            "large_layers": large,
        },
        confidence=0.75,
    )


def _unscaled_data(ids: set[str], over: tuple[Signal, ...], evidence: Evidence) -> Cause | None:
    """A feature or target far outside ~[-10, 10] makes every gradient, and so every update, as
    large as it is: the step size that would be stable is tiny, and rescaling the data is the fix
    a smaller learning rate only works around. Needs the tensor's role (from the replay)."""
    if evidence.feature is None and evidence.target is None:
        return None
    return unscaled_data_cause(
        evidence,
        "and so do the updates, which keep growing the weights",
        "the weights grow with it",
    )


def _recurrent(ids: set[str], over: tuple[Signal, ...], evidence: Evidence) -> Cause | None:
    if not evidence.recurrent_layers or not ids & {"grad_norm_growth", "weight_norm_growth"}:
        return None
    layer = evidence.recurrent_layers[0].split(" (")[0]
    growth = evidence.grad_norm_growth()
    return Cause(
        "recurrent_explosion",
        f"the gradients of the ungated recurrent layer {layer} compound over the time steps "
        "of each sequence"
        + (f"; the global gradient norm grew {growth:.3g}x" if growth else "")
        + " and keeps growing",
        {"layer": layer, "growth": growth, "recurrent_layers": evidence.recurrent_layers},
        confidence=0.7,
    )


def _unbounded_objective(
    ids: set[str], over: tuple[Signal, ...], evidence: Evidence
) -> Cause | None:
    """Growth while the loss falls far below zero, step after step: the objective rewards it
    (a loss term with the wrong sign), so neither the learning rate nor exploding gradients is
    the cause; ``unknown`` with the descent as evidence (see ``causes._unbounded_objective``)."""
    fell = evidence.loss_fell_without_bound()
    if fell is None:
        return None
    return Cause(
        "unknown",
        f"{over[0].summary}; the loss fell steadily from {fell[0]:.3g} to {fell[1]:.3g}: "
        f"{UNBOUNDED_OBJECTIVE}",
        {"signals": [s.id for s in over], **unbounded_evidence(fell, evidence)},
        confidence=0.0,
    )


def _learning_rate(ids: set[str], over: tuple[Signal, ...], evidence: Evidence) -> Cause | None:
    grower = evidence.fastest_growing_weight()
    grew = grower is not None and grower[1] > WEIGHT_GROWTH
    if not ids & {"weight_norm_growth", "update_ratio"} and not grew:
        return None
    signal = next((s for s in over if s.id in ("weight_norm_growth", "update_ratio")), over[0])
    summary = f"{signal.summary}: the updates are too large for this model"
    if grower is not None and grew:
        summary += f" ({grower[0]} grew {grower[1]:.3g}x in norm over {grower[2]} steps)"
    return Cause(
        "learning_rate_too_high",
        summary,
        {
            "signal": signal.id,
            "variable": signal.variable or (grower[0] if grower else None),
            "norm_growth": grower[1] if grower else None,
            "steps": grower[2] if grower else None,
            "learning_rate": evidence.learning_rate,
        },
        confidence=0.75,
    )


def _gradient_explosion(
    ids: set[str], over: tuple[Signal, ...], evidence: Evidence
) -> Cause | None:
    if "grad_norm_growth" not in ids:
        return None
    signal = next(s for s in over if s.id == "grad_norm_growth")
    return Cause(
        "gradient_explosion",
        f"{signal.summary}, while the weights stay near their scale",
        {
            "grad_norm_growth": signal.value,
            "baseline": signal.baseline,
            "learning_rate": evidence.learning_rate,
        },
        confidence=0.65,
    )


def _origin(step: int, cause: Cause | None, over: tuple[Signal, ...]) -> Origin:
    """The Origin the fix builders read (a warning has no op: only the phase and layer)."""
    layer = None
    if cause is not None:
        layer = cause.evidence.get("layer") or cause.evidence.get("variable")
    phase = "forward" if cause is not None and cause.id == "float16_range" else "update"
    return Origin(kind="unknown", phase=phase, step=step, layer=layer)
