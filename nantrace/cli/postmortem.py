"""``nantrace scan`` and ``nantrace diff``: the post-mortem sub-commands.

Exit codes (the CLI's contract): 0 = everything finite and normal, 1 = non-finite or abnormal
values found, 2 = usage or input error (missing path, no checkpoint, truncated or corrupted
file). An input error is one line on stderr, ``nantrace: error: WHAT; HOW TO FIX``, never a
traceback; set ``NANTRACE_DEBUG=1`` to get the traceback of an unexpected failure instead.

This module imports nothing heavy at import time, so ``nantrace scan --help`` stays fast; the
readers import h5py / TensorFlow only when a file of that kind is read.
"""

from __future__ import annotations

import argparse
from typing import Any

from nantrace.cli.output import emit, fail, unexpected

EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
COMMANDS = ("scan", "diff")


def add_commands(commands: Any) -> None:
    """Register ``scan`` and ``diff`` on the ``nantrace`` sub-parsers."""
    scan = commands.add_parser(
        "scan",
        help="find non-finite or abnormal variables in a checkpoint, .keras or .weights.h5",
        description=(
            "Scan a saved model's variables (and optimizer slots): NaN/Inf counts, max|w|, "
            "norms, kernel scale against He/Glorot, and the cause and fixes the live diagnosis's "
            "rules give for that state. Exit 0 = all finite and normal, 1 = non-finite or "
            "abnormal, 2 = bad input."
        ),
    )
    scan.add_argument(
        "path", help="TF checkpoint prefix (DIR/ckpt-3) or directory, .keras or .weights.h5"
    )
    _common(scan)
    scan.add_argument(
        "--all", action="store_true", help="text format: list every variable, not only flagged"
    )
    diff = commands.add_parser(
        "diff",
        help="show which variables changed most between two checkpoints",
        description=(
            "Compare two checkpoints of one run (A older, B newer): ratio of norms, growth per "
            "step, where non-finite values appeared, and the cause and fixes the live "
            "diagnosis's rules give for B with that growth. Exit 0 = B finite, unflagged and "
            "nothing grew more than --max-growth, 1 = non-finite, abnormal growth or a flagged "
            "B (as nantrace scan B flags it), 2 = bad input."
        ),
    )
    diff.add_argument("a", help="the older checkpoint")
    diff.add_argument("b", help="the newer checkpoint")
    _common(diff)
    diff.add_argument(
        "--max-growth",
        type=_positive_float,
        default=10.0,
        metavar="X",
        help="a weight whose norm grows more than X times is abnormal (default: 10)",
    )
    diff.add_argument(
        "--top", type=int, default=20, metavar="N", help="text format: rows to show (default: 20)"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="allow reading weights only pickle can read (a .keras saved with npz weights); "
        "unpickling can run code from the file, so use it only on files you trust",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 1, got {text!r}") from None
    if not value > 1.0:
        raise argparse.ArgumentTypeError(f"expected a number > 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``scan`` or ``diff``; returns the exit code. Errors print one line on stderr."""
    from nantrace.errors import NantraceError

    try:
        if args.command == "scan":
            return _scan(args)
        return _diff(args)
    except NantraceError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted")
    except MemoryError:
        return fail("out of memory while reading the checkpoint; scan it on a larger machine")
    except Exception as error:  # a bug must still honour the one-line contract
        return unexpected(error)


def _scan(args: argparse.Namespace) -> int:
    from nantrace.postmortem import checkpoint, scan
    from nantrace.postmortem.text import render_scan

    loaded = checkpoint.load(args.path, unsafe=args.unsafe)
    report = scan.scan(loaded)
    text = (
        report.to_json() + "\n"
        if args.format == "json"
        else render_scan(report, all_variables=args.all)
    )
    emit(text, args.output, f"nantrace scan: {report.verdict}")
    return report.exit_code


def _diff(args: argparse.Namespace) -> int:
    from nantrace.postmortem import checkpoint, diff
    from nantrace.postmortem.text import render_diff

    first = checkpoint.load(args.a, unsafe=args.unsafe)
    second = checkpoint.load(args.b, unsafe=args.unsafe)
    report = diff.diff(first, second, max_growth=args.max_growth)
    text = (
        report.to_json() + "\n"
        if args.format == "json"
        else render_diff(report, top=max(args.top, 1))
    )
    emit(text, args.output, f"nantrace diff: {report.verdict}")
    return report.exit_code
