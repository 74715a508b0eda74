"""The command line, as a subprocess: exit codes, one-line errors, JSON output."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "nantrace", *args], capture_output=True, text=True, timeout=300
    )


def test_demo_list():
    result = run("demo", "--list")
    assert result.returncode == 0
    assert "nan_in_data" in result.stdout and "exploding_rnn" in result.stdout


def test_unknown_demo_is_one_line_exit_2():
    result = run("demo", "no_such_demo")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no demo named" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_is_exit_2():
    result = run("demo", "--format", "yaml")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_demo_json():
    result = run("demo", "nan_in_data", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["origin"]["kind"] == "input_data"
    assert report["cause"]["id"] == "non_finite_input"
    assert report["fixes"][0]["id"] == "clean_input"


def test_default_demo_text():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "WHERE" in result.stdout and "WHY" in result.stdout and "WHAT TO CHANGE" in result.stdout
    assert "unscaled_input" in result.stdout
