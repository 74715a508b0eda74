"""Run a watched MirroredStrategy step on 2 logical CPU devices; print the outcome as JSON.

A separate process because logical devices must be configured before TensorFlow starts.
Usage: python tests/distributed_run.py input_data|activation|healthy
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import nantrace  # noqa: E402


class LogFeatures(keras.layers.Layer):
    def call(self, x):
        return tf.math.log(x)


def main(case: str) -> dict:
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        middle = [LogFeatures(name="logfeat")] if case == "activation" else []
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu", name="hidden"),
                *middle,
                keras.layers.Dense(1, name="head"),
            ],
            name="net",
        )
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @nantrace.watch
    @tf.function
    def step(x, y):
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce("mean", per_replica, axis=None)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    if case == "input_data":
        x[20, 1] = np.nan  # batch 1 (rows 16..31): replica 0's shard holds rows 16..23
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    result = {"case": case, "steps": 0, "report": None, "restored": None}
    for batch in strategy.experimental_distribute_dataset(dataset):
        before = [v.numpy().copy() for v in model.variables + optimizer.variables]
        try:
            step(*batch)
        except nantrace.NonFiniteError as error:
            after = [v.numpy() for v in model.variables + optimizer.variables]
            result["restored"] = all(
                np.array_equal(a, b) for a, b in zip(before, after, strict=True)
            )
            result["report"] = json.loads(error.report.to_json())
            break
        result["steps"] += 1
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1])))
