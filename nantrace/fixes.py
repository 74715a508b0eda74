"""WHAT to change: ranked fixes with concrete values, derived from the cause and its evidence.

Ranking is a score per fix (kept in the report): the fix that removes the cause directly scores
highest; generic stabilisers (clipping, normalization) follow. Verification by replay
(``Fix.verified``) is a later stage: fixes are produced unverified (None) here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from nantrace.causes import Evidence
from nantrace.records import Cause, Fix, Origin


def _lower_lr(evidence: Evidence, score: float, why: str) -> Fix:
    lr = evidence.learning_rate
    if lr is not None and not math.isfinite(lr):
        new_lr = 1e-3  # a non-finite rate has no scale to divide: start from a common default
    else:
        new_lr = lr / 10.0 if lr else None
    params: dict[str, Any] = {"current": lr, "suggested": new_lr}
    snippet = f"optimizer.learning_rate = {new_lr:.3g}" if new_lr else None
    return Fix("lower_learning_rate", why, params, snippet, score=score)


#: Healthy steps needed before the clip norm is taken from the gradient-norm history.
MIN_HISTORY = 3


def _clip(evidence: Evidence, score: float, why: str) -> Fix:
    """Clip at the median healthy global gradient norm: ordinary steps pass almost unchanged,
    the growing tail that precedes a blow-up is cut."""
    norms = evidence.healthy_grad_norms()
    if norms.size >= MIN_HISTORY:
        p10, p50, p90 = (float(v) for v in np.percentile(norms, [10, 50, 90]))
        clip_norm = float(f"{p50:.3g}")
        basis = (
            f"median global gradient norm of {norms.size} healthy steps "
            f"(p10 {p10:.3g}, p90 {p90:.3g})"
        )
    else:
        clip_norm = 1.0
        basis = f"default: only {norms.size} healthy step(s) of gradient-norm history"
    return Fix(
        "clip_gradients",
        why,
        {"clipnorm": clip_norm, "basis": basis},
        f"{evidence.optimizer_name or 'Adam'}(..., global_clipnorm={clip_norm:g})",
        score=score,
    )


def _normalize(layer: str | None, score: float, why: str) -> Fix:
    where = f"after {layer}" if layer else "before the layer that overflows"
    return Fix(
        "add_normalization",
        why,
        {"layer": "LayerNormalization", "where": where},
        "keras.layers.LayerNormalization()",
        score=score,
    )


def rank_fixes(origin: Origin, cause: Cause | None, evidence: Evidence) -> list[Fix]:
    """Fixes for ``cause`` (best first)."""
    if cause is None:
        return []
    fixes = _fixes_for(origin, cause, evidence)
    return sorted(fixes, key=lambda f: -f.score)


def _fixes_for(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    layer = origin.layer
    if cause.id == "non_finite_input":
        rows = list(origin.rows)
        return [
            Fix(
                "clean_input",
                f"{origin.tensor} holds NaN/Inf in rows {rows[:10]}"
                + (" ..." if len(rows) > 10 else ""),
                {"tensor": origin.tensor, "rows": rows},
                "dataset = dataset.filter(lambda x, y: tf.reduce_all(tf.math.is_finite(x)))",
                score=1.0,
            ),
        ]
    if cause.id == "unscaled_input":
        high = ev.get("input_abs_max", evidence.input_abs_max)
        scale = 1.0 / high if high else 1.0
        return [
            Fix(
                "rescale_input",
                f"inputs reach |x| = {high:.3g}; scale them into ~[-1, 1]",
                {
                    "input_abs_max": high,
                    "scale": scale,
                    "layer": "keras.layers.Normalization() adapted on the training data",
                },
                f"x = x * {scale:.3g}  # or: norm = keras.layers.Normalization(); norm.adapt(data)",
                score=1.0,
            ),
            _normalize(None, 0.5, "normalizing the first layer's input bounds its scale"),
            _lower_lr(evidence, 0.2, "smaller steps reduce the growth of large pre-activations"),
        ]
    if cause.id == "initializer_scale":
        target = ev.get("layer") or layer
        initializer = (
            "he_normal"
            if (
                ev.get("expected_std")
                and "relu"
                in str([s.activation for s in evidence.layer_scales if s.layer == target])
            )
            else "glorot_uniform"
        )
        return [
            Fix(
                "change_initializer",
                f"{target} starts with weight std {ev.get('weight_std', 0):.3g}, "
                f"{ev.get('ratio', 0):.0f}x the std {ev.get('expected_std', 0):.3g} its fan-in "
                f"{ev.get('fan_in')} calls for",
                {
                    "layer": target,
                    "current": ev.get("initializer"),
                    "suggested": initializer,
                    "suggested_std": ev.get("expected_std"),
                    "layers": [
                        s.layer
                        for s in evidence.layer_scales
                        if s.ratio > 10 and (s.initial_ratio or s.ratio) > 10
                    ]
                    or [target],
                },
                f'kernel_initializer="{initializer}"',
                score=1.0,
            ),
            _normalize(target, 0.5, "normalization keeps activations bounded whatever the init"),
            _clip(evidence, 0.3, "clipping bounds the first updates while weights are too large"),
        ]
    if cause.id == "learning_rate_too_high":
        return [
            _lower_lr(evidence, 1.0, cause.summary),
            _clip(evidence, 0.7, "clipping bounds each update's size"),
            _normalize(layer, 0.3, "normalization damps the growth of activations"),
        ]
    if cause.id == "gradient_explosion":
        return [
            _clip(evidence, 1.0, cause.summary),
            _lower_lr(evidence, 0.6, "smaller steps slow the compounding of large gradients"),
            _normalize(layer, 0.5, "normalization between layers keeps gradient scale stable"),
        ]
    if cause.id == "recurrent_explosion":
        layers = ev.get("recurrent_layers") or []
        return [
            _clip(
                evidence,
                1.0,
                "clipping the global gradient norm is the standard cure for "
                "exploding RNN gradients",
            ),
            Fix(
                "use_gated_rnn",
                "gated cells (LSTM/GRU) keep gradients bounded over long sequences",
                {"layers": layers, "suggested": "LSTM"},
                "keras.layers.LSTM(units)  # instead of SimpleRNN",
                score=0.9,
            ),
            _lower_lr(evidence, 0.5, "smaller steps slow the growth of the recurrent weights"),
        ]
    if cause.id == "unstable_loss":
        return [
            Fix(
                "use_from_logits",
                "compute the loss from logits: it is stable where log(probability) is not",
                {"output_activation": evidence.output_activation, "from_logits": True},
                "drop the final softmax/sigmoid and use e.g. "
                "keras.losses.CategoricalCrossentropy(from_logits=True)",
                score=1.0,
            ),
            Fix(
                "add_epsilon",
                f"{origin.op_type} receives exact zeros",
                {"op_type": origin.op_type, "where": origin.source, "epsilon": 1e-7},
                "tf.math.log(tf.clip_by_value(p, 1e-7, 1.0))",
                score=0.9,
            ),
        ]
    if cause.id == "missing_epsilon":
        if origin.kind == "optimizer_update":
            return [
                Fix(
                    "add_epsilon",
                    f"the optimizer's epsilon is {ev.get('epsilon')}",
                    {"target": "optimizer.epsilon", "current": ev.get("epsilon"), "epsilon": 1e-7},
                    f"{evidence.optimizer_name or 'Adam'}(..., epsilon=1e-7)",
                    score=1.0,
                ),
                _lower_lr(evidence, 0.2, "smaller steps reduce the size of each update"),
            ]
        layer_epsilon = ev.get("layer_epsilon")
        if layer_epsilon is not None:
            return [
                Fix(
                    "add_epsilon",
                    f"{layer} is built with epsilon={layer_epsilon:g}; its variance reaches 0",
                    {
                        "target": "layer.epsilon",
                        "layer": layer,
                        "current": layer_epsilon,
                        "epsilon": 1e-3,
                    },
                    f"{ev.get('layer_class', 'Layer')}(..., epsilon=1e-3)",
                    score=1.0,
                ),
            ]
        return [
            Fix(
                "add_epsilon",
                f"{origin.op_type} in {layer or origin.phase} receives exact zeros",
                {
                    "op_type": origin.op_type,
                    "layer": layer,
                    "where": origin.source,
                    "epsilon": 1e-6 if origin.op_type in {"Sqrt", "Rsqrt", "SqrtGrad"} else 1e-7,
                },
                _epsilon_snippet(origin.op_type),
                score=1.0,
            ),
            _normalize(layer, 0.2, "normalization keeps the denominators away from 0"),
        ]
    if cause.id == "float16_range":
        fixes = [
            Fix(
                "float32_layer",
                f"{layer or origin.op_type} overflows float16's range (±65504)",
                {"layer": layer, "dtype": "float32"},
                'keras.layers.<Layer>(..., dtype="float32")  # keep this layer in float32',
                score=1.0 if origin.phase == "forward" else 0.6,
            ),
            Fix(
                "loss_scaling",
                "dynamic loss scaling keeps float16 gradients inside their range",
                {"optimizer": "keras.optimizers.LossScaleOptimizer", "initial_scale": 2.0**15},
                "optimizer = keras.optimizers.LossScaleOptimizer(optimizer)",
                score=0.9 if origin.phase != "forward" else 0.5,
            ),
        ]
        if evidence.loss_scaling:  # already scaled: keeping the layer in float32 is what's left
            fixes = [f for f in fixes if f.id != "loss_scaling"]
            fixes[0] = dataclasses.replace(fixes[0], score=1.0)
        return fixes
    return []


def _epsilon_snippet(op_type: str | None) -> str:
    if op_type in {"Sqrt", "SqrtGrad"}:
        return "tf.sqrt(x + 1e-6)"
    if op_type in {"Rsqrt", "RsqrtGrad"}:
        return "tf.math.rsqrt(x + 1e-6)"
    if op_type in {"Log", "Log1p"}:
        return "tf.math.log(x + 1e-7)"
    return "x / (y + 1e-7)"
