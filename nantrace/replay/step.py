"""Replay one step eagerly, with per-op capture, then put every variable back.

The guard has already restored the pre-step state in-graph, so the replay starts from exactly
the state the tripping step saw. Replay runs un-compiled and eagerly; when it does not
reproduce the trip (XLA fusion, nondeterministic kernels), the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.replay import hooks
from nantrace.replay.capture import ReplayCapture


@dataclass
class StateSnapshot:
    """Host copies of variables, to undo whatever the replay wrote."""

    values: list[tuple[tf.Variable, np.ndarray]]

    @classmethod
    def take(cls, variables: list[tf.Variable]) -> StateSnapshot:
        return cls([(variable, variable.numpy()) for variable in unique_variables(variables)])

    def restore(self) -> None:
        with hooks.own_writes():
            for variable, value in self.values:
                variable.assign(value, read_value=False)


@dataclass
class DeviceSnapshot(StateSnapshot):
    """The variables' values as tensors where they live, to undo what the replay writes.

    Reading a variable aliases its buffer (no copy); the replay's first write to a variable
    copies it (TensorFlow's copy-on-write of a buffer something else still reads), so only the
    variables the step writes are copied, once, and nothing crosses to the host: at 30 M
    parameters a host snapshot and its restore cost seconds of a report."""

    values: list[tuple[tf.Variable, tf.Tensor]]  # type: ignore[assignment]

    @classmethod
    def take(cls, variables: list[tf.Variable]) -> DeviceSnapshot:
        return cls([(variable, variable.read_value()) for variable in unique_variables(variables)])


def unique_variables(variables: list[Any]) -> list[Any]:
    """Each variable once, by identity (a model's and an optimizer's lists overlap), in
    first-seen order."""
    seen: set[int] = set()
    unique = []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


def step_variables(watched: Any) -> list[tf.Variable]:
    """Every variable the step is known to touch (written ones, model's and optimizers')."""
    candidates: list[Any] = list(watched.known_variables.values())
    if watched.model is not None:
        candidates += list(getattr(watched.model, "variables", []))
    for optimizer in watched.optimizers:
        candidates += _tf_compat.optimizer_variables(optimizer)
    variables = []
    for candidate in candidates:
        var = _tf_compat.as_tf_variable(candidate)
        if var is not None:
            variables.append(var)
    return variables


def replay_step(watched: Any, args: tuple, kwargs: dict) -> ReplayCapture:
    """Run the user's step once, eagerly, recording every op; leave the state untouched."""
    variables = step_variables(watched)
    snapshot = DeviceSnapshot.take(variables)
    capture = ReplayCapture(variables)
    args, kwargs = _numpy_as_tensors(args, kwargs)
    names = getattr(watched, "argument_names", None)
    if names is not None:
        capture.add_batch(names(args, kwargs), args, kwargs)
    try:
        with (
            _tf_compat.functions_run_eagerly(),
            hooks.observing(capture),
            _tf_compat.op_callback(capture.on_op),
            _tf_compat.gradient_functions_observed(capture.gradient_of),
        ):
            capture.note_returned(watched.python_fn(*args, **kwargs))
    except Exception as error:  # a user check_numerics/assert firing is evidence, not a crash
        capture.error = error
    finally:
        snapshot.restore()
    capture.attribute_layers()
    return capture


def _numpy_as_tensors(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """NumPy arrays become tensors, as ``tf.function`` made them for the compiled step: left as
    arrays, each op would convert its own copy and no op would be seen reading the batch, so a
    NaN in a NumPy batch could not be traced to its rows."""

    def convert(leaf: Any) -> Any:
        return tf.convert_to_tensor(leaf) if isinstance(leaf, np.ndarray) else leaf

    return tf.nest.map_structure(convert, args), tf.nest.map_structure(convert, kwargs)
