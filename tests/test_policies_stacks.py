"""The pack on every shipped stack (mock engine capture) and the cost estimate by hand."""

from __future__ import annotations

import csv
import json

import pytest

from optimizer import cost
from optimizer.catalog import DEFAULT_PATH, HOURS_PER_MONTH, load
from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan import cli
from tools.plan.cli import REPO_ROOT
from tools.plan.policy import evaluate

CATALOG = load()


def stack_config(stack: str) -> dict:
    return json.loads((REPO_ROOT / "stacks" / f"policy.{stack}.json").read_text())


def estimate(stack: str, basis: str = "max") -> cost.Estimate:
    regs = [r.to_json() for r in stack_capture(stack).resources]
    return cost.estimate(cost.from_registrations(regs), CATALOG, basis)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_shipped_stack_passes_its_own_policy_config(stack):
    verdicts = evaluate(stack_capture(stack), stack, REPO_ROOT)
    assert verdicts.items == [] and verdicts.note == ""


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_max_monthly_usd_sits_above_the_estimate_with_headroom(stack):
    limit = stack_config(stack)["monthly-cost-limit"]["maxMonthlyUsd"]
    est = estimate(stack, "max")
    assert est.unpriced == []
    assert est.total * 1.1 <= limit, (est.total, limit)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_just_below_the_estimate_fails_monthly_cost_limit_as_mandatory(stack):
    est = estimate(stack, "max")
    config = stack_config(stack)
    config["monthly-cost-limit"] = {
        **config["monthly-cost-limit"],
        "maxMonthlyUsd": round(est.total - 1, 2),
    }
    verdicts = evaluate(stack_capture(stack), stack, REPO_ROOT, config)
    assert [(v.policy, v.level) for v in verdicts.items] == [("monthly-cost-limit", "mandatory")]
    (v,) = verdicts.mandatory_failures()
    top = v.message.split("Top cost items:")[1]
    for item in est.top(5):
        assert item.urn.rsplit("::", 1)[-1] in top
    assert f"${est.total:,.2f}" in v.message


def test_dev_requires_spot_and_its_plan_is_all_spot():
    assert stack_config("dev")["spot-required"]["requireSpot"] is True
    plan = json.loads((REPO_ROOT / "stacks" / "placement.dev.json").read_text())
    assert {p["pricing"] for c in plan["clusters"] for p in c["nodePools"]} == {"spot"}
    assert all(stack_config(s)["all"] == "mandatory" for s in ("staging", "prod"))


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_desired_basis_equals_the_plans_compute_and_cluster_fees(stack):
    """At starting sizes the resources cost what the plan says, less the operating overhead
    per cluster (no cloud bills it)."""
    plan = stack_capture(stack).outputs["placement"]
    est = estimate(stack, "desired")
    kinds = est.by_kind()
    assert kinds["pool"] == pytest.approx(plan["cost"]["monthlyUsd"]["compute"], abs=0.02)
    fees = sum(CATALOG.clusters[c["cloud"]].monthly_usd for c in plan["clusters"])
    assert kinds["cluster"] + kinds["system-pool"] == pytest.approx(fees, abs=0.05)


def _price(cloud, region, instance, pricing):
    with (DEFAULT_PATH / "offerings.csv").open() as fh:
        for row in csv.DictReader(fh):
            if (row["cloud"], row["region"], row["instance_type"]) == (cloud, region, instance):
                key = "price_spot_usd_hr" if pricing == "spot" else "price_on_demand_usd_hr"
                return float(row[key])
    raise LookupError(instance)


def test_estimate_of_known_pools_equals_a_hand_computation():
    r = cost.Resource
    resources = [
        r("urn:eks", "aws:eks/cluster:Cluster", {"name": "e"}, "us-east-1"),
        r(
            "urn:ng",
            "aws:eks/nodeGroup:NodeGroup",
            {
                "instanceTypes": ["g6.xlarge"],
                "capacityType": "SPOT",
                "scalingConfig": {"minSize": 1, "desiredSize": 2, "maxSize": 4},
            },
            "us-east-1",
        ),
        r(
            "urn:aks",
            "azure-native:containerservice:ManagedCluster",
            {
                "location": "eastus",
                "agentPoolProfiles": [
                    {"name": "system", "mode": "System", "vmSize": "Standard_D2s_v5", "count": 2}
                ],
            },
            "eastus",
        ),
        r(
            "urn:ap",
            "azure-native:containerservice:AgentPool",
            {
                "vmSize": "Standard_NC4as_T4_v3",
                "enableAutoScaling": True,
                "count": 1,
                "minCount": 1,
                "maxCount": 3,
            },
            "eastus",
        ),
        # per-zone bounds x 2 node locations
        r(
            "urn:np1",
            "gcp:container/nodePool:NodePool",
            {
                "location": "us-central1",
                "nodeLocations": ["us-central1-a", "us-central1-b"],
                "nodeConfig": {
                    "machineType": "g2-standard-4",
                    "spot": True,
                    "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
                },
                "autoscaling": {"minNodeCount": 1, "maxNodeCount": 2},
            },
            "us-central1",
        ),
        # an n1 with its attached T4, totals
        r(
            "urn:np2",
            "gcp:container/nodePool:NodePool",
            {
                "location": "us-central1",
                "nodeConfig": {
                    "machineType": "n1-standard-8",
                    "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 1}],
                },
                "autoscaling": {"totalMinNodeCount": 1, "totalMaxNodeCount": 3},
            },
            "us-central1",
        ),
    ]
    h = HOURS_PER_MONTH
    aws_fee = (0.10 + 0.0225) * h  # clusters.csv: control plane + load balancer
    azure_fee = (0.10 + 0.025) * h
    azure_system_node = 0.192 / 2  # system_pool_usd_hr is quoted for 2 nodes
    by_hand_max = (
        aws_fee
        + 4 * _price("aws", "us-east-1", "g6.xlarge", "spot") * h
        + azure_fee
        + 2 * azure_system_node * h
        + 3 * _price("azure", "eastus", "Standard_NC4as_T4_v3", "on-demand") * h
        + 2 * 2 * _price("gcp", "us-central1", "g2-standard-4", "spot") * h
        + 3 * _price("gcp", "us-central1", "n1-standard-8", "on-demand") * h
    )
    by_hand_desired = (
        aws_fee
        + 2 * _price("aws", "us-east-1", "g6.xlarge", "spot") * h
        + azure_fee
        + 2 * azure_system_node * h
        + 1 * _price("azure", "eastus", "Standard_NC4as_T4_v3", "on-demand") * h
        + 1 * 2 * _price("gcp", "us-central1", "g2-standard-4", "spot") * h
        + 1 * _price("gcp", "us-central1", "n1-standard-8", "on-demand") * h
    )
    est_max = cost.estimate(resources, CATALOG, "max")
    est_desired = cost.estimate(resources, CATALOG, "desired")
    assert est_max.unpriced == [] and est_desired.unpriced == []
    assert est_max.total == pytest.approx(by_hand_max, abs=1e-6)
    assert est_desired.total == pytest.approx(by_hand_desired, abs=1e-6)
    assert len(est_max.items) == 7


@pytest.mark.parametrize(
    "inputs,reason",
    [
        ({"nodeConfig": {"machineType": "a9-mega"}, "nodeCount": 1}, "not in the catalog"),
        (
            {
                "nodeConfig": {
                    "machineType": "n1-standard-8",
                    "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 4}],
                },
                "nodeCount": 1,
            },
            "is not a catalog offering",
        ),
        ({"nodeConfig": {"machineType": "[unknown]"}, "nodeCount": 1}, "not known during preview"),
    ],
)
def test_unpriceable_pools_are_listed_not_zero(inputs, reason):
    pool = cost.Resource("urn:np", "gcp:container/nodePool:NodePool", inputs, "us-central1")
    est = cost.estimate([pool], CATALOG)
    assert est.items == [] and reason in est.unpriced[0].reason


def test_gke_zones():
    assert cost.gke_zones({"location": "us-central1"}) == 3
    assert cost.gke_zones({"location": "us-central1-a"}) == 1
    assert cost.gke_zones({"nodeLocations": ["a", "b"], "location": "us-central1"}) == 2


def test_gce_accelerator_names_match_the_components():
    """Every GCP offering's GKE accelerator type reads back as the catalog's accelerator."""
    from components.gcp import GCE_ACCELERATOR, gce_accelerator_type

    for name, gce in GCE_ACCELERATOR.items():
        assert cost.GCE_ACCELERATORS[gce] == name
    for o in CATALOG.offerings:
        if o.cloud == "gcp":
            gce = gce_accelerator_type(o.instance_type, o.accelerator)
            assert gce is not None, o.instance_type
            assert cost.GCE_ACCELERATORS[gce] == o.accelerator, o.instance_type


def test_offline_plan_exits_1_on_a_mandatory_violation(tmp_path, monkeypatch, capsys):
    import tools.plan.policy as plan_policy

    real = plan_policy.evaluate

    def strict(capture, stack, project, config=None):
        return real(capture, stack, project, {"monthly-cost-limit": {"maxMonthlyUsd": 1}})

    monkeypatch.setattr(plan_policy, "evaluate", strict)
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: stack_capture("dev"))
    assert cli.main(["--stack", "dev", "--out", str(tmp_path)]) == 1
    verdicts = json.loads((tmp_path / "policy.json").read_text())
    assert [(v["policy"], v["level"]) for v in verdicts] == [("monthly-cost-limit", "mandatory")]
    summary = (tmp_path / "summary.md").read_text()
    assert "Estimated from resources: $925.13/month" in summary  # the plan's cents
    assert "monthly-cost-limit | mandatory" in summary
    out = capsys.readouterr().out
    # a stack policy has no resource: the console names the stack, not ": :"
    assert "policy mandatory: monthly-cost-limit: (stack): Estimated monthly cost" in out
    assert ": : " not in out


def test_offline_plan_writes_an_empty_verdict_list_when_all_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "run_program", lambda *a, **k: stack_capture("dev"))
    assert cli.main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "policy.json").read_text()) == []
    assert "All policies pass." in (tmp_path / "summary.md").read_text()


STORAGE = (
    "aws:s3/bucket:Bucket",
    "azure-native:storage:StorageAccount",
    "gcp:storage/bucket:Bucket",
)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_storage_is_checked_not_skipped(stack):
    """Each dataset bucket/account passes with its companions; unprotected, each is caught."""
    from policies.engine import analyze
    from tools.plan.policy import pack_resources

    resources = pack_resources(stack_capture(stack), stack)
    storage = [r["urn"] for r in resources if r["type"] in STORAGE]
    for r in resources:
        if r["type"] in STORAGE:
            r["protect"] = False
    found = [d for d in analyze(resources, stack_config(stack)) if d.policy == "storage-safe"]
    assert sorted(d.urn for d in found) == sorted(storage)
    assert all("not protected" in d.message and ";" not in d.message.split(".")[0] for d in found)
