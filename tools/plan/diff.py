"""What a pull request changes in one stack: two plans and the policy verdicts in,
`diff.json` and the `summary.md` comment out.

Pure functions over plain data, so the comment can be tested without running the program:

- `compare(before, after, verdicts, stack=...)` -> the `diff.json` document (`before` is None
  for a new stack; `verdicts` are `policy.json` entries `{policy, level, urn, message}`);
- `render(doc, after, details=...)` -> the Markdown comment;
- `lock_changes(doc)` -> one-line descriptions of the changes (the lock check's message).

`diff.json` (version 1), every amount in USD per month:

    stack, new (no earlier plan), changed (placement, routing or cost differ)
    cost.before / cost.after: {total, byCategory: {compute, clusters, egress, latency},
                               byCloud: {aws, ...}}            (before: null when new)
    cost.delta: {total, percent, byCategory, byCloud}           (null when new; percent null
                                                                 when before was 0)
    clusters.added / clusters.removed: ["cloud/region", ...]
    pools.added / pools.removed: [{cluster, instanceType, pricing, nodes, minNodes, maxNodes,
                                   monthlyUsd, replicas}]
    pools.resized: [{cluster, instanceType, pricing, nodes: {before, after}, minNodes: {...},
                     maxNodes: {...}, monthlyUsd: {...}, replicas: {...}}]   (planned or bound
                     change)
    pools.rebalanced: the same shape, same node counts, only the replicas per service moved
    routing: {threshold, changes: [{service, region, before, after, delta}], weights:
             {service: {region: share}}}  (changes: |delta| above the threshold; weights: the
             plan after, every service and region; shares of the service's traffic)
    survivability: {survive, worstCaseDomain, worstCaseServedFraction} of the plan after
    budget: {limit, source, estimate, basis, headroom, headroomPercent} (null when unknown):
            the monthly-cost-limit's limit and the estimate it checks
    policy: {mandatory, advisory, blocking, verdicts: [{policy, level, resource, message}]}
            (resource "(stack)" for a stack policy without a URN)
            (mandatory first)
    solver: {before, after: {status, mipGap, variables, constraints}, stability: {incumbent,
             kept, savingsPercent}, catalog: {before, after, changed}}

Lists are sorted, so two runs on the same input write the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from optimizer.plan import pools as plan_pools

DIFF_VERSION = 1
HOURS_PER_MONTH = 730
CATEGORIES = ("compute", "clusters", "egress", "latency")
# A routing weight change smaller than this share of a service's traffic (1 point) is noise.
ROUTING_THRESHOLD = 0.01
MARKER = "<!-- tricloud-plan:{stack} -->"

Plan = Mapping[str, Any]
PoolKey = tuple[str, str, str]  # (cloud/region, instance type, pricing)


def money(x: float) -> float:
    return round(x + 0.0, 2) + 0.0


# ---------------------------------------------------------------------------------------
# compare


def _clusters(plan: Plan | None) -> list[str]:
    return sorted(f"{c['cloud']}/{c['region']}" for c in (plan or {}).get("clusters", []))


def pool_monthly(pool: Mapping[str, Any]) -> float:
    """The planned nodes of a pool at its hourly price, per month (730 h)."""
    return money(pool["hourlyUsd"] * pool["nodes"] * HOURS_PER_MONTH)


def _pool_entry(key: PoolKey, pool: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cluster": key[0],
        "instanceType": key[1],
        "pricing": key[2],
        "nodes": pool["nodes"],
        "minNodes": pool["minNodes"],
        "maxNodes": pool["maxNodes"],
        "monthlyUsd": pool_monthly(pool),
        "replicas": dict(sorted(pool.get("replicas", {}).items())),
    }


def _pool_change(key: PoolKey, a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    def pair(x: Any, y: Any) -> dict[str, Any]:
        return {"before": x, "after": y}

    return {
        "cluster": key[0],
        "instanceType": key[1],
        "pricing": key[2],
        "nodes": pair(a["nodes"], b["nodes"]),
        "minNodes": pair(a["minNodes"], b["minNodes"]),
        "maxNodes": pair(a["maxNodes"], b["maxNodes"]),
        "monthlyUsd": pair(pool_monthly(a), pool_monthly(b)),
        "replicas": pair(
            dict(sorted(a.get("replicas", {}).items())),
            dict(sorted(b.get("replicas", {}).items())),
        ),
    }


def cost_of(plan: Plan) -> dict[str, Any]:
    """Total, per category and per cloud (the plan's `byRegion` summed by cloud)."""
    monthly = plan["cost"]["monthlyUsd"]
    by_cloud: dict[str, float] = {}
    for region, usd in plan["cost"].get("byRegion", {}).items():
        cloud = region.split("/", 1)[0]
        by_cloud[cloud] = by_cloud.get(cloud, 0.0) + usd
    return {
        "total": money(monthly["total"]),
        "byCategory": {k: money(monthly.get(k, 0.0)) for k in CATEGORIES},
        "byCloud": {c: money(v) for c, v in sorted(by_cloud.items())},
    }


def _percent(before: float, after: float) -> float | None:
    return round((after - before) / before * 100, 2) + 0.0 if before else None


def _cost_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    clouds = sorted(before["byCloud"].keys() | after["byCloud"].keys())
    return {
        "total": money(after["total"] - before["total"]),
        "percent": _percent(before["total"], after["total"]),
        "byCategory": {
            k: money(after["byCategory"][k] - before["byCategory"][k]) for k in CATEGORIES
        },
        "byCloud": {
            c: money(after["byCloud"].get(c, 0.0) - before["byCloud"].get(c, 0.0)) for c in clouds
        },
    }


def routing_changes(
    before: Plan | None, after: Plan, threshold: float = ROUTING_THRESHOLD
) -> list[dict[str, Any]]:
    old = (before or {}).get("routing", {})
    new = after.get("routing", {})
    out = []
    for service in sorted(old.keys() | new.keys()):
        a, b = old.get(service, {}), new.get(service, {})
        for region in sorted(a.keys() | b.keys()):
            x, y = float(a.get(region, 0.0)), float(b.get(region, 0.0))
            if abs(y - x) > threshold:
                out.append(
                    {
                        "service": service,
                        "region": region,
                        "before": x,
                        "after": y,
                        "delta": round(y - x, 6) + 0.0,
                    }
                )
    return out


def short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def policy_summary(verdicts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    items = sorted(
        (
            {
                "policy": v["policy"],
                "level": v["level"],
                "resource": short(v.get("urn", "")) or "(stack)",
                "message": v["message"],
            }
            for v in verdicts
        ),
        key=lambda v: (v["level"] != "mandatory", v["policy"], v["resource"], v["message"]),
    )
    mandatory = sum(v["level"] == "mandatory" for v in items)
    return {
        "mandatory": mandatory,
        "advisory": len(items) - mandatory,
        "blocking": mandatory > 0,
        "verdicts": items,
    }


def _solver(plan: Plan | None) -> dict[str, Any] | None:
    if not plan:
        return None
    s = plan.get("solver", {})
    return {k: s.get(k) for k in ("status", "mipGap", "variables", "constraints")}


def budget_entry(limit: float, source: str, estimate: float, basis: str) -> dict[str, Any]:
    """The `budget` entry: what monthly-cost-limit compares, and the room left."""
    return {
        "limit": money(limit),
        "source": source,
        "estimate": money(estimate),
        "basis": basis,
        "headroom": money(limit - estimate),
        "headroomPercent": round((limit - estimate) / limit * 100, 2) + 0.0 if limit else None,
    }


def _weights(plan: Plan) -> dict[str, dict[str, float]]:
    return {
        service: {r: float(w) for r, w in sorted(regions.items())}
        for service, regions in sorted(plan.get("routing", {}).items())
    }


def compare(
    before: Plan | None,
    after: Plan,
    verdicts: Iterable[Mapping[str, Any]] = (),
    *,
    stack: str,
    threshold: float = ROUTING_THRESHOLD,
    budget: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `diff.json` document: what `after` changes against `before` (None: a new stack).
    `budget`: a `budget_entry` (None when the limit is not known)."""
    old, new = plan_pools(before), plan_pools(after)
    added = [_pool_entry(k, new[k]) for k in sorted(new.keys() - old.keys())]
    removed = [_pool_entry(k, old[k]) for k in sorted(old.keys() - new.keys())]
    resized, rebalanced = [], []
    for k in sorted(old.keys() & new.keys()):
        a, b = old[k], new[k]
        if any(a[f] != b[f] for f in ("nodes", "minNodes", "maxNodes")):
            resized.append(_pool_change(k, a, b))
        elif dict(a.get("replicas", {})) != dict(b.get("replicas", {})):
            rebalanced.append(_pool_change(k, a, b))
    clusters_before, clusters_after = set(_clusters(before)), set(_clusters(after))
    cost_after = cost_of(after)
    cost_before = cost_of(before) if before else None
    routing = routing_changes(before, after, threshold)
    catalog_before = before.get("catalog", {}).get("snapshot") if before else None
    catalog_after = after.get("catalog", {}).get("snapshot")
    changed = before is None or bool(
        added
        or removed
        or resized
        or rebalanced
        or routing
        or cost_before != cost_after
        or clusters_before != clusters_after
    )
    stability = after.get("stability", {})
    return {
        "version": DIFF_VERSION,
        "stack": stack,
        "new": before is None,
        "changed": changed,
        "cost": {
            "before": cost_before,
            "after": cost_after,
            "delta": _cost_delta(cost_before, cost_after) if cost_before else None,
        },
        "clusters": {
            "added": sorted(clusters_after - clusters_before),
            "removed": sorted(clusters_before - clusters_after),
        },
        "pools": {
            "added": added,
            "removed": removed,
            "resized": resized,
            "rebalanced": rebalanced,
        },
        "routing": {"threshold": threshold, "changes": routing, "weights": _weights(after)},
        "survivability": dict(after.get("survivability") or {}) or None,
        "budget": dict(budget) if budget else None,
        "policy": policy_summary(verdicts),
        "solver": {
            "before": _solver(before),
            "after": _solver(after),
            "stability": {
                "incumbent": stability.get("incumbent"),
                "kept": stability.get("kept"),
                "savingsPercent": stability.get("savingsPercent"),
            },
            "catalog": {
                "before": catalog_before,
                "after": catalog_after,
                "changed": before is not None
                and (before.get("catalog") or {}).get("sha256")
                != (after.get("catalog") or {}).get("sha256"),
            },
        },
    }


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


# ---------------------------------------------------------------------------------------
# describe (one line per change: the comment's headline and the lock check's message)


def _usd(x: float) -> str:
    return f"{x:,.2f}"


def _signed(x: float) -> str:
    return f"{x:+,.2f}"


def _pct(p: float | None) -> str:
    return "n/a" if p is None else f"{p:+.1f}%"


def _nodes(pair: Mapping[str, Any], unit: str = " nodes") -> str:
    """`1 -> 2 nodes`, plus the autoscaling bounds where they move differently."""
    a, b, c = pair["nodes"], pair["minNodes"], pair["maxNodes"]
    text = f"{a['before']} -> {a['after']}{unit}"
    if b["before"] != b["after"] and (b["before"], b["after"]) != (a["before"], a["after"]):
        text += f", min {b['before']} -> {b['after']}"
    if c["before"] != c["after"]:
        text += f", max {c['before']} -> {c['after']}"
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _count(nodes: int) -> str:
    return plural(nodes, "node")


def _replicas(r: Mapping[str, int]) -> str:
    return ", ".join(f"{s} x{n}" for s, n in sorted(r.items())) or "none"


def lock_changes(doc: Mapping[str, Any]) -> list[str]:
    """What changed, one short line each (clusters, pools, routing, then the total)."""
    out = [f"cluster {c} added" for c in doc["clusters"]["added"]]
    out += [f"cluster {c} removed" for c in doc["clusters"]["removed"]]
    pools = doc["pools"]
    for p in pools["added"]:
        out.append(f"{p['cluster']} {p['instanceType']} {p['pricing']} added: {_count(p['nodes'])}")
    for p in pools["removed"]:
        out.append(
            f"{p['cluster']} {p['instanceType']} {p['pricing']} removed: {_count(p['nodes'])}"
        )
    for p in pools["resized"]:
        out.append(f"{p['cluster']} {p['instanceType']} {p['pricing']} {_nodes(p)}")
    for p in pools["rebalanced"]:
        out.append(
            f"{p['cluster']} {p['instanceType']} {p['pricing']} replicas "
            f"{_replicas(p['replicas']['before'])} -> {_replicas(p['replicas']['after'])}"
        )
    for r in doc["routing"]["changes"]:
        out.append(f"routing {r['service']} {r['region']} {r['before']:g} -> {r['after']:g}")
    cost = doc["cost"]
    if cost["before"] and cost["before"]["total"] != cost["after"]["total"]:
        out.append(
            f"total {_usd(cost['before']['total'])} -> {_usd(cost['after']['total'])} USD/month"
        )
    return out


# ---------------------------------------------------------------------------------------
# render


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int] = frozenset()):
    align = ["--:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def placement_rows(plan: Plan) -> list[list[str]]:
    return [
        [
            key[0],
            f"{key[1]} ({p['acceleratorCount']}x{p['accelerator']})",
            key[2],
            f"{p['minNodes']}-{p['maxNodes']}",
            _usd(pool_monthly(p)),
            _replicas(p.get("replicas", {})),
        ]
        for key, p in sorted(plan_pools(plan).items())
    ]


PLACEMENT_HEADERS = ["CLUSTER", "INSTANCE", "PRICING", "NODES", "USD/MONTH", "REPLICAS"]


def _headline(doc: Mapping[str, Any]) -> str:
    policy = doc["policy"]
    if policy["blocking"]:
        n = policy["mandatory"]
        return f":no_entry: **blocked: {n} mandatory policy violation{'s' if n > 1 else ''}**"
    if policy["advisory"]:
        return f":warning: no mandatory policy violation, {policy['advisory']} advisory"
    return ":white_check_mark: all policies pass"


def _cost_lines(doc: Mapping[str, Any]) -> list[str]:
    cost = doc["cost"]
    after = cost["after"]
    if cost["before"] is None:
        by_cloud = [[c, _usd(v)] for c, v in after["byCloud"].items()]
        by_cloud.append(["**total**", _usd(after["total"])])
        by_category = [[k, _usd(after["byCategory"][k])] for k in CATEGORIES]
        return [
            f"**New stack: no earlier plan to compare.** Monthly cost **${_usd(after['total'])}**.",
            "",
            md_table(["BY CLOUD", "USD/MONTH"], by_cloud, right={1}),
            "",
            md_table(["BY CATEGORY", "USD/MONTH"], by_category, right={1}),
        ]
    before, delta = cost["before"], cost["delta"]
    head = (
        f"**Monthly cost: ${_usd(before['total'])} -> ${_usd(after['total'])} "
        f"({_signed(delta['total'])}, {_pct(delta['percent'])})**"
        if delta["total"]
        else f"**Monthly cost: ${_usd(after['total'])}, unchanged**"
    )

    def row(label: str, a: float | None, b: float | None) -> list[str]:
        x, y = a or 0.0, b or 0.0
        return [
            label,
            "-" if a is None else _usd(a),
            "-" if b is None else _usd(b),
            _signed(y - x) if x != y else "0.00",
            ("new" if not x else _pct(_percent(x, y))) if x != y else "",
        ]

    headers = ["USD/MONTH", "BEFORE", "AFTER", "DELTA", "%"]
    clouds = sorted(before["byCloud"].keys() | after["byCloud"].keys())
    by_cloud = [row(c, before["byCloud"].get(c), after["byCloud"].get(c)) for c in clouds]
    by_cloud.append(row("**total**", before["total"], after["total"]))
    by_category = [row(k, before["byCategory"][k], after["byCategory"][k]) for k in CATEGORIES]
    return [
        head,
        "",
        md_table(["BY CLOUD", *headers[1:]], by_cloud, right={1, 2, 3, 4}),
        "",
        md_table(["BY CATEGORY", *headers[1:]], by_category, right={1, 2, 3, 4}),
    ]


def _change_lines(doc: Mapping[str, Any]) -> list[str]:
    if doc["new"]:
        return []
    out = ["", "#### Placement changes", ""]
    clusters, pools = doc["clusters"], doc["pools"]
    routing = doc["routing"]["changes"]
    if not (clusters["added"] or clusters["removed"] or any(pools.values()) or routing):
        return [*out, "None: the same clusters, node pools and routing as before."]
    if clusters["added"]:
        out.append(f"- clusters added: {', '.join(clusters['added'])}")
    if clusters["removed"]:
        out.append(f"- clusters removed: {', '.join(clusters['removed'])}")
    if clusters["added"] or clusters["removed"]:
        out.append("")
    rows = []
    for p in pools["added"]:
        rows.append(
            [
                "added",
                p["cluster"],
                p["instanceType"],
                p["pricing"],
                f"{p['nodes']} ({p['minNodes']}-{p['maxNodes']})",
                f"+{_usd(p['monthlyUsd'])}",
                _replicas(p["replicas"]),
            ]
        )
    for p in pools["removed"]:
        rows.append(
            [
                "removed",
                p["cluster"],
                p["instanceType"],
                p["pricing"],
                f"{p['nodes']} ({p['minNodes']}-{p['maxNodes']})",
                f"-{_usd(p['monthlyUsd'])}",
                _replicas(p["replicas"]),
            ]
        )
    for kind in ("resized", "rebalanced"):
        for p in pools[kind]:
            usd = p["monthlyUsd"]
            reps = p["replicas"]
            rows.append(
                [
                    kind,
                    p["cluster"],
                    p["instanceType"],
                    p["pricing"],
                    _nodes(p, unit=""),
                    _signed(usd["after"] - usd["before"])
                    if usd["after"] != usd["before"]
                    else "0.00",
                    _replicas(reps["after"])
                    if reps["before"] == reps["after"]
                    else f"{_replicas(reps['before'])} -> {_replicas(reps['after'])}",
                ]
            )
    if rows:
        out.append(
            md_table(
                ["POOL", "CLUSTER", "INSTANCE", "PRICING", "NODES", "USD/MONTH", "REPLICAS"],
                rows,
                right={5},
            )
        )
    if routing:
        out += [
            "",
            f"Routing: {plural(len(routing), 'weight')} moved by more than "
            f"{doc['routing']['threshold']:.0%} of a service's traffic (below).",
        ]
    return out


def _routing_lines(doc: Mapping[str, Any]) -> list[str]:
    """Every service's weights per region (what the global DNS answers with), with the
    weight before where it moved by more than the threshold."""
    weights = doc["routing"].get("weights") or {}
    if not weights:
        return []
    moved = {(c["service"], c["region"]): c["before"] for c in doc["routing"]["changes"]}
    rows = []
    for service, regions in weights.items():
        gone = sorted(r for (s, r) in moved if s == service and r not in regions)
        for region in [*regions, *gone]:
            was = moved.get((service, region))
            rows.append(
                [
                    service,
                    region,
                    f"{regions.get(region, 0.0):.1%}",
                    "" if was is None else f"{was:.1%}",
                ]
            )
    return [
        "",
        "#### Routing",
        "",
        md_table(["SERVICE", "REGION", "WEIGHT", "BEFORE (if moved)"], rows, right={2, 3}),
    ]


def guarantee_lines(doc: Mapping[str, Any]) -> list[str]:
    """Survivability of the plan after, and the budget headroom."""
    out = []
    sv = doc.get("survivability")
    if sv:
        domain = "cloud" if sv.get("survive") == "cloud" else "region"
        served = float(sv.get("worstCaseServedFraction") or 0.0)
        worst = sv.get("worstCaseDomain")
        out.append(
            f"- **Survivability**: survive {sv.get('survive')}; the worst single-{domain} loss"
            + (f" ({worst})" if worst else "")
            + f" leaves {served:.1%} of demand served"
        )
    b = doc.get("budget")
    if b:
        pct = "" if b["headroomPercent"] is None else f", {b['headroomPercent']:.1f}% of it"
        if b["headroom"] >= 0:
            room = f"headroom ${_usd(b['headroom'])}{pct}"
        else:
            room = f"over by ${_usd(-b['headroom'])}"
        out.append(
            f"- **Budget**: estimate ${_usd(b['estimate'])} ({b['basis']} basis) against "
            f"${_usd(b['limit'])} ({b['source']}): {room}"
        )
    return ["", *out] if out else []


def policy_lines(doc: Mapping[str, Any], note: str = "") -> list[str]:
    policy = doc["policy"]
    out = ["", "#### Policy", ""]
    if note:
        out += [note, ""]
    if not policy["verdicts"]:
        return [*out, "All policies pass."]
    if policy["mandatory"]:
        out.append(
            f"{policy['mandatory']} mandatory (blocks the merge), {policy['advisory']} advisory:"
        )
    else:
        out.append(f"{policy['advisory']} advisory (does not block the merge):")
    out += [
        "",
        md_table(
            ["POLICY", "LEVEL", "RESOURCE", "MESSAGE"],
            [[v["policy"], v["level"], v["resource"], v["message"]] for v in policy["verdicts"]],
        ),
    ]
    return out


def _gap(s: Mapping[str, Any]) -> str:
    return f"{s['status']}, proven gap {float(s['mipGap'] or 0):.2e}"


def _solver_lines(doc: Mapping[str, Any]) -> list[str]:
    s = doc["solver"]
    text = f"Solver: {_gap(s['after'])}"
    if s["before"] and (s["before"]["status"], s["before"]["mipGap"]) != (
        s["after"]["status"],
        s["after"]["mipGap"],
    ):
        text += f" (before: {_gap(s['before'])})"
    st = s["stability"]
    if st.get("incumbent"):
        if st.get("kept"):
            text += f"; lock {st['incumbent']} kept"
        else:
            text += f"; lock {st['incumbent']} not kept: the placement moves"
            if st.get("savingsPercent") is not None:
                text += f" (saves {st['savingsPercent']:g}% against the lock re-priced)"
    else:
        stack = doc["stack"]
        text += (
            f"; **no lock**: placement.{stack}.json is missing, so nothing was kept "
            f"(`make lock STACK={stack}` writes it)"
        )
    cat = s["catalog"]
    if cat["changed"]:
        text += f"; catalog {cat['before']} -> {cat['after']} (prices changed)"
    else:
        text += f"; catalog {cat['after']}"
    return ["", text]


def _details(summary: str, body: str) -> list[str]:
    return ["", f"<details><summary>{summary}</summary>", "", body, "", "</details>"]


def render(
    doc: Mapping[str, Any],
    after: Plan,
    *,
    details: Sequence[tuple[str, str]] = (),
    policy_note: str = "",
    warnings: Sequence[str] = (),
) -> str:
    """The pull-request comment for one stack. `details` are extra collapsed sections
    (title, Markdown body) appended after the full placement table."""
    stack = doc["stack"]
    pools = plan_pools(after)
    out = [
        MARKER.format(stack=stack),
        f"### tricloud plan: `{stack}`",
        "",
        _headline(doc),
        "",
        *_cost_lines(doc),
        *guarantee_lines(doc),
        *_change_lines(doc),
        *_routing_lines(doc),
        *policy_lines(doc, policy_note),
        *_solver_lines(doc),
    ]
    if warnings:
        out += ["", "#### Warnings", ""] + [f"- {w}" for w in warnings]
    table = md_table(PLACEMENT_HEADERS, placement_rows(after), right={4})
    summary = (
        f"Full placement: {plural(len(after.get('clusters', [])), 'cluster')}, "
        f"{plural(len(pools), 'node pool')}"
    )
    if doc["new"]:
        out += ["", f"#### {summary}", "", table]
    else:
        out += _details(summary, table)
    for title, body in details:
        out += _details(title, body)
    out += ["", "_Offline plan under the Pulumi mock engine: nothing was sent to any cloud._", ""]
    return "\n".join(out)
