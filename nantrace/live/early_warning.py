"""Early warning: in-graph detectors that see a run diverging before any value is non-finite.

Each guarded step already reduces the loss, the global gradient norm and every checked
variable's norm (:mod:`nantrace.live.sentinel`). The detectors read those numbers as *channels*:

* ``grad_norm_growth``: log of the global gradient norm;
* ``loss_spike``: the loss;
* ``weight_norm_growth``: log of each kernel's norm (variables of rank >= 2);
* ``update_ratio``: log of each kernel's per-step relative norm change
  ``|log|w_t| - log|w_t-1||``, a lower bound of ``|update| / |w|`` that needs no pre-step copy;
* ``float16_range``: log of the largest |x| of the step's float16 tensors and kernels (only
  under a float16 policy).

Every channel keeps a baseline and a mean absolute deviation of its own healthy steps (an
exponential average, deviations clipped at 3x, so one outlier barely moves it; cumulative during
the warm-up; after it, fed one quiet step in ``QUIET_EVERY`` at the rate that keeps the same
time constant). A channel is *over* when it exceeds its baseline by ``max(K * deviation, margin)``;
it *fires* after several consecutive over steps if it is still growing: up, since it went over,
by half its margin or half its excess at that step, whichever is larger, *and* up over the last
``RECENT`` steps (a jump that then stays flat is not growth); or over for three times that many
steps while the loss is clearly worse (over its own threshold). Over steps do not move the
baseline, so steady growth stays visible. Growth signals also need the loss to be worse than its
own baseline (a healthy run may grow its weights while the loss falls). Nothing but the float16
signal fires while the loss *recovers* from a loss spike (its fast average back under half of
its recent peak's excess): after one outlier batch the updates can stay large, or swing, for
tens of steps while the loss comes back. One episode warns once: after a warning nothing warns
again until no channel has been over for ``REARM`` steps.

All of it is one read and one write of two small ``tf.Variable`` s and small element-wise ops
on vectors of ``3 + 2 x variables`` floats, as separate TensorFlow ops in the step's graph:
~40 every step (the channels' values, the loss's fast average, the last values) and ~130 in
one ``If`` only on the steps where they can change something (a channel over its threshold,
the warm-up, and one quiet step in ``QUIET_EVERY`` for the baselines; :meth:`_update`). In a
whole step the executor's cost per op is what the update costs (bench/README.md). They can
also be compiled into one XLA cluster, the guard's own with its finite
checks and history (``Watched.fuse_tail = True``: ``StepSentinel._fused_tail``, the default for
a step the user compiles with XLA) or the detectors' alone (``EarlyWarning._fused``); that is
not the default for other steps, since in a whole step it is no faster and XLA's runtime costs
~110 MB of resident memory (see ``_fused``).
The result (a bit per signal that fired) is one more int of the step's status vector: no extra
host sync.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.report.warning_records import SIGNALS, Signal

EARLY_WARNING_MODES = ("warn", "raise", "off")

#: healthy steps before any warning (the baselines are cumulative means until then).
WARMUP = 12
#: steps with no channel over before a new episode may warn.
REARM = 25
#: the float16 limit, and the fraction of it that warns whatever the run's own level.
FLOAT16_MAX = 65504.0
FLOAT16_NEAR = 0.5
#: below this fraction of the limit, float16 values never warn (however fast they grew).
FLOAT16_FLOOR = 1.0 / 16.0
#: a kernel whose norm changes by less than this fraction a step never warns on
#: ``update_ratio``, however far over its own baseline: the common rule of thumb puts a healthy
#: ``|update| / |w|`` near 1e-3, and the channel (a lower bound of it) starts near 0 in Adam's
#: first steps, so a net that merely starts to learn is "100x its baseline" at ~1e-5.
UPDATE_FLOOR = 1e-3
#: per-step fast average of the loss (its "recent" level, compared with the slow baseline).
LOSS_FAST = 0.3
#: the recent peak of that fast average decays toward the baseline by this factor a step...
LOSS_PEAK_DECAY = 0.95
#: ...and a loss whose fast average is back under this fraction of the peak's excess over the
#: baseline, after a peak that was itself a loss spike, is *recovering*: a run coming back from
#: an outlier batch (whose updates may stay large, or keep swinging, for a while) is not one
#: that diverges, so nothing but the float16 signal fires while it recovers.
RECOVERED = 0.5


@dataclass(frozen=True)
class ChannelKind:
    """The constants of one kind of channel (see the module doc)."""

    signal: str
    #: EMA rate of the baseline after the warm-up.
    alpha: float
    #: the deviation multiplier of the threshold.
    k: float
    #: the smallest margin over the baseline (log units for log channels).
    margin: float
    #: the margin also grows with |baseline| (the loss: 1.0 means "twice its baseline").
    proportional: float
    #: consecutive over steps needed to fire.
    sustain: int
    #: needs the loss worse than its baseline (unless over by ``bypass`` x the margin).
    gated: bool
    bypass: float = math.inf


GRAD = ChannelKind("grad_norm_growth", 0.02, 4.0, math.log(10.0), 0.0, 4, True, 2.0)
LOSS = ChannelKind("loss_spike", 0.02, 6.0, 0.0, 1.0, 6, False)
WEIGHT = ChannelKind("weight_norm_growth", 0.02, 4.0, math.log(2.0), 0.0, 5, True)
RATIO = ChannelKind("update_ratio", 0.05, 4.0, math.log(10.0), 0.0, 4, True, 2.0)
HALF = ChannelKind("float16_range", 0.02, 4.0, math.log(4.0), 0.0, 2, False)

#: a channel over its threshold fires only while it is still growing: up by this fraction of
#: its margin (or of how far over its baseline it was then, if more) since the step it went
#: over (a spike that plateaus or recovers is not growth), and up over the last RECENT steps...
GROWTH = 0.5
#: ...or once it has been over for this many times its ``sustain`` steps while the loss is
#: clearly worse (a run stuck far above its healthy level).
LONG = 3

#: still climbing *now*: up by this fraction of the margin over the last RECENT steps (a
#: jump at the onset followed by a flat level, e.g. one outlier update that leaves a kernel's
#: norm higher for good, has climbed since the onset but is no longer climbing).
RISE = 0.1
RECENT = 4

#: a step on which no channel is over its threshold runs only the cheap part of the update
#: (the last values, the loss's fast average); the baselines take such a step's values on one
#: quiet step in this many, their rate raised to keep the same time constant (see ``_update``)
QUIET_EVERY = 8

# rows of the per-channel state: baseline, deviation, consecutive over steps, the last value,
# the value at the onset, the values 4, 3 and 2 steps back, and the threshold over which a
# value is over (from the baseline and deviation: what a quiet step compares with)
_BASE, _DEV, _OVER, _PREV, _ONSET = range(5)
_THRESHOLD = 5 + RECENT - 1
_ROWS = _THRESHOLD + 1
# entries of the scalar state (_FULL: the step count at the last full update)
_N, _LOSS_FAST, _ARMED, _UNDER, _LOSS_PEAK, _FULL = range(6)


def float16_policy() -> bool:
    """True when Keras computes in float16 (``mixed_float16`` or ``float16``)."""
    try:
        return keras.config.dtype_policy().compute_dtype == "float16"
    except Exception:  # an exotic policy object: no float16 signal, never a crash
        return False


class EarlyWarning:
    """The detectors' state and their in-graph update, for one watched step function."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.kinds: tuple[ChannelKind, ...] = ()
        self.channel_names: tuple[str | None, ...] = ()
        self._channels: tf.Variable | None = None
        self._scalars: tf.Variable | None = None
        self._constants: dict[str, np.ndarray] = {}
        self._eager: Any = None
        self._compiled: dict[tuple, Any] = {}

    # -- layout -------------------------------------------------------------------------------
    def _layout(self, names: tuple[str, ...], kernels: tuple[bool, ...]) -> None:
        kinds: list[ChannelKind] = [GRAD, LOSS]
        labels: list[str | None] = [None, None]
        kinds += [WEIGHT] * len(names)
        labels += list(names)
        kinds += [RATIO] * len(names)
        labels += list(names)
        kinds.append(HALF)
        labels.append(None)
        eligible = [True, True, *kernels, *kernels, True]
        floors = {RATIO: math.log(UPDATE_FLOOR), HALF: math.log(FLOAT16_MAX * FLOAT16_FLOOR)}
        floor = [floors.get(kind, -math.inf) for kind in kinds]
        hard = [math.inf] * (len(kinds) - 1) + [math.log(FLOAT16_MAX * FLOAT16_NEAR)]
        onehot = np.zeros((len(SIGNALS), len(kinds)), np.float32)
        for c, kind in enumerate(kinds):
            onehot[SIGNALS.index(kind.signal), c] = 1.0
        self._constants = {
            "alpha": np.array([k.alpha for k in kinds], np.float32),
            "k": np.array([k.k for k in kinds], np.float32),
            "margin": np.array([k.margin for k in kinds], np.float32),
            "proportional": np.array([k.proportional for k in kinds], np.float32),
            "sustain": np.array([k.sustain for k in kinds], np.float32),
            "gated": np.array([k.gated for k in kinds], bool),
            "bypass": np.array([k.bypass for k in kinds], np.float32),
            "eligible": np.array(eligible, bool),
            "floor": np.array(floor, np.float32),
            "hard": np.array(hard, np.float32),
            "onehot": onehot,
            "pauses": np.array([k is not HALF for k in kinds], bool),
        }
        self.kinds = tuple(kinds)
        self.channel_names = tuple(labels)
        self.names = names

    def _create(self, names: tuple[str, ...], kernels: tuple[bool, ...]) -> None:
        self._layout(names, kernels)
        size = len(self.kinds)
        initial = np.full((_ROWS, size), np.nan, np.float32)
        initial[_DEV] = 0.0
        initial[_OVER] = 0.0
        initial[_THRESHOLD] = -np.inf  # the warm-up runs the full update on every step
        with tf.init_scope():
            self._channels = tf.Variable(
                initial,
                trainable=False,
                name="nantrace_warning_channels",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            self._scalars = tf.Variable(
                np.array([0.0, np.nan, 1.0, 0.0, np.nan, 0.0], np.float32),
                trainable=False,
                name="nantrace_warning_state",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )

    # -- in-graph -----------------------------------------------------------------------------
    def update(
        self,
        loss: tf.Tensor,
        grad_sq: tf.Tensor,
        weight_sq: tf.Tensor,
        names: tuple[str, ...],
        kernels: tuple[bool, ...],
        half_max: tf.Tensor | None,
        healthy: tf.Tensor,
        *,
        compiled: bool = False,
    ) -> tf.Tensor:
        """Advance the detectors by one step; returns an int32 bit mask of the signals that
        fired a new warning (bit i: ``SIGNALS[i]``), 0 on almost every step. ``compiled``:
        as their own XLA cluster where XLA compiles (outside tf.distribute), else as separate
        ops (the default: see :meth:`_fused` for what XLA costs)."""
        self.prepare(names, kernels)
        if compiled and not tf.distribute.has_strategy() and _tf_compat.xla_compiles():
            fused = self._fused(names, kernels, half_max is not None)
            half = () if half_max is None else (half_max,)
            return fused(loss, grad_sq, weight_sq, *half, healthy)
        # separate ops; under tf.distribute the replicas write the state through the strategy,
        # which a compiled cluster cannot host (and a build without XLA has none). Traced once
        # for an eager step: ~150 small ops run one by one would cost milliseconds.
        if tf.executing_eagerly():
            if self._eager is None:
                self._eager = _tf_compat.own_function(self._update)
            return self._eager(loss, grad_sq, weight_sq, names, kernels, half_max, healthy)
        return self._update(loss, grad_sq, weight_sq, names, kernels, half_max, healthy)

    def prepare(self, names: tuple[str, ...], kernels: tuple[bool, ...]) -> None:
        """Create the detectors' state (once): before a caller's own compiled function runs
        :meth:`update_ops`, since a variable cannot be created inside that function's trace."""
        if self._channels is None:
            self._create(names, kernels)

    def update_ops(self, *args: Any) -> tf.Tensor:
        """:meth:`update` (same arguments) as ops in the graph being traced, for a caller that
        compiles them into its own XLA cluster (the guard's fused tail); call :meth:`prepare`
        first."""
        return self._update(*args)

    def _fused(self, names: tuple[str, ...], kernels: tuple[bool, ...], half: bool) -> Any:
        """The update as one XLA cluster (``update(..., compiled=True)``; not the default). As
        separate TensorFlow ops its ~150 element-wise ops on a few floats cost 50-65 us a step
        on the 2-core test machine in a loop (the executor's per-op overhead); compiled, 14-16
        us (``python -m bench.parts detectors``). In a whole step the two tie within the noise
        (``python -m bench.parts tail``), while XLA costs a compile at the step's first call
        (~0.25 s) and ~110 MB more resident memory (its runtime and compiler in the process;
        ``python -m bench.memory``, ``watch`` against ``watch-off``). Healthy steps are
        untouched either way: it only reads the norms the guard already reduced and writes the
        detectors' own state."""
        key = (names, kernels, half)
        if key not in self._compiled:
            if half:

                def run(loss, grad_sq, weight_sq, half_max, healthy):  # type: ignore[no-untyped-def]
                    return self._update(loss, grad_sq, weight_sq, names, kernels, half_max, healthy)
            else:

                def run(loss, grad_sq, weight_sq, healthy):  # type: ignore[no-untyped-def]
                    return self._update(loss, grad_sq, weight_sq, names, kernels, None, healthy)

            self._compiled[key] = _tf_compat.own_function(run, jit_compile=True, autograph=False)
        return self._compiled[key]

    def _update(
        self,
        loss: tf.Tensor,
        grad_sq: tf.Tensor,
        weight_sq: tf.Tensor,
        names: tuple[str, ...],
        kernels: tuple[bool, ...],
        half_max: tf.Tensor | None,
        healthy: tf.Tensor,
    ) -> tf.Tensor:
        """One step. Every step: the channels' values, the loss's fast average and recent
        peak, the last values (~40 small ops). The rest (baselines, deviations, the over and
        firing logic, ~130 ops) runs in one ``If`` only where it can change something: when a
        channel is over the threshold the last full update left (or has none yet), during the
        warm-up, and on one quiet step in ``QUIET_EVERY``. A quiet step has nothing over, so
        the full update would only have moved the baselines: they take one quiet step in
        ``QUIET_EVERY``, at the rate ``1 - (1 - alpha) ** k`` for the ``k`` steps since the last
        full update (the same time constant), where every step moved them before 2026-12-04."""
        assert self._channels is not None and self._scalars is not None
        nan = tf.constant(float("nan"))
        width = len(self.names)
        state = self._channels.read_value()
        scalars = self._scalars.read_value()
        base, dev, over_n, prev, onset, *back, threshold = tf.unstack(state)
        n, loss_fast, armed, under, loss_peak, last_full = tf.unstack(scalars)

        if names == self.names and width:
            log_w = 0.5 * tf.math.log(weight_sq)
            change = tf.abs(log_w - prev[2 : 2 + width])
            # an unchanged norm (a skipped or frozen step) says nothing about the update size
            log_ratio = tf.where(change > 0.0, tf.math.log(change), nan)
        else:
            log_w = tf.fill([width], nan)
            log_ratio = log_w
        x = tf.concat(
            [
                tf.reshape(0.5 * tf.math.log(tf.cast(grad_sq, tf.float32)), [1]),
                tf.reshape(tf.cast(loss, tf.float32), [1]),
                log_w,
                log_ratio,
                tf.reshape(
                    tf.math.log(tf.cast(half_max, tf.float32)) if half_max is not None else nan,
                    [1],
                ),
            ],
            0,
        )
        c = {key: tf.constant(value) for key, value in self._constants.items()}
        finite = tf.math.is_finite(x)

        def margin_of(base: tf.Tensor, dev: tf.Tensor) -> tf.Tensor:
            # how far over its baseline a channel must be to be over
            return tf.maximum(c["k"] * dev, c["margin"] + c["proportional"] * tf.abs(base))

        # the loss gate's fast average and recent peak move every step: the recent loss above
        # its healthy baseline (or no loss to compare); recovering: after a peak of the fast
        # loss that was a loss spike, the fast loss is back under RECOVERED of that peak's
        # excess (the peak decays toward the baseline, so a run that settles high for long is
        # not "recovering" forever)
        loss_now = x[1]
        loss_known = tf.math.is_finite(loss_now)
        loss_base = tf.where(tf.math.is_nan(base[1]), loss_now, base[1])
        loss_fast = tf.where(
            loss_known,
            tf.where(
                tf.math.is_nan(loss_fast), loss_now, loss_fast + LOSS_FAST * (loss_now - loss_fast)
            ),
            loss_fast,
        )
        loss_peak = tf.where(
            loss_known,
            tf.where(
                tf.math.is_nan(loss_peak),
                loss_fast,
                tf.maximum(loss_fast, loss_base + LOSS_PEAK_DECAY * (loss_peak - loss_base)),
            ),
            loss_peak,
        )
        # a finite value over its threshold, or with none yet (a channel first finite now)
        unsettled = tf.reduce_any(finite & tf.logical_not(x <= threshold))
        full = unsettled | (n < WARMUP) | (n - last_full >= QUIET_EVERY)

        def full_update() -> tuple[tf.Tensor, ...]:
            base_ = tf.where(tf.math.is_nan(base), x, base)
            diff = x - base_
            margin = margin_of(base_, dev)
            warm = n >= WARMUP
            # over its margin and its absolute floor (update ratio, float16), or near the
            # float16 limit whatever the run's own level
            above = ((diff > margin) & (x > c["floor"])) | (x > c["hard"])
            over = finite & c["eligible"] & warm & above
            onset_ = tf.where(over & (over_n == 0.0), x, onset)
            over_n_ = tf.where(over, over_n + 1.0, 0.0)
            # still growing: up by half of its margin, or of its excess at the onset if larger
            # (a jump far over the threshold must keep climbing, not just stay up), and still
            # rising over the last RECENT steps (not a jump at the onset followed by a flat
            # level)
            climb = GROWTH * tf.maximum(margin, onset_ - base_)
            climbing = (x - onset_ >= climb) & (x - back[0] >= RISE * margin)
            if half_max is not None:
                climbing = climbing | (x > c["hard"])
            # ...or over for long (a run stuck far above its healthy level)
            stuck = over_n_ >= LONG * c["sustain"]
            loss_up = tf.logical_or(tf.logical_not(loss_known), loss_fast > base_[1])
            peak_excess = loss_peak - base_[1]
            recovering = (peak_excess > margin[1]) & (
                loss_fast - base_[1] < RECOVERED * peak_excess
            )
            free = tf.logical_not(c["gated"]) | (diff > c["bypass"] * margin)
            # a channel stuck high (not climbing) fires only while the loss is clearly worse:
            # over the loss signal's own threshold, not just above its baseline by noise (one
            # outlier update can leave a kernel's norm at a new, higher level for good)
            loss_high = tf.logical_or(tf.logical_not(loss_known), loss_fast - base_[1] > margin[1])
            # neither a growth signal (bypass included) nor the loss itself fires while the
            # loss recovers; the float16 signal (a hard limit) does
            calm = tf.logical_not(recovering & c["pauses"])
            growing = (climbing & (loss_up | free)) | (stuck & (loss_high | free))
            fire = over & (over_n_ >= c["sustain"]) & growing & calm
            fired = tf.linalg.matvec(c["onehot"], tf.cast(fire, tf.float32)) > 0.0
            new = fired & (armed > 0.0)

            # baselines move on healthy, finite, not-over steps only, at the rate that keeps
            # their time constant over the quiet steps since the last full update
            move = finite & tf.logical_not(over)
            steps = tf.maximum(n - last_full, 1.0)
            alpha = tf.where(warm, 1.0 - tf.pow(1.0 - c["alpha"], steps), 1.0 / (n + 1.0))
            bound = 3.0 * dev + 1e-6
            step_diff = tf.where(warm, tf.clip_by_value(diff, -bound, bound), diff)
            new_base = tf.where(move, base_ + alpha * step_diff, base_)
            new_dev = tf.where(move, dev + alpha * (tf.abs(diff) - dev), dev)
            new_margin = margin_of(new_base, new_dev)
            new_threshold = tf.where(
                c["eligible"],
                tf.minimum(tf.maximum(new_base + new_margin, c["floor"]), c["hard"]),
                math.inf,
            )
            under_ = tf.where(tf.reduce_any(over), 0.0, under + 1.0)
            armed_ = tf.where(tf.reduce_any(new), 0.0, tf.where(under_ >= REARM, 1.0, armed))
            weights = tf.constant([2**i for i in range(len(SIGNALS))], tf.int32)
            bits = tf.reduce_sum(tf.cast(new, tf.int32) * weights)
            return new_base, new_dev, over_n_, onset_, new_threshold, under_, armed_, bits, n

        def quiet_update() -> tuple[tf.Tensor, ...]:
            # nothing over: the counts of over steps are 0, one more step with none over
            under_ = under + 1.0
            armed_ = tf.where(under_ >= REARM, 1.0, armed)
            zeros = tf.zeros_like(over_n)
            return base, dev, zeros, onset, threshold, under_, armed_, tf.constant(0), last_full

        base, dev, over_n, onset, threshold, under, armed, bits, last_full = (
            _tf_compat.unlowered_cond(full, full_update, quiet_update)
        )
        new_prev = tf.where(finite, x, prev)
        new_state = tf.stack([base, dev, over_n, new_prev, onset, *back[1:], prev, threshold])
        new_scalars = tf.stack([n + 1.0, loss_fast, armed, under, loss_peak, last_full])
        # a tripped step (rolled back, or skipped under on_nan="warn") leaves no trace here
        self._channels.assign(tf.where(healthy, new_state, state), read_value=False)
        self._scalars.assign(tf.where(healthy, new_scalars, scalars), read_value=False)
        return tf.where(healthy, bits, 0)

    # -- host ---------------------------------------------------------------------------------
    def state(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Host copies of the detectors' state (a re-run from the anchor puts it back)."""
        if self._channels is None or self._scalars is None:
            return None
        return self._channels.numpy(), self._scalars.numpy()

    def set_state(self, state: tuple[np.ndarray, np.ndarray]) -> None:
        assert self._channels is not None and self._scalars is not None
        self._channels.assign(state[0], read_value=False)
        self._scalars.assign(state[1], read_value=False)

    def signals(self, bits: int) -> tuple[tuple[Signal, ...], tuple[Signal, ...]]:
        """(fired, over): the signals whose bit is set, and every signal over its threshold at
        the last step (fired first), with their numbers, read from the state (host)."""
        channels = self.state()
        if channels is None:
            return (), ()
        state, _ = channels
        base, dev, over_n, x = state[_BASE], state[_DEV], state[_OVER], state[_PREV]
        c = self._constants
        margin = np.maximum(c["k"] * dev, c["margin"] + c["proportional"] * np.abs(base))
        best: dict[str, Signal] = {}
        scores: dict[str, float] = {}
        for i, kind in enumerate(self.kinds):
            if over_n[i] <= 0:
                continue
            score = float((x[i] - base[i]) / margin[i]) if margin[i] > 0 else math.inf
            if kind.signal in scores and scores[kind.signal] >= score:
                continue
            scores[kind.signal] = score
            best[kind.signal] = _signal(
                kind,
                self.channel_names[i],
                float(x[i]),
                float(base[i]),
                float(margin[i]),
                int(over_n[i]),
            )
        fired = tuple(best[s] for i, s in enumerate(SIGNALS) if bits >> i & 1 and s in best)
        over = fired + tuple(best[s] for s in SIGNALS if s in best and best[s] not in fired)
        return fired, over


def signals_in(bits: int) -> list[str]:
    """The signal ids of a status bit mask."""
    return [s for i, s in enumerate(SIGNALS) if bits >> i & 1]


def _signal(
    kind: ChannelKind, variable: str | None, x: float, base: float, margin: float, steps: int
) -> Signal:
    """The Signal record of one channel, in the units a reader expects (factors, not logs)."""
    span = f"for {steps} step{'s' if steps != 1 else ''}"
    if kind is LOSS:
        limit = base + margin
        return Signal(
            kind.signal,
            f"loss {x:.4g} above its healthy level {base:.4g} (threshold {limit:.4g}) {span}",
            value=x,
            threshold=limit,
            baseline=base,
            window=steps,
        )
    factor, limit = math.exp(x - base), math.exp(margin)
    if kind is GRAD:
        summary = (
            f"global gradient norm {math.exp(x):.3g} is {factor:.3g}x its healthy level "
            f"{math.exp(base):.3g} (threshold {limit:.3g}x) {span}"
        )
    elif kind is WEIGHT:
        summary = (
            f"norm of {variable} grew {factor:.3g}x over its healthy level "
            f"({math.exp(base):.3g} -> {math.exp(x):.3g}; threshold {limit:.3g}x) {span}"
        )
    elif kind is RATIO:
        summary = (
            f"per-step change of {variable}'s norm is {math.exp(x):.3g} of the norm, "
            f"{factor:.3g}x its healthy {math.exp(base):.3g} (threshold {limit:.3g}x) {span}"
        )
    else:
        return Signal(
            kind.signal,
            f"float16 values reach |x| = {math.exp(x):.4g}, {math.exp(x) / FLOAT16_MAX:.0%} of "
            f"the float16 limit {FLOAT16_MAX:g} ({factor:.3g}x their healthy level) {span}",
            value=math.exp(x),
            threshold=min(FLOAT16_MAX * FLOAT16_NEAR, max(math.exp(base + margin), 0.0)),
            baseline=math.exp(base),
            window=steps,
            variable=variable,
        )
    return Signal(
        kind.signal,
        summary,
        value=factor,
        threshold=limit,
        baseline=math.exp(base),
        window=steps,
        variable=variable,
    )


def check_mode(mode: Any, where: str) -> str:
    """The early_warning argument, or a one-line NantraceError naming the choices."""
    from nantrace.errors import NantraceError

    if not isinstance(mode, str) or mode not in EARLY_WARNING_MODES:
        raise NantraceError(
            f"{where}: early_warning must be one of {', '.join(map(repr, EARLY_WARNING_MODES))}; "
            f"received early_warning={mode!r}"
        )
    return mode


def on_warning(watched: Any, step: int, bits: int, args: tuple, kwargs: dict) -> None:
    """The host side of a warning: diagnose it, have its fix checked, keep it, then warn or
    raise. Never rolls anything back: the warning step's update stays applied."""
    from nantrace.diagnosis.warning import diagnose_warning
    from nantrace.errors import DivergenceError, DivergenceWarning

    if _workers(watched) > 1:
        # Diagnosing re-runs the step (and verifying, many steps): its collectives would wait
        # for workers that are not re-running it. The signals alone, said plainly.
        report = _signals_only(
            watched,
            step,
            bits,
            "no cause or fix on a multi-worker run: deriving them re-runs the step, whose "
            "collectives would wait for the other workers",
        )
    else:
        try:
            report = diagnose_warning(watched, step, bits, args, kwargs)
        except Exception as error:  # a diagnosis bug must not cost the user the warning
            first = str(error).splitlines()[0] if str(error) else ""
            note = f"no cause: the diagnosis failed ({type(error).__name__}: {first})"
            report = _signals_only(watched, step, bits, note)
        report = _check_fixes(watched, report, args, kwargs)
    if getattr(watched, "bundle_dir", None) is not None and _writes_bundles(watched):
        from nantrace.bundle import write_warning_bundle

        report = write_warning_bundle(watched, report, args, kwargs, watched.bundle_dir)
    watched.early_warnings.append(report)
    if watched.early_warning == "raise":
        raise DivergenceError(report)
    from nantrace.live.guard import _warn

    _warn(DivergenceWarning(f"nantrace: {report.headline()}", report), stacklevel=3)


def _workers(watched: Any) -> int:
    """Workers of the run's strategy (1 without one, or under a one-process strategy)."""
    strategy = getattr(watched, "strategy", None)
    if strategy is None:
        return 1
    from nantrace.live import distributed

    return distributed.worker_count(strategy)


def _writes_bundles(watched: Any) -> bool:
    """One process writes a run's bundles: the only one, or a multi-worker run's chief."""
    if _workers(watched) == 1:
        return True
    from nantrace.live import distributed

    return distributed.worker_index(watched.strategy) == 0


def _signals_only(watched: Any, step: int, bits: int, note: str) -> Any:
    """The signals alone, when no diagnosis can be made: the warning still stands."""
    from nantrace.report.warning_records import DivergenceReport

    fired, over = watched.detector.signals(bits)
    if not fired:
        ids = ", ".join(signals_in(bits))
        fired = over = (Signal(signals_in(bits)[0], f"signals over: {ids}", 0.0, 0.0),)
    return DivergenceReport(step=step, signal=fired[0], signals=over, cause=None, notes=(note,))


def _check_fixes(watched: Any, report: Any, args: tuple, kwargs: dict) -> Any:
    """Replay the warning's fixes through ``nantrace.diagnosis.verify_warning`` where it exists; a
    failure there is noted on the report, never raised into the training loop."""
    import dataclasses

    if not report.fixes:
        return report
    if not getattr(watched, "verify", True):
        note = "fix not checked: verify=False"
        return dataclasses.replace(report, notes=(*report.notes, note))
    try:
        from nantrace.diagnosis.verify_warning import verify_warning_fixes
    except ImportError:
        note = "fix not checked: replay of a warning's fixes is not available in this version"
        return dataclasses.replace(report, notes=(*report.notes, note))
    try:
        return verify_warning_fixes(watched, report, args, kwargs)
    except Exception as error:  # verification must never break training
        first = str(error).splitlines()[0] if str(error) else ""
        note = f"fix not checked: verification failed ({type(error).__name__}: {first})"
        return dataclasses.replace(report, notes=(*report.notes, note))
