"""The offline plan's summary: printed to the console and written as `summary.md`.

`summary.md` is what a pull request comment shows (`tools.plan.diff` builds it and `diff.json`
from plain data): the monthly cost and what changes against `--compare-to`, the policy verdicts,
the solver, the placement, and collapsed below what only this run knows (the estimate from the
resources, replication, hostnames, resource counts).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from optimizer.cli import table
from optimizer.replication import MECHANISMS

from . import diff
from .engine import Capture
from .policy import Verdicts

FILES = ("plan.json", "resources.json", "policy.json", "summary.md", "diff.json")


def load_previous(folder: Path) -> dict[str, Any] | None:
    """The plan of an earlier offline run, or None when there is none (a new stack)."""
    path = folder / "plan.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _placement_rows(plan: dict[str, Any]) -> list[list[str]]:
    return diff.placement_rows(plan)


PLACEMENT_HEADERS = diff.PLACEMENT_HEADERS


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
            if MECHANISMS.get(t["mechanism"], 0) is None
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


def compare(
    stack: str, capture: Capture, verdicts: Verdicts, before: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The `diff.json` document of this run against an earlier plan (`before` None: a new
    stack); None when the program exports no placement."""
    after = capture.outputs.get("placement")
    if after is None:
        return None
    return diff.compare(before, after, [v.to_json() for v in verdicts.items], stack=stack)


def render(
    stack: str,
    capture: Capture,
    verdicts: Verdicts,
    before: dict[str, Any] | None,
    doc: dict[str, Any] | None = None,
) -> str:
    """`summary.md`: the comment of `tools.plan.diff.render`, with what only the run knows
    (the estimate from resources, replication, hostnames, resource counts) collapsed below."""
    plan = capture.outputs.get("placement")
    if plan is None:
        return _render_without_placement(stack, capture, verdicts)
    if doc is None:
        doc = compare(stack, capture, verdicts, before)
    replication = plan["replication"]
    details = [
        (
            "Cost estimated from the resources (what monthly-cost-limit checks)",
            estimated_from_resources(capture),
        ),
        (
            f"Replication ({replication['mode']}, primary {replication['primary']})",
            diff.md_table(REPLICATION_HEADERS, _replication_rows(plan), right={4})
            if replication["targets"]
            else "no replicas: one serving region",
        ),
        ("Hostnames", diff.md_table(["SERVICE", "HOSTNAME"], _hostname_rows(capture))),
        (
            f"Resources by type ({len(capture.resources)})",
            diff.md_table(["TYPE", "COUNT"], _counts(capture), right={1}),
        ),
    ]
    return diff.render(
        doc, plan, details=details, policy_note=verdicts.note, warnings=capture.warnings
    )


def console_changes(doc: dict[str, Any] | None, against: str) -> str:
    """A few lines for the console: what changes against `--compare-to`."""
    if doc is None:
        return f"against {against}: nothing to compare (no placement)"
    if doc["new"]:
        return f"against {against}: no earlier plan (a new stack)"
    cost = doc["cost"]
    delta = cost["delta"]
    pct = "" if delta["percent"] is None else f", {delta['percent']:+.1f}%"
    lines = [
        f"against {against}: monthly cost {cost['before']['total']:,.2f} -> "
        f"{cost['after']['total']:,.2f} USD ({delta['total']:+,.2f}{pct})"
    ]
    changes = [c for c in diff.lock_changes(doc) if not c.startswith("total ")]
    lines += [f"  {c}" for c in changes] or ["  placement and routing unchanged"]
    return "\n".join(lines)


NO_PLACEMENT = (
    "no placement: the program exports no `placement` (it composes the components by hand, "
    "without the optimizer); plan.json is null"
)


def _render_without_placement(stack: str, capture: Capture, verdicts: Verdicts) -> str:
    out = [
        diff.MARKER.format(stack=stack),
        f"### tricloud plan: `{stack}`",
        "",
        f"_{NO_PLACEMENT}._",
    ]
    if capture.outputs.get("hostnames"):
        out += ["", diff.md_table(["SERVICE", "HOSTNAME"], _hostname_rows(capture))]
    doc = {"policy": diff.policy_summary(v.to_json() for v in verdicts.items)}
    out += diff.policy_lines(doc, verdicts.note)
    if capture.warnings:
        out += ["", "#### Warnings", ""] + [f"- {w}" for w in capture.warnings]
    out += [
        "",
        f"#### Resources by type ({len(capture.resources)})",
        "",
        diff.md_table(["TYPE", "COUNT"], _counts(capture), right={1}),
        "",
        "_Offline plan under the Pulumi mock engine: nothing was sent to any cloud._",
        "",
    ]
    return "\n".join(out)


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
