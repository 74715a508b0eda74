"""A code fix that needs the same edit at several ops (``nantrace.diagnosis.further_sites``).

The probe that finds where a replay still trips runs a real traced step (flags put in by the
op-building hook); the snippet of several edits is the user's lines, one per statement.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from nantrace.diagnosis.call_site import CallSiteEdit
from nantrace.diagnosis.call_site_replay import SiteFlags, simulating_each
from nantrace.diagnosis.further_sites import (
    MAX_SITES,
    combined_snippet,
    edits_of,
    locate_trip,
    next_edit,
)

SOURCE = textwrap.dedent(
    """
    import keras
    import tensorflow as tf

    W = tf.Variable([[1.0], [0.0]])


    class LogRatio(keras.layers.Layer):  # a layer's call: code autograph does not convert
        def call(self, x, y):
            ratio = tf.nn.relu(tf.matmul(x, W)) / y  # LAYERDIV
            return tf.math.log(ratio)  # LAYERLOG


    def log_ratio(x, y):
        p = tf.nn.relu(tf.matmul(x, W))
        ratio = p / y  # DIV
        return tf.reduce_mean(tf.square(tf.math.log(ratio)))  # LOG


    def log_of_a_ratio_on_one_line(x, y):
        p = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_mean(tf.math.log(p / y))  # ONE


    def spread(x, y):
        p = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_mean(tf.math.log(  # SPREAD
            p / y
        ))


    def two_distances(x, y):
        with tf.GradientTape() as tape:
            p = tf.matmul(x, W)
            first = tf.sqrt(tf.reduce_sum(tf.square(p - y), axis=-1))  # FIRSTSQRT
            second = tf.sqrt(tf.reduce_sum(tf.square(2.0 * (p - y)), axis=-1))  # SECONDSQRT
            loss = tf.reduce_mean(first + second)
        return tf.reduce_sum(tape.gradient(loss, W))  # TAPE


    def two_norms(x, y):
        with tf.GradientTape() as tape:
            p = tf.matmul(x, W)
            first = tf.math.reduce_euclidean_norm(p - y, axis=-1)  # FIRSTNORM
            second = tf.math.reduce_euclidean_norm(3.0 * (p - y), axis=-1)  # SECONDNORM
            loss = tf.reduce_mean(first + second)
        return tf.reduce_sum(tape.gradient(loss, W))
    """
)


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    path = tmp_path_factory.mktemp("further") / "further_sites_case.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("further_sites_case", path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules["further_sites_case"] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def _where(module, tag: str) -> str:
    lines = open(module.__file__).read().splitlines()
    return f"{module.__file__}:{next(i + 1 for i, t in enumerate(lines) if f'# {tag}' in t)}"


class _Runner:
    """What verification's runners give: one traced step, ``(outputs, tripped)``."""

    def __init__(self, fn):
        self.step = tf.function(fn)

    def run_checked(self, *args, **kwargs):
        loss = self.step(*args, **kwargs)
        return loss, not bool(np.isfinite(loss.numpy()))


# x rows: p = 2, 0, 3; y: 1, 0, 0 -> 2/1, 0/0, 3/0
BATCH = (
    (tf.constant([[2.0, 1.0], [0.0, 1.0], [3.0, 1.0]]), tf.constant([[1.0], [0.0], [0.0]])),
    {},
)
ZEROS = ((tf.constant([[0.0, 1.0], [2.0, 1.0]]), tf.constant([[1.0], [1.0]])), {})


def test_the_probe_finds_the_next_op_that_goes_non_finite(module):
    division = CallSiteEdit("epsilon", "RealDiv", _where(module, "DIV"), 1e-7)
    runner = lambda: _Runner(module.log_ratio)  # noqa: E731
    # nothing edited: the division is the first non-finite op
    assert locate_trip([], runner, [BATCH]) == (_where(module, "DIV"), "RealDiv")
    # with its epsilon, a prediction of 0 gives log(0) on the next line
    assert locate_trip([division], runner, [ZEROS]) == (_where(module, "LOG"), "Log")
    both = [division, CallSiteEdit("epsilon", "Log", _where(module, "LOG"), 1e-7)]
    assert locate_trip(both, runner, [ZEROS]) is None  # finite: no trip, no site


def test_the_probe_sees_a_layers_own_code(module):
    layer = module.LogRatio()
    runner = lambda: _Runner(lambda x, y: tf.reduce_mean(layer(x, y)))  # noqa: E731
    assert locate_trip([], runner, [BATCH]) == (_where(module, "LAYERDIV"), "RealDiv")
    division = CallSiteEdit("epsilon", "RealDiv", _where(module, "LAYERDIV"), 1e-7)
    assert locate_trip([division], runner, [ZEROS]) == (_where(module, "LAYERLOG"), "Log")


def test_the_next_edit_is_the_same_kind_at_a_guarded_op(module):
    division = CallSiteEdit("epsilon", "RealDiv", _where(module, "DIV"), 1e-7)
    added = next_edit([division], (_where(module, "LOG"), "Log"))
    assert added == CallSiteEdit("epsilon", "Log", _where(module, "LOG"), 1e-7)
    assert next_edit([division], (_where(module, "DIV"), "RealDiv")) is None  # same op
    assert next_edit([division], (_where(module, "LOG"), "Square")) is None  # no epsilon form
    assert next_edit([division], None) is None
    no_nan = CallSiteEdit("divide_no_nan", "RealDiv", _where(module, "DIV"))
    layer_division = (_where(module, "LAYERDIV"), "RealDiv")
    assert next_edit([no_nan], layer_division) == CallSiteEdit(
        "divide_no_nan", "RealDiv", _where(module, "LAYERDIV")
    )  # a second division of a divide_no_nan fix is one too
    assert next_edit([no_nan], (_where(module, "LOG"), "Log")).kind == "epsilon"
    assert next_edit([division] * MAX_SITES, (_where(module, "LOG"), "Log")) is None


def test_the_snippet_shows_each_edited_line(module):
    division = CallSiteEdit("epsilon", "RealDiv", _where(module, "DIV"), 1e-7)
    log = CallSiteEdit("epsilon", "Log", _where(module, "LOG"), 1e-12)
    snippet = combined_snippet([log, division])  # in the order of the file
    name = "further_sites_case.py"
    div_line, log_line = (int(_where(module, t).rsplit(":", 1)[1]) for t in ("DIV", "LOG"))
    assert snippet == (
        f"ratio = p / (y + 1e-7)  # at {name}:{div_line}\n"
        f"return tf.reduce_mean(tf.square(tf.math.log(ratio + 1e-12)))  # at {name}:{log_line}"
    )
    params = {**division.to_params(), "also": [log.to_params()]}
    assert edits_of(params) == [division, log]
    # two edits on one line: the line with both
    one = _where(module, "ONE")
    both = [
        CallSiteEdit("epsilon", "RealDiv", one, 1e-7),
        CallSiteEdit("epsilon", "Log", one, 1e-7),
    ]
    assert combined_snippet(both).startswith(
        "return tf.reduce_mean(tf.math.log(p / (y + 1e-7) + 1e-7))"
    )
    # a statement over several lines: no line of its own per edit, so no snippet
    spread = _where(module, "SPREAD")
    lines = [CallSiteEdit("epsilon", "Log", spread, 1e-7)]
    lines.append(
        CallSiteEdit(
            "epsilon",
            "RealDiv",
            spread.rsplit(":", 1)[0] + f":{int(spread.rsplit(':', 1)[1]) + 1}",
            1e-7,
        )
    )
    assert combined_snippet(lines) is None


def test_an_op_that_only_passes_on_a_non_finite_input_is_not_flagged(module):
    flags = SiteFlags()
    with simulating_each([], flags):
        _Runner(module.log_ratio).run_checked(*BATCH[0])
    bad = {flags.sites[i] for i in flags.bad[0]}
    assert (_where(module, "DIV"), "RealDiv") in bad  # made inf and 0/0 of finite inputs
    assert (_where(module, "LOG"), "Log") not in bad  # log(inf): its input was not finite


def test_a_backward_trip_finds_the_next_square_root_at_zero(module):
    """The forward pass is finite (sqrt(0) = 0); the gradient of each square root at 0 is not.
    With the first one guarded, the probe names the second (not an op of the tape's line)."""
    runner = lambda: _Runner(module.two_distances)  # noqa: E731
    exact = ((tf.constant([[1.0, 2.0]]), tf.constant([[1.0]])), {})  # p = 1 = y
    assert locate_trip([], runner, [exact]) == (_where(module, "FIRSTSQRT"), "Sqrt")
    first = CallSiteEdit("epsilon", "Sqrt", _where(module, "FIRSTSQRT"), 1e-12)
    assert locate_trip([first], runner, [exact]) == (_where(module, "SECONDSQRT"), "Sqrt")
    second = CallSiteEdit("epsilon", "Sqrt", _where(module, "SECONDSQRT"), 1e-12)
    assert locate_trip([first, second], runner, [exact]) is None
    flags = SiteFlags()
    with simulating_each([], flags):
        _Runner(module.two_distances).run_checked(*exact[0])
    # the tape's ops (SqrtGrad, the Mul of the square's gradient) are no user's sites
    at_tape = [op for site, op in flags.sites if site == _where(module, "TAPE")]
    assert "Sum" in at_tape and not {"SqrtGrad", "Mul"} & set(at_tape), at_tape


def test_a_backward_trip_finds_the_next_euclidean_norm_at_zero(module):
    runner = lambda: _Runner(module.two_norms)  # noqa: E731
    exact = ((tf.constant([[1.0, 2.0]]), tf.constant([[1.0]])), {})
    first = CallSiteEdit("epsilon", "EuclideanNorm", _where(module, "FIRSTNORM"), 1e-12)
    second = (_where(module, "SECONDNORM"), "EuclideanNorm")
    assert locate_trip([first], runner, [exact]) == second
    assert next_edit([first], second) is not None
