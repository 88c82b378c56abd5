"""Facts of the design restated for the tests, independently of `optimizer/`.

The checkers in the tests recompute what a plan must satisfy from these, so a mistake in
the optimizer's own tables cannot hide itself.
"""

from __future__ import annotations

# design 3 / shared data SOURCES: GPU memory per accelerator
GPU_MEMORY_GB = {
    "T4": 16,
    "L4": 24,
    "A10G": 24,
    "L40S": 48,
    "A100-40GB": 40,
    "A100-80GB": 80,
    "H100": 80,
    "H200": 141,
}


def gpus_per_replica(memory_gb: float, accelerator: str) -> int:
    """Smallest power of two whose GPUs hold one replica (design 3)."""
    g = 1
    while g * GPU_MEMORY_GB[accelerator] < memory_gb:
        g *= 2
    return g


def cloud_with_spot() -> dict:
    """One service that leans on spot under survive: cloud, spot trusted at half."""
    return {
        "services": [
            {
                "name": "chat",
                "image": "example/chat:1",
                "replicaGpuMemoryGb": 16,
                "throughputRps": {"L4": 60, "T4": 25, "A10G": 55},
                "demandRps": {"us-east": 200, "us-central": 100},
                "latencySloMs": 60,
                "minReplicas": 2,
            }
        ],
        "placement": {"survive": "cloud", "maxSpotFraction": 1.0, "spotSurvivalFactor": 0.5},
    }


# --- Kubernetes quantities and node allocatable (each cloud's published formula) -------------


def millicores(quantity: str) -> int:
    q = str(quantity)
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def mebibytes(quantity: str) -> int:
    q = str(quantity)
    for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ki", 1 / 1024)):
        if q.endswith(suffix):
            return int(float(q[: -len(suffix)]) * factor)
    return int(int(q) / 2**20)


# EKS AL2023 max pods: amazon-eks-ami nodeadm's ENI table, written out as max pods.
EKS_MAX_PODS = {
    "g4dn.xlarge": 29, "g4dn.2xlarge": 29, "g4dn.4xlarge": 29, "g4dn.8xlarge": 58,
    "g4dn.12xlarge": 234, "g4dn.16xlarge": 58, "g5.xlarge": 58, "g5.2xlarge": 58,
    "g5.4xlarge": 234, "g5.8xlarge": 234, "g5.12xlarge": 737, "g5.16xlarge": 234,
    "g5.24xlarge": 737, "g5.48xlarge": 345, "g6.xlarge": 58, "g6.2xlarge": 58,
    "g6.4xlarge": 234, "g6.8xlarge": 234, "g6.12xlarge": 234, "g6.16xlarge": 737,
    "g6.24xlarge": 737, "g6.48xlarge": 737, "g6e.xlarge": 58, "g6e.2xlarge": 58,
    "g6e.4xlarge": 234, "g6e.8xlarge": 234, "g6e.12xlarge": 292, "g6e.16xlarge": 737,
    "g6e.24xlarge": 492, "g6e.48xlarge": 492, "p4d.24xlarge": 737, "p4de.24xlarge": 737,
    "p5.4xlarge": 118, "p5.48xlarge": 100, "p5e.48xlarge": 100, "p5en.48xlarge": 198,
    "p6-b200.48xlarge": 198,
}  # fmt: skip


def _cpu_reserved_m(vcpus: float) -> float:
    """EKS/GKE kube-reserved CPU: 60m of core 1, 10m of core 2, 5m per core of cores 3-4,
    2.5m per core beyond."""
    r = 60 * min(vcpus, 1) + 10 * min(max(vcpus - 1, 0), 1) + 5 * min(max(vcpus - 2, 0), 2)
    return r + 2.5 * max(vcpus - 4, 0)


def _gke_memory_reserved_gib(gib: float) -> float:
    bands = ((0, 4, 0.25), (4, 8, 0.20), (8, 16, 0.10), (16, 128, 0.06), (128, 1e9, 0.02))
    return sum(share * max(0.0, min(gib, hi) - lo) for lo, hi, share in bands)


def allocatable(cloud: str, instance_type: str, vcpus: float, memory_gb: float) -> tuple[int, int]:
    """(millicores, MiB) a node reports as allocatable; capacity is taken as 96% of the nominal
    memory (kernel and firmware), the hard eviction threshold is 100 MiB everywhere."""
    capacity = memory_gb * 1024 * 0.96
    if cloud == "aws":
        pods = EKS_MAX_PODS.get(instance_type, 737)
        mem = 11 * pods + 255
        cpu = _cpu_reserved_m(vcpus)
    elif cloud == "gcp":
        mem = 1024 * _gke_memory_reserved_gib(memory_gb)
        cpu = _cpu_reserved_m(vcpus)
    else:
        mem = min(20 * 250 + 50, memory_gb * 1024 / 4)
        table = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
        cpu = next((m for cores, m in sorted(table.items()) if vcpus <= cores), 740)
    return int(vcpus * 1000 - cpu), int(capacity - mem - 100)


def kubernetes_status(cloud: str, version: str, on) -> str:
    """standard / extended / unsupported, read straight from the dated support table."""
    import csv
    from datetime import date
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "optimizer" / "data" / "kubernetes.csv"
    for row in csv.DictReader(path.open()):
        if (row["cloud"], row["version"]) != (cloud, version):
            continue
        if date.fromisoformat(row["available"]) <= on < date.fromisoformat(row["end_of_standard"]):
            return "standard"
        if row["end_of_extended"] and on < date.fromisoformat(row["end_of_extended"]):
            return "extended" if on >= date.fromisoformat(row["end_of_standard"]) else "unsupported"
    return "unsupported"
