"""``nantrace run SCRIPT.py [ARGS...]``: an unmodified training script, its steps watched.

Exit codes: the script's own exit code when no step tripped (``sys.exit(n)`` included, 1 for an
uncaught exception of the script, as Python); 1 when a step tripped under ``--on-nan raise``
(the report is printed and the bundle written); 2 for nantrace's usage or input errors (one
line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nantrace.cli.output import emit, with_one_line_errors

COMMANDS = ("run",)
FORMATS = ("text", "json", "html")
DEFAULT_BUNDLE_DIR = "nantrace-bundles"


def add_commands(commands: Any) -> None:
    """Register ``run`` on the ``nantrace`` sub-parsers."""
    run = commands.add_parser(
        "run",
        help="run an unmodified training script with every training step and model.fit watched",
        description=(
            "Run SCRIPT as 'python SCRIPT ARGS...' would (as __main__, with its own sys.argv and "
            "exit code), with every tf.function or eager step that applies gradients and every "
            "model.fit watched by nantrace. Options go before SCRIPT; everything after SCRIPT "
            "is the script's. Exit 1 when a step tripped (--on-nan raise), else the script's "
            "own exit code; 2 = bad input."
        ),
    )
    run.add_argument(
        "--on-nan",
        choices=("raise", "warn"),
        default="raise",
        help="raise (default): stop the script at the first non-finite step, print its report, "
        "exit 1; warn: skip such steps (state restored), warn, and let the script finish",
    )
    run.add_argument(
        "--bundle-dir",
        default=DEFAULT_BUNDLE_DIR,
        metavar="DIR",
        help=f"where to write the crash bundle of a tripped step (default: ./{DEFAULT_BUNDLE_DIR})",
    )
    run.add_argument("--no-bundle", action="store_true", help="write no crash bundle")
    run.add_argument(
        "--log-dir",
        metavar="DIR",
        help="write each watched step's history (loss, gradient and weight norms) and reports "
        "as TensorBoard events under DIR/<step name> (DIR/fit for model.fit)",
    )
    run.add_argument("--format", choices=FORMATS, default="text")
    run.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    run.add_argument("script", metavar="SCRIPT", help="the training script (a .py file)")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")


def run(args: argparse.Namespace) -> int:
    """Run ``run``; returns the exit code."""
    return with_one_line_errors(_run, args)


def _run(args: argparse.Namespace) -> int:
    import os

    from nantrace.errors import NantraceError

    if not os.path.exists(args.script):
        raise NantraceError(f"no such script: {args.script!r}")
    if not os.path.isfile(args.script):
        raise NantraceError(f"{args.script!r} is not a file; give the training script (.py)")
    from nantrace.live.runner import run_script

    bundle_dir = None if args.no_bundle else args.bundle_dir
    outcome = run_script(
        args.script, args.args, on_nan=args.on_nan, bundle_dir=bundle_dir, log_dir=args.log_dir
    )
    sys.stdout.flush()
    if outcome.reports:
        report = outcome.reports[0]
        if outcome.raised or args.output or args.format != "text":
            _show(report, args.format, args.output)
        if report.bundle and (args.output or args.format != "text"):
            print(f"nantrace run: crash bundle written to {report.bundle}", file=sys.stderr)
    for note in outcome.notes:
        print(f"nantrace run: {note}", file=sys.stderr)
    if not outcome.watched:
        print(
            "nantrace run: no training step was seen (no tf.function or eager function applied "
            "gradients with a Keras optimizer, no model.fit); nothing was watched",
            file=sys.stderr,
        )
    elif not outcome.reports:
        print(
            f"nantrace run: watched {', '.join(outcome.watched)}; every step was finite",
            file=sys.stderr,
        )
    elif not outcome.raised:
        where = (
            f"written to {args.output}"
            if args.output
            else "on stdout"
            if args.format != "text"
            else "in the warning above"
        )
        count = len(outcome.reports)
        print(
            f"nantrace run: {count} step{'s' if count > 1 else ''} non-finite and skipped "
            f"(--on-nan warn); the first one's report is {where}",
            file=sys.stderr,
        )
    elif len(outcome.reports) > 1:
        print(
            f"nantrace run: {len(outcome.reports)} steps tripped; the first one's report is shown",
            file=sys.stderr,
        )
    return outcome.exit_code


def _show(report: Any, fmt: str, output: str | None) -> None:
    from nantrace.cli.report import render

    if fmt == "text" and not output:
        from nantrace.report.text import print_report

        print_report(report)
        return
    emit(render(report, fmt), output, f"nantrace run: {report.headline()}")
