"""Synthetic op records for the fast tier's rule tests: what the replay capture would record
for one op (no model runs)."""

from __future__ import annotations

from nantrace.replay.capture import OpRecord
from nantrace.report.records import Health


def op_record(
    index: int,
    op_type: str,
    phase: str,
    producers: list[int | None],
    inputs: list[Health | None],
    outputs: list[Health | None] | None = None,
    *,
    layer: str | None = None,
    batch: list[str | None] | None = None,
    trainable: bool | None = None,
    op_name: str = "",
) -> OpRecord:
    """One op at ``train.py:1``; its output is its first input unless given, and no input is
    a batch tensor unless ``batch`` names them."""
    return OpRecord(
        index=index,
        op_type=op_type,
        phase=phase,
        layer=layer,
        source="train.py:1",
        inputs=list(inputs),
        outputs=list(outputs) if outputs is not None else [inputs[0]],
        producers=list(producers),
        op_name=op_name,
        variable_trainable=trainable,
        batch_inputs=list(batch) if batch else [None] * len(producers),
    )
