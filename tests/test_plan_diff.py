"""The pull-request comment (`summary.md`) and `diff.json` on pairs of plans, against golden
files in tests/golden/.

Each case takes a committed lock (stacks/placement.<stack>.json) as the plan before, edits a
copy into the plan after (keeping its cost fields consistent), and renders both files with the
pure functions of `tools.plan.diff`. Any change to the output fails the test: review the new
text, then rewrite the golden files with

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_plan_diff.py

and commit them with the change that explains them.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from tools.plan import diff
from tools.plan.cli import REPO_ROOT

GOLDEN = Path(__file__).parent / "golden"
HOURS = 730


def lock(stack: str) -> dict:
    return json.loads((REPO_ROOT / "stacks" / f"placement.{stack}.json").read_text())


def _cluster(plan: dict, region: str) -> dict:
    cloud, name = region.split("/", 1)
    return next(c for c in plan["clusters"] if (c["cloud"], c["region"]) == (cloud, name))


def _add_cost(plan: dict, region: str, usd: float, category: str = "compute") -> None:
    monthly = plan["cost"]["monthlyUsd"]
    monthly[category] = round(monthly[category] + usd, 2)
    monthly["total"] = round(monthly["total"] + usd, 2)
    by_region = plan["cost"]["byRegion"]
    by_region[region] = round(by_region.get(region, 0.0) + usd, 2)


def resize(plan: dict, region: str, instance: str, pricing: str, nodes: int, **replicas) -> dict:
    """Set a pool's planned nodes (min = nodes, max = ceil(1.5 nodes)) and its replicas."""
    pool = next(
        p
        for p in _cluster(plan, region)["nodePools"]
        if (p["instanceType"], p["pricing"]) == (instance, pricing)
    )
    _add_cost(plan, region, round(pool["hourlyUsd"] * (nodes - pool["nodes"]) * HOURS, 2))
    pool.update(nodes=nodes, minNodes=nodes, maxNodes=-(-nodes * 3 // 2))
    if replicas:
        pool["replicas"] = dict(sorted(replicas.items()))
    return plan


def add_cluster(plan: dict, region: str, like: str, fees: float) -> dict:
    """A copy of the cluster `like` in another region of the same cloud (same pools)."""
    cloud, name = region.split("/", 1)
    new = copy.deepcopy(_cluster(plan, like))
    new.update(cloud=cloud, region=name)
    plan["clusters"] = sorted([*plan["clusters"], new], key=lambda c: (c["cloud"], c["region"]))
    for p in new["nodePools"]:
        _add_cost(plan, region, round(p["hourlyUsd"] * p["nodes"] * HOURS, 2))
    _add_cost(plan, region, fees, "clusters")
    plan["cost"]["byRegion"] = dict(sorted(plan["cost"]["byRegion"].items()))
    return plan


def remove_cloud(plan: dict, cloud: str) -> dict:
    """Drop a cloud's clusters, their cost, and renormalise the routing over what is left."""
    for c in [c for c in plan["clusters"] if c["cloud"] == cloud]:
        region = f"{cloud}/{c['region']}"
        usd = plan["cost"]["byRegion"].pop(region)
        pools = round(sum(p["hourlyUsd"] * p["nodes"] * HOURS for p in c["nodePools"]), 2)
        _add_cost(plan, region, -pools)
        _add_cost(plan, region, -(usd - pools), "clusters")
        plan["cost"]["byRegion"].pop(region)
    plan["clusters"] = [c for c in plan["clusters"] if c["cloud"] != cloud]
    for service, weights in plan["routing"].items():
        kept = {r: w for r, w in weights.items() if not r.startswith(f"{cloud}/")}
        total = sum(kept.values())
        plan["routing"][service] = {r: round(w / total, 6) for r, w in kept.items()}
    return plan


def verdict(policy: str, level: str, resource: str, message: str) -> dict:
    return {
        "policy": policy,
        "level": level,
        "urn": f"urn:pulumi:stack::tricloud::type::{resource}",
        "message": message,
    }


def case_unchanged():
    return lock("prod"), lock("prod"), [], "prod"


def case_resized_pool():
    after = resize(lock("prod"), "aws/us-east-1", "p5.48xlarge", "on-demand", 2, **{"chat-70b": 8})
    after["routing"]["chat-70b"] = {
        "aws/us-east-1": 0.666667,
        "aws/us-west-2": 0.25,
        "gcp/europe-west4": 0.083333,
    }
    # below the threshold: not a reviewer's concern, not shown
    after["routing"]["embed"]["aws/us-east-1"] = 0.265869
    after["routing"]["embed"]["gcp/us-central1"] = 0.25587
    return lock("prod"), after, [], "prod"


def case_added_region():
    after = add_cluster(lock("dev"), "aws/us-east-2", like="gcp/asia-northeast3", fees=229.59)
    aws = _cluster(after, "aws/us-east-2")["nodePools"][0]
    aws.update(instanceType="g6.xlarge", hourlyUsd=0.2612)
    after = resize(after, "gcp/asia-northeast3", "g2-standard-4", "spot", 3, **{"assist-8b": 3})
    after["routing"]["assist-8b"] = {"aws/us-east-2": 0.4, "gcp/asia-northeast3": 0.6}
    advisory = verdict(
        "cost-allocation-tags", "advisory", "tc-dev-us-east-2", "missing tags: cost-center"
    )
    return lock("dev"), after, [advisory], "dev"


def case_cloud_removed():
    after = remove_cloud(lock("staging"), "azure")
    after = resize(
        after, "aws/us-east-1", "g6.xlarge", "on-demand", 3, **{"chat-8b": 2, "embed": 1}
    )
    return lock("staging"), after, [], "staging"


def case_budget_violation():
    after = resize(
        lock("dev"), "gcp/asia-northeast3", "g2-standard-4", "spot", 12, **{"assist-8b": 12}
    )
    after["stability"].update(kept=False, savingsPercent=0)
    mandatory = verdict(
        "monthly-cost-limit",
        "mandatory",
        "tricloud-dev",
        "estimated 3,174.08 USD/month at max exceeds maxMonthlyUsd 2,500",
    )
    advisory = verdict(
        "max-nodes-per-pool",
        "advisory",
        "tc-dev-asia-northeast3-gpu-g2",
        "max 18 > maxNodesPerPool 10",
    )
    return lock("dev"), after, [advisory, mandatory], "dev"


def case_new_stack():
    return None, lock("staging"), [], "staging"


CASES = {
    "unchanged": case_unchanged,
    "resized_pool": case_resized_pool,
    "added_region": case_added_region,
    "cloud_removed": case_cloud_removed,
    "budget_violation": case_budget_violation,
    "new_stack": case_new_stack,
}


def outputs(name: str) -> tuple[dict, str]:
    before, after, verdicts, stack = CASES[name]()
    doc = diff.compare(before, after, verdicts, stack=stack)
    return doc, diff.render(doc, after)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    doc, text = outputs(name)
    files = {f"{name}.diff.json": diff.dumps(doc), f"{name}.summary.md": text}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for file, content in files.items():
            (GOLDEN / file).write_text(content)
    for file, content in files.items():
        path = GOLDEN / file
        assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1 and review it"
        assert content == path.read_text(), f"{file} changed: review, then UPDATE_GOLDEN=1"


def test_every_golden_file_belongs_to_a_case():
    expected = {f"{n}.{kind}" for n in CASES for kind in ("diff.json", "summary.md")}
    assert {p.name for p in GOLDEN.iterdir()} == expected


# --- the data behind the goldens, asserted directly ------------------------------------


def test_unchanged_reports_nothing():
    doc, text = outputs("unchanged")
    assert not doc["changed"] and not doc["new"]
    assert doc["cost"]["delta"]["total"] == 0
    assert doc["clusters"] == {"added": [], "removed": []}
    assert all(v == [] for v in doc["pools"].values())
    assert doc["routing"]["changes"] == []
    assert "None: the same clusters, node pools and routing as before." in text


def test_resized_pool():
    doc, text = outputs("resized_pool")
    (pool,) = doc["pools"]["resized"]
    assert (pool["cluster"], pool["instanceType"], pool["pricing"]) == (
        "aws/us-east-1",
        "p5.48xlarge",
        "on-demand",
    )
    assert pool["nodes"] == {"before": 1, "after": 2}
    assert doc["cost"]["delta"]["byCloud"] == {"aws": 40179.2, "gcp": 0.0}
    assert doc["cost"]["delta"]["byCategory"]["compute"] == 40179.2
    # the added chat-70b node in us-east-1 draws share from its other regions (embed's
    # shifts stay under the 1-point threshold)
    assert {(r["service"], r["region"]) for r in doc["routing"]["changes"]} == {
        ("chat-70b", "aws/us-east-1"),
        ("chat-70b", "aws/us-west-2"),
        ("chat-70b", "gcp/europe-west4"),
    }
    assert (
        diff.lock_changes(doc)[0] == "aws/us-east-1 p5.48xlarge on-demand 1 -> 2 nodes, max 2 -> 3"
    )
    assert "**Monthly cost: $197,780.12 -> $237,959.32 (+40,179.20, +20.3%)**" in text


def test_added_region_and_removed_cloud():
    doc, _ = outputs("added_region")
    assert doc["clusters"]["added"] == ["aws/us-east-2"]
    assert [p["cluster"] for p in doc["pools"]["added"]] == ["aws/us-east-2"]
    assert doc["cost"]["before"]["byCloud"].keys() == {"gcp"}
    assert doc["cost"]["after"]["byCloud"].keys() == {"aws", "gcp"}
    doc, _ = outputs("cloud_removed")
    assert doc["clusters"]["removed"] == ["azure/eastus", "azure/westus2"]
    assert len(doc["pools"]["removed"]) == 4
    assert "azure" not in doc["cost"]["after"]["byCloud"]
    assert doc["cost"]["delta"]["byCloud"]["azure"] == -7996.78


def test_budget_violation_blocks_and_lists_mandatory_first():
    doc, text = outputs("budget_violation")
    assert doc["policy"]["blocking"] is True
    assert [v["level"] for v in doc["policy"]["verdicts"]] == ["mandatory", "advisory"]
    assert ":no_entry: **blocked: 1 mandatory policy violation**" in text
    assert text.index("monthly-cost-limit | mandatory") < text.index("max-nodes-per-pool")


def test_new_stack_says_so():
    doc, text = outputs("new_stack")
    assert doc["new"] and doc["cost"]["before"] is None and doc["cost"]["delta"] is None
    assert len(doc["pools"]["added"]) == 8
    assert "**New stack: no earlier plan to compare.**" in text
    assert "<details><summary>Full placement" not in text  # shown open for a new stack


def test_the_comment_starts_with_the_marker_ci_looks_for():
    for name in CASES:
        doc, text = outputs(name)
        assert text.splitlines()[0] == f"<!-- tricloud-plan:{doc['stack']} -->"


def test_diff_json_is_deterministic_and_plain_json():
    before, after, verdicts, stack = CASES["budget_violation"]()
    first = diff.dumps(diff.compare(before, after, verdicts, stack=stack))
    second = diff.dumps(diff.compare(before, after, list(reversed(verdicts)), stack=stack))
    assert first == second
    assert json.loads(first)["version"] == diff.DIFF_VERSION


# --- through the CLI (dev under the mock engine, shared with the other tests) -------------


def test_cli_compare_to_writes_diff_json_and_the_comment(tmp_path, monkeypatch, capsys):
    from tests.conftest import stack_capture
    from tools.plan import cli

    capture = stack_capture("dev")  # before the patch: it runs the real program once
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: capture)
    base = tmp_path / "base"
    base.mkdir()
    (base / "plan.json").write_text((REPO_ROOT / "stacks" / "placement.dev.json").read_text())
    out = tmp_path / "head"
    assert cli.main(["--stack", "dev", "--out", str(out), "--compare-to", str(base)]) == 0
    doc = json.loads((out / "diff.json").read_text())
    assert (doc["stack"], doc["new"], doc["changed"]) == ("dev", False, False)
    text = (out / "summary.md").read_text()
    assert text.startswith("<!-- tricloud-plan:dev -->\n")
    assert "**Monthly cost: $925.13, unchanged**" in text
    # collapsed, still there; the same cents as the plan's total (a half-cent sum once
    # printed 1,182.97 here beside the plan's 1,182.96)
    assert "Estimated from resources: $925.13/month" in text
    console = capsys.readouterr().out
    assert "monthly cost 925.13 -> 925.13 USD (+0.00, +0.0%)" in console
    assert "placement and routing unchanged" in console

    # a folder without plan.json is a wrong --compare-to (a typo in CI), not a new stack
    (base / "plan.json").unlink()
    assert cli.main(["--stack", "dev", "--out", str(out), "--compare-to", str(base)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: nothing to compare against:"
    assert err[1].startswith(f"  --compare-to: '{base}': a folder without plan.json; ")
    assert "--new-stack" in err[1]
    # so is a path that does not exist, or a file that is not a plan
    assert cli.main(["--stack", "dev", "--out", str(out), "--compare-to", str(base / "x")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (base / "notes.txt").write_text("hello")
    assert (
        cli.main(["--stack", "dev", "--out", str(out), "--compare-to", str(base / "notes.txt")])
        == 2
    )
    assert "not a plan: not valid JSON" in capsys.readouterr().err

    # a plan file (the lock) works as well as a folder
    lock_file = REPO_ROOT / "stacks" / "placement.dev.json"
    assert cli.main(["--stack", "dev", "--out", str(out), "--compare-to", str(lock_file)]) == 0
    assert json.loads((out / "diff.json").read_text())["new"] is False
    capsys.readouterr()

    # the explicit case: the base branch has no such stack yet
    assert cli.main(["--stack", "dev", "--out", str(out), "--new-stack"]) == 0
    assert json.loads((out / "diff.json").read_text())["new"] is True
    assert "**New stack: no earlier plan to compare.**" in (out / "summary.md").read_text()

    # by default (make plan) the comparison is against the committed lock
    assert cli.main(["--stack", "dev", "--out", str(out)]) == 0
    assert json.loads((out / "diff.json").read_text())["new"] is False
    assert "against stacks/placement.dev.json: monthly cost 925.13 -> 925.13" in (
        capsys.readouterr().out
    )


def test_a_stack_policy_without_urn_names_the_stack():
    doc = diff.compare(lock("dev"), lock("dev"), [verdict("x", "mandatory", "", "m")], stack="dev")
    assert doc["policy"]["verdicts"][0]["resource"] == "(stack)"
