"""Simulating a :class:`~nantrace.diagnosis.call_site.CallSiteEdit` while the user's step is traced.

Every graph op is built through one TensorFlow helper (``_tf_compat.intercept_graph_ops``),
whatever public API the user called. While :func:`simulating` is active, an op of the edit's
type whose innermost user frame is the edit's ``file:line`` -- reached through op APIs only,
not from inside a Keras layer, loss or model called there -- is built from edited inputs (or
replaced by the ops of the edit); the traced graph is then differentiated as written.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.compat import tf as _tf_compat
from nantrace.diagnosis.call_site import MASK_VALUE_OPS, OP_ARGUMENTS, CallSiteEdit


class EditMissed(Exception):
    """The edit has no form for this op (a kind without an argument edit)."""


def edit_inputs(edit: CallSiteEdit, keywords: dict[str, Any]) -> tuple | dict | None:
    """The op's inputs edited (or, for ``log_softmax`` / ``divide_no_nan``, the result of
    the replacement ops); None when this op cannot take the edit."""
    if edit.kind == "log_softmax":
        x = tf.convert_to_tensor(keywords.get("x"))
        producer = x.op.type if hasattr(x, "op") else None
        if producer == "Softmax":
            return _tf_compat.built_outputs(tf.nn.log_softmax(x.op.inputs[0]))
        if producer == "Sigmoid":
            return _tf_compat.built_outputs(tf.math.log_sigmoid(x.op.inputs[0]))
        return None
    if edit.kind == "drop_log":  # the log's argument itself: log-probabilities already
        return _tf_compat.built_outputs(tf.identity(tf.convert_to_tensor(keywords.get("x"))))
    if edit.kind == "divide_no_nan" and edit.op_type == "Mean":
        x = tf.convert_to_tensor(keywords["input"])
        total = tf.reduce_sum(x, keywords["reduction_indices"], keywords.get("keep_dims", False))
        count = tf.cast(tf.size(x), x.dtype) / tf.cast(tf.maximum(tf.size(total), 1), x.dtype)
        return _tf_compat.built_outputs(tf.math.divide_no_nan(total, count))
    if edit.kind == "epsilon" and edit.op_type == "EuclideanNorm":
        # the epsilon goes under the square root: sqrt(sum(x**2) + eps), as the snippet says
        x = tf.convert_to_tensor(keywords["input"])
        summed = tf.reduce_sum(
            tf.square(x), keywords["reduction_indices"], keywords.get("keep_dims", False)
        )
        return _tf_compat.built_outputs(tf.sqrt(_edited(edit, summed)))
    if edit.kind == "divide_no_nan":
        x, y = keywords.get("x"), keywords.get("y")
        if edit.op_type == "Reciprocal":
            x, y = 1.0, keywords.get("x")
        return _tf_compat.built_outputs(tf.math.divide_no_nan(_like(x, y), _like(y, x)))
    if edit.kind == "finite_constant":
        return _finite_constants(edit, keywords)
    keyword, _ = OP_ARGUMENTS.get(edit.op_type, ("x", ""))
    if keyword not in keywords:
        return None
    other = next((v for k, v in keywords.items() if k != keyword), None)
    arg = _like(keywords[keyword], other)
    new = dict(keywords)
    new[keyword] = _edited(edit, arg)
    return new  # type: ignore[return-value]


def _finite_constants(edit: CallSiteEdit, keywords: dict[str, Any]) -> dict | None:
    """The op's inputs with every constant that is +-inf in the op's dtype (infinity, or a
    number beyond the dtype's range such as -1e9 in float16) replaced by +-``edit.value``'s
    magnitude (a finite mask value); None when no input is such a constant."""
    magnitude = abs(edit.value if edit.value is not None else 1e9)
    dtypes = [
        tf.as_dtype(v.dtype).base_dtype
        for v in keywords.values()
        if getattr(v, "dtype", None) is not None and tf.as_dtype(v.dtype).is_floating
    ]
    limit = dtypes[0].max if dtypes else np.finfo(np.float32).max
    new, changed = dict(keywords), False
    for key, value in keywords.items():
        dtype = getattr(value, "dtype", None)
        if dtype is not None and not tf.as_dtype(dtype).is_floating:
            continue
        if isinstance(value, float | int) and not isinstance(value, bool):
            constant = np.asarray(value, dtype=np.float64)
        elif isinstance(value, tf.Tensor):
            constant = tf.get_static_value(value)
        else:
            continue
        if constant is None:
            continue
        beyond = np.abs(np.asarray(constant, dtype=np.float64)) > limit
        if not beyond.any():
            continue
        finite = np.where(beyond, np.sign(constant) * magnitude, constant)
        new[key] = (
            float(finite)
            if dtype is None
            else tf.constant(finite, dtype=tf.as_dtype(dtype).base_dtype)
        )
        changed = True
    return new if changed else None


def _edited(edit: CallSiteEdit, arg: Any) -> Any:
    value = tf.cast(edit.value if edit.value is not None else 0.0, arg.dtype)
    if edit.kind == "epsilon" and edit.op_type == "Cholesky":  # K + eps * I, as the snippet
        return arg + value * tf.eye(tf.shape(arg)[-1], dtype=arg.dtype)
    if edit.kind == "epsilon":
        return arg + value
    if edit.kind == "clamp_min":
        return tf.maximum(arg, value)
    if edit.kind == "clamp_max":
        return tf.minimum(arg, value)
    if edit.kind == "clamp_range":
        return tf.clip_by_value(arg, tf.cast(edit.low or 0.0, arg.dtype), value)
    if edit.kind == "safe_where":
        test, safe = edit.domain()
        if test.startswith("in"):
            ok = tf.abs(arg) < 1.0
        elif test.startswith("!="):
            ok = tf.not_equal(arg, 0.0)
        elif test.startswith("<"):
            ok = arg < value
        else:
            ok = arg > tf.cast(float(test.split()[1]), arg.dtype)
        return tf.where(ok, arg, tf.cast(safe, arg.dtype) * tf.ones_like(arg))
    raise EditMissed(f"edit {edit.kind!r} has no argument form")


@dataclass
class EditTrace:
    """What the simulation hit while the step was traced."""

    rewritten: int = 0
    sites: set[str] = field(default_factory=set)
    declined: int = 0  # ops of the type at the site that could not take the edit
    per_trace: dict[int, int] = field(default_factory=dict)  # graph -> ops rewritten in it

    @property
    def ops_per_trace(self) -> int:
        """Ops rewritten in one trace of the step (the step may be traced more than once)."""
        return max(self.per_trace.values(), default=0)


@contextlib.contextmanager
def simulating(edit: CallSiteEdit) -> Iterator[EditTrace]:
    """While active, graph ops of ``edit.op_type`` built from ``edit.where`` are edited."""
    with simulating_each([edit]) as traces:
        yield traces[0]


#: Ops finite at an exact 0 whose derivative there is infinite: sqrt(0) = 0, but the backward
#: pass of ``sqrt(sum(d ** 2))`` at a zero distance is inf * 0 = NaN (a Euclidean norm's,
#: x / |x|, is 0 / 0).
SINGULAR_AT_ZERO = frozenset({"Sqrt", "EuclideanNorm"})


@dataclass
class SiteFlags:
    """Which ops built directly at a user line made a non-finite value out of finite inputs,
    per run step, and which of them (``SINGULAR_AT_ZERO``) gave an exact 0 where their
    derivative is infinite: filled at run time by the flags :func:`simulating_each` puts into
    the step."""

    step: int = 0  # set by the caller before each step it runs
    sites: list[tuple[str, str]] = field(default_factory=list)  # index -> (file:line, op type)
    bad: dict[int, set[int]] = field(default_factory=dict)  # step -> indices non-finite
    singular: dict[int, set[int]] = field(default_factory=dict)  # step -> indices at exact 0

    def record(self, index: int, finite: Any) -> None:
        if not bool(np.asarray(finite)):
            self.bad.setdefault(self.step, set()).add(index)

    def record_singular(self, index: int, at_zero: Any) -> None:
        if bool(np.asarray(at_zero)):
            self.singular.setdefault(self.step, set()).add(index)

    def first_bad(self, step: int) -> tuple[str, str] | None:
        """``(file:line, op type)`` of the first flagged op, in build order (a topological
        order of the forward pass), at run step ``step``."""
        indices = self.bad.get(step)
        return self.sites[min(indices)] if indices else None

    def first_singular(self, step: int) -> tuple[str, str] | None:
        """The same for the first op at an exact 0 of its infinite derivative: where the
        backward pass of a step whose forward pass stayed finite goes non-finite."""
        indices = self.singular.get(step)
        return self.sites[min(indices)] if indices else None


@contextlib.contextmanager
def simulating_each(
    edits: list[CallSiteEdit], flags: SiteFlags | None = None
) -> Iterator[list[EditTrace]]:
    """While active, each edit is made to the ops it names (the first edit that matches an op
    takes it); with ``flags``, every floating op built directly at a user line also reports
    at run time whether it made a non-finite value out of finite inputs (a probe run that
    finds where a fix's replay still trips: not for the runs that are judged)."""
    traces = [EditTrace() for _ in edits]
    busy = [False]
    spans = [edit.statement_span() for edit in edits]
    op_types = [_matching_op_types(edit) for edit in edits]
    any_type = set().union(*op_types)

    with _tf_compat.autograph_source_maps() as source_map:

        def rewrite(build: Any, op_type: str, keywords: dict) -> tuple | None:
            if busy[0] or (flags is None and op_type not in any_type):
                return None
            site, converted, inside = _direct_user_site(source_map)
            for edit, trace, span, types in zip(edits, traces, spans, op_types, strict=True):
                if op_type not in types:
                    continue
                if site != edit.where and not (converted and _within(site, edit.file, span)):
                    continue
                busy[0] = True
                try:
                    result = edit_inputs(edit, keywords)
                finally:
                    busy[0] = False
                if result is None:
                    trace.declined += 1
                    continue
                trace.rewritten += 1
                # a converted frame names its statement, whose only such call is on edit.where
                trace.sites.add(edit.where if converted else site)
                graph = id(tf.compat.v1.get_default_graph())
                trace.per_trace[graph] = trace.per_trace.get(graph, 0) + 1
                if isinstance(result, dict):
                    built = build(op_type, **result)
                    return _flagged(built, flags, site if inside else None, op_type, busy)
                return result
            if flags is None or site is None or not inside:
                # tf.function's outputs and plumbing: their flags could only run after what
                # they flag (a cycle)
                return None
            return _flagged(build(op_type, **keywords), flags, site, op_type, busy)

        with _tf_compat.intercept_graph_ops(rewrite):
            yield traces


def _flagged(
    built: tuple, flags: SiteFlags | None, site: str | None, op_type: str, busy: list[bool]
) -> tuple:
    """``built`` (the op helper's result) unchanged; with ``flags``, a run-time record of
    whether the op's first output is finite, tied to the step by a stateful op."""
    outputs = built[3] if len(built) > 3 else None
    if flags is None or site is None or not outputs or built[1]:  # a stateful op: not flagged
        return built
    first = outputs[0]
    if not isinstance(first, tf.Tensor) or not first.dtype.is_floating:
        return built
    if _tf_compat.built_by_gradient_tape(built[2]):
        # built at the tape.gradient line: no edit of a backward op is a user's code change
        return built
    index = len(flags.sites)
    flags.sites.append((site, op_type))
    inputs = [t for t in getattr(built[2], "inputs", ()) if t.dtype.is_floating]
    busy[0] = True
    try:
        # only an op that makes a non-finite value out of finite inputs counts (one that
        # passes on a NaN from a Keras layer is not where an edit would help)
        ok = tf.reduce_all(tf.math.is_finite(first))
        for tensor in inputs:
            ok = tf.logical_or(ok, tf.logical_not(tf.reduce_all(tf.math.is_finite(tensor))))
        tf.py_function(lambda flag, i=index: flags.record(i, flag) or [], [ok], [])
        if op_type in SINGULAR_AT_ZERO:
            at_zero = tf.reduce_any(tf.equal(first, 0.0))
            tf.py_function(lambda z, i=index: flags.record_singular(i, z) or [], [at_zero], [])
    finally:
        busy[0] = False
    return built


#: Library code between the op and the user's frame that makes the op not the user's own call
#: (a Keras layer, loss or model builds it: the user cannot edit that call at their line).
_INDIRECT = _tf_compat.KERAS_BUILDS_OPS_IN


def _within(site: str | None, file: str, span: tuple[int, int] | None) -> bool:
    if site is None or span is None:
        return False
    name, line = site.rsplit(":", 1)
    return name == file and span[0] <= int(line) <= span[1]


def _direct_user_site(source_map: dict) -> tuple[str | None, bool, bool]:
    """``file:line`` of the user frame that built the op directly (through op APIs only:
    ``tf.*``, ``keras.ops.*``, operators), else None; whether that frame was code autograph
    converted (its line is then its statement's); and whether it was reached without passing
    ``tf.function``'s own tracing code (False for the outputs and plumbing ``tf.function``
    adds after the step's code returned, whose nearest user frame is the step's caller)."""
    from nantrace.replay.capture import is_user_file

    frame = sys._getframe(2)
    inside = True
    while frame is not None:
        filename = frame.f_code.co_filename
        if any(marker in filename for marker in _INDIRECT):
            return None, False, False
        if any(marker in filename for marker in _TRACING):
            inside = False
        mapped = _mapped(f"{filename}:{frame.f_lineno}", source_map)
        if mapped and is_user_file(mapped.rsplit(":", 1)[0]):
            return mapped, bool(_GENERATED.search(filename)), inside
        frame = frame.f_back
    return None, False, False


#: TensorFlow's tracing code: a frame of it between an op and the user's frame means the op was
#: built by ``tf.function`` itself, not by the code it traced.
_TRACING = (
    "/tensorflow/python/framework/func_graph.py",
    "/tensorflow/python/eager/polymorphic_function/",
)


def _matching_op_types(edit: CallSiteEdit) -> set[str]:
    if edit.kind == "finite_constant":
        return set(MASK_VALUE_OPS)
    if edit.op_type == "Mean":
        return {"Mean"}
    if edit.kind == "divide_no_nan" or edit.op_type in {"RealDiv", "Div"}:
        return {"RealDiv", "Div"} | ({"Reciprocal"} if edit.op_type == "Reciprocal" else set())
    return {edit.op_type}


_GENERATED = re.compile(r"__autograph_generated_file")


def _mapped(site: str | None, source_map: dict) -> str | None:
    """A frame of autograph-converted code mapped back to the user's file and line."""
    if site is None or not _GENERATED.search(site):
        return site
    file, line = site.rsplit(":", 1)
    origin = source_map.get((file, int(line)))
    return f"{origin[0]}:{origin[1]}" if origin else site


def _like(value: Any, other: Any) -> Any:
    if isinstance(value, tf.Tensor | tf.Variable):
        return tf.convert_to_tensor(value)
    dtype = getattr(other, "dtype", None)
    return (
        tf.convert_to_tensor(value, dtype=dtype)
        if dtype is not None
        else tf.convert_to_tensor(value)
    )
