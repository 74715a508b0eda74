"""Score nantrace's early warning on the blind divergence suite (tests/divergence_suite.py).

For each diverging scenario: the plain run (no nantrace) gives the end step (first NaN/Inf, or
the loss criterion of the scenario); the watched run (``early_warning="warn"``) is stopped at
the first warning or just before that end. Scored: whether the first warning came before the
end, its lead (steps, and as a fraction of the steps run before the end), whether its cause is
one the scenario accepts, whether its first fix is, and that fix's replay verdict. For each
healthy scenario: the whole budget under the watch, every warning a false alarm.

Only what a scenario checks is counted (a scenario without acceptable causes does not add to
the cause tally); a missing warning fails every check of its scenario. The headline counts
the slowly diverging runs; the fast one (NaN within a few steps) is listed apart.

Run: python tests/score_divergence.py [--suite blind2] [--only NAME ...] [--json out.json]
[--plain] (``--plain``: only the runs without nantrace, i.e. the suite itself; ``--suite blindN``:
the scenarios of ``tests/divergence_blindN.py`` instead, another suite written blind, whose runs
use the same records and helpers). When nantrace does not
take ``early_warning=`` yet, prints "early warning not available" and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import importlib  # noqa: E402

import divergence_suite as suite  # noqa: E402


def suite_scenarios(name: str) -> list[suite.Scenario]:
    """``main``: divergence_suite's runs; ``blindN``: ``SCENARIOS`` of divergence_blindN.py."""
    if name == "main":
        return suite.all_scenarios()
    try:
        module = importlib.import_module(f"divergence_{name}")
    except ImportError as exc:
        raise SystemExit(
            f"no divergence suite {name!r} (tests/divergence_{name}.py): {exc}"
        ) from None
    scenarios = list(module.SCENARIOS)
    names = [s.name for s in scenarios]
    if len(names) != len(set(names)):
        raise SystemExit(f"divergence suite {name!r}: scenario names must be unique")
    return scenarios


@dataclass(frozen=True)
class Row:
    """One scenario's score; None where a field does not apply or was not checked."""

    name: str
    diverges: bool
    slow: bool
    style: str
    steps: int
    end_step: int | None
    end_reason: str | None
    warnings: int
    warn_step: int | None
    signal: str | None
    lead: int | None
    lead_fraction: float | None
    before_end: bool | None
    cause: str | None
    cause_ok: bool | None
    fix: str | None
    fix_ok: bool | None
    verdict: str | None
    tripped_at: int | None
    seconds: float
    error: str | None = None


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "NO")


def score(scenario: suite.Scenario, plain_only: bool) -> Row:
    started = time.perf_counter()
    plain = suite.run_plain(scenario)
    end = plain.end_step
    if scenario.diverges:
        limit = end if end is not None else scenario.steps
        stop_at_first = True
    else:
        limit, stop_at_first = scenario.steps, False
    watched: suite.Watched | None = None
    error = None
    if not plain_only:
        try:
            watched = suite.run_watched(scenario, limit, stop_at_first)
        except suite.EarlyWarningUnavailable:
            raise
        except Exception as exc:  # a crash of the watched run is a result, not the end
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    reports = watched.warnings if watched else ()
    first = reports[0] if reports else None
    warn_step = first.step if first is not None else None
    cause = first.cause.id if first is not None and first.cause is not None else None
    fix = first.fixes[0].id if first is not None and first.fixes else None
    verdict = first.fixes[0].verdict if first is not None and first.fixes else None
    lead = lead_fraction = before_end = cause_ok = fix_ok = None
    if scenario.diverges and not plain_only:
        if warn_step is not None and end is not None:
            lead = end - warn_step
            before_end = lead > 0
            lead_fraction = lead / end if end > 0 else 0.0
        else:
            before_end = False
        if scenario.causes:
            cause_ok = cause in scenario.causes
        if scenario.fixes:
            fix_ok = fix in scenario.fixes
    return Row(
        name=scenario.name,
        diverges=scenario.diverges,
        slow=scenario.slow,
        style=scenario.style,
        steps=scenario.steps,
        end_step=end,
        end_reason=plain.end_reason,
        warnings=len(reports),
        warn_step=warn_step,
        signal=first.signal.id if first is not None else None,
        lead=lead,
        lead_fraction=lead_fraction,
        before_end=before_end,
        cause=cause,
        cause_ok=cause_ok,
        fix=fix,
        fix_ok=fix_ok,
        verdict=verdict,
        tripped_at=watched.tripped_at if watched else None,
        seconds=round(time.perf_counter() - started, 1),
        error=error,
    )


def _line(row: Row, plain_only: bool) -> str:
    end = "-" if row.end_step is None else f"{row.end_step} ({row.end_reason})"
    if plain_only:
        return f"  {row.name}: end {end}  [{row.seconds:.1f} s]"
    if not row.diverges:
        alarm = "FALSE ALARM" if row.warnings else "quiet"
        first = f", first at step {row.warn_step} ({row.signal})" if row.warnings else ""
        trip = f", tripped at {row.tripped_at}" if row.tripped_at is not None else ""
        return (
            f"  {row.name}: {alarm}: {row.warnings} warning(s){first}{trip}; "
            f"plain end {end}  [{row.seconds:.1f} s]"
        )
    warn = "none" if row.warn_step is None else f"{row.warn_step} ({row.signal})"
    lead = "-" if row.lead is None else f"{row.lead} steps ({row.lead_fraction:.2f} of run)"
    trip = f"; guard tripped at {row.tripped_at}" if row.tripped_at is not None else ""
    err = f"; ERROR {row.error}" if row.error else ""
    return (
        f"  {row.name}: end {end}; first warning {warn}; lead {lead}; "
        f"before end {_mark(row.before_end)}; cause {row.cause} [{_mark(row.cause_ok)}]; "
        f"fix {row.fix} [{_mark(row.fix_ok)}] verdict {row.verdict}{trip}{err}  "
        f"[{row.seconds:.1f} s]"
    )


def _count(rows: list[Row], attr: str) -> tuple[int, int]:
    checked = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
    return sum(bool(v) for v in checked), len(checked)


def summarize(rows: list[Row]) -> dict[str, Any]:
    slow = [r for r in rows if r.diverges and r.slow]
    fast = [r for r in rows if r.diverges and not r.slow]
    healthy = [r for r in rows if not r.diverges]
    leads = [r.lead for r in slow if r.before_end]
    fractions = [r.lead_fraction for r in slow if r.before_end and r.lead_fraction is not None]
    warned, n = _count(slow, "before_end")
    cause_ok, n_cause = _count(slow, "cause_ok")
    fix_ok, n_fix = _count(slow, "fix_ok")
    return {
        "warned_before_end": [warned, n],
        "median_lead_steps": statistics.median(leads) if leads else None,
        "median_lead_fraction": round(statistics.median(fractions), 3) if fractions else None,
        "median_run_length_steps": (
            statistics.median([r.end_step for r in slow if r.end_step is not None])
            if any(r.end_step is not None for r in slow)
            else None
        ),
        "cause_acceptable": [cause_ok, n_cause],
        "fix_acceptable": [fix_ok, n_fix],
        "fix_verdict_trains": sum(r.verdict == "trains" for r in slow),
        "false_alarms": [sum(r.warnings > 0 for r in healthy), len(healthy)],
        "false_alarm_warnings": sum(r.warnings for r in healthy),
        "fast_warned_before_end": [sum(bool(r.before_end) for r in fast), len(fast)],
        "suite_defects": [r.name for r in slow + fast if r.end_step is None]
        + [r.name for r in healthy if r.end_step is not None],
        "errors": [r.name for r in rows if r.error],
    }


def _print_summary(summary: dict[str, Any]) -> None:
    w, n = summary["warned_before_end"]
    c, nc = summary["cause_acceptable"]
    f, nf = summary["fix_acceptable"]
    fa, m = summary["false_alarms"]
    print("\nSUMMARY (slowly diverging runs)")
    print(f"  warned before end:   {w}/{n}")
    lead = summary["median_lead_steps"]
    frac = summary["median_lead_fraction"]
    length = summary["median_run_length_steps"]
    print(
        f"  median lead:         {lead if lead is not None else '-'} steps "
        f"({frac if frac is not None else '-'} of the run; median run length {length} steps)"
    )
    print(f"  cause acceptable:    {c}/{nc}")
    print(f"  first fix acceptable: {f}/{nf} (verdict trains: {summary['fix_verdict_trains']})")
    print(
        f"  false alarms:        {fa}/{m} healthy runs ({summary['false_alarm_warnings']} warnings)"
    )
    fw, fn = summary["fast_warned_before_end"]
    print(f"  fast diverging runs warned before end: {fw}/{fn}")
    if summary["suite_defects"]:
        print(f"  SUITE DEFECTS (plain run not as expected): {', '.join(summary['suite_defects'])}")
    if summary["errors"]:
        print(f"  errors in watched runs: {', '.join(summary['errors'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suite",
        default="main",
        help="main (divergence_suite.py) or blindN (divergence_blindN.py)",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="score only these scenarios")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and summary here")
    parser.add_argument("--plain", action="store_true", help="only the runs without nantrace")
    args = parser.parse_args(argv)
    scenarios = suite_scenarios(args.suite)
    if args.only:
        known = {s.name for s in scenarios}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        scenarios = [s for s in scenarios if s.name in args.only]
    if not args.plain and not suite.early_warning_available():
        print("early warning not available")
        return 0
    rows: list[Row] = []
    for i, scenario in enumerate(scenarios, 1):
        kind = "diverging" if scenario.diverges else "healthy"
        print(f"[{i}/{len(scenarios)}] {scenario.name} ({scenario.style}, {kind}) ...", flush=True)
        try:
            row = score(scenario, args.plain)
        except suite.EarlyWarningUnavailable:
            print("early warning not available")
            return 0
        rows.append(row)
        print(_line(row, args.plain), flush=True)
    summary = summarize(rows) if not args.plain else {}
    if summary:
        _print_summary(summary)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"rows": [asdict(r) for r in rows], "summary": summary}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
