"""``nantrace report BUNDLE`` as a subprocess: formats, exit codes, bad input, --replay."""

import json
import os
import shutil
import subprocess
import sys
import types

import networkx as nx
import numpy as np
import pytest
import tensorflow as tf

import nantrace
from nantrace.keras import NanTraceCallback

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_COLOR="1")
    env.pop("NANTRACE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "nantrace", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def one_line_error(result):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("nantrace: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Two real bundles: an importable step (replayable_step) that diverges at step 3, and a
    closure step (not importable) with a NaN in its batch."""
    sys.path.insert(0, HERE)
    import replayable_step

    root = tmp_path_factory.mktemp("bundles")
    step = nantrace.watch(replayable_step.train_step, bundle_dir=str(root / "replayable"))
    step.verify = False
    with pytest.raises(nantrace.NonFiniteError) as caught:
        for x, y in replayable_step.batches():
            step(x, y)
    replayable = caught.value.report

    variable = tf.Variable(tf.ones([3, 1]), name="w")
    optimizer = __import__("keras").optimizers.SGD(0.1)

    def closure_step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.matmul(x, variable))
        grads = tape.gradient(loss, [variable])
        optimizer.apply_gradients(zip(grads, [variable], strict=True))
        return loss

    closure = nantrace.watch(closure_step, bundle_dir=str(root / "closure"))
    closure.verify = False
    closure(tf.ones([2, 3]))
    with pytest.raises(nantrace.NonFiniteError) as caught:
        closure(tf.constant([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]]))
    closure_report = caught.value.report

    keras = __import__("keras")
    keras.utils.set_random_seed(11)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="head"),
        ],
        name="fit_case",
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x = np.random.default_rng(3).normal(0.0, 30.0, size=(640, 4)).astype("float32")
    callback = NanTraceCallback(bundle_dir=str(root / "fit"))
    with pytest.raises(nantrace.NonFiniteError) as caught:
        model.fit(x, x.sum(axis=1), batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    return types.SimpleNamespace(
        replayable=replayable, closure=closure_report, fit=caught.value.report
    )


def test_text(bundles):
    result = run("report", bundles.replayable.bundle)
    assert result.returncode == 1, result.stderr
    assert "WHERE" in result.stdout and "WHAT TO CHANGE" in result.stdout
    assert bundles.replayable.origin.op_name in result.stdout


def test_json_is_the_bundled_report(bundles):
    result = run("report", bundles.replayable.bundle, "--format", "json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout) == bundles.replayable.to_dict()


def test_html(bundles, tmp_path):
    out = tmp_path / "report.html"
    result = run("report", bundles.replayable.bundle, "--format", "html", "-o", str(out))
    assert result.returncode == 1, result.stderr
    assert "written to" in result.stderr
    page = out.read_text()
    report = bundles.replayable
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    for fact in (report.origin.op_type, report.origin.layer, report.cause.id, report.fixes[0].id):
        assert fact in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<link" not in page and " src=" not in page


def test_graphml_loads_back_with_networkx(bundles, tmp_path):
    out = tmp_path / "graph.graphml"
    result = run("report", bundles.replayable.bundle, "--format", "graphml", "-o", str(out))
    assert result.returncode == 1, result.stderr
    graph = nx.read_graphml(out)
    report = bundles.replayable
    assert graph.number_of_nodes() == len(report.graph["nodes"])
    assert graph.number_of_edges() == len(report.graph["edges"])
    origin = graph.nodes[f"op{report.graph['origin']}"]
    assert origin["origin"] is True and origin["op_type"] == report.origin.op_type
    assert origin["layer"] == report.origin.layer and origin["phase"] == report.origin.phase
    assert origin["health"] in ("nan", "inf")
    assert {data["health"] for _, data in graph.nodes(data=True)} <= {"nan", "inf", "finite"}
    assert graph.graph["cause"] == report.cause.id
    path = [f"op{n}" for n in report.graph["path"]]
    assert all(graph.edges[a, b]["on_path"] for a, b in zip(path, path[1:], strict=False))


def test_graphml_of_an_input_data_report(bundles):
    result = run("report", bundles.closure.bundle, "--format", "graphml")
    assert result.returncode == 1, result.stderr
    assert "<graphml" in result.stdout and "Input" in result.stdout


def test_report_json_file_is_accepted(bundles, tmp_path):
    saved = tmp_path / "saved.json"
    saved.write_text(bundles.closure.to_json())
    result = run("report", str(saved))
    assert result.returncode == 1 and "input_data" in result.stdout


def test_bad_inputs_are_one_line_exit_2(bundles, tmp_path):
    assert "does not exist" in one_line_error(run("report", str(tmp_path / "missing")))
    assert "not a nantrace crash bundle" in one_line_error(run("report", str(tmp_path)))
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert "not valid JSON" in one_line_error(run("report", str(junk)))
    copy = shutil.copytree(bundles.replayable.bundle, tmp_path / "b")
    original = (copy / "bundle.json").read_bytes()
    manifest = json.loads(original)
    manifest["bundle_version"] = 7
    (copy / "bundle.json").write_text(json.dumps(manifest))
    assert "version-7 crash bundle" in one_line_error(run("report", str(copy)))
    (copy / "bundle.json").write_bytes(original)  # the version sealed by bundle.sha256
    text = (copy / "report.json").read_text()
    (copy / "report.json").write_text(text[: len(text) // 3])
    assert "truncated" in one_line_error(run("report", str(copy)))
    (copy / "bundle.json").write_text('{"bundle_version": 1, "conte')
    assert "not valid JSON" in one_line_error(run("report", str(copy)))
    bad_out = tmp_path / "no" / "such" / "dir" / "r.html"
    error = one_line_error(run("report", bundles.replayable.bundle, "-o", str(bad_out)))
    assert "cannot write" in error
    assert run("report", bundles.replayable.bundle, "--format", "yaml").returncode == 2


def test_replay_rediagnoses_the_same_origin(bundles, tmp_path):
    before = bundles.replayable
    # from another folder: the bundle records the step's module file (and its sha256)
    result = run(
        "report", before.bundle, "--replay", "--trust", "--no-verify", "--format", "json", cwd="/"
    )
    assert result.returncode == 1, result.stderr
    after = json.loads(result.stdout)
    for field in ("kind", "op_type", "layer", "phase"):
        assert after["origin"][field] == before.origin.to_dict()[field], field
    assert after["cause"]["id"] == before.cause.id
    assert after["trip"]["step"] == before.trip.step
    assert "replay agrees with the bundle" in result.stderr
    assert "restored 7 variables" in result.stderr


def test_replay_of_a_model_fit_bundle_rebuilds_the_model(bundles):
    before = bundles.fit
    assert before.origin.layer == "fit_case/head"
    result = run("report", before.bundle, "--replay", "--trust", "--no-verify", "--format", "json")
    assert result.returncode == 1, result.stderr
    after = json.loads(result.stdout)
    for field in ("kind", "op_type", "layer", "phase"):
        assert after["origin"][field] == before.origin.to_dict()[field], field
    assert after["cause"]["id"] == before.cause.id
    assert "rebuilt and compiled the Sequential from model.json" in result.stderr


def test_replay_of_a_closure_says_why_not(bundles):
    error = one_line_error(run("report", bundles.closure.bundle, "--replay", "--trust"))
    assert "cannot replay" in error and "closure_step" in error
    assert "inside another function" in error


def test_demo_html(tmp_path):
    from nantrace.cli.main import main  # in-process: TensorFlow is imported already

    out = tmp_path / "demo.html"
    assert main(["demo", "nan_in_data", "--format", "html", "-o", str(out)]) == 0
    page = out.read_text()
    assert "input_data" in page and "non_finite_input" in page and "clean_input" in page


def test_demo_graphml_renders_one_demo_only():
    error = one_line_error(run("demo", "--all", "--format", "graphml"))
    assert "drop --all" in error
