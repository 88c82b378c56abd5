"""The component provider answers `GetSchema` as the Pulumi CLI asks it (`pulumi package add`).

Two ways, both over a real gRPC channel on 127.0.0.1 with `provider_pb2.GetSchemaRequest`:
the SDK's `ProviderServicer` started in-process (fast, every assertion), and the plugin's
entry point `python provider <engine>` started as the language host would start it (the schema
it prints must be the same). No network beyond loopback, no Pulumi CLI.
"""

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.provider.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.provider import PACKAGE, package_version, provider

ROOT = Path(__file__).resolve().parents[1]
SERVED = [
    "AwsGpuCluster",
    "AzureGpuCluster",
    "GcpGpuCluster",
    "InferenceService",
    "GlobalLoadBalancer",
    "DatasetReplication",
]
CLUSTER_INPUTS = {
    "region",
    "clusterName",
    "kubernetesVersion",
    "gpuPools",
    "tags",
    "apiAllowedCidrs",
    "networkCidr",
    "zones",
    "clusterAdmins",
    "extendedSupport",
}
CLUSTER_OUTPUTS = {"cloud", "region", "name", "endpoint", "kubeconfig", "provider"}


async def _ask_in_process() -> tuple[dict, str]:
    server = grpc.aio.server()
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(
        ProviderServicer(provider(), [], engine_address=""), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            schema = await stub.GetSchema(provider_pb2.GetSchemaRequest(version=0))
            info = await stub.GetPluginInfo(empty_pb2.Empty())
    finally:
        await server.stop(None)
    return json.loads(schema.schema), info.version


@pytest.fixture(scope="module")
def served() -> tuple[dict, str]:
    return asyncio.run(_ask_in_process())


@pytest.fixture(scope="module")
def schema(served) -> dict:
    return served[0]


def test_package_name_and_version(served):
    schema, plugin_version = served
    assert schema["name"] == PACKAGE == "tricloud"
    assert schema["version"] == plugin_version == package_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", plugin_version)


def test_every_building_block_is_served_and_platform_is_not(schema):
    assert sorted(schema["resources"]) == sorted(f"tricloud:index:{c}" for c in SERVED)
    assert "tricloud:index:Platform" not in schema["resources"]
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token
        assert resource["description"], token


@pytest.mark.parametrize("component", SERVED)
def test_every_property_has_a_type_and_a_description(schema, component):
    resource = schema["resources"][f"tricloud:index:{component}"]
    assert resource["inputProperties"] and resource["properties"]
    for kind in ("inputProperties", "properties"):
        for name, prop in resource[kind].items():
            assert prop.get("description"), f"{component}.{kind}.{name}"
            assert prop.get("type") or prop.get("$ref"), f"{component}.{kind}.{name}"


def test_every_object_type_property_is_described(schema):
    assert set(schema["types"]) >= {
        "tricloud:index:GpuPoolArgs",
        "tricloud:index:WorkloadPoolArgs",
        "tricloud:index:EndpointArgs",
        "tricloud:index:DnsRegion",
        "tricloud:index:ReplicationTargetArgs",
    }
    for token, typ in schema["types"].items():
        assert typ["type"] == "object", token
        for name, prop in typ["properties"].items():
            assert prop.get("description"), f"{token}.{name}"


@pytest.mark.parametrize("component", ["AwsGpuCluster", "AzureGpuCluster", "GcpGpuCluster"])
def test_the_three_clusters_have_the_same_shape(schema, component):
    resource = schema["resources"][f"tricloud:index:{component}"]
    extra = (
        {"project", "nodeServiceAccountId", "zonalControlPlane"}
        if component == "GcpGpuCluster"
        else set()
    )
    assert set(resource["inputProperties"]) == CLUSTER_INPUTS | extra
    assert set(resource["properties"]) == CLUSTER_OUTPUTS
    required = {"region", "clusterName", "kubernetesVersion", "gpuPools", "tags"}
    assert set(resource["requiredInputs"]) == required | ({"project"} & extra)
    inputs = resource["inputProperties"]
    assert inputs["gpuPools"]["type"] == "array"
    assert inputs["gpuPools"]["items"]["$ref"] == "#/types/tricloud:index:GpuPoolArgs"
    assert inputs["tags"]["type"] == "object" and inputs["tags"]["plain"] is True
    assert inputs["tags"]["additionalProperties"]["type"] == "string"
    assert inputs["apiAllowedCidrs"]["items"]["type"] == "string"
    outputs = resource["properties"]
    assert outputs["kubeconfig"]["type"] == "string"
    # The cluster's Kubernetes provider is a resource reference into the kubernetes package.
    assert outputs["provider"]["$ref"].endswith("#/resources/pulumi:providers:kubernetes")


def test_gpu_pool_type(schema):
    pool = schema["types"]["tricloud:index:GpuPoolArgs"]
    assert {k: v["type"] for k, v in pool["properties"].items()} == {
        "instanceType": "string",
        "accelerator": "string",
        "acceleratorCount": "integer",
        "pricing": "string",
        "minNodes": "integer",
        "maxNodes": "integer",
        "zones": "array",
    }
    assert sorted(pool["required"]) == sorted(pool["properties"])


def test_inference_service_inputs_and_outputs(schema):
    svc = schema["resources"]["tricloud:index:InferenceService"]
    inputs = svc["inputProperties"]
    assert inputs["port"]["type"] == "integer"
    assert inputs["pools"]["items"]["$ref"] == "#/types/tricloud:index:WorkloadPoolArgs"
    # Static IPs may come from other resources: inputs, not plain values.
    assert inputs["staticIps"]["type"] == "array" and "plain" not in inputs["staticIps"]
    assert set(svc["requiredInputs"]) == {"service", "image", "port", "cloud", "pools", "labels"}
    ips = svc["properties"]["ips"]
    assert ips["type"] == "array" and ips["items"]["type"] == "string"
    assert set(svc["properties"]) == {"serviceName", "namespace", "address", "ips"}


def test_global_load_balancer_and_replication(schema):
    glb = schema["resources"]["tricloud:index:GlobalLoadBalancer"]
    assert glb["inputProperties"]["dnsRegions"]["additionalProperties"]["$ref"] == (
        "#/types/tricloud:index:DnsRegion"
    )
    endpoint = schema["types"]["tricloud:index:EndpointArgs"]["properties"]
    assert endpoint["ips"]["type"] == "array" and "plain" not in endpoint["ips"]
    assert endpoint["weight"]["type"] == "number"
    assert set(glb["properties"]) == {"hostname", "endpointNames", "weights"}
    assert glb["properties"]["weights"]["additionalProperties"]["type"] == "integer"

    rep = schema["resources"]["tricloud:index:DatasetReplication"]
    assert "providers" not in rep["inputProperties"]  # a Python-only keyword, see README
    assert set(rep["inputProperties"]) == {
        "primary",
        "targets",
        "mode",
        "intervalMinutes",
        "namePrefix",
        "tags",
        "gcpProject",
    }
    assert rep["properties"]["buckets"]["additionalProperties"]["type"] == "string"


def test_the_plugin_entry_point_serves_the_same_schema(schema):
    """`python provider <engine>` as the Python language host runs a plugin folder."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "provider"), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline().decode().strip()
        assert line.isdigit(), proc.stderr.read().decode() if proc.poll() is not None else line
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            answer = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
        assert json.loads(answer.schema) == schema
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_plugin_manifest():
    import yaml

    manifest = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert (ROOT / "provider" / "__main__.py").is_file()


def test_gcp_cluster_args_repeat_the_shared_cluster_args():
    """GcpGpuClusterArgs declares the shared fields itself (for their descriptions): keep them
    identical to GpuClusterArgs, with the same requiredness."""
    from components import GcpGpuClusterArgs, GpuClusterArgs

    shared = get_type_hints(GpuClusterArgs)
    gcp = get_type_hints(GcpGpuClusterArgs)
    assert {k: gcp[k] for k in shared} == shared
    assert GpuClusterArgs.__required_keys__ <= GcpGpuClusterArgs.__required_keys__
    assert GpuClusterArgs.__optional_keys__ <= GcpGpuClusterArgs.__optional_keys__


def test_only_the_settings_loader_reads_config():
    reads = re.compile(
        r"pulumi\.Config\b|pulumi\.runtime\.config|get_config\(|from pulumi import .*Config"
    )
    offenders = [
        p.name
        for p in sorted((ROOT / "components").glob("*.py"))
        if p.name != "settings.py" and reads.search(p.read_text())
    ]
    assert offenders == []


def test_public_api_exports():
    import components

    for name in [*SERVED, "Platform", "GpuClusterArgs", "GpuPoolArgs", "GcpGpuClusterArgs"]:
        assert getattr(components, name).__name__ == name
    for name in [
        "InferenceServiceArgs",
        "GlobalLoadBalancerArgs",
        "DatasetReplicationArgs",
        "EndpointArgs",
        "WorkloadPoolArgs",
        "ReplicationTargetArgs",
    ]:
        assert getattr(components, name).__doc__, name
    assert set(components.__all__) >= {*SERVED, "Platform", "ALIASES", "renamed"}


def test_readme_yaml_example_matches_the_schema(schema):
    """The YAML program of docs/composing-components.md uses real property names and sets every
    required input."""
    import yaml

    readme = (ROOT / "docs" / "composing-components.md").read_text()
    block = readme.split("A YAML program with one GPU cluster", 1)[1]
    program = yaml.safe_load(block.split("```yaml\n", 1)[1].split("```", 1)[0])
    for resource in program["resources"].values():
        token = resource["type"]
        if not token.startswith("tricloud:"):
            continue
        spec = schema["resources"][token]
        props = resource["properties"]
        assert set(props) <= set(spec["inputProperties"]), token
        assert set(spec["requiredInputs"]) <= set(props), token
        pool_type = schema["types"]["tricloud:index:GpuPoolArgs"]
        for pool in props["gpuPools"]:
            assert set(pool) == set(pool_type["properties"])
    for value in program["outputs"].values():
        name = value.strip("${}").split(".", 1)[1]
        assert name in schema["resources"]["tricloud:index:GcpGpuCluster"]["properties"]
