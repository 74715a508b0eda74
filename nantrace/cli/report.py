"""``nantrace report BUNDLE``: re-render a crash bundle's report, or replay its tripping step.

Exit codes (the CLI's contract): 1 = the report shows a non-finite value or a divergence warning (a
bundle is written only when a step tripped or warned, so a readable bundle exits 1; with
``--replay``, 1 when the rebuilt step trips again and 0 when it stays finite), 2 = usage or input
error (missing path, not a bundle, a bundle of another version, truncated, damaged or edited files,
``--replay`` without ``--trust`` or of an early-warning bundle, ``--format graphml`` of a warning,
which has no graph, a step that cannot be rebuilt). Errors are one line on stderr, ``nantrace:
error: ...``, never a traceback; set ``NANTRACE_DEBUG=1`` to get the traceback of an unexpected
failure instead.

Rendering imports neither TensorFlow nor Keras and runs nothing from the bundle. ``--replay``
imports code, so it also needs ``--trust``: without it the refusal says which file would be
imported (the bundle's manifest is written by whoever wrote the bundle).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from nantrace.cli.output import emit, with_one_line_errors

EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
COMMANDS = ("report",)
FORMATS = ("text", "json", "html", "graphml")


def add_commands(commands: Any) -> None:
    """Register ``report`` on the ``nantrace`` sub-parsers."""
    report = commands.add_parser(
        "report",
        help="re-render a crash bundle's report (text, JSON, HTML, GraphML) or replay its step",
        description=(
            "Read a crash bundle written by watch(bundle_dir=...) (or a report .json file) and "
            "render its report. --replay --trust rebuilds the tripping step in this process "
            "from the bundle (imports the step's module file recorded in the bundle if its "
            "sha256 still matches, restores the pre-step state, runs the tripping batch) and "
            "diagnoses it again. An early-warning bundle renders the same "
            "way and is not replayed. Exit 1 = non-finite value or divergence warning shown, "
            "0 = the replayed step stayed finite, 2 = bad input."
        ),
    )
    report.add_argument(
        "bundle",
        help="the bundle folder (step-NNNNNN-... or warning-NNNNNN-...) or a report .json",
    )
    report.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    report.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    report.add_argument(
        "--replay",
        action="store_true",
        help="rebuild and re-run the tripping step from the bundle, then re-diagnose it; this "
        "imports and runs the step's module, so it also needs --trust",
    )
    report.add_argument(
        "--trust",
        action="store_true",
        help="with --replay: I trust this bundle; import the module file it records (refused "
        "if its sha256 changed) or rebuild its model.json in Keras safe mode",
    )
    report.add_argument(
        "--no-verify",
        action="store_true",
        help="with --replay: skip verifying the fixes by replay (faster)",
    )


def render(report: Any, fmt: str) -> str:
    """The report in one of FORMATS, as the text to write (``text`` without colour); a
    divergence warning renders through the same calls (``render.warning_*``)."""
    if fmt == "graphml" and _is_warning(report):
        from nantrace.bundle import BundleError

        raise BundleError(
            "a divergence warning has no provenance graph (nothing is non-finite); use "
            "--format text, json or html"
        )
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "html":
        from nantrace.report.html import render_html

        return render_html(report)
    if fmt == "graphml":
        from nantrace.report.graphml import render_graphml

        return render_graphml(report)
    from nantrace.report.text import render_plain

    return render_plain(report) + "\n"


def run(args: argparse.Namespace) -> int:
    """Run ``report``; returns the exit code. Errors print one line on stderr."""
    return with_one_line_errors(_report, args)


def _report(args: argparse.Namespace) -> int:
    from nantrace.bundle import BundleError, load_bundle

    path = args.bundle
    if os.path.isfile(path) and path.endswith(".json") and os.path.basename(path) != "bundle.json":
        if args.replay:
            raise BundleError(
                f"{path!r} is a report, not a crash bundle; --replay needs the bundle folder "
                "that watch(bundle_dir=...) wrote"
            )
        report = _read_report_file(path)
        _show(report, args.format, args.output, f"nantrace report: {report.headline()}")
        return EXIT_FOUND
    bundle = load_bundle(path)
    if not args.replay:
        report = bundle.report
        _show(report, args.format, args.output, f"nantrace report: {report.headline()}")
        return EXIT_FOUND
    return _replay(bundle, args)


def _is_warning(report: Any) -> bool:
    from nantrace.report.warning_records import WARNING_KIND

    return getattr(report, "kind", None) == WARNING_KIND


def _read_report_file(path: str) -> Any:
    from nantrace.bundle import BundleError
    from nantrace.report.records import Report
    from nantrace.report.warning_records import WARNING_KIND, DivergenceReport

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(
            f"{path!r} is not valid JSON; the report is truncated or damaged"
        ) from None
    if isinstance(data, dict) and data.get("kind") == WARNING_KIND:
        try:
            return DivergenceReport.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BundleError(
                f"{path!r} cannot be read as a nantrace divergence warning: {error}"
            ) from None
    if not isinstance(data, dict) or "trip" not in data or "origin" not in data:
        raise BundleError(
            f"{path!r} is neither a crash bundle nor a nantrace report (no trip/origin)"
        )
    try:
        return Report.from_dict(data)
    except (ValueError, KeyError, TypeError) as error:
        raise BundleError(f"{path!r} cannot be read as a nantrace report: {error}") from None


def _replay(bundle: Any, args: argparse.Namespace) -> int:
    from nantrace.bundle import check_replay, replay_bundle

    check_replay(bundle, trust=args.trust)  # refuses before anything is imported
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"nantrace report --replay: {bundle.describe()}", file=sys.stderr)
    outcome = replay_bundle(bundle, verify=not args.no_verify, trust=args.trust)
    for note in outcome.notes:
        print(f"  {note}", file=sys.stderr)
    if outcome.report is None:
        print(
            "nantrace report --replay: the rebuilt step stayed finite; the bundle's trip did not "
            "reproduce (the step's module may have changed since the bundle was written)",
            file=sys.stderr,
        )
        return EXIT_OK
    print(f"  {_comparison(bundle.report, outcome.report)}", file=sys.stderr)
    _show(
        outcome.report,
        args.format,
        args.output,
        f"nantrace report --replay: {outcome.report.headline()}",
    )
    return EXIT_FOUND


def _comparison(before: Any, after: Any) -> str:
    def where(report: Any) -> tuple:
        o = report.origin
        return (o.kind, o.op_type, o.layer, report.cause.id if report.cause else None)

    if where(before) == where(after):
        return "replay agrees with the bundle: " + _where_text(after)
    return f"replay differs: bundle said {_where_text(before)}; replay says {_where_text(after)}"


def _where_text(report: Any) -> str:
    o = report.origin
    cause = report.cause.id if report.cause else "no cause"
    return f"{o.kind} {o.op_type or o.tensor or ''} in {o.layer or o.phase} ({cause})"


def _show(report: Any, fmt: str, output: str | None, status: str) -> None:
    if fmt == "text" and not output:  # colour on a terminal, plain when piped (NO_COLOR honoured)
        from nantrace.report.text import print_report

        print_report(report)
        return
    emit(render(report, fmt), output, status)
