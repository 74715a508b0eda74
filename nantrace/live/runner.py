"""``nantrace run SCRIPT.py``: run an unmodified training script with its training steps watched.

The user changes no line of the script. While it runs:

* ``tf.function`` is replaced by a version whose functions decide on their first call whether
  they are training steps: the original function is traced once with an observer that listens
  for a Keras optimizer ``apply``/``apply_gradients``; if one is seen the function is handed to
  :class:`nantrace.live.guard.Watched` (step 0 included), otherwise it runs untouched. The function
  stays a ``tf.function`` (a subclass of its class, see :func:`_auto_watch_class`). Functions
  of TensorFlow, Keras and nantrace themselves are never wrapped.
* ``keras.Model.fit`` adds a :class:`nantrace.keras.NanTraceCallback` unless one is passed.
* an eager (plain Python) step function that applies gradients is replaced in its module's
  namespace by a watched one when its first call applies them: it is watched from its second
  call on. A loop written at module level has no function to wrap; the run says so at the end.

Every patch is undone when the script ends. The script runs as ``__main__`` with
``sys.argv = [SCRIPT, *ARGS]`` and its folder first on ``sys.path``, as ``python SCRIPT.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import runpy
import sys
import traceback
import types
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nantrace.errors import NantraceError

ON_NAN_MODES = ("raise", "warn")

#: Functions from these packages are never wrapped (Keras' own train function, nantrace's).
_LIBRARY_MODULES = ("tensorflow", "keras", "tf_keras", "nantrace", "tensorboard", "numpy")

#: nantrace files on the path from the command line to the user's script. A frame of any other
#: nantrace file under an eager optimizer call means nantrace itself runs the step (replay,
#: verification), not the user; these do not.
_OWN_FILES = frozenset({"runner.py", "hooks.py", "main.py", "run.py", "output.py", "__main__.py"})


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What ``run_script`` saw: the script's exit code and every watched step's reports."""

    exit_code: int
    #: reports of tripped steps, oldest first (the first is the first non-finite step).
    reports: tuple[Any, ...]
    #: one line per watched step: its name and how many steps ran under the guard.
    watched: tuple[str, ...]
    #: True when a step tripped under ``on_nan="raise"`` (the run's exit code is then 1).
    raised: bool
    #: things the run could not watch, one line each (a module-level eager loop...).
    notes: tuple[str, ...]


def _is_library(fn: Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARY_MODULES


class _Runner:
    """State of one ``run_script`` call: the settings and everything that was watched."""

    def __init__(
        self, on_nan: str, bundle_dir: str | None, script: str, log_dir: str | None = None
    ) -> None:
        self.on_nan = on_nan
        self.bundle_dir = bundle_dir
        self.log_dir = log_dir
        self.writers: list[tuple[Any, Any]] = []  # (Watched, TensorBoardWriter)
        self.script = os.path.abspath(script)
        self.watched: list[Any] = []  # Watched objects, in creation order
        self.callbacks: list[Any] = []  # NanTraceCallbacks added to fit
        self.fit_callbacks: dict[int, Any] = {}  # id(model) -> its callback (models kept alive
        # by the callback's own reference, so an id is not reused during the run)
        self.notes: list[str] = []
        self.probing: list[bool] = []  # a stack: set to True when the probed trace applies
        self.classes: dict[type, type] = {}  # tf.function's class -> its AutoWatched subclass
        self.auto_functions: weakref.WeakSet = weakref.WeakSet()
        self.handled_codes: set[Any] = set()

    def new_watched(self, fn: Callable[..., Any]) -> Any:
        from nantrace.live.guard import Watched

        watched = Watched(fn, on_nan=self.on_nan, bundle_dir=self.bundle_dir)
        self.watched.append(watched)
        if self.log_dir is None:
            return watched
        from nantrace.live.tensorboard import TensorBoardWriter

        writer = TensorBoardWriter(self.log_subdir(watched.name))
        self.writers.append((watched, writer))
        return _Logged(watched, writer)

    def log_subdir(self, name: str) -> str:
        """``log_dir/<step name>``: one TensorBoard run per watched step (``_2`` on a clash)."""
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "step"
        taken = {os.path.basename(w.log_dir) for _, w in self.writers}
        taken |= {os.path.basename(c.log_dir) for c in self.callbacks if c.log_dir}
        chosen, number = base, 1
        while chosen in taken:
            number += 1
            chosen = f"{base}_{number}"
        return os.path.join(str(self.log_dir), chosen)

    def close_writers(self) -> None:
        for watched, writer in self.writers:
            writer.flush(watched)
            writer.close()

    def note(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)

    def all_watched(self) -> list[tuple[str, Any]]:
        found = [(w.name, w) for w in self.watched]
        seen = {id(w) for _, w in found}
        for callback in self.callbacks:
            function = getattr(callback, "_function", None)
            watched = getattr(function, "watched", None)
            if watched is not None and id(watched) not in seen:
                seen.add(id(watched))
                found.append(("model.fit", watched))
        return found


def _observer_class() -> type:
    from nantrace.replay import hooks

    class RunObserver(hooks.StepObserver):
        """Active for the whole script (outside watched steps): hears optimizer applies."""

        def __init__(self, runner: _Runner) -> None:
            self.runner = runner

        def apply_start(self, optimizer: Any, grads: list[Any], variables: list[Any]) -> None:
            import tensorflow as tf

            if not tf.executing_eagerly():
                if self.runner.probing:
                    self.runner.probing[-1] = True
                return
            _wrap_eager_caller(self.runner)

    return RunObserver


def _wrap_eager_caller(runner: _Runner) -> None:
    """An eager optimizer apply outside any watched step: watch the user's function making it."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(1)
    user_frame = None
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if filename.startswith(package + os.sep):
            if os.path.basename(filename) not in _OWN_FILES:
                return  # nantrace's own replay or verification runs the step: not the user
        elif user_frame is None and not _library_file(filename):
            user_frame = frame
        frame = frame.f_back
    if user_frame is None or user_frame.f_code in runner.handled_codes:
        return
    code = user_frame.f_code
    runner.handled_codes.add(code)
    where = f"{os.path.basename(code.co_filename)}:{user_frame.f_lineno}"
    if code.co_name == "<module>":
        runner.note(
            f"an eager training loop at module level ({where}) applies gradients outside any "
            "function: nantrace can only watch a step function; put the step in a function "
            "(or decorate it with tf.function)"
        )
        return
    candidate = user_frame.f_globals.get(code.co_name)
    if getattr(candidate, "__code__", None) is not code:
        runner.note(
            f"the eager step {getattr(code, 'co_qualname', code.co_name)} ({where}) is a method "
            "or nested function; "
            "nantrace run watches module-level step functions and tf.function steps only"
        )
        return
    step = runner.new_watched(candidate)
    runner.watched[-1].step = 1  # its first call (this one) ran unwatched; keep step numbers
    user_frame.f_globals[code.co_name] = step


def _library_file(filename: str) -> bool:
    parts = filename.split(os.sep)
    if any(part in ("site-packages", "dist-packages") for part in parts):
        return True
    return filename.startswith(os.path.dirname(os.__file__) + os.sep) or filename.startswith("<")


class _Logged:
    """A watched step that also writes its history to TensorBoard every FLUSH_EVERY calls and
    after a trip (``nantrace run --log-dir``)."""

    def __init__(self, watched: Any, writer: Any) -> None:
        from nantrace.live.tensorboard import FLUSH_EVERY

        self.watched = watched
        self.writer = writer
        self._every = FLUSH_EVERY
        self._chunk = watched.step // FLUSH_EVERY
        functools.update_wrapper(self, watched, updated=())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.watched, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from nantrace.errors import NonFiniteError

        reports = len(self.watched.reports)
        try:
            outputs = self.watched(*args, **kwargs)
        except NonFiniteError:
            self.writer.flush(self.watched)
            raise
        chunk = self.watched.step // self._every
        if chunk != self._chunk or len(self.watched.reports) != reports:
            self._chunk = chunk
            self.writer.flush(self.watched)
        return outputs


_TARGET = "_nantrace_target"  # set on a function's instance dict once its first call decided


def _auto_watch_class(runner: _Runner, base: type) -> type:
    """A subclass of tf.function's own class whose first call decides whether it is a training
    step (it applies gradients): then later calls go to a watched step, otherwise to the
    function itself.

    A subclass, not a wrapper object: the function stays a ``tf.function`` for everything else
    (``isinstance`` checks, ``tf.saved_model.save`` finding it on a ``tf.Module``, methods
    bound per instance, which TensorFlow builds as ``type(function)(...)``).
    """
    cached = runner.classes.get(base)
    if cached is not None:
        return cached

    class AutoWatched(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:  # a method bound per instance
            super().__init__(*args, **kwargs)
            runner.auto_functions.add(self)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            target = self.__dict__.get(_TARGET)
            if target is None:
                import tensorflow as tf

                if not tf.executing_eagerly():  # inside another tf.function: pass through
                    return base.__call__(self, *args, **kwargs)
                target = _decide(runner, self, args, kwargs)
                self.__dict__[_TARGET] = target
            if target is base:
                return base.__call__(self, *args, **kwargs)
            return target(*args, **kwargs)

    AutoWatched.__name__ = base.__name__
    AutoWatched.__qualname__ = base.__qualname__
    runner.classes[base] = AutoWatched
    return AutoWatched


def _decide(runner: _Runner, function: Any, args: tuple, kwargs: dict) -> Any:
    """Trace ``function`` once for these arguments with the run's observer listening: a
    watched step if the trace applied gradients, else ``type(function)``'s base (unwatched)."""
    base = type(function).__mro__[1]
    runner.probing.append(False)
    try:
        function.get_concrete_function(*args, **kwargs)
    except Exception:  # the real call raises the user's own error, unwatched
        return base
    finally:
        applies = runner.probing.pop()
    if not applies:
        return base
    return runner.new_watched(function)


def _restore_functions(runner: _Runner) -> None:
    """After the run: every tf.function made during it is a plain tf.function again."""
    for function in list(runner.auto_functions):
        function.__class__ = type(function).__mro__[1]
        function.__dict__.pop(_TARGET, None)
    runner.auto_functions.clear()


def _tf_function_patch(runner: _Runner, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def function(func: Any = None, *args: Any, **kwargs: Any) -> Any:
        if func is None:
            return lambda f: function(f, *args, **kwargs)
        compiled = original(func, *args, **kwargs)
        if _is_library(func) or not hasattr(compiled, "get_concrete_function"):
            return compiled
        try:
            compiled.__class__ = _auto_watch_class(runner, type(compiled))
        except TypeError:  # a class that cannot be re-classed: leave it unwatched
            return compiled
        runner.auto_functions.add(compiled)
        return compiled

    return function


def _fit_patch(runner: _Runner, original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        from nantrace.compat import tf as _tf_compat
        from nantrace.keras import NanTraceCallback

        bound = signature.bind(self, *args, **kwargs)
        callbacks = list(bound.arguments.get("callbacks") or [])
        # a NanTraceCallback passed by the script, or nantrace.watch(model) already done
        watched_already = any(isinstance(c, NanTraceCallback) for c in callbacks) or isinstance(
            vars(self).get("make_train_function"), types.FunctionType
        )
        if not watched_already:
            strategy = getattr(self, "distribute_strategy", None)
            refusal = None
            if not _tf_compat.is_default_strategy(strategy):
                from nantrace.errors import NantraceError
                from nantrace.live.distributed import check_supported

                try:
                    check_supported(strategy, "model.fit")
                except NantraceError as error:
                    refusal = error
            if refusal is not None:
                runner.note(f"model.fit is not watched: {refusal}")
            else:
                # one callback per model, reused by its later fit() calls (a loop of
                # fit(epochs=1) keeps one guarded function and one TensorBoard run)
                callback = runner.fit_callbacks.get(id(self))
                if callback is None:
                    log_dir = runner.log_subdir("fit") if runner.log_dir is not None else None
                    callback = NanTraceCallback(
                        on_nan=runner.on_nan, bundle_dir=runner.bundle_dir, log_dir=log_dir
                    )
                    runner.fit_callbacks[id(self)] = callback
                    runner.callbacks.append(callback)
                callbacks.append(callback)
                bound.arguments["callbacks"] = callbacks
        return original(*bound.args, **bound.kwargs)

    return fit


@contextmanager
def _patched(runner: _Runner) -> Iterator[None]:
    """tf.function, keras.Model.fit and the run-wide observer, for the block; all undone."""
    import keras
    import tensorflow as tf

    from nantrace.replay import hooks

    original_function = tf.function
    had_fit = "fit" in vars(keras.Model)
    original_fit = vars(keras.Model).get("fit")
    tf.function = _tf_function_patch(runner, original_function)
    keras.Model.fit = _fit_patch(runner, keras.Model.fit)
    try:
        with hooks.observing(_observer_class()(runner)):
            yield
    finally:
        tf.function = original_function
        _restore_functions(runner)
        if had_fit:
            keras.Model.fit = original_fit
        else:
            del keras.Model.fit


@contextmanager
def _script_context(script: str, args: list[str]) -> Iterator[None]:
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        yield
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path


def _exit_code(error: SystemExit) -> int:
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_script(
    script: str,
    args: list[str] | None = None,
    on_nan: str = "raise",
    bundle_dir: str | None = None,
    log_dir: str | None = None,
) -> RunOutcome:
    """Run ``script`` as ``python script ARGS`` would, with its training steps watched.

    ``log_dir``: write each watched step's history and reports as TensorBoard events under
    ``log_dir/<step name>`` (``log_dir/fit`` for ``model.fit``), see
    :mod:`nantrace.live.tensorboard`.

    A step that trips under ``on_nan="raise"`` ends the script (its NonFiniteError is the
    run's result, not a traceback); under ``"warn"`` the step is skipped and the script goes on.
    The script's own exceptions print their traceback and give exit code 1, like Python.
    """
    if on_nan not in ON_NAN_MODES:
        raise NantraceError(
            f"nantrace run: --on-nan must be one of {', '.join(ON_NAN_MODES)}; received {on_nan!r}"
        )
    if not os.path.isfile(script):
        raise NantraceError(f"no such script: {script!r}")
    from nantrace.compat.quiet import import_tensorflow_quietly
    from nantrace.errors import NonFiniteError

    import_tensorflow_quietly()
    runner = _Runner(on_nan, bundle_dir, script, log_dir)
    raised = False
    with _script_context(script, list(args or [])), _patched(runner):
        try:
            runpy.run_path(script, run_name="__main__")
            exit_code = 0
        except SystemExit as error:
            exit_code = _exit_code(error)
        except NonFiniteError:
            raised = True
            exit_code = 1
        except KeyboardInterrupt:
            raise
        except BaseException:
            _print_script_traceback()
            exit_code = 1
        finally:
            runner.close_writers()
    watched = runner.all_watched()
    reports = tuple(report for _, w in watched for report in w.reports)
    for _, w in watched:  # the run prints its own closing line; no per-step exit summary
        w._tally.summarized = w.trips
    if on_nan == "raise" and reports:
        raised = True
    return RunOutcome(
        exit_code=1 if raised else exit_code,
        reports=reports,
        watched=tuple(f"{name} ({w.step} steps)" for name, w in watched),
        raised=raised,
        notes=tuple(runner.notes),
    )


def _print_script_traceback() -> None:
    """The script's own error, as Python prints it, without nantrace's and runpy's frames."""
    kind, error, tb = sys.exc_info()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while tb is not None and (
        tb.tb_frame.f_code.co_filename.startswith(here + os.sep)
        or os.path.basename(tb.tb_frame.f_code.co_filename) == "runpy.py"
    ):
        tb = tb.tb_next
    traceback.print_exception(kind, error, tb, file=sys.stderr)
