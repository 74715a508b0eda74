"""The same bug patterns trained with ``model.fit`` + ``NanTraceCallback`` instead of a watched
custom loop: the report names the same origin kind, cause and first fix as the scenario
expects. The scenarios' own builders run, with ``standard_step`` / ``run_loop`` swapped for
``model.compile(optimizer, loss)`` and ``model.fit`` over the same batches (in order)."""

from __future__ import annotations

import numpy as np
import pytest
import scenario_cases
from scenario_suite import all_scenarios

import nantrace
from nantrace.keras import NanTraceCallback

#: one per origin kind and per common cause, each built on ``standard_step`` with (x, y) batches
PATTERNS = (
    "csv_missing_values",
    "log_of_relu_output",
    "batchnorm_without_epsilon",
    "softmax_cross_entropy_by_hand",
    "deep_mlp_huge_init",
    "unscaled_house_prices",
    "exploding_simple_rnn",
    "deep_mlp_whose_adam_moments_overflow",
    "batch_standardization_on_a_last_batch_of_one",
    # a fix that needs the same edit at two ops (verification's further sites)
    "log_accuracy_ratio_loss_on_days_without_sales",
    "log_change_layer_on_daily_counts_with_zeros",
)

_scenario_batches = scenario_cases.batches


class _Batches(list):
    """``scenario_cases.batches``' batches, remembering its arguments: fit must see the same
    epochs (each with its own last partial batch), not one epoch of the batches joined."""

    fit_args: tuple


def _fit_batches(x, y, size=32, epochs=1):
    out = _Batches(_scenario_batches(x, y, size=size, epochs=epochs))
    out.fit_args = (x, y, size, epochs)
    return out


def _fit_step(model, optimizer, loss_fn):
    def placeholder(*batch):  # never called: the batches go to model.fit
        raise AssertionError("model.fit trains this scenario")

    placeholder.model, placeholder.optimizer, placeholder.loss_fn = model, optimizer, loss_fn
    return placeholder


def _fit_loop(step_fn, batches, compiled=True, *, model=None, optimizer=None, **kwargs):
    if isinstance(batches, _Batches):
        x, y, size, epochs = batches.fit_args
    else:
        batches = [tuple(b) for b in batches]
        x = np.concatenate([np.asarray(b[0]) for b in batches])
        y = np.concatenate([np.asarray(b[1]) for b in batches])
        size, epochs = int(batches[0][0].shape[0]), 1
    step_fn.model.compile(optimizer=step_fn.optimizer, loss=step_fn.loss_fn)
    try:
        step_fn.model.fit(
            x,
            y,
            batch_size=size,
            epochs=epochs,
            shuffle=False,
            verbose=0,
            callbacks=[NanTraceCallback()],
        )
    except nantrace.NonFiniteError as error:
        return error.report
    return None


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario",
    [pytest.param(s, id=s.name) for s in all_scenarios("own") if s.name in PATTERNS],
)
def test_fit_names_what_the_custom_loop_names(scenario, monkeypatch):
    monkeypatch.setattr(scenario_cases, "standard_step", _fit_step)
    monkeypatch.setattr(scenario_cases, "run_loop", _fit_loop)
    monkeypatch.setattr(scenario_cases, "batches", _fit_batches)
    report = scenario.build()
    assert report is not None, "model.fit never tripped"
    if scenario.kind is not None:
        assert report.origin.kind == scenario.kind
    assert report.cause.id in scenario.causes
    assert report.fixes and report.fixes[0].id in scenario.fixes, [f.id for f in report.fixes]


def test_every_pattern_named_here_exists():
    names = {s.name for s in all_scenarios("own")}
    assert set(PATTERNS) <= names
