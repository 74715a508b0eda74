"""Crash bundles cannot run foreign code: tampered bundles fail closed (exit 2, one line,
nothing executed), replay needs --trust, files are private, the sweep spares other hosts.

Each attack edits a copy of a real bundle the way an attacker would, including rewriting
``bundle.sha256`` so that the check under test (not the checksum) is what stops it. "Nothing
executed" is observed with marker files: the step's module writes one when it is imported, and
each attack's payload would create another.
"""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.bundle import BundleError, load_bundle, replay_bundle, write_bundle
from nantrace.bundle import write as bundle_module

MODULE = "nantrace_secure_step"
STEP_SOURCE = '''"""A module-level step for the bundle security tests."""

import os

if os.environ.get("NANTRACE_IMPORT_MARKER"):  # proves (or disproves) that replay imported us
    with open(os.environ["NANTRACE_IMPORT_MARKER"], "w") as handle:
        handle.write("imported")

import keras
import tensorflow as tf

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="head")], name="secure")
optimizer = keras.optimizers.SGD(0.01)


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss
'''


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    """A real bundle of an importable step that tripped on a NaN in its batch."""
    src = tmp_path_factory.mktemp("src")
    (src / f"{MODULE}.py").write_text(STEP_SOURCE)
    sys.path.insert(0, str(src))
    try:
        module = __import__(MODULE)
    finally:
        sys.path.remove(str(src))
    bundle_dir = tmp_path_factory.mktemp("bundles")
    step = nantrace.watch(module.train_step, bundle_dir=str(bundle_dir))
    step.verify = False  # the diagnosis is not under test
    x = np.ones((4, 3), np.float32)
    step(tf.constant(x), tf.ones((4, 1)))
    x[1, 2] = np.nan
    with pytest.raises(nantrace.NonFiniteError) as caught:
        step(tf.constant(x), tf.ones((4, 1)))
    report = caught.value.report
    assert report.bundle, report.notes
    return types.SimpleNamespace(
        step=step, report=report, path=report.bundle, module_file=str(src / f"{MODULE}.py")
    )


def run(*args, env=None):
    full = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_COLOR="1", **(env or {}))
    full.pop("NANTRACE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "nantrace", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=full,
    )


def one_line_error(result):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("nantrace: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def copy_of(genuine, tmp_path):
    return shutil.copytree(genuine.path, tmp_path / "bundle")


def edit_manifest(folder, change, reseal=True):
    """Edit ``bundle.json``; ``reseal`` also rewrites ``bundle.sha256`` as an attacker would."""
    manifest = json.loads((folder / "bundle.json").read_text())
    change(manifest)
    data = json.dumps(manifest, indent=2).encode()
    (folder / "bundle.json").write_bytes(data)
    if reseal:
        (folder / "bundle.sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  bundle.json\n")


def sha256_of(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def string_batch(command):
    """A tripping batch holding one string: what an ``os.system`` payload needs."""
    return {
        "t": "dict",
        "items": {
            "args": {"t": "list", "items": [{"t": "value", "value": command}]},
            "kwargs": {"t": "dict", "items": {}},
        },
    }


def test_genuine_bundle_records_the_module_file_and_its_checksum(genuine):
    ref = load_bundle(genuine.path).function
    assert ref["importable"] and ref["module"] == MODULE and ref["qualname"] == "train_step"
    assert os.path.samefile(ref["file"], genuine.module_file) and os.path.isabs(ref["file"])
    assert ref["sha256"] == sha256_of(genuine.module_file)
    recorded = (open(os.path.join(genuine.path, "bundle.sha256")).read()).split()
    assert recorded == [sha256_of(os.path.join(genuine.path, "bundle.json")), "bundle.json"]


def test_replay_without_trust_is_refused_and_says_what_it_would_import(genuine, tmp_path):
    marker = tmp_path / "imported"
    error = one_line_error(
        run("report", genuine.path, "--replay", env={"NANTRACE_IMPORT_MARKER": str(marker)})
    )
    assert "refusing to replay" in error and "--trust" in error
    assert genuine.module_file in error and "train_step" in error
    assert not marker.exists()
    with pytest.raises(BundleError, match="trust=True"):  # the Python API refuses too
        replay_bundle(load_bundle(genuine.path))


@pytest.mark.parametrize(
    "attack",
    [
        "os_system_with_a_command",  # module/qualname swapped, the payload in the batch
        "os_file_with_a_command",  # ... and file + sha256 pointing at the real os.py
        "os_file_with_tensors",  # ... with the genuine tensor batch: the callee check stops it
        "attribute_path_to_os_system",  # the genuine file, qualname walking to its os.system
    ],
)
def test_manifest_naming_os_system_runs_nothing(genuine, tmp_path, attack):
    payload = tmp_path / "payload-ran"
    imported = tmp_path / "imported"

    def change(manifest):
        function = manifest["function"]
        if attack == "attribute_path_to_os_system":
            function["qualname"] = "os.system"
            return
        function.update(module="os", qualname="system")
        if attack != "os_system_with_a_command":
            function.update(file=os.__file__, sha256=sha256_of(os.__file__))
        if attack != "os_file_with_tensors":
            manifest["batches"]["trip"] = string_batch(f"touch {payload}")
            manifest["batches"]["recent"] = []

    copy = copy_of(genuine, tmp_path)
    edit_manifest(copy, change)
    result = run(
        "report",
        str(copy),
        "--replay",
        "--trust",
        "--no-verify",
        env={"NANTRACE_IMPORT_MARKER": str(imported)},
    )
    error = one_line_error(result)
    assert not payload.exists()
    if attack == "os_system_with_a_command" or attack == "os_file_with_a_command":
        assert "holds a str value" in error
        assert not imported.exists()
    elif attack == "os_file_with_tensors":
        assert "os:system is a builtin_function_or_method" in error and "refusing" in error
        assert not imported.exists()
    else:  # the recorded file is genuine, so it is imported, but os.system is never called
        assert f"{MODULE}:os.system is a builtin_function_or_method" in error


def test_changed_or_missing_module_file_is_refused(genuine, tmp_path):
    imported = tmp_path / "imported"
    env = {"NANTRACE_IMPORT_MARKER": str(imported)}
    original = open(genuine.module_file).read()
    try:
        with open(genuine.module_file, "a") as handle:
            handle.write("\nprint('edited after the bundle was written')\n")
        error = one_line_error(run("report", genuine.path, "--replay", "--trust", env=env))
        assert "changed since the bundle was written" in error and genuine.module_file in error
        os.rename(genuine.module_file, genuine.module_file + ".moved")
        error = one_line_error(run("report", genuine.path, "--replay", "--trust", env=env))
        assert "is missing" in error and genuine.module_file in error
    finally:
        if os.path.exists(genuine.module_file + ".moved"):
            os.rename(genuine.module_file + ".moved", genuine.module_file)
        with open(genuine.module_file, "w") as handle:
            handle.write(original)
    assert not imported.exists()


@pytest.fixture()
def outside_secret(tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("SECRET-" + "x" * 7769)  # 7776 bytes, a size no bundle file has
    return secret


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "OUTSIDE", "../outside/secret.txt", "..", ".hidden"],
)
def test_manifest_file_names_are_confined_to_the_bundle(genuine, tmp_path, outside_secret, name):
    name = str(outside_secret) if name == "OUTSIDE" else name

    def change(manifest):
        entry = next(e for e in manifest["contents"] if e["name"] == "state.npz")
        entry.update(name=name, bytes=7776, sha256=sha256_of(outside_secret))
        manifest["state"]["file"] = name

    copy = copy_of(genuine, tmp_path)
    edit_manifest(copy, change)
    error = one_line_error(run("report", str(copy)))
    assert "not a plain file name inside the bundle folder" in error
    assert "7776" not in error and "SECRET" not in error


def test_symlink_escaping_the_bundle_is_refused(genuine, tmp_path, outside_secret):
    copy = copy_of(genuine, tmp_path)
    os.remove(copy / "state.npz")
    os.symlink(outside_secret, copy / "state.npz")
    error = one_line_error(run("report", str(copy)))
    assert "state.npz is a symbolic link" in error
    assert "7776" not in error and "SECRET" not in error
    # the manifest itself may not be a link either
    os.remove(copy / "state.npz")
    shutil.copy(os.path.join(genuine.path, "state.npz"), copy / "state.npz")
    os.rename(copy / "bundle.json", tmp_path / "bundle.json")
    os.symlink(tmp_path / "bundle.json", copy / "bundle.json")
    assert "bundle.json is a symbolic link" in one_line_error(run("report", str(copy)))


def test_manifest_edited_without_its_checksum_fails_closed(genuine, tmp_path):
    imported = tmp_path / "imported"
    copy = copy_of(genuine, tmp_path)
    edit_manifest(copy, lambda m: m.update(headline="all is well"), reseal=False)
    for args in ([], ["--replay", "--trust"]):
        result = run("report", str(copy), *args, env={"NANTRACE_IMPORT_MARKER": str(imported)})
        error = one_line_error(result)
        assert "does not match bundle.sha256" in error and "refusing to read it" in error
    os.remove(copy / "bundle.sha256")
    assert "bundle.sha256 is missing" in one_line_error(run("report", str(copy)))
    assert not imported.exists()


def test_bundle_files_are_private_and_the_umask_untouched(genuine, tmp_path, monkeypatch):
    def modes(folder):
        out = {".": stat.S_IMODE(os.stat(folder).st_mode)}
        for name in os.listdir(folder):
            out[name] = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
        return out

    written = modes(genuine.path)
    assert written.pop(".") == 0o700
    assert set(written.values()) == {0o600} and "bundle.sha256" in written

    real_umask = os.umask
    previous = real_umask(0)  # the most permissive umask: modes come from os.open / mkdir
    calls = []
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
    try:
        s = genuine
        report = write_bundle(s.step, s.report, (tf.ones((4, 3)), tf.ones((4, 1))), {}, tmp_path)
    finally:
        real_umask(previous)
    assert calls == []
    assert report.bundle
    written = modes(report.bundle)
    assert written.pop(".") == 0o700
    assert set(written.values()) == {0o600}


def test_sweep_removes_only_this_hosts_dead_writers(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead = finished.pid
    host = bundle_module._host_tag()
    names = {
        "own_dead": f".staging-{dead}-{host}-abc123",
        "own_alive": f".staging-{os.getppid()}-{host}-abc123",
        "other_host": f".staging-{dead}-otherhost.0123abcd-abc123",
        "old_format": f".staging-{dead}-abc123",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "state.npz").write_bytes(b"in progress")
    removed = bundle_module.sweep_stale_staging(str(tmp_path))
    assert removed == [names["own_dead"]]
    left = set(os.listdir(tmp_path))
    assert left == {names["own_alive"], names["other_host"], names["old_format"]}
    assert (tmp_path / names["other_host"] / "state.npz").read_bytes() == b"in progress"


def test_model_json_is_rebuilt_in_safe_mode_only(genuine, tmp_path):
    """A model.fit bundle whose model.json carries a Lambda layer (Python bytecode) is refused,
    even in a process that enabled Keras' unsafe deserialization globally."""
    payload = tmp_path / "lambda-ran"
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Lambda(
                lambda x, path=str(payload): (__import__("pathlib").Path(path).touch(), x)[1]
            ),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    assert payload.exists()  # building the model ran the lambda: the payload works
    payload.unlink()
    data = json.dumps({"model": keras.saving.serialize_keras_object(model)}).encode()
    copy = copy_of(genuine, tmp_path)
    (copy / "model.json").write_bytes(data)

    def change(manifest):
        entry = next(e for e in manifest["contents"] if e["name"] == "model.json")
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        manifest["function"].update(importable=False, keras_train_step=True)

    edit_manifest(copy, change)
    from keras.src.saving import serialization_lib  # what enable_unsafe_deserialization sets

    with serialization_lib.SafeModeScope(False):
        with pytest.raises(BundleError, match="never deserializes") as caught:
            replay_bundle(load_bundle(str(copy)), verify=False, trust=True)
    assert "\n" not in str(caught.value)
    assert not payload.exists()


@pytest.mark.slow
def test_trusted_replay_imports_the_recorded_file(genuine, tmp_path):
    """The positive control: with --trust the genuine bundle replays (so the markers above
    would have shown an import)."""
    imported = tmp_path / "imported"
    result = run(
        "report",
        genuine.path,
        "--replay",
        "--trust",
        "--no-verify",
        env={"NANTRACE_IMPORT_MARKER": str(imported)},
    )
    assert result.returncode == 1, result.stderr
    assert imported.read_text() == "imported"
    assert f"imported {MODULE} from {genuine.module_file} (sha256 as recorded)" in result.stderr
    assert "replay agrees with the bundle" in result.stderr
