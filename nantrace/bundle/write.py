"""Write a bundle: the crash bundle of a tripped step, or an early warning's bundle.

Atomic (assembled under a staging name, fsync'ed, sealed by ``bundle.sha256``, renamed into
place in one ``os.replace``), private (files 0600 and folders 0700, without touching the process
umask), and never in the way of the diagnosis: a failure to write is a note on the report. What
it records about the step function and model comes from ``bundle_step``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from typing import Any

import numpy as np

from nantrace.bundle.codec import BatchEncoder, storable
from nantrace.bundle.format import (
    ANCHOR,
    BATCHES,
    BUNDLE_VERSION,
    CHECKSUM,
    DIR_MODE,
    FILE_MODE,
    HISTORY,
    MANIFEST,
    MODEL,
    NOFOLLOW,
    REPORT,
    STAGING_PREFIX,
    STATE,
    file_sha256,
    is_warning,
)
from nantrace.bundle.step import function_reference, model_configs
from nantrace.report.records import Report
from nantrace.report.warning_records import WARNING_KIND, DivergenceReport


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


def _step_of(report: Any) -> int:
    """The step a report is about: the tripping step, or the warning step."""
    return int(report.step) if is_warning(report) else int(report.trip.step)


def _write(watched: Any, report: Report, args: tuple, kwargs: dict, bundle_dir: str) -> Report:
    bundle_dir = os.path.abspath(bundle_dir)
    os.makedirs(bundle_dir, mode=DIR_MODE, exist_ok=True)  # an existing folder keeps its mode
    sweep_stale_staging(bundle_dir)
    prefix = "warning" if is_warning(report) else "step"
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
    if is_warning(report):  # the state is the one after the warning step: nothing tripped
        manifest["kind"] = WARNING_KIND
    contents: list[dict[str, Any]] = manifest["contents"]
    contents.append(_write_file(staging, REPORT, report.to_json()))
    if watched is None:
        return manifest

    from nantrace.replay.step import step_variables, unique_variables

    variables = unique_variables(step_variables(watched))
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for index, variable in enumerate(variables):
        key = f"v{index:05d}"
        value, stored_as = storable(variable.numpy())
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
    encoder = BatchEncoder(batch_arrays)
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
            key_of[id(variable)]: storable(value)[0]
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

    configs = model_configs(watched)
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
    if not is_warning(report):
        return _step_of(report) - len(since)
    from nantrace.diagnosis.verify_warning import _same_batch

    included = bool(since) and _same_batch(since[-1], (args, kwargs))
    return _step_of(report) + int(included) - len(since)


def _framework_versions() -> dict[str, str]:
    versions = {}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "?"))
    return versions


def _create(path: str) -> int:
    """A file descriptor for writing ``path``, created 0600 (the umask can only remove bits, so
    it is never touched) and never through a symbolic link."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | NOFOLLOW, FILE_MODE)


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
    return {"name": name, "bytes": os.path.getsize(path), "sha256": file_sha256(path)}


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system can fsync a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)
