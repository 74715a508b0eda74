"""nantrace: where the first NaN/Inf of a TensorFlow training run came from, why, what to change.

Names are imported lazily so that ``import nantrace`` (and the CLI's start-up) does not pay for
TensorFlow until a TensorFlow-facing name is used: ``nantrace.load_bundle`` and the post-mortem
``nantrace.scan`` / ``nantrace.diff`` never import it, ``nantrace.watch`` and
``nantrace.NanTraceCallback`` (also ``nantrace.keras.NanTraceCallback``) do.

``scan`` and ``diff`` are also the names of their modules
(``nantrace/postmortem/scan.py``, ``nantrace/postmortem/diff.py``), which ``nantrace.scan`` and
``nantrace.diff`` named before the package had sub-packages, so the two attributes are the
modules made callable: ``nantrace.scan(path)`` scans a checkpoint and
``nantrace.diff(a, b)`` compares two, while ``from nantrace import scan; scan.ScanReport`` and
every other use of the modules keep working.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "watch": "nantrace.live.guard",
    "Watched": "nantrace.live.guard",
    "NanTraceCallback": "nantrace.keras",
    "load_bundle": "nantrace.bundle",
    "NantraceError": "nantrace.errors",
    "NonFiniteError": "nantrace.errors",
    "NonFiniteWarning": "nantrace.errors",
    "DivergenceWarning": "nantrace.errors",
    "DivergenceError": "nantrace.errors",
    "DivergenceReport": "nantrace.report.warning_records",
    "Signal": "nantrace.report.warning_records",
    "Cause": "nantrace.report.records",
    "Fix": "nantrace.report.records",
    "Health": "nantrace.report.records",
    "Origin": "nantrace.report.records",
    "Report": "nantrace.report.records",
    "Trip": "nantrace.report.records",
}

#: Modules reachable as attributes without an import statement (``nantrace.keras``),
#: and where each lives.
_SUBMODULES = {
    "keras": "nantrace.keras",
    "bundle": "nantrace.bundle",
    "checkpoint": "nantrace.postmortem.checkpoint",
    "scan": "nantrace.postmortem.scan",
    "diff": "nantrace.postmortem.diff",
}

__all__ = sorted([*_EXPORTS, "scan", "diff"]) + ["__version__"]


class _ScanModule(types.ModuleType):
    """``nantrace.scan``: the module, callable as its entry point."""

    def __call__(self, checkpoint: Any, *, unsafe: bool = False) -> Any:
        """Scan one checkpoint (a path, or a ``nantrace.checkpoint.Checkpoint``): what its state
        alone says about the run. Returns a ``ScanReport`` (``.verdict``, ``.to_json()``).
        ``unsafe`` is ``nantrace scan --unsafe`` (Keras files with pickled or lambda parts)."""
        return self.scan(_checkpoint(checkpoint, unsafe))


class _DiffModule(types.ModuleType):
    """``nantrace.diff``: the module, callable as its entry point."""

    def __call__(
        self, a: Any, b: Any, *, max_growth: float | None = None, unsafe: bool = False
    ) -> Any:
        """Compare two checkpoints of one run (paths or ``Checkpoint`` objects), ``a`` the
        earlier: what changed and how fast. Returns a ``DiffReport``."""
        growth = self.MAX_GROWTH if max_growth is None else max_growth
        return self.diff(_checkpoint(a, unsafe), _checkpoint(b, unsafe), max_growth=growth)


_CALLABLE_MODULES: dict[str, type[types.ModuleType]] = {"scan": _ScanModule, "diff": _DiffModule}


def _checkpoint(value: Any, unsafe: bool) -> Any:
    from nantrace.postmortem import checkpoint

    if isinstance(value, checkpoint.Checkpoint):
        return value
    return checkpoint.load(value, unsafe=unsafe)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
        kind = _CALLABLE_MODULES.get(name)
        if kind is not None and type(value) is types.ModuleType:
            value.__class__ = kind
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nantrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_SUBMODULES))
