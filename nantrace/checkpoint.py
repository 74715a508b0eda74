"""Read the variables of a saved model for ``nantrace scan`` / ``nantrace diff``.

Three formats, all read as *data*, never as code:

* a TensorFlow checkpoint (``tf.train.Checkpoint``, ``model.save_weights`` in TF format, the
  ``variables/`` of a SavedModel): a prefix (``DIR/ckpt-3``), its ``.index`` / ``.data-*`` file,
  or a directory (its ``checkpoint`` state file names the latest one). Read with
  ``tf.train.load_checkpoint``; the checkpoint's object graph gives each variable its Keras
  path (``dense/kernel``) and ties each optimizer slot to its variable.
* a ``.weights.h5`` (or any HDF5 file) read with h5py.
* a ``.keras`` archive (or its unzipped directory): ``config.json`` is parsed as JSON only, to
  learn layer classes, activations and initializers; the weights are read with h5py. No layer,
  function or object is deserialized, so a model with ``Lambda`` layers scans without running
  their bytecode. The one thing that needs unsafe deserialization is a ``.keras`` whose weights
  were saved as ``model.weights.npz``: Keras stores them as pickled object arrays and unpickling
  can run code from the file, so nantrace refuses unless the caller passes ``unsafe=True``
  (``--unsafe``).

Every failure to read a file becomes a :class:`~nantrace.errors.NantraceError` whose message is
one line that says what is wrong and what to do; truncated or corrupted files never surface as
tracebacks. Checks that guard against hangs and memory blow-ups on corrupted files (declared
sizes larger than the file) run before any array is allocated.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nantrace._quiet import import_tensorflow_quietly
from nantrace.errors import NantraceError

#: Formats ``load`` recognises (``Checkpoint.format``).
FORMATS = ("tf_checkpoint", "keras", "weights_h5")

#: Variable roles.
ROLES = ("weight", "slot", "step", "hyperparameter", "other")

_TF_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_TF_ATTRIBUTE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
#: A zip member or dataset declaring more than this many bytes per stored byte is refused as a
#: decompression bomb (real weights compress far less than this).
_MAX_EXPANSION = 1000
_MAX_UNCOMPRESSED = 1 << 34  # 16 GiB

HOW_TO_PASS = (
    "pass a TensorFlow checkpoint prefix (DIR/ckpt-3) or its directory, a .keras file or a "
    ".weights.h5 file"
)

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


@dataclass(frozen=True)
class Variable:
    """One saved array.

    Attributes:
        name: display name: the Keras variable path where known (``dense/kernel``,
            ``adam/dense_kernel_velocity``), else the key.
        key: where it lives in the file (checkpoint key, HDF5 dataset path).
        values: the array (kept out of comparisons and repr).
        role: ``weight`` (model variable), ``slot`` (optimizer state per variable), ``step``
            (iteration counter), ``hyperparameter`` (learning rate, ...) or ``other``.
        layer: the layer path the variable belongs to (for slots: its variable's layer).
        kind: the variable's own name in its layer (``kernel``, ``bias``, ``gamma``, ...).
        slot: for slots, the slot name (``momentum``, ``velocity``, ...).
        slot_of: for slots, the ``name`` of the model variable it belongs to.
        trainable: whether the optimizer trains it (None when unknown).
    """

    name: str
    key: str
    values: np.ndarray = field(compare=False, repr=False)
    role: str = "weight"
    layer: str | None = None
    kind: str | None = None
    slot: str | None = None
    slot_of: str | None = None
    trainable: bool | None = None

    @property
    def dtype(self) -> str:
        return str(self.values.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.values.shape)


@dataclass(frozen=True)
class LayerConfig:
    """What ``config.json`` says about one layer (read as data)."""

    name: str
    class_name: str
    activation: str | None = None
    initializer: str | None = None
    initializer_config: dict[str, Any] = field(default_factory=dict)
    trainable: bool = True
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerState:
    """The optimizer's identity and scalar state, where the file records them."""

    name: str | None = None
    class_name: str | None = None
    iterations: int | None = None
    learning_rate: float | None = None
    epsilon: float | None = None
    beta_1: float | None = None
    beta_2: float | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """The variables of one saved model, with what is known about its layers and optimizer."""

    path: str
    format: str
    variables: tuple[Variable, ...]
    step: int | None = None
    step_source: str | None = None
    optimizer: OptimizerState | None = None
    layers: dict[str, LayerConfig] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def by_name(self) -> dict[str, Variable]:
        return {v.name: v for v in self.variables}

    def slots_of(self, name: str) -> list[Variable]:
        return [v for v in self.variables if v.role == "slot" and v.slot_of == name]


def load(path: str | os.PathLike[str], *, unsafe: bool = False) -> Checkpoint:
    """Read every variable of the checkpoint at ``path``; see the module docstring.

    Raises:
        NantraceError: the path does not exist, holds no checkpoint, or the file is truncated or
            corrupted (the message is one line that says how to fix it).
    """
    text = os.fspath(path)
    kind, target = resolve(text)
    if kind == "tf_checkpoint":
        checkpoint = _read_tf_checkpoint(target, shown=text)
    elif kind == "keras":
        checkpoint = _read_keras(target, shown=text, unsafe=unsafe)
    else:
        checkpoint = _read_weights_h5(target, shown=text)
    if not any(np.issubdtype(v.values.dtype, np.floating) for v in checkpoint.variables):
        raise NantraceError(
            f"{text!r} holds no floating-point variables to scan; {HOW_TO_PASS} that was saved "
            "after the model was built"
        )
    return checkpoint


# -- locating the checkpoint --------------------------------------------------------------------


def resolve(path: str) -> tuple[str, str]:
    """(format, the file or prefix to read) for a user-given path."""
    if not path:
        raise NantraceError(f"empty path; {HOW_TO_PASS}")
    if os.path.isdir(path):
        return _resolve_directory(path)
    if os.path.isfile(path):
        lower = path.lower()
        if lower.endswith(".index"):
            return "tf_checkpoint", path[: -len(".index")]
        if _TF_DATA_SUFFIX.search(path):
            return "tf_checkpoint", _TF_DATA_SUFFIX.sub("", path)
        if lower.endswith(".keras"):
            return "keras", path
        if lower.endswith((".h5", ".hdf5", ".weights.h5")):
            return "weights_h5", path
        magic = _read_magic(path)
        if magic.startswith(b"PK"):
            return "keras", path
        if magic.startswith(b"\x89HDF"):
            return "weights_h5", path
        raise NantraceError(
            f"{path!r} is not a checkpoint nantrace can read (neither a zip nor an HDF5 file, "
            f"nor a TensorFlow .index/.data file); {HOW_TO_PASS}"
        )
    if os.path.isfile(path + ".index"):
        return "tf_checkpoint", path
    parent = os.path.dirname(path) or "."
    hint = _prefixes_hint(parent) if os.path.isdir(parent) else ""
    raise NantraceError(f"no such file or directory: {path!r}{hint}; {HOW_TO_PASS}")


def _read_magic(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(8)
    except OSError as error:
        raise NantraceError(f"cannot read {path!r}: {error.strerror or error}") from None


def _tf_prefixes(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    prefixes = [n[: -len(".index")] for n in names if n.endswith(".index")]
    return sorted(prefixes, key=_natural_key)


def _prefixes_hint(directory: str) -> str:
    prefixes = _tf_prefixes(directory)
    if not prefixes:
        return ""
    shown = ", ".join(os.path.join(directory, p) for p in prefixes[-3:])
    return f" (checkpoints there: {shown})"


def _resolve_directory(path: str) -> tuple[str, str]:
    if os.path.isfile(os.path.join(path, "config.json")) and any(
        os.path.isfile(os.path.join(path, name))
        for name in ("model.weights.h5", "model.weights.npz")
    ):
        return "keras", path
    saved_model_vars = os.path.join(path, "variables", "variables")
    if os.path.isfile(saved_model_vars + ".index"):
        return "tf_checkpoint", saved_model_vars
    state_file = os.path.join(path, "checkpoint")
    prefixes = _tf_prefixes(path)
    if os.path.isfile(state_file):
        latest = _latest_from_state(state_file)
        if latest is not None:
            prefix = latest if os.path.isabs(latest) else os.path.join(path, latest)
            if os.path.isfile(prefix + ".index"):
                return "tf_checkpoint", prefix
            raise NantraceError(
                f"{state_file} names checkpoint {latest!r} but {prefix + '.index'!r} does not "
                f"exist{_prefixes_hint(path)}; pass an existing checkpoint prefix"
            )
    if prefixes:
        return "tf_checkpoint", os.path.join(path, prefixes[-1])
    others = sorted(n for n in _listdir(path) if n.lower().endswith((".keras", ".h5", ".hdf5")))
    hint = f" (it has: {', '.join(others[:3])})" if others else ""
    raise NantraceError(
        f"{path!r} is a directory with no TensorFlow checkpoint (no 'checkpoint' file and no "
        f"*.index){hint}; {HOW_TO_PASS}"
    )


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _latest_from_state(state_file: str) -> str | None:
    """``model_checkpoint_path`` from a ``checkpoint`` state file (a text proto)."""
    try:
        with open(state_file, encoding="utf-8", errors="strict") as handle:
            text = handle.read(1 << 20)
    except (OSError, UnicodeDecodeError) as error:
        raise NantraceError(
            f"{state_file} is not a readable checkpoint state file ({_first_line(error)}); "
            "delete it or pass the checkpoint prefix directly (DIR/ckpt-3)"
        ) from None
    match = re.search(r'^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"\s*$', text, re.MULTILINE)
    if match is None:
        raise NantraceError(
            f"{state_file} is not a valid checkpoint state file (no model_checkpoint_path); "
            "delete it or pass the checkpoint prefix directly (DIR/ckpt-3)"
        )
    try:
        return match.group(1).encode("utf-8").decode("unicode_escape")
    except UnicodeDecodeError as error:
        raise NantraceError(
            f"{state_file} is not a valid checkpoint state file ({_first_line(error)}); "
            "delete it or pass the checkpoint prefix directly (DIR/ckpt-3)"
        ) from None


# -- TensorFlow checkpoints ---------------------------------------------------------------------


def tensorflow() -> Any:
    """``import tensorflow``, quietly, the first time it is needed."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        tf = import_tensorflow_quietly()
    except ImportError as error:
        raise NantraceError(
            f"reading a TensorFlow checkpoint needs TensorFlow ({_first_line(error)}); "
            'install it with pip install "nantrace[cpu]"'
        ) from None
    return tf


def _read_tf_checkpoint(prefix: str, *, shown: str) -> Checkpoint:
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
            f"no checkpoint at {prefix!r}: {index!r} does not exist{_prefixes_hint(directory)}; "
            "pass an existing checkpoint prefix"
        )
    files = [
        os.path.join(directory, n)
        for n in _listdir(directory)
        if n.startswith(base + ".data-") and _TF_DATA_SUFFIX.search(n)
    ]
    if not files:
        raise NantraceError(
            f"checkpoint {prefix!r} has an .index file but no {base}.data-00000-of-NNNNN file; "
            "copy the data file(s) next to the index (they are saved together)"
        )
    return files


def _corrupt_tf(prefix: str, error: BaseException, key: str | None = None) -> NantraceError:
    what = f" (reading {key!r})" if key else ""
    message = _first_line(error)
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
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    try:
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor(key))
    except Exception as error:
        raise _corrupt_tf(prefix, error, key) from None
    return graph


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
            class_name=_optimizer_class(optimizer.get("name")),
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


def _optimizer_class(name: str | None) -> str | None:
    if not name:
        return None
    base = re.sub(r"_\d+$", "", name)
    for class_name in OPTIMIZER_SLOTS:
        if _snake(class_name) == base or class_name.lower() == base.lower():
            return class_name
    return None


# -- .keras archives ----------------------------------------------------------------------------


def _read_keras(path: str, *, shown: str, unsafe: bool) -> Checkpoint:
    if os.path.isdir(path):
        members = {n: os.path.join(path, n) for n in _listdir(path)}

        def read(name: str) -> bytes:
            with open(members[name], "rb") as handle:
                return handle.read()

        names = set(members)
    else:
        try:
            archive = zipfile.ZipFile(path)
            infos = {i.filename: i for i in archive.infolist()}
        except Exception as error:
            raise NantraceError(
                f"{shown!r} is not a valid .keras archive ({_first_line(error)}): it is truncated "
                "or corrupted; save it again with model.save(...) or restore it from a backup"
            ) from None
        names = set(infos)

        def read(name: str) -> bytes:
            info = infos[name]
            if info.file_size > _MAX_UNCOMPRESSED or (
                info.file_size > (1 << 26) and info.file_size > _MAX_EXPANSION * info.compress_size
            ):
                raise NantraceError(
                    f"{shown!r} is corrupted: member {name!r} declares {info.file_size} bytes "
                    f"from {info.compress_size} stored; restore the file from a backup"
                )
            try:
                return archive.read(info)
            except Exception as error:
                raise NantraceError(
                    f"{shown!r} is corrupted: member {name!r} cannot be read "
                    f"({_first_line(error)}); restore the file from a backup or save it again"
                ) from None

    if "config.json" not in names:
        raise NantraceError(
            f"{shown!r} is not a Keras 3 .keras archive (no config.json); save the model with "
            "Keras 3 model.save('model.keras') or pass its .weights.h5"
        )
    try:
        config = json.loads(read("config.json").decode("utf-8"))
        if not isinstance(config, dict):
            raise ValueError("the top level is not an object")
    except NantraceError:
        raise
    except Exception as error:
        raise NantraceError(
            f"{shown!r} is corrupted: its config.json is not valid JSON ({_first_line(error)}); "
            "save the model again or restore it from a backup"
        ) from None
    layers, order, notes = _layers_from_config(config)
    optimizer = _optimizer_from_config(config)
    if "model.weights.h5" in names:
        raw = read("model.weights.h5")
        objects = _read_h5_objects(io.BytesIO(raw), shown, len(raw), member="model.weights.h5")
    elif "model.weights.npz" in names:
        objects = _read_keras_npz(read("model.weights.npz"), shown, unsafe)
        notes.append("weights read from model.weights.npz with pickle (--unsafe)")
    elif "model.weights.json" in names:
        raise NantraceError(
            f"{shown!r} keeps its weights in sharded files (model.weights.json), which nantrace "
            "does not read yet; save it unsharded with model.save('model.keras')"
        )
    else:
        raise NantraceError(
            f"{shown!r} has no weights (no model.weights.h5 in the archive); save the model after "
            "it is built, with model.save('model.keras')"
        )
    return _keras_checkpoint(shown, "keras", objects, layers, order, optimizer, notes)


def _read_keras_npz(raw: bytes, shown: str, unsafe: bool) -> dict[str, dict[str, np.ndarray]]:
    if not unsafe:
        raise NantraceError(
            f"{shown!r} stores its weights as model.weights.npz, whose arrays are pickled Python "
            "objects, and unpickling can run code from the file; if you trust the file, re-run "
            "with --unsafe (or re-save it with the default .h5 weights)"
        )
    try:
        with np.load(io.BytesIO(raw), allow_pickle=True) as contents:
            objects = {}
            for path in contents.files:
                value = contents[path]
                item = value.item() if value.dtype == object and value.shape == () else value
                if isinstance(item, dict):
                    objects[path.replace("__root__", "")] = {
                        str(k): np.asarray(v) for k, v in item.items()
                    }
    except Exception as error:
        raise NantraceError(
            f"{shown!r} is corrupted: model.weights.npz cannot be read ({_first_line(error)}); "
            "save the model again or restore it from a backup"
        ) from None
    return objects


def _activation_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        config = value.get("config")
        if value.get("class_name") == "function" and isinstance(config, str):
            return config
        if isinstance(config, dict) and isinstance(config.get("activation"), str):
            return config["activation"]
        name = value.get("class_name")
        return _snake(name) if isinstance(name, str) else None
    return None


def _initializer_of(config: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    for attribute in ("kernel_initializer", "depthwise_initializer", "embeddings_initializer"):
        value = config.get(attribute)
        if isinstance(value, str):
            return value, {}
        if isinstance(value, dict) and isinstance(value.get("class_name"), str):
            inner = value.get("config")
            return value["class_name"], dict(inner) if isinstance(inner, dict) else {}
    return None, {}


def _layers_from_config(
    config: dict[str, Any],
) -> tuple[dict[str, LayerConfig], list[str], list[str]]:
    """Layer name → what config.json says about it, the depth-first layer order, and notes
    (Lambda layers found: recorded, never deserialized)."""
    layers: dict[str, LayerConfig] = {}
    order: list[str] = []
    lambdas: list[str] = []

    def visit(entry: Any, inherited: dict[str, Any] | None = None) -> None:
        if not isinstance(entry, dict):
            return
        class_name = entry.get("class_name")
        inner = entry.get("config")
        if not isinstance(class_name, str) or not isinstance(inner, dict):
            return
        name = inner.get("name") if isinstance(inner.get("name"), str) else None
        if name:
            if class_name == "Lambda":
                lambdas.append(name)
            initializer, initializer_config = _initializer_of(inner)
            source = inner if initializer or not inherited else inherited
            if not initializer and inherited:
                initializer, initializer_config = _initializer_of(inherited)
            activation = inner.get("activation", (source or {}).get("activation"))
            layers[name] = LayerConfig(
                name=name,
                class_name=class_name,
                activation=_activation_name(activation),
                initializer=initializer,
                initializer_config=initializer_config,
                trainable=bool(inner.get("trainable", True)),
                config=inner,
            )
            order.append(name)
        for key in ("layers",):
            for child in inner.get(key) or ():
                visit(child)
        for key in ("cell", "layer", "forward_layer", "backward_layer"):
            if isinstance(inner.get(key), dict):
                visit(inner[key], inner)

    visit(config)
    notes = []
    if lambdas:
        notes.append(
            f"Lambda layer(s) {', '.join(lambdas[:5])} hold Python bytecode; nantrace read the "
            "file as data and did not deserialize them (they have no weights)"
        )
    return layers, order, notes


def _optimizer_from_config(config: dict[str, Any]) -> OptimizerState | None:
    compiled = config.get("compile_config")
    if not isinstance(compiled, dict):
        return None
    entry = compiled.get("optimizer")
    if isinstance(entry, str):
        return OptimizerState(name=entry, class_name=_optimizer_class(entry))
    if not isinstance(entry, dict):
        return None
    inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    class_name = entry.get("class_name") if isinstance(entry.get("class_name"), str) else None
    if class_name == "LossScaleOptimizer" and isinstance(inner.get("inner_optimizer"), dict):
        entry = inner["inner_optimizer"]
        inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        class_name = entry.get("class_name")

    def number(key: str) -> float | None:
        value = inner.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    return OptimizerState(
        name=inner.get("name") if isinstance(inner.get("name"), str) else None,
        class_name=class_name,
        learning_rate=number("learning_rate"),
        epsilon=number("epsilon"),
        beta_1=number("beta_1"),
        beta_2=number("beta_2"),
        config=inner,
    )


# -- HDF5 (.weights.h5 and the weights inside a .keras) -----------------------------------------


def _read_weights_h5(path: str, *, shown: str) -> Checkpoint:
    size = os.path.getsize(path)
    objects = _read_h5_objects(path, shown, size)
    return _keras_checkpoint(shown, "weights_h5", objects, {}, [], None, [])


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise NantraceError(
            f"reading HDF5 weights needs h5py ({_first_line(error)}); install it with "
            "pip install h5py"
        ) from None
    return h5py


def _read_h5_objects(
    source: Any, shown: str, file_size: int, member: str | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Object path → {variable index or name: array} for every float/int dataset in the file.

    Keras 3 layout: ``<object path>/vars/<i>`` (the object path is ``layers/dense``,
    ``optimizer``, ...; the ``vars`` group's ``name`` attribute is the layer's name, kept under
    the ``"@name"`` key). Other HDF5 layouts (Keras 2 ``model_weights/...``): each dataset is
    one variable under its parent group's path.
    """
    h5py = _h5py()
    where = f"{shown!r}" + (f" ({member})" if member else "")
    try:
        handle = h5py.File(source, "r")
    except Exception as error:
        raise NantraceError(
            f"{where} is not a readable HDF5 file ({_first_line(error)}): it is truncated or "
            "corrupted; save the weights again or restore them from a backup"
        ) from None
    objects: dict[str, dict[str, Any]] = {}
    datasets: list[tuple[str, Any]] = []
    try:
        with handle:

            def collect(name: str, item: Any) -> None:
                if isinstance(item, h5py.Dataset):
                    datasets.append((name, item))
                elif isinstance(item, h5py.Group) and name.split("/")[-1] == "vars":
                    owner = name[: -len("vars")].rstrip("/")
                    label = item.attrs.get("name")
                    if isinstance(label, bytes):
                        label = label.decode("utf-8", "replace")
                    objects.setdefault(owner, {})["@name"] = (
                        str(label) if label is not None else None
                    )

            handle.visititems(collect)
            for name, dataset in datasets:
                array = _read_dataset(dataset, name, where, file_size)
                if array is None:
                    continue
                parent, _, leaf = name.rpartition("/")
                if parent.split("/")[-1] == "vars":
                    owner = parent[: -len("vars")].rstrip("/")
                else:
                    owner, leaf = parent, leaf.split(":")[0]
                objects.setdefault(owner, {})[leaf] = array
    except NantraceError:
        raise
    except Exception as error:
        raise NantraceError(
            f"{where} is truncated or corrupted ({_first_line(error)}); save the weights again "
            "or restore them from a backup"
        ) from None
    return objects


def _read_dataset(dataset: Any, name: str, where: str, file_size: int) -> np.ndarray | None:
    dtype = dataset.dtype
    if dtype.kind not in "fiub" or dtype.fields is not None:
        return None
    declared = int(np.prod(dataset.shape, dtype=np.float64) * dtype.itemsize)
    stored = dataset.id.get_storage_size()
    compressed = dataset.compression is not None
    if declared and (
        (not compressed and dataset.chunks is None and declared > file_size)
        or stored > file_size
        or declared > _MAX_UNCOMPRESSED
        or (compressed and declared > (1 << 26) and declared > _MAX_EXPANSION * max(stored, 1))
    ):
        raise NantraceError(
            f"{where} is corrupted: dataset {name!r} declares {declared} bytes but the file holds "
            f"{file_size}; restore it from a backup or save the weights again"
        )
    if declared and not compressed and dataset.chunks is None and stored != declared:
        raise NantraceError(
            f"{where} is truncated or corrupted: dataset {name!r} stores {stored} of its "
            f"{declared} bytes; restore it from a backup or save the weights again"
        )
    try:
        return np.asarray(dataset[()])
    except Exception as error:
        raise NantraceError(
            f"{where} is truncated or corrupted: dataset {name!r} cannot be read "
            f"({_first_line(error)}); restore it from a backup or save the weights again"
        ) from None


def _keras_checkpoint(
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
            return (rank[label], _natural_key(path))
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        while parent:
            if labels.get(parent) in rank:
                return (rank[labels[parent]], _natural_key(path))
            parent = parent.rsplit("/", 1)[0] if "/" in parent else ""
        return (len(rank), _natural_key(path))

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
        for index in sorted(arrays, key=_natural_key):
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
    for path in sorted(optimizer_objects, key=_natural_key):
        arrays = {k: v for k, v in optimizer_objects[path].items() if k != "@name"}
        label = optimizer_objects[path].get("@name")
        if optimizer is None or optimizer.name is None:
            optimizer = OptimizerState(
                name=label,
                class_name=_optimizer_class(label),
                config=optimizer.config if optimizer else {},
            )
        found_step, slot_vars, slot_notes = _optimizer_variables(
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
            if _snake(class_name) == base:
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


def _optimizer_variables(
    path: str,
    label: str,
    arrays: dict[str, np.ndarray],
    model_vars: list[Variable],
    optimizer: OptimizerState,
) -> tuple[int | None, list[Variable], list[str]]:
    """Split a Keras 3 optimizer's ``vars/0..N`` into iterations, learning rate and slots, and
    tie each slot to its model variable by position and shape (slots follow the order of the
    model's trainable variables)."""
    indices = sorted(arrays, key=_natural_key)
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


# -- helpers ------------------------------------------------------------------------------------


def _snake(name: str) -> str:
    """Keras's ``to_snake_case`` (layer and optimizer default names derive from it)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    line = text.splitlines()[0].strip()
    if len(line) > 200:
        line = line[:197] + "..."
    return line
