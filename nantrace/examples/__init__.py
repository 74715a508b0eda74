"""Built-in examples for ``nantrace demo``: real bug patterns that go non-finite in seconds on CPU.

Each demo is an ordinary custom training loop under ``@nantrace.watch`` — the same code a user
writes — so the report it prints is exactly what nantrace says about such a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nantrace.examples import scenarios


@dataclass(frozen=True)
class Demo:
    name: str
    summary: str
    run: Callable[[], scenarios.Outcome]


DEMOS: dict[str, Demo] = {
    demo.name: demo
    for demo in (
        Demo(
            "unscaled_input",
            "raw features in the 1e5 range fed to an MLP regressor",
            scenarios.unscaled_input,
        ),
        Demo(
            "log_zero_loss",
            "hand-written cross-entropy: log(softmax) hits log(0)",
            scenarios.log_zero_loss,
        ),
        Demo(
            "exploding_rnn",
            "SimpleRNN over long sequences; gradients compound over time",
            scenarios.exploding_rnn,
        ),
        Demo(
            "bad_initializer",
            "deep ReLU MLP with RandomNormal(stddev=3000) kernels",
            scenarios.bad_initializer,
        ),
        Demo(
            "huge_learning_rate",
            "SGD with learning_rate=5 on a small regression MLP",
            scenarios.huge_learning_rate,
        ),
        Demo(
            "nan_in_data",
            "a CSV with missing values read as NaN in a few rows",
            scenarios.nan_in_data,
        ),
    )
}

DEFAULT_DEMO = "unscaled_input"
