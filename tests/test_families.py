"""Each constraint family of design 6.3/6.4 binds, judged from the plan JSON alone.

Every test solves a small base scenario without the constraint, then with it, and asserts
that the constraint was violated before (so it really binds), that the plan changed, and
that the new plan satisfies it, computed here from the JSON, the scenario and the catalog
CSVs (not from solver internals). Every plan also passes `check_plan`: demand served, routed
traffic within capacity, RTTs per design 5.1, replicas that fit their nodes, costs that add up.
"""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import pytest
from independent import gpus_per_replica

from optimizer import catalog as catalog_mod
from optimizer.scenario import parse
from optimizer.solve import solve

DATA = Path(catalog_mod.__file__).parent / "data"
HOURS = 730.0

# Design 5.2 / 3: independent copies, so a wrong table in the code cannot hide here.
GEOS = {
    "us-east": (40.71, -74.01),
    "us-central": (41.88, -87.63),
    "us-west": (37.77, -122.42),
    "canada": (43.65, -79.38),
    "brazil": (-23.55, -46.63),
    "uk": (51.51, -0.13),
    "eu-west": (48.86, 2.35),
    "eu-central": (50.11, 8.68),
    "nordics": (59.33, 18.07),
    "india": (19.08, 72.88),
    "singapore": (1.35, 103.82),
    "japan": (35.68, 139.69),
    "korea": (37.57, 126.98),
    "australia": (-33.87, 151.21),
}
MECHANISM = {  # design 10: (source cloud, target cloud) -> plan id
    ("aws", "aws"): "s3-replication",
    ("azure", "azure"): "azure-object-replication",
    ("aws", "gcp"): "gcp-storage-transfer",
    ("azure", "gcp"): "gcp-storage-transfer",
    ("gcp", "gcp"): "gcp-storage-transfer",
    ("gcp", "aws"): "aws-datasync",
    ("azure", "aws"): "aws-datasync",
    ("aws", "azure"): "azure-data-factory",
    ("gcp", "azure"): "azure-data-factory",
}


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as f:
        return list(csv.DictReader(f))


REGIONS = {f"{r['cloud']}/{r['region']}": r for r in _csv("regions.csv")}
EGRESS = {(r["cloud"], r["kind"]): float(r["usd_per_gb"]) for r in _csv("egress.csv")}
# Source-continent prices (optional file) override egress.csv for sources on that continent.
EGRESS_BY_SOURCE = {
    (r["cloud"], r["source_continent"], r["kind"]): float(r["usd_per_gb"])
    for r in (_csv("egress_by_source.csv") if (DATA / "egress_by_source.csv").exists() else [])
}
CLUSTER_FEE = {
    r["cloud"]: HOURS
    * (
        float(r["control_plane_usd_hr"])
        + float(r["system_pool_usd_hr"])
        + float(r["load_balancer_usd_hr"])
    )
    for r in _csv("clusters.csv")
}
PRICE = {}
for _row in _csv("offerings.csv"):
    _key = (f"{_row['cloud']}/{_row['region']}", _row["instance_type"])
    PRICE[(*_key, "on-demand")] = float(_row["price_on_demand_usd_hr"])
    if _row["price_spot_usd_hr"].strip():
        PRICE[(*_key, "spot")] = float(_row["price_spot_usd_hr"])


def rtt(geo: str, region: str) -> float:
    """Design 5.1: 5 ms + 0.0125 ms per great-circle km (haversine, R = 6371 km)."""
    (lat1, lon1), reg = GEOS[geo], REGIONS[region]
    lat2, lon2 = float(reg["latitude"]), float(reg["longitude"])
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 5 + 0.0125 * 2 * 6371 * math.asin(math.sqrt(a))


def egress_rate(source: str, target: str) -> float:
    if source == target:
        return 0.0
    src, dst = REGIONS[source], REGIONS[target]
    if src["cloud"] != dst["cloud"]:
        kind = "internet"
    elif src["continent"] == dst["continent"]:
        kind = "inter_region_same_continent"
    else:
        kind = "inter_region_intercontinental"
    by_source = EGRESS_BY_SOURCE.get((src["cloud"], src["continent"], kind))
    return EGRESS[(src["cloud"], kind)] if by_source is None else by_source


# --- scenarios and solving ---------------------------------------------------------------


def service(**changes) -> dict:
    svc = {
        "name": "embed",
        "image": "ghcr.io/acme/text-embed:2.1.0",
        "replicaGpuMemoryGb": 16,
        "throughputRps": {"L4": 60},
        "demandRps": {"us-east": 300},
        "latencySloMs": 40,
        "minReplicas": 1,
    }
    svc.update(changes)
    return svc


def scenario(*services: dict, **placement) -> dict:
    raw = {"services": list(services) or [service()], "placement": placement}
    raw["placement"].setdefault("survive", "none")
    return raw


def with_placement(raw: dict, **changes) -> dict:
    out = copy.deepcopy(raw)
    out["placement"].update(changes)
    return out


def with_service(raw: dict, index: int = 0, **changes) -> dict:
    out = copy.deepcopy(raw)
    out["services"][index].update(changes)
    return out


# Three user geos on three continents; the cheapest plan serves all from one US region,
# a latency preference buys a region near each geo.
WORLD = {"us-east": 200, "eu-central": 200, "japan": 100}


def world(**placement) -> dict:
    return scenario(service(demandRps=dict(WORLD), latencySloMs=200), **placement)


@pytest.fixture(scope="module")
def cat():
    return catalog_mod.load()


@pytest.fixture(scope="module")
def solved(cat):
    """Solve a raw scenario (memoised within the module), check it, return the plan JSON."""
    cache: dict[str, dict] = {}

    def run(raw: dict) -> dict:
        key = repr(raw)
        if key not in cache:
            plan = solve(parse(copy.deepcopy(raw), cat), cat).to_json(include_seconds=False)
            check_plan(plan, raw)
            cache[key] = plan
        return cache[key]

    return run


# --- reading a plan ----------------------------------------------------------------------


def pools(plan: dict):
    """(region key, pool) for every node pool of the plan."""
    for c in plan["clusters"]:
        for p in c["nodePools"]:
            yield f"{c['cloud']}/{c['region']}", p


def regions_of(plan: dict, name: str | None = None) -> set[str]:
    return {r for r, p in pools(plan) if name is None or name in p["replicas"]}


def replicas(plan: dict, name: str) -> int:
    return sum(p["replicas"].get(name, 0) for _, p in pools(plan))


def capacity(plan: dict, svc: dict, *, spot_weight: float = 1.0, where=lambda region: True):
    """rps the service's replicas carry (spot weighted), in regions where `where` holds."""
    total = 0.0
    for region, p in pools(plan):
        if svc["name"] in p["replicas"] and where(region):
            weight = spot_weight if p["pricing"] == "spot" else 1.0
            total += weight * p["replicas"][svc["name"]] * svc["throughputRps"][p["accelerator"]]
    return total


def spot_share(plan: dict, svc: dict) -> float:
    return 1 - capacity(plan, svc, spot_weight=0.0) / capacity(plan, svc)


def billed(plan: dict) -> float:
    m = plan["cost"]["monthlyUsd"]
    return m["compute"] + m["clusters"] + m["egress"]


def rps_ms(plan: dict) -> float:
    """Sum of rps x RTT over the plan's assignments (RTT recomputed, not the rounded field)."""
    return sum(
        a["rps"] * rtt(a["geo"], a["region"])
        for items in plan["assignments"].values()
        for a in items
    )


def layout(plan: dict) -> set:
    """What a deployment would see: pools with their node counts."""
    return {(r, p["instanceType"], p["pricing"], p["nodes"]) for r, p in pools(plan)}


def check_plan(plan: dict, raw: dict) -> None:
    """Invariants every plan must satisfy, whatever the scenario."""
    pl = raw.get("placement", {})
    overhead = pl.get("clusterOverheadUsdPerMonth", 0.0)
    weight = pl.get("latencyWeightUsdPerMs", 0.0)
    for svc in raw["services"]:
        name = svc["name"]
        items = plan["assignments"][name]
        for geo, demand in svc["demandRps"].items():
            served = sum(a["rps"] for a in items if a["geo"] == geo)
            assert served == pytest.approx(demand, abs=1e-4), (name, geo)
        for a in items:
            assert a["rttMs"] == pytest.approx(rtt(a["geo"], a["region"]), abs=0.051), a
            assert a["rttMs"] <= svc["latencySloMs"] + 0.05, a
        for region in {a["region"] for a in items}:
            routed = sum(a["rps"] for a in items if a["region"] == region)
            cap = capacity(plan, svc, where=lambda r, region=region: r == region)
            assert routed <= cap + 1e-6, (name, region, routed, cap)
        weights = plan["routing"][name]
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
        assert replicas(plan, name) >= svc.get("minReplicas", 1)
    compute = 0.0
    for region, p in pools(plan):
        price = PRICE[(region, p["instanceType"], p["pricing"])]
        assert p["hourlyUsd"] == pytest.approx(price, abs=1e-5)
        compute += price * HOURS * p["nodes"]
        per_node = 0
        for name, count in p["replicas"].items():
            svc = next(s for s in raw["services"] if s["name"] == name)
            per_node += count * gpus_per_replica(svc["replicaGpuMemoryGb"], p["accelerator"])
        assert per_node <= p["nodes"] * p["acceleratorCount"], (region, p)
    m = plan["cost"]["monthlyUsd"]
    assert m["compute"] == pytest.approx(compute, abs=0.01)
    clusters = sum(CLUSTER_FEE[c["cloud"]] + overhead for c in plan["clusters"])
    assert m["clusters"] == pytest.approx(clusters, abs=0.01)
    targets = plan["replication"]["targets"]
    assert m["egress"] == pytest.approx(sum(t["monthlyEgressUsd"] for t in targets), abs=0.02)
    assert m["latency"] == pytest.approx(weight * rps_ms(plan), abs=0.01)
    assert m["total"] == pytest.approx(billed(plan) + m["latency"], abs=0.02)
    assert sum(plan["cost"]["byRegion"].values()) == pytest.approx(billed(plan), abs=0.05)


# --- the families ------------------------------------------------------------------------


def test_latency_slo_moves_demand_nearer(solved):
    base = scenario(service(demandRps={"eu-central": 300}, latencySloMs=200))
    tight = with_service(base, latencySloMs=50)
    before, after = solved(base), solved(tight)
    assert any(a["rttMs"] > 50 for a in before["assignments"]["embed"]), "SLO 50 would not bind"
    assert regions_of(after) != regions_of(before)
    assert all(a["rttMs"] <= 50 for a in after["assignments"]["embed"])
    assert all(rtt("eu-central", r) <= 50 for r in regions_of(after, "embed"))


def test_min_replicas(solved):
    base = scenario(service(demandRps={"us-east": 30}))
    before = solved(base)
    assert replicas(before, "embed") < 4
    after = solved(with_service(base, minReplicas=4))
    assert replicas(after, "embed") >= 4
    assert layout(after) != layout(before)


def test_spot_share(solved):
    svc = service(throughputRps={"L4": 60, "T4": 25})
    base = scenario(svc, maxSpotFraction=1.0)
    before = solved(base)
    assert spot_share(before, svc) > 0.3
    after = solved(with_placement(base, maxSpotFraction=0.3))
    assert spot_share(after, svc) <= 0.3 + 1e-9
    assert layout(after) != layout(before)


def test_no_spot_when_fraction_is_zero(solved):
    svc = service(throughputRps={"L4": 60, "T4": 25})
    plan = solved(scenario(svc, maxSpotFraction=0.0))
    assert all(p["pricing"] == "on-demand" for _, p in pools(plan))


def _survives(plan: dict, svc: dict, level: str, spot_weight: float) -> bool:
    def domain(region: str) -> str:
        return region if level == "region" else region.split("/")[0]

    domains = {domain(r) for r in regions_of(plan, svc["name"])}
    total = sum(svc["demandRps"].values())
    return all(
        capacity(plan, svc, spot_weight=spot_weight, where=lambda r, d=d: domain(r) != d)
        >= total - 1e-6
        for d in domains
    )


@pytest.mark.parametrize("level", ["region", "cloud"])
def test_survivability(solved, level):
    svc = service(throughputRps={"L4": 60, "T4": 25})
    base = scenario(svc, maxSpotFraction=0.5, spotSurvivalFactor=0.0)
    before = solved(base)
    assert not _survives(before, svc, level, spot_weight=0.0)
    after = solved(with_placement(base, survive=level))
    assert _survives(after, svc, level, spot_weight=0.0)
    assert layout(after) != layout(before)
    sv = after["survivability"]
    assert sv["survive"] == level
    assert sv["worstCaseServedFraction"] == 1.0


@pytest.mark.parametrize("min_clouds", [2, 3])
def test_spread_min_clouds(solved, min_clouds):
    svc = service(throughputRps={"L4": 60, "T4": 25})
    base = scenario(svc)
    before = solved(base)
    assert len({r.split("/")[0] for r in regions_of(before, "embed")}) < min_clouds
    after = solved(with_placement(base, minClouds=min_clouds))
    assert len({r.split("/")[0] for r in regions_of(after, "embed")}) >= min_clouds


def _gpus(plan: dict, quota_key: str) -> int:
    return sum(
        p["nodes"] * p["acceleratorCount"]
        for region, p in pools(plan)
        if f"{region}/{p['accelerator']}" == quota_key
    )


def test_quota(solved):
    base = scenario(service())
    before = solved(base)
    key = "gcp/us-east4/L4"
    assert _gpus(before, key) > 2, "the base plan does not use the quota's key"
    after = solved(with_placement(base, quotasGpu={key: 2}))
    assert _gpus(after, key) <= 2
    assert layout(after) != layout(before)


def test_quota_is_shared_by_services(solved):
    """A quota counts the GPUs of every service in that cloud/region/accelerator."""
    base = scenario(
        service(),
        service(name="chat", throughputRps={"L4": 30}, demandRps={"us-east": 120}),
    )
    before = solved(base)
    key = "gcp/us-east4/L4"
    assert _gpus(before, key) > 6
    after = solved(with_placement(base, quotasGpu={key: 6}))
    assert _gpus(after, key) <= 6
    assert layout(after) != layout(before)


def test_residency_placement_wide(solved):
    base = scenario(service())
    before = solved(base)
    assert any(not r.startswith("aws/") for r in regions_of(before))
    after = solved(with_placement(base, allowedRegions=["aws/*"]))
    assert regions_of(after) and all(r.startswith("aws/") for r in regions_of(after))
    assert plan_regions_everywhere(after) <= {r for r in REGIONS if r.startswith("aws/")}


def plan_regions_everywhere(plan: dict) -> set[str]:
    """Every region a plan mentions: clusters, routing, assignments, replication."""
    out = regions_of(plan)
    out |= {r for weights in plan["routing"].values() for r in weights}
    out |= {a["region"] for items in plan["assignments"].values() for a in items}
    out |= {t["region"] for t in plan["replication"]["targets"]}
    return out


def test_residency_per_service(solved):
    allowed = ["aws/us-east-1", "aws/us-east-2"]
    base = scenario(
        service(),
        service(name="chat", throughputRps={"L4": 30}, demandRps={"us-east": 120}),
    )
    before = solved(base)
    assert not regions_of(before, "embed") <= set(allowed)
    after = solved(with_service(base, 0, allowedRegions=allowed))
    assert regions_of(after, "embed") <= set(allowed)
    assert {a["region"] for a in after["assignments"]["embed"]} <= set(allowed)
    # narrowed for that service only: the other one keeps its cheaper region
    assert not regions_of(after, "chat") <= set(allowed)


def test_residency_cloud_wildcard_and_region_narrowed_per_service(solved):
    """Placement allows aws/*; the service narrows to one region of it."""
    raw = scenario(service(allowedRegions=["aws/us-east-2"]), allowedRegions=["aws/*"])
    assert regions_of(solved(raw)) == {"aws/us-east-2"}


def test_budget_trades_latency_for_money(solved):
    cheapest = solved(world())
    base = world(latencyWeightUsdPerMs=0.1)
    before = solved(base)
    assert billed(before) > billed(cheapest) + 100, "the latency weight buys nothing"
    budget = (billed(before) + billed(cheapest)) / 2
    after = solved(with_placement(base, monthlyBudgetUsd=budget))
    assert billed(after) <= budget + 0.01
    assert layout(after) != layout(before)
    assert rps_ms(after) > rps_ms(before)
    assert billed(after) >= billed(cheapest) - 0.01


def test_budget_that_does_not_bind_changes_nothing(solved):
    base = world(latencyWeightUsdPerMs=0.1)
    before = solved(base)
    after = solved(with_placement(base, monthlyBudgetUsd=billed(before) + 1))
    assert layout(after) == layout(before)


@pytest.mark.parametrize("cap", [1, 2])
def test_max_clusters(solved, cap):
    base = world(latencyWeightUsdPerMs=0.1)
    before = solved(base)
    assert len(before["clusters"]) > cap
    after = solved(with_placement(base, maxClusters=cap))
    assert len(after["clusters"]) <= cap


def test_cluster_overhead_reduces_clusters(solved):
    base = world(latencyWeightUsdPerMs=0.1)
    before = solved(base)
    assert len(before["clusters"]) >= 2
    after = solved(with_placement(base, clusterOverheadUsdPerMonth=5000))
    assert len(after["clusters"]) < len(before["clusters"])
    # and the overhead is charged once per cluster (check_plan also checks the sum)
    fees = sum(CLUSTER_FEE[c["cloud"]] for c in after["clusters"])
    assert after["cost"]["monthlyUsd"]["clusters"] == pytest.approx(
        fees + 5000 * len(after["clusters"]), abs=0.01
    )


def test_latency_weight_buys_lower_latency(solved):
    before = solved(world())
    after = solved(world(latencyWeightUsdPerMs=0.1))
    assert before["cost"]["monthlyUsd"]["latency"] == 0
    assert rps_ms(after) < rps_ms(before)
    assert len(after["clusters"]) > len(before["clusters"])
    assert billed(after) >= billed(before) - 0.01
    # the preference is priced, never billed (check_plan: latency = weight x rps x ms)
    assert after["cost"]["monthlyUsd"]["latency"] > 0


# --- replication (design 6.4 egress term, design 10) -------------------------------------

DATASETS = [{"name": "eval-sets", "sizeGb": 500, "dailyChangeGb": 10}]


def replicated(**replication) -> dict:
    """Two clouds serving one service: the primary's cloud decides the egress rate."""
    raw = scenario(service(modelSizeGb=50), minClouds=2)
    raw["replication"] = {"datasets": DATASETS, **replication}
    return raw


def expected_targets(plan: dict, raw: dict, primary: str) -> dict[str, tuple[str, float]]:
    datasets_gb = sum(d.get("dailyChangeGb", 0) * 30 for d in raw["replication"]["datasets"])
    out = {}
    for region in sorted(regions_of(plan)):
        if region == primary:
            continue
        gb = datasets_gb + sum(
            s.get("modelSizeGb", 0) for s in raw["services"] if s["name"] in served(plan, region)
        )
        mech = MECHANISM[(primary.split("/")[0], region.split("/")[0])]
        out[region] = (mech, round(gb * egress_rate(primary, region), 2))
    return out


def served(plan: dict, region: str) -> set[str]:
    return {name for r, p in pools(plan) if r == region for name in p["replicas"]}


def targets_of(plan: dict) -> dict[str, tuple[str, float]]:
    return {
        t["region"]: (t["mechanism"], t["monthlyEgressUsd"]) for t in plan["replication"]["targets"]
    }


def test_replication_auto_primary_minimises_egress(solved):
    raw = replicated(primary="auto")
    plan = solved(raw)
    primary = plan["replication"]["primary"]
    open_regions = regions_of(plan)
    assert len({r.split("/")[0] for r in open_regions}) >= 2
    assert primary in open_regions
    assert targets_of(plan) == expected_targets(plan, raw, primary)
    for other in open_regions:
        alternative = sum(usd for _, usd in expected_targets(plan, raw, other).values())
        assert plan["cost"]["monthlyUsd"]["egress"] <= alternative + 0.01, other


def test_replication_fixed_primary(solved):
    auto = solved(replicated(primary="auto"))
    # a primary on another continent, in no cluster of the auto plan: every cluster is a target
    fixed = "gcp/europe-west4"
    assert fixed not in regions_of(auto)
    raw = replicated(primary=fixed)
    plan = solved(raw)
    assert plan["replication"]["primary"] == fixed
    assert targets_of(plan) == expected_targets(plan, raw, fixed)
    assert set(targets_of(plan)) == regions_of(plan)
    assert plan["cost"]["monthlyUsd"]["egress"] > auto["cost"]["monthlyUsd"]["egress"]


def test_replication_fixed_primary_inside_the_plan(solved):
    auto = solved(replicated(primary="auto"))
    others = sorted(regions_of(auto) - {auto["replication"]["primary"]})
    assert others
    raw = replicated(primary=others[0])
    plan = solved(raw)
    assert plan["replication"]["primary"] == others[0]
    assert targets_of(plan) == expected_targets(plan, raw, others[0])
    assert targets_of(plan) != targets_of(auto)
