"""The HTML history charts' y-axis labels: short, truthful, distinct, and inside the chart.

Large losses used to print in full (``12000000``) in a 45-pixel margin, which the SVG viewport
cut to its last digits (``000000``); with the old labels the browser test below counts 3
clipped labels on its first chart. The browser test measures every label's box in headless
Chromium; it is skipped where no Chromium can be found (CI installs it, see .ci/run).
"""

import math
import re
import shutil
import subprocess

import pytest

from nantrace.report.html import _y_ticks, chart_svg

RANGES = [
    (0.0, 1.3e6),
    (1.1e6, 1.3e6),
    (-5e5, 2.5e6),
    (1e6, 1e6 + 300),
    (1e-4, 9e-4),
    (3e-7, 9e-7),
    (0.1, 0.9),
    (0.0, 12.0),
    (-3.0, 3.0),
    (1e4, 9e4),
    (2e11, 9e11),
]


@pytest.mark.parametrize(("lo", "hi"), RANGES)
def test_linear_tick_labels_are_short_distinct_and_true(lo, hi):
    ticks = _y_ticks(lo, hi, log=False)
    labels = [label for _, label in ticks]
    assert len(ticks) >= 2
    assert len(set(labels)) == len(labels), labels
    step = ticks[1][0] - ticks[0][0]
    for value, label in ticks:
        assert len(label) <= 10, label
        assert abs(float(label) - value) <= step / 2, (label, value)


def test_log_tick_labels_are_powers_of_ten():
    labels = [label for _, label in _y_ticks(math.log10(3e2), math.log10(4e9), log=True)]
    assert labels and all(re.fullmatch(r"1e-?\d+", label) for label in labels), labels


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


CHECK_SCRIPT = """<script>
window.addEventListener('load', () => {
  let clipped = 0, labels = 0;
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const r = text.getBoundingClientRect();
      labels += 1;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) clipped += 1;
    }
  }
  document.body.setAttribute('data-labels', labels);
  document.body.setAttribute('data-clipped', clipped);
});
</script>"""


def _clipped_labels(tmp_path, svgs):
    page = tmp_path / "charts.html"
    page.write_text(
        "<!doctype html><html><body style='width:420px'>"
        + "".join(f"<div style='width:400px'>{svg}</div>" for svg in svgs)
        + CHECK_SCRIPT
        + "</body></html>",
        encoding="utf-8",
    )
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=800,2000",
        "--dump-dom",
        page.as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    labels = re.search(r'data-labels="(\d+)"', dom)
    clipped = re.search(r'data-clipped="(\d+)"', dom)
    assert labels and clipped, dom[-2000:]
    return int(labels.group(1)), int(clipped.group(1))


@pytest.mark.skipif(_chromium() is None, reason="no Chromium found (apt-get install chromium)")
def test_large_values_fit_the_chart_in_chromium(tmp_path):
    steps = list(range(8))
    charts = [
        chart_svg(
            "loss", steps, {"loss": [1.2e7, 1.3e7, 1.5e7, 1.9e7, 2.4e7, 2.1e7, 2.6e7, None]}, 7
        ),
        chart_svg("loss", steps, {"loss": [-4.1e5, 1e5, 9e5, 1.7e6, 2.3e6, 2.9e6, 3.3e6, None]}, 7),
        chart_svg("flat", steps, {"loss": [1e6 + 50 * s for s in steps]}, 7),
    ]
    # a control: a label placed left of the chart must be counted, or the check proves nothing
    control = '<svg viewBox="0 0 400 50"><text x="-30" y="20" font-size="11">clipped</text></svg>'
    labels, clipped = _clipped_labels(tmp_path, [*charts, control])
    assert labels > 20
    assert clipped == 1  # the control only
