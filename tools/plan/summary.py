"""The offline plan's summary: printed to the console and written as `summary.md`.

`summary.md` is what a pull request comment shows: the placement, the monthly cost (and what
changes against `--compare-to`), resource counts by type, the policy verdicts and warnings.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from optimizer.cli import table

from .engine import Capture
from .policy import Verdicts

FILES = ("plan.json", "resources.json", "policy.json", "summary.md")


def load_previous(folder: Path) -> dict[str, Any] | None:
    """The plan of an earlier offline run, or None when there is none (a new stack)."""
    path = folder / "plan.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _pools(plan: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (f"{c['cloud']}/{c['region']}", p["instanceType"], p["pricing"]): p
        for c in plan.get("clusters", [])
        for p in c.get("nodePools", [])
    }


def _placement_rows(plan: dict[str, Any]) -> list[list[str]]:
    rows = []
    for (region, instance, pricing), p in sorted(_pools(plan).items()):
        rows.append(
            [
                region,
                f"{instance} ({p['acceleratorCount']}x{p['accelerator']})",
                pricing,
                f"{p['minNodes']}-{p['maxNodes']}",
                f"{p['hourlyUsd'] * p['nodes'] * 730:,.2f}",
                ", ".join(f"{s} x{n}" for s, n in sorted(p["replicas"].items())),
            ]
        )
    return rows


PLACEMENT_HEADERS = ["CLUSTER", "INSTANCE", "PRICING", "NODES", "USD/MONTH", "REPLICAS"]


def _cost_rows(plan: dict[str, Any]) -> list[list[str]]:
    cost = plan["cost"]["monthlyUsd"]
    return [[k, f"{cost[k]:,.2f}"] for k in ("compute", "clusters", "egress", "latency", "total")]


def estimated_from_resources(capture: Capture) -> str:
    """One line: the monthly cost `optimizer.cost` estimates from the captured resources (the
    numbers the policy pack's monthly-cost-limit checks), beside the plan's own cost."""
    from optimizer import cost
    from optimizer.catalog import load

    catalog = load()
    resources = cost.from_registrations(r.to_json() for r in capture.resources)
    est = {b: cost.estimate(resources, catalog, b) for b in ("desired", "max")}
    unpriced = len(est["max"].unpriced)
    plan = capture.outputs["placement"]
    other = (
        " (shipped catalog; the plan used another)"
        if plan["catalog"]["sha256"] != catalog.sha256
        else ""
    )
    return (
        f"Estimated from resources: ${est['desired'].total:,.2f}/month at starting sizes "
        f"(compare compute + clusters without overhead), ${est['max'].total:,.2f} at the "
        f"autoscaling ceilings (monthly-cost-limit's default basis); egress not included"
        + (f"; {unpriced} pools not priced" if unpriced else "")
        + other
    )


REPLICATION_HEADERS = ["FROM", "TO", "MECHANISM", "EVERY", "EGRESS USD/MONTH"]


def _replication_rows(plan: dict[str, Any]) -> list[list[str]]:
    r = plan["replication"]
    return [
        [
            r["primary"],
            t["region"],
            t["mechanism"],
            # event-driven mechanisms copy each write; the interval is the scheduled ones'
            "continuous"
            if t["mechanism"] in ("s3-replication", "azure-object-replication")
            else f"{r['intervalMinutes']} min",
            f"{t['monthlyEgressUsd']:,.2f}",
        ]
        for t in r["targets"]
    ]


def _hostname_rows(capture: Capture) -> list[list[str]]:
    return [[s, h] for s, h in sorted(capture.outputs.get("hostnames", {}).items())]


def _counts(capture: Capture) -> list[list[str]]:
    counts = Counter(r.type for r in capture.resources)
    return [[t, str(n)] for t, n in sorted(counts.items())]


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _pools(before), _pools(after)
    out = []
    for key in sorted(new.keys() - old.keys()):
        out.append(f"added {key[0]} {key[1]} {key[2]}: {new[key]['nodes']} nodes")
    for key in sorted(old.keys() - new.keys()):
        out.append(f"removed {key[0]} {key[1]} {key[2]}: {old[key]['nodes']} nodes")
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        if (a["minNodes"], a["maxNodes"]) != (b["minNodes"], b["maxNodes"]):
            out.append(
                f"resized {key[0]} {key[1]} {key[2]}: {a['minNodes']}-{a['maxNodes']} -> "
                f"{b['minNodes']}-{b['maxNodes']} nodes"
            )
    return out


NO_PLACEMENT = (
    "no placement: the program exports no `placement` (it composes the components by hand, "
    "without the optimizer); plan.json is null"
)


def render(stack: str, capture: Capture, verdicts: Verdicts, before: dict[str, Any] | None) -> str:
    plan = capture.outputs.get("placement")
    if plan is None:
        return _render_without_placement(stack, capture, verdicts)
    total = plan["cost"]["monthlyUsd"]["total"]
    solver = plan["solver"]
    out = [f"## tricloud plan: `{stack}`", ""]
    if before is None:
        out.append(f"**Monthly cost: ${total:,.2f}** (no earlier plan to compare)")
    else:
        old = before["cost"]["monthlyUsd"]["total"]
        delta = total - old
        pct = f" ({delta / old:+.1%})" if old else ""
        out.append(f"**Monthly cost: ${old:,.2f} -> ${total:,.2f}, {delta:+,.2f}{pct}**")
        changes = _changes(before, plan)
        out += ["", "Placement changes:" if changes else "Placement: unchanged."]
        out += [f"- {c}" for c in changes]
    out += [
        "",
        f"Solver: {solver['status']}, proven gap {solver['mipGap']:.2e}; "
        f"catalog {plan['catalog']['snapshot']}; lock: "
        + (
            f"{plan['stability']['incumbent']} ({'kept' if plan['stability']['kept'] else 'moved'})"
            if plan["stability"].get("incumbent")
            else "none"
        ),
        "",
        _md_table(PLACEMENT_HEADERS, _placement_rows(plan)),
        "",
        _md_table(["COST USD/MONTH", "AMOUNT"], _cost_rows(plan)),
        "",
        estimated_from_resources(capture),
        "",
        f"Replication ({plan['replication']['mode']}, primary {plan['replication']['primary']}):",
        "",
        _md_table(REPLICATION_HEADERS, _replication_rows(plan))
        if plan["replication"]["targets"]
        else "no replicas: one serving region",
        "",
        _md_table(["SERVICE", "HOSTNAME"], _hostname_rows(capture)),
        "",
    ]
    return "\n".join(out + _policy_and_resources(capture, verdicts))


def _render_without_placement(stack: str, capture: Capture, verdicts: Verdicts) -> str:
    out = [f"## tricloud plan: `{stack}`", "", f"_{NO_PLACEMENT}._", ""]
    if capture.outputs.get("hostnames"):
        out += [_md_table(["SERVICE", "HOSTNAME"], _hostname_rows(capture)), ""]
    return "\n".join(out + _policy_and_resources(capture, verdicts))


def _policy_and_resources(capture: Capture, verdicts: Verdicts) -> list[str]:
    out = ["### Policy", ""]
    if verdicts.note:
        out.append(verdicts.note)
    if verdicts.items:
        out.append(
            _md_table(
                ["POLICY", "LEVEL", "RESOURCE", "MESSAGE"],
                [[v.policy, v.level, v.urn.rsplit("::", 1)[-1], v.message] for v in verdicts.items],
            )
        )
    elif not verdicts.note:
        out.append("All policies pass.")
    if capture.warnings:
        out += ["", "### Warnings", ""] + [f"- {w}" for w in capture.warnings]
    out += [
        "",
        "<details><summary>Resources by type</summary>",
        "",
        _md_table(["TYPE", "COUNT"], _counts(capture)),
        "",
        "</details>",
        "",
        "_Offline plan under the Pulumi mock engine: nothing was sent to any cloud._",
        "",
    ]
    return out


def console(stack: str, capture: Capture, verdicts: Verdicts, seconds: float) -> str:
    plan = capture.outputs.get("placement")
    if plan is None:
        out = [
            f"stack {stack}: {len(capture.resources)} resources, program ran in {seconds:.1f} s",
            NO_PLACEMENT,
            "",
        ]
        if capture.outputs.get("hostnames"):
            out += [table(["SERVICE", "HOSTNAME"], _hostname_rows(capture)), ""]
        return "\n".join(out + _console_tail(capture, verdicts))
    solver = plan["solver"]
    out = [
        f"stack {stack}: {len(plan['clusters'])} clusters, {len(capture.resources)} resources, "
        f"solver {solver['status']} (gap {solver['mipGap']:.2e}), program ran in {seconds:.1f} s",
        "",
        table(PLACEMENT_HEADERS, _placement_rows(plan), right={3, 4}),
        "",
        table(["COST USD/MONTH", "AMOUNT"], _cost_rows(plan), right={1}),
        estimated_from_resources(capture),
        "",
        table(REPLICATION_HEADERS, _replication_rows(plan), right={4})
        if plan["replication"]["targets"]
        else "replication: one serving region, no replicas",
        "",
        table(["SERVICE", "HOSTNAME"], _hostname_rows(capture)),
        "",
    ]
    return "\n".join(out + _console_tail(capture, verdicts))


def _console_tail(capture: Capture, verdicts: Verdicts) -> list[str]:
    out = [table(["RESOURCE TYPE", "COUNT"], _counts(capture), right={1}), ""]
    if verdicts.note:
        out.append(f"policy: {verdicts.note}")
    for v in verdicts.items:
        out.append(f"policy {v.level}: {v.policy}: {v.urn.rsplit('::', 1)[-1]}: {v.message}")
    if not verdicts.items and not verdicts.note:
        out.append("policy: all policies pass")
    for w in capture.warnings:
        out.append(f"warning: {w}")
    return out
