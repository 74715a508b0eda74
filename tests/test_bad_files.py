"""Bad input to ``nantrace scan`` / ``diff``: one line on stderr, exit 2, no traceback, no hang.

The mutation test truncates and flips bytes of real files (TF checkpoint index and data, the
``checkpoint`` state file, a .keras archive, a .weights.h5) at many offsets and runs the CLI in
this process on each. A watchdog kills the process if a reader hangs in C code, and an alarm
fails the test if one hangs in Python.

What "correct" means for a mutated file that still reads: TF checkpoints (CRC32C per block and
per tensor) and .keras archives (CRC-32 per member) detect corruption, so any run that does not
fail must print exactly what the intact file gives — never a silently different answer. HDF5
has no checksums on raw data: a flipped byte inside an array is a valid file with a different
value, so for .weights.h5 the requirement is only "a complete, valid report or a one-line
error".
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import postmortem_models as pm
import pytest

MUTATIONS_PER_KIND = 60  # x 4 file kinds, plus the state file: > 200 mutations in all
SECONDS_PER_RUN = 20


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("good"))
    return pm.healthy(directory)


@contextlib.contextmanager
def hang_guard(seconds: float):
    """Fail (alarm) or, if stuck in C code, kill the process (faulthandler) after ``seconds``."""
    faulthandler.dump_traceback_later(seconds + 30, exit=True)
    use_alarm = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    previous = None
    if use_alarm:

        def on_alarm(signum, frame):
            raise TimeoutError(f"nantrace did not finish within {seconds} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


def assert_one_line_error(code: int, out: str, err: str) -> None:
    assert code == 2, (code, err)
    assert out == ""
    assert err.startswith("nantrace: error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err


def run(*argv: str) -> tuple[int, str, str]:
    with hang_guard(SECONDS_PER_RUN):
        return pm.run_cli(*argv)


# -- wrong paths ---------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    code, out, err = run("scan", str(tmp_path / "nope"))
    assert_one_line_error(code, out, err)
    assert "no such file or directory" in err and ".keras" in err


def test_directory_without_checkpoint(tmp_path, good):
    shutil.copy(good.keras, tmp_path / "model.keras")
    code, out, err = run("scan", str(tmp_path))
    assert_one_line_error(code, out, err)
    assert "no TensorFlow checkpoint" in err
    assert "model.keras" in err  # says what it did find


def test_prefix_without_index(tmp_path, good):
    code, out, err = run("scan", good.prefixes[0] + "-missing")
    assert_one_line_error(code, out, err)
    assert "checkpoints there:" in err  # lists the real prefixes next to it


def test_index_without_data(tmp_path, good):
    shutil.copy(good.prefixes[0] + ".index", tmp_path / "lonely.index")
    code, out, err = run("scan", str(tmp_path / "lonely"))
    assert_one_line_error(code, out, err)
    assert ".data-00000-of-" in err


def test_state_file_naming_a_missing_checkpoint(tmp_path, good):
    directory = tmp_path / "ckpts"
    shutil.copytree(good.directory, directory)
    for name in os.listdir(directory):
        if name.startswith("ckpt-2"):
            os.unlink(directory / name)
    code, out, err = run("scan", str(directory))
    assert_one_line_error(code, out, err)
    assert "names checkpoint 'ckpt-2'" in err and "ckpt-1" in err


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.txt", b"just some text\n"),
        ("empty.keras", b""),
        ("fake.keras", b"PK\x03\x04 not really a zip"),
        ("fake.weights.h5", b"\x89HDF\r\n\x1a\n then garbage"),
        ("text.weights.h5", b"hello"),
    ],
)
def test_not_a_checkpoint(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run("scan", str(path))
    assert_one_line_error(code, out, err)


def test_keras_without_weights(tmp_path, good):
    import zipfile

    path = tmp_path / "config-only.keras"
    with zipfile.ZipFile(good.keras) as source, zipfile.ZipFile(path, "w") as target:
        target.writestr("config.json", source.read("config.json"))
    code, out, err = run("scan", str(path))
    assert_one_line_error(code, out, err)
    assert "no weights" in err


def test_diff_reports_the_bad_side(tmp_path, good):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(open(good.keras, "rb").read()[:100])
    code, out, err = run("diff", good.prefixes[0], str(broken))
    assert_one_line_error(code, out, err)
    assert "broken.keras" in err


# -- mutations -----------------------------------------------------------------------------------


def _copy_set(good, directory: str) -> dict[str, tuple[str, str]]:
    """kind → (file to mutate, argument to pass to scan), on a private copy."""
    os.makedirs(directory, exist_ok=True)
    prefix = os.path.join(directory, "ckpt")
    shutil.copy(good.prefixes[0] + ".index", prefix + ".index")
    shutil.copy(good.prefixes[0] + ".data-00000-of-00001", prefix + ".data-00000-of-00001")
    managed = os.path.join(directory, "managed")
    shutil.copytree(good.directory, managed)
    keras_path = os.path.join(directory, "model.keras")
    weights_path = os.path.join(directory, "model.weights.h5")
    shutil.copy(good.keras, keras_path)
    shutil.copy(good.weights, weights_path)
    return {
        "tf_index": (prefix + ".index", prefix),
        "tf_data": (prefix + ".data-00000-of-00001", prefix),
        "keras": (keras_path, keras_path),
        "weights_h5": (weights_path, weights_path),
        "state_file": (os.path.join(managed, "checkpoint"), managed),
    }


#: Formats whose readers verify checksums: a mutation either fails or changes nothing.
CHECKSUMMED = {"tf_index", "tf_data", "keras", "state_file"}


@pytest.mark.parametrize("kind", ["tf_index", "tf_data", "keras", "weights_h5", "state_file"])
def test_truncated_and_flipped_files(tmp_path, good, kind):
    target, argument = _copy_set(good, str(tmp_path))[kind]
    with open(target, "rb") as handle:
        original = handle.read()
    baseline = run("scan", argument, "--format", "json")
    assert baseline[0] == 0, baseline[2]
    rng = random.Random(f"nantrace-{kind}")
    count = MUTATIONS_PER_KIND if kind != "state_file" else 20
    size = len(original)
    cuts = sorted(rng.sample(range(size), min(count // 2, size)))
    flips = sorted(rng.sample(range(size), min(count - len(cuts), size)))
    mutations = [("truncate", c) for c in cuts] + [("flip", f) for f in flips]
    outcomes = {"error": 0, "same": 0, "different": 0}
    started = time.perf_counter()
    try:
        for mode, offset in mutations:
            if mode == "truncate":
                data = original[:offset]
            else:
                data = bytearray(original)
                data[offset] ^= 0xFF
                data = bytes(data)
            with open(target, "wb") as handle:
                handle.write(data)
            code, out, err = run("scan", argument, "--format", "json")
            where = f"{kind} {mode} at byte {offset} of {size}"
            if code == 2:
                assert_one_line_error(code, out, err)
                outcomes["error"] += 1
                continue
            assert code in (0, 1), where
            assert err == "", where
            report = pm.strict_json(out)  # a complete, valid report
            if out == baseline[1]:
                outcomes["same"] += 1
                continue
            outcomes["different"] += 1
            assert kind not in CHECKSUMMED, f"{where}: silently different result"
            assert mode == "flip", f"{where}: a truncated file was read as valid"
            assert report["kind"] == "nantrace.scan"
    finally:
        with open(target, "wb") as handle:
            handle.write(original)
    elapsed = time.perf_counter() - started
    assert sum(outcomes.values()) == len(mutations) >= count - 1
    if kind != "state_file":  # a cut after the state file's first line leaves it valid
        assert outcomes["error"] >= len(cuts)  # every truncation is detected
    print(f"{kind}: {len(mutations)} mutations {outcomes} in {elapsed:.2f} s")


# -- the real command line -------------------------------------------------------------------------


def _subprocess(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("NANTRACE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "nantrace", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_command_line_exit_codes(tmp_path, good):
    truncated_keras = tmp_path / "truncated.keras"
    truncated_keras.write_bytes(open(good.keras, "rb").read()[:-200])
    prefix = tmp_path / "ckpt"
    shutil.copy(good.prefixes[0] + ".index", str(prefix) + ".index")
    data = open(good.prefixes[0] + ".data-00000-of-00001", "rb").read()
    (tmp_path / "ckpt.data-00000-of-00001").write_bytes(data[: len(data) // 2])
    flipped = tmp_path / "flipped.weights.h5"
    raw = bytearray(open(good.weights, "rb").read())
    raw[0] ^= 0xFF  # the HDF5 signature
    flipped.write_bytes(bytes(raw))
    for argv in (
        ("scan", str(tmp_path / "missing.keras")),
        ("scan", str(truncated_keras)),
        ("diff", str(flipped), good.prefixes[0]),
        ("scan", str(prefix)),  # this one imports TensorFlow: its start-up noise must not leak
    ):
        result = _subprocess(*argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("nantrace: error: ")
        assert result.stderr.count("\n") == 1, result.stderr
    ok = _subprocess("scan", good.prefixes[1])
    assert ok.returncode == 0 and ok.stderr == ""
