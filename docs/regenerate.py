"""Regenerate every command output shown in docs/ by running the commands, so no output drifts.

A generated block in a markdown file is::

    <!-- generated: NAME -->
    ```
    ...output, rewritten by this script...
    ```
    <!-- end generated -->

where NAME is a key of ``BLOCKS`` below: the shell commands the block shows (each printed as
``$ COMMAND`` before its output, stdout and stderr together) and the fixture they run in.

    python docs/regenerate.py               # run every block, rewrite the markdown files
    python docs/regenerate.py demo-list     # only the named blocks
    python docs/regenerate.py --cheap       # only the blocks that train nothing (a few seconds)
    python docs/regenerate.py --check       # exit 1 and name the blocks that are out of date

Commands run in a fresh temporary folder with ``nantrace`` meaning this checkout's
``python -m nantrace``, ``NO_COLOR=1``, ``COLUMNS=100`` and ``TF_CPP_MIN_LOG_LEVEL=3``.
Outputs are normalised so that a rerun on another machine gives the same text where the code
gives the same answer: the temporary folder is written ``/tmp/doc``, this checkout's root
``...``, a bundle folder's time stamp ``YYYYmmdd-HHMMSS``, the wall-clock time of fix replay
``<t> s``, and TensorFlow's own start-up log lines are dropped. Numbers of a replayed training
run (losses, verdict step counts) are not normalised: they are what the run printed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARK = re.compile(
    r"(<!-- generated: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(\n<!-- end generated -->)", re.S
)

# The training script of docs/report.md's crash-bundle example (the "crash" fixture writes it).
TRAIN_PY = """\
import nantrace
import replayable_step  # tests/replayable_step.py, on PYTHONPATH

step = nantrace.watch(replayable_step.train_step, bundle_dir="crash")
try:
    for x, y in replayable_step.batches():
        step(x, y)
except nantrace.NonFiniteError as error:
    print(error.report.headline())
    print("bundle:", error.report.bundle)
"""

# The unmodified script of docs/surfaces/run.md (the "run" fixture writes it).
RUN_TRAIN_PY = """\
import argparse

import keras
import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--loss", choices=["log", "mse"], default="log")
flags = parser.parse_args()

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
optimizer = keras.optimizers.SGD(0.01)
x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")


@tf.function
def train_step(x):
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        if flags.loss == "log":
            loss = tf.reduce_mean(tf.math.log(out**2 - 1.0))  # NaN where |out| < 1
        else:
            loss = tf.reduce_mean(tf.square(out - 1.0))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


for _ in range(flags.steps):
    train_step(x)
print("script finished")
"""

RUNS_PY = (
    "import postmortem_models as pm; pm.zero_epsilon('runs'); pm.bad_initializer('runs'); "
    "pm.diverged('runs'); pm.healthy('runs')"
)


@dataclass(frozen=True)
class Block:
    """One generated block: its commands, where they run, and how the output is shown."""

    commands: tuple[str, ...]
    fixture: str = "none"  # none | runs | crash | run
    show_commands: bool = True  # False: only the (transformed) output, e.g. a JSON excerpt
    lang: str = ""
    fence: str = "```"  # four backticks for an output that holds ``` itself
    transform: Callable[[str], str] | None = None
    # cheap: trains nothing and needs no fixture, so tests/test_docs_generated.py reruns it
    cheap: bool = False
    setup: tuple[str, ...] = field(default=())  # fixture commands not shown in the block


def dump_json(value: Any, indent: int = 0, width: int = 96) -> str:
    """JSON as ``json.dumps(indent=2)`` would print it, except that an object or list whose
    one-line form fits in ``width`` columns stays on one line (shorter pages, same JSON)."""
    flat = json.dumps(value)
    if not isinstance(value, (dict, list)) or not value or indent + len(flat) <= width:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k)}: {dump_json(v, indent + 2, width)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{dump_json(v, indent + 2, width)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _json_cut(text: str, cuts: dict[str, int]) -> str:
    """Real JSON with the named top-level lists cut to their first N entries plus a marker
    string saying how many were left out; nothing else edited."""
    data = json.loads(text)
    for key, keep in cuts.items():
        items = data.get(key) or []
        if len(items) > keep:
            data[key] = items[:keep] + [f"... {len(items) - keep} more"]
    return dump_json(data)


def _abridge(value: Any, depth: int = 0) -> Any:
    """The report JSON made short enough to read: lists keep one entry (three for short
    scalars) and a ``"..."``, strings over 80 characters end with ``...``."""
    if isinstance(value, dict):
        return {k: _abridge(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        keep = 3 if all(not isinstance(v, (dict, list)) for v in value) else 1
        head = [_abridge(v, depth + 1) for v in value[:keep]]
        return head + ["..."] if len(value) > keep else head
    if isinstance(value, str) and len(value) > 80:
        return value[:77] + "..."
    return value


def _report_example(text: str) -> str:
    return dump_json(_abridge(json.loads(text)))


def _first_fix_params(text: str) -> str:
    report = json.loads(text)
    return dump_json({"params": report["fixes"][0]["params"]})


def _help(command: str) -> Block:
    return Block((f"nantrace {command} --help",), cheap=True)


BLOCKS: dict[str, Block] = {
    "help-demo": _help("demo"),
    "help-scan": _help("scan"),
    "help-diff": _help("diff"),
    "help-report": _help("report"),
    "help-run": _help("run"),
    "demo-list": Block(("nantrace demo --list",), cheap=True),
    "demo-default": Block(("nantrace demo",)),
    "demo-exploding-rnn": Block(("nantrace demo exploding_rnn",)),
    "demo-exploding-rnn-params": Block(
        ("nantrace demo exploding_rnn --format json",),
        show_commands=False,
        lang="json",
        transform=_first_fix_params,
    ),
    "report-schema-example": Block(
        ("nantrace demo --format json",),
        show_commands=False,
        lang="json",
        transform=_report_example,
    ),
    "scan-zero-eps": Block(('nantrace scan runs/zero_eps.keras; echo "exit $?"',), "runs"),
    "scan-bad-init": Block(('nantrace scan runs/bad_init-0; echo "exit $?"',), "runs"),
    "scan-zero-eps-json": Block(
        ("nantrace scan runs/zero_eps.keras --format json",),
        "runs",
        show_commands=False,
        lang="json",
        transform=lambda text: _json_cut(text, {"variables": 3, "layers": 1}),
    ),
    "diff-diverging": Block(
        ('nantrace diff runs/diverged-0 runs/diverged-last-good; echo "exit $?"',), "runs"
    ),
    "diff-non-finite": Block(
        ('nantrace diff runs/diverged-last-good runs/diverged-2; echo "exit $?"',), "runs"
    ),
    "diff-healthy": Block(
        ('nantrace diff runs/healthy-0 runs/healthy-1 --top 4; echo "exit $?"',), "runs"
    ),
    "diff-diverging-json": Block(
        ("nantrace diff runs/diverged-0 runs/diverged-last-good --format json",),
        "runs",
        show_commands=False,
        lang="json",
        transform=lambda text: _json_cut(text, {"variables": 2, "layers": 1}),
    ),
    "report-train-py": Block(("cat train.py",), "crash", show_commands=False, lang="python"),
    "report-bundle": Block(
        (
            "python train.py",
            "stat -c '%A %6s %n' crash/step-000003-*/*",
            'nantrace report crash/step-000003-*; echo "exit $?"',
        ),
        "crash",
    ),
    "report-errors": Block(
        (
            'nantrace report nowhere; echo "exit $?"',
            'nantrace report crash; echo "exit $?"',
            "cp -r crash/step-000003-* v9 && "
            'sed -i \'s/"bundle_version": 1/"bundle_version": 9/\' v9/bundle.json',
            'nantrace report v9; echo "exit $?"',
            "cp -r crash/step-000003-* trunc && truncate -s 1000 trunc/state.npz",
            'nantrace report trunc; echo "exit $?"',
        ),
        "crash",
        setup=("test -d crash || python train.py",),
    ),
    "report-untrusted": Block(
        ('nantrace report crash/step-000003-* --replay; echo "exit $?"',),
        "crash",
        setup=("test -d crash || python train.py",),
    ),
    "report-replay": Block(
        (
            "nantrace report crash/step-000003-* --replay --trust --format json -o replayed.json;"
            ' echo "exit $?"',
        ),
        "crash",
        setup=("test -d crash || python train.py",),
    ),
    "notebook-html": Block(
        (
            "python -c \"import nantrace.examples as ex; r = ex.DEMOS['log_zero_loss'].run().report; "
            "h = r._repr_html_(); print(len(h.encode()) // 1024, 'KB'); "
            'print(h.splitlines()[0])"',
        ),
    ),
    "notebook-markdown": Block(
        (
            "python -c \"import nantrace.examples as ex; r = ex.DEMOS['log_zero_loss'].run().report; "
            'print(*r._repr_markdown_().splitlines()[:6], sep=chr(10))"',
        ),
        fence="````",
    ),
    "run-train-py": Block(("cat train.py",), "run", show_commands=False, lang="python"),
    "run-raise": Block(('nantrace run train.py --steps 50; echo "exit $?"',), "run"),
    "run-warn": Block(
        ("nantrace run --on-nan warn --no-bundle train.py --steps 3 2>&1 | tail -n 2",), "run"
    ),
    "run-quiet": Block(
        (
            "nantrace run --no-bundle train.py --loss mse",
            "echo 'print(\"no training here\")' > plain.py && nantrace run plain.py",
        ),
        "run",
    ),
}

_TF_LOG = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d"
    r":\d\d\.\d+: [IWE] |To enable the following instructions|oneDNN custom operations)"
)


def normalise(text: str, workdir: str) -> str:
    """Make an output independent of where and when it ran (see the module docstring)."""
    text = text.replace(os.path.realpath(workdir), "/tmp/doc").replace(workdir, "/tmp/doc")
    text = text.replace(str(ROOT), "...")
    text = re.sub(r"(step-\d{6})-\d{8}-\d{6}", r"\1-YYYYmmdd-HHMMSS", text)
    text = re.sub(r"replayed in \d+(?:\.\d+)? s", "replayed in <t> s", text)
    lines = [line for line in text.splitlines() if not _TF_LOG.match(line)]
    return "\n".join(lines).rstrip("\n")


def _environment(bin_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NO_COLOR="1",
        COLUMNS="100",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONUNBUFFERED="1",
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT)]),
    )
    env.pop("FORCE_COLOR", None)
    return env


def _shell(command: str, cwd: str, env: dict[str, str], merge: bool = True) -> str:
    """The command's stdout, and its stderr in order with it when ``merge`` (as a terminal
    shows them); without ``merge`` stderr is dropped (a JSON block shows stdout only)."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        text=True,
        timeout=900,
    )
    if not merge and result.returncode not in (0, 1):
        raise RuntimeError(f"{command!r} exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


class Fixtures:
    """Temporary folders, each prepared once: ``runs`` holds tests/postmortem_models.py's
    checkpoints (copied for each block), ``run`` holds docs/surfaces/run.md's train.py, ``crash`` is one folder holding train.py, shared by the
    blocks (the first that runs ``python train.py`` writes the bundle the others read)."""

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="nantrace-docs-")
        self.bin = os.path.join(self.base, "bin")
        os.makedirs(self.bin)
        shim = os.path.join(self.bin, "nantrace")
        with open(shim, "w") as handle:
            handle.write(f'#!/bin/sh\nexec "{sys.executable}" -m nantrace "$@"\n')
        os.chmod(shim, 0o755)
        self.env = _environment(self.bin)
        self.ready: dict[str, str] = {}

    def folder(self, name: str) -> str:
        """A fresh folder for one block; ``runs`` is built once and copied."""
        if name == "crash":  # one folder: the blocks share the bundle the first one writes
            if "crash" not in self.ready:
                self.ready["crash"] = tempfile.mkdtemp(prefix="crash-", dir=self.base)
                Path(self.ready["crash"], "train.py").write_text(TRAIN_PY)
            return self.ready["crash"]
        path = tempfile.mkdtemp(prefix=f"{name}-", dir=self.base)
        if name == "run":
            Path(path, "train.py").write_text(RUN_TRAIN_PY)
        if name == "runs":
            if "runs" not in self.ready:
                built = tempfile.mkdtemp(prefix="runs-src-", dir=self.base)
                made = subprocess.run(
                    [sys.executable, "-c", RUNS_PY], cwd=built, env=self.env, capture_output=True
                )
                if made.returncode != 0:
                    raise RuntimeError(f"building the runs/ fixture failed: {made.stderr[-2000:]}")
                self.ready["runs"] = built
            shutil.copytree(os.path.join(self.ready["runs"], "runs"), os.path.join(path, "runs"))
        return path

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def generate(name: str, fixtures: Fixtures) -> str:
    """The body of block NAME (its fenced code block), by running its commands."""
    block = BLOCKS[name]
    cwd = fixtures.folder(block.fixture)
    for command in block.setup:
        _shell(command, cwd, fixtures.env)
    shown = []
    for command in block.commands:
        raw = _shell(command, cwd, fixtures.env, merge=block.show_commands)
        output = normalise(raw, cwd)
        if block.transform is not None:
            output = block.transform(output)
        if block.show_commands:
            shown.append(f"$ {command}")
        if output:
            shown.append(output)
    return f"{block.fence}{block.lang}\n" + "\n".join(shown) + f"\n{block.fence}"


def blocks_in_docs() -> dict[str, list[tuple[Path, str]]]:
    """Every generated block in docs/ and README.md: NAME -> [(file, current body)]."""
    found: dict[str, list[tuple[Path, str]]] = {}
    for path in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for match in MARK.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match["name"], []).append((path, match["body"]))
    return found


def _rewrite(path: Path, bodies: dict[str, str]) -> bool:
    text = path.read_text(encoding="utf-8")

    def swap(match: re.Match[str]) -> str:
        body = bodies.get(match["name"], match["body"])
        return match.group(1) + body + match.group(4)

    new = MARK.sub(swap, text)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the command outputs in docs/.")
    parser.add_argument("names", nargs="*", help="blocks to regenerate (default: all)")
    parser.add_argument("--cheap", action="store_true", help="only blocks that train nothing")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    in_docs = blocks_in_docs()
    unknown = sorted(set(in_docs) - set(BLOCKS)) + [n for n in args.names if n not in BLOCKS]
    if unknown:
        print(f"regenerate: unknown block(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    unused = sorted(set(BLOCKS) - set(in_docs))
    if unused:
        print(f"regenerate: note: not used in any doc: {', '.join(unused)}", file=sys.stderr)
    names = args.names or [n for n in BLOCKS if n in in_docs]
    if args.cheap:
        names = [n for n in names if BLOCKS[n].cheap]
    fixtures = Fixtures()
    stale = []
    try:
        for name in names:  # each block is written as soon as it is made
            print(f"regenerate: {name}", file=sys.stderr, flush=True)
            body = generate(name, fixtures)
            for path, old in in_docs.get(name, []):
                if old != body:
                    stale.append(name)
                    if args.check:  # show what changed, as a unified diff
                        lines = difflib.unified_diff(
                            old.splitlines(),
                            body.splitlines(),
                            f"{path.name}: {name}",
                            "now",
                            lineterm="",
                        )
                        print("\n".join(lines), file=sys.stderr)
            if not args.check:
                for path in sorted({path for path, _ in in_docs.get(name, [])}):
                    if _rewrite(path, {name: body}):
                        print(f"regenerate: rewrote {path.relative_to(ROOT)}", file=sys.stderr)
    finally:
        fixtures.close()
    if args.check and stale:
        print(f"regenerate: out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
