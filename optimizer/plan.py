"""The plan: what the optimizer decided, as frozen data with a sorted JSON form (design 7).

`Plan.to_json()` is the document described by `plan.schema.json`. Lists are sorted and
numbers rounded (money to $0.01, weights and rps to 1e-6, latency to 0.1 ms) so that two
plans diff line by line. `solver.seconds` is the only field that differs between two solves
of the same input; `to_json(include_seconds=False)` leaves it out (stack exports, offline plan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, Problem

SCHEMA_PATH = Path(__file__).parent / "plan.schema.json"
PLAN_VERSION = 1


def money(x: float) -> float:
    return round(x + 0.0, 2) + 0.0


def fine(x: float) -> float:
    return round(x + 0.0, 6) + 0.0


@dataclass(frozen=True)
class NodePool:
    instance_type: str
    accelerator: str
    accelerator_count: int
    pricing: str  # on-demand | spot
    nodes: int
    min_nodes: int
    max_nodes: int
    hourly_usd: float  # per node
    replicas: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "instanceType": self.instance_type,
            "accelerator": self.accelerator,
            "acceleratorCount": self.accelerator_count,
            "pricing": self.pricing,
            "nodes": self.nodes,
            "minNodes": self.min_nodes,
            "maxNodes": self.max_nodes,
            "hourlyUsd": round(self.hourly_usd, 5),
            "replicas": dict(sorted(self.replicas.items())),
        }


@dataclass(frozen=True)
class Cluster:
    cloud: str
    region: str
    node_pools: tuple[NodePool, ...]
    # "zonal" on the one GKE cluster that takes the free-tier credit (gkeFreeTierCredit):
    # its control plane runs in one zone; every other cluster's is regional.
    control_plane: str = "regional"

    @property
    def key(self) -> str:
        return f"{self.cloud}/{self.region}"

    def to_json(self) -> dict[str, Any]:
        pools = sorted(self.node_pools, key=lambda p: (p.instance_type, p.pricing))
        out: dict[str, Any] = {"cloud": self.cloud, "region": self.region}
        if self.control_plane != "regional":
            out["controlPlane"] = self.control_plane
        out["nodePools"] = [p.to_json() for p in pools]
        return out


@dataclass(frozen=True)
class Assignment:
    geo: str
    region: str
    rps: float
    rtt_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "geo": self.geo,
            "region": self.region,
            "rps": fine(self.rps),
            "rttMs": round(self.rtt_ms, 1),
        }


@dataclass(frozen=True)
class ReplicationTarget:
    region: str
    mechanism: str
    monthly_egress_usd: float

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "mechanism": self.mechanism,
            "monthlyEgressUsd": money(self.monthly_egress_usd),
        }


@dataclass(frozen=True)
class Replication:
    primary: str
    mode: str
    interval_minutes: int
    targets: tuple[ReplicationTarget, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "mode": self.mode,
            "intervalMinutes": self.interval_minutes,
            "targets": [t.to_json() for t in sorted(self.targets, key=lambda t: t.region)],
        }


@dataclass(frozen=True)
class Cost:
    compute: float
    clusters: float
    egress: float
    latency: float  # the latency preference valued at latencyWeightUsdPerMs; not billed
    by_region: dict[str, float]

    @property
    def billed(self) -> float:
        return self.compute + self.clusters + self.egress

    @property
    def total(self) -> float:
        return self.billed + self.latency

    def to_json(self) -> dict[str, Any]:
        return {
            "monthlyUsd": {
                "compute": money(self.compute),
                "clusters": money(self.clusters),
                "egress": money(self.egress),
                "latency": money(self.latency),
                "total": money(self.total),
            },
            "byRegion": {k: money(v) for k, v in sorted(self.by_region.items())},
        }


@dataclass(frozen=True)
class ServiceSurvivability:
    """One service after the loss of its worst failure domain, measured by re-routing."""

    worst_domain: str | None  # least demand served; ties: least headroom, then name
    served_fraction: float  # of the service's demand, within the failover SLO
    worst_failover_rtt_ms: float | None  # the RTT limit the worst-placed loss needs
    failover_slo_ms: float

    def to_json(self) -> dict[str, Any]:
        rtt = self.worst_failover_rtt_ms
        return {
            "worstDomain": self.worst_domain,
            "servedFraction": fine(self.served_fraction),
            "worstFailoverRttMs": None if rtt is None else round(rtt, 1),
            "failoverSloMs": round(self.failover_slo_ms, 1),
        }


@dataclass(frozen=True)
class Survivability:
    survive: str
    worst_case_served_fraction: float
    worst_case_domain: str | None
    services: dict[str, ServiceSurvivability]

    def to_json(self) -> dict[str, Any]:
        return {
            "survive": self.survive,
            "worstCaseServedFraction": fine(self.worst_case_served_fraction),
            "worstCaseDomain": self.worst_case_domain,
            "services": {k: v.to_json() for k, v in sorted(self.services.items())},
        }


@dataclass(frozen=True)
class SolverInfo:
    status: str
    mip_gap: float
    seconds: float
    variables: int
    constraints: int

    def to_json(self, include_seconds: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "mipGap": fine(self.mip_gap)}
        if include_seconds:
            out["seconds"] = round(self.seconds, 3)
        out["variables"] = self.variables
        out["constraints"] = self.constraints
        return out


@dataclass(frozen=True)
class StabilityInfo:
    incumbent: str | None
    kept: bool
    savings_percent: float

    def to_json(self) -> dict[str, Any]:
        return {
            "incumbent": self.incumbent,
            "kept": self.kept,
            "savingsPercent": round(self.savings_percent, 2),
        }


@dataclass(frozen=True)
class Plan:
    catalog_snapshot: str
    catalog_sha256: str
    clusters: tuple[Cluster, ...]
    routing: dict[str, dict[str, float]]
    assignments: dict[str, tuple[Assignment, ...]]
    replication: Replication
    cost: Cost
    survivability: Survivability
    solver: SolverInfo
    stability: StabilityInfo

    def to_json(self, include_seconds: bool = True) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "catalog": {"snapshot": self.catalog_snapshot, "sha256": self.catalog_sha256},
            "clusters": [
                c.to_json() for c in sorted(self.clusters, key=lambda c: (c.cloud, c.region))
            ],
            "routing": {
                s: {r: fine(w) for r, w in sorted(weights.items())}
                for s, weights in sorted(self.routing.items())
            },
            "assignments": {
                s: [a.to_json() for a in sorted(items, key=lambda a: (a.geo, a.region))]
                for s, items in sorted(self.assignments.items())
            },
            "replication": self.replication.to_json(),
            "cost": self.cost.to_json(),
            "survivability": self.survivability.to_json(),
            "solver": self.solver.to_json(include_seconds),
            "stability": self.stability.to_json(),
        }

    def dumps(self, include_seconds: bool = True) -> str:
        return json.dumps(self.to_json(include_seconds), indent=2) + "\n"


def load_plan_file(path: str | Path, label: str | None = None) -> dict[str, Any]:
    """Read a plan document (a lock or an incumbent); raises `InputError` naming the file.

    `label` is how the file is named in problems (default: the path as given).
    """
    p = Path(path)
    shown = label if label is not None else str(p)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError([Problem(shown, "file not found")]) from None
    except json.JSONDecodeError as e:
        raise InputError([Problem(f"{shown}:{e.lineno}", f"not valid JSON: {e.msg}")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("clusters"), list):
        raise InputError([Problem(shown, "is not a tricloud plan (no clusters list)")])
    return doc


def pools(plan_json: dict[str, Any] | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """From a plan document: (region key, instance type, pricing) -> the node pool's JSON."""
    return {
        (f"{c['cloud']}/{c['region']}", p["instanceType"], p["pricing"]): p
        for c in (plan_json or {}).get("clusters", [])
        for p in c.get("nodePools", [])
    }


def pool_replicas(plan_json: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, int]]:
    """From a plan document: (region key, instance type, pricing) -> replicas per service."""
    return {key: dict(p.get("replicas", {})) for key, p in pools(plan_json).items()}


def pool_nodes(plan_json: dict[str, Any]) -> dict[tuple[str, str, str], int]:
    """From a plan document: (region key, instance type, pricing) -> planned nodes."""
    return {key: int(p["nodes"]) for key, p in pools(plan_json).items()}
