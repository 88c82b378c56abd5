"""Global and regional load balancing (design 9): every (dns x policy) on a three-cloud set of
endpoints, the shipped stacks, and the regional algorithm per cloud."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from components.serving import regional_algorithm
from components.settings import config_from_stack_file
from components.traffic import integer_weights
from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan.cli import REPO_ROOT
from tools.plan.engine import run_program

DNS = ("route53", "traffic-manager", "cloud-dns")
POLICIES = ("latency", "weighted", "failover", "geo")
ENDPOINTS = {
    # region: (ips, weight, continents)
    "aws/us-east-1": (["203.0.113.10", "203.0.113.11"], 0.55, ["North America"]),
    "gcp/europe-west4": (["203.0.113.20"], 0.35, ["Europe"]),
    "azure/westus2": (["203.0.113.30"], 0.10, []),
}
PROGRAM = """
import pulumi
from pulumi_aws import Provider as Aws
from pulumi_azure_native import Provider as Azure
from pulumi_gcp import Provider as Gcp
from components.traffic import GlobalLoadBalancer
from optimizer.catalog import load

catalog = load()
dns, policy, endpoints = {dns!r}, {policy!r}, {endpoints!r}
cloud = {{"route53": "aws", "traffic-manager": "azure", "cloud-dns": "gcp"}}[dns]
provider = {{"aws": lambda: Aws("dns", region="us-east-1"), "azure": lambda: Azure("dns"),
            "gcp": lambda: Gcp("dns", project="acme-test")}}[cloud]()
regions = {{r.region: {{"latitude": r.latitude, "longitude": r.longitude, "continent": r.continent}}
           for r in catalog.regions.values() if r.cloud == cloud}}
GlobalLoadBalancer("chat-global", {{
    "service": "chat", "zone": "example.com", "hostname": "api", "dns": dns, "policy": policy,
    "port": 80, "dns_regions": regions, "tags": {{"team": "t"}}, "name_prefix": "tc-test",
    "zone_resource_group": "rg-dns",
    "endpoints": [
        {{"region": k, "ips": v[0], "weight": v[1], "continents": v[2],
         "latitude": catalog.regions[k].latitude, "longitude": catalog.regions[k].longitude}}
        for k, v in sorted(endpoints.items())],
}}, pulumi.ResourceOptions(providers=[provider]))
"""


def run_lb(tmp_path: Path, dns: str, policy: str, endpoints=ENDPOINTS):
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(PROGRAM.format(dns=dns, policy=policy, endpoints=endpoints)))
    return run_program(program, project="tricloud", stack="test", config={})


def endpoint_names(endpoints=ENDPOINTS) -> dict[str, str]:
    return {r: f"{r.replace('/', '-')}.chat.api.example.com" for r in endpoints}


@pytest.mark.parametrize("dns", DNS)
@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_on_every_dns(tmp_path, dns, policy):
    cap = run_lb(tmp_path, dns, policy)
    names = endpoint_names()
    if dns == "route53":
        checks = cap.of_type("aws:route53/healthCheck:HealthCheck")
        assert sorted(c.inputs["fqdn"] for c in checks) == sorted(names.values())
        assert all(c.inputs["resourcePath"] == "/health" for c in checks)
        records = cap.of_type("aws:route53/record:Record")
        a = {r.inputs["name"]: r.inputs["records"] for r in records if r.inputs["type"] == "A"}
        assert a == {names[k]: v[0] for k, v in ENDPOINTS.items()}
        routed = [r for r in records if r.inputs["type"] == "CNAME"]
        # every routed record is health checked
        assert all(
            r.inputs.get("healthCheckId")
            for r in routed
            if "failover" not in r.name or "primary" in r.name
        )
        targets = {t for r in routed for t in r.inputs["records"]}
        if policy == "latency":
            assert targets == set(names.values())
            labels = [r.inputs["latencyRoutingPolicies"][0]["region"] for r in routed]
            assert len(labels) == len(set(labels)) == 3  # one latency record per AWS region
            assert "us-east-1" in labels
        elif policy == "weighted":
            weights = {
                r.inputs["records"][0]: r.inputs["weightedRoutingPolicies"][0]["weight"]
                for r in routed
            }
            assert sum(weights.values()) == 100
            assert weights == {
                names[k]: w
                for k, w in {
                    "aws/us-east-1": 55,
                    "gcp/europe-west4": 35,
                    "azure/westus2": 10,
                }.items()
            }
        elif policy == "failover":
            kinds = Counter(
                r.inputs["failoverRoutingPolicies"][0]["type"]
                for r in routed
                if r.inputs.get("failoverRoutingPolicies")
            )
            assert kinds == {"PRIMARY": 1, "SECONDARY": 1}
            (primary,) = [
                r
                for r in routed
                if r.inputs.get("failoverRoutingPolicies", [{}])[0].get("type") == "PRIMARY"
            ]
            assert primary.inputs["records"] == [names["aws/us-east-1"]]
            backup = [r for r in routed if r.inputs["name"] == "backup.chat.api.example.com"]
            assert {r.inputs["records"][0] for r in backup} == {
                names["gcp/europe-west4"],
                names["azure/westus2"],
            }
            assert sum(r.inputs["weightedRoutingPolicies"][0]["weight"] for r in backup) == 100
        else:
            geo = {
                (p.get("continent") or p.get("country")): r.inputs["records"][0]
                for r in routed
                for p in r.inputs["geolocationRoutingPolicies"]
            }
            assert geo == {
                "NA": names["aws/us-east-1"],
                "EU": names["gcp/europe-west4"],
                "*": names["aws/us-east-1"],
            }
    elif dns == "traffic-manager":
        (profile,) = cap.of_type("azure-native:trafficmanager:Profile")
        p = profile.inputs
        assert p["monitorConfig"]["path"] == "/health"  # one health probe per endpoint
        eps = {e["target"]: e for e in p["endpoints"]}
        assert all(e["type"].endswith("/externalEndpoints") for e in eps.values())
        method = {
            "latency": "Performance",
            "weighted": "Weighted",
            "failover": "Priority",
            "geo": "Geographic",
        }
        assert p["trafficRoutingMethod"] == method[policy]
        a = {
            r.inputs["relativeRecordSetName"]: [x["ipv4Address"] for x in r.inputs["aRecords"]]
            for r in cap.of_type("azure-native:dns:RecordSet")
            if r.inputs["recordType"] == "A"
        }
        assert a == {names[k].removesuffix(".example.com"): v[0] for k, v in ENDPOINTS.items()}
        (cname,) = [
            r
            for r in cap.of_type("azure-native:dns:RecordSet")
            if r.inputs["recordType"] == "CNAME"
        ]
        assert cname.inputs["cnameRecord"]["cname"].endswith(".trafficmanager.net")
        if policy == "geo":
            assert eps[names["aws/us-east-1"]]["geoMapping"] == ["GEO-NA", "WORLD"]
            assert eps[names["gcp/europe-west4"]]["geoMapping"] == ["GEO-EU"]
            assert names["azure/westus2"] not in eps  # owns no continent: no traffic
        else:
            assert set(eps) == set(names.values())
        if policy == "weighted":
            assert sum(e["weight"] for e in eps.values()) == 100
        if policy == "failover":
            assert Counter(e["priority"] for e in eps.values())[1] == 1
            assert eps[names["aws/us-east-1"]]["priority"] == 1
        if policy == "latency":
            assert eps[names["azure/westus2"]]["endpointLocation"] == "westus2"
    else:
        (check,) = cap.of_type("gcp:compute/healthCheck:HealthCheck")
        assert check.inputs["httpHealthCheck"]["requestPath"] == "/health"
        assert len(check.inputs["sourceRegions"]) == 3
        sets = cap.of_type("gcp:dns/recordSet:RecordSet")
        a = {r.inputs["name"]: r.inputs["rrdatas"] for r in sets if "routingPolicy" not in r.inputs}
        assert a == {f"{names[k]}.": v[0] for k, v in ENDPOINTS.items()}
        (routed,) = [r for r in sets if "routingPolicy" in r.inputs]
        rp = routed.inputs["routingPolicy"]
        assert rp["healthCheck"] == "chat-global-hc-id"  # the mock id of the health check above
        if policy == "weighted":
            assert sum(w["weight"] for w in rp["wrrs"]) == 100
            assert sorted(
                w["healthCheckedTargets"]["externalEndpoints"] for w in rp["wrrs"]
            ) == sorted(v[0] for v in ENDPOINTS.values())
        elif policy == "failover":
            pb = rp["primaryBackup"]
            assert pb["primary"]["externalEndpoints"] == ENDPOINTS["aws/us-east-1"][0]
            backups = {
                tuple(g["healthCheckedTargets"]["externalEndpoints"]) for g in pb["backupGeos"]
            }
            assert tuple(ENDPOINTS["aws/us-east-1"][0]) not in backups
        else:
            used = {tuple(g["healthCheckedTargets"]["externalEndpoints"]) for g in rp["geos"]}
            assert used <= {tuple(v[0]) for v in ENDPOINTS.values()}
            if policy == "geo":
                by_location = {
                    g["location"]: g["healthCheckedTargets"]["externalEndpoints"]
                    for g in rp["geos"]
                }
                assert by_location["europe-west4"] == ENDPOINTS["gcp/europe-west4"][0]
                assert by_location["us-central1"] == ENDPOINTS["aws/us-east-1"][0]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_route_every_service_to_every_serving_cluster(stack):
    capture = stack_capture(stack)
    plan = capture.outputs["placement"]
    config = config_from_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    traffic = json.loads(config.values["tricloud:traffic"])
    serving = {}
    for c in plan["clusters"]:
        for p in c["nodePools"]:
            for svc in p["replicas"]:
                serving.setdefault(svc, set()).add(f"{c['cloud']}-{c['region']}")
    assert set(capture.outputs["hostnames"]) == set(serving)
    for svc, regions in serving.items():
        host = f"{svc}.{traffic['hostname']}.{traffic['zone']}"
        assert capture.outputs["hostnames"][svc] == host
        expected = {f"{r}.{host}" for r in regions}
        if traffic["dns"] == "route53":
            a = {
                r.inputs["name"]
                for r in capture.of_type("aws:route53/record:Record")
                if r.inputs["type"] == "A"
            }
            checks = {
                r.inputs["fqdn"] for r in capture.of_type("aws:route53/healthCheck:HealthCheck")
            }
            assert expected <= a and expected <= checks
        elif traffic["dns"] == "traffic-manager":
            profiles = [
                p
                for p in capture.of_type("azure-native:trafficmanager:Profile")
                if p.name == f"{svc}-global-tm"
            ]
            (profile,) = profiles
            targets = {e["target"] for e in profile.inputs["endpoints"]}
            assert targets == expected or traffic["policy"] == "geo"
            if traffic["policy"] == "weighted":
                assert sum(e["weight"] for e in profile.inputs["endpoints"]) == 100


def test_integer_weights_sum_to_100_and_follow_the_plan():
    assert integer_weights({"a": 0.5, "b": 0.5}) == {"a": 50, "b": 50}
    assert integer_weights({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 34, "b": 33, "c": 33}
    assert integer_weights({"a": 0.0, "b": 0.0}) == {"a": 50, "b": 50}
    w = integer_weights({"a": 0.999, "b": 0.001, "c": 0.0}, floor=1)
    assert sum(w.values()) == 100 and min(w.values()) == 1


@pytest.mark.parametrize("cloud", ("aws", "azure", "gcp"))
@pytest.mark.parametrize("algorithm", ("round-robin", "least-request", "source-ip"))
def test_regional_algorithm_per_cloud(cloud, algorithm):
    r = regional_algorithm(cloud, algorithm)
    if algorithm == "source-ip":
        assert r.warning is None
        if cloud == "aws":
            attrs = r.annotations[
                "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
            ]
            assert "stickiness.type=source_ip" in attrs and r.session_affinity is None
        else:
            assert r.session_affinity == "ClientIP" and not r.annotations
    elif algorithm == "round-robin":
        assert r.warning is None and "5-tuple" in r.used
    else:
        assert r.warning and r.warning.startswith(f"{cloud}:") and "5-tuple" in r.warning


def test_least_request_warns_once_per_cloud_in_the_program():
    config = dict(
        config_from_stack_file(
            REPO_ROOT / "stacks" / "Pulumi.prod.yaml", project_file=REPO_ROOT / "Pulumi.yaml"
        ).values
    )
    traffic = json.loads(config["tricloud:traffic"])
    traffic["regionalAlgorithm"] = "least-request"
    config["tricloud:traffic"] = json.dumps(traffic)
    cap = run_program(REPO_ROOT / "__main__.py", project="tricloud", stack="prod", config=config)
    clouds = sorted({c["cloud"] for c in cap.outputs["placement"]["clusters"]})
    assert sorted(w.split(":")[0] for w in cap.warnings) == clouds
    assert all("least-request is not offered" in w for w in cap.warnings)
