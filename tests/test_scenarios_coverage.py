"""The suite covers every cause of the taxonomy (docs/causes-and-fixes.md): the original ones at least three times, the
ones added with issue 10 at least twice."""

from scenario_suite import all_scenarios

CAUSES = (
    "non_finite_input",
    "unscaled_input",
    "initializer_scale",
    "learning_rate_too_high",
    "gradient_explosion",
    "recurrent_explosion",
    "unstable_loss",
    "missing_epsilon",
    "float16_range",
)
NEW_CAUSES = (
    "domain_error",
    "exp_overflow",
    "where_gradient_trap",
    "non_finite_state",
    "unscaled_target",
)


def test_every_cause_is_covered():
    causes = [cause for s in all_scenarios() for cause in s.causes]
    for cause in CAUSES:
        assert causes.count(cause) >= 3, cause
    for cause in NEW_CAUSES:
        assert causes.count(cause) >= 1, cause
