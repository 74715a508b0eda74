"""``nantrace scan``: what a checkpoint's state alone says about a run that went (or is going) bad.

Per variable and per layer: NaN/Inf counts, max|w|, norm, RMS against the He/Glorot scale for the
kernel's fan-in (``nantrace.diagnosis.evidence.expected_std``, the reference of a live diagnosis),
optimizer slots included, and the flags and verdict they give. The cause and the fixes are the live
pipeline's: :mod:`nantrace.postmortem.evidence` turns these statistics into the ``Evidence`` the
rules of :mod:`nantrace.diagnosis.causes` read, and :func:`nantrace.diagnosis.fixes.rank_fixes`
ranks the fixes.

The JSON form (``ScanReport.to_json``, :mod:`nantrace.postmortem.schema`) is a stable schema,
documented in docs/scan.md; the text form is :mod:`nantrace.postmortem.text`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from nantrace.diagnosis.causes import FLOAT16_MAX, INIT_SCALE_FACTOR
from nantrace.diagnosis.evidence import RELU_FAMILY, expected_std, initializer_std
from nantrace.postmortem.checkpoint import Checkpoint, Variable
from nantrace.postmortem.evidence import (
    ADAM_FAMILY,
    KERNEL_KINDS,
    diagnose_state,
    rebuild_update,
)
from nantrace.postmortem.schema import SCHEMA_VERSION, check_schema, dumps
from nantrace.report.records import Cause, Fix, Origin

VERDICTS = ("ok", "abnormal", "non_finite")
#: ``flags`` a variable can carry.
FLAGS = ("non_finite", "scale", "huge", "unstable_update", "float16_range", "zero_velocity")

#: Any weight whose magnitude passes this is abnormal whatever its layer: products of such
#: weights with activations of order 1 overflow float16 and approach float32's range in deep nets.
HUGE_ABS = 1e6
#: An optimizer epsilon at or below this cannot keep ``m / (sqrt(v) + eps)`` finite when v = 0.
TINY_EPSILON = 1e-12
#: A kernel whose next update is half its own size is flagged even while everything is finite.
UPDATE_FLAG_RATIO = 0.5
#: Keras initializers whose std is set by class (VarianceScaling subclasses): (scale, mode).
_VARIANCE_SCALING = {
    "GlorotUniform": (1.0, "fan_avg"),
    "GlorotNormal": (1.0, "fan_avg"),
    "HeNormal": (2.0, "fan_in"),
    "HeUniform": (2.0, "fan_in"),
    "LecunNormal": (1.0, "fan_in"),
    "LecunUniform": (1.0, "fan_in"),
}
NOT_FROM_STATE = (
    "a checkpoint holds no batch and no ops: causes that need them (non_finite_input, "
    "unstable_loss, domain_error, exp_overflow, where_gradient_trap, and unscaled_input unless a "
    "BatchNormalization layer's statistics show it) cannot be read from it; wrap the training "
    "step in @nantrace.watch to catch the first non-finite op"
)
#: BatchNormalization statistics: a moving variance this large means the activations entering
#: the layer have a std of ~1e3 or more (what ``nantrace.diagnosis.causes`` calls unscaled input).
BN_VARIANCE_HUGE = 1e6


@dataclass(frozen=True)
class VariableStats:
    """Health of one saved variable.

    Attributes:
        name / key / role / layer / kind / slot / slot_of: as in ``checkpoint.Variable``.
        nan / pos_inf / neg_inf / zeros: element counts.
        max_abs / norm / rms: over the finite elements (0.0 when none is finite).
        expected_rms: the He (ReLU family) or Glorot std for the kernel's fan-in (kernels only).
        scale_rule: ``He``, ``Glorot``, or ``He (activation unknown)`` when the file does not
            record the activation (He is the larger of the two, so it is the safe bar).
        scale_ratio: ``rms / expected_rms`` (None when the kernel holds NaN/Inf).
        initial_rms: the std the layer's initializer draws (from a .keras config), else None.
        update_ratio: RMS of the optimizer's next update over the weight's RMS, rebuilt from
            its slots (SGD momentum: the slot is the last update; Adam: lr·m̂/(√v̂+ε)); None
            for other optimizers. Above ~0.1 the weights move by a tenth of themselves per step.
        flags: subset of ``FLAGS``.
    """

    name: str
    key: str
    role: str
    dtype: str
    shape: tuple[int, ...]
    size: int
    nan: int
    pos_inf: int
    neg_inf: int
    zeros: int
    max_abs: float
    norm: float
    rms: float
    layer: str | None = None
    kind: str | None = None
    slot: str | None = None
    slot_of: str | None = None
    fan_in: int | None = None
    expected_rms: float | None = None
    scale_rule: str | None = None
    scale_ratio: float | None = None
    initial_rms: float | None = None
    initializer: str | None = None
    update_ratio: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def non_finite(self) -> int:
        return self.nan + self.pos_inf + self.neg_inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "role": self.role,
            "layer": self.layer,
            "kind": self.kind,
            "slot": self.slot,
            "slot_of": self.slot_of,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "size": self.size,
            "nan": self.nan,
            "pos_inf": self.pos_inf,
            "neg_inf": self.neg_inf,
            "zeros": self.zeros,
            "max_abs": self.max_abs,
            "norm": self.norm,
            "rms": self.rms,
            "fan_in": self.fan_in,
            "expected_rms": self.expected_rms,
            "scale_rule": self.scale_rule,
            "scale_ratio": self.scale_ratio,
            "initial_rms": self.initial_rms,
            "initializer": self.initializer,
            "update_ratio": self.update_ratio,
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariableStats:
        data = dict(data)
        data["shape"] = tuple(data["shape"])
        data["flags"] = tuple(data.get("flags", ()))
        return cls(**data)


@dataclass(frozen=True)
class LayerStats:
    """Health of one layer's weights (its optimizer slots counted apart).

    Attributes:
        parameters: elements in the layer's weights.
        non_finite: non-finite elements in its weights; ``slot_non_finite`` in its slots.
        max_abs / norm: over the finite elements of its weights.
        kernel / kernel_rms / expected_rms / scale_ratio / scale_rule: for the layer's main
            kernel, when it has one.
        status: ``ok``, ``abnormal`` or ``non_finite``.
    """

    name: str
    variables: tuple[str, ...]
    parameters: int
    non_finite: int
    slot_non_finite: int
    max_abs: float
    norm: float
    status: str
    kernel: str | None = None
    kernel_rms: float | None = None
    expected_rms: float | None = None
    scale_ratio: float | None = None
    scale_rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "variables": list(self.variables),
            "parameters": self.parameters,
            "non_finite": self.non_finite,
            "slot_non_finite": self.slot_non_finite,
            "max_abs": self.max_abs,
            "norm": self.norm,
            "kernel": self.kernel,
            "kernel_rms": self.kernel_rms,
            "expected_rms": self.expected_rms,
            "scale_ratio": self.scale_ratio,
            "scale_rule": self.scale_rule,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerStats:
        data = dict(data)
        data["variables"] = tuple(data.get("variables", ()))
        return cls(**data)


@dataclass(frozen=True)
class ScanReport:
    """What ``nantrace scan`` found in one checkpoint. ``to_dict`` is the JSON schema."""

    path: str
    format: str
    verdict: str
    variables: tuple[VariableStats, ...]
    layers: tuple[LayerStats, ...]
    causes: tuple[Cause, ...] = ()
    fixes: tuple[Fix, ...] = ()
    step: int | None = None
    optimizer: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    #: where the rules were asked (see ``nantrace.postmortem.evidence``); None when all is ok.
    origin: Origin | None = None
    #: the origin is the overflow a finite state heads for, not a value in the file.
    projected: bool = False

    @property
    def summary(self) -> dict[str, int]:
        return {
            "variables": len(self.variables),
            "weights": sum(v.role == "weight" for v in self.variables),
            "slots": sum(v.role == "slot" for v in self.variables),
            "elements": sum(v.size for v in self.variables),
            "non_finite_variables": sum(v.non_finite > 0 for v in self.variables),
            "non_finite_elements": sum(v.non_finite for v in self.variables),
            "flagged_variables": sum(bool(v.flags) for v in self.variables),
            "layers": len(self.layers),
        }

    @property
    def exit_code(self) -> int:
        """0 when everything is finite and normal, 1 otherwise (the CLI's contract)."""
        return 0 if self.verdict == "ok" else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": "nantrace.scan",
            "path": self.path,
            "format": self.format,
            "verdict": self.verdict,
            "step": self.step,
            "optimizer": dict(self.optimizer) if self.optimizer else None,
            "summary": self.summary,
            "origin": self.origin.to_dict() if self.origin else None,
            "projected": self.projected,
            "causes": [c.to_dict() for c in self.causes],
            "fixes": [f.to_dict() for f in self.fixes],
            "layers": [layer.to_dict() for layer in self.layers],
            "variables": [v.to_dict() for v in self.variables],
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return dumps(self.to_dict(), indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanReport:
        check_schema(data, "nantrace.scan")
        return cls(
            path=data["path"],
            format=data["format"],
            verdict=data["verdict"],
            variables=tuple(VariableStats.from_dict(v) for v in data["variables"]),
            layers=tuple(LayerStats.from_dict(layer) for layer in data["layers"]),
            causes=tuple(Cause.from_dict(c) for c in data.get("causes", ())),
            fixes=tuple(Fix.from_dict(f) for f in data.get("fixes", ())),
            step=data.get("step"),
            optimizer=data.get("optimizer"),
            notes=tuple(data.get("notes", ())),
            schema_version=data["schema_version"],
            origin=Origin.from_dict(data["origin"]) if data.get("origin") else None,
            projected=bool(data.get("projected", False)),
        )

    def headline(self) -> str:
        s = self.summary
        if self.verdict == "non_finite":
            what = (
                f"NON-FINITE: {s['non_finite_variables']} of {s['variables']} variables hold "
                f"NaN/Inf ({s['non_finite_elements']} elements)"
            )
        elif self.verdict == "abnormal":
            what = f"ABNORMAL: {s['flagged_variables']} of {s['variables']} variables flagged"
        else:
            what = f"ok: {s['variables']} variables finite and normally scaled"
        why = f"; cause: {self.causes[0].id}" if self.causes else ""
        fix = f"; try: {self.fixes[0].id}" if self.fixes else ""
        return what + why + fix

    def _repr_html_(self) -> str:
        """Jupyter: the headline and the text rendering (inline styles only)."""
        from nantrace.report.notebook import text_html

        return text_html(self.headline(), render_text(self))

    def _repr_markdown_(self) -> str:
        """Jupyter front-ends without HTML: the headline and the text rendering."""
        from nantrace.report.notebook import text_markdown

        return text_markdown(self.headline(), render_text(self))


# -- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moments:
    """Finite-element statistics of one array (shared with ``nantrace.diff``)."""

    nan: int
    pos_inf: int
    neg_inf: int
    zeros: int
    max_abs: float
    norm: float
    rms: float

    @property
    def non_finite(self) -> int:
        return self.nan + self.pos_inf + self.neg_inf


def moments(values: np.ndarray) -> Moments:
    flat = np.asarray(values).reshape(-1)
    if not np.issubdtype(flat.dtype, np.floating):
        flat = flat.astype(np.float64)
    nan = np.isnan(flat)
    pos_inf = np.isposinf(flat)
    neg_inf = np.isneginf(flat)
    finite = flat[~(nan | pos_inf | neg_inf)].astype(np.float64)
    square_sum = float(np.dot(finite, finite)) if finite.size else 0.0
    return Moments(
        nan=int(nan.sum()),
        pos_inf=int(pos_inf.sum()),
        neg_inf=int(neg_inf.sum()),
        zeros=int((finite == 0).sum()),
        max_abs=_finite(float(np.abs(finite).max())) if finite.size else 0.0,
        norm=_finite(math.sqrt(square_sum)),
        rms=_finite(math.sqrt(square_sum / finite.size)) if finite.size else 0.0,
    )


def _finite(value: float) -> float:
    """Norms of float32 arrays near their max overflow in float64 only if > 1e308; clamp."""
    return value if math.isfinite(value) else float(np.finfo(np.float64).max)


def _initializer_stub(class_name: str | None, config: dict[str, Any]) -> Any:
    """An object shaped like a Keras initializer, for ``evidence.initializer_std``."""
    if not class_name:
        return None
    if "_" in class_name or class_name.islower():  # "he_normal" → "HeNormal"
        class_name = "".join(part.capitalize() for part in class_name.split("_"))
    attributes: dict[str, Any] = {"get_config": lambda self: dict(config)}
    if class_name in _VARIANCE_SCALING:
        attributes["scale"], attributes["mode"] = _VARIANCE_SCALING[class_name]
    return type(class_name, (), attributes)()


def _reference(variable: Variable, checkpoint: Checkpoint) -> dict[str, Any] | None:
    """He/Glorot std for a kernel's fan-in, and the std its initializer draws (if known)."""
    if variable.role != "weight" or variable.kind not in KERNEL_KINDS or variable.values.ndim < 2:
        return None
    shape = variable.shape
    meta = _layer_meta(variable, checkpoint)
    activation = meta.activation if meta else None
    if activation is not None:
        std, fan_in = expected_std(SimpleNamespace(activation=activation), shape)
        rule = "He" if activation in RELU_FAMILY else "Glorot"
    else:
        he, fan_in = expected_std(SimpleNamespace(activation="relu"), shape)
        glorot, _ = expected_std(SimpleNamespace(activation=None), shape)
        # He ≥ Glorot for every shape: the larger reference never flags a ReLU layer wrongly.
        std, rule = max(he, glorot), "He (activation unknown)"
    if std <= 0 or fan_in <= 0:
        return None
    initial = None
    initializer = None
    if meta is not None and meta.initializer:
        initializer = meta.initializer
        fan_out = int(np.prod(shape)) // max(fan_in, 1)
        stub = SimpleNamespace(
            kernel_initializer=_initializer_stub(meta.initializer, meta.initializer_config)
        )
        if variable.kind == "recurrent_kernel":
            stub = SimpleNamespace(kernel_initializer=None)
        try:
            initial = initializer_std(stub, fan_in, fan_out)
        except (TypeError, ValueError):
            initial = None
    return {
        "expected": std,
        "fan_in": fan_in,
        "rule": rule,
        "initial": initial,
        "initializer": initializer if variable.kind != "recurrent_kernel" else None,
    }


def _layer_meta(variable: Variable, checkpoint: Checkpoint) -> Any:
    if not checkpoint.layers or not variable.layer:
        return None
    parts = variable.layer.split("/")
    for name in reversed(parts):
        if name in checkpoint.layers:
            return checkpoint.layers[name]
    return None


def variable_stats(variable: Variable, checkpoint: Checkpoint) -> VariableStats:
    m = moments(variable.values)
    flags: list[str] = []
    if m.non_finite:
        flags.append("non_finite")
    reference = _reference(variable, checkpoint)
    ratio = None
    if reference is not None and m.non_finite == 0:  # the RMS of a part says little
        ratio = m.rms / reference["expected"]
        if ratio > INIT_SCALE_FACTOR:
            flags.append("scale")
    if variable.role == "weight" and m.max_abs > (
        BN_VARIANCE_HUGE if variable.kind == "moving_variance" else HUGE_ABS
    ):
        flags.append("huge")
    if variable.dtype == "float16" and (m.pos_inf + m.neg_inf or m.max_abs > FLOAT16_MAX / 2):
        flags.append("float16_range")
    epsilon = checkpoint.optimizer.epsilon if checkpoint.optimizer else None
    if (
        variable.slot == "velocity"
        and epsilon is not None
        and epsilon <= TINY_EPSILON
        and m.zeros > 0
    ):
        flags.append("zero_velocity")
    update_ratio = None
    if variable.role == "weight" and m.non_finite == 0 and m.rms > 0:
        update = rebuild_update(variable, checkpoint)
        if update is not None:
            update_ratio = _finite(moments(update.value).rms / m.rms)
            if variable.kind in KERNEL_KINDS and update_ratio >= UPDATE_FLAG_RATIO:
                flags.append("unstable_update")
    return VariableStats(
        name=variable.name,
        key=variable.key,
        role=variable.role,
        dtype=variable.dtype,
        shape=variable.shape,
        size=int(variable.values.size),
        nan=m.nan,
        pos_inf=m.pos_inf,
        neg_inf=m.neg_inf,
        zeros=m.zeros,
        max_abs=m.max_abs,
        norm=m.norm,
        rms=m.rms,
        layer=variable.layer,
        kind=variable.kind,
        slot=variable.slot,
        slot_of=variable.slot_of,
        fan_in=reference["fan_in"] if reference else None,
        expected_rms=reference["expected"] if reference else None,
        scale_rule=reference["rule"] if reference else None,
        scale_ratio=ratio,
        initial_rms=reference["initial"] if reference else None,
        initializer=reference["initializer"] if reference else None,
        update_ratio=update_ratio,
        flags=tuple(flags),
    )


def _layer_stats(stats: list[VariableStats]) -> list[LayerStats]:
    by_layer: dict[str, list[VariableStats]] = {}
    for s in stats:
        if s.layer:
            by_layer.setdefault(s.layer, []).append(s)
    layers = []
    for name, members in by_layer.items():
        weights = [s for s in members if s.role == "weight"]
        if not weights:
            continue
        slots = [s for s in members if s.role == "slot"]
        kernels = [s for s in weights if s.kind in KERNEL_KINDS]
        kernel = next((s for s in kernels if s.kind == "kernel"), kernels[0] if kernels else None)
        non_finite = sum(s.non_finite for s in weights)
        slot_non_finite = sum(s.non_finite for s in slots)
        flagged = any(s.flags for s in members)
        status = "non_finite" if non_finite or slot_non_finite else "abnormal" if flagged else "ok"
        layers.append(
            LayerStats(
                name=name,
                variables=tuple(s.name for s in weights),
                parameters=sum(s.size for s in weights),
                non_finite=non_finite,
                slot_non_finite=slot_non_finite,
                max_abs=max(s.max_abs for s in weights),
                norm=_finite(math.sqrt(sum(s.norm**2 for s in weights))),
                status=status,
                kernel=kernel.name if kernel else None,
                kernel_rms=kernel.rms if kernel else None,
                expected_rms=kernel.expected_rms if kernel else None,
                scale_ratio=kernel.scale_ratio if kernel else None,
                scale_rule=kernel.scale_rule if kernel else None,
            )
        )
    return layers


# -- the scan -----------------------------------------------------------------------------------


def statistics(checkpoint: Checkpoint) -> list[VariableStats]:
    """Every variable's statistics: weights first, then slots, then the rest (file order)."""
    stats = [variable_stats(v, checkpoint) for v in checkpoint.variables]
    order = {"weight": 0, "slot": 1, "hyperparameter": 2, "other": 3}
    stats.sort(key=lambda s: order.get(s.role, 4))  # stable: file order within a role
    return stats


def verdict_of(stats: list[VariableStats]) -> str:
    if any(s.non_finite for s in stats):
        return "non_finite"
    return "abnormal" if any(s.flags for s in stats) else "ok"


def scan(checkpoint: Checkpoint) -> ScanReport:
    """Statistics and verdict for one loaded checkpoint, with the live rules' cause and fixes."""
    stats = statistics(checkpoint)
    verdict = verdict_of(stats)
    diagnosis = diagnose_state(checkpoint, stats) if verdict != "ok" else None
    notes = list(checkpoint.notes)
    if diagnosis is not None:
        notes += diagnosis.notes
    if verdict != "ok":
        notes.append(NOT_FROM_STATE)
    if verdict == "non_finite":
        notes.append(
            "a non-finite checkpoint cannot be repaired: resume from the last finite one with "
            "the fix applied (nantrace diff LAST_GOOD THIS shows what grew in between)"
        )
    cause = diagnosis.cause if diagnosis is not None else None
    return ScanReport(
        path=checkpoint.path,
        format=checkpoint.format,
        verdict=verdict,
        variables=tuple(stats),
        layers=tuple(_layer_stats(stats)),
        causes=(cause,) if cause is not None else (),
        fixes=diagnosis.fixes if diagnosis is not None else (),
        step=checkpoint.step,
        optimizer=_optimizer_summary(checkpoint),
        notes=tuple(notes),
        origin=diagnosis.origin if diagnosis is not None else None,
        projected=diagnosis.projected if diagnosis is not None else False,
    )


def _optimizer_summary(checkpoint: Checkpoint) -> dict[str, Any] | None:
    state = checkpoint.optimizer
    if state is None:
        return None
    return {
        "name": state.name,
        "class_name": state.class_name,
        "iterations": state.iterations,
        "learning_rate": _clean(state.learning_rate),
        "epsilon": state.epsilon,
        "gradient_norm_estimate": _gradient_norm_estimate(checkpoint),
    }


def _clean(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _gradient_norm_estimate(checkpoint: Checkpoint) -> float | None:
    """sqrt(sum of Adam's bias-corrected second moments): the recent gradient norm, as the
    optimizer itself measured it. None for other optimizers or when not finite."""
    state = checkpoint.optimizer
    if state is None or state.class_name not in ADAM_FAMILY or not state.iterations:
        return None
    beta_2 = state.beta_2 if state.beta_2 is not None else 0.999
    correction = 1.0 - beta_2 ** max(state.iterations, 1)
    total = 0.0
    found = False
    for variable in checkpoint.variables:
        if variable.slot != "velocity":
            continue
        values = np.asarray(variable.values, dtype=np.float64)
        if not np.isfinite(values).all():
            return None
        total += float(values.sum()) / correction
        found = True
    return _finite(math.sqrt(max(total, 0.0))) if found else None


def render_text(report: ScanReport, *, all_variables: bool = False) -> str:
    """The text form (:func:`nantrace.postmortem.text.render_scan`)."""
    from nantrace.postmortem.text import render_scan

    return render_scan(report, all_variables=all_variables)
