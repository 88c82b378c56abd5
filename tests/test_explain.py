"""explain: rejected alternatives and the price of each guarantee, on small scenarios."""

from __future__ import annotations

import copy

import pytest

from optimizer import catalog as catalog_mod
from optimizer.explain import (
    failover_only_capacity,
    price_of_guarantees,
    rejected_alternatives,
)
from optimizer.scenario import parse
from optimizer.solve import solve

BASE = {
    "clouds": ["aws", "azure", "gcp"],
    "services": [
        {
            "name": "embed",
            "image": "x:1",
            "replicaGpuMemoryGb": 16,
            "throughputRps": {"L4": 60},
            "demandRps": {"us-east": 300},
            "latencySloMs": 40,
        }
    ],
    "placement": {"survive": "region"},
}


@pytest.fixture(scope="module")
def cat():
    return catalog_mod.load()


def test_price_of_survivability_is_the_cost_difference(cat):
    scenario = parse(BASE, cat)
    plan = solve(scenario, cat)
    prices = {g.family: g.monthly_usd_saved for g in price_of_guarantees(scenario, cat, plan)}
    relaxed = copy.deepcopy(BASE)
    relaxed["placement"]["survive"] = "none"
    without = solve(parse(relaxed, cat), cat)
    expected = plan.cost.billed - without.cost.billed
    assert expected > 0  # surviving a region costs something here
    assert prices["survivability"] == pytest.approx(expected, abs=0.02)
    assert "spread" not in prices  # minClouds 1: nothing to price


def test_rejected_alternative_names_residency(cat):
    raw = copy.deepcopy(BASE)
    raw["placement"] = {"survive": "none", "allowedRegions": ["aws/*"]}
    scenario = parse(raw, cat)
    plan = solve(scenario, cat)
    assert all(c.cloud == "aws" for c in plan.clusters)
    text = rejected_alternatives(scenario, cat, plan)["embed"]
    # GCP's L4 is cheaper per rps than AWS's: it is the alternative, excluded by residency
    assert text.startswith("gcp/") and "residency" in text


def test_rejected_alternative_names_a_full_quota(cat):
    raw = copy.deepcopy(BASE)
    raw["placement"] = {"survive": "none"}
    free = solve(parse(raw, cat), cat)
    (cluster,) = free.clusters
    (pool,) = cluster.node_pools
    raw["placement"]["quotasGpu"] = {f"{cluster.key}/{pool.accelerator}": 0}
    scenario = parse(raw, cat)
    plan = solve(scenario, cat)
    assert cluster.key not in {c.key for c in plan.clusters}
    text = rejected_alternatives(scenario, cat, plan)["embed"]
    assert text.startswith(f"{cluster.key}/{pool.instance_type} ")
    assert "quota" in text and "0 of 0 GPUs" in text


def test_price_reason_compares_on_demand_with_on_demand(cat):
    """small.yaml's plan mixes on-demand and spot: the alternative (priced on demand) is
    compared with the plan's on-demand pool, not with the cheaper spot one."""
    import re
    from pathlib import Path

    import yaml

    raw = yaml.safe_load((Path(__file__).parent.parent / "bench/scenarios/small.yaml").read_text())
    scenario = parse(raw, cat)
    plan = solve(scenario, cat)
    pools = [p for c in plan.clusters for p in c.node_pools]
    assert {p.pricing for p in pools} == {"on-demand", "spot"}
    text = rejected_alternatives(scenario, cat, plan)["embed"]
    quoted = float(re.search(r"pool for it costs ([\d,.]+)", text).group(1).replace(",", ""))
    on_demand = min(p.hourly_usd * 730 / 60 for p in pools if p.pricing == "on-demand")
    assert quoted == pytest.approx(on_demand, abs=0.01)


def test_explain_names_capacity_placed_for_failover_only(cat):
    """One region within the latency SLO of the geo, a wider failover SLO: surviving its
    loss needs capacity that serves no one normally, and explain says which."""
    from independent import read_measured, read_regions, round_trip_ms

    regions, measured = read_regions(cat.path), read_measured(cat.path)
    rtts = sorted((round_trip_ms("nordics", r, regions, measured), r) for r in regions)
    if rtts[1][0] - rtts[0][0] <= 1.0:
        pytest.skip("the catalog has two regions equally near the nordics")
    raw = copy.deepcopy(BASE)
    svc = raw["services"][0]
    svc["demandRps"] = {"nordics": 50}
    svc["latencySloMs"] = round(rtts[0][0] + 0.5, 1)
    svc["failoverLatencySloMs"] = round(rtts[1][0] + 40, 1)
    scenario = parse(raw, cat)
    plan = solve(scenario, cat)
    named = failover_only_capacity(scenario, cat, plan)["embed"]
    outside = sorted(c.key for c in plan.clusters if c.key != rtts[0][1])
    assert outside and [line.split("/")[0] + "/" + line.split("/")[1] for line in named] == outside
    assert all("replicas" in line and "failover" in line for line in named)
    raw["placement"] = {"survive": "none"}
    scenario = parse(raw, cat)
    assert failover_only_capacity(scenario, cat, solve(scenario, cat)) == {}
