"""Read a TensorFlow checkpoint (``tf.train.Checkpoint``, ``save_weights`` in TF format, a
SavedModel's ``variables/``) as data, for :func:`nantrace.checkpoint.load`.

The arrays are read with ``tf.train.load_checkpoint``; the checkpoint's object graph, where
present, gives each variable its Keras path and ties each optimizer slot to its variable
(name-based TF1 checkpoints fall back to the slot suffixes in the keys). Declared sizes are
checked against the data files before any array is read, so a corrupted file cannot make it
allocate more than the file holds.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import numpy as np

from nantrace.compat.quiet import import_tensorflow_quietly
from nantrace.errors import NantraceError
from nantrace.postmortem.checkpoint import (
    TF_DATA_SUFFIX,
    Checkpoint,
    OptimizerState,
    Variable,
    first_line,
    listdir,
    prefixes_hint,
)
from nantrace.postmortem.slots import optimizer_class

_TF_ATTRIBUTE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

#: Keras 3 optimizer list attributes in a TF checkpoint's object graph → slot name.
_SLOT_LISTS = {
    "_momentums": "momentum",
    "momentums": "momentum",
    "_velocities": "velocity",
    "_velocity_hats": "velocity_hat",
    "_accumulators": "accumulator",
    "_average_gradients": "average_gradient",
    "_linears": "linear",
    "_m": "m",
    "_u": "u",
    "_accumulated_grads": "accumulated_grad",
    "_accumulated_delta_vars": "accumulated_delta_var",
}

#: TF1 / tf.compat.v1 slot suffixes in name-based checkpoints.
_V1_SLOT_SUFFIXES = {
    "/Adam": "momentum",
    "/Adam_1": "velocity",
    "/Momentum": "momentum",
    "/RMSProp": "velocity",
    "/RMSProp_1": "momentum",
    "/Adagrad": "accumulator",
}

_STEP_NAMES = ("global_step", "step", "iteration", "iterations", "iter")


def tensorflow() -> Any:
    """``import tensorflow``, quietly, the first time it is needed."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        tf = import_tensorflow_quietly()
    except ImportError as error:
        raise NantraceError(
            f"reading a TensorFlow checkpoint needs TensorFlow ({first_line(error)}); "
            'install it with pip install "nantrace[cpu]"'
        ) from None
    return tf


def read_tf_checkpoint(prefix: str, *, shown: str) -> Checkpoint:
    """The variables of the TensorFlow checkpoint at ``prefix``; ``shown`` is the path as given."""
    data_files = _tf_data_files(prefix)
    tf = tensorflow()
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as error:  # any failure to parse the index means a damaged file
        raise _corrupt_tf(prefix, error) from None
    data_bytes = sum(os.path.getsize(f) for f in data_files)
    arrays: dict[str, np.ndarray] = {}
    object_graph = None
    for key in sorted(shapes):
        dtype = dtypes.get(key)
        if key == _OBJECT_GRAPH_KEY:
            object_graph = _read_object_graph(reader, prefix, key)
            continue
        if dtype is None or not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
            continue
        declared = math.prod(int(d) for d in shapes[key]) * dtype.size
        if declared > data_bytes:
            raise NantraceError(
                f"checkpoint {prefix!r} is corrupted: variable {key!r} declares {declared} bytes "
                f"but its data files hold {data_bytes}; restore the checkpoint from a backup or "
                "scan an earlier one"
            )
        try:
            value = reader.get_tensor(key)
        except Exception as error:
            raise _corrupt_tf(prefix, error, key) from None
        value = np.asarray(value)
        if dtype.is_floating and value.dtype.kind != "f":  # bfloat16 (ml_dtypes): stats in f32
            value = value.astype(np.float32)
        arrays[key] = value
    return _tf_checkpoint_from_arrays(shown, arrays, object_graph)


def _tf_data_files(prefix: str) -> list[str]:
    directory = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix)
    index = prefix + ".index"
    if not os.path.isfile(index):
        raise NantraceError(
            f"no checkpoint at {prefix!r}: {index!r} does not exist{prefixes_hint(directory)}; "
            "pass an existing checkpoint prefix"
        )
    files = [
        os.path.join(directory, n)
        for n in listdir(directory)
        if n.startswith(base + ".data-") and TF_DATA_SUFFIX.search(n)
    ]
    if not files:
        raise NantraceError(
            f"checkpoint {prefix!r} has an .index file but no {base}.data-00000-of-NNNNN file; "
            "copy the data file(s) next to the index (they are saved together)"
        )
    return files


def _corrupt_tf(prefix: str, error: BaseException, key: str | None = None) -> NantraceError:
    what = f" (reading {key!r})" if key else ""
    message = first_line(error)
    lowered = message.lower()
    if "not found" in lowered or "no such file" in lowered:
        return NantraceError(
            f"checkpoint {prefix!r} is incomplete{what}: {message}; copy all of its .index and "
            ".data-* files together"
        )
    return NantraceError(
        f"checkpoint {prefix!r} is truncated or corrupted{what}: {message}; restore it from a "
        "backup or scan an earlier checkpoint"
    )


def _read_object_graph(reader: Any, prefix: str, key: str) -> Any:
    from nantrace.compat import tf as _tf_compat

    try:
        return _tf_compat.trackable_object_graph(reader.get_tensor(key))
    except Exception as error:
        raise _corrupt_tf(prefix, error, key) from None


def _strip_key(key: str) -> str:
    return key[: -len(_TF_ATTRIBUTE_SUFFIX)] if key.endswith(_TF_ATTRIBUTE_SUFFIX) else key


def _tf_checkpoint_from_arrays(shown: str, arrays: dict[str, np.ndarray], graph: Any) -> Checkpoint:
    """Name and classify the arrays of a TF checkpoint, using its object graph when present."""
    notes: list[str] = []
    info: dict[str, dict[str, Any]] = {key: {} for key in arrays}
    optimizer: dict[str, Any] = {}
    if graph is not None:
        _classify_with_object_graph(graph, arrays, info, optimizer)
    else:
        notes.append("no object graph (name-based checkpoint): roles are inferred from names")
        _classify_by_name(arrays, info, optimizer)
    names: dict[str, str] = {}
    seen: set[str] = set()
    for key in sorted(arrays):
        name = info[key].get("full_name") or _strip_key(key)
        if name in seen:
            name = _strip_key(key)
        seen.add(name)
        names[key] = name
    variables = []
    step = step_source = None
    for key in sorted(arrays):
        entry = info[key]
        role = entry.get("role", "weight")
        values = arrays[key]
        if role == "step":
            if values.size == 1 and step is None:
                step, step_source = int(values.reshape(-1)[0]), names[key]
            continue
        if not np.issubdtype(values.dtype, np.floating):
            continue
        name = names[key]
        slot_of = entry.get("slot_of_key")
        layer = entry.get("layer")
        kind = entry.get("kind")
        if role == "weight" and layer is None and "/" in name:
            layer, kind = name.rsplit("/", 1)
        variables.append(
            Variable(
                name=name,
                key=key,
                values=values,
                role=role,
                layer=layer,
                kind=kind,
                slot=entry.get("slot"),
                slot_of=names.get(slot_of) if slot_of else None,
                trainable=entry.get("trainable"),
            )
        )
    variables = _fill_slot_layers(variables)
    state = None
    if optimizer:
        learning_rate = optimizer.get("learning_rate_key")
        lr_values = arrays.get(learning_rate) if learning_rate else None
        state = OptimizerState(
            name=optimizer.get("name"),
            class_name=optimizer_class(optimizer.get("name")),
            iterations=step if step_source and optimizer.get("has_iterations") else None,
            learning_rate=(
                float(lr_values.reshape(-1)[0])
                if lr_values is not None and lr_values.size == 1
                else None
            ),
        )
        notes.append(
            "a TensorFlow checkpoint does not record the optimizer's epsilon or the layers' "
            "activations; scan the .keras file for those"
        )
    return Checkpoint(
        path=shown,
        format="tf_checkpoint",
        variables=tuple(variables),
        step=step,
        step_source=step_source,
        optimizer=state,
        notes=tuple(notes),
    )


def _classify_with_object_graph(
    graph: Any,
    arrays: dict[str, np.ndarray],
    info: dict[str, dict[str, Any]],
    optimizer: dict[str, Any],
) -> None:
    nodes = graph.nodes
    key_of: dict[int, str] = {}
    for node_id, node in enumerate(nodes):
        for attribute in node.attributes:
            if attribute.name == "VARIABLE_VALUE" and attribute.checkpoint_key in info:
                key_of[node_id] = attribute.checkpoint_key
                info[attribute.checkpoint_key]["full_name"] = attribute.full_name or None

    def children(node_id: int) -> dict[str, int]:
        if not 0 <= node_id < len(nodes):
            return {}
        return {c.local_name: c.node_id for c in nodes[node_id].children}

    for node in nodes:
        kids = {c.local_name: c.node_id for c in node.children}
        # Legacy optimizers record slots in the graph itself.
        for slot in node.slot_variables:
            slot_key = key_of.get(slot.slot_variable_node_id)
            var_key = key_of.get(slot.original_variable_node_id)
            if slot_key:
                info[slot_key].update(role="slot", slot=slot.slot_name, slot_of_key=var_key)
        iterations = kids.get("_iterations", kids.get("iter"))
        if iterations is None or iterations not in key_of:
            continue
        # A Keras optimizer: its iteration counter, learning rate, trained variables, slots.
        optimizer["has_iterations"] = True
        iteration_key = key_of[iterations]
        info[iteration_key]["role"] = "step"
        full_name = info[iteration_key].get("full_name") or ""
        optimizer["name"] = full_name.split("/")[0] if "/" in full_name else None
        for hyper in ("_learning_rate", "learning_rate", "beta_1", "beta_2", "decay", "rho"):
            if hyper in kids and kids[hyper] in key_of:
                info[key_of[kids[hyper]]]["role"] = "hyperparameter"
                if hyper in ("_learning_rate", "learning_rate"):
                    optimizer["learning_rate_key"] = key_of[kids[hyper]]
        trained = children(kids.get("_trainable_variables", -1))
        trained_keys = {index: key_of.get(child) for index, child in trained.items()}
        for key in trained_keys.values():
            if key:
                info[key]["trainable"] = True
        for list_name, slot_name in _SLOT_LISTS.items():
            for index, child in children(kids.get(list_name, -1)).items():
                slot_key = key_of.get(child)
                if slot_key:
                    info[slot_key].update(
                        role="slot", slot=slot_name, slot_of_key=trained_keys.get(index)
                    )
        for list_name, list_node in kids.items():  # unknown optimizers: slot lists by shape
            if list_name in _SLOT_LISTS or list_name in ("_variables", "_trainable_variables"):
                continue
            items = children(list_node)
            if not items or not all(i.isdigit() for i in items):
                continue
            for index, child in items.items():
                slot_key = key_of.get(child)
                var_key = trained_keys.get(index)
                if (
                    slot_key
                    and var_key
                    and info[slot_key].get("role") is None
                    and arrays[slot_key].shape == arrays[var_key].shape
                ):
                    info[slot_key].update(
                        role="slot", slot=list_name.strip("_").rstrip("s"), slot_of_key=var_key
                    )
        for index, child in children(kids.get("_variables", -1)).items():
            key = key_of.get(child)
            if key and info[key].get("role") is None and index not in ("0", "1"):
                info[key]["role"] = "slot"
    if any(info[k].get("trainable") for k in info):
        for entry in info.values():
            if entry.get("role") in (None, "weight") and "trainable" not in entry:
                entry["trainable"] = False
    for key, entry in info.items():
        if key.startswith("save_counter"):
            entry["role"] = "other"
        entry.setdefault("role", "weight")
        if entry["role"] == "weight" and entry.get("full_name") is None:
            name = _strip_key(key)
            if name.split("/")[-1] in _STEP_NAMES and arrays[key].size == 1:
                entry["role"] = "step"


def _classify_by_name(
    arrays: dict[str, np.ndarray], info: dict[str, dict[str, Any]], optimizer: dict[str, Any]
) -> None:
    for key, entry in info.items():
        for suffix, slot in _V1_SLOT_SUFFIXES.items():
            if key.endswith(suffix) and key[: -len(suffix)] in arrays:
                entry.update(role="slot", slot=slot, slot_of_key=key[: -len(suffix)])
                optimizer.setdefault("name", suffix.strip("/").split("_")[0].lower())
                break
        else:
            last = key.split("/")[-1]
            if last in _STEP_NAMES and arrays[key].size == 1:
                entry["role"] = "step"
            elif last in ("beta1_power", "beta2_power", "learning_rate"):
                entry["role"] = "hyperparameter"
            else:
                entry["role"] = "weight"


def _fill_slot_layers(variables: list[Variable]) -> list[Variable]:
    by_name = {v.name: v for v in variables}
    out = []
    for variable in variables:
        if variable.role == "slot" and variable.slot_of in by_name:
            owner = by_name[variable.slot_of]
            variable = Variable(
                name=variable.name,
                key=variable.key,
                values=variable.values,
                role="slot",
                layer=owner.layer,
                kind=owner.kind,
                slot=variable.slot,
                slot_of=variable.slot_of,
                trainable=None,
            )
        out.append(variable)
    return out
