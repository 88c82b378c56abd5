"""Survivability by re-routing: what a service needs to survive the loss of a failure domain.

A service survives losing a domain (a region, or a cloud for `survive: cloud`) when every
geo's demand can be routed to the capacity left outside it, each geo only to regions within
the service's failover SLO (`failoverLatencySloMs`, default its `latencySloMs`), spot
capacity counted at `spotSurvivalFactor`. That is a transport problem with unbounded
routes, so by Hall's theorem it is feasible exactly when, for every set G of geos, the
surviving capacity in the regions G can reach covers G's demand.

`requirements` turns that into linear rows over weighted capacity per region, exact and
without flow variables: only the distinct neighbourhoods matter (a set S of regions needs
the demand of every geo whose whole neighbourhood lies in S), and only connected ones (a
union of two disjoint neighbourhoods is the sum of their rows). `report` measures a plan the
same way, by max-flow LPs, for the plan's survivability section.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from .candidates import Candidates

# More distinct connected neighbourhoods than this per service and the rows would dwarf the
# model; the model then states survival with one flow per lost domain instead.
MAX_NEIGHBOURHOODS = 2000


def survival_weight(pricing: str, spot_survival_factor: float) -> float:
    return 1.0 if pricing == "on-demand" else spot_survival_factor


def neighbourhoods(cands: Candidates, s: int) -> dict[str, frozenset[str]]:
    """geo -> regions (holding options of service s) within its failover SLO."""
    svc = cands.scenario.services[s]
    out: dict[str, set[str]] = {g: set() for g in svc.demand_rps}
    for r in cands.failover_routes:
        if r.service == s:
            out[r.geo].add(r.region)
    return {g: frozenset(v) for g, v in sorted(out.items())}


def closed_sets(cands: Candidates, s: int) -> dict[frozenset[str], float] | None:
    """Distinct connected unions of geo neighbourhoods -> the demand they must hold.

    None when there are more than MAX_NEIGHBOURHOODS of them."""
    svc = cands.scenario.services[s]
    neigh = neighbourhoods(cands, s)
    seen: set[frozenset[str]] = set()
    frontier = sorted(set(neigh.values()), key=sorted)
    seen.update(frontier)
    while frontier:
        grown = []
        for current in frontier:
            for n in neigh.values():
                if n & current and not n <= current:
                    union = current | n
                    if union not in seen:
                        seen.add(union)
                        grown.append(union)
                        if len(seen) > MAX_NEIGHBOURHOODS:
                            return None
        frontier = sorted(grown, key=sorted)
    return {
        regions: sum(svc.demand_rps[g] for g, n in neigh.items() if n <= regions)
        for regions in sorted(seen, key=sorted)
    }


def domains_of(cands: Candidates, s: int) -> dict[str, set[str]]:
    """Failure domain -> the regions of service s's options in it."""
    level = "cloud" if cands.scenario.placement.survive == "cloud" else "region"
    out: dict[str, set[str]] = {}
    for o in cands.options:
        if o.service == s:
            out.setdefault(o.domain(level), set()).add(o.region)
    return out


@dataclass(frozen=True)
class Requirement:
    """Surviving weighted capacity in `regions` must be >= `demand` (after losing `domain`)."""

    domain: str
    regions: tuple[str, ...]
    demand: float


def requirements(cands: Candidates, s: int) -> list[Requirement] | None:
    """The Hall rows of service s for every failure domain, deduplicated (largest demand per
    region set); None when the neighbourhoods are too many (see MAX_NEIGHBOURHOODS)."""
    sets = closed_sets(cands, s)
    if sets is None:
        return None
    best: dict[frozenset[str], tuple[float, str]] = {}
    for domain, inside in sorted(domains_of(cands, s).items()):
        for regions, demand in sets.items():
            if demand <= 0 or (not regions & inside and regions):
                continue  # a row for a domain it does not touch is implied by another
            left = regions - inside
            if left not in best or demand > best[left][0] + 1e-12:
                best[left] = (demand, domain)
    return [
        Requirement(domain, tuple(sorted(left)), demand)
        for left, (demand, domain) in sorted(best.items(), key=lambda kv: sorted(kv[0]))
    ]


# --- measuring a plan ------------------------------------------------------------------------


def _max_flow(
    demand: dict[str, float],
    capacity: dict[str, float],
    edges: list[tuple[str, str]],
    scale: bool,
) -> float:
    """Transport LP: max rps routed (scale=False) or the largest lambda such that lambda x
    every geo's demand is routed (scale=True), along `edges` (geo, region)."""
    geos = sorted(demand)
    regions = sorted(capacity)
    gi = {g: i for i, g in enumerate(geos)}
    ri = {r: len(geos) + i for i, r in enumerate(regions)}
    edges = [(g, r) for g, r in edges if g in gi and r in ri]
    n_cols = len(edges) + (1 if scale else 0)
    if not edges:
        return 0.0
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = len(geos) + len(regions)
    cost = np.zeros(n_cols)
    if scale:
        cost[-1] = -1.0
    else:
        cost[: len(edges)] = -1.0
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.full(n_cols, highspy.kHighsInf)
    if scale:
        lp.row_lower_ = np.array([0.0] * len(geos) + [-highspy.kHighsInf] * len(regions))
        lp.row_upper_ = np.array([0.0] * len(geos) + [capacity[r] for r in regions])
    else:
        lp.row_lower_ = np.array([-highspy.kHighsInf] * (len(geos) + len(regions)))
        lp.row_upper_ = np.array([demand[g] for g in geos] + [capacity[r] for r in regions])
    starts, index, value = [0], [], []
    for g, r in edges:
        index += [gi[g], ri[r]]
        value += [1.0, 1.0]
        starts.append(len(index))
    if scale:
        for g in geos:
            index.append(gi[g])
            value.append(-demand[g])
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = lp.num_row_
    from .solver import new_highs  # solver imports model, which imports this module

    h = new_highs()
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"max-flow LP: {h.modelStatusToString(h.getModelStatus())}")
    return -float(h.getInfo().objective_function_value)


@dataclass(frozen=True)
class ServiceSurvival:
    worst_domain: str | None
    served_fraction: float  # of the service's demand, after losing its worst domain
    worst_failover_rtt_ms: float | None  # the farthest route any loss needs, at best


def report(cands: Candidates, nodes: dict[int, int]) -> dict[str, ServiceSurvival]:
    """Per service: after losing each domain of the plan, the rps the surviving capacity can
    serve within the failover SLO (max-flow), the worst domain (least served; ties: least
    headroom, then name) and the smallest RTT limit that still serves what is served."""
    sc = cands.scenario
    level = "cloud" if sc.placement.survive == "cloud" else "region"
    sigma = sc.placement.spot_survival_factor
    domains = sorted({cands.options[i].domain(level) for i in nodes})
    out: dict[str, ServiceSurvival] = {}
    for s, svc in enumerate(sc.services):
        slo = svc.failover_slo_ms
        routes = [r for r in cands.routes_for_failover(s) if r.rtt_ms <= slo]
        capacity_in: dict[str, dict[str, float]] = {}
        for i, count in nodes.items():
            o = cands.options[i]
            if o.service == s:
                by_region = capacity_in.setdefault(o.domain(level), {})
                weight = survival_weight(o.pricing, sigma)
                by_region[o.region] = by_region.get(o.region, 0.0) + count * o.capacity_rps * weight
        worst: tuple[float, float, str] | None = None
        worst_rtt = None
        for d in domains:
            capacity = {
                r: c
                for other, regions in capacity_in.items()
                if other != d
                for r, c in regions.items()
            }
            edges = [(r.geo, r.region) for r in routes]
            served = min(1.0, _max_flow(svc.demand_rps, capacity, edges, False) / svc.total_demand)
            headroom = _max_flow(svc.demand_rps, capacity, edges, True)
            key = (served, headroom, d)
            if worst is None or key < worst:
                worst = key
            need = _bottleneck_rtt(svc.demand_rps, capacity, routes, served * svc.total_demand)
            if need is not None and (worst_rtt is None or need > worst_rtt):
                worst_rtt = need
        if worst is None:
            out[svc.name] = ServiceSurvival(None, 0.0, None)
        else:
            out[svc.name] = ServiceSurvival(worst[2], worst[0], worst_rtt)
    return out


def _bottleneck_rtt(demand, capacity, routes, served: float) -> float | None:
    """The smallest RTT limit t such that routes within t still carry `served` rps."""
    if served <= 1e-9:
        return None
    limits = sorted({r.rtt_ms for r in routes})
    lo, hi = 0, len(limits) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        edges = [(r.geo, r.region) for r in routes if r.rtt_ms <= limits[mid]]
        if _max_flow(demand, capacity, edges, False) >= served - 1e-6:
            hi = mid
        else:
            lo = mid + 1
    return limits[lo]
