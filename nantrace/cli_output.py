"""Writing a command's output: stdout, or a file written atomically (``-o FILE``)."""

from __future__ import annotations

import os
import sys


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
