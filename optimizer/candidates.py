"""Stage 1 of a solve: enumerate the options a service can use, filter, prune.

An *option* is one integer variable of the MILP: nodes of one offering (cloud, region,
instance type) at one pricing (on-demand or spot) carrying replicas of one service.
A *route* is one continuous variable: rps of one service from one user geo to one region.

Filters (each recorded so `explain` can say why an offering is absent): cloud not in the
stack's clouds, residency, accelerator not listed by the service, replica does not fit,
spot not offered or not allowed, a zero quota. Routes exist only within the latency SLO.

Pruning keeps the optimum exact: an option is dropped only when another option in the
same region and pricing is at least as good in every respect the model sees (price,
capacity, replicas per node, quota use) — any plan using the dropped one can swap it
node for node without losing feasibility or paying more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .catalog import Catalog, Offering
from .geo import rtt_ms
from .scenario import Scenario, region_allowed

PRICINGS = ("on-demand", "spot")

# Constraint families that can be relaxed by name (explain, infeasibility diagnosis).
RELAXABLE = (
    "latency",
    "residency",
    "survivability",
    "spread",
    "spot-share",
    "quota",
    "budget",
    "max-clusters",
    "min-replicas",
)


@dataclass(frozen=True)
class Option:
    service: int
    offering: Offering
    pricing: str
    replicas_per_node: int
    capacity_rps: float  # per node
    price_hr: float
    quota_key: str  # "cloud/region/ACC"

    @property
    def region(self) -> str:
        return self.offering.region_key

    def domain(self, level: str) -> str:
        """The failure domain this option's nodes belong to: its region, or its cloud."""
        return self.offering.cloud if level == "cloud" else self.region

    @property
    def pool_key(self) -> tuple[str, str, str]:
        return (self.region, self.offering.instance_type, self.pricing)


@dataclass(frozen=True)
class Route:
    service: int
    geo: str
    region: str
    rtt_ms: float


@dataclass
class Candidates:
    scenario: Scenario
    catalog: Catalog
    relaxed: frozenset[str]
    options: list[Option]
    routes: list[Route]
    regions: list[str]  # regions holding at least one option, sorted
    # (service index, offering) -> why it is not an option, for explain
    excluded: dict[tuple[int, str], str] = field(default_factory=dict)
    pruned: int = 0


def quota_key(o: Offering) -> str:
    return f"{o.cloud}/{o.region}/{o.accelerator}"


def enumerate_candidates(
    scenario: Scenario,
    catalog: Catalog,
    relaxed: frozenset[str] = frozenset(),
    keep: frozenset[tuple[int, tuple[str, str, str]]] = frozenset(),
) -> Candidates:
    """All options and routes of a scenario; `keep` lists (service, pool) never pruned."""
    pl = scenario.placement
    quotas = {} if "quota" in relaxed else pl.quotas_gpu
    allow_spot = pl.max_spot_fraction > 0 or "spot-share" in relaxed
    options: list[Option] = []
    excluded: dict[tuple[int, str], str] = {}
    for s, svc in enumerate(scenario.services):
        for o in catalog.offerings:
            ident = f"{o.region_key}/{o.instance_type}"
            if o.cloud not in scenario.clouds:
                excluded[(s, ident)] = "cloud not in the stack's clouds"
                continue
            if o.accelerator not in svc.throughput_rps:
                continue  # not a candidate at all: the service does not list it
            gpr = svc.gpus_per_replica(o.accelerator)
            rpn = o.accelerator_count // gpr
            if rpn == 0:
                excluded[(s, ident)] = (
                    f"a replica needs {gpr} x {o.accelerator}, the node has {o.accelerator_count}"
                )
                continue
            if "residency" not in relaxed and not (
                region_allowed(o.region_key, pl.allowed_regions)
                and region_allowed(o.region_key, svc.allowed_regions)
            ):
                excluded[(s, ident)] = "residency (allowedRegions)"
                continue
            if quotas.get(quota_key(o)) == 0:
                excluded[(s, ident)] = f"quota {quota_key(o)} is 0"
                continue
            cap = rpn * svc.throughput_rps[o.accelerator]
            for pricing in PRICINGS:
                if pricing == "spot" and (o.price_spot is None or not allow_spot):
                    continue
                options.append(Option(s, o, pricing, rpn, cap, o.price(pricing), quota_key(o)))
    options, pruned = _prune_dominated(options, scenario, quotas, keep)
    regions = sorted({opt.region for opt in options})
    routes: list[Route] = []
    for s, svc in enumerate(scenario.services):
        service_regions = sorted({opt.region for opt in options if opt.service == s})
        for geo in svc.demand_rps:
            for r in service_regions:
                rtt = rtt_ms(geo, catalog.regions[r], catalog.latency)
                if "latency" in relaxed or rtt <= svc.latency_slo_ms:
                    routes.append(Route(s, geo, r, rtt))
    return Candidates(scenario, catalog, relaxed, options, routes, regions, excluded, pruned)


def restrict(cands: Candidates, regions: set[str]) -> Candidates:
    """The same candidates limited to `regions` (a heuristic restriction: see solve)."""
    options = [o for o in cands.options if o.region in regions]
    routes = [r for r in cands.routes if r.region in regions]
    return replace(
        cands, options=options, routes=routes, regions=sorted({o.region for o in options})
    )


def _prune_dominated(options, scenario: Scenario, quotas, keep):
    """Drop options dominated by another in the same (service, region, pricing)."""
    spot_capped = scenario.placement.max_spot_fraction < 1.0
    groups: dict[tuple, list[Option]] = {}
    for opt in options:
        groups.setdefault((opt.service, opt.region, opt.pricing), []).append(opt)

    def dominates(a: Option, b: Option) -> bool:
        if a.price_hr > b.price_hr or a.capacity_rps < b.capacity_rps:
            return False
        if a.replicas_per_node < b.replicas_per_node:
            return False
        # More spot capacity per node can break the spot-share cap: only equal swaps.
        if b.pricing == "spot" and spot_capped and a.capacity_rps != b.capacity_rps:
            return False
        if a.quota_key in quotas and not (
            a.quota_key == b.quota_key
            and a.offering.accelerator_count <= b.offering.accelerator_count
        ):
            return False
        return True

    kept: list[Option] = []
    pruned = 0
    for group in groups.values():
        # Deterministic order: cheapest first, ties by instance type, so of two identical
        # options the first one survives.
        group.sort(key=lambda o: (o.price_hr, -o.capacity_rps, o.offering.instance_type))
        survivors: list[Option] = []
        for b in group:
            if (b.service, b.pool_key) not in keep and any(dominates(a, b) for a in survivors):
                pruned += 1
                continue
            survivors.append(b)
        kept.extend(survivors)
    kept.sort(key=lambda o: (o.service, o.region, o.offering.instance_type, o.pricing))
    return kept, pruned


def structural_bounds(cands: Candidates, incumbent_nodes: dict[int, int]) -> list[int]:
    """Per option, a node count that some optimal plan never exceeds.

    Argument (checked against brute force in the tests): in an optimal plan with the fewest
    nodes, removing one node of an option is feasible and no more expensive once that option
    alone carries the service's whole demand (and, for spot, its survival share; for
    on-demand, enough to cover the largest spot fleet under the spot cap) — so no option
    exceeds these counts, nor the incumbent's count (the migration term could keep those).
    """
    sc = cands.scenario
    pl = sc.placement
    sigma = pl.spot_survival_factor
    phi = pl.max_spot_fraction if "spot-share" not in cands.relaxed else 1.0
    bounds = [0] * len(cands.options)
    spot_max: dict[int, float] = {}
    for i, opt in enumerate(cands.options):
        svc = sc.services[opt.service]
        need = max(
            math.ceil(svc.total_demand / opt.capacity_rps - 1e-9),
            math.ceil(svc.min_replicas / opt.replicas_per_node),
        )
        if opt.pricing == "spot":
            if sigma > 0 and sc.placement.survive != "none":
                need = max(need, math.ceil(svc.total_demand / (sigma * opt.capacity_rps) - 1e-9))
            bounds[i] = max(need, incumbent_nodes.get(i, 0), 1)
            spot_max[opt.service] = spot_max.get(opt.service, 0.0) + bounds[i] * opt.capacity_rps
    for i, opt in enumerate(cands.options):
        if opt.pricing != "on-demand":
            continue
        svc = sc.services[opt.service]
        carry = svc.total_demand
        if 0 < phi < 1 and spot_max.get(opt.service):
            carry = max(carry, spot_max[opt.service] * (1 - phi) / phi)
        need = max(
            math.ceil(carry / opt.capacity_rps - 1e-9),
            math.ceil(svc.min_replicas / opt.replicas_per_node),
        )
        bounds[i] = max(need, incumbent_nodes.get(i, 0), 1)
    quotas = {} if "quota" in cands.relaxed else pl.quotas_gpu
    for i, opt in enumerate(cands.options):
        if opt.quota_key in quotas:
            bounds[i] = min(bounds[i], quotas[opt.quota_key] // opt.offering.accelerator_count)
    return bounds
