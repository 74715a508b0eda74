"""Residual branches (``h + f(h)``) are found in functional models, and a gradient already
huge at the initial weights is named as growth at initialization, not the learning rate."""

import keras
import numpy as np
from test_cause_rules import INF, diagnose, evidence, health, record

from nantrace.compat.tf import has_normalization, residual_branch_ends
from nantrace.live.history import HistoryRecord


def _layers(model: keras.Model) -> dict:
    return {f"{model.name}/{layer.name}": layer for layer in model.layers}


def test_the_last_layer_of_each_residual_branch_is_found():
    inputs = keras.Input((8,))
    h = keras.layers.Dense(8, name="stem")(inputs)
    for i in range(3):
        r = keras.layers.Dense(8, activation="relu", name=f"b{i}_in")(h)
        r = keras.layers.Dense(8, name=f"b{i}_out")(r)
        h = keras.layers.Add(name=f"add{i}")([h, r])
    side = keras.layers.Dense(8, name="side")(inputs)
    joined = keras.layers.Add(name="join")([h, side])  # two paths from the input: no branch
    model = keras.Model(inputs, joined, name="res")
    assert residual_branch_ends(_layers(model)) == ["res/b0_out", "res/b1_out", "res/b2_out"]
    assert not has_normalization(_layers(model))
    plain = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(8), keras.layers.BatchNormalization()]
    )
    assert residual_branch_ends(_layers(plain)) == [] and has_normalization(_layers(plain))


def _history(first_grad_norm: float) -> HistoryRecord:
    return HistoryRecord(
        steps=np.arange(0, 2),
        loss=np.array([5e4, np.nan]),
        grad_norm=np.array([first_grad_norm, np.nan]),
        weight_norm=np.ones((2, 1)),
        names=("w",),
    )


def test_a_gradient_huge_at_the_initial_weights_is_growth_at_init_with_residual_fixes():
    conv = record("Conv2D", [health(-1e30, 1e30), health(-40.0, 40.0)], output=INF)
    ends = ("net/b0_out", "net/b1_out")
    ev = evidence(step=1, history=_history(1.1e6), residual_branch_ends=ends, learning_rate=0.01)
    cause, fixes = diagnose(conv, "matmul_overflow", ev)
    assert cause.id == "gradient_explosion" and cause.evidence["at_init"]
    assert [f.id for f in fixes[:3]] == [
        "change_initializer",
        "add_normalization",
        "clip_gradients",
    ]
    assert fixes[0].params == {
        "layer": "net/b0_out",
        "layers": list(ends),
        "current": None,
        "suggested": "zeros",
    }
    # a healthy first step: not this rule
    ev = evidence(step=1, history=_history(3.0), residual_branch_ends=ends, learning_rate=0.01)
    assert diagnose(conv, "matmul_overflow", ev)[0].evidence.get("at_init") is None
