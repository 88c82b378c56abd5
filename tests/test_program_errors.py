"""Bad stack config through the whole program (design 3's bad-input contract): exit 2, a
heading and one line per problem naming its key, no traceback, and not a single resource
declared before validation finished."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from components import settings
from tests.test_settings import CASES, PROD, T
from tools.plan.cli import BANNER, REPO_ROOT
from tools.plan.engine import Capture, run_program

PROGRAM = REPO_ROOT / "__main__.py"
HEADING = "error: invalid stack config for prod:"


@pytest.fixture
def stacks_dir(tmp_path, monkeypatch):
    """The program's stacks folder, empty but for the files a case writes."""
    d = tmp_path / "stacks"
    d.mkdir()
    monkeypatch.setattr(settings, "STACKS_DIR", d)
    return d


def run(config: dict[str, str]) -> tuple[int | str | None, Capture]:
    capture = Capture()
    with pytest.raises(SystemExit) as info:
        run_program(PROGRAM, project="tricloud", stack="prod", config=config, capture=capture)
    return info.value.code, capture


def test_table_is_big_enough():
    assert len(CASES) >= 25


@pytest.mark.parametrize(
    ("mutate", "wheres", "text", "files"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_invalid_config_exits_2_with_one_line_per_problem_and_declares_nothing(
    mutate, wheres, text, files, stacks_dir, capsys
):
    config = dict(PROD)
    mutate(config)
    for name, content in files.items():
        (stacks_dir / name).write_text(content)
    code, capture = run(config)
    out, err = capsys.readouterr()
    assert code == 2
    assert capture.resources == []
    lines = err.splitlines()
    assert lines[0] == HEADING
    problems = lines[1:]
    assert all(line.startswith("  ") for line in problems), err
    assert sorted(line.strip().split(": ")[0] for line in problems) == sorted(wheres), err
    assert any(text in line for line in problems), err
    assert "Traceback" not in out + err


def test_several_problems_at_once(stacks_dir, capsys):
    config = dict(PROD)
    del config[f"{T}owner"]
    config[f"{T}kubernetesVersion"] = "1.29"
    config[f"{T}clouds"] = '["aws", "oracle"]'
    code, capture = run(config)
    err = capsys.readouterr().err
    assert (code, capture.resources) == (2, [])
    wheres = [line.split(": ")[0].strip() for line in err.splitlines()[1:]]
    assert sorted(wheres) == sorted([f"{T}owner", f"{T}kubernetesVersion", f"{T}clouds"]), err


def test_infeasible_stack_exits_2_with_the_explanation_and_declares_nothing(capsys):
    config = dict(PROD)
    placement = json.loads(config[f"{T}placement"])
    placement["monthlyBudgetUsd"] = 1000
    config[f"{T}placement"] = json.dumps(placement)
    code, capture = run(config)
    out, err = capsys.readouterr()
    assert (code, capture.resources) == (2, [])
    lines = err.splitlines()
    assert lines[0] == "error: no placement meets every constraint of stack prod:"
    assert len(lines) >= 2 and all(line.startswith("  ") for line in lines[1:]), err
    assert "budget" in err.lower()
    assert "Traceback" not in out + err


def test_valid_config_does_declare_resources():
    """The other side of "nothing declared": the same runner with the shipped config."""
    capture = run_program(PROGRAM, project="tricloud", stack="dev", config=dev_config())
    assert capture.resources


def dev_config() -> dict[str, str]:
    return settings.config_from_stack_file(
        REPO_ROOT / "stacks" / "Pulumi.dev.yaml", project_file=REPO_ROOT / "Pulumi.yaml"
    ).values


# --- the command line, as a user runs it ----------------------------------------------------

BROKEN = """\
config:
  pulumi:disable-default-providers: ["*"]
  gcp:project: acme-tricloud-dev
  tricloud:owner: {team: ML Platform, costCenter: cc-4711}
  tricloud:clouds: [aws, gcp]
  tricloud:kubernetesVersion: "1.29"
  tricloud:services:
    - name: assist-8b
      image: ghcr.io/acme/vllm-llama-8b:0.6.3
      replicaGpuMemoryGb: 20
      throughputRps: {L4: 6}
      demandRps: {us-east: 20}
      latencySloMs: 150
      modelSizeGb: 16
      port: 8000
  tricloud:placement:
    survive: zone
    monthlyBudgetUsd: 6000
  tricloud:traffic: {dns: route53, zone: dev.example.com}
  tricloud:replication: {mode: incremental, maxStalenessMinutes: 240, datasets: []}
"""


def plan_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_offline_plan_of_a_broken_stack(tmp_path):
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO_ROOT / name, project / name)
    (project / "stacks" / "Pulumi.broken.yaml").write_text(BROKEN)
    result = plan_cli("--project", str(project), "--stack", "broken", "--out", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stdout.splitlines()[0] == BANNER
    assert "nothing sent to any cloud" in BANNER
    lines = result.stderr.splitlines()
    assert lines[0] == "error: invalid stack config for broken:"
    wheres = sorted(line.split(": ")[0].strip() for line in lines[1:])
    assert wheres == sorted([f"{T}owner.team", f"{T}kubernetesVersion", f"{T}placement.survive"]), (
        result.stderr
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "resources.json").exists()


def test_offline_plan_of_an_unknown_stack_names_the_known_ones():
    result = plan_cli("--stack", "nosuch")
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == BANNER
    lines = result.stderr.splitlines()
    assert lines[0] == "error: unknown stack:"
    assert len(lines) == 2 and "'nosuch'" in lines[1]
    assert lines[1].endswith("known: dev, prod, staging"), lines[1]
    assert "Traceback" not in result.stderr
