"""WHY: infer ``cause.id`` from the origin, the replay capture, the batch and the model state.

Each rule reads evidence that any model has (dtypes, op types, input range, weight scale
against the He/Glorot scale for the layer's fan-in, optimizer settings, the step index);
none looks at names chosen by the user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nantrace.records import Cause, Origin

if TYPE_CHECKING:  # keep `import nantrace.causes` free of TensorFlow (the scan CLI uses it)
    from nantrace.capture import OpRecord, ReplayCapture

#: Ops that fail on 0 or negative inputs (domain errors) or divide.
DOMAIN_OPS = frozenset(
    {
        "Log",
        "Log1p",
        "Sqrt",
        "Rsqrt",
        "RealDiv",
        "Div",
        "DivNoNan",
        "Reciprocal",
        "Inv",
        "Pow",
        "Xlogy",
        "Xdivy",
        "FloorDiv",
        "Acos",
        "Asin",
        "Atanh",
        "Acosh",
        "Lgamma",
        "Digamma",
    }
)
#: Backward ops whose local gradient is singular at 0 (sqrt, rsqrt, 1/x, log, norm).
SINGULAR_GRAD_OPS = frozenset(
    {
        "SqrtGrad",
        "RsqrtGrad",
        "ReciprocalGrad",
        "InvGrad",
        "RealDiv",
        "Div",
        "Reciprocal",
        "Xdivy",
        "Rsqrt",
        "Pow",
    }
)
HALF_DTYPES = frozenset({"float16", "bfloat16"})
FLOAT16_MAX = 65504.0
#: A batch is "unscaled" when its magnitude is far outside the ~[-10, 10] networks expect.
UNSCALED_INPUT_ABS = 1e3
#: A kernel is "badly initialized" when its std exceeds the He/Glorot std by this factor.
INIT_SCALE_FACTOR = 10.0


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


@dataclass
class Evidence:
    """What the cause rules read; also copied into the report."""

    step: int
    input_abs_max: float
    layer_scales: list[LayerScale] = field(default_factory=list)
    has_recurrent: bool = False
    recurrent_layers: list[str] = field(default_factory=list)
    learning_rate: float | None = None
    optimizer_epsilon: float | None = None
    optimizer_name: str | None = None
    loss_scaling: bool = False
    half_precision: bool = False
    output_activation: str | None = None
    #: per layer: largest |output| / largest |input| over the layer's forward ops.
    layer_growth: dict[str, float] = field(default_factory=dict)
    #: the guard's ring buffers (None when history is off).
    history: Any = None

    def healthy_grad_norms(self) -> np.ndarray:
        return self.history.healthy_grad_norms() if self.history is not None else np.array([])

    def fastest_growing_weight(self) -> tuple[str, float, int] | None:
        growth = self.history.weight_growth() if self.history is not None else []
        return growth[0] if growth else None


def layer_growth(capture: ReplayCapture, layers: list[str]) -> dict[str, float]:
    """How much each of ``layers`` (and its sublayers) amplifies its input in the forward pass:
    largest |output| of its ops over largest |input| that came from outside it."""
    growth = {}
    for layer in layers:
        prefix = layer + "/"
        records = [
            r
            for r in capture.records
            if r.phase == "forward" and r.layer and (r.layer == layer or r.layer.startswith(prefix))
        ]
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
    if activation in {"relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish"}:
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
    if name == "Constant":
        return abs(float(np.asarray(config.get("value", 0.0)).mean()))
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
        values = np.asarray(kernel)
        if not np.isfinite(values).all():
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
                std=float(np.sqrt(np.mean(np.square(values.astype(np.float64))))),
                expected_std=std_expected,
                fan_in=fan_in,
                initializer=_initializer_name(layer),
                activation=_activation_name(layer),
                initial_std=initializer_std(layer, fan_in, fan_out),
            )
        )
    return scales


def gather_evidence(
    step: int,
    input_abs_max: float,
    capture: ReplayCapture | None,
    optimizers: list[Any],
    history: Any = None,
) -> Evidence:
    layers = capture.layers_seen if capture is not None else {}
    evidence = Evidence(
        step=step, input_abs_max=input_abs_max, layer_scales=layer_scales(layers), history=history
    )
    for path, layer in layers.items():
        name = type(layer).__name__
        if _is_ungated_recurrent(layer):
            evidence.has_recurrent = True
            evidence.recurrent_layers.append(f"{path} ({name})")
        policy = getattr(layer, "dtype_policy", None)
        compute = getattr(policy, "compute_dtype", None)
        if compute in HALF_DTYPES:
            evidence.half_precision = True
    if capture is not None:
        recurrent = [entry.split(" (")[0] for entry in evidence.recurrent_layers]
        evidence.layer_growth = layer_growth(capture, recurrent)
    if layers:
        last_path = list(layers)[-1]
        evidence.output_activation = _activation_name(layers[last_path])
    for optimizer in optimizers:
        name = type(optimizer).__name__
        if name == "LossScaleOptimizer":
            evidence.loss_scaling = True
            optimizer = getattr(optimizer, "inner_optimizer", optimizer)
            name = type(optimizer).__name__
        evidence.optimizer_name = name
        evidence.learning_rate = _as_float(getattr(optimizer, "learning_rate", None))
        evidence.optimizer_epsilon = _as_float(getattr(optimizer, "epsilon", None))
        break
    return evidence


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


def _zero_or_negative_input(record: OpRecord) -> bool:
    for health in record.float_inputs:
        if health.zeros > 0:
            return True
    return False


def _scale_cause(origin: Origin, record: OpRecord | None, evidence: Evidence) -> Cause:
    """Overflow of finite-but-huge values: unscaled data, bad init, or weights that grew."""
    if evidence.input_abs_max > UNSCALED_INPUT_ABS:
        return Cause(
            "unscaled_input",
            f"the batch reaches |x| = {evidence.input_abs_max:.3g}, far outside the ~[-10, 10] "
            "range networks are built for; the first layers' pre-activations overflow",
            {"input_abs_max": evidence.input_abs_max},
        )
    exploding = _recurrent_growth(evidence)
    if exploding is not None:
        layer, growth = exploding
        return Cause(
            "recurrent_explosion",
            f"the recurrent layer {layer} amplifies its input {growth:.3g}x over the time steps "
            "of the sequence; its state grows until the values overflow",
            {"layer": layer, "growth": growth, "recurrent_layers": evidence.recurrent_layers},
        )
    worst = max(evidence.layer_scales, key=lambda s: s.ratio, default=None)
    if worst is not None and worst.ratio > INIT_SCALE_FACTOR:
        started_large = (worst.initial_ratio or 0.0) > INIT_SCALE_FACTOR
        if worst.initial_std is None:
            grew = evidence.step > 0
        else:
            grew = evidence.step > 0 and worst.grew
        if started_large or not grew:
            return Cause(
                "initializer_scale",
                f"layer {worst.layer} has weight scale {worst.std:.3g}, {worst.ratio:.0f}x the "
                f"{'He' if _is_relu(worst.activation) else 'Glorot'} scale {worst.expected_std:.3g} "
                f"for fan-in {worst.fan_in} (initializer {worst.initializer}); activations grow "
                "layer by layer until they overflow",
                _scale_evidence(worst, evidence),
            )
        return Cause(
            "learning_rate_too_high",
            f"layer {worst.layer} weights grew to scale {worst.std:.3g}, "
            f"{worst.std / max(worst.initial_std or worst.expected_std, 1e-12):.3g}x their initial "
            f"scale, within {evidence.step} steps: the updates are too large",
            _scale_evidence(worst, evidence),
        )
    if evidence.step > 0:
        grower = evidence.fastest_growing_weight()
        if grower is not None and grower[1] > 3.0:
            name, factor, span = grower
            return Cause(
                "learning_rate_too_high",
                f"{name} grew {factor:.3g}x in norm over the last {span} healthy steps before "
                f"the overflow at step {evidence.step}: the updates are too large",
                {
                    "variable": name,
                    "norm_growth": factor,
                    "steps": span,
                    "learning_rate": evidence.learning_rate,
                },
            )
        return Cause(
            "learning_rate_too_high",
            f"the step {evidence.step} overflow came after healthy steps with finite, "
            "normally-scaled inputs: the training dynamics (update size) blew up",
            {"step": evidence.step, "learning_rate": evidence.learning_rate},
        )
    return Cause(
        "gradient_explosion",
        "values overflowed although input scale and weight scale look normal",
        {"step": evidence.step},
    )


#: A recurrent layer whose output exceeds its input by this factor is exploding.
RECURRENT_GROWTH = 1e3


def _recurrent_growth(evidence: Evidence) -> tuple[str, float] | None:
    recurrent = {entry.split(" (")[0] for entry in evidence.recurrent_layers}
    worst = None
    for layer, growth in evidence.layer_growth.items():
        if (
            layer in recurrent
            and growth > RECURRENT_GROWTH
            and (worst is None or growth > worst[1])
        ):
            worst = (layer, growth)
    return worst


def _is_relu(activation: str | None) -> bool:
    return activation in {"relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish"}


def _scale_evidence(scale: LayerScale, evidence: Evidence) -> dict[str, Any]:
    grower = evidence.fastest_growing_weight()
    history = (
        {"norm_growth": grower[1], "growth_variable": grower[0], "growth_steps": grower[2]}
        if grower
        else {}
    )
    return {
        **history,
        "layer": scale.layer,
        "weight_std": scale.std,
        "expected_std": scale.expected_std,
        "ratio": scale.ratio,
        "fan_in": scale.fan_in,
        "initializer": scale.initializer,
        "initial_std": scale.initial_std,
        "step": evidence.step,
    }


def infer_cause(origin: Origin, record: OpRecord | None, evidence: Evidence) -> Cause | None:
    """The most likely cause for ``origin`` given ``evidence``."""
    kind = origin.kind
    if kind == "input_data":
        return Cause(
            "non_finite_input",
            f"the batch tensor {origin.tensor} already holds NaN/Inf in {len(origin.rows)} "
            f"sample(s) before any op runs",
            {
                "tensor": origin.tensor,
                "rows": list(origin.rows[:100]),
                "nan": origin.output.nan if origin.output else None,
                "inf": origin.output.inf if origin.output else None,
            },
        )
    if kind == "unknown" or record is None:
        return None
    op = record.op_type
    out = record.result_health
    dtypes = {h.dtype for h in record.float_inputs} | ({out.dtype} if out else set())
    inputs_max = max((h.max_abs for h in record.float_inputs), default=0.0)
    singular = (op in SINGULAR_GRAD_OPS or op in DOMAIN_OPS) and _zero_or_negative_input(record)
    if (
        dtypes & HALF_DTYPES
        and out is not None
        and out.inf
        and inputs_max <= FLOAT16_MAX
        and not singular  # 1/0 is Inf in any precision: that is a missing epsilon
    ):
        return Cause(
            "float16_range",
            f"{op} in {record.layer or record.phase} runs in {sorted(dtypes & HALF_DTYPES)[0]} "
            f"and its result exceeds ±{FLOAT16_MAX:.0f} (inputs reach |x| = {inputs_max:.3g})",
            {
                "dtype": sorted(dtypes & HALF_DTYPES)[0],
                "input_abs_max": inputs_max,
                "loss_scaling": evidence.loss_scaling,
            },
        )
    if kind == "optimizer_update":
        eps = evidence.optimizer_epsilon
        lr = evidence.learning_rate
        if (lr is not None and not math.isfinite(lr)) or not record.inputs_finite:
            return Cause(
                "learning_rate_too_high",
                f"the update of {origin.variable or 'a variable'} multiplies the gradient by a "
                f"non-finite step size (learning rate = {lr if lr is not None else 'Inf/NaN'}), "
                "e.g. a schedule or a constant that overflows float32",
                {"learning_rate": lr, "variable": origin.variable, "op_type": op},
            )
        if (
            eps is not None
            and eps <= 1e-12
            and (op in DOMAIN_OPS or _zero_or_negative_input(record))
        ):
            return Cause(
                "missing_epsilon",
                f"the {evidence.optimizer_name} update divides by sqrt(v) + epsilon with "
                f"epsilon = {eps:g}; a variable with zero gradient history gives 0/0",
                {"optimizer": evidence.optimizer_name, "epsilon": eps, "variable": origin.variable},
            )
        return Cause(
            "learning_rate_too_high",
            f"gradients were finite but the {evidence.optimizer_name or 'optimizer'} update "
            f"with learning rate {evidence.learning_rate} made {origin.variable} non-finite",
            {
                "learning_rate": evidence.learning_rate,
                "variable": origin.variable,
                "update_abs_max": inputs_max,
            },
        )
    if kind == "gradient":
        if op in SINGULAR_GRAD_OPS or (op in DOMAIN_OPS and _zero_or_negative_input(record)):
            return Cause(
                "missing_epsilon",
                f"the backward pass of {record.layer or 'the step'} hits a singular local "
                f"gradient ({op} at 0, e.g. sqrt/norm of an exact zero)",
                {"op_type": op, "layer": record.layer},
            )
        if evidence.has_recurrent:
            return Cause(
                "recurrent_explosion",
                "gradients compound over the time steps of "
                f"{', '.join(evidence.recurrent_layers)} until they overflow",
                {
                    "recurrent_layers": evidence.recurrent_layers,
                    "op_type": op,
                    "input_abs_max": inputs_max,
                },
            )
        scale = _scale_cause(origin, record, evidence)
        if scale.id in {"initializer_scale", "unscaled_input", "learning_rate_too_high"}:
            return scale
        return Cause(
            "gradient_explosion",
            f"the forward pass is finite but gradients overflow in {op} of "
            f"{record.layer or 'the backward pass'} (inputs reach |x| = {inputs_max:.3g})",
            {"op_type": op, "input_abs_max": inputs_max},
        )
    if op in DOMAIN_OPS and (_zero_or_negative_input(record) or (out and out.nan)):
        if kind == "loss" and op in {"Log", "Xlogy", "Log1p"}:
            return Cause(
                "unstable_loss",
                f"the loss takes {op} of a probability that reached 0 (hand-written "
                "cross-entropy on probabilities instead of logits)",
                {
                    "op_type": op,
                    "zeros": sum(h.zeros for h in record.float_inputs),
                    "output_activation": evidence.output_activation,
                },
            )
        layer_object = record.layer_object
        layer_epsilon = _as_float(getattr(layer_object, "epsilon", None))
        if layer_epsilon is not None and layer_epsilon <= 1e-12:
            return Cause(
                "missing_epsilon",
                f"{type(layer_object).__name__} {record.layer} is built with "
                f"epsilon={layer_epsilon:g}: {op} of a variance that reached 0",
                {
                    "op_type": op,
                    "layer": record.layer,
                    "layer_epsilon": layer_epsilon,
                    "layer_class": type(layer_object).__name__,
                },
            )
        return Cause(
            "missing_epsilon",
            f"{op} of an exact or near 0 in {record.layer or record.phase} (e.g. a variance, "
            "norm or probability) with no epsilon",
            {
                "op_type": op,
                "layer": record.layer,
                "zeros": sum(h.zeros for h in record.float_inputs),
                "min_abs_nonzero": min(
                    (
                        h.min_abs_nonzero
                        for h in record.float_inputs
                        if h.min_abs_nonzero is not None
                    ),
                    default=None,
                ),
            },
        )
    return _scale_cause(origin, record, evidence)
