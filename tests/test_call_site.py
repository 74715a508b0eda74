"""Call-site edits: the simulation is the snippet (issue 16).

Each case is a small differentiable step written to a file. The edit is simulated while the
step is traced (``nantrace.diagnosis.call_site.simulating``); independently, the line the snippet shows is
written into a copy of the file, which is imported and run plainly. Values and gradients must
agree: what verification ran is what the user is told to type.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from nantrace.diagnosis.call_site import CallSiteEdit, search_space
from nantrace.diagnosis.call_site_replay import simulating

STEPS = textwrap.dedent(
    """
    import keras
    import tensorflow as tf

    W = tf.Variable([[0.5, -1.0], [2.0, 0.0]])
    LAYER = keras.layers.LayerNormalization(epsilon=0.0)


    def log_of_zero(x):
        p = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_sum(tf.math.log(p))  # LOG


    def log_of_softmax(x):
        z = tf.matmul(x, W) * 1e3
        return -tf.reduce_sum(tf.math.log(tf.nn.softmax(z)))  # SOFTMAX


    def exp_overflow(x):
        return tf.reduce_sum(tf.exp(tf.matmul(x, W) * 100.0))  # EXP


    def where_guarded_division(x):
        d = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_sum(tf.where(d > 0, x / d, tf.zeros_like(d)))  # DIV


    def mean_of_empty(x):
        v = tf.matmul(x, W)
        return tf.reduce_mean(tf.boolean_mask(v, v > 100.0))  # MEAN


    def acos_outside(x):
        return tf.reduce_sum(tf.acos(tf.matmul(x, W)))  # ACOS


    def two_logs(x):
        p = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_sum(tf.math.log(p) + tf.math.log(p + 1.0))  # TWO


    def split_call(x):
        p = tf.nn.relu(tf.matmul(x, W))
        total = tf.reduce_sum(tf.math.log(  # SPLIT
            p
        ))
        return total


    def where_pow(x):
        d = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_sum(tf.where(
            d > 0.0,
            d**0.5,  # POW
            tf.zeros_like(d),
        ))


    def log_of_named_softmax(x):
        probs = tf.nn.softmax(tf.matmul(x, W) * 1e3, axis=-1)
        return -tf.reduce_sum(tf.math.log(probs))  # NAMED


    def norm_with_axis(x):
        diff = tf.matmul(x, W) * tf.constant([[0.0, 1.0], [0.0, 1.0]])
        return tf.reduce_sum(tf.norm(diff, axis=0))  # NORM


    def additive_inf_mask(x):
        scores = tf.matmul(x, W)
        keep = tf.constant([[1.0, 0.0], [1.0, 1.0]])
        scores += (1.0 - keep) * -float("inf")  # MASKMUL
        return tf.reduce_sum(tf.nn.softmax(scores) * x)


    def where_inf_mask(x):
        scores = tf.matmul(x, W)
        keep = tf.constant([[False, False], [True, False]])
        scores = tf.where(keep, scores, float("-inf"))  # MASKWHERE
        return tf.reduce_sum(tf.nn.softmax(scores) * x)


    def half_mask(x):
        scores = tf.cast(tf.matmul(x, W), tf.float16)
        keep = tf.constant([[1.0, 0.0], [1.0, 1.0]], tf.float16)
        scores += (1.0 - keep) * -1e9  # HALFMASK
        return tf.reduce_sum(tf.cast(tf.nn.softmax(scores), tf.float32) * x)


    def atan2_at_origin(x):
        v = tf.nn.relu(tf.matmul(x, W)) * tf.constant([[0.0, 0.0], [1.0, 1.0]])
        return tf.reduce_sum(keras.ops.arctan2(v[:, 0], v[:, 1]))  # ATAN2


    def euclidean_norm_at_zero(x):
        h = tf.nn.relu(tf.matmul(x, W)) * tf.constant([[0.0, 0.0], [1.0, 1.0]])
        return tf.reduce_sum(tf.math.reduce_euclidean_norm(h, axis=-1))  # EUCLID


    def cholesky_of_a_singular_kernel(x):
        f = tf.matmul(x, W)[:, :1]
        kernel = tf.matmul(f, f, transpose_b=True)
        return tf.reduce_sum(tf.math.log(tf.linalg.diag_part(tf.linalg.cholesky(kernel))))  # CHOL


    def keras_true_divide(x):
        d = tf.nn.relu(tf.matmul(x, W))
        return tf.reduce_sum(keras.ops.true_divide(x, d))  # TRUEDIV


    def std_of_a_constant_column(x):
        h = tf.nn.relu(tf.matmul(x, W)) * tf.constant([[0.0, 1.0], [0.0, 1.0]])
        return tf.reduce_sum(tf.math.reduce_std(h, axis=0))  # STD


    def keras_std_of_a_constant_column(x):
        h = tf.nn.relu(tf.matmul(x, W)) * tf.constant([[0.0, 1.0], [0.0, 1.0]])
        return tf.reduce_sum(keras.ops.std(h, axis=0))  # KSTD


    def log_of_log_softmax(x):
        log_probs = tf.nn.log_softmax(tf.matmul(x, W))
        return -tf.reduce_sum(tf.math.log(log_probs))  # TWICE


    def layer_inside(x):
        h = LAYER(tf.matmul(x, W) * 0.0)  # LAYER
        return tf.reduce_sum(tf.math.rsqrt(tf.abs(h) + 1.0))


    def log_of_one_minus(x):
        p = tf.minimum(tf.nn.relu(tf.matmul(x, W)), 1.0)
        return tf.reduce_sum(tf.math.log(1.0 - p))  # ONE_MINUS
    """
)

X = tf.constant([[1.0, 0.5], [-1.0, 2.0]])


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("call_site")
    path = folder / "steps.py"
    path.write_text(STEPS)
    return path, _load(path, "call_site_steps")


def _line(path, tag):
    lines = path.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.endswith(f"# {tag}"))


def _value_and_gradient(fn):
    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = fn(x)
        return loss, tape.gradient(loss, x)

    loss, grad = run(X)
    return loss.numpy(), grad.numpy()


def _hand_edited(path, edit, name):
    """A copy of the file with the edit's line replaced by the line its snippet shows."""
    pattern = r"(.*)  # at (\S+):(\d+)(?: \(replaces lines (\d+)-(\d+)\))?"
    match = re.fullmatch(pattern, edit.snippet())
    assert match, f"the snippet is not the user's own line: {edit.snippet()!r}"
    assert int(match.group(3)) == edit.line
    first, last = int(match.group(4) or edit.line), int(match.group(5) or edit.line)
    lines = path.read_text().splitlines(keepends=True)
    old = lines[first - 1]
    new = old[: len(old) - len(old.lstrip())] + match.group(1) + "\n"
    lines[first - 1 : last] = [new] + ["\n"] * (last - first)
    copy = path.with_name(f"{name}.py")
    copy.write_text("".join(lines))
    return _load(copy, name)


CASES = [
    (
        "cholesky_of_a_singular_kernel",
        "CHOL",
        CallSiteEdit("epsilon", "Cholesky", "", 1e-4),
        "tf.linalg.cholesky(kernel + 0.0001 * tf.eye(tf.shape(kernel)[-1], dtype=kernel.dtype))",
    ),
    ("log_of_zero", "LOG", CallSiteEdit("epsilon", "Log", "", 1e-7), "tf.math.log(p + 1e-7)"),
    ("log_of_zero", "LOG", CallSiteEdit("clamp_min", "Log", "", 1e-12), "tf.maximum(p, 1e-12)"),
    ("log_of_softmax", "SOFTMAX", CallSiteEdit("log_softmax", "Log", ""), "tf.nn.log_softmax(z)"),
    ("exp_overflow", "EXP", CallSiteEdit("clamp_max", "Exp", "", 80.0), "tf.minimum("),
    ("where_guarded_division", "DIV", CallSiteEdit("safe_where", "RealDiv", ""), "tf.where(d != 0"),
    (
        "where_guarded_division",
        "DIV",
        CallSiteEdit("divide_no_nan", "RealDiv", ""),
        "divide_no_nan",
    ),
    ("mean_of_empty", "MEAN", CallSiteEdit("divide_no_nan", "Mean", ""), "tf.size("),
    (
        "acos_outside",
        "ACOS",
        CallSiteEdit("clamp_range", "Acos", "", 1 - 1e-6, low=-1 + 1e-6),
        "0.999999",
    ),
    ("two_logs", "TWO", CallSiteEdit("epsilon", "Log", "", 1e-7), "tf.math.log(p + 1.0 + 1e-7)"),
    (
        "where_pow",
        "POW",
        CallSiteEdit("safe_where", "Pow", ""),
        "(tf.where(d > 0, d, 1.0)) ** 0.5,",
    ),
    (
        "log_of_named_softmax",
        "NAMED",
        CallSiteEdit("log_softmax", "Log", ""),
        "tf.nn.log_softmax(tf.matmul(x, W) * 1e3, axis=-1)",
    ),
    (
        "norm_with_axis",
        "NORM",
        CallSiteEdit("epsilon", "Sqrt", "", 1e-12),
        "tf.sqrt(tf.reduce_sum(tf.square(diff), axis=0) + 1e-12)",
    ),
    ("split_call", "SPLIT", CallSiteEdit("epsilon", "Log", "", 1e-7), "(replaces lines"),
    (
        "additive_inf_mask",
        "MASKMUL",
        CallSiteEdit("finite_constant", "Mul", "", -1e9),
        "scores += (1.0 - keep) * -1e9",
    ),
    (
        "where_inf_mask",
        "MASKWHERE",
        CallSiteEdit("finite_constant", "SelectV2", "", -1e9),
        "scores = tf.where(keep, scores, -1e9)",
    ),
    (
        "half_mask",
        "HALFMASK",
        CallSiteEdit("finite_constant", "Mul", "", -3e4),
        "scores += (1.0 - keep) * -3e4",
    ),
    (
        "atan2_at_origin",
        "ATAN2",
        CallSiteEdit("epsilon", "Atan2", "", 1e-12),
        "keras.ops.arctan2(v[:, 0], v[:, 1] + 1e-12)",
    ),
    (
        "euclidean_norm_at_zero",
        "EUCLID",
        CallSiteEdit("epsilon", "EuclideanNorm", "", 1e-12),
        "tf.sqrt(tf.reduce_sum(tf.square(h), axis=-1) + 1e-12)",
    ),
    (
        "keras_true_divide",
        "TRUEDIV",
        CallSiteEdit("epsilon", "RealDiv", "", 1e-7),
        "keras.ops.true_divide(x, d + 1e-7)",
    ),
    (
        "std_of_a_constant_column",
        "STD",
        CallSiteEdit("epsilon", "Sqrt", "", 1e-12),
        "tf.sqrt(tf.math.reduce_variance(h, axis=0) + 1e-12)",
    ),
    (
        "keras_std_of_a_constant_column",
        "KSTD",
        CallSiteEdit("epsilon", "Sqrt", "", 1e-12),
        "keras.ops.sqrt(keras.ops.var(h, axis=0) + 1e-12)",
    ),
    (
        "log_of_log_softmax",
        "TWICE",
        CallSiteEdit("drop_log", "Log", ""),
        "return -tf.reduce_sum(log_probs)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2].kind}" for c in CASES])
def test_simulation_equals_the_hand_edited_line(steps, case):
    path, module = steps
    fn_name, tag, template, expected_text = case
    edit = CallSiteEdit(
        template.kind, template.op_type, f"{path}:{_line(path, tag)}", template.value, template.low
    )
    assert expected_text in edit.snippet()
    plain_loss, _ = _value_and_gradient(getattr(module, fn_name))
    with simulating(edit) as trace:
        loss, grad = _value_and_gradient(getattr(module, fn_name))
    copy = _hand_edited(path, edit, f"edited_{fn_name}_{template.kind}")
    hand_loss, hand_grad = _value_and_gradient(getattr(copy, fn_name))
    assert trace.sites == {edit.where}
    assert trace.ops_per_trace == (2 if fn_name == "two_logs" else 1)
    np.testing.assert_allclose(loss, hand_loss, rtol=1e-5)
    np.testing.assert_allclose(grad, hand_grad, rtol=1e-5, atol=1e-6)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert not (
        np.isfinite(plain_loss)
        and np.isfinite(_value_and_gradient(getattr(module, fn_name))[1]).all()
    )


def test_other_lines_and_library_ops_are_left_alone(steps):
    path, module = steps
    # the log at LOG is not at the SOFTMAX line: nothing there is rewritten
    edit = CallSiteEdit("epsilon", "Log", f"{path}:{_line(path, 'SOFTMAX') + 100}", 1e-7)
    with simulating(edit) as trace:
        _value_and_gradient(module.log_of_zero)
    assert trace.rewritten == 0
    # the LayerNormalization's own rsqrt is built inside Keras, called from the LAYER line: the
    # user cannot edit it there, so the edit does not reach into the layer
    edit = CallSiteEdit("epsilon", "Rsqrt", f"{path}:{_line(path, 'LAYER')}", 1e-3)
    with simulating(edit) as trace:
        _value_and_gradient(module.layer_inside)
    assert trace.rewritten == 0


def test_the_hook_is_removed_afterwards(steps):
    path, module = steps
    edit = CallSiteEdit("epsilon", "Log", f"{path}:{_line(path, 'LOG')}", 1e-7)
    with simulating(edit):
        pass
    loss, _ = _value_and_gradient(module.log_of_zero)
    assert not np.isfinite(loss)


def test_search_space_tries_small_epsilons_and_loose_clamps_first():
    eps = search_space(CallSiteEdit("epsilon", "Log", "f.py:1", 1e-7), "float32")
    assert [e.value for e in eps] == sorted(e.value for e in eps)
    caps = search_space(CallSiteEdit("clamp_max", "Exp", "f.py:1", 80.0), "float32")
    assert [e.value for e in caps] == sorted((e.value for e in caps), reverse=True)
    half = search_space(CallSiteEdit("epsilon", "Log", "f.py:1", 1e-7), "float16")
    assert min(e.value for e in half) >= 6e-8  # float16 cannot hold a smaller epsilon
    assert search_space(CallSiteEdit("log_softmax", "Log", "f.py:1"), "float32") == [
        CallSiteEdit("log_softmax", "Log", "f.py:1")
    ]


def test_an_epsilon_is_searched_above_the_spacing_of_a_number_beside_it(steps):
    """tf.function's graph optimizer folds (1.0 - p) + 1e-12 into 1.0 - p: the typed line would
    still be log(0) at p = 1. The search starts where 1.0 + epsilon differs from 1.0."""
    path, _ = steps
    where = f"{path}:{_line(path, 'ONE_MINUS')}"
    edit = CallSiteEdit("epsilon", "Log", where, 1e-7)
    assert edit.added_constant() == 1.0
    values = [e.value for e in search_space(edit, "float32")]
    assert min(values) > 2.0**-24 and 1e-12 not in values

    def edited(epsilon: float):
        def fn(x):
            p = tf.minimum(tf.nn.relu(tf.matmul(x, tf.constant([[2.0, 0.0], [0.0, 2.0]]))), 1.0)
            return tf.reduce_sum(tf.math.log(1.0 - p + epsilon))

        return tf.function(fn)(tf.constant([[1.0, 0.0]]))

    assert not np.isfinite(edited(1e-12))  # what the smallest epsilon would do, typed
    assert np.isfinite(edited(min(values)))
    plain = CallSiteEdit("epsilon", "Log", f"{path}:{_line(path, 'LOG')}", 1e-7)
    assert plain.added_constant() == 0.0 and search_space(plain, "float32")[0].value == 1e-12


def test_infinity_is_found_however_it_is_written():
    edit = CallSiteEdit("finite_constant", "SelectV2", "f.py:1", -1e9)
    for written, sign in [
        ('float("-inf")', "-"),
        ("-float('inf')", "-"),
        ("-np.inf", "-"),
        ("np.NINF", "-"),
        ("math.inf", ""),
        ("+np.Inf", ""),
        ('float("Infinity")', ""),
    ]:
        line = f"s = tf.where(m, s, {written})\n"
        assert edit.rewrite_line(line) == f"s = tf.where(m, s, {sign}1e9)\n", written
    assert edit.rewrite_line("s = tf.where(m, s, -1e4)\n") is None  # nothing to replace
    # a number beyond the dtype's range is infinity there: -1e9 in float16, not in float32
    half = CallSiteEdit("finite_constant", "Mul", "f.py:1", -3e4)
    assert half.rewrite_line("s += (1.0 - m) * -1e9\n") == "s += (1.0 - m) * -3e4\n"
    assert half.rewrite_line("s += (1.0 - m) * -1e4\n") is None
    assert edit.rewrite_line("s += (1.0 - m) * -1e9\n") is None
    floors = search_space(CallSiteEdit("finite_constant", "Mul", "f.py:1", 1e9), "float16")
    assert [e.value for e in floors] == [3e4]  # the sign is kept; float16 ends at 65504


def test_params_round_trip():
    edit = CallSiteEdit("clamp_range", "Acos", "/a/b.py:7", 0.999, low=-0.999)
    assert CallSiteEdit.from_params(edit.to_params()) == edit
    assert CallSiteEdit.from_params({"op_type": "Log", "where": "a.py:1"}) is None


def test_numpy_and_math_calls_on_the_line_are_left_alone(tmp_path):
    """np.log(10.0) is computed on the host, not a graph op: the simulation cannot edit it,
    so the snippet must not either (or the line typed is not the line simulated)."""
    path = tmp_path / "host_calls.py"
    path.write_text(
        "import math\nimport numpy as np\nimport tensorflow as tf\n\n\ndef f(r):\n"
        "    return tf.math.log(r) / np.log(10.0) + math.log(2.0)\n"
    )
    edit = CallSiteEdit("epsilon", "Log", f"{path}:7", 1e-3)
    assert edit.rewrite_line().strip() == (
        "return tf.math.log(r + 0.001) / np.log(10.0) + math.log(2.0)"
    )
