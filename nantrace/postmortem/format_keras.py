"""Read a Keras 3 ``.keras`` archive (or its unzipped folder) as data, for
:func:`nantrace.checkpoint.load`.

``config.json`` is parsed as JSON only, to learn the layers' classes, activations and
initializers and the optimizer's configuration; no layer, function or object is deserialized, so
a ``Lambda`` layer's bytecode is never run. The weights (``model.weights.h5``) are read by
``checkpoint_h5``; pickled ``model.weights.npz`` weights are read only with ``unsafe=True``.
Zip members declaring more than the limits in ``checkpoint`` are refused before decompression.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from nantrace.errors import NantraceError
from nantrace.postmortem.checkpoint import (
    MAX_EXPANSION,
    MAX_UNCOMPRESSED,
    Checkpoint,
    LayerConfig,
    OptimizerState,
    first_line,
    listdir,
    snake,
)
from nantrace.postmortem.format_h5 import read_h5_objects
from nantrace.postmortem.layout import keras_checkpoint
from nantrace.postmortem.slots import optimizer_class


def read_keras(path: str, *, shown: str, unsafe: bool) -> Checkpoint:
    """The variables, layers and optimizer of a ``.keras`` archive or its unzipped folder."""
    if os.path.isdir(path):
        members = {n: os.path.join(path, n) for n in listdir(path)}

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
                f"{shown!r} is not a valid .keras archive ({first_line(error)}): it is truncated "
                "or corrupted; save it again with model.save(...) or restore it from a backup"
            ) from None
        names = set(infos)

        def read(name: str) -> bytes:
            info = infos[name]
            if info.file_size > MAX_UNCOMPRESSED or (
                info.file_size > (1 << 26) and info.file_size > MAX_EXPANSION * info.compress_size
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
                    f"({first_line(error)}); restore the file from a backup or save it again"
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
            f"{shown!r} is corrupted: its config.json is not valid JSON ({first_line(error)}); "
            "save the model again or restore it from a backup"
        ) from None
    layers, order, notes = _layers_from_config(config)
    optimizer = _optimizer_from_config(config)
    if "model.weights.h5" in names:
        raw = read("model.weights.h5")
        objects = read_h5_objects(io.BytesIO(raw), shown, len(raw), member="model.weights.h5")
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
    return keras_checkpoint(shown, "keras", objects, layers, order, optimizer, notes)


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
            f"{shown!r} is corrupted: model.weights.npz cannot be read ({first_line(error)}); "
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
        return snake(name) if isinstance(name, str) else None
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
        return OptimizerState(name=entry, class_name=optimizer_class(entry))
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
