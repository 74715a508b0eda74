"""Many watched steps in one process (a notebook re-running its cell, a sweep, the scorers)
must not make TensorFlow warn that nantrace's own functions retrace: TensorFlow counts traces
per Python code object, and nantrace wraps the same closures once per watched step."""

import logging

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import standard_step

import nantrace


def make_watched(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    step = standard_step(model, keras.optimizers.Adam(1e-2), keras.losses.MeanSquaredError())
    return nantrace.watch(tf.function(step), verify=False)


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_eight_watched_steps_in_one_process_do_not_warn_of_retracing():
    handler = Collect()
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        rng = np.random.default_rng(0)
        x = tf.constant(rng.normal(size=(8, 4)).astype("float32"))
        y = tf.constant(rng.normal(size=(8, 1)).astype("float32"))
        for seed in range(8):
            step = make_watched(seed)
            for _ in range(2):
                step(x, y)
    finally:
        logger.removeHandler(handler)
    retracing = [m for m in handler.messages if "retracing" in m]
    assert not retracing, retracing[0]


def test_watched_steps_called_directly_with_two_batch_sizes_do_not_warn_of_retracing():
    """A watched step calls its trace directly (compat.tf.DirectCalls), so TensorFlow counts
    only the calls that traced: keyed by the shared code of the guarded body, each step's two
    batch sizes would add up to "5 out of the last 6 calls" across steps."""
    handler = Collect()
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        rng = np.random.default_rng(0)
        batches = [
            (
                tf.constant(rng.normal(size=(n, 4)).astype("float32")),
                tf.constant(rng.normal(size=(n, 1)).astype("float32")),
            )
            for n in (8, 5)
        ]
        for seed in range(6):
            step = make_watched(seed)
            for _ in range(5):
                for x, y in batches:
                    step(x, y)
    finally:
        logger.removeHandler(handler)
    retracing = [m for m in handler.messages if "retracing" in m]
    assert not retracing, retracing[0]
