"""``nantrace.watch``: guard every step cheaply, and diagnose the first one that goes non-finite.

The healthy path is the user's step plus the in-graph sentinel (:mod:`nantrace.live.sentinel`) and
one host read of a 6-element status vector (trip flags and the early-warning bits). Only when
the sentinel trips does nantrace do expensive work: it replays the step eagerly with per-op
capture and builds the report.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import time
import types
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.errors import NantraceError, NonFiniteError, NonFiniteWarning
from nantrace.live import iterators, outside_writes
from nantrace.live.early_warning import EarlyWarning, check_mode
from nantrace.live.history import History
from nantrace.live.sentinel import (
    STATUS_COMMITTED,
    STATUS_GRADIENTS,
    STATUS_LOSS,
    STATUS_OUTPUTS,
    STATUS_SIZE,
    STATUS_TRIPPED,
    STATUS_VARIABLES,
    STATUS_WARNING,
    StepSentinel,
)
from nantrace.replay import hooks
from nantrace.report.records import Report, Trip

ON_NAN_MODES = ("raise", "warn", "stop")
#: Steps between two host snapshots used to verify learning-rate and clipping fixes.
ANCHOR_EVERY = 50
#: A trip under host restore re-runs the steps since the anchor (up to ANCHOR_EVERY): a step
#: slower than RERUN_BUDGET_S / anchor_every seconds (over its first PACE_STEPS healthy steps)
#: is re-anchored every RERUN_BUDGET_S / pace steps instead, so a report never waits more than
#: about this long for the re-run (time to report: <= 10 s is the goal at 30 M parameters).
RERUN_BUDGET_S = 8.0
PACE_STEPS = 3
#: Fewer steps than this between two anchors (a step slower than RERUN_BUDGET_S / this) and
#: the step is gated instead: each anchor costs one copy of the state at the next write.
#: Above it, host restore costs less than the gate: on bench.memory's MLP 1.07 against 1.12 of
#: the plain step at 30 M parameters and 1.06 against 1.15 at 100 M (``python -m bench.parts
#: restore``: the gate makes every update wait for every gradient). Below it the anchors' copies
#: cost more than the gate: at 100 M, anchored every 4 steps, 1.17-1.24 against the gate's
#: 1.08-1.10, with the same watched peak memory (3979 against 3982 MB) and a report that waits
#: for the re-run (11.4 s against 1.3 s) (``bench.parts restore --size 100m`` and
#: ``bench.memory --sizes 100m`` at f428c21, which had this at 4; bench/README.md).
MIN_ANCHOR_EVERY = 10
#: A re-run from the anchor is checked against the original run's history rows: the loss
#: (the forward pass of the restored state) and every weight norm (the state after each step)
#: bit for bit; the gradient norm to this relative tolerance. Its last bit is not always
#: reproducible between runs of the same step (``bench.memory``'s 30 M-parameter MLP on a
#: 2-core AVX-512 CPU: in 4 of 15 trips one re-run row's gradient norm differed by 1 ulp while
#: every variable came back bit-identical), so an exact comparison called exact restores
#: inexact.
GRAD_NORM_RTOL = 1e-6
#: Re-anchor early once the batches kept since the anchor pass this many bytes (or a quarter
#: of the state, whichever is larger): the guard's default budget is the anchor (one copy of
#: the state) plus at most max(256 MiB, state / 4) of kept batches (docs/how-it-works.md).
ANCHOR_BATCH_BYTES = 256 * 2**20
ANCHOR_STATE_FACTOR = 0.25
#: The largest state (trainable + optimizer bytes) kept as a host anchor; None: a quarter of
#: the machine's physical memory. A larger state gets no anchor and is guarded in copy mode
#: (one copy of the state it writes during each step, on its device) instead.
ANCHOR_MAX_BYTES: int | None = None
#: Under ``on_nan="warn"``, after this many trips in a row (no step trained between them) one
#: warning says training is not moving; later trips of that run are restored and counted, but
#: not diagnosed, bundled or warned one by one until a step trains (each report is a replay,
#: and they would all say the same; optax's ``apply_if_finite`` bounds consecutive skipped
#: updates for the same reason).
STUCK_AFTER = 10
#: Writes between steps (to variables the step never writes, as a learning rate) closer than
#: this many steps are kept per step instead of anchored after (``Watched._on_write_between``).
FREQUENT_WRITES = 10


class Watched:
    """A training step wrapped by :func:`watch`. Call it exactly like the original.

    Attributes:
        step: number of calls so far (the index the next call will have).
        reports: the reports of the tripped steps, oldest first (one per trip, but none for
            the trips past STUCK_AFTER in a row under ``on_nan="warn"``). Under
            ``on_nan="warn"`` only the first trip's report has verified fixes; later trips get
            the same replay, origin, cause and ranked fixes, but their fixes are not verified
            (replaying each candidate costs up to seconds per trip), and a note says so.
        trips: how many steps tripped the guard (non-finite loss, gradient or variable). Under
            ``on_nan="warn"`` each was skipped with its state restored: the first trip warns
            with the full report, every later one with one line (``Report.headline()``), and
            the count is printed once to stderr at interpreter exit (or when this object is
            garbage-collected). After STUCK_AFTER trips in a row (no step trained between) one
            line says training is not moving; later trips of that run get no report or
            warning, only the count, until a step trains.
        stopped: True once a trip happened with ``on_nan="stop"``; later calls do not run the
            step and return None, so a loop can check ``if train_step.stopped: break``.
        early_warnings: a :class:`~nantrace.report.warning_records.DivergenceReport` per early
            warning (one per episode of growth, before any value is non-finite), oldest first.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        model: Any = None,
        optimizer: Any = None,
        on_nan: str = "raise",
        bundle_dir: str | None = None,
        history: bool = True,
        anchor_every: int = ANCHOR_EVERY,
        verify: bool = True,
        log_dir: str | None = None,
        early_warning: str = "warn",
        check_outputs: bool = True,
    ) -> None:
        self.early_warning = check_mode(early_warning, "nantrace.watch")
        #: the options, for the per-instance guard of a decorated method (``__get__``).
        self._options: dict[str, Any] = dict(
            model=model,
            optimizer=optimizer,
            on_nan=on_nan,
            bundle_dir=bundle_dir,
            history=history,
            anchor_every=anchor_every,
            verify=verify,
            log_dir=log_dir,
            early_warning=early_warning,
            check_outputs=check_outputs,
        )
        if on_nan not in ON_NAN_MODES:
            raise NantraceError(
                f"nantrace.watch: on_nan must be one of {', '.join(ON_NAN_MODES)}; "
                f"received on_nan={on_nan!r}"
            )
        if not callable(fn):
            raise NantraceError(
                f"nantrace.watch: expected a training-step function, received {type(fn).__name__}"
            )
        self.fn = fn
        self.model = model
        self.optimizer = optimizer
        self.on_nan = on_nan
        self.bundle_dir = bundle_dir
        #: replay the top fixes after a trip (seconds of work); False: rank them unchecked.
        self.verify = bool(verify)
        #: also trip on a non-finite float value the step returns (a metric it logs).
        self.check_outputs = bool(check_outputs)
        self.anchor_every = max(0, int(anchor_every))
        self.step = 0
        self.reports: list[Report] = []
        self.stopped = False
        self.name = getattr(fn, "__name__", type(fn).__name__)
        #: shared with the exit summary, which must not hold a reference to this object.
        self._tally = _Tally(name=self.name, on_nan=on_nan)
        self._exit_summary: weakref.finalize | None = None
        self.compiled = _tf_compat.is_tf_function(fn)
        self.python_fn = fn.python_function if self.compiled else fn
        self.jit_compile = bool(_tf_compat.tf_function_options(fn).get("jit_compile"))
        self.known_variables: dict[int, tf.Variable] = {}
        self.history = History() if history else None
        #: the in-graph early-warning detectors (None when early_warning="off").
        self.detector = EarlyWarning() if self.early_warning != "off" else None
        self.early_warnings: list[Any] = []
        #: the warning bit mask of the last run_checked step (0: no new warning).
        self.last_warning = 0
        self.optimizers: list[Any] = [optimizer] if optimizer is not None else []
        #: the tf.distribute strategy the step's replicas run under, once traced (or None).
        self.strategy: Any = None
        #: the last healthy batches (references, no copies), re-run when verifying fixes.
        self.recent: collections.deque[tuple[tuple, dict]] = collections.deque(maxlen=8)
        #: a host copy of the state every ANCHOR_EVERY steps, and the batches run since: fixes
        #: of the training dynamics (learning rate, clipping) are verified from there.
        self.anchor: Any = None
        self.since_anchor: list[tuple[tuple, dict]] = []
        #: the step number of each batch in ``since_anchor`` (a trip between them is not one)
        self._since_anchor_steps: list[int] = []
        self._since_anchor_bytes = 0
        self._anchor_bytes = 0
        #: a trip restored from the anchor raised: anchor the restored state before the next step
        self._anchor_before_next_call = False
        #: ... even with no step since the anchor (a write between: ``_after_write_outside``)
        self._anchor_forced = False
        #: the last step's bits of the small variables no trace writes (outside_writes)
        self._unwritten_bits: bytes | None = None
        #: the changes between two steps of each small variable the step never writes, by
        #: id of its tf.Variable (outside_writes.WritesBetween)
        self.writes_between: dict[int, outside_writes.WritesBetween] = {}
        #: the step of the last such write, and (frequent writes) the values each step since
        #: the anchor saw, by step
        self._last_write_between: int | None = None
        self._written_between: dict[int, list[tuple[tf.Variable, np.ndarray]]] = {}
        #: the variables whose bits the last trace appended to the status, in order
        self._unwritten: list[tf.Variable] = []
        #: trips since the last step that trained, and the step of the first of them
        self._trips_in_a_row = 0
        self._first_in_a_row = 0
        #: keep a host anchor (verification replays from it); False: copy mode, no anchor.
        self.gated = self.compiled and self.anchor_every > 0
        #: with an anchor, the step runs exactly as the unwatched one and every trip is undone
        #: by restoring the anchor and re-running the batches since it (see
        #: nantrace.live.sentinel). False: the update is gated in-graph instead, for a step too
        #: slow to re-run even a few of (RERUN_BUDGET_S and MIN_ANCHOR_EVERY, decided after
        #: its first healthy steps), and under
        #: tf.distribute (one host cannot re-run the replicas' collectives; they are copied).
        self.host_restore = True
        #: wall seconds of the first healthy steps, until the choice above is made.
        self._paces: list[float] | None = [] if self.gated and not self.jit_compile else None
        self._nested = False
        self._copy_mode_wanted = False
        #: variables any trace wrote under host restore or inside the gate (the only ones the
        #: anchor re-run has to put back).
        self._host_written: set[int] = set()
        #: run the checks after the step and the detectors as one XLA cluster where it can
        #: (see nantrace.live.sentinel). On for a step the user compiles with XLA: after its
        #: cluster, the separate ops cost more than one more cluster (``python -m bench.parts
        #: tail --workload mlp-xla``), and XLA's runtime is loaded and its compile paid anyway.
        #: Off otherwise: in a whole step it is no faster than separate ops (``--workload
        #: attention``), and it would cost a compile at the first call and ~110 MB of resident
        #: memory for XLA's runtime (``python -m bench.memory``).
        self.fuse_tail = self.jit_compile
        self._reader: tuple[list[tf.Variable], Any] | None = None
        self._reader_key: tuple[int, int, int] | None = None
        if self.compiled:
            self._step_fn = self._make_step_fn()
            self._user_callable = _autograph_converted(self.python_fn, fn)
        else:
            self._step_fn = self._guarded_body
            self._user_callable = self.python_fn
        functools.update_wrapper(self, fn, updated=())
        hooks.keep_installed()
        #: ids of the anchored variables; the name of one written eagerly outside the step
        #: since the last call (hooks.listen_to_writes), the step before which the last such
        #: write was anchored, and what the anchor re-run cannot reproduce (for its note)
        self._anchor_ids: frozenset[int] = frozenset()
        self._written_outside: str | None = None
        self._last_outside_anchor: int | None = None
        self._unreproducible = ""
        hooks.listen_to_writes(self)
        #: TensorBoard events of the history and reports (nantrace.live.tensorboard), or None.
        self.log_dir = None if log_dir is None else str(log_dir)
        self._tensorboard: Any = None
        if self.log_dir is not None:
            from nantrace.live.tensorboard import TensorBoardWriter

            self._tensorboard = TensorBoardWriter(self.log_dir)

    # -- the guarded step ---------------------------------------------------------------------
    def _make_step_fn(self) -> Any:
        """The guarded step as a tf.function with the user's options, called without
        tf.function's per-call dispatch where its arguments allow (``DirectCalls``); an
        anchored XLA step is split (see :meth:`_run_compiled`): the guard's own ops run outside
        the XLA cluster."""
        options = _tf_compat.tf_function_options(self.fn)
        if self.jit_compile and self.gated:
            options["jit_compile"] = False
        # own_function: TensorFlow counts this step's traces for it alone, not with every
        # other watched step's (they share _guarded_body's code), now that direct calls,
        # which it does not see, no longer dilute them
        return _tf_compat.DirectCalls(_tf_compat.own_function(self._guarded_body, **options))

    def _run_compiled(
        self, sentinel: StepSentinel, args: tuple, kwargs: dict
    ) -> tuple[Any, list[tf.Tensor], dict]:
        """Run the user's step, observed, as its own XLA function with nothing of the guard
        inside but the loss as one more output: XLA compiles the very computation of the
        unwatched step (any extra reader of a gradient changes its fusion), and the checks,
        history and detectors run after it as ordinary TensorFlow ops (multi-threaded
        reductions, no conditional in the cluster). There is no gate: every trip is undone from
        the anchor by re-running the batches since it (``_restore_committed``)."""

        def compiled_step(*a: Any, **k: Any) -> tuple[Any, list[tf.Tensor], dict]:
            # tf.function traces twice when the first trace creates variables (optimizer
            # slots): only this trace's tensors can be its outputs
            del sentinel.targets[:], sentinel.gradients[:], sentinel.consumed[:]
            with hooks.observing(sentinel):
                out = self._user_callable(*a, **k)
            with hooks.suspended(sentinel):
                return out, sentinel.losses(), iterators.consumed_outputs(sentinel.consumed)

        step = _tf_compat.own_function(compiled_step, jit_compile=True, autograph=False)
        return step(*args, **kwargs)

    @tf.autograph.experimental.do_not_convert
    def _guarded_body(self, *args: Any, **kwargs: Any) -> tuple[Any, tf.Tensor, dict]:
        split = self.jit_compile and self.gated and not self._nested
        host_restore = split or (self.gated and not self._nested and self.host_restore)
        sentinel = StepSentinel(
            self.known_variables,
            expect_optimizer=self.optimizer is None,
            history=self.history,
            check_gradients=not self.jit_compile,
            detector=self.detector,
            host_restore=host_restore,
            gate=self.gated and not self._nested,
            fuse_tail=self.fuse_tail,
        )
        if not host_restore:
            sentinel.save_known()
        sentinel.iterator_keys = iterators.iterator_keys(args, kwargs)
        consumed: dict | None = None
        if split:
            outputs, losses, consumed = self._run_compiled(sentinel, args, kwargs)
        else:
            with hooks.observing(sentinel):
                outputs = self._user_callable(*args, **kwargs)
        sentinel.check_usage(self.name)
        sentinel.returned = outputs if self.check_outputs else None
        if split:  # the XLA function's tensors cannot be used out here: its outputs are
            sentinel.targets, sentinel.gradients = [losses], []
        for optimizer in sentinel.optimizers:
            if all(optimizer is not o for o in self.optimizers):
                self.optimizers.append(optimizer)
        status = sentinel.finalize()
        if not self._nested and sentinel.strategy is None and not tf.distribute.has_strategy():
            from nantrace.replay.step import step_variables

            # the bits of the small variables no trace writes (a learning rate): the host sees
            # a write between steps and anchors after it (nantrace.live.outside_writes)
            unwritten = outside_writes.unwritten(step_variables(self), set(self.known_variables))
            self._unwritten = unwritten
            status = tf.concat([status, outside_writes.bits(unwritten)], 0)
        self.strategy = sentinel.strategy or self.strategy
        self._host_written.update(sentinel.host_written)
        if not sentinel.replayable:
            self._copy_mode_wanted = True
        # the batches next(iterator) returned: the replay runs on these, not on the iterator
        if consumed is None:
            consumed = iterators.consumed_outputs(sentinel.consumed)
        return outputs, status, consumed

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None
        if _tf_compat.inside_graph():
            # Placed inside an outer tf.function: guard and roll back in-graph; the host
            # cannot replay from here, so the outer caller sees the restored state only.
            self._nested = True
            try:
                outputs, _, _ = self._guarded_body(*args, **kwargs)
            finally:
                self._nested = False
            return outputs
        if self._written_outside is not None:
            self._after_write_outside()
        if self._anchor_before_next_call:
            self._anchor_before_next_call = False
            if self.since_anchor or self._anchor_forced:
                self._take_anchor()
            self._anchor_forced = False
        if self.anchor is None and self.compiled and self.anchor_every:
            # Trace first (creating optimizer slots) so the first anchor is the true
            # pre-training state, before step 0 runs.
            self._step_fn.get_concrete_function(*args, **kwargs)
            if self.strategy is not None and self.host_restore and not self.jit_compile:
                # replicas: their collectives cannot be re-run by one host alone
                self.host_restore = False
                self._step_fn = self._make_step_fn()
            self._use_copy_mode_if_wanted()
            self._take_anchor()
        began = time.perf_counter()
        outputs, status, consumed = self._step_fn(*args, **kwargs)
        args, kwargs = iterators.substitute(args, kwargs, consumed)
        self._use_copy_mode_if_wanted()
        flags = status.numpy()
        seconds = time.perf_counter() - began
        step = self.step
        self.step += 1
        # a variable the step never writes changed since the last call: written between them
        unwritten = flags[STATUS_SIZE:]
        as_bytes = unwritten.tobytes()  # (bytes compare in ~0.1 us, arrays ~3)
        written_between = self._unwritten_bits is not None and as_bytes != self._unwritten_bits
        if written_between:
            self._count_writes_between(self._unwritten_bits or b"", unwritten)
        self._unwritten_bits = as_bytes
        if flags[STATUS_TRIPPED]:
            trip = Trip(
                step=step,
                loss=bool(flags[STATUS_LOSS]),
                gradients=bool(flags[STATUS_GRADIENTS]),
                variables=bool(flags[STATUS_VARIABLES]),
                outputs=bool(flags[STATUS_OUTPUTS]),
            )
            if consumed:
                self._materialize_kept()
            if not self._trips_in_a_row:
                self._first_in_a_row = step
            self._trips_in_a_row += 1
            notes = self._restore_committed() if flags[STATUS_COMMITTED] else []
            # training may go on (warn, or a caught NonFiniteError) from the pre-step state
            # just restored: anchor it, so the next trip re-runs only the steps after this one
            reanchor = bool(flags[STATUS_COMMITTED] and self.anchor is not None)
            try:
                self._on_trip(trip, args, kwargs, notes)
            except BaseException:
                # raised: the anchor the report was built from stays for inspection until the
                # next call, which anchors first
                self._anchor_before_next_call = reanchor
                raise
            finally:
                self.flush_log()  # the rows up to the trip and its report, even when it raises
            if reanchor and self.since_anchor:
                self._take_anchor()
        else:
            self._trips_in_a_row = 0
            kept, size = _kept_batch(args, kwargs)
            self.recent.append(kept)
            self._advance_anchor(kept, size)
            if written_between and self.anchor is not None:
                self._on_write_between(step, unwritten)
            if self._paces is not None:
                self._choose_restore(seconds)
            if self._tensorboard is not None and self.step % _flush_every() == 0:
                self.flush_log()
            if flags[STATUS_WARNING]:
                from nantrace.live.early_warning import on_warning

                on_warning(self, step, int(flags[STATUS_WARNING]), args, kwargs)
        return outputs

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """``@nantrace.watch`` on a method: each instance gets its own guard around its bound
        step (its own history, anchor and reports), made at first access and kept on the
        instance, as ``tf.function`` does for methods."""
        if instance is None:
            return self
        key = f"_nantrace_watched_{id(self)}"
        bound = getattr(instance, "__dict__", {}).get(key)
        if bound is None:
            bound = Watched(self.fn.__get__(instance, owner), **self._options)
            try:
                instance.__dict__[key] = bound
            except (AttributeError, TypeError):  # __slots__: a new guard per access
                pass
        return bound

    def fresh_runner(self, early_warning: str = "off") -> Watched:
        """A new guard around the same step, model and optimizer, sharing no trace or history:
        what verification re-runs fixes on (see ``verify.StepRunner``). ``early_warning``:
        "warn" keeps the detectors in its graph (``run_checked`` then sets ``last_warning``)."""
        runner = Watched(
            tf.function(self.python_fn),
            model=self.model,
            optimizer=self.optimizer,
            early_warning=early_warning,
            check_outputs=self.check_outputs,
        )
        return runner

    @contextlib.contextmanager
    def own_runner(self) -> Iterator[Watched]:
        """This guard's own compiled step, to re-run fixes that change no attribute read at
        trace time (a learning rate, a batch transform, re-drawn weights): its traces, with
        the user's tf.function options, are reused where a fresh runner re-traces (seconds at
        30 M parameters). What the re-runs write to the history and detectors is put back
        afterwards, as after the anchor re-run. An eager step, or one with an input signature
        (a filtered batch has fewer rows), gets a fresh runner instead."""
        if not self.compiled or "input_signature" in _tf_compat.tf_function_options(self.fn):
            yield self.fresh_runner()
            return
        history = self.history.state() if self.history is not None else None
        detector = self.detector.state() if self.detector is not None else None
        last_warning = self.last_warning
        try:
            yield self
        finally:
            if history is not None:
                self.history.set_state(history)  # type: ignore[union-attr]
            if detector is not None:
                self.detector.set_state(detector)  # type: ignore[union-attr]
            self.last_warning = last_warning

    def reanchor(self) -> None:
        """Anchor the current state now. Call it after a write, outside the step, that the
        guard cannot see (one made inside another ``tf.function``, as a compiled weight clip):
        a trip is undone from the last anchor and the batches run since it, which cannot see
        such a write, so the state put back would lack it. Eager writes (``set_weights``,
        ``load_weights``, ``assign``, a checkpoint restore) are seen and anchored after."""
        if self.anchor is not None:
            self._take_anchor()

    def run_checked(self, *args: Any, **kwargs: Any) -> tuple[Any, bool]:
        """One guarded step with no diagnosis: ``(outputs, tripped)``. A trip is not undone
        under host restore (the caller restores its own snapshot); a warning is not acted on:
        its bit mask is left in ``last_warning``."""
        outputs, status, _ = self._step_fn(*args, **kwargs)
        flags = status.numpy()
        self.last_warning = int(flags[STATUS_WARNING])
        return outputs, bool(flags[STATUS_TRIPPED])

    def flush_log(self) -> int:
        """Write the history rows and reports not yet written to ``log_dir`` (TensorBoard); done
        every 128 steps and after a trip, call it once at the end of training for the rest.
        Returns the rows written (0 without ``log_dir``)."""
        if self._tensorboard is None:
            return 0
        return self._tensorboard.flush(self)

    def _anchor_reader(self) -> tuple[list[tf.Variable], Any]:
        """The step's variables (deduplicated) and a tf.function that reads them all, rebuilt
        only when the set of known, model or optimizer variables grew."""
        optimizer_count = sum(len(_tf_compat.optimizer_variables(o)) for o in self.optimizers)
        model_count = len(getattr(self.model, "variables", [])) if self.model is not None else 0
        key = (len(self.known_variables), optimizer_count, model_count)
        if self._reader_key != key or self._reader is None:
            from nantrace.replay.step import step_variables, unique_variables

            variables = unique_variables(step_variables(self))
            self._reader = (
                variables,
                _tf_compat.own_function(lambda: [tf.identity(v.read_value()) for v in variables]),
            )
            self._reader_key = key
        return self._reader

    def _use_copy_mode_if_wanted(self) -> None:
        """A trace found the step not replayable (a stateful random op): guard it by copying
        the state it writes from now on (one re-trace)."""
        if self._copy_mode_wanted and self.gated:
            self._copy_mode_wanted = False
            self.gated = False
            self._step_fn = self._make_step_fn()

    def _choose_restore(self, seconds: float) -> None:
        """After PACE_STEPS healthy steps (the first, traced, not counted): a step so slow
        that re-running ``anchor_every`` of them after a trip would take more than
        RERUN_BUDGET_S is re-anchored every RERUN_BUDGET_S / pace steps instead; if fewer
        than MIN_ANCHOR_EVERY steps fit, it gets the gated update (one re-trace)."""
        paces = self._paces
        assert paces is not None
        paces.append(seconds)
        if len(paces) <= PACE_STEPS:
            return
        self._paces = None
        pace = min(paces[1:])
        if self.host_restore and self.gated and pace * self.anchor_every > RERUN_BUDGET_S:
            fitting = int(RERUN_BUDGET_S / pace) if pace > 0 else self.anchor_every
            if fitting >= MIN_ANCHOR_EVERY:
                self.anchor_every = fitting
                return
            self.host_restore = False
            self._step_fn = self._make_step_fn()
            # re-runs go through the step that recorded the history they are checked against
            self._take_anchor()

    def _advance_anchor(self, batch: tuple[tuple, dict], size: int) -> None:
        """After a healthy step: keep the batch (``size`` bytes); re-anchor every
        ``anchor_every`` steps, or sooner when the kept batches outgrow max(ANCHOR_BATCH_BYTES,
        ANCHOR_STATE_FACTOR x the state), so large batches (images) never pile up in memory."""
        if not self.anchor_every:
            return
        if self.anchor is not None and len(self.since_anchor) < self.anchor_every:
            if self._since_anchor_bytes + size <= max(
                ANCHOR_BATCH_BYTES, ANCHOR_STATE_FACTOR * self._anchor_bytes
            ):
                self.since_anchor.append(batch)
                self._since_anchor_steps.append(self.step - 1)
                self._since_anchor_bytes += size
                return
        self._take_anchor()

    def _take_anchor(self) -> None:
        from nantrace.replay.step import StateSnapshot

        variables, reader = self._anchor_reader()
        if self.anchor is None and _state_bytes(variables) > _anchor_max_bytes():
            # Too large to keep on the host: no anchor, so no host restore either (a trip
            # after a finite update could not be undone); copy mode instead.
            self.anchor_every = 0
            if self.gated:
                self._copy_mode_wanted = True
                self._use_copy_mode_if_wanted()
            return
        # One call reads every variable (not one eager op each: a few ms on a short step's
        # budget); the arrays share the buffers (no copy now: TensorFlow copies a variable on
        # its next write), so the old anchor and the new one are never two copies at once.
        self.anchor = StateSnapshot(
            [(v, _tf_compat.host_view(value)) for v, value in zip(variables, reader(), strict=True)]
        )
        self._anchor_bytes = sum(value.nbytes for _, value in self.anchor.values)
        self.since_anchor = []
        self._since_anchor_steps = []
        self._since_anchor_bytes = 0
        self._written_between = {}
        self._anchor_ids = frozenset(id(v) for v, _ in self.anchor.values)
        self._unreproducible = ""

    def written_outside(self, variable: Any) -> None:
        """hooks: ``variable`` was written eagerly, outside any step (``set_weights``,
        ``load_weights``, an ``assign`` between steps). An anchored variable the step writes
        too makes the anchor stale (the small ones it never writes have their own check)."""
        if self.anchor is None:
            return
        inner = _tf_compat.as_tf_variable(variable)
        inner = variable if inner is None else inner
        if id(inner) in self._anchor_ids and all(inner is not v for v in self._unwritten):
            self._written_outside = getattr(inner, "name", "a variable")

    def state_replaced(self, what: str) -> None:
        """hooks: the state was written wholesale outside any step (a checkpoint restore)."""
        if self.anchor is not None:
            self._written_outside = what

    def _after_write_outside(self) -> None:
        """Anchor before this call, after the write; but when such writes come within
        FREQUENT_WRITES steps of the last anchored one (a weight clip after every step), not
        each time: that would copy the state every step. The anchor re-run then cannot
        reproduce those writes, and its note says so."""
        name, self._written_outside = self._written_outside, None
        last = self._last_outside_anchor
        if last is not None and self.step - last < FREQUENT_WRITES:
            if not self._unreproducible:
                self._unreproducible = (
                    f"{name} was written outside the step before step {self.step}"
                )
            return
        self._last_outside_anchor = self.step
        self._anchor_before_next_call = True
        self._anchor_forced = True

    def _count_writes_between(self, previous: bytes, bits: np.ndarray) -> None:
        """Count, per variable, a change between the last step and this one, with its first
        and latest values (``writes_between``)."""
        before = np.frombuffer(previous, dtype=bits.dtype)
        moved = {id(v) for v in outside_writes.changed(self._unwritten, before, bits)}
        if not moved:
            return
        # changed() found both vectors to be these variables' bits: both decode
        old = outside_writes.values(self._unwritten, before) or []
        new = outside_writes.values(self._unwritten, bits) or []
        for variable, was, now in zip(self._unwritten, old, new, strict=False):
            key = id(variable)
            if key not in moved:
                continue
            seen = self.writes_between.get(key)
            self.writes_between[key] = outside_writes.WritesBetween(
                count=1 if seen is None else seen.count + 1,
                first=was if seen is None else seen.first,
                last=now,
            )

    def _on_write_between(self, step: int, bits: np.ndarray) -> None:
        """A variable the step never writes changed before ``step`` (a healthy step): the
        steps since the anchor ran with the old value, so a re-run across the write would not
        reproduce them. Anchor after this step; but when such writes come within
        FREQUENT_WRITES steps of each other (a warm-up set before every step), anchoring after
        each would copy the state every step: keep the values this step saw instead, which
        the anchor re-run writes back before re-running it."""
        frequent = (
            self._last_write_between is not None
            and step - self._last_write_between < FREQUENT_WRITES
        )
        self._last_write_between = step
        if not frequent:
            self._take_anchor()
            return
        seen = outside_writes.values(self._unwritten, bits)  # ``bits``: as this step saw them
        if seen is None:  # the step's trace is not the one that listed them: read them
            seen = [v.numpy() for v in self._unwritten]
        self._written_between[step] = list(zip(self._unwritten, seen, strict=True))

    # -- after a trip -------------------------------------------------------------------------
    def _restore_committed(self) -> list[str]:
        """The tripping step's writes ran (host restore, or a gated update that was applied):
        put the pre-step state back from the anchor by re-running the batches since it through the same compiled step, and check
        each re-run step's recorded loss, gradient norm and weight norms bit for bit against
        the original run's."""
        anchor, batches, history = self.anchor, list(self.since_anchor), self.history
        if anchor is None:
            return [
                "the tripping step's optimizer update could not be undone (no host anchor): "
                "the state after the call is the non-finite one"
            ]
        from nantrace.replay.step import StateSnapshot, step_variables

        # Everything the step did not write under host restore is at its pre-step value (never
        # written, or restored in-graph): keep that value, whatever the re-run does to it.
        kept = StateSnapshot.take(
            [v for v in step_variables(self) if id(v) not in self._host_written]
        )
        saved_history = history.state() if history is not None else None
        original = history.read() if history is not None else None
        detector_state = self.detector.state() if self.detector is not None else None
        anchor.restore()
        problem = ""
        # (a bundle's replay sets since_anchor without its steps: nothing to write back then)
        steps = self._since_anchor_steps[-len(batches) :] if batches else []
        for index, (args, kwargs) in enumerate(batches):
            step = steps[index] if len(steps) == len(batches) else None
            for variable, value in self._written_between.get(step, ()):  # type: ignore[arg-type]
                variable.assign(value, read_value=False)  # as written before that step
            _, status, _ = self._step_fn(*args, **kwargs)
            if status.numpy()[STATUS_TRIPPED]:
                problem = "a re-run step tripped"
                break
        kept.restore()
        if detector_state is not None:
            self.detector.set_state(detector_state)  # type: ignore[union-attr]
        where = f"restored from the anchor {len(batches)} step(s) back by re-running them"
        if not batches:
            return ["optimizer update undone: restored from the anchor taken just before the step"]
        if history is None or saved_history is None or original is None:
            note = f"{where}; not checked (history=False)"
        else:
            rerun = history.read()
            if not problem:
                problem = _rows_differ(original, rerun, self._since_anchor_steps[-len(batches) :])
            history.set_state(saved_history)
            if problem and self._unreproducible:
                problem += (
                    f"; {self._unreproducible}, too often to anchor after each such write "
                    "(call reanchor() after it to keep restores exact)"
                )
            note = (
                f"{where}: NOT bit-identical to the original run ({problem}); the state is "
                "close to, not exactly, the pre-step state"
                if problem
                else f"{where}; every re-run step's loss and weight norms are bit-identical to "
                f"the original run's (gradient norms within {GRAD_NORM_RTOL:g})"
            )
        return [f"optimizer update undone: {note}"]

    def _materialize_kept(self) -> None:
        """After a trip of an iterator-fed step: the kept batches get real ``tf.data``
        iterators over the batches they consumed (one trace for the verification and anchor
        re-runs), each converted once and shared where it is kept twice. The tripping batch
        stays a :class:`~nantrace.live.iterators.ConsumedBatches`: the replay must see its tensors
        themselves to name the rows of a bad batch."""
        done: dict[int, tuple[tuple, dict]] = {}

        def convert(batch: tuple[tuple, dict]) -> tuple[tuple, dict]:
            if id(batch) not in done:
                done[id(batch)] = iterators.materialized(batch)
            return done[id(batch)]

        self.recent = collections.deque((convert(b) for b in self.recent), maxlen=8)
        self.since_anchor = [convert(b) for b in self.since_anchor]

    def diagnose(self, trip: Trip, args: tuple, kwargs: dict, verify: bool | None = None) -> Report:
        """Replay the (already restored) step with per-op capture and build the report."""
        from nantrace.diagnosis.pipeline import build_report

        return build_report(self, trip, args, kwargs, verify=verify)

    @property
    def trips(self) -> int:
        """How many steps tripped the guard so far (see the class docstring)."""
        return self._tally.trips

    @trips.setter
    def trips(self, value: int) -> None:
        self._tally.trips = int(value)
        self._tally.summarized = min(self._tally.summarized, self._tally.trips)

    def _on_trip(
        self, trip: Trip, args: tuple, kwargs: dict, notes: list[str] | None = None
    ) -> None:
        self._tally.trips += 1
        number = self._tally.trips
        repeat = self.on_nan == "warn" and number > 1
        if repeat and self._trips_in_a_row > STUCK_AFTER:
            return  # counted and restored; the stuck warning said why no more is said
        from nantrace.live import distributed

        workers = distributed.worker_count(self.strategy)
        if repeat:
            # A later trip under warn: the same replay and origin, but no fix verification
            # (which replays every candidate fix, up to seconds per trip).
            report = self._diagnose_unverified(trip, args, kwargs)
        else:  # multi-worker: verifying would run collectives the other workers do not
            report = self.diagnose(trip, args, kwargs, verify=False if workers > 1 else None)
        if workers > 1:  # every worker gets the one merged report
            report = distributed.merge_reports(
                self.strategy, report, bundle=self.bundle_dir is not None
            )
        if notes:
            report = dataclasses.replace(report, notes=(*report.notes, *notes))
        if self.bundle_dir is not None and (
            workers == 1 or distributed.worker_index(self.strategy) == 0
        ):
            from nantrace.bundle import write_bundle

            report = write_bundle(self, report, args, kwargs, self.bundle_dir)
        self.reports.append(report)
        if self.on_nan == "raise":
            raise NonFiniteError(report)
        if self.on_nan == "warn":
            if self._exit_summary is None:
                self._exit_summary = weakref.finalize(self, _print_summary, self._tally)
            if repeat and self._trips_in_a_row == STUCK_AFTER:
                message = self._stuck_message(trip.step)
            elif repeat:
                message = f"nantrace: step skipped (trip {number} of {self.name}): "
                message += report.headline()
            else:
                message = (
                    f"{report}\n"
                    f"nantrace: step {trip.step} skipped (on_nan='warn'); later non-finite "
                    f"steps of {self.name} warn with one line each, and their count is "
                    "printed at the end"
                )
            _warn(NonFiniteWarning(message, report), stacklevel=3)
            return
        self.stopped = True
        from nantrace.report.text import print_report

        print_report(report, file=sys.stderr)

    def _stuck_message(self, step: int) -> str:
        """The warning after STUCK_AFTER trips in a row: what the run of trips shows (every
        batch holding non-finite values, or a state that trips on any batch) and what to do."""
        first = self._first_in_a_row
        run = self.reports[-self._trips_in_a_row :]
        kinds = collections.Counter(r.origin.kind if r.origin else "unknown" for r in run)
        seen = ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common())
        if set(kinds) == {"input_data"}:
            advice = (
                f"every batch since step {first} holds non-finite values: clean the data "
                "(each report names the rows)"
            )
        else:
            advice = (
                "the state itself trips on every batch, so skipping cannot get past it: stop, "
                "apply the first report's fix and restart from a checkpoint before step "
                f"{first}"
            )
        return (
            f"nantrace: {self._trips_in_a_row} steps of {self.name} in a row skipped (steps "
            f"{first}-{step}, on_nan='warn'; origins: {seen}) and none trained since: {advice}. "
            "Later trips of this run are only counted (no report, bundle or warning each) "
            "until a step trains; the count is printed at the end."
        )

    def _diagnose_unverified(self, trip: Trip, args: tuple, kwargs: dict) -> Report:
        report = self.diagnose(trip, args, kwargs, verify=False)
        if not self.verify or not report.fixes:
            return report
        note = (
            f"fixes not verified: trip {self.trips} under on_nan='warn' (only the first trip's "
            "fixes are replayed)"
        )
        return dataclasses.replace(report, notes=(*report.notes, note))

    def summarize(self, file: Any = None) -> bool:
        """Print the one-line count of skipped steps now (``on_nan="warn"``), unless already
        printed for these trips; True if a line was printed. Called at exit automatically."""
        return _print_summary(self._tally, file=file)

    def argument_names(self, args: tuple, kwargs: dict) -> list[str]:
        """Names for the positional arguments (``x``, ``y``...) from the function signature."""
        try:
            params = list(inspect.signature(self.python_fn).parameters)
        except (TypeError, ValueError):
            params = []
        return [params[i] if i < len(params) else f"args[{i}]" for i in range(len(args))]


@dataclasses.dataclass
class _Tally:
    """The trip count, kept apart from :class:`Watched` so the exit summary can read it
    without keeping the watched step (and its model) alive."""

    name: str
    on_nan: str
    trips: int = 0
    #: where the user finds the reports, for the summary line.
    reports_at: str = ""
    #: trips already covered by a printed summary (fit's on_train_end, or an earlier call).
    summarized: int = 0


def summary_line(trips: int, reports_at: str, where: str = "") -> str:
    """The one-line count printed once at the end of a ``on_nan="warn"`` run."""
    steps = "1 step was" if trips == 1 else f"{trips} steps were"
    return (
        f"nantrace: {steps} non-finite and skipped{where} (on_nan='warn'); "
        f"first report above; {reports_at} holds all"
    )


def _print_summary(tally: _Tally, file: Any = None) -> bool:
    if tally.on_nan != "warn" or tally.trips <= tally.summarized:
        return False
    tally.summarized = tally.trips
    try:
        line = summary_line(tally.trips, tally.reports_at or f"{tally.name}.reports")
        print(line, file=file or sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr already closed at interpreter exit
        return False
    return True


def _warn(warning: Warning, stacklevel: int) -> None:
    """``warnings.warn`` without the per-module registry: the user's filters still decide
    (ignore, error, once...), but the default filter's "once per message and line" memory
    does not silence a later trip whose one-liner happens to repeat an earlier one's text
    (another watched step tripping at the same step number, a second ``fit``)."""
    try:
        frame = sys._getframe(stacklevel)
    except ValueError:
        warnings.warn(warning, stacklevel=stacklevel + 1)
        return
    module_globals = frame.f_globals
    warnings.warn_explicit(
        warning,
        type(warning),
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__", "<string>"),
        registry=None,
        module_globals=module_globals,
    )


def _kept_batch(args: tuple, kwargs: dict) -> tuple[tuple[tuple, dict], int]:
    """The batch as it is now, for replay and verification later, and its size in bytes:
    numpy arrays are copied and variables read (a loader may refill the same buffer for the
    next step); tensors are immutable and kept by reference. Runs after every healthy step, so
    a batch of tensors only (the common case, ``model.fit``'s ``(x, y)`` included) skips the
    per-leaf checks and ``tf.nest.map_structure`` (~100 us a step)."""
    tensors = _tf_compat.eager_leaves((args, kwargs))
    if tensors is not None:
        return (args, kwargs), sum(a.shape.num_elements() * a.dtype.size for a in tensors)
    leaves = tf.nest.flatten((args, kwargs))

    def keep(leaf: Any) -> Any:
        if isinstance(leaf, np.ndarray):
            return leaf.copy()
        if isinstance(leaf, tf.Variable) or _tf_compat.as_tf_variable(leaf) is not None:
            return tf.convert_to_tensor(leaf)
        return leaf

    if not any(
        isinstance(leaf, (np.ndarray, tf.Variable)) or _tf_compat.as_tf_variable(leaf) is not None
        for leaf in leaves
    ):
        kept = args, kwargs
    else:
        kept = tf.nest.map_structure(keep, (args, kwargs))
    return kept, _batch_bytes(kept)


def _state_bytes(variables: list[tf.Variable]) -> int:
    return sum(_batch_bytes(v) for v in variables)


def _anchor_max_bytes() -> int:
    if ANCHOR_MAX_BYTES is not None:
        return int(ANCHOR_MAX_BYTES)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def _rows_differ(original: Any, rerun: Any, steps: list[int]) -> str:
    """Why the last ``len(steps)`` rows of ``rerun`` are not ``original``'s rows of those steps
    (the re-run batches' own steps: an earlier trip between them is skipped; empty when
    bit-identical, NaN equal to NaN)."""
    if not steps:
        return ""
    first = int(original.steps[0]) if len(original) else 0
    rows = [step - first for step in steps if 0 <= step - first < len(original) - 1]
    available = min(len(rows), len(rerun))
    if available <= 0:
        return "no history rows to compare"
    before = np.asarray(rows[len(rows) - available :])
    after = slice(len(rerun) - available, len(rerun))
    for field in ("loss", "grad_norm", "weight_norm"):
        a, b = getattr(original, field)[before], getattr(rerun, field)[after]
        if a.shape != b.shape:
            return f"{field.replace('_', ' ')} differs"
        if field == "grad_norm":
            same = np.allclose(a, b, rtol=GRAD_NORM_RTOL, atol=0.0, equal_nan=True)
        else:
            same = np.array_equal(a, b, equal_nan=True)
        if not same:
            return f"{field.replace('_', ' ')} differs"
    return ""


def _batch_bytes(batch: Any) -> int:
    """Bytes of the tensors in a batch, from shapes and dtypes (no host copy)."""
    total = 0
    for leaf in tf.nest.flatten(batch):
        shape = getattr(leaf, "shape", None)
        dtype = getattr(leaf, "dtype", None)
        if shape is None or dtype is None:
            continue
        try:
            total += int(np.prod(tuple(shape), dtype=np.int64)) * tf.as_dtype(dtype).size
        except (TypeError, ValueError):
            continue
    return total


def _autograph_converted(python_fn: Callable[..., Any], original: Any) -> Callable[..., Any]:
    """The user's function as tf.function would run it (AutoGraph-converted when enabled)."""
    if not _tf_compat.tf_function_uses_autograph(original):
        return python_fn
    try:
        bound_to = getattr(python_fn, "__self__", None)
        if bound_to is not None and hasattr(python_fn, "__func__"):
            return types.MethodType(tf.autograph.to_graph(python_fn.__func__), bound_to)
        return tf.autograph.to_graph(python_fn)
    except Exception:  # conversion is best effort, exactly as tf.function's own fallback
        return python_fn


def watch(
    fn: Callable[..., Any] | None = None,
    *,
    model: Any = None,
    optimizer: Any = None,
    on_nan: str = "raise",
    bundle_dir: str | None = None,
    history: bool = True,
    anchor_every: int = ANCHOR_EVERY,
    verify: bool = True,
    log_dir: str | None = None,
    early_warning: str = "warn",
    check_outputs: bool = True,
) -> Any:
    """Guard a training step; on the first non-finite loss, gradient, variable or returned
    value, diagnose it.

    Use bare (``@nantrace.watch`` above ``@tf.function``) or with options::

        @nantrace.watch(on_nan="warn", bundle_dir="crash/")
        @tf.function
        def train_step(x, y): ...

    ``model`` and ``optimizer`` are optional hints: nantrace finds the variables, the loss and
    the optimizer from the step itself. On a trip the state is restored to its value before the
    step; then ``on_nan`` decides: ``"raise"`` a :class:`NonFiniteError` (default), ``"warn"``
    and skip the step, or ``"stop"`` (print the report; later calls return None).

    ``history`` keeps in-graph ring buffers of loss, gradient norm and weight norms (evidence
    for the cause, percentiles for the clip norm). ``anchor_every`` takes a host copy of the
    state every N steps (0: never) so learning-rate and clipping fixes can be verified by
    replaying from before the blow-up; it costs one more copy of the state in host memory, and
    it lets a compiled step run exactly as written, nothing copied per step: a trip is undone
    by restoring the anchor and re-running the steps since it (``anchor_every=0``: the state
    the step writes is copied every step instead; see ``docs/how-it-works.md``).
    ``verify`` replays the top fixes after a trip (a few seconds) so the report can say which
    ones train; ``verify=False`` ranks them unchecked. ``log_dir`` writes that history and the
    reports as TensorBoard events, read from the ring buffers every 128 steps and after a trip
    (no per-step host read); ``train_step.flush_log()`` writes the rest at the end.
    ``early_warning`` watches the same numbers for a run diverging before any NaN (gradient or
    weight norms growing, loss spiking, float16 values nearing 65504): ``"warn"`` (default)
    issues one :class:`~nantrace.DivergenceWarning` per episode, ``"raise"`` raises
    :class:`~nantrace.DivergenceError` after the step, ``"off"`` leaves the detectors out of
    the graph; every warning's report is kept in ``train_step.early_warnings``
    (``docs/early-warning.md``). ``check_outputs`` also trips on a non-finite float value the
    step returns besides its loss (a metric it logs: a perplexity, a percentage error), where
    many users first see a NaN; ``False`` for a step that returns non-finite values on purpose.
    """
    check_mode(early_warning, "nantrace.watch")
    if fn is not None and _looks_like_model(fn):
        if log_dir is not None:
            raise NantraceError(
                "nantrace.watch(model): log_dir is not supported here; pass "
                "callbacks=[nantrace.keras.NanTraceCallback(log_dir=...)] to model.fit instead"
            )
        # watch(model): the Keras surface, every later model.fit runs guarded.
        from nantrace.keras import watch_model

        return watch_model(fn, on_nan=on_nan, bundle_dir=bundle_dir, early_warning=early_warning)

    def wrap(function: Callable[..., Any]) -> Watched:
        return Watched(
            function,
            model=model,
            optimizer=optimizer,
            on_nan=on_nan,
            bundle_dir=bundle_dir,
            history=history,
            anchor_every=anchor_every,
            verify=verify,
            log_dir=log_dir,
            early_warning=early_warning,
            check_outputs=check_outputs,
        )

    if fn is None:
        return wrap
    return wrap(fn)


def _flush_every() -> int:
    from nantrace.live.tensorboard import FLUSH_EVERY

    return FLUSH_EVERY


def _looks_like_model(value: Any) -> bool:
    return hasattr(value, "train_step") and hasattr(value, "trainable_variables")
