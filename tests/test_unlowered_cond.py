"""The guard's exact check is one ``If`` op: TensorFlow lowers a cond inside a tf.function to a
``Switch`` per tensor its branches read, each scheduled on every step (compat.tf.unlowered_cond)."""

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import standard_step

import nantrace
from nantrace.compat import tf as tf_compat


def _if_ops(graph_def):
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    return [n for n in nodes if n.op in ("If", "StatelessIf")]


def test_unlowered_cond_keeps_one_if_op_and_takes_either_branch():
    tensors = [tf.ones((3, 4)), tf.fill((5,), 2.0)]

    @tf.function
    def check(flag):
        return tf_compat.unlowered_cond(
            flag,
            lambda: tf.reduce_all([tf.reduce_all(t > 1.5) for t in tensors]),
            lambda: tf.constant(True),
        )

    assert bool(check(tf.constant(False))) and not bool(check(tf.constant(True)))
    (op,) = _if_ops(check.get_concrete_function(tf.constant(True)).graph.as_graph_def())
    assert op.attr["_lower_using_switch_merge"].b is False
    assert bool(tf_compat.unlowered_cond(tf.constant(True), lambda: True, lambda: False))


def test_a_watched_steps_exact_check_is_not_lowered():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    step = standard_step(model, keras.optimizers.Adam(1e-2), keras.losses.MeanSquaredError())
    watched = nantrace.watch(tf.function(step), verify=False, early_warning="off")
    x, y = tf.constant(np.ones((2, 4), "float32")), tf.constant(np.ones((2, 1), "float32"))
    watched(x, y)
    graph = watched._step_fn.function.get_concrete_function(x, y).graph.as_graph_def()
    ifs = _if_ops(graph)
    assert ifs and all(op.attr["_lower_using_switch_merge"].b is False for op in ifs)
