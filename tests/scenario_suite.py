"""The whole scenario suite: the original cases plus the bug-pattern cases, and healthy runs."""

from __future__ import annotations

from collections.abc import Callable

from scenario_cases import SCENARIOS, Scenario


def _patterns() -> tuple[list[Scenario], list[Callable]]:
    try:
        from scenario_patterns import PATTERN_HEALTHY, PATTERN_SCENARIOS
    except ImportError:
        return [], []
    return list(PATTERN_SCENARIOS), list(PATTERN_HEALTHY)


def all_scenarios(suite: str = "all") -> list[Scenario]:
    own = list(SCENARIOS)
    patterns, _ = _patterns()
    return {"own": own, "patterns": patterns}.get(suite, own + patterns)


def all_healthy() -> list[Callable]:
    from test_healthy import HEALTHY

    return list(HEALTHY) + _patterns()[1]
