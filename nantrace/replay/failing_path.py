"""The failing path: the ops, layers and batch tensors that actually feed the origin.

A cause is only as good as the evidence it reads. Evidence taken from anywhere in the model
misleads: an N(0,1) embedding in one branch is not why another branch overflowed, and a
SimpleRNN somewhere in the model is not why a ``sqrt`` elsewhere has an infinite gradient.
This module walks the provenance graph from the origin op back to the batch (and, for a
backward-pass origin, from the forward op it differentiates on to the loss) so the rules
read only what is on that path. It also tells the batch's *features* (what reaches the
model's layers) from its *targets* (labels and sample weights: what reaches only the loss).
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


@dataclass(frozen=True)
class BatchTensor:
    """One argument tensor of the step as an op on the failing path read it."""

    name: str
    role: str  # FEATURES (reaches a layer) or TARGETS (reaches only the loss)
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
    return roles


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
