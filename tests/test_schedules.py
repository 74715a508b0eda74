"""A too-high rate set through a Keras LearningRateSchedule is lowered by rebuilding the same
schedule with every rate in its config divided (the snippet's constructor line)."""

from __future__ import annotations

import keras
import pytest

from nantrace.compat.tf import scaled_schedule


def test_every_rate_of_a_schedule_is_divided_and_nothing_else():
    cosine = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=2000, alpha=0.1, warmup_target=0.75, warmup_steps=200
    )
    rebuilt, line, config = scaled_schedule(cosine, 0.1)
    assert config["warmup_target"] == pytest.approx(0.075)
    assert config["initial_learning_rate"] == 0.0
    assert config["alpha"] == 0.1 and config["decay_steps"] == 2000  # a fraction, a step count
    assert type(rebuilt) is type(cosine)
    assert float(rebuilt(200)) == pytest.approx(0.075, rel=1e-3)
    assert line.startswith("keras.optimizers.schedules.CosineDecay(") and "0.075" in line
    piecewise = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    _, _, config = scaled_schedule(piecewise, 0.5)
    assert config["values"] == [0.5, 0.25, 0.05] and config["boundaries"] == [10, 20]


def test_a_schedule_without_a_config_of_rates_is_not_scaled():
    class Custom(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.1

        def get_config(self):
            return {"peak": 0.1}

    assert scaled_schedule(Custom(), 0.1) is None
