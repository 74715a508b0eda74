"""Apply a report's fix the way its snippet tells the user, to a FRESH run, and train unwatched.

This is the check of ``nantrace.diagnosis.verify``: it is written independently of it (no import from
``nantrace.diagnosis.verify``). ``scenario_cases.run_loop`` reads :data:`APPLIED_FIX`; while it is set,
the scenario is not watched: the fix is applied to the freshly built model, optimizer and
batches, and the step is trained over the scenario's batches, cycled :data:`EPOCHS` times.

What each fix id means here (the fix params contract):

* ``lower_learning_rate``: ``optimizer.learning_rate = params["suggested"]`` before training;
  for an optimizer built on a Keras schedule, the schedule rebuilt from
  ``params["schedule_config"]`` (the constructor line the snippet shows) in its place.
* ``clip_gradients``: ``optimizer.global_clipnorm = params["clipnorm"]`` (clipnorm and
  clipvalue off), as ``Adam(..., global_clipnorm=X)``.
* ``clean_input``: on the tensor ``params["tensor"]`` (``x``, ``y``, ``x['income']``,
  ``args[2]``), ``mode="drop_rows"``: rows where it holds NaN/Inf are removed from every tensor
  of the batch (a ``dataset.filter``; a batch left empty is not trained on, and no batch left
  at all means nothing trains); ``mode="impute"``: NaN/Inf replaced by ``params["value"]``;
  ``mode="drop_padding"``: rows whose tensor is nothing but ``params["value"]`` are removed;
  ``mode="missing_code"``: entries equal to ``params["code"]`` replaced by ``params["value"]``;
  ``mode="drop_code"``: rows whose tensor holds ``params["code"]`` anywhere are removed;
  ``mode="clip_negative"``: the tensor's negative entries set to 0 (``tf.maximum(w, 0.0)``).
  ``clamp_argument`` with ``mode="clip_batch"``: the tensor clipped into
  [``params["min"]``, ``params["max"]``] (``tf.clip_by_value``, or ``tf.maximum`` without a max).
* ``rescale_input`` / ``rescale_target``: only the named tensor (default: the first / second
  argument) multiplied by ``params["scale"]``; ``rescale_input`` with
  ``mode="normalization_readapted"``: the Normalization layer ``params["layer"]`` adapted on
  ``params["tensor"]`` of every batch before training (``layer.adapt(training_features)``; a
  layer built with ``mean=`` / ``variance=`` is given that data's mean and variance instead).
  ``mode="normalization_not_inverted"``: the Normalization layer ``params["layer"]`` (its last
  name) constructed without ``invert=True`` while the scenario builds.
* ``change_initializer``: the kernels of ``params["layers"]`` re-drawn with
  ``params["suggested"]`` before training.
* ``add_epsilon``: the optimizer's setting (``optimizer.epsilon``, ``optimizer.initial_accumulator_value``)
  or the layer's ``epsilon`` attribute.
* ``positive_output`` (and ``use_from_logits`` in mode ``sigmoid_output`` or ``softmax_output``): the layer
  ``params["layer"]`` gets ``params["activation"]`` as its
  activation before training (what ``activation="softplus"`` at its construction does).
* ``add_normalization`` in mode ``unit_norm``: a ``keras.layers.UnitNormalization()`` called on
  the output of each layer of ``params["after"]`` (composed with its activation).
* ``float32_layer``: the layer ``params["layer"]`` gets the float32 dtype policy before training
  (``dtype="float32"`` at its construction; its variables are float32 under mixed precision),
  and a preprocessing layer's adapted constants are derived again in float32 (Keras'
  ``finalize_state``, which ``adapt()`` ends with).
* a code change at the user's line (params ``edit`` and ``where``: ``add_epsilon`` in user code,
  ``use_from_logits``, ``clamp_argument``, ``divide_no_nan``, ``double_where``): the line the
  snippet shows (``<line>  # at file:line``; a fix that edits several statements shows one
  such line each) replaces that line in a copy of the scenario's source file, and the scenario
  is built from the copy (:func:`edited_build`); nothing else is configured.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import importlib.util
import inspect
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nantrace.report.records import Fix

#: The fix ``run_loop`` applies instead of watching; None: watch as usual.
APPLIED_FIX: contextvars.ContextVar[Fix | None] = contextvars.ContextVar(
    "applied_fix", default=None
)
#: Passes over the scenario's batches.
EPOCHS = 3


class NotApplicable(Exception):
    """The fix cannot be applied the way its snippet says to this run."""


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    weights_finite: bool = True
    batches: int = 0  # batches per pass after the fix
    steps_planned: int = 0

    @property
    def finite(self) -> bool:
        return self.weights_finite and all(np.isfinite(self.losses))

    def trouble(self) -> str | None:
        """Why this run does not train (non-finite, nothing to train on, diverging), or None.

        Divergence, on sustained levels (medians over a tenth of the run, at least 3 steps: a
        one-step spike that recovers, as training with clipping shows now and then, is not a
        level, wherever the run happens to end):
        the level at the end is above the mean loss of the first three steps by more than its
        size (twice it, for a positive loss), or above the lowest level reached during the run
        by more than 9x that level's size (a rise after it had trained)."""
        if self.batches == 0 or not self.losses:
            return "the fix leaves nothing to train on"
        if not self.finite:
            bad = next((i for i, v in enumerate(self.losses) if not np.isfinite(v)), None)
            where = f"loss non-finite at step {bad}" if bad is not None else "weights non-finite"
            return f"{where} of {self.steps_planned}"
        values = np.asarray(self.losses, dtype=np.float64)
        window = min(values.size, max(3, values.size // 10))
        start = float(np.mean(values[:3]))
        levels = np.median(np.lib.stride_tricks.sliding_window_view(values, window), axis=1)
        end, best = float(levels[-1]), float(levels.min())
        # sign-safe (a policy-gradient or log-likelihood loss can be negative): for a positive
        # start these are end > 2 x start and end > 10 x best
        if end - start > abs(start) + 1e-9:
            return f"diverges: loss {start:.4g} at the start, {end:.4g} at the end"
        if end - best > 9.0 * abs(best) + 1e-9:
            return f"diverges: loss back up to {end:.4g} after reaching {best:.4g}"
        return None


#: True while the scenario runs from a copy of its source with the fix's line edited.
SOURCE_EDITED: contextvars.ContextVar[bool] = contextvars.ContextVar("source_edited", default=False)
_SNIPPET_LINE = re.compile(r"(.*)  # at (\S+):(\d+)(?: \(replaces lines (\d+)-(\d+)\))?")


def is_code_change(fix: Fix) -> bool:
    return "edit" in fix.params


def edited_build(fix: Fix, build: Any) -> Any:
    """``build`` taken from a copy of its module in which each line the snippet shows (one per
    edited statement, as a user would type them) replaces the line it names; one of them is
    the fix's own ``where``. NotApplicable when the snippet is not lines of that module."""
    where = str(fix.params.get("where") or "")
    # a batch tensor's map shown above the edited lines (labels onto [0, 1]) is applied to the
    # batches by transform_batches, from the same params the snippet line was written from
    lines = [line for line in fix.snippet.splitlines() if line != fix.params.get("batch_line")]
    matches = [_SNIPPET_LINE.fullmatch(line) for line in lines]
    if not matches or not all(matches) or ":" not in where:
        raise NotApplicable(f"the snippet is not edited lines: {fix.snippet!r}")
    file, line = where.rsplit(":", 1)
    named = {(m.group(2), int(m.group(3))) for m in matches}
    if (os.path.basename(file), int(line)) not in named:
        raise NotApplicable(f"the snippet names {sorted(named)}, not {where}")
    if len({name for name, _ in named}) != 1:
        raise NotApplicable(f"the snippet edits more than one file: {sorted(named)}")
    module = inspect.getmodule(build)
    if module is None or os.path.abspath(module.__file__ or "") != os.path.abspath(file):
        raise NotApplicable(f"the edited line {where} is not in the scenario's own module")
    lines = open(file, encoding="utf-8").read().splitlines(keepends=True)
    for match in sorted(matches, key=lambda m: -int(m.group(3))):  # bottom up: rows stay put
        first = int(match.group(4) or match.group(3))
        last = int(match.group(5) or match.group(3))
        old = lines[first - 1]
        lines[first - 1 : last] = [old[: len(old) - len(old.lstrip())] + match.group(1) + "\n"]
        if last > first:  # keep the line numbers of the rest of the file
            lines[first:first] = ["\n"] * (last - first)
    folder = tempfile.mkdtemp(prefix="nantrace-edited-")
    # the edited module's source is read back (call sites, tracebacks) while it runs: removed
    # when the process ends, not before
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    name = f"edited_{module.__name__}_{abs(hash((fix.snippet, where)))}"
    path = os.path.join(folder, f"{name}.py")
    with open(path, "w", encoding="utf-8") as out:
        out.write("".join(lines))
    spec = importlib.util.spec_from_file_location(name, path)
    copy = importlib.util.module_from_spec(spec)
    sys.modules[name] = copy
    spec.loader.exec_module(copy)
    setup = getattr(build, "setup", None)  # scenario_codefix: a setup trained by _watched
    if setup is not None:
        return copy._watched(getattr(copy, setup.__name__))
    return getattr(copy, build.__name__)


@contextlib.contextmanager
def applying(fix: Fix) -> Iterator[None]:
    token = APPLIED_FIX.set(fix)
    try:
        yield
    finally:
        APPLIED_FIX.reset(token)


# ---------------------------------------------------------------------------------------------
# batches
# ---------------------------------------------------------------------------------------------
def argument_names(step_fn: Any, count: int) -> list[str]:
    """Names of the positional arguments, from the signature (``args[i]`` past its end)."""
    try:
        params = [
            p.name
            for p in inspect.signature(step_fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"args[{i}]" for i in range(count)]


def _locate(path: str, names: list[str]) -> tuple[int, list[Any]]:
    match = re.fullmatch(r"(\w+)((?:\[[^\]]+\])*)", path.strip())
    if match is None:
        raise NotApplicable(f"tensor path {path!r}")
    base = match.group(1)
    keys: list[Any] = []
    for raw in re.findall(r"\[([^\]]+)\]", match.group(2)):
        keys.append(raw.strip("'\"") if raw[0] in "'\"" else int(raw))
    if base == "args" and keys and isinstance(keys[0], int) and f"args[{keys[0]}]" in names:
        return names.index(f"args[{keys[0]}]"), keys[1:]
    if base in names:
        return names.index(base), keys
    if base == "args" and keys and isinstance(keys[0], int):
        return keys[0], keys[1:]
    raise NotApplicable(f"no argument {path!r} among {names}")


def _get(value: Any, keys: list[Any]) -> Any:
    for key in keys:
        value = value[key]
    return value


def _set(value: Any, keys: list[Any], new: Any) -> Any:
    if not keys:
        return new
    if isinstance(value, dict):
        out = dict(value)
        out[keys[0]] = _set(value[keys[0]], keys[1:], new)
        return out
    items = list(value)
    items[keys[0]] = _set(items[keys[0]], keys[1:], new)
    return tuple(items) if isinstance(value, tuple) else items


def _filter_rows(batch: tuple, keep: np.ndarray) -> tuple:
    size = keep.shape[0]
    index = np.nonzero(keep)[0]

    def take(leaf: Any) -> Any:
        shape = getattr(leaf, "shape", None)
        if shape is None or len(shape) == 0 or shape[0] != size:
            return leaf
        return tf.gather(leaf, index)

    return tf.nest.map_structure(take, batch)


def transform_batches(fix: Fix, batches: list[tuple], names: list[str]) -> list[tuple]:
    params = fix.params
    if fix.id == "clean_input":
        position, keys = _locate(params["tensor"], names)
        mode = params.get("mode", "drop_rows")
        every = [_locate(t, names) for t in params.get("tensors") or [params["tensor"]]]
        out = []
        for batch in batches:
            array = np.asarray(_get(batch[position], keys))
            if mode == "impute":  # x = tf.where(tf.math.is_finite(x), x, 0.0), each tensor
                for where, at in every:
                    values = np.asarray(_get(batch[where], at))
                    fixed = np.where(np.isfinite(values), values, params.get("value", 0.0))
                    new = tf.constant(fixed.astype(values.dtype))
                    batch = tuple(_set(list(batch), [where, *at], new))
                out.append(batch)
                continue
            if mode == "missing_code":  # x = tf.where(tf.equal(x, code), value, x)
                tensor = tf.constant(array)
                code = tf.constant(params["code"], tensor.dtype)
                value = tf.constant(params["value"], tensor.dtype)
                new = tf.where(tf.equal(tensor, code), value, tensor)
                out.append(tuple(_set(list(batch), [position, *keys], new)))
                continue
            if mode == "clip_negative":  # w = tf.maximum(w, 0.0)
                new = tf.maximum(tf.constant(array), tf.constant(0.0, array.dtype))
                out.append(tuple(_set(list(batch), [position, *keys], new)))
                continue
            if mode == "drop_padding":  # tf.reduce_any(tf.not_equal(x, value))
                keep = (array.reshape(array.shape[0], -1) != params.get("value", 0.0)).any(axis=1)
            elif mode == "drop_code":  # tf.reduce_all(tf.not_equal(y, code))
                keep = (array.reshape(array.shape[0], -1) != params["code"]).all(axis=1)
            elif mode != "drop_rows":
                raise NotApplicable(f"clean_input mode {mode!r}")
            else:  # tf.reduce_all(tf.math.is_finite(x)) & ... for each tensor
                keep = np.ones(array.shape[0], dtype=bool)
                for where, at in every:
                    values = np.asarray(_get(batch[where], at))
                    keep &= np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
            if keep.all():
                out.append(batch)
            elif keep.any():
                out.append(_filter_rows(batch, keep))
        return out
    if fix.id == "clamp_argument" and params.get("mode") == "clip_batch":
        # y = tf.clip_by_value(y, low, high) (tf.maximum(y, low) without a high bound)
        def clip(value: Any) -> Any:
            value = tf.convert_to_tensor(value)
            low = tf.constant(params["min"], value.dtype)
            if params.get("max") is None:
                return tf.maximum(value, low)
            return tf.clip_by_value(value, low, tf.constant(params["max"], value.dtype))

        return _map_tensor(batches, _locate(params["tensor"], names), clip)
    if fix.id == "rescale_input" and params.get("mode") == "normalization_not_inverted":
        return batches  # a layer built differently (normalization_built_without_invert)
    if fix.id == "rescale_input" and params.get("mode") == "normalization_readapted":
        return batches  # the layer adapted again (train_with_fix), the data as it is
    if fix.id in ("rescale_input", "rescale_target"):
        default = names[0] if fix.id == "rescale_input" else names[1]
        scale = np.asarray(params["scale"], dtype=np.float64)  # one factor, or one a column
        shift = float(params.get("shift") or 0.0)  # labels mapped onto [0, 1]
        return _map_tensor(
            batches,
            _locate(params.get("tensor") or default, names),
            lambda value: tf.cast((tf.cast(value, tf.float64) - shift) * scale, value.dtype),
        )
    return batches


def _map_tensor(batches: list[tuple], located: tuple[int, list[Any]], fn: Any) -> list[tuple]:
    """Every batch with the tensor at ``located`` (``_locate``'s position and keys) replaced by
    ``fn(tensor)``."""
    position, keys = located
    return [tuple(_set(list(b), [position, *keys], fn(_get(b[position], keys)))) for b in batches]


# ---------------------------------------------------------------------------------------------
# model and optimizer
# ---------------------------------------------------------------------------------------------
def _inner(optimizer: Any) -> Any:
    return getattr(optimizer, "inner_optimizer", optimizer)


def find_layer(model: Any, path: str) -> Any:
    """The layer at ``model_name/layer/sublayer``."""
    if model is None:  # a scenario that trains several models passes none to run_loop
        raise NotApplicable(f"layer {path}: the scenario names no model to find it in")
    parts = path.split("/")
    if parts and parts[0] == model.name:
        parts = parts[1:]
    current = model
    for part in parts:
        children = list(getattr(current, "layers", None) or [])
        children += [
            v for v in vars(current).values() if isinstance(v, keras.layers.Layer)
        ]  # sublayers held as attributes (cells, wrapped layers)
        match = next((c for c in children if c.name == part), None)
        if match is None:
            raise NotApplicable(f"layer {path} not found")
        current = match
    return current


def configure(fix: Fix, model: Any, optimizer: Any) -> None:
    params = fix.params
    if fix.id == "lower_learning_rate" and params.get("schedule"):
        if optimizer is None:
            raise NotApplicable("no optimizer")
        # the snippet's constructor line: the same schedule class with the config it shows
        inner = _inner(optimizer)
        schedule_class = type(inner._learning_rate)
        if schedule_class.__name__ != params["schedule"]:
            raise NotApplicable(f"the optimizer's schedule is not a {params['schedule']}")
        inner._learning_rate = schedule_class.from_config(dict(params["schedule_config"]))
    elif fix.id == "lower_learning_rate":
        if optimizer is None:
            raise NotApplicable("no optimizer")
        _inner(optimizer).learning_rate = float(params["suggested"])
    elif fix.id == "clip_gradients":
        if optimizer is None:
            raise NotApplicable("no optimizer")
        inner = _inner(optimizer)
        inner.clipnorm, inner.clipvalue = None, None
        inner.global_clipnorm = float(params["clipnorm"])
    elif fix.id == "change_initializer" and params.get("variable"):  # add_weight(initializer=)
        initializer = (
            keras.initializers.Constant(float(params["constant"]))  # Constant(v) in the snippet
            if params.get("constant") is not None
            else keras.initializers.get(params["suggested"])
        )
        weights = [w for w in model.weights if w.path.split(":")[0] == params["variable"]]
        if not weights:
            raise NotApplicable(f"weight {params['variable']} not found")
        weights[0].assign(initializer(tuple(weights[0].shape), dtype=weights[0].dtype))
    elif fix.id == "change_initializer":
        initializer = keras.initializers.get(params["suggested"])
        for path in params.get("layers") or [params["layer"]]:
            layer = find_layer(model, path)
            kernel = getattr(layer, "kernel", None)
            if kernel is None:
                kernel = getattr(layer, "embeddings", None)
            if kernel is None:
                raise NotApplicable(f"{path} has no kernel")
            kernel.assign(initializer(tuple(kernel.shape), dtype=kernel.dtype))
    elif fix.id == "float32_layer":  # dtype="float32" on that layer (its variables: float32)
        for path in params.get("layers") or [params["layer"]]:
            layer = find_layer(model, path)
            layer.dtype_policy = "float32"
            if hasattr(layer, "finalize_state"):  # built with float32: adapt()'s constants too
                layer.finalize_state()
    elif fix.id == "positive_output" or params.get("mode") in ("sigmoid_output", "softmax_output"):
        # activation="softplus" (or the head's "sigmoid") at that layer's construction
        find_layer(model, params["layer"]).activation = keras.activations.get(params["activation"])
    elif fix.id == "add_normalization" and params.get("mode") == "unit_norm":
        # keras.layers.UnitNormalization() after each layer: that layer called on its output
        for path in params["after"]:
            layer = find_layer(model, path)
            norm = keras.layers.UnitNormalization(axis=-1)
            layer.activation = lambda x, a=layer.activation, n=norm: n(a(x))
    elif is_code_change(fix):
        if not SOURCE_EDITED.get():
            raise NotApplicable("a code change: build the scenario with edited_build")
    elif fix.id == "use_from_logits" and params.get("mode") == "loss_from_logits":
        if not SOURCE_EDITED.get():
            raise NotApplicable("build the scenario inside loss_built_from_logits")
    elif fix.id == "rescale_input" and params.get("mode") == "rescaling_layer":
        find_layer(model, params["layer"]).scale = float(params["scale"])  # Rescaling(scale=)
    elif fix.id == "rescale_input" and params.get("mode") == "normalization_not_inverted":
        if not SOURCE_EDITED.get():
            raise NotApplicable("build the scenario inside normalization_built_without_invert")
    elif fix.id == "add_epsilon":
        target = params.get("target")
        if target and target.startswith("optimizer."):  # Optimizer(..., <setting>=value)
            setattr(_inner(optimizer), target.removeprefix("optimizer."), float(params["epsilon"]))
        elif target == "layer.epsilon":
            find_layer(model, params["layer"]).epsilon = float(params["epsilon"])
        else:
            raise NotApplicable("an epsilon inside user code")
    elif fix.id == "clamp_argument" and params.get("mode") == "clip_batch":
        pass  # a batch transform (transform_batches)
    elif fix.id not in ("clean_input", "rescale_input", "rescale_target"):
        raise NotApplicable(fix.id)


def _mean(value: Any) -> float:
    leaves = [np.asarray(v, dtype=np.float64) for v in tf.nest.flatten(value)]
    leaves = [v for v in leaves if v.size]
    return float(np.mean(leaves[0])) if leaves else float("nan")


def train_with_fix(
    step_fn: Any, batches: list[tuple], fix: Fix, *, compiled: bool, model: Any, optimizer: Any
) -> TrainResult:
    """Apply ``fix`` to this fresh run and train unwatched over ``batches`` x EPOCHS."""
    batches = [tuple(b) for b in batches]
    names = argument_names(step_fn, len(batches[0]) if batches else 0)
    batches = transform_batches(fix, batches, names)
    configure(fix, model, optimizer)
    if fix.id == "rescale_input" and fix.params.get("mode") == "normalization_readapted":
        # `layer.adapt(training_features)` as the snippet says: every batch of that tensor
        located = _locate(str(fix.params["tensor"]), names)
        rows = [np.asarray(_get(batch[located[0]], located[1])) for batch in batches]
        layer = find_layer(model, str(fix.params["layer"]))
        data = np.concatenate([r.reshape(-1, r.shape[-1]) for r in rows], axis=0)
        if getattr(layer, "input_mean", None) is not None:
            # built with mean= / variance=: the snippet's Normalization(mean=features.mean(0),
            # variance=features.var(0)) on the same rows
            shape = layer._broadcast_shape
            layer.mean = tf.constant(data.mean(axis=0).astype("float32").reshape(shape))
            layer.variance = tf.constant(data.var(axis=0).astype("float32").reshape(shape))
        else:
            layer.adapt(data)
    result = TrainResult(batches=len(batches), steps_planned=len(batches) * EPOCHS)
    fn = tf.function(step_fn) if compiled else step_fn
    for _ in range(EPOCHS):
        for batch in batches:
            loss = _mean(fn(*batch))
            result.losses.append(loss)
            if not np.isfinite(loss):
                break
        if result.losses and not np.isfinite(result.losses[-1]):
            break
    variables = list(getattr(model, "weights", [])) if model is not None else []
    result.weights_finite = all(np.isfinite(np.asarray(v)).all() for v in variables)
    return result


@contextlib.contextmanager
def loss_built_from_logits(name: str) -> Iterator[None]:
    """``keras.losses.<name>(..., from_logits=True)`` as typed: while the scenario builds, its
    loss of that class is constructed with from_logits=True whatever its code passes."""
    cls = getattr(keras.losses, name)
    original = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["from_logits"] = True
        original(self, *args, **kwargs)

    cls.__init__ = init
    token = SOURCE_EDITED.set(True)
    try:
        yield
    finally:
        SOURCE_EDITED.reset(token)
        cls.__init__ = original


@contextlib.contextmanager
def normalization_built_without_invert(name: str) -> Iterator[None]:
    """``keras.layers.Normalization(name=...)`` without ``invert=True``, as typed: while the
    scenario builds, the Normalization layer of that name is constructed with invert=False."""
    cls = keras.layers.Normalization
    original = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("name") == name:
            kwargs["invert"] = False
        original(self, *args, **kwargs)

    cls.__init__ = init
    token = SOURCE_EDITED.set(True)
    try:
        yield
    finally:
        SOURCE_EDITED.reset(token)
        cls.__init__ = original


def verified_fix_problems(scenario: Any, report: Any) -> list[str]:
    """Each fix ``report`` marks verified, applied to a fresh run of ``scenario`` as its snippet
    says (a code change typed into a copy of the scenario's source) and trained unwatched over
    its batches cycled EPOCHS times: what went wrong, one line a fix (empty: all trained)."""
    problems = []
    for fix in [f for f in report.fixes if f.verified]:
        with applying(fix):
            try:
                if is_code_change(fix):
                    build = edited_build(fix, scenario.build)
                    token = SOURCE_EDITED.set(True)
                    try:
                        result = build()
                    finally:
                        SOURCE_EDITED.reset(token)
                elif fix.id == "use_from_logits" and fix.params.get("mode") == "loss_from_logits":
                    with loss_built_from_logits(str(fix.params["loss"])):
                        result = scenario.build()
                elif fix.params.get("mode") == "normalization_not_inverted":
                    name = str(fix.params["layer"]).split("/")[-1]
                    with normalization_built_without_invert(name):
                        result = scenario.build()
                else:
                    result = scenario.build()
            except NotApplicable as error:
                problems.append(
                    f"{fix.id}: verified but not applicable as its snippet says: {error}"
                )
                continue
        trouble = result.trouble()
        if trouble:
            problems.append(f"{fix.id} {fix.params.get('verification')!r}: {trouble}")
    return problems
