"""``nantrace diff A B`` on checkpoints of real training runs: a healthy run changes a little,
a diverging one grows geometrically and then goes non-finite."""

from __future__ import annotations

import json

import postmortem_models as pm
import pytest

from nantrace.postmortem import diff


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("diff"))
    return {"healthy": pm.healthy(directory), "diverged": pm.diverged(directory)}


def diff_json(a: str, b: str, *extra: str) -> tuple[int, dict]:
    code, out, err = pm.run_cli("diff", a, b, "--format", "json", *extra)
    assert err == "", err
    return code, pm.strict_json(out)


def test_healthy_steps_are_ok(runs):
    first, second = runs["healthy"].prefixes
    code, report = diff_json(first, second)
    assert code == 0
    assert report["verdict"] == "ok"
    assert report["steps"] == 5
    assert report["appeared_non_finite"] == [] and report["causes"] == []
    kernels = [v for v in report["variables"] if v["name"].endswith("/kernel")]
    assert len(kernels) == 3
    for v in kernels:
        assert v["status"] == "changed"
        assert 0.9 < v["ratio"] < 1.1
        assert v["growth_per_step"] == pytest.approx(v["ratio"] ** (1 / 5))
        assert 0 < v["relative_change"] < 0.1
        assert v["steps_to_overflow"] is None


def test_divergence_shows_geometric_growth(runs):
    saved = runs["diverged"]
    code, report = diff_json(saved.prefixes[0], saved.prefixes[1])
    assert code == 1
    assert report["verdict"] == "abnormal"
    assert report["steps"] == saved.steps[1] - saved.steps[0]
    grew = [v for v in report["variables"] if v["status"] == "grew"]
    assert {v["name"] for v in grew} >= {
        "mlp/hidden/kernel",
        "mlp/hidden2/kernel",
        "mlp/out/kernel",
    }
    # rows are ordered by how far they moved; the top one is the fastest-growing weight
    assert report["variables"][0]["status"] == "grew"
    assert report["fastest_growing"] == report["variables"][0]["name"]
    for v in grew:
        assert v["ratio"] > 10
        assert v["growth_per_step"] == pytest.approx(v["ratio"] ** (1 / report["steps"]))
        assert v["steps_to_overflow"] > 0
    assert report["causes"][0]["id"] == "learning_rate_too_high"
    assert report["fixes"][0]["id"] == "lower_learning_rate"
    assert report["fixes"][0]["params"]["suggested"] == pytest.approx(0.005)
    layers = report["layers"]
    assert layers and all(layer["ratio"] > 10 for layer in layers)


def test_where_non_finite_values_appeared(runs):
    saved = runs["diverged"]
    code, report = diff_json(saved.prefixes[1], saved.prefixes[2])
    assert code == 1
    assert report["verdict"] == "non_finite"
    assert report["steps"] == 1
    appeared = set(report["appeared_non_finite"])
    assert "mlp/hidden/kernel" in appeared
    assert appeared == {v["name"] for v in report["variables"] if v["non_finite_b"]}
    statuses = [v["status"] for v in report["variables"]]
    first_other = statuses.index(next(s for s in statuses if s != "appeared_non_finite"))
    assert all(s != "appeared_non_finite" for s in statuses[first_other:])  # listed first
    for v in report["variables"][:first_other]:
        assert v["non_finite_a"] == 0 and v["non_finite_b"] > 0
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["mlp/hidden"]["non_finite_b"] > 0
    assert report["layers"][0]["non_finite_b"] > 0  # layers with NaN/Inf first


def test_text_names_the_blown_up_variables(runs):
    saved = runs["diverged"]
    code, out, err = pm.run_cli("diff", saved.prefixes[0], saved.prefixes[2])
    assert code == 1 and err == ""
    assert "NON-FINITE APPEARED IN" in out
    assert "mlp/hidden/kernel" in out
    code, out, err = pm.run_cli("diff", saved.prefixes[0], saved.prefixes[1], "--top", "3")
    assert "grew" in out and "WHY" in out and "learning_rate_too_high" in out


def test_json_round_trips(runs):
    saved = runs["diverged"]
    for a, b in ((saved.prefixes[0], saved.prefixes[1]), (saved.prefixes[1], saved.prefixes[2])):
        code, out, _ = pm.run_cli("diff", a, b, "--format", "json")
        data = pm.strict_json(out)
        again = diff.DiffReport.from_dict(data)
        assert again.to_dict() == data
        assert json.loads(again.to_json()) == data


def test_max_growth_threshold(runs):
    """--max-growth decides which weights count as grown; B's own flags (what scan B says)
    still make the verdict abnormal, with the cause scan B gives."""
    saved = runs["diverged"]
    _, report = diff_json(saved.prefixes[0], saved.prefixes[1], "--max-growth", "1e30")
    assert report["max_growth"] == 1e30
    assert not [v for v in report["variables"] if v["status"] == "grew"]
    assert report["verdict"] == "abnormal"
    _, scanned = pm.run_cli("scan", saved.prefixes[1], "--format", "json")[:2]
    assert report["causes"][0]["id"] == pm.strict_json(scanned)["causes"][0]["id"]
    first, second = runs["healthy"].prefixes
    _, report = diff_json(first, second, "--max-growth", "1.0001")
    assert report["verdict"] == "abnormal" and report["summary"]["grew"] > 0


def test_across_formats_matches_weights(runs):
    saved = runs["healthy"]
    code, report = diff_json(saved.prefixes[0], saved.keras)
    assert code == 0
    compared = [v for v in report["variables"] if v["role"] == "weight" and v["ratio"] is not None]
    assert len(compared) == 6  # 3 kernels + 3 biases, matched despite the 'mlp/' prefix
    assert any("matched across formats" in n for n in report["notes"])


def test_swapped_arguments_are_noted(runs):
    first, second = runs["healthy"].prefixes
    _, report = diff_json(second, first)
    assert report["steps"] == -5
    assert any("pass the older checkpoint first" in n for n in report["notes"])


def test_unrelated_checkpoints_are_an_input_error(runs, tmp_path):
    import keras

    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="other")])
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    code, out, err = pm.run_cli("diff", runs["healthy"].prefixes[0], path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "share no variable names" in err


@pytest.mark.parametrize("value", ["0.5", "abc"])
def test_bad_max_growth_is_a_usage_error(runs, value):
    first, second = runs["healthy"].prefixes
    with pytest.raises(SystemExit) as exit_info:
        pm.run_cli("diff", first, second, "--max-growth", value)
    assert exit_info.value.code == 2
