"""Verification by replay: apply a fix to a copy of the pre-step state and re-run the step.

For each of the top fixes that nantrace can simulate without editing user code (a new learning
rate, gradient clipping, an optimizer epsilon, cleaned or rescaled batches, re-initialized
layers, an epsilon substituted at the origin op), the tripping step and the recent healthy
batches are re-run from the exact pre-step state under the same guard. ``verified`` is True
when none of them trips, False when one does, None when the fix needs a code change nantrace
cannot simulate (``use_from_logits``, ``use_gated_rnn``, ...) or the time budget ran out.
Every variable and optimizer setting is put back afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.records import Fix, Report
from nantrace.replay import StateSnapshot, step_variables

Batch = tuple[tuple, dict]

#: Steps re-run per fix: the tripping batch, then the recent healthy ones, cycled.
VERIFY_STEPS = 12
#: Wall-clock budget for verifying all fixes of one report.
VERIFY_BUDGET_S = 20.0
MAX_FIXES = 3


@dataclass
class Simulation:
    """How one fix is applied during verification."""

    transform: Callable[[Batch], Batch] = lambda batch: batch
    note: str = ""
    params: dict[str, Any] = field(default_factory=dict)


#: Fixes whose effect shows over many steps: verified from the last anchor snapshot (taken a
#: few dozen steps before the trip), through every batch since, then the tripping one.
DYNAMICS_FIXES = frozenset({"lower_learning_rate", "clip_gradients", "rescale_input"})


@dataclass
class VerifyContext:
    watched: Any
    report: Report
    batch: Batch
    recent: list[Batch]
    layers: dict[str, Any]
    optimizer: Any
    anchor: Any = None  # StateSnapshot taken before ``since_anchor`` ran
    since_anchor: list[Batch] = field(default_factory=list)


def _inner_optimizer(optimizer: Any) -> Any:
    return getattr(optimizer, "inner_optimizer", optimizer)


@contextlib.contextmanager
def _attributes(obj: Any, **values: Any) -> Iterator[None]:
    old = {name: getattr(obj, name) for name in values}
    try:
        for name, value in values.items():
            setattr(obj, name, value)
        yield
    finally:
        for name, value in old.items():
            setattr(obj, name, value)


@contextlib.contextmanager
def _learning_rate(optimizer: Any, value: float) -> Iterator[None]:
    optimizer = _inner_optimizer(optimizer)
    old = float(np.asarray(optimizer.learning_rate))
    optimizer.learning_rate = value
    try:
        yield
    finally:
        optimizer.learning_rate = old


def _map_float_leaves(batch: Batch, fn: Callable[[np.ndarray], np.ndarray]) -> Batch:
    def convert(value: Any) -> Any:
        dtype = getattr(value, "dtype", None)
        if dtype is None or not tf.as_dtype(dtype).is_floating:
            return value
        return tf.constant(fn(np.asarray(value)), dtype=tf.as_dtype(dtype))

    args, kwargs = batch
    return tf.nest.map_structure(convert, args), tf.nest.map_structure(convert, kwargs)


def _drop_rows(batch: Batch, rows: set[int], size: int) -> Batch:
    keep = np.array([i for i in range(size) if i not in rows], dtype=np.int64)

    def convert(value: Any) -> Any:
        shape = getattr(value, "shape", None)
        if shape is None or len(shape) == 0 or shape[0] != size:
            return value
        return tf.gather(value, keep)

    args, kwargs = batch
    return tf.nest.map_structure(convert, args), tf.nest.map_structure(convert, kwargs)


def _batch_size(batch: Batch) -> int | None:
    for leaf in tf.nest.flatten(batch):
        shape = getattr(leaf, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
    return None


# ---------------------------------------------------------------------------------------------
# simulators: fix id -> context manager yielding a Simulation (or None: cannot simulate)
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _simulate_lower_lr(fix: Fix, ctx: VerifyContext, value: float) -> Iterator[Simulation]:
    with _learning_rate(ctx.optimizer, value):
        yield Simulation(note=f"learning_rate={value:.3g}", params={"suggested": value})


@contextlib.contextmanager
def _simulate_clip(fix: Fix, ctx: VerifyContext) -> Iterator[Simulation]:
    optimizer = _inner_optimizer(ctx.optimizer)
    norm = float(fix.params["clipnorm"])
    with _attributes(optimizer, global_clipnorm=norm, clipnorm=None, clipvalue=None):
        yield Simulation(note=f"global_clipnorm={norm:.3g}")


@contextlib.contextmanager
def _simulate_clean(fix: Fix, ctx: VerifyContext) -> Iterator[Simulation]:
    def transform(batch: Batch) -> Batch:
        bad = set()
        for leaf in tf.nest.flatten(batch):
            array = np.asarray(leaf) if hasattr(leaf, "dtype") else None
            if array is not None and array.dtype.kind == "f" and array.ndim > 0:
                flat = ~np.isfinite(array.reshape(array.shape[0], -1))
                bad |= set(np.nonzero(flat.any(axis=1))[0].tolist())
        n = _batch_size(batch)
        return _drop_rows(batch, bad, n) if bad and n else batch

    yield Simulation(transform=transform, note="rows with NaN/Inf dropped from each batch")


@contextlib.contextmanager
def _simulate_rescale(fix: Fix, ctx: VerifyContext) -> Iterator[Simulation]:
    threshold = 1e3

    def scale(array: np.ndarray) -> np.ndarray:
        finite = np.abs(array[np.isfinite(array)])
        high = float(finite.max()) if finite.size else 0.0
        return (array / high).astype(array.dtype) if high > threshold else array

    yield Simulation(
        transform=lambda batch: _map_float_leaves(batch, scale),
        note="float batch tensors with |x| > 1e3 divided by their max |x|",
    )


@contextlib.contextmanager
def _simulate_initializer(fix: Fix, ctx: VerifyContext) -> Iterator[Simulation]:
    import keras

    from nantrace.causes import kernel_of

    initializer = keras.initializers.get(fix.params.get("suggested", "glorot_uniform"))
    names = fix.params.get("layers") or [fix.params.get("layer")]
    for name in names:
        layer = ctx.layers.get(name)
        kernel = kernel_of(layer) if layer is not None else None
        if kernel is None:
            raise _CannotSimulate(f"layer {name} not found")
        kernel.assign(initializer(tuple(kernel.shape), dtype=kernel.dtype))
    yield Simulation(
        note=f"{len(names)} layer(s) re-initialized with {initializer.__class__.__name__}"
    )


@contextlib.contextmanager
def _simulate_epsilon(fix: Fix, ctx: VerifyContext) -> Iterator[Simulation]:
    epsilon = float(fix.params.get("epsilon", 1e-7))
    if fix.params.get("target") == "layer.epsilon":
        layer = ctx.layers.get(fix.params.get("layer"))
        if layer is None:
            raise _CannotSimulate(f"layer {fix.params.get('layer')} not found")
        with _attributes(layer, epsilon=epsilon):
            yield Simulation(note=f"{fix.params.get('layer')} epsilon={epsilon:g}")
        return
    if fix.params.get("target") != "optimizer.epsilon":
        # Substituting an epsilon inside user code is not simulated: TF's eager fast path
        # cannot be intercepted, and a graph-mode output override leaves the taped gradient
        # of the original op in place (measured: the fix then "fails" for the wrong reason).
        raise _CannotSimulate("an epsilon inside user code needs a code change")
    with _attributes(_inner_optimizer(ctx.optimizer), epsilon=epsilon):
        yield Simulation(note=f"optimizer epsilon={epsilon:g}")


class _CannotSimulate(Exception):
    pass


def _simulator(fix: Fix) -> Callable[..., Any] | None:
    return {
        "clip_gradients": _simulate_clip,
        "clean_input": _simulate_clean,
        "rescale_input": _simulate_rescale,
        "change_initializer": _simulate_initializer,
        "add_epsilon": _simulate_epsilon,
    }.get(fix.id)


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------
def _run_steps(
    ctx: VerifyContext, simulation: Simulation, steps: int, from_anchor: bool
) -> tuple[bool, int]:
    """Re-run the tripping batch and the recent ones under a fresh guard; True if none trips.

    ``from_anchor``: start from the anchor snapshot and first re-run every batch since it."""
    from nantrace.guard import Watched

    python_fn = ctx.watched.python_fn
    probe = Watched(
        tf.function(python_fn), model=ctx.watched.model, optimizer=ctx.watched.optimizer
    )
    batches = [ctx.batch] + list(reversed(ctx.recent))
    if from_anchor:  # the caller restored the anchor before applying the fix
        batches = list(ctx.since_anchor) + batches
        steps = max(steps, len(ctx.since_anchor) + 1)
    ran = 0
    for i in range(steps):
        args, kwargs = simulation.transform(batches[i % len(batches)])
        _, status = probe._step_fn(*args, **kwargs)
        ran += 1
        if int(status.numpy()[0]):
            return False, ran
    return True, ran


def verify_fixes(
    ctx: VerifyContext,
    fixes: list[Fix],
    budget_s: float = VERIFY_BUDGET_S,
    steps: int = VERIFY_STEPS,
) -> tuple[list[Fix], list[str]]:
    """Verify the top fixes by replay; verified fixes move above unverified ones."""
    notes: list[str] = []
    snapshot = StateSnapshot.take(step_variables(ctx.watched))
    started = time.perf_counter()
    result: list[Fix] = []
    for rank, fix in enumerate(fixes):
        simulator = _simulator(fix)
        attempts: list[Callable[[], Any]] = []
        if fix.id == "lower_learning_rate" and fix.params.get("suggested"):
            base = float(fix.params["suggested"])
            attempts = [
                lambda v=base * f, fx=fix: _simulate_lower_lr(fx, ctx, v) for f in (1, 0.1, 0.01)
            ]
        elif simulator is not None:
            attempts = [lambda s=simulator, fx=fix: s(fx, ctx)]
        if (
            rank >= MAX_FIXES
            or not attempts
            or ctx.optimizer is None
            and fix.id in {"lower_learning_rate", "clip_gradients"}
        ):
            result.append(fix)
            continue
        if time.perf_counter() - started > budget_s:
            notes.append(f"verification stopped after {budget_s:.0f} s; {fix.id} not checked")
            result.append(fix)
            continue
        verified: bool | None = None
        detail = ""
        params = dict(fix.params)
        from_anchor = fix.id in DYNAMICS_FIXES and ctx.anchor is not None and bool(ctx.since_anchor)
        for attempt in attempts:
            try:
                if from_anchor:
                    ctx.anchor.restore()
                with attempt() as simulation:
                    ok, ran = _run_steps(ctx, simulation, steps, from_anchor)
            except _CannotSimulate as error:
                detail = f"not simulated: {error}"
                verified = None
                break
            except Exception as error:  # the step cannot run as a tf.function: say so
                detail = (
                    f"not simulated: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
                )
                verified = None
                break
            finally:
                snapshot.restore()
            verified = ok
            params.update(simulation.params)
            start = (
                f"from step {ctx.report.trip.step - len(ctx.since_anchor)}"
                if from_anchor
                else "from the pre-step state"
            )
            detail = (
                f"{'no' if ok else 'a'} non-finite value in {ran} replayed step(s) "
                f"{start} with {simulation.note}"
            )
            if ok:
                break
        params["verification"] = detail
        snippet = fix.snippet
        if fix.id == "lower_learning_rate" and params.get("suggested") is not None:
            snippet = f"optimizer.learning_rate = {float(params['suggested']):.3g}"
        result.append(dataclasses.replace(fix, verified=verified, params=params, snippet=snippet))
    order = {True: 0, None: 1, False: 2}
    result.sort(key=lambda f: (order[f.verified], -f.score))
    elapsed = time.perf_counter() - started
    if any(f.verified is not None for f in result):
        notes.append(
            f"fixes verified by replay ({elapsed:.1f} s); see each fix's params.verification"
        )
    return result, notes
