"""Stage 5: route each geo's demand to the plan's capacity, nearest first (an LP).

Given the nodes of a plan, find rps per (service, geo, region) inside the latency SLO that
serves all demand within each region's capacity and minimises total rps x RTT. This is the
plan's `assignments` and `routing`; the MILP only had to know that such a routing exists.
"""

from __future__ import annotations

import highspy
import numpy as np

from .candidates import Candidates
from .solver import new_highs


def route(cands: Candidates, nodes: dict[int, int]) -> np.ndarray:
    """rps per entry of `cands.routes`; raises RuntimeError if the nodes cannot serve demand
    (the MILP guarantees they can, so that would be a bug)."""
    sc = cands.scenario
    capacity: dict[tuple[int, str], float] = {}
    for i, count in nodes.items():
        o = cands.options[i]
        capacity[(o.service, o.region)] = (
            capacity.get((o.service, o.region), 0.0) + count * o.capacity_rps
        )
    routes = cands.routes
    rows_demand = sorted({(r.service, r.geo) for r in routes})
    rows_cap = sorted({(r.service, r.region) for r in routes})
    index_d = {k: i for i, k in enumerate(rows_demand)}
    index_c = {k: len(rows_demand) + i for i, k in enumerate(rows_cap)}
    lp = highspy.HighsLp()
    lp.num_col_ = len(routes)
    lp.num_row_ = len(rows_demand) + len(rows_cap)
    lp.col_cost_ = np.array([r.rtt_ms for r in routes], dtype=np.float64)
    lp.col_lower_ = np.zeros(len(routes))
    lp.col_upper_ = np.array(
        [sc.services[r.service].demand_rps[r.geo] for r in routes], dtype=np.float64
    )
    lower = [sc.services[s].demand_rps[g] for s, g in rows_demand] + [0.0] * len(rows_cap)
    upper = [sc.services[s].demand_rps[g] for s, g in rows_demand] + [
        capacity.get(k, 0.0) for k in rows_cap
    ]
    lp.row_lower_ = np.array(lower, dtype=np.float64)
    lp.row_upper_ = np.array(upper, dtype=np.float64)
    # column-wise: each route sits in its demand row and its region's capacity row
    starts, index = [0], []
    for r in routes:
        index += [index_d[(r.service, r.geo)], index_c[(r.service, r.region)]]
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.ones(len(index))
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lp.num_row_
    h = new_highs()
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"routing LP: {h.modelStatusToString(h.getModelStatus())}")
    return np.array(h.getSolution().col_value)
