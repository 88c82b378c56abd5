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
