"""The public API is exactly what ``nantrace.__all__`` says (httpx's drift test), reachable as
documented, and ``import nantrace`` stays free of TensorFlow until a TensorFlow name is used."""

import os
import subprocess
import sys

import keras
import numpy as np

import nantrace
from nantrace.postmortem import checkpoint


def test_all_names_resolve():
    for name in nantrace.__all__:
        assert getattr(nantrace, name) is not None


def test_all_matches_public_api():
    expected = {
        "watch",
        "Watched",
        "NanTraceCallback",
        "scan",
        "diff",
        "load_bundle",
        "NantraceError",
        "NonFiniteError",
        "NonFiniteWarning",
        "DivergenceWarning",
        "DivergenceError",
        "DivergenceReport",
        "Signal",
        "Cause",
        "Fix",
        "Health",
        "Origin",
        "Report",
        "Trip",
        "__version__",
    }
    assert set(nantrace.__all__) == expected


def test_names_in_a_fresh_process():
    """Whatever imports the scan / diff modules first, ``nantrace.scan`` and ``nantrace.diff``
    stay callable; the post-mortem names and load_bundle import no TensorFlow; the Keras
    callback is reachable as ``nantrace.keras.NanTraceCallback`` without an import statement."""
    code = (
        "import sys\n"
        "from nantrace.postmortem.diff import DiffReport\n"  # imports nantrace.scan before nantrace does
        "import nantrace\n"
        "assert callable(nantrace.scan) and callable(nantrace.diff), type(nantrace.scan)\n"
        "assert nantrace.scan.ScanReport and nantrace.diff.DiffReport is DiffReport\n"
        "from nantrace import scan\n"
        "assert scan is nantrace.scan and callable(scan.scan)\n"
        "nantrace.load_bundle\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "callback = nantrace.keras.NanTraceCallback\n"
        "print(callback is nantrace.NanTraceCallback, callback.__module__)\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True", "nantrace.keras"]


def test_scan_and_diff_are_callable_entry_points(tmp_path):
    """``nantrace.scan(path)`` / ``nantrace.diff(a, b)`` give what the module functions give."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    first = str(tmp_path / "a.weights.h5")
    model.save_weights(first)
    kernel = model.get_layer("d").kernel
    kernel.assign(kernel.numpy() * 50.0)
    second = str(tmp_path / "b.weights.h5")
    model.save_weights(second)

    scanned = nantrace.scan(second)
    assert scanned.to_dict() == nantrace.scan.scan(checkpoint.load(second)).to_dict()
    compared = nantrace.diff(first, second)
    expected = nantrace.diff.diff(checkpoint.load(first), checkpoint.load(second))
    assert compared.to_dict() == expected.to_dict()
    growth = [c for c in compared.to_dict()["variables"] if c["name"].endswith("kernel")]
    assert growth and np.isclose(growth[0]["ratio"], 50.0, rtol=1e-4)
    assert nantrace.diff(checkpoint.load(first), second).to_dict() == expected.to_dict()
