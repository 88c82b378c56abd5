"""A greedy plan: the benchmark's baseline and the MIP's starting point.

"Cheapest cost per rps first, then patch": each geo's demand goes to the region whose
cheapest on-demand option costs least per rps; each loaded region gets the node count that
carries its load most cheaply; then nodes are added until min replicas, every failover
requirement (`failover.requirements`) and the cloud spread hold. Quotas are respected; budget and cluster caps are not (the MILP
checks the result and drops it if it breaks them).
"""

from __future__ import annotations

import math

from .candidates import Candidates
from .failover import requirements, survival_weight


def greedy_nodes(cands: Candidates) -> dict[int, int] | None:
    """Nodes per option index, or None when the greedy rules find no plan."""
    sc = cands.scenario
    pl = sc.placement
    quotas = {} if "quota" in cands.relaxed else pl.quotas_gpu
    gpus_used: dict[str, int] = {}
    nodes: dict[int, int] = {}

    def room(i: int, count: int) -> bool:
        o = cands.options[i]
        if o.quota_key not in quotas:
            return True
        used = gpus_used.get(o.quota_key, 0)
        return used + count * o.offering.accelerator_count <= quotas[o.quota_key]

    def add(i: int, count: int) -> None:
        o = cands.options[i]
        nodes[i] = nodes.get(i, 0) + count
        gpus_used[o.quota_key] = (
            gpus_used.get(o.quota_key, 0) + count * o.offering.accelerator_count
        )

    sigma = pl.spot_survival_factor
    for s, svc in enumerate(sc.services):
        mine = [
            i for i, o in enumerate(cands.options) if o.service == s and o.pricing == "on-demand"
        ]
        if not mine:
            return None
        by_region: dict[str, list[int]] = {}
        for i in mine:
            by_region.setdefault(cands.options[i].region, []).append(i)

        def per_rps(i: int) -> float:
            o = cands.options[i]
            return o.price_hr / o.capacity_rps

        # 1. demand, geo by geo, to the cheapest reachable region
        load: dict[str, float] = {}
        for geo in sorted(svc.demand_rps, key=lambda g: (-svc.demand_rps[g], g)):
            reachable = [r.region for r in cands.routes if r.service == s and r.geo == geo]
            if not reachable:
                return None
            best = min(reachable, key=lambda r: (min(per_rps(i) for i in by_region[r]), r))
            load[best] = load.get(best, 0.0) + svc.demand_rps[geo]
        for region in sorted(load):
            choices = [
                (math.ceil(load[region] / cands.options[i].capacity_rps - 1e-9), i)
                for i in by_region[region]
            ]
            choices = [(k, i) for k, i in choices if room(i, k)]
            if not choices:
                return None
            k, i = min(choices, key=lambda c: (c[0] * cands.options[c[1]].price_hr, c[1]))
            add(i, k)

        def mine_used(s: int = s) -> list[int]:
            return [i for i in nodes if cands.options[i].service == s]

        # 2. min replicas (those that can serve: not in failover-only regions)
        serving = [i for i in mine if not cands.failover_only(s, cands.options[i].region)]
        if "min-replicas" not in cands.relaxed:
            while (
                sum(
                    nodes[i] * cands.options[i].replicas_per_node
                    for i in mine_used()
                    if not cands.failover_only(s, cands.options[i].region)
                )
                < svc.min_replicas
            ):
                pool = [i for i in serving if room(i, 1)]
                if not pool:
                    return None
                add(
                    min(
                        pool,
                        key=lambda i: (
                            cands.options[i].price_hr / cands.options[i].replicas_per_node,
                            i,
                        ),
                    ),
                    1,
                )

        # 3. survivability: while some failover requirement (a set of regions that must hold
        # a geo group's demand after a loss) falls short, add the cheapest node inside it
        if pl.survive != "none" and "survivability" not in cands.relaxed:
            reqs = requirements(cands, s)
            if reqs is None:
                return None
            for _ in range(10_000):
                weighted: dict[str, float] = {}
                for i in mine_used():
                    o = cands.options[i]
                    weight = survival_weight(o.pricing, sigma)
                    weighted[o.region] = (
                        weighted.get(o.region, 0.0) + nodes[i] * o.capacity_rps * weight
                    )
                short = [
                    (req.demand - sum(weighted.get(r, 0.0) for r in req.regions), k)
                    for k, req in enumerate(reqs)
                ]
                deficit, k = max(short, default=(0.0, -1))
                if deficit <= 1e-9:
                    break
                inside = set(reqs[k].regions)
                pool = [i for i in mine if cands.options[i].region in inside and room(i, 1)]
                if not pool:
                    return None
                add(min(pool, key=lambda i: (per_rps(i), i)), 1)
            else:
                return None

        # 4. spread over minClouds clouds
        if pl.min_clouds > 1 and "spread" not in cands.relaxed:
            while len({cands.options[i].offering.cloud for i in mine_used()}) < pl.min_clouds:
                used = {cands.options[i].offering.cloud for i in mine_used()}
                pool = [
                    i for i in mine if cands.options[i].offering.cloud not in used and room(i, 1)
                ]
                if not pool:
                    return None
                add(min(pool, key=lambda i: (cands.options[i].price_hr, i)), 1)
    return nodes
