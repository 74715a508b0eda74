"""tf.distribute.MirroredStrategy on 2 logical CPU devices (each case in its own process)."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_run.py")


def run_case(case: str) -> dict:
    result = subprocess.run(
        [sys.executable, SCRIPT, case], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def test_mirrored_input_data_names_replica_and_shard_rows():
    outcome = run_case("input_data")
    report = outcome["report"]
    assert report is not None and outcome["restored"]
    assert report["origin"]["kind"] == "input_data"
    assert report["origin"]["tensor"] == "x (replica 0)"
    assert report["origin"]["rows"] == [4]
    assert report["trip"]["step"] == 1


def test_mirrored_activation_names_layer_and_device():
    outcome = run_case("activation")
    report = outcome["report"]
    assert report is not None and outcome["restored"]
    assert (report["origin"]["kind"], report["origin"]["op_type"]) == ("activation", "Log")
    assert report["origin"]["layer"] == "net/logfeat"
    assert "CPU" in report["origin"]["device"]


@pytest.mark.parametrize("case", ["healthy"])
def test_mirrored_healthy_does_not_alarm(case):
    outcome = run_case(case)
    assert outcome["report"] is None and outcome["steps"] == 4
