"""What the three GPU cluster components share: their args, node labels, taint and kubeconfig.

`AwsGpuCluster`, `AzureGpuCluster` and `GcpGpuCluster` take the same `GpuClusterArgs` and expose
the same outputs, so reading one teaches the other two (style guide). The plan's node pools are
plain values, not Inputs: they decide which resources exist, which must be known at preview.
"""

import json
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DaemonSet
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from optimizer.errors import Collector

from .allocatable import DEVICE_PLUGIN_REQUESTS
from .naming import pool_slug

# Every GPU node carries this taint so that only pods that ask for GPUs land there.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
LABEL_ACCELERATOR = "tricloud/accelerator"
LABEL_PRICING = "tricloud/pricing"
LABEL_POOL = "tricloud/pool"
DEFAULT_NETWORK_CIDR = "10.0.0.0/16"
# NVIDIA's device plugin advertises `nvidia.com/gpu` to the scheduler (EKS and AKS; GKE runs
# its own). Pinned so that a preview never changes by itself.
DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.4"
# Minutes from a scale-up until a new GPU node is Ready and advertises its GPUs: the budget a
# workload's deploy timeout allows for its node. Budgets from each cloud's steps, not
# measurements: EKS boots the NVIDIA AMI and joins; AKS scales the scale set out and installs
# the GPU driver; GKE creates the node and runs its driver installer.
GPU_NODE_READY_MINUTES = {"aws": 15, "azure": 20, "gcp": 20}


class GpuPoolArgs(TypedDict):
    """One GPU node pool: one instance type at one pricing, autoscaled between two bounds."""

    instance_type: str
    """Instance type (AWS), VM size (Azure) or machine type (GCP), e.g. `p5.48xlarge`."""
    accelerator: str
    """Accelerator model on each node, e.g. `H100`; becomes the `tricloud/accelerator` label."""
    accelerator_count: int
    """GPUs per node."""
    pricing: str
    """`on-demand` or `spot`."""
    min_nodes: int
    """Nodes the pool keeps (the plan's count); the autoscaler never goes below it."""
    max_nodes: int
    """Autoscaling ceiling."""
    zones: Sequence[str]
    """Zones of the region where the instance type is offered (AWS AZ IDs, GCP zone names,
    Azure zone numbers; the catalog's `zones.csv`). The pool's nodes go only to those of them
    the cluster spans; empty (Azure only): a region without availability zones."""


class GpuClusterArgs(TypedDict):
    """Arguments shared by `AwsGpuCluster`, `AzureGpuCluster` and `GcpGpuCluster`."""

    region: str
    """Cloud region, e.g. `us-east-1`, `westeurope`, `europe-west4`."""
    cluster_name: str
    """Physical cluster name; must already satisfy the cloud's naming rule."""
    kubernetes_version: str
    """Kubernetes minor version, e.g. `1.33`."""
    gpu_pools: Sequence[GpuPoolArgs]
    """The GPU node pools; one pool per (instance type, pricing)."""
    tags: Mapping[str, str]
    """Cost-allocation tags put on every taggable resource (AWS tags, Azure tags, GCP labels)."""
    api_allowed_cidrs: NotRequired[Sequence[str]]
    """CIDRs that may reach the public Kubernetes API; empty = private endpoint only."""
    network_cidr: NotRequired[str]
    """Address space of the cluster network (default 10.0.0.0/16)."""
    cluster_admins: NotRequired[Sequence[str]]
    """Who administers the cluster's Kubernetes API. AKS: Entra ID object ids granted "Azure
    Kubernetes Service RBAC Cluster Admin" (default: the identity that deploys). EKS: IAM role
    or user ARNs given an access entry with AmazonEKSClusterAdminPolicy, beside the identity
    that creates the cluster (always admin; do not list it: EKS already holds its entry).
    Not used on GKE (project IAM grants access)."""
    extended_support: NotRequired[bool]
    """EKS only: keep the version in extended support once standard support ends (billed
    $0.60/h instead of $0.10/h); default false: EKS upgrades the cluster at that date instead."""
    zones: NotRequired[Sequence[str]]
    """Zones the cluster spans (AWS subnets, GKE node locations, AKS pool zones); default: the
    union of the pools' zones. EKS needs at least two."""


def pool_key(pool: GpuPoolArgs) -> str:
    """The stable name part of a pool, used in child resource names: `p5-48xlarge-od`."""
    return pool_slug(pool["instance_type"], pool["pricing"])


def validate_pools(pools: Sequence[GpuPoolArgs]) -> None:
    """Catch a caller's mistake before any resource exists (a bug, not user input)."""
    seen: set[str] = set()
    for p in pools:
        if p["pricing"] not in ("on-demand", "spot"):
            raise ValueError(f"pool {p['instance_type']}: pricing {p['pricing']!r}")
        if not 0 <= p["min_nodes"] <= p["max_nodes"] or p["max_nodes"] < 1:
            raise ValueError(
                f"pool {p['instance_type']}: bad bounds {p['min_nodes']}..{p['max_nodes']}"
            )
        key = pool_key(p)
        if key in seen:
            raise ValueError(f"two pools named {key}")
        seen.add(key)


def cluster_zones(args: Mapping, minimum: int = 1) -> list[str]:
    """The zones the cluster spans, and every pool's zones among them: a pool whose type is
    offered in none of them would be rejected by the cloud at deploy, so it is an error now."""
    pools = args["gpu_pools"]
    zones = sorted(args.get("zones") or {z for p in pools for z in p["zones"]})
    errors = Collector()
    where = f"{args['cluster_name']}"
    if len(zones) < minimum:
        errors.add(
            f"{where}.zones",
            f"{zones} spans {len(zones)} zone(s); this cloud needs at least {minimum} "
            "(add zones of the region to `zones`)",
        )
    for p in pools:
        if p["zones"] and not set(p["zones"]) & set(zones):
            errors.add(
                f"{where}.gpu_pools[{pool_key(p)}].zones",
                f"{p['instance_type']} is offered in zones {sorted(p['zones'])} of "
                f"{args['region']}, none of which the cluster spans ({zones}); add one of them "
                "to the cluster's `zones`",
            )
    errors.raise_if_any(f"invalid zones for cluster {where}")
    return zones


def zones_of(pool: GpuPoolArgs, zones: Sequence[str]) -> list[str]:
    """The cluster's zones where the pool's type is offered (all of them when the type's
    zones are not listed, Azure regions without zones)."""
    if not pool["zones"]:
        return list(zones)
    return [z for z in zones if z in set(pool["zones"])]


def node_labels(pool: GpuPoolArgs) -> dict[str, str]:
    """Kubernetes labels on a GPU pool's nodes; workloads select their pool by them."""
    return {
        LABEL_ACCELERATOR: pool["accelerator"],
        LABEL_PRICING: pool["pricing"],
        LABEL_POOL: pool_key(pool),
    }


def exec_kubeconfig(
    name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    ca_data: pulumi.Input[str],
    command: str,
    args: Sequence[str],
) -> pulumi.Output[str]:
    """A kubeconfig whose credentials come from the cloud CLI at use (no long-lived token).

    Returned as a secret: it names the API endpoint and CA, and a user may paste a token in.
    """

    def render(values: list) -> str:
        cluster_name, server, ca = values
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": server, "certificate-authority-data": ca},
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": command,
                            "args": list(args),
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }
        return json.dumps(doc, indent=2)

    return pulumi.Output.secret(pulumi.Output.all(name, endpoint, ca_data).apply(render))


def kubernetes_provider(
    name: str,
    kubeconfig: pulumi.Input[str],
    cluster_name: str,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.Provider:
    """The cluster's Kubernetes provider; `cluster_identifier` keeps it (and every object
    declared through it) from being replaced when only the kubeconfig's credentials change."""
    return k8s.Provider(
        f"{name}-k8s",
        kubeconfig=kubeconfig,
        cluster_identifier=cluster_name,
        delete_unreachable=False,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def nvidia_device_plugin(
    name: str, provider: k8s.Provider, labels: Mapping[str, str], parent: pulumi.Resource
) -> DaemonSet:
    """NVIDIA's device plugin on the GPU nodes only (it tolerates the GPU taint)."""
    app = {"app.kubernetes.io/name": "nvidia-device-plugin"}
    return DaemonSet(
        f"{name}-nvidia-device-plugin",
        metadata=ObjectMetaArgs(
            name="nvidia-device-plugin", namespace="kube-system", labels={**labels, **app}
        ),
        spec={
            "selector": {"matchLabels": app},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {**labels, **app}},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    # Restricted but for its socket: it must write, as root, into the kubelet's
                    # device-plugins folder (a hostPath), as every device plugin registers.
                    "automountServiceAccountToken": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {"key": LABEL_ACCELERATOR, "operator": "Exists"}
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "tolerations": [
                        {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                        # AKS taints spot nodes; the plugin must run there too.
                        {
                            "key": "kubernetes.azure.com/scalesetpriority",
                            "operator": "Exists",
                            "effect": "NoSchedule",
                        },
                    ],
                    "containers": [
                        {
                            "name": "nvidia-device-plugin",
                            "image": DEVICE_PLUGIN_IMAGE,
                            "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "privileged": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "resources": {
                                # allocatable.py subtracts these from every GPU node.
                                "requests": {
                                    "cpu": f"{DEVICE_PLUGIN_REQUESTS[0]}m",
                                    "memory": f"{DEVICE_PLUGIN_REQUESTS[1]}Mi",
                                },
                                "limits": {"memory": "128Mi"},
                            },
                            "volumeMounts": [
                                {
                                    "name": "device-plugin",
                                    "mountPath": "/var/lib/kubelet/device-plugins",
                                }
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "device-plugin",
                            "hostPath": {"path": "/var/lib/kubelet/device-plugins"},
                        }
                    ],
                },
            },
        },
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
