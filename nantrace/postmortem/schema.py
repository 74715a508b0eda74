"""The JSON form shared by ``nantrace scan`` and ``nantrace diff`` reports: strict JSON (every
number finite or null) and one schema version, checked when a report is read back."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

SCHEMA_VERSION = 1


def dumps(data: dict[str, Any], indent: int | None = 2) -> str:
    """Strict JSON (no NaN/Infinity tokens: every number in the schema is finite or null)."""
    return json.dumps(data, indent=indent, allow_nan=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def check_schema(data: dict[str, Any], kind: str) -> None:
    """Refuse a report of another kind or schema version (one line: what it got, what to do)."""
    if data.get("kind") != kind or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"not a {kind} report of schema_version {SCHEMA_VERSION} "
            f"(got kind={data.get('kind')!r}, schema_version={data.get('schema_version')!r}); "
            "upgrade nantrace to read it"
        )
