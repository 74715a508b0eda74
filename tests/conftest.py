"""Test tiers. ``python -m pytest -m fast -q`` runs the fast tier, for every change: the cause
rules and fix builders, call-site edits, CLI errors, bad checkpoint files, bundle security, the
public API, chart labels, the docs' generated blocks and the schema page. Verification verdicts
and origin sources train small models (about 25 s more; run them when changing verify.py or
origin.py). ``python -m pytest -n 2 -q`` (CI) runs everything.

The tier is given here by file, so a test file's author need not remember a marker; tests
marked ``slow`` and the few slow tests of a fast file listed in ``NOT_FAST`` (each starts a
TensorFlow process or trains a demo end to end) stay out of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FAST_FILES = frozenset(
    {
        "test_cause_rules.py",
        "test_call_site.py",
        "test_health.py",
        "test_bundle_security.py",
        "test_cli.py",
        "test_exported_members.py",
        "test_bad_files.py",
        "test_chart_axis.py",
        "test_docs_generated.py",
    }
)

# node ids (file::function, any parameters) of fast files that are not fast, and why
NOT_FAST = {
    "test_bad_files.py::test_command_line_exit_codes": "several CLI processes importing TF",
    "test_cli.py::test_demo_json": "trains a demo in a CLI process",
    "test_cli.py::test_default_demo_text": "trains a demo in a CLI process",
    "test_exported_members.py::test_names_in_a_fresh_process": "imports TF in a fresh process",
    "test_bundle_security.py::test_manifest_naming_os_system_runs_nothing": "CLI processes",
}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m fast`` the other test files are not even imported (saves their imports)."""
    name = collection_path.name
    if config.getoption("markexpr", "") == "fast" and name.startswith("test_"):
        if name.endswith(".py") and name not in FAST_FILES:
            return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = os.path.basename(str(item.path))
        function = f"{name}::{item.originalname}" if hasattr(item, "originalname") else ""
        if name in FAST_FILES and function not in NOT_FAST and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.fast)
