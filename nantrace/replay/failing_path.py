"""The failing path: the ops, layers and batch tensors that actually feed the origin.

A cause is only as good as the evidence it reads. Evidence taken from anywhere in the model
misleads: an N(0,1) embedding in one branch is not why another branch overflowed, and a
SimpleRNN somewhere in the model is not why a ``sqrt`` elsewhere has an infinite gradient.
This module walks the provenance graph from the origin op back to the batch (and, for a
backward-pass origin, from the forward op it differentiates on to the loss) so the rules
read only what is on that path. It also tells the batch's *features* (what reaches the
model's layers) from its *targets* (labels: what reaches only the loss) and its *weights*
(what reaches only the loss, as a factor of each row's loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from nantrace.report.records import Health

if TYPE_CHECKING:
    from nantrace.replay.capture import OpRecord, ReplayCapture

#: Batch tensor roles.
FEATURES = "features"
TARGETS = "targets"
#: a loss-only tensor that multiplies each row's loss (a sample weight), not a label
WEIGHTS = "weights"

#: Ops that only move, reshape, slice or cast a tensor: its values go on unchanged. The
#: walks up and down the provenance graph that look through such ops share this set and add
#: what each also allows.
MOVING_OPS = frozenset({"Identity", "Cast", "Reshape", "Squeeze", "ExpandDims", "StridedSlice"})
#: A sample weight passes through them (Keras casts and expands it, ``w[:, None]`` slices it)
#: on its way to the product with the loss; broadcast to the loss's shape too.
_CARRYING_OPS = MOVING_OPS | {"BroadcastTo"}
#: Ops that pick each row's entry by an index.
_GATHER_OPS = frozenset({"GatherV2", "GatherNd", "ResourceGather"})
#: Products a weight enters the loss through.
_PRODUCT_OPS = frozenset({"Mul", "MulNoNan"})
#: A label multiplies a log-probability (cross-entropy written out), not a loss value.
_LOG_OPS = frozenset({"Log", "LogSoftmax", "Log1p", "Xlogy", "Softplus", "LogSigmoid"})


@dataclass(frozen=True)
class BatchTensor:
    """One argument tensor of the step as an op on the failing path read it."""

    name: str
    role: str  # FEATURES (reaches a layer), TARGETS (reaches only the loss) or WEIGHTS
    health: Health


@dataclass(frozen=True)
class FailingPath:
    """What feeds the origin.

    Attributes:
        ops: indices of the recorded ops on the path.
        layers: layer paths of the forward ops on the path, in run order.
        batch: the batch tensors read on the path (largest |x| per name).
        forward: for a backward-pass origin, the index of the forward op it differentiates.
        complete: False when there was no origin op to walk from (everything counts).
    """

    ops: frozenset[int] = frozenset()
    layers: tuple[str, ...] = ()
    batch: tuple[BatchTensor, ...] = ()
    forward: int | None = None
    complete: bool = True
    roles: dict[str, str] = field(default_factory=dict)
    #: every batch tensor the step read, on the path or not.
    every_batch: tuple[BatchTensor, ...] = ()

    def batch_max(self, role: str, anywhere: bool = False) -> tuple[str | None, float]:
        """The batch tensor of ``role`` with the largest finite |x| on the path (``anywhere``:
        in the whole step)."""
        best: tuple[str | None, float] = (None, 0.0)
        for tensor in self.every_batch if anywhere else self.batch:
            if tensor.role == role and tensor.health.max_abs > best[1]:
                best = (tensor.name, tensor.health.max_abs)
        return best


def forward_op_of(record: OpRecord, capture: ReplayCapture, depth: int = 3) -> int | None:
    """The forward op a backward op differentiates: its own tag when eager backprop's
    gradient function was seen, else the latest forward value the backward computation read
    within ``depth`` hops (a gradient reads the activations of the op it differentiates)."""
    if record.gradient_of is not None:
        return record.gradient_of
    seen: set[int] = set()
    frontier = [p for p in record.producers if p is not None]
    found: list[int] = []
    tagged: list[int] = []
    for _ in range(depth):
        next_frontier: list[int] = []
        for index in frontier:
            if index in seen:
                continue
            seen.add(index)
            producer = capture.records[index]
            if producer.phase in ("forward", "loss"):
                if producer.op_type != "ReadVariableOp":
                    found.append(index)
                continue
            if producer.phase != "backward":
                continue
            if producer.gradient_of is not None:
                tagged.append(producer.gradient_of)
            next_frontier += [p for p in producer.producers if p is not None]
        if found:
            return max(found)
        frontier = next_frontier
    return max(tagged) if tagged else None


def batch_roles(capture: ReplayCapture, graph: nx.DiGraph) -> dict[str, str]:
    """features or targets for each batch tensor the step read."""
    consumers: dict[str, list[int]] = {}
    for record in capture.records:
        for name in record.batch_inputs:
            if name is not None:
                consumers.setdefault(name, []).append(record.index)
    roles = {}
    for name, indices in consumers.items():
        reached: set[int] = set(indices)
        for index in indices:
            reached |= nx.descendants(graph, index)
        in_layer = any(
            capture.records[i].phase == "forward" and capture.records[i].layer is not None
            for i in reached
        )
        roles[name] = FEATURES if in_layer else TARGETS
    for name in sample_weights(capture, graph, roles):
        roles[name] = WEIGHTS
    return roles


def sample_weights(
    capture: ReplayCapture, graph: nx.DiGraph, roles: dict[str, str]
) -> frozenset[str]:
    """The loss-only batch tensors that are per-sample weights, told apart from labels by
    how they enter the loss: (moved, reshaped or cast, then) only multiplied with a value the
    loss computed from the predictions, never subtracted from or compared with them, and not
    with a log-probability (the one-hot labels of a cross-entropy written out)."""
    weights = set()
    for name, role in roles.items():
        if role == TARGETS and _only_weighs(capture, graph, name):
            weights.add(name)
    return frozenset(weights)


def _only_weighs(capture: ReplayCapture, graph: nx.DiGraph, name: str) -> bool:
    """Whether every use of the batch tensor ``name`` ends in a product with a loss value."""
    carried = {r.index for r in capture.records if name in r.batch_inputs and _before(r)}
    frontier, products = list(carried), []
    while frontier:
        index = frontier.pop()
        op_type = capture.records[index].op_type
        if not _before(capture.records[index]):  # the backward pass reads it too
            continue
        if op_type in _PRODUCT_OPS:
            products.append(index)
        elif op_type in _CARRYING_OPS:
            after = [i for i in graph.successors(index) if i not in carried]
            carried.update(after)
            frontier.extend(after)
        else:
            return False
    for index in products:
        record = capture.records[index]
        others = [
            p
            for p, batch in zip(record.producers, record.batch_inputs, strict=False)
            if batch != name and p not in carried
        ]
        if not others or not all(_loss_value(capture, graph, p) for p in others):
            return False
    return bool(products)


def _before(record: OpRecord) -> bool:
    """Run before the gradients: what the user's code computed, not its backward pass."""
    return record.phase in ("input", "forward", "loss")


def _loss_value(capture: ReplayCapture, graph: nx.DiGraph, index: int | None) -> bool:
    """A value the loss computed from the predictions, other than the log-probabilities a
    one-hot label multiplies; the log-probability of the entry a batch of indices picked
    (``log(gather(p, a))``: the label is the index) is such a value."""
    if index is None:
        return False
    record = capture.records[index]
    return (
        record.phase == "loss"
        and (record.op_type not in _LOG_OPS or _picked_by_index(capture, record))
        and any(capture.records[a].phase == "forward" for a in nx.ancestors(graph, index))
    )


def _picked_by_index(capture: ReplayCapture, log: OpRecord) -> bool:
    """The log's argument is the entry of each row that an integer batch tensor picks:
    ``tf.gather(p, a, batch_dims=1)`` or ``tf.reduce_sum(p * tf.one_hot(a, n), axis=1)``."""
    index = next((p for p in log.producers if p is not None), None)
    if index is None:
        return False
    record = capture.records[index]
    if record.op_type in _GATHER_OPS:
        return _reads_batch(capture, record)
    if record.op_type not in ("Sum", "Max"):
        return False
    products = [capture.records[p] for p in record.producers if p is not None]
    return any(
        product.op_type in _PRODUCT_OPS
        and any(
            p is not None
            and capture.records[p].op_type == "OneHot"
            and _reads_batch(capture, capture.records[p])
            for p in product.producers
        )
        for product in products
    )


def _reads_batch(capture: ReplayCapture, record: OpRecord, hops: int = 2) -> bool:
    """The op reads a batch tensor itself, or through a cast or reshape."""
    for _ in range(hops + 1):
        if any(name is not None for name in record.batch_inputs):
            return True
        carried = [
            capture.records[p]
            for p in record.producers
            if p is not None and capture.records[p].op_type in _CARRYING_OPS
        ]
        if not carried:
            return False
        record = carried[0]
    return False


def failing_path(capture: ReplayCapture, graph: nx.DiGraph, record: OpRecord | None) -> FailingPath:
    """The ops, layers and batch tensors on the path to ``record`` (see the module doc)."""
    roles = batch_roles(capture, graph)
    if record is None:
        ops = frozenset(r.index for r in capture.records)
        return _path_of(capture, ops, roles, forward=None, complete=False)
    forward = forward_op_of(record, capture) if record.phase == "backward" else None
    anchor = forward if forward is not None else record.index
    ops = set(nx.ancestors(graph, anchor)) | {anchor, record.index}
    if forward is not None:
        # Gradients flow back from the loss through every forward op after the differentiated
        # one: those layers shape the gradient that went non-finite.
        ops |= {
            i
            for i in nx.descendants(graph, forward)
            if capture.records[i].phase in ("forward", "loss")
        }
    if record.phase in ("forward", "loss") or forward is not None:
        ops = {i for i in ops if capture.records[i].phase in ("input", "forward", "loss")} | {
            record.index
        }
    return _path_of(capture, frozenset(ops), roles, forward=forward, complete=True)


def _batch_read(capture: ReplayCapture, ops: Any, roles: dict[str, str]) -> tuple[BatchTensor, ...]:
    batch: dict[str, BatchTensor] = {}
    for index in sorted(ops):
        record = capture.records[index]
        for name, health in zip(record.batch_inputs, record.inputs, strict=False):
            if name is None or health is None:
                continue
            known = batch.get(name)
            if known is None or health.max_abs > known.health.max_abs:
                batch[name] = BatchTensor(name, roles.get(name, FEATURES), health)
    return tuple(batch.values())


def _path_of(
    capture: ReplayCapture,
    ops: frozenset[int],
    roles: dict[str, str],
    forward: int | None,
    complete: bool,
) -> FailingPath:
    layers: list[str] = []
    for index in sorted(ops):
        record = capture.records[index]
        if record.phase == "forward" and record.layer and record.layer not in layers:
            layers.append(record.layer)
    return FailingPath(
        ops=ops,
        layers=tuple(layers),
        batch=_batch_read(capture, ops, roles),
        every_batch=_batch_read(capture, range(len(capture.records)), roles),
        forward=forward,
        complete=complete,
        roles=roles,
    )
