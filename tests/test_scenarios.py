"""The scenario suite: every origin kind on real bug patterns; the report must be right."""

import pytest
from scenario_cases import SCENARIOS, Scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_is_diagnosed(scenario: Scenario):
    report = scenario.build()
    assert report is not None, f"{scenario.name}: the guard never tripped"
    origin = report.origin
    assert report.reproduced
    assert origin.kind == scenario.kind
    if scenario.op_types:
        assert origin.op_type in scenario.op_types
    if scenario.layer is not None:
        assert origin.layer == scenario.layer
    if scenario.cause is not None:
        assert report.cause is not None and report.cause.id == scenario.cause
    top3 = [fix.id for fix in report.fixes[:3]]
    assert set(top3) & scenario.fixes, f"no acceptable fix in top 3: {top3}"
    assert report.fixes[0].id in scenario.fixes, f"first fix {top3[0]} not acceptable"
    # A fix that replay showed not to help never ranks first.
    assert report.fixes[0].verified is not False
    for fix in report.fixes:
        if fix.verified is not None:
            assert fix.params["verification"]
        if fix.id == "lower_learning_rate" and fix.verified and fix.params.get("current"):
            import math

            current = fix.params["current"]
            assert not math.isfinite(current) or fix.params["suggested"] < current
    if origin.kind == "input_data":
        assert origin.tensor and origin.rows
    else:
        assert origin.source and ":" in origin.source
        assert origin.output is not None and not origin.output.finite


def test_every_origin_kind_is_covered_four_times():
    kinds = [s.kind for s in SCENARIOS]
    for kind in (
        "input_data",
        "activation",
        "loss",
        "matmul_overflow",
        "gradient",
        "optimizer_update",
    ):
        assert kinds.count(kind) >= 4, kind
    assert len(SCENARIOS) >= 30
