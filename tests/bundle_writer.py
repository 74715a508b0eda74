"""A process that writes large crash bundles in a loop, to be killed with SIGKILL mid-write.

Usage: ``python tests/bundle_writer.py BUNDLE_DIR MEGABYTES``. Prints ``ready`` once the state
exists, then ``wrote PATH`` after each bundle, until killed.
"""

import os
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from nantrace.bundle import write_bundle  # noqa: E402
from nantrace.report.records import Origin, Report, Trip  # noqa: E402


def train_step(x):
    return x


def main() -> None:
    bundle_dir, megabytes = sys.argv[1], float(sys.argv[2])
    count = 8
    size = max(1, int(megabytes * 2**20 / 4 / count))
    rng = np.random.default_rng(0)
    variables = [
        tf.Variable(rng.standard_normal(size, dtype=np.float32), name=f"layer_{i}/kernel")
        for i in range(count)
    ]
    watched = types.SimpleNamespace(
        known_variables={id(v): v for v in variables},
        model=None,
        optimizers=[],
        recent=[((tf.ones([4, 3]),), {})],
        anchor=None,
        since_anchor=[],
        history=None,
        python_fn=train_step,
        compiled=False,
        jit_compile=False,
    )
    report = Report(
        trip=Trip(step=7, loss=True, gradients=True, variables=False),
        origin=Origin(kind="loss", phase="loss", step=7, op_type="Log", op_name="loss/Log"),
        cause=None,
        fixes=(),
        reproduced=True,
    )
    batch = (tf.fill([4, 3], float("nan")),)
    print("ready", flush=True)
    while True:
        written = write_bundle(watched, report, batch, {}, bundle_dir)
        print(
            f"wrote {written.bundle}" if written.bundle else f"failed {written.notes}", flush=True
        )


if __name__ == "__main__":
    main()
