"""Overhead of ``nantrace.watch`` on healthy steps, and its time-to-report after a trip.

Run from the repository root::

    python -m bench.overhead                      # full run (~5 min on 2 CPU cores)
    python -m bench.overhead --quick              # smoke test (~1-2 min)
    python -m bench.overhead --workloads mlp --rounds 20 --out bench/results/mlp.json

What is measured (see bench/README.md for the method and the latest numbers):

* per-step time of the plain ``tf.function`` train step and of the same step under
  ``nantrace.watch`` (decorator over the tf.function), in ONE process, interleaved rounds whose
  order alternates (A B, B A, A B, ...) so that machine drift cancels. Each round times a block of
  several steps and syncs once at the end (``loss.numpy()``); tracing and the first runs are
  warm-up and are not timed. ``nantrace.watch`` also reads its 5-element status on the host once
  per step, by design, so its blocks contain that sync per step.
* ``tf.debugging.enable_check_numerics()`` and ``tf.debugging.experimental.enable_dump_debug_info
  (..., tensor_debug_mode="CURT_HEALTH")`` in subprocesses (both are process-global), each of
  which times its own plain step interleaved with the instrumented one, so every ratio is a
  within-process ratio. The plain step there was traced before the tool was enabled, and the
  tool's eager op callbacks are taken off while the plain block runs.
* the extra memory the watch holds for its rollback: the pre-step value of every variable the
  step writes (trainable variables, optimizer slots and counters, RNG state). This is COMPUTED
  from the sizes of the variables the sentinel saved, not measured.
* time-to-report: a ~1M-parameter MLP whose step goes non-finite; time from the call to catching
  ``nantrace.NonFiniteError``, minus the plain step time (= restore + replay + diagnosis).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from bench.timing import (  # noqa: E402
    Variant,
    block_size,
    compare,
    interleave,
    ratios,
    run_block,
    summarize,
    warm_up,
)
from bench.workloads import (  # noqa: E402
    ALL_WORKLOADS,
    build_workload,
    make_train_step,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = "bench/results/overhead.json"
DEFAULT_WORKLOADS = tuple(n for n in ALL_WORKLOADS if n != "mirrored")  # own process
TOOLS = ("check_numerics", "dump_debug_info")
TODO = [
    "a mixed-precision (float16) workload: not measured yet",
]


# -- memory (computed) ----------------------------------------------------------------------
def _nbytes(value: Any) -> int:
    import tensorflow as tf

    return int(np.prod(value.shape)) * tf.as_dtype(value.dtype).size


def _batch_tensors(entries: Any) -> dict[int, Any]:
    """Unique tensors referenced by a list of (args, kwargs) batches."""
    import tensorflow as tf

    found: dict[int, Any] = {}
    for entry in entries or []:
        for item in tf.nest.flatten(entry):
            if hasattr(item, "shape") and hasattr(item, "dtype"):
                found[id(item)] = item
    return found


def guard_mode(watched: Any) -> str:
    """How the watched step undoes a trip: "host restore" (from the anchor), "gated" (the
    update in-graph, a slow step) or "copy" (see nantrace.live.sentinel)."""
    if not getattr(watched, "gated", False):
        return "copy"
    return "host restore" if getattr(watched, "host_restore", False) else "gated"


def watch_memory(watched: Any, model: Any, optimizer: Any, batch: Any) -> dict[str, Any]:
    """What the watch keeps alive, COMPUTED from sizes (not measured with an allocator).

    * ``restore_bytes``: pre-step values of every variable the step writes, held in-graph for
      the duration of each step (TF copies each buffer on its first write, so the old value
      survives): the peak extra memory of the in-graph guard.
    * ``anchor_bytes`` (if the guard keeps one): a host copy of the state, kept permanently.
    * ``batch_refs_*``: batches the guard keeps references to (for replay / verification).
    """
    anchored = getattr(watched, "gated", False)
    restored = getattr(watched, "_host_written", set()) if anchored else set()
    # variables written under host restore are never copied (the anchor re-run puts them back)
    saved = [v for k, v in getattr(watched, "known_variables", {}).items() if k not in restored]
    trainable = sum(_nbytes(v) for v in model.trainable_variables)
    opt_bytes = sum(_nbytes(v) for v in optimizer.variables)
    held = sum(_nbytes(v) for v in saved)
    out: dict[str, Any] = {
        "method": "computed from the sizes of the variables/tensors the watch keeps (not measured)",
        "variables_saved": len(saved),
        "restore_bytes": held,
        "trainable_bytes": trainable,
        "optimizer_state_bytes": opt_bytes,
        "restore_vs_trainable_plus_optimizer": held / max(1, trainable + opt_bytes),
    }
    anchor = getattr(watched, "anchor", None)
    if anchor is not None and hasattr(anchor, "values"):
        out["anchor_bytes"] = int(sum(np.asarray(a).nbytes for _, a in anchor.values))
    recent = getattr(watched, "recent", None)
    since = getattr(watched, "since_anchor", None)
    if recent is not None or since is not None:
        from nantrace.live import guard

        per_batch = sum(_nbytes(t) for t in _batch_tensors([batch]).values())
        every = int(getattr(guard, "ANCHOR_EVERY", 0) or 0)
        maxlen = getattr(recent, "maxlen", None) or 0
        out["batch_bytes"] = per_batch
        out["batch_refs_now"] = len(list(recent or [])) + len(list(since or []))
        # with a data pipeline every batch is a new tensor: up to max(ANCHOR_EVERY, maxlen)
        # distinct batches are referenced at once (recent is a suffix of since_anchor)
        out["batch_refs_worst_case"] = max(every, maxlen)
        out["batch_refs_worst_case_bytes"] = per_batch * max(every, maxlen)
    return out


def time_anchor(watched: Any) -> dict[str, Any] | None:
    """The host snapshot the guard takes every ANCHOR_EVERY healthy steps (if it does)."""
    take = getattr(watched, "_take_anchor", None)
    if take is None:
        return None
    from nantrace.live import guard

    every = int(getattr(guard, "ANCHOR_EVERY", 0) or 0)
    saved_anchor, saved_since = watched.anchor, list(getattr(watched, "since_anchor", []))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        take()
        times.append(time.perf_counter() - start)
    watched.anchor, watched.since_anchor = saved_anchor, saved_since
    median = statistics.median(times)
    return {
        "every_steps": every,
        "median_ms": median * 1e3,
        "amortized_ms_per_step": median * 1e3 / every if every else None,
    }


# -- main process: plain vs watch -----------------------------------------------------------
def measure_watch(
    name: str, rounds: int, target_block_s: float, compiled: bool = True
) -> dict[str, Any]:

    import nantrace

    wl = build_workload(name)
    wrap = wl.compile if compiled else (lambda f: f)
    plain = wrap(make_train_step(wl.model, wl.optimizer, wl.loss_fn))
    watched = nantrace.watch(wrap(make_train_step(wl.model, wl.optimizer, wl.loss_fn)))
    t0 = time.perf_counter()
    warm_up(plain, wl.batches)
    trace_plain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm_up(watched, wl.batches)
    trace_watch_s = time.perf_counter() - t0
    step_s = min(warm_up(plain, wl.batches, 1), warm_up(watched, wl.batches, 1))
    steps = block_size(step_s, target_block_s)
    a = Variant("plain", plain, steps)
    b = Variant("watch", watched, steps)
    # nantrace.watch calls its traced step without tf.function's per-call dispatch
    # (compat.tf.DirectCalls): the plain step called the same way isolates the guard's own cost
    direct = None
    if compiled:
        from nantrace.compat.tf import DirectCalls

        called_directly = DirectCalls(wrap(make_train_step(wl.model, wl.optimizer, wl.loss_fn)))
        warm_up(called_directly, wl.batches)
        direct = Variant("plain, called directly", called_directly, steps)
    interleave([a, b] if direct is None else [a, direct, b], wl.batches, rounds)
    return {
        "description": wl.description + ("" if compiled else " (eager step, no tf.function)"),
        "compiled": compiled,
        "params": wl.params,
        "batch_size": wl.batch_size,
        "steps_per_block": steps,
        "rounds": rounds,
        "warmup_s": {"plain": trace_plain_s, "watch": trace_watch_s},
        "plain": summarize(a.times),
        "watch": summarize(b.times),
        "watch_vs_plain": compare(a, b),
        **(
            {}
            if direct is None
            else {"direct": summarize(direct.times), "watch_vs_direct": compare(direct, b)}
        ),
        "watch_steps_run": watched.step,
        "jit_compile": wl.jit_compile,
        "guard_mode": guard_mode(watched),
        "watch_memory": watch_memory(watched, wl.model, wl.optimizer, wl.batches[0]),
        "anchor": time_anchor(watched),
    }


#: seconds of steps in one timed fit() call (see measure_fit)
FIT_BLOCK_S = 3.0


def train_function_variants(
    plain_model: Any, watched_model: Any, data: Any, step_s: float, target_block_s: float
) -> list[Variant]:
    """Each model's ``train_function`` (built by the fit calls before) called on its own
    iterator over ``data``, one step per call, as ``fit`` calls it; the block syncs on the loss."""
    steps = block_size(step_s, target_block_s)
    variants = []
    for name, model in (("plain", plain_model), ("watch", watched_model)):
        function, iterator = model.train_function, iter(data)

        def step(_x: Any, _y: Any, function: Any = function, iterator: Any = iterator) -> Any:
            return function(iterator)["loss"]

        warm_up(step, [(None, None)])
        variants.append(Variant(name, step, steps))
    return variants


def fit_data_options() -> Any:
    """The fit workload's dataset options: tf.data autotuning off (see measure_fit)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def measure_fit(rounds: int, target_block_s: float) -> dict[str, Any]:
    """Keras ``model.fit`` on the MLP: plain fit, ``nantrace.watch(model)`` and
    ``NanTraceCallback``, interleaved; one timed block = one ``fit`` call of one epoch."""
    import tensorflow as tf

    try:
        import nantrace.keras as ntk
    except ImportError as error:  # the Keras surface is not there yet
        return {"error": f"nantrace.keras unavailable: {error}"}

    def compiled_model() -> Any:
        wl = build_workload("mlp")
        wl.model.compile(optimizer=wl.optimizer, loss=wl.loss_fn)
        return wl

    base = compiled_model()
    guarded = compiled_model()  # same seed: an identical, separate model for watch(model)
    watch_model = getattr(ntk, "watch_model", None)
    if watch_model is None:
        return {"error": "nantrace.keras.watch_model unavailable"}
    watch_model(guarded.model)
    batch = base.batch_size
    x = np.concatenate([np.asarray(x) for x, _ in base.batches])
    y = np.concatenate([np.asarray(y) for _, y in base.batches])

    def fit_fn(model: Any, with_callback: bool = False) -> Callable[[Any, Any], Any]:
        def run(_x: Any, _y: Any) -> Any:
            callbacks = [ntk.NanTraceCallback()] if with_callback else []
            history = model.fit(
                data, epochs=1, verbose=0, callbacks=callbacks, steps_per_epoch=steps
            )
            return tf.constant(history.history["loss"][-1])

        return run

    # enough steps per fit call that fit's per-call set-up does not dominate: it varies by
    # ~0.3 s from one call to the next here (plain fit calls of 64 steps took 0.30 or 0.62 s),
    # so a block is FIT_BLOCK_S of steps (at most 1024), not the other workloads' target
    probe = tf.function(make_train_step(base.model, base.optimizer, base.loss_fn))
    warm_up(probe, base.batches)
    step_s = warm_up(probe, base.batches, 1)
    steps = max(16, block_size(step_s, max(target_block_s, FIT_BLOCK_S), hi=1024))
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).repeat()
    # tf.data's autotuning thread makes a fit() call that ends mid-period wait at exit for the
    # next period (~5.1 s here): a fit() call of the same steps then took 5.1 or 10.2 s, plain
    # or watched (the bimodal whole-fit() figures up to bec288e). Off for every variant, so the
    # blocks time the steps and fit()'s own set-up, not that wait.
    data = data.with_options(fit_data_options())
    variants = {
        "plain": fit_fn(base.model),
        "watch": fit_fn(guarded.model),
        "callback": fit_fn(base.model, with_callback=True),
    }
    first_call_s = {}
    for key, fn in variants.items():
        t0 = time.perf_counter()
        fn(None, None)
        first_call_s[key] = time.perf_counter() - t0
        fn(None, None)
    fit_rounds = max(3, rounds // 3)
    vs = [Variant(k, fn, 1) for k, fn in variants.items()]
    interleave(vs, [(None, None)], fit_rounds)
    per_step = {v.name: [t / steps for t in v.times] for v in vs}
    steps_vs = train_function_variants(base.model, guarded.model, data, step_s, target_block_s)
    interleave(steps_vs, [(None, None)], rounds)
    watched = getattr(guarded.model.train_function, "watched", None)
    return {
        "description": f"Keras model.fit, MLP 784-512-512-10, batch {batch}, Adam, "
        f"{steps} steps per fit call (one timed block = one fit call)",
        "params": base.params,
        "batch_size": batch,
        "steps_per_block": steps,
        "rounds": fit_rounds,
        "first_fit_call_s": first_call_s,
        "plain": summarize(per_step["plain"]),
        "watch": summarize(per_step["watch"]),
        "callback": summarize(per_step["callback"]),
        "watch_vs_plain": compare(vs[0], vs[1]),
        "callback_vs_plain": compare(vs[0], vs[2]),
        # fit's step alone, as fit calls it: model.train_function(iterator), Keras' own
        # against nantrace's (the one watch(model) and NanTraceCallback install), without
        # fit()'s per-call set-up, whose duration is bimodal here
        "train_function": {
            "steps_per_block": steps_vs[0].steps_per_block,
            "rounds": rounds,
            "plain": summarize(steps_vs[0].times),
            "watch": summarize(steps_vs[1].times),
            "watch_vs_plain": compare(steps_vs[0], steps_vs[1]),
        },
        "callback_extra_s_per_fit_call": (
            statistics.median(vs[2].times) - statistics.median(vs[0].times)
        ),
        "watch_memory": watch_memory(watched, guarded.model, guarded.optimizer, base.batches[0])
        if watched is not None
        else None,
        "data": "tf.data.Dataset of the 4 batches, repeated; autotune off (fit_data_options)",
        "note": "watch = nantrace.keras.watch_model(model) (train function built once); "
        "callback = a new NanTraceCallback per fit call (the guarded train function it "
        "installs is built once per model and reused by later fit calls)",
    }


# -- subprocess: plain vs a TF debugging tool -----------------------------------------------
@contextlib.contextmanager
def eager_op_callbacks_removed() -> Iterator[None]:
    """Take the tool's eager op callbacks off while the (un-instrumented) plain block runs."""
    from tensorflow.python.eager import context
    from tensorflow.python.framework import op_callbacks

    callbacks = list(context.context().op_callbacks)
    for callback in callbacks:
        op_callbacks.remove_op_callback(callback)
    try:
        yield
    finally:
        for callback in callbacks:
            op_callbacks.add_op_callback(callback)


def tool_worker(
    tool: str, name: str, rounds: int, steps: int, budget_s: float, dump_buffer: int
) -> dict[str, Any]:
    import tensorflow as tf

    wl = build_workload(name)
    plain = tf.function(make_train_step(wl.model, wl.optimizer, wl.loss_fn))
    warm_up(plain, wl.batches)
    plain_s = warm_up(plain, wl.batches, 1)
    tmp = tempfile.TemporaryDirectory(prefix="nantrace-bench-dump-")
    extra: dict[str, Any] = {}
    if tool == "check_numerics":
        tf.debugging.enable_check_numerics()
    elif tool == "dump_debug_info":
        tf.debugging.experimental.enable_dump_debug_info(
            tmp.name, tensor_debug_mode="CURT_HEALTH", circular_buffer_size=dump_buffer
        )
        extra["circular_buffer_size"] = dump_buffer
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    tooled = tf.function(make_train_step(wl.model, wl.optimizer, wl.loss_fn))
    t0 = time.perf_counter()
    warm_up(tooled, wl.batches)
    trace_s = time.perf_counter() - t0
    tool_s = warm_up(tooled, wl.batches, 1)
    tool_steps = block_size(tool_s, steps * plain_s, lo=2, hi=steps)
    per_round = steps * plain_s + tool_steps * tool_s
    rounds_run = int(max(3, min(rounds, budget_s // max(per_round, 1e-6))))
    a = Variant("plain", plain, steps, context=eager_op_callbacks_removed)
    b = Variant(tool, tooled, tool_steps)
    interleave([a, b], wl.batches, rounds_run)
    if tool == "dump_debug_info":
        tf.debugging.experimental.disable_dump_debug_info()
        extra["dump_bytes_on_disk"] = sum(p.stat().st_size for p in Path(tmp.name).rglob("*"))
    else:
        tf.debugging.disable_check_numerics()
    tmp.cleanup()
    return {
        "tool": tool,
        "workload": name,
        "rounds": rounds_run,
        "steps_per_block": {"plain": steps, tool: tool_steps},
        "warmup_s": trace_s,
        "plain": summarize(a.times),
        tool: summarize(b.times),
        "vs_plain": compare(a, b),
        **extra,
    }


def run_tool_subprocess(
    tool: str, name: str, rounds: int, steps: int, budget_s: float, dump_buffer: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nantrace-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            "-m",
            "bench.overhead",
            "--_worker",
            tool,
            "--workloads",
            name,
            "--rounds",
            str(rounds),
            "--_steps",
            str(steps),
            "--_budget",
            str(budget_s),
            "--dump-buffer",
            str(dump_buffer),
            "--_worker-out",
            str(out),
        ]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        try:
            proc = subprocess.run(
                cmd,
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=max(120.0, 6 * budget_s),
            )
        except subprocess.TimeoutExpired:
            return {"tool": tool, "workload": name, "error": "timed out"}
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return {"tool": tool, "workload": name, "error": " | ".join(tail)}
        return json.loads(out.read_text())


# -- breakdown: where the watch's healthy-step time goes ------------------------------------
def measure_breakdown(rounds: int, target_block_s: float) -> dict[str, Any]:
    """Ablations on the MLP, one process, interleaved: each adds ONE part of what the guard
    does to the plain step, built the same way as nantrace.live.sentinel builds it.

    * ``host_read``: the step also returns a 4-element int32 status that is read on the host
      (``.numpy()``) after every step, as ``Watched.__call__`` does.
    * ``snapshot``: the pre-step value of every variable the step writes is kept
      (``tf.identity(v.read_value())``, which makes TF copy each buffer on its next write) and a
      ``tf.cond`` on a runtime-false predicate would assign them back.
    * ``checks``: the three fused finite checks (loss, gradients, variables after the update, each
      via ``nantrace.live.sentinel.all_finite``) and the status, read on the host.

    Also the fixed per-call cost of the watch on a tiny model (Dense 8-16-1, batch 8).
    """
    import keras
    import tensorflow as tf

    import nantrace
    from nantrace.compat import tf as _tf_compat
    from nantrace.live.sentinel import all_finite

    wl = build_workload("mlp")
    model, optimizer, loss_fn = wl.model, wl.optimizer, wl.loss_fn
    py_step = make_train_step(model, optimizer, loss_fn)
    plain = tf.function(py_step)
    warm_up(plain, wl.batches)  # creates the optimizer slots
    written = [
        _tf_compat.as_tf_variable(v)
        for v in list(model.trainable_variables) + list(optimizer.variables)
    ]
    written = [v for v in written if v is not None]
    trainable = [_tf_compat.as_tf_variable(v) for v in model.trainable_variables]

    @tf.function
    def status_step(x, y):
        return py_step(x, y), tf.zeros([4], tf.int32)

    def host_read(x, y):
        loss, status = status_step(x, y)
        status.numpy()
        return loss

    @tf.function
    def snapshot(x, y):
        saved = [tf.identity(v.read_value()) for v in written]
        loss = py_step(x, y)

        def restore():
            for v, old in zip(written, saved, strict=True):
                v.assign(old, read_value=False)
            return tf.constant(True)

        tf.cond(tf.logical_not(tf.math.is_finite(loss)), restore, lambda: tf.constant(False))
        return loss

    @tf.function
    def checks_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        loss_ok = all_finite([loss])
        grads_ok = all_finite([g for g in grads if g is not None])
        vars_ok = all_finite([v.read_value() for v in trainable])
        ok = tf.logical_and(loss_ok, tf.logical_and(grads_ok, vars_ok))
        return loss, tf.cast(tf.stack([ok, loss_ok, grads_ok, vars_ok]), tf.int32)

    def checks(x, y):
        loss, status = checks_step(x, y)
        status.numpy()
        return loss

    watched = nantrace.watch(tf.function(make_train_step(model, optimizer, loss_fn)))
    steps_fns = {
        "plain": plain,
        "host_read": host_read,
        "snapshot": snapshot,
        "checks": checks,
        "watch": watched,
    }
    for fn in steps_fns.values():
        warm_up(fn, wl.batches)
    steps = block_size(warm_up(plain, wl.batches, 1), target_block_s)
    variants = [Variant(k, fn, steps) for k, fn in steps_fns.items()]
    interleave(variants, wl.batches, rounds)
    base = variants[0].times
    parts = {v.name: {**summarize(v.times), **ratios(base, v.times)} for v in variants}
    plain_med = statistics.median(base)
    for v in variants[1:]:
        parts[v.name]["extra_ms_median"] = (statistics.median(v.times) - plain_med) * 1e3

    profile = profile_delta(plain, watched, wl.batches)

    # fixed per-call cost on a tiny model, where the step itself is almost free
    keras.utils.set_random_seed(0)
    tiny = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    tiny_opt = keras.optimizers.Adam(1e-3)
    tiny_loss = keras.losses.MeanSquaredError()
    rng = np.random.default_rng(0)
    tiny_batches = [
        (
            tf.constant(rng.standard_normal((8, 8)).astype("float32")),
            tf.constant(rng.standard_normal((8, 1)).astype("float32")),
        )
    ]
    tiny_plain = tf.function(make_train_step(tiny, tiny_opt, tiny_loss))
    tiny_watch = nantrace.watch(tf.function(make_train_step(tiny, tiny_opt, tiny_loss)))
    warm_up(tiny_plain, tiny_batches)
    warm_up(tiny_watch, tiny_batches)
    tiny_steps = block_size(warm_up(tiny_plain, tiny_batches, 1), target_block_s, hi=400)
    a, b = Variant("plain", tiny_plain, tiny_steps), Variant("watch", tiny_watch, tiny_steps)
    interleave([a, b], tiny_batches, rounds)
    return {
        "workload": wl.description,
        "steps_per_block": steps,
        "rounds": rounds,
        "parts": parts,
        "profile": profile,
        "tiny_model": {
            "description": "Dense 8-16-1, batch 8, Adam (the step itself is almost free)",
            "plain_us_median": statistics.median(a.times) * 1e6,
            "watch_us_median": statistics.median(b.times) * 1e6,
            "fixed_cost_us_median": (statistics.median(b.times) - statistics.median(a.times)) * 1e6,
            "fixed_cost_us_min": (min(b.times) - min(a.times)) * 1e6,
        },
    }


def profile_op_times(step: Callable[[Any, Any], Any], batches: list, steps: int) -> dict | None:
    """Per-op-type self time (µs per step) from TF's profiler, or None if it is unavailable.

    Op self-times do not depend on how busy the machine is as much as wall-clock blocks do,
    so the difference between two steps' profiles says which ops the guard adds or slows.
    """
    import glob

    import tensorflow as tf

    try:
        from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin
    except ImportError:
        return None
    with tempfile.TemporaryDirectory(prefix="nantrace-bench-prof-") as tmp:
        tf.profiler.experimental.start(tmp)
        try:
            run_block(step, batches, steps)
        finally:
            tf.profiler.experimental.stop()
        files = glob.glob(f"{tmp}/**/*.xplane.pb", recursive=True)
        try:
            data, _ = plugin.xspace_to_tools_data(files, "framework_op_stats")
        except Exception:  # the tool's name or format changed with the TF version
            return None
    table = json.loads(data.decode() if isinstance(data, bytes) else data)
    table = table[0] if isinstance(table, list) else table
    cols = [c["id"] for c in table["cols"]]
    by_type: dict[str, float] = {}
    for raw in table["rows"]:
        row = dict(zip(cols, [c.get("v") if c else None for c in raw["c"]], strict=False))
        key = str(row.get("type"))
        by_type[key] = by_type.get(key, 0.0) + float(row.get("total_self_time") or 0) / steps
    return by_type


def profile_delta(plain: Any, watched: Any, batches: list, steps: int = 40) -> dict | None:
    a = profile_op_times(plain, batches, steps)
    b = profile_op_times(watched, batches, steps)
    if a is None or b is None:
        return None
    delta = {k: b.get(k, 0.0) - a.get(k, 0.0) for k in set(a) | set(b)}
    return {
        "unit": "µs of op self time per step (all threads; IDLE = executor threads waiting)",
        "plain_total_us": sum(a.values()),
        "watch_total_us": sum(b.values()),
        "delta_by_op_type_us": dict(sorted(delta.items(), key=lambda kv: -abs(kv[1]))),
        "only_in_watch_us": {k: v for k, v in b.items() if k not in a},
    }


# -- time to report -------------------------------------------------------------------------
#: (module, function) stages of the diagnosis; each is timed where build_report looks it up.
_PHASES = (
    ("nantrace.diagnosis.pipeline", "find_bad_inputs"),
    ("nantrace.diagnosis.pipeline", "replay_step"),
    ("nantrace.diagnosis.pipeline", "build_graph"),
    ("nantrace.diagnosis.pipeline", "locate_origin"),
    ("nantrace.diagnosis.pipeline", "gather_evidence"),
    ("nantrace.diagnosis.pipeline", "infer_cause"),
    ("nantrace.diagnosis.pipeline", "rank_fixes"),
    ("nantrace.diagnosis.pipeline", "path_between"),
    ("nantrace.diagnosis.verify", "verify_fixes"),  # imported lazily by build_report
)


@contextlib.contextmanager
def phase_timers(totals: dict[str, float]) -> Iterator[None]:
    """Time the stages of a diagnosis (wraps module attributes in this process only)."""
    patched = []
    for module_name, attr in _PHASES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        original = getattr(module, attr, None)
        if original is None:
            continue

        def wrapper(*args: Any, _fn: Any = original, _name: str = attr, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                totals[_name] = totals.get(_name, 0.0) + time.perf_counter() - start

        setattr(module, attr, wrapper)
        patched.append((module, attr, original))
    try:
        yield
    finally:
        for module, attr, original in patched:
            setattr(module, attr, original)


def measure_time_to_report(repeats: int) -> dict[str, Any]:
    """A ~1M-parameter MLP on CPU; trips from a NaN in the batch and from log(0) in the loss."""
    import keras
    import tensorflow as tf

    import nantrace

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    batch = 256
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    optimizer = keras.optimizers.Adam(1e-3)

    def loss_fn(y, logits):  # the hand-written cross-entropy users write (log of softmax)
        probs = tf.nn.softmax(logits)
        return -tf.reduce_mean(tf.reduce_sum(tf.one_hot(y, 10) * tf.math.log(probs), axis=-1))

    params = int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))
    x = rng.standard_normal((batch, 784)).astype("float32")
    y = rng.integers(0, 10, size=(batch,)).astype("int32")
    batches = [(tf.constant(x), tf.constant(y))]
    plain = tf.function(make_train_step(model, optimizer, loss_fn))
    watched = nantrace.watch(tf.function(make_train_step(model, optimizer, loss_fn)))
    warm_up(plain, batches)
    warm_up(watched, batches, 8)
    plain_s = statistics.median(run_block(plain, batches, 1) for _ in range(10))
    healthy_watch_s = statistics.median(run_block(watched, batches, 1) for _ in range(10))

    x_nan = x.copy()
    x_nan[[3, 17, 101], 5] = np.nan
    cases = {
        "nan_in_batch": (tf.constant(x_nan), tf.constant(y)),
        "log_zero_loss": (tf.constant(x * 1e4), tf.constant(y)),
    }
    # as users get it; and, if the guard verifies fixes by replay, with that switched off
    modes = {"default": True}
    if importlib.util.find_spec("nantrace.diagnosis.verify") is not None:
        modes["no_verify"] = False  # build_report honours watched.verify (default True)
    results: dict[str, Any] = {}
    for mode, verify in modes.items():
        for case, (xb, yb) in cases.items():
            if mode == "no_verify":
                watched.verify = verify
            runs = []
            for _ in range(repeats):
                before = [v.numpy().copy() for v in model.variables]
                phases: dict[str, float] = {}
                gc.collect()
                report, failure = None, None
                with phase_timers(phases):
                    start = time.perf_counter()
                    try:
                        watched(xb, yb)
                    except nantrace.NonFiniteError as error:
                        report = error.report
                    except Exception as error:  # a broken diagnosis is a result, not a crash
                        failure = f"{type(error).__name__}: {error}"
                    elapsed = time.perf_counter() - start
                restored = all(
                    np.array_equal(a, v.numpy(), equal_nan=True)
                    for a, v in zip(before, model.variables, strict=True)
                )
                runs.append(_trip_record(report, elapsed, plain_s, phases, restored))
                if failure is not None:
                    runs[-1]["error"] = failure
            warm = [r["time_to_report_s"] for r in runs[1:]] or [runs[0]["time_to_report_s"]]
            results[f"{case}/{mode}" if len(modes) > 1 else case] = {
                "case": case,
                "mode": mode,
                "first_s": runs[0]["time_to_report_s"],
                "warm_median_s": statistics.median(warm),
                "warm_min_s": min(warm),
                "runs": runs,
            }
    return {
        "model": "MLP 784-1024-256-10, batch 256, Adam, hand-written softmax cross-entropy",
        "params": params,
        "plain_step_ms": plain_s * 1e3,
        "healthy_watch_step_ms": healthy_watch_s * 1e3,
        "definition": "time from the call to catching nantrace.NonFiniteError minus the plain "
        "step time (= in-graph restore + eager replay with per-op capture + diagnosis "
        "[+ fix verification by replay, mode 'default', when the guard does it])",
        "cases": results,
    }


def _trip_record(
    report: Any, elapsed: float, plain_s: float, phases: dict[str, float], restored: bool
) -> dict[str, Any]:
    fixes = [] if report is None else list(report.fixes)
    return {
        "call_to_error_s": elapsed,
        "time_to_report_s": elapsed - plain_s,
        "phases_s": phases,
        "tripped": report is not None,
        "state_restored": restored,
        "origin": None if report is None else report.origin.kind,
        "cause": None if report is None or report.cause is None else report.cause.id,
        "fix": fixes[0].id if fixes else None,
        "fix_verified": getattr(fixes[0], "verified", None) if fixes else None,
        "ops_recorded": None if report is None else report.ops_recorded,
    }


# -- report ---------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    import keras
    import tensorflow as tf

    import nantrace

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "nantrace": nantrace.__version__,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(Exception):
        info["git_commit"] = _git("rev-parse", "--short", "HEAD")
        # the guard measured is the working tree: say whether it differs from the commit
        info["nantrace_tree_modified"] = bool(_git("status", "--porcelain", "--", "nantrace"))
    return info


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _load_average() -> list[float] | None:
    """1/5/15-minute load averages: other work on the machine makes timings noisier."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def overhead_ratio(tool_ratio: float | None, watch_ratio: float) -> float | None:
    """(t_tool - t_plain) / (t_watch - t_plain), each from its own process's plain step."""
    if tool_ratio is None:
        return None
    watch_over = watch_ratio - 1.0
    if watch_over <= 0:
        return None
    return (tool_ratio - 1.0) / watch_over


def _fmt_ratio(r: dict[str, float] | None) -> str:
    if not r:
        return "n/a"
    return f"{r['median_ratio']:.3f} / {r['min_ratio']:.3f} / {r['paired_median_ratio']:.3f}"


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def render_table(results: dict[str, Any]) -> str:
    lines = []
    m = results["machine"]
    dirty = " (nantrace/ modified vs the commit)" if m.get("nantrace_tree_modified") else ""
    lines.append(
        f"nantrace overhead benchmark, {results['date']} — {m.get('cpu_model', m['processor'])}, "
        f"{m['cpu_count']} CPUs, TF {m['tensorflow']}, Keras {m['keras']}, Python {m['python']}, "
        f"nantrace {m['nantrace']} @ {m.get('git_commit', '?')}{dirty}"
    )
    lines.append(
        f"load average at start / end: {results.get('load_average_start')} / "
        f"{results.get('load_average_end')}; rounds {results['config']['rounds']}, "
        "interleaved A B / B A"
    )
    lines.append("")
    lines.append(
        "Per-step time vs the plain tf.function step of the same process. Ratios: "
        "median / min / paired (ratio of medians, of minima, median of per-round ratios); "
        "cn/nt = check_numerics overhead ÷ watch overhead (medians). nantrace.watch calls "
        "its traced step without tf.function's per-call dispatch: 'guard' is the watch against "
        "the plain step called the same way (paired), the guard's own cost, and cn/guard "
        "check_numerics' overhead ÷ that (medians)."
    )
    cols = ("workload", "plain ms (med / min)", "watch", "check_numerics", "dump CURT_HEALTH")
    header = (
        f"| {cols[0]:<13} | {cols[1]:>20} | {cols[2]:>21} | {cols[3]:>21} | "
        f"{cols[4]:>21} | {'cn/nt':>7} | {'guard':>6} | {'cn/guard':>8} |"
    )
    lines.append(header)
    lines.append("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")

    def row(
        label: str,
        plain: dict,
        watch: dict | None,
        cn: Any,
        dump: Any,
        ov: str,
        guard: str = "n/a",
        cn_guard: str = "n/a",
    ) -> None:
        lines.append(
            f"| {label:<13} | {plain['median_ms']:>9.2f} / {plain['min_ms']:<8.2f} | "
            f"{_fmt_ratio(watch):>21} | {_fmt_ratio(cn):>21} | {_fmt_ratio(dump):>21} | "
            f"{ov:>7} | {guard:>6} | {cn_guard:>8} |"
        )

    for name, w in results["workloads"].items():
        if "error" in w:
            lines.append(f"| {name:<13} | {w['error']} |")
            continue
        tools = w.get("tools", {})
        cn = tools.get("check_numerics", {}).get("vs_plain")
        dump = tools.get("dump_debug_info", {}).get("vs_plain")
        ov = w.get("cn_over_watch_overhead")
        ov_s = f"{ov:.1f}x" if ov is not None else ("n/a" if not cn else "nt ≤ 0")
        label = {"fit": "fit:watch"}.get(name, name)
        vs_direct = w.get("watch_vs_direct")
        guard = f"{vs_direct['paired_median_ratio']:.3f}" if vs_direct else "n/a"
        ov_guard = w.get("cn_over_guard_overhead")
        cn_guard = f"{ov_guard:.1f}x" if ov_guard is not None else ("n/a" if not cn else "g ≤ 0")
        row(label, w["plain"], w["watch_vs_plain"], cn, dump, ov_s, guard, cn_guard)
        if "callback_vs_plain" in w:
            row("fit:callback", w["plain"], w["callback_vs_plain"], None, None, "n/a")
        if "train_function" in w:
            steps = w["train_function"]
            row("fit:step", steps["plain"], steps["watch_vs_plain"], None, None, "n/a")
    fit = results["workloads"].get("fit")
    if fit and "error" not in fit:
        lines.append(
            f"fit: one timed block = one fit() call of {fit['steps_per_block']} steps; "
            f"NanTraceCallback adds {fit['callback_extra_s_per_fit_call']:.2f} s per fit() call "
            "(median block against plain's; its train function is built once and reused); "
            "fit:step = "
            "model.train_function(iterator) alone, as fit calls it, nantrace's (the same for "
            "watch(model) and the callback) against Keras' own, "
            f"{fit['train_function']['steps_per_block']} steps a block"
        )

    lines.append("")
    lines.append("Memory the watch keeps (COMPUTED from variable/tensor sizes, not measured):")
    lines.append(
        "| workload | params | saved vars | in-step restore MB | trainable+optimizer MB | "
        "host anchor MB | batch refs (worst case) MB |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for name, w in results["workloads"].items():
        mem = w.get("watch_memory")
        if not mem:
            continue
        refs = mem.get("batch_refs_worst_case_bytes")
        refs_s = f"{_mb(refs)} ({mem['batch_refs_worst_case']} batches)" if refs else "–"
        lines.append(
            f"| {name} | {w['params']:,} | {mem['variables_saved']} | {_mb(mem['restore_bytes'])} "
            f"| {_mb(mem['trainable_bytes'] + mem['optimizer_state_bytes'])} | "
            f"{_mb(mem['anchor_bytes']) if 'anchor_bytes' in mem else '–'} | {refs_s} |"
        )
    anchors = {n: w["anchor"] for n, w in results["workloads"].items() if w.get("anchor")}
    if anchors:
        lines.append(
            "Host anchor snapshot (taken every "
            f"{next(iter(anchors.values()))['every_steps']} healthy steps): "
            + ", ".join(
                f"{n} {a['median_ms']:.1f} ms ({a['amortized_ms_per_step']:.3f} ms/step)"
                for n, a in anchors.items()
            )
        )

    ttr = results.get("time_to_report")
    if ttr:
        lines.append("")
        lines.append(
            f"Time-to-report after a trip ({ttr['params']:,}-parameter MLP, CPU; plain step "
            f"{ttr['plain_step_ms']:.1f} ms, healthy watched step "
            f"{ttr['healthy_watch_step_ms']:.1f} ms):"
        )
        lines.append(
            "| case | mode | first trip s | warm median s | origin / cause / first fix "
            "(verified) | ops | slowest stages (warm) |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for c in ttr["cases"].values():
            r = c["runs"][-1]
            top = sorted(r["phases_s"].items(), key=lambda kv: -kv[1])[:3]
            stages = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in top)
            lines.append(
                f"| {c['case']} | {c['mode']} | {c['first_s']:.2f} | {c['warm_median_s']:.2f} | "
                f"{r['origin']} / {r['cause']} / {r['fix']} ({r['fix_verified']}) | "
                f"{r['ops_recorded']} | {stages} |"
            )

    bd = results.get("breakdown")
    if bd:
        lines.append("")
        lines.append(f"Breakdown of the watch's cost ({bd['workload']}; each part added alone):")
        lines.append("| variant | median ms | extra ms | median ratio | min ratio |")
        lines.append("|---|---|---|---|---|")
        for part, p in bd["parts"].items():
            extra = p.get("extra_ms_median")
            lines.append(
                f"| {part} | {p['median_ms']:.3f} | "
                f"{'' if extra is None else f'{extra:+.3f}'} | "
                f"{p['median_ratio']:.3f} | {p['min_ratio']:.3f} |"
            )
        prof = bd.get("profile")
        if prof:
            only = sorted(prof["only_in_watch_us"].items(), key=lambda kv: -kv[1])
            writes = [(k, v) for k, v in prof["delta_by_op_type_us"].items() if "Assign" in k]
            lines.append(
                "TF profiler, op self time per step (µs, all threads): ops only the watch runs: "
                + ", ".join(f"{k} {v:.0f}" for k, v in only if v >= 2)
                + "; variable writes, watch − plain (copy-on-write of the saved state): "
                + ", ".join(f"{k} {v:+.0f}" for k, v in writes)
                + " (other op types differ by noise; see the JSON)"
            )
        t = bd["tiny_model"]
        lines.append(
            f"Fixed per-call cost of the watch (tiny model): {t['fixed_cost_us_median']:.0f} µs "
            f"median ({t['plain_us_median']:.0f} → {t['watch_us_median']:.0f} µs/step)"
        )
    lines.append("")
    for item in results["todo"]:
        lines.append(f"TODO: {item}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overhead",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke test")
    parser.add_argument(
        "--workloads",
        default=",".join(DEFAULT_WORKLOADS),
        help=f"comma-separated, from {','.join(ALL_WORKLOADS)} (default: %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (A,B pairs)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--no-tools", action="store_true", help="skip the TF-tool subprocesses")
    parser.add_argument("--no-report", action="store_true", help="skip time-to-report")
    parser.add_argument(
        "--eager", action="store_true", help="also time eager (no tf.function) steps"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also measure where the watch's time goes (MLP ablations, tiny-model fixed cost)",
    )
    parser.add_argument(
        "--dump-buffer", type=int, default=1000, help="enable_dump_debug_info circular_buffer_size"
    )
    parser.add_argument("--_worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--_steps", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--_budget", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--_worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    for n in names:
        if n not in ALL_WORKLOADS:
            parser.error(f"unknown workload {n!r}; choose from {', '.join(ALL_WORKLOADS)}")
    rounds = args.rounds or (4 if args.quick else 20)
    if rounds < 1:
        parser.error("--rounds must be at least 1")

    if args._worker:
        result = tool_worker(
            args._worker, names[0], rounds, args._steps, args._budget, args.dump_buffer
        )
        Path(args._worker_out).write_text(json.dumps(result))
        return 0

    target_block_s = 0.1 if args.quick else 0.3
    tool_budget_s = 8.0 if args.quick else 20.0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": "python -m bench.overhead " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": {
            "quick": args.quick,
            "rounds": rounds,
            "target_block_s": target_block_s,
            "tool_budget_s": tool_budget_s,
            "dump_circular_buffer_size": args.dump_buffer,
            "order": "interleaved, alternating A B / B A per round",
        },
        "load_average_start": _load_average(),
        "workloads": {},
        "todo": list(TODO),
    }
    if "fit" not in names:
        results["todo"].insert(0, "Keras model.fit workload not selected (--workloads ...,fit)")
    for name in names:
        if name == "fit":
            print("[fit] model.fit plain vs watch(model) vs NanTraceCallback ...", file=sys.stderr)
            results["workloads"]["fit"] = measure_fit(rounds, target_block_s)
            if "error" in results["workloads"]["fit"]:
                results["todo"].insert(0, f"model.fit: {results['workloads']['fit']['error']}")
            continue
        print(f"[{name}] plain vs watch ...", file=sys.stderr, flush=True)
        w = measure_watch(name, rounds, target_block_s)
        results["workloads"][name] = w
        if not args.no_tools and not w["jit_compile"]:
            w["tools"] = {}
            for tool in TOOLS:
                print(f"[{name}] plain vs {tool} (subprocess) ...", file=sys.stderr, flush=True)
                w["tools"][tool] = run_tool_subprocess(
                    tool, name, rounds, w["steps_per_block"], tool_budget_s, args.dump_buffer
                )
            cn = w["tools"]["check_numerics"].get("vs_plain")
            w["cn_over_watch_overhead"] = overhead_ratio(
                cn["median_ratio"] if cn else None, w["watch_vs_plain"]["median_ratio"]
            )
            if "watch_vs_direct" in w:  # against the guard's own cost (same dispatch)
                w["cn_over_guard_overhead"] = overhead_ratio(
                    cn["median_ratio"] if cn else None, w["watch_vs_direct"]["median_ratio"]
                )
    if args.eager:
        for name in names:
            if name == "fit" or name.endswith("-xla"):
                continue
            print(f"[{name}-eager] plain vs watch, eager steps ...", file=sys.stderr, flush=True)
            results["workloads"][f"{name}-eager"] = measure_watch(
                name, max(3, rounds // 2), target_block_s, compiled=False
            )
    if args.breakdown:
        print("[breakdown] MLP ablations ...", file=sys.stderr, flush=True)
        results["breakdown"] = measure_breakdown(rounds, target_block_s)
    if not args.no_report:
        print("[time-to-report] ~1M-parameter MLP ...", file=sys.stderr, flush=True)
        results["time_to_report"] = measure_time_to_report(2 if args.quick else 3)
    results["total_s"] = time.perf_counter() - started
    results["load_average_end"] = _load_average()

    out = Path(args.out)
    if not out.is_absolute():
        out = Path.cwd() / out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(render_table(results))
    print(f"\n(results: {args.out}; {results['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
