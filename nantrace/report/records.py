"""The report's records: frozen dataclasses that round-trip through JSON.

Field names and the ``kind`` / ``id`` values are the stable schema documented in
docs/report-schema.md and docs/causes-and-fixes.md; add fields rather than rename them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

#: origin.kind values (WHERE). ``unknown`` only when the replay did not reproduce the trip.
ORIGIN_KINDS = (
    "input_data",
    "activation",
    "loss",
    "matmul_overflow",
    "gradient",
    "optimizer_update",
    "unknown",
)

PHASES = ("input", "forward", "loss", "backward", "update")


@dataclass(frozen=True)
class Health:
    """Numeric health of one tensor.

    Attributes:
        nan: count of NaN elements.
        pos_inf / neg_inf: counts of +Inf / -Inf elements.
        max_abs: largest |x| over the finite elements (0.0 when none is finite).
        size: number of elements.
        dtype: the tensor's dtype name.
        shape: the tensor's shape.
    """

    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    max_abs: float = 0.0
    size: int = 0
    dtype: str = ""
    shape: tuple[int, ...] = ()
    min_abs_nonzero: float | None = None
    zeros: int = 0
    #: smallest / largest finite value (signed): domain errors need the sign, not just |x|.
    min_value: float | None = None
    max_value: float | None = None

    @property
    def finite(self) -> bool:
        return self.nan == 0 and self.pos_inf == 0 and self.neg_inf == 0

    @property
    def inf(self) -> int:
        return self.pos_inf + self.neg_inf

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["shape"] = list(self.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Health:
        data = dict(data)
        data["shape"] = tuple(data.get("shape", ()))
        return cls(**{k: v for k, v in data.items() if k in _HEALTH_FIELDS})


_HEALTH_FIELDS = frozenset(f.name for f in dataclasses.fields(Health))


@dataclass(frozen=True)
class Origin:
    """WHERE the first non-finite value appeared.

    Attributes:
        kind: one of ORIGIN_KINDS.
        op_type / op_name: the first op whose inputs were finite and whose output was not.
        layer: Keras layer path (``model/dense_1``) or None outside layers.
        source: ``file:line`` of the user code that created the op.
        phase: input / forward / loss / backward / update.
        step: the watched step index (0-based) that tripped.
        inputs / output: health of the op's inputs and first output.
        tensor / rows: for input_data, which batch tensor and which sample indices.
        variable: for optimizer_update, the variable the update made non-finite.
    """

    kind: str
    phase: str
    step: int
    op_type: str | None = None
    op_name: str | None = None
    layer: str | None = None
    source: str | None = None
    inputs: tuple[Health, ...] = ()
    output: Health | None = None
    tensor: str | None = None
    rows: tuple[int, ...] = ()
    variable: str | None = None
    device: str | None = None
    #: for a backward-pass origin: the ``tape.gradient(...)`` line (``source`` is then the
    #: user line of the forward op whose gradient went non-finite: the line to change).
    tape_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "phase": self.phase,
            "step": self.step,
            "op_type": self.op_type,
            "op_name": self.op_name,
            "layer": self.layer,
            "source": self.source,
            "inputs": [h.to_dict() for h in self.inputs],
            "output": self.output.to_dict() if self.output else None,
            "tensor": self.tensor,
            "rows": list(self.rows),
            "variable": self.variable,
            "device": self.device,
            "tape_source": self.tape_source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Origin:
        data = dict(data)
        data["inputs"] = tuple(Health.from_dict(h) for h in data.get("inputs", ()))
        data["output"] = Health.from_dict(data["output"]) if data.get("output") else None
        data["rows"] = tuple(data.get("rows", ()))
        return cls(**data)


#: Verification verdicts: only ``trains`` earns ``verified=True``.
VERDICTS = ("trains", "postpones", "fails")


@dataclass(frozen=True)
class Cause:
    """WHY: a stable id, one sentence, the numbers behind it, and how sure nantrace is.

    ``confidence`` (0..1) says how well the evidence fits the rule; replay raises it when the
    cause's own fix trains and lowers it when that fix fails. ``id == "unknown"`` when no
    rule's evidence fits: the evidence is still shown, no cause is guessed.
    """

    id: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "summary": self.summary,
            "evidence": dict(self.evidence),
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cause:
        return cls(
            id=data["id"],
            summary=data["summary"],
            evidence=dict(data.get("evidence", {})),
            confidence=float(data.get("confidence", 1.0)),
        )


@dataclass(frozen=True)
class Fix:
    """WHAT to change, with concrete values.

    Attributes:
        id: stable fix id (``lower_learning_rate``, ``clip_gradients``, ...).
        rationale: the evidence that makes this fix fit.
        params: concrete values (new learning rate, clip norm, rows, epsilon, layer, ...).
        snippet: code the user can paste, where one applies.
        verified: True only when replay's verdict is ``trains``; False when it is
            ``postpones`` or ``fails``; None when not checked.
        score: ranking score (higher first); kept for transparency.
        verdict: ``trains`` / ``postpones`` / ``fails`` (VERDICTS), None when not checked.
    """

    id: str
    rationale: str
    params: dict[str, Any] = field(default_factory=dict)
    snippet: str | None = None
    verified: bool | None = None
    score: float = 0.0
    verdict: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rationale": self.rationale,
            "params": dict(self.params),
            "snippet": self.snippet,
            "verified": self.verified,
            "score": self.score,
            "verdict": self.verdict,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(**data)


@dataclass(frozen=True)
class Trip:
    """What the in-graph guard saw on the tripping step."""

    step: int
    loss: bool
    gradients: bool
    variables: bool
    #: a float value the step returned (not its loss) was non-finite: a metric
    outputs: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trip:
        return cls(**data)


@dataclass(frozen=True)
class Report:
    """The diagnosis of one tripped step."""

    trip: Trip
    origin: Origin
    cause: Cause | None
    fixes: tuple[Fix, ...]
    reproduced: bool
    path: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    restored: bool = True
    ops_recorded: int = 0
    bundle: str | None = None
    history: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    #: fixes that replay showed not to help (verdict postpones/fails), out of the ranking.
    tried: tuple[Fix, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "trip": self.trip.to_dict(),
            "reproduced": self.reproduced,
            "restored": self.restored,
            "origin": self.origin.to_dict(),
            "cause": self.cause.to_dict() if self.cause else None,
            "fixes": [f.to_dict() for f in self.fixes],
            "tried": [f.to_dict() for f in self.tried],
            "path": list(self.path),
            "notes": list(self.notes),
            "ops_recorded": self.ops_recorded,
            "bundle": self.bundle,
            "history": self.history,
            "graph": self.graph,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"report schema_version {version!r} is not supported by this nantrace "
                f"(expects {SCHEMA_VERSION}); upgrade nantrace to read it"
            )
        return cls(
            trip=Trip.from_dict(data["trip"]),
            origin=Origin.from_dict(data["origin"]),
            cause=Cause.from_dict(data["cause"]) if data.get("cause") else None,
            fixes=tuple(Fix.from_dict(f) for f in data.get("fixes", ())),
            tried=tuple(Fix.from_dict(f) for f in data.get("tried", ())),
            reproduced=data["reproduced"],
            path=tuple(data.get("path", ())),
            notes=tuple(data.get("notes", ())),
            restored=data.get("restored", True),
            ops_recorded=data.get("ops_recorded", 0),
            bundle=data.get("bundle"),
            history=data.get("history"),
            graph=data.get("graph"),
            schema_version=version,
        )

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))

    def headline(self) -> str:
        """One line: where the first non-finite value appeared, and why."""
        o = self.origin
        if o.kind == "input_data":
            where = f"input_data: {o.tensor} holds NaN/Inf in rows {list(o.rows[:5])}"
        elif o.kind == "unknown":
            where = "the guard tripped but the replay did not reproduce the non-finite value"
        else:
            where = f"{o.kind}: {o.op_type} in {o.layer or o.phase}"
        why = f"; cause: {self.cause.id}" if self.cause else ""
        fix = f"; try: {self.fixes[0].id}" if self.fixes else ""
        return f"non-finite at step {self.trip.step} — {where}{why}{fix}"

    @property
    def fix_ids(self) -> list[str]:
        return [f.id for f in self.fixes]

    def __str__(self) -> str:
        from nantrace.report.text import render_plain

        return render_plain(self)

    def __rich__(self) -> Any:
        from nantrace.report.text import render_rich

        return render_rich(self)

    def _repr_html_(self) -> str:
        """Jupyter: the HTML report in a sandboxed iframe, so it cannot restyle the notebook."""
        from nantrace.report.notebook import report_html

        return report_html(self)

    def _repr_markdown_(self) -> str:
        """Jupyter front-ends without HTML: headline and the plain-text report."""
        from nantrace.report.notebook import report_markdown

        return report_markdown(self)


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, tuple):
        return list(value)
    return str(value)
