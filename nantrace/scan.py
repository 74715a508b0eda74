"""``nantrace scan``: what a checkpoint's state alone says about a run that went (or is going) bad.

Per variable and per layer: NaN/Inf counts, max|w|, norm, RMS against the He/Glorot scale for the
kernel's fan-in (the same reference ``nantrace.causes`` uses during a live diagnosis), optimizer
slots included. From that state the scan infers the causes it can (``cause.id`` values of
docs/causes-and-fixes.md) and ranks fixes (``fixes[].id``):

* ``missing_epsilon`` — a weight is non-finite exactly where its Adam velocity is 0 (a zero
  gradient history divided by ``sqrt(v) + epsilon`` with epsilon 0), or the .keras config says
  epsilon is tiny while velocities hold zeros.
* ``initializer_scale`` — a kernel's RMS is ≫ He/Glorot for its fan-in and it started that way:
  the initializer in config.json draws at that scale, the step counter is 0, or the optimizer
  could not have moved the weights that far in the steps taken (Adam moves a weight by at most
  about ``3.2 × learning_rate`` per step).
* ``learning_rate_too_high`` / ``gradient_explosion`` — weights that overflowed during training,
  or grew far beyond where their initializer put them.
* ``float16_range`` — a float16 variable at or beyond ±65504.

Causes that need the data or the step's ops (``non_finite_input``, ``unscaled_input``,
``unstable_loss``) cannot be read from a checkpoint; the report says so, and ``nantrace.watch``
on the training step finds them.

The JSON form (``ScanReport.to_json``) is a stable schema, documented in docs/scan.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from nantrace.checkpoint import NON_TRAINABLE_KINDS, Checkpoint, Variable
from nantrace.records import Cause, Fix

SCHEMA_VERSION = 1
VERDICTS = ("ok", "abnormal", "non_finite")
#: ``flags`` a variable can carry.
FLAGS = ("non_finite", "scale", "huge", "unstable_update", "float16_range", "zero_velocity")

#: A kernel is abnormal when its RMS exceeds the He/Glorot std for its fan-in by this factor
#: (the bar ``nantrace.causes.INIT_SCALE_FACTOR`` uses for a live diagnosis).
SCALE_FACTOR = 10.0
#: Any weight whose magnitude passes this is abnormal whatever its layer: products of such
#: weights with activations of order 1 overflow float16 and approach float32's range in deep nets.
HUGE_ABS = 1e6
#: An optimizer epsilon at or below this cannot keep ``m / (sqrt(v) + eps)`` finite when v = 0.
TINY_EPSILON = 1e-12
FLOAT16_MAX = 65504.0
#: Adam moves each weight by at most about ``(1 - beta_1) / sqrt(1 - beta_2) * lr`` per step
#: (3.16 × lr at the defaults); the bound separates "started large" from "grew large".
ADAM_STEP_BOUND = 3.2
#: Update-to-weight RMS ratio above which training dynamics are unstable (healthy runs sit
#: around 1e-3); below the lower bar the weights barely move, so their scale is where it started.
UNSTABLE_UPDATE_RATIO = 0.1
STILL_UPDATE_RATIO = 0.01
#: A kernel whose next update is half its own size is flagged even while everything is finite.
UPDATE_FLAG_RATIO = 0.5
ADAM_FAMILY = frozenset({"Adam", "AdamW", "Nadam", "Lamb", "Adamax"})
KERNEL_KINDS = frozenset({"kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel"})
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
    "causes that need the batch or the step's ops (non_finite_input, unstable_loss, and "
    "unscaled_input unless a BatchNormalization layer's statistics show it) cannot be read from "
    "a checkpoint; wrap the training step in @nantrace.watch to catch the first non-finite op"
)
#: BatchNormalization statistics: a moving variance this large means the activations entering
#: the layer have a std of ~1e3 or more (what ``nantrace.causes`` calls unscaled input).
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
        _check_schema(data, "nantrace.scan")
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
        from nantrace.render.notebook import text_html

        return text_html(self.headline(), render_text(self))

    def _repr_markdown_(self) -> str:
        """Jupyter front-ends without HTML: the headline and the text rendering."""
        from nantrace.render.notebook import text_markdown

        return text_markdown(self.headline(), render_text(self))


def dumps(data: dict[str, Any], indent: int | None = 2) -> str:
    """Strict JSON (no NaN/Infinity tokens: every number in the schema is finite or null)."""
    return json.dumps(data, indent=indent, allow_nan=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def _check_schema(data: dict[str, Any], kind: str) -> None:
    if data.get("kind") != kind or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"not a {kind} report of schema_version {SCHEMA_VERSION} "
            f"(got kind={data.get('kind')!r}, schema_version={data.get('schema_version')!r}); "
            "upgrade nantrace to read it"
        )


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


def _causes_module() -> Any:
    from nantrace.checkpoint import tensorflow

    tensorflow()  # nantrace.causes imports TensorFlow; do it quietly first
    from nantrace import causes

    return causes


def _initializer_stub(class_name: str | None, config: dict[str, Any]) -> Any:
    """An object shaped like a Keras initializer, for ``causes.initializer_std``."""
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
    causes = _causes_module()
    shape = variable.shape
    meta = _layer_meta(variable, checkpoint)
    activation = meta.activation if meta else None
    if activation is not None:
        std, fan_in = causes.expected_std(SimpleNamespace(activation=activation), shape)
        rule = "He" if activation in causes.RELU_FAMILY else "Glorot"
    else:
        he, fan_in = causes.expected_std(SimpleNamespace(activation="relu"), shape)
        glorot, _ = causes.expected_std(SimpleNamespace(activation=None), shape)
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
            initial = causes.initializer_std(stub, fan_in, fan_out)
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
        if ratio > SCALE_FACTOR:
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
        update = _last_update(variable, checkpoint)
        if update is not None:
            update_ratio = _finite(moments(update).rms / m.rms)
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


def _last_update(variable: Variable, checkpoint: Checkpoint) -> np.ndarray | None:
    """The optimizer's update for ``variable`` rebuilt from its slots (see ``update_ratio``)."""
    state = checkpoint.optimizer
    if state is None:
        return None
    slots = {s.slot: s.values for s in checkpoint.slots_of(variable.name)}
    if state.class_name == "SGD" and "momentum" in slots:
        return np.asarray(slots["momentum"], dtype=np.float64)
    if state.class_name in ADAM_FAMILY - {"Adamax"} and {"momentum", "velocity"} <= set(slots):
        lr = state.learning_rate
        t = state.iterations
        if not lr or not t:
            return None
        beta_1 = state.beta_1 if state.beta_1 is not None else 0.9
        beta_2 = state.beta_2 if state.beta_2 is not None else 0.999
        epsilon = state.epsilon if state.epsilon is not None else 1e-7
        m = np.asarray(slots["momentum"], dtype=np.float64) / (1.0 - beta_1**t)
        v = np.asarray(slots["velocity"], dtype=np.float64) / (1.0 - beta_2**t)
        with np.errstate(all="ignore"):
            return lr * m / (np.sqrt(v) + epsilon)
    return None


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


def scan(checkpoint: Checkpoint) -> ScanReport:
    """Statistics, verdict, causes and fixes for one loaded checkpoint."""
    stats = [variable_stats(v, checkpoint) for v in checkpoint.variables]
    order = {"weight": 0, "slot": 1, "hyperparameter": 2, "other": 3}
    stats.sort(key=lambda s: order.get(s.role, 4))  # stable: file order within a role
    layers = _layer_stats(stats)
    if any(s.non_finite for s in stats):
        verdict = "non_finite"
    elif any(s.flags for s in stats):
        verdict = "abnormal"
    else:
        verdict = "ok"
    optimizer = _optimizer_summary(checkpoint)
    causes = _infer_causes(checkpoint, stats, optimizer) if verdict != "ok" else []
    fixes = _rank_fixes(causes, checkpoint, stats, optimizer)
    notes = list(checkpoint.notes)
    if verdict != "ok":
        notes.append(NOT_FROM_STATE)
    if verdict == "non_finite":
        notes.append(
            "a non-finite checkpoint cannot be repaired: resume from the last finite one with "
            "the fix applied (nantrace diff LAST_GOOD THIS shows what grew in between)"
        )
    return ScanReport(
        path=checkpoint.path,
        format=checkpoint.format,
        verdict=verdict,
        variables=tuple(stats),
        layers=tuple(layers),
        causes=tuple(causes),
        fixes=tuple(fixes),
        step=checkpoint.step,
        optimizer=optimizer,
        notes=tuple(notes),
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


def _velocity_of(checkpoint: Checkpoint, name: str) -> np.ndarray | None:
    for slot in checkpoint.slots_of(name):
        if slot.slot == "velocity":
            return slot.values
    return None


def _infer_causes(
    checkpoint: Checkpoint, stats: list[VariableStats], optimizer: dict[str, Any] | None
) -> list[Cause]:
    """Ranked causes the state supports (best first)."""
    state = checkpoint.optimizer
    lr = optimizer.get("learning_rate") if optimizer else None
    epsilon = state.epsilon if state else None
    step = checkpoint.step
    weights = [s for s in stats if s.role == "weight"]
    bad_weights = [s for s in weights if s.non_finite]
    bad_slots = [s for s in stats if s.role == "slot" and s.non_finite]
    by_name = checkpoint.by_name()
    causes: list[Cause] = []

    # missing_epsilon: non-finite exactly where the velocity is 0.
    matches = []
    for s in bad_weights:
        velocity = _velocity_of(checkpoint, s.name)
        values = by_name[s.name].values
        if velocity is None or velocity.shape != values.shape:
            continue
        bad = ~np.isfinite(values)
        if bad.all():
            continue
        zero_velocity = velocity == 0
        if zero_velocity[bad].all():
            matches.append(
                {
                    "variable": s.name,
                    "non_finite": int(bad.sum()),
                    "zero_velocity": int(zero_velocity.sum()),
                }
            )
    zero_velocity = [s.name for s in stats if "zero_velocity" in s.flags]
    if matches or zero_velocity:
        eps_text = f"epsilon = {epsilon:g}" if epsilon is not None else "epsilon (not recorded)"
        if matches:
            summary = (
                f"{matches[0]['variable']} is non-finite exactly where its Adam velocity is 0: "
                f"the update m / (sqrt(v) + epsilon) is 0/0 there, so {eps_text} is too small"
            )
        else:
            summary = (
                f"the optimizer's {eps_text} while {len(zero_velocity)} velocity slot(s) hold "
                "exact zeros: any weight with no gradient yet gets a 0/0 update"
            )
        causes.append(
            Cause(
                "missing_epsilon",
                summary,
                {
                    "optimizer": state.class_name if state else None,
                    "epsilon": epsilon,
                    "matches": matches,
                    "zero_velocity_slots": zero_velocity,
                },
            )
        )

    # float16_range
    half = [s for s in stats if "float16_range" in s.flags]
    if half:
        causes.append(
            Cause(
                "float16_range",
                f"{half[0].name} is float16 and reaches ±{FLOAT16_MAX:.0f} (its max finite |w| is "
                f"{half[0].max_abs:.3g}): float16 overflows without loss scaling",
                {"variables": [s.name for s in half], "max_abs": half[0].max_abs},
            )
        )

    explained = {m["variable"] for m in matches}
    overflowed = [s for s in bad_weights if s.name not in explained]
    finite_weights = [s for s in weights if not s.non_finite]
    largest = max((s.max_abs for s in finite_weights), default=0.0)
    if overflowed or (bad_slots and not matches):
        gradients_first = bool(bad_slots) and not overflowed
        lr_cause = Cause(
            "learning_rate_too_high",
            f"{len(overflowed)} of {len(weights)} weights are non-finite"
            + (f" at step {step}" if step is not None else "")
            + (f" with learning rate {lr:.3g}" if lr is not None else "")
            + (
                f" and the finite ones reach |w| = {largest:.3g}"
                if finite_weights and largest > HUGE_ABS
                else ""
            )
            + ": weights that overflow during training point to updates too large for them",
            {
                "learning_rate": lr,
                "step": step,
                "non_finite_weights": [s.name for s in overflowed][:20],
                "finite_weights": len(finite_weights),
                "largest_finite_abs": largest,
            },
        )
        grad_cause = Cause(
            "gradient_explosion",
            (
                f"optimizer state {bad_slots[0].name} is non-finite while the weights are "
                "finite: the gradients overflowed"
                if gradients_first
                else "gradients large enough to overflow the update are the other way weights "
                "blow up; clipping bounds them whatever the learning rate"
            ),
            {
                "non_finite_slots": [s.name for s in bad_slots][:20],
                "gradient_norm_estimate": optimizer.get("gradient_norm_estimate")
                if optimizer
                else None,
            },
        )
        causes.extend([grad_cause, lr_cause] if gradients_first else [lr_cause, grad_cause])

    scaled = sorted(
        (s for s in weights if "scale" in s.flags), key=lambda s: -(s.scale_ratio or 0.0)
    )
    if scaled:
        causes.extend(_scale_causes(scaled, checkpoint, lr, step))
    statistics = [
        s for s in weights if s.kind in ("moving_mean", "moving_variance") and "huge" in s.flags
    ]
    if statistics:
        first = max(statistics, key=lambda s: s.max_abs if s.kind == "moving_variance" else 0)
        std = math.sqrt(first.max_abs) if first.kind == "moving_variance" else first.max_abs
        causes.append(
            Cause(
                "unscaled_input",
                f"BatchNormalization {first.layer} has {first.kind} up to {first.max_abs:.3g}: "
                f"the values entering it have a scale of ~{std:.3g}, far outside the ~[-10, 10] "
                "networks are built for (the input itself when it is the first layer)",
                {
                    "layer": first.layer,
                    "variable": first.name,
                    "max_abs": first.max_abs,
                    "input_scale_estimate": std,
                    "layers": [s.layer for s in statistics],
                },
            )
        )
    unstable = sorted(
        (s for s in weights if "unstable_update" in s.flags), key=lambda s: -(s.update_ratio or 0)
    )
    if unstable and not any(c.id == "learning_rate_too_high" for c in causes):
        worst = unstable[0]
        causes.append(
            Cause(
                "learning_rate_too_high",
                f"the optimizer's next update to {worst.name} is {worst.update_ratio:.2g} of the "
                "weight's own size (healthy training moves weights by ~0.001 of themselves per "
                "step): the steps are too large and the weights will blow up",
                {
                    "variable": worst.name,
                    "update_ratio": worst.update_ratio,
                    "learning_rate": lr,
                    "step": step,
                    "variables": [s.name for s in unstable][:20],
                },
            )
        )
    huge = [
        s
        for s in weights
        if "huge" in s.flags and "scale" not in s.flags and s.kind not in NON_TRAINABLE_KINDS
    ]
    if huge and not any(c.id == "learning_rate_too_high" for c in causes):
        causes.append(
            Cause(
                "learning_rate_too_high",
                f"{huge[0].name} reaches |w| = {huge[0].max_abs:.3g}: weights this large grew "
                "there through updates too large for them",
                {"variables": [s.name for s in huge][:20], "max_abs": huge[0].max_abs},
            )
        )
    return _merge(causes)


def _merge(causes: list[Cause]) -> list[Cause]:
    """One entry per cause id, at its best rank; later findings add their evidence."""
    merged: dict[str, Cause] = {}
    for cause in causes:
        if cause.id not in merged:
            merged[cause.id] = cause
            continue
        first = merged[cause.id]
        evidence = {**cause.evidence, **first.evidence}
        merged[cause.id] = Cause(first.id, first.summary, evidence)
    return list(merged.values())


def _scale_causes(
    scaled: list[VariableStats], checkpoint: Checkpoint, lr: float | None, step: int | None
) -> list[Cause]:
    worst = scaled[0]
    expected = worst.expected_rms or 0.0
    evidence = {
        "layer": worst.layer,
        "variable": worst.name,
        "weight_std": worst.rms,
        "expected_std": expected,
        "scale_rule": worst.scale_rule,
        "ratio": worst.scale_ratio,
        "fan_in": worst.fan_in,
        "initializer": worst.initializer,
        "initial_std": worst.initial_rms,
        "step": step,
        "layers": [s.layer for s in scaled],
    }
    state = checkpoint.optimizer
    drift = None
    if state is not None and state.class_name in ADAM_FAMILY and lr is not None and step:
        drift = ADAM_STEP_BOUND * lr * step
        evidence["max_adam_drift"] = drift
    ratio = worst.update_ratio
    init_text = (
        f"layer {worst.layer} has kernel RMS {worst.rms:.3g}, {worst.scale_ratio:.3g}x the "
        f"{worst.scale_rule} std {expected:.3g} for fan-in {worst.fan_in}"
    )
    initializer = Cause(
        "initializer_scale",
        init_text
        + (f" (initializer {worst.initializer})" if worst.initializer else "")
        + ": activations grow layer by layer until they overflow",
        evidence,
    )
    grown = Cause(
        "learning_rate_too_high",
        f"layer {worst.layer}'s kernel grew to RMS {worst.rms:.3g}, {worst.scale_ratio:.3g}x the "
        f"{worst.scale_rule} std for its fan-in"
        + (f", from an initial {worst.initial_rms:.3g}" if worst.initial_rms else "")
        + (f" within {step} steps" if step else "")
        + (
            f"; each update moves it by {ratio:.2g} of its own size"
            if ratio is not None and ratio >= UNSTABLE_UPDATE_RATIO
            else ""
        )
        + ": the updates are too large",
        evidence,
    )
    if ratio is not None:
        evidence["update_ratio"] = ratio
    if worst.initial_rms is not None and expected > 0:
        started_large = worst.initial_rms / expected > SCALE_FACTOR
        return [initializer] if started_large else [grown]
    if step == 0:
        return [initializer]
    if ratio is not None and ratio >= UNSTABLE_UPDATE_RATIO:
        return [grown, initializer]
    if drift is not None and worst.rms > 3.0 * expected + drift:
        return [initializer]
    if ratio is not None and ratio < STILL_UPDATE_RATIO:
        return [initializer, grown]
    if step is not None and step > 10:
        return [grown, initializer]
    return [initializer, grown]


# -- fixes --------------------------------------------------------------------------------------


def _rank_fixes(
    causes: list[Cause],
    checkpoint: Checkpoint,
    stats: list[VariableStats],
    optimizer: dict[str, Any] | None,
) -> list[Fix]:
    fixes: list[Fix] = []
    seen: set[str] = set()
    score = 1.0
    for rank, cause in enumerate(causes):
        for fix in _fixes_for(cause, checkpoint, optimizer, primary=rank == 0):
            if fix.id in seen:
                continue
            seen.add(fix.id)
            fixes.append(
                Fix(fix.id, fix.rationale, fix.params, fix.snippet, fix.verified, round(score, 2))
            )
            score = max(score - 0.15, 0.1)
    return fixes


def _fixes_for(
    cause: Cause, checkpoint: Checkpoint, optimizer: dict[str, Any] | None, primary: bool
) -> list[Fix]:
    state = checkpoint.optimizer
    lr = optimizer.get("learning_rate") if optimizer else None
    class_name = (state.class_name if state else None) or "Adam"
    estimate = optimizer.get("gradient_norm_estimate") if optimizer else None
    ev = cause.evidence

    def lower_lr(why: str) -> Fix:
        suggested = float(f"{lr / 10:.3g}") if lr else None
        return Fix(
            "lower_learning_rate",
            why,
            {
                "current": lr,
                "suggested": suggested,
                "basis": "one tenth of the recorded learning rate"
                if lr
                else "the checkpoint does not record the learning rate: divide yours by 10",
            },
            f"optimizer.learning_rate = {suggested:.3g}" if suggested else None,
        )

    def clip(why: str) -> Fix:
        if estimate and estimate > 0:
            clipnorm = float(f"{estimate:.1g}")
            basis = "the recent gradient norm estimated from Adam's second moments"
        else:
            clipnorm, basis = 1.0, "default; the checkpoint holds no gradient-norm estimate"
        return Fix(
            "clip_gradients",
            why,
            {"clipnorm": clipnorm, "basis": basis},
            f"{class_name}(..., clipnorm={clipnorm:g})",
        )

    if cause.id == "missing_epsilon":
        return [
            Fix(
                "add_epsilon",
                cause.summary,
                {"target": "optimizer.epsilon", "current": ev.get("epsilon"), "epsilon": 1e-7},
                f"{class_name}(..., epsilon=1e-7)",
            )
        ]
    if cause.id == "float16_range":
        return [
            Fix(
                "loss_scaling",
                "dynamic loss scaling keeps float16 gradients inside their range",
                {"optimizer": "keras.optimizers.LossScaleOptimizer"},
                "optimizer = keras.optimizers.LossScaleOptimizer(optimizer)",
            ),
            Fix(
                "float32_layer",
                f"keep {ev.get('variables', ['the layer'])[0]}'s layer in float32",
                {"variables": ev.get("variables"), "dtype": "float32"},
                'keras.layers.<Layer>(..., dtype="float32")',
            ),
        ]
    if cause.id == "initializer_scale":
        layer = ev.get("layer")
        suggested = "glorot_uniform" if ev.get("scale_rule") == "Glorot" else "he_normal"
        return [
            Fix(
                "change_initializer",
                f"{layer} has kernel RMS {ev.get('weight_std', 0):.3g}, "
                f"{ev.get('ratio') or 0:.3g}x the std {ev.get('expected_std') or 0:.3g} its "
                f"fan-in {ev.get('fan_in')} calls for",
                {
                    "layer": layer,
                    "current": ev.get("initializer"),
                    "suggested": suggested,
                    "suggested_std": ev.get("expected_std"),
                },
                f'kernel_initializer="{suggested}"',
            ),
            Fix(
                "add_normalization",
                "normalization keeps activations bounded whatever the initial scale",
                {"layer": "LayerNormalization", "where": f"after {layer}"},
                "keras.layers.LayerNormalization()",
            ),
        ]
    if cause.id == "unscaled_input":
        scale = ev.get("input_scale_estimate") or 1.0
        return [
            Fix(
                "rescale_input",
                cause.summary,
                {
                    "input_scale_estimate": scale,
                    "scale": float(f"{1.0 / scale:.3g}"),
                    "layer": "keras.layers.Normalization() adapted on the training data",
                },
                f"x = x * {1.0 / scale:.3g}  # or: norm = keras.layers.Normalization(); "
                "norm.adapt(data)",
            )
        ]
    if cause.id == "learning_rate_too_high":
        return [
            lower_lr(cause.summary),
            clip("clipping bounds each update's size"),
        ]
    if cause.id == "gradient_explosion":
        return [
            clip(cause.summary),
            lower_lr("smaller steps slow the compounding of large gradients"),
        ]
    return []


# -- text ---------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def _health(s: VariableStats) -> str:
    parts = []
    if s.nan:
        parts.append(f"{s.nan} NaN")
    if s.pos_inf:
        parts.append(f"{s.pos_inf} +Inf")
    if s.neg_inf:
        parts.append(f"{s.neg_inf} -Inf")
    return ", ".join(parts) or "0"


def render_text(report: ScanReport, *, all_variables: bool = False) -> str:
    """The human summary: headline, layers, flagged variables, why, what to change."""
    kinds = {"tf_checkpoint": "TensorFlow checkpoint", "keras": ".keras", "weights_h5": "HDF5"}
    head = [kinds.get(report.format, report.format)]
    if report.step is not None:
        head.append(f"step {report.step}")
    opt = report.optimizer or {}
    if opt.get("class_name") or opt.get("name"):
        head.append(f"optimizer {opt.get('class_name') or opt.get('name')}")
    if opt.get("learning_rate") is not None:
        head.append(f"learning rate {opt['learning_rate']:.3g}")
    if opt.get("epsilon") is not None:
        head.append(f"epsilon {opt['epsilon']:g}")
    lines = [f"nantrace scan {report.path} ({', '.join(head)})", f"verdict: {report.headline()}"]
    if report.layers:
        lines += ["", "LAYERS"]
        rows = [["layer", "status", "params", "non-finite", "max|w|", "norm", "kernel rms", "ref"]]
        for layer in report.layers:
            ref = (
                f"{layer.scale_ratio:.2g}x {layer.scale_rule} {_num(layer.expected_rms)}"
                if layer.scale_ratio is not None
                else "-"
            )
            non_finite = str(layer.non_finite) + (
                f" (+{layer.slot_non_finite} in slots)" if layer.slot_non_finite else ""
            )
            rows.append(
                [
                    layer.name,
                    layer.status,
                    str(layer.parameters),
                    non_finite,
                    _num(layer.max_abs),
                    _num(layer.norm),
                    _num(layer.kernel_rms),
                    ref,
                ]
            )
        lines += _table(rows)
    shown = [v for v in report.variables if all_variables or v.flags]
    if shown:
        title = "VARIABLES" if all_variables else "FLAGGED VARIABLES"
        lines += ["", title]
        rows = [["variable", "role", "shape", "non-finite", "max|w|", "rms", "flags"]]
        for v in shown[:60]:
            role = f"{v.slot} of {v.slot_of}" if v.slot and v.slot_of else v.role
            rows.append(
                [
                    v.name,
                    role,
                    "x".join(map(str, v.shape)) or "()",
                    _health(v),
                    _num(v.max_abs),
                    _num(v.rms),
                    ",".join(v.flags) or "-",
                ]
            )
        lines += _table(rows)
        if len(shown) > 60:
            lines.append(f"  ... {len(shown) - 60} more (--format json lists all)")
    if report.causes:
        lines += ["", "WHY"]
        for cause in report.causes:
            lines.append(f"  {cause.id}: {cause.summary}")
    if report.fixes:
        lines += ["", "WHAT TO CHANGE"]
        for i, fix in enumerate(report.fixes, 1):
            params = ", ".join(
                f"{k}={_short(v)}" for k, v in fix.params.items() if v is not None and k != "basis"
            )
            lines.append(f"  {i}. {fix.id}" + (f" ({params})" if params else ""))
            if fix.snippet:
                lines.append(f"       {fix.snippet}")
    if report.notes:
        lines += ["", "NOTES"]
        lines += [f"  - {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return (
            "["
            + ", ".join(_short(v) for v in list(value)[:3])
            + (", ...]" if len(value) > 3 else "]")
        )
    return str(value)
