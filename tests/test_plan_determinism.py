"""Two offline plans of prod, in fresh processes with different hash seeds, write the same
bytes; the plan is the committed lock; resources.json has the fields of design 12."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tools.plan.cli import REPO_ROOT

RESOURCE_KEYS = {
    "urn",
    "type",
    "name",
    "parent",
    "provider",
    "custom",
    "inputs",
    "protect",
    "retainOnDelete",
    "ignoreChanges",
    "dependsOn",
    "customTimeouts",
}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    outs = []
    for seed in ("1", "4242"):
        out = tmp_path_factory.mktemp(f"plan-seed-{seed}")
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "tools.plan", "--stack", "prod", "--out", str(out)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outs.append(out)
    return outs


@pytest.mark.parametrize("name", ["plan.json", "resources.json"])
def test_two_runs_write_byte_identical_files(two_runs, name):
    first, second = ((d / name).read_bytes() for d in two_runs)
    assert first == second


def test_the_plan_is_the_committed_lock(two_runs):
    lock = REPO_ROOT / "stacks" / "placement.prod.json"
    assert (two_runs[0] / "plan.json").read_text() == lock.read_text()
    assert json.loads(lock.read_text())["stability"]["kept"] is True


def test_resources_json_entries_have_exactly_the_design_fields(two_runs):
    entries = json.loads((two_runs[0] / "resources.json").read_text())
    assert entries
    for e in entries:
        assert set(e) == RESOURCE_KEYS, e.get("urn")
    assert [e["urn"] for e in entries] == sorted(e["urn"] for e in entries)
