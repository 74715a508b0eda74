"""``nantrace run SCRIPT``: unmodified scripts written to tmp_path, run with real TensorFlow.

The whole process (``python -m nantrace run``: exit code, report on stdout, bundle) is checked
once in a subprocess, and a missing script; the other CLI cases through the CLI's ``main`` in
this process (no second TensorFlow start-up), the other surfaces (model.fit, an eager loop, no
step) through ``run_script``, whose fixture also checks that every patch is undone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

MODEL = """
import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
)
optimizer = keras.optimizers.SGD(0.01)
rng = np.random.default_rng(0)
"""

CUSTOM_LOOP = (
    MODEL
    + """
@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.math.log(model(x, training=True) ** 2 - 1.0))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


x = rng.normal(size=(16, 4)).astype("float32")
for _ in range(3):
    train_step(x, np.ones((16, 1), "float32"))
print("script finished")
"""
)

FLAGS = (
    MODEL
    + """
import argparse
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, required=True)
parser.add_argument("--exit-code", type=int, default=0)
flags = parser.parse_args()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


@tf.function
def evaluate(x):  # no gradients applied: must run untouched
    return tf.reduce_mean(model(x))


x = rng.normal(size=(16, 4)).astype("float32")
for _ in range(flags.steps):
    train_step(x, np.ones((16, 1), "float32"))
evaluate(x)
print(f"argv={sys.argv[1:]} name={__name__} steps={flags.steps}")
sys.exit(flags.exit_code)
"""
)

FIT = (
    MODEL
    + """
x = rng.normal(size=(64, 4)).astype("float32")
x[40, 2] = np.nan
model.compile(optimizer=optimizer, loss="mse")
model.fit(x, np.ones((64, 1), "float32"), batch_size=16, epochs=2, verbose=0, shuffle=False)
print("fit finished")
"""
)

EAGER = (
    MODEL
    + """
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


for i in range(6):
    x = rng.normal(size=(16, 4)).astype("float32")
    if i == 4:
        x[3, 1] = np.inf
    train_step(x, np.ones((16, 1), "float32"))
print("eager finished")
"""
)

NO_TRAINING = """
import tensorflow as tf

print(float(tf.reduce_sum(tf.ones(3))))
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def nantrace(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "nantrace", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def test_custom_loop_that_nans_prints_report_writes_bundle_exits_1(tmp_path):
    script = write(tmp_path, "train.py", CUSTOM_LOOP)
    result = nantrace("run", script, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "WHERE" in result.stdout and "Log" in result.stdout and "train.py" in result.stdout
    assert "script finished" not in result.stdout  # raise mode stops the script
    assert "Traceback" not in result.stderr
    bundles = os.listdir(tmp_path / "nantrace-bundles")
    assert len(bundles) == 1 and bundles[0].startswith("step-000000-")
    assert (tmp_path / "nantrace-bundles" / bundles[0] / "report.json").is_file()


def cli(*args, cwd, monkeypatch, capsys):
    """``nantrace ARGS`` in this process (the CLI's own main): exit code, stdout, stderr."""
    from nantrace.cli.main import main

    monkeypatch.chdir(cwd)
    monkeypatch.setenv("NO_COLOR", "1")
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_script_reads_its_own_flags_and_keeps_its_exit_code(tmp_path, monkeypatch, capsys):
    script = write(tmp_path, "flags.py", FLAGS)
    code, out, err = cli(
        "run",
        "--no-bundle",
        script,
        "--steps",
        "3",
        "--exit-code",
        "7",
        cwd=tmp_path,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 7, err
    assert "argv=['--steps', '3', '--exit-code', '7'] name=__main__ steps=3" in out
    # the training step is watched, the evaluation function is not
    assert "watched train_step (3 steps); every step was finite" in err
    assert "evaluate" not in err
    assert not (tmp_path / "nantrace-bundles").exists()


def test_json_to_file(tmp_path, monkeypatch, capsys):
    script = write(tmp_path, "train.py", CUSTOM_LOOP)
    out = tmp_path / "report.json"
    code, _, err = cli(
        "run",
        "--format",
        "json",
        "-o",
        str(out),
        script,
        cwd=tmp_path,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 1, err
    report = json.loads(out.read_text())
    assert report["origin"]["op_type"] == "Log" and report["trip"]["step"] == 0
    assert report["bundle"] and os.path.isdir(report["bundle"])
    assert f"report written to {out}" in err and "crash bundle written to" in err


def test_warn_mode_lets_the_script_finish(tmp_path, monkeypatch, capsys):
    from nantrace.errors import NonFiniteWarning

    script = write(tmp_path, "train.py", CUSTOM_LOOP)
    with pytest.warns(NonFiniteWarning) as warned:
        code, out, err = cli(
            "run",
            "--on-nan",
            "warn",
            "--no-bundle",
            script,
            cwd=tmp_path,
            monkeypatch=monkeypatch,
            capsys=capsys,
        )
    assert code == 0, err
    assert "script finished" in out  # every step skipped, the script went on
    assert "WHERE" in str(warned[0].message)
    assert err.strip().splitlines()[-1] == (
        "nantrace run: 3 steps non-finite and skipped (--on-nan warn); the first one's report "
        "is in the warning above"
    )


def test_missing_script_is_one_line_exit_2(tmp_path):
    result = nantrace("run", "no_such_script.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no such script" in result.stderr


# -- in process --------------------------------------------------------------------------------


@pytest.fixture
def run_script():
    import keras
    import tensorflow as tf

    from nantrace.live.runner import run_script

    function, fit = tf.function, keras.Model.fit
    yield run_script
    assert tf.function is function and keras.Model.fit is fit  # every patch undone


def test_model_fit_that_nans(tmp_path, run_script):
    script = write(tmp_path, "fit.py", FIT)
    outcome = run_script(script, bundle_dir=str(tmp_path / "b"))
    assert outcome.exit_code == 1 and outcome.raised
    (report,) = outcome.reports
    assert report.origin.kind == "input_data" and report.trip.step == 2
    assert report.bundle and os.path.isdir(report.bundle)
    assert outcome.watched == ("model.fit (3 steps)",)


def test_eager_loop_is_watched_from_its_second_call(tmp_path, run_script):
    script = write(tmp_path, "eager.py", EAGER)
    outcome = run_script(script, on_nan="warn")
    assert outcome.exit_code == 0 and not outcome.raised
    (report,) = outcome.reports
    assert report.origin.kind == "input_data" and report.trip.step == 4
    assert outcome.watched == ("train_step (6 steps)",)


def test_script_without_training_step(tmp_path, run_script, capsys):
    script = write(tmp_path, "plain.py", NO_TRAINING)
    outcome = run_script(script)
    assert outcome.exit_code == 0 and outcome.watched == () and outcome.reports == ()
    assert "3.0" in capsys.readouterr().out


def test_module_level_eager_loop_is_named_not_watched(tmp_path, run_script):
    body = EAGER.split("def train_step")[0] + textwrap.dedent(
        """
        for i in range(2):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(rng.normal(size=(4, 4)).astype("float32")))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """
    )
    outcome = run_script(write(tmp_path, "inline.py", body))
    assert outcome.exit_code == 0 and outcome.watched == ()
    (note,) = outcome.notes
    assert "module level (inline.py:" in note


def test_script_error_keeps_python_exit_code(tmp_path, run_script, capsys):
    outcome = run_script(write(tmp_path, "bad.py", "raise ValueError('broken script')\n"))
    assert outcome.exit_code == 1 and outcome.reports == ()
    err = capsys.readouterr().err
    assert "ValueError: broken script" in err and "runner.py" not in err


def tensorboard_tags(folder):
    """{tag: [step, ...]} of the event files in one TensorBoard run folder."""
    import glob

    import tensorflow as tf

    found: dict[str, list[int]] = {}
    for path in sorted(glob.glob(os.path.join(str(folder), "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(event.step)
    return found


def test_log_dir_writes_each_watched_step_as_a_tensorboard_run(tmp_path, run_script):
    flags = write(tmp_path, "flags.py", FLAGS)
    outcome = run_script(flags, ["--steps", "3"], log_dir=str(tmp_path / "tb"))
    assert outcome.exit_code == 0 and outcome.reports == ()
    assert os.listdir(tmp_path / "tb") == ["train_step"]  # evaluate() is not a training step
    tags = tensorboard_tags(tmp_path / "tb" / "train_step")
    assert tags["nantrace/loss"] == [0, 1, 2] and "nantrace/report" not in tags

    fit = write(tmp_path, "fit.py", FIT)
    outcome = run_script(fit, log_dir=str(tmp_path / "tb2"), bundle_dir=str(tmp_path / "b"))
    assert outcome.exit_code == 1
    tags = tensorboard_tags(tmp_path / "tb2" / "fit")
    assert tags["nantrace/loss"] == [0, 1, 2] and tags["nantrace/report"] == [2]


MODULE_METHODS = """
import sys

import tensorflow as tf
import keras


class Trainer(tf.Module):
    def __init__(self):
        self.dense = keras.layers.Dense(1)
        self.dense.build((None, 2))
        self.optimizer = keras.optimizers.SGD(0.01)

    @tf.function
    def step(self, x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.dense(x)))
        grads = tape.gradient(loss, self.dense.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.dense.trainable_variables))
        return loss

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def serve(self, x):
        return self.dense(x)


trainer = Trainer()
for _ in range(2):
    trainer.step(tf.ones((4, 2)))
assert isinstance(trainer.serve, tf.types.experimental.PolymorphicFunction)
tf.saved_model.save(trainer, sys.argv[1])
loaded = tf.saved_model.load(sys.argv[1])
print("exported", loaded.serve(tf.ones((1, 2))).shape)
"""


def test_tf_function_methods_stay_tf_functions(tmp_path, run_script, capsys):
    script = write(tmp_path, "module.py", MODULE_METHODS)
    outcome = run_script(script, [str(tmp_path / "saved")])
    assert outcome.exit_code == 0, capsys.readouterr().err
    assert outcome.watched == ("step (2 steps)",)  # the method that trains, bound per instance
    assert "exported (1, 1)" in capsys.readouterr().out  # serve still exports as a tf.function


def test_fit_in_a_loop_is_one_watched_step_and_one_tensorboard_run(tmp_path, run_script):
    body = MODEL + textwrap.dedent(
        """
        x = rng.normal(size=(32, 4)).astype("float32")
        model.compile(optimizer=optimizer, loss="mse")
        for epoch in range(3):
            model.fit(x, np.ones((32, 1), "float32"), batch_size=16, epochs=1, verbose=0)
        """
    )
    outcome = run_script(write(tmp_path, "loop_fit.py", body), log_dir=str(tmp_path / "tb"))
    assert outcome.exit_code == 0 and outcome.watched == ("model.fit (6 steps)",)
    assert os.listdir(tmp_path / "tb") == ["fit"]
    assert tensorboard_tags(tmp_path / "tb" / "fit")["nantrace/loss"] == list(range(6))


FIT_UNDER_STRATEGY = """
import numpy as np
import tensorflow as tf
import keras

keras.utils.set_random_seed(0)
strategy = tf.distribute.{strategy}
with strategy.scope():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
x[40, 2] = np.nan
model.fit(x, np.ones((64, 1), "float32"), batch_size=16, epochs=1, verbose=0, shuffle=False)
print("fit finished")
"""


def test_model_fit_under_a_mirrored_strategy_is_watched(tmp_path, run_script):
    body = FIT_UNDER_STRATEGY.replace("{strategy}", 'MirroredStrategy(["/cpu:0"])')
    outcome = run_script(write(tmp_path, "fit_mirrored.py", body))
    assert outcome.exit_code == 1 and outcome.raised
    (report,) = outcome.reports
    assert report.origin.kind == "input_data" and report.trip.step == 2


def test_model_fit_under_an_unsupported_strategy_runs_unwatched_with_a_note(tmp_path, run_script):
    body = FIT_UNDER_STRATEGY.replace(
        "{strategy}", 'experimental.CentralStorageStrategy(["/cpu:0"])'
    )
    outcome = run_script(write(tmp_path, "fit_central.py", body))
    assert outcome.exit_code == 0 and outcome.reports == ()
    (note,) = outcome.notes
    assert "CentralStorageStrategy" in note and "MirroredStrategy" in note


def test_eager_step_is_watched_through_the_command_line(tmp_path, monkeypatch, capsys):
    """The CLI's own frames (main, its one-line-error wrapper, run) above the script must not
    be taken for nantrace replaying the step: the eager step is watched as in process."""
    script = write(tmp_path, "eager.py", EAGER)
    code, out, err = cli(
        "run", "--on-nan", "warn", script, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0 and "eager finished" in out
    assert "no training step was seen" not in err
    assert "1 step non-finite and skipped" in err
