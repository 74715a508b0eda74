"""The suite covers every cause of DESIGN's table at least three times."""

from scenario_cases import SCENARIOS

CAUSES = ("non_finite_input", "unscaled_input", "initializer_scale", "learning_rate_too_high",
          "gradient_explosion", "recurrent_explosion", "unstable_loss", "missing_epsilon",
          "float16_range")


def test_every_cause_is_covered_three_times():
    causes = [s.cause for s in SCENARIOS]
    for cause in CAUSES:
        assert causes.count(cause) >= 3, cause
