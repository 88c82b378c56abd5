"""placement.gkeFreeTierCredit: one GKE cluster per stack runs a zonal control plane and its
management fee is credited, in the plan's cost, in the cluster the program declares and in
the policy pack's estimate of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from optimizer import catalog as catalog_mod
from optimizer.cost import GKE_FREE_TIER_LABEL, Resource, price_cluster
from optimizer.errors import InputError
from optimizer.plan import SCHEMA_PATH
from optimizer.scenario import parse
from optimizer.solve import solve

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"


@pytest.fixture(scope="module")
def cat():
    return catalog_mod.load()


def _scenario(credit, regions, clouds=("aws", "azure", "gcp")):
    return {
        "clouds": list(clouds),
        "services": [
            {
                "name": "embed",
                "image": "ghcr.io/acme/text-embed:2.1.0",
                "replicaGpuMemoryGb": 16,
                "throughputRps": {"L4": 60, "A10G": 55, "T4": 25},
                # Two geos an ocean apart at 40 ms: two clusters.
                "demandRps": {"us-east": 300, "japan": 200},
                "latencySloMs": 40,
                "minReplicas": 1,
                "modelSizeGb": 2,
            }
        ],
        "placement": {
            "survive": "none",
            "allowedRegions": regions,
            **({} if credit is None else {"gkeFreeTierCredit": credit}),
        },
    }


GCP_TWO = ["gcp/us-east4", "gcp/asia-northeast1"]


def test_credit_is_one_zonal_cluster_fee(cat):
    without = solve(parse(_scenario(None, GCP_TWO), cat), cat, diagnose=False)
    with_credit = solve(parse(_scenario(True, GCP_TWO), cat), cat, diagnose=False)
    assert sorted(c.key for c in without.clusters) == sorted(GCP_TWO)
    credit = cat.clusters["gcp"].gke_free_tier_credit_usd
    # 0.10 $/h x 730 h = 73.00, below the 74.40 cap: the whole fee of one cluster, once.
    assert credit == pytest.approx(73.0)
    assert without.cost.clusters - with_credit.cost.clusters == pytest.approx(credit)
    assert without.cost.compute == pytest.approx(with_credit.cost.compute)
    zonal = [c.key for c in with_credit.clusters if c.control_plane == "zonal"]
    assert zonal == [min(c.key for c in with_credit.clusters)]
    assert all(c.control_plane == "regional" for c in without.clusters)
    doc = with_credit.to_json()
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert [c.get("controlPlane") for c in doc["clusters"]] == ["zonal", None]
    # Plans without the option are unchanged byte for byte: no key where nothing is zonal.
    assert "controlPlane" not in json.dumps(without.to_json())


def test_no_gcp_cluster_no_credit(cat):
    regions = ["aws/us-east-1", "aws/ap-northeast-1"]
    plain = solve(parse(_scenario(None, regions), cat), cat, diagnose=False)
    asked = solve(parse(_scenario(True, regions), cat), cat, diagnose=False)
    assert asked.cost.total == pytest.approx(plain.cost.total)
    assert all(c.control_plane == "regional" for c in asked.clusters)


def test_credit_counts_against_the_budget(cat):
    """The budget row sees the credited fee: a budget between the two costs is met only with it."""
    without = solve(parse(_scenario(None, GCP_TWO), cat), cat, diagnose=False)
    budget = without.cost.billed - 10.0
    raw = _scenario(True, GCP_TWO)
    raw["placement"]["monthlyBudgetUsd"] = budget
    plan = solve(parse(raw, cat), cat, diagnose=False)
    assert plan.cost.billed <= budget


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_value_is_one_line(cat, value):
    raw = _scenario(True, GCP_TWO)
    raw["placement"]["gkeFreeTierCredit"] = value
    with pytest.raises(InputError) as e:
        parse(raw, cat)
    (problem,) = e.value.problems
    assert problem.where == "placement.gkeFreeTierCredit"
    assert problem.message.endswith("is not allowed; allowed: true, false")


def _cluster(location, labels):
    return Resource(
        urn="urn:pulumi:s::p::gcp:container/cluster:Cluster::c",
        type="gcp:container/cluster:Cluster",
        inputs={"location": location, "resourceLabels": labels},
    )


def test_estimate_credits_only_a_labelled_zonal_cluster(cat):
    fees = cat.clusters["gcp"]
    full = (fees.control_plane_usd_hr + fees.load_balancer_usd_hr) * catalog_mod.HOURS_PER_MONTH
    label = {GKE_FREE_TIER_LABEL: "true"}
    zonal = price_cluster(_cluster("us-east4-a", label), cat)
    assert zonal.monthly_usd == pytest.approx(full - fees.gke_free_tier_credit_usd)
    assert zonal.region == "us-east4"
    # A regional cluster never qualifies, label or not; nor an unlabelled zonal one.
    assert price_cluster(_cluster("us-east4", label), cat).monthly_usd == pytest.approx(full)
    assert price_cluster(_cluster("us-east4-a", {}), cat).monthly_usd == pytest.approx(full)


@pytest.fixture(scope="module")
def gcp_primary(tmp_path_factory):
    """The program's registrations for the audit stack gcp-primary, which sets the option."""
    from tools.plan.cli import REPO_ROOT, capture_for

    project = tmp_path_factory.mktemp("gcp-primary")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO_ROOT / name, project / name)
    (project / "stacks").mkdir()
    shutil.copy(FIXTURES / "Pulumi.gcp-primary.yaml", project / "stacks")
    return capture_for("gcp-primary", project)


def test_program_declares_the_zonal_cluster(gcp_primary):
    """Its first GKE cluster is zonal, in the first of its zones, with its pools created
    there, labelled for the estimate; the others stay regional and unlabelled."""
    cap = gcp_primary
    assert not cap.errors
    clusters = [r for r in cap.resources if r.type == "gcp:container/cluster:Cluster"]
    assert len(clusters) >= 2
    zonal = [c for c in clusters if c.inputs["location"].count("-") == 2]
    assert len(zonal) == 1
    z = zonal[0].inputs
    assert z["resourceLabels"][GKE_FREE_TIER_LABEL] == "true"
    pools = [
        r
        for r in cap.resources
        if r.type == "gcp:container/nodePool:NodePool" and r.parent == zonal[0].parent
    ]
    assert pools and all(p.inputs["location"] == z["location"] for p in pools)
    for c in clusters:
        if c is not zonal[0]:
            assert GKE_FREE_TIER_LABEL not in c.inputs["resourceLabels"]


def test_console_names_the_credited_cluster(gcp_primary):
    from tools.plan.summary import estimated_from_resources

    zonal = [
        c for c in gcp_primary.outputs["placement"]["clusters"] if c.get("controlPlane") == "zonal"
    ]
    assert len(zonal) == 1
    line = estimated_from_resources(gcp_primary)
    assert f"{zonal[0]['cloud']}/{zonal[0]['region']}: zonal control plane" in line
