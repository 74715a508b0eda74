"""Name the objects of a Keras 3 weights file (``layers/dense/vars/0`` → ``dense/kernel``).

A ``.keras`` / ``.weights.h5`` stores each layer's variables as ``vars/0, vars/1, ...`` without
their names; the layer's class (from ``config.json``, else guessed from its default name) gives
the order in which it creates them. The optimizer's ``vars/...`` are handed to
``checkpoint_slots``, which ties them to these variables.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from nantrace.postmortem.checkpoint import (
    Checkpoint,
    LayerConfig,
    OptimizerState,
    Variable,
    natural_key,
    snake,
)
from nantrace.postmortem.slots import optimizer_class, optimizer_variables

#: Variables of Keras 3's common layers, in the order the layer creates them (which is the
#: order of ``vars/0``, ``vars/1``, ... in a .keras / .weights.h5 file).
LAYER_VARIABLES: dict[str, tuple[str, ...]] = {
    "Dense": ("kernel", "bias"),
    "EinsumDense": ("kernel", "bias"),
    "Conv1D": ("kernel", "bias"),
    "Conv2D": ("kernel", "bias"),
    "Conv3D": ("kernel", "bias"),
    "Conv1DTranspose": ("kernel", "bias"),
    "Conv2DTranspose": ("kernel", "bias"),
    "Conv3DTranspose": ("kernel", "bias"),
    "DepthwiseConv1D": ("kernel", "bias"),
    "DepthwiseConv2D": ("kernel", "bias"),
    "SeparableConv1D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "Embedding": ("embeddings",),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "LayerNormalization": ("gamma", "beta"),
    "GroupNormalization": ("gamma", "beta"),
    "SimpleRNNCell": ("kernel", "recurrent_kernel", "bias"),
    "LSTMCell": ("kernel", "recurrent_kernel", "bias"),
    "GRUCell": ("kernel", "recurrent_kernel", "bias"),
    "PReLU": ("alpha",),
}

_CELL_OF = {"SimpleRNN": "SimpleRNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}

#: Variables a layer keeps but the optimizer does not train.
NON_TRAINABLE_KINDS = frozenset({"moving_mean", "moving_variance"})


def keras_checkpoint(
    shown: str,
    fmt: str,
    objects: dict[str, dict[str, Any]],
    layers: dict[str, LayerConfig],
    order: list[str],
    optimizer: OptimizerState | None,
    notes: list[str],
) -> Checkpoint:
    """Name the arrays of a Keras 3 weights file and tie optimizer slots to their variables."""
    model_objects = {p: v for p, v in objects.items() if not _is_optimizer_path(p)}
    optimizer_objects = {p: v for p, v in objects.items() if _is_optimizer_path(p)}
    labels = {p: v.get("@name") for p, v in objects.items()}
    rank = {name: i for i, name in enumerate(order)}

    def object_rank(path: str) -> tuple[Any, ...]:
        label = labels.get(path)
        if label in rank:
            return (rank[label], natural_key(path))
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        while parent:
            if labels.get(parent) in rank:
                return (rank[labels[parent]], natural_key(path))
            parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
        return (len(rank), natural_key(path))

    variables: list[Variable] = []
    for path in sorted(model_objects, key=object_rank):
        arrays = {k: v for k, v in model_objects[path].items() if k != "@name"}
        if not arrays:
            continue
        layer_path = _layer_path(path, labels)
        layer_name = labels.get(path) or (path.split("/")[-1] if path else "model")
        class_name, meta = _class_of(path, layer_name, labels, layers)
        kinds = _variable_kinds(class_name, meta, arrays)
        trainable_layer = meta.trainable if meta else True
        for index in sorted(arrays, key=natural_key):
            values = arrays[index]
            if not np.issubdtype(values.dtype, np.floating):
                continue
            kind = kinds.get(index)
            name = f"{layer_path}/{kind or index}"
            variables.append(
                Variable(
                    name=name,
                    key=f"{path}/vars/{index}" if index.isdigit() else f"{path}/{index}",
                    values=values,
                    role="weight",
                    layer=layer_path,
                    kind=kind,
                    trainable=trainable_layer and kind not in NON_TRAINABLE_KINDS,
                )
            )
    step = None
    for path in sorted(optimizer_objects, key=natural_key):
        arrays = {k: v for k, v in optimizer_objects[path].items() if k != "@name"}
        label = optimizer_objects[path].get("@name")
        if optimizer is None or optimizer.name is None:
            optimizer = OptimizerState(
                name=label,
                class_name=optimizer_class(label),
                config=optimizer.config if optimizer else {},
            )
        found_step, slot_vars, slot_notes = optimizer_variables(
            path, label or "optimizer", arrays, variables, optimizer
        )
        step = step if step is not None else found_step
        variables.extend(slot_vars)
        notes.extend(slot_notes)
    if optimizer is not None:
        lr = optimizer.learning_rate
        for variable in variables:
            if variable.role == "hyperparameter" and variable.kind == "learning_rate":
                lr = float(variable.values.reshape(-1)[0])
        optimizer = OptimizerState(
            name=optimizer.name,
            class_name=optimizer.class_name,
            iterations=step,
            learning_rate=lr,
            epsilon=optimizer.epsilon,
            beta_1=optimizer.beta_1,
            beta_2=optimizer.beta_2,
            config=optimizer.config,
        )
    return Checkpoint(
        path=shown,
        format=fmt,
        variables=tuple(variables),
        step=step,
        step_source="optimizer iterations" if step is not None else None,
        optimizer=optimizer,
        layers=layers,
        notes=tuple(notes),
    )


def _is_optimizer_path(path: str) -> bool:
    return path == "optimizer" or path.startswith("optimizer/") or path.startswith("optimizer_")


def _layer_path(path: str, labels: dict[str, str | None]) -> str:
    """``layers/functional/layers/dense`` → ``encoder/hidden`` (the layers' own names)."""
    if not path:
        return labels.get("") or "model"
    parts = path.split("/")
    names = []
    for i in range(len(parts)):
        if parts[i] == "layers":
            continue
        prefix = "/".join(parts[: i + 1])
        names.append(labels.get(prefix) or parts[i])
    return "/".join(names) or path


def _class_of(
    path: str, layer_name: str, labels: dict[str, Any], layers: dict[str, LayerConfig]
) -> tuple[str | None, LayerConfig | None]:
    meta = layers.get(layer_name)
    if meta is not None:
        return meta.class_name, meta
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    parent_meta = layers.get(labels.get(parent) or "")
    if parent_meta is not None and parent_meta.class_name in _CELL_OF:
        return _CELL_OF[parent_meta.class_name], parent_meta
    for candidate in (layer_name, path.split("/")[-1]):
        base = re.sub(r"_\d+$", "", candidate or "")
        for class_name in LAYER_VARIABLES:
            if snake(class_name) == base:
                return class_name, None
    return None, None


def _variable_kinds(
    class_name: str | None, meta: LayerConfig | None, arrays: dict[str, np.ndarray]
) -> dict[str, str]:
    names = list(LAYER_VARIABLES.get(class_name or "", ()))
    config = meta.config if meta else {}
    if config.get("use_bias") is False and "bias" in names:
        names.remove("bias")
    if class_name in ("BatchNormalization", "LayerNormalization", "GroupNormalization"):
        if config.get("scale") is False:
            names.remove("gamma")
        if config.get("center") is False:
            names.remove("beta")
    indices = sorted((k for k in arrays if k.isdigit()), key=int)
    kinds = {k: k for k in arrays if not k.isdigit()}  # Keras 2 layouts keep the names
    if names and len(names) == len(indices):
        kinds.update(dict(zip(indices, names, strict=True)))
    elif len(names) == 4 and len(indices) == 2 and class_name == "BatchNormalization":
        kinds.update(dict(zip(indices, ("moving_mean", "moving_variance"), strict=True)))
    return kinds
