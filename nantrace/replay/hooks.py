"""Patches that let nantrace see a training step from the inside, with no hint from the user.

While a watched step is traced (or replayed), calls to ``tf.GradientTape.gradient``, Keras optimizer
``apply``/``apply_gradients``, Keras ``Layer.__call__``/``Loss.__call__`` (the same of ``tf_keras``,
Keras 2, once the user imported it, with its legacy optimizers' fused updates), ``next()`` on a
``tf.data`` iterator and every in-place variable write are reported to the active
:class:`StepObserver`. Outside a watched step no observer is active and each patch is a single
context-variable lookup, except that an eager variable write (and a ``tf.train.Checkpoint``
``read`` / ``restore``) is reported to the live guards (``listen_to_writes``): it makes their
anchor stale.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import keras
import tensorflow as tf

from nantrace.compat import tf as _tf_compat


class StepObserver:
    """Receives the events of one step. Subclasses override what they need."""

    suspended: bool = False

    def gradient_start(self, tape: Any, target: Any, sources: Any) -> None: ...

    def gradient_end(self, tape: Any, target: Any, sources: Any, result: Any) -> None: ...

    def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None: ...

    def apply_end(self, optimizer: Any) -> None: ...

    def run_apply(self, optimizer: Any, call: Callable[[], Any]) -> Any:
        """Run the optimizer's update (``call``); the guard overrides this to gate it."""
        return call()

    def before_write(self, variable: tf.Variable) -> None: ...

    def run_next(self, iterator: Any, call: Callable[[], Any]) -> Any:
        """Pull the next batch of a ``tf.data`` iterator (``call``); the guard records it,
        the replay hands back the batch the tripping step consumed instead."""
        return call()

    def layer_enter(self, layer: Any) -> None: ...

    def layer_exit(self, layer: Any) -> None: ...

    def loss_enter(self, loss: Any) -> None: ...

    def loss_exit(self, loss: Any) -> None: ...


_observer: contextvars.ContextVar[StepObserver | None] = contextvars.ContextVar(
    "nantrace_observer", default=None
)
_apply_depth: contextvars.ContextVar[int] = contextvars.ContextVar("nantrace_apply", default=0)
#: told of every variable written eagerly while no step is observed (``written_outside``): the
#: guards, whose anchor such a write makes stale; held weakly
_write_listeners: weakref.WeakSet[Any] = weakref.WeakSet()
#: nantrace putting state back itself (a snapshot's restore): not a write for the listeners
_own_writes: contextvars.ContextVar[bool] = contextvars.ContextVar("nantrace_own", default=False)
_lock = threading.Lock()
_install_count = 0
_originals: list[tuple[type, str, Any]] = []


#: The observer of the step being traced, for threads the trace spawns (tf.distribute's
#: MirroredStrategy traces each replica's function in its own thread, where context
#: variables set by the tracing thread are not visible).
_traced_observer: StepObserver | None = None


def active_observer() -> StepObserver | None:
    observer = _observer.get()
    if observer is None:
        observer = _traced_observer
    if observer is None or observer.suspended:
        return None
    return observer


@contextlib.contextmanager
def observing(observer: StepObserver) -> Iterator[StepObserver]:
    """Make ``observer`` receive the events of the code run inside the block."""
    global _traced_observer
    with installed():
        if not _legacy_installed:
            with _lock:
                _install_legacy_keras()
        token = _observer.set(observer)
        previous = _traced_observer
        _traced_observer = observer
        try:
            yield observer
        finally:
            _traced_observer = previous
            _observer.reset(token)


@contextlib.contextmanager
def suspended(observer: StepObserver | None) -> Iterator[None]:
    """Silence ``observer`` while nantrace itself reads or restores variables."""
    if observer is None:
        yield
        return
    previous = observer.suspended
    observer.suspended = True
    try:
        yield
    finally:
        observer.suspended = previous


def _defining_class(cls: type, name: str) -> type:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    raise AttributeError(f"{cls.__name__} has no attribute {name}")


def _patch(cls: type, name: str, make: Callable[[Any], Any]) -> None:
    original = vars(cls)[name]
    _originals.append((cls, name, original))
    setattr(cls, name, functools.wraps(original)(make(original)))


def _gradient_patch(original: Any) -> Any:
    def gradient(self: Any, target: Any, sources: Any, *args: Any, **kwargs: Any) -> Any:
        observer = active_observer()
        if observer is None:
            return original(self, target, sources, *args, **kwargs)
        observer.gradient_start(self, target, sources)
        result = original(self, target, sources, *args, **kwargs)
        observer.gradient_end(self, target, sources, result)
        return result

    return gradient


def _apply_patch(original: Any) -> Any:
    def apply(self: Any, grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
        observer = active_observer()
        if observer is None:
            return original(self, grads_and_vars, *args, **kwargs)
        if not isinstance(grads_and_vars, (list, tuple)):
            grads_and_vars = list(grads_and_vars)  # a zip() iterator can be read only once
        depth = _apply_depth.get()
        token = _apply_depth.set(depth + 1)
        try:
            if depth == 0:
                grads, variables = _split_grads_and_vars(grads_and_vars, args, kwargs)
                observer.apply_start(self, grads, variables)
            if depth == 0:
                result = observer.run_apply(
                    self, lambda: original(self, grads_and_vars, *args, **kwargs)
                )
                observer.apply_end(self)
            else:
                result = original(self, grads_and_vars, *args, **kwargs)
            return result
        finally:
            _apply_depth.reset(token)

    return apply


def _split_grads_and_vars(first: Any, args: tuple, kwargs: dict) -> tuple[list, list]:
    """Accept both ``apply_gradients(zip(g, v))`` and ``apply(grads, variables)``."""
    variables = args[0] if args else kwargs.get("trainable_variables")
    if variables is None:
        pairs = list(first)
        if pairs and isinstance(pairs[0], tuple):
            return [g for g, _ in pairs], [v for _, v in pairs]
        return list(pairs), []
    return list(first), list(variables)


def _fused_patch(original: Any) -> Any:
    """A legacy (Keras 2) optimizer's ``_distributed_apply``: its fused kernels write each
    variable and its slots with no ``tf.Variable`` write method; announce them first."""

    def apply(self: Any, distribution: Any, grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
        observer = active_observer()
        if observer is not None:
            grads_and_vars = list(grads_and_vars)
            variables = [v for _, v in grads_and_vars if v is not None]
            for variable in _tf_compat.legacy_written_variables(self, variables):
                observer.before_write(variable)
        return original(self, distribution, grads_and_vars, *args, **kwargs)

    return apply


def _next_patch(original: Any) -> Any:
    def next_(self: Any, *args: Any, **kwargs: Any) -> Any:
        observer = active_observer()
        if observer is None:
            return original(self, *args, **kwargs)
        return observer.run_next(self, lambda: original(self, *args, **kwargs))

    return next_


def listen_to_writes(listener: Any) -> None:
    """Call ``listener.written_outside(variable)`` for each variable written eagerly outside
    any observed step (user code between steps: ``set_weights``, ``assign``), until
    ``listener`` is garbage."""
    _write_listeners.add(listener)


@contextlib.contextmanager
def own_writes() -> Iterator[None]:
    """nantrace's own writes in the block (a restore) are not reported to the listeners."""
    token = _own_writes.set(True)
    try:
        yield
    finally:
        _own_writes.reset(token)


def _tell_listeners(method: str, what: Any) -> None:
    """``listener.<method>(what)`` for each listener, for an eager write not nantrace's own."""
    if _write_listeners and not _own_writes.get() and tf.executing_eagerly():
        for listener in list(_write_listeners):
            getattr(listener, method)(what)


def _write_patch(original: Any) -> Any:
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        observer = active_observer()
        if observer is not None:
            observer.before_write(self)
        else:
            _tell_listeners("written_outside", self)
        return original(self, *args, **kwargs)

    return write


def _restore_patch(original: Any) -> Any:
    """``tf.train.Checkpoint.read`` / ``restore``: their restore ops write the variables
    without the write methods, so the listeners are told the state was replaced."""

    def restore(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        _tell_listeners("state_replaced", "a tf.train.Checkpoint restore")
        return result

    return restore


def _call_patch(enter: str, exit_: str) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            observer = active_observer()
            if observer is None:
                return original(self, *args, **kwargs)
            getattr(observer, enter)(self)
            try:
                return original(self, *args, **kwargs)
            finally:
                getattr(observer, exit_)(self)

        return call

    return make


def _install_patches() -> None:
    optimizer_base = _defining_class(keras.optimizers.Optimizer, "apply")
    _patch(tf.GradientTape, "gradient", _gradient_patch)
    _patch(optimizer_base, "apply", _apply_patch)
    _patch(
        _defining_class(keras.optimizers.Optimizer, "apply_gradients"),
        "apply_gradients",
        _apply_patch,
    )
    loss_scale = getattr(keras.optimizers, "LossScaleOptimizer", None)
    if loss_scale is not None and "apply" in vars(loss_scale):
        _patch(loss_scale, "apply", _apply_patch)
    for variable_class in _tf_compat.variable_classes():
        for name in _tf_compat.VARIABLE_WRITE_METHODS:
            if name in vars(variable_class):
                _patch(variable_class, name, _write_patch)
    _patch(
        _defining_class(keras.layers.Layer, "__call__"),
        "__call__",
        _call_patch("layer_enter", "layer_exit"),
    )
    _patch(
        _defining_class(keras.losses.Loss, "__call__"),
        "__call__",
        _call_patch("loss_enter", "loss_exit"),
    )
    for cls, name in _tf_compat.iterator_classes():
        _patch(cls, name, _next_patch)
    for name in ("read", "restore"):
        _patch(tf.train.Checkpoint, name, _restore_patch)
    _install_legacy_keras()


_legacy_installed = False
_LEGACY_PATCHES: dict[str, Callable[[Any], Any]] = {
    "apply": _apply_patch,
    "fused": _fused_patch,
    "layer": _call_patch("layer_enter", "layer_exit"),
    "loss": _call_patch("loss_enter", "loss_exit"),
}


def _install_legacy_keras() -> None:
    """Patch ``tf_keras`` once the user has imported it (checked again at each observed step,
    so an import after the first ``watch`` is seen too)."""
    global _legacy_installed
    if _legacy_installed:
        return
    targets = _tf_compat.legacy_keras_patch_targets()
    if targets is None:
        return
    for cls, name, role in targets:
        if name in vars(cls):
            _patch(cls, name, _LEGACY_PATCHES[role])
    _legacy_installed = True


_kept = False


def keep_installed() -> None:
    """Install the patches for the rest of the process (each is a no-op without an observer),
    so that an eager watched step does not pay for installing ~60 patches on every call."""
    global _install_count, _kept
    with _lock:
        if _kept:
            return
        if _install_count == 0:
            _install_patches()
        _install_count += 1
        _kept = True


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Keep the patches in place for the block (re-entrant, counted)."""
    global _install_count
    with _lock:
        if _install_count == 0:
            _install_patches()
        _install_count += 1
    try:
        yield
    finally:
        with _lock:
            _install_count -= 1
            if _install_count == 0:
                global _legacy_installed
                _legacy_installed = False
                while _originals:
                    cls, name, original = _originals.pop()
                    setattr(cls, name, original)
