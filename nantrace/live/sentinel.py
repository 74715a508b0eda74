"""The in-graph sentinel: what a watched step checks and how it undoes itself, traced once.

While the user's step is traced, :class:`StepSentinel` learns (through :mod:`nantrace.replay.hooks`)
the loss (the tape's target), the gradients, the optimizer and every variable the step writes.

Three ways to undo a step, chosen by :class:`nantrace.live.guard.Watched`:

* **host restore** (compiled steps with a host anchor whose steps are short, the default): no
  gate and no copies; the step runs exactly as written (the update included) and the sentinel
  only reads what it needs: one sum of squares per loss and gradient (the global gradient norm)
  and per written variable after the update. Any trip is flagged ``STATUS_COMMITTED`` and undone
  by the host, which restores the anchor and re-runs the batches since it
  (:meth:`nantrace.live.guard.Watched._restore_committed`). Under XLA the step is also split
  (:meth:`nantrace.live.guard.Watched._run_compiled`): the user's computation is its own XLA
  function and the checks run after it. Everything after the sums of squares (flags, history,
  detectors, status) is small separate ops; ``Watched.fuse_tail = True`` makes it one XLA
  cluster instead (:meth:`StepSentinel._fused_tail`): the default for a step the user compiles
  with XLA (after its cluster, it costs less than the separate ops), not for others (no faster
  in a whole step, and it would load XLA's runtime into memory).
* **gated** (for steps so slow that fewer than ``nantrace.live.guard.MIN_ANCHOR_EVERY`` of
  them can be re-run within ``nantrace.live.guard.RERUN_BUDGET_S``; a slow step short of that
  is re-anchored more often instead): the optimizer's update runs inside
  ``tf.cond`` on one flag, "loss and gradients are finite", so a non-finite loss or gradient
  never reaches the weights and the optimizer state: nothing to copy, nothing to re-run.
  Variables written outside the update (BatchNorm statistics, RNG state, metrics: small) keep a
  pre-step reference (copy-on-write). Only the rare trip *after* a finite update
  (``optimizer_update``) is ``STATUS_COMMITTED`` and re-run from the anchor. The ``tf.cond`` is
  measurably costly (``python -m bench.parts floor`` on short steps, ``bench.parts restore``
  on large ones) and makes every variable's update wait for every gradient: that is why only
  the slowest steps are gated.
* **copy** (eager steps, ``anchor_every=0``, a state over the anchor budget, a step with a
  stateful random op that a re-run cannot reproduce, a step nested in another tf.function, or
  one under tf.distribute): before a variable's first write the sentinel keeps a reference to
  its current value; TensorFlow then copies the buffer on write, so the pre-step value
  survives at the cost of one copy of the state that the step writes; a trip assigns it back
  in-graph.

Healthy steps are untouched in every mode: the user's ops run as written, the sentinel only reads.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.errors import NantraceError
from nantrace.live import distributed
from nantrace.replay import hooks

#: A LossScaleOptimizer whose scale fell below this has stopped training: even unscaled
#: gradients overflow every step (the scale only halves on overflow).
LOSS_SCALE_FLOOR = 1.0

#: Random ops whose state lives in the kernel (or in a resource nantrace does not see written),
#: so re-running a batch draws new numbers: a step that has one cannot be restored by re-running
#: from the anchor, and is guarded in copy mode instead.
STATEFUL_RANDOM_OPS = frozenset(
    {
        "RandomStandardNormal",
        "RandomUniform",
        "RandomUniformInt",
        "TruncatedNormal",
        "ParameterizedTruncatedNormal",
        "RandomShuffle",
        "Multinomial",
        "RandomGamma",
        "RandomPoisson",
        "RandomPoissonV2",
        "StatefulStandardNormal",
        "StatefulStandardNormalV2",
        "StatefulUniform",
        "StatefulUniformFullInt",
        "StatefulUniformInt",
        "StatefulTruncatedNormal",
        "StatefulRandomBinomial",
        "RngSkip",
        "RngReadAndSkip",
    }
)


def replayable(graph: Any) -> bool:
    """False if the traced step (or a function it calls) has a stateful random op."""
    definition = graph.as_graph_def()
    types = {node.op for node in definition.node}
    for function in definition.library.function:
        types.update(node.op for node in function.node_def)
    return not types & STATEFUL_RANDOM_OPS


#: Status vector layout returned by a guarded step. STATUS_COMMITTED: the step tripped and
#: writes the in-graph restore cannot undo ran (host restore, or a gated update applied), so
#: the host must restore from its anchor.
STATUS_TRIPPED, STATUS_LOSS, STATUS_GRADIENTS, STATUS_VARIABLES, STATUS_COMMITTED = range(5)
#: the early-warning bit mask (nantrace.live.early_warning): 0 unless a new warning fired.
STATUS_WARNING = 5
#: a float value the step returns (a metric, a logged perplexity) is non-finite.
STATUS_OUTPUTS = 6
#: the status vector's length; a compiled step appends outside_writes' bits after it
STATUS_SIZE = 7


def _flat_float_tensors(values: Any) -> list[tf.Tensor]:
    tensors = []
    for value in tf.nest.flatten(values, expand_composites=False):
        if value is None:
            continue
        if isinstance(value, tf.IndexedSlices):
            value = value.values
        if isinstance(value, (tf.Tensor, tf.Variable)) or hasattr(value, "dtype"):
            dtype = tf.as_dtype(value.dtype)
            if dtype.is_floating:
                tensors.append(tf.convert_to_tensor(value))
    return tensors


def half_squares(tensors: list[tf.Tensor]) -> list[tf.Tensor]:
    """Half of each tensor's sum of squares as a float32 scalar (one fused kernel:
    ``l2_loss``). Half, not whole: finiteness reads the same from either, and the norms are
    doubled once, on the stacked vector, rather than by one more op per tensor (a step's graph
    pays the executor a fixed cost per op, whatever its size: it shows on a 1-2 ms step).
    Doubling is exact in floating point, so the norms are bit for bit those of doubling each.
    A float16 tensor is summed in float32: in float16 the sum passes 65504 long before any
    element does (a 64x64 kernel of 6.0), so a healthy step's norm would read inf and run the
    element-wise check every step."""
    return [
        tf.nn.l2_loss(tf.cast(t, tf.float32))
        if t.dtype == tf.float16
        else tf.cast(tf.nn.l2_loss(t), tf.float32)
        for t in tensors
    ]


#: Vectors up to this many elements are summed together (one concat and one ``l2_loss``) where
#: only their total is needed (the gradients' norm): each op in a step's graph costs the
#: executor a fixed cost whatever its size, and a model's biases and normalization scales are
#: many small vectors (41 in bench.workloads' 40-layer MLP).
SMALL_VECTOR = 65536


def grouped_half_squares(tensors: list[tf.Tensor]) -> list[tf.Tensor]:
    """Half sums of squares whose sum is the tensors' total: one per tensor, except the small
    float32 vectors (rank 1, at most SMALL_VECTOR elements), concatenated into one. The copy
    is of small tensors only; the total is the same up to rounding order, and always computed
    the same way in one trace (re-runs stay bit-identical)."""
    small = [
        t
        for t in tensors
        if t.dtype == tf.float32
        and t.shape.rank == 1
        and t.shape[0] is not None
        and t.shape[0] <= SMALL_VECTOR
    ]
    if len(small) < 2:
        return half_squares(tensors)
    grouped = {id(t) for t in small}
    rest = [t for t in tensors if id(t) not in grouped]
    return [*half_squares(rest), tf.nn.l2_loss(tf.concat(small, 0))]


def all_finite(tensors: list[tf.Tensor], squares: list[tf.Tensor] | None = None) -> tf.Tensor:
    """One fused reduction per tensor: is every element of every tensor finite?

    A sum of squares is NaN iff an element is NaN (the squares are never negative, so no
    Inf - Inf), and +Inf iff an element is +-Inf *or* finite values overflow it (|x| > ~1e19);
    the exact element-wise check runs only in that rare second case, so a healthy step pays one
    reduction per tensor, a NaN step no more, and there is never a false alarm. The squares
    double as the norms the history records. ``squares``: the (half) sums of squares already
    computed, one per tensor.
    """
    if not tensors:
        return tf.constant(True)
    if squares is None:
        squares = half_squares(tensors)
    return finite_groups([tensors], [_total(squares)])[0]


def _every_element_finite(tensors: list[tf.Tensor], flatten: bool) -> tf.Tensor:
    """The exact check of a group of tensors, each in its own dtype (a float64 value past
    float32's range is still finite), a scalar with one op; ``flatten``: as one concatenated
    float32 vector, one reduction instead of one per tensor (inside an XLA cluster each
    reduction is a kernel to compile, and the compile is part of a watched step's first
    call)."""
    if flatten:
        flat = tf.concat([tf.reshape(tf.cast(t, tf.float32), [-1]) for t in tensors], 0)
        return tf.reduce_all(tf.math.is_finite(flat))
    flags = [
        tf.math.is_finite(t) if t.shape.rank == 0 else tf.reduce_all(tf.math.is_finite(t))
        for t in tensors
    ]
    return flags[0] if len(flags) == 1 else tf.reduce_all(tf.stack(flags))


def finite_groups(
    groups: list[list[tf.Tensor]], sums: list[tf.Tensor | None], flatten: bool = False
) -> list[tf.Tensor]:
    """:func:`all_finite` of several groups of tensors: ``sums[i]`` is group i's sum of
    squares (None for an empty group). The exact element-wise check runs only for a sum of
    +Inf, which neither a healthy step nor a NaN step has. ``flatten`` (inside the XLA cluster
    of the fused checks): one conditional per group, so only a +Inf group is read element by
    element (run on a NaN step, that check made a 30 M-parameter report 1.6 s slower:
    bench/README.md); else ONE ``tf.cond`` for all groups, kept one ``If`` op
    (``compat.tf.unlowered_cond``): lowered, it costs a ``Switch`` per tensor it can read on
    every step."""
    present = [i for i, group in enumerate(groups) if group]
    out = [tf.constant(True) for _ in groups]
    if not present:
        return out
    finite = {i: tf.math.is_finite(sums[i]) for i in present}
    overflow = {i: tf.math.is_inf(sums[i]) for i in present}
    if flatten:
        for i in present:
            out[i] = tf.cond(
                overflow[i],
                lambda i=i: _every_element_finite(groups[i], flatten=True),
                lambda i=i: finite[i],
            )
        return out
    some = [overflow[i] for i in present]
    any_overflow = some[0] if len(some) == 1 else tf.reduce_any(tf.stack(some))

    def exact() -> list[tf.Tensor]:
        return [
            tf.logical_or(
                finite[i],
                tf.logical_and(overflow[i], _every_element_finite(groups[i], flatten=False)),
            )
            for i in present
        ]

    flags = _tf_compat.unlowered_cond(any_overflow, exact, lambda: [finite[i] for i in present])
    flags = flags if isinstance(flags, (list, tuple)) else [flags]
    for i, flag in zip(present, flags, strict=True):
        out[i] = flag
    return out


def _total(halves: list[tf.Tensor]) -> tf.Tensor | None:
    """The sum of several (half) sums of squares, None for none."""
    if not halves:
        return None
    return halves[0] if len(halves) == 1 else tf.add_n(halves)


def _norms(grad_half: tf.Tensor | None, halves: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """What the history and detectors take: the gradients' sum of squares (NaN without
    gradients) and each checked variable's, one vector (halves doubled once)."""
    weight_sq = 2.0 * tf.stack(halves) if halves else tf.zeros([0], tf.float32)
    return _grad_sq(grad_half), weight_sq


def _grad_sq(grad_half: tf.Tensor | None) -> tf.Tensor:
    """The gradients' sum of squares from its half; NaN for a step without gradients."""
    return 2.0 * grad_half if grad_half is not None else tf.constant(float("nan"))


def _tripped(
    loss_ok: tf.Tensor, grads_ok: tf.Tensor, vars_ok: tf.Tensor, outputs_ok: tf.Tensor
) -> tf.Tensor:
    return tf.logical_not(
        tf.logical_and(tf.logical_and(loss_ok, outputs_ok), tf.logical_and(grads_ok, vars_ok))
    )


def _loss_mean(losses: list[tf.Tensor]) -> tf.Tensor:
    """The history's loss: the sum of each loss tensor's mean (NaN when there is none)."""
    if not losses:
        return tf.constant(float("nan"))
    return tf.add_n([tf.reduce_mean(tf.cast(t, tf.float32)) for t in losses])


def _status(
    tripped: tf.Tensor,
    loss_ok: tf.Tensor,
    grads_ok: tf.Tensor,
    vars_ok: tf.Tensor,
    committed: tf.Tensor,
    warning: tf.Tensor,
    host_restore: bool,
    outputs_ok: tf.Tensor,
) -> tf.Tensor:
    """The status vector the host reads after each step (layout: ``STATUS_*``)."""
    vars_bad = tf.logical_not(vars_ok)
    if host_restore:  # the update of a non-finite loss's or gradient's step ran, and its
        # non-finite weights follow from them (the report names those)
        vars_bad = tf.logical_and(vars_bad, tf.logical_and(loss_ok, grads_ok))
    flags = tf.stack(
        [tripped, tf.logical_not(loss_ok), tf.logical_not(grads_ok), vars_bad, committed]
    )
    outputs_bad = tf.cast(tf.reshape(tf.logical_not(outputs_ok), [1]), tf.int32)
    return tf.concat([tf.cast(flags, tf.int32), tf.reshape(warning, [1]), outputs_bad], 0)


class StepSentinel(hooks.StepObserver):
    """Observes one trace (or one eager run) of the user's step and adds the guard to it."""

    def __init__(
        self,
        known_variables: dict[int, tf.Variable],
        expect_optimizer: bool,
        history: Any = None,
        check_gradients: bool = True,
        detector: Any = None,
        host_restore: bool = False,
        gate: bool = False,
        fuse_tail: bool = False,
    ) -> None:
        self.history = history
        #: the early-warning detectors (nantrace.live.early_warning.EarlyWarning), or None.
        self.detector = detector
        self.outer_graph = _tf_compat.current_graph() if _tf_compat.inside_graph() else None
        self.known_variables = known_variables
        self.expect_optimizer = expect_optimizer
        #: False under XLA: any extra reader of a gradient changes what XLA fuses in the
        #: user's own update (weights then differ by ~1e-8); a non-finite gradient is still
        #: caught through the weights it makes non-finite.
        self.check_gradients = check_gradients
        #: no pre-step copies: every trip is undone by the host from its anchor (see the
        #: module doc).
        self.host_restore = host_restore
        #: gate the optimizer's update on "loss and gradients finite" (see the module doc).
        self.gate = gate and not host_restore
        #: allow the checks after the step, and the detectors, as one XLA cluster
        #: (:meth:`_fused_tail`; ``Watched.fuse_tail``: on for a step the user compiles with
        #: XLA, off otherwise).
        self.fuse_tail = fuse_tail
        self.targets: list[Any] = []
        self.gradients: list[Any] = []
        #: what the step returned (set by the guard before :meth:`finalize`): its float
        #: tensors other than the loss are checked too, since a metric the loop logs (a
        #: perplexity, a percentage error) is where many users first see a NaN.
        self.returned: Any = None
        self.optimizers: list[Any] = []
        self.saved: dict[int, tuple[tf.Variable, tf.Tensor]] = {}
        #: variables never copied, put back from the anchor when a trip needs it: written
        #: under host restore, or inside the gated update.
        self.host_written: set[int] = set()
        #: a gated variable was written again outside the gate: only the host can restore it.
        self.late_write = False
        #: one flag per gated update: True where the update was applied.
        self.applied: list[tf.Tensor] = []
        self.wrote_trainable = False
        self.uses_loss_scaling = False
        #: False when the step turned out not to be replayable (see STATEFUL_RANDOM_OPS):
        #: the caller should re-trace it in copy mode.
        self.replayable = True
        self._gating = 0
        self._apply_variables: list[Any] = []
        self._sums: dict[tuple[int, ...], tf.Tensor] = {}
        #: (loss, gradient) finite flags, per (losses, gradients) tensor ids: the gate's are
        #: reused by finalize when nothing was differentiated after the update.
        self._flags: dict[tuple[int, ...], tuple[tf.Tensor, tf.Tensor]] = {}
        #: id of each tf.data iterator argument -> its flat position (set by the guard), and
        #: what each next() on an iterator returned: (position or None, batch).
        self.iterator_keys: dict[int, int] = {}
        self.consumed: list[tuple[int | None, Any]] = []
        #: the tf.distribute strategy the step runs its replicas under (None: no strategy).
        self.strategy: Any = None

    def _note_strategy(self) -> None:
        if self.strategy is None:
            self.strategy = distributed.current_strategy()  # checked in check_usage

    # -- events -------------------------------------------------------------------------
    def gradient_end(self, tape: Any, target: Any, sources: Any, result: Any) -> None:
        self.targets.append(target)
        self.gradients.append(result)
        self._note_strategy()

    def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None:
        self._note_strategy()
        if all(optimizer is not o for o in self.optimizers):
            self.optimizers.append(optimizer)
        if type(optimizer).__name__ == "LossScaleOptimizer":
            self.uses_loss_scaling = True
        self._apply_variables = [v for v in variables if v is not None]

    def run_apply(self, optimizer: Any, call: Any) -> Any:
        """Apply the update only when the loss and gradients seen so far are finite."""
        if not self.gate or self._gating:
            return call()
        if self.outer_graph is not None and _tf_compat.current_graph() is not self.outer_graph:
            # inside the user's own tf.cond / while (``if step % k == 0: apply``): a flag made
            # there cannot reach the status; the update runs as written, its writes copied
            return call()
        if not _tf_compat.is_default_strategy(tf.distribute.get_strategy()):
            # under tf.distribute the update's all-reduce (a merge_call) cannot run inside a
            # tf.cond branch: the update runs as written and its writes are copied (copy mode)
            return call()
        with hooks.suspended(self), _tf_compat.in_graph(self.outer_graph):
            ok = tf.logical_and(*self._loss_grad_flags(self.losses(), self._gradient_tensors()))
        if not getattr(optimizer, "built", True) and self._apply_variables:
            # Build the slots outside the branch, as apply() would, so that their names (and
            # everything else about them) are those of the unwatched step.
            with keras.name_scope(optimizer.name, caller=optimizer):
                optimizer.build(self._apply_variables)
            optimizer.built = True
        holder: list[Any] = []

        def commit() -> tf.Tensor:
            self._gating += 1
            try:
                holder.append(call())
            finally:
                self._gating -= 1
            return tf.constant(True)

        applied = tf.cond(ok, commit, lambda: tf.constant(False))
        self.applied.append(applied)
        result = holder[0] if holder else None
        if isinstance(result, tf.Tensor) and not tf.executing_eagerly():
            return None  # a tensor made inside the branch cannot leave it
        return result

    def run_next(self, iterator: Any, call: Any) -> Any:
        """Record the batch: the replay must run on the very batch this step consumed."""
        value = call()
        self.consumed.append((self.iterator_keys.get(id(iterator)), value))
        return value

    def before_write(self, variable: tf.Variable) -> None:
        if self.outer_graph is not None and tf.executing_eagerly():
            return  # an init_scope write (e.g. a slot being created), not part of the step
        if variable.trainable:
            self.wrote_trainable = True
        key = id(variable)
        if self._gating or self.host_restore:
            self.host_written.add(key)
            self.known_variables.setdefault(key, variable)
            return
        if key in self.host_written:
            self.late_write = True
        self._save(variable)

    # -- building the guard ---------------------------------------------------------------
    def _save(self, variable: tf.Variable) -> None:
        key = id(variable)
        if key in self.saved:
            return
        with hooks.suspended(self), _tf_compat.in_graph(self.outer_graph):
            self.saved[key] = (variable, tf.identity(variable.read_value()))
        self.known_variables.setdefault(key, variable)

    def save_known(self) -> None:
        """Keep pre-step values of variables earlier traces saw written (inner cached graphs).

        A value nothing reads is dropped before the write, so the variables this trace writes
        under host restore (whose saved value no restore uses) are not copied."""
        for variable in list(self.known_variables.values()):
            self._save(variable)

    def _sum_of_squares(self, tensors: list[tf.Tensor]) -> tf.Tensor | None:
        """Half the tensors' total sum of squares (None if none), computed once per trace;
        small vectors summed together (:func:`grouped_half_squares`)."""
        if not tensors:
            return None
        key = tuple(id(t) for t in tensors)
        if key not in self._sums:
            self._sums[key] = _total(grouped_half_squares(tensors))
        return self._sums[key]

    def _loss_grad_flags(
        self, losses: list[tf.Tensor], grads: list[tf.Tensor]
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(losses finite, gradients finite) with one ``tf.cond``, once per trace."""
        key = (*(id(t) for t in losses), -1, *(id(g) for g in grads))
        if key not in self._flags:
            sums = [self._sum_of_squares(losses), self._sum_of_squares(grads)]
            loss_ok, grads_ok = finite_groups([losses, grads], sums)
            self._flags[key] = (loss_ok, grads_ok)
        return self._flags[key]

    def losses(self) -> list[tf.Tensor]:
        """The float loss tensors the step's tapes differentiated."""
        return _flat_float_tensors(self.targets)

    def returned_values(self) -> list[tf.Tensor]:
        """The float tensors the step returns that are not a loss it differentiated. None
        with a LossScaleOptimizer: a value made of its scaled gradients (a gradient norm the
        loop logs) is +inf on the steps it skips by design, as those gradients are."""
        if self.returned is None or self.uses_loss_scaling:
            return []
        losses = {id(t) for t in self.losses()}
        tensors = [t for t in tf.nest.flatten(self.returned) if isinstance(t, tf.Tensor)]
        return [t for t in _flat_float_tensors(tensors) if id(t) not in losses]

    def _gradient_tensors(self) -> list[tf.Tensor]:
        # A LossScaleOptimizer skips steps whose scaled gradients overflow, by design:
        # those gradients are not an alarm; the loss and the variables still are.
        if self.uses_loss_scaling or not self.check_gradients:
            return []
        return _flat_float_tensors(self.gradients)

    def _optimizer_owned(self) -> set[int]:
        owned = set()
        for optimizer in self.optimizers:
            for v in _tf_compat.optimizer_variables(optimizer):
                inner = _tf_compat.as_tf_variable(v)
                owned.add(id(inner if inner is not None else v))
        return owned

    def _written_floats(self, owned_by_optimizer: bool) -> list[tf.Variable]:
        """The float variables the step wrote: the optimizers' own state (moments,
        velocities) or everything else. known_variables' order (first write first) keeps the
        history's columns stable across traces."""
        owned = self._optimizer_owned()
        return [
            v
            for key, v in self.known_variables.items()
            if (key in self.saved or key in self.host_written)
            and (key in owned) == owned_by_optimizer
            and v.dtype.is_floating
        ]

    def _checked_variables(self) -> list[tf.Variable]:
        return self._written_floats(owned_by_optimizer=False)

    def _state_ok(self, grad_half: tf.Tensor | None) -> tf.Tensor:
        """Whether the optimizers' state the step wrote is finite, read element by element
        only on a step whose gradients' sum of squares overflowed (some |g| > ~1e19): their
        squares, which Adam, RMSprop or Adagrad keep, are Inf then although every gradient is
        finite. RMSprop's velocity at Inf makes every later update g / sqrt(Inf) = 0: the
        weights stay finite and frozen, no NaN ever shows, and only this check sees it. Any
        other way into the state (a NaN gradient, a NaN rate) shows in the gradients or the
        weights, so healthy steps pay two small ops, not a reduction per slot."""
        state = self._written_floats(owned_by_optimizer=True)
        if not state or grad_half is None:
            return tf.constant(True)

        def exact() -> tf.Tensor:
            return _every_element_finite([v.value() for v in state], flatten=False)

        return _tf_compat.unlowered_cond(
            tf.math.is_inf(grad_half), exact, lambda: tf.constant(True)
        )

    def check_usage(self, fn_name: str) -> None:
        distributed.check_supported(self.strategy, "nantrace.watch")
        if not self.gradients:
            raise NantraceError(
                f"nantrace.watch: `{fn_name}` computed no gradients (no tf.GradientTape.gradient "
                "call was seen); watch a training step that calls tape.gradient(loss, variables) "
                "and optimizer.apply_gradients(...), or use nantrace.keras.NanTraceCallback() "
                "with model.fit"
            )
        if not self.optimizers and not self.wrote_trainable and self.expect_optimizer:
            raise NantraceError(
                f"nantrace.watch: `{fn_name}` computed gradients but never updated a trainable "
                "variable (no Keras optimizer apply_gradients/apply call was seen); apply the "
                "update inside the watched step, or pass optimizer=... to nantrace.watch if it "
                "is applied elsewhere"
            )

    def _loss_scale_ok(self) -> tf.Tensor:
        """Loss scaling hides overflowing gradients by skipping steps; a scale that collapsed
        below LOSS_SCALE_FLOOR means every step is being skipped — that is an alarm."""
        scales = [
            tf.cast(optimizer.dynamic_scale, tf.float32)
            for optimizer in self.optimizers
            if getattr(optimizer, "dynamic_scale", None) is not None
        ]
        if not scales:
            return tf.constant(True)
        return tf.reduce_all(tf.stack([scale >= LOSS_SCALE_FLOOR for scale in scales]))

    def finalize(self) -> tf.Tensor:
        """Check the step and roll it back if anything is non-finite; returns the status."""
        with hooks.suspended(self):
            losses = self.losses()
            # the values a step returns are usually a few scalars: their exact check costs
            # less than a sum of squares and its conditional, and is no op for a step that
            # returns only its loss
            returned = self.returned_values()
            outputs_ok = (
                _every_element_finite(returned, flatten=False) if returned else tf.constant(True)
            )
            gradient_tensors = self._gradient_tensors()
            checked = self._checked_variables()
            # value(): the read without read_value()'s extra Identity op
            values = [v.value() for v in checked]
            weight_halves = half_squares(values)
            names = tuple(v.name for v in checked)
            kernels = tuple(len(v.shape) >= 2 for v in checked)
            if (self.gate or self.host_restore) and not tf.executing_eagerly():
                # a re-run from the anchor must redraw the same numbers (STATEFUL_RANDOM_OPS)
                self.replayable = replayable(tf.compat.v1.get_default_graph())
            if self._tail_compiles():
                return self._fused_tail(
                    losses, gradient_tensors, values, weight_halves, names, kernels, outputs_ok
                )
            loss_ok, grads_ok = self._loss_grad_flags(losses, gradient_tensors)
            if self.uses_loss_scaling:
                grads_ok = tf.logical_and(grads_ok, self._loss_scale_ok())
            vars_ok = all_finite(values, weight_halves)
            vars_ok = tf.logical_and(
                vars_ok, self._state_ok(self._sum_of_squares(gradient_tensors))
            )
            if self.history is not None or self.detector is not None:
                loss_mean = _loss_mean(losses)
                grad_sq, weight_squares = _norms(
                    self._sum_of_squares(gradient_tensors), weight_halves
                )
            if self.history is not None:
                self.history.record(loss_mean, grad_sq, weight_squares, names)
            tripped = _tripped(loss_ok, grads_ok, vars_ok, outputs_ok)
            warning = (
                self.detector.update(
                    loss_mean,
                    grad_sq,
                    weight_squares,
                    names,
                    kernels,
                    self._half_max(losses, values),
                    tf.logical_not(tripped),
                    compiled=self.fuse_tail,
                )
                if self.detector is not None
                else tf.constant(0)
            )
            if self.strategy is not None:  # one decision for every worker, before restoring
                tripped, *bad = distributed.agree(
                    self.strategy,
                    [
                        tripped,
                        *(tf.logical_not(f) for f in (loss_ok, grads_ok, vars_ok, outputs_ok)),
                    ],
                )
                loss_ok, grads_ok, vars_ok, outputs_ok = (tf.logical_not(f) for f in bad)
            restore_list = [
                (variable, old)
                for key, (variable, old) in self.saved.items()
                if key not in self.host_written
            ]

            def restore() -> tf.Tensor:
                for variable, old in restore_list:
                    variable.assign(old, read_value=False)
                return tf.constant(True)

            if restore_list:
                tf.cond(tripped, restore, lambda: tf.constant(False))
            if self.late_write or self.host_restore:
                # the step's writes ran: the host undoes them from its anchor
                committed = tripped
            elif self.applied:  # gated: only a trip after an applied (finite) update
                any_applied = (
                    self.applied[0]
                    if len(self.applied) == 1
                    else tf.reduce_any(tf.stack(self.applied))
                )
                committed = tf.logical_and(tripped, any_applied)
            else:
                committed = tf.constant(False)
            return _status(
                tripped,
                loss_ok,
                grads_ok,
                vars_ok,
                committed,
                warning,
                self.host_restore,
                outputs_ok,
            )

    def _tail_compiles(self) -> bool:
        """Whether the checks after the step run as one XLA cluster (:meth:`_fused_tail`):
        when asked (``fuse_tail``), with the early-warning detectors (without them one call
        costs more than the ops it replaces, ``python -m bench.parts tail``), under
        host restore (nothing is decided in-graph after the step, so nothing of the user's
        computation waits on the cluster), outside tf.distribute (its replicas agree on a
        trip with a collective, which no cluster can hold), where XLA compiles."""
        return (
            self.fuse_tail
            and self.detector is not None
            and self.host_restore
            and self.strategy is None
            and not tf.executing_eagerly()
            and not tf.distribute.has_strategy()
            and _tf_compat.xla_compiles()
        )

    def _fused_tail(
        self,
        losses: list[tf.Tensor],
        grads: list[tf.Tensor],
        values: list[tf.Tensor],
        weight_halves: list[tf.Tensor],
        names: tuple[str, ...],
        kernels: tuple[bool, ...],
        outputs_ok: tf.Tensor,
    ) -> tf.Tensor:
        """Everything after the sums of squares as ONE XLA cluster: the finite flags (with
        the element-wise check in an XLA conditional per group, run only on a sum of +Inf),
        the history's row, the detectors' update and the status vector. As separate ops
        these are ~40-70 small ops and two ``tf.cond`` s: while those conds were lowered to a
        ``Switch`` per checked tensor, the cluster saved 3-4 % of a 3-6 ms step on the 2-core
        test machine; with them kept one ``If`` op each (``compat.tf.unlowered_cond``) the two
        cost about the same (``python -m bench.parts tail``, ``watch(fuse_tail: one XLA
        cluster)`` against ``watch``; bench/README.md), so it runs only when
        ``Watched.fuse_tail`` is set: by default for a step the user compiles with XLA, after
        whose cluster the separate ops cost ~4 % more of the MLP's step than this one cluster
        (``--workload mlp-xla``). The sums themselves stay outside, as TensorFlow's
        multi-threaded reductions; the cluster only reads the tensors in the rare exact check.
        Healthy steps are untouched: the cluster reads the step's tensors and writes only the
        guard's own state."""
        history, detector = self.history, self.detector
        loss_half = self._sum_of_squares(losses)
        grad_half = self._sum_of_squares(grads)
        scale_ok = self._loss_scale_ok()
        state_ok = self._state_ok(grad_half)
        half_max = self._half_max(losses, values) if detector is not None else None
        loss_mean = _loss_mean(losses) if history is not None or detector is not None else None
        if history is not None:
            history.prepare(names)
        if detector is not None:
            detector.prepare(names, kernels)

        def tail(
            losses: list[tf.Tensor],
            grads: list[tf.Tensor],
            values: list[tf.Tensor],
            loss_half: tf.Tensor | None,
            grad_half: tf.Tensor | None,
            halves: tf.Tensor,
            loss_mean: tf.Tensor | None,
            half_max: tf.Tensor | None,
            scale_ok: tf.Tensor,
            state_ok: tf.Tensor,
            outputs_ok: tf.Tensor,
        ) -> tf.Tensor:
            weights_half = tf.reduce_sum(halves) if values else None
            loss_ok, grads_ok, vars_ok = finite_groups(
                [losses, grads, values], [loss_half, grad_half, weights_half], flatten=True
            )
            grads_ok = tf.logical_and(grads_ok, scale_ok)
            vars_ok = tf.logical_and(vars_ok, state_ok)
            tripped = _tripped(loss_ok, grads_ok, vars_ok, outputs_ok)
            warning = tf.constant(0)
            if loss_mean is not None:
                grad_sq, squares = _grad_sq(grad_half), 2.0 * halves
                if history is not None:
                    history.record(loss_mean, grad_sq, squares, names)
                if detector is not None:
                    warning = detector.update_ops(
                        loss_mean,
                        grad_sq,
                        squares,
                        names,
                        kernels,
                        half_max,
                        tf.logical_not(tripped),
                    )
            # host restore: every trip is undone by the host (committed)
            return _status(tripped, loss_ok, grads_ok, vars_ok, tripped, warning, True, outputs_ok)

        compiled = _tf_compat.own_function(tail, jit_compile=True, autograph=False)
        return compiled(
            losses,
            grads,
            values,
            loss_half,
            grad_half,
            # one vector, not a scalar per variable: every input adds to the call's fixed
            # cost (``python -m bench.parts launch``)
            tf.stack(weight_halves) if weight_halves else tf.zeros([0], tf.float32),
            loss_mean,
            half_max,
            scale_ok,
            state_ok,
            outputs_ok,
        )

    def _half_max(self, losses: list[tf.Tensor], values: list[tf.Tensor]) -> tf.Tensor | None:
        """Largest |x| of the float16 tensors the step shows (loss, gradients) and of its
        kernels (cast to float16 by a float16 policy), only when float16 is in use."""
        from nantrace.live.early_warning import float16_policy

        # scaled gradients (loss scaling) are meant to be large: only unscaled ones count
        grads = [] if self.uses_loss_scaling else _flat_float_tensors(self.gradients)
        halves = [t for t in losses + grads if t.dtype == tf.float16]
        if not halves and not float16_policy():
            return None
        tensors = halves + [v for v in values if len(v.shape) >= 2]
        if not tensors:
            return None
        return tf.reduce_max(
            tf.stack([tf.cast(tf.reduce_max(tf.abs(t)), tf.float32) for t in tensors])
        )
