"""WHAT to change: ranked fixes with concrete values, derived from the cause and its evidence.

Only fixes with evidence behind them are listed: the fix that removes the cause scores highest;
a second fix is listed when the evidence supports it too (clipping for dynamics, rescaling when
the features are loose). Values are computed from the run (the clip norm from the gradient-norm
history before its growth began, scale factors from the tensors that feed the model);
verification by replay (:mod:`nantrace.diagnosis.verify`) then searches and checks them. Every
snippet names the tensor, layer or op the evidence points at, and verification applies exactly that.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from nantrace.diagnosis.call_site import SOFTMAX_OPS, CallSiteEdit, editable
from nantrace.diagnosis.evidence import (
    BESSEL_OPS,
    DIVISION_OPS,
    RELU_FAMILY,
    Evidence,
    raw_columns,
    user_name,
)
from nantrace.diagnosis.similarity import Similarity
from nantrace.report.records import Cause, Fix, Origin

#: Healthy steps needed before the clip norm is taken from the gradient-norm history.
MIN_HISTORY = 3
#: A gradient norm this many times the early median belongs to the run-up to the blow-up.
RUN_UP_FACTOR = 3.0


def rank_fixes(origin: Origin, cause: Cause | None, evidence: Evidence) -> list[Fix]:
    """Fixes for ``cause`` (best first); none for ``unknown``: nothing is guessed."""
    if cause is None or cause.id == "unknown":
        return []
    builder = _BUILDERS.get(cause.id)
    fixes = builder(origin, cause, evidence) if builder else []
    if evidence.unnormalized_similarity is not None and cause.id in _OF_A_SIMILARITY:
        fixes.append(_unit_normalization(evidence.unnormalized_similarity))
    return sorted(fixes, key=lambda f: -f.score)


#: Causes an exp of dot products that grew with the embeddings' norms shows up as.
_OF_A_SIMILARITY = frozenset({"unstable_loss", "exp_overflow", "missing_epsilon"})


def _unit_normalization(similarity: Similarity) -> Fix:
    """The L2 normalization the similarity assumes, after each compared layer: the dot
    products are cosines in [-1, 1] whatever the embeddings' norms. Simulated by normalizing
    those layers' outputs as ``keras.layers.UnitNormalization`` does and re-tracing."""
    layers = list(similarity.layers)
    named = " and ".join(layers)
    return Fix(
        "add_normalization",
        f"the loss compares the outputs of {named} by their dot products ({similarity.op_name}) "
        f"and exponentiates them, but they are not unit vectors (values up to "
        f"{similarity.largest:.3g}): the products grow with the embeddings' norms, which the "
        "loss rewards; L2-normalized, they are cosines in [-1, 1] and the exp stays in range",
        {"mode": "unit_norm", "after": layers, "layer": "UnitNormalization"},
        f"keras.layers.UnitNormalization(axis=-1)  # after {named}: embeddings on the unit "
        "sphere, as a temperature-scaled similarity assumes (or z = tf.math.l2_normalize(z, "
        "axis=-1) before the product)",
        score=1.2,
    )


def generic_candidates(evidence: Evidence) -> list[Fix]:
    """Dynamics fixes to try by replay when no rule fits: listed only if replay shows they
    train (the verdict is then the evidence)."""
    if evidence.learning_rate is None:
        return []
    why = "no rule's evidence fits; listed only because replay showed training goes on with it"
    return [_lower_lr(evidence, 0.5, why), _clip(evidence, 0.4, why)]


# ---------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------
def clip_norm_from_history(norms: np.ndarray) -> tuple[float, str] | None:
    """A global clip norm from the healthy gradient norms (oldest first), or None.

    The run-up to a blow-up is excluded: the trailing steps whose norm exceeds
    RUN_UP_FACTOR x the median of the first half are dropped, and the clip is the median of
    what is left (never above that stable stretch's p90)."""
    norms = np.asarray(norms, dtype=np.float64)
    # a zero norm is a step with nothing left to learn (a batch fit exactly), not a scale: a
    # clip norm of 0 would stop every update
    norms = norms[np.isfinite(norms) & (norms > 0)]
    if norms.size < MIN_HISTORY:
        return None
    early = norms[: max(MIN_HISTORY, norms.size // 2)]
    base = float(np.median(early))
    end = norms.size
    while end > 0 and norms[end - 1] > RUN_UP_FACTOR * base:
        end -= 1
    stable = norms[:end] if end >= MIN_HISTORY else early
    p10, p50, p90 = (float(v) for v in np.percentile(stable, [10, 50, 90]))
    clip = float(f"{min(p50, p90):.3g}")
    excluded = norms.size - stable.size
    basis = (
        f"median global gradient norm of {stable.size} stable healthy steps "
        f"(p10 {p10:.3g}, p90 {p90:.3g})"
        + (
            f"; the last {excluded} steps' run-up (> {RUN_UP_FACTOR:g}x) excluded"
            if excluded
            else ""
        )
    )
    return clip, basis


def _site(origin: Origin, evidence: Evidence) -> str | None:
    """The user's line to edit: the op's own line (for a backward origin, the forward op's)."""
    forward = evidence.forward_op
    if origin.phase == "backward" and forward is not None and getattr(forward, "source", None):
        return forward.source
    return origin.source


def _edit(
    kind: str, op: str | None, site: str | None, value: float | None = None, **kw: Any
) -> CallSiteEdit | None:
    """The call-site edit, when the op can be edited where the user wrote it."""
    if not op or not site or not editable(kind, op):
        return None
    return CallSiteEdit(kind, op, site, value, **kw)


def _edit_fix(
    fix_id: str,
    why: str,
    edit: CallSiteEdit | None,
    params: dict[str, Any],
    fallback: str,
    score: float,
) -> Fix:
    """A code-change fix: with an edit, its params and snippet are the edit's (verification
    simulates exactly that edit); without one, the generic snippet, unverifiable."""
    if edit is None:
        return Fix(fix_id, why, params, fallback, score=score)
    return Fix(fix_id, why, {**params, **edit.to_params()}, edit.snippet(), score=score)


def _lower_lr(evidence: Evidence, score: float, why: str) -> Fix:
    lr = evidence.learning_rate
    if lr is not None and not math.isfinite(lr):
        new_lr = 1e-3  # a non-finite rate has no scale to divide: start from a common default
    else:
        new_lr = lr / 10.0 if lr else None
    params: dict[str, Any] = {"current": lr, "suggested": new_lr}
    snippet = f"optimizer.learning_rate = {new_lr:.3g}" if new_lr else None
    return Fix("lower_learning_rate", why, params, snippet, score=score)


def _clip(evidence: Evidence, score: float, why: str) -> Fix:
    """Clip at the median of the stable healthy gradient norms: ordinary steps pass almost
    unchanged, the growing tail that precedes a blow-up is cut."""
    found = clip_norm_from_history(evidence.healthy_grad_norms())
    if found is not None:
        clip_norm, basis = found
    else:
        clip_norm = 1.0
        basis = (
            f"default: only {evidence.healthy_grad_norms().size} healthy step(s) of "
            "gradient-norm history"
        )
    return Fix(
        "clip_gradients",
        why,
        {"clipnorm": clip_norm, "basis": basis},
        f"{evidence.optimizer_name or 'Adam'}(..., global_clipnorm={clip_norm:g})",
        score=score,
    )


def _column_scales(columns: tuple[float, ...]) -> tuple[float, ...]:
    """Per-column factors when the table's columns differ in range by > 100x, or some are raw
    among scaled ones (``evidence.raw_columns``): each column
    beyond ±10 scaled to ~1, the others left at 1; () otherwise (one factor then)."""
    if len(columns) < 2:
        return ()
    spread = [c for c in columns if c > 0]
    if not spread or (max(spread) < 100 * min(spread) and not raw_columns(columns)):
        return ()
    return tuple(_scale_for(c) if c > IN_RANGE else 1.0 for c in columns)


#: a feature column within ±10 is in the range networks are built for
IN_RANGE = 10.0


def _scale_for(abs_max: float) -> float:
    """A power-of-ten-ish factor that brings ``abs_max`` to about 1."""
    return float(f"{1.0 / abs_max:.3g}") if abs_max > 0 else 1.0


def _rescale(
    fix_id: str,
    tensor: str | None,
    abs_max: float,
    score: float,
    why: str,
    arguments: list[str] | None = None,
    columns: tuple[float, ...] = (),
) -> Fix:
    name = tensor or ("x" if fix_id == "rescale_input" else "y")
    shown = user_name(name, arguments)
    scale = _scale_for(abs_max)
    scales = _column_scales(columns)
    if scales:  # only the columns out of range: one factor would crush the others
        shown_scales = ", ".join(f"{s:.3g}" for s in scales)
        snippet = (
            f'{shown} = {shown} * np.array([{shown_scales}], dtype="float32")  # per column: '
            "each beyond ±10 brought to ~1, the others kept (or: norm = "
            "keras.layers.Normalization(); norm.adapt(features) as the first layer)"
        )
        params = {"tensor": name, "abs_max": abs_max, "scale": list(scales)}
        return Fix(fix_id, why, params, snippet, score=score)
    if fix_id == "rescale_input":
        snippet = (
            f"{shown} = {shown} * {scale:.3g}  # or: norm = keras.layers.Normalization(); "
            "norm.adapt(features) as the first layer"
        )
    else:
        snippet = (
            f"{shown} = {shown} * {scale:.3g}  # train on scaled targets; divide predictions by "
            f"{scale:.3g} to get original units (or train on tf.math.log1p({shown}))"
        )
    return Fix(
        fix_id,
        why,
        {"tensor": name, "abs_max": abs_max, "scale": scale},
        snippet,
        score=score,
    )


# ---------------------------------------------------------------------------------------------
# per cause
# ---------------------------------------------------------------------------------------------
def _non_finite_input(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    decode = [_decode_bytes(origin)] if cause.evidence.get("misread_bytes") else []
    return decode + _clean_rows(origin, cause, evidence)


def _decode_bytes(origin: Origin) -> Fix:
    """Bytes of another type decoded as float32: decode them as what they were written as."""
    tensor = origin.tensor or "x"
    return Fix(
        "clean_input",
        f"{tensor} is bytes of another type decoded as float32: NaN and values near 1e38 beside "
        "1e-40 are bit patterns, not data; decode the file as the dtype it was written in, "
        "then scale",
        {"tensor": tensor, "rows": list(origin.rows), "mode": "decode"},
        f"{tensor} = np.fromfile(path, dtype=np.int16).astype('float32') / 32768.0"
        "  # the dtype the file was written in (uint8 pixels: np.uint8, / 255.0), not "
        "np.float32",
        score=1.1,
    )


def _clean_rows(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    """Drop the rows that hold NaN/Inf, or impute when every row does; in every batch tensor
    whose NaN/Inf reaches the failure (a feature and the labels), not only the first."""
    rows = list(origin.rows)
    tensor = origin.tensor or "x"
    holding = list(cause.evidence.get("tensors") or [tensor])  # NaN in this batch
    every_row = bool(cause.evidence.get("every_row"))
    # a row filter looks at every float tensor of the batch: a later batch's NaN may sit in
    # another one (the features of the windows after a NaN label)
    tensors = (
        holding
        if every_row
        else list(dict.fromkeys([*holding, *cause.evidence.get("row_tensors", ())]))
    )
    several = {"tensors": tensors} if len(tensors) > 1 else {}
    size = cause.evidence.get("batch_size")
    named = " and ".join(tensors)
    if every_row:
        return [
            Fix(
                "clean_input",
                f"{named} hold{'s' if len(tensors) == 1 else ''} NaN/Inf in every row of the "
                "batch: filtering rows would leave nothing to train on; replace the missing "
                "values (impute) instead",
                {"tensor": tensor, "rows": rows, "mode": "impute", "value": 0.0, **several},
                "\n".join(f"{t} = tf.where(tf.math.is_finite({t}), {t}, 0.0)" for t in tensors)
                + "  # or impute each column's mean when loading the data",
                score=1.0,
            )
        ]
    finite = " & ".join(f"tf.reduce_all(tf.math.is_finite({t}))" for t in tensors)
    return [
        Fix(
            "clean_input",
            f"{tensor} holds NaN/Inf in {len(rows)} of {size or '?'} rows: {rows[:10]}"
            + (" ..." if len(rows) > 10 else "")
            + "".join(f"; {t} holds some too" for t in holding[1:])
            + (
                f"; the filter checks {' and '.join(tensors)}, since a later batch's NaN may sit "
                "in any of them"
                if len(tensors) > len(holding)
                else ""
            ),
            {"tensor": tensor, "rows": rows, "mode": "drop_rows", **several},
            f"dataset = dataset.filter(lambda {_filter_arguments(evidence.arguments, tensor)}: "
            f"{finite})  # drops the rows whose {' or '.join(tensors)} is not finite",
            score=1.0,
        )
    ]


def _filter_arguments(arguments: list[str], tensor: str) -> str:
    """The lambda parameters of a ``dataset.filter`` over the step's batches: the step's own
    argument names, or ``*data`` when one argument holds the whole (x, y, ...) tuple (a Keras
    ``train_step(data)``), since ``filter`` passes a tuple element unpacked."""
    if len(arguments) == 1 and tensor.startswith(f"{arguments[0]}["):
        return f"*{arguments[0]}"
    return ", ".join(arguments or ["x", "y"])


def _missing_code_fix(ev: dict[str, Any], evidence: Evidence) -> Fix:
    """Impute a missing-value code: every entry of the tensor equal to the code becomes the
    median of the column's other values (what the simulation does, exactly as typed)."""
    tensor = ev["tensor"]
    shown = user_name(tensor, evidence.arguments)
    code, fill = float(ev["missing_code"]), float(f"{float(ev['column_median']):.3g}")
    return Fix(
        "clean_input",
        f"{code:g} in column {ev['column']} of {tensor} is a missing-value code, not a value: "
        "impute it (or drop those rows) instead of rescaling every input",
        {
            "tensor": tensor,
            "mode": "missing_code",
            "column": ev["column"],
            "code": code,
            "value": fill,
            "rows": ev.get("rows", []),
        },
        f"{shown} = tf.where(tf.equal({shown}, {code!r}), {fill!r}, {shown})  # {code:g} marks a "
        f"missing value (column {ev['column']}): impute it (here {fill:g}, the median of the "
        "column's other values) when loading the data, or drop those rows",
        score=1.0,
    )


def _unscaled_input(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    """The fixes of unscaled features; a Rescaling layer that multiplies them up comes first
    (rescaling the batch alone, it would multiply it back)."""
    fixes = _unscaled_input_fixes(origin, cause, evidence)
    if evidence.amplifying_rescaling is None:
        return fixes
    return [_rescaling_divides(evidence.amplifying_rescaling), *fixes]


def _rescaling_divides(rescaling: tuple[str, float, float, float]) -> Fix:
    """A ``keras.layers.Rescaling`` given the divisor (255) where its inverse was meant: the
    layer made to divide (simulated by setting its ``scale`` and re-tracing); a batch already
    within ~[-1, 1] gets scale 1 (the layer scales nothing it should)."""
    layer, scale, offset, reach = rescaling
    divides = reach > 1.5
    new = float(f"{1.0 / scale:.4g}") if divides else 1.0
    shown = f"1.0 / {scale:g}" if divides else "1.0"
    short = layer.split("/")[-1]
    offset_text = f", offset={offset:g}" if offset else ""
    return Fix(
        "rescale_input",
        f"{layer} is a keras.layers.Rescaling with scale={scale:g}: it multiplies the input "
        f"(up to |x| = {reach:.3g}) by {scale:g} where "
        + (f"dividing by {scale:g} was meant" if divides else "the data is already in range"),
        {"mode": "rescaling_layer", "layer": layer, "scale": new, "current": scale},
        f'keras.layers.Rescaling({shown}{offset_text}, name="{short}")  # was scale={scale:g}',
        score=1.15,
    )


def _unscaled_input_fixes(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    if ev.get("sample_weights"):
        return _weights_rescaled(ev, evidence)
    reach = float(ev.get("input_abs_max") or evidence.input_abs_max)
    if ev.get("degenerate_normalization"):
        layer, tensor = ev["degenerate_normalization"], ev.get("tensor")
        name = str(layer).split("/")[-1]
        columns = ev.get("zero_variance_columns")
        snippet = (
            f"{name}.adapt(training_features)  # all of {tensor}'s training rows, not a "
            "sample where these columns never vary"
            if columns
            else f"keras.layers.Normalization(mean=features.mean(axis=0), variance="
            f'features.var(axis=0), name="{name}")  # the variance, of the very {tensor} '
            "the model reads"
            if evidence.normalization_given_statistics
            else f"{name}.adapt(training_features)  # on the very {tensor} the model reads"
        )
        return [
            Fix(
                "rescale_input",
                f"{layer} was adapted on data where column(s) {columns} never varied: adapted "
                "on the whole training set it scales them like the others"
                if columns
                else f"{layer}'s mean and variance are not those of {tensor}: computed on the "
                "data it reads, it puts out standardized values",
                {
                    "mode": "normalization_readapted",
                    "layer": layer,
                    "tensor": tensor,
                    "columns": columns,
                },
                snippet,
                score=1.1,
            )
        ]
    if ev.get("missing_code") is not None and ev.get("tensor"):
        # rescaling every input by the code's size would crush the real values: a fallback
        return [
            _missing_code_fix(ev, evidence),
            _rescale(
                "rescale_input",
                ev.get("tensor"),
                reach,
                0.4,
                f"the features {ev.get('tensor')} reach |x| = {reach:.3g} (the code)",
                arguments=evidence.arguments,
            ),
        ]
    same = ev.get("tensor") is not None and ev.get("tensor") == evidence.feature
    inverted = (
        [_not_inverted(ev["inverted_normalization"])] if ev.get("inverted_normalization") else []
    )
    fixes = inverted + [
        _rescale(
            "rescale_input",
            ev.get("tensor"),
            reach,
            1.0,
            f"the features {ev.get('tensor') or ''} reach |x| = {reach:.3g}; scale them into "
            "~[-1, 1]",
            arguments=evidence.arguments,
            columns=evidence.feature_columns_abs_max if same else (),
        )
    ]
    if ev.get("raw_columns") and evidence.learning_rate is not None:
        # a column of counts may be meant that way: the step size is the other suspect
        fixes.append(
            _lower_lr(evidence, 0.6, "smaller steps keep the raw columns' weights from growing")
        )
    if ev.get("target"):
        fixes.append(
            _rescale(
                "rescale_target",
                ev.get("target"),
                float(ev.get("target_abs_max") or 0.0),
                0.8,
                f"the target {ev.get('target')} reaches |y| = {ev.get('target_abs_max'):.3g} too",
                arguments=evidence.arguments,
            )
        )
    return fixes


def _weights_rescaled(ev: dict[str, Any], evidence: Evidence) -> list[Fix]:
    """Sample weights on a raw scale divided by their mean: weights averaging ~1 keep the
    loss and the updates at the scale the learning rate was tuned for, and the rows keep
    their relative weights. A smaller rate is the other way to the same step size."""
    tensor = str(ev["tensor"])
    shown = user_name(tensor, evidence.arguments)
    mean, high = float(ev["weight_mean"]), float(ev["weight_max"])
    divisor = mean if mean > 0 else high
    scale = float(f"{1.0 / divisor:.3g}")
    fixes = [
        Fix(
            "rescale_input",
            f"the sample weights {tensor} average {mean:.3g} and reach {high:.3g}; divided by "
            "their mean they average ~1 and keep their ratios",
            {"tensor": tensor, "scale": scale, "weight_mean": mean, "weight_max": high},
            f"{shown} = {shown} * {scale:.3g}  # sample weights averaging ~1 (divided by their "
            f"mean, {divisor:.3g}): the loss keeps the scale the learning rate was tuned for",
            score=1.0,
        )
    ]
    if evidence.learning_rate is not None:
        fixes.append(
            _lower_lr(evidence, 0.6, "smaller steps make up for the weights' scale in the updates")
        )
    return fixes


def _negative_sample_weight(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    """Weights kept >= 0: a row with a negative weight has a loss unbounded below. Clipped at
    0 (the row left out of the loss) in the batch, as the snippet does."""
    ev = cause.evidence
    tensor = str(ev["tensor"])
    shown = user_name(tensor, evidence.arguments)
    return [
        Fix(
            "clean_input",
            f"{float(ev['negative_share']):.0%} of the sample weights {tensor} are negative "
            f"(down to {float(ev['weight_min']):.3g}); a weight >= 0 keeps each row's loss "
            "bounded below (if the sign was meant to say 'push away', use a loss built for "
            "that, not a negative weight)",
            {"tensor": tensor, "mode": "clip_negative", "weight_min": ev["weight_min"]},
            f"{shown} = tf.maximum({shown}, 0.0)  # a negative weight makes its row's loss "
            "unbounded below; 0 leaves the row out",
            score=1.0,
        )
    ]


def _not_inverted(layer: str) -> Fix:
    """The input's Normalization layer built without ``invert=True``: rescaled features would
    only be multiplied by their spread again. Simulated by turning the layer's ``invert`` off
    and re-tracing the step (the layer reads it when called)."""
    short = layer.split("/")[-1]
    return Fix(
        "rescale_input",
        f"{layer} is a keras.layers.Normalization built with invert=True: it computes mean + "
        "x * std (the inverse, for turning predictions back into data units) and feeds the "
        "network the features multiplied by their spread; build it without invert=True",
        {"mode": "normalization_not_inverted", "layer": layer},
        f'{short} = keras.layers.Normalization(name="{short}")  # without invert=True; '
        f"{short}.adapt(features) as before: (x - mean) / std",
        score=1.1,
    )


def _code_rows_dropped(ev: dict[str, Any], evidence: Evidence) -> Fix:
    """Drop the rows whose target is a code (unlabelled): a ``dataset.filter``, simulated by
    dropping exactly the rows it drops."""
    tensor = ev["tensor"]
    shown = user_name(tensor, evidence.arguments)
    code = float(ev["missing_code"])
    return Fix(
        "clean_input",
        f"{code:g} in {tensor} marks rows with no real target: drop them (or mask them out of "
        "the loss) instead of rescaling the targets",
        {"tensor": tensor, "mode": "drop_code", "code": code, "rows": ev.get("rows", [])},
        f"dataset = dataset.filter(lambda {_filter_arguments(evidence.arguments, tensor)}: "
        f"tf.reduce_all(tf.not_equal({shown}, {code!r})))  # drops the rows whose {shown} is "
        f"the code {code:g}",
        score=1.0,
    )


def _labels_onto_unit(ev: dict[str, Any], origin: Origin, evidence: Evidence) -> Fix:
    """Labels of a cross-entropy spanning [low, high]: (y - low) / (high - low) maps them onto
    [0, 1] (0 / 255 masks: y / 255; classes coded 1 / 2: y - 1; targets in {-1, 1}: (y + 1) / 2),
    simulated by the same map on every batch. The hand-written log that went to log(0) gets its
    epsilon too, where it can be edited: with right labels a confident model still rounds p to
    exactly 0 or 1 (0 * log(0) = NaN), so the map alone only postpones the NaN."""
    name = ev["tensor"]
    shown = user_name(name, evidence.arguments)
    low, high = float(ev["label_min"]), float(ev["label_max"])
    span = high - low
    shifted = f"{shown} - {low:g}" if low > 0 else f"{shown} + {-low:g}" if low < 0 else shown
    if span != 1.0:
        shifted = f"({shifted}) / {span:g}" if low else f"{shown} / {span:g}"
    line = f"{shown} = {shifted}  # the labels of a cross-entropy must lie in [0, 1]"
    params: dict[str, Any] = {"tensor": name, "shift": low, "scale": 1.0 / span}
    why = f"the labels {name} span [{low:g}, {high:g}]: a cross-entropy needs them in [0, 1]"
    op = ev.get("op_type") or origin.op_type
    edit = _edit("epsilon", op, _site(origin, evidence), 1e-7)
    if edit is None:
        return Fix("rescale_target", why, params, line, score=1.0)
    return Fix(
        "rescale_target",
        f"{why}; and an epsilon in the hand-written {op}, which a confident model otherwise "
        "still drives to log(0)",
        {**params, **edit.to_params(), "batch_line": line},
        f"{line}\n{edit.snippet()}",
        score=1.0,
    )


def _unscaled_target(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    if ev.get("label_min") is not None and ev.get("tensor") and ev["label_max"] > ev["label_min"]:
        return [_labels_onto_unit(ev, origin, evidence)]
    if ev.get("missing_code") is not None and ev.get("tensor"):
        return [
            _code_rows_dropped(ev, evidence),
            _rescale(
                "rescale_target",
                ev.get("tensor"),
                abs(float(ev["missing_code"])),
                0.4,
                f"the target {ev.get('tensor')} reaches |y| = {abs(float(ev['missing_code'])):.3g}"
                " (the code)",
                arguments=evidence.arguments,
            ),
        ]
    fixes = [
        _rescale(
            "rescale_target",
            ev.get("tensor"),
            float(ev.get("target_abs_max") or 0.0),
            1.0,
            f"the target {ev.get('tensor') or ''} reaches |y| = "
            f"{float(ev.get('target_abs_max') or 0.0):.3g}; scale it (or log-transform it)",
            arguments=evidence.arguments,
        )
    ]
    if evidence.half_precision:
        fixes.append(_float32_output(origin, 0.7))
    return fixes


def _float32_output(origin: Origin, score: float) -> Fix:
    return Fix(
        "float32_layer",
        "under mixed precision the output layer's float16 result cannot hold large targets",
        {"layer": origin.layer or "the output layer", "dtype": "float32"},
        'keras.layers.Dense(..., dtype="float32")  # the output layer in float32',
        score=score,
    )


def _initializer_scale(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    if ev.get("initial_bias") is not None:
        return [_bias_at_its_log(ev)]
    if ev.get("non_finite_initializer"):
        attribute, layer = ev["initializer_attribute"], ev.get("layer") or origin.layer
        suggested = "zeros" if attribute == "bias_initializer" else "glorot_uniform"
        return [
            Fix(
                "change_initializer",
                f"{layer}'s {attribute} is a Constant of {ev['initializer_value']}: start it "
                f"at a finite value ({suggested}), or compute the constant with an epsilon",
                {
                    "layer": layer,
                    "variable": str(ev["variable"]).split(":")[0],
                    "current": f"Constant({ev['initializer_value']})",
                    "suggested": suggested,
                },
                f'{attribute}="{suggested}"  # in {layer}; or compute the constant with an '
                "epsilon, e.g. np.log((pos + 1) / (neg + 1))",
                score=1.0,
            )
        ]
    target = ev.get("layer") or origin.layer
    scales = evidence.layer_scales + evidence.model_layer_scales
    activation = [s.activation for s in scales if s.layer == target]
    initializer = "he_normal" if activation and activation[0] in RELU_FAMILY else "glorot_uniform"
    layers = (
        ev.get("layers")
        or [
            s.layer
            for s in evidence.layer_scales
            if s.ratio > 10 and (s.initial_ratio or s.ratio) > 10
        ]
        or [target]
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
                "layers": layers,
            },
            f'kernel_initializer="{initializer}"  # in {", ".join(layers)}',
            score=1.0,
        )
    ]


def _bias_at_its_log(ev: dict[str, Any]) -> Fix:
    """An exp output's bias started at the value the output should start at: at its log."""
    layer, initial = ev.get("layer"), ev["initial_bias"]
    suggested = round(float(ev["suggested_bias"]), 4)
    return Fix(
        "change_initializer",
        f"{layer} starts its bias at {initial:.3g} and outputs exp(bias): start the bias at "
        f"log({initial:.3g}) = {suggested:.3g} for a first prediction of {initial:.3g}",
        {
            "layer": layer,
            "variable": ev.get("variable"),
            "current": f"Constant({initial:.6g})",
            "suggested": "constant",
            "constant": suggested,
        },
        f"bias_initializer=keras.initializers.Constant({suggested})  # in "
        f"{layer}: log({initial:.3g}), as its output is exp()",
        score=1.0,
    )


def _learning_rate(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    fixes = [_lower_lr(evidence, 1.0, cause.summary)]
    if math.isfinite(evidence.learning_rate or 0.0) and origin.kind != "optimizer_update":
        fixes.append(_clip(evidence, 0.7, "clipping bounds each update's size"))
    return fixes


def _gradient_explosion(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    fixes = _residual_fixes(evidence) if _explodes_at_init(cause, evidence) else []
    return fixes + [
        _clip(evidence, 1.0, cause.summary),
        _lower_lr(evidence, 0.6, "smaller steps slow the compounding of large gradients"),
    ]


def _explodes_at_init(cause: Cause, evidence: Evidence) -> bool:
    """The gradient explodes at the initial weights (not after growth over the run)."""
    if cause.evidence.get("at_init"):
        return True
    return evidence.explosive_start() is not None or evidence.step == 0


def _residual_fixes(evidence: Evidence) -> list[Fix]:
    """For residual branches added without normalization: each branch's last layer started at
    zero (every block the identity at first: Fixup, "zero-init residual"), verified by
    re-drawing those kernels with zeros; and the normalization put back (not simulated)."""
    ends = list(evidence.residual_branch_ends)
    if not ends or evidence.normalized:
        return []
    return [
        Fix(
            "change_initializer",
            f"{len(ends)} residual branches are added to their input without normalization: "
            "started at zero, each block is the identity at first and the sum no longer grows "
            "with depth",
            {"layer": ends[0], "layers": ends, "current": None, "suggested": "zeros"},
            f'kernel_initializer="zeros"  # the last layer of each residual branch: {", ".join(ends)}',
            score=1.1,
        ),
        Fix(
            "add_normalization",
            "a normalization layer in each block keeps the activations' scale from growing "
            "with depth",
            {"after": ends, "layer": "BatchNormalization"},
            "keras.layers.BatchNormalization()  # after the last layer of each residual "
            "branch (LayerNormalization in a transformer block)",
            score=1.05,
        ),
    ]


def _recurrent_explosion(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    if cause.evidence.get("unbounded_activation"):
        # the state grows whatever the step: a lower rate or a clip only postpones it (typed
        # from step 0: non-finite at step 352 of 960, and at 60-69 of 384, where the replay
        # from a mid-run anchor had trained); the change is the cell's activation, which no
        # fix id of ours simulates
        return []
    layers = cause.evidence.get("recurrent_layers") or []
    gated = (
        []
        if cause.evidence.get("gated")
        else [
            Fix(
                "use_gated_rnn",
                "gated cells (LSTM/GRU) keep the state and its gradients bounded over long sequences",
                {"layers": layers, "suggested": "LSTM"},
                "keras.layers.LSTM(units)  # instead of the ungated recurrent layer",
                score=0.9,
            )
        ]
    )  # a gated cell already: what grows is outside its gates, no other cell helps
    return [
        _clip(
            evidence,
            1.0,
            "clipping the global gradient norm is the standard cure for exploding RNN gradients",
        ),
        *gated,
        _lower_lr(evidence, 0.5, "smaller steps slow the growth of the recurrent weights"),
    ]


def _unstable_loss(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    if cause.evidence.get("exp_overflow"):
        return _exp_overflow(origin, cause, evidence)
    op = cause.evidence.get("op_type") or origin.op_type
    site = _site(origin, evidence)
    if cause.evidence.get("recursion"):
        return [
            Fix(
                "use_logsumexp",
                f"the recursion multiplies {cause.evidence.get('repeated', 0) + 1} times in "
                "probability space: carry its logarithm instead, each step a logsumexp",
                {"op_type": op, "where": site},
                "log_alpha = tf.reduce_logsumexp(log_alpha[:, :, None] + log_transitions, "
                "axis=1) + log_emission[:, t]  # instead of alpha = (alpha @ transitions) * "
                "emission[:, t]; at the end tf.reduce_logsumexp(log_alpha, -1)",
                score=1.1,
            )
        ]
    underflow = bool(cause.evidence.get("exp_underflow"))
    epsilon = _edit_fix(
        "add_epsilon",
        "log1p receives exactly -1 (-p of a p that rounded to 1)"
        if op == "Log1p"
        else f"{op} receives exact zeros",
        _edit("epsilon", op, site, 1e-7),
        {"op_type": op, "where": site},
        "tf.math.log(x + 1e-7)" if underflow else "tf.math.log(tf.clip_by_value(p, 1e-7, 1.0))",
        0.9,
    )
    if underflow:
        return [
            Fix(
                "use_logsumexp",
                f"{op} of a sum of exponentials that underflowed: the sum in log space, "
                "log(sum(exp(a))) = tf.reduce_logsumexp(a), never underflows",
                {"op_type": op, "where": site},
                "tf.reduce_logsumexp(tf.math.log(weights) + log_density, axis=-1)  "
                "# instead of tf.math.log(tf.reduce_sum(weights * tf.exp(log_density), -1))",
                score=1.1,
            ),
            epsilon,
        ]
    if cause.evidence.get("not_probabilities"):
        layer = cause.evidence.get("output_layer")
        return [
            Fix(
                "use_from_logits",
                f"the output layer {layer} gives non-negative scores, not probabilities: let it "
                "return logits (no ReLU) and compute the loss from them",
                {"output_layer": layer, "from_logits": True},
                f"drop the ReLU of {layer} and use e.g. "
                "keras.losses.CategoricalCrossentropy(from_logits=True)  # or softmax outputs",
                score=1.0,
            )
        ]
    if cause.evidence.get("mixture"):  # no logits behind a mixture: its log in log space
        return [
            Fix(
                "use_logsumexp",
                f"{op} of a mixture of probabilities (a weighted sum or mean of softmaxes): "
                "computed in log space, log(sum_k w_k p_k) = logsumexp_k(log w_k + log p_k), "
                "it has no exact 0 to take the log of",
                {"op_type": op, "where": site},
                "tf.reduce_logsumexp(tf.math.log(weights) + tf.nn.log_softmax(logits), axis=k)  "
                "# instead of tf.math.log(tf.reduce_sum(weights * tf.nn.softmax(logits), axis=k))",
                score=1.0,
            ),
            epsilon,
        ]
    producer = evidence.argument_producers[0] if evidence.argument_producers else None
    logits = _edit("log_softmax", op, site) if producer in {"Softmax", "Sigmoid"} else None
    return [
        _edit_fix(
            "use_from_logits",
            "compute the loss from logits: it is stable where log(probability) is not"
            + (
                " (and let the model return the logits: drop its final activation)"
                if logits
                else ""
            ),
            logits,
            {"output_activation": evidence.output_activation, "from_logits": True},
            "drop the final softmax/sigmoid and use e.g. "
            "keras.losses.CategoricalCrossentropy(from_logits=True)",
            1.0,
        ),
        epsilon,
    ]


def _missing_epsilon(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    layer = origin.layer
    if ev.get("captured_inf"):
        # computed before the step: no line of the step to edit, nothing to replay
        return [
            Fix(
                "add_epsilon",
                f"{ev.get('op_type')} reads a constant that is +inf before the step: floor the "
                "statistic it was divided by where it is computed",
                {"op_type": ev.get("op_type"), "mode": "before_the_step", "epsilon": 1e-8},
                "weight = n / max(count, 1)  # or 1.0 / max(np.var(y), 1e-8): where the "
                "constant is computed, before training",
                score=1.0,
            )
        ]
    if origin.kind == "optimizer_update" and ev.get("setting"):
        setting, default = ev["setting"], ev.get("default")
        return [
            Fix(
                "add_epsilon",
                f"the optimizer's {setting} is {ev.get('current'):g}; its default {default:g} "
                "keeps the update's denominator above 0",
                {
                    "target": f"optimizer.{setting}",
                    "current": ev.get("current"),
                    "epsilon": default,
                },
                f"{evidence.optimizer_name or 'optimizer'}(..., {setting}={default:g})",
                score=1.0,
            )
        ]
    if origin.kind == "optimizer_update" and ev.get("optimizer") and "epsilon" in ev:
        # the optimizer's own epsilon (not a division of a constraint or hand-written update
        # that happens to run inside apply_gradients)
        return [
            Fix(
                "add_epsilon",
                f"the optimizer's epsilon is {ev.get('epsilon')}",
                {"target": "optimizer.epsilon", "current": ev.get("epsilon"), "epsilon": 1e-7},
                f"{evidence.optimizer_name or 'Adam'}(..., epsilon=1e-7)",
                score=1.0,
            )
        ]
    layer_epsilon = ev.get("layer_epsilon")
    if layer_epsilon is not None:
        return [
            Fix(
                "add_epsilon",
                f"{ev.get('layer')} is built with epsilon={layer_epsilon:g}; "
                "its variance reaches 0",
                {
                    "target": "layer.epsilon",
                    "layer": ev.get("layer") or layer,
                    "current": layer_epsilon,
                    "epsilon": 1e-3,
                },
                f"{ev.get('layer_class', 'Layer')}(..., epsilon=1e-3)",
                score=1.0,
            )
        ]
    op = ev.get("op_type") or origin.op_type
    site = _site(origin, evidence)
    epsilon = 1e-12 if op in {"Sqrt", "Rsqrt", "EuclideanNorm", "Pow"} else 1e-7
    why = f"{op} in {ev.get('layer') or layer or origin.phase} receives exact zeros" + (
        " (its gradient is infinite at 0)" if ev.get("backward") else ""
    )
    if ev.get("not_positive_definite"):
        epsilon = 1e-4
        why = (
            f"{op} in {ev.get('layer') or layer or origin.phase} gets a matrix that is not "
            "positive definite: a jitter on its diagonal"
        )
    params = {"op_type": op, "layer": ev.get("layer") or layer, "where": site}
    add = _edit_fix(
        "add_epsilon",
        why,
        _edit("epsilon", op, site, epsilon),
        params,
        _epsilon_snippet(op, epsilon),
        1.0,
    )
    if ev.get("exp_underflow"):  # set only for a division (causes._zero_argument)
        return [
            Fix(
                "use_logsumexp",
                f"{op} divides by a sum of exponentials that all underflowed to 0: normalized "
                "in log space (a softmax, or log-domain iterations) the sum is never 0",
                {"op_type": op, "where": site},
                "w = tf.nn.softmax(logits, axis=-1)  # instead of tf.exp(logits) / "
                "tf.reduce_sum(tf.exp(logits), -1); iterations (Sinkhorn) in log space with "
                "tf.reduce_logsumexp",
                score=1.1,
            ),
            add,
        ]
    if ev.get("divisor_variable"):
        name = str(ev["divisor_variable"]).split(":")[0]
        return [
            Fix(
                "change_initializer",
                f"{op} divides by the trainable weight {name}, which is 0: a learned scale or "
                "temperature that starts at 0; start it at 1",
                {"variable": name, "current": "zeros", "suggested": "ones"},
                f'self.add_weight(..., initializer="ones")  # {name}: a divisor must not start at 0',
                score=1.05,
            ),
            add,
        ]
    if ev.get("inverse_count"):  # an absent entry's weight is 0, not 1 / epsilon
        # no epsilon: its ~1 / epsilon weight swamps the rest (generalized Dice: the loss
        # froze at 1; per-batch class weights: the batches without the class stopped training)
        return [
            _no_nan_division(
                f"1 / count of an entry absent from the batch ({ev['inverse_count']}): "
                "divide_no_nan gives it the weight 0, where an epsilon gives it ~1 / epsilon "
                "and lets it swamp the entries that are present",
                op,
                site,
                "tf.math.divide_no_nan(1.0, count)  # 0 for a class absent from the batch",
            )
        ]
    if ev.get("empty_count"):
        drop = _drop_padding(ev, evidence)
        no_nan = (
            _no_nan_division(  # it moves with the weights: 0 here, tiny on the next batch
                "0/0: divide_no_nan gives 0 where the normalizer is exactly 0 (not where it is "
                "tiny)",
                op,
                site,
                "tf.math.divide_no_nan(x, normalizer)  # 0 where normalizer == 0",
                score=0.8,
            )
            if ev.get("learned_normalizer")
            else _no_nan_division(
                "x/0: divide_no_nan gives 0 where the denominator is 0 (a schedule's divisor "
                "at the step it reaches 0)"
                if ev.get("zero_over_zero") is False
                else "0/0: divide_no_nan gives 0 where the denominator is 0 (a count of an "
                "empty selection, a normalizer that is 0 with its quantity)",
                op,
                site,
                "tf.math.divide_no_nan(total, count)  # 0 where count == 0",
                score=0.95,
            )
        )
        if ev.get("schedule") and op not in DIVISION_OPS:
            # a schedule's power or root of a step count at 0 (t ** -0.75, rsqrt(t)): the
            # count clamped at 1, the one form that keeps the formula (no quotient to guard)
            clamp = _edit_fix(
                "add_epsilon",
                why,
                _edit("clamp_min", op, site, 1.0),
                params,
                "tf.maximum(step, 1.0)",
                1.0,
            )
            return [clamp]
        if ev.get("schedule") or op not in DIVISION_OPS:
            # a schedule's 0/0 (step / warmup_steps) wants the count clamped at 1, where an
            # epsilon gives step / 1e-12; a mean of nothing has no divisor for an epsilon
            clamp = _edit_fix(
                "add_epsilon",
                why,
                _edit("clamp_min", op, site, 1.0),
                params,
                "total / tf.maximum(count, 1.0)",
                0.8,
            )
            ranked = [dataclasses.replace(no_nan, score=1.0), clamp]
        else:
            # 0/0 of a division: the taxonomy's epsilon in the divisor (0 / eps is 0; a count
            # of 1 or more, or any normalizer well above eps, is barely moved) first,
            # divide_no_nan its equivalent; not a clamp at 1, which changes every divisor below 1
            ranked = [add, no_nan]
        return ranked + ([drop] if drop is not None else [])
    zero_head = _positive_head(op, origin, evidence)
    return [add] + ([zero_head] if zero_head is not None else [])


def _no_nan_division(
    why: str, op: str | None, site: str | None, fallback: str, score: float = 1.0
) -> Fix:
    """``tf.math.divide_no_nan`` at the division's call site: 0 where the divisor is 0."""
    edit = _edit("divide_no_nan", op, site)
    return _edit_fix("divide_no_nan", why, edit, {"op_type": op, "where": site}, fallback, score)


def _positive_head(op: str | None, origin: Origin, evidence: Evidence) -> Fix | None:
    """A softplus instead of the ReLU of a head whose exact zeros reach the loss's log, square
    root or power (``POSITIVE_DOMAIN_OPS``; the op's first argument is the head's output): a
    scale, a variance, a rate kept non-negative by a ReLU. Softplus is never 0, so every use of
    the head is fixed at once, a division by it included, where an epsilon at one op leaves
    the others (``log(b) + r / b``) to fail. Only for the loss (the layer feeds it through
    loss-side ops only: an output head)."""
    layer = evidence.argument_layer
    if (
        origin.kind != "loss"
        or op not in POSITIVE_DOMAIN_OPS
        or layer is None
        or evidence.argument_activation != "relu"
    ):
        return None
    return _softplus_layer(
        layer,
        evidence.argument_layer_class,
        "relu",
        f"{op} receives exact zeros from {layer}, a head whose ReLU outputs 0 wherever it is "
        "off; softplus keeps it positive everywhere it is used",
        f"the head {layer}, not relu",
    )


def _softplus_layer(
    layer: str, layer_class: str | None, current: str | None, rationale: str, note: str
) -> Fix:
    """``positive_output``: ``layer`` built with ``activation="softplus"`` (what the
    verification sets and the snippet says)."""
    return Fix(
        "positive_output",
        rationale,
        {"layer": layer, "activation": "softplus", "current": current},
        f'keras.layers.{layer_class or "Dense"}(..., activation="softplus")  # {note}',
        score=0.95,
    )


def _drop_padding(ev: dict[str, Any], evidence: Evidence) -> Fix | None:
    """Drop the samples that are padding only (an empty text) from the data: the change a
    user can make when the 0/0 is inside a library layer (a masked average pooling)."""
    tensor, rows = ev.get("padded_tensor"), ev.get("empty_rows")
    if not tensor or not rows:
        return None
    value = ev.get("padding_value", 0.0)
    written = f"{value:g}" if float(value) != int(value) else str(int(value))
    return Fix(
        "clean_input",
        f"rows {rows[:10]} of {tensor} hold only the padding value {written} that "
        f"{ev.get('padding_layer')} masks out: nothing is left to average",
        {"tensor": tensor, "rows": rows, "mode": "drop_padding", "value": value},
        f"dataset = dataset.filter(lambda {_filter_arguments(evidence.arguments, tensor)}: "
        f"tf.reduce_any(tf.not_equal({tensor}, {written})))  # drops the samples whose "
        f"{tensor} is all padding",
        score=0.9,
    )


def _epsilon_the_dtype_holds(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    """An epsilon in the user's call that the half dtype rounds to 0: one it can hold (tried
    from 1e-4 up in float16), or that layer in float32."""
    ev = cause.evidence
    op, dtype, layer = ev.get("op_type") or origin.op_type, ev.get("dtype"), ev.get("layer")
    site = _site(origin, evidence)
    return [
        _edit_fix(
            "add_epsilon",
            f"the epsilon added before {op} is 0 in {dtype}; add one {dtype} can hold",
            _edit("epsilon", op, site, 1e-4),
            {"op_type": op, "layer": layer or origin.layer, "where": site},
            _epsilon_snippet(op, 1e-4),
            1.0,
        ),
        Fix(
            "float32_layer",
            f"in float32 the epsilon of {layer or op} is not 0",
            {"layer": layer or origin.layer, "dtype": "float32"},
            'keras.layers.<Layer>(..., dtype="float32")  # keep this layer in float32',
            score=0.8,
        ),
    ]


def _epsilon_snippet(op_type: str | None, epsilon: float) -> str:
    if op_type == "Cholesky":
        return f"tf.linalg.cholesky(K + {epsilon:g} * tf.eye(tf.shape(K)[-1], dtype=K.dtype))"
    if op_type in {"Sqrt", "SqrtGrad", "EuclideanNorm"}:
        return f"tf.sqrt(x + {epsilon:g})  # for a norm: tf.sqrt(tf.reduce_sum(x**2) + {epsilon:g})"
    if op_type in {"Rsqrt", "RsqrtGrad"}:
        return f"tf.math.rsqrt(x + {epsilon:g})"
    if op_type in {"Log", "Log1p", "Xlogy"}:
        return f"tf.math.log(x + {epsilon:g})"
    if op_type == "Pow":
        return f"tf.pow(x + {epsilon:g}, p)"
    if op_type == "Atan2":
        return f"tf.math.atan2(y, x + {epsilon:g})"
    return f"x / (y + {epsilon:g})"


def _domain_error(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    op = ev.get("op_type") or origin.op_type
    mask = _finite_mask(cause)
    if mask is not None and op not in _DOMAIN_SNIPPETS:
        return [mask]  # 0 x inf, inf - inf: nothing at this op to clamp
    snippet, bound = _DOMAIN_SNIPPETS.get(
        op, ("tf.clip_by_value(x, low, high)  # into the op's domain", None)
    )
    site = _site(origin, evidence)
    if isinstance(bound, list):
        edit = _edit("clamp_range", op, site, bound[1], low=bound[0])
    else:
        edit = _edit("clamp_min", op, site, bound)
    fixes = [
        _edit_fix(
            "clamp_argument",
            f"{op} receives {ev.get('problem')}; clamp the argument into its domain (or use a "
            "form defined there)"
            + (
                ""
                if ev.get("rounding_negative") is not None
                else " — an epsilon cannot fix "
                + ("a row with no finite value" if op in SOFTMAX_OPS else "a negative argument")
            ),
            edit,
            {"op_type": op, "where": site, "layer": ev.get("layer"), "bound": bound},
            snippet,
            1.0,
        )
    ]
    if ev.get("rounding_negative") is not None:  # damping first: the clamp keeps the noise
        low = float(ev["rounding_negative"])
        fixes.insert(
            0,
            _edit_fix(
                "add_epsilon",
                f"{op}'s argument is below 0 by rounding only (min {low:.3g}): an epsilon "
                "larger than the rounding keeps it positive (for a matrix root: C + epsilon I)",
                _edit("epsilon", op, site, 1e-5),
                {"op_type": op, "where": site, "layer": ev.get("layer")},
                _epsilon_snippet(op, 1e-5) + "  # for a matrix root: C + 1e-5 * tf.eye(n)",
                1.05,
            ),
        )
    positive = _positive_output(op, evidence)
    batch = _clamp_batch_tensor(op, bound, ev, evidence)
    twice = _drop_the_second_log(op, site) if ev.get("log_probabilities") else None
    wider = _float32_for_rounding(ev, origin) if ev.get("half_cancellation") else None
    logits = _loss_from_logits(ev) if ev.get("logits_into") else None
    if logits is None and op == "Log" and evidence.logits_as_probabilities:
        logits = _sigmoid_head(evidence)
        positive = None  # a softplus keeps log(p) defined, not log(1 - p): not a probability
    elif logits is None and op == "Log" and evidence.logits_as_class_probabilities:
        logits = _softmax_head(evidence)
        positive = None  # a softplus makes the outputs positive, not a distribution
    return [f for f in (twice, logits, wider, batch, *fixes, mask, positive) if f is not None]


def _sigmoid_head(evidence: Evidence) -> Fix:
    """A loss written by hand on probabilities (``log(p)``, ``log(1 - p)``) fed a linear
    output layer's logits: the head's sigmoid, or a library loss from the logits."""
    return _head_activation(
        evidence,
        str(evidence.logits_as_probabilities),
        "sigmoid",
        "log(p) and log(1 - p) of it as probabilities",
        "keras.losses.BinaryCrossentropy(from_logits=True)",
        "BinaryCrossentropy(from_logits=True) on its logits",
    )


def _softmax_head(evidence: Evidence) -> Fix:
    """A loss that takes the log of class probabilities (a CTC loss, ``-sum(y * log(p))``) fed
    a linear output layer's logits: the head's softmax, or a loss from the logits."""
    return _head_activation(
        evidence,
        str(evidence.logits_as_class_probabilities),
        "softmax",
        "the log of its outputs as class probabilities",
        "keras.losses.CategoricalCrossentropy(from_logits=True), tf.nn.ctc_loss(..., "
        "logits_time_major=...) on logits",
        "a loss from its logits",
    )


def _head_activation(
    evidence: Evidence, layer: str, activation: str, reads: str, library: str, instead: str
) -> Fix:
    """The output layer given the activation its loss assumes (simulated by setting that
    layer's activation and re-tracing)."""
    return Fix(
        "use_from_logits",
        f"the output layer {layer} is linear (it returns logits) while the loss takes {reads}: "
        f"give the head its {activation}, or compute the loss from the logits ({library})",
        {"layer": layer, "activation": activation, "mode": f"{activation}_output"},
        f'keras.layers.{evidence.output_layer_class or "Dense"}(..., activation="{activation}")'
        f"  # the output layer {layer}; or {instead}",
        score=1.1,
    )


def _loss_from_logits(ev: dict[str, Any]) -> Fix:
    """A Keras probability loss fed a linear layer's logits: tell it they are logits
    (simulated by setting that on the step's loss object and re-tracing)."""
    loss, layer = ev["logits_into"], ev.get("output_layer")
    return Fix(
        "use_from_logits",
        f"the output layer {layer} is linear (it returns logits) while {loss} expects "
        "probabilities (from_logits=False): give the loss from_logits=True",
        {"loss": loss, "output_layer": layer, "from_logits": True, "mode": "loss_from_logits"},
        f"keras.losses.{loss}(..., from_logits=True)  # {layer} returns logits",
        score=1.1,
    )


def _float32_for_rounding(ev: dict[str, Any], origin: Origin) -> Fix | None:
    """A difference that is negative only by half-precision rounding: the layer that computes
    it in float32 (a clamp would keep values that are rounding noise)."""
    layer = ev.get("layer") or origin.layer
    if not layer:
        return None
    return Fix(
        "float32_layer",
        f"{layer} computes a difference of values up to {ev.get('difference_of', 0):.3g} in "
        f"{ev.get('dtype')}, whose rounding is larger than the difference; in float32 it is "
        "kept",
        {"layer": layer, "dtype": "float32"},
        f'{ev.get("layer_class") or "keras.layers.<Layer>"}(..., dtype="float32")  # keep '
        f"{layer} in float32 under the mixed policy",
        score=1.1,
    )


def _drop_the_second_log(op: str, site: str | None) -> Fix:
    """The model gives log-probabilities (a log_softmax): the loss uses them as they are."""
    return _edit_fix(
        "use_from_logits",
        "the values are log-probabilities already (a log_softmax output): use them as they "
        "are instead of taking their log again",
        _edit("drop_log", op, site),
        {"op_type": op, "where": site, "log_probabilities": True},
        "-tf.reduce_sum(y_true * log_probs, axis=-1)  # instead of tf.math.log(log_probs); "
        "or keras.losses.CategoricalCrossentropy(from_logits=True) on the logits",
        1.1,
    )


def _clamp_batch_tensor(op: str, bound: Any, ev: dict, evidence: Evidence) -> Fix | None:
    """The clamp on the batch tensor itself when it is the op's argument (targets on [-1, 1]
    into atanh, labels into log): every use of the tensor stays in the domain at once, where
    a clamp at one call leaves the next use (``1 / (1 - y**2)`` on the line after
    ``atanh(y)``) to trip. Verified by clamping the batches, as the snippet does."""
    name = evidence.argument_tensor
    if name is None or bound is None or op in SOFTMAX_OPS or op in {"Xlogy", "Pow"}:
        return None
    low, high = (bound[0], bound[1]) if isinstance(bound, list) else (bound, None)
    clamp = (
        f"tf.clip_by_value({name}, {low!r}, {high!r})"
        if high is not None
        else f"tf.maximum({name}, {low!r})"
    )
    return Fix(
        "clamp_argument",
        f"{op} receives {ev.get('problem')} straight from the batch tensor {name}: clamp "
        f"{name} itself, so that every use of it stays inside {op}'s domain",
        {"op_type": op, "tensor": name, "mode": "clip_batch", "min": low, "max": high},
        f"{name} = {clamp}  # before the step, or in the input pipeline",
        score=1.0,
    )


def _finite_mask(cause: Cause, score: float = 0.95) -> Fix | None:
    """A finite mask value (-1e9; float16: -3e4) where the code writes the constant -inf whose
    arithmetic made the NaN: masked entries still get no weight, and a row with nothing left
    unmasked stays finite."""
    ev = cause.evidence
    site, op = ev.get("mask_source"), ev.get("mask_op")
    if not site or not op:
        return None
    negative = ev.get("mask_value") == "-inf"
    floor = 3e4 if ev.get("dtype") == "float16" else 1e9
    value = -floor if negative else floor
    written = ev.get("mask_value")
    if ev.get("written"):
        written = f"{ev.get('written')} ({ev.get('mask_value')} in {ev.get('dtype')})"
    return _edit_fix(
        "finite_mask_value",
        f"the mask value {written} written at {os.path.basename(site)} ({op}) is what "
        f"{ev.get('op_type')} turns into NaN; a large finite value the dtype holds masks the "
        "same entries and keeps every row finite",
        _edit("finite_constant", op, site, value),
        {"op_type": op, "where": site, "value": value},
        f"{value:.0e}  # as the mask value, instead of {ev.get('mask_value')}".replace("e+0", "e"),
        score,
    )


#: Ops defined for positive arguments only (their domain errors are all negative arguments),
#: where a model output that must be positive (a rate, a scale) can be kept so by its layer's
#: activation.
POSITIVE_DOMAIN_OPS = frozenset({"Log", "Sqrt", "Rsqrt", "Xlogy", "Lgamma", "Digamma", "Pow"})


def _positive_output(op: str | None, evidence: Evidence) -> Fix | None:
    """A softplus on the model's linear output layer when that output is the negative argument
    (a Poisson rate, a standard deviation): the change a user can make when the log is inside
    a library loss, and the usual fix where it is not."""
    layer = evidence.output_layer
    if (
        op not in POSITIVE_DOMAIN_OPS
        or layer is None
        or evidence.argument_layer != layer
        or evidence.output_activation not in (None, "linear")
    ):
        return None
    return _softplus_layer(
        layer,
        evidence.output_layer_class,
        evidence.output_activation,
        f"{op} receives the model's output from {layer}, a linear layer whose values go "
        "negative; an activation that keeps them positive (softplus, or exponential for a "
        "log-rate) removes the negative argument",
        f"the output layer {layer}",
    )


_DOMAIN_SNIPPETS: dict[str, tuple[str, Any]] = {
    "Log": (
        "tf.math.log(tf.maximum(x, 1e-7))  # or keep x positive: x = tf.nn.softplus(x)",
        1e-7,
    ),
    "Sqrt": ("tf.sqrt(tf.maximum(x, 1e-12))", 1e-12),
    "Rsqrt": ("tf.math.rsqrt(tf.maximum(x, 1e-12))", 1e-12),
    "Log1p": ("tf.math.log1p(tf.maximum(x, -1.0 + 1e-6))", -1.0 + 1e-6),
    "Pow": (
        "tf.sign(x) * tf.pow(tf.abs(x) + 1e-12, p)  # the real root of a negative base",
        None,
    ),
    "Acos": ("tf.acos(tf.clip_by_value(x, -1.0 + 1e-6, 1.0 - 1e-6))", [-1.0 + 1e-6, 1.0 - 1e-6]),
    "Asin": ("tf.asin(tf.clip_by_value(x, -1.0 + 1e-6, 1.0 - 1e-6))", [-1.0 + 1e-6, 1.0 - 1e-6]),
    "Atanh": ("tf.atanh(tf.clip_by_value(x, -1.0 + 1e-6, 1.0 - 1e-6))", [-1.0 + 1e-6, 1.0 - 1e-6]),
    "Acosh": ("tf.acosh(tf.maximum(x, 1.0 + 1e-6))", 1.0 + 1e-6),
    "Lgamma": ("tf.math.lgamma(tf.maximum(x, 1e-6))", 1e-6),
    "Digamma": ("tf.math.digamma(tf.maximum(x, 1e-6))", 1e-6),
    "Xlogy": ("tf.math.xlogy(y, tf.maximum(x, 1e-7))", 1e-7),
    "Softmax": (
        "tf.nn.softmax(tf.maximum(logits, -1e9))  # or mask with -1e9 instead of -inf",
        -1e9,
    ),
    "LogSoftmax": (
        "tf.nn.log_softmax(tf.maximum(logits, -1e9))  # or mask with -1e9 instead of -inf",
        -1e9,
    ),
}


def _exp_overflow(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    op = ev.get("op_type") or origin.op_type
    cap = 10.0 if ev.get("dtype") == "float16" else 80.0
    name = {
        "Exp": "tf.exp",
        "Expm1": "tf.math.expm1",
        "Softplus": "tf.nn.softplus",
        "Cosh": "tf.cosh",
        "Sinh": "tf.sinh",
        "Pow": "tf.pow",
        "BesselI0": "tf.math.bessel_i0",
        "BesselI1": "tf.math.bessel_i1",
    }.get(op, "tf.exp")
    site = _site(origin, evidence)
    clamp = _edit_fix(
        "clamp_argument",
        f"{op}'s argument reaches {ev.get('argument_max', 0):.3g}; cap it below "
        f"{ev.get('limit', 88):.3g} where {ev.get('dtype', 'float32')} overflows",
        _edit("clamp_max", op, site, cap),
        {
            "op_type": op,
            "where": site,
            "layer": ev.get("layer"),
            "max": cap,
            "dtype": ev.get("dtype"),
        },
        f"{name}(tf.minimum(x, {cap:g}))  "
        f"# e.g. tf.exp(tf.clip_by_value(log_var, -{cap:g}, {cap:g}))",
        1.0,
    )
    fixes = [clamp]
    if ev.get("exp_overflow") and op == "Cosh":
        log_space = (
            f"{op}'s result goes into a log: log(cosh(x)) = x + softplus(-2x) - log(2) never "
            "holds cosh(x)",
            "x + tf.nn.softplus(-2.0 * x) - math.log(2.0)  # instead of tf.math.log(tf.cosh(x))",
        )
    elif ev.get("exp_overflow") and op in BESSEL_OPS:
        scaled = f"{name}e"  # the exponentially scaled form: exp(-|z|) I(z)
        log_space = (
            f"{op}'s result goes into a log: log(I(z)) = log({scaled}(z)) + |z|, and the "
            "scaled form never overflows",
            f"tf.math.log({scaled}(z)) + tf.abs(z)  # instead of tf.math.log({name}(z))",
        )
    elif ev.get("exp_overflow"):
        log_space = (
            f"{op}'s result goes into the loss's log: computed in log space (the library forms "
            "subtract the max first) it cannot overflow",
            "tf.reduce_logsumexp(a, axis=-1)  # for log(sum(exp(a))); -log(softmax) by hand: "
            "tf.nn.softmax_cross_entropy_with_logits(labels, logits); log(1 + exp(x)): "
            "tf.nn.softplus(x)",
        )
    else:
        log_space = (
            f"{op} feeds a sum and a division/log: a hand-written softmax or log-sum-exp; "
            "the library forms subtract the max first and cannot overflow",
            "tf.nn.softmax(logits / temperature)  # or tf.reduce_logsumexp(x, axis=-1)",
        )
    if ev.get("normalized"):
        fixes.insert(
            0,
            Fix(
                "use_logsumexp",
                log_space[0],
                {"op_type": op, "where": origin.source},
                log_space[1],
                score=1.1,
            ),
        )
    if ev.get("feature"):
        fixes.append(
            _rescale(
                "rescale_input",
                ev.get("feature"),
                float(ev.get("input_abs_max") or 0.0),
                0.8,
                f"the features {ev.get('feature')} reach |x| = {ev.get('input_abs_max'):.3g}: "
                "scaled features keep the exponent's argument small",
                arguments=evidence.arguments,
            )
        )
    return fixes


def _where_trap(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    op = cause.evidence.get("forward_op") or "f"
    fn = {
        "Sqrt": "tf.sqrt",
        "Log": "tf.math.log",
        "RealDiv": "1.0 /",
        "Rsqrt": "tf.math.rsqrt",
        "Pow": "tf.pow",
        "Exp": "tf.exp",
    }.get(op, "f")
    call = f"{fn} safe_x" if fn.endswith("/") else f"{fn}(safe_x)"
    site = cause.evidence.get("forward_source") or origin.source
    return [
        _edit_fix(
            "double_where",
            "feed the inner op a safe value where the condition is false, so its gradient is "
            "finite there too (the double-where pattern; keep the outer tf.where)",
            _edit("safe_where", op, site, 80.0 if op == "Exp" else None),
            {"op_type": op, "where": site},
            f"safe_x = tf.where(cond, x, tf.ones_like(x)); y = tf.where(cond, {call}, 0.0)",
            1.0,
        )
    ]


def _non_finite_state(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    if ev.get("captured"):
        if not ev.get("adapted"):
            return []  # a tensor captured at trace time: the array it came from holds NaN
        layer = ev.get("layer") or origin.layer
        return [
            Fix(
                "clean_input",
                f"{ev.get('layer_class')} {layer} computed its statistics in adapt() from data "
                "holding NaN; adapt it on the finite rows (the training batches are clean)",
                {"mode": "adapt", "layer": layer, "layer_class": ev.get("layer_class")},
                "layer.adapt(features[np.isfinite(features).all(axis=1)])  "
                f"# adapt {layer} on finite rows only",
                score=1.0,
            )
        ]
    names = ev.get("variables") or [origin.variable]
    if ev.get("set_before_training"):
        return [
            Fix(
                "clean_input",
                f"{names[0]} held NaN/Inf before training changed it: the values set into it "
                "(set_weights, a Constant initializer, a loaded embedding matrix) were computed "
                "with NaN/Inf; fix them where they are computed",
                {"variables": names, "mode": "state"},
                "values = np.where(np.isfinite(values), values, 0.0)  # before set_weights / "
                f"Constant(values) for {names[0]} (better: fix the NaN/Inf where it is computed, "
                "e.g. 1 / (std + 1e-7))",
                score=1.0,
            )
        ]
    return [
        Fix(
            "restore_checkpoint",
            f"{names[0]} was already non-finite before this step: resume from an earlier, finite "
            "checkpoint (check it with `nantrace scan CHECKPOINT`) or re-initialize the variable",
            {"variables": names, "iterations": cause.evidence.get("iterations")},
            "checkpoint.restore(earlier_path)  # a checkpoint saved before the values went NaN",
            score=1.0,
        )
    ]


def _float16_range(origin: Origin, cause: Cause, evidence: Evidence) -> list[Fix]:
    ev = cause.evidence
    if ev.get("half_cancellation"):
        wider = _float32_for_rounding(ev, origin)
        return [wider] if wider is not None else []
    mask = _finite_mask(cause, 1.0)
    if mask is not None:  # a number written beyond float16's range
        layer = ev.get("layer") or origin.layer
        return [
            mask,
            Fix(
                "float32_layer",
                f"in float32 the constant {ev.get('written')} of {layer} is finite",
                {"layer": layer, "dtype": "float32"},
                'keras.layers.<Layer>(..., dtype="float32")  # keep this layer in float32',
                score=0.8,
            ),
        ]
    if ev.get("underflow") and ev.get("in_call"):
        return _epsilon_the_dtype_holds(origin, cause, evidence)
    if ev.get("underflow"):
        return [
            Fix(
                "add_epsilon",
                f"epsilon {ev.get('epsilon'):g} underflows to {ev.get('epsilon_in_dtype'):g} in "
                f"{ev.get('dtype')}; use one the dtype can hold (or float32 variables)",
                {"target": "optimizer.epsilon", "current": ev.get("epsilon"), "epsilon": 1e-4},
                f"{evidence.optimizer_name or 'Adam'}(..., epsilon=1e-4)",
                score=1.0,
            )
        ]
    if origin.phase == "update":
        # a statistic the update computes in float16 (a global norm before a clip): no layer
        # runs it, and loss scaling makes the gradients larger still; what holds it is float32
        # variables and gradients (mixed_float16), for which no fix id of the taxonomy stands
        return []
    layer = origin.layer
    snippet = 'keras.layers.<Layer>(..., dtype="float32")  # keep this layer in float32'
    why = f"{layer or origin.op_type} overflows float16's range (±65504)"
    if layer is None and origin.phase == "loss" and evidence.output_layer:
        # a loss computes in its inputs' dtype: a float16 output layer makes it float16
        layer = evidence.output_layer
        kind = evidence.output_layer_class or "Dense"
        snippet = f'keras.layers.{kind}(..., dtype="float32")  # the output layer {layer}'
        why = (
            f"the loss computes in float16 because the output layer {layer} does, and "
            f"{origin.op_type} overflows float16's range (±65504): the output layer in "
            "float32 keeps the loss in float32"
        )
    fixes = [
        Fix(
            "float32_layer",
            why,
            {"layer": layer, "dtype": "float32"},
            snippet,
            score=1.0 if origin.phase in ("forward", "loss") else 0.6,
        )
    ]
    if origin.phase != "loss":  # a scaled loss is larger still: no help to a loss overflow
        fixes.append(
            Fix(
                "loss_scaling",
                "dynamic loss scaling keeps float16 gradients inside their range",
                {"optimizer": "keras.optimizers.LossScaleOptimizer", "initial_scale": 2.0**15},
                "optimizer = keras.optimizers.LossScaleOptimizer(optimizer)",
                score=0.9 if origin.phase != "forward" else 0.5,
            )
        )
    if evidence.loss_scaling:  # already scaled: keeping the layer in float32 is what's left
        fixes = [dataclasses.replace(fixes[0], score=1.0)]
    if ev.get("feature"):  # features past 65504 are Inf as soon as a layer casts them
        fixes.insert(
            0,
            _rescale(
                "rescale_input",
                ev.get("feature"),
                float(ev.get("feature_abs_max") or 0.0),
                1.1,
                f"the features {ev.get('feature')} reach |x| = {ev.get('feature_abs_max'):.3g}; "
                "in float16 (largest value 65504) they, and the activations they feed, overflow",
                arguments=evidence.arguments,
            ),
        )
    if ev.get("target"):  # targets of 1e5 cannot live in float16 errors and gradients
        # a target meets only the loss, which a float32 output layer computes in float32,
        # however large (beyond 65504 it is Inf only once a float16 loss casts it): after it
        fixes.insert(
            0,
            _rescale(
                "rescale_target",
                ev.get("target"),
                float(ev.get("target_abs_max") or 0.0),
                0.95,
                f"the target {ev.get('target')} reaches |y| = {ev.get('target_abs_max'):.3g}; "
                "errors and gradients of that size leave float16's range",
                arguments=evidence.arguments,
            ),
        )
    return fixes


_BUILDERS = {
    "non_finite_input": _non_finite_input,
    "unscaled_input": _unscaled_input,
    "unscaled_target": _unscaled_target,
    "initializer_scale": _initializer_scale,
    "learning_rate_too_high": _learning_rate,
    "gradient_explosion": _gradient_explosion,
    "recurrent_explosion": _recurrent_explosion,
    "unstable_loss": _unstable_loss,
    "missing_epsilon": _missing_epsilon,
    "domain_error": _domain_error,
    "exp_overflow": _exp_overflow,
    "where_gradient_trap": _where_trap,
    "non_finite_state": _non_finite_state,
    "float16_range": _float16_range,
    "negative_sample_weight": _negative_sample_weight,
}
