"""The outputs shown in docs/ come from docs/regenerate.py: every generated block names a block
the script knows, the blocks that train nothing are up to date, the report schema page names
every key of the (generated) example report, and ``--help`` is plain text."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("regenerate", ROOT / "docs" / "regenerate.py")
regenerate = importlib.util.module_from_spec(spec)
sys.modules["regenerate"] = regenerate  # dataclasses look their module up there
spec.loader.exec_module(regenerate)


def test_every_generated_block_is_known_and_every_known_block_is_shown():
    found = regenerate.blocks_in_docs()
    assert set(found) == set(regenerate.BLOCKS)
    assert all(len(places) == 1 for places in found.values()), found  # one place per block


def test_markers_are_balanced():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        opened = text.count("<!-- generated: ")
        assert opened == text.count("<!-- end generated -->"), path
        assert opened == len(regenerate.MARK.findall(text)), path


@pytest.fixture(scope="module")
def fixtures():
    made = regenerate.Fixtures()
    yield made
    made.close()


CHEAP = sorted(name for name, block in regenerate.BLOCKS.items() if block.cheap)


@pytest.mark.parametrize("name", CHEAP)
def test_cheap_block_is_up_to_date(name, fixtures):
    ((path, body),) = regenerate.blocks_in_docs()[name]
    assert body == regenerate.generate(name, fixtures), (
        f"{path.name}: block {name} is out of date; run python docs/regenerate.py {name}"
    )


def test_normalise_hides_where_and_when():
    workdir = "/tmp/nantrace-docs-abc/crash-xyz"
    raw = (
        f"bundle: {workdir}/crash/step-000003-20261201-181320\n"
        f"  source: {regenerate.ROOT}/tests/replayable_step.py:30\n"
        "I0000 00:00:1796150031.021400   19096 port.cc:153] oneDNN custom operations are on.\n"
        "note: 2 fix(es) replayed in 11.4 s (budget 20 s)\n"
    )
    assert regenerate.normalise(raw, workdir) == (
        "bundle: /tmp/doc/crash/step-000003-YYYYmmdd-HHMMSS\n"
        "  source: .../tests/replayable_step.py:30\n"
        "note: 2 fix(es) replayed in <t> s (budget 20 s)"
    )


def test_dump_json_is_the_same_json():
    value = {"a": [1, 2, {"b": "x" * 120}], "c": {"d": None, "e": [0.5] * 40}}
    assert json.loads(regenerate.dump_json(value)) == value


def test_schema_page_names_every_key_of_the_generated_example():
    text = (ROOT / "docs" / "report-schema.md").read_text(encoding="utf-8")
    ((_, body),) = regenerate.blocks_in_docs()["report-schema-example"]
    example = json.loads(body.split("\n", 1)[1].rsplit("```", 1)[0])
    prose = regenerate.MARK.sub("", text)  # the tables, without the example itself
    # keys of free-form maps: evidence and params are per rule (docs/causes-and-fixes.md),
    # weight_norm is keyed by variable name
    free = {"evidence", "params", "weight_norm"}
    missing = set()

    def walk(value, parent=""):
        if isinstance(value, dict):
            for key, inner in value.items():
                named = f"`{key}`" in prose or re.search(rf"[{{,]\s*{re.escape(key)}\b", prose)
                if parent not in free and not named:
                    missing.add(f"{parent}.{key}" if parent else key)
                walk(inner, key)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, parent)

    walk(example)
    assert example.get("history") is not None and example.get("graph") is not None
    assert not missing, f"report-schema.md does not name: {sorted(missing)}"


@pytest.mark.parametrize("command", ["", "demo", "scan", "diff", "report", "run"])
def test_help_is_plain_text(command):
    argv = [sys.executable, "-m", "nantrace", *([command] if command else []), "--help"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "``" not in result.stdout and ":func:" not in result.stdout, result.stdout


def test_not_fast_names_real_tests():
    conftest = importlib.util.spec_from_file_location("tiers", ROOT / "tests" / "conftest.py")
    tiers = importlib.util.module_from_spec(conftest)
    conftest.loader.exec_module(tiers)
    for node in tiers.NOT_FAST:
        file, function = node.split("::")
        assert file in tiers.FAST_FILES, node
        assert f"def {function}(" in (ROOT / "tests" / file).read_text(encoding="utf-8"), node
