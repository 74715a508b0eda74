"""The package as users get it: ``python -m build`` makes an sdist and a wheel (built from the
sdist, so the sdist is complete enough to build), the wheel carries every module of the source
tree and the published metadata, and it installs into a fresh venv where ``nantrace demo`` runs.

The venv reuses this interpreter's TensorFlow: a ``.pth`` file puts this interpreter's
site-packages after the venv's own (so it works from a venv too, where ``--system-site-packages``
would reach the base interpreter instead), and pip runs with ``--no-index``. Downloading
TensorFlow again would cost minutes and test pip, not nantrace.
"""

from __future__ import annotations

import email
import glob
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = [
    pytest.mark.slow,
    # One xdist worker builds: two concurrent `python -m build` runs in ROOT share setuptools'
    # release tree (nantrace-0.1.0/) and one deletes it under the other (CI failed so).
    pytest.mark.xdist_group("wheel"),
    pytest.mark.skipif(
        importlib.util.find_spec("build") is None,
        reason="needs the 'build' package (pip install -e '.[test]' installs it)",
    ),
]


#: what a build must not see or race on: caches, venvs, build outputs (setuptools writes its
#: release tree ``nantrace-<version>/`` and ``*.egg-info`` into the source folder it builds)
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "nantrace-*",
    "__pycache__",
    ".*cache",
    ".hypothesis",
    ".benchmarks",
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # build from a private copy: a build in the checkout writes there, and two at once (two
    # xdist workers, or a build beside the suite) delete each other's release tree
    source = tmp_path_factory.mktemp("source") / "nantrace"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    (wheel,) = glob.glob(str(out / "nantrace-*.whl"))
    (sdist,) = glob.glob(str(out / "nantrace-*.tar.gz"))
    return wheel, sdist


def _package_files() -> set[str]:
    found = set()
    for path in glob.glob(os.path.join(ROOT, "nantrace", "**", "*"), recursive=True):
        if os.path.isfile(path) and "__pycache__" not in path and not path.endswith(".pyc"):
            found.add(os.path.relpath(path, ROOT).replace(os.sep, "/"))
    return found


def test_wheel_carries_every_package_file_and_the_metadata(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_string(archive.read(metadata_name).decode())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "nantrace = nantrace.cli.main:main" in archive.read(entry_points).decode()
    missing = _package_files() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    requires = metadata.get_all("Requires-Dist")
    assert 'tensorflow-cpu<2.22,>=2.21; extra == "cpu"' in requires
    assert 'tensorflow<2.22,>=2.21; extra == "gpu"' in requires
    assert "Programming Language :: Python :: 3.12" not in classifiers  # untested
    assert not [u for u in metadata.get_all("Project-URL") or [] if "example" in u]


def test_sdist_carries_docs_and_test_helpers(dist):
    _, sdist = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "README.md",
        "pyproject.toml",
        "docs/report-schema.md",
        "tests/conftest.py",
        "tests/scenario_cases.py",
        "nantrace/report/html.py",
    ):
        assert needed in names, needed
    assert not [n for n in names if n.endswith(".pyc")]


@pytest.mark.skipif(
    os.environ.get("NANTRACE_CI_WHEEL_STEP") == "1",
    reason=".ci/run installs the wheel in a fresh venv and runs nantrace demo in its own step",
)
def test_wheel_installs_in_a_fresh_venv_and_runs_the_demo(dist, tmp_path):
    wheel, _ = dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with open(os.path.join(purelib, "reuse-tensorflow.pth"), "w") as handle:
        handle.write("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-index", f"{wheel}[cpu]"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [python, "-c", "import nantrace; print(nantrace.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert where.stdout.strip().startswith(str(venv)), (
        where.stdout + where.stderr
    )  # not the checkout
    demo = subprocess.run(
        [str(venv / "bin" / "nantrace"), "demo", "nan_in_data", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    report = json.loads(demo.stdout)
    assert report["origin"]["kind"] == "input_data" and report["fixes"][0]["id"] == "clean_input"
