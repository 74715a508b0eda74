"""The ``nantrace`` command line. Exit codes: 0 fine, 1 non-finite found, 2 usage/input error.

``nantrace demo`` is the exception: it exits 0 when the demo's NaN was found and diagnosed
(that is the demo working), 1 when it was not.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from nantrace.cli import postmortem as cli_postmortem
from nantrace.cli import report as cli_report
from nantrace.cli import run as cli_run

EXIT_OK, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
# Plain text: argparse prints it as is (the module docstring's ``markup`` would show).
DESCRIPTION = (
    "Find where the first NaN/Inf of a TensorFlow/Keras training run came from, why, and what "
    "to change. Exit codes: 0 fine, 1 non-finite found, 2 usage or input error (nantrace demo: "
    "0 when its NaN was found and diagnosed)."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump on stderr spam
        print(f"nantrace: error: {message} (see nantrace --help)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nantrace", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run a built-in NaN example and print its report")
    demo.add_argument("name", nargs="?", help="demo to run (default: unscaled_input)")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--all", action="store_true", help="run every demo")
    demo.add_argument("--format", choices=cli_report.FORMATS, default="text", help="default: text")
    demo.add_argument(
        "-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout"
    )
    cli_postmortem.add_commands(commands)
    cli_report.add_commands(commands)
    cli_run.add_commands(commands)
    return parser


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _run_demo(args: argparse.Namespace) -> int:
    from nantrace.examples import DEFAULT_DEMO, DEMOS

    if args.list:
        width = max(len(n) for n in DEMOS)
        for demo in DEMOS.values():
            print(f"{demo.name:<{width}}  {demo.summary}")
        return EXIT_OK
    names = list(DEMOS) if args.all else [args.name or DEFAULT_DEMO]
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        print(
            f"nantrace: error: no demo named {unknown[0]!r}; choose one of: {', '.join(DEMOS)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if args.format in ("html", "graphml") and len(names) > 1:
        print(
            f"nantrace: error: --format {args.format} renders one demo; drop --all", file=sys.stderr
        )
        return EXIT_ERROR
    from nantrace.compat.quiet import import_tensorflow_quietly
    from nantrace.report.text import print_report, report_text

    import_tensorflow_quietly()

    status = EXIT_OK
    chunks: list[str] = []
    for name in names:
        demo = DEMOS[name]
        print(f"nantrace demo {name}: {demo.summary}", file=sys.stderr)
        outcome = demo.run()
        if outcome.report is None:
            print(
                f"nantrace demo {name}: no non-finite value in {outcome.steps} steps",
                file=sys.stderr,
            )
            status = EXIT_FOUND
            continue
        print(f"  tripped at step {outcome.report.trip.step}", file=sys.stderr)
        if args.format in ("json", "html", "graphml"):
            chunks.append(cli_report.render(outcome.report, args.format).rstrip("\n"))
        elif args.output:
            chunks.append(report_text(outcome.report))
        else:
            print_report(outcome.report)
    if chunks:
        text = "\n".join(chunks) + "\n"
        if args.output:
            with open(args.output, "w") as handle:
                handle.write(text)
        else:
            sys.stdout.write(text)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_tensorflow()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    if args.command in cli_postmortem.COMMANDS:
        return cli_postmortem.run(args)
    if args.command in cli_report.COMMANDS:
        return cli_report.run(args)
    if args.command in cli_run.COMMANDS:
        return cli_run.run(args)
    from nantrace.errors import NantraceError

    try:
        if args.command == "demo":
            return _run_demo(args)
    except NantraceError as error:
        print(f"nantrace: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:
        print(
            f"nantrace: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
