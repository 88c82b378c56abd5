"""What an operator meets around the stack config: the documented lock workflow end to end,
the lock and the policy config validated like config (exit 2, one line per problem naming the
file), a stack without policy config still held to its budget, and the console's wording."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from tests.conftest import stack_capture
from tools.plan import cli, lockcheck
from tools.plan import policy as plan_policy
from tools.plan.cli import REPO_ROOT

DEMAND = "demandRps: {us-east: 20, us-west: 8}"


@pytest.fixture
def project(tmp_path):
    """A copy of the program (Pulumi.yaml, __main__.py, stacks/) that a test may edit."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO_ROOT / name, root / name)
    shutil.copytree(REPO_ROOT / "stacks", root / "stacks")
    return root


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


# --- item 1: change demand -> plan -> lock -> lock-check, as the docs tell it ---------------


def test_the_documented_lock_workflow_passes_the_lock_check_after_one_make_lock(
    project, tmp_path, capsys
):
    edit(project / "stacks" / "Pulumi.dev.yaml", DEMAND, "demandRps: {us-east: 30, us-west: 8}")
    base = ["--project", str(project), "--stack", "dev", "--out", str(tmp_path / "out")]

    # make plan: the console shows what the change moves against the committed lock
    assert cli.main(base) == 0
    out = capsys.readouterr().out
    assert "stack dev: 1 cluster, " in out  # not "1 clusters"
    assert f"against {project}/stacks/placement.dev.json: monthly cost 925.13 -> " in out
    assert "gcp/asia-northeast3 g2-standard-4 spot 5 -> " in out
    assert lockcheck.main(["--project", str(project), "--stack", "dev"]) == 1
    capsys.readouterr()

    # make lock, once
    assert cli.main([*base, "--write-lock"]) == 0
    assert "lock written: " in capsys.readouterr().out
    lock = json.loads((project / "stacks" / "placement.dev.json").read_text())
    assert lock["stability"] == {
        "incumbent": "stacks/placement.dev.json",
        "kept": True,
        "savingsPercent": 0,
    }

    # make lock-check passes at once
    assert lockcheck.main(["--project", str(project), "--stack", "dev"]) == 0
    assert "every lock matches the optimizer (dev;" in capsys.readouterr().out


# --- item 2: the lock is validated like config ---------------------------------------------


def _bad_lock(project, **pool_fields) -> None:
    path = project / "stacks" / "placement.dev.json"
    doc = json.loads(path.read_text())
    doc["clusters"][0]["nodePools"][0].update(pool_fields)
    path.write_text(json.dumps(doc, indent=2))


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        (
            {"nodes": "five"},
            "stacks/placement.dev.json: clusters[0].nodePools[0].nodes: 'five' is not a whole "
            "number >= 0",
        ),
        (
            {"nodes": -1, "minNodes": -1},
            "stacks/placement.dev.json: clusters[0].nodePools[0].nodes: -1 is not a whole "
            "number >= 0",
        ),
        (
            {"nodes": 2.5},
            "stacks/placement.dev.json: clusters[0].nodePools[0].nodes: 2.5 is not a whole "
            "number >= 0",
        ),
        (
            {"instanceType": "g9.huge"},
            "stacks/placement.dev.json: clusters[0].nodePools[0].instanceType: 'g9.huge' is not "
            "offered in gcp/asia-northeast3 by the catalog; offered: ",
        ),
    ],
)
def test_a_bad_lock_exits_2_naming_the_file_and_field(project, capsys, fields, line):
    _bad_lock(project, **fields)
    assert lockcheck.main(["--project", str(project), "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"  {line}" in err, err


def test_a_lock_naming_an_unknown_region_exits_2(project, capsys):
    path = project / "stacks" / "placement.dev.json"
    doc = json.loads(path.read_text())
    doc["clusters"][0]["region"] = "mars-north-1"
    path.write_text(json.dumps(doc))
    assert lockcheck.main(["--project", str(project), "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert (
        "  stacks/placement.dev.json: clusters[0].region: 'gcp/mars-north-1' is not a region "
        "of the catalog"
    ) in err


def test_a_missing_lock_is_stated_never_as_not_kept(project, tmp_path, monkeypatch, capsys):
    (project / "stacks" / "placement.dev.json").unlink()
    plan = lockcheck.solve_stack(project, "dev")
    assert plan["stability"] == {"incumbent": None, "kept": False, "savingsPercent": 0}

    capture = stack_capture("dev")  # before the patch: it runs the real program once
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: capture)
    out_dir = tmp_path / "out"
    assert cli.main(["--project", str(project), "--stack", "dev", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert f"no lock {project}/stacks/placement.dev.json: nothing to compare against" in out
    assert "make lock STACK=dev writes it" in out
    assert "not kept" not in out


def test_the_comment_states_a_missing_lock():
    from tools.plan import diff

    plan = lockcheck.solve_stack(REPO_ROOT, "dev")
    plan["stability"] = {"incumbent": None, "kept": False, "savingsPercent": 0}
    text = diff.render(diff.compare(None, plan, stack="dev"), plan)
    assert "**no lock**: placement.dev.json is missing, so nothing was kept" in text
    assert "not kept" not in text and "saves 0%" not in text


def test_the_optimizer_cli_validates_an_incumbent_like_a_lock(tmp_path, capsys):
    from optimizer import cli as optimizer_cli

    doc = json.loads((REPO_ROOT / "stacks" / "placement.dev.json").read_text())
    doc["clusters"][0]["nodePools"][0]["nodes"] = "five"
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(doc))
    scenario = REPO_ROOT / "bench" / "scenarios" / "small.yaml"
    assert optimizer_cli.main(["solve", "--scenario", str(scenario), "--incumbent", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid incumbent plan:\n")
    assert f"  {bad}: clusters[0].nodePools[0].nodes: 'five' is not a whole number" in err


# --- item 4: no policy config, still the stack's budget ------------------------------------


def test_the_program_exports_its_budget_for_the_pack():
    assert stack_capture("dev").outputs["monthlyBudgetUsd"] == 6000


def test_a_stack_without_policy_config_is_held_to_its_budget(project):
    (project / "stacks" / "policy.dev.json").unlink()
    capture = copy.copy(stack_capture("dev"))
    capture.outputs = {**capture.outputs, "monthlyBudgetUsd": 1000}  # below the 1,415.67 ceiling
    verdicts = plan_policy.evaluate(capture, "dev", project)
    assert verdicts.config.startswith("no stacks/policy.dev.json: the pack's defaults")
    failures = [(v.policy, v.level) for v in verdicts.mandatory_failures()]
    assert failures == [("monthly-cost-limit", "mandatory")]
    message = verdicts.mandatory_failures()[0].message
    assert "exceeds the stack's tricloud:placement.monthlyBudgetUsd $1,000.00 by $415.67" in message
    assert "set maxMonthlyUsd in stacks/policy.dev.json" in message

    # at the shipped budget the stack passes, and the summary says which config was used
    verdicts = plan_policy.evaluate(stack_capture("dev"), "dev", project)
    assert not verdicts.mandatory_failures()


def test_the_summary_names_the_policy_config(tmp_path, monkeypatch, capsys):
    capture = stack_capture("dev")  # before the patch: it runs the real program once
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: capture)
    assert cli.main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    assert "Policy config stacks/policy.dev.json." in (tmp_path / "summary.md").read_text()
    assert "policy: policy config stacks/policy.dev.json" in capsys.readouterr().out


# --- item 5: a broken policy config is bad input ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{"all": "advisory",', "stacks/policy.dev.json: line 1: not valid JSON: "),
        (
            '{"monthly-cost-limt": "mandatory"}',
            "stacks/policy.dev.json: monthly-cost-limt: no such policy; known: ",
        ),
        (
            '{"monthly-cost-limit": {"maxMonthlyUsd": "2500"}}',
            "stacks/policy.dev.json: monthly-cost-limit.maxMonthlyUsd: '2500' is not a number",
        ),
        (
            '{"max-nodes-per-pool": {"maxNodes": 3}}',
            "stacks/policy.dev.json: max-nodes-per-pool.maxNodes: unknown property; known: "
            "maxNodesPerPool",
        ),
        ("[1, 2]", "stacks/policy.dev.json: [1, 2] is not an object of policy name"),
    ],
)
def test_a_broken_policy_config_exits_2_one_line_per_problem(
    project, monkeypatch, capsys, text, line
):
    (project / "stacks" / "policy.dev.json").write_text(text)
    ran = []
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: ran.append(1))
    assert cli.main(["--project", str(project), "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid policy config for dev:\n"), err
    assert f"  {line}" in err, err
    assert "Traceback" not in err
    assert not ran  # checked before the program runs


# --- item 12: the pack's messages name the stack's file and print counts as integers -----


def test_policy_messages_name_the_stacks_file_and_integer_limits():
    verdicts = plan_policy.evaluate(
        stack_capture("dev"), "dev", REPO_ROOT, {"max-nodes-per-pool": {"maxNodesPerPool": 3}}
    )
    messages = [v.message for v in verdicts.items if v.policy == "max-nodes-per-pool"]
    assert messages, verdicts.items
    assert all("Limit: maxNodesPerPool 3. " in m for m in messages), messages
    assert all("raise maxNodesPerPool in stacks/policy.dev.json." in m for m in messages)
    assert not any("<stack>" in v.message for v in verdicts.items)


# --- item 5: component arguments from a composing program ----------------------------------

BAD_PROGRAM = """
import pulumi
from pulumi_gcp import Provider
from components import GcpGpuCluster

gcp = Provider("gcp", project="acme-ml-dev", region="europe-west4")
GcpGpuCluster(
    "gpu",
    {
        "region": "europe-west4",
        "cluster_name": "ex-dev",
        "kubernetes_version": "1.33",
        "project": "acme-ml-dev",
        "tags": {"team": "ml"},
        "gpu_pools": [
            {
                "instance_type": "g2-standard-48",
                "accelerator": "L4",
                "accelerator_count": 4,
                "pricing": "spto",
                "min_nodes": 1,
                "max_nodes": "3",
            }
        ],
        "api_alowed_cidrs": [],
    },
    pulumi.ResourceOptions(providers=[gcp]),
)
"""


def test_bad_component_arguments_exit_2_one_line_each(tmp_path, capsys):
    project = tmp_path / "composed"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: composed\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    (project / "__main__.py").write_text(BAD_PROGRAM)
    assert cli.main(["--project", str(project), "--stack", "dev", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: invalid arguments for GcpGpuCluster 'gpu':",
        "  GcpGpuCluster 'gpu': api_alowed_cidrs: unknown argument; known: api_allowed_cidrs, "
        "cluster_admins, cluster_name, extended_support, gpu_pools, kubernetes_version, "
        "network_cidr, node_service_account_id, project, region, tags, zonal_control_plane, "
        "zones",
        "  GcpGpuCluster 'gpu': gpu_pools[0].zones: is required (GpuPoolArgs)",
        "  GcpGpuCluster 'gpu': gpu_pools[0].pricing: 'spto' is not allowed; allowed: "
        "on-demand, spot",
        "  GcpGpuCluster 'gpu': gpu_pools[0].max_nodes: '3' is not a whole number",
    ]


def test_component_args_errors_are_clean_under_the_pulumi_cli_too():
    """The Pulumi CLI prints a `pulumi.RunError` without a traceback; the offline plan reads
    it as the project's InputError (exit 2)."""
    import pulumi

    from components.cluster import GpuPoolArgs
    from components.validate import ComponentArgsError, check_args
    from optimizer.errors import InputError

    with pytest.raises(ComponentArgsError) as e:
        check_args("X", "x", {"instance_type": 1}, GpuPoolArgs)
    assert isinstance(e.value, InputError) and isinstance(e.value, pulumi.RunError)
    assert e.value.lines()[0] == "X 'x': accelerator: is required (GpuPoolArgs)"
    assert "X 'x': instance_type: 1 is not a string" in e.value.lines()


# --- item 7: what a reviewer needs, in the comment; the console folded ---------------------


def test_the_comment_shows_routing_survivability_and_budget_headroom(tmp_path, monkeypatch, capsys):
    capture = stack_capture("prod")  # before the patch: it runs the real program once
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: capture)
    assert cli.main(["--stack", "prod", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "diff.json").read_text())
    text = (tmp_path / "summary.md").read_text()
    # every service's weights, not only the changes
    weights = doc["routing"]["weights"]
    assert set(weights) == set(capture.outputs["placement"]["routing"])
    assert "#### Routing" in text
    for service, regions in weights.items():
        for region, w in regions.items():
            assert f"| {service} | {region} | {w:.1%} |" in text
    # the survivability result and the worst failure domain
    sv = capture.outputs["placement"]["survivability"]
    assert doc["survivability"] == sv
    assert (
        f"- **Survivability**: survive region; the worst single-region loss "
        f"({sv['worstCaseDomain']}) leaves {sv['worstCaseServedFraction']:.1%} of demand served"
    ) in text
    # the budget headroom when checks pass
    budget = doc["budget"]
    assert budget["limit"] == 420000 and budget["basis"] == "max"
    assert budget["headroom"] == round(420000 - budget["estimate"], 2)
    assert (
        f"- **Budget**: estimate ${budget['estimate']:,.2f} (max basis) against $420,000.00 "
        f"(maxMonthlyUsd in policy config stacks/policy.prod.json): headroom "
        f"${budget['headroom']:,.2f}"
    ) in text
    console = capsys.readouterr().out
    assert f"Budget: estimate ${budget['estimate']:,.2f}" in console
    # resource types folded to counts per cloud; the types are in resources.json
    assert "RESOURCE TYPE" not in console
    n = len(capture.resources)
    assert f"resources: {n} (aws " in console and "; by type: resources.json" in console
    # no line per resource type: prod's 8 clusters' pools and its 8 add-on rows remain
    assert not any(
        line.startswith(("aws:", "gcp:", "kubernetes:")) for line in console.splitlines()
    )
    assert len(console.splitlines()) < 80


# --- item 9: the optimizer CLI on a stack, with progress for --explain ----------------------


def test_optimizer_solve_reads_a_stack_as_the_program_does(capsys):
    from optimizer import cli as optimizer_cli

    assert (
        optimizer_cli.main(["solve", "--stack", "prod", "--project", str(REPO_ROOT), "--json", "-"])
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    plan["solver"].pop("seconds", None)
    assert plan == lockcheck.solve_stack(REPO_ROOT, "prod")  # the program's placement
    assert plan["stability"]["incumbent"] == "stacks/placement.prod.json"  # the lock kept


def test_optimizer_solve_rejects_an_unknown_stack(capsys):
    from optimizer import cli as optimizer_cli

    assert optimizer_cli.main(["solve", "--stack", "qa", "--project", str(REPO_ROOT)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: unknown stack:\n  --stack: 'qa' has no Pulumi.qa.yaml; known: dev, prod, staging\n"
    )


def test_explain_reports_each_re_solve_as_it_goes(capsys):
    from optimizer import cli as optimizer_cli

    assert (
        optimizer_cli.main(
            ["solve", "--stack", "staging", "--project", str(REPO_ROOT), "--explain"]
        )
        == 0
    )
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    families = [line.split(" without ")[1].split(" ...")[0] for line in lines]
    assert len(lines) >= 2, lines
    for i, line in enumerate(lines):
        assert line.startswith(f"explain: re-solve {i + 1}/{len(lines)} without "), line
        assert line.endswith(" s"), line
    out = captured.out
    for family in families:
        assert f"  {family:14s}" in out


# --- item 6: the pack from the installed distribution --------------------------------------


def test_the_pack_location_in_this_repository_is_the_package_folder():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "policies.location"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(REPO_ROOT / "policies")


def test_an_installed_distribution_gets_a_runnable_pack_folder(tmp_path):
    """Installed into another environment, the package folder sits in site-packages and its
    `../.venv` names nothing: the written folder names that environment and serves the
    installed policies."""
    import yaml

    from policies import location, serve

    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3.11" / "site-packages"
    shutil.copytree(REPO_ROOT / "policies", site / "policies")
    folder = location.pack_dir(prefix=prefix, package_dir=site / "policies")
    assert folder == prefix / "share" / "tricloud-guardrails"
    doc = yaml.safe_load((folder / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"] == {"name": "python", "options": {"virtualenv": str(prefix)}}
    own = yaml.safe_load((REPO_ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert doc["version"] == own["version"]
    main = (folder / "__main__.py").read_text()
    compile(main, "__main__.py", "exec")
    assert "from policies.serve import main" in main and callable(serve.main)
