"""A too-high rate set through a Keras LearningRateSchedule is lowered by rebuilding the same
schedule with every rate in its config divided (the snippet's constructor line); a schedule
whose factor makes the rate grow is rebuilt to decay by the same factor instead."""

from __future__ import annotations

import keras
import pytest

from nantrace.compat.tf import decaying_schedule, scaled_schedule


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


def test_a_schedule_that_grows_is_made_to_decay_by_the_same_factor():
    schedules = keras.optimizers.schedules
    growing = schedules.ExponentialDecay(0.01, decay_steps=6, decay_rate=10.0, staircase=True)
    assert float(growing(12)) == pytest.approx(1.0)  # the rate grows 10x every 6 steps
    rebuilt, line, config, change = decaying_schedule(growing)
    assert config["decay_rate"] == pytest.approx(0.1) and config["initial_learning_rate"] == 0.01
    assert float(rebuilt(12)) == pytest.approx(1e-4)
    assert change == "decay_rate=10 -> 0.1" and "decay_rate=0.1" in line
    inverse = schedules.InverseTimeDecay(0.1, decay_steps=100, decay_rate=-0.5)
    rebuilt, _, config, _ = decaying_schedule(inverse)
    assert config["decay_rate"] == 0.5 and float(rebuilt(100)) < 0.1


def test_a_schedule_that_decays_or_has_no_factor_is_left_alone():
    schedules = keras.optimizers.schedules
    assert decaying_schedule(schedules.ExponentialDecay(0.1, 100, 0.96)) is None
    assert decaying_schedule(schedules.InverseTimeDecay(0.1, 100, 0.5)) is None
    assert decaying_schedule(schedules.CosineDecay(0.1, 100)) is None
    assert decaying_schedule(schedules.PiecewiseConstantDecay([10], [0.1, 1.0])) is None
