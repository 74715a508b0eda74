"""tf.distribute: which strategies are guarded, one trip decision for every worker, one report.

* MirroredStrategy: every replica's loss, gradients and writes are ops of the one step graph,
  so the sentinel's single decision already covers all replicas (no extra collective).
* MultiWorkerMirroredStrategy: each worker runs its own graph. The guard's status vector
  (tripped, loss, gradients, variables) is summed across workers with one 4-element all-reduce
  before the restore, so a value only one worker sees (a ``stop_gradient`` loss term, a
  per-replica metric) trips and restores every worker on the same step, and every worker then
  runs the same replay (whose collectives line up). After the replay the workers exchange their
  reports (two small all-gathers of the JSON text) and each returns the merged one: the
  origin from the first worker (by task index) whose replay named it. The chief writes the
  bundle. Candidate fixes are ranked but not verified: verifying replays extra steps whose
  collectives the other workers would not run.
* ParameterServerStrategy, TPUStrategy and the rest: refused in one line.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.errors import NantraceError

SUPPORTED = "MirroredStrategy and MultiWorkerMirroredStrategy"


def current_strategy() -> Any:
    """The tf.distribute strategy of the calling context, or None for the default one."""
    strategy = tf.distribute.get_strategy()
    return None if _tf_compat.is_default_strategy(strategy) else strategy


def check_supported(strategy: Any, where: str) -> None:
    """Raise a one-line NantraceError unless ``strategy`` is one nantrace guards."""
    if strategy is None or isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    ):
        return
    raise NantraceError(
        f"{where}: {type(strategy).__name__} is not supported; nantrace guards {SUPPORTED} "
        "(custom training loops and model.fit); train under one of those or without a strategy"
    )


def worker_count(strategy: Any) -> int:
    """Workers of a MultiWorkerMirroredStrategy cluster (1 for any single-process strategy)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 1
    spec = strategy.cluster_resolver.cluster_spec()
    jobs = spec.jobs if spec is not None else []
    return max(1, sum(spec.num_tasks(job) for job in jobs if job in ("chief", "worker")))


def worker_index(strategy: Any) -> int:
    """This worker's index in the order of its replicas (chief first, then workers)."""
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    chiefs = spec.num_tasks("chief") if "chief" in spec.jobs else 0
    if resolver.task_type == "chief":
        return 0
    return chiefs + int(resolver.task_id or 0)


def agree(strategy: Any, flags: list[tf.Tensor]) -> list[tf.Tensor]:
    """Graph ops: each boolean flag OR-ed across the workers (identity on one process).

    One all-reduce of a small float vector: a sum of 0/1 values, positive where any worker
    raised the flag. Every worker traces the same call, so the collectives line up."""
    if worker_count(strategy) <= 1:
        return flags
    local = tf.cast(tf.stack(flags), tf.float32)

    def replica_sum(value: tf.Tensor) -> tf.Tensor:
        # an identity on the replica's device: all_reduce sends to the value's device
        return tf.distribute.get_replica_context().all_reduce("sum", tf.identity(value))

    summed = strategy.experimental_local_results(strategy.run(replica_sum, args=(local,)))[0]
    agreed = summed > 0.0
    return [agreed[i] for i in range(len(flags))]


def _all_gather(strategy: Any, value: np.ndarray) -> np.ndarray:
    def gather(v: tf.Tensor) -> tf.Tensor:
        return tf.distribute.get_replica_context().all_gather(v, axis=0)

    result = strategy.run(gather, args=(tf.constant(value),))
    return strategy.experimental_local_results(result)[0].numpy()


def gather_texts(strategy: Any, text: str) -> list[str]:
    """Every worker's ``text``, in worker order (eager collectives: all workers must call)."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)
    lengths = _all_gather(strategy, np.array([data.size], np.int32))
    padded = np.zeros((1, int(lengths.max())), np.int32)
    padded[0, : data.size] = data
    rows = _all_gather(strategy, padded)
    local = max(1, len(rows) // worker_count(strategy))
    texts = [
        bytes(row[: int(n)].astype(np.uint8)).decode("utf-8")
        for row, n in zip(rows, lengths, strict=True)
    ]
    return texts[::local]  # one per worker (a worker's local replicas send the same text)


def merge_reports(strategy: Any, report: Any, bundle: bool = False) -> Any:
    """The run's one report: this worker's report merged with every other worker's.

    The origin is taken from the first worker (by index) whose replay named one; the others
    are summarised in a note (``bundle``: say which worker writes the bundle). All workers
    must call this after the same trip."""
    from nantrace.report.records import Report

    me = worker_index(strategy)
    reports = [Report.from_json(text) for text in gather_texts(strategy, report.to_json(None))]
    named = [i for i, r in enumerate(reports) if r.origin.kind != "unknown"]
    source = named[0] if named else me
    chosen = reports[source]
    origin = chosen.origin
    if origin.tensor is not None:
        origin = dataclasses.replace(origin, tensor=f"{origin.tensor} (worker {source})")
    others = ", ".join(f"worker {i}: {r.origin.kind}" for i, r in enumerate(reports) if i != source)
    notes = [
        note
        for note in chosen.notes
        if "cross-replica all-reduce" not in note and "did not reproduce" not in note
    ]
    notes.append(
        f"merged from {len(reports)} workers: worker {source}'s replay "
        + (f"named the origin ({others})" if named else f"found no origin ({others})")
        + (
            f"; rows are indices within worker {source}'s shard of the batch"
            if origin.kind == "input_data"
            else ""
        )
    )
    if chosen.fixes:
        notes.append(
            "fixes ranked, not verified by replay: under MultiWorkerMirroredStrategy a "
            "verification step would run collectives the other workers do not"
        )
    if bundle:
        notes.append(
            "this worker writes the merged bundle (the chief)"
            if me == 0
            else "the chief (worker 0) writes the merged report's bundle"
        )
    return dataclasses.replace(
        chosen, origin=origin, notes=tuple(notes), reproduced=bool(named) or chosen.reproduced
    )


def reduce_outputs(strategy: Any, outputs: Any) -> Any:
    """A step's per-replica outputs as one value each (the mean, as Keras' fit logs them)."""

    def one(value: Any) -> Any:
        if _tf_compat.replica_values(value) is None:
            return value
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)

    return tf.nest.map_structure(one, outputs)
