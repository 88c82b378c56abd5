"""Why this plan: cost breakdown, rejected alternatives, the price of each guarantee, and,
for a scenario with no plan, which constraint families conflict (design 6.6).

Every figure here comes from an extra solve of the same model with one family relaxed by
name (`candidates.RELAXABLE`), never from a guess.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .candidates import enumerate_candidates, quota_key
from .catalog import Catalog
from .errors import Problem
from .geo import rtt_ms
from .model import monthly
from .plan import Plan
from .scenario import Scenario, region_allowed

# Guarantees whose price `explain` reports, with what relaxing each one means.
GUARANTEES = {
    "survivability": "survive the loss of any {survive}",
    "spread": "run every service on >= {min_clouds} clouds",
    "latency": "meet each service's latency SLO",
    "residency": "keep services in their allowed regions",
    "spot-share": "cap spot at {max_spot_fraction:.0%} of capacity",
}


def active_families(sc: Scenario, catalog: Catalog | None = None) -> list[str]:
    """Families that constrain this scenario (relaxing the others changes nothing), in the
    order a fix is usually made: money and quotas first, guarantees last."""
    pl = sc.placement
    out = []
    if pl.monthly_budget_usd is not None:
        out.append("budget")
    if pl.quotas_gpu:
        out.append("quota")
    if pl.max_clusters is not None:
        out.append("max-clusters")
    if pl.allowed_regions or any(s.allowed_regions for s in sc.services):
        out.append("residency")
    out.append("latency")
    if pl.survive != "none":
        out.append("survivability")
    if pl.min_clouds > 1:
        out.append("spread")
    if any(s.min_replicas > 1 for s in sc.services):
        out.append("min-replicas")
    spot_offered = catalog is None or any(o.price_spot is not None for o in catalog.offerings)
    if pl.max_spot_fraction < 1 and spot_offered:
        out.append("spot-share")
    return out


def family_keys(sc: Scenario, family: str, prefix: str = "") -> str:
    """The config key(s) a family comes from, as a user would edit them."""
    pl = sc.placement
    services = lambda attr: ", ".join(  # noqa: E731
        f"{prefix}services[{i}].{attr}" for i, _ in enumerate(sc.services)
    )
    if family == "latency":
        return services("latencySloMs")
    if family == "residency":
        keys = [f"{prefix}placement.allowedRegions"] if pl.allowed_regions else []
        keys += [
            f"{prefix}services[{i}].allowedRegions"
            for i, s in enumerate(sc.services)
            if s.allowed_regions
        ]
        return ", ".join(keys)
    if family == "min-replicas":
        return services("minReplicas")
    return (
        prefix
        + {
            "survivability": "placement.survive",
            "spread": "placement.minClouds",
            "spot-share": "placement.maxSpotFraction",
            "quota": "placement.quotasGpu",
            "budget": "placement.monthlyBudgetUsd",
            "max-clusters": "placement.maxClusters",
        }[family]
    )


def _feasible(sc: Scenario, catalog: Catalog, relaxed: frozenset[str]) -> bool:
    from .solve import Infeasible, optimise

    try:
        optimise(sc, catalog, None, relaxed, gap=1.0)  # any feasible plan answers the question
    except Infeasible:
        return False
    return True


def _cost(sc: Scenario, catalog: Catalog, relaxed: frozenset[str]) -> float | None:
    from .solve import Infeasible, optimise, to_plan

    try:
        out = optimise(sc, catalog, None, relaxed)
    except Infeasible:
        return None
    return to_plan(out, 0.0, None).cost.billed


def _unreachable(sc: Scenario, catalog: Catalog, prefix: str) -> list[Problem]:
    """Geos no allowed region can serve within the SLO: named precisely, without a solve."""
    problems = []
    cands = enumerate_candidates(sc, catalog)
    relaxed = enumerate_candidates(sc, catalog, frozenset({"residency"}))
    for s, svc in enumerate(sc.services):
        for geo in svc.demand_rps:
            if any(r.service == s and r.geo == geo for r in cands.routes):
                continue
            served = sorted({o.region for o in cands.options if o.service == s})
            if served:
                near = min(served, key=lambda r: rtt_ms(geo, catalog.regions[r], catalog.latency))
                hint = (
                    f"; nearest allowed region with a node for it, {near}, is "
                    f"{rtt_ms(geo, catalog.regions[near], catalog.latency):.0f} ms away"
                )
            else:
                hint = (
                    f"; no allowed region offers a node for its accelerators "
                    f"({', '.join(sorted(svc.throughput_rps))})"
                )
            blocked = sorted(
                {
                    r.region: r.rtt_ms for r in relaxed.routes if r.service == s and r.geo == geo
                }.items(),
                key=lambda kv: kv[1],
            )
            if blocked:
                hint += (
                    f"; {', '.join(r for r, _ in blocked[:3])} would be within the SLO "
                    "but residency excludes them"
                )
            problems.append(
                Problem(
                    f"{prefix}services[{s}].latencySloMs",
                    f"no allowed region serves geo {geo} within {svc.latency_slo_ms:g} ms{hint}",
                )
            )
    return problems


def diagnose_infeasible(sc: Scenario, catalog: Catalog, prefix: str = "") -> list[Problem]:
    """Name the constraint families that make a scenario infeasible.

    Families are dropped one at a time; every single family whose removal makes a plan
    possible is reported (each is a way out). If none is, the smallest combinations are.
    A budget in the conflict comes with the minimum achievable cost.
    """
    quick = _unreachable(sc, catalog, prefix)
    families = active_families(sc, catalog)
    for size in (1, 2, 3):
        fixes = [
            combo
            for combo in itertools.combinations(families, size)
            if _feasible(sc, catalog, frozenset(combo))
        ]
        if not fixes:
            continue
        out = list(quick)
        for combo in fixes[:3]:
            for problem in _describe(sc, catalog, combo, prefix):
                # The quick check already named the geos no region reaches within the SLO.
                if quick and combo == ("latency",):
                    continue
                if problem not in out:
                    out.append(problem)
        return out
    if quick:
        return quick
    return [
        Problem(
            f"{prefix}placement",
            "no plan exists even with any three constraint families "
            f"relaxed (tried: {', '.join(families)})",
        )
    ]


def _describe(sc: Scenario, catalog: Catalog, combo: tuple[str, ...], prefix: str) -> list[Problem]:
    out = []
    for family in combo:
        others = [c for c in combo if c != family]
        also = f" together with {', '.join(others)}" if others else ""
        if family == "budget":
            cost = _cost(sc, catalog, frozenset(combo))
            detail = (
                f"{sc.placement.monthly_budget_usd:,.2f} USD/month is below the minimum "
                f"achievable cost {cost:,.2f} USD/month"
            )
            if others:
                detail += f" (with {', '.join(others)} also relaxed)"
            out.append(Problem(family_keys(sc, family, prefix), detail))
            continue
        what = {
            "latency": "no plan meets the latency SLOs",
            "residency": "the allowed regions cannot hold a plan",
            "survivability": f"survive: {sc.placement.survive} cannot be met",
            "spread": f"minClouds: {sc.placement.min_clouds} cannot be met",
            "spot-share": f"maxSpotFraction: {sc.placement.max_spot_fraction:g} leaves too little capacity",
            "quota": "the GPU quotas leave too little capacity",
            "max-clusters": f"maxClusters: {sc.placement.max_clusters} is too few clusters",
            "min-replicas": "the minimum replica counts cannot be met",
        }[family]
        out.append(
            Problem(
                family_keys(sc, family, prefix), f"{what}; relaxing it{also} makes a plan possible"
            )
        )
    return out


@dataclass(frozen=True)
class GuaranteePrice:
    family: str
    description: str
    monthly_usd_saved: float | None  # None: still infeasible when relaxed (cannot happen) or n/a


def price_of_guarantees(
    sc: Scenario, catalog: Catalog, plan: Plan, progress=None
) -> list[GuaranteePrice]:
    """Monthly cost saved if each active guarantee alone were dropped (one solve each).
    `progress(index, total, family)` is called before each solve and once after the last."""
    out = []
    active = set(active_families(sc, catalog))
    todo = [f for f in GUARANTEES if f in active]
    for i, family in enumerate(todo):
        text = GUARANTEES[family]
        if progress is not None:
            progress(i, len(todo), family)
        cost = _cost(sc, catalog, frozenset({family}))
        saved = None if cost is None else max(0.0, plan.cost.billed - cost)
        out.append(
            GuaranteePrice(
                family,
                text.format(
                    survive=sc.placement.survive,
                    min_clouds=sc.placement.min_clouds,
                    max_spot_fraction=sc.placement.max_spot_fraction,
                ),
                saved,
            )
        )
    if progress is not None and todo:
        progress(len(todo), len(todo), "")
    return out


def rejected_alternatives(sc: Scenario, catalog: Catalog, plan: Plan) -> dict[str, str]:
    """Per service: the cheapest offering per rps (on-demand) it does not use, and why."""
    cands = enumerate_candidates(sc, catalog)
    gpus_used: dict[str, int] = {}
    for c in plan.clusters:
        for p in c.node_pools:
            key = f"{c.key}/{p.accelerator}"
            gpus_used[key] = gpus_used.get(key, 0) + p.nodes * p.accelerator_count
    out = {}
    for s, svc in enumerate(sc.services):
        pools = [(c, p) for c in plan.clusters for p in c.node_pools if svc.name in p.replicas]
        used = {(c.key, p.instance_type) for c, p in pools}
        # On-demand against on-demand: the alternatives are priced on demand too.
        own = [
            p.hourly_usd * p.nodes / (p.replicas[svc.name] * svc.throughput_rps[p.accelerator])
            for _, p in pools
            if p.pricing == "on-demand"
        ]
        best = None
        for o in catalog.offerings:
            if o.accelerator not in svc.throughput_rps or (o.region_key, o.instance_type) in used:
                continue
            rpn = o.accelerator_count // svc.gpus_per_replica(o.accelerator)
            if rpn == 0:
                continue
            per_rps = o.price_on_demand / (rpn * svc.throughput_rps[o.accelerator])
            if best is None or (per_rps, o.region_key, o.instance_type) < best[0]:
                best = ((per_rps, o.region_key, o.instance_type), o)
        if best is None:
            continue
        per_rps, o = best[0][0], best[1]
        key = quota_key(o)
        quota = sc.placement.quotas_gpu.get(key)
        if o.cloud not in sc.clouds:
            reason = "cloud: not in the stack's clouds"
        elif not (
            region_allowed(o.region_key, sc.placement.allowed_regions)
            and region_allowed(o.region_key, svc.allowed_regions)
        ):
            reason = "residency: region not in allowedRegions"
        elif quota is not None and gpus_used.get(key, 0) + o.accelerator_count > quota:
            reason = f"quota: {key} has {quota - gpus_used.get(key, 0)} of {quota} GPUs left"
        elif not any(r.service == s and r.region == o.region_key for r in cands.routes):
            usable = any(c.region == o.region_key for c in cands.options if c.service == s)
            reason = f"latency: no demand geo within {svc.latency_slo_ms:g} ms " + (
                "(usable only as failover capacity)" if usable else "(it could serve no one)"
            )
        elif own and per_rps >= min(own):
            reason = (
                f"price: the plan's cheapest on-demand pool for it costs {monthly(min(own)):,.2f}"
            )
        else:
            reason = (
                "whole nodes: cheaper per rps, but dearer in whole nodes once "
                "survivability, spread and cluster fees are counted"
            )
        out[svc.name] = (
            f"{o.region_key}/{o.instance_type} at {monthly(per_rps):,.2f} USD per rps-month ({reason})"
        )
    return out


def failover_only_capacity(sc: Scenario, catalog: Catalog, plan: Plan) -> dict[str, list[str]]:
    """Per service, the plan's pools holding its replicas in regions no demand geo reaches
    within its latency SLO: capacity placed only to be re-routed to after a loss."""
    out: dict[str, list[str]] = {}
    for svc in sc.services:
        for c in sorted(plan.clusters, key=lambda c: c.key):
            region = catalog.regions[c.key]
            if any(
                rtt_ms(g, region, catalog.latency) <= svc.latency_slo_ms for g in svc.demand_rps
            ):
                continue
            for p in sorted(c.node_pools, key=lambda p: (p.instance_type, p.pricing)):
                if svc.name in p.replicas:
                    nearest = min(rtt_ms(g, region, catalog.latency) for g in svc.demand_rps)
                    out.setdefault(svc.name, []).append(
                        f"{c.key}/{p.instance_type} {p.pricing}: {p.replicas[svc.name]} replicas, "
                        f"nearest geo {nearest:.0f} ms (SLO {svc.latency_slo_ms:g} ms, "
                        f"failover {svc.failover_slo_ms:g} ms)"
                    )
    return out
