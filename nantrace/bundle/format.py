"""The on-disk format of a bundle: its version, file names, file modes, and the error every
reader raises. The layout itself is described in :mod:`nantrace.bundle`; the writer
(``bundle_write``), the reader (``bundle_read``), the batch codec (``bundle_codec``) and replay
(``bundle_replay``) share these names so that they cannot disagree about them.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from nantrace.errors import NantraceError
from nantrace.report.warning_records import WARNING_KIND

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
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class BundleError(NantraceError):
    """A path that is not a readable crash bundle: the message says what and how to fix it."""


def is_warning(report: Any) -> bool:
    """Whether ``report`` is an early warning's (its bundle is rendered, never replayed)."""
    return getattr(report, "kind", None) == WARNING_KIND


def file_sha256(path: str) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks (bundle files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
