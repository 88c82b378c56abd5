"""Resources in the shape of the offline plan's `resources.json`, for the policy tests.

Every builder returns a compliant resource (tagged, spot GPU pool in a catalog region, bounded,
restricted endpoint, safe storage); tests change one thing to make one violation.
"""

from __future__ import annotations

import copy
import json
from typing import Any

STACK = "test"
TAGS = {"team": "ml-platform", "cost-center": "cc-1", "stack": STACK, "managed-by": "tricloud"}
# A configuration under which every builder's default passes and every policy is mandatory.
STRICT = {
    "all": "mandatory",
    "monthly-cost-limit": {"maxMonthlyUsd": 1e9},
    "max-nodes-per-pool": {"maxNodesPerPool": 20},
    "allowed-instance-types": {
        "allowedAccelerators": ["T4", "L4", "A10G", "A100-40GB", "A100-80GB", "L40S", "H200"]
    },
    "spot-required": {"requireSpot": True},
    "replication-egress-limit": {"maxEgressMonthlyUsd": 1000},
    "cluster-endpoint-restricted": {"minPrefixLength": 8},
}


_PROVIDERS: dict[str, dict[str, Any]] = {}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::tricloud::{type_}::{name}"


def res(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    provider: dict[str, Any] | None = None,
    protect: bool = False,
    depends_on: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if provider is not None:
        _PROVIDERS[provider["urn"]] = provider
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "parent": "",
        "provider": provider["urn"] if provider else "",
        "custom": True,
        "inputs": copy.deepcopy(inputs),
        "protect": protect,
        "retainOnDelete": False,
        "ignoreChanges": [],
        "dependsOn": [d["urn"] for d in depends_on or []],
    }


# Providers record nested inputs as JSON strings, as the engine does.
def aws_provider(region: str = "us-east-1", default_tags: bool = True) -> dict[str, Any]:
    inputs: dict[str, Any] = {"region": region}
    if default_tags:
        inputs["defaultTags"] = json.dumps({"tags": TAGS})
    return res("pulumi:providers:aws", f"aws-{region}-{int(default_tags)}", inputs)


def azure_provider(location: str = "eastus") -> dict[str, Any]:
    return res("pulumi:providers:azure-native", f"azure-{location}", {"location": location})


def gcp_provider(region: str = "us-central1", default_labels: bool = True) -> dict[str, Any]:
    inputs: dict[str, Any] = {"region": region, "project": "acme-test"}
    if default_labels:
        inputs["defaultLabels"] = json.dumps(TAGS)
    return res("pulumi:providers:gcp", f"gcp-{region}-{int(default_labels)}", inputs)


def node_group(provider=None, name="ng", **over) -> dict[str, Any]:
    inputs = {
        "clusterName": "c",
        "instanceTypes": ["g6.xlarge"],
        "capacityType": "SPOT",
        "amiType": "AL2023_x86_64_NVIDIA",
        "scalingConfig": {"minSize": 1, "desiredSize": 1, "maxSize": 4},
    }
    inputs.update(over)
    return res("aws:eks/nodeGroup:NodeGroup", name, inputs, provider=provider or aws_provider())


def agent_pool(provider=None, name="ap", **over) -> dict[str, Any]:
    inputs = {
        "resourceName": "aks",
        "resourceGroupName": "rg",
        "vmSize": "Standard_NC4as_T4_v3",
        "mode": "User",
        "enableAutoScaling": True,
        "count": 1,
        "minCount": 1,
        "maxCount": 3,
        "scaleSetPriority": "Spot",
        "gpuProfile": {"driver": "Install"},
        "tags": TAGS,
    }
    inputs.update(over)
    return res(
        "azure-native:containerservice:AgentPool",
        name,
        inputs,
        provider=provider or azure_provider(),
    )


def node_pool(provider=None, name="np", node_config=None, **over) -> dict[str, Any]:
    nc = {
        "machineType": "g2-standard-4",
        "spot": True,
        "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
        "resourceLabels": TAGS,
    }
    nc.update(node_config or {})
    inputs = {
        "cluster": "gke",
        "location": "us-central1",
        "nodeConfig": nc,
        "autoscaling": {"totalMinNodeCount": 1, "totalMaxNodeCount": 4},
    }
    inputs.update(over)
    return res("gcp:container/nodePool:NodePool", name, inputs, provider=provider or gcp_provider())


def eks_cluster(provider=None, name="eks", vpc=None) -> dict[str, Any]:
    vpc_config = {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
    }
    if vpc is not None:
        vpc_config = vpc
    return res(
        "aws:eks/cluster:Cluster",
        name,
        {"name": name, "vpcConfig": vpc_config},
        provider=provider or aws_provider(),
    )


def aks_cluster(provider=None, name="aks", profile="default", **over) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "location": "eastus",
        "sku": {"name": "Base", "tier": "Standard"},
        "agentPoolProfiles": [
            {"name": "system", "mode": "System", "vmSize": "Standard_D2s_v5", "count": 2}
        ],
        "tags": TAGS,
    }
    if profile == "default":
        inputs["apiServerAccessProfile"] = {
            "authorizedIPRanges": ["203.0.113.0/24"],
            "enablePrivateCluster": False,
        }
    elif profile is not None:
        inputs["apiServerAccessProfile"] = profile
    inputs.update(over)
    return res(
        "azure-native:containerservice:ManagedCluster",
        name,
        inputs,
        provider=provider or azure_provider(),
    )


def gke_cluster(provider=None, name="gke", **over) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "location": "us-central1",
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "privateClusterConfig": {"enablePrivateEndpoint": False, "enablePrivateNodes": True},
        "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]},
    }
    inputs.update(over)
    return res("gcp:container/cluster:Cluster", name, inputs, provider=provider or gcp_provider())


def k8s(kind: str, name="obj", labels=None, template_labels=None) -> dict[str, Any]:
    group = {"Namespace": "core/v1", "Deployment": "apps/v1", "Service": "core/v1"}[kind]
    inputs: dict[str, Any] = {
        "apiVersion": group.split("/", 1)[1] if group.startswith("core") else group,
        "kind": kind,
        "metadata": {"name": name, "labels": TAGS if labels is None else labels},
    }
    if kind == "Deployment":
        inputs["spec"] = {
            "template": {
                "metadata": {"labels": TAGS if template_labels is None else template_labels}
            }
        }
    provider = res("pulumi:providers:kubernetes", "k8s", {"kubeconfig": "[secret]"})
    return res(f"kubernetes:{group}:{kind}", name, inputs, provider=provider)


def s3(
    name="data",
    *,
    protect=True,
    versioning="Enabled",
    encryption=True,
    block=True,
    acl=None,
    provider=None,
) -> list[dict[str, Any]]:
    provider = provider or aws_provider()
    inputs: dict[str, Any] = {"bucket": f"acme-{name}"}
    if acl:
        inputs["acl"] = acl
    bucket = res("aws:s3/bucket:Bucket", name, inputs, provider=provider, protect=protect)
    out = [bucket]
    if versioning is not None:
        out.append(
            res(
                "aws:s3/bucketVersioning:BucketVersioning",
                f"{name}-versioning",
                {"bucket": f"{name}-id", "versioningConfiguration": {"status": versioning}},
                provider=provider,
                depends_on=[bucket],
            )
        )
    if encryption:
        out.append(
            res(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                f"{name}-sse",
                {
                    "bucket": f"{name}-id",
                    "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
                },
                provider=provider,
                depends_on=[bucket],
            )
        )
    if block:
        flags = dict.fromkeys(
            ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
            True,
        )
        out.append(
            res(
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                f"{name}-pab",
                {"bucket": f"{name}-id", **flags},
                provider=provider,
                depends_on=[bucket],
            )
        )
    return out


def azure_storage(
    name="acct", *, protect=True, public=False, versioning=True, container_access="None"
) -> list[dict[str, Any]]:
    provider = azure_provider()
    account = res(
        "azure-native:storage:StorageAccount",
        name,
        {
            "accountName": f"acme{name}",
            "resourceGroupName": "rg",
            "kind": "StorageV2",
            "sku": {"name": "Standard_ZRS"},
            "allowBlobPublicAccess": public,
            "enableHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "tags": TAGS,
        },
        provider=provider,
        protect=protect,
    )
    service = res(
        "azure-native:storage:BlobServiceProperties",
        f"{name}-blob",
        {
            "accountName": f"acme{name}",
            "resourceGroupName": "rg",
            "isVersioningEnabled": versioning,
        },
        provider=provider,
        depends_on=[account],
    )
    container = res(
        "azure-native:storage:BlobContainer",
        f"{name}-models",
        {"accountName": f"acme{name}", "resourceGroupName": "rg", "publicAccess": container_access},
        provider=provider,
        depends_on=[account],
    )
    return [account, service, container]


def gcs(
    name="weights", *, protect=True, versioning=True, prevention="enforced", member=None
) -> list[dict[str, Any]]:
    provider = gcp_provider()
    bucket = res(
        "gcp:storage/bucket:Bucket",
        name,
        {
            "name": f"acme-{name}",
            "location": "US-CENTRAL1",
            "versioning": {"enabled": versioning},
            "publicAccessPrevention": prevention,
            "uniformBucketLevelAccess": True,
        },
        provider=provider,
        protect=protect,
    )
    out = [bucket]
    if member:
        out.append(
            res(
                "gcp:storage/bucketIAMMember:BucketIAMMember",
                f"{name}-reader",
                {"bucket": f"acme-{name}", "role": "roles/storage.objectViewer", "member": member},
                provider=provider,
                depends_on=[bucket],
            )
        )
    return out


NO_REPLICATION = {"replication": {"primary": "aws/us-east-1", "targets": []}}


def stack_resource(placement: Any = NO_REPLICATION) -> dict[str, Any]:
    """The root stack resource; its properties are the stack outputs (`placement`)."""
    outputs = {} if placement is None else {"placement": placement}
    return res("pulumi:pulumi:Stack", f"tricloud-{STACK}", outputs)


def with_providers(
    resources: list[dict[str, Any]], placement: Any = NO_REPLICATION
) -> list[dict[str, Any]]:
    """The resources plus the provider registrations they reference and the stack resource
    (the engine sends all of them)."""
    out = {r["urn"]: r for r in [*resources, stack_resource(placement)]}
    for r in resources:
        if r.get("provider") and r["provider"] not in out:
            out[r["provider"]] = _PROVIDERS[r["provider"]]
    return list(out.values())
