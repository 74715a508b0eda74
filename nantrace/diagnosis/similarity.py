"""A similarity of embeddings that were never normalized.

Contrastive and metric losses (InfoNCE / NT-Xent, CLIP, a uniformity or Gaussian potential)
compare embeddings through their dot products, scaled by a temperature, and exponentiate
them. They are written for unit vectors: a cosine is within [-1, 1], so exp(cos / 0.05)
stays below e^20. Without the L2 normalization the dot products grow with the embeddings'
norms, which the loss itself rewards, and exp overflows (or exp(-d^2) underflows to 0).
Computing the loss in log space keeps it finite but leaves the embeddings growing; the fix
of the slip is the normalization the loss assumes.

Read from the replay: a product of two model outputs (``z @ z.T``, ``a @ b.T``) computed
outside any layer, a few ops upstream of the origin, whose operands hold values beyond 1
(a unit vector holds none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nantrace.replay.failing_path import MOVING_OPS

if TYPE_CHECKING:
    from nantrace.replay.capture import OpRecord, ReplayCapture

#: Ops that multiply two tensors into their dot products.
_PRODUCTS = frozenset({"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum"})
#: Ops a model output passes through on its way into the product (a move, a slice, a cast,
#: a transpose): no layer's work, so the value is still the embedding.
_PASSING = MOVING_OPS | {"Transpose"}
#: How far upstream of the origin the product may be: the log of a mean of Gaussian
#: potentials exp(-2 d^2), d^2 = |z_i|^2 + |z_j|^2 - 2 z_i.z_j, is eight ops from its z @ z.T
#: (log, division, sum, mask product, exp, scale, subtraction, product by 2), one more with a
#: temperature.
SEARCH_DEPTH = 10


@dataclass(frozen=True)
class Similarity:
    """Dot products of model outputs that are not unit vectors.

    Attributes:
        layers: the layers whose outputs are compared (one for z @ z.T, two for a @ b.T).
        largest: the largest |value| in the compared outputs.
        op_name: the product op.
    """

    layers: tuple[str, ...]
    largest: float
    op_name: str


def unnormalized_similarity(capture: ReplayCapture, start: OpRecord) -> Similarity | None:
    """The dot products of unnormalized model outputs upstream of ``start``, or None."""
    seen = {start.index}
    frontier = [start.index]
    for _ in range(SEARCH_DEPTH):
        following = []
        for index in frontier:
            record = capture.records[index]
            found = _compared_outputs(capture, record)
            if found is not None:
                return found
            for producer in record.producers:
                if producer is not None and producer not in seen:
                    seen.add(producer)
                    following.append(producer)
        frontier = following
    return None


def _compared_outputs(capture: ReplayCapture, record: OpRecord) -> Similarity | None:
    if record.op_type not in _PRODUCTS or record.layer is not None or record.phase == "backward":
        return None
    layers: list[str] = []
    largest = 0.0
    operands = [p for p in record.producers if p is not None]
    if len(operands) != 2 or len(record.float_inputs) != 2:
        return None
    for producer, health in zip(record.producers, record.inputs, strict=False):
        layer = _output_layer(capture, producer)
        if layer is None or health is None or health.max_abs <= 1.0:
            return None
        largest = max(largest, health.max_abs)
        if layer not in layers:
            layers.append(layer)
    return Similarity(tuple(layers), largest, record.op_name)


def _output_layer(capture: ReplayCapture, index: int | None, hops: int = 3) -> str | None:
    """The layer whose forward output the value at ``index`` is (through passing ops)."""
    for _ in range(hops):
        if index is None:
            return None
        record = capture.records[index]
        if record.phase == "forward" and record.layer is not None:
            return record.layer
        if record.op_type not in _PASSING:
            return None
        index = next((p for p in record.producers if p is not None), None)
    return None
