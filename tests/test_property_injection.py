"""Property: a domain error put in a random op of a random layer of a random small model is
reported at exactly that op and layer.

One test per (domain error, eager or tf.function): every op type is checked in both modes on
every run (50 examples drawn over all of them left Log1p under tf.function out and gave Log 28
of the 50), and the 10 cases spread over the CI workers. Hypothesis draws the rest of the
model (depth, widths, activations, benign ops around the error, where the chains sit,
optimizer, seed); each case has its own derandomized seed (the plugin keys it by test id)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nantrace

BENIGN = {
    "scale": lambda x: x * 1.5,
    "shift": lambda x: x + 0.25,
    "tanh": tf.tanh,
    "square": tf.square,
    "abs": tf.abs,
}
# Each makes a value <= 0 and applies the op to it, giving NaN (which no later op can hide,
# unlike an Inf that tanh would squash); keyed by the TF op type expected in the report.
DOMAIN_ERRORS = {
    "Log": lambda x: tf.math.log(-tf.abs(x) - 1.0),
    "Sqrt": lambda x: tf.sqrt(-tf.abs(x) - 1.0),
    "RealDiv": lambda x: (x * 0.0) / (x * 0.0),
    "Rsqrt": lambda x: tf.math.rsqrt(-tf.abs(x) - 1.0),
    "Log1p": lambda x: tf.math.log1p(-tf.abs(x) - 2.0),
}


class Chain(keras.layers.Layer):
    """A custom layer running a chain of element-wise ops; one of them may be a domain error."""

    def __init__(self, ops, **kwargs):
        super().__init__(**kwargs)
        self.ops = list(ops)

    def call(self, x):
        for name in self.ops:
            x = DOMAIN_ERRORS[name](x) if name in DOMAIN_ERRORS else BENIGN[name](x)
        return x


@st.composite
def injected_models(draw, error: str):
    n_dense = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(2, 12), min_size=n_dense, max_size=n_dense))
    activations = draw(
        st.lists(
            st.sampled_from(["relu", "tanh", "linear", "sigmoid"]),
            min_size=n_dense,
            max_size=n_dense,
        )
    )
    n_chains = draw(st.integers(1, 2))
    positions = sorted(
        draw(st.lists(st.integers(0, n_dense), min_size=n_chains, max_size=n_chains))
    )
    target_chain = draw(st.integers(0, n_chains - 1))
    chains = []
    for i in range(n_chains):
        ops = draw(st.lists(st.sampled_from(sorted(BENIGN)), min_size=0, max_size=3))
        if i == target_chain:
            ops.insert(draw(st.integers(0, len(ops))), error)
        chains.append(ops)
    optimizer = draw(st.sampled_from(["adam", "sgd", "rmsprop"]))
    seed = draw(st.integers(0, 2**16))
    return widths, activations, positions, chains, target_chain, optimizer, seed


#: Random models per (error, mode) case: 3, so 30 in the full suite (it was 50 drawn over all
#: cases, which missed one); more with, e.g., NANTRACE_PROPERTY_EXAMPLES=10.
EXAMPLES = int(os.environ.get("NANTRACE_PROPERTY_EXAMPLES", "3"))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf_function"])
@pytest.mark.parametrize("op", sorted(DOMAIN_ERRORS))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_injected_domain_error_is_reported_exactly(op: str, compiled: bool, data):
    case = data.draw(injected_models(op))
    widths, activations, positions, chains, target_chain, optimizer_name, seed = case
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((4,))]
    chain_iter = iter(zip(positions, chains, strict=True))
    pending = next(chain_iter, None)
    chain_index = 0
    for i in range(len(widths) + 1):
        while pending is not None and pending[0] == i:
            layers.append(Chain(pending[1], name=f"chain{chain_index}"))
            chain_index += 1
            pending = next(chain_iter, None)
        if i < len(widths):
            layers.append(
                keras.layers.Dense(widths[i], activation=activations[i], name=f"dense{i}")
            )
    layers.append(keras.layers.Dense(1, name="head"))
    model = keras.Sequential(layers, name="random_model")
    optimizer = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[optimizer_name](1e-3)
    x = tf.constant(np.random.default_rng(seed).normal(size=(8, 4)).astype("float32"))
    y = tf.zeros((8, 1))

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    # only WHERE is checked here: skip replaying fixes
    step = nantrace.watch(tf.function(train_step) if compiled else train_step, verify=False)
    try:
        step(x, y)
    except nantrace.NonFiniteError as error:
        report = error.report
    else:
        raise AssertionError("the injected domain error did not trip the guard")
    assert report.origin.kind == "activation"
    assert report.origin.op_type == op
    assert report.origin.layer == f"random_model/chain{target_chain}"
