"""Timing: interleaved blocks of steps (A B, B A, ...) and the ratios between them."""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Variant:
    name: str
    step: Callable[[Any, Any], Any]
    steps_per_block: int
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    times: list[float] = field(default_factory=list)  # wall seconds per step, one per block
    cpu_times: list[float] = field(default_factory=list)  # process CPU seconds per step


def timed_block(step: Callable[[Any, Any], Any], batches: list, n: int) -> tuple[float, float]:
    """(wall, process CPU) seconds per step over ``n`` steps, synced once at the end."""
    loss = None
    cpu = time.process_time()
    start = time.perf_counter()
    for i in range(n):
        x, y = batches[i % len(batches)]
        loss = step(x, y)
    float(np.asarray(loss.numpy()).sum())
    wall = time.perf_counter() - start
    return wall / n, (time.process_time() - cpu) / n


def run_block(step: Callable[[Any, Any], Any], batches: list, n: int) -> float:
    """Wall seconds per step over ``n`` steps, synced once at the end."""
    return timed_block(step, batches, n)[0]


def interleave(variants: list[Variant], batches: list, rounds: int) -> None:
    """Alternating order per round (A B, B A, ...) so drift and warm caches cancel out."""
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for variant in order:
            gc.collect()
            with variant.context():
                wall, cpu = timed_block(variant.step, batches, variant.steps_per_block)
            variant.times.append(wall)
            variant.cpu_times.append(cpu)


def warm_up(step: Callable[[Any, Any], Any], batches: list, calls: int = 3) -> float:
    """Trace and run a few steps (not timed); return the last single-step time in seconds."""
    run_block(step, batches, calls)
    return min(run_block(step, batches, 1) for _ in range(3))


def summarize(times: list[float]) -> dict[str, Any]:
    return {
        "median_ms": statistics.median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "max_ms": max(times) * 1e3,
        "blocks": len(times),
        "per_block_ms": [t * 1e3 for t in times],
    }


def ratios(base: list[float], other: list[float]) -> dict[str, float]:
    """Ratios other/base: of the medians, of the minima, and the median of the per-round
    ratios (each round's two blocks ran back to back, so it is the most robust to load)."""
    paired = [o / b for b, o in zip(base, other, strict=False)]
    return {
        "median_ratio": statistics.median(other) / statistics.median(base),
        "min_ratio": min(other) / min(base),
        "paired_median_ratio": statistics.median(paired),
        "mean_ratio": statistics.fmean(other) / statistics.fmean(base),
    }


def compare(a: Variant, b: Variant) -> dict[str, Any]:
    """Wall-clock ratios (the headline) and process-CPU-time ratios (less sensitive to other
    processes on the machine, but counts TF's worker threads' busy time, spinning included)."""
    return {**ratios(a.times, b.times), "cpu": ratios(a.cpu_times, b.cpu_times)}


def block_size(step_s: float, target_s: float, lo: int = 3, hi: int = 50) -> int:
    return int(min(hi, max(lo, round(target_s / max(step_s, 1e-6)))))
