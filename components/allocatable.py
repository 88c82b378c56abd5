"""What a GPU node leaves for replicas: each cloud's documented reservations, then DaemonSets.

A pod whose requests exceed a node's allocatable never schedules, and the Deployment's await
times out. Allocatable is capacity minus the kubelet's reservations and hard-eviction
threshold, each cloud by its own formula (sources in the README's "Node sizing" table):

- EKS (AL2023 nodeadm): memory 11 MiB x maxPods + 255 MiB, maxPods from the VPC CNI's ENI
  limits (ENIs x (IPv4 per ENI - 1) + 2); CPU 6% of the first core, 1% of the second, 0.5% of
  cores 3-4, 0.25% above; eviction 100 MiB.
- GKE: memory 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112,
  2% above 128 GiB; CPU as EKS; eviction 100 MiB.
- AKS (Kubernetes 1.29+): memory min(20 MB x maxPods + 50 MB, 25% of memory) with 250 pods
  (Azure CNI Overlay's default); CPU by a table of core counts; eviction 100 MiB.

Capacity itself is below the nominal size (the kernel and firmware keep some), and the
DaemonSets on every GPU node (the cloud's own, the program's device plugin) request their share
before any replica. Both are budgets stated here, not measured on real nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB_PER_GIB = 1024
# The kernel, crash kernel and firmware keep part of a VM's nominal memory out of the node's
# capacity (a 16 GiB VM reports about 15.6 GiB): budgeted at 4%.
KERNEL_RESERVED_SHARE = 0.04
EVICTION_MIB = 100

# VPC CNI limits per EC2 type: (ENIs on the default network card, IPv4 addresses per ENI), from
# amazon-eks-ami's nodeadm/internal/kubelet/instance-info.jsonl (2026-07-01).
EC2_ENI_LIMITS: dict[str, tuple[int, int]] = {
    "g4dn.xlarge": (3, 10),
    "g4dn.2xlarge": (3, 10),
    "g4dn.4xlarge": (3, 10),
    "g4dn.8xlarge": (4, 15),
    "g4dn.12xlarge": (8, 30),
    "g4dn.16xlarge": (4, 15),
    "g4dn.metal": (15, 50),
    "g5.xlarge": (4, 15),
    "g5.2xlarge": (4, 15),
    "g5.4xlarge": (8, 30),
    "g5.8xlarge": (8, 30),
    "g5.12xlarge": (15, 50),
    "g5.16xlarge": (8, 30),
    "g5.24xlarge": (15, 50),
    "g5.48xlarge": (7, 50),
    "g6.xlarge": (4, 15),
    "g6.2xlarge": (4, 15),
    "g6.4xlarge": (8, 30),
    "g6.8xlarge": (8, 30),
    "g6.12xlarge": (8, 30),
    "g6.16xlarge": (15, 50),
    "g6.24xlarge": (15, 50),
    "g6.48xlarge": (15, 50),
    "g6e.xlarge": (4, 15),
    "g6e.2xlarge": (4, 15),
    "g6e.4xlarge": (8, 30),
    "g6e.8xlarge": (8, 30),
    "g6e.12xlarge": (10, 30),
    "g6e.16xlarge": (15, 50),
    "g6e.24xlarge": (10, 50),
    "g6e.48xlarge": (10, 50),
    "gr6.4xlarge": (8, 30),
    "gr6.8xlarge": (8, 30),
    "p3dn.24xlarge": (15, 50),
    "p4d.24xlarge": (15, 50),
    "p4de.24xlarge": (15, 50),
    "p5.4xlarge": (4, 30),
    "p5.48xlarge": (2, 50),
    "p5e.48xlarge": (2, 50),
    "p5en.48xlarge": (4, 50),
    "p6-b200.48xlarge": (4, 50),
    "p6-b300.48xlarge": (4, 50),
}
# A type not in the table: the largest max pods of any listed type, so that the reservation
# is never underestimated (nodeadm itself asks EC2 for the real limits).
EKS_MAX_PODS_UNKNOWN = max(e * (ip - 1) + 2 for e, ip in EC2_ENI_LIMITS.values())
AKS_MAX_PODS = 250
# AKS kube-reserved CPU (millicores) by the host's cores; a count between two rows takes the
# larger row's reservation.
AKS_CPU_RESERVED_M = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))

# Requests of the cloud's own DaemonSets on a GPU node (networking, kube-proxy, CSI and logging
# agents, GKE's device plugin and metadata server), rounded up; budgets, not measurements.
SYSTEM_DAEMONSETS = {
    "aws": (200, 256),  # aws-node, kube-proxy, eks-pod-identity-agent
    "azure": (400, 640),  # kube-proxy, azure-cns, cloud-node-manager, CSI drivers, ip-masq
    "gcp": (450, 640),  # kube-proxy, fluentbit, metrics agent, pdcsi, device plugin, metadata
}
# The program's own DaemonSet on EKS and AKS GPU nodes (cluster.py's device plugin).
DEVICE_PLUGIN_REQUESTS = (50, 64)  # millicores, MiB


@dataclass(frozen=True)
class Resources:
    cpu_m: int  # millicores
    memory_mi: int  # MiB

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi)


def _tiered(total: float, tiers: list[tuple[float, float]]) -> float:
    """Sum of share x amount over consecutive tiers [(size, share), ...]; the last tier takes
    the rest."""
    reserved, left = 0.0, total
    for size, share in tiers:
        take = min(left, size)
        reserved += take * share
        left -= take
        if left <= 0:
            break
    return reserved


def _cpu_reserved_tiered_m(vcpus: float) -> float:
    """EKS and GKE: 6% of the first core, 1% of the second, 0.5% of 3-4, 0.25% above."""
    return 1000 * _tiered(vcpus, [(1, 0.06), (1, 0.01), (2, 0.005), (float("inf"), 0.0025)])


def eks_max_pods(instance_type: str) -> int:
    limits = EC2_ENI_LIMITS.get(instance_type)
    if limits is None:
        return EKS_MAX_PODS_UNKNOWN
    enis, ips = limits
    return enis * (ips - 1) + 2


def allocatable(cloud: str, instance_type: str, vcpus: float, memory_gb: float) -> Resources:
    """The node's allocatable CPU and memory as the kubelet will report it."""
    capacity_mi = memory_gb * MIB_PER_GIB * (1 - KERNEL_RESERVED_SHARE)
    if cloud == "aws":
        memory_reserved = 11 * eks_max_pods(instance_type) + 255
        cpu_reserved = _cpu_reserved_tiered_m(vcpus)
    elif cloud == "gcp":
        memory_reserved = MIB_PER_GIB * _tiered(
            memory_gb, [(4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (float("inf"), 0.02)]
        )
        cpu_reserved = _cpu_reserved_tiered_m(vcpus)
    elif cloud == "azure":
        memory_reserved = min(20 * AKS_MAX_PODS + 50, 0.25 * memory_gb * MIB_PER_GIB)
        cpu_reserved = next(
            (m for cores, m in AKS_CPU_RESERVED_M if vcpus <= cores), AKS_CPU_RESERVED_M[-1][1]
        )
    else:
        raise ValueError(f"unknown cloud {cloud!r}")
    return Resources(
        int(vcpus * 1000 - cpu_reserved), int(capacity_mi - memory_reserved - EVICTION_MIB)
    )


def daemonset_requests(cloud: str) -> Resources:
    """What DaemonSets request on every GPU node of `cloud` before any replica."""
    cpu, mem = SYSTEM_DAEMONSETS[cloud]
    if cloud in ("aws", "azure"):
        cpu, mem = cpu + DEVICE_PLUGIN_REQUESTS[0], mem + DEVICE_PLUGIN_REQUESTS[1]
    return Resources(cpu, mem)


def replica_requests(
    cloud: str, instance_type: str, vcpus: float, memory_gb: float, share: float
) -> Resources:
    """Requests of one replica that uses `share` of the node's GPUs: the same share of what
    the node leaves after reservations and DaemonSets, rounded down."""
    free = allocatable(cloud, instance_type, vcpus, memory_gb) - daemonset_requests(cloud)
    return Resources(int(free.cpu_m * share), int(free.memory_mi * share))
