"""Survivability (design 6.3) checked from the plan JSON alone.

`servable_after_loss` recomputes, from the plan's node pools only (replicas per service x
the service's throughputRps for the pool's accelerator, spot pools weighted by
spotSurvivalFactor), the capacity each service keeps after losing each failure domain
(a region, or a whole cloud for `survive: cloud`). It uses neither the optimizer's model nor
its survivability report, which is then compared with it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from independent import cloud_with_spot, gpus_per_replica

from optimizer import catalog as catalog_mod
from optimizer.scenario import Scenario, parse
from optimizer.solve import solve

BENCH = Path(__file__).resolve().parent.parent / "bench" / "scenarios"


def domain_of(cluster: dict, level: str) -> str:
    return cluster["cloud"] if level == "cloud" else f"{cluster['cloud']}/{cluster['region']}"


def servable_after_loss(plan_json: dict, scenario: Scenario) -> dict[str, dict[str, float]]:
    """service -> failure domain -> rps its remaining capacity can serve after that loss.

    Domains are the plan's regions (or clouds for `survive: cloud`); `survive: none` is
    judged per region. On-demand capacity counts fully, spot at spotSurvivalFactor.
    """
    level = "cloud" if scenario.placement.survive == "cloud" else "region"
    sigma = scenario.placement.spot_survival_factor
    services = {s.name: s for s in scenario.services}
    inside: dict[str, dict[str, float]] = {name: {} for name in services}
    domains: set[str] = set()
    for cluster in plan_json["clusters"]:
        domain = domain_of(cluster, level)
        domains.add(domain)
        for pool in cluster["nodePools"]:
            weight = 1.0 if pool["pricing"] == "on-demand" else sigma
            for name, replicas in pool["replicas"].items():
                rps = replicas * services[name].throughput_rps[pool["accelerator"]] * weight
                inside[name][domain] = inside[name].get(domain, 0.0) + rps
    out = {}
    for name, by_domain in inside.items():
        total = sum(by_domain.values())
        out[name] = {d: total - by_domain.get(d, 0.0) for d in sorted(domains)}
    return out


def worst_fraction(plan_json: dict, scenario: Scenario) -> tuple[float, set[str]]:
    """The smallest served share of any service's demand after one loss, and where."""
    left = servable_after_loss(plan_json, scenario)
    worst, where = 1.0, set()
    for svc in scenario.services:
        for domain, rps in left[svc.name].items():
            frac = min(1.0, rps / svc.total_demand)
            if frac < worst - 1e-9:
                worst, where = frac, {domain}
            elif abs(frac - worst) <= 1e-9 and frac < 1.0:
                where.add(domain)
    return worst, where


def check_replicas_fit(plan_json: dict, scenario: Scenario) -> None:
    """The replicas the checker counts must really fit on the pool's GPUs."""
    services = {s.name: s for s in scenario.services}
    for cluster in plan_json["clusters"]:
        for pool in cluster["nodePools"]:
            acc = pool["accelerator"]
            gpus = sum(
                r * gpus_per_replica(services[name].replica_gpu_memory_gb, acc)
                for name, r in pool["replicas"].items()
            )
            assert gpus <= pool["nodes"] * pool["acceleratorCount"], (cluster["region"], pool)
            for name in pool["replicas"]:
                assert acc in services[name].throughput_rps, (name, pool)


@pytest.fixture(scope="module")
def cat():
    return catalog_mod.load()


def small_region() -> dict:
    raw = yaml.safe_load((BENCH / "small.yaml").read_text())
    raw["placement"]["survive"] = "region"
    return raw


def two_services_region() -> dict:
    return {
        "services": [
            {
                "name": "embed",
                "image": "example/embed:1",
                "replicaGpuMemoryGb": 16,
                "throughputRps": {"L4": 60, "T4": 25},
                "demandRps": {"us-east": 300, "eu-west": 100},
                "latencySloMs": 60,
                "minReplicas": 2,
                "modelSizeGb": 2,
            },
            {
                "name": "summarize",
                "image": "example/summarize:1",
                "replicaGpuMemoryGb": 40,
                "throughputRps": {"A100-80GB": 30, "L40S": 16},
                "demandRps": {"eu-west": 60, "uk": 40},
                "latencySloMs": 60,
                "minReplicas": 2,
                "modelSizeGb": 26,
            },
        ],
        "placement": {
            "survive": "region",
            "maxSpotFraction": 0.3,
            "spotSurvivalFactor": 0.5,
            "allowedRegions": [
                "aws/us-east-1",
                "aws/us-east-2",
                "aws/eu-west-1",
                "aws/eu-west-2",
                "aws/eu-central-1",
                "gcp/us-east4",
                "gcp/europe-west4",
                "gcp/europe-west1",
            ],
        },
        "replication": {
            "primary": "auto",
            "datasets": [{"name": "evals", "sizeGb": 100, "dailyChangeGb": 5}],
        },
    }


SCENARIOS = {
    "small-survive-region": small_region,
    "two-services-survive-region": two_services_region,
    "survive-cloud-spot-half-trusted": cloud_with_spot,
}


@pytest.fixture(scope="module")
def solved(cat):
    cache: dict[str, tuple[Scenario, dict]] = {}

    def get(name: str) -> tuple[Scenario, dict]:
        if name not in cache:
            scenario = parse(SCENARIOS[name](), cat)
            cache[name] = (scenario, solve(scenario, cat).to_json())
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_service_survives_the_loss_of_any_domain(solved, name):
    scenario, plan = solved(name)
    check_replicas_fit(plan, scenario)
    level = scenario.placement.survive
    domains = {domain_of(c, level) for c in plan["clusters"]}
    assert len(domains) >= 2, f"one {level} only: losing it leaves nothing ({domains})"
    left = servable_after_loss(plan, scenario)
    for svc in scenario.services:
        for domain, rps in left[svc.name].items():
            assert rps >= svc.total_demand - 1e-6, (
                f"{svc.name}: after losing {domain} only {rps:.1f} of "
                f"{svc.total_demand:.1f} rps remain"
            )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reported_worst_case_matches_the_independent_check(solved, name):
    scenario, plan = solved(name)
    report = plan["survivability"]
    assert report["survive"] == scenario.placement.survive
    worst, _ = worst_fraction(plan, scenario)
    assert worst == pytest.approx(1.0)
    assert report["worstCaseServedFraction"] == pytest.approx(worst, abs=1e-6)
    # Even when every loss is survived, the domain with the thinnest headroom is named
    # (design 7 shows a domain beside 1.0): the least capacity left relative to demand.
    left = servable_after_loss(plan, scenario)
    ratios = {
        (svc.name, domain): rps / svc.total_demand
        for svc in scenario.services
        for domain, rps in left[svc.name].items()
    }
    thinnest = min(ratios.values())
    assert any(
        domain == report["worstCaseDomain"] and ratio == pytest.approx(thinnest, rel=1e-9)
        for (_, domain), ratio in ratios.items()
    ), (report["worstCaseDomain"], ratios)


def test_spot_counts_at_the_survival_factor(solved):
    """The spot scenario really leans on spot, and only its trusted half is counted."""
    scenario, plan = solved("survive-cloud-spot-half-trusted")
    spot_pools = [p for c in plan["clusters"] for p in c["nodePools"] if p["pricing"] == "spot"]
    assert spot_pools, "the scenario should exercise spot capacity under survive: cloud"
    # Counting spot at full weight must leave strictly more than the factor-weighted check:
    # otherwise the weighting would not be exercised at all.
    full = replace(scenario, placement=replace(scenario.placement, spot_survival_factor=1.0))
    weighted = servable_after_loss(plan, scenario)["chat"]
    unweighted = servable_after_loss(plan, full)["chat"]
    assert any(unweighted[d] > weighted[d] + 1e-6 for d in weighted)
    assert min(weighted.values()) >= scenario.services[0].total_demand - 1e-6


def test_reported_fraction_when_nothing_is_required(cat):
    """survive: none (small.yaml as shipped): the report still states the worst loss, per
    region, and it must agree with the independent count (0 for a single-region plan)."""
    raw = yaml.safe_load((BENCH / "small.yaml").read_text())
    scenario = parse(raw, cat)
    plan = solve(scenario, cat).to_json()
    worst, where = worst_fraction(plan, scenario)
    report = plan["survivability"]
    assert report["survive"] == "none"
    assert report["worstCaseServedFraction"] == pytest.approx(worst, abs=1e-6)
    if worst < 1.0:
        assert report["worstCaseDomain"] in where


def test_checker_on_a_hand_made_plan(cat):
    """The checker itself, on numbers worked out by hand (so it can fail, and be trusted)."""
    scenario = parse(cloud_with_spot(), cat)  # L4 60 rps/replica, spot at 0.5, 300 rps

    def pool(pricing: str, nodes: int) -> dict:
        return {
            "instanceType": "x",
            "accelerator": "L4",
            "acceleratorCount": 1,
            "pricing": pricing,
            "nodes": nodes,
            "replicas": {"chat": nodes},
        }

    plan = {
        "clusters": [
            {"cloud": "aws", "region": "us-east-1", "nodePools": [pool("on-demand", 3)]},
            {"cloud": "gcp", "region": "us-east4", "nodePools": [pool("spot", 4)]},
        ]
    }
    # aws holds 3 x 60 = 180 rps, gcp 4 x 60 x 0.5 = 120 rps
    assert servable_after_loss(plan, scenario) == {"chat": {"aws": 120.0, "gcp": 180.0}}
    assert worst_fraction(plan, scenario) == (pytest.approx(0.4), {"aws"})
