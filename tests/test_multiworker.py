"""MultiWorkerMirroredStrategy: two worker processes on loopback, started and cleaned up here.

Both workers run the same list of cases one after another (tests/multiworker_run.py), so the
whole set costs one pair of processes."""

import json
import os
import socket
import subprocess
import sys

import pytest

# One xdist group: the module-scoped cluster below then starts once, on one worker (without
# it, each worker that ran one of these tests started its own pair of processes).
pytestmark = pytest.mark.xdist_group("multiworker")

SCRIPT = os.path.join(os.path.dirname(__file__), "multiworker_run.py")
CASES = ["input_data", "gradient", "optimizer_update", "loss_one_worker", "healthy"]


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(cases: list[str], bundle_root: str, timeout: float = 420.0) -> list[dict]:
    port0, port1 = free_ports(2)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(__file__))
    workers = [
        subprocess.Popen(
            [sys.executable, SCRIPT, str(i), str(port0), str(port1), bundle_root, *cases],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    results = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=timeout)
            assert worker.returncode == 0, err[-3000:]
            line = next(x for x in out.splitlines() if x.startswith("RESULT "))
            results.append(json.loads(line[len("RESULT ") :]))
    finally:
        for worker in workers:  # never leave a worker waiting in a collective
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return results


#: the workers' outcomes, kept for the worker process: pytest tears a module-scoped fixture down
#: whenever xdist runs another module's test between two of these, and it then started the
#: pair of processes again (twice in CI)
_OUTCOMES: dict[str, tuple[dict, dict]] = {}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    if not _OUTCOMES:
        first, second = run_workers(CASES, str(tmp_path_factory.mktemp("bundles")))
        _OUTCOMES.update({case: (first[case], second[case]) for case in CASES})
    return _OUTCOMES


def test_nan_in_one_workers_shard_gives_one_merged_report(outcomes):
    first, second = outcomes["input_data"]
    for result in (first, second):
        report = result["report"]
        assert report is not None and result["restored"], result
        assert report["step"] == 2
        # the merged answer on every worker: the worker that held the bad shard named it
        assert (report["kind"], report["tensor"], report["rows"]) == (
            "input_data",
            "x (worker 1)",
            [5],
        )
        assert any("merged from 2 workers: worker 1" in note for note in report["notes"])
        assert report["fixes"] and report["fixes"][0] == "clean_input"
    # the chief writes the bundle; the other worker points to it
    assert first["report"]["bundle"] and os.path.isdir(first["report"]["bundle"])
    assert second["report"]["bundle"] is None
    assert any("chief (worker 0) writes" in note for note in second["report"]["notes"])


def test_optimizer_update_under_multiworker(outcomes):
    for result in outcomes["optimizer_update"]:
        report = result["report"]
        assert report is not None and result["restored"], result
        assert report["kind"] == "optimizer_update" and report["step"] == 0
        assert report["cause"] == "missing_epsilon"


def test_value_one_worker_sees_trips_every_worker_in_warn_mode(outcomes):
    """Only worker 1's loss is non-finite (a label of 0 in a loss term with no gradient): the
    trip flag is all-reduced, so both workers skip step 1 and restore, the chief's report
    names worker 1's origin, and training goes on without a collective mismatch."""
    for result in outcomes["loss_one_worker"]:
        report = result["report"]
        assert report is not None and result["restored"], result
        assert result["trips"] == 1 and result["steps"] == 4
        assert report["step"] == 1 and report["trip"]["loss"] and not report["trip"]["gradients"]
        assert (report["kind"], report["op_type"]) == ("loss", "Log")
        assert "task:1" in report["device"]


def test_gradient_under_multiworker(outcomes):
    for result in outcomes["gradient"]:
        report = result["report"]
        assert report is not None and result["restored"], result
        assert (report["kind"], report["op_type"]) == ("gradient", "SqrtGrad")
        assert report["layer"] == "net/sqrt_act"


def test_healthy_multiworker_run_does_not_alarm(outcomes):
    for result in outcomes["healthy"]:
        assert result["report"] is None and result["steps"] == 4
