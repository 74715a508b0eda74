"""Test tiers. ``python -m pytest -m fast -q`` runs the fast tier, for every change: the cause
rules and fix builders, call-site edits, CLI errors, bad checkpoint files, bundle security, the
public API, chart labels, the docs' generated blocks and the schema page. Verification verdicts
and origin sources train small models (about 25 s more; run them when changing verify.py or
origin.py). ``python -m pytest -n 2 -q`` (CI) runs everything.

The tier is given here by file, so a test file's author need not remember a marker; tests
marked ``slow`` and the few slow tests of a fast file listed in ``NOT_FAST`` (each starts a
TensorFlow process or trains a demo end to end) stay out of it.

Order: the known-slow files run first (``SLOW_FIRST``), so the two CI workers, which take work
in collection order (``--no-loadscope-reorder``), finish together instead of one worker
starting a long test when the other has nothing left.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config: pytest.Config) -> None:
    """In an xdist worker: one intra-op thread. CI runs two workers on two cores; with
    TensorFlow's default intra-op pool (a thread per core) each worker's ops also compete for
    the other worker's core, and the tests' models are too small to gain from a second
    thread (6 scenario groups, paired -n 2 runs at load 2-4: 55 -> 47 s and 83 -> 71 s wall).
    Only the worker itself: the processes a test starts keep TensorFlow's defaults."""
    if os.environ.get("PYTEST_XDIST_WORKER") and "TF_NUM_INTRAOP_THREADS" not in os.environ:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)


FAST_FILES = frozenset(
    {
        "test_cause_rules.py",
        "test_call_site.py",
        "test_further_sites.py",
        "test_health.py",
        "test_bundle_security.py",
        "test_cli.py",
        "test_exported_members.py",
        "test_bad_files.py",
        "test_chart_axis.py",
        "test_docs_generated.py",
        "test_schedules.py",
        "test_normalization_state.py",
        "test_sample_weights.py",
        "test_similarity.py",
        "test_class_log.py",
        "test_state_argument.py",
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


#: Rough seconds on one CI worker (2 workers on 2 cores) of the slowest files, or of the slowest
#: tests of a file ("file::function", all its parameters), from CI runs' --durations output.
#: Only the order uses them: a file runs before every file with a lower figure, its listed
#: tests first; a file not listed keeps its place.
SLOW_FIRST: dict[str, float] = {
    "test_distribution.py": 150.0,  # two processes, one per surface (xdist group each)
    "test_multiworker.py": 85.0,  # one pair of worker processes (one xdist group)
    "test_early_warning.py": 74.0,
    "test_early_warning.py::test_watch_model_raise_leaves_fit_with_the_report": 74.0,
    "test_optimizers_in_the_wild.py": 54.0,
    "test_optimizers_in_the_wild.py::test_gan_fix_verification_changes_the_optimizer_that_wrote_the_origin": 54.0,
    "test_wheel.py": 40.0,  # one xdist group (builds once)
    "test_scenarios.py": 20.0,  # each scenario's group also holds its verified-fix check
    "test_verified_fixes_train.py": 19.0,
    "test_property_injection.py": 15.0,
    "test_divergence_suite.py": 15.0,
    "test_codefix_scenarios_nan.py": 14.0,
    "test_surfaces.py": 12.0,
    "test_transparency.py": 12.0,
}


#: Files whose module-scoped fixture trains or records something: one xdist group each, so one
#: worker builds it once. Ungrouped, each worker that ran one of their tests built its own copy
#: (``-n 2`` on these three files: one_engine's ``states`` 11.9 + 11.1 s, report_cli's
#: ``bundles`` 6.1 + 4.5 s, scan's ``runs`` 2.5 + 2.3 s, each set up on both workers).
SHARED_SETUP = frozenset({"test_one_engine.py", "test_report_cli.py", "test_scan.py"})


def _order(item: pytest.Item, position: dict[str, int]) -> tuple[float, int, float]:
    name = os.path.basename(str(item.path))
    function = f"{name}::{getattr(item, 'originalname', item.name)}"
    return (-SLOW_FIRST.get(name, 0.0), position[name], -SLOW_FIRST.get(function, 0.0))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups and pytest groups fixtures
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    position: dict[str, int] = {}
    for item in items:
        name = os.path.basename(str(item.path))
        position.setdefault(name, len(position))
        function = f"{name}::{item.originalname}" if hasattr(item, "originalname") else ""
        if name in FAST_FILES and function not in NOT_FAST and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.fast)
        if name in SHARED_SETUP and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(f"setup_{name.removesuffix('.py')}"))
    # stable: a file's tests stay together (its module fixtures are set up once) and in order
    items.sort(key=lambda item: _order(item, position))
