"""Verification of an early warning's fixes by replay: with the fix, does the growth stay away?

A warning fires before anything is non-finite, so there is no trip to re-run: the question is
whether training, started again from the last anchor snapshot (``anchor_every``) with the fix
applied, goes on *without the growth* the signal saw. Each check re-runs, under a fresh guard
(``StepRunner.fresh_runner``, its own history buffers), the batches kept since the anchor, the
warning step's batch, then the kept batches cycled, up to the same horizon as trip verification
(``max(MIN_HORIZON, HORIZON_FACTOR x steps since the anchor)``). The fixes are applied by
``nantrace.diagnosis.verify``'s own attempt builders (a learning rate searched from the largest
candidate down, ``global_clipnorm``, a rescaled input, an optimizer or layer epsilon, ...).

The same batches are first run **without** any fix (the control). The watched series is the
signal's own: the global gradient norm (``grad_norm_growth``, ``update_ratio``,
``float16_range``), the variable's norm (``weight_norm_growth``), the loss (``loss_spike``).
Its healthy level is the median of the first half of its history before the run-up (as for the
loss in ``verify.healthy_level``); its band is ``BOUND`` x that level (the loss: ``max(2 x
healthy, the run's first loss)``, as in ``verify.judge``). The verdict (``records.VERDICTS``):

* ``trains``: finite over the whole horizon, the series ends inside its band, and the loss
  comes back to its healthy level and does not grow (``verify.judge``'s rule);
* ``fails``: out of the band for good no later than ``SAME_PACE`` x the step at which the
  control left it (plus ``FAIL_WINDOW`` steps), and non-finite or still growing there (its last
  ``TAIL`` steps ``GROWTH`` x above its lowest value since it left): the growth goes on as
  without the fix;
* ``postpones``: anything else that does not train: out of the band later than the control,
  or finite and no longer growing but not back inside its band (the trip rule: finite without
  recovering is ``postpones`` too).

When the control itself stays inside the band over the horizon, the replay shows no growth to
stop: every fix keeps ``verdict=None`` and a note says the check was inconclusive. Fixes that
cannot be applied this way (a code change with no origin op to edit, no anchor, a learning-rate
schedule) keep ``verdict=None`` with the reason in ``params["verification"]``. Every variable,
optimizer slot and setting is put back bit for bit; the watched step's history buffers, its
kept batches and the user's iterator are never touched.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.diagnosis.verify import (
    _ATTEMPTS,
    DYNAMICS_FIXES,
    FAIL_WINDOW,
    GROWTH,
    HORIZON_FACTOR,
    MAX_FIXES,
    MIN_HORIZON,
    TAIL,
    VERIFY_BUDGET_S,
    Attempt,
    Batch,
    Run,
    VerifyContext,
    _CannotSimulate,
    _NothingToTrain,
    _run,
    _sequence,
    healthy_of,
    judge,
    search_candidates,
)
from nantrace.replay.step import StateSnapshot, step_variables
from nantrace.report.records import Fix
from nantrace.report.warning_records import DivergenceReport

#: A gradient or weight norm may end at most this many times its healthy level for ``trains``.
BOUND = 10.0
#: A fixed run that leaves the band no later than this many times the control's step
#: (plus FAIL_WINDOW) is ``fails``: the growth went on at the same pace.
SAME_PACE = 1.25
#: Fixes whose replay from the anchor says something about a warning. Code changes are edits
#: at an origin op, which a warning does not have; they stay unchecked.
CHECKABLE = DYNAMICS_FIXES | {"add_epsilon", "float32_layer", "change_initializer"}
#: signal id -> the history series its growth shows in.
SERIES = {
    "grad_norm_growth": "grad_norm",
    "update_ratio": "grad_norm",
    "float16_range": "grad_norm",
    "weight_norm_growth": "weight_norm",
    "loss_spike": "loss",
}


@dataclass
class Course:
    """One replayed run, seen through the signal's series."""

    run: Run
    series: np.ndarray  # the signal's series per run step (NaN where not recorded)
    left_at: int | None  # run index where it left its band for good (or tripped); None: stayed
    healthy: bool  # finite, complete, inside the band at the end, loss back at its level
    peak: float  # largest finite value of the series over the run
    growing: bool = False  # out of its band and still rising (GROWTH x above its low since)
    label: str = "the gradient norm"  # which series, in words


def verify_warning_fixes(
    watched: Any,
    report: DivergenceReport,
    args: tuple,
    kwargs: dict,
    budget_s: float = VERIFY_BUDGET_S,
    max_fixes: int = MAX_FIXES,
    min_horizon: int = MIN_HORIZON,
) -> DivergenceReport:
    """The report with its top fixes replayed from the anchor (see the module docstring):
    fixes that train first, then unchecked ones; those that postpone or fail move to
    ``tried``. ``args``/``kwargs`` are the warning step's batch. The state is left exactly
    as it was."""
    started = time.perf_counter()
    fixes = list(report.fixes)
    if not fixes:
        return report
    anchor = getattr(watched, "anchor", None)
    if anchor is None:
        return _unchecked(
            report,
            "no anchor snapshot (watch(anchor_every=0), an eager step, or a state too large to "
            "keep on the host): the fixes cannot be replayed from before the growth",
        )
    prefix, batch = _prefix_and_batch(watched, args, kwargs)
    history = watched.history.read() if getattr(watched, "history", None) is not None else None
    optimizers = list(getattr(watched, "optimizers", []))
    ctx = VerifyContext(
        watched=watched,
        report=None,  # type: ignore[arg-type]  # only code-change builders read it (not used)
        batch=batch,
        recent=list(getattr(watched, "recent", [])),
        layers=_layers_of(getattr(watched, "model", None)),
        optimizer=optimizers[0] if optimizers else None,
        anchor=anchor,
        since_anchor=prefix,
        history=history,
    )
    since = len(prefix)
    horizon = max(min_horizon, HORIZON_FACTOR * since, since + 1 + FAIL_WINDOW + TAIL)
    if getattr(watched, "since_anchor", None):
        start_step = report.step - since
        sequence, warn_index = _sequence(ctx, True, horizon)
    else:  # the guard re-anchored right after the warning step: start from there
        start_step, warn_index = report.step + 1, 0
        pool = ctx.recent or [batch]
        sequence = [pool[i % len(pool)] for i in range(horizon)]
    series_name, column = _series_of(report, history)
    healthy_series = _healthy_series(history, series_name, column)
    label = _series_label(series_name, column, report.signal.variable)
    healthy_loss = healthy_of(history.loss) if history is not None and len(history) > 1 else None

    plans: list[tuple[Fix, list[Attempt] | None, str]] = []
    for rank, fix in enumerate(fixes):
        builder = _ATTEMPTS.get(fix.id)
        if rank >= max_fixes:
            plans.append((fix, None, ""))
        elif builder is None or fix.id not in CHECKABLE:
            plans.append((fix, None, _why_not_checkable(fix)))
        elif fix.id == "change_initializer" and start_step != 0:
            plans.append(
                (
                    fix,
                    None,
                    f"not simulated: a new initializer applies from the start of training, and "
                    f"the anchor is at step {start_step}, not the pre-training state",
                )
            )
        else:
            try:
                plans.append((fix, builder(fix, ctx), ""))
            except _CannotSimulate as error:
                plans.append((fix, None, f"not simulated: {error}"))

    notes: list[str] = []
    pre = StateSnapshot.take(step_variables(watched))
    deadline = started + budget_s
    shared: list[Any] = []
    checked: list[Fix] = []
    control: Course | None = None

    def replay(attempt: Attempt, until: float) -> Course:
        return _replay(
            ctx,
            attempt,
            sequence,
            warn_index,
            start_step,
            healthy_loss,
            (series_name, column, healthy_series, label),
            shared,
            pre,
            until,
        )

    try:
        pending = sum(1 for _, attempts, _ in plans if attempts)
        if pending:
            share = (deadline - time.perf_counter()) / (pending + 1)
            try:
                control = replay(Attempt("no fix"), time.perf_counter() + share)
            except Exception as error:  # the step cannot re-run as a tf.function: say so
                text = str(error).splitlines()[0][:120] if str(error) else ""
                notes.append(
                    f"the warning's fixes were not replayed: the step could not be re-run "
                    f"without a fix ({type(error).__name__}: {text})"
                )
                plans = [(f, None, "not simulated: the control run failed") for f, _, _ in plans]
        inconclusive = control is not None and (not control.run.complete or _stayed(control))
        if control is not None and inconclusive:
            notes.append(
                "the warning's fixes were not judged: replayed without any fix from the anchor "
                f"at step {start_step} over the same {control.run.steps} batches, the run "
                + (
                    "did not complete within the time budget"
                    if not control.run.complete
                    else f"did not grow either ({label} ended at "
                    f"{_fmt(_tail(control.series))}, healthy level {_fmt(healthy_series)})"
                )
                + "; the check is inconclusive"
            )
        for fix, attempts, reason in plans:
            if not attempts or control is None or inconclusive:
                params = dict(fix.params)
                if reason:
                    params["verification"] = reason
                elif attempts and control is not None:
                    params["verification"] = (
                        "inconclusive: the control run did not grow"
                        if control.run.complete
                        else "unchecked: the control run did not complete within the time budget"
                    )
                checked.append(dataclasses.replace(fix, params=params, verified=None, verdict=None))
                continue
            share = max(0.0, deadline - time.perf_counter()) / max(pending, 1)
            pending -= 1
            checked.append(
                _check_fix(fix, attempts, replay, control, start_step, time.perf_counter() + share)
            )
    finally:
        pre.restore()

    ranked = [f for f in checked if f.verdict == "trains"]
    ranked += [f for f in checked if f.verdict is None]
    tried = [f for f in checked if f.verdict in ("postpones", "fails")]
    unchecked = [f for f in checked if f.verdict is None and f.params.get("verification")]
    if unchecked and not any(n.startswith("the warning's fixes were not") for n in notes):
        notes.append(
            "not checked by replay: "
            + "; ".join(f"{f.id} ({f.params['verification']})" for f in unchecked)
        )
    ran = [f for f in checked if "steps_run" in f.params]
    if ran and control is not None:
        notes.append(
            f"{len(ran)} fix(es) replayed from the anchor at step {start_step} against a "
            f"control run without a fix ({_control_text(control, start_step)}) in "
            f"{time.perf_counter() - started:.1f} s (budget {budget_s:.0f} s)"
        )
    cause = report.cause
    if ran:
        from nantrace.diagnosis.pipeline import _weigh_cause

        cause = _weigh_cause(cause, ranked, tried)
    return dataclasses.replace(
        report,
        cause=cause,
        fixes=tuple(ranked),
        tried=(*report.tried, *tried),
        notes=(*report.notes, *notes),
    )


# ---------------------------------------------------------------------------------------------
# one fix
# ---------------------------------------------------------------------------------------------
def _check_fix(
    fix: Fix,
    attempts: list[Attempt],
    replay: Callable[[Attempt, float], Course],
    control: Course,
    start_step: int,
    deadline: float,
) -> Fix:
    """Each candidate value in turn until one trains; the verdict against the control."""
    params = dict(fix.params)

    def try_one(attempt: Attempt) -> tuple[Any, str | None, dict[str, Any], int]:
        try:
            course = replay(attempt, deadline)
        except _NothingToTrain as error:
            raise _CannotSimulate(str(error)) from error
        left = course.left_at
        extra = {"steps": course.run.steps}
        if left is not None:
            extra["left_band_at_step"] = start_step + left
        return course, _verdict(course, control), extra, course.run.horizon

    search = search_candidates(attempts, try_one, deadline)
    failure = search.failure
    if len(attempts) > 1 and search.candidates:
        params["candidates"] = search.candidates
    if not search.simulated:
        params["verification"] = failure or "not simulated"
        return dataclasses.replace(fix, params=params, verified=None, verdict=None)
    # every candidate grew again: report the one that held out longest
    attempt, course, verdict = search.final(lambda o: (o[2] == "postpones", _held(o[1])))
    run = course.run
    params.update(attempt.params)
    params.update(
        {
            "verdict": verdict,
            "steps_run": run.steps,
            "horizon": run.horizon,
            "start_step": start_step,
            "start": "anchor",
            "series": course.label,
            "series_peak": course.peak if math.isfinite(course.peak) else None,
            "series_last": _tail(course.series),
            "control_left_band_at_step": (
                start_step + control.left_at if control.left_at is not None else None
            ),
            "loss_first": run.losses[0] if run.losses else None,
            "loss_last": float(np.mean(run.losses[-TAIL:])) if run.losses else None,
        }
    )
    ran = f"{run.steps} steps from the anchor at step {start_step}"
    grown = _control_text(control, start_step)
    if verdict is None:
        what = f"unchecked: {failure} ({ran})"
    elif verdict == "trains":
        ended = (
            ""
            if course.label == "the loss"
            else f"{course.label} ended at {_fmt(_tail(course.series))} (inside its band), "
        )
        what = f"trains: {ran}, finite, {ended}loss {_loss_text(run)}; without the fix it {grown}"
    else:
        at = start_step + course.left_at if course.left_at is not None else None
        if run.tripped_at is not None:
            how = f"non-finite at step {start_step + run.tripped_at}"
        elif course.left_at is not None and course.growing:
            how = f"growing again, out of its band for good from step {at}"
        elif course.left_at is not None:
            how = (
                f"finite and not growing, but {course.label} stayed out of its band from step "
                f"{at} (ended at {_fmt(_tail(course.series))})"
            )
        else:
            how = f"finite, but the loss did not come back to its level ({_loss_text(run)})"
        what = f"{verdict}: {how} ({ran}); without the fix it {grown}"
    params["verification"] = f"{what}; with {attempt.label}"
    snippet = fix.snippet
    if fix.id == "lower_learning_rate" and params.get("suggested") is not None:
        snippet = f"optimizer.learning_rate = {float(params['suggested']):.3g}"
    return dataclasses.replace(
        fix,
        params=params,
        snippet=snippet,
        verified=None if verdict is None else verdict == "trains",
        verdict=verdict,
    )


def _verdict(course: Course, control: Course) -> str | None:
    """``trains`` / ``postpones`` / ``fails`` against the control (None: incomplete)."""
    if not course.run.complete and course.run.tripped_at is None and course.left_at is None:
        return None
    if course.healthy:
        return "trains"
    reference = control.left_at if control.left_at is not None else control.run.steps
    same_pace = course.left_at is not None and (
        course.left_at <= SAME_PACE * reference + FAIL_WINDOW
    )
    if same_pace and (course.run.tripped_at is not None or course.growing):
        return "fails"
    # later, or finite and not growing but not back to health either (a trip's fix that stays
    # finite without recovering is ``postpones`` too)
    return "postpones"


def _held(course: Course) -> int:
    return course.left_at if course.left_at is not None else course.run.steps


# ---------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------
def _replay(
    ctx: VerifyContext,
    attempt: Attempt,
    sequence: list[Batch],
    warn_index: int,
    start_step: int,
    healthy_loss: float | None,
    watched_series: tuple[str, int | None, float | None, str],
    shared: list[Any],
    pre: StateSnapshot,
    deadline: float,
) -> Course:
    """One run from the anchor with ``attempt`` applied (probe shared unless it re-traces)."""
    series_name, column, healthy_series, label = watched_series
    try:
        pre.restore()
        ctx.anchor.restore()
        with attempt.apply():
            if attempt.retrace or not shared:
                probe = ctx.watched.fresh_runner()
                if not attempt.retrace:
                    shared.append(probe)
            else:
                probe = shared[0]
            history = probe.history
            before = history.read() if history is not None else None
            offset = int(before.steps[-1]) + 1 if before is not None and len(before) else 0
            run = _run(
                ctx, probe, attempt, sequence, warn_index, start_step, healthy_loss, deadline
            )
            record = history.read() if history is not None else None
    finally:
        pre.restore()
    steps = len(run.losses) + (run.tripped_at is not None)
    values = np.full(steps, np.nan)
    if series_name == "loss":
        values[: len(run.losses)] = run.losses
    elif record is not None:
        for row, step in enumerate(record.steps):
            index = int(step) - offset
            if 0 <= index < steps:
                if series_name == "grad_norm":
                    values[index] = record.grad_norm[row]
                else:
                    values[index] = _weight_value(record, row, column)
    course = _course(run, values, warn_index, healthy_loss, healthy_series, series_name)
    return dataclasses.replace(course, label=label)


def _course(
    run: Run,
    values: np.ndarray,
    warn_index: int,
    healthy_loss: float | None,
    healthy_series: float | None,
    series_name: str,
) -> Course:
    losses = np.asarray(run.losses, dtype=np.float64)
    if series_name == "loss":
        start = float(np.median(losses[:3])) if losses.size else math.nan
        base = healthy_series if healthy_series is not None else start
        band = max(2.0 * base, start) if math.isfinite(start) else 2.0 * base
    else:
        base = healthy_series
        if base is None or not math.isfinite(base):
            finite = values[np.isfinite(values)]
            base = float(np.median(finite[:3])) if finite.size else math.nan
        band = BOUND * base
    outside = ~(values <= band)  # NaN (unrecorded or non-finite) counts as outside
    inside = np.nonzero(~outside)[0]
    if run.tripped_at is not None:
        left_at: int | None = run.tripped_at
        if inside.size and inside[-1] + 1 < run.tripped_at:
            left_at = int(inside[-1] + 1)
    elif values.size and outside[-min(TAIL, values.size) :].all():
        left_at = int(inside[-1] + 1) if inside.size else 0
    else:
        left_at = None
    finite = values[np.isfinite(values)]
    peak = float(finite.max()) if finite.size else math.nan
    growing = False
    if left_at is not None:
        since_left = values[left_at:]
        since_left = since_left[np.isfinite(since_left)]
        tail = _tail(values)
        growing = since_left.size >= 2 and tail is not None and tail >= GROWTH * since_left.min()
    judged = judge(run.losses, run.tripped_at, warn_index, healthy_loss, run.complete)
    healthy = (
        run.tripped_at is None
        and run.complete
        and left_at is None
        and bool(np.isfinite(losses).all())
        and judged.verdict == "trains"
    )
    return Course(run, values, left_at, healthy, peak, growing=growing)


def _stayed(course: Course) -> bool:
    """The control did not grow: finite, inside its band at the end, loss not diverging."""
    return course.run.tripped_at is None and course.left_at is None and course.healthy


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _prefix_and_batch(watched: Any, args: tuple, kwargs: dict) -> tuple[list[Batch], Batch]:
    """The batches run since the anchor before the warning step, and the warning step's batch
    (the guard may already have kept it at the end of ``since_anchor``)."""
    prefix = list(getattr(watched, "since_anchor", []))
    if prefix and _same_batch(prefix[-1], (args, kwargs)):
        return prefix[:-1], prefix[-1]
    return prefix, (tuple(args), dict(kwargs))


def _same_batch(a: Batch, b: Batch) -> bool:
    try:
        left, right = tf.nest.flatten(a), tf.nest.flatten(b)
        tf.nest.assert_same_structure(a, b)
    except (TypeError, ValueError):
        return False
    if len(left) != len(right):
        return False
    for x, y in zip(left, right, strict=True):
        if x is y:
            continue
        if not hasattr(x, "shape") or not hasattr(y, "shape"):
            if x != y:
                return False
            continue
        xa, ya = np.asarray(x), np.asarray(y)
        if xa.shape != ya.shape or xa.dtype != ya.dtype or not np.array_equal(xa, ya):
            return False
    return True


def _layers_of(model: Any) -> dict[str, Any]:
    """Layers by path (``model/dense``) and by bare name, for fixes that name a layer."""
    found: dict[str, Any] = {}
    if model is None:
        return found

    def walk(layer: Any, path: str) -> None:
        found.setdefault(path, layer)
        found.setdefault(getattr(layer, "name", path), layer)
        for child in getattr(layer, "layers", None) or []:
            walk(child, f"{path}/{child.name}")

    walk(model, getattr(model, "name", "model"))
    return found


def _series_of(report: DivergenceReport, history: Any) -> tuple[str, int | None]:
    name = SERIES.get(report.signal.id, "grad_norm")
    column = None
    if name == "weight_norm":
        names = tuple(getattr(history, "names", ()) or ())
        variable = report.signal.variable
        column = names.index(variable) if variable in names else None
    return name, column


def _weight_value(record: Any, row: int, column: int | None) -> float:
    weights = np.asarray(record.weight_norm[row], dtype=np.float64)
    if column is not None and column < weights.size:
        return float(weights[column])
    return float(np.sqrt(np.sum(weights**2))) if weights.size else math.nan


def _healthy_series(history: Any, name: str, column: int | None) -> float | None:
    if history is None or len(history) < 2:
        return None
    if name == "loss":
        values = np.asarray(history.loss, dtype=np.float64)
    elif name == "grad_norm":
        values = np.asarray(history.grad_norm, dtype=np.float64)
    else:
        values = np.array([_weight_value(history, row, column) for row in range(len(history))])
    return healthy_of(values)


def _series_label(name: str, column: int | None, variable: str | None = None) -> str:
    if name == "grad_norm":
        return "the gradient norm"
    if name == "loss":
        return "the loss"
    return f"the norm of {variable}" if column is not None else "the global weight norm"


def _tail(values: np.ndarray) -> float | None:
    tail = values[-TAIL:]
    tail = tail[np.isfinite(tail)]
    return float(np.mean(tail)) if tail.size else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _loss_text(run: Run) -> str:
    if not run.losses:
        return "none finite"
    return f"{run.losses[0]:.3g} -> {float(np.mean(run.losses[-TAIL:])):.3g}"


def _control_text(control: Course, start_step: int) -> str:
    if control.run.tripped_at is not None:
        return f"went non-finite at step {start_step + control.run.tripped_at}"
    if control.left_at is not None:
        peak = f" (peak {_fmt(control.peak)})" if math.isfinite(control.peak) else ""
        return f"left its band for good from step {start_step + control.left_at}{peak}"
    return "stayed inside its band"


def _why_not_checkable(fix: Fix) -> str:
    if fix.id in _ATTEMPTS:
        return f"not simulated: {fix.id} is a code change at an op; a warning names no op to edit"
    return f"not simulated: nantrace does not apply {fix.id} by replay"


def _unchecked(report: DivergenceReport, why: str) -> DivergenceReport:
    fixes = tuple(
        dataclasses.replace(
            f,
            params={**f.params, "verification": f"not simulated: {why}"},
            verified=None,
            verdict=None,
        )
        for f in report.fixes
    )
    return dataclasses.replace(
        report, fixes=fixes, notes=(*report.notes, f"the warning's fixes were not checked: {why}")
    )
