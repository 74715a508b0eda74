"""Per-op capture during replay: every executed op with its phase, layer, source and health.

The capture is an op callback (the mechanism behind ``tf.debugging.enable_check_numerics``)
plus a :class:`~nantrace.replay.hooks.StepObserver` that tells which phase the step is in (forward,
loss, backward, update) and which Keras layer is running. It runs only during replay, where a
few microseconds per op do not matter.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.replay import hooks
from nantrace.replay.health import health_of
from nantrace.report.records import Health

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EXAMPLES_DIR = os.path.join(_PACKAGE_DIR, "examples")
_LIBRARY_MARKERS = (
    f"{os.sep}tensorflow{os.sep}",
    f"{os.sep}keras{os.sep}",
    f"{os.sep}tf_keras{os.sep}",
    f"{os.sep}absl{os.sep}",
    f"{os.sep}numpy{os.sep}",
    f"{os.sep}contextlib.py",
    f"{os.sep}functools.py",
    "<frozen",
)


@dataclass
class OpRecord:
    """One executed op. ``inputs``/``outputs`` hold None for non-float tensors."""

    index: int
    op_type: str
    phase: str
    layer: str | None
    source: str | None
    inputs: list[Health | None]
    outputs: list[Health | None]
    producers: list[int | None]
    op_name: str = ""
    #: for backward ops: the index of the forward op whose gradient this op computes.
    gradient_of: int | None = None
    #: the device of the op's first output (under tf.distribute: which replica ran it).
    device: str | None = None
    variable: str | None = None
    #: for a variable op: whether that variable is trainable (None: not a variable op).
    variable_trainable: bool | None = None
    variable_after: Health | None = None
    layer_object: Any = field(default=None, repr=False)
    #: per input: the batch tensor's name (``x``, ``y``, ``x['age']``) when the input is one of
    #: the step's arguments itself, else None.
    batch_inputs: list[str | None] = field(default_factory=list)
    #: run inside an optimizer's own update (``apply``): its ops, not the user's code around it
    in_optimizer: bool = False

    @property
    def float_inputs(self) -> list[Health]:
        return [h for h in self.inputs if h is not None]

    @property
    def float_outputs(self) -> list[Health]:
        return [h for h in self.outputs if h is not None]

    @property
    def inputs_finite(self) -> bool:
        return all(h.finite for h in self.float_inputs)

    @property
    def produced_non_finite(self) -> bool:
        """The op's result is non-finite (its output, or the variable it wrote)."""
        if any(not h.finite for h in self.float_outputs):
            return True
        return self.variable_after is not None and not self.variable_after.finite

    @property
    def result_health(self) -> Health | None:
        if self.variable_after is not None:
            return self.variable_after
        outputs = self.float_outputs
        return outputs[0] if outputs else None


def is_user_file(filename: str) -> bool:
    """Not TensorFlow, Keras, the standard library or nantrace itself (its examples count)."""
    internal = any(marker in filename for marker in _LIBRARY_MARKERS) or (
        filename.startswith(_PACKAGE_DIR) and not filename.startswith(_EXAMPLES_DIR)
    )
    return bool(filename) and not internal


def user_source(skip_dirs: tuple[str, ...] = ()) -> str | None:
    """``file:line`` of the innermost frame that belongs to user code."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if is_user_file(filename) and not any(filename.startswith(d) for d in skip_dirs):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


@dataclass
class _PhaseState:
    """Where one thread is in the step. MirroredStrategy runs each replica's function in its
    own thread, one after another: replica 1's forward and loss run after replica 0 computed
    its gradients, so the phase must be per thread, not one shared state."""

    layer_stack: list[Any] = field(default_factory=list)
    loss_depth: int = 0
    in_gradient: int = 0
    in_apply: int = 0
    model_returned: bool = False
    gradient_done: bool = False


def _thread_field(name: str) -> Any:
    def get(self: ReplayCapture) -> Any:
        return getattr(self._thread_state(), name)

    def set_(self: ReplayCapture, value: Any) -> None:
        setattr(self._thread_state(), name, value)

    return property(get, set_)


class ReplayCapture(hooks.StepObserver):
    """Records the ops of one eager replay of the step."""

    layer_stack = _thread_field("layer_stack")
    loss_depth = _thread_field("loss_depth")
    in_gradient = _thread_field("in_gradient")
    in_apply = _thread_field("in_apply")
    model_returned = _thread_field("model_returned")
    gradient_done = _thread_field("gradient_done")

    def __init__(self, variables: list[Any]) -> None:
        self.records: list[OpRecord] = []
        self._phases: dict[int, _PhaseState] = {}
        self.error: BaseException | None = None
        #: the update ran under a tf.distribute strategy (gradients are all-reduced).
        self.distributed = False
        #: ops that produced the differentiated targets (the loss) and the gradients, resolved
        #: when ``tape.gradient`` runs: those tensors may be gone by the end of the replay.
        self.target_ops: set[int] = set()
        self.gradient_ops: set[int] = set()
        #: ops that produced the float values the step returned (a metric it logs).
        self.output_ops: set[int] = set()
        self.loss_names: list[str] = []
        #: the Keras loss objects called with from_logits=False (they expect probabilities
        #: from the model; verification sets from_logits on them).
        self.probability_loss_objects: list[Any] = []
        self.optimizers: list[Any] = []
        #: (optimizer, first op index, end index) of each optimizer's update, in order: which
        #: optimizer wrote an update op (two optimizers in one step, e.g. a GAN).
        self.apply_spans: list[tuple[Any, int, int]] = []
        self.layers_seen: dict[str, Any] = {}
        #: optimizers whose update was not replayed: its gradients were already non-finite
        #: (see :meth:`run_apply`).
        self.skipped_updates: list[Any] = []
        self._apply_gradients: list[Any] = []
        #: id(tensor) -> index of the op that produced it, for live tensors only (each entry
        #: is dropped when its tensor dies, so a later tensor reusing the id is not mistaken
        #: for it). Nothing is kept alive: at 30 M parameters every Adam temporary held to the
        #: end of the replay is gigabytes, and a read of a variable held alive makes each
        #: write of that variable copy it.
        self._producer: dict[int, int] = {}
        self._refs: dict[int, weakref.ref] = {}
        self._keep_alive: list[Any] = []
        self._variables: dict[int, tf.Variable] = {}
        self._names_per_scope: dict[tuple[str, str], int] = {}
        self._busy = False
        self._gradient_of: list[int | None] = []
        #: id(tensor) -> name, for the step's own argument tensors (features, labels, weights).
        self._batch: dict[int, str] = {}
        for variable in variables:
            self.add_variable(variable)

    def add_batch(self, names: list[str], args: tuple, kwargs: dict) -> None:
        """Know the step's argument tensors by identity, so ops that read them can say which
        batch tensor (and so features vs labels) they consumed."""
        for name, leaf in batch_leaves(names, args, kwargs):
            self._batch[id(leaf)] = name
            self._keep_alive.append(leaf)

    # -- variables --------------------------------------------------------------------------
    def add_variable(self, variable: Any) -> None:
        var = _tf_compat.as_tf_variable(variable)
        if var is None:
            return
        handle = getattr(var, "handle", None)
        if handle is not None:
            self._variables[id(handle)] = var

    def variable_for_handle(self, handle: Any) -> tf.Variable | None:
        return self._variables.get(id(handle))

    # -- phase ------------------------------------------------------------------------------
    def _thread_state(self) -> _PhaseState:
        return self._phases.setdefault(threading.get_ident(), _PhaseState())

    def _merging_update(self) -> bool:
        """The cross-replica part of an update (tf.distribute's merge_call): it runs in the
        calling thread while a replica thread waits inside its optimizer apply."""
        me = threading.get_ident()
        return (
            any(state.in_apply for ident, state in self._phases.items() if ident != me)
            and tf.distribute.has_strategy()
            and tf.distribute.in_cross_replica_context()
        )

    def phase(self) -> str:
        if self.in_apply or self._merging_update():
            return "update"
        if self.in_gradient:
            return "backward"
        if self.loss_depth:
            return "loss"
        if self.layer_stack:
            return "forward"
        if self.gradient_done:
            return "update"
        if self.model_returned:
            return "loss"
        return "forward"

    def layer_path(self) -> str | None:
        if not self.layer_stack or self.loss_depth:
            return None
        return "/".join(layer.name for layer in self.layer_stack)

    # -- observer events ----------------------------------------------------------------------
    def gradient_start(self, tape: Any, target: Any, sources: Any) -> None:
        for t in tf.nest.flatten(target):
            if id(t) in self._producer:
                self.target_ops.add(self._producer[id(t)])
        for source in tf.nest.flatten(sources):
            self.add_variable(source)
        self.in_gradient += 1

    def gradient_end(self, tape: Any, target: Any, sources: Any, result: Any) -> None:
        self.in_gradient -= 1
        # a gradient taken under an outer tape (WGAN-GP's penalty) feeds that tape's loss:
        # the ops after it are not the update's
        if not _tf_compat.outer_tape_recording(tape):
            self.gradient_done = True
        for g in tf.nest.flatten(result, expand_composites=False):
            if isinstance(g, tf.IndexedSlices):
                g = g.values
            if g is not None and id(g) in self._producer:
                self.gradient_ops.add(self._producer[id(g)])

    def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None:
        self.in_apply += 1
        if tf.distribute.has_strategy():
            self.distributed = True
        if all(optimizer is not o for o in self.optimizers):
            self.optimizers.append(optimizer)
        self.apply_spans.append((optimizer, len(self.records), -1))
        self._apply_gradients = list(grads)
        for variable in list(variables) + _tf_compat.optimizer_variables(optimizer):
            self.add_variable(variable)

    def run_apply(self, optimizer: Any, call: Any) -> Any:
        """Run the optimizer's update, unless the gradients it was handed are already
        non-finite and so were the tape's: the gated guard skipped that very update in the
        compiled step, and every op of it would be downstream of the first non-finite value,
        never the origin. (Finite tape gradients made non-finite on their way to the update,
        by a clip or a hand-written transform, passed the gate: the update ran and wrote the
        variables, its sink.) At tens
        of millions of parameters an eager Adam update, with the health of each of its
        outputs, was most of the time to report. Under tf.distribute the update runs (its
        all-reduce waits for every replica), and so does a loss-scaling optimizer's (skipping
        non-finite gradients is its own job)."""
        if self._update_skippable(optimizer):
            self.skipped_updates.append(optimizer)
            return None
        return call()

    def _update_skippable(self, optimizer: Any) -> bool:
        if self.distributed or tf.distribute.has_strategy():
            return False
        if hasattr(optimizer, "inner_optimizer") or hasattr(optimizer, "dynamic_scale"):
            return False
        if self.gradient_ops and all(
            self.records[i].result_health is None or self.records[i].result_health.finite
            for i in self.gradient_ops
        ):
            return False  # the tape's gradients were finite: the gate let the update run
        for gradient in self._apply_gradients:
            if isinstance(gradient, tf.IndexedSlices):
                gradient = gradient.values
            if gradient is None or not _is_value(gradient):
                continue
            with hooks.suspended(self):
                health = health_of(gradient)
            if health is not None and not health.finite:
                return True
        return False

    def apply_end(self, optimizer: Any) -> None:
        self.in_apply -= 1
        for i in range(len(self.apply_spans) - 1, -1, -1):
            if self.apply_spans[i][0] is optimizer and self.apply_spans[i][2] < 0:
                self.apply_spans[i] = (optimizer, self.apply_spans[i][1], len(self.records))
                break

    def before_write(self, variable: tf.Variable) -> None:
        self.add_variable(variable)

    def layer_enter(self, layer: Any) -> None:
        if self.gradient_done and not (self.layer_stack or self.in_gradient or self.in_apply):
            # a model called after an update: the next sub-step of the same step (a GAN's
            # generator after its discriminator) starts a new forward pass and loss
            self.gradient_done = self.model_returned = False
        self.layer_stack.append(layer)
        self.layers_seen.setdefault("/".join(item.name for item in self.layer_stack), layer)
        for weight in getattr(layer, "weights", []):
            self.add_variable(weight)

    def layer_exit(self, layer: Any) -> None:
        if self.layer_stack and self.layer_stack[-1] is layer:
            self.layer_stack.pop()
        if not self.layer_stack:
            self.model_returned = True

    def loss_enter(self, loss: Any) -> None:
        self.loss_depth += 1
        self.loss_names.append(getattr(loss, "name", type(loss).__name__))
        if getattr(loss, "from_logits", None) is False:
            self.probability_loss_objects.append(loss)

    def loss_exit(self, loss: Any) -> None:
        self.loss_depth -= 1

    @contextlib.contextmanager
    def gradient_of(self, op_type: Any, inputs: Any, outputs: Any) -> Iterator[None]:
        """Entered while eager backprop runs the gradient of one forward op."""
        forward = None
        for tensor in list(outputs or ()):
            if tensor is not None and id(tensor) in self._producer:
                forward = self._producer[id(tensor)]
                break
        if forward is None:  # TF passes no outputs to gradients that do not read them (Log)
            forward = self._consumer_of(_tf_compat.op_type_name(op_type), inputs)
        self._gradient_of.append(forward)
        try:
            yield
        finally:
            self._gradient_of.pop()

    def _consumer_of(self, op_type: str, inputs: Any) -> int | None:
        """The latest forward op of ``op_type`` that read exactly these input tensors."""
        wanted = [self._producer.get(id(t)) if t is not None else None for t in list(inputs or ())]
        if not any(p is not None for p in wanted):
            return None
        for record in reversed(self.records):
            if record.phase != "backward" and record.op_type == op_type:
                if record.producers == wanted:
                    return record.index
        return None

    # -- the op callback ----------------------------------------------------------------------
    def on_op(
        self,
        op_type: Any,
        inputs: Any,
        attrs: Any,
        outputs: Any,
        op_name: str | None = None,
        graph: Any = None,
    ) -> None:
        if graph is not None or self._busy:
            return None
        self._busy = True
        try:
            with hooks.suspended(self):
                self._record(_tf_compat.op_type_name(op_type), list(inputs or ()), outputs)
        finally:
            self._busy = False
        return None

    def _record(self, op_type: str, inputs: list[Any], outputs: Any) -> None:
        index = len(self.records)
        outputs = list(outputs or ())
        layer = self.layer_path()
        scope = layer or self.phase()
        count = self._names_per_scope.get((scope, op_type), 0)
        self._names_per_scope[(scope, op_type)] = count + 1
        record = OpRecord(
            index=index,
            op_type=op_type,
            phase=self.phase(),
            layer=layer,
            source=user_source(),
            inputs=[health_of(t) if _is_value(t) else None for t in inputs],
            outputs=[health_of(t) if _is_value(t) else None for t in outputs],
            producers=[self._producer.get(id(t)) for t in inputs],
            batch_inputs=[self._batch.get(id(t)) for t in inputs],
            op_name=f"{scope}/{op_type}" + (f"_{count}" if count else ""),
            layer_object=self.layer_stack[-1] if self.layer_stack and layer else None,
            in_optimizer=bool(self.in_apply) or self._merging_update(),
        )
        if outputs:
            record.device = getattr(outputs[0], "device", None) or None
        if record.phase == "backward" and self._gradient_of and self._gradient_of[-1] is not None:
            forward = self.records[self._gradient_of[-1]]
            record.gradient_of = forward.index
            record.layer, record.layer_object = forward.layer, forward.layer_object
        if op_type == "ReadVariableOp" or op_type in _tf_compat.VARIABLE_WRITE_OPS:
            variable = self.variable_for_handle(inputs[0]) if inputs else None
            if variable is not None:
                record.variable = variable.name
                trained = _tf_compat.trained_by_layer(record.layer_object, variable)
                record.variable_trainable = (
                    trained if trained is not None else bool(getattr(variable, "trainable", True))
                )
                if op_type in _tf_compat.VARIABLE_WRITE_OPS:
                    record.variable_after = health_of(variable.read_value())
        for t in outputs:
            self._remember(t, index)
        self.records.append(record)

    def _remember(self, tensor: Any, index: int) -> None:
        key = id(tensor)
        self._producer[key] = index
        try:
            self._refs[key] = weakref.ref(tensor, lambda _, key=key: self._forget(key, index))
        except TypeError:  # not weak-referenceable: keep it alive so its id stays its own
            self._keep_alive.append(tensor)

    def _forget(self, key: int, index: int) -> None:
        if self._producer.get(key) == index:
            del self._producer[key]
            self._refs.pop(key, None)

    # -- after the replay ---------------------------------------------------------------------
    def note_returned(self, result: Any) -> None:
        """Know the ops behind the values the step returned (read right after it returns,
        while those tensors are alive)."""
        for t in tf.nest.flatten(result):
            if isinstance(t, tf.Tensor) and id(t) in self._producer:
                self.output_ops.add(self._producer[id(t)])

    def sinks(self) -> dict[str, list[int]]:
        """Ops whose results are the step's loss, its gradients, its variable writes and the
        values it returns."""
        loss = sorted(self.target_ops)
        grads = sorted(self.gradient_ops)
        writes = [r.index for r in self.records if r.variable_after is not None]
        outputs = sorted(self.output_ops)
        return {"loss": loss, "gradients": grads, "variables": writes, "outputs": outputs}

    def attribute_layers(self) -> None:
        """Give backward and update ops the layer of the forward op or variable they belong to."""
        var_layer: dict[str, tuple[str, Any]] = {}
        for record in self.records:
            if record.op_type == "ReadVariableOp" and record.variable and record.layer:
                var_layer.setdefault(record.variable, (record.layer, record.layer_object))
        for record in self.records:
            if record.phase != "backward" or record.layer is not None:
                continue
            for producer in record.producers:
                if producer is None:
                    continue
                source = self.records[producer]
                if source.layer is not None:
                    record.layer, record.layer_object = source.layer, source.layer_object
                    if source.phase == "forward":
                        break
        pending: list[OpRecord] = []
        for record in self.records:
            if record.phase != "update":
                continue
            pending.append(record)
            if record.variable_after is not None and record.variable in var_layer:
                layer, obj = var_layer[record.variable]
                for item in pending:
                    item.layer, item.layer_object = layer, obj
                    item.variable = item.variable or record.variable
                pending = []


def _is_value(t: Any) -> bool:
    return hasattr(t, "dtype") and hasattr(t, "shape")


def batch_leaves(names: list[str], args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """(name, tensor) for every tensor-like leaf of the step's arguments: ``x``, ``y``,
    ``x['age']``, ``args[2][0]``; under tf.distribute one entry per replica shard."""
    named = list(zip(names, args, strict=False)) + list(kwargs.items())
    out: list[tuple[str, Any]] = []
    for name, value in named:
        out += [(path, leaf) for path, leaf in _leaves(name, value) if _is_value(leaf)]
    return out


def batch_array(names: list[str], args: tuple, kwargs: dict, path: str) -> Any:
    """The batch tensor named ``path`` as a NumPy array, or None (no such tensor, or none
    NumPy can read)."""
    import numpy as np

    for name, leaf in batch_leaves(names, args, kwargs):
        if name == path:
            try:
                return np.asarray(leaf)
            except Exception:
                return None
    return None


def _leaves(prefix: str, value: Any) -> list[tuple[str, Any]]:
    from nantrace.live.iterators import ConsumedBatches

    if isinstance(value, ConsumedBatches):  # an iterator argument: the batches it gave
        many = len(value.batches) > 1
        out = []
        for index, batch in enumerate(value.batches):
            out += _leaves(f"next({prefix})" + (f" #{index + 1}" if many else ""), batch)
        return out
    replicas = _tf_compat.replica_values(value)
    if replicas is not None:  # a tf.distribute batch: one shard per replica
        out = []
        for index, shard in enumerate(replicas):
            out += _leaves(f"{prefix} (replica {index})", shard)
        return out
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out += _leaves(f"{prefix}[{key!r}]", item)
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, item in enumerate(value):
            out += _leaves(f"{prefix}[{i}]", item)
        return out
    return [(prefix, value)]
