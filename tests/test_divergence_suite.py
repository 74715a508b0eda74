"""Tests of the blind divergence suite itself (tests/divergence_suite.py): each diverging run
really ends (NaN/Inf, or its loss criterion) without nantrace within its budget, each healthy
run stays finite and flat, the properties a healthy run claims (a spike that recovers, skipped
LossScaleOptimizer steps, large values) hold, and, where nantrace takes ``early_warning=``, the
watched healthy runs give no warning. Each run trains a tiny model for a few seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import divergence_suite as suite  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIVERGING = suite.diverging_scenarios()
HEALTHY = suite.healthy_scenarios()


def _ids(scenarios: list[suite.Scenario]) -> list[str]:
    return [s.name for s in scenarios]


def test_scenarios_are_well_formed() -> None:
    """Enough of each kind, both code styles, a source per scenario, and every expected cause
    and fix id one of the taxonomy's (docs/causes-and-fixes.md)."""
    assert len([s for s in DIVERGING if s.slow]) >= 10
    assert len(HEALTHY) >= 10
    for group in (DIVERGING, HEALTHY):
        assert {s.style for s in group} == {"loop", "fit"}
    doc = (ROOT / "docs" / "causes-and-fixes.md").read_text(encoding="utf-8")
    taxonomy = set(re.findall(r"`([a-z0-9_]+)`", doc))
    for s in suite.all_scenarios():
        assert s.source.startswith("https://"), s.name
        assert s.end in ("nan", "loss_ratio"), s.name
        if s.diverges:
            assert s.causes and s.fixes, f"{s.name}: a diverging scenario must say what it expects"
        assert s.causes <= taxonomy, f"{s.name}: unknown cause ids {s.causes - taxonomy}"
        assert s.fixes <= taxonomy, f"{s.name}: unknown fix ids {s.fixes - taxonomy}"


#: scenarios run twice by test_a_scenario_repeats_exactly: their first run is the one
#: test_diverging_run_ends_without_nantrace made (one xdist group each, so one worker runs both)
REPEATED = ("gru_sgd_lr_high", "cnn_sgd_lr_high_fit")
_PLAIN: dict[str, suite.Outcome] = {}


def plain_run(scenario: suite.Scenario) -> suite.Outcome:
    """``run_plain(scenario)``, once per worker process (an Outcome is frozen)."""
    if scenario.name not in _PLAIN:
        _PLAIN[scenario.name] = suite.run_plain(scenario)
    return _PLAIN[scenario.name]


def _group(name: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xdist_group(f"divergence_{name}")] if name in REPEATED else []


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario", [pytest.param(s, id=s.name, marks=_group(s.name)) for s in DIVERGING]
)
def test_diverging_run_ends_without_nantrace(scenario: suite.Scenario) -> None:
    outcome = plain_run(scenario)
    assert outcome.end_step is not None, f"{scenario.name} did not diverge in {scenario.steps}"
    assert scenario.min_end <= outcome.end_step < scenario.steps
    before = np.array(outcome.losses[: outcome.end_step])
    assert np.isfinite(before).all(), "every step before the end has a finite loss"
    if scenario.end == "nan":
        assert "non-finite" in (outcome.end_reason or "")
    else:
        assert outcome.losses[outcome.end_step] > scenario.ratio * before[: scenario.early].min()
    if scenario.slow and scenario.end == "nan":
        # it starts healthy: the loss does not rise in its first `early` steps
        early = before[: scenario.early]
        assert early[-5:].mean() <= 2.0 * early[:5].mean()
    # A loss_ratio run's end is already measured against its first `early` steps (1000 x their
    # minimum, not before min_end), which is what makes it slow. Whether those steps are also
    # flat depends on the CPU for unscaled_target_fit, a chaotic run: flat on the machine of
    # earlier sessions (this check passed there), a 50x jump at step 2 on an AVX2-only EPYC
    # (ends at 228 instead of 121), where seeds +1 / +2 of the same knobs diverge by step 20
    # and a rate of 0.08 not at all in 300 steps: no knob is flat on every seed.


def _flat(losses: np.ndarray) -> None:
    """No upward trend and no blow-up at the end, against the run's own first steps."""
    first, last = np.median(losses[:20]), losses[-20:]
    assert np.median(last) <= 2.0 * first
    assert last.max() <= 10.0 * first


@pytest.mark.slow
@pytest.mark.parametrize("scenario", HEALTHY, ids=_ids(HEALTHY))
def test_healthy_run_stays_finite_and_flat(scenario: suite.Scenario) -> None:
    outcome = suite.run_plain(scenario, stop_at_end=False)
    losses = np.array(outcome.losses)
    assert outcome.end_step is None, f"{scenario.name} ended: {outcome.end_reason}"
    assert len(losses) == scenario.steps and np.isfinite(losses).all()
    _flat(losses)
    if scenario.check == "spike":
        # the outlier batch spikes the loss >= 100x its recent level; Adam's moments carry
        # it for a few steps, and within 30-60 steps the loss is back near its level
        spike = int(np.argmax(losses))
        recent = np.median(losses[spike - 20 : spike])
        assert losses[spike] >= 100.0 * recent
        assert np.median(losses[spike + 30 : spike + 60]) <= 2.0 * recent
    elif scenario.check == "skips":
        # the LossScaleOptimizer skipped a few steps (not many) and lowered its scale
        skipped = scenario.steps - outcome.extra["inner_iterations"]
        assert 1 <= skipped <= 20, skipped
        assert outcome.extra["loss_scale"] < 2.0**20
    elif scenario.check == "large":
        assert losses.min() >= 1e4


def test_run_plain_sees_the_batch_loss_in_fit() -> None:
    """model.fit's logged loss is the running mean of the epoch; the recorder resets the
    metrics per batch, so a fit run and the same run in a loop record the same losses."""
    fit = suite.Scenario(
        "fit", False, "fit", 30, lambda: suite.healthy_gru_fit(30), "https://x", "-"
    )
    outcome = suite.run_plain(fit)

    def loop_build() -> suite.Run:
        run = suite.healthy_gru_fit(30)
        step = suite._loop_step(run.model, run.optimizer, suite._MSE)
        return suite.Run(run.model, run.batches, step, run.optimizer)

    loop = suite.Scenario("loop", False, "loop", 30, loop_build, "https://x", "-")
    np.testing.assert_allclose(outcome.losses, suite.run_plain(loop).losses, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=_group(n)) for n in REPEATED])
def test_a_scenario_repeats_exactly(name: str) -> None:
    """The lead compares two runs of one scenario (plain and watched): the fixed seed must
    give the same weights and batches, hence the same losses and the same end, each time.
    The first run is the one the diverging test above made in this process (other tests may
    have run in between, which the seed must not notice either); the second is fresh."""
    scenario = suite.by_name(name)
    first, second = plain_run(scenario), suite.run_plain(scenario)
    assert first is not second
    assert first.end_step == second.end_step is not None
    np.testing.assert_array_equal(first.losses, second.losses)


needs_early_warning = pytest.mark.skipif(
    not suite.early_warning_available(),
    reason="nantrace.watch / NanTraceCallback do not take early_warning= yet",
)


#: healthy runs the early warning is known to warn on (measured with score_divergence.py);
#: strict, so the mark must go once the detectors stop warning there.
KNOWN_FALSE_ALARMS: dict[str, str] = {}
WATCHED_HEALTHY = [
    pytest.param(
        s,
        id=s.name,
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FALSE_ALARMS[s.name])]
        if s.name in KNOWN_FALSE_ALARMS
        else [],
    )
    for s in HEALTHY
]


@pytest.mark.slow
@needs_early_warning
@pytest.mark.parametrize("scenario", WATCHED_HEALTHY)
def test_watched_healthy_run_gives_no_warning(scenario: suite.Scenario) -> None:
    watched = suite.run_watched(scenario, scenario.steps, stop_at_first=False)
    assert watched.tripped_at is None
    assert watched.steps_run == scenario.steps
    assert watched.warnings == (), [w.headline() for w in watched.warnings]


@pytest.mark.slow
def test_scorer_runs_one_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The scorer's command line (its ``main``, in this process: a second process would only
    add a TensorFlow start; the exit code through the script is checked just below): one
    scenario, its progress line, a JSON file; or the one line saying the early warning is not
    there yet, exit 0 either way."""
    import score_divergence

    out = tmp_path / "score.json"
    code = score_divergence.main(["--only", "noisy_small_batch", "--json", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    if not suite.early_warning_available():
        assert stdout.strip() == "early warning not available"
        return
    assert "[1/1] noisy_small_batch (loop, healthy)" in stdout
    assert "false alarms:" in stdout
    import json

    data = json.loads(out.read_text())
    assert [r["name"] for r in data["rows"]] == ["noisy_small_batch"]
    assert data["summary"]["false_alarms"][1] == 1


def test_scorer_rejects_an_unknown_scenario() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "score_divergence.py"), "--only", "no_such_run"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 2
    assert "unknown scenario(s): no_such_run" in proc.stderr


def test_scorer_without_early_warning_says_so_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the detectors land (``early_warning=`` not in the signatures) the scorer prints
    one line and exits 0, running nothing."""
    import score_divergence

    monkeypatch.setattr(suite, "early_warning_available", lambda: False)
    monkeypatch.setattr(suite, "run_plain", lambda *a, **k: pytest.fail("ran a scenario"))
    assert score_divergence.main(["--only", "healthy_mlp"]) == 0
    assert capsys.readouterr().out.strip() == "early warning not available"
