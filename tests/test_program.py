"""The program for every shipped stack, under the mock engine: clusters, pools and workloads
are exactly what the plan says (design 8)."""

from __future__ import annotations

import pytest

from components.cluster import GPU_TAINT_KEY, LABEL_ACCELERATOR, LABEL_POOL, pool_key
from components.platform import cluster_name
from components.settings import config_from_stack_file, parse
from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan.cli import REPO_ROOT

CLUSTER_TYPE = {
    "aws": "aws:eks/cluster:Cluster",
    "azure": "azure-native:containerservice:ManagedCluster",
    "gcp": "gcp:container/cluster:Cluster",
}
POOL_TYPE = {
    "aws": "aws:eks/nodeGroup:NodeGroup",
    "azure": "azure-native:containerservice:AgentPool",
    "gcp": "gcp:container/nodePool:NodePool",
}
PROVIDER_TYPE = {
    "aws": "pulumi:providers:aws",
    "azure": "pulumi:providers:azure-native",
    "gcp": "pulumi:providers:gcp",
}


def settings_for(stack: str):
    config = config_from_stack_file(
        REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml", project_file=REPO_ROOT / "Pulumi.yaml"
    )
    return parse(config.values, stack=stack, stacks_dir=REPO_ROOT / "stacks")


def provider_region(capture, provider_urn: str) -> tuple[str, str]:
    (p,) = [r for r in capture.resources if r.urn == provider_urn]
    cloud = p.type.removeprefix("pulumi:providers:").replace("azure-native", "azure")
    return cloud, p.inputs.get("region") or p.inputs.get("location")


def pool_view(cloud: str, inputs: dict) -> dict:
    """Instance type, pricing, bounds, taints and labels of a pool, whatever its cloud."""
    if cloud == "aws":
        sc = inputs["scalingConfig"]
        return {
            "instance": inputs["instanceTypes"][0],
            "pricing": {"ON_DEMAND": "on-demand", "SPOT": "spot"}[inputs["capacityType"]],
            "min": sc["minSize"],
            "max": sc["maxSize"],
            "taints": [(t["key"], t["value"], t["effect"]) for t in inputs["taints"]],
            "labels": inputs["labels"],
        }
    if cloud == "azure":
        spot = inputs.get("scaleSetPriority") == "Spot"
        return {
            "instance": inputs["vmSize"],
            "pricing": "spot" if spot else "on-demand",
            "min": inputs["minCount"],
            "max": inputs["maxCount"],
            "taints": [
                (t.split("=")[0], t.split("=")[1].split(":")[0], t.split(":")[1])
                for t in inputs["nodeTaints"]
            ],
            "labels": inputs["nodeLabels"],
        }
    nc = inputs["nodeConfig"]
    return {
        "instance": nc["machineType"],
        "pricing": "spot" if nc.get("spot") else "on-demand",
        "min": inputs["autoscaling"]["totalMinNodeCount"],
        "max": inputs["autoscaling"]["totalMaxNodeCount"],
        "taints": [(t["key"], t["value"], t["effect"]) for t in nc["taints"]],
        "labels": nc["labels"],
    }


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_one_cluster_per_plan_cluster_in_its_region_provider(stack):
    capture = stack_capture(stack)
    plan = capture.outputs["placement"]
    settings = settings_for(stack)
    for cloud, type_ in CLUSTER_TYPE.items():
        declared = capture.of_type(type_)
        planned = [c for c in plan["clusters"] if c["cloud"] == cloud]
        assert len(declared) == len(planned), (cloud, stack)
        for c in planned:
            name = cluster_name(settings, cloud, c["region"])
            field = {"aws": "name", "azure": "resourceName", "gcp": "name"}[cloud]
            (r,) = [r for r in declared if r.inputs[field] == name]
            assert provider_region(capture, r.provider) == (cloud, c["region"])


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_one_gpu_pool_per_plan_pool_with_the_plans_type_pricing_and_bounds(stack):
    capture = stack_capture(stack)
    plan = capture.outputs["placement"]
    for c in plan["clusters"]:
        cloud = c["cloud"]
        pools = [
            (r, pool_view(cloud, r.inputs))
            for r in capture.of_type(POOL_TYPE[cloud])
            if provider_region(capture, r.provider) == (cloud, c["region"]) and "-gpu-" in r.name
        ]
        assert len(pools) == len(c["nodePools"]), (stack, c["region"])
        for p in c["nodePools"]:
            matches = [
                v
                for _, v in pools
                if (v["instance"], v["pricing"]) == (p["instanceType"], p["pricing"])
            ]
            assert len(matches) == 1, (stack, c["region"], p["instanceType"], p["pricing"])
            (v,) = matches
            assert (v["min"], v["max"]) == (p["minNodes"], p["maxNodes"])
            assert (
                GPU_TAINT_KEY,
                "present",
                "NO_SCHEDULE" if cloud != "azure" else "NoSchedule",
            ) in v["taints"]
            assert v["labels"][LABEL_ACCELERATOR] == p["accelerator"]
            assert v["labels"][LABEL_POOL] == pool_key(
                {"instance_type": p["instanceType"], "pricing": p["pricing"]}  # type: ignore[typeddict-item]
            )


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_workloads_request_the_plans_gpus_and_tolerate_the_taint(stack):
    capture = stack_capture(stack)
    plan = capture.outputs["placement"]
    settings = settings_for(stack)
    services = {s.name: s for s in settings.scenario.services}
    deployments = capture.of_type("kubernetes:apps/v1:Deployment")
    expected = 0
    for c in plan["clusters"]:
        for p in c["nodePools"]:
            for svc, replicas in p["replicas"].items():
                expected += 1
                pool = pool_key({"instance_type": p["instanceType"], "pricing": p["pricing"]})  # type: ignore[typeddict-item]
                name = f"{c['cloud']}-{c['region']}-{svc}-{pool}"
                (d,) = [d for d in deployments if d.name == name]
                spec = d.inputs["spec"]
                assert spec["replicas"] == replicas
                pod = spec["template"]["spec"]
                (container,) = pod["containers"]
                gpus = services[svc].gpus_per_replica(p["accelerator"])
                assert container["resources"]["limits"]["nvidia.com/gpu"] == str(gpus)
                assert any(
                    t["key"] == GPU_TAINT_KEY and t["effect"] == "NoSchedule"
                    for t in pod["tolerations"]
                )
                terms = pod["affinity"]["nodeAffinity"][
                    "requiredDuringSchedulingIgnoredDuringExecution"
                ]["nodeSelectorTerms"]
                exprs = {e["key"]: e["values"] for e in terms[0]["matchExpressions"]}
                assert exprs[LABEL_ACCELERATOR] == [p["accelerator"]]
                assert exprs[LABEL_POOL] == [pool]
    assert len(deployments) == expected


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_child_has_a_parent_and_every_cloud_resource_an_explicit_provider(stack):
    capture = stack_capture(stack)
    for r in capture.resources:
        if r.type == "tricloud:index:Platform":
            continue
        assert r.parent, r.urn
        if r.custom and not r.type.startswith("pulumi:providers:"):
            assert r.provider, f"{r.urn} uses a default provider"


def test_exports():
    capture = stack_capture("prod")
    out = capture.outputs
    assert set(out) >= {"placement", "monthlyCostUsd", "endpoints", "kubeconfigs"}
    assert out["kubeconfigs"] == "[secret]"
    plan = out["placement"]
    assert "seconds" not in plan["solver"]
    assert out["monthlyCostUsd"] == plan["cost"]["monthlyUsd"]["total"]
    assert set(out["endpoints"]) == {f"{c['cloud']}/{c['region']}" for c in plan["clusters"]}
