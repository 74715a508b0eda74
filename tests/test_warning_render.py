"""Rendering an early warning: text (plain, rich), JSON, the HTML page and its charts, the
notebook reprs, the warning bundle and ``nantrace report`` on it (with its one-line errors).

The warning's history and state come from a real watched run (an MLP whose gradient norm grows
under a too-high SGD learning rate, still finite); the report itself is written by hand with
the numbers of that run, so each assertion is about the rendering, not the detectors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import inspect
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.bundle import load_bundle, write_warning_bundle
from nantrace.cli import main as cli
from nantrace.compat import tf as _tf_compat
from nantrace.diagnosis.pipeline import history_summary
from nantrace.report.html import render_html
from nantrace.report.records import Cause, Fix
from nantrace.report.warning_html import threshold_line
from nantrace.report.warning_records import DivergenceReport, Signal

_QUIET = (
    {"early_warning": "off"}
    if "early_warning" in inspect.signature(nantrace.watch).parameters
    else {}
)
STEPS = 24


@pytest.fixture(scope="module")
def run():
    """A watched MLP at SGD(0.6): 24 finite steps with a growing gradient norm."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.SGD(0.6)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    watched = nantrace.watch(train_step, model=model, optimizer=optimizer, **_QUIET)
    for step in range(STEPS):
        batch = (tf.constant(x[step % 8 * 32 :][:32]), tf.constant(y[step % 8 * 32 :][:32]))
        watched(*batch)
    record = watched.history.read()
    assert np.isfinite(record.grad_norm).all()
    return watched, batch, history_summary(record)


def make_report(history, signal_id="grad_norm_growth", **changes) -> DivergenceReport:
    grads = [g for g in history["grad_norm"] if g is not None]
    baseline = float(np.median(grads[:5]))
    signal = Signal(
        signal_id,
        f"global gradient norm {grads[-1]:.3g} is {grads[-1] / baseline:.3g}x its healthy level "
        f"{baseline:.3g} (threshold 10x) for 4 steps",
        value=grads[-1] / baseline,
        threshold=10.0,
        baseline=baseline,
        window=4,
    )
    spike = Signal("loss_spike", "loss 2795 above its healthy level 14.5", 2795.0, 61.4, 14.5, 6)
    trained = Fix(
        "lower_learning_rate",
        "the updates are too large",
        {"current": 0.6, "suggested": 0.2, "verification": "trains: 117 steps from the anchor"},
        "optimizer.learning_rate = 0.2",
        verified=True,
        verdict="trains",
    )
    failed = Fix(
        "clip_gradients",
        "clipping bounds each update",
        {"clipnorm": 1e9, "verification": "fails: out of its band for good from step 3"},
        "SGD(..., global_clipnorm=1e+09)",
        verified=False,
        verdict="fails",
    )
    report = DivergenceReport(
        step=STEPS - 1,
        signal=signal,
        signals=(signal, spike),
        cause=Cause("learning_rate_too_high", "the updates are too large", {"lr": 0.6}, 0.85),
        fixes=(trained,),
        tried=(failed,),
        history=history,
        notes=("1 fix(es) replayed from the anchor at step 0 against a control run",),
    )
    return dataclasses.replace(report, **changes)


# -- text, JSON ---------------------------------------------------------------------------------
def test_text_names_the_signal_its_threshold_and_the_ranked_fixes(run):
    report = make_report(run[2])
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == f"nantrace: {report.headline()}"
    assert lines[1:3] == ["SIGNAL", f"  grad_norm_growth: {report.signal.summary}"]
    assert f"threshold 10x, healthy gradient norm {report.signal.baseline:.3g}" in lines[3]
    assert "  - loss_spike: loss 2795 above its healthy level 14.5" in lines
    assert "  1. lower_learning_rate [verified: trains]: the updates are too large" in lines
    assert "     optimizer.learning_rate = 0.2" in lines
    assert "TRIED BY REPLAY, DID NOT STOP THE GROWTH" in lines
    assert any(
        line.startswith("  - clip_gradients [fails]: fails: out of its band") for line in lines
    )
    assert lines[-1].startswith("nothing was rolled back")
    assert "WHERE" not in lines and "state restored" not in text  # no trip wording


def test_rich_text_is_the_plain_text_in_colour(run):
    from rich.console import Console

    report = make_report(run[2])
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="standard", width=400).print(report)
    coloured = buffer.getvalue()
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).rstrip("\n") == str(report)


def test_json_round_trips_with_its_kind(run):
    report = make_report(run[2])
    data = json.loads(report.to_json())
    assert data["kind"] == "divergence_warning" and data["signal"]["threshold"] == 10.0
    assert DivergenceReport.from_json(report.to_json()) == report


# -- HTML ---------------------------------------------------------------------------------------
def _charts(page: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="chart"><h3>([^<]*)</h3>(.*?)</svg></div>', page, re.S))


def test_html_charts_mark_the_warning_step_and_the_threshold(run):
    report = make_report(run[2])
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    charts = _charts(page)
    assert set(charts) == {"loss", "global gradient norm", "weight norms (fastest-growing)"}
    for svg in charts.values():  # every chart has the amber warning line at the warning step
        assert f"<title>warning at step {STEPS - 1}</title>" in svg
        assert ">trip<" not in svg
    level = report.signal.baseline * report.signal.threshold
    grad = charts["global gradient norm"]
    (title,) = re.findall(r'class="threshold"><title>([^<]*)</title>', grad)
    assert title.startswith("threshold 10x healthy") and title.endswith(f": {level:.3g}")
    # the loss chart carries the threshold of the other signal over it at that step
    assert 'class="threshold"><title>spike threshold 61.4: 61.4</title>' in charts["loss"]
    # the line sits where the chart's own scale puts that level: between the ticks around it
    y = float(re.search(r'y1="([0-9.]+)"[^>]*class="threshold"', grad).group(1))
    ticks = {
        float(v): float(t)
        for t, v in re.findall(r'<text x="[0-9.]+" y="([0-9.]+)"[^>]*>1e(-?\d+)</text>', grad)
    }
    below = max(e for e in ticks if 10**e <= level)
    above = min(e for e in ticks if 10**e >= level)
    assert ticks[above] - 4 <= y <= ticks[below] - 4  # tick labels sit 4 px below their line
    assert '<section id="signal">' in page and "learning_rate_too_high" in page
    assert "verified by replay: trains" in page and "Tried by replay" in page


def test_a_loss_spike_threshold_is_drawn_on_the_loss_chart(run):
    report = make_report(run[2])
    spike = report.signals[1]
    report = dataclasses.replace(report, signal=spike, signals=(spike,))
    assert threshold_line(spike, report.history) == ("loss", 61.4, "spike threshold 61.4")
    charts = _charts(render_html(report))
    assert 'class="threshold"><title>spike threshold 61.4: 61.4</title>' in charts["loss"]
    assert 'class="threshold"' not in charts["global gradient norm"]


def test_a_statistic_the_history_does_not_keep_is_stated_not_drawn(run):
    report = make_report(run[2], signal_id="update_ratio")
    assert threshold_line(report.signal, report.history) is None
    page = render_html(report)
    assert "The threshold of update_ratio" in page and "is not drawn" in page
    charts = _charts(page)
    assert 'class="threshold"' not in charts["global gradient norm"]
    assert "spike threshold" in charts["loss"]  # the other signal's, and the page says so
    assert "the dashed lines are other signals' thresholds" in page
    alone = render_html(dataclasses.replace(report, signals=(report.signal,)))
    assert 'class="threshold"' not in alone and "dashed lines" not in alone


def test_notebook_reprs(run):
    report = make_report(run[2])
    frame = report._repr_html_()
    assert (
        frame.startswith('<iframe class="nantrace-report"') and 'sandbox="allow-scripts"' in frame
    )
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == render_html(report)
    assert str(report) in report._repr_markdown_()


# -- bundles and `nantrace report` --------------------------------------------------------------
@pytest.fixture(scope="module")
def warning_bundle(run, tmp_path_factory):
    watched, batch, history = run
    root = tmp_path_factory.mktemp("warnings")
    report = write_warning_bundle(watched, make_report(history), batch, {}, str(root))
    assert report.bundle is not None, report.notes
    return report


def test_warning_bundle_is_private_checked_and_reads_back(warning_bundle, run):
    report = warning_bundle
    folder = report.bundle
    assert os.path.basename(folder).startswith(f"warning-{STEPS - 1:06d}-")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for name in os.listdir(folder):
        assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600, name
    with open(os.path.join(folder, "bundle.json"), "rb") as handle:
        manifest_bytes = handle.read()
    with open(os.path.join(folder, "bundle.sha256")) as handle:
        assert handle.read().split()[0] == hashlib.sha256(manifest_bytes).hexdigest()
    manifest = json.loads(manifest_bytes)
    assert manifest["kind"] == "divergence_warning" and manifest["step"] == STEPS - 1
    assert manifest["anchor"]["step"] == 0  # the pre-training anchor, 24 batches before
    loaded = load_bundle(folder)
    assert isinstance(loaded.report, DivergenceReport) and loaded.report == report
    watched = run[0]
    saved = {item.name: item.value for item in loaded.state()}
    kernel = _tf_compat.as_tf_variable(watched.model.layers[0].kernel)
    assert np.array_equal(saved[kernel.name], kernel.numpy())  # the state after the step


def _cli(capsys, *args):
    code = cli.main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_nantrace_report_renders_a_warning_bundle_like_a_trip_bundle(
    warning_bundle, capsys, tmp_path
):
    folder = warning_bundle.bundle
    code, out, _ = _cli(capsys, folder)
    assert code == 1 and out.rstrip("\n") == str(warning_bundle)
    code, out, _ = _cli(capsys, folder, "--format", "json")
    assert code == 1 and DivergenceReport.from_json(out) == warning_bundle
    page = tmp_path / "warning.html"
    code, _, err = _cli(capsys, folder, "--format", "html", "-o", str(page))
    assert code == 1 and page.read_text() == render_html(warning_bundle)
    assert "report written to" in err
    report_json = tmp_path / "warning.json"
    report_json.write_text(warning_bundle.to_json())
    code, out, _ = _cli(capsys, str(report_json), "--format", "text")
    assert code == 1 and out.rstrip("\n") == str(warning_bundle)


def _one_line_error(code, err):
    assert code == 2
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("nantrace: error:")
    return line


def test_a_warning_bundle_is_not_replayed_nor_drawn_as_a_graph(warning_bundle, capsys):
    folder = warning_bundle.bundle
    line = _one_line_error(*_cli(capsys, folder, "--replay", "--trust")[::2])
    assert "early-warning bundle" in line
    line = _one_line_error(*_cli(capsys, folder, "--format", "graphml")[::2])
    assert "no provenance graph" in line


def test_broken_warning_bundles_are_one_line_errors(warning_bundle, tmp_path, capsys):
    edited = tmp_path / "edited"
    shutil.copytree(warning_bundle.bundle, edited)
    data = json.loads((edited / "report.json").read_text())
    data["step"] = 0
    (edited / "report.json").write_text(json.dumps(data))
    line = _one_line_error(*_cli(capsys, str(edited))[::2])
    assert "report.json" in line and ("checksum" in line or "truncated or damaged" in line)

    bad_schema = tmp_path / "warning.json"
    data = json.loads(warning_bundle.to_json())
    data["schema_version"] = 99
    bad_schema.write_text(json.dumps(data))
    line = _one_line_error(*_cli(capsys, str(bad_schema))[::2])
    assert "divergence warning" in line and "schema" in line

    del data["signal"]
    data["schema_version"] = 1
    bad_schema.write_text(json.dumps(data))
    line = _one_line_error(*_cli(capsys, str(bad_schema))[::2])
    assert "cannot be read as a nantrace divergence warning" in line


def test_the_command_line_process_keeps_the_contract(warning_bundle, tmp_path):
    """The real entry point: exit 1 with the report, exit 2 and one line for a broken bundle."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_COLOR="1")
    env.pop("NANTRACE_DEBUG", None)

    def nantrace_report(*args):
        return subprocess.run(
            [sys.executable, "-m", "nantrace", "report", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )

    shown = nantrace_report(warning_bundle.bundle)
    assert shown.returncode == 1 and shown.stdout.rstrip("\n") == str(warning_bundle)
    broken = tmp_path / "broken"
    shutil.copytree(warning_bundle.bundle, broken)
    os.remove(broken / "state.npz")
    failed = nantrace_report(str(broken))
    line = _one_line_error(failed.returncode, failed.stderr)
    assert "state.npz" in line and "missing" in line


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no Chromium"
)
def test_the_warning_page_renders_in_chromium(run, tmp_path):
    page = tmp_path / "warning.html"
    page.write_text(render_html(make_report(run[2])), encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [
        line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line
    ]
    assert console == [], console
    assert 'data-rendered="yes"' in result.stdout  # the page's script ran to its end
    assert result.stdout.count('class="marker"') == 3 and "polyline" in result.stdout
