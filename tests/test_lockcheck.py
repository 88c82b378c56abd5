"""`make lock-check` (`python -m tools.plan.lockcheck`): passes on the shipped locks, fails
naming the stack and the change when a stack's config moves its placement, exit 2 on bad
config. The checker solves as the program does (settings.parse + platform.solve_plan), without
the mock engine, so each run over the three stacks takes about 2 s."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tools.plan import lockcheck
from tools.plan.cli import REPO_ROOT


@pytest.fixture
def project(tmp_path):
    """A copy of the project's Pulumi.yaml and stacks/ that a test may edit."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    return tmp_path


def edit(project, stack: str, old: str, new: str) -> None:
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_shipped_locks_are_what_the_optimizer_returns(capsys):
    assert lockcheck.main([]) == 0
    out = capsys.readouterr().out
    assert "every lock matches the optimizer (dev, prod, staging;" in out


def test_a_config_change_that_moves_placement_fails_naming_stack_and_change(project, capsys):
    # dev's demand from the east coast doubles: the spot pool grows from 5 nodes
    edit(
        project,
        "dev",
        "demandRps: {us-east: 20, us-west: 8}",
        "demandRps: {us-east: 40, us-west: 8}",
    )
    assert lockcheck.main(["--project", str(project)]) == 1
    err = capsys.readouterr().err.splitlines()
    stale = [line for line in err if line.startswith("dev: ")]
    assert len(stale) == 1, err
    assert stale[0].startswith("dev: gcp/asia-northeast3 g2-standard-4 spot 5 -> "), stale[0]
    assert "total 925.13 -> " in stale[0]
    assert stale[0].endswith("run make lock STACK=dev and commit the lock")
    assert not any(line.startswith(("prod:", "staging:")) for line in err)
    assert err[-1] == "lock check: 1 of 3 stacks differ from their lock (dev)"


def test_a_missing_lock_fails(project, capsys):
    (project / "stacks" / "placement.staging.json").unlink()
    assert lockcheck.main(["--project", str(project), "--stack", "staging"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("staging: no lock placement.staging.json; the optimizer places ")
    assert "run make lock STACK=staging" in err


def test_a_price_only_change_names_the_fields(project, capsys):
    """Same pools and routing, but the lock records another cost: the lock is stale too."""
    lock = project / "stacks" / "placement.dev.json"
    lock.write_text(lock.read_text().replace('"total": 925.13', '"total": 1100.0'))
    assert lockcheck.main(["--project", str(project), "--stack", "dev"]) == 1
    err = capsys.readouterr().err
    assert "dev: total 1,100.00 -> 925.13 USD/month; fields differ: cost;" in err


def test_bad_config_exits_2_with_the_loaders_lines(project, capsys):
    edit(project, "prod", "minClouds: 2", "minClouds: 7")
    assert lockcheck.main(["--project", str(project), "--stack", "prod"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: invalid stack config for prod:"
    assert err[1].startswith("  tricloud:placement.minClouds: 7 is out of range")
    assert "Traceback" not in "\n".join(err)


def test_unknown_stack_exits_2(capsys):
    assert lockcheck.main(["--stack", "qa"]) == 2
    assert "'qa' has no Pulumi.qa.yaml; known: dev, prod, staging" in capsys.readouterr().err


def test_make_lock_check_runs_the_module():
    """The Makefile target is this module (what CI and the README call)."""
    out = subprocess.run(
        ["make", "-n", "lock-check", "STACKS=dev prod"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-m tools.plan.lockcheck --stack dev --stack prod" in out
