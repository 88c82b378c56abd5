"""Optimizer benchmarks: `make bench` (or `python -m bench.optimizer`) prints tables.

Per scenario in bench/scenarios: model size, solve time (median and worst of N runs, each
a full `optimise`), what ended the solve (the termination reason, and whether every run
ended the same way), the proven gap, the bound and the monthly cost. `--explain` on
reference: the time of the explain report (`optimizer solve --explain`'s extra solves).
On reference: the optimum against two baselines, (a) the cheapest plan on a single cloud
under the same constraints except minClouds, (b) the greedy plan (cheapest cost per rps
first, then patched for survivability and spread). `large` runs against a synthetic
catalog (bench/synthetic.py) with every region copied 10 times. The load average before
and after is printed: the machine is shared, and timings are for it; nothing here asserts
on them.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from optimizer import catalog as catalog_mod
from optimizer.cli import table
from optimizer.scenario import parse
from optimizer.solve import Infeasible, optimise, to_plan

from . import synthetic

SCENARIOS = Path(__file__).parent / "scenarios"


def _solve(raw: dict, cat) -> tuple[object, float]:
    scenario = parse(raw, cat)
    t0 = time.perf_counter()
    out = optimise(scenario, cat)
    seconds = time.perf_counter() - t0
    return out, seconds


def _single_cloud(raw: dict, cloud: str) -> dict:
    """The same scenario on one cloud: minClouds 1, residency and quotas narrowed to it.

    A service whose residency allows nothing on that cloud makes the cloud infeasible
    (an empty allowedRegions would mean "anywhere", so it is not emptied)."""
    r = copy.deepcopy(raw)
    r["clouds"] = [cloud]
    pl = r.setdefault("placement", {})
    pl["minClouds"] = 1
    if pl.get("survive") == "cloud":
        pl["survive"] = "region"

    def narrow(entries):
        return [e for e in entries if e.split("/")[0] == cloud]

    if pl.get("allowedRegions"):
        pl["allowedRegions"] = narrow(pl["allowedRegions"]) or [f"{cloud}/none"]
    for svc in r["services"]:
        if svc.get("allowedRegions"):
            kept = narrow(svc["allowedRegions"])
            if not kept:
                return {}
            svc["allowedRegions"] = kept
    pl["quotasGpu"] = {
        k: v for k, v in pl.get("quotasGpu", {}).items() if k.startswith(cloud + "/")
    }
    rep = r.get("replication", {})
    if rep.get("primary", "auto") != "auto" and not rep["primary"].startswith(cloud + "/"):
        rep["primary"] = "auto"
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.optimizer", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--repeat", type=int, default=5, help="solves per scenario (median reported)")
    ap.add_argument("--only", nargs="*", default=["small", "reference", "large"])
    ap.add_argument("--copies", type=int, default=10, help="region copies in the large catalog")
    ap.add_argument("--no-explain", action="store_true", help="skip timing --explain on reference")
    ap.add_argument("--no-baselines", action="store_true", help="skip the reference baselines")
    args = ap.parse_args(argv)
    print("load average before (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))

    shipped = catalog_mod.load()
    rows = []
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            raw = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
            if name == "large":
                cat = catalog_mod.load(synthetic.write(Path(tmp) / "large", args.copies))
            else:
                cat = shipped
            times, out, statuses, costs = [], None, [], set()
            for _ in range(args.repeat):
                out, seconds = _solve(raw, cat)
                times.append(seconds)
                statuses.append(out.result.status)
                costs.add(round(to_plan(out, seconds, None).cost.total, 2))
                print(f"  {name}: {seconds:.2f} s, {out.result.status}", flush=True)
            options = len(out.cands.options)
            res = out.result
            plan = to_plan(out, statistics.median(times), None)
            limit = parse(raw, cat).placement.solver_time_limit_seconds
            rows.append(
                [
                    name,
                    options,
                    out.model.num_cols,
                    out.model.num_rows,
                    f"{statistics.median(times):.2f}",
                    f"{max(times):.2f}",
                    f"{limit / max(times):.1f}x",
                    _termination(statuses),
                    f"{res.gap:.2e}",
                    f"{res.bound:,.0f}",
                    f"{plan.cost.total:,.2f}" + ("" if len(costs) == 1 else " (varies)"),
                ]
            )
            if name == "reference":
                reference = (raw, out, plan, cat)
            print(f"{name}: done ({statistics.median(times):.2f} s median)", flush=True)
    print()
    print(
        table(
            [
                "scenario",
                "options in model",
                "variables",
                "constraints",
                "median s",
                "worst s",
                "net margin",
                "termination",
                "gap",
                "bound USD",
                "monthly USD",
            ],
            rows,
            right=set(range(1, 7)) | {8, 9, 10},
        )
    )
    print(
        "termination: optimal = proven gap <= 1e-4; gap-limit = proven gap <= placement.mipGap;"
        " node-limit / work-limit = the deterministic node limit; time-limit = the wall-clock"
        " safety net (solverTimeLimitSeconds). net margin = safety net / worst time."
    )
    if reference is not None and not args.no_explain:
        from optimizer.cli import render_explain

        raw, out, plan, cat = reference
        t0 = time.perf_counter()
        render_explain(parse(raw, cat), cat, plan)
        print(f"\nreference --explain: {time.perf_counter() - t0:.2f} s (one run)")

    if reference is not None and not args.no_baselines:
        raw, out, plan, _ = reference
        optimum = plan.cost.total
        base_rows = [["MILP plan", f"{optimum:,.2f}", "1.000", plan.solver.status]]
        for cloud in ("aws", "azure", "gcp"):
            single = _single_cloud(raw, cloud)
            if not single:
                base_rows.append(
                    [f"(a) {cloud} only", "infeasible", "-", "residency allows nothing"]
                )
                continue
            try:
                s_out, _ = _solve(single, shipped)
            except Infeasible as e:
                base_rows.append([f"(a) {cloud} only", "infeasible", "-", e.problems[0].where])
                continue
            cost = to_plan(s_out, 0.0, None).cost.total
            base_rows.append(
                [f"(a) {cloud} only", f"{cost:,.2f}", f"{cost / optimum:.3f}", s_out.result.status]
            )
        greedy = out.greedy_cost
        base_rows.append(
            [
                "(b) greedy",
                "n/a" if greedy is None else f"{greedy:,.2f}",
                "-" if greedy is None else f"{greedy / optimum:.3f}",
                "cheapest per rps, then patched",
            ]
        )
        print()
        print("reference: the MILP plan against baselines (monthly USD, ratio to the MILP plan)")
        print(table(["plan", "monthly USD", "ratio", "note"], base_rows, right={1, 2}))
    print("load average after (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


def _termination(statuses: list[str]) -> str:
    """The runs' termination reasons: one word when all agree, else each with its count."""
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    if len(counts) == 1:
        return statuses[0]
    return ", ".join(f"{s} x{n}" for s, n in counts.items())


if __name__ == "__main__":
    raise SystemExit(main())
