"""MultiWorkerMirroredStrategy: two worker processes on loopback, started and cleaned up here."""

import json
import os
import socket
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "multiworker_run.py")


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


def run_workers(case: str, timeout: float = 240.0) -> list[dict]:
    port0, port1 = free_ports(2)
    workers = [
        subprocess.Popen(
            [sys.executable, SCRIPT, str(i), str(port0), str(port1), case],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=timeout)
            assert worker.returncode == 0, err[-2000:]
            line = next(x for x in out.splitlines() if x.startswith("RESULT "))
            results.append(json.loads(line[len("RESULT ") :]))
    finally:
        for worker in workers:  # never leave a worker waiting in a collective
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return results


def test_nan_on_one_worker_trips_and_restores_every_worker():
    first, second = run_workers("input_data")
    for result in (first, second):
        assert result["report"] is not None, result
        assert result["report"]["trip"]["step"] == 2
        assert result["restored"]
    # the worker that held the bad shard names it; the other says it came through the all-reduce
    assert second["report"]["origin"]["kind"] == "input_data"
    assert second["report"]["origin"]["rows"] == [5]
    assert first["report"]["origin"]["kind"] == "unknown"
    assert any("all-reduce" in note for note in first["report"]["notes"])
    assert first["report"]["fixes"] == []


def test_healthy_multiworker_run_does_not_alarm():
    for result in run_workers("healthy"):
        assert result["report"] is None and result["steps"] == 4
