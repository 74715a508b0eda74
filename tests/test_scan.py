"""``nantrace scan`` on real checkpoints of real (short) training runs.

Healthy runs must scan clean (exit 0, no cause); the run that really diverged, the badly
initialized one and the epsilon=0 one must be flagged with the right cause and first fix, as
the live rules (``nantrace.diagnosis.causes``) and fixes (``nantrace.diagnosis.fixes``) give them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import postmortem_models as pm
import pytest

from nantrace.postmortem import checkpoint, scan

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("scan"))
    return {
        "healthy": pm.healthy(directory),
        "diverged": pm.diverged(directory),
        "bad_init": pm.bad_initializer(directory),
        "zero_eps": pm.zero_epsilon(directory),
        "lambda": pm.with_lambda(directory),
        "npz": pm.npz_weights(directory),
        "unscaled": pm.unscaled_batchnorm(directory),
        "tf1": pm.tf1_name_based(directory),
    }


def scan_json(*argv: str) -> tuple[int, dict]:
    code, out, err = pm.run_cli("scan", *argv, "--format", "json")
    assert err == "", err
    return code, pm.strict_json(out)


@pytest.mark.parametrize("kind", ["tf", "keras", "weights"])
def test_healthy_run_scans_clean(runs, kind):
    saved = runs["healthy"]
    path = {"tf": saved.prefixes[-1], "keras": saved.keras, "weights": saved.weights}[kind]
    code, report = scan_json(path)
    assert code == 0
    assert report["verdict"] == "ok"
    assert report["causes"] == [] and report["fixes"] == []
    assert report["step"] == 10
    assert report["optimizer"]["class_name"] == "Adam"
    assert report["summary"]["non_finite_elements"] == 0
    # every kernel is checked against He/Glorot and sits near 1x
    kernels = [v for v in report["variables"] if v["kind"] == "kernel" and v["role"] == "weight"]
    assert len(kernels) == 3
    assert all(0.2 < v["scale_ratio"] < 3 for v in kernels)
    # Adam's slots are included and tied to their variables
    slots = [v for v in report["variables"] if v["role"] == "slot"]
    assert len(slots) == 12
    assert {v["slot"] for v in slots} == {"momentum", "velocity"}
    weights = {v["name"] for v in report["variables"] if v["role"] == "weight"}
    assert all(v["slot_of"] in weights for v in slots)


def test_formats_name_variables_alike(runs):
    saved = runs["healthy"]
    names = {}
    for path in (saved.prefixes[-1], saved.keras, saved.weights):
        loaded = checkpoint.load(path)
        names[path] = {v.name.removeprefix("mlp/") for v in loaded.variables if v.role == "weight"}
    assert len({frozenset(n) for n in names.values()}) == 1
    assert "hidden/kernel" in names[saved.keras]


def test_keras_config_gives_activations_and_epsilon(runs):
    code, report = scan_json(runs["healthy"].keras)
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["hidden"]["scale_rule"] == "He"  # relu
    assert layers["out"]["scale_rule"] == "Glorot"  # linear
    assert report["optimizer"]["epsilon"] == pytest.approx(1e-7)
    assert report["optimizer"]["gradient_norm_estimate"] > 0


def test_directory_scans_the_latest_checkpoint(runs):
    saved = runs["healthy"]
    code, report = scan_json(saved.directory)
    assert code == 0 and report["step"] == 10
    code, report = scan_json(saved.prefixes[0] + ".index")  # the .index file names the prefix
    assert code == 0 and report["step"] == 5


def test_name_based_tf1_checkpoint(runs):
    code, report = scan_json(runs["tf1"])
    assert code == 0 and report["verdict"] == "ok"
    assert report["step"] == 3  # global_step
    slots = {
        v["name"]: (v["slot"], v["slot_of"]) for v in report["variables"] if v["role"] == "slot"
    }
    assert slots["dense/kernel/Adam"] == ("momentum", "dense/kernel")
    assert slots["dense/kernel/Adam_1"] == ("velocity", "dense/kernel")
    assert any("name-based" in note for note in report["notes"])


def test_diverged_checkpoint_is_non_finite_and_blames_the_learning_rate(runs):
    saved = runs["diverged"]
    code, report = scan_json(saved.prefixes[-1])
    assert code == 1
    assert report["verdict"] == "non_finite"
    bad = [
        v["name"]
        for v in report["variables"]
        if v["role"] == "weight" and "non_finite" in v["flags"]
    ]
    assert bad and all(
        v["nan"] + v["pos_inf"] + v["neg_inf"] > 0 for v in report["variables"] if v["name"] in bad
    )
    # the momentum slots went non-finite too, and are counted per layer
    assert any(layer["slot_non_finite"] > 0 for layer in report["layers"])
    # non-finite slots: the gradient was non-finite; the finite kernels' scale names the cause
    assert report["origin"]["kind"] == "gradient" and report["origin"]["variable"] == bad[0]
    assert report["projected"] is False
    assert [c["id"] for c in report["causes"]] == ["learning_rate_too_high"]
    assert report["causes"][0]["evidence"]["ratio"] > 1e6
    first = report["fixes"][0]
    assert first["id"] == "lower_learning_rate"
    assert first["params"]["current"] == pytest.approx(0.05)
    assert first["params"]["suggested"] == pytest.approx(0.005)
    clip = next(f for f in report["fixes"] if f["id"] == "clip_gradients")
    assert clip["snippet"] == "SGD(..., global_clipnorm=1)"  # the live snippet, default value


def test_last_finite_checkpoint_already_shows_the_blow_up(runs):
    """The checkpoint before the NaN is finite but abnormal: kernels far beyond their initial
    scale after a few steps: the learning rate, not the initializer (projected: nothing is
    non-finite yet)."""
    code, report = scan_json(runs["diverged"].prefixes[1])
    assert code == 1
    assert report["verdict"] == "abnormal"
    flagged = {v["name"]: v["flags"] for v in report["variables"] if v["flags"]}
    assert any("scale" in f for f in flagged.values())
    assert any("unstable_update" in f for f in flagged.values())
    assert report["projected"] is True
    assert report["origin"]["kind"] == "matmul_overflow" and report["origin"]["phase"] == "forward"
    assert any("nothing in this state is non-finite yet" in n for n in report["notes"])
    assert report["causes"][0]["id"] == "learning_rate_too_high"
    assert report["causes"][0]["evidence"]["ratio"] > 10
    assert report["fixes"][0]["id"] == "lower_learning_rate"


@pytest.mark.parametrize("kind", ["tf", "keras"])
def test_bad_initializer_is_named(runs, kind):
    saved = runs["bad_init"]
    path = saved.prefixes[0] if kind == "tf" else saved.keras
    code, report = scan_json(path)
    assert code == 1
    assert report["verdict"] == "abnormal"
    assert [v["name"] for v in report["variables"] if v["flags"]] == [
        "mlp/hidden/kernel" if kind == "tf" else "hidden/kernel"
    ]
    cause = report["causes"][0]
    assert cause["id"] == "initializer_scale"
    assert cause["evidence"]["ratio"] > 20
    fix = report["fixes"][0]
    assert fix["id"] == "change_initializer"
    if kind == "keras":  # config.json says how the kernel was drawn, and the activation
        assert fix["params"]["current"] == "RandomNormal"
        assert fix["params"]["suggested"] == "he_normal"
        assert fix["params"]["suggested_std"] == pytest.approx(0.5)  # sqrt(2 / fan-in 8)
        assert cause["evidence"]["initial_std"] == pytest.approx(20.0)
    else:  # no config: the live evidence's Glorot for an unknown activation; the initial
        # scale bounded by how far Adam can move a weight in 2 steps at 1e-3 (0.0064)
        assert fix["params"]["suggested"] == "glorot_uniform"
        assert fix["params"]["suggested_std"] == pytest.approx((2 / 24) ** 0.5)
        weights = next(v for v in report["variables"] if v["name"] == "mlp/hidden/kernel")
        assert cause["evidence"]["initial_std"] == pytest.approx(weights["rms"] - 0.0064)


@pytest.mark.parametrize("kind", ["tf", "keras", "weights"])
def test_zero_epsilon_is_found_from_the_velocity(runs, kind):
    saved = runs["zero_eps"]
    path = {"tf": saved.prefixes[0], "keras": saved.keras, "weights": saved.weights}[kind]
    code, report = scan_json(path)
    assert code == 1
    assert report["verdict"] == "non_finite"
    # the update rebuilt from the slots is 0/0 where Adam's velocity is 0 (the dead input
    # feature's kernel row): the live origin of that NaN, the update's division
    origin = report["origin"]
    assert (origin["kind"], origin["op_type"], origin["phase"]) == (
        "optimizer_update",
        "RealDiv",
        "update",
    )
    assert origin["variable"].endswith("hidden/kernel")
    assert origin["inputs"][1]["zeros"] >= 16
    cause = report["causes"][0]
    assert cause["id"] == "missing_epsilon"
    assert cause["evidence"]["epsilon"] == 0.0
    assert cause["evidence"]["variable"].endswith("hidden/kernel")
    assert report["fixes"][0]["id"] == "add_epsilon"
    assert report["fixes"][0]["params"]["epsilon"] == pytest.approx(1e-7)
    if kind == "keras":
        assert report["optimizer"]["epsilon"] == 0.0
        assert any("zero_velocity" in v["flags"] for v in report["variables"])
    else:  # not recorded: inferred from where the NaNs sit
        assert any("only epsilon = 0 gives" in n for n in report["notes"])


def test_unscaled_input_shows_in_batchnorm_statistics(runs):
    code, report = scan_json(runs["unscaled"])
    assert code == 1 and report["verdict"] == "abnormal"
    flagged = [v for v in report["variables"] if v["flags"]]
    assert [v["kind"] for v in flagged] == ["moving_variance"]
    cause = report["causes"][0]
    assert cause["id"] == "unscaled_input"
    # sqrt of the moving variance: a lower estimate of the inputs' scale 1e4 (the moving
    # average has moved 5% of the way from 1 in 5 steps)
    assert 1e3 < cause["evidence"]["input_abs_max"] < 1e5
    assert report["fixes"][0]["id"] == "rescale_input"


def test_lambda_model_scans_without_deserializing(runs):
    import keras

    path = runs["lambda"]
    with pytest.raises(ValueError, match="(?i)lambda|unsafe|safe_mode"):
        keras.saving.load_model(path, safe_mode=True)  # Keras itself needs unsafe mode
    code, report = scan_json(path)
    assert code == 0
    assert report["verdict"] == "ok"
    assert any("Lambda" in note and "double" in note for note in report["notes"])


def test_npz_keras_needs_explicit_unsafe(runs):
    code, out, err = pm.run_cli("scan", runs["npz"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("nantrace: error: ")
    assert "--unsafe" in err and "pickle" in err
    code, out, err = pm.run_cli("scan", runs["npz"], "--unsafe", "--format", "json")
    assert code == 0, err
    assert pm.strict_json(out)["verdict"] == "ok"


def test_json_round_trips_and_is_strict(runs):
    for path in (runs["diverged"].prefixes[-1], runs["bad_init"].keras, runs["zero_eps"].weights):
        code, out, _ = pm.run_cli("scan", path, "--format", "json")
        data = pm.strict_json(out)
        again = scan.ScanReport.from_dict(data)
        assert again.to_dict() == data
        assert json.loads(again.to_json()) == data


def test_json_schema_is_documented(runs):
    """Every key the JSON carries appears in docs/scan.md (the schema's reference)."""
    code, report = scan_json(runs["zero_eps"].keras)
    with open(os.path.join(DOCS, "scan.md"), encoding="utf-8") as handle:
        docs = handle.read()
    keys = set(report) | set(report["summary"]) | set(report["optimizer"])
    keys |= set(report["variables"][0]) | set(report["layers"][0])
    keys |= set(report["causes"][0]) | set(report["fixes"][0])
    missing = sorted(k for k in keys if f"`{k}`" not in docs)
    assert not missing, f"undocumented keys in docs/scan.md: {missing}"
    for flag in scan.FLAGS:
        assert f"`{flag}`" in docs


def test_text_report_says_where_why_and_what(runs):
    code, out, err = pm.run_cli("scan", runs["zero_eps"].keras)
    assert code == 1 and err == ""
    assert out.splitlines()[1].startswith("verdict: NON-FINITE")
    for section in ("LAYERS", "FLAGGED VARIABLES", "WHY", "WHAT TO CHANGE"):
        assert section in out
    assert "missing_epsilon" in out and "epsilon=1e-7" in out


def test_output_file(runs, tmp_path):
    target = tmp_path / "report.json"
    code, out, err = pm.run_cli(
        "scan", runs["healthy"].keras, "--format", "json", "-o", str(target)
    )
    assert code == 0 and out == ""
    assert "report written to" in err
    assert pm.strict_json(target.read_text())["verdict"] == "ok"


def test_unwritable_output_is_an_input_error(runs, tmp_path):
    target = tmp_path / "missing-dir" / "report.json"
    code, out, err = pm.run_cli("scan", runs["healthy"].keras, "-o", str(target))
    assert code == 2 and out == ""
    assert re.fullmatch(r"nantrace: error: cannot write .*\n", err)


def test_unexpected_failure_is_still_one_line(runs, monkeypatch):
    def broken(_):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.delenv("NANTRACE_DEBUG", raising=False)
    monkeypatch.setattr(scan, "scan", broken)
    code, out, err = pm.run_cli("scan", runs["healthy"].keras)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "RuntimeError: boom" in err and "NANTRACE_DEBUG" in err


def test_help_is_fast_and_does_not_import_tensorflow():
    code = (
        "import sys, contextlib, io\n"
        "from nantrace.cli import main as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(['scan', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('tensorflow' in sys.modules, 'h5py' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False False"
