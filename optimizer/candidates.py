"""Stage 1 of a solve: enumerate the options a service can use, filter, prune.

An *option* is one integer variable of the MILP: nodes of one offering (cloud, region,
instance type) at one pricing (on-demand or spot) carrying replicas of one service.
A *route* is one continuous variable: rps of one service from one user geo to one region.

Filters (each recorded so `explain` can say why an offering is absent): cloud not in the
stack's clouds, residency, accelerator not listed by the service, replica does not fit,
spot not offered or not allowed, a zero quota, a region that can serve no demand geo (none
within the service's latency SLO, nor, when survivability is asked for, within its failover
SLO). Routes exist only within the latency SLO; failover routes within the failover SLO.

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
    # routes within the failover SLO (survive: region/cloud), for the survivability rows
    failover_routes: list[Route] = field(default_factory=list)
    # (service, region) pairs within the latency SLO of some demand geo: capacity there can
    # serve in normal operation (minReplicas counts only these); the others are failover only
    serving: frozenset[tuple[int, str]] = frozenset()

    def failover_only(self, service: int, region: str) -> bool:
        return (service, region) not in self.serving

    def routes_for_failover(self, service: int) -> list[Route]:
        """Routes a service may use after a loss (survive: none has none of its own: then the
        normal routes, for the plan's report)."""
        source = self.failover_routes if self.scenario.placement.survive != "none" else []
        return [r for r in source or self.routes if r.service == service]


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
    failover = pl.survive != "none" and "survivability" not in relaxed
    rtts: dict[tuple[str, str], float] = {}

    def rtt(geo: str, region: str) -> float:
        if (geo, region) not in rtts:
            rtts[(geo, region)] = rtt_ms(geo, catalog.regions[region], catalog.latency)
        return rtts[(geo, region)]

    def reaches(svc, region: str, slo: float) -> bool:
        return "latency" in relaxed or any(rtt(g, region) <= slo for g in svc.demand_rps)

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
            if not reaches(svc, o.region_key, svc.latency_slo_ms) and not (
                failover and reaches(svc, o.region_key, svc.failover_slo_ms)
            ):
                slo = f"{svc.latency_slo_ms:g} ms" + (
                    f" (failover {svc.failover_slo_ms:g} ms)" if failover else ""
                )
                excluded[(s, ident)] = f"no demand geo within {slo}: it could serve no one"
                continue
            cap = rpn * svc.throughput_rps[o.accelerator]
            for pricing in PRICINGS:
                if pricing == "spot" and (o.price_spot is None or not allow_spot):
                    continue
                options.append(Option(s, o, pricing, rpn, cap, o.price(pricing), quota_key(o)))
    options, pruned = _prune_dominated(options, scenario, quotas, keep)
    regions = sorted({opt.region for opt in options})
    routes: list[Route] = []
    failover_routes: list[Route] = []
    for s, svc in enumerate(scenario.services):
        service_regions = sorted({opt.region for opt in options if opt.service == s})
        for geo in svc.demand_rps:
            for r in service_regions:
                t = rtt(geo, r)
                if "latency" in relaxed or t <= svc.latency_slo_ms:
                    routes.append(Route(s, geo, r, t))
                if failover and ("latency" in relaxed or t <= svc.failover_slo_ms):
                    failover_routes.append(Route(s, geo, r, t))
    serving = frozenset((r.service, r.region) for r in routes)
    return Candidates(
        scenario,
        catalog,
        relaxed,
        options,
        routes,
        regions,
        excluded,
        pruned,
        failover_routes,
        serving,
    )


def restrict(cands: Candidates, regions: set[str]) -> Candidates:
    """The same candidates limited to `regions` (a heuristic restriction: see solve)."""
    options = [o for o in cands.options if o.region in regions]
    routes = [r for r in cands.routes if r.region in regions]
    failover_routes = [r for r in cands.failover_routes if r.region in regions]
    return replace(
        cands,
        options=options,
        routes=routes,
        failover_routes=failover_routes,
        regions=sorted({o.region for o in options}),
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

    Take an optimal plan and an option holding more nodes than its bound; removing one of
    its nodes is feasible and cheaper (prices > 0), a contradiction. It is feasible because
    the option alone still carries the service's whole demand: every route into its region
    and every failover requirement containing the region stay met (spot: at its survival
    weight), as do min replicas; the option keeps a node, so clusters, spread and
    replication are unchanged; quotas, the cluster cap and the budget only get slacker; the
    bound is at least the incumbent's count (the migration term could keep those).

    On-demand nodes also back spot under the spot cap: removing one can break it only when
    the spot capacity exceeds phi / (1 - phi) x the on-demand capacity left, so the bound
    covers the most spot capacity an optimal plan can hold. When spot counts for nothing in
    a failure (spotSurvivalFactor 0, or survive: none), every spot node of an optimal plan
    is there for one of: the routing (its region's capacity less the node falls short of
    what the plan routes there; over the regions this is at most the demand plus one node
    per region), min replicas (all replicas then number fewer than minReplicas plus one
    node's), a last node whose removal changes spread or the primary (one per cloud plus
    one), or the incumbent (migration). Otherwise every spot option may be full (the sum of
    their bounds). tests/test_solver_guarantees.py checks the bounds against enumeration.
    """
    sc = cands.scenario
    pl = sc.placement
    sigma = pl.spot_survival_factor
    phi = pl.max_spot_fraction if "spot-share" not in cands.relaxed else 1.0
    spot_survives = sigma > 0 and pl.survive != "none" and "survivability" not in cands.relaxed
    bounds = [0] * len(cands.options)
    spot_sum: dict[int, float] = {}
    spot_needed: dict[int, float] = {}
    per_region: dict[tuple[int, str], float] = {}
    largest: dict[int, tuple[float, int, float]] = {}  # capacity, replicas, rps per replica
    for i, opt in enumerate(cands.options):
        svc = sc.services[opt.service]
        need = max(
            math.ceil(svc.total_demand / opt.capacity_rps - 1e-9),
            math.ceil(svc.min_replicas / opt.replicas_per_node),
        )
        if opt.pricing == "spot":
            if spot_survives:
                need = max(need, math.ceil(svc.total_demand / (sigma * opt.capacity_rps) - 1e-9))
            bounds[i] = max(need, incumbent_nodes.get(i, 0), 1)
            s = opt.service
            spot_sum[s] = spot_sum.get(s, 0.0) + bounds[i] * opt.capacity_rps
            spot_needed[s] = spot_needed.get(s, 0.0) + incumbent_nodes.get(i, 0) * opt.capacity_rps
            if not cands.failover_only(s, opt.region):
                key = (s, opt.region)
                per_region[key] = max(per_region.get(key, 0.0), opt.capacity_rps)
            cap, rpn, per = largest.get(s, (0.0, 0, 0.0))
            largest[s] = (
                max(cap, opt.capacity_rps),
                max(rpn, opt.replicas_per_node),
                max(per, opt.capacity_rps / opt.replicas_per_node),
            )
    spot_max = dict(spot_sum)
    if not spot_survives:
        for s, (cap, rpn, per) in largest.items():
            svc = sc.services[s]
            routing = svc.total_demand + sum(c for (s2, _), c in per_region.items() if s2 == s)
            last_nodes = (len(sc.clouds) + 1) * cap
            replicas = (svc.min_replicas + rpn) * per
            spot_max[s] = min(spot_sum[s], routing + last_nodes + replicas + spot_needed[s])
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
