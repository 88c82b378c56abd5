"""`python -m optimizer solve ...`: the optimizer on its own, as a command.

Exit codes: 0 a plan was found, 2 bad input or no plan exists (one line per problem on
stderr, no traceback). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import catalog as catalog_mod
from . import lockfile
from .errors import InputError, Problem, print_problems
from .explain import failover_only_capacity, price_of_guarantees, rejected_alternatives
from .plan import Plan, load_plan_file
from .scenario import load_file
from .solve import Infeasible, solve


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m optimizer", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="place a scenario or a stack and print the plan")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--scenario",
        type=Path,
        help="YAML with services, placement, replication (and optionally clouds)",
    )
    what.add_argument(
        "--stack",
        help="a stack of the project (stacks/Pulumi.<stack>.yaml), read as the program reads "
        "it: Pulumi.yaml's defaults, the stack file, its catalog, and its lock as incumbent",
    )
    s.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="with --stack: the Pulumi project folder (default: the working directory)",
    )
    s.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="catalog folder (default: the shipped snapshot optimizer/data)",
    )
    s.add_argument(
        "--incumbent",
        type=Path,
        default=None,
        help="plan JSON currently deployed; kept unless moving saves enough",
    )
    s.add_argument(
        "--json",
        type=Path,
        default=None,
        dest="json_out",
        help="write the plan JSON here ('-' for stdout)",
    )
    s.add_argument(
        "--explain",
        action="store_true",
        help="also show rejected alternatives and the price of each guarantee "
        "(one extra solve per guarantee)",
    )
    return p


def _from_stack(project: Path, stack: str, catalog: catalog_mod.Catalog | None):
    """(scenario, catalog, lock, lock label) of a stack, read as the program reads it
    (`components.settings`, which imports no Pulumi package); raises `InputError`."""
    from components.settings import parse, project_stack_config, read_project, stack_names

    if not (project / "Pulumi.yaml").is_file():
        raise InputError([Problem("--project", f"{project}: no Pulumi.yaml here")], "no project")
    known = stack_names(project)
    if stack not in known:
        raise InputError(
            [
                Problem(
                    "--stack", f"{stack!r} has no Pulumi.{stack}.yaml; known: {', '.join(known)}"
                )
            ],
            "unknown stack",
        )
    name, stacks = read_project(project)
    config = project_stack_config(project, stack)
    settings = parse(config.values, stack=stack, stacks_dir=stacks, catalog=catalog, project=name)
    label = settings.lock_path if settings.lock is not None else None
    return settings.scenario, settings.catalog, settings.lock, label


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.stack is not None:
            given = catalog_mod.load(args.catalog) if args.catalog else None
            scenario, cat, incumbent, label = _from_stack(args.project, args.stack, given)
            source = f"stack {args.stack}"
        else:
            cat = catalog_mod.load(args.catalog)
            scenario = load_file(args.scenario, cat)
            incumbent, label, source = None, None, str(args.scenario)
        if args.incumbent:
            incumbent, label = load_plan_file(args.incumbent), str(args.incumbent)
            problems = lockfile.check(incumbent, cat, str(args.incumbent))
            if problems:
                raise InputError(problems, "invalid incumbent plan")
        plan = solve(scenario, cat, incumbent, label)
    except Infeasible as e:
        print_problems("no plan meets every constraint", e.lines())
        return 2
    except InputError as e:
        print_problems(e.heading, e.lines())
        return 2
    text = plan.dumps()
    if args.json_out is not None and str(args.json_out) == "-":
        sys.stdout.write(text)
        return 0
    print(render(plan, source))
    if args.explain:
        print()
        print(render_explain(scenario, cat, plan, progress=_progress()), flush=True)
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text)
        print(f"\nplan written to {args.json_out}")
    return 0


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """A plain-text table; columns in `right` are right-aligned (numbers)."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def render(plan: Plan, source: str) -> str:
    """The human-readable plan: placement, cost by category and region, solver status."""
    s = plan.solver
    out = [
        f"tricloud placement for {source} (catalog {plan.catalog_snapshot}, "
        f"sha256 {plan.catalog_sha256[:12]})",
        f"solver: {s.status}, proven gap {s.mip_gap:.4%}, {s.seconds:.2f} s, "
        f"{s.variables} variables, {s.constraints} constraints",
    ]
    st = plan.stability
    if st.incumbent:
        verdict = "kept" if st.kept else "replaced"
        out.append(
            f"incumbent {st.incumbent}: {verdict} (best plan saves {st.savings_percent:.2f}%)"
        )
    rows = []
    for c in sorted(plan.clusters, key=lambda c: (c.cloud, c.region)):
        for p in sorted(c.node_pools, key=lambda p: (p.instance_type, p.pricing)):
            rows.append(
                [
                    c.key,
                    f"{p.instance_type} ({p.accelerator_count}x{p.accelerator})",
                    p.pricing,
                    str(p.nodes),
                    str(p.max_nodes),
                    f"{p.hourly_usd:,.2f}",
                    ", ".join(f"{k} x{v}" for k, v in sorted(p.replicas.items())),
                ]
            )
    out += [
        "",
        table(
            ["CLUSTER", "INSTANCE", "PRICING", "NODES", "MAX", "USD/NODE-H", "REPLICAS"],
            rows,
            right={3, 4, 5},
        ),
    ]
    cost = plan.cost
    out += [
        "",
        table(
            ["COST USD/MONTH", "AMOUNT"],
            [
                ["compute", f"{cost.compute:,.2f}"],
                ["clusters", f"{cost.clusters:,.2f}"],
                ["egress", f"{cost.egress:,.2f}"],
                ["latency (preference)", f"{cost.latency:,.2f}"],
                ["total", f"{cost.total:,.2f}"],
            ],
            right={1},
        ),
    ]
    out += [
        "",
        table(
            ["REGION", "USD/MONTH"],
            [[r, f"{v:,.2f}"] for r, v in sorted(cost.by_region.items())],
            right={1},
        ),
    ]
    rows = [
        [svc, region, f"{w:.1%}"]
        for svc, weights in sorted(plan.routing.items())
        for region, w in sorted(weights.items())
    ]
    out += ["", table(["SERVICE", "REGION", "TRAFFIC"], rows, right={2})]
    sv = plan.survivability
    level = "cloud" if sv.survive == "cloud" else "region"
    out += [
        "",
        f"survive: {sv.survive}; worst single-{level} loss leaves "
        f"{sv.worst_case_served_fraction:.1%} of demand served by re-routing"
        + (f" (losing {sv.worst_case_domain})" if sv.worst_case_domain else ""),
    ]
    rows = [
        [
            name,
            r.worst_domain or "-",
            f"{r.served_fraction:.1%}",
            "-" if r.worst_failover_rtt_ms is None else f"{r.worst_failover_rtt_ms:.1f}",
            f"{r.failover_slo_ms:g}",
        ]
        for name, r in sorted(sv.services.items())
    ]
    out += [
        table(
            ["SERVICE", f"WORST {level.upper()} LOST", "SERVED", "WORST FAILOVER RTT MS", "SLO MS"],
            rows,
            right={2, 3, 4},
        )
    ]
    r = plan.replication
    out.append(
        f"replication: primary {r.primary}, {r.mode}, every {r.interval_minutes} min, "
        f"{len(r.targets)} targets, {plan.cost.egress:,.2f} USD/month egress"
    )
    return "\n".join(out)


def _progress():
    """Reports each re-solve of --explain on stderr as it finishes (each may take seconds)."""
    started = [time.perf_counter()]

    def report(index: int, total: int, family: str) -> None:
        now = time.perf_counter()
        if index:
            print(f" {now - started[0]:.1f} s", file=sys.stderr, flush=True)
        started[0] = now
        if index < total:
            print(
                f"explain: re-solve {index + 1}/{total} without {family} ...",
                end="",
                file=sys.stderr,
                flush=True,
            )

    return report


def render_explain(scenario, cat, plan: Plan, progress=None) -> str:
    out = ["WHY THIS PLAN"]
    by_cloud: dict[str, float] = {}
    for region, usd in plan.cost.by_region.items():
        by_cloud[region.split("/")[0]] = by_cloud.get(region.split("/")[0], 0.0) + usd
    out.append("cost by cloud: " + ", ".join(f"{c} {v:,.2f}" for c, v in sorted(by_cloud.items())))
    out.append("")
    out.append("cheapest offering per rps not used, and why:")
    for svc, text in rejected_alternatives(scenario, cat, plan).items():
        out.append(f"  {svc}: {text}")
    failover = failover_only_capacity(scenario, cat, plan)
    out.append("")
    out.append("capacity placed for failover only (no demand geo within the latency SLO):")
    for svc in sorted(failover):
        for line in failover[svc]:
            out.append(f"  {svc}: {line}")
    if not failover:
        out.append("  none")
    out.append("")
    out.append("price of each guarantee (monthly cost saved if it alone were dropped):")
    for g in price_of_guarantees(scenario, cat, plan, progress=progress):
        saved = (
            "no plan without it"
            if g.monthly_usd_saved is None
            else f"{g.monthly_usd_saved:,.2f} USD"
        )
        out.append(f"  {g.family:14s} {saved:>16s}  ({g.description})")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
