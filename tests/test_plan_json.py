"""The plan document of design section 7: schema, invariants, ordering, determinism."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml
from independent import cloud_with_spot
from jsonschema import Draft202012Validator

from optimizer import catalog as catalog_mod
from optimizer.scenario import parse
from optimizer.solve import solve

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "scenarios"
SCHEMA = json.loads((ROOT / "optimizer" / "plan.schema.json").read_text())


def small() -> dict:
    return yaml.safe_load((BENCH / "small.yaml").read_text())


def small_latency_weighted() -> dict:
    raw = small()
    raw["services"][0]["demandRps"] = {"us-east": 300, "us-central": 120, "canada": 60}
    raw["placement"].update({"latencyWeightUsdPerMs": 0.5, "survive": "region"})
    return raw


def medium() -> dict:
    """Two services, six geos, two clouds minimum, spot cap, datasets: about 2 s."""
    return {
        "clouds": ["aws", "azure", "gcp"],
        "services": [
            {
                "name": "embed",
                "image": "example/embed:1",
                "replicaGpuMemoryGb": 16,
                "throughputRps": {"L4": 60, "T4": 25},
                "demandRps": {"us-east": 300, "us-west": 200, "uk": 100, "japan": 80},
                "latencySloMs": 80,
                "minReplicas": 2,
                "modelSizeGb": 2,
            },
            {
                "name": "rerank",
                "image": "example/rerank:1",
                "replicaGpuMemoryGb": 24,
                "throughputRps": {"L4": 40, "A10G": 35},
                "demandRps": {"eu-west": 90, "us-central": 50},
                "latencySloMs": 70,
                "minReplicas": 2,
            },
        ],
        "placement": {
            "survive": "none",
            "minClouds": 2,
            "maxSpotFraction": 0.4,
            "clusterOverheadUsdPerMonth": 300,
        },
        "replication": {
            "primary": "auto",
            "datasets": [{"name": "features", "sizeGb": 100, "dailyChangeGb": 3}],
        },
    }


SCENARIOS = {
    "small": small,
    "small-latency-weighted": small_latency_weighted,
    "spot-cloud": cloud_with_spot,
    "medium": medium,
}


@pytest.fixture(scope="module")
def cat():
    return catalog_mod.load()


@pytest.fixture(scope="module")
def solved(cat):
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            raw = SCENARIOS[name]()
            plan = solve(parse(copy.deepcopy(raw), cat), cat)
            cache[name] = (raw, plan)
        return cache[name]

    return get


def test_schema_is_a_valid_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("include_seconds", [True, False])
def test_plan_validates_against_schema(solved, name, include_seconds):
    _, plan = solved(name)
    doc = plan.to_json(include_seconds=include_seconds)
    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_what_design_7_forbids(solved):
    """The validation above can fail: the schema catches typical breakages."""
    _, plan = solved("small")
    validator = Draft202012Validator(SCHEMA)
    good = plan.to_json()
    for mutate in (
        lambda d: d.update(extra=1),
        lambda d: d["solver"].update(status="maybe"),
        lambda d: d["clusters"][0]["nodePools"][0].update(pricing="reserved"),
        lambda d: d["clusters"][0]["nodePools"][0].pop("maxNodes"),
        lambda d: d["routing"]["embed"].update({"aws/us-east-1": 1.5}),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        assert not validator.is_valid(bad)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_routing_weights_sum_to_one(solved, name):
    raw, plan = solved(name)
    routing = plan.to_json()["routing"]
    assert set(routing) == {s["name"] for s in raw["services"]}
    for service, weights in routing.items():
        assert weights, service
        assert all(0 < w <= 1 for w in weights.values()), weights
        assert math.fsum(weights.values()) == pytest.approx(1.0, abs=1e-6), (service, weights)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_assignments_serve_each_geo_demand(solved, name):
    raw, plan = solved(name)
    doc = plan.to_json()
    assert set(doc["assignments"]) == {s["name"] for s in raw["services"]}
    for svc in raw["services"]:
        flows = doc["assignments"][svc["name"]]
        per_geo: dict[str, float] = {}
        per_region: dict[str, float] = {}
        for a in flows:
            assert a["rttMs"] <= svc["latencySloMs"] + 0.05, a  # rttMs is rounded to 0.1
            per_geo[a["geo"]] = per_geo.get(a["geo"], 0.0) + a["rps"]
            per_region[a["region"]] = per_region.get(a["region"], 0.0) + a["rps"]
        assert set(per_geo) == set(svc["demandRps"])
        for geo, rps in svc["demandRps"].items():
            assert per_geo[geo] == pytest.approx(rps, abs=1e-5), (svc["name"], geo)
        # routing is the share of the service's traffic each region receives
        total = sum(svc["demandRps"].values())
        routing = doc["routing"][svc["name"]]
        assert set(routing) == set(per_region)
        for region, rps in per_region.items():
            assert routing[region] == pytest.approx(rps / total, abs=2e-6), region


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lists_are_sorted(solved, name):
    doc = solved(name)[1].to_json()
    keys = [(c["cloud"], c["region"]) for c in doc["clusters"]]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for cluster in doc["clusters"]:
        pools = [(p["instanceType"], p["pricing"]) for p in cluster["nodePools"]]
        assert pools == sorted(pools) and len(set(pools)) == len(pools), cluster["region"]
    for flows in doc["assignments"].values():
        order = [(a["geo"], a["region"]) for a in flows]
        assert order == sorted(order)
    targets = [t["region"] for t in doc["replication"]["targets"]]
    assert targets == sorted(targets)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_pools_costs_and_replication_add_up(solved, name):
    """Design 7 arithmetic: planned and ceiling node counts, cost totals, targets."""
    _, plan = solved(name)
    doc = plan.to_json()
    for cluster in doc["clusters"]:
        for pool in cluster["nodePools"]:
            assert pool["minNodes"] == pool["nodes"]
            assert pool["maxNodes"] == math.ceil(pool["nodes"] * 1.5)
    money = doc["cost"]["monthlyUsd"]
    parts = money["compute"] + money["clusters"] + money["egress"] + money["latency"]
    assert money["total"] == pytest.approx(parts, abs=0.021)
    billed = money["compute"] + money["clusters"] + money["egress"]
    by_region = doc["cost"]["byRegion"]
    assert sum(by_region.values()) == pytest.approx(billed, abs=0.01 * len(by_region) + 0.01)
    regions = {f"{c['cloud']}/{c['region']}" for c in doc["clusters"]}
    assert set(by_region) == regions
    primary = doc["replication"]["primary"]
    assert primary in regions  # primary: auto picks one of the plan's regions
    assert {t["region"] for t in doc["replication"]["targets"]} == regions - {primary}
    assert money["egress"] == pytest.approx(
        sum(t["monthlyEgressUsd"] for t in doc["replication"]["targets"]), abs=0.01
    )


def test_seconds_only_when_asked(solved):
    _, plan = solved("small")
    with_seconds = plan.to_json(include_seconds=True)
    without = plan.to_json(include_seconds=False)
    assert isinstance(with_seconds["solver"]["seconds"], int | float)
    assert with_seconds["solver"]["seconds"] >= 0
    assert "seconds" not in without["solver"]
    assert "seconds" not in json.dumps(without)
    with_seconds["solver"].pop("seconds")
    assert with_seconds == without


def _without_seconds(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["solver"].pop("seconds", None)
    return doc


def test_two_solves_give_identical_json(cat, solved):
    raw, first = solved("medium")
    second = solve(parse(copy.deepcopy(raw), cat), cat)
    assert first.dumps(include_seconds=False) == second.dumps(include_seconds=False)
    assert _without_seconds(first.to_json()) == _without_seconds(second.to_json())


@pytest.mark.slow
def test_reference_determinism(cat):
    raw = yaml.safe_load((BENCH / "reference.yaml").read_text())
    # Determinism of the deterministic stopping rules (gap, node limit): the wall-clock
    # safety net is moved out of reach, so a busy machine cannot make this test flaky.
    raw["placement"]["solverTimeLimitSeconds"] = 900
    first = solve(parse(copy.deepcopy(raw), cat), cat)
    second = solve(parse(copy.deepcopy(raw), cat), cat)
    assert first.dumps(include_seconds=False) == second.dumps(include_seconds=False)
    errors = list(Draft202012Validator(SCHEMA).iter_errors(first.to_json()))
    assert not errors, [e.message for e in errors]
