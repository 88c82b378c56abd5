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
    "p6-b200.48xlarge": 198, "p6-b300.48xlarge": 198, "gr6.4xlarge": 234, "gr6.8xlarge": 234,
    "p3dn.24xlarge": 737,
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


# --- re-routing checker ------------------------------------------------------------------------
#
# After losing one failure domain (a region, or a cloud for survive: cloud), can every geo's
# demand of every service be routed to the capacity left, each geo only to regions within the
# service's failover SLO? Written from the plan JSON, the catalog's regions.csv (and
# latency.csv when there is one) and the scenario's raw values, with its own max-flow
# (Edmonds-Karp): nothing of `optimizer/` is used, so a mistake in the model cannot hide.

EARTH_KM = 6371.0
# user geo -> (latitude, longitude) of the city that stands for it (New York, Chicago, ...)
GEO_COORDS = {
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


def read_regions(catalog_dir) -> dict[str, tuple[float, float]]:
    """'cloud/region' -> (latitude, longitude) from a catalog folder's regions.csv."""
    import csv
    from pathlib import Path

    with (Path(catalog_dir) / "regions.csv").open(newline="") as f:
        return {
            f"{row['cloud']}/{row['region']}": (float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(f)
        }


def read_measured(catalog_dir) -> dict[tuple[str, str], float]:
    """(geo, 'cloud/region') -> measured RTT from latency.csv, when the catalog has one."""
    import csv
    from pathlib import Path

    path = Path(catalog_dir) / "latency.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {
            (row["geo"], f"{row['cloud']}/{row['region']}"): float(row["rtt_ms"])
            for row in csv.DictReader(f)
        }


def round_trip_ms(geo: str, region: str, regions, measured) -> float:
    """5 ms plus 0.0125 ms per great-circle km (haversine), unless latency.csv measured it."""
    import math

    if (geo, region) in measured:
        return measured[(geo, region)]
    (la1, lo1), (la2, lo2) = GEO_COORDS[geo], regions[region]
    p1, p2 = math.radians(la1), math.radians(la2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lo2 - lo1) / 2) ** 2
    )
    return 5.0 + 0.0125 * 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def max_flow(supply: dict[str, float], capacity: dict[str, float], edges) -> float:
    """Largest rps routed from geos (supply) to regions (capacity) along `edges` (geo, region),
    Edmonds-Karp on source -> geo -> region -> sink."""
    from collections import deque

    nodes = ["s", "t", *(("g", g) for g in supply), *(("r", r) for r in capacity)]
    index = {n: i for i, n in enumerate(nodes)}
    residual: dict[int, dict[int, float]] = {i: {} for i in range(len(nodes))}

    def arc(u, v, c):
        residual[u][v] = residual[u].get(v, 0.0) + c
        residual[v].setdefault(u, 0.0)

    big = sum(supply.values()) + 1.0
    for g, d in supply.items():
        arc(index["s"], index[("g", g)], d)
    for g, r in edges:
        if g in supply and r in capacity:
            arc(index[("g", g)], index[("r", r)], big)
    for r, c in capacity.items():
        arc(index[("r", r)], index["t"], c)
    flow, s, t = 0.0, index["s"], index["t"]
    while True:
        parent = {s: None}
        queue = deque([s])
        while queue and t not in parent:
            u = queue.popleft()
            for v, c in sorted(residual[u].items()):
                if c > 1e-9 and v not in parent:
                    parent[v] = u
                    queue.append(v)
        if t not in parent:
            return flow
        push, v = float("inf"), t
        while parent[v] is not None:
            push = min(push, residual[parent[v]][v])
            v = parent[v]
        v = t
        while parent[v] is not None:
            residual[parent[v]][v] -= push
            residual[v][parent[v]] += push
            v = parent[v]
        flow += push


def served_after_loss(plan: dict, raw: dict, catalog_dir) -> dict[str, dict[str, float]]:
    """service -> lost domain -> rps the surviving capacity serves within the failover SLO
    (max-flow). Domains are the plan's regions, or clouds for survive: cloud (survive: none
    is judged per region); on-demand counts fully, spot at spotSurvivalFactor."""
    placement = raw.get("placement", {})
    level = "cloud" if placement.get("survive") == "cloud" else "region"
    sigma = placement.get("spotSurvivalFactor", 0.0)
    regions = read_regions(catalog_dir)
    measured = read_measured(catalog_dir)
    services = {s["name"]: s for s in raw["services"]}
    capacity: dict[str, dict[tuple[str, str], float]] = {name: {} for name in services}
    domains = set()
    for cluster in plan["clusters"]:
        region = f"{cluster['cloud']}/{cluster['region']}"
        domain = cluster["cloud"] if level == "cloud" else region
        domains.add(domain)
        for pool in cluster["nodePools"]:
            weight = 1.0 if pool["pricing"] == "on-demand" else sigma
            for name, replicas in pool["replicas"].items():
                rps = replicas * services[name]["throughputRps"][pool["accelerator"]] * weight
                key = (domain, region)
                capacity[name][key] = capacity[name].get(key, 0.0) + rps
    out: dict[str, dict[str, float]] = {}
    for name, svc in sorted(services.items()):
        slo = svc.get("failoverLatencySloMs", svc["latencySloMs"])
        demand = svc["demandRps"]
        out[name] = {}
        for lost in sorted(domains):
            left: dict[str, float] = {}
            for (domain, region), rps in capacity[name].items():
                if domain != lost:
                    left[region] = left.get(region, 0.0) + rps
            edges = [
                (g, r)
                for g in demand
                for r in left
                if round_trip_ms(g, r, regions, measured) <= slo
            ]
            out[name][lost] = max_flow(demand, left, edges)
    return out


def shortfalls(plan: dict, raw: dict, catalog_dir) -> list[dict]:
    """Every (service, lost domain) whose demand the surviving capacity cannot fully serve
    within the failover SLO: [{service, lost, served, demand}]."""
    services = {s["name"]: s for s in raw["services"]}
    out = []
    for name, by_domain in served_after_loss(plan, raw, catalog_dir).items():
        total = sum(services[name]["demandRps"].values())
        for lost, served in by_domain.items():
            if served < total - 1e-6:
                out.append({"service": name, "lost": lost, "served": served, "demand": total})
    return out


def unservable_pools(plan: dict, raw: dict, catalog_dir) -> list[tuple[str, str]]:
    """(service, region) holding replicas though no demand geo of the service is within its
    latency SLO, nor (when survival is asked for) within its failover SLO."""
    regions = read_regions(catalog_dir)
    measured = read_measured(catalog_dir)
    survive = raw.get("placement", {}).get("survive", "none") != "none"
    services = {s["name"]: s for s in raw["services"]}
    out = []
    for cluster in plan["clusters"]:
        region = f"{cluster['cloud']}/{cluster['region']}"
        for pool in cluster["nodePools"]:
            for name in pool["replicas"]:
                svc = services[name]
                slo = svc["latencySloMs"]
                if survive:
                    slo = max(slo, svc.get("failoverLatencySloMs", slo))
                if not any(
                    round_trip_ms(g, region, regions, measured) <= slo for g in svc["demandRps"]
                ):
                    out.append((name, region))
    return sorted(set(out))
