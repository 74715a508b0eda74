"""The text of an early warning: which signal fired (with its threshold), why, what to change.

Same layout as a trip's text (``nantrace.report.text``), with the signal in place of WHERE: a
warning has no origin op, nothing is non-finite and nothing was rolled back. ``render.text``'s
``render_plain`` / ``render_rich`` / ``print_report`` hand a warning report to this module, so
every caller (``str(report)``, the CLI, TensorBoard, notebooks) renders both kinds.
"""

from __future__ import annotations

from typing import Any

from nantrace.report.text import _short, why_and_what_lines
from nantrace.report.warning_records import DivergenceReport, Signal

#: What each signal's numbers are, in words (value / threshold / baseline).
UNITS = {
    "grad_norm_growth": ("x its healthy level", "x", "healthy gradient norm"),
    "weight_norm_growth": ("x its healthy level", "x", "healthy norm"),
    "update_ratio": ("x its healthy level", "x", "healthy |update| / |weight|"),
    "loss_spike": ("", "", "healthy loss"),
    "float16_range": ("", "", "healthy |x|max"),
}


def signal_numbers(signal: Signal) -> str:
    """``value 40.2x its healthy level, threshold 10x, healthy gradient norm 1.3, 20 steps``."""
    value_unit, threshold_unit, baseline_name = UNITS.get(signal.id, ("", "", "baseline"))
    parts = [
        f"value {_short(float(signal.value))}{value_unit}",
        f"threshold {_short(float(signal.threshold))}{threshold_unit}",
    ]
    if signal.baseline is not None:
        parts.append(f"{baseline_name} {_short(float(signal.baseline))}")
    if signal.window:
        parts.append(f"over {signal.window} step{'s' if signal.window != 1 else ''}")
    if signal.variable:
        parts.append(f"variable {signal.variable}")
    return ", ".join(parts)


def warning_lines(report: DivergenceReport) -> list[tuple[str, str]]:
    """(style, text) lines; the plain and rich renderers share them."""
    lines: list[tuple[str, str]] = [("bold yellow", f"nantrace: {report.headline()}")]
    lines.append(("bold", "SIGNAL"))
    lines.append(("", f"  {report.signal.id}: {report.signal.summary}"))
    lines.append(("dim", f"  {signal_numbers(report.signal)}"))
    others = [s for s in report.signals if s != report.signal]
    if others:
        lines.append(("", "  also over their thresholds at that step:"))
        for signal in others:
            lines.append(("dim", f"  - {signal.id}: {signal.summary}"))
    lines += why_and_what_lines(report, "TRIED BY REPLAY, DID NOT STOP THE GROWTH")
    history = _history_line(report)
    if history:
        lines.append(("dim", history))
    for note in report.notes:
        lines.append(("yellow", f"note: {note}"))
    lines.append(
        ("dim", "nothing was rolled back: the warning step's update was applied (nothing is NaN)")
    )
    if report.bundle:
        lines.append(("dim", f"bundle: {report.bundle}"))
    return lines


def _history_line(report: DivergenceReport) -> str:
    """``history: steps 0-21, gradient norm 6.9 -> 2.1e+04, loss 5.7 -> 2.8e+03``."""
    history = report.history or {}
    steps = history.get("steps") or []
    if len(steps) < 2:
        return ""
    parts = [f"history: steps {steps[0]}-{steps[-1]}"]
    for key, name in (("grad_norm", "gradient norm"), ("loss", "loss")):
        values = [v for v in history.get(key) or [] if v is not None]
        if len(values) >= 2:
            parts.append(f"{name} {_short(float(values[0]))} -> {_short(float(values[-1]))}")
    return ", ".join(parts)


def render_warning_plain(report: DivergenceReport) -> str:
    return "\n".join(text for _, text in warning_lines(report))


def render_warning_rich(report: DivergenceReport) -> Any:
    from rich.text import Text

    text = Text()
    for index, (style, line) in enumerate(warning_lines(report)):
        if index:
            text.append("\n")
        text.append(line, style=style or None)
    return text
