"""Verifying an early warning's fixes by replay (nantrace.diagnosis.verify_warning) on a real watched step.

A small MLP trained with plain SGD at a learning rate past its stability limit: its gradient
norm and loss grow for dozens of steps while every value stays finite, which is what an early
warning fires on. The reports are built by hand (the detectors are tested elsewhere), so each
verdict here comes from the replay alone.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.diagnosis.verify_warning import verify_warning_fixes
from nantrace.report.records import Cause, Fix
from nantrace.report.warning_records import DivergenceReport, Signal

#: The detectors are not under test here: keep the guard from warning while the run is built.
_QUIET = (
    {"early_warning": "off"}
    if "early_warning" in inspect.signature(nantrace.watch).parameters
    else {}
)


#: generous: the verdicts asserted here must not depend on the machine's load (the default
#: 20 s budget cut the control run short on a loaded 2-core machine: 'inconclusive')
BUDGET_S = 600.0


class Run:
    """A (32-sample) batch regression MLP trained ``steps`` steps with SGD(lr) under watch."""

    def __init__(self, lr: float, steps: int = 40, seed: int = 0, **watch: object) -> None:
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(256, 8)).astype("float32")
        y = (x @ rng.normal(size=(8, 1))).astype("float32")
        self.lr = lr
        self.model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)],
            name="mlp",
        )
        self.optimizer = keras.optimizers.SGD(lr)
        model, optimizer = self.model, self.optimizer

        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        self.watched = nantrace.watch(
            train_step, model=model, optimizer=optimizer, **{**_QUIET, **watch}
        )
        self.batches = [
            (tf.constant(x[i * 32 : (i + 1) * 32]), tf.constant(y[i * 32 : (i + 1) * 32]))
            for i in range(8)
        ]
        for step in range(steps):
            self.last = self.batches[step % 8]
            self.watched(*self.last)
        self.step = steps - 1

    def report(self, *fixes: Fix) -> DivergenceReport:
        signal = Signal("grad_norm_growth", "global gradient norm grew", 40.0, 10.0, 1.0, 20)
        return DivergenceReport(
            step=self.step,
            signal=signal,
            signals=(signal,),
            cause=Cause("learning_rate_too_high", "the updates are too large", confidence=0.8),
            fixes=fixes,
        )

    def lower_lr(self) -> Fix:
        return Fix(
            "lower_learning_rate",
            "the updates are too large",
            {"current": self.lr, "suggested": self.lr / 10},
            f"optimizer.learning_rate = {self.lr / 10:.3g}",
        )

    def state(self) -> dict[str, object]:
        """Everything the check must leave as it was, as bytes and object ids."""
        variables = list(self.model.variables) + list(self.optimizer.variables)
        history = self.watched.history.state()
        return {
            "variables": [(v.path, np.asarray(v).tobytes()) for v in variables],
            "learning_rate": np.asarray(self.optimizer.learning_rate).tobytes(),
            "history": [a.tobytes() for a in history] if history else None,
            "anchor": [value.tobytes() for _, value in self.watched.anchor.values],
            "since_anchor": [id(b[0]) for b in self.watched.since_anchor],
            "recent": [id(b[0]) for b in self.watched.recent],
            "step": self.watched.step,
        }


def clip(norm: float) -> Fix:
    return Fix("clip_gradients", "clip", {"clipnorm": norm}, f"SGD(..., global_clipnorm={norm:g})")


@pytest.fixture(scope="module")
def diverging() -> Run:
    run = Run(lr=0.6)
    grads = run.watched.history.read().grad_norm
    assert np.isfinite(grads).all() and grads[-1] > 100 * grads[:5].min()  # grows, still finite
    return run


def test_a_lower_learning_rate_trains_a_useless_clip_fails_and_state_is_untouched(diverging):
    run = diverging
    before = run.state()
    useless = clip(1e9)  # far above every gradient norm: changes nothing
    report = run.report(useless, run.lower_lr())
    out = verify_warning_fixes(run.watched, report, run.last, {}, budget_s=BUDGET_S)

    assert run.state() == before  # bit-identical variables, slots, lr, history, kept batches
    first = out.fixes[0]
    assert first.id == "lower_learning_rate"  # verified fixes are ranked first
    assert first.verdict == "trains" and first.verified is True
    assert first.params["suggested"] < run.lr
    assert first.snippet == f"optimizer.learning_rate = {first.params['suggested']:.3g}"
    assert first.params["start"] == "anchor" and first.params["steps_run"] >= 100
    assert [f.params["clipnorm"] for f in out.tried] == [1e9]
    assert out.tried[0].verdict == "fails" and out.tried[0].verified is False
    assert "without the fix it" in out.tried[0].params["verification"]
    assert out.cause.evidence.get("confirmed_by") == "lower_learning_rate"
    assert any("against a control run without a fix" in note for note in out.notes)
    # the report still round-trips through its JSON schema
    assert DivergenceReport.from_json(out.to_json()) == out


def test_a_tight_clip_norm_stops_the_growth(diverging):
    run = diverging
    out = verify_warning_fixes(run.watched, run.report(clip(1.0)), run.last, {}, budget_s=BUDGET_S)
    assert out.fixes[0].verdict == "trains", out.fixes[0].params["verification"]


def test_fixes_that_cannot_be_replayed_say_so(diverging):
    run = diverging
    code = Fix("clamp_argument", "clamp", {"op_type": "Log"}, "tf.math.log(tf.maximum(x, 1e-7))")
    out = verify_warning_fixes(run.watched, run.report(code), run.last, {}, budget_s=BUDGET_S)
    (fix,) = out.fixes
    assert fix.verdict is None and fix.verified is None
    assert "warning names no op" in fix.params["verification"]
    assert any(note.startswith("not checked by replay: clamp_argument") for note in out.notes)


def test_a_control_that_does_not_grow_makes_the_check_inconclusive():
    run = Run(lr=0.05)  # converges: replayed without a fix, nothing grows
    before = run.state()
    out = verify_warning_fixes(
        run.watched, run.report(run.lower_lr()), run.last, {}, budget_s=BUDGET_S
    )
    assert run.state() == before
    (fix,) = out.fixes
    assert fix.verdict is None and fix.verified is None and not out.tried
    assert any("inconclusive" in note for note in out.notes)


def test_without_an_anchor_nothing_is_replayed():
    run = Run(lr=0.6, steps=12, anchor_every=0)
    out = verify_warning_fixes(
        run.watched, run.report(run.lower_lr()), run.last, {}, budget_s=BUDGET_S
    )
    (fix,) = out.fixes
    assert fix.verdict is None and "no anchor snapshot" in fix.params["verification"]
    assert any("were not checked" in note for note in out.notes)


def test_an_anchor_taken_right_after_the_warning_step_is_the_start():
    # anchor_every=8: the guard re-anchors after the 9th step, so no batch is kept since
    run = Run(lr=0.6, steps=9, anchor_every=8)
    assert not run.watched.since_anchor
    before = run.state()
    out = verify_warning_fixes(
        run.watched, run.report(run.lower_lr(), clip(1.0)), run.last, {}, budget_s=BUDGET_S
    )
    assert run.state() == before
    lower = out.fixes[0]
    assert lower.id == "lower_learning_rate" and lower.verdict == "trains"
    assert lower.params["start_step"] == run.step + 1  # the state after the warning step
    (clipped,) = out.tried  # from that state a clip holds the norm but does not bring it back
    assert clipped.verdict == "postpones" and "not growing" in clipped.params["verification"]


@pytest.mark.skipif(not _QUIET, reason="this nantrace has no early_warning detectors")
def test_a_real_warning_from_the_guard_has_its_fixes_replayed(monkeypatch):
    """The guard's own warning path calls verify_warning_fixes (no hand-made report)."""
    import functools

    from nantrace.diagnosis import verify_warning

    generous = functools.partial(verify_warning.verify_warning_fixes, budget_s=BUDGET_S)
    monkeypatch.setattr(verify_warning, "verify_warning_fixes", generous)
    with pytest.warns(nantrace.DivergenceWarning):
        run = Run(lr=0.45, steps=30, early_warning="warn")
    (report,) = run.watched.early_warnings
    checked = [f for f in report.fixes + report.tried if f.verdict is not None]
    assert checked, report.notes
    assert any("against a control run without a fix" in note for note in report.notes)
    assert report.fixes[0].verdict == "trains"
