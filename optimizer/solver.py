"""Stage 3: hand a `Model` to HiGHS with fixed, deterministic options and read it back.

Termination is by proven relative gap or node limit, single-threaded with a fixed seed, so
the same model gives the same plan on any machine. The wall-clock limit is a safety net
only; a solve stopped by it says so in its status. HiGHS checks its own time limit only
between cut rounds and nodes (its root cut loop overran a 10 s limit to 10.6 s, and minutes
on very large models), so the net is also a callback that interrupts the simplex and the
MIP search as soon as the deadline passes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, replace

import highspy
import numpy as np

from .model import Model

OPTIMAL_GAP = 1e-4  # a plan is called "optimal" when its proven gap is at most this

# Work per branch-and-bound node grows about with the square of the integer columns
# (measured: ~8 ms at 385, ~45 ms at 831 on the 2-core benchmark machine). The default node
# limit keeps nodes x columns^2 under this budget, which stops a solve deterministically in
# roughly 20 s there, before the time limit's safety net; the reference scenario (435
# integer columns since survivability is stated by re-routing) gets 1,955 nodes and stops
# there at a proven gap of 0.3-0.6 % (2026-12-02).
NODE_WORK_BUDGET = 3.7e8


def auto_node_limit(integer_columns: int) -> int:
    """Default node limit for a model: a deterministic function of its size."""
    return int(min(20_000, max(200, NODE_WORK_BUDGET / max(1, integer_columns) ** 2)))


@dataclass
class Result:
    status: str  # optimal | gap-limit | node-limit | work-limit | time-limit | infeasible
    values: np.ndarray | None
    objective: float
    bound: float
    gap: float
    seconds: float
    nodes: int


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS prints a banner from C++ on construction, before any option can silence it."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def new_highs() -> highspy.Highs:
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


class Solver:
    """One HiGHS instance holding one model; columns can be fixed and released."""

    # the safety net's clock (a test replaces it to make the deadline pass on demand)
    clock = staticmethod(time.perf_counter)

    def __init__(self, model: Model, *, gap: float, node_limit: int, time_limit: float):
        self.model = model
        self.time_limit = float(time_limit)
        self._deadline = float("inf")
        h = new_highs()
        h.setOptionValue("threads", 1)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("mip_rel_gap", gap)
        h.setOptionValue("mip_max_nodes", node_limit)
        h.setOptionValue("time_limit", float(time_limit))
        lp = highspy.HighsLp()
        cols = model.columns
        lp.num_col_ = len(cols)
        lp.num_row_ = model.num_rows
        self._cost = np.array([c.cost for c in cols], dtype=np.float64)
        lp.col_cost_ = self._cost
        lp.col_lower_ = np.array([c.lower for c in cols], dtype=np.float64)
        lp.col_upper_ = np.array([c.upper for c in cols], dtype=np.float64)
        lp.row_lower_ = np.array(model.row_lower, dtype=np.float64)
        lp.row_upper_ = np.array(model.row_upper, dtype=np.float64)
        start, index, value = model.arrays()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = start
        lp.a_matrix_.index_ = index
        lp.a_matrix_.value_ = value
        lp.a_matrix_.num_col_ = len(cols)
        lp.a_matrix_.num_row_ = model.num_rows
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if c.integer else highspy.HighsVarType.kContinuous
            for c in cols
        ]
        h.passModel(lp)
        h.cbSimplexInterrupt += self._interrupt_after_deadline
        h.cbMipInterrupt += self._interrupt_after_deadline
        self.h = h
        self._integer = np.array([c.integer for c in cols])

    def _interrupt_after_deadline(self, event) -> None:
        if self.clock() > self._deadline:
            event.interrupt()

    def _bounds(self, cols: list[int], lower: list[float], upper: list[float]) -> None:
        self.h.changeColsBounds(
            len(cols),
            np.array(cols, dtype=np.int32),
            np.array(lower, dtype=np.float64),
            np.array(upper, dtype=np.float64),
        )

    def set_upper(self, cols: list[int], upper: list[float]) -> None:
        """Change the model's own upper bounds (kept across fix/release)."""
        for c, u in zip(cols, upper, strict=True):
            self.model.columns[c].upper = u
        self.release(cols)

    def fix(self, cols: list[int], values: list[float]) -> None:
        """Fix columns to values until `release`."""
        self._bounds(cols, values, values)

    def release(self, cols: list[int]) -> None:
        """Back to the model's own bounds."""
        columns = self.model.columns
        self._bounds(cols, [columns[c].lower for c in cols], [columns[c].upper for c in cols])

    def set_coeff(self, row: int, col: int, value: float) -> None:
        self.h.changeCoeff(row, col, value)

    def _consistent(self, values: np.ndarray, objective: float) -> bool:
        cost = self._cost @ values
        return abs(cost - objective) <= 1e-6 * max(1.0, abs(objective))

    def run(self, start: np.ndarray | None = None, *, deadline: float | None = None) -> Result:
        """Solve; `deadline` (on `clock`) defaults to now + the time limit."""
        h = self.h
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(start)
            sol.value_valid = True
            h.setSolution(sol)
        t0 = time.perf_counter()
        now = self.clock()
        deadline = now + self.time_limit if deadline is None else deadline
        self._deadline = deadline
        # HiGHS's own limit too, for the parts that call no callback (sub-MIPs, presolve)
        h.setOptionValue("time_limit", max(1e-3, min(self.time_limit, deadline - now)))
        try:
            h.run()
        finally:
            self._deadline = float("inf")
        seconds = time.perf_counter() - t0
        status = h.getModelStatus()
        stopped = status in (
            highspy.HighsModelStatus.kTimeLimit,
            highspy.HighsModelStatus.kInterrupt,
        )
        info = h.getInfo()
        nodes = int(getattr(info, "mip_node_count", 0) or 0)
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        if status == highspy.HighsModelStatus.kInfeasible or not has_solution:
            name = (
                "infeasible"
                if status
                in (
                    highspy.HighsModelStatus.kInfeasible,
                    highspy.HighsModelStatus.kUnboundedOrInfeasible,
                )
                else ("time-limit" if stopped else "no-solution")
            )
            if start is not None and name != "infeasible":
                return self._start_result(start, name, seconds, nodes)
            return Result(name, None, float("inf"), float("-inf"), float("inf"), seconds, nodes)
        values = np.array(h.getSolution().col_value)
        objective = info.objective_function_value
        if start is not None and not self._consistent(values, objective):
            # HiGHS 1.16 can report a better objective than the start while handing back the
            # start's values (seen when presolve solves the model outright). Solve again
            # without the start so the plan is the solution the objective describes; the
            # start stays the answer when that re-solve ends with nothing better.
            h.clearSolver()
            again = self.run(deadline=deadline)  # the safety net bounds both solves
            if again.values is None or again.objective > self._cost @ start + 1e-6:
                return self._start_result(start, again.status, seconds + again.seconds, nodes)
            return replace(again, seconds=seconds + again.seconds)
        if self._integer.any():
            bound = info.mip_dual_bound
            gap = max(0.0, info.mip_gap) if np.isfinite(info.mip_gap) else float("inf")
        else:
            bound, gap = objective, 0.0
        if stopped:
            name = "time-limit"
        elif status == highspy.HighsModelStatus.kOptimal:
            name = "optimal" if gap <= OPTIMAL_GAP else "gap-limit"
        else:
            name = "node-limit"
        return Result(name, values, objective, bound, gap, seconds, nodes)

    def _start_result(self, start: np.ndarray, status: str, seconds: float, nodes: int) -> Result:
        """The start as the answer (a feasible plan the caller gave), with no proven bound."""
        values = np.asarray(start, dtype=np.float64)
        objective = float(self._cost @ values)
        name = status if status in ("time-limit", "node-limit") else "node-limit"
        return Result(name, values, objective, float("-inf"), float("inf"), seconds, nodes)
