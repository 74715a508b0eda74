"""Writing a command's output: stdout, or a file written atomically (``-o FILE``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

EXIT_ERROR = 2


def fail(message: str) -> int:
    """Print ``message`` as exactly one ``nantrace: error:`` line; return exit code 2."""
    message = " ".join(message.split())
    print(f"nantrace: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def unexpected(error: BaseException) -> int:
    """A bug must still honour the one-line contract (NANTRACE_DEBUG=1 re-raises)."""
    if os.environ.get("NANTRACE_DEBUG"):
        raise error
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return fail(
        f"unexpected {type(error).__name__}: {text[:200]} (set NANTRACE_DEBUG=1 for the "
        "traceback and report it at the nantrace issue tracker)"
    )


def with_one_line_errors(command: Callable[[Any], int], args: Any) -> int:
    """``command(args)``, every failure turned into one ``nantrace: error:`` line (exit 2):
    nantrace's own errors, an interrupt, a file error, and a bug (see :func:`unexpected`)."""
    from nantrace.errors import NantraceError

    try:
        return command(args)
    except NantraceError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted")
    except OSError as error:
        return fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    except Exception as error:  # a bug must still honour the one-line contract
        return unexpected(error)


def emit(text: str, output: str | None, status: str) -> None:
    from nantrace.errors import NantraceError

    if not output:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    temporary = f"{output}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, output)
    except OSError as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise NantraceError(
            f"cannot write {output!r}: {error.strerror or error}; pick a writable path for -o"
        ) from None
    print(f"{status}; report written to {output}", file=sys.stderr)
