"""Import TensorFlow without its C++ start-up lines on stderr (TF-free until called)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration.

    Importing TensorFlow prints absl/oneDNN start-up lines straight to fd 2 from C++ (even with
    ``TF_CPP_MIN_LOG_LEVEL=3``); a command whose error contract is "one line on stderr" cannot
    let them through.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> Any:
    """``import tensorflow`` and start its CPU device with fd 2 silenced.

    absl prints the oneDNN / CPU-feature lines before logging is initialised, at import and
    again when the first device is created, whatever ``TF_CPP_MIN_LOG_LEVEL`` says.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_silenced():
        import tensorflow as tf

        tf.constant(0.0).numpy()  # creates the eager context and its device now, quietly
    return tf
