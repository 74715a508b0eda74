"""The whole scenario suite: the original cases plus the bug-pattern cases, and healthy runs."""

from __future__ import annotations

import importlib
import pathlib
from collections.abc import Callable

from scenario_cases import SCENARIOS, Scenario

from nantrace.report.records import Report


def _patterns() -> tuple[list[Scenario], list[Callable]]:
    try:
        from scenario_patterns import PATTERN_HEALTHY, PATTERN_SCENARIOS
    except ImportError:
        return [], []
    return list(PATTERN_SCENARIOS), list(PATTERN_HEALTHY)


def _codefix() -> tuple[list[Scenario], list[Callable]]:
    try:
        from scenario_codefix import CODEFIX_HEALTHY, CODEFIX_SCENARIOS
    except ImportError:
        return [], []
    return list(CODEFIX_SCENARIOS), list(CODEFIX_HEALTHY)


def blind_suites() -> list[str]:
    """``blind3`` ... : one suite per ``scenario_blind<n>.py`` beside this module."""
    here = pathlib.Path(__file__).parent
    numbers = sorted(int(p.stem[len("scenario_blind") :]) for p in here.glob("scenario_blind*.py"))
    return [f"blind{n}" for n in numbers]


def _blind(number: int) -> list[Scenario]:
    """``BLIND<n>_SCENARIOS`` of ``scenario_blind<n>.py`` (empty when the file is absent)."""
    try:
        module = importlib.import_module(f"scenario_blind{number}")
    except ImportError:
        return []
    return list(getattr(module, f"BLIND{number}_SCENARIOS"))


def all_scenarios(suite: str = "all") -> list[Scenario]:
    """``own``, ``patterns`` (issue 10, blind), ``codefix`` (issue 16, blind: fixes that are a
    change to the user's code), ``blind3`` ... (``blind_suites()``; written blind
    on 2026-12-03 / 2026-12-04, measurements only: not in the test suite); ``all`` = own +
    patterns, what the test suite runs."""
    own = list(SCENARIOS)
    patterns, _ = _patterns()
    if suite == "codefix":
        return _codefix()[0]
    if suite in blind_suites():
        return _blind(int(suite[len("blind") :]))
    return {"own": own, "patterns": patterns}.get(suite, own + patterns)


_REPORTS: dict[str, Report | None] = {}


def report_for(scenario: Scenario) -> Report | None:
    """The scenario's report, built once per process: the diagnosis test and the fix check
    share it (both are in the scenario's xdist group, so they run in one worker)."""
    if scenario.name not in _REPORTS:
        _REPORTS[scenario.name] = scenario.build()
    return _REPORTS[scenario.name]


def all_healthy(suite: str = "all") -> list[Callable]:
    if suite == "codefix":
        return _codefix()[1]
    from test_healthy import HEALTHY

    return list(HEALTHY) + _patterns()[1]
