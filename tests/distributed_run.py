"""Watched MirroredStrategy training on 2 logical CPU devices; prints the outcomes as JSON.

A separate process because logical devices must be configured before TensorFlow starts.
Usage: python tests/distributed_run.py MODE [KIND...]
  loop: custom loop (@nantrace.watch around strategy.run) for each KIND
  fit:  model.fit with NanTraceCallback for each KIND
Kinds: tests/strategy_cases.py (plus input_data and healthy). Global batch 16: replica 0 holds
rows 0..7 of each batch, replica 1 rows 8..15. Prints one line: RESULT {kind: outcome}.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import strategy_cases as cases  # noqa: E402

import nantrace  # noqa: E402
from nantrace.keras import NanTraceCallback  # noqa: E402

#: batch 1, rows 16..31: replica 0's shard is rows 16..23, replica 1's 24..31
BAD_ROWS = {"input_data": 20, "loss": 27}
VERIFIED = {"activation"}  # verifying fixes replays training: one case pays for it


def run_loop(strategy, kind: str) -> dict:
    with strategy.scope():
        model, optimizer, loss_fn = cases.build(kind)
    x, y = cases.data(kind, 0, BAD_ROWS.get(kind))
    step = nantrace.watch(
        cases.custom_step(strategy, model, optimizer, loss_fn), verify=kind in VERIFIED
    )
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    outcome = {"steps": 0, "report": None, "restored": None}
    for batch in strategy.experimental_distribute_dataset(dataset):
        before = cases.state(model, optimizer)
        try:
            step(*batch)
        except nantrace.NonFiniteError as error:
            outcome["restored"] = cases.same(before, cases.state(model, optimizer))
            outcome["report"] = cases.summary(error.report)
            break
        outcome["steps"] += 1
    return outcome


class StateBeforeEachBatch(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.before = cases.state(self.model, self.model.optimizer)


class Guard(NanTraceCallback):
    """NanTraceCallback that skips fix verification (a few seconds) unless asked."""

    def __init__(self, verify: bool) -> None:
        super().__init__()
        self.verify = verify

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._function.watched.verify = self.verify

    @property
    def steps(self) -> int:
        return self._function.watched.step


def run_fit(strategy, kind: str) -> dict:
    with strategy.scope():
        model, optimizer, loss_fn = cases.build(kind)
        model.compile(optimizer=optimizer, loss=loss_fn)
    x, y = cases.data(kind, 0, BAD_ROWS.get(kind))
    recorder = StateBeforeEachBatch()
    guard = Guard(verify=kind in VERIFIED)
    outcome = {"steps": 0, "report": None, "restored": None}
    try:
        history = model.fit(
            x,
            y,
            batch_size=16,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[recorder, guard],
        )
        outcome["steps"] = guard.steps
        outcome["loss"] = history.history["loss"][-1]
    except nantrace.NonFiniteError as error:
        outcome["restored"] = cases.same(recorder.before, cases.state(model, optimizer))
        outcome["report"] = cases.summary(error.report)
    return outcome


def main(mode: str, kinds: list[str]) -> dict:
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    run = run_loop if mode == "loop" else run_fit
    return {kind: run(strategy, kind) for kind in kinds}


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1], sys.argv[2:])), flush=True)
