"""Guarantees of the solve that are not the model's semantics: node bounds that are valid and
tight, tangent cuts that count only surviving capacity, a safety net that stops HiGHS, and a
MIP start that survives the fallback re-solve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from test_exactness import CLOUDS, EGRESS_KINDS, Case, _region_row, write_catalog

from optimizer import catalog as catalog_mod
from optimizer.candidates import enumerate_candidates, structural_bounds
from optimizer.greedy import greedy_nodes
from optimizer.model import build
from optimizer.scenario import parse
from optimizer.solve import _evaluate, solve
from optimizer.solver import Solver

BENCH = Path(__file__).resolve().parent.parent / "bench" / "scenarios"


@pytest.fixture(scope="module")
def cat():
    return catalog_mod.load()


@pytest.fixture(scope="module")
def reference(cat):
    scenario = parse(yaml.safe_load((BENCH / "reference.yaml").read_text()), cat)
    cands = enumerate_candidates(scenario, cat)
    return scenario, cands


# --- node bounds ---------------------------------------------------------------------------


def test_on_demand_bounds_do_not_sum_every_spot_option(reference):
    """The spot cap's backing no longer multiplies one option's bound by the number of spot
    options: with spot worth 0 in a failure, the most spot an optimal plan holds is the
    demand plus about one node per region (was: every spot option full, 4,757 nodes of one
    g2-standard-4 option of embed-small, against 22 to carry its demand alone)."""
    scenario, cands = reference
    bounds = structural_bounds(cands, {})
    svc = next(s for s, v in enumerate(scenario.services) if v.name == "embed-small")
    demand = scenario.services[svc].total_demand
    spot = [(i, o) for i, o in enumerate(cands.options) if o.service == svc and o.pricing == "spot"]
    every_spot_full = sum(bounds[i] * o.capacity_rps for i, o in spot)
    phi = scenario.placement.max_spot_fraction
    for i, o in enumerate(cands.options):
        if o.service != svc or o.pricing != "on-demand":
            continue
        old = every_spot_full * (1 - phi) / phi / o.capacity_rps
        assert bounds[i] * 10 <= old, (o.region, o.offering.instance_type, bounds[i], old)
        assert bounds[i] >= demand / o.capacity_rps


def _spot_backing_case() -> Case:
    """Cheap on-demand in Tokyo backs cheap spot in Ireland, where on-demand is dear:
    maxSpotFraction 0.1 makes the optimum hold 90 on-demand nodes to license 10 spot ones,
    though all demand (11 rps, 1 rps per node) would fit on 11."""

    def offering(region: str, od: float, spot: float | None) -> dict:
        return {
            "cloud": "aws",
            "region": region,
            "it": "t4-x1",
            "acc": "T4",
            "count": 1,
            "od": od,
            "spot": spot,
        }

    return Case(
        regions=[_region_row("aws/ap-northeast-1"), _region_row("aws/eu-west-1")],
        offerings=[offering("ap-northeast-1", 1.0, None), offering("eu-west-1", 100.0, 0.1)],
        fees={c: (0.0, 0.0, 0.0) for c in CLOUDS},
        egress={(c, k): 0.0 for c in CLOUDS for k in EGRESS_KINDS},
        raw={
            "clouds": ["aws"],
            "services": [
                {
                    "name": "svc",
                    "image": "example/image:1",
                    "replicaGpuMemoryGb": 8,
                    "throughputRps": {"T4": 1},
                    "demandRps": {"japan": 1, "eu-west": 10},
                    "latencySloMs": 40,
                }
            ],
            "placement": {"maxSpotFraction": 0.1, "mipGap": 0.0},
            "replication": {"primary": "auto"},
        },
        budget_factor=None,
    )


def test_bounds_keep_on_demand_that_backs_spot(tmp_path):
    """Valid, not only tight: the optimum's 90 backing nodes stay reachable (91 USD/h: 90 x 1
    + 10 x 0.1; on-demand in Ireland instead costs 10 x 100)."""
    write_catalog(_spot_backing_case(), tmp_path)
    cat = catalog_mod.load(tmp_path)
    plan = solve(parse(_spot_backing_case().raw, cat), cat).to_json()
    assert plan["cost"]["monthlyUsd"]["compute"] == pytest.approx(91 * 730, abs=0.011)
    pools = {
        (c["region"], p["pricing"]): p["nodes"] for c in plan["clusters"] for p in c["nodePools"]
    }
    assert pools == {("ap-northeast-1", "on-demand"): 90, ("eu-west-1", "spot"): 10}


# --- tangent cuts ----------------------------------------------------------------------------


def test_domain_count_cuts_count_only_surviving_capacity(reference):
    """spotSurvivalFactor 0: a region holding only spot nodes survives nothing, so the
    number of domains in the cuts T >= D K / (K - 1) counts regions with on-demand nodes
    only. (Counting every region in use weakens the cuts; the domain counter's members
    were the y columns, whose n <= M y rows hold spot options too.)"""
    scenario, cands = reference
    assert scenario.placement.spot_survival_factor == 0
    model = build(cands, structural_bounds(cands, {}))
    names = [c.name for c in model.columns]
    rows_of: dict[int, list[int]] = {}
    for r, cols in enumerate(model.row_index):
        for c in cols:
            rows_of.setdefault(c, []).append(r)
    n_option = {col: i for i, col in enumerate(model.n)}
    counted = 0
    for svc in scenario.services:
        counter = names.index(f"K[{svc.name}]")
        (defining,) = [
            r
            for r in rows_of[counter]
            if model.row_lower[r] == 0 == model.row_upper[r] and len(model.row_index[r]) > 2
        ]
        members = [c for c in model.row_index[defining] if c != counter]
        for member in members:
            linked = {
                n_option[c]
                for r in rows_of[member]
                for c in model.row_index[r]
                if c in n_option and model.row_upper[r] == 0
            }
            assert linked, names[member]
            pricings = {cands.options[i].pricing for i in linked}
            assert pricings == {"on-demand"}, (names[member], pricings)
            counted += 1
    assert counted > 4


# --- the solver: safety net and the MIP start -------------------------------------------------


def _reference_solver(reference, time_limit: float, node_limit: int = 100_000) -> Solver:
    _, cands = reference
    model = build(cands, structural_bounds(cands, {}))
    return Solver(model, gap=1e-4, node_limit=node_limit, time_limit=time_limit)


def test_safety_net_interrupts_highs_when_the_deadline_passes(reference):
    """The deadline is checked inside HiGHS (simplex and MIP callbacks), not only by its own
    time limit, which its root cut loop overruns. The clock is made to jump past the
    deadline at once: the solve must stop there, long before HiGHS's own limit (1 hour) or
    the proof (many seconds here)."""
    solver = _reference_solver(reference, time_limit=3600)
    calls = []

    def clock() -> float:
        calls.append(1)
        return 0.0 if len(calls) == 1 else 1e9

    solver.clock = clock
    result = solver.run()
    assert result.status == "time-limit"
    assert result.nodes <= 1
    assert len(calls) >= 2  # the callback read the clock during the solve
    assert solver.h.getOptionValue("time_limit")[1] == 3600  # HiGHS's own limit did not stop it


def test_start_is_kept_when_the_fallback_resolve_finds_nothing(reference):
    """When HiGHS hands back values that do not match its objective, the solve is repeated
    without the start; if that repeat ends (safety net) with no plan, the start is the
    answer, not 'no solution'."""
    _, cands = reference
    # a small node budget: the first solve only has to end (the fallback is under test)
    solver = _reference_solver(reference, time_limit=3600, node_limit=50)
    first = _evaluate(solver, greedy_nodes(cands))  # a feasible plan to start from
    assert first.values is not None
    start = first.values
    now = [0.0]
    solver.clock = lambda: now[0]

    def inconsistent(values, objective) -> bool:
        now[0] = 1e9  # the re-solve starts after the deadline: it is interrupted at once
        return False

    solver._consistent = inconsistent
    result = solver.run(start)
    assert result.values is not None
    assert np.allclose(result.values, start)
    assert result.objective == pytest.approx(float(np.dot(solver._cost, start)))
    assert result.status == "time-limit"
