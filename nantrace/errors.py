"""Exceptions nantrace raises: one for bad usage, one for a diagnosed non-finite step."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nantrace.report.records import Report
    from nantrace.report.warning_records import DivergenceReport


class NantraceError(Exception):
    """Bad input or usage: the message says what is wrong and how to fix it, in one line."""


class NonFiniteError(FloatingPointError):
    """A watched step produced a non-finite loss, gradient or variable.

    ``.report`` holds the diagnosis: where (origin), why (cause) and what to change (fixes).
    The variables and optimizer state were restored to their values before the step.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(report.headline())

    def __str__(self) -> str:
        return str(self.report)


class NonFiniteWarning(RuntimeWarning):
    """Issued instead of NonFiniteError when ``on_nan="warn"``: the full report for the first
    trip of a watched step, one line (the report's headline) for every later one.

    ``.report`` holds the trip's :class:`~nantrace.report.records.Report` (None if built by hand).
    """

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


class DivergenceWarning(UserWarning):
    """The run is diverging (a gradient or weight norm growing, loss spiking, float16 values
    nearing their limit) before any value is non-finite. Issued once per episode when
    ``early_warning="warn"``; ``.report`` holds the
    :class:`~nantrace.report.warning_records.DivergenceReport` (signal, cause, ranked fixes)."""

    def __init__(self, message: str, report: DivergenceReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class DivergenceError(NantraceError):
    """Raised instead of DivergenceWarning when ``early_warning="raise"``; the variables hold
    the state after the warning step (nothing is rolled back: nothing is non-finite yet)."""

    def __init__(self, report: DivergenceReport) -> None:
        self.report = report
        super().__init__(report.headline())


def internal_error_text(error: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message at file:line`` for a nantrace bug met while building a
    report, shown in the report instead of crashing the user's training (cause inference and
    fix verification both say it this way)."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    text = str(error).strip().splitlines()[0][:limit] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}{where}"
