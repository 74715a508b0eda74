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

This module is the public entry point; the work is done by ``bundle_format`` (version, file
names, modes, :class:`BundleError`), ``bundle_write``, ``bundle_step`` (how to import the step
again), ``bundle_codec`` (the batches), ``bundle_read`` (integrity and confinement) and
``bundle_replay`` (rebuild and variable matching).

This module imports neither TensorFlow nor Keras at import time: ``nantrace report`` reads
bundles without them. Writing, and ``replay_bundle``, import them when called.
"""

from __future__ import annotations

from nantrace.bundle.format import BUNDLE_VERSION, BundleError
from nantrace.bundle.read import Bundle, SavedVariable, list_bundles, load_bundle
from nantrace.bundle.replay import ReplayOutcome, check_replay, replay_bundle
from nantrace.bundle.step import function_reference
from nantrace.bundle.write import sweep_stale_staging, write_bundle, write_warning_bundle

__all__ = [
    "BUNDLE_VERSION",
    "Bundle",
    "BundleError",
    "ReplayOutcome",
    "SavedVariable",
    "check_replay",
    "function_reference",
    "list_bundles",
    "load_bundle",
    "replay_bundle",
    "sweep_stale_staging",
    "write_bundle",
    "write_warning_bundle",
]
