"""The short text summary of a report: where, why, what to change."""

from __future__ import annotations

import io
from typing import IO, Any

from nantrace.report.records import Health, Report


def _health(h: Health | None) -> str:
    if h is None:
        return "-"
    parts = []
    if h.nan:
        parts.append(f"{h.nan} NaN")
    if h.pos_inf:
        parts.append(f"{h.pos_inf} +Inf")
    if h.neg_inf:
        parts.append(f"{h.neg_inf} -Inf")
    parts.append(f"max|x|={h.max_abs:.3g}")
    return f"{h.dtype}{list(h.shape)} " + ", ".join(parts)


def _lines(report: Report) -> list[tuple[str, str]]:
    """(style, text) lines; the plain and rich renderers share them."""
    o = report.origin
    lines: list[tuple[str, str]] = [("bold red", f"nantrace: {report.headline()}")]
    lines.append(("bold", "WHERE"))
    if o.kind == "input_data":
        lines.append(
            (
                "",
                f"  input_data — batch tensor {o.tensor!s}, sample rows {list(o.rows[:20])}"
                + (" ..." if len(o.rows) > 20 else ""),
            )
        )
        lines.append(("", f"  {_health(o.output)}"))
    elif o.kind == "unknown":
        lines.append(
            (
                "",
                f"  not reproduced by replay (guard saw: loss={report.trip.loss}, "
                f"gradients={report.trip.gradients}, variables={report.trip.variables})",
            )
        )
    else:
        lines.append(("", f"  {o.kind} — op {o.op_type} ({o.op_name}), phase {o.phase}"))
        lines.append(("", f"  layer: {o.layer or '-'}   source: {o.source or '-'}"))
        if o.device:
            lines.append(("dim", f"  device: {o.device}"))
        if o.variable:
            lines.append(("", f"  variable: {o.variable}"))
        for i, h in enumerate(o.inputs):
            lines.append(("dim", f"  input {i}: {_health(h)}"))
        lines.append(("dim", f"  output : {_health(o.output)}"))
    if report.path and len(report.path) > 1:
        shown = list(report.path)
        if len(shown) > 8:
            shown = shown[:4] + ["..."] + shown[-3:]
        lines.append(("dim", "  path: " + " → ".join(shown)))
    lines += why_and_what_lines(report, "TRIED BY REPLAY, DID NOT HELP")
    for note in report.notes:
        lines.append(("yellow", f"note: {note}"))
    if report.restored:
        lines.append(("dim", "state restored to its values before the tripping step"))
    if report.bundle:
        lines.append(("dim", f"bundle: {report.bundle}"))
    return lines


#: Fix params shown in the text report (the rest are in the JSON).
_SHOWN = (
    "tensor",
    "scale",
    "layer",
    "layers",
    "suggested",
    "current",
    "clipnorm",
    "epsilon",
    "mode",
    "rows",
    "op_type",
    "where",
    "variables",
    "basis",
)


def why_and_what_lines(report: Any, tried_title: str) -> list[tuple[str, str]]:
    """The WHY, WHAT TO CHANGE and tried-fixes sections, shared by trip and warning reports
    (both have ``cause``, ``fixes`` and ``tried``)."""
    lines: list[tuple[str, str]] = []
    lines.append(("bold", "WHY"))
    if report.cause:
        sure = (
            "no rule's evidence fits"
            if report.cause.id == "unknown"
            else f"confidence {report.cause.confidence:.2f}"
        )
        lines.append(("", f"  {report.cause.id} ({sure}): {report.cause.summary}"))
        if report.cause.id == "unknown":
            for key, value in report.cause.evidence.items():
                if value not in (None, [], {}):
                    lines.append(("dim", f"     {key}: {_short(value)}"))
    else:
        lines.append(("", "  no cause inferred"))
    lines.append(("bold", "WHAT TO CHANGE"))
    if not report.fixes:
        lines.append(("", "  no fix suggested"))
    for rank, fix in enumerate(report.fixes, 1):
        check = {True: " [verified: trains]", False: " [did not help in replay]", None: ""}[
            fix.verified
        ]
        lines.append(("green" if rank == 1 else "", f"  {rank}. {fix.id}{check}: {fix.rationale}"))
        lines += _fix_details(fix)
    if report.tried:
        lines.append(("bold", tried_title))
        for fix in report.tried:
            lines.append(
                ("", f"  - {fix.id} [{fix.verdict}]: {fix.params.get('verification', '')}")
            )
            if fix.snippet:
                lines += [("dim", f"     {line}") for line in fix.snippet.splitlines()]
    return lines


def _fix_details(fix: Any) -> list[tuple[str, str]]:
    params = ", ".join(
        f"{k}={_short(fix.params[k])}" for k in _SHOWN if fix.params.get(k) is not None
    )
    out = []
    if params:
        out.append(("dim", f"     {params}"))
    if fix.params.get("verification"):
        out.append(("dim", f"     replay: {fix.params['verification']}"))
    if fix.snippet:  # a fix that edits several lines shows one snippet line each
        out += [("cyan", f"     {line}") for line in fix.snippet.splitlines()]
    return out


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list) and len(value) > 10:
        return f"{value[:10]}... ({len(value)} total)"
    return str(value)


def _is_warning(report: Any) -> bool:
    """A divergence warning (``warning_records.DivergenceReport``) renders through
    ``render.warning_text``; a trip report here."""
    from nantrace.report.warning_records import WARNING_KIND

    return getattr(report, "kind", None) == WARNING_KIND


def render_plain(report: Report) -> str:
    if _is_warning(report):
        from nantrace.report.warning_text import render_warning_plain

        return render_warning_plain(report)  # type: ignore[arg-type]
    return "\n".join(text for _, text in _lines(report))


def render_rich(report: Report) -> Any:
    if _is_warning(report):
        from nantrace.report.warning_text import render_warning_rich

        return render_warning_rich(report)  # type: ignore[arg-type]
    from rich.text import Text

    text = Text()
    for index, (style, line) in enumerate(_lines(report)):
        if index:
            text.append("\n")
        text.append(line, style=style or None)
    return text


def print_report(report: Report, file: IO[str] | None = None) -> None:
    """Print with colour on a terminal, plain text when piped (rich decides, NO_COLOR honoured)."""
    from rich.console import Console

    Console(file=file, highlight=False, soft_wrap=True).print(render_rich(report))


def report_text(report: Report) -> str:
    buffer = io.StringIO()
    print_report(report, file=buffer)
    return buffer.getvalue()
