"""Crash bundles: round trip, atomic write (exception and kill -9 mid-write), bad bundles."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.bundle import (
    BUNDLE_VERSION,
    BundleError,
    function_reference,
    list_bundles,
    load_bundle,
    sweep_stale_staging,
    write_bundle,
)
from nantrace.bundle import write as bundle_module
from nantrace.replay.step import step_variables

HERE = os.path.dirname(os.path.abspath(__file__))


def module_level_step(x, y):  # importable by name: tests.test_bundle / test_bundle
    return x, y


@pytest.fixture(scope="module")
def tripped(tmp_path_factory):
    """A real watched step that trips on step 2 (a NaN row in the batch), with a bundle."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, name="d0"), keras.layers.Dense(1, name="d1")],
        name="tiny",
    )
    optimizer = keras.optimizers.Adam(1e-2)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    bundle_dir = str(tmp_path_factory.mktemp("bundles"))
    step = nantrace.watch(train_step, bundle_dir=bundle_dir)
    step.verify = False  # the diagnosis is not under test here; keep it fast
    rng = np.random.default_rng(0)
    batches = [
        (tf.constant(rng.normal(size=(8, 3)), tf.float32), tf.ones((8, 1))) for _ in range(3)
    ]
    bad = batches[2][0].numpy()
    bad[5, 1] = np.nan
    batches[2] = (tf.constant(bad), batches[2][1])
    with pytest.raises(nantrace.NonFiniteError) as caught:
        for x, y in batches:
            step(x, y)
    pre_step = {v.name: v.numpy() for v in step_variables(step)}
    return types.SimpleNamespace(
        step=step,
        report=caught.value.report,
        batch=batches[2],
        recent=batches[:2],
        pre_step=pre_step,
        bundle_dir=bundle_dir,
    )


def test_round_trip(tripped):
    report = tripped.report
    assert report.bundle and os.path.isdir(report.bundle)
    loaded = load_bundle(report.bundle)
    assert loaded.version == BUNDLE_VERSION
    assert loaded.report.to_dict() == report.to_dict()
    assert {"report.json", "state.npz", "batches.npz", "model.json"} <= set(loaded.files)
    # every variable of the step, with its pre-step value, name, dtype and shape
    state = loaded.state()
    assert {item.name for item in state} == set(tripped.pre_step)
    for item in state:
        expected = tripped.pre_step[item.name]
        assert item.value.dtype == expected.dtype and tuple(item.shape) == expected.shape
        np.testing.assert_array_equal(item.value, expected)
    assert any("kernel" in item.name and item.trainable for item in state)
    assert any("iteration" in item.name for item in state)  # optimizer state too
    # the tripping batch and the recent healthy ones
    args, kwargs = loaded.batch()
    assert kwargs == {} and len(args) == 2
    np.testing.assert_array_equal(args[0], tripped.batch[0].numpy())
    tensors, _ = loaded.batch(as_tensors=True)
    assert isinstance(tensors[0], tf.Tensor) and tensors[0].dtype == tf.float32
    recent = loaded.recent()
    assert len(recent) == 2
    np.testing.assert_array_equal(recent[1][0][0], tripped.recent[1][0].numpy())
    # the model config (a closure's model is found through the step's free variables)
    config = loaded.model_config()
    assert config["model"]["class_name"] == "Sequential"
    assert config["optimizers"][0]["class_name"] == "Adam"
    # a closure cannot be imported by name: the bundle says so
    assert loaded.function["importable"] is False
    assert "inside another function" in loaded.function["reason"]
    assert "step 2" in loaded.describe()


def test_files_are_checked_against_the_manifest(tripped, tmp_path):
    copy = shutil.copytree(tripped.report.bundle, tmp_path / "b")
    state = copy / "state.npz"
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(str(copy))
    state.write_bytes(data[:-8] + b"XXXXXXXX")  # same size, other bytes
    loaded = load_bundle(str(copy))
    with pytest.raises(BundleError, match="checksum"):
        loaded.state()


def test_unknown_version_is_one_clear_error(tripped, tmp_path):
    copy = shutil.copytree(tripped.report.bundle, tmp_path / "b")
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["bundle_version"] = 99
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as caught:
        load_bundle(str(copy))
    message = str(caught.value)
    assert "version-99" in message and "reads version 1" in message and "\n" not in message


def test_not_a_bundle(tmp_path, tripped):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(str(tmp_path / "nope"))
    with pytest.raises(BundleError, match="not a nantrace crash bundle"):
        load_bundle(str(tmp_path))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BundleError, match="is a file"):
        load_bundle(str(tmp_path / "notes.txt"))
    with pytest.raises(BundleError, match="holds 1 crash bundle"):
        load_bundle(tripped.bundle_dir)


def _visible(folder):
    return sorted(e for e in os.listdir(folder) if not e.startswith("."))


def test_exception_mid_write_leaves_no_half_bundle(tripped, tmp_path, monkeypatch):
    real = bundle_module._write_npz
    calls = []

    def failing(staging, name, arrays):
        calls.append(name)
        if len(calls) == 2:  # state.npz is written, batches.npz fails
            raise OSError(28, "No space left on device")
        return real(staging, name, arrays)

    monkeypatch.setattr(bundle_module, "_write_npz", failing)
    s = tripped
    report = write_bundle(s.step, s.report, s.batch, {}, str(tmp_path))
    assert report.bundle is None
    assert "could not be written" in report.notes[-1] and "No space left" in report.notes[-1]
    assert os.listdir(tmp_path) == []  # neither a bundle nor a staging folder

    monkeypatch.setattr(bundle_module, "_write_npz", real)
    monkeypatch.setattr(
        bundle_module, "_fsync_dir", lambda path: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):  # an interrupt is not swallowed, but cleaned up
        write_bundle(s.step, s.report, s.batch, {}, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_two_trips_in_one_second_get_two_bundles(tripped, tmp_path):
    s = tripped
    first = write_bundle(s.step, s.report, s.batch, {}, str(tmp_path))
    second = write_bundle(s.step, s.report, s.batch, {}, str(tmp_path))
    assert first.bundle != second.bundle
    assert load_bundle(second.bundle).report.bundle == second.bundle
    assert len(list_bundles(str(tmp_path))) == 2


def test_kill_9_mid_write_leaves_nothing_or_a_complete_bundle(tmp_path):
    """SIGKILL a process that writes 48 MB bundles in a loop, at a random moment, twice."""
    rng = random.Random()
    trials = []
    for trial in range(2):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "bundle_writer.py"), str(folder), "48"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        trials.append((folder, process))
    for _, process in trials:
        assert process.stdout.readline().strip() == "ready"
    for _, process in trials:
        assert process.stdout.readline().startswith("wrote")  # mid-loop from now on
    for _, process in trials:
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
    for folder, process in trials:
        assert process.returncode == -signal.SIGKILL
        finished = list_bundles(str(folder))
        assert finished  # the first bundle finished before the kill
        for path in finished:  # every visible bundle is complete and loadable
            loaded = load_bundle(path)
            assert [item.value.size for item in loaded.state()] == [48 * 2**20 // 4 // 8] * 8
            assert np.isnan(loaded.batch()[0][0]).all()
        assert _visible(folder) == [os.path.basename(p) for p in finished]
        sweep_stale_staging(str(folder))  # a dead writer's staging folder is cleaned up
        assert sorted(os.listdir(folder)) == _visible(folder)


def test_function_reference_says_what_can_be_imported():
    def closure(x):
        return x

    class Trainer:
        def step(self, x):
            return x

    def ref(fn):
        return function_reference(types.SimpleNamespace(python_fn=fn))

    good = ref(module_level_step)
    assert good["importable"] is True, good["reason"]
    assert good["qualname"] == "module_level_step"
    assert os.path.samefile(good["file"], __file__)
    assert "inside another function" in ref(closure)["reason"]
    assert "bound method" in ref(Trainer().step)["reason"]
    main_fn = types.FunctionType(module_level_step.__code__, {"__name__": "__main__"})
    main_fn.__module__ = "__main__"
    assert "__main__" in ref(main_fn)["reason"]
