"""The HTML report in a real browser: headless Chromium loads it from a file, runs its script
without a console message, and the rendered DOM holds the key facts; a screenshot is taken
(kept in $NANTRACE_SCREENSHOT_DIR when set, for a person to look at).

CI installs Debian's ``chromium`` (.ci/run); elsewhere the test is skipped when no Chromium
can be found.
"""

import os
import re
import shutil
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.report.html import render_html


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (apt-get install chromium); .ci/run installs it so CI runs this",
)


def _real_report():
    """SGD with a learning rate far too high: weights grow for a few steps, then overflow."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="head"),
        ],
        name="browser_case",
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.05)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step = nantrace.watch(train_step)
    rng = np.random.default_rng(3)
    with pytest.raises(nantrace.NonFiniteError) as caught:
        for _ in range(60):
            x = rng.normal(0.0, 30.0, size=(32, 4)).astype("float32")
            step(tf.constant(x), tf.constant(x.sum(axis=1, keepdims=True)))
    return caught.value.report


def _browser(page, tmp_path, *extra):
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_html_report_renders_in_chromium(tmp_path):
    report = _real_report()
    assert report.graph and report.history and report.fixes
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")

    result = _browser(page, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    console = [
        line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line
    ]
    assert console == [], console
    dom = result.stdout
    assert 'data-rendered="yes"' in dom  # the page's script ran to its end
    for fact in (report.origin.op_type, report.origin.layer, report.cause.id, report.fixes[0].id):
        assert fact in dom, fact
    assert dom.count('class="node"') >= 3  # the provenance graph was drawn
    assert "polyline" in dom  # and the history charts

    shot = tmp_path / "report.png"
    result = _browser(
        page, tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
    assert len(data) > 50_000  # a rendered page, not a blank one
    keep = os.environ.get("NANTRACE_SCREENSHOT_DIR")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(shot, os.path.join(keep, "report.png"))
        shutil.copy(page, os.path.join(keep, "report.html"))


def test_html_is_self_contained():
    report = _real_report()
    page = render_html(report)
    without_namespace = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://", without_namespace)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\bsrc\s*=", page) and "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only in-page references (SVG markers)
