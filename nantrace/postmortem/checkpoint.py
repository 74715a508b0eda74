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

This module holds the records (:class:`Checkpoint`, :class:`Variable`, ...), :func:`load` and
the locating of the file to read; each format has its reader (``checkpoint_tf``,
``checkpoint_keras``, ``checkpoint_h5``), the Keras 3 weights layout is named in
``checkpoint_layout`` and optimizer slots are tied to their variables in ``checkpoint_slots``.

Every failure to read a file becomes a :class:`~nantrace.errors.NantraceError` whose message is
one line that says what is wrong and what to do; truncated or corrupted files never surface as
tracebacks. Checks that guard against hangs and memory blow-ups on corrupted files (declared
sizes larger than the file) run before any array is allocated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nantrace.errors import NantraceError

#: Formats ``load`` recognises (``Checkpoint.format``).
FORMATS = ("tf_checkpoint", "keras", "weights_h5")

#: Variable roles.
ROLES = ("weight", "slot", "step", "hyperparameter", "other")

TF_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")

#: A zip member or dataset declaring more than this many bytes per stored byte is refused as a
#: decompression bomb (real weights compress far less than this).
MAX_EXPANSION = 1000
MAX_UNCOMPRESSED = 1 << 34  # 16 GiB

HOW_TO_PASS = (
    "pass a TensorFlow checkpoint prefix (DIR/ckpt-3) or its directory, a .keras file or a "
    ".weights.h5 file"
)


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
    # The readers build this module's records, so they import it: import them when called.
    from nantrace.postmortem.format_h5 import read_weights_h5
    from nantrace.postmortem.format_keras import read_keras
    from nantrace.postmortem.format_tf import read_tf_checkpoint

    text = os.fspath(path)
    kind, target = resolve(text)
    if kind == "tf_checkpoint":
        checkpoint = read_tf_checkpoint(target, shown=text)
    elif kind == "keras":
        checkpoint = read_keras(target, shown=text, unsafe=unsafe)
    else:
        checkpoint = read_weights_h5(target, shown=text)
    if not any(np.issubdtype(v.values.dtype, np.floating) for v in checkpoint.variables):
        raise NantraceError(
            f"{text!r} holds no floating-point variables to scan; {HOW_TO_PASS} that was saved "
            "after the model was built"
        )
    return checkpoint


# -- locating the checkpoint ---------------------------------------------------------------------


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
        if TF_DATA_SUFFIX.search(path):
            return "tf_checkpoint", TF_DATA_SUFFIX.sub("", path)
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
    hint = prefixes_hint(parent) if os.path.isdir(parent) else ""
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
    return sorted(prefixes, key=natural_key)


def prefixes_hint(directory: str) -> str:
    """`` (checkpoints there: ...)`` for an error message, or ``""`` when there are none."""
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
                f"exist{prefixes_hint(path)}; pass an existing checkpoint prefix"
            )
    if prefixes:
        return "tf_checkpoint", os.path.join(path, prefixes[-1])
    others = sorted(n for n in listdir(path) if n.lower().endswith((".keras", ".h5", ".hdf5")))
    hint = f" (it has: {', '.join(others[:3])})" if others else ""
    raise NantraceError(
        f"{path!r} is a directory with no TensorFlow checkpoint (no 'checkpoint' file and no "
        f"*.index){hint}; {HOW_TO_PASS}"
    )


def listdir(path: str) -> list[str]:
    """The names in ``path``, or none when it cannot be listed (errors name the path instead)."""
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
            f"{state_file} is not a readable checkpoint state file ({first_line(error)}); "
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
            f"{state_file} is not a valid checkpoint state file ({first_line(error)}); "
            "delete it or pass the checkpoint prefix directly (DIR/ckpt-3)"
        ) from None


# -- helpers -------------------------------------------------------------------------------------


def snake(name: str) -> str:
    """Keras's ``to_snake_case`` (layer and optimizer default names derive from it)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``ckpt-9`` before ``ckpt-10`` and ``vars/2`` before ``vars/10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def first_line(error: BaseException) -> str:
    """The first line of an error, at most 200 characters, for a one-line message."""
    text = str(error).strip() or type(error).__name__
    line = text.splitlines()[0].strip()
    if len(line) > 200:
        line = line[:197] + "..."
    return line
