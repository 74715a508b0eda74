"""One worker of a 2-worker MultiWorkerMirroredStrategy run on loopback (started by the test).

Usage: python tests/multiworker_run.py WORKER_INDEX PORT0 PORT1 CASE
Prints one line: RESULT {json}.
"""

import json
import os
import sys

index, port0, port1, case = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps(
    {
        "cluster": {"worker": [f"localhost:{port0}", f"localhost:{port1}"]},
        "task": {"type": "worker", "index": index},
    }
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402

import nantrace  # noqa: E402


def main() -> dict:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu", name="hidden"),
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

    rng = np.random.default_rng(index)
    result = {"worker": index, "steps": 0, "report": None, "restored": None}
    for i in range(4):
        x = rng.normal(size=(8, 8)).astype("float32")
        y = rng.normal(size=(8, 1)).astype("float32")
        if case == "input_data" and index == 1 and i == 2:
            x[5, 3] = np.nan  # only worker 1's shard of step 2 is bad
        before = [v.numpy().copy() for v in model.variables + optimizer.variables]
        try:
            step(tf.constant(x), tf.constant(y))
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
    print("RESULT " + json.dumps(main()), flush=True)
