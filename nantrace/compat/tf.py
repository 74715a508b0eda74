"""Every use of TensorFlow/Keras internals lives here, so a TF upgrade touches one file.

What we rely on, and why:

* ``op_callbacks`` — the per-op hook that ``tf.debugging.enable_check_numerics`` uses. We use it
  only during *replay* (never on the hot path) to see every executed op with its tensors.
* ``BaseResourceVariable`` write methods — patched while a watched step is traced or replayed, so
  nantrace learns which variables a step writes without being told (bare ``@watch``).
* ``tf.function`` attributes (``python_function``, ``_jit_compile``, ...) — to re-wrap the user's
  function with the same compile options but with the guard traced in.
* the ``_lower_using_switch_merge`` attribute of an ``If`` op — to keep the guard's exact check
  one op instead of a ``Switch`` per tensor (``unlowered_cond``).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2 as _attr_value_pb2
from tensorflow.python.framework import op_callbacks as _op_callbacks
from tensorflow.python.ops import resource_variable_ops as _rvo

BaseResourceVariable = _rvo.BaseResourceVariable


def variable_classes() -> list[type]:
    """BaseResourceVariable and its subclasses: TF copies write methods onto some of them
    (``ResourceVariable.assign_add`` is its own function object), so each must be patched."""
    found: list[type] = []
    pending: list[type] = [BaseResourceVariable]
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


#: Methods of ``BaseResourceVariable`` that change its value in place.
VARIABLE_WRITE_METHODS: tuple[str, ...] = (
    "assign",
    "assign_add",
    "assign_sub",
    "scatter_add",
    "scatter_sub",
    "scatter_mul",
    "scatter_div",
    "scatter_min",
    "scatter_max",
    "scatter_update",
    "batch_scatter_update",
    "scatter_nd_add",
    "scatter_nd_sub",
    "scatter_nd_update",
    "scatter_nd_max",
    "scatter_nd_min",
)

#: Op types that write a resource variable (eager replay sees these with no output tensor).
VARIABLE_WRITE_OPS: frozenset[str] = frozenset(
    {
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "ResourceScatterAdd",
        "ResourceScatterSub",
        "ResourceScatterMul",
        "ResourceScatterDiv",
        "ResourceScatterMin",
        "ResourceScatterMax",
        "ResourceScatterUpdate",
        "ResourceScatterNdAdd",
        "ResourceScatterNdSub",
        "ResourceScatterNdUpdate",
        "ResourceScatterNdMax",
        "ResourceScatterNdMin",
    }
    # The fused updates of Keras 2 (``tf_keras.optimizers.legacy``) optimizers: one kernel
    # writes the variable (and its slots); input 0 is the variable's handle.
    | {
        name
        for name in dir(tf.raw_ops)
        if name.startswith(("ResourceApply", "ResourceSparseApply"))
    }
)


#: Where Keras (3, and tf_keras) keeps the code that builds ops on a user's behalf: layers,
#: models, losses, trainers, optimizers, metrics (file-path fragments; Keras's own layout).
KERAS_BUILDS_OPS_IN = (
    "/keras/src/layers/",
    "/keras/src/models/",
    "/keras/src/losses/",
    "/keras/src/trainers/",
    "/keras/src/optimizers/",
    "/keras/src/metrics/",
    "/keras/src/ops/operation.py",
    "/tf_keras/",
)


def trackable_object_graph(serialized: bytes) -> Any:
    """A TF2 checkpoint's object graph: the proto TF stores under ``_CHECKPOINTABLE_OBJECT_GRAPH``
    (read by ``nantrace scan`` to name variables and tell optimizer slots from weights)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(serialized)
    return graph


def is_tf_function(fn: Any) -> bool:
    """True for objects made by ``tf.function`` (polymorphic functions)."""
    return hasattr(fn, "python_function") and hasattr(fn, "get_concrete_function")


def tf_function_options(fn: Any) -> dict[str, Any]:
    """The options needed to re-create ``fn`` as a tf.function around a new body."""
    options: dict[str, Any] = {}
    jit = getattr(fn, "_jit_compile", None)
    if jit is not None:
        options["jit_compile"] = jit
    signature = getattr(fn, "input_signature", None)
    if signature is not None:
        options["input_signature"] = signature
    reduce_retracing = getattr(fn, "_reduce_retracing", None)
    if reduce_retracing is not None:
        options["reduce_retracing"] = reduce_retracing
    return options


def tf_function_uses_autograph(fn: Any) -> bool:
    return bool(getattr(fn, "_autograph", True))


def inside_graph() -> bool:
    """True while tracing a tf.function / building a graph (not executing eagerly)."""
    return not tf.executing_eagerly()


def current_graph() -> Any:
    return tf.compat.v1.get_default_graph()


@contextlib.contextmanager
def in_graph(graph: Any) -> Iterator[None]:
    """Build ops in ``graph`` even while a nested branch/body graph is being traced.

    Used to read a variable's pre-step value in the step's outermost graph when its first
    write happens inside a ``tf.cond`` branch or ``while`` body, whose tensors cannot leave it.
    """
    if graph is None:
        with tf.init_scope():
            yield
        return
    with graph.as_default():
        yield


@contextlib.contextmanager
def op_callback(callback: Callable[..., Any]) -> Iterator[None]:
    """Install a TF op callback (the check_numerics mechanism) for the duration of the block."""
    _op_callbacks.add_op_callback(callback)
    try:
        yield
    finally:
        _op_callbacks.remove_op_callback(callback)


@contextlib.contextmanager
def functions_run_eagerly() -> Iterator[None]:
    """Run every tf.function eagerly, so replay sees each op with concrete values."""
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(previous)


@contextlib.contextmanager
def keras_safe_mode() -> Iterator[None]:
    """Keras safe-mode deserialization, even where the process called
    ``keras.config.enable_unsafe_deserialization()`` (whose global flag would otherwise win over
    ``safe_mode=True``): a crash bundle's model.json never brings Python code with it."""
    from keras.src.saving import serialization_lib

    with serialization_lib.SafeModeScope(True):
        yield


@contextlib.contextmanager
def gradient_functions_observed(observe: Callable[[str, Any, Any], Any]) -> Iterator[None]:
    """Wrap eager backprop's per-op gradient function: ``observe(op_type, inputs, outputs)``
    returns a context entered while the gradient of that forward op runs.

    Eager ops carry no name scope in the backward pass; this is how replay learns which
    forward op (and so which layer) each backward op belongs to.
    """
    from tensorflow.python import pywrap_tfe
    from tensorflow.python.eager import backprop

    original = backprop._gradient_function

    def wrapped(op_name, attr_tuple, num_inputs, inputs, outputs, out_grads, skip, scope):
        with observe(op_name, inputs, outputs):
            return original(
                op_name, attr_tuple, num_inputs, inputs, outputs, out_grads, skip, scope
            )

    pywrap_tfe.TFE_Py_RegisterGradientFunction(wrapped)
    try:
        yield
    finally:
        pywrap_tfe.TFE_Py_RegisterGradientFunction(original)


def outer_tape_recording(tape: Any) -> bool:
    """True while a gradient tape other than ``tape`` records: ``tape.gradient`` was called
    inside another tape's block (a gradient penalty, a second-order term), so what follows is
    still part of that outer forward pass. A tape that records itself (``gradient`` called in
    its own block) cannot be told from an outer one: False then, as for no tape."""
    try:
        from tensorflow.python.eager import record

        return bool(record.could_possibly_record()) and not getattr(tape, "_recording", False)
    except (ImportError, AttributeError):
        return False


def op_type_name(op_type: Any) -> str:
    return op_type.decode() if isinstance(op_type, bytes) else str(op_type)


def as_tf_variable(variable: Any) -> tf.Variable | None:
    """The underlying ``tf.Variable`` of a tf or Keras 3 variable."""
    if isinstance(variable, tf.Variable):
        return variable
    inner = getattr(variable, "_value", None)
    if isinstance(inner, tf.Variable):
        return inner
    return None


def trained_by_layer(layer: Any, variable: Any) -> bool | None:
    """Whether ``layer`` trains ``variable`` (one of its trainable weights), False when it
    holds it as a non-trainable weight (a frozen layer, ``trainable=False``), None when the
    layer does not hold it. A Keras 3 variable's own ``trainable`` flag is not the
    ``tf.Variable``'s, which stays True."""
    target = as_tf_variable(variable)
    if target is None:
        return None
    for weights, trained in (("trainable_weights", True), ("non_trainable_weights", False)):
        for weight in getattr(layer, weights, None) or ():
            if as_tf_variable(weight) is target:
                return trained
    return None


def is_default_strategy(strategy: Any) -> bool:
    """True when no tf.distribute strategy is in use (the default, single-device one)."""
    return strategy is None or type(strategy).__name__ == "_DefaultDistributionStrategy"


def host_view(tensor: Any) -> Any:
    """The tensor's value as a read-only NumPy array that shares its buffer where TensorFlow
    can (a CPU tensor), else a host copy. ``numpy()`` copies: ``_numpy()`` is the array it
    copies from. Safe to keep: a variable whose buffer a kept view still references is copied
    on its next write (TensorFlow's copy-on-write), so the view keeps the value as read."""
    value = tensor._numpy() if hasattr(tensor, "_numpy") else tensor.numpy()
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def own_function(fn: Any, **options: Any) -> Any:
    """``tf.function(fn, **options)`` whose traces TensorFlow counts for it alone.
    TensorFlow keys its "N out of the last M calls to <function> triggered tf.function
    retracing" warning by the Python code object, and nantrace wraps the same closures and
    methods once per watched step: many watched steps in one process (a notebook re-running
    its cell, a sweep) would add up and warn, though each traced once. A ``functools.partial``
    has no code object, so TensorFlow keys it by itself."""
    return tf.function(functools.partial(fn), **options)


def unlowered_cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """``tf.cond(pred, true_fn, false_fn)`` kept as one ``If`` op in a graph.

    Inside a ``tf.function`` TensorFlow lowers a cond to a ``Switch`` op per tensor a branch
    reads and a ``Merge`` per output, each scheduled by the executor on every call: a cond
    whose rarely taken branch reads every gradient and weight (the guard's exact check) cost
    ~3 % of a short attention step on every step on the 2-vCPU test machine (``python -m
    bench.parts tail``, variant ``cond lowered``). Kept whole, it is one kernel that waits for
    its inputs and runs the chosen branch. Eagerly (or inside XLA, which never lowers) it is
    ``tf.cond`` itself."""
    out = tf.cond(pred, true_fn, false_fn)
    if tf.executing_eagerly():
        return out
    first = tf.nest.flatten(out)[0]
    op = first.op.inputs[0].op if first.op.type == "Identity" and first.op.inputs else first.op
    if op.type in ("If", "StatelessIf"):
        op._set_attr("_lower_using_switch_merge", _attr_value_pb2.AttrValue(b=False))
    return out


class DirectCalls:
    """Calls of one ``tf.function`` whose arguments are eager tensors (or tuples or lists of
    them: a Keras batch ``(x, y)``), passed by position, straight to the concrete function it
    traced for their structure, dtypes and shapes.

    ``tf.function``'s own dispatch binds the arguments to the signature, canonicalizes and
    hashes the types of the arguments and of every captured variable and looks the concrete
    function up, every call: ~0.4 ms of Python on the 2-vCPU test machine (``python -m
    bench.parts dispatch``), more than the guard's own work on a short step. The concrete
    function is the one ``tf.function`` would call (asked with ``get_concrete_function`` after
    the first call of each signature traced it), called as ``tf.function`` calls it
    (``_call_flat`` with its captures), with the flat inputs ``tf.function`` computes for
    these arguments (checked at that first call). Any other call (keyword, non-tensor or
    deeper nested arguments, a tf.distribute strategy in scope,
    ``tf.config.run_functions_eagerly``) goes through ``tf.function`` unchanged.
    """

    def __init__(self, function: Any) -> None:
        self.function = function
        #: the arguments' structure, dtypes and shapes -> the concrete function, or None where
        #: the arguments' tensors are not exactly its flat inputs (defaults, bound tensors)
        self._concrete: dict[tuple, Any] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat_and_key = None if kwargs else _tensors_and_key(args)
        if (
            flat_and_key is None
            or tf.config.functions_run_eagerly()
            or tf.distribute.has_strategy()
        ):
            return self.function(*args, **kwargs)
        flat, key = flat_and_key
        if key not in self._concrete:
            result = self.function(*args)  # traces if this signature is new
            self._concrete[key] = _concrete_taking(self.function, args, flat)
            return result
        concrete = self._concrete[key]
        if concrete is None:
            return self.function(*args)
        return concrete._call_flat(flat, concrete.captured_inputs)

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> Any:
        return self.function.get_concrete_function(*args, **kwargs)

    def experimental_get_tracing_count(self) -> int:
        return int(self.function.experimental_get_tracing_count())


_EagerTensor = type(tf.constant(0))


def eager_leaves(values: Any) -> list[Any] | None:
    """The leaves of ``values`` (a nest) when every one is an eager tensor, else None: a batch
    of tensors only needs no per-leaf ``isinstance`` checks (each against an abstract TF type
    costs ~10 us)."""
    leaves = tf.nest.flatten(values)
    return leaves if all(type(leaf) is _EagerTensor for leaf in leaves) else None


def _tensors_and_key(args: tuple) -> tuple[list, tuple] | None:
    """The eager tensors of ``args`` in order and a key of their structure, dtypes and shapes;
    None unless each argument is an eager tensor or a (non-empty) tuple or list of them."""
    if not args:
        return None
    flat: list = []
    key: list = []
    for arg in args:
        if type(arg) is _EagerTensor:
            flat.append(arg)
            key.append((arg._datatype_enum(), arg._shape_tuple()))
        elif type(arg) in (tuple, list) and arg and all(type(a) is _EagerTensor for a in arg):
            flat.extend(arg)
            key.append((type(arg), tuple((a._datatype_enum(), a._shape_tuple()) for a in arg)))
        else:
            return None
    return flat, tuple(key)


def _concrete_taking(function: Any, args: tuple, flat: list) -> Any:
    """The concrete function ``function(*args)`` runs, if its flat inputs for ``args`` are
    exactly the tensors ``flat``, in order (as ``tf.function`` itself computes them), else
    None."""
    try:
        concrete = function.get_concrete_function(*args)
        inputs = concrete.function_type.unpack_inputs(concrete.function_type.bind(*args))
    except Exception:  # any doubt: keep tf.function's own dispatch for these arguments
        return None
    if len(inputs) != len(flat) or any(i is not f for i, f in zip(inputs, flat, strict=True)):
        return None
    return concrete


@functools.cache
def xla_compiles() -> bool:
    """Whether this TensorFlow build compiles a ``jit_compile=True`` function on the default
    device (not every build or device plugin can); probed once per process, eagerly."""
    try:
        with tf.init_scope():
            probe = tf.function(lambda x: x * 2.0 + 1.0, jit_compile=True, autograph=False)
            return bool(probe(tf.constant(1.0)).numpy() == 3.0)
    except Exception:  # any failure means "no": the caller falls back to plain ops
        return False


def replica_values(value: Any) -> tuple[Any, ...] | None:
    """The per-replica components of a tf.distribute value (PerReplica, Mirrored), else None."""
    from tensorflow.python.distribute import values as _dist_values

    if isinstance(value, _dist_values.DistributedValues):
        return tuple(value.values)
    return None


# ---------------------------------------------------------------------------------------------
# graph-op creation, for simulating an edit at the user's call site
# (``nantrace.diagnosis.call_site``)
# ---------------------------------------------------------------------------------------------
#: While a function is traced, every raw-op wrapper (``gen_*_ops.log`` behind ``tf.math.log``,
#: ``Tensor.__truediv__``, ``keras.ops.*`` ...) builds its op through
#: ``op_def_library._apply_op_helper(op_type, name=..., **inputs)``, whatever public API the
#: user called; the wrapper then records the op on the active GradientTape under that op type.
OpBuilder = Callable[..., tuple]


def built_by_gradient_tape(op: Any) -> bool:
    """Whether a graph op belongs to a backward pass: ``tf.GradientTape.gradient`` builds its
    ops in the ``gradient_tape`` name scope (a SqrtGrad, the Mul of a product's gradient)."""
    return "gradient_tape/" in getattr(op, "name", "")


@contextlib.contextmanager
def intercept_graph_ops(rewrite: Callable[[OpBuilder, str, dict], tuple | None]) -> Iterator[None]:
    """Route every graph op built while active through ``rewrite(build, op_type, inputs)``.

    ``rewrite`` returns None to build the op unchanged, or the helper's result tuple
    ``(structure, stateful, op, outputs)`` of what it built instead (with ``build``, the
    original helper, for ops of its own)."""
    from tensorflow.python.eager import execute
    from tensorflow.python.framework import op_def_library

    original = op_def_library._apply_op_helper
    must_record = execute.must_record_gradient

    def helper(op_type_name: str, name: Any = None, **keywords: Any) -> tuple:
        result = rewrite(original, op_type_name, keywords)
        if result is None:
            return original(op_type_name, name=name, **keywords)
        return result

    op_def_library._apply_op_helper = helper
    try:
        yield
    finally:
        op_def_library._apply_op_helper = original
        execute.must_record_gradient = must_record  # a skip that was never consumed


def built_outputs(tensor: tf.Tensor) -> tuple:
    """A helper result tuple that hands ``tensor`` (built by other ops, each taped with its own
    gradient) to the op wrapper in place of the op it asked for; the wrapper's own tape record
    (which would give ``tensor`` the gradient of the replaced op type) is skipped once."""
    from tensorflow.python.eager import execute

    original = execute.must_record_gradient

    def once() -> bool:
        execute.must_record_gradient = original
        return False

    execute.must_record_gradient = once
    return (None, False, tensor.op, [tensor])


@contextlib.contextmanager
def autograph_source_maps() -> Iterator[dict[tuple[str, int], tuple[str, int]]]:
    """(generated file, line) -> (user file, line) for every function autograph converts
    (or finds in its cache) while active: frames of converted code name a temporary file."""
    from tensorflow.python.autograph.impl import api

    mapping: dict[tuple[str, int], tuple[str, int]] = {}
    transpiler = api._TRANSPILER
    original = transpiler.transform

    def transform(entity: Any, program_ctx: Any) -> Any:
        result = original(entity, program_ctx)
        try:
            for loc, origin in result[2].items():
                mapping[(loc.filename, loc.lineno)] = (origin.loc.filename, origin.loc.lineno)
        except (AttributeError, IndexError, TypeError):
            pass
        return result

    transpiler.transform = transform
    try:
        yield mapping
    finally:
        del transpiler.transform  # back to the class's method


# ---------------------------------------------------------------------------------------------
# Keras 2 (``tf_keras``), optimizers' variables, tf.data iterators
# ---------------------------------------------------------------------------------------------
def legacy_keras_patch_targets() -> list[tuple[type, str, str]] | None:
    """``(class, method, role)`` of ``tf_keras`` to observe, or None when the user has not
    imported ``tf_keras`` (nantrace never imports it: it is large and the user may not use it).

    Roles: ``apply`` (an optimizer's apply_gradients, v2 and legacy), ``fused`` (the legacy
    optimizer's ``_distributed_apply``, whose fused kernels write the variables and slots
    without a ``tf.Variable`` write method), ``layer`` and ``loss`` (``__call__``)."""
    if "tf_keras" not in sys.modules:
        return None
    try:
        from tf_keras.src.engine import base_layer
        from tf_keras.src.losses import Loss
        from tf_keras.src.optimizers import optimizer as optimizer_v2
        from tf_keras.src.optimizers.legacy import optimizer_v2 as legacy
    except ImportError:  # another tf_keras layout: nothing observed, as before
        return None
    return [
        (optimizer_v2._BaseOptimizer, "apply_gradients", "apply"),
        (optimizer_v2.Optimizer, "apply_gradients", "apply"),
        (legacy.OptimizerV2, "apply_gradients", "apply"),
        (legacy.OptimizerV2, "_distributed_apply", "fused"),
        (base_layer.Layer, "__call__", "layer"),
        (Loss, "__call__", "loss"),
    ]


def is_legacy_keras_model(model: Any) -> bool:
    """A ``tf_keras`` (Keras 2) model: its ``fit`` runs Keras 2 callbacks and train functions."""
    return any(cls.__module__.split(".")[0] == "tf_keras" for cls in type(model).__mro__)


def legacy_written_variables(optimizer: Any, variables: list[Any]) -> list[Any]:
    """The variables and slot variables a legacy (``OptimizerV2``) fused update writes."""
    written = list(variables)
    names = getattr(optimizer, "get_slot_names", lambda: [])()
    for variable in variables:
        for name in names:
            try:
                written.append(optimizer.get_slot(variable, name))
            except (KeyError, ValueError, AttributeError):
                continue
    return written


def optimizer_variables(optimizer: Any) -> list[Any]:
    """An optimizer's variables: a property in Keras 3 and tf_keras, a method in the legacy
    ``OptimizerV2``."""
    variables = getattr(optimizer, "variables", None)
    if callable(variables):
        try:
            variables = variables()
        except TypeError:
            return []
    try:
        return list(variables or [])
    except TypeError:
        return []


def iterator_classes() -> list[tuple[type, str]]:
    """``(class, method)`` that pull the next element of a ``tf.data`` iterator, eagerly or
    while a ``tf.function`` is traced (``next(it)``, ``it.get_next()``)."""
    from tensorflow.python.data.ops import iterator_ops

    found = []
    for cls in (iterator_ops.OwnedIterator,):
        for name in ("__next__", "get_next"):
            if name in vars(cls):
                found.append((cls, name))
    return found


def is_dataset_iterator(value: Any) -> bool:
    from tensorflow.python.data.ops import iterator_ops

    return isinstance(value, iterator_ops.OwnedIterator)


def batches_iterator(batches: list[Any]) -> Any:
    """A ``tf.data`` iterator that yields ``batches`` in order, then again from the first:
    stands in for the user's iterator when nantrace re-runs a step (replay, verification),
    so the user's own iterator is never advanced."""
    dataset = tf.data.Dataset.from_tensors(batches[0])
    for batch in batches[1:]:
        dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
    return iter(dataset.repeat())


def accumulator_slots(optimizer: Any) -> list[Any]:
    """The slots a Keras 3 optimizer fills with ``initial_accumulator_value`` when it builds
    (Adagrad's and Ftrl's accumulators); empty for an optimizer without them."""
    return list(getattr(optimizer, "_accumulators", None) or [])


def residual_branch_ends(layers: dict[str, Any]) -> list[str]:
    """The paths of the layers that end a residual branch in Keras functional models: for each
    two-input ``Add``, the input whose producer leads back, through single-input layers (at
    most 6), to the other input (``h + f(h)``); the producer must hold a kernel. Sequential and
    subclassed models have no such graph: []."""
    import keras

    path_of = {id(layer): path for path, layer in layers.items()}
    ends: list[str] = []
    for layer in layers.values():
        if not isinstance(layer, keras.layers.Add):
            continue
        try:
            inputs = list(layer.input)
        except (AttributeError, ValueError, TypeError):
            continue
        if len(inputs) != 2:
            continue
        for branch, skip in ((inputs[0], inputs[1]), (inputs[1], inputs[0])):
            producer = getattr(getattr(branch, "_keras_history", None), "operation", None)
            if producer is None or getattr(producer, "kernel", None) is None:
                continue
            current = producer
            for _ in range(6):
                try:
                    source = current.input
                except (AttributeError, ValueError, TypeError):
                    break
                if source is skip:
                    if id(producer) in path_of:
                        ends.append(path_of[id(producer)])
                    break
                current = getattr(getattr(source, "_keras_history", None), "operation", None)
                if current is None or isinstance(source, list | tuple):
                    break
    return ends


def initial_bias_constant(layer: Any) -> tuple[Any, float] | None:
    """``(bias variable, value)`` of a layer whose bias is initialized with a constant
    (``bias_initializer=keras.initializers.Constant(v)``), else None."""
    bias = getattr(layer, "bias", None)
    initializer = getattr(layer, "bias_initializer", None)
    if bias is None or initializer is None or not hasattr(initializer, "get_config"):
        return None
    try:
        value = initializer.get_config().get("value")
        return (bias, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def rederive_adapted_state(layer: Any) -> None:
    """Let a preprocessing layer re-derive what ``adapt()`` left it in its *current* compute
    dtype (``Normalization`` casts its float32 mean and variance to the compute dtype in
    ``finalize_state``): after its dtype policy changed, it holds what the layer built with
    that policy would hold. A layer without adapted state is left as it is."""
    finalize = getattr(layer, "finalize_state", None)
    if callable(finalize) and getattr(layer, "built", False):
        try:
            finalize()
        except Exception:  # not adapted, or a layer whose state cannot be re-derived
            pass


def is_inverted_normalization(layer: Any) -> bool:
    """A ``keras.layers.Normalization`` built with ``invert=True``: it computes mean + x * std,
    the inverse of a normalization (meant for turning predictions back into data units)."""
    import keras

    return isinstance(layer, keras.layers.Normalization) and bool(getattr(layer, "invert", False))


def has_normalization(layers: dict[str, Any]) -> bool:
    """Whether any layer normalizes its activations (BatchNormalization, LayerNormalization,
    GroupNormalization, UnitNormalization, RMS norm)."""
    return any("Normalization" in type(layer).__name__ for layer in layers.values())


def is_inner_sublayer(parent: Any, child: Any) -> bool:
    """``child`` is a layer Keras builds inside ``parent`` that the model's summary does not
    show: a recurrent layer's cell (or one of a stacked cell's cells), a ``Bidirectional``'s
    forward or backward copy of the layer it wraps."""
    cell = getattr(parent, "cell", None)
    if cell is not None and (cell is child or any(c is child for c in getattr(cell, "cells", ()))):
        return True
    return any(getattr(parent, name, None) is child for name in ("forward_layer", "backward_layer"))


def steps_a_cell(layer: Any) -> bool:
    """A layer that steps a recurrent cell: Keras' RNN layers (``layer.cell``) and custom
    layers that own a cell (a direct sublayer with a ``state_size``, Keras' cell protocol)
    and call it in their own loop over time."""
    if getattr(layer, "cell", None) is not None:
        return True
    # Keras 3 (and tf_keras) track a layer's direct sublayers in ``_layers``
    sublayers = getattr(layer, "_layers", None) or ()
    return any(sub is not layer and hasattr(sub, "state_size") for sub in sublayers)


def non_finite_initializer(layer: Any, variable: str) -> tuple[str, float] | None:
    """``(attribute, value)`` when ``layer``'s initializer for ``variable`` (``bias`` ->
    ``bias_initializer``, ``kernel`` -> ``kernel_initializer``, ...) is a Constant whose value
    holds NaN/Inf — computed from statistics that had a 0 in them (``log(pos / neg)`` with
    ``pos == 0``) — else None."""
    import numpy as np

    stem = variable.split(":")[0].rsplit("/", 1)[-1]
    initializer = getattr(layer, f"{stem}_initializer", None)
    get_config = getattr(initializer, "get_config", None)
    if get_config is None or "Constant" not in type(initializer).__name__:
        return None
    try:
        value = np.asarray(get_config().get("value"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if value.size == 0 or np.isfinite(value).all():
        return None
    bad = value[~np.isfinite(value)]
    return f"{stem}_initializer", float(bad.reshape(-1)[0])


#: config keys of Keras' learning-rate schedules that hold rates (not steps or fractions).
SCHEDULE_RATE_KEYS = ("initial_learning_rate", "end_learning_rate", "warmup_target", "values")


def learning_rate_schedule(optimizer: Any) -> Any:
    """The Keras ``LearningRateSchedule`` an optimizer was built with, or None."""
    from keras.optimizers.schedules import LearningRateSchedule

    schedule = getattr(optimizer, "_learning_rate", None)
    return schedule if isinstance(schedule, LearningRateSchedule) else None


def learning_rate_variable(optimizer: Any) -> tf.Variable | None:
    """The tf.Variable that holds an optimizer's learning rate (None for a schedule): what
    ``optimizer.learning_rate = x`` assigns, and a callback writes between steps."""
    if learning_rate_schedule(optimizer) is not None:
        return None
    return as_tf_variable(getattr(optimizer, "_learning_rate", None))


def scaled_schedule(schedule: Any, factor: float) -> tuple[Any, str, dict[str, Any]] | None:
    """The same Keras schedule with every rate in its config multiplied by ``factor``:
    ``(schedule, constructor line, config)``; None when its config names no rate (a custom
    schedule without ``get_config``, or one whose rates are not in ``SCHEDULE_RATE_KEYS``)."""
    try:
        config = dict(schedule.get_config())
    except (AttributeError, NotImplementedError, TypeError):
        return None
    scaled = False
    for key in SCHEDULE_RATE_KEYS:
        value = config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            config[key] = float(f"{float(value) * factor:.3g}")
            scaled = True
        elif isinstance(value, (list, tuple)) and value:
            config[key] = [float(f"{float(v) * factor:.3g}") for v in value]
            scaled = True
    if not scaled:
        return None
    rebuilt = _rebuilt_schedule(schedule, config)
    return None if rebuilt is None else (rebuilt, _schedule_line(schedule, config), config)


def _rebuilt_schedule(schedule: Any, config: dict[str, Any]) -> Any:
    """The schedule's class built from ``config``, or None when it refuses that config."""
    try:
        return type(schedule).from_config(config)
    except (TypeError, ValueError):
        return None


def _schedule_line(schedule: Any, config: dict[str, Any]) -> str:
    """The constructor line of a Keras schedule with ``config``."""
    shown = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name" and v is not None)
    module = "keras.optimizers.schedules." if type(schedule).__module__.startswith("keras") else ""
    return f"{module}{type(schedule).__name__}({shown})"


def decaying_schedule(schedule: Any) -> tuple[Any, str, dict[str, Any], str] | None:
    """A Keras schedule whose factor makes the rate grow without bound, rebuilt to decay by
    the same factor: ``(schedule, constructor line, config, what changed)``; None for any
    other schedule. ``ExponentialDecay`` multiplies the rate by ``decay_rate`` every
    ``decay_steps`` (``decay_rate=10`` read as "divide by 10" grows it 10x); ``InverseTimeDecay``
    divides it by ``1 + decay_rate * t``, which a negative ``decay_rate`` drives to 0 and
    past. Dividing such a schedule's rates only postpones the NaN: its growth is the bug."""
    from keras.optimizers.schedules import ExponentialDecay, InverseTimeDecay

    try:
        config = dict(schedule.get_config())
        rate = float(config["decay_rate"])
    except (AttributeError, NotImplementedError, TypeError, KeyError, ValueError):
        return None
    if isinstance(schedule, ExponentialDecay) and rate > 1.0:
        config["decay_rate"] = float(f"{1.0 / rate:.3g}")
    elif isinstance(schedule, InverseTimeDecay) and rate < 0.0:
        config["decay_rate"] = float(f"{-rate:.3g}")
    else:
        return None
    rebuilt = _rebuilt_schedule(schedule, config)
    if rebuilt is None:
        return None
    change = f"decay_rate={rate:g} -> {config['decay_rate']:g}"
    return rebuilt, _schedule_line(schedule, config), config, change


@contextlib.contextmanager
def schedule_in_place(optimizer: Any, schedule: Any) -> Iterator[None]:
    """The optimizer runs on ``schedule`` (as if built with it), then on its own again."""
    old = optimizer._learning_rate
    optimizer._learning_rate = schedule
    try:
        yield
    finally:
        optimizer._learning_rate = old


def rescaling_of(layer: Any) -> tuple[float, float] | None:
    """``(scale, offset)`` of a ``keras.layers.Rescaling`` with scalar ones (``x * scale +
    offset``), None for any other layer (or per-channel values)."""
    import keras

    if not isinstance(layer, keras.layers.Rescaling):
        return None
    try:
        return float(layer.scale), float(layer.offset)
    except (TypeError, ValueError):
        return None


def is_input_normalization(layer: Any) -> bool:
    """A ``keras.layers.Normalization`` that standardizes (not built with ``invert=True``)."""
    import keras

    return isinstance(layer, keras.layers.Normalization) and not getattr(layer, "invert", False)


def has_given_statistics(layer: Any) -> bool:
    """A Normalization built with ``mean=`` and ``variance=`` (constants: it cannot adapt)."""
    return getattr(layer, "input_mean", None) is not None


@contextlib.contextmanager
def restated(layer: Any, data: np.ndarray) -> Iterator[None]:
    """A Normalization built with ``mean=`` / ``variance=`` given those of ``data`` (rows x
    features, the last axis kept) while the block runs; its own constants after it. Adapting
    is what the others get (:func:`readapted`); these hold constants, not weights."""
    shape = getattr(layer, "_broadcast_shape", None)
    if shape is None:
        raise ValueError("the Normalization layer is not built")
    old = (layer.mean, layer.variance)
    mean = np.asarray(data.mean(axis=0), dtype=np.float32).reshape(shape)
    variance = np.asarray(data.var(axis=0), dtype=np.float32).reshape(shape)
    layer.mean, layer.variance = tf.constant(mean), tf.constant(variance)
    try:
        yield
    finally:
        layer.mean, layer.variance = old


def zero_variance_columns(layer: Any) -> tuple[int, ...]:
    """The features a (non-inverted) ``keras.layers.Normalization`` holds a variance of 0 for:
    it divides their centred values by its epsilon (``max(sqrt(var), 1e-7)``), so any value
    off the adapted mean reaches the network ~1e7 times larger. () for any other layer."""
    if not is_input_normalization(layer):
        return ()
    variance = getattr(layer, "variance", None)
    if variance is None:
        return ()
    try:
        values = np.asarray(variance, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return ()
    return tuple(int(i) for i in np.nonzero(values <= 1e-12)[0])


@contextlib.contextmanager
def readapted(layer: Any, data: np.ndarray) -> Iterator[None]:
    """``layer.adapt(data)`` while the block runs; the layer's own adapted state after it."""
    old = [np.array(w, copy=True) for w in layer.get_weights()]
    layer.adapt(data)
    try:
        yield
    finally:
        layer.set_weights(old)
        rederive_adapted_state(layer)


#: activations that keep a recurrent cell's candidate state bounded.
BOUNDED_ACTIVATIONS = frozenset({"tanh", "sigmoid", "hard_sigmoid", "softsign", "hard_tanh"})


def unbounded_cell_activation(layer: Any) -> str | None:
    """The name of the activation of a gated cell that ``layer`` steps (an LSTM's or GRU's
    candidate, ``activation=``) when it does not bound the state (``relu``, ``linear``,
    ``elu``, ...): the gates then mix values that can grow step after step. None for tanh /
    sigmoid, for an ungated cell, or for a layer that steps no cell."""
    cell = getattr(layer, "cell", None)
    cells = getattr(cell, "cells", None) or ([cell] if cell is not None else [])
    for each in cells:
        if getattr(each, "recurrent_activation", None) is None:
            continue  # ungated: named as such elsewhere
        activation = getattr(each, "activation", None)
        name = getattr(activation, "__name__", None) or str(activation)
        if activation is not None and name not in BOUNDED_ACTIVATIONS:
            return name
    return None


@contextlib.contextmanager
def outputs_unit_normalized(layers: list[Any]) -> Iterator[None]:
    """Each layer's output L2-normalized over its last axis, as a
    ``keras.layers.UnitNormalization()`` placed after it computes it (the same
    ``keras.ops.normalize`` call), for as long as the context lasts: the layer's activation
    is composed with the normalization (a Keras layer reads ``self.activation`` when called;
    the step must be re-traced)."""
    import keras

    before = [layer.activation for layer in layers]
    try:
        for layer, activation in zip(layers, before, strict=True):
            layer.activation = functools.partial(_unit_normalized, activation, keras.ops)
        yield
    finally:
        for layer, activation in zip(layers, before, strict=True):
            layer.activation = activation


def _unit_normalized(activation: Any, ops: Any, x: Any) -> Any:
    return ops.normalize(activation(x), axis=-1, order=2, epsilon=1e-12)
