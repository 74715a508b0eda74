"""Reports display themselves in Jupyter: ``_repr_html_`` / ``_repr_markdown_`` of a real Report,
ScanReport and DiffReport; and once in headless Chromium, inside a notebook-like page, the
report renders in its frame without restyling the page around it."""

from __future__ import annotations

import html
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.report.html import render_html


@pytest.fixture(scope="module")
def report():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    optimizer = keras.optimizers.SGD(0.01)

    @nantrace.watch(verify=False)
    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.math.log(model(x) - 5.0))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    with pytest.raises(nantrace.NonFiniteError) as caught:
        train_step(np.ones((8, 4), "float32"))
    return caught.value.report


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_report_repr_html_is_the_page_in_a_sandboxed_frame(report):
    shown = report._repr_html_()
    parser = _Frames()
    parser.feed(shown)
    assert [tag for tag, _ in parser.tags] == ["iframe"]  # nothing else reaches the notebook
    attrs = parser.tags[0][1]
    assert attrs["sandbox"] == "allow-scripts"  # its script runs, but not as the notebook
    assert attrs["srcdoc"] == render_html(report)  # the whole self-contained page, unescaped
    assert "<style" not in shown and "<script" not in shown  # only escaped, inside srcdoc
    assert report.headline() in html.unescape(attrs["title"])


def test_report_repr_markdown(report):
    text = report._repr_markdown_()
    assert text.startswith("**nantrace** — non-finite at step 0")
    assert "```text\n" in text and "WHERE" in text and "WHAT TO CHANGE" in text
    assert str(report) in text


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A healthy .weights.h5, and the same model after a few steps of SGD at lr 1e30."""
    folder = tmp_path_factory.mktemp("ckpt")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")])
    model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")
    healthy, broken = str(folder / "a.weights.h5"), str(folder / "b.weights.h5")
    model.save_weights(healthy)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    model.fit(x, x[:, :2] * 100, epochs=3, verbose=0)
    model.save_weights(broken)
    return healthy, broken


def test_scan_and_diff_repr(checkpoints):
    from nantrace.postmortem import checkpoint, diff, scan

    healthy, broken = checkpoints
    scanned = scan.scan(checkpoint.load(broken))
    compared = diff.diff(checkpoint.load(healthy), checkpoint.load(broken))
    assert scanned.verdict == "non_finite" and compared.verdict == "non_finite"
    for result, text in (
        (scanned, scan.render_text(scanned)),
        (compared, diff.render_text(compared)),
    ):
        shown = result._repr_html_()
        assert "<style" not in shown and "<script" not in shown
        assert html.escape(text) in shown and html.escape(result.headline()) in shown
        markdown = result._repr_markdown_()
        assert text.rstrip() in markdown and "NON-FINITE" in markdown


# -- once in a real browser --------------------------------------------------------------------


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


NOTEBOOK = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body{background:#fefce8} h1{font-family:serif}
</style></head><body><h1 id="cell">Notebook cell</h1>
<div style="position:absolute;top:120px;left:0;width:1000px">%s</div>
<script>
var frame = document.querySelector("iframe");
function record() {
  var body = getComputedStyle(document.body), h1 = getComputedStyle(document.getElementById("cell"));
  document.body.setAttribute("data-seen", [body.backgroundColor, body.margin, h1.fontSize].join("|"));
}
frame.addEventListener("load", record);
record();
</script></body></html>"""


def _pixel(png: bytes, x: int, y: int) -> tuple[int, ...]:
    """RGB of one pixel of an 8-bit RGB/RGBA PNG (Chromium's screenshots), no imaging library."""
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        if png[at + 4 : at + 8] == b"IDAT":
            chunks.append(png[at + 8 : at + 8 + length])
        at += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    for row in range(y + 1):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 255
        previous = line
    return tuple(previous[x * channels : x * channels + 3])


@pytest.mark.skipif(_chromium() is None, reason="no Chromium found (apt-get install chromium)")
def test_report_in_a_notebook_page_renders_and_leaves_the_page_alone(report, tmp_path):
    page = tmp_path / "notebook.html"
    page.write_text(NOTEBOOK % report._repr_html_(), encoding="utf-8")
    common = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--hide-scrollbars",
        "--window-size=1100,900",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the notebook keeps its own background, body margin and heading size: the report's
    # body{margin:0;background:#f9fafb} and h1{font-size:24px} stayed inside the frame
    assert 'data-seen="rgb(254, 252, 232)|8px|32px"' in dom.stdout

    shot = tmp_path / "notebook.png"
    command = [
        *common,
        # paint the frame in the page's own renderer and let it settle before the shot
        "--disable-features=IsolateSandboxedIframes",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=10000",
        f"--screenshot={shot}",
        page.as_uri(),
    ]
    # On a loaded machine Chromium can still photograph the frame before its first paint: up
    # to three shots; a report that never renders fails all three.
    header = []
    for _ in range(3):
        result = subprocess.run(command, capture_output=True, timeout=180)
        assert result.returncode == 0, result.stderr[-2000:]
        png = shot.read_bytes()
        assert _pixel(png, 500, 60) == (254, 252, 232)  # the notebook around the frame
        header.append(_pixel(png, 500, 150))
        if header[-1] == (17, 24, 39):  # the report's dark header, inside the frame
            break
    assert header[-1] == (17, 24, 39), header
    keep = os.environ.get("NANTRACE_SCREENSHOT_DIR")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(shot, os.path.join(keep, "notebook.png"))
