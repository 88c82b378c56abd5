"""What a stack needs: services, placement rules, replication (design section 3).

`parse(raw, catalog, prefix="")` validates the raw values (as read from YAML) and returns a
frozen `Scenario`, or raises one `InputError` naming every bad key path, its value and what
is allowed. `prefix` is prepended to key paths ("tricloud:" in the Pulumi program, where the
values come from stack config).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .catalog import ACCELERATOR_MEMORY_GB, ACCELERATORS, CLOUDS, Catalog
from .errors import Collector, InputError, Problem
from .geo import GEOS

SURVIVE = ("none", "region", "cloud")
MODES = ("incremental", "mirror")
_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    replica_gpu_memory_gb: float
    throughput_rps: dict[str, float]  # accelerator -> rps per replica
    demand_rps: dict[str, float]  # geo -> peak rps
    latency_slo_ms: float
    min_replicas: int = 1
    model_size_gb: float = 0.0
    port: int = 8000
    allowed_regions: tuple[str, ...] = ()
    # RTT limit for routing after a failure (survive: region/cloud); None = latency_slo_ms
    failover_latency_slo_ms: float | None = None

    @property
    def total_demand(self) -> float:
        return sum(self.demand_rps.values())

    @property
    def failover_slo_ms(self) -> float:
        """The RTT limit re-routed demand must meet after losing a failure domain."""
        if self.failover_latency_slo_ms is None:
            return self.latency_slo_ms
        return self.failover_latency_slo_ms

    def gpus_per_replica(self, accelerator: str) -> int:
        """Smallest power of two whose GPUs hold `replica_gpu_memory_gb` (design 3)."""
        mem = ACCELERATOR_MEMORY_GB[accelerator]
        count = 1
        while count * mem < self.replica_gpu_memory_gb:
            count *= 2
        return count


@dataclass(frozen=True)
class Stability:
    min_savings_percent: float = 10.0
    migration_cost_usd_per_node: float = 0.0


@dataclass(frozen=True)
class Placement:
    min_clouds: int = 1
    survive: str = "none"
    spot_survival_factor: float = 0.0
    max_spot_fraction: float = 0.0
    allowed_regions: tuple[str, ...] = ()
    quotas_gpu: dict[str, int] = field(default_factory=dict)  # "cloud/region/ACC" -> GPUs
    monthly_budget_usd: float | None = None
    latency_weight_usd_per_ms: float = 0.0
    cluster_overhead_usd_per_month: float = 0.0
    max_clusters: int | None = None
    stability: Stability = Stability()
    max_nodes_factor: float = 1.5  # autoscaling ceiling = ceil(nodes * factor)
    mip_gap: float = 1e-4  # relative gap at which the solver stops (proven)
    # Deterministic work limit in branch-and-bound nodes; None = sized to the model
    # (`solver.auto_node_limit`), so it binds before the time limit's safety net.
    solver_node_limit: int | None = None
    solver_time_limit_seconds: float = 60.0  # safety net only
    # The billing account's GKE free-tier credit goes to this stack: one GKE cluster runs a
    # zonal control plane (the credit covers zonal and Autopilot clusters only) and its
    # management fee is credited (`cost.gke_free_tier_credit`).
    gke_free_tier_credit: bool = False


@dataclass(frozen=True)
class Dataset:
    name: str
    size_gb: float
    daily_change_gb: float = 0.0


@dataclass(frozen=True)
class Replication:
    primary: str = "auto"  # "auto" or "cloud/region"
    mode: str = "incremental"
    max_staleness_minutes: int = 60
    datasets: tuple[Dataset, ...] = ()


@dataclass(frozen=True)
class Scenario:
    services: tuple[Service, ...]
    placement: Placement = Placement()
    replication: Replication = Replication()
    clouds: tuple[str, ...] = CLOUDS


# ---------------------------------------------------------------------------------------
# Validation helpers: each takes the key path and the collector, returns a clean value or
# None (after recording a problem).


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(v, key, errors, *, lo=None, hi=None, lo_open=False, integer=False, allowed=""):
    kind = "an integer" if integer else "a number"
    ok = isinstance(v, int | float) and not isinstance(v, bool)
    if ok and integer and isinstance(v, float):
        ok = v.is_integer()
    if not ok or (isinstance(v, float) and not math.isfinite(v)):
        errors.add(key, f"{_show(v)} is not {kind}; allowed: {allowed or kind}")
        return None
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
        errors.add(key, f"{_show(v)} is out of range; allowed: {allowed}")
        return None
    return int(v) if integer else float(v)


def _str(v, key, errors, allowed="a non-empty string"):
    if not isinstance(v, str) or not v.strip():
        errors.add(key, f"{_show(v)} is not {allowed}")
        return None
    return v


def _mapping(v, key, errors, what="a mapping"):
    if not isinstance(v, dict):
        errors.add(key, f"{_show(v)} is not {what}")
        return None
    return v


def _unknown_keys(raw: dict, known: tuple[str, ...], key: str, errors: Collector) -> None:
    for k in raw:
        if k not in known:
            errors.add(f"{key}.{k}" if key else str(k), f"unknown key; allowed: {', '.join(known)}")


def _region_patterns(v, key, errors, catalog: Catalog, clouds) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        errors.add(key, f'{_show(v)} is not a list of "cloud/region" or "cloud/*"')
        return ()
    out = []
    for i, entry in enumerate(v):
        where = f"{key}[{i}]"
        if not isinstance(entry, str) or entry.count("/") != 1:
            errors.add(where, f'{_show(entry)} is not "cloud/region" or "cloud/*"')
            continue
        cloud, region = entry.split("/")
        if cloud not in clouds:
            errors.add(where, f"unknown cloud {cloud!r} in {entry!r}; allowed: {', '.join(clouds)}")
        elif region != "*" and entry not in catalog.regions:
            known = ", ".join(r.region for r in catalog.regions.values() if r.cloud == cloud)
            errors.add(where, f"unknown region {entry!r}; known {cloud} regions: {known}")
        else:
            out.append(entry)
    return tuple(out)


def region_allowed(region_key: str, patterns: tuple[str, ...]) -> bool:
    """Residency: an empty pattern list allows everything."""
    if not patterns:
        return True
    cloud = region_key.split("/")[0]
    return region_key in patterns or f"{cloud}/*" in patterns


# ---------------------------------------------------------------------------------------


SERVICE_KEYS = (
    "name",
    "image",
    "replicaGpuMemoryGb",
    "throughputRps",
    "demandRps",
    "latencySloMs",
    "failoverLatencySloMs",
    "minReplicas",
    "modelSizeGb",
    "port",
    "allowedRegions",
)
PLACEMENT_KEYS = (
    "minClouds",
    "survive",
    "spotSurvivalFactor",
    "maxSpotFraction",
    "allowedRegions",
    "quotasGpu",
    "monthlyBudgetUsd",
    "latencyWeightUsdPerMs",
    "clusterOverheadUsdPerMonth",
    "maxClusters",
    "stability",
    "maxNodesFactor",
    "mipGap",
    "solverNodeLimit",
    "solverTimeLimitSeconds",
    "gkeFreeTierCredit",
)
REPLICATION_KEYS = ("primary", "mode", "maxStalenessMinutes", "datasets")
SCENARIO_KEYS = ("clouds", "services", "placement", "replication")


def _parse_service(raw, key, errors, catalog: Catalog, clouds) -> Service | None:
    if _mapping(raw, key, errors, "a mapping with the keys of a service") is None:
        return None
    _unknown_keys(raw, SERVICE_KEYS, key, errors)
    n_before = len(errors.problems)
    for required in (
        "name",
        "image",
        "replicaGpuMemoryGb",
        "throughputRps",
        "demandRps",
        "latencySloMs",
    ):
        if required not in raw:
            errors.add(f"{key}.{required}", "is required")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME_RE.match(name)):
        errors.add(
            f"{key}.name",
            f"{_show(name)} is not a DNS label "
            "(lowercase letters, digits, '-', at most 63 characters)",
        )
    image = _str(raw.get("image", "x"), f"{key}.image", errors)
    mem = _num(
        raw.get("replicaGpuMemoryGb", 1),
        f"{key}.replicaGpuMemoryGb",
        errors,
        lo=0,
        lo_open=True,
        allowed="a number of GB > 0",
    )
    thr: dict[str, float] = {}
    traw = _mapping(
        raw.get("throughputRps", {}),
        f"{key}.throughputRps",
        errors,
        "a mapping of accelerator to rps per replica",
    )
    if traw is not None:
        if "throughputRps" in raw and not traw:
            errors.add(
                f"{key}.throughputRps", f"is empty; list at least one of {', '.join(ACCELERATORS)}"
            )
        for acc, rps in traw.items():
            where = f"{key}.throughputRps.{acc}"
            if acc not in ACCELERATOR_MEMORY_GB:
                errors.add(
                    f"{key}.throughputRps",
                    f"unknown accelerator {_show(acc)}; known: {', '.join(ACCELERATORS)}",
                )
                continue
            v = _num(rps, where, errors, lo=0, lo_open=True, allowed="rps per replica > 0")
            if v is not None:
                thr[acc] = v
    demand: dict[str, float] = {}
    draw = _mapping(
        raw.get("demandRps", {}), f"{key}.demandRps", errors, "a mapping of user geo to peak rps"
    )
    if draw is not None:
        if "demandRps" in raw and not draw:
            errors.add(
                f"{key}.demandRps", f"is empty; give peak rps for at least one of {', '.join(GEOS)}"
            )
        for geo, rps in draw.items():
            if geo not in GEOS:
                errors.add(
                    f"{key}.demandRps", f"unknown geo {_show(geo)}; known: {', '.join(GEOS)}"
                )
                continue
            v = _num(rps, f"{key}.demandRps.{geo}", errors, lo=0, lo_open=True, allowed="rps > 0")
            if v is not None:
                demand[geo] = v
    slo = _num(
        raw.get("latencySloMs", 1),
        f"{key}.latencySloMs",
        errors,
        lo=0,
        lo_open=True,
        allowed="milliseconds > 0",
    )
    failover = raw.get("failoverLatencySloMs")
    if failover is not None:
        failover = _num(
            failover,
            f"{key}.failoverLatencySloMs",
            errors,
            lo=0,
            lo_open=True,
            allowed="milliseconds >= the service's latencySloMs",
        )
        if failover is not None and slo is not None and failover < slo:
            errors.add(
                f"{key}.failoverLatencySloMs",
                f"{failover:g} is below latencySloMs ({slo:g}); "
                "allowed: milliseconds >= the service's latencySloMs",
            )
    min_rep = _num(
        raw.get("minReplicas", 1),
        f"{key}.minReplicas",
        errors,
        lo=1,
        integer=True,
        allowed="an integer >= 1",
    )
    size = _num(raw.get("modelSizeGb", 0), f"{key}.modelSizeGb", errors, lo=0, allowed="GB >= 0")
    port = _num(
        raw.get("port", 8000),
        f"{key}.port",
        errors,
        lo=1,
        hi=65535,
        integer=True,
        allowed="an integer 1..65535",
    )
    allowed = _region_patterns(
        raw.get("allowedRegions"), f"{key}.allowedRegions", errors, catalog, clouds
    )
    if len(errors.problems) != n_before:
        return None
    svc = Service(name, image, mem, thr, demand, slo, min_rep, size, port, allowed, failover)  # type: ignore[arg-type]
    # Fit: some node of a listed accelerator must hold one replica.
    fits = [
        acc
        for acc in thr
        if any(
            o.accelerator == acc
            and o.accelerator_count >= svc.gpus_per_replica(acc)
            and o.cloud in clouds
            for o in catalog.offerings
        )
    ]
    if not fits:
        biggest = {
            acc: max(
                (
                    o.accelerator_count * ACCELERATOR_MEMORY_GB[acc]
                    for o in catalog.offerings
                    if o.accelerator == acc and o.cloud in clouds
                ),
                default=0,
            )
            for acc in thr
        }
        detail = ", ".join(f"{acc} up to {gb:g} GB" for acc, gb in sorted(biggest.items()))
        errors.add(
            f"{key}.replicaGpuMemoryGb",
            f"{mem:g} GB per replica fits on no node of the "
            f"listed accelerators ({detail}); lower it or list a larger accelerator",
        )
        return None
    return svc


def _parse_placement(raw, key, errors, catalog: Catalog, clouds) -> Placement | None:
    raw = {} if raw is None else raw
    if _mapping(raw, key, errors) is None:
        return None
    _unknown_keys(raw, PLACEMENT_KEYS, key, errors)
    n_before = len(errors.problems)
    d = Placement()
    min_clouds = _num(
        raw.get("minClouds", d.min_clouds),
        f"{key}.minClouds",
        errors,
        lo=1,
        hi=len(clouds),
        integer=True,
        allowed=f"an integer 1..{len(clouds)} (the number of clouds: {', '.join(clouds)})",
    )
    survive = raw.get("survive", d.survive)
    if survive not in SURVIVE:
        errors.add(
            f"{key}.survive", f"{_show(survive)} is not allowed; allowed: {', '.join(SURVIVE)}"
        )
    elif survive == "cloud" and len(clouds) < 2:
        errors.add(
            f"{key}.survive", f"'cloud' needs at least two clouds; clouds are {', '.join(clouds)}"
        )
    ssf = _num(
        raw.get("spotSurvivalFactor", d.spot_survival_factor),
        f"{key}.spotSurvivalFactor",
        errors,
        lo=0,
        hi=1,
        allowed="a number 0..1",
    )
    msf = _num(
        raw.get("maxSpotFraction", d.max_spot_fraction),
        f"{key}.maxSpotFraction",
        errors,
        lo=0,
        hi=1,
        allowed="a number 0..1",
    )
    allowed = _region_patterns(
        raw.get("allowedRegions"), f"{key}.allowedRegions", errors, catalog, clouds
    )
    quotas: dict[str, int] = {}
    qraw = _mapping(
        raw.get("quotasGpu", {}),
        f"{key}.quotasGpu",
        errors,
        'a mapping of "cloud/region/ACCELERATOR" to a GPU count',
    )
    for qkey, count in (qraw or {}).items():
        where = f"{key}.quotasGpu"
        parts = qkey.split("/") if isinstance(qkey, str) else []
        if len(parts) != 3:
            errors.add(where, f'{_show(qkey)} is not "cloud/region/ACCELERATOR"')
            continue
        if f"{parts[0]}/{parts[1]}" not in catalog.regions or parts[0] not in clouds:
            errors.add(where, f"unknown region {parts[0]}/{parts[1]!s} in {qkey!r}")
            continue
        if parts[2] not in ACCELERATOR_MEMORY_GB:
            errors.add(
                where,
                f"unknown accelerator {parts[2]!r} in {qkey!r}; known: {', '.join(ACCELERATORS)}",
            )
            continue
        v = _num(
            count, f"{where}.{qkey}", errors, lo=0, integer=True, allowed="GPUs, an integer >= 0"
        )
        if v is not None:
            quotas[qkey] = v
    budget = raw.get("monthlyBudgetUsd")
    if budget is not None:
        budget = _num(
            budget,
            f"{key}.monthlyBudgetUsd",
            errors,
            lo=0,
            lo_open=True,
            allowed="USD per month > 0",
        )
    lat_w = _num(
        raw.get("latencyWeightUsdPerMs", 0.0),
        f"{key}.latencyWeightUsdPerMs",
        errors,
        lo=0,
        allowed="a number >= 0",
    )
    overhead = _num(
        raw.get("clusterOverheadUsdPerMonth", 0.0),
        f"{key}.clusterOverheadUsdPerMonth",
        errors,
        lo=0,
        allowed="USD >= 0",
    )
    max_clusters = raw.get("maxClusters")
    if max_clusters is not None:
        max_clusters = _num(
            max_clusters,
            f"{key}.maxClusters",
            errors,
            lo=1,
            integer=True,
            allowed="an integer >= 1",
        )
    stab_raw = _mapping(raw.get("stability", {}), f"{key}.stability", errors)
    stability = Stability()
    if stab_raw is not None:
        _unknown_keys(
            stab_raw, ("minSavingsPercent", "migrationCostUsdPerNode"), f"{key}.stability", errors
        )
        msp = _num(
            stab_raw.get("minSavingsPercent", stability.min_savings_percent),
            f"{key}.stability.minSavingsPercent",
            errors,
            lo=0,
            hi=100,
            allowed="a percentage 0..100",
        )
        mig = _num(
            stab_raw.get("migrationCostUsdPerNode", stability.migration_cost_usd_per_node),
            f"{key}.stability.migrationCostUsdPerNode",
            errors,
            lo=0,
            allowed="USD >= 0",
        )
        if msp is not None and mig is not None:
            stability = Stability(msp, mig)
    factor = _num(
        raw.get("maxNodesFactor", d.max_nodes_factor),
        f"{key}.maxNodesFactor",
        errors,
        lo=1,
        hi=10,
        allowed="a number 1..10",
    )
    gap = _num(
        raw.get("mipGap", d.mip_gap),
        f"{key}.mipGap",
        errors,
        lo=0,
        hi=0.5,
        allowed="a relative gap 0..0.5",
    )
    nodes = raw.get("solverNodeLimit", "auto")
    nodes = (
        None
        if nodes == "auto"
        else _num(
            nodes,
            f"{key}.solverNodeLimit",
            errors,
            lo=1,
            integer=True,
            allowed='"auto" or an integer >= 1',
        )
    )
    tlim = _num(
        raw.get("solverTimeLimitSeconds", d.solver_time_limit_seconds),
        f"{key}.solverTimeLimitSeconds",
        errors,
        lo=0,
        lo_open=True,
        allowed="seconds > 0",
    )
    credit = raw.get("gkeFreeTierCredit", False)
    if not isinstance(credit, bool):
        errors.add(
            f"{key}.gkeFreeTierCredit", f"{_show(credit)} is not allowed; allowed: true, false"
        )
    if len(errors.problems) != n_before:
        return None
    return Placement(
        min_clouds,
        survive,
        ssf,
        msf,
        allowed,
        quotas,
        budget,
        lat_w,
        overhead,  # type: ignore[arg-type]
        max_clusters,
        stability,
        factor,
        gap,
        nodes,
        tlim,
        credit,
    )  # type: ignore[arg-type]


def _parse_replication(raw, key, errors, catalog: Catalog, clouds) -> Replication | None:
    raw = {} if raw is None else raw
    if _mapping(raw, key, errors) is None:
        return None
    _unknown_keys(raw, REPLICATION_KEYS, key, errors)
    n_before = len(errors.problems)
    primary = raw.get("primary", "auto")
    if primary != "auto":
        if not isinstance(primary, str) or primary not in catalog.regions:
            errors.add(
                f"{key}.primary",
                f"{_show(primary)} is not allowed; allowed: auto or a "
                'catalog region "cloud/region"',
            )
        elif primary.split("/")[0] not in clouds:
            errors.add(
                f"{key}.primary", f"{primary!r} is on a cloud not in clouds ({', '.join(clouds)})"
            )
    mode = raw.get("mode", "incremental")
    if mode not in MODES:
        errors.add(f"{key}.mode", f"{_show(mode)} is not allowed; allowed: {', '.join(MODES)}")
    stale = _num(
        raw.get("maxStalenessMinutes", 60),
        f"{key}.maxStalenessMinutes",
        errors,
        lo=1,
        integer=True,
        allowed="minutes, an integer >= 1",
    )
    datasets = []
    draw = raw.get("datasets", [])
    if not isinstance(draw, list):
        errors.add(f"{key}.datasets", f"{_show(draw)} is not a list of datasets")
        draw = []
    names = set()
    for i, ds in enumerate(draw):
        where = f"{key}.datasets[{i}]"
        if _mapping(ds, where, errors, "a mapping with name, sizeGb, dailyChangeGb") is None:
            continue
        _unknown_keys(ds, ("name", "sizeGb", "dailyChangeGb"), where, errors)
        if "name" not in ds:
            errors.add(f"{where}.name", "is required")
        name = _str(ds.get("name"), f"{where}.name", errors) if "name" in ds else None
        if name in names:
            errors.add(f"{where}.name", f"duplicate dataset name {name!r}")
        names.add(name)
        if "sizeGb" not in ds:
            errors.add(f"{where}.sizeGb", "is required (GB >= 0)")
            size = None
        else:
            size = _num(ds["sizeGb"], f"{where}.sizeGb", errors, lo=0, allowed="GB >= 0")
        change = _num(
            ds.get("dailyChangeGb", 0),
            f"{where}.dailyChangeGb",
            errors,
            lo=0,
            allowed="GB per day >= 0",
        )
        if None not in (name, size, change):
            datasets.append(Dataset(name, size, change))  # type: ignore[arg-type]
    if len(errors.problems) != n_before:
        return None
    return Replication(primary, mode, stale, tuple(datasets))  # type: ignore[arg-type]


def parse(raw: Any, catalog: Catalog, prefix: str = "") -> Scenario:
    """Validate raw scenario values and build a `Scenario`; raises `InputError`."""
    errors = Collector()
    if not isinstance(raw, dict):
        raise InputError(
            [
                Problem(
                    prefix.rstrip(":.") or "scenario",
                    "is not a mapping with services, placement, replication",
                )
            ]
        )
    for name in raw:
        if name not in SCENARIO_KEYS:
            errors.add(f"{prefix}{name}", f"unknown key; allowed: {', '.join(SCENARIO_KEYS)}")

    def k(name: str) -> str:
        return f"{prefix}{name}"

    clouds_raw = raw.get("clouds", list(CLOUDS))
    clouds: tuple[str, ...] = CLOUDS
    if not isinstance(clouds_raw, list) or not clouds_raw:
        errors.add(
            k("clouds"),
            f"{_show(clouds_raw)} is not a non-empty list; allowed: {', '.join(CLOUDS)}",
        )
    else:
        bad = [c for c in clouds_raw if c not in CLOUDS]
        if bad:
            errors.add(k("clouds"), f"unknown cloud {_show(bad[0])}; allowed: {', '.join(CLOUDS)}")
        elif len(set(clouds_raw)) != len(clouds_raw):
            errors.add(k("clouds"), f"{clouds_raw} lists a cloud twice")
        else:
            clouds = tuple(c for c in CLOUDS if c in clouds_raw)

    services: list[Service] = []
    sraw = raw.get("services")
    if sraw is None:
        errors.add(k("services"), "is required: a non-empty list of services")
    elif not isinstance(sraw, list) or not sraw:
        errors.add(k("services"), f"{_show(sraw)} is not a non-empty list of services")
    else:
        for i, s in enumerate(sraw):
            svc = _parse_service(s, k(f"services[{i}]"), errors, catalog, clouds)
            if svc is not None:
                services.append(svc)
        seen: set[str] = set()
        for i, s in enumerate(sraw):
            name = s.get("name") if isinstance(s, dict) else None
            if isinstance(name, str) and name in seen:
                errors.add(k(f"services[{i}].name"), f"duplicate service name {name!r}")
            seen.add(name)  # type: ignore[arg-type]
    placement = _parse_placement(raw.get("placement"), k("placement"), errors, catalog, clouds)
    replication = _parse_replication(
        raw.get("replication"), k("replication"), errors, catalog, clouds
    )
    errors.raise_if_any()
    return Scenario(tuple(services), placement, replication, clouds)  # type: ignore[arg-type]


class StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error, not "last wins"."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_file(path: str | Path, catalog: Catalog) -> Scenario:
    """Read a scenario YAML file (the tricloud: values without the namespace)."""
    p = Path(path)
    try:
        raw = yaml.load(p.read_text(), Loader=StrictLoader)
    except FileNotFoundError:
        raise InputError([Problem(str(p), "file not found")]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark else str(p)
        raise InputError([Problem(where, f"not valid YAML: {getattr(e, 'problem', e)}")]) from None
    return parse(raw, catalog)
