"""nantrace: where the first NaN/Inf of a TensorFlow training run came from, why, what to change.

Names are imported lazily so that ``import nantrace`` (and the CLI's start-up) does not pay for
TensorFlow until a TensorFlow-facing name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "watch": "nantrace.guard",
    "Watched": "nantrace.guard",
    "NantraceError": "nantrace.errors",
    "NonFiniteError": "nantrace.errors",
    "NonFiniteWarning": "nantrace.errors",
    "Cause": "nantrace.records",
    "Fix": "nantrace.records",
    "Health": "nantrace.records",
    "Origin": "nantrace.records",
    "Report": "nantrace.records",
    "Trip": "nantrace.records",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nantrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
