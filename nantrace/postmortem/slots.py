"""Tie a Keras 3 optimizer's saved variables to the model variables they belong to.

A weights file stores the optimizer's state as an unnamed list (``optimizer/vars/0..N``): the
iteration counter, the learning rate, then the slots in the order ``build()`` created them. This
module knows those layouts per optimizer class and matches them to the model's trainable
variables by position and shape (searching for a layer order when the file does not record it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from nantrace.postmortem.checkpoint import OptimizerState, Variable, natural_key, snake

#: Slot variables per Keras 3 optimizer, grouped the way ``build()`` creates them: each inner
#: tuple is one ``add_optimizer_variables`` call (interleaved per model variable); calls follow
#: each other in blocks. Optional calls are marked with a trailing ``?``.
OPTIMIZER_SLOTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Adam": (("momentum", "velocity"), ("velocity_hat?",)),
    "AdamW": (("momentum", "velocity"), ("velocity_hat?",)),
    "Nadam": (("momentum", "velocity"),),
    "Lamb": (("momentum", "velocity"),),
    "Adamax": (("m", "u"),),
    "SGD": (("momentum?",),),
    "Lion": (("momentum",),),
    "RMSprop": (("velocity",), ("momentum?",), ("average_gradient?",)),
    "Adagrad": (("accumulator",),),
    "Adadelta": (("accumulated_grad", "accumulated_delta_var"),),
    "Ftrl": (("accumulator", "linear"),),
}


def optimizer_class(name: str | None) -> str | None:
    """The Keras optimizer class a default name (``adam``, ``adam_1``) stands for, or None."""
    if not name:
        return None
    base = re.sub(r"_\d+$", "", name)
    for class_name in OPTIMIZER_SLOTS:
        if snake(class_name) == base or class_name.lower() == base.lower():
            return class_name
    return None


def optimizer_variables(
    path: str,
    label: str,
    arrays: dict[str, np.ndarray],
    model_vars: list[Variable],
    optimizer: OptimizerState,
) -> tuple[int | None, list[Variable], list[str]]:
    """Split a Keras 3 optimizer's ``vars/0..N`` into iterations, learning rate and slots, and
    tie each slot to its model variable by position and shape (slots follow the order of the
    model's trainable variables)."""
    indices = sorted(arrays, key=natural_key)
    step = None
    out: list[Variable] = []
    head = 0
    if indices and indices[0] == "0" and arrays["0"].size == 1:
        if np.issubdtype(arrays["0"].dtype, np.integer):
            step = int(arrays["0"].reshape(-1)[0])
        head = 1
        if (
            len(indices) > 1
            and arrays[indices[1]].shape == ()
            and np.issubdtype(arrays[indices[1]].dtype, np.floating)
        ):
            out.append(
                Variable(
                    name=f"{label}/learning_rate",
                    key=f"{path}/vars/{indices[1]}",
                    values=arrays[indices[1]],
                    role="hyperparameter",
                    kind="learning_rate",
                )
            )
            head = 2
    slots = indices[head:]
    trained = [v for v in model_vars if v.trainable is not False]
    shapes = [arrays[i].shape for i in slots]
    assignment = _assign_slots(shapes, trained, optimizer)
    notes = []
    if slots and assignment is None:
        # A .weights.h5 does not record the order of the model's layers: find a layer order
        # whose trainable shapes match the slots' (ties between identical layers are broken
        # by name order, which is how Keras numbers them).
        for reordered in _layer_orders_matching(shapes, trained, optimizer):
            assignment = _assign_slots(shapes, reordered, optimizer)
            if assignment is not None:
                notes.append(
                    "the file does not record the layers' order: optimizer slots were tied to "
                    "variables by matching shapes"
                )
                break
    if slots and assignment is None:
        notes.append(
            f"could not tie the {len(slots)} optimizer variables to model variables by "
            "position and shape; they are listed as unattributed optimizer state"
        )
    for position, index in enumerate(slots):
        values = arrays[index]
        if not np.issubdtype(values.dtype, np.floating):
            continue
        if assignment is not None:
            owner, slot_name = assignment[position]
            out.append(
                Variable(
                    name=f"{label}/{owner.name.replace('/', '_')}_{slot_name}",
                    key=f"{path}/vars/{index}",
                    values=values,
                    role="slot",
                    layer=owner.layer,
                    kind=owner.kind,
                    slot=slot_name,
                    slot_of=owner.name,
                )
            )
        else:
            out.append(
                Variable(
                    name=f"{label}/vars/{index}",
                    key=f"{path}/vars/{index}",
                    values=values,
                    role="slot",
                )
            )
    return step, out, notes


def _assign_slots(
    shapes: list[tuple[int, ...]], trained: list[Variable], optimizer: OptimizerState
) -> list[tuple[Variable, str]] | None:
    """For each slot (in file order): (its model variable, slot name), or None when the shapes
    fit none of the layouts the optimizer's ``build()`` can produce."""
    n = len(trained)
    if not shapes:
        return []
    if n == 0 or len(shapes) % n:
        return None
    owner_shapes = [v.shape for v in trained]
    for calls in _slot_layouts(optimizer, len(shapes) // n):
        position = 0
        out: list[tuple[Variable, str]] = []
        for call in calls:
            block = [tuple(s) for s in shapes[position : position + len(call) * n]]
            if block != [s for s in owner_shapes for _ in call]:
                break
            out.extend((variable, slot) for variable in trained for slot in call)
            position += len(call) * n
        else:
            if position == len(shapes):
                return out
    return None


def _layer_orders_matching(
    shapes: list[tuple[int, ...]], trained: list[Variable], optimizer: OptimizerState
) -> Iterator[list[Variable]]:
    """Orders of the layers (each keeps its variables together, in their own order) whose
    concatenated shapes match the first slot block, for each candidate layout."""
    groups: dict[str | None, list[Variable]] = {}
    for variable in trained:
        groups.setdefault(variable.layer, []).append(variable)
    members = list(groups.values())
    n = len(trained)
    if n == 0 or len(shapes) % n:
        return
    for calls in _slot_layouts(optimizer, len(shapes) // n):
        width = len(calls[0])
        target = [tuple(s) for s in shapes[: width * n : width]]
        order = _match_groups(target, members, budget=[20000])
        if order is not None:
            yield [v for group in order for v in group]


def _match_groups(
    target: list[tuple[int, ...]], groups: list[list[Variable]], budget: list[int]
) -> list[list[Variable]] | None:
    if not target:
        return [] if not groups else None
    for i, group in enumerate(groups):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        size = len(group)
        if [v.shape for v in group] == target[:size]:
            rest = _match_groups(target[size:], groups[:i] + groups[i + 1 :], budget)
            if rest is not None:
                return [group, *rest]
    return None


def _slot_layouts(optimizer: OptimizerState, per_variable: int) -> list[list[tuple[str, ...]]]:
    """Candidate ``add_optimizer_variables`` call sequences giving ``per_variable`` slots per
    model variable: the optimizer's own layout first (when its class is known), then the two
    generic ones (one interleaved call; one call per slot)."""
    layouts = []
    table = OPTIMIZER_SLOTS.get(optimizer.class_name or "")
    if table:
        config = optimizer.config
        flags = {
            "velocity_hat?": bool(config.get("amsgrad")) if config else None,
            "momentum?": bool(config.get("momentum")) if config else None,
            "average_gradient?": bool(config.get("centered")) if config else None,
        }
        chosen = []
        for call in table:
            decided = flags.get(call[0]) if call[0].endswith("?") else True
            width = sum(len(c) for c in chosen)
            if decided or (decided is None and width < per_variable):
                chosen.append(tuple(name.rstrip("?") for name in call))
        if sum(len(c) for c in chosen) == per_variable:
            layouts.append(chosen)
    generic = tuple(f"slot{j}" for j in range(per_variable))
    layouts.append([generic])
    if per_variable > 1:
        layouts.append([(name,) for name in generic])
    return layouts
