"""Crash bundles: what ``watch`` leaves on disk when it trips, written atomically."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time

from nantrace.records import Report

BUNDLE_VERSION = 1


def write_report_bundle(report: Report, bundle_dir: str) -> Report:
    """Write ``report.json`` into a new ``step-N-TIMESTAMP`` folder under ``bundle_dir``.

    The folder is assembled under a temporary name and renamed into place, so a crash
    during the write leaves no half bundle behind.
    """
    os.makedirs(bundle_dir, exist_ok=True)
    name = f"step-{report.trip.step:06d}-{time.strftime('%Y%m%d-%H%M%S')}"
    final = os.path.join(bundle_dir, name)
    staging = tempfile.mkdtemp(prefix=f".{name}.", dir=bundle_dir)
    report = dataclasses.replace(report, bundle=final)
    with open(os.path.join(staging, "report.json"), "w") as handle:
        handle.write(report.to_json())
    with open(os.path.join(staging, "bundle.json"), "w") as handle:
        json.dump({"bundle_version": BUNDLE_VERSION, "contents": ["report.json"]}, handle)
    suffix = 0
    target = final
    while os.path.exists(target):
        suffix += 1
        target = f"{final}-{suffix}"
    os.replace(staging, target)
    if target != final:
        report = dataclasses.replace(report, bundle=target)
    return report
