"""The diagnosis pipeline after a trip: inputs → replay → graph → origin → cause → fixes."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from nantrace.diagnosis.causes import infer_cause
from nantrace.diagnosis.evidence import gather_evidence, writing_optimizer
from nantrace.diagnosis.fixes import generic_candidates, rank_fixes
from nantrace.diagnosis.missing_codes import column_abs_max, find_missing_code
from nantrace.diagnosis.origin import (
    find_bad_inputs,
    input_range,
    locate_origin,
    padding_rows,
    reaching_bad_inputs,
    row_tensors,
)
from nantrace.diagnosis.sample_weights import weight_range
from nantrace.errors import internal_error_text
from nantrace.replay.failing_path import FEATURES, TARGETS, WEIGHTS, FailingPath, failing_path
from nantrace.replay.graph import build_graph, path_between, provenance_summary
from nantrace.replay.step import replay_step
from nantrace.report.records import Cause, Fix, Origin, Report, Trip


def build_report(
    watched: Any, trip: Trip, args: tuple, kwargs: dict, verify: bool | None = None
) -> Report:
    """The report of a tripped step; ``verify`` (default: ``watched.verify``) replays fixes."""
    names = watched.argument_names(args, kwargs)
    bad_inputs = find_bad_inputs(names, args, kwargs)
    capture = replay_step(watched, args, kwargs)
    graph = build_graph(capture.records)
    origin, record = locate_origin(capture, graph, trip, bad_inputs)
    notes: list[str] = []
    if record is not None and capture.distributed and _arrived_from_outside(record):
        # Under tf.distribute the update reads gradients all-reduced across replicas: a
        # non-finite value that no op of this replica produced came from another one.
        notes.append(
            f"the non-finite value entered this replica's update ({record.op_type} in "
            f"{record.layer or 'the update'}) from the cross-replica all-reduce: another "
            "replica or worker produced it; its own report names the origin"
        )
        origin = Origin(kind="unknown", phase="update", step=trip.step, device=record.device)
        record = None
    if bad_inputs and origin.kind not in ("input_data", "unknown"):
        unused = ", ".join(f"{b.tensor} (rows {list(b.rows[:5])})" for b in bad_inputs[:3])
        notes.append(
            f"the batch holds NaN/Inf in {unused}, but those values do not reach the "
            "non-finite loss or gradients (unused or masked out); the origin below is an op"
        )
    optimizers = capture.optimizers or watched.optimizers
    writer = writing_optimizer(capture, record)  # two optimizers (a GAN): the origin's first
    if writer is not None:
        optimizers = [writer] + [o for o in optimizers if o is not writer]
    history = watched.history.read() if watched.history is not None else None
    evidence = None
    try:
        failing = failing_path(capture, graph, record)
        evidence = gather_evidence(
            trip.step,
            input_range(args, kwargs),
            capture,
            optimizers,
            history,
            path=failing,
            graph=graph,
            record=record,
        )
        evidence.arguments = names
        if origin.kind == "input_data":
            evidence.non_finite_tensors = tuple(
                b.tensor for b in reaching_bad_inputs(capture, graph, bad_inputs)
            )
            shape = origin.output.shape if origin.output is not None else ()
            if shape:
                evidence.row_tensors = row_tensors(names, args, kwargs, shape[0])
        kept = [(args, kwargs), *reversed(list(getattr(watched, "since_anchor", ())))]
        evidence.missing_code, evidence.missing_code_role = _missing_code(names, kept, failing)
        if evidence.feature:
            evidence.feature_columns_abs_max = column_abs_max(names, kept, evidence.feature)
        weights = [t for t in failing.every_batch if t.role == WEIGHTS]
        if weights:
            # the rows with extreme weights may be rare: every batch the guard still holds
            held = {id(batch[0]) for batch in kept}
            older = [b for b in getattr(watched, "recent", ()) if id(b[0]) not in held]
            widest = max(weights, key=lambda t: t.health.max_abs)
            evidence.sample_weights = weight_range(names, kept + older, widest.name)
        if evidence.padded is not None:
            tensor, value, _ = evidence.padded
            evidence.empty_rows = padding_rows(names, args, kwargs, tensor, value)
        cause = infer_cause(origin, record, evidence)
        fixes = rank_fixes(origin, cause, evidence)
    except Exception as error:  # a bug of nantrace on an unusual model: keep the WHERE
        if os.environ.get("NANTRACE_DEBUG"):
            raise
        cause, fixes = _internal_error(error), []
        notes.append(cause.summary)
    speculative = False
    if not fixes and cause is not None and cause.id == "unknown" and evidence is not None:
        fixes, speculative = generic_candidates(evidence), True
    tried: list[Fix] = []
    if verify is None:
        verify = getattr(watched, "verify", True)
    if fixes and verify:
        from nantrace.diagnosis.verify import VerifyContext, verify_fixes

        draft = Report(trip=trip, origin=origin, cause=cause, fixes=tuple(fixes), reproduced=True)
        context = VerifyContext(
            watched=watched,
            report=draft,
            batch=(args, kwargs),
            recent=list(watched.recent),
            layers=capture.layers_seen,
            optimizer=optimizers[0] if optimizers else None,
            anchor=watched.anchor,
            since_anchor=list(watched.since_anchor),
            losses=list(capture.probability_loss_objects),
        )
        fixes, tried, verify_notes = verify_fixes(context, fixes)
        notes += verify_notes
        cause = _weigh_cause(cause, fixes, tried)
    if speculative:
        # Nothing pointed at these: keep only what replay showed to train.
        tried += [f for f in fixes if f.verified is not True and f.verdict is not None]
        fixes = [f for f in fixes if f.verified is True]
    path: tuple[str, ...] = ()
    steps: list[int] = []
    if record is not None:
        sinks = capture.sinks()
        # prefer the path to the loss
        for group in ("loss", "gradients", "variables", "outputs"):
            steps = path_between(graph, record.index, sinks[group])
            if len(steps) > 1 or record.index in sinks[group]:
                break
        path = tuple(capture.records[i].op_name for i in steps)
    reproduced = record is not None or bool(bad_inputs) or bool(notes)
    if trip.outputs and not (trip.loss or trip.gradients or trip.variables):
        notes.append(
            "the loss, gradients and weights of this step were finite: the non-finite value "
            "is one the step returns (a metric it logs); training itself was not harmed "
            "(nantrace.watch(check_outputs=False) leaves returned values unchecked)"
        )
    if not reproduced:
        notes.append(
            "the eager, un-compiled replay of this step stayed finite: the non-finite value "
            "did not reproduce outside the compiled step"
            + (" (XLA fusion can differ from eager kernels)" if watched.jit_compile else "")
            + "; the origin is not guessed"
            + (
                ". If a variable the step writes was changed outside it since the guard's last "
                "anchor where the guard cannot see it (inside another tf.function), the restore "
                "from that anchor could not see the change and the replay ran without it: call "
                "reanchor() on the watched step after such writes"
                if getattr(watched, "host_restore", False)
                and getattr(watched, "anchor", None) is not None
                else ""
            )
        )
        drawn = stateful_draws(capture)
        if drawn:
            notes.append(
                f"the step draws random numbers with stateful ops ({', '.join(drawn)}: "
                "tf.random.uniform / normal / ...), which the replay draws anew: a value made "
                "by one rare draw (an exact 0 of tf.random.uniform under a log or a division) "
                "cannot be shown again. Draw from a tf.random.Generator (or Keras' "
                "keras.random with a SeedGenerator): its state is a variable the guard "
                "restores, and the replay then draws the same numbers"
            )
    if trip.gradients and any(getattr(o, "dynamic_scale", None) is not None for o in optimizers):
        notes.append(
            "the LossScaleOptimizer's dynamic scale collapsed below 1: every step was being "
            "skipped because even unscaled gradients were non-finite"
        )
    if capture.error is not None:
        notes.append(
            f"the replay stopped early: {type(capture.error).__name__}: "
            f"{str(capture.error).splitlines()[0] if str(capture.error) else ''}"
        )
    return Report(
        trip=trip,
        origin=origin,
        cause=cause,
        fixes=tuple(fixes),
        tried=tuple(tried),
        reproduced=reproduced,
        path=path,
        notes=tuple(notes),
        restored=True,
        ops_recorded=len(capture.records),
        history=history_summary(history),
        graph=provenance_summary(graph, record.index if record else None, steps)
        if record is not None
        else None,
    )


def _missing_code(
    names: list[str], batches: list[tuple[tuple, dict]], path: FailingPath | None
) -> tuple[Any, str | None]:
    """A missing-value code in the batch features the failing path read (largest |x| first),
    else in the targets (every weight's gradient comes from the loss): (code, role)."""
    if path is None:
        return None, None
    for role, tensors in ((FEATURES, path.batch), (TARGETS, path.every_batch)):
        chosen = sorted((t for t in tensors if t.role == role), key=lambda t: -t.health.max_abs)
        code = find_missing_code(names, batches, [t.name for t in chosen])
        if code is not None:
            return code, role
    return None, None


def _weigh_cause(cause: Cause | None, fixes: list[Fix], tried: list[Fix]) -> Cause | None:
    """Replay is evidence too: one of the cause's own fixes training confirms it; when every
    checked fix failed, the cause is in doubt."""
    if cause is None or cause.id == "unknown":
        return cause
    checked = [f for f in list(fixes) + list(tried) if f.verdict is not None]
    if not checked:
        return cause
    evidence = dict(cause.evidence)
    trained = [f.id for f in checked if f.verified]
    if trained:
        evidence["confirmed_by"] = trained[0]
        confidence = min(0.99, cause.confidence + 0.1)
    else:
        evidence["refuted_by"] = ", ".join(f"{f.id} ({f.verdict})" for f in checked)
        confidence = cause.confidence * 0.5
    return dataclasses.replace(cause, evidence=evidence, confidence=round(confidence, 2))


def _arrived_from_outside(record: Any) -> bool:
    return record.phase == "update" and any(
        health is not None and not health.finite and producer is None
        for producer, health in zip(record.producers, record.inputs, strict=False)
    )


def history_summary(history: Any, top: int = 5) -> dict[str, Any] | None:
    """The recorded series for the report (JSON-safe: NaN becomes null)."""
    if history is None or len(history) == 0:
        return None

    def clean(values: Any) -> list[float | None]:
        return [float(v) if v == v and abs(v) != float("inf") else None for v in values]

    growth = [name for name, _, _ in history.weight_growth()[:top]]
    columns = {name: i for i, name in enumerate(history.names)}
    return {
        "steps": [int(s) for s in history.steps],
        "loss": clean(history.loss),
        "grad_norm": clean(history.grad_norm),
        "weight_norm": {name: clean(history.weight_norm[:, columns[name]]) for name in growth},
    }


def _internal_error(error: Exception) -> Cause:
    """``unknown`` with what went wrong inside nantrace (``NANTRACE_DEBUG=1`` re-raises): the
    origin still stands, no cause is guessed, and the user's training is not crashed by it."""
    what = internal_error_text(error)
    return Cause(
        "unknown",
        f"nantrace's cause inference stopped on an internal error ({what}); the origin stands, "
        "no cause is guessed (a nantrace bug: NANTRACE_DEBUG=1 shows its traceback)",
        {"internal_error": what},
        confidence=0.0,
    )


#: ops that draw from TensorFlow's hidden per-op random state: a replay draws other numbers.
STATEFUL_RANDOM_OPS = frozenset(
    {"RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal"}
    | {"Multinomial", "RandomShuffle", "RandomGamma", "RandomPoisson", "RandomPoissonV2"}
)


def stateful_draws(capture: Any) -> list[str]:
    """The op types of the replayed step that drew from hidden random state (not a
    ``tf.random.Generator``'s or a Keras ``SeedGenerator``'s variable), sorted."""
    records = getattr(capture, "records", None) or []
    return sorted({r.op_type for r in records if r.op_type in STATEFUL_RANDOM_OPS})
