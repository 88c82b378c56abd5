"""Monthly cost of a stack estimated from its resources' inputs, priced from the catalog.

The policy pack (`policies/`) and the offline plan's summary (`tools/plan/summary.py`) both call
`estimate`, so the budget the pack enforces and the number the plan shows agree. Pure Python,
no Pulumi import: a resource is its type token, its inputs as the engine records them (camelCase
keys, as in `resources.json`) and the region of its explicit provider.

What is priced (USD per month, 730 h):

- node pools: nodes x the catalog's hourly price of the instance type in the pool's region, at
  the pool's pricing (spot when the pool asks for spot; on-demand when the catalog has no spot
  price there). `basis="max"` counts the autoscaling ceiling, `basis="desired"` the nodes the
  pool starts with.
  - EKS `NodeGroup`: each of `instanceTypes` (the first one is priced; a group mixing types is
    priced at its most expensive), `scalingConfig.maxSize` / `desiredSize`; `capacityType`.
  - AKS `AgentPool` and the pools in a `ManagedCluster`'s `agentPoolProfiles`: `vmSize`,
    `maxCount` when autoscaling, else `count`; `scaleSetPriority: Spot`.
  - GKE `NodePool`: `nodeConfig.machineType`; `autoscaling.totalMaxNodeCount` /
    `totalMinNodeCount` are totals over all zones, while `maxNodeCount`, `minNodeCount`,
    `nodeCount` and `initialNodeCount` are per zone and are multiplied by the number of zones:
    `nodeLocations` when set, 1 for a zonal `location`, else 3 (GKE's default for a regional
    pool). Guest accelerators are included in the catalog's price of the machine type (A2, A3
    and G2 come with their GPUs; the catalog prices n1-standard-8 with its one attached T4); a
    pool whose `guestAccelerators` differ from the catalog's offering cannot be priced.
    `nodeConfig.spot` or `preemptible` is spot.
  - system pools (`SYSTEM_POOL` types, not GPU offerings): the catalog's `system_pool_usd_hr`
    divided by the nodes it is quoted for, per node.
- clusters (EKS, AKS, GKE): the control plane fee plus one regional load balancer, from the
  catalog's `clusters.csv` (an AKS cluster on the Free tier has no control plane fee). With the
  system pool priced from its own resource, `basis="desired"` gives the plan's compute +
  cluster fees (without the stack's operating overhead, which no cloud bills).

What cannot be priced (type not offered in the region, values unknown during preview or masked
as secrets) is listed in `Estimate.unpriced`, never silently counted as zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import kubernetes
from .catalog import HOURS_PER_MONTH, SYSTEM_POOL, Catalog, Offering

# How the offline plan's capture spells values that are not plain data.
UNKNOWN = "[unknown]"
SECRET = "[secret]"
BASES = ("max", "desired")

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
AGENT_POOL = "azure-native:containerservice:AgentPool"
NODE_POOL = "gcp:container/nodePool:NodePool"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
POOL_TYPES = {NODE_GROUP: "aws", AGENT_POOL: "azure", NODE_POOL: "gcp"}
CLUSTER_TYPES = {EKS_CLUSTER: "aws", AKS_CLUSTER: "azure", GKE_CLUSTER: "gcp"}
PROVIDER_CLOUD = {
    "pulumi:providers:aws": "aws",
    "pulumi:providers:azure-native": "azure",
    "pulumi:providers:gcp": "gcp",
}
# GCE accelerator types -> tricloud's accelerator names (the inverse of components/gcp.py).
GCE_ACCELERATORS = {
    "nvidia-tesla-t4": "T4",
    "nvidia-l4": "L4",
    "nvidia-tesla-a100": "A100-40GB",
    "nvidia-a100-80gb": "A100-80GB",
    "nvidia-h100-80gb": "H100",
    "nvidia-h100-mega-80gb": "H100",
    "nvidia-h200-141gb": "H200",
    "nvidia-b200": "B200",
    "nvidia-tesla-v100": "V100",
    "nvidia-tesla-p100": "P100",
    "nvidia-tesla-p4": "P4",
}
# A regional GKE pool without nodeLocations runs in the region's default zones: three.
GKE_DEFAULT_ZONES = 3
_ZONE_RE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")


def is_unknown(value: Any) -> bool:
    """True for a value the check cannot read: unknown during preview, or a masked secret."""
    return value in (UNKNOWN, SECRET) if isinstance(value, str) else False


@dataclass(frozen=True)
class Resource:
    """The part of a registered resource the estimate reads."""

    urn: str
    type: str
    inputs: Mapping[str, Any]
    region: str | None = None  # the explicit provider's region/location, when known


@dataclass(frozen=True)
class Pool:
    """A node pool as declared: one instance type, a pricing and node counts."""

    urn: str
    name: str  # the pool's own name (an AKS profile's `name`, else the resource's name)
    cloud: str
    region: str | None
    instance_types: tuple[str, ...]
    pricing: str  # on-demand | spot
    min_nodes: int | None
    desired_nodes: int | None
    max_nodes: int | None
    autoscaling: bool
    system: bool  # the cluster's system pool (not a GPU pool)
    zones: int = 1  # GKE per-zone counts were multiplied by this
    accelerators: tuple[tuple[str, int], ...] = ()  # declared guest accelerators (GKE)
    unknown: tuple[str, ...] = ()  # input paths that could not be read

    def nodes(self, basis: str) -> int | None:
        return self.max_nodes if basis == "max" else self.desired_nodes


@dataclass(frozen=True)
class CostItem:
    urn: str
    kind: str  # pool | system-pool | cluster
    cloud: str
    region: str | None
    what: str  # e.g. "p5.48xlarge x2 on-demand"
    monthly_usd: float
    note: str = ""

    @property
    def label(self) -> str:
        where = f"{self.cloud}/{self.region}" if self.region else f"{self.cloud}/?"
        name = self.urn.rsplit("::", 1)[-1]
        return f"{where} {name}: {self.what}"


@dataclass(frozen=True)
class Unpriced:
    urn: str
    reason: str
    unknown: bool = False  # True: unknown during preview / secret, not a bad input


@dataclass
class Estimate:
    basis: str
    items: list[CostItem] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(i.monthly_usd for i in self.items)

    def top(self, n: int = 5) -> list[CostItem]:
        return sorted(self.items, key=lambda i: (-i.monthly_usd, i.urn))[:n]

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i in self.items:
            out[i.kind] = out.get(i.kind, 0.0) + i.monthly_usd
        return out


# --- reading pools from inputs -------------------------------------------------------------


class _Reader:
    """Reads nested inputs, remembering every path that is unknown or secret."""

    def __init__(self) -> None:
        self.unknown: list[str] = []

    def get(self, inputs: Any, path: str) -> Any:
        value = inputs
        for part in path.split("."):
            if is_unknown(value):
                self.unknown.append(path)
                return None
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        if is_unknown(value):
            self.unknown.append(path)
            return None
        return value

    def count(self, inputs: Any, path: str) -> int | None:
        value = self.get(inputs, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _system(cloud: str, instance_types: Iterable[str]) -> bool:
    return any(t == SYSTEM_POOL[cloud][0] for t in instance_types)


def gke_zones(inputs: Mapping[str, Any], reader: _Reader | None = None) -> int:
    """Zones a GKE pool's per-zone counts apply to (see the module docstring)."""
    reader = reader or _Reader()
    locations = reader.get(inputs, "nodeLocations")
    if isinstance(locations, list) and locations:
        return len(locations)
    location = reader.get(inputs, "location")
    if isinstance(location, str) and _ZONE_RE.match(location):
        return 1
    return GKE_DEFAULT_ZONES


def read_pools(resource: Resource) -> list[Pool]:
    """The node pools a resource declares (none for a resource that is not a pool)."""
    t, inputs = resource.type, resource.inputs
    r = _Reader()
    name = resource.urn.rsplit("::", 1)[-1]
    if t == NODE_GROUP:
        raw = r.get(inputs, "instanceTypes")
        if raw is None and "instanceTypes" not in r.unknown:
            raw = ["t3.medium"]  # EKS's default instance type
        types = tuple(x for x in raw or [] if isinstance(x, str) and not is_unknown(x))
        if isinstance(raw, list) and any(is_unknown(x) for x in raw):
            r.unknown.append("instanceTypes")
        capacity = r.get(inputs, "capacityType")
        mn = r.count(inputs, "scalingConfig.minSize")
        return [
            Pool(
                urn=resource.urn,
                name=name,
                cloud="aws",
                region=_own_region(inputs) or resource.region,
                instance_types=types,
                pricing="spot" if capacity == "SPOT" else "on-demand",
                min_nodes=mn,
                desired_nodes=_first(r.count(inputs, "scalingConfig.desiredSize"), mn),
                max_nodes=r.count(inputs, "scalingConfig.maxSize"),
                autoscaling=True,
                system=_system("aws", types),
                unknown=tuple(r.unknown),
            )
        ]
    if t == AGENT_POOL:
        return [_aks_pool(resource, inputs, name, r, resource.region)]
    if t == AKS_CLUSTER:
        profiles = r.get(inputs, "agentPoolProfiles")
        region = _own_region(inputs) or resource.region
        if profiles is None and r.unknown:
            return [_unreadable(resource, "azure", region, r.unknown)]
        out = []
        for i, profile in enumerate(profiles or []):
            sub = _Reader()
            pool_name = profile.get("name") if isinstance(profile, Mapping) else None
            pool = _aks_pool(resource, profile, f"{name}/{pool_name or i}", sub, region)
            out.append(pool)
        return out
    if t == NODE_POOL:
        types_one = r.get(inputs, "nodeConfig.machineType")
        zones = gke_zones(inputs, r)
        total_max = r.count(inputs, "autoscaling.totalMaxNodeCount")
        total_min = r.count(inputs, "autoscaling.totalMinNodeCount")
        zone_max = r.count(inputs, "autoscaling.maxNodeCount")
        zone_min = r.count(inputs, "autoscaling.minNodeCount")
        zone_count = _first(r.count(inputs, "nodeCount"), r.count(inputs, "initialNodeCount"))
        autoscaling = r.get(inputs, "autoscaling") is not None
        per_zone = lambda n: None if n is None else n * zones  # noqa: E731
        if autoscaling:
            mx = _first(total_max, per_zone(zone_max))
            mn = _first(total_min, per_zone(zone_min))
            desired = _first(per_zone(zone_count), mn)
        else:
            mx = mn = desired = per_zone(zone_count if zone_count is not None else 1)
        accelerators = []
        for acc in r.get(inputs, "nodeConfig.guestAccelerators") or []:
            if not isinstance(acc, Mapping) or is_unknown(acc.get("type")):
                r.unknown.append("nodeConfig.guestAccelerators")
                continue
            count = acc.get("count", 1)
            if is_unknown(count):
                r.unknown.append("nodeConfig.guestAccelerators")
                continue
            accelerators.append((str(acc.get("type")), int(count)))
        spot = r.get(inputs, "nodeConfig.spot") is True or (
            r.get(inputs, "nodeConfig.preemptible") is True
        )
        types = (types_one,) if isinstance(types_one, str) else ()
        if types_one is None and "nodeConfig.machineType" not in r.unknown:
            types = ("e2-medium",)  # GKE's default machine type
        return [
            Pool(
                urn=resource.urn,
                name=name,
                cloud="gcp",
                region=_gke_region(inputs) or resource.region,
                instance_types=types,
                pricing="spot" if spot else "on-demand",
                min_nodes=mn,
                desired_nodes=desired,
                max_nodes=mx,
                autoscaling=autoscaling,
                system=_system("gcp", types),
                zones=zones,
                accelerators=tuple(accelerators),
                unknown=tuple(r.unknown),
            )
        ]
    return []


def _unreadable(resource: Resource, cloud: str, region: str | None, unknown: list[str]) -> Pool:
    return Pool(
        urn=resource.urn,
        name=resource.urn.rsplit("::", 1)[-1],
        cloud=cloud,
        region=region,
        instance_types=(),
        pricing="on-demand",
        min_nodes=None,
        desired_nodes=None,
        max_nodes=None,
        autoscaling=False,
        system=False,
        unknown=tuple(unknown),
    )


def _aks_pool(resource: Resource, inputs: Any, name: str, r: _Reader, region: str | None) -> Pool:
    vm = r.get(inputs, "vmSize")
    types = (vm,) if isinstance(vm, str) else ()
    auto = r.get(inputs, "enableAutoScaling") is True
    count = r.count(inputs, "count")
    mn = r.count(inputs, "minCount")
    mx = r.count(inputs, "maxCount")
    priority = r.get(inputs, "scaleSetPriority")
    mode = r.get(inputs, "mode")
    return Pool(
        urn=resource.urn,
        name=name,
        cloud="azure",
        region=region,
        instance_types=types,
        pricing="spot" if priority == "Spot" else "on-demand",
        min_nodes=mn if auto else _first(count, 1),
        desired_nodes=_first(count, mn, 1),
        max_nodes=mx if auto else _first(count, 1),
        autoscaling=auto,
        system=mode == "System" or _system("azure", types),
        unknown=tuple(r.unknown),
    )


def _own_region(inputs: Mapping[str, Any]) -> str | None:
    """A resource's own region (AWS v7 per-resource `region`, Azure `location`)."""
    for key in ("region", "location"):
        value = inputs.get(key)
        if isinstance(value, str) and value and not is_unknown(value):
            return value
    return None


def _gke_region(inputs: Mapping[str, Any]) -> str | None:
    location = _own_region(inputs)
    if location and _ZONE_RE.match(location):
        return location.rsplit("-", 1)[0]  # us-central1-a -> us-central1
    return location


# --- pricing -------------------------------------------------------------------------------


def offering(catalog: Catalog, cloud: str, region: str | None, instance_type: str):
    """The catalog offering of a type in a region; with no region, the type's most expensive
    offering in any region of the cloud (a guardrail prices the worst case)."""
    matches = [
        o for o in catalog.offerings if o.cloud == cloud and o.instance_type == instance_type
    ]
    if region is not None:
        matches = [o for o in matches if o.region == region]
    return max(matches, key=lambda o: o.price_on_demand, default=None)


def _system_node_usd_hr(catalog: Catalog, cloud: str) -> float:
    return catalog.clusters[cloud].system_pool_usd_hr / SYSTEM_POOL[cloud][1]


def price_pool(pool: Pool, catalog: Catalog, basis: str) -> CostItem | Unpriced:
    """One pool's monthly cost on `basis`, or why it cannot be priced."""
    if basis not in BASES:
        raise ValueError(f"basis {basis!r}; allowed: {', '.join(BASES)}")
    nodes = pool.nodes(basis)
    if nodes is None or not pool.instance_types:
        if pool.unknown:
            paths = ", ".join(sorted(set(pool.unknown)))
            return Unpriced(pool.urn, f"{paths} not known during preview", unknown=True)
        what = "instance type" if not pool.instance_types else f"{basis} node count"
        return Unpriced(pool.urn, f"no {what} declared")
    where = f"{pool.cloud}/{pool.region}" if pool.region else f"{pool.cloud} (region unknown)"
    note = ""
    best: tuple[float, str] | None = None
    for instance_type in pool.instance_types:
        if instance_type == SYSTEM_POOL[pool.cloud][0]:
            hourly, pricing = _system_node_usd_hr(catalog, pool.cloud), "on-demand"
        else:
            o = offering(catalog, pool.cloud, pool.region, instance_type)
            if o is None:
                return Unpriced(pool.urn, f"{instance_type} is not in the catalog for {where}")
            mismatch = _accelerator_mismatch(pool, o)
            if mismatch:
                return Unpriced(pool.urn, mismatch)
            hourly, pricing = _hourly(o, pool.pricing)
            if pricing != pool.pricing:
                note = "no spot price in the catalog: priced on-demand"
            if pool.region is None:
                note = f"region unknown: priced at the highest catalog price ({o.region})"
        if best is None or hourly > best[0]:
            best = (hourly, instance_type)
    assert best is not None
    hourly, instance_type = best
    kind = "system-pool" if pool.system else "pool"
    return CostItem(
        urn=pool.urn,
        kind=kind,
        cloud=pool.cloud,
        region=pool.region,
        what=f"{instance_type} x{nodes} {pool.pricing}",
        monthly_usd=hourly * nodes * HOURS_PER_MONTH,
        note=note,
    )


def _hourly(o: Offering, pricing: str) -> tuple[float, str]:
    if pricing == "spot" and o.price_spot is not None:
        return o.price_spot, "spot"
    return o.price_on_demand, "on-demand"


def _accelerator_mismatch(pool: Pool, o: Offering) -> str:
    """Why a GKE pool's declared guest accelerators are not the catalog offering's ('' if they are)."""
    if not pool.accelerators:
        return ""
    names = {GCE_ACCELERATORS.get(t, t) for t, _ in pool.accelerators}
    count = sum(n for _, n in pool.accelerators)
    if names == {o.accelerator} and count == o.accelerator_count:
        return ""
    declared = " + ".join(f"{n} x {t}" for t, n in pool.accelerators)
    return (
        f"{o.instance_type} with guest accelerators {declared} is not a catalog offering "
        f"(the catalog has {o.instance_type} with {o.accelerator_count} x {o.accelerator})"
    )


# Label on the one zonal GKE cluster whose management fee the free-tier credit covers
# (placement.gkeFreeTierCredit); set by components/gcp.py.
GKE_FREE_TIER_LABEL = "tricloud-gke-free-tier"


def _gke_credited(inputs: Mapping[str, Any]) -> bool:
    """A zonal GKE cluster that carries the free-tier label (regional ones never qualify)."""
    labels = inputs.get("resourceLabels")
    location = inputs.get("location")
    return (
        isinstance(labels, Mapping)
        and labels.get(GKE_FREE_TIER_LABEL) == "true"
        and isinstance(location, str)
        and bool(_ZONE_RE.match(location))
    )


def price_cluster(resource: Resource, catalog: Catalog) -> CostItem | None:
    cloud = CLUSTER_TYPES.get(resource.type)
    if cloud is None:
        return None
    fees = catalog.clusters[cloud]
    control = fees.control_plane_usd_hr
    if cloud == "aws" and isinstance(resource.inputs.get("version"), str):
        # A version past standard support bills the extended-support fee.
        control = kubernetes.control_plane_usd_hr(
            "aws", resource.inputs["version"], kubernetes.snapshot_day(catalog.snapshot), control
        )
    tier = resource.inputs.get("sku", {}) if cloud == "azure" else {}
    if isinstance(tier, Mapping) and tier.get("tier") == "Free":
        control = 0.0
    region = _gke_region(resource.inputs) if cloud == "gcp" else None
    region = region or _own_region(resource.inputs) or resource.region
    monthly_usd = (control + fees.load_balancer_usd_hr) * HOURS_PER_MONTH
    what = "control plane + regional load balancer"
    if cloud == "gcp" and _gke_credited(resource.inputs):
        monthly_usd -= fees.gke_free_tier_credit_usd
        what += " (zonal: fee credited by the GKE free tier)"
    return CostItem(
        urn=resource.urn,
        kind="cluster",
        cloud=cloud,
        region=region,
        what=what,
        monthly_usd=monthly_usd,
    )


def estimate(resources: Iterable[Resource], catalog: Catalog, basis: str = "max") -> Estimate:
    """Itemised monthly cost of the clusters and node pools among `resources`."""
    if basis not in BASES:
        raise ValueError(f"basis {basis!r}; allowed: {', '.join(BASES)}")
    out = Estimate(basis=basis)
    for resource in resources:
        cluster = price_cluster(resource, catalog)
        if cluster is not None:
            out.items.append(cluster)
        for pool in read_pools(resource):
            priced = price_pool(pool, catalog, basis)
            if isinstance(priced, CostItem):
                out.items.append(priced)
            else:
                out.unpriced.append(priced)
    return out


# --- registrations (resources.json, tools.plan's capture) ----------------------------------


def provider_region(inputs: Mapping[str, Any]) -> str | None:
    """The region of an explicit provider from its inputs (`region`, or Azure's `location`)."""
    return _own_region(inputs)


def from_registrations(registrations: Iterable[Mapping[str, Any]]) -> list[Resource]:
    """`Resource`s from Registration-like dicts (`urn`, `type`, `inputs`, `provider`), each
    with the region of its provider when that provider is among them."""
    regs = list(registrations)
    regions = {
        r["urn"]: provider_region(r.get("inputs") or {})
        for r in regs
        if str(r.get("type", "")).startswith("pulumi:providers:")
    }
    return [
        Resource(
            urn=r["urn"],
            type=r["type"],
            inputs=r.get("inputs") or {},
            region=regions.get(r.get("provider") or ""),
        )
        for r in regs
    ]
