"""Memory and time-to-report of ``nantrace.watch`` as the model grows: MEASURED, not computed.

Run from the repository root::

    python -m bench.memory                         # 1M, 30M and 100M parameters (~10 min)
    python -m bench.memory --sizes 1m,30m --out bench/results/memory-small.json

Each (size, variant) runs in its own process, so peak resident memory (``ru_maxrss``) belongs to
that run alone: an MLP 1024-h-h-10 (h chosen for the size), Adam, batch 64, 4 fixed batches
(tf.constant). ``plain`` runs the bare ``tf.function`` step; ``watch`` the same step under
``nantrace.watch`` (host anchor and kept batches included). Both run the same healthy steps; the
watched run then trips on a batch with a NaN and is timed from the call to catching
``NonFiniteError`` (``verify=False``; then, after as many healthy steps again, with fix
verification where ``--verify-up-to`` allows: each trip re-runs the steps since its anchor).
``watch-off`` is the watched run with ``early_warning="off"`` (healthy steps only): what the
detectors add (before f46840d they ran in an XLA cluster, whose runtime cost ~110 MB).
TensorFlow's CPU allocator keeps no statistics (``get_memory_info('CPU:0')`` reads 0), so the
figures are process RSS: plain and watched differ by what the guard holds plus allocator noise.
The extra resident memory after the healthy steps is also split into anonymous memory (the
heap: the anchor, kept batches, graphs) and file-backed pages (code TensorFlow loads from its
library on first use, e.g. the XLA compiler a ``jit_compile`` step loads: shared, not held
by the guard). The table also gives the process's peak RSS after the report(s) (above the healthy peak only
where building the report needed more) and what the report said (origin, cause, first fix and
the number of ops the replay recorded), so a faster report can be checked to say the same.
The first report of the process includes importing the diagnosis modules, as a user's does.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZES = {"1m": 1_000_000, "30m": 30_000_000, "100m": 100_000_000}
INPUT = 1024
BATCH = 64
REPO_ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _rss_parts_mb() -> dict[str, float]:
    """Resident memory split as Linux reports it: anonymous (heap: tensors, copies) and
    file-backed (pages of loaded code, e.g. the XLA compiler's part of TensorFlow's library)."""
    parts = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssFile:")):
                key, value = line.split(":")
                parts[key] = int(value.split()[0]) / 1024  # kB
    return {"anon": parts.get("RssAnon", math.nan), "file": parts.get("RssFile", math.nan)}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def hidden_for(params: int) -> int:
    """h with h*h + (INPUT + 12) * h + 10 ~= params (two hidden layers of width h)."""
    b = INPUT + 12
    return max(8, round((-b + math.sqrt(b * b + 4 * (params - 10))) / 2))


def build_mlp(size: str) -> tuple[Any, Any, Any, list[tuple[Any, Any]], int]:
    """The MLP 1024-h-h-10 of ``size`` parameters with Adam, its loss and 4 fixed batches of
    BATCH (seeded), and h."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    h = hidden_for(SIZES[size])
    model = keras.Sequential(
        [
            keras.Input((INPUT,)),
            keras.layers.Dense(h, activation="relu"),
            keras.layers.Dense(h, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    optimizer = keras.optimizers.Adam(1e-4)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    batches = [
        (
            tf.constant(rng.standard_normal((BATCH, INPUT)).astype("float32")),
            tf.constant(rng.integers(0, 10, size=(BATCH,)).astype("int32")),
        )
        for _ in range(4)
    ]
    return model, optimizer, loss_fn, batches, h


def one_run(size: str, variant: str, steps: int, verify: bool) -> dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    import nantrace
    from bench.overhead import guard_mode
    from bench.workloads import make_train_step

    model, optimizer, loss_fn, batches, h = build_mlp(size)
    step = tf.function(make_train_step(model, optimizer, loss_fn))
    if variant in ("watch", "watch-off"):
        # watch-off: the same guard without the early-warning detectors
        early_warning = "off" if variant == "watch-off" else "warn"
        step = nantrace.watch(step, verify=False, early_warning=early_warning)
    rss_built = _rss_mb()
    start = time.perf_counter()
    step(*batches[0])  # trace + first step (watched: the anchor is taken before it)
    first_s = time.perf_counter() - start
    rss_first = _rss_mb()
    times = []
    for i in range(steps):
        start = time.perf_counter()
        float(step(*batches[i % 4]))
        times.append(time.perf_counter() - start)
    params = int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))
    state_bytes = sum(int(np.prod(v.shape)) * 4 for v in model.variables + optimizer.variables)
    out: dict[str, Any] = {
        "size": size,
        "variant": variant,
        "params": params,
        "hidden": h,
        "state_mb": state_bytes / 2**20,
        "rss_after_build_mb": rss_built,
        "rss_after_first_call_mb": rss_first,
        "rss_after_steps_mb": _rss_mb(),
        **{f"rss_after_steps_{kind}_mb": mb for kind, mb in _rss_parts_mb().items()},
        "peak_rss_healthy_mb": _peak_mb(),
        "first_call_s": first_s,
        "step_s_median": sorted(times)[len(times) // 2],
        "steps": steps + 1,
    }
    if variant != "watch":
        return out
    out["guard_mode"] = guard_mode(step)
    out["anchor_mb"] = (
        sum(a.nbytes for _, a in step.anchor.values) / 2**20 if step.anchor is not None else 0.0
    )
    x_nan = batches[1][0].numpy()
    x_nan[[3, 17], 5] = np.nan
    bad = (tf.constant(x_nan), batches[1][1])
    trips = {}
    for index, mode in enumerate(("no_verify", "verify") if verify else ("no_verify",)):
        if index:
            # The first trip's restored state is the new anchor: run as many healthy steps
            # again, so this trip, like the first, re-runs the steps since its anchor.
            for i in range(steps + 1):
                float(step(*batches[i % 4]))
        step.verify = mode == "verify"
        start = time.perf_counter()
        report = None
        try:
            step(*bad)
        except nantrace.NonFiniteError as error:
            report = error.report
        elapsed = time.perf_counter() - start
        trips[mode] = {
            "call_to_report_s": elapsed,
            "time_to_report_s": elapsed - out["step_s_median"],
            "origin": None if report is None else report.origin.kind,
            "cause": report.cause.id if report is not None and report.cause else None,
            "first_fix": report.fixes[0].id if report is not None and report.fixes else None,
            "ops_recorded": None if report is None else report.ops_recorded,
            # how the update was undone ("... the anchor N step(s) back by re-running them")
            "restore": next(
                (n for n in (report.notes if report else ()) if n.startswith("optimizer update")),
                None,
            ),
            # what verification concluded on the first fix (a faster report must say the same)
            "first_fix_verdict": report.fixes[0].verdict if report and report.fixes else None,
            "first_fix_verification": (
                report.fixes[0].params.get("verification") if report and report.fixes else None
            ),
            # ru_maxrss is the whole process's peak: the report's own peak shows only where it
            # rises above the healthy steps' one
            "peak_rss_mb": _peak_mb(),
        }
    out["trips"] = trips
    return out


def run_subprocess(size: str, variant: str, steps: int, verify: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nantrace-mem-") as tmp:
        out = Path(tmp) / "one.json"
        cmd = [sys.executable, "-m", "bench.memory", "--_one", size, variant, "--_out", str(out)]
        cmd += ["--steps", str(steps)] + (["--_verify"] if verify else [])
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"size": size, "variant": variant, "error": " | ".join(tail)}
        return json.loads(out.read_text())


def render(results: dict[str, Any]) -> str:
    lines = [
        f"nantrace memory / time-to-report by model size, {results['date']}; load average "
        f"{results['load_average_start']} -> {results['load_average_end']}",
        "| params | state MB (weights+Adam) | guard | plain peak RSS MB | watch peak RSS MB | "
        "extra MB (x state) | extra after the steps, anon / file-backed MB | "
        "early warning off: extra MB, after the steps anon / file-backed | host anchor MB | "
        "plain step s | watch step s | "
        "time to report s (no verify / verify) | peak RSS MB after the report(s) | "
        "report (origin / cause / first fix, ops) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, pair in results["sizes"].items():
        plain, watch = pair.get("plain", {}), pair.get("watch", {})
        if "error" in plain or "error" in watch:
            lines.append(f"| {size} | error: {plain.get('error') or watch.get('error')} |")
            continue
        extra = watch["peak_rss_healthy_mb"] - plain["peak_rss_healthy_mb"]
        split = _split(watch, plain)
        off = pair.get("watch-off", {})
        without = (
            f"{off['peak_rss_healthy_mb'] - plain['peak_rss_healthy_mb']:+.0f}, "
            f"{_split(off, plain)}"
            if "peak_rss_healthy_mb" in off
            else "–"
        )
        trips = watch.get("trips", {})
        ttr = " / ".join(
            f"{trips[m]['time_to_report_s']:.1f}" if m in trips else "–"
            for m in ("no_verify", "verify")
        )
        lines.append(
            f"| {watch['params']:,} | {watch['state_mb']:.0f} | {watch['guard_mode']} | "
            f"{plain['peak_rss_healthy_mb']:.0f} | {watch['peak_rss_healthy_mb']:.0f} | "
            f"{extra:+.0f} ({extra / watch['state_mb']:.2f}x) | {split} | {without} | "
            f"{watch['anchor_mb']:.0f} | "
            f"{plain['step_s_median']:.3f} | {watch['step_s_median']:.3f} | {ttr} | "
            f"{_trip_peak(trips)} | {_trip_report(trips)} |"
        )
    return "\n".join(lines)


def _split(run: dict[str, Any], plain: dict[str, Any]) -> str:
    """Extra anonymous / file-backed resident MB of ``run`` over ``plain`` after the steps."""
    return " / ".join(
        f"{run.get(f'rss_after_steps_{k}_mb', math.nan) - plain.get(f'rss_after_steps_{k}_mb', math.nan):+.0f}"
        for k in ("anon", "file")
    )


def _trip_peak(trips: dict[str, Any]) -> str:
    peaks = [trips[m]["peak_rss_mb"] for m in ("no_verify", "verify") if m in trips]
    return f"{max(peaks):.0f}" if peaks else "–"


def _trip_report(trips: dict[str, Any]) -> str:
    trip = trips.get("no_verify")
    if trip is None:
        return "–"
    return (
        f"{trip['origin']} / {trip.get('cause')} / {trip['first_fix']}, {trip.get('ops_recorded')}"
    )


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--sizes", default="1m,30m,100m", help="from " + ",".join(SIZES))
    parser.add_argument("--steps", type=int, default=8, help="healthy steps after the first")
    parser.add_argument(
        "--verify-up-to",
        default="30m",
        help="also time a report with fix verification up to this size (default %(default)s)",
    )
    parser.add_argument("--out", default="bench/results/memory.json")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    parser.add_argument("--_verify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        size, variant = args._one
        Path(args._out).write_text(json.dumps(one_run(size, variant, args.steps, args._verify)))
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes + [args.verify_up_to]:
        if s not in SIZES:
            parser.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    import datetime as _dt

    from bench.overhead import machine_info

    results: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": "python -m bench.memory " + " ".join(sys.argv[1:] if argv is None else argv),
        "load_average_start": _load(),
        "sizes": {},
    }
    limit = SIZES[args.verify_up_to]
    for size in sizes:
        results["sizes"][size] = {}
        for variant in ("plain", "watch", "watch-off"):
            print(f"[{size}] {variant} ...", file=sys.stderr, flush=True)
            results["sizes"][size][variant] = run_subprocess(
                size, variant, args.steps, variant == "watch" and SIZES[size] <= limit
            )
    results["load_average_end"] = _load()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\n(results: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
