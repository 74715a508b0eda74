"""Which part of the guard costs what: XLA ablations and the TF profiler's op times.

Run from the repository root::

    python -m bench.parts xla --workload mlp --rounds 20   # gate / weight reads under XLA
    python -m bench.parts profile --workload mlp            # op self time, watch - plain
    python -m bench.parts modes --workload mlp-xla          # gated vs copy-mode guard
    python -m bench.parts floor --workload mlp --rounds 30  # the cheapest guards, hand-written
    python -m bench.parts detectors --workload attention    # the detectors' update alone
    python -m bench.parts tail --workload attention --rounds 150  # the checks: one cluster?
    python -m bench.parts restore --size 30m --rounds 30   # host restore vs gate, large step
    python -m bench.parts writes --workload attention --rounds 40  # a rate written every step
    python -m bench.parts launch --rounds 20               # an XLA call's fixed cost
    python -m bench.parts host --workload attention --rounds 60  # the guard's host work
    python -m bench.parts dispatch --workload attention --rounds 100  # tf.function's dispatch
    python -m bench.parts detectors-ab --other ../old --workload attention --rounds 250  # A/B
    python -m bench.parts outputs --workload mlp --rounds 60  # a returned metric checked

``xla``: the same compiled (``jit_compile=True``) train step built five ways and timed
interleaved (bench.timing): ``plain``, ``plain2`` (a second identical plain step: the noise
floor), ``loss_only`` (also returns ``is_finite(loss)``), ``gate`` (the update inside
``tf.cond`` on the loss being finite, as the gated guard built it before the split), ``weights``
(also returns the weights' sum of squares after the update, computed inside the XLA function) and
``split`` (the plain XLA step called from a non-XLA ``tf.function`` that reads the weights' sums
of squares after it, as the guard now runs under XLA).
Ratios are medians of per-round ratios to ``plain``.

``modes``: plain, ``nantrace.watch`` (gated, the default), ``watch(early_warning="off")``,
``watch(history=False)`` and ``watch(anchor_every=0)`` (copy mode: the pre-step reference +
copy-on-write guard of before issue 11), interleaved in one process (10 steps per block).

``floor``: what the cheapest guards cost here, without nantrace: ``plain``, ``plain2`` (the
noise floor), ``flag`` (the step also returns "loss and gradients finite" from one fused sum of
squares per gradient, read on the host every step, as the guard's status is; the update is
not gated: a trip would be undone from a host anchor, as ``nantrace.watch`` does),
``flag+weights`` (also each trainable variable's sum of squares after the update: the pass an
exact ``optimizer_update`` check and per-layer weight history need), ``gate`` (that
flag also gates the update in a ``tf.cond``: the cheapest known exact guard, as optax
``apply_if_finite`` or a loss-scale optimizer skip), ``gate+weights``, then
``nantrace.watch(early_warning="off")`` and ``nantrace.watch``. What the hand-written guards cost is the floor any in-graph guard of that
kind pays on this machine. Every hand-written variant is called as ``nantrace.watch`` calls
its own step (``compat.tf.DirectCalls``, without ``tf.function``'s per-call dispatch), so the
ratios compare the guards alone.

``detectors``: what one step of the early-warning detectors costs inside a graph, as separate
TensorFlow ops (what a ``tf.distribute`` replica runs) and as the one XLA cluster every other
step runs: 500 updates in a ``tf.while_loop`` (an empty loop body timed beside them is
subtracted), for as many checked variables as the workload has; median over rounds of the
per-update wall and CPU time; and the first call of one update (trace, plus the XLA compile for
the cluster: a one-time cost of every watched step function).

``tail``: the checks after the step (finite flags, history row, detectors, status) as the
guard chooses (``watch``: separate ops, or one XLA cluster for a ``jit_compile=True`` step),
as one XLA cluster (``Watched.fuse_tail = True``) and as separate ops (``fuse_tail`` off),
beside ``plain``, ``flag+weights`` and ``watch(early_warning='off')``, that last one traced
with the exact check's cond lowered to a ``Switch`` per tensor, as TensorFlow lowers a
``tf.cond`` (``cond lowered``: before ``compat.tf.unlowered_cond``), and the watch traced with
the detectors' update adding no op (what those ops cost in a whole step, against what
``detectors`` times in a loop), and with each gradient's sum of squares its own op
(``sentinel.SMALL_VECTOR`` patched to 0: before the small vectors were summed together), and
with the update run on every ``CADENCE``-th step only (what a cadence would save), and with
each step's inputs kept in a small buffer and the update run over the last ``CADENCE`` rows in
one ``tf.while_loop`` on every ``CADENCE``-th step (the detectors see every step, late: what
keeping their per-step resolution would leave of that saving), and with the update run on the
previous step's inputs, kept in a one-row buffer, as separate ops or as one XLA cluster
(nothing of the current step feeds it, so the executor may run it beside the forward pass:
what the update's place on the step's critical path costs), and with the update replaced by
a read and unchanged write of the detectors' state, or by 150 small element-wise ops on a
vector of the step's norms (which of the two the update's cost in a whole step is), and with
the exact check's conditional reading no tensor (a stand-in that is not exact: what the
conditional's reads of every gradient, weight and optimizer slot cost where it is not taken). ``--only``
keeps the plain step and the variants whose names contain one of its comma-separated strings.
Whole-step differences of 2-4 % need ~150 rounds here to stand out of the noise.

``detectors-ab``: the watch with this tree's early-warning detectors against the same watch
with another checkout's (``--other PATH``: its ``nantrace/live/early_warning.py``, loaded as a
module of its own; e.g. a ``git worktree`` of an older commit) and ``early_warning="off"``,
interleaved in one process.

``first``: the first call of a watched step (trace, and XLA compiles for an XLA workload)
with its checks as separate ops and as one XLA cluster, each in a fresh process (``--rounds``
processes a variant, alternating), with the second call and the process's peak RSS.

``restore``: a large step (``bench.memory``'s MLP at ``--size``) plain, under the guard's own
choice, and forced into host restore (anchored every 50 steps, and every ``MIN_ANCHOR_EVERY``
steps, the most often the guard anchors before it gates) and into the gated update
(``RERUN_BUDGET_S`` patched while the guard times its first steps); 10 steps a block, so the
anchor's copy every 50 steps shows in the mean ratio, not the median.

``writes``: a learning rate written before every step, outside it (a hand-written warm-up):
the plain step and ``nantrace.watch`` with that write (ratios are to the plain step with it),
the watch again with every write anchored after (``FREQUENT_WRITES`` patched to 1: what the
guard would cost if it anchored after each such write instead of keeping the values each step
saw), and plain and watch without the write, for reference.

``launch``: the fixed cost of calling a small XLA cluster from a TensorFlow graph, as the
watched step calls its checks (``StepSentinel._fused_tail``), by the number of tensor inputs and
of variables it writes: the same tiny computation in a ``tf.while_loop`` of 500 calls, an empty
loop's time subtracted.

``host``: the guard's Python per step: the watched call against a call of its own compiled
step (the same graph) that reads the status as the watched call does; paired per-step
difference, anchors every ``anchor_every`` steps included.

``dispatch``: the plain ``tf.function`` step, the same step called directly
(``compat.tf.DirectCalls``, as ``nantrace.watch`` calls its own traced step) and
``nantrace.watch``: the watch's ratio to the plain step includes the dispatch it skips; its
ratio to the plain step called directly is the guard's own cost.

``outputs``: a step that returns its batch accuracy beside the loss, plain, under
``nantrace.watch(check_outputs=False)`` and under ``nantrace.watch`` (the default, which also
checks the returned accuracy: one ``is_finite``); the last two paired are what checking a
returned metric costs.

``profile``: plain vs ``nantrace.watch`` on the same workload (``tf.function``, not XLA), 40
steps each under the TF profiler; prints op self time per step, watch - plain, by op type.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.timing import Variant, interleave, warm_up  # noqa: E402
from bench.workloads import build_workload, make_train_step  # noqa: E402

XLA_VARIANTS = ("plain", "plain2", "loss_only", "gate", "weights", "split")


def _loss_and_pairs(wl: Any, x: Any, y: Any) -> tuple[Any, list, list]:
    """Inside a traced step: the workload's loss, its gradients and the (gradient, variable)
    pairs for the update."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = wl.loss_fn(y, wl.model(x, training=True))
    grads = tape.gradient(loss, wl.model.trainable_variables)
    return loss, grads, list(zip(grads, wl.model.trainable_variables, strict=True))


def _gated_apply(optimizer: Any, pairs: list, ok: Any) -> Any:
    """The update inside ``tf.cond`` on ``ok``, as a gated guard builds it; True if applied."""
    import tensorflow as tf

    def commit() -> Any:
        optimizer.apply_gradients(pairs)
        return tf.constant(True)

    return tf.cond(ok, commit, lambda: tf.constant(False))


def xla_step(wl: Any, variant: str) -> Any:
    import tensorflow as tf

    model, optimizer = wl.model, wl.optimizer

    def step(x: Any, y: Any) -> Any:
        loss, _, pairs = _loss_and_pairs(wl, x, y)
        if variant == "gate":
            _gated_apply(optimizer, pairs, tf.math.is_finite(loss))
        else:
            optimizer.apply_gradients(pairs)
        extra = tf.constant(0.0)
        if variant == "loss_only":
            extra = tf.cast(tf.math.is_finite(loss), tf.float32)
        if variant == "weights":
            extra = tf.add_n(
                [tf.nn.l2_loss(tf.convert_to_tensor(v)) for v in model.trainable_variables]
            )
        return loss, extra

    compiled = tf.function(step, jit_compile=True)
    if variant == "split":

        def outer(x: Any, y: Any) -> Any:
            loss, _ = compiled(x, y)
            sums = [tf.nn.l2_loss(tf.convert_to_tensor(v)) for v in model.trainable_variables]
            return loss, tf.math.is_finite(tf.add_n(sums))

        wrapped = tf.function(outer)
        return lambda x, y: wrapped(x, y)[0]
    return lambda x, y: compiled(x, y)[0]


def run_xla(workload: str, rounds: int) -> None:
    wl = build_workload(workload)
    wl.optimizer.build(wl.model.trainable_variables)
    variants = [Variant(name, xla_step(wl, name), 10) for name in XLA_VARIANTS]
    for variant in variants:
        warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"XLA {workload}, {rounds} rounds", variants)


def run_modes(workload: str, rounds: int) -> None:
    import nantrace

    wl = build_workload(workload)

    def make() -> Any:
        return wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn))

    variants = [
        Variant("plain", make(), 10),
        Variant("watch (gated; early warning on, the default)", nantrace.watch(make()), 10),
        Variant("watch(early_warning='off')", nantrace.watch(make(), early_warning="off"), 10),
        Variant("watch(history=False)", nantrace.watch(make(), history=False), 10),
        Variant("watch(anchor_every=0): copy mode", nantrace.watch(make(), anchor_every=0), 10),
    ]
    for variant in variants:
        warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds", variants)


def run_restore(size: str, rounds: int) -> None:
    """A large step (the MLP of ``bench.memory`` at ``size``) under the two ways a trip is
    undone: host restore (anchor every 50 steps, and every ``MIN_ANCHOR_EVERY``, the most often
    the guard anchors; re-run after a trip) and the gated update, each forced through
    ``RERUN_BUDGET_S`` while the guard times its first steps."""
    import tensorflow as tf

    import nantrace
    from bench.memory import build_mlp
    from nantrace.live import guard

    model, optimizer, loss_fn, batches, _ = build_mlp(size)
    optimizer.build(model.trainable_variables)

    def make() -> Any:
        return tf.function(make_train_step(model, optimizer, loss_fn))

    def watched(budget: float | None = None, **options: Any) -> Any:
        """The watched step after the steps the guard chooses by; ``budget``: RERUN_BUDGET_S
        while it chooses (None: the default)."""
        chosen_budget = guard.RERUN_BUDGET_S if budget is None else budget
        with mock.patch.object(guard, "RERUN_BUDGET_S", chosen_budget):
            step = nantrace.watch(make(), verify=False, **options)
            for i in range(guard.PACE_STEPS + 2):
                step(*batches[i % len(batches)])
        return step

    default = watched()
    chosen = (
        f"host restore, anchor every {default.anchor_every}" if default.host_restore else "gated"
    )
    variants = [
        Variant("plain", make(), 10),
        Variant(f"watch (its own choice: {chosen})", default, 10),
        Variant("watch, host restore", watched(float("inf")), 10),
        Variant(
            f"watch, host restore, anchor every {guard.MIN_ANCHOR_EVERY} (MIN_ANCHOR_EVERY)",
            watched(float("inf"), anchor_every=guard.MIN_ANCHOR_EVERY),
            10,
        ),
        Variant("watch, gated", watched(0.0), 10),
    ]
    for variant in variants:
        warm_up(variant.step, batches)
    interleave(variants, batches, rounds)
    _print_ratios(f"{size} parameters ({model.count_params():,}), {rounds} rounds", variants)
    base = variants[0].times
    print("mean ratio to plain (counts the anchor's copy every 50 or fewer steps):")
    for variant in variants:
        mean = statistics.mean(variant.times) / statistics.mean(base)
        print(f"  {variant.name}: {mean:.3f}")


FLOOR_VARIANTS = ("plain", "plain2", "flag", "flag+weights", "gate", "gate+weights")


def floor_step(wl: Any, variant: str) -> Any:
    """The workload's step with a hand-written guard (see the module doc); returns a callable
    that, like ``nantrace.watch``, reads the step's flag on the host after every step."""
    import tensorflow as tf

    from nantrace.compat.tf import DirectCalls

    model, optimizer = wl.model, wl.optimizer

    def step(x: Any, y: Any) -> Any:
        loss, grads, pairs = _loss_and_pairs(wl, x, y)
        if variant in ("plain", "plain2"):
            optimizer.apply_gradients(pairs)
            return loss, tf.constant(True)
        squares = [tf.nn.l2_loss(g) for g in grads if g is not None]
        ok = tf.math.is_finite(tf.add_n([tf.cast(loss, tf.float32), *squares]))
        if variant.startswith("flag"):
            optimizer.apply_gradients(pairs)
            applied = tf.constant(True)
        else:
            applied = _gated_apply(optimizer, pairs, ok)
        if variant.endswith("+weights"):
            with tf.control_dependencies([applied]):
                weights = [
                    tf.nn.l2_loss(tf.convert_to_tensor(v)) for v in model.trainable_variables
                ]
            ok = tf.logical_and(ok, tf.math.is_finite(tf.add_n(weights)))
        return loss, ok

    # called as nantrace.watch calls its own step (without tf.function's per-call dispatch),
    # so the ratios compare the guards alone
    compiled = DirectCalls(wl.compile(step))

    def run(x: Any, y: Any) -> Any:
        loss, ok = compiled(x, y)
        if variant not in ("plain", "plain2"):
            ok.numpy()
        return loss

    return run


def run_floor(workload: str, rounds: int) -> None:
    import nantrace

    wl = build_workload(workload)
    wl.optimizer.build(wl.model.trainable_variables)

    def watched(**options: Any) -> Any:
        return nantrace.watch(
            wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn)), **options
        )

    variants = [Variant(name, floor_step(wl, name), 10) for name in FLOOR_VARIANTS]
    variants.append(Variant("watch(early_warning='off')", watched(early_warning="off"), 10))
    variants.append(Variant("watch", watched(), 10))
    for variant in variants:
        warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds: the cheapest guards", variants)


#: the detectors' cadence in the ``tail`` variant that runs their update every K-th step
CADENCE = 8


def _update_every(k: int) -> Any:
    """A stand-in for ``EarlyWarning.update`` that runs the separate-ops update only on every
    ``k``-th step, in one ``If`` op (``compat.tf.unlowered_cond``), and adds nothing on the
    others: what a cadence would save, not a behaviour nantrace has (the detectors would see
    one step in k)."""
    import tensorflow as tf

    from nantrace.compat import tf as tf_compat

    counters: dict[int, Any] = {}

    def update(
        self: Any,
        loss: Any,
        grad_sq: Any,
        weight_sq: Any,
        names: Any,
        kernels: Any,
        half_max: Any,
        healthy: Any,
        **_: Any,
    ) -> Any:
        self.prepare(names, kernels)
        if id(self) not in counters:
            with tf.init_scope():
                counters[id(self)] = tf.Variable(0, dtype=tf.int64, trainable=False)
        step = counters[id(self)].assign_add(1)
        return tf_compat.unlowered_cond(
            tf.equal(tf.math.floormod(step, k), 0),
            lambda: self._update(loss, grad_sq, weight_sq, names, kernels, half_max, healthy),
            lambda: tf.constant(0),
        )

    return update


def _inputs_row(loss: Any, grad_sq: Any, weight_sq: Any, healthy: Any) -> Any:
    """One step's detector inputs as one float32 row: loss, gradients' and weights' sums of
    squares, healthy (1.0 / 0.0); what the stand-ins below keep between steps."""
    import tensorflow as tf

    return tf.concat(
        [
            tf.reshape(tf.cast(loss, tf.float32), [1]),
            tf.reshape(tf.cast(grad_sq, tf.float32), [1]),
            tf.cast(weight_sq, tf.float32),
            tf.reshape(tf.cast(healthy, tf.float32), [1]),
        ],
        0,
    )


def _update_rows_every(k: int) -> Any:
    """A stand-in for ``EarlyWarning.update`` that keeps each step's inputs (loss, gradients'
    and weights' sums of squares, healthy) as one row of a ``[k, n]`` buffer and, on every
    ``k``-th step, runs the separate-ops update over the ``k`` rows in one ``tf.while_loop``
    inside one ``If``: every step is seen, up to ``k - 1`` steps late. Not a behaviour nantrace
    has (no float16 channel; the late warning's host side is not built)."""
    import tensorflow as tf

    from nantrace.compat import tf as tf_compat

    kept: dict[int, Any] = {}

    def update(self: Any, *args: Any, **_: Any) -> Any:
        loss, grad_sq, weight_sq, names, kernels, _half_max, healthy = args
        self.prepare(names, kernels)
        width = 2 + len(names)
        if id(self) not in kept:
            with tf.init_scope():
                kept[id(self)] = (
                    tf.Variable(0, dtype=tf.int64, trainable=False),
                    tf.Variable(tf.zeros([k, width + 1]), trainable=False),
                )
        counter, rows = kept[id(self)]
        slot = tf.math.floormod(counter.assign_add(1), k)
        row = _inputs_row(loss, grad_sq, weight_sq, healthy)
        rows.scatter_update(tf.IndexedSlices(row[None], tf.reshape(slot, [1])))

        def over_the_rows() -> Any:
            values = rows.read_value()

            def body(i: Any, bits: Any) -> Any:
                r = values[i]
                fired = self._update(r[0], r[1], r[2:width], names, kernels, None, r[width] > 0.5)
                return i + 1, bits | fired

            start = (tf.constant(0), tf.constant(0))
            return tf.while_loop(lambda i, _: i < k, body, start)[1]

        return tf_compat.unlowered_cond(tf.equal(slot, 0), over_the_rows, lambda: tf.constant(0))

    return update


def _update_a_step_behind(compiled: bool = False) -> Any:
    """A stand-in for ``EarlyWarning.update`` that runs the separate-ops update on the
    PREVIOUS step's inputs (loss, gradients' and weights' sums of squares, healthy), kept in
    a one-row buffer: the update then depends on nothing of the current step, so the executor
    can run it beside the forward pass instead of after the gradients (off the step's critical
    path); each step only writes its own row after the read. Every step is seen, one step
    late. Not a behaviour nantrace has (no float16 channel)."""
    import tensorflow as tf

    kept: dict[int, Any] = {}

    def update(self: Any, *args: Any, **_: Any) -> Any:
        loss, grad_sq, weight_sq, names, kernels, _half_max, healthy = args
        self.prepare(names, kernels)
        width = 2 + len(names)
        if id(self) not in kept:
            with tf.init_scope():
                kept[id(self)] = tf.Variable(tf.zeros([width + 1]), trainable=False)
        behind = kept[id(self)]
        last = behind.read_value()
        inputs = (last[0], last[1], last[2:width])
        if compiled:  # the update as its own XLA cluster (EarlyWarning._fused)
            fired = self._fused(names, kernels, False)(*inputs, last[width] > 0.5)
        else:
            fired = self._update(*inputs, names, kernels, None, last[width] > 0.5)
        row = _inputs_row(loss, grad_sq, weight_sq, healthy)
        behind.assign(row, read_value=False)
        return fired

    return update


def _state_only() -> Any:
    """A stand-in for ``EarlyWarning.update`` that reads the detectors' two state variables
    and writes them back unchanged (through ``tf.where(healthy, ...)``, as the update does),
    with none of the update's arithmetic: what their reads and writes cost in a whole step."""
    import tensorflow as tf

    def update(self: Any, *args: Any, **_: Any) -> Any:
        _loss, _grad_sq, _weight_sq, names, kernels, _half_max, healthy = args
        self.prepare(names, kernels)
        for variable in (self._channels, self._scalars):
            value = variable.read_value()
            variable.assign(tf.where(healthy, value, value), read_value=False)
        return tf.where(healthy, 0, 0)

    return update


def _chain_of_ops(count: int) -> Any:
    """A stand-in for ``EarlyWarning.update`` that runs ``count`` element-wise ops on a small
    vector made from the step's norms (as many as the update has, on as small tensors), with
    no variable read or written: what that many small ops cost in a whole step."""
    import tensorflow as tf

    def update(self: Any, *args: Any, **_: Any) -> Any:
        loss, grad_sq, weight_sq, names, kernels, _half_max, healthy = args
        self.prepare(names, kernels)
        x = tf.concat([tf.reshape(tf.cast(loss, tf.float32), [1]), weight_sq], 0)
        for i in range(count):
            x = x * 0.5 + 0.5 if i % 2 else tf.abs(x)
        return tf.where(healthy & (x[0] > 1e30), 1, 0)

    return update


def run_tail(workload: str, rounds: int, only: list[str] | None = None) -> None:
    import tensorflow as tf

    import nantrace
    from nantrace.compat import tf as tf_compat
    from nantrace.live import sentinel
    from nantrace.live.early_warning import EarlyWarning

    wl = build_workload(workload)
    wl.optimizer.build(wl.model.trainable_variables)

    def watched(fuse_tail: bool | None = None, **options: Any) -> Any:
        step = nantrace.watch(
            wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn)), **options
        )
        if fuse_tail is not None:  # None: the guard's own choice (on for an XLA step)
            step.fuse_tail = fuse_tail
        return step

    variants = [Variant(name, floor_step(wl, name), 10) for name in ("plain", "flag+weights")]
    variants.append(Variant("watch", watched(), 10))
    variants.append(Variant("watch(fuse_tail: one XLA cluster)", watched(fuse_tail=True), 10))
    variants.append(Variant("watch(fuse_tail off: separate ops)", watched(fuse_tail=False), 10))
    variants.append(Variant("watch(early_warning='off')", watched(early_warning="off"), 10))
    # traced at their first call: the exact check's cond as plain tf.cond (lowered to a Switch
    # per tensor it reads, as before compat.tf.unlowered_cond); the detectors kept (their
    # state, the norms they take) but their update adding no op (separate ops: the fused
    # tail, the default on an XLA step, builds the update without EarlyWarning.update)
    variants.append(
        Variant(
            "watch(early_warning='off', cond lowered)",
            watched(early_warning="off"),
            10,
            context=lambda: mock.patch.object(tf_compat, "unlowered_cond", tf.cond),
        )
    )

    def with_update(name: str, stand_in: Any) -> Variant:
        """The separate-ops watch with ``EarlyWarning.update`` replaced by ``stand_in``."""
        return Variant(
            name,
            watched(fuse_tail=False),
            10,
            context=lambda: mock.patch.object(EarlyWarning, "update", stand_in),
        )

    variants.append(
        with_update("watch(detectors' update a no-op)", lambda self, *a, **k: tf.constant(0))
    )
    variants.append(
        with_update("watch(detectors' state read and written, no update)", _state_only())
    )
    variants.append(
        with_update("watch(150 small ops for the detectors' update)", _chain_of_ops(150))
    )
    variants.append(
        with_update(f"watch(detectors' update every {CADENCE}th step)", _update_every(CADENCE))
    )
    variants.append(
        with_update(
            f"watch(detectors over {CADENCE} rows every {CADENCE}th step)",
            _update_rows_every(CADENCE),
        )
    )
    variants.append(
        with_update(
            "watch(detectors a step behind, beside the forward pass)", _update_a_step_behind()
        )
    )
    variants.append(
        with_update(
            "watch(detectors a step behind, one XLA cluster)", _update_a_step_behind(compiled=True)
        )
    )
    # traced with the exact check's conditional reading no tensor (a stand-in, not exact: an
    # overflowing sum would read as non-finite): what its reads of every gradient, weight and
    # optimizer slot cost on every step, where the branch is not taken
    variants.append(
        Variant(
            "watch(fuse_tail off, exact check reading nothing)",
            watched(fuse_tail=False),
            10,
            context=lambda: mock.patch.object(
                sentinel, "_every_element_finite", lambda tensors, flatten: tf.constant(False)
            ),
        )
    )
    # traced with each gradient's sum of squares its own op, as before the small vectors
    # were summed together (sentinel.SMALL_VECTOR)
    variants.append(
        Variant(
            "watch(small vectors summed one by one)",
            watched(fuse_tail=False),
            10,
            context=lambda: mock.patch.object(sentinel, "SMALL_VECTOR", 0),
        )
    )
    if only:  # the plain step and the variants named by --only (faster, more rounds)
        variants = variants[:1] + [v for v in variants[1:] if any(o in v.name for o in only)]
    for variant in variants:
        with variant.context():
            warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds: the checks after the step", variants)


def run_writes(workload: str, rounds: int) -> None:
    import nantrace
    from nantrace.live import guard

    wl = build_workload(workload)
    wl.optimizer.build(wl.model.trainable_variables)
    rate = wl.optimizer.learning_rate
    base = float(rate.numpy())
    calls = [0]

    def writing(step: Any) -> Any:
        """``step`` with the learning rate written before each call (two values, alternating)."""

        def run(x: Any, y: Any) -> Any:
            calls[0] += 1
            rate.assign(base * (1.0 + 1e-3 * (calls[0] % 2)))
            return step(x, y)

        return run

    def anchoring_after_each() -> Any:
        return mock.patch.object(guard, "FREQUENT_WRITES", 1)  # every write anchored after

    def compiled() -> Any:
        return wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn))

    plain, watched, anchored = compiled(), nantrace.watch(compiled()), nantrace.watch(compiled())
    variants = [
        Variant("plain, rate written before each step", writing(plain), 10),
        Variant("watch, rate written before each step", writing(watched), 10),
        Variant(
            "watch, the same, anchored after each write",
            writing(anchored),
            10,
            context=anchoring_after_each,
        ),
        Variant("plain", plain, 10),
        Variant("watch", watched, 10),
    ]
    for variant in variants:
        with variant.context():
            warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds: a learning rate written between steps", variants)


def _paired(base: list[float], other: list[float]) -> tuple[float, float, float]:
    """Median and interquartile range of the per-round ratios other / base."""
    pairs = sorted(o / b for o, b in zip(other, base, strict=True))
    quarter = len(pairs) // 4
    return statistics.median(pairs), pairs[quarter], pairs[-quarter - 1]


def _print_ratios(title: str, variants: list[Variant]) -> None:
    base = variants[0].times
    print(f"{title}, load average {os.getloadavg()}")
    cpu_base = variants[0].cpu_times
    print(
        "| variant | median ms | paired ratio to plain | its interquartile range "
        "| paired CPU-time ratio | paired ratio to the row above (interquartile range) |"
    )
    print("|---|---|---|---|---|---|")
    above = base
    for variant in variants:
        median, low, high = _paired(base, variant.times)
        cpu = statistics.median(o / b for o, b in zip(variant.cpu_times, cpu_base, strict=True))
        near, near_low, near_high = _paired(above, variant.times)
        print(
            f"| {variant.name} | {statistics.median(variant.times) * 1e3:.2f} "
            f"| {median:.3f} | {low:.3f}-{high:.3f} "
            f"| {cpu:.3f} | {near:.3f} ({near_low:.3f}-{near_high:.3f}) |"
        )
        above = variant.times


DETECTOR_UPDATES = 500


FIRST_CALL = """
import resource, sys, time
sys.path.insert(0, {root!r})
import nantrace
from bench.workloads import build_workload, make_train_step
wl = build_workload({workload!r})
wl.optimizer.build(wl.model.trainable_variables)
step = nantrace.watch(wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn)), verify=False)
step.fuse_tail = {fuse}
x, y = wl.batches[0]
start = time.perf_counter(); step(x, y).numpy(); first = time.perf_counter() - start
start = time.perf_counter(); step(x, y).numpy(); second = time.perf_counter() - start
print(first, second, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_first(workload: str, rounds: int) -> None:
    """The first call of a watched step, its checks as separate ops or one XLA cluster, each
    in a fresh process (XLA's runtime and compiler start with the first cluster)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results: dict[str, list[tuple[float, float, float]]] = {"separate ops": [], "one cluster": []}
    for r in range(rounds):
        order = [("separate ops", False), ("one cluster", True)]
        for name, fuse in order if r % 2 == 0 else order[::-1]:
            code = FIRST_CALL.format(root=root, workload=workload, fuse=fuse)
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            first, second, rss = (float(v) for v in proc.stdout.split()[-3:])
            results[name].append((first, second, rss))
    print(f"{workload}, {rounds} processes a variant, load average {os.getloadavg()}")
    print(
        "| checks after the step | first call s (median, min-max) | second call ms | peak RSS MB |"
    )
    print("|---|---|---|---|")
    for name, rows in results.items():
        firsts = [row[0] for row in rows]
        print(
            f"| {name} | {statistics.median(firsts):.2f} ({min(firsts):.2f}-{max(firsts):.2f}) "
            f"| {statistics.median(row[1] for row in rows) * 1e3:.1f} "
            f"| {statistics.median(row[2] for row in rows):.0f} |"
        )


def run_detectors(workload: str, rounds: int) -> None:
    import numpy as np
    import tensorflow as tf

    from nantrace.live.early_warning import EarlyWarning

    wl = build_workload(workload)
    names = tuple(v.name for v in wl.model.trainable_variables)
    kernels = tuple(len(v.shape) >= 2 for v in wl.model.trainable_variables)
    rng = np.random.default_rng(0)
    losses = tf.constant(1.0 + 0.01 * rng.standard_normal(64), tf.float32)
    grads = tf.constant(4.0 + 0.1 * rng.standard_normal(64), tf.float32)
    weights = tf.constant(1.0 + 0.01 * rng.random((64, len(names))), tf.float32)

    def looped(update: Any) -> Any:
        @tf.function
        def loop() -> Any:
            def body(i: Any, total: Any) -> Any:
                j = i % 64
                args = (losses[j], grads[j], weights[j])
                bits = update(*args) if update else tf.cast(args[0] > 0.0, tf.int32)
                return i + 1, total + bits

            return tf.while_loop(
                lambda i, _: i < DETECTOR_UPDATES, body, (tf.constant(0), tf.constant(0))
            )[1]

        return loop

    separate, compiled = EarlyWarning(), EarlyWarning()
    separate._create(names, kernels)
    compiled._create(names, kernels)
    healthy = tf.constant(True)
    fused = compiled._fused(names, kernels, False)
    # the one-time cost: trace (and for the cluster, XLA-compile) one update at its first call,
    # after a trivial tf.function has paid TensorFlow's own first-use costs
    tf.function(lambda: tf.constant(0) + 1)()
    first: dict[str, float] = {}
    for name, call in (
        (
            "separate ops",
            # no AutoGraph: the guarded step traces the update without it too
            lambda: tf.function(separate._update, autograph=False)(
                losses[0], grads[0], weights[0], names, kernels, None, healthy
            ),
        ),
        ("one XLA cluster", lambda: fused(losses[0], grads[0], weights[0], healthy)),
    ):
        start = time.perf_counter()
        call()
        first[name] = time.perf_counter() - start
    loops = {
        "empty loop": looped(None),
        "separate ops": looped(lambda *a: separate._update(*a, names, kernels, None, healthy)),
        "one XLA cluster": looped(lambda *a: fused(*a, healthy)),
    }
    for loop in loops.values():
        loop()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            cpu, start = time.process_time(), time.perf_counter()
            loop().numpy()
            wall = (time.perf_counter() - start) / DETECTOR_UPDATES
            times[name].append((wall, (time.process_time() - cpu) / DETECTOR_UPDATES))
    empty = [statistics.median(t[k] for t in times["empty loop"]) for k in (0, 1)]
    print(
        f"{workload}: {len(names)} checked variables, {rounds} rounds of {DETECTOR_UPDATES} "
        f"updates, load average {os.getloadavg()}"
    )
    print("| detectors' update | wall µs per update | CPU µs per update | first call s |")
    print("|---|---|---|---|")
    for name in ("separate ops", "one XLA cluster"):
        wall, cpu = (statistics.median(t[k] for t in times[name]) - empty[k] for k in (0, 1))
        print(f"| {name} | {wall * 1e6:.1f} | {cpu * 1e6:.1f} | {first[name]:.2f} |")


def run_detectors_ab(workload: str, rounds: int, other: str) -> None:
    """The watch with this tree's early-warning detectors against the same watch with another
    checkout's (its ``nantrace/live/early_warning.py``, loaded as a module of its own), and
    ``early_warning="off"``, interleaved in one process: two versions of the detectors
    compared without the drift between two runs."""
    import importlib.util

    import nantrace
    from nantrace.live import guard

    path = os.path.join(other, "nantrace", "live", "early_warning.py")
    if not os.path.isfile(path):
        raise SystemExit(f"detectors-ab: no {path}; give --other the root of a nantrace checkout")
    spec = importlib.util.spec_from_file_location("other_early_warning", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    wl = build_workload(workload)
    wl.optimizer.build(wl.model.trainable_variables)

    def watched(**options: Any) -> Any:
        step = wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn))
        return nantrace.watch(step, **options)

    this = watched()
    with mock.patch.object(guard, "EarlyWarning", module.EarlyWarning):
        theirs = watched()
    variants = [
        Variant("plain", floor_step(wl, "plain"), 10),
        Variant("watch (this tree's detectors)", this, 10),
        Variant(f"watch (the detectors of {other})", theirs, 10),
        Variant("watch(early_warning='off')", watched(early_warning="off"), 10),
    ]
    for variant in variants:
        warm_up(variant.step, wl.batches)
    assert type(theirs.detector).__module__ == spec.name  # the other tree's detectors ran
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds: two versions of the detectors", variants)


LAUNCH_CALLS = 500


def _launch_loop(tail: Any, inputs: list) -> Any:
    """A non-XLA tf.function that calls ``tail`` (an XLA function, or None: the empty loop)
    LAUNCH_CALLS times in a ``tf.while_loop``, as a watched step calls its checks once."""
    import tensorflow as tf

    @tf.function
    def loop() -> Any:
        def body(i: Any, total: Any) -> Any:
            shifted = [t + tf.cast(i, tf.float32) for t in inputs[:1]] + inputs[1:]
            out = tail(shifted, i) if tail is not None else tf.cast(shifted[0][0, 0] > 0, tf.int32)
            return i + 1, total + out

        return tf.while_loop(lambda i, _: i < LAUNCH_CALLS, body, (tf.constant(0), tf.constant(0)))[
            1
        ]

    return loop


def run_launch(rounds: int) -> None:
    """The fixed cost of one call of a small XLA cluster from a TensorFlow graph (what the
    watched step's checks pay every step) by the number of tensor inputs and of variables the
    cluster writes: the same tiny computation (is the first input finite; one row into each
    variable) in every variant."""
    import tensorflow as tf

    def cluster(variables: list) -> Any:
        def tail(inputs: list, i: Any) -> Any:
            ok = tf.reduce_all(tf.math.is_finite(inputs[0]))
            for variable in variables:
                row = tf.fill([1, int(variable.shape[1])], tf.cast(i, tf.float32))
                variable.scatter_nd_update(tf.reshape(i % 64, [1, 1]), row)
            return tf.cast(ok, tf.int32)

        return tf.function(tail, jit_compile=True, autograph=False)

    def variables(n: int) -> list:
        return [tf.Variable(tf.zeros([64, 20])) for _ in range(n)]

    small = [tf.ones([64, 64]) for _ in range(65)]
    variants = {
        "empty loop": (None, small[:1]),
        "1 input, 0 variables": (cluster([]), small[:1]),
        "1 input, 1 variable": (cluster(variables(1)), small[:1]),
        "1 input, 2 variables": (cluster(variables(2)), small[:1]),
        "1 input, 6 variables": (cluster(variables(6)), small[:1]),
        "20 inputs, 0 variables": (cluster([]), small[:20]),
        "65 inputs, 0 variables": (cluster([]), small),
    }
    loops = {name: _launch_loop(tail, inputs) for name, (tail, inputs) in variants.items()}
    for loop in loops.values():
        loop()
    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            start = time.perf_counter()
            loop().numpy()
            times[name].append((time.perf_counter() - start) / LAUNCH_CALLS)
    empty = statistics.median(times["empty loop"])
    print(f"{rounds} rounds of {LAUNCH_CALLS} calls, load average {os.getloadavg()}")
    print("| XLA call from a graph | wall µs per call (empty loop subtracted) |")
    print("|---|---|")
    for name in list(loops)[1:]:
        print(f"| {name} | {(statistics.median(times[name]) - empty) * 1e6:.1f} |")


def run_host(workload: str, rounds: int) -> None:
    """What ``nantrace.watch`` does on the host per step: the watched call against a call of
    its own compiled step that reads the status as the watched call does (same graph), so the
    difference is the guard's Python (batch kept, anchors every ``anchor_every`` steps
    included)."""
    import tensorflow as tf

    import nantrace

    wl = build_workload(workload)
    watched = nantrace.watch(tf.function(make_train_step(wl.model, wl.optimizer, wl.loss_fn)))
    warm_up(watched, wl.batches)
    step_fn = watched._step_fn

    def compiled_only(x: Any, y: Any) -> Any:
        outputs, status, _ = step_fn(x, y)
        status.numpy()
        return outputs

    variants = [Variant("compiled step only", compiled_only, 50), Variant("watch", watched, 50)]
    warm_up(compiled_only, wl.batches)
    interleave(variants, wl.batches, rounds)
    differences = sorted(
        (w - c) * 1e6 for w, c in zip(variants[1].times, variants[0].times, strict=True)
    )
    quarter = len(differences) // 4
    print(f"{workload}, {rounds} rounds of 50 steps, load average {os.getloadavg()}")
    print(
        f"compiled step {statistics.median(variants[0].times) * 1e3:.2f} ms; the watched call's "
        f"host work {statistics.median(differences):.1f} µs a step (paired median; interquartile "
        f"range {differences[quarter]:.1f} to {differences[-quarter - 1]:.1f})"
    )


def run_dispatch(workload: str, rounds: int) -> None:
    """``nantrace.watch`` calls its traced step directly (``compat.tf.DirectCalls``), skipping
    tf.function's per-call dispatch: its ratio to the plain ``tf.function`` includes that
    saving. Timed beside the plain step called the same way, the ratio is the guard's own
    cost alone."""
    import nantrace
    from nantrace.compat.tf import DirectCalls

    wl = build_workload(workload)

    def make() -> Any:
        return wl.compile(make_train_step(wl.model, wl.optimizer, wl.loss_fn))

    variants = [
        Variant("plain tf.function", make(), 10),
        Variant("plain, called directly (DirectCalls)", DirectCalls(make()), 10),
        Variant("watch", nantrace.watch(make()), 10),
    ]
    for variant in variants:
        warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds: tf.function's dispatch", variants)
    median, low, high = _paired(variants[1].times, variants[2].times)
    print(
        f"watch / plain called directly (the guard's own cost): {median:.3f} "
        f"(interquartile range {low:.3f}-{high:.3f})"
    )


def run_outputs(workload: str, rounds: int) -> None:
    import tensorflow as tf

    import nantrace

    wl = build_workload(workload)
    wl.optimizer.build(wl.model.trainable_variables)
    model, optimizer, loss_fn = wl.model, wl.optimizer, wl.loss_fn

    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(y, tf.int32))
        return loss, tf.reduce_mean(tf.cast(hits, tf.float32))

    def loss_only(call: Any) -> Any:
        return lambda x, y: call(x, y)[0]

    variants = [
        Variant("plain", loss_only(wl.compile(step)), 10),
        Variant(
            "watch(check_outputs=False)",
            loss_only(nantrace.watch(wl.compile(step), check_outputs=False)),
            10,
        ),
        Variant(
            "watch (checks the returned accuracy)", loss_only(nantrace.watch(wl.compile(step))), 10
        ),
    ]
    for variant in variants:
        warm_up(variant.step, wl.batches)
    interleave(variants, wl.batches, rounds)
    _print_ratios(f"{workload}, {rounds} rounds: a returned metric checked or not", variants)


def run_profile(workload: str) -> None:
    import tensorflow as tf

    import nantrace
    from bench.overhead import profile_delta

    wl = build_workload(workload)
    plain = tf.function(make_train_step(wl.model, wl.optimizer, wl.loss_fn))
    watched = nantrace.watch(tf.function(make_train_step(wl.model, wl.optimizer, wl.loss_fn)))
    warm_up(plain, wl.batches)
    warm_up(watched, wl.batches)
    delta = profile_delta(plain, watched, wl.batches, steps=40)
    if delta is None:
        print("the TF profiler is not available here")
        return
    print(f"{workload}: op self time per step, watch - plain (µs), load {os.getloadavg()}")
    rows = sorted(delta["delta_by_op_type_us"].items(), key=lambda kv: -abs(kv[1]))
    for op, us in rows[:20]:
        print(f"  {op:<32} {us:+9.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.parts", description=__doc__)
    parser.add_argument(
        "what",
        choices=(
            "xla",
            "modes",
            "floor",
            "detectors",
            "tail",
            "profile",
            "restore",
            "writes",
            "launch",
            "host",
            "dispatch",
            "first",
            "detectors-ab",
            "outputs",
        ),
    )
    parser.add_argument(
        "--workload",
        default="mlp",
        help="mlp, cnn, lstm, attention, deep; NAME-xla: the same with jit_compile=True",
    )
    parser.add_argument("--size", default="30m", help="restore: 1m, 30m or 100m parameters")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--only",
        default="",
        help="tail: the plain step and only the variants whose names contain one of these "
        "comma-separated strings (e.g. 'fuse_tail')",
    )
    parser.add_argument(
        "--other",
        default="",
        help="detectors-ab: the root of another checkout whose nantrace/live/early_warning.py "
        "the second watch uses (e.g. a git worktree of an older commit)",
    )
    args = parser.parse_args(argv)
    if args.what == "detectors-ab":
        if not args.other:
            parser.error("detectors-ab needs --other PATH (the root of another checkout)")
        run_detectors_ab(args.workload, args.rounds, args.other)
        return 0
    if args.what == "xla":
        run_xla(args.workload, args.rounds)
    elif args.what == "modes":
        run_modes(args.workload, args.rounds)
    elif args.what == "floor":
        run_floor(args.workload, args.rounds)
    elif args.what == "detectors":
        run_detectors(args.workload, args.rounds)
    elif args.what == "tail":
        run_tail(args.workload, args.rounds, [o for o in args.only.split(",") if o])
    elif args.what == "restore":
        run_restore(args.size, args.rounds)
    elif args.what == "writes":
        run_writes(args.workload, args.rounds)
    elif args.what == "launch":
        run_launch(args.rounds)
    elif args.what == "host":
        run_host(args.workload, args.rounds)
    elif args.what == "dispatch":
        run_dispatch(args.workload, args.rounds)
    elif args.what == "first":
        run_first(args.workload, args.rounds)
    elif args.what == "outputs":
        run_outputs(args.workload, args.rounds)
    else:
        run_profile(args.workload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
