"""tf.distribute.MirroredStrategy on 2 logical CPU devices: every origin kind, custom loop and
model.fit. One process per surface (tests/distributed_run.py runs its cases in turn)."""

import functools
import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_run.py")
KINDS = ["activation", "loss", "matmul_overflow", "gradient", "optimizer_update"]
ALL = ["healthy", "input_data", *KINDS]


# Cached in the worker process, not only by the module-scoped fixture below: pytest tears a
# module's fixtures down whenever xdist runs another module's test between two of this one's,
# and the fixture then ran its subprocess again (twice per surface in CI, ~1.5 min each).
@functools.cache
def run_cases(mode: str, kinds: tuple[str, ...]) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(__file__))
    result = subprocess.run(
        [sys.executable, SCRIPT, mode, *kinds],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard: one surface took 457 s on this machine at load 11
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


# One xdist group per surface: a module-scoped fixture is computed once per worker that runs
# one of its tests, so without the group each worker could start both processes (twice the
# cost); with it the two surfaces still run on the two workers side by side.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param("loop", marks=pytest.mark.xdist_group("distribution_loop")),
        pytest.param("fit", marks=pytest.mark.xdist_group("distribution_fit")),
    ],
)
def surface(request):
    return request.param, run_cases(request.param, tuple(ALL))


def tripped(outcome: dict) -> dict:
    report = outcome["report"]
    assert report is not None, outcome
    assert outcome["restored"], "every replica's variables and slots are put back"
    return report


def test_healthy_run_does_not_alarm(surface):
    _, outcomes = surface
    assert outcomes["healthy"]["report"] is None and outcomes["healthy"]["steps"] == 4


def test_input_data_names_replica_and_shard_rows(surface):
    mode, outcomes = surface
    report = tripped(outcomes["input_data"])
    assert report["kind"] == "input_data" and report["step"] == 1
    # global row 20 of batch 1 (rows 16..31) is row 4 of replica 0's shard (rows 16..23)
    name = "x" if mode == "loop" else "data[0]"
    assert (report["tensor"], report["rows"]) == (f"{name} (replica 0)", [4])


def test_activation_names_layer_and_device_with_a_verified_fix(surface):
    _, outcomes = surface
    report = tripped(outcomes["activation"])
    assert (report["kind"], report["op_type"], report["layer"]) == (
        "activation",
        "Log",
        "net/logfeat",
    )
    assert "CPU" in report["device"]
    assert report["fixes"][0] == "add_epsilon" and "add_epsilon" in report["verified"]


def test_log_zero_in_replica_1s_loss_is_a_loss_origin(surface):
    """Only replica 1's shard holds the 0 label, and the log term has no gradient: one
    replica sees the value; the step still trips (one decision for every replica), and the
    replay's phase is per replica thread, so replica 1's loss op is not called an update."""
    _, outcomes = surface
    report = tripped(outcomes["loss"])
    assert report["step"] == 1 and report["trip"]["loss"] and not report["trip"]["gradients"]
    assert (report["kind"], report["op_type"]) == ("loss", "Log")
    assert report["device"].endswith("CPU:1")
    assert report["cause"] == "missing_epsilon"  # as on one device (log of a label)


def test_matmul_overflow(surface):
    _, outcomes = surface
    report = tripped(outcomes["matmul_overflow"])
    assert report["kind"] == "matmul_overflow" and report["cause"] == "initializer_scale"


def test_gradient(surface):
    _, outcomes = surface
    report = tripped(outcomes["gradient"])
    assert (report["kind"], report["op_type"]) == ("gradient", "SqrtGrad")
    assert report["layer"] == "net/sqrt_act"


def test_optimizer_update(surface):
    _, outcomes = surface
    report = tripped(outcomes["optimizer_update"])
    assert report["kind"] == "optimizer_update"
    assert report["cause"] == "missing_epsilon" and report["fixes"][0] == "add_epsilon"
