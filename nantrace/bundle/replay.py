"""Replay a crash bundle: rebuild the tripping step in this process and run it again.

Nothing is imported without the user's explicit trust; even then only the step's module file
recorded at write time (its SHA-256 checked, those very bytes executed) and only the recorded
function, called with tensors, arrays and numbers. A ``model.fit`` model is rebuilt from
``model.json`` in Keras safe mode. The rebuilt step's variables are matched to the saved ones by
name, then by shape, and the pre-step state restored into them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
import sys
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from nantrace.bundle.format import MANIFEST, MODEL, SHA256_HEX, BundleError, is_warning
from nantrace.bundle.read import Bundle, SavedVariable
from nantrace.bundle.step import import_root, unwrap_step
from nantrace.report.records import Report

_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def replay_target(bundle: Bundle) -> str:
    """What replaying ``bundle`` would import and run, in words (for the refusal without trust).

    Raises :class:`BundleError` when the bundle cannot be replayed at all (a closure, a batch a
    bundle cannot store), so that the user is not asked to trust a replay that cannot happen.
    """
    if is_warning(bundle.report):
        raise BundleError(
            f"cannot replay: {bundle.path} is an early-warning bundle (nothing tripped, and its "
            "state is the one after the warning step); render it without --replay"
        )
    ref = bundle.function or {}
    keras_fit = not ref.get("importable") and ref.get("keras_train_step")
    if not ref.get("importable") and not keras_fit:
        raise BundleError(
            "cannot replay: "
            + (ref.get("reason") or "the bundle does not say how to import the step function")
        )
    batches = bundle.manifest.get("batches") or {}
    if not batches.get("replayable", False):
        raise BundleError(
            "cannot replay: the tripping batch holds "
            + ", ".join(str(u) for u in batches.get("unsupported") or ["values"])
            + ", which a bundle cannot store"
        )
    if keras_fit:
        model = (bundle.manifest.get("model") or {}).get("class_name") or "model"
        return f"rebuild the {model} described in {MODEL} (Keras safe mode) and run its train_step"
    return (
        f"import and run {ref.get('file')} (as module {ref.get('module')}) and call its "
        f"{ref.get('qualname')}"
    )


def check_replay(bundle: Bundle, trust: bool) -> None:
    """Everything that can be checked before anything is imported: the bundle is replayable,
    the user trusts it, the step's module file is unchanged, the batches hold only data."""
    target = replay_target(bundle)
    if not trust:
        raise BundleError(
            f"refusing to replay an untrusted bundle: --replay would {target}, as its "
            f"{MANIFEST} says; pass --trust (trust=True in Python) if you trust this bundle"
        )
    batches = bundle.manifest.get("batches") or {}
    for spec in (
        batches.get("trip"),
        *(batches.get("recent") or []),
        *(batches.get("since_anchor") or []),
    ):
        _check_data_only(spec)
    ref = bundle.function or {}
    if ref.get("importable"):
        _step_source(ref)


def _check_data_only(spec: Any) -> None:
    """Replay hands the step tensors, arrays and numbers only: no strings (a command line), no
    structure this nantrace does not write."""
    if not isinstance(spec, dict):
        raise BundleError("cannot replay: the bundle's batch structure is damaged")
    kind = spec.get("t")
    if kind == "value":
        value = spec.get("value")
        if value is not None and not isinstance(value, (bool, int, float)):
            raise BundleError(
                f"cannot replay: the bundle's batch holds a {type(value).__name__} value; "
                "replay passes only tensors, arrays and numbers to the step"
            )
    elif kind in ("list", "tuple"):
        for item in spec.get("items") or []:
            _check_data_only(item)
    elif kind == "dict":
        for item in (spec.get("items") or {}).values():
            _check_data_only(item)
    elif kind != "array":
        raise BundleError(
            f"cannot replay: the bundle's batch holds a {spec.get('type', kind)}, which replay "
            "does not pass to the step"
        )


def _step_source(ref: dict[str, Any]) -> bytes:
    """The bytes of the step's module file, only if its SHA-256 is the one recorded at write
    time (those very bytes are then executed, so the file cannot change in between)."""
    module, qualname, file = ref.get("module"), ref.get("qualname"), ref.get("file")
    recorded = ref.get("sha256")
    if not (isinstance(module, str) and _DOTTED_NAME.fullmatch(module)) or not (
        isinstance(qualname, str) and _DOTTED_NAME.fullmatch(qualname)
    ):
        raise BundleError(
            f"cannot replay: {str(module)[:60]}:{str(qualname)[:60]} is not a module and function "
            "name; the bundle is damaged"
        )
    if not isinstance(file, str) or not os.path.isabs(file) or not file.endswith(".py"):
        raise BundleError(
            "cannot replay: the bundle records no absolute path of the step's .py module file"
        )
    if not (isinstance(recorded, str) and SHA256_HEX.fullmatch(recorded)):
        raise BundleError(
            f"cannot replay: the bundle records no sha256 of {file} (written by an older "
            "nantrace), so it cannot check that file is the one that ran"
        )
    try:
        with open(file, "rb") as handle:
            source = handle.read()
    except FileNotFoundError:
        raise BundleError(
            f"cannot replay: the step's module file {file} is missing (moved or deleted since "
            "the bundle was written)"
        ) from None
    except OSError as error:
        raise BundleError(f"cannot replay: {file} cannot be read ({error.strerror})") from None
    now = hashlib.sha256(source).hexdigest()
    if now != recorded:
        raise BundleError(
            f"cannot replay: {file} changed since the bundle was written (sha256 {now[:12]}..., "
            f"recorded {recorded[:12]}...); restore the file as it was when the step tripped"
        )
    return source


@dataclass(frozen=True)
class ReplayOutcome:
    """What ``replay_bundle`` found.

    Attributes:
        report: the new report when the rebuilt step tripped again, else None.
        notes: what the rebuild did (restored variables, unmatched ones, history).
    """

    report: Report | None
    notes: tuple[str, ...]


def replay_bundle(bundle: Bundle, verify: bool = True, *, trust: bool = False) -> ReplayOutcome:
    """Rebuild the tripping step from ``bundle`` in this process and run it again.

    Needs ``trust=True``: without it nothing is imported (:class:`BundleError` says what would
    be). Imports the step's module file recorded at write time (refused if its SHA-256 changed;
    its module builds the model and optimizer) and calls only the function at the recorded
    qualified name, once it is checked to be a Python function of that file; a ``model.fit``
    model is rebuilt from ``model.json`` in Keras safe mode instead. It runs the step once on a
    healthy batch to create every variable it touches (optimizer slots included), restores the
    bundle's pre-step state into them, then runs the step under a fresh :func:`nantrace.watch`
    on the tripping batch. The recent healthy batches are handed to verification, the history
    is re-recorded so causes that need it see it.

    Raises :class:`BundleError` (one line) when the step cannot be rebuilt: not importable
    (``__main__``, a closure, a bound method), the file changed or is missing, the import
    fails, the name does not name the step, or the state does not fit.
    """
    check_replay(bundle, trust)
    ref = bundle.function or {}
    keras_fit = not ref.get("importable") and ref.get("keras_train_step")
    notes: list[str] = []
    model = None
    target = None if keras_fit else _import_step(ref, notes)  # before TensorFlow: may refuse

    import tensorflow as tf

    import nantrace
    from nantrace.compat import tf as _tf_compat
    from nantrace.errors import NonFiniteError
    from nantrace.replay import hooks
    from nantrace.replay.step import StateSnapshot, step_variables, unique_variables

    if keras_fit:  # model.fit: the model's own train_step, rebuilt from model.json
        base, model = _rebuild_keras_step(bundle, notes)
    else:
        base = target.fn if isinstance(target, nantrace.Watched) else target
    args, kwargs = bundle.batch(as_tensors=True)
    recent = bundle.recent(as_tensors=True)

    # 1. one eager run creates every variable the step touches (optimizer slots are built on
    #    the first apply) and shows which ones it writes; its effect is overwritten below. A
    #    healthy batch is used when there is one, so a NaN assert in user code cannot stop it
    #    before the optimizer is built.
    discovery = _discovery_observer()
    setup_args, setup_kwargs = recent[-1] if recent else (args, kwargs)
    try:
        with _tf_compat.functions_run_eagerly(), hooks.observing(discovery):
            unwrap_step(base)(*setup_args, **setup_kwargs)
    except Exception as error:  # a NaN-triggered assert is fine: the variables exist now
        notes.append(f"the set-up run raised {type(error).__name__}; continuing")

    watched = nantrace.watch(
        base,
        model=model,
        optimizer=getattr(model, "optimizer", None),
        on_nan="raise",
        anchor_every=0,
    )
    for optimizer in discovery.optimizers:
        if all(optimizer is not o for o in watched.optimizers):
            watched.optimizers.append(optimizer)
    for variable in discovery.written:
        watched.known_variables.setdefault(id(variable), variable)
    live = unique_variables(step_variables(watched))

    # 2. the pre-step state, matched by name, then by shape in order.
    saved = bundle.state()
    pairs, missing, extra = match_variables(saved, live)
    if missing:
        raise BundleError(
            f"cannot replay: {len(missing)} of the bundle's {len(saved)} variables have no "
            f"counterpart in the rebuilt step (first: {missing[0].name} "
            f"{list(missing[0].shape)}); does {ref['module']} still build the same model?"
        )
    for item, variable in pairs:
        variable.assign(tf.cast(tf.constant(item.value), variable.dtype), read_value=False)
    notes.append(f"restored {len(pairs)} variables from {os.path.basename(bundle.path)}")
    if extra:
        notes.append(
            f"{len(extra)} variable(s) of the rebuilt step are not in the bundle and keep their "
            f"import-time values (first: {extra[0].name})"
        )
    renamed = {item.name: variable.name for item, variable in pairs}

    # 3. the history before the trip, so evidence such as weight growth is seen again.
    history = bundle.history()
    if history is not None and watched.history is not None and len(history["steps"]) > 1:
        try:
            _refill_history(watched, history, renamed, discovery)
            notes.append(f"history of {len(history['steps']) - 1} healthy steps re-recorded")
        except Exception as error:
            notes.append(f"history not re-recorded ({type(error).__name__})")

    anchor = bundle.anchor()
    if anchor:
        watched.anchor = StateSnapshot(
            [(variable, anchor[item.key]) for item, variable in pairs if item.key in anchor]
        )
        watched.since_anchor = bundle.since_anchor(as_tensors=True)
        notes.append(
            f"anchor state of step {bundle.manifest['anchor']['step']} and "
            f"{len(watched.since_anchor)} batches since restored for verification"
        )
    watched.step = int(bundle.report.trip.step)
    watched.recent.extend(recent)
    watched.verify = verify
    snapshot = StateSnapshot.take(live)
    try:
        watched(*args, **kwargs)
    except NonFiniteError as error:
        report = error.report
        return ReplayOutcome(
            dataclasses.replace(
                report,
                bundle=bundle.path,
                notes=(
                    *report.notes,
                    f"re-diagnosed by nantrace report --replay from {bundle.path}",
                ),
            ),
            tuple(notes),
        )
    finally:
        snapshot.restore()
    return ReplayOutcome(None, tuple(notes))


def _rebuild_keras_step(bundle: Bundle, notes: list[str]) -> tuple[Any, Any]:
    """A ``model.fit`` bundle: rebuild and compile the model from ``model.json`` (Keras safe
    mode), and return its ``train_step`` compiled as ``model.fit`` compiles it."""
    configs = bundle.model_config() or {}
    config = configs.get("model") or {}
    compile_config = config.get("compile_config")
    if config.get("config") is None or not compile_config:
        raise BundleError(
            "cannot replay: this model.fit bundle has no serializable, compiled model config "
            f"({configs.get('model_error') or 'model.json lacks it'})"
        )
    import keras
    import tensorflow as tf

    from nantrace.compat import tf as _tf_compat

    try:
        # safe mode even if this process called keras.config.enable_unsafe_deserialization():
        # no lambda, Lambda layer or external SavedModel from the bundle is deserialized
        with _tf_compat.keras_safe_mode():
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
            if getattr(model, "optimizer", None) is None:
                model.compile_from_config(compile_config)
    except Exception as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if "safe_mode" in str(error):
            raise BundleError(
                f"cannot replay: the {config.get('class_name')} in {MODEL} holds Python code (a "
                "lambda, a Lambda layer or an external SavedModel), which nantrace never "
                "deserializes (Keras safe mode); to replay it, define the model and a train step "
                "in a module and watch that step, so that --replay --trust imports your file "
                "instead of model.json"
            ) from None
        raise BundleError(
            f"cannot replay: the {config.get('class_name')} in {MODEL} cannot be rebuilt "
            f"({type(error).__name__}: {text[:160]}); nantrace report imports none of your "
            "modules, so custom layers, losses or metrics are only found in Python: import the "
            "module that registers them (keras.saving.register_keras_serializable), then call "
            "nantrace.bundle.replay_bundle(nantrace.load_bundle(path), trust=True)"
        ) from None
    notes.append(f"rebuilt and compiled the {config.get('class_name')} from model.json")
    if compile_config.get("run_eagerly"):
        return model.train_step, model
    jit = bool(compile_config.get("jit_compile"))
    return tf.function(model.train_step, jit_compile=jit, reduce_retracing=True), model


def _import_step(ref: dict[str, Any], notes: list[str]) -> Any:
    """The object at the recorded ``module:qualname``, from the recorded module file only.

    The file is read once, its SHA-256 checked, and exactly those bytes executed as the module
    (never a same-named module found on ``sys.path`` or in the current folder). The object must
    be, or wrap, a Python function of that file with that qualified name: the step, not
    ``os.system`` or another function of a module a manifest names.
    """
    module_name, qualname, file = ref["module"], ref["qualname"], ref["file"]
    source = _step_source(ref)
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        loaded_file = getattr(loaded, "__file__", None)
        if not (loaded_file and _same_file(loaded_file, file)):
            raise BundleError(
                f"cannot replay: a module named {module_name} is already imported here from "
                f"{loaded_file or 'the interpreter itself'}, not from {file}"
            )
        module = loaded
    else:
        module = _exec_module(module_name, file, source, notes)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise BundleError(f"cannot replay: {file} has no {qualname} any more; was it renamed?")
    fn = unwrap_step(obj)
    code = getattr(fn, "__code__", None)
    if not (
        isinstance(fn, types.FunctionType)
        and fn.__qualname__ == qualname
        and fn.__module__ == module_name
        and code is not None
        and _same_file(code.co_filename, file)
    ):
        raise BundleError(
            f"cannot replay: {module_name}:{qualname} is a {type(fn).__name__}, not the step "
            f"function defined in {file}; refusing to call it"
        )
    return obj


def _exec_module(module_name: str, file: str, source: bytes, notes: list[str]) -> Any:
    """Import ``source`` (the checked bytes of ``file``) as ``module_name``. Its folder on
    ``sys.path`` (derived from the file, not read from the manifest) lets it import its
    siblings and package, which are imported as they are now."""
    root = import_root(file, module_name)
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None:
        raise BundleError(f"cannot replay: {file} cannot be imported as {module_name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        exec(compile(source, file, "exec", dont_inherit=True), module.__dict__)
    except Exception as error:
        sys.modules.pop(module_name, None)
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BundleError(
            f"cannot replay: importing {file} raised {type(error).__name__}: {text[:200]}"
        ) from None
    notes.append(f"imported {module_name} from {file} (sha256 as recorded)")
    return module


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _discovery_observer() -> Any:
    """A step observer that only records the variables a step writes and its optimizers."""
    from nantrace.replay import hooks

    class Discovery(hooks.StepObserver):
        def __init__(self) -> None:
            self.written: list[Any] = []
            self.optimizers: list[Any] = []
            self._seen: set[int] = set()

        def before_write(self, variable: Any) -> None:
            if id(variable) not in self._seen:
                self._seen.add(id(variable))
                self.written.append(variable)

        def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None:
            if all(optimizer is not o for o in self.optimizers):
                self.optimizers.append(optimizer)

    return Discovery()


def match_variables(
    saved: list[SavedVariable], live: list[Any]
) -> tuple[list[tuple[SavedVariable, Any]], list[SavedVariable], list[Any]]:
    """Pair saved variables with the rebuilt step's: same name and shape first, then the same
    name without Keras' ``_N`` suffixes, then in order among those of the same shape and dtype
    (a fresh process may number layers differently)."""

    def key(name: str) -> str:
        import re

        return re.sub(r"_\d+(?=/|:|$)", "", name)

    def fits(item: SavedVariable, variable: Any) -> bool:
        return tuple(item.shape) == tuple(int(d) for d in variable.shape) and (
            item.dtype == variable.dtype.name
        )

    pairs: list[tuple[SavedVariable, Any]] = []
    left_saved = list(range(len(saved)))  # indices: variables and arrays have no plain ==
    left_live = list(range(len(live)))
    for naming in (lambda name: name, key):
        live_names: dict[str, list[int]] = {}
        for j in left_live:
            live_names.setdefault(naming(live[j].name), []).append(j)
        saved_names: dict[str, list[int]] = {}
        for i in left_saved:
            saved_names.setdefault(naming(saved[i].name), []).append(i)
        for name, found in saved_names.items():
            candidates = live_names.get(name, [])
            if (
                len(found) == 1
                and len(candidates) == 1
                and fits(saved[found[0]], live[candidates[0]])
            ):
                pairs.append((saved[found[0]], live[candidates[0]]))
                left_saved.remove(found[0])
                left_live.remove(candidates[0])
    for i in list(left_saved):
        j = next((j for j in left_live if fits(saved[i], live[j])), None)
        if j is not None:
            pairs.append((saved[i], live[j]))
            left_saved.remove(i)
            left_live.remove(j)
    return pairs, [saved[i] for i in left_saved], [live[j] for j in left_live]


def _refill_history(
    watched: Any, history: dict[str, np.ndarray], renamed: dict[str, str], discovery: Any
) -> None:
    """Record the bundle's healthy history rows into the fresh watched step's ring buffers,
    with the column order the guard will use (written float variables, optimizer's excluded)."""
    import tensorflow as tf

    from nantrace.compat import tf as _tf_compat

    optimizer_owned = set()
    for optimizer in discovery.optimizers:
        for variable in getattr(optimizer, "variables", []):
            inner = _tf_compat.as_tf_variable(variable)
            optimizer_owned.add(id(inner if inner is not None else variable))
    columns = tuple(
        v.name for v in discovery.written if id(v) not in optimizer_owned and v.dtype.is_floating
    )
    saved_names = [str(n) for n in history["names"]]
    by_new_name = {renamed.get(n, n): i for i, n in enumerate(saved_names)}
    rows = len(history["steps"]) - 1  # the last row is the tripping step; it runs again
    for row in range(rows):
        squares = []
        for name in columns:
            index = by_new_name.get(name)
            value = history["weight_norm"][row, index] if index is not None else np.nan
            squares.append(float(value) ** 2)
        watched.history.record(
            tf.constant(float(history["loss"][row]), tf.float32),
            tf.constant(float(history["grad_norm"][row]) ** 2, tf.float32),
            tf.constant(squares, tf.float32, shape=[len(squares)]),
            columns,
        )
