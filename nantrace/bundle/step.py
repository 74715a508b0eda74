"""How to find the step function and its model again: what a bundle records about them.

At write time: the step's module, qualified name, module file and that file's SHA-256, and
whether importing that name gives back this very function (if not, why: a script's
``__main__``, a closure, a bound method); and the Keras model's and optimizers' serialized
configs, where reachable. Replay reads the same records (``unwrap_step``, ``import_root``) to
import only that file and call only that function.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from nantrace.bundle.format import file_sha256


def model_configs(watched: Any) -> dict[str, Any]:
    """Serialized configs of the Keras model and optimizers, where reachable (best effort)."""
    keras = sys.modules.get("keras")
    if keras is None:
        return {}
    out: dict[str, Any] = {}
    model = find_model(watched)
    if model is not None:
        try:
            out["model"] = keras.saving.serialize_keras_object(model)
        except Exception as error:  # subclassed models without get_config
            out["model"] = {"class_name": type(model).__name__, "config": None}
            out["model_error"] = f"{type(error).__name__}: {str(error)[:200]}"
    optimizers = []
    for optimizer in getattr(watched, "optimizers", []):
        try:
            optimizers.append(keras.saving.serialize_keras_object(optimizer))
        except Exception:
            optimizers.append({"class_name": type(optimizer).__name__, "config": None})
    if optimizers:
        out["optimizers"] = optimizers
    return out


def find_model(watched: Any) -> Any:
    """The Keras model of a watched step: the ``model=`` hint, the model a bound
    ``Model.train_step`` belongs to, or a model the step function names (global or closure)."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    if isinstance(getattr(watched, "model", None), keras.Model):
        return watched.model
    fn = getattr(watched, "python_fn", None)
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, keras.Model):
        return owner
    try:
        import inspect

        names = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return None
    candidates = [
        value
        for value in (*names.nonlocals.values(), *names.globals.values())
        if isinstance(value, keras.Model)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda m: sum(int(np.prod(v.shape)) for v in m.variables))


def function_reference(watched: Any) -> dict[str, Any]:
    """How to import the step function again: ``module``, ``qualname``, whether that import
    gives back this very function, and if not, why (a script's ``__main__``, a closure...)."""
    fn = getattr(watched, "python_fn", None)
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    ref: dict[str, Any] = {
        "module": module,
        "qualname": qualname,
        "compiled": bool(getattr(watched, "compiled", False)),
        "jit_compile": bool(getattr(watched, "jit_compile", False)),
        "importable": False,
        "reason": None,
        "file": None,
        "sha256": None,
        "import_root": None,
        "keras_train_step": False,
    }
    try:
        import inspect

        source = inspect.getsourcefile(fn)
    except (TypeError, OSError):
        source = None
    if source and os.path.isfile(source):
        # the one file replay may import, and its checksum: replay refuses it once it changed
        ref["file"] = os.path.abspath(source)
        ref["sha256"] = file_sha256(ref["file"])
    if module and ref["file"] and module != "__main__":
        ref["import_root"] = import_root(ref["file"], module)
    owner = getattr(fn, "__self__", None)
    keras = sys.modules.get("keras")
    ref["keras_train_step"] = bool(
        keras is not None
        and isinstance(owner, keras.Model)
        and getattr(fn, "__name__", "") == "train_step"
    )
    ref["reason"] = _not_importable_reason(fn, module, qualname)
    ref["importable"] = ref["reason"] is None
    return ref


def import_root(file: str, module: str) -> str:
    """The folder on ``sys.path`` from which ``file`` imports as ``module``."""
    depth = module.count(".") + 1
    root = os.path.dirname(os.path.abspath(file))
    if os.path.basename(file) == "__init__.py":
        depth += 1
    for _ in range(depth - 1):
        root = os.path.dirname(root)
    return root


def _not_importable_reason(fn: Any, module: str | None, qualname: str | None) -> str | None:
    if fn is None or not module or not qualname:
        return "the step function has no module or qualified name"
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        return (
            f"the step is a bound method of a {type(owner).__name__} object "
            f"({qualname}); a method of one object cannot be imported by name"
        )
    if module == "__main__":
        return (
            f"{qualname} is defined in __main__ (a script run directly); move the step, model "
            "and optimizer into an importable module to replay it in another process"
        )
    if "<locals>" in qualname or "<lambda>" in qualname:
        return (
            f"{module}:{qualname} is defined inside another function (a closure or lambda); "
            "define the step at module level to replay it in another process"
        )
    loaded = sys.modules.get(module)
    if loaded is None:
        return f"module {module} is not imported under that name"
    obj: Any = loaded
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return f"{module}:{qualname} does not name the step function"
    if unwrap_step(obj) is not fn:
        return f"{module}:{qualname} names another object than the watched step function"
    return None


def unwrap_step(obj: Any) -> Any:
    """The Python function under a ``Watched``, a ``tf.function`` or ``functools.wraps``."""
    for _ in range(8):
        inner = getattr(obj, "python_fn", None)  # nantrace.Watched
        if inner is None:
            inner = getattr(obj, "python_function", None)  # tf.function
        if inner is None:
            inner = getattr(obj, "__wrapped__", None)
        if inner is None or inner is obj:
            return obj
        obj = inner
    return obj
