"""Read a bundle back, checking it before anything in it is used.

``bundle.json`` must match ``bundle.sha256``; every file it lists must be a plain file directly
inside the bundle folder (no path, no ``..``, no symbolic link, no FIFO or device), of the
recorded size, and its SHA-256 is checked before it is read. Nothing is imported or run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import numpy as np

from nantrace.bundle.codec import decode_call
from nantrace.bundle.format import (
    BUNDLE_VERSION,
    CHECKSUM,
    MANIFEST,
    NOFOLLOW,
    REPORT,
    SHA256_HEX,
    BundleError,
)
from nantrace.report.records import Report
from nantrace.report.warning_records import WARNING_KIND, DivergenceReport

#: A file name a manifest may list: a plain name directly inside the bundle folder.
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


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
            return decode_call(section["trip"], data, as_tensors)

    def recent(self, as_tensors: bool = False) -> list[tuple[tuple, dict]]:
        section = self._batches_section()
        with self._npz(section["file"]) as data:
            return [decode_call(spec, data, as_tensors) for spec in section["recent"]]

    def since_anchor(self, as_tensors: bool = False) -> list[tuple[tuple, dict]]:
        """The batches run between the anchor and the tripping step, oldest first."""
        section = self._batches_section()
        with self._npz(section["file"]) as data:
            return [decode_call(spec, data, as_tensors) for spec in section.get("since_anchor", [])]

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
    if not SHA256_HEX.fullmatch(expected) or text[1:] != [MANIFEST]:
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
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
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
