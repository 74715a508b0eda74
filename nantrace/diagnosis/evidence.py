"""The evidence the cause rules read: the failing path's batch tensors and layers, weight
scale against He/Glorot, optimizer settings, dtypes, and the guard's history.

Every number is something any model has; none looks at names chosen by the user. Evidence is
read on the failing path (:mod:`nantrace.replay.failing_path`) when there is one.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nantrace.diagnosis.similarity import Similarity, unnormalized_similarity
from nantrace.replay.failing_path import FEATURES, MOVING_OPS, TARGETS, FailingPath

if (
    TYPE_CHECKING
):  # keep `import nantrace.diagnosis.evidence` free of TensorFlow (the scan CLI uses it)
    from nantrace.diagnosis.missing_codes import MissingCode
    from nantrace.diagnosis.sample_weights import SampleWeights
    from nantrace.replay.capture import OpRecord, ReplayCapture
    from nantrace.report.records import Health

#: Keras ``train_step(data)``: what the elements of ``data`` are called in ``model.fit``.
_FIT_NAMES = ("x", "y", "sample_weight")


def user_name(tensor: str, arguments: list[str] | None) -> str:
    """The name a user knows a batch tensor by: ``data[0]`` of a Keras ``train_step(data)``
    is the ``x`` given to ``model.fit``."""
    match = re.fullmatch(r"(\w+)\[(\d)\](.*)", tensor)
    if arguments == [match.group(1) if match else None] and match and int(match.group(2)) < 3:
        return _FIT_NAMES[int(match.group(2))] + match.group(3)
    return tensor


RELU_FAMILY = frozenset({"relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish"})
#: a gradient norm above this at the initial weights (step 0) is not a healthy start
EXPLOSIVE_START = 1e4
#: The ops tf.where builds.
SELECT_OPS = frozenset({"Select", "SelectV2"})


#: A loss this many times its starting magnitude (at least 1) below zero, still falling, is
#: an objective unbounded below (``Evidence.loss_fell_without_bound``).
UNBOUNDED_DROP = 10.0
#: ...still falling: down on at least this share of its last FALLING_STEPS steps...
FALLING_SHARE = 0.75
FALLING_STEPS = 20
#: ...and still falling: its last FALLING_STEPS steps carry at least this share of the whole
#: fall (a likelihood without its constant settles far below 0, then stays)
STILL_FALLING_SHARE = 0.05
#: ...or, through minibatch noise, lower block after block: the medians of the FALLING_STEPS
#: steps up to the lowest, in blocks of this many, each under the one before.
FALLING_BLOCK = 5


#: Ops that multiply: a recursion in probability space runs one per step of its loop.
PRODUCT_OPS = frozenset({"Mul", "MatMul", "BatchMatMulV2", "BatchMatMulV3"})


@dataclass(frozen=True)
class LayerScale:
    """Weight scale (RMS) of one layer against what He/Glorot would give for its fan-in.

    ``initial_std`` is the scale the layer's initializer config produces (None when unknown),
    so "started too large" (initializer) and "grew too large" (dynamics) can be told apart.
    """

    layer: str
    std: float
    expected_std: float
    fan_in: int
    initializer: str | None
    activation: str | None
    initial_std: float | None = None

    @property
    def ratio(self) -> float:
        return self.std / self.expected_std if self.expected_std > 0 else math.inf

    @property
    def initial_ratio(self) -> float | None:
        if self.initial_std is None or self.expected_std <= 0:
            return None
        return self.initial_std / self.expected_std

    @property
    def grew(self) -> bool:
        """The weights are much larger than their initializer made them."""
        return self.initial_std is not None and self.std > 3.0 * max(self.initial_std, 1e-12)


def records_in_layer(capture: ReplayCapture, path: str) -> list[OpRecord]:
    """The ops the layer at ``path`` ran, its sublayers' included."""
    prefix = path + "/"
    return [
        r for r in capture.records if r.layer and (r.layer == path or r.layer.startswith(prefix))
    ]


def batch_tensors_read(records: list[OpRecord]) -> list[str]:
    """The batch tensors (their paths) that ``records`` read, in order, repeats kept."""
    return [name for r in records for name in r.batch_inputs if name is not None]


def layer_growth(capture: ReplayCapture, layers: list[str]) -> dict[str, float]:
    """How much each of ``layers`` (and its sublayers) amplifies its input in the forward pass:
    largest |output| of its ops over largest |input| that came from outside it."""
    growth = {}
    for layer in layers:
        records = [r for r in records_in_layer(capture, layer) if r.phase == "forward"]
        members = {r.index for r in records}
        in_max = out_max = 0.0
        for record in records:
            if record.op_type == "ReadVariableOp":
                continue
            for producer, health in zip(record.producers, record.inputs, strict=False):
                if health is None or (
                    producer is not None
                    and (
                        producer in members or capture.records[producer].op_type == "ReadVariableOp"
                    )
                ):
                    continue
                in_max = max(in_max, health.max_abs)
            for health in record.float_outputs:
                out_max = max(out_max, health.max_abs)
        if in_max > 0:
            growth[layer] = out_max / in_max
    return growth


#: A layer whose own forward ops repeat one product (MatMul, Mul, ...) at least this many
#: times in one call steps a loop it unrolls (a recurrence over time written by hand).
UNROLLED_STEPS = 32


def unrolled_steps(capture: ReplayCapture, path: str) -> int:
    """How many of the layer at ``path``'s most repeated product op, in its own forward ops
    (its sublayers' not counted: a nested model repeats layers, not steps), read an earlier one
    within a few ops (a chain, as a state carried from step to step is: h_t = h_{t-1} A + x_t B
    chains its h products, not its x products), when at least UNROLLED_STEPS do; 0
    otherwise."""
    from collections import Counter

    own = [r for r in capture.records if r.layer == path and r.phase == "forward"]
    counts = Counter(r.op_type for r in own if r.op_type in PRODUCT_OPS)
    if not counts:
        return 0
    op, count = counts.most_common(1)[0]
    if count < UNROLLED_STEPS:
        return 0
    members = {r.index for r in own}
    repeats = [r for r in own if r.op_type == op]
    # each repeat (but the first) reads, within a few of the layer's own ops, an earlier one
    chained = sum(1 for r in repeats[1:] if _reads_repeat(capture, r, op, members))
    return chained + 1 if chained + 1 >= UNROLLED_STEPS else 0


def _reads_repeat(
    capture: ReplayCapture, record: OpRecord, op: str, members: set, hops: int = 3
) -> bool:
    frontier = [p for p in record.producers if p is not None and p in members]
    for _ in range(hops):
        upstream = []
        for index in frontier:
            source = capture.records[index]
            if source.op_type == op:
                return True
            upstream.extend(p for p in source.producers if p is not None and p in members)
        frontier = upstream
    return False


def kernel_of(layer: Any) -> Any:
    for attribute in ("kernel", "depthwise_kernel", "embeddings"):
        value = getattr(layer, attribute, None)
        if value is not None and hasattr(value, "shape"):
            return value
    cell = getattr(layer, "cell", None)
    if cell is not None:
        return kernel_of(cell)
    return None


def expected_std(layer: Any, kernel_shape: tuple[int, ...]) -> tuple[float, int]:
    """He std for ReLU-family activations, Glorot otherwise, for the kernel's fan-in."""
    if len(kernel_shape) < 2:
        return 0.0, 0
    receptive = int(np.prod(kernel_shape[:-2])) if len(kernel_shape) > 2 else 1
    fan_in = int(kernel_shape[-2]) * receptive
    fan_out = int(kernel_shape[-1]) * receptive
    activation = _activation_name(layer)
    if activation in RELU_FAMILY:
        return math.sqrt(2.0 / fan_in), fan_in
    return math.sqrt(2.0 / (fan_in + fan_out)), fan_in


def _activation_name(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", None) or str(activation)


def _initializer_name(layer: Any) -> str | None:
    for attribute in ("kernel_initializer", "depthwise_initializer", "embeddings_initializer"):
        initializer = getattr(layer, attribute, None)
        if initializer is not None:
            config = getattr(initializer, "get_config", lambda: {})()
            details = ", ".join(f"{k}={v}" for k, v in config.items() if k != "seed" and v)
            name = type(initializer).__name__
            return f"{name}({details})" if details else name
    return None


def initializer_std(layer: Any, fan_in: int, fan_out: int) -> float | None:
    """The RMS of weights the layer's kernel initializer draws, from its config."""
    initializer = None
    for attribute in ("kernel_initializer", "depthwise_initializer", "embeddings_initializer"):
        initializer = getattr(layer, attribute, None) or initializer
    if initializer is None and getattr(layer, "cell", None) is not None:
        return initializer_std(layer.cell, fan_in, fan_out)
    if initializer is None:
        return None
    config = dict(getattr(initializer, "get_config", lambda: {})())
    for attribute in ("scale", "mode", "gain"):  # Glorot/He keep these as attributes only
        if attribute not in config and hasattr(initializer, attribute):
            config[attribute] = getattr(initializer, attribute)
    name = type(initializer).__name__
    if "stddev" in config:
        return float(config["stddev"])
    if "minval" in config and "maxval" in config:
        low, high = float(config["minval"]), float(config["maxval"])
        return math.sqrt((low * low + low * high + high * high) / 3.0)
    if name == "Constant":  # an array value serializes as a dict: read the attribute
        value = getattr(initializer, "value", config.get("value", 0.0))
        try:
            return float(np.sqrt(np.mean(np.square(np.asarray(value, dtype=np.float64)))))
        except (TypeError, ValueError):
            return None
    if name == "Ones":
        return 1.0
    if name == "Zeros":
        return 0.0
    if "scale" in config and "mode" in config:
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(config["mode"], (fan_in + fan_out) / 2)
        return math.sqrt(float(config["scale"]) / max(n, 1))
    if "gain" in config:
        return float(config["gain"]) / math.sqrt(max(fan_in, fan_out, 1))
    return None


def layer_scales(layers: dict[str, Any]) -> list[LayerScale]:
    scales = []
    for path, layer in layers.items():
        if getattr(layer, "layers", None):  # a model/container: its sublayers are listed too
            continue
        kernel = kernel_of(layer)
        if kernel is None or len(kernel.shape) < 2:
            continue
        std = _rms(np.asarray(kernel))
        if std is None:
            continue
        shape = tuple(int(d) for d in kernel.shape)
        std_expected, fan_in = expected_std(layer, shape)
        if getattr(layer, "embeddings", None) is kernel:
            # Embedding rows are looked up, not summed: unit-scale vectors per token.
            std_expected, fan_in = 1.0 / math.sqrt(shape[-1]), 1
        fan_out = int(np.prod(shape)) // max(fan_in, 1)
        scales.append(
            LayerScale(
                layer=path,
                std=std,
                expected_std=std_expected,
                fan_in=fan_in,
                initializer=_initializer_name(layer),
                activation=_activation_name(layer),
                initial_std=initializer_std(layer, fan_in, fan_out),
            )
        )
    return scales


def _rms(values: np.ndarray, block: int = 1 << 16) -> float | None:
    """Root mean square in float64, block by block (no float64 copies of a 100 M-weight
    kernel); None when a value is not finite."""
    flat = values.reshape(-1)
    total = 0.0
    for start in range(0, flat.size, block):
        part = flat[start : start + block].astype(np.float64)
        square_sum = float(np.einsum("i,i->", part, part))  # np.dot: BLAS threads, 10x slower
        if not math.isfinite(square_sum) and not np.isfinite(part).all():
            return None
        total += square_sum
    return math.sqrt(total / max(flat.size, 1))


def zeroed_floors(optimizer: Any) -> tuple[tuple[str, float, float], ...]:
    """Settings of ``optimizer`` that keep its update's denominator above 0 (an epsilon, the
    accumulators' initial value) set to 0 where its constructor defaults to more."""
    try:
        parameters = inspect.signature(type(optimizer).__init__).parameters
    except (TypeError, ValueError):
        return ()
    found = []
    for name, parameter in parameters.items():
        if "epsilon" not in name and name != "initial_accumulator_value":
            continue
        default, value = parameter.default, _as_float(getattr(optimizer, name, None))
        if isinstance(default, int | float) and default > 0 and value is not None and value <= 0:
            found.append((name, value, float(default)))
    return tuple(found)


#: A standardizing layer's output beyond this many of its standard deviations: its
#: statistics do not fit the data it reads (other data, other units, the std as variance).
MISFIT_NORMALIZED_ABS = 100.0


def degenerate_input_normalization(
    capture: ReplayCapture, layers: dict[str, Any]
) -> tuple[str, tuple[int, ...], str] | None:
    """``(layer path, columns, batch tensor)`` of a Normalization layer that reads a batch
    tensor and whose statistics do not fit it: it holds a variance of 0 for some of its
    ``columns`` (adapted on a sample where they never varied) and put out values beyond
    ``1e3`` in this step (it divided them by its epsilon), or, ``columns`` empty, it put out
    values beyond MISFIT_NORMALIZED_ABS (statistics of other data or units, a standard
    deviation given as the variance). None otherwise."""
    from nantrace.compat.tf import is_input_normalization, zero_variance_columns

    for path, layer in layers.items():
        if not is_input_normalization(layer):
            continue
        columns = zero_variance_columns(layer)
        inside = records_in_layer(capture, path)
        tensors = batch_tensors_read(inside)
        largest = max((h.max_abs for r in inside for h in r.float_outputs if h.finite), default=0.0)
        if tensors and largest > (1e3 if columns else MISFIT_NORMALIZED_ABS):
            return path, columns, tensors[0]
    return None


#: A preprocessing layer's output beyond this is out of the range it exists to produce.
PREPROCESSED_ABS = 10.0


def amplifying_rescaling(
    capture: ReplayCapture, layers: dict[str, Any]
) -> tuple[str, float, float, float] | None:
    """(path, scale, offset, largest |input|) of a ``keras.layers.Rescaling`` that reads a
    batch tensor, multiplies it by |scale| > 1 and put out values beyond PREPROCESSED_ABS in
    this step; None otherwise."""
    from nantrace.compat.tf import rescaling_of

    for path, layer in layers.items():
        rescaling = rescaling_of(layer)
        if rescaling is None or abs(rescaling[0]) <= 1.0:
            continue
        inside = records_in_layer(capture, path)
        if not batch_tensors_read(inside):
            continue
        largest_in = max(
            (
                h.max_abs
                for r in inside
                for h, name in zip(r.inputs, r.batch_inputs, strict=False)
                if name is not None and h is not None
            ),
            default=0.0,
        )
        largest_out = max((h.max_abs for r in inside for h in r.float_outputs), default=0.0)
        if largest_out > PREPROCESSED_ABS:
            return path, rescaling[0], rescaling[1], largest_in
    return None


def inverted_input_normalization(capture: ReplayCapture, layers: dict[str, Any]) -> str | None:
    """The path of a Normalization layer built with invert=True whose ops read a batch tensor
    (the model's input goes through mean + x * std), or None. At a model's output such a layer
    is the usual de-normalizer of predictions and reads no batch tensor."""
    from nantrace.compat.tf import is_inverted_normalization

    for path, layer in layers.items():
        if not is_inverted_normalization(layer):
            continue
        inside = records_in_layer(capture, path)
        if batch_tensors_read(inside):
            return path
    return None


#: A column is raw among scaled ones when its largest |x| passes both of these: this many
#: times the median column's, and this absolute size (beyond the ~[-10, 10] range).
RAW_COLUMN_RATIO = 10.0
RAW_COLUMN_ABS = 20.0
#: The median column of a table whose other columns are scaled stays within this.
SCALED_COLUMN_ABS = 10.0


def raw_columns(columns: tuple[float, ...]) -> tuple[int, ...]:
    """Columns left in raw units among scaled ones (age in years among standardized
    features): each far above the median column, which is itself within ~[-10, 10]. () for
    a table of fewer than 3 columns, or one whose columns are all of one scale."""
    if len(columns) < 3:
        return ()
    median = float(np.median(columns))
    if median > SCALED_COLUMN_ABS:
        return ()
    limit = max(RAW_COLUMN_ABS, RAW_COLUMN_RATIO * median)
    return tuple(i for i, c in enumerate(columns) if c > limit)


def _is_ungated_recurrent(layer: Any) -> bool:
    """A recurrent layer whose state is not gated (SimpleRNN-like): the kind that explodes
    over time steps. LSTM/GRU cells have a ``recurrent_activation`` for their gates."""
    cell = getattr(layer, "cell", None)
    if cell is None:
        return False
    cells = getattr(cell, "cells", None) or [cell]
    return any(getattr(c, "recurrent_activation", None) is None for c in cells)


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return None


@dataclass
class Evidence:
    """What the cause rules read; also copied into the report.

    ``input_abs_max`` is the largest |x| of the batch *features* on the failing path;
    ``target_abs_max`` that of the *targets* (labels: tensors that reach only the loss; sample
    weights are read apart, in ``sample_weights``). ``stale_variables`` were already non-finite when the step read them.
    """

    step: int
    input_abs_max: float
    layer_scales: list[LayerScale] = field(default_factory=list)
    recurrent_layers: list[str] = field(default_factory=list)
    #: layers on the failing path that step a recurrent cell over time, gated ones included
    #: (an LSTM, a custom layer that calls a GRUCell in its own loop), as ``"name (Class)"``:
    #: their state can still grow when the layer multiplies it outside the gates.
    recurrent_hosts: list[str] = field(default_factory=list)
    #: gated recurrent layers on the failing path whose cell activation does not bound the
    #: state (``LSTM(activation="relu")``): layer path -> activation name.
    unbounded_recurrent: dict[str, str] = field(default_factory=dict)
    learning_rate: float | None = None
    #: where ``learning_rate`` was read: ``"optimizer"`` (a Keras or tf_keras optimizer's
    #: attribute), ``"update"`` (the scalar that scales the gradient in a hand-written update,
    #: ``v.assign_sub(lr * g)``), or None when it was not found.
    learning_rate_source: str | None = None
    optimizer_epsilon: float | None = None
    #: the optimizer's floors of a denominator set to 0 where its class defaults to more:
    #: (setting, value, default), e.g. ("initial_accumulator_value", 0.0, 0.1) for Ftrl.
    optimizer_zeroed_floors: tuple[tuple[str, float, float], ...] = ()
    optimizer_name: str | None = None
    loss_scaling: bool = False
    half_precision: bool = False
    output_activation: str | None = None
    #: per layer: largest |output| / largest |input| over the layer's forward ops.
    layer_growth: dict[str, float] = field(default_factory=dict)
    #: the guard's ring buffers (None when history is off).
    history: Any = None
    feature: str | None = None
    target: str | None = None
    target_abs_max: float = 0.0
    #: dot products of model outputs that are not unit vectors, a few ops up the origin (a
    #: contrastive loss whose embeddings were never L2-normalized)
    unnormalized_similarity: Similarity | None = None
    #: the batch's per-sample weights, over the batches kept since the anchor (None: none)
    sample_weights: SampleWeights | None = None
    #: the evidence was read on the failing path (False: from the whole model).
    on_path: bool = False
    iterations: int | None = None
    stale_variables: list[str] = field(default_factory=list)
    #: the step's loss was finite in replay (None: no loss recorded): a non-finite value that
    #: reached the gradients did so through the backward pass only.
    loss_finite: bool | None = None
    #: the variables the step read that are not trainable (frozen: no optimizer writes them).
    untrained_variables: frozenset[str] = frozenset()
    #: for a backward-pass origin: the forward op it differentiates.
    forward_op: Any = None
    #: op types that consume the origin's forward op's output (``SelectV2``: a tf.where).
    forward_consumers: frozenset[str] = frozenset()
    #: a forward op near the differentiated one made NaN/Inf that a tf.where then discarded:
    #: the op type, or None.
    discarded_by_where: str | None = None
    #: op types within three hops upstream of the origin (or of the op it differentiates).
    upstream_ops: frozenset[str] = frozenset()
    #: a Normalization layer built with invert=True that reads a batch tensor: the features
    #: are multiplied by their spread on the way in (its path), or None.
    inverted_input_normalization: str | None = None
    #: a Normalization layer reading a batch tensor whose statistics do not fit it — it
    #: divided columns it holds a variance of 0 for by its epsilon, or (columns empty) it put
    #: out values beyond 100 of its standard deviations: (layer path, columns, batch tensor),
    #: or None.
    degenerate_normalization: tuple[str, tuple[int, ...], str] | None = None
    #: that layer was built with ``mean=`` / ``variance=`` (constants: it cannot adapt).
    normalization_given_statistics: bool = False
    #: a keras.layers.Rescaling reading a batch tensor that multiplies it by |scale| > 1 into
    #: values beyond ~[-10, 10] (``Rescaling(255)`` typed for ``Rescaling(1 / 255)``): (layer
    #: path, scale, offset, the batch's largest |x| into it), or None.
    amplifying_rescaling: tuple[str, float, float, float] | None = None
    #: the origin's argument is eigenvalues or singular values of a decomposition (eigh, svd).
    eigenvalues: bool = False
    #: the batch tensor whose sum (a class count, a mask's size) the origin divides by.
    counted_tensor: str | None = None
    #: the op that made probabilities (``Softmax``, ``Sigmoid``) the origin's argument is a
    #: mixture, selection or reshaping of, however far up; None when no such op is.
    probability_source: str | None = None
    #: the way from ``probability_source`` sums probabilities: a mixture, not one softmax.
    probability_mixture: bool = False
    #: ops of the origin's type and phase the step ran before it: a loop unrolled in the step
    #: (a recursion such as a forward algorithm) repeats one op many times.
    repeated_before: int = 0
    #: products (Mul, MatMul) of the origin's phase the step ran before it: a recursion such as
    #: a forward algorithm in probability space multiplies once per step of its loop.
    products_before: int = 0
    #: the exp-family origin feeds a sum and a division or log: a hand-written softmax or
    #: log-sum-exp, which the max-subtracted library form keeps finite.
    exp_normalized: bool = False
    #: that op's output reaches a log (Log, Log1p) through forward / loss ops: an exponential a
    #: log takes back (a hand-written log-sum-exp, softmax cross-entropy, softplus, log-cosh),
    #: which a log-space library form computes without the exponential's overflow.
    exp_into_log: bool = False
    #: the origin's (negative) argument is a difference of two half-precision values this
    #: large, and it is no further below 0 than their rounding: (dtype, largest |input|).
    half_cancellation: tuple[str, float] | None = None
    #: for an input_data origin: every batch tensor whose NaN/Inf an op going non-finite
    #: reads (the origin's own first), so a cleaning fix covers all of them.
    non_finite_tensors: tuple[str, ...] = ()
    #: a Keras loss of the step called with from_logits=False (it expects probabilities).
    probability_loss: str | None = None
    #: for an input_data origin: the float batch tensors with as many rows as the origin's
    #: (features, labels, weights): a row filter checks them all (the next batch's NaN may
    #: sit in any of them).
    row_tensors: tuple[str, ...] = ()
    #: a target batch tensor that weights the origin's log directly (``y * log(p)``,
    #: ``(1 - y) * log(1 - p)``, ``xlogy(y, p)``) and lies outside [0, 1]: (name, min, max).
    #: A cross-entropy with such labels has no lower bound.
    labels_outside_unit: tuple[str, float, float] | None = None
    #: op types of the producers of that op's inputs (None: a batch tensor or a constant).
    argument_producers: tuple[str | None, ...] = ()
    #: when that op's second argument (a divisor) is a product: the op types of its factors'
    #: producers (``cov / (std_a * std_b)``: ``("Sqrt", "Sqrt")``), else ().
    divisor_factors: tuple[str | None, ...] = ()
    #: the trainable weight that is the divisor itself (a learned temperature or scale read
    #: through shape ops only) when it holds exact zeros: a parameter that starts at 0.
    divisor_variable: str | None = None
    #: a trainable variable the origin's divisor is computed from, however far up (a normalizer
    #: the model computes: it moves with the weights), or None (made from the batch alone).
    divisor_weight: str | None = None
    #: a batch tensor whose padding a layer on the failing path masks out: (the tensor's name,
    #: the padding value, the layer) — ``Embedding(mask_zero=True)`` (0), ``Masking`` — or None.
    padded: tuple[str, float, str] | None = None
    #: the batch's rows whose ``padded`` tensor is padding only (empty sequences); set by the
    #: pipeline, which holds the batch.
    empty_rows: tuple[int, ...] = ()
    #: the layer whose output reaches that op's first argument through loss-side element-wise
    #: ops only (``log(y_pred + eps)`` inside a Keras loss: the model's head), or None.
    argument_layer: str | None = None
    #: the batch tensor (its path: ``y``, ``args[1]``) that is that op's first argument itself,
    #: read through shape-only ops (a cast, a reshape), or None: a clamp can then be put on the
    #: tensor, so that every use of it stays in the domain, not on one call.
    argument_tensor: str | None = None
    #: that layer's activation (``relu``: its output holds exact zeros wherever it is off)
    #: and class name.
    argument_activation: str | None = None
    argument_layer_class: str | None = None
    #: that op's first argument is computed from the step's own state alone (a counter, a
    #: metric's totals, a non-trainable variable, constants): no layer op, no trainable
    #: variable and no batch tensor upstream of it. A log of it is no log of the model's
    #: probabilities, whatever the model's output activation.
    argument_from_state: bool = False
    #: the last layer the step called (the model's output) and its class name.
    output_layer: str | None = None
    output_layer_class: str | None = None
    #: that output layer, when it is linear and the loss takes the log of 1 minus its output
    #: (``log(1 - p + eps)``: a binary cross-entropy written by hand): the loss reads the
    #: layer's logits as probabilities.
    logits_as_probabilities: str | None = None
    #: the linear output layer of several units whose output the loss takes the log of as a
    #: distribution over classes (a CTC loss, -sum(y * log(p))): its softmax is missing
    logits_as_class_probabilities: str | None = None
    #: the half dtype in which a scalar constant added to one of that op's arguments is exactly
    #: 0 (``log(x + 1e-8)`` under mixed_float16: the epsilon rounds to 0), or None.
    epsilon_lost_in: str | None = None
    #: an ``Exp`` whose result holds exact zeros (it underflowed) feeds that op's first
    #: argument within a few ops: a likelihood or normalizer summed in probability space.
    exp_underflow: bool = False
    #: the same for that op's second argument when it divides: a denominator summed from
    #: exponentials that all underflowed (normalized kernel weights, a Sinkhorn ``K v``).
    denominator_exp_underflow: bool = False
    #: the op that takes a constant +-inf (a mask value written in the code) whose Inf reaches
    #: that op's arguments: that op itself, or one up its Inf-carrying inputs; None if none.
    inf_constant_op: Any = None
    #: backward pass: largest |gradient| per layer, in the order backprop reached the layers
    #: (from the loss towards the input), up to the origin.
    backward_layers: list[tuple[str, float]] = field(default_factory=list)
    #: largest finite |value| the step's backward pass produced (its gradients and the terms
    #: they are made of), read for an optimizer-update origin: an adaptive optimizer squares
    #: the gradient, which overflows float32 beyond ~1.8e19 whatever the learning rate.
    gradient_abs_max: float = 0.0
    #: ``layer_scales`` of every layer of the model, read for an optimizer-update origin: every
    #: layer shapes every gradient, not only those on the failing path.
    model_layer_scales: list[LayerScale] = field(default_factory=list)
    #: the step's argument names (``x``, ``y``, ``w``), for snippets that name them.
    arguments: list[str] = field(default_factory=list)
    #: a feature column whose few extreme entries are one repeated number (-999, 9999): a
    #: missing-value code (``nantrace.diagnosis.missing_codes.MissingCode``), or None.
    missing_code: MissingCode | None = None
    #: largest |x| of each column of the feature tensor ``feature`` (a table of <= 64
    #: columns), over the batches kept: which columns are out of range, which are not.
    feature_columns_abs_max: tuple[float, ...] = ()
    #: the layers that end a residual branch (``h + f(h)``) in a functional model, and whether
    #: any layer normalizes: a residual stack without normalization grows with its depth.
    residual_branch_ends: tuple[str, ...] = ()
    normalized: bool = False
    #: the batch role of the tensor holding it: ``"features"`` or ``"targets"``.
    missing_code_role: str | None = None

    def healthy_grad_norms(self) -> np.ndarray:
        return self.history.healthy_grad_norms() if self.history is not None else np.array([])

    def fastest_growing_weight(self) -> tuple[str, float, int] | None:
        growth = self.history.weight_growth() if self.history is not None else []
        return growth[0] if growth else None

    def loss_fell_without_bound(self) -> tuple[float, float] | None:
        """(first, lowest) of the window's losses when the loss fell far below zero, steadily:
        its lowest value under -UNBOUNDED_DROP x max(|first|, 1), reached by falling on at
        least FALLING_SHARE of the FALLING_STEPS steps before it, or (a noisy minibatch loss)
        with the medians of those steps in blocks of FALLING_BLOCK each lower than the block
        before; whatever came after (when the values overflow, a squared-error term may blow
        the loss back up). A loss bounded below (squared error, cross-entropy: >= 0) never
        does; an objective that rewards growth (a penalty with the wrong sign, a likelihood
        maximized) does, while the weights that feed it grow. A single jump far below zero
        (one bad step) is neither: its earlier blocks are level."""
        if self.history is None:
            return None
        fell = fell_without_bound(self.history.finite_losses())
        return None if fell is None else (fell[0], fell[1])

    def initial_grad_norm(self) -> float | None:
        """The gradient norm of the run's first step (the initial weights, before any update)
        when the history still holds it as a healthy step (Inf when only the norm's sum of
        squares overflowed); else None."""
        history = self.history
        if history is None or len(history) < 2 or int(history.steps[0]) != 0:
            return None
        value = float(history.grad_norm[0])
        return None if math.isnan(value) else value

    def explosive_start(self) -> float | None:
        """The first step's gradient norm when it was above ``EXPLOSIVE_START``: the network
        amplified as initialized, before any update; else None."""
        initial = self.initial_grad_norm()
        return initial if initial is not None and initial > EXPLOSIVE_START else None

    def grad_norm_growth(self) -> float | None:
        """Last healthy gradient norm over the median of the first half of the history."""
        norms = self.healthy_grad_norms()
        if norms.size < 6:
            return None
        early = float(np.median(norms[: norms.size // 2]))
        return float(norms[-1]) / early if early > 0 else None


def unbounded_floor(reference: float) -> float:
    """How far below 0 a loss that started at ``reference`` must fall to count as falling
    without bound: -UNBOUNDED_DROP x max(|reference|, 1)."""
    return -UNBOUNDED_DROP * max(abs(reference), 1.0)


def fell_without_bound(
    losses: np.ndarray, reference: float | None = None
) -> tuple[float, float, int] | None:
    """(first, lowest, where the lowest is) of ``losses`` when they fell far below zero,
    steadily (``Evidence.loss_fell_without_bound``; ``reference``, the level "far" is measured
    from, defaults to the first loss); None otherwise. Verification applies the same test to a
    fix's run, from the run's healthy level: a fix that keeps such an objective finite has not
    stopped it."""
    lowest_at = int(np.argmin(losses)) if losses.size else 0
    if lowest_at < 5:
        return None
    first, lowest = float(losses[0]), float(losses[lowest_at])
    if lowest >= unbounded_floor(first if reference is None else reference):
        return None
    recent = losses[max(0, lowest_at - FALLING_STEPS) : lowest_at + 1]
    # how far it fell over those steps, block medians through minibatch noise (a few batches
    # cycled: a settled loss still dips to a new low now and then)
    ends = (
        (recent[:FALLING_BLOCK], recent[-FALLING_BLOCK:])
        if recent.size >= 2 * FALLING_BLOCK
        else (recent[:1], recent[-1:])
    )
    if float(np.median(ends[0]) - np.median(ends[1])) < STILL_FALLING_SHARE * (first - lowest):
        return None  # settled: a bounded objective whose optimum is far below 0
    if float(np.mean(np.diff(recent) < 0)) >= FALLING_SHARE or _lower_block_after_block(recent[1:]):
        return first, lowest, lowest_at
    return None


def _lower_block_after_block(values: np.ndarray) -> bool:
    """True when ``values``, cut from the end into blocks of FALLING_BLOCK (at least three
    whole blocks), have medians that fall block after block: a trend through step-to-step
    noise."""
    blocks = values.size // FALLING_BLOCK
    if blocks < 3:
        return False
    tail = values[values.size - blocks * FALLING_BLOCK :].reshape(blocks, FALLING_BLOCK)
    medians = np.median(tail, axis=1)
    return bool(np.all(np.diff(medians) < 0))


def gather_evidence(
    step: int,
    input_abs_max: float,
    capture: ReplayCapture | None,
    optimizers: list[Any],
    history: Any = None,
    path: FailingPath | None = None,
    graph: Any = None,
    record: OpRecord | None = None,
) -> Evidence:
    """Evidence for the rules, read on ``path`` when given (else over the whole model)."""
    layers = dict(capture.layers_seen) if capture is not None else {}
    on_path = path is not None and path.complete
    path_layers = _on_path(layers, path.layers) if on_path else layers
    evidence = Evidence(
        step=step,
        input_abs_max=input_abs_max,
        layer_scales=layer_scales(path_layers),
        history=history,
        on_path=on_path,
    )
    if path is not None and path.roles:  # batch tensors known by identity: split the roles
        evidence.feature, evidence.input_abs_max = path.batch_max(FEATURES)
        # Every weight's gradient comes from the loss: the targets shape all of them.
        evidence.target, evidence.target_abs_max = path.batch_max(TARGETS, anywhere=True)
    from nantrace.compat.tf import (
        has_normalization,
        residual_branch_ends,
        steps_a_cell,
        unbounded_cell_activation,
    )

    for path_name, layer in path_layers.items():
        unbounded = unbounded_cell_activation(layer)
        if unbounded is not None:
            evidence.unbounded_recurrent[path_name] = unbounded
        if _is_ungated_recurrent(layer):
            evidence.recurrent_layers.append(f"{path_name} ({type(layer).__name__})")
        if steps_a_cell(layer):
            evidence.recurrent_hosts.append(f"{path_name} ({type(layer).__name__})")
    known = [e.split(" (")[0] for e in evidence.recurrent_layers + evidence.recurrent_hosts]
    for path_name, layer in path_layers.items():
        if (
            capture is None
            or hasattr(layer, "state_size")  # a cell: its layer's steps call it, once a step
            or any(path_name == k or path_name.startswith(k + "/") for k in known)
        ):
            continue
        steps = unrolled_steps(capture, path_name)
        if steps:  # a loop over time written in the layer: nothing known gates it
            entry = f"{path_name} ({type(layer).__name__}, a loop of {steps} steps)"
            evidence.recurrent_layers.append(entry)
            evidence.recurrent_hosts.append(entry)
    evidence.residual_branch_ends = tuple(residual_branch_ends(layers))
    if capture is not None:
        evidence.inverted_input_normalization = inverted_input_normalization(capture, layers)
        evidence.degenerate_normalization = degenerate_input_normalization(capture, layers)
        evidence.amplifying_rescaling = amplifying_rescaling(capture, layers)
        if evidence.degenerate_normalization is not None:
            from nantrace.compat.tf import has_given_statistics

            evidence.normalization_given_statistics = has_given_statistics(
                layers[evidence.degenerate_normalization[0]]
            )
    evidence.normalized = has_normalization(layers)
    for layer in layers.values():
        compute = getattr(getattr(layer, "dtype_policy", None), "compute_dtype", None)
        if compute in ("float16", "bfloat16"):
            evidence.half_precision = True
    if capture is not None:
        recurrent = [entry.split(" (")[0] for entry in evidence.recurrent_hosts]
        evidence.layer_growth = layer_growth(capture, recurrent)
        evidence.stale_variables = stale_variables(capture)
        losses = [capture.records[i].result_health for i in capture.sinks()["loss"]]
        if losses and all(h is not None for h in losses):
            evidence.loss_finite = all(h.finite for h in losses)
        losses_of_probabilities = capture.probability_loss_objects
        evidence.probability_loss = (
            type(losses_of_probabilities[0]).__name__ if losses_of_probabilities else None
        )
        evidence.untrained_variables = frozenset(
            r.variable for r in capture.records if r.variable and r.variable_trainable is False
        )
    if layers:
        evidence.output_layer = list(layers)[-1]
        evidence.output_layer_class = type(layers[evidence.output_layer]).__name__
        evidence.output_activation = _activation_name(layers[evidence.output_layer])
        if evidence.output_activation in (None, "linear") and evidence.output_layer in (
            complement_log_layers(capture)
        ):
            evidence.logits_as_probabilities = evidence.output_layer
        elif (
            graph is not None
            and evidence.output_activation in (None, "linear")
            and evidence.output_layer in class_log_layers(capture, graph)
        ):
            evidence.logits_as_class_probabilities = evidence.output_layer
    writer = writing_optimizer(capture, record)
    if writer is not None:  # the optimizer whose update made the origin comes first
        optimizers = [writer] + [o for o in optimizers if o is not writer]
    for optimizer in optimizers:
        name = type(optimizer).__name__
        if name == "LossScaleOptimizer":
            evidence.loss_scaling = True
            optimizer = getattr(optimizer, "inner_optimizer", optimizer)
            name = type(optimizer).__name__
        evidence.optimizer_name = name
        evidence.learning_rate = _as_float(getattr(optimizer, "learning_rate", None))
        if evidence.learning_rate is not None:
            evidence.learning_rate_source = "optimizer"
        evidence.optimizer_epsilon = _as_float(getattr(optimizer, "epsilon", None))
        evidence.optimizer_zeroed_floors = zeroed_floors(optimizer)
        iterations = _as_float(getattr(optimizer, "iterations", None))
        evidence.iterations = int(iterations) if iterations is not None else None
        break
    if evidence.learning_rate is None and capture is not None and record is not None:
        evidence.learning_rate = update_step_size(capture, record)
        if evidence.learning_rate is not None:
            evidence.learning_rate_source = "update"
    if capture is not None and path is not None:
        evidence.padded = padding_source(capture, path.ops)
    if capture is not None and record is not None:
        forward = path.forward if path is not None else None
        subject = capture.records[forward] if forward is not None else record
        evidence.forward_op = capture.records[forward] if forward is not None else None
        evidence.unnormalized_similarity = unnormalized_similarity(capture, subject)
        if graph is not None and subject.index in graph:
            evidence.forward_consumers = frozenset(
                capture.records[i].op_type for i in graph.successors(subject.index)
            )
            evidence.discarded_by_where = discarded_by_where(graph, capture, subject.index)
            # three ops up: a normal CDF written 0.5 * (1 + erf(z / sqrt(2))) is two from its erf
            evidence.upstream_ops = frozenset(
                capture.records[i].op_type for i in _within(graph, subject.index, 3, up=True)
            )
            evidence.probability_source, evidence.probability_mixture = probability_source(
                graph, capture, subject.index
            )
            evidence.exp_normalized = _feeds_normalizer(graph, capture, subject.index)
            evidence.exp_into_log = feeds_a_log(graph, capture, subject.index)
            if path is not None:
                evidence.labels_outside_unit = labels_outside_unit(graph, capture, subject, path)
        if record.phase == "backward":
            evidence.backward_layers = backward_layer_scale(capture, record.index)
        if record.phase == "update":
            evidence.gradient_abs_max = backward_abs_max(capture, record.index)
            # every layer shapes every gradient; off the path, the path's scales are all of them
            evidence.model_layer_scales = (
                evidence.layer_scales if path_layers is layers else layer_scales(layers)
            )
        earlier_ops = [r for r in capture.records[: record.index] if r.phase == record.phase]
        evidence.repeated_before = sum(1 for r in earlier_ops if r.op_type == record.op_type)
        evidence.products_before = sum(1 for r in earlier_ops if r.op_type in PRODUCT_OPS)
        evidence.argument_producers = tuple(_producer_type(capture, p) for p in subject.producers)
        evidence.divisor_factors = divisor_factors(capture, subject)
        evidence.counted_tensor = counted_tensor(capture, subject)
        evidence.eigenvalues = from_eigendecomposition(capture, subject)
        evidence.divisor_variable = divisor_variable(capture, subject)
        evidence.divisor_weight = divisor_weight(capture, subject)
        evidence.epsilon_lost_in = epsilon_lost_in(capture, subject)
        evidence.argument_layer = argument_layer(capture, subject)
        evidence.argument_tensor = argument_tensor(capture, subject)
        evidence.argument_from_state = argument_from_state(capture, subject)
        if evidence.argument_layer in layers:
            evidence.argument_activation = _activation_name(layers[evidence.argument_layer])
            evidence.argument_layer_class = type(layers[evidence.argument_layer]).__name__
        evidence.inf_constant_op = inf_constant_op(capture, subject)
        evidence.half_cancellation = half_cancellation(capture, subject)
        evidence.exp_underflow = exp_underflow(capture, subject)
        if subject.op_type in {"RealDiv", "Div", "DivNoNan", "Xdivy"}:
            evidence.denominator_exp_underflow = exp_underflow(capture, subject, argument=1)
    return evidence


def padding_source(capture: ReplayCapture, ops: Any) -> tuple[str, float, str] | None:
    """The batch tensor a masking layer on the path reads, its padding value and the layer:
    ``Embedding(mask_zero=True)`` masks id 0, ``Masking`` its ``mask_value``."""
    for index in sorted(ops):
        record = capture.records[index]
        layer = record.layer_object
        if layer is None or record.layer is None:
            continue
        if getattr(layer, "mask_zero", False) is True:
            value = 0.0
        elif type(layer).__name__ == "Masking":
            value = _as_float(getattr(layer, "mask_value", None))
            if value is None:
                continue
        else:
            continue
        name = next((n for n in record.batch_inputs if n is not None), None)
        if name is not None:
            return name, value, record.layer
    return None


#: Ops that only reshape or relabel a value: what a value "is" (a norm, a sum) is read
#: through them (``tf.norm`` ends in a ``Squeeze``).
SHAPE_OPS = frozenset({"Squeeze", "Reshape", "ExpandDims", "Identity", "Cast", "BroadcastTo"})


def _through_shape_ops(
    capture: ReplayCapture, index: int | None, hops: int = 3, passing: frozenset[str] = SHAPE_OPS
) -> int | None:
    """``index``, or the op it reshapes / relabels, up to ``hops`` shape-only ops up (or ops of
    ``passing``) along their first inputs."""
    for _ in range(hops):
        if index is None or capture.records[index].op_type not in passing:
            return index
        producers = capture.records[index].producers
        index = producers[0] if producers else None
    return index


def argument_tensor(capture: ReplayCapture, record: OpRecord) -> str | None:
    """The batch tensor that is ``record``'s first argument, itself or through shape-only ops
    (``tf.cast(y, ...)``, a reshape); None when that argument is computed from anything else."""
    current: OpRecord | None = record
    for _ in range(4):
        if current is None:
            return None
        if current.batch_inputs and current.batch_inputs[0] is not None:
            return current.batch_inputs[0]
        producer = current.producers[0] if current.producers else None
        if producer is None:
            return None
        current = capture.records[producer]
        if current.op_type not in SHAPE_OPS:
            return None
    return None


def _producer_type(capture: ReplayCapture, index: int | None) -> str | None:
    """The op type that made a value, read through shape-only ops; None for a constant or a
    batch tensor."""
    index = _through_shape_ops(capture, index)
    return capture.records[index].op_type if index is not None else None


#: Decompositions whose eigen / singular values a matrix function raises to a power.
EIGEN_OPS = frozenset({"SelfAdjointEigV2", "Svd", "Eig"})
#: Ops that pick values out of a tensor without changing them.
PICKING_OPS = SHAPE_OPS | frozenset({"StridedSlice", "Slice", "GatherV2", "Unpack", "Split"})


def from_eigendecomposition(capture: ReplayCapture, record: OpRecord) -> bool:
    """``record``'s first argument is eigenvalues (or singular values) of a decomposition,
    picked out through at most three ops that change no value: a matrix root or inverse
    (C^{-1/2}, Shampoo's L^{-1/4}) of a matrix that is singular or nearly so."""
    index = record.producers[0] if record.producers else None
    for _ in range(4):
        if index is None:
            return False
        op_type = capture.records[index].op_type
        if op_type in EIGEN_OPS:
            return True
        if op_type not in PICKING_OPS:
            return False
        producers = capture.records[index].producers
        index = producers[0] if producers else None
    return False


#: Powers a count may go through before it divides (1 / count ** 2: generalized Dice weights).
COUNT_POWERS = frozenset({"Square", "Pow", "Sqrt"})
#: Ops between a batch tensor and the sum that counts it: labels turned into indicators.
INDICATOR_OPS = SHAPE_OPS | frozenset(
    {"OneHot", "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"}
    | {"StridedSlice", "Slice", "GatherV2", "Mul"}
)


def counted_tensor(capture: ReplayCapture, record: OpRecord) -> str | None:
    """The batch tensor whose sum (or its power) is ``record``'s divisor: a count of a class or
    of a mask's entries in this batch, a reference volume (``1 / reduce_sum(y_true, 0)``,
    ``1 / tf.square(reduce_sum(y_true))``), read through indicator ops (one-hot, comparisons,
    casts); None when the divisor is anything else."""
    index = _through_shape_ops(capture, record.producers[1] if len(record.producers) > 1 else None)
    if index is not None and capture.records[index].op_type in COUNT_POWERS:
        producers = capture.records[index].producers
        index = _through_shape_ops(capture, producers[0] if producers else None)
    if index is None or capture.records[index].op_type != "Sum":
        return None
    current = capture.records[index]
    for _ in range(4):
        if current.batch_inputs and current.batch_inputs[0] is not None:
            return current.batch_inputs[0]
        producer = current.producers[0] if current.producers else None
        if producer is None or capture.records[producer].op_type not in INDICATOR_OPS:
            return None
        current = capture.records[producer]
    return None


def divisor_factors(capture: ReplayCapture, record: OpRecord) -> tuple[str | None, ...]:
    """The producers' op types of the factors of ``record``'s second argument when that
    argument is a product (``Mul``); () otherwise."""
    divisor = record.producers[1] if len(record.producers) > 1 else None
    divisor = _through_shape_ops(capture, divisor)
    if divisor is None or capture.records[divisor].op_type != "Mul":
        return ()
    product = capture.records[divisor]
    return tuple(_producer_type(capture, p) for p in product.producers)


def upstream_records(
    capture: ReplayCapture,
    start: int | None,
    limit: int | None = None,
    skip: frozenset[str] = frozenset(),
) -> Iterator[OpRecord]:
    """The op ``start`` and every op upstream of it, each once, depth first (at most
    ``limit``); an op whose type is in ``skip`` is not entered, nor what lies above it."""
    seen: set[int] = set()
    stack = [start] if start is not None else []
    while stack and (limit is None or len(seen) < limit):
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        current = capture.records[index]
        yield current
        stack.extend(
            p
            for p in current.producers
            if p is not None and p not in seen and capture.records[p].op_type not in skip
        )


def divisor_weight(capture: ReplayCapture, record: OpRecord, limit: int = 2000) -> str | None:
    """A trainable variable that ``record``'s divisor is computed from, searched up through
    every input (at most ``limit`` ops): a normalizer the model computes (a sum of its own
    gates, a gradient norm) is exactly 0 on one batch and tiny on the next, where a count
    (made from the batch, or of what a comparison selects: ``DISCRETE_OPS``) is 0 or at
    least 1. None for a divisor made of batch tensors and constants only, or for an op that
    divides nothing."""
    if record.op_type not in DIVISION_OPS or len(record.producers) < 2:
        return None
    # not through ops that make booleans or indices: a count of the entries a comparison
    # selects is 0 or at least 1 whatever the weights compared (complex values, an FFT's,
    # are followed: they carry the weights as floats do)
    for current in upstream_records(capture, record.producers[1], limit, DISCRETE_OPS):
        if current.variable and current.variable_trainable:
            return current.variable
    return None


#: ops whose outputs are booleans or indices: what a divisor computes from them is a count.
DISCRETE_OPS = frozenset(
    {"Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "IsNan", "IsInf"}
    | {"IsFinite", "LogicalAnd", "LogicalOr", "LogicalNot", "ArgMax", "ArgMin", "Shape"}
    | {"Size", "Rank", "Where", "TopKV2", "UniqueV2", "Bucketize"}
)


def divisor_variable(capture: ReplayCapture, record: OpRecord) -> str | None:
    """The trainable variable ``record`` divides by, read directly (through shape ops at
    most), when that read holds exact zeros; None otherwise."""
    if record.op_type not in ("RealDiv", "Div", "DivNoNan") or len(record.producers) < 2:
        return None
    divisor = _through_shape_ops(capture, record.producers[1])
    if divisor is None:
        return None
    read = capture.records[divisor]
    health = read.result_health
    if read.op_type != "ReadVariableOp" or not read.variable or health is None:
        return None
    return read.variable if health.zeros and read.variable_trainable is not False else None


def argument_layer(capture: ReplayCapture, record: OpRecord, hops: int = 3) -> str | None:
    """The layer whose output feeds ``record``'s first argument, followed up through at most
    ``hops`` ops that belong to no layer (a loss's ``y_pred + eps``, casts, reshapes)."""
    producer = record.producers[0] if record.producers else None
    for _ in range(hops):
        if producer is None:
            return None
        source = capture.records[producer]
        if source.layer is not None:
            return source.layer
        producer = source.producers[0] if source.producers else None
    return None


def argument_from_state(capture: ReplayCapture, record: OpRecord) -> bool:
    """Whether ``record``'s first argument is made only of what the step keeps itself: every
    op upstream of it (however far) belongs to no layer, reads no trainable variable and takes
    no batch tensor, and it is made by some op (a bare batch tensor or constant is not)."""
    producer = record.producers[0] if record.producers else None
    if producer is None:
        return False
    return not any(
        source.layer is not None
        or source.variable_trainable
        or any(name is not None for name in source.batch_inputs)
        for source in upstream_records(capture, producer)
    )


#: Ops that pass a tensor's values on unchanged (a cast, a reshape, a slice of it).
VALUE_PRESERVING_OPS = MOVING_OPS | {"Slice", "Unpack"}


def _input_layer(
    capture: ReplayCapture, record: OpRecord, argument: int, hops: int = 3
) -> str | None:
    """The layer whose output is ``record``'s input ``argument`` itself, read through at most
    ``hops`` value-preserving ops of no layer (a cast, a reshape, a slice), or None: 1 - p of
    the output p, not 1 - p**2 of it."""
    producer = record.producers[argument] if len(record.producers) > argument else None
    for _ in range(hops):
        if producer is None:
            return None
        source = capture.records[producer]
        if source.layer is not None:
            return source.layer
        if source.op_type not in VALUE_PRESERVING_OPS:
            return None
        producer = source.producers[0] if source.producers else None
    return None


def complement_log_layers(capture: ReplayCapture, hops: int = 3) -> set[str]:
    """The layers whose output some ``Log`` takes as ``1 - output`` (``log(1 - p + eps)``,
    within ``hops`` ops of no layer): the half of a binary cross-entropy that reads the output
    as a probability."""
    layers: set[str] = set()
    for record in capture.records:
        if record.op_type != "Log" or not record.producers:
            continue
        producer = record.producers[0]
        for _ in range(hops):
            if producer is None:
                break
            source = capture.records[producer]
            if source.op_type == "Sub" and len(source.inputs) == 2:
                first = source.inputs[0]
                if (
                    source.producers[0] is None
                    and first is not None
                    and first.min_value == 1.0
                    and first.max_value == 1.0
                ):
                    layer = _input_layer(capture, source, 1)
                    if layer is not None:
                        layers.add(layer)
                break
            if source.layer is not None:
                break
            producer = source.producers[0] if source.producers else None
    return layers


#: Losses that read log-probabilities of classes (the CTC ops take the log of a softmax).
CLASS_LOG_CONSUMERS = frozenset({"CTCLoss", "CTCLossV2"})
#: A constant below this added to the output before the log is an epsilon, not a shift.
_LOG_EPSILON_MAX = 1e-3


def class_log_layers(capture: ReplayCapture, graph: Any, hops: int = 3) -> set[str]:
    """The layers whose output of several units some ``Log`` takes whole (through moves, a
    transpose and an added epsilon at most) as a distribution over classes: the log goes into
    a CTC loss, or is multiplied with a batch tensor (the one-hot labels of ``-sum(y *
    log(p))``)."""
    layers: set[str] = set()
    for record in capture.records:
        if record.op_type != "Log" or not record.producers or record.phase == "backward":
            continue
        if record.index not in graph:
            continue
        readers = [capture.records[i] for i in graph.successors(record.index)]
        if not any(
            reader.op_type in CLASS_LOG_CONSUMERS
            or (reader.op_type == "Mul" and any(name is not None for name in reader.batch_inputs))
            for reader in readers
        ):
            continue
        layer = _whole_output_layer(capture, record.producers[0], hops)
        if layer is not None:
            layers.add(layer)
    return layers


def _whole_output_layer(capture: ReplayCapture, producer: int | None, hops: int) -> str | None:
    """The layer whose output of more than one unit reaches here unchanged but for moves, a
    transpose and an epsilon added."""
    for _ in range(hops + 1):
        if producer is None:
            return None
        source = capture.records[producer]
        if source.layer is not None:
            output = source.result_health
            units = output.shape[-1] if output is not None and output.shape else 0
            return source.layer if units > 1 else None
        epsilon = (
            source.op_type in ("AddV2", "Add")
            and len(source.inputs) == 2
            and sum(p is None for p in source.producers) == 1
            and all(
                h is not None and h.max_abs <= _LOG_EPSILON_MAX
                for p, h in zip(source.producers, source.inputs, strict=False)
                if p is None
            )
        )
        if not epsilon and source.op_type not in VALUE_PRESERVING_OPS | {"Transpose"}:
            return None
        producer = next((p for p in source.producers if p is not None), None)
    return None


def exp_underflow(
    capture: ReplayCapture, record: OpRecord, hops: int = 5, argument: int = 0
) -> bool:
    """An ``Exp`` whose result holds exact zeros (exp of a large negative argument underflows
    to 0) feeds ``record``'s argument ``argument`` (the first) within ``hops`` ops."""
    frontier = list(record.producers[argument : argument + 1])
    seen: set[int] = set()
    for _ in range(hops):
        upstream: list[int | None] = []
        for index in frontier:
            if index is None or index in seen:
                continue
            seen.add(index)
            current = capture.records[index]
            if current.op_type == "Exp":
                out = current.result_health
                if out is not None and out.zeros and current.inputs_finite:
                    return True
                continue
            upstream.extend(current.producers)
        frontier = upstream
    return False


def inf_constant_op(capture: ReplayCapture, record: OpRecord, hops: int = 4) -> OpRecord | None:
    """The op that takes a constant +-inf (an input holding Inf but no NaN that no recorded op
    made: ``float("-inf")`` in the code) and passes it on to ``record``: ``record`` itself or
    one up to ``hops`` ops up its inputs that hold Inf; None when there is none."""
    frontier, seen = [record.index], {record.index}
    for _ in range(hops + 1):
        upstream = []
        for index in frontier:
            current = capture.records[index]
            batch = current.batch_inputs or [None] * len(current.inputs)
            for producer, health, tensor in zip(
                current.producers, current.inputs, batch, strict=False
            ):
                if health is None or not health.inf or health.nan or tensor is not None:
                    continue
                if producer is None:
                    return current
                if producer not in seen:
                    seen.add(producer)
                    upstream.append(producer)
        frontier = upstream
    return None


#: Half dtypes: a narrow range, and a small epsilon written in the code may round to 0 there.
HALF_DTYPES = frozenset({"float16", "bfloat16"})


#: Ops that divide (by their second argument, or a reciprocal).
DIVISION_OPS = frozenset({"RealDiv", "Div", "Reciprocal", "Inv", "Xdivy", "FloorDiv"})
#: Roots a divisor may be taken with (a standard deviation, a norm).
ROOT_OPS = frozenset({"Sqrt", "Pow"})


def epsilon_lost_in(capture: ReplayCapture, record: OpRecord) -> str | None:
    """The half dtype of a constant scalar 0 added to one of ``record``'s arguments: an
    epsilon the code adds (``x + 1e-8``) that the dtype cannot hold, also under a root a
    division takes (``x / tf.sqrt(var + 1e-12)``). None when there is none."""
    producers = list(record.producers)
    for producer in record.producers[1:] if record.op_type in DIVISION_OPS else ():
        index = _through_shape_ops(capture, producer)
        if index is not None and capture.records[index].op_type in ROOT_OPS:
            producers += capture.records[index].producers[:1]
    for producer in producers:
        if producer is None or capture.records[producer].op_type not in {"AddV2", "Add"}:
            continue
        adder = capture.records[producer]
        for source, health in zip(adder.producers, adder.inputs, strict=False):
            if (
                source is None
                and health is not None
                and health.size == 1
                and health.zeros == 1
                and health.dtype in HALF_DTYPES
            ):
                return health.dtype
    return None


def writing_optimizer(capture: ReplayCapture | None, record: OpRecord | None) -> Any:
    """The optimizer whose update ran ``record`` (None outside every optimizer's update)."""
    if capture is None or record is None:
        return None
    for optimizer, start, end in getattr(capture, "apply_spans", []):
        if start <= record.index and (end < 0 or record.index < end):
            return optimizer
    return None


#: Ops that scale the gradient by the step size in a hand-written update.
_SCALING_OPS = frozenset({"Mul", "RealDiv", "Div", "MulNoNan"})


def update_step_size(capture: ReplayCapture, record: OpRecord, depth: int = 4) -> float | None:
    """The step size of an update no optimizer object describes (``v.assign_sub(lr * g)``,
    ``v.assign(v - g * lr)``): the scalar a multiply in the update phase applies to a
    tensor, at or upstream of ``record`` (within ``depth`` ops). None when there is none."""
    if record.phase != "update":
        return None
    frontier, seen = [record.index], {record.index}
    for _ in range(depth):
        found: list[float] = []
        upstream: list[int] = []
        for index in frontier:
            op = capture.records[index]
            if op.phase != "update":
                continue
            if op.op_type in _SCALING_OPS and len(op.inputs) == 2:
                found += _scalar_factor(op)
            upstream += [p for p in op.producers if p is not None and p not in seen]
        if found:
            return found[0]
        seen |= set(upstream)
        frontier = upstream
    return None


def _scalar_factor(op: OpRecord) -> list[float]:
    """The scalar operand of a two-input multiply (or the divisor's inverse) whose other
    operand is a tensor: [] when there is none."""
    healths = op.inputs
    if any(h is None for h in healths):
        return []
    scalar = [i for i, h in enumerate(healths) if h.size == 1 and h.max_value is not None]
    tensor = [i for i, h in enumerate(healths) if h.size > 1]
    if len(scalar) != 1 or len(tensor) != 1:
        return []
    value = float(healths[scalar[0]].max_value)
    if op.op_type in ("RealDiv", "Div"):
        if scalar[0] != 1 or value == 0:
            return []
        value = 1.0 / value
    return [abs(value)]


#: Ops whose result grows exponentially with the argument (I0 and I1 like e^x / sqrt(2 pi x)).
BESSEL_OPS = frozenset({"BesselI0", "BesselI1"})
#: Ops that make probabilities (a log of their output is a cross-entropy on probabilities).
PROBABILITY_OPS = frozenset({"Softmax", "Sigmoid", "Erf", "Erfc"})  # erf: a normal CDF
#: Ops whose result is still a probability, or a mixture or selection of probabilities, when
#: their inputs are: reshaping, picking, stacking, weighting, summing and 1 - p. No matmul
#: with a weight and no nonlinearity: a walk through these cannot leave a probability's
#: distribution for a layer's activations.
MIXING_OPS = SHAPE_OPS | frozenset(
    {
        "GatherV2", "GatherNd", "Pack", "ConcatV2", "Mean", "Sum", "AddV2", "AddN", "Mul",
        "Sub", "Pad", "PadV2", "Transpose", "Slice", "StridedSlice", "Tile", "SelectV2",
        "Maximum", "Minimum", "ClipByValue", "UnsortedSegmentSum", "ScatterNd",
        "TensorScatterAdd", "TensorScatterUpdate", "BatchMatMulV2", "BatchMatMulV3", "Einsum",
        "Unpack", "Split", "SplitV", "OneHot",
    }
)  # fmt: skip
#: Mixing ops that add probabilities up: past one, the argument is a mixture.
SUMMING_OPS = frozenset(
    {"Mean", "Sum", "AddV2", "AddN", "UnsortedSegmentSum", "ScatterNd", "TensorScatterAdd"}
    | {"BatchMatMulV2", "BatchMatMulV3", "Einsum"}
)
#: How many mixing ops a probability may pass through on its way to the origin.
MIXING_HOPS = 12


def probability_source(
    graph: Any, capture: ReplayCapture, index: int
) -> tuple[str, bool] | tuple[None, bool]:
    """The op that made the probabilities ``index``'s arguments are built from through mixing
    ops only (a pointer-generator's p_gen P_vocab + (1 - p_gen) copy, an ensemble's mean of
    softmaxes, a gathered gold probability), however far up, and whether the way from it sums
    probabilities (a mixture: no single logit vector behind it); (None, False) when none is."""
    seen = {index}
    frontier = [(index, False)]
    for _ in range(MIXING_HOPS):
        upper = []
        for node, summed in frontier:
            for producer in graph.predecessors(node):
                if producer in seen:
                    continue
                seen.add(producer)
                op_type = capture.records[producer].op_type
                if op_type in PROBABILITY_OPS:
                    return op_type, summed
                if op_type in MIXING_OPS:
                    upper.append((producer, summed or op_type in SUMMING_OPS))
        frontier = upper
    return None, False


def _within(graph: Any, index: int, depth: int, up: bool = False) -> set[int]:
    """Nodes within ``depth`` hops of ``index`` (downstream, or upstream with ``up``)."""
    step = graph.predecessors if up else graph.successors
    seen: set[int] = set()
    frontier = [index]
    for _ in range(depth):
        frontier = [n for node in frontier for n in step(node) if n not in seen]
        seen |= set(frontier)
    return seen


def discarded_by_where(graph: Any, capture: ReplayCapture, index: int) -> str | None:
    """The forward op (``index`` or within 3 hops downstream) whose NaN/Inf output feeds a
    Select: the forward pass threw the value away, the backward pass did not."""
    for node in sorted({index} | _within(graph, index, 3)):
        record = capture.records[node]
        if record.phase not in ("forward", "loss") or record.op_type in SELECT_OPS:
            continue
        if not any(not h.finite for h in record.float_outputs):
            continue
        if any(capture.records[s].op_type in SELECT_OPS for s in graph.successors(node)):
            return record.op_type
    return None


def backward_layer_scale(capture: ReplayCapture, upto: int) -> list[tuple[str, float]]:
    """Largest finite |gradient| each layer's backward ops produced, in backprop order, for
    the backward ops run before ``upto`` (the origin): gradients that grow by orders of
    magnitude from layer to layer are exploding with depth."""
    order: list[str] = []
    largest: dict[str, float] = {}
    for record in capture.records[: upto + 1]:
        if record.phase != "backward" or not record.layer:
            continue
        if record.layer not in largest:
            order.append(record.layer)
            largest[record.layer] = 0.0
        for health in record.float_outputs:
            largest[record.layer] = max(largest[record.layer], health.max_abs)
    return [(layer, largest[layer]) for layer in order]


def backward_abs_max(capture: ReplayCapture, upto: int) -> float:
    """Largest finite |value| of the backward ops run before ``upto``: how large the step's
    gradients got before the update."""
    largest = 0.0
    for record in capture.records[: upto + 1]:
        if record.phase == "backward":
            for health in record.float_outputs:
                largest = max(largest, health.max_abs)
    return largest


def _on_path(layers: dict[str, Any], path_layers: tuple[str, ...]) -> dict[str, Any]:
    """The layers on the path, and the containers of the sublayers on it."""
    keep = {}
    for name, layer in layers.items():
        if any(p == name or p.startswith(name + "/") for p in path_layers):
            keep[name] = layer
    return keep


def stale_variables(capture: ReplayCapture) -> list[str]:
    """Variables whose value was already non-finite when the step first read it."""
    written: set[str] = set()
    stale: list[str] = []
    for record in capture.records:
        if record.variable is None:
            continue
        if record.variable_after is not None:
            written.add(record.variable)
            continue
        if record.op_type != "ReadVariableOp" or record.variable in written:
            continue
        output = record.float_outputs[0] if record.float_outputs else None
        if output is not None and not output.finite and record.variable not in stale:
            stale.append(record.variable)
    return stale


#: How far a label may pass [0, 1] by rounding (a smoothed or averaged label) and still count
#: as inside it.
LABEL_RANGE_SLACK = 1e-3


def labels_outside_unit(
    graph: Any, capture: ReplayCapture, subject: OpRecord, path: FailingPath
) -> tuple[str, float, float] | None:
    """The target tensor that multiplies ``subject`` (a log) as a cross-entropy's label, when
    its values leave [0, 1]: ``y * log(p)`` or ``(1 - y) * log(1 - p)`` (the label at most two
    ops up the product's other input: a ``1 - y``, a cast) or ``xlogy(y, p)``."""
    if subject.op_type == "Xlogy":
        weights = [p for p in subject.producers[:1] if p is not None]
        names = [subject.batch_inputs[0]] if subject.batch_inputs else []
    elif subject.op_type == "Log":
        weights, names = [], []
        factors_in_unit = []
        for consumer in graph.successors(subject.index):
            product = capture.records[consumer]
            if product.op_type != "Mul" or product.phase not in ("forward", "loss"):
                continue
            names += [n for n in product.batch_inputs if n is not None]
            weights += [p for p in product.producers if p is not None and p != subject.index]
            factors_in_unit += [
                _within_unit(h)
                for h, p in zip(product.inputs, product.producers, strict=False)
                if h is not None and p != subject.index
            ]
        if factors_in_unit and all(factors_in_unit):
            # the labels as the product reads them (a column of a packed target tensor, a
            # 1 - y) are in [0, 1]: the tensor's other columns never reach the log
            return None
    else:
        return None
    for index in weights:
        names += _batch_names_above(graph, capture, index, hops=2)
    health = {t.name: t.health for t in path.every_batch if t.role == TARGETS}
    for name in names:
        h = health.get(name)
        if h is None or h.min_value is None or h.max_value is None:
            continue
        if not _within_unit(h):
            return name, float(h.min_value), float(h.max_value)
    return None


def _within_unit(health: Health) -> bool:
    """Every value of the tensor lies in [0, 1] (up to LABEL_RANGE_SLACK)."""
    low, high = health.min_value, health.max_value
    return (
        low is not None
        and high is not None
        and low >= -LABEL_RANGE_SLACK
        and high <= 1.0 + LABEL_RANGE_SLACK
    )


#: Relative spacing of the half-precision dtypes (machine epsilon): a difference of values
#: of size M computed in them is rounded by up to ~M times this.
HALF_SPACING = {"bfloat16": 2.0**-7, "float16": 2.0**-10}
#: Ops that pass a difference on (an epsilon added, a cast, a reshape).
_PASS_THROUGH = frozenset({"AddV2", "Add", "Cast", "Identity", "Reshape", "Squeeze"})


def half_cancellation(capture: ReplayCapture, record: OpRecord) -> tuple[str, float] | None:
    """(dtype, M) when ``record``'s argument (a division's divisor, else its first input) is
    outside the op's domain only by rounding: a half-precision difference a - b (at most two
    pass-through ops up: ``var + eps``) of values up to M that is negative by no more than 4 x
    the dtype's spacing x M (the one-pass variance mean(x^2) - mean(x)^2 of raw-unit data under
    mixed_bfloat16), or exactly 0 where values of size M are at least 1 apart (day numbers or
    timestamps subtracted in float16: durations shorter than the spacing vanish)."""
    position = 1 if record.op_type in {"RealDiv", "Div", "FloorDiv", "DivNoNan", "Xdivy"} else 0
    inputs = record.float_inputs
    if len(inputs) <= position or inputs[position].min_value is None:
        return None
    argument = inputs[position]
    negative = argument.min_value < 0
    if not negative and not argument.zeros:
        return None
    index = record.producers[position] if len(record.producers) > position else None
    index = _through_shape_ops(capture, index, hops=2, passing=_PASS_THROUGH)
    if index is None or capture.records[index].op_type != "Sub":
        return None
    producer = capture.records[index]
    dtype = producer.float_inputs[0].dtype if producer.float_inputs else ""
    spacing = HALF_SPACING.get(dtype)
    if spacing is None:
        return None
    largest = max(h.max_abs for h in producer.float_inputs)
    if negative and -argument.min_value <= 4.0 * spacing * largest:
        return dtype, float(largest)
    if not negative and largest * spacing >= 1.0:
        return dtype, float(largest)
    return None


def _batch_names_above(graph: Any, capture: ReplayCapture, index: int, hops: int) -> list[str]:
    """The batch tensors ``index`` reads, itself or up to ``hops`` ops up its inputs."""
    nodes = sorted({index} | _within(graph, index, hops, up=True))
    return [n for i in nodes for n in capture.records[i].batch_inputs if n is not None]


def feeds_a_log(graph: Any, capture: ReplayCapture, index: int) -> bool:
    """The op's output reaches a ``Log`` / ``Log1p`` through forward and loss ops (any number of
    them: ``log(1 + sum(exp(a)) * sum(exp(b)))`` is as much a log of exponentials as
    ``log(cosh(x))``); backward ops, which also read forward outputs, are not followed."""
    seen, frontier = {index}, [index]
    while frontier:
        following = []
        for node in frontier:
            for successor in graph.successors(node):
                if successor in seen:
                    continue
                seen.add(successor)
                record = capture.records[successor]
                if record.phase not in ("forward", "loss"):
                    continue
                if record.op_type in {"Log", "Log1p"}:
                    return True
                following.append(successor)
        frontier = following
    return False


def _feeds_normalizer(graph: Any, capture: ReplayCapture, index: int, depth: int = 4) -> bool:
    seen = {index}
    frontier = [index]
    types: set[str] = set()
    for _ in range(depth):
        frontier = [s for n in frontier for s in graph.successors(n) if s not in seen]
        seen |= set(frontier)
        types |= {capture.records[n].op_type for n in frontier}
    reduces = bool(types & {"Sum", "Mean"})
    normalizes = bool(types & {"RealDiv", "Div", "Log", "Reciprocal", "DivNoNan"})
    return reduces and normalizes
