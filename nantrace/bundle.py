"""Crash bundles: what ``watch(bundle_dir=...)`` leaves on disk when a step trips.

A bundle is one folder, ``step-NNNNNN-YYYYmmdd-HHMMSS``, holding everything needed to read the
report again and to rebuild and re-run the tripping step in another process::

    bundle.json    manifest: bundle_version, contents (name, bytes, sha256 of every file),
                   the variables and batch structure, the step function's import path
    report.json    the report, exactly as ``Report.to_json`` writes it
    state.npz      the pre-step value of every variable the step touches (weights, optimizer
                   slots and iteration counter, seed-generator state, ...)
    batches.npz    the tripping batch and the recent healthy batches (``watched.recent``)
    history.npz    the in-graph history (loss, gradient norm, every checked weight's norm)
    anchor.npz     the last anchor state (``anchor_every``), from which the learning-rate and
                   clipping fixes are verified through the batches since (in batches.npz)
    model.json     the Keras model's and optimizers' serialized configs, where one is reachable

An early warning's bundle (:func:`write_warning_bundle`, ``warning-NNNNNN-YYYYmmdd-HHMMSS``)
has the same layout with ``"kind": "divergence_warning"`` in ``bundle.json``, the warning's
``DivergenceReport`` in ``report.json`` and the state *after* the warning step in ``state.npz``;
``nantrace report`` renders it, ``--replay`` refuses it (nothing tripped).

**Atomic**: the folder is assembled under a hidden staging name in the same parent (files
fsync'ed, ``bundle.json`` then ``bundle.sha256`` last) and renamed into place with one
``os.replace``. A crash, an exception or ``kill -9`` during the write leaves either no bundle or a
complete one; a stale staging folder of a dead process *on this host* is removed by the next
write (the staging name records the host and pid, so a shared file system's other hosts are left
alone).

**Private**: a bundle may hold raw training data, so its files are created 0600 and its folders
0700 (``os.open`` / ``mkdtemp`` modes; the process umask is never changed).

**Checked on load**: ``bundle.sha256`` (the SHA-256 of ``bundle.json``, ``sha256sum`` format)
sits outside the file it protects; ``load_bundle`` refuses a manifest that does not match it,
every file name the manifest lists must be a plain file directly inside the bundle folder (no
path, no ``..``, no symbolic link), and each file's size and SHA-256 are checked before it is
read. This catches damage and careless edits, not a deliberate forger who rewrites both files:
that is why replay also needs the user's explicit trust.

``replay_bundle(bundle, trust=True)`` (``nantrace report --replay --trust``) rebuilds the
tripping step in another process: it imports the step's module *file* recorded at write time
(only if its SHA-256 still matches, and executing exactly the bytes it hashed), checks that the
recorded qualified name names that very step function, and calls it with the tensors, arrays and
numbers decoded from the bundle; a ``model.fit`` model is rebuilt from ``model.json`` in Keras
safe mode (no Python code from the bundle is deserialized). Without ``trust`` nothing is
imported. docs/report.md describes the layout, the version policy and the limits of replay.

This module imports neither TensorFlow nor Keras at import time: ``nantrace report`` reads
bundles without them. Writing, and ``replay_bundle``, import them when called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from nantrace.errors import NantraceError
from nantrace.records import Report
from nantrace.warning_records import WARNING_KIND, DivergenceReport

#: The layout written by this nantrace. ``load_bundle`` refuses any other version.
BUNDLE_VERSION = 1
MANIFEST = "bundle.json"
REPORT = "report.json"
STATE = "state.npz"
BATCHES = "batches.npz"
HISTORY = "history.npz"
MODEL = "model.json"
ANCHOR = "anchor.npz"
#: The SHA-256 of ``bundle.json`` (``sha256sum`` format): written last, checked on load before
#: the manifest is used.
CHECKSUM = "bundle.sha256"
#: Prefix of a bundle being written (``.staging-<pid>-<host>-<random>``); never a finished one.
STAGING_PREFIX = ".staging-"
#: Bundle files are private to the user who wrote them (they may hold raw training data).
FILE_MODE, DIR_MODE = 0o600, 0o700

#: A file name a manifest may list: a plain name directly inside the bundle folder.
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

#: numpy dtype kinds ``np.load(allow_pickle=False)`` reads back as they are; anything else
#: (bfloat16 and the other ml_dtypes, object arrays) is stored converted and cast back on load.
_PLAIN_KINDS = frozenset("biufc?")


class BundleError(NantraceError):
    """A path that is not a readable crash bundle: the message says what and how to fix it."""


# -- writing -----------------------------------------------------------------------------------
def write_bundle(
    watched: Any, report: Report, args: tuple, kwargs: dict, bundle_dir: str
) -> Report:
    """Write the crash bundle of a tripped step under ``bundle_dir``; return the report with
    ``report.bundle`` set to the new folder.

    Called by ``Watched._on_trip`` after the diagnosis, when the variables hold their pre-step
    values again. A failure to write (disk full, a variable that cannot be read) never hides the
    diagnosis: the report is returned with ``bundle=None`` and a note saying why, and no partial
    bundle is left behind.
    """
    try:
        return _write(watched, report, args, kwargs, bundle_dir)
    except Exception as error:  # the NonFiniteError the user is about to get matters more
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        note = (
            f"the crash bundle could not be written to {bundle_dir!r}: "
            f"{type(error).__name__}: {text[:200]}"
        )
        return dataclasses.replace(report, bundle=None, notes=(*report.notes, note))


def write_warning_bundle(
    watched: Any, report: DivergenceReport, args: tuple, kwargs: dict, bundle_dir: str
) -> DivergenceReport:
    """Write the bundle of an early warning (``warning-NNNNNN-YYYYmmdd-HHMMSS``) under
    ``bundle_dir``; return the report with ``report.bundle`` set.

    The same layout, atomicity, privacy and checksums as a crash bundle; ``bundle.json`` says
    ``"kind": "divergence_warning"``, and ``state.npz`` holds the state *after* the warning
    step (nothing was rolled back). ``nantrace report`` renders it like a crash bundle; it is
    not replayed (nothing tripped). A failure to write is a note on the report, never raised.
    """
    return write_bundle(watched, report, args, kwargs, bundle_dir)  # type: ignore[arg-type]


def _is_warning(report: Any) -> bool:
    return getattr(report, "kind", None) == WARNING_KIND


def _step_of(report: Any) -> int:
    """The step a report is about: the tripping step, or the warning step."""
    return int(report.step) if _is_warning(report) else int(report.trip.step)


def _write(watched: Any, report: Report, args: tuple, kwargs: dict, bundle_dir: str) -> Report:
    bundle_dir = os.path.abspath(bundle_dir)
    os.makedirs(bundle_dir, mode=DIR_MODE, exist_ok=True)  # an existing folder keeps its mode
    sweep_stale_staging(bundle_dir)
    prefix = "warning" if _is_warning(report) else "step"
    name = f"{prefix}-{_step_of(report):06d}-{time.strftime('%Y%m%d-%H%M%S')}"
    final = _free_name(bundle_dir, name)
    # mkdtemp creates the folder 0700, which is what a bundle keeps after the rename.
    staging = tempfile.mkdtemp(prefix=_staging_prefix(), dir=bundle_dir)
    try:
        report = dataclasses.replace(report, bundle=final)
        manifest = _fill_staging(staging, watched, report, args, kwargs)
        while True:
            _seal(staging, manifest)
            _fsync_dir(staging)
            try:
                _rename_dir(staging, final)
                break
            except FileExistsError:  # another writer took the name between check and rename
                final = _free_name(bundle_dir, name)
                report = dataclasses.replace(report, bundle=final)
                manifest["contents"][0] = _write_file(staging, REPORT, report.to_json())
        _fsync_dir(bundle_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _seal(staging: str, manifest: dict[str, Any]) -> None:
    """Write ``bundle.json``, then ``bundle.sha256`` (its checksum, kept outside it) last."""
    entry = _write_file(staging, MANIFEST, json.dumps(manifest, indent=2, default=_json_default))
    _write_file(staging, CHECKSUM, f"{entry['sha256']}  {MANIFEST}\n")


def _host_tag() -> str:
    """This host in a staging folder's name: readable, without ``-`` (the field separator),
    and a hash of the full name so that two hosts never share a tag."""
    host = socket.gethostname() or "localhost"
    readable = re.sub(r"[^A-Za-z0-9.]", "_", host)[:40]
    return f"{readable}.{hashlib.sha256(host.encode('utf-8')).hexdigest()[:8]}"


def _staging_prefix() -> str:
    return f"{STAGING_PREFIX}{os.getpid()}-{_host_tag()}-"


def _free_name(parent: str, name: str) -> str:
    target, suffix = os.path.join(parent, name), 0
    while os.path.lexists(target):
        suffix += 1
        target = os.path.join(parent, f"{name}-{suffix}")
    return target


def _rename_dir(source: str, target: str) -> None:
    """``os.replace`` of a folder onto a name nobody holds (it would silently replace an
    existing *empty* folder, so refuse any existing one)."""
    if os.path.lexists(target):
        raise FileExistsError(target)
    os.replace(source, target)


def sweep_stale_staging(bundle_dir: str) -> list[str]:
    """Remove staging folders left by writers that died (``kill -9``, power loss).

    Only this host's own (the name records host and pid) and only when that pid is not running
    here: on a shared file system another host's bundle in progress is never touched, nor a
    staging folder whose name does not say who wrote it.
    """
    removed: list[str] = []
    try:
        entries = os.listdir(bundle_dir)
    except OSError:
        return removed
    host = _host_tag()
    for entry in entries:
        if not entry.startswith(STAGING_PREFIX):
            continue
        fields = entry[len(STAGING_PREFIX) :].split("-")
        if len(fields) != 3 or not fields[0].isdigit() or fields[1] != host:
            continue
        pid = int(fields[0])
        path = os.path.join(bundle_dir, entry)
        if pid == os.getpid() or _alive(pid) or os.path.islink(path) or not os.path.isdir(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def _fill_staging(
    staging: str, watched: Any, report: Report, args: tuple, kwargs: dict
) -> dict[str, Any]:
    """Write every file but the manifest; return the manifest."""
    import platform

    import nantrace

    manifest: dict[str, Any] = {
        "bundle_version": BUNDLE_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "step": _step_of(report),
        "headline": report.headline(),
        "versions": {
            "nantrace": nantrace.__version__,
            "python": platform.python_version(),
            **_framework_versions(),
        },
        "contents": [],
        "state": None,
        "batches": None,
        "history": None,
        "anchor": None,
        "model": None,
        "function": None,
    }
    if _is_warning(report):  # the state is the one after the warning step: nothing tripped
        manifest["kind"] = WARNING_KIND
    contents: list[dict[str, Any]] = manifest["contents"]
    contents.append(_write_file(staging, REPORT, report.to_json()))
    if watched is None:
        return manifest

    from nantrace.replay import step_variables

    variables = _unique(step_variables(watched))
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for index, variable in enumerate(variables):
        key = f"v{index:05d}"
        value, stored_as = _storable(variable.numpy())
        arrays[key] = value
        entries.append(
            {
                "key": key,
                "name": variable.name,
                "dtype": variable.dtype.name,
                "shape": [int(d) for d in variable.shape],
                "trainable": bool(variable.trainable),
                "stored_as": stored_as,
            }
        )
    contents.append(_write_npz(staging, STATE, arrays))
    manifest["state"] = {"file": STATE, "variables": entries}

    batch_arrays: dict[str, np.ndarray] = {}
    encoder = _BatchEncoder(batch_arrays)
    trip_spec = encoder.encode({"args": list(args), "kwargs": dict(kwargs)})
    recent_specs = [
        encoder.encode({"args": list(a), "kwargs": dict(k)}) for a, k in list(watched.recent)
    ]
    anchor = getattr(watched, "anchor", None)
    since = list(getattr(watched, "since_anchor", [])) if anchor is not None else []
    since_specs = [encoder.encode({"args": list(a), "kwargs": dict(k)}) for a, k in since]
    contents.append(_write_npz(staging, BATCHES, batch_arrays))
    manifest["batches"] = {
        "file": BATCHES,
        "trip": trip_spec,
        "recent": recent_specs,
        "since_anchor": since_specs,
        "replayable": not encoder.unsupported,
        "unsupported": sorted(set(encoder.unsupported)),
    }
    if anchor is not None and getattr(anchor, "values", None):
        # The last anchor (a host copy of the state some steps before the trip) and the batches
        # run since: learning-rate and clipping fixes are verified from there, as in the run.
        key_of = {
            id(variable): entry["key"] for variable, entry in zip(variables, entries, strict=True)
        }
        anchor_arrays = {
            key_of[id(variable)]: _storable(value)[0]
            for variable, value in anchor.values
            if id(variable) in key_of
        }
        contents.append(_write_npz(staging, ANCHOR, anchor_arrays))
        manifest["anchor"] = {
            "file": ANCHOR,
            "step": _anchor_step(report, since, args, kwargs),
            "variables": len(anchor_arrays),
        }

    record = watched.history.read() if getattr(watched, "history", None) is not None else None
    if record is not None and len(record):
        contents.append(
            _write_npz(
                staging,
                HISTORY,
                {
                    "steps": np.asarray(record.steps, dtype=np.int64),
                    "loss": np.asarray(record.loss, dtype=np.float32),
                    "grad_norm": np.asarray(record.grad_norm, dtype=np.float32),
                    "weight_norm": np.asarray(record.weight_norm, dtype=np.float32),
                    "names": np.asarray(record.names, dtype=np.str_),
                },
            )
        )
        manifest["history"] = {"file": HISTORY, "rows": len(record)}

    configs = _model_configs(watched)
    if configs:
        contents.append(
            _write_file(staging, MODEL, json.dumps(configs, indent=2, default=_json_default))
        )
        manifest["model"] = {
            "file": MODEL,
            "class_name": (configs.get("model") or {}).get("class_name"),
            "error": configs.get("model_error"),
        }
    manifest["function"] = function_reference(watched)
    return manifest


def _anchor_step(report: Any, since: list[Any], args: tuple, kwargs: dict) -> int:
    """The step the anchor was taken before. A trip's batches since the anchor stop before the
    tripping step; a warning's may already end with the warning step's own batch."""
    if not _is_warning(report):
        return _step_of(report) - len(since)
    from nantrace.verify_warning import _same_batch

    included = bool(since) and _same_batch(since[-1], (args, kwargs))
    return _step_of(report) + int(included) - len(since)


def _framework_versions() -> dict[str, str]:
    versions = {}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "?"))
    return versions


def _unique(variables: list[Any]) -> list[Any]:
    seen: set[int] = set()
    out = []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            out.append(variable)
    return out


def _storable(value: Any) -> tuple[np.ndarray, str | None]:
    """An array ``np.load(allow_pickle=False)`` can read, and what it was converted to."""
    array = np.asarray(value)
    if array.dtype.kind in _PLAIN_KINDS:
        return array, None
    if array.dtype.kind == "O":  # tf.string: an object array of bytes
        return np.asarray(array.tolist(), dtype=np.bytes_).reshape(array.shape), "bytes"
    if array.dtype.kind in "SU":
        return array, None
    return array.astype(np.float32), "float32"  # bfloat16, float8, ... (ml_dtypes)


def _create(path: str) -> int:
    """A file descriptor for writing ``path``, created 0600 (the umask can only remove bits, so
    it is never touched) and never through a symbolic link."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, FILE_MODE)


def _write_file(staging: str, name: str, text: str) -> dict[str, Any]:
    data = text.encode("utf-8")
    with os.fdopen(_create(os.path.join(staging, name)), "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _write_npz(staging: str, name: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    path = os.path.join(staging, name)
    with os.fdopen(_create(path), "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    return {"name": name, "bytes": os.path.getsize(path), "sha256": _sha256(path)}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system can fsync a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _BatchEncoder:
    """Nested args/kwargs → a JSON structure whose array leaves point into one npz.

    Leaves: ``{"t": "array", "key", "kind": "tensor"|"ndarray", "dtype", "stored_as"}`` for
    tensors, variables and arrays; ``{"t": "value", "value"}`` for JSON scalars and None;
    ``{"t": "unsupported", "type"}`` for what a bundle cannot hold (ragged or sparse tensors,
    arbitrary objects), which makes the bundle non-replayable but keeps it readable.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.unsupported: list[str] = []
        self._stored: dict[int, tuple[Any, dict[str, Any]]] = {}

    def encode(self, value: Any) -> dict[str, Any]:
        """The spec of ``value``; a tensor already stored (a batch both recent and since the
        anchor) is stored once and referenced twice."""
        known = self._stored.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        spec = self._encode(value)
        if spec["t"] == "array":
            self._stored[id(value)] = (value, spec)
        return spec

    def _encode(self, value: Any) -> dict[str, Any]:
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"t": "value", "value": value}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                return self._unsupported(value)
            return {"t": "dict", "items": {k: self.encode(v) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {"t": kind, "items": [self.encode(v) for v in value]}
        if isinstance(value, (np.ndarray, np.generic)):
            return self._array(np.asarray(value), "ndarray", str(np.asarray(value).dtype))
        type_name = type(value).__name__
        if type_name in ("RaggedTensor", "SparseTensor", "IndexedSlices"):
            return self._unsupported(value)
        numpy = getattr(value, "numpy", None)
        dtype = getattr(value, "dtype", None)
        if callable(numpy) and dtype is not None:  # tf.Tensor, tf.Variable, Keras variable
            return self._array(np.asarray(numpy()), "tensor", getattr(dtype, "name", str(dtype)))
        return self._unsupported(value)

    def _array(self, array: np.ndarray, kind: str, dtype: str) -> dict[str, Any]:
        key = f"b{len(self.arrays):05d}"
        stored, stored_as = _storable(array)
        self.arrays[key] = stored
        return {"t": "array", "key": key, "kind": kind, "dtype": dtype, "stored_as": stored_as}

    def _unsupported(self, value: Any) -> dict[str, Any]:
        self.unsupported.append(type(value).__name__)
        return {"t": "unsupported", "type": type(value).__name__}


def _model_configs(watched: Any) -> dict[str, Any]:
    """Serialized configs of the Keras model and optimizers, where reachable (best effort)."""
    keras = sys.modules.get("keras")
    if keras is None:
        return {}
    out: dict[str, Any] = {}
    model = find_model(watched)
    if model is not None:
        try:
            out["model"] = keras.saving.serialize_keras_object(model)
        except Exception as error:  # subclassed models without get_config
            out["model"] = {"class_name": type(model).__name__, "config": None}
            out["model_error"] = f"{type(error).__name__}: {str(error)[:200]}"
    optimizers = []
    for optimizer in getattr(watched, "optimizers", []):
        try:
            optimizers.append(keras.saving.serialize_keras_object(optimizer))
        except Exception:
            optimizers.append({"class_name": type(optimizer).__name__, "config": None})
    if optimizers:
        out["optimizers"] = optimizers
    return out


def find_model(watched: Any) -> Any:
    """The Keras model of a watched step: the ``model=`` hint, the model a bound
    ``Model.train_step`` belongs to, or a model the step function names (global or closure)."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    if isinstance(getattr(watched, "model", None), keras.Model):
        return watched.model
    fn = getattr(watched, "python_fn", None)
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, keras.Model):
        return owner
    try:
        import inspect

        names = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return None
    candidates = [
        value
        for value in (*names.nonlocals.values(), *names.globals.values())
        if isinstance(value, keras.Model)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda m: sum(int(np.prod(v.shape)) for v in m.variables))


def function_reference(watched: Any) -> dict[str, Any]:
    """How to import the step function again: ``module``, ``qualname``, whether that import
    gives back this very function, and if not, why (a script's ``__main__``, a closure...)."""
    fn = getattr(watched, "python_fn", None)
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    ref: dict[str, Any] = {
        "module": module,
        "qualname": qualname,
        "compiled": bool(getattr(watched, "compiled", False)),
        "jit_compile": bool(getattr(watched, "jit_compile", False)),
        "importable": False,
        "reason": None,
        "file": None,
        "sha256": None,
        "import_root": None,
        "keras_train_step": False,
    }
    try:
        import inspect

        source = inspect.getsourcefile(fn)
    except (TypeError, OSError):
        source = None
    if source and os.path.isfile(source):
        # the one file replay may import, and its checksum: replay refuses it once it changed
        ref["file"] = os.path.abspath(source)
        ref["sha256"] = _sha256(ref["file"])
    if module and ref["file"] and module != "__main__":
        ref["import_root"] = _import_root(ref["file"], module)
    owner = getattr(fn, "__self__", None)
    keras = sys.modules.get("keras")
    ref["keras_train_step"] = bool(
        keras is not None
        and isinstance(owner, keras.Model)
        and getattr(fn, "__name__", "") == "train_step"
    )
    ref["reason"] = _not_importable_reason(fn, module, qualname)
    ref["importable"] = ref["reason"] is None
    return ref


def _import_root(file: str, module: str) -> str:
    """The folder on ``sys.path`` from which ``file`` imports as ``module``."""
    depth = module.count(".") + 1
    root = os.path.dirname(os.path.abspath(file))
    if os.path.basename(file) == "__init__.py":
        depth += 1
    for _ in range(depth - 1):
        root = os.path.dirname(root)
    return root


def _not_importable_reason(fn: Any, module: str | None, qualname: str | None) -> str | None:
    if fn is None or not module or not qualname:
        return "the step function has no module or qualified name"
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        return (
            f"the step is a bound method of a {type(owner).__name__} object "
            f"({qualname}); a method of one object cannot be imported by name"
        )
    if module == "__main__":
        return (
            f"{qualname} is defined in __main__ (a script run directly); move the step, model "
            "and optimizer into an importable module to replay it in another process"
        )
    if "<locals>" in qualname or "<lambda>" in qualname:
        return (
            f"{module}:{qualname} is defined inside another function (a closure or lambda); "
            "define the step at module level to replay it in another process"
        )
    loaded = sys.modules.get(module)
    if loaded is None:
        return f"module {module} is not imported under that name"
    obj: Any = loaded
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return f"{module}:{qualname} does not name the step function"
    if unwrap_step(obj) is not fn:
        return f"{module}:{qualname} names another object than the watched step function"
    return None


def unwrap_step(obj: Any) -> Any:
    """The Python function under a ``Watched``, a ``tf.function`` or ``functools.wraps``."""
    for _ in range(8):
        inner = getattr(obj, "python_fn", None)  # nantrace.Watched
        if inner is None:
            inner = getattr(obj, "python_function", None)  # tf.function
        if inner is None:
            inner = getattr(obj, "__wrapped__", None)
        if inner is None or inner is obj:
            return obj
        obj = inner
    return obj


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


# -- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedVariable:
    """One variable of the pre-step state, as the bundle holds it."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    trainable: bool
    value: np.ndarray
    key: str = ""


@dataclass(frozen=True)
class Bundle:
    """A crash bundle read back from disk.

    Attributes:
        path: the bundle folder.
        version: its ``bundle_version``.
        manifest: ``bundle.json`` as a dict.
        report: the report the tripping step produced.

    Arrays are read on demand (``state()``, ``batch()``, ``recent()``, ``history()``), each
    file's SHA-256 checked against the manifest first.
    """

    path: str
    version: int
    manifest: dict[str, Any]
    report: Report | DivergenceReport

    @property
    def function(self) -> dict[str, Any] | None:
        return self.manifest.get("function")

    @property
    def files(self) -> list[str]:
        return [entry["name"] for entry in self.manifest.get("contents", [])]

    def state(self) -> list[SavedVariable]:
        section = self.manifest.get("state")
        if not section:
            return []
        with self._npz(section["file"]) as data:
            out = []
            for entry in section["variables"]:
                value = data[entry["key"]]
                out.append(
                    SavedVariable(
                        name=entry["name"],
                        dtype=entry["dtype"],
                        shape=tuple(entry["shape"]),
                        trainable=bool(entry.get("trainable", False)),
                        value=value,
                        key=entry["key"],
                    )
                )
            return out

    def batch(self, as_tensors: bool = False) -> tuple[tuple, dict]:
        """The tripping batch as ``(args, kwargs)``: numpy arrays, or tf tensors where the step
        got tensors when ``as_tensors`` (needs TensorFlow)."""
        section = self._batches_section()
        with self._npz(section["file"]) as data:
            return _decode_call(section["trip"], data, as_tensors)

    def recent(self, as_tensors: bool = False) -> list[tuple[tuple, dict]]:
        section = self._batches_section()
        with self._npz(section["file"]) as data:
            return [_decode_call(spec, data, as_tensors) for spec in section["recent"]]

    def since_anchor(self, as_tensors: bool = False) -> list[tuple[tuple, dict]]:
        """The batches run between the anchor and the tripping step, oldest first."""
        section = self._batches_section()
        with self._npz(section["file"]) as data:
            return [
                _decode_call(spec, data, as_tensors) for spec in section.get("since_anchor", [])
            ]

    def anchor(self) -> dict[str, np.ndarray] | None:
        """The anchor state: state-variable key → value (None when the run kept no anchor)."""
        section = self.manifest.get("anchor")
        if not section:
            return None
        with self._npz(section["file"]) as data:
            return {key: data[key] for key in data.files}

    def history(self) -> dict[str, np.ndarray] | None:
        section = self.manifest.get("history")
        if not section:
            return None
        with self._npz(section["file"]) as data:
            return {key: data[key] for key in data.files}

    def model_config(self) -> dict[str, Any] | None:
        section = self.manifest.get("model")
        if not section:
            return None
        return json.loads(self._read_checked(section["file"]).decode("utf-8"))

    def describe(self) -> str:
        """One line: what the bundle holds."""
        state = self.manifest.get("state") or {}
        batches = self.manifest.get("batches") or {}
        fn = self.function or {}
        where = f"{fn.get('module')}:{fn.get('qualname')}" if fn.get("module") else "unknown"
        if fn.get("keras_train_step"):
            model = (self.manifest.get("model") or {}).get("class_name") or "model"
            return (
                f"bundle v{self.version}, step {self.manifest.get('step')}: "
                f"{len(state.get('variables', []))} variables, "
                f"1 + {len(batches.get('recent', []))} batches, model.fit train_step of a "
                f"{model} (rebuilt from model.json on replay)"
            )
        return (
            f"bundle v{self.version}, step {self.manifest.get('step')}: "
            f"{len(state.get('variables', []))} variables, "
            f"1 + {len(batches.get('recent', []))} batches, step function {where}"
            + ("" if fn.get("importable") else " (not importable)")
        )

    # -- internals ---------------------------------------------------------------------------
    def _batches_section(self) -> dict[str, Any]:
        section = self.manifest.get("batches")
        if not section:
            raise BundleError(f"{self.path} holds no batches (a report-only bundle)")
        return section

    def _entry(self, name: str) -> dict[str, Any]:
        for entry in self.manifest.get("contents", []):
            if entry.get("name") == name:
                return entry
        raise BundleError(f"{self.path}: {name} is not listed in {MANIFEST}; the bundle is damaged")

    def _read_checked(self, name: str) -> bytes:
        entry = self._entry(_member_name(self.path, name))
        data = _read_member(self.path, name)
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise BundleError(
                f"{os.path.join(self.path, name)} does not match its checksum in {MANIFEST}; "
                "the bundle is damaged (copy it again from where it was written)"
            )
        return data

    @contextlib.contextmanager
    def _npz(self, name: str) -> Any:
        import io

        data = self._read_checked(name)
        try:
            archive = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as error:
            raise BundleError(
                f"{os.path.join(self.path, name)} cannot be read ({type(error).__name__}); "
                "the bundle is damaged"
            ) from None
        with archive:
            yield archive


def load_bundle(path: str) -> Bundle:
    """Read a crash bundle folder (or its ``bundle.json``). Raises :class:`BundleError` with a
    one-line message for a missing path, a folder that is not a bundle, a bundle of another
    version, a manifest that does not match ``bundle.sha256``, a listed file that is not a plain
    file inside the folder, or missing / truncated / damaged files. Nothing is imported or run."""
    if not os.path.exists(path):
        raise BundleError(f"no such bundle: {path!r} does not exist")
    folder = path
    if os.path.isfile(path):
        if os.path.basename(path) != MANIFEST:
            raise BundleError(
                f"{path!r} is a file, not a crash bundle; pass the bundle folder (the one "
                f"holding {MANIFEST}) that watch(bundle_dir=...) wrote"
            )
        folder = os.path.dirname(path) or "."
    folder = os.path.abspath(folder)
    manifest_path = os.path.join(folder, MANIFEST)
    if not os.path.lexists(manifest_path):
        inside = list_bundles(folder)
        if inside:
            raise BundleError(
                f"{path!r} holds {len(inside)} crash bundle(s), not one; pass one of them, "
                f"e.g. {inside[-1]}"
            )
        raise BundleError(
            f"{path!r} is not a nantrace crash bundle (no {MANIFEST}); pass a folder written "
            "by watch(bundle_dir=...)"
        )
    raw = _read_member(folder, MANIFEST)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BundleError(
            f"{manifest_path} is not valid JSON; the bundle is truncated or damaged"
        ) from None
    if not isinstance(manifest, dict) or "bundle_version" not in manifest:
        raise BundleError(f"{manifest_path} has no bundle_version; it is not a nantrace bundle")
    version = manifest["bundle_version"]
    if version != BUNDLE_VERSION:
        raise BundleError(
            f"{folder} is a version-{version} crash bundle; this nantrace reads version "
            f"{BUNDLE_VERSION} only (upgrade nantrace to read newer bundles)"
        )
    _check_manifest_checksum(folder, raw)
    contents = manifest.get("contents", [])
    if not isinstance(contents, list) or not all(isinstance(e, dict) for e in contents):
        raise BundleError(f"{manifest_path} has no valid contents list; the bundle is damaged")
    for entry in contents:
        name = _member_name(folder, entry.get("name"))
        size = _member_size(folder, name)
        if size != entry.get("bytes"):
            raise BundleError(
                f"{os.path.join(folder, name)} is truncated or damaged ({size} bytes, the "
                f"manifest says {entry.get('bytes')}); the bundle cannot be read"
            )
    shell = Bundle(path=folder, version=version, manifest=manifest, report=None)  # type: ignore[arg-type]
    try:
        data = json.loads(shell._read_checked(REPORT).decode("utf-8"))
        if manifest.get("kind") == WARNING_KIND or (
            isinstance(data, dict) and data.get("kind") == WARNING_KIND
        ):
            report: Report | DivergenceReport = DivergenceReport.from_dict(data)
        else:
            report = Report.from_dict(data)
    except BundleError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise BundleError(f"{os.path.join(folder, REPORT)} cannot be read: {error}") from None
    return dataclasses.replace(shell, report=report)


def _check_manifest_checksum(folder: str, raw: bytes) -> None:
    """``bundle.json`` must match ``bundle.sha256``, the checksum kept outside it."""
    if not os.path.lexists(os.path.join(folder, CHECKSUM)):
        raise BundleError(
            f"{os.path.join(folder, CHECKSUM)} is missing, so {MANIFEST} cannot be checked; the "
            "bundle is incomplete, was edited, or was written by an older nantrace"
        )
    text = _read_member(folder, CHECKSUM)[:200].decode("ascii", "replace").split()
    expected = text[0].lower() if text else ""
    if not _SHA256.fullmatch(expected) or text[1:] != [MANIFEST]:
        raise BundleError(
            f"{os.path.join(folder, CHECKSUM)} is not a sha256sum line for {MANIFEST}; the "
            "bundle is damaged"
        )
    if hashlib.sha256(raw).hexdigest() != expected:
        raise BundleError(
            f"{os.path.join(folder, MANIFEST)} does not match {CHECKSUM}: the manifest was edited "
            "or damaged after it was written; refusing to read it"
        )


def _member_name(folder: str, name: Any) -> str:
    """A manifest's file name, accepted only as a plain name directly inside the bundle folder
    (no separator, no ``..``, no hidden or absolute path): a manifest cannot point outside it."""
    if not isinstance(name, str) or not _MEMBER_NAME.fullmatch(name) or ".." in name:
        shown = repr(name)[:80]
        raise BundleError(
            f"{os.path.join(folder, MANIFEST)} lists {shown}, which is not a plain file name "
            "inside the bundle folder; refusing to read it (the manifest was edited or damaged)"
        )
    if name in (MANIFEST, CHECKSUM):
        raise BundleError(
            f"{os.path.join(folder, MANIFEST)} lists {name} as a content file; the manifest was "
            "edited or damaged"
        )
    return name


def _open_member(folder: str, name: str) -> int:
    """A read-only descriptor of the plain file ``name`` directly inside ``folder``: a symbolic
    link (even one pointing inside), a folder, a FIFO or a device is refused, and nothing about
    what such an entry points to goes into the message."""
    path = os.path.join(folder, name)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise BundleError(f"{path} is missing; the bundle is incomplete") from None
    except OSError as error:
        if os.path.islink(path):
            raise BundleError(
                f"{path} is a symbolic link; a bundle holds plain files only, refusing to follow it"
            ) from None
        raise BundleError(f"{path} cannot be opened ({error.strerror or error})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BundleError(f"{path} is not a plain file; a bundle holds plain files only")
    return fd


def _member_size(folder: str, name: str) -> int:
    fd = _open_member(folder, name)
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def _read_member(folder: str, name: str) -> bytes:
    with os.fdopen(_open_member(folder, name), "rb") as handle:
        return handle.read()


def list_bundles(bundle_dir: str) -> list[str]:
    """Finished bundles under ``bundle_dir``, oldest first (staging folders excluded)."""
    try:
        entries = sorted(os.listdir(bundle_dir))
    except OSError:
        return []
    return [
        os.path.join(bundle_dir, entry)
        for entry in entries
        if not entry.startswith(".") and os.path.isfile(os.path.join(bundle_dir, entry, MANIFEST))
    ]


def _decode_call(spec: dict[str, Any], data: Any, as_tensors: bool) -> tuple[tuple, dict]:
    call = _decode(spec, data, as_tensors)
    return tuple(call["args"]), dict(call["kwargs"])


def _decode(spec: dict[str, Any], data: Any, as_tensors: bool) -> Any:
    kind = spec["t"]
    if kind == "value":
        return spec["value"]
    if kind == "list":
        return [_decode(s, data, as_tensors) for s in spec["items"]]
    if kind == "tuple":
        return tuple(_decode(s, data, as_tensors) for s in spec["items"])
    if kind == "dict":
        return {k: _decode(s, data, as_tensors) for k, s in spec["items"].items()}
    if kind == "array":
        array = data[spec["key"]]
        if spec.get("stored_as") == "bytes":
            array = array.astype(object)
        if as_tensors and spec.get("kind") == "tensor":
            import tensorflow as tf

            return tf.constant(array, dtype=tf.as_dtype(spec["dtype"]))
        if spec.get("stored_as") == "float32" and spec.get("kind") == "ndarray":
            with contextlib.suppress(TypeError):
                array = array.astype(spec["dtype"])
        return array
    raise BundleError(
        f"the bundle's batch holds a {spec.get('type', kind)}, which a bundle cannot store; "
        "it can be re-rendered but not replayed"
    )


# -- replay ------------------------------------------------------------------------------------
def replay_target(bundle: Bundle) -> str:
    """What replaying ``bundle`` would import and run, in words (for the refusal without trust).

    Raises :class:`BundleError` when the bundle cannot be replayed at all (a closure, a batch a
    bundle cannot store), so that the user is not asked to trust a replay that cannot happen.
    """
    if _is_warning(bundle.report):
        raise BundleError(
            f"cannot replay: {bundle.path} is an early-warning bundle (nothing tripped, and its "
            "state is the one after the warning step); render it without --replay"
        )
    ref = bundle.function or {}
    keras_fit = not ref.get("importable") and ref.get("keras_train_step")
    if not ref.get("importable") and not keras_fit:
        raise BundleError(
            "cannot replay: "
            + (ref.get("reason") or "the bundle does not say how to import the step function")
        )
    batches = bundle.manifest.get("batches") or {}
    if not batches.get("replayable", False):
        raise BundleError(
            "cannot replay: the tripping batch holds "
            + ", ".join(str(u) for u in batches.get("unsupported") or ["values"])
            + ", which a bundle cannot store"
        )
    if keras_fit:
        model = (bundle.manifest.get("model") or {}).get("class_name") or "model"
        return f"rebuild the {model} described in {MODEL} (Keras safe mode) and run its train_step"
    return (
        f"import and run {ref.get('file')} (as module {ref.get('module')}) and call its "
        f"{ref.get('qualname')}"
    )


def check_replay(bundle: Bundle, trust: bool) -> None:
    """Everything that can be checked before anything is imported: the bundle is replayable,
    the user trusts it, the step's module file is unchanged, the batches hold only data."""
    target = replay_target(bundle)
    if not trust:
        raise BundleError(
            f"refusing to replay an untrusted bundle: --replay would {target}, as its "
            f"{MANIFEST} says; pass --trust (trust=True in Python) if you trust this bundle"
        )
    batches = bundle.manifest.get("batches") or {}
    for spec in (
        batches.get("trip"),
        *(batches.get("recent") or []),
        *(batches.get("since_anchor") or []),
    ):
        _check_data_only(spec)
    ref = bundle.function or {}
    if ref.get("importable"):
        _step_source(ref)


def _check_data_only(spec: Any) -> None:
    """Replay hands the step tensors, arrays and numbers only: no strings (a command line), no
    structure this nantrace does not write."""
    if not isinstance(spec, dict):
        raise BundleError("cannot replay: the bundle's batch structure is damaged")
    kind = spec.get("t")
    if kind == "value":
        value = spec.get("value")
        if value is not None and not isinstance(value, (bool, int, float)):
            raise BundleError(
                f"cannot replay: the bundle's batch holds a {type(value).__name__} value; "
                "replay passes only tensors, arrays and numbers to the step"
            )
    elif kind in ("list", "tuple"):
        for item in spec.get("items") or []:
            _check_data_only(item)
    elif kind == "dict":
        for item in (spec.get("items") or {}).values():
            _check_data_only(item)
    elif kind != "array":
        raise BundleError(
            f"cannot replay: the bundle's batch holds a {spec.get('type', kind)}, which replay "
            "does not pass to the step"
        )


def _step_source(ref: dict[str, Any]) -> bytes:
    """The bytes of the step's module file, only if its SHA-256 is the one recorded at write
    time (those very bytes are then executed, so the file cannot change in between)."""
    module, qualname, file = ref.get("module"), ref.get("qualname"), ref.get("file")
    recorded = ref.get("sha256")
    if not (isinstance(module, str) and _DOTTED_NAME.fullmatch(module)) or not (
        isinstance(qualname, str) and _DOTTED_NAME.fullmatch(qualname)
    ):
        raise BundleError(
            f"cannot replay: {str(module)[:60]}:{str(qualname)[:60]} is not a module and function "
            "name; the bundle is damaged"
        )
    if not isinstance(file, str) or not os.path.isabs(file) or not file.endswith(".py"):
        raise BundleError(
            "cannot replay: the bundle records no absolute path of the step's .py module file"
        )
    if not (isinstance(recorded, str) and _SHA256.fullmatch(recorded)):
        raise BundleError(
            f"cannot replay: the bundle records no sha256 of {file} (written by an older "
            "nantrace), so it cannot check that file is the one that ran"
        )
    try:
        with open(file, "rb") as handle:
            source = handle.read()
    except FileNotFoundError:
        raise BundleError(
            f"cannot replay: the step's module file {file} is missing (moved or deleted since "
            "the bundle was written)"
        ) from None
    except OSError as error:
        raise BundleError(f"cannot replay: {file} cannot be read ({error.strerror})") from None
    now = hashlib.sha256(source).hexdigest()
    if now != recorded:
        raise BundleError(
            f"cannot replay: {file} changed since the bundle was written (sha256 {now[:12]}..., "
            f"recorded {recorded[:12]}...); restore the file as it was when the step tripped"
        )
    return source


@dataclass(frozen=True)
class ReplayOutcome:
    """What ``replay_bundle`` found.

    Attributes:
        report: the new report when the rebuilt step tripped again, else None.
        notes: what the rebuild did (restored variables, unmatched ones, history).
    """

    report: Report | None
    notes: tuple[str, ...]


def replay_bundle(bundle: Bundle, verify: bool = True, *, trust: bool = False) -> ReplayOutcome:
    """Rebuild the tripping step from ``bundle`` in this process and run it again.

    Needs ``trust=True``: without it nothing is imported (:class:`BundleError` says what would
    be). Imports the step's module file recorded at write time (refused if its SHA-256 changed;
    its module builds the model and optimizer) and calls only the function at the recorded
    qualified name, once it is checked to be a Python function of that file; a ``model.fit``
    model is rebuilt from ``model.json`` in Keras safe mode instead. It runs the step once on a
    healthy batch to create every variable it touches (optimizer slots included), restores the
    bundle's pre-step state into them, then runs the step under a fresh :func:`nantrace.watch`
    on the tripping batch. The recent healthy batches are handed to verification, the history
    is re-recorded so causes that need it see it.

    Raises :class:`BundleError` (one line) when the step cannot be rebuilt: not importable
    (``__main__``, a closure, a bound method), the file changed or is missing, the import
    fails, the name does not name the step, or the state does not fit.
    """
    check_replay(bundle, trust)
    ref = bundle.function or {}
    keras_fit = not ref.get("importable") and ref.get("keras_train_step")
    notes: list[str] = []
    model = None
    target = None if keras_fit else _import_step(ref, notes)  # before TensorFlow: may refuse

    import tensorflow as tf

    import nantrace
    from nantrace import _tf_compat, hooks
    from nantrace.errors import NonFiniteError
    from nantrace.replay import StateSnapshot, step_variables

    if keras_fit:  # model.fit: the model's own train_step, rebuilt from model.json
        base, model = _rebuild_keras_step(bundle, notes)
    else:
        base = target.fn if isinstance(target, nantrace.Watched) else target
    args, kwargs = bundle.batch(as_tensors=True)
    recent = bundle.recent(as_tensors=True)

    # 1. one eager run creates every variable the step touches (optimizer slots are built on
    #    the first apply) and shows which ones it writes; its effect is overwritten below. A
    #    healthy batch is used when there is one, so a NaN assert in user code cannot stop it
    #    before the optimizer is built.
    discovery = _discovery_observer()
    setup_args, setup_kwargs = recent[-1] if recent else (args, kwargs)
    try:
        with _tf_compat.functions_run_eagerly(), hooks.observing(discovery):
            unwrap_step(base)(*setup_args, **setup_kwargs)
    except Exception as error:  # a NaN-triggered assert is fine: the variables exist now
        notes.append(f"the set-up run raised {type(error).__name__}; continuing")

    watched = nantrace.watch(
        base,
        model=model,
        optimizer=getattr(model, "optimizer", None),
        on_nan="raise",
        anchor_every=0,
    )
    for optimizer in discovery.optimizers:
        if all(optimizer is not o for o in watched.optimizers):
            watched.optimizers.append(optimizer)
    for variable in discovery.written:
        watched.known_variables.setdefault(id(variable), variable)
    live = _unique(step_variables(watched))

    # 2. the pre-step state, matched by name, then by shape in order.
    saved = bundle.state()
    pairs, missing, extra = match_variables(saved, live)
    if missing:
        raise BundleError(
            f"cannot replay: {len(missing)} of the bundle's {len(saved)} variables have no "
            f"counterpart in the rebuilt step (first: {missing[0].name} "
            f"{list(missing[0].shape)}); does {ref['module']} still build the same model?"
        )
    for item, variable in pairs:
        variable.assign(tf.cast(tf.constant(item.value), variable.dtype), read_value=False)
    notes.append(f"restored {len(pairs)} variables from {os.path.basename(bundle.path)}")
    if extra:
        notes.append(
            f"{len(extra)} variable(s) of the rebuilt step are not in the bundle and keep their "
            f"import-time values (first: {extra[0].name})"
        )
    renamed = {item.name: variable.name for item, variable in pairs}

    # 3. the history before the trip, so evidence such as weight growth is seen again.
    history = bundle.history()
    if history is not None and watched.history is not None and len(history["steps"]) > 1:
        try:
            _refill_history(watched, history, renamed, discovery)
            notes.append(f"history of {len(history['steps']) - 1} healthy steps re-recorded")
        except Exception as error:
            notes.append(f"history not re-recorded ({type(error).__name__})")

    anchor = bundle.anchor()
    if anchor:
        watched.anchor = StateSnapshot(
            [(variable, anchor[item.key]) for item, variable in pairs if item.key in anchor]
        )
        watched.since_anchor = bundle.since_anchor(as_tensors=True)
        notes.append(
            f"anchor state of step {bundle.manifest['anchor']['step']} and "
            f"{len(watched.since_anchor)} batches since restored for verification"
        )
    watched.step = int(bundle.report.trip.step)
    watched.recent.extend(recent)
    watched.verify = verify
    snapshot = StateSnapshot.take(live)
    try:
        watched(*args, **kwargs)
    except NonFiniteError as error:
        report = error.report
        return ReplayOutcome(
            dataclasses.replace(
                report,
                bundle=bundle.path,
                notes=(
                    *report.notes,
                    f"re-diagnosed by nantrace report --replay from {bundle.path}",
                ),
            ),
            tuple(notes),
        )
    finally:
        snapshot.restore()
    return ReplayOutcome(None, tuple(notes))


def _rebuild_keras_step(bundle: Bundle, notes: list[str]) -> tuple[Any, Any]:
    """A ``model.fit`` bundle: rebuild and compile the model from ``model.json`` (Keras safe
    mode), and return its ``train_step`` compiled as ``model.fit`` compiles it."""
    configs = bundle.model_config() or {}
    config = configs.get("model") or {}
    compile_config = config.get("compile_config")
    if config.get("config") is None or not compile_config:
        raise BundleError(
            "cannot replay: this model.fit bundle has no serializable, compiled model config "
            f"({configs.get('model_error') or 'model.json lacks it'})"
        )
    import keras
    import tensorflow as tf

    from nantrace import _tf_compat

    try:
        # safe mode even if this process called keras.config.enable_unsafe_deserialization():
        # no lambda, Lambda layer or external SavedModel from the bundle is deserialized
        with _tf_compat.keras_safe_mode():
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
            if getattr(model, "optimizer", None) is None:
                model.compile_from_config(compile_config)
    except Exception as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if "safe_mode" in str(error):
            raise BundleError(
                f"cannot replay: the {config.get('class_name')} in {MODEL} holds Python code (a "
                "lambda, a Lambda layer or an external SavedModel), which nantrace never "
                "deserializes (Keras safe mode); to replay it, define the model and a train step "
                "in a module and watch that step, so that --replay --trust imports your file "
                "instead of model.json"
            ) from None
        raise BundleError(
            f"cannot replay: the {config.get('class_name')} in {MODEL} cannot be rebuilt "
            f"({type(error).__name__}: {text[:160]}); nantrace report imports none of your "
            "modules, so custom layers, losses or metrics are only found in Python: import the "
            "module that registers them (keras.saving.register_keras_serializable), then call "
            "nantrace.bundle.replay_bundle(nantrace.load_bundle(path), trust=True)"
        ) from None
    notes.append(f"rebuilt and compiled the {config.get('class_name')} from model.json")
    if compile_config.get("run_eagerly"):
        return model.train_step, model
    jit = bool(compile_config.get("jit_compile"))
    return tf.function(model.train_step, jit_compile=jit, reduce_retracing=True), model


def _import_step(ref: dict[str, Any], notes: list[str]) -> Any:
    """The object at the recorded ``module:qualname``, from the recorded module file only.

    The file is read once, its SHA-256 checked, and exactly those bytes executed as the module
    (never a same-named module found on ``sys.path`` or in the current folder). The object must
    be, or wrap, a Python function of that file with that qualified name: the step, not
    ``os.system`` or another function of a module a manifest names.
    """
    module_name, qualname, file = ref["module"], ref["qualname"], ref["file"]
    source = _step_source(ref)
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        loaded_file = getattr(loaded, "__file__", None)
        if not (loaded_file and _same_file(loaded_file, file)):
            raise BundleError(
                f"cannot replay: a module named {module_name} is already imported here from "
                f"{loaded_file or 'the interpreter itself'}, not from {file}"
            )
        module = loaded
    else:
        module = _exec_module(module_name, file, source, notes)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise BundleError(f"cannot replay: {file} has no {qualname} any more; was it renamed?")
    fn = unwrap_step(obj)
    code = getattr(fn, "__code__", None)
    if not (
        isinstance(fn, types.FunctionType)
        and fn.__qualname__ == qualname
        and fn.__module__ == module_name
        and code is not None
        and _same_file(code.co_filename, file)
    ):
        raise BundleError(
            f"cannot replay: {module_name}:{qualname} is a {type(fn).__name__}, not the step "
            f"function defined in {file}; refusing to call it"
        )
    return obj


def _exec_module(module_name: str, file: str, source: bytes, notes: list[str]) -> Any:
    """Import ``source`` (the checked bytes of ``file``) as ``module_name``. Its folder on
    ``sys.path`` (derived from the file, not read from the manifest) lets it import its
    siblings and package, which are imported as they are now."""
    root = _import_root(file, module_name)
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None:
        raise BundleError(f"cannot replay: {file} cannot be imported as {module_name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        exec(compile(source, file, "exec", dont_inherit=True), module.__dict__)
    except Exception as error:
        sys.modules.pop(module_name, None)
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BundleError(
            f"cannot replay: importing {file} raised {type(error).__name__}: {text[:200]}"
        ) from None
    notes.append(f"imported {module_name} from {file} (sha256 as recorded)")
    return module


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _discovery_observer() -> Any:
    """A step observer that only records the variables a step writes and its optimizers."""
    from nantrace import hooks

    class Discovery(hooks.StepObserver):
        def __init__(self) -> None:
            self.written: list[Any] = []
            self.optimizers: list[Any] = []
            self._seen: set[int] = set()

        def before_write(self, variable: Any) -> None:
            if id(variable) not in self._seen:
                self._seen.add(id(variable))
                self.written.append(variable)

        def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None:
            if all(optimizer is not o for o in self.optimizers):
                self.optimizers.append(optimizer)

    return Discovery()


def match_variables(
    saved: list[SavedVariable], live: list[Any]
) -> tuple[list[tuple[SavedVariable, Any]], list[SavedVariable], list[Any]]:
    """Pair saved variables with the rebuilt step's: same name and shape first, then the same
    name without Keras' ``_N`` suffixes, then in order among those of the same shape and dtype
    (a fresh process may number layers differently)."""

    def key(name: str) -> str:
        import re

        return re.sub(r"_\d+(?=/|:|$)", "", name)

    def fits(item: SavedVariable, variable: Any) -> bool:
        return tuple(item.shape) == tuple(int(d) for d in variable.shape) and (
            item.dtype == variable.dtype.name
        )

    pairs: list[tuple[SavedVariable, Any]] = []
    left_saved = list(range(len(saved)))  # indices: variables and arrays have no plain ==
    left_live = list(range(len(live)))
    for naming in (lambda name: name, key):
        live_names: dict[str, list[int]] = {}
        for j in left_live:
            live_names.setdefault(naming(live[j].name), []).append(j)
        saved_names: dict[str, list[int]] = {}
        for i in left_saved:
            saved_names.setdefault(naming(saved[i].name), []).append(i)
        for name, found in saved_names.items():
            candidates = live_names.get(name, [])
            if (
                len(found) == 1
                and len(candidates) == 1
                and fits(saved[found[0]], live[candidates[0]])
            ):
                pairs.append((saved[found[0]], live[candidates[0]]))
                left_saved.remove(found[0])
                left_live.remove(candidates[0])
    for i in list(left_saved):
        j = next((j for j in left_live if fits(saved[i], live[j])), None)
        if j is not None:
            pairs.append((saved[i], live[j]))
            left_saved.remove(i)
            left_live.remove(j)
    return pairs, [saved[i] for i in left_saved], [live[j] for j in left_live]


def _refill_history(
    watched: Any, history: dict[str, np.ndarray], renamed: dict[str, str], discovery: Any
) -> None:
    """Record the bundle's healthy history rows into the fresh watched step's ring buffers,
    with the column order the guard will use (written float variables, optimizer's excluded)."""
    import tensorflow as tf

    from nantrace import _tf_compat

    optimizer_owned = set()
    for optimizer in discovery.optimizers:
        for variable in getattr(optimizer, "variables", []):
            inner = _tf_compat.as_tf_variable(variable)
            optimizer_owned.add(id(inner if inner is not None else variable))
    columns = tuple(
        v.name for v in discovery.written if id(v) not in optimizer_owned and v.dtype.is_floating
    )
    saved_names = [str(n) for n in history["names"]]
    by_new_name = {renamed.get(n, n): i for i, n in enumerate(saved_names)}
    rows = len(history["steps"]) - 1  # the last row is the tripping step; it runs again
    for row in range(rows):
        squares = []
        for name in columns:
            index = by_new_name.get(name)
            value = history["weight_norm"][row, index] if index is not None else np.nan
            squares.append(tf.constant(float(value) ** 2, tf.float32))
        watched.history.record(
            tf.constant(float(history["loss"][row]), tf.float32),
            tf.constant(float(history["grad_norm"][row]) ** 2, tf.float32),
            squares,
            columns,
        )
