"""Verification by replay: does a fix, applied exactly as its snippet says, let training go on?

For each of the top fixes that nantrace can apply without editing user code (a learning rate,
gradient clipping, an optimizer or layer epsilon, filtered / imputed / rescaled batch tensors,
re-drawn kernels), training is re-run under a fresh guard from the right state:

* fixes of the training dynamics (``lower_learning_rate``, ``clip_gradients``,
  ``rescale_input``, ``rescale_target``) from the last anchor snapshot, through every batch run
  since, the tripping batch, then further steps on the kept batches, cycled;
* the other fixes from the pre-step state, or from the anchor when that anchor is the
  pre-training state (a user changes an initializer from the start of training).

The horizon is ``max(MIN_HORIZON, HORIZON_FACTOR x steps since the anchor)`` steps, within a
wall-clock budget per report. The verdict (``records.VERDICTS``):

* ``trains``: finite over the whole horizon, and the mean loss of the last ``TAIL`` steps is
  back at the healthy level (``<= max(healthy + |healthy|, the loss at the start of the run)``,
  the start being the lower of the first loss and the median of the first three:
  twice a positive level, 0 for a negative one), not growing, and not far below it either
  (``>= -RUNAWAY x max(|healthy|, 1)``: a run that stays finite at -1e30 from an anchor taken
  mid-divergence has not come back). The healthy level is the median of the first half of the
  pre-trip loss history.
* ``postpones``: finite for a while, then a trip or a divergence (the step is recorded).
* ``fails``: a trip before or within ``FAIL_WINDOW`` steps of the tripping batch, or a fix
  that leaves nothing to train on (every row filtered out).

Only ``trains`` sets ``verified=True``. A fix not simulated, or whose horizon did not complete
within the budget, keeps ``verified=None``; a horizon that cannot finish by the deadline even at
the fastest step seen (in its first ``PACE_STEPS`` steps, even at twice that pace) is stopped
once past the fail window (its verdict can no longer be ``trains``), so a large model's report
does not wait out the budget.

Fixes that change nothing read at trace time (a learning rate, a batch transform, re-drawn
kernels) run on the guard's own compiled step (``Watched.own_runner``: its traces reused, its
history put back); the others on a fresh runner, re-traced. The pre-step state is held as the
variables' own tensors (``DeviceSnapshot``: no host copy, a device copy-on-write per variable).

The learning rate is searched: the largest of a few candidates below the current one that
trains. Every variable, optimizer setting and layer attribute is put back afterwards; the user's
batches are never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from nantrace.compat.tf import accumulator_slots, rederive_adapted_state
from nantrace.diagnosis.call_site import CallSiteEdit, search_space
from nantrace.diagnosis.call_site_replay import simulating_each
from nantrace.diagnosis.evidence import fell_without_bound, kernel_of, unbounded_floor
from nantrace.diagnosis.further_sites import (
    combined_snippet,
    edits_of,
    locate_trip,
    next_edit,
)
from nantrace.errors import internal_error_text
from nantrace.replay.step import DeviceSnapshot, StateSnapshot, step_variables
from nantrace.report.records import Fix, Report

Batch = tuple[tuple, dict]

#: Wall-clock budget for verifying all fixes of one report.
VERIFY_BUDGET_S = 20.0
#: Fixes (in ranking order) that are verified; the others keep ``verified=None``.
MAX_FIXES = 3
#: The horizon: at least this many steps, and this many times the steps since the anchor.
MIN_HORIZON = 100
HORIZON_FACTOR = 3
#: Steps whose mean loss is compared with the healthy level at the end of the horizon.
TAIL = 10
#: A trip this many steps after the tripping batch (or earlier) is ``fails``, not ``postpones``.
FAIL_WINDOW = 2
#: Learning-rate candidates, as divisors of the current rate (largest rate first).
LR_DIVISORS = (3, 10, 30, 100, 1000)
#: Candidates when the current rate is not finite (there is no scale to divide).
LR_DEFAULTS = (1e-1, 1e-2, 1e-3, 1e-4)
#: Losses are read back from the probe's history every this many steps (and checked for a
#: runaway: ``RUNAWAY`` x the healthy level over the last ``TAIL`` steps stops the run).
READ_EVERY = 25
RUNAWAY = 100.0
#: Steps a run takes (past the fail window too) before its pace is trusted to stop a horizon
#: that cannot finish by the deadline: the first steps of a fresh trace run slower.
PACE_STEPS = 10
#: Before PACE_STEPS (and from EARLY_PACE_STEPS on, the first being the trace), a horizon is
#: stopped only if it could not finish even at EARLY_PACE_MARGIN times the fastest pace seen:
#: a 30 M-parameter step of 0.4 s then spends 3 steps, not 10, learning that 100 steps cannot
#: run in the budget (time to report 8.0 s, was 10.5, ``python -m bench.memory``), and a
#: warm-up slower than the pace to come does not cut a horizon that could finish (assumed: a
#: fresh trace's second and third steps are not twice as slow as its steady ones).
EARLY_PACE_STEPS = 3
EARLY_PACE_MARGIN = 2.0
#: The run-up to a trip starts at the first loss above this many times the lowest one before.
GROWTH = 4.0

#: A replay that trains over fewer distinct batches than this (and than its steps) says how
#: few: a fix that trains on one batch cycled has not seen the rest of the user's data.
HONEST_BATCHES = 4

#: Fixes whose effect shows over many steps: verified from the anchor snapshot.
DYNAMICS_FIXES = frozenset(
    {"lower_learning_rate", "clip_gradients", "rescale_input", "rescale_target"}
)
#: Fixes that leave the loss in the same units (their runs compare with the history's level).
_SAME_UNITS = frozenset(
    {"lower_learning_rate", "clip_gradients", "rescale_input", "clean_input", "add_epsilon"}
    | {"change_initializer", "use_from_logits", "clamp_argument", "divide_no_nan", "double_where"}
    | {"finite_mask_value"}
)


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
    #: the pre-trip history (``HistoryRecord``); read from ``watched.history`` when None.
    history: Any = None
    #: the Keras loss objects the step called with from_logits=False.
    losses: list[Any] = field(default_factory=list)


class Verification(tuple):
    """``(ranked, tried, notes)``, with ``confirmed`` (did the cause's own fix train?)."""

    confirmed: bool | None

    def __new__(
        cls, ranked: list[Fix], tried: list[Fix], notes: list[str], confirmed: bool | None
    ) -> Verification:
        self = super().__new__(cls, (ranked, tried, notes))
        self.confirmed = confirmed
        return self

    @property
    def ranked(self) -> list[Fix]:
        return self[0]

    @property
    def tried(self) -> list[Fix]:
        return self[1]

    @property
    def notes(self) -> list[str]:
        return self[2]


class _CannotSimulate(Exception):
    """A fix that cannot be replayed as its snippet says; ``snippet``: what to show instead
    (the snippet as built would not apply)."""

    def __init__(self, message: str, snippet: str | None = None) -> None:
        super().__init__(message)
        self.snippet = snippet


class _NothingToTrain(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# applying a fix
# ---------------------------------------------------------------------------------------------
@dataclass
class Attempt:
    """One way of applying a fix: settings to hold while it runs, and a batch transform.

    ``apply`` is entered after the start state was restored (kernels re-drawn there survive);
    ``transform`` returns None for a batch the fix empties (the user's filter drops it)."""

    label: str
    apply: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    transform: Callable[[Batch], Batch | None] = lambda batch: batch
    params: dict[str, Any] = field(default_factory=dict)
    retrace: bool = False  # the fix changes Python attributes read at trace time


@dataclass(frozen=True)
class Search:
    """What trying a fix's candidate values in turn found (trip and warning fixes alike).

    ``outcomes`` holds ``(attempt, result, verdict)`` per candidate run, ``candidates`` their
    rows for ``params["candidates"]``, ``failure`` why the search stopped short ("" if not)."""

    outcomes: list[tuple[Attempt, Any, str | None]]
    candidates: list[dict[str, Any]]
    failure: str

    @property
    def simulated(self) -> bool:
        return bool(self.outcomes) and not self.failure.startswith("not simulated")

    def final(self, furthest: Callable[[tuple[Attempt, Any, str | None]], Any]) -> tuple:
        """The outcome to report: the candidate that trains, else (when every candidate was
        judged) the one ``furthest`` ranks highest, else the last with verdict None."""
        attempt, result, verdict = self.outcomes[-1]
        if verdict == "trains":
            return attempt, result, verdict
        if self.failure:  # a candidate could not be judged in time: unchecked
            return attempt, result, None
        return max(self.outcomes, key=furthest)


def search_candidates(
    attempts: list[Attempt],
    try_one: Callable[[Attempt], tuple[Any, str | None, dict[str, Any], int]],
    deadline: float,
) -> Search:
    """Run each candidate value of a fix until one trains (the smallest change that works).

    ``try_one(attempt)`` returns ``(result, verdict, extra candidate fields, horizon)``; a
    ``_CannotSimulate`` or any error of the user's step ends the search as "not simulated", a
    verdict of None (the horizon did not finish in the budget) as unchecked."""
    outcomes: list[tuple[Attempt, Any, str | None]] = []
    candidates: list[dict[str, Any]] = []
    failure = ""
    for attempt in attempts:
        if time.perf_counter() > deadline:
            failure = "the time budget ran out before this fix's horizon"
            break
        try:
            result, verdict, extra, horizon = try_one(attempt)
        except _CannotSimulate as error:
            failure = f"not simulated: {error}"
            break
        except Exception as error:  # the step cannot run with this fix: say so
            text = str(error).splitlines()[0][:120] if str(error) else ""
            failure = f"not simulated: {type(error).__name__}: {text}"
            break
        outcomes.append((attempt, result, verdict))
        candidates.append({"value": attempt.label, "verdict": verdict, **extra})
        if verdict == "trains":
            break
        if verdict is None:
            failure = f"the horizon of {horizon} steps did not complete within the budget"
            break
    return Search(outcomes, candidates, failure)


def _internal_error(error: Exception) -> str:
    """A fix's "not simulated" reason for an internal error (``NANTRACE_DEBUG=1`` re-raises)."""
    if os.environ.get("NANTRACE_DEBUG"):
        raise error
    return f"not simulated: nantrace internal error ({internal_error_text(error, 120)})"


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


def _current_learning_rate(optimizer: Any) -> float:
    return float(np.asarray(_inner_optimizer(optimizer).learning_rate))


@contextlib.contextmanager
def _learning_rate(optimizer: Any, value: float) -> Iterator[None]:
    """``optimizer.learning_rate = value`` as the snippet says (raises where it would raise
    for the user: a LearningRateSchedule is not settable)."""
    optimizer = _inner_optimizer(optimizer)
    old = _current_learning_rate(optimizer)
    optimizer.learning_rate = value
    try:
        yield
    finally:
        optimizer.learning_rate = old


_PATH = re.compile(r"^([A-Za-z_]\w*)((?:\[(?:'[^']*'|\"[^\"]*\"|-?\d+)\])*)$")
_KEY = re.compile(r"\[('[^']*'|\"[^\"]*\"|-?\d+)\]")


def _parse_path(path: str) -> tuple[str, list[str | int]]:
    match = _PATH.match(path.strip())
    if match is None:
        raise _CannotSimulate(f"cannot read the tensor path {path!r}")
    keys: list[str | int] = [
        key[1:-1] if key[0] in "'\"" else int(key) for key in _KEY.findall(match.group(2))
    ]
    return match.group(1), keys


def _replace_in(container: Any, keys: list[str | int], fn: Callable[[Any], Any]) -> Any:
    if not keys:
        return fn(container)
    key, rest = keys[0], keys[1:]
    if isinstance(container, dict):
        if key not in container:
            raise _CannotSimulate(f"no key {key!r} in the batch")
        out = dict(container)
        out[key] = _replace_in(container[key], rest, fn)
        return type(container)(out) if type(container) is not dict else out
    if isinstance(container, (list, tuple)) and isinstance(key, int):
        items = list(container)
        items[key] = _replace_in(items[key], rest, fn)
        return type(container)(items) if isinstance(container, list) else tuple(items)
    raise _CannotSimulate(f"cannot index the batch with {key!r}")


def _map_named(watched: Any, batch: Batch, path: str, fn: Callable[[Any], Any]) -> Batch:
    """The batch with ``fn`` applied to the tensor at ``path`` (``x``, ``x['income']``,
    ``args[2]``: names as the step's signature gives them)."""
    args, kwargs = batch
    base, keys = _parse_path(path)
    if base == "args" and keys and isinstance(keys[0], int):
        position, keys = keys[0], keys[1:]
    else:
        names = watched.argument_names(args, kwargs)
        if base in names:
            position = names.index(base)
        elif base in kwargs:
            new_kwargs = dict(kwargs)
            new_kwargs[base] = _replace_in(kwargs[base], keys, fn)
            return args, new_kwargs
        else:
            raise _CannotSimulate(f"the step has no argument {base!r}")
    if not -len(args) <= position < len(args):
        raise _CannotSimulate(f"the step has no argument {path!r}")
    items = list(args)
    items[position] = _replace_in(items[position], keys, fn)
    return tuple(items), kwargs


def _float_array(value: Any) -> np.ndarray | None:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    try:
        if not tf.as_dtype(dtype).is_floating:
            return None
    except TypeError:
        return None
    return np.asarray(value)


def _as_tensor_like(original: Any, array: np.ndarray) -> tf.Tensor:
    return tf.constant(array, dtype=tf.as_dtype(original.dtype))


def _named_array(watched: Any, batch: Batch, path: str, floating: bool = True) -> np.ndarray:
    found: list[np.ndarray] = []

    def grab(value: Any) -> Any:
        array = _float_array(value) if floating else np.asarray(value)
        if array is None:
            raise _CannotSimulate(f"{path} is not a floating-point tensor")
        found.append(array)
        return value

    _map_named(watched, batch, path, grab)
    return found[0]


def _drop_rows(batch: Batch, bad: np.ndarray) -> Batch | None:
    """Every tensor of the batch whose leading dimension is the batch's, without ``bad`` rows
    (exactly what a ``dataset.filter`` on the named tensor leaves)."""
    size = bad.shape[0]
    keep = np.nonzero(~bad)[0].astype(np.int64)
    if keep.size == 0:
        return None

    def convert(value: Any) -> Any:
        shape = getattr(value, "shape", None)
        if shape is None or len(shape) == 0 or shape[0] != size:
            return value
        return tf.gather(value, keep)

    args, kwargs = batch
    return tf.nest.map_structure(convert, args), tf.nest.map_structure(convert, kwargs)


def _clean_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    if fix.params.get("mode") == "state":
        raise _CannotSimulate(
            "the values were set into the variable before training, from an array the report "
            "does not hold; apply it by hand"
        )
    if fix.params.get("mode") == "decode":
        raise _CannotSimulate(
            "decoding needs the file's bytes, which the report does not have (the batch holds "
            "them already decoded as float32); apply it by hand"
        )
    if fix.params.get("mode") == "adapt":
        raise _CannotSimulate(
            "re-adapting the layer needs the data it was adapted on, which the report does "
            "not have; apply it by hand"
        )
    path = fix.params.get("tensor")
    if not path:
        raise _CannotSimulate("the fix names no tensor")
    mode = fix.params.get("mode", "drop_rows")
    watched = ctx.watched
    paths = list(fix.params.get("tensors") or [path])  # every tensor the snippet cleans
    if mode == "impute":
        value = float(fix.params.get("value", 0.0))
        return [
            Attempt(
                f"NaN/Inf of {' and '.join(paths)} replaced by {value:g}",
                transform=_in_turn(
                    [
                        _replacing(watched, p, lambda a: np.where(np.isfinite(a), a, value))
                        for p in paths
                    ]
                ),
            )
        ]
    if mode == "missing_code":
        code, fill = float(fix.params["code"]), float(fix.params.get("value", 0.0))
        return [
            Attempt(
                f"{code:g} in {path} replaced by {fill:g}",
                transform=_replacing(watched, path, lambda a: np.where(a == code, fill, a)),
            )
        ]
    if mode == "drop_code":
        dropped = float(fix.params["code"])
        return [
            Attempt(
                f"rows whose {path} is {dropped:g} dropped",
                transform=_dropping(watched, path, lambda rows: (rows == dropped).any(axis=1)),
            )
        ]
    if mode == "drop_padding":
        padding = float(fix.params.get("value", 0.0))
        return [
            Attempt(
                f"samples whose {path} is all padding dropped",
                transform=_dropping(
                    watched,
                    path,
                    lambda rows: (rows == padding).all(axis=1),
                    floating=False,
                    needs_steps=True,
                ),
            )
        ]
    if mode == "clip_negative":
        return [
            Attempt(
                f"{path} = max({path}, 0)",
                transform=_replacing(watched, path, lambda a: np.maximum(a, 0.0)),
            )
        ]
    if mode != "drop_rows":
        raise _CannotSimulate(f"clean_input mode {mode!r} is not simulated")
    return [
        Attempt(
            f"rows whose {' or '.join(paths)} holds NaN/Inf dropped",
            transform=_in_turn(
                [_dropping(watched, p, lambda rows: ~np.isfinite(rows).all(axis=1)) for p in paths]
            ),
        )
    ]


def _in_turn(transforms: list[Callable[[Batch], Batch | None]]) -> Callable[[Batch], Batch | None]:
    """The batch transforms applied one after the other (rows dropped for one tensor are gone
    from the next); None as soon as one empties the batch."""

    def apply(batch: Batch) -> Batch | None:
        for transform in transforms:
            if batch is None:
                return None
            batch = transform(batch)
        return batch

    return apply


def _replacing(
    watched: Any, path: str, replace: Callable[[np.ndarray], np.ndarray]
) -> Callable[[Batch], Batch]:
    """A batch transform that replaces the values of the floating-point tensor at ``path``
    by ``replace(values)`` (same dtype)."""

    def mapped(array_like: Any) -> Any:
        array = _float_array(array_like)
        if array is None:
            raise _CannotSimulate(f"{path} is not a floating-point tensor")
        return _as_tensor_like(array_like, replace(array).astype(array.dtype))

    return lambda batch: _map_named(watched, batch, path, mapped)


def _dropping(
    watched: Any,
    path: str,
    bad_rows: Callable[[np.ndarray], np.ndarray],
    *,
    floating: bool = True,
    needs_steps: bool = False,
) -> Callable[[Batch], Batch | None]:
    """A batch transform that drops the samples whose row of the tensor at ``path`` (flattened
    to ``[rows, -1]``) ``bad_rows`` flags; a scalar tensor is one row, and a batch with
    nothing left is None (skipped). ``needs_steps``: the tensor must have a step axis."""

    def drop(batch: Batch) -> Batch | None:
        array = _named_array(watched, batch, path, floating=floating)
        if needs_steps and array.ndim < 2:
            raise _CannotSimulate(f"{path} has no steps to be padding")
        if array.ndim == 0:
            return None if bad_rows(array.reshape(1, 1))[0] else batch
        bad = bad_rows(array.reshape(array.shape[0], -1))
        return _drop_rows(batch, bad) if bad.any() else batch

    return drop


def _layer_attribute_attempt(ctx: VerifyContext, path: str, label: str, **values: Any) -> Attempt:
    """The layer at ``path`` with ``values`` set as its attributes (what its constructor
    arguments set), the step re-traced: the layer reads them when called."""
    layer = ctx.layers.get(path)
    if layer is None or not all(hasattr(layer, name) for name in values):
        raise _CannotSimulate(f"the layer {path} with {', '.join(values)} was not found")
    return Attempt(label, apply=lambda: _attributes(layer, **values), retrace=True)


def _readapt_attempt(fix: Fix, ctx: VerifyContext) -> Attempt:
    """The Normalization layer adapted on the named tensor of every batch the guard kept (the
    training data nantrace holds), the step re-traced; its own state restored after."""
    from nantrace.compat.tf import has_given_statistics, readapted, restated

    path, tensor = str(fix.params.get("layer")), fix.params.get("tensor")
    layer = ctx.layers.get(path)
    if layer is None or not tensor:
        raise _CannotSimulate(f"the Normalization layer {path} was not found")
    kept = {id(batch[0]): batch for batch in [*ctx.since_anchor, *ctx.recent, ctx.batch]}
    arrays = [_named_array(ctx.watched, batch, str(tensor)) for batch in kept.values()]
    data = np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays], axis=0)
    given = has_given_statistics(layer)  # mean= / variance= constants: no adapt()
    return Attempt(
        f"{path} {'given the mean and variance of' if given else 'adapted on'} "
        f"{data.shape[0]} rows of {tensor} (every batch kept)",
        apply=lambda: restated(layer, data) if given else readapted(layer, data),
        params={"rows_adapted": int(data.shape[0])},
        retrace=True,
    )


def _rescale_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    if fix.params.get("mode") == "normalization_readapted":
        return [_readapt_attempt(fix, ctx)]
    if fix.params.get("mode") == "rescaling_layer":
        path, scale = str(fix.params.get("layer")), float(fix.params.get("scale") or 1.0)
        return [_layer_attribute_attempt(ctx, path, f"{path} with scale={scale:.4g}", scale=scale)]
    if fix.params.get("mode") == "normalization_not_inverted":
        path = str(fix.params.get("layer"))
        return [
            _layer_attribute_attempt(ctx, path, f"{path} built without invert=True", invert=False)
        ]
    raw = fix.params.get("scale")
    scale = np.asarray(raw if raw is not None else np.nan, dtype=np.float64)  # or per column
    if not np.all(np.isfinite(scale)) or not np.all(scale != 0):
        raise _CannotSimulate("the fix gives no finite scale")
    path = fix.params.get("tensor")
    if not path:  # the snippet names x (or y): the step's first (second) argument
        args, kwargs = ctx.batch
        names = ctx.watched.argument_names(args, kwargs)
        position = 1 if fix.id == "rescale_target" else 0
        if position >= len(names):
            raise _CannotSimulate("the step has no such argument")
        path = names[position]

    shift = float(fix.params.get("shift") or 0.0)  # labels mapped onto [0, 1]: (y - low) * s

    def multiply(value: Any) -> Any:
        array = _float_array(value)
        if array is None:
            raise _CannotSimulate(f"{path} is not a floating-point tensor")
        return _as_tensor_like(value, ((array - shift) * scale).astype(array.dtype))

    watched = ctx.watched
    shifted = f"({path} - {shift:g})" if shift else path
    label = f"{path} = {shifted} * {_scale_text(scale)}"
    transform = lambda batch: _map_named(watched, batch, path, multiply)  # noqa: E731
    edit = CallSiteEdit.from_params(fix.params)
    if edit is not None:  # labels mapped and the loss's log guarded: both, as the snippet shows
        return [
            dataclasses.replace(
                attempt,
                label=f"{label} and {attempt.label}",
                transform=transform,
                params={**attempt.params, "tensor": path},
            )
            for attempt in (_edits_attempt([c]) for c in search_space(edit, _edit_dtype(fix, ctx)))
        ]
    return [Attempt(label, transform=transform, params={"tensor": path})]


def _scale_text(scale: np.ndarray) -> str:
    if scale.ndim == 0:
        return f"{float(scale):.3g}"
    return "[" + ", ".join(f"{float(s):.3g}" for s in scale) + "]"


def _lr_attempts(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    optimizer = ctx.optimizer
    if optimizer is None:
        raise _CannotSimulate("no Keras optimizer was seen in the step")
    inner = _inner_optimizer(optimizer)
    from nantrace.compat.tf import (
        decaying_schedule,
        learning_rate_schedule,
        scaled_schedule,
        schedule_in_place,
    )

    schedule = learning_rate_schedule(inner)
    decaying = decaying_schedule(schedule) if schedule is not None else None
    if decaying is not None:  # a schedule that grows: made to decay, its rates kept
        rebuilt, line, config, change = decaying
        try:  # the rate it gives at the tripping step, where the growing one gave `current`
            at_trip = float(f"{float(rebuilt(int(np.asarray(inner.iterations)))):.3g}")
        except (TypeError, ValueError, AttributeError):
            at_trip = None
        return [
            Attempt(
                f"the schedule made to decay ({change})",
                apply=lambda: schedule_in_place(inner, rebuilt),
                params={
                    "suggested": at_trip,
                    "schedule": type(schedule).__name__,
                    "schedule_config": config,
                    "schedule_change": change,
                    "schedule_line": line,
                },
                retrace=True,
            )
        ]
    if schedule is not None:  # the same schedule, every rate in it divided
        attempts = []
        for divisor in LR_DIVISORS:
            scaled = scaled_schedule(schedule, 1.0 / divisor)
            if scaled is None:
                raise _CannotSimulate(
                    f"the learning rate is a {type(schedule).__name__} whose config names no "
                    "rate to lower: `optimizer.learning_rate = X` does not apply; change the "
                    "schedule"
                )
            rebuilt, line, config = scaled
            attempts.append(
                Attempt(
                    f"the schedule's rates / {divisor:g}",
                    apply=lambda rebuilt=rebuilt: schedule_in_place(inner, rebuilt),
                    params={
                        "suggested": _scaled_current(fix, divisor),
                        "schedule": type(schedule).__name__,
                        "schedule_config": config,
                        "schedule_divisor": divisor,
                        "schedule_line": line,
                    },
                    retrace=True,
                )
            )
        return attempts
    _refuse_a_rate_set_between_steps(fix, ctx, inner)
    current = fix.params.get("current")
    try:
        current = float(current) if current is not None else _current_learning_rate(optimizer)
    except (TypeError, ValueError):
        current = float("nan")
    if math.isfinite(current) and current > 0:
        candidates = [float(f"{current / d:.3g}") for d in LR_DIVISORS]
    else:
        candidates = list(LR_DEFAULTS)

    def attempt(value: float) -> Attempt:
        return Attempt(
            f"learning_rate={value:.3g}",
            apply=lambda: _learning_rate(optimizer, value),
            params={"suggested": value},
        )

    return [attempt(value) for value in candidates]


def _refuse_a_rate_set_between_steps(fix: Fix, ctx: VerifyContext, optimizer: Any) -> None:
    """A learning rate that changed between steps is set by code outside the step (a Keras
    ``LearningRateScheduler`` or ``ReduceLROnPlateau``, the user's loop): the snippet's
    ``optimizer.learning_rate = X`` would be overwritten at its next write, so assigning X
    and replaying would check a run the user cannot get by typing it. Not simulated; the
    snippet says to lower the rate where it is set."""
    from nantrace.compat.tf import learning_rate_variable

    variable = learning_rate_variable(optimizer)
    writes = getattr(ctx.watched, "writes_between", {})
    seen = writes.get(id(variable)) if variable is not None else None
    if seen is None:
        return
    suggested = fix.params.get("suggested")
    at_most = f"{float(suggested):.3g}" if suggested is not None else "a tenth of it"
    moved = ""
    if np.size(seen.first) == 1 and np.size(seen.last) == 1:
        moved = (
            f", from {float(np.ravel(seen.first)[0]):.3g} to {float(np.ravel(seen.last)[0]):.3g}"
        )
    raise _CannotSimulate(
        f"the learning rate was set between steps {seen.count} time(s) in this run{moved} (a "
        "callback such as LearningRateScheduler, or the training loop): "
        "`optimizer.learning_rate = X` would be overwritten at its next write; lower the rate "
        "where it is set",
        snippet=f"# where the learning rate is set between steps (a LearningRateScheduler or "
        f"similar callback, the training loop): keep it at most {at_most} from this step on",
    )


def _scaled_current(fix: Fix, divisor: float) -> float | None:
    """The schedule's rate at the trip divided as the schedule's rates are (for the report)."""
    try:
        return float(f"{float(fix.params['current']) / divisor:.3g}")
    except (KeyError, TypeError, ValueError):
        return None


def _clip_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    if ctx.optimizer is None:
        raise _CannotSimulate("no Keras optimizer was seen in the step")
    try:
        norm = float(fix.params["clipnorm"])
    except (KeyError, TypeError, ValueError) as error:
        raise _CannotSimulate("the fix gives no clip norm") from error
    optimizer = _inner_optimizer(ctx.optimizer)
    return [
        Attempt(
            f"global_clipnorm={norm:.3g}",
            apply=lambda: _attributes(
                optimizer, global_clipnorm=norm, clipnorm=None, clipvalue=None
            ),
            retrace=True,
        )
    ]


def _initializer_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    import keras

    name = fix.params.get("suggested", "glorot_uniform")
    try:
        if fix.params.get("constant") is None:
            keras.initializers.get(name)
    except (ValueError, TypeError, KeyError) as error:
        raise _CannotSimulate(f"unknown initializer {name!r}") from error
    if fix.params.get("variable"):  # one weight, not a layer's kernel: add_weight(initializer=)
        variable = _weight_named(ctx, str(fix.params["variable"]))
        constant = fix.params.get("constant")

        @contextlib.contextmanager
        def refill() -> Iterator[None]:
            initializer = (
                keras.initializers.Constant(float(constant))
                if constant is not None
                else keras.initializers.get(name)
            )
            variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))
            yield

        what = f"constant {constant}" if constant is not None else name
        return [Attempt(f"{fix.params['variable']} initialized with {what}", apply=refill)]
    paths = list(fix.params.get("layers") or [fix.params.get("layer")])
    kernels = []
    for path in paths:
        layer = ctx.layers.get(path) if path else None
        kernel = kernel_of(layer) if layer is not None else None
        if kernel is None:
            raise _CannotSimulate(f"layer {path} not found")
        kernels.append(kernel)

    @contextlib.contextmanager
    def redraw() -> Iterator[None]:
        initializer = keras.initializers.get(name)
        for kernel in kernels:  # the start state was restored just before: draw afresh
            kernel.assign(initializer(tuple(kernel.shape), dtype=kernel.dtype))
        yield

    return [Attempt(f"{len(kernels)} kernel(s) re-drawn with {name}", apply=redraw)]


def _weight_named(ctx: VerifyContext, name: str) -> Any:
    """The layer weight whose path (or name) is ``name``, ``:0`` suffix ignored."""
    wanted = name.split(":")[0]
    for layer in ctx.layers.values():
        for weight in getattr(layer, "weights", []):
            if str(getattr(weight, "path", weight.name)).split(":")[0] == wanted:
                return weight
    raise _CannotSimulate(f"weight {name} not found")


def _epsilon_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    epsilon = float(fix.params.get("epsilon", 1e-7))
    target = fix.params.get("target")
    if target == "layer.epsilon":
        path = str(fix.params.get("layer"))
        return [_layer_attribute_attempt(ctx, path, f"{path} epsilon={epsilon:g}", epsilon=epsilon)]
    if target and target.startswith("optimizer."):
        return [_optimizer_setting_attempt(target.removeprefix("optimizer."), epsilon, ctx)]
    return _edit_attempts(fix, ctx)


def _optimizer_setting_attempt(setting: str, value: float, ctx: VerifyContext) -> Attempt:
    """``Optimizer(..., <setting>=value)``: the attribute set for the replay. The accumulators'
    initial value only matters when they are built, so it is simulated from the pre-training
    state only (the accumulators filled with it, as a fresh optimizer fills them)."""
    if ctx.optimizer is None:
        raise _CannotSimulate("no Keras optimizer was seen in the step")
    optimizer = _inner_optimizer(ctx.optimizer)
    if not hasattr(optimizer, setting):
        raise _CannotSimulate(f"{type(optimizer).__name__} has no {setting}")
    if setting != "initial_accumulator_value":
        return Attempt(
            f"optimizer {setting}={value:g}",
            apply=lambda: _attributes(optimizer, **{setting: value}),
            retrace=True,
        )
    slots = accumulator_slots(optimizer)
    if not slots:
        raise _CannotSimulate(f"{type(optimizer).__name__}'s accumulators not found")

    @contextlib.contextmanager
    def refill() -> Iterator[None]:
        if int(np.asarray(optimizer.iterations)) != 0:
            raise _CannotSimulate(
                f"{setting} only fills the accumulators when the optimizer is built: the replay "
                "starts after the first step, so only a run from the start shows the change"
            )
        for slot in slots:  # the start state was restored just before: fill afresh
            slot.assign(tf.fill(tf.shape(slot), tf.cast(value, slot.dtype)))
        with _attributes(optimizer, **{setting: value}):
            yield

    return Attempt(f"optimizer {setting}={value:g}", apply=refill, retrace=True)


def _float32_layer_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """``dtype="float32"`` on that layer: its dtype policy is float32 while the step is
    re-traced (its variables are float32 under mixed precision already)."""
    path = fix.params.get("layer")
    layer = ctx.layers.get(path) if path else None
    if layer is None or not hasattr(layer, "dtype_policy"):
        raise _CannotSimulate(f"layer {path} not found")
    if getattr(layer, "compute_dtype", None) == "float32":
        raise _CannotSimulate(f"{path} already computes in float32")
    attempts = [
        Attempt(f'{path} dtype="float32"', apply=lambda: _float32_policy(layer), retrace=True)
    ]
    # the same computation repeated (a hand-written activation after every block) overflows
    # in each instance: when one alone is not enough, every layer of its class in float32
    kind = type(layer)
    same = {
        name: other
        for name, other in ctx.layers.items()
        if type(other) is kind and getattr(other, "compute_dtype", None) != "float32"
    }
    if len(same) > 1:

        @contextlib.contextmanager
        def every() -> Iterator[None]:
            with contextlib.ExitStack() as stack:
                for other in same.values():
                    stack.enter_context(_float32_policy(other))
                yield

        attempts.append(
            Attempt(
                f'every {kind.__name__} ({len(same)}) dtype="float32"',
                apply=every,
                params={"layers": list(same), "layer_class": kind.__name__},
                retrace=True,
            )
        )
    return attempts


@contextlib.contextmanager
def _float32_policy(layer: Any) -> Iterator[None]:
    """The layer as ``dtype="float32"`` at its construction makes it: the policy set, and what
    ``adapt()`` left it (a Normalization's mean and variance) re-derived in float32 -- and in
    the original compute dtype again afterwards."""
    try:
        with _attributes(layer, dtype_policy="float32"):
            rederive_adapted_state(layer)
            yield
    finally:
        rederive_adapted_state(layer)


def _positive_output_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """``activation="softplus"`` (or the fix's ``activation``: a head's sigmoid) on the output
    layer while the step is re-traced (a Keras layer reads ``self.activation`` when it is
    called)."""
    import keras

    path = fix.params.get("layer")
    layer = ctx.layers.get(path) if path else None
    if layer is None or not hasattr(layer, "activation"):
        raise _CannotSimulate(f"layer {path} not found, or it has no activation")
    name = str(fix.params.get("activation") or "softplus")
    return [
        Attempt(
            f'{path} activation="{name}"',
            apply=lambda: _attributes(layer, activation=keras.activations.get(name)),
            retrace=True,
        )
    ]


def _unit_norm_attempt(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """A ``keras.layers.UnitNormalization()`` after each compared layer: their outputs
    normalized the same way while the step is re-traced."""
    if fix.params.get("mode") != "unit_norm":
        raise _CannotSimulate("a normalization layer is a change to the model's code")
    from nantrace.compat.tf import outputs_unit_normalized

    paths = list(fix.params.get("after") or [])
    layers = [ctx.layers.get(path) for path in paths]
    if not layers or any(layer is None or not hasattr(layer, "activation") for layer in layers):
        raise _CannotSimulate(f"the layers {paths} were not found, or one has no activation")
    return [
        Attempt(
            f"UnitNormalization after {' and '.join(paths)}",
            apply=lambda: outputs_unit_normalized(layers),
            retrace=True,
        )
    ]


def _edit_attempts(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """An edit at the user's call site (``nantrace.diagnosis.call_site``), simulated by
    re-tracing the step with that call rewritten; epsilons and clamps are searched (smallest /
    loosest first)."""
    edit = CallSiteEdit.from_params(fix.params)
    if edit is None:
        if fix.params.get("where"):
            raise _CannotSimulate(
                f"this code change is not simulated on a {fix.params.get('op_type')} op"
            )
        raise _CannotSimulate("a code change with no user line to simulate it at")
    where = f"{edit.file.rsplit('/', 1)[-1]}:{edit.line}"
    if edit.rewrite_statement() is None:
        # "verified" means: type the snippet and training goes on. An edit that cannot be shown
        # as the user's own line (the argument is not visible there) is not simulated.
        raise _CannotSimulate(
            f"the edit cannot be shown as your own line at {where}; apply it by hand: "
            f"{edit.generic_snippet()}"
        )

    return [_edits_attempt([c]) for c in search_space(edit, _edit_dtype(fix, ctx))]


def _loss_from_logits_attempts(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """``keras.losses.<Loss>(..., from_logits=True)``: the step re-traced with the user's loss
    object of that class told it gets logits (Keras passes ``from_logits`` to the loss function
    from the object's ``_fn_kwargs``, which the constructor fills)."""
    name = fix.params.get("loss")
    losses = [loss for loss in ctx.losses if type(loss).__name__ == name]
    if not losses or not all(isinstance(getattr(o, "_fn_kwargs", None), dict) for o in losses):
        raise _CannotSimulate(f"the {name} object of the step was not found")

    @contextlib.contextmanager
    def from_logits() -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for loss in losses:
                kwargs = {**loss._fn_kwargs, "from_logits": True}
                stack.enter_context(_attributes(loss, from_logits=True, _fn_kwargs=kwargs))
            yield

    return [Attempt(f"{name}(..., from_logits=True)", apply=from_logits, retrace=True)]


def _edit_dtype(fix: Fix, ctx: VerifyContext) -> str | None:
    dtypes = [h.dtype for h in ctx.report.origin.inputs if h.dtype]
    return fix.params.get("dtype") or (dtypes[0] if dtypes else None)


def _edits_attempt(edits: list[CallSiteEdit]) -> Attempt:
    """The step re-traced with every edit of ``edits`` made (the first is the fix's own; the
    others, in ``params["also"]``, are further sites, see ``further_sites``)."""
    first = edits[0]
    values = (("value", first.value), ("low", first.low))
    params: dict[str, Any] = {k: v for k, v in values if v is not None}
    if len(edits) > 1:
        params["also"] = [edit.to_params() for edit in edits[1:]]
    label = " and ".join(
        f"{e.generic_snippet().split('  #')[0]} at {os.path.basename(e.file)}:{e.line}"
        for e in edits
    )
    return Attempt(label, apply=lambda: _simulated(edits, params), params=params, retrace=True)


@contextlib.contextmanager
def _simulated(edits: list[CallSiteEdit], params: dict[str, Any]) -> Iterator[None]:
    """The step re-traced with the edits; a run whose trace never reached a call site is not
    a simulation of the edit, so it is refused (not judged)."""
    with simulating_each(edits) as traces:
        yield
    for edit, trace in zip(edits, traces, strict=True):
        if not trace.rewritten:
            declined = (
                f" ({trace.declined} there could not take the edit)" if trace.declined else ""
            )
            raise _CannotSimulate(
                f"no {edit.op_type} op was built directly at {edit.where} when the step was "
                f"traced{declined}"
            )
    params["rewritten_ops"] = traces[0].ops_per_trace
    params["call_sites"] = sorted(set().union(*(trace.sites for trace in traces)))


def _clamp_attempts(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """A clamp at the op's call (an edit of that line), or on a batch tensor (``mode:
    clip_batch``): every batch from the tripping one on is clamped, as the snippet does before
    the step."""
    if fix.params.get("mode") != "clip_batch":
        return _edit_attempts(fix, ctx)
    path = fix.params.get("tensor")
    if not path:
        raise _CannotSimulate("the fix names no tensor")
    low, high = fix.params.get("min"), fix.params.get("max")
    return [
        Attempt(
            f"{path} clamped into [{low}, {high}]",
            transform=_replacing(ctx.watched, path, lambda a: np.clip(a, low, high)),
        )
    ]


_ATTEMPTS: dict[str, Callable[[Fix, VerifyContext], list[Attempt]]] = {
    "lower_learning_rate": _lr_attempts,
    "clip_gradients": _clip_attempt,
    "clean_input": _clean_attempt,
    "rescale_input": _rescale_attempt,
    "rescale_target": _rescale_attempt,
    "change_initializer": _initializer_attempt,
    "add_epsilon": _epsilon_attempt,
    "float32_layer": _float32_layer_attempt,
    "positive_output": _positive_output_attempt,
    "use_from_logits": lambda fix, ctx: (
        _loss_from_logits_attempts(fix, ctx)
        if fix.params.get("mode") == "loss_from_logits"
        else _positive_output_attempt(fix, ctx)
        if fix.params.get("mode") in ("sigmoid_output", "softmax_output")
        else _edit_attempts(fix, ctx)
    ),
    "clamp_argument": _clamp_attempts,
    "add_normalization": _unit_norm_attempt,
    "divide_no_nan": _edit_attempts,
    "double_where": _edit_attempts,
    "finite_mask_value": _edit_attempts,
}


# ---------------------------------------------------------------------------------------------
# running and judging
# ---------------------------------------------------------------------------------------------
@dataclass
class Run:
    """What one attempt did: the losses of the steps that ran, and how it ended."""

    losses: list[float]
    start_step: int
    trip_index: int  # index of the tripping batch in the run
    horizon: int
    tripped_at: int | None = None  # run index of the step that tripped
    complete: bool = True
    skipped: int = 0  # batches the fix emptied
    nothing: str = ""  # set when the fix leaves no row to train on
    cut: str = ""  # why the horizon was stopped before the deadline (it could not finish)

    @property
    def steps(self) -> int:
        return len(self.losses) + (self.tripped_at is not None)


@dataclass
class Judgement:
    verdict: str | None
    at: int | None = None  # run index where it tripped or diverged
    diverged: bool = False
    level: float | None = None
    #: finite, but the loss never changed: the fix stopped the learning, not the NaN's cause
    frozen: bool = False


#: a run at least this long whose losses all agree to this relative tolerance, away from 0,
#: learned nothing: the weights no longer move the loss (an epsilon that swamps an underflowed
#: product, a clamp that cut every gradient). A loss frozen at ~0 is a batch already fit (the
#: horizon may repeat the one batch seen before the trip, whose error is then exactly 0).
FROZEN_STEPS = 20
FROZEN_RTOL = 1e-6
FROZEN_FLOOR = 1e-3


def healthy_level(history: Any) -> float | None:
    """The loss before growth began: the median of the first half of the pre-trip losses that
    came before the run-up (the first step above ``GROWTH`` x the lowest loss before it)."""
    if history is None or len(history) < 2:
        return None
    return healthy_of(history.loss[:-1])  # the last row is the trip


def healthy_of(values: Any) -> float | None:
    """The healthy level of one history series (loss, a gradient or weight norm): the median
    of the first half of its finite values before the run-up (see :func:`healthy_level`)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    lowest = np.minimum.accumulate(values)
    grown = np.nonzero(values[1:] > GROWTH * lowest[:-1])[0]
    before = values[: int(grown[0]) + 1] if grown.size else values
    return float(np.median(before[: max(1, (before.size + 1) // 2)]))


def judge(
    losses: list[float],
    tripped_at: int | None,
    trip_index: int,
    healthy: float | None,
    complete: bool = True,
) -> Judgement:
    """The verdict of one run (see the module docstring)."""
    if tripped_at is not None:
        verdict = "fails" if tripped_at <= trip_index + FAIL_WINDOW else "postpones"
        return Judgement(verdict, at=tripped_at)
    if not losses:
        return Judgement(None)
    values = np.asarray(losses, dtype=np.float64)
    largest = float(np.max(np.abs(values)))
    if (
        values.size >= FROZEN_STEPS
        and largest > FROZEN_FLOOR
        and np.ptp(values) <= FROZEN_RTOL * largest
    ):
        return Judgement("fails", at=0, frozen=True)
    # the run's own start: a spike in its first steps must not raise the bar it is held to
    # (a fix whose loss ends 9x above the untrained model's first loss has not trained)
    start = min(float(values[0]), float(np.median(values[:3])))
    base = healthy if healthy is not None else start
    # twice the healthy level, as a distance: a negative loss (-SI-SDR, a density's NLL) has
    # left it above 0, not at the first small rise
    level = max(base + abs(base), start)
    tail = float(np.mean(values[-TAIL:]))
    before = values[-2 * TAIL : -TAIL]
    growing = (
        before.size > 0
        and float(np.mean(before)) > 0
        and tail > 4.0 * float(np.mean(before)) + 1e-12
        and tail > 0.25 * level
    )
    fell = fell_without_bound(values, base)
    if fell is not None:  # finite, but the objective runs away below 0: not stopped
        verdict = "fails" if values.size <= trip_index + FAIL_WINDOW else "postpones"
        below = np.nonzero(values < unbounded_floor(base))[0]
        return Judgement(verdict, at=int(below[0]), diverged=True, level=level)
    floor = -RUNAWAY * max(abs(base), 1.0)
    if tail < floor:  # far below the healthy level, however it got there (an anchor taken
        # mid-divergence starts the run there): not back at that level
        verdict = "fails" if values.size <= trip_index + FAIL_WINDOW else "postpones"
        below = np.nonzero(values < floor)[0]
        return Judgement(verdict, at=int(below[0]), diverged=True, level=level)
    if tail <= level and not growing:
        return Judgement("trains" if complete else None, level=level)
    if not complete and tail <= RUNAWAY * level:
        return Judgement(None, level=level)
    # where it left the healthy level for good (5-step moving average)
    smooth = np.convolve(values, np.ones(5) / 5, mode="valid") if values.size >= 5 else values
    above = smooth > level
    at = int(values.size - 1)
    if above.any():
        below = np.nonzero(~above)[0]
        at = int(below[-1] + 1) if below.size else 0
        at = min(at + (values.size - smooth.size), values.size - 1)
    # finite past the tripping batch: the trip was postponed, even if the loss left its level
    verdict = "fails" if values.size <= trip_index + FAIL_WINDOW else "postpones"
    return Judgement(verdict, at=at, diverged=True, level=level)


class StepRunner(Protocol):
    """What verification needs from the watched step, so the diagnosis does not import the
    guard that calls it: a fresh guarded copy of the step to re-run (``fresh_runner``), that
    copy's guarded call returning ``(outputs, tripped)``, and its history buffers."""

    history: Any

    def fresh_runner(self) -> StepRunner: ...

    def run_checked(self, *args: Any, **kwargs: Any) -> tuple[Any, bool]: ...


def _probe(ctx: VerifyContext) -> StepRunner:
    return ctx.watched.fresh_runner()


def _sequence(ctx: VerifyContext, from_anchor: bool, horizon: int) -> tuple[list[Batch], int]:
    """The batches of one run and the index of the tripping batch among them."""
    prefix = list(ctx.since_anchor) if from_anchor else []
    seen = {id(batch[0]) for batch in prefix}
    older = [batch for batch in ctx.recent if id(batch[0]) not in seen]
    pool = older + prefix + [ctx.batch] if from_anchor else list(ctx.recent) + [ctx.batch]
    sequence = prefix + [ctx.batch]
    i = 0
    while len(sequence) < horizon:
        sequence.append(pool[i % len(pool)])
        i += 1
    return sequence, len(prefix)


def _run(
    ctx: VerifyContext,
    probe: Any,
    attempt: Attempt,
    sequence: list[Batch],
    trip_index: int,
    start_step: int,
    healthy: float | None,
    deadline: float,
) -> Run:

    run = Run([], start_step, trip_index, len(sequence))
    transformed: list[Batch] = []
    for index, batch in enumerate(sequence):
        new = attempt.transform(batch)
        if new is None:  # a filtered dataset has no empty batch: the user's run skips it
            run.skipped += 1
            if index < trip_index:
                run.trip_index -= 1
            continue
        transformed.append(new)
    if not transformed:
        raise _NothingToTrain("the fix leaves no row to train on")
    run.horizon = len(transformed)
    history = probe.history
    record = history.read() if history is not None else None
    offset = int(record.steps[-1]) + 1 if record is not None and len(record) else 0
    seen: dict[int, float] = {}
    outputs_losses: list[float] = []

    def collect() -> None:
        record = history.read() if history is not None else None
        if record is not None:
            for step, value in zip(record.steps, record.loss, strict=True):
                if step >= offset:
                    seen[int(step)] = float(value)
        wanted = range(offset, offset + len(outputs_losses))
        if record is not None and all(step in seen for step in wanted):
            run.losses = [seen[step] for step in wanted]
        else:
            run.losses = list(outputs_losses)

    fastest = math.inf  # the fastest step so far (a first step's trace is not its pace)
    for args, kwargs in transformed:
        began = time.perf_counter()
        if began > deadline:
            run.complete = False
            break
        outputs, tripped = probe.run_checked(*args, **kwargs)
        outputs_losses.append(_scalar(outputs))
        now = time.perf_counter()
        fastest = min(fastest, now - began)
        if tripped:
            collect()
            run.tripped_at = len(outputs_losses) - 1
            del run.losses[run.tripped_at :]
            return run
        done = len(outputs_losses)
        left = len(transformed) - done
        pace = fastest if done >= PACE_STEPS else fastest / EARLY_PACE_MARGIN
        enough = max(run.trip_index + FAIL_WINDOW + 1, EARLY_PACE_STEPS)
        if left and done >= enough and now + pace * left > deadline:
            # Past the fail window, the horizon cannot finish by the deadline even at the
            # fastest pace seen (before PACE_STEPS, even at twice it): the verdict can no
            # longer be "trains" (unchecked, as at the deadline), so the budget is not spent.
            run.complete = False
            run.cut = f"{left} more steps at >= {fastest:.2g} s a step would end after the budget"
            if pace < fastest:
                run.cut += f" (even at {pace:.2g} s a step)"
            break
        if done % READ_EVERY == 0:
            collect()
            level = max(2.0 * (healthy or 0.0), run.losses[0] if run.losses else 0.0)
            tail = run.losses[-TAIL:]
            if level > 0 and len(tail) == TAIL and min(tail) > RUNAWAY * level:
                break  # a runaway: judged as diverged
    collect()
    return run


def _scalar(outputs: Any) -> float:
    for leaf in tf.nest.flatten(outputs):
        try:
            array = np.asarray(leaf, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if array.size:
            return float(array.mean())
    return float("nan")


# ---------------------------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------------------------
def verify_fixes(
    ctx: VerifyContext,
    fixes: list[Fix],
    budget_s: float = VERIFY_BUDGET_S,
    max_fixes: int = MAX_FIXES,
    min_horizon: int = MIN_HORIZON,
) -> Verification:
    """Verify the top fixes by replay.

    Returns ``(ranked, tried, notes)`` (a :class:`Verification`, whose ``confirmed`` says
    whether the cause's own fix, ``fixes[0]``, trains: True / False / None unchecked):
    ``ranked`` holds the fixes that train (first) and the unchecked ones (after), each in its
    original order; ``tried`` the ones that postponed or failed the trip."""
    started = time.perf_counter()
    deadline = started + budget_s
    # the variables' own tensors (no host copy; a re-run's first write copies a buffer)
    pre_step = DeviceSnapshot.take(step_variables(ctx.watched))
    history = ctx.history
    if history is None and getattr(ctx.watched, "history", None) is not None:
        history = ctx.watched.history.read()
    healthy = healthy_level(history)
    trip_step = ctx.report.trip.step
    plans: list[tuple[Fix, list[Attempt] | None, str]] = []
    for rank, fix in enumerate(fixes):
        builder = _ATTEMPTS.get(fix.id)
        if rank >= max_fixes or builder is None:
            plans.append((fix, None, ""))
            continue
        try:
            plans.append((fix, builder(fix, ctx), ""))
        except _CannotSimulate as error:
            shown = dataclasses.replace(fix, snippet=error.snippet) if error.snippet else fix
            plans.append((shown, None, f"not simulated: {error}"))
        except Exception as error:  # a nantrace bug on an unusual model: this fix unchecked
            plans.append((fix, None, _internal_error(error)))
    checked: list[Fix] = []
    shared_probe: list[Any] = []
    runners = contextlib.ExitStack()

    def shared_runner() -> StepRunner:
        """One runner for every fix that changes nothing read at trace time: the guard's own
        compiled step where it has one (its traces reused), else one fresh runner."""
        if not shared_probe:
            own = getattr(ctx.watched, "own_runner", None)
            shared_probe.append(runners.enter_context(own()) if own is not None else _probe(ctx))
        return shared_probe[0]

    try:
        pending = sum(1 for _, attempts, _ in plans if attempts)
        for fix, attempts, reason in plans:
            if not attempts:
                params = dict(fix.params)
                if reason:
                    params["verification"] = reason
                checked.append(dataclasses.replace(fix, params=params))
                continue
            share = max(0.0, deadline - time.perf_counter()) / max(pending, 1)
            pending -= 1
            try:
                checked.append(
                    _verify_one(
                        ctx,
                        fix,
                        attempts,
                        pre_step,
                        healthy,
                        trip_step,
                        time.perf_counter() + share,
                        min_horizon,
                        shared_runner,
                    )
                )
            except Exception as error:  # a nantrace bug: this fix unchecked, the others go on
                params = {**fix.params, "verification": _internal_error(error)}
                checked.append(dataclasses.replace(fix, params=params))
            pre_step.restore()
        checked = _searched_further(
            ctx,
            [fix for fix, _, _ in plans],
            checked,
            lambda fix, attempts: _verify_one(
                ctx,
                fix,
                attempts,
                pre_step,
                healthy,
                trip_step,
                deadline,
                min_horizon,
                shared_runner,
            ),
            pre_step,
            deadline,
        )
    finally:
        pre_step.restore()
        runners.close()
    ranked = _by_reached_loss([f for f in checked if f.verdict == "trains"])
    ranked += [f for f in checked if f.verdict is None]
    tried = [f for f in checked if f.verdict in ("postpones", "fails")]
    own = checked[0].verdict if checked else None
    confirmed = None if own is None else own == "trains"
    notes: list[str] = []
    ran = [f for f in checked if "steps_run" in f.params]
    if ran:
        notes.append(
            f"{len(ran)} fix(es) replayed in {time.perf_counter() - started:.1f} s "
            f"(budget {budget_s:.0f} s); verdicts in each fix's params.verification"
        )
    return Verification(ranked, tried, notes, confirmed)


def _verify_one(
    ctx: VerifyContext,
    fix: Fix,
    attempts: list[Attempt],
    pre_step: StateSnapshot,
    healthy: float | None,
    trip_step: int,
    deadline: float,
    min_horizon: int,
    shared_runner: Callable[[], StepRunner],
) -> Fix:
    since = len(ctx.since_anchor)
    pretraining_anchor = ctx.anchor is not None and trip_step - since == 0
    if fix.id in DYNAMICS_FIXES:
        from_anchor = ctx.anchor is not None
    else:
        from_anchor = pretraining_anchor
    if not from_anchor:
        since = 0
    start_step = trip_step - since
    horizon = max(min_horizon, HORIZON_FACTOR * since, since + 1 + FAIL_WINDOW + TAIL)
    sequence, trip_index = _sequence(ctx, from_anchor, horizon)
    start = (
        f"from the anchor at step {start_step}"
        + (" (the pre-training state)" if start_step == 0 else "")
        if from_anchor
        else f"from the pre-step state of step {trip_step}"
    )
    level_healthy = healthy if fix.id in _SAME_UNITS else None
    params = dict(fix.params)

    def try_one(attempt: Attempt) -> tuple[Any, str | None, dict[str, Any], int]:
        try:
            pre_step.restore()
            if from_anchor:
                ctx.anchor.restore()
            with attempt.apply():
                probe = _probe(ctx) if attempt.retrace else shared_runner()
                run = _run(
                    ctx, probe, attempt, sequence, trip_index, start_step, level_healthy, deadline
                )
            judgement = judge(
                run.losses, run.tripped_at, run.trip_index, level_healthy, run.complete
            )
        except _NothingToTrain as error:
            run = Run([], start_step, trip_index, 0, nothing=str(error))
            judgement = Judgement("fails", at=0)
        finally:
            pre_step.restore()
        at = {"at_step": start_step + judgement.at} if judgement.at is not None else {}
        return (run, judgement), judgement.verdict, {"steps": run.steps, **at}, run.horizon

    search = search_candidates(attempts, try_one, deadline)
    if edits_of(fix.params):
        search = _with_further_sites(
            ctx, fix, search, try_one, sequence, from_anchor, pre_step, deadline
        )
    failure = search.failure
    if (len(attempts) > 1 or len(search.candidates) > 1) and search.candidates:
        params["candidates"] = search.candidates
    if not search.simulated:
        params["verification"] = failure or "not simulated"
        return dataclasses.replace(fix, params=params, verified=None, verdict=None)
    # every candidate tripped or diverged: report the one that went furthest
    attempt, (run, judgement), verdict = search.final(_furthest)
    params.update(attempt.params)
    params.update(
        {
            "verdict": verdict,
            "steps_run": run.steps,
            "horizon": run.horizon,
            "start_step": start_step,
            "start": "anchor" if from_anchor else "pre-step",
            "loss_first": run.losses[0] if run.losses else None,
            "loss_last": float(np.mean(run.losses[-TAIL:])) if run.losses else None,
            "healthy_loss": level_healthy,
        }
    )
    at_step = start_step + judgement.at if judgement.at is not None else None
    loss = (
        f"loss {run.losses[0]:.3g} -> {float(np.mean(run.losses[-TAIL:])):.3g}"
        if run.losses
        else "no finite step"
    )
    distinct = len({id(batch[0]) for batch in sequence})
    params["distinct_batches"] = distinct
    # a trip at the first step leaves one batch to replay: say so, it is not the user's data
    ran = f"{run.steps} steps {start}"
    if verdict == "trains" and distinct < min(run.steps, HONEST_BATCHES):
        ran += f" on {distinct} distinct batch{'es' if distinct != 1 else ''} cycled"
    if run.nothing:
        what = f"fails: {run.nothing}"
    elif judgement.frozen:
        what = (
            f"fails: finite, but the loss never changed ({ran}, {loss}): the fix keeps the "
            "values finite and stops the learning"
        )
    elif verdict is None:
        cut = f": {run.cut}" if run.cut else ""
        what = f"unchecked: {failure}{cut} ({ran}, {loss})"
    elif verdict == "trains":
        what = f"trains: {ran}, finite, {loss}"
    elif run.tripped_at is not None:
        params["tripped_at_step"] = at_step
        what = f"{verdict}: non-finite at step {at_step} ({ran}; the trip was at step {trip_step})"
        what += f", {loss}" if run.losses else ""
    else:
        params["diverged_at_step"] = at_step
        what = (
            f"{verdict}: finite but diverging from step {at_step} ({ran}), {loss} "
            f"(healthy level <= {judgement.level:.3g})"
        )
    if run.skipped:
        what += f"; {run.skipped} batch(es) the fix emptied were skipped"
    params["verification"] = f"{what}; with {attempt.label}"
    snippet = fix.snippet
    if fix.id == "lower_learning_rate" and params.get("schedule_line"):
        snippet = f"learning_rate = {params['schedule_line']}  # the optimizer's schedule"
    elif fix.id == "lower_learning_rate" and params.get("suggested") is not None:
        snippet = f"optimizer.learning_rate = {float(params['suggested']):.3g}"
    if fix.id == "float32_layer" and params.get("layers"):
        snippet = (
            f'{params.get("layer_class", "Layer")}(..., dtype="float32")  # every one: '
            + ", ".join(params["layers"])
        )
    edits = edits_of(params)
    if edits:  # the values that were judged, on the lines that were simulated
        snippet = combined_snippet(edits) or edits[0].snippet()
        if params.get("batch_line"):  # a batch tensor mapped too (labels onto [0, 1])
            snippet = f"{params['batch_line']}\n{snippet}"
    return dataclasses.replace(
        fix,
        params=params,
        snippet=snippet,
        verified=None if verdict is None else verdict == "trains",
        verdict=verdict,
    )


#: A fix that trains whose loss ends more than this many times above another's (the same
#: loss on the same batches) ranks after it.
FAR_ABOVE = 1e3


def _changes_loss_scale(fix: Fix) -> bool:
    """The fix rescales what the loss is made of (the targets, the sample weights): its loss
    is on another scale than the other fixes' and cannot be compared with theirs."""
    return fix.id == "rescale_target" or "weight_mean" in fix.params


def _far_above(fixes: list[Fix]) -> tuple[set[int], Fix | None, float]:
    """``(ids of the far fixes, the best fix, the bar)``: among fixes that train, those whose
    final loss ends more than ``FAR_ABOVE`` times above the lowest final loss and that fix's
    first loss (the bar). Only positive final losses of fixes that leave the loss's scale
    alone are compared; two fixes that both train down to small losses (1e-4 against 0.2 on a
    few cycled batches) are not told apart by their ratio."""
    comparable = [
        f
        for f in fixes
        if not _changes_loss_scale(f)
        and isinstance(f.params.get("loss_last"), int | float)
        and f.params["loss_last"] > 0
    ]
    if len(comparable) < 2:
        return set(), None, math.inf
    best = min(comparable, key=lambda f: f.params["loss_last"])
    floor = float(best.params["loss_last"])
    first = best.params.get("loss_first")
    bar = FAR_ABOVE * max(floor, float(first) if isinstance(first, int | float) else floor)
    return {id(f) for f in comparable if f.params["loss_last"] > bar}, best, bar


def _by_reached_loss(fixes: list[Fix]) -> list[Fix]:
    """Fixes that train, in their order, but the ones far above another (``_far_above``)
    after the others: both count as training (finite and not above their own start), but a
    capped exponent that keeps the loss at 3e17 from the pre-training state trains in name
    only next to a rescaled input whose loss ends at 8.5."""
    far, best, _ = _far_above(fixes)
    if not far or best is None:
        return fixes
    floor = float(best.params["loss_last"])
    kept, after = [], []
    for fix in fixes:
        if id(fix) not in far:
            kept.append(fix)
            continue
        ratio = float(fix.params["loss_last"]) / floor
        note = f"; its loss ends {ratio:.2g}x above {best.id}'s"
        params = {**fix.params, "verification": f"{fix.params.get('verification', '')}{note}"}
        after.append(dataclasses.replace(fix, params=params))
    return kept + after


def _searched_further(
    ctx: VerifyContext,
    originals: list[Fix],
    checked: list[Fix],
    verify_one: Callable[[Fix, list[Attempt]], Fix],
    pre_step: StateSnapshot,
    deadline: float,
) -> list[Fix]:
    """A code fix that trains far above another (``_far_above``) stopped at the first value
    that kept the run finite (the smallest epsilon, the loosest clamp); a larger epsilon or a
    tighter clamp may train near the other. Its search goes on, one value at a time, while
    the budget lasts, and the first value that trains at most at the bar replaces it; else it
    stays as it was (ranked after the others by ``_by_reached_loss``)."""
    far, _, bar = _far_above([f for f in checked if f.verdict == "trains"])
    if not far:
        return checked
    result = list(checked)
    for index, (original, fix) in enumerate(zip(originals, checked, strict=True)):
        if id(fix) not in far:
            continue
        # the values after the one it stopped at (the original's params know no value yet)
        for attempt in _further_values(fix, ctx):
            if time.perf_counter() > deadline:
                return result
            try:
                again = verify_one(original, [attempt])
            except Exception:  # a nantrace bug: keep what the first search found
                break
            finally:
                pre_step.restore()
            last = again.params.get("loss_last")
            if again.verdict == "trains" and isinstance(last, int | float) and last <= bar:
                result[index] = again
                break
    return result


def _further_values(fix: Fix, ctx: VerifyContext) -> list[Attempt]:
    """A code fix's edits with each value its search had not reached yet (a larger epsilon, a
    tighter clamp), the same value at every edit of the first one's kind; empty for a fix that
    is no such edit or whose search reached its last value."""
    edits = edits_of(fix.params)
    if not edits or edits[0].value is None:
        return []
    space = search_space(edits[0], _edit_dtype(fix, ctx))
    values = [c.value for c in space]
    if edits[0].value not in values:
        return []
    later = space[values.index(edits[0].value) + 1 :]
    kind = edits[0].kind
    return [
        _edits_attempt(
            [c]
            + [
                e.with_value(c.value) if e.kind == kind and e.value is not None else e
                for e in edits[1:]
            ]
        )
        for c in later
    ]


def _furthest(outcome: tuple[Attempt, Any, str | None]) -> tuple[bool, int]:
    """How far a candidate that did not train went: postponing beats failing, later beats
    earlier."""
    return outcome[2] == "postpones", outcome[1][1].at or 0


def _with_further_sites(
    ctx: VerifyContext,
    fix: Fix,
    search: Search,
    try_one: Callable[[Attempt], tuple[Any, str | None, dict[str, Any], int]],
    sequence: list[Batch],
    from_anchor: bool,
    pre_step: StateSnapshot,
    deadline: float,
) -> Search:
    """A code fix whose every candidate still trips: the edit made at the op where its replay
    goes non-finite next as well (``further_sites``), each added site searched like the first;
    rounds that could not be judged in full are left out (the fix's own verdict stands)."""
    dtype = _edit_dtype(fix, ctx)
    last = search
    while last.simulated and not last.failure and time.perf_counter() < deadline:
        attempt, (run, _), verdict = last.final(_furthest)
        if verdict == "trains" or run.tripped_at is None:
            break
        edits = edits_of({**fix.params, **attempt.params})
        try:
            pre_step.restore()
            if from_anchor:
                ctx.anchor.restore()
            found = locate_trip(edits, lambda: _probe(ctx), sequence[: run.tripped_at + 1])
        except Exception:  # a step whose ops cannot be flagged (XLA, a strategy): no more sites
            found = None
        finally:
            pre_step.restore()
        extra = next_edit(edits, found)
        if extra is None:
            break
        attempts = [_edits_attempt([*edits, c]) for c in search_space(extra, dtype)]
        last = search_candidates(attempts, try_one, deadline)
        if not last.outcomes or last.failure:
            break
        search = Search(
            search.outcomes + last.outcomes, search.candidates + last.candidates, search.failure
        )
    return search
