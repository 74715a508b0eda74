"""WHERE: find the first non-finite value of a replayed step and classify it (origin.kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from nantrace.compat.tf import is_inner_sublayer
from nantrace.diagnosis.evidence import SELECT_OPS
from nantrace.replay.capture import OpRecord, ReplayCapture, batch_array, batch_leaves
from nantrace.replay.failing_path import forward_op_of
from nantrace.replay.graph import non_finite_subgraph
from nantrace.replay.health import health_of_array, non_finite_rows, to_numpy
from nantrace.report.records import Health, Origin, Trip

#: Ops that multiply-accumulate a layer's inputs with its weights: overflow here is
#: ``matmul_overflow`` (inputs finite but huge), not a domain error.
MATMUL_OPS = frozenset(
    {
        "MatMul",
        "BatchMatMul",
        "BatchMatMulV2",
        "BatchMatMulV3",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "DepthwiseConv2dNative",
        "Conv2DBackpropInput",
        "Conv3DBackpropInputV2",
        "Einsum",
        "BiasAdd",
        "_FusedMatMul",
        "_FusedConv2D",
        "Tensordot",
    }
)

#: Accumulating ops that count as part of a layer's matmul when they consume one (bias adds,
#: sums over the fan-in).
ACCUMULATE_OPS = frozenset({"AddV2", "Add", "AddN", "Sum", "Mean", "BiasAdd"})
#: Reductions inside a layer (pooling, sums over features): overflow by accumulation (a
#: reduction over an empty tensor, 0 / 0, overflows nothing: `activation`).
REDUCE_OPS = frozenset({"Sum", "Mean", "AddN", "Prod", "Cumsum"})


@dataclass(frozen=True)
class InputFinding:
    """A non-finite value already present in the batch."""

    tensor: str
    rows: tuple[int, ...]
    health: Health


def find_bad_inputs(names: list[str], args: tuple, kwargs: dict) -> list[InputFinding]:
    """Every float tensor in the step's arguments that holds NaN/Inf, with its sample rows."""
    findings = []
    for path, leaf in batch_leaves(names, args, kwargs):
        array = to_numpy(leaf)
        if array is None or array.size == 0 or np.isfinite(array).all():
            continue
        findings.append(
            InputFinding(
                tensor=path,
                rows=tuple(non_finite_rows(array)),
                health=health_of_array(array, str(array.dtype)),
            )
        )
    return findings


def row_tensors(names: list[str], args: tuple, kwargs: dict, rows: int) -> tuple[str, ...]:
    """The step's float batch tensors with ``rows`` samples (features, labels, sample
    weights): what a row filter has to look at, since the next batch's NaN may sit in any."""
    found = []
    for path, leaf in batch_leaves(names, args, kwargs):
        array = to_numpy(leaf)
        if array is not None and array.ndim and array.shape[0] == rows and array.dtype.kind == "f":
            found.append(path)
    return tuple(found)


def padding_rows(
    names: list[str], args: tuple, kwargs: dict, tensor: str, value: float
) -> tuple[int, ...]:
    """The rows of the batch tensor ``tensor`` that hold nothing but ``value`` (the padding a
    masking layer masks out): samples with no step left, such as an empty text. Empty when
    no row or every row is padding only (then it is not one sample's data)."""
    array = batch_array(names, args, kwargs, tensor)
    if array is None or array.ndim < 2 or array.shape[0] == 0 or array.dtype.kind not in "biuf":
        return ()
    empty = (array.reshape(array.shape[0], -1) == value).all(axis=1)
    if empty.all():
        return ()
    return tuple(int(i) for i in np.flatnonzero(empty))


def input_range(args: tuple, kwargs: dict) -> float:
    """Largest finite |x| over the float tensors of the batch."""
    largest = 0.0
    for _, leaf in batch_leaves([f"args[{i}]" for i in range(len(args))], args, kwargs):
        array = to_numpy(leaf)
        if array is None or array.size == 0:
            continue
        finite = np.abs(array[np.isfinite(array)])
        if finite.size:
            largest = max(largest, float(finite.max()))
    return largest


def first_non_finite(capture: ReplayCapture, graph: nx.DiGraph) -> OpRecord | None:
    """The earliest op whose float inputs are all finite but whose result is not, and whose
    non-finite result flows to a non-finite loss, gradient or variable.

    Ops that make a NaN that the step then discards (e.g. both branches of a ``tf.where``)
    do not count: only values that reach a sink through non-finite tensors do.
    """
    candidates = non_finite_starts(capture, graph)
    return candidates[0] if candidates else None


def non_finite_starts(capture: ReplayCapture, graph: nx.DiGraph) -> list[OpRecord]:
    """Every op that starts a non-finite value reaching a non-finite sink, in run order."""
    records = capture.records
    bad = non_finite_subgraph(graph)
    sinks = capture.sinks()
    bad_sinks = {i for group in sinks.values() for i in group if i in bad}
    if not bad_sinks:
        return []
    reaching = set(bad_sinks)
    for sink in bad_sinks:
        reaching |= nx.ancestors(bad, sink)
    starts: set[int] = set()
    for i in sorted(reaching):
        if not _starts_non_finite(records[i]):
            continue
        # An intended Inf mask value is not where things went wrong: where it turns into NaN
        # is (a softmax over a row that is all mask). With no such op, the mask op stays.
        turned = (
            _nan_from_mask(records, bad, i) & reaching if _masks_with_inf(records[i]) else set()
        )
        # An overflow of values that a max pooling made out of NaN (the dtype's lowest value,
        # finite) started where that NaN did.
        starts |= turned or _laundered_starts(records, bad, i) or {i}
    return [records[i] for i in sorted(starts)]


#: Values this close to the dtype's limit carry a laundered NaN on (a convolution of -3.4e38).
NEAR_LIMIT = 0.01
#: How many ops of near-limit values an overflow is followed back through to a max pooling.
LAUNDER_HOPS = 16


def _laundered_starts(records: list[OpRecord], bad: nx.DiGraph, start: int) -> set[int]:
    """The ops that started a NaN which a max-style reduction (a max pooling over a window of
    NaN) turned into the dtype's extreme value, finite, from which ``start``'s overflow came:
    followed up ``start``'s inputs through ops whose values are within NEAR_LIMIT of the
    dtype's largest (LAUNDER_HOPS at most). Empty when there is no such reduction."""
    frontier, seen = [start], {start}
    for _ in range(LAUNDER_HOPS):
        upstream = []
        for index in frontier:
            record = records[index]
            for producer, health in zip(record.producers, record.inputs, strict=False):
                if producer is None or producer in seen or health is None:
                    continue
                seen.add(producer)
                source = records[producer]
                limit = _dtype_limit(health.dtype)
                if limit is None or health.max_abs < NEAR_LIMIT * limit:
                    continue
                if health.max_abs >= limit and not _starts_non_finite(source):
                    return _starts_upstream(records, bad, source)
                upstream.append(producer)
        frontier = upstream
    return set()


def _dtype_limit(dtype: str) -> float | None:
    """The dtype's exact largest finite value: what a max over NaN gives (its negative)."""
    try:
        return float(np.finfo(np.dtype(dtype)).max) if dtype != "bfloat16" else 3.3895314e38
    except TypeError:
        return None


def _starts_upstream(records: list[OpRecord], bad: nx.DiGraph, launderer: OpRecord) -> set[int]:
    """The ops that start the non-finite values ``launderer`` read (its non-finite inputs'
    ancestors among the non-finite ops, whose own inputs were finite)."""
    feeding = {
        p
        for p, h in zip(launderer.producers, launderer.inputs, strict=False)
        if p is not None and h is not None and not h.finite and p in bad
    }
    for node in list(feeding):
        feeding |= nx.ancestors(bad, node)
    return {i for i in feeding if _starts_non_finite(records[i])}


def _masks_with_inf(record: OpRecord) -> bool:
    """A selection (``tf.where``) whose only non-finite input is a constant +-Inf (made by no
    recorded op) and whose result holds Inf but no NaN: a mask value the user chose
    (``tf.where(mask, scores, -inf)``), not a value that went wrong."""
    result = record.result_health
    if record.op_type not in SELECT_OPS or result is None or result.nan:
        return False
    constant_inf = False
    for producer, health in zip(record.producers, record.inputs, strict=False):
        if health is None or health.finite:
            continue
        if producer is not None or health.nan:
            return False
        constant_inf = True
    return constant_inf


def _nan_from_mask(records: list[OpRecord], bad: nx.DiGraph, mask: int) -> set[int]:
    """The ops downstream of ``mask`` that first make NaN out of its Inf: followed through ops
    that only pass Inf on (no NaN in their result), stopping at the first NaN on each path."""
    found: set[int] = set()
    frontier, seen = [mask], {mask}
    while frontier:
        node = frontier.pop()
        for consumer in bad.successors(node):
            if consumer in seen:
                continue
            seen.add(consumer)
            result = records[consumer].result_health
            if result is not None and result.nan:
                found.add(consumer)
            else:
                frontier.append(consumer)
    return found


def _starts_non_finite(record: OpRecord) -> bool:
    """No recorded op fed this op its non-finite input: its inputs were finite, or the
    non-finite ones came from outside the step's ops (a Python constant such as an Inf
    learning rate; the batch itself is checked before replay)."""
    for producer, health in zip(record.producers, record.inputs, strict=False):
        if health is not None and not health.finite and producer is not None:
            return False
    return True


def classify(record: OpRecord, capture: ReplayCapture) -> str:
    """origin.kind for the first non-finite op."""
    if record.phase == "update" or record.op_type == "ReadVariableOp":
        return "optimizer_update"
    if record.phase == "backward":
        return "gradient"
    if record.phase == "loss":
        return "loss"
    if record.op_type in MATMUL_OPS:
        return "matmul_overflow"
    inputs = record.float_inputs
    if inputs and inputs[0].size == 0:  # a reduction over nothing (an empty mean's 0 / 0)
        return "activation"
    if record.op_type in ACCUMULATE_OPS or record.op_type in REDUCE_OPS:
        for producer in record.producers:
            if producer is None:
                continue
            source = capture.records[producer]
            if source.op_type in MATMUL_OPS and source.layer == record.layer:
                return "matmul_overflow"
        if record.op_type in REDUCE_OPS and record.layer is not None:
            return "matmul_overflow"
    return "activation"


def _reads_bad_batch(record: OpRecord) -> str | None:
    """The batch tensor whose non-finite value this op consumed directly, if any."""
    for name, health in zip(record.batch_inputs, record.inputs, strict=False):
        if name is not None and health is not None and not health.finite:
            return name
    return None


def _reached(starts: list[OpRecord], by_name: dict[str, InputFinding]) -> list[str]:
    """The bad batch tensors that ops going non-finite read directly, first read first."""
    names = [_reads_bad_batch(r) for r in starts]
    return list(dict.fromkeys(n for n in names if n is not None and n in by_name))


def reaching_bad_inputs(
    capture: ReplayCapture | None, graph: nx.DiGraph | None, bad_inputs: list[InputFinding]
) -> list[InputFinding]:
    """The batch tensors holding NaN/Inf whose values an op going non-finite reads (a feature
    and the labels both, in different rows: cleaning one leaves the other); all of them when
    the replay shows none."""
    by_name = {finding.tensor: finding for finding in bad_inputs}
    if capture is None or graph is None:
        return list(bad_inputs)
    bad = non_finite_subgraph(graph)
    sinks = {i for group in capture.sinks().values() for i in group if i in bad}
    reaching = set(sinks).union(*(nx.ancestors(bad, sink) for sink in sinks))
    # any op on the way to the failure, not only the first to go non-finite: the loss's
    # y - pred reads the NaN labels although pred is NaN already (from a NaN feature)
    reached = _reached([capture.records[i] for i in sorted(reaching)], by_name)
    return [by_name[name] for name in reached] if reached else list(bad_inputs)


def _rephase_returned_value(record: OpRecord, capture: ReplayCapture, graph: nx.DiGraph) -> None:
    """A metric computed after ``tape.gradient`` (a value the step returns, or the state of a
    Keras metric, which ``fit``'s train step updates after the optimizer's) is recorded in the
    update phase by its position. When the op reads no gradient, runs outside the optimizer's
    update and feeds no loss, gradient, trainable variable or variable the update reads (a
    learning rate set by hand stays the update's), it belongs to the loss (after the model
    output) or to the forward pass (inside a layer)."""
    records = capture.records
    if record.phase != "update" or record.in_optimizer:
        return
    if any(
        records[i].phase == "backward" or records[i].in_optimizer
        for i in nx.ancestors(graph, record.index)
    ):
        return
    read_by_update = {r.variable for r in records if r.variable is not None and r.in_optimizer}
    sinks = capture.sinks()
    training = set(sinks["loss"]) | set(sinks["gradients"])
    for i in sinks["variables"]:
        write = records[i]
        if write.variable_trainable or write.in_optimizer or write.variable in read_by_update:
            training.add(i)
    if ({record.index} | nx.descendants(graph, record.index)) & training:
        return
    record.phase = "forward" if record.layer else "loss"


def summary_layer(path: str | None, layers: dict[str, Any]) -> str | None:
    """The layer as the model's summary names it: a recurrent layer's cell and a
    ``Bidirectional``'s forward / backward copy (layers Keras builds inside the layer the user
    added, ``seq/lstm/lstm_cell``) are reported as that layer (``seq/lstm``)."""
    if not path:
        return path
    parts = path.split("/")
    while len(parts) > 1:
        parent = layers.get("/".join(parts[:-1]))
        child = layers.get("/".join(parts))
        if parent is None or child is None or not is_inner_sublayer(parent, child):
            break
        parts.pop()
    return "/".join(parts)


def locate_origin(
    capture: ReplayCapture | None,
    graph: nx.DiGraph | None,
    trip: Trip,
    bad_inputs: list[InputFinding],
) -> tuple[Origin, OpRecord | None]:
    """The report's origin, and the op record behind it (None for input data / unknown).

    A non-finite batch value is the origin only when it reaches the non-finite loss, gradient
    or variable: NaNs in a feature the model never reads, or labels the loss masks out, do not
    hide the op that really went non-finite."""
    starts = non_finite_starts(capture, graph) if capture is not None and graph is not None else []
    if bad_inputs:
        by_name = {finding.tensor: finding for finding in bad_inputs}
        reached = _reached(starts, by_name)
        if reached or not starts or not any(r.inputs_finite for r in starts):
            first = by_name[reached[0]] if reached else bad_inputs[0]
            return (
                Origin(
                    kind="input_data",
                    phase="input",
                    step=trip.step,
                    tensor=first.tensor,
                    rows=first.rows,
                    output=first.health,
                ),
                None,
            )
        starts = [r for r in starts if r.inputs_finite]
    record = starts[0] if starts else None
    if record is not None:
        _rephase_returned_value(record, capture, graph)
    if record is None:
        phase = (
            "update"
            if trip.variables and not (trip.loss or trip.gradients)
            else ("loss" if trip.loss else "backward")
        )
        return Origin(kind="unknown", phase=phase, step=trip.step), None
    source, tape_source = record.source, None
    forward_index = forward_op_of(record, capture) if record.phase == "backward" else None
    if forward_index is not None:
        # The line to change is the forward op whose gradient went non-finite.
        forward = capture.records[forward_index]
        if forward.source and forward.source != record.source:
            source, tape_source = forward.source, record.source
    return (
        Origin(
            kind=classify(record, capture),
            phase=record.phase,
            step=trip.step,
            op_type=record.op_type,
            op_name=record.op_name,
            layer=summary_layer(record.layer, capture.layers_seen),
            source=source,
            inputs=tuple(record.float_inputs),
            output=record.result_health,
            variable=record.variable if record.phase == "update" else None,
            device=record.device,
            tape_source=tape_source,
        ),
        record,
    )
