"""One worker of a 2-worker MultiWorkerMirroredStrategy run on loopback (started by the test).

Usage: python tests/multiworker_run.py WORKER_INDEX PORT0 PORT1 BUNDLE_DIR CASE...
Cases run one after another in this process (both workers run the same list):
  input_data, gradient, optimizer_update, healthy: custom loop, on_nan="raise"
  loss_one_worker: custom loop, on_nan="warn"; only worker 1's batch of step 1 has the bad
      label, and the loss term has no gradient: only worker 1 sees the non-finite value
  fit_KIND: model.fit with NanTraceCallback (Keras 3.15's own fit fails under a 2-worker
      MultiWorkerMirroredStrategy before its first step, with or without nantrace, so no test
      uses it; kept to re-check on a later Keras)
Prints one line: RESULT {case: outcome}.
"""

import json
import os
import sys
import warnings

index, port0, port1, bundle_root = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
os.environ["TF_CONFIG"] = json.dumps(
    {
        "cluster": {"worker": [f"localhost:{port0}", f"localhost:{port1}"]},
        "task": {"type": "worker", "index": index},
    }
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402
import strategy_cases as cases  # noqa: E402

import nantrace  # noqa: E402
from nantrace.keras import NanTraceCallback  # noqa: E402


def run_loop(case: str) -> dict:
    kind = "loss" if case == "loss_one_worker" else case
    with strategy.scope():
        model, optimizer, loss_fn = cases.build(kind)
    on_nan = "warn" if case == "loss_one_worker" else "raise"
    bundle_dir = os.path.join(bundle_root, f"worker{index}") if case == "input_data" else None
    step = nantrace.watch(
        cases.custom_step(strategy, model, optimizer, loss_fn),
        on_nan=on_nan,
        bundle_dir=bundle_dir,
    )
    outcome = {"worker": index, "steps": 0, "report": None, "restored": None, "trips": 0}
    for i in range(4):
        bad = {"input_data": (1, 2, 5), "loss_one_worker": (1, 1, 3)}.get(case)
        bad_row = bad[2] if bad and (index, i) == bad[:2] else None
        x, y = cases.data(kind, 10 * index + i, bad_row, n=8)
        before = cases.state(model, optimizer)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                step(tf.constant(x), tf.constant(y))
        except nantrace.NonFiniteError as error:
            outcome["restored"] = cases.same(before, cases.state(model, optimizer))
            outcome["report"] = cases.summary(error.report)
            break
        warned = [w for w in caught if isinstance(w.message, nantrace.NonFiniteWarning)]
        if warned:
            outcome["restored"] = cases.same(before, cases.state(model, optimizer))
            outcome["report"] = cases.summary(warned[0].message.report)
        outcome["steps"] += 1
    outcome["trips"] = step.trips
    return outcome


class StateBeforeEachBatch(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.before = cases.state(self.model, self.model.optimizer)


def run_fit(kind: str) -> dict:
    with strategy.scope():
        model, optimizer, loss_fn = cases.build(kind)
        model.compile(optimizer=optimizer, loss=loss_fn)
    x, y = cases.data(kind, 0, None)
    recorder = StateBeforeEachBatch()
    outcome = {"worker": index, "report": None, "restored": None}
    try:
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[recorder, NanTraceCallback()],
        )
    except nantrace.NonFiniteError as error:
        outcome["restored"] = cases.same(recorder.before, cases.state(model, optimizer))
        outcome["report"] = cases.summary(error.report)
    return outcome


def main(names: list[str]) -> dict:
    return {
        name: run_fit(name[len("fit_") :]) if name.startswith("fit_") else run_loop(name)
        for name in names
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[5:])), flush=True)
