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
from optimizer.errors import InputError, Problem
from optimizer.replication import MECHANISMS

from . import diff
from .engine import Capture
from .policy import Verdicts

FILES = ("plan.json", "resources.json", "policy.json", "summary.md", "diff.json")


def load_previous(path: Path) -> dict[str, Any] | None:
    """The plan to compare against: `path` is the folder of an earlier offline run (its
    `plan.json`) or a plan file (a lock). None when that run's program exported no placement
    (`plan.json` is `null`). Anything else is a wrong `--compare-to` and raises `InputError`:
    a typo must not turn the whole diff into "a new stack"."""
    file = path / "plan.json" if path.is_dir() else path
    if not file.is_file():
        what = "a folder without plan.json" if path.is_dir() else "no such file or folder"
        raise InputError(
            [
                Problem(
                    "--compare-to",
                    f"{str(path)!r}: {what}; give the --out folder of an earlier run or a plan "
                    "file (stacks/placement.<stack>.json), or --new-stack for a stack that has "
                    "no earlier plan",
                )
            ],
            "nothing to compare against",
        )
    try:
        doc = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(
            [Problem(f"--compare-to: {file}", f"not a plan: not valid JSON ({e})")],
            "nothing to compare against",
        ) from None
    if doc is not None and not (isinstance(doc, dict) and isinstance(doc.get("clusters"), list)):
        raise InputError(
            [Problem(f"--compare-to: {file}", "not a tricloud plan (no clusters list)")],
            "nothing to compare against",
        )
    return doc


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
        f"Estimated from resources: ${_cents(est['desired'].total)}/month at starting sizes "
        f"(compare compute + clusters without overhead), ${_cents(est['max'].total)} at the "
        f"autoscaling ceilings (monthly-cost-limit's default basis); egress not included"
        + (f"; {unpriced} pools not priced" if unpriced else "")
        + other
        + "".join(
            f"; {c['cloud']}/{c['region']}: zonal control plane, its management fee credited"
            " by the GKE free tier (placement.gkeFreeTierCredit)"
            for c in plan["clusters"]
            if c.get("controlPlane") == "zonal"
        )
    )


def _cents(usd: float) -> str:
    """Dollars and cents as the plan rounds them. The estimate and the plan add the same
    items in another order, so a sum on a half cent (1,182.965) can land a bit either side of
    it in floating point and print as 1,182.97 beside the plan's 1,182.96; rounding to a
    millionth first removes that noise."""
    return f"{round(round(usd, 6), 2):,.2f}"


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


def _cloud_of(resource_type: str) -> str:
    """The package of a type token (`aws:eks/cluster:Cluster` -> aws; providers by their
    package, `pulumi:providers:gcp` -> gcp)."""
    package = resource_type.split(":", 1)[0]
    if resource_type.startswith("pulumi:providers:"):
        package = resource_type.rsplit(":", 1)[-1]
    return {"azure-native": "azure"}.get(package, package)


ADDON_HEADERS = ["ADD-ON", "HOW", "VERSION", "CLUSTERS"]


def _addon_rows(capture: Capture) -> list[list[str]]:
    """What every cluster runs besides the workloads, each at its pinned version: Helm
    releases, EKS managed add-ons and the device plugin, with how many clusters run it."""
    found: Counter[tuple[str, str, str]] = Counter()
    for r in capture.resources:
        if r.type == "kubernetes:helm.sh/v3:Release":
            found[(r.inputs.get("chart", ""), "Helm chart", str(r.inputs.get("version")))] += 1
        elif r.type == "aws:eks/addon:Addon":
            found[(r.inputs["addonName"], "EKS add-on", str(r.inputs.get("addonVersion")))] += 1
        elif r.type == "kubernetes:apps/v1:DaemonSet":
            for c in r.inputs["spec"]["template"]["spec"]["containers"]:
                image, _, tag = c["image"].rpartition(":")
                found[(image.rsplit("/", 1)[-1], "DaemonSet", tag)] += 1
    return [[name, how, version, str(n)] for (name, how, version), n in sorted(found.items())]


def _cloud_counts(capture: Capture) -> str:
    """Resources per cloud (package), one line: the detail is in resources.json."""
    counts = Counter(_cloud_of(r.type) for r in capture.resources)
    parts = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    return f"resources: {len(capture.resources)} ({parts}); by type: resources.json"


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
    return diff.compare(
        before,
        after,
        [v.to_json() for v in verdicts.items],
        stack=stack,
        budget=budget(capture, verdicts),
    )


def budget(capture: Capture, verdicts: Verdicts) -> dict[str, Any] | None:
    """monthly-cost-limit's limit (the policy config's maxMonthlyUsd, else the budget the
    stack exports) and the estimate it checks, as the `budget` entry of diff.json."""
    from optimizer import cost
    from optimizer.catalog import load
    from policies.pack import resolve_config

    level, props = resolve_config(verdicts.config_doc)["monthly-cost-limit"]
    if level == "disabled":
        return None
    limit, source = props.get("maxMonthlyUsd"), f"maxMonthlyUsd in {verdicts.config}"
    if limit is None:
        limit = capture.outputs.get("monthlyBudgetUsd")
        source = "the stack's tricloud:placement.monthlyBudgetUsd"
    if not isinstance(limit, int | float):
        return None
    basis = props.get("basis", "max")
    resources = cost.from_registrations(r.to_json() for r in capture.resources)
    estimate = cost.estimate(resources, load(), basis).total
    return diff.budget_entry(float(limit), source, round(round(estimate, 6), 2), basis)


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
        doc, plan, details=details, policy_note=_policy_note(verdicts), warnings=capture.warnings
    )


def _policy_note(verdicts: Verdicts) -> str:
    """Which config the pack ran with, and what the run could not do."""
    return " ".join(x[:1].upper() + x[1:] + "." for x in (verdicts.config, verdicts.note) if x)


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
    out += diff.policy_lines(doc, _policy_note(verdicts))
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
        f"stack {stack}: {diff.plural(len(plan['clusters']), 'cluster')}, "
        f"{len(capture.resources)} resources, "
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
    addons = _addon_rows(capture)
    out = [table(ADDON_HEADERS, addons, right={3}), ""] if addons else []
    out += [_cloud_counts(capture), ""]
    if verdicts.config:
        out.append(f"policy: {verdicts.config}")
    if verdicts.note:
        out.append(f"policy: {verdicts.note}")
    for v in verdicts.items:
        where = v.urn.rsplit("::", 1)[-1] if v.urn else "(stack)"
        out.append(f"policy {v.level}: {v.policy}: {where}: {v.message}")
    if not verdicts.items and not verdicts.note:
        out.append("policy: all policies pass")
    for w in capture.warnings:
        out.append(f"warning: {w}")
    return out
