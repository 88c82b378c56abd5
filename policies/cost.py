"""Cost policies: monthly-cost-limit, max-nodes-per-pool, allowed-instance-types, spot-required,
replication-egress-limit. Prices come from `optimizer` (the optimizer's catalog)."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from optimizer import cost
from optimizer.catalog import ACCELERATORS, SYSTEM_POOL

from .common import (
    CannotCheck,
    as_cost_resource,
    catalog,
    config,
    get,
    plain,
    policy_file,
    short,
    unreadable,
    why_unreadable,
)

TOP_ITEMS = 5


def _money(x: float) -> str:
    # to a millionth first: floating-point noise on a half cent must not flip the cent
    return f"${round(round(x, 6), 2):,.2f}"


# --- monthly-cost-limit --------------------------------------------------------------------

COST_DEFAULTS: dict[str, Any] = {"basis": "max"}


BUDGET_OUTPUT = "monthlyBudgetUsd"  # the stack output holding tricloud:placement.monthlyBudgetUsd


def stack_budget(args: StackValidationArgs) -> float | None:
    """The budget the stack exports (`monthlyBudgetUsd`), None when it exports none."""
    stacks = [r for r in args.resources if r.resource_type == STACK_TYPE]
    budget = get(plain(stacks[0].props), BUDGET_OUTPUT) if stacks else None
    return budget if isinstance(budget, int | float) and not isinstance(budget, bool) else None


def monthly_cost_limit(args: StackValidationArgs, report: ReportViolation) -> None:
    cfg = config(args, COST_DEFAULTS)
    limit = cfg.get("maxMonthlyUsd")
    urn = next((r.urn for r in args.resources), "")
    if limit is not None:
        source = f"maxMonthlyUsd {_money(limit)}"
        fix = f"raise maxMonthlyUsd in {policy_file(urn)}"
    else:
        # No limit configured (no policy config file, or one without it): the stack's own
        # budget holds, so deleting the config cannot remove the guardrail.
        limit = stack_budget(args)
        if limit is None:
            args.not_applicable(
                "no maxMonthlyUsd configured and the stack exports no monthlyBudgetUsd"
            )
        source = f"the stack's tricloud:placement.monthlyBudgetUsd {_money(limit)}"
        fix = f"raise the budget, or set maxMonthlyUsd in {policy_file(urn)}"
    basis = cfg["basis"]
    est = cost.estimate((as_cost_resource(r) for r in args.resources), catalog(), basis)
    unknown = [u for u in est.unpriced if u.unknown]
    unpriced = [u for u in est.unpriced if not u.unknown]
    if est.total > limit:
        lines = [
            f"{i + 1}) {item.label} {_money(item.monthly_usd)}"
            + (f" ({item.note})" if item.note else "")
            for i, item in enumerate(est.top(TOP_ITEMS))
        ]
        extra = (
            f" Not priced (add them to the total yourself): "
            f"{'; '.join(f'{short(u.urn)}: {u.reason}' for u in unpriced)}."
            if unpriced
            else ""
        )
        report(
            f"Estimated monthly cost {_money(est.total)} ({basis} basis: "
            f"{'autoscaling ceilings' if basis == 'max' else 'starting node counts'} of "
            f"{sum(1 for i in est.items if i.kind != 'cluster')} node pools + "
            f"{sum(1 for i in est.items if i.kind == 'cluster')} cluster fees) exceeds "
            f"{source} by {_money(est.total - limit)}. "
            f"Top cost items: {'; '.join(lines)}.{extra} "
            "Fix: lower the pools' maximum sizes (tricloud:placement.maxNodesFactor), use cheaper "
            f"instance types or spot, drop a cluster, or {fix}.",
            None,
        )
    if unknown:
        raise CannotCheck(
            f"{len(unknown)} node pools could not be priced ("
            + "; ".join(f"{short(u.urn)}: {u.reason}" for u in unknown)
            + f"); the {_money(est.total)} estimate leaves them out"
        )


MONTHLY_COST_LIMIT = StackValidationPolicy(
    name="monthly-cost-limit",
    description=(
        "The stack's estimated monthly cost (node pools at their autoscaling ceiling or their "
        "starting size, plus cluster fees, priced from the optimizer's catalog) must not exceed "
        "maxMonthlyUsd."
    ),
    validate=monthly_cost_limit,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxMonthlyUsd": {
                "type": "number",
                "minimum": 0,
                "description": (
                    "Monthly budget in USD; unset = the stack's exported monthlyBudgetUsd "
                    "(tricloud:placement.monthlyBudgetUsd), not applicable without one."
                ),
            },
            "basis": {
                "type": "string",
                "enum": list(cost.BASES),
                "default": "max",
                "description": "max: autoscaling ceilings (worst case); desired: starting sizes.",
            },
        }
    ),
)


# --- pools ---------------------------------------------------------------------------------


def _pools(args: ResourceValidationArgs) -> list[cost.Pool]:
    return cost.read_pools(as_cost_resource(args))


def is_gpu_pool(pool: cost.Pool, inputs: dict[str, Any]) -> bool:
    """A pool of GPU nodes: a catalog GPU type, or GPUs declared on it."""
    if pool.system:
        return False
    known = {o.instance_type for o in catalog().offerings if o.cloud == pool.cloud}
    if any(t in known for t in pool.instance_types) or pool.accelerators:
        return True
    ami = inputs.get("amiType")
    return bool(inputs.get("gpuProfile")) or (isinstance(ami, str) and "NVIDIA" in ami)


def _what(pool: cost.Pool) -> str:
    return f"{pool.cloud} pool {pool.name} ({', '.join(pool.instance_types) or 'no type'})"


# --- max-nodes-per-pool --------------------------------------------------------------------

NODES_DEFAULTS: dict[str, Any] = {"maxNodesPerPool": 20}


def max_nodes_per_pool(args: ResourceValidationArgs, report: ReportViolation) -> None:
    limit = config(args, NODES_DEFAULTS)["maxNodesPerPool"]
    inputs = plain(args.props)
    cannot = []
    for pool in _pools(args):
        if pool.max_nodes is None:
            if pool.unknown:
                cannot.append(f"{_what(pool)}: {', '.join(pool.unknown)}")
            else:
                report(
                    f"{_what(pool)} declares no maximum node count. Limit: autoscaling bounds "
                    f"with a maximum of at most {limit} nodes. Fix: set the pool's autoscaling "
                    "maximum (EKS scalingConfig.maxSize, AKS enableAutoScaling + maxCount, GKE "
                    "autoscaling.totalMaxNodeCount).",
                    None,
                )
            continue
        if is_gpu_pool(pool, inputs) and not pool.autoscaling:
            report(
                f"{_what(pool)} has a fixed size of {pool.max_nodes} nodes and no autoscaling "
                "bounds. Limit: GPU pools autoscale between a minimum and a maximum. Fix: set "
                "AKS enableAutoScaling with minCount/maxCount, or a GKE autoscaling block.",
                None,
            )
        if pool.max_nodes > limit:
            zones = (
                f" (per-zone counts x {pool.zones} zones)"
                if pool.cloud == "gcp" and pool.zones > 1
                else ""
            )
            report(
                f"{_what(pool)} may scale to {pool.max_nodes} nodes{zones}. Limit: "
                f"maxNodesPerPool {limit}. Fix: lower the pool's maximum (the plan's "
                "maxNodesFactor), use a larger instance type, or raise maxNodesPerPool in "
                f"{policy_file(args.urn)}.",
                None,
            )
    if cannot:
        raise CannotCheck("; ".join(cannot))


MAX_NODES_PER_POOL = ResourceValidationPolicy(
    name="max-nodes-per-pool",
    description=(
        "Node pools have autoscaling bounds and at most maxNodesPerPool nodes (GKE per-zone "
        "counts multiplied by the pool's zones)."
    ),
    validate=max_nodes_per_pool,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxNodesPerPool": {
                "type": "integer",
                "minimum": 1,
                "default": 20,
                "description": "Largest autoscaling maximum a node pool may declare.",
            }
        }
    ),
)


# --- allowed-instance-types ----------------------------------------------------------------

TYPES_DEFAULTS: dict[str, Any] = {"allowedAccelerators": []}


def allowed_instance_types(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = list(config(args, TYPES_DEFAULTS)["allowedAccelerators"] or [])
    cat = catalog()
    cannot = []
    for pool in _pools(args):
        type_paths = {"instanceTypes", "vmSize", "nodeConfig.machineType"} & set(pool.unknown)
        if type_paths or (not pool.instance_types and pool.unknown):
            cannot.append(f"{_what(pool)}: {', '.join(sorted(type_paths or set(pool.unknown)))}")
        if any(p.startswith("nodeConfig.guestAccelerators") for p in pool.unknown):
            cannot.append(f"{_what(pool)}: nodeConfig.guestAccelerators")
        where = f"{pool.cloud}/{pool.region}" if pool.region else pool.cloud
        for instance_type in pool.instance_types:
            if instance_type == SYSTEM_POOL[pool.cloud][0]:
                continue
            o = cost.offering(cat, pool.cloud, pool.region, instance_type)
            if o is None:
                elsewhere = sorted(
                    f"{x.region}"
                    for x in cat.offerings
                    if x.cloud == pool.cloud and x.instance_type == instance_type
                )
                found = (
                    f"offered by the catalog only in {', '.join(elsewhere)}"
                    if elsewhere
                    else "not in the catalog"
                )
                report(
                    f"{_what(pool)}: instance type {instance_type} is {found}. Limit: a GPU "
                    f"type the catalog ({cat.snapshot}) offers in {where}, or the system pool "
                    f"type {SYSTEM_POOL[pool.cloud][0]}. Fix: pick a catalog type for this "
                    "region (optimizer/data/offerings.csv) or refresh the catalog.",
                    None,
                )
                continue
            mismatch = cost._accelerator_mismatch(pool, o)
            if mismatch:
                report(
                    f"{_what(pool)}: {mismatch}. Fix: declare the offering's accelerators "
                    "(type and count) or use the machine type that has them.",
                    None,
                )
            if allowed and o.accelerator not in allowed:
                report(
                    f"{_what(pool)}: {instance_type} carries {o.accelerator_count} x "
                    f"{o.accelerator}. Limit: allowedAccelerators {', '.join(allowed)}. Fix: "
                    "use a type with an allowed accelerator (restrict the services' "
                    f"throughputRps keys), or allow it in {policy_file(args.urn)}.",
                    None,
                )
    if cannot:
        raise CannotCheck("; ".join(cannot))


ALLOWED_INSTANCE_TYPES = ResourceValidationPolicy(
    name="allowed-instance-types",
    description=(
        "Node pool instance/VM/machine types are known to the optimizer's catalog in the pool's "
        "region (or are the cluster's system pool type) and, when allowedAccelerators is set, "
        "carry an allowed accelerator."
    ),
    validate=allowed_instance_types,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedAccelerators": {
                "type": "array",
                "items": {"type": "string", "enum": list(ACCELERATORS)},
                "default": [],
                "description": "Accelerators GPU pools may carry; empty = any in the catalog.",
            }
        }
    ),
)


# --- spot-required -------------------------------------------------------------------------

SPOT_DEFAULTS: dict[str, Any] = {"requireSpot": False}
_SPOT_FIX = {
    "aws": "capacity_type='SPOT'",
    "azure": "scale_set_priority='Spot' (eviction Delete, spot_max_price=-1)",
    "gcp": "node_config.spot=True",
}


def spot_required(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not config(args, SPOT_DEFAULTS)["requireSpot"]:
        return
    inputs = plain(args.props)
    cannot = []
    for pool in _pools(args):
        if not is_gpu_pool(pool, inputs):
            continue
        pricing_paths = {"capacityType", "scaleSetPriority", "nodeConfig.spot"}
        if pricing_paths & set(pool.unknown) or (
            pool.cloud == "gcp" and "nodeConfig.preemptible" in pool.unknown
        ):
            cannot.append(f"{_what(pool)}: pricing")
            continue
        if pool.pricing != "spot":
            report(
                f"{_what(pool)} is an on-demand GPU pool. Limit: requireSpot is true for this "
                f"stack, every GPU pool must be spot. Fix: set {_SPOT_FIX[pool.cloud]} (the "
                "optimizer does with placement.maxSpotFraction 1.0), or set requireSpot false.",
                None,
            )
    if cannot:
        raise CannotCheck("; ".join(cannot))


SPOT_REQUIRED = ResourceValidationPolicy(
    name="spot-required",
    description="GPU node pools run on spot capacity when requireSpot is true (dev stacks).",
    validate=spot_required,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "requireSpot": {
                "type": "boolean",
                "default": False,
                "description": "Every GPU pool must be spot (system pools are exempt).",
            }
        }
    ),
)


# --- replication-egress-limit --------------------------------------------------------------

STACK_TYPE = "pulumi:pulumi:Stack"
EGRESS_DEFAULTS: dict[str, Any] = {}


def replication_egress_limit(args: StackValidationArgs, report: ReportViolation) -> None:
    """Replication egress is volume x rate. No transfer resource (S3 replication, Storage
    Transfer jobs, DataSync tasks, Data Factory pipelines) says how many GB it will move, so the
    estimate is the plan the stack exports as `placement`: its replication targets, each priced
    by the optimizer from the datasets' size and daily change and the catalog's egress rates."""
    limit = config(args, EGRESS_DEFAULTS).get("maxEgressMonthlyUsd")
    if limit is None:
        args.not_applicable("no maxEgressMonthlyUsd configured")
    stacks = [r for r in args.resources if r.resource_type == STACK_TYPE]
    placement = get(plain(stacks[0].props), "placement") if stacks else None
    if placement is None:
        raise CannotCheck(
            "the stack exports no `placement` (the plan whose replication targets give the "
            "egress estimate); export it, or disable replication-egress-limit"
        )
    targets = get(placement, "replication.targets")
    if unreadable(placement) or unreadable(targets):
        raise CannotCheck(f"the placement output {why_unreadable(placement)}")
    targets = targets or []
    amounts = [get(t, "monthlyEgressUsd") for t in targets]
    if any(unreadable(a) or a is None for a in amounts):
        raise CannotCheck("a replication target's monthlyEgressUsd is not known")
    total = sum(float(a) for a in amounts)
    if total > limit:
        primary = get(placement, "replication.primary")
        parts = sorted(zip(amounts, (get(t, "region") for t in targets), strict=True), reverse=True)
        report(
            f"Estimated replication egress {_money(total)}/month from {primary} to "
            f"{len(targets)} regions ("
            + ", ".join(f"{region} {_money(a)}" for a, region in parts)
            + f") exceeds maxEgressMonthlyUsd {_money(limit)}. Fix: choose a primary nearer the "
            "serving regions (tricloud:replication.primary), replicate fewer or smaller "
            "datasets, serve from fewer regions, or raise maxEgressMonthlyUsd.",
            None,
        )


REPLICATION_EGRESS_LIMIT = StackValidationPolicy(
    name="replication-egress-limit",
    description=(
        "Estimated monthly dataset replication egress (the exported plan's replication targets, "
        "priced from the catalog's egress rates) must not exceed maxEgressMonthlyUsd."
    ),
    validate=replication_egress_limit,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxEgressMonthlyUsd": {
                "type": "number",
                "minimum": 0,
                "description": "Replication egress budget in USD/month; unset = not applicable.",
            }
        }
    ),
)
