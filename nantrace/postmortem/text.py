"""The text form of ``nantrace scan`` and ``nantrace diff`` reports (the JSON form is their
``to_json``): tables of layers and variables, then where the rules looked, why, what to change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nantrace.report.records import Cause, Origin

if TYPE_CHECKING:
    from nantrace.postmortem.diff import DiffReport
    from nantrace.postmortem.scan import ScanReport, VariableStats


def _why(origin: Origin | None, projected: bool, causes: tuple[Cause, ...]) -> list[str]:
    """WHERE (the origin the rules were given) and WHY (their cause, with its confidence)."""
    lines: list[str] = []
    if origin is not None:
        where = origin.kind + (f" in {origin.layer}" if origin.layer else "")
        detail = ", ".join(
            part
            for part in (
                f"op {origin.op_type}" if origin.op_type else "",
                f"variable {origin.variable}" if origin.variable else "",
                f"phase {origin.phase}",
            )
            if part
        )
        lines += ["", "WHERE", f"  {where} ({detail})" + (" — projected" if projected else "")]
    if causes:
        lines += ["", "WHY"]
        for cause in causes:
            lines.append(f"  {cause.id} (confidence {cause.confidence:.2g}): {cause.summary}")
    return lines


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


def render_scan(report: ScanReport, *, all_variables: bool = False) -> str:
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
    lines += _why(report.origin, report.projected, report.causes)
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


def _steps(steps: float | None) -> str:
    if steps is None:
        return "-"
    if steps < 1:
        return "<1 step"
    return f"{steps:.0f} step" + ("" if round(steps) == 1 else "s")


def _norm(norm: float | None, non_finite: int | None) -> str:
    """A norm cell; marks norms taken over the finite part of a variable with NaN/Inf."""
    if non_finite:
        return f"{_num(norm)} ({non_finite} NaN/Inf)" if norm else f"{non_finite} NaN/Inf"
    return _num(norm)


def render_diff(report: DiffReport, *, top: int = 20) -> str:
    """The human summary: where non-finite values appeared, what grew, why, what to change."""
    a, b = report.a, report.b
    step_a = f" (step {a['step']})" if a.get("step") is not None else ""
    step_b = f" (step {b['step']})" if b.get("step") is not None else ""
    lines = [
        f"nantrace diff {a['path']}{step_a} -> {b['path']}{step_b}",
        f"verdict: {report.headline()}",
    ]
    if report.appeared_non_finite:
        lines += ["", "NON-FINITE APPEARED IN"]
        for v in report.variables:
            if v.status == "appeared_non_finite":
                lines.append(
                    f"  {v.name}: {v.non_finite_b} non-finite elements (layer {v.layer or '-'})"
                )
    if report.layers:
        lines += ["", "LAYERS (weights)"]
        rows = [["layer", "|A|", "|B|", "ratio", "per step", "non-finite B"]]
        for layer in report.layers:
            rows.append(
                [
                    layer.name,
                    _norm(layer.norm_a, layer.non_finite_a),
                    _norm(layer.norm_b, layer.non_finite_b),
                    _num(layer.ratio),
                    _num(layer.growth_per_step),
                    str(layer.non_finite_b),
                ]
            )
        lines += _table(rows)
    shown = [v for v in report.variables if v.status != "unchanged"][:top]
    if shown:
        lines += ["", f"VARIABLES (top {len(shown)} by change)"]
        rows = [["variable", "status", "|A|", "|B|", "ratio", "per step", "overflow in"]]
        for v in shown:
            rows.append(
                [
                    v.name,
                    v.status,
                    _norm(v.norm_a, v.non_finite_a),
                    _norm(v.norm_b, v.non_finite_b),
                    _num(v.ratio),
                    _num(v.growth_per_step),
                    _steps(v.steps_to_overflow),
                ]
            )
        lines += _table(rows)
    lines += _why(report.origin, report.projected, report.causes)
    if report.fixes:
        lines += ["", "WHAT TO CHANGE"]
        for i, fix in enumerate(report.fixes, 1):
            lines.append(f"  {i}. {fix.id}" + (f": {fix.snippet}" if fix.snippet else ""))
    if report.notes:
        lines += ["", "NOTES"] + [f"  - {n}" for n in report.notes]
    return "\n".join(lines) + "\n"
