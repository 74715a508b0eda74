"""``nantrace diff A B``: what changed between two checkpoints of one run, and how fast.

Variables are matched by name (when one file prefixes names with the model's name, e.g. a TF
checkpoint of a Sequential model, the match falls back to the name without it). For each: the
ratio of norms ``|B| / |A|``, the relative change ``|B - A| / |A|``, the growth per step
``ratio ** (1 / steps)`` when both files carry the optimizer's step counter, the projected number
of steps until max|w| overflows its dtype at that rate, and whether non-finite values appeared.

Rows are ordered by what matters for a blow-up: variables that went non-finite first, then by
how far their norm moved (|log ratio|). The verdict is ``non_finite`` when B holds NaN/Inf,
``abnormal`` when a weight's norm grew more than ``max_growth`` times or B's own state is
flagged (what ``nantrace scan B`` flags), else ``ok``.

The cause is the one ``nantrace scan B`` gives (the live rules on B's state, see
:mod:`nantrace.postmortem.evidence`), with one more piece of evidence: the weight norms of A and
B as a two-step history, which the rules read as growth over ``steps``. The text form is
:mod:`nantrace.postmortem.text`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nantrace.errors import NantraceError
from nantrace.postmortem.checkpoint import Checkpoint, Variable
from nantrace.postmortem.evidence import diagnose_state
from nantrace.postmortem.scan import moments, statistics, verdict_of
from nantrace.postmortem.schema import SCHEMA_VERSION, check_schema, dumps
from nantrace.report.records import Cause, Fix, Origin

#: Default ``max_growth``: a weight whose norm grows 10x between two checkpoints is abnormal.
MAX_GROWTH = 10.0
STATUSES = (
    "appeared_non_finite",
    "still_non_finite",
    "became_finite",
    "grew",
    "changed",
    "unchanged",
    "shape_changed",
    "only_in_a",
    "only_in_b",
)


@dataclass(frozen=True)
class VariableChange:
    """How one variable changed from A to B.

    Attributes:
        status: one of ``STATUSES``.
        ratio: ``norm_b / norm_a`` (None when either holds NaN/Inf, the shapes differ, or A is 0).
        relative_change: ``|B - A| / |A|`` (same conditions).
        growth_per_step: ``ratio ** (1 / steps)`` when the step difference is known and > 0.
        steps_to_overflow: at that growth, steps until max|w| passes the dtype's largest value.
        norm_* / max_abs_*: over finite elements; non_finite_*: NaN + Inf counts.
    """

    name: str
    status: str
    role: str
    layer: str | None = None
    slot: str | None = None
    slot_of: str | None = None
    name_b: str | None = None
    shape_a: tuple[int, ...] | None = None
    shape_b: tuple[int, ...] | None = None
    norm_a: float | None = None
    norm_b: float | None = None
    max_abs_a: float | None = None
    max_abs_b: float | None = None
    non_finite_a: int | None = None
    non_finite_b: int | None = None
    ratio: float | None = None
    relative_change: float | None = None
    growth_per_step: float | None = None
    steps_to_overflow: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "name_b": self.name_b,
            "status": self.status,
            "role": self.role,
            "layer": self.layer,
            "slot": self.slot,
            "slot_of": self.slot_of,
            "shape_a": list(self.shape_a) if self.shape_a is not None else None,
            "shape_b": list(self.shape_b) if self.shape_b is not None else None,
            "norm_a": self.norm_a,
            "norm_b": self.norm_b,
            "max_abs_a": self.max_abs_a,
            "max_abs_b": self.max_abs_b,
            "non_finite_a": self.non_finite_a,
            "non_finite_b": self.non_finite_b,
            "ratio": self.ratio,
            "relative_change": self.relative_change,
            "growth_per_step": self.growth_per_step,
            "steps_to_overflow": self.steps_to_overflow,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariableChange:
        data = dict(data)
        for key in ("shape_a", "shape_b"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


@dataclass(frozen=True)
class LayerChange:
    """Norm of a layer's weights (all of them together) in A and B."""

    name: str
    norm_a: float
    norm_b: float
    ratio: float | None
    growth_per_step: float | None
    non_finite_a: int
    non_finite_b: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "norm_a": self.norm_a,
            "norm_b": self.norm_b,
            "ratio": self.ratio,
            "growth_per_step": self.growth_per_step,
            "non_finite_a": self.non_finite_a,
            "non_finite_b": self.non_finite_b,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerChange:
        return cls(**data)


@dataclass(frozen=True)
class DiffReport:
    """What ``nantrace diff`` found. ``to_dict`` is the JSON schema (docs/diff.md)."""

    a: dict[str, Any]
    b: dict[str, Any]
    steps: int | None
    verdict: str
    variables: tuple[VariableChange, ...]
    layers: tuple[LayerChange, ...]
    max_growth: float = MAX_GROWTH
    causes: tuple[Cause, ...] = ()
    fixes: tuple[Fix, ...] = ()
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    #: where the rules were asked, as in ``nantrace scan B``; None when all is ok.
    origin: Origin | None = None
    #: the origin is the overflow a finite B heads for, not a value in the file.
    projected: bool = False

    @property
    def appeared_non_finite(self) -> list[str]:
        return [v.name for v in self.variables if v.status == "appeared_non_finite"]

    @property
    def summary(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for v in self.variables:
            counts[v.status] += 1
        counts["compared"] = sum(v.status not in ("only_in_a", "only_in_b") for v in self.variables)
        return counts

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "ok" else 1

    def to_dict(self) -> dict[str, Any]:
        fastest = next(
            (v for v in self.variables if v.ratio is not None and v.role == "weight"), None
        )
        return {
            "schema_version": self.schema_version,
            "kind": "nantrace.diff",
            "a": dict(self.a),
            "b": dict(self.b),
            "steps": self.steps,
            "max_growth": self.max_growth,
            "verdict": self.verdict,
            "summary": self.summary,
            "appeared_non_finite": self.appeared_non_finite,
            "fastest_growing": fastest.name if fastest and (fastest.ratio or 0) > 1 else None,
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
    def from_dict(cls, data: dict[str, Any]) -> DiffReport:
        check_schema(data, "nantrace.diff")
        return cls(
            a=data["a"],
            b=data["b"],
            steps=data.get("steps"),
            verdict=data["verdict"],
            variables=tuple(VariableChange.from_dict(v) for v in data["variables"]),
            layers=tuple(LayerChange.from_dict(layer) for layer in data["layers"]),
            max_growth=data.get("max_growth", MAX_GROWTH),
            causes=tuple(Cause.from_dict(c) for c in data.get("causes", ())),
            fixes=tuple(Fix.from_dict(f) for f in data.get("fixes", ())),
            notes=tuple(data.get("notes", ())),
            schema_version=data["schema_version"],
            origin=Origin.from_dict(data["origin"]) if data.get("origin") else None,
            projected=bool(data.get("projected", False)),
        )

    def headline(self) -> str:
        s = self.summary
        span = (
            f" over {self.steps} step{'s' if self.steps != 1 else ''}"
            if self.steps is not None
            else ""
        )
        if self.verdict == "non_finite":
            appeared = self.appeared_non_finite
            what = (
                f"NON-FINITE: {len(appeared)} variables went non-finite{span}"
                if appeared
                else "NON-FINITE: B already held NaN/Inf where A did"
            )
        elif self.verdict == "abnormal" and s["grew"]:
            what = f"ABNORMAL: {s['grew']} weights grew more than {self.max_growth:g}x{span}"
        elif self.verdict == "abnormal":
            what = (
                "ABNORMAL: B's state is flagged (nantrace scan B), nothing grew more than "
                f"{self.max_growth:g}x{span}"
            )
        else:
            what = (
                f"ok: {s['compared']} variables compared, none grew more than {self.max_growth:g}x"
            )
        return what + (f"; cause: {self.causes[0].id}" if self.causes else "")

    def _repr_html_(self) -> str:
        """Jupyter: the headline and the text rendering (inline styles only)."""
        from nantrace.report.notebook import text_html

        return text_html(self.headline(), render_text(self))

    def _repr_markdown_(self) -> str:
        """Jupyter front-ends without HTML: the headline and the text rendering."""
        from nantrace.report.notebook import text_markdown

        return text_markdown(self.headline(), render_text(self))


def _side(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"path": checkpoint.path, "format": checkpoint.format, "step": checkpoint.step}


def _match(a: dict[str, Variable], b: dict[str, Variable]) -> dict[str, str]:
    """name in A → name in B: exact first, then without a leading model-name component
    (a TF checkpoint of a Sequential model names ``mlp/dense/kernel`` what .keras calls
    ``dense/kernel``)."""
    pairs = {name: name for name in a if name in b}

    def strip(name: str) -> str:
        return name.split("/", 1)[1] if "/" in name else name

    index: dict[str, str] = {}
    for name in b:
        if name not in pairs:
            index.setdefault(name, name)
            index.setdefault(strip(name), name)
    used = set(pairs.values())
    for name in a:
        if name in pairs:
            continue
        for candidate in (name, strip(name)):
            target = index.get(candidate)
            if target is not None and target not in used:
                pairs[name] = target
                used.add(target)
                break
    return pairs


def _overflow_steps(growth: float | None, max_abs: float, dtype: np.dtype) -> float | None:
    if growth is None or growth <= 1.0 + 1e-12 or max_abs <= 0:
        return None
    try:
        limit = float(np.finfo(dtype).max)
    except ValueError:
        return None
    return max(math.log(limit / max_abs) / math.log(growth), 0.0)


def _change(
    name: str, va: Variable | None, vb: Variable | None, steps: int | None
) -> VariableChange:
    ref = va or vb
    assert ref is not None
    base = {
        "role": ref.role,
        "layer": ref.layer,
        "slot": ref.slot,
        "slot_of": ref.slot_of,
    }
    if va is None or vb is None:
        m = moments(ref.values)
        side = "a" if va is not None else "b"
        return VariableChange(
            name=name,
            status="only_in_a" if va is not None else "only_in_b",
            **base,
            **{
                f"shape_{side}": ref.shape,
                f"norm_{side}": m.norm,
                f"max_abs_{side}": m.max_abs,
                f"non_finite_{side}": m.non_finite,
            },
        )
    ma, mb = moments(va.values), moments(vb.values)
    common = {
        "name_b": vb.name if vb.name != name else None,
        "shape_a": va.shape,
        "shape_b": vb.shape,
        "norm_a": ma.norm,
        "norm_b": mb.norm,
        "max_abs_a": ma.max_abs,
        "max_abs_b": mb.max_abs,
        "non_finite_a": ma.non_finite,
        "non_finite_b": mb.non_finite,
    }
    if va.shape != vb.shape:
        return VariableChange(name=name, status="shape_changed", **base, **common)
    if mb.non_finite:
        status = "still_non_finite" if ma.non_finite else "appeared_non_finite"
        return VariableChange(name=name, status=status, **base, **common)
    if ma.non_finite:
        return VariableChange(name=name, status="became_finite", **base, **common)
    ratio = relative = growth = None
    if ma.norm > 0:
        ratio = mb.norm / ma.norm
        delta = np.asarray(vb.values, dtype=np.float64) - np.asarray(va.values, dtype=np.float64)
        relative = float(np.sqrt(np.dot(delta.reshape(-1), delta.reshape(-1)))) / ma.norm
        if steps and steps > 0 and ratio > 0:
            growth = ratio ** (1.0 / steps)
    unchanged = bool(np.array_equal(va.values, vb.values))
    return VariableChange(
        name=name,
        status="unchanged" if unchanged else "changed",
        **base,
        **common,
        ratio=_finite_or_none(ratio),
        relative_change=_finite_or_none(relative),
        growth_per_step=_finite_or_none(growth),
        steps_to_overflow=None,
    )


def _dtype(variables: dict[str, Variable], name: str) -> np.dtype:
    return variables[name].values.dtype


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _sort_key(change: VariableChange) -> tuple[Any, ...]:
    order = {
        "appeared_non_finite": 0,
        "still_non_finite": 1,
        "grew": 2,
        "shape_changed": 3,
        "became_finite": 4,
        "changed": 5,
        "unchanged": 6,
        "only_in_a": 7,
        "only_in_b": 8,
    }
    movement = abs(math.log(change.ratio)) if change.ratio else 0.0
    return (order[change.status], change.role != "weight", -movement)


def diff(a: Checkpoint, b: Checkpoint, *, max_growth: float = MAX_GROWTH) -> DiffReport:
    """Compare two loaded checkpoints (A the older, B the newer)."""
    va, vb = a.by_name(), b.by_name()
    pairs = _match(va, vb)
    if not pairs:
        raise NantraceError(
            f"{a.path!r} and {b.path!r} share no variable names; diff two checkpoints of the "
            "same model (ideally of the same format: TF checkpoint vs TF checkpoint)"
        )
    steps = b.step - a.step if a.step is not None and b.step is not None else None
    changes = []
    for name, variable in va.items():
        other = vb.get(pairs[name]) if name in pairs else None
        changes.append(_change(name, variable, other, steps))
    matched_b = set(pairs.values())
    for name, variable in vb.items():
        if name not in matched_b:
            changes.append(_change(name, None, variable, steps))
    # Only weights that grew abnormally get a projection: geometric extrapolation of normal
    # early-training drift (a bias leaving 0) would be noise.
    changes = [
        dataclasses.replace(
            c,
            status="grew",
            steps_to_overflow=_finite_or_none(
                _overflow_steps(c.growth_per_step, c.max_abs_b or 0.0, _dtype(vb, pairs[c.name]))
            ),
        )
        if c.status == "changed" and c.role == "weight" and (c.ratio or 0) > max_growth
        else c
        for c in changes
    ]
    changes.sort(key=_sort_key)
    layers = _layer_changes(changes, steps)
    stats_b = statistics(b)
    state_b = verdict_of(stats_b)
    non_finite_b = any((c.non_finite_b or 0) > 0 for c in changes)
    grew = tuple(c.name_b or c.name for c in changes if c.status == "grew")
    if non_finite_b or state_b == "non_finite":
        verdict = "non_finite"
    elif grew or state_b == "abnormal":
        verdict = "abnormal"
    else:
        verdict = "ok"
    diagnosis = None
    if verdict != "ok":
        history = _history(changes, a, b) if verdict == "abnormal" else None
        diagnosis = diagnose_state(b, stats_b, history=history, grown=grew)
    notes = list(diagnosis.notes) if diagnosis is not None else []
    if a.format != b.format:
        notes.append(
            f"A is a {a.format} and B a {b.format}: names were matched across formats, which may "
            "leave variables unmatched"
        )
    if steps is None:
        notes.append(
            "the step counter is missing from one file, so growth per step is not computed"
        )
    elif steps < 0:
        notes.append(f"B is {-steps} steps older than A: pass the older checkpoint first")
    elif steps == 0:
        notes.append("A and B are at the same step")
    unmatched = sum(c.status in ("only_in_a", "only_in_b") for c in changes)
    if unmatched:
        notes.append(f"{unmatched} variables are in only one of the two files")
    if verdict == "non_finite" and not any(
        c.ratio is not None for c in changes if c.role == "weight"
    ):
        notes.append(
            "every compared variable is non-finite in B, so no growth can be measured: diff an "
            "earlier checkpoint against the last finite one to see what grew"
        )
    return DiffReport(
        a=_side(a),
        b=_side(b),
        steps=steps,
        verdict=verdict,
        variables=tuple(changes),
        layers=tuple(layers),
        max_growth=max_growth,
        causes=(diagnosis.cause,) if diagnosis is not None and diagnosis.cause else (),
        fixes=diagnosis.fixes if diagnosis is not None else (),
        notes=tuple(notes),
        origin=diagnosis.origin if diagnosis is not None else None,
        projected=diagnosis.projected if diagnosis is not None else False,
    )


def _layer_changes(changes: list[VariableChange], steps: int | None) -> list[LayerChange]:
    grouped: dict[str, list[VariableChange]] = {}
    for c in changes:
        if c.role == "weight" and c.layer and c.status not in ("only_in_a", "only_in_b"):
            grouped.setdefault(c.layer, []).append(c)
    layers = []
    for name, members in grouped.items():
        norm_a = math.sqrt(sum((c.norm_a or 0.0) ** 2 for c in members))
        norm_b = math.sqrt(sum((c.norm_b or 0.0) ** 2 for c in members))
        bad_a = sum(c.non_finite_a or 0 for c in members)
        bad_b = sum(c.non_finite_b or 0 for c in members)
        ratio = norm_b / norm_a if norm_a > 0 and not bad_a and not bad_b else None
        growth = ratio ** (1.0 / steps) if ratio and steps and steps > 0 else None
        layers.append(
            LayerChange(
                name=name,
                norm_a=norm_a,
                norm_b=norm_b,
                ratio=_finite_or_none(ratio),
                growth_per_step=_finite_or_none(growth),
                non_finite_a=bad_a,
                non_finite_b=bad_b,
            )
        )
    layers.sort(
        key=lambda layer: (
            -layer.non_finite_b,
            -(abs(math.log(layer.ratio)) if layer.ratio else 0.0),
        )
    )
    return layers


def _history(changes: list[VariableChange], a: Checkpoint, b: Checkpoint) -> Any:
    """A's and B's weight norms as the guard's history would hold them (oldest first, the last
    row the step that trips): what the rules read as growth over the steps between A and B.
    Loss and gradient norms are not in a checkpoint: they stay NaN. None without a positive
    step difference or a weight measured in both."""
    if a.step is None or b.step is None or b.step <= a.step:
        return None
    measured = [c for c in changes if c.role == "weight" and c.ratio is not None]
    if not measured:
        return None
    from nantrace.postmortem.format_tf import tensorflow

    tensorflow()  # the history record lives beside the guard's ring buffers
    from nantrace.live.history import HistoryRecord

    nan = float("nan")
    return HistoryRecord(
        steps=np.array([a.step, b.step, b.step + 1]),
        loss=np.full(3, nan),
        grad_norm=np.full(3, nan),
        weight_norm=np.array(
            [
                [c.norm_a for c in measured],
                [c.norm_b for c in measured],
                [nan] * len(measured),
            ],
            dtype=np.float64,
        ),
        names=tuple(c.name_b or c.name for c in measured),
    )


def render_text(report: DiffReport, *, top: int = 20) -> str:
    """The text form (:func:`nantrace.postmortem.text.render_diff`)."""
    from nantrace.postmortem.text import render_diff

    return render_diff(report, top=top)
