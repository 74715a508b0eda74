"""The early warning's records: what the guard saw growing before any value went non-finite.

A warning is not a trip: nothing is non-finite yet and nothing is rolled back. Its report says
which signal fired (with its numbers and the threshold the run's own healthy window set), why
(a cause id from the same taxonomy as trips) and what to change (ranked fixes, checked by replay
where they can be). Field names are schema, like ``records.Report``'s: add, never rename.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nantrace.report.records import SCHEMA_VERSION, Cause, Fix, _json_default

#: signal ids, the stable names of the early-warning detectors.
SIGNALS = (
    "grad_norm_growth",  # sustained growth of the global gradient norm over a window
    "weight_norm_growth",  # sustained growth of one variable's norm over a window
    "update_ratio",  # |update| / |weight| far above the run's own healthy level
    "loss_spike",  # loss far above a robust running baseline
    "float16_range",  # float16 values nearing 65504 under mixed precision
)

#: the ``kind`` of a warning report (a trip report has none): how a reader tells them apart.
WARNING_KIND = "divergence_warning"


@dataclass(frozen=True)
class Signal:
    """One detector that fired.

    Attributes:
        id: one of SIGNALS.
        summary: one sentence with the numbers, e.g. "global gradient norm grew 40x in 20 steps".
        value: the statistic that fired (a growth factor, a ratio, a robust z-score, |x|max).
        threshold: the value it had to exceed, set from the run's own healthy window.
        baseline: the healthy level the statistic is compared with (None when not one number).
        window: steps the statistic covers.
        variable: the variable (or layer) for per-variable signals, else None.
    """

    id: str
    summary: str
    value: float
    threshold: float
    baseline: float | None = None
    window: int = 0
    variable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "summary": self.summary,
            "value": self.value,
            "threshold": self.threshold,
            "baseline": self.baseline,
            "window": self.window,
            "variable": self.variable,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signal:
        return cls(
            id=data["id"],
            summary=data["summary"],
            value=float(data["value"]),
            threshold=float(data["threshold"]),
            baseline=None if data.get("baseline") is None else float(data["baseline"]),
            window=int(data.get("window", 0)),
            variable=data.get("variable"),
        )


@dataclass(frozen=True)
class DivergenceReport:
    """The diagnosis of one early warning (one per episode of growth).

    Attributes:
        step: the step whose status fired the warning (its update was applied: nothing is
            non-finite, nothing is rolled back).
        signal: the signal that fired first (the headline).
        signals: every signal that was over its threshold at that step, ``signal`` first.
        cause: WHY, with the same ids as trips (``learning_rate_too_high``,
            ``recurrent_explosion``, ``initializer_scale``, ...); ``unknown`` when the evidence
            fits no rule.
        fixes: ranked fixes with concrete values; ``verdict`` set where replay checked them
            (``trains``: with the fix, the run went on from the anchor without the growth).
        tried: fixes replay showed not to stop the growth.
        history: the ring buffers' rows (same shape as ``Report.history``) for the plots.
        notes: what could not be checked, and why.
        bundle: the bundle folder, when one was written.
    """

    step: int
    signal: Signal
    signals: tuple[Signal, ...]
    cause: Cause | None
    fixes: tuple[Fix, ...] = ()
    tried: tuple[Fix, ...] = ()
    history: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    bundle: str | None = None
    kind: str = WARNING_KIND
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "step": self.step,
            "signal": self.signal.to_dict(),
            "signals": [s.to_dict() for s in self.signals],
            "cause": self.cause.to_dict() if self.cause else None,
            "fixes": [f.to_dict() for f in self.fixes],
            "tried": [f.to_dict() for f in self.tried],
            "history": self.history,
            "notes": list(self.notes),
            "bundle": self.bundle,
            "extra": dict(self.extra),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DivergenceReport:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION or data.get("kind") != WARNING_KIND:
            raise ValueError(
                f"not a nantrace divergence warning of schema {SCHEMA_VERSION} "
                f"(kind {data.get('kind')!r}, schema_version {version!r})"
            )
        return cls(
            step=int(data["step"]),
            signal=Signal.from_dict(data["signal"]),
            signals=tuple(Signal.from_dict(s) for s in data.get("signals", ())),
            cause=Cause.from_dict(data["cause"]) if data.get("cause") else None,
            fixes=tuple(Fix.from_dict(f) for f in data.get("fixes", ())),
            tried=tuple(Fix.from_dict(f) for f in data.get("tried", ())),
            history=data.get("history"),
            notes=tuple(data.get("notes", ())),
            bundle=data.get("bundle"),
            extra=dict(data.get("extra", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> DivergenceReport:
        return cls.from_dict(json.loads(text))

    @property
    def fix_ids(self) -> list[str]:
        return [f.id for f in self.fixes]

    def headline(self) -> str:
        """One line: which signal fired at which step, why, and the first thing to change."""
        why = f"; cause: {self.cause.id}" if self.cause else ""
        fix = f"; try: {self.fixes[0].id}" if self.fixes else ""
        return f"divergence warning at step {self.step} — {self.signal.summary}{why}{fix}"

    def __str__(self) -> str:
        from nantrace.report.warning_text import render_warning_plain

        return render_warning_plain(self)

    def __rich__(self) -> Any:
        from nantrace.report.warning_text import render_warning_rich

        return render_warning_rich(self)

    def _repr_html_(self) -> str:
        """Jupyter: the warning's HTML page in a sandboxed iframe, as a trip report's."""
        from nantrace.report.notebook import report_html

        return report_html(self)

    def _repr_markdown_(self) -> str:
        from nantrace.report.notebook import report_markdown

        return report_markdown(self)
