"""The from-scratch check's own verdicts (``fix_application.TrainResult.trouble``): what the
verified-fix tests call "training goes on", on loss series written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fix_application import TrainResult


def trouble(losses: list[float]) -> str | None:
    return TrainResult(losses=losses, batches=1, steps_planned=len(losses)).trouble()


def test_a_run_that_trains_is_fine():
    assert trouble(list(np.geomspace(20.0, 0.2, 30))) is None


def test_a_one_step_spike_at_the_end_is_not_a_divergence():
    losses = list(np.geomspace(20.0, 0.5, 30))
    losses[-1] = 30.0  # the last step of the run happens to be a spike
    assert trouble(losses) is None


@pytest.mark.parametrize(
    "losses, said",
    [
        (list(np.geomspace(1.0, 50.0, 30)), "at the start"),  # grows from the first step
        (list(np.geomspace(20.0, 0.5, 20)) + [8.0] * 10, "back up"),  # trained, then rose
        ([1.0, 0.5, math.nan], "non-finite"),
    ],
    ids=["growth", "rise_after_training", "nan"],
)
def test_sustained_growth_and_non_finite_losses_are_caught(losses, said):
    assert said in (trouble(losses) or "")
