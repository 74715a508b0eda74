"""An early warning as one self-contained HTML page (same style and rules as the trip's page,
``nantrace.report.html``: inline CSS and SVG, no network).

Top to bottom: the headline and badges; the signal that fired with its numbers (value,
threshold, the run's own healthy baseline, window) and every other signal over its threshold;
WHY; WHAT TO CHANGE (ranked fixes with their replay verdicts, and those replay showed not to
stop the growth); the history charts with the warning step marked (amber vertical line) and the
signal's threshold drawn where the history holds the signal's series (see
:func:`threshold_line`; a chart the headline signal does not use shows the threshold of another
signal over its threshold at that step, if any); the notes.
"""

from __future__ import annotations

from typing import Any

from nantrace.report.html import _e, _fixes, _kv, _num, _why, chart_svg, page
from nantrace.report.warning_records import DivergenceReport, Signal
from nantrace.report.warning_text import signal_numbers

#: The vertical line's label on the history charts.
MARKER = "warning"


def threshold_line(signal: Signal, history: dict[str, Any] | None) -> tuple[str, float, str] | None:
    """``(series, level, label)``: where the signal's threshold lies in the units of a history
    chart, or None when the history does not hold that signal's series.

    * ``grad_norm_growth``: the gradient norm at ``threshold x baseline`` (the growth factor
      over the healthy gradient norm);
    * ``weight_norm_growth``: the variable's norm at ``threshold x baseline``, when that
      variable is one of the weight norms the report's history keeps;
    * ``loss_spike``: the loss at ``threshold`` (already in loss units);
    * ``update_ratio`` and ``float16_range``: their statistics are not in the history.
    """
    if signal.id == "loss_spike":
        return "loss", float(signal.threshold), f"spike threshold {signal.threshold:.3g}"
    if signal.baseline is None:
        return None
    level = float(signal.baseline) * float(signal.threshold)
    label = f"threshold {signal.threshold:.3g}x healthy {signal.baseline:.3g}"
    if signal.id == "grad_norm_growth":
        return "grad_norm", level, label
    weights = (history or {}).get("weight_norm") or {}
    if signal.id == "weight_norm_growth" and signal.variable in weights:
        return "weight_norm", level, f"{signal.variable}: {label}"
    return None


def render_warning_html(report: DivergenceReport) -> str:
    """The whole page as a string (UTF-8, no external resource)."""
    return page(
        title=f"nantrace: divergence warning at step {report.step}",
        heading=f'<span class="nan">Diverging</span> at step {report.step}',
        headline=report.headline(),
        badges=_badges(report),
        sections=[
            _signal_section(report),
            _why(report),  # type: ignore[arg-type]  # reads .cause only
            _fixes(report),  # type: ignore[arg-type]  # reads .fixes and .tried only
            _history_section(report),
            _notes(report),
        ],
        footer=f"nantrace divergence warning · schema {report.schema_version} · "
        f"signal {report.signal.id}",
    )


def _badges(report: DivergenceReport) -> str:
    badges = [
        f'<span class="warn">signal: {_e(report.signal.id)}</span>',
        f'<span class="bad">cause: {_e(report.cause.id)}</span>'
        if report.cause
        else '<span class="warn">no cause inferred</span>',
        '<span class="ok">nothing non-finite yet</span>',
    ]
    if report.fixes:
        first = report.fixes[0]
        verified = " (verified by replay)" if first.verified else ""
        badges.append(f'<span class="ok">try first: {_e(first.id)}{_e(verified)}</span>')
    return "".join(badges)


def _signal_section(report: DivergenceReport) -> str:
    signal = report.signal
    out = [
        '<section id="signal"><h2>What is growing</h2>',
        f'<div><span class="kind">{_e(signal.id)}</span>{_e(signal.summary)}</div>',
    ]
    facts = [
        ("value", f"<code>{_e(_num(float(signal.value)))}</code>"),
        ("threshold", f"<code>{_e(_num(float(signal.threshold)))}</code>"),
        (
            "healthy baseline",
            f"<code>{_e(_num(signal.baseline))}</code>" if signal.baseline is not None else "-",
        ),
        ("window", f"{signal.window} steps" if signal.window else "-"),
    ]
    if signal.variable:
        facts.append(("variable", f"<code>{_e(signal.variable)}</code>"))
    out.append(_kv(facts))
    if len(report.signals) > 1 or (report.signals and report.signals[0] != signal):
        out.append("<table><tr><th>signal over its threshold</th><th>numbers</th></tr>")
        for other in report.signals:
            out.append(
                f"<tr><td class=mono>{_e(other.id)}</td><td>{_e(other.summary)}<br>"
                f'<span class="verification">{_e(signal_numbers(other))}</span></td></tr>'
            )
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def _history_section(report: DivergenceReport) -> str:
    out = ['<section id="history"><h2>History up to the warning</h2>']
    h = report.history or {}
    steps = [int(s) for s in h.get("steps") or []]
    if len(steps) < 2:
        out.append(
            "<p>No history recorded (<code>watch(history=False)</code>, or too few steps)."
            "</p></section>"
        )
        return "".join(out)
    line = threshold_line(report.signal, h)
    lines = {}  # chart -> the threshold drawn there: the headline signal's, else another's
    for signal in (report.signal, *report.signals):
        found = threshold_line(signal, h)
        if found is not None:
            lines.setdefault(found[0], found)

    def threshold_for(key: str) -> tuple[float, str] | None:
        return (lines[key][1], lines[key][2]) if key in lines else None

    charts = [
        chart_svg(
            "loss", steps, {"loss": h.get("loss") or []}, report.step, MARKER, threshold_for("loss")
        ),
        chart_svg(
            "global gradient norm",
            steps,
            {"‖g‖": h.get("grad_norm") or []},
            report.step,
            MARKER,
            threshold_for("grad_norm"),
        ),
    ]
    weights = h.get("weight_norm") or {}
    if weights:
        charts.append(
            chart_svg(
                "weight norms (fastest-growing)",
                steps,
                weights,
                report.step,
                MARKER,
                threshold_for("weight_norm"),
            )
        )
    if line is None:
        out.append(
            f'<p class="verification">The threshold of {_e(report.signal.id)} '
            f"({_e(signal_numbers(report.signal))}) is not drawn: the history does not keep "
            "that statistic"
            + (" (the dashed lines are other signals' thresholds)" if lines else "")
            + ".</p>"
        )
    out.append('<div class="charts">' + "".join(charts) + "</div></section>")
    return "".join(out)


def _notes(report: DivergenceReport) -> str:
    items = [f"<li>{_e(n)}</li>" for n in report.notes]
    items.append(
        "<li>nothing was rolled back: the warning step's update was applied (nothing is "
        "non-finite yet)</li>"
    )
    if report.bundle:
        items.append(f"<li>bundle: <code>{_e(report.bundle)}</code></li>")
    return f'<section id="notes"><h2>Notes</h2><ul class="notes">{"".join(items)}</ul></section>'
