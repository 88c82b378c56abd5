"""Solve a scenario: candidates -> start -> MILP -> stability -> routing -> plan.

Stages (each testable alone): `candidates` enumerates and prunes options; very large
scenarios are screened to the regions the LP relaxation uses (`_screen`); a start is the
better of the greedy plan and the rounded-up LP relaxation, improved by dropping nodes while
it stays feasible (`_descend`); `model` builds the MILP, `solver` runs HiGHS; with an
incumbent, stability decides between it and the optimum (design 6.5); `routing` routes demand
to the chosen capacity, nearest first; `to_plan` writes the plan.

All the speed-ups keep the optimum exact: dominance pruning, structural node bounds, and
bounds from the start's cost (no option can hold more nodes than a known plan's whole cost
buys), which also tighten every n <= M y row. Termination: proven relative gap
`placement.mipGap` or node limit `solverNodeLimit`, single thread, fixed seed; the time limit
is a safety net and reported as such.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from . import failover
from . import replication as repl
from .candidates import Candidates, enumerate_candidates, restrict, structural_bounds
from .catalog import Catalog
from .errors import InputError, Problem
from .greedy import greedy_nodes
from .model import (
    Incumbent,
    Model,
    build,
    cluster_fee,
    monthly,
    replication_volume,
)
from .plan import (
    Assignment,
    Cluster,
    Cost,
    NodePool,
    Plan,
    ReplicationTarget,
    ServiceSurvivability,
    SolverInfo,
    StabilityInfo,
    Survivability,
    pool_nodes,
    pool_replicas,
)
from .plan import Replication as ReplicationPlan
from .routing import route
from .scenario import Scenario
from .solver import OPTIMAL_GAP, Result, Solver, auto_node_limit


class Infeasible(InputError):
    """No plan meets every constraint; `problems` carry the diagnosis (design 6.6)."""


@dataclass
class Outcome:
    """Everything one optimisation produced, for the plan and for explain."""

    cands: Candidates
    model: Model
    result: Result
    nodes: dict[int, int]
    routes: np.ndarray  # rps per route
    primary: str | None
    greedy_cost: float | None
    incumbent_cost: float | None
    kept: bool
    savings_percent: float


def _incumbent(cands: Candidates, incumbent: dict | None) -> tuple[Incumbent | None, bool]:
    """Map an incumbent plan onto this solve's options; False when it cannot be re-used."""
    if incumbent is None:
        return None, False
    names = {svc.name: s for s, svc in enumerate(cands.scenario.services)}
    by_key = {(o.service, o.pool_key): i for i, o in enumerate(cands.options)}
    nodes: dict[int, int] = {}
    usable = True
    for pool, replicas in pool_replicas(incumbent).items():
        for name, count in replicas.items():
            s = names.get(name)
            i = by_key.get((s, pool)) if s is not None else None
            if i is None:
                usable = False  # a service or offering that is gone or no longer allowed
                continue
            nodes[i] = nodes.get(i, 0) + math.ceil(count / cands.options[i].replicas_per_node)
    return Incumbent(nodes, pool_nodes(incumbent)), usable


def keep_set(scenario: Scenario, incumbent: dict | None) -> frozenset:
    if incumbent is None:
        return frozenset()
    names = {svc.name: s for s, svc in enumerate(scenario.services)}
    return frozenset(
        (names[name], pool)
        for pool, replicas in pool_replicas(incumbent).items()
        for name in replicas
        if name in names
    )


def billed_and_latency(model: Model, values: np.ndarray) -> float:
    """Monthly run cost of a solution: billed money plus the latency preference."""
    sc = model.cands.scenario
    billed = sum(c.billed * values[j] for j, c in enumerate(model.columns) if c.billed)
    weight = sc.placement.latency_weight_usd_per_ms
    latency = weight * sum(
        r.rtt_ms * values[col] for r, col in zip(model.cands.routes, model.x, strict=False)
    )
    return float(billed + latency)


def _evaluate(solver: Solver, nodes: dict[int, int]) -> Result:
    """Complete a fixed node assignment (routing, clusters, primary) and price it."""
    model = solver.model
    cols = list(model.n)
    solver.fix(cols, [float(nodes.get(i, 0)) for i in range(len(cols))])
    try:
        return solver.run()
    finally:
        solver.release(cols)


# Above this many options the full MILP's root (HiGHS's cut loop, which does not check the
# time limit) takes minutes; such scenarios are screened first (see `_screen`).
SCREEN_ABOVE_OPTIONS = 1000
SCREEN_NODE_LIMIT = 200
DESCENT_STEPS = 200


def optimise(
    scenario: Scenario,
    catalog: Catalog,
    incumbent: dict | None = None,
    relaxed: frozenset[str] = frozenset(),
    *,
    gap: float | None = None,
) -> Outcome:
    """Run the MILP; raises `Infeasible` (without diagnosis) when no plan exists."""
    pl = scenario.placement
    cands = enumerate_candidates(scenario, catalog, relaxed, keep_set(scenario, incumbent))
    # The safety net bounds the whole search (screening, start, descent, MILP) from here.
    deadline = Solver.clock() + pl.solver_time_limit_seconds
    full_bound = None
    if len(cands.options) > SCREEN_ABOVE_OPTIONS:
        cands, full_bound = _screen(cands, incumbent, deadline)
    inc, inc_usable = _incumbent(cands, incumbent)
    # Against an incumbent, migration can make keeping nodes cheaper than removing them, so
    # no option is bounded below its pool's deployed node count.
    held = (
        {
            i: max(inc.nodes.get(i, 0), inc.pool_nodes.get(o.pool_key, 0))
            for i, o in enumerate(cands.options)
        }
        if inc
        else {}
    )
    bounds = structural_bounds(cands, held)
    start_nodes = greedy_nodes(cands)
    eval_bounds = [max(b, (start_nodes or {}).get(i, 0)) for i, b in enumerate(bounds)]
    model = build(cands, eval_bounds, inc)
    target_gap = pl.mip_gap if gap is None else gap
    solver = Solver(
        model,
        gap=target_gap,
        node_limit=(
            SCREEN_NODE_LIMIT
            if full_bound is not None
            else pl.solver_node_limit or auto_node_limit(sum(c.integer for c in model.columns))
        ),
        time_limit=pl.solver_time_limit_seconds,
    )

    greedy_cost = None
    best: tuple[float, dict[int, int], np.ndarray] | None = None
    if start_nodes is not None:
        first = _evaluate(solver, start_nodes)
        if first.values is not None:
            greedy_cost = billed_and_latency(model, first.values)
            best = (first.objective, start_nodes, first.values)
    rounded = _lp_rounding(solver)
    if rounded is not None:
        second = _evaluate(solver, rounded)
        if second.values is not None and (best is None or second.objective < best[0]):
            best = (second.objective, rounded, second.values)
    start = None
    if best is not None:
        best = _descend(solver, best, deadline)
        floor = {i: max(best[1].get(i, 0), held.get(i, 0)) for i in set(best[1]) | set(held)}
        _tighten(solver, bounds, floor, best[0])
        start = best[2]
    result = solver.run(start, deadline=deadline)
    if result.values is None:
        raise Infeasible(
            [Problem("placement", f"no plan meets every constraint ({result.status})")],
            "infeasible",
        )

    if full_bound is not None:
        result = _against_full_bound(result, full_bound, target_gap)
    values = result.values
    kept = False
    savings = 0.0
    incumbent_cost = None
    if inc is not None and inc_usable:
        as_deployed = _evaluate(solver, inc.nodes)
        if as_deployed.values is not None:
            incumbent_cost = billed_and_latency(model, as_deployed.values)
            cost = billed_and_latency(model, values)
            savings = 100.0 * (incumbent_cost - cost) / incumbent_cost if incumbent_cost else 0.0
            if savings < pl.stability.min_savings_percent:
                kept, values = True, as_deployed.values
    nodes = {i: round(values[col]) for i, col in enumerate(model.n) if round(values[col]) > 0}
    routes = route(cands, nodes)
    primary = _primary(model, values)
    return Outcome(
        cands, model, result, nodes, routes, primary, greedy_cost, incumbent_cost, kept, savings
    )


def _screen(cands: Candidates, incumbent: dict | None, deadline: float) -> tuple[Candidates, float]:
    """LP-guided restriction for very large scenarios.

    Solves the LP relaxation of the full model (its optimum is a proven lower bound for every
    plan) and keeps only the regions its solution uses, those of the greedy plan (so a start
    exists) and those of the incumbent. The MILP then runs on that restriction with a node
    limit; the plan's gap is reported against the full LP bound, never the restricted one.
    """
    full = build(cands, structural_bounds(cands, {}))
    solver = Solver(
        full, gap=1.0, node_limit=1, time_limit=cands.scenario.placement.solver_time_limit_seconds
    )
    solver.h.setOptionValue("solve_relaxation", True)
    lp = solver.run(deadline=deadline)
    if lp.values is None:
        raise Infeasible(
            [Problem("placement", "no plan meets every constraint (LP relaxation)")], "infeasible"
        )
    regions = {o.region for i, o in enumerate(cands.options) if lp.values[full.n[i]] > 1e-6}
    regions |= {cands.options[i].region for i in greedy_nodes(cands) or {}}
    regions |= {pool[0] for pool in pool_nodes(incumbent or {})}
    return restrict(cands, regions), lp.objective


def _against_full_bound(result: Result, bound: float, target_gap: float) -> Result:
    """Re-state a restricted solve's result against the full model's proven bound."""
    gap = max(0.0, (result.objective - bound) / abs(result.objective)) if result.objective else 0.0
    if gap <= OPTIMAL_GAP:
        status = "optimal"
    elif gap <= target_gap:
        status = "gap-limit"
    elif result.status == "time-limit":
        status = "time-limit"
    else:
        status = "work-limit"
    return replace(result, status=status, bound=bound, gap=gap)


def _lp_rounding(solver: Solver) -> dict[int, int] | None:
    """Round the LP relaxation's node counts up: a feasible plan unless a quota, the spot
    cap or the budget bites (then the MILP completion says so and it is dropped)."""
    solver.h.setOptionValue("solve_relaxation", True)
    try:
        lp = solver.run()
    finally:
        solver.h.setOptionValue("solve_relaxation", False)
    if lp.values is None:
        return None
    nodes = {}
    for i, col in enumerate(solver.model.n):
        k = math.ceil(lp.values[col] - 1e-6)
        if k > 0:
            nodes[i] = k
    return nodes


def _descend(solver: Solver, best, deadline: float = math.inf):
    """Local search on a start: drop single nodes, dearest first, while it stays feasible
    and gets cheaper. Each step is one completion solve with the nodes fixed; at most
    DESCENT_STEPS of them, so the work is bounded and the same on every machine."""
    options = solver.model.cands.options
    objective, nodes, values = best
    improved = True
    steps = 0
    while improved and steps < DESCENT_STEPS:
        improved = False
        for i in sorted(nodes, key=lambda i: (-options[i].price_hr, i)):
            if nodes.get(i, 0) == 0 or steps >= DESCENT_STEPS:
                continue
            if solver.clock() > deadline:
                # past the safety net: the MILP after this stops at once and says time-limit
                return objective, nodes, values
            steps += 1
            trial = dict(nodes)
            trial[i] -= 1
            if trial[i] == 0:
                del trial[i]
            result = _evaluate(solver, trial)
            if result.values is not None and result.objective < objective - 1e-6:
                objective, nodes, values = result.objective, trial, result.values
                improved = True
    return objective, nodes, values


def _tighten(solver: Solver, bounds: list[int], floor: dict[int, int], upper_cost: float):
    """No optimal plan spends more on one option than a known plan costs in total.

    `floor` holds node counts that must stay reachable: the start's, and the incumbent's,
    which stability evaluates even when it is not optimal."""
    model = solver.model
    cols, uppers = [], []
    for i, opt in enumerate(model.cands.options):
        by_cost = (
            math.floor(upper_cost / monthly(opt.price_hr) + 1e-9) if opt.price_hr > 0 else bounds[i]
        )
        new = max(min(bounds[i], by_cost), floor.get(i, 0))
        if new < model.columns[model.n[i]].upper:
            cols.append(model.n[i])
            uppers.append(float(new))
            opt_y = model.y[(opt.service, opt.region)]
            solver.set_coeff(model.link_rows[i], opt_y, -float(new))
    if cols:
        solver.set_upper(cols, uppers)


def _primary(model: Model, values: np.ndarray) -> str | None:
    for r, col in model.prim.items():
        if round(values[col]) == 1:
            return r
    return None


# --- plan extraction --------------------------------------------------------------------


def to_plan(out: Outcome, seconds: float, incumbent_label: str | None) -> Plan:
    cands, model = out.cands, out.model
    sc, cat = cands.scenario, cands.catalog
    pl = sc.placement
    names = [svc.name for svc in sc.services]

    pools: dict[str, dict[tuple[str, str], dict]] = {}
    compute_by_region: dict[str, float] = {}
    for i, count in sorted(out.nodes.items()):
        o = cands.options[i]
        pool = pools.setdefault(o.region, {}).setdefault(
            (o.offering.instance_type, o.pricing), {"option": o, "nodes": 0, "replicas": {}}
        )
        pool["nodes"] += count
        name = names[o.service]
        pool["replicas"][name] = pool["replicas"].get(name, 0) + count * o.replicas_per_node
        compute_by_region[o.region] = (
            compute_by_region.get(o.region, 0.0) + monthly(o.price_hr) * count
        )
    clusters = []
    for region, region_pools in sorted(pools.items()):
        cloud, name = region.split("/", 1)
        node_pools = tuple(
            NodePool(
                instance_type=it,
                accelerator=p["option"].offering.accelerator,
                accelerator_count=p["option"].offering.accelerator_count,
                pricing=pricing,
                nodes=p["nodes"],
                min_nodes=p["nodes"],
                max_nodes=math.ceil(p["nodes"] * pl.max_nodes_factor - 1e-9),
                hourly_usd=p["option"].price_hr,
                replicas=p["replicas"],
            )
            for (it, pricing), p in sorted(region_pools.items())
        )
        clusters.append(Cluster(cloud, name, node_pools))
    open_regions = sorted(pools)
    # The free-tier credit goes to the first GKE cluster by region: it runs a zonal control
    # plane (the credit applies to no regional cluster) and its management fee is credited.
    credited = next((r for r in open_regions if r.startswith("gcp/")), None)
    if not pl.gke_free_tier_credit:
        credited = None
    if credited is not None:
        clusters = [replace(c, control_plane="zonal") if c.key == credited else c for c in clusters]

    # routing and assignments
    routing: dict[str, dict[str, float]] = {}
    assignments: dict[str, list[Assignment]] = {}
    latency_cost = 0.0
    for j, flow in enumerate(cands.routes):
        rps = float(out.routes[j])
        if rps <= 1e-7:
            continue
        name = names[flow.service]
        routing.setdefault(name, {})
        routing[name][flow.region] = routing[name].get(flow.region, 0.0) + rps
        assignments.setdefault(name, []).append(Assignment(flow.geo, flow.region, rps, flow.rtt_ms))
        latency_cost += pl.latency_weight_usd_per_ms * rps * flow.rtt_ms
    for s, svc in enumerate(sc.services):
        weights = routing.get(names[s], {})
        routing[names[s]] = _normalise(weights, svc.total_demand)

    # replication: primary and egress per target
    served: dict[str, set[int]] = {}
    for i in out.nodes:
        served.setdefault(cands.options[i].region, set()).add(cands.options[i].service)
    primary = sc.replication.primary
    if primary == "auto":
        primary = out.primary or max(open_regions, key=lambda r: (compute_by_region[r], r))
    model_gb, datasets_gb = replication_volume(cands)
    targets = []
    for region in open_regions:
        if region == primary:
            continue
        gb = datasets_gb + sum(model_gb[s] for s in served[region])
        usd = gb * cat.egress_usd_per_gb(primary, region)
        targets.append(
            ReplicationTarget(
                region, repl.mechanism(primary.split("/")[0], region.split("/")[0]), usd
            )
        )
    interval = repl.interval_minutes(
        sc.replication.max_staleness_minutes, [t.mechanism for t in targets]
    )
    replication = ReplicationPlan(primary, sc.replication.mode, interval, tuple(targets))

    # cost
    by_region = dict(compute_by_region)
    clusters_cost = 0.0
    for region in open_regions:
        fee = cluster_fee(cands, region)
        if region == credited:
            fee -= cat.clusters["gcp"].gke_free_tier_credit_usd
        clusters_cost += fee
        by_region[region] += fee
    for t in targets:
        by_region[t.region] += t.monthly_egress_usd
    cost = Cost(
        compute=sum(compute_by_region.values()),
        clusters=clusters_cost,
        egress=sum(t.monthly_egress_usd for t in targets),
        latency=latency_cost,
        by_region=by_region,
    )
    return Plan(
        catalog_snapshot=cat.snapshot,
        catalog_sha256=cat.sha256,
        clusters=tuple(clusters),
        routing=routing,
        assignments={k: tuple(v) for k, v in assignments.items()},
        replication=replication,
        cost=cost,
        survivability=survivability(out),
        solver=SolverInfo(
            out.result.status, out.result.gap, seconds, model.num_cols, model.num_rows
        ),
        stability=StabilityInfo(incumbent_label, out.kept, out.savings_percent),
    )


def _normalise(weights: dict[str, float], total: float) -> dict[str, float]:
    """Weights rounded to 1e-6 that sum to exactly 1 (the largest absorbs the rounding)."""
    if not weights:
        return {}
    rounded = {r: round(w / total, 6) for r, w in weights.items()}
    rounded = {r: w for r, w in rounded.items() if w > 0}
    top = max(sorted(rounded), key=lambda r: rounded[r])
    rounded[top] = round(1.0 - sum(w for r, w in rounded.items() if r != top), 6)
    return rounded


def survivability(out: Outcome) -> Survivability:
    """Per service, the worst loss of one failure domain measured by re-routing (max-flow
    within the failover SLO, spot at spotSurvivalFactor); overall, the worst service."""
    cands = out.cands
    sc = cands.scenario
    per_service = failover.report(cands, out.nodes)
    worst_name = min(
        sorted(per_service), key=lambda name: per_service[name].served_fraction, default=None
    )
    worst = per_service[worst_name] if worst_name is not None else None
    return Survivability(
        sc.placement.survive,
        worst.served_fraction if worst else 0.0,
        worst.worst_domain if worst else None,
        {
            name: ServiceSurvivability(
                r.worst_domain,
                r.served_fraction,
                r.worst_failover_rtt_ms,
                sc.services[[v.name for v in sc.services].index(name)].failover_slo_ms,
            )
            for name, r in per_service.items()
        },
    )


def solve(
    scenario: Scenario,
    catalog: Catalog,
    incumbent: dict | None = None,
    incumbent_label: str | None = None,
    *,
    diagnose: bool = True,
) -> Plan:
    """The plan for a scenario; raises `Infeasible` naming the constraints that conflict."""
    t0 = time.perf_counter()
    try:
        out = optimise(scenario, catalog, incumbent)
    except Infeasible:
        if not diagnose:
            raise
        from .explain import diagnose_infeasible

        raise Infeasible(diagnose_infeasible(scenario, catalog), "infeasible") from None
    return to_plan(out, time.perf_counter() - t0, incumbent_label)


def with_prices(catalog: Catalog, factor: dict[tuple[str, str, str], float]) -> Catalog:
    """A catalog with some offerings' prices scaled (tests and benchmarks)."""
    offerings = tuple(
        replace(
            o,
            price_on_demand=o.price_on_demand
            * factor.get((o.cloud, o.region, o.instance_type), 1.0),
            price_spot=None
            if o.price_spot is None
            else o.price_spot * factor.get((o.cloud, o.region, o.instance_type), 1.0),
        )
        for o in catalog.offerings
    )
    return replace(catalog, offerings=offerings)
